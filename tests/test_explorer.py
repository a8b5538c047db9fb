"""The explorer's pure layer (headless) and the lesson-02 widgets built on it (in course_lib.widgets)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from course_lib.attention import DotAttention
from course_lib.explorer import (
    EXAMPLE_DECODER_STATE,
    EXAMPLE_ENCODER_STATES,
    EXPLORER_SCORE_NAMES,
    attention_steps,
    compare_score_functions,
    describe_step,
    example_attention,
    format_steps,
    plot_attention_steps,
    plot_explorer,
    plot_score_functions,
)
from course_lib.viz import figure_to_png
from course_lib.widgets import four_steps_animation, score_function_explorer


def test_example_steps_match_the_worked_example():
    steps = attention_steps(EXAMPLE_DECODER_STATE)
    np.testing.assert_allclose(steps["scores"], [15, 60, 15, 35])
    np.testing.assert_allclose(steps["weights"].sum(), 1.0)
    np.testing.assert_allclose(steps["context"], [5, 0, 1], atol=1e-9)
    np.testing.assert_allclose(steps["weighted"].sum(0), steps["context"])
    assert steps["weighted"].shape == (4, 3)


@pytest.mark.parametrize("name", EXPLORER_SCORE_NAMES)
def test_every_score_function_runs_and_is_normalised(name):
    steps = attention_steps(EXAMPLE_DECODER_STATE, score_name=name)
    assert steps["scores"].shape == (4,) and steps["context"].shape == (3,)
    np.testing.assert_allclose(steps["weights"].sum(), 1.0)
    np.testing.assert_allclose(steps["weights"] @ np.asarray(EXAMPLE_ENCODER_STATES), steps["context"])


def test_steps_are_deterministic_and_do_not_touch_global_rng():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = attention_steps(EXAMPLE_DECODER_STATE, score_name="additive")
    b = attention_steps(EXAMPLE_DECODER_STATE, score_name="additive")
    assert torch.equal(before, torch.get_rng_state())
    np.testing.assert_array_equal(a["weights"], b["weights"])


def test_temperature_softens():
    sharp = attention_steps(EXAMPLE_DECODER_STATE, temperature=1.0)["weights"]
    soft = attention_steps(EXAMPLE_DECODER_STATE, temperature=20.0)["weights"]
    assert soft.max() < sharp.max()
    assert soft.min() > sharp.min()


def test_pad_mask_gives_exact_zero():
    steps = attention_steps(EXAMPLE_DECODER_STATE, pad_mask=[False, True, False, True])
    assert steps["weights"][1] == 0.0 and steps["weights"][3] == 0.0
    np.testing.assert_allclose(steps["weights"].sum(), 1.0)


def test_given_module_is_used():
    steps = attention_steps(EXAMPLE_DECODER_STATE, module=DotAttention(temperature=5.0))
    assert steps["score_name"] == "dot" and steps["temperature"] == 5.0
    np.testing.assert_allclose(steps["scores"], [3, 12, 3, 7])


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="encoder_states"):
        attention_steps([1.0, 2.0], EXAMPLE_ENCODER_STATES)
    with pytest.raises(ValueError, match="pad_mask"):
        attention_steps(EXAMPLE_DECODER_STATE, pad_mask=[True])
    with pytest.raises(ValueError, match="at least one real"):
        attention_steps(EXAMPLE_DECODER_STATE, pad_mask=[True] * 4)
    with pytest.raises(ValueError, match="choose one of"):
        example_attention("nope", 3, 4)


def test_format_and_describe():
    steps = attention_steps(EXAMPLE_DECODER_STATE)
    text = format_steps(steps)
    assert "scores  = [15, 60, 15, 35]" in text and "context = [5," in text
    assert "15, 60, 15, 35" in describe_step(steps, 1)
    assert "context vector is [5," in describe_step(steps, 4)
    assert all(describe_step(steps, k) for k in range(5))


@pytest.mark.parametrize("upto", range(5))
def test_plot_attention_steps_returns_figure(upto):
    fig = plot_attention_steps(attention_steps(EXAMPLE_DECODER_STATE), upto)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert figure_to_png(fig).startswith(b"\x89PNG")


def test_plot_attention_steps_rejects_bad_step():
    with pytest.raises(ValueError, match="upto_step"):
        plot_attention_steps(attention_steps(EXAMPLE_DECODER_STATE), 5)


def test_pictures_are_reproducible_and_react_to_the_input():
    def png(state):
        return hashlib.sha256(figure_to_png(plot_explorer(attention_steps(state)))).hexdigest()

    assert png(EXAMPLE_DECODER_STATE) == png(EXAMPLE_DECODER_STATE)
    assert png(EXAMPLE_DECODER_STATE) != png([11.0, 5.0, 10.0])


def test_plot_score_functions_one_panel_each():
    fig = plot_score_functions(compare_score_functions())
    assert len(fig.axes) == len(EXPLORER_SCORE_NAMES)


def test_figures_are_not_registered_with_pyplot():
    import matplotlib.pyplot as plt

    n = len(plt.get_fignums())
    plot_explorer(attention_steps(EXAMPLE_DECODER_STATE))
    assert len(plt.get_fignums()) == n


def _find(widget, cls):
    if cls in getattr(widget, "_dom_classes", ()):
        return widget
    for child in getattr(widget, "children", ()):
        found = _find(child, cls)
        if found is not None:
            return found
    return None


def test_explorer_widget_updates_numbers_and_figure():
    pytest.importorskip("ipywidgets")
    box = score_function_explorer()
    slider, numbers, image = (_find(box, c) for c in ("attn-main-slider", "attn-numbers", "attn-figure"))
    assert slider is not None and numbers is not None and image is not None
    assert "scores  = [15, 60, 15, 35]" in numbers.value
    before_png, before_text = image.value, numbers.value
    slider.value = 11.0
    assert "scores  = [15, 65, 16, 35]" in numbers.value
    assert image.value != before_png and numbers.value != before_text
    _find(box, "attn-score-dropdown").value = "general"
    assert "score = general" in numbers.value


def test_animation_widget_walks_the_steps():
    pytest.importorskip("ipywidgets")
    box = four_steps_animation()
    slider, image, text = (_find(box, c) for c in ("attn-step-slider", "attn-steps-figure", "attn-step-text"))
    assert _find(box, "attn-play") is not None
    frames = set()
    for k in range(5):
        slider.value = k
        frames.add(image.value)
        assert (f"Step {k}" in text.value) if k else ("Play" in text.value)
    assert len(frames) == 5
