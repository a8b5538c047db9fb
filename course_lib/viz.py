"""Figures as pure functions: each returns a ``matplotlib.figure.Figure`` (or PNG bytes).

Figures are built with the object-oriented API (``Figure()``, not ``pyplot``), so they hold
no global state, never leak, and render headless; a notebook shows a returned figure as its
cell's result. The widgets in :mod:`course_lib.widgets` are thin layers over these.

seaborn draws the annotated heatmaps and the grouped comparison bars; its styles are set
per figure (``with sns.axes_style(...)``), never globally.

Every function checks its input first and raises ``ValueError`` with what was wrong
(a wrong *type*, such as a bare ``str`` where a list of tokens is expected, raises an error
that is both a ``TypeError`` and a ``ValueError``).
"""

from __future__ import annotations

import html
import io
import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure

from .data import EOS
from .fonts import font_rc

__all__ = ["figure_to_png", "plot_history", "plot_attention", "plot_bleu_by_length", "plot_decoder_step",
           "plot_length_histogram", "stepper_frame", "BeamEntry", "beam_frames", "plot_beam_step", "plot_beam_tree",
           "beam_step_caption", "format_n_best", "InputTypeError", "StepOutOfRange"]

#: The largest PNG side (pixels) :func:`figure_to_png` renders (matplotlib's own limit is 2**16).
MAX_PIXELS = 20_000

#: Heatmaps with at most this many rows and columns get their values written in the cells.
ANNOTATE_MAX_TOKENS = 12


# -- input checks shared by viz, widgets, explorer and compare ------------------------------


class InputTypeError(TypeError, ValueError):
    """A wrong type (e.g. a bare ``str`` where a list of tokens is expected).

    It is a ``TypeError`` and, by the course's rule that bad input raises ``ValueError``,
    a ``ValueError`` too: ``except ValueError`` catches it.
    """


class StepOutOfRange(IndexError, ValueError):
    """A step index outside the frames: a ``ValueError`` (and an ``IndexError`` for older callers)."""


def check_tokens(tokens: Any, name: str, allow_empty: bool = False) -> List[str]:
    """``tokens`` as a list of str; refuses a bare ``str`` (it would be read letter by letter).

    Raises:
        InputTypeError: ``tokens`` is a str, a dict or set (no order), not a sequence, or holds
            something other than str.
        ValueError: ``tokens`` is empty (unless ``allow_empty``).
    """
    if isinstance(tokens, (str, bytes)):
        raise InputTypeError(f"{name} must be a list of tokens, got the str {tokens!r}; "
                             f"tokenise it first (e.g. {name}={str(tokens).split()!r})")
    if isinstance(tokens, (Mapping, set, frozenset)):  # no order, or keys instead of tokens
        raise InputTypeError(f"{name} must be a list of tokens in order, got a {type(tokens).__name__}")
    try:
        tokens = list(tokens)
    except TypeError:
        raise InputTypeError(f"{name} must be a list of tokens (str), got {type(tokens).__name__}") from None
    bad = [t for t in tokens if not isinstance(t, str)]
    if bad:
        raise InputTypeError(f"{name} must hold str tokens, got e.g. {bad[0]!r} ({type(bad[0]).__name__})")
    if not tokens and not allow_empty:
        raise ValueError(f"{name} is empty: give at least one token")
    return tokens


def check_text(value: Any, name: str, allow_none: bool = True) -> Optional[str]:
    """``value`` as a str (a title or label); ``None`` passes when ``allow_none``.

    Raises:
        InputTypeError: anything else (a number, a list, a tensor...): convert it with ``str()`` first.
    """
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise InputTypeError(f"{name} must be a str{' or None' if allow_none else ''}, got {type(value).__name__} "
                             f"({value!r:.40}); pass text, e.g. {name}=str(x)")
    return value


def check_int(value: Any, name: str, low: Optional[int] = None, high: Optional[int] = None) -> int:
    """``value`` as an int in ``[low, high]`` (bools and floats are refused).

    Raises:
        InputTypeError: not an integer. ValueError: outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InputTypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {span}, got {value}")
    return value


def check_real(value: Any, name: str, low: Optional[float] = None, positive: bool = False) -> float:
    """``value`` as a finite float, optionally ``>= low`` or ``> 0``.

    Raises:
        InputTypeError: not a number. ValueError: NaN, infinite or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InputTypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return value


def check_step(step: Any, n_frames: int, what: str = "step") -> int:
    """``step`` as an int in ``0 .. n_frames - 1``.

    Raises:
        InputTypeError: not an integer. StepOutOfRange: outside the frames.
        ValueError: ``n_frames`` is not a positive integer.
    """
    if isinstance(n_frames, bool) or not isinstance(n_frames, Integral) or n_frames < 1:
        raise ValueError(f"n_frames must be a positive integer (how many steps there are), got {n_frames!r:.40}")
    if isinstance(step, bool) or not isinstance(step, Integral):
        raise InputTypeError(f"{what} must be an integer, got {step!r} ({type(step).__name__})")
    if not 0 <= int(step) < n_frames:
        raise StepOutOfRange(f"{what} {step} is outside the {n_frames} steps (valid: 0 to {n_frames - 1})")
    return int(step)


def as_matrix(values: Any, name: str) -> np.ndarray:
    """A 2-D float64 copy of an array or tensor with only finite values.

    Raises:
        ValueError: not 2-D, empty, or holding NaN/infinite values.
    """
    if isinstance(values, (str, bytes)):
        raise InputTypeError(f"{name} must be a 2-D array of numbers, got a str")
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    try:
        m = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputTypeError(f"{name} must be a 2-D array of numbers: {err}") from None
    if m.ndim != 2:
        hint = " (pass one sentence's [T, S] matrix, e.g. attn_weights[0])" if m.ndim == 3 else ""
        raise ValueError(f"{name} must be 2-D [T, S], got shape {m.shape}{hint}")
    if m.size == 0:
        raise ValueError(f"{name} is empty (shape {m.shape})")
    if not np.isfinite(m).all():
        raise ValueError(f"{name} holds NaN or infinite values; check the model's output")
    return m


# -- figures -----------------------------------------------------------------------------


def figure_to_png(fig: Figure, dpi: Optional[int] = None) -> bytes:
    """Render ``fig`` to PNG bytes (for ``ipywidgets.Image``) at ``dpi`` (default: the figure's).

    The PNG carries no software/version metadata, so the same figure gives the same bytes
    (tests and the browser test compare hashes of pictures).

    Raises:
        InputTypeError: ``fig`` is not a matplotlib Figure. ValueError: ``dpi`` not positive, or
            a picture wider or taller than :data:`MAX_PIXELS` (it would exhaust memory).
    """
    if not isinstance(fig, Figure):
        raise InputTypeError(f"figure_to_png needs a matplotlib Figure, got {type(fig).__name__}")
    if dpi is not None:
        dpi = check_int(dpi, "dpi", low=1)
    width, height = (float(v) * float(dpi or fig.dpi) for v in fig.get_size_inches())
    if max(width, height) > MAX_PIXELS:
        raise ValueError(f"the PNG would be {width:.0f} x {height:.0f} pixels (more than {MAX_PIXELS} per side); "
                         "lower dpi or the figure size")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi or fig.dpi, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def plot_history(history, title: str = "training") -> Figure:
    """Training loss per step and train/validation loss per epoch from a :class:`~course_lib.training.History`.

    Returns:
        A figure with two panels (losses in nats per target token).

    Raises:
        InputTypeError: ``history`` has no ``steps``/``epochs`` lists; ``title`` not a str.
        ValueError: the history is empty (nothing trained yet), holds NaN or infinite losses
            (training or validation), or records without ``step``/``loss`` and
            ``epoch``/``train_loss`` numbers.
    """
    title = check_text(title, "title", allow_none=False)
    steps_rec, epochs_rec = getattr(history, "steps", None), getattr(history, "epochs", None)
    if not isinstance(steps_rec, list) or not isinstance(epochs_rec, list):
        raise InputTypeError(f"plot_history needs a training History (with .steps and .epochs lists), "
                             f"got {type(history).__name__}")
    if not steps_rec and not epochs_rec:
        raise ValueError("the history is empty: train for at least one step (Trainer.fit) before plotting it")
    try:
        steps = [s["step"] for s in steps_rec]
        losses = np.asarray([s["loss"] for s in steps_rec], dtype=float)
        epochs = [e["epoch"] for e in epochs_rec]
        train = np.asarray([e["train_loss"] for e in epochs_rec], dtype=float)
        val = (np.asarray([e["val_loss"] for e in epochs_rec], dtype=float)
               if epochs_rec and all("val_loss" in e for e in epochs_rec) else np.zeros(0))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"history records need 'step'/'loss' and 'epoch'/'train_loss' numbers: {err!r}") from None
    if not (np.isfinite(losses).all() and np.isfinite(train).all() and np.isfinite(val).all()):
        raise ValueError("the history holds NaN or infinite losses: training diverged (lower the learning rate)")
    fig = Figure(figsize=(10, 3.5))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(steps, losses, lw=0.8, alpha=0.8)
    ax1.set(xlabel="optimiser step", ylabel="loss (nats/token)", title=f"{title}: loss per batch")
    ax2.plot(epochs, train, "o-", label="train")
    if epochs_rec and all("val_loss" in e for e in epochs_rec):
        ax2.plot(epochs, [e["val_loss"] for e in epochs_rec], "s-", label="validation")
    ax2.set(xlabel="epoch", ylabel="loss (nats/token)", title=f"{title}: loss per epoch")
    if epochs_rec:
        ax2.legend()
    fig.tight_layout()
    return fig


def plot_attention(weights, src_tokens: Sequence[str], tgt_tokens: Sequence[str], title: Optional[str] = None,
                   upto: Optional[int] = None, ax=None, annotate: Optional[bool] = None) -> Figure:
    """Annotated heatmap of attention weights (seaborn): one row per generated word, one column per source word.

    Bahdanau et al. (2015), fig. 3; Luong et al. (2015), fig. 7.

    Args:
        weights: ``[T, S]`` array or tensor (rows sum to one over real source positions).
        src_tokens: ``S`` labels for the columns. tgt_tokens: ``T`` labels for the rows.
        title: the axes' title.
        upto: show only the first ``upto`` rows (``0..T``; the others blank): the animation's frames.
        ax: draw into this axes instead of a new figure.
        annotate: write each weight in its cell (default: when ``T`` and ``S`` are at most
            :data:`ANNOTATE_MAX_TOKENS`).

    Returns:
        The figure.

    Raises:
        ValueError: ``weights`` is not 2-D or holds NaN; its rows do not match the target
            tokens or its columns the source tokens (the message says which); ``upto``
            outside ``0..T``. InputTypeError: a bare str for the tokens; ``title`` not a str;
            ``ax`` not a matplotlib ``Axes``; ``annotate`` not a bool.
    """
    import seaborn as sns
    from matplotlib.axes import Axes

    title = check_text(title, "title")
    if ax is not None and not isinstance(ax, Axes):
        raise InputTypeError(f"ax must be a matplotlib Axes (e.g. fig.subplots()) or None, got {type(ax).__name__}")
    if annotate is not None and not isinstance(annotate, (bool, np.bool_)):
        raise InputTypeError(f"annotate must be True, False or None (automatic), got {annotate!r:.40}")
    src = check_tokens(src_tokens, "src_tokens")
    tgt = check_tokens(tgt_tokens, "tgt_tokens")
    w = as_matrix(weights, "attention weights")
    T, S = w.shape
    if T != len(tgt):
        raise ValueError(f"attention weights have {T} rows but there are {len(tgt)} target labels (tgt_tokens): "
                         "give one target token per row")
    if S != len(src):
        raise ValueError(f"attention weights have {S} columns but there are {len(src)} source labels "
                         "(src_tokens): give one source token per column (<eos> included)")
    if upto is not None:
        upto = check_int(upto, "upto", low=0, high=T)
    if annotate is None:
        annotate = T <= ANNOTATE_MAX_TOKENS and S <= ANNOTATE_MAX_TOKENS
    shown = w.copy()
    if upto is not None:
        shown[upto:] = np.nan  # seaborn leaves NaN cells blank
    with sns.axes_style("white", rc=font_rc()):  # keep a font set by fonts.use_script_font
        if ax is None:
            fig = Figure(figsize=(max(4, 0.5 * S + 2), max(3, 0.4 * T + 1.5)))
            ax = fig.subplots()
        else:
            fig = ax.figure
        sns.heatmap(shown, ax=ax, cmap="viridis", vmin=0.0, vmax=1.0, square=False,
                    xticklabels=src, yticklabels=tgt, annot=bool(annotate), fmt=".2f",
                    annot_kws={"fontsize": 7}, cbar_kws={"label": "attention weight", "fraction": 0.046, "pad": 0.02},
                    linewidths=0.3, linecolor="white")
    ax.set_xticklabels(src, rotation=60, ha="right")
    ax.set_yticklabels(tgt, rotation=0)
    ax.set_xlabel("source")
    ax.set_ylabel("generated")
    if title:
        ax.set_title(title)
    return fig


def _check_bleu_frames(frames) -> List[str]:
    if not isinstance(frames, Mapping):
        raise InputTypeError("frames must be a dict {model name: DataFrame from metrics.bleu_by_length}, "
                             f"got {type(frames).__name__}")
    if not frames:
        raise ValueError("frames is empty: give at least one {model name: bleu_by_length table}")
    names = list(frames)
    first = None
    for name in names:
        df = frames[name]
        missing = [c for c in ("bucket", "sentences", "bleu") if c not in getattr(df, "columns", ())]
        if missing:
            raise ValueError(f"the table of {name!r} lacks the column(s) {missing}; use metrics.bleu_by_length")
        if len(df) == 0:
            raise ValueError(f"the table of {name!r} has no buckets")
        try:
            np.asarray(df["bleu"], dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"the 'bleu' column of {name!r} must hold numbers, got {list(df['bleu'])[:3]}") from None
        if first is None:
            first = df
        elif list(df["bucket"]) != list(first["bucket"]):
            raise ValueError(f"the buckets of {name!r} ({list(df['bucket'])}) differ from those of "
                             f"{names[0]!r} ({list(first['bucket'])})")
    return names


def plot_bleu_by_length(frames: Dict[str, "object"], title: str = "BLEU by source length") -> Figure:
    """Grouped bars (seaborn) of BLEU per source-length bucket, one colour per model.

    Args:
        frames: ``{model name: DataFrame from metrics.bleu_by_length}`` with the same buckets.

    Returns:
        The figure.

    Raises:
        ValueError: no tables, a table without ``bucket``/``sentences``/``bleu`` columns or
            rows, a ``bleu`` column that is not numbers, or buckets that differ between tables.
        InputTypeError: ``frames`` not a dict; ``title`` not a str.
    """
    title = check_text(title, "title", allow_none=False)
    import pandas as pd
    import seaborn as sns

    names = _check_bleu_frames(frames)
    first = frames[names[0]]
    labels = [f"{b}\n(n={n})" for b, n in zip(first["bucket"], first["sentences"])]
    long = pd.concat([pd.DataFrame({"bucket": labels, "BLEU": np.asarray(frames[n]["bleu"], dtype=float), "model": n})
                      for n in names], ignore_index=True)
    with sns.axes_style("whitegrid", rc=font_rc()):
        fig = Figure(figsize=(max(6, 1.3 * len(labels) + 2), 3.5))
        ax = fig.subplots()
        sns.barplot(data=long, x="bucket", y="BLEU", hue="model", ax=ax, palette="deep", order=labels,
                    hue_order=names)
    ax.set(xlabel="source length (tokens)", ylabel="BLEU", title=title)
    ax.legend(title=None)
    fig.tight_layout()
    return fig


def plot_length_histogram(lengths: Dict[str, Sequence[int]], title: str = "sentence lengths") -> Figure:
    """Histograms of token counts, e.g. ``{"de": [...], "en": [...]}``.

    Lengths up to 200 get one bin per token count; longer ones share about 200 bins.

    Raises:
        ValueError: no series, an empty series, or lengths that are not non-negative integers
            (a flat list per series). InputTypeError: ``lengths`` not a dict; ``title`` not a str.
    """
    title = check_text(title, "title", allow_none=False)
    if not isinstance(lengths, Mapping):
        raise InputTypeError(f"lengths must be a dict {{name: list of lengths}}, got {type(lengths).__name__}")
    if not lengths:
        raise ValueError("lengths is empty: give at least one {name: [token counts]}")
    series = {}
    for name, values in lengths.items():
        if isinstance(values, (str, bytes)):
            raise InputTypeError(f"lengths[{name!r}] must be a list of token counts, got a str")
        try:
            arr = np.asarray(list(values))
        except (TypeError, ValueError):
            raise InputTypeError(f"lengths[{name!r}] must be a list of token counts, got {type(values).__name__}") from None
        if arr.ndim != 1:
            raise ValueError(f"lengths[{name!r}] must be a flat list of token counts, got shape {arr.shape}")
        if arr.size == 0:
            raise ValueError(f"lengths[{name!r}] is empty")
        if arr.dtype.kind not in "iu" or (arr < 0).any():
            raise ValueError(f"lengths[{name!r}] must hold non-negative integers (token counts)")
        series[name] = arr
    fig = Figure(figsize=(6, 3))
    ax = fig.subplots()
    top = max(int(v.max()) for v in series.values())
    width = max(1, math.ceil((top + 1) / 200))  # at most ~200 bins, never one per unit of a huge count
    bins = np.arange(-0.5, top + width + 0.5, width)
    for name, values in series.items():
        ax.hist(values, bins=bins, alpha=0.55, label=name)
    ax.set(xlabel="tokens per sentence", ylabel="sentences", title=title)
    ax.legend()
    fig.tight_layout()
    return fig


def _check_trace(trace, src_tokens) -> List[str]:
    if isinstance(trace, (str, bytes)) or not isinstance(trace, Sequence):
        raise InputTypeError(f"trace must be the list of StepTrace from decoding.decode_trace, got {type(trace).__name__}")
    if not trace:
        raise ValueError("the trace is empty: decode at least one step (decoding.decode_trace)")
    fields = ("prefix", "token", "topk_tokens", "topk_probs", "attn_weights")
    bad = [i for i, s in enumerate(trace) if not all(hasattr(s, f) for f in fields)]
    if bad:
        raise InputTypeError(f"trace[{bad[0]}] is a {type(trace[bad[0]]).__name__}, not a decoding.StepTrace "
                             f"(with {', '.join(fields)})")
    src = check_tokens(src_tokens, "src_tokens")
    for i, s in enumerate(trace):
        if not isinstance(s.token, str):
            raise InputTypeError(f"trace[{i}].token must be a str, got {type(s.token).__name__}")
        check_tokens(s.prefix if s.prefix is not None else [], f"trace[{i}].prefix", allow_empty=True)
        check_tokens(s.topk_tokens, f"trace[{i}].topk_tokens")
        if s.attn_weights is not None:
            if isinstance(s.attn_weights, (str, bytes)):
                raise InputTypeError(f"trace[{i}].attn_weights must be numbers, got a str")
            try:
                a = np.asarray(s.attn_weights.detach().cpu() if hasattr(s.attn_weights, "detach") else s.attn_weights,
                               dtype=float)
            except (TypeError, ValueError):
                raise InputTypeError(f"trace[{i}].attn_weights must be a list of numbers") from None
            if a.ndim != 1 or not np.isfinite(a).all():
                raise ValueError(f"trace[{i}].attn_weights must be one finite weight per source position "
                                 f"(shape [S]), got shape {a.shape}{' with NaN/inf' if a.ndim == 1 else ''}")
    return src


def plot_decoder_step(trace: List, src_tokens: Sequence[str], step: int) -> Figure:
    """One frame of the decoder stepper: top-k next words and (if any) the attention of ``step``.

    Args:
        trace: list of :class:`course_lib.decoding.StepTrace` from ``decode_trace``.
        src_tokens: the source tokens (``<eos>`` included, matching the attention length).
        step: which step to draw (0-based).

    Raises:
        StepOutOfRange (a ValueError and IndexError): ``step`` is outside the trace.
        ValueError: an empty trace; attention whose length differs from ``src_tokens``;
            NaN probabilities or attention weights, attention that is not 1-D.
        InputTypeError: a bare str for the tokens (``src_tokens`` or a step's
            ``topk_tokens``/``prefix``); a step whose ``token`` is not a str.
    """
    src = _check_trace(trace, src_tokens)
    step = check_step(step, len(trace))
    s = trace[step]
    probs = np.asarray(s.topk_probs, dtype=float)
    if probs.size == 0 or len(s.topk_tokens) != probs.size or not np.isfinite(probs).all():
        raise ValueError(f"step {step} of the trace has {len(s.topk_tokens)} candidate tokens and "
                         f"probabilities {list(probs)}: they must match and be finite")
    has_attn = s.attn_weights is not None
    if has_attn and len(s.attn_weights) != len(src):
        raise ValueError(f"step {step} attends over {len(s.attn_weights)} source positions but there are "
                         f"{len(src)} source tokens (src_tokens must include <eos>)")
    fig = Figure(figsize=(10 if has_attn else 5.5, 3.2))
    axes = fig.subplots(1, 2 if has_attn else 1, gridspec_kw={"width_ratios": [1, 1.6]} if has_attn else None)
    ax_top = axes[0] if has_attn else axes
    y = np.arange(len(s.topk_tokens))[::-1]
    colors = ["tab:orange" if i == 0 else "tab:blue" for i in range(len(s.topk_tokens))]
    ax_top.barh(y, probs, color=colors)
    ax_top.set_yticks(y, list(s.topk_tokens))
    ax_top.set_xlim(0, 1)
    ax_top.set(xlabel="probability", title=f"step {step + 1}: next word")
    if has_attn:
        ax_att = axes[1]
        ax_att.bar(np.arange(len(s.attn_weights)), s.attn_weights, color="tab:green")
        ax_att.set_xticks(np.arange(len(src)), src, rotation=60, ha="right")
        ax_att.set_ylim(0, 1)
        ax_att.set(ylabel="attention weight", title="where the decoder looks")
    fig.tight_layout()
    return fig


def stepper_frame(trace, src_tokens: Sequence[str], step: int) -> Tuple[str, bytes]:
    """The HTML caption and PNG bytes the decoder stepper shows at ``step`` (pure; testable).

    Raises:
        As :func:`plot_decoder_step`.
    """
    src = _check_trace(trace, src_tokens)
    step = check_step(step, len(trace))
    png = figure_to_png(plot_decoder_step(trace, src, step))
    s = trace[step]
    prefix = " ".join(s.prefix) if s.prefix else "(nothing yet)"
    caption = (f"<b>source:</b> {html.escape(' '.join(src))}<br>"
               f"<b>step {step + 1} of {len(trace)}</b> &mdash; generated so far: <i>{html.escape(prefix)}</i> "
               f"&rarr; next: <b>{html.escape(s.token)}</b> (p = {float(s.topk_probs[0]):.2f})")
    return caption, png


# -- beam search -------------------------------------------------------------------------

#: Colours of the beam explorer's bars by status.
BEAM_COLORS = {"kept": "tab:blue", "finished": "tab:green", "stopped": "tab:orange", "pruned": "#bbbbbb"}


@dataclass(frozen=True)
class BeamEntry:
    """One hypothesis in one step of beam search, as the beam explorer draws it.

    Attributes:
        tokens: the partial translation (target tokens, without ``<sos>``).
        score: its score under the search's scoring (Wu et al. 2016, sec. 7: log-probability
            divided by the length penalty, plus the coverage penalty; the plain log-probability
            when alpha = beta = 0).
        status: ``"kept"`` (still in the beam), ``"finished"`` (ended with ``<eos>``),
            ``"stopped"`` (cut by ``max_len`` before ``<eos>``) or ``"pruned"`` (in the beam at
            the previous step, but neither it nor any of its extensions is kept now).
        log_prob: its log-probability (nats), if known.

    Raises:
        InputTypeError: ``tokens`` is a bare str or holds non-str.
        ValueError: an unknown ``status``; ``score`` or ``log_prob`` not a number or NaN.
    """

    tokens: Tuple[str, ...]
    score: float
    status: str = "kept"
    log_prob: Optional[float] = None

    def __post_init__(self):
        if isinstance(self.tokens, (str, bytes)):
            raise InputTypeError(f"BeamEntry.tokens must be a sequence of tokens, got the str {self.tokens!r}")
        object.__setattr__(self, "tokens", tuple(check_tokens(self.tokens, "BeamEntry.tokens", allow_empty=True)))
        if not isinstance(self.status, str) or self.status not in BEAM_COLORS:
            raise ValueError(f"BeamEntry.status must be one of {sorted(BEAM_COLORS)}, got {self.status!r}")
        if isinstance(self.score, bool) or not isinstance(self.score, Real) or math.isnan(float(self.score)):
            raise ValueError(f"BeamEntry.score must be a number (not NaN), got {self.score!r}")
        if self.log_prob is not None and (isinstance(self.log_prob, bool) or not isinstance(self.log_prob, Real)
                                          or math.isnan(float(self.log_prob))):
            raise ValueError(f"BeamEntry.log_prob must be None or a number (not NaN), got {self.log_prob!r:.40}")


def beam_frames(steps: Sequence[Any], tgt_vocab) -> List[List[BeamEntry]]:
    """What the beam held at every step of one sentence, from ``beam_search(..., record_steps=True)``.

    Args:
        steps: ``BeamSearchOutput.steps[i]``, the :class:`course_lib.decoding.BeamStep` list
            of one sentence (``kept``, ``parents``, ``finished`` per step).
        tgt_vocab: the target :class:`course_lib.data.Vocab` (ids -> tokens).

    Returns:
        One list of :class:`BeamEntry` per step: the hypotheses kept (``"kept"``), those that
        produced ``<eos>`` at this step (``"finished"``, shown with ``<eos>``; ``"stopped"``
        when ``max_len`` cut them), and those of the previous step that have no kept or
        finished extension now (``"pruned"``, shown with their previous tokens and score).

    Raises:
        ValueError: ``steps`` is empty or not a list of beam steps; a hypothesis without
            integer token ids or numeric ``score``/``log_prob`` (an InputTypeError);
            ``tgt_vocab`` has no ``itos``.
    """
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
        raise InputTypeError(f"steps must be the list of BeamStep of one sentence (BeamSearchOutput.steps[i]), "
                             f"got {type(steps).__name__}")
    if not steps:
        raise ValueError("steps is empty: run beam_search(..., record_steps=True) on at least one sentence")
    if any(not all(hasattr(st, a) for a in ("kept", "finished")) for st in steps):
        raise InputTypeError("steps must hold BeamStep objects (with .kept and .finished); pass "
                             "BeamSearchOutput.steps[i], one sentence's steps")
    itos = getattr(tgt_vocab, "itos", None)
    if itos is None:
        raise InputTypeError(f"tgt_vocab must be a course_lib.data.Vocab, got {type(tgt_vocab).__name__}")
    def number(x) -> bool:
        if isinstance(x, (str, bytes, bool)) or x is None:
            return False
        try:
            float(x)
        except (TypeError, ValueError, RuntimeError):
            return False
        return True

    for t, st in enumerate(steps):
        for h in [*st.kept, *st.finished]:
            ids = getattr(h, "tokens", None)
            ok = (not isinstance(ids, (str, bytes)) and isinstance(ids, (list, tuple))
                  and all(isinstance(i, Integral) and not isinstance(i, bool) for i in ids)
                  and all(number(getattr(h, a, None)) for a in ("score", "log_prob")))
            if not ok:
                raise InputTypeError(f"steps[{t}] holds {h!r:.80}, not a decoding.Hypothesis (token ids, a numeric "
                                     "score and log_prob): pass BeamSearchOutput.steps[i]")

    def words(ids) -> Tuple[str, ...]:
        return tuple(itos[int(i)] if 0 <= int(i) < len(itos) else f"#{int(i)}" for i in ids)

    frames: List[List[BeamEntry]] = []
    previous: List[Any] = []
    for st in steps:
        stopped = {tuple(h.tokens) for h in st.finished if not h.finished}  # cut by max_len: now in the pool
        frame = [BeamEntry(words(h.tokens), float(h.score), "kept", float(h.log_prob)) for h in st.kept
                 if tuple(h.tokens) not in stopped]
        for h in st.finished:
            tokens = words(h.tokens) + ((EOS,) if h.finished else ())
            frame.append(BeamEntry(tokens, float(h.score), "finished" if h.finished else "stopped", float(h.log_prob)))
        continued = ({tuple(h.tokens[:-1]) for h in st.kept}
                     | {tuple(h.tokens) if h.finished else tuple(h.tokens[:-1]) for h in st.finished})
        frame.extend(BeamEntry(words(h.tokens), float(h.score), "pruned", float(h.log_prob))
                     for h in previous if tuple(h.tokens) not in continued)
        frames.append(frame)
        previous = list(st.kept)
    return frames


def _check_beam_frames(frames) -> None:
    if isinstance(frames, (str, bytes)) or not isinstance(frames, Sequence):
        raise InputTypeError(f"frames must be a list (one per step) of lists of BeamEntry, got {type(frames).__name__}")
    if not frames:
        raise ValueError("frames is empty: the search recorded no steps (use record_steps=True)")
    for t, frame in enumerate(frames):
        if isinstance(frame, (str, bytes)) or not isinstance(frame, Sequence):
            raise InputTypeError(f"frames[{t}] must be a list of BeamEntry, got {type(frame).__name__}")
        bad = [e for e in frame if not isinstance(e, BeamEntry)]
        if bad:
            raise InputTypeError(f"frames[{t}] must hold BeamEntry objects, got {type(bad[0]).__name__}")


def plot_beam_step(frames: Sequence[Sequence[BeamEntry]], step: int, title: Optional[str] = None,
                   max_rows: int = 24) -> Figure:
    """The beam at one step of beam search: every hypothesis with its partial tokens and score.

    One horizontal bar per hypothesis, best score at the top; blue = kept in the beam,
    green = finished (ended with ``<eos>``), orange = stopped by ``max_len``, grey = pruned
    at this step (listed below the others). The bar length is
    the score (a log-probability, so the bars extend left of zero; shorter is better).
    Wu et al. (2016), sec. 7 (beam search with length normalisation and coverage penalty).

    Args:
        frames: one list of :class:`BeamEntry` per step (e.g. from :func:`beam_frames`).
        step: the step to draw (0-based).
        title: overrides the default title.
        max_rows: draw at most this many hypotheses (the best ones).

    Returns:
        The figure.

    Raises:
        ValueError: empty or malformed frames; ``max_rows`` below 1.
        StepOutOfRange: ``step`` outside the frames. InputTypeError: ``title`` not a str.
    """
    _check_beam_frames(frames)
    title = check_text(title, "title")
    step = check_step(step, len(frames))
    max_rows = check_int(max_rows, "max_rows", low=1)
    order = {"kept": 0, "finished": 0, "stopped": 0, "pruned": 1}
    entries = sorted(frames[step], key=lambda e: (order[e.status], -float(e.score)))[:max_rows]
    counts = {k: sum(e.status == k for e in frames[step]) for k in BEAM_COLORS}
    fig = Figure(figsize=(8, 0.42 * max(len(entries), 2) + 1.3))
    ax = fig.subplots()
    if entries:
        y = np.arange(len(entries))[::-1]
        scores = np.array([float(e.score) for e in entries])
        finite = np.where(np.isfinite(scores), scores, np.nan)
        ax.barh(y, np.nan_to_num(finite, nan=0.0, neginf=0.0), color=[BEAM_COLORS[e.status] for e in entries],
                height=0.7)
        lo = float(np.nanmin(finite)) if np.isfinite(finite).any() else -1.0
        span = abs(lo) or 1.0
        for yi, e, v in zip(y, entries, finite):
            text = " ".join(e.tokens) or "(empty)"
            ax.text(0.02 * span, yi, f"{text}", va="center", ha="left", fontsize=9,
                    color="black" if e.status != "pruned" else "#777777")
            ax.text(v if np.isfinite(v) else 0.0, yi, f"{v:.2f} ", va="center", ha="right", fontsize=8)
        ax.set_yticks(y, [f"{i + 1}" if e.status != "pruned" else "-" for i, e in enumerate(entries)])
        ax.set_xlim(lo - 0.25 * span, span * 1.6)
        ax.set_xticks([t for t in ax.get_xticks() if lo - 0.25 * span <= t <= 0])
        from matplotlib.patches import Patch

        present = [k for k in BEAM_COLORS if counts[k]]
        ax.legend(handles=[Patch(color=BEAM_COLORS[k], label=k) for k in present], loc="upper left", fontsize=8,
                  frameon=False, bbox_to_anchor=(1.0, 1.0))
    else:
        ax.text(0.5, 0.5, "no hypotheses at this step", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel("score (log-probability / length penalty + coverage penalty)")
    ax.set_ylabel("rank")
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title or f"step {step + 1} of {len(frames)}: {counts['kept']} kept, "
                          f"{counts['finished'] + counts['stopped']} finished, {counts['pruned']} pruned", fontsize=10)
    fig.tight_layout()
    return fig


def plot_beam_tree(frames: Sequence[Sequence[BeamEntry]], upto: Optional[int] = None, title: Optional[str] = None) -> Figure:
    """The search tree of beam search up to step ``upto``: one column per step, one node per hypothesis.

    Each node shows the token a hypothesis added (its score beside it) and is joined to the
    hypothesis it extends in the previous column; blue = kept, green = finished with
    ``<eos>``, orange = stopped by ``max_len``; a hypothesis pruned at a step is crossed out
    (grey) in the column where it was last kept. Wu et al. (2016), sec. 7.

    Args:
        frames: one list of :class:`BeamEntry` per step (:func:`beam_frames`).
        upto: the last step to draw (0-based; default: all).
        title: overrides the default title.

    Returns:
        The figure.

    Raises:
        ValueError: empty or malformed frames. StepOutOfRange: ``upto`` outside the frames.
        InputTypeError: ``title`` not a str.
    """
    _check_beam_frames(frames)
    title = check_text(title, "title")
    last = len(frames) - 1 if upto is None else check_step(upto, len(frames), "upto")
    nodes: Dict[Tuple[int, Tuple[str, ...]], Tuple[float, float]] = {}
    pruned_at: Dict[Tuple[str, ...], int] = {}
    columns = []
    for t in range(last + 1):
        live = sorted((e for e in frames[t] if e.status != "pruned"), key=lambda e: -float(e.score))
        columns.append(live)
        for e in frames[t]:
            if e.status == "pruned":
                pruned_at[e.tokens] = t
    height = max((len(c) for c in columns), default=1)
    fig = Figure(figsize=(max(4.0, 1.5 * (last + 1) + 1.5), max(2.5, 0.45 * height + 1.3)))
    ax = fig.subplots()
    for t, live in enumerate(columns):
        for r, e in enumerate(live):
            x, y = float(t), -float(r)
            nodes[(t, e.tokens)] = (x, y)
            parent_tokens = e.tokens[:-1]
            parent = nodes.get((t - 1, parent_tokens)) if t > 0 else (-1.0, 0.0)
            if parent is not None:
                ax.plot([parent[0] + 0.12, x - 0.12], [parent[1], y], color="#999999", lw=0.8, zorder=1)
            crossed = pruned_at.get(e.tokens) == t + 1 and e.status == "kept"
            color = "#bbbbbb" if crossed else BEAM_COLORS[e.status]
            word = e.tokens[-1] if e.tokens else "(empty)"
            ax.text(x, y, word, ha="center", va="center", fontsize=8, zorder=2,
                    bbox={"boxstyle": "round,pad=0.25", "fc": color, "ec": "none", "alpha": 0.9},
                    color="white" if not crossed else "#555555")
            ax.text(x, y - 0.32, f"{e.score:.2f}" + (" ✕" if crossed else ""), ha="center", va="center",
                    fontsize=6.5, color="#555555")
    ax.text(-1.0, 0.0, "<sos>", ha="center", va="center", fontsize=8,
            bbox={"boxstyle": "round,pad=0.25", "fc": "#eeeeee", "ec": "none"})
    ax.set_xlim(-1.6, last + 0.6)
    ax.set_ylim(-height + 0.4, 0.6)
    ax.set_xticks(range(last + 1), [f"step {t + 1}" for t in range(last + 1)], fontsize=8)
    ax.set_yticks([])
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.set_title(title or f"beam search tree, steps 1 to {last + 1} of {len(frames)}", fontsize=10)
    fig.tight_layout()
    return fig


def beam_step_caption(frames: Sequence[Sequence[BeamEntry]], step: int) -> str:
    """HTML caption for :func:`plot_beam_step`: what the beam holds at ``step`` (pure).

    Raises:
        As :func:`plot_beam_step`.
    """
    _check_beam_frames(frames)
    step = check_step(step, len(frames))
    frame = frames[step]

    def best(status):
        entries = [e for e in frame if e.status in status]
        return max(entries, key=lambda e: e.score) if entries else None

    parts = [f"<b>step {step + 1} of {len(frames)}</b> &mdash; {sum(e.status == 'kept' for e in frame)} in the beam"]
    for label, status in (("best open", ("kept",)), ("best finished here", ("finished", "stopped"))):
        e = best(status)
        if e is not None:
            parts.append(f"{label}: <i>{html.escape(' '.join(e.tokens))}</i> ({e.score:.2f})")
    pruned = sum(e.status == "pruned" for e in frame)
    if pruned:
        parts.append(f"{pruned} pruned")
    return "; ".join(parts)


def format_n_best(n_best: Sequence[Tuple[Sequence[str], float]]) -> str:
    """An HTML table of the final n-best list: rank, translation, score.

    Args:
        n_best: ``(tokens, score)`` pairs, best first.

    Raises:
        ValueError: an empty list; a score that is not a number or is NaN.
        InputTypeError: tokens given as a bare str; an item that is not a ``(tokens, score)`` pair.
    """
    if isinstance(n_best, (str, bytes)) or not isinstance(n_best, Sequence):
        raise InputTypeError(f"n_best must be a list of (tokens, score) pairs, got {type(n_best).__name__}")
    if not n_best:
        raise ValueError("n_best is empty: the search returned no hypotheses")
    rows = []
    for i, pair in enumerate(n_best):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise InputTypeError(f"n_best[{i}] must be a (tokens, score) pair, got {pair!r:.60}")
        tokens, score = pair
        tokens = check_tokens(tokens, f"n_best[{i}] tokens", allow_empty=True)
        if isinstance(score, bool) or not isinstance(score, Real) or math.isnan(float(score)):
            raise ValueError(f"n_best[{i}] score must be a number (not NaN), got {score!r:.40}")
        score = float(score)
        rows.append(f"<tr><td>{i + 1}</td><td>{html.escape(' '.join(tokens))}</td><td>{score:.3f}</td></tr>")
    return ("<table class='course-nbest'><tr><th>rank</th><th>translation</th><th>score</th></tr>"
            + "".join(rows) + "</table>")


# -- the translator widget (issue 10): n-best list + attention of the chosen translation -------


def translator_frame(translation, choice: int = 0, detokenize=None, title: Optional[str] = None) -> Tuple[str, Optional[bytes]]:
    """What the translator widget shows for one sentence: the n-best list and one heatmap.

    Pure (no widgets): :func:`course_lib.widgets.translator` puts the two parts into an
    ``ipywidgets.HTML`` and an ``ipywidgets.Image``.

    Args:
        translation: a :class:`course_lib.decoding.Translation` (the best hypothesis; its
            ``alternatives`` are the runners-up of a beam search with ``n_best > 1``).
        choice: which hypothesis to draw, ``0`` = the best, ``1`` = the first alternative, ...
        detokenize: ``tokens -> str`` to show each translation as text (default: tokens
            joined by spaces).
        title: the heatmap's title (default: the chosen translation and its score).

    Returns:
        ``(html, png)``: an HTML table (rank, translation, score; the chosen row marked
        ``class='chosen'`` and with ▶) and the PNG of :func:`plot_attention` of the chosen
        hypothesis (rows :attr:`~course_lib.decoding.Translation.row_labels`, columns its
        ``src_tokens``), or ``None`` for a model without attention.

    Raises:
        ValueError: ``choice`` outside ``0 .. len(alternatives)``; attention weights whose
            shape does not match the tokens (from :func:`plot_attention`).
        InputTypeError: ``translation`` is not a Translation; ``detokenize`` not callable;
            ``title`` not a str; ``detokenize`` returns something other than a str.
    """
    title = check_text(title, "title")
    if not all(hasattr(translation, a) for a in ("tokens", "src_tokens", "attn_weights", "row_labels", "alternatives")):
        raise InputTypeError(f"translation must be a course_lib.decoding.Translation, got {type(translation).__name__}")
    hyps = [translation] + list(translation.alternatives)
    choice = check_int(choice, "choice", low=0, high=len(hyps) - 1)
    if detokenize is None:
        detokenize = " ".join
    if not callable(detokenize):
        raise InputTypeError(f"detokenize must be callable tokens -> str, got {type(detokenize).__name__}")
    texts = [detokenize(list(hyp.tokens)) for hyp in hyps]
    bad = [t for t in texts if not isinstance(t, str)]
    if bad:
        raise InputTypeError(f"detokenize must return a str, it returned {type(bad[0]).__name__} ({bad[0]!r:.40})")
    rows = []
    for rank, hyp in enumerate(hyps):
        text = html.escape(texts[rank])
        score = "n/a" if hyp.score is None else f"{float(hyp.score):.3f}"
        mark, cls = ("▶", " class='chosen' style='font-weight:bold;background:#eef'") if rank == choice else ("", "")
        rows.append(f"<tr{cls}><td>{mark}{rank + 1}</td><td>{text}</td><td>{score}</td></tr>")
    table = ("<table class='course-translations'><tr><th>#</th><th>translation</th><th>score</th></tr>"
             + "".join(rows) + "</table>")
    chosen = hyps[choice]
    if chosen.attn_weights is None:
        return table, None
    score = "" if chosen.score is None else f" (score {float(chosen.score):.3f})"
    fig = plot_attention(chosen.attn_weights, chosen.src_tokens, chosen.row_labels,
                         title=title if title is not None else f"#{choice + 1}: {texts[choice]}{score}")
    return table, figure_to_png(fig)
