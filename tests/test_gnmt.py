"""Tests of the GNMT model (Wu et al. 2016, sec. 3-4): tiny sizes, one thread, fast."""

from __future__ import annotations

import random

import pytest
import torch

from course_lib.attention import AdditiveAttention
from course_lib.decoding import greedy_decode
from course_lib.models import GNMTConfig, GNMTSeq2Seq, select_batch
from tests.test_attention_models import decode_step_loop
from tests.helpers import copy_task_batches

V_SRC, V_TGT, PAD, SOS, EOS = 23, 19, 0, 2, 3


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: threads only add synchronisation (and spin on shared, loaded cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(layers: int = 3, dec_layers: int | None = None, seed: int = 0, **kw) -> GNMTSeq2Seq:
    torch.manual_seed(seed)
    cfg = GNMTConfig(emb_dim=8, hidden_dim=10, attn_dim=7, enc_layers=layers,
                     dec_layers=layers if dec_layers is None else dec_layers, dropout=0.1, **kw)
    return GNMTSeq2Seq(V_SRC, V_TGT, cfg)


def batch(seed: int = 0, size: int = 6, max_len: int = 7):
    return copy_task_batches(1, size, vocab=min(V_SRC, V_TGT), seed=seed, max_len=max_len)[0]


def real_positions(tgt: torch.Tensor) -> torch.Tensor:
    return tgt[:, 1:] != PAD  # [B, T-1]


# --- decode_step step by step equals forward -------------------------------------------------
@pytest.mark.parametrize("layers", [2, 3, 5, 8])
@pytest.mark.parametrize("ratio", [1.0, 0.6])
@pytest.mark.parametrize("switches", [dict(), dict(residual=False), dict(bidirectional_bottom=False)],
                         ids=["full", "no-residual", "uni-bottom"])
def test_forward_equals_step_loop(layers, ratio, switches):
    model = tiny(layers, **switches).eval()
    b = batch(seed=layers)
    random.seed(7)
    fast = model(b.src, b.src_lens, b.tgt, teacher_forcing_ratio=ratio)
    random.seed(7)
    loop = decode_step_loop(model, b.src, b.src_lens, b.tgt, ratio)
    T = b.tgt.size(1) - 1
    assert fast.logits.shape == (b.src.size(0), T, V_TGT)
    assert fast.attn_weights.shape == (b.src.size(0), T, b.src.size(1))
    real = real_positions(b.tgt)
    torch.testing.assert_close(fast.logits[real], loop.logits[real], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(fast.attn_weights[real], loop.attn_weights[real], atol=1e-6, rtol=1e-4)
    # positions whose target is padding are not computed
    assert torch.all(fast.logits[~real] == 0)


def test_seeded_ratio_below_one_uses_predictions():
    """A ratio of 0 feeds the model's own argmax: outputs differ from teacher forcing 1.0."""
    model = tiny(3).eval()
    b = batch(seed=3)
    gold = model(b.src, b.src_lens, b.tgt, 1.0).logits
    own = model(b.src, b.src_lens, b.tgt, 0.0).logits
    real = real_positions(b.tgt)
    torch.testing.assert_close(gold[:, 0], own[:, 0])  # the first step reads <sos> either way
    assert not torch.allclose(gold[real], own[real])


# --- the attention query is the bottom decoder layer's previous output -----------------------
def test_attention_query_is_bottom_layer_previous_output():
    model = tiny(4).eval()
    b = batch(seed=1)
    enc = model.encode(b.src, b.src_lens)
    state = model.init_state(enc)
    prev = b.tgt[:, 0]
    for t in range(3):
        step = model.decode_step(prev, state, enc)
        # a checked call of the library's attention with q = y^1_{i-1} = state["h"][:, 0]
        _, expected = model.attention(state["h"][:, 0], enc["enc_outputs"], mask=enc["src_pad_mask"])
        torch.testing.assert_close(step.attn_weights, expected)
        # ... and not the top layer's
        _, from_top = model.attention(state["h"][:, -1], enc["enc_outputs"], mask=enc["src_pad_mask"])
        if t > 0:
            assert not torch.allclose(step.attn_weights, from_top)
        state, prev = step.state, b.tgt[:, t + 1]
    assert isinstance(model.attention, AdditiveAttention)


# --- structure: bidirectional bottom layer, residual connections -----------------------------
def test_bottom_encoder_layer_is_bidirectional():
    H, E = 10, 8
    model = tiny(4)
    bottom = model.encoder_layers[0]
    assert bottom.bidirectional
    assert bottom.weight_ih_l0.shape == (4 * H, E) and bottom.weight_ih_l0_reverse.shape == (4 * H, E)
    assert model.encoder_layers[1].input_size == 2 * H  # [forward; backward] concatenated
    assert all(not layer.bidirectional for layer in model.encoder_layers[1:])
    assert len(model.encoder_layers) == 4 and len(model.decoder_layers) == 4
    uni = tiny(4, bidirectional_bottom=False)
    assert not uni.encoder_layers[0].bidirectional
    assert not hasattr(uni.encoder_layers[0], "weight_ih_l0_reverse")
    assert uni.encoder_layers[1].input_size == H


def test_bidirectional_bottom_reads_the_future():
    """Changing the last source word changes the first encoder output only when the bottom
    layer reads backwards too (every layer above it is a forward LSTM)."""
    b = batch(seed=2)
    src2 = b.src.clone()
    rows = torch.arange(b.src.size(0))
    last = b.src_lens - 1
    src2[rows, last] = torch.where(b.src[rows, last] == 5, torch.tensor(6), torch.tensor(5))
    for bi in (True, False):
        model = tiny(3, bidirectional_bottom=bi).eval()
        first = model.encode(b.src, b.src_lens)["enc_outputs"][:, 0]
        first2 = model.encode(src2, b.src_lens)["enc_outputs"][:, 0]
        multi = b.src_lens > 1
        changed = (first[multi] - first2[multi]).abs().amax(-1) > 1e-7
        assert bool(changed.all()) == bi and bool(changed.any()) == bi


def _zero_lstm(lstm: torch.nn.Module) -> None:
    with torch.no_grad():
        for p in lstm.parameters():
            p.zero_()  # an LSTM with zero weights and biases outputs exactly 0


def test_encoder_residual_adds_the_layer_input():
    """With the top layer (3) silenced, the residual encoder outputs layer 2's output; without
    residual connections it outputs zeros."""
    b = batch(seed=4)
    with_res, without = tiny(3).eval(), tiny(3, residual=False).eval()
    without.load_state_dict(with_res.state_dict())  # the switch adds no parameters
    for model in (with_res, without):
        _zero_lstm(model.encoder_layers[2])
    out_res = with_res.encode(b.src, b.src_lens)["enc_outputs"]
    out_plain = without.encode(b.src, b.src_lens)["enc_outputs"]
    real = b.src != PAD
    assert torch.all(out_plain == 0)
    assert torch.all(out_res[real].abs().sum(-1) > 0)


def test_residual_switch_changes_output_from_three_layers_only():
    b = batch(seed=5)
    for layers, differs in ((2, False), (3, True), (6, True)):
        on = tiny(layers).eval()
        off = tiny(layers, residual=False).eval()
        off.load_state_dict(on.state_dict())
        a = on(b.src, b.src_lens, b.tgt).logits
        c = off(b.src, b.src_lens, b.tgt).logits
        assert (not torch.allclose(a, c)) == differs, layers
    # decoder residuals on their own (the encoder has only 2 layers, so no residual there)
    on, off = tiny(2, dec_layers=4).eval(), tiny(2, dec_layers=4, residual=False).eval()
    off.load_state_dict(on.state_dict())
    torch.testing.assert_close(on.encode(b.src, b.src_lens)["enc_outputs"], off.encode(b.src, b.src_lens)["enc_outputs"])
    assert not torch.allclose(on(b.src, b.src_lens, b.tgt).logits, off(b.src, b.src_lens, b.tgt).logits)


def test_bidirectional_switch_changes_output():
    b = batch(seed=6)
    bi = tiny(3, seed=1).eval()
    uni = tiny(3, seed=1, bidirectional_bottom=False).eval()
    assert sum(p.numel() for p in bi.parameters()) > sum(p.numel() for p in uni.parameters())
    assert not torch.allclose(bi.encode(b.src, b.src_lens)["enc_outputs"], uni.encode(b.src, b.src_lens)["enc_outputs"])


# --- padding ---------------------------------------------------------------------------------
def test_padding_changes_nothing():
    model = tiny(4).eval()
    b = batch(seed=8, size=5, max_len=7)
    for i in range(b.src.size(0)):
        n, m = int(b.src_lens[i]), int((b.tgt[i] != PAD).sum())
        alone = model(b.src[i : i + 1, :n], b.src_lens[i : i + 1], b.tgt[i : i + 1, :m])
        full = model(b.src, b.src_lens, b.tgt)
        torch.testing.assert_close(full.logits[i, : m - 1], alone.logits[0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(full.attn_weights[i, : m - 1, :n], alone.attn_weights[0], atol=1e-6, rtol=1e-4)
        enc_alone = model.encode(b.src[i : i + 1, :n], b.src_lens[i : i + 1])["enc_outputs"]
        enc_full = model.encode(b.src, b.src_lens)["enc_outputs"]
        torch.testing.assert_close(enc_full[i, :n], enc_alone[0], atol=1e-6, rtol=1e-5)
    greedy_full = greedy_decode(model, b.src, b.src_lens, max_len=6)
    for i in range(b.src.size(0)):
        n = int(b.src_lens[i])
        greedy_alone = greedy_decode(model, b.src[i : i + 1, :n], b.src_lens[i : i + 1], max_len=6)
        assert torch.equal(greedy_full.tokens[i, : greedy_alone.tokens.size(1)], greedy_alone.tokens[0])


def test_padded_positions_get_exactly_zero():
    model = tiny(3).eval()
    b = batch(seed=9)
    assert bool((b.src_lens < b.src.size(1)).any())
    enc = model.encode(b.src, b.src_lens)
    pad = enc["src_pad_mask"]
    assert torch.equal(pad, b.src == PAD)
    assert torch.all(enc["enc_outputs"][pad] == 0)
    for ratio in (1.0, 0.5):
        random.seed(0)
        attn = model(b.src, b.src_lens, b.tgt, ratio).attn_weights
        assert torch.all(attn.masked_select(pad.unsqueeze(1).expand_as(attn)) == 0)
        real = real_positions(b.tgt)
        torch.testing.assert_close(attn[real].sum(-1), torch.ones(int(real.sum())))
    step = model.decode_step(b.tgt[:, 0], model.init_state(enc), enc)
    assert torch.all(step.attn_weights[pad] == 0)


# --- gradients and the per-layer diagnostic --------------------------------------------------
@pytest.mark.parametrize("ratio", [1.0, 0.5])
def test_gradients_reach_every_layer(ratio):
    model = tiny(5).train()
    b = batch(seed=10)
    with pytest.raises(ValueError, match="backward"):
        model.layer_grad_norms()
    random.seed(3)
    out = model(b.src, b.src_lens, b.tgt, ratio)
    loss = torch.nn.functional.cross_entropy(out.logits.reshape(-1, V_TGT), b.tgt[:, 1:].reshape(-1), ignore_index=PAD)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    norms = model.layer_grad_norms()
    expected = (["encoder.embedding"] + [f"encoder.layer{k}" for k in range(1, 6)] + ["attention", "decoder.embedding"]
                + [f"decoder.layer{k}" for k in range(1, 6)] + ["output"])
    assert list(norms) == expected
    assert all(isinstance(v, float) and v > 0 and v == v for v in norms.values())
    covered = {id(p) for m in model.layer_groups().values() for p in m.parameters()}
    assert covered == {id(p) for p in model.parameters()}  # every parameter belongs to a group


def test_a_few_steps_learn_the_copy_task():
    model = tiny(3)
    model.config.dropout = 0.0
    data = copy_task_batches(4, 8, vocab=12, seed=11)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss_of(b):
        out = model(b.src, b.src_lens, b.tgt)
        return torch.nn.functional.cross_entropy(out.logits.reshape(-1, V_TGT), b.tgt[:, 1:].reshape(-1),
                                                 ignore_index=PAD)

    with torch.no_grad():
        before = sum(float(loss_of(b)) for b in data)
    for _ in range(15):
        for b in data:
            opt.zero_grad()
            loss_of(b).backward()
            opt.step()
    with torch.no_grad():
        after = sum(float(loss_of(b)) for b in data)
    assert after < 0.7 * before


# --- search -----------------------------------------------------------------------------------
def test_greedy_decode_works_and_state_is_batch_first():
    model = tiny(3).train()
    b = batch(seed=12)
    out = greedy_decode(model, b.src, b.src_lens, max_len=5)
    assert model.training  # restored
    assert out.tokens.shape[0] == b.src.size(0) and out.tokens.size(1) <= 5
    assert out.attn_weights.shape[:2] == out.tokens.shape and out.attn_weights.size(2) == b.src.size(1)
    model.eval()
    enc = model.encode(b.src, b.src_lens)
    state = model.init_state(enc)
    assert set(state) == {"h", "c"} and state["h"].shape == (b.src.size(0), 3, 10)
    step = model.decode_step(b.tgt[:, 0], state, enc)
    step = model.decode_step(b.tgt[:, 1], step.state, enc)
    index = torch.tensor([2, 0, 0, 5])
    moved = model.decode_step(b.tgt[:, 2][index], select_batch(step.state, index), select_batch(enc, index))
    direct = model.decode_step(b.tgt[:, 2], step.state, enc)
    torch.testing.assert_close(moved.logits, direct.logits[index])
    torch.testing.assert_close(moved.attn_weights, direct.attn_weights[index])


# --- configuration ---------------------------------------------------------------------------
@pytest.mark.parametrize("field,value", [
    ("emb_dim", 0), ("hidden_dim", -3), ("attn_dim", 2.5), ("hidden_dim", True), ("emb_dim", "8"),
    ("enc_layers", 1), ("dec_layers", 0), ("enc_layers", 2.0), ("dropout", 1.0), ("dropout", -0.1),
    ("dropout", float("nan")), ("dropout", "0.1"), ("residual", 1), ("bidirectional_bottom", "yes"),
])
def test_bad_config_raises_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        GNMTConfig(**{field: value})
    with pytest.raises(ValueError, match=field):
        GNMTConfig.from_dict({field: value})
    cfg = GNMTConfig()
    setattr(cfg, field, value)  # changed after construction: the model checks again
    with pytest.raises(ValueError, match=field):
        GNMTSeq2Seq(V_SRC, V_TGT, cfg)


def test_config_from_dict_and_defaults():
    cfg = GNMTConfig.from_dict({"enc_layers": 8, "dec_layers": 2, "residual": False})
    assert (cfg.enc_layers, cfg.dec_layers, cfg.residual, cfg.hidden_dim) == (8, 2, False, GNMTConfig().hidden_dim)
    with pytest.raises(ValueError, match="valid keys"):
        GNMTConfig.from_dict({"num_layers": 4})
    assert GNMTConfig.paper().enc_layers == 8 and GNMTConfig.paper().hidden_dim == 1024
    model = GNMTSeq2Seq(V_SRC, V_TGT)  # the default config
    assert len(model.encoder_layers) == GNMTConfig().enc_layers


@pytest.mark.parametrize("kwargs", [
    dict(src_vocab_size=0), dict(tgt_vocab_size=-1), dict(src_vocab_size=10.0), dict(pad_id=V_TGT),
    dict(eos_id=-1), dict(config={"enc_layers": 3}),
])
def test_bad_model_arguments(kwargs):
    args = dict(src_vocab_size=V_SRC, tgt_vocab_size=V_TGT) | kwargs
    with pytest.raises(ValueError):
        GNMTSeq2Seq(**args)


# --- bad input -------------------------------------------------------------------------------
def test_bad_encode_input():
    model = tiny(2).eval()
    b = batch(seed=13)
    cases = [
        (b.src.float(), b.src_lens, "integer"),
        (b.src[0], b.src_lens[:1], r"\[B, S\]"),
        (b.src, b.src_lens[:-1], "src_lens"),
        (b.src, b.src_lens.float(), "integers"),
        (b.src, b.src_lens * 0, "below 1"),
        (b.src, b.src_lens + b.src.size(1), "exceed"),
        (b.src.clone().fill_(V_SRC), b.src_lens, "vocabulary"),
        (b.src.clone().fill_(-1), b.src_lens, "vocabulary"),
        (b.src[:0], b.src_lens[:0], "empty"),
        ("a sentence", b.src_lens, "(?i)tensor"),
    ]
    for src, lens, message in cases:
        with pytest.raises(ValueError, match=message):
            model.encode(src, lens)


def test_bad_forward_input():
    model = tiny(2)
    b = batch(seed=14)
    with pytest.raises(ValueError, match="teacher_forcing_ratio"):
        model(b.src, b.src_lens, b.tgt, 1.5)
    with pytest.raises(ValueError, match="teacher_forcing_ratio"):
        model(b.src, b.src_lens, b.tgt, float("nan"))
    with pytest.raises(ValueError, match="batch sizes"):
        model(b.src, b.src_lens, b.tgt[:-1])
    with pytest.raises(ValueError, match="at least 2"):
        model(b.src, b.src_lens, b.tgt[:, :1])
    with pytest.raises(ValueError, match="vocabulary"):
        model(b.src, b.src_lens, b.tgt.clone().fill_(V_TGT))
    with pytest.raises(ValueError, match="integer"):
        model(b.src, b.src_lens, b.tgt.float())
    with pytest.raises(ValueError, match="below 1"):
        model(b.src, b.src_lens * 0, b.tgt)


def test_bad_decode_step_input():
    model = tiny(3).eval()
    b = batch(seed=15)
    enc = model.encode(b.src, b.src_lens)
    state = model.init_state(enc)
    prev = b.tgt[:, 0]
    with pytest.raises(ValueError, match=r"\[B\]"):
        model.decode_step(prev.unsqueeze(1), state, enc)
    with pytest.raises(ValueError, match="integer"):
        model.decode_step(prev.float(), state, enc)
    with pytest.raises(ValueError, match="batch size"):
        model.decode_step(prev[:-1], state, enc)
    with pytest.raises(ValueError, match="state"):
        model.decode_step(prev, {"h": state["h"][:, :2], "c": state["c"]}, enc)
    with pytest.raises(ValueError, match="state"):
        model.decode_step(prev, {"h": state["h"]}, enc)
    with pytest.raises(ValueError, match="batch size"):
        model.decode_step(prev[:-1], select_batch(state, torch.arange(prev.size(0) - 1)), enc)
    with pytest.raises(ValueError, match="vocabulary"):
        model.decode_step(prev.clone().fill_(V_TGT), state, enc)
    with pytest.raises(ValueError, match="encode"):
        model.decode_step(prev, state, {"src_pad_mask": enc["src_pad_mask"]})
    for bad in ({}, {"enc_outputs": enc["enc_outputs"][0]}, "enc"):
        with pytest.raises(ValueError, match="encode"):
            model.init_state(bad)


def test_steps_call_attention_unchecked():
    """Per-step attention skips the module's input checks (they read values on the host: a
    GPU synchronisation); the batch is validated once, in encode."""
    model = tiny(3).eval()
    b = batch(seed=16)

    def refuse(*args, **kwargs):
        raise AssertionError("checked attention call inside the decoder loop")

    model.attention.check_inputs = refuse
    for ratio in (1.0, 0.5):
        random.seed(0)
        model(b.src, b.src_lens, b.tgt, ratio)
    greedy_decode(model, b.src, b.src_lens, max_len=4)
    with pytest.raises(ValueError):
        model.encode(b.src, b.src_lens * 0)


def test_target_without_words_is_refused():
    model = tiny(2)
    b = batch(seed=17)
    tgt = b.tgt.clone()
    tgt[:, 1:] = PAD
    with pytest.raises(ValueError, match="no real token"):
        model(b.src, b.src_lens, tgt)


def test_beam_search_runs_on_gnmt():
    """Beam search reorders the GNMT state with select_batch: beam size 1 equals greedy; wider
    beams, with and without GNMT's penalties, return sorted n-best lists."""
    from course_lib.decoding import beam_search

    model = tiny(4).eval()
    b = batch(seed=18)
    greedy = greedy_decode(model, b.src, b.src_lens, max_len=6)
    one = beam_search(model, b.src, b.src_lens, beam_size=1, max_len=6).best()
    for i, hyp in enumerate(one):
        n = int(greedy.lengths[i])
        expected = greedy.tokens[i, : n - 1 if bool(greedy.finished[i]) else n].tolist()
        assert hyp.tokens == expected
        assert hyp.log_prob == pytest.approx(float(greedy.log_probs[i]), abs=1e-4)
    wide = beam_search(model, b.src, b.src_lens, beam_size=3, max_len=6, n_best=2)
    for hyps in wide.hypotheses:
        assert 1 <= len(hyps) <= 2
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
    penalised = beam_search(model, b.src, b.src_lens, beam_size=3, max_len=6, alpha=0.6, beta=0.2)
    for hyp, n in zip(penalised.best(), b.src_lens.tolist()):
        if hyp.attn_weights is not None:
            assert hyp.attn_weights.shape[-1] == n
