"""The attention models of Luong, Pham & Manning (2015), "Effective Approaches to
Attention-based Neural Machine Translation" (EMNLP).

A stacked LSTM reads the source and its final states start a stacked LSTM decoder. At every
target position the decoder first updates its state, then attends from its *current* top
state ``h_t`` (sec. 3, fig. 1-3)::

    h_t          = LSTM(input_t, state_{t-1})                     top layer's output
    a_t          = align(h_t, h_s)                                eq. 7 (global); local-p:
                                                                  eq. 7 times the Gaussian of eq. 10
    c_t          = sum_s a_t(s) h_s
    h~_t         = tanh(W_c [c_t; h_t])                           eq. 5, the attentional state
    p(y_t | ...) = softmax(W_s h~_t)                              eq. 6

``input_t`` is ``E y_{t-1}``, or ``[E y_{t-1}; h~_{t-1}]`` with *input feeding* (sec. 3.3),
which tells the decoder where it attended before. Scores: ``dot``, ``general`` and ``concat``
(eq. 8) and ``location`` (``a_t = softmax(W_a h_t)``, sec. 3.1, right after eq. 8), from
:mod:`course_lib.attention`. Local-p attention (sec. 3.2: the predicted position ``p_t``,
eq. 9, and the Gaussian window, eq. 10) is :class:`LocalPAttention` here.

Speed: without input feeding the decoder never reads its own output, so with full teacher
forcing :meth:`LuongSeq2Seq.forward_teacher_forced` runs the LSTM over all positions in one
call and attends from all ``T`` queries at once (``[B, T, H]``). Otherwise
:meth:`LuongSeq2Seq.forward` runs the packed decoder loop of :mod:`course_lib.models.packed`
(only sentences whose target is still going; ``W_s`` once after the loop where no argmax is
needed). Attention inside a step is called unchecked: ``encode`` validated the mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch
from torch import Tensor, nn

from ..attention import Attention, make_attention, masked_softmax, require_positive_int
from .base import ModelConfig, Seq2Seq, Seq2SeqOutput, StepOutput, TensorDict, check_config_sizes
from .encoders import RNNEncoder
from .packed import packed_forward

__all__ = ["LuongConfig", "LuongSeq2Seq", "LocalPAttention", "LUONG_SCORES"]

LUONG_SCORES = ("dot", "general", "concat", "location")
"""The score functions of Luong et al. 2015: eq. 8 (dot, general, concat) and the
location-based function of sec. 3.1."""


class LocalPAttention(Attention):
    """Local attention with predicted position ("local-p"), Luong et al. 2015, sec. 3.2.

    For each query ``h_t`` (and sentence ``i`` of real length ``S_i``)::

        p_t    = S_i * sigmoid(v_p^T tanh(W_p h_t))                 eq. 9, in [0, S_i]
        window = { s : |s - p_t| <= D }  minus padding              (positions s = 0, 1, ...)
        a_t(s) = align(h_t, h_s) * exp(-(s - p_t)^2 / (2 sigma^2)),  sigma = D / 2     eq. 10

    ``align`` is the softmax of the wrapped score function over the window (eq. 7), so
    positions outside the window and padded positions get exactly 0.0. As in the paper the
    product with the Gaussian is **not renormalised**: the weights sum to at most 1, and the
    Gaussian's gradient trains ``W_p`` and ``v_p`` (``p_t`` is a real number, the window edge
    itself is not differentiable). ``S_i`` is the *real* length, read from the mask. The
    paper's ``S`` is the source length; the window always holds a real position because
    ``D >= 1`` and ``p_t`` lies within ``[0, S_i]``.

    Args:
        score: the wrapped score function (any :class:`course_lib.attention.Attention`,
            e.g. ``make_attention("general", H, H)``); its :meth:`project_keys` is reused.
        query_dim: ``H``, the size of ``h_t``.
        window: ``D`` (the paper uses 10); at least 1.
        pos_dim: rows of ``W_p`` (default ``query_dim``).

    Shapes: as every attention module; ``mask`` must be ``[B, S]`` (``src_pad_mask``) or
    ``None`` (all positions real). :meth:`predict_position` gives ``p_t``.

    Raises:
        TypeError: ``score`` is not an attention module.
        ValueError: ``query_dim``, ``window`` or ``pos_dim`` not a positive integer; in
            :meth:`forward` (``check=True``), everything :meth:`Attention.check_inputs`
            refuses, the wrapped score's width rules, and a mask that is not ``[B, S]``.
    """

    def __init__(self, score: Attention, query_dim: int, window: int = 10, pos_dim: Optional[int] = None):
        if not isinstance(score, Attention):
            raise TypeError(f"score must be a course_lib.attention.Attention module, got {type(score).__name__}")
        super().__init__(1.0, require_positive_int(query_dim, "query_dim"), score.key_dim)
        self.inner = score
        self.window = require_positive_int(window, "window")
        self.sigma = self.window / 2.0
        pos_dim = self.query_dim if pos_dim is None else require_positive_int(pos_dim, "pos_dim")
        self.W_p = nn.Linear(self.query_dim, pos_dim, bias=False)
        self.v_p = nn.Linear(pos_dim, 1, bias=False)

    def proj_dim(self, key_width: int) -> int:
        """The wrapped score function's projected width."""
        return self.inner.proj_dim(key_width)

    def _check_widths(self, query: Tensor, keys: Tensor) -> None:
        super()._check_widths(query, keys)
        self.inner._check_widths(query, keys)

    def project_keys(self, keys: Tensor) -> Tensor:
        """The wrapped score function's key projection (computed once per sentence)."""
        return self.inner.project_keys(keys)

    def _project(self, keys: Tensor) -> Tensor:
        return self.inner._project(keys)

    def score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        """The wrapped score function's scores (before the window): ``[B, S]`` / ``[B, T, S]``."""
        return self.inner.score(query, proj_keys)

    def predict_position(self, query: Tensor, src_lens: Tensor) -> Tensor:
        """``p_t = S_i * sigmoid(v_p^T tanh(W_p h_t))`` (eq. 9).

        Args:
            query: ``[B, H]`` or ``[B, T, H]``. src_lens: ``[B]`` real source lengths.

        Returns:
            ``[B]`` or ``[B, T]`` float positions in ``[0, S_i]``.

        Raises:
            TypeError: ``query`` is not a float tensor.
            ValueError: ``query`` not ``[B, H]``/``[B, T, H]`` with ``H = query_dim``;
                ``src_lens`` not ``[B]``.
        """
        self._check_tensor(query, "query", (2, 3), "[B, H] or [B, T, H]")
        if query.size(-1) != self.query_dim:
            raise ValueError(f"LocalPAttention was built for queries of width {self.query_dim} (query_dim) "
                             f"but got query of shape {tuple(query.shape)}")
        if not isinstance(src_lens, Tensor) or tuple(src_lens.shape) != (query.size(0),):
            raise ValueError(f"src_lens must be [B] = [{query.size(0)}], got "
                             f"{tuple(src_lens.shape) if isinstance(src_lens, Tensor) else type(src_lens).__name__}")
        return self._predict_position(query, src_lens)

    def _predict_position(self, query: Tensor, src_lens: Tensor) -> Tensor:
        gate = torch.sigmoid(self.v_p(torch.tanh(self.W_p(query)))).squeeze(-1)  # [B] / [B, T]
        lens = src_lens.to(gate.dtype)
        return gate * (lens if query.dim() == 2 else lens.unsqueeze(1))

    def forward(self, query: Tensor, keys: Tensor, values: Optional[Tensor] = None, mask: Optional[Tensor] = None,
                proj_keys: Optional[Tensor] = None, check: bool = True) -> tuple[Tensor, Tensor]:
        """Attend within the predicted window; returns ``(context, weights)`` like every module.

        ``check=False`` skips all validation (per-step calls of a model that checked its
        mask once per batch): no host--device synchronisation.

        Raises:
            ValueError, TypeError: with ``check=True``, as :meth:`Attention.forward`; also a
                ``mask`` that is not ``[B, S]``.
        """
        values = keys if values is None else values
        if check:
            self.check_inputs(query, keys, values, mask, proj_keys)
            if mask is not None and mask.dim() != 2:
                raise ValueError(f"LocalPAttention needs a [B, S] src_pad_mask, got shape {tuple(mask.shape)}")
        B, S = keys.shape[:2]
        if proj_keys is None:
            proj_keys = self._project(keys)
        single = query.dim() == 2
        q = query.unsqueeze(1) if single else query  # [B, T, H]
        src_lens = (~mask).sum(-1) if mask is not None else torch.full((B,), S, device=keys.device)
        p = self._predict_position(q, src_lens)  # [B, T]
        positions = torch.arange(S, device=keys.device, dtype=p.dtype)
        dist = positions.view(1, 1, S) - p.unsqueeze(-1)  # [B, T, S]
        outside = dist.abs() > self.window
        if mask is not None:
            outside = outside | mask.unsqueeze(1)
        # never a row without a real position (D >= 1, 0 <= p_t <= S_i): no check needed
        align = masked_softmax(self.inner._scores(q, proj_keys), outside, check=False)  # [B, T, S], 0 outside
        weights = align * torch.exp(-dist.pow(2) / (2 * self.sigma**2))
        context = torch.bmm(weights, values)  # [B, T, Hv]
        if single:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights

    def extra_repr(self) -> str:
        return f"window={self.window}, sigma={self.sigma}"


@dataclass
class LuongConfig(ModelConfig):
    """Sizes and variant of :class:`LuongSeq2Seq` (defaults fit a laptop; the paper: 4 x 1000).

    Attributes:
        emb_dim: ``E``. hidden_dim: ``H`` of every LSTM layer (encoder and decoder).
        num_layers: depth of encoder and decoder. dropout: on embeddings, between layers and
            on ``h~_t`` before the output layer (the paper used 0.2).
        score: ``"dot"``, ``"general"``, ``"concat"`` (eq. 8) or ``"location"`` (sec. 3.1).
        attention: ``"global"`` (sec. 3.1) or ``"local-p"`` (sec. 3.2).
        window: ``D`` of local-p attention (paper: 10).
        input_feeding: feed ``h~_{t-1}`` into the decoder LSTM (sec. 3.3).
        max_src_len: longest source the ``location`` score can attend over.

    Raises:
        ValueError: a size that is not a positive integer, ``dropout`` outside ``[0, 1)``, an
            unknown ``score`` or ``attention``, ``input_feeding`` not a bool (the message
            names the field).
    """

    emb_dim: int = 256
    hidden_dim: int = 512
    num_layers: int = 2
    dropout: float = 0.3
    score: str = "general"
    attention: str = "global"
    window: int = 10
    input_feeding: bool = True
    max_src_len: int = 100

    def validate(self) -> None:
        """Check every field (also called by :class:`LuongSeq2Seq`); raises ValueError."""
        check_config_sizes(self, ("emb_dim", "hidden_dim", "num_layers", "window", "max_src_len"), ("dropout",))
        if self.score not in LUONG_SCORES:
            raise ValueError(f"LuongConfig.score must be one of {LUONG_SCORES}, got {self.score!r}")
        if self.attention not in ("global", "local-p"):
            raise ValueError(f"LuongConfig.attention must be 'global' or 'local-p', got {self.attention!r}")
        if not isinstance(self.input_feeding, bool):
            raise ValueError(f"LuongConfig.input_feeding must be True or False, got {self.input_feeding!r}")


class LuongSeq2Seq(Seq2Seq):
    """Luong et al. (2015) stacked-LSTM encoder--decoder with global or local-p attention.

    See the module docstring for the equations. Every ``nn.LSTM`` of the decoder is run one
    step at a time by :meth:`decode_step` and the packed loop of :meth:`forward`, and over all
    steps at once by :meth:`forward_teacher_forced` (used by :meth:`forward` when
    ``input_feeding`` is off and the teacher-forcing ratio is 1).

    Args:
        src_vocab_size, tgt_vocab_size: ``V_src``, ``V``. config: :class:`LuongConfig`.
        pad_id, sos_id, eos_id: special ids of the target vocabulary.

    Attributes:
        attention: the :class:`course_lib.attention.Attention` module (a
            :class:`LocalPAttention` for ``local-p``). W_c: ``Linear(2H -> H)`` without bias
            (eq. 5). W_s: ``Linear(H -> V)`` (eq. 6).

    Encoder dictionary: ``enc_outputs [B, S, H]``, ``src_pad_mask [B, S]``, ``proj_keys``
    (the attention's key projection, once per sentence), ``h0``/``c0`` ``[B, L, H]``.
    Decoder state: ``h``, ``c`` ``[B, L, H]`` and, with input feeding, ``h_tilde [B, H]``.
    All batch-first (search reorders them with :func:`course_lib.models.select_batch`).

    Example (local-p: the predicted position of a step, for a widget)::

        model = LuongSeq2Seq(V_src, V, LuongConfig(attention="local-p", score="general"))
        enc = model.encode(src, src_lens)
        step = model.decode_step(prev_tokens, model.init_state(enc), enc)
        p_t = model.attention.predict_position(step.state["h"][:, -1], src_lens)  # [B]

    Raises:
        TypeError, ValueError: a bad ``config`` or vocabulary argument, see
            :meth:`Seq2Seq.checked_config` and :class:`Seq2Seq`.
    """

    has_attention = True

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, config: Optional[LuongConfig] = None,
                 pad_id: int = 0, sos_id: int = 2, eos_id: int = 3):
        super().__init__(src_vocab_size, tgt_vocab_size, pad_id, sos_id, eos_id)
        self.config = config = self.checked_config(config, LuongConfig)
        E, H, L = config.emb_dim, config.hidden_dim, config.num_layers
        self.encoder = RNNEncoder(src_vocab_size, E, H, L, config.dropout, cell="lstm", pad_id=pad_id)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, E, padding_idx=pad_id)
        self.decoder_rnn = nn.LSTM(E + (H if config.input_feeding else 0), H, num_layers=L, batch_first=True,
                                   dropout=config.dropout if L > 1 else 0.0)
        score = make_attention(config.score, H, H, attn_dim=H, max_src_len=config.max_src_len)
        self.attention = LocalPAttention(score, H, config.window) if config.attention == "local-p" else score
        self.W_c = nn.Linear(2 * H, H, bias=False)
        self.W_s = nn.Linear(H, tgt_vocab_size)
        self.dropout = nn.Dropout(config.dropout)

    def encode(self, src: Tensor, src_lens: Tensor) -> TensorDict:
        """Encode ``src [B, S]``; see the class docstring for the keys.

        Raises:
            ValueError: a bad source batch (see :meth:`Seq2Seq.source_pad_mask`); with the
                ``location`` score, ``S > max_src_len``.
        """
        src_pad_mask = self.source_pad_mask(src, src_lens)  # the one check of this batch
        enc_outputs, (h, c) = self.encoder(src, src_lens)  # [B, S, H], [L, B, H]
        return {
            "enc_outputs": enc_outputs,
            "src_pad_mask": src_pad_mask,
            "proj_keys": self.attention.project_keys(enc_outputs),  # location: checks S here
            "h0": h.transpose(0, 1),  # [B, L, H]
            "c0": c.transpose(0, 1),
        }

    def init_state(self, enc: TensorDict) -> TensorDict:
        """The encoder's final ``h``, ``c`` ``[B, L, H]``; ``h_tilde = 0`` with input feeding."""
        state = {"h": enc["h0"], "c": enc["c0"]}
        if self.config.input_feeding:
            state["h_tilde"] = enc["h0"].new_zeros(enc["h0"].size(0), self.config.hidden_dim)
        return state

    enc_keys = ("enc_outputs", "src_pad_mask", "proj_keys")

    def state_shapes(self, batch_size: int) -> Dict[str, tuple]:
        """``h``, ``c``: ``(B, L, H)``; with input feeding ``h_tilde``: ``(B, H)``."""
        L, H = self.config.num_layers, self.config.hidden_dim
        shapes = {"h": (batch_size, L, H), "c": (batch_size, L, H)}
        if self.config.input_feeding:
            shapes["h_tilde"] = (batch_size, H)
        return shapes

    def attend(self, top: Tensor, enc: TensorDict) -> tuple[Tensor, Tensor, Tensor]:
        """Attention and the attentional state from top-layer states ``h_t`` ``[B, H]`` or ``[B, T, H]``.

        Returns:
            ``h~_t = tanh(W_c [c_t; h_t])`` (eq. 5), ``[B, (T,) H]``, the weights ``a_t``
            ``[B, (T,) S]`` (eq. 7), and ``c_t``. The attention runs unchecked (``encode``
            validated the mask).
        """
        context, weights = self.attention(top, enc["enc_outputs"], mask=enc["src_pad_mask"],
                                          proj_keys=enc["proj_keys"], check=False)
        h_tilde = torch.tanh(self.W_c(torch.cat([context, top], dim=-1)))  # eq. 5
        return h_tilde, weights, context

    def output(self, h_tilde: Tensor) -> Tensor:
        """Logits ``W_s dropout(h~_t)`` (eq. 6, before the softmax): ``[..., H] -> [..., V]``."""
        return self.W_s(self.dropout(h_tilde))

    def embed(self, tokens: Tensor) -> Tensor:
        """``E y`` (after dropout) of target words: ``[...] -> [..., E]``."""
        return self.dropout(self.embed_tokens(self.tgt_embedding, tokens))

    def decoder_input(self, prev_tokens: Tensor, state: TensorDict) -> Tensor:
        """The decoder LSTM's input ``[B, E]``, or ``[B, E + H]`` = ``[E y_{t-1}; h~_{t-1}]``
        with input feeding (sec. 3.3)."""
        return self._input(self.embed(prev_tokens), state)

    def _input(self, emb: Tensor, state: TensorDict) -> Tensor:
        return torch.cat([emb, state["h_tilde"]], dim=-1) if self.config.input_feeding else emb

    def step(self, emb: Tensor, state: TensorDict, enc: TensorDict) -> tuple[TensorDict, Tensor, Tensor]:
        """One target position without the output layer.

        Args:
            emb: :meth:`embed` of ``y_{t-1}``, ``[B, E]``. state: ``h``, ``c`` ``[B, L, H]``
                (and ``h_tilde``). enc: the encoder dictionary.

        Returns:
            ``(new_state, h~_t [B, H], a_t [B, S])``.
        """
        x = self._input(emb, state).unsqueeze(1)  # [B, 1, E(+H)]
        hx = (state["h"].transpose(0, 1).contiguous(), state["c"].transpose(0, 1).contiguous())  # [L, B, H]
        output, (h, c) = self.decoder_rnn(x, hx)  # h_t = output: the top layer
        h_tilde, weights, _ = self.attend(output.squeeze(1), enc)  # eq. 7, 5
        new_state = {"h": h.transpose(0, 1), "c": c.transpose(0, 1)}
        if self.config.input_feeding:
            new_state["h_tilde"] = h_tilde
        return new_state, h_tilde, weights

    def decode_step(self, prev_tokens: Tensor, state: TensorDict, enc: TensorDict) -> StepOutput:
        """One target position; ``attn_weights [B, S]`` are ``a_t``; the state gains ``h_tilde``
        with input feeding. No tensor value is read on the host.

        Raises:
            ValueError: ``prev_tokens`` not ``[B]`` integer ids of the target vocabulary; batch
                sizes of ``prev_tokens``, ``state`` and ``enc`` that differ.
        """
        self.check_step_args(prev_tokens, state, enc)
        new_state, h_tilde, weights = self.step(self.embed(prev_tokens), state, enc)
        return StepOutput(self.output(h_tilde), new_state, weights)

    def forward(self, src: Tensor, src_lens: Tensor, tgt: Tensor, teacher_forcing_ratio: float = 1.0) -> Seq2SeqOutput:
        """Training pass with the decisions of :meth:`Seq2Seq.forward`, restructured for speed.

        Without input feeding and at teacher forcing 1.0: :meth:`forward_teacher_forced`
        (all positions at once). Otherwise :meth:`decode_step`'s equations in the packed
        decoder loop (:func:`course_lib.models.packed.packed_forward`): the same
        teacher-forcing coins as the base loop, step ``t`` run only on the sentences still
        going, ``W_s`` after the loop wherever no argmax is needed.

        Returns:
            :class:`Seq2SeqOutput` ``logits [B, T-1, V]``, ``attn_weights [B, T-1, S]``;
            in the packed loop, positions whose target is ``<pad>`` are not computed (0).

        Raises:
            ValueError: see :meth:`Seq2Seq.check_forward_args` and :meth:`encode`.
        """
        if not self.config.input_feeding and teacher_forcing_ratio == 1.0:
            return super().forward(src, src_lens, tgt, teacher_forcing_ratio)  # all steps at once
        self.check_forward_args(src, src_lens, tgt, teacher_forcing_ratio)
        enc = self.encode(src, src_lens)
        return packed_forward(enc, self.init_state(enc), tgt, embed=self.embed, step=self.step, output=self.output,
                              pad_id=self.pad_id, teacher_forcing_ratio=teacher_forcing_ratio)

    def forward_teacher_forced(self, enc: TensorDict, tgt_in: Tensor) -> Optional[Seq2SeqOutput]:
        """All positions at once when the decoder never reads its own output (no input
        feeding): one LSTM call over ``[B, T, E]`` and attention from ``[B, T, H]`` queries.
        Returns ``None`` (step loop) with input feeding."""
        if self.config.input_feeding:
            return None
        embedded = self.embed(tgt_in)  # [B, T, E]
        hx = (enc["h0"].transpose(0, 1).contiguous(), enc["c0"].transpose(0, 1).contiguous())
        outputs, _ = self.decoder_rnn(embedded, hx)  # [B, T, H]
        h_tilde, weights, _ = self.attend(outputs, enc)
        return Seq2SeqOutput(self.output(h_tilde), weights)  # [B, T, V], [B, T, S]
