"""Small helpers shared by the library and the lessons: seeding, device choice, shapes."""

from __future__ import annotations

import dataclasses
import os
import random
from typing import Any, Mapping, Sequence, Type, TypeVar

import numpy as np
import torch

__all__ = ["set_seed", "get_device", "check_shape", "autocast_dtype", "num_parameters", "dataclass_from_dict"]


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random number generators (all devices).

    Args:
        seed: any integer.

    Nothing in ``course_lib`` seeds at import time; call this at the top of a lesson or
    script to make a run repeatable on the same machine and library versions.
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """Choose the device to train on: CUDA if present, else Apple MPS, else CPU.

    Args:
        prefer: ``"cuda"``, ``"mps"`` or ``"cpu"`` to force a device; ``None`` (default)
            picks the best available. The environment variable ``COURSE_DEVICE`` overrides
            the automatic choice too.

    Returns:
        A :class:`torch.device`.

    Raises:
        ValueError: ``prefer`` names an unknown device or one that is not available here.
    """
    prefer = prefer or os.environ.get("COURSE_DEVICE") or None
    if prefer is not None:
        prefer = prefer.lower()
        if prefer not in {"cuda", "mps", "cpu"}:
            raise ValueError(f"unknown device {prefer!r}: use 'cuda', 'mps' or 'cpu'")
        if prefer == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for but torch sees no CUDA GPU; use 'cpu'")
        if prefer == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError("device 'mps' was asked for but this machine has no Apple MPS; use 'cpu'")
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype to autocast to on ``device``, or ``None`` for full fp32.

    bf16 on CUDA GPUs that support it, else fp16 on CUDA; ``None`` on CPU and MPS (where
    autocast brings no speed for these small recurrent models).
    """
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


def check_shape(tensor: torch.Tensor, shape: Sequence[int | None], name: str = "tensor") -> torch.Tensor:
    """Assert that ``tensor`` has ``shape`` (``None`` matches any size); return the tensor.

    A teaching device used in lessons and tests: ``check_shape(enc_outputs, (B, S, H))``.

    Raises:
        ValueError: the number of dimensions or a size differs; the message shows both shapes.
    """
    actual = tuple(tensor.shape)
    if len(actual) != len(shape) or any(e is not None and e != a for e, a in zip(shape, actual)):
        want = tuple("*" if e is None else e for e in shape)
        raise ValueError(f"{name} has shape {actual}, expected {want}")
    return tensor


def num_parameters(module: torch.nn.Module, trainable_only: bool = True) -> int:
    """Count the parameters of ``module`` (only those with ``requires_grad`` by default)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


_C = TypeVar("_C")


def dataclass_from_dict(cls: Type[_C], values: Mapping[str, Any]) -> _C:
    """Build the configuration dataclass ``cls`` from a dictionary, refusing unknown keys.

    Raises:
        ValueError: a key is not a field of ``cls`` (the message lists the valid ones), so a
            misspelt setting fails loudly instead of being ignored.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys {unknown}; valid keys: {sorted(names)}")
    return cls(**values)
