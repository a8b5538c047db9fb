"""The packed decoder loop: the training pass of every model (:meth:`Seq2Seq.forward`).

Looping ``decode_step`` over the whole batch is simple and slow: it computes positions after
a sentence's ``<eos>`` (the loss ignores them) and the large output layer one position at a
time. :func:`packed_forward` makes the *same decisions* and gives the *same numbers* (up to
rounding) at every real target position, faster:

1. **coins first**: the teacher-forcing coins are drawn up front, from Python's ``random`` in
   the order a step loop draws them (:func:`draw_teacher_forcing_coins`);
2. **longest target first**: the batch is ordered by target length
   (:func:`sort_by_target_length`), so step ``t`` runs on the first ``active[t]`` rows only;
3. **gold inputs at once**: ``embed`` runs on every gold word in one call before the loop;
4. **output layer after the loop**: a position's logits are computed inside the loop only when
   their argmax is the next input; all others go through ``output`` as one matrix product;
5. **rows back in place** (:func:`scatter_rows`); positions whose target is ``<pad>`` stay 0.

It sees only the encoder dictionary and three functions of the model: ``embed(tokens)``
(``[B, T'] -> [B, T', X]`` and ``[n] -> [n, X]``; a tensor or a tuple of tensors),
``step(inputs, state, enc) -> (new_state, features [n, F], attn_weights [n, S] or None)``
and ``output(features [N, F]) -> logits [N, V]`` -- the pieces of
:mod:`course_lib.models.base`. A model written with them needs nothing else::

    class MyAttentionModel(Seq2Seq):
        has_attention = True
        enc_keys = ("enc_outputs", "src_pad_mask", "proj_keys")

        def encode(self, src, src_lens):
            mask = self.source_pad_mask(src, src_lens)            # the one check of the batch
            enc_outputs, h = self.encoder.run(src, src_lens)      # a GRU RNNEncoder: h [1, B, H]
            return {"enc_outputs": enc_outputs, "src_pad_mask": mask,
                    "proj_keys": self.attention.project_keys(enc_outputs), "h0": h[-1]}

        def init_state(self, enc):
            return {"h": enc["h0"]}                               # batch-first tensors

        def step(self, emb, state, enc):                          # emb: embed(y_{i-1}) = E y [B, E]
            context, weights = self.attention.attend(state["h"], enc["enc_outputs"],
                                                     mask=enc["src_pad_mask"], proj_keys=enc["proj_keys"])
            h = self.rnn(torch.cat([emb, context], -1), state["h"])
            return {"h": h}, torch.cat([h, context], -1), weights

        def output(self, features):
            return self.out(features)

A model that needs its own loop uses the pieces: :func:`plan_packed` gives the
:class:`PackedPlan` (coins, order, active prefix sizes, flat output rows) and
:meth:`PackedPlan.scatter` puts the rows back (as :class:`~course_lib.models.GNMTSeq2Seq` does).
Nothing is checked here: :meth:`Seq2Seq.forward` checked the batch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .base import Seq2SeqOutput, TensorDict

__all__ = ["packed_forward", "plan_packed", "PackedPlan", "draw_teacher_forcing_coins",
           "sort_by_target_length", "scatter_rows"]

Inputs = Union[Tensor, Tuple[Tensor, ...]]
"""Decoder-input features of target words: one tensor, or a tuple of tensors (same rows)."""


def draw_teacher_forcing_coins(num_positions: int, ratio: float) -> List[bool]:
    """One teacher-forcing coin per target position, drawn up front.

    Position 0 always reads ``<sos>`` (True). For ``t >= 1`` the coin is
    ``random.random() < ratio``, drawn in order from Python's ``random`` exactly as
    :meth:`Seq2Seq.forward` draws it (none are drawn when ``ratio >= 1``), so a seeded run
    takes the same decisions in the packed and the step-by-step training pass.

    Args:
        num_positions: ``T - 1``, the number of predicted positions (``>= 0``).
        ratio: probability of feeding the gold previous word.

    Returns:
        ``num_positions`` booleans: True = feed the gold previous word.
    """
    if num_positions <= 0:
        return []
    if ratio >= 1.0:
        return [True] * num_positions
    return [True] + [random.random() < ratio for _ in range(num_positions - 1)]


def sort_by_target_length(tgt: Tensor, pad_id: int) -> tuple[Tensor, List[int]]:
    """Order a batch for a packed decoder loop (longest target first).

    Args:
        tgt: ``[B, T]`` targets, each row ``<sos> ... <eos>`` followed by padding only.
        pad_id: id of ``<pad>``.

    Returns:
        ``order`` ``[B]`` (long, same device: the sentences, longest target first; ties keep
        their order) and ``active``: for every predicted position ``t < T - 1``, how many
        sentences still have a real target there (non-increasing, so step ``t`` runs on the
        first ``active[t]`` sentences of the ordered batch; trailing zeros: nothing to do).
        Reading ``active`` costs one host--device synchronisation per batch.
    """
    T = tgt.size(1) - 1
    out_lens = (tgt[:, 1:] != pad_id).sum(1)  # [B] predicted positions, <eos> included
    out_lens, order = out_lens.sort(descending=True, stable=True)
    active = (out_lens.unsqueeze(0) > torch.arange(T, device=tgt.device).unsqueeze(1)).sum(1)  # [T]
    return order, active.tolist()


def scatter_rows(chunks: Sequence[Tensor], rows: Sequence[Tensor], num_rows: int) -> Tensor:
    """Put the rows ``cat(chunks)`` (``[N, X]``) at positions ``cat(rows)`` of a zero ``[num_rows, X]``.

    Differentiable; used to unpack a packed decoder's outputs into ``[B * T, X]``.

    Args:
        chunks: tensors ``[n_i, X]``. rows: long tensors ``[n_i]`` (the same ``n_i``),
            distinct indices below ``num_rows``. num_rows: rows of the result.
    """
    flat = torch.cat(list(chunks))
    return flat.new_zeros(num_rows, flat.size(-1)).index_copy(0, torch.cat(list(rows)), flat)


@dataclass
class PackedPlan:
    """How a packed decoder loop walks one batch (made by :func:`plan_packed`).

    Attributes:
        enc: the encoder dictionary with its rows in ``order`` (longest target first).
        state: the initial decoder state in ``order`` (``None`` if none was given).
        order: ``[B]`` the caller's row of each ordered sentence.
        active: per position ``t < steps``, how many ordered sentences still have a real
            target (non-increasing; step ``t`` runs on rows ``[:active[t]]``).
        steps: positions with at least one real target (the loop's length).
        gold: per position, True = feed the gold previous word (teacher forcing).
        need_now: per position, True = its logits are needed inside the loop (their argmax
            is the next input); the others can go through the output layer after the loop.
        tgt_in: ``[B, steps]`` the gold decoder inputs (``tgt[:, :-1]``) in ``order``.
        rows: per position ``t``, the flat indices ``[active[t]]`` of its outputs in the
            ``[B * (T - 1)]`` result (sentence ``order[i]``, position ``t``).
        num_positions: ``T - 1``, the predicted positions of the result.
    """

    enc: TensorDict
    state: Optional[TensorDict]
    order: Tensor
    active: List[int]
    steps: int
    gold: List[bool]
    need_now: List[bool]
    tgt_in: Tensor
    rows: List[Tensor]
    num_positions: int

    def scatter(self, chunks: Sequence[Tensor], rows: Sequence[Tensor]) -> Tensor:
        """Rows computed in packed order back to ``[B, T - 1, X]`` in the caller's order
        (zeros where nothing was computed: positions whose target is ``<pad>``)."""
        B = self.order.size(0)
        return scatter_rows(chunks, rows, B * self.num_positions).view(B, self.num_positions, -1)


def plan_packed(enc: TensorDict, tgt: Tensor, pad_id: int, teacher_forcing_ratio: float,
                state: Optional[TensorDict] = None) -> PackedPlan:
    """Plan a packed decoder loop over a batch: coins, order, active prefixes, output rows.

    Args:
        enc: the encoder dictionary (batch-first tensors, ``[B, ...]``).
        tgt: ``[B, T]`` targets, ``<sos> ... <eos>`` then padding, ``T >= 2``.
        pad_id: id of ``<pad>``.
        teacher_forcing_ratio: probability in ``[0, 1]`` of feeding the gold word.
        state: the initial decoder state (batch-first), reordered along with ``enc``.

    Returns:
        A :class:`PackedPlan`. The coins are drawn here (:func:`draw_teacher_forcing_coins`).
    """
    T = tgt.size(1) - 1
    gold = draw_teacher_forcing_coins(T, teacher_forcing_ratio)
    order, active = sort_by_target_length(tgt, pad_id)  # the active sentences are a prefix
    steps = sum(1 for n in active if n > 0)
    first_rows = order * T  # flat index of (sentence, position 0) in the [B * T] result
    return PackedPlan(
        enc={k: v.index_select(0, order) for k, v in enc.items()},
        state=None if state is None else {k: v.index_select(0, order) for k, v in state.items()},
        order=order,
        active=active[:steps],
        steps=steps,
        gold=gold,
        need_now=[t + 1 < steps and not gold[t + 1] for t in range(steps)],  # argmax feeds step t+1
        tgt_in=tgt.index_select(0, order)[:, :steps],
        rows=[first_rows[:active[t]] + t for t in range(steps)],
        num_positions=T,
    )


def _head(tensors: TensorDict, n: int) -> TensorDict:
    return {k: v[:n] for k, v in tensors.items()}


def packed_forward(
    enc: TensorDict,
    state: TensorDict,
    tgt: Tensor,
    *,
    embed: Callable[[Tensor], Inputs],
    step: Callable[[Inputs, TensorDict, TensorDict], Tuple[TensorDict, Tensor, Optional[Tensor]]],
    output: Callable[[Tensor], Tensor],
    pad_id: int,
    teacher_forcing_ratio: float = 1.0,
) -> Seq2SeqOutput:
    """The packed training pass: ``forward`` of a model written as ``embed`` + ``step`` + ``output``.

    Equal, at every position whose target is a real token, to looping
    ``output(step(embed(prev), state, enc))`` over the whole batch with the teacher-forcing
    decisions of :meth:`Seq2Seq.forward` (see the module docstring for what it does instead).

    Args:
        enc: :meth:`Seq2Seq.encode`'s dictionary (batch-first tensors ``[B, ...]``).
        state: the initial decoder state (:meth:`Seq2Seq.init_state`), batch-first.
        tgt: ``[B, T]`` validated targets (``T >= 2``), ``<sos> ... <eos>`` then padding.
        embed: token ids -> decoder-input features (see the module docstring).
        step: ``(inputs, state, enc) -> (new_state, features, attn_weights)`` for one position.
        output: features -> logits.
        pad_id: id of ``<pad>``.
        teacher_forcing_ratio: probability in ``[0, 1]`` of feeding the gold word.

    Returns:
        :class:`Seq2SeqOutput`: ``logits [B, T-1, V]`` and ``attn_weights [B, T-1, S]`` (or
        ``None`` when ``step`` returns no weights); 0 at positions whose target is ``<pad>``.

    Raises:
        ValueError: no position has a real target (``tgt`` holds only ``<sos>`` and padding).
    """
    plan = plan_packed(enc, tgt, pad_id, teacher_forcing_ratio, state)
    if plan.steps == 0:
        raise ValueError("tgt holds no real token after <sos>: nothing to predict")
    gold_inputs = embed(plan.tgt_in)  # [B, steps, X]: every gold word in one call
    if isinstance(gold_inputs, Tensor):
        gold_at = [x for x in gold_inputs.unbind(1)]  # position t: [B, X]
    else:
        gold_at = list(zip(*(x.unbind(1) for x in gold_inputs)))
    state, enc_t, n_enc = plan.state, plan.enc, -1
    logits: List[Tensor] = []  # output(features) of the positions whose argmax feeds the next step
    logit_rows: List[Tensor] = []
    later: List[Tensor] = []  # features of the positions scored after the loop
    later_rows: List[Tensor] = []
    weights: List[Tensor] = []
    prev_logits: Optional[Tensor] = None
    for t in range(plan.steps):
        n = plan.active[t]
        if n != n_enc:
            enc_t, n_enc = _head(plan.enc, n), n
        if plan.gold[t]:
            inputs = gold_at[t][:n] if isinstance(gold_at[t], Tensor) else tuple(x[:n] for x in gold_at[t])
        else:
            inputs = embed(prev_logits[:n].argmax(-1))
        state, features, alpha = step(inputs, _head(state, n), enc_t)
        if alpha is not None:
            weights.append(alpha)
        if plan.need_now[t]:
            prev_logits = output(features)
            logits.append(prev_logits)
            logit_rows.append(plan.rows[t])
        else:
            later.append(features)
            later_rows.append(plan.rows[t])
    if later:
        logits.append(output(torch.cat(later)))  # one product for all of them
        logit_rows.append(torch.cat(later_rows))
    attn = plan.scatter(weights, plan.rows) if weights else None  # [B, T-1, S]
    return Seq2SeqOutput(plan.scatter(logits, logit_rows), attn)  # logits [B, T-1, V]
