"""One-call builders: load, tokenise, build vocabularies, wrap the splits as datasets.

:func:`prepare_multi30k` (spaCy words or subword pieces) and :func:`prepare_pairs` (any
splits and tokenisers) return a :class:`TranslationData`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Sequence

from course_lib.checks import check_choice, check_flag, check_int, check_text, check_tokens, require
from course_lib.data._util import check_instance
from course_lib.data.batching import TranslationDataset, _check_pairs
from course_lib.data.corpora import MULTI30K_SPLITS, Pair, _check_multi30k, load_multi30k
from course_lib.data.subwords import train_subword_tokenizer
from course_lib.data.text import ReversedTokenizer, Tokenizer, detokenize, tokenize_all
from course_lib.data.vocab import Vocab

__all__ = ["TranslationData", "prepare_pairs", "prepare_multi30k", "token_stats", "TOKENIZER_KINDS"]

TOKENIZER_KINDS = ("spacy", "subword")
"""What :func:`prepare_multi30k` can split text into: spaCy words, or BPE subword pieces."""

_SPLITS = ("train", "val", "test")


def token_stats(token_lists: Sequence[Sequence[str]], vocab: Vocab) -> dict[str, float]:
    """How well ``vocab`` covers tokenised sentences (without ``<sos>``/``<eos>``): words against subwords.

    Returns:
        ``{"sentences": N, "tokens": total, "mean_len": tokens per sentence, "unk_rate":
        fraction of tokens that encode to <unk> (0..1), "vocab_size": V}`` (rates 0.0 when empty).

    Raises:
        InputTypeError: ``token_lists`` or a sentence is a str, a token is not a str; ``vocab`` is not a :class:`Vocab`.
    """
    check_instance(vocab, Vocab, "vocab", "a course_lib.data.Vocab")
    n = total = unk = 0
    for i, tokens in enumerate(token_lists):
        ids = vocab.encode(check_tokens(tokens, f"token_stats' sentence {i} (tokenise first)"), add_sos_eos=False)
        n, total, unk = n + 1, total + len(ids), unk + ids.count(vocab.unk_id)
    return {"sentences": n, "tokens": total, "mean_len": total / n if n else 0.0,
            "unk_rate": unk / total if total else 0.0, "vocab_size": len(vocab)}


@dataclass
class TranslationData:
    """Everything a lesson needs: three datasets, two vocabularies, two tokenisers.

    Attributes:
        train, val, test: :class:`~course_lib.data.TranslationDataset` splits (raw pairs in ``.pairs``).
        src_vocab, tgt_vocab: built on the training split only.
        src_tokenizer, tgt_tokenizer: callables ``str -> list[str]``; the course's own also
            have ``.detokenize(tokens) -> str`` (see :meth:`detokenize` for any tokeniser).
            With source reversal, ``src_tokenizer`` is a :class:`~course_lib.data.ReversedTokenizer`.
        src_lang, tgt_lang: language codes (or labels such as ``"date"``).
        tokenizer_kind: ``"spacy"``, ``"subword"``, or ``"custom"`` (from :func:`prepare_pairs`).

    Methods that take a ``split`` (``"train"``, ``"val"``, ``"test"``) or a ``side``
    (``"src"``, ``"tgt"``) raise ``ValueError`` for any other value.
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

    @property
    def reverse_source(self) -> bool:
        """Whether source tokens are read in reverse order (Sutskever et al. 2014, sec. 3.3)."""
        return isinstance(self.src_tokenizer, ReversedTokenizer)

    def _split(self, split: str) -> TranslationDataset:
        return getattr(self, check_choice(split, "split", _SPLITS))

    def references(self, split: str = "test") -> list[str]:
        """The raw target sentences of ``split``, in dataset order: score detokenised
        hypotheses against these (sacreBLEU's standard; Post 2018)."""
        return [t for _, t in self._split(split).pairs]

    def sources(self, split: str = "test") -> list[str]:
        """The raw source sentences of ``split`` (as written, never reversed), in dataset order."""
        return [s for s, _ in self._split(split).pairs]

    def detokenize(self, tokens: Sequence[str], side: str = "tgt") -> str:
        """One sentence's tokens -> text, with the ``side`` tokeniser's ``detokenize``
        (:func:`~course_lib.data.detokenize_words` for a plain callable); reversed source
        tokens come back in their written order."""
        return detokenize(self.src_tokenizer if check_choice(side, "side", ("src", "tgt")) == "src"
                          else self.tgt_tokenizer, tokens)

    def token_stats(self, split: str = "test") -> dict[str, dict[str, float]]:
        """``{"src": ..., "tgt": ...}``: :func:`token_stats` of ``split`` per side."""
        ds = self._split(split)
        return {"src": token_stats(ds.src_tokens, self.src_vocab), "tgt": token_stats(ds.tgt_tokens, self.tgt_vocab)}

    def describe(self) -> str:
        """A short text table: pairs per split (and those ``max_len`` dropped), vocabulary sizes, mean lengths."""
        lines = [f"{self.src_lang} -> {self.tgt_lang}",
                 f"  {'split':<6}{'pairs':>8}{'mean src len':>14}{'mean tgt len':>14}"]
        for name in _SPLITS:
            ds: TranslationDataset = getattr(self, name)
            ms, mt = (sum(map(len, toks)) / max(len(ds), 1) for toks in (ds.src_tokens, ds.tgt_tokens))
            dropped = f"  ({ds.num_dropped} dropped by max_len)" if ds.num_dropped else ""
            lines.append(f"  {name:<6}{len(ds):>8}{ms:>14.1f}{mt:>14.1f}{dropped}")
        lines.append(f"  vocab: {self.src_lang} {len(self.src_vocab)} tokens, {self.tgt_lang} {len(self.tgt_vocab)} tokens")
        lines.append("  (lengths in tokens, without <sos>/<eos>)")
        if self.reverse_source:
            lines.append("  source reversed: the encoder reads each source sentence last token first "
                         "(Sutskever et al. 2014, sec. 3.3); targets keep their order")
        return "\n".join(lines)


def _build_data(splits: dict[str, list[Pair]], src_tokenizer, tgt_tokenizer, *, min_freq: int, max_len: int | None,
                src_lang: str, tgt_lang: str, tokenizer_kind: str, reverse_source: bool) -> TranslationData:
    if reverse_source:
        src_tokenizer = ReversedTokenizer(src_tokenizer)
    tokens = {name: (tokenize_all(src_tokenizer, [s for s, _ in pairs], "src_tokenizer"),
                     tokenize_all(tgt_tokenizer, [t for _, t in pairs], "tgt_tokenizer")) for name, pairs in splits.items()}
    src_tr, tgt_tr = tokens["train"]  # the vocabularies count the training pairs that survive max_len
    kept = [i for i in range(len(src_tr)) if max_len is None or max(len(src_tr[i]), len(tgt_tr[i])) <= max_len]
    src_vocab = Vocab.build((src_tr[i] for i in kept), min_freq=min_freq)
    tgt_vocab = Vocab.build((tgt_tr[i] for i in kept), min_freq=min_freq)
    datasets = {name: TranslationDataset(pairs, src_tokenizer, tgt_tokenizer, src_vocab, tgt_vocab,
                                         max_len=max_len if name == "train" else None,
                                         src_tokens=tokens[name][0], tgt_tokens=tokens[name][1])
                for name, pairs in splits.items()}
    return TranslationData(**datasets, src_vocab=src_vocab, tgt_vocab=tgt_vocab, src_tokenizer=src_tokenizer,
                           tgt_tokenizer=tgt_tokenizer, src_lang=src_lang, tgt_lang=tgt_lang,
                           tokenizer_kind=tokenizer_kind)


def prepare_pairs(train_pairs: Sequence[Pair], val_pairs: Sequence[Pair], test_pairs: Sequence[Pair],
                  src_tokenizer: Callable[[str], list[str]], tgt_tokenizer: Callable[[str], list[str]], *,
                  min_freq: int = 1, max_len: int | None = None, src_lang: str | None = None,
                  tgt_lang: str | None = None, reverse_source: bool = False) -> TranslationData:
    """Tokenise given splits, build vocabularies on ``train`` and wrap all three as datasets.

    For the Anki pairs (with :func:`~course_lib.data.split_pairs`), the date corpus (with
    :data:`~course_lib.data.char_tokenize`) and the sequence tasks (with ``str.split``).
    ``max_len`` drops over-long *training* pairs only (counted in ``describe()``), so
    validation and test scores stay comparable; the vocabularies count the kept pairs.

    Args:
        train_pairs, val_pairs, test_pairs: lists of ``(source, target)`` str pairs; ``train_pairs`` not empty.
        src_tokenizer, tgt_tokenizer: callables ``str -> list[str]``.
        min_freq: vocabulary threshold (>= 1). max_len: see above (>= 1 or ``None``).
        src_lang, tgt_lang: labels for :meth:`TranslationData.describe` (default: the
            tokeniser's ``lang``, else ``"src"`` / ``"tgt"``).
        reverse_source: read every source sentence backwards, as Sutskever et al. 2014
            (sec. 3.3) did; the corpus's ``src_tokenizer`` becomes a
            :class:`~course_lib.data.ReversedTokenizer`, so whatever tokenises a new sentence
            with it (translation, widgets, bundles) reverses it too. Targets are not reversed.

    Raises:
        InputTypeError: a split is not a list of ``(str, str)``; a tokeniser is not callable
            or returns no list of str tokens; a size, label or flag of the wrong type.
        ValueError: ``min_freq < 1``, ``max_len < 1``, or no training pairs.
    """
    check_int(max_len, "max_len", low=1, allow_none=True)  # min_freq: Vocab.build checks it
    splits = {name: _check_pairs(pairs, f"prepare_pairs' {name}_pairs")
              for name, pairs in zip(_SPLITS, (train_pairs, val_pairs, test_pairs))}
    require(splits["train"], "prepare_pairs got no training pairs; vocabularies are built on the training split")
    src_lang = check_text(src_lang, "src_lang", allow_none=True) or getattr(src_tokenizer, "lang", None) or "src"
    tgt_lang = check_text(tgt_lang, "tgt_lang", allow_none=True) or getattr(tgt_tokenizer, "lang", None) or "tgt"
    return _build_data(splits, src_tokenizer, tgt_tokenizer, min_freq=min_freq, max_len=max_len, src_lang=src_lang,
                       tgt_lang=tgt_lang, tokenizer_kind="custom",
                       reverse_source=check_flag(reverse_source, "reverse_source"))


def prepare_multi30k(src_lang: str = "de", tgt_lang: str = "en", *, lower: bool | None = None,
                     min_freq: int | None = None, max_train_pairs: int | None = None,
                     max_eval_pairs: int | None = None, max_len: int | None = None,
                     test_split: str = "test_2016_flickr", seed: int = 0, tokenizer: str = "spacy",
                     subword_vocab_size: int = 8000, reverse_source: bool = False) -> TranslationData:
    """Multi30k ready to train on: load, subset, tokenise, build vocabularies and datasets.

    :func:`~course_lib.data.load_multi30k` for ``train``, ``val`` and ``test_split``
    (downloading on first use); a seeded random subset of ``max_train_pairs`` training pairs
    (in corpus order) and the *first* ``max_eval_pairs`` of val and test; vocabularies on
    the (subset) training data with ``min_freq``; ``max_len`` and ``reverse_source`` as in
    :func:`prepare_pairs`. Source: Elliott et al. 2016 (Multi30k).

    ``tokenizer``:

    - ``"spacy"`` (lessons 01-04): words, from a spaCy blank
      :class:`~course_lib.data.Tokenizer` per language; defaults ``lower=True``,
      ``min_freq=2``, so rare words become ``<unk>``.
    - ``"subword"`` (lesson 06): BPE pieces of one joint model trained on both sides of the
      (subset) training split (:func:`~course_lib.data.train_subword_tokenizer`, cached,
      ``subword_vocab_size`` pieces), as GNMT's shared wordpiece model (Wu et al. 2016,
      sec. 4.1); defaults ``lower=False`` and ``min_freq=1``; ``max_len`` counts pieces.

    Either way ``data.tgt_tokenizer.detokenize(tokens)`` turns a hypothesis into text to
    score against ``data.references("test")`` (exact for subwords, heuristic for words).

    Raises:
        InputTypeError: an argument of the wrong type (e.g. ``max_train_pairs=2.5``).
        ValueError: unknown or equal languages, unknown split or ``tokenizer`` (the message
            lists the valid ones), ``test_split == "train"``, a size below 1, a negative seed.
        DataDownloadError, ChecksumError: see :func:`~course_lib.data.download_file`.
    """
    _check_multi30k("train", src_lang, tgt_lang)
    check_choice(check_text(test_split, "test_split"), "test_split", tuple(MULTI30K_SPLITS)[1:])
    subword = check_choice(tokenizer, "tokenizer", TOKENIZER_KINDS) == "subword"
    lower = (not subword) if lower is None else check_flag(lower, "lower")
    min_freq = check_int((1 if subword else 2) if min_freq is None else min_freq, "min_freq", low=1)
    for name, value in (("max_len", max_len), ("max_train_pairs", max_train_pairs), ("max_eval_pairs", max_eval_pairs)):
        check_int(value, name, low=1, allow_none=True)
    check_int(subword_vocab_size, "subword_vocab_size", low=2)
    check_int(seed, "seed", low=0)
    check_flag(reverse_source, "reverse_source")
    train, val, test = (load_multi30k(split, src_lang, tgt_lang) for split in ("train", "val", test_split))
    if max_train_pairs is not None and max_train_pairs < len(train):
        train = [train[i] for i in sorted(random.Random(int(seed)).sample(range(len(train)), max_train_pairs))]
    if max_eval_pairs is not None:
        val, test = val[:max_eval_pairs], test[:max_eval_pairs]
    if subword:
        src_tok = tgt_tok = train_subword_tokenizer([s for s, _ in train] + [t for _, t in train],
                                                    vocab_size=subword_vocab_size, lower=lower)
    else:
        src_tok, tgt_tok = Tokenizer(src_lang, lower=lower), Tokenizer(tgt_lang, lower=lower)
    return _build_data({"train": train, "val": val, "test": test}, src_tok, tgt_tok, min_freq=min_freq,
                       max_len=max_len, src_lang=src_lang, tgt_lang=tgt_lang, tokenizer_kind=tokenizer,
                       reverse_source=reverse_source)
