"""Tests for course_lib.data.vocab: Vocab and the special tokens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.data import EOS, PAD, SOS, SPECIALS, UNK, Vocab, VocabIdError


def test_special_tokens_and_ids():
    assert SPECIALS == (PAD, UNK, SOS, EOS) == ("<pad>", "<unk>", "<sos>", "<eos>")


def test_vocab_build_specials_min_freq_order():
    sents = [["a", "dog", "runs"], ["a", "cat", "runs"], ["a", "dog"], ["bird"]]
    v = Vocab.build(sents, min_freq=2)
    assert v.itos == [PAD, UNK, SOS, EOS, "a", "dog", "runs"]  # freq desc, then alphabetical
    assert (v.pad_id, v.unk_id, v.sos_id, v.eos_id) == (0, 1, 2, 3)
    assert "cat" not in v and "dog" in v and v["cat"] == v.unk_id
    assert len(Vocab.build(sents, min_freq=1)) == 4 + 5
    assert len(Vocab.build(sents, min_freq=1, max_size=6)) == 6
    assert len(Vocab.build(iter(sents), min_freq=1)) == 9  # a generator works too
    assert Vocab.build([[UNK, "a"]], min_freq=1).itos == list(SPECIALS) + ["a"]  # specials not counted


def test_vocab_encode_decode_round_trip():
    v = Vocab.build([["a", "dog", "runs"]] * 2, min_freq=1)
    ids = v.encode(["a", "dog", "flies"])
    assert ids == [v.sos_id, v["a"], v["dog"], v.unk_id, v.eos_id]
    assert v.decode(ids) == ["a", "dog", UNK]
    assert v.decode(torch.tensor(ids + [v.pad_id, v["a"]])) == ["a", "dog", UNK]
    assert v.decode(ids, strip_special=False) == [SOS, "a", "dog", UNK]
    assert v.decode(ids, strip_special=False, stop_at_eos=False) == [SOS, "a", "dog", UNK, EOS]
    assert v.encode(["a"], add_sos_eos=False) == [v["a"]]
    assert v.decode(np.array(ids)) == ["a", "dog", UNK]  # NumPy integers
    assert v.decode([torch.tensor(4), 5]) == ["a", "dog"]  # 0-d integer tensors


@pytest.mark.parametrize("bad", ["hund", b"hund"])
def test_vocab_build_refuses_bare_string(bad):
    """A bare str would otherwise be iterated character by character."""
    with pytest.raises(TypeError, match="list of token lists"):
        Vocab.build(bad, min_freq=1)


def test_vocab_build_refuses_wrong_structure():
    with pytest.raises(TypeError, match="sentence 0 .*single str"):
        Vocab.build(["a dog", "a cat"], min_freq=1)
    with pytest.raises(TypeError, match="str tokens"):
        Vocab.build([["a", 3]], min_freq=1)
    with pytest.raises(TypeError, match="str tokens"):
        Vocab.build([[["a"]]], min_freq=1)
    with pytest.raises(TypeError):
        Vocab.build(5, min_freq=1)


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        (dict(min_freq=0), ValueError),
        (dict(min_freq=-1), ValueError),
        (dict(min_freq=1.5), TypeError),
        (dict(min_freq=True), TypeError),
        (dict(max_size=-1), ValueError),
        (dict(max_size=3), ValueError),
        (dict(max_size=10.0), TypeError),
    ],
)
def test_vocab_build_bad_sizes(kwargs, exc):
    with pytest.raises(exc, match="min_freq|max_size"):
        Vocab.build([["a"]], **kwargs)


def test_vocab_encode_refuses_str_and_nested():
    v = Vocab.build([["a", "dog"]], min_freq=1)
    with pytest.raises(TypeError, match="tokenise"):
        v.encode("a dog")
    with pytest.raises(TypeError, match="str tokens"):
        v.encode([["a", "dog"]])
    with pytest.raises(TypeError, match="str tokens"):
        v.encode([4, 5])
    with pytest.raises(TypeError):
        v[4]


@pytest.mark.parametrize("ids", [[4, 99], [-1], [2, 4, 3, 1000], torch.tensor([4, 7])])
def test_vocab_decode_out_of_range_is_value_error(ids):
    v = Vocab.build([["a", "dog"]], min_freq=1)
    with pytest.raises(ValueError, match="outside this vocabulary") as info:
        v.decode(ids)
    assert isinstance(info.value, (VocabIdError, IndexError))  # IndexError kept for older callers


@pytest.mark.parametrize(
    "ids, exc",
    [
        ("4 5", TypeError),
        ([4.0, 5.0], TypeError),
        ([[4, 5]], TypeError),
        ([True], TypeError),
        (torch.tensor([[4, 5]]), ValueError),
        (torch.tensor([4.0, 5.0]), ValueError),
        ([None], TypeError),
    ],
)
def test_vocab_decode_wrong_types(ids, exc):
    v = Vocab.build([["a", "dog"]], min_freq=1)
    with pytest.raises(exc):
        v.decode(ids)


def test_vocab_save_load_and_validation(tmp_path):
    v = Vocab.build([["ein", "Hund", "läuft", "ein"]], min_freq=1)
    path = v.save(tmp_path / "sub" / "vocab.json")
    assert Vocab.load(path) == v
    assert [p.name for p in path.parent.iterdir()] == ["vocab.json"]  # no temp file left
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not a course_lib vocabulary"):
        Vocab.load(tmp_path / "other.json")
    (tmp_path / "text.json").write_text("not json")
    with pytest.raises(ValueError, match="not a course_lib vocabulary"):
        Vocab.load(tmp_path / "text.json")
    (tmp_path / "ints.json").write_text('{"format": "course_lib.Vocab", "itos": [1, 2]}')
    with pytest.raises(ValueError, match="not a valid"):
        Vocab.load(tmp_path / "ints.json")
    with pytest.raises(FileNotFoundError):
        Vocab.load(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="special tokens"):
        Vocab(["a", "b"])
    with pytest.raises(TypeError):
        Vocab("<pad><unk>")
    with pytest.raises(ValueError, match="duplicate"):
        Vocab(list(SPECIALS) + ["a", "a"])
    assert "size=" in repr(v)


def test_vocab_save_failure_keeps_old_file(tmp_path, monkeypatch):
    """Vocab.save goes through atomic_write: a failing write leaves the old file intact."""
    import json

    path = Vocab.build([["old"]], min_freq=1).save(tmp_path / "v.json")
    before = path.read_text()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(json, "dump", boom)
    with pytest.raises(RuntimeError):
        Vocab.build([["new"]], min_freq=1).save(path)
    assert path.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["v.json"]


def test_vocab_build_refuses_no_sentences_and_unordered_containers():
    with pytest.raises(ValueError, match="no sentences"):
        Vocab.build([], min_freq=1)
    with pytest.raises(ValueError, match="no sentences"):
        Vocab.build(iter([]), min_freq=1)
    with pytest.raises(TypeError, match="in order"):
        Vocab.build([{"a", "dog"}], min_freq=1)
    v = Vocab.build([["a", "dog"]], min_freq=1)
    with pytest.raises(TypeError):
        v.encode({"a": 1})
