import hashlib

import numpy as np
import pandas as pd
import pytest
import torch

from course_lib.compare import (compare_bleu_by_length, plot_attention_grid,
                                plot_variant_comparison)
from course_lib.viz import figure_to_png


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def table(bleus, sentences=(3, 2, 0)):
    return pd.DataFrame({"bucket": ["1-10", "11-15", "16+"][: len(bleus)], "sentences": list(sentences)[: len(bleus)],
                         "bleu": list(bleus)})


def test_compare_bleu_by_length_columns_and_gain():
    merged = compare_bleu_by_length({"vanilla": table([10.0, 5.0, 1.0]), "attention": table([12.0, 9.0, 4.0])},
                                    baseline="vanilla")
    assert list(merged.columns) == ["bucket", "sentences", "vanilla", "attention", "gain over vanilla"]
    np.testing.assert_allclose(merged["gain over vanilla"], [2.0, 4.0, 3.0])


def test_compare_bleu_by_length_rejects_different_buckets_and_unknown_baseline():
    other = table([1.0, 2.0, 3.0]).assign(bucket=["1-5", "6-10", "11+"])
    with pytest.raises(ValueError, match="buckets"):
        compare_bleu_by_length({"a": table([1.0, 2.0, 3.0]), "b": other})
    with pytest.raises(ValueError, match="baseline"):
        compare_bleu_by_length({"a": table([1.0, 2.0, 3.0])}, baseline="b")
    with pytest.raises(ValueError):
        compare_bleu_by_length({})


def test_plot_variant_comparison_renders_and_depends_on_values():
    df = pd.DataFrame({"variant": ["dot", "general"], "val_ppl": [20.0, 18.0], "test_bleu": [20.0, 22.0]})
    png = figure_to_png(plot_variant_comparison(df))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    other = figure_to_png(plot_variant_comparison(df.assign(test_bleu=[25.0, 22.0])))
    assert md5(png) != md5(other)
    with pytest.raises(ValueError):
        plot_variant_comparison(df.iloc[:0])


def test_plot_attention_grid_panels_and_label_check():
    w = torch.softmax(torch.randn(3, 4), -1)
    fig = plot_attention_grid({"global": (w, list("abcd"), list("xyz")), "local-p": (w * 0.5, list("abcd"), list("xyz"))})
    assert len([ax for ax in fig.axes if ax.get_title()]) == 2
    assert figure_to_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
    fig3 = plot_attention_grid({str(i): (w, list("abcd"), list("xyz")) for i in range(3)}, ncols=2)
    assert sum(ax.get_visible() and bool(ax.get_title()) for ax in fig3.axes) == 3
    with pytest.raises(ValueError, match="labels"):
        plot_attention_grid({"bad": (w, list("ab"), list("xyz"))})
    with pytest.raises(ValueError):
        plot_attention_grid({})


def sweep(bleus_plain=(30.0, 31.0, 29.0), bleus_norm=(30.0, 31.5, 32.0)):
    sizes = [1, 5, 10]
    return pd.DataFrame({"beam_size": sizes * 2, "bleu": list(bleus_plain) + list(bleus_norm),
                         "setting": ["alpha=0"] * 3 + ["alpha=0.6"] * 3})


def test_plot_beam_sweep_one_line_per_setting_through_the_points():
    from course_lib.compare import plot_beam_sweep

    fig = plot_beam_sweep(sweep(), hue="setting")
    lines = [line for line in fig.axes[0].lines if len(line.get_xdata()) == 3]
    assert len(lines) == 2
    assert sorted(tuple(line.get_ydata()) for line in lines) == [(30.0, 31.0, 29.0), (30.0, 31.5, 32.0)]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1", "5", "10"]
    assert md5(figure_to_png(fig)) != md5(figure_to_png(plot_beam_sweep(sweep(bleus_plain=(1.0, 2.0, 3.0)),
                                                                        hue="setting")))
    assert len(plot_beam_sweep(sweep().iloc[:3]).axes[0].lines) >= 1


def test_plot_beam_sweep_bad_input():
    from course_lib.compare import plot_beam_sweep

    with pytest.raises(ValueError, match="setting"):
        plot_beam_sweep(sweep().drop(columns="setting"), hue="setting")
    with pytest.raises(ValueError, match="no rows"):
        plot_beam_sweep(sweep().iloc[:0])
    with pytest.raises(ValueError, match="positive integers"):
        plot_beam_sweep(sweep().assign(beam_size=[0, 1, 2, 0, 1, 2]))
    with pytest.raises(ValueError, match="positive integers"):
        plot_beam_sweep(sweep().assign(beam_size=[1.5] * 6))
    with pytest.raises(ValueError, match="numbers"):
        plot_beam_sweep(sweep().assign(bleu=["x"] * 6))
    with pytest.raises(TypeError, match="DataFrame"):
        plot_beam_sweep({"beam_size": [1], "bleu": [2.0]})
