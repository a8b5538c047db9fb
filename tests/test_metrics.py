import math

import pytest

from course_lib.metrics import bleu_by_length, corpus_bleu, corpus_chrf, perplexity


def test_bleu_perfect_zero_and_signature():
    refs = ["A man rides a horse.", "Two dogs play in the snow."]
    perfect = corpus_bleu(["a man rides a horse .", "two dogs play in the snow ."], refs)
    assert perfect.score == pytest.approx(100.0)
    assert "case:lc" in perfect.signature and "tok:13a" in perfect.signature
    assert corpus_bleu(["zebra", "xylophone"], refs).score < 1.0
    assert corpus_bleu(["A MAN RIDES A HORSE .", "two dogs play in the snow ."], refs).score == pytest.approx(100.0)
    assert corpus_bleu(["A MAN RIDES A HORSE .", "two dogs play in the snow ."], refs, lowercase=False).score < 100


def test_chrf_rewards_near_misses_more_than_bleu():
    refs = ["the dogs are running"]
    near = ["the dog is running"]
    assert corpus_chrf(near, refs).score > corpus_bleu(near, refs).score


def test_bad_inputs():
    with pytest.raises(ValueError, match="pair up"):
        corpus_bleu(["a"], ["a", "b"])
    with pytest.raises(TypeError, match="join"):
        corpus_bleu([["a"]], ["a"])
    with pytest.raises(ValueError):
        perplexity(-1.0)
    assert perplexity(math.log(7)) == pytest.approx(7.0)


def test_bleu_by_length_buckets():
    hyps = ["a b c d", "x y", "p q r"]
    refs = ["a b c d", "x z", "p q r"]
    frame = bleu_by_length(hyps, refs, [3, 12, 4])
    first = frame.iloc[0]
    assert first["sentences"] == 2 and first["bleu"] == pytest.approx(100.0)
    assert frame["sentences"].sum() == 3
    assert math.isnan(frame.iloc[2]["bleu"])
    with pytest.raises(ValueError):
        bleu_by_length(hyps, refs, [1, 2])
