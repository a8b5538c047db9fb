"""GNMT: the deep LSTM encoder--decoder of Wu et al. (2016), "Google's Neural Machine
Translation System: Bridging the Gap between Human and Machine Translation" (arXiv:1609.08144),
sections 3-4 and figure 1, at configurable depth and width.

Notation (the paper's, sec. 3): ``x^k_t`` is the output of encoder layer ``k`` at source
position ``t``, ``y^k_i`` the output of decoder layer ``k`` at target position ``i``,
``m^k`` / ``c^k`` an LSTM's hidden and memory state, ``a_i`` the attention context.

**Encoder** (sec. 3.2 and 3.1, fig. 1; ``L_e`` layers, ``L_e >= 2``)::

    layer 1 (bidirectional):  x^1_t = [ LSTM_fw(E s_t)_t ; LSTM_bw(E s_t)_t ]        [2H]
    layer 2:                  x^2_t = LSTM_2(x^1_t)                                    [H]
    layer k >= 3 (residual):  x^k_t = LSTM_k(x^{k-1}_t) + x^{k-1}_t                    [H]
    enc_outputs x_t = x^{L_e}_t                                                        [H]

(eq. 5-7 of sec. 3.1 give the residual form ``x^i_t = m^i_t + x^{i-1}_t``; "residual
connections start from the third layer from the bottom" in the encoder and the decoder, and
"only the bottom encoder layer is bi-directional", sec. 3.2.) With
``bidirectional_bottom=False`` layer 1 is a forward LSTM ``[H]``; with ``residual=False``
no layer adds its input.

**Attention** (sec. 3, eq. 4): ``AttentionFunction`` is a feed-forward network with one
hidden layer, here :class:`course_lib.attention.AdditiveAttention`::

    s_{i,t} = v_a^T tanh(W_a q_i + U_a x_t)      U_a x_t computed once per sentence (encode)
    p_{i,t} = softmax_t(s_{i,t})                 exactly 0.0 at padded source positions
    a_i     = sum_t p_{i,t} x_t                                                        [H]

The paper: "let y_{i-1} be the decoder-RNN output from the past decoding time step (in our
implementation, we use the output from the bottom decoder layer)". So **the query is**
``q_i = y^1_{i-1} = m^1_{i-1}``, **the bottom decoder layer's output (hidden state) at the
previous target step** -- ``state["h"][:, 0]`` of the state passed to
:meth:`GNMTSeq2Seq.decode_step` (at the first step the bottom layer's initial state). It is
computed once per step and sent to every decoder layer and to the output layer (sec. 3.3,
fig. 1: this is what lets the layers above the bottom one run on other GPUs without waiting).

**Decoder** (sec. 3, fig. 1; ``L_d`` layers, ``L_d >= 2``; step ``i`` reads ``y_{i-1}``)::

    a_i   = Attention(q_i = y^1_{i-1}, x)
    y^1_i = LSTM_1([E y_{i-1}; a_i])               bottom layer                       [H]
    y^2_i = LSTM_2([y^1_i; a_i])                                                       [H]
    y^k_i = LSTM_k([y^{k-1}_i; a_i]) + y^{k-1}_i   k >= 3 (residual, sec. 3.1)         [H]
    logits_i = W_o [y^{L_d}_i; a_i] + b_o          output ("softmax") layer            [V]

The bottom layer reads ``a_i`` too (the input feeding of the Google authors' public
implementation, tensorflow/nmt ``GNMTAttentionMultiCell``, whose bottom cell is wrapped in
the attention wrapper). The paper does not say how the decoder state starts: here every
decoder layer starts from zeros, so the source reaches the decoder through attention only.

Dropout (rate ``dropout``) acts on the embeddings, on each layer's input from the layer below
(not on the residual path or on ``a_i``) and on the output layer's input.

Speed: the encoder is packed (no work on padding; each layer is one ``nn.LSTM`` call over the
packed batch, so the residual sums skip padding too). In training, with teacher forcing 1.0,
only the bottom decoder layer and the attention form a sequential recurrence; the layers
above it then run over every target position at once (one packed ``nn.LSTM`` call each), and
the output layer is one matrix product (see :meth:`GNMTSeq2Seq.forward`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..attention import AdditiveAttention
from ..utils import dataclass_from_dict
from .bahdanau import packed_schedule, scatter_rows
from .base import Seq2Seq, Seq2SeqOutput, StepOutput, TensorDict, lengths_to_pad_mask

__all__ = ["GNMTConfig", "GNMTSeq2Seq"]


@dataclass
class GNMTConfig:
    """Depth, width and ablation switches of :class:`GNMTSeq2Seq` (defaults fit a laptop).

    The paper (Wu et al. 2016, sec. 3 and 8) used 8 encoder and 8 decoder layers of 1024
    LSTM units (:meth:`paper`).

    Attributes:
        emb_dim: ``E``, source and target embedding size.
        hidden_dim: ``H``, units of every LSTM layer (each direction of the bidirectional
            bottom encoder layer has ``H`` too, so it outputs ``2H``); the encoder outputs
            ``enc_outputs`` have ``H`` units.
        attn_dim: ``A``, hidden size of the additive attention network.
        enc_layers: ``L_e >= 2``, encoder depth (bottom layer + at least one above it).
        dec_layers: ``L_d >= 2``, decoder depth (bottom layer + at least one above it).
        dropout: rate in ``[0, 1)`` (see the module docstring for where it acts).
        residual: add each layer's input to its output from the third layer up, in the
            encoder and the decoder (sec. 3.1). With 2 layers it has nothing to act on.
        bidirectional_bottom: the bottom encoder layer reads both ways (sec. 3.2); off, it
            is a forward LSTM like the others.

    Raises:
        ValueError: on construction (and again in :class:`GNMTSeq2Seq`): a size that is not a
            positive integer, fewer than 2 layers, ``dropout`` outside ``[0, 1)`` or NaN, a
            switch that is not a bool. The message names the field.
    """

    emb_dim: int = 128
    hidden_dim: int = 256
    attn_dim: int = 256
    enc_layers: int = 3
    dec_layers: int = 3
    dropout: float = 0.2
    residual: bool = True
    bidirectional_bottom: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field; see the class docstring for the rules.

        Raises:
            ValueError: naming the first field that is wrong and what it must be.
        """
        for name in ("emb_dim", "hidden_dim", "attn_dim"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"GNMTConfig.{name} must be a positive integer, got {value!r}")
        for name in ("enc_layers", "dec_layers"):
            value = getattr(self, name)
            if not _is_int(value) or value < 2:
                raise ValueError(
                    f"GNMTConfig.{name} must be an integer >= 2 (a bottom layer and at least one above "
                    f"it; residual connections start at layer 3), got {value!r}")
        d = self.dropout
        if isinstance(d, bool) or not isinstance(d, (int, float)) or math.isnan(d) or not 0.0 <= d < 1.0:
            raise ValueError(f"GNMTConfig.dropout must be a number in [0, 1), got {d!r}")
        for name in ("residual", "bidirectional_bottom"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ValueError(f"GNMTConfig.{name} must be True or False, got {value!r}")

    @classmethod
    def paper(cls) -> "GNMTConfig":
        """Wu et al. 2016 (sec. 3, 8): 8 + 8 layers of 1024 units, attention 1024, dropout 0.2."""
        return cls(emb_dim=1024, hidden_dim=1024, attn_dim=1024, enc_layers=8, dec_layers=8, dropout=0.2)

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "GNMTConfig":
        """Build a config from a dictionary.

        Raises:
            ValueError: a key is not a field (the message lists the valid ones), or a value is
                invalid (see the class docstring).
        """
        return dataclass_from_dict(cls, values)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _lstm_cell(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """``torch.nn.LSTMCell`` from its pre-activations ``gates = W_ih x + b_ih + W_hh h + b_hh``
    ``[B, 4H]`` (order i, f, g, o) and the memory ``c [B, H]``; returns ``(h, c)``."""
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _check_ids(name: str, ids: Tensor, dims: int) -> None:
    if not isinstance(ids, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}")
    if ids.dim() != dims:
        shape = "[B, S]" if dims == 2 else "[B]"
        raise ValueError(f"{name} must be {dims}-D {shape}, got shape {tuple(ids.shape)}")
    if ids.dtype.is_floating_point or ids.is_complex() or ids.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer token ids (torch.long), got dtype {ids.dtype}")
    if ids.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(ids.shape)}): a batch needs at least one token")


class GNMTSeq2Seq(Seq2Seq):
    """GNMT (Wu et al. 2016, sec. 3-4, fig. 1) on the course's :class:`Seq2Seq` interface.

    See the module docstring for the equations. Attention is computed once per target step,
    with the query ``q_i = y^1_{i-1}``: **the bottom decoder layer's output at the previous
    step** (``state["h"][:, 0]``), and its context ``a_i`` is fed to every decoder layer and
    to the output layer.

    Args:
        src_vocab_size, tgt_vocab_size: ``V_src``, ``V`` (positive integers).
        config: :class:`GNMTConfig` (default: laptop-sized).
        pad_id, sos_id, eos_id: special ids of the target vocabulary (in ``[0, V)``).

    Attributes:
        encoder_layers: ``nn.ModuleList`` of ``L_e`` one-layer ``nn.LSTM``; ``[0]`` is the
            bidirectional bottom layer (``E -> 2 x H``), ``[1]`` maps ``2H -> H``, the rest
            ``H -> H``.
        attention: :class:`~course_lib.attention.AdditiveAttention` (query ``H``, keys ``H``).
        decoder_layers: ``nn.ModuleList``; ``[0]`` is the bottom layer, an ``nn.LSTMCell``
            with input ``[E y_{i-1}; a_i]`` (``E + H``); ``[k]`` for ``k >= 1`` are one-layer
            ``nn.LSTM`` with input ``[y^k_i; a_i]`` (``2H``).
        out: ``Linear(2H -> V)`` on ``[y^{L_d}_i; a_i]``.

    Encoder dictionary (:meth:`encode`): ``enc_outputs [B, S, H]`` (exactly 0 at padding),
    ``src_pad_mask [B, S]`` (True at padding), ``proj_keys [B, S, A]`` (``U_a x_t``, once per
    sentence). Decoder state: ``h``, ``c`` ``[B, L_d, H]`` (layer ``k`` at index ``k - 1``;
    ``h[:, 0]`` is the next step's attention query). All batch-first, so search reorders
    them with :func:`course_lib.models.select_batch`.

    Example::

        model = GNMTSeq2Seq(len(data.src_vocab), len(data.tgt_vocab), GNMTConfig(enc_layers=4, dec_layers=4))
        enc = model.encode(batch.src, batch.src_lens)
        step = model.decode_step(batch.tgt[:, 0], model.init_state(enc), enc)  # logits [B, V]
        loss.backward(); model.layer_grad_norms()  # {"encoder.layer1": ..., "decoder.layer4": ...}

    Raises:
        ValueError: an invalid config (see :class:`GNMTConfig`), a vocabulary size below 1,
            special ids outside the target vocabulary.
    """

    has_attention = True

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, config: Optional[GNMTConfig] = None,
                 pad_id: int = 0, sos_id: int = 2, eos_id: int = 3):
        for name, value in (("src_vocab_size", src_vocab_size), ("tgt_vocab_size", tgt_vocab_size)):
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name, value in (("pad_id", pad_id), ("sos_id", sos_id), ("eos_id", eos_id)):
            if not _is_int(value) or not 0 <= value < tgt_vocab_size:
                raise ValueError(f"{name} must be an id in [0, {tgt_vocab_size}) of the target vocabulary, got {value!r}")
        config = GNMTConfig() if config is None else config
        if not isinstance(config, GNMTConfig):
            raise ValueError(f"config must be a GNMTConfig (or None for the default), got {type(config).__name__}")
        config.validate()
        super().__init__(src_vocab_size, tgt_vocab_size, pad_id, sos_id, eos_id)
        self.config = config
        E, H, A = config.emb_dim, config.hidden_dim, config.attn_dim
        bi = config.bidirectional_bottom

        self.src_embedding = nn.Embedding(src_vocab_size, E, padding_idx=pad_id)
        enc: List[nn.Module] = [nn.LSTM(E, H, batch_first=True, bidirectional=bi)]
        enc.append(nn.LSTM(2 * H if bi else H, H, batch_first=True))
        enc += [nn.LSTM(H, H, batch_first=True) for _ in range(config.enc_layers - 2)]
        self.encoder_layers = nn.ModuleList(enc)

        self.attention = AdditiveAttention(query_dim=H, key_dim=H, attn_dim=A)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, E, padding_idx=pad_id)
        dec: List[nn.Module] = [nn.LSTMCell(E + H, H)]
        dec += [nn.LSTM(2 * H, H, batch_first=True) for _ in range(config.dec_layers - 1)]
        self.decoder_layers = nn.ModuleList(dec)
        self.out = nn.Linear(2 * H, tgt_vocab_size)
        self.dropout = nn.Dropout(config.dropout)

    def _residual(self, layer: int) -> bool:
        """Whether layer ``layer`` (1-based) adds its input to its output (sec. 3.1)."""
        return self.config.residual and layer >= 3

    # --- the interface -------------------------------------------------------------------
    def encode(self, src: Tensor, src_lens: Tensor) -> TensorDict:
        """Encode ``src [B, S]`` with true lengths ``src_lens [B]`` (packed: no work on padding).

        Validates the batch once here (ids, lengths, mask), so that :meth:`decode_step` can
        skip every check that would synchronise with a GPU.

        Returns:
            ``enc_outputs [B, S, H]`` (``x^{L_e}``, exactly 0.0 at padding), ``src_pad_mask
            [B, S]`` (True at padding) and ``proj_keys [B, S, A]`` (``U_a x_t``).

        Raises:
            ValueError: ``src`` not a 2-D integer tensor or empty; ids outside ``[0, V_src)``;
                ``src_lens`` not ``[B]`` integers, a length below 1 or above ``S``.
        """
        _check_ids("src", src, 2)
        if not isinstance(src_lens, Tensor) or src_lens.dim() != 1 or src_lens.size(0) != src.size(0):
            raise ValueError(f"src_lens must be a [B] tensor with B = {src.size(0)} (the batch of src), got "
                             f"shape {tuple(getattr(src_lens, 'shape', ()))}")
        src_pad_mask = lengths_to_pad_mask(src_lens.to(src.device), src.size(1))  # checks 1 <= len <= S
        lo, hi = int(src.min()), int(src.max())
        if lo < 0 or hi >= self.src_vocab_size:
            raise ValueError(f"src holds ids in [{lo}, {hi}] but the source vocabulary has {self.src_vocab_size} "
                             "entries; ids must be in [0, src_vocab_size)")
        S = src.size(1)
        embedded = self.dropout(self.src_embedding(src))  # [B, S, E]
        packed = pack_padded_sequence(embedded, src_lens.cpu(), batch_first=True, enforce_sorted=False)
        x = self.encoder_layers[0](packed)[0].data  # [N, 2H]: x^1 = [forward; backward]
        for k, lstm in enumerate(self.encoder_layers[1:], start=2):
            y = lstm(packed._replace(data=self.dropout(x)))[0].data  # [N, H]
            x = y + x if self._residual(k) else y  # x^k = m^k + x^{k-1} from layer 3 up
        enc_outputs, _ = pad_packed_sequence(packed._replace(data=x), batch_first=True, total_length=S)
        return {
            "enc_outputs": enc_outputs,  # [B, S, H]
            "src_pad_mask": src_pad_mask,
            "proj_keys": self.attention.project_keys(enc_outputs),  # [B, S, A]
        }

    def init_state(self, enc: TensorDict) -> TensorDict:
        """Every decoder layer starts from zeros: ``h``, ``c`` ``[B, L_d, H]``."""
        B = enc["enc_outputs"].size(0)
        zeros = enc["enc_outputs"].new_zeros(B, self.config.dec_layers, self.config.hidden_dim)
        return {"h": zeros, "c": zeros.clone()}

    def attend(self, query: Tensor, enc: TensorDict) -> tuple[Tensor, Tensor]:
        """Additive attention of ``query`` (``y^1_{i-1}``, ``[B, H]``) over the encoder outputs.

        Same numbers as ``self.attention(query, enc_outputs, mask=src_pad_mask,
        proj_keys=proj_keys)``; the mask was validated in :meth:`encode`, so the per-step check
        (a host synchronisation on a GPU) is skipped.

        Returns:
            ``context a_i [B, H]`` and ``weights p_i [B, S]`` (exactly 0.0 at padding).
        """
        scores = self.attention.score(query, enc["proj_keys"])  # [B, S]
        weights = scores.masked_fill(enc["src_pad_mask"], float("-inf")).softmax(-1)
        context = torch.bmm(weights.unsqueeze(1), enc["enc_outputs"]).squeeze(1)  # [B, H]
        return context, weights

    def _step(self, embedded: Tensor, h: Tensor, c: Tensor, enc: TensorDict):
        """One target step of every layer from ``E y_{i-1}`` ``[B, E]`` and the state
        ``h``, ``c`` ``[B, L_d, H]``; returns ``([y^{L_d}_i; a_i] [B, 2H], h', c', p_i)``."""
        context, weights = self.attend(h[:, 0], enc)  # a_i from y^1_{i-1}
        h1, c1 = self.decoder_layers[0](torch.cat([embedded, context], dim=-1), (h[:, 0], c[:, 0]))
        hs, cs, x = [h1], [c1], h1
        for k, lstm in enumerate(self.decoder_layers[1:], start=2):
            inp = torch.cat([self.dropout(x), context], dim=-1).unsqueeze(1)  # [B, 1, 2H]
            hx = (h[:, k - 1].unsqueeze(0).contiguous(), c[:, k - 1].unsqueeze(0).contiguous())
            y, (hk, ck) = lstm(inp, hx)
            y = y.squeeze(1)
            x = y + x if self._residual(k) else y
            hs.append(hk.squeeze(0))
            cs.append(ck.squeeze(0))
        return torch.cat([x, context], dim=-1), torch.stack(hs, 1), torch.stack(cs, 1), weights

    def decode_step(self, prev_tokens: Tensor, state: TensorDict, enc: TensorDict) -> StepOutput:
        """One target position: attention from ``state["h"][:, 0]`` (``y^1_{i-1}``), then every
        layer, then the output layer.

        Args:
            prev_tokens: ``[B]`` ids of ``y_{i-1}`` (``<sos>`` first). state: from
                :meth:`init_state` or the previous step. enc: from :meth:`encode`.

        Returns:
            :class:`StepOutput`: ``logits [B, V]``, the new state (``h``, ``c`` ``[B, L_d, H]``)
            and ``attn_weights [B, S]`` (``p_i``, exactly 0.0 at padding).

        Raises:
            ValueError: ``prev_tokens`` not a 1-D integer tensor; batch sizes or state shapes
                that do not match (shape checks only: no host synchronisation).
        """
        if not isinstance(prev_tokens, Tensor) or prev_tokens.dim() != 1:
            raise ValueError(f"prev_tokens must be a 1-D [B] tensor of ids, got shape "
                             f"{tuple(getattr(prev_tokens, 'shape', ()))}")
        if prev_tokens.dtype.is_floating_point or prev_tokens.dtype == torch.bool:
            raise ValueError(f"prev_tokens must hold integer ids, got dtype {prev_tokens.dtype}")
        B = prev_tokens.size(0)
        want = (B, self.config.dec_layers, self.config.hidden_dim)
        for key in ("h", "c"):
            if key not in state or tuple(state[key].shape) != want:
                raise ValueError(f"state[{key!r}] must be [B, L_d, H] = {list(want)}, got "
                                 f"{tuple(state[key].shape) if key in state else 'nothing'}; use init_state(enc)")
        if enc["enc_outputs"].size(0) != B:
            raise ValueError(f"prev_tokens has batch size {B} but enc has {enc['enc_outputs'].size(0)}")
        embedded = self.dropout(self.tgt_embedding(prev_tokens))  # [B, E]
        feat, h, c, weights = self._step(embedded, state["h"], state["c"], enc)
        return StepOutput(self.out(self.dropout(feat)), {"h": h, "c": c}, weights)

    # --- training pass -------------------------------------------------------------------
    def forward(self, src: Tensor, src_lens: Tensor, tgt: Tensor, teacher_forcing_ratio: float = 1.0) -> Seq2SeqOutput:
        """Training pass with the decisions of :meth:`Seq2Seq.forward`, restructured for speed.

        The same teacher-forcing coins as the base step loop (one per position, drawn from
        Python's ``random`` in the same order, so a seeded run matches it) and the same
        numbers, up to rounding, at every position whose target is a real token. Sentences
        are ordered by target length and step ``t`` runs only on those still going (packed).

        - Teacher forcing 1.0: the sequential part is only the attention and the bottom
          decoder layer (``a_i`` needs ``y^1_{i-1}``); the bottom layer's input projection of
          the gold embeddings is one matrix product before the loop. Then each layer above
          runs over every position at once (one packed ``nn.LSTM`` call on ``[y^{k-1}; a]``),
          and the output layer is one matrix product.
        - Teacher forcing below 1.0: every layer runs per step (the next input may be the
          argmax of this step's logits); the output layer runs in the loop only where that
          argmax is used, after the loop for the other positions.

        Args:
            src: ``[B, S]``; src_lens: ``[B]``; tgt: ``[B, T]`` target ids, each row
                ``<sos> ... <eos>`` followed by padding only.
            teacher_forcing_ratio: probability in ``[0, 1]`` of feeding the gold word.

        Returns:
            :class:`Seq2SeqOutput` ``logits [B, T-1, V]``, ``attn_weights [B, T-1, S]``;
            positions whose target ``tgt[:, 1:]`` is ``<pad>`` are not computed (0).

        Raises:
            ValueError: ``teacher_forcing_ratio`` outside ``[0, 1]``; batch sizes that differ;
                ``tgt`` not a 2-D integer tensor with ``T >= 2`` or with ids outside ``[0, V)``;
                any problem :meth:`encode` reports.
        """
        _check_ids("tgt", tgt, 2)
        if isinstance(teacher_forcing_ratio, bool) or not isinstance(teacher_forcing_ratio, (int, float)) \
                or math.isnan(teacher_forcing_ratio):
            raise ValueError(f"teacher_forcing_ratio must be a number in [0, 1], got {teacher_forcing_ratio!r}")
        if not isinstance(src, Tensor) or not isinstance(src_lens, Tensor):
            raise ValueError("src and src_lens must be tensors ([B, S] ids and [B] lengths)")
        self.check_forward_args(src, src_lens, tgt, teacher_forcing_ratio)
        if tgt.size(1) < 2:
            raise ValueError(f"tgt must have at least 2 positions (<sos> and one word), got shape {tuple(tgt.shape)}")
        lo, hi = int(tgt.min()), int(tgt.max())
        if lo < 0 or hi >= self.tgt_vocab_size:
            raise ValueError(f"tgt holds ids in [{lo}, {hi}] but the target vocabulary has {self.tgt_vocab_size} "
                             "entries; ids must be in [0, tgt_vocab_size)")
        B, T = tgt.size(0), tgt.size(1) - 1
        plan = packed_schedule(self, src, src_lens, tgt, teacher_forcing_ratio)
        enc, order, active, steps = plan.enc, plan.order, plan.active, plan.steps
        S = enc["enc_outputs"].size(1)
        if steps == 0:  # no real target token anywhere
            zeros = enc["enc_outputs"].new_zeros(B, T, self.tgt_vocab_size)
            return Seq2SeqOutput(zeros, enc["enc_outputs"].new_zeros(B, T, S))
        row_ids = order * T  # [B] flat index of (sentence, position 0) in the [B * T] output
        rows = [row_ids[: active[t]] + t for t in range(steps)]
        if all(plan.gold[:steps]):
            logits, weights = self._teacher_forced(enc, plan.tgt_in, active[:steps])
            return Seq2SeqOutput(scatter_rows([logits], [torch.cat(rows)], B * T).view(B, T, -1),
                                 scatter_rows([weights], [torch.cat(rows)], B * T).view(B, T, -1))

        gold_emb = self.dropout(self.tgt_embedding(plan.tgt_in)).unbind(1)  # per step [B, E]
        h, c = self.init_state(enc).values()
        now, now_rows, later, later_rows, weights = [], [], [], [], []
        prev_logits: Optional[Tensor] = None
        enc_t: TensorDict = {}
        for t in range(steps):
            n = active[t]
            if plan.gold[t]:
                emb_t = gold_emb[t][:n]
            else:
                emb_t = self.dropout(self.tgt_embedding(prev_logits[:n].argmax(-1)))
            if t == 0 or n != active[t - 1]:  # slice the encoder tensors only when the batch shrinks
                enc_t = {k: v[:n] for k, v in enc.items()}
            feat, h, c, alpha = self._step(emb_t, h[:n], c[:n], enc_t)
            weights.append(alpha)
            if plan.need_now[t]:
                prev_logits = self.out(self.dropout(feat))
                now.append(prev_logits)
                now_rows.append(rows[t])
            else:
                later.append(feat)
                later_rows.append(rows[t])
        if later:
            now.append(self.out(self.dropout(torch.cat(later))))  # one product for all of them
            now_rows.append(torch.cat(later_rows))
        return Seq2SeqOutput(scatter_rows(now, now_rows, B * T).view(B, T, -1),
                             scatter_rows(weights, rows, B * T).view(B, T, -1))

    def _teacher_forced(self, enc: TensorDict, tgt_in: Tensor, active: List[int]) -> tuple[Tensor, Tensor]:
        """Teacher forcing 1.0 on a batch ordered by target length (longest first).

        Args:
            enc: encoder dictionary in that order. tgt_in: ``[B, steps]`` gold inputs.
            active: per step, how many sentences still have a real target (non-increasing).

        Returns:
            ``logits [N, V]`` and ``weights [N, S]`` in packed order (step by step, the first
            ``active[t]`` sentences of step ``t``), ``N = sum(active)``.
        """
        E = self.config.emb_dim
        bottom = self.decoder_layers[0]
        w_emb, w_ctx = bottom.weight_ih[:, :E], bottom.weight_ih[:, E:]
        gold_emb = self.dropout(self.tgt_embedding(tgt_in))  # [B, steps, E]
        # per step [B, 4H]; unbind (not gold_gi[:n, t]) so that backward does not build a full
        # [B, steps, 4H] gradient at every step
        gold_gi = F.linear(gold_emb, w_emb, bottom.bias_ih + bottom.bias_hh).unbind(1)
        h, c = enc["enc_outputs"].new_zeros(2, tgt_in.size(0), self.config.hidden_dim)  # bottom layer's state
        ys: List[Tensor] = []
        contexts: List[Tensor] = []
        weights: List[Tensor] = []
        enc_t: TensorDict = {}
        for t, n in enumerate(active):  # the sequential recurrence: attention + bottom layer
            if t == 0 or n != active[t - 1]:  # slice the encoder tensors only when the batch shrinks
                enc_t = {k: enc[k][:n] for k in ("enc_outputs", "src_pad_mask", "proj_keys")}
            context, alpha = self.attend(h[:n], enc_t)  # a_i from y^1_{i-1}
            gates = gold_gi[t][:n] + F.linear(context, w_ctx) + F.linear(h[:n], bottom.weight_hh)
            h, c = _lstm_cell(gates, c[:n])  # y^1_i
            ys.append(h)
            contexts.append(context)
            weights.append(alpha)
        batch_sizes = torch.tensor(active, dtype=torch.long)  # PackedSequence wants them on the CPU
        a = torch.cat(contexts)  # [N, H], packed order
        x = torch.cat(ys)  # [N, H]: y^1
        for k, lstm in enumerate(self.decoder_layers[1:], start=2):  # all positions at once
            y = lstm(PackedSequence(torch.cat([self.dropout(x), a], dim=-1), batch_sizes))[0].data
            x = y + x if self._residual(k) else y
        logits = self.out(self.dropout(torch.cat([x, a], dim=-1)))  # [N, V]
        return logits, torch.cat(weights)

    # --- diagnostics ---------------------------------------------------------------------
    def layer_groups(self) -> "OrderedDict[str, nn.Module]":
        """The model's parts, bottom to top, by name: ``encoder.embedding``,
        ``encoder.layer1`` ... ``encoder.layer{L_e}``, ``attention``, ``decoder.embedding``,
        ``decoder.layer1`` ... ``decoder.layer{L_d}``, ``output``."""
        groups: "OrderedDict[str, nn.Module]" = OrderedDict()
        groups["encoder.embedding"] = self.src_embedding
        for k, layer in enumerate(self.encoder_layers, start=1):
            groups[f"encoder.layer{k}"] = layer
        groups["attention"] = self.attention
        groups["decoder.embedding"] = self.tgt_embedding
        for k, layer in enumerate(self.decoder_layers, start=1):
            groups[f"decoder.layer{k}"] = layer
        groups["output"] = self.out
        return groups

    def layer_grad_norms(self) -> Dict[str, float]:
        """L2 norm of the gradient of each part's parameters, after ``loss.backward()``.

        Used by lesson 05 to show why depth needs residual connections (He et al. 2016;
        Wu et al. 2016, sec. 3.1): without them the norm shrinks from the top layers to
        the bottom ones. Parameters without a gradient count as 0.

        Returns:
            ``{name: norm}`` in the order of :meth:`layer_groups` (plain floats).

        Raises:
            ValueError: no parameter has a gradient yet (call ``loss.backward()`` first).
        """
        if all(p.grad is None for p in self.parameters()):
            raise ValueError("no gradients yet: call loss.backward() before layer_grad_norms()")
        norms: Dict[str, float] = {}
        for name, module in self.layer_groups().items():
            grads = [p.grad.detach().float().pow(2).sum() for p in module.parameters() if p.grad is not None]
            norms[name] = float(torch.stack(grads).sum().sqrt()) if grads else 0.0
        return norms
