"""RNNsearch: the attention model of Bahdanau, Cho & Bengio (2015), "Neural Machine
Translation by Jointly Learning to Align and Translate" (ICLR).

A bidirectional GRU reads the source into annotations ``h_j`` (sec. 3.2); at target position
``i`` the decoder

1. scores every annotation against its *previous* state: ``e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j)``
   (appendix A.1.2) and ``alpha_ij = softmax_j(e_ij)`` (eq. 6; padding gets 0),
2. averages the annotations into the context ``c_i = sum_j alpha_ij h_j`` (eq. 5),
3. updates its state ``s_i = GRU([E y_{i-1}; c_i], s_{i-1})`` (sec. 3.1, appendix A.2.2),
4. predicts ``y_i`` from ``[s_i; c_i; E y_{i-1}]`` (the deep output ``g`` of eq. 4).

Three departures, shared with the best-known public re-implementation
(bentrevett/pytorch-seq2seq, notebook 3), so that :meth:`BahdanauConfig.tutorial` has exactly
its parameters: the deep output is one linear layer instead of the maxout layer of A.2.2; it
reads the *new* state ``s_i`` rather than ``s_{i-1}``; and the alignment model has a bias ``b``
inside the ``tanh`` (``U_a h_j + b``), which A.1.2 does not have. The tutorial configuration
also starts ``s_0`` from both final encoder states; the default follows the paper's ``s_0``.

Speed (``bench/README.md``): the encoder is packed, ``U_a h_j + b`` is computed once per batch
in :meth:`BahdanauSeq2Seq.encode`, and training runs the packed loop of
:mod:`course_lib.models.packed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch
from torch import Tensor, nn

from ..attention import AdditiveAttention
from .base import ModelConfig, Seq2Seq, TensorDict
from .encoders import RNNEncoder

__all__ = ["BahdanauConfig", "BahdanauSeq2Seq"]


@dataclass
class BahdanauConfig(ModelConfig):
    """Sizes of :class:`BahdanauSeq2Seq` (defaults fit a laptop; the paper used 620/1000/1000).

    Attributes:
        emb_dim: ``E``, source and target embedding size.
        enc_hidden_dim: ``H_enc`` per direction of the encoder (annotations have ``2 H_enc`` units).
        dec_hidden_dim: ``H``, the decoder state ``s_i``. attn_dim: ``A``, hidden size of the
            alignment model (paper: ``n' = 1000``). dropout: on the source and target embeddings.
        init_from: ``"backward"`` (the paper, A.2.2): ``s_0 = tanh(W_s h_1_backward)``;
            ``"both"`` (the tutorial): ``s_0 = tanh(W_s [h_S_forward; h_1_backward])``.

    Raises:
        ValueError: a size below 1, ``dropout`` outside ``[0, 1)``, another ``init_from``.
    """

    emb_dim: int = 128
    enc_hidden_dim: int = 256
    dec_hidden_dim: int = 256
    attn_dim: int = 256
    dropout: float = 0.3
    init_from: str = "backward"
    sizes = ("emb_dim", "enc_hidden_dim", "dec_hidden_dim", "attn_dim")
    choices = {"init_from": ("backward", "both")}

    @classmethod
    def tutorial(cls) -> "BahdanauConfig":
        """bentrevett/pytorch-seq2seq notebook 3 (about 20.5 M parameters on Multi30k de-en,
        ``min_freq=2``, lowercased): ``E=256``, ``H_enc=H=A=512``, dropout 0.5, ``s_0`` from both."""
        return cls(emb_dim=256, enc_hidden_dim=512, dec_hidden_dim=512, attn_dim=512, dropout=0.5, init_from="both")


class BahdanauSeq2Seq(Seq2Seq):
    """RNNsearch (Bahdanau et al. 2015, sec. 3 and appendix A) on the course's interface.

    The alignment model is :class:`course_lib.attention.AdditiveAttention` (``W_a``, ``U_a``, ``v_a``, no bias, as
    in A.1.2) plus this model's ``attn_bias`` ``b`` ``[A]`` (initialised to 0) added to the projected keys:
    **not in the paper** (see the module docstring); it gives the alignment model the parameters of the tutorial's
    ``Linear(H + 2 H_enc -> A) + v``, so the benchmark compares equal models. ``rnn`` is an ``nn.GRUCell`` on
    ``[E y_{i-1}; c_i]``, ``out`` the deep output.

    Args:
        src_vocab_size, tgt_vocab_size: ``V_src``, ``V``. config: :class:`BahdanauConfig`.
        pad_id, sos_id, eos_id: special ids of the vocabularies.

    Encoder dictionary: ``enc_outputs [B, S, 2 H_enc]`` (0 at padding), ``src_pad_mask [B, S]``,
    ``proj_keys [B, S, A]`` (``U_a h_j + b``, once per batch), ``h0 [B, H]`` (``s_0``).
    Decoder state: ``{"h": s [B, H]}``.

    Raises:
        InputTypeError, ValueError: a bad ``config`` or vocabulary argument (see :class:`Seq2Seq`).
    """

    has_attention = True
    config_class = BahdanauConfig
    enc_keys = ("enc_outputs", "src_pad_mask", "proj_keys")

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, config: Optional[BahdanauConfig] = None,
                 pad_id: int = 0, sos_id: int = 2, eos_id: int = 3):
        super().__init__(src_vocab_size, tgt_vocab_size, pad_id, sos_id, eos_id, config)
        config = self.config
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

    def encode(self, src: Tensor, src_lens: Tensor) -> TensorDict:
        """Annotations, mask, ``U_a h_j + b`` and ``s_0`` of a source batch (keys in the class docstring).

        Raises:
            ValueError: a bad source batch (see :meth:`Seq2Seq.source_pad_mask`).
        """
        src_pad_mask = self.source_pad_mask(src, src_lens)  # the one check of this batch
        enc_outputs, hidden = self.encoder.run(src, src_lens)  # [B, S, 2 H_enc], [2, B, H_enc]
        final = torch.cat([hidden[0], hidden[1]], dim=-1) if self.config.init_from == "both" else hidden[1]
        return {"enc_outputs": enc_outputs, "src_pad_mask": src_pad_mask,
                "proj_keys": self.attention.project_keys(enc_outputs) + self.attn_bias,  # U_a h_j + b
                "h0": torch.tanh(self.init_proj(final))}  # s_0 [B, H]; hidden[1]: backward state at j = 1

    def init_state(self, enc: TensorDict) -> TensorDict:
        """``{"h": s_0 [B, H]}``."""
        return {"h": enc["h0"]}

    def state_shapes(self, batch_size: int) -> Dict[str, tuple]:
        """``{"h": (B, H)}``."""
        return {"h": (batch_size, self.config.dec_hidden_dim)}

    def attend(self, query: Tensor, enc: TensorDict) -> tuple[Tensor, Tensor]:
        """The alignment model from ``s_{i-1}`` ``[B, H]``: ``c_i [B, 2 H_enc]`` (eq. 5) and
        ``alpha_i [B, S]`` (eq. 6, exactly 0.0 at padding); unchecked, ``encode`` checked the batch."""
        return self.attention.attend(query, enc["enc_outputs"], mask=enc["src_pad_mask"], proj_keys=enc["proj_keys"])

    def step(self, emb: Tensor, state: TensorDict, enc: TensorDict) -> tuple[TensorDict, Tensor, Tensor]:
        """One position without the readout, from ``E y_{i-1}`` ``[B, E]`` (:meth:`embed`).

        Returns:
            ``({"h": s_i}, [s_i; c_i; E y_{i-1}] [B, H + 2 H_enc + E], alpha_i [B, S])``.
        """
        s_prev = state["h"]
        context, alpha = self.attend(s_prev, enc)  # c_i, alpha_i from s_{i-1}
        s = self.rnn(torch.cat([emb, context], dim=-1), s_prev)  # s_i = GRU([E y_{i-1}; c_i], s_{i-1})
        return {"h": s}, torch.cat([s, context, emb], dim=-1), alpha

    def output(self, features: Tensor) -> Tensor:
        """The deep output (one linear layer): ``W_o [s_i; c_i; E y_{i-1}] + b_o``, ``[..., V]``."""
        return self.out(features)
