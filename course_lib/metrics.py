"""Translation metrics: BLEU and chrF through sacrebleu, perplexity, BLEU by source length.

BLEU (Papineni et al. 2002) and chrF (Popović 2015) are computed by ``sacrebleu``
(Post 2018, "A Call for Clarity in Reporting BLEU Scores") on **detokenised** hypotheses
against the **raw** references, and every score carries sacrebleu's *signature* (the exact
settings), so numbers can be compared across papers and runs:

- cased BLEU (``case:mixed``) is the standard and what papers report;
- lowercased BLEU (``case:lc``) is what lessons 01--04 report, since their word models
  lowercase the text; :func:`bleu_scores` gives both at once.

Detokenise with the tokeniser the model was trained with (``detokenize=`` of
:func:`evaluate_translations`; every tokeniser of :mod:`course_lib.data` has
``.detokenize(tokens) -> str``). Without one, tokens are joined with spaces: sacrebleu's
``13a`` tokenisation then re-splits most punctuation the same way on both sides, but not
everything (a space-joined ``t - shirt`` does not match the reference ``t-shirt``), so
scores of space-joined output are slightly biased. The space-joined output looks
"tokenised" to sacrebleu's heuristic; its warning is silenced with ``force=True``.

``<unk>``: 13a would split the token ``<unk>`` into three tokens ``< unk >``. Every
``<unk>`` of a hypothesis is therefore scored as the single token ``⁇`` (U+2047, the
placeholder sentencepiece uses for unknown pieces): one hypothesis token that matches no
reference word.

Inputs: a bare ``str`` where a list of sentences is expected is **one sentence** (never a
sequence of characters). References follow sacrebleu: either one reference string per
sentence, or a list of *reference streams* (``references[r][i]`` is the ``r``-th
reference of sentence ``i``; every stream as long as the hypotheses).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple, Union

import sacrebleu

from .data import UNK

__all__ = ["Score", "BleuScores", "corpus_bleu", "bleu_scores", "corpus_chrf", "perplexity", "bleu_by_length",
           "evaluate_translations", "DEFAULT_LENGTH_BUCKETS", "UNK_PLACEHOLDER"]

DEFAULT_LENGTH_BUCKETS: Tuple[Tuple[int, int], ...] = ((1, 10), (11, 15), (16, 20), (21, 25), (26, 10_000))

UNK_PLACEHOLDER = "\u2047"
"""How ``<unk>`` is scored: ``⁇``, one token that matches no reference word."""

References = Union[str, Sequence[str], Sequence[Sequence[str]]]


@dataclass
class Score:
    """A corpus-level score with sacrebleu's signature.

    Attributes:
        name: ``"BLEU"`` or ``"chrF"``. score: 0--100.
        signature: sacrebleu's settings string, e.g.
            ``nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`` (``case:lc`` when
            lowercased).
        detail: sacrebleu's full result string (n-gram precisions, brevity penalty, ...).
    """

    name: str
    score: float
    signature: str
    detail: str

    @property
    def lowercase(self) -> bool:
        """True when the score was computed case-insensitively (``case:lc`` in the signature)."""
        return "case:lc" in self.signature

    def __str__(self) -> str:
        return f"{self.name} = {self.score:.2f}  ({self.signature})"


@dataclass
class BleuScores:
    """Cased (the standard) and lowercased corpus BLEU of the same output, each with its signature."""

    cased: Score
    lowercased: Score

    def __str__(self) -> str:
        return f"cased {self.cased}\nlowercased {self.lowercased}"


def _as_hypotheses(hypotheses) -> List[str]:
    if isinstance(hypotheses, str):
        hypotheses = [hypotheses]
    if hypotheses is None or not isinstance(hypotheses, Sequence):
        raise TypeError(f"hypotheses must be a list of strings (or one string), got {type(hypotheses).__name__}")
    bad = [h for h in hypotheses if not isinstance(h, str)]
    if bad:
        raise TypeError(f"hypotheses must be strings, got e.g. {bad[0]!r}; join token lists with "
                        "tokenizer.detokenize(tokens) or ' '.join(tokens)")
    if not hypotheses:
        raise ValueError("no sentences to score: hypotheses is empty")
    return [h.replace(UNK, UNK_PLACEHOLDER) for h in hypotheses]


def _as_reference_streams(references, n: int) -> List[List[str]]:
    if isinstance(references, str):
        references = [references]
    if references is None or not isinstance(references, Sequence):
        raise TypeError(f"references must be a list of strings or of reference streams, got {type(references).__name__}")
    if len(references) == 0:
        raise ValueError("no references to score against: references is empty")
    if all(isinstance(r, str) for r in references):
        streams = [list(references)]
    elif all(isinstance(r, Sequence) and not isinstance(r, str) for r in references):
        streams = [list(s) for s in references]
        for s in streams:
            bad = [r for r in s if not isinstance(r, str)]
            if bad:
                raise TypeError(f"references must be strings, got e.g. {bad[0]!r}")
    else:
        raise TypeError("references must be either strings (one per sentence) or reference streams "
                        "(lists of strings, references[r][i] = r-th reference of sentence i), not a mixture")
    for r, s in enumerate(streams):
        if len(s) != n:
            where = "" if len(streams) == 1 else f" (reference stream {r})"
            raise ValueError(f"{n} hypotheses but {len(s)} references{where}: they must pair up one to one "
                             "(several references per sentence go in separate streams, sacrebleu's convention)")
    return streams


def _check_lowercase(lowercase) -> bool:
    if not isinstance(lowercase, bool):
        raise TypeError(f"lowercase must be True or False, got {lowercase!r}")
    return lowercase


def corpus_bleu(hypotheses: Union[str, Sequence[str]], references: References, lowercase: bool = True) -> Score:
    """Corpus BLEU (Papineni et al. 2002) with sacrebleu's defaults (13a tokenisation, exp smoothing).

    Args:
        hypotheses: one detokenised output per sentence (a bare ``str`` is one sentence).
            ``<unk>`` is scored as one non-matching token (see the module docstring).
        references: one raw reference per sentence, or reference streams (sacrebleu's
            ``references[r][i]``).
        lowercase: compare case-insensitively (default True, as lessons 01--04 report);
            ``False`` gives cased BLEU, the standard. See :func:`bleu_scores` for both.

    Returns:
        :class:`Score` (0--100) with sacrebleu's signature.

    Raises:
        ValueError: nothing to score, or hypotheses and references (each stream) differ in length.
        TypeError: non-string sentences, a mixture of strings and streams, ``lowercase`` not a bool.
    """
    hyps = _as_hypotheses(hypotheses)
    refs = _as_reference_streams(references, len(hyps))
    metric = sacrebleu.metrics.BLEU(lowercase=_check_lowercase(lowercase), force=True)
    result = metric.corpus_score(hyps, refs)
    return Score("BLEU", float(result.score), str(metric.get_signature()), str(result))


def bleu_scores(hypotheses: Union[str, Sequence[str]], references: References) -> BleuScores:
    """Cased sacreBLEU (the standard, Post 2018) and lowercased BLEU of the same output.

    Arguments and errors as :func:`corpus_bleu`.
    """
    return BleuScores(corpus_bleu(hypotheses, references, lowercase=False),
                      corpus_bleu(hypotheses, references, lowercase=True))


def corpus_chrf(hypotheses: Union[str, Sequence[str]], references: References, lowercase: bool = True) -> Score:
    """Corpus chrF (Popović 2015; character n-gram F-score, beta = 2) through sacrebleu.

    Arguments and errors as :func:`corpus_bleu`.
    """
    hyps = _as_hypotheses(hypotheses)
    refs = _as_reference_streams(references, len(hyps))
    metric = sacrebleu.metrics.CHRF(lowercase=_check_lowercase(lowercase))
    result = metric.corpus_score(hyps, refs)
    return Score("chrF", float(result.score), str(metric.get_signature()), str(result))


def perplexity(loss: float) -> float:
    """Perplexity ``exp(loss)`` of a mean cross-entropy ``loss`` in nats per token.

    Args:
        loss: a non-negative number (a Python or NumPy number, or a one-element tensor).

    Returns:
        ``exp(loss)`` (``>= 1``); ``math.inf`` when ``loss`` is infinite or so large that
        ``exp`` overflows (above ~709 nats).

    Raises:
        ValueError: ``loss`` is negative or NaN. TypeError: ``loss`` is not a number.
    """
    if isinstance(loss, (bool, str, bytes)) or loss is None:
        raise TypeError(f"loss must be a number (mean nats per token), got {loss!r}")
    try:
        value = float(loss)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"loss must be a number (mean nats per token), got {type(loss).__name__}") from err
    if not value >= 0:
        raise ValueError(f"a cross-entropy loss is a non-negative number of nats, got {value}")
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf


def _check_buckets(buckets) -> List[Tuple[int, int]]:
    if buckets is None or isinstance(buckets, str) or not isinstance(buckets, Sequence) or len(buckets) == 0:
        raise ValueError("buckets must be a non-empty list of (low, high) source-length ranges")
    out = []
    for bucket in buckets:
        ok = isinstance(bucket, Sequence) and len(bucket) == 2 and all(
            isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in bucket)
        if not ok or not 0 <= bucket[0] <= bucket[1]:
            raise ValueError(f"each bucket must be (low, high) with integers 0 <= low <= high, got {bucket!r}")
        out.append((int(bucket[0]), int(bucket[1])))
    return out


def _check_src_lengths(src_lengths, n_sentences: int) -> None:
    if isinstance(src_lengths, (str, bytes)) or not isinstance(src_lengths, Sequence):
        raise TypeError(f"src_lengths must be a list of integers, got {type(src_lengths).__name__}")
    if len(src_lengths) != n_sentences:
        raise ValueError(f"{len(src_lengths)} source lengths for {n_sentences} sentences")
    for n in src_lengths:
        if not isinstance(n, numbers.Integral) or isinstance(n, bool):
            raise TypeError(f"source lengths must be integers, got {n!r}")
        if n < 0:
            raise ValueError(f"source lengths cannot be negative, got {n}")


def bleu_by_length(hypotheses: Sequence[str], references: References, src_lengths: Sequence[int],
                   buckets: Sequence[Tuple[int, int]] = DEFAULT_LENGTH_BUCKETS, lowercase: bool = True):
    """Corpus BLEU within buckets of source length (the bottleneck plot of lessons 01 and 03).

    Args:
        hypotheses, references, lowercase: as in :func:`corpus_bleu`.
        src_lengths: source length of each sentence in tokens (``<eos>`` not counted),
            non-negative integers.
        buckets: inclusive ``(low, high)`` ranges of source length.

    Returns:
        ``pandas.DataFrame`` with columns ``bucket`` (label such as ``"11-15"``), ``low``, ``high``,
        ``sentences`` and ``bleu`` (NaN for an empty bucket).

    Raises:
        ValueError: the three sequences differ in length, a length is negative, a bucket is
            malformed. TypeError: as :func:`corpus_bleu`, or a length is not an integer.
    """
    import pandas as pd

    hyps = _as_hypotheses(hypotheses)
    streams = _as_reference_streams(references, len(hyps))
    _check_lowercase(lowercase)
    _check_src_lengths(src_lengths, len(hyps))
    rows = []
    for low, high in _check_buckets(buckets):
        idx = [i for i, n in enumerate(src_lengths) if low <= n <= high]
        label = f"{low}+" if high >= 1000 else f"{low}-{high}"
        bleu: Optional[float] = None
        if idx:
            bleu = corpus_bleu([hyps[i] for i in idx], [[s[i] for i in idx] for s in streams], lowercase).score
        rows.append({"bucket": label, "low": low, "high": high, "sentences": len(idx),
                     "bleu": float("nan") if bleu is None else bleu})
    return pd.DataFrame(rows)


def evaluate_translations(translations, references: References, src_lengths: Optional[Sequence[int]] = None,
                          detokenize: Optional[Callable[[List[str]], str]] = None, lowercase: bool = True) -> dict:
    """BLEU (cased and lowercased), chrF and (optionally) BLEU by length of :class:`~course_lib.decoding.Translation` objects.

    Each translation's ``tokens`` are detokenised with ``detokenize`` (the target
    tokeniser's ``.detokenize``; default: joined with spaces), ``<unk>`` becoming the
    neutral token ``⁇`` first, and scored against the raw references.

    Args:
        translations: a list of translations (objects with a ``tokens`` list), or one.
        references: as in :func:`corpus_bleu`.
        src_lengths: source lengths for :func:`bleu_by_length` (optional).
        detokenize: ``list[str] -> str``; ``None`` joins with spaces.
        lowercase: the case setting of ``"bleu"``, ``"chrf"`` and ``"by_length"``
            (default True, as lessons 01--04).

    Returns:
        ``{"bleu": Score, "bleu_cased": Score, "bleu_lowercased": Score, "chrf": Score,
        "by_length": DataFrame | None, "hypotheses": list[str]}``.

    Raises:
        TypeError: a translation without a list of str ``tokens``, ``detokenize`` not
            callable or not returning a ``str``; and as :func:`corpus_bleu` and
            :func:`bleu_by_length`. Everything is checked before any score is computed.
        ValueError: as :func:`corpus_bleu` and :func:`bleu_by_length`.
    """
    if hasattr(translations, "tokens"):
        translations = [translations]
    if translations is None or isinstance(translations, str) or not isinstance(translations, Sequence):
        raise TypeError(f"translations must be a list of Translation objects, got {type(translations).__name__}")
    if detokenize is not None and not callable(detokenize):
        raise TypeError(f"detokenize must be a callable list[str] -> str, got {type(detokenize).__name__}")
    _check_lowercase(lowercase)
    hyps = []
    for tr in translations:
        tokens = getattr(tr, "tokens", None)
        if tokens is None or isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
            raise TypeError(f"each translation needs a list of tokens, got {type(tr).__name__}")
        bad = [t for t in tokens if not isinstance(t, str)]
        if bad:
            raise TypeError(f"translation tokens must be str, got e.g. {bad[0]!r} ({type(bad[0]).__name__}); "
                            "map ids to tokens with Vocab.decode first")
        tokens = [UNK_PLACEHOLDER if t == UNK else t for t in tokens]
        text = detokenize(tokens) if detokenize is not None else " ".join(tokens)
        if not isinstance(text, str):
            raise TypeError(f"detokenize must return a str, got {type(text).__name__}")
        hyps.append(text)
    _as_reference_streams(references, len(_as_hypotheses(hyps)))  # refuse bad references before any scoring
    if src_lengths is not None:
        _check_src_lengths(src_lengths, len(hyps))
    both = bleu_scores(hyps, references)
    result = {"bleu": both.lowercased if lowercase else both.cased, "bleu_cased": both.cased,
              "bleu_lowercased": both.lowercased, "chrf": corpus_chrf(hyps, references, lowercase),
              "hypotheses": [h.replace(UNK, UNK_PLACEHOLDER) for h in hyps], "by_length": None}
    if src_lengths is not None:
        result["by_length"] = bleu_by_length(hyps, references, src_lengths, lowercase=lowercase)
    return result
