"""Figures as pure functions: each returns a ``matplotlib.figure.Figure`` (or PNG bytes).

Figures are built with the object-oriented API (``Figure()``, not ``pyplot``), so they hold
no global state, never leak, and render headless; a notebook shows a returned figure as its
cell's result. The widgets in :mod:`course_lib.widgets` are thin layers over these.
"""

from __future__ import annotations

import io
from typing import Dict, List, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

__all__ = ["figure_to_png", "plot_history", "plot_attention", "plot_bleu_by_length", "plot_decoder_step",
           "plot_length_histogram"]


def figure_to_png(fig: Figure, dpi: Optional[int] = None) -> bytes:
    """Render ``fig`` to PNG bytes (for ``ipywidgets.Image``) at ``dpi`` (default: the figure's).

    The PNG carries no software/version metadata, so the same figure gives the same bytes
    (tests and the browser test compare hashes of pictures).
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi or fig.dpi, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def plot_history(history, title: str = "training") -> Figure:
    """Training loss per step and train/validation loss per epoch from a :class:`~course_lib.training.History`.

    Returns:
        A figure with two panels (losses in nats per target token).
    """
    fig = Figure(figsize=(10, 3.5))
    ax1, ax2 = fig.subplots(1, 2)
    steps = [s["step"] for s in history.steps]
    losses = [s["loss"] for s in history.steps]
    ax1.plot(steps, losses, lw=0.8, alpha=0.8)
    ax1.set(xlabel="optimiser step", ylabel="loss (nats/token)", title=f"{title}: loss per batch")
    epochs = [e["epoch"] for e in history.epochs]
    ax2.plot(epochs, [e["train_loss"] for e in history.epochs], "o-", label="train")
    if history.epochs and "val_loss" in history.epochs[0]:
        ax2.plot(epochs, [e["val_loss"] for e in history.epochs], "s-", label="validation")
    ax2.set(xlabel="epoch", ylabel="loss (nats/token)", title=f"{title}: loss per epoch")
    ax2.legend()
    fig.tight_layout()
    return fig


def plot_attention(weights, src_tokens: Sequence[str], tgt_tokens: Sequence[str], title: Optional[str] = None,
                   upto: Optional[int] = None, ax=None) -> Figure:
    """Heatmap of attention weights: one row per generated word, one column per source word.

    Args:
        weights: ``[T, S]`` array or tensor (rows sum to one over real source positions).
        src_tokens: ``S`` labels for the columns. tgt_tokens: ``T`` labels for the rows.
        upto: show only the first ``upto`` rows (the others blank): the animation's frames.
        ax: draw into this axes instead of a new figure.

    Returns:
        The figure.

    Raises:
        ValueError: the label counts do not match the shape of ``weights``.
    """
    w = np.asarray(weights.detach().cpu() if hasattr(weights, "detach") else weights, dtype=float)
    if w.ndim != 2 or w.shape != (len(tgt_tokens), len(src_tokens)):
        raise ValueError(f"weights have shape {w.shape} but there are {len(tgt_tokens)} target and "
                         f"{len(src_tokens)} source labels")
    if upto is not None:
        w = w.copy()
        w[upto:] = np.nan
    if ax is None:
        fig = Figure(figsize=(max(4, 0.45 * len(src_tokens) + 2), max(3, 0.38 * len(tgt_tokens) + 1.5)))
        ax = fig.subplots()
    else:
        fig = ax.figure
    image = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(src_tokens)), list(src_tokens), rotation=60, ha="right")
    ax.set_yticks(range(len(tgt_tokens)), list(tgt_tokens))
    ax.set_xlabel("source")
    ax.set_ylabel("generated")
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02, label="attention weight")
    return fig


def plot_bleu_by_length(frames: Dict[str, "object"], title: str = "BLEU by source length") -> Figure:
    """Grouped bars of BLEU per source-length bucket, one group per model.

    Args:
        frames: ``{model name: DataFrame from metrics.bleu_by_length}``.
    """
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    names = list(frames)
    first = frames[names[0]]
    x = np.arange(len(first))
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        df = frames[name]
        ax.bar(x + i * width - 0.4 + width / 2, df["bleu"].to_numpy(), width, label=name)
    labels = [f"{b}\n(n={n})" for b, n in zip(first["bucket"], first["sentences"])]
    ax.set_xticks(x, labels)
    ax.set(xlabel="source length (tokens)", ylabel="BLEU", title=title)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_length_histogram(lengths: Dict[str, Sequence[int]], title: str = "sentence lengths") -> Figure:
    """Histograms of token counts, e.g. ``{"de": [...], "en": [...]}``."""
    fig = Figure(figsize=(6, 3))
    ax = fig.subplots()
    top = max(max(v) for v in lengths.values())
    bins = np.arange(0.5, top + 1.5)
    for name, values in lengths.items():
        ax.hist(values, bins=bins, alpha=0.55, label=name)
    ax.set(xlabel="tokens per sentence", ylabel="sentences", title=title)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_decoder_step(trace: List, src_tokens: Sequence[str], step: int) -> Figure:
    """One frame of the decoder stepper: top-k next words and (if any) the attention of ``step``.

    Args:
        trace: list of :class:`course_lib.decoding.StepTrace` from ``decode_trace``.
        src_tokens: the source tokens (``<eos>`` included, matching the attention length).
        step: which step to draw (0-based).

    Raises:
        IndexError: ``step`` is outside the trace.
    """
    if not 0 <= step < len(trace):
        raise IndexError(f"step {step} is outside the trace of {len(trace)} steps")
    s = trace[step]
    has_attn = s.attn_weights is not None
    fig = Figure(figsize=(10 if has_attn else 5.5, 3.2))
    axes = fig.subplots(1, 2 if has_attn else 1, gridspec_kw={"width_ratios": [1, 1.6]} if has_attn else None)
    ax_top = axes[0] if has_attn else axes
    y = np.arange(len(s.topk_tokens))[::-1]
    colors = ["tab:orange" if i == 0 else "tab:blue" for i in range(len(s.topk_tokens))]
    ax_top.barh(y, s.topk_probs, color=colors)
    ax_top.set_yticks(y, s.topk_tokens)
    ax_top.set_xlim(0, 1)
    ax_top.set(xlabel="probability", title=f"step {step + 1}: next word")
    if has_attn:
        ax_att = axes[1]
        ax_att.bar(np.arange(len(s.attn_weights)), s.attn_weights, color="tab:green")
        ax_att.set_xticks(np.arange(len(src_tokens)), list(src_tokens), rotation=60, ha="right")
        ax_att.set_ylim(0, 1)
        ax_att.set(ylabel="attention weight", title="where the decoder looks")
    fig.tight_layout()
    return fig
