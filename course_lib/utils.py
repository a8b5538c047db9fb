"""Small helpers shared by the library and the lessons: seeding, device choice, shapes."""

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

__all__ = ["set_seed", "get_device", "as_device", "check_shape", "autocast_dtype", "num_parameters", "dataclass_from_dict",
           "atomic_write", "eval_mode", "lengths_to_pad_mask"]


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random number generators (all devices).

    Args:
        seed: any integer (negative and very large ones are reduced modulo ``2**32`` for
            NumPy and ``2**64`` for PyTorch).

    Nothing in ``course_lib`` seeds at import time; call this at the top of a lesson or
    script to make a run repeatable on the same machine and library versions.

    Raises:
        TypeError: ``seed`` is not an int (a bool, float or str is refused rather than
            silently turned into a different seed).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, e.g. set_seed(0), got {type(seed).__name__} {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed % (2**64))


def get_device(prefer: str | None = None) -> torch.device:
    """Choose the device to train on: CUDA if present, else Apple MPS, else CPU.

    Args:
        prefer: ``"cuda"``, ``"mps"`` or ``"cpu"`` (any case, or a :class:`torch.device` of
            that type) to force a device; ``None`` or ``""`` (default) picks the best
            available. The environment variable ``COURSE_DEVICE`` overrides the automatic
            choice too.

    Returns:
        A :class:`torch.device`.

    Raises:
        TypeError: ``prefer`` is neither a str, a :class:`torch.device` nor ``None``.
        ValueError: ``prefer`` (or ``COURSE_DEVICE``) names an unknown device or one that is
            not available here.
    """
    if isinstance(prefer, torch.device):
        prefer = prefer.type
    if prefer is not None and not isinstance(prefer, str):
        raise TypeError(f"prefer must be 'cuda', 'mps', 'cpu' or None, got {type(prefer).__name__} {prefer!r}")
    prefer = prefer or os.environ.get("COURSE_DEVICE") or None
    if prefer is not None:
        prefer = prefer.strip().lower()
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


def as_device(device: torch.device | str, check_available: bool = False) -> torch.device:
    """``device`` as a :class:`torch.device`, refusing what torch would fail on later.

    Args:
        device: a :class:`torch.device` or a device string such as ``"cpu"`` or ``"cuda:0"``.
        check_available: also refuse a CUDA or MPS device this machine does not have.

    Raises:
        TypeError: ``device`` is neither a :class:`torch.device` nor a str (a bool included).
        ValueError: ``device`` is a str torch does not read as a device; with
            ``check_available``, a CUDA index torch does not see or an MPS device on a machine
            without Apple MPS.
    """
    if isinstance(device, str):
        try:
            device = torch.device(device)
        except RuntimeError as err:
            raise ValueError(f"device {device!r} is not a device torch knows (e.g. 'cpu', 'cuda:0'): {err}") from None
    if not isinstance(device, torch.device):
        raise TypeError(f"device must be a torch.device or a str such as 'cpu' or 'cuda:0', "
                        f"got {type(device).__name__} {device!r}")
    if check_available and device.type == "cuda" and (
        not torch.cuda.is_available() or (device.index is not None and device.index >= torch.cuda.device_count())
    ):
        raise ValueError(f"device {str(device)!r} is not available here (torch sees {torch.cuda.device_count()} "
                         "CUDA GPU(s)); use 'cpu' or course_lib.utils.get_device()")
    if check_available and device.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ValueError("device 'mps' is not available on this machine; use 'cpu' or course_lib.utils.get_device()")
    return device


def autocast_dtype(device: torch.device | str) -> torch.dtype | None:
    """The mixed-precision dtype to autocast to on ``device``, or ``None`` for full fp32.

    bf16 on CUDA GPUs that support it, else fp16 on CUDA; ``None`` on CPU and MPS.
    ``device`` is a :class:`torch.device` or a device string such as ``"cuda:0"``.

    Raises:
        TypeError: ``device`` is neither a :class:`torch.device` nor a str.
        ValueError: ``device`` is a str torch does not read as a device.

    CPU bf16 was measured, not assumed (``bench/bf16_cpu.py``, lesson 03's ``cpu`` model,
    batch 64, 2 threads): on a CPU without AVX-512 BF16/AMX (an AMD EPYC with AVX2 only)
    bf16 autocast trained at 0.07x and greedy-decoded at 0.24x the speed of fp32, with the
    same quality (validation loss within 1e-3 nats). It is therefore off; on a CPU with
    ``avx512_bf16``/``amx_bf16`` rerun the bench before turning it on (``bench/README.md``).
    """
    device = as_device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


def check_shape(tensor: torch.Tensor, shape: Sequence[int | None], name: str = "tensor") -> torch.Tensor:
    """Assert that ``tensor`` has ``shape`` (``None`` matches any size); return the tensor.

    A teaching device used in lessons and tests: ``check_shape(enc_outputs, (B, S, H))``.

    Args:
        tensor: any :class:`torch.Tensor`.
        shape: the expected sizes, one per dimension: non-negative ints, or ``None`` for
            "any size" (a list or tuple; ``()`` for a scalar).
        name: what to call the tensor in the error message.

    Raises:
        TypeError: ``tensor`` is not a tensor, ``shape`` is not a list/tuple of ints and
            ``None`` (a str or a bare int is refused), or ``name`` is not a str.
        ValueError: ``shape`` holds a negative size; or the number of dimensions or a size
            differs (the message shows both shapes).
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"check_shape needs a torch.Tensor, got {type(tensor).__name__}")
    if isinstance(shape, torch.Size):
        shape = tuple(shape)
    if not isinstance(shape, (list, tuple)):
        raise TypeError(f"shape must be a tuple or list of sizes (ints, or None for any), got {type(shape).__name__} "
                        f"{shape!r}")
    for size in shape:
        if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer))):
            raise TypeError(f"shape {shape!r} holds {size!r}: every entry must be an int or None")
        if size is not None and size < 0:
            raise ValueError(f"shape {shape!r} holds the negative size {size}; sizes are >= 0 (None for any)")
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    actual = tuple(tensor.shape)
    if len(actual) != len(shape) or any(e is not None and e != a for e, a in zip(shape, actual)):
        want = tuple("*" if e is None else e for e in shape)
        raise ValueError(f"{name} has shape {actual}, expected {want}")
    return tensor


def num_parameters(module: torch.nn.Module, trainable_only: bool = True) -> int:
    """Count the parameters of ``module`` (only those with ``requires_grad`` by default).

    Args:
        module: any :class:`torch.nn.Module`.
        trainable_only: ``True`` (default) counts parameters with ``requires_grad``;
            ``False`` counts all of them.

    Returns:
        The number of scalar parameters (an int, 0 for a module without parameters).

    Raises:
        TypeError: ``module`` is not an ``nn.Module`` or ``trainable_only`` not a bool.
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"num_parameters needs a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(trainable_only, bool):
        raise TypeError(f"trainable_only must be True or False, got {type(trainable_only).__name__} {trainable_only!r}")
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


def atomic_write(path: str | os.PathLike, write: Callable[[IO], Any], mode: str = "wb",
                 encoding: str | None = None) -> Path:
    """Write a file so that it is either complete or not there at all.

    ``write(handle)`` fills a temporary file in the same folder; the file is flushed, synced
    to disk and then moved over ``path`` with :func:`os.replace` (atomic on POSIX and
    Windows). If ``write`` raises, or the process dies mid-write, ``path`` keeps its old
    content (or stays absent) and the temporary file is removed. Used for checkpoints,
    vocabularies, downloads and subword models alike.

    Args:
        path: the destination; its folder is created if needed.
        write: called once with the open temporary file.
        mode: ``"wb"`` (default) or ``"w"`` (text; give ``encoding``).
        encoding: for text mode, e.g. ``"utf-8"``.

    Returns:
        ``path`` as a :class:`pathlib.Path`.

    Raises:
        ValueError: ``mode`` is not ``"wb"`` or ``"w"``.
        Whatever ``write`` raises (after cleaning up), and ``OSError`` from the file system.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write mode must be 'wb' or 'w', got {mode!r}")
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
    """Put ``model`` in evaluation mode for a ``with`` block, then restore its previous mode.

    Exception-safe (the mode is restored even if the block raises), unlike the bare
    ``was_training = model.training; model.eval(); ...; model.train(was_training)`` pattern.

    Example::

        with eval_mode(model), torch.no_grad():
            out = model.decode_step(prev, state, enc)
    """
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def lengths_to_pad_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``src_pad_mask`` from lengths: ``[B]`` integer -> ``[B, S]`` bool, **True at padding**.

    The one place the course builds a padding mask (models, batches and search all call it).

    Args:
        lengths: ``[B]`` integer tensor of true lengths (any device).
        max_len: ``S``, the padded length; default ``max(lengths)``.

    Returns:
        Bool tensor ``[B, S]`` on ``lengths``' device.

    Raises:
        ValueError: ``lengths`` is not a 1-D integer tensor; a length is below 1 (a
            sentence needs at least one real token); a length exceeds ``max_len``.
    """
    if not isinstance(lengths, torch.Tensor) or lengths.dim() != 1:
        raise ValueError(f"src_lens must be a 1-D tensor [B], got {type(lengths).__name__} "
                         f"of shape {tuple(getattr(lengths, 'shape', ()))}")
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool or lengths.is_complex():
        raise ValueError(f"src_lens must hold integers, got dtype {lengths.dtype}")
    if lengths.numel() == 0:
        raise ValueError("src_lens is empty: a batch needs at least one sentence")
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo < 1:
        raise ValueError("every sentence needs at least one token; got a length below 1 in src_lens")
    max_len = hi if max_len is None else int(max_len)
    if hi > max_len:
        raise ValueError(f"src_lens holds a length of {hi} but the padded source has only {max_len} "
                         "positions; src_lens must not exceed src.size(1)")
    positions = torch.arange(max_len, device=lengths.device)
    return positions.unsqueeze(0) >= lengths.unsqueeze(1)  # [B, S]
