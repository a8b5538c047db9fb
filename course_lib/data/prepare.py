"""One-call builders: load, tokenise, build vocabularies, wrap the splits as datasets.

:func:`prepare_multi30k` (word tokens from spaCy, or subword pieces) and
:func:`prepare_pairs` (any splits and tokenisers) return a :class:`TranslationData`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Sequence

from course_lib.data._checks import check_positive_int, check_tokens
from course_lib.data.batching import TranslationDataset, _check_pairs
from course_lib.data.corpora import Pair, _check_split_langs, load_multi30k
from course_lib.data.subwords import train_subword_tokenizer
from course_lib.data.text import Tokenizer, detokenize, tokenize_all
from course_lib.data.vocab import Vocab

__all__ = ["TranslationData", "prepare_pairs", "prepare_multi30k", "token_stats", "TOKENIZER_KINDS"]


TOKENIZER_KINDS = ("spacy", "subword")
"""What :func:`prepare_multi30k` can split text into: spaCy words, or BPE subword pieces."""

_SPLITS = ("train", "val", "test")
_SIDES = ("src", "tgt")


def token_stats(token_lists: Sequence[Sequence[str]], vocab: Vocab) -> dict[str, float]:
    """How well ``vocab`` covers tokenised sentences: the words-versus-subwords numbers.

    Args:
        token_lists: one list of tokens per sentence (without ``<sos>``/``<eos>``).
        vocab: the vocabulary the tokens will be encoded with.

    Returns:
        ``{"sentences": N, "tokens": total, "mean_len": tokens per sentence,
        "unk_rate": fraction of tokens that encode to <unk> (0..1), "vocab_size": V}``
        (``mean_len`` and ``unk_rate`` are 0.0 for no sentences/tokens).

    Raises:
        TypeError: ``token_lists`` is a str, or a sentence is a str / holds non-str tokens;
            ``vocab`` is not a :class:`Vocab`.
    """
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be a course_lib.data.Vocab, got {type(vocab).__name__}")
    if isinstance(token_lists, (str, bytes)):
        raise TypeError("token_stats expects a list of token lists, got a str; tokenise the sentences first")
    n = total = unk = 0
    for i, tokens in enumerate(token_lists):
        ids = vocab.encode(check_tokens(tokens, f"token_stats (sentence {i})"), add_sos_eos=False)
        n += 1
        total += len(ids)
        unk += sum(1 for j in ids if j == vocab.unk_id)
    return {
        "sentences": n,
        "tokens": total,
        "mean_len": total / n if n else 0.0,
        "unk_rate": unk / total if total else 0.0,
        "vocab_size": len(vocab),
    }


@dataclass
class TranslationData:
    """Everything a lesson needs: three datasets, two vocabularies, two tokenisers.

    Attributes:
        train, val, test: :class:`~course_lib.data.TranslationDataset` splits; each keeps
            its raw sentence pairs in ``.pairs`` (see :meth:`references`).
        src_vocab, tgt_vocab: built on the training split only.
        src_tokenizer, tgt_tokenizer: callables ``str -> list[str]``; the course's own
            (:class:`~course_lib.data.Tokenizer`, :class:`~course_lib.data.SubwordTokenizer`,
            :data:`~course_lib.data.char_tokenize`) also have ``.detokenize(tokens) -> str``
            (see :meth:`detokenize` for any tokeniser).
        src_lang, tgt_lang: language codes (or labels such as ``"date"``).
        tokenizer_kind: ``"spacy"``, ``"subword"``, or ``"custom"`` (from :func:`prepare_pairs`).
    """

    train: TranslationDataset
    val: TranslationDataset
    test: TranslationDataset
    src_vocab: Vocab
    tgt_vocab: Vocab
    src_tokenizer: Callable[[str], list[str]]
    tgt_tokenizer: Callable[[str], list[str]]
    src_lang: str
    tgt_lang: str
    tokenizer_kind: str = "custom"

    def _split(self, split: str) -> TranslationDataset:
        if split not in _SPLITS:
            raise ValueError(f"unknown split {split!r}; use one of {', '.join(_SPLITS)}")
        return getattr(self, split)

    def references(self, split: str = "test") -> list[str]:
        """The raw (untokenised) target sentences of ``split``, in dataset order: score
        detokenised hypotheses against these (sacreBLEU's standard; Post 2018).

        Raises:
            ValueError: ``split`` is not ``"train"``, ``"val"`` or ``"test"``.
        """
        return [t for _, t in self._split(split).pairs]

    def sources(self, split: str = "test") -> list[str]:
        """The raw source sentences of ``split``, in dataset order.

        Raises:
            ValueError: unknown ``split``.
        """
        return [s for s, _ in self._split(split).pairs]

    def detokenize(self, tokens: Sequence[str], side: str = "tgt") -> str:
        """Tokens of one sentence -> text, with the ``side`` (``"src"``/``"tgt"``) tokeniser's
        ``detokenize`` (for word tokens a heuristic, see :func:`~course_lib.data.detokenize_words`).

        Raises:
            ValueError: unknown ``side``. TypeError: ``tokens`` is a str or holds a non-str.
        """
        if side not in _SIDES:
            raise ValueError(f"side must be 'src' or 'tgt', got {side!r}")
        return detokenize(self.src_tokenizer if side == "src" else self.tgt_tokenizer, tokens)

    def token_stats(self, split: str = "test") -> dict[str, dict[str, float]]:
        """Vocabulary size, ``<unk>`` rate and mean sentence length on ``split``, per side.

        Returns:
            ``{"src": {...}, "tgt": {...}}``, each as :func:`token_stats` returns.

        Raises:
            ValueError: unknown ``split``.
        """
        ds = self._split(split)
        return {"src": token_stats(ds.src_tokens, self.src_vocab), "tgt": token_stats(ds.tgt_tokens, self.tgt_vocab)}

    def describe(self) -> str:
        """A short text table: pairs per split, vocabulary sizes, mean token lengths."""
        lines = [f"{self.src_lang} -> {self.tgt_lang}"]
        lines.append(f"  {'split':<6}{'pairs':>8}{'mean src len':>14}{'mean tgt len':>14}")
        for name in _SPLITS:
            ds: TranslationDataset = getattr(self, name)
            ms = sum(map(len, ds.src_tokens)) / max(len(ds), 1)
            mt = sum(map(len, ds.tgt_tokens)) / max(len(ds), 1)
            dropped = f"  ({ds.num_dropped} dropped by max_len)" if ds.num_dropped else ""
            lines.append(f"  {name:<6}{len(ds):>8}{ms:>14.1f}{mt:>14.1f}{dropped}")
        lines.append(f"  vocab: {self.src_lang} {len(self.src_vocab)} tokens, {self.tgt_lang} {len(self.tgt_vocab)} tokens")
        lines.append("  (lengths in tokens, without <sos>/<eos>)")
        return "\n".join(lines)


def _build_data(
    splits: dict[str, list[Pair]],
    src_tokenizer: Callable[[str], list[str]],
    tgt_tokenizer: Callable[[str], list[str]],
    *,
    min_freq: int,
    max_len: int | None,
    src_lang: str,
    tgt_lang: str,
    tokenizer_kind: str,
) -> TranslationData:
    tokens = {}
    for name, pairs in splits.items():
        tokens[name] = (
            tokenize_all(src_tokenizer, [s for s, _ in pairs]),
            tokenize_all(tgt_tokenizer, [t for _, t in pairs]),
        )
    # vocabularies come from the training pairs that survive max_len
    src_tr, tgt_tr = tokens["train"]
    kept = [
        i for i in range(len(src_tr)) if max_len is None or (len(src_tr[i]) <= max_len and len(tgt_tr[i]) <= max_len)
    ]
    src_vocab = Vocab.build((src_tr[i] for i in kept), min_freq=min_freq)
    tgt_vocab = Vocab.build((tgt_tr[i] for i in kept), min_freq=min_freq)
    datasets = {}
    for name, pairs in splits.items():
        datasets[name] = TranslationDataset(
            pairs,
            src_tokenizer,
            tgt_tokenizer,
            src_vocab,
            tgt_vocab,
            max_len=max_len if name == "train" else None,
            src_tokens=tokens[name][0],
            tgt_tokens=tokens[name][1],
        )
    return TranslationData(
        train=datasets["train"],
        val=datasets["val"],
        test=datasets["test"],
        src_vocab=src_vocab,
        tgt_vocab=tgt_vocab,
        src_tokenizer=src_tokenizer,
        tgt_tokenizer=tgt_tokenizer,
        src_lang=src_lang,
        tgt_lang=tgt_lang,
        tokenizer_kind=tokenizer_kind,
    )


def prepare_pairs(
    train_pairs: Sequence[Pair],
    val_pairs: Sequence[Pair],
    test_pairs: Sequence[Pair],
    src_tokenizer: Callable[[str], list[str]],
    tgt_tokenizer: Callable[[str], list[str]],
    *,
    min_freq: int = 1,
    max_len: int | None = None,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
) -> TranslationData:
    """Tokenise given splits, build vocabularies on ``train`` and wrap all three as datasets.

    Used for the Anki pairs (with :func:`~course_lib.data.split_pairs`) and the toy date
    corpus (with :data:`~course_lib.data.char_tokenize`). ``max_len`` filters the *training*
    split only (with a warning, see :class:`~course_lib.data.TranslationDataset`);
    validation and test sets are never filtered, so scores stay comparable. Vocabularies
    are built on the kept training pairs.

    Args:
        train_pairs, val_pairs, test_pairs: lists of ``(source, target)`` str pairs;
            ``train_pairs`` must not be empty.
        src_tokenizer, tgt_tokenizer: callables ``str -> list[str]``.
        min_freq: vocabulary threshold (>= 1). max_len: see above (>= 1 or ``None``).
        src_lang, tgt_lang: labels for :meth:`TranslationData.describe`; default: the
            tokeniser's ``lang`` attribute, else ``"src"`` / ``"tgt"``.

    Raises:
        TypeError: a split is a str or holds something other than ``(str, str)`` pairs; a
            tokeniser is not callable or returns something other than a list of str
            tokens; ``min_freq``/``max_len`` not an int; ``src_lang``/``tgt_lang`` neither a
            str nor ``None``.
        ValueError: ``min_freq < 1``, ``max_len < 1``, or no training pairs.
    """
    check_positive_int("min_freq", min_freq)
    check_positive_int("max_len", max_len, allow_none=True)
    splits = {
        name: _check_pairs(pairs, f"prepare_pairs ({name}_pairs)")
        for name, pairs in zip(_SPLITS, (train_pairs, val_pairs, test_pairs))
    }
    if not splits["train"]:
        raise ValueError("prepare_pairs got no training pairs; vocabularies are built on the training split")
    for name, tok in (("src_tokenizer", src_tokenizer), ("tgt_tokenizer", tgt_tokenizer)):
        if not callable(tok):
            raise TypeError(f"{name} must be callable (str -> list of tokens), got {type(tok).__name__}")
    for name, label in (("src_lang", src_lang), ("tgt_lang", tgt_lang)):
        if label is not None and not isinstance(label, str):
            raise TypeError(f"{name} must be a str label such as 'en' (or None), got {type(label).__name__} {label!r:.40}")
    return _build_data(
        splits,
        src_tokenizer,
        tgt_tokenizer,
        min_freq=min_freq,
        max_len=max_len,
        src_lang=src_lang or getattr(src_tokenizer, "lang", None) or "src",
        tgt_lang=tgt_lang or getattr(tgt_tokenizer, "lang", None) or "tgt",
        tokenizer_kind="custom",
    )


def prepare_multi30k(
    src_lang: str = "de",
    tgt_lang: str = "en",
    *,
    lower: bool | None = None,
    min_freq: int | None = None,
    max_train_pairs: int | None = None,
    max_eval_pairs: int | None = None,
    max_len: int | None = None,
    test_split: str = "test_2016_flickr",
    seed: int = 0,
    tokenizer: str = "spacy",
    subword_vocab_size: int = 8000,
) -> TranslationData:
    """Multi30k ready to train on: load, subset, tokenise, build vocabularies and datasets.

    Steps: :func:`~course_lib.data.load_multi30k` for ``train``, ``val`` and ``test_split``
    (downloading on first use); keep a seeded random subset of ``max_train_pairs`` training
    pairs (in corpus order) and the *first* ``max_eval_pairs`` of val and test; tokenise;
    build both vocabularies on the (subset) training data with ``min_freq``. ``max_len``
    drops over-long *training* pairs (see :func:`prepare_pairs`).

    Two ways to split text (``tokenizer``):

    - ``"spacy"`` (lessons 01-04): words, from a spaCy blank
      :class:`~course_lib.data.Tokenizer` per language; defaults ``lower=True``,
      ``min_freq=2``. Rare words become ``<unk>``.
    - ``"subword"`` (lesson 05): BPE pieces from one joint model trained on the source and
      target sentences of the (subset) training split
      (:func:`~course_lib.data.train_subword_tokenizer`, cached in ``data_cache_dir()``,
      ``subword_vocab_size`` pieces), as GNMT's shared wordpiece model (Wu et al. 2016,
      sec. 4.1); defaults ``lower=False`` (case kept) and ``min_freq=1``, so ``<unk>`` is
      essentially absent. ``max_len`` then counts pieces. Both ``src_tokenizer`` and
      ``tgt_tokenizer`` are that one :class:`~course_lib.data.SubwordTokenizer`.

    Either way ``data.tgt_tokenizer.detokenize(tokens)`` turns a hypothesis back into text
    to score against ``data.references("test")`` (exact for subwords, heuristic for words).
    The full corpus takes a few seconds on two CPU cores (plus a few seconds, once, to
    train the subword model). Source: Elliott et al. 2016 (Multi30k).

    Raises:
        TypeError: an argument has the wrong type (e.g. ``max_train_pairs=2.5``).
        ValueError: unknown language, split or ``tokenizer`` (the message lists the valid
            ones), equal languages, ``test_split == "train"``, ``max_*_pairs < 1``,
            ``min_freq < 1``, ``max_len < 1``, ``subword_vocab_size < 2``, ``seed < 0``.
        DataDownloadError, ChecksumError: see :func:`~course_lib.data.download_file`.
    """
    _check_split_langs(test_split, [src_lang, tgt_lang])
    if src_lang == tgt_lang:
        raise ValueError(f"src_lang and tgt_lang are both {src_lang!r}; choose two different languages")
    if test_split == "train":
        raise ValueError("test_split must not be 'train'; use e.g. 'test_2016_flickr'")
    if not isinstance(tokenizer, str) or tokenizer not in TOKENIZER_KINDS:
        raise ValueError(f"tokenizer must be one of {', '.join(map(repr, TOKENIZER_KINDS))}, got {tokenizer!r}")
    subword = tokenizer == "subword"
    lower = (not subword) if lower is None else lower
    if not isinstance(lower, bool):
        raise TypeError(f"lower must be True, False or None, got {lower!r}")
    min_freq = (1 if subword else 2) if min_freq is None else min_freq
    check_positive_int("min_freq", min_freq)
    check_positive_int("max_len", max_len, allow_none=True)
    check_positive_int("max_train_pairs", max_train_pairs, allow_none=True)
    check_positive_int("max_eval_pairs", max_eval_pairs, allow_none=True)
    check_positive_int("subword_vocab_size", subword_vocab_size, minimum=2)
    check_positive_int("seed", seed, minimum=0)
    train = load_multi30k("train", src_lang, tgt_lang)
    val = load_multi30k("val", src_lang, tgt_lang)
    test = load_multi30k(test_split, src_lang, tgt_lang)
    if max_train_pairs is not None and max_train_pairs < len(train):
        keep = sorted(random.Random(int(seed)).sample(range(len(train)), max_train_pairs))
        train = [train[i] for i in keep]
    if max_eval_pairs is not None:
        val, test = val[:max_eval_pairs], test[:max_eval_pairs]
    if subword:
        sp = train_subword_tokenizer(
            [s for s, _ in train] + [t for _, t in train], vocab_size=subword_vocab_size, lower=lower
        )
        src_tok = tgt_tok = sp
    else:
        src_tok, tgt_tok = Tokenizer(src_lang, lower=lower), Tokenizer(tgt_lang, lower=lower)
    return _build_data(
        {"train": train, "val": val, "test": test},
        src_tok,
        tgt_tok,
        min_freq=min_freq,
        max_len=max_len,
        src_lang=src_lang,
        tgt_lang=tgt_lang,
        tokenizer_kind=tokenizer,
    )
