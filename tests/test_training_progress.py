"""The training progress bar (issue 15 §2): a run stopped on purpose ends in a finished state
that says why, and the bar's text reads like the per-epoch lines, not "training: 0%|"."""

from __future__ import annotations

import io

import pytest
import torch
from tqdm.std import tqdm as std_tqdm

import course_lib.training.progress as progress
from course_lib.models import VanillaConfig, VanillaSeq2Seq
from course_lib.training import TrainConfig, Trainer
from course_lib.training.progress import ProgressBar
from tests.helpers import ListLoader, copy_task_batches

OUT = io.StringIO()


class TextBar(std_tqdm):
    """tqdm's text bar, written to a string."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, file=OUT, **kwargs)


def final_text() -> str:
    return OUT.getvalue().split("\r")[-1].strip()


@pytest.fixture(autouse=True)
def text_bars(monkeypatch):
    OUT.seek(0)
    OUT.truncate()
    monkeypatch.setattr(progress, "tqdm", TextBar)


def fit(tmp_path, **kw):
    torch.manual_seed(0)
    model = VanillaSeq2Seq(12, 12, VanillaConfig(8, 8, 1))
    cfg = TrainConfig(progress=True, checkpoint_path=str(tmp_path / "ckpt.pt"), **kw)
    trainer = Trainer(model, ListLoader(copy_task_batches(4)), ListLoader(copy_task_batches(1, seed=5)), cfg,
                      device="cpu")
    return trainer, trainer.fit()


@pytest.mark.parametrize("kw, why", [
    (dict(epochs=3, max_steps=6), "stopped at max_steps=6"),
    (dict(epochs=3, max_minutes=0.0), "stopped at the 0-min budget"),
    (dict(epochs=50, patience=1, lr=0.5), "early stopping: no better validation loss for 1 epochs"),
    (dict(epochs=2), "done: 2 epochs"),
])
def test_a_stopped_run_ends_with_a_finished_bar_that_says_why(tmp_path, kw, why):
    trainer, history = fit(tmp_path, **kw)
    text = final_text()
    last = history.epochs[-1]
    line = f"epoch {last['epoch']}{' (partial)' if last['partial'] else ''}: train loss {last['train_loss']:.3f}"
    assert text.startswith(f"{why} · {line}"), "the reason, then the last per-epoch log line"
    assert "%|" not in text and "<" not in text, "no percentage or time left once stopped"


def test_the_bar_counts_batches_while_training():
    bar = ProgressBar(10, bar_class=TextBar)
    bar.bar.set_description("epoch 1/2", refresh=False)
    bar.step(2.5, 1234.0)
    bar.bar.refresh()
    assert "epoch 1/2:  10%|" in final_text() and "1/10 batches" in final_text()
    assert "loss 2.500, 1234 tok/s" in final_text()
    bar.close()


def test_a_disabled_bar_finishes_quietly():
    bar = ProgressBar(10, enabled=False, bar_class=TextBar)
    bar.step(1.0, 1.0)
    bar.finish("epoch 1: train loss 1.000", "done: 1 epochs")
    assert OUT.getvalue() == ""


def test_the_notebook_bar_ends_green_and_refreshes_its_saved_text(monkeypatch):
    notebook = pytest.importorskip("tqdm.notebook")
    import IPython.display

    class Handle:
        updates = []

        def update(self, obj):
            self.updates.append(repr(obj))

    monkeypatch.setattr(IPython.display, "display", lambda obj, display_id=False: Handle())
    bar = ProgressBar(100, bar_class=notebook.tqdm_notebook)
    for _ in range(7):
        bar.step(2.0, 100.0)
    bar.finish("epoch 1 (partial): train loss 2.000, 100 tok/s, 3 s", "stopped at the 1.5-min budget")
    _, widget, _ = bar.bar.container.children
    assert widget.bar_style == "success" and widget.value == widget.max == 7
    saved = Handle.updates[-1]  # the text/plain a viewer without widgets shows
    assert saved == "stopped at the 1.5-min budget · epoch 1 (partial): train loss 2.000, 100 tok/s, 3 s"

    failed = ProgressBar(100, bar_class=notebook.tqdm_notebook)
    failed.step(2.0, 100.0)
    failed.close()  # an error: the bar stays red
    assert failed.bar.container.children[1].bar_style == "danger"
