"""Properties of every score function in course_lib.attention (shapes, masks, gradients)."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.attention import (
    SCORE_FUNCTIONS,
    AdditiveAttention,
    Attention,
    DotAttention,
    GeneralAttention,
    LocationAttention,
    QueryKeyAttention,
    ScaledDotAttention,
    check_mask,
    make_attention,
    masked_softmax,
)
from course_lib.utils import check_shape

B, T, S, H, A = 3, 4, 5, 6, 7
NAMES = sorted(SCORE_FUNCTIONS)


def build(name: str, hq: int = H, hk: int = H) -> Attention:
    torch.manual_seed(0)
    return make_attention(name, hq, hk, attn_dim=A, max_src_len=10)


def pad_mask(lens: list[int], s: int = S) -> torch.Tensor:
    """[B, S] bool, True where padding."""
    return torch.arange(s)[None, :] >= torch.tensor(lens)[:, None]


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    keys = torch.randn(B, S, H, generator=g)
    values = torch.randn(B, S, H + 2, generator=g)
    q2 = torch.randn(B, H, generator=g)
    q3 = torch.randn(B, T, H, generator=g)
    mask = pad_mask([5, 3, 1])
    return keys, values, q2, q3, mask


# -- masked_softmax --------------------------------------------------------------------


def test_masked_softmax_zero_and_sum_to_one():
    scores = torch.randn(2, 4)
    mask = torch.tensor([[False, False, True, True], [False, True, False, True]])
    w = masked_softmax(scores, mask)
    assert torch.all(w[mask] == 0.0)
    torch.testing.assert_close(w.sum(-1), torch.ones(2))


def test_masked_softmax_broadcasts_bs_mask_over_bts_scores():
    scores = torch.randn(2, 3, 4)
    mask = pad_mask([4, 2], s=4)
    w = masked_softmax(scores, mask)
    assert w.shape == (2, 3, 4)
    assert torch.all(w[1, :, 2:] == 0.0)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3))


def test_masked_softmax_no_mask_is_softmax():
    scores = torch.randn(2, 5)
    torch.testing.assert_close(masked_softmax(scores, None), torch.softmax(scores, -1))


def test_masked_softmax_all_masked_row_raises():
    scores = torch.randn(3, 4)
    with pytest.raises(ValueError, match=r"row\(s\) \[1\].*at least one real.*src_lens > 0"):
        masked_softmax(scores, pad_mask([4, 0, 2], s=4))
    with pytest.raises(ValueError, match=r"row\(s\) \[1\].*at least one real.*src_lens > 0"):
        check_mask(pad_mask([4, 0, 2], s=4), scores.shape)


def test_masked_softmax_rejects_non_bool_mask():
    with pytest.raises(TypeError, match="bool"):
        masked_softmax(torch.randn(2, 3), torch.zeros(2, 3, dtype=torch.long))


def test_masked_softmax_rejects_wrong_mask_shape():
    with pytest.raises(ValueError, match="does not fit"):
        masked_softmax(torch.randn(2, 3), torch.zeros(2, 4, dtype=torch.bool))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_masked_softmax_exact_zero_in_half_precision(dtype):
    scores = (torch.randn(2, 6) * 100).to(dtype)
    mask = pad_mask([6, 2], s=6)
    w = masked_softmax(scores, mask)
    assert w.dtype == dtype
    assert torch.all(w[mask] == 0)
    assert torch.all(torch.isfinite(w))


def test_masked_softmax_under_autocast():
    scores = torch.randn(2, 6)
    mask = pad_mask([6, 3], s=6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        w = masked_softmax(scores.to(torch.bfloat16), mask)
    assert torch.all(w[mask] == 0)


# -- every score function --------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_shapes_2d_query(name, batch):
    keys, values, q2, _, mask = batch
    attn = build(name)
    context, weights = attn(q2, keys, values, mask=mask)
    check_shape(context, (B, H + 2), "context")
    check_shape(weights, (B, S), "weights")
    context, weights = attn(q2, keys)  # values default to keys
    check_shape(context, (B, H), "context")


@pytest.mark.parametrize("name", NAMES)
def test_shapes_3d_query(name, batch):
    keys, values, _, q3, mask = batch
    attn = build(name)
    context, weights = attn(q3, keys, values, mask=mask)
    check_shape(context, (B, T, H + 2), "context")
    check_shape(weights, (B, T, S), "weights")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("three_d", [False, True])
def test_weights_sum_to_one_and_padding_is_exactly_zero(name, three_d, batch):
    keys, values, q2, q3, mask = batch
    query = q3 if three_d else q2
    _, weights = build(name)(query, keys, values, mask=mask)  # [B, S] mask, [B, T, S] scores too
    full_mask = mask[:, None, :].expand_as(weights) if three_d else mask
    assert torch.all(weights[full_mask] == 0.0)
    assert torch.all(weights[~full_mask] > 0.0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))


@pytest.mark.parametrize("name", NAMES)
def test_3d_mask_against_3d_query(name, batch):
    keys, values, _, q3, _ = batch
    mask = torch.zeros(B, T, S, dtype=torch.bool)
    mask[0, 1, 3:] = True
    _, weights = build(name)(q3, keys, values, mask=mask)
    assert torch.all(weights[0, 1, 3:] == 0.0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, T))


@pytest.mark.parametrize("name", NAMES)
def test_all_masked_row_raises(name, batch):
    keys, values, q2, _, _ = batch
    with pytest.raises(ValueError, match="at least one real"):
        build(name)(q2, keys, values, mask=pad_mask([5, 0, 2]))
    with pytest.raises(ValueError, match="at least one real"):
        check_mask(pad_mask([5, 0, 2]), (B, S))


@pytest.mark.parametrize("name", NAMES)
def test_padding_does_not_change_the_result(name, batch):
    """Changing what sits in padded positions must not change context or weights."""
    keys, values, q2, _, mask = batch
    attn = build(name)
    c1, w1 = attn(q2, keys, values, mask=mask)
    keys2 = keys.masked_fill(mask[..., None], 123.0)
    values2 = values.masked_fill(mask[..., None], -55.0)
    c2, w2 = attn(q2, keys2, values2, mask=mask)
    torch.testing.assert_close(c1, c2)
    torch.testing.assert_close(w1, w2)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter_and_input(name, batch):
    keys, values, _, q3, mask = batch
    keys = keys.clone().requires_grad_()
    values = values.clone().requires_grad_()
    q3 = q3.clone().requires_grad_()
    attn = build(name)
    context, _ = attn(q3, keys, values, mask=mask)
    context.pow(2).sum().backward()
    for pname, p in attn.named_parameters():
        assert p.grad is not None and torch.any(p.grad != 0), f"no gradient reached {pname}"
    assert torch.any(q3.grad != 0)
    assert torch.any(values.grad != 0)
    if name != "location":  # location scores ignore the keys by design
        assert torch.any(keys.grad != 0)


@pytest.mark.parametrize("name", NAMES)
def test_proj_keys_reuse_equals_recompute(name, batch):
    keys, values, q2, q3, mask = batch
    attn = build(name)
    proj = attn.project_keys(keys)
    for query in (q2, q3):
        expected = attn(query, keys, values, mask=mask)
        got = attn(query, keys, values, mask=mask, proj_keys=proj)
        torch.testing.assert_close(got, expected)


def test_proj_keys_are_not_recomputed_when_given(batch, monkeypatch):
    keys, values, q2, _, mask = batch
    attn = build("additive")
    proj = attn.project_keys(keys)

    def fail(_keys):
        raise AssertionError("project_keys called although proj_keys was given")

    monkeypatch.setattr(attn, "project_keys", fail)
    attn(q2, keys, values, mask=mask, proj_keys=proj)


@pytest.mark.parametrize("name", NAMES)
def test_one_step_at_a_time_equals_all_steps(name, batch):
    keys, values, _, q3, mask = batch
    attn = build(name)
    c_all, w_all = attn(q3, keys, values, mask=mask)
    proj = attn.project_keys(keys)
    for t in range(T):
        c_t, w_t = attn(q3[:, t], keys, values, mask=mask, proj_keys=proj)
        torch.testing.assert_close(c_t, c_all[:, t])
        torch.testing.assert_close(w_t, w_all[:, t])


@pytest.mark.parametrize("name", NAMES)
def test_weights_are_returned_not_stored(name, batch):
    keys, values, q2, _, mask = batch
    attn = build(name)
    before = set(vars(attn))
    attn(q2, keys, values, mask=mask)
    assert set(vars(attn)) == before


# -- the course's numeric example ------------------------------------------------------

DEC = torch.tensor([[10.0, 5.0, 10.0]])
ENC = torch.tensor([[[0.0, 1.0, 1.0], [5.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 5.0, 1.0]]])


def test_numeric_example_dot_scores_and_context():
    attn = DotAttention()
    scores = attn.score(DEC, attn.project_keys(ENC))
    torch.testing.assert_close(scores, torch.tensor([[15.0, 60.0, 15.0, 35.0]]))
    context, weights = attn(DEC, ENC)
    assert weights.argmax().item() == 1 and weights[0, 1] > 0.999
    torch.testing.assert_close(context, torch.tensor([[5.0, 0.0, 1.0]]), atol=1e-6, rtol=0)


def entropy(w: torch.Tensor) -> torch.Tensor:
    return -(w * w.clamp_min(1e-30).log()).sum(-1)


def test_temperature_softens_the_distribution():
    _, sharp = DotAttention()(DEC, ENC)
    _, soft = DotAttention(temperature=10.0)(DEC, ENC)
    _, softer = DotAttention(temperature=100.0)(DEC, ENC)
    assert entropy(sharp) < entropy(soft) < entropy(softer) <= math.log(4) + 1e-6
    torch.testing.assert_close(soft.sum(-1), torch.ones(1))
    assert soft.argmax().item() == 1  # the order of the scores is kept


def test_temperature_must_be_positive():
    with pytest.raises(ValueError, match="temperature"):
        DotAttention(temperature=0.0)


def test_scaled_dot_divides_by_sqrt_d():
    d = ENC.size(-1)
    _, w_scaled = ScaledDotAttention()(DEC, ENC)
    _, w_temp = DotAttention(temperature=math.sqrt(d))(DEC, ENC)
    torch.testing.assert_close(w_scaled, w_temp)


def test_general_with_identity_is_dot(batch):
    keys, values, q2, _, mask = batch
    attn = GeneralAttention(H, H)
    with torch.no_grad():
        attn.W_a.weight.copy_(torch.eye(H))
    torch.testing.assert_close(attn(q2, keys, values, mask), DotAttention()(q2, keys, values, mask))


def test_general_allows_different_sizes():
    attn = GeneralAttention(4, 6)
    context, weights = attn(torch.randn(2, 4), torch.randn(2, 5, 6))
    assert context.shape == (2, 6) and weights.shape == (2, 5)


def test_additive_matches_its_formula():
    torch.manual_seed(0)
    attn = AdditiveAttention(3, 4, 5)
    q, h = torch.randn(1, 3), torch.randn(1, 2, 4)
    s = attn.score(q, attn.project_keys(h))
    W, U, v = attn.W_a.weight, attn.U_a.weight, attn.v_a.weight[0]
    expected = torch.stack([v @ torch.tanh(W @ q[0] + U @ h[0, j]) for j in range(2)])
    torch.testing.assert_close(s[0], expected)


def test_query_key_matches_the_article_shapes():
    attn = QueryKeyAttention(32, 32, 32)
    Hs, St = torch.randn(4, 16, 32), torch.randn(4, 32)  # article: (64, 16, 1024), (64, 1, 1024)
    K = attn.project_keys(Hs)
    assert K.shape == (4, 16, 32)
    context, alpha = attn(St, Hs, proj_keys=K)
    assert alpha.unsqueeze(-1).shape == (4, 16, 1) and context.shape == (4, 32)
    torch.testing.assert_close(attn.score(St, K), torch.einsum("ba,bsa->bs", attn.W_Q(St), K))


def test_location_ignores_key_contents_and_truncates():
    torch.manual_seed(0)
    attn = LocationAttention(3, max_src_len=6)
    q = torch.randn(2, 3)
    _, w1 = attn(q, torch.randn(2, 4, 3))
    _, w2 = attn(q, torch.randn(2, 4, 3))
    torch.testing.assert_close(w1, w2)
    expected = torch.softmax(attn.W_a(q)[:, :4], -1)
    torch.testing.assert_close(w1, expected)


def test_location_too_long_source_raises():
    attn = LocationAttention(3, max_src_len=4)
    with pytest.raises(ValueError, match="raise max_src_len"):
        attn(torch.randn(1, 3), torch.randn(1, 5, 3))


# -- make_attention --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,cls",
    [
        ("dot", DotAttention),
        ("scaled_dot", ScaledDotAttention),
        ("Scaled-Dot", ScaledDotAttention),
        ("general", GeneralAttention),
        ("additive", AdditiveAttention),
        ("concat", AdditiveAttention),
        ("location", LocationAttention),
        ("query_key", QueryKeyAttention),
    ],
)
def test_make_attention_builds_the_right_class(name, cls):
    assert type(make_attention(name, 4, 4, attn_dim=3)) is cls


def test_make_attention_passes_temperature():
    assert make_attention("dot", 3, 3, temperature=2.0).temperature == 2.0


def test_make_attention_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="dot.*general.*additive"):
        make_attention("cosine", 3, 3)


@pytest.mark.parametrize("name", ["dot", "scaled_dot"])
def test_make_attention_dot_needs_equal_sizes(name):
    with pytest.raises(ValueError, match="query_dim == key_dim"):
        make_attention(name, 3, 4)


def test_dot_forward_with_different_sizes_raises():
    with pytest.raises(ValueError, match="same size"):
        DotAttention()(torch.randn(1, 3), torch.randn(1, 2, 4))


def test_bad_shapes_raise_clear_errors():
    attn = DotAttention()
    with pytest.raises(ValueError, match=r"keys .*has shape \(2, 3\), expected \(2, \*, \*\)"):
        attn(torch.randn(2, 3), torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"keys .*batch size.*has shape \(3, 4, 3\), expected \(2, "):
        attn(torch.randn(2, 3), torch.randn(3, 4, 3))
    with pytest.raises(ValueError, match="values .*has shape"):
        attn(torch.randn(2, 3), torch.randn(2, 4, 3), torch.randn(2, 5, 3))
