"""RNNsearch: the attention model of Bahdanau, Cho & Bengio (2015), "Neural Machine
Translation by Jointly Learning to Align and Translate" (ICLR).

A bidirectional GRU reads the source; at every target position the decoder

1. scores every source annotation ``h_j`` against its *previous* state ``s_{i-1}`` with the
   additive alignment model ``e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j)`` (appendix A.1.2),
2. turns the scores into weights ``alpha_ij = softmax_j(e_ij)`` (eq. 6; padding gets 0),
3. averages the annotations into the context ``c_i = sum_j alpha_ij h_j`` (eq. 5),
4. updates its GRU state ``s_i = GRU([E y_{i-1}; c_i], s_{i-1})`` (eq. 4, A.2.2),
5. predicts ``y_i`` from ``[s_i; c_i; E y_{i-1}]`` (the "deep output", eq. 4 / A.2.2).

Three departures, shared with the best-known public re-implementation
(bentrevett/pytorch-seq2seq, notebook 3), so that :meth:`BahdanauConfig.tutorial` has exactly
its parameters: the deep output is one linear layer instead of the paper's maxout layer
(A.2.2); it reads the *new* state ``s_i`` rather than ``s_{i-1}``; and the alignment model
has a bias ``b`` inside the ``tanh`` (``U_a h_j + b``; the tutorial's ``nn.Linear`` has one,
appendix A.1.2 has none). The tutorial configuration also starts ``s_0`` from both final
encoder states; the default config follows the paper's ``s_0``.

Speed (see ``bench/README.md``): the encoder is packed (no work on padding), ``U_a h_j + b``
is computed once per sentence in :meth:`BahdanauSeq2Seq.encode`, the decoder step calls the
attention module unchecked (the mask was validated in ``encode``: no host--device
synchronisation per step), and the training pass runs the packed decoder loop of
:mod:`course_lib.models.packed` (step ``t`` runs only on the sentences whose target is still
going; the target embeddings and their share of the GRU input projection are computed before
the loop, the output layer after it wherever no argmax is needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..attention import AdditiveAttention
from .base import ModelConfig, Seq2Seq, Seq2SeqOutput, StepOutput, TensorDict, check_config_sizes
from .encoders import RNNEncoder
from .packed import packed_forward

__all__ = ["BahdanauConfig", "BahdanauSeq2Seq", "gru_cell"]


@dataclass
class BahdanauConfig(ModelConfig):
    """Sizes of :class:`BahdanauSeq2Seq` (defaults fit a laptop; the paper used 620/1000/1000).

    Attributes:
        emb_dim: ``E``, source and target embedding size.
        enc_hidden_dim: ``H_enc`` per direction of the bidirectional GRU encoder
            (annotations ``h_j`` have ``2 * H_enc`` units).
        dec_hidden_dim: ``H``, size of the decoder GRU state ``s_i``.
        attn_dim: ``A``, hidden size of the alignment model (paper: ``n' = 1000``).
        dropout: on the source and target embeddings.
        init_from: how ``s_0`` comes from the encoder. ``"backward"`` (the paper, appendix
            A.2.2): ``s_0 = tanh(W_s h_1_backward)``; ``"both"`` (the public tutorial):
            ``s_0 = tanh(W_s [h_S_forward; h_1_backward])``.

    Raises:
        ValueError: a size that is not a positive integer, ``dropout`` outside ``[0, 1)``,
            ``init_from`` not ``"backward"`` or ``"both"`` (the message names the field).
    """

    emb_dim: int = 128
    enc_hidden_dim: int = 256
    dec_hidden_dim: int = 256
    attn_dim: int = 256
    dropout: float = 0.3
    init_from: str = "backward"

    def validate(self) -> None:
        """Check every field (also called by :class:`BahdanauSeq2Seq`); raises ValueError."""
        check_config_sizes(self, ("emb_dim", "enc_hidden_dim", "dec_hidden_dim", "attn_dim"), ("dropout",))
        if self.init_from not in ("backward", "both"):
            raise ValueError(f"BahdanauConfig.init_from must be 'backward' or 'both', got {self.init_from!r}")

    @classmethod
    def tutorial(cls) -> "BahdanauConfig":
        """The configuration of bentrevett/pytorch-seq2seq notebook 3 (about 20.5 M parameters
        with Multi30k de-en, ``min_freq=2``, lowercased): ``E=256``, ``H_enc=H=A=512``,
        dropout 0.5, ``s_0`` from both final encoder states."""
        return cls(emb_dim=256, enc_hidden_dim=512, dec_hidden_dim=512, attn_dim=512, dropout=0.5, init_from="both")


def gru_cell(gi: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor) -> Tensor:
    """``torch.nn.GRUCell`` with the input projection given (Cho et al. 2014, eq. 5-8).

    Args:
        gi: ``[B, 3H]`` the input projection ``W_ih x + b_ih`` (gates ``r, z, n``).
        h: ``[B, H]`` the previous state. weight_hh, bias_hh: the cell's ``[3H, H]``, ``[3H]``.

    Returns:
        The new state ``[B, H]``, equal to ``nn.GRUCell`` up to rounding.
    """
    gh = torch.nn.functional.linear(h, weight_hh, bias_hh)  # [B, 3H]
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return n + z * (h - n)  # = (1 - z) * n + z * h


class BahdanauSeq2Seq(Seq2Seq):
    """RNNsearch (Bahdanau et al. 2015, sec. 3 and appendix A) on the course's interface.

    Encoder (sec. 3.2): ``h_j = [h_j_forward; h_j_backward]`` from a packed bidirectional
    GRU; ``enc_outputs [B, S, 2 H_enc]`` are exactly zero at padding.
    Decoder step ``i`` (sec. 3.1, A.1.2, A.2.2)::

        e_ij  = v_a^T tanh(W_a s_{i-1} + U_a h_j + b)     score of source position j
        alpha = masked softmax_j(e_ij)                    0.0 exactly at padding (eq. 6)
        c_i   = sum_j alpha_ij h_j                        (eq. 5)
        s_i   = GRU([E y_{i-1}; c_i], s_{i-1})
        logits_i = W_o [s_i; c_i; E y_{i-1}] + b_o        ("deep output", one linear layer)

    The alignment model is :class:`course_lib.attention.AdditiveAttention` (``W_a``,
    ``U_a``, ``v_a``, no bias, as in A.1.2) plus this model's own bias vector ``attn_bias``
    (``b``, ``[A]``, initialised to 0) added to the projected keys: **not in the paper**; it
    gives the alignment model exactly the parameters of the public tutorial's
    ``Linear(H + 2 H_enc -> A) + v``, so that the benchmark compares equal models.

    Args:
        src_vocab_size, tgt_vocab_size: ``V_src``, ``V``.
        config: :class:`BahdanauConfig` (default: laptop-sized).
        pad_id, sos_id, eos_id: special ids of the target vocabulary.

    Encoder dictionary (:meth:`encode`): ``enc_outputs [B, S, 2 H_enc]``,
    ``src_pad_mask [B, S]``, ``proj_keys [B, S, A]`` (``U_a h_j + b``, computed once per
    sentence), ``h0 [B, H]`` (``s_0``). Decoder state: ``{"h": s [B, H]}``. All batch-first,
    so search can reorder them with :func:`course_lib.models.select_batch`.

    Training (:meth:`forward`) packs the decoder: logits and weights at positions whose
    target is ``<pad>`` are 0 (not computed); every other position equals the step loop.

    Example::

        model = BahdanauSeq2Seq(len(data.src_vocab), len(data.tgt_vocab), BahdanauConfig())
        enc = model.encode(batch.src, batch.src_lens)
        state = model.init_state(enc)
        step = model.decode_step(batch.tgt[:, 0], state, enc)   # logits [B, V], attn_weights [B, S]

    Raises:
        TypeError, ValueError: a bad ``config`` or vocabulary argument, see
            :meth:`Seq2Seq.checked_config` and :class:`Seq2Seq`.
    """

    has_attention = True

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, config: Optional[BahdanauConfig] = None,
                 pad_id: int = 0, sos_id: int = 2, eos_id: int = 3):
        super().__init__(src_vocab_size, tgt_vocab_size, pad_id, sos_id, eos_id)
        self.config = config = self.checked_config(config, BahdanauConfig)
        E, H_enc, H, A = config.emb_dim, config.enc_hidden_dim, config.dec_hidden_dim, config.attn_dim
        self.encoder = RNNEncoder(src_vocab_size, E, H_enc, num_layers=1, dropout=config.dropout,
                                  cell="gru", bidirectional=True, pad_id=pad_id)
        self.init_proj = nn.Linear(H_enc * (2 if config.init_from == "both" else 1), H)  # W_s
        self.attention = AdditiveAttention(query_dim=H, key_dim=2 * H_enc, attn_dim=A)
        self.attn_bias = nn.Parameter(torch.zeros(A))  # b of e_ij (not in the paper, see above)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, E, padding_idx=pad_id)
        self.rnn = nn.GRUCell(E + 2 * H_enc, H)  # input [E y_{i-1}; c_i]
        self.out = nn.Linear(H + 2 * H_enc + E, tgt_vocab_size)  # deep output on [s_i; c_i; E y_{i-1}]
        self.dropout = nn.Dropout(config.dropout)

    # --- the interface -------------------------------------------------------------------
    def encode(self, src: Tensor, src_lens: Tensor) -> TensorDict:
        """Encode ``src [B, S]`` (lengths ``src_lens [B]``); see the class docstring for the keys.

        Raises:
            ValueError: a bad source batch (see :meth:`Seq2Seq.source_pad_mask`).
        """
        src_pad_mask = self.source_pad_mask(src, src_lens)  # the one check of this batch
        enc_outputs, hidden = self.encoder(src, src_lens)  # [B, S, 2 H_enc], [2, B, H_enc]
        if self.config.init_from == "both":
            final = torch.cat([hidden[0], hidden[1]], dim=-1)  # [B, 2 H_enc]
        else:
            final = hidden[1]  # backward direction's state at position 1: [B, H_enc]
        return {
            "enc_outputs": enc_outputs,
            "src_pad_mask": src_pad_mask,
            "proj_keys": self.attention.project_keys(enc_outputs) + self.attn_bias,  # U_a h_j + b: [B, S, A]
            "h0": torch.tanh(self.init_proj(final)),  # [B, H]
        }

    def init_state(self, enc: TensorDict) -> TensorDict:
        """``{"h": s_0 [B, H]}``."""
        return {"h": enc["h0"]}

    enc_keys = ("enc_outputs", "src_pad_mask", "proj_keys")

    def state_shapes(self, batch_size: int) -> Dict[str, tuple]:
        """``{"h": (B, H)}``."""
        return {"h": (batch_size, self.config.dec_hidden_dim)}

    def attend(self, query: Tensor, enc: TensorDict) -> tuple[Tensor, Tensor]:
        """Additive attention of ``query`` (``s_{i-1}``, ``[B, H]``) over the encoded batch.

        ``self.attention(query, enc_outputs, mask=src_pad_mask, proj_keys=enc["proj_keys"],
        check=False)``: the mask was validated in :meth:`encode`, so the per-step call skips
        the checks (and the host--device synchronisation they would cost on a GPU).

        Returns:
            ``context [B, 2 H_enc]`` (``c_i``, eq. 5) and ``weights [B, S]`` (``alpha_i``,
            eq. 6; exactly 0.0 at padding).
        """
        return self.attention(query, enc["enc_outputs"], mask=enc["src_pad_mask"], proj_keys=enc["proj_keys"],
                              check=False)

    def input_weights(self) -> tuple[Tensor, Tensor]:
        """The GRU input projection split by what it reads: ``W_ih[:, :E]`` (``E y_{i-1}``) and
        ``W_ih[:, E:]`` (``c_i``). Sliced once per pass: a slice taken at every step would cost
        a full-size gradient buffer per step in the backward pass."""
        E = self.config.emb_dim
        return self.rnn.weight_ih[:, :E], self.rnn.weight_ih[:, E:]

    def embed(self, tokens: Tensor, weights: Optional[tuple[Tensor, Tensor]] = None) -> tuple[Tensor, Tensor]:
        """Decoder-input features of target words ``[...]``: ``E y`` ``[..., E]`` (after dropout)
        and its share of the GRU input projection ``W_ih[:, :E] E y + b_ih`` ``[..., 3H]``.
        ``weights``: :meth:`input_weights`, if already at hand."""
        w_emb, _ = weights or self.input_weights()
        emb = self.dropout(self.embed_tokens(self.tgt_embedding, tokens))
        return emb, F.linear(emb, w_emb, self.rnn.bias_ih)

    def step(self, inputs: tuple[Tensor, Tensor], state: TensorDict, enc: TensorDict,
             weights: Optional[tuple[Tensor, Tensor]] = None) -> tuple[TensorDict, Tensor, Tensor]:
        """One target position without the output layer (the equations of the class docstring).

        Args:
            inputs: :meth:`embed` of ``y_{i-1}`` (``[B, E]``, ``[B, 3H]``). state: ``{"h": s_{i-1}}``.
            enc: the encoder dictionary. weights: :meth:`input_weights`, if already at hand.

        Returns:
            ``({"h": s_i}, [s_i; c_i; E y_{i-1}] [B, H + 2 H_enc + E], alpha_i [B, S])``.
        """
        _, w_ctx = weights or self.input_weights()
        emb, gi_emb = inputs
        s_prev = state["h"]
        context, alpha = self.attend(s_prev, enc)  # c_i, alpha_i from s_{i-1}
        s = gru_cell(gi_emb + F.linear(context, w_ctx), s_prev, self.rnn.weight_hh, self.rnn.bias_hh)  # s_i
        return {"h": s}, torch.cat([s, context, emb], dim=-1), alpha

    def decode_step(self, prev_tokens: Tensor, state: TensorDict, enc: TensorDict) -> StepOutput:
        """One target position (see the class docstring); ``attn_weights`` are ``alpha_i [B, S]``.

        No tensor value is read on the host (no host--device synchronisation).

        Raises:
            ValueError: ``prev_tokens`` not ``[B]`` integer ids of the target vocabulary; batch
                sizes of ``prev_tokens``, ``state`` and ``enc`` that differ.
        """
        self.check_step_args(prev_tokens, state, enc)
        new_state, features, alpha = self.step(self.embed(prev_tokens), state, enc)
        return StepOutput(self.out(features), new_state, alpha)

    # --- fast training pass --------------------------------------------------------------
    def forward(self, src: Tensor, src_lens: Tensor, tgt: Tensor, teacher_forcing_ratio: float = 1.0) -> Seq2SeqOutput:
        """Training pass: :meth:`decode_step`'s equations in the packed decoder loop.

        Same teacher-forcing decisions as :meth:`Seq2Seq.forward` (a seeded run matches it)
        and the same numbers up to rounding at every position whose target is a real token;
        :func:`course_lib.models.packed.packed_forward` runs step ``t`` only on the sentences
        still going, embeds the gold words (and their share of the GRU input projection) once
        before the loop and applies the output layer after it wherever no argmax is needed.

        Args:
            src: ``[B, S]``; src_lens: ``[B]``; tgt: ``[B, T]``, each row ``<sos> ... <eos>``
                followed by padding only.
            teacher_forcing_ratio: probability in ``[0, 1]`` of feeding the gold word.

        Returns:
            :class:`Seq2SeqOutput`: ``logits [B, T-1, V]`` and ``attn_weights [B, T-1, S]``.
            Positions whose target ``tgt[:, 1:]`` is ``<pad>`` are not computed: their
            logits and weights are 0 (the loss ignores them).

        Raises:
            ValueError: see :meth:`Seq2Seq.check_forward_args` and :meth:`encode`.
        """
        self.check_forward_args(src, src_lens, tgt, teacher_forcing_ratio)
        enc = self.encode(src, src_lens)
        w = self.input_weights()
        return packed_forward(enc, self.init_state(enc), tgt, embed=lambda tokens: self.embed(tokens, w),
                              step=lambda inputs, state, enc_t: self.step(inputs, state, enc_t, w),
                              output=self.out, pad_id=self.pad_id, teacher_forcing_ratio=teacher_forcing_ratio)
