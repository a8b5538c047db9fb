"""The vocabulary: a token <-> id mapping with the four special tokens at ids 0-3."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import torch

from course_lib.checks import check_flag, check_int, check_text, check_tokens, require
from course_lib.data._util import check_ids, check_items, load_format_json, save_json

__all__ = ["PAD", "UNK", "SOS", "EOS", "SPECIALS", "Vocab", "VocabIdError"]

PAD = "<pad>"
UNK = "<unk>"
SOS = "<sos>"
EOS = "<eos>"
SPECIALS = (PAD, UNK, SOS, EOS)
"""Special tokens, always at ids 0, 1, 2, 3 in this order."""

_VOCAB_FORMAT = "course_lib.Vocab"


class VocabIdError(ValueError, IndexError):
    """An id outside ``[0, V)`` given to :meth:`Vocab.decode` (a ``ValueError``, and an ``IndexError`` for older callers)."""


class Vocab:
    """A token <-> id mapping whose first four entries are ``<pad> <unk> <sos> <eos>``.

    Build one from training data with :meth:`build`, or from a list with ``Vocab(itos)``.
    ``vocab[token]`` gives the id (``unk_id`` for unknown tokens); ``token in vocab`` and
    ``len(vocab)`` (= ``V``) work as expected.

    Attributes:
        itos: list, id -> token. stoi: dict, token -> id.

    Raises:
        InputTypeError: ``itos`` is a str or holds a non-str.
        ValueError: ``itos`` does not start with :data:`SPECIALS` or has duplicates.
    """

    pad_id, unk_id, sos_id, eos_id = 0, 1, 2, 3
    """Ids of ``<pad>``, ``<unk>``, ``<sos>`` and ``<eos>``."""

    def __init__(self, itos: Sequence[str]):
        itos = check_tokens(itos, "Vocab's itos (use Vocab.build(token_lists) to count tokens)")
        require(tuple(itos[:4]) == SPECIALS, f"a Vocab must start with the special tokens {SPECIALS}: use Vocab.build")
        self.itos: list[str] = itos
        self.stoi: dict[str, int] = {tok: i for i, tok in enumerate(itos)}
        if len(self.stoi) != len(itos):
            raise ValueError(f"Vocab has duplicate tokens: {sorted(t for t, c in Counter(itos).items() if c > 1)[:10]}")

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_freq: int = 2, max_size: int | None = None) -> Vocab:
        """Count tokens and keep those seen at least ``min_freq`` times, most frequent first (ties alphabetically).

        Special tokens found in the data are not counted.

        Args:
            token_lists: tokenised sentences, e.g. ``[["a", "dog"], ["a", "cat"]]``.
            min_freq: keep tokens seen at least this many times (>= 1).
            max_size: cap on the total size ``V``, the 4 specials included (``None``: no cap).

        Raises:
            InputTypeError: ``token_lists`` or a sentence is a str (tokenise first) or holds a
                non-str; ``min_freq``/``max_size`` not an int.
            ValueError: ``min_freq < 1``, ``max_size < 4``, or no sentences at all.
        """
        check_int(min_freq, "min_freq", low=1)
        check_int(max_size, "max_size", low=len(SPECIALS), allow_none=True)
        sentences = check_items(token_lists, "Vocab.build's token_lists", "token lists (tokenise the sentences first)")
        require(sentences, "Vocab.build got no sentences; is the training data empty (or did max_len drop it all)?")
        counts: Counter[str] = Counter()
        for i, tokens in enumerate(sentences):
            counts.update(check_tokens(tokens, f"Vocab.build's sentence {i}"))
        for special in SPECIALS:
            counts.pop(special, None)
        kept = sorted((tok for tok, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        return cls(list(SPECIALS) + kept[: None if max_size is None else max_size - len(SPECIALS)])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and token in self.stoi

    def __getitem__(self, token: str) -> int:
        return self.stoi.get(check_text(token, "vocab[token]'s token (use decode() for ids)"), 1)

    def encode(self, tokens: Sequence[str], add_sos_eos: bool = True) -> list[int]:
        """Map tokens to ids (unknown -> ``unk_id``), optionally wrapped in ``<sos> ... <eos>``.

        Raises:
            InputTypeError: ``tokens`` is a str (tokenise it first) or holds a non-str;
                ``add_sos_eos`` is not a bool.
        """
        ids = [self.stoi.get(t, 1) for t in check_tokens(tokens, "Vocab.encode's tokens (tokenise the text first)")]
        return [self.sos_id, *ids, self.eos_id] if check_flag(add_sos_eos, "add_sos_eos") else ids

    def decode(self, ids: Sequence[int] | torch.Tensor, strip_special: bool = True, stop_at_eos: bool = True) -> list[str]:
        """Map ids (a list of ints or a 1-D integer tensor on any device) back to tokens.

        Args:
            strip_special: drop ``<pad>``, ``<sos>`` and ``<eos>`` (``<unk>`` is kept: it carries information).
            stop_at_eos: stop at the first ``<eos>``.

        Raises:
            InputTypeError: ``ids`` is not a flat list of integers (a str, floats, bools, a
                2-D tensor); a flag is not a bool.
            VocabIdError: an id outside ``[0, V)`` (every id is checked, also after ``<eos>``).
        """
        strip_special = check_flag(strip_special, "strip_special")
        stop_at_eos = check_flag(stop_at_eos, "stop_at_eos")
        ids = check_ids(ids, "Vocab.decode's ids", allow_empty=True, low=None)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.itos)):
            bad = ids[(ids < 0) | (ids >= len(self.itos))][0]
            raise VocabIdError(f"id {bad} is outside this vocabulary of {len(self)} (a model of another vocabulary?)")
        out = []
        for i in ids.tolist():
            if stop_at_eos and i == self.eos_id:
                break
            if not (strip_special and i in (self.pad_id, self.sos_id, self.eos_id)):
                out.append(self.itos[i])
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """Write the vocabulary as JSON, atomically (:func:`course_lib.utils.atomic_write`); return the path."""
        return save_json(path, {"format": _VOCAB_FORMAT, "version": 1, "itos": self.itos})

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a vocabulary written by :meth:`save`.

        Raises:
            FileNotFoundError: no such file. ValueError: not a valid saved ``Vocab``.
        """
        payload = load_format_json(path, _VOCAB_FORMAT, "itos", list, "course_lib vocabulary file",
                                   "write one with Vocab.save")
        try:
            return cls(payload["itos"])
        except ValueError as err:
            raise ValueError(f"{path} is not a valid course_lib vocabulary file: {err}") from err

    def __eq__(self, other: object) -> bool:
        return self.itos == other.itos if isinstance(other, Vocab) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        more = ", ..." if len(self) > 10 else ""
        return f"Vocab(size={len(self)}, specials={list(SPECIALS)}, most frequent=[{', '.join(self.itos[4:10])}{more}])"
