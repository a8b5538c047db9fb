import pytest
import torch

from course_lib.models import VanillaConfig, VanillaSeq2Seq, lengths_to_pad_mask, select_batch
from course_lib.training import sequence_loss
from course_lib.utils import check_shape
from tests.helpers import copy_task_batches


def tiny_model(**kw):
    torch.manual_seed(0)
    return VanillaSeq2Seq(12, 12, VanillaConfig(emb_dim=16, hidden_dim=32, num_layers=2, dropout=0.0, **kw))


def test_shapes_of_encode_step_and_forward():
    model = tiny_model()
    batch = copy_task_batches(1)[0]
    B, S = batch.src.shape
    T = batch.tgt.size(1)
    enc = model.encode(batch.src, batch.src_lens)
    check_shape(enc["enc_outputs"], (B, S, 32))
    check_shape(enc["h0"], (B, 2, 32))
    assert torch.equal(enc["src_pad_mask"], batch.src_pad_mask)
    step = model.decode_step(batch.tgt[:, 0], model.init_state(enc), enc)
    check_shape(step.logits, (B, 12))
    assert step.attn_weights is None
    out = model(batch.src, batch.src_lens, batch.tgt)
    check_shape(out.logits, (B, T - 1, 12))


def test_encoder_outputs_are_zero_at_padding_and_ignore_pad_tokens():
    model = tiny_model().eval()
    batch = copy_task_batches(1)[0]
    enc = model.encode(batch.src, batch.src_lens)
    assert torch.all(enc["enc_outputs"][batch.src_pad_mask] == 0)
    # changing what sits in padded positions must not change anything
    src2 = batch.src.masked_fill(batch.src_pad_mask, 7)
    enc2 = model.encode(src2, batch.src_lens)
    torch.testing.assert_close(enc["h0"], enc2["h0"])


def test_decode_step_loop_equals_teacher_forced_fast_path():
    model = tiny_model().eval()
    batch = copy_task_batches(1)[0]
    full = model(batch.src, batch.src_lens, batch.tgt).logits
    enc = model.encode(batch.src, batch.src_lens)
    state = model.init_state(enc)
    steps = []
    for t in range(batch.tgt.size(1) - 1):
        out = model.decode_step(batch.tgt[:, t], state, enc)
        state = out.state
        steps.append(out.logits)
    torch.testing.assert_close(torch.stack(steps, 1), full, rtol=1e-5, atol=1e-5)


def test_overfits_one_batch():
    model = tiny_model()
    batch = copy_task_batches(1, batch_size=6)[0]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        loss = sequence_loss(model(batch.src, batch.src_lens, batch.tgt).logits, batch.tgt[:, 1:], 0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05, f"could not overfit a single batch (loss {loss.item():.3f})"


def test_teacher_forcing_ratio_is_validated():
    model = tiny_model()
    batch = copy_task_batches(1)[0]
    with pytest.raises(ValueError, match="teacher_forcing_ratio"):
        model(batch.src, batch.src_lens, batch.tgt, teacher_forcing_ratio=1.5)


def test_select_batch_and_pad_mask():
    lens = torch.tensor([3, 1, 2])
    mask = lengths_to_pad_mask(lens)
    assert mask.tolist() == [[False, False, False], [False, True, True], [False, False, True]]
    picked = select_batch({"m": mask, "l": lens}, torch.tensor([2, 2, 0]))
    assert picked["l"].tolist() == [2, 2, 3]
    with pytest.raises(ValueError, match="at least one token"):
        lengths_to_pad_mask(torch.tensor([2, 0]))


# --- adversarial input: every model, every public entry point -------------------------------------

import math  # noqa: E402
import random  # noqa: E402

from course_lib.models import (BahdanauConfig, BahdanauSeq2Seq, LuongConfig, LuongSeq2Seq,  # noqa: E402
                               RNNEncoder)

V = 12
MODELS = {
    "vanilla": lambda: VanillaSeq2Seq(V, V, VanillaConfig(emb_dim=6, hidden_dim=8, num_layers=1, dropout=0.0)),
    "bahdanau": lambda: BahdanauSeq2Seq(V, V, BahdanauConfig(6, 5, 7, 4, 0.0)),
    "luong": lambda: LuongSeq2Seq(V, V, LuongConfig(6, 8, 2, 0.0)),
    "luong-local-p": lambda: LuongSeq2Seq(V, V, LuongConfig(6, 8, 1, 0.0, attention="local-p", window=2)),
    "luong-location": lambda: LuongSeq2Seq(V, V, LuongConfig(6, 8, 1, 0.0, score="location", max_src_len=5)),
}


@pytest.fixture(params=list(MODELS))
def model(request):
    torch.manual_seed(0)
    return MODELS[request.param]().eval()


def good_batch():
    batch = copy_task_batches(1, batch_size=3, vocab=V, max_len=4)[0]
    return batch.src, batch.src_lens, batch.tgt


@pytest.mark.parametrize("bad_lens", [
    lambda src, lens: lens + src.size(1),                       # longer than src.size(1)
    lambda src, lens: lens.unsqueeze(1),                        # [B, 1]
    lambda src, lens: torch.cat([lens, lens[:1]]),              # [B + 1]
    lambda src, lens: lens[:-1],                                # [B - 1]
    lambda src, lens: lens.float(),                             # float lengths
    lambda src, lens: lens.tolist(),                            # not a tensor
    lambda src, lens: lens * 0,                                 # a length of 0
    lambda src, lens: -lens,                                    # negative
])
def test_encode_rejects_bad_src_lens(model, bad_lens):
    src, src_lens, _ = good_batch()
    with pytest.raises(ValueError, match="src_lens|length"):
        model.encode(src, bad_lens(src, src_lens))


@pytest.mark.parametrize("bad_src", [
    lambda src: src.float(),                  # not ids
    lambda src: src[0],                       # 1-D
    lambda src: src.unsqueeze(0),             # 3-D
    lambda src: src[:, :0],                   # empty
    lambda src: src.masked_fill(src == 4, V),  # an id outside the vocabulary
    lambda src: src.masked_fill(src == 4, -1),
    lambda src: src.tolist(),                 # not a tensor
])
def test_encode_rejects_bad_src(model, bad_src):
    src, src_lens, _ = good_batch()
    with pytest.raises(ValueError):
        model.encode(bad_src(src), src_lens)


@pytest.mark.parametrize("bad_tgt,message", [
    (lambda tgt: tgt[:, :1], "nothing to predict"),                 # only <sos>
    (lambda tgt: torch.cat([tgt[:, :1], torch.zeros_like(tgt[:, 1:])], 1), "nothing to predict"),  # <sos> <pad>...
    (lambda tgt: tgt.masked_fill(tgt == 4, V), "vocabulary"),
    (lambda tgt: tgt.masked_fill(tgt == 4, -3), "vocabulary"),
    (lambda tgt: tgt.float(), "integer"),
    (lambda tgt: tgt[0], r"\[B, T\]"),
    (lambda tgt: tgt[:2], "batch sizes"),
])
def test_forward_rejects_bad_tgt(model, bad_tgt, message):
    src, src_lens, tgt = good_batch()
    tgt = tgt.masked_fill(tgt == 5, 4)  # make sure id 4 occurs
    with pytest.raises(ValueError, match=message):
        model(src, src_lens, bad_tgt(tgt))


@pytest.mark.parametrize("ratio", [-0.1, 1.5, math.nan, True, "0.5", None])
def test_forward_rejects_bad_teacher_forcing_ratio(model, ratio):
    src, src_lens, tgt = good_batch()
    with pytest.raises(ValueError, match="teacher_forcing_ratio"):
        model(src, src_lens, tgt, teacher_forcing_ratio=ratio)


def test_forward_rejects_mismatched_batches_and_draws_no_coin(model):
    src, src_lens, tgt = good_batch()
    random.seed(5)
    for args in ((src[:2], src_lens, tgt), (src, src_lens[:2], tgt), (src, src_lens + 10, tgt)):
        with pytest.raises(ValueError):
            model(*args, teacher_forcing_ratio=0.5)
    after = random.random()
    random.seed(5)
    assert random.random() == after  # nothing was drawn before the error: no work done


def test_decode_step_rejects_bad_prev_tokens_and_states(model):
    src, src_lens, tgt = good_batch()
    with torch.no_grad():
        enc = model.encode(src, src_lens)
        state = model.init_state(enc)
        with pytest.raises(ValueError, match=r"\[B\]"):
            model.decode_step(tgt[:, :2], state, enc)                  # [B, 2]
        with pytest.raises(ValueError, match="integer"):
            model.decode_step(tgt[:, 0].float(), state, enc)
        with pytest.raises(ValueError, match="batch size"):
            model.decode_step(tgt[:2, 0], state, enc)                  # B - 1 tokens
        with pytest.raises(ValueError, match="batch size"):
            model.decode_step(tgt[:, 0], {k: v[:2] for k, v in state.items()}, enc)
        with pytest.raises(ValueError, match="vocabulary"):
            model.decode_step(torch.full_like(tgt[:, 0], V), state, enc)
        with pytest.raises(ValueError, match="vocabulary"):
            model.decode_step(torch.full_like(tgt[:, 0], -1), state, enc)
        with pytest.raises(ValueError, match="encode"):
            model.decode_step(tgt[:, 0], state, {"something": enc["src_pad_mask"]})
        for key in state:
            with pytest.raises(ValueError, match=key):
                model.decode_step(tgt[:, 0], {k: v for k, v in state.items() if k != key}, enc)  # key missing
            with pytest.raises(ValueError, match=key):
                model.decode_step(tgt[:, 0], dict(state, **{key: state[key][..., :-1]}), enc)  # wrong width
        model.decode_step(tgt[:, 0], state, enc)  # the good call still works


@pytest.mark.parametrize("config_class,fields", [
    (VanillaConfig, ("emb_dim", "hidden_dim", "num_layers")),
    (BahdanauConfig, ("emb_dim", "enc_hidden_dim", "dec_hidden_dim", "attn_dim")),
    (LuongConfig, ("emb_dim", "hidden_dim", "num_layers", "window", "max_src_len")),
])
@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "8"])
def test_configs_name_the_bad_size(config_class, fields, bad):
    for field in fields:
        with pytest.raises(ValueError, match=f"{config_class.__name__}.{field}"):
            config_class(**{field: bad})
        with pytest.raises(ValueError, match=field):
            config_class.from_dict({field: bad})


@pytest.mark.parametrize("config_class", [VanillaConfig, BahdanauConfig, LuongConfig])
@pytest.mark.parametrize("bad", [1.0, -0.1, math.nan, "0.1", None])
def test_configs_refuse_dropout_outside_0_1(config_class, bad):
    with pytest.raises(ValueError, match="dropout"):
        config_class(dropout=bad)


def test_config_choices_and_types():
    with pytest.raises(ValueError, match="init_from"):
        BahdanauConfig(init_from="forward")
    with pytest.raises(ValueError, match="input_feeding"):
        LuongConfig(input_feeding="yes")
    with pytest.raises(ValueError, match="LuongConfig.score"):
        LuongConfig(score="scaled_dot")
    with pytest.raises(TypeError, match="BahdanauConfig"):
        BahdanauSeq2Seq(V, V, {"emb_dim": 4})
    with pytest.raises(TypeError, match="LuongConfig"):
        LuongSeq2Seq(V, V, BahdanauConfig())
    with pytest.raises(TypeError, match="VanillaConfig"):
        VanillaSeq2Seq(V, V, LuongConfig())
    cfg = BahdanauConfig()
    cfg.attn_dim = 0  # changed after construction: the model validates again
    with pytest.raises(ValueError, match="attn_dim"):
        BahdanauSeq2Seq(V, V, cfg)


@pytest.mark.parametrize("kwargs,field", [
    (dict(src_vocab_size=0), "src_vocab_size"), (dict(tgt_vocab_size=-1), "tgt_vocab_size"),
    (dict(tgt_vocab_size=2.5), "tgt_vocab_size"), (dict(pad_id=V), "pad_id"), (dict(eos_id=-1), "eos_id"),
    (dict(sos_id=1.0), "sos_id"),
])
@pytest.mark.parametrize("cls", [VanillaSeq2Seq, BahdanauSeq2Seq, LuongSeq2Seq])
def test_models_refuse_bad_vocabulary_sizes_and_ids(cls, kwargs, field):
    args = dict(src_vocab_size=V, tgt_vocab_size=V)
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        cls(**args)


def test_location_score_refuses_a_source_longer_than_max_src_len():
    model = MODELS["luong-location"]()
    src = torch.randint(4, V, (2, 6))
    with pytest.raises(ValueError, match="max_src_len"):
        model.encode(src, torch.tensor([6, 3]))


@pytest.mark.parametrize("kwargs,field", [
    (dict(vocab_size=0), "vocab_size"), (dict(emb_dim=-1), "emb_dim"), (dict(hidden_dim=1.5), "hidden_dim"),
    (dict(num_layers=0), "num_layers"), (dict(dropout=1.0), "dropout"), (dict(pad_id=12), "pad_id"),
    (dict(cell="rnn"), "cell"),
])
def test_rnn_encoder_refuses_bad_arguments(kwargs, field):
    args = dict(vocab_size=12, emb_dim=4, hidden_dim=5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        RNNEncoder(**args)


def test_rnn_encoder_forward_checks_its_input():
    enc = RNNEncoder(12, 4, 5, bidirectional=True)
    src = torch.randint(4, 12, (2, 5))
    with pytest.raises(ValueError, match="src_lens"):
        enc(src, torch.tensor([6, 2]))
    with pytest.raises(ValueError, match="src_lens"):
        enc(src, torch.tensor([5]))
    with pytest.raises(ValueError, match="src"):
        enc(src.float(), torch.tensor([5, 2]))
    with pytest.raises(ValueError, match="vocabulary"):
        enc(src + 12, torch.tensor([5, 2]))
    outputs, hidden = enc(src, torch.tensor([5, 2]))
    assert outputs.shape == (2, 5, 10) and torch.all(outputs[1, 2:] == 0)


def test_lengths_to_pad_mask_is_importable_from_models():
    from course_lib.models import lengths_to_pad_mask as from_models
    from course_lib.utils import lengths_to_pad_mask as from_utils
    assert from_models is from_utils
