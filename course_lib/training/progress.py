"""The training progress bar, truthful in a saved notebook.

tqdm's notebook bar turns red when closed before its total, so a run stopped on purpose (time
budget, ``max_steps``, early stopping, the stop button) would be saved as a failed run with
hours left. :meth:`ProgressBar.finish` ends it finished, with the last per-epoch line and the
reason, and refreshes the saved text fallback (which showed the bar's first state, "0%|").
Everything else is tqdm's.
"""

from __future__ import annotations

import sys
from typing import Optional

from tqdm.auto import tqdm

TRAINING = "{desc}{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} batches [{elapsed}<{remaining}{postfix}]"
FINISHED = "{desc}"  # the reason first: a widget's saved text is cut after 110 characters


class ProgressBar:
    """A bar over the batches of one :meth:`Trainer.fit` call (``bar_class`` default: ``tqdm.auto``)."""

    def __init__(self, total: int, enabled: bool = True, bar_class: Optional[type] = None):
        bar_class = bar_class or tqdm
        notebook_module = sys.modules.get("tqdm.notebook")  # loaded by tqdm.auto inside Jupyter only
        notebook = enabled and notebook_module is not None and issubclass(bar_class, notebook_module.tqdm_notebook)
        self.bar = bar_class(total=total, disable=not enabled, unit="batch", bar_format=TRAINING,
                             dynamic_ncols=True, **({"display": False} if notebook else {}))
        self._shown = None
        if notebook:  # shown here, with a handle to refresh the saved output at the end
            from IPython.display import display

            self._shown = display(self.bar.container, display_id=True)

    def step(self, loss: float, tokens_per_s: float) -> None:
        """One batch done, with its loss (nats per token) and the epoch's speed so far."""
        self.bar.set_postfix_str(f"loss {loss:.3f}, {tokens_per_s:.0f} tok/s", refresh=False)
        self.bar.update(1)

    def finish(self, line: str, why: str) -> None:
        """End the bar finished (not red), reading ``"{why} · {line}"`` (``line``: the last per-epoch line)."""
        bar = self.bar
        bar.total = bar.n
        if hasattr(bar, "container"):  # tqdm's notebook widget: its bar's length; a text fallback not cut short
            bar.container.children[1].max = max(bar.n, 1)
            bar.dynamic_ncols, bar.ncols = False, None
        bar.bar_format = FINISHED
        bar.set_description_str(f"{why} · {line}", refresh=False)
        bar.close()
        if self._shown is not None:
            self._shown.update(bar.container)

    def close(self) -> None:
        """Close after an error: a notebook bar that did not reach its total turns red."""
        self.bar.close()
