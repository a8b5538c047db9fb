"""Adversarial input for the figure and widget layers (viz, explorer, compare, widgets).

Every public function must refuse bad input with a ValueError (wrong types: an error that is
both a TypeError and a ValueError) that says what was wrong, before drawing anything.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pytest
import torch

from course_lib import compare, explorer, viz, widgets
from course_lib.data import EOS
from course_lib.decoding import StepTrace, Translation
from course_lib.training import History


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def weights(T=3, S=4):
    return torch.softmax(torch.randn(T, S, generator=torch.Generator().manual_seed(0)), -1)


SRC = ["ein", "hund", "bellt", EOS]
TGT = ["a", "dog", EOS]


# -- plot_attention -------------------------------------------------------------------------


def test_attention_rows_that_do_not_match_the_target_tokens_name_the_rows():
    with pytest.raises(ValueError, match=r"3 rows .* 2 target labels"):
        viz.plot_attention(weights(), SRC, TGT[:2])


def test_attention_columns_that_do_not_match_the_source_tokens_name_the_columns():
    with pytest.raises(ValueError, match=r"4 columns .* 5 source labels"):
        viz.plot_attention(weights(), SRC + ["x"], TGT)


def test_attention_transposed_matrix_is_refused():
    with pytest.raises(ValueError, match="rows"):
        viz.plot_attention(weights().T, SRC, TGT)


@pytest.mark.parametrize("which", ["src", "tgt"])
def test_attention_refuses_a_bare_string_for_tokens(which):
    src, tgt = ("ein hund bellt <eos>", TGT) if which == "src" else (SRC, "a dog <eos>")
    with pytest.raises(TypeError, match="list of tokens"):
        viz.plot_attention(weights(), src, tgt)
    with pytest.raises(ValueError):  # the same error is a ValueError too
        viz.plot_attention(weights(), src, tgt)


def test_attention_refuses_nan_batched_empty_and_non_numeric_weights():
    w = weights().clone()
    w[1, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        viz.plot_attention(w, SRC, TGT)
    with pytest.raises(ValueError, match=r"attn_weights\[0\]"):
        viz.plot_attention(weights()[None], SRC, TGT)
    with pytest.raises(ValueError, match="empty"):
        viz.plot_attention(np.zeros((0, 4)), SRC, [])
    with pytest.raises(ValueError):
        viz.plot_attention([["a", "b"]], ["x", "y"], ["z"])
    with pytest.raises(ValueError, match="empty"):
        viz.plot_attention(weights(), [], TGT)


@pytest.mark.parametrize("upto", [-1, 4, 1.5, True])
def test_attention_upto_out_of_range_or_not_an_int(upto):
    with pytest.raises(ValueError, match="upto"):
        viz.plot_attention(weights(), SRC, TGT, upto=upto)


def test_attention_heatmap_annotates_small_maps_and_reveals_rows():
    small = viz.plot_attention(weights(), SRC, TGT)
    assert len(small.axes[0].texts) == 12, "a small map writes every weight in its cell"
    big_w = torch.softmax(torch.randn(15, 14), -1)
    big = viz.plot_attention(big_w, [f"s{i}" for i in range(14)], [f"t{i}" for i in range(15)])
    assert len(big.axes[0].texts) == 0
    upto1 = viz.plot_attention(weights(), SRC, TGT, upto=1)
    assert len(upto1.axes[0].texts) == 4, "hidden rows carry no numbers"
    assert [t.get_text() for t in small.axes[0].get_yticklabels()] == TGT
    assert [t.get_text() for t in small.axes[0].get_xticklabels()] == SRC


def test_attention_does_not_change_global_style():
    import matplotlib

    before = dict(matplotlib.rcParams)
    viz.plot_attention(weights(), SRC, TGT)
    viz.plot_bleu_by_length({"m": pd.DataFrame({"bucket": ["1-10"], "sentences": [2], "bleu": [3.0]})})
    assert dict(matplotlib.rcParams) == before


# -- other figures ---------------------------------------------------------------------------


def test_history_empty_or_nan_or_not_a_history():
    with pytest.raises(ValueError, match="empty"):
        viz.plot_history(History())
    with pytest.raises(ValueError, match="NaN"):
        viz.plot_history(History(steps=[{"step": 1, "loss": float("nan")}]))
    with pytest.raises(TypeError, match="History"):
        viz.plot_history({"steps": []})
    fig = viz.plot_history(History(steps=[{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}]))
    assert len(fig.axes[0].lines) == 1


def bleu_table(bleus, buckets=("1-10", "11-15", "16+")):
    return pd.DataFrame({"bucket": list(buckets)[: len(bleus)], "sentences": [3, 2, 1][: len(bleus)],
                         "bleu": list(bleus)})


def test_bleu_by_length_checks_and_draws_one_bar_per_model_and_bucket():
    fig = viz.plot_bleu_by_length({"a": bleu_table([1.0, 2.0, 3.0]), "b": bleu_table([4.0, 5.0, 6.0])})
    heights = sorted(round(p.get_height(), 6) for p in fig.axes[0].patches if p.get_height() > 0)
    assert heights == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="empty"):
        viz.plot_bleu_by_length({})
    with pytest.raises(ValueError, match="buckets"):
        viz.plot_bleu_by_length({"a": bleu_table([1.0, 2.0]), "b": bleu_table([1.0, 2.0], ("x", "y"))})
    with pytest.raises(ValueError, match="bleu"):
        viz.plot_bleu_by_length({"a": bleu_table([1.0]).drop(columns="bleu")})
    with pytest.raises(TypeError):
        viz.plot_bleu_by_length([bleu_table([1.0])])


def test_bleu_by_length_draws_an_empty_bucket_without_failing():
    table = bleu_table([4.0, float("nan"), 2.0])
    fig = viz.plot_bleu_by_length({"a": table})
    heights = [p.get_height() for p in fig.axes[0].patches if np.isfinite(p.get_height()) and p.get_height() > 0]
    assert sorted(heights) == [2.0, 4.0]
    assert list(compare.compare_bleu_by_length({"a": table})["a"].isna()) == [False, True, False]


def test_length_histogram_checks():
    with pytest.raises(ValueError, match="empty"):
        viz.plot_length_histogram({})
    with pytest.raises(ValueError, match="empty"):
        viz.plot_length_histogram({"de": []})
    with pytest.raises(TypeError, match="str"):
        viz.plot_length_histogram({"de": "3 4 5"})
    with pytest.raises(ValueError, match="non-negative integers"):
        viz.plot_length_histogram({"de": [3, -1]})
    assert viz.plot_length_histogram({"de": [1, 2, 2], "en": [3]}).axes


def test_figure_to_png_refuses_non_figures():
    with pytest.raises(TypeError, match="Figure"):
        viz.figure_to_png("not a figure")
    with pytest.raises(ValueError, match="dpi"):
        viz.figure_to_png(viz.plot_attention(weights(), SRC, TGT), dpi=0)


# -- decoder stepper frames -------------------------------------------------------------------


def trace():
    return [StepTrace(0, [], "a", ["a", "b"], [0.7, 0.2], [0.5, 0.3, 0.1, 0.1]),
            StepTrace(1, ["a"], EOS, [EOS, "b"], [0.6, 0.3], [0.1, 0.1, 0.2, 0.6])]


@pytest.mark.parametrize("step", [-1, 2, 100])
def test_stepper_step_out_of_range_is_a_value_error(step):
    with pytest.raises(ValueError, match="outside"):
        viz.stepper_frame(trace(), SRC, step)
    with pytest.raises(IndexError):  # and still an IndexError, as before
        viz.plot_decoder_step(trace(), SRC, step)


def test_stepper_other_bad_input():
    with pytest.raises(TypeError, match="integer"):
        viz.stepper_frame(trace(), SRC, 0.0)
    with pytest.raises(ValueError, match="empty"):
        viz.stepper_frame([], SRC, 0)
    with pytest.raises(TypeError, match="StepTrace"):
        viz.stepper_frame([{"token": "a"}], SRC, 0)
    with pytest.raises(TypeError, match="list of tokens"):
        viz.stepper_frame(trace(), "ein hund bellt <eos>", 0)
    with pytest.raises(ValueError, match="attends over 4 source positions"):
        viz.plot_decoder_step(trace(), SRC[:3], 0)
    bad = [StepTrace(0, [], "a", ["a"], [float("nan")], None)]
    with pytest.raises(ValueError, match="finite"):
        viz.plot_decoder_step(bad, SRC, 0)


def test_stepper_frame_escapes_html():
    tr = [StepTrace(0, [], "<b>", ["<b>"], [1.0], None)]
    caption, _ = viz.stepper_frame(tr, ["<script>", EOS], 0)
    assert "<script>" not in caption and "&lt;script&gt;" in caption


# -- the explorer's pure functions --------------------------------------------------------------


def test_explorer_bad_numbers():
    with pytest.raises(ValueError, match="NaN"):
        explorer.attention_steps([10.0, float("nan"), 10.0])
    with pytest.raises(ValueError, match="NaN"):
        explorer.attention_steps([10.0, 5.0, 10.0], [[0.0, math.inf, 1.0]])
    with pytest.raises(TypeError, match="str"):
        explorer.attention_steps("10 5 10")
    with pytest.raises(ValueError, match="empty"):
        explorer.attention_steps([1.0, 2.0], np.zeros((0, 2)))
    with pytest.raises(ValueError, match="H >= 1"):
        explorer.attention_steps([], [[]])
    with pytest.raises(ValueError, match="temperature"):
        explorer.attention_steps([10.0, 5.0, 10.0], temperature=0.0)
    with pytest.raises(ValueError, match="temperature"):
        explorer.attention_steps([10.0, 5.0, 10.0], temperature=float("nan"))
    with pytest.raises(ValueError, match="choose one of"):
        explorer.attention_steps([10.0, 5.0, 10.0], score_name="nope")
    with pytest.raises(TypeError):
        explorer.attention_steps([10.0, 5.0, 10.0], pad_mask="TFTF")
    with pytest.raises(TypeError, match="Attention"):
        explorer.attention_steps([10.0, 5.0, 10.0], module=torch.nn.Linear(3, 3))


def test_explorer_does_not_change_a_given_module():
    module = explorer.example_attention("general", 3, 4)
    dtype = next(module.parameters()).dtype
    explorer.attention_steps([10.0, 5.0, 10.0], module=module)
    assert next(module.parameters()).dtype == dtype


@pytest.mark.parametrize("kwargs", [dict(dim=0), dict(num_positions=0), dict(dim=2.5), dict(temperature=-1.0),
                                    dict(seed="zero")])
def test_example_attention_bad_sizes(kwargs):
    args = dict(score_name="general", dim=3, num_positions=4) | kwargs
    with pytest.raises(ValueError):
        explorer.example_attention(**args)


def test_compare_score_functions_refuses_a_bare_name_and_empty_list():
    with pytest.raises(TypeError, match=r"\['dot'\]"):
        explorer.compare_score_functions(names="dot")
    with pytest.raises(ValueError, match="empty"):
        explorer.compare_score_functions(names=[])


@pytest.mark.parametrize("k", [-1, 5, 2.0])
def test_describe_and_plot_steps_out_of_range(k):
    steps = explorer.attention_steps(explorer.EXAMPLE_DECODER_STATE)
    with pytest.raises(ValueError, match="upto_step"):
        explorer.describe_step(steps, k)
    with pytest.raises(ValueError, match="upto_step"):
        explorer.plot_attention_steps(steps, k)


def test_steps_dict_is_checked():
    for fn in (explorer.format_steps, explorer.plot_explorer, lambda s: explorer.describe_step(s, 1)):
        with pytest.raises(ValueError, match="attention_steps"):
            fn({"scores": [1.0]})
        with pytest.raises(TypeError):
            fn([1.0, 2.0])
    with pytest.raises(ValueError, match="empty"):
        explorer.plot_score_functions({})


@pytest.mark.parametrize("kwargs", [dict(dpi=0), dict(dpi=float("nan")), dict(figsize=(3.0,)), dict(figsize=(0, 2))])
def test_explorer_figures_refuse_bad_sizes(kwargs):
    steps = explorer.attention_steps(explorer.EXAMPLE_DECODER_STATE)
    for draw in (lambda: explorer.plot_attention_steps(steps, 4, **kwargs), lambda: explorer.plot_explorer(steps, **kwargs),
                 lambda: explorer.plot_score_functions({"dot": steps}, **kwargs)):
        with pytest.raises(ValueError):
            draw()


def test_explorer_no_longer_forwards_widget_names():
    assert not hasattr(explorer, "score_function_explorer")  # the explorer <-> widgets shim is gone
    with pytest.raises(AttributeError):
        explorer.no_such_thing  # noqa: B018


def test_explorer_module_has_no_ipywidgets_import():
    import inspect

    assert "ipywidgets" not in inspect.getsource(explorer)


# -- compare ----------------------------------------------------------------------------------


def test_compare_checks():
    with pytest.raises(ValueError, match="bleu"):
        compare.compare_bleu_by_length({"a": bleu_table([1.0]).drop(columns="bleu")})
    with pytest.raises(TypeError):
        compare.compare_bleu_by_length([bleu_table([1.0])])
    df = pd.DataFrame({"variant": ["dot", "general"], "val_ppl": [20.0, 18.0], "test_bleu": [20.0, 22.0]})
    with pytest.raises(ValueError, match="test_chrf"):
        compare.plot_variant_comparison(df, metrics=[("test_chrf", "chrF")])
    with pytest.raises(ValueError, match="name"):
        compare.plot_variant_comparison(df, name_column="name")
    with pytest.raises(ValueError, match="numbers"):
        compare.plot_variant_comparison(df.assign(test_bleu=["x", "y"]))
    with pytest.raises(ValueError, match="non-empty"):
        compare.plot_variant_comparison(df, metrics=[])
    with pytest.raises(TypeError, match="pair"):
        compare.plot_variant_comparison(df, metrics=["test_bleu"])
    with pytest.raises(TypeError, match="DataFrame"):
        compare.plot_variant_comparison([1, 2])
    with pytest.raises(ValueError, match="triple"):
        compare.plot_attention_grid({"a": (weights(), SRC)})
    with pytest.raises(TypeError, match="list of tokens"):
        compare.plot_attention_grid({"a": (weights(), "ein hund bellt <eos>", TGT)})
    with pytest.raises(ValueError, match="ncols"):
        compare.plot_attention_grid({"a": (weights(), SRC, TGT)}, ncols=0)


def test_variant_comparison_marks_the_best_bar_of_each_panel():
    from matplotlib.colors import to_hex

    df = pd.DataFrame({"variant": ["dot", "general", "concat"], "val_ppl": [20.0, 18.0, 25.0],
                       "test_bleu": [20.0, 19.0, 22.0]})
    fig = compare.plot_variant_comparison(df)
    orange = to_hex("tab:orange")
    for ax, best in zip(fig.axes, (18.0, 22.0)):
        oranges = [p.get_width() for p in ax.patches if to_hex(p.get_facecolor()) == orange]
        assert oranges == [best]


# -- widgets ----------------------------------------------------------------------------------


def test_play_slider_calls_render_and_checks_input():
    pytest.importorskip("ipywidgets")
    seen = []
    control = widgets.play_slider(3, seen.append, interval_ms=10)
    assert seen == [0]
    control.slider.value = 2
    assert seen == [0, 2]
    control.set_frames(5)
    assert control.slider.value == 0 and control.slider.max == 4 and control.play.max == 4 and seen[-1] == 0
    with pytest.raises(ValueError, match="n_frames"):
        widgets.play_slider(0, seen.append)
    with pytest.raises(ValueError, match="interval_ms"):
        widgets.play_slider(2, seen.append, interval_ms=0)
    with pytest.raises(TypeError, match="callable"):
        widgets.play_slider(2, "render")
    with pytest.raises(ValueError, match="n_frames"):
        control.set_frames(0)


def test_attention_animation_checks_the_translation():
    pytest.importorskip("ipywidgets")
    too_many_rows = Translation(["x", "y", EOS], ["a"], torch.softmax(torch.randn(4, 3), -1))
    with pytest.raises(ValueError, match="expected 2 rows"):
        widgets.attention_animation(too_many_rows)
    wrong_cols = Translation(["x", EOS], ["a"], torch.softmax(torch.randn(2, 3), -1))
    with pytest.raises(ValueError, match="columns"):
        widgets.attention_animation(wrong_cols)
    with pytest.raises(TypeError, match="Translation"):
        widgets.attention_animation("a dog")
    with pytest.raises(ValueError, match="no decoder steps"):
        widgets.attention_animation(Translation(["x", EOS], [], torch.zeros(0, 2), finished=False))
    with pytest.raises(ValueError, match="interval_ms"):
        widgets.attention_animation(Translation(["x", EOS], ["a"], torch.full((2, 2), 0.5)), interval_ms=-5)
    nan = torch.full((2, 2), 0.5)
    nan[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        widgets.attention_animation(Translation(["x", EOS], ["a"], nan))


def test_score_function_explorer_checks_before_building():
    pytest.importorskip("ipywidgets")
    with pytest.raises(ValueError, match="score_names"):
        widgets.score_function_explorer(score_name="general", score_names=["dot"])
    with pytest.raises(TypeError, match="str"):
        widgets.score_function_explorer(score_names="dot")
    with pytest.raises(ValueError, match="value_range"):
        widgets.score_function_explorer(value_range=(5.0, 5.0))
    with pytest.raises(ValueError, match="temperature"):
        widgets.score_function_explorer(temperature=0.0)
    with pytest.raises(ValueError, match="encoder_states"):
        widgets.score_function_explorer([1.0, 2.0])
    with pytest.raises(ValueError, match="interval_ms"):
        widgets.four_steps_animation(interval_ms=0)


class _Tiny:
    """Stand-ins for the decoder stepper's arguments that must be refused before decoding."""


def test_decoder_stepper_refuses_bad_arguments_before_decoding():
    pytest.importorskip("ipywidgets")
    model = _Tiny()  # never used: every check comes first
    split = str.split
    with pytest.raises(TypeError, match="str"):
        widgets.decoder_stepper(model, ["ein", "hund"], split, None, None)
    with pytest.raises(ValueError, match="no tokens"):
        widgets.decoder_stepper(model, "   ", split, None, None)
    with pytest.raises(TypeError, match="callable"):
        widgets.decoder_stepper(model, "ein hund", "split", None, None)
    with pytest.raises(ValueError, match="k must be"):
        widgets.decoder_stepper(model, "ein hund", split, None, None, k=0)
    with pytest.raises(ValueError, match="max_len"):
        widgets.decoder_stepper(model, "ein hund", split, None, None, max_len=0)
    with pytest.raises(TypeError, match=r"list of (str )?tokens"):
        widgets.decoder_stepper(model, "ein hund", lambda s: s, None, None)


def test_widgets_module_does_not_import_ipywidgets_at_import_time():
    import subprocess
    import sys

    code = "import sys, course_lib.widgets; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
