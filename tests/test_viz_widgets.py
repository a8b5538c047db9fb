import hashlib

import pytest
import torch

from course_lib.decoding import StepTrace, Translation
from course_lib.training import History
from course_lib.viz import figure_to_png, plot_attention, plot_decoder_step, plot_history, stepper_frame
from course_lib.widgets import attention_animation


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_attention_heatmap_renders_and_checks_labels():
    w = torch.softmax(torch.randn(3, 4), -1)
    png = figure_to_png(plot_attention(w, ["a", "b", "c", "<eos>"], ["x", "y", "<eos>"]))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    partial = figure_to_png(plot_attention(w, ["a", "b", "c", "<eos>"], ["x", "y", "<eos>"], upto=1))
    assert md5(png) != md5(partial), "revealing fewer rows must change the picture"
    with pytest.raises(ValueError, match="labels"):
        plot_attention(w, ["a", "b"], ["x", "y", "z"])


def trace():
    return [StepTrace(0, [], "a", ["a", "b"], [0.7, 0.2], [0.9, 0.1]),
            StepTrace(1, ["a"], "<eos>", ["<eos>", "b"], [0.6, 0.3], [0.2, 0.8])]


def test_stepper_frames_differ_between_steps():
    cap0, png0 = stepper_frame(trace(), ["x", "<eos>"], 0)
    cap1, png1 = stepper_frame(trace(), ["x", "<eos>"], 1)
    assert "step 1 of 2" in cap0 and "step 2 of 2" in cap1 and "a" in cap1
    assert md5(png0) != md5(png1)
    with pytest.raises(IndexError):
        plot_decoder_step(trace(), ["x", "<eos>"], 2)


def test_attention_animation_widget_moves():
    tr = Translation(["x", "y", "<eos>"], ["a", "b"], torch.softmax(torch.randn(3, 3), -1))
    box = attention_animation(tr)
    slider = box.children[0].children[0].children[1]
    image = box.children[1]
    before = md5(image.value)
    slider.value = 2
    assert md5(image.value) != before
    with pytest.raises(ValueError, match="no attention"):
        attention_animation(Translation(["x"], ["a"], None))


def test_history_plot():
    h = History(epochs=[{"epoch": 1, "train_loss": 2.0, "val_loss": 2.1}, {"epoch": 2, "train_loss": 1.5, "val_loss": 1.8}],
                steps=[{"step": i, "loss": 3.0 - 0.1 * i} for i in range(10)])
    fig = plot_history(h)
    assert len(fig.axes) == 2 and len(fig.axes[1].lines) == 2


def test_decoder_stepper_steps_and_retranslates_typed_text():
    pytest.importorskip("ipywidgets")
    from tests.test_explorer import _find
    from tests.test_widgets_beam import VOCAB, tiny_model

    from course_lib.widgets import decoder_stepper

    model = tiny_model()
    with torch.no_grad():
        model.out.bias[VOCAB.eos_id] = -20.0  # no early <eos>: several steps to walk through
    box = decoder_stepper(model, "w1 w2 w3", str.split, VOCAB, VOCAB, k=3, max_len=6)
    slider, image = _find(box, "course-step-slider"), _find(box, "course-step-figure")
    text, caption = box.children[0], box.children[2]
    assert slider.max >= 1 and "step 1 of" in caption.value
    first = md5(image.value)
    slider.value = 1
    assert md5(image.value) != first and "step 2 of" in caption.value
    text.value = "w4 w5"
    assert slider.value == 0 and "w4 w5" in caption.value
    text.value = "   "
    assert "type a sentence" in caption.value


def test_beam_explorer_retranslates_typed_text():
    pytest.importorskip("ipywidgets")
    from tests.test_explorer import _find
    from tests.test_widgets_beam import VOCAB, tiny_model

    from course_lib.widgets import beam_explorer

    box = beam_explorer(tiny_model(), "w1 w2 w3", str.split, VOCAB, VOCAB, max_len=6)
    nbest = _find(box, "beam-nbest").value
    box.children[0].value = "w6 w7 w4 w4"
    assert _find(box, "beam-nbest").value != nbest
