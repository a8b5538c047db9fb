"""Figures as pure functions: each returns a ``matplotlib.figure.Figure`` (or PNG bytes, or HTML).

Figures use the object-oriented API (``Figure()``, not ``pyplot``): no global state, nothing
leaks, they render headless, and a notebook shows a returned figure as its cell's result;
seaborn's style is set per figure. :mod:`course_lib.widgets` is a thin layer over them.
Subword pieces are drawn as words (:func:`display_tokens`: ``▁He ' s`` shows as ``He ·' ·s``).
Every public function checks its arguments once (:mod:`course_lib.checks`): a wrong type
raises ``InputTypeError`` (a ``TypeError`` and a ``ValueError``), a bad value ``ValueError``.
"""

from __future__ import annotations

import html
import io
import math
from dataclasses import dataclass
from functools import partial
from numbers import Integral, Real
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from . import checks as _checks
from .checks import InputTypeError, check_choice, check_flag, check_instance, check_int, require
from .data import EOS
from .fonts import font_rc

__all__ = ["figure_to_png", "display_tokens", "display_text", "plot_history", "plot_attention",
           "plot_bleu_by_length", "plot_decoder_step", "plot_length_histogram", "stepper_frame", "BeamEntry",
           "beam_frames", "plot_beam_step", "plot_beam_tree", "beam_step_caption", "format_n_best", "plot_gnmt_placement",
           "translator_frame", "InputTypeError", "StepOutOfRange"]

#: The largest PNG side (pixels) :func:`figure_to_png` renders (matplotlib's own limit is 2**16).
MAX_PIXELS = 20_000
#: Heatmaps with at most this many rows and columns get their values written in the cells.
ANNOTATE_MAX_TOKENS = 12
#: The marker of a word-initial subword piece (SentencePiece's Metaspace, :mod:`course_lib.data.subwords`).
SUBWORD_MARK = "▁"
#: How :func:`display_tokens` marks a piece that continues a word.
JOINER = "·"


# -- the checks the figure modules share (the generic ones are course_lib.checks') ----------


class StepOutOfRange(IndexError, ValueError):
    """A step index outside the frames: a ``ValueError`` (and an ``IndexError`` for older callers)."""


#: :func:`course_lib.checks.check_tokens` and ``check_text`` for labels and titles: tokens non-empty and
#: a title ``None`` by default.
check_tokens = partial(_checks.check_tokens, allow_empty=False)
check_text = partial(_checks.check_text, allow_none=True)


def check_step(step: Any, n_frames: int, what: str = "step") -> int:
    """``step`` as an int in ``0 .. n_frames - 1``.

    Raises:
        InputTypeError: not an integer. StepOutOfRange: outside the frames.
        ValueError: ``n_frames`` is not a positive integer.
    """
    n_frames, step = check_int(n_frames, "n_frames", low=1), check_int(step, what)
    require(0 <= step < n_frames, f"{what} {step} is outside the steps 0 to {n_frames - 1}", StepOutOfRange)
    return step


def as_array(values: Any, name: str, ndim: Optional[int] = None, allow_empty: bool = False) -> np.ndarray:
    """A float64 copy of an array, tensor or nested list with ``ndim`` dimensions and finite values.

    Raises:
        InputTypeError: not numbers of one consistent shape (a str).
        ValueError: the wrong number of dimensions, empty, NaN or infinite values.
    """
    try:
        arr = np.array(values.detach().float().cpu().numpy() if hasattr(values, "detach") else values, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise InputTypeError(f"{name} must be numbers of one consistent shape, not {values!r:.40} ({err})") from None
    hint = " (pass one sentence's [T, S] matrix, e.g. attn_weights[0])" if ndim == 2 and arr.ndim == 3 else ""
    problem = (f"must have {ndim} dimension(s), not shape {arr.shape}{hint}" if ndim is not None and arr.ndim != ndim
               else "is empty" if arr.size == 0 and not allow_empty
               else "holds NaN or infinite values" if not np.isfinite(arr).all() else "")
    require(not problem, f"{name} {problem}")
    return arr


def as_matrix(values: Any, name: str) -> np.ndarray:
    """:func:`as_array` for a ``[T, S]`` matrix (attention weights)."""
    return as_array(values, name, ndim=2)


def check_score(value: Any, name: str, allow_none: bool = False) -> Optional[float]:
    """``value`` as a float that is not NaN (a log-probability may be ``-inf``); ``None`` if allowed.

    Raises:
        ValueError: a bool, a str, a tensor, NaN.
    """
    ok = (value is None and allow_none) or (isinstance(value, Real) and not isinstance(value, bool) and value == value)
    require(ok, f"{name} must be a number (not NaN), got {value!r:.40}")
    return None if value is None else float(value)


def check_mapping(value: Any, name: str, what: str) -> None:
    """``value`` must be a non-empty dict. Raises: InputTypeError: not a dict, or empty."""
    require(isinstance(value, Mapping) and len(value), f"{name} is empty or not a dict: give {what}", InputTypeError)


# -- subword pieces as words ------------------------------------------------------------------


def _has_pieces(tokens: Sequence[str]) -> bool:
    return any(len(t) > 1 and t.startswith(SUBWORD_MARK) for t in tokens)


def _shown(tokens: Sequence[str], subwords: Optional[bool] = None) -> List[str]:
    if not (_has_pieces(tokens) if subwords is None else subwords):
        return list(tokens)
    out, word_start = [], False
    for t in tokens:
        special = len(t) > 2 and t[0] == "<" and t[-1] == ">"
        if t == SUBWORD_MARK:
            out.append("␣")
        elif special or word_start or t.startswith(SUBWORD_MARK):
            out.append(t if special else t.removeprefix(SUBWORD_MARK))
        else:
            out.append(JOINER + t)
        word_start = t == SUBWORD_MARK
    return out


def _text(tokens: Sequence[str], subwords: Optional[bool] = None) -> str:
    shown = _shown(tokens, subwords)
    return "".join(s if i == 0 or s.startswith(JOINER) else " " + s for i, s in enumerate(shown))


def display_tokens(tokens: Sequence[str], subwords: Optional[bool] = None) -> List[str]:
    """Tokens as a reader expects them: subword pieces as words, piece boundaries marked lightly.

    A piece that starts a word carries SentencePiece's marker ``▁`` for the space before it
    (:mod:`course_lib.data.subwords`): it shows without it (``▁He`` -> ``He``); a piece that
    continues a word shows with a light joiner (``s`` -> ``·s``); a lone ``▁`` shows as ``␣``.
    Special tokens (``<eos>``) and word-level tokens are unchanged. One label per token:
    ``["▁He", "'", "s", "▁a", "▁D", "J"]`` -> ``["He", "·'", "·s", "a", "D", "·J"]``.

    Args:
        tokens: one sequence's tokens.
        subwords: whether they are subword pieces (default: when one starts with ``▁``).

    Raises:
        InputTypeError: a bare str, or items that are not str.
    """
    return _shown(check_tokens(tokens, "tokens", allow_empty=True), check_flag(subwords, "subwords")
                  if subwords is not None else None)


def display_text(tokens: Sequence[str], subwords: Optional[bool] = None) -> str:
    """:func:`display_tokens` joined into one line: words by spaces, pieces by the joiner (``He·'·s a D·J``).

    Raises:
        As :func:`display_tokens`.
    """
    return _text(display_tokens(tokens, subwords), False)


# -- figures -----------------------------------------------------------------------------


def figure_to_png(fig: Figure, dpi: Optional[int] = None) -> bytes:
    """Render ``fig`` to PNG bytes (for ``ipywidgets.Image``) at ``dpi`` (default: the figure's).

    The PNG carries no software/version metadata, so the same figure gives the same bytes.

    Raises:
        InputTypeError: ``fig`` is not a matplotlib Figure. ValueError: ``dpi`` below 1, or a
            picture more than :data:`MAX_PIXELS` wide or tall (it would exhaust memory).
    """
    check_instance(fig, Figure, "fig", "a matplotlib Figure")
    dpi = check_int(dpi, "dpi", low=1, allow_none=True) or fig.dpi
    require(max(fig.get_size_inches()) * dpi <= MAX_PIXELS, f"more than {MAX_PIXELS} pixels a side: lower dpi or size")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def plot_history(history, title: str = "training") -> Figure:
    """Training loss per step and train/validation loss per epoch from a :class:`~course_lib.training.History`.

    ``title`` heads the figure; the panels are "loss per batch" and "loss per epoch" (nats
    per target token). An epoch cut short (``partial``) gets a hollow marker.

    Raises:
        InputTypeError: not a History (``steps``/``epochs`` records with ``step``/``loss`` and
            ``epoch``/``train_loss``); ``title`` not a str.
        ValueError: an empty history (nothing trained yet); NaN or infinite losses.
    """
    title = check_text(title, "title", allow_none=False)
    try:
        steps, losses = [s["step"] for s in history.steps], [s["loss"] for s in history.steps]
        epochs, train = [e["epoch"] for e in history.epochs], [e["train_loss"] for e in history.epochs]
        val = [e["val_loss"] for e in history.epochs if "val_loss" in e]
    except (AttributeError, KeyError, TypeError) as err:
        raise InputTypeError(f"plot_history needs a training History, with 'step'/'loss' records ({err!r})") from None
    as_array(losses + train + val, "the history", ndim=1)  # empty (nothing trained yet), NaN or infinite
    fig = Figure(figsize=(10, 3.7), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(steps, losses, lw=0.8, alpha=0.8)
    ax1.set(xlabel="optimiser step", ylabel="loss (nats/token)", title="loss per batch")
    partial_ = [bool(e.get("partial")) for e in history.epochs]
    series = [("train", train, "o")] + ([("validation", val, "s")] if len(val) == len(epochs) else [])
    for label, values, marker in series:
        line, = ax2.plot(epochs, values, marker + "-", label=label)
        if any(partial_):
            ax2.plot([x for x, p in zip(epochs, partial_) if p], [v for v, p in zip(values, partial_) if p], marker,
                     mfc="white", color=line.get_color(), label="partial epoch" if label == "train" else None)
    ax2.set(xlabel="epoch", ylabel="loss (nats/token)", title="loss per epoch")
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    if epochs:
        ax2.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def plot_attention(weights, src_tokens: Sequence[str], tgt_tokens: Sequence[str], title: Optional[str] = None,
                   upto: Optional[int] = None, ax=None, annotate: Optional[bool] = None) -> Figure:
    """Annotated heatmap (seaborn) of ``weights`` ``[T, S]``: a row per generated token, a column per source token.

    The alignment pictures of Bahdanau et al. (2015) and Luong et al. (2015); subword pieces are
    labelled as words (:func:`display_tokens`). ``upto`` shows only the first ``upto`` rows (the
    animation's frames); ``ax`` draws into an existing axes; ``annotate`` writes the weights in
    the cells (default: when ``T`` and ``S`` are at most :data:`ANNOTATE_MAX_TOKENS`).

    Raises:
        ValueError: ``weights`` not 2-D, empty or NaN; rows or columns that do not match the
            labels; ``upto`` outside ``0..T``.
        InputTypeError: a bare str for the tokens; ``title`` not a str; ``ax`` not an ``Axes``;
            ``annotate`` not a bool.
    """
    import seaborn as sns
    from matplotlib.axes import Axes

    title = check_text(title, "title")
    require(ax is None or isinstance(ax, Axes), f"ax must be a matplotlib Axes or None, not {ax!r:.30}", InputTypeError)
    annotate = None if annotate is None else check_flag(annotate, "annotate")
    src, tgt = check_tokens(src_tokens, "src_tokens"), check_tokens(tgt_tokens, "tgt_tokens")
    w = as_matrix(weights, "attention weights")
    T, S = w.shape
    require((T, S) == (len(tgt), len(src)), f"attention weights have {T} rows and {S} columns but there are "
            f"{len(tgt)} target labels and {len(src)} source labels (one per column, <eos> included)")
    upto = check_int(upto, "upto", low=0, high=T, allow_none=True)
    if annotate is None:
        annotate = T <= ANNOTATE_MAX_TOKENS and S <= ANNOTATE_MAX_TOKENS
    if upto is not None:
        w[upto:] = np.nan  # seaborn leaves NaN cells blank
    pieces = _has_pieces(src) or _has_pieces(tgt)
    src, tgt = _shown(src, pieces), _shown(tgt, pieces)
    with sns.axes_style("white", rc=font_rc()):  # keep a font set by fonts.use_script_font
        if ax is None:
            ax = Figure(figsize=(max(4, 0.5 * S + 2), max(3, 0.4 * T + 1.5))).subplots()
        sns.heatmap(w, ax=ax, cmap="viridis", vmin=0.0, vmax=1.0, xticklabels=src, yticklabels=tgt,
                    annot=annotate, fmt=".2f", annot_kws={"fontsize": 7}, linewidths=0.3, linecolor="white",
                    cbar_kws={"label": "attention weight", "fraction": 0.046, "pad": 0.02})
    ax.set_xticklabels(src, rotation=60, ha="right")
    ax.set_yticklabels(tgt, rotation=0)
    ax.set(xlabel="source", ylabel="generated", title=title or "")
    return ax.figure


def _check_bleu_frames(frames, metric: str = "bleu") -> List[str]:
    check_mapping(frames, "frames", "{model name: DataFrame from metrics.bleu_by_length}")
    first = next(iter(frames.values()))
    bad = [n for n, df in frames.items() if not ({"bucket", "sentences", metric} <= set(getattr(df, "columns", ()))
           and len(df) and df[metric].dtype.kind in "iuf" and list(df["bucket"]) == list(first["bucket"]))]
    require(not bad, f"table {bad[:1]} needs a numeric {metric!r} column and the first's buckets "
            "(metrics.bleu_by_length or metrics.accuracy_by_length)")
    return list(frames)


def plot_bleu_by_length(frames: Dict[str, "object"], title: str = "BLEU by source length", metric: str = "bleu",
                        ylabel: Optional[str] = None) -> Figure:
    """Grouped bars (seaborn) of BLEU (or another ``metric`` column) per source-length bucket, one colour per model.

    ``frames``: ``{model name: DataFrame from metrics.bleu_by_length}`` with the same buckets;
    ``metric="exact_match"`` or ``"token_accuracy"`` plots :func:`course_lib.metrics.accuracy_by_length`'s
    tables; ``ylabel`` defaults to the column's name.

    Raises:
        ValueError: no tables; a table without ``bucket``/``sentences``/``metric`` columns or
            rows, with a non-numeric ``metric`` column, or with other buckets.
        InputTypeError: ``frames`` not a dict; ``title``, ``metric`` or ``ylabel`` not a str.
    """
    import pandas as pd
    import seaborn as sns

    title, metric = check_text(title, "title", allow_none=False), check_text(metric, "metric", allow_none=False)
    ylabel = check_text(ylabel, "ylabel") or {"bleu": "BLEU"}.get(metric, metric.replace("_", " "))
    names = _check_bleu_frames(frames, metric)
    first = frames[names[0]]
    labels = [f"{b}\n(n={n})" for b, n in zip(first["bucket"], first["sentences"])]
    long = pd.concat([pd.DataFrame({"bucket": labels, "value": np.asarray(frames[n][metric], dtype=float), "model": n})
                      for n in names], ignore_index=True)
    with sns.axes_style("whitegrid", rc=font_rc()):
        fig = Figure(figsize=(max(6, 1.3 * len(labels) + 2), 3.5), layout="constrained")
        ax = fig.subplots()
        sns.barplot(data=long, x="bucket", y="value", hue="model", ax=ax, palette="deep", order=labels,
                    hue_order=names)
    ax.set(xlabel="source length (tokens)", ylabel=ylabel, title=title)
    ax.legend(title=None)
    return fig


def plot_length_histogram(lengths: Dict[str, Sequence[int]], title: str = "sentence lengths") -> Figure:
    """Histograms of token counts, e.g. ``{"de": [...], "en": [...]}``.

    Lengths up to 200 get one bin per token count; longer ones share about 200 bins.

    Raises:
        ValueError: no series; a series that is empty or not a flat list of non-negative
            integers. InputTypeError: ``lengths`` not a dict; a series not a list; ``title`` not a str.
    """
    title = check_text(title, "title", allow_none=False)
    check_mapping(lengths, "lengths", "{name: list of token counts}")
    series = {name: np.asarray(values) for name, values in lengths.items()}
    for name, arr in series.items():
        require(arr.ndim == 1 and arr.size and arr.dtype.kind in "iu" and (arr >= 0).all(), f"lengths[{name!r}] must "
                f"be a non-empty flat list of non-negative integers, got a {type(lengths[name]).__name__} {arr.shape}",
                ValueError if arr.ndim else InputTypeError)
    fig = Figure(figsize=(6, 3), layout="constrained")
    ax = fig.subplots()
    top = max(int(v.max()) for v in series.values())
    width = max(1, math.ceil((top + 1) / 200))  # at most ~200 bins, never one per unit of a huge count
    for name, values in series.items():
        ax.hist(values, bins=np.arange(-0.5, top + width + 0.5, width), alpha=0.55, label=name)
    ax.set(xlabel="tokens per sentence", ylabel="sentences", title=title)
    ax.legend()
    return fig


# -- the decoder stepper ---------------------------------------------------------------------

_TRACE_FIELDS = ("prefix", "token", "topk_tokens", "topk_probs", "attn_weights")


def _check_trace(trace, src_tokens, step) -> Tuple[List[str], int, np.ndarray, Optional[np.ndarray]]:
    """The stepper's door: the source tokens, the step, its top-k probabilities and its attention (or None)."""
    require(isinstance(trace, (list, tuple)) and trace and all(hasattr(s, f) for s in trace for f in _TRACE_FIELDS),
            "trace must be the non-empty list of decoding.StepTrace that decode_trace returns", InputTypeError)
    src, step = check_tokens(src_tokens, "src_tokens"), check_step(step, len(trace))
    s, at = trace[step], f"trace[{step}]"
    check_text(s.token, f"{at}.token", allow_none=False)
    check_tokens(s.prefix or [], f"{at}.prefix", allow_empty=True)
    check_tokens(s.topk_tokens, f"{at}.topk_tokens")
    probs = as_array(s.topk_probs, f"{at}.topk_probs", ndim=1)
    attn = None if s.attn_weights is None else as_array(s.attn_weights, f"{at}.attn_weights", ndim=1)
    n = len(src) if attn is None else len(attn)
    require(len(probs) == len(s.topk_tokens) and n == len(src), f"{at} has {len(probs)} probabilities for "
            f"{len(s.topk_tokens)} tokens and attends over {n} source positions for {len(src)} tokens (<eos> too)")
    return src, step, probs, attn


def _step_figure(s, src: List[str], step: int, probs: np.ndarray, attn: Optional[np.ndarray]) -> Figure:
    pieces = _has_pieces(src) or _has_pieces(s.prefix or []) or _has_pieces(s.topk_tokens)
    fig = Figure(figsize=(10 if attn is not None else 5.5, 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, 1 if attn is None else 2, width_ratios=None if attn is None else [1, 1.6]))
    y = np.arange(len(probs))[::-1]
    axes[0].barh(y, probs, color=["tab:orange" if t == s.token else "tab:blue" for t in s.topk_tokens])
    axes[0].set_yticks(y, [_shown([t], pieces)[0] for t in s.topk_tokens])
    forced = " (forced)" if getattr(s, "forced", False) else ""  # a word the learner chose (decode_trace's prefix)
    axes[0].set(xlim=(0, 1), xlabel="probability", title=f"step {step + 1}: next word{forced}")
    if attn is not None:
        axes[1].bar(np.arange(len(attn)), attn, color="tab:green")
        axes[1].set_xticks(np.arange(len(src)), _shown(src, pieces), rotation=60, ha="right")
        axes[1].set(ylim=(0, 1), ylabel="attention weight", title="where the decoder looks")
    return fig


def plot_decoder_step(trace: List, src_tokens: Sequence[str], step: int) -> Figure:
    """One frame of the decoder stepper: the top-k next words and (if any) the attention at ``step`` (0-based).

    ``trace`` is the :class:`course_lib.decoding.StepTrace` list of ``decode_trace``;
    ``src_tokens`` the source tokens, ``<eos>`` included. The word taken (``token``) is orange;
    a forced step (the learner's word) says so.

    Raises:
        StepOutOfRange (a ValueError and IndexError): ``step`` outside the trace.
        ValueError: an empty trace; probabilities or attention that are NaN, not 1-D, or do
            not match the candidate or source tokens.
        InputTypeError: not a list of StepTrace; a bare str for tokens; a ``token`` not a str.
    """
    src, step, probs, attn = _check_trace(trace, src_tokens, step)
    return _step_figure(trace[step], src, step, probs, attn)


def stepper_frame(trace, src_tokens: Sequence[str], step: int) -> Tuple[str, bytes]:
    """The HTML caption and PNG bytes the decoder stepper shows at ``step`` (pure; testable).

    The caption gives the probability of the word taken (at a forced step, the learner's word:
    "outside the top-k" when it is not among ``topk_tokens``).

    Raises:
        As :func:`plot_decoder_step`.
    """
    src, step, probs, attn = _check_trace(trace, src_tokens, step)
    s = trace[step]
    png = figure_to_png(_step_figure(s, src, step, probs, attn))
    pieces = _has_pieces(src) or _has_pieces(s.prefix or []) or _has_pieces(s.topk_tokens)
    prefix = _text(s.prefix, pieces) if s.prefix else "(nothing yet)"
    taken = [i for i, t in enumerate(s.topk_tokens) if t == s.token]
    p = f"p = {probs[taken[0]]:.2f}" if taken else f"outside the top {len(probs)}"
    caption = (f"<b>source:</b> {html.escape(_text(src, pieces))}<br>"
               f"<b>step {step + 1} of {len(trace)}</b> &mdash; generated so far: <i>{html.escape(prefix)}</i> "
               f"&rarr; next: <b>{html.escape(_shown([s.token], pieces)[0])}</b> ({p})")
    return caption, png


# -- beam search -------------------------------------------------------------------------

#: Colours of the beam explorer's bars and tree nodes by status.
BEAM_COLORS = {"kept": "tab:blue", "finished": "tab:green", "stopped": "tab:orange", "dropped": "#d4d4d4",
               "pruned": "#bbbbbb"}
#: The marks (and colours) of a candidate the coverage penalty moved up or down (:attr:`BeamEntry.moved`).
MOVE_MARKS = {"promoted": ("▲", "tab:purple"), "demoted": ("▼", "tab:red")}


@dataclass(frozen=True)
class BeamEntry:
    """One hypothesis in one step of beam search, as the beam explorer draws it.

    Attributes:
        tokens: the partial translation (target tokens, without ``<sos>``).
        score: its score (Wu et al. 2016, sec. 7, eq. 14: ``log P / lp + cp``; ``log P`` when
            alpha = beta = 0). log_prob: ``log P`` in nats, if known.
        status: ``"kept"`` (in the beam), ``"finished"`` (ended with ``<eos>``), ``"stopped"``
            (cut by ``max_len``), ``"dropped"`` (a candidate of this step left out of the beam, or
            scored too low for the finished pool) or ``"pruned"`` (in the beam at the previous
            step, without an extension kept now).
        rank, score_rank: for a candidate of the step (``decoding.BeamCandidate``), its place by
            ``log P`` and by score (0 = best); ``None`` otherwise.

    Raises:
        InputTypeError: ``tokens`` is a bare str or holds non-str.
        ValueError: an unknown ``status``; ``score`` or ``log_prob`` not a number or NaN; a
            negative or non-integer rank.
    """

    tokens: Tuple[str, ...]
    score: float
    status: str = "kept"
    log_prob: Optional[float] = None
    rank: Optional[int] = None
    score_rank: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "tokens", tuple(check_tokens(self.tokens, "BeamEntry.tokens", allow_empty=True)))
        check_choice(self.status, "BeamEntry.status", tuple(BEAM_COLORS))
        check_score(self.score, "BeamEntry.score")
        check_score(self.log_prob, "BeamEntry.log_prob", allow_none=True)
        for name in ("rank", "score_rank"):
            check_int(getattr(self, name), f"BeamEntry.{name}", low=0, allow_none=True)

    @property
    def moved(self) -> Optional[str]:
        """``"promoted"`` / ``"demoted"`` where its score rank is better / worse than its ``log P`` rank
        (the coverage penalty reordered the step's candidates), else ``None``."""
        if self.rank is None or self.score_rank is None or self.rank == self.score_rank:
            return None
        return "promoted" if self.score_rank < self.rank else "demoted"


def _is_hypothesis(h) -> bool:
    ids = getattr(h, "tokens", None)
    nums = (*ids, getattr(h, "score", None), getattr(h, "log_prob", None)) if isinstance(ids, (list, tuple)) else [None]
    return all(isinstance(x, Real) and type(x) is not bool for x in nums) and all(isinstance(i, Integral) for i in ids)


def beam_frames(steps: Sequence[Any], tgt_vocab) -> List[List[BeamEntry]]:
    """What the beam held at every step of one sentence, from ``beam_search(..., record_steps=True)``.

    ``steps``: ``BeamSearchOutput.steps[i]`` (one :class:`course_lib.decoding.BeamStep` per step);
    ``tgt_vocab``: the target :class:`course_lib.data.Vocab`. Returns one list of :class:`BeamEntry`
    per step: one entry per candidate in rank order (``"kept"``, ``"finished"`` with ``<eos>``,
    ``"stopped"`` by ``max_len`` or ``"dropped"``; score ``log P / lp + cp``; ranks), or for a step
    without ``candidates`` (built by hand) the hypotheses kept and finished; then the previous
    step's hypotheses without a kept, finished or stopped extension (``"pruned"``).

    Raises:
        InputTypeError: ``steps`` empty or not a list of beam steps of hypotheses (integer
            token ids, numeric ``score`` and ``log_prob``); ``tgt_vocab`` not a Vocab.
        ValueError: a candidate whose ``parent`` is not an index into the previous step's ``kept``.
    """
    ok = isinstance(steps, (list, tuple)) and all(hasattr(st, "kept") and hasattr(st, "finished") for st in steps)
    bad = next((h for st in steps for h in (*st.kept, *st.finished) if not _is_hypothesis(h)), None) if ok else None
    require(ok and steps and bad is None, f"steps holds {bad!r:.60}, not a decoding.Hypothesis" if bad is not None else
            "steps must be the non-empty BeamStep list of one sentence (BeamSearchOutput.steps[i])", InputTypeError)
    itos = check_tokens(getattr(tgt_vocab, "itos", None), "tgt_vocab.itos (of a course_lib.data.Vocab)")

    def words(ids) -> Tuple[str, ...]:
        return tuple(itos[int(i)] if 0 <= int(i) < len(itos) else f"#{int(i)}" for i in ids)

    frames: List[List[BeamEntry]] = []
    previous: List[Any] = []
    for st in steps:
        candidates, prefixes = getattr(st, "candidates", None) or [], [list(h.tokens) for h in previous] or [[]]
        require(all(isinstance(getattr(c, "parent", None), Integral) and 0 <= c.parent < len(prefixes)
                    and isinstance(getattr(c, "token", None), Integral) for c in candidates),
                f"step {st.step}: a candidate's parent is not an index into the previous step's kept hypotheses")
        frame = [BeamEntry(words(prefixes[c.parent] + [c.token]), float(c.score), c.status, float(c.log_prob),
                           c.rank, c.score_rank) for c in candidates]
        if not candidates:
            stopped = {tuple(h.tokens) for h in st.finished if not h.finished}  # cut by max_len: now in the pool
            frame = [BeamEntry(words(h.tokens), float(h.score), "kept", float(h.log_prob)) for h in st.kept
                     if tuple(h.tokens) not in stopped]
            frame += [BeamEntry(words(h.tokens) + ((EOS,) if h.finished else ()), float(h.score),
                                "finished" if h.finished else "stopped", float(h.log_prob)) for h in st.finished]
        continued = {e.tokens[:-1] for e in frame if e.status != "dropped"}
        frame.extend(BeamEntry(words(h.tokens), float(h.score), "pruned", float(h.log_prob))
                     for h in previous if words(h.tokens) not in continued)
        frames.append(frame)
        previous = list(st.kept)
    return frames


def _check_beam_frames(frames, step: Any = None, what: str = "step") -> Tuple[bool, Optional[int]]:
    """The beam figures' door: one list of :class:`BeamEntry` per step, and ``step`` (if given) among them.
    Returns whether they are subword pieces, and the step."""
    ok = not isinstance(frames, (str, bytes)) and isinstance(frames, Sequence) and all(
        isinstance(f, (list, tuple)) and all(isinstance(e, BeamEntry) for e in f) for f in frames)
    require(ok and frames, "frames is empty (no steps)" if ok else "frames must be BeamEntry lists", InputTypeError)
    step = None if step is None else check_step(step, len(frames), what)
    return any(_has_pieces(e.tokens) for f in frames for e in f), step


def plot_beam_step(frames: Sequence[Sequence[BeamEntry]], step: int, title: Optional[str] = None,
                   max_rows: int = 24) -> Figure:
    """The beam at one step of beam search: every hypothesis with its partial translation and score.

    One horizontal bar per hypothesis, best score at the top; blue = kept in the beam,
    green = finished (ended with ``<eos>``), orange = stopped by ``max_len``, light grey =
    candidates dropped and grey = hypotheses pruned at this step (listed below the others). The
    bar is the score (a log-probability: the bars extend left of zero, shorter is better); ▲ / ▼
    beside a rank: the coverage penalty promoted / demoted that candidate. Wu et al. (2016), sec. 7.

    ``frames``: one list of :class:`BeamEntry` per step (:func:`beam_frames`); ``step``: 0-based;
    ``max_rows``: draw at most this many hypotheses (the best).

    Raises:
        ValueError: empty or malformed frames; ``max_rows`` below 1.
        StepOutOfRange: ``step`` outside the frames. InputTypeError: ``title`` not a str.
    """
    from matplotlib.patches import Patch

    pieces, step = _check_beam_frames(frames, step)
    title = check_text(title, "title")
    max_rows = check_int(max_rows, "max_rows", low=1)
    order = {"kept": 0, "finished": 0, "stopped": 0, "dropped": 1, "pruned": 2}
    entries = sorted(frames[step], key=lambda e: (order[e.status], -e.score))[:max_rows]
    counts = {k: sum(e.status == k for e in frames[step]) for k in BEAM_COLORS}
    fig = Figure(figsize=(8, 0.42 * max(len(entries), 2) + 1.3), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(entries))[::-1]
    scores = np.array([e.score for e in entries], dtype=float)
    finite = np.where(np.isfinite(scores), scores, np.nan)
    lo = float(np.nanmin(finite)) if np.isfinite(finite).any() else -1.0
    span = abs(lo) or 1.0
    ax.barh(y, np.nan_to_num(finite, nan=0.0), color=[BEAM_COLORS[e.status] for e in entries], height=0.7)
    for yi, e, v in zip(y, entries, finite):
        ax.text(0.02 * span, yi, _text(e.tokens, pieces) or "(empty)", va="center", ha="left", fontsize=9,
                color="#777777" if order[e.status] else "black")
        ax.text(v if np.isfinite(v) else 0.0, yi, f"{v:.2f} ", va="center", ha="right", fontsize=8)
    ax.set_yticks(y, [(f"{i + 1}" if not order[e.status] else "" if e.moved else "-")
                      + (MOVE_MARKS[e.moved][0] if e.moved else "") for i, e in enumerate(entries)])
    ax.set_xlim(lo - 0.25 * span, span * 1.6)
    ax.set_xticks([t for t in ax.get_xticks() if lo - 0.25 * span <= t <= 0])
    ax.legend(handles=[Patch(color=BEAM_COLORS[k], label=k) for k in BEAM_COLORS if counts[k]], loc="upper left",
              fontsize=8, frameon=False, bbox_to_anchor=(1.0, 1.0))
    ax.axvline(0, color="black", lw=0.6)
    ax.set(xlabel="score (log-probability / length penalty + coverage penalty)", ylabel="rank")
    ax.spines[["top", "right"]].set_visible(False)
    done = counts["finished"] + counts["stopped"]
    ax.set_title(title or f"step {step + 1} of {len(frames)}: {counts['kept']} kept, {done} finished, "
                          f"{counts['dropped']} dropped, {counts['pruned']} pruned", fontsize=10)
    return fig


def plot_beam_tree(frames: Sequence[Sequence[BeamEntry]], upto: Optional[int] = None,
                   title: Optional[str] = None, max_steps: Optional[int] = None) -> Figure:
    """The search tree of beam search up to step ``upto``: one column per step, one node per hypothesis.

    Each node shows the token a hypothesis added (its score below) and is joined to the
    hypothesis it extends in the previous column; a column is in score order. Blue = kept,
    green = finished with ``<eos>``, orange = stopped by ``max_len``; a hypothesis pruned at the
    next step is crossed out (grey, ✕). The candidates dropped at step ``upto`` hang faintly from
    their parents in the last column. ▲ / ▼: a candidate the coverage penalty promoted / demoted
    (better / worse by score than by ``log P``, :attr:`BeamEntry.moved`). The length penalty
    divides a step's candidates by one ``lp`` and never reorders them: it weighs hypotheses that
    finish at different steps (the green nodes' scores). Wu et al. (2016), sec. 7, eq. 14.

    ``upto`` is the last step drawn (0-based; default: all); ``max_steps`` draws only the last
    ``max_steps`` steps up to it (default: all), so long searches stay readable.

    Raises:
        ValueError: empty or malformed frames; ``max_steps`` below 1. StepOutOfRange: ``upto``
            outside the frames. InputTypeError: ``title`` not a str.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    pieces, last = _check_beam_frames(frames, upto, "upto")
    title = check_text(title, "title")
    last = len(frames) - 1 if last is None else last
    first = 0 if max_steps is None else max(0, last + 1 - check_int(max_steps, "max_steps", low=1))
    pruned_at = {e.tokens: t for t in range(first, last + 1) for e in frames[t] if e.status == "pruned"}
    columns = {t: sorted((e for e in frames[t] if e.status != "pruned" and (t == last or e.status != "dropped")),
                         key=lambda e: (e.status == "dropped", -e.score)) for t in range(first, last + 1)}
    height = max(max(len(c) for c in columns.values()), 1)
    fig = Figure(figsize=(max(4.0, 1.1 * (last - first + 1) + 3.0), max(2.5, 0.45 * height + 1.3)),
                 layout="constrained")
    ax = fig.subplots()
    nodes: Dict[Tuple[int, Tuple[str, ...]], Tuple[float, float]] = {}
    shown, grey = set(), {"color": "#555555", "ha": "center", "va": "center"}
    for t, live in columns.items():
        for r, e in enumerate(live):
            x, y = float(t), -float(r)
            nodes[(t, e.tokens)] = (x, y)
            faint, crossed = e.status == "dropped", pruned_at.get(e.tokens) == t + 1 and e.status == "kept"
            parent = nodes.get((t - 1, e.tokens[:-1])) if t > first else (first - 1.0, 0.0)
            if parent is not None:
                ax.plot([parent[0] + 0.12, x - 0.12], [parent[1], y], color="#bbbbbb" if faint else "#999999",
                        lw=0.8, ls=":" if faint else "-", zorder=1, gid="edge")
            word = _shown(e.tokens, pieces)[-1] if e.tokens else "(empty)"
            ax.text(x, y, word, fontsize=8, zorder=2, gid="node-" + ("pruned" if crossed else e.status),
                    **{**grey, "color": "#555555" if crossed or faint else "white"},
                    bbox={"boxstyle": "round,pad=0.25", "fc": BEAM_COLORS["pruned" if crossed else e.status],
                          "ec": "none", "alpha": 0.6 if faint else 0.9})
            ax.text(x, y - 0.32, f"{e.score:.2f}" + (" ✕" if crossed else ""), fontsize=6.5, **grey)
            if e.moved:
                mark, color = MOVE_MARKS[e.moved]
                ax.text(x + 0.3, y - 0.32, mark, fontsize=7, gid=e.moved, **{**grey, "color": color})
            shown |= {e.status, e.moved, "pruned" if crossed else None}
    ax.text(first - 1.0, 0.0, "<sos>" if first == 0 else "…", fontsize=8,
            bbox={"boxstyle": "round,pad=0.25", "fc": "#eeeeee", "ec": "none"}, **grey)
    labels = {"kept": "kept", "finished": "finished (<eos>)", "stopped": "stopped (max_len)",
              "dropped": "dropped at this step", "pruned": "pruned at the next step ✕"}
    handles = [Patch(color=BEAM_COLORS[k], label=v) for k, v in labels.items() if k in shown] + [
        Line2D([], [], ls="", marker="^" if k == "promoted" else "v", color=c, label=f"{k} by the coverage penalty")
        for k, (_, c) in MOVE_MARKS.items() if k in shown]
    ax.legend(handles=handles, loc="upper left", fontsize=7, frameon=False, bbox_to_anchor=(1.0, 1.0))
    ax.set(xlim=(first - 1.6, last + 0.6), ylim=(-height + 0.4, 0.6), yticks=[])
    ax.set_xticks(range(first, last + 1), [f"step {t + 1}" for t in range(first, last + 1)], fontsize=8)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.set_title(title or f"beam search tree, steps {first + 1} to {last + 1} of {len(frames)}", fontsize=10)
    return fig


def beam_step_caption(frames: Sequence[Sequence[BeamEntry]], step: int) -> str:
    """HTML caption for :func:`plot_beam_step` and :func:`plot_beam_tree`: what the beam holds at
    ``step``, the candidates the coverage penalty promoted or demoted and those dropped (pure).

    Raises:
        As :func:`plot_beam_step`.
    """
    pieces, step = _check_beam_frames(frames, step)
    frame = frames[step]
    parts = [f"<b>step {step + 1} of {len(frames)}</b> &mdash; {sum(e.status == 'kept' for e in frame)} in the beam"]
    for label, status in (("best open", ("kept",)), ("best finished here", ("finished", "stopped"))):
        entries = [e for e in frame if e.status in status]
        if entries:
            e = max(entries, key=lambda e: e.score)
            parts.append(f"{label}: <i>{html.escape(_text(e.tokens, pieces))}</i> ({e.score:.2f})")
    pruned = sum(e.status == "pruned" for e in frame)
    lines = ["; ".join(parts + ([f"{pruned} pruned"] if pruned else []))]
    for kind, (mark, _) in MOVE_MARKS.items():
        moved = [f"<i>{html.escape(_text(e.tokens, pieces))}</i> ({e.status}; rank {e.rank + 1} by log P, "
                 f"{e.score_rank + 1} by score)" for e in frame if e.moved == kind]
        lines += [f"{mark} {kind} by the coverage penalty: " + ", ".join(moved)] if moved else []
    dropped = [f"<i>…{html.escape(_text(e.tokens[-1:], pieces))}</i>" for e in frame if e.status == "dropped"]
    return "<br>".join(lines + ([f"{len(dropped)} dropped: " + ", ".join(dropped)] if dropped else []))


def format_n_best(n_best: Sequence[Tuple[Sequence[str], float]]) -> str:
    """An HTML table of the final n-best list (``(tokens, score)`` pairs, best first): rank, translation, score.

    Raises:
        ValueError: an empty list; a score that is not a number or is NaN.
        InputTypeError: tokens given as a bare str; an item that is not a ``(tokens, score)`` pair.
    """
    ok = not isinstance(n_best, (str, bytes)) and isinstance(n_best, Sequence) and len(n_best) > 0
    require(ok and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in n_best),
            f"n_best must be a non-empty list of (tokens, score) pairs, got {n_best!r:.60}", InputTypeError)
    pairs = [(check_tokens(t, f"n_best[{i}] tokens", allow_empty=True), check_score(s, f"n_best[{i}] score"))
             for i, (t, s) in enumerate(n_best)]
    pieces = any(_has_pieces(t) for t, _ in pairs)
    rows = [f"<tr><td>{i + 1}</td><td>{html.escape(_text(t, pieces))}</td><td>{s:.3f}</td></tr>"
            for i, (t, s) in enumerate(pairs)]
    return ("<table class='course-nbest'><tr><th>rank</th><th>translation</th><th>score</th></tr>"
            + "".join(rows) + "</table>")


def translator_frame(translation, choice: int = 0, detokenize=None,
                     title: Optional[str] = None) -> Tuple[str, Optional[bytes]]:
    """What the translator widget shows for one sentence: the n-best list and one heatmap (pure).

    ``translation`` is a :class:`course_lib.decoding.Translation` (its ``alternatives``: the
    runners-up of a beam search with ``n_best > 1``); ``choice`` the hypothesis to draw (0 = the
    best); ``detokenize`` ``tokens -> str`` for the table (default :func:`display_text`).

    Returns:
        ``(html, png)``: the table (rank, translation, score; the chosen row ``class='chosen'``,
        marked ▶) and the PNG of :func:`plot_attention` of the chosen hypothesis, or ``None``
        for a model without attention.

    Raises:
        ValueError: ``choice`` outside ``0 .. len(alternatives)``; attention weights that do
            not fit the tokens. InputTypeError: ``translation`` is not a Translation;
            ``detokenize`` not callable or returning something other than a str; ``title`` not a str.
    """
    title = check_text(title, "title")
    fields = ("tokens", "src_tokens", "attn_weights", "row_labels", "alternatives")
    require(all(hasattr(translation, a) for a in fields), "translation must be a decoding.Translation", InputTypeError)
    hyps = [translation] + list(translation.alternatives)
    choice = check_int(choice, "choice", low=0, high=len(hyps) - 1)
    detokenize = display_text if detokenize is None else detokenize
    require(callable(detokenize), f"detokenize must be callable tokens -> str, not {detokenize!r:.30}", InputTypeError)
    texts = [detokenize(list(h.tokens)) for h in hyps]
    bad = [t for t in texts if not isinstance(t, str)]
    require(not bad, f"detokenize must return a str, it returned {bad[:1]!r:.40}", InputTypeError)
    rows = []
    for rank, (hyp, text) in enumerate(zip(hyps, texts)):
        score = "n/a" if hyp.score is None else f"{float(hyp.score):.3f}"
        mark, cls = ("▶", " class='chosen' style='font-weight:bold;background:#eef'") if rank == choice else ("", "")
        rows.append(f"<tr{cls}><td>{mark}{rank + 1}</td><td>{html.escape(text)}</td><td>{score}</td></tr>")
    table = ("<table class='course-translations'><tr><th>#</th><th>translation</th><th>score</th></tr>"
             + "".join(rows) + "</table>")
    chosen = hyps[choice]
    if chosen.attn_weights is None:
        return table, None
    score = "" if chosen.score is None else f" (score {float(chosen.score):.3f})"
    fig = plot_attention(chosen.attn_weights, chosen.src_tokens, chosen.row_labels,
                         title=title if title is not None else f"#{choice + 1}: {texts[choice]}{score}")
    return table, figure_to_png(fig)


def plot_gnmt_placement(num_layers: int = 8) -> Figure:
    """GNMT's layout with one GPU per layer (Wu et al. 2016, fig. 1 and sec. 3.3), as a diagram.

    Encoder layer i and decoder layer i sit on GPU i; the bottom encoder layer is bidirectional
    (its two directions side by side, sec. 3.2); residual connections from the third layer up
    (sec. 3.1); the attention query comes from the bottom decoder layer and its context goes to
    every decoder layer and the softmax (eq. 4). ``num_layers``: layers per side, 2 to 16.

    Raises:
        InputTypeError / ValueError: ``num_layers`` is not an int in [2, 16].
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    num_layers = check_int(num_layers, "num_layers (layers per side)", low=2, high=16)
    fig = Figure(figsize=(11, 1.7 + 0.48 * num_layers), dpi=80)
    ax = fig.subplots()
    box_w, box_h, gap = 2.6, 0.48, 0.16

    def box(x, y, w, label, colour, size=7.5):
        ax.add_patch(FancyBboxPatch((x, y), w, box_h, boxstyle="round,pad=0.02", fc=colour, alpha=0.55, ec="black"))
        ax.text(x + w / 2, y + box_h / 2, label, ha="center", va="center", fontsize=size)

    def arrow(start, end, **kw):
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", **{"mutation_scale": 12, "lw": 1.2, **kw}))

    for side, x0 in (("encoder", 0.0), ("decoder", 5.2)):
        for i in range(num_layers):
            y = i * (box_h + gap)
            if side == "encoder" and i == 0:  # the bidirectional bottom layer: two directions in parallel
                box(x0, y, box_w / 2 - 0.05, "forward  (GPU 1)", "C0", 7)
                box(x0 + box_w / 2 + 0.05, y, box_w / 2 - 0.05, "backward  (GPU 1)", "C0", 7)
            else:
                box(x0, y, box_w, f"{side} layer {i + 1}{' + residual' if i >= 2 else ''}  (GPU {i + 1})", f"C{i % 10}")
        ax.text(x0 + box_w / 2, num_layers * (box_h + gap) + 0.1, side, ha="center", fontsize=11, weight="bold")
    top_y = (num_layers - 1) * (box_h + gap) + box_h / 2
    ax.add_patch(FancyBboxPatch((3.0, 0.9), 1.8, 0.7, boxstyle="round,pad=0.05", fc="white", ec="black"))
    ax.text(3.9, 1.25, "attention\n(additive)", ha="center", va="center", fontsize=8)
    arrow((2.6, top_y), (3.4, 1.6))
    arrow((5.2, box_h / 2), (4.8, 1.0))
    for x, y, label in ((3.25, 1.9 + 0.2 * num_layers, "encoder outputs\n(top layer)"),
                        (4.35, 0.15, "query: bottom decoder\nlayer, previous step")):
        ax.text(x, y, label, fontsize=7, ha="center")
    for i in range(num_layers):  # the context goes to every decoder layer
        arrow((4.8, 1.45), (5.2, i * (box_h + gap) + box_h / 2), mutation_scale=8, lw=0.6, color="grey", alpha=0.8)
    ax.text(4.5, 2.3 + 0.2 * num_layers, "context $a_i$ to\nevery decoder layer\nand the softmax", fontsize=7,
            color="dimgrey", ha="center")
    for x, y, label in ((6.5, -0.55, "target tokens in"), (1.3, -0.55, "source tokens in"),
                        (6.5, num_layers * (box_h + gap) + 0.45, "softmax over wordpieces")):
        ax.text(x, y, label, ha="center", fontsize=8)
    ax.set(xlim=(-0.3, 8.1), ylim=(-0.8, num_layers * (box_h + gap) + 0.8),
           title="GNMT's layout (Wu et al. 2016, fig. 1, sec. 3.3): layer i of each side on GPU i")
    ax.axis("off")
    return fig
