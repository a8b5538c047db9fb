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


def _find_all(widget, cls):
    found = [widget] if cls in getattr(widget, "_dom_classes", ()) else []
    for child in getattr(widget, "children", ()):
        found += _find_all(child, cls)
    return found


def _weights_line(numbers_html: str) -> list[str]:
    line = next(l for l in numbers_html.splitlines() if "weights = [" in l)
    return line.split("[", 1)[1].rsplit("]", 1)[0].split(", ")


def test_explorer_labels_count_from_zero_like_the_code():
    pytest.importorskip("ipywidgets")
    box = score_function_explorer()
    sliders = _find_all(box, "attn-slider")
    assert [s.description for s in sliders] == ["h_t[0]", "h_t[1]", "h_t[2]"]
    assert [s.value for s in sliders] == list(EXAMPLE_DECODER_STATE)
    # the lesson's exercise: raising h_t[1] to 10 makes h_4 = [0, 5, 1] tie with h_2 (both 60)
    sliders[1].value = 10.0
    assert "scores  = [20, 60, 20, 60]" in _find(box, "attn-numbers").value


def test_explorer_editing_an_encoder_state_changes_the_scores():
    pytest.importorskip("ipywidgets")
    box = score_function_explorer()
    numbers, image = _find(box, "attn-numbers"), _find(box, "attn-figure")
    select, enc_sliders = _find(box, "attn-enc-select"), _find_all(box, "attn-enc-slider")
    assert select is not None and len(enc_sliders) == 3
    assert [s.value for s in enc_sliders] == list(EXAMPLE_ENCODER_STATES[0])
    before_png = image.value
    select.value = 3  # h4 = [0, 5, 1]: choosing a state loads its numbers and changes nothing else
    assert [s.value for s in enc_sliders] == list(EXAMPLE_ENCODER_STATES[3])
    assert "scores  = [15, 60, 15, 35]" in numbers.value
    enc_sliders[0].value = 1.0  # h4 = [1, 5, 1]: its dot score rises by h_t[0] = 10
    assert "scores  = [15, 60, 15, 45]" in numbers.value
    assert image.value != before_png
    select.value = 1  # the edit of h4 is kept while another state is shown
    assert [s.value for s in enc_sliders] == list(EXAMPLE_ENCODER_STATES[1])
    assert "scores  = [15, 60, 15, 45]" in numbers.value


def test_explorer_padding_check_box_gives_exactly_zero_weight():
    pytest.importorskip("ipywidgets")
    box = score_function_explorer(temperature=20.0)
    numbers, boxes = _find(box, "attn-numbers"), _find_all(box, "attn-pad-mask")
    assert len(boxes) == 4 and not any(b.value for b in boxes)
    assert "0" not in _weights_line(numbers.value)  # no weight is exactly zero at temperature 20
    boxes[1].value = True  # h2, the winner, becomes padding
    weights = _weights_line(numbers.value)
    assert weights[1] == "0" and all(x != "0" for i, x in enumerate(weights) if i != 1)
    assert abs(sum(float(x) for x in weights) - 1.0) < 1e-2
    for b in boxes:  # every position padding: the error is shown, the widget stays alive
        b.value = True
    assert "mask" in numbers.value.lower()
    boxes[0].value = False
    assert _weights_line(numbers.value)[0] == "1"


def test_explorer_accepts_an_initial_pad_mask_and_checks_it():
    pytest.importorskip("ipywidgets")
    box = score_function_explorer(pad_mask=[False, False, True, True])
    assert [b.value for b in _find_all(box, "attn-pad-mask")] == [False, False, True, True]
    weights = _weights_line(_find(box, "attn-numbers").value)
    assert weights[2:] == ["0", "0"]
    with pytest.raises(ValueError):
        score_function_explorer(pad_mask=[True, False])
    with pytest.raises(TypeError):
        score_function_explorer(pad_mask="TFTF")
    with pytest.raises(ValueError):
        score_function_explorer(value_range=(1.0,))


def test_steps_editing_an_encoder_state_and_masking():
    edited = [list(r) for r in EXAMPLE_ENCODER_STATES]
    edited[0][1] += 2.0  # h1 = [0, 3, 1]: its dot score rises by 2 * h_t[1] = 10
    base = attention_steps(EXAMPLE_DECODER_STATE)
    moved = attention_steps(EXAMPLE_DECODER_STATE, edited)
    np.testing.assert_allclose(moved["scores"] - base["scores"], [10, 0, 0, 0])
    for name in EXPLORER_SCORE_NAMES:
        steps = attention_steps(EXAMPLE_DECODER_STATE, edited, name, temperature=5.0, pad_mask=[False, True, False, True])
        assert steps["weights"][1] == 0.0 and steps["weights"][3] == 0.0
        np.testing.assert_allclose(steps["weights"].sum(), 1.0)
