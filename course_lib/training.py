"""The course's training loop: GPU-aware, resumable, with early stopping and a time budget.

What it does, in order, for every batch: move the batch to the device, run the model with
teacher forcing (ratio from the config or a schedule), compute the cross-entropy over the
non-padding target tokens, backpropagate (with a gradient scaler under fp16 autocast), clip
the gradient norm, step the optimiser, and update a ``tqdm`` bar with the loss and the
training speed in target tokens per second.

After every epoch it evaluates on the validation set, keeps the best weights, stops early
when the validation loss has not improved for ``patience`` epochs, and writes a checkpoint
atomically (temporary file, then rename), so an interrupted run never leaves a half-written
checkpoint and can be resumed exactly where it stopped -- mid-epoch included.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import random
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from .utils import autocast_dtype, dataclass_from_dict, get_device

__all__ = ["TrainConfig", "History", "Trainer", "sequence_loss", "save_checkpoint", "load_checkpoint", "CheckpointError"]


class CheckpointError(RuntimeError):
    """A checkpoint file could not be read or does not fit the model being trained."""


@dataclass
class TrainConfig:
    """Settings of :class:`Trainer` (defaults fit a laptop).

    Attributes:
        epochs: maximum number of passes over the training data.
        lr: Adam learning rate (Kingma & Ba 2015).
        clip: maximum global gradient norm (Pascanu et al. 2013); ``None`` disables clipping.
        teacher_forcing: probability of feeding the gold previous word (1.0 = always).
        teacher_forcing_schedule: optional ``epoch -> ratio`` (epochs count from 0); overrides
            ``teacher_forcing`` (scheduled sampling, Bengio et al. 2015).
        patience: stop after this many epochs without a better validation loss; ``None`` never.
        max_minutes: wall-clock budget for training (checked after every batch); ``None`` = none.
        max_steps: stop after this many optimiser steps in total; ``None`` = none.
        amp: use mixed precision where the device supports it (CUDA); ignored on CPU/MPS.
        checkpoint_path: where to write the checkpoint after each epoch (and on interruption);
            ``None`` writes none.
        resume: if ``checkpoint_path`` exists, continue from it instead of starting over.
        restore_best: at the end, load the weights of the epoch with the best validation loss.
        seed: seeds Python, NumPy and torch at the start of every epoch (``seed + epoch``).
        label_smoothing: cross-entropy label smoothing (Szegedy et al. 2016); 0 disables.
        progress: show a ``tqdm`` progress bar.
        weight_decay: Adam weight decay.
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

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "TrainConfig":
        """Build a config from a dictionary.

        Raises:
            ValueError: a key is not a field of :class:`TrainConfig` (the message lists them).
        """
        return dataclass_from_dict(cls, values)

    def ratio(self, epoch: int) -> float:
        """Teacher-forcing ratio for ``epoch`` (from the schedule if one is set)."""
        ratio = self.teacher_forcing_schedule(epoch) if self.teacher_forcing_schedule else self.teacher_forcing
        return float(min(1.0, max(0.0, ratio)))


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
        return dataclasses.asdict(self)

    @classmethod
    def from_state_dict(cls, state: Dict[str, Any]) -> "History":
        return cls(**state)


def sequence_loss(logits: Tensor, tgt_out: Tensor, pad_id: int, label_smoothing: float = 0.0,
                  reduction: str = "mean") -> Tensor:
    """Cross-entropy over the non-padding target positions.

    Args:
        logits: ``[B, T, V]`` unnormalised scores. tgt_out: ``[B, T]`` gold ids (``tgt[:, 1:]``).
        pad_id: id whose positions are ignored.
        reduction: ``"mean"`` (nats per target token) or ``"sum"``.

    Returns:
        A scalar tensor.
    """
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), tgt_out.reshape(-1),
                           ignore_index=pad_id, label_smoothing=label_smoothing, reduction=reduction)


def _atomic_torch_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_checkpoint(path: str | os.PathLike, state: Dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically: a crash mid-write leaves the old file intact."""
    _atomic_torch_save(state, Path(path))


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> Dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is not a readable course checkpoint (truncated, another format).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # torch raises several types for a damaged file
        raise CheckpointError(
            f"checkpoint {path} could not be read ({type(exc).__name__}: {exc}); delete it or set resume=False"
        ) from exc
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not a course_lib training checkpoint (no 'model' entry)")
    return state


def _rng_state() -> Dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def _set_rng_state(state: Dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class Trainer:
    """Train a :class:`course_lib.models.Seq2Seq` with teacher forcing.

    Args:
        model: any :class:`~course_lib.models.Seq2Seq`.
        train_loader: yields :class:`course_lib.data.Batch` (``src [B, S]``, ``src_lens [B]``,
            ``tgt [B, T]``). If its batch sampler has ``set_epoch`` (the course's
            ``BucketBatchSampler``), it is called every epoch so runs are reproducible.
        val_loader: same, for validation loss and early stopping; ``None`` skips validation.
        config: :class:`TrainConfig`.
        device: where to train; default :func:`course_lib.utils.get_device`.
        optimizer: default Adam(``config.lr``).

    Example::

        trainer = Trainer(model, train_loader, val_loader, TrainConfig(epochs=5))
        history = trainer.fit()
    """

    def __init__(self, model: nn.Module, train_loader, val_loader=None, config: Optional[TrainConfig] = None,
                 device: Optional[torch.device] = None, optimizer: Optional[torch.optim.Optimizer] = None):
        self.config = config or TrainConfig()
        self.device = device or get_device()
        self.model = model.to(self.device)
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=self.config.lr,
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

    # --- helpers --------------------------------------------------------------------------
    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _set_epoch(self, epoch: int) -> None:
        for obj in (getattr(self.train_loader, "batch_sampler", None), getattr(self.train_loader, "sampler", None)):
            if obj is not None and hasattr(obj, "set_epoch"):
                obj.set_epoch(epoch)
                return

    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to continue training exactly: weights, optimiser, counters, RNGs."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "batches_done": self.batches_done,
            "global_step": self.global_step,
            "bad_epochs": self.bad_epochs,
            "history": self.history.state_dict(),
            "best_state": self.best_state,
            "partial": dict(self._partial),
            "rng": _rng_state(),
            "config": {k: v for k, v in dataclasses.asdict(self.config).items() if k != "teacher_forcing_schedule"},
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (e.g. a loaded checkpoint).

        Raises:
            CheckpointError: the checkpoint's weights do not fit this model.
        """
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise CheckpointError(
                "the checkpoint's weights do not fit this model (different sizes or vocabulary?); "
                f"use another checkpoint_path or set resume=False.\n{exc}"
            ) from exc
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.batches_done = state["epoch"], state["batches_done"]
        self.global_step, self.bad_epochs = state["global_step"], state["bad_epochs"]
        self.history = History.from_state_dict(state["history"])
        self.best_state = state.get("best_state")
        self._partial = dict(state.get("partial") or {})
        self._resume_rng = state["rng"] if self.batches_done else None

    def save(self, path: Optional[str] = None) -> None:
        """Write a checkpoint atomically to ``path`` (default ``config.checkpoint_path``)."""
        path = path or self.config.checkpoint_path
        if path:
            save_checkpoint(path, self.state_dict())

    # --- training and evaluation ---------------------------------------------------------
    def train_step(self, batch, teacher_forcing: float) -> float:
        """One optimiser step on ``batch``; returns the loss (nats per target token)."""
        self.model.train()
        batch = batch.to(self.device)
        with self._autocast():
            out = self.model(batch.src, batch.src_lens, batch.tgt, teacher_forcing_ratio=teacher_forcing)
            loss = sequence_loss(out.logits, batch.tgt[:, 1:], self.model.pad_id, self.config.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.config.clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.global_step += 1
        return float(loss.detach())

    @torch.no_grad()
    def evaluate(self, loader=None) -> Dict[str, float]:
        """Loss and perplexity with full teacher forcing on ``loader`` (default: validation).

        Returns:
            ``{"loss": nats per target token, "ppl": exp(loss), "tokens": count}``.

        Raises:
            ValueError: no loader given and no validation loader set.
        """
        loader = loader if loader is not None else self.val_loader
        if loader is None:
            raise ValueError("evaluate() needs a loader: pass one or give the Trainer a val_loader")
        return evaluate_loss(self.model, loader, self.device, self._autocast)

    def _time_left(self, start: float) -> bool:
        return self.config.max_minutes is None or (time.perf_counter() - start) < self.config.max_minutes * 60

    def fit(self) -> History:
        """Train until ``epochs``, early stopping, the time budget or ``max_steps``.

        Resumes from ``config.checkpoint_path`` when it exists and ``config.resume`` is set.
        A ``KeyboardInterrupt`` (the notebook's stop button) saves a checkpoint and returns
        the history with ``stopped == "interrupted"``.

        Returns:
            :class:`History`.
        """
        cfg = self.config
        ckpt = cfg.checkpoint_path
        if ckpt and cfg.resume and Path(ckpt).exists():
            self.load_state_dict(load_checkpoint(ckpt, map_location=self.device))
            print(f"resumed from {ckpt}: {self.epoch} epochs and {self.batches_done} batches done")
        if self.history.stopped in ("early_stopping",) or self.epoch >= cfg.epochs:
            print(f"nothing to do: training already ended ({self.history.stopped or 'epochs'})")
            return self.history
        start = time.perf_counter()
        n_batches = len(self.train_loader)
        bar = tqdm(total=(cfg.epochs - self.epoch) * n_batches - self.batches_done, disable=not cfg.progress,
                   desc="training", unit="batch", dynamic_ncols=True)
        stopped = "epochs"
        try:
            while self.epoch < cfg.epochs:
                reason = self._run_epoch(bar, start, n_batches)
                if reason:
                    stopped = reason
                    break
        except KeyboardInterrupt:
            stopped = "interrupted"
            print(f"interrupted in epoch {self.epoch + 1}, batch {self.batches_done}"
                  + (f"; checkpoint saved to {ckpt}: run fit() again to resume" if ckpt else ""))
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
        if skip == 0:
            _seed_all(cfg.seed + self.epoch)
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
            loss = self.train_step(batch, ratio)
            tokens = batch.num_tgt_tokens
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
            elif not self._time_left(start):
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
                self.bad_epochs = 0
            else:
                self.bad_epochs += 1
        self.history.epochs.append(record)
        msg = f"epoch {record['epoch']}{' (partial)' if partial else ''}: train loss {record['train_loss']:.3f}"
        if "val_loss" in record:
            msg += f", val loss {record['val_loss']:.3f}, val ppl {record['val_ppl']:.1f}"
        msg += f", {record['tokens_per_s']:.0f} tok/s, {record['seconds']:.0f} s"
        tqdm.write(msg)
        if partial:
            # a partial epoch still counts as the last one: the budget or step limit is spent
            self.epoch += 1
            self.batches_done = 0
            self.save()
            return reason
        self.epoch += 1
        self.batches_done = 0
        self.save()
        if reason:
            return reason
        if cfg.patience is not None and self.val_loader is not None and self.bad_epochs >= cfg.patience:
            tqdm.write(f"early stopping: no better validation loss for {self.bad_epochs} epochs")
            return "early_stopping"
        return None


@torch.no_grad()
def evaluate_loss(model: nn.Module, loader, device: Optional[torch.device] = None, autocast=None) -> Dict[str, float]:
    """Mean cross-entropy (nats per non-padding target token) and perplexity on ``loader``.

    Full teacher forcing, dropout off. Returns ``{"loss", "ppl", "tokens"}``.
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    ctx = autocast or nullcontext
    for batch in loader:
        batch = batch.to(device)
        with ctx():
            out = model(batch.src, batch.src_lens, batch.tgt, teacher_forcing_ratio=1.0)
            total += float(sequence_loss(out.logits, batch.tgt[:, 1:], model.pad_id, reduction="sum"))
        tokens += batch.num_tgt_tokens
    model.train(was_training)
    loss = total / max(tokens, 1)
    return {"loss": loss, "ppl": math.exp(min(loss, 50.0)), "tokens": tokens}
