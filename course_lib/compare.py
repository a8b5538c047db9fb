"""Comparing models: tables and figures for lessons 03 and 04 (pure functions, headless).

- :func:`compare_bleu_by_length`: several BLEU-by-length tables side by side, with the gain.
- :func:`plot_variant_comparison`: bars of a few metrics per model variant (lesson 04).
- :func:`plot_attention_grid`: several attention heatmaps side by side (global vs local-p).
- :func:`plot_beam_sweep`: a metric against beam size, one line per search setting (lesson 05).

Every figure is a ``matplotlib.figure.Figure`` built without ``pyplot`` (see
:mod:`course_lib.viz`); a notebook shows a returned figure as its cell's result. The bars
are drawn with seaborn, its style set per figure. Bad input raises ``ValueError`` (wrong
types raise :class:`course_lib.viz.InputTypeError`, a ``TypeError`` that is also a
``ValueError``).
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure

from .fonts import font_rc
from .viz import InputTypeError, _check_bleu_frames, check_int, check_text, check_tokens, plot_attention

__all__ = ["compare_bleu_by_length", "plot_variant_comparison", "plot_attention_grid", "plot_beam_sweep"]


def compare_bleu_by_length(frames: Dict[str, "object"], baseline: Optional[str] = None):
    """BLEU per source-length bucket of several models in one table.

    Args:
        frames: ``{model name: DataFrame from metrics.bleu_by_length}``, all with the same
            buckets, in the order the columns should appear.
        baseline: name of the model to subtract: adds a column ``"gain over <baseline>"``
            for the last model in ``frames`` (default: no gain column).

    Returns:
        ``DataFrame`` with columns ``bucket``, ``sentences`` and one BLEU column per model
        (plus the gain).

    Raises:
        ValueError: no frames; a table without ``bucket``/``sentences``/``bleu`` columns;
            the buckets differ between frames; ``baseline`` unknown.
        InputTypeError: ``baseline`` is not a str (or None).
    """
    import pandas as pd

    names = _check_bleu_frames(frames)
    baseline = check_text(baseline, "baseline")
    first = frames[names[0]]
    table = pd.DataFrame({"bucket": list(first["bucket"]), "sentences": list(first["sentences"])})
    for name in names:
        table[name] = frames[name]["bleu"].to_numpy(dtype=float)
    if baseline is not None:
        if baseline not in frames:
            raise ValueError(f"baseline {baseline!r} is not one of {names}")
        table[f"gain over {baseline}"] = table[names[-1]] - table[baseline]
    return table


def plot_variant_comparison(table, metrics: Sequence[Tuple[str, str]] = (("val_ppl", "validation perplexity (lower is better)"),
                                                                           ("test_bleu", "test BLEU (higher is better)")),
                            name_column: str = "variant", title: str = "") -> Figure:
    """One horizontal bar chart (seaborn) per metric, one bar per model variant (lesson 04's comparison).

    Args:
        table: ``DataFrame`` with a ``name_column`` and one column per metric.
        metrics: ``(column, axis title)`` pairs, one panel each.
        name_column: the column that names the variants.
        title: an overall title (optional).

    Returns:
        The figure. The best bar of each panel (lowest perplexity/loss, else highest) is orange.

    Raises:
        ValueError: the table is empty, lacks ``name_column`` or a metric's column (the
            message lists the columns there are), or a metric column is not numeric;
            ``metrics`` is empty. InputTypeError: ``table`` is not a DataFrame, a
            metric is not a ``(column, title)`` pair of str, ``metrics`` is not a list,
            ``name_column`` or ``title`` is not a str.
    """
    import seaborn as sns

    if not hasattr(table, "columns") or not hasattr(table, "__len__"):
        raise InputTypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    name_column = check_text(name_column, "name_column", allow_none=False)
    title = check_text(title, "title", allow_none=False)
    if isinstance(metrics, (str, bytes)) or not isinstance(metrics, (list, tuple)):
        raise InputTypeError(f"metrics must be a list of (column, axis title) pairs, got {type(metrics).__name__}")
    if not metrics:
        raise ValueError("metrics must be a non-empty list of (column, axis title) pairs")
    metrics = list(metrics)
    for m in metrics:
        if (isinstance(m, (str, bytes)) or not isinstance(m, (list, tuple)) or len(m) != 2
                or not all(isinstance(part, str) for part in m)):
            raise InputTypeError(f"each metric must be a (column, axis title) pair of str, got {m!r:.60}")
    missing = [c for c in [name_column, *(c for c, _ in metrics)] if c not in table.columns]
    if missing:
        raise ValueError(f"the table lacks the column(s) {missing}; it has {list(table.columns)}")
    if len(table) == 0:
        raise ValueError("the table has no rows to plot")
    names = [str(n) for n in table[name_column]]
    columns = {}
    for column, _ in metrics:
        try:
            columns[column] = table[column].to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"column {column!r} must hold numbers, got {list(table[column])[:3]}") from None
    with sns.axes_style("whitegrid", rc=font_rc()):
        fig = Figure(figsize=(5 * len(metrics), 0.45 * len(names) + 1.6))
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, (column, label) in zip(axes, metrics):
        values = columns[column]
        lower_is_better = any(word in column.lower() for word in ("ppl", "loss", "perplexity"))
        finite = np.where(np.isfinite(values), values, np.nan)
        best = int(np.nanargmin(finite) if lower_is_better else np.nanargmax(finite)) if np.isfinite(finite).any() else -1
        palette = ["tab:orange" if i == best else "tab:blue" for i in range(len(names))]
        positions = [f"{i}" for i in range(len(names))]  # unique even if two variants share a name
        sns.barplot(x=np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0), y=positions, hue=positions,
                    palette=palette, saturation=1.0, legend=False, orient="h", ax=ax, order=positions)
        for yi, v in enumerate(values):
            if math.isfinite(v):
                ax.text(v, yi, f" {v:.1f}", va="center", fontsize=8)
        ax.set_yticks(range(len(names)), names)
        ax.set(xlabel="", ylabel="")
        ax.set_title(label, fontsize=10)
        ax.margins(x=0.15)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_attention_grid(panels: Dict[str, tuple], ncols: Optional[int] = None) -> Figure:
    """Several attention heatmaps side by side (e.g. global vs local-p on the same sentence).

    Args:
        panels: ``{title: (weights [T, S], src_tokens, tgt_tokens)}`` (as for
            :func:`course_lib.viz.plot_attention`).
        ncols: panels per row (default: all in one row).

    Returns:
        The figure.

    Raises:
        ValueError: no panels, a panel that is not a ``(weights, src_tokens, tgt_tokens)``
            triple, labels that do not fit a panel's weights (as
            :func:`course_lib.viz.plot_attention`), or ``ncols`` below 1.
        InputTypeError: ``panels`` not a dict, a title that is not a str.
    """
    if not isinstance(panels, dict):
        raise InputTypeError(f"panels must be a dict {{title: (weights, src_tokens, tgt_tokens)}}, "
                             f"got {type(panels).__name__}")
    if not panels:
        raise ValueError("plot_attention_grid needs at least one panel")
    for title, panel in panels.items():
        check_text(title, "each panel title (the dict key)", allow_none=False)
        if isinstance(panel, (str, bytes)) or not isinstance(panel, (tuple, list)) or len(panel) != 3:
            raise ValueError(f"panel {title!r} must be a (weights [T, S], src_tokens, tgt_tokens) triple")
        check_tokens(panel[1], f"src_tokens of panel {title!r}")
        check_tokens(panel[2], f"tgt_tokens of panel {title!r}")
    ncols = len(panels) if ncols is None else check_int(ncols, "ncols", low=1)
    nrows = math.ceil(len(panels) / ncols)
    widest = max(len(src) for _, src, _ in panels.values())
    tallest = max(len(tgt) for _, _, tgt in panels.values())
    fig = Figure(figsize=(ncols * max(4.0, 0.42 * widest + 2), nrows * max(3.0, 0.36 * tallest + 1.5)))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (title, (weights, src, tgt)) in zip(axes, panels.items()):
        plot_attention(weights, src, tgt, title=title, ax=ax)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def plot_beam_sweep(table, x: str = "beam_size", y: str = "bleu", hue: Optional[str] = None,
                    title: str = "", ylabel: Optional[str] = None) -> Figure:
    """A metric against beam size (seaborn lines with markers), one line per value of ``hue``.

    For lesson 05's "larger beams give shorter, worse output" plot: BLEU against beam size
    with and without length normalisation (Wu et al. 2016, sec. 7; Koehn and Knowles 2017,
    "Six Challenges for Neural Machine Translation", sec. 3.6).

    Args:
        table: ``DataFrame`` with one row per search: columns ``x``, ``y`` and (optional) ``hue``,
            e.g. ``beam_size``, ``bleu``, ``setting`` (``"alpha=0"`` / ``"alpha=0.6"``).
        x: the beam-size column (positive integers). y: the metric column (numbers; NaN
            points are left out). hue: the column that names the setting of each line.
        title: the axes' title. ylabel: the y-axis label (default: ``y``).

    Returns:
        The figure; the x axis shows exactly the beam sizes in the table.

    Raises:
        ValueError: an empty table; a missing column (the message lists the columns there
            are); beam sizes that are not positive integers; a metric column that is not
            numeric. InputTypeError: ``table`` is not a DataFrame; ``x`` or ``y`` not a str,
            ``hue``/``ylabel`` not a str or None, ``title`` not a str.
    """
    import seaborn as sns

    x = check_text(x, "x", allow_none=False)
    y = check_text(y, "y", allow_none=False)
    hue = check_text(hue, "hue")
    title = check_text(title, "title", allow_none=False)
    ylabel = check_text(ylabel, "ylabel")

    if not hasattr(table, "columns") or not hasattr(table, "__len__"):
        raise InputTypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in (x, y, hue) if c is not None and c not in table.columns]
    if missing:
        raise ValueError(f"the table lacks the column(s) {missing}; it has {list(table.columns)}")
    if len(table) == 0:
        raise ValueError("the table has no rows to plot")
    try:
        sizes = table[x].to_numpy(dtype=float)
        values = table[y].to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"columns {x!r} and {y!r} must hold numbers") from None
    if not np.isfinite(sizes).all() or (sizes < 1).any() or (sizes != np.round(sizes)).any():
        raise ValueError(f"column {x!r} must hold beam sizes, positive integers; got {sorted(set(sizes.tolist()))}")
    data = table.assign(**{x: sizes.astype(int), y: values})
    with sns.axes_style("whitegrid", rc=font_rc()):
        fig = Figure(figsize=(6, 3.5))
        ax = fig.subplots()
        sns.lineplot(data=data, x=x, y=y, hue=hue, style=hue, markers=True, dashes=False, ax=ax,
                     errorbar=None, palette="deep" if hue is not None else None)
    ticks = sorted(set(sizes.astype(int).tolist()))
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set(xlabel="beam size", ylabel=ylabel or y, title=title)
    if hue is not None:
        ax.legend(title=hue)
    fig.tight_layout()
    return fig
