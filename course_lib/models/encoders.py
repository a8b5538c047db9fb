"""Recurrent encoders shared by the course's models."""

from __future__ import annotations

from typing import Tuple, Union

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..attention import require_fraction, require_positive_int

__all__ = ["RNNEncoder"]

Hidden = Union[Tensor, Tuple[Tensor, Tensor]]


class RNNEncoder(nn.Module):
    """Embedding + (optionally bidirectional) stacked LSTM or GRU over a padded batch.

    Padding is skipped with ``pack_padded_sequence``: the recurrence never reads ``<pad>``,
    the final states are those of each sentence's last real token, and ``enc_outputs`` are
    exactly zero at padded positions.

    Args:
        vocab_size: ``V_src``. emb_dim: ``E``. hidden_dim: ``H`` per direction.
        num_layers: stacked layers. dropout: on embeddings and between layers.
        cell: ``"lstm"`` (Sutskever et al. 2014; Luong et al. 2015) or ``"gru"``
            (Cho et al. 2014; Bahdanau et al. 2015).
        bidirectional: read the sentence both ways (Bahdanau et al. 2015, sec. 3.2).
        pad_id: id of ``<pad>``.

    Shapes:
        ``forward(src [B, S], src_lens [B])`` returns ``enc_outputs [B, S, H * directions]`` and
        the final hidden state(s) ``[num_layers * directions, B, H]`` (a pair ``(h, c)`` for LSTM).

    Raises:
        ValueError: unknown ``cell``; a size that is not a positive integer; ``dropout``
            outside ``[0, 1)``; ``pad_id`` outside ``[0, vocab_size)``; in :meth:`forward`,
            a bad ``src`` or ``src_lens``.
    """

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int,
        hidden_dim: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        cell: str = "lstm",
        bidirectional: bool = False,
        pad_id: int = 0,
    ):
        super().__init__()
        if cell not in ("lstm", "gru"):
            raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}")
        vocab_size = require_positive_int(vocab_size, "vocab_size")
        emb_dim = require_positive_int(emb_dim, "emb_dim")
        hidden_dim = require_positive_int(hidden_dim, "hidden_dim")
        num_layers = require_positive_int(num_layers, "num_layers")
        dropout = require_fraction(dropout, "dropout")
        if isinstance(pad_id, bool) or not isinstance(pad_id, int) or not 0 <= pad_id < vocab_size:
            raise ValueError(f"pad_id must be an id in [0, {vocab_size}), got {pad_id!r}")
        self.cell = cell
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        rnn_cls = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn_cls(
            emb_dim,
            hidden_dim,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )

    @property
    def output_dim(self) -> int:
        """Size of each encoder output vector: ``H * directions``."""
        return self.hidden_dim * self.num_directions

    def forward(self, src: Tensor, src_lens: Tensor) -> Tuple[Tensor, Hidden]:
        """Encode ``src`` ``[B, S]``; see the class docstring for the shapes returned.

        The lengths are checked on their CPU copy, which packing needs anyway (no extra
        host--device synchronisation).

        Raises:
            ValueError: ``src`` not a non-empty 2-D integer tensor; ``src_lens`` not ``[B]``
                integers in ``[1, S]``; an id outside ``[0, vocab_size)`` (CPU tensors).
        """
        if not isinstance(src, Tensor) or src.dim() != 2 or src.numel() == 0 or src.is_floating_point() \
                or src.dtype == torch.bool or src.is_complex():
            raise ValueError(f"src must be a non-empty [B, S] tensor of integer ids, got "
                             f"{tuple(src.shape) if isinstance(src, Tensor) else type(src).__name__}"
                             + (f" of dtype {src.dtype}" if isinstance(src, Tensor) else ""))
        if not isinstance(src_lens, Tensor) or tuple(src_lens.shape) != (src.size(0),) \
                or src_lens.is_floating_point() or src_lens.dtype == torch.bool or src_lens.is_complex():
            raise ValueError(f"src_lens must be a [B] = [{src.size(0)}] integer tensor, got "
                             f"{tuple(src_lens.shape) if isinstance(src_lens, Tensor) else type(src_lens).__name__}")
        lens = src_lens.cpu()
        if int(lens.min()) < 1 or int(lens.max()) > src.size(1):
            raise ValueError(f"src_lens must lie in [1, S] = [1, {src.size(1)}], got lengths in "
                             f"[{int(lens.min())}, {int(lens.max())}]")
        try:
            embedded = self.dropout(self.embedding(src))  # [B, S, E]
        except IndexError:
            raise ValueError(f"src holds ids outside [0, {self.embedding.num_embeddings}) (the source "
                             "vocabulary)") from None
        packed = pack_padded_sequence(embedded, lens, batch_first=True, enforce_sorted=False)
        packed_out, hidden = self.rnn(packed)
        enc_outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=src.size(1))
        return enc_outputs, hidden  # [B, S, H * directions]
