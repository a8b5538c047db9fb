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
