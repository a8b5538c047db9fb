"""Issue 15 §3 and §4, headless: the what-ifs' state changes and the Play fix.

- Play: reaching the last frame stops Play from the kernel, so the browser's pending Play tick
  cannot undo a step back (replayed here with the browser's ``PlayModel.loop``).
- The decoder stepper's "what if?": another top-k word at a step, forced decoding from there.
- The BPE merge stepper: words the learner types, one merge per step.
"""

from __future__ import annotations

import hashlib
import html

import pytest
import torch

pytest.importorskip("ipywidgets")

from course_lib import widgets  # noqa: E402
from course_lib.checks import InputTypeError  # noqa: E402
from course_lib.data import train_subword_tokenizer  # noqa: E402
from course_lib.decoding import StepTrace  # noqa: E402
from tests.test_explorer import _find  # noqa: E402
from tests.test_widgets_beam import VOCAB, tiny_model  # noqa: E402


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope="module")
def subword_tokenizer():
    words = "lower lowest newer newest wider widest slower slowest the cat sat on the mat".split()
    texts = [" ".join(words[i:] + words[:i]) for i in range(len(words))]
    return train_subword_tokenizer(texts, vocab_size=120, min_frequency=1, cache=False)


# -- Play (issue 15 §4) ----------------------------------------------------------------------


class BrowserPlay:
    """The browser side of ``play_slider``: ipywidgets 8's ``PlayModel.loop`` and the ``jslink``.

    ``tick()`` is one timer tick of ``loop``: it returns at once when ``playing`` is False, else
    it adds ``step`` and schedules the next tick, or pauses past ``max``. Messages between the
    browser and the kernel keep their order, so the kernel's ``playing = False``, sent while it
    handles the last frame, arrives before that frame's picture (the learner's cue to step back).
    """

    def __init__(self, control):
        self.control = control

    def move(self, value):  # the jslink: the slider and the Play value move together
        self.control.play.value = self.control.slider.value = value

    def tick(self):
        play = self.control.play
        if not play.playing:
            return
        if play.value + 1 <= play.max:
            self.move(play.value + 1)
        else:
            play.playing = False


def test_a_step_back_after_play_reached_the_end_stays():
    drawn = []
    control = widgets.play_slider(4, drawn.append, interval_ms=10)
    browser = BrowserPlay(control)
    control.play.playing = True  # the learner presses Play
    for _ in range(3):
        browser.tick()
    assert control.slider.value == 3 and drawn[-1] == 3
    assert control.play.playing is False, "reaching the last frame stops Play before it is drawn"
    browser.move(2)  # ArrowLeft on the slider
    browser.tick()  # the tick that was already scheduled when Play reached the end
    assert control.slider.value == 2 and drawn[-1] == 2, "the learner's step back must stay"


def test_play_still_plays_through_and_restarts_from_the_end():
    drawn = []
    control = widgets.play_slider(3, drawn.append, interval_ms=10)
    browser = BrowserPlay(control)
    control.play.playing = True
    browser.move(1)  # the learner moves the slider mid-play: Play goes on from there
    browser.tick()
    assert control.slider.value == 2 and control.play.playing is False
    browser.move(0)
    control.play.playing = True
    browser.tick()
    assert control.slider.value == 1 and control.play.playing, "not at the end: Play goes on"
    control.set_frames(5, frame=3)
    assert (control.slider.value, control.play.max, drawn[-1]) == (3, 4, 3) and not control.play.playing
    control.set_frames(2, frame=7)
    assert control.slider.value == 1 and drawn[-1] == 1


# -- the decoder stepper's what-if (issue 15 §3) ------------------------------------------------


def test_what_if_prefix_keeps_the_words_before_and_forces_the_choice():
    trace = [StepTrace(0, [], "a", ["a", "b"], [0.6, 0.3], None),
             StepTrace(1, ["a"], "c", ["c", "d"], [0.5, 0.4], None, forced=True),
             StepTrace(2, ["a", "c"], "<eos>", ["<eos>", "e"], [0.9, 0.1], None)]
    assert widgets.what_if_prefix(trace, 0, "b") == ["b"]
    assert widgets.what_if_prefix(trace, 2, "e") == ["a", "c", "e"], "earlier choices are kept"
    with pytest.raises(ValueError, match="step"):
        widgets.what_if_prefix(trace, 3, "e")
    with pytest.raises(InputTypeError):
        widgets.what_if_prefix(trace, 1, None)


def stepper():
    model = tiny_model()
    with torch.no_grad():
        model.out.bias[VOCAB.eos_id] = -20.0  # no early <eos>: several steps
    box = widgets.decoder_stepper(model, "w1 w2 w3", str.split, VOCAB, VOCAB, k=4, max_len=6)
    parts = {css: _find(box, css) for css in ("course-step-slider", "course-step-figure", "course-whatif-choice",
                                              "course-whatif-go", "course-whatif-reset")}
    return box, parts, box.children[2]


def test_what_if_forces_another_word_and_decodes_the_rest_again():
    box, p, caption = stepper()
    slider, choice = p["course-step-slider"], p["course-whatif-choice"]
    slider.value = 2
    greedy_step3 = md5(p["course-step-figure"].value)
    slider.value = 1
    greedy_word, greedy_caption = choice.value, caption.value
    assert len(choice.options) == 4 and greedy_word == choice.options[0], "the top-k, greedy's word first"
    other = choice.options[2]
    choice.value = other
    p["course-whatif-go"].click()
    assert slider.value == 1, "the stepper stays at the step the learner changed"
    assert choice.value == other and f"<b>{other}</b> instead of {html.escape(greedy_word)}" in caption.value
    assert caption.value != greedy_caption
    slider.value = 2  # the next step is decoded from the forced word: new top-k and attention
    assert other in caption.value.split("generated so far:")[1].split("next:")[0]
    assert md5(p["course-step-figure"].value) != greedy_step3
    slider.value = 3
    p["course-whatif-reset"].click()
    assert slider.value == 3 and "what if" not in caption.value
    slider.value = 1
    assert caption.value == greedy_caption, "back to greedy is the first translation again"


def test_what_if_survives_until_a_new_sentence_is_typed():
    box, p, caption = stepper()
    choice = p["course-whatif-choice"]
    choice.value = choice.options[1]
    p["course-whatif-go"].click()
    assert "what if" in caption.value
    box.children[0].value = "w4 w5"
    assert "what if" not in caption.value and p["course-step-slider"].value == 0


# -- the BPE merge stepper (issue 15 §3) ---------------------------------------------------------


def test_merge_frame_names_each_words_merge():
    steps = [[["▁", "l", "o", "w"], ["▁", "lo", "w"], ["▁", "low"], ["▁low"]], [["▁", "a"], ["▁a"]]]
    assert widgets.merge_frame(steps, 0) == [(["▁", "l", "o", "w"], ""), (["▁", "a"], "")]
    assert widgets.merge_frame(steps, 1) == [(["▁", "lo", "w"], "l + o → lo"), (["▁a"], "▁ + a → ▁a")]
    assert widgets.merge_frame(steps, 2) == [(["▁", "low"], "lo + w → low"), (["▁a"], "")]
    assert widgets.merge_frame(steps, 3) == [(["▁low"], "▁ + low → ▁low"), (["▁a"], "")]
    assert widgets.merge_frame(steps, 9) == [(["▁low"], ""), (["▁a"], "")], "past the end: the final pieces"
    assert widgets.merge_frame([], 3) == []
    with pytest.raises(ValueError, match="step"):
        widgets.merge_frame(steps, -1)


def test_bpe_merge_stepper_steps_through_the_merges_of_typed_words(subword_tokenizer):
    box = widgets.bpe_merge_stepper(subword_tokenizer, "lowest")
    slider, pieces, text = (_find(box, c) for c in ("bpe-step-slider", "bpe-pieces", "bpe-text"))
    final = subword_tokenizer("lowest")
    assert slider.max == len("lowest") + 1 - len(final), "one frame per merge, from ▁ + characters"
    assert "merge 0 of" in pieces.value and pieces.value.count("<span") == len("lowest") + 1
    slider.value = 1
    assert "merge 1 of" in pieces.value and " + " in pieces.value
    slider.value = slider.max
    assert pieces.value.count("<span") == len(final)
    text.value = "newer wider"
    assert slider.value == 0 and pieces.value.count("<br>") == 2, "one row per typed word"
    text.value = "   "
    assert "type some words" in pieces.value
    with pytest.raises(InputTypeError):
        widgets.bpe_merge_stepper(str.split, "lowest")
    with pytest.raises(InputTypeError):
        widgets.bpe_merge_stepper(subword_tokenizer, ["lowest"])
