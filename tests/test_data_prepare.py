"""Tests for course_lib.data.prepare: prepare_multi30k, prepare_pairs, TranslationData, token_stats."""

from __future__ import annotations

import pytest

from course_lib import data as D
from course_lib.data import SPECIALS, Vocab


@pytest.fixture(scope="module")
def multi30k_de_en(mirror_root):
    return D.prepare_multi30k("de", "en")


def test_prepare_multi30k_full(multi30k_de_en):
    data = multi30k_de_en
    assert (len(data.train), len(data.val), len(data.test)) == (29000, 1014, 1000)
    assert data.src_vocab.itos[:4] == list(SPECIALS) and data.tgt_vocab.itos[:4] == list(SPECIALS)
    assert 5000 < len(data.src_vocab) < 12000 and 4000 < len(data.tgt_vocab) < 10000
    # upstream README: ~12.4 de / ~13.0 en words per training sentence
    mean_de = sum(map(len, data.train.src_tokens)) / len(data.train)
    mean_en = sum(map(len, data.train.tgt_tokens)) / len(data.train)
    assert 11 < mean_de < 14 and 12 < mean_en < 15
    text = data.describe()
    assert "29000" in text and str(len(data.src_vocab)) in text
    assert data.tokenizer_kind == "spacy"


def test_references_are_raw_and_detokenised_words_match_them(multi30k_de_en):
    data = multi30k_de_en
    refs = data.references("test")
    assert refs == [t for _, t in D.load_multi30k("test_2016_flickr", "de", "en")]
    assert data.sources("val")[:3] == [s for s, _ in D.load_multi30k("val", "de", "en")[:3]]
    # lower-cased word tokens joined back match the lower-cased raw reference nearly always
    exact = sum(data.detokenize(toks) == ref.lower() for toks, ref in zip(data.test.tgt_tokens, refs))
    assert exact / len(refs) > 0.98
    assert data.tgt_tokenizer.detokenize(["a", "t", "-", "shirt", "."]) == "a t-shirt."
    with pytest.raises(ValueError, match="split"):
        data.references("dev")
    with pytest.raises(ValueError, match="side"):
        data.detokenize(["a"], side="target")


def test_token_stats_words(multi30k_de_en):
    stats = multi30k_de_en.token_stats("test")
    for side in ("src", "tgt"):
        s = stats[side]
        assert s["sentences"] == 1000 and s["tokens"] > 10000
        assert 0 < s["unk_rate"] < 0.1  # min_freq=2 words: a few per cent unknown
        assert s["mean_len"] == pytest.approx(s["tokens"] / 1000)
    assert stats["src"]["vocab_size"] == len(multi30k_de_en.src_vocab)


def test_token_stats_function():
    v = Vocab.build([["a", "dog"]], min_freq=1)
    s = D.token_stats([["a", "cat"], ["dog"]], v)
    assert s == {"sentences": 2, "tokens": 3, "mean_len": 1.5, "unk_rate": pytest.approx(1 / 3), "vocab_size": 6}
    assert D.token_stats([], v)["unk_rate"] == 0.0
    with pytest.raises(TypeError):
        D.token_stats("a dog", v)
    with pytest.raises(TypeError):
        D.token_stats(["a dog"], v)
    with pytest.raises(TypeError):
        D.token_stats([["a"]], {"a": 1})


def test_prepare_multi30k_subsets(mirror_root):
    a = D.prepare_multi30k("en", "de", max_train_pairs=300, max_eval_pairs=50, seed=1)
    b = D.prepare_multi30k("en", "de", max_train_pairs=300, max_eval_pairs=50, seed=1)
    assert (len(a.train), len(a.val), len(a.test)) == (300, 50, 50)
    assert a.train.pairs == b.train.pairs and a.src_vocab == b.src_vocab
    assert a.val.pairs == D.load_multi30k("val", "en", "de")[:50]
    # vocabulary comes from the subset only
    counted = {t for toks in a.train.src_tokens for t in toks}
    assert set(a.src_vocab.itos[4:]) <= counted


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(max_train_pairs=0), ValueError, "max_train_pairs"),
        (dict(max_train_pairs=-5), ValueError, "max_train_pairs"),
        (dict(max_eval_pairs=0), ValueError, "max_eval_pairs"),
        (dict(max_train_pairs=2.5), TypeError, "max_train_pairs"),
        (dict(min_freq=0), ValueError, "min_freq"),
        (dict(max_len=0), ValueError, "max_len"),
        (dict(tokenizer="bpe"), ValueError, "spacy"),
        (dict(tokenizer=None), ValueError, "tokenizer"),
        (dict(tokenizer="subword", subword_vocab_size=0), ValueError, "subword_vocab_size"),
        (dict(test_split="train"), ValueError, "test_split"),
        (dict(test_split="test_2099"), ValueError, "split"),
        (dict(lower="yes"), TypeError, "lower"),
        (dict(seed=1.5), TypeError, "seed"),
    ],
)
def test_prepare_multi30k_bad_arguments_fail_before_any_work(kwargs, exc, match, monkeypatch):
    def no_loading(*a, **k):
        raise AssertionError("validation must happen before loading the corpus")

    monkeypatch.setattr("course_lib.data.prepare.load_multi30k", no_loading)
    with pytest.raises(exc, match=match):
        D.prepare_multi30k("de", "en", **kwargs)


@pytest.mark.parametrize("langs", [("de", "de"), ("xx", "en"), ("de", "cs")])
def test_prepare_multi30k_unknown_or_equal_languages(langs):
    with pytest.raises(ValueError, match="language"):
        D.prepare_multi30k(*langs)


def test_prepare_pairs_with_date_corpus():
    pairs = D.make_date_corpus(500, seed=0)
    parts = D.split_pairs(pairs, seed=0)
    data = D.prepare_pairs(
        parts["train"], parts["val"], parts["test"], D.char_tokenize, D.char_tokenize, src_lang="date", tgt_lang="iso"
    )
    assert len(data.train) + len(data.val) + len(data.test) == 500
    assert set("0123456789-") <= set(data.tgt_vocab.itos)
    assert len(data.tgt_vocab) == 4 + 11  # ten digits and "-"
    batch = next(iter(D.make_loader(data.train, 16)))
    assert batch.tgt.shape[1] == 12 and (batch.tgt_lens == 12).all()  # <sos> + 10 chars + <eos>
    assert "date -> iso" in data.describe()
    # character tokens detokenise exactly
    assert [data.detokenize(t, side="src") for t in data.test.src_tokens] == data.sources("test")
    assert D.prepare_pairs(parts["train"], [], [], str.split, str.split).src_lang == "src"


def test_prepare_pairs_bad_input():
    ok = [("a b", "x y")]
    with pytest.raises(TypeError, match="train_pairs"):
        D.prepare_pairs("a\tb", ok, ok, str.split, str.split)
    with pytest.raises(TypeError, match="item 0"):
        D.prepare_pairs([("a", None)], ok, ok, str.split, str.split)
    with pytest.raises(ValueError, match="no training pairs"):
        D.prepare_pairs([], ok, ok, str.split, str.split)
    with pytest.raises(TypeError, match="src_tokenizer"):
        D.prepare_pairs(ok, ok, ok, None, str.split)
    with pytest.raises(ValueError, match="min_freq"):
        D.prepare_pairs(ok, ok, ok, str.split, str.split, min_freq=0)
    with pytest.raises(ValueError, match="max_len"):
        D.prepare_pairs(ok, ok, ok, str.split, str.split, max_len=0)
