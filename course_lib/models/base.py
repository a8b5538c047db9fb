"""The ``Seq2Seq`` interface every model of the course implements.

A model is used in three ways, all through the same two methods:

- training (:meth:`Seq2Seq.forward`, teacher forcing),
- search (:mod:`course_lib.decoding`: greedy and beam search),
- the widgets that step the decoder one word at a time.

So each model provides :meth:`Seq2Seq.encode` (once per source batch) and
:meth:`Seq2Seq.decode_step` (one target position). Both exchange plain dictionaries of
**batch-first** tensors (``dim 0`` is always the batch), so that search can reorder or
repeat hypotheses with :func:`select_batch` without knowing the model.

Encoder dictionary keys used everywhere: ``enc_outputs`` ``[B, S, H_enc]`` and
``src_pad_mask`` ``[B, S]`` (True at padding). Models add their own keys (for example the
precomputed attention keys).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Dict, Optional

import torch
from torch import Tensor, nn

from ..utils import lengths_to_pad_mask

__all__ = ["Seq2Seq", "StepOutput", "Seq2SeqOutput", "select_batch", "lengths_to_pad_mask"]

TensorDict = Dict[str, Tensor]


def select_batch(tensors: TensorDict, index: Tensor) -> TensorDict:
    """Pick rows ``index`` (``[B']``, long) of every batch-first tensor in ``tensors``.

    Used by beam search to reorder and repeat hypotheses. Returns a new dictionary; the
    input is not changed.
    """
    return {key: value.index_select(0, index) for key, value in tensors.items()}


@dataclass
class StepOutput:
    """What one decoder step returns.

    Attributes:
        logits: ``[B, V]`` unnormalised scores of the next target word.
        state: the new decoder state (dictionary of batch-first tensors).
        attn_weights: ``[B, S]`` attention weights of this step, or ``None`` for models
            without attention.
    """

    logits: Tensor
    state: TensorDict
    attn_weights: Optional[Tensor] = None


@dataclass
class Seq2SeqOutput:
    """What :meth:`Seq2Seq.forward` returns.

    Attributes:
        logits: ``[B, T-1, V]``: predictions of ``tgt[:, 1:]`` from ``tgt[:, :-1]``.
        attn_weights: ``[B, T-1, S]`` or ``None`` for models without attention.

    A model's fast training pass may skip the positions whose target ``tgt[:, 1:]`` is
    ``<pad>`` (the loss ignores them) and leave zeros there, as
    :class:`~course_lib.models.BahdanauSeq2Seq` and :class:`~course_lib.models.LuongSeq2Seq`
    do; compare outputs only at real target positions.
    """

    logits: Tensor
    attn_weights: Optional[Tensor] = None


class Seq2Seq(nn.Module):
    """Base class of every encoder--decoder in the course.

    Subclasses implement :meth:`encode`, :meth:`init_state` and :meth:`decode_step`; they may
    override :meth:`forward_teacher_forced` with a faster path that runs every target
    position at once (possible when the decoder input never depends on its own output).

    Args:
        src_vocab_size, tgt_vocab_size: vocabulary sizes ``V_src`` and ``V``.
        pad_id, sos_id, eos_id: ids of ``<pad>``, ``<sos>``, ``<eos>`` in the target vocabulary
            (the course's :class:`course_lib.data.Vocab` uses 0, 2, 3).
    """

    has_attention: bool = False

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, pad_id: int = 0, sos_id: int = 2, eos_id: int = 3):
        super().__init__()
        self.src_vocab_size = src_vocab_size
        self.tgt_vocab_size = tgt_vocab_size
        self.pad_id = pad_id
        self.sos_id = sos_id
        self.eos_id = eos_id

    # --- the interface -------------------------------------------------------------------
    def encode(self, src: Tensor, src_lens: Tensor) -> TensorDict:
        """Encode a padded source batch.

        Args:
            src: ``[B, S]`` token ids, padded with ``pad_id``.
            src_lens: ``[B]`` true lengths (long; on any device).

        Returns:
            A dictionary of batch-first tensors with at least ``enc_outputs`` ``[B, S, H_enc]``
            and ``src_pad_mask`` ``[B, S]`` (True at padding).
        """
        raise NotImplementedError

    def init_state(self, enc: TensorDict) -> TensorDict:
        """The decoder state before the first step (batch-first tensors)."""
        raise NotImplementedError

    def decode_step(self, prev_tokens: Tensor, state: TensorDict, enc: TensorDict) -> StepOutput:
        """Run the decoder for one target position.

        Args:
            prev_tokens: ``[B]`` ids of the previous target word (``<sos>`` at the first step).
            state: the decoder state from :meth:`init_state` or the previous step.
            enc: the dictionary returned by :meth:`encode`.

        Returns:
            :class:`StepOutput` with logits ``[B, V]``, the new state and the attention weights.
        """
        raise NotImplementedError

    def forward_teacher_forced(self, enc: TensorDict, tgt_in: Tensor) -> Optional[Seq2SeqOutput]:
        """Optional fast path: all positions at once with the gold previous words.

        Args:
            enc: output of :meth:`encode`.
            tgt_in: ``[B, T-1]`` decoder inputs (``tgt[:, :-1]``).

        Returns:
            :class:`Seq2SeqOutput`, or ``None`` when the model has no such path (the default),
            in which case :meth:`forward` loops over :meth:`decode_step`.
        """
        return None

    # --- shared machinery ----------------------------------------------------------------
    @staticmethod
    def check_forward_args(src: Tensor, src_lens: Tensor, tgt: Tensor, teacher_forcing_ratio: float) -> None:
        """Validate the arguments of a training forward pass (shared by every model's ``forward``).

        Raises:
            ValueError: ``teacher_forcing_ratio`` outside ``[0, 1]``, or batch sizes that differ.
        """
        if not 0.0 <= teacher_forcing_ratio <= 1.0:
            raise ValueError(f"teacher_forcing_ratio must be in [0, 1], got {teacher_forcing_ratio}")
        if src.size(0) != tgt.size(0) or src.size(0) != src_lens.size(0):
            raise ValueError(
                f"batch sizes differ: src {tuple(src.shape)}, src_lens {tuple(src_lens.shape)}, tgt {tuple(tgt.shape)}"
            )

    def forward(self, src: Tensor, src_lens: Tensor, tgt: Tensor, teacher_forcing_ratio: float = 1.0) -> Seq2SeqOutput:
        """Training forward pass with teacher forcing.

        At each target position the decoder input is the gold previous word with
        probability ``teacher_forcing_ratio`` (one coin per position for the whole batch,
        as in Williams & Zipser 1989 / Bengio et al. 2015), else the model's own greedy
        prediction at the previous step.

        Args:
            src: ``[B, S]`` source ids; src_lens: ``[B]``.
            tgt: ``[B, T]`` target ids, each row ``<sos> ... <eos> <pad>...``.
            teacher_forcing_ratio: probability in ``[0, 1]`` of feeding the gold word.

        Returns:
            :class:`Seq2SeqOutput` with logits ``[B, T-1, V]`` predicting ``tgt[:, 1:]``.

        Raises:
            ValueError: ``teacher_forcing_ratio`` outside ``[0, 1]`` or batch sizes that differ.
        """
        self.check_forward_args(src, src_lens, tgt, teacher_forcing_ratio)
        enc = self.encode(src, src_lens)
        tgt_in = tgt[:, :-1]
        if teacher_forcing_ratio >= 1.0:
            fast = self.forward_teacher_forced(enc, tgt_in)
            if fast is not None:
                return fast
        state = self.init_state(enc)
        logits, weights = [], []
        prev = tgt_in[:, 0]
        for t in range(tgt_in.size(1)):
            if t > 0:
                use_gold = teacher_forcing_ratio >= 1.0 or random.random() < teacher_forcing_ratio
                prev = tgt_in[:, t] if use_gold else logits[-1].argmax(-1)
            out = self.decode_step(prev, state, enc)
            state = out.state
            logits.append(out.logits)
            if out.attn_weights is not None:
                weights.append(out.attn_weights)
        attn = torch.stack(weights, dim=1) if weights else None  # [B, T-1, S]
        return Seq2SeqOutput(torch.stack(logits, dim=1), attn)  # logits [B, T-1, V]
