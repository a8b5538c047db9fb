"""course_lib.data checks its input once, at the door: the library's own batches and corpora are trusted."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from course_lib import data
from course_lib.checks import InputTypeError


def test_collate_and_to_build_batches_without_checking_them_again(monkeypatch):
    def no_check(*a, **k):
        raise AssertionError("a batch the library built must not be checked again")

    monkeypatch.setattr("course_lib.data.batching.check_tensor", no_check)
    batch = data.collate_batch([([5, 6, 3], [2, 7, 3]), ([5, 3], [2, 3])])
    moved = batch.to("cpu")
    assert moved.src.tolist() == [[5, 6, 3], [5, 3, 0]] and moved.tgt_lens.tolist() == [3, 2]
    with pytest.raises(AssertionError):  # a batch built by hand is checked
        data.Batch(batch.src, batch.src_lens, batch.tgt, batch.tgt_lens)


def test_collate_accepts_tensors_numpy_and_generators_of_ids():
    b = data.collate_batch([(torch.tensor([5, 3]), np.array([2, 3])), ((i for i in (6, 7, 3)), [2, 8, 3])], pad_id=0)
    assert b.src.tolist() == [[5, 3, 0], [6, 7, 3]] and b.src.dtype == torch.long and b.src_lens.tolist() == [2, 3]


@pytest.mark.parametrize("ids", [[[4], [5, 6]], "45", {4, 5}, [4.0], [True], None, 4])
def test_ids_of_the_wrong_type_are_input_type_errors(ids):
    with pytest.raises(InputTypeError, match="integer ids"):
        data.collate_batch([(ids, [2, 3])])
    with pytest.raises(InputTypeError):
        data.Vocab.build([["a"]], min_freq=1).decode(ids)


def test_a_deliberate_max_len_is_reported_not_warned():
    pairs = [("a b c", "x"), ("a b c d e", "x y"), ("a", "x")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        corpus = data.prepare_pairs(pairs, pairs, pairs, str.split, str.split, max_len=3)
    assert corpus.train.num_dropped == 1 and corpus.test.num_dropped == 0
    assert "(1 dropped by max_len)" in corpus.describe()
