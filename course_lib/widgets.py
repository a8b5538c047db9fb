"""Every ipywidgets object of the course: thin layers over :mod:`course_lib.viz` and :mod:`course_lib.explorer`.

Each builder returns a box to display as a cell's last expression; its parts carry CSS classes
(under ``Returns``) for the browser tests. Pictures come from pure figure functions and the
what-ifs' state changes are pure (:func:`what_if_prefix`, :func:`merge_frame`), so all of it is
tested without a browser. ``ipywidgets`` is imported inside the builders.

**A picture for every widget.** Where no kernel runs (GitHub, nbviewer, Colab's preview, an
untrusted notebook in JupyterLab) a reader sees only the output's mimebundle, so each box here
displays as ONE output holding the widget view (``application/vnd.jupyter.widget-view+json``), a
PNG of its current state (animations: an animated PNG whose still image is the current frame)
and a line of ``text/plain``. Front ends draw one mimetype per output, so the picture never shows
beside a live widget. JupyterLab's ``OutputArea`` asks ``rendermime.preferredMimeType(data,
trusted ? "any" : "ensure")``: trusted output gets the widget view (jupyterlab_widgets registers
it at rank -10, before all others), untrusted output the first *safe* type, the PNG (the widget
factory is ``safe: false``). nbconvert and nbviewer (``WidgetsDataTypeFilter``) take the widget
view only if the notebook saved the widget state, else the PNG before ``text/plain``; GitHub
draws the richest type it knows, the PNG. Not an ``Output`` widget: a picture beside the widget
shows twice where a kernel runs, one inside it lives only in the widget state, unread by GitHub.
"""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence

from .checks import (InputTypeError, check_choice, check_instance, check_int, check_real, check_text, check_tokens,
                     require)
from .data import EOS
from .decoding.translate import check_model_vocabs
from .explorer import (EXAMPLE_DECODER_STATE, EXAMPLE_ENCODER_STATES, EXPLORER_SCORE_NAMES, attention_steps,
                       describe_step, format_steps, plot_attention_steps, plot_explorer)
from .viz import (beam_frames, beam_step_caption, display_text, figure_to_png, format_n_best, plot_attention,
                  plot_beam_step, plot_beam_tree, stepper_frame)

__all__ = ["PlaySlider", "play_slider", "decoder_stepper", "what_if_prefix", "attention_animation", "stepper_frame",
           "score_function_explorer", "four_steps_animation", "BeamView", "beam_view", "beam_explorer",
           "merge_frame", "bpe_merge_stepper", "translator", "snapshot_png"]


def _css(widget, *classes: Optional[str]):
    """``widget`` with the CSS ``classes`` added (stable hooks for the browser tests and styling)."""
    for css in filter(None, classes):
        widget.add_class(css)
    return widget


# -- the static picture of a widget (see the module docstring) ------------------------------
def _plain(markup: str) -> List[str]:
    """The lines of text in a caption's HTML (tags dropped, table cells spaced)."""
    text = re.sub(r"<br\s*/?>|<table[^>]*>|</tr>|</p>|</pre>|\n", "\n", re.sub(r"</t[dh]>", "  ", markup))
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return [" ".join(line.split()) for line in text.split("\n") if line.strip()]


def snapshot_png(lines: Sequence[str], pngs: Sequence[Optional[bytes]] = ()) -> bytes:
    """One PNG of a widget's state: ``lines`` of text (Matplotlib's fonts) above the pictures ``pngs``
    (``None`` or empty ones skipped), stacked. Same input, same bytes."""
    import matplotlib.image as mpimg
    from matplotlib.figure import Figure
    arrays, line_px = [mpimg.imread(io.BytesIO(p), format="png") for p in pngs if p], 19
    width = max([a.shape[1] for a in arrays] + [7 * max(map(len, lines), default=0) + 20, 200])
    height = line_px * len(lines) + sum(a.shape[0] for a in arrays) + 10
    fig = Figure(figsize=(width / 100, height / 100), dpi=100, facecolor="white")
    for i, line in enumerate(lines):
        fig.text(8 / width, 1 - (i + 0.8) * line_px / height, line, fontsize=9, parse_math=False)
    y = height - line_px * len(lines) - 5
    for a in arrays:
        y -= a.shape[0]
        fig.figimage(a, xo=0, yo=y)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _animated_png(frames: Sequence[bytes], current: int, interval_ms: int) -> bytes:
    """An animated PNG of ``frames`` (looping); its still image, for viewers without APNG, is ``frames[current]``."""
    from PIL import Image
    images = [Image.open(io.BytesIO(f)).convert("RGB") for f in frames]
    padded = [Image.new("RGB", (max(i.width for i in images), max(i.height for i in images)), "white") for _ in images]
    for canvas, image in zip(padded, images):  # every frame on a canvas of one size
        canvas.paste(image)
    buffer = io.BytesIO()
    padded[current].save(buffer, format="PNG", save_all=True, append_images=padded, default_image=True,
                         duration=interval_ms, loop=0)
    return buffer.getvalue()


def _with_picture(box, snapshot: Callable[[], tuple]):
    """Display ``box`` as its widget view plus ``text/plain`` and ``image/png`` of ``snapshot() -> (text, png)``."""
    widget_bundle = box._repr_mimebundle_

    def bundle(**kwargs):
        data = widget_bundle(**kwargs) or {}
        text, png = snapshot()
        data["image/png"] = base64.b64encode(png).decode("ascii")
        data["text/plain"] = f"{text} [an interactive widget: run the notebook to use it]"
        return data

    box._repr_mimebundle_ = bundle
    return box


# -- the Play button + slider ---------------------------------------------------------------
@dataclass
class PlaySlider:
    """A Play button linked to an integer slider (made by :func:`play_slider`): ``play`` (``ipywidgets.Play``),
    ``slider`` (``IntSlider``), ``box`` (an ``HBox`` of both, to display), ``render(i)`` (draws frame ``i``).

    Raises (constructor):
        InputTypeError: ``play``/``slider`` without ``value`` and ``max``; ``render`` not callable.
    """

    play: Any
    slider: Any
    box: Any
    render: Callable[[int], None]
    quiet: bool = False  # True while set_frames moves the slider (it draws once, at the end)

    def __post_init__(self) -> None:
        require(all(hasattr(x, a) for x in (self.play, self.slider) for a in ("value", "max")),
                "PlaySlider.play and .slider must be ipywidgets: build it with play_slider()", InputTypeError)
        check_instance(self.render, Callable, "PlaySlider.render", "callable")

    @property
    def n_frames(self) -> int:
        """How many frames the slider spans."""
        return int(self.slider.max) + 1

    def set_frames(self, n_frames: int, frame: int = 0) -> None:
        """Span ``n_frames`` frames, stop playing, go to ``frame`` (default 0; clipped to the last) and draw it.

        Raises:
            ValueError: ``n_frames`` below 1 or ``frame`` below 0.
        """
        n_frames = check_int(n_frames, "n_frames", low=1)
        frame = min(check_int(frame, "frame", low=0), n_frames - 1)
        self.play.playing, self.quiet = False, True
        try:
            self.play.value = self.slider.value = 0
            self.play.max = self.slider.max = n_frames - 1
            self.play.value = self.slider.value = frame
        finally:
            self.quiet = False
        self.render(frame)


def play_slider(n_frames: int, render: Callable[[int], None], interval_ms: int = 700, description: str = "step",
                slider_class: Optional[str] = None, play_class: Optional[str] = None) -> PlaySlider:
    """The one Play + slider control of the course: ``render(i)`` draws frame ``i`` (frame 0 here).

    Play and the slider are linked in the browser (``jslink``); every slider change calls ``render``.
    At the last frame the kernel stops Play before drawing it: ipywidgets' ``PlayModel.loop`` sees
    the end one ``interval_ms`` later, on a timer that adds 1 to the value then, undoing a step back
    made in between (issue 15 §4); the kernel's ``playing = False`` arrives first and cancels it.

    Returns:
        :class:`PlaySlider` (display its ``box``); ``interval_ms`` between frames while playing.

    Raises:
        ValueError: ``n_frames`` or ``interval_ms`` below 1. InputTypeError: ``render`` not callable;
            ``description`` or a CSS class not a str.
    """
    import ipywidgets as w

    description = check_text(description, "description")
    slider_class = check_text(slider_class, "slider_class", allow_none=True)
    play_class = check_text(play_class, "play_class", allow_none=True)
    n_frames = check_int(n_frames, "n_frames", low=1)
    interval_ms = check_int(interval_ms, "interval_ms", low=1)
    play = _css(w.Play(value=0, min=0, max=n_frames - 1, interval=interval_ms, description="play"), play_class)
    slider = _css(w.IntSlider(value=0, min=0, max=n_frames - 1, description=description), slider_class)
    w.jslink((play, "value"), (slider, "value"))
    control = PlaySlider(play, slider, w.HBox([play, slider]), render)  # checks that render is callable

    def on_slider(change) -> None:
        if change["new"] >= slider.max:  # the end: stop Play before drawing (see above)
            play.playing = False
        if not control.quiet:
            render(int(change["new"]))

    slider.observe(on_slider, names="value")
    render(0)
    return control


# -- lessons 01, 03, 04: the decoder stepper and the attention animation ---------------------
def _text_box(w, sentence: str, css: Optional[str] = None):
    """The "source:" text box (it reports on Enter or when the learner leaves it)."""
    return _css(w.Text(value=sentence, description="source:", placeholder="type a sentence and press Enter",
                       layout=w.Layout(width="90%"), continuous_update=False), css)


def _source_tokens(sentence: str, src_tokenizer) -> List[str]:
    """The tokens of the widget's first sentence (checked: a str, a callable tokenizer, some tokens)."""
    check_text(sentence, "sentence")
    check_instance(src_tokenizer, Callable, "src_tokenizer", "callable str -> list[str]")
    tokens = check_tokens(src_tokenizer(sentence), "src_tokenizer(sentence)")
    require(tokens, f"sentence {sentence!r} has no tokens to translate")
    return tokens


def what_if_prefix(trace: Sequence[Any], step: int, word: str) -> List[str]:
    """The words to force for "what if the decoder had written ``word`` at ``step``?" (pure): the
    steps' words before it, then ``word`` (``prefix`` of :func:`course_lib.decoding.decode_trace`).

    Raises:
        ValueError: ``step`` outside the trace. InputTypeError: ``word`` not a str."""
    step = check_int(step, "step", low=0, high=len(trace) - 1)
    return [s.token for s in trace[:step]] + [check_text(word, "word")]


def decoder_stepper(model, sentence: str, src_tokenizer, src_vocab, tgt_vocab, k: int = 5,
                    max_len: Optional[int] = None, interval_ms: int = 900):
    """Step the decoder through the greedy translation of a sentence, and try other words.

    Each step shows the prefix so far, the ``k`` most probable next words and the attention.
    "what if:" takes another of the ``k`` words at this step and decodes on from it (forced
    decoding, as seq2seq-vis, Strobelt et al. 2018): the rest of the sentence and its attention
    change; "back to greedy" undoes every choice. A text box translates a typed sentence.

    Args:
        model: a :class:`course_lib.models.Seq2Seq`. sentence: a str. src_tokenizer: ``str -> list[str]``.
        src_vocab, tgt_vocab: the model's. k: candidates per step. max_len: most steps.

    Returns:
        ``ipywidgets.VBox`` (parts ``course-step-slider``, ``course-step-figure``,
        ``course-whatif-choice``, ``course-whatif-go``, ``course-whatif-reset``).

    Raises:
        ValueError: no tokens; ``k``, ``max_len`` or ``interval_ms`` below 1; vocabulary sizes
            not the model's. InputTypeError: a non-str ``sentence``, non-callable ``src_tokenizer``;
            not a ``Seq2Seq``; not ``Vocab`` objects.
    """
    import ipywidgets as w
    from .decoding import decode_trace

    _source_tokens(sentence, src_tokenizer)  # k, max_len, the model and vocabularies: decode_trace checks them below
    text, caption, image = _text_box(w, sentence), w.HTML(), _css(w.Image(format="png"), "course-step-figure")
    choice = _css(w.Dropdown(description="what if:", options=[]), "course-whatif-choice")
    go = _css(w.Button(description="continue with this word"), "course-whatif-go")
    reset = _css(w.Button(description="back to greedy"), "course-whatif-reset")
    state: dict = {"prefix": []}

    def render(i: int) -> None:
        if "trace" not in state:
            return
        trace, s = state["trace"], state["trace"][i]
        frame_caption, image.value = stepper_frame(trace, state["src"], i)
        chosen = [f"step {j + 1}: <b>{html.escape(t.token)}</b> instead of {html.escape(t.topk_tokens[0])}"
                  for j, t in enumerate(trace) if getattr(t, "forced", False) and t.token != t.topk_tokens[0]]
        words = display_text([t.token for t in trace])
        caption.value = (frame_caption + f"<br><b>translation:</b> {html.escape(words)}"
                         + ("<br><b>what if:</b> " + "; ".join(chosen) if chosen else ""))
        choice.options = list(dict.fromkeys(s.topk_tokens + [s.token]))
        choice.value = s.token

    control = play_slider(1, render, interval_ms, "step", slider_class="course-step-slider")

    def retrace(_=None, frame: int = 0) -> None:
        tokens = list(src_tokenizer(text.value))
        if not tokens:
            caption.value = "<i>type a sentence to translate</i>"
            return
        if tokens + [EOS] != state.get("src"):
            state["prefix"] = []  # a new sentence starts greedy
        state["trace"] = decode_trace(model, tokens, src_vocab, tgt_vocab, k=k, max_len=max_len,
                                      prefix=state["prefix"] or None)
        state["src"] = tokens + [EOS]
        control.set_frames(len(state["trace"]), frame)

    def what_if(button) -> None:  # "continue with this word" or "back to greedy"
        if "trace" in state and choice.value is not None:
            step = int(control.slider.value)
            state["prefix"] = [] if button is reset else what_if_prefix(state["trace"], step, choice.value)
            retrace(frame=step)

    text.observe(retrace, names="value")
    go.on_click(what_if)
    reset.on_click(what_if)
    retrace()
    box = w.VBox([text, control.box, caption, w.HBox([choice, go, reset]), image])
    return _with_picture(box, lambda: ("decoder stepper: " + " ".join(_plain(caption.value)[1:2]),
                                       snapshot_png(_plain(caption.value), [image.value])))


def attention_animation(translation, interval_ms: int = 700, title: str = ""):
    """The attention heatmap of a :class:`~course_lib.decoding.Translation`, revealed row by row as the
    decoder advances (one row per :attr:`~course_lib.decoding.Translation.row_labels`, or per token).

    Returns:
        ``ipywidgets.VBox`` (parts ``course-attention-slider``, ``course-attention-figure``); its
        static picture is an animated PNG of every row.

    Raises:
        ValueError: no attention weights, no decoder step, or a shape that does not fit the tokens.
        InputTypeError: not a Translation; ``title`` not a str.
    """
    import ipywidgets as w

    require(all(hasattr(translation, a) for a in ("tokens", "src_tokens", "attn_weights")),
            f"attention_animation needs a decoding.Translation, got {type(translation).__name__}", InputTypeError)
    weights = translation.attn_weights
    n_rows = int(weights.shape[0]) if getattr(weights, "ndim", 0) == 2 else -1
    require(weights is not None and n_rows, "this translation has no attention weights: use a model with attention"
            if weights is None else "this translation has no decoder steps to animate (its attention has no rows)")
    tokens = check_tokens(translation.tokens, "translation.tokens")
    labels = list(getattr(translation, "row_labels", tokens + [EOS]))  # tokens + <eos> when finished
    rows = labels if n_rows == len(labels) else tokens if n_rows == len(tokens) else None
    require(rows, f"translation.attn_weights has shape {tuple(getattr(weights, 'shape', ()))} but {len(tokens)} "
            f"generated tokens: expected {len(labels)} rows (one per row label)")
    plot_attention(weights, translation.src_tokens, rows, title=title)  # checks the title, shapes and values up front
    frames: List[Optional[bytes]] = [None] * len(rows)
    image, label = _css(w.Image(format="png"), "course-attention-figure"), w.HTML()

    def frame(i: int) -> bytes:
        if frames[i] is None:
            frames[i] = figure_to_png(plot_attention(weights, translation.src_tokens, rows, upto=i + 1,
                                                     title=title or "attention, step by step"))
        return frames[i]

    def render(i: int) -> None:
        image.value = frame(i)
        label.value = f"generating <b>{html.escape(rows[i])}</b> (word {i + 1} of {len(rows)})"

    control = play_slider(len(rows), render, interval_ms, "word", slider_class="course-attention-slider")
    box = w.VBox([w.HBox([control.box, label]), image])
    return _with_picture(box, lambda: (f"attention animation: {_plain(label.value)[0]}", _animated_png(
        [frame(i) for i in range(len(rows))], int(control.slider.value), interval_ms)))


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
    """Sliders for ``h_t`` (``H`` numbers; ``h_t[0]`` first) and any of the ``S`` encoder states
    (``h1 .. hS``), a padding box per position (True = padding, weight exactly 0), a dropdown of
    ``score_names`` and a temperature slider; scores, weights and context are redrawn live
    (:func:`~course_lib.explorer.attention_steps`, :func:`~course_lib.explorer.plot_explorer`).
    The sliders span ``value_range``, widened to the values.

    Returns:
        ``ipywidgets.VBox`` (class ``attn-explorer``; parts ``attn-slider``, ``attn-main-slider``,
        ``attn-enc-select``, ``attn-enc-slider``, ``attn-pad-mask``, ``attn-score-dropdown``,
        ``attn-temperature``, ``attn-numbers``, ``attn-figure``).

    Raises:
        ValueError: as :func:`~course_lib.explorer.attention_steps`; unknown or no ``score_names``,
            ``score_name`` not among them, an empty ``value_range``. InputTypeError: a str or
            non-list for ``score_names``; ``value_range`` not a pair.
    """
    import ipywidgets as w
    from .attention import SCORE_FUNCTIONS

    score_names = check_tokens(score_names, "score_names", allow_empty=False)
    unknown = sorted(set(score_names) - set(SCORE_FUNCTIONS))
    require(not unknown, f"score_names: unknown {unknown}; choose from {', '.join(SCORE_FUNCTIONS)}")
    check_choice(score_name, "score_name (one of score_names)", score_names)
    require(isinstance(value_range, (tuple, list)) and len(value_range) == 2,
            f"value_range must be a (low, high) pair of numbers, got {value_range!r:.40}", InputTypeError)
    lo = check_real(value_range[0], "value_range[0]")
    hi = check_real(value_range[1], "value_range[1] (above value_range[0])", low=lo, low_open=True)
    # checks shapes, NaN, the temperature and the mask up front and gives clean float lists
    first = attention_steps(decoder_state, encoder_states, score_name, temperature, pad_mask=pad_mask)
    h_values = [float(x) for x in first["decoder_state"]]
    enc = [[float(x) for x in row] for row in first["encoder_states"]]
    lo, hi = min(lo, *h_values, *(x for row in enc for x in row)), max(hi, *h_values, *(x for row in enc for x in row))
    style = {"description_width": "90px"}

    def slider(value, description, cls):
        return _css(w.FloatSlider(value=value, min=lo, max=hi, step=1.0, description=description,
                                  continuous_update=False, readout_format=".1f", style=style), cls)

    sliders = [slider(v, f"h_t[{i}]", "attn-slider") for i, v in enumerate(h_values)]
    sliders[0].add_class("attn-main-slider")
    enc_select = _css(w.Dropdown(options=[(f"h{j + 1}", j) for j in range(len(enc))], value=0,
                                 description="edit state", style=style), "attn-enc-select")
    enc_sliders = [slider(x, f"h1[{i}]", "attn-enc-slider") for i, x in enumerate(enc[0])]
    pad_boxes = [_css(w.Checkbox(value=bool(m), description=f"h{j + 1} is padding", indent=False), "attn-pad-mask")
                 for j, m in enumerate(first["pad_mask"])]
    dropdown = _css(w.Dropdown(options=score_names, value=score_name, description="score", style=style),
                    "attn-score-dropdown")
    temp = _css(w.FloatLogSlider(value=temperature, base=10, min=-1, max=2, step=0.1, description="temperature",
                                 continuous_update=False, readout_format=".2g", style=style), "attn-temperature")
    numbers, image = _css(w.HTML(), "attn-numbers"), _css(w.Image(format="png"), "attn-figure")
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
        numbers.value = "<pre>" + html.escape(format_steps(steps)) + "</pre>"
        image.value = figure_to_png(plot_explorer(steps))

    def select_state(change):
        loading["busy"] = True
        try:
            for i, s in enumerate(enc_sliders):
                s.description, s.value = f"h{change['new'] + 1}[{i}]", enc[change["new"]][i]
        finally:
            loading["busy"] = False

    def edit_state(change):
        if not loading["busy"]:
            enc[int(enc_select.value)][enc_sliders.index(change["owner"])] = float(change["new"])
            update()

    enc_select.observe(select_state, names="value")
    for s in enc_sliders:
        s.observe(edit_state, names="value")
    for control in (*sliders, *pad_boxes, dropdown, temp):
        control.observe(update, names="value")
    update()
    box = _css(w.VBox([w.HBox([w.VBox(sliders), w.VBox([enc_select, *enc_sliders]), w.VBox([dropdown, temp])]),
                       w.HBox(pad_boxes), numbers, image]), "attn-explorer")
    return _with_picture(box, lambda: (f"score-function explorer ({dropdown.value})",
                                       snapshot_png(_plain(numbers.value), [image.value])))


def four_steps_animation(
    decoder_state: Sequence[float] = EXAMPLE_DECODER_STATE,
    encoder_states: Sequence[Sequence[float]] = EXAMPLE_ENCODER_STATES,
    score_name: str = "dot",
    temperature: float = 1.0,
    interval_ms: int = 1500,
):
    """Play and a slider through score -> softmax -> weight -> sum (:func:`~course_lib.explorer.plot_attention_steps`).

    Returns:
        ``ipywidgets.VBox`` (class ``attn-animation``; parts ``attn-play``, ``attn-step-slider``,
        ``attn-step-text``, ``attn-steps-figure``); its static picture is an animated PNG.

    Raises:
        ValueError: as :func:`~course_lib.explorer.attention_steps`; ``interval_ms`` below 1."""
    import ipywidgets as w

    steps = attention_steps(decoder_state, encoder_states, score_name, temperature)
    frames = [figure_to_png(plot_attention_steps(steps, k)) for k in range(5)]
    text, image = _css(w.HTML(), "attn-step-text"), _css(w.Image(format="png"), "attn-steps-figure")

    def render(k: int) -> None:
        image.value = frames[k]
        text.value = f"<p>{describe_step(steps, k)}</p>"

    control = play_slider(5, render, interval_ms, "step", slider_class="attn-step-slider", play_class="attn-play")
    control.play.description = "Play"
    box = _css(w.VBox([control.box, text, image]), "attn-animation")
    return _with_picture(box, lambda: (f"the four steps of attention, {score_name} score",
                                       _animated_png(frames, int(control.slider.value), interval_ms)))


# -- lesson 06: beam search -------------------------------------------------------------------
#: The beam explorer's tree shows at most this many steps, up to the current one.
BEAM_TREE_STEPS = 8

@dataclass
class BeamView:
    """One beam search, ready to draw (:func:`beam_view`): ``frames`` (per step, :class:`course_lib.viz.BeamEntry`
    objects), ``n_best`` (``(tokens, score)``, best first) and ``hypotheses`` (``decoding.Hypothesis``).

    Raises (constructor):
        ValueError: no frames. InputTypeError: frames not lists of ``BeamEntry``; ``n_best`` or
            ``hypotheses`` not a list.
    """

    frames: list
    n_best: list
    hypotheses: list

    def __post_init__(self) -> None:
        beam_step_caption(self.frames, 0)  # checks the frames
        require(all(isinstance(x, (list, tuple)) for x in (self.n_best, self.hypotheses)),
                f"BeamView.n_best and .hypotheses must be lists, got {self.n_best!r:.40}", InputTypeError)


def beam_view(model, src_tokens: Sequence[str], src_vocab, tgt_vocab, beam_size: int = 3, alpha: float = 0.0,
              beta: float = 0.0, n_best: int = 3, max_len: Optional[int] = None) -> BeamView:
    """:func:`course_lib.decoding.beam_search` (``record_steps=True``) on ``src_tokens`` (no ``<eos>``) as a
    :class:`BeamView`: the pure part of :func:`beam_explorer`, scored as GNMT (Wu et al. 2016, sec. 7, eq. 14).

    Raises:
        ValueError: empty tokens; vocabulary sizes that differ from the model's; bad settings (as
            ``beam_search``). InputTypeError: a str for ``src_tokens``; not a ``Seq2Seq``; not ``Vocab``s.
    """
    import torch
    from .decoding import beam_search

    tokens = check_tokens(src_tokens, "src_tokens", allow_empty=False)
    beam_size = check_int(beam_size, "beam_size", low=1)
    n_best = min(check_int(n_best, "n_best", low=1), beam_size)
    check_model_vocabs(model, src_vocab, tgt_vocab)
    device = model.device
    ids = [src_vocab[t] for t in tokens] + [src_vocab.eos_id]
    src = torch.tensor([ids], dtype=torch.long, device=device)
    src_lens = torch.tensor([len(ids)], dtype=torch.long, device=device)
    out = beam_search(model, src, src_lens, beam_size=beam_size, max_len=max_len, alpha=alpha, beta=beta,
                      n_best=n_best, record_steps=True)
    hyps = out.hypotheses[0]
    best = [([tgt_vocab.itos[i] for i in h.tokens] + ([EOS] if h.finished else []), float(h.score)) for h in hyps]
    return BeamView(beam_frames(out.steps[0], tgt_vocab), best, hyps)


def _search_settings(w, beam_size, alpha, beta, max_beam_size, has_attention: bool, classes: tuple):
    """The settings and sliders the beam explorer and the translator share: beam size ``K``, ``α`` (length
    penalty), ``β`` (coverage penalty; disabled without attention), Wu et al. 2016, sec. 7."""
    max_beam_size = check_int(max_beam_size, "max_beam_size", low=1)
    beam_size = check_int(beam_size, "beam_size", low=1, high=max_beam_size)
    alpha = check_real(alpha, "alpha (the α slider)", low=0.0, high=2.0)
    beta = check_real(beta, "beta (the β slider)", low=0.0, high=1.0)
    require(beta == 0 or has_attention, "this model has no attention, so the coverage penalty is undefined; use beta=0")
    style = {"description_width": "110px"}
    return (_css(w.IntSlider(value=beam_size, min=1, max=max_beam_size, description="beam size",
                             continuous_update=False, style=style), classes[0]),
            _css(w.FloatSlider(value=alpha, min=0.0, max=2.0, step=0.1, description="α (length)",
                               continuous_update=False, readout_format=".1f", style=style), classes[1]),
            _css(w.FloatSlider(value=beta, min=0.0, max=1.0, step=0.05, description="β (coverage)", style=style,
                               continuous_update=False, readout_format=".2f", disabled=not has_attention), classes[2]))


def beam_explorer(model, sentence: str, src_tokenizer, src_vocab, tgt_vocab, beam_size: int = 3,
                  alpha: float = 0.0, beta: float = 0.0, n_best: int = 3, max_len: Optional[int] = None,
                  max_beam_size: int = 10, interval_ms: int = 1200):
    """The beam explorer: sliders for beam size, α and β, Play + a step slider, and the search tree.

    At every step of beam search (Wu et al. 2016, sec. 7) it draws the hypotheses kept, finished,
    dropped and pruned (:func:`course_lib.viz.plot_beam_step`) and the search tree of the last
    :data:`BEAM_TREE_STEPS` steps (:func:`course_lib.viz.plot_beam_tree`: the step's dropped
    candidates, ▲ / ▼ where the coverage penalty reorders them), named in the caption; below, the
    final n-best list. A new setting reruns the search (:func:`beam_view`), so the tree shows what
    the length and coverage penalties promote or drop. Arguments as for :func:`decoder_stepper`;
    beam_size ``1 .. max_beam_size``, alpha ``0 .. 2``, beta ``0 .. 1`` (disabled without
    attention), n_best hypotheses listed.

    Returns:
        ``ipywidgets.VBox`` (class ``beam-explorer``; parts ``beam-size``, ``beam-alpha``,
        ``beam-beta``, ``beam-play``, ``beam-step-slider``, ``beam-figure``, ``beam-tree``,
        ``beam-caption``, ``beam-nbest``).

    Raises:
        ValueError: as :func:`decoder_stepper`; settings out of range; ``beta > 0`` without attention.
        InputTypeError: as :func:`decoder_stepper`.
    """
    import ipywidgets as w

    _source_tokens(sentence, src_tokenizer)
    n_best = check_int(n_best, "n_best", low=1)
    max_len = check_int(max_len, "max_len", low=1, allow_none=True)
    check_model_vocabs(model, src_vocab, tgt_vocab)
    text = _text_box(w, sentence)
    size, a_slider, b_slider = _search_settings(w, beam_size, alpha, beta, max_beam_size,
                                                bool(getattr(model, "has_attention", False)),
                                                ("beam-size", "beam-alpha", "beam-beta"))
    caption, nbest = _css(w.HTML(), "beam-caption"), _css(w.HTML(), "beam-nbest")
    image, tree = _css(w.Image(format="png"), "beam-figure"), _css(w.Image(format="png"), "beam-tree")
    state: dict = {"view": None, "pngs": {}}

    def render(i: int) -> None:
        view = state["view"]
        if view is not None:
            if i not in state["pngs"]:
                state["pngs"][i] = (figure_to_png(plot_beam_step(view.frames, i)),
                                    figure_to_png(plot_beam_tree(view.frames, upto=i, max_steps=BEAM_TREE_STEPS)))
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

    for setting in (size, a_slider, b_slider, text):  # the text box: on Enter or leaving it
        setting.observe(search, names="value")
    search()
    box = _css(w.VBox([text, w.HBox([size, a_slider, b_slider]), control.box, caption, image, tree, nbest]),
               "beam-explorer")
    return _with_picture(box, lambda: ("beam explorer: " + " ".join(_plain(caption.value)[:1]), snapshot_png(
        _plain(caption.value) + _plain(nbest.value), [image.value, tree.value])))


# -- lesson 06: the BPE merge stepper --------------------------------------------------------
def merge_frame(word_steps: Sequence[Sequence[Sequence[str]]], step: int) -> List[tuple]:
    """What the BPE merge stepper shows at ``step`` (pure): for each word's
    :func:`~course_lib.data.subwords.merge_steps`, ``(pieces, merge)``, its pieces after ``step``
    merges (or all) and the merge made at this step (``"a + b → ab"``, or ``""``).

    Raises:
        ValueError: ``step`` below 0."""
    step = check_int(step, "step", low=0)
    out = []
    for steps in word_steps:
        i, merge = min(step, len(steps) - 1), ""
        if 0 < step < len(steps):
            before, after = steps[step - 1], steps[step]
            j = next(j for j, (a, b) in enumerate(zip(before, after)) if a != b)
            merge = f"{before[j]} + {before[j + 1]} → {after[j]}"
        out.append((list(steps[i]), merge))
    return out


def bpe_merge_stepper(tokenizer, words: str = "lower newest", interval_ms: int = 900):
    """Type words and watch BPE build their pieces, one merge at a time (Sennrich et al. 2016, sec. 3.2).

    Each word starts as characters (``▁`` marks a word's start); the learned merges join adjacent
    pieces in the order they were learned until the tokenizer's pieces are left
    (:func:`course_lib.data.subwords.merge_steps`). Play or the slider steps through the merges.

    Returns:
        ``ipywidgets.VBox`` (class ``bpe-stepper``; parts ``bpe-text``, ``bpe-step-slider``,
        ``bpe-play``, ``bpe-pieces``).

    Raises:
        InputTypeError: ``tokenizer`` not a :class:`~course_lib.data.SubwordTokenizer`; ``words``
            not a str. ValueError: ``interval_ms`` below 1.
    """
    import ipywidgets as w
    from .data.subwords import merge_steps

    words = check_text(words, "words")
    state = {"steps": [merge_steps(tokenizer, word) for word in words.split()]}  # checks the tokenizer
    text = _css(w.Text(value=words, description="words:", layout=w.Layout(width="90%"), continuous_update=False),
                "bpe-text")
    pieces = _css(w.HTML(), "bpe-pieces")
    box_style = "border:1px solid #99a;border-radius:3px;padding:0 3px;margin:0 1px;background:#eef"

    def n_merges() -> int:
        return max([len(s) - 1 for s in state["steps"]], default=0)

    def render(i: int) -> None:
        rows = merge_frame(state["steps"], i)
        cells = ["".join(f"<span style='{box_style}'>{html.escape(p)}</span>" for p in row) for row, _ in rows]
        pieces.value = (f"<b>merge {i} of {n_merges()}</b> ({sum(len(r) for r, _ in rows)} pieces)<br>"
                        + "<br>".join(f"{c} &nbsp; <i>{html.escape(m)}</i>" for c, (_, m) in zip(cells, rows))
                        if rows else "<i>type some words</i>")

    control = play_slider(n_merges() + 1, render, interval_ms, "merge", "bpe-step-slider", "bpe-play")

    def retype(_=None) -> None:
        try:
            state["steps"] = [merge_steps(tokenizer, word) for word in text.value.split()]
        except ValueError as err:
            pieces.value = f"<pre>{html.escape(str(err))}</pre>"
            return
        control.set_frames(n_merges() + 1)

    text.observe(retype, names="value")
    box = _css(w.VBox([text, control.box, pieces]), "bpe-stepper")

    def snapshot():
        step = control.slider.value
        lines = [f"BPE merge stepper: merge {step} of {n_merges()}"] + [
            " | ".join(row) + (f"   ({m})" if m else "") for row, m in merge_frame(state["steps"], step)]
        return lines[0], snapshot_png(lines)

    return _with_picture(box, snapshot)


# -- issue 10: the translator you keep -----------------------------------------------------------
def translator(translator_or_bundle_path, sentence: str = "", beam_size: int = 5, alpha: float = 0.6,
               beta: float = 0.0, n_best: int = 3, max_beam_size: int = 10, max_len: Optional[int] = None):
    """The translator widget: type a sentence, see its n-best translations and an attention heatmap.

    Sliders for the beam size, α and β (Wu et al. 2016, sec. 7, eq. 14) and for which n-best
    translation to draw (:func:`course_lib.viz.translator_frame`); it updates on every change.

    Args:
        translator_or_bundle_path: a :class:`course_lib.bundle.Translator` or a bundle's path.
        sentence: the first sentence (may be empty). The others as for :func:`beam_explorer`.

    Returns:
        ``ipywidgets.VBox`` (class ``translator``; parts ``translator-text``, ``translator-beam``,
        ``translator-alpha``, ``translator-beta``, ``translator-choice``, ``translator-nbest``,
        ``translator-figure``, ``translator-message``).

    Raises:
        BundleError (a ``ValueError``): not a valid bundle. ValueError: settings as for
            :func:`beam_explorer`. InputTypeError: not a Translator or path; ``sentence`` not a str.
    """
    import os

    import ipywidgets as w

    from .bundle import Translator, load_bundle
    from .viz import translator_frame

    tr = check_instance(translator_or_bundle_path, (str, os.PathLike, Translator), "translator_or_bundle_path",
                        "a course_lib.bundle.Translator or the path of a bundle file")
    tr = load_bundle(tr) if isinstance(tr, (str, os.PathLike)) else tr
    sentence = check_text(sentence, "sentence")
    n_best = check_int(n_best, "n_best", low=1)
    max_len = check_int(max_len, "max_len", low=1, allow_none=True)
    text = _text_box(w, sentence, "translator-text")
    size, a_slider, b_slider = _search_settings(w, beam_size, alpha, beta, max_beam_size,
                                                bool(getattr(tr.model, "has_attention", False)),
                                                ("translator-beam", "translator-alpha", "translator-beta"))
    choice = _css(w.IntSlider(value=1, min=1, max=1, description="show #", continuous_update=False,
                              style={"description_width": "110px"}), "translator-choice")
    message, nbest = _css(w.HTML(), "translator-message"), _css(w.HTML(), "translator-nbest")
    image = _css(w.Image(format="png"), "translator-figure")
    state: dict = {"result": None, "pngs": {}}

    def show(_=None) -> None:
        result = state["result"]
        if result is None:
            return
        k = min(int(choice.value) - 1, len(result.alternatives))
        if k not in state["pngs"]:
            state["pngs"][k] = translator_frame(result, k, detokenize=tr.detokenize)
        table, png = state["pngs"][k]
        nbest.value = (f"<b>{1 + len(result.alternatives)}-best</b> (beam size {size.value}, "
                       f"α = {a_slider.value:.1f}, β = {b_slider.value:.2f}):" + table)
        image.layout.display, image.value = ("none", b"") if png is None else (None, png)
        if png is None:
            message.value = "<i>this model has no attention: no heatmap to show</i>"

    def search(_=None) -> None:
        if not text.value.strip():
            state["result"], state["pngs"] = None, {}
            nbest.value, image.value = "", b""
            message.value = "<i>type a sentence to translate and press Enter</i>"
            return
        try:
            result = tr.translate(text.value, beam_size=size.value, alpha=a_slider.value, beta=b_slider.value,
                                  n_best=min(n_best, size.value), max_len=max_len)[0]
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
    box = _css(w.VBox([text, w.HBox([size, a_slider, b_slider]), choice, message, nbest, image]), "translator")
    return _with_picture(box, lambda: (f"translator: {text.value}", snapshot_png(
        [f"source: {text.value}"] + _plain(nbest.value) + _plain(message.value), [image.value])))
