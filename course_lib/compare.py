"""Comparing models: tables and figures for lessons 03 to 05 (pure functions, headless).

- :func:`compare_bleu_by_length`: several BLEU-by-length tables side by side, with the gain.
- :func:`plot_variant_comparison`: bars of a few metrics per model variant (lesson 04).
- :func:`plot_attention_grid`: several attention heatmaps side by side (global vs local-p).
- :func:`plot_beam_sweep`: a metric against beam size, one line per search setting (lesson 06).

Figures are ``matplotlib.figure.Figure`` objects built without ``pyplot`` (see
:mod:`course_lib.viz`), seaborn's style set per figure. Bad input raises ``ValueError``
(a wrong type :class:`~course_lib.checks.InputTypeError`, also a ``TypeError``).
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure

from .checks import InputTypeError, check_choice, check_int, check_text
from .fonts import font_rc
from .viz import _check_bleu_frames, check_mapping, plot_attention, require

__all__ = ["compare_bleu_by_length", "plot_variant_comparison", "plot_attention_grid", "plot_beam_sweep"]


def _table_columns(table, columns: Sequence[Optional[str]], numeric: Sequence[str]) -> Dict[str, np.ndarray]:
    """The door of the table figures: ``table`` a DataFrame with rows and ``columns``; ``numeric`` as floats."""
    require(hasattr(table, "columns") and hasattr(table, "__len__"), "table must be a pandas DataFrame", InputTypeError)
    missing = [c for c in columns if c is not None and c not in table.columns]
    try:
        values = {} if missing else {c: table[c].to_numpy(dtype=float) for c in numeric}
    except (TypeError, ValueError):
        values = None
    problem = (f"lacks the column(s) {missing}; it has {list(table.columns)}" if missing
               else "has no rows to plot" if len(table) == 0
               else f"must hold numbers in the column(s) {list(numeric)}" if values is None else None)
    require(not problem, f"the table {problem}")
    return values


def compare_bleu_by_length(frames: Dict[str, "object"], baseline: Optional[str] = None):
    """BLEU per source-length bucket of several models in one table.

    Args:
        frames: ``{model name: DataFrame from metrics.bleu_by_length}``, all with the same
            buckets, in the order the columns should appear.
        baseline: a model to subtract: adds a column ``"gain over <baseline>"`` for the last
            model in ``frames`` (default: no gain column).

    Returns:
        ``DataFrame`` with columns ``bucket``, ``sentences``, one BLEU column per model (and the gain).

    Raises:
        ValueError: no frames; a table without ``bucket``/``sentences``/``bleu`` columns or
            with other buckets; an unknown ``baseline``. InputTypeError: ``baseline`` not a str.
    """
    import pandas as pd

    names = _check_bleu_frames(frames)
    baseline = check_text(baseline, "baseline", allow_none=True)
    first = frames[names[0]]
    table = pd.DataFrame({"bucket": list(first["bucket"]), "sentences": list(first["sentences"])})
    for name in names:
        table[name] = frames[name]["bleu"].to_numpy(dtype=float)
    if baseline is not None:
        table[f"gain over {baseline}"] = table[names[-1]] - table[check_choice(baseline, "baseline", names)]
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
        ValueError: an empty table; a missing column (the message lists those there are); a
            non-numeric metric column. InputTypeError: ``table`` not a DataFrame; ``metrics`` not
            a non-empty list of ``(column, title)`` pairs of str; ``name_column``/``title`` not a str.
    """
    import seaborn as sns

    name_column = check_text(name_column, "name_column")
    title = check_text(title, "title")
    ok = isinstance(metrics, (list, tuple)) and all(isinstance(m, (list, tuple)) and len(m) == 2 for m in metrics)
    require(ok and metrics and all(isinstance(p, str) for m in metrics for p in m), "metrics must be a non-empty list "
            f"of (column, axis title) pairs of str, got {metrics!r:.60}", InputTypeError)
    columns = _table_columns(table, [name_column, *(c for c, _ in metrics)], [c for c, _ in metrics])
    names = [str(n) for n in table[name_column]]
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
        panels: ``{title: (weights [T, S], src_tokens, tgt_tokens)}`` (each as for
            :func:`course_lib.viz.plot_attention`, which checks it).
        ncols: panels per row (default: all in one row).

    Raises:
        ValueError: no panels; a panel that is not a ``(weights, src_tokens, tgt_tokens)``
            triple or whose labels do not fit its weights; ``ncols`` below 1.
        InputTypeError: ``panels`` not a dict; a title not a str; a bare str for tokens.
    """
    check_mapping(panels, "panels", "{title: (weights [T, S], src_tokens, tgt_tokens)}")
    for title, panel in panels.items():
        check_text(title, "each panel title (the dict key)")
        require(isinstance(panel, (tuple, list)) and len(panel) == 3, f"panel {title!r} must be a triple "
                "(weights [T, S], src_tokens, tgt_tokens)")
    ncols = len(panels) if ncols is None else check_int(ncols, "ncols", low=1)
    fig = Figure()
    axes = fig.subplots(math.ceil(len(panels) / ncols), ncols, squeeze=False)
    for ax, (title, (weights, src, tgt)) in zip(axes.ravel(), panels.items()):
        plot_attention(weights, src, tgt, title=title, ax=ax)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    widest, tallest = (max(len(panel[i]) for panel in panels.values()) for i in (1, 2))
    fig.set_size_inches(ncols * max(4.0, 0.42 * widest + 2), len(axes) * max(3.0, 0.36 * tallest + 1.5))
    fig.tight_layout()
    return fig


def plot_beam_sweep(table, x: str = "beam_size", y: str = "bleu", hue: Optional[str] = None,
                    title: str = "", ylabel: Optional[str] = None) -> Figure:
    """A metric against beam size (seaborn lines with markers), one line per value of ``hue``.

    For lesson 06's "larger beams give shorter, worse output" plot: BLEU against beam size
    with and without length normalisation (Wu et al. 2016, sec. 7).

    Args:
        table: ``DataFrame`` with one row per search: columns ``x``, ``y`` and (optional) ``hue``,
            e.g. ``beam_size``, ``bleu``, ``setting`` (``"alpha=0"`` / ``"alpha=0.6"``).
        x: the beam-size column (positive integers). y: the metric column (numbers; NaN
            points are left out). hue: the column that names the setting of each line.
        title: the axes' title. ylabel: the y-axis label (default: ``y``).

    Returns:
        The figure; the x axis shows exactly the beam sizes in the table.

    Raises:
        ValueError: an empty table; a missing column (the message lists those there are); beam
            sizes that are not positive integers; a non-numeric metric column.
        InputTypeError: ``table`` not a DataFrame; ``x``, ``y``, ``title`` (``hue``, ``ylabel``: or None) not a str.
    """
    import seaborn as sns

    x, y, title = check_text(x, "x"), check_text(y, "y"), check_text(title, "title")
    hue, ylabel = check_text(hue, "hue", allow_none=True), check_text(ylabel, "ylabel", allow_none=True)
    values = _table_columns(table, (x, y, hue), (x, y))
    sizes = values[x]
    require(np.isfinite(sizes).all() and (sizes >= 1).all() and (sizes == np.round(sizes)).all(), f"column {x!r} "
            f"must hold beam sizes, positive integers; got {sorted(set(sizes.tolist()))}")
    data = table.assign(**{x: sizes.astype(int), y: values[y]})
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
