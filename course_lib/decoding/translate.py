"""Sentences in, :class:`Translation` out: :func:`translate`, :func:`translate_dataset` (greedy or beam search)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import torch
from torch import Tensor

from ..checks import InputTypeError, check_flag, check_instance, check_int, check_texts, check_tokens, require
from ..data import EOS, PAD, SOS
from ..models.base import Seq2Seq
from .beam import Hypothesis, _beam, _check_beam_args
from .greedy import MODEL, _greedy


@dataclass
class Translation:
    """One translated sentence.

    Attributes:
        src_tokens: source tokens as the model saw them (``<eos>`` included).
        tokens: generated target tokens without ``<eos>``; ``<pad>``/``<sos>`` emitted mid-sequence
            are dropped with their attention rows, ``<unk>`` is kept.
        attn_weights: ``[len(row_labels), len(src_tokens)]``, or ``None`` without attention.
        score, log_prob: ``s(Y, X)`` of the search (``log P(Y|X)`` for greedy) and ``log P(Y|X)`` in
            nats; ``None`` when built by hand. finished: False when ``max_len`` stopped the search.
        alternatives: the runners-up of a beam search with ``n_best > 1``, best first.

    Raises:
        InputTypeError: ``src_tokens`` or ``tokens`` is a str or not a list of str tokens.
    """
    src_tokens: List[str]
    tokens: List[str]
    attn_weights: Optional[Tensor] = None
    score: Optional[float] = None
    log_prob: Optional[float] = None
    finished: bool = True
    alternatives: List["Translation"] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("src_tokens", "tokens"):
            tokens = check_tokens(getattr(self, name), f"Translation.{name}")
            if not isinstance(getattr(self, name), list):
                setattr(self, name, tokens)

    @property
    def text(self) -> str:
        """The generated tokens joined by spaces (detokenise with the tokeniser for BLEU)."""
        return " ".join(self.tokens)

    @property
    def row_labels(self) -> List[str]:
        """One label per attention row: ``tokens`` plus ``<eos>`` when finished."""
        return list(self.tokens) + ([EOS] if self.finished else [])


def check_model_vocabs(model, src_vocab, tgt_vocab) -> None:
    """Check, at a translating door, that ``model`` is a ``Seq2Seq`` and the vocabularies are its own:
    of its sizes, with its ``<pad>``/``<sos>``/``<eos>`` ids.

    Raises:
        InputTypeError: not a ``Seq2Seq``, or a vocabulary without ``itos``/``eos_id``.
        ValueError: a vocabulary of another size than the model's, or special ids that differ.
    """
    check_instance(model, Seq2Seq, "model", MODEL)
    vocabs = {"src_vocab": src_vocab, "tgt_vocab": tgt_vocab}
    bad = next((n for n, v in vocabs.items() if not (hasattr(v, "itos") and hasattr(v, "eos_id"))), None)
    require(bad is None, f"{bad} must be a course_lib.data.Vocab, got {type(vocabs.get(bad)).__name__}", InputTypeError)
    wrong = [f"{n} has {len(v.itos)} tokens but the model was built for {getattr(model, n + '_size')}"
             for n, v in vocabs.items() if len(v.itos) != getattr(model, n + "_size")]
    wrong += [f"{k}={getattr(model, k)} but {token} is id {getattr(tgt_vocab, k)}" for k, token in
              (("pad_id", PAD), ("sos_id", SOS), ("eos_id", EOS)) if getattr(model, k) != getattr(tgt_vocab, k, None)]
    require(not wrong, f"model/vocabulary mismatch: {'; '.join(wrong)}; pass the vocabularies the model was trained with")




def _encode_sources(token_lists: Sequence[List[str]], vocab, device) -> tuple[Tensor, Tensor]:
    """Token lists -> ``src [B, S]`` (``<eos>`` appended, padded) and ``src_lens [B]`` on ``device``."""
    ids = [torch.tensor([vocab[t] for t in toks] + [vocab.eos_id], dtype=torch.long) for toks in token_lists]
    src = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=vocab.pad_id)
    return src.to(device), torch.tensor([len(x) for x in ids], dtype=torch.long).to(device)


def _translation(src_tokens: List[str], hyp: Hypothesis, tgt_vocab) -> Translation:
    """Tokens and attention rows one to one: ``<pad>``/``<sos>`` steps are dropped with their rows."""
    keep = [j for j, i in enumerate(hyp.tokens) if i not in (tgt_vocab.pad_id, tgt_vocab.sos_id)]
    rows = None if hyp.attn_weights is None else hyp.attn_weights[keep + [len(hyp.tokens)] * hyp.finished]
    return Translation(list(src_tokens), [tgt_vocab.itos[hyp.tokens[j]] for j in keep],
                       None if rows is None else rows.float().cpu(), hyp.score, hyp.log_prob, hyp.finished)


def _search(model, token_lists, src_vocab, tgt_vocab, max_len, beam_size, alpha, beta, n_best) -> List[Translation]:
    """Greedy search at ``beam_size=1, alpha=beta=0, n_best=1``, else beam search (arguments checked)."""
    src, src_lens = _encode_sources(token_lists, src_vocab, model.device)
    if beam_size == 1 and alpha == 0 and beta == 0 and n_best == 1:
        out = _greedy(model, src, src_lens, max_len, 0)
        rows = zip(out.hypotheses(tgt_vocab.eos_id), out.log_probs.tolist(), out.lengths.tolist(), src_lens.tolist(),
                   out.finished.tolist())
        hyps = [[Hypothesis(ids, lp, lp, None if out.attn_weights is None else out.attn_weights[i, :n, :s], fin)]
                for i, (ids, lp, n, s, fin) in enumerate(rows)]
    else:
        hyps = _beam(model, src, src_lens, beam_size, max_len, alpha, beta, n_best, False).hypotheses
    result = []
    for toks, hs in zip(token_lists, hyps):
        trs = [_translation(list(toks) + [EOS], h, tgt_vocab) for h in hs]
        trs[0].alternatives = trs[1:]
        result.append(trs[0])
    return result


@torch.no_grad()
def translate(model: Seq2Seq, sentences: Sequence[str] | str, src_tokenizer, src_vocab, tgt_vocab,
              max_len: Optional[int] = None, beam_size: int = 1, alpha: float = 0.0, beta: float = 0.0,
              n_best: int = 1) -> List[Translation]:
    """Translate raw sentences: :func:`greedy_decode` with the defaults, :func:`beam_search` otherwise.

    One :class:`Translation` per sentence, in order. ``sentences``: a list of str, or one str
    (one sentence, never its characters); ``src_tokenizer`` (``str -> list[str]``) and the vocabularies:
    the model's own; the search arguments as in :func:`beam_search` (runners-up in ``alternatives``).

    Raises:
        InputTypeError: ``sentences`` not strings; ``src_tokenizer`` not callable or not returning a
            list of str tokens; not a ``Seq2Seq`` or ``Vocab``.
        ValueError: no sentences or a sentence without tokens; vocabularies of other sizes than the
            model's; a bad search argument (see :func:`beam_search`).
    """
    sentences = check_texts([sentences] if isinstance(sentences, str) else sentences, "sentences")
    check_int(len(sentences), "the number of sentences", low=1)
    check_instance(src_tokenizer, Callable, "src_tokenizer", "the model's str -> list[str] tokeniser")
    check_model_vocabs(model, src_vocab, tgt_vocab)
    max_len = check_int(max_len, "max_len", low=1, allow_none=True)
    beam_size, alpha, beta, n_best = _check_beam_args(model, beam_size, alpha, beta, n_best)
    token_lists = [check_tokens(src_tokenizer(s), f"src_tokenizer's output for {s!r:.40}", allow_empty=False)
                   for s in sentences]
    return _search(model, token_lists, src_vocab, tgt_vocab, max_len, beam_size, alpha, beta, n_best)


@torch.no_grad()
def translate_dataset(model: Seq2Seq, dataset, batch_size: int = 128, max_len: Optional[int] = None,
                      progress: bool = False, beam_size: int = 1, alpha: float = 0.0,
                      beta: float = 0.0) -> List[Translation]:
    """Translate every source sentence of a :class:`course_lib.data.TranslationDataset`, in its order.

    As :func:`translate` (best hypothesis only), in batches of ``batch_size >= 1`` sentences of
    similar length (beam search runs ``batch_size * beam_size`` rows); ``progress`` shows a bar.

    Raises:
        InputTypeError: ``dataset`` not a ``TranslationDataset``; not a ``Seq2Seq``; ``progress`` not a bool.
        ValueError: ``batch_size < 1``; an empty dataset or source sentence; vocabularies that do not
            match the model; a bad search argument (see :func:`beam_search`).
    """
    from tqdm.auto import tqdm

    batch_size = check_int(batch_size, "batch_size", low=1)
    progress = check_flag(progress, "progress")
    require(all(hasattr(dataset, a) for a in ("src_tokens", "src_vocab", "tgt_vocab")),
            f"dataset must be a course_lib.data.TranslationDataset, got {type(dataset).__name__}", InputTypeError)
    empty = [i for i, toks in enumerate(dataset.src_tokens) if not toks]
    require(dataset.src_tokens and not empty, f"dataset sentence {empty[0]} is empty" if empty else "the dataset is empty")
    check_model_vocabs(model, dataset.src_vocab, dataset.tgt_vocab)
    max_len = check_int(max_len, "max_len", low=1, allow_none=True)
    beam_size, alpha, beta, _ = _check_beam_args(model, beam_size, alpha, beta, 1)
    order = sorted(range(len(dataset.src_tokens)), key=lambda i: len(dataset.src_tokens[i]))
    results: dict = {}
    for start in tqdm(range(0, len(order), batch_size), disable=not progress, desc="translating"):
        idx = order[start:start + batch_size]
        results.update(zip(idx, _search(model, [dataset.src_tokens[i] for i in idx], dataset.src_vocab,
                                        dataset.tgt_vocab, max_len, beam_size, alpha, beta, 1)))
    return [results[i] for i in range(len(order))]
