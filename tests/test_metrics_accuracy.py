"""metrics.accuracy_by_length and viz.plot_bleu_by_length(metric=...): the bottleneck on generated tasks (issue 16 §1)."""

import math

import pytest

from course_lib import metrics, viz
from course_lib.checks import InputTypeError


def test_exact_match_and_token_accuracy_per_bucket():
    hyps = [["a", "b"], ["a", "c"], ["a", "b", "c", "d"], ["x"]]
    refs = [["a", "b"], ["a", "b"], ["a", "b", "c"], ["a", "b", "c", "d", "e", "f"]]
    table = metrics.accuracy_by_length(hyps, refs, [2, 2, 3, 6], buckets=[(1, 2), (3, 5), (6, 9), (10, 20)])
    assert list(table["bucket"]) == ["1-2", "3-5", "6-9", "10-20"]
    assert list(table["sentences"]) == [2, 1, 1, 0]
    assert table["exact_match"][0] == pytest.approx(50.0)        # one of two right
    assert table["token_accuracy"][0] == pytest.approx(75.0)     # 3 of 4 positions
    assert table["exact_match"][1] == 0.0                       # an extra token is not a match
    assert table["token_accuracy"][1] == pytest.approx(75.0)     # 3 hits over max(4, 3) slots
    assert table["token_accuracy"][2] == 0.0
    assert math.isnan(table["exact_match"][3]) and math.isnan(table["token_accuracy"][3])


def test_empty_hypothesis_counts_as_wrong_not_as_a_crash():
    table = metrics.accuracy_by_length([[]], [["a"]], [1], buckets=[(1, 1)])
    assert table["exact_match"][0] == 0.0 and table["token_accuracy"][0] == 0.0


@pytest.mark.parametrize("hyps, refs, lengths, match", [
    ([["a"]], [["a"], ["b"]], [1, 1], "hypotheses for"),
    ([["a"]], [["a"]], [1, 2], "source lengths"),
    ([["a"]], [["a"]], [-1], "source length"),
])
def test_mismatched_or_negative_is_a_value_error(hyps, refs, lengths, match):
    with pytest.raises(ValueError, match=match):
        metrics.accuracy_by_length(hyps, refs, lengths)


@pytest.mark.parametrize("hyps", ["a b", [["a", 1]], [b"ab"], None])
def test_hypotheses_that_are_not_token_lists(hyps):
    with pytest.raises(InputTypeError):
        metrics.accuracy_by_length(hyps, [["a"]], [1])


def test_malformed_buckets():
    with pytest.raises(ValueError, match="buckets"):
        metrics.accuracy_by_length([["a"]], [["a"]], [1], buckets=[(5, 1)])


def test_plot_any_metric_column_and_refuse_a_missing_one():
    table = metrics.accuracy_by_length([["a"], ["b", "b"]], [["a"], ["b", "c"]], [1, 2], buckets=[(1, 1), (2, 2)])
    fig = viz.plot_bleu_by_length({"m": table, "n": table}, "copying", metric="exact_match")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "exact match" and ax.get_title() == "copying"
    assert sorted(round(p.get_height()) for p in ax.patches if p.get_height() > 0) == [100, 100]
    with pytest.raises(ValueError, match="'bleu'"):
        viz.plot_bleu_by_length({"m": table})
    with pytest.raises(InputTypeError):
        viz.plot_bleu_by_length({"m": table}, metric=3)
