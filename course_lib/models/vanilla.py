"""The plain encoder--decoder of Sutskever et al. (2014), "Sequence to Sequence Learning
with Neural Networks": a stacked LSTM reads the source, its final state initialises a
stacked LSTM that writes the target. The whole source reaches the decoder only through that
fixed-size state -- the bottleneck lesson 01 measures and attention removes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

from torch import Tensor, nn

from .base import ModelConfig, Seq2Seq, Seq2SeqOutput, TensorDict, lstm_state
from .encoders import RNNEncoder

__all__ = ["VanillaConfig", "VanillaSeq2Seq"]


@dataclass
class VanillaConfig(ModelConfig):
    """Sizes of :class:`VanillaSeq2Seq` (defaults fit a laptop; the paper used 4 x 1000, sec. 3.4).

    Attributes:
        emb_dim: ``E``. hidden_dim: ``H`` of every LSTM layer. num_layers: encoder and decoder depth.
        dropout: on embeddings, between layers and before the output layer.

    Raises:
        ValueError: a size below 1 or ``dropout`` outside ``[0, 1)`` (the message names the field).
    """

    emb_dim: int = 256
    hidden_dim: int = 512
    num_layers: int = 2
    dropout: float = 0.3
    sizes = ("emb_dim", "hidden_dim", "num_layers")


class VanillaSeq2Seq(Seq2Seq):
    """Sutskever et al. (2014) encoder--decoder with stacked LSTMs (sec. 2 and 3.4). No attention.

    The encoder's final ``(h, c)`` of every layer start the decoder's; the readout is
    ``p(y_t | y_<t, x) = softmax(W_o h_t)``.

    Args:
        src_vocab_size, tgt_vocab_size: vocabulary sizes. config: :class:`VanillaConfig`.
        pad_id, sos_id, eos_id: special ids of the vocabularies.

    Encoder dictionary: ``enc_outputs [B, S, H]``, ``src_pad_mask [B, S]``, ``h0``/``c0``
    ``[B, L, H]``. Decoder state: ``h``/``c`` ``[B, L, H]`` (batch-first so search can reorder).

    Raises:
        InputTypeError, ValueError: a bad ``config`` or vocabulary argument (see :class:`Seq2Seq`).
    """

    config_class = VanillaConfig

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, config: Optional[VanillaConfig] = None,
                 pad_id: int = 0, sos_id: int = 2, eos_id: int = 3):
        super().__init__(src_vocab_size, tgt_vocab_size, pad_id, sos_id, eos_id, config)
        config = self.config
        self.encoder = RNNEncoder(src_vocab_size, config.emb_dim, config.hidden_dim, config.num_layers,
                                  config.dropout, cell="lstm", pad_id=pad_id)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, config.emb_dim, padding_idx=pad_id)
        self.decoder_rnn = nn.LSTM(config.emb_dim, config.hidden_dim, num_layers=config.num_layers,
                                   batch_first=True, dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        self.out = nn.Linear(config.hidden_dim, tgt_vocab_size)

    def encode(self, src: Tensor, src_lens: Tensor) -> TensorDict:
        """See :meth:`Seq2Seq.encode` (keys in the class docstring).

        Raises:
            ValueError: a bad source batch (see :meth:`Seq2Seq.source_pad_mask`).
        """
        src_pad_mask = self.source_pad_mask(src, src_lens)
        enc_outputs, (h, c) = self.encoder.run(src, src_lens)
        return {"enc_outputs": enc_outputs, "src_pad_mask": src_pad_mask,
                "h0": h.transpose(0, 1), "c0": c.transpose(0, 1)}  # [B, L, H]

    def init_state(self, enc: TensorDict) -> TensorDict:
        """The encoder's final state, layer by layer: ``h``, ``c`` ``[B, L, H]``."""
        return {"h": enc["h0"], "c": enc["c0"]}

    def state_shapes(self, batch_size: int) -> Dict[str, tuple]:
        """``h``, ``c``: ``(B, L, H)``."""
        shape = (batch_size, self.config.num_layers, self.config.hidden_dim)
        return {"h": shape, "c": shape}

    def step(self, emb: Tensor, state: TensorDict, enc: TensorDict):
        """One LSTM step on ``E y_{t-1}`` ``[B, E]``: ``(new state, h_t of the top layer [B, H], None)``."""
        output, (h, c) = self.decoder_rnn(emb.unsqueeze(1), lstm_state(state["h"], state["c"]))
        return {"h": h.transpose(0, 1), "c": c.transpose(0, 1)}, output.squeeze(1), None

    def output(self, features: Tensor) -> Tensor:
        """``W_o dropout(h_t) + b_o``: ``[..., H] -> [..., V]``."""
        return self.out(self.dropout(features))

    def forward_teacher_forced(self, enc: TensorDict, tgt_in: Tensor, tgt: Optional[Tensor] = None) -> Seq2SeqOutput:
        """All target positions in one LSTM call (the decoder input is always the gold word)."""
        outputs, _ = self.decoder_rnn(self.embed(tgt_in), lstm_state(enc["h0"], enc["c0"]))  # [B, T-1, H]
        return Seq2SeqOutput(self.output(outputs), None)
