"""Training: ``trainer`` (:class:`Trainer`, the loop), ``config`` (:class:`TrainConfig`, :class:`History`), ``loss``
(:func:`sequence_loss`, :func:`evaluate_loss`), ``checkpoints`` (atomic save/load, exact
resume), ``data_parallel`` (:class:`DataParallelTrainer` under ``torchrun``), ``progress`` (the bar).
"""

from ..checks import InputTypeError
from .checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from .data_parallel import DataParallelTrainer
from .loss import evaluate_loss, sequence_loss
from .trainer import History, TrainConfig, Trainer

TrainingInputError = InputTypeError  # the name before course_lib.checks

__all__ = ["TrainConfig", "History", "Trainer", "DataParallelTrainer", "sequence_loss", "evaluate_loss",
           "save_checkpoint", "load_checkpoint", "CheckpointError", "TrainingInputError"]
