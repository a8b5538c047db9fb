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

import math
import numbers
import random
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

import torch
from torch import Tensor, nn

from ..attention import require_fraction, require_positive_int
from ..utils import dataclass_from_dict, lengths_to_pad_mask

__all__ = ["Seq2Seq", "StepOutput", "Seq2SeqOutput", "select_batch", "lengths_to_pad_mask",
           "check_config_sizes", "ModelConfig"]

TensorDict = Dict[str, Tensor]


def check_config_sizes(config, sizes=(), fractions=()) -> None:
    """Validate the fields of a model configuration dataclass (used by every model's config).

    Args:
        config: the dataclass instance.
        sizes: names of fields that must be positive integers (``emb_dim``, ``num_layers``...).
        fractions: names of fields that must be numbers in ``[0, 1)`` (dropout rates).

    Raises:
        ValueError: naming the field, e.g. ``BahdanauConfig.emb_dim must be a positive
            integer, got 0``.
    """
    for name in sizes:
        require_positive_int(getattr(config, name), f"{type(config).__name__}.{name}")
    for name in fractions:
        require_fraction(getattr(config, name), f"{type(config).__name__}.{name}")


class ModelConfig:
    """Base of the models' configuration dataclasses: validated when made, buildable from a dict.

    A subclass is a ``@dataclass`` that overrides :meth:`validate` (usually one call of
    :func:`check_config_sizes` plus its own choices); the dataclass' ``__init__`` calls it.
    """

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field; raises ValueError naming the field. (Models call it again.)"""

    @classmethod
    def from_dict(cls, values: Dict[str, Any]):
        """Build a config from a dictionary.

        Raises:
            ValueError: a key is not a field (the message lists the valid ones), or a bad value.
        """
        return dataclass_from_dict(cls, values)


def _check_ids(name: str, ids, rank: int, shape: str) -> None:
    """``ids`` must be a non-empty integer tensor of rank ``rank`` (no value is read)."""
    if not isinstance(ids, Tensor):
        raise ValueError(f"{name} must be a tensor {shape} of token ids, got {type(ids).__name__}")
    if ids.dtype.is_floating_point or ids.is_complex() or ids.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
    if ids.dim() != rank:
        raise ValueError(f"{name} must be {shape}, got shape {tuple(ids.shape)}")
    if ids.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(ids.shape)}): a batch needs at least one sentence and token")


def _check_range(name: str, lo: int, hi: int, vocab_size: int, which: str) -> None:
    if lo < 0 or hi >= vocab_size:
        raise ValueError(f"{name} holds ids in [{lo}, {hi}] but the {which} vocabulary has {vocab_size} entries; "
                         f"ids must be in [0, {vocab_size}) (was the batch built with this model's vocabularies?)")


def select_batch(tensors: TensorDict, index: Tensor) -> TensorDict:
    """Pick rows ``index`` (``[B']``, long) of every batch-first tensor in ``tensors``.

    Used by beam search to reorder and repeat hypotheses. Returns a new dictionary; the
    input is not changed. Only metadata is checked (no host synchronisation), so an index
    out of range surfaces as torch's own ``IndexError``/``RuntimeError``.

    Raises:
        TypeError: ``tensors`` is not a dictionary of tensors, or ``index`` is not an
            integer tensor.
        ValueError: ``index`` is not 1-D, or a value of ``tensors`` is a 0-d tensor (it has no
            batch dimension).
    """
    if not isinstance(tensors, Mapping):
        raise TypeError(f"tensors must be a dictionary of batch-first tensors, got {type(tensors).__name__}")
    if not isinstance(index, Tensor) or index.dtype not in (torch.long, torch.int32, torch.int16, torch.int8,
                                                           torch.uint8):
        kind = f"a {index.dtype} tensor" if isinstance(index, Tensor) else type(index).__name__
        raise TypeError(f"index must be an integer (long) tensor of row numbers, got {kind}")
    if index.dim() != 1:
        raise ValueError(f"index must be 1-D ([B'] row numbers), got shape {tuple(index.shape)}")
    for key, value in tensors.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"tensors[{key!r}] is a {type(value).__name__}, not a tensor")
        if value.dim() == 0:
            raise ValueError(f"tensors[{key!r}] is a 0-d tensor: it has no batch dimension to select from")
    index = index.long()
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

    Raises:
        ValueError: a vocabulary size that is not a positive integer; a special id that is
            not an integer in both vocabularies.
    """

    has_attention: bool = False

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, pad_id: int = 0, sos_id: int = 2, eos_id: int = 3):
        super().__init__()
        self.src_vocab_size = require_positive_int(src_vocab_size, "src_vocab_size")
        self.tgt_vocab_size = require_positive_int(tgt_vocab_size, "tgt_vocab_size")
        for name, value in (("pad_id", pad_id), ("sos_id", sos_id), ("eos_id", eos_id)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
                    or not 0 <= value < min(self.src_vocab_size, self.tgt_vocab_size):
                raise ValueError(f"{name} must be an integer id in both vocabularies, in "
                                 f"[0, {min(self.src_vocab_size, self.tgt_vocab_size)}), got {value!r}")
        self.pad_id = int(pad_id)
        self.sos_id = int(sos_id)
        self.eos_id = int(eos_id)

    # --- the interface -------------------------------------------------------------------
    def encode(self, src: Tensor, src_lens: Tensor) -> TensorDict:
        """Encode a padded source batch.

        Args:
            src: ``[B, S]`` token ids, padded with ``pad_id``.
            src_lens: ``[B]`` true lengths (long; on any device).

        Returns:
            A dictionary of batch-first tensors with at least ``enc_outputs`` ``[B, S, H_enc]``
            and ``src_pad_mask`` ``[B, S]`` (True at padding).

        Raises:
            ValueError: a bad source batch (every model starts with :meth:`source_pad_mask`).
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

        Raises:
            ValueError: bad arguments (every model starts with :meth:`check_step_args`).
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

    # --- input checks (every model calls them first) ------------------------------------
    @staticmethod
    def checked_config(config, config_class):
        """``config`` validated (``config_class()`` when ``None``): what each model's ``__init__`` uses.

        Raises:
            TypeError: ``config`` is not a ``config_class`` (a dict: use ``config_class.from_dict``).
            ValueError: a bad field (from the config's ``validate()``, naming the field).
        """
        config = config_class() if config is None else config
        if not isinstance(config, config_class):
            raise TypeError(f"config must be a {config_class.__name__} (or None), got {type(config).__name__}; "
                            f"use {config_class.__name__}.from_dict(...) for a dictionary")
        config.validate()
        return config

    def source_pad_mask(self, src: Tensor, src_lens: Tensor) -> Tensor:
        """Validate a source batch and return its ``src_pad_mask`` (what :meth:`encode` calls first).

        The one check of the source per batch: the mask is built and validated here by
        :func:`course_lib.utils.lengths_to_pad_mask`, so the decoder steps that use it need
        not check it again (they run without host--device synchronisation).

        Args:
            src: ``[B, S]`` integer ids in ``[0, src_vocab_size)``.
            src_lens: ``[B]`` integer lengths in ``[1, S]``.

        Returns:
            ``src_pad_mask`` ``[B, S]`` bool on ``src``'s device, True at padding.

        Raises:
            ValueError: ``src`` is not a non-empty 2-D integer tensor or holds ids outside the
                source vocabulary; ``src_lens`` is not ``[B]`` integers, or a length is below 1
                or longer than ``src.size(1)``.
        """
        _check_ids("src", src, 2, "[B, S]")
        if not isinstance(src_lens, Tensor) or src_lens.dim() != 1 or src_lens.size(0) != src.size(0):
            raise ValueError(f"src_lens must be a 1-D tensor [B] with B = src.size(0) = {src.size(0)}, "
                             f"got {tuple(src_lens.shape) if isinstance(src_lens, Tensor) else type(src_lens).__name__}")
        mask = lengths_to_pad_mask(src_lens.to(src.device), src.size(1))  # checks dtype and 1 <= len <= S
        lo, hi = torch.aminmax(src)
        _check_range("src", int(lo), int(hi), self.src_vocab_size, "source")
        return mask

    def check_forward_args(self, src: Tensor, src_lens: Tensor, tgt: Tensor, teacher_forcing_ratio: float) -> None:
        """Validate the arguments of a training forward pass (shared by every model's ``forward``).

        The source itself is checked by :meth:`encode` (:meth:`source_pad_mask`).

        Raises:
            ValueError: ``teacher_forcing_ratio`` not a number in ``[0, 1]``; ``tgt`` not a 2-D
                integer tensor ``[B, T]`` with ``T >= 2`` (``<sos>`` and at least one word to
                predict) and ids in ``[0, tgt_vocab_size)``; no real target token in the whole
                batch; batch sizes of ``src``, ``src_lens`` and ``tgt`` that differ.
        """
        r = teacher_forcing_ratio
        if isinstance(r, bool) or not isinstance(r, numbers.Real) or math.isnan(r) or not 0.0 <= r <= 1.0:
            raise ValueError(f"teacher_forcing_ratio must be a number in [0, 1], got {r!r}")
        _check_ids("src", src, 2, "[B, S]")
        _check_ids("tgt", tgt, 2, "[B, T]")
        if not isinstance(src_lens, Tensor) or src_lens.dim() != 1:
            raise ValueError(f"src_lens must be a 1-D tensor [B], got "
                             f"{tuple(src_lens.shape) if isinstance(src_lens, Tensor) else type(src_lens).__name__}")
        if src.size(0) != tgt.size(0) or src.size(0) != src_lens.size(0):
            raise ValueError(
                f"batch sizes differ: src {tuple(src.shape)}, src_lens {tuple(src_lens.shape)}, tgt {tuple(tgt.shape)}"
            )
        if tgt.size(1) < 2:
            raise ValueError(f"tgt must have at least 2 positions (<sos> and a word to predict), got shape "
                             f"{tuple(tgt.shape)}: with only <sos> there is nothing to predict")
        lo, hi = torch.aminmax(tgt)
        _check_range("tgt", int(lo), int(hi), self.tgt_vocab_size, "target")
        if not bool((tgt[:, 1:] != self.pad_id).any()):
            raise ValueError("tgt holds no real token after <sos> (only padding): nothing to predict")

    def state_shapes(self, batch_size: int) -> Dict[str, tuple]:
        """The decoder state's keys and their shapes for ``batch_size`` sentences, as
        :meth:`init_state` makes them (checked by :meth:`check_step_args`; models override it)."""
        return {}

    enc_keys: tuple = ("enc_outputs", "src_pad_mask")
    """The keys of the encoder dictionary that :meth:`decode_step` reads."""

    def check_step_args(self, prev_tokens: Tensor, state: TensorDict, enc: TensorDict) -> None:
        """Validate the arguments of :meth:`decode_step` without reading any tensor value (no
        host--device synchronisation, so it runs at every step).

        Ids outside the vocabulary are caught where the embedding looks them up
        (:meth:`embed_tokens`).

        Raises:
            ValueError: ``prev_tokens`` is not a 1-D integer tensor ``[B]``; ``enc`` is not
                :meth:`encode`'s dictionary (a key of :attr:`enc_keys` missing); ``state``
                lacks a key or has a tensor of another shape than :meth:`state_shapes`; a
                tensor of ``state`` or ``enc`` has another batch size.
        """
        _check_ids("prev_tokens", prev_tokens, 1, "[B] (one id per sentence)")
        if not isinstance(enc, dict) or not all(isinstance(enc.get(k), Tensor) for k in self.enc_keys):
            raise ValueError(f"enc must be the dictionary returned by encode() (with {', '.join(self.enc_keys)})")
        if not isinstance(state, dict):
            raise ValueError(f"state must be the dictionary from init_state() or a previous step, "
                             f"got {type(state).__name__}")
        B = prev_tokens.size(0)
        for where, tensors in (("enc", enc), ("state", state)):
            for key, value in tensors.items():
                if not isinstance(value, Tensor) or value.dim() == 0 or value.size(0) != B:
                    raise ValueError(f"prev_tokens has batch size {B} but {where}[{key!r}] has shape "
                                     f"{tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__}; "
                                     "reorder both with select_batch")
        for key, shape in self.state_shapes(B).items():
            if key not in state or tuple(state[key].shape) != tuple(shape):
                got = tuple(state[key].shape) if key in state else "nothing"
                raise ValueError(f"state[{key!r}] must have shape {tuple(shape)}, got {got}; "
                                 "start from init_state(enc) and pass each step's state to the next")

    @staticmethod
    def embed_tokens(embedding: nn.Embedding, tokens: Tensor) -> Tensor:
        """``embedding(tokens)``, with an id outside the vocabulary reported as a ValueError.

        No value is read on the host: on a CPU torch's own range check is translated; on a
        GPU an out-of-range id is a device-side assertion (validate ids with the batch).

        Raises:
            ValueError: an id outside ``[0, embedding.num_embeddings)`` (CPU tensors).
        """
        try:
            return embedding(tokens)
        except IndexError:
            raise ValueError(f"token ids must be in [0, {embedding.num_embeddings}) (the vocabulary), got "
                             f"ids in [{int(tokens.min())}, {int(tokens.max())}]") from None

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
            ValueError: as :meth:`check_forward_args` and :meth:`encode` (:meth:`source_pad_mask`).
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
