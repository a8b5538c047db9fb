"""Search: batched greedy decoding and a step-by-step trace for the widgets.

Both use only :meth:`Seq2Seq.encode` and :meth:`Seq2Seq.decode_step`, so they work for
every model of the course, and both return the attention weights of every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch
from torch import Tensor

from .models.base import Seq2Seq

__all__ = ["GreedyOutput", "greedy_decode", "Translation", "translate", "translate_dataset",
           "StepTrace", "decode_trace", "default_max_len"]


def default_max_len(src_lens: Tensor) -> int:
    """Longest output greedy search allows by default: ``2 * max(src_lens) + 10`` tokens."""
    return int(src_lens.max()) * 2 + 10


@dataclass
class GreedyOutput:
    """Result of :func:`greedy_decode` for a batch.

    Attributes:
        tokens: ``[B, T_out]`` generated ids without ``<sos>``; each row ends with ``<eos>``
            (unless ``max_len`` was reached) followed by ``<pad>``.
        lengths: ``[B]`` number of generated tokens per row, ``<eos>`` included.
        attn_weights: ``[B, T_out, S]`` attention of every step (zero after a row finished),
            or ``None`` for models without attention.
        finished: ``[B]`` bool, True where ``<eos>`` was produced.
    """

    tokens: Tensor
    lengths: Tensor
    attn_weights: Optional[Tensor]
    finished: Tensor

    def hypotheses(self, eos_id: int) -> List[List[int]]:
        """Generated ids per sentence, ``<eos>`` and padding removed."""
        out = []
        for row, n in zip(self.tokens.tolist(), self.lengths.tolist()):
            row = row[:n]
            if row and row[-1] == eos_id:
                row = row[:-1]
            out.append(row)
        return out


@torch.no_grad()
def greedy_decode(model: Seq2Seq, src: Tensor, src_lens: Tensor, max_len: Optional[int] = None) -> GreedyOutput:
    """Batched greedy search: at each step take ``argmax_y p(y | y_<t, x)``.

    Every sentence stops at its own ``<eos>``; the loop ends when all have stopped or after
    ``max_len`` steps. Finished rows are fed ``<pad>`` and their outputs are discarded, so a
    sentence's result does not depend on the other sentences in the batch.

    Args:
        model: any :class:`~course_lib.models.Seq2Seq` (put in eval mode by this function
            and restored afterwards).
        src: ``[B, S]`` source ids; src_lens: ``[B]``.
        max_len: most tokens to generate per sentence (default :func:`default_max_len`).

    Returns:
        :class:`GreedyOutput`.

    Raises:
        ValueError: ``max_len`` below 1.
    """
    max_len = default_max_len(src_lens) if max_len is None else max_len
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    was_training = model.training
    model.eval()
    batch_size = src.size(0)
    device = src.device
    enc = model.encode(src, src_lens)
    state = model.init_state(enc)
    prev = torch.full((batch_size,), model.sos_id, dtype=torch.long, device=device)
    finished = torch.zeros(batch_size, dtype=torch.bool, device=device)
    lengths = torch.zeros(batch_size, dtype=torch.long, device=device)
    tokens, weights = [], []
    for _ in range(max_len):
        out = model.decode_step(prev, state, enc)
        state = out.state
        next_tokens = out.logits.argmax(-1)  # [B]
        next_tokens = next_tokens.masked_fill(finished, model.pad_id)
        tokens.append(next_tokens)
        if out.attn_weights is not None:
            weights.append(out.attn_weights.masked_fill(finished.unsqueeze(1), 0.0))
        lengths += (~finished).long()
        finished = finished | (next_tokens == model.eos_id)
        prev = next_tokens
        if bool(finished.all()):
            break
    model.train(was_training)
    attn = torch.stack(weights, dim=1) if weights else None  # [B, T_out, S]
    return GreedyOutput(torch.stack(tokens, dim=1), lengths, attn, finished)


@dataclass
class Translation:
    """One translated sentence.

    Attributes:
        src_tokens: source tokens as the model saw them (``<eos>`` included).
        tokens: generated target tokens (``<eos>`` and specials removed).
        attn_weights: ``[len(tokens) + 1, len(src_tokens)]`` (the last row is the step that
            produced ``<eos>``), or ``None`` for models without attention.
    """

    src_tokens: List[str]
    tokens: List[str]
    attn_weights: Optional[Tensor] = None

    @property
    def text(self) -> str:
        """The generated tokens joined by spaces (what BLEU is computed on)."""
        return " ".join(self.tokens)


def _encode_sources(token_lists: Sequence[List[str]], vocab, device) -> tuple[Tensor, Tensor]:
    ids = [[vocab[t] for t in toks] + [vocab.eos_id] for toks in token_lists]
    lens = torch.tensor([len(x) for x in ids], dtype=torch.long)
    src = torch.full((len(ids), int(lens.max())), vocab.pad_id, dtype=torch.long)
    for i, row in enumerate(ids):
        src[i, : len(row)] = torch.tensor(row)
    return src.to(device), lens.to(device)


def _to_translations(out: GreedyOutput, src_tokens: Sequence[List[str]], src_lens: Tensor, tgt_vocab) -> List[Translation]:
    result = []
    for i, hyp in enumerate(out.hypotheses(tgt_vocab.eos_id)):
        attn = None
        if out.attn_weights is not None:
            attn = out.attn_weights[i, : int(out.lengths[i]), : int(src_lens[i])].float().cpu()
        result.append(Translation(list(src_tokens[i]), tgt_vocab.decode(hyp), attn))
    return result


@torch.no_grad()
def translate(model: Seq2Seq, sentences: Sequence[str], src_tokenizer, src_vocab, tgt_vocab,
              max_len: Optional[int] = None) -> List[Translation]:
    """Translate raw sentences with greedy search.

    Args:
        sentences: source sentences as strings.
        src_tokenizer: ``str -> list[str]`` (the one the model was trained with).
        src_vocab, tgt_vocab: the model's vocabularies (:class:`course_lib.data.Vocab`).

    Returns:
        One :class:`Translation` per sentence, in order.

    Raises:
        ValueError: ``sentences`` is empty, or a sentence has no tokens.
    """
    if not sentences:
        raise ValueError("translate() needs at least one sentence")
    token_lists = [src_tokenizer(s) for s in sentences]
    for s, toks in zip(sentences, token_lists):
        if not toks:
            raise ValueError(f"sentence {s!r} has no tokens to translate")
    device = next(model.parameters()).device
    src, src_lens = _encode_sources(token_lists, src_vocab, device)
    out = greedy_decode(model, src, src_lens, max_len)
    src_tokens = [toks + ["<eos>"] for toks in token_lists]
    return _to_translations(out, src_tokens, src_lens, tgt_vocab)


@torch.no_grad()
def translate_dataset(model: Seq2Seq, dataset, batch_size: int = 128, max_len: Optional[int] = None,
                      progress: bool = False) -> List[Translation]:
    """Greedy-translate every source sentence of a :class:`course_lib.data.TranslationDataset`.

    Sentences are batched by length (little padding) and returned in the dataset's order.

    Returns:
        A list of :class:`Translation`, ``len(dataset)`` long.
    """
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    order = sorted(range(len(dataset.src_tokens)), key=lambda i: len(dataset.src_tokens[i]))
    results: List[Optional[Translation]] = [None] * len(order)
    src_vocab, tgt_vocab = dataset.src_vocab, dataset.tgt_vocab
    for start in tqdm(range(0, len(order), batch_size), disable=not progress, desc="translating"):
        idx = order[start:start + batch_size]
        token_lists = [dataset.src_tokens[i] for i in idx]
        src, src_lens = _encode_sources(token_lists, src_vocab, device)
        out = greedy_decode(model, src, src_lens, max_len)
        src_tokens = [toks + ["<eos>"] for toks in token_lists]
        for i, tr in zip(idx, _to_translations(out, src_tokens, src_lens, tgt_vocab)):
            results[i] = tr
    return results  # type: ignore[return-value]


@dataclass
class StepTrace:
    """One decoder step, for the stepper widgets.

    Attributes:
        step: 0-based position. prefix: target tokens generated before this step.
        token: the word chosen at this step (greedy). topk_tokens / topk_probs: the ``k`` most
            probable next words and their probabilities. attn_weights: ``[S]`` or ``None``.
    """

    step: int
    prefix: List[str]
    token: str
    topk_tokens: List[str]
    topk_probs: List[float]
    attn_weights: Optional[List[float]]


@torch.no_grad()
def decode_trace(model: Seq2Seq, src_tokens: List[str], src_vocab, tgt_vocab, k: int = 5,
                 max_len: Optional[int] = None) -> List[StepTrace]:
    """Greedy-decode one tokenised sentence and record every step (for the decoder stepper).

    Args:
        src_tokens: source tokens (without ``<eos>``; it is appended).
        k: how many next-word candidates to keep per step.

    Returns:
        A list of :class:`StepTrace`, one per generated token, the last producing ``<eos>``
        (unless ``max_len`` was reached).

    Raises:
        ValueError: ``src_tokens`` is empty or ``k`` < 1.
    """
    if not src_tokens:
        raise ValueError("decode_trace() needs at least one source token")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    src, src_lens = _encode_sources([src_tokens], src_vocab, device)
    max_len = default_max_len(src_lens) if max_len is None else max_len
    enc = model.encode(src, src_lens)
    state = model.init_state(enc)
    prev = torch.tensor([model.sos_id], device=device)
    steps: List[StepTrace] = []
    prefix: List[str] = []
    for t in range(max_len):
        out = model.decode_step(prev, state, enc)
        state = out.state
        probs = out.logits.float().softmax(-1)[0]
        top = probs.topk(min(k, probs.numel()))
        token_id = int(top.indices[0])
        attn = out.attn_weights[0].float().cpu().tolist() if out.attn_weights is not None else None
        steps.append(StepTrace(t, list(prefix), tgt_vocab.itos[token_id],
                               [tgt_vocab.itos[i] for i in top.indices.tolist()], top.values.tolist(), attn))
        if token_id == model.eos_id:
            break
        prefix.append(tgt_vocab.itos[token_id])
        prev = top.indices[:1]
    model.train(was_training)
    return steps
