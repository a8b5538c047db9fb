"""Tests for course_lib.data.make_sequence_task: copy / reverse / sort tasks of controllable length."""

from __future__ import annotations

import warnings
from collections import Counter

import pytest

from course_lib import data
from course_lib.checks import InputTypeError


@pytest.mark.parametrize("task", data.SEQUENCE_TASKS)
def test_targets_follow_the_task_and_lengths_fill_the_range(task):
    pairs = data.make_sequence_task(3000, task=task, min_len=3, max_len=60, n_symbols=20, seed=1)
    assert len(pairs) == 3000
    lengths = Counter()
    for src, tgt in pairs:
        s, t = src.split(), tgt.split()
        lengths[len(s)] += 1
        assert src == " ".join(s) and set(s) <= set("abcdefghijklmnopqrst")  # single spaces, 20 symbols
        assert t == {"copy": s, "reverse": s[::-1], "sort": sorted(s)}[task]
    assert set(lengths) == set(range(3, 61))  # every length present, none outside [3, 60]
    assert min(lengths.values()) > 3000 / 58 / 3  # roughly uniform
    by_bucket = Counter((n - 1) // 10 for n in lengths.elements())  # 1-10, 11-20, ...: all populated
    assert set(by_bucket) == set(range(6))


def test_seeded_and_reproducible():
    a = data.make_sequence_task(200, "reverse", seed=3)
    assert a == data.make_sequence_task(200, "reverse", seed=3)
    assert a != data.make_sequence_task(200, "reverse", seed=4)
    assert data.make_sequence_task(50, "copy", seed=3) != data.make_sequence_task(50, "sort", seed=3)


def test_many_symbols_have_equal_width_and_sort_in_index_order():
    pairs = data.make_sequence_task(300, "sort", min_len=5, max_len=25, n_symbols=500, seed=0)
    symbols = {w for s, _ in pairs for w in s.split()}
    assert {len(w) for w in symbols} == {2} and len(symbols) > 450
    single = data.make_sequence_task(10, "copy", min_len=1, max_len=1, n_symbols=2)
    assert {s for s, _ in single} <= {"a", "b"} and all(s == t for s, t in single)
    assert {len(w) for s, _ in data.make_sequence_task(20, n_symbols=700) for w in s.split()} == {3}


def test_prepare_pairs_builds_a_corpus_without_warnings():
    pairs = data.make_sequence_task(600, "copy", min_len=3, max_len=30, seed=0)
    parts = data.split_pairs(pairs, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        corpus = data.prepare_pairs(parts["train"], parts["val"], parts["test"], str.split, str.split, max_len=25,
                                    src_lang="seq", tgt_lang="copy")
    assert len(corpus.src_vocab) == 4 + 20 and corpus.train.num_dropped > 0
    assert "dropped by max_len" in corpus.describe()  # the drop is reported, not warned about
    assert max(map(len, corpus.train.src_tokens)) <= 25 and max(map(len, corpus.test.src_tokens)) > 25
    batch = next(iter(data.make_loader(corpus.train, 16)))
    assert batch.src.shape[0] == 16 and bool((batch.src_lens >= 4).all())


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_pairs=0), ValueError, "n_pairs"),
        (dict(n_pairs=2.0), InputTypeError, "n_pairs"),
        (dict(task="shuffle"), ValueError, "copy"),
        (dict(task=None), InputTypeError, "task"),
        (dict(min_len=0), ValueError, "min_len"),
        (dict(min_len=10, max_len=5), ValueError, "max_len"),
        (dict(max_len="60"), InputTypeError, "max_len"),
        (dict(n_symbols=1), ValueError, "n_symbols"),
        (dict(n_symbols=26**3 + 1), ValueError, "n_symbols"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(seed=None), InputTypeError, "seed"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    args = dict(n_pairs=10) | kwargs
    with pytest.raises(error, match=match):
        data.make_sequence_task(**args)
