"""The base Seq2Seq composes each model's pieces (issue 14): decode_step = output(step(embed)),
forward = the packed loop over the same pieces; one check of the source per training step;
Bahdanau's and GNMT's cells read [E y; c] as the papers write it."""

from __future__ import annotations

import inspect
import random
from unittest import mock

import pytest
import torch

import course_lib.models.base as base
from course_lib.attention import Attention, masked_softmax
from course_lib.models import (BahdanauConfig, BahdanauSeq2Seq, GNMTConfig, GNMTSeq2Seq, LuongConfig, LuongSeq2Seq,
                               RNNEncoder, Seq2Seq, StepOutput, VanillaConfig, VanillaSeq2Seq)
from tests.test_attention_models import decode_step_loop, make_batch

V_SRC, V_TGT, PAD = 23, 19, 0

MODELS = {
    "vanilla": lambda: VanillaSeq2Seq(V_SRC, V_TGT, VanillaConfig(8, 12, 2, 0.1)),
    "bahdanau": lambda: BahdanauSeq2Seq(V_SRC, V_TGT, BahdanauConfig(8, 10, 12, 9, 0.1)),
    "luong-feeding": lambda: LuongSeq2Seq(V_SRC, V_TGT, LuongConfig(8, 12, 2, 0.1)),
    "luong-plain": lambda: LuongSeq2Seq(V_SRC, V_TGT, LuongConfig(8, 12, 2, 0.1, score="concat", input_feeding=False)),
    "luong-local-p": lambda: LuongSeq2Seq(V_SRC, V_TGT, LuongConfig(8, 12, 1, 0.1, attention="local-p", window=2)),
    "gnmt": lambda: GNMTSeq2Seq(V_SRC, V_TGT, GNMTConfig(8, 10, 7, 3, 3, 0.1)),
}


@pytest.fixture(params=list(MODELS))
def model(request):
    torch.manual_seed(0)
    return MODELS[request.param]().eval()


def test_the_base_owns_the_dispatch(model):
    assert type(model).decode_step is Seq2Seq.decode_step and type(model).forward is Seq2Seq.forward
    src, src_lens, tgt = make_batch()
    with torch.no_grad():
        enc = model.encode(src, src_lens)
        state = model.init_state(enc)
        step = model.decode_step(tgt[:, 0], state, enc)
        new_state, features, weights = model.step(model.embed(tgt[:, 0]), state, enc)
    torch.testing.assert_close(step.logits, model.output(features))
    assert step.state.keys() == new_state.keys() == model.state_shapes(4).keys()
    assert (weights is None) == (not model.has_attention)


@pytest.mark.parametrize("ratio", [1.0, 0.5, 0.0])
def test_forward_equals_the_plain_decode_step_loop(model, ratio):
    src, src_lens, tgt = make_batch(tgt_lens=(9, 7, 3, 9))
    with torch.no_grad():
        random.seed(4)
        fast = model(src, src_lens, tgt, teacher_forcing_ratio=ratio)
        after = random.random()
        random.seed(4)
        slow = decode_step_loop(model, src, src_lens, tgt, ratio)
        assert random.random() == after  # the same coins were drawn
    real = tgt[:, 1:] != PAD
    torch.testing.assert_close(fast.logits[real], slow.logits[real], atol=1e-5, rtol=1e-5)
    if model.has_attention:
        torch.testing.assert_close(fast.attn_weights[real], slow.attn_weights[real], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("ratio", [1.0, 0.5])
def test_one_check_of_the_source_per_training_step(model, ratio):
    src, src_lens, tgt = make_batch()
    model.train()
    with mock.patch.object(base, "check_source", wraps=base.check_source) as check_source, \
            mock.patch.object(base, "lengths_to_pad_mask", wraps=base.lengths_to_pad_mask) as make_mask, \
            mock.patch.object(RNNEncoder, "forward", side_effect=AssertionError("re-checked in the encoder")):
        model(src, src_lens, tgt, teacher_forcing_ratio=ratio)
    assert check_source.call_count == 1 and make_mask.call_count == 1


class Scripted(Seq2Seq):
    """A model written as decode_step alone: logits from a table indexed by the previous word."""

    has_attention = True

    def __init__(self):
        super().__init__(7, 7)
        self.table = torch.nn.Parameter(torch.randn(7, 7))

    def encode(self, src, src_lens):
        return {"enc_outputs": src.float().unsqueeze(-1), "src_pad_mask": self.source_pad_mask(src, src_lens)}

    def init_state(self, enc):
        return {"t": torch.zeros(enc["enc_outputs"].size(0), dtype=torch.long)}

    def decode_step(self, prev_tokens, state, enc):
        weights = torch.softmax(enc["enc_outputs"].squeeze(-1) * state["t"].unsqueeze(1), -1)
        return StepOutput(self.table[prev_tokens], {"t": state["t"] + 1}, weights)


@pytest.mark.parametrize("ratio", [1.0, 0.3])
def test_a_model_written_as_decode_step_alone_trains_through_the_packed_loop(ratio):
    torch.manual_seed(0)
    model = Scripted()
    src, src_lens = torch.randint(4, 7, (3, 4)), torch.tensor([4, 2, 3])
    tgt = torch.tensor([[2, 4, 5, 6, 3], [2, 3, 0, 0, 0], [2, 5, 3, 0, 0]])
    random.seed(1)
    out = model(src, src_lens, tgt, teacher_forcing_ratio=ratio)
    random.seed(1)
    loop = decode_step_loop(model, src, src_lens, tgt, ratio)
    real = tgt[:, 1:] != PAD
    torch.testing.assert_close(out.logits[real], loop.logits[real])
    torch.testing.assert_close(out.attn_weights[real], loop.attn_weights[real])
    assert torch.all(out.logits[~real] == 0)
    out.logits[real].sum().backward()
    assert model.table.grad is not None


def test_forward_teacher_forced_keeps_its_two_argument_call():
    """Lesson 04 asks forward_teacher_forced(enc, tgt_in) whether a variant runs all steps at once."""
    src, src_lens, tgt = make_batch()
    for name, expected in (("luong-feeding", False), ("luong-plain", True), ("vanilla", True), ("gnmt", False)):
        model = MODELS[name]().eval()
        with torch.no_grad():
            out = model.forward_teacher_forced(model.encode(src, src_lens), tgt[:, :-1])
        assert (out is not None) == expected, name
        if out is not None:
            assert out.logits.shape == (4, tgt.size(1) - 1, V_TGT)


def test_bahdanau_cell_reads_the_concatenation_as_appendix_a_writes_it():
    """s_i = GRU([E y_{i-1}; c_i], s_{i-1}) equals A.2.2's W E y_{i-1} + C c_i with [W C] = weight_ih."""
    torch.manual_seed(0)
    model = BahdanauSeq2Seq(V_SRC, V_TGT, BahdanauConfig(8, 10, 12, 9, 0.0)).eval()
    E, H = 8, 12
    assert isinstance(model.rnn, torch.nn.GRUCell) and model.rnn.input_size == E + 2 * 10
    src, src_lens, tgt = make_batch()
    with torch.no_grad():
        enc = model.encode(src, src_lens)
        emb, s_prev = model.embed(tgt[:, 0]), enc["h0"]
        (state, _, _), (context, _) = model.step(emb, {"h": s_prev}, enc), model.attend(s_prev, enc)
        W, C = model.rnn.weight_ih[:, :E], model.rnn.weight_ih[:, E:]  # acting on E y and on c_i
        gi = emb @ W.T + context @ C.T + model.rnn.bias_ih
        gh = s_prev @ model.rnn.weight_hh.T + model.rnn.bias_hh
        r, z = torch.sigmoid(gi[:, :H] + gh[:, :H]), torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        s_tilde = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        torch.testing.assert_close(state["h"], (1 - z) * s_tilde + z * s_prev)


def test_gnmt_bottom_cell_reads_the_embedding_and_the_context():
    torch.manual_seed(0)
    model = GNMTSeq2Seq(V_SRC, V_TGT, GNMTConfig(8, 10, 7, 2, 2, 0.0)).eval()
    bottom = model.decoder_layers[0]
    assert isinstance(bottom, torch.nn.LSTMCell) and bottom.input_size == 8 + 10
    src, src_lens, tgt = make_batch()
    with torch.no_grad():
        enc = model.encode(src, src_lens)
        h, c = torch.randn(4, 10), torch.randn(4, 10)
        emb = model.embed(tgt[:, 1])
        y1, c1, a, _ = model.bottom(emb, h, c, enc)
        gates = emb @ bottom.weight_ih[:, :8].T + a @ bottom.weight_ih[:, 8:].T + h @ bottom.weight_hh.T \
            + bottom.bias_ih + bottom.bias_hh
        i, f, g, o = gates.chunk(4, -1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        torch.testing.assert_close((y1, c1), (torch.sigmoid(o) * torch.tanh(c_new), c_new))


def test_attention_has_no_check_flag():
    for fn in (Attention.forward, Attention.attend, masked_softmax):
        assert "check" not in inspect.signature(fn).parameters
    assert list(inspect.signature(Attention.forward).parameters) == ["self", "query", "keys", "values", "mask",
                                                                      "proj_keys"]


def test_old_check_names_still_work():
    """Seq2Seq.checked_config and check_forward_args are public names kept from before the refactor."""
    from course_lib.checks import InputTypeError
    from course_lib.models import BahdanauConfig, BahdanauSeq2Seq

    cfg = Seq2Seq.checked_config(None, BahdanauConfig)
    assert isinstance(cfg, BahdanauConfig)
    with pytest.raises(InputTypeError, match="BahdanauConfig"):
        Seq2Seq.checked_config({"emb_dim": 8}, BahdanauConfig)
    model = BahdanauSeq2Seq(12, 11)
    src, lens = torch.tensor([[4, 5, 3]]), torch.tensor([3])
    tgt = torch.tensor([[2, 6, 3]])
    model.check_forward_args(src, lens, tgt, 0.5)
    with pytest.raises(ValueError, match="teacher_forcing_ratio"):
        model.check_forward_args(src, lens, tgt, 1.5)
    with pytest.raises(ValueError, match="below 1"):
        model.check_forward_args(src, torch.tensor([0]), tgt, 1.0)
    with pytest.raises(ValueError, match="tgt"):
        model.check_forward_args(src, lens, torch.tensor([[2]]), 1.0)


def test_model_device_is_where_its_weights_are():
    """Seq2Seq.device: the one answer every door uses (translate, decode_trace, beam_view, evaluate_loss,
    Translator.device, and the source check in encode)."""
    model = BahdanauSeq2Seq(12, 11, BahdanauConfig(emb_dim=4, enc_hidden_dim=4, dec_hidden_dim=4, attn_dim=4))
    assert model.device == torch.device("cpu")
    model.to("meta")  # moves every parameter without a GPU
    assert model.device == torch.device("meta")

    class Buffers(base.Seq2Seq):  # no parameters: the buffers' device
        def __init__(self):
            super().__init__(5, 5)
            self.register_buffer("table", torch.zeros(2, device="meta"))

    class Empty(base.Seq2Seq):  # neither: CPU
        pass

    assert Buffers().device == torch.device("meta")
    assert Empty(5, 5).device == torch.device("cpu")


def test_the_source_must_be_on_the_model_device():
    model = BahdanauSeq2Seq(12, 11, BahdanauConfig(emb_dim=4, enc_hidden_dim=4, dec_hidden_dim=4, attn_dim=4))
    model.to("meta")
    src, lens = torch.tensor([[4, 5, 3]]), torch.tensor([3])
    with pytest.raises(ValueError, match="is on cpu but must be on meta"):
        model.encode(src, lens)
