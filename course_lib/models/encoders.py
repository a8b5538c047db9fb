"""The recurrent encoder shared by the course's models."""

from __future__ import annotations

from typing import Tuple, Union

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..checks import check_choice, check_int, check_real
from .base import check_source

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
        cell: ``"lstm"`` (Sutskever et al. 2014; Luong et al. 2015) or ``"gru"`` (Bahdanau et al. 2015).
        bidirectional: read the sentence both ways (Bahdanau et al. 2015, sec. 3.2).
        pad_id: id of ``<pad>``.

    Shapes:
        ``forward(src [B, S], src_lens [B])`` returns ``enc_outputs [B, S, H * directions]`` and the
        final hidden state(s) ``[num_layers * directions, B, H]`` (a pair ``(h, c)`` for LSTM).

    Raises:
        ValueError: an unknown ``cell``, a size below 1, ``dropout`` outside ``[0, 1)``, ``pad_id``
            outside ``[0, vocab_size)`` (InputTypeError for a wrong type).
    """

    def __init__(self, vocab_size: int, emb_dim: int, hidden_dim: int, num_layers: int = 1, dropout: float = 0.0,
                 cell: str = "lstm", bidirectional: bool = False, pad_id: int = 0):
        super().__init__()
        self.cell = check_choice(cell, "cell", ("lstm", "gru"))
        sizes = dict(vocab_size=vocab_size, emb_dim=emb_dim, hidden_dim=hidden_dim, num_layers=num_layers)
        vocab_size, emb_dim, self.hidden_dim, self.num_layers = (check_int(v, k, low=1) for k, v in sizes.items())
        dropout = check_real(dropout, "dropout", low=0.0, high=1.0, high_open=True)
        pad_id = check_int(pad_id, "pad_id", low=0, high=vocab_size - 1)
        self.num_directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(
            emb_dim, hidden_dim, num_layers=num_layers, batch_first=True, bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0)

    @property
    def output_dim(self) -> int:
        """Size of each encoder output vector: ``H * directions``."""
        return self.hidden_dim * self.num_directions

    def forward(self, src: Tensor, src_lens: Tensor) -> Tuple[Tensor, Hidden]:
        """Check the batch (:func:`course_lib.models.base.check_source`), then :meth:`run` it.

        Raises:
            InputTypeError, ValueError: ``src`` not ``[B, S]`` integer ids of the vocabulary;
                ``src_lens`` not ``[B]`` integers in ``[1, S]``.
        """
        check_source(src, src_lens, self.embedding.num_embeddings)
        return self.run(src, src_lens)

    def run(self, src: Tensor, src_lens: Tensor) -> Tuple[Tensor, Hidden]:
        """:meth:`forward` without the checks, for a model whose ``encode`` checked the batch."""
        embedded = self.dropout(self.embedding(src))  # [B, S, E]
        packed = pack_padded_sequence(embedded, src_lens.cpu(), batch_first=True, enforce_sorted=False)
        packed_out, hidden = self.rnn(packed)
        enc_outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=src.size(1))
        return enc_outputs, hidden  # [B, S, H * directions]
