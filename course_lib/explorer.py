"""Attention by hand (lesson 02): the four steps and the score-function comparison, as pure functions.

Everything here is testable headless (no widgets, no pyplot state):
:func:`attention_steps` runs the four steps of attention (score, softmax, weight, sum) for
one decoder state and returns NumPy arrays; :func:`plot_attention_steps`,
:func:`plot_explorer` and :func:`plot_score_functions` draw them on a new
:class:`matplotlib.figure.Figure`; :func:`format_steps` and :func:`describe_step` give the
numbers and the explanation as text. The widgets built on them,
:func:`course_lib.widgets.score_function_explorer` and
:func:`course_lib.widgets.four_steps_animation`, live in :mod:`course_lib.widgets`.

The score functions are those of Luong et al. (2015), sec. 3.1, eq. 8 (dot, general,
concat) and the location-based score; additive is Bahdanau et al. (2015), appendix A.1.2;
scaled dot is Vaswani et al. (2017), sec. 3.2.1, eq. 1.

The figures are built on ``matplotlib.figure.Figure`` directly (not ``pyplot``), so
nothing registers them globally: there is nothing to close and nothing leaks, however
often a slider fires.
"""

from __future__ import annotations

import copy
from typing import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from .attention import SCORE_FUNCTIONS, Attention, make_attention
from .viz import MAX_PIXELS, InputTypeError, check_int, check_real
from .viz import figure_to_png  # noqa: F401  (re-exported for old callers)

__all__ = [
    "EXAMPLE_DECODER_STATE",
    "EXAMPLE_ENCODER_STATES",
    "EXPLORER_SCORE_NAMES",
    "STEP_NAMES",
    "example_attention",
    "attention_steps",
    "compare_score_functions",
    "format_steps",
    "describe_step",
    "plot_attention_steps",
    "plot_explorer",
    "plot_score_functions",
]

#: The course's worked example: one decoder state ...
EXAMPLE_DECODER_STATE: tuple[float, ...] = (10.0, 5.0, 10.0)
#: ... and four encoder states. Dot-product scores: 15, 60, 15, 35; context ~ [5, 0, 1].
EXAMPLE_ENCODER_STATES: tuple[tuple[float, ...], ...] = (
    (0.0, 1.0, 1.0),
    (5.0, 0.0, 1.0),
    (1.0, 1.0, 0.0),
    (0.0, 5.0, 1.0),
)
#: The score functions the explorer offers (``concat`` is the same module as ``additive``).
EXPLORER_SCORE_NAMES: tuple[str, ...] = tuple(n for n in SCORE_FUNCTIONS if n != "concat")
#: The four steps, in order; ``upto_step`` counts them from 1.
STEP_NAMES: tuple[str, ...] = ("score", "softmax", "weight", "sum")

_COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


def example_attention(
    score_name: str, dim: int, num_positions: int, temperature: float = 1.0, seed: int = 0
) -> Attention:
    """An attention module for the explorer: trainable weights drawn reproducibly.

    The modules with parameters (general, additive, location, query_key) get weights
    drawn under ``seed`` without touching the global random state (the generator is
    forked), so the explorer shows the same numbers every time.

    Args:
        score_name: a key of :data:`course_lib.attention.SCORE_FUNCTIONS`.
        dim: size of the decoder and encoder states (``Hq = Hk = A = dim``).
        num_positions: ``S``; used as ``max_src_len`` of location attention.
        temperature: divide the scores by this before the softmax.
        seed: seed for the weights.

    Raises:
        ValueError: unknown ``score_name`` (from :func:`make_attention`); ``dim`` or
            ``num_positions`` below 1; ``temperature`` not positive and finite.
        InputTypeError: a size or the seed is not an integer.
    """
    if not isinstance(score_name, str):
        raise InputTypeError(f"score_name must be a str, one of {list(SCORE_FUNCTIONS)}, got {score_name!r}")
    dim = check_int(dim, "dim", low=1)
    num_positions = check_int(num_positions, "num_positions", low=1)
    temperature = check_real(temperature, "temperature", positive=True)
    seed = check_int(seed, "seed")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = make_attention(
            score_name, dim, dim, attn_dim=dim, max_src_len=num_positions, temperature=temperature
        )
    return module.eval()


def attention_steps(
    decoder_state: Sequence[float],
    encoder_states: Sequence[Sequence[float]] = EXAMPLE_ENCODER_STATES,
    score_name: str = "dot",
    temperature: float = 1.0,
    pad_mask: Sequence[bool] | None = None,
    module: Attention | None = None,
) -> dict:
    """Run the four steps of attention for one decoder state and return every stage.

    Args:
        decoder_state: ``h_t``, ``H`` numbers.
        encoder_states: ``h_1 .. h_S``, ``S`` vectors of ``H`` numbers (keys and values).
        score_name: score function (ignored when ``module`` is given).
        temperature: divide the scores by this before the softmax.
        pad_mask: ``S`` bools, True where padding (gets weight exactly 0).
        module: an attention module to use instead of :func:`example_attention`.

    Returns:
        A dict of float64 NumPy arrays and the settings: ``decoder_state`` ``[H]``,
        ``encoder_states`` ``[S, H]``, ``scores`` ``[S]`` (after the temperature),
        ``weights`` ``[S]`` (softmax, step 2), ``weighted`` ``[S, H]`` (each encoder state
        times its weight, step 3), ``context`` ``[H]`` (their sum, step 4), ``pad_mask``
        ``[S]`` bool, ``score_name``, ``temperature``.

    Raises:
        ValueError: shapes that do not fit (``decoder_state`` not ``[H]``, ``encoder_states``
            not ``[S, H]`` with the same ``H``, no encoder states, a ``pad_mask`` of the
            wrong length), NaN or infinite numbers, a temperature that is not positive, an
            unknown score function, or every position masked.
        InputTypeError: a str (or other non-numbers) where numbers are expected; a
            ``pad_mask`` that is not a list of bools (True/False, 0/1).
    """
    h_t = _as_float_array(decoder_state, "decoder_state")
    enc = _as_float_array(encoder_states, "encoder_states")
    if h_t.dim() != 1 or enc.dim() != 2 or enc.size(1) != h_t.size(0) or h_t.numel() == 0:
        raise ValueError(
            f"decoder_state must be [H] and encoder_states [S, H] with the same H >= 1; "
            f"got {tuple(h_t.shape)} and {tuple(enc.shape)}"
        )
    S, H = enc.shape
    if S == 0:
        raise ValueError("encoder_states is empty: attention needs at least one encoder state")
    if module is None:
        if not isinstance(score_name, str):
            raise InputTypeError(f"score_name must be a str, got {score_name!r}")
        temperature = check_real(temperature, "temperature", positive=True)
    elif not isinstance(module, Attention):
        raise InputTypeError(f"module must be a course_lib.attention.Attention, got {type(module).__name__}")
    if pad_mask is None:
        mask = torch.zeros(S, dtype=torch.bool)
    else:
        if isinstance(pad_mask, (str, bytes)):
            raise InputTypeError("pad_mask must be a list of bools (True at padding), got a str")
        mask = torch.as_tensor(_as_bool_mask(pad_mask))
    if mask.shape != (S,):
        raise ValueError(f"pad_mask must have {S} entries (one per encoder state), got {tuple(mask.shape)}")
    if module is None:
        module = example_attention(score_name, H, S, temperature=temperature)
    else:
        score_name = _name_of(module, score_name)
    module = copy.deepcopy(module).double()  # never change the caller's module
    with torch.no_grad():
        query, keys = h_t[None], enc[None]  # [1, H], [1, S, H]
        scores = module.score(query, module.project_keys(keys))  # [1, S]
        context, weights = module(query, keys, mask=mask[None])
    weights_np = weights[0].numpy()
    enc_np = enc.numpy()
    return {
        "decoder_state": h_t.numpy(),
        "encoder_states": enc_np,
        "scores": scores[0].numpy(),
        "weights": weights_np,
        "weighted": weights_np[:, None] * enc_np,
        "context": context[0].numpy(),
        "pad_mask": mask.numpy(),
        "score_name": score_name,
        "temperature": float(module.temperature),
    }


def _as_float_array(values, name: str) -> torch.Tensor:
    if isinstance(values, (str, bytes)):
        raise InputTypeError(f"{name} must hold numbers, got the str {values!r}")
    try:
        arr = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputTypeError(f"{name} must be numbers of one consistent shape: {err}") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return torch.as_tensor(arr)


def _as_bool_mask(pad_mask) -> np.ndarray:
    """``pad_mask`` as a bool array; only bools (or 0/1) are accepted, never truthy strings or 0.5."""
    if hasattr(pad_mask, "detach"):
        pad_mask = pad_mask.detach().cpu().numpy()
    try:
        arr = np.asarray(pad_mask if isinstance(pad_mask, np.ndarray) else list(pad_mask))
    except (TypeError, ValueError):
        raise InputTypeError(f"pad_mask must be a list of bools (True at padding), got {type(pad_mask).__name__}") from None
    if arr.size and arr.dtype != bool:
        ok = arr.dtype.kind in "iuf" and np.isin(arr, (0, 1)).all()
        if not ok:
            raise InputTypeError(f"pad_mask must hold bools (True at padding) or 0/1, got {arr.tolist()!r:.60}")
    return arr.astype(bool)


def _name_of(module: Attention, default: str) -> str:
    for name, cls in SCORE_FUNCTIONS.items():
        if type(module) is cls and name == default:
            return name
    for name, cls in SCORE_FUNCTIONS.items():
        if type(module) is cls:
            return name
    return default


def compare_score_functions(
    decoder_state: Sequence[float] = EXAMPLE_DECODER_STATE,
    encoder_states: Sequence[Sequence[float]] = EXAMPLE_ENCODER_STATES,
    names: Sequence[str] = EXPLORER_SCORE_NAMES,
    temperature: float = 1.0,
) -> dict[str, dict]:
    """:func:`attention_steps` for several score functions on the same inputs.

    Returns:
        ``{name: steps}`` in the order of ``names``.

    Raises:
        ValueError: ``names`` is empty or names one function twice, or as
            :func:`attention_steps`. InputTypeError: a bare str for ``names`` (give a list,
            e.g. ``["dot"]``), or ``names`` not a list.
    """
    if isinstance(names, str):
        raise InputTypeError(f"names must be a list of score-function names, got the str {names!r}; "
                             f"use [{names!r}]")
    try:
        names = list(names)
    except TypeError:
        raise InputTypeError(f"names must be a list of score-function names, got {type(names).__name__}") from None
    if not names:
        raise ValueError("names is empty: give at least one score function")
    for n in names:
        if not isinstance(n, str):
            raise InputTypeError(f"names must hold str score-function names, got {n!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"names lists a score function twice ({names}); each gets one entry in the result")
    return {n: attention_steps(decoder_state, encoder_states, n, temperature) for n in names}


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.3f}".rstrip("0").rstrip(".")
    return f"{x:.2e}"


def format_steps(steps: dict) -> str:
    """The numbers of :func:`attention_steps` as a few aligned lines of text.

    Example (the course's example, dot product)::

        h_t     = [10, 5, 10]   score = dot, temperature = 1
        scores  = [15, 60, 15, 35]
        weights = [2.86e-20, 1, 2.86e-20, 1.39e-11]
        context = [5, 6.94e-11, 1]

    Raises:
        ValueError: ``steps`` is not a dict from :func:`attention_steps` (missing keys, arrays
            whose shapes do not fit together, NaN). InputTypeError: not a dict, or non-numbers in it.
    """
    _check_steps(steps)
    def vec(a):
        return "[" + ", ".join(_fmt(float(x)) for x in a) + "]"

    return "\n".join(
        [
            f"h_t     = {vec(steps['decoder_state'])}   score = {steps['score_name']}, "
            f"temperature = {_fmt(steps['temperature'])}",
            f"scores  = {vec(steps['scores'])}",
            f"weights = {vec(steps['weights'])}",
            f"context = {vec(steps['context'])}",
        ]
    )


_STEPS_KEYS = ("decoder_state", "encoder_states", "scores", "weights", "weighted", "context", "pad_mask",
               "score_name", "temperature")


def _check_figure_args(figsize, dpi) -> None:
    if figsize is not None:
        if isinstance(figsize, (str, bytes)) or not isinstance(figsize, (tuple, list)) or len(figsize) != 2:
            raise ValueError(f"figsize must be (width, height) in inches, got {figsize!r}")
        for v in figsize:
            check_real(v, "figsize", positive=True)
    dpi = check_real(dpi, "dpi", positive=True)
    if figsize is not None and max(figsize) * dpi > MAX_PIXELS:
        raise ValueError(f"figsize {tuple(figsize)} at dpi {dpi:g} would be more than {MAX_PIXELS} pixels wide or "
                         "tall; lower figsize or dpi")


def _check_steps(steps) -> None:
    if not isinstance(steps, dict):
        raise InputTypeError(f"steps must be the dict returned by attention_steps(), got {type(steps).__name__}")
    missing = [k for k in _STEPS_KEYS if k not in steps]
    if missing:
        raise ValueError(f"steps lacks {missing}: pass the dict returned by attention_steps()")
    shapes = {}
    for key in ("decoder_state", "encoder_states", "scores", "weights", "weighted", "context", "pad_mask"):
        value = steps[key]
        if isinstance(value, (str, bytes)):
            raise InputTypeError(f"steps[{key!r}] must be an array of numbers, got a str: pass the dict returned by "
                                 "attention_steps()")
        try:
            arr = np.asarray(value, dtype=bool if key == "pad_mask" else np.float64)
        except (TypeError, ValueError):
            raise InputTypeError(f"steps[{key!r}] must be an array of numbers, got {type(value).__name__}: pass the "
                                 "dict returned by attention_steps()") from None
        if key != "pad_mask" and not np.isfinite(arr).all():
            raise ValueError(f"steps[{key!r}] holds NaN or infinite values")
        shapes[key] = arr.shape
    S, H = shapes["encoder_states"] if len(shapes["encoder_states"]) == 2 else (-1, -1)
    expected = {"decoder_state": (H,), "encoder_states": (S, H), "scores": (S,), "weights": (S,), "weighted": (S, H),
                "context": (H,), "pad_mask": (S,)}
    wrong = [f"{k} {shapes[k]} (expected {v})" for k, v in expected.items() if shapes[k] != v]
    if S < 1 or H < 1 or wrong:
        raise ValueError(f"steps holds arrays of shapes that do not fit together: {', '.join(wrong) or 'no states'}; "
                         "pass the dict returned by attention_steps()")
    if not isinstance(steps["score_name"], str):
        raise InputTypeError(f"steps['score_name'] must be a str, got {type(steps['score_name']).__name__}")
    check_real(steps["temperature"], "steps['temperature']", positive=True)


def describe_step(steps: dict, upto_step: int) -> str:
    """One or two sentences that explain step ``upto_step`` (0 = the inputs, 1..4 = the steps) with its numbers.

    Raises:
        ValueError: ``upto_step`` outside 0..4; ``steps`` not from :func:`attention_steps`.
    """
    _check_steps(steps)
    upto_step = check_int(upto_step, "upto_step", low=0, high=4)
    scores, weights, context = steps["scores"], steps["weights"], steps["context"]
    best = int(np.argmax(weights))
    if upto_step <= 0:
        return "The inputs: one decoder state h_t and the encoder states h_1 .. h_S. Press Play."
    if upto_step == 1:
        return (
            f"Step 1, score: compare h_t with every encoder state using the {steps['score_name']} score. "
            f"Scores: {', '.join(_fmt(float(s)) for s in scores)}."
        )
    if upto_step == 2:
        return (
            "Step 2, softmax: exponentiate and normalise, so the weights are positive and sum to 1. "
            f"h_{best + 1} gets {_fmt(float(weights[best]))} of the attention."
        )
    if upto_step == 3:
        return "Step 3, weight: multiply every encoder state by its weight (the alignment vectors)."
    return (
        "Step 4, sum: add the weighted vectors up. The context vector is "
        f"[{', '.join(_fmt(float(c)) for c in context)}]."
    )


def _compact(x: float) -> str:
    return "~0" if abs(x) < 5e-4 else f"{x:.3g}"


def _bars(ax, values, title, colors, labels, annotate=True, ylim=None, compact=False):
    x = np.arange(len(values))
    ax.bar(x, values, color=colors, edgecolor="black", linewidth=0.5)
    ax.set_xticks(x, labels)
    ax.set_title(title, fontsize=10)
    ax.axhline(0, color="black", linewidth=0.6)
    if ylim is not None:
        ax.set_ylim(*ylim)
    else:
        lo, hi = min(0.0, float(np.min(values))), max(0.0, float(np.max(values)))
        pad = 0.18 * (hi - lo or 1.0)
        ax.set_ylim(lo - (pad if lo < 0 else 0), hi + pad)
    if annotate:
        for xi, v in zip(x, values):
            ax.annotate((_compact if compact else _fmt)(float(v)), (xi, v), ha="center", va="bottom" if v >= 0 else "top",
                        fontsize=8, xytext=(0, 2 if v >= 0 else -2), textcoords="offset points")
    ax.spines[["top", "right"]].set_visible(False)


def _pending(ax, k):
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_color("#cccccc")
        side.set_linestyle("--")
    ax.text(0.5, 0.5, f"step {k}: {STEP_NAMES[k - 1]}\n(not yet)", ha="center", va="center",
            color="#999999", fontsize=10, transform=ax.transAxes)


def _position_labels(steps):
    return [f"h{j + 1}" + (" (pad)" if m else "") for j, m in enumerate(steps["pad_mask"])]


def _component_labels(steps):
    # components count from 0, as in the code (``h_t[0]``); positions keep the papers' h1 .. hS
    return [f"[{i}]" for i in range(len(steps["decoder_state"]))]


def _suptitle(fig: Figure, steps: dict) -> None:
    fig.suptitle(
        f"h_t = [{', '.join(_fmt(float(x)) for x in steps['decoder_state'])}]   "
        f"score: {steps['score_name']}   temperature: {_fmt(steps['temperature'])}",
        fontsize=10,
    )


def plot_attention_steps(steps: dict, upto_step: int = 4, figsize=(11.0, 3.0), dpi: int = 90) -> Figure:
    """Draw the four steps of :func:`attention_steps` side by side, up to ``upto_step``.

    Panels: (1) scores per source position, (2) softmax weights, (3) the weighted
    encoder states as an annotated grid ``[S, H]``, (4) the context vector. Each source
    position keeps its colour in every panel. Panels after ``upto_step`` are shown empty.

    Args:
        steps: the dict returned by :func:`attention_steps`.
        upto_step: 0..4, how many steps to draw.

    Returns:
        A new :class:`~matplotlib.figure.Figure` (not registered with pyplot).

    Raises:
        ValueError: ``upto_step`` outside 0..4; ``steps`` not from :func:`attention_steps`;
            ``figsize`` or ``dpi`` not positive, or a picture more than :data:`~course_lib.viz.MAX_PIXELS` wide or tall.
    """
    _check_steps(steps)
    upto_step = check_int(upto_step, "upto_step", low=0, high=4)
    _check_figure_args(figsize, dpi)
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 1, 1.15, 0.9]})
    S = len(steps["scores"])
    colors = [_COLORS[j % len(_COLORS)] for j in range(S)]
    pos = _position_labels(steps)
    for k, ax in enumerate(axes, start=1):
        if k > upto_step:
            _pending(ax, k)
    if upto_step >= 1:
        _bars(axes[0], steps["scores"], "1. score(h_t, h_s)", colors, pos)
    if upto_step >= 2:
        _bars(axes[1], steps["weights"], "2. softmax -> weights", colors, pos, ylim=(0, 1.15))
    if upto_step >= 3:
        ax = axes[2]
        w = steps["weighted"]
        lim = float(np.max(np.abs(w))) or 1.0
        ax.imshow(w, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_yticks(range(S), [f"{p} x {_fmt(float(a))}" for p, a in zip(pos, steps["weights"])], fontsize=8)
        for label, c in zip(ax.get_yticklabels(), colors):
            label.set_color(c)
        ax.set_xticks(range(w.shape[1]), _component_labels(steps))
        for (j, i), v in np.ndenumerate(w):
            ax.text(i, j, _fmt(float(v)), ha="center", va="center", fontsize=8,
                    color="white" if abs(v) > 0.6 * lim else "black")
        ax.set_title("3. weight: a_s * h_s", fontsize=10)
    if upto_step >= 4:
        _bars(axes[3], steps["context"], "4. sum -> context", "#777777", _component_labels(steps))
    _suptitle(fig, steps)
    return fig


def plot_explorer(steps: dict, figsize=(10.0, 3.0), dpi: int = 90) -> Figure:
    """Bar charts of the scores, the weights and the context vector of one ``steps`` dict.

    Returns:
        A new :class:`~matplotlib.figure.Figure` with three panels.

    Raises:
        ValueError: ``steps`` is not a dict from :func:`attention_steps`; ``figsize`` or
            ``dpi`` not positive, or a picture more than :data:`~course_lib.viz.MAX_PIXELS` wide or tall.
    """
    _check_steps(steps)
    _check_figure_args(figsize, dpi)
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    axes = fig.subplots(1, 3)
    S = len(steps["scores"])
    colors = [_COLORS[j % len(_COLORS)] for j in range(S)]
    pos = _position_labels(steps)
    _bars(axes[0], steps["scores"], "scores", colors, pos)
    _bars(axes[1], steps["weights"], "weights (softmax)", colors, pos, ylim=(0, 1.15))
    _bars(axes[2], steps["context"], "context vector", "#777777", _component_labels(steps))
    _suptitle(fig, steps)
    return fig


def plot_score_functions(results: dict[str, dict], figsize=None, dpi: int = 90) -> Figure:
    """The weights of several score functions on the same inputs, one panel each.

    Args:
        results: ``{name: steps}`` from :func:`compare_score_functions`.

    Returns:
        A new :class:`~matplotlib.figure.Figure`.

    Raises:
        ValueError: ``results`` is empty or holds something other than ``steps`` dicts;
            ``figsize`` or ``dpi`` not positive, or a picture more than :data:`~course_lib.viz.MAX_PIXELS` wide or tall.
    """
    if not isinstance(results, dict):
        raise InputTypeError(f"results must be the dict from compare_score_functions(), got {type(results).__name__}")
    if not results:
        raise ValueError("results is empty: compare at least one score function")
    for value in results.values():
        _check_steps(value)
    _check_figure_args(figsize, dpi)
    n = len(results)
    fig = Figure(figsize=figsize or (2.2 * n, 2.6), dpi=dpi, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n, sharey=True))
    for ax, (name, steps) in zip(axes, results.items()):
        S = len(steps["weights"])
        _bars(ax, steps["weights"], name, [_COLORS[j % len(_COLORS)] for j in range(S)],
              _position_labels(steps), ylim=(0, 1.15), compact=True)
    axes[0].set_ylabel("attention weight")
    return fig


_MOVED_TO_WIDGETS = ("score_function_explorer", "four_steps_animation")


def __getattr__(name: str):
    """The explorer's widgets moved to :mod:`course_lib.widgets`; old imports keep working."""
    if name in _MOVED_TO_WIDGETS:
        import warnings

        from . import widgets

        warnings.warn(f"course_lib.explorer.{name} moved to course_lib.widgets.{name}", DeprecationWarning,
                      stacklevel=2)
        return getattr(widgets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
