"""The training loop: :class:`Trainer` (its settings and record, :class:`TrainConfig` and
:class:`History`, are in :mod:`course_lib.training.config`).

A step (:meth:`Trainer.train_step`): teacher forcing (Williams & Zipser 1989), cross-entropy
per non-padding target token, backpropagation, gradient-norm clipping (Pascanu et al. 2013),
an optimiser step. :meth:`Trainer.fit` loops over epochs, validates after each, keeps the
best weights, stops early, at ``max_steps`` or at a time budget, writes checkpoints, and
resumes exactly -- mid-epoch included -- where a previous call stopped.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..checks import check_instance, require
from ..data import Batch
from ..models.base import Seq2Seq
from ..utils import as_device, autocast_dtype, get_device, set_seed
from ._checks import check_loader
from .checkpoints import (CheckpointError, checkpoint_problem, kept_rng, load_checkpoint, model_config, rng_state,
                          save_checkpoint, set_rng_state)
from .config import NONE, History, TrainConfig
from .loss import loss_record, loss_sums, token_loss_sum
from .progress import ProgressBar

__all__ = ["Trainer", "TrainConfig", "History"]  # the config's two are re-exported here, where they were


class Trainer:
    """Train a :class:`course_lib.models.Seq2Seq` with teacher forcing:
    ``history = Trainer(model, train_loader, val_loader, TrainConfig(epochs=5)).fit()``.

    Args:
        model: a :class:`~course_lib.models.Seq2Seq`.
        train_loader: yields :class:`course_lib.data.Batch`, again every epoch (a DataLoader or a
            list; its or its sampler's ``set_epoch`` is called). ``None``: only :meth:`train_step`
            and :meth:`evaluate` are used.
        val_loader: same, for validation and early stopping; ``None``: no validation.
        config: :class:`TrainConfig`; device: default :func:`course_lib.utils.get_device`;
        optimizer: default Adam(``config.lr``), built on this model's parameters only.

    Under ``torchrun`` with more than one process, ``Trainer(...)`` builds a
    :class:`~course_lib.training.data_parallel.DataParallelTrainer`.

    Raises:
        ValueError: an argument of the wrong type, an empty loader, another model's optimizer,
            an unknown or unavailable device.
    """

    data_parallel = False
    rank, world_size = 0, 1

    def __new__(cls, *args, **kwargs):
        if cls is Trainer:
            from .data_parallel import DataParallelTrainer, launched_data_parallel

            cls = DataParallelTrainer if launched_data_parallel() else cls
        return super().__new__(cls)

    def __init__(self, model: nn.Module, train_loader, val_loader=None, config: Optional[TrainConfig] = None,
                 device: Optional[torch.device] = None, optimizer: Optional[torch.optim.Optimizer] = None):
        check_instance(model, Seq2Seq, "model", "a course_lib.models.Seq2Seq")
        if train_loader is not None:
            check_loader(train_loader, "train_loader", need_len=True)
        if val_loader is not None:
            check_loader(val_loader, "val_loader")
        check_instance(config, (TrainConfig, NONE), "config", "a TrainConfig (TrainConfig.from_dict reads a dict)")
        check_instance(device, (torch.device, str, NONE), "device", "a torch.device or a string like 'cpu'")
        check_instance(optimizer, (torch.optim.Optimizer, NONE), "optimizer", "a torch.optim.Optimizer")
        own = {id(p) for p in model.parameters()}
        require(not optimizer or all(id(p) in own for g in optimizer.param_groups for p in g["params"]),
                "the optimizer has parameters that are not this model's; build it on model.parameters()")
        self.config = cfg = config or TrainConfig()
        self.device = as_device(device, check_available=True) if device is not None else get_device()
        self.model = self.net = model.to(self.device)  # net: what the forward pass runs (DDP wraps it)
        self.train_loader, self.val_loader = train_loader, val_loader
        self.optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.amp_dtype = autocast_dtype(self.device) if cfg.amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.history = History()
        self.epoch, self.batches_done = 0, 0  # completed epochs; batches of the unfinished one
        self.global_step, self.bad_epochs = 0, 0
        self.best_state: Optional[Dict[str, Tensor]] = None
        self._rng_next: Optional[Dict[str, Any]] = None  # the random state before the next unseen batch
        self._partial: Dict[str, float] = {}  # the unfinished epoch's sums
        self._step_tokens = 0

    @property
    def is_main(self) -> bool:
        """True on the process that prints and writes checkpoints (always, unless data-parallel)."""
        return self.rank == 0

    def _log(self, msg: str) -> None:
        if self.is_main:
            tqdm.write(msg)

    def _autocast(self):
        return nullcontext() if self.amp_dtype is None else torch.autocast(self.device.type, dtype=self.amp_dtype)

    # --- hooks that DataParallelTrainer overrides ----------------------------------------------
    def _mean_loss(self, loss_sum: Tensor, tokens: int):
        """(loss to backpropagate, its value, target tokens) of this step."""
        loss = loss_sum / tokens
        return loss, loss.detach(), tokens

    def _all_reduce(self, values: List[float], op: str = "sum") -> List[float]:
        return values

    def _shard(self, loader):
        return loader

    def _gather(self, obj: Any) -> List[Any]:
        return [obj]

    def _interrupted(self) -> None:
        self._log(f"interrupted in epoch {self.epoch + 1}, batch {self.batches_done}"
                  + ("; run fit() again to resume from the checkpoint" if self.config.checkpoint_path else ""))

    # --- checkpoints -----------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to continue exactly: weights, optimiser, counters, random state.

        Data-parallel: a collective call; every rank's random state is stored.
        """
        rng = self._rng_next if self.batches_done and self._rng_next else rng_state(self.device)
        config = {k: v for k, v in dataclasses.asdict(self.config).items() if k != "teacher_forcing_schedule"}
        return dict(model=self.model.state_dict(), model_class=type(self.model).__name__,
                    model_config=model_config(self.model), optimizer=self.optimizer.state_dict(),
                    scaler=self.scaler.state_dict(), epoch=self.epoch, batches_done=self.batches_done,
                    global_step=self.global_step, bad_epochs=self.bad_epochs, history=self.history.state_dict(),
                    best_state=self.best_state, partial=dict(self._partial), rng=rng,
                    rng_per_rank=self._gather(rng), world_size=self.world_size, config=config)

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`, all or nothing.

        Raises:
            CheckpointError: the checkpoint does not fit this model/optimizer/data, or is damaged.
        """
        backup = copy.deepcopy((self.model.state_dict(), self.optimizer.state_dict()))
        try:
            problem = checkpoint_problem(state, self)  # what torch does not check itself
            if problem is None:
                history = History.from_state_dict(state["history"])
                TrainConfig.from_dict(state.get("config", {}))  # no unknown settings
                per_rank = state.get("rng_per_rank") or []
                rng = per_rank[self.rank] if len(per_rank) == self.world_size else state["rng"]
                for weights in (state.get("best_state"), state["model"]):  # the best weights must fit too
                    if weights is not None:
                        self.model.load_state_dict(weights)
                self.optimizer.load_state_dict(state["optimizer"])
                self.scaler.load_state_dict(state["scaler"])
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem:
            self.model.load_state_dict(backup[0])
            self.optimizer.load_state_dict(backup[1])
            raise CheckpointError(f"the checkpoint does not fit this model, optimizer or data ({problem}); nothing "
                                  "was loaded. Use another checkpoint_path or set resume=False")
        self.epoch, self.batches_done = state["epoch"], state["batches_done"]
        self.global_step, self.bad_epochs = state["global_step"], state["bad_epochs"]
        self.history, self.best_state = history, state.get("best_state")
        self._partial, self._rng_next = dict(state.get("partial") or {}), rng

    def save(self, path: Optional[str] = None) -> None:
        """Write a checkpoint atomically to ``path`` (default ``config.checkpoint_path``; if unset, none).
        Data-parallel: collective; rank 0 writes."""
        path = path if path is not None else self.config.checkpoint_path
        if path:
            state = self.state_dict()
            if self.is_main:
                save_checkpoint(path, state)

    # --- training and evaluation -------------------------------------------------------------------
    def train_step(self, batch: Batch, teacher_forcing: float) -> float:
        """One optimiser step on ``batch``; returns the loss (nats per target token), read on the
        host once, after the step. Data-parallel: the mean over all ranks' batches together.

        Raises:
            ValueError: ``batch`` is not a :class:`course_lib.data.Batch`; ``teacher_forcing`` not in ``[0, 1]``.
        """
        check_instance(batch, Batch, "batch", "a course_lib.data.Batch (from make_loader or collate_batch)")
        self.model.train()
        tokens = batch.num_tgt_tokens  # counted on the CPU batch: no wait for the device
        batch = batch.to(self.device)
        with self._autocast():
            out = self.net(batch.src, batch.src_lens, batch.tgt, teacher_forcing_ratio=teacher_forcing)
            loss_sum = token_loss_sum(out.logits, batch.tgt[:, 1:], self.model.pad_id, self.config.label_smoothing)
        loss, value, tokens = self._mean_loss(loss_sum, tokens)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.config.clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.global_step += 1
        self._step_tokens = int(tokens)
        return float(value)

    def evaluate(self, loader=None) -> Dict[str, float]:
        """``{"loss", "ppl", "tokens"}`` on ``loader`` (default: validation), as :func:`evaluate_loss`;
        the random state is left as it was. Data-parallel: collective; the numbers of the whole loader.

        Raises:
            ValueError: no loader (and no val_loader); the loader is not an iterable of batches, or empty.
        """
        loader = loader if loader is not None else self.val_loader
        check_loader(loader, "loader (or the Trainer's val_loader)")
        with kept_rng(self.device):
            total, tokens = loss_sums(self.model, self._shard(loader), self.device, self._autocast)
        return loss_record(*self._all_reduce([float(total), float(tokens)]))

    def _time_up(self, start: float) -> bool:
        budget = self.config.max_minutes
        up = budget is not None and time.perf_counter() - start >= budget * 60
        return budget is not None and self._all_reduce([float(up)], "max")[0] > 0  # the same decision on all ranks

    def fit(self) -> History:
        """Train until ``epochs``, early stopping, the time budget or ``max_steps``; returns the
        :class:`History` (a partial epoch has ``partial=True`` until a resumed run completes it).

        Resumes exactly (mid-epoch included) from ``config.checkpoint_path`` when it exists and ``config.resume``
        is set. The stop button saves a checkpoint and returns (``"interrupted"``).

        Raises:
            ValueError: the Trainer has no ``train_loader``.
            CheckpointError: the checkpoint to resume from does not fit (nothing is loaded).
        """
        check_loader(self.train_loader, "train_loader (give one to Trainer to fit)", need_len=True)
        cfg = self.config
        if cfg.checkpoint_path and cfg.resume and Path(cfg.checkpoint_path).exists():
            self.load_state_dict(load_checkpoint(cfg.checkpoint_path, map_location=self.device))
            self._log(f"resumed from {cfg.checkpoint_path}: {self.epoch} epochs and {self.batches_done} batches done")
        if self.history.stopped == "early_stopping" or self.epoch >= cfg.epochs:
            self._log(f"nothing to do: training already ended ({self.history.stopped or 'epochs'})")
            return self.history
        if cfg.max_steps is not None and self.global_step >= cfg.max_steps:
            self._log(f"nothing to do: max_steps={cfg.max_steps} already reached; raise it to train on")
            self.history.stopped = "max_steps"
            return self.history
        bar = ProgressBar((cfg.epochs - self.epoch) * len(self.train_loader) - self.batches_done,
                          enabled=cfg.progress and self.is_main)
        start, stopped, handled = time.perf_counter(), None, False
        try:
            while stopped is None and self.epoch < cfg.epochs:
                stopped = self._run_epoch(bar, start)
            handled = True
        except KeyboardInterrupt:
            stopped, handled = "interrupted", True
        finally:
            if not handled:
                bar.close()  # an error: a notebook bar stays red
        if self._rng_next is not None:  # stopped inside a step: back to the state before it
            set_rng_state(self._rng_next, self.device)
        self._rng_next = rng_state(self.device)  # the state before the next unseen batch
        self.history.stopped = stopped = stopped or "epochs"
        bar.finish(self._last_line(), self._why(stopped))
        if stopped == "interrupted":
            self._interrupted()
        self.save()
        last_val = self.history.epochs[-1].get("val_loss", math.inf) if self.history.epochs else math.inf
        if cfg.restore_best and self.best_state is not None and stopped != "interrupted" \
                and not last_val < self.history.best_val_loss:  # unless a partial epoch validated better
            self.model.load_state_dict(self.best_state)
        return self.history

    def _run_epoch(self, bar: ProgressBar, start: float) -> Optional[str]:
        """Train on the rest of the current epoch; the reason to stop, or ``None`` to go on."""
        cfg, loader, skip = self.config, self.train_loader, self.batches_done
        ratio = cfg.ratio(self.epoch)
        for obj in (loader, getattr(loader, "batch_sampler", None), getattr(loader, "sampler", None)):
            if hasattr(obj, "set_epoch"):  # a seeded shuffle repeats its order
                obj.set_epoch(self.epoch)
                break
        set_seed(cfg.seed + self.epoch + 1_000_003 * self.rank)  # before the loader is iterated
        if skip == 0:
            self._partial = {"loss_sum": 0.0, "tokens": 0, "seconds": 0.0}
        bar.bar.set_description(f"epoch {self.epoch + 1}/{cfg.epochs}", refresh=False)
        reason, p, t_last = None, self._partial, time.perf_counter()
        for i, batch in enumerate(loader):
            if i < skip:
                continue
            if skip and i == skip:  # continue mid-epoch with the random state of the stop
                set_rng_state(self._rng_next, self.device)
            self._rng_next = rng_state(self.device, numpy=False)  # what a stop inside the step goes back to
            loss = self.train_step(batch, ratio)
            self._rng_next = None
            now = time.perf_counter()
            p["seconds"], t_last = p["seconds"] + now - t_last, now
            p["loss_sum"] += loss * self._step_tokens
            p["tokens"] += self._step_tokens
            self.batches_done = i + 1
            self.history.steps.append({"step": self.global_step, "loss": loss})
            bar.step(loss, p["tokens"] / max(p["seconds"], 1e-9))
            if cfg.max_steps is not None and self.global_step >= cfg.max_steps:
                reason = "max_steps"
            elif self._time_up(start):
                reason = "time_budget"
            if reason and self.batches_done < len(loader):
                break
        return self._end_epoch(reason, partial=self.batches_done < len(loader))

    def _end_epoch(self, reason: Optional[str], partial: bool) -> Optional[str]:
        """Validate, record and log the epoch (whole or cut short); the reason to stop, or ``None``."""
        p, cfg, history = self._partial, self.config, self.history
        record = dict(epoch=self.epoch + 1, train_loss=p["loss_sum"] / max(p["tokens"], 1), tokens=p["tokens"],
                      seconds=p["seconds"], tokens_per_s=p["tokens"] / max(p["seconds"], 1e-9),
                      teacher_forcing=cfg.ratio(self.epoch), partial=partial)
        if self.val_loader is not None:
            val = self.evaluate()
            record.update(val_loss=val["loss"], val_ppl=val["ppl"])
            if not partial and val["loss"] < history.best_val_loss:  # whole epochs only, so that a
                history.best_val_loss, self.bad_epochs = val["loss"], 0  # resumed run decides alike
                self.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in self.model.state_dict().items()})
            elif not partial:
                self.bad_epochs += 1
        if history.epochs and history.epochs[-1]["epoch"] == record["epoch"] and history.epochs[-1]["partial"]:
            history.epochs[-1] = record  # the resumed epoch replaces its partial record
        else:
            history.epochs.append(record)
        self._log(self._last_line())
        if partial:
            return reason
        self.epoch, self.batches_done = self.epoch + 1, 0
        if not reason and cfg.patience is not None and self.val_loader is not None and self.bad_epochs >= cfg.patience:
            reason = "early_stopping"
            self._log(f"early stopping: no better validation loss for {self.bad_epochs} epochs")
        if not reason and self.epoch < cfg.epochs:
            self.save()  # fit() saves at the end
        return reason

    def _last_line(self) -> str:
        """The last epoch's log line, e.g. ``epoch 2 (partial): train loss 2.310, ..., 1470 tok/s, 95 s``."""
        if not self.history.epochs:
            return "no epoch yet"
        r = self.history.epochs[-1]
        val = f", val loss {r['val_loss']:.3f}, val ppl {r['val_ppl']:.1f}" if "val_loss" in r else ""
        return (f"epoch {r['epoch']}{' (partial)' if r['partial'] else ''}: train loss {r['train_loss']:.3f}{val}, "
                f"{r['tokens_per_s']:.0f} tok/s, {r['seconds']:.0f} s")

    def _why(self, stopped: str) -> str:
        cfg = self.config
        return {"epochs": f"done: {cfg.epochs} epochs", "max_steps": f"stopped at max_steps={cfg.max_steps}",
                "early_stopping": f"early stopping: no better validation loss for {self.bad_epochs} epochs",
                "time_budget": f"stopped at the {cfg.max_minutes or 0:g}-min budget",
                "interrupted": f"interrupted in epoch {self.epoch + 1} after batch {self.batches_done}"}[stopped]
