"""The packed decoder loop (course_lib.models.packed) on a toy decoder: same decisions and
numbers as the plain step loop, coins identical to Seq2Seq.forward, rows back in place."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from course_lib.models.packed import (
    draw_teacher_forcing_coins,
    packed_forward,
    plan_packed,
    scatter_rows,
    sort_by_target_length,
)

PAD, SOS, EOS, V, H, S = 0, 2, 3, 11, 5, 4


class ToyDecoder(nn.Module):
    """An RNN cell with an attention-like read of ``enc["keys"]``, split as packed.py wants."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(V, H)
        self.cell = nn.GRUCell(2 * H, H)
        self.out = nn.Linear(2 * H, V)

    def embed(self, tokens):
        e = self.emb(tokens)
        return e, 2 * e  # a tuple of features, as Bahdanau's (E y, its input projection)

    def step(self, inputs, state, enc):
        e, _ = inputs
        weights = torch.softmax(torch.einsum("bh,bsh->bs", state["h"], enc["keys"]), -1)  # [n, S]
        context = torch.einsum("bs,bsh->bh", weights, enc["keys"])
        h = self.cell(torch.cat([e, context], -1), state["h"])
        return {"h": h}, torch.cat([h, context], -1), weights


def make_tgt(lens, seed=0):
    g = torch.Generator().manual_seed(seed)
    tgt = torch.full((len(lens), max(lens) + 2), PAD)
    for i, n in enumerate(lens):
        tgt[i, 0], tgt[i, n + 1] = SOS, EOS
        tgt[i, 1:n + 1] = torch.randint(4, V, (n,), generator=g)
    return tgt


def plain_loop(model, enc, state, tgt, ratio):
    """The base loop of Seq2Seq.forward, written with the toy's embed/step/output."""
    logits, weights = [], []
    prev = tgt[:, 0]
    for t in range(tgt.size(1) - 1):
        if t > 0:
            use_gold = ratio >= 1.0 or random.random() < ratio
            prev = tgt[:, t] if use_gold else logits[-1].argmax(-1)
        state, feat, w = model.step(model.embed(prev), state, enc)
        logits.append(model.out(feat))
        weights.append(w)
    return torch.stack(logits, 1), torch.stack(weights, 1)


@pytest.mark.parametrize("ratio", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("lens", [(5, 2, 4, 1), (3, 3, 3), (1,), (6, 1, 1, 6)])
def test_packed_forward_equals_the_plain_loop(ratio, lens):
    model = ToyDecoder()
    tgt = make_tgt(lens)
    B = tgt.size(0)
    enc = {"keys": torch.randn(B, S, H), "other": torch.randn(B, 2)}
    state = {"h": torch.randn(B, H)}
    random.seed(7)
    out = packed_forward(enc, state, tgt, embed=model.embed, step=model.step, output=model.out, pad_id=PAD,
                         teacher_forcing_ratio=ratio)
    after_packed = random.random()
    random.seed(7)
    logits, weights = plain_loop(model, enc, state, tgt, ratio)
    assert random.random() == after_packed  # the same number of coins was drawn
    real = tgt[:, 1:] != PAD
    assert out.logits.shape == logits.shape and out.attn_weights.shape == weights.shape
    torch.testing.assert_close(out.logits[real], logits[real])
    torch.testing.assert_close(out.attn_weights[real], weights[real])
    assert torch.all(out.logits[~real] == 0) and torch.all(out.attn_weights[~real] == 0)


def test_packed_forward_is_differentiable_and_skips_padding():
    model = ToyDecoder()
    tgt = make_tgt((4, 1, 2))
    enc = {"keys": torch.randn(3, S, H, requires_grad=True)}
    out = packed_forward(enc, {"h": torch.zeros(3, H)}, tgt, embed=model.embed, step=model.step,
                         output=model.out, pad_id=PAD, teacher_forcing_ratio=0.5)
    out.logits.sum().backward()
    assert enc["keys"].grad is not None and torch.isfinite(enc["keys"].grad).all()
    assert all(p.grad is not None for p in model.parameters())


def test_packed_forward_without_attention_weights():
    model = ToyDecoder()
    step = lambda inputs, state, enc: model.step(inputs, state, enc)[:2] + (None,)  # noqa: E731
    tgt = make_tgt((3, 2))
    out = packed_forward({"keys": torch.randn(2, S, H)}, {"h": torch.zeros(2, H)}, tgt, embed=model.embed,
                         step=step, output=model.out, pad_id=PAD)
    assert out.attn_weights is None and out.logits.shape == (2, tgt.size(1) - 1, V)


def test_packed_forward_with_nothing_to_predict_raises():
    model = ToyDecoder()
    tgt = torch.tensor([[SOS, PAD, PAD], [SOS, PAD, PAD]])
    with pytest.raises(ValueError, match="nothing to predict"):
        packed_forward({"keys": torch.randn(2, S, H)}, {"h": torch.zeros(2, H)}, tgt, embed=model.embed,
                       step=model.step, output=model.out, pad_id=PAD)


# --- the pieces ----------------------------------------------------------------------------------

@pytest.mark.parametrize("ratio", [0.0, 0.25, 0.9])
def test_coins_are_the_base_loops_coins(ratio):
    random.seed(3)
    coins = draw_teacher_forcing_coins(8, ratio)
    random.seed(3)
    expected = [True] + [random.random() < ratio for _ in range(7)]
    assert coins == expected


def test_coins_at_ratio_one_draw_nothing():
    random.seed(3)
    assert draw_teacher_forcing_coins(5, 1.0) == [True] * 5
    after = random.random()
    random.seed(3)
    assert random.random() == after
    assert draw_teacher_forcing_coins(0, 0.5) == []


def test_sort_by_target_length_orders_longest_first_and_counts_the_active_prefix():
    tgt = make_tgt((2, 5, 2, 0, 3))  # predicted positions: 3, 6, 3, 1, 4
    order, active = sort_by_target_length(tgt, PAD)
    assert order.tolist() == [1, 4, 0, 2, 3]  # stable among equal lengths
    assert active == [5, 4, 4, 2, 1, 1]
    assert all(a >= b for a, b in zip(active, active[1:]))


def test_scatter_rows_puts_rows_back_and_leaves_zeros():
    chunks = [torch.tensor([[1.0, 1.0], [2.0, 2.0]]), torch.tensor([[3.0, 3.0]])]
    rows = [torch.tensor([4, 0]), torch.tensor([2])]
    out = scatter_rows(chunks, rows, 5)
    assert out.tolist() == [[2, 2], [0, 0], [3, 3], [0, 0], [1, 1]]


def test_plan_reorders_the_encoder_dictionary_and_plans_the_output_layer():
    tgt = make_tgt((1, 4, 2))
    enc = {"x": torch.arange(3).float().unsqueeze(1)}
    random.seed(0)
    plan = plan_packed(enc, tgt, PAD, 0.5, state={"h": torch.arange(3).float()})
    assert plan.order.tolist() == [1, 2, 0]
    assert plan.enc["x"].squeeze(1).tolist() == [1.0, 2.0, 0.0] and plan.state["h"].tolist() == [1.0, 2.0, 0.0]
    assert plan.steps == 5 and plan.active == [3, 3, 2, 1, 1] and plan.num_positions == 5
    assert plan.tgt_in.shape == (3, 5) and torch.equal(plan.tgt_in[0], tgt[1, :5])
    # logits are needed inside the loop exactly when the next position takes the argmax
    assert plan.need_now == [t + 1 < plan.steps and not plan.gold[t + 1] for t in range(plan.steps)]
    # flat rows: sentence order[i], position t
    assert plan.rows[0].tolist() == [1 * 5 + 0, 2 * 5 + 0, 0 * 5 + 0]
    assert plan.rows[4].tolist() == [1 * 5 + 4]


def test_the_module_docstrings_example_model_works():
    """The usage example of packed.py, completed with layers: decode_step loop == forward."""
    import course_lib.models.packed as packed
    from course_lib.attention import AdditiveAttention
    from course_lib.models import RNNEncoder
    from course_lib.models.base import Seq2Seq, StepOutput  # noqa: F401 (used by the example)

    doc = packed.__doc__
    code = doc[doc.index("    class MyAttentionModel"):doc.index("A model that needs its own loop")]
    namespace = {"Seq2Seq": Seq2Seq, "StepOutput": StepOutput, "packed_forward": packed_forward, "torch": torch}
    exec(compile("\n".join(line[4:] for line in code.splitlines()), "packed-example", "exec"), namespace)

    class Example(namespace["MyAttentionModel"]):
        def __init__(self):
            super().__init__(V, V)
            self.encoder = RNNEncoder(V, 4, H, cell="gru")
            self.attention = AdditiveAttention(H, H, 3)
            self.tgt_embedding = nn.Embedding(V, 4)
            self.dropout = nn.Dropout(0.0)
            self.rnn = nn.GRUCell(4 + H, H)
            self.out = nn.Linear(2 * H, V)

    torch.manual_seed(0)
    model = Example().eval()
    tgt = make_tgt((4, 2, 3))
    src, src_lens = torch.randint(4, V, (3, 5)), torch.tensor([5, 2, 4])
    with torch.no_grad():
        out = model(src, src_lens, tgt)
        enc = model.encode(src, src_lens)
        state, logits = model.init_state(enc), []
        for t in range(tgt.size(1) - 1):
            step = model.decode_step(tgt[:, t], state, enc)
            state = step.state
            logits.append(step.logits)
    real = tgt[:, 1:] != PAD
    torch.testing.assert_close(out.logits[real], torch.stack(logits, 1)[real])
