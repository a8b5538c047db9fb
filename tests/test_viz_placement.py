"""viz.plot_gnmt_placement: the GNMT layout diagram moved out of lesson 05 (issue 16 §5)."""

import pytest

from course_lib import viz
from course_lib.checks import InputTypeError


@pytest.mark.parametrize("layers", [2, 4, 8])
def test_one_box_per_layer_and_side_plus_the_split_bottom(layers):
    fig = viz.plot_gnmt_placement(layers)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert sum(t.startswith("encoder layer") for t in texts) == layers - 1   # layer 1 is split in two
    assert sum(t.startswith("decoder layer") for t in texts) == layers
    assert "forward  (GPU 1)" in texts and "backward  (GPU 1)" in texts
    top = f"decoder layer {layers}" + (" + residual" if layers >= 3 else "") + f"  (GPU {layers})"
    assert top in texts
    assert not any("layer 2 + residual" in t for t in texts)   # residuals start at the third layer
    assert viz.figure_to_png(fig)[:4] == b"\x89PNG"


@pytest.mark.parametrize("bad", [1, 17, 0, -3])
def test_layer_count_out_of_range_is_a_value_error(bad):
    with pytest.raises(ValueError, match="num_layers"):
        viz.plot_gnmt_placement(bad)


@pytest.mark.parametrize("bad", [4.0, "8", None, True])
def test_layer_count_of_wrong_type(bad):
    with pytest.raises((InputTypeError, ValueError)):
        viz.plot_gnmt_placement(bad)
