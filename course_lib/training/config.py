"""What goes into training and what comes out: :class:`TrainConfig` (the settings, checked when
built) and :class:`History` (what :meth:`~course_lib.training.Trainer.fit` recorded)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable as CallableType
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from ..checks import check_flag, check_instance, check_int, check_real
from ..utils import dataclass_from_dict
from ._checks import check_path

NONE = type(None)


_OPEN = {"low": 0.0, "low_open": True}
_TRAIN_RULES = {  # TrainConfig's fields -> their check and its bounds, as the comments of the fields say
    "epochs": (check_int, {"low": 1}), "patience": (check_int, {"low": 1, "allow_none": True}), "seed": (check_int, {}),
    "max_steps": (check_int, {"low": 1, "allow_none": True}), "lr": (check_real, _OPEN),
    "clip": (check_real, {**_OPEN, "allow_none": True}), "teacher_forcing": (check_real, {"low": 0.0, "high": 1.0}),
    "max_minutes": (check_real, {"low": 0.0, "allow_none": True}), "weight_decay": (check_real, {"low": 0.0}),
    "label_smoothing": (check_real, {"low": 0.0, "high": 1.0, "high_open": True}),
    **{flag: (check_flag, {}) for flag in ("amp", "resume", "restore_best", "progress")},
}


@dataclass
class TrainConfig:
    """Settings of :class:`Trainer` (defaults fit a laptop), one per line below.

    Raises:
        ValueError: a setting of the wrong type or out of its range (the message names it).
    """

    epochs: int = 10  # maximum passes over the training data (>= 1)
    lr: float = 1e-3  # Adam learning rate (Kingma & Ba 2015), > 0
    clip: Optional[float] = 1.0  # maximum global gradient norm, > 0; None: no clipping
    teacher_forcing: float = 1.0  # probability in [0, 1] of feeding the gold previous word
    # epoch (from 0) -> ratio in [0, 1], overriding teacher_forcing (scheduled sampling, Bengio et al. 2015)
    teacher_forcing_schedule: Optional[Callable[[int], float]] = None
    patience: Optional[int] = 3  # stop after this many (>= 1) epochs without a better validation loss; None: never
    max_minutes: Optional[float] = None  # wall-clock budget (>= 0) of one fit() call; None: none
    max_steps: Optional[int] = None  # stop after this many (>= 1) optimiser steps in total; None: none
    amp: bool = True  # mixed precision on CUDA (utils.autocast_dtype); ignored on CPU and MPS
    checkpoint_path: Optional[str] = None  # written after each epoch and at a stop; None: no checkpoint
    resume: bool = True  # if checkpoint_path exists, continue from it instead of starting over
    restore_best: bool = True  # at the end, load the weights with the best validation loss
    seed: int = 0  # seeds Python, NumPy and torch at the start of every epoch (seed + epoch)
    label_smoothing: float = 0.0  # in [0, 1) (Szegedy et al. 2016); 0: none
    progress: bool = True  # show a progress bar
    weight_decay: float = 0.0  # Adam weight decay (>= 0)

    def __post_init__(self) -> None:
        for name, (check, bounds) in _TRAIN_RULES.items():
            check(getattr(self, name), "TrainConfig." + name, **bounds)
        check_instance(self.teacher_forcing_schedule, (CallableType, NONE), "TrainConfig.teacher_forcing_schedule",
                       "a function of the epoch, or None")
        if self.checkpoint_path is not None:
            self.checkpoint_path = check_path(self.checkpoint_path, "TrainConfig.checkpoint_path")

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "TrainConfig":
        """Build a config from a dict.

        Raises:
            ValueError: not a dict, a key that is not a field (the message lists them), a bad value.
        """
        return dataclass_from_dict(cls, check_instance(values, dict, "TrainConfig.from_dict's values", "a dict"))

    def ratio(self, epoch: int) -> float:
        """Teacher-forcing ratio for ``epoch`` (0-based; from the schedule if one is set).

        Raises:
            ValueError: ``epoch`` is not an integer >= 0, or the schedule's value is not in ``[0, 1]``.
        """
        check_int(epoch, "epoch", low=0)
        if self.teacher_forcing_schedule is None:
            return float(self.teacher_forcing)
        return check_real(self.teacher_forcing_schedule(epoch), f"teacher_forcing_schedule({epoch}), a ratio in "
                          "[0, 1] (clip it in the schedule: max(0.0, ...)),", 0.0, 1.0)


@dataclass
class History:
    """What training recorded, for plots and reports (losses in nats per target token)."""

    # one dict per (possibly partial) epoch: epoch, train_loss, val_loss, val_ppl, tokens, tokens_per_s
    # (non-padding target tokens per second), seconds, teacher_forcing, partial (True if cut short)
    epochs: List[Dict[str, Any]] = field(default_factory=list)
    steps: List[Dict[str, float]] = field(default_factory=list)  # one dict per optimiser step: step, loss
    stopped: str = ""  # "epochs", "early_stopping", "time_budget", "max_steps" or "interrupted"
    best_val_loss: float = math.inf  # lowest validation loss after a whole epoch

    @property
    def train_seconds(self) -> float:
        """Total training time in seconds (excluding validation)."""
        return float(sum(e["seconds"] for e in self.epochs))

    @property
    def tokens_per_s(self) -> float:
        """Training speed over all epochs: non-padding target tokens per second."""
        return sum(e["tokens"] for e in self.epochs) / max(self.train_seconds, 1e-9)

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
            ValueError: ``state`` is not a dict, or has keys that are not fields of ``History``.
        """
        return dataclass_from_dict(cls, check_instance(state, dict, "History.from_state_dict's state", "a dict"))
