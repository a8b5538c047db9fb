"""Subword units: a byte-pair-encoding (BPE) model trained on the training split.

Word vocabularies leave ``<unk>`` for a rare word, a name or a compound never seen in
training; subword units split such words into frequent pieces. Sennrich et al. 2016 learn
the pieces with BPE (sec. 3.2, Algorithm 1); GNMT (Wu et al. 2016, sec. 4.1) uses one
*shared* wordpiece model for source and target, so names copied across are split alike.

:func:`train_subword_tokenizer` learns such a joint model with Hugging Face ``tokenizers``
and caches it beside the corpus; :class:`SubwordTokenizer` splits text into pieces and joins
them back exactly; :func:`merge_steps` shows the merges BPE applies to one word:

    >>> sp = train_subword_tokenizer(train_texts, vocab_size=8000)    # doctest: +SKIP
    >>> sp("A man in an orange hat starring at something.")            # doctest: +SKIP
    ['▁A', '▁man', '▁in', '▁an', '▁orange', '▁hat', '▁star', 'ring', '▁at', '▁something', '.']

(pieces of the model trained on Multi30k's de+en training split). Sennrich et al. mark
word *ends* (``</w>``); here a piece that *starts* a word carries ``▁`` (U+2581) for the
space before it (SentencePiece's "Metaspace" scheme), so detokenising is concatenation
with ``▁`` turned back into spaces. Punctuation is always its own piece; case is kept
unless ``lower=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import string
import warnings
from pathlib import Path
from typing import Iterable, Sequence

from course_lib.checks import check_flag, check_int, check_text, check_texts, check_tokens, require
from course_lib.data._util import PATH_TYPES, check_instance, check_pattern, load_format_json, save_json
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
    hf.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(replacement=SUBWORD_MARK, prepend_scheme="always"),
                                                 pre_tokenizers.Punctuation(behavior="isolated")])
    hf.decoder = decoders.Metaspace(replacement=SUBWORD_MARK, prepend_scheme="always")
    return hf


class SubwordTokenizer:
    """A trained BPE subword model: ``text -> pieces`` and back, exactly.

    Create one with :func:`train_subword_tokenizer` (train, or reload from the cache) or
    :meth:`load`; it wraps a Hugging Face ``tokenizers.Tokenizer`` and pickles (as JSON).

    - ``tok(text)`` -> pieces, e.g. ``['▁Ein', '▁Mann', '▁mit', ...]``;
    - ``tok.tokenize_many(texts)`` -> one list of pieces per text (batched, fast);
    - ``tok.detokenize(pieces)`` -> text; the exact inverse on normal text (no leading,
      trailing or repeated whitespace, no newlines, no literal ``▁``, characters seen in
      training or printable ASCII, NFKC-normal text when ``nfkc=True``). Any other unseen
      character becomes the piece ``<unk>`` (:data:`UNK`).

    Attributes:
        settings: ``{"vocab_size": requested size, "min_frequency": ..., "lower": ..., "nfkc": ...}``.
        fingerprint: SHA-256 of the training text and settings (names the cache file).
        from_cache: ``True`` if :func:`train_subword_tokenizer` reloaded it instead of training.

    Raises:
        InputTypeError: ``hf_tokenizer`` is not a ``tokenizers.Tokenizer``, ``settings`` not a
            dict, ``fingerprint`` not a str; (calls) a text that is not a str, a bare str given
            to ``tokenize_many``, a str given to ``detokenize``.
    """

    lang = "subword"

    def __init__(self, hf_tokenizer, settings: dict, fingerprint: str = ""):
        from tokenizers import Tokenizer as HFTokenizer

        self._hf = check_instance(hf_tokenizer, HFTokenizer, "hf_tokenizer", "a tokenizers.Tokenizer (train one first)")
        self.settings = dict(check_instance(settings, dict, "settings", "a dict"))
        self.fingerprint = check_text(fingerprint, "fingerprint")
        self.from_cache = False
        self._ranks = None  # (merge ranks, vocabulary) for merge_steps, read on first use

    def __call__(self, text: str) -> list[str]:
        return self._hf.encode(check_text(text, "text (one sentence; use tokenize_many for a list)")).tokens

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """One token list per sentence of ``texts``. Raises InputTypeError: not a list of str."""
        texts = check_texts(texts, "SubwordTokenizer.tokenize_many")
        return [enc.tokens for enc in self._hf.encode_batch(texts)] if texts else []

    def detokenize(self, pieces: Sequence[str]) -> str:
        """Join pieces into text: ``▁`` becomes a space, the leading one is dropped; ``<unk>`` is kept."""
        pieces = check_tokens(pieces, "SubwordTokenizer.detokenize's pieces")
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

    def _payload(self) -> dict:
        return {"format": _FORMAT, "version": _VERSION, "settings": self.settings, "fingerprint": self.fingerprint,
                "tokenizer": json.loads(self._hf.to_str())}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model as one JSON file, atomically (:func:`course_lib.utils.atomic_write`); return the path."""
        return save_json(path, self._payload())

    @classmethod
    def load(cls, path: str | os.PathLike) -> SubwordTokenizer:
        """Read a model written by :meth:`save`.

        Raises:
            FileNotFoundError: no such file.
            ValueError: not a subword model saved by the course (another file, truncated,
                damaged, another format version); the message says to delete it.
        """
        from tokenizers import Tokenizer as HFTokenizer

        hint = "delete it and train again with train_subword_tokenizer (or write one with SubwordTokenizer.save)"
        payload = load_format_json(path, _FORMAT, "tokenizer", dict, "course_lib subword model", hint)
        try:
            hf = HFTokenizer.from_str(json.dumps(payload["tokenizer"]))
        except Exception:  # the Rust side raises a bare Exception
            hf = None
        if payload.get("version") != _VERSION or hf is None or hf.get_vocab_size() == 0 or hf.decoder is None:
            raise ValueError(f"{path} holds a damaged subword model or one of another format version; {hint}")
        settings = payload.get("settings")
        return cls(hf, settings if isinstance(settings, dict) else {}, str(payload.get("fingerprint", "")))

    def __getstate__(self):
        return self._payload()

    def __setstate__(self, state):
        from tokenizers import Tokenizer as HFTokenizer

        self.__init__(HFTokenizer.from_str(json.dumps(state["tokenizer"])), state["settings"], state["fingerprint"])

    def __repr__(self) -> str:
        s = self.settings
        return (f"SubwordTokenizer(BPE, vocab_size={self.vocab_size}, lower={s.get('lower')}, nfkc={s.get('nfkc')}, "
                f"fingerprint={self.fingerprint[:12]!r})")


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

    Raises:
        InputTypeError, ValueError: ``fingerprint`` is not a hex str of 16+ characters
            (:attr:`SubwordTokenizer.fingerprint`), or ``vocab_size`` not an int >= 2.
    """
    check_pattern(fingerprint, "fingerprint", r"[0-9a-f]{16,}", "at least 16 lower-case hex characters")
    return data_cache_dir() / "subwords" / f"bpe{check_int(vocab_size, 'vocab_size', low=2)}-{fingerprint[:16]}.json"


def _train_bpe(texts: list[str], settings: dict):
    """Train the HF BPE model (the slow part; tests replace it to prove the cache is used)."""
    from tokenizers import trainers

    hf = _build_hf(settings["lower"], settings["nfkc"])
    trainer = trainers.BpeTrainer(vocab_size=settings["vocab_size"], min_frequency=settings["min_frequency"],
                                  special_tokens=[UNK], initial_alphabet=_BASE_ALPHABET, show_progress=False)
    hf.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return hf


def train_subword_tokenizer(texts: Sequence[str], vocab_size: int = 8000, cache_path: str | os.PathLike | None = None,
                            *, min_frequency: int = 2, lower: bool = False, nfkc: bool = False,
                            cache: bool = True) -> SubwordTokenizer:
    """Train a BPE subword model on ``texts`` (or reload it from the cache).

    Pass the training split's source *and* target sentences together for one joint model,
    as GNMT does (Wu et al. 2016, sec. 4.1: one shared wordpiece model); BPE itself is
    Sennrich et al. 2016. Multi30k's 58,000 sentences train in a few seconds on two cores.

    Caching: the model is saved (atomically) to ``cache_path`` (default: :func:`subword_cache_path`, the hash
    covering the text and every setting) and reused only if its recorded fingerprint matches. A cache file that
    cannot be read or was trained on other data is retrained and overwritten, with a :class:`UserWarning` (it is
    derived data; :meth:`SubwordTokenizer.load` alone raises).

    Args:
        texts: training sentences (untokenised str), at least one non-blank.
        vocab_size: pieces to learn (>= 2), ``<unk>`` and the alphabet included; the model
            is smaller when the text has fewer merges, never below alphabet + 1. About 8,000 suits Multi30k.
        cache_path: a file to cache the model in (default: see above).
        min_frequency: a merge needs at least this many occurrences (>= 1).
        lower: lower-case text first (default ``False``: subwords keep case, as in lesson 06).
        nfkc: apply Unicode NFKC normalisation first (detokenising then gives the NFKC form).
        cache: ``False`` trains without reading or writing any file.

    Returns:
        A :class:`SubwordTokenizer` (``from_cache`` says whether it was reloaded).

    Raises:
        InputTypeError: ``texts`` is a bare str or holds a non-str; a setting of the wrong type.
        ValueError: no non-blank text; ``vocab_size < 2``; ``min_frequency < 1``.
    """
    texts = check_texts(texts, "train_subword_tokenizer's texts")
    require(any(t.strip() for t in texts), "train_subword_tokenizer got no text to learn from (empty, or blank lines only)")
    vocab_size, min_frequency = check_int(vocab_size, "vocab_size", low=2), check_int(min_frequency, "min_frequency", low=1)
    lower, nfkc, cache = check_flag(lower, "lower"), check_flag(nfkc, "nfkc"), check_flag(cache, "cache")
    if cache_path is not None:
        check_instance(cache_path, PATH_TYPES, "cache_path", "a str or path (or None)")
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
                warnings.warn(f"subword cache {path} was trained on other data or settings; training again and "
                              "overwriting it", stacklevel=2)
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
    check_instance(tokenizer, SubwordTokenizer, "merge_steps' tokenizer", "a SubwordTokenizer (train_subword_tokenizer)")
    word = check_text(word, "word").strip()
    require(word and not any(c.isspace() for c in word), f"merge_steps takes one word without spaces, got {word!r:.60}")
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
