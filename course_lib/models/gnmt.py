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
the output layer is one matrix product (see :meth:`GNMTSeq2Seq.forward`); the per-step attention
is the unchecked call (``check=False``), the source having been validated once in ``encode``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..attention import AdditiveAttention
from ..utils import dataclass_from_dict
from .base import Seq2Seq, Seq2SeqOutput, StepOutput, TensorDict, check_config_sizes
from .packed import packed_forward, plan_packed

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
        check_config_sizes(self, ("emb_dim", "hidden_dim", "attn_dim", "enc_layers", "dec_layers"), ("dropout",))
        for name in ("enc_layers", "dec_layers"):
            if getattr(self, name) < 2:
                raise ValueError(
                    f"GNMTConfig.{name} must be at least 2 (a bottom layer and at least one above it; "
                    f"residual connections start at layer 3), got {getattr(self, name)!r}")
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


def _lstm_cell(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """``torch.nn.LSTMCell`` from its pre-activations ``gates = W_ih x + b_ih + W_hh h + b_hh``
    ``[B, 4H]`` (order i, f, g, o) and the memory ``c [B, H]``; returns ``(h, c)``."""
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class GNMTSeq2Seq(Seq2Seq):
    """GNMT (Wu et al. 2016, sec. 3-4, fig. 1) on the course's :class:`Seq2Seq` interface.

    See the module docstring for the equations. Attention is computed once per target step,
    with the query ``q_i = y^1_{i-1}``: **the bottom decoder layer's output at the previous
    step** (``state["h"][:, 0]``), and its context ``a_i`` is fed to every decoder layer and
    to the output layer.

    Args:
        src_vocab_size, tgt_vocab_size: ``V_src``, ``V`` (positive integers).
        config: :class:`GNMTConfig` (default: laptop-sized).
        pad_id, sos_id, eos_id: special ids (in both vocabularies).

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

    :meth:`decode_step` is :meth:`embed` + :meth:`step` + :meth:`output`, the three functions
    the shared packed training pass (:func:`course_lib.models.packed.packed_forward`) runs.

    Example::

        model = GNMTSeq2Seq(len(data.src_vocab), len(data.tgt_vocab), GNMTConfig(enc_layers=4, dec_layers=4))
        enc = model.encode(batch.src, batch.src_lens)
        step = model.decode_step(batch.tgt[:, 0], model.init_state(enc), enc)  # logits [B, V]
        loss.backward(); model.layer_grad_norms()  # {"encoder.layer1": ..., "decoder.layer4": ...}

    Raises:
        ValueError: an invalid config (see :class:`GNMTConfig`) or a config of another type, a
            vocabulary size below 1, special ids outside the vocabularies.
    """

    has_attention = True

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, config: Optional[GNMTConfig] = None,
                 pad_id: int = 0, sos_id: int = 2, eos_id: int = 3):
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

        Validates the batch once here (:meth:`Seq2Seq.source_pad_mask`: ids, lengths, mask),
        so that :meth:`decode_step` skips every check that would synchronise with a GPU.

        Returns:
            ``enc_outputs [B, S, H]`` (``x^{L_e}``, exactly 0.0 at padding), ``src_pad_mask
            [B, S]`` (True at padding) and ``proj_keys [B, S, A]`` (``U_a x_t``).

        Raises:
            ValueError: ``src`` not a non-empty 2-D integer tensor, or ids outside
                ``[0, V_src)``; ``src_lens`` not ``[B]`` integers, a length below 1 or above ``S``.
        """
        src_pad_mask = self.source_pad_mask(src, src_lens)
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
        """Every decoder layer starts from zeros: ``h``, ``c`` ``[B, L_d, H]``.

        Raises:
            ValueError: ``enc`` is not the dictionary returned by :meth:`encode`.
        """
        if not isinstance(enc, dict) or not isinstance(enc.get("enc_outputs"), Tensor) or enc["enc_outputs"].dim() != 3:
            raise ValueError("enc must be the dictionary returned by encode() (with enc_outputs [B, S, H])")
        B = enc["enc_outputs"].size(0)
        zeros = enc["enc_outputs"].new_zeros(B, self.config.dec_layers, self.config.hidden_dim)
        return {"h": zeros, "c": zeros.clone()}

    def attend(self, query: Tensor, enc: TensorDict) -> tuple[Tensor, Tensor]:
        """Additive attention of ``query`` (``y^1_{i-1}``, ``[B, H]``) over the encoder outputs.

        The unchecked call of :class:`~course_lib.attention.AdditiveAttention` (``check=False``:
        the mask was validated in :meth:`encode`), so a step does not synchronise with a GPU.

        Returns:
            ``context a_i [B, H]`` and ``weights p_i [B, S]`` (exactly 0.0 at padding).
        """
        return self.attention(query, enc["enc_outputs"], mask=enc["src_pad_mask"], proj_keys=enc["proj_keys"],
                              check=False)

    def embed(self, tokens: Tensor) -> Tensor:
        """The bottom decoder layer's input projection of target words, the part that depends
        only on the word: ``W_ih[:, :E] dropout(E y) + b_ih + b_hh``.

        Args:
            tokens: ids ``[B]`` or ``[B, T]``.

        Returns:
            ``[B, 4H]`` or ``[B, T, 4H]`` (LSTM gate pre-activations, order i, f, g, o).

        Raises:
            ValueError: an id outside the target vocabulary (CPU tensors).
        """
        bottom = self.decoder_layers[0]
        emb = self.dropout(self.embed_tokens(self.tgt_embedding, tokens))
        return F.linear(emb, bottom.weight_ih[:, : self.config.emb_dim], bottom.bias_ih + bottom.bias_hh)

    def _bottom(self, gi: Tensor, h: Tensor, c: Tensor, enc: TensorDict):
        """Attention and the bottom decoder layer: ``a_i`` from ``q_i = h = y^1_{i-1}``, then
        ``y^1_i = LSTM_1([E y_{i-1}; a_i])`` with the word's share ``gi`` (:meth:`embed`) given.

        Returns:
            ``(y^1_i [B, H], c^1_i [B, H], a_i [B, H], p_i [B, S])``.
        """
        bottom = self.decoder_layers[0]
        context, weights = self.attend(h, enc)  # a_i from y^1_{i-1}
        gates = gi + F.linear(context, bottom.weight_ih[:, self.config.emb_dim:]) + F.linear(h, bottom.weight_hh)
        h1, c1 = _lstm_cell(gates, c)
        return h1, c1, context, weights

    def step(self, gi: Tensor, state: TensorDict, enc: TensorDict):
        """One target position of every layer, without the output layer.

        Args:
            gi: :meth:`embed` of ``y_{i-1}``, ``[B, 4H]``. state: ``h``, ``c`` ``[B, L_d, H]``.
            enc: the encoder dictionary (``B`` rows).

        Returns:
            ``(new_state, features [y^{L_d}_i; a_i] [B, 2H], p_i [B, S])``.
        """
        h, c = state["h"], state["c"]
        h1, c1, context, weights = self._bottom(gi, h[:, 0], c[:, 0], enc)
        hs, cs, x = [h1], [c1], h1
        for k, lstm in enumerate(self.decoder_layers[1:], start=2):
            inp = torch.cat([self.dropout(x), context], dim=-1).unsqueeze(1)  # [B, 1, 2H]
            hx = (h[:, k - 1].unsqueeze(0).contiguous(), c[:, k - 1].unsqueeze(0).contiguous())
            y, (hk, ck) = lstm(inp, hx)
            y = y.squeeze(1)
            x = y + x if self._residual(k) else y
            hs.append(hk.squeeze(0))
            cs.append(ck.squeeze(0))
        return {"h": torch.stack(hs, 1), "c": torch.stack(cs, 1)}, torch.cat([x, context], dim=-1), weights

    def output(self, features: Tensor) -> Tensor:
        """The output layer: ``logits = W_o dropout([y^{L_d}; a]) + b_o``, ``[N, 2H] -> [N, V]``."""
        return self.out(self.dropout(features))

    def decode_step(self, prev_tokens: Tensor, state: TensorDict, enc: TensorDict) -> StepOutput:
        """One target position: attention from ``state["h"][:, 0]`` (``y^1_{i-1}``), then every
        layer, then the output layer (:meth:`embed` + :meth:`step` + :meth:`output`).

        Args:
            prev_tokens: ``[B]`` ids of ``y_{i-1}`` (``<sos>`` first). state: from
                :meth:`init_state` or the previous step. enc: from :meth:`encode`.

        Returns:
            :class:`StepOutput`: ``logits [B, V]``, the new state (``h``, ``c`` ``[B, L_d, H]``)
            and ``attn_weights [B, S]`` (``p_i``, exactly 0.0 at padding).

        Raises:
            ValueError: ``prev_tokens`` not a 1-D integer tensor; batch sizes that differ;
                ``state`` without ``h``/``c`` of shape ``[B, L_d, H]`` (shape checks only: no
                host synchronisation); an id outside the vocabulary (CPU).
        """
        self.check_step_args(prev_tokens, state, enc)
        want = (prev_tokens.size(0), self.config.dec_layers, self.config.hidden_dim)
        for key in ("h", "c"):
            if key not in state or tuple(state[key].shape) != want:
                raise ValueError(f"state[{key!r}] must be [B, L_d, H] = {list(want)}, got "
                                 f"{tuple(state[key].shape) if key in state else 'nothing'}; use init_state(enc)")
        new_state, features, weights = self.step(self.embed(prev_tokens), state, enc)
        return StepOutput(self.output(features), new_state, weights)

    # --- training pass -------------------------------------------------------------------
    def forward(self, src: Tensor, src_lens: Tensor, tgt: Tensor, teacher_forcing_ratio: float = 1.0) -> Seq2SeqOutput:
        """Training pass with the decisions of :meth:`Seq2Seq.forward`, restructured for speed.

        The same teacher-forcing coins as the base step loop (drawn up front by
        :mod:`course_lib.models.packed` from Python's ``random`` in the same order, so a seeded
        run matches it) and the same numbers, up to rounding, at every position whose target
        is a real token. Sentences are ordered by target length and step ``t`` runs only on
        those still going (packed).

        - Teacher forcing 1.0: the sequential part is only the attention and the bottom
          decoder layer (``a_i`` needs ``y^1_{i-1}``), with the gold words' share of its input
          projection computed in one product before the loop (:meth:`embed`). Then each layer
          above runs over every position at once (one packed ``nn.LSTM`` call on
          ``[y^{k-1}; a]``), and the output layer is one matrix product.
        - Teacher forcing below 1.0: :func:`~course_lib.models.packed.packed_forward` over
          :meth:`embed`, :meth:`step` and :meth:`output` (every layer per step, since the next
          input may be the argmax of this step's logits).

        Args:
            src: ``[B, S]``; src_lens: ``[B]``; tgt: ``[B, T]`` target ids, each row
                ``<sos> ... <eos>`` followed by padding only.
            teacher_forcing_ratio: probability in ``[0, 1]`` of feeding the gold word.

        Returns:
            :class:`Seq2SeqOutput` ``logits [B, T-1, V]``, ``attn_weights [B, T-1, S]``;
            positions whose target ``tgt[:, 1:]`` is ``<pad>`` are not computed (0).

        Raises:
            ValueError: as :meth:`Seq2Seq.check_forward_args` (ratio outside ``[0, 1]``, bad
                ``tgt``, batch sizes that differ, no real target token) and :meth:`encode`.
        """
        self.check_forward_args(src, src_lens, tgt, teacher_forcing_ratio)
        enc = self.encode(src, src_lens)
        if teacher_forcing_ratio < 1.0:
            return packed_forward(enc, self.init_state(enc), tgt, embed=self.embed, step=self.step,
                                  output=self.output, pad_id=self.pad_id, teacher_forcing_ratio=teacher_forcing_ratio)
        plan = plan_packed(enc, tgt, self.pad_id, 1.0)
        if plan.steps == 0:
            raise ValueError("tgt holds no real token after <sos>: nothing to predict")
        logits, weights = self._teacher_forced(plan.enc, plan.tgt_in, plan.active)
        rows = [torch.cat(plan.rows)]
        return Seq2SeqOutput(plan.scatter([logits], rows), plan.scatter([weights], rows))

    def _teacher_forced(self, enc: TensorDict, tgt_in: Tensor, active: List[int]) -> tuple[Tensor, Tensor]:
        """Teacher forcing 1.0 on a batch ordered by target length (longest first).

        Args:
            enc: encoder dictionary in that order. tgt_in: ``[B, steps]`` gold inputs.
            active: per step, how many sentences still have a real target (non-increasing).

        Returns:
            ``logits [N, V]`` and ``weights [N, S]`` in packed order (step by step, the first
            ``active[t]`` sentences of step ``t``), ``N = sum(active)``.
        """
        # per step [B, 4H]; unbind (not gi[:n, t]) so that backward does not build a full
        # [B, steps, 4H] gradient at every step
        gold_gi = self.embed(tgt_in).unbind(1)
        h, c = enc["enc_outputs"].new_zeros(2, tgt_in.size(0), self.config.hidden_dim)  # bottom layer's state
        ys: List[Tensor] = []
        contexts: List[Tensor] = []
        weights: List[Tensor] = []
        enc_t: TensorDict = {}
        for t, n in enumerate(active):  # the sequential recurrence: attention + bottom layer
            if t == 0 or n != active[t - 1]:  # slice the encoder tensors only when the batch shrinks
                enc_t = {k: enc[k][:n] for k in ("enc_outputs", "src_pad_mask", "proj_keys")}
            h, c, context, alpha = self._bottom(gold_gi[t][:n], h[:n], c[:n], enc_t)  # y^1_i, a_i
            ys.append(h)
            contexts.append(context)
            weights.append(alpha)
        batch_sizes = torch.tensor(active, dtype=torch.long)  # PackedSequence wants them on the CPU
        a = torch.cat(contexts)  # [N, H], packed order
        x = torch.cat(ys)  # [N, H]: y^1
        for k, lstm in enumerate(self.decoder_layers[1:], start=2):  # all positions at once
            y = lstm(PackedSequence(torch.cat([self.dropout(x), a], dim=-1), batch_sizes))[0].data
            x = y + x if self._residual(k) else y
        return self.output(torch.cat([x, a], dim=-1)), torch.cat(weights)  # [N, V], [N, S]

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
