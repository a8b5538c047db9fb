"""Subword units: a byte-pair-encoding (BPE) model trained on the training split.

Word vocabularies leave ``<unk>`` in the output: a rare word, a name or a compound never
seen in training cannot be produced. Subword units fix that by splitting rare words into
frequent pieces: Sennrich et al. 2016 ("Neural Machine Translation of Rare Words with
Subword Units") learn the pieces with byte-pair encoding, and GNMT (Wu et al. 2016,
"Google's Neural Machine Translation System", sec. 4.1) uses one *shared* wordpiece model
for source and target, so that names copied from source to target are split the same way.

:func:`train_subword_tokenizer` learns such a joint model with Hugging Face ``tokenizers``
(BPE) and caches it beside the corpus (``data_cache_dir()/subwords/``), keyed by a hash of
the training text and the settings; :class:`SubwordTokenizer` splits text into pieces and
joins pieces back into text exactly:

    >>> sp = train_subword_tokenizer(train_texts, vocab_size=8000)    # doctest: +SKIP
    >>> sp("A man in an orange hat starring at something.")            # doctest: +SKIP
    ['▁A', '▁man', '▁in', '▁an', '▁orange', '▁hat', '▁star', 'ring', '▁at', '▁something', '.']
    >>> sp.detokenize(_)                                                # doctest: +SKIP
    'A man in an orange hat starring at something.'

(the pieces shown are those of the model trained on Multi30k's de+en training split).

A piece that starts a word carries the marker ``▁`` (U+2581) for the space before it (the
"Metaspace" scheme of SentencePiece, Kudo & Richardson 2018), so detokenising is only
concatenation: ``"".join(pieces).replace("▁", " ")`` without its first character (the
space the first piece's ``▁`` stands for). Punctuation is always its
own piece. Case is kept (unless ``lower=True``).
"""

from __future__ import annotations

import hashlib
import json
import os
import string
import warnings
from pathlib import Path
from typing import Iterable, Sequence

from course_lib.checks import InputTypeError, check_text
from course_lib.data._checks import check_positive_int, check_texts, check_tokens, load_format_json, save_json
from course_lib.data.download import data_cache_dir
from course_lib.data.vocab import UNK

__all__ = ["SubwordTokenizer", "train_subword_tokenizer", "subword_cache_path", "merge_steps"]

SUBWORD_MARK = "▁"
_FORMAT = "course_lib.SubwordTokenizer"
_BASE_ALPHABET = [c for c in string.printable if not c.isspace()]  # always pieces, even if unseen
_RECIPE = "BPE; NFKC?/Lowercase?; Metaspace(always)+Punctuation(isolated); printable ASCII alphabet"
_VERSION = 1


def _build_hf(lower: bool, nfkc: bool):
    """An untrained HF ``Tokenizer``: BPE model, optional NFKC/lower-case normaliser,
    Metaspace + isolated punctuation pre-tokeniser, Metaspace decoder."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, models, normalizers, pre_tokenizers

    hf = HFTokenizer(models.BPE(unk_token=UNK))
    steps = ([normalizers.NFKC()] if nfkc else []) + ([normalizers.Lowercase()] if lower else [])
    if steps:
        hf.normalizer = normalizers.Sequence(steps)
    hf.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=SUBWORD_MARK, prepend_scheme="always"),
            pre_tokenizers.Punctuation(behavior="isolated"),
        ]
    )
    hf.decoder = decoders.Metaspace(replacement=SUBWORD_MARK, prepend_scheme="always")
    return hf


class SubwordTokenizer:
    """A trained BPE subword model: ``text -> pieces`` and back, exactly.

    Create one with :func:`train_subword_tokenizer` (train, or reload from the cache) or
    :meth:`load`; it wraps a Hugging Face ``tokenizers.Tokenizer``.

    - ``tok(text)`` -> pieces, e.g. ``['▁Ein', '▁Mann', '▁mit', ...]``;
    - ``tok.tokenize_many(texts)`` -> one list of pieces per text (batched, fast);
    - ``tok.detokenize(pieces)`` -> text; the exact inverse on normal text (no leading,
      trailing or repeated whitespace, no newlines, no literal ``▁``, characters seen in
      training or printable ASCII, and -- with ``nfkc=True`` -- text that is already
      NFKC-normal). Any other character never seen in training becomes the piece ``<unk>``
      (the course's :data:`UNK`).

    Attributes:
        settings: ``{"vocab_size": requested size, "min_frequency": ..., "lower": ..., "nfkc": ...}``.
        fingerprint: SHA-256 of the training text and settings (names the cache file).
        from_cache: ``True`` if :func:`train_subword_tokenizer` reloaded it instead of training.

    A :class:`SubwordTokenizer` pickles (the model travels as JSON).

    Raises:
        TypeError: (constructor) ``hf_tokenizer`` is not a ``tokenizers.Tokenizer``,
            ``settings`` not a dict or ``fingerprint`` not a str.
    """

    lang = "subword"

    def __init__(self, hf_tokenizer, settings: dict, fingerprint: str = ""):
        from tokenizers import Tokenizer as _HFTokenizer

        if not isinstance(hf_tokenizer, _HFTokenizer):
            raise TypeError(
                f"SubwordTokenizer wraps a Hugging Face tokenizers.Tokenizer, got {type(hf_tokenizer).__name__}; "
                "create one with train_subword_tokenizer(texts) or SubwordTokenizer.load(path)"
            )
        if not isinstance(settings, dict):
            raise TypeError(f"settings must be a dict, got {type(settings).__name__}")
        if not isinstance(fingerprint, str):
            raise TypeError(f"fingerprint must be a str, got {type(fingerprint).__name__}")
        self._hf = hf_tokenizer
        self.settings = dict(settings)
        self.fingerprint = fingerprint
        self.from_cache = False
        self._ranks = None  # (merge ranks, vocabulary) for merge_steps, read on first use

    # -- tokenising ---------------------------------------------------------------------
    def __call__(self, text: str) -> list[str]:
        """Split one sentence into subword pieces.

        Raises:
            TypeError: ``text`` is not a str (use :meth:`tokenize_many` for a list).
        """
        if not isinstance(text, str):
            raise TypeError(f"SubwordTokenizer expects a str, got {type(text).__name__}; use tokenize_many for a list")
        return self._hf.encode(text).tokens

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Split many sentences into pieces (batched in Rust).

        Raises:
            TypeError: ``texts`` is a bare str or holds a non-str.
        """
        texts = check_texts(texts, "SubwordTokenizer.tokenize_many")
        return [enc.tokens for enc in self._hf.encode_batch(texts)] if texts else []

    def detokenize(self, pieces: Sequence[str]) -> str:
        """Join pieces back into text: ``▁`` becomes a space, the leading one is dropped.

        The exact inverse of :meth:`__call__` on normal text (see the class docstring).
        Special tokens (``<unk>``) are kept as written.

        Raises:
            TypeError: ``pieces`` is a str or holds a non-str.
        """
        pieces = check_tokens(pieces, "SubwordTokenizer.detokenize")
        return self._hf.decoder.decode(pieces) if pieces else ""

    # -- vocabulary ---------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """Number of pieces the model knows (``<unk>``, the alphabet and the merges)."""
        return self._hf.get_vocab_size()

    def pieces(self) -> list[str]:
        """All pieces, by id."""
        vocab = self._hf.get_vocab()
        return sorted(vocab, key=vocab.__getitem__)

    # -- persistence --------------------------------------------------------------------
    def _payload(self) -> dict:
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "settings": self.settings,
            "fingerprint": self.fingerprint,
            "tokenizer": json.loads(self._hf.to_str()),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model as one JSON file, atomically (:func:`course_lib.utils.atomic_write`).

        Returns:
            ``path`` as a :class:`~pathlib.Path`.
        """
        return save_json(path, self._payload())

    @classmethod
    def load(cls, path: str | os.PathLike) -> SubwordTokenizer:
        """Read a model written by :meth:`save`.

        Raises:
            FileNotFoundError: no such file.
            ValueError: the file is not a subword model saved by the course (wrong file,
                truncated or corrupt); the message says to delete it (a cached model is then
                retrained by :func:`train_subword_tokenizer`).
        """
        hint = "delete it and train again with train_subword_tokenizer (or write one with SubwordTokenizer.save)"
        payload = load_format_json(path, _FORMAT, "tokenizer", dict, "course_lib subword model", hint)
        if payload.get("version") != _VERSION:
            raise ValueError(f"{path} is a subword model of format version {payload.get('version')}, expected {_VERSION}; {hint}")
        from tokenizers import Tokenizer as HFTokenizer

        try:
            hf = HFTokenizer.from_str(json.dumps(payload["tokenizer"]))
        except Exception as err:  # the Rust side raises a bare Exception
            raise ValueError(f"{path} holds a damaged subword model ({err}); {hint}") from err
        if hf.get_vocab_size() == 0 or hf.decoder is None:
            raise ValueError(f"{path} holds an empty or incomplete subword model; {hint}")
        settings = payload.get("settings") if isinstance(payload.get("settings"), dict) else {}
        return cls(hf, settings, str(payload.get("fingerprint", "")))

    def __getstate__(self):
        return self._payload()

    def __setstate__(self, state):
        from tokenizers import Tokenizer as HFTokenizer

        self._hf = HFTokenizer.from_str(json.dumps(state["tokenizer"]))
        self.settings = state["settings"]
        self.fingerprint = state["fingerprint"]
        self.from_cache = False
        self._ranks = None

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"SubwordTokenizer(BPE, vocab_size={self.vocab_size}, lower={s.get('lower')}, nfkc={s.get('nfkc')}, "
            f"fingerprint={self.fingerprint[:12]!r})"
        )


def _fingerprint(texts: Sequence[str], settings: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"format": _FORMAT, "version": _VERSION, "recipe": _RECIPE, **settings}, sort_keys=True).encode())
    for t in texts:
        b = t.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def subword_cache_path(fingerprint: str, vocab_size: int) -> Path:
    """Where :func:`train_subword_tokenizer` caches a model: ``data_cache_dir()/subwords/bpe{V}-{hash}.json``.

    Args:
        fingerprint: :attr:`SubwordTokenizer.fingerprint` (hex, at least 16 characters).
        vocab_size: the requested vocabulary size.

    Raises:
        TypeError, ValueError: ``fingerprint`` is not a hex str of 16+ characters, or
            ``vocab_size`` is not an int >= 2.
    """
    if not isinstance(fingerprint, str):
        raise TypeError(f"fingerprint must be a hex str, got {type(fingerprint).__name__}")
    if len(fingerprint) < 16 or any(c not in "0123456789abcdef" for c in fingerprint):
        raise ValueError(f"fingerprint must be at least 16 lower-case hex characters, got {fingerprint!r:.40}")
    check_positive_int("vocab_size", vocab_size, minimum=2)
    return data_cache_dir() / "subwords" / f"bpe{vocab_size}-{fingerprint[:16]}.json"


def _train_bpe(texts: list[str], settings: dict):
    """Train the HF BPE model (the slow part; tests replace it to prove the cache is used)."""
    from tokenizers import trainers

    hf = _build_hf(settings["lower"], settings["nfkc"])
    trainer = trainers.BpeTrainer(
        vocab_size=settings["vocab_size"],
        min_frequency=settings["min_frequency"],
        special_tokens=[UNK],
        initial_alphabet=_BASE_ALPHABET,
        show_progress=False,
    )
    hf.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return hf


def train_subword_tokenizer(
    texts: Sequence[str],
    vocab_size: int = 8000,
    cache_path: str | os.PathLike | None = None,
    *,
    min_frequency: int = 2,
    lower: bool = False,
    nfkc: bool = False,
    cache: bool = True,
) -> SubwordTokenizer:
    """Train a BPE subword model on ``texts`` (or reload it from the cache).

    Pass the training split's source *and* target sentences together for one joint model,
    as GNMT does (Wu et al. 2016, sec. 4.1: a shared wordpiece model for both languages);
    BPE itself is Sennrich et al. 2016. Training on Multi30k's 58,000 sentences takes a few
    seconds on two CPU cores.

    Caching: the model is saved (atomically) to ``cache_path``, by default
    ``data_cache_dir()/subwords/bpe{vocab_size}-{hash}.json`` where the hash covers the
    training text and every setting, so the same data and settings reuse the file and any
    change trains a new one. A cached file is reused only if its recorded fingerprint
    matches. A cache file that cannot be read (corrupt, truncated, from another program) or
    that was trained on other data is **retrained and overwritten**, with a
    :class:`UserWarning` saying so: it is derived data. (:meth:`SubwordTokenizer.load` on its
    own raises instead.)

    Args:
        texts: training sentences (untokenised str), at least one non-blank.
        vocab_size: the number of pieces to learn (>= 2), ``<unk>`` and the alphabet
            included; the model can end up smaller when the text has fewer possible merges,
            and never below the alphabet size + 1. About 8,000 suits Multi30k.
        cache_path: a file to cache the model in (default: see above).
        min_frequency: a merge needs at least this many occurrences (>= 1).
        lower: lower-case text before splitting (the pieces and detokenised text are then
            lower-case). Default ``False``: subwords keep case, as lesson 05 does.
        nfkc: apply Unicode NFKC normalisation first (then detokenising gives the NFKC form).
        cache: ``False`` trains without reading or writing any file.

    Returns:
        A :class:`SubwordTokenizer` (``from_cache`` tells whether it was reloaded).

    Raises:
        TypeError: ``texts`` is a bare str or holds a non-str; a setting has the wrong type.
        ValueError: no non-blank text; ``vocab_size < 2``; ``min_frequency < 1``.
    """
    texts = check_texts(texts, "train_subword_tokenizer")
    if not any(t.strip() for t in texts):
        raise ValueError("train_subword_tokenizer got no text to learn from (empty list or only blank lines)")
    check_positive_int("vocab_size", vocab_size, minimum=2)
    check_positive_int("min_frequency", min_frequency)
    for name, flag in (("lower", lower), ("nfkc", nfkc), ("cache", cache)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if cache_path is not None and not isinstance(cache_path, (str, os.PathLike)):
        raise TypeError(f"cache_path must be a str or path (or None), got {type(cache_path).__name__}")
    settings = {"vocab_size": vocab_size, "min_frequency": min_frequency, "lower": lower, "nfkc": nfkc}
    fingerprint = _fingerprint(texts, settings)
    path = None
    if cache:
        path = Path(cache_path) if cache_path is not None else subword_cache_path(fingerprint, vocab_size)
        if path.is_file():
            try:
                tok = SubwordTokenizer.load(path)
            except ValueError as err:
                warnings.warn(f"subword cache {path} is unreadable ({err}); training the model again", stacklevel=2)
            else:
                if tok.fingerprint == fingerprint:
                    tok.from_cache = True
                    return tok
                warnings.warn(
                    f"subword cache {path} was trained on other data or settings; training again and overwriting it",
                    stacklevel=2,
                )
    tok = SubwordTokenizer(_train_bpe(texts, settings), settings, fingerprint)
    if path is not None:
        tok.save(path)
    return tok


def merge_steps(tokenizer: SubwordTokenizer, word: str) -> list[list[str]]:
    """The BPE segmentations of one word, from its characters to the tokenizer's pieces.

    BPE (Sennrich et al. 2016, sec. 3.2 and Algorithm 1) splits a word into characters and
    then applies the learned merges in the order they were learned (their rank): at each
    step the adjacent pair with the lowest rank is joined, the leftmost if it occurs twice.
    The first segmentation is the characters (the first carries the word-start marker ``▁``
    as its own piece, as the model writes it; characters never seen become ``<unk>``); each
    next one has exactly one piece fewer; the last is ``tokenizer(word)``. Punctuation is
    its own part of the word (``"don't"`` -> ``▁don`` ``'`` ``t``) and is never merged.

        >>> steps = merge_steps(sp, "starring")                # doctest: +SKIP
        >>> steps[0], steps[-1]                                 # doctest: +SKIP
        (['▁', 's', 't', 'a', 'r', 'r', 'i', 'n', 'g'], ['▁star', 'ring'])

    Raises:
        InputTypeError: ``tokenizer`` is not a :class:`SubwordTokenizer`; ``word`` not a str.
        ValueError: ``word`` is empty or holds whitespace (one word at a time).
    """
    if not isinstance(tokenizer, SubwordTokenizer):
        raise InputTypeError(f"merge_steps needs a SubwordTokenizer (train_subword_tokenizer), got {type(tokenizer).__name__}")
    word = check_text(word, "word").strip()
    if not word or any(c.isspace() for c in word):
        raise ValueError(f"merge_steps takes one word without spaces, got {word!r:.60}; call it once per word")
    hf = tokenizer._hf
    if tokenizer._ranks is None:
        model = json.loads(hf.to_str())["model"]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        tokenizer._ranks = ({pair: rank for rank, pair in enumerate(merges)}, set(model["vocab"]))
    ranks, vocab = tokenizer._ranks
    text = hf.normalizer.normalize_str(word) if hf.normalizer is not None else word
    parts = [[c if c in vocab else UNK for c in piece] for piece, _ in hf.pre_tokenizer.pre_tokenize_str(text)]
    steps = [[p for part in parts for p in part]]
    while True:
        pairs = [(ranks[pair], k, i) for k, part in enumerate(parts)
                 for i, pair in enumerate(zip(part, part[1:])) if pair in ranks]
        if not pairs:
            return steps
        _, k, i = min(pairs)
        parts[k][i : i + 2] = [parts[k][i] + parts[k][i + 1]]
        steps.append([p for part in parts for p in part])
