"""Greedy search, batched: the one greedy loop of the course, and the door every search goes through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import torch
from torch import Tensor

from ..checks import check_instance, check_int, check_tensor, require
from ..models.base import Seq2Seq
from ..utils import eval_mode

MODEL = "a course_lib.models.Seq2Seq (e.g. BahdanauSeq2Seq)"


def _check_search(model, max_len) -> Optional[int]:
    """The door of every search: the model and ``max_len``. The batch is checked once, by ``model.encode``."""
    check_instance(model, Seq2Seq, "model", MODEL)
    return check_int(max_len, "max_len", low=1, allow_none=True)


def _default_max_len(src_lens: Tensor) -> int:
    return int(src_lens.max()) * 2 + 10


def default_max_len(src_lens: Tensor) -> int:
    """Longest output a search allows by default: ``2 * max(src_lens) + 10`` tokens (``<eos>`` included).

    Raises ValueError unless ``src_lens`` is a non-empty 1-D integer tensor of lengths >= 1.
    """
    check_tensor(src_lens, "src_lens", ndim=1, kind="int")
    require(src_lens.numel() and int(src_lens.min()) >= 1, f"src_lens must hold lengths >= 1, got {src_lens.tolist()}")
    return _default_max_len(src_lens)


@dataclass
class GreedyOutput:
    """Result of :func:`greedy_decode` for a batch.

    Attributes:
        tokens: ``[B, T_out]`` generated ids (no ``<sos>``), ``<eos>`` then ``<pad>`` after the end.
        lengths: ``[B]`` generated tokens, ``<eos>`` included. finished: ``[B]``, True after ``<eos>``.
        attn_weights: ``[B, T_out, S]`` (zero after a row finished), ``None`` without attention.
        log_probs: ``[B]`` ``log P(Y | X)`` in nats, ``<eos>`` included.
        topk_ids, topk_probs: ``[B, T_out, k]`` the ``k`` most probable next words of every step and
            their probabilities (with ``record_topk=k``; else ``None``).
    """
    tokens: Tensor
    lengths: Tensor
    attn_weights: Optional[Tensor]
    finished: Tensor
    log_probs: Optional[Tensor] = None
    topk_ids: Optional[Tensor] = None
    topk_probs: Optional[Tensor] = None

    def hypotheses(self, eos_id: int) -> List[List[int]]:
        """Generated ids per sentence, ``<eos>`` and padding removed (ValueError unless ``eos_id`` is an int >= 0)."""
        eos_id = check_int(eos_id, "eos_id", low=0)
        rows = [row[:n] for row, n in zip(self.tokens.tolist(), self.lengths.tolist())]
        return [row[:-1] if row and row[-1] == eos_id else row for row in rows]


@torch.no_grad()
def greedy_decode(model: Seq2Seq, src: Tensor, src_lens: Tensor, max_len: Optional[int] = None,
                  record_topk: int = 0) -> GreedyOutput:
    """Batched greedy search: at each step take ``argmax_y log p(y | y_<t, x)`` (beam search with a beam of one).

    Each sentence stops at its own ``<eos>`` (then it is fed ``<pad>`` and its outputs are discarded,
    so batching does not change the result); the loop ends when all have, or after ``max_len`` steps.

    Args:
        model: any :class:`~course_lib.models.Seq2Seq` (in eval mode for the call).
        src: ``[B, S]`` integer source ids, padded; src_lens: ``[B]`` true lengths (``<eos>`` included).
        max_len: most tokens per sentence, ``<eos>`` included (default :func:`default_max_len`).
        record_topk: keep the ``k`` most probable next words of every step (capped at ``V``; 0: none).

    Raises:
        InputTypeError: not a ``Seq2Seq``; ``src``/``src_lens`` not integer tensors.
        ValueError: a wrong shape, a length outside ``1..S``, ``src`` not on the model's device,
            ``max_len < 1``, ``record_topk < 0``.
    """
    max_len = _check_search(model, max_len)
    return _greedy(model, src, src_lens, max_len, check_int(record_topk, "record_topk", low=0))


def _greedy(model: Seq2Seq, src: Tensor, src_lens: Tensor, max_len: Optional[int], record_topk: int,
            forced: Optional[Tensor] = None) -> GreedyOutput:
    """The greedy loop (arguments checked; ``encode`` checks the batch); ``forced [B, P]`` fixes the
    tokens of steps ``0..P-1``; ``max_len`` None: :func:`default_max_len`."""
    with eval_mode(model):
        enc = model.encode(src, src_lens)  # the one check of the batch, before anything reads src
        batch_size, device, n_forced = src.size(0), src.device, 0 if forced is None else forced.size(1)
        max_len = _default_max_len(src_lens) if max_len is None else max_len
        state = model.init_state(enc)
        prev = torch.full((batch_size,), model.sos_id, dtype=torch.long, device=device)
        finished, lengths, log_probs = (torch.zeros(batch_size, dtype=d, device=device)
                                        for d in (torch.bool, torch.long, torch.float))
        tokens, weights, top_ids, top_probs = [], [], [], []  # one [B, ...] entry per step
        for t in range(max_len):
            out = model.decode_step(prev, state, enc)
            state, logits = out.state, out.logits.float()  # [B, V]
            lse = torch.logsumexp(logits, dim=-1)  # log p(y) = logit(y) - lse
            best_logit, next_tokens = logits.max(-1)  # [B]
            if t < n_forced:  # forced decoding: the given token, scored by the model
                next_tokens = forced[:, t]
                best_logit = logits.gather(1, next_tokens.unsqueeze(1)).squeeze(1)
            best_logp = best_logit - lse
            if record_topk:
                top = logits.topk(min(record_topk, logits.size(-1)), dim=-1)
                top_ids.append(top.indices)
                top_probs.append((top.values - lse.unsqueeze(-1)).exp())
            next_tokens = next_tokens.masked_fill(finished, model.pad_id)
            log_probs += best_logp.masked_fill(finished, 0.0)
            tokens.append(next_tokens)
            if out.attn_weights is not None:
                weights.append(out.attn_weights.masked_fill(finished.unsqueeze(1), 0.0))
            lengths += (~finished).long()
            finished = finished | (next_tokens == model.eos_id)
            prev = next_tokens
            if bool(finished.all()):
                break
    stack = lambda steps: torch.stack(steps, dim=1) if steps else None  # noqa: E731 (steps -> [B, T_out, ...])
    return GreedyOutput(stack(tokens), lengths, stack(weights), finished, log_probs, stack(top_ids), stack(top_probs))
