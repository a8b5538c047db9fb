import copy
import math
from pathlib import Path

import pytest
import torch

from course_lib.models import VanillaConfig, VanillaSeq2Seq
from course_lib.training import (CheckpointError, History, TrainConfig, Trainer, evaluate_loss, load_checkpoint,
                                 save_checkpoint, sequence_loss)
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
    with pytest.raises(CheckpointError, match="not fit this model"):
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
    assert TrainConfig(teacher_forcing_schedule=lambda e: max(0.0, 1.0 - 0.3 * e)).ratio(5) == 0.0


# --- exact resume after a stop by max_steps / max_minutes (issue 7) -------------------------

def _record_batches(trainer, seen):
    real_step = trainer.train_step

    def step(batch, ratio):
        seen.append(tuple(batch.src.flatten().tolist()))
        return real_step(batch, ratio)

    trainer.train_step = step


@pytest.mark.parametrize("stop", ["max_steps", "time_budget"])
def test_resume_after_a_stop_mid_epoch_sees_exactly_the_unseen_batches(tmp_path, stop):
    kw = dict(restore_best=False, teacher_forcing=0.5)  # dropout and coin flips depend on the RNG
    straight_batches, stopped_batches = [], []
    straight = make_trainer(tmp_path / "a", epochs=2, **kw)
    _record_batches(straight, straight_batches)
    straight.fit()

    if stop == "max_steps":
        first = make_trainer(tmp_path / "b", epochs=2, max_steps=7, **kw)  # 5 batches per epoch: stops at 2/5
    else:
        first = make_trainer(tmp_path / "b", epochs=2, max_minutes=60.0, **kw)
        first._time_up = lambda start: first.global_step >= 7  # the clock runs out after step 7
    _record_batches(first, stopped_batches)
    history = first.fit()
    assert history.stopped == stop and first.global_step == 7
    assert (first.epoch, first.batches_done) == (1, 2)

    resumed = make_trainer(tmp_path / "b", epochs=2, **kw)
    _record_batches(resumed, stopped_batches)
    history = resumed.fit()
    assert history.stopped == "epochs"
    assert stopped_batches == straight_batches, "the resumed run must see exactly the batches not yet seen"
    for key, value in params(straight).items():
        assert torch.equal(params(resumed)[key], value), f"{key} differs from the uninterrupted run"
    assert [(e["epoch"], e["partial"]) for e in history.epochs] == [(1, False), (2, False)]
    assert history.epochs[1]["tokens"] == straight.history.epochs[1]["tokens"]


def test_fit_with_max_steps_already_reached_does_nothing(tmp_path):
    make_trainer(tmp_path, epochs=3, max_steps=3).fit()
    again = make_trainer(tmp_path, epochs=3, max_steps=3)
    before = params(again)
    history = again.fit()
    assert history.stopped == "max_steps" and again.global_step == 3 and len(history.steps) == 3
    trained = load_checkpoint(tmp_path / "ckpt.pt")["model"]
    assert all(torch.equal(params(again)[k], v) for k, v in trained.items()), "no step beyond max_steps"
    assert any(not torch.equal(before[k], v) for k, v in trained.items())


# --- a rejected checkpoint changes nothing (issue 7) ----------------------------------------

def _bytes(trainer):
    state = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    opt = copy.deepcopy(trainer.optimizer.state_dict())
    return state, opt


def _assert_unchanged(trainer, before):
    state, opt = before
    now = trainer.model.state_dict()
    for key, value in state.items():
        assert now[key].numpy().tobytes() == value.numpy().tobytes(), f"{key} was changed by a failed load"
    assert repr(trainer.optimizer.state_dict()) == repr(opt)
    assert (trainer.epoch, trainer.batches_done, trainer.global_step) == (0, 0, 0)


@pytest.mark.parametrize("with_config", [True, False])
def test_checkpoint_of_another_size_changes_nothing(tmp_path, with_config):
    # the source embedding [12, 16] has the same shape in both models: torch's strict
    # load_state_dict copies it before it reports the other tensors' size mismatch
    make_trainer(tmp_path / "ok", epochs=1).fit()
    path = tmp_path / "ok" / "ckpt.pt"
    if not with_config:  # as an older checkpoint, without the model config
        state = load_checkpoint(path)
        del state["model_config"], state["model_class"]
        torch.save(state, path)
    torch.manual_seed(5)
    other = VanillaSeq2Seq(12, 12, VanillaConfig(16, 64, 1, dropout=0.2))
    trainer = Trainer(other, ListLoader(copy_task_batches(2)), None,
                      TrainConfig(epochs=2, progress=False, checkpoint_path=str(path)), device=torch.device("cpu"))
    before = _bytes(trainer)
    with pytest.raises(CheckpointError, match="(do|does) not fit this model"):
        trainer.fit()
    _assert_unchanged(trainer, before)


@pytest.mark.parametrize("damage", ["optimizer_groups", "optimizer_shape", "missing_key", "counter", "best_state",
                                    "unknown_config", "batches_done_too_large"])
def test_damaged_checkpoint_is_refused_before_anything_is_loaded(tmp_path, damage):
    make_trainer(tmp_path, epochs=1).fit()
    path = tmp_path / "ckpt.pt"
    state = load_checkpoint(path)
    if damage == "optimizer_groups":
        state["optimizer"]["param_groups"][0]["params"] = state["optimizer"]["param_groups"][0]["params"][:-1]
    elif damage == "optimizer_shape":
        slot = next(iter(state["optimizer"]["state"].values()))
        slot["exp_avg"] = torch.zeros(3, 3, 3)
    elif damage == "missing_key":
        del state["optimizer"]
    elif damage == "counter":
        state["epoch"] = -1
    elif damage == "best_state":
        state["best_state"] = {"nonsense": torch.zeros(1)}
    elif damage == "unknown_config":
        state["config"]["learning_rate"] = 1.0
    else:
        state["batches_done"] = 99
    torch.save(state, path)
    trainer = make_trainer(tmp_path, epochs=2)
    with torch.no_grad():
        for p in trainer.model.parameters():
            p.add_(1.0)  # differs from the checkpoint's weights
    before = _bytes(trainer)
    with pytest.raises(CheckpointError, match="resume=False"):
        trainer.fit()
    _assert_unchanged(trainer, before)


# --- input checks (issue 7) ------------------------------------------------------------------

@pytest.mark.parametrize("kw", [
    dict(lr=0), dict(lr=-1e-3), dict(lr=float("nan")), dict(lr=float("inf")), dict(lr="0.1"),
    dict(epochs=0), dict(epochs=-2), dict(epochs=2.5), dict(epochs=True),
    dict(clip=0), dict(clip=-1.0), dict(clip=float("nan")),
    dict(teacher_forcing=1.5), dict(teacher_forcing=-0.1), dict(teacher_forcing=float("nan")),
    dict(teacher_forcing_schedule=0.5), dict(patience=0), dict(max_steps=0), dict(max_steps=1.5),
    dict(max_minutes=-1.0), dict(max_minutes=float("nan")), dict(label_smoothing=1.0), dict(label_smoothing=-0.1),
    dict(weight_decay=-1.0), dict(seed=1.5), dict(seed="0"), dict(amp="yes"), dict(progress=None),
    dict(checkpoint_path=""), dict(checkpoint_path=3),
])
def test_train_config_rejects_bad_values(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        TrainConfig(**kw)


def test_train_config_accepts_its_boundaries():
    cfg = TrainConfig(teacher_forcing=0.0, clip=None, patience=None, max_minutes=0.0, label_smoothing=0.0)
    assert cfg.ratio(0) == 0.0
    assert TrainConfig(teacher_forcing=1).ratio(3) == 1.0
    assert TrainConfig(checkpoint_path=Path("x.pt")).checkpoint_path == "x.pt"


@pytest.mark.parametrize("value", [1.2, -0.5, float("nan"), "1", None])
def test_teacher_forcing_schedule_values_outside_0_1_are_refused(tmp_path, value):
    cfg = TrainConfig(teacher_forcing_schedule=lambda e: value)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cfg.ratio(0)
    trainer = make_trainer(tmp_path, epochs=1, teacher_forcing_schedule=lambda e: value)
    before = _bytes(trainer)
    with pytest.raises(ValueError, match="teacher_forcing_schedule"):
        trainer.fit()
    _assert_unchanged(trainer, before)  # refused before the first step
    with pytest.raises(ValueError, match="epoch"):
        TrainConfig().ratio(-1)


@pytest.mark.parametrize("values", [{"epoch": 3}, {"lr": 1e-3, "learning_rate": 1}, "epochs=3", ["epochs"]])
def test_config_from_dict_refuses_unknown_keys_and_non_dicts(values):
    with pytest.raises(ValueError):
        TrainConfig.from_dict(values)


def _logits(B=2, T=3, V=5):
    return torch.randn(B, T, V)


@pytest.mark.parametrize("args, match", [
    ((_logits(), torch.ones(2, 4, dtype=torch.long), 0), r"disagree on \[B, T\]"),
    ((_logits(), torch.ones(3, 3, dtype=torch.long), 0), r"disagree on \[B, T\]"),
    ((_logits().flatten(1), torch.ones(2, 3, dtype=torch.long), 0), r"\[B, T, V\]"),
    ((_logits(), torch.ones(2, 3, 1, dtype=torch.long), 0), r"\[B, T\]"),
    ((_logits(), torch.ones(2, 3), 0), "integer"),
    ((_logits(), torch.ones(2, 3, dtype=torch.bool), 0), "integer"),
    ((_logits().long(), torch.ones(2, 3, dtype=torch.long), 0), "floating point"),
    ((_logits(), torch.full((2, 3), 7), 0), "V=5"),
    ((_logits(), torch.full((2, 3), -1), 0), "V=5"),
    ((_logits(), torch.zeros(2, 3, dtype=torch.long), 0), "only padding"),
    ((_logits(), torch.ones(2, 3, dtype=torch.long), 9), "pad_id"),
    ((_logits(), torch.ones(2, 3, dtype=torch.long), 0.0), "pad_id"),
    (([[0.1]], torch.ones(2, 3, dtype=torch.long), 0), "Tensor"),
    ((torch.zeros(0, 3, 5), torch.zeros(0, 3, dtype=torch.long), 0), "empty"),
])
def test_sequence_loss_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        sequence_loss(*args)


def test_sequence_loss_options_are_checked_and_mean_is_sum_over_tokens():
    logits, tgt = _logits(), torch.tensor([[1, 2, 0], [3, 0, 0]])
    with pytest.raises(ValueError, match="reduction"):
        sequence_loss(logits, tgt, 0, reduction="none")
    with pytest.raises(ValueError, match="label_smoothing"):
        sequence_loss(logits, tgt, 0, label_smoothing=1.0)
    total = sequence_loss(logits, tgt, 0, reduction="sum")
    torch.testing.assert_close(sequence_loss(logits, tgt, 0), total / 3)
    assert float(sequence_loss(logits, torch.zeros(2, 3, dtype=torch.long), 0, reduction="sum")) == 0.0


def test_trainer_rejects_bad_arguments(tmp_path):
    model = VanillaSeq2Seq(12, 12, VanillaConfig(16, 32, 1))
    loader = ListLoader(copy_task_batches(2))
    with pytest.raises(ValueError, match="Seq2Seq"):
        Trainer(torch.nn.Linear(3, 3), loader)
    with pytest.raises(ValueError, match="empty"):
        Trainer(model, ListLoader([]))
    with pytest.raises(ValueError, match="empty"):
        Trainer(model, loader, [])
    with pytest.raises(ValueError, match="iterable"):
        Trainer(model, "batches")
    with pytest.raises(ValueError, match="iterable"):
        Trainer(model, 3)
    with pytest.raises(ValueError, match="one-shot generator"):
        Trainer(model, (b for b in copy_task_batches(2)))
    with pytest.raises(ValueError, match="iterable"):
        Trainer(model, copy_task_batches(1)[0])  # one Batch is not a loader
    strings = Trainer(model, ["ein hund", "eine katze"], config=TrainConfig(progress=False), device="cpu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="Batch"):
        strings.fit()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="TrainConfig"):
        Trainer(model, loader, config={"epochs": 2})
    with pytest.raises(ValueError, match="Optimizer"):
        Trainer(model, loader, optimizer="adam")
    stranger = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="not this model"):
        Trainer(model, loader, optimizer=stranger)
    with pytest.raises(ValueError, match="device"):
        Trainer(model, loader, device=3)
    with pytest.raises(ValueError, match="device"):
        Trainer(model, loader, device="gpu0")
    step_only = Trainer(model, None, config=TrainConfig(progress=False), device="cpu")
    with pytest.raises(ValueError, match="train_loader"):
        step_only.fit()
    batch = copy_task_batches(1)[0]
    assert math.isfinite(step_only.train_step(batch, 1.0))
    with pytest.raises(ValueError, match="Batch"):
        step_only.train_step((batch.src, batch.tgt), 1.0)
    with pytest.raises(ValueError, match="teacher_forcing"):
        step_only.train_step(batch, 1.5)
    with pytest.raises(ValueError, match="loader"):
        step_only.evaluate()
    with pytest.raises(ValueError, match="empty"):
        step_only.evaluate([])


def test_evaluate_loss_checks_input_and_restores_the_mode_on_error():
    model = VanillaSeq2Seq(12, 12, VanillaConfig(16, 32, 1))
    with pytest.raises(ValueError, match="Seq2Seq"):
        evaluate_loss(torch.nn.Linear(2, 2), ListLoader(copy_task_batches(1)))
    with pytest.raises(ValueError, match="empty"):
        evaluate_loss(model, [])
    with pytest.raises(ValueError, match="iterable"):
        evaluate_loss(model, "abc")
    model.train()
    with pytest.raises(ValueError, match="Batch"):
        evaluate_loss(model, [copy_task_batches(1)[0], "not a batch"])
    assert model.training, "evaluate_loss must restore training mode even when it fails"
    result = evaluate_loss(model, ListLoader(copy_task_batches(2)))
    assert result["tokens"] == sum(b.num_tgt_tokens for b in copy_task_batches(2)) and model.training
    assert math.isclose(result["ppl"], math.exp(result["loss"]))


def test_checkpoint_functions_reject_bad_paths_and_states(tmp_path):
    with pytest.raises(ValueError, match="path"):
        save_checkpoint(None, {"model": {}})
    with pytest.raises(ValueError, match="'model'"):
        save_checkpoint(tmp_path / "x.pt", {"weights": {}})
    assert not (tmp_path / "x.pt").exists()
    with pytest.raises(ValueError, match="path"):
        load_checkpoint(12)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path)  # a folder is not a checkpoint
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="not a course_lib training checkpoint"):
        load_checkpoint(tmp_path / "list.pt")
    with pytest.raises(ValueError, match="unknown History keys"):
        History.from_state_dict({"epochs": [], "loss": 1})
    with pytest.raises(ValueError, match="dict"):
        History.from_state_dict("history")
