"""Thin ipywidgets layers over :mod:`course_lib.viz` and :mod:`course_lib.decoding`.

Each builder returns an ``ipywidgets`` container; display it as a cell's last expression.
The pictures are PNGs in an ``ipywidgets.Image`` (rendered by the pure functions in
:mod:`course_lib.viz`), so every frame is testable without a browser.
"""

from __future__ import annotations

import html
from typing import List, Optional, Sequence

from .decoding import Translation, decode_trace
from .viz import figure_to_png, plot_attention, plot_decoder_step

__all__ = ["decoder_stepper", "attention_animation", "stepper_frame"]


def stepper_frame(trace, src_tokens: Sequence[str], step: int) -> tuple[str, bytes]:
    """The HTML caption and PNG bytes the decoder stepper shows at ``step`` (pure; testable)."""
    s = trace[step]
    prefix = " ".join(s.prefix) if s.prefix else "(nothing yet)"
    caption = (f"<b>source:</b> {html.escape(' '.join(src_tokens))}<br>"
               f"<b>step {step + 1} of {len(trace)}</b> &mdash; generated so far: <i>{html.escape(prefix)}</i> "
               f"&rarr; next: <b>{html.escape(s.token)}</b> (p = {s.topk_probs[0]:.2f})")
    return caption, figure_to_png(plot_decoder_step(trace, src_tokens, step))


def decoder_stepper(model, sentence: str, src_tokenizer, src_vocab, tgt_vocab, k: int = 5,
                    max_len: Optional[int] = None, interval_ms: int = 900):
    """A Play button and a slider that step the decoder through the greedy translation of a sentence.

    Shows at every step the prefix generated so far, the ``k`` most probable next words and,
    for attention models, the attention weights over the source. A text box translates a
    sentence the learner types.

    Returns:
        ``ipywidgets.VBox``.
    """
    import ipywidgets as w

    text = w.Text(value=sentence, description="source:", layout=w.Layout(width="90%"))
    play = w.Play(min=0, max=0, step=1, interval=interval_ms, description="play")
    slider = w.IntSlider(min=0, max=0, description="step", continuous_update=True)
    slider.add_class("course-step-slider")
    w.jslink((play, "value"), (slider, "value"))
    caption = w.HTML()
    image = w.Image(format="png")
    image.add_class("course-step-figure")
    state = {}

    def retrace(_=None):
        tokens = src_tokenizer(text.value)
        if not tokens:
            caption.value = "<i>type a sentence to translate</i>"
            return
        state["trace"] = decode_trace(model, tokens, src_vocab, tgt_vocab, k=k, max_len=max_len)
        state["src"] = list(tokens) + ["<eos>"]
        n = len(state["trace"])
        slider.value = 0
        play.max = slider.max = n - 1
        render()

    def render(_=None):
        caption.value, image.value = stepper_frame(state["trace"], state["src"], slider.value)

    slider.observe(render, names="value")
    text.on_submit(retrace)
    retrace()
    return w.VBox([text, w.HBox([play, slider]), caption, image])


def attention_animation(translation: Translation, interval_ms: int = 700, title: str = ""):
    """The attention heatmap of one translation, revealed row by row as the decoder advances.

    Args:
        translation: a :class:`~course_lib.decoding.Translation` with ``attn_weights``.

    Returns:
        ``ipywidgets.VBox`` with a Play button, a slider and the heatmap.

    Raises:
        ValueError: the translation carries no attention weights (a model without attention).
    """
    import ipywidgets as w

    if translation.attn_weights is None:
        raise ValueError("this translation has no attention weights: use a model with attention")
    rows = translation.tokens + ["<eos>"]
    rows = rows[: translation.attn_weights.shape[0]]
    frames: List[Optional[bytes]] = [None] * len(rows)

    def frame(i: int) -> bytes:
        if frames[i] is None:
            fig = plot_attention(translation.attn_weights, translation.src_tokens, rows, upto=i + 1,
                                 title=title or "attention, step by step")
            frames[i] = figure_to_png(fig)
        return frames[i]

    play = w.Play(min=0, max=len(rows) - 1, step=1, interval=interval_ms)
    slider = w.IntSlider(min=0, max=len(rows) - 1, description="word")
    slider.add_class("course-attention-slider")
    w.jslink((play, "value"), (slider, "value"))
    image = w.Image(value=frame(0), format="png")
    image.add_class("course-attention-figure")
    label = w.HTML()

    def update(_=None):
        i = slider.value
        image.value = frame(i)
        label.value = f"generating <b>{html.escape(rows[i])}</b> (word {i + 1} of {len(rows)})"

    slider.observe(update, names="value")
    update()
    return w.VBox([w.HBox([play, slider, label]), image])
