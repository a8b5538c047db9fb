import math

import numpy as np
import pytest
import torch

from course_lib.decoding import Translation
from course_lib.metrics import (UNK_PLACEHOLDER, bleu_by_length, bleu_scores, corpus_bleu, corpus_chrf,
                                evaluate_translations, perplexity)

REFS = ["A man rides a horse.", "Two dogs play in the snow."]


def test_bleu_perfect_zero_and_signature():
    perfect = corpus_bleu(["a man rides a horse .", "two dogs play in the snow ."], REFS)
    assert perfect.score == pytest.approx(100.0)
    assert "case:lc" in perfect.signature and "tok:13a" in perfect.signature and perfect.lowercase
    assert corpus_bleu(["zebra", "xylophone"], REFS).score < 1.0
    assert corpus_bleu(["A MAN RIDES A HORSE .", "two dogs play in the snow ."], REFS).score == pytest.approx(100.0)
    assert corpus_bleu(["A MAN RIDES A HORSE .", "two dogs play in the snow ."], REFS, lowercase=False).score < 100


def test_cased_and_lowercased_with_signatures():
    scores = bleu_scores(["a man rides a horse.", "Two dogs play in the snow."], REFS)
    assert "case:mixed" in scores.cased.signature and not scores.cased.lowercase
    assert "case:lc" in scores.lowercased.signature
    assert scores.lowercased.score == pytest.approx(100.0)
    assert scores.cased.score < scores.lowercased.score
    assert "case:mixed" in str(scores) and "case:lc" in str(scores)


def test_a_bare_string_is_one_sentence():
    text = "A man rides a horse in the snow."
    assert corpus_bleu(text, text).score == pytest.approx(100.0), "not a list of characters"
    assert corpus_bleu(text, [text]).score == pytest.approx(100.0)
    assert corpus_chrf(text, text).score == pytest.approx(100.0)
    with pytest.raises(ValueError, match="pair up"):
        corpus_bleu([text, text], text)


def test_reference_streams_follow_sacrebleu():
    hyps = ["a man rides a horse .", "two dogs play ."]
    streams = [["A man rides a horse.", "Dogs play."], ["Someone rides.", "Two dogs play."]]
    multi = corpus_bleu(hyps, streams)
    assert "nrefs:2" in multi.signature
    assert multi.score > corpus_bleu(hyps, streams[0]).score, "a second reference can only help"
    assert corpus_bleu(hyps, (tuple(streams[0]),)).score == pytest.approx(corpus_bleu(hyps, streams[0]).score)
    with pytest.raises(ValueError, match="stream 1"):
        corpus_bleu(hyps, [streams[0], streams[1][:1]])
    with pytest.raises(TypeError, match="mixture"):
        corpus_bleu(hyps, [streams[0], "a ref"])


def test_unk_is_one_neutral_token():
    refs = ["a dog runs on the grass"]
    with_unk = corpus_bleu(["a <unk> runs on the grass"], refs, lowercase=False)
    with_word = corpus_bleu(["a cat runs on the grass"], refs, lowercase=False)
    assert with_unk.score == pytest.approx(with_word.score), "<unk> must count as one wrong token, not three"
    assert "hyp_len = 6" in with_unk.detail


def test_chrf_rewards_near_misses_more_than_bleu():
    refs = ["the dogs are running"]
    near = ["the dog is running"]
    assert corpus_chrf(near, refs).score > corpus_bleu(near, refs).score


def test_bleu_bad_inputs():
    with pytest.raises(ValueError, match="pair up"):
        corpus_bleu(["a"], ["a", "b"])
    with pytest.raises(TypeError, match="join"):
        corpus_bleu([["a"]], ["a"])
    for hyps, refs in (([], []), ([], ["a"]), (["a"], [])):
        with pytest.raises(ValueError):
            corpus_bleu(hyps, refs)
    for hyps, refs in ((None, ["a"]), (["a"], None), ([None], ["a"]), (["a"], [3]), (42, ["a"])):
        with pytest.raises(TypeError):
            corpus_bleu(hyps, refs)
        with pytest.raises(TypeError):
            corpus_chrf(hyps, refs)
    with pytest.raises(TypeError):
        corpus_bleu(["a"], ["a"], lowercase="yes")


def test_perplexity():
    assert perplexity(math.log(7)) == pytest.approx(7.0)
    assert perplexity(0) == 1.0
    assert perplexity(torch.tensor(math.log(3.0))) == pytest.approx(3.0)
    assert perplexity(np.float32(math.log(2.0))) == pytest.approx(2.0, rel=1e-6)
    assert perplexity(1e6) == math.inf and perplexity(float("inf")) == math.inf
    for bad in (-1.0, -1e-9, float("nan"), -math.inf, torch.tensor(float("nan"))):
        with pytest.raises(ValueError):
            perplexity(bad)
    for bad in (None, "2.0", True, [1.0], torch.tensor([1.0, 2.0])):
        with pytest.raises(TypeError):
            perplexity(bad)


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
    with pytest.raises(ValueError):
        bleu_by_length(hyps, refs, [1, 2, -3])
    with pytest.raises(TypeError):
        bleu_by_length(hyps, refs, [1, 2, 3.5])
    with pytest.raises(TypeError):
        bleu_by_length(hyps, refs, "123")
    for buckets in ([], [(5, 1)], [(1,)], [(-1, 3)], None):
        with pytest.raises(ValueError):
            bleu_by_length(hyps, refs, [1, 2, 3], buckets=buckets)
    hyps[1] = "x y z w v"
    streams = bleu_by_length(hyps, [refs, ["a", "x y z w v", "p"]], [3, 12, 4])
    assert streams.iloc[1]["bleu"] == pytest.approx(100.0), "the second reference stream is used"


def test_evaluate_translations_detokenises():
    refs = ["A t-shirt, please.", "The dog runs."]
    trs = [Translation(["x"], ["a", "t-shirt", ",", "please", "."]), Translation(["y"], ["the", "<unk>", "runs", "."])]

    def detok(tokens):
        text = " ".join(tokens)
        for p in (" ,", " ."):
            text = text.replace(p, p.strip())
        return text

    spaced = evaluate_translations(trs, refs)
    detokenised = evaluate_translations(trs, refs, detokenize=detok)
    assert detokenised["hypotheses"] == ["a t-shirt, please.", f"the {UNK_PLACEHOLDER} runs."]
    assert "<unk>" not in " ".join(spaced["hypotheses"])
    for key in ("bleu", "bleu_cased", "bleu_lowercased", "chrf"):
        assert 0 <= detokenised[key].score <= 100
    assert "case:mixed" in detokenised["bleu_cased"].signature
    assert detokenised["bleu"] is detokenised["bleu_lowercased"]
    assert evaluate_translations(trs, refs, lowercase=False)["bleu"].signature == spaced["bleu_cased"].signature
    assert detokenised["bleu_cased"].score < detokenised["bleu_lowercased"].score
    frame = evaluate_translations(trs, refs, src_lengths=[3, 4])["by_length"]
    assert frame["sentences"].sum() == 2
    one = evaluate_translations(trs[0], refs[0], detokenize=detok)
    assert one["bleu_lowercased"].score == pytest.approx(100.0)


def test_evaluate_translations_bad_inputs():
    trs = [Translation(["x"], ["a"])]
    with pytest.raises(TypeError):
        evaluate_translations(trs, ["a"], detokenize="nope")
    with pytest.raises(TypeError):
        evaluate_translations(trs, ["a"], detokenize=lambda toks: toks)
    with pytest.raises(TypeError):
        evaluate_translations("a b", ["a b"])
    with pytest.raises(TypeError):
        evaluate_translations([object()], ["a"])
    with pytest.raises(ValueError):
        evaluate_translations([], [])
    with pytest.raises(ValueError):
        evaluate_translations(trs, ["a", "b"])
    with pytest.raises(ValueError):
        evaluate_translations(trs, ["a"], src_lengths=[1, 2])
