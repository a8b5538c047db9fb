"""One attention path, checked once per batch: a decoder step never reads a tensor value on
the host (on a GPU that would stop the host until the device catches up).

Shown on the CPU in two ways: (1) the checking code (`check_source`, `lengths_to_pad_mask`,
the attention modules' `check_inputs`) is called once per `encode` and zero times per
`decode_step`; (2) no operation that hands a
tensor value to Python (`aten._local_scalar_dense`: `bool()`, `.item()`, `int()`;
`aten.nonzero`; copies to another device) and no `.tolist()` runs inside a step, and the
training pass's count of them does not grow with the target length.
"""

from __future__ import annotations

from unittest import mock

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import course_lib.attention as attention
import course_lib.models.base as base
from course_lib.models import (BahdanauConfig, BahdanauSeq2Seq, GNMTConfig, GNMTSeq2Seq, LocalPAttention, LuongConfig,
                               LuongSeq2Seq, VanillaConfig, VanillaSeq2Seq)

V, PAD, SOS, EOS = 17, 0, 2, 3

FACTORIES = {
    "bahdanau": lambda: BahdanauSeq2Seq(V, V, BahdanauConfig(8, 6, 7, 5, 0.1)),
    "luong-general-feeding": lambda: LuongSeq2Seq(V, V, LuongConfig(8, 6, 2, 0.1, score="general")),
    "luong-concat": lambda: LuongSeq2Seq(V, V, LuongConfig(8, 6, 1, 0.1, score="concat", input_feeding=False)),
    "luong-location": lambda: LuongSeq2Seq(V, V, LuongConfig(8, 6, 1, 0.1, score="location", max_src_len=9)),
    "luong-local-p": lambda: LuongSeq2Seq(V, V, LuongConfig(8, 6, 2, 0.1, attention="local-p", window=2)),
    "vanilla": lambda: VanillaSeq2Seq(V, V, VanillaConfig(8, 6, 1, 0.1)),
    "gnmt": lambda: GNMTSeq2Seq(V, V, GNMTConfig(8, 6, 5, 3, 3, 0.1)),
}

SYNC_OPS = ("_local_scalar_dense", "nonzero", "is_nonzero", "item")


class HostReads(TorchDispatchMode):
    """Records every aten operation that moves a tensor value to the host."""

    def __init__(self):
        super().__init__()
        self.reads: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func)
        kwargs = kwargs or {}
        to_other_device = "_to_copy" in name and kwargs.get("device") is not None \
            and torch.device(kwargs["device"]) != args[0].device
        if any(op in name for op in SYNC_OPS) or to_other_device:
            self.reads.append(name)
        return func(*args, **(kwargs or {}))


def no_tolist(*args, **kwargs):
    raise AssertionError("tolist() inside a decoder step")


def batch(T: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    src_lens = torch.tensor([7, 3, 5])
    src = torch.full((3, 7), PAD)
    for i, n in enumerate(src_lens.tolist()):
        src[i, :n] = torch.randint(4, V, (n,), generator=g)
    tgt = torch.full((3, T), PAD)
    for i, n in enumerate([T - 2, 2, T - 3]):
        tgt[i, 0], tgt[i, n + 1] = SOS, EOS
        tgt[i, 1:n + 1] = torch.randint(4, V, (n,), generator=g)
    return src, src_lens, tgt


@pytest.mark.parametrize("name", list(FACTORIES))
def test_checks_run_once_per_encode_and_never_per_step(name):
    torch.manual_seed(0)
    model = FACTORIES[name]().eval()
    src, src_lens, tgt = batch()
    checked_attention = []

    def spy(cls):
        original = cls.check_inputs
        return mock.patch.object(cls, "check_inputs", lambda self, *a, **k: (checked_attention.append(1),
                                                                              original(self, *a, **k)))

    with mock.patch.object(attention, "check_mask", wraps=attention.check_mask) as check_mask, \
            mock.patch.object(base, "lengths_to_pad_mask", wraps=base.lengths_to_pad_mask) as make_mask, \
            mock.patch.object(base, "check_source", wraps=base.check_source) as check_source, \
            spy(attention.Attention), spy(LocalPAttention), torch.no_grad():
        enc = model.encode(src, src_lens)
        assert make_mask.call_count == 1 and check_source.call_count == 1  # once per batch
        per_encode = check_mask.call_count + len(checked_attention)
        state = model.init_state(enc)
        for t in range(tgt.size(1) - 1):
            state = model.decode_step(tgt[:, t], state, enc).state
        assert check_mask.call_count + len(checked_attention) == per_encode  # 0 per step
        assert make_mask.call_count == 1 and check_source.call_count == 1


@pytest.mark.parametrize("name", list(FACTORIES))
def test_a_decoder_step_reads_nothing_on_the_host(name):
    torch.manual_seed(0)
    model = FACTORIES[name]().eval()
    src, src_lens, tgt = batch()
    with torch.no_grad():
        enc = model.encode(src, src_lens)
        state = model.init_state(enc)
        with HostReads() as reads, mock.patch.object(torch.Tensor, "tolist", no_tolist):
            for t in range(3):
                state = model.decode_step(tgt[:, t], state, enc).state
    assert reads.reads == []


def test_the_detector_sees_host_reads():
    """The instrument works: a bool() of a tensor and an .item() are seen."""
    with HostReads() as reads:
        x = torch.tensor([1.0, 2.0])
        bool(x.any())
        x[0].item()
        x.to("meta")
        x.double()  # a dtype conversion on the same device is no host read
    assert len(reads.reads) == 3


@pytest.mark.parametrize("name", ["bahdanau", "luong-general-feeding", "luong-local-p", "gnmt", "vanilla"])
@pytest.mark.parametrize("ratio", [1.0, 0.5])
def test_training_pass_host_reads_do_not_grow_with_target_length(name, ratio):
    """The packed loop reads the schedule once per batch; its steps read nothing."""
    torch.manual_seed(0)
    model = FACTORIES[name]().train()
    counts = []
    for T in (6, 12):
        src, src_lens, tgt = batch(T)
        with HostReads() as reads:
            model(src, src_lens, tgt, teacher_forcing_ratio=ratio)
        counts.append(len(reads.reads))
    assert counts[0] == counts[1]


ATTENTION = {
    "additive": lambda: attention.AdditiveAttention(4, 6, 5),
    "general": lambda: attention.GeneralAttention(4, 6),
    "location": lambda: attention.LocationAttention(4, 9),
    "local-p": lambda: LocalPAttention(attention.GeneralAttention(4, 6), 4, window=2),
}


@pytest.mark.parametrize("name", list(ATTENTION))
def test_attention_calls_read_nothing_on_the_host(name):
    """A decoder step's call (attend) reads nothing on the host; the public door (forward) and
    check_mask read values, once per call or batch."""
    attn = ATTENTION[name]()
    keys, query = torch.randn(2, 7, 6), torch.randn(2, 4)
    mask = torch.arange(7)[None] >= torch.tensor([7, 3])[:, None]
    proj = attn.project_keys(keys)
    with HostReads() as reads, mock.patch.object(torch.Tensor, "tolist", no_tolist):
        attn.attend(query, keys, mask=mask, proj_keys=proj)
        attn.attend(query.unsqueeze(1).expand(2, 3, 4), keys, mask=mask)
    assert reads.reads == []
    with HostReads() as reads:
        attn(query, keys, mask=mask, proj_keys=proj)
    assert reads.reads
    with HostReads() as reads:
        attention.check_mask(mask, (2, 7))
    assert reads.reads
