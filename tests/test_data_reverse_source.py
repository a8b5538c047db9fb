"""Tests for source reversal (Sutskever et al. 2014, sec. 3.3): ``reverse_source=True`` and ReversedTokenizer."""

from __future__ import annotations

import pickle

import pytest

from course_lib import data, decoding
from course_lib.checks import InputTypeError
from tests.test_decoding import ScriptedModel

PAIRS = [("a b c", "x y"), ("b c d e", "y z w"), ("a", "x"), ("e d", "w z")]


def _both(**kwargs):
    plain = data.prepare_pairs(PAIRS, PAIRS[:2], PAIRS[2:], str.split, str.split, **kwargs)
    rev = data.prepare_pairs(PAIRS, PAIRS[:2], PAIRS[2:], str.split, str.split, reverse_source=True, **kwargs)
    return plain, rev


def test_source_tokens_reversed_targets_and_vocabularies_not():
    plain, rev = _both()
    assert not plain.reverse_source and rev.reverse_source
    assert isinstance(rev.src_tokenizer, data.ReversedTokenizer) and rev.src_tokenizer.inner is str.split
    for split in ("train", "val", "test"):
        a, b = getattr(plain, split), getattr(rev, split)
        assert b.src_tokens == [t[::-1] for t in a.src_tokens]
        assert b.tgt_tokens == a.tgt_tokens and b.tgt_ids == a.tgt_ids and b.pairs == a.pairs
        assert b.src_ids == [ids[:-1][::-1] + ids[-1:] for ids in a.src_ids]  # <eos> stays last
    assert rev.src_vocab == plain.src_vocab and rev.tgt_vocab == plain.tgt_vocab
    assert rev.sources("train") == [s for s, _ in PAIRS]  # the raw text as written
    assert [rev.detokenize(t, side="src") for t in rev.train.src_tokens] == [s for s, _ in PAIRS]
    assert "source reversed" in rev.describe() and "reversed" not in plain.describe()


def test_a_new_sentence_is_reversed_by_the_corpus_tokenizer_everywhere():
    _, rev = _both()
    tok = rev.src_tokenizer
    assert tok("a b c") == ["c", "b", "a"] and tok.tokenize_many(["a b", "c"]) == [["b", "a"], ["c"]]
    assert tok.detokenize(["c", "b", "a"]) == "a b c"
    model = ScriptedModel([[5]], vocab=len(rev.src_vocab))  # translate() tokenises with the corpus's tokenizer
    out = decoding.translate(model, ["a b c"], rev.src_tokenizer, rev.src_vocab, rev.src_vocab)
    assert out[0].src_tokens == ["c", "b", "a", data.EOS]
    again = pickle.loads(pickle.dumps(tok))
    assert again("a b c") == ["c", "b", "a"] and repr(again) == repr(tok)


def test_reversed_wrapper_keeps_the_inner_tokenizers_behaviour():
    chars = data.ReversedTokenizer(data.char_tokenize)
    assert chars.lang == "char" and chars("ab c") == ["c", data.SPACE_TOKEN, "b", "a"]
    assert chars.detokenize(chars("3 may 1998")) == "3 may 1998"
    words = data.ReversedTokenizer(data.Tokenizer("en"))
    assert words.lang == "en" and words("A dog.") == [".", "dog", "a"] and words.detokenize(words("A dog.")) == "a dog."
    assert data.ReversedTokenizer(str.split).lang == "src"


def test_reversal_with_subwords_and_max_len():
    texts = [s for s, _ in data.make_date_corpus(200)] + [t for _, t in data.make_date_corpus(200)]
    sp = data.train_subword_tokenizer(texts, vocab_size=80, cache=False)
    pairs = data.make_date_corpus(120, seed=1)
    corpus = data.prepare_pairs(pairs[:100], pairs[100:110], pairs[110:], sp, sp, max_len=16, reverse_source=True)
    assert corpus.src_tokenizer.inner is sp and corpus.tgt_tokenizer is sp
    kept = [(s, sp(s)) for s, t in pairs[:100] if len(sp(s)) <= 16 and len(sp(t)) <= 16]
    assert corpus.train.src_tokens == [toks[::-1] for _, toks in kept]
    assert 0 < corpus.train.num_dropped == 100 - len(kept) < 100
    assert corpus.detokenize(corpus.test.src_tokens[0], side="src") == pairs[110][0]


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_bad_flag_and_tokenizer(bad):
    with pytest.raises(InputTypeError, match="reverse_source"):
        data.prepare_pairs(PAIRS, PAIRS, PAIRS, str.split, str.split, reverse_source=bad)
    with pytest.raises(InputTypeError, match="tokenizer"):
        data.ReversedTokenizer(bad)


def test_prepare_multi30k_checks_the_flag_before_loading(monkeypatch):
    def no_loading(*a, **k):
        raise AssertionError("validation must happen before loading the corpus")

    monkeypatch.setattr("course_lib.data.prepare.load_multi30k", no_loading)
    with pytest.raises(InputTypeError, match="reverse_source"):
        data.prepare_multi30k("de", "en", reverse_source="yes")


def test_prepare_multi30k_reversed(mirror_root):
    kw = dict(max_train_pairs=200, max_eval_pairs=20, max_len=30)
    plain = data.prepare_multi30k("de", "en", **kw)
    rev = data.prepare_multi30k("de", "en", reverse_source=True, **kw)
    assert rev.train.src_tokens == [t[::-1] for t in plain.train.src_tokens]
    assert rev.train.tgt_tokens == plain.train.tgt_tokens and rev.references() == plain.references()
    assert rev.src_tokenizer("Ein Hund läuft.") == [".", "läuft", "hund", "ein"]
    assert "source reversed" in rev.describe() and rev.tokenizer_kind == "spacy"
