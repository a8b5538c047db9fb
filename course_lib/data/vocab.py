"""The vocabulary: a token <-> id mapping with the four special tokens at ids 0-3."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import torch

from course_lib.data._checks import check_flag, check_positive_int, check_tokens, load_format_json, save_json

__all__ = ["PAD", "UNK", "SOS", "EOS", "SPECIALS", "Vocab"]

PAD = "<pad>"
UNK = "<unk>"
SOS = "<sos>"
EOS = "<eos>"
SPECIALS = (PAD, UNK, SOS, EOS)
"""Special tokens, always at ids 0, 1, 2, 3 in this order."""

_VOCAB_FORMAT = "course_lib.Vocab"


class VocabIdError(ValueError, IndexError):
    """An id outside ``[0, V)`` was given to :meth:`Vocab.decode` (a ``ValueError`` and, for
    older callers, an ``IndexError``)."""


class Vocab:
    """A token <-> id mapping whose first four entries are ``<pad> <unk> <sos> <eos>``.

    Build one from training data with :meth:`build`, or from a list with ``Vocab(itos)``.

    Attributes:
        itos: list, id -> token.
        stoi: dict, token -> id.

    ``vocab[token]`` gives the id (``unk_id`` for unknown tokens); ``token in vocab`` and
    ``len(vocab)`` (= ``V``) work as expected.

    Raises:
        TypeError (constructor): ``itos`` is a str, or holds something other than strings.
        ValueError (constructor): ``itos`` does not start with :data:`SPECIALS` or has duplicates.
    """

    def __init__(self, itos: Sequence[str]):
        if isinstance(itos, (str, bytes)):
            raise TypeError("Vocab(itos) expects a list of tokens, got a str; use Vocab.build(token_lists)")
        itos = list(itos)
        bad = [t for t in itos if not isinstance(t, str)]
        if bad:
            raise TypeError(f"Vocab tokens must be strings, got e.g. {bad[0]!r} ({type(bad[0]).__name__})")
        if tuple(itos[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(
                f"a Vocab must start with the special tokens {list(SPECIALS)} (ids 0-3), got "
                f"{itos[: len(SPECIALS)]}; use Vocab.build(...) or prepend them"
            )
        stoi = {tok: i for i, tok in enumerate(itos)}
        if len(stoi) != len(itos):
            dupes = sorted({t for t, c in Counter(itos).items() if c > 1})
            raise ValueError(f"Vocab has duplicate tokens: {dupes[:10]}")
        self.itos: list[str] = itos
        self.stoi: dict[str, int] = stoi

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_freq: int = 2, max_size: int | None = None) -> Vocab:
        """Count tokens and keep the frequent ones.

        Tokens are ordered by frequency (descending), ties alphabetically, so the result is
        deterministic. Special tokens found in the data are not counted.

        Args:
            token_lists: tokenised sentences, e.g. ``[["a", "dog"], ["a", "cat"]]``.
            min_freq: keep tokens seen at least this many times (>= 1).
            max_size: cap on the *total* size ``V`` including the 4 specials (``None``: no cap).

        Raises:
            TypeError: ``token_lists`` is a str, a sentence is a plain str (tokenise it
                first) or holds a non-str token, or ``min_freq``/``max_size`` is not an int.
            ValueError: ``min_freq < 1``, ``max_size < 4``, or no sentences at all.
        """
        check_positive_int("min_freq", min_freq)
        check_positive_int("max_size", max_size, allow_none=True, minimum=len(SPECIALS))
        if isinstance(token_lists, (str, bytes)):
            raise TypeError(
                f"Vocab.build expects a list of token lists (e.g. [['a', 'dog'], ['a', 'cat']]), got a str "
                f"({token_lists!r:.40}); tokenise the sentences first"
            )
        if not isinstance(token_lists, Iterable):
            raise TypeError(f"Vocab.build expects a list of token lists, got {type(token_lists).__name__}")
        counts: Counter[str] = Counter()
        n_sentences = 0
        for i, tokens in enumerate(token_lists):
            n_sentences += 1
            if isinstance(tokens, str):
                raise TypeError(
                    f"Vocab.build expects lists of tokens, but sentence {i} is a str ({tokens!r:.40}); "
                    "tokenise the sentences first"
                )
            counts.update(check_tokens(tokens, f"Vocab.build (sentence {i})"))
        if n_sentences == 0:
            raise ValueError(
                "Vocab.build got no sentences; check that the training data is not empty (and that "
                "max_len did not drop every pair)"
            )
        for special in SPECIALS:
            counts.pop(special, None)
        kept = sorted((tok for tok, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: max_size - len(SPECIALS)]
        return cls(list(SPECIALS) + kept)

    # -- mapping ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and token in self.stoi

    def __getitem__(self, token: str) -> int:
        if not isinstance(token, str):
            raise TypeError(f"vocab[token] expects a str token, got {type(token).__name__}; use decode() for ids")
        return self.stoi.get(token, 1)

    @property
    def pad_id(self) -> int:
        """Id of ``<pad>`` (0)."""
        return 0

    @property
    def unk_id(self) -> int:
        """Id of ``<unk>`` (1)."""
        return 1

    @property
    def sos_id(self) -> int:
        """Id of ``<sos>`` (2)."""
        return 2

    @property
    def eos_id(self) -> int:
        """Id of ``<eos>`` (3)."""
        return 3

    def encode(self, tokens: Sequence[str], add_sos_eos: bool = True) -> list[int]:
        """Map tokens to ids (unknown -> ``unk_id``), optionally wrapped in ``<sos> ... <eos>``.

        Raises:
            TypeError: ``tokens`` is a str (tokenise it first, or you would encode
                characters), or holds something other than str tokens (e.g. a nested list);
                ``add_sos_eos`` is not a bool.
        """
        tokens = check_tokens(tokens, "Vocab.encode")
        add_sos_eos = check_flag("add_sos_eos", add_sos_eos)
        ids = [self.stoi.get(t, 1) for t in tokens]
        return [self.sos_id, *ids, self.eos_id] if add_sos_eos else ids

    def decode(self, ids: Sequence[int] | torch.Tensor, strip_special: bool = True, stop_at_eos: bool = True) -> list[str]:
        """Map ids back to tokens.

        Args:
            ids: a list of ints or a 1-D integer tensor (any device).
            strip_special: drop ``<pad>``, ``<sos>`` and ``<eos>`` (``<unk>`` is kept, since it
                carries information).
            stop_at_eos: stop at the first ``<eos>``.

        Raises:
            TypeError: ``ids`` is a str, or an id is not an integer (floats, nested lists);
                ``strip_special`` or ``stop_at_eos`` is not a bool.
            ValueError: a tensor that is not 1-D or not integer; an id outside ``[0, V)``
                (:class:`VocabIdError`, also an ``IndexError``) -- checked for every id,
                also those after ``<eos>``.
        """
        if isinstance(ids, (str, bytes)):
            raise TypeError("Vocab.decode expects a list of integer ids, got a str; use encode() for tokens")
        strip_special = check_flag("strip_special", strip_special)
        stop_at_eos = check_flag("stop_at_eos", stop_at_eos)
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"decode expects a 1-D tensor of ids, got shape {tuple(ids.shape)}; decode rows one by one")
            if ids.dtype.is_floating_point or ids.is_complex() or ids.dtype == torch.bool:
                raise ValueError(f"decode expects integer ids, got a tensor of dtype {ids.dtype}")
            ids = ids.tolist()
        else:
            ids = [_as_int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < len(self.itos)]
        if bad:
            raise VocabIdError(
                f"id {bad[0]} is outside this vocabulary (size {len(self.itos)}, valid ids 0..{len(self.itos) - 1}); "
                "was it produced by a model with a different vocabulary?"
            )
        out = []
        drop = {self.pad_id, self.sos_id, self.eos_id} if strip_special else set()
        for i in ids:
            if stop_at_eos and i == self.eos_id:
                break
            if i in drop:
                continue
            out.append(self.itos[i])
        return out

    # -- persistence --------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the vocabulary as JSON, atomically (:func:`course_lib.utils.atomic_write`). Returns the path."""
        return save_json(path, {"format": _VOCAB_FORMAT, "version": 1, "itos": self.itos})

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a vocabulary written by :meth:`save`.

        Raises:
            FileNotFoundError: no such file. ValueError: the file is not a saved ``Vocab``.
        """
        payload = load_format_json(
            path, _VOCAB_FORMAT, "itos", list, "course_lib vocabulary file", "write one with Vocab.save"
        )
        try:
            return cls(payload["itos"])
        except TypeError as err:
            raise ValueError(f"{path} is not a valid course_lib vocabulary file: {err}") from err

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self.itos == other.itos

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        preview = ", ".join(self.itos[4:10])
        return f"Vocab(size={len(self)}, specials={list(SPECIALS)}, most frequent=[{preview}{', ...' if len(self) > 10 else ''}])"


def _as_int(i) -> int:
    """An id from an int, a NumPy integer or a 0-d integer tensor; TypeError for anything else."""
    import numpy as np

    if isinstance(i, torch.Tensor) and i.dim() == 0 and not (i.dtype.is_floating_point or i.dtype == torch.bool):
        return int(i.item())
    if isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)):
        return int(i)
    raise TypeError(
        f"Vocab.decode expects integer ids, got {i!r:.40} ({type(i).__name__}); decode one sentence at a time"
    )
