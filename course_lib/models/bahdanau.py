"""RNNsearch: the attention model of Bahdanau, Cho & Bengio (2015), "Neural Machine
Translation by Jointly Learning to Align and Translate" (ICLR).

A bidirectional GRU reads the source; at every target position the decoder

1. scores every source annotation ``h_j`` against its *previous* state ``s_{i-1}`` with the
   additive alignment model ``e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j + b)`` (appendix A.1.2),
2. turns the scores into weights ``alpha_ij = softmax_j(e_ij)`` (eq. 6; padding gets 0),
3. averages the annotations into the context ``c_i = sum_j alpha_ij h_j`` (eq. 5),
4. updates its GRU state ``s_i = GRU([E y_{i-1}; c_i], s_{i-1})`` (eq. 4, A.2.2),
5. predicts ``y_i`` from ``[s_i; c_i; E y_{i-1}]`` (the "deep output", eq. 4 / A.2.2).

Two simplifications, shared with the best-known public re-implementation
(bentrevett/pytorch-seq2seq, notebook 3): the deep output is one linear layer instead of the
paper's maxout layer (A.2.2), and it reads the *new* state ``s_i`` rather than ``s_{i-1}``.
:meth:`BahdanauConfig.tutorial` gives that implementation's layer sizes (and ``s_0`` from
both final encoder states); the default config follows the paper's ``s_0``.

Speed (see ``bench/README.md``): the encoder is packed (no work on padding), ``U_a h_j + b``
is computed once per sentence in :meth:`BahdanauSeq2Seq.encode`, and the training pass
(:meth:`BahdanauSeq2Seq.forward`) packs the decoder too (step ``t`` runs only on the
sentences whose target is still going) and moves everything that does not depend on the
previous state out of the step loop: the target embeddings, their share of the GRU input
projection, and the output layer (one large matrix product after the loop for every
position whose argmax is not needed to choose the next input).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..attention import AdditiveAttention
from ..utils import dataclass_from_dict
from .base import Seq2Seq, Seq2SeqOutput, StepOutput, TensorDict, lengths_to_pad_mask
from .encoders import RNNEncoder

__all__ = ["BahdanauConfig", "BahdanauSeq2Seq", "draw_teacher_forcing_coins", "sort_by_target_length",
           "scatter_rows", "PackedSchedule", "packed_schedule"]


@dataclass
class BahdanauConfig:
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

    Raises (in :class:`BahdanauSeq2Seq`):
        ValueError: ``init_from`` is not ``"backward"`` or ``"both"``.
    """

    emb_dim: int = 128
    enc_hidden_dim: int = 256
    dec_hidden_dim: int = 256
    attn_dim: int = 256
    dropout: float = 0.3
    init_from: str = "backward"

    @classmethod
    def tutorial(cls) -> "BahdanauConfig":
        """The configuration of bentrevett/pytorch-seq2seq notebook 3 (about 20.5 M parameters
        with Multi30k de-en, ``min_freq=2``, lowercased): ``E=256``, ``H_enc=H=A=512``,
        dropout 0.5, ``s_0`` from both final encoder states."""
        return cls(emb_dim=256, enc_hidden_dim=512, dec_hidden_dim=512, attn_dim=512, dropout=0.5, init_from="both")

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "BahdanauConfig":
        """Build a config from a dictionary.

        Raises:
            ValueError: a key is not a field (the message lists the valid ones).
        """
        return dataclass_from_dict(cls, values)


def draw_teacher_forcing_coins(num_positions: int, ratio: float) -> List[bool]:
    """One teacher-forcing coin per target position, drawn up front.

    Position 0 always reads ``<sos>`` (True). For ``t >= 1`` the coin is
    ``random.random() < ratio``, drawn in order from Python's ``random`` exactly as
    :meth:`Seq2Seq.forward` draws it (none are drawn when ``ratio >= 1``), so a seeded run
    takes the same decisions in the fast and the step-by-step training pass.

    Returns:
        ``num_positions`` booleans: True = feed the gold previous word.
    """
    if ratio >= 1.0:
        return [True] * num_positions
    return [True] + [random.random() < ratio for _ in range(num_positions - 1)]


def sort_by_target_length(tgt: Tensor, pad_id: int) -> tuple[Tensor, List[int]]:
    """Order a batch for a packed decoder loop (longest target first).

    Args:
        tgt: ``[B, T]`` targets, each row ``<sos> ... <eos>`` followed by padding only.
        pad_id: id of ``<pad>``.

    Returns:
        ``order`` ``[B]`` (long, same device: the sentences, longest target first) and
        ``active``: for every predicted position ``t < T - 1``, how many sentences still
        have a real target there (non-increasing, so step ``t`` runs on the first
        ``active[t]`` sentences of the ordered batch; trailing zeros mean nothing to do).
    """
    T = tgt.size(1) - 1
    out_lens = (tgt[:, 1:] != pad_id).sum(1)  # [B] predicted positions, <eos> included
    out_lens, order = out_lens.sort(descending=True, stable=True)
    active = (out_lens.unsqueeze(0) > torch.arange(T, device=tgt.device).unsqueeze(1)).sum(1)  # [T]
    return order, active.tolist()


@dataclass
class PackedSchedule:
    """How a packed training pass walks a batch (see :func:`packed_schedule`).

    Attributes:
        enc: the encoder dictionary with its rows in ``order`` (longest target first).
        order: ``[B]`` the sentences, longest target first.
        active: per position, how many of the ordered sentences still have a real target.
        steps: positions with at least one real target.
        gold: per position, True = feed the gold previous word (teacher forcing).
        need_now: per position, True = its logits are needed inside the loop (their argmax
            is the next input); the others can be computed after the loop.
        tgt_in: ``[B, steps]`` the decoder inputs in ``order``.
    """

    enc: TensorDict
    order: Tensor
    active: List[int]
    steps: int
    gold: List[bool]
    need_now: List[bool]
    tgt_in: Tensor


def packed_schedule(model: Seq2Seq, src: Tensor, src_lens: Tensor, tgt: Tensor, ratio: float) -> PackedSchedule:
    """Encode a batch and plan a packed decoder loop: the set-up shared by the fast training
    passes of :class:`BahdanauSeq2Seq` and :class:`~course_lib.models.LuongSeq2Seq`.

    Draws the teacher-forcing coins (:func:`draw_teacher_forcing_coins`), orders the batch by
    target length (:func:`sort_by_target_length`) and reorders the encoder dictionary to match.
    """
    T = tgt.size(1) - 1
    gold = draw_teacher_forcing_coins(T, ratio)
    enc = model.encode(src, src_lens)
    order, active = sort_by_target_length(tgt, model.pad_id)  # the active sentences are a prefix
    steps = sum(1 for n in active if n > 0)
    enc = {k: v.index_select(0, order) for k, v in enc.items()}
    need_now = [t + 1 < steps and not gold[t + 1] for t in range(steps)]  # argmax feeds step t+1
    return PackedSchedule(enc, order, active, steps, gold, need_now, tgt.index_select(0, order)[:, :steps])


def scatter_rows(chunks: List[Tensor], rows: List[Tensor], num_rows: int) -> Tensor:
    """Put the rows ``cat(chunks)`` (``[N, X]``) at flat positions ``cat(rows)`` of a zero
    ``[num_rows, X]`` tensor (differentiable; used to unpack a packed decoder's outputs)."""
    flat = torch.cat(chunks)
    return flat.new_zeros(num_rows, flat.size(-1)).index_copy(0, torch.cat(rows), flat)


class BahdanauSeq2Seq(Seq2Seq):
    """RNNsearch (Bahdanau et al. 2015, sec. 3 and appendix A) on the course's interface.

    Encoder (sec. 3.2): ``h_j = [h_j_forward; h_j_backward]`` from a packed bidirectional
    GRU; ``enc_outputs [B, S, 2 H_enc]`` are exactly zero at padding.
    Decoder step ``i`` (sec. 3.1, A.1.2, A.2.2)::

        e_ij  = v_a^T tanh(W_a s_{i-1} + U_a h_j + b)     score of source position j
        alpha = masked softmax_j(e_ij)                    0.0 exactly at padding
        c_i   = sum_j alpha_ij h_j
        s_i   = GRU([E y_{i-1}; c_i], s_{i-1})
        logits_i = W_o [s_i; c_i; E y_{i-1}] + b_o        ("deep output", one linear layer)

    The alignment model is :class:`course_lib.attention.AdditiveAttention` (``W_a``,
    ``U_a``, ``v_a`` without bias) plus one bias vector ``attn_bias`` ``[A]``, so it has
    exactly the parameters of ``Linear(H + 2 H_enc -> A) + v`` used by the public tutorial.

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
        ValueError: unknown ``config.init_from``.
    """

    has_attention = True

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, config: Optional[BahdanauConfig] = None,
                 pad_id: int = 0, sos_id: int = 2, eos_id: int = 3):
        super().__init__(src_vocab_size, tgt_vocab_size, pad_id, sos_id, eos_id)
        self.config = config = config or BahdanauConfig()
        if config.init_from not in ("backward", "both"):
            raise ValueError(f"init_from must be 'backward' or 'both', got {config.init_from!r}")
        E, H_enc, H, A = config.emb_dim, config.enc_hidden_dim, config.dec_hidden_dim, config.attn_dim
        self.encoder = RNNEncoder(src_vocab_size, E, H_enc, num_layers=1, dropout=config.dropout,
                                  cell="gru", bidirectional=True, pad_id=pad_id)
        self.init_proj = nn.Linear(H_enc * (2 if config.init_from == "both" else 1), H)  # W_s
        self.attention = AdditiveAttention(query_dim=H, key_dim=2 * H_enc, attn_dim=A)
        self.attn_bias = nn.Parameter(torch.zeros(A))  # b of e_ij, folded into the projected keys
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, E, padding_idx=pad_id)
        self.rnn = nn.GRUCell(E + 2 * H_enc, H)  # input [E y_{i-1}; c_i]
        self.out = nn.Linear(H + 2 * H_enc + E, tgt_vocab_size)  # deep output on [s_i; c_i; E y_{i-1}]
        self.dropout = nn.Dropout(config.dropout)

    # --- the interface -------------------------------------------------------------------
    def encode(self, src: Tensor, src_lens: Tensor) -> TensorDict:
        """Encode ``src [B, S]`` (lengths ``src_lens [B]``); see the class docstring for the keys.

        Raises:
            ValueError: a length below 1.
        """
        src_pad_mask = lengths_to_pad_mask(src_lens.to(src.device), src.size(1))  # checks lengths >= 1
        enc_outputs, hidden = self.encoder(src, src_lens)  # [B, S, 2 H_enc], [2, B, H_enc]
        if self.config.init_from == "both":
            final = torch.cat([hidden[0], hidden[1]], dim=-1)  # [B, 2 H_enc]
        else:
            final = hidden[1]  # backward direction's state at position 1: [B, H_enc]
        return {
            "enc_outputs": enc_outputs,
            "src_pad_mask": src_pad_mask,
            "proj_keys": self.attention.project_keys(enc_outputs) + self.attn_bias,  # [B, S, A]
            "h0": torch.tanh(self.init_proj(final)),  # [B, H]
        }

    def init_state(self, enc: TensorDict) -> TensorDict:
        """``{"h": s_0 [B, H]}``."""
        return {"h": enc["h0"]}

    def attend(self, query: Tensor, enc: TensorDict) -> tuple[Tensor, Tensor]:
        """Additive attention of ``query`` (``s_{i-1}``, ``[B, H]``) over the encoded batch.

        Same result as ``self.attention(query, enc_outputs, mask=src_pad_mask,
        proj_keys=enc["proj_keys"])``; the mask was already validated in :meth:`encode`, so
        the per-step check (a host synchronisation on a GPU) is skipped.

        Returns:
            ``context [B, 2 H_enc]`` and ``weights [B, S]`` (exactly 0.0 at padding).
        """
        scores = self.attention.score(query, enc["proj_keys"])  # [B, S]
        weights = scores.masked_fill(enc["src_pad_mask"], float("-inf")).softmax(-1)
        context = torch.bmm(weights.unsqueeze(1), enc["enc_outputs"]).squeeze(1)  # [B, 2 H_enc]
        return context, weights

    def decode_step(self, prev_tokens: Tensor, state: TensorDict, enc: TensorDict) -> StepOutput:
        """One target position (see the class docstring); ``attn_weights`` are ``alpha_i [B, S]``."""
        s_prev = state["h"]
        context, weights = self.attend(s_prev, enc)
        embedded = self.dropout(self.tgt_embedding(prev_tokens))  # [B, E]
        s = self.rnn(torch.cat([embedded, context], dim=-1), s_prev)  # [B, H]
        logits = self.out(torch.cat([s, context, embedded], dim=-1))  # [B, V]
        return StepOutput(logits, {"h": s}, weights)

    # --- fast training pass --------------------------------------------------------------
    def forward(self, src: Tensor, src_lens: Tensor, tgt: Tensor, teacher_forcing_ratio: float = 1.0) -> Seq2SeqOutput:
        """Training pass with the decisions of :meth:`Seq2Seq.forward`, restructured for speed.

        Same teacher-forcing decisions as the base loop (one coin per position for the whole
        batch, drawn with :func:`draw_teacher_forcing_coins`, so a seeded run matches it) and
        the same numbers up to floating-point rounding at every position whose target is a
        real token. What changes is where the work happens:

        - the decoder is *packed*: sentences are ordered by target length and step ``t``
          runs only on the sentences whose target still has a real token at ``t``, so no
          work is spent after a sentence's ``<eos>``;
        - ``E y`` of every gold input word, and its share ``W_ih[:, :E] E y + b_ih`` of the
          GRU input projection, come from one matrix product before the loop;
        - the GRU cell is written out (gates ``r, z, n`` as in ``torch.nn.GRUCell``) so the
          loop only adds ``W_ih[:, E:] c_i``;
        - the output layer runs after the loop, as one matrix product over every position
          whose argmax does not choose the next input (all of them at teacher forcing 1.0).

        Args:
            src: ``[B, S]``; src_lens: ``[B]``; tgt: ``[B, T]``, each row ``<sos> ... <eos>``
                followed by padding only.
            teacher_forcing_ratio: probability in ``[0, 1]`` of feeding the gold word.

        Returns:
            :class:`Seq2SeqOutput`: ``logits [B, T-1, V]`` and ``attn_weights [B, T-1, S]``.
            Positions whose target ``tgt[:, 1:]`` is ``<pad>`` are not computed: their
            logits and weights are 0 (the loss ignores them).

        Raises:
            ValueError: ``teacher_forcing_ratio`` outside ``[0, 1]``, batch sizes that differ,
                a source length below 1.
        """
        self.check_forward_args(src, src_lens, tgt, teacher_forcing_ratio)
        B, T = tgt.size(0), tgt.size(1) - 1
        plan = packed_schedule(self, src, src_lens, tgt, teacher_forcing_ratio)
        enc, order, active, steps = plan.enc, plan.order, plan.active, plan.steps
        gold, need_now = plan.gold, plan.need_now
        tgt_in = plan.tgt_in

        E = self.config.emb_dim
        w_ih_emb, w_ih_ctx = self.rnn.weight_ih[:, :E], self.rnn.weight_ih[:, E:]
        gold_emb = self.dropout(self.tgt_embedding(tgt_in))  # [B, T, E]
        gold_gi = F.linear(gold_emb, w_ih_emb, self.rnn.bias_ih)  # [B, T, 3H]

        s = enc["h0"]
        later_feats: List[Tensor] = []  # [s_i; c_i; E y_{i-1}] of positions scored after the loop
        later_rows: List[Tensor] = []
        now_logits: List[Tensor] = []
        now_rows: List[Tensor] = []
        weights: List[Tensor] = []
        weight_rows: List[Tensor] = []
        row_ids = order * T  # [B] flat index of (sentence, position 0) in the [B * T] output
        prev_logits: Optional[Tensor] = None
        for t in range(steps):
            n = active[t]
            if gold[t]:
                emb_t, gi_emb = gold_emb[:n, t], gold_gi[:n, t]
            else:
                emb_t = self.dropout(self.tgt_embedding(prev_logits[:n].argmax(-1)))
                gi_emb = F.linear(emb_t, w_ih_emb, self.rnn.bias_ih)
            enc_t = {"proj_keys": enc["proj_keys"][:n], "src_pad_mask": enc["src_pad_mask"][:n],
                     "enc_outputs": enc["enc_outputs"][:n]}
            context, alpha = self.attend(s[:n], enc_t)
            s = self._gru_cell(gi_emb + F.linear(context, w_ih_ctx), s[:n])
            feat = torch.cat([s, context, emb_t], dim=-1)  # [n, H + 2 H_enc + E]
            rows = row_ids[:n] + t
            weights.append(alpha)
            weight_rows.append(rows)
            if need_now[t]:
                prev_logits = self.out(feat)
                now_logits.append(prev_logits)
                now_rows.append(rows)
            else:
                later_feats.append(feat)
                later_rows.append(rows)
        if later_feats:
            now_logits.append(self.out(torch.cat(later_feats)))  # one product for all of them
            now_rows.append(torch.cat(later_rows))
        logits = scatter_rows(now_logits, now_rows, B * T)  # [B * T, V]
        attn = scatter_rows(weights, weight_rows, B * T)  # [B * T, S]
        return Seq2SeqOutput(logits.view(B, T, -1), attn.view(B, T, -1))  # [B, T, V], [B, T, S]

    def _gru_cell(self, gi: Tensor, h: Tensor) -> Tensor:
        """``torch.nn.GRUCell`` with the input projection ``gi = W_ih x + b_ih`` given: ``[B, 3H]``."""
        gh = F.linear(h, self.rnn.weight_hh, self.rnn.bias_hh)  # [B, 3H]
        i_r, i_z, i_n = gi.chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return n + z * (h - n)  # = (1 - z) * n + z * h
