"""The plain encoder--decoder of Sutskever et al. (2014), "Sequence to Sequence Learning
with Neural Networks": a stacked LSTM reads the source, its final state initialises a
stacked LSTM that writes the target. The whole source reaches the decoder only through that
fixed-size state -- the bottleneck lesson 01 measures and attention removes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

from torch import Tensor, nn


from .base import ModelConfig, Seq2Seq, Seq2SeqOutput, StepOutput, TensorDict, check_config_sizes
from .encoders import RNNEncoder

__all__ = ["VanillaConfig", "VanillaSeq2Seq"]


@dataclass
class VanillaConfig(ModelConfig):
    """Sizes of :class:`VanillaSeq2Seq` (defaults fit a laptop; the paper used 4 x 1000).

    Attributes:
        emb_dim: ``E``. hidden_dim: ``H`` of every LSTM layer. num_layers: encoder and decoder depth.
        dropout: on embeddings, between layers and before the output layer.

    Raises:
        ValueError: a size that is not a positive integer or ``dropout`` outside ``[0, 1)``
            (the message names the field).
    """

    emb_dim: int = 256
    hidden_dim: int = 512
    num_layers: int = 2
    dropout: float = 0.3

    def validate(self) -> None:
        """Check every field (also called by :class:`VanillaSeq2Seq`); raises ValueError."""
        check_config_sizes(self, ("emb_dim", "hidden_dim", "num_layers"), ("dropout",))


class VanillaSeq2Seq(Seq2Seq):
    """Sutskever et al. (2014) encoder--decoder with stacked LSTMs (sec. 2 and 3.4).

    The encoder's final ``(h, c)`` of every layer initialise the decoder's; the decoder
    predicts ``p(y_t | y_<t, x) = softmax(W_o h_t)`` (eq. 1 of the paper). No attention.

    Args:
        src_vocab_size, tgt_vocab_size: vocabulary sizes. config: :class:`VanillaConfig`.
        pad_id, sos_id, eos_id: special ids of the target vocabulary.

    Encoder dictionary: ``enc_outputs [B, S, H]``, ``src_pad_mask [B, S]``, ``h0``/``c0``
    ``[B, L, H]``. Decoder state: ``h``/``c`` ``[B, L, H]`` (batch-first so search can reorder).

    Raises:
        TypeError, ValueError: a bad ``config`` or vocabulary argument, see
            :meth:`Seq2Seq.checked_config` and :class:`Seq2Seq`.
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, config: VanillaConfig | None = None,
                 pad_id: int = 0, sos_id: int = 2, eos_id: int = 3):
        super().__init__(src_vocab_size, tgt_vocab_size, pad_id, sos_id, eos_id)
        self.config = config = self.checked_config(config, VanillaConfig)
        self.encoder = RNNEncoder(src_vocab_size, config.emb_dim, config.hidden_dim, config.num_layers,
                                  config.dropout, cell="lstm", pad_id=pad_id)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, config.emb_dim, padding_idx=pad_id)
        self.decoder_rnn = nn.LSTM(config.emb_dim, config.hidden_dim, num_layers=config.num_layers,
                                   batch_first=True, dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        self.out = nn.Linear(config.hidden_dim, tgt_vocab_size)

    def encode(self, src: Tensor, src_lens: Tensor) -> TensorDict:
        """See :meth:`Seq2Seq.encode`.

        Raises:
            ValueError: a bad source batch (see :meth:`Seq2Seq.source_pad_mask`).
        """
        src_pad_mask = self.source_pad_mask(src, src_lens)
        enc_outputs, (h, c) = self.encoder(src, src_lens)
        return {
            "enc_outputs": enc_outputs,  # [B, S, H]
            "src_pad_mask": src_pad_mask,
            "h0": h.transpose(0, 1),  # [B, L, H]
            "c0": c.transpose(0, 1),
        }

    def init_state(self, enc: TensorDict) -> TensorDict:
        """The encoder's final state, layer by layer: ``h``, ``c`` ``[B, L, H]``."""
        return {"h": enc["h0"], "c": enc["c0"]}

    def state_shapes(self, batch_size: int) -> Dict[str, tuple]:
        """``h``, ``c``: ``(B, L, H)``."""
        shape = (batch_size, self.config.num_layers, self.config.hidden_dim)
        return {"h": shape, "c": shape}

    def _run_decoder(self, tgt_in: Tensor, h: Tensor, c: Tensor):
        embedded = self.dropout(self.embed_tokens(self.tgt_embedding, tgt_in))  # [B, T, E]
        hx = (h.transpose(0, 1).contiguous(), c.transpose(0, 1).contiguous())  # [L, B, H]
        outputs, (h, c) = self.decoder_rnn(embedded, hx)  # [B, T, H]
        return self.out(self.dropout(outputs)), h.transpose(0, 1), c.transpose(0, 1)

    def decode_step(self, prev_tokens: Tensor, state: TensorDict, enc: TensorDict) -> StepOutput:
        """See :meth:`Seq2Seq.decode_step`; ``attn_weights`` is ``None`` (no attention).

        Raises:
            ValueError: ``prev_tokens`` not ``[B]`` integer ids of the target vocabulary; batch
                sizes of ``prev_tokens``, ``state`` and ``enc`` that differ.
        """
        self.check_step_args(prev_tokens, state, enc)
        logits, h, c = self._run_decoder(prev_tokens.unsqueeze(1), state["h"], state["c"])
        return StepOutput(logits.squeeze(1), {"h": h, "c": c}, None)

    def forward_teacher_forced(self, enc: TensorDict, tgt_in: Tensor) -> Seq2SeqOutput:
        """All target positions in one LSTM call (the decoder input is always the gold word)."""
        logits, _, _ = self._run_decoder(tgt_in, enc["h0"], enc["c0"])
        return Seq2SeqOutput(logits, None)  # [B, T-1, V]
