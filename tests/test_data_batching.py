"""Tests for course_lib.data.batching: Batch, TranslationDataset, collate, bucketing, loaders."""

from __future__ import annotations

import random
import warnings

import pytest
import torch

from course_lib import data as D
from course_lib import utils
from course_lib.data import Batch, BucketBatchSampler, TranslationDataset, Vocab, collate_batch


def test_collate_batch_padding_lengths_mask():
    examples = [([5, 6, 3], [2, 7, 3]), ([5, 3], [2, 7, 8, 9, 3]), ([4, 5, 6, 7, 3], [2, 3])]
    b = collate_batch(examples, pad_id=0)
    assert isinstance(b, Batch) and len(b) == 3
    assert b.src.shape == (3, 5) and b.tgt.shape == (3, 5)
    assert b.src.dtype == torch.long and b.src_lens.tolist() == [3, 2, 5] and b.tgt_lens.tolist() == [3, 5, 2]
    assert b.src[1].tolist() == [5, 3, 0, 0, 0] and b.tgt[2].tolist() == [2, 3, 0, 0, 0]
    assert torch.equal(b.src_pad_mask, b.src == 0)
    assert b.src_pad_mask.dtype == torch.bool and b.src_pad_mask.sum().item() == 15 - 10
    assert b.num_tgt_tokens == (3 + 5 + 2) - 3
    moved = b.to("cpu")
    assert torch.equal(moved.src, b.src) and torch.equal(moved.src_lens, b.src_lens)
    tensors = collate_batch([(torch.tensor([5, 3]), torch.tensor([2, 3]))])
    assert tensors.src.tolist() == [[5, 3]]
    with pytest.raises(ValueError):
        collate_batch([])


def test_src_pad_mask_goes_through_lengths_to_pad_mask(monkeypatch):
    calls = []
    real = utils.lengths_to_pad_mask

    def spy(lengths, max_len=None):
        calls.append(max_len)
        return real(lengths, max_len)

    monkeypatch.setattr("course_lib.data.batching.lengths_to_pad_mask", spy)
    b = collate_batch([([5, 3], [2, 3]), ([5, 6, 7, 3], [2, 3])])
    assert b.src_pad_mask.tolist() == [[False, False, True, True], [False] * 4]
    assert calls == [4]


def test_batch_src_pad_mask_rejects_lengths_longer_than_source():
    b = collate_batch([([5, 3], [2, 3])])
    bad = Batch(src=b.src, src_lens=torch.tensor([5]), tgt=b.tgt, tgt_lens=b.tgt_lens)
    with pytest.raises(ValueError, match="src_lens"):
        _ = bad.src_pad_mask


@pytest.mark.parametrize(
    "fields, exc",
    [
        (dict(src=torch.zeros(2, 3)), TypeError),  # float ids
        (dict(src=torch.zeros(6, dtype=torch.long)), ValueError),  # 1-D
        (dict(src_lens=torch.tensor([3])), ValueError),  # batch sizes disagree
        (dict(tgt=torch.zeros(3, 4, dtype=torch.long)), ValueError),
        (dict(tgt_lens=[4, 4]), TypeError),  # not a tensor
    ],
)
def test_batch_validates_structure(fields, exc):
    base = dict(
        src=torch.ones(2, 3, dtype=torch.long),
        src_lens=torch.tensor([3, 2]),
        tgt=torch.ones(2, 4, dtype=torch.long),
        tgt_lens=torch.tensor([4, 4]),
    )
    base.update(fields)
    with pytest.raises(exc):
        Batch(**base)


@pytest.mark.parametrize(
    "examples, exc, match",
    [
        ("hund", TypeError, "list of"),
        ([[5, 6, 3]], TypeError, "pair"),  # a bare id list, not a pair
        ([([5, 3], [2, 3], [1])], TypeError, "pair"),  # a triple
        (["ab"], TypeError, "pair"),
        ([("hund", [2, 3])], TypeError, "encode"),
        ([([5.5, 3.0], [2, 3])], TypeError, "integer"),
        ([([[5, 3]], [2, 3])], ValueError, "1-D"),
        ([([], [2, 3])], ValueError, "empty"),
        ([([5, 3], [2, -1])], ValueError, "negative"),
        ([([5, 3], [None])], TypeError, "integer ids"),
        (5, TypeError, "list of"),
    ],
)
def test_collate_batch_wrong_structure(examples, exc, match):
    with pytest.raises(exc, match=match):
        collate_batch(examples)


@pytest.mark.parametrize("pad_id, exc", [(-1, ValueError), (0.0, TypeError), ("0", TypeError)])
def test_collate_batch_bad_pad_id(pad_id, exc):
    with pytest.raises(exc, match="pad_id"):
        collate_batch([([5, 3], [2, 3])], pad_id=pad_id)


def _toy_dataset(max_len=None):
    pairs = [("a b c", "x y"), ("a b c d e f", "x"), ("a", "x y z w v u t"), ("b c", "y z")]
    tok = str.split
    src_vocab = Vocab.build([tok(s) for s, _ in pairs], min_freq=1)
    tgt_vocab = Vocab.build([tok(t) for _, t in pairs], min_freq=1)
    return TranslationDataset(pairs, tok, tok, src_vocab, tgt_vocab, max_len=max_len)


def test_translation_dataset_encoding():
    ds = _toy_dataset()
    assert len(ds) == 4 and ds.num_dropped == 0
    src, tgt = ds[0]
    assert src == ds.src_vocab.encode(["a", "b", "c"], add_sos_eos=False) + [ds.src_vocab.eos_id]
    assert tgt == ds.tgt_vocab.encode(["x", "y"])
    assert tgt[0] == ds.tgt_vocab.sos_id and tgt[-1] == ds.tgt_vocab.eos_id
    assert ds.src_lengths() == [4, 7, 2, 3]
    assert "4 pairs" in repr(ds)


def test_translation_dataset_max_len_drops_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a deliberate max_len is not a warning (issue 15): num_dropped and describe() say it
        ds = _toy_dataset(max_len=3)
    assert ds.num_dropped == 2 and len(ds) == 2 and "dropped=2" in repr(ds)
    assert ds.pairs == [("a b c", "x y"), ("b c", "y z")]  # kept whole, not truncated
    assert [len(t) for t in ds.src_tokens] == [3, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _toy_dataset(max_len=10).num_dropped == 0


def test_translation_dataset_bad_input():
    v = Vocab.build([["a"]], min_freq=1)
    tok = str.split
    with pytest.raises(TypeError, match="pairs"):
        TranslationDataset("a\tb", tok, tok, v, v)
    with pytest.raises(TypeError, match="item 0"):
        TranslationDataset(["a b"], tok, tok, v, v)
    with pytest.raises(TypeError, match="item 0"):
        TranslationDataset([("a", 3)], tok, tok, v, v)
    with pytest.raises(TypeError, match="src_vocab"):
        TranslationDataset([("a", "b")], tok, tok, {"a": 1}, v)
    with pytest.raises(TypeError, match="tgt_tokenizer"):
        TranslationDataset([("a", "b")], tok, "split", v, v)
    for max_len, exc in ((0, ValueError), (-2, ValueError), (2.5, TypeError)):
        with pytest.raises(exc, match="max_len"):
            TranslationDataset([("a", "b")], tok, tok, v, v, max_len=max_len)
    with pytest.raises(ValueError, match="token lists"):
        TranslationDataset([("a", "b")], tok, tok, v, v, src_tokens=[], tgt_tokens=[["b"]])


def _padding(batches, lengths):
    return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)


def test_bucket_sampler_covers_each_index_once(mirror_root):
    lengths = [len(s.split()) + 1 for s, _ in D.load_multi30k("train", "de", "en")]
    s = BucketBatchSampler(lengths, batch_size=64, seed=0)
    batches = list(s)
    assert len(batches) == len(s) == -(-len(lengths) // 64)
    assert all(1 <= len(b) <= 64 for b in batches)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    # less padding than random batches of the same size
    perm = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(0)).tolist()
    random_batches = [perm[i : i + 64] for i in range(0, len(perm), 64)]
    assert _padding(batches, lengths) < 0.5 * _padding(random_batches, lengths)


def test_bucket_sampler_reproducible_and_epoch_dependent():
    lengths = [random.Random(i).randint(1, 40) for i in range(1000)]
    a, b = BucketBatchSampler(lengths, 32, seed=7), BucketBatchSampler(lengths, 32, seed=7)
    epoch0, epoch1 = list(a), list(a)
    assert epoch0 == list(b) and epoch1 == list(b)  # same seed, same sequence of epochs
    assert epoch0 != epoch1
    a.set_epoch(0)
    assert list(a) == epoch0
    assert list(BucketBatchSampler(lengths, 32, seed=8)) != epoch0
    fixed = BucketBatchSampler(lengths, 32, shuffle=False)
    ordered = list(fixed)
    assert ordered == list(fixed)
    flat = [i for batch in ordered for i in batch]
    assert sorted(flat) == list(range(1000))
    assert [lengths[i] for i in flat] == sorted(lengths)
    assert list(BucketBatchSampler(torch.tensor(lengths), 32, shuffle=False)) == ordered


@pytest.mark.parametrize(
    "args, kwargs, exc",
    [
        (([1, 2], 0), {}, ValueError),
        (([1, 2], -4), {}, ValueError),
        (([1, 2], 2.0), {}, TypeError),
        (([1, 2], 2), dict(bucket_multiplier=0), ValueError),
        (([1, 2], 2), dict(seed=-1), ValueError),
        (("12", 2), {}, TypeError),
        (([1.5, 2.0], 2), {}, TypeError),
        (([[1, 2]], 2), {}, ValueError),
        (([3, -1], 2), {}, ValueError),
    ],
)
def test_bucket_sampler_bad_arguments(args, kwargs, exc):
    with pytest.raises(exc):
        BucketBatchSampler(*args, **kwargs)


def test_bucket_sampler_set_epoch_validates():
    s = BucketBatchSampler([1, 2, 3], 2)
    with pytest.raises(ValueError, match="epoch"):
        s.set_epoch(-1)


def test_make_loader_yields_batches():
    ds = _toy_dataset()
    for bucket in (True, False):
        loader = D.make_loader(ds, batch_size=3, bucket=bucket, seed=0)
        batches = list(loader)
        assert sum(len(b) for b in batches) == len(ds)
        assert all(isinstance(b, Batch) and len(b) <= 3 for b in batches)
        for b in batches:
            assert torch.equal(b.src_pad_mask, b.src == ds.src_vocab.pad_id)
    fixed = D.make_loader(ds, batch_size=2, shuffle=False, bucket=False)
    assert next(iter(fixed)).src_lens.tolist() == [4, 7]


@pytest.mark.parametrize("batch_size, exc", [(0, ValueError), (-1, ValueError), (1.5, TypeError), (None, TypeError)])
def test_make_loader_bad_batch_size(batch_size, exc):
    with pytest.raises(exc, match="batch_size"):
        D.make_loader(_toy_dataset(), batch_size=batch_size)


def test_make_loader_bad_dataset():
    with pytest.raises(TypeError, match="TranslationDataset"):
        D.make_loader([([5, 3], [2, 3])], batch_size=2)
    empty = _toy_dataset(max_len=1)
    assert len(empty) == 0
    with pytest.raises(ValueError, match="empty"):
        D.make_loader(empty, batch_size=2)


def test_numpy_integer_sizes_are_accepted():
    import numpy as np

    ds = _toy_dataset()
    loader = D.make_loader(ds, batch_size=np.int64(2), seed=np.int32(0))
    assert sum(len(b) for b in loader) == len(ds)
    assert len(BucketBatchSampler(np.array([3, 1, 2]), np.int64(2))) == 2
