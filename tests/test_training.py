import math

import pytest
import torch

from course_lib.models import VanillaConfig, VanillaSeq2Seq
from course_lib.training import CheckpointError, TrainConfig, Trainer, load_checkpoint
from tests.helpers import ListLoader, copy_task_batches


def make_trainer(tmp_path, epochs, **kw):
    torch.manual_seed(0)
    model = VanillaSeq2Seq(12, 12, VanillaConfig(16, 32, 1, dropout=0.2))
    cfg = TrainConfig(epochs=epochs, progress=False, checkpoint_path=str(tmp_path / "ckpt.pt"), seed=1, **kw)
    return Trainer(model, ListLoader(copy_task_batches(5)), ListLoader(copy_task_batches(2, seed=9)), cfg,
                   device=torch.device("cpu"))


def params(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_loss_decreases_and_history_is_recorded(tmp_path):
    trainer = make_trainer(tmp_path, epochs=4, restore_best=False)
    history = trainer.fit()
    assert len(history.epochs) == 4 and len(history.steps) == 20
    assert history.epochs[-1]["train_loss"] < history.epochs[0]["train_loss"]
    assert history.epochs[-1]["val_loss"] < history.epochs[0]["val_loss"]
    assert history.tokens_per_s > 0 and history.stopped == "epochs"


def test_resume_continues_where_training_stopped(tmp_path):
    straight = make_trainer(tmp_path / "a", epochs=3, restore_best=False)
    straight.fit()
    first = make_trainer(tmp_path / "b", epochs=2, restore_best=False)
    first.fit()
    resumed = make_trainer(tmp_path / "b", epochs=3, restore_best=False)
    history = resumed.fit()
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3]
    for key, value in params(straight).items():
        torch.testing.assert_close(params(resumed)[key], value, msg=f"{key} differs after resume")


def test_resume_after_interrupt_mid_epoch_is_exact(tmp_path):
    straight = make_trainer(tmp_path / "a", epochs=2, restore_best=False)
    straight.fit()
    interrupted = make_trainer(tmp_path / "b", epochs=2, restore_best=False)
    real_step, calls = interrupted.train_step, {"n": 0}

    def flaky_step(batch, ratio):
        calls["n"] += 1
        if calls["n"] == 8:  # the third batch of the second epoch
            raise KeyboardInterrupt
        return real_step(batch, ratio)

    interrupted.train_step = flaky_step
    history = interrupted.fit()
    assert history.stopped == "interrupted"
    state = load_checkpoint(tmp_path / "b" / "ckpt.pt")
    assert (state["epoch"], state["batches_done"]) == (1, 2)
    resumed = make_trainer(tmp_path / "b", epochs=2, restore_best=False)
    resumed.fit()
    for key, value in params(straight).items():
        torch.testing.assert_close(params(resumed)[key], value, msg=f"{key} differs after mid-epoch resume")


def test_early_stopping_and_best_weights(tmp_path):
    trainer = make_trainer(tmp_path, epochs=50, patience=1, lr=0.5)  # a learning rate this high diverges
    history = trainer.fit()
    assert history.stopped == "early_stopping"
    assert len(history.epochs) < 50
    best = min(e["val_loss"] for e in history.epochs)
    assert math.isclose(trainer.evaluate()["loss"], best, rel_tol=1e-4), "restore_best must load the best epoch"


def test_max_steps_and_time_budget(tmp_path):
    history = make_trainer(tmp_path, epochs=5, max_steps=7).fit()
    assert history.stopped == "max_steps" and len(history.steps) == 7 and history.epochs[-1]["partial"]
    history = make_trainer(tmp_path / "t", epochs=5, max_minutes=0.0).fit()
    assert history.stopped == "time_budget" and len(history.steps) == 1


def test_corrupt_checkpoint_and_mismatched_model_give_clear_errors(tmp_path):
    path = tmp_path / "ckpt.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="resume=False"):
        make_trainer(tmp_path, epochs=1).fit()
    make_trainer(tmp_path / "ok", epochs=1).fit()
    other = VanillaSeq2Seq(12, 12, VanillaConfig(16, 64, 1))
    trainer = Trainer(other, ListLoader(copy_task_batches(2)), None,
                      TrainConfig(epochs=2, progress=False, checkpoint_path=str(tmp_path / "ok" / "ckpt.pt")),
                      device=torch.device("cpu"))
    with pytest.raises(CheckpointError, match="do not fit this model"):
        trainer.fit()


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, epochs=1)
    trainer.fit()
    before = (tmp_path / "ckpt.pt").read_bytes()

    def broken_save(obj, handle):
        handle.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        trainer.save()
    assert (tmp_path / "ckpt.pt").read_bytes() == before, "a failed write must leave the old checkpoint intact"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"], "no temporary file may be left behind"


def test_config_from_dict_rejects_unknown_keys():
    assert TrainConfig.from_dict({"epochs": 3}).epochs == 3
    with pytest.raises(ValueError, match="unknown TrainConfig keys"):
        TrainConfig.from_dict({"epoch": 3})
    assert TrainConfig(teacher_forcing_schedule=lambda e: 1.0 - 0.3 * e).ratio(5) == 0.0
