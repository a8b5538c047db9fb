"""Exact resume after a stop mid-epoch (issue 14's acceptance defect): a Bahdanau model with
teacher forcing 0.5 and dropout, trained from ``DataLoader``s. Every iteration of a
``DataLoader`` draws a base seed from torch's global generator, so a validation pass at the
stop used to move the random state that the checkpoint then saved for the next batch.
"""

from __future__ import annotations

import functools
import random

import pytest
import torch
from torch.utils.data import DataLoader

from course_lib.data import collate_batch
from course_lib.models import BahdanauConfig, BahdanauSeq2Seq
from course_lib.training import TrainConfig, Trainer, load_checkpoint
from tests.helpers import copy_task_batches


def bahdanau_trainer(path, **kw):
    torch.manual_seed(0)
    model = BahdanauSeq2Seq(12, 12, BahdanauConfig(8, 8, 12, 8, dropout=0.3))
    kw = {"restore_best": False, **kw}
    cfg = TrainConfig(epochs=2, teacher_forcing=0.5, progress=False, seed=3, checkpoint_path=str(path / "ckpt.pt"),
                      **kw)
    return Trainer(model, loader(5), loader(2, seed=9), cfg, device="cpu")


def loader(n_batches, seed=0):
    """A plain ``DataLoader`` of copy-task pairs (4 per batch)."""
    pairs = [(b.src[i, :int(b.src_lens[i])].tolist(), b.tgt[i][b.tgt[i] != 0].tolist())
             for b in copy_task_batches(n_batches, batch_size=4, seed=seed) for i in range(4)]
    return DataLoader(pairs, batch_size=4, collate_fn=functools.partial(collate_batch, pad_id=0))


def run_straight(path, **kw):
    straight = bahdanau_trainer(path, **kw)
    straight.fit()
    return straight


def assert_same_run(resumed, straight):
    assert [s["loss"] for s in resumed.history.steps] == [s["loss"] for s in straight.history.steps]
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), f"{key} differs from the uninterrupted run"
    assert [e["val_loss"] for e in resumed.history.epochs] == [e["val_loss"] for e in straight.history.epochs]
    assert resumed.history.best_val_loss == straight.history.best_val_loss


@pytest.mark.parametrize("stop_after", [3, 7])  # mid-epoch 1, mid-epoch 2 (5 batches per epoch)
@pytest.mark.parametrize("restore_best", [False, True])
def test_resume_after_max_steps_equals_an_uninterrupted_run(tmp_path, stop_after, restore_best):
    straight = run_straight(tmp_path / "a", restore_best=restore_best)
    first = bahdanau_trainer(tmp_path / "b", max_steps=stop_after, restore_best=restore_best)
    assert first.fit().stopped == "max_steps"
    resumed = bahdanau_trainer(tmp_path / "b", restore_best=restore_best)
    assert resumed.fit().stopped == "epochs"
    assert_same_run(resumed, straight)


def test_fit_again_on_the_same_trainer_continues_exactly(tmp_path):
    """No new Trainer: the same object, its max_steps lifted, the checkpoint read again."""
    straight = run_straight(tmp_path / "a")
    trainer = bahdanau_trainer(tmp_path / "b", max_steps=3)
    trainer.fit()
    trainer.config.max_steps = None
    trainer.fit()
    assert_same_run(trainer, straight)


def test_stop_button_inside_a_step_resumes_exactly(tmp_path):
    """An interrupt after the forward pass drew its coins and dropout masks (third batch of
    epoch 2): the checkpoint keeps the random state from before that step."""
    straight = run_straight(tmp_path / "a")
    first = bahdanau_trainer(tmp_path / "b")
    real_forward, calls = first.model.forward, {"n": 0}

    def forward(*args, **kwargs):
        out = real_forward(*args, **kwargs)
        calls["n"] += 1 if first.model.training else 0
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return out

    first.model.forward = forward
    assert first.fit().stopped == "interrupted"
    assert (first.epoch, first.batches_done) == (1, 2)
    resumed = bahdanau_trainer(tmp_path / "b")
    resumed.fit()
    assert_same_run(resumed, straight)


def test_evaluate_between_steps_does_not_change_the_next_step(tmp_path):
    """Validation (e.g. at a stop) must not consume the random numbers of the next batch."""
    a, b = bahdanau_trainer(tmp_path / "a"), bahdanau_trainer(tmp_path / "b")
    batches = copy_task_batches(2, batch_size=4)
    torch.manual_seed(1)
    random.seed(1)
    state = torch.get_rng_state(), random.getstate()
    a.train_step(batches[0], 0.5)
    la = a.train_step(batches[1], 0.5)
    torch.set_rng_state(state[0])
    random.setstate(state[1])
    b.train_step(batches[0], 0.5)
    b.evaluate()
    lb = b.train_step(batches[1], 0.5)
    assert la == lb


def test_checkpoint_of_a_stop_holds_the_random_state_of_the_next_batch(tmp_path):
    trainer = bahdanau_trainer(tmp_path, max_steps=2)
    seen = {}
    real_step = trainer.train_step

    def step(batch, ratio):
        out = real_step(batch, ratio)
        seen[trainer.global_step] = random.getstate(), torch.get_rng_state()
        return out

    trainer.train_step = step
    trainer.fit()
    state = load_checkpoint(tmp_path / "ckpt.pt")
    assert state["batches_done"] == 2
    assert state["rng"]["python"] == seen[2][0]
    assert torch.equal(state["rng"]["torch"], seen[2][1])
