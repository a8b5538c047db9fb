"""Checkpoints: atomic save and load, the random state that makes a resume exact, and the checks
that a checkpoint fits a trainer which torch does not make itself.

The random state saved is the one *before the next unseen batch*: validation does not move it
(:func:`kept_rng`), and a stop in the middle of a step goes back to the state before the step.
"""

from __future__ import annotations

import dataclasses
import os
import random
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import numpy as np
import torch
from torch import Tensor

from ..utils import atomic_write
from ..checks import check_instance, require
from ._checks import check_path

COUNTERS = ("epoch", "batches_done", "global_step", "bad_epochs")


class CheckpointError(RuntimeError):
    """A checkpoint file could not be read or does not fit the model being trained."""


def save_checkpoint(path: str | os.PathLike, state: Dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically: a crash mid-write leaves the old file intact.

    Raises:
        ValueError: ``path`` is not a path, or ``state`` is not a dict with a ``"model"`` entry.
        OSError: from the file system (the old file is kept).
    """
    path = check_path(path, "checkpoint path")
    check_instance(state, dict, "state", "a dict (e.g. Trainer.state_dict())")
    require("model" in state, "a checkpoint state must have a 'model' entry (e.g. Trainer.state_dict())")
    atomic_write(path, lambda handle: torch.save(state, handle))


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> Dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        ValueError: ``path`` is not a path.
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is not a readable course checkpoint (truncated, another format).
    """
    path = Path(check_path(path, "checkpoint path"))
    require(path.is_file(), f"no checkpoint at {path}", FileNotFoundError)
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # torch raises several types for a damaged file
        state = exc
    why = f"{type(state).__name__}: {state}" if isinstance(state, Exception) else "no 'model' entry"
    require(isinstance(state, dict) and "model" in state,
            f"{path} is not a course_lib training checkpoint ({why}); delete it or set resume=False", CheckpointError)
    return state


def rng_state(device: torch.device, numpy: bool = True) -> Dict[str, Any]:
    """The random state of Python, torch, the GPU (training on CUDA) and NumPy (unless ``numpy=False``:
    NumPy's takes ~50 us to read, and no training step draws from it)."""
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if numpy:
        state["numpy"] = np.random.get_state()
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: Dict[str, Any], device: torch.device) -> None:
    """Restore :func:`rng_state` (its tensors may have been loaded onto the GPU)."""
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"].cpu())
    if "numpy" in state:
        np.random.set_state(state["numpy"])
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


@contextmanager
def kept_rng(device: torch.device) -> Iterator[None]:
    """Run a block (validation) without moving the random state: iterating a ``DataLoader``
    draws a seed from torch's generator, which would change the next training batch's dropout."""
    state = rng_state(device)
    try:
        yield
    finally:
        set_rng_state(state, device)


def model_config(model: torch.nn.Module) -> Optional[Dict[str, Any]]:
    """The model's config dataclass as a dict (stored to refuse a checkpoint of another size)."""
    config = getattr(model, "config", None)
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) and not isinstance(config, type) else None


def checkpoint_problem(state: Dict[str, Any], trainer) -> Optional[str]:
    """What in ``state`` does not fit ``trainer`` and torch would not refuse itself, or ``None``
    (a missing entry raises ``KeyError``)."""
    ours, theirs = model_config(trainer.model), state.get("model_config")
    if ours is not None and theirs is not None and ours != theirs:
        return f"it was trained with another model config, so it does not fit this model ({theirs} vs {ours})"
    shapes = [p.shape for g in trainer.optimizer.param_groups for p in g["params"]]
    for i, slot in state["optimizer"]["state"].items():  # torch loads moments of another shape without a word
        if any(isinstance(v, Tensor) and v.dim() and (i >= len(shapes) or v.shape != shapes[i]) for v in slot.values()):
            return f"its optimizer state of parameter {i} does not fit this model's parameters"
    if any(isinstance(state[k], bool) or not isinstance(state[k], int) or state[k] < 0 for k in COUNTERS):
        return f"its counters {[state[k] for k in COUNTERS]} are not all counts"
    if trainer.train_loader is not None and state["batches_done"] > len(trainer.train_loader):
        return f"it stopped after batch {state['batches_done']} of an epoch; this data has {len(trainer.train_loader)}"
    if state["batches_done"] and state.get("world_size", 1) != trainer.world_size:
        return f"it stopped mid-epoch with {state.get('world_size', 1)} processes, not {trainer.world_size}"
    return None
