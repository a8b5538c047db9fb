"""metrics.paired_bootstrap: sacreBLEU's paired bootstrap test, with the difference's confidence interval."""

from __future__ import annotations

import pytest

from course_lib.metrics import PairedBootstrap, corpus_bleu, paired_bootstrap

REFS = [f"a man number {i} rides a red horse in the snow ." for i in range(30)]
GARBAGE = [f"zebra {i} xylophone" for i in range(30)]
NEAR = [r.replace("red", "brown") if i % 2 else r for i, r in enumerate(REFS)]


def test_identical_systems_differ_by_zero_with_p_one():
    result = paired_bootstrap(NEAR, list(NEAR), REFS, n_samples=200)
    assert isinstance(result, PairedBootstrap)
    assert result.difference == 0.0 and result.ci_low == 0.0 and result.ci_high == 0.0
    assert result.p_value == pytest.approx(1.0)
    assert result.bleu_a == result.bleu_b == pytest.approx(corpus_bleu(NEAR, REFS).score)


def test_the_references_beat_garbage():
    result = paired_bootstrap(GARBAGE, REFS, REFS, n_samples=200, seed=1)
    assert result.bleu_b == pytest.approx(100.0) and result.bleu_a < 5.0
    assert result.difference == pytest.approx(result.bleu_b - result.bleu_a)
    assert 0 < result.ci_low <= result.difference <= result.ci_high
    assert result.p_value < 0.01
    assert result.n_samples == 200 and "case:lc" in result.signature


def test_near_systems_have_an_interval_around_the_difference_and_repeat_with_the_seed():
    a = paired_bootstrap(REFS, NEAR, REFS, n_samples=300, seed=3)
    assert a.difference < 0 and a.ci_low <= a.difference <= a.ci_high
    assert paired_bootstrap(REFS, NEAR, REFS, n_samples=300, seed=3) == a
    assert 0 < a.p_value <= 1


def test_the_p_value_is_sacrebleus_own(monkeypatch):
    """The same seed through sacreBLEU's public PairedTest gives the same BLEU scores and p-value."""
    import sacrebleu
    from sacrebleu.significance import PairedTest

    monkeypatch.setenv("SACREBLEU_SEED", "12345")
    _, scores = PairedTest([("a", REFS), ("b", NEAR)], {"BLEU": sacrebleu.metrics.BLEU(lowercase=True, force=True)},
                           [REFS], test_type="bs", n_samples=250)()
    ours = paired_bootstrap(REFS, NEAR, REFS, n_samples=250, seed=12345)
    assert ours.bleu_a == pytest.approx(scores["BLEU"][0].score)
    assert ours.bleu_b == pytest.approx(scores["BLEU"][1].score)
    assert ours.p_value == pytest.approx(scores["BLEU"][1].p_value)


def test_str_is_one_line_with_the_difference_interval_and_p():
    text = str(paired_bootstrap(GARBAGE, REFS, REFS, n_samples=100))
    assert "\n" not in text and "B - A = +" in text and "95% CI" in text and "p = " in text


def test_bad_input():
    with pytest.raises(ValueError, match="same test sentences"):
        paired_bootstrap(REFS[:3], REFS[:2], REFS[:3])
    with pytest.raises(ValueError, match="pair up"):
        paired_bootstrap(REFS[:3], REFS[:3], REFS[:2])
    with pytest.raises(ValueError, match="n_samples"):
        paired_bootstrap(REFS, REFS, REFS, n_samples=0)
    with pytest.raises(TypeError, match="lowercase"):
        paired_bootstrap(REFS, REFS, REFS, lowercase="yes")
    with pytest.raises(TypeError, match="hyps_b"):
        paired_bootstrap(REFS, [["a"]] * 30, REFS)
