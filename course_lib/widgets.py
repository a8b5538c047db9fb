"""Every ipywidgets object of the course: thin layers over :mod:`course_lib.viz` and :mod:`course_lib.explorer`.

Each builder returns an ``ipywidgets`` container; display it as a cell's last expression.
The pictures are PNGs in an ``ipywidgets.Image`` rendered by pure functions (in
:mod:`course_lib.viz` and :mod:`course_lib.explorer`), so every frame is testable without a
browser. ``ipywidgets`` is imported inside the builders, so importing this module is cheap.

- :func:`play_slider`: the one Play button + step slider that every animation uses.
- :func:`decoder_stepper`: step the greedy decoder through a sentence (lessons 01, 03, 04).
- :func:`attention_animation`: an attention heatmap revealed row by row (lessons 03-05).
- :func:`score_function_explorer`, :func:`four_steps_animation`: attention by hand (lesson 02).
- :func:`beam_explorer`: beam search with sliders for beam size, alpha and beta (lesson 05).

CSS classes (stable hooks for the browser test and for styling): ``course-step-slider``,
``course-step-figure``; ``course-attention-slider``, ``course-attention-figure``;
``attn-explorer``, ``attn-main-slider``, ``attn-slider``, ``attn-enc-select``, ``attn-enc-slider``,
``attn-pad-mask``, ``attn-score-dropdown``,
``attn-temperature``, ``attn-numbers``, ``attn-figure``; ``attn-animation``, ``attn-play``,
``attn-step-slider``, ``attn-step-text``, ``attn-steps-figure``; ``beam-explorer``,
``beam-size``, ``beam-alpha``, ``beam-beta``, ``beam-play``, ``beam-step-slider``,
``beam-figure``, ``beam-tree``, ``beam-caption``, ``beam-nbest``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence

from .data import EOS
from .explorer import (EXAMPLE_DECODER_STATE, EXAMPLE_ENCODER_STATES, EXPLORER_SCORE_NAMES, attention_steps,
                       describe_step, format_steps, plot_attention_steps, plot_explorer)
from .viz import (InputTypeError, beam_frames, beam_step_caption, check_int, check_real, check_text, check_tokens,
                  figure_to_png, format_n_best, plot_attention, plot_beam_step, plot_beam_tree, stepper_frame)

__all__ = ["PlaySlider", "play_slider", "decoder_stepper", "attention_animation", "stepper_frame",
           "score_function_explorer", "four_steps_animation", "beam_view", "beam_explorer"]


def _check_callable(fn: Any, name: str) -> None:
    if not callable(fn):
        raise InputTypeError(f"{name} must be callable, got {type(fn).__name__}")


@dataclass
class PlaySlider:
    """A Play button linked to an integer slider (see :func:`play_slider`).

    Attributes:
        play: the ``ipywidgets.Play``. slider: the ``ipywidgets.IntSlider``.
        box: an ``ipywidgets.HBox`` holding both (display this one).

    Raises (constructor):
        InputTypeError: ``play``/``slider`` are not widgets with ``value`` and ``max``;
            ``render`` not callable.
    """

    play: Any
    slider: Any
    box: Any
    render: Callable[[int], None]

    def __post_init__(self) -> None:
        for name in ("play", "slider"):
            widget = getattr(self, name)
            if not all(hasattr(widget, a) for a in ("value", "max")):
                raise InputTypeError(f"PlaySlider.{name} must be an ipywidgets Play/IntSlider, got "
                                     f"{type(widget).__name__}; build the control with play_slider()")
        _check_callable(self.render, "PlaySlider.render")

    @property
    def n_frames(self) -> int:
        """How many frames the slider spans."""
        return int(self.slider.max) + 1

    def set_frames(self, n_frames: int) -> None:
        """Span ``n_frames`` frames, go back to frame 0 and draw it.

        Raises:
            ValueError: ``n_frames`` below 1.
        """
        n_frames = check_int(n_frames, "n_frames", low=1)
        self.play.playing = False
        self.play.value = 0
        self.slider.value = 0
        self.play.max = self.slider.max = n_frames - 1
        self.render(0)


def play_slider(n_frames: int, render: Callable[[int], None], interval_ms: int = 700, description: str = "step",
                slider_class: Optional[str] = None, play_class: Optional[str] = None) -> PlaySlider:
    """The one Play + slider control of the course: ``render(i)`` is called for frame ``i``.

    The Play button and the slider are linked in the browser (``jslink``), so playing
    moves the slider; every change of the slider calls ``render(slider.value)``. Frame 0
    is drawn once here.

    Args:
        n_frames: number of frames (>= 1); the slider runs from 0 to ``n_frames - 1``.
        render: called with the frame index; it updates the images/captions it closes over.
        interval_ms: milliseconds between frames while playing (>= 1).
        description: the slider's label.
        slider_class, play_class: CSS classes to add (hooks for tests and styling).

    Returns:
        :class:`PlaySlider` (display its ``box``).

    Raises:
        ValueError: ``n_frames`` or ``interval_ms`` below 1. InputTypeError: ``render`` not callable;
            ``description`` not a str; a CSS class not a str (or None).
    """
    import ipywidgets as w

    description = check_text(description, "description", allow_none=False)
    slider_class = check_text(slider_class, "slider_class")
    play_class = check_text(play_class, "play_class")

    n_frames = check_int(n_frames, "n_frames", low=1)
    interval_ms = check_int(interval_ms, "interval_ms", low=1)
    _check_callable(render, "render")
    play = w.Play(value=0, min=0, max=n_frames - 1, step=1, interval=interval_ms, description="play")
    slider = w.IntSlider(value=0, min=0, max=n_frames - 1, step=1, description=str(description),
                         continuous_update=True)
    if play_class:
        play.add_class(play_class)
    if slider_class:
        slider.add_class(slider_class)
    w.jslink((play, "value"), (slider, "value"))
    control = PlaySlider(play, slider, w.HBox([play, slider]), render)
    slider.observe(lambda change: render(int(change["new"])), names="value")
    render(0)
    return control


# -- lessons 01, 03, 04: the decoder stepper and the attention animation ---------------------


def _check_model_and_vocabs(model, src_vocab, tgt_vocab) -> None:
    """Refuse a model that is not a Seq2Seq and vocabularies that are not its ``Vocab`` objects."""
    import torch

    if not isinstance(model, torch.nn.Module) or not all(hasattr(model, a) for a in ("encode", "decode_step")):
        raise InputTypeError(f"model must be a course_lib.models.Seq2Seq, got {type(model).__name__}")
    for name, vocab, size_attr in (("src_vocab", src_vocab, "src_vocab_size"), ("tgt_vocab", tgt_vocab, "tgt_vocab_size")):
        if not hasattr(vocab, "itos") or not hasattr(vocab, "eos_id"):
            raise InputTypeError(f"{name} must be a course_lib.data.Vocab, got {type(vocab).__name__}")
        size = getattr(model, size_attr, None)
        if size is not None and len(vocab.itos) != size:
            raise ValueError(f"{name} has {len(vocab.itos)} tokens but the model was built for {size}; "
                             "pass the vocabularies the model was trained with")


def decoder_stepper(model, sentence: str, src_tokenizer, src_vocab, tgt_vocab, k: int = 5,
                    max_len: Optional[int] = None, interval_ms: int = 900):
    """A Play button and a slider that step the decoder through the greedy translation of a sentence.

    Shows at every step the prefix generated so far, the ``k`` most probable next words and,
    for attention models, the attention weights over the source. A text box translates a
    sentence the learner types.

    Args:
        model: a :class:`course_lib.models.Seq2Seq`.
        sentence: the source sentence, a str (it is tokenised with ``src_tokenizer``).
        src_tokenizer: ``str -> list[str]``. src_vocab, tgt_vocab: the model's vocabularies.
        k: next-word candidates per step (>= 1). max_len: most steps (default: by source length).

    Returns:
        ``ipywidgets.VBox``.

    Raises:
        ValueError: an empty sentence (no tokens), ``k`` or ``interval_ms`` below 1;
            vocabularies whose sizes differ from the model's.
        InputTypeError: ``sentence`` is not a str; ``src_tokenizer`` is not callable; a model
            that is not a ``Seq2Seq``; vocabularies that are not ``Vocab`` objects.
    """
    import ipywidgets as w

    from .decoding import decode_trace

    if not isinstance(sentence, str):
        raise InputTypeError(f"sentence must be a str (one source sentence), got {type(sentence).__name__}")
    _check_callable(src_tokenizer, "src_tokenizer")
    k = check_int(k, "k", low=1)
    interval_ms = check_int(interval_ms, "interval_ms", low=1)
    if max_len is not None:
        max_len = check_int(max_len, "max_len", low=1)
    first_tokens = check_tokens(src_tokenizer(sentence), "the tokens of sentence", allow_empty=True)
    if not first_tokens:
        raise ValueError(f"sentence {sentence!r} has no tokens to translate")
    _check_model_and_vocabs(model, src_vocab, tgt_vocab)

    text = w.Text(value=sentence, description="source:", layout=w.Layout(width="90%"), continuous_update=False)
    caption = w.HTML()
    image = w.Image(format="png")
    image.add_class("course-step-figure")
    state: dict = {}

    def render(i: int) -> None:
        if "trace" in state:
            caption.value, image.value = stepper_frame(state["trace"], state["src"], i)

    control = play_slider(1, render, interval_ms, "step", slider_class="course-step-slider")

    def retrace(_=None):
        tokens = list(src_tokenizer(text.value))
        if not tokens:
            caption.value = "<i>type a sentence to translate</i>"
            return
        state["trace"] = decode_trace(model, tokens, src_vocab, tgt_vocab, k=k, max_len=max_len)
        state["src"] = tokens + [EOS]
        control.set_frames(len(state["trace"]))

    text.observe(retrace, names="value")  # on Enter or leaving the box
    retrace()
    return w.VBox([text, control.box, caption, image])


def attention_animation(translation, interval_ms: int = 700, title: str = ""):
    """The attention heatmap of one translation, revealed row by row as the decoder advances.

    Args:
        translation: a :class:`~course_lib.decoding.Translation` with ``attn_weights``
            ``[len(tokens) + 1, len(src_tokens)]`` (the last row produced ``<eos>``; a matrix
            with exactly ``len(tokens)`` rows is accepted too, for a search cut by ``max_len``).

    Returns:
        ``ipywidgets.VBox`` with a Play button, a slider, a caption and the heatmap.

    Raises:
        ValueError: the translation carries no attention weights (a model without attention),
            none at all (no decoder step), or their shape does not fit its tokens.
        InputTypeError: not a Translation; ``title`` not a str.
    """
    import ipywidgets as w

    title = check_text(title, "title", allow_none=False)

    for attr in ("tokens", "src_tokens", "attn_weights"):
        if not hasattr(translation, attr):
            raise InputTypeError(f"attention_animation needs a decoding.Translation, got {type(translation).__name__}")
    if translation.attn_weights is None:
        raise ValueError("this translation has no attention weights: use a model with attention")
    interval_ms = check_int(interval_ms, "interval_ms", low=1)
    tokens = check_tokens(translation.tokens, "translation.tokens", allow_empty=True)
    n_rows = int(translation.attn_weights.shape[0]) if getattr(translation.attn_weights, "ndim", 0) == 2 else -1
    labels = list(getattr(translation, "row_labels", tokens + [EOS]))  # tokens + <eos> when finished
    if n_rows == 0:
        raise ValueError("this translation has no decoder steps to animate (its attention matrix has no rows)")
    if n_rows == len(labels) and n_rows >= 1:
        rows = labels
    elif n_rows == len(tokens) and n_rows >= 1:  # built by hand without the <eos> row
        rows = tokens
    else:
        raise ValueError(f"translation.attn_weights has shape {tuple(getattr(translation.attn_weights, 'shape', ()))} "
                         f"but {len(tokens)} generated tokens: expected {len(labels)} rows (one per token"
                         f"{' and one for <eos>' if len(labels) > len(tokens) else ''})")
    plot_attention(translation.attn_weights, translation.src_tokens, rows)  # checks shapes and values up front
    frames: List[Optional[bytes]] = [None] * len(rows)
    image = w.Image(format="png")
    image.add_class("course-attention-figure")
    label = w.HTML()

    def render(i: int) -> None:
        if frames[i] is None:
            frames[i] = figure_to_png(plot_attention(translation.attn_weights, translation.src_tokens, rows,
                                                     upto=i + 1, title=title or "attention, step by step"))
        image.value = frames[i]
        label.value = f"generating <b>{html.escape(rows[i])}</b> (word {i + 1} of {len(rows)})"

    control = play_slider(len(rows), render, interval_ms, "word", slider_class="course-attention-slider")
    return w.VBox([w.HBox([control.box, label]), image])


# -- lesson 02: attention by hand ------------------------------------------------------------


def score_function_explorer(
    decoder_state: Sequence[float] = EXAMPLE_DECODER_STATE,
    encoder_states: Sequence[Sequence[float]] = EXAMPLE_ENCODER_STATES,
    score_names: Sequence[str] = EXPLORER_SCORE_NAMES,
    score_name: str = "dot",
    temperature: float = 1.0,
    value_range: tuple[float, float] = (-10.0, 15.0),
    pad_mask: Optional[Sequence[bool]] = None,
):
    """A widget: sliders for every component of ``h_t``, a picker and sliders to edit any
    encoder state, one padding check box per source position, a score-function dropdown and
    a temperature slider; the scores, weights and context are redrawn live
    (:func:`course_lib.explorer.attention_steps`, :func:`course_lib.explorer.plot_explorer`).

    Slider labels count components from 0, as Python does: ``h_t[0]`` is
    ``decoder_state[0]``. Source positions keep the papers' names ``h1 .. hS``. A position
    ticked as padding gets weight exactly 0 (the ``src_pad_mask`` convention, True at
    padding); ticking every position shows the error instead of a picture.

    Args:
        decoder_state: ``h_t``, ``H`` numbers. encoder_states: ``S`` vectors of ``H`` numbers.
        score_names: the dropdown's choices. score_name: the first choice shown.
        temperature: the initial temperature (> 0). value_range: the sliders' (low, high),
            widened to include the initial values.
        pad_mask: ``S`` bools, True at padding (default: no padding).

    Returns:
        An ``ipywidgets.VBox`` (class ``attn-explorer``) to display. CSS classes of its
        parts: ``attn-slider`` (every ``h_t`` slider; the first also ``attn-main-slider``),
        ``attn-enc-select``, ``attn-enc-slider``, ``attn-pad-mask``,
        ``attn-score-dropdown``, ``attn-temperature``, ``attn-numbers``, ``attn-figure``.

    Raises:
        ValueError: the inputs do not fit (as :func:`~course_lib.explorer.attention_steps`,
            ``pad_mask`` included), ``score_name`` is not among ``score_names``,
            ``value_range`` is empty, ``temperature`` is not positive, ``score_names`` is
            empty or holds a name that is not a score function.
            InputTypeError: a bare str (or a non-list) for ``score_names``, ``pad_mask`` or
            ``value_range``.
    """
    import ipywidgets as w

    from .attention import SCORE_FUNCTIONS

    if isinstance(score_names, str):
        raise InputTypeError(f"score_names must be a list of score-function names, got the str {score_names!r}")
    try:
        score_names = list(score_names)
    except TypeError:
        raise InputTypeError(f"score_names must be a list of score-function names, got {type(score_names).__name__}") from None
    if not score_names:
        raise ValueError("score_names is empty: give the score functions the dropdown offers, e.g. ['dot']")
    unknown = [n for n in score_names if not isinstance(n, str) or n not in SCORE_FUNCTIONS]
    if unknown:
        raise ValueError(f"score_names holds {unknown[0]!r}, which is not a score function; "
                         f"use names from {list(SCORE_FUNCTIONS)}")
    if score_name not in score_names:
        raise ValueError(f"score_name {score_name!r} is not one of score_names {score_names}")
    if isinstance(value_range, (str, bytes)) or not isinstance(value_range, (tuple, list)):
        raise InputTypeError(f"value_range must be a (low, high) pair of numbers, got {type(value_range).__name__}")
    if len(value_range) != 2:
        raise ValueError(f"value_range must be (low, high), got {value_range!r}")
    lo, hi = (check_real(v, "value_range") for v in value_range)
    if lo >= hi:
        raise ValueError(f"value_range must be (low, high) with low < high, got {value_range}")
    temperature = check_real(temperature, "temperature", positive=True)
    # validates everything up front (shapes, NaN, the mask's length) and gives clean float lists
    first = attention_steps(decoder_state, encoder_states, score_name, temperature, pad_mask=pad_mask)
    h_values = [float(x) for x in first["decoder_state"]]
    enc = [[float(x) for x in row] for row in first["encoder_states"]]
    mask = [bool(m) for m in first["pad_mask"]]
    S, H = len(enc), len(h_values)
    all_values = h_values + [x for row in enc for x in row]
    lo, hi = min(lo, *all_values), max(hi, *all_values)

    style = {"description_width": "90px"}

    def slider(value, description, cls):
        s = w.FloatSlider(value=value, min=lo, max=hi, step=1.0, description=description,
                          continuous_update=False, readout_format=".1f", style=style)
        s.add_class(cls)
        return s

    sliders = [slider(v, f"h_t[{i}]", "attn-slider") for i, v in enumerate(h_values)]
    sliders[0].add_class("attn-main-slider")
    enc_select = w.Dropdown(options=[(f"h{j + 1}", j) for j in range(S)], value=0, description="edit state",
                            style=style)
    enc_select.add_class("attn-enc-select")
    enc_sliders = [slider(enc[0][i], f"h{1}[{i}]", "attn-enc-slider") for i in range(H)]
    pad_boxes = []
    for j in range(S):
        box_j = w.Checkbox(value=mask[j], description=f"h{j + 1} is padding", indent=False)
        box_j.add_class("attn-pad-mask")
        pad_boxes.append(box_j)
    dropdown = w.Dropdown(options=score_names, value=score_name, description="score", style=style)
    dropdown.add_class("attn-score-dropdown")
    temp = w.FloatLogSlider(value=temperature, base=10, min=-1, max=2, step=0.1,
                            description="temperature", continuous_update=False, readout_format=".2g", style=style)
    temp.add_class("attn-temperature")
    numbers = w.HTML()
    numbers.add_class("attn-numbers")
    image = w.Image(format="png")
    image.add_class("attn-figure")
    loading = {"busy": False}  # True while the encoder sliders are set to another state's numbers

    def update(_change=None):
        if loading["busy"]:
            return
        try:
            steps = attention_steps([s.value for s in sliders], enc, dropdown.value, temp.value,
                                    pad_mask=[b.value for b in pad_boxes])
        except ValueError as err:  # keep the widget alive and say why (e.g. every position is padding)
            numbers.value = f"<pre>{html.escape(str(err))}</pre>"
            return
        numbers.value = "<pre>" + format_steps(steps) + "</pre>"
        image.value = figure_to_png(plot_explorer(steps))

    def select_state(change):
        j = int(change["new"])
        loading["busy"] = True
        try:
            for i, s in enumerate(enc_sliders):
                s.description = f"h{j + 1}[{i}]"
                s.value = enc[j][i]
        finally:
            loading["busy"] = False

    def edit_state(change):
        if loading["busy"]:
            return
        j = int(enc_select.value)
        enc[j][enc_sliders.index(change["owner"])] = float(change["new"])
        update()

    enc_select.observe(select_state, names="value")
    for s in enc_sliders:
        s.observe(edit_state, names="value")
    for control in (*sliders, *pad_boxes, dropdown, temp):
        control.observe(update, names="value")
    update()
    box = w.VBox([
        w.HBox([w.VBox(sliders), w.VBox([enc_select, *enc_sliders]), w.VBox([dropdown, temp])]),
        w.HBox(pad_boxes),
        numbers,
        image,
    ])
    box.add_class("attn-explorer")
    return box


def four_steps_animation(
    decoder_state: Sequence[float] = EXAMPLE_DECODER_STATE,
    encoder_states: Sequence[Sequence[float]] = EXAMPLE_ENCODER_STATES,
    score_name: str = "dot",
    temperature: float = 1.0,
    interval_ms: int = 1500,
):
    """A widget: Play button and step slider that walk through score -> softmax -> weight -> sum
    (:func:`course_lib.explorer.plot_attention_steps`).

    The five frames (0 = inputs only, 1..4 = the steps) are rendered once, up front.

    Returns:
        An ``ipywidgets.VBox`` (class ``attn-animation``) to display.

    Raises:
        ValueError: as :func:`~course_lib.explorer.attention_steps`; ``interval_ms`` below 1.
    """
    import ipywidgets as w

    interval_ms = check_int(interval_ms, "interval_ms", low=1)
    steps = attention_steps(decoder_state, encoder_states, score_name, temperature)
    frames = [figure_to_png(plot_attention_steps(steps, k)) for k in range(5)]
    text = w.HTML()
    text.add_class("attn-step-text")
    image = w.Image(format="png")
    image.add_class("attn-steps-figure")

    def render(k: int) -> None:
        image.value = frames[k]
        text.value = f"<p>{describe_step(steps, k)}</p>"

    control = play_slider(5, render, interval_ms, "step", slider_class="attn-step-slider", play_class="attn-play")
    control.play.description = "Play"
    box = w.VBox([control.box, text, image])
    box.add_class("attn-animation")
    return box


# -- lesson 05: beam search -------------------------------------------------------------------


@dataclass
class BeamView:
    """One run of beam search on one sentence, ready to draw (see :func:`beam_view`).

    Attributes:
        frames: one list of :class:`course_lib.viz.BeamEntry` per step (:func:`course_lib.viz.beam_frames`).
        n_best: ``(tokens, score)`` of the final hypotheses, best first (``<eos>`` shown
            when the hypothesis finished).
        hypotheses: the :class:`course_lib.decoding.Hypothesis` objects themselves.

    Raises (constructor):
        ValueError: ``frames`` empty or not lists of :class:`~course_lib.viz.BeamEntry`
            (an InputTypeError for a wrong type); ``n_best`` or ``hypotheses`` not a list.
    """

    frames: list
    n_best: list
    hypotheses: list

    def __post_init__(self) -> None:
        from .viz import _check_beam_frames

        _check_beam_frames(self.frames)
        for name in ("n_best", "hypotheses"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
                raise InputTypeError(f"BeamView.{name} must be a list, got {type(value).__name__}")


def beam_view(model, src_tokens: Sequence[str], src_vocab, tgt_vocab, beam_size: int = 3, alpha: float = 0.0,
              beta: float = 0.0, n_best: int = 3, max_len: Optional[int] = None) -> BeamView:
    """Run :func:`course_lib.decoding.beam_search` on one tokenised sentence with ``record_steps=True``.

    The pure part of :func:`beam_explorer` (no widgets): what the beam held at every step and
    the final n-best list, scored as GNMT does (Wu et al. 2016, sec. 7, eq. 14).

    Args:
        model: a :class:`course_lib.models.Seq2Seq`.
        src_tokens: the source tokens (without ``<eos>``; it is appended).
        src_vocab, tgt_vocab: the model's vocabularies.
        beam_size: ``K >= 1``. alpha: length-normalisation strength ``>= 0``.
        beta: coverage-penalty strength ``>= 0`` (needs a model with attention).
        n_best: hypotheses to return (capped at ``beam_size``). max_len: most target tokens.

    Returns:
        :class:`BeamView`.

    Raises:
        ValueError: empty tokens; vocabularies whose sizes differ from the model's; bad search
            settings (as :func:`~course_lib.decoding.beam_search`).
        InputTypeError: a bare str for ``src_tokens``; a model that is not a ``Seq2Seq``;
            vocabularies that are not ``Vocab`` objects.
    """
    import torch

    from .decoding import beam_search

    tokens = check_tokens(src_tokens, "src_tokens")
    beam_size = check_int(beam_size, "beam_size", low=1)
    n_best = min(check_int(n_best, "n_best", low=1), beam_size)
    alpha = check_real(alpha, "alpha", low=0.0)
    beta = check_real(beta, "beta", low=0.0)
    _check_model_and_vocabs(model, src_vocab, tgt_vocab)
    device = next(model.parameters()).device
    ids = [src_vocab[t] for t in tokens] + [src_vocab.eos_id]
    src = torch.tensor([ids], dtype=torch.long, device=device)
    src_lens = torch.tensor([len(ids)], dtype=torch.long, device=device)
    out = beam_search(model, src, src_lens, beam_size=beam_size, max_len=max_len, alpha=alpha, beta=beta,
                      n_best=n_best, record_steps=True)
    hyps = out.hypotheses[0]
    best = [([tgt_vocab.itos[i] for i in h.tokens] + ([EOS] if h.finished else []), float(h.score)) for h in hyps]
    return BeamView(beam_frames(out.steps[0], tgt_vocab), best, hyps)




def _check_search_settings(max_beam_size, beam_size, alpha, beta, n_best):
    """Validate the beam-search settings of a widget against its sliders' ranges.

    Returns ``(max_beam_size, beam_size, alpha, beta, n_best)``.

    Raises:
        ValueError: a size below 1, ``beam_size > max_beam_size``, ``alpha`` outside
            ``[0, 2]`` or ``beta`` outside ``[0, 1]`` (the ranges of the sliders).
        TypeError: a value that is not a number.
    """
    max_beam_size = check_int(max_beam_size, "max_beam_size", low=1)
    beam_size = check_int(beam_size, "beam_size", low=1, high=max_beam_size)
    alpha = check_real(alpha, "alpha", low=0.0)
    beta = check_real(beta, "beta", low=0.0)
    if alpha > 2.0 or beta > 1.0:
        raise ValueError(f"alpha must be in 0..2 and beta in 0..1 (the sliders' ranges), got alpha={alpha}, beta={beta}")
    return max_beam_size, beam_size, alpha, beta, check_int(n_best, "n_best", low=1)

def _search_sliders(w, beam_size: int, alpha: float, beta: float, max_beam_size: int, has_attention: bool,
                    classes: tuple, style: dict):
    """The three search sliders the beam explorer and the translator share: beam size ``k``,
    ``α`` of the length penalty and ``β`` of the coverage penalty (Wu et al. 2016, sec. 7).
    ``classes`` are the CSS classes of the three (the browser tests find widgets by them);
    ``β`` is disabled for a model without attention."""
    size = w.IntSlider(value=beam_size, min=1, max=max_beam_size, description="beam size", continuous_update=False,
                       style=style)
    a_slider = w.FloatSlider(value=alpha, min=0.0, max=2.0, step=0.1, description="α (length)",
                             continuous_update=False, readout_format=".1f", style=style)
    b_slider = w.FloatSlider(value=beta, min=0.0, max=1.0, step=0.05, description="β (coverage)",
                             continuous_update=False, readout_format=".2f", style=style, disabled=not has_attention)
    for widget, css in zip((size, a_slider, b_slider), classes):
        widget.add_class(css)
    return size, a_slider, b_slider

def beam_explorer(model, sentence: str, src_tokenizer, src_vocab, tgt_vocab, beam_size: int = 3,
                  alpha: float = 0.0, beta: float = 0.0, n_best: int = 3, max_len: Optional[int] = None,
                  max_beam_size: int = 10, interval_ms: int = 1200):
    """The beam explorer: sliders for beam size, alpha and beta, and a Play + step slider.

    Shows, at every step of beam search (Wu et al. 2016, sec. 7), the hypotheses kept in the
    beam with their partial translations and scores, those that finished and those pruned
    (:func:`course_lib.viz.plot_beam_step`), the search tree up to that step
    (:func:`course_lib.viz.plot_beam_tree`), and below them the final n-best list. Moving a
    setting reruns the search (:func:`beam_view`); a text box translates a typed sentence.

    Args:
        model, src_tokenizer, src_vocab, tgt_vocab: as for :func:`decoder_stepper`.
        sentence: the source sentence (a str).
        beam_size: initial ``K`` (``1 .. max_beam_size``). alpha: initial length-normalisation
            strength (``0 .. 2``). beta: initial coverage-penalty strength (``0 .. 1``; the
            slider is disabled for a model without attention).
        n_best: how many final hypotheses to list (capped at the beam size).
        max_len: most target tokens. interval_ms: milliseconds per step while playing.

    Returns:
        ``ipywidgets.VBox`` (class ``beam-explorer``).

    Raises:
        ValueError: an empty sentence; settings out of range (``beam_size`` outside
            ``1..max_beam_size``, ``alpha`` outside ``0..2``, ``beta`` outside ``0..1``,
            ``n_best`` or ``interval_ms`` below 1); ``beta > 0`` for a model without attention.
        InputTypeError: ``sentence`` not a str; ``src_tokenizer`` not callable; a model that
            is not a ``Seq2Seq``; vocabularies that are not ``Vocab`` objects (a size mismatch
            is a ValueError).
    """
    import ipywidgets as w

    if not isinstance(sentence, str):
        raise InputTypeError(f"sentence must be a str (one source sentence), got {type(sentence).__name__}")
    _check_callable(src_tokenizer, "src_tokenizer")
    max_beam_size, beam_size, alpha, beta, n_best = _check_search_settings(max_beam_size, beam_size, alpha, beta,
                                                                           n_best)
    interval_ms = check_int(interval_ms, "interval_ms", low=1)
    if max_len is not None:
        max_len = check_int(max_len, "max_len", low=1)
    has_attention = bool(getattr(model, "has_attention", False))
    if beta > 0 and not has_attention:
        raise ValueError(f"{type(model).__name__} has no attention, so the coverage penalty is undefined; use beta=0")
    first = check_tokens(src_tokenizer(sentence), "the tokens of sentence", allow_empty=True)
    if not first:
        raise ValueError(f"sentence {sentence!r} has no tokens to translate")
    _check_model_and_vocabs(model, src_vocab, tgt_vocab)

    style = {"description_width": "110px"}
    text = w.Text(value=sentence, description="source:", layout=w.Layout(width="90%"), continuous_update=False)
    size, a_slider, b_slider = _search_sliders(w, beam_size, alpha, beta, max_beam_size, has_attention,
                                               ("beam-size", "beam-alpha", "beam-beta"), style)
    caption = w.HTML()
    caption.add_class("beam-caption")
    image = w.Image(format="png")
    image.add_class("beam-figure")
    tree = w.Image(format="png")
    tree.add_class("beam-tree")
    nbest = w.HTML()
    nbest.add_class("beam-nbest")
    state: dict = {"view": None, "pngs": {}}

    def render(i: int) -> None:
        view = state["view"]
        if view is None:
            return
        if i not in state["pngs"]:
            state["pngs"][i] = (figure_to_png(plot_beam_step(view.frames, i)),
                                figure_to_png(plot_beam_tree(view.frames, upto=i)))
        image.value, tree.value = state["pngs"][i]
        caption.value = beam_step_caption(view.frames, i)

    control = play_slider(1, render, interval_ms, "step", slider_class="beam-step-slider", play_class="beam-play")

    def search(_=None):
        tokens = list(src_tokenizer(text.value))
        if not tokens:
            caption.value = "<i>type a sentence to translate</i>"
            return
        try:
            view = beam_view(model, tokens, src_vocab, tgt_vocab, beam_size=size.value, alpha=a_slider.value,
                             beta=b_slider.value, n_best=n_best, max_len=max_len)
        except ValueError as err:  # keep the widget alive and say why
            caption.value = f"<pre>{html.escape(str(err))}</pre>"
            return
        state["view"], state["pngs"] = view, {}
        nbest.value = (f"<b>final {len(view.n_best)}-best</b> (beam size {size.value}, α = {a_slider.value:.1f}, "
                       f"β = {b_slider.value:.2f}):" + format_n_best(view.n_best))
        control.set_frames(len(view.frames))

    for setting in (size, a_slider, b_slider):
        setting.observe(search, names="value")
    text.observe(search, names="value")  # on Enter or leaving the box
    search()
    box = w.VBox([text, w.HBox([size, a_slider, b_slider]), control.box, caption, image, tree, nbest])
    box.add_class("beam-explorer")
    return box


# -- issue 10: the translator you keep -----------------------------------------------------------


def translator(translator_or_bundle_path, sentence: str = "", beam_size: int = 5, alpha: float = 0.6,
               beta: float = 0.0, n_best: int = 3, max_beam_size: int = 10, max_len: Optional[int] = None):
    """The translator widget: type a sentence, see its n-best translations and an attention heatmap.

    A text box for the source sentence; sliders for the beam size, the length-normalisation
    strength α and the coverage-penalty strength β (Wu et al. 2016, sec. 7, eq. 14); a
    slider choosing which of the n-best translations to draw. It shows the n-best list with
    scores and the attention heatmap (:func:`course_lib.viz.plot_attention` over
    :attr:`~course_lib.decoding.Translation.row_labels`) of the chosen one
    (:func:`course_lib.viz.translator_frame`), and updates when the text or a slider changes.

    Args:
        translator_or_bundle_path: a :class:`course_lib.bundle.Translator` or the path of a
            bundle (loaded with :func:`course_lib.bundle.load_bundle`).
        sentence: the first sentence to show (may be empty: the widget then waits for one).
        beam_size: initial ``K`` (``1 .. max_beam_size``). alpha: initial α (``0 .. 2``).
        beta: initial β (``0 .. 1``; the slider is disabled for a model without attention).
        n_best: translations to list (``>= 1``, capped at the beam size).
        max_len: most target tokens per translation (default: from the source length).

    Returns:
        ``ipywidgets.VBox`` (class ``translator``) with the parts ``translator-text``,
        ``translator-beam``, ``translator-alpha``, ``translator-beta``, ``translator-choice``,
        ``translator-nbest``, ``translator-figure``, ``translator-message``.

    Raises:
        BundleError (a ``ValueError``): the path is not a valid bundle.
        ValueError: settings out of range; ``beta > 0`` for a model without attention.
        InputTypeError: not a Translator or path; ``sentence`` not a str.
    """
    import os

    import ipywidgets as w

    from .bundle import Translator, load_bundle
    from .viz import translator_frame

    if isinstance(translator_or_bundle_path, (str, os.PathLike)):
        tr = load_bundle(translator_or_bundle_path)
    elif isinstance(translator_or_bundle_path, Translator):
        tr = translator_or_bundle_path
    else:
        raise InputTypeError("translator() needs a course_lib.bundle.Translator or the path of a bundle file, got "
                             f"{type(translator_or_bundle_path).__name__}")
    if not isinstance(sentence, str):
        raise InputTypeError(f"sentence must be a str (one source sentence), got {type(sentence).__name__}")
    max_beam_size, beam_size, alpha, beta, n_best = _check_search_settings(max_beam_size, beam_size, alpha, beta,
                                                                           n_best)
    if max_len is not None:
        max_len = check_int(max_len, "max_len", low=1)
    has_attention = bool(getattr(tr.model, "has_attention", False))
    if beta > 0 and not has_attention:
        raise ValueError(f"{type(tr.model).__name__} has no attention, so the coverage penalty is undefined; use beta=0")

    style = {"description_width": "110px"}
    text = w.Text(value=sentence, description="source:", placeholder="type a sentence and press Enter",
                  layout=w.Layout(width="90%"), continuous_update=False)
    text.add_class("translator-text")
    size, a_slider, b_slider = _search_sliders(w, beam_size, alpha, beta, max_beam_size, has_attention,
                                               ("translator-beam", "translator-alpha", "translator-beta"), style)
    choice = w.IntSlider(value=1, min=1, max=1, description="show #", continuous_update=False, style=style)
    choice.add_class("translator-choice")
    message = w.HTML()
    message.add_class("translator-message")
    nbest = w.HTML()
    nbest.add_class("translator-nbest")
    image = w.Image(format="png")
    image.add_class("translator-figure")
    state: dict = {"result": None, "pngs": {}}

    def show(_=None) -> None:
        result = state["result"]
        if result is None:
            return
        k = int(choice.value) - 1
        k = min(k, len(result.alternatives))
        if k not in state["pngs"]:
            state["pngs"][k] = translator_frame(result, k, detokenize=tr.detokenize)
        table, png = state["pngs"][k]
        nbest.value = (f"<b>{1 + len(result.alternatives)}-best</b> (beam size {size.value}, "
                       f"α = {a_slider.value:.1f}, β = {b_slider.value:.2f}):" + table)
        if png is None:
            image.layout.display = "none"
            message.value = "<i>this model has no attention: no heatmap to show</i>"
        else:
            image.layout.display = None
            image.value = png

    def search(_=None) -> None:
        if not text.value.strip():
            state["result"], state["pngs"] = None, {}
            nbest.value = ""
            image.value = b""
            message.value = "<i>type a sentence to translate and press Enter</i>"
            return
        k = min(n_best, size.value)
        try:
            result = tr.translate(text.value, beam_size=size.value, alpha=a_slider.value, beta=b_slider.value,
                                  n_best=k, max_len=max_len)[0]
        except ValueError as err:  # keep the widget alive and say why
            message.value = f"<pre>{html.escape(str(err))}</pre>"
            return
        message.value = ""
        state["result"], state["pngs"] = result, {}
        n = 1 + len(result.alternatives)
        with choice.hold_trait_notifications():
            choice.max = n
            choice.value = min(choice.value, n)
        choice.disabled = n == 1
        show()

    for setting in (size, a_slider, b_slider, text):
        setting.observe(search, names="value")
    choice.observe(show, names="value")
    search()
    box = w.VBox([text, w.HBox([size, a_slider, b_slider]), choice, message, nbest, image])
    box.add_class("translator")
    return box
