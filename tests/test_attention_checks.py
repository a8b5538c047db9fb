"""Adversarial input for every attention module: each bad shape, dtype or device gets the
documented ValueError (or TypeError) before any work is done -- never torch's RuntimeError.
Values are not read per call (no host synchronisation): check_mask does that once per batch."""

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
from course_lib.models import LocalPAttention

B, T, S, HQ, HK, A = 3, 4, 5, 6, 8, 7


def modules() -> dict[str, Attention]:
    """Every module, built for queries of width HQ and keys of width HK where it can be."""
    torch.manual_seed(0)
    return {
        "dot": DotAttention(),
        "scaled_dot": ScaledDotAttention(),
        "general": GeneralAttention(HQ, HK),
        "additive": AdditiveAttention(HQ, HK, A),
        "location": LocationAttention(HQ, max_src_len=10),
        "query_key": QueryKeyAttention(HQ, HK, A),
        "local_p_general": LocalPAttention(GeneralAttention(HQ, HK), HQ, window=2),
        "local_p_dot": LocalPAttention(DotAttention(), HQ, window=2),
    }


NAMES = list(modules())
SAME_WIDTH = {"dot", "scaled_dot", "local_p_dot"}  # need Hq == Hk


def key_width(name: str) -> int:
    return HQ if name in SAME_WIDTH else HK


def args(name: str, three_d: bool = False):
    g = torch.Generator().manual_seed(1)
    hk = key_width(name)
    query = torch.randn(B, T, HQ, generator=g) if three_d else torch.randn(B, HQ, generator=g)
    keys = torch.randn(B, S, hk, generator=g)
    values = torch.randn(B, S, 3, generator=g)
    mask = torch.arange(S)[None, :] >= torch.tensor([5, 3, 1])[:, None]
    return query, keys, values, mask


@pytest.fixture(params=NAMES)
def case(request):
    name = request.param
    return name, modules()[name]


def test_valid_call_works_and_unchecked_equals_checked(case):
    name, attn = case
    for three_d in (False, True):
        query, keys, values, mask = args(name, three_d)
        context, weights = attn(query, keys, values, mask=mask)
        fast_context, fast_weights = attn.attend(query, keys, values, mask=mask, proj_keys=attn.project_keys(keys))
        torch.testing.assert_close(fast_context, context)
        torch.testing.assert_close(fast_weights, weights)
        assert torch.all(weights.masked_select(mask.unsqueeze(1).expand_as(weights) if three_d else mask) == 0)
        assert torch.isfinite(context).all() and torch.isfinite(weights).all()


def test_wrong_query_width(case):
    name, attn = case
    query, keys, values, mask = args(name)
    with pytest.raises(ValueError, match="width|same size"):
        attn(torch.randn(B, HQ + 1), keys, values, mask=mask)


def test_wrong_key_width(case):
    name, attn = case
    if name == "location":
        pytest.skip("the location score reads no key contents: any key width is valid")
    query, keys, values, mask = args(name)
    with pytest.raises(ValueError, match="width|same size"):
        attn(query, torch.randn(B, S, keys.size(-1) + 1), values, mask=mask)


@pytest.mark.parametrize("which", ["query", "keys", "values", "mask", "proj_keys"])
def test_mismatched_batch_sizes(case, which):
    name, attn = case
    query, keys, values, mask = args(name)
    proj = attn.project_keys(keys)
    bad = {"query": query, "keys": keys, "values": values, "mask": mask, "proj_keys": proj}
    bad[which] = bad[which][:-1]
    with pytest.raises(ValueError):
        attn(bad["query"], bad["keys"], bad["values"], mask=bad["mask"], proj_keys=bad["proj_keys"])


@pytest.mark.parametrize("which,shape", [("query", (HQ,)), ("query", (B, 1, T, HQ)), ("keys", (B, S)),
                                         ("keys", (B, 1, S, HK)), ("values", (B, S)), ("values", (S, 3))])
def test_wrong_ranks(case, which, shape):
    name, attn = case
    query, keys, values, mask = args(name)
    bad = {"query": query, "keys": keys, "values": values}
    if which != "values" and len(shape) == 4:
        shape = shape[:-1] + (bad[which].size(-1),)
    bad[which] = torch.randn(*shape)
    with pytest.raises(ValueError):
        attn(bad["query"], bad["keys"], bad["values"], mask=mask)


@pytest.mark.parametrize("mask_shape", [(B,), (B, S + 1), (B, S - 1), (B, T + 1, S), (1, 1, B, S)])
def test_mask_that_does_not_fit(case, mask_shape):
    name, attn = case
    query, keys, values, _ = args(name, three_d=True)
    with pytest.raises(ValueError, match="mask"):
        attn(query, keys, values, mask=torch.zeros(mask_shape, dtype=torch.bool))


def test_3d_mask_with_2d_query(case):
    name, attn = case
    query, keys, values, _ = args(name)
    with pytest.raises(ValueError, match="mask"):
        attn(query, keys, values, mask=torch.zeros(B, T, S, dtype=torch.bool))


@pytest.mark.parametrize("dtype", [torch.long, torch.float32, torch.uint8])
def test_non_bool_mask_is_a_type_error(case, dtype):
    name, attn = case
    query, keys, values, mask = args(name)
    with pytest.raises(TypeError, match="bool"):
        attn(query, keys, values, mask=mask.to(dtype))


def test_non_tensor_and_integer_inputs_are_type_errors(case):
    name, attn = case
    query, keys, values, mask = args(name)
    with pytest.raises(TypeError):
        attn(query.tolist(), keys, values, mask=mask)
    with pytest.raises(TypeError, match="float"):
        attn(query.long(), keys, values, mask=mask)
    with pytest.raises(TypeError, match="float"):
        attn(query, keys.long(), values, mask=mask)


def test_other_dtype_than_the_module_is_a_type_error(case):
    name, attn = case
    query, keys, values, mask = args(name)
    if not list(attn.parameters()):
        query, keys, values = query.double(), keys, values  # mixed inputs
    else:
        query, keys, values = query.double(), keys.double(), values.double()
    with pytest.raises(TypeError, match="dtype"):
        attn(query, keys, values, mask=mask)


@pytest.mark.parametrize("where", ["query", "keys", "values"])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nan_or_inf_input_is_refused(case, where, bad):
    name, attn = case
    query, keys, values, mask = args(name)
    tensors = {"query": query, "keys": keys, "values": values}
    tensors[where] = tensors[where].clone()
    tensors[where].view(-1)[0] = bad
    with pytest.raises(ValueError, match="NaN"):
        attn(tensors["query"], tensors["keys"], tensors["values"], mask=mask)


@pytest.mark.parametrize("where", ["query", "keys", "values"])
def test_attend_reads_no_values(case, where):
    """The per-step path (attend) checks nothing: a NaN goes through to the result."""
    name, attn = case
    query, keys, values, mask = args(name)
    tensors = {"query": query, "keys": keys, "values": values}
    tensors[where] = tensors[where].clone()
    tensors[where][0] = math.nan
    context, weights = attn.attend(tensors["query"], tensors["keys"], tensors["values"], mask=mask)
    reads_it = not (name == "location" and where == "keys")  # the location score ignores the keys' contents
    assert torch.isnan(context[0]).any() == reads_it and torch.isfinite(context[1:]).all()


@pytest.mark.parametrize("shape", [(B, 0, None), (0, S, None)])
def test_empty_source_or_batch(case, shape):
    name, attn = case
    query, keys, values, _ = args(name)
    Bk, Sk = shape[:2]
    with pytest.raises(ValueError, match="empty"):
        attn(query[:Bk] if Bk == 0 else query, torch.randn(Bk, Sk, keys.size(-1)), torch.randn(Bk, Sk, 3))


def test_all_padding_row(case):
    """forward (the public door) refuses a row that is all padding; check_mask says the same once
    per batch; attend (the per-step path) reads no values and gives NaN for that row."""
    name, attn = case
    query, keys, values, mask = args(name)
    mask = mask.clone()
    mask[1] = True
    with pytest.raises(ValueError, match="src_lens > 0"):
        attn(query, keys, values, mask=mask)
    with pytest.raises(ValueError, match="src_lens > 0"):
        check_mask(mask, (B, S))
    _, weights = attn.attend(query, keys, values, mask=mask)
    assert torch.isnan(weights[1]).all() and torch.isfinite(weights[[0, 2]]).all()


def test_proj_keys_of_the_wrong_width(case):
    name, attn = case
    query, keys, values, mask = args(name)
    proj = attn.project_keys(keys)
    with pytest.raises(ValueError, match="proj_keys"):
        attn(query, keys, values, mask=mask, proj_keys=torch.randn(B, S, proj.size(-1) + 1))


def test_score_and_project_keys_check_their_input(case):
    name, attn = case
    query, keys, _, _ = args(name)
    proj = attn.project_keys(keys)
    with pytest.raises(ValueError):
        attn.score(query[:-1], proj)
    with pytest.raises(ValueError):
        attn.score(query[0], proj)
    with pytest.raises(ValueError):
        attn.project_keys(keys[0])
    with pytest.raises(TypeError):
        attn.project_keys(keys.long())


# --- constructors ------------------------------------------------------------------------------

BAD_SIZES = [0, -1, 2.0, 1.5, True, "4", None]


@pytest.mark.parametrize("bad", BAD_SIZES)
@pytest.mark.parametrize("build,field", [
    (lambda v: GeneralAttention(v, 4), "query_dim"),
    (lambda v: GeneralAttention(4, v), "key_dim"),
    (lambda v: AdditiveAttention(v, 4, 4), "query_dim"),
    (lambda v: AdditiveAttention(4, v, 4), "key_dim"),
    (lambda v: AdditiveAttention(4, 4, v), "attn_dim"),
    (lambda v: QueryKeyAttention(4, 4, v), "attn_dim"),
    (lambda v: LocationAttention(v, 4), "query_dim"),
    (lambda v: LocationAttention(4, v), "max_src_len"),
    (lambda v: LocalPAttention(DotAttention(), v), "query_dim"),
    (lambda v: LocalPAttention(DotAttention(), 4, window=v), "window"),
    (lambda v: LocalPAttention(DotAttention(), 4, pos_dim=v), "pos_dim"),
    (lambda v: make_attention("additive", 4, 4, attn_dim=v), "attn_dim"),
    (lambda v: make_attention("general", v, 4), "query_dim"),
])
def test_constructor_sizes_must_be_positive_integers(build, field, bad):
    if bad is None and field in ("pos_dim", "attn_dim"):
        pytest.skip("None means the default here")
    with pytest.raises(ValueError, match=field):
        build(bad)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, -math.inf, True, "1"])
@pytest.mark.parametrize("name", sorted(SCORE_FUNCTIONS))
def test_temperature_must_be_finite_and_positive(name, bad):
    with pytest.raises(ValueError, match="temperature"):
        make_attention(name, 4, 4, attn_dim=3, temperature=bad)


def test_make_attention_name_must_be_a_string():
    with pytest.raises(TypeError, match="str"):
        make_attention(["dot"], 4, 4)


def test_local_p_needs_an_attention_module():
    with pytest.raises(TypeError, match="Attention"):
        LocalPAttention("general", 4)


def test_local_p_predict_position_checks_its_input():
    attn = LocalPAttention(DotAttention(), 4, window=2)
    with pytest.raises(ValueError, match="width"):
        attn.predict_position(torch.randn(2, 5), torch.tensor([3, 4]))
    with pytest.raises(ValueError, match="src_lens"):
        attn.predict_position(torch.randn(2, 4), torch.tensor([3, 4, 5]))


# --- masked_softmax / check_mask ----------------------------------------------------------------

def test_masked_softmax_bs_mask_equals_the_expanded_mask():
    scores = torch.randn(B, T, S)
    mask = torch.arange(S)[None, :] >= torch.tensor([5, 3, 1])[:, None]
    torch.testing.assert_close(masked_softmax(scores, mask), masked_softmax(scores, mask[:, None].expand(B, T, S)))


def test_masked_softmax_rejects_non_float_scores():
    with pytest.raises(TypeError, match="float"):
        masked_softmax(torch.ones(2, 3, dtype=torch.long), None)


def test_check_mask_rejects_what_it_documents():
    with pytest.raises(TypeError):
        check_mask([[False]], (1, 1))
    with pytest.raises(ValueError, match="does not fit"):
        check_mask(torch.zeros(2, 3, dtype=torch.bool), (2, 4))
    with pytest.raises(ValueError, match="row"):
        check_mask(torch.tensor([[False, True], [True, True]]), (2, 2))
    check_mask(torch.tensor([[False, True]]), (2, 2))  # a size of 1 broadcasts
