"""Translation metrics: BLEU and chrF through sacrebleu, perplexity, BLEU by source length.

BLEU (Papineni et al. 2002) and chrF (Popović 2015) are computed by ``sacrebleu``
(Post 2018) on detokenised text, and every score carries sacrebleu's *signature* (the
exact settings), so numbers can be compared across papers and runs. The course's models
produce lowercased tokens; their hypotheses are joined with spaces and scored against the
raw references with ``lowercase=True`` and sacrebleu's standard ``13a`` tokenisation. The
space-joined hypotheses look "tokenised" to sacrebleu's heuristic (``" ."`` at the end);
its warning is silenced with ``force=True`` because 13a re-tokenises hypotheses and
references in the same way, so the extra spaces do not change the n-grams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import sacrebleu

__all__ = ["Score", "corpus_bleu", "corpus_chrf", "perplexity", "bleu_by_length", "DEFAULT_LENGTH_BUCKETS"]

DEFAULT_LENGTH_BUCKETS: Tuple[Tuple[int, int], ...] = ((1, 10), (11, 15), (16, 20), (21, 25), (26, 10_000))


@dataclass
class Score:
    """A corpus-level score with sacrebleu's signature.

    Attributes:
        name: ``"BLEU"`` or ``"chrF"``. score: 0--100. signature: sacrebleu's settings string.
        detail: sacrebleu's full result string (n-gram precisions, brevity penalty, ...).
    """

    name: str
    score: float
    signature: str
    detail: str

    def __str__(self) -> str:
        return f"{self.name} = {self.score:.2f}  ({self.signature})"


def _check(hypotheses: Sequence[str], references: Sequence[str]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references: they must pair up one to one")
    if not hypotheses:
        raise ValueError("no sentences to score")
    for name, seq in (("hypotheses", hypotheses), ("references", references)):
        if not all(isinstance(s, str) for s in seq):
            raise TypeError(f"{name} must be strings (join token lists with ' '.join(tokens))")


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str], lowercase: bool = True) -> Score:
    """Corpus BLEU (Papineni et al. 2002) with sacrebleu's defaults (13a tokenisation, exp smoothing).

    Args:
        hypotheses: one detokenised (or space-joined) output per sentence.
        references: one reference per sentence, raw text.
        lowercase: compare case-insensitively (the course's models output lowercase).

    Returns:
        :class:`Score` (0--100).

    Raises:
        ValueError: lengths differ or nothing to score. TypeError: non-string inputs.
    """
    _check(hypotheses, references)
    metric = sacrebleu.metrics.BLEU(lowercase=lowercase, force=True)
    result = metric.corpus_score(list(hypotheses), [list(references)])
    return Score("BLEU", float(result.score), str(metric.get_signature()), str(result))


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str], lowercase: bool = True) -> Score:
    """Corpus chrF (Popović 2015; character n-gram F-score, beta = 2) through sacrebleu.

    Raises:
        ValueError: lengths differ or nothing to score. TypeError: non-string inputs.
    """
    _check(hypotheses, references)
    metric = sacrebleu.metrics.CHRF(lowercase=lowercase)
    result = metric.corpus_score(list(hypotheses), [list(references)])
    return Score("chrF", float(result.score), str(metric.get_signature()), str(result))


def perplexity(loss: float) -> float:
    """``exp(loss)`` for a mean cross-entropy in nats per token (capped to avoid overflow).

    Raises:
        ValueError: ``loss`` is negative or NaN.
    """
    if not loss >= 0:
        raise ValueError(f"a cross-entropy loss is a non-negative number of nats, got {loss}")
    return math.exp(min(loss, 700.0))


def bleu_by_length(hypotheses: Sequence[str], references: Sequence[str], src_lengths: Sequence[int],
                   buckets: Sequence[Tuple[int, int]] = DEFAULT_LENGTH_BUCKETS, lowercase: bool = True):
    """Corpus BLEU within buckets of source length (the bottleneck plot of lessons 01 and 03).

    Args:
        hypotheses, references: as in :func:`corpus_bleu`.
        src_lengths: source length of each sentence in tokens (``<eos>`` not counted).
        buckets: inclusive ``(low, high)`` ranges of source length.

    Returns:
        ``pandas.DataFrame`` with columns ``bucket`` (label such as ``"11-15"``), ``low``, ``high``,
        ``sentences`` and ``bleu`` (NaN for an empty bucket).

    Raises:
        ValueError: the three sequences differ in length.
    """
    import pandas as pd

    _check(hypotheses, references)
    if len(src_lengths) != len(hypotheses):
        raise ValueError(f"{len(src_lengths)} source lengths for {len(hypotheses)} sentences")
    rows = []
    for low, high in buckets:
        idx = [i for i, n in enumerate(src_lengths) if low <= n <= high]
        label = f"{low}+" if high >= 1000 else f"{low}-{high}"
        bleu: Optional[float] = None
        if idx:
            bleu = corpus_bleu([hypotheses[i] for i in idx], [references[i] for i in idx], lowercase).score
        rows.append({"bucket": label, "low": low, "high": high, "sentences": len(idx),
                     "bleu": float("nan") if bleu is None else bleu})
    return pd.DataFrame(rows)


def evaluate_translations(translations, references: Sequence[str], src_lengths: Optional[Sequence[int]] = None) -> dict:
    """BLEU, chrF and (optionally) BLEU by length for a list of :class:`~course_lib.decoding.Translation`.

    Returns:
        ``{"bleu": Score, "chrf": Score, "by_length": DataFrame | None, "hypotheses": list[str]}``.
    """
    hyps = [t.text for t in translations]
    result = {"bleu": corpus_bleu(hyps, references), "chrf": corpus_chrf(hyps, references), "hypotheses": hyps,
              "by_length": None}
    if src_lengths is not None:
        result["by_length"] = bleu_by_length(hyps, references, src_lengths)
    return result


__all__.append("evaluate_translations")
