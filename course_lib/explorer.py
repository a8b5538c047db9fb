"""Attention by hand (lesson 02): the four steps and the score-function comparison, as pure functions.

:func:`attention_steps` runs the four steps of attention (score, softmax, weight, sum) for one
decoder state and returns NumPy arrays; :func:`plot_attention_steps`, :func:`plot_explorer`
and :func:`plot_score_functions` draw them on a new :class:`matplotlib.figure.Figure` (not
``pyplot``: nothing is registered, nothing leaks however often a slider fires);
:func:`format_steps` and :func:`describe_step` give the numbers and the explanation as text.
The lesson's widgets on top of them live in :mod:`course_lib.widgets`.

Score functions: dot, general and concat are the content-based scores of Luong et al. (2015),
sec. 3.1 (displayed after their eq. (7), without a number); location is their eq. (8);
additive is Bahdanau et al. (2015), appendix A.1.2 (Luong's concat); scaled dot and
query/key are those of Vaswani et al. (2017).
"""

from __future__ import annotations

import copy
from numbers import Real
from typing import Optional, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from .attention import SCORE_FUNCTIONS, Attention, make_attention
from .checks import InputTypeError, check_instance, check_int, check_real
from .viz import MAX_PIXELS, as_array, check_mapping, check_tokens, require
from .viz import figure_to_png  # noqa: F401  (re-exported for old callers)

__all__ = ["EXAMPLE_DECODER_STATE", "EXAMPLE_ENCODER_STATES", "EXPLORER_SCORE_NAMES", "STEP_NAMES", "example_attention",
           "attention_steps", "compare_score_functions", "format_steps", "describe_step", "plot_attention_steps",
           "plot_explorer", "plot_score_functions"]

#: The course's worked example: one decoder state ...
EXAMPLE_DECODER_STATE: tuple[float, ...] = (10.0, 5.0, 10.0)
#: ... and four encoder states. Dot-product scores: 15, 60, 15, 35; context ~ [5, 0, 1].
EXAMPLE_ENCODER_STATES: tuple[tuple[float, ...], ...] = ((0.0, 1.0, 1.0), (5.0, 0.0, 1.0), (1.0, 1.0, 0.0),
                                                          (0.0, 5.0, 1.0))
#: The score functions the explorer offers (``concat`` is the same module as ``additive``).
EXPLORER_SCORE_NAMES: tuple[str, ...] = tuple(n for n in SCORE_FUNCTIONS if n != "concat")
#: The four steps, in order; ``upto_step`` counts them from 1.
STEP_NAMES: tuple[str, ...] = ("score", "softmax", "weight", "sum")

_COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


def example_attention(score_name: str, dim: int, num_positions: int, temperature: float = 1.0,
                      seed: int = 0) -> Attention:
    """An attention module for the explorer, its trainable weights drawn under ``seed``.

    The weights (general, additive, location, query_key) are drawn in a forked generator: the
    global random state is untouched and the explorer shows the same numbers every time.

    Args:
        score_name: a key of :data:`course_lib.attention.SCORE_FUNCTIONS`.
        dim: size of the decoder and encoder states (``Hq = Hk = A = dim``).
        num_positions: ``S``; the ``max_src_len`` of location attention.
        temperature: divide the scores by this before the softmax.

    Raises:
        ValueError: unknown ``score_name``, ``temperature`` not positive (both from
            :func:`~course_lib.attention.make_attention`); ``dim`` or ``num_positions`` below 1.
        InputTypeError: ``score_name`` not a str; a size or the seed not an integer.
    """
    dim, num_positions = check_int(dim, "dim", low=1), check_int(num_positions, "num_positions", low=1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(check_int(seed, "seed"))
        module = make_attention(score_name, dim, dim, attn_dim=dim, max_src_len=num_positions, temperature=temperature)
    return module.eval()


def attention_steps(decoder_state: Sequence[float], encoder_states: Sequence[Sequence[float]] = EXAMPLE_ENCODER_STATES,
                    score_name: str = "dot", temperature: float = 1.0, pad_mask: Sequence[bool] | None = None,
                    module: Attention | None = None) -> dict:
    """Run the four steps of attention for one decoder state and return every stage.

    Args:
        decoder_state: ``h_t``, ``H`` numbers.
        encoder_states: ``h_1 .. h_S``, ``S`` vectors of ``H`` numbers (keys and values).
        score_name: score function (ignored when ``module`` is given).
        temperature: divide the scores by this before the softmax (ignored with ``module``).
        pad_mask: ``S`` bools (or 0/1), True where padding (gets weight exactly 0).
        module: an attention module to use instead of :func:`example_attention`.

    Returns:
        A dict of float64 NumPy arrays and the settings: ``decoder_state`` ``[H]``,
        ``encoder_states`` ``[S, H]``, ``scores`` ``[S]`` (after the temperature),
        ``weights`` ``[S]`` (softmax, step 2), ``weighted`` ``[S, H]`` (each encoder state
        times its weight, step 3), ``context`` ``[H]`` (their sum, step 4), ``pad_mask``
        ``[S]`` bool, ``score_name``, ``temperature``.

    Raises:
        ValueError: shapes that do not fit (``[H]``, ``[S, H]``, ``S, H >= 1``, ``S`` mask entries),
            NaN or infinite numbers, a bad temperature or score function, every position masked.
        InputTypeError: non-numbers (a str); a non-bool ``pad_mask``; ``module`` not an ``Attention``.
    """
    h_t = as_array(decoder_state, "decoder_state", allow_empty=True)
    enc = as_array(encoder_states, "encoder_states", allow_empty=True)
    require(h_t.ndim == 1 and enc.ndim == 2 and enc.shape[1] == h_t.size and enc.size, f"decoder_state must be [H] "
            f"and encoder_states [S, H] (not empty) with the same H >= 1; got {h_t.shape} and {enc.shape}")
    S, H = enc.shape
    mask = np.zeros(S, dtype=bool) if pad_mask is None else _pad_mask(pad_mask, S)
    if module is None:
        module = example_attention(score_name, H, S, temperature=temperature)
    check_instance(module, Attention, "module", "a course_lib.attention.Attention")
    score_name = _name_of(module, score_name)
    module = copy.deepcopy(module).double()  # never change the caller's module
    with torch.no_grad():
        query, keys, mask_t = torch.from_numpy(h_t)[None], torch.from_numpy(enc)[None], torch.from_numpy(mask)[None]
        scores = module.score(query, module.project_keys(keys))[0].numpy()  # [S]
        context, weights = (x[0].numpy() for x in module(query, keys, mask=mask_t))
    return {"decoder_state": h_t, "encoder_states": enc, "scores": scores, "weights": weights,
            "weighted": weights[:, None] * enc, "context": context, "pad_mask": mask, "score_name": score_name,
            "temperature": float(module.temperature)}


def _pad_mask(pad_mask, S: int) -> np.ndarray:
    """``pad_mask`` as ``S`` bools; only bools or 0/1 are accepted, never truthy strings or 0.5."""
    if hasattr(pad_mask, "detach"):
        pad_mask = pad_mask.detach().cpu().numpy()
    arr = np.asarray(pad_mask if isinstance(pad_mask, (list, tuple, np.ndarray)) else [pad_mask], dtype=object)
    ok = all(isinstance(v, (bool, np.bool_)) or (isinstance(v, Real) and v in (0, 1)) for v in arr.flat)
    require(ok and arr.shape == (S,), f"pad_mask must be {S} bools (True at padding), not {pad_mask!r:.40}",
            ValueError if ok else InputTypeError)
    return arr.astype(bool)


def _name_of(module: Attention, default: str) -> str:
    names = [name for name, cls in SCORE_FUNCTIONS.items() if type(module) is cls]
    return default if default in names or not names else names[0]


def compare_score_functions(decoder_state: Sequence[float] = EXAMPLE_DECODER_STATE,
                            encoder_states: Sequence[Sequence[float]] = EXAMPLE_ENCODER_STATES,
                            names: Sequence[str] = EXPLORER_SCORE_NAMES, temperature: float = 1.0) -> dict[str, dict]:
    """:func:`attention_steps` for several score functions on the same inputs: ``{name: steps}`` in order.

    Raises:
        ValueError: ``names`` empty or naming a function twice, or as :func:`attention_steps`.
        InputTypeError: ``names`` a bare str (give a list, e.g. ``["dot"]``) or not a list.
    """
    names = check_tokens(names, "names")
    require(len(set(names)) == len(names), f"names lists a score function twice ({names}): name each once")
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
        InputTypeError: ``steps`` is not a dict from :func:`attention_steps` (missing keys,
            shapes that do not fit together, NaN).
    """
    _check_steps(steps)

    def vec(a):
        return "[" + ", ".join(_fmt(float(x)) for x in a) + "]"

    return (f"h_t     = {vec(steps['decoder_state'])}   score = {steps['score_name']}, "
            f"temperature = {_fmt(steps['temperature'])}\nscores  = {vec(steps['scores'])}\n"
            f"weights = {vec(steps['weights'])}\ncontext = {vec(steps['context'])}")


#: The arrays of a steps dict and their shapes (S source positions, H state size).
_STEP_SHAPES = {"decoder_state": "H", "encoder_states": "SH", "scores": "S", "weights": "S", "weighted": "SH",
                "context": "H", "pad_mask": "S"}


def _check_steps(*steps: dict, figure: Optional[tuple] = None) -> None:
    """The door of the texts and figures: each of ``steps`` a dict from :func:`attention_steps`; for a
    figure, ``figure=(figsize, dpi)``: ``dpi`` > 0, ``figsize`` None or (width, height) in inches."""
    for one in steps:
        try:
            arrays = {k: np.asarray(one[k], dtype=bool if k == "pad_mask" else float) for k in _STEP_SHAPES}
            size = {"S": arrays["scores"].size, "H": arrays["context"].size}
            ok = all(a.shape == tuple(size[d] for d in _STEP_SHAPES[k]) and np.isfinite(a).all() for k, a in arrays.items())
            ok = ok and min(size.values()) > 0 and isinstance(one["score_name"], str)
            ok = ok and 0 < one["temperature"] < np.inf
        except (KeyError, TypeError, ValueError):
            ok = False
        require(ok, "steps must be attention_steps()'s dict: finite arrays, a temperature > 0", InputTypeError)
    if figure is None:
        return
    figsize, dpi = figure[0], check_real(figure[1], "dpi", low=0.0, low_open=True)
    if figsize is not None:
        require(isinstance(figsize, (tuple, list)) and len(figsize) == 2, "figsize must be (width, height) in inches")
        width, height = (check_real(v, "figsize", low=0.0, low_open=True) for v in figsize)
        require(max(width, height) * dpi <= MAX_PIXELS, f"more than {MAX_PIXELS} pixels a side: lower dpi or figsize")


def describe_step(steps: dict, upto_step: int) -> str:
    """One or two sentences that explain step ``upto_step`` (0 = the inputs, 1..4 = the steps) with its numbers.

    Raises:
        ValueError: ``upto_step`` outside 0..4; ``steps`` not from :func:`attention_steps`.
    """
    _check_steps(steps)
    upto_step = check_int(upto_step, "upto_step", low=0, high=4)
    weights = steps["weights"]
    best = int(np.argmax(weights))
    return (
        "The inputs: one decoder state h_t and the encoder states h_1 .. h_S. Press Play.",
        f"Step 1, score: compare h_t with every encoder state using the {steps['score_name']} score. "
        f"Scores: {', '.join(_fmt(float(s)) for s in steps['scores'])}.",
        "Step 2, softmax: exponentiate and normalise, so the weights are positive and sum to 1. "
        f"h_{best + 1} gets {_fmt(float(weights[best]))} of the attention.",
        "Step 3, weight: multiply every encoder state by its weight (the alignment vectors).",
        f"Step 4, sum: add the weighted vectors up. The context vector is "
        f"[{', '.join(_fmt(float(c)) for c in steps['context'])}].",
    )[upto_step]


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
            text = ("~0" if abs(v) < 5e-4 else f"{v:.3g}") if compact else _fmt(float(v))
            ax.annotate(text, (xi, v), ha="center", va="bottom" if v >= 0 else "top", fontsize=8,
                        xytext=(0, 2 if v >= 0 else -2), textcoords="offset points")
    ax.spines[["top", "right"]].set_visible(False)


def _pending(ax, k):
    ax.set(xticks=[], yticks=[])
    for side in ax.spines.values():
        side.set(color="#cccccc", linestyle="--")
    ax.text(0.5, 0.5, f"step {k}: {STEP_NAMES[k - 1]}\n(not yet)", ha="center", va="center",
            color="#999999", fontsize=10, transform=ax.transAxes)


def _position_labels(steps):
    return [f"h{j + 1}" + (" (pad)" if m else "") for j, m in enumerate(steps["pad_mask"])]


def _component_labels(steps):
    # components count from 0, as in the code (``h_t[0]``); positions keep the papers' h1 .. hS
    return [f"[{i}]" for i in range(len(steps["decoder_state"]))]


def _suptitle(fig: Figure, steps: dict) -> None:
    fig.suptitle(f"h_t = [{', '.join(_fmt(float(x)) for x in steps['decoder_state'])}]   "
                 f"score: {steps['score_name']}   temperature: {_fmt(steps['temperature'])}", fontsize=10)


def plot_attention_steps(steps: dict, upto_step: int = 4, figsize=(11.0, 3.0), dpi: int = 90) -> Figure:
    """The four steps of :func:`attention_steps` side by side, drawn up to ``upto_step`` (0..4; later panels empty).

    Panels: (1) the scores per source position, (2) the softmax weights, (3) the weighted
    encoder states as an annotated grid ``[S, H]``, (4) the context vector; each source
    position keeps its colour in every panel.

    Raises:
        ValueError: ``upto_step`` outside 0..4; as :func:`plot_explorer`.
    """
    _check_steps(steps, figure=(figsize, dpi))
    upto_step = check_int(upto_step, "upto_step", low=0, high=4)
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
    """Bar charts of the scores, the weights and the context vector of one ``steps`` dict (three panels).

    Raises:
        ValueError: ``steps`` not from :func:`attention_steps` (an InputTypeError); ``figsize`` not a
            pair; ``figsize``/``dpi`` not positive or over :data:`~course_lib.viz.MAX_PIXELS` pixels a side.
    """
    _check_steps(steps, figure=(figsize, dpi))
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
    """The weights of several score functions on the same inputs (``{name: steps}`` from
    :func:`compare_score_functions`), one panel each.

    Raises:
        ValueError: ``results`` empty or holding something other than ``steps`` dicts; as
            :func:`plot_explorer` for ``figsize`` and ``dpi``.
    """
    check_mapping(results, "results", "{name: steps} from compare_score_functions()")
    _check_steps(*results.values(), figure=(figsize, dpi))
    n = len(results)
    fig = Figure(figsize=figsize or (2.2 * n, 2.6), dpi=dpi, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n, sharey=True))
    for ax, (name, steps) in zip(axes, results.items()):
        S = len(steps["weights"])
        _bars(ax, steps["weights"], name, [_COLORS[j % len(_COLORS)] for j in range(S)],
              _position_labels(steps), ylim=(0, 1.15), compact=True)
    axes[0].set_ylabel("attention weight")
    return fig
