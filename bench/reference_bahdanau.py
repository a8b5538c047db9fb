"""A straightforward Bahdanau-attention seq2seq, written the way most tutorials write it.

This is the *baseline* of ``bench/train_speed.py``, not part of the course library: the same
model and parameters as :class:`course_lib.models.BahdanauSeq2Seq` with
``BahdanauConfig.tutorial()`` (the layout of bentrevett/pytorch-seq2seq notebook 3), but

- time-major tensors (``[S, B]``, ``[T, B]``), as in that tutorial;
- no packing: the encoder GRU runs over every padded position;
- no source mask (padding takes part in the softmax, as in the tutorial);
- the alignment model ``v^T tanh(W [s_{i-1}; h_j] + b)`` evaluated on the concatenation
  ``[decoder state; every encoder output]`` at *every* decoder step, so the encoder
  outputs' share of ``W`` is recomputed ``T`` times per sentence;
- one decoder step per Python call, output layer per step, logits written into a
  preallocated ``[T, B, V]`` tensor, teacher-forcing coin drawn after each step.

Used with plain random-order batches (no length bucketing). Parameter count equals the
course model's exactly (``bench/train_speed.py`` checks it).
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["RefEncoder", "RefAttention", "RefDecoder", "RefSeq2Seq", "build_reference"]


class RefEncoder(nn.Module):
    """Embedding + bidirectional GRU over the padded batch; ``s_0 = tanh(fc([h_fwd; h_bwd]))``."""

    def __init__(self, input_dim: int, emb_dim: int, enc_hid_dim: int, dec_hid_dim: int, dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(input_dim, emb_dim)
        self.rnn = nn.GRU(emb_dim, enc_hid_dim, bidirectional=True)
        self.fc = nn.Linear(enc_hid_dim * 2, dec_hid_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, src: Tensor):
        embedded = self.dropout(self.embedding(src))  # [S, B, E]
        outputs, hidden = self.rnn(embedded)  # [S, B, 2H_enc], [2, B, H_enc]
        hidden = torch.tanh(self.fc(torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1)))
        return outputs, hidden


class RefAttention(nn.Module):
    """``softmax_j v^T tanh(W [s; h_j] + b)``, recomputed over all ``j`` at every call."""

    def __init__(self, enc_hid_dim: int, dec_hid_dim: int):
        super().__init__()
        self.attn = nn.Linear(enc_hid_dim * 2 + dec_hid_dim, dec_hid_dim)
        self.v = nn.Linear(dec_hid_dim, 1, bias=False)

    def forward(self, hidden: Tensor, encoder_outputs: Tensor) -> Tensor:
        src_len = encoder_outputs.shape[0]
        hidden = hidden.unsqueeze(1).repeat(1, src_len, 1)  # [B, S, H]
        encoder_outputs = encoder_outputs.permute(1, 0, 2)  # [B, S, 2H_enc]
        energy = torch.tanh(self.attn(torch.cat((hidden, encoder_outputs), dim=2)))  # [B, S, H]
        attention = self.v(energy).squeeze(2)  # [B, S]
        return F.softmax(attention, dim=1)


class RefDecoder(nn.Module):
    """One step: attention on ``s_{i-1}``, GRU on ``[E y; c]``, output on ``[s_i; c; E y]``."""

    def __init__(self, output_dim: int, emb_dim: int, enc_hid_dim: int, dec_hid_dim: int, dropout: float,
                 attention: RefAttention):
        super().__init__()
        self.output_dim = output_dim
        self.attention = attention
        self.embedding = nn.Embedding(output_dim, emb_dim)
        self.rnn = nn.GRU(enc_hid_dim * 2 + emb_dim, dec_hid_dim)
        self.fc_out = nn.Linear(enc_hid_dim * 2 + dec_hid_dim + emb_dim, output_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, input: Tensor, hidden: Tensor, encoder_outputs: Tensor):
        input = input.unsqueeze(0)  # [1, B]
        embedded = self.dropout(self.embedding(input))  # [1, B, E]
        a = self.attention(hidden, encoder_outputs).unsqueeze(1)  # [B, 1, S]
        encoder_outputs = encoder_outputs.permute(1, 0, 2)
        weighted = torch.bmm(a, encoder_outputs).permute(1, 0, 2)  # [1, B, 2H_enc]
        rnn_input = torch.cat((embedded, weighted), dim=2)
        output, hidden = self.rnn(rnn_input, hidden.unsqueeze(0))
        embedded, output, weighted = embedded.squeeze(0), output.squeeze(0), weighted.squeeze(0)
        prediction = self.fc_out(torch.cat((output, weighted, embedded), dim=1))  # [B, V]
        return prediction, hidden.squeeze(0)


class RefSeq2Seq(nn.Module):
    """Time-major training forward: ``src [S, B]``, ``trg [T, B]`` -> ``outputs [T, B, V]``
    (row 0 stays zero, as in the tutorial; the loss uses ``outputs[1:]``)."""

    def __init__(self, encoder: RefEncoder, decoder: RefDecoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, src: Tensor, trg: Tensor, teacher_forcing_ratio: float = 0.5) -> Tensor:
        batch_size, trg_len = src.shape[1], trg.shape[0]
        outputs = torch.zeros(trg_len, batch_size, self.decoder.output_dim, device=src.device)
        encoder_outputs, hidden = self.encoder(src)
        input = trg[0, :]
        for t in range(1, trg_len):
            output, hidden = self.decoder(input, hidden, encoder_outputs)
            outputs[t] = output
            teacher_force = random.random() < teacher_forcing_ratio
            top1 = output.argmax(1)
            input = trg[t] if teacher_force else top1
        return outputs


def build_reference(src_vocab_size: int, tgt_vocab_size: int, emb_dim: int = 256, enc_hid_dim: int = 512,
                    dec_hid_dim: int = 512, dropout: float = 0.5) -> RefSeq2Seq:
    """The tutorial configuration (same sizes as ``BahdanauConfig.tutorial()``)."""
    attn = RefAttention(enc_hid_dim, dec_hid_dim)
    enc = RefEncoder(src_vocab_size, emb_dim, enc_hid_dim, dec_hid_dim, dropout)
    dec = RefDecoder(tgt_vocab_size, emb_dim, enc_hid_dim, dec_hid_dim, dropout, attn)
    return RefSeq2Seq(enc, dec)
