"""Translation metrics: BLEU and chrF through sacreBLEU, perplexity, BLEU by source length, paired bootstrap.

BLEU (Papineni et al. 2002) and chrF (Popović 2015) are computed by ``sacrebleu`` (Post 2018) on
**detokenised** hypotheses (``tokenizer.detokenize(tokens)``; space-joined tokens score a little
differently) against the **raw** references, each with sacreBLEU's *signature*. Cased BLEU is the
standard; lessons 01--04 report lowercased BLEU, as their word models lowercase. ``<unk>`` is scored
as ``⁇`` (U+2047), one token that matches no reference word. A bare ``str`` is **one sentence**;
references are one string per sentence or *reference streams* (``references[r][i]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import sacrebleu

from .checks import InputTypeError, check_flag, check_int, check_items, check_texts, check_tokens
from .data import UNK
from .utils import require

__all__ = ["Score", "BleuScores", "PairedBootstrap", "corpus_bleu", "bleu_scores", "corpus_chrf", "perplexity",
           "bleu_by_length", "accuracy_by_length", "evaluate_translations", "paired_bootstrap", "DEFAULT_LENGTH_BUCKETS", "UNK_PLACEHOLDER"]

DEFAULT_LENGTH_BUCKETS: Tuple[Tuple[int, int], ...] = ((1, 10), (11, 15), (16, 20), (21, 25), (26, 10_000))

UNK_PLACEHOLDER = "\u2047"
"""How ``<unk>`` is scored: ``⁇``, one token that matches no reference word."""

References = Union[str, Sequence[str], Sequence[Sequence[str]]]


@dataclass
class Score:
    """A corpus-level score (0--100): ``name`` (``"BLEU"``, ``"chrF"``), ``score``, sacreBLEU's
    ``signature`` (e.g. ``nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0``) and ``detail``
    (sacreBLEU's full result: n-gram precisions, brevity penalty...).
    """

    name: str
    score: float
    signature: str
    detail: str

    @property
    def lowercase(self) -> bool:
        """True when computed case-insensitively (``case:lc``)."""
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


def _hypotheses(hypotheses, name: str = "hypotheses") -> List[str]:
    hyps = check_texts([hypotheses] if isinstance(hypotheses, str) else hypotheses, f"{name} (join token lists first)")
    require(hyps, f"no sentences to score: {name} is empty")
    return [h.replace(UNK, UNK_PLACEHOLDER) for h in hyps]


def _reference_streams(references, n: int) -> List[List[str]]:
    refs = [references] if isinstance(references, str) else references
    require(isinstance(refs, Sequence), f"references must be a list of str or of streams, got {refs!r:.40}", InputTypeError)
    streams = [list(refs)] if all(isinstance(r, str) for r in refs) else [check_texts(
        s, f"reference stream {i} (references are strings or streams, not a mixture)") for i, s in enumerate(refs)]
    for i, s in enumerate(streams):
        require(len(s) == n, f"{n} hypotheses but {len(s)} references{f' in stream {i}' * (len(streams) > 1)}: "
                "they must pair up one to one (several references per sentence go in separate streams)")
    return streams


def _score(metric, name: str, hyps: List[str], streams: List[List[str]]) -> Score:
    result = metric.corpus_score(hyps, streams)
    return Score(name, float(result.score), str(metric.get_signature()), str(result))


def corpus_bleu(hypotheses: Union[str, Sequence[str]], references: References, lowercase: bool = True) -> Score:
    """Corpus BLEU (Papineni et al. 2002) of detokenised ``hypotheses`` with sacreBLEU's defaults (13a, exp smoothing).

    ``lowercase`` (default, as lessons 01--04) compares case-insensitively; ``False`` gives cased
    BLEU, the standard (:func:`bleu_scores` gives both).

    Raises:
        ValueError: nothing to score; hypotheses and references (each stream) differ in length.
        InputTypeError (a TypeError): non-str sentences, a mixture of strings and streams, a non-bool ``lowercase``.
    """
    hyps = _hypotheses(hypotheses)
    streams = _reference_streams(references, len(hyps))
    return _score(sacrebleu.metrics.BLEU(lowercase=check_flag(lowercase, "lowercase"), force=True), "BLEU", hyps,
                  streams)


def bleu_scores(hypotheses: Union[str, Sequence[str]], references: References) -> BleuScores:
    """Cased sacreBLEU (the standard, Post 2018) and lowercased BLEU of the same output (errors as corpus_bleu)."""
    return BleuScores(corpus_bleu(hypotheses, references, lowercase=False),
                      corpus_bleu(hypotheses, references, lowercase=True))


def corpus_chrf(hypotheses: Union[str, Sequence[str]], references: References, lowercase: bool = True) -> Score:
    """Corpus chrF (Popović 2015; character n-gram F-score, beta = 2); arguments and errors as :func:`corpus_bleu`."""
    hyps = _hypotheses(hypotheses)
    streams = _reference_streams(references, len(hyps))
    return _score(sacrebleu.metrics.CHRF(lowercase=check_flag(lowercase, "lowercase")), "chrF", hyps, streams)


def perplexity(loss: float) -> float:
    """Perplexity ``exp(loss)`` (``>= 1``; ``inf`` on overflow) of a mean cross-entropy ``loss`` in nats per token.

    ``loss``: a number, a NumPy scalar or a one-element tensor.

    Raises:
        ValueError: negative or NaN. InputTypeError (a TypeError): not a number.
    """
    try:  # a NumPy scalar or a one-element tensor as a Python number
        loss = loss.item() if hasattr(loss, "item") else loss
    except (ValueError, RuntimeError):  # several values: refused below
        pass
    require(isinstance(loss, Real) and not isinstance(loss, bool), "loss must be a number (nats)", InputTypeError)
    require(loss >= 0, f"a cross-entropy loss is a non-negative number of nats, got {loss}")  # NaN fails too
    return math.exp(loss) if loss < 709.78 else math.inf  # exp overflows above log(max float) = 709.78...


def _source_lengths(src_lengths, n: int) -> List[int]:
    src_lengths = check_items(src_lengths, "src_lengths", "integers")
    require(len(src_lengths) == n, f"{len(src_lengths)} source lengths for {n} sentences")
    return [check_int(x, "a source length", low=0) for x in src_lengths]


def bleu_by_length(hypotheses: Sequence[str], references: References, src_lengths: Sequence[int],
                   buckets: Sequence[Tuple[int, int]] = DEFAULT_LENGTH_BUCKETS, lowercase: bool = True):
    """Corpus BLEU within inclusive ``(low, high)`` buckets of source length in tokens (``<eos>`` not counted).

    Returns a ``pandas.DataFrame``: ``bucket`` (e.g. ``"11-15"``), ``low``, ``high``, ``sentences``
    and ``bleu`` (NaN for an empty bucket). Other arguments as :func:`corpus_bleu`.

    Raises:
        ValueError: the three sequences differ in length, a negative length, a malformed bucket.
        InputTypeError (a TypeError): as :func:`corpus_bleu`, or a length that is not an integer.
    """
    import pandas as pd

    hyps = _hypotheses(hypotheses)
    streams = _reference_streams(references, len(hyps))
    lengths = _source_lengths(src_lengths, len(hyps))
    rows = []
    for row, idx in _bucketed(buckets, lengths):
        row["bleu"] = corpus_bleu([hyps[i] for i in idx], [[s[i] for i in idx] for s in streams], lowercase).score \
            if idx else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def _bucketed(buckets, lengths: List[int]):
    """``(row, indices)`` per inclusive ``(low, high)`` bucket; ValueError for a malformed bucket list."""
    ok = isinstance(buckets, Sequence) and not isinstance(buckets, str) and len(buckets) > 0
    require(ok and all(isinstance(b, Sequence) and len(b) == 2 and all(isinstance(x, Integral) and not isinstance(
        x, bool) for x in b) and 0 <= b[0] <= b[1] for b in buckets), "buckets must be a non-empty list of (low, high) "
        f"source-length ranges with integers 0 <= low <= high, got {buckets!r:.60}")
    for low, high in ((int(a), int(b)) for a, b in buckets):
        idx = [i for i, n in enumerate(lengths) if low <= n <= high]
        yield {"bucket": f"{low}+" if high >= 1000 else f"{low}-{high}", "low": low, "high": high,
               "sentences": len(idx)}, idx


def accuracy_by_length(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]],
                       src_lengths: Sequence[int], buckets: Sequence[Tuple[int, int]] = DEFAULT_LENGTH_BUCKETS):
    """Exact-match and token accuracy (percent) within inclusive ``(low, high)`` buckets of source length.

    For tasks with one right answer (:func:`course_lib.data.make_sequence_task`): ``hypotheses`` and
    ``references`` are token lists without ``<eos>``. *Exact match*: the whole output is right. *Token
    accuracy*: position-by-position matches over the longer of the two (a missing or extra token is wrong).

    Returns a ``pandas.DataFrame``: ``bucket``, ``low``, ``high``, ``sentences``, ``exact_match`` and
    ``token_accuracy`` (NaN for an empty bucket).

    Raises:
        ValueError: the three sequences differ in length, a negative length, a malformed bucket.
        InputTypeError (a TypeError): a hypothesis or reference that is not a list of str tokens, a
            length that is not an integer.
    """
    import pandas as pd

    hyps = [check_tokens(h, "a hypothesis") for h in check_items(hypotheses, "hypotheses", "token lists")]
    refs = [check_tokens(r, "a reference") for r in check_items(references, "references", "token lists")]
    require(len(hyps) == len(refs), f"{len(hyps)} hypotheses for {len(refs)} references: pass one per test sentence")
    lengths = _source_lengths(src_lengths, len(hyps))
    rows = []
    for row, idx in _bucketed(buckets, lengths):
        exact = [hyps[i] == refs[i] for i in idx]
        hits = sum(sum(a == b for a, b in zip(hyps[i], refs[i])) for i in idx)
        slots = sum(max(len(hyps[i]), len(refs[i]), 1) for i in idx)
        row["exact_match"] = 100.0 * sum(exact) / len(idx) if idx else float("nan")
        row["token_accuracy"] = 100.0 * hits / slots if idx else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def evaluate_translations(translations, references: References, src_lengths: Optional[Sequence[int]] = None,
                          detokenize: Optional[Callable[[List[str]], str]] = None, lowercase: bool = True) -> dict:
    """BLEU (cased and lowercased), chrF and BLEU by length of :class:`~course_lib.decoding.Translation` objects.

    Their ``tokens`` (``<unk>`` as ``⁇``) are detokenised with ``detokenize`` (the target tokeniser's;
    default: joined with spaces) and scored against the raw references, everything checked first.
    Returns ``"bleu"`` (case as ``lowercase``), ``"bleu_cased"``, ``"bleu_lowercased"``, ``"chrf"``
    (:class:`Score`), ``"by_length"`` (:func:`bleu_by_length` given ``src_lengths``, else None) and
    ``"hypotheses"`` (the scored text).

    Raises:
        InputTypeError (a TypeError): a translation without a list of str ``tokens``, a bad ``detokenize``.
        ValueError: as :func:`corpus_bleu` and :func:`bleu_by_length`.
    """
    translations = [translations] if hasattr(translations, "tokens") else translations
    translations = check_items(translations, "translations", "Translation objects")
    require(detokenize is None or callable(detokenize), "detokenize must be a function list -> str", InputTypeError)
    hyps = []
    for tr in translations:
        tokens = getattr(tr, "tokens", None)
        ok = isinstance(tokens, Sequence) and not isinstance(tokens, str) and all(isinstance(t, str) for t in tokens)
        require(ok, f"translation tokens must be str in a list (map ids: Vocab.decode), got {tokens!r:.40}", InputTypeError)
        tokens = [UNK_PLACEHOLDER if t == UNK else t for t in tokens]
        hyps.append(detokenize(tokens) if detokenize is not None else " ".join(tokens))
    hyps = _hypotheses(hyps, "detokenize's results")  # and the references, lengths, case: all before any scoring
    _reference_streams(references, len(hyps))
    if src_lengths is not None:
        _source_lengths(src_lengths, len(hyps))
    chrf = corpus_chrf(hyps, references, lowercase)
    both = bleu_scores(hyps, references)
    return {"bleu": both.lowercased if lowercase else both.cased, "bleu_cased": both.cased,
            "bleu_lowercased": both.lowercased, "chrf": chrf, "hypotheses": hyps,
            "by_length": None if src_lengths is None else bleu_by_length(hyps, references, src_lengths,
                                                                           lowercase=lowercase)}


@dataclass
class PairedBootstrap:
    """Two systems compared by :func:`paired_bootstrap`: ``bleu_a``, ``bleu_b``, ``difference``
    (``bleu_b - bleu_a``), its 95% confidence interval ``ci_low``..``ci_high``, ``p_value`` (small:
    the difference is unlikely to be chance), ``n_samples`` and sacreBLEU's BLEU ``signature``."""

    bleu_a: float
    bleu_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    n_samples: int
    signature: str

    def __str__(self) -> str:
        return (f"BLEU A = {self.bleu_a:.2f}, B = {self.bleu_b:.2f}: B - A = {self.difference:+.2f} "
                f"(95% CI {self.ci_low:+.2f} to {self.ci_high:+.2f}, p = {self.p_value:.3f}, "
                f"{self.n_samples} paired resamples)")


def paired_bootstrap(hyps_a: Sequence[str], hyps_b: Sequence[str], references: References, n_samples: int = 1000,
                     seed: int = 0, lowercase: bool = True) -> PairedBootstrap:
    """Is system B's BLEU really different from system A's? sacreBLEU's paired bootstrap test.

    sacreBLEU's own test (``sacrebleu.significance``, the method of Moses' ``bootstrap-hypothesis-
    difference-significance.pl``) scores both systems' detokenised outputs on ``n_samples`` resamples
    of the test sentences; its p-value is the share of resampled differences, centred on zero, above
    the observed one. The 95% interval of the difference comes from the same resamples (same seed).
    Identical systems get ``p = 1`` (sacreBLEU's strict count: ``1 / (n_samples + 1)``).

    Raises:
        ValueError: systems or references of different lengths, nothing to score, ``n_samples < 1``,
            ``seed < 0``. InputTypeError (a TypeError): as :func:`corpus_bleu`.
    """
    from sacrebleu.significance import Result, _paired_bs_test

    a, b = _hypotheses(hyps_a, "hyps_a"), _hypotheses(hyps_b, "hyps_b")
    require(len(a) == len(b), f"hyps_a and hyps_b must translate the same test sentences: got {len(a)} and {len(b)}")
    streams = _reference_streams(references, len(a))
    n_samples, seed = check_int(n_samples, "n_samples", low=1), check_int(seed, "seed", low=0)
    metric = sacrebleu.metrics.BLEU(lowercase=check_flag(lowercase, "lowercase"), force=True)
    stats_a = metric._extract_corpus_statistics(a, streams)
    bleu_a = metric._aggregate_and_compute(stats_a).score
    _, result = _paired_bs_test({"BLEU": (stats_a, Result(bleu_a))}, "B", b, streams, {"BLEU": metric},
                                n_samples=n_samples, seed=seed)
    stats = [np.array(stats_a, dtype="float32"), np.array(metric._extract_corpus_statistics(b, streams), "float32")]
    idx = np.random.default_rng(seed).choice(len(a), size=(n_samples, len(a)), replace=True)  # sacreBLEU's resamples
    bleu = metric._compute_score_from_stats
    diffs = np.sort([bleu(sb.sum(0)).score - bleu(sa.sum(0)).score for sa, sb in zip(stats[0][idx], stats[1][idx])])
    tail = n_samples // 40  # 2.5% on each side, as sacrebleu.significance.estimate_ci
    p_value = 1.0 if np.array_equal(stats[0], stats[1]) else float(result["BLEU"].p_value)
    return PairedBootstrap(bleu_a, result["BLEU"].score, result["BLEU"].score - bleu_a, float(diffs[tail]),
                           float(diffs[n_samples - tail - 1]), p_value, n_samples, str(metric.get_signature()))
