"""The attention models of Luong, Pham & Manning (2015), "Effective Approaches to
Attention-based Neural Machine Translation" (EMNLP).

A stacked LSTM reads the source and its final states start a stacked LSTM decoder. At every
target position the decoder first updates its state, then attends from its *current* top
state ``h_t`` (sec. 3, fig. 1-3)::

    h_t          = LSTM(input_t, state_{t-1})                     top layer's output
    a_t          = align(h_t, h_s)                                eq. 7 (global) / eq. 10 (local-p)
    c_t          = sum_s a_t(s) h_s
    h~_t         = tanh(W_c [c_t; h_t])                           eq. 5, the attentional state
    p(y_t | ...) = softmax(W_s h~_t)                              eq. 6

``input_t`` is ``E y_{t-1}``, or ``[E y_{t-1}; h~_{t-1}]`` with *input feeding* (sec. 3.3),
which tells the decoder where it attended before. Scores (eq. 8-9): ``dot``, ``general``,
``concat`` and ``location``, from :mod:`course_lib.attention`. Local-p attention (sec. 3.2,
eq. 9-10) is :class:`LocalPAttention` here.

Speed: without input feeding the decoder never reads its own output, so with full teacher
forcing :meth:`LuongSeq2Seq.forward_teacher_forced` runs the LSTM over all positions in one
call and attends from all ``T`` queries at once (``[B, T, H]``). Otherwise
:meth:`LuongSeq2Seq.forward` runs a packed step loop (only sentences whose target is still
going) and the output layer once after the loop where no argmax is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

import torch
from torch import Tensor, nn

from ..attention import Attention, masked_softmax, make_attention
from .bahdanau import packed_schedule, scatter_rows
from ..utils import dataclass_from_dict
from .base import Seq2Seq, Seq2SeqOutput, StepOutput, TensorDict, lengths_to_pad_mask
from .encoders import RNNEncoder

__all__ = ["LuongConfig", "LuongSeq2Seq", "LocalPAttention", "LUONG_SCORES"]

LUONG_SCORES = ("dot", "general", "concat", "location")
"""The score functions of Luong et al. 2015, eq. 8-9."""


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
    itself is not differentiable). ``S_i`` is the *real* length, read from the mask.

    Args:
        score: the wrapped score function (any :class:`course_lib.attention.Attention`,
            e.g. ``make_attention("general", H, H)``); its :meth:`project_keys` is reused.
        query_dim: ``H``, the size of ``h_t``.
        window: ``D`` (the paper uses 10); at least 1, so the window always holds a real position.
        pos_dim: rows of ``W_p`` (default ``query_dim``).

    Shapes: as every attention module; ``mask`` must be ``[B, S]`` (``src_pad_mask``) or
    ``None`` (all positions real). :meth:`predict_position` gives ``p_t``.

    Raises:
        ValueError: ``window < 1``; a mask that is not ``[B, S]``.
    """

    def __init__(self, score: Attention, query_dim: int, window: int = 10, pos_dim: Optional[int] = None):
        super().__init__()
        if window < 1:
            raise ValueError(f"window D must be at least 1, got {window}")
        self.inner = score
        self.window = int(window)
        self.sigma = window / 2.0
        self.W_p = nn.Linear(query_dim, pos_dim or query_dim, bias=False)
        self.v_p = nn.Linear(pos_dim or query_dim, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        """The wrapped score function's key projection (computed once per sentence)."""
        return self.inner.project_keys(keys)

    def score(self, query: Tensor, proj_keys: Tensor) -> Tensor:
        """The wrapped score function's scores (before the window): ``[B, S]`` / ``[B, T, S]``."""
        return self.inner.score(query, proj_keys)

    def predict_position(self, query: Tensor, src_lens: Tensor) -> Tensor:
        """``p_t = S_i * sigmoid(v_p^T tanh(W_p h_t))`` (eq. 9).

        Args:
            query: ``[B, H]`` or ``[B, T, H]``. src_lens: ``[B]`` real source lengths.

        Returns:
            ``[B]`` or ``[B, T]`` float positions in ``[0, S_i]``.
        """
        gate = torch.sigmoid(self.v_p(torch.tanh(self.W_p(query)))).squeeze(-1)  # [B] / [B, T]
        lens = src_lens.to(gate.dtype)
        return gate * (lens if query.dim() == 2 else lens.unsqueeze(1))

    def forward(self, query: Tensor, keys: Tensor, values: Optional[Tensor] = None, mask: Optional[Tensor] = None,
                proj_keys: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        """Attend within the predicted window; returns ``(context, weights)`` like every module.

        Raises:
            ValueError: ``mask`` is not ``[B, S]``, or inconsistent shapes.
        """
        values = keys if values is None else values
        B, S = keys.shape[:2]
        if mask is not None and mask.shape != (B, S):
            raise ValueError(f"LocalPAttention needs a [B, S] src_pad_mask, got shape {tuple(mask.shape)}")
        if proj_keys is None:
            proj_keys = self.project_keys(keys)
        single = query.dim() == 2
        q = query.unsqueeze(1) if single else query  # [B, T, H]
        src_lens = (~mask).sum(-1) if mask is not None else torch.full((B,), S, device=keys.device)
        p = self.predict_position(q, src_lens)  # [B, T]
        positions = torch.arange(S, device=keys.device, dtype=p.dtype)
        dist = positions.view(1, 1, S) - p.unsqueeze(-1)  # [B, T, S]
        outside = dist.abs() > self.window
        if mask is not None:
            outside = outside | mask.unsqueeze(1)
        align = masked_softmax(self.inner.score(q, proj_keys), outside)  # [B, T, S], 0 outside
        weights = align * torch.exp(-dist.pow(2) / (2 * self.sigma**2))
        context = torch.bmm(weights, values)  # [B, T, Hv]
        if single:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights

    def extra_repr(self) -> str:
        return f"window={self.window}, sigma={self.sigma}"


@dataclass
class LuongConfig:
    """Sizes and variant of :class:`LuongSeq2Seq` (defaults fit a laptop; the paper: 4 x 1000).

    Attributes:
        emb_dim: ``E``. hidden_dim: ``H`` of every LSTM layer (encoder and decoder).
        num_layers: depth of encoder and decoder. dropout: on embeddings, between layers and
            on ``h~_t`` before the output layer (the paper used 0.2).
        score: ``"dot"``, ``"general"``, ``"concat"`` or ``"location"`` (eq. 8-9).
        attention: ``"global"`` (sec. 3.1) or ``"local-p"`` (sec. 3.2).
        window: ``D`` of local-p attention (paper: 10).
        input_feeding: feed ``h~_{t-1}`` into the decoder LSTM (sec. 3.3).
        max_src_len: longest source the ``location`` score can attend over.
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

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "LuongConfig":
        """Build a config from a dictionary.

        Raises:
            ValueError: a key is not a field (the message lists the valid ones).
        """
        return dataclass_from_dict(cls, values)


class LuongSeq2Seq(Seq2Seq):
    """Luong et al. (2015) stacked-LSTM encoder--decoder with global or local-p attention.

    See the module docstring for the equations. Every ``nn.LSTM`` of the decoder is run one
    step at a time by :meth:`decode_step`, and over all steps at once by
    :meth:`forward_teacher_forced` (used by :meth:`forward` when ``input_feeding`` is off and
    the teacher-forcing ratio is 1).

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
        ValueError: unknown ``score`` or ``attention``.
    """

    has_attention = True

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, config: Optional[LuongConfig] = None,
                 pad_id: int = 0, sos_id: int = 2, eos_id: int = 3):
        super().__init__(src_vocab_size, tgt_vocab_size, pad_id, sos_id, eos_id)
        self.config = config = config or LuongConfig()
        if config.score not in LUONG_SCORES:
            raise ValueError(f"score must be one of {LUONG_SCORES}, got {config.score!r}")
        if config.attention not in ("global", "local-p"):
            raise ValueError(f"attention must be 'global' or 'local-p', got {config.attention!r}")
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
            ValueError: a length below 1.
        """
        src_pad_mask = lengths_to_pad_mask(src_lens.to(src.device), src.size(1))
        enc_outputs, (h, c) = self.encoder(src, src_lens)  # [B, S, H], [L, B, H]
        return {
            "enc_outputs": enc_outputs,
            "src_pad_mask": src_pad_mask,
            "proj_keys": self.attention.project_keys(enc_outputs),
            "h0": h.transpose(0, 1),  # [B, L, H]
            "c0": c.transpose(0, 1),
        }

    def init_state(self, enc: TensorDict) -> TensorDict:
        """The encoder's final ``h``, ``c`` ``[B, L, H]``; ``h_tilde = 0`` with input feeding."""
        state = {"h": enc["h0"], "c": enc["c0"]}
        if self.config.input_feeding:
            state["h_tilde"] = enc["h0"].new_zeros(enc["h0"].size(0), self.config.hidden_dim)
        return state

    def _attend_and_predict(self, top: Tensor, enc: TensorDict) -> tuple[Tensor, Tensor, Tensor]:
        """From top states ``[B, H]`` or ``[B, T, H]``: ``(logits, h_tilde, weights)``."""
        context, weights = self.attention(top, enc["enc_outputs"], mask=enc["src_pad_mask"],
                                          proj_keys=enc["proj_keys"])
        h_tilde = torch.tanh(self.W_c(torch.cat([context, top], dim=-1)))  # eq. 5
        return self.W_s(self.dropout(h_tilde)), h_tilde, weights

    def decoder_input(self, prev_tokens: Tensor, state: TensorDict) -> Tensor:
        """The decoder LSTM's input ``[B, E]``, or ``[B, E + H]`` = ``[E y_{t-1}; h~_{t-1}]``
        with input feeding (sec. 3.3)."""
        embedded = self.dropout(self.tgt_embedding(prev_tokens))
        if self.config.input_feeding:
            return torch.cat([embedded, state["h_tilde"]], dim=-1)
        return embedded

    def decode_step(self, prev_tokens: Tensor, state: TensorDict, enc: TensorDict) -> StepOutput:
        """One target position; ``attn_weights [B, S]`` are ``a_t``; the state gains ``h_tilde``
        with input feeding."""
        x = self.decoder_input(prev_tokens, state).unsqueeze(1)  # [B, 1, E(+H)]
        hx = (state["h"].transpose(0, 1).contiguous(), state["c"].transpose(0, 1).contiguous())  # [L, B, H]
        output, (h, c) = self.decoder_rnn(x, hx)
        logits, h_tilde, weights = self._attend_and_predict(output.squeeze(1), enc)
        new_state = {"h": h.transpose(0, 1), "c": c.transpose(0, 1)}
        if self.config.input_feeding:
            new_state["h_tilde"] = h_tilde
        return StepOutput(logits, new_state, weights)

    def forward(self, src: Tensor, src_lens: Tensor, tgt: Tensor, teacher_forcing_ratio: float = 1.0) -> Seq2SeqOutput:
        """Training pass with the decisions of :meth:`Seq2Seq.forward`, restructured for speed.

        Without input feeding and at teacher forcing 1.0: :meth:`forward_teacher_forced`.
        Otherwise a packed step loop: the same teacher-forcing coins as the base loop
        (:func:`~course_lib.models.bahdanau.draw_teacher_forcing_coins`), sentences ordered by
        target length, step ``t`` run only on those whose target is still going, the gold
        embeddings looked up once, and ``W_s`` applied after the loop to every position
        whose argmax does not choose the next input.

        Returns:
            :class:`Seq2SeqOutput` ``logits [B, T-1, V]``, ``attn_weights [B, T-1, S]``;
            in the packed loop, positions whose target is ``<pad>`` are not computed (0).

        Raises:
            ValueError: ``teacher_forcing_ratio`` outside ``[0, 1]``, batch sizes that differ,
                a source length below 1.
        """
        self.check_forward_args(src, src_lens, tgt, teacher_forcing_ratio)
        if not self.config.input_feeding and teacher_forcing_ratio >= 1.0:
            return super().forward(src, src_lens, tgt, teacher_forcing_ratio)  # all steps at once
        B, T = tgt.size(0), tgt.size(1) - 1
        plan = packed_schedule(self, src, src_lens, tgt, teacher_forcing_ratio)
        enc, order, active, steps = plan.enc, plan.order, plan.active, plan.steps
        gold, need_now = plan.gold, plan.need_now
        gold_emb = self.dropout(self.tgt_embedding(plan.tgt_in))  # [B, T, E]

        h, c = enc["h0"].transpose(0, 1), enc["c0"].transpose(0, 1)  # [L, B, H]
        h_tilde = enc["h0"].new_zeros(B, self.config.hidden_dim)
        row_ids = order * T  # flat index of (sentence, position 0) in the [B * T] output
        logits: list[Tensor] = []  # W_s h~ of positions whose argmax feeds the next step
        logit_rows: list[Tensor] = []
        later: list[Tensor] = []  # dropout(h~) of positions scored after the loop
        later_rows: list[Tensor] = []
        weights: list[Tensor] = []
        weight_rows: list[Tensor] = []
        prev_logits: Optional[Tensor] = None
        for t in range(steps):
            n = active[t]
            emb_t = gold_emb[:n, t] if gold[t] else self.dropout(self.tgt_embedding(prev_logits[:n].argmax(-1)))
            x = torch.cat([emb_t, h_tilde[:n]], dim=-1) if self.config.input_feeding else emb_t
            output, (h, c) = self.decoder_rnn(x.unsqueeze(1), (h[:, :n].contiguous(), c[:, :n].contiguous()))
            enc_t = {k: enc[k][:n] for k in ("enc_outputs", "src_pad_mask", "proj_keys")}
            top = output.squeeze(1)  # [n, H]
            context, alpha = self.attention(top, enc_t["enc_outputs"], mask=enc_t["src_pad_mask"],
                                            proj_keys=enc_t["proj_keys"])
            h_tilde = torch.tanh(self.W_c(torch.cat([context, top], dim=-1)))  # eq. 5
            rows = row_ids[:n] + t
            weights.append(alpha)
            weight_rows.append(rows)
            if need_now[t]:
                prev_logits = self.W_s(self.dropout(h_tilde))
                logits.append(prev_logits)
                logit_rows.append(rows)
            else:
                later.append(self.dropout(h_tilde))
                later_rows.append(rows)
        if later:
            logits.append(self.W_s(torch.cat(later)))  # one product for all of them
            logit_rows.append(torch.cat(later_rows))
        out = scatter_rows(logits, logit_rows, B * T).view(B, T, -1)  # [B, T, V]
        return Seq2SeqOutput(out, scatter_rows(weights, weight_rows, B * T).view(B, T, -1))  # attn [B, T, S]

    def forward_teacher_forced(self, enc: TensorDict, tgt_in: Tensor) -> Optional[Seq2SeqOutput]:
        """All positions at once when the decoder never reads its own output (no input
        feeding): one LSTM call over ``[B, T, E]`` and attention from ``[B, T, H]`` queries.
        Returns ``None`` (step loop) with input feeding."""
        if self.config.input_feeding:
            return None
        embedded = self.dropout(self.tgt_embedding(tgt_in))  # [B, T, E]
        hx = (enc["h0"].transpose(0, 1).contiguous(), enc["c0"].transpose(0, 1).contiguous())
        outputs, _ = self.decoder_rnn(embedded, hx)  # [B, T, H]
        logits, _, weights = self._attend_and_predict(outputs, enc)
        return Seq2SeqOutput(logits, weights)  # [B, T, V], [B, T, S]
