"""The course's training loop: GPU-aware, resumable, data-parallel, with early stopping and a time budget.

What it does, in order, for every batch: move the batch to the device, run the model with
teacher forcing (ratio from the config or a schedule), compute the cross-entropy over the
non-padding target tokens, backpropagate (with a gradient scaler under fp16 autocast), clip
the gradient norm, step the optimiser, and update a ``tqdm`` bar with the loss and the
training speed in target tokens per second.

After every epoch it evaluates on the validation set, keeps the best weights, stops early
when the validation loss has not improved for ``patience`` epochs, and writes a checkpoint
atomically (:func:`course_lib.utils.atomic_write`), so an interrupted run never leaves a
half-written checkpoint and can be resumed exactly where it stopped -- mid-epoch included:
after a stop by ``max_steps``, ``max_minutes`` or the stop button, the next :meth:`Trainer.fit`
trains on exactly the batches of that epoch it had not yet seen, with the same random state.

**Data-parallel training.** Launched by ``torchrun`` (which sets ``WORLD_SIZE``, ``RANK`` and
``LOCAL_RANK``) with more than one process, :class:`Trainer` trains with PyTorch's
``DistributedDataParallel`` (Li et al. 2020, "PyTorch Distributed"): ``gloo`` on the CPU,
``NCCL`` on CUDA GPUs (one per process, ``cuda:LOCAL_RANK``). Every process takes a disjoint
share of each epoch's batches (batches ``rank, rank + W, ...`` of the bucketing sampler's
order), the loss is scaled so that the averaged gradient equals the gradient of the per-token
mean over the whole *global* batch (padding-aware), clipping acts on the all-reduced gradient,
validation sums are all-reduced (so every process sees the same validation loss and makes the
same early-stopping decision), only rank 0 shows progress and writes checkpoints.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
import os
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .models.base import Seq2Seq
from .utils import atomic_write, autocast_dtype, dataclass_from_dict, eval_mode, get_device, set_seed

__all__ = ["TrainConfig", "History", "Trainer", "sequence_loss", "evaluate_loss", "save_checkpoint",
           "load_checkpoint", "CheckpointError", "TrainingInputError"]


class CheckpointError(RuntimeError):
    """A checkpoint file could not be read or does not fit the model being trained."""


class TrainingInputError(TypeError, ValueError):
    """A wrong type given to the training API: a ``TypeError`` and, by the course's rule that
    bad input raises ``ValueError``, a ``ValueError`` too (``except ValueError`` catches it)."""


# --- argument checks -----------------------------------------------------------------------

def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _positive_int(value, name: str, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer{' or None' if allow_none else ''}, got {value!r}")


def _number(value, name: str, low: float, high: float = math.inf, low_open: bool = False,
            high_open: bool = False, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    ok = _is_real(value) and math.isfinite(float(value)) if high == math.inf else _is_real(value)
    if ok:
        v = float(value)
        ok = not math.isnan(v) and (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        lo, hi = "(" if low_open else "[", ")" if high_open or high == math.inf else "]"
        hi_text = "inf" if high == math.inf else f"{high:g}"
        raise ValueError(f"{name} must be a finite number in {lo}{low:g}, {hi_text}{hi}"
                         f"{' or None' if allow_none else ''}, got {value!r}")


@dataclass
class TrainConfig:
    """Settings of :class:`Trainer` (defaults fit a laptop).

    Attributes:
        epochs: maximum number of passes over the training data (>= 1).
        lr: Adam learning rate (Kingma & Ba 2015), > 0.
        clip: maximum global gradient norm (Pascanu et al. 2013), > 0; ``None`` disables clipping.
        teacher_forcing: probability in ``[0, 1]`` of feeding the gold previous word (1.0 = always).
        teacher_forcing_schedule: optional ``epoch -> ratio`` (epochs count from 0); overrides
            ``teacher_forcing`` (scheduled sampling, Bengio et al. 2015). Its values must lie
            in ``[0, 1]``.
        patience: stop after this many (>= 1) epochs without a better validation loss; ``None`` never.
        max_minutes: wall-clock budget (>= 0) for one :meth:`Trainer.fit` call, checked after
            every batch; ``None`` = none.
        max_steps: stop after this many (>= 1) optimiser steps in total; ``None`` = none.
        amp: use mixed precision where it pays: bf16/fp16 autocast on CUDA
            (:func:`course_lib.utils.autocast_dtype`). Ignored on CPU and MPS: bf16 autocast on
            the CPU was measured and not adopted (see ``bench/README.md``).
        checkpoint_path: where to write the checkpoint after each epoch (and on a stop);
            ``None`` writes none.
        resume: if ``checkpoint_path`` exists, continue from it instead of starting over.
        restore_best: at the end, load the weights with the best validation loss.
        seed: seeds Python, NumPy and torch at the start of every epoch (``seed + epoch``).
        label_smoothing: cross-entropy label smoothing in ``[0, 1)`` (Szegedy et al. 2016); 0 disables.
        progress: show a ``tqdm`` progress bar.
        weight_decay: Adam weight decay (>= 0).

    Raises:
        ValueError: a setting out of its range or of the wrong type (the message names it and
            the valid range); :meth:`from_dict` also refuses unknown keys.
    """

    epochs: int = 10
    lr: float = 1e-3
    clip: Optional[float] = 1.0
    teacher_forcing: float = 1.0
    teacher_forcing_schedule: Optional[Callable[[int], float]] = None
    patience: Optional[int] = 3
    max_minutes: Optional[float] = None
    max_steps: Optional[int] = None
    amp: bool = True
    checkpoint_path: Optional[str] = None
    resume: bool = True
    restore_best: bool = True
    seed: int = 0
    label_smoothing: float = 0.0
    progress: bool = True
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        _positive_int(self.epochs, "TrainConfig.epochs")
        _number(self.lr, "TrainConfig.lr", 0.0, low_open=True)
        _number(self.clip, "TrainConfig.clip", 0.0, low_open=True, allow_none=True)
        _number(self.teacher_forcing, "TrainConfig.teacher_forcing", 0.0, 1.0)
        if self.teacher_forcing_schedule is not None and not callable(self.teacher_forcing_schedule):
            raise TrainingInputError("TrainConfig.teacher_forcing_schedule must be a function epoch -> ratio or "
                                     f"None, got {type(self.teacher_forcing_schedule).__name__}")
        _positive_int(self.patience, "TrainConfig.patience", allow_none=True)
        _number(self.max_minutes, "TrainConfig.max_minutes", 0.0, allow_none=True)
        _positive_int(self.max_steps, "TrainConfig.max_steps", allow_none=True)
        for name in ("amp", "resume", "restore_best", "progress"):
            if not isinstance(getattr(self, name), bool):
                raise TrainingInputError(f"TrainConfig.{name} must be True or False, got {getattr(self, name)!r}")
        if self.checkpoint_path is not None:
            if not isinstance(self.checkpoint_path, (str, os.PathLike)) or str(self.checkpoint_path) == "":
                raise TrainingInputError("TrainConfig.checkpoint_path must be a non-empty path (str) or None, "
                                         f"got {self.checkpoint_path!r}")
            self.checkpoint_path = str(self.checkpoint_path)
        if not _is_int(self.seed):
            raise TrainingInputError(f"TrainConfig.seed must be an integer, got {self.seed!r}")
        _number(self.label_smoothing, "TrainConfig.label_smoothing", 0.0, 1.0, high_open=True)
        _number(self.weight_decay, "TrainConfig.weight_decay", 0.0)

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "TrainConfig":
        """Build a config from a dictionary.

        Raises:
            ValueError: ``values`` is not a dictionary, a key is not a field of
                :class:`TrainConfig` (the message lists them), or a value is out of range.
        """
        if not isinstance(values, dict):
            raise TrainingInputError(f"TrainConfig.from_dict needs a dict, got {type(values).__name__}")
        return dataclass_from_dict(cls, values)

    def ratio(self, epoch: int) -> float:
        """Teacher-forcing ratio for ``epoch`` (0-based; from the schedule if one is set).

        Raises:
            ValueError: ``epoch`` is negative or not an integer, or the schedule returned a
                value outside ``[0, 1]`` (or not a number).
        """
        if not _is_int(epoch) or epoch < 0:
            raise ValueError(f"epoch must be an integer >= 0, got {epoch!r}")
        if self.teacher_forcing_schedule is None:
            return float(self.teacher_forcing)
        ratio = self.teacher_forcing_schedule(epoch)
        if not _is_real(ratio) or not 0.0 <= float(ratio) <= 1.0:
            raise ValueError(f"teacher_forcing_schedule({epoch}) returned {ratio!r}; a teacher-forcing ratio "
                             "is a probability in [0, 1] (clip it in the schedule, e.g. max(0.0, 1 - 0.1 * e))")
        return float(ratio)


@dataclass
class History:
    """What training recorded, for plots and reports.

    Attributes:
        epochs: one dict per (possibly partial) epoch: ``epoch``, ``train_loss``, ``val_loss``,
            ``val_ppl``, ``tokens_per_s`` (non-padding target tokens per second), ``seconds``,
            ``teacher_forcing``, ``partial`` (True if the epoch was cut short).
        steps: one dict per optimiser step: ``step``, ``loss`` (nats per target token).
        stopped: why training ended: ``"epochs"``, ``"early_stopping"``, ``"time_budget"``,
            ``"max_steps"`` or ``"interrupted"``.
        best_val_loss: lowest validation loss seen (nats per token), or ``inf``.
    """

    epochs: List[Dict[str, Any]] = field(default_factory=list)
    steps: List[Dict[str, float]] = field(default_factory=list)
    stopped: str = ""
    best_val_loss: float = math.inf

    @property
    def train_seconds(self) -> float:
        """Total training time in seconds (excluding validation)."""
        return float(sum(e["seconds"] for e in self.epochs))

    @property
    def tokens_per_s(self) -> float:
        """Training speed over all epochs: non-padding target tokens per second."""
        tokens = sum(e["tokens"] for e in self.epochs)
        return tokens / max(self.train_seconds, 1e-9)

    def to_frame(self):
        """The per-epoch records as a ``pandas.DataFrame``."""
        import pandas as pd

        return pd.DataFrame(self.epochs)

    def state_dict(self) -> Dict[str, Any]:
        """A plain dictionary of the fields (for checkpoints)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_state_dict(cls, state: Dict[str, Any]) -> "History":
        """Rebuild a :class:`History` from :meth:`state_dict`.

        Raises:
            ValueError: ``state`` is not a dict or has keys that are not fields of ``History``.
        """
        if not isinstance(state, dict):
            raise TrainingInputError(f"History.from_state_dict needs a dict, got {type(state).__name__}")
        return dataclass_from_dict(cls, state)


def sequence_loss(logits: Tensor, tgt_out: Tensor, pad_id: int, label_smoothing: float = 0.0,
                  reduction: str = "mean") -> Tensor:
    """Cross-entropy over the non-padding target positions (Sutskever et al. 2014, eq. 2 per token).

    Args:
        logits: ``[B, T, V]`` floating-point unnormalised scores.
        tgt_out: ``[B, T]`` integer gold ids (``tgt[:, 1:]``), each in ``[0, V)``.
        pad_id: id whose positions are ignored (an integer in ``[0, V)``).
        label_smoothing: in ``[0, 1)`` (Szegedy et al. 2016).
        reduction: ``"mean"`` (nats per non-padding target token) or ``"sum"`` (nats).

    Returns:
        A scalar fp32 tensor.

    Raises:
        ValueError: not tensors, wrong number of dimensions, ``B``/``T`` of the two differ,
            ``logits`` not floating point or ``tgt_out`` not integer, a target id outside
            ``[0, V)``, a bad ``pad_id``/``label_smoothing``/``reduction``, or (for ``"mean"``)
            no non-padding position at all (the mean would be NaN).
    """
    if not isinstance(logits, Tensor) or not isinstance(tgt_out, Tensor):
        raise TrainingInputError(f"sequence_loss needs tensors, got logits {type(logits).__name__} "
                                 f"and tgt_out {type(tgt_out).__name__}")
    if logits.dim() != 3 or tgt_out.dim() != 2:
        raise ValueError(f"sequence_loss needs logits [B, T, V] and tgt_out [B, T]; got logits "
                         f"{tuple(logits.shape)} and tgt_out {tuple(tgt_out.shape)}")
    if logits.shape[:2] != tgt_out.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and tgt_out {tuple(tgt_out.shape)} disagree on [B, T]; "
                         "pass tgt[:, 1:] as tgt_out, with the logits of the same batch")
    if not logits.is_floating_point():
        raise ValueError(f"logits must be floating point, got {logits.dtype}")
    if tgt_out.is_floating_point() or tgt_out.is_complex() or tgt_out.dtype == torch.bool:
        raise ValueError(f"tgt_out must hold integer token ids, got {tgt_out.dtype}")
    vocab = logits.size(-1)
    if not _is_int(pad_id) or not 0 <= pad_id < max(vocab, 1):
        raise ValueError(f"pad_id must be an integer id in [0, {vocab}), got {pad_id!r}")
    _number(label_smoothing, "label_smoothing", 0.0, 1.0, high_open=True)
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if tgt_out.numel() == 0 or vocab == 0:
        raise ValueError(f"sequence_loss got an empty batch: logits {tuple(logits.shape)}")
    lo, hi = torch.aminmax(tgt_out)
    real = int((tgt_out != pad_id).sum())
    if int(lo) < 0 or int(hi) >= vocab:
        raise ValueError(f"tgt_out holds ids in [{int(lo)}, {int(hi)}] but logits has only V={vocab} classes")
    if reduction == "mean" and real == 0:
        raise ValueError("tgt_out holds only padding: there is no target token to average the loss over "
                         "(a target needs at least one token after <sos>)")
    return F.cross_entropy(logits.reshape(-1, vocab).float(), tgt_out.reshape(-1).long(),
                           ignore_index=pad_id, label_smoothing=float(label_smoothing), reduction=reduction)


# --- checkpoints ----------------------------------------------------------------------------

def save_checkpoint(path: str | os.PathLike, state: Dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically: a crash mid-write leaves the old file intact.

    Raises:
        ValueError: ``path`` is not a path, or ``state`` is not a dict with a ``"model"`` entry.
        OSError: from the file system (the old file is kept).
    """
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise TrainingInputError(f"checkpoint path must be a non-empty str or Path, got {path!r}")
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError("a checkpoint state must be a dict with a 'model' entry (e.g. Trainer.state_dict())")
    atomic_write(path, lambda handle: torch.save(state, handle))


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> Dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        ValueError: ``path`` is not a path.
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is not a readable course checkpoint (truncated, another format).
    """
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise TrainingInputError(f"checkpoint path must be a non-empty str or Path, got {path!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # torch raises several types for a damaged file
        raise CheckpointError(
            f"checkpoint {path} could not be read ({type(exc).__name__}: {exc}); delete it or set resume=False"
        ) from exc
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not a course_lib training checkpoint (no 'model' entry); "
                              "delete it or set resume=False")
    return state


def _rng_state() -> Dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def _set_rng_state(state: Dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def _model_config(model: nn.Module) -> Optional[Dict[str, Any]]:
    config = getattr(model, "config", None)
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) and not isinstance(config, type) else None


def _check_tensors(found: Any, expected: Dict[str, Tensor], what: str) -> None:
    """Raise CheckpointError unless ``found`` has exactly ``expected``'s keys and shapes."""
    if not isinstance(found, dict):
        raise CheckpointError(f"the checkpoint's {what} is a {type(found).__name__}, not a state dict")
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = [f"{k}: checkpoint {tuple(found[k].shape)}, model {tuple(v.shape)}" for k, v in expected.items()
             if k in found and (not isinstance(found[k], Tensor) or found[k].shape != v.shape)]
    if missing or unexpected or wrong:
        lines = ([f"missing: {missing[:8]}{' ...' if len(missing) > 8 else ''}"] if missing else []) + \
                ([f"unexpected: {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}"] if unexpected else []) + \
                ([f"different sizes: {'; '.join(wrong[:6])}{' ...' if len(wrong) > 6 else ''}"] if wrong else [])
        raise CheckpointError(f"the checkpoint's {what} do not fit this model (different sizes or vocabulary?); "
                              "use another checkpoint_path or set resume=False.\n" + "\n".join(lines))


# --- data-parallel helpers --------------------------------------------------------------------

def _env_int(name: str) -> Optional[int]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not an integer (set by torchrun)") from None


def _launched_data_parallel() -> bool:
    """True when torchrun (or an equivalent launcher) started more than one process."""
    world = _env_int("WORLD_SIZE")
    if world is not None and world > 1:
        if _env_int("RANK") is None:
            raise ValueError("WORLD_SIZE > 1 but RANK is not set: start data-parallel training with torchrun")
        return True
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class _RankShard:
    """This process's share of a batch iterable: batches ``rank, rank + W, rank + 2W, ...``.

    For training (``drop_tail=True``) only the first ``W * (n // W)`` batches of each pass
    are used, so every process takes the same number of optimiser steps (DDP needs that);
    the few left over differ per epoch with a shuffling sampler. For evaluation
    (``drop_tail=False``) every batch is used once. ``set_epoch`` is passed on.
    """

    def __init__(self, inner: Iterable, rank: int, world_size: int, drop_tail: bool = True):
        self.inner, self.rank, self.world_size, self.drop_tail = inner, rank, world_size, drop_tail

    def __len__(self) -> int:
        return len(self.inner) // self.world_size

    def __iter__(self):
        used = len(self) * self.world_size if self.drop_tail else math.inf
        for i, item in enumerate(self.inner):
            if i >= used:
                break
            if i % self.world_size == self.rank:
                yield item

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.inner, "set_epoch"):
            self.inner.set_epoch(epoch)


def _shard_loader(loader, rank: int, world_size: int):
    """``loader`` restricted to this rank's batches; a DataLoader is rebuilt on a sharded batch
    sampler, so other ranks' batches are never collated here."""
    if isinstance(loader, DataLoader) and loader.batch_sampler is not None:
        return DataLoader(loader.dataset, batch_sampler=_RankShard(loader.batch_sampler, rank, world_size),
                          collate_fn=loader.collate_fn, num_workers=loader.num_workers, pin_memory=loader.pin_memory)
    return _RankShard(loader, rank, world_size)


def _check_loader(loader, name: str, allow_none: bool) -> None:
    if loader is None:
        if allow_none:
            return
        raise ValueError(f"{name} is None; give an iterable of course_lib.data.Batch (e.g. make_loader(...))")
    if isinstance(loader, (str, bytes, dict, Tensor)) or not hasattr(loader, "__iter__"):
        raise TrainingInputError(f"{name} must be an iterable of course_lib.data.Batch (a DataLoader or list), "
                                 f"got {type(loader).__name__}")
    if hasattr(loader, "__len__") and len(loader) == 0:
        raise ValueError(f"{name} has no batches: it is empty (is the dataset empty, or batch_size too large "
                         "with drop_last?)")


def _check_batch(batch) -> None:
    for name in ("src", "src_lens", "tgt"):
        if not isinstance(getattr(batch, name, None), Tensor):
            raise TrainingInputError(f"a training batch must be a course_lib.data.Batch (src, src_lens, tgt tensors), "
                                     f"got {type(batch).__name__}")
    if batch.tgt.dim() != 2 or batch.tgt.size(1) < 2:
        raise ValueError(f"batch.tgt must be [B, T] with T >= 2 (<sos> and at least one token), "
                         f"got {tuple(batch.tgt.shape)}")


class Trainer:
    """Train a :class:`course_lib.models.Seq2Seq` with teacher forcing (Sutskever et al. 2014;
    Williams & Zipser 1989), single-process or data-parallel under ``torchrun``.

    Args:
        model: a :class:`~course_lib.models.Seq2Seq`.
        train_loader: yields :class:`course_lib.data.Batch` (``src [B, S]``, ``src_lens [B]``,
            ``tgt [B, T]``). If it or its batch sampler has ``set_epoch`` (the course's
            ``BucketBatchSampler``), it is called every epoch so runs are reproducible.
            ``None`` only for using :meth:`train_step` / :meth:`evaluate` directly
            (:meth:`fit` then raises ``ValueError``).
        val_loader: same, for validation loss and early stopping; ``None`` skips validation.
        config: :class:`TrainConfig`.
        device: where to train; default :func:`course_lib.utils.get_device` (under
            ``torchrun`` with CUDA: ``cuda:LOCAL_RANK``).
        optimizer: default Adam(``config.lr``); must hold only this model's parameters.

    Data-parallel (``WORLD_SIZE > 1``, set by ``torchrun``): the process group is initialised
    if it is not yet (``gloo`` on CPU, ``nccl`` on CUDA), the model is wrapped in
    ``DistributedDataParallel`` (:attr:`model` stays the plain module), the training loader is
    sharded by rank, and only rank 0 prints and writes checkpoints. See the module docstring.

    Raises:
        ValueError: ``model`` is not a ``Seq2Seq``; a loader is not iterable or empty, or the
            training loader has no length (a generator); the
            config is not a :class:`TrainConfig`; the optimizer is not a
            ``torch.optim.Optimizer`` or holds parameters of another model; a bad ``device``.

    Example::

        trainer = Trainer(model, train_loader, val_loader, TrainConfig(epochs=5))
        history = trainer.fit()
    """

    def __init__(self, model: nn.Module, train_loader, val_loader=None, config: Optional[TrainConfig] = None,
                 device: Optional[torch.device] = None, optimizer: Optional[torch.optim.Optimizer] = None):
        if not isinstance(model, Seq2Seq):
            raise TrainingInputError(f"Trainer needs a course_lib.models.Seq2Seq, got {type(model).__name__}")
        _check_loader(train_loader, "train_loader", allow_none=True)
        if train_loader is not None and not hasattr(train_loader, "__len__"):
            raise TrainingInputError("train_loader must be re-iterable with a length (a DataLoader or a list), "
                                     f"not a one-shot {type(train_loader).__name__}: every epoch iterates it again")
        _check_loader(val_loader, "val_loader", allow_none=True)
        if config is not None and not isinstance(config, TrainConfig):
            raise TrainingInputError(f"config must be a TrainConfig (use TrainConfig.from_dict for a dict), "
                                     f"got {type(config).__name__}")
        if device is not None and not isinstance(device, (torch.device, str)):
            raise TrainingInputError(f"device must be a torch.device or a string like 'cpu', got {type(device).__name__}")
        if optimizer is not None:
            if not isinstance(optimizer, torch.optim.Optimizer):
                raise TrainingInputError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
            own = {id(p) for p in model.parameters()}
            if any(id(p) not in own for g in optimizer.param_groups for p in g["params"]):
                raise ValueError("the optimizer holds parameters that are not this model's; build it from "
                                 "model.parameters()")
        self.config = config or TrainConfig()
        self.rank, self.world_size = 0, 1
        self.data_parallel = _launched_data_parallel()
        if device is not None:
            try:
                device = torch.device(device)
            except RuntimeError as exc:
                raise ValueError(f"unknown device {device!r}: {exc}") from None
        if self.data_parallel:
            local_rank = _env_int("LOCAL_RANK") or 0
            if device is None:
                device = torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
            elif device.type == "cuda" and device.index is None:
                device = torch.device("cuda", local_rank)
            if device.type == "cuda":
                torch.cuda.set_device(device)
            if not dist.is_initialized():
                dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
            self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.device = device or get_device()
        self.model = model.to(self.device)
        self._ddp: Optional[nn.Module] = None
        if self.data_parallel:
            from torch.nn.parallel import DistributedDataParallel

            self._ddp = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
            if train_loader is not None:
                train_loader = _shard_loader(train_loader, self.rank, self.world_size)
                if len(train_loader) == 0:
                    raise ValueError(f"train_loader has fewer batches than the {self.world_size} processes")
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.optimizer = optimizer or torch.optim.Adam(self.model.parameters(), lr=self.config.lr,
                                                       weight_decay=self.config.weight_decay)
        self.amp_dtype = autocast_dtype(self.device) if self.config.amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.history = History()
        self.epoch = 0  # completed epochs
        self.batches_done = 0  # batches done in the current (unfinished) epoch
        self.global_step = 0
        self.bad_epochs = 0
        self.best_state: Optional[Dict[str, Tensor]] = None
        self._resume_rng: Optional[Dict[str, Any]] = None
        self._partial: Dict[str, float] = {}
        self._step_tokens: Any = 0

    # --- helpers --------------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        """True on the process that prints and writes checkpoints (rank 0; always when not data-parallel)."""
        return self.rank == 0

    def _log(self, msg: str) -> None:
        if self.is_main:
            tqdm.write(msg)

    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _set_epoch(self, epoch: int) -> None:
        loader = self.train_loader
        for obj in (loader, getattr(loader, "batch_sampler", None), getattr(loader, "sampler", None)):
            if obj is not None and hasattr(obj, "set_epoch"):
                obj.set_epoch(epoch)
                return

    def _all_reduce(self, values: List[float], op=None) -> List[float]:
        if not self.data_parallel:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=op or dist.ReduceOp.SUM)
        return t.tolist()

    def _seed_epoch(self) -> None:
        # rank 0 uses the single-process seed; other ranks get their own dropout / coin streams
        set_seed(self.config.seed + self.epoch + 1_000_003 * self.rank)

    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to continue training exactly: weights, optimiser, counters, RNGs.

        Data-parallel: a collective call (every rank must call it); the random states of all
        ranks are stored (``rng_per_rank``).
        """
        rng = _rng_state()
        per_rank = [rng]
        if self.data_parallel:
            per_rank = [None] * self.world_size
            dist.all_gather_object(per_rank, rng)
        return {
            "model": self.model.state_dict(),
            "model_class": type(self.model).__name__,
            "model_config": _model_config(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "batches_done": self.batches_done,
            "global_step": self.global_step,
            "bad_epochs": self.bad_epochs,
            "history": self.history.state_dict(),
            "best_state": self.best_state,
            "partial": dict(self._partial),
            "rng": rng,
            "rng_per_rank": per_rank,
            "world_size": self.world_size,
            "config": {k: v for k, v in dataclasses.asdict(self.config).items() if k != "teacher_forcing_schedule"},
        }

    def _validate_state(self, state: Any) -> None:
        """Check a whole checkpoint against this trainer before anything is loaded."""
        if not isinstance(state, dict):
            raise CheckpointError(f"a checkpoint must be a dict (Trainer.state_dict()), got {type(state).__name__}")
        required = ("model", "optimizer", "scaler", "epoch", "batches_done", "global_step", "bad_epochs",
                    "history", "rng")
        missing = [k for k in required if k not in state]
        if missing:
            raise CheckpointError(f"the checkpoint lacks {missing}: it was not written by Trainer.save; "
                                  "use another checkpoint_path or set resume=False")
        if state.get("model_class") not in (None, type(self.model).__name__):
            raise CheckpointError(f"the checkpoint holds a {state['model_class']}, this is a {type(self.model).__name__}; "
                                  "use another checkpoint_path or set resume=False")
        ours, theirs = _model_config(self.model), state.get("model_config")
        if ours is not None and theirs is not None and ours != theirs:
            diff = {k: (theirs.get(k), v) for k, v in ours.items() if theirs.get(k) != v}
            raise CheckpointError(f"the checkpoint was trained with another model config, so it does not fit this model "
                                  f"(setting: (checkpoint, this model)): {diff}; "
                                  "use another checkpoint_path or set resume=False")
        _check_tensors(state["model"], self.model.state_dict(), "weights")
        if state.get("best_state") is not None:
            _check_tensors(state["best_state"], self.model.state_dict(), "best weights")
        opt = state["optimizer"]
        groups = self.optimizer.state_dict()["param_groups"]
        if not isinstance(opt, dict) or not isinstance(opt.get("param_groups"), list) or "state" not in opt:
            raise CheckpointError("the checkpoint's optimizer state is damaged; set resume=False")
        if [len(g["params"]) for g in opt["param_groups"]] != [len(g["params"]) for g in groups]:
            raise CheckpointError("the checkpoint's optimizer has other parameter groups than this trainer's "
                                  "(another optimizer or model); use another checkpoint_path or set resume=False")
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        ids = [i for g in opt["param_groups"] for i in g["params"]]
        for key, slot in opt["state"].items():
            if key not in ids or not isinstance(slot, dict):
                raise CheckpointError(f"the checkpoint's optimizer state has an unknown entry {key!r}; set resume=False")
            shape = params[ids.index(key)].shape
            for name, value in slot.items():
                if isinstance(value, Tensor) and value.dim() > 0 and value.shape != shape:
                    raise CheckpointError(f"the checkpoint's optimizer state {name!r} has shape {tuple(value.shape)} "
                                          f"for a parameter of shape {tuple(shape)}; set resume=False")
        for name in ("epoch", "batches_done", "global_step", "bad_epochs"):
            if not _is_int(state[name]) or state[name] < 0:
                raise CheckpointError(f"the checkpoint's {name} is {state[name]!r}, not a count; set resume=False")
        n_batches = len(self.train_loader) if hasattr(self.train_loader, "__len__") else None
        if state["batches_done"] and n_batches is not None and state["batches_done"] >= n_batches:
            raise CheckpointError(f"the checkpoint stopped after batch {state['batches_done']} of an epoch, but "
                                  f"this training data has only {n_batches} batches per epoch (other data or "
                                  "batch size?); use the same data or set resume=False")
        if state["batches_done"] and state.get("world_size", 1) != self.world_size:
            raise CheckpointError(f"the checkpoint stopped mid-epoch with {state.get('world_size', 1)} processes; "
                                  f"resume it with the same number (now {self.world_size}) or set resume=False")
        hist = state["history"]
        names = {f.name for f in dataclasses.fields(History)}
        if not isinstance(hist, dict) or set(hist) - names:
            raise CheckpointError("the checkpoint's history is damaged; set resume=False")
        if not isinstance(state.get("config", {}), dict) or set(state.get("config", {})) - \
                {f.name for f in dataclasses.fields(TrainConfig)}:
            raise CheckpointError("the checkpoint's training config has unknown settings (another library "
                                  "version?); set resume=False")
        if not isinstance(state["scaler"], dict):
            raise CheckpointError("the checkpoint's gradient-scaler state is damaged; set resume=False")

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (e.g. a loaded checkpoint).

        The whole checkpoint (keys, tensor shapes, model class and config, optimizer groups,
        counters) is checked first; if anything does not fit, nothing is changed.

        Raises:
            CheckpointError: the checkpoint does not fit this model/optimizer/data, or is damaged.
        """
        self._validate_state(state)
        backup = (copy.deepcopy(self.model.state_dict()), copy.deepcopy(self.optimizer.state_dict()),
                  copy.deepcopy(self.scaler.state_dict()))
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scaler.load_state_dict(state["scaler"])
            history = History.from_state_dict(state["history"])
        except Exception as exc:  # validated above; this is the last line of defence
            self.model.load_state_dict(backup[0])
            self.optimizer.load_state_dict(backup[1])
            self.scaler.load_state_dict(backup[2])
            raise CheckpointError(f"the checkpoint could not be loaded ({exc}); nothing was changed. "
                                  "Use another checkpoint_path or set resume=False") from exc
        self.epoch, self.batches_done = state["epoch"], state["batches_done"]
        self.global_step, self.bad_epochs = state["global_step"], state["bad_epochs"]
        self.history = history
        self.best_state = state.get("best_state")
        self._partial = dict(state.get("partial") or {})
        per_rank = state.get("rng_per_rank") or [state["rng"]]
        rng = per_rank[self.rank] if len(per_rank) == self.world_size else state["rng"]
        self._resume_rng = rng if self.batches_done else None

    def save(self, path: Optional[str] = None) -> None:
        """Write a checkpoint atomically to ``path`` (default ``config.checkpoint_path``).

        Data-parallel: a collective call; rank 0 writes, the others wait at a barrier.

        Raises:
            ValueError: ``path`` is not a path.
        """
        path = path if path is not None else self.config.checkpoint_path
        if not path:
            return
        state = self.state_dict()
        if self.is_main:
            save_checkpoint(path, state)
        if self.data_parallel:
            dist.barrier()

    # --- training and evaluation ---------------------------------------------------------
    def train_step(self, batch, teacher_forcing: float) -> float:
        """One optimiser step on ``batch``; returns the loss (nats per target token).

        Data-parallel: the loss is the per-token mean over the *global* batch (all ranks'
        batches together); each rank's summed loss is scaled by ``W / global tokens`` so that
        DDP's averaged gradient is exactly that mean's gradient, then clipped.

        Raises:
            ValueError: ``batch`` is not a :class:`course_lib.data.Batch` or ``teacher_forcing``
                is not in ``[0, 1]``.
        """
        _check_batch(batch)
        _number(teacher_forcing, "teacher_forcing", 0.0, 1.0)
        self.model.train()
        batch = batch.to(self.device)
        net = self._ddp if self._ddp is not None else self.model
        tgt_out = batch.tgt[:, 1:]
        with self._autocast():
            out = net(batch.src, batch.src_lens, batch.tgt, teacher_forcing_ratio=teacher_forcing)
            loss_sum = sequence_loss(out.logits, tgt_out, self.model.pad_id, self.config.label_smoothing,
                                     reduction="sum")
        tokens = (tgt_out != self.model.pad_id).sum()
        if self.data_parallel:
            stats = torch.stack([loss_sum.detach().float(), tokens.float()]).to(torch.float64)
            dist.all_reduce(stats)
            global_sum, global_tokens = stats[0], stats[1]
            loss = loss_sum * (self.world_size / global_tokens)
        else:
            global_sum, global_tokens = loss_sum.detach(), tokens
            loss = loss_sum / tokens
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()  # DDP all-reduces (averages) the gradients here
        if self.config.clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip)  # on the averaged gradient
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.global_step += 1
        self._step_tokens = global_tokens  # all ranks' target tokens of this step
        return float(global_sum / global_tokens)

    @torch.no_grad()
    def evaluate(self, loader=None) -> Dict[str, float]:
        """Loss and perplexity with full teacher forcing on ``loader`` (default: validation).

        Data-parallel: a collective call (call it on every rank): each rank evaluates batches
        ``rank, rank + W, ...`` and the sums are all-reduced, so every rank returns the same
        numbers (those of the whole loader).

        Returns:
            ``{"loss": nats per target token, "ppl": exp(loss), "tokens": count}``.

        Raises:
            ValueError: no loader given and no validation loader set, or the loader is not an
                iterable of batches / is empty.
        """
        loader = loader if loader is not None else self.val_loader
        if loader is None:
            raise ValueError("evaluate() needs a loader: pass one or give the Trainer a val_loader")
        _check_loader(loader, "loader", allow_none=False)
        if self.data_parallel:
            total, tokens = _loss_sums(self.model, _RankShard(loader, self.rank, self.world_size, drop_tail=False),
                                       self.device, self._autocast)
            total, tokens = self._all_reduce([total, float(tokens)])
        else:
            total, tokens = _loss_sums(self.model, loader, self.device, self._autocast)
        return _loss_record(total, int(tokens))

    def _time_up(self, start: float) -> bool:
        up = self.config.max_minutes is not None and (time.perf_counter() - start) >= self.config.max_minutes * 60
        if self.data_parallel and self.config.max_minutes is not None:  # one decision for all ranks
            up = self._all_reduce([float(up)], dist.ReduceOp.MAX)[0] > 0
        return up

    def fit(self) -> History:
        """Train until ``epochs``, early stopping, the time budget or ``max_steps``.

        Resumes from ``config.checkpoint_path`` when it exists and ``config.resume`` is set --
        mid-epoch included: a run stopped by ``max_steps``, ``max_minutes`` or the stop button
        continues with exactly the batches of that epoch it had not seen. A ``KeyboardInterrupt``
        (the notebook's stop button) saves a checkpoint and returns the history with
        ``stopped == "interrupted"``.

        Returns:
            :class:`History`. A partial epoch appears in ``history.epochs`` with
            ``partial=True``; when a resumed run completes that epoch, the record is replaced
            by the whole epoch's.

        Raises:
            ValueError: the Trainer has no ``train_loader``.
            CheckpointError: the checkpoint to resume from does not fit (nothing is loaded).
        """
        if self.train_loader is None:
            raise ValueError("fit() needs a train_loader; give one to Trainer(...)")
        cfg = self.config
        ckpt = cfg.checkpoint_path
        if ckpt and cfg.resume and Path(ckpt).exists():
            self.load_state_dict(load_checkpoint(ckpt, map_location=self.device))
            if self.is_main:
                print(f"resumed from {ckpt}: {self.epoch} epochs and {self.batches_done} batches done")
        if self.history.stopped == "early_stopping" or self.epoch >= cfg.epochs:
            if self.is_main:
                print(f"nothing to do: training already ended ({self.history.stopped or 'epochs'})")
            return self.history
        if cfg.max_steps is not None and self.global_step >= cfg.max_steps:
            if self.is_main:
                print(f"nothing to do: max_steps={cfg.max_steps} already reached; raise it to train on")
            self.history.stopped = "max_steps"
            return self.history
        start = time.perf_counter()
        n_batches = len(self.train_loader)
        bar = tqdm(total=(cfg.epochs - self.epoch) * n_batches - self.batches_done,
                   disable=not cfg.progress or not self.is_main, desc="training", unit="batch", dynamic_ncols=True)
        stopped = "epochs"
        try:
            while self.epoch < cfg.epochs:
                reason = self._run_epoch(bar, start, n_batches)
                if reason:
                    stopped = reason
                    break
        except KeyboardInterrupt:
            stopped = "interrupted"
            if self.is_main:
                print(f"interrupted in epoch {self.epoch + 1}, batch {self.batches_done}"
                      + (f"; checkpoint saved to {ckpt}: run fit() again to resume" if ckpt else ""))
            if self.data_parallel:  # the other ranks are being stopped too: no collective calls
                bar.close()
                raise
        finally:
            bar.close()
        self.history.stopped = stopped
        self.save()
        if cfg.restore_best and self.best_state is not None and stopped != "interrupted":
            self.model.load_state_dict(self.best_state)
        return self.history

    def _run_epoch(self, bar, start: float, n_batches: int) -> Optional[str]:
        cfg = self.config
        ratio = cfg.ratio(self.epoch)
        self._set_epoch(self.epoch)
        skip = self.batches_done
        self._seed_epoch()  # before the loader is iterated: a seeded shuffle repeats its order
        if skip == 0:
            self._partial = {"loss_sum": 0.0, "tokens": 0, "seconds": 0.0}
        bar.set_description(f"epoch {self.epoch + 1}/{cfg.epochs}")
        reason = None
        t_last = time.perf_counter()
        for i, batch in enumerate(self.train_loader):
            if i < skip:
                continue
            if self._resume_rng is not None:  # continue mid-epoch exactly where we stopped
                _set_rng_state(self._resume_rng)
                self._resume_rng = None
                t_last = time.perf_counter()
            loss = self.train_step(batch, ratio)
            tokens = int(self._step_tokens) if self.data_parallel else batch.num_tgt_tokens
            now = time.perf_counter()
            self._partial["seconds"] += now - t_last
            t_last = now
            self._partial["loss_sum"] += loss * tokens
            self._partial["tokens"] += tokens
            self.batches_done = i + 1
            self.history.steps.append({"step": self.global_step, "loss": loss})
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{self._partial['tokens'] / max(self._partial['seconds'], 1e-9):.0f}")
            if cfg.max_steps is not None and self.global_step >= cfg.max_steps:
                reason = "max_steps"
            elif self._time_up(start):
                reason = "time_budget"
            if reason and self.batches_done < n_batches:
                break
        return self._end_epoch(reason, partial=self.batches_done < n_batches)

    def _end_epoch(self, reason: Optional[str], partial: bool) -> Optional[str]:
        cfg = self.config
        p = self._partial
        record: Dict[str, Any] = {
            "epoch": self.epoch + 1,
            "train_loss": p["loss_sum"] / max(p["tokens"], 1),
            "tokens": p["tokens"],
            "seconds": p["seconds"],
            "tokens_per_s": p["tokens"] / max(p["seconds"], 1e-9),
            "teacher_forcing": cfg.ratio(self.epoch),
            "partial": partial,
        }
        if self.val_loader is not None:
            val = self.evaluate()
            record.update(val_loss=val["loss"], val_ppl=val["ppl"])
            if val["loss"] < self.history.best_val_loss:
                self.history.best_val_loss = val["loss"]
                self.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in self.model.state_dict().items()})
                if not partial:
                    self.bad_epochs = 0
            elif not partial:  # patience counts whole epochs only
                self.bad_epochs += 1
        last = self.history.epochs[-1] if self.history.epochs else None
        if last is not None and last["epoch"] == record["epoch"] and last.get("partial"):
            self.history.epochs[-1] = record  # the resumed epoch replaces its partial record
        else:
            self.history.epochs.append(record)
        msg = f"epoch {record['epoch']}{' (partial)' if partial else ''}: train loss {record['train_loss']:.3f}"
        if "val_loss" in record:
            msg += f", val loss {record['val_loss']:.3f}, val ppl {record['val_ppl']:.1f}"
        msg += f", {record['tokens_per_s']:.0f} tok/s, {record['seconds']:.0f} s"
        self._log(msg)
        if partial:
            # stopped mid-epoch: keep the position, so that the next fit() finishes this epoch
            self.save()
            return reason
        self.epoch += 1
        self.batches_done = 0
        self.save()
        if reason:
            return reason
        if cfg.patience is not None and self.val_loader is not None and self.bad_epochs >= cfg.patience:
            self._log(f"early stopping: no better validation loss for {self.bad_epochs} epochs")
            return "early_stopping"
        return None


def _loss_sums(model: nn.Module, loader, device: torch.device, autocast=None) -> Tuple[float, int]:
    total, tokens = 0.0, 0
    ctx = autocast or nullcontext
    with eval_mode(model), torch.no_grad():
        for batch in loader:
            _check_batch(batch)
            batch = batch.to(device)
            with ctx():
                out = model(batch.src, batch.src_lens, batch.tgt, teacher_forcing_ratio=1.0)
                total += float(sequence_loss(out.logits, batch.tgt[:, 1:], model.pad_id, reduction="sum"))
            tokens += int((batch.tgt[:, 1:] != model.pad_id).sum())
    return total, tokens


def _loss_record(total: float, tokens: int) -> Dict[str, float]:
    loss = total / max(tokens, 1)
    return {"loss": loss, "ppl": math.exp(min(loss, 50.0)), "tokens": tokens}


def evaluate_loss(model: nn.Module, loader, device: Optional[torch.device] = None, autocast=None) -> Dict[str, float]:
    """Mean cross-entropy (nats per non-padding target token) and perplexity on ``loader``.

    Full teacher forcing, dropout off (the model's mode is restored afterwards, even on error).

    Args:
        model: a :class:`~course_lib.models.Seq2Seq`.
        loader: iterable of :class:`course_lib.data.Batch`, not empty.
        device: default: the model's.
        autocast: optional zero-argument callable returning a context manager (e.g. autocast).

    Returns:
        ``{"loss", "ppl", "tokens"}``.

    Raises:
        ValueError: ``model`` is not a ``Seq2Seq``, the loader is not an iterable of batches or is empty.
    """
    if not isinstance(model, Seq2Seq):
        raise TrainingInputError(f"evaluate_loss needs a course_lib.models.Seq2Seq, got {type(model).__name__}")
    _check_loader(loader, "loader", allow_none=False)
    if autocast is not None and not callable(autocast):
        raise TrainingInputError("autocast must be a callable returning a context manager, or None")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    total, tokens = _loss_sums(model, loader, device, autocast)
    if tokens == 0:
        raise ValueError("the loader yielded no batches: nothing to evaluate")
    return _loss_record(total, tokens)
