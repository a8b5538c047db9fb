"""Tests of the attention models: Bahdanau et al. 2015 and Luong et al. 2015 (tiny sizes, fast)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
import torch

from course_lib.decoding import greedy_decode
from course_lib.models import (BahdanauConfig, BahdanauSeq2Seq, LocalPAttention, LuongConfig, LuongSeq2Seq,
                               Seq2Seq, Seq2SeqOutput, lengths_to_pad_mask, select_batch)
from course_lib.attention import make_attention

V_SRC, V_TGT, PAD, SOS, EOS = 23, 19, 0, 2, 3


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: threads only add synchronisation (and spin on shared, loaded cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_bahdanau(**kw) -> BahdanauSeq2Seq:
    cfg = BahdanauConfig(emb_dim=8, enc_hidden_dim=10, dec_hidden_dim=12, attn_dim=9, dropout=0.1, **kw)
    return BahdanauSeq2Seq(V_SRC, V_TGT, cfg)


def tiny_luong(**kw) -> LuongSeq2Seq:
    cfg = LuongConfig(emb_dim=8, hidden_dim=12, num_layers=2, dropout=0.1, max_src_len=20, **kw)
    return LuongSeq2Seq(V_SRC, V_TGT, cfg)


LUONG_VARIANTS = [
    dict(score=score, attention=attention, input_feeding=feeding)
    for score in ("dot", "general", "concat", "location")
    for attention, feeding in (("global", True), ("global", False))
] + [dict(score=s, attention="local-p", window=2, input_feeding=f) for s in ("general", "dot") for f in (True, False)]

ALL_MODELS = [("bahdanau-backward", lambda: tiny_bahdanau()), ("bahdanau-both", lambda: tiny_bahdanau(init_from="both"))] + [
    ("luong-" + "-".join(f"{k}={v}" for k, v in kw.items()), (lambda kw=kw: tiny_luong(**kw))) for kw in LUONG_VARIANTS
]
MODEL_IDS = [name for name, _ in ALL_MODELS]
MODEL_FACTORIES = [factory for _, factory in ALL_MODELS]
# a smaller set for the slower properties: every score once, each path (loop / all-steps) once
_SOME = ("bahdanau-backward", "luong-score=dot-attention=global-input_feeding=True",
         "luong-score=general-attention=global-input_feeding=False",
         "luong-score=concat-attention=global-input_feeding=True",
         "luong-score=location-attention=global-input_feeding=False",
         "luong-score=general-attention=local-p-window=2-input_feeding=True",
         "luong-score=dot-attention=local-p-window=2-input_feeding=False")
SOME_IDS = [name for name in MODEL_IDS if name in _SOME]
SOME_FACTORIES = [f for name, f in ALL_MODELS if name in _SOME]
assert len(SOME_IDS) == len(_SOME)


def make_batch(lens=(7, 3, 5, 1), tgt_lens=(6, 4, 2, 5), seed=0):
    """Padded ``src [B, S]``, ``src_lens``, ``tgt [B, T]`` (``<sos> ... <eos> <pad>``)."""
    g = torch.Generator().manual_seed(seed)
    src_lens = torch.tensor(lens)
    src = torch.full((len(lens), max(lens)), PAD)
    for i, n in enumerate(lens):
        src[i, :n] = torch.randint(4, V_SRC, (n,), generator=g)
    tgt = torch.full((len(tgt_lens), max(tgt_lens) + 2), PAD)
    for i, n in enumerate(tgt_lens):
        tgt[i, 0] = SOS
        tgt[i, 1:n + 1] = torch.randint(4, V_TGT, (n,), generator=g)
        tgt[i, n + 1] = EOS
    return src, src_lens, tgt


def step_loop(model: Seq2Seq, src, src_lens, tgt):
    """Teacher-forced decoding with ``decode_step`` only."""
    enc = model.encode(src, src_lens)
    state = model.init_state(enc)
    logits, weights = [], []
    for t in range(tgt.size(1) - 1):
        out = model.decode_step(tgt[:, t], state, enc)
        state = out.state
        logits.append(out.logits)
        weights.append(out.attn_weights)
    return torch.stack(logits, 1), torch.stack(weights, 1)


def decode_step_loop(model, src, src_lens, tgt, ratio):
    """The plain training loop (the library's before the packed one): ``decode_step`` on the whole
    batch at every position, the gold previous word with probability ``ratio`` (one coin per
    position from ``random``), else the previous step's argmax."""
    enc = model.encode(src, src_lens)
    state, prev, logits, weights = model.init_state(enc), tgt[:, 0], [], []
    for t in range(tgt.size(1) - 1):
        if t > 0:
            prev = tgt[:, t] if ratio >= 1.0 or random.random() < ratio else logits[-1].argmax(-1)
        out = model.decode_step(prev, state, enc)
        state = out.state
        logits.append(out.logits)
        weights.append(out.attn_weights)
    return Seq2SeqOutput(torch.stack(logits, 1), None if weights[0] is None else torch.stack(weights, 1))


# --- masking -------------------------------------------------------------------------------

@pytest.mark.parametrize("factory", SOME_FACTORIES, ids=SOME_IDS)
def test_padded_source_positions_get_exactly_zero_weight(factory):
    torch.manual_seed(0)
    model = factory().eval()
    src, src_lens, tgt = make_batch()
    pad = lengths_to_pad_mask(src_lens)  # [B, S]
    with torch.no_grad():
        out = model(src, src_lens, tgt)
        _, step_weights = step_loop(model, src, src_lens, tgt)
    real = tgt[:, 1:] != PAD  # target positions that are predicted (the rest may be skipped)
    for weights in (out.attn_weights, step_weights):
        assert weights.shape == (4, tgt.size(1) - 1, src.size(1))
        assert torch.all(weights.masked_select(pad.unsqueeze(1).expand_as(weights)) == 0.0)
        assert torch.all(weights >= 0)
        sums = weights.sum(-1)[real]
        if isinstance(model, LuongSeq2Seq) and model.config.attention == "local-p":
            assert torch.all(sums <= 1 + 1e-6) and torch.all(sums > 0)  # not renormalised (paper)
        else:
            torch.testing.assert_close(sums, torch.ones_like(sums))


def test_bahdanau_padding_does_not_change_the_result():
    """A sentence decoded alone equals the same sentence inside a padded batch."""
    torch.manual_seed(0)
    model = tiny_bahdanau().eval()
    src, src_lens, tgt = make_batch()
    with torch.no_grad():
        batched = model(src, src_lens, tgt)
        i = 1  # a short sentence, padded in the batch (source and target)
        n = int((tgt[i] != PAD).sum())
        alone = model(src[i:i + 1, : src_lens[i]], src_lens[i:i + 1], tgt[i:i + 1, :n])
    torch.testing.assert_close(batched.logits[i, : n - 1], alone.logits[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batched.attn_weights[i, : n - 1, : src_lens[i]], alone.attn_weights[0], atol=1e-6, rtol=1e-5)


# --- local-p ---------------------------------------------------------------------------------

@pytest.mark.parametrize("window", [1, 2, 4])
def test_local_p_window_and_position(window):
    torch.manual_seed(0)
    H, B, S, T = 6, 5, 12, 4
    attn = LocalPAttention(make_attention("general", H, H), H, window=window)
    with torch.no_grad():  # make the predicted positions spread over the whole range
        attn.v_p.weight.mul_(20)
    src_lens = torch.tensor([12, 9, 4, 1, 7])
    mask = lengths_to_pad_mask(src_lens, S)
    keys = torch.randn(B, S, H).masked_fill(mask.unsqueeze(-1), 0.0)
    query = torch.randn(B, T, H)
    context, weights = attn(query, keys, mask=mask)
    p = attn.predict_position(query, src_lens)  # [B, T]
    assert context.shape == (B, T, H) and weights.shape == (B, T, S)
    assert torch.all(p >= 0) and torch.all(p <= src_lens.unsqueeze(1).float())
    positions = torch.arange(S).view(1, 1, S).float()
    outside = (positions - p.unsqueeze(-1)).abs() > window
    assert torch.all(weights[outside] == 0.0)
    assert torch.all(weights.masked_select(mask.unsqueeze(1).expand_as(weights)) == 0.0)
    inside_real = ~outside & ~mask.unsqueeze(1)
    assert torch.all(weights[inside_real] > 0)
    # eq. 10: the window softmax times the Gaussian, not renormalised
    sigma = window / 2
    gauss = torch.exp(-(positions - p.unsqueeze(-1)) ** 2 / (2 * sigma**2))
    align = torch.where(inside_real, weights / gauss, torch.zeros(()))  # gauss underflows far away
    torch.testing.assert_close(align.sum(-1), torch.ones(B, T))
    # one-step queries give the same as the rows of the all-steps call
    c1, w1 = attn(query[:, 2], keys, mask=mask)
    torch.testing.assert_close(w1, weights[:, 2])
    torch.testing.assert_close(c1, context[:, 2])


def test_local_p_uses_real_length_not_padded_length():
    torch.manual_seed(0)
    H = 6
    attn = LocalPAttention(make_attention("dot", H, H), H, window=2)
    query = torch.randn(1, H)
    keys = torch.randn(1, 5, H)
    unpadded_p = attn.predict_position(query, torch.tensor([5]))
    padded_keys = torch.cat([keys, torch.zeros(1, 7, H)], dim=1)
    mask = lengths_to_pad_mask(torch.tensor([5]), 12)
    _, w_padded = attn(query, padded_keys, mask=mask)
    _, w = attn(query, keys)
    torch.testing.assert_close(w_padded[:, :5], w)
    assert torch.all(w_padded[:, 5:] == 0)
    assert float(unpadded_p.detach()) <= 5


def test_local_p_rejects_bad_window_and_mask():
    with pytest.raises(ValueError, match="window"):
        LocalPAttention(make_attention("dot", 4, 4), 4, window=0)
    attn = LocalPAttention(make_attention("dot", 4, 4), 4, window=2)
    with pytest.raises(ValueError, match=r"\[B, S\]"):
        attn(torch.randn(2, 3, 4), torch.randn(2, 5, 4), mask=torch.zeros(2, 3, 5, dtype=torch.bool))


# --- input feeding ---------------------------------------------------------------------------

def test_input_feeding_changes_the_decoder_input():
    torch.manual_seed(0)
    fed, plain = tiny_luong(input_feeding=True).eval(), tiny_luong(input_feeding=False).eval()
    assert fed.decoder_rnn.input_size == 8 + 12 and plain.decoder_rnn.input_size == 8
    src, src_lens, tgt = make_batch()
    with torch.no_grad():
        enc = fed.encode(src, src_lens)
        state = fed.init_state(enc)
        assert torch.all(state["h_tilde"] == 0) and state["h_tilde"].shape == (4, 12)
        x0 = fed.decoder_input(tgt[:, 0], state)
        assert x0.shape == (4, 20)
        out1 = fed.decode_step(tgt[:, 0], state, enc)
        assert "h_tilde" in out1.state and not torch.all(out1.state["h_tilde"] == 0)
        # the same step with another h~_{t-1} gives another input and other logits
        changed = dict(state, h_tilde=torch.randn(4, 12))
        assert not torch.allclose(fed.decoder_input(tgt[:, 0], changed), x0)
        out2 = fed.decode_step(tgt[:, 0], changed, enc)
        assert not torch.allclose(out1.logits, out2.logits)
        assert "h_tilde" not in plain.init_state(plain.encode(src, src_lens))


# --- decode_step == forward ------------------------------------------------------------------

@pytest.mark.parametrize("factory", MODEL_FACTORIES, ids=MODEL_IDS)
def test_decode_step_loop_equals_forward(factory):
    torch.manual_seed(0)
    model = factory().eval()
    src, src_lens, tgt = make_batch()
    with torch.no_grad():
        out = model(src, src_lens, tgt, teacher_forcing_ratio=1.0)
        logits, weights = step_loop(model, src, src_lens, tgt)
    assert out.logits.shape == (4, tgt.size(1) - 1, V_TGT)
    real = tgt[:, 1:] != PAD  # positions after <eos> are not predictions of anything
    torch.testing.assert_close(out.logits[real], logits[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.attn_weights[real], weights[real], atol=1e-6, rtol=1e-5)
    if isinstance(model, BahdanauSeq2Seq) or model.config.input_feeding:  # packed loops skip them
        assert torch.all(out.logits[~real] == 0) and torch.all(out.attn_weights[~real] == 0)


@pytest.mark.parametrize("ratio", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("factory", [tiny_bahdanau, lambda: tiny_luong(input_feeding=True),
                                     lambda: tiny_luong(input_feeding=False, attention="local-p", window=2)],
                         ids=["bahdanau", "luong-feeding", "luong-local-p"])
def test_fast_forward_matches_base_loop_with_teacher_forcing(factory, ratio):
    """Same coins (seeded ``random``), same predictions as a plain ``decode_step`` loop."""
    torch.manual_seed(0)
    model = factory().eval()
    src, src_lens, tgt = make_batch(tgt_lens=(9, 7, 8, 9))
    with torch.no_grad():
        random.seed(123)
        fast = model(src, src_lens, tgt, teacher_forcing_ratio=ratio)
        random.seed(123)
        slow = decode_step_loop(model, src, src_lens, tgt, ratio)
    real = tgt[:, 1:] != PAD
    torch.testing.assert_close(fast.logits[real], slow.logits[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast.attn_weights[real], slow.attn_weights[real], atol=1e-6, rtol=1e-5)


def test_forward_rejects_bad_arguments():
    model = tiny_bahdanau()
    src, src_lens, tgt = make_batch()
    with pytest.raises(ValueError, match="teacher_forcing_ratio"):
        model(src, src_lens, tgt, teacher_forcing_ratio=1.5)
    with pytest.raises(ValueError, match="batch sizes"):
        model(src, src_lens, tgt[:2])
    with pytest.raises(ValueError, match="at least one token"):
        model.encode(src, torch.tensor([7, 0, 5, 1]))


@pytest.mark.parametrize("factory", SOME_FACTORIES, ids=SOME_IDS)
def test_encoder_and_state_dicts_are_batch_first_for_search(factory):
    """Beam search reorders hypotheses with ``select_batch``: stepping the reordered dicts
    must equal reordering the step's outputs."""
    torch.manual_seed(0)
    model = factory().eval()
    src, src_lens, tgt = make_batch()
    index = torch.tensor([2, 0, 0, 3, 1])
    with torch.no_grad():
        enc = model.encode(src, src_lens)
        state = model.init_state(enc)
        out = model.decode_step(tgt[:, 0], state, enc)
        out2 = model.decode_step(tgt[:, 1], out.state, enc)
        picked = model.decode_step(tgt[index, 1], select_batch(out.state, index), select_batch(enc, index))
    torch.testing.assert_close(picked.logits, out2.logits[index])
    torch.testing.assert_close(picked.attn_weights, out2.attn_weights[index])


# --- greedy ----------------------------------------------------------------------------------

@pytest.mark.parametrize("factory", SOME_FACTORIES, ids=SOME_IDS)
def test_batched_greedy_equals_per_sentence_greedy(factory):
    torch.manual_seed(1)
    model = factory().eval()
    src, src_lens, _ = make_batch(lens=(7, 3, 5, 1, 6), tgt_lens=(1, 1, 1, 1, 1))
    batched = greedy_decode(model, src, src_lens, max_len=12)
    for i in range(src.size(0)):
        n = int(src_lens[i])
        single = greedy_decode(model, src[i:i + 1, :n], src_lens[i:i + 1], max_len=12)
        k = int(single.lengths[0])
        assert int(batched.lengths[i]) == k
        assert batched.tokens[i, :k].tolist() == single.tokens[0, :k].tolist()
        torch.testing.assert_close(batched.attn_weights[i, :k, :n], single.attn_weights[0, :k], atol=1e-5, rtol=1e-4)


# --- gradients and sizes ---------------------------------------------------------------------

@pytest.mark.parametrize("factory", SOME_FACTORIES, ids=SOME_IDS)
def test_gradients_reach_every_parameter(factory):
    torch.manual_seed(0)
    random.seed(0)
    model = factory().train()
    src, src_lens, tgt = make_batch()
    ratio = 0.5 if isinstance(model, BahdanauSeq2Seq) else 1.0  # Bahdanau: its own loop with argmax inputs
    out = model(src, src_lens, tgt, teacher_forcing_ratio=ratio)
    loss = torch.nn.functional.cross_entropy(out.logits.reshape(-1, V_TGT), tgt[:, 1:].reshape(-1), ignore_index=PAD)
    loss.backward()
    for name, p in model.named_parameters():
        if name == "attention.W_a.weight" and getattr(model.config, "score", "") == "location":
            continue  # rows beyond S = max source length never get a gradient
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        if p.dim() > 1 and "embedding" not in name:
            assert p.grad.abs().sum() > 0, name


def test_benchmark_configuration_has_the_reference_parameter_count():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    try:
        from reference_bahdanau import build_reference
    finally:
        sys.path.pop(0)
    count = lambda m: sum(p.numel() for p in m.parameters())
    ours = BahdanauSeq2Seq(7851, 5892, BahdanauConfig.tutorial())
    ref = build_reference(7851, 5892)
    assert count(ours) == count(ref) == 20_515_844


def test_configs_reject_unknown_values():
    with pytest.raises(ValueError, match="unknown BahdanauConfig keys"):
        BahdanauConfig.from_dict({"hidden": 3})
    with pytest.raises(ValueError, match="unknown LuongConfig keys"):
        LuongConfig.from_dict({"hidden": 3})
    with pytest.raises(ValueError, match="init_from"):
        tiny_bahdanau(init_from="forward")
    with pytest.raises(ValueError, match="score"):
        tiny_luong(score="scaled")
    with pytest.raises(ValueError, match="attention"):
        tiny_luong(attention="local-m")


@pytest.mark.parametrize("factory", [tiny_bahdanau, lambda: tiny_luong(input_feeding=True)], ids=["bahdanau", "luong"])
def test_model_overfits_one_batch(factory):
    torch.manual_seed(0)
    random.seed(0)
    model = factory()
    src, src_lens, tgt = make_batch()
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    losses = []
    for _ in range(30):
        out = model(src, src_lens, tgt, teacher_forcing_ratio=0.5)
        loss = torch.nn.functional.cross_entropy(out.logits.reshape(-1, V_TGT), tgt[:, 1:].reshape(-1), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_attention_modules_have_no_bias_and_bahdanau_adds_one_documented_b():
    """attention.py: "no biases, as in the papers"; BahdanauSeq2Seq's b is its own parameter."""
    from course_lib.attention import SCORE_FUNCTIONS
    for name in SCORE_FUNCTIONS:
        module = make_attention(name, 6, 6, attn_dim=5, max_src_len=9)
        assert all(getattr(m, "bias", None) is None for m in module.modules() if isinstance(m, torch.nn.Linear)), name
    model = tiny_bahdanau()
    names = [n for n, _ in model.named_parameters() if n.startswith("attention") or "attn" in n]
    assert sorted(names) == ["attention.U_a.weight", "attention.W_a.weight", "attention.v_a.weight", "attn_bias"]
    assert "not in the paper" in BahdanauSeq2Seq.__doc__


def test_luong_does_not_import_from_bahdanau_and_trains_through_the_base():
    import ast
    import course_lib.models.luong as luong
    tree = ast.parse(Path(luong.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "bahdanau" not in imported
    for cls in (LuongSeq2Seq, BahdanauSeq2Seq):  # the base owns forward and decode_step (the packed loop)
        assert cls.forward is Seq2Seq.forward and cls.decode_step is Seq2Seq.decode_step
