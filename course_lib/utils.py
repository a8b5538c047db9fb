"""Small helpers shared by the library and the lessons: seeding, device choice, shapes, safe writes."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping, Sequence, Type, TypeVar

import numpy as np
import torch

from .checks import InputTypeError, check_choice, check_flag, check_int, check_tensor, check_text, require

__all__ = ["set_seed", "get_device", "as_device", "check_shape", "autocast_dtype", "num_parameters",
           "dataclass_from_dict", "atomic_write", "eval_mode", "lengths_to_pad_mask", "require"]


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators (all devices) with any integer.

    Raises:
        InputTypeError (a TypeError): ``seed`` is not an int (bools, floats and str are refused).
    """
    seed = check_int(seed, "seed")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed % 2**64)


def _available(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
    if device.type == "mps":
        return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return True


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to train on: ``prefer`` (``"cuda"``, ``"mps"``, ``"cpu"``, any case, or a ``torch.device``),
    else ``$COURSE_DEVICE``, else the best available (CUDA, MPS, CPU).

    Raises:
        InputTypeError (a TypeError): not a str, torch.device or None. ValueError: unknown or unavailable.
    """
    if isinstance(prefer, torch.device):
        prefer = prefer.type
    prefer = (check_text(prefer, "prefer", allow_none=True) or os.environ.get("COURSE_DEVICE") or "").strip().lower()
    if not prefer:
        return next(torch.device(d) for d in ("cuda", "mps", "cpu") if _available(torch.device(d)))
    require(prefer in ("cuda", "mps", "cpu"), f"unknown device {prefer!r}: use 'cuda', 'mps' or 'cpu'")
    return as_device(prefer, check_available=True)


def as_device(device: torch.device | str, check_available: bool = False) -> torch.device:
    """``device`` (a ``torch.device`` or a str such as ``"cuda:0"``) as a ``torch.device``.

    Raises:
        InputTypeError (a TypeError): another type. ValueError: a str torch does not read as a device;
            with ``check_available``, a CUDA or MPS device this machine does not have.
    """
    if isinstance(device, str):
        try:
            device = torch.device(device)
        except RuntimeError as err:
            raise ValueError(f"device {device!r} is not a device torch knows (e.g. 'cpu', 'cuda:0'): {err}") from None
    require(isinstance(device, torch.device), "device must be a torch.device or a str such as 'cuda:0'", InputTypeError)
    require(not check_available or _available(device), f"device {str(device)!r} is not available here; use 'cpu'")
    return device


def autocast_dtype(device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype for ``device``: bf16 on CUDA GPUs that have it, else fp16; None (fp32) elsewhere.

    CPU bf16 stays off: ``bench/bf16_cpu.py`` measured 0.07x (training) and 0.24x (greedy) the speed
    of fp32 on an AVX2-only CPU; rerun it on a CPU with ``amx_bf16`` first. Raises as :func:`as_device`.
    """
    if as_device(device).type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


def check_shape(tensor: torch.Tensor, shape: Sequence[int | None], name: str = "tensor") -> torch.Tensor:
    """Return ``tensor`` if its shape is ``shape`` (``None`` matches any size), e.g. ``check_shape(h, (B, S, H))``.

    Raises:
        InputTypeError (a TypeError): not a tensor; ``shape`` not a tuple of ints and None; ``name`` not a str.
        ValueError: a negative size in ``shape``; another shape (both are shown).
    """
    require(isinstance(shape, (list, tuple)), f"shape must be a tuple of ints or None, got {shape!r:.40}", InputTypeError)
    for size in shape:
        check_int(size, f"every size in shape {tuple(shape)} (non-negative, or None)", low=0, allow_none=True)
    return check_tensor(tensor, check_text(name, "name"), shape=tuple(shape))


def num_parameters(module: torch.nn.Module, trainable_only: bool = True) -> int:
    """The number of scalar parameters of ``module`` (by default only those with ``requires_grad``).

    Raises:
        InputTypeError (a TypeError): ``module`` is not an ``nn.Module``; ``trainable_only`` not a bool.
    """
    require(isinstance(module, torch.nn.Module), "num_parameters needs an nn.Module", InputTypeError)
    trainable_only = check_flag(trainable_only, "trainable_only")
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


_C = TypeVar("_C")


def dataclass_from_dict(cls: Type[_C], values: Mapping[str, Any]) -> _C:
    """The configuration dataclass ``cls`` from a dictionary; an unknown key is a ValueError listing the fields."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    require(not unknown, f"unknown {cls.__name__} keys {unknown}; valid keys: {sorted(names)}")
    return cls(**values)


def atomic_write(path: str | os.PathLike, write: Callable[[IO], Any], mode: str = "wb",
                 encoding: str | None = None) -> Path:
    """Write ``path`` so that it is complete or absent (its old content kept); returns it as a Path.

    ``write(handle)`` fills a temporary file in the same folder (created if needed), then synced and
    moved over ``path`` (:func:`os.replace`). ``mode``: ``"wb"``, or ``"w"`` with ``encoding``.

    Raises:
        ValueError: another ``mode``. Whatever ``write`` raises; ``OSError`` from the file system.
    """
    check_choice(mode, "mode", ("wb", "w"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, mode, encoding=encoding if mode == "w" else None) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``with eval_mode(model):`` -- evaluation mode for the block, the previous mode restored after (even on error)."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def lengths_to_pad_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``src_pad_mask`` from ``lengths``: ``[B]`` integer -> ``[B, S]`` bool, **True at padding** (``S``: ``max_len``).

    The one place the course builds a padding mask, once per batch (it reads min and max on the host).

    Raises:
        ValueError (InputTypeError for a wrong type): not a 1-D integer tensor; empty; a length
            below 1 or above ``max_len``.
    """
    check_tensor(lengths, "src_lens", ndim=1, kind="int")
    require(lengths.numel() > 0, "src_lens is empty: a batch needs at least one sentence")
    lo, hi = (int(v) for v in torch.aminmax(lengths))
    max_len = hi if max_len is None else int(max_len)
    require(lo >= 1, f"src_lens holds a length below 1 ({lo}): every sentence needs at least one token")
    require(hi <= max_len, f"src_lens holds a length of {hi} but the padded source has only {max_len} positions: "
            "a length must not exceed src.size(1)")
    positions = torch.arange(max_len, device=lengths.device)
    return positions.unsqueeze(0) >= lengths.unsqueeze(1)  # [B, S]
