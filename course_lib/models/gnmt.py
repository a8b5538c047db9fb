"""GNMT: the deep LSTM encoder--decoder of Wu et al. (2016), "Google's Neural Machine
Translation System: Bridging the Gap between Human and Machine Translation" (arXiv:1609.08144),
sec. 3 and fig. 1, at configurable depth and width.

Notation (the paper's): ``x^k_t`` is the output of encoder layer ``k`` at source position
``t``, ``y^k_i`` the output of decoder layer ``k`` at target position ``i``, ``a_i`` the
attention context.

**Encoder** (``L_e >= 2`` layers; only the bottom one is bidirectional, sec. 3.2)::

    layer 1:            x^1_t = [LSTM_fw(E s)_t; LSTM_bw(E s)_t]        [2H]
    layer 2:            x^2_t = LSTM_2(x^1_t)                           [H]
    layer k >= 3:       x^k_t = LSTM_k(x^{k-1}_t) + x^{k-1}_t           [H]   (residual, sec. 3.1, eq. 5-6)

Residual connections start at the third layer from the bottom, in the encoder and the decoder.
``bidirectional_bottom=False`` makes layer 1 a forward LSTM ``[H]``; ``residual=False``
drops the residual sums.

**Attention** (sec. 3, eq. 4) is a feed-forward network with one hidden layer,
:class:`course_lib.attention.AdditiveAttention`: ``p_i = softmax_t(v_a^T tanh(W_a q_i + U_a x_t))``
(exactly 0.0 at padding), ``a_i = sum_t p_{i,t} x_t``. Its query is "the output from the bottom
decoder layer" at the previous step: ``q_i = y^1_{i-1}`` (``state["h"][:, 0]``); ``a_i`` goes to
every decoder layer and to the output layer.

**Decoder** (``L_d >= 2`` layers; step ``i`` reads ``y_{i-1}``)::

    y^1_i = LSTM_1([E y_{i-1}; a_i])                bottom layer (an nn.LSTMCell)   [H]
    y^2_i = LSTM_2([y^1_i; a_i])                                                    [H]
    y^k_i = LSTM_k([y^{k-1}_i; a_i]) + y^{k-1}_i    k >= 3 (residual)               [H]
    logits_i = W_o [y^{L_d}_i; a_i] + b_o

Three choices of this implementation: the bottom layer reads ``a_i`` too (as in the GNMT
variant of tensorflow/nmt, Google's NMT tutorial code -- not the GNMT authors' system); the
output layer reads ``a_i`` beside ``y^{L_d}_i``; and every decoder layer starts from zeros (the
paper does not say how the decoder starts), so the source reaches the decoder through attention.
Dropout acts on the embeddings, on each layer's input from the layer below (not on the
residual path or on ``a_i``) and on the output layer's input.

Speed: the encoder is packed, each layer one ``nn.LSTM`` call. At teacher forcing 1 only the
attention and the bottom layer form a sequential recurrence: the layers above run over every
position at once (:meth:`GNMTSeq2Seq.forward_teacher_forced`), which is what lets GNMT place
them on other GPUs (sec. 3.3).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Optional

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..attention import AdditiveAttention
from ..checks import check_tensor, require
from .base import ModelConfig, Seq2Seq, Seq2SeqOutput, TensorDict
from .packed import plan_packed

__all__ = ["GNMTConfig", "GNMTSeq2Seq"]


@dataclass
class GNMTConfig(ModelConfig):
    """Depth, width and ablation switches of :class:`GNMTSeq2Seq` (defaults fit a laptop;
    :meth:`paper`: 8 + 8 layers of 1024 units).

    Attributes:
        emb_dim: ``E``. hidden_dim: ``H`` of every LSTM layer (each direction of the bottom
            encoder layer too); ``enc_outputs`` have ``H`` units. attn_dim: ``A`` of the attention.
        enc_layers, dec_layers: ``L_e``, ``L_d`` >= 2 (a bottom layer and at least one above it).
        dropout: rate in ``[0, 1)``. residual: residual connections from the third layer up (sec. 3.1).
        bidirectional_bottom: the bottom encoder layer reads both ways (sec. 3.2).

    Raises:
        ValueError: a size below 1, fewer than 2 layers, ``dropout`` outside ``[0, 1)``, a
            switch that is not a bool (the message names the field).
    """

    emb_dim: int = 128
    hidden_dim: int = 256
    attn_dim: int = 256
    enc_layers: int = 3
    dec_layers: int = 3
    dropout: float = 0.2
    residual: bool = True
    bidirectional_bottom: bool = True
    sizes = ("emb_dim", "hidden_dim", "attn_dim", "enc_layers", "dec_layers")
    low = {"enc_layers": 2, "dec_layers": 2}
    flags = ("residual", "bidirectional_bottom")

    @classmethod
    def paper(cls) -> "GNMTConfig":
        """Wu et al. 2016: 8 + 8 layers of 1024 units, attention 1024, dropout 0.2."""
        return cls(emb_dim=1024, hidden_dim=1024, attn_dim=1024, enc_layers=8, dec_layers=8, dropout=0.2)


class GNMTSeq2Seq(Seq2Seq):
    """GNMT (Wu et al. 2016, sec. 3, fig. 1) on the :class:`Seq2Seq` interface (equations: module docstring).

    Args:
        src_vocab_size, tgt_vocab_size: ``V_src``, ``V``. config: :class:`GNMTConfig`.
        pad_id, sos_id, eos_id: special ids (in both vocabularies).

    Attributes:
        encoder_layers: ``L_e`` one-layer ``nn.LSTM``; ``[0]`` the bottom (``E -> 2H`` when
            bidirectional), ``[1]`` ``2H -> H``, the rest ``H -> H``.
        attention: :class:`~course_lib.attention.AdditiveAttention` (query ``H``, keys ``H``).
        decoder_layers: ``[0]`` the bottom layer, an ``nn.LSTMCell`` on ``[E y_{i-1}; a_i]``
            (``E + H``); ``[k]``, ``k >= 1``, one-layer ``nn.LSTM`` on ``[y^k_i; a_i]`` (``2H``).
        out: ``Linear(2H -> V)`` on ``[y^{L_d}_i; a_i]``.

    Encoder dictionary: ``enc_outputs [B, S, H]`` (0 at padding), ``src_pad_mask [B, S]``,
    ``proj_keys [B, S, A]`` (``U_a x_t``). Decoder state: ``h``, ``c`` ``[B, L_d, H]`` (layer
    ``k`` at index ``k - 1``; ``h[:, 0]`` is the next step's attention query).

    Example::

        model = GNMTSeq2Seq(len(data.src_vocab), len(data.tgt_vocab), GNMTConfig(enc_layers=4, dec_layers=4))
        enc = model.encode(batch.src, batch.src_lens)
        step = model.decode_step(batch.tgt[:, 0], model.init_state(enc), enc)  # logits [B, V]
        loss.backward(); model.layer_grad_norms()  # {"encoder.layer1": ..., "decoder.layer4": ...}

    Raises:
        InputTypeError, ValueError: a bad ``config`` or vocabulary argument (see :class:`Seq2Seq`).
    """

    has_attention = True
    config_class = GNMTConfig
    enc_keys = ("enc_outputs", "src_pad_mask", "proj_keys")

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, config: Optional[GNMTConfig] = None,
                 pad_id: int = 0, sos_id: int = 2, eos_id: int = 3):
        super().__init__(src_vocab_size, tgt_vocab_size, pad_id, sos_id, eos_id, config)
        config = self.config
        E, H, A = config.emb_dim, config.hidden_dim, config.attn_dim
        bi = config.bidirectional_bottom
        self.src_embedding = nn.Embedding(src_vocab_size, E, padding_idx=pad_id)
        enc: List[nn.Module] = [nn.LSTM(E, H, batch_first=True, bidirectional=bi),
                                nn.LSTM(2 * H if bi else H, H, batch_first=True)]
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

    def encode(self, src: Tensor, src_lens: Tensor) -> TensorDict:
        """Encode ``src [B, S]`` (packed: no work on padding); keys in the class docstring.

        Raises:
            ValueError: a bad source batch (see :meth:`Seq2Seq.source_pad_mask`).
        """
        src_pad_mask = self.source_pad_mask(src, src_lens)  # the one check of this batch
        embedded = self.dropout(self.src_embedding(src))  # [B, S, E]
        packed = pack_padded_sequence(embedded, src_lens.cpu(), batch_first=True, enforce_sorted=False)
        x = self.encoder_layers[0](packed)[0].data  # [N, 2H]: x^1 = [forward; backward]
        for k, lstm in enumerate(self.encoder_layers[1:], start=2):
            y = lstm(packed._replace(data=self.dropout(x)))[0].data  # [N, H]
            x = y + x if self._residual(k) else y  # x^k = LSTM_k(x^{k-1}) + x^{k-1} from layer 3 up
        enc_outputs, _ = pad_packed_sequence(packed._replace(data=x), batch_first=True, total_length=src.size(1))
        return {"enc_outputs": enc_outputs, "src_pad_mask": src_pad_mask,
                "proj_keys": self.attention.project_keys(enc_outputs)}  # U_a x_t: [B, S, A]

    def init_state(self, enc: TensorDict) -> TensorDict:
        """Every decoder layer starts from zeros: ``h``, ``c`` ``[B, L_d, H]``.

        Raises:
            ValueError: ``enc`` is not the dictionary returned by :meth:`encode` (InputTypeError).
        """
        check_tensor(enc.get("enc_outputs") if isinstance(enc, dict) else enc, "enc['enc_outputs'] (from encode())", ndim=3)
        zeros = enc["enc_outputs"].new_zeros(enc["enc_outputs"].size(0), self.config.dec_layers, self.config.hidden_dim)
        return {"h": zeros, "c": zeros.clone()}

    def state_shapes(self, batch_size: int) -> Dict[str, tuple]:
        """``h``, ``c``: ``(B, L_d, H)``."""
        shape = (batch_size, self.config.dec_layers, self.config.hidden_dim)
        return {"h": shape, "c": shape}

    def attend(self, query: Tensor, enc: TensorDict) -> tuple[Tensor, Tensor]:
        """Attention from ``q_i = y^1_{i-1}`` ``[B, H]``: ``a_i [B, H]`` and ``p_i [B, S]``
        (unchecked: ``encode`` checked the batch)."""
        return self.attention.attend(query, enc["enc_outputs"], mask=enc["src_pad_mask"], proj_keys=enc["proj_keys"])

    def bottom(self, emb: Tensor, h: Tensor, c: Tensor, enc: TensorDict):
        """Attention and the bottom layer: ``a_i`` from ``h = y^1_{i-1}``, then
        ``y^1_i = LSTM_1([E y_{i-1}; a_i])``. Returns ``(y^1_i, c^1_i, a_i, p_i)``."""
        context, weights = self.attend(h, enc)
        h1, c1 = self.decoder_layers[0](torch.cat([emb, context], dim=-1), (h, c))
        return h1, c1, context, weights

    def step(self, emb: Tensor, state: TensorDict, enc: TensorDict):
        """One position of every layer, without the readout, from ``E y_{i-1}`` ``[B, E]``.

        Returns:
            ``(new_state, [y^{L_d}_i; a_i] [B, 2H], p_i [B, S])``.
        """
        h, c = state["h"], state["c"]
        y, c1, context, weights = self.bottom(emb, h[:, 0], c[:, 0], enc)
        hs, cs = [y], [c1]
        for k, lstm in enumerate(self.decoder_layers[1:], start=2):
            inp = torch.cat([self.dropout(y), context], dim=-1).unsqueeze(1)  # [B, 1, 2H]
            out, (hk, ck) = lstm(inp, (h[:, k - 1].unsqueeze(0).contiguous(), c[:, k - 1].unsqueeze(0).contiguous()))
            y = out.squeeze(1) + y if self._residual(k) else out.squeeze(1)
            hs.append(hk.squeeze(0))
            cs.append(ck.squeeze(0))
        return {"h": torch.stack(hs, 1), "c": torch.stack(cs, 1)}, torch.cat([y, context], dim=-1), weights

    def output(self, features: Tensor) -> Tensor:
        """The output layer ``W_o dropout([y^{L_d}; a]) + b_o``: ``[..., 2H] -> [..., V]``."""
        return self.out(self.dropout(features))

    def forward_teacher_forced(self, enc: TensorDict, tgt_in: Tensor,
                               tgt: Optional[Tensor] = None) -> Optional[Seq2SeqOutput]:
        """Teacher forcing 1, packed (``tgt`` gives the positions to skip; ``None``: the step loop).

        Only the attention and the bottom layer run step by step (``a_i`` needs ``y^1_{i-1}``),
        on the sentences still going; each layer above then runs over every position at once
        (one packed ``nn.LSTM`` call on ``[y^{k-1}; a]``), and the output layer is one product.
        Positions whose target is ``<pad>`` stay 0.
        """
        if tgt is None:
            return None
        plan = plan_packed(enc, tgt, self.pad_id, 1.0)  # longest target first
        gold = self.embed(plan.tgt_in).unbind(1)  # per step [B, E]; unbind: no full-size gradient per step
        h, c = plan.enc["enc_outputs"].new_zeros(2, tgt.size(0), self.config.hidden_dim)
        ys, contexts, weights, enc_t = [], [], [], {}
        for t, n in enumerate(plan.active):
            if t == 0 or n != plan.active[t - 1]:  # slice the encoder tensors only when the batch shrinks
                enc_t = {k: v[:n] for k, v in plan.enc.items()}
            h, c, context, alpha = self.bottom(gold[t][:n], h[:n], c[:n], enc_t)  # y^1_i, a_i
            ys.append(h)
            contexts.append(context)
            weights.append(alpha)
        batch_sizes = torch.tensor(plan.active, dtype=torch.long)  # on the CPU, as PackedSequence wants
        a, x = torch.cat(contexts), torch.cat(ys)  # [N, H] in packed order
        for k, lstm in enumerate(self.decoder_layers[1:], start=2):  # every position at once
            y = lstm(PackedSequence(torch.cat([self.dropout(x), a], dim=-1), batch_sizes))[0].data
            x = y + x if self._residual(k) else y
        rows = [torch.cat(plan.rows)]
        return Seq2SeqOutput(plan.scatter([self.output(torch.cat([x, a], dim=-1))], rows),
                             plan.scatter([torch.cat(weights)], rows))

    def layer_groups(self) -> "OrderedDict[str, nn.Module]":
        """The model's parts, bottom to top: ``encoder.embedding``, ``encoder.layer1`` ...
        ``encoder.layer{L_e}``, ``attention``, ``decoder.embedding``, ``decoder.layer1`` ...
        ``decoder.layer{L_d}``, ``output``."""
        groups: "OrderedDict[str, nn.Module]" = OrderedDict(
            [("encoder.embedding", self.src_embedding)]
            + [(f"encoder.layer{k}", layer) for k, layer in enumerate(self.encoder_layers, start=1)]
            + [("attention", self.attention), ("decoder.embedding", self.tgt_embedding)]
            + [(f"decoder.layer{k}", layer) for k, layer in enumerate(self.decoder_layers, start=1)]
            + [("output", self.out)])
        return groups

    def layer_grad_norms(self) -> Dict[str, float]:
        """L2 norm of each part's gradient (:meth:`layer_groups` order; no gradient counts as 0).

        Lesson 05 uses it to show why depth needs residual connections (Wu et al. 2016, sec. 3.1).

        Raises:
            ValueError: no parameter has a gradient yet (call ``loss.backward()`` first).
        """
        require(any(p.grad is not None for p in self.parameters()), "no gradients yet: call loss.backward() first")
        norms: Dict[str, float] = {}
        for name, module in self.layer_groups().items():
            grads = [p.grad.detach().float().pow(2).sum() for p in module.parameters() if p.grad is not None]
            norms[name] = float(torch.stack(grads).sum().sqrt()) if grads else 0.0
        return norms
