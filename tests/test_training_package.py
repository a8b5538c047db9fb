"""``course_lib.training`` as a package: its public names, data-parallel training as its own
class, and a training step that trusts its own batch (no re-validation, no extra host reads)."""

from __future__ import annotations

from unittest import mock

import pytest
import torch

import course_lib.training as training
import course_lib.training.loss as loss_module
from course_lib.checks import InputTypeError
from course_lib.models import BahdanauConfig, BahdanauSeq2Seq
from course_lib.training import DataParallelTrainer, TrainConfig, Trainer
from tests.helpers import ListLoader, copy_task_batches
from tests.test_attention_sync import HostReads


def test_the_public_names_of_the_module_are_all_there():
    for name in ["TrainConfig", "History", "Trainer", "sequence_loss", "evaluate_loss", "save_checkpoint",
                 "load_checkpoint", "CheckpointError", "TrainingInputError", "DataParallelTrainer"]:
        assert name in training.__all__ and hasattr(training, name)
    assert training.TrainingInputError is InputTypeError
    assert issubclass(training.TrainingInputError, TypeError) and issubclass(training.TrainingInputError, ValueError)


def test_a_single_process_gets_the_plain_trainer():
    trainer = Trainer(BahdanauSeq2Seq(12, 12, BahdanauConfig(8, 8, 8, 8)), ListLoader(copy_task_batches(1)),
                      config=TrainConfig(progress=False), device="cpu")
    assert type(trainer) is Trainer and not trainer.data_parallel and trainer.net is trainer.model
    assert issubclass(DataParallelTrainer, Trainer) and DataParallelTrainer.data_parallel


def _step_trainer():
    torch.manual_seed(0)
    model = BahdanauSeq2Seq(12, 12, BahdanauConfig(8, 8, 8, 8, dropout=0.1))
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)  # Adam on the CPU reads its step counts on the host
    return Trainer(model, None, config=TrainConfig(progress=False), device="cpu", optimizer=sgd)


@pytest.mark.parametrize("ratio", [1.0, 0.5])
def test_train_step_reads_the_host_only_for_its_result(ratio):
    """Beyond the model's own forward and backward pass, a step reads two numbers: the target
    token count of the CPU batch (before it moves to the device) and the returned loss. (It
    used to read four numbers on the device: three to re-validate the loader's targets.)"""
    batch = copy_task_batches(1)[0]
    trainer = _step_trainer()
    trainer.train_step(batch, ratio)  # warm up
    with HostReads() as step_reads:
        trainer.train_step(batch, ratio)
    model = _step_trainer().model.train()
    with HostReads() as model_reads:
        out = model(batch.src, batch.src_lens, batch.tgt, teacher_forcing_ratio=ratio)
        out.logits.sum().backward()
    assert len(step_reads.reads) == len(model_reads.reads) + 2, step_reads.reads


def test_train_step_does_not_revalidate_its_batch():
    trainer = _step_trainer()
    with mock.patch.object(loss_module, "sequence_loss", side_effect=AssertionError("checked per step")):
        trainer.train_step(copy_task_batches(1)[0], 1.0)
