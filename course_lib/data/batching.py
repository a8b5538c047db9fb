"""Datasets, padded batch-first batches, and length bucketing.

:class:`TranslationDataset` encodes sentence pairs; :func:`collate_batch` pads them into a
:class:`Batch` (``src [B, S]``, ``src_lens [B]``, ``tgt [B, T]``, ``tgt_lens [B]``, and
``src_pad_mask [B, S]``, True at padding); :class:`BucketBatchSampler` groups sentences of
similar length so that little padding is needed; :func:`make_loader` puts them together.

Shape legend: ``B`` batch, ``S`` source length, ``T`` target length (in tokens).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from course_lib.data._checks import check_flag, check_positive_int, check_tokens
from course_lib.data.corpora import Pair
from course_lib.data.text import tokenize_all
from course_lib.data.vocab import Vocab
from course_lib.utils import as_device, lengths_to_pad_mask

__all__ = ["Batch", "TranslationDataset", "collate_batch", "BucketBatchSampler", "make_loader"]


def _is_int_tensor(x: object) -> bool:
    return isinstance(x, torch.Tensor) and not (x.dtype.is_floating_point or x.is_complex() or x.dtype == torch.bool)


@dataclass
class Batch:
    """A padded, batch-first mini-batch.

    Attributes:
        src: LongTensor ``[B, S]``: source ids, each row ``tokens... <eos>`` then ``<pad>``.
        src_lens: LongTensor ``[B]``: source lengths in tokens (``<eos>`` included).
        tgt: LongTensor ``[B, T]``: target ids, each row ``<sos> tokens... <eos>`` then ``<pad>``.
            Teacher forcing feeds ``tgt[:, :-1]`` and predicts ``tgt[:, 1:]``.
        tgt_lens: LongTensor ``[B]``: target lengths in tokens (``<sos>`` and ``<eos>`` included).

    Raises:
        TypeError: a field is not an integer tensor.
        ValueError: ``src``/``tgt`` are not 2-D, the lengths are not ``[B]``, or the batch
            sizes disagree. (Length *values* are checked by :attr:`src_pad_mask`, through
            :func:`course_lib.utils.lengths_to_pad_mask`, so that building a batch on a GPU
            never waits for the device.)
    """

    src: torch.Tensor
    src_lens: torch.Tensor
    tgt: torch.Tensor
    tgt_lens: torch.Tensor

    def __post_init__(self) -> None:
        for name in ("src", "src_lens", "tgt", "tgt_lens"):
            value = getattr(self, name)
            if not _is_int_tensor(value):
                kind = f"tensor of dtype {value.dtype}" if isinstance(value, torch.Tensor) else type(value).__name__
                raise TypeError(f"Batch.{name} must be an integer tensor, got a {kind}")
        if self.src.dim() != 2 or self.tgt.dim() != 2:
            raise ValueError(
                f"Batch.src and Batch.tgt must be 2-D [B, S] / [B, T], got shapes {tuple(self.src.shape)} "
                f"and {tuple(self.tgt.shape)}"
            )
        b = self.src.shape[0]
        if self.tgt.shape[0] != b or tuple(self.src_lens.shape) != (b,) or tuple(self.tgt_lens.shape) != (b,):
            raise ValueError(
                f"Batch fields disagree on the batch size: src {tuple(self.src.shape)}, src_lens "
                f"{tuple(self.src_lens.shape)}, tgt {tuple(self.tgt.shape)}, tgt_lens {tuple(self.tgt_lens.shape)}"
            )

    @property
    def src_pad_mask(self) -> torch.Tensor:
        """BoolTensor ``[B, S]``, True where ``src`` is padding (from ``src_lens``, through
        :func:`course_lib.utils.lengths_to_pad_mask`, which rejects lengths outside ``[1, S]``)."""
        return lengths_to_pad_mask(self.src_lens.to(self.src.device), self.src.shape[1])

    @property
    def num_tgt_tokens(self) -> int:
        """Number of target tokens the decoder predicts: ``sum(tgt_lens) - B`` (no ``<sos>``, no padding)."""
        return int(self.tgt_lens.sum().item()) - len(self)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """A copy of the batch on ``device`` (all four tensors, ``src_lens`` included).

        Raises:
            TypeError: ``device`` is neither a :class:`torch.device` nor a str, or
                ``non_blocking`` is not a bool.
            ValueError: ``device`` is a str torch does not read as a device, or names a
                CUDA / MPS device this machine does not have.
        """
        device = as_device(device, check_available=True)
        check_flag("non_blocking", non_blocking)
        return Batch(
            src=self.src.to(device, non_blocking=non_blocking),
            src_lens=self.src_lens.to(device, non_blocking=non_blocking),
            tgt=self.tgt.to(device, non_blocking=non_blocking),
            tgt_lens=self.tgt_lens.to(device, non_blocking=non_blocking),
        )

    def __len__(self) -> int:
        return self.src.shape[0]


class TranslationDataset(Dataset):
    """Tokenised, encoded sentence pairs, ready for :func:`collate_batch`.

    Encoding: source = ``tokens + [<eos>]``; target = ``[<sos>] + tokens + [<eos>]``.

    No silent truncation: with ``max_len``, a pair whose source *or* target has more than
    ``max_len`` tokens (not counting ``<sos>``/``<eos>``) is dropped; the count is stored in
    :attr:`num_dropped` and reported with :func:`warnings.warn`.

    Args:
        pairs: ``(source_sentence, target_sentence)`` strings.
        src_tokenizer, tgt_tokenizer: callables ``str -> list[str]``; a ``tokenize_many``
            method is used when present (faster).
        src_vocab, tgt_vocab: :class:`~course_lib.data.Vocab` objects.
        max_len: maximum tokens per side (>= 1), or ``None`` to keep everything.
        src_tokens, tgt_tokens: optional, already-tokenised ``pairs`` (one list per pair),
            to skip tokenising again (used by :func:`~course_lib.data.prepare_pairs`).

    Attributes:
        pairs, src_tokens, tgt_tokens, src_ids, tgt_ids: parallel lists for the kept pairs
            (``pairs`` holds the raw, untokenised strings: the references for BLEU).
        num_dropped: pairs removed by ``max_len``.

    Raises:
        TypeError: ``pairs`` is a str or holds something other than ``(str, str)`` pairs; a
            vocabulary is not a :class:`Vocab`; a tokeniser is not callable or returns
            something other than a list of str tokens (a str would be read character by
            character); ``src_tokens`` / ``tgt_tokens`` is not a list of token lists;
            ``max_len`` is not an int.
        ValueError: ``max_len < 1``, or the pre-tokenised lists do not match ``pairs``.
    """

    def __init__(
        self,
        pairs: Sequence[Pair],
        src_tokenizer: Callable[[str], list[str]],
        tgt_tokenizer: Callable[[str], list[str]],
        src_vocab: Vocab,
        tgt_vocab: Vocab,
        max_len: int | None = None,
        *,
        src_tokens: Sequence[list[str]] | None = None,
        tgt_tokens: Sequence[list[str]] | None = None,
    ):
        check_positive_int("max_len", max_len, allow_none=True)
        pairs = _check_pairs(pairs, "TranslationDataset")
        for name, vocab in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab)):
            if not isinstance(vocab, Vocab):
                raise TypeError(f"{name} must be a course_lib.data.Vocab, got {type(vocab).__name__}")
        for name, tok in (("src_tokenizer", src_tokenizer), ("tgt_tokenizer", tgt_tokenizer)):
            if not callable(tok):
                raise TypeError(f"{name} must be callable (str -> list of tokens), got {type(tok).__name__}")
        for name, given in (("src_tokens", src_tokens), ("tgt_tokens", tgt_tokens)):
            if given is not None and (isinstance(given, (str, bytes)) or not isinstance(given, Sequence)):
                raise TypeError(f"{name} must be a list of token lists (one per pair), got {type(given).__name__}")
        if src_tokens is None:
            src_tokens = tokenize_all(src_tokenizer, [s for s, _ in pairs])
        else:
            src_tokens = [check_tokens(t, f"TranslationDataset src_tokens[{i}]") for i, t in enumerate(src_tokens)]
        if tgt_tokens is None:
            tgt_tokens = tokenize_all(tgt_tokenizer, [t for _, t in pairs])
        else:
            tgt_tokens = [check_tokens(t, f"TranslationDataset tgt_tokens[{i}]") for i, t in enumerate(tgt_tokens)]
        if len(src_tokens) != len(pairs) or len(tgt_tokens) != len(pairs):
            raise ValueError(
                f"got {len(pairs)} pairs but {len(src_tokens)} source and {len(tgt_tokens)} target token lists"
            )
        keep = range(len(pairs))
        if max_len is not None:
            keep = [i for i in keep if len(src_tokens[i]) <= max_len and len(tgt_tokens[i]) <= max_len]
        self.num_dropped = len(pairs) - len(keep)
        if self.num_dropped:
            warnings.warn(
                f"TranslationDataset: dropped {self.num_dropped} of {len(pairs)} pairs with more than "
                f"max_len={max_len} tokens on a side (kept {len(keep)}); raise max_len to keep them",
                stacklevel=2,
            )
        self.max_len = max_len
        self.src_vocab = src_vocab
        self.tgt_vocab = tgt_vocab
        self.pairs: list[Pair] = [pairs[i] for i in keep]
        self.src_tokens: list[list[str]] = [list(src_tokens[i]) for i in keep]
        self.tgt_tokens: list[list[str]] = [list(tgt_tokens[i]) for i in keep]
        self.src_ids: list[list[int]] = [src_vocab.encode(t, add_sos_eos=False) + [src_vocab.eos_id] for t in self.src_tokens]
        self.tgt_ids: list[list[int]] = [tgt_vocab.encode(t, add_sos_eos=True) for t in self.tgt_tokens]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[list[int], list[int]]:
        """``(src_ids, tgt_ids)`` of pair ``i``."""
        return self.src_ids[i], self.tgt_ids[i]

    def src_lengths(self) -> list[int]:
        """Encoded source length of every pair (``<eos>`` included), for bucketing."""
        return [len(s) for s in self.src_ids]

    def __repr__(self) -> str:
        return f"TranslationDataset({len(self)} pairs, dropped={self.num_dropped}, max_len={self.max_len})"


def _check_pairs(pairs: object, what: str) -> list[Pair]:
    """``pairs`` as a list of ``(str, str)``; TypeError for a bare str or a malformed item."""
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Iterable):
        raise TypeError(f"{what} expects a list of (source, target) string pairs, got {type(pairs).__name__}")
    out = []
    for i, pair in enumerate(pairs):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError(f"{what}: item {i} must be a (source, target) pair of str, got {pair!r:.60}")
        s, t = pair
        if not isinstance(s, str) or not isinstance(t, str):
            raise TypeError(f"{what}: item {i} must hold two str sentences, got ({type(s).__name__}, {type(t).__name__})")
        out.append((s, t))
    return out


def _as_id_row(x: object, where: str) -> torch.Tensor:
    """One example side as a 1-D long tensor of ids >= 0, with a clear error otherwise."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"collate_batch: {where} is a str; encode it with Vocab.encode first")
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            t = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"collate_batch: {where} must be a list of integer ids, got {x!r:.60} ({err})") from None
    if t.dim() != 1:
        raise ValueError(f"collate_batch: {where} must be a flat list of ids (1-D), got shape {tuple(t.shape)}")
    if t.numel() and not _is_int_tensor(t):
        raise TypeError(f"collate_batch: {where} must hold integer ids, got dtype {t.dtype}")
    if t.numel() == 0:
        raise ValueError(f"collate_batch: {where} is empty; every source and target needs at least one id")
    return t.to(torch.long)


def collate_batch(examples: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int = 0) -> Batch:
    """Pad ``(src_ids, tgt_ids)`` examples into a batch-first :class:`Batch`.

    Args:
        examples: ``B`` pairs of id lists (or 1-D integer tensors), e.g. from
            :class:`TranslationDataset`.
        pad_id: padding id (``Vocab.pad_id``, 0), an int >= 0.

    Returns:
        :class:`Batch` with ``src`` ``[B, S]``, ``tgt`` ``[B, T]`` (``S``, ``T`` = longest in
        the batch), ``src_lens`` and ``tgt_lens`` ``[B]``, all ``torch.long`` on the CPU.

    Raises:
        TypeError: ``examples`` is a str or not a sequence; an example is not a
            ``(src_ids, tgt_ids)`` pair; ids are strings or floats; ``pad_id`` is not an int.
        ValueError: ``examples`` is empty; a sequence is empty, not 1-D, or holds a negative
            id; ``pad_id < 0``.
    """
    check_positive_int("pad_id", pad_id, minimum=0)
    if isinstance(examples, (str, bytes)) or not hasattr(examples, "__len__"):
        raise TypeError(
            f"collate_batch expects a list of (src_ids, tgt_ids) pairs, got {type(examples).__name__}"
        )
    if len(examples) == 0:
        raise ValueError("collate_batch got no examples; a batch needs at least one (src_ids, tgt_ids) pair")
    srcs, tgts = [], []
    for i, ex in enumerate(examples):
        if isinstance(ex, (str, bytes)) or not isinstance(ex, (Sequence, torch.Tensor)) or len(ex) != 2:
            raise TypeError(
                f"collate_batch: example {i} must be a (src_ids, tgt_ids) pair, got {ex!r:.60}; "
                "pass e.g. [([5, 6, 3], [2, 7, 3]), ...]"
            )
        srcs.append(_as_id_row(ex[0], f"the source of example {i}"))
        tgts.append(_as_id_row(ex[1], f"the target of example {i}"))
    src_lens = torch.tensor([len(s) for s in srcs], dtype=torch.long)
    tgt_lens = torch.tensor([len(t) for t in tgts], dtype=torch.long)
    src = torch.full((len(srcs), int(src_lens.max())), pad_id, dtype=torch.long)
    tgt = torch.full((len(tgts), int(tgt_lens.max())), pad_id, dtype=torch.long)
    for i, (s, t) in enumerate(zip(srcs, tgts)):
        src[i, : len(s)] = s
        tgt[i, : len(t)] = t
    for name, ids in (("source", src), ("target", tgt)):
        if int(ids.min()) < 0:
            row = int((ids < 0).any(dim=1).nonzero()[0])
            raise ValueError(f"collate_batch: the {name} of example {row} holds a negative id; ids must be >= 0")
    return Batch(src=src, src_lens=src_lens, tgt=tgt, tgt_lens=tgt_lens)


class BucketBatchSampler(Sampler[list[int]]):
    """Yield batches of indices whose examples have similar lengths (less padding).

    With ``shuffle=True``, each epoch: permute all indices, cut the permutation into chunks
    of ``batch_size * bucket_multiplier``, sort each chunk by length, cut it into batches,
    and shuffle the order of all batches. The RNG is seeded from ``(seed, epoch)``, and every
    call to ``__iter__`` uses the current epoch and then advances it, so consecutive epochs
    differ and a rerun with the same seed repeats them; :meth:`set_epoch` sets it
    explicitly (e.g. when resuming). With ``shuffle=False``: indices sorted by length (ties
    by index), cut into batches, in that order: deterministic.

    Every index appears exactly once per epoch; every batch has at most ``batch_size``
    indices (only one batch per chunk can be smaller).

    Args:
        lengths: length of each example, ints >= 0 (e.g. :meth:`TranslationDataset.src_lengths`).
        batch_size: examples per batch (>= 1).
        shuffle, seed: see above (``seed`` an int >= 0).
        bucket_multiplier: batches per sorted chunk (>= 1); larger means less padding but
            less randomness.

    Raises:
        TypeError: ``lengths`` is a str, not a list / array / tensor (e.g. a dict or set), or
            holds non-integers; a size is not an int; ``shuffle`` is not a bool.
        ValueError: ``batch_size`` or ``bucket_multiplier`` below 1, a negative length or
            seed, or ``lengths`` not flat.
    """

    def __init__(
        self, lengths: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0, bucket_multiplier: int = 50
    ):
        check_positive_int("batch_size", batch_size)
        check_positive_int("bucket_multiplier", bucket_multiplier)
        check_positive_int("seed", seed, minimum=0)
        shuffle = check_flag("shuffle", shuffle)
        if isinstance(lengths, (str, bytes)):
            raise TypeError("BucketBatchSampler expects a list of integer lengths, got a str")
        if not isinstance(lengths, Iterable) or isinstance(lengths, (Mapping, set, frozenset)):
            raise TypeError(
                f"BucketBatchSampler expects a list of integer lengths (e.g. dataset.src_lengths()), "
                f"got {type(lengths).__name__}"
            )
        arr = np.asarray(lengths.tolist() if isinstance(lengths, torch.Tensor) else list(lengths))
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"BucketBatchSampler lengths must be integers, got dtype {arr.dtype}")
        if arr.ndim != 1:
            raise ValueError(f"BucketBatchSampler lengths must be a flat list, got shape {arr.shape}")
        if arr.size and arr.min() < 0:
            raise ValueError(f"BucketBatchSampler lengths must be >= 0, got {int(arr.min())}")
        self.lengths = arr.astype(np.int64)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.bucket_multiplier = int(bucket_multiplier)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` (an int >= 0) for the next ``__iter__`` (then it advances by one per iteration).

        Raises:
            TypeError, ValueError: ``epoch`` is not an int >= 0.
        """
        check_positive_int("epoch", epoch, minimum=0)
        self.epoch = int(epoch)

    def _batches(self, epoch: int) -> list[list[int]]:
        n, bs = len(self.lengths), self.batch_size
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            return [order[i : i + bs].tolist() for i in range(0, n, bs)]
        rng = np.random.default_rng([self.seed, epoch])
        perm = rng.permutation(n)
        chunk = bs * self.bucket_multiplier
        batches = []
        for start in range(0, n, chunk):
            idx = perm[start : start + chunk]
            idx = idx[np.argsort(self.lengths[idx], kind="stable")]
            batches.extend(idx[i : i + bs].tolist() for i in range(0, len(idx), bs))
        return [batches[i] for i in rng.permutation(len(batches))]

    def __iter__(self) -> Iterator[list[int]]:
        epoch = self.epoch
        self.epoch += 1
        yield from self._batches(epoch)

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)


def make_loader(
    dataset: TranslationDataset, batch_size: int, shuffle: bool = True, bucket: bool = True, seed: int = 0
) -> DataLoader:
    """A :class:`~torch.utils.data.DataLoader` of :class:`Batch` objects over ``dataset``.

    ``bucket=True`` batches by source length with :class:`BucketBatchSampler` (reach it as
    ``loader.batch_sampler``); ``bucket=False`` gives plain batches in dataset order, or
    shuffled by a generator seeded with ``seed`` when ``shuffle``. ``num_workers=0``
    (tokenising is done up front, so workers would only add start-up time). Batches are
    on the CPU; move them with ``batch.to(device)``.

    Raises:
        TypeError: ``dataset`` is not a :class:`TranslationDataset`; ``batch_size`` or
            ``seed`` is not an int; ``shuffle`` or ``bucket`` is not a bool.
        ValueError: ``batch_size`` below 1, a negative ``seed``, or an empty dataset.
    """
    if not isinstance(dataset, TranslationDataset):
        raise TypeError(f"make_loader expects a TranslationDataset, got {type(dataset).__name__}")
    check_positive_int("batch_size", batch_size)
    check_positive_int("seed", seed, minimum=0)
    shuffle = check_flag("shuffle", shuffle)
    bucket = check_flag("bucket", bucket)
    if len(dataset) == 0:
        raise ValueError("make_loader got an empty dataset (0 pairs); check max_len and the data you passed")
    collate = functools.partial(collate_batch, pad_id=dataset.tgt_vocab.pad_id)
    if bucket:
        sampler = BucketBatchSampler(dataset.src_lengths(), batch_size, shuffle=shuffle, seed=seed)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=0)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, collate_fn=collate, num_workers=0)
