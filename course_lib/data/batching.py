"""Datasets, padded batch-first batches, and length bucketing.

:class:`TranslationDataset` encodes sentence pairs; :func:`collate_batch` pads them into a
:class:`Batch`; :class:`BucketBatchSampler` groups sentences of similar length so that little
padding is needed; :func:`make_loader` puts them together.

Shape legend: ``B`` batch, ``S`` source length, ``T`` target length (in tokens).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from course_lib.checks import InputTypeError, check_flag, check_int, check_tensor, check_tokens, require
from course_lib.data._util import check_ids, check_instance, check_items
from course_lib.data.corpora import Pair
from course_lib.data.text import tokenize_all
from course_lib.data.vocab import Vocab
from course_lib.utils import as_device, lengths_to_pad_mask

__all__ = ["Batch", "TranslationDataset", "collate_batch", "BucketBatchSampler", "make_loader"]


@dataclass
class Batch:
    """A padded, batch-first mini-batch.

    Attributes:
        src: LongTensor ``[B, S]``: source ids, each row ``tokens... <eos>`` then ``<pad>``.
        src_lens: LongTensor ``[B]``: source lengths in tokens (``<eos>`` included).
        tgt: LongTensor ``[B, T]``: target ids, each row ``<sos> tokens... <eos>`` then ``<pad>``;
            teacher forcing feeds ``tgt[:, :-1]`` and predicts ``tgt[:, 1:]``.
        tgt_lens: LongTensor ``[B]``: target lengths (``<sos>`` and ``<eos>`` included).

    Building one checks the fields' metadata only (dtype, rank, batch size), never their
    values, so that a batch on a GPU never waits for the device; the library's own batches
    (:func:`collate_batch`, :meth:`to`) are trusted and not checked again.

    Raises:
        InputTypeError: a field is not an integer tensor.
        ValueError: ``src``/``tgt`` are not 2-D or the batch sizes disagree.
    """

    src: torch.Tensor
    src_lens: torch.Tensor
    tgt: torch.Tensor
    tgt_lens: torch.Tensor

    def __post_init__(self) -> None:
        b = len(check_tensor(self.src, "Batch.src", ndim=2, kind="int"))
        for name, shape in (("tgt", (b, None)), ("src_lens", (b,)), ("tgt_lens", (b,))):
            check_tensor(getattr(self, name), f"Batch.{name}", kind="int", shape=shape)

    @classmethod
    def _trusted(cls, **fields: torch.Tensor) -> Batch:
        """A batch the library built itself: no checks."""
        batch = object.__new__(cls)
        batch.__dict__.update(fields)
        return batch

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
        """A copy of the batch on ``device`` (all four tensors).

        Raises:
            InputTypeError: ``device`` is neither a :class:`torch.device` nor a str, or
                ``non_blocking`` not a bool.
            ValueError: a str torch does not read as a device, or a device this machine lacks.
        """
        device = as_device(device, check_available=True)
        check_flag(non_blocking, "non_blocking")
        return Batch._trusted(**{k: getattr(self, k).to(device, non_blocking=non_blocking)
                                 for k in ("src", "src_lens", "tgt", "tgt_lens")})

    def __len__(self) -> int:
        return self.src.shape[0]


def _check_pairs(pairs: object, name: str) -> list[Pair]:
    """``pairs`` as a list of ``(str, str)`` tuples."""
    pairs = check_items(pairs, name, "(source, target) string pairs")
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(s, str) for s in pair)):
            raise InputTypeError(f"{name}: item {i} must be a (source, target) pair of two str, got {pair!r:.60}")
    return [tuple(p) for p in pairs]


def _tokens(side: str, tokenizer, texts: list[str], given) -> list[list[str]]:
    """``texts`` tokenised, or the pre-tokenised ``given`` lists checked (``side``: ``"src"`` or ``"tgt"``)."""
    if given is None:
        return tokenize_all(tokenizer, texts, f"{side}_tokenizer")
    given = check_items(given, f"TranslationDataset's {side}_tokens", "token lists, one per pair")
    return [check_tokens(tokens, f"TranslationDataset's {side}_tokens[{i}]") for i, tokens in enumerate(given)]


class TranslationDataset(Dataset):
    """Tokenised, encoded sentence pairs, ready for :func:`collate_batch`.

    Encoding: source = ``tokens + [<eos>]``; target = ``[<sos>] + tokens + [<eos>]``. No
    silent truncation: with ``max_len``, a pair with more than ``max_len`` tokens on a side
    (``<sos>``/``<eos>`` not counted) is dropped and counted in :attr:`num_dropped`
    (:meth:`~course_lib.data.TranslationData.describe` reports it).

    Args:
        pairs: ``(source_sentence, target_sentence)`` strings.
        src_tokenizer, tgt_tokenizer: callables ``str -> list[str]`` (``tokenize_many`` is used when present).
        src_vocab, tgt_vocab: :class:`~course_lib.data.Vocab` objects.
        max_len: maximum tokens per side (>= 1), or ``None`` to keep everything.
        src_tokens, tgt_tokens: the ``pairs`` already tokenised (one list per pair), to skip tokenising again.

    Attributes:
        pairs, src_tokens, tgt_tokens, src_ids, tgt_ids: parallel lists for the kept pairs
            (``pairs`` holds the raw strings: the references for BLEU).
        num_dropped: pairs removed by ``max_len``.

    Raises:
        InputTypeError: ``pairs`` is not a list of ``(str, str)``; a vocabulary is not a
            :class:`Vocab`; a tokeniser is not callable or returns something other than a list
            of str tokens; ``src_tokens``/``tgt_tokens`` are not token lists; ``max_len`` not an int.
        ValueError: ``max_len < 1``, or pre-tokenised lists of another length than ``pairs``.
    """

    def __init__(self, pairs: Sequence[Pair], src_tokenizer: Callable[[str], list[str]],
                 tgt_tokenizer: Callable[[str], list[str]], src_vocab: Vocab, tgt_vocab: Vocab,
                 max_len: int | None = None, *, src_tokens: Sequence[list[str]] | None = None,
                 tgt_tokens: Sequence[list[str]] | None = None):
        check_int(max_len, "max_len", low=1, allow_none=True)
        pairs = _check_pairs(pairs, "TranslationDataset's pairs")
        for name, vocab in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab)):
            check_instance(vocab, Vocab, name, "a course_lib.data.Vocab")
        src_tokens = _tokens("src", src_tokenizer, [s for s, _ in pairs], src_tokens)
        tgt_tokens = _tokens("tgt", tgt_tokenizer, [t for _, t in pairs], tgt_tokens)
        require(len(src_tokens) == len(tgt_tokens) == len(pairs),
                f"{len(pairs)} pairs but {len(src_tokens)} source and {len(tgt_tokens)} target token lists")
        keep = [i for i in range(len(pairs))
                if max_len is None or (len(src_tokens[i]) <= max_len and len(tgt_tokens[i]) <= max_len)]
        self.num_dropped = len(pairs) - len(keep)
        self.max_len, self.src_vocab, self.tgt_vocab = max_len, src_vocab, tgt_vocab
        self.pairs: list[Pair] = [pairs[i] for i in keep]
        self.src_tokens: list[list[str]] = [src_tokens[i] for i in keep]
        self.tgt_tokens: list[list[str]] = [tgt_tokens[i] for i in keep]
        self.src_ids = [src_vocab.encode(t, add_sos_eos=False) + [src_vocab.eos_id] for t in self.src_tokens]
        self.tgt_ids = [tgt_vocab.encode(t) for t in self.tgt_tokens]

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


def collate_batch(examples: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int = 0) -> Batch:
    """Pad ``(src_ids, tgt_ids)`` examples (id lists or 1-D integer tensors) into a :class:`Batch`.

    Args:
        examples: ``B`` pairs of id sequences, e.g. from :class:`TranslationDataset`.
        pad_id: padding id (``Vocab.pad_id``, 0), an int >= 0.

    Returns:
        :class:`Batch` with ``src [B, S]``, ``tgt [B, T]`` (``S``, ``T``: the longest in the
        batch), ``src_lens`` and ``tgt_lens [B]``, all ``torch.long`` on the CPU.

    Raises:
        InputTypeError: ``examples`` is not a list of ``(src_ids, tgt_ids)`` pairs; ids are
            strings, floats or nested; ``pad_id`` not an int.
        ValueError: no examples; an empty sequence or a negative id; ``pad_id < 0``.
    """
    check_int(pad_id, "pad_id", low=0)
    examples = check_items(examples, "collate_batch's examples", "(src_ids, tgt_ids) pairs")
    require(examples, "collate_batch got no examples; a batch needs at least one (src_ids, tgt_ids) pair")
    rows = ([], [])
    for i, ex in enumerate(examples):
        if isinstance(ex, (str, bytes)) or not isinstance(ex, (Sequence, torch.Tensor)) or len(ex) != 2:
            raise InputTypeError(f"collate_batch: example {i} must be a (src_ids, tgt_ids) pair such as ([5, 3], [2, 3])")
        for side, name in enumerate(("source", "target")):
            rows[side].append(check_ids(ex[side], f"collate_batch: the {name} of example {i}"))
    (src, src_lens), (tgt, tgt_lens) = (_pad(side, pad_id) for side in rows)
    return Batch._trusted(src=src, src_lens=src_lens, tgt=tgt, tgt_lens=tgt_lens)


def _pad(rows: list[np.ndarray], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of ids -> (LongTensor ``[B, longest]`` padded with ``pad_id``, LongTensor ``[B]`` of lengths)."""
    lens = np.array([len(r) for r in rows], dtype=np.int64)
    out = np.full((len(rows), lens.max()), pad_id, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return torch.from_numpy(out), torch.from_numpy(lens)


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose examples have similar lengths (less padding).

    With ``shuffle=True``, each epoch: permute all indices, cut the permutation into chunks
    of ``batch_size * bucket_multiplier``, sort each chunk by length, cut it into batches,
    and shuffle the order of all batches. The RNG is seeded from ``(seed, epoch)``; each
    ``__iter__`` uses the current epoch and then advances it (so epochs differ and a rerun
    repeats them); :meth:`set_epoch` sets it (e.g. to resume). With ``shuffle=False``:
    indices sorted by length (ties by index), cut into batches, in that order.

    Every index appears once per epoch; a batch holds at most ``batch_size`` indices.

    Args:
        lengths: length of each example, ints >= 0 (e.g. :meth:`TranslationDataset.src_lengths`).
        batch_size: examples per batch (>= 1).
        shuffle, seed: see above (``seed`` an int >= 0).
        bucket_multiplier: batches per sorted chunk (>= 1): more means less padding, less randomness.

    Raises:
        InputTypeError: ``lengths`` is not a flat list, array or tensor of integers (a str,
            dict or set, floats, nested lists); a size not an int; ``shuffle`` not a bool.
        ValueError: ``batch_size`` or ``bucket_multiplier`` below 1, a negative length or seed.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0,
                 bucket_multiplier: int = 50):
        self.batch_size = check_int(batch_size, "batch_size", low=1)
        self.bucket_multiplier = check_int(bucket_multiplier, "bucket_multiplier", low=1)
        self.seed = check_int(seed, "seed", low=0)
        self.shuffle = check_flag(shuffle, "shuffle")
        self.lengths = check_ids(lengths, "BucketBatchSampler's lengths", allow_empty=True)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` (an int >= 0) for the next ``__iter__``.

        Raises:
            InputTypeError, ValueError: ``epoch`` is not an int >= 0.
        """
        self.epoch = check_int(epoch, "epoch", low=0)

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


def make_loader(dataset: TranslationDataset, batch_size: int, shuffle: bool = True, bucket: bool = True,
                seed: int = 0) -> DataLoader:
    """A :class:`~torch.utils.data.DataLoader` of :class:`Batch` objects over ``dataset``.

    ``bucket=True`` batches by source length with :class:`BucketBatchSampler`
    (``loader.batch_sampler``); ``bucket=False`` gives plain batches in dataset order, or
    shuffled by a generator seeded with ``seed``. No workers (tokenising is done up front).
    Batches are on the CPU; move them with ``batch.to(device)``.

    Raises:
        InputTypeError: ``dataset`` is not a :class:`TranslationDataset`; ``batch_size`` or
            ``seed`` not an int; ``shuffle`` or ``bucket`` not a bool.
        ValueError: ``batch_size < 1``, a negative ``seed``, or an empty dataset.
    """
    check_instance(dataset, TranslationDataset, "make_loader's dataset", "a TranslationDataset")
    sampler = BucketBatchSampler(dataset.src_lengths(), batch_size, shuffle=shuffle, seed=seed)  # checks them
    require(len(dataset), "make_loader got an empty dataset (0 pairs); check max_len and the data you passed")
    if check_flag(bucket, "bucket"):
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_batch, num_workers=0)
    generator = torch.Generator().manual_seed(sampler.seed) if sampler.shuffle else None
    return DataLoader(dataset, batch_size=sampler.batch_size, shuffle=sampler.shuffle, generator=generator,
                      collate_fn=collate_batch, num_workers=0)
