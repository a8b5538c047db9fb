"""Issue 15 §1: every course widget leaves a picture of its current state in the saved output.

Displaying a widget (IPython's own display formatter, as a notebook cell does) must give ONE
mimebundle holding the widget view (what a front end with a kernel draws), a valid PNG of the
current state (what GitHub, nbviewer or an untrusted JupyterLab draw) and a readable
``text/plain`` instead of the ``VBox(children=...`` repr; the PNG changes when the state does.
"""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
import torch

pytest.importorskip("ipywidgets")

from IPython.core.formatters import DisplayFormatter  # noqa: E402
from PIL import Image  # noqa: E402

from course_lib import widgets  # noqa: E402
from course_lib.data import EOS  # noqa: E402
from course_lib.decoding import Translation  # noqa: E402
from tests.test_explorer import _find  # noqa: E402
from tests.test_widgets_beam import VOCAB, tiny_model  # noqa: E402
from tests.test_widgets_whatif import subword_tokenizer  # noqa: E402,F401 (a fixture)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def displayed(box, min_height: int = 50) -> tuple[dict, bytes]:
    """The mimebundle a notebook cell showing ``box`` saves, and its PNG decoded and checked."""
    data, _ = DisplayFormatter().format(box)
    assert data[WIDGET_VIEW]["model_id"] == box.model_id, "the live widget view is in the same output"
    assert not data["text/plain"].startswith(("VBox(", "HBox(")) and "run the notebook" in data["text/plain"]
    png = base64.b64decode(data["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.width > 100 and image.height > min_height
    return data, png


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class Split:
    """A whitespace tokeniser with ``detokenize`` (what a bundle's Translator needs)."""

    def __call__(self, text):
        return text.split()

    def detokenize(self, tokens):
        return " ".join(tokens)


def test_decoder_stepper_picture_follows_the_step():
    model = tiny_model()
    with torch.no_grad():
        model.out.bias[VOCAB.eos_id] = -20.0
    box = widgets.decoder_stepper(model, "w1 w2 w3", str.split, VOCAB, VOCAB, k=3, max_len=5)
    data, first = displayed(box)
    assert "step 1 of" in data["text/plain"]
    _find(box, "course-step-slider").value = 2
    data, third = displayed(box)
    assert md5(third) != md5(first) and "step 3 of" in data["text/plain"]


def test_attention_animation_picture_is_an_animated_png_of_every_row():
    tr = Translation(["x", "y", EOS], ["a", "b"], torch.softmax(torch.randn(3, 3), -1))
    box = widgets.attention_animation(tr, interval_ms=500)
    _, first = displayed(box)
    image = Image.open(io.BytesIO(first))
    assert b"acTL" in first and getattr(image, "is_animated", False) and image.n_frames == 1 + 3  # the still image, then one frame per row
    box.children[0].children[0].children[1].value = 2  # the slider: the still image is the current frame
    _, last = displayed(box)
    assert md5(last) != md5(first)


def test_lesson02_widgets_have_pictures():
    explorer = widgets.score_function_explorer()
    _, before = displayed(explorer)
    _find(explorer, "attn-main-slider").value = 12.0
    assert md5(displayed(explorer)[1]) != md5(before)
    animation = widgets.four_steps_animation(interval_ms=100)
    _, start = displayed(animation)
    assert b"acTL" in start
    _find(animation, "attn-step-slider").value = 4
    assert md5(displayed(animation)[1]) != md5(start)


def test_beam_explorer_picture_shows_the_step_and_the_tree():
    box = widgets.beam_explorer(tiny_model(), "w1 w2 w3", str.split, VOCAB, VOCAB, beam_size=2, max_len=6)
    _, first = displayed(box)
    step_png = Image.open(io.BytesIO(_find(box, "beam-figure").value))
    assert Image.open(io.BytesIO(first)).height > step_png.height, "the step picture and the tree, stacked"
    _find(box, "beam-step-slider").value = 1
    assert md5(displayed(box)[1]) != md5(first)


def test_translator_picture_follows_the_sentence():
    from course_lib.bundle import Translator

    tr = Translator(tiny_model(), VOCAB, VOCAB, Split(), Split())
    box = widgets.translator(tr, "w1 w2", beam_size=2, n_best=2, max_len=5)
    data, first = displayed(box)
    assert "w1 w2" in data["text/plain"]
    _find(box, "translator-text").value = "w5 w6 w7"
    assert md5(displayed(box)[1]) != md5(first)
    _find(box, "translator-text").value = ""
    displayed(box, min_height=20)  # no sentence yet: a picture of the prompt


def test_bpe_merge_stepper_picture_follows_the_merge(subword_tokenizer):
    box = widgets.bpe_merge_stepper(subword_tokenizer, "lowest newer")
    data, first = displayed(box)
    assert "merge 0 of" in data["text/plain"]
    _find(box, "bpe-step-slider").value = 2
    assert md5(displayed(box)[1]) != md5(first)


def test_snapshot_png_is_deterministic_and_stacks_pictures():
    small = widgets.snapshot_png(["one line"])
    assert small == widgets.snapshot_png(["one line"]) and small != widgets.snapshot_png(["another line"])
    tall = widgets.snapshot_png(["ä ß $x$ <b>"], [small, small])
    assert Image.open(io.BytesIO(tall)).height > 2 * Image.open(io.BytesIO(small)).height - 20
