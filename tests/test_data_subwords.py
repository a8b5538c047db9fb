"""Tests for course_lib.data.subwords: the BPE subword model, its cache, and subword data.

BPE is trained on a slice of the Multi30k training split (a few thousand sentences, a small
vocabulary) so that the file stays fast; the full-corpus numbers are in the lesson.
"""

from __future__ import annotations

import json
import pickle
import warnings

import pytest

from course_lib import data as D
from course_lib.data import UNK, SubwordTokenizer, train_subword_tokenizer
from course_lib.data import subwords as subwords_module

SLICE = 2000
VOCAB = 1000


@pytest.fixture(scope="module")
def train_texts(mirror_root):
    pairs = D.load_multi30k("train", "de", "en")[:SLICE]
    return [s for s, _ in pairs] + [t for _, t in pairs]


@pytest.fixture(scope="module")
def sp(train_texts):
    return train_subword_tokenizer(train_texts, vocab_size=VOCAB, cache=False)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _no_training(*args, **kwargs):
    raise AssertionError("the model must come from the cache, not be trained again")


def test_pieces_mark_word_starts_and_keep_case(sp):
    pieces = sp("Ein Mann mit einem Hut.")
    assert pieces[:3] == ["▁Ein", "▁Mann", "▁mit"]  # frequent words are one piece, case kept
    assert pieces[-1] == "."  # punctuation is its own piece
    assert all(isinstance(p, str) and p for p in pieces)
    assert sp.vocab_size <= VOCAB and sp.vocab_size > 200
    assert sp.pieces()[0] == UNK  # <unk> is the course's UNK
    rare = sp("Donaudampfschifffahrtsgesellschaft")
    assert len(rare) > 1 and rare[0].startswith("▁") and UNK not in rare  # split into known pieces


def test_round_trip_on_real_multi30k_sentences(sp, mirror_root):
    val = D.load_multi30k("val", "de", "en")
    texts = [s for s, _ in val] + [t for _, t in val]
    pieces = sp.tokenize_many(texts)
    assert pieces[:5] == [sp(t) for t in texts[:5]]
    with_unk = [p for p in pieces if UNK in p]  # characters never seen in the training slice
    assert len(with_unk) < 0.02 * len(texts)
    for text, p in zip(texts, pieces):
        if UNK not in p:
            assert sp.detokenize(p) == text
    assert sp.detokenize([]) == ""


@pytest.mark.parametrize(
    "text",
    ["A man's t-shirt, (black) and \"white\": 50% off!", "Zwei Männer, ein Hund.", "ok", "Hello  world"],
)
def test_detokenize_is_exact_inverse(sp, text):
    assert sp.detokenize(sp(text)) == text


def test_cache_is_written_atomically_and_reused(train_texts, cache_dir, monkeypatch):
    first = train_subword_tokenizer(train_texts, vocab_size=VOCAB)
    assert not first.from_cache
    files = list((cache_dir / "subwords").iterdir())
    assert len(files) == 1 and files[0].suffix == ".json" and not files[0].name.startswith(".")
    assert files[0] == D.subword_cache_path(first.fingerprint, VOCAB)
    mtime = files[0].stat().st_mtime_ns
    monkeypatch.setattr(subwords_module, "_train_bpe", _no_training)
    again = train_subword_tokenizer(train_texts, vocab_size=VOCAB)
    assert again.from_cache and again.pieces() == first.pieces()
    assert files[0].stat().st_mtime_ns == mtime  # not rewritten
    assert again("Ein Mann.") == first("Ein Mann.")


@pytest.mark.parametrize(
    "change",
    [dict(vocab_size=VOCAB + 100), dict(lower=True), dict(nfkc=True), dict(min_frequency=3), dict(texts="drop_one")],
)
def test_changed_settings_or_data_give_another_cache_file(train_texts, cache_dir, change):
    base = train_subword_tokenizer(train_texts, vocab_size=VOCAB)
    kwargs = dict(vocab_size=VOCAB)
    texts = train_texts
    for key, value in change.items():
        if key == "texts":
            texts = train_texts[1:]
        else:
            kwargs[key] = value
    other = train_subword_tokenizer(texts, **kwargs)
    assert not other.from_cache and other.fingerprint != base.fingerprint
    assert len(list((cache_dir / "subwords").iterdir())) == 2


def test_lower_option_lowercases(train_texts):
    low = train_subword_tokenizer(train_texts[:500], vocab_size=300, lower=True, cache=False)
    assert low.detokenize(low("Ein Mann")) == "ein mann"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other_json", "bad_inner"])
def test_corrupt_cache_file_is_retrained_with_warning(train_texts, cache_dir, damage):
    first = train_subword_tokenizer(train_texts, vocab_size=VOCAB)
    path = D.subword_cache_path(first.fingerprint, VOCAB)
    text = path.read_text(encoding="utf-8")
    if damage == "truncate":
        path.write_text(text[: len(text) // 2], encoding="utf-8")
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff not json")
    elif damage == "other_json":
        path.write_text('{"model": "something else"}', encoding="utf-8")
    else:
        payload = json.loads(text)
        payload["tokenizer"] = {"model": {"type": "NoSuchModel"}}
        path.write_text(json.dumps(payload), encoding="utf-8")
    with pytest.raises(ValueError, match="delete it"):
        SubwordTokenizer.load(path)  # loading by hand: a clear error
    with pytest.warns(UserWarning, match="training the model again"):
        again = train_subword_tokenizer(train_texts, vocab_size=VOCAB)  # the cache: retrained
    assert not again.from_cache and again.pieces() == first.pieces()
    assert SubwordTokenizer.load(path).pieces() == first.pieces()  # the file is whole again


def test_explicit_cache_path_with_other_data_is_retrained(train_texts, tmp_path):
    path = tmp_path / "my_bpe.json"
    a = train_subword_tokenizer(train_texts[:300], vocab_size=200, cache_path=path)
    assert path.is_file() and not a.from_cache
    assert train_subword_tokenizer(train_texts[:300], vocab_size=200, cache_path=path).from_cache
    with pytest.warns(UserWarning, match="other data"):
        b = train_subword_tokenizer(train_texts[300:600], vocab_size=200, cache_path=path)
    assert not b.from_cache and SubwordTokenizer.load(path).fingerprint == b.fingerprint


def test_save_load_and_pickle(sp, tmp_path):
    path = sp.save(tmp_path / "sub" / "bpe.json")
    loaded = SubwordTokenizer.load(path)
    assert loaded.pieces() == sp.pieces() and loaded.settings == sp.settings
    assert loaded("Ein Mann.") == sp("Ein Mann.")
    assert [p.name for p in path.parent.iterdir()] == ["bpe.json"]
    clone = pickle.loads(pickle.dumps(sp))
    assert clone("Zwei Hunde.") == sp("Zwei Hunde.") and "BPE" in repr(clone)
    with pytest.raises(FileNotFoundError):
        SubwordTokenizer.load(tmp_path / "missing.json")
    D.Vocab.build([["a"]], min_freq=1).save(tmp_path / "vocab.json")
    with pytest.raises(ValueError, match="not a course_lib subword model"):
        SubwordTokenizer.load(tmp_path / "vocab.json")


def test_bad_input(sp, train_texts):
    with pytest.raises(TypeError, match="single str"):
        train_subword_tokenizer("Ein Mann mit Hut", cache=False)
    with pytest.raises(TypeError, match="item 1"):
        train_subword_tokenizer(["a", 1], cache=False)
    with pytest.raises(ValueError, match="no text"):
        train_subword_tokenizer([], cache=False)
    with pytest.raises(ValueError, match="no text"):
        train_subword_tokenizer(["  ", ""], cache=False)
    for size, exc in ((1, ValueError), (0, ValueError), (-5, ValueError), (800.0, TypeError), (None, TypeError)):
        with pytest.raises(exc, match="vocab_size"):
            train_subword_tokenizer(train_texts, vocab_size=size, cache=False)
    with pytest.raises(ValueError, match="min_frequency"):
        train_subword_tokenizer(train_texts, min_frequency=0, cache=False)
    with pytest.raises(TypeError, match="lower"):
        train_subword_tokenizer(train_texts, lower="no", cache=False)
    with pytest.raises(TypeError, match="cache_path"):
        train_subword_tokenizer(train_texts, cache_path=123)
    with pytest.raises(TypeError, match="tokenize_many"):
        sp(["Ein Mann"])
    with pytest.raises(TypeError, match="single str"):
        sp.tokenize_many("Ein Mann")
    with pytest.raises(TypeError, match="tokens"):
        sp.detokenize("▁Ein▁Mann")
    with pytest.raises(TypeError):
        sp.detokenize([["▁Ein"]])


def test_prepare_multi30k_subwords(mirror_root, cache_dir, monkeypatch):
    kwargs = dict(max_train_pairs=SLICE, max_eval_pairs=300, tokenizer="subword", subword_vocab_size=VOCAB)
    data = D.prepare_multi30k("de", "en", **kwargs)
    words = D.prepare_multi30k("de", "en", max_train_pairs=SLICE, max_eval_pairs=300)
    assert data.tokenizer_kind == "subword" and data.src_tokenizer is data.tgt_tokenizer  # one joint model
    assert isinstance(data.tgt_tokenizer, SubwordTokenizer)
    assert data.tgt_tokenizer.settings["lower"] is False  # subwords keep case by default
    # vocabularies are the training pieces (min_freq=1): <unk> all but vanishes on the test split
    sub, wrd = data.token_stats("test"), words.token_stats("test")
    for side in ("src", "tgt"):
        assert sub[side]["unk_rate"] < 0.01
        assert sub[side]["unk_rate"] < wrd[side]["unk_rate"] / 5
        assert sub[side]["mean_len"] > wrd[side]["mean_len"]  # the price: longer sequences
        assert sub[side]["vocab_size"] <= VOCAB + 4
    # detokenised pieces are the raw references (exactly, where no <unk> appears)
    refs = data.references("test")
    exact = sum(data.tgt_tokenizer.detokenize(t) == r for t, r in zip(data.test.tgt_tokens, refs))
    assert exact >= 0.98 * len(refs)
    # a second call reuses the cached model
    monkeypatch.setattr(subwords_module, "_train_bpe", _no_training)
    again = D.prepare_multi30k("de", "en", **kwargs)
    assert again.src_tokenizer.from_cache and again.src_vocab == data.src_vocab
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cased = D.prepare_multi30k("de", "en", lower=False, **{**kwargs, "tokenizer": "spacy"})
    assert "Ein" in cased.src_vocab.itos


def test_subword_cache_path_validates():
    assert D.subword_cache_path("0123456789abcdef" * 4, 8000).name == "bpe8000-0123456789abcdef.json"
    with pytest.raises(TypeError):
        D.subword_cache_path(5, 8000)
    with pytest.raises(ValueError, match="hex"):
        D.subword_cache_path("xyz", 8000)
    with pytest.raises(ValueError, match="vocab_size"):
        D.subword_cache_path("0123456789abcdef", 0)
