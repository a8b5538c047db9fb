"""The attention models of Luong, Pham & Manning (2015), "Effective Approaches to
Attention-based Neural Machine Translation" (EMNLP).

A stacked LSTM reads the source and its final states start a stacked LSTM decoder. At every
target position the decoder first updates its state, then attends from its *current* top
state ``h_t`` (sec. 3, fig. 1-3)::

    h_t          = LSTM(input_t, state_{t-1})          the top layer's output
    a_t          = align(h_t, h_s)                     eq. 7 (global); local-p: times the Gaussian of eq. 10
    c_t          = sum_s a_t(s) h_s
    h~_t         = tanh(W_c [c_t; h_t])                eq. 5, the attentional hidden state
    p(y_t | ...) = softmax(W_s h~_t)                   eq. 6

``input_t`` is ``E y_{t-1}``, or ``[E y_{t-1}; h~_{t-1}]`` with *input feeding* (sec. 3.3).
Scores from :mod:`course_lib.attention`: ``dot``, ``general`` and ``concat`` (the score
functions of sec. 3.1, shown after eq. 7) and ``location`` (eq. 8). Local-p attention (sec.
3.2: the predicted position of eq. 9 and the Gaussian of eq. 10) is :class:`LocalPAttention`.

Without input feeding the decoder never reads its own output: at teacher forcing 1,
:meth:`LuongSeq2Seq.forward_teacher_forced` runs the LSTM over all positions in one call and
attends from all ``T`` queries at once. Otherwise training runs the packed step loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch
from torch import Tensor, nn

from ..attention import Attention, _softmax, make_attention
from ..checks import check_instance, check_int, check_tensor
from .base import ModelConfig, Seq2Seq, Seq2SeqOutput, TensorDict, lstm_state
from .encoders import RNNEncoder

__all__ = ["LuongConfig", "LuongSeq2Seq", "LocalPAttention", "LUONG_SCORES"]

LUONG_SCORES = ("dot", "general", "concat", "location")
"""The score functions of Luong et al. 2015: dot, general, concat (sec. 3.1) and location (eq. 8)."""


class LocalPAttention(Attention):
    """Local attention with a predicted position ("local-p"), Luong et al. 2015, sec. 3.2.

    For each query ``h_t`` of a sentence of real length ``S_i``::

        p_t    = S_i * sigmoid(v_p^T tanh(W_p h_t))                          eq. 9, in [0, S_i]
        a_t(s) = align(h_t, h_s) * exp(-(s - p_t)^2 / (2 sigma^2)),  sigma = D / 2     eq. 10

    ``align`` is the softmax of the wrapped score over the window ``|s - p_t| <= D`` without
    padding, so positions outside it get exactly 0.0. As in the paper the product is **not
    renormalised** (the weights sum to at most 1); the Gaussian's gradient trains ``W_p`` and
    ``v_p``. ``S_i`` is read from the mask; the window always holds a real position (``D >= 1``).

    Args:
        score: the wrapped :class:`course_lib.attention.Attention` (its ``project_keys`` is reused).
        query_dim: ``H``, the size of ``h_t``. window: ``D`` (paper: 10), at least 1.
        pos_dim: rows of ``W_p`` (default ``query_dim``).

    Shapes as every attention module; ``mask`` must be ``[B, S]`` or ``None``.

    Raises:
        InputTypeError: ``score`` is not an attention module.
        ValueError: a size below 1; in :meth:`forward`, what :meth:`Attention.check_inputs`
            refuses, the wrapped score's widths, a mask that is not ``[B, S]``.
    """

    mask_3d = False  # the window needs each sentence's real length: a [B, S] src_pad_mask

    def __init__(self, score: Attention, query_dim: int, window: int = 10, pos_dim: Optional[int] = None):
        check_instance(score, Attention, "score", "a course_lib.attention.Attention module")
        super().__init__(1.0, check_int(query_dim, "query_dim", low=1), score.key_dim)
        self.inner = score
        self.window = check_int(window, "window", low=1)
        self.sigma = self.window / 2.0
        pos_dim = check_int(pos_dim, "pos_dim", low=1, allow_none=True) or self.query_dim
        self.W_p = nn.Linear(self.query_dim, pos_dim, bias=False)
        self.v_p = nn.Linear(pos_dim, 1, bias=False)

    def proj_dim(self, key_width: int) -> int:
        """The wrapped score's projected width."""
        return self.inner.proj_dim(key_width)

    def _check_widths(self, query_width: Optional[int], key_width: Optional[int], src_len: int) -> None:
        super()._check_widths(query_width, key_width, src_len)
        self.inner._check_widths(query_width, key_width, src_len)

    def _project(self, keys: Tensor) -> Tensor:
        return self.inner._project(keys)

    def _scores(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        return self.inner._scores(query, proj_keys)  # before the window

    def predict_position(self, query: Tensor, src_lens: Tensor) -> Tensor:
        """``p_t = S_i * sigmoid(v_p^T tanh(W_p h_t))`` (eq. 9): ``[B]`` / ``[B, T]`` for a query
        ``[B, H]`` / ``[B, T, H]`` and real lengths ``src_lens [B]``.

        Raises:
            InputTypeError: ``query`` not a float tensor. ValueError: its shape or ``src_lens``' does not fit.
        """
        check_tensor(query, "query [B, H] or [B, T, H]", ndim=(2, 3), kind="float")
        check_tensor(src_lens, "src_lens [B]", shape=(query.size(0),))
        self._check_widths(query.size(-1), None, 0)
        return self._position(query, src_lens)

    def _position(self, query: Tensor, src_lens: Tensor) -> Tensor:
        gate = torch.sigmoid(self.v_p(torch.tanh(self.W_p(query)))).squeeze(-1)  # [B] / [B, T]
        lens = src_lens.to(gate.dtype)
        return gate * (lens if query.dim() == 2 else lens.unsqueeze(1))

    def attend(self, query, keys, values=None, mask=None, proj_keys=None) -> tuple[Tensor, Tensor]:
        """Attention within the predicted window, unchecked (see :meth:`Attention.attend`)."""
        values = keys if values is None else values
        B, S = keys.shape[:2]
        proj_keys = self._project(keys) if proj_keys is None else proj_keys
        single = query.dim() == 2
        q = query.unsqueeze(1) if single else query  # [B, T, H]
        src_lens = (~mask).sum(-1) if mask is not None else torch.full((B,), S, device=keys.device)
        p = self._position(q, src_lens)  # [B, T]
        dist = torch.arange(S, device=keys.device, dtype=p.dtype) - p.unsqueeze(-1)  # [B, T, S]
        outside = dist.abs() > self.window  # [B, T, S]
        if mask is not None:
            outside = outside | mask.unsqueeze(1)
        align = _softmax(self.inner._scores(q, proj_keys), outside)  # eq. 7 within the window, 0 outside
        weights = align * torch.exp(-dist.pow(2) / (2 * self.sigma**2))  # eq. 10
        context = torch.bmm(weights, values)  # [B, T, Hv]
        return (context.squeeze(1), weights.squeeze(1)) if single else (context, weights)

    def extra_repr(self) -> str:
        return f"window={self.window}, sigma={self.sigma}"


@dataclass
class LuongConfig(ModelConfig):
    """Sizes and variant of :class:`LuongSeq2Seq` (defaults fit a laptop; the paper: 4 x 1000).

    Attributes:
        emb_dim: ``E``. hidden_dim: ``H`` of every LSTM layer. num_layers: encoder and decoder depth.
        dropout: on embeddings, between layers and on ``h~_t`` before ``W_s`` (the paper: 0.2).
        score: one of :data:`LUONG_SCORES`. attention: ``"global"`` (sec. 3.1) or ``"local-p"`` (sec. 3.2).
        window: ``D`` of local-p (paper: 10). input_feeding: feed ``h~_{t-1}`` to the LSTM (sec. 3.3).
        max_src_len: the longest source the ``location`` score can attend over.

    Raises:
        ValueError: a size below 1, ``dropout`` outside ``[0, 1)``, an unknown ``score`` or
            ``attention``, ``input_feeding`` not a bool (the message names the field).
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
    sizes = ("emb_dim", "hidden_dim", "num_layers", "window", "max_src_len")
    choices = {"score": LUONG_SCORES, "attention": ("global", "local-p")}
    flags = ("input_feeding",)


class LuongSeq2Seq(Seq2Seq):
    """Luong et al. (2015) stacked-LSTM encoder--decoder, global or local-p attention (equations: module docstring).

    Args:
        src_vocab_size, tgt_vocab_size: ``V_src``, ``V``. config: :class:`LuongConfig`.
        pad_id, sos_id, eos_id: special ids of the vocabularies.

    Attributes:
        attention: the score's :class:`course_lib.attention.Attention` (a :class:`LocalPAttention`
            for local-p). decoder_rnn: the ``nn.LSTM`` stack. W_c: ``Linear(2H -> H)`` without
            bias (eq. 5). W_s: ``Linear(H -> V)`` (eq. 6).

    Encoder dictionary: ``enc_outputs [B, S, H]``, ``src_pad_mask [B, S]``, ``proj_keys`` (once
    per batch), ``h0``/``c0`` ``[B, L, H]``. Decoder state: ``h``, ``c`` ``[B, L, H]`` and, with
    input feeding, ``h_tilde [B, H]``.

    Example (local-p: the predicted position of a step, for a widget)::

        model = LuongSeq2Seq(V_src, V, LuongConfig(attention="local-p", score="general"))
        enc = model.encode(src, src_lens)
        step = model.decode_step(prev_tokens, model.init_state(enc), enc)
        p_t = model.attention.predict_position(step.state["h"][:, -1], src_lens)  # [B]

    Raises:
        InputTypeError, ValueError: a bad ``config`` or vocabulary argument (see :class:`Seq2Seq`).
    """

    has_attention = True
    config_class = LuongConfig
    enc_keys = ("enc_outputs", "src_pad_mask", "proj_keys")

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, config: Optional[LuongConfig] = None,
                 pad_id: int = 0, sos_id: int = 2, eos_id: int = 3):
        super().__init__(src_vocab_size, tgt_vocab_size, pad_id, sos_id, eos_id, config)
        config = self.config
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
        """Encode ``src [B, S]``; keys in the class docstring.

        Raises:
            ValueError: a bad source batch (:meth:`Seq2Seq.source_pad_mask`); with the
                ``location`` score, ``S > max_src_len``.
        """
        src_pad_mask = self.source_pad_mask(src, src_lens)  # the one check of this batch
        enc_outputs, (h, c) = self.encoder.run(src, src_lens)  # [B, S, H], [L, B, H]
        return {"enc_outputs": enc_outputs, "src_pad_mask": src_pad_mask,
                "proj_keys": self.attention.project_keys(enc_outputs),  # location: checks S here
                "h0": h.transpose(0, 1), "c0": c.transpose(0, 1)}  # [B, L, H]

    def init_state(self, enc: TensorDict) -> TensorDict:
        """The encoder's final ``h``, ``c`` ``[B, L, H]``; ``h_tilde = 0`` with input feeding."""
        state = {"h": enc["h0"], "c": enc["c0"]}
        if self.config.input_feeding:
            state["h_tilde"] = enc["h0"].new_zeros(enc["h0"].size(0), self.config.hidden_dim)
        return state

    def state_shapes(self, batch_size: int) -> Dict[str, tuple]:
        """``h``, ``c``: ``(B, L, H)``; with input feeding ``h_tilde``: ``(B, H)``."""
        L, H = self.config.num_layers, self.config.hidden_dim
        return {"h": (batch_size, L, H), "c": (batch_size, L, H),
                **({"h_tilde": (batch_size, H)} if self.config.input_feeding else {})}

    def attend(self, top: Tensor, enc: TensorDict) -> tuple[Tensor, Tensor, Tensor]:
        """From top-layer states ``h_t`` ``[B, (T,) H]``: ``h~_t = tanh(W_c [c_t; h_t])`` (eq. 5),
        the weights ``a_t`` ``[B, (T,) S]`` (eq. 7) and ``c_t`` (unchecked: ``encode`` checked the batch)."""
        context, weights = self.attention.attend(top, enc["enc_outputs"], mask=enc["src_pad_mask"],
                                                 proj_keys=enc["proj_keys"])
        return torch.tanh(self.W_c(torch.cat([context, top], dim=-1))), weights, context

    def decoder_input(self, prev_tokens: Tensor, state: TensorDict) -> Tensor:
        """The LSTM's input ``[B, E]``, or ``[E y_{t-1}; h~_{t-1}]`` ``[B, E + H]`` with input feeding."""
        return self._input(self.embed(prev_tokens), state)

    def _input(self, emb: Tensor, state: TensorDict) -> Tensor:
        return torch.cat([emb, state["h_tilde"]], dim=-1) if self.config.input_feeding else emb

    def step(self, emb: Tensor, state: TensorDict, enc: TensorDict) -> tuple[TensorDict, Tensor, Tensor]:
        """One position without the readout, from ``E y_{t-1}`` ``[B, E]``: ``(new_state, h~_t [B, H], a_t [B, S])``."""
        output, (h, c) = self.decoder_rnn(self._input(emb, state).unsqueeze(1), lstm_state(state["h"], state["c"]))
        h_tilde, weights, _ = self.attend(output.squeeze(1), enc)  # from h_t, the top layer
        new_state = {"h": h.transpose(0, 1), "c": c.transpose(0, 1)}
        if self.config.input_feeding:
            new_state["h_tilde"] = h_tilde
        return new_state, h_tilde, weights

    def output(self, h_tilde: Tensor) -> Tensor:
        """Logits ``W_s dropout(h~_t)`` (eq. 6 before the softmax): ``[..., H] -> [..., V]``."""
        return self.W_s(self.dropout(h_tilde))

    def forward_teacher_forced(self, enc: TensorDict, tgt_in: Tensor,
                               tgt: Optional[Tensor] = None) -> Optional[Seq2SeqOutput]:
        """Without input feeding: one LSTM call over ``[B, T, E]`` and attention from ``[B, T, H]``
        queries. ``None`` with input feeding (the decoder reads its own ``h~``: step loop)."""
        if self.config.input_feeding:
            return None
        outputs, _ = self.decoder_rnn(self.embed(tgt_in), lstm_state(enc["h0"], enc["c0"]))  # [B, T, H]
        h_tilde, weights, _ = self.attend(outputs, enc)
        return Seq2SeqOutput(self.output(h_tilde), weights)  # [B, T, V], [B, T, S]
