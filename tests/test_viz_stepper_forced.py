"""The decoder stepper at a forced step (issue 15 §3 what-if): the word taken is the orange bar and the
caption gives its probability (or says it was outside the top-k); the translation line shows words."""

from __future__ import annotations

import html

import pytest
import torch
from matplotlib.colors import to_hex

from course_lib import viz
from course_lib.data import SPECIALS, Vocab
from course_lib.decoding import StepTrace, decode_trace
from tests.test_widgets_beam import VOCAB, tiny_model

SRC = ["w1", "w2", "<eos>"]


def bar_colors(fig):
    return [to_hex(p.get_facecolor()) for p in fig.axes[0].patches]


def test_the_word_taken_is_orange_and_its_probability_is_in_the_caption():
    orange, blue = to_hex("tab:orange"), to_hex("tab:blue")
    trace = [StepTrace(0, [], "w1", ["w1", "w2", "w3"], [0.6, 0.3, 0.1], None),
             StepTrace(1, ["w1"], "w3", ["w2", "w4", "w3"], [0.5, 0.3, 0.2], None, forced=True),
             StepTrace(2, ["w1", "w3"], "w7", ["w2", "w4"], [0.5, 0.4], None, forced=True)]
    assert bar_colors(viz.plot_decoder_step(trace, SRC, 0)) == [orange, blue, blue]
    assert bar_colors(viz.plot_decoder_step(trace, SRC, 1)) == [blue, blue, orange], "the forced word, not the top"
    assert bar_colors(viz.plot_decoder_step(trace, SRC, 2)) == [blue, blue], "a word outside the top-k: no bar"
    assert "(p = 0.60)" in viz.stepper_frame(trace, SRC, 0)[0]
    assert "<b>w3</b> (p = 0.20)" in viz.stepper_frame(trace, SRC, 1)[0]
    assert "<b>w7</b> (outside the top 2)" in viz.stepper_frame(trace, SRC, 2)[0]
    assert "(forced)" in viz.plot_decoder_step(trace, SRC, 1).axes[0].get_title()


def test_a_what_if_word_from_decode_trace_shows_its_own_probability():
    model = tiny_model()
    with torch.no_grad():
        model.out.bias[VOCAB.eos_id] = -20.0  # no early <eos>: several steps
    greedy = decode_trace(model, ["w1", "w2"], VOCAB, VOCAB, k=4, max_len=5)
    other = greedy[1].topk_tokens[2]
    trace = decode_trace(model, ["w1", "w2"], VOCAB, VOCAB, k=4, max_len=5, prefix=[greedy[0].token, other])
    s = trace[1]
    assert s.forced and s.token == other and s.topk_tokens == greedy[1].topk_tokens
    caption, _ = viz.stepper_frame(trace, SRC, 1)
    assert f"<b>{html.escape(other)}</b> (p = {s.topk_probs[2]:.2f})" in caption
    assert bar_colors(viz.plot_decoder_step(trace, SRC, 1)).index(to_hex("tab:orange")) == 2


def test_stepper_translation_line_shows_words_not_pieces():
    pytest.importorskip("ipywidgets")
    from course_lib import widgets
    from tests.test_explorer import _find

    pieces = Vocab(list(SPECIALS) + ["▁a", "b", "▁c", "d", "▁e", "f", "▁g", "h"])
    model = tiny_model()
    with torch.no_grad():
        model.out.bias[:len(SPECIALS)] = -20.0  # pieces only, several steps
    box = widgets.decoder_stepper(model, "▁a b ▁c", str.split, pieces, pieces, k=4, max_len=6)
    assert _find(box, "course-step-slider") is not None
    caption = box.children[2].value
    trace = decode_trace(model, ["▁a", "b", "▁c"], pieces, pieces, k=4, max_len=6)
    assert any(s.token.startswith("▁") for s in trace) and "·" in viz.display_text([s.token for s in trace])
    line = caption.split("<b>translation:</b> ")[1].split("<br>")[0]
    assert line == html.escape(viz.display_text([s.token for s in trace])) and "▁" not in line
