"""The :class:`Seq2Seq` interface of every model of the course. Each model file holds only its
paper's pieces:

=========================  ===========================================================
``encode(src, src_lens)``  once per source batch; starts with :meth:`Seq2Seq.source_pad_mask`,
                           the one check of the batch
``init_state(enc)``        the decoder state before the first step
``embed(tokens)``          decoder-input features of target words (default ``E y``, dropout)
``step(x, state, enc)``    one target position without the readout:
                           ``(new_state, features, attn_weights)``
``output(features)``       the readout: features -> logits ``[..., V]``
=========================  ===========================================================

and this class composes them: :meth:`Seq2Seq.decode_step` (search, widgets) is
``output(step(embed(prev_tokens)))``; :meth:`Seq2Seq.forward` (training) runs the same three in
the packed loop of :mod:`course_lib.models.packed`. Everything is exchanged as dictionaries of
**batch-first** tensors, so that search reorders hypotheses with :func:`select_batch`. Encoder
keys used everywhere: ``enc_outputs [B, S, H_enc]`` and ``src_pad_mask [B, S]`` (True at padding).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

import torch
from torch import Tensor, nn

from ..checks import InputTypeError, check_choice, check_flag, check_int, check_real, check_tensor, require
from ..utils import dataclass_from_dict, lengths_to_pad_mask

__all__ = ["Seq2Seq", "StepOutput", "Seq2SeqOutput", "select_batch", "lengths_to_pad_mask", "check_source",
           "ModelConfig"]

TensorDict = Dict[str, Tensor]


class ModelConfig:
    """Base of the models' configuration dataclasses: checked when made, buildable from a dict.

    A subclass is a ``@dataclass`` that states its rules in class attributes (not fields):
    ``sizes`` (integers >= 1, or ``low[name]``), ``fractions`` (in ``[0, 1)``), ``choices``
    (field -> allowed values) and ``flags`` (bools). Checked when made and again by the model.
    """

    sizes: tuple = ()
    fractions: tuple = ("dropout",)
    low: dict = {}
    choices: dict = {}
    flags: tuple = ()

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field.

        Raises:
            ValueError: naming the field, e.g. ``BahdanauConfig.emb_dim must be at least 1, got 0``
                (an InputTypeError for a wrong type).
        """
        cls = type(self).__name__
        for name in self.sizes:
            check_int(getattr(self, name), f"{cls}.{name}", low=self.low.get(name, 1))
        for name in self.fractions:
            check_real(getattr(self, name), f"{cls}.{name}", low=0.0, high=1.0, high_open=True)
        for name in self.flags:
            check_flag(getattr(self, name), f"{cls}.{name}")
        for name, allowed in self.choices.items():
            check_choice(getattr(self, name), f"{cls}.{name}", allowed)

    @classmethod
    def from_dict(cls, values: Dict[str, Any]):
        """Build a config from a dictionary.

        Raises:
            ValueError: a key is not a field (the message lists the valid ones), or a bad value.
        """
        return dataclass_from_dict(cls, values)


def _check_ids(ids: Tensor, name: str, vocab_size: int) -> None:
    lo, hi = (int(v) for v in torch.aminmax(ids))  # a host read: once per batch
    require(0 <= lo and hi < vocab_size, f"{name} holds ids in [{lo}, {hi}], outside the vocabulary [0, {vocab_size})")


def check_source(src: Tensor, src_lens: Tensor, vocab_size: int, device: Optional[torch.device] = None) -> Tensor:
    """Check a padded source batch, values included (a host read: once per batch, in ``encode``),
    and return its ``src_pad_mask`` ``[B, S]``.

    Args:
        src: ``[B, S]`` integer ids in ``[0, vocab_size)``. src_lens: ``[B]`` integers in ``[1, S]``.
        device: the device ``src`` must be on (the model's), or None.

    Raises:
        InputTypeError: ``src`` or ``src_lens`` is not an integer tensor.
        ValueError: wrong shapes or an empty batch; a length outside ``[1, S]``; an id outside the
            vocabulary; ``src`` not on ``device``.
    """
    check_tensor(src, "src (integer ids [B, S])", ndim=2, kind="int", device=device)
    check_tensor(src_lens, "src_lens (integers [B], B = src.size(0))", shape=(src.size(0),), kind="int")
    mask = lengths_to_pad_mask(src_lens.to(src.device), src.size(1))  # every length in [1, S]
    _check_ids(src, "src", vocab_size)
    return mask


def select_batch(tensors: TensorDict, index: Tensor) -> TensorDict:
    """Rows ``index`` (``[B']`` integers) of every batch-first tensor in ``tensors``, as a new dict.

    Beam search reorders hypotheses with it. Only metadata is checked (torch refuses a row out of range).

    Raises:
        InputTypeError: ``tensors`` is not a dictionary of tensors with a batch dimension (0-d
            tensors are refused), or ``index`` is not a 1-D integer tensor.
    """
    require(isinstance(tensors, Mapping) and all(isinstance(v, Tensor) and v.dim() for v in tensors.values()),
            f"tensors must be a dictionary of batch-first tensors (not a tensor, not 0-d)", InputTypeError)
    require(isinstance(index, Tensor) and index.dim() == 1 and not index.is_floating_point() and index.dtype != torch.bool,
            f"index must be a 1-D integer tensor of row numbers, got {index!r:.60}", InputTypeError)
    index = index.long()
    return {key: value.index_select(0, index) for key, value in tensors.items()}


def lstm_state(h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """A stacked LSTM's ``(h, c)`` from batch-first ``[B, L, H]`` to ``nn.LSTM``'s ``[L, B, H]``."""
    return h.transpose(0, 1).contiguous(), c.transpose(0, 1).contiguous()


@dataclass
class StepOutput:
    """What one decoder step returns: ``logits [B, V]``, the new ``state`` (batch-first dict) and
    ``attn_weights [B, S]`` (``None`` for a model without attention)."""

    logits: Tensor
    state: TensorDict
    attn_weights: Optional[Tensor] = None


@dataclass
class Seq2SeqOutput:
    """What :meth:`Seq2Seq.forward` returns: ``logits [B, T-1, V]`` (predictions of ``tgt[:, 1:]``)
    and ``attn_weights [B, T-1, S]`` (or ``None``).

    The packed training loop skips positions whose target is ``<pad>`` (the loss ignores them)
    and leaves zeros there: compare outputs only at real target positions.
    """

    logits: Tensor
    attn_weights: Optional[Tensor] = None


class Seq2Seq(nn.Module):
    """Base class of every encoder--decoder of the course (see the module docstring).

    A subclass implements :meth:`encode`, :meth:`init_state`, :meth:`step` and :meth:`output`
    (and :meth:`embed` unless it has ``tgt_embedding`` and ``dropout``), or -- for a scripted
    test model -- :meth:`decode_step` alone, whose logits :meth:`forward` then trains on.

    Args:
        src_vocab_size, tgt_vocab_size: ``V_src``, ``V``.
        pad_id, sos_id, eos_id: ids of ``<pad>``, ``<sos>``, ``<eos>`` in both vocabularies
            (the course's :class:`course_lib.data.Vocab` uses 0, 2, 3).
        config: an instance of :attr:`config_class` (``None``: its defaults).

    Raises:
        ValueError: a vocabulary size below 1; a special id outside the vocabularies; a bad config
            field (InputTypeError for a value of the wrong type, e.g. a dict as ``config``).
    """

    has_attention: bool = False
    enc_keys: tuple = ("enc_outputs", "src_pad_mask")
    """The keys of the encoder dictionary that :meth:`decode_step` reads."""
    config_class: Optional[type] = None
    """The model's :class:`ModelConfig` subclass; ``config`` (default: ``config_class()``) is checked."""

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, pad_id: int = 0, sos_id: int = 2, eos_id: int = 3,
                 config: Optional[ModelConfig] = None):
        super().__init__()
        if self.config_class is not None:  # checked again here: a field may have changed since it was made
            self.config = self.checked_config(config, self.config_class)
        self.src_vocab_size = check_int(src_vocab_size, "src_vocab_size", low=1)
        self.tgt_vocab_size = check_int(tgt_vocab_size, "tgt_vocab_size", low=1)
        top = min(self.src_vocab_size, self.tgt_vocab_size) - 1
        self.pad_id, self.sos_id, self.eos_id = (check_int(value, name, low=0, high=top) for name, value in
                                                 (("pad_id", pad_id), ("sos_id", sos_id), ("eos_id", eos_id)))

    @staticmethod
    def checked_config(config: Optional[ModelConfig], config_class: type) -> ModelConfig:
        """``config`` validated (``config_class()`` when ``None``), as each model's ``__init__`` uses it.

        Raises:
            InputTypeError: not a ``config_class`` (a dict: use ``from_dict``). ValueError: a bad field.
        """
        config = config_class() if config is None else config
        require(isinstance(config, config_class), f"config must be a {config_class.__name__} (a dict: use from_dict), "
                f"got {config!r:.40}", InputTypeError)
        config.validate()
        return config

    # --- the pieces a model provides -----------------------------------------------------
    def _missing(self, name: str):
        raise NotImplementedError(f"{type(self).__name__} must define {name} (see course_lib.models.base)")

    def encode(self, src: Tensor, src_lens: Tensor) -> TensorDict:
        """Encode a padded source batch ``src [B, S]`` with lengths ``src_lens [B]``.

        Returns:
            Batch-first tensors, at least ``enc_outputs [B, S, H_enc]`` and ``src_pad_mask [B, S]``.

        Raises:
            ValueError: a bad batch (every model starts with :meth:`source_pad_mask`).
        """
        return self._missing("encode")

    def init_state(self, enc: TensorDict) -> TensorDict:
        """The decoder state before the first step (batch-first tensors)."""
        return self._missing("init_state")

    def embed(self, tokens: Tensor):
        """Decoder-input features of target ids ``[...]``; by default ``dropout(E y)`` ``[..., E]``
        from ``self.tgt_embedding`` and ``self.dropout``.

        Raises:
            ValueError: an id outside the target vocabulary (CPU tensors; no value is read on the
                host otherwise -- on a GPU torch asserts on the device).
        """
        try:
            return self.dropout(self.tgt_embedding(tokens))
        except IndexError:
            raise ValueError(f"token ids must be in the vocabulary [0, {len(self.tgt_embedding.weight)})") from None

    def step(self, inputs, state: TensorDict, enc: TensorDict) -> tuple[TensorDict, Tensor, Optional[Tensor]]:
        """One target position without the readout: ``(new_state, features [B, F], attn_weights [B, S] or None)``."""
        return self._missing("step")

    def output(self, features: Tensor) -> Tensor:
        """The readout: ``features [..., F] -> logits [..., V]``."""
        return self._missing("output")

    def state_shapes(self, batch_size: int) -> Dict[str, tuple]:
        """The decoder state's keys and shapes (what :meth:`check_step_args` compares)."""
        return {}

    def forward_teacher_forced(self, enc: TensorDict, tgt_in: Tensor, tgt: Optional[Tensor] = None
                               ) -> Optional[Seq2SeqOutput]:
        """Optional fast path at teacher forcing 1: all positions from the gold inputs ``tgt_in``
        (``tgt[:, :-1]``; ``tgt`` itself for a path that skips padded targets). ``None`` (the
        default): :meth:`forward` runs the packed step loop."""
        return None

    # --- composed here ------------------------------------------------------------------
    def source_pad_mask(self, src: Tensor, src_lens: Tensor) -> Tensor:
        """The one check of a source batch (:func:`check_source`): what :meth:`encode` calls first.
        Returns ``src_pad_mask [B, S]`` (True at padding), so decoder steps need not check it."""
        return check_source(src, src_lens, self.src_vocab_size, self.device)

    @property
    def device(self) -> torch.device:
        """Where the model is: its parameters' device (its buffers' without parameters; CPU without either)."""
        for tensor in itertools.chain(self.parameters(), self.buffers()):
            return tensor.device
        return torch.device("cpu")

    def check_target(self, tgt: Tensor, batch_size: Optional[int] = None) -> None:
        """Check a training target ``[B, T]``: rows ``<sos> ... <eos>`` then padding (once per batch).

        Raises:
            InputTypeError: ``tgt`` is not an integer tensor.
            ValueError: not ``[batch_size, T]`` with ``T >= 2`` (``<sos>`` and a word to predict), an
                id outside the target vocabulary, or no real token after ``<sos>`` in the whole batch.
        """
        check_tensor(tgt, "tgt [B, T] (integer ids; batch sizes must match src)", shape=(batch_size, None), kind="int")
        require(tgt.size(0) and tgt.size(1) > 1, f"tgt {tuple(tgt.shape)}: nothing to predict (at least 2 positions)")
        _check_ids(tgt, "tgt", self.tgt_vocab_size)
        require(bool((tgt[:, 1:] != self.pad_id).any()), "tgt holds no real token after <sos>: nothing to predict")

    def check_forward_args(self, src: Tensor, src_lens: Tensor, tgt: Tensor, teacher_forcing_ratio: float) -> None:
        """The checks of :meth:`forward` without the pass: the ratio, the source, the target (one batch).

        Raises:
            InputTypeError, ValueError: as :meth:`forward`.
        """
        check_real(teacher_forcing_ratio, "teacher_forcing_ratio", low=0.0, high=1.0)
        self.check_target(tgt, self.source_pad_mask(src, src_lens).size(0))

    def check_step_args(self, prev_tokens: Tensor, state: TensorDict, enc: TensorDict) -> None:
        """The checks of :meth:`decode_step`: metadata only, so no host--device synchronisation.

        Raises:
            InputTypeError: ``prev_tokens`` not an integer tensor; ``enc`` not :meth:`encode`'s
                dictionary or ``state`` not a dictionary.
            ValueError: ``prev_tokens`` not ``[B]``; a tensor of ``state`` or ``enc`` with another
                batch size; a key of :meth:`state_shapes` missing or of another shape.
        """
        B = len(check_tensor(prev_tokens, "prev_tokens (integer ids [B])", ndim=1, kind="int"))
        require(isinstance(state, dict) and isinstance(enc, dict) and all(torch.is_tensor(enc.get(k)) for k in self.enc_keys),
                f"enc must be the dict from encode() (keys {self.enc_keys}), state from init_state()", InputTypeError)
        for where, key, shape in [("enc", k, (B,)) for k in self.enc_keys] + [("state", k, s) for k, s in
                                                                               self.state_shapes(B).items()]:
            value = (enc if where == "enc" else state).get(key)
            require(torch.is_tensor(value) and tuple(value.shape[:len(shape)]) == shape, f"{where}[{key!r}] must be "
                    f"{shape}... (batch size {B}), not {getattr(value, 'shape', value)}: reorder enc and state together")

    def decode_step(self, prev_tokens: Tensor, state: TensorDict, enc: TensorDict) -> StepOutput:
        """One target position: ``output(step(embed(prev_tokens), state, enc))``.

        Args:
            prev_tokens: ``[B]`` ids of the previous word (``<sos>`` first). state: from
                :meth:`init_state` or the previous step. enc: from :meth:`encode`.

        Returns:
            :class:`StepOutput`: ``logits [B, V]``, the new state, ``attn_weights [B, S]`` (or None).

        Raises:
            InputTypeError, ValueError: as :meth:`check_step_args` and :meth:`embed`.
        """
        self.check_step_args(prev_tokens, state, enc)
        new_state, features, weights = self.step(self.embed(prev_tokens), state, enc)
        return StepOutput(self.output(features), new_state, weights)

    def _step_of_decode_step(self, tokens: Tensor, state: TensorDict, enc: TensorDict):
        out = self.decode_step(tokens, state, enc)
        return out.state, out.logits, out.attn_weights

    def forward(self, src: Tensor, src_lens: Tensor, tgt: Tensor, teacher_forcing_ratio: float = 1.0) -> Seq2SeqOutput:
        """Training pass: predict ``tgt[:, 1:]`` from the previous words.

        At each position the decoder reads the gold previous word with probability
        ``teacher_forcing_ratio`` (one coin per position for the whole batch, from Python's
        ``random``), else its own greedy prediction (:func:`course_lib.models.packed.packed_forward`;
        :meth:`forward_teacher_forced` at ratio 1 where a model has one).

        Args:
            src: ``[B, S]`` source ids; src_lens: ``[B]``; tgt: ``[B, T]``, rows ``<sos> ... <eos>``
                then padding. teacher_forcing_ratio: a probability in ``[0, 1]``.

        Returns:
            :class:`Seq2SeqOutput`: ``logits [B, T-1, V]``, ``attn_weights [B, T-1, S]`` or None.

        Raises:
            InputTypeError, ValueError: a ratio outside ``[0, 1]``; a bad ``tgt``
                (:meth:`check_target`) or source (:meth:`encode`); batch sizes that differ.
        """
        from .packed import packed_forward  # packed.py builds on this module

        ratio = check_real(teacher_forcing_ratio, "teacher_forcing_ratio", low=0.0, high=1.0)
        enc = self.encode(src, src_lens)  # the one check of the source
        self.check_target(tgt, enc["src_pad_mask"].size(0))
        if ratio == 1.0:
            fast = self.forward_teacher_forced(enc, tgt[:, :-1], tgt)
            if fast is not None:
                return fast
        if type(self).decode_step is Seq2Seq.decode_step:
            embed, step, output = self.embed, self.step, self.output
        else:  # a model written as decode_step alone: its logits are the features
            embed = output = _identity
            step = self._step_of_decode_step
        return packed_forward(enc, self.init_state(enc), tgt, embed=embed, step=step, output=output,
                              pad_id=self.pad_id, teacher_forcing_ratio=ratio)


def _identity(x):
    return x
