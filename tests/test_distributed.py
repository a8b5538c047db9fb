"""Data-parallel training: two CPU processes (gloo, loopback) against one process.

Checks that (a) both ranks end with identical weights, (b) the loss and the weights after
one step equal a single-process run on the same global batch -- with batches of different
token counts, so a per-rank mean averaged over ranks would fail -- with and without active
gradient clipping, (c) each rank sees a disjoint shard of every epoch's batches, (d)
validation, history and early stopping agree on every rank and cover the whole validation
set, (e) only rank 0 writes the checkpoint, (f) a time budget stops every rank at the same step,
(g) ``Trainer(...)`` under torchrun builds a ``DataParallelTrainer``.
"""

from __future__ import annotations

import os
import socket
import time
import traceback

import pytest
import torch
import torch.multiprocessing as mp

from course_lib.data import collate_batch
from course_lib.models import VanillaConfig, VanillaSeq2Seq
from course_lib.training import TrainConfig, Trainer, evaluate_loss, load_checkpoint
from tests.helpers import ListLoader, copy_task_batches

WORLD = 2
TIMEOUT_S = 120


def _examples(n: int, seed: int):
    """``n`` copy-task examples with lengths 2..9, so batches differ in their token counts."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        k = int(torch.randint(2, 10, (1,), generator=g))
        words = torch.randint(4, 12, (k,), generator=g).tolist()
        out.append((words + [3], [2] + words + [3]))
    return out


def _rank_batches():
    """Two per-rank batches (8 sentences each, different token counts) and their union."""
    ex = _examples(16, seed=3)
    a, b = collate_batch(ex[:8], 0), collate_batch(ex[8:], 0)
    assert a.num_tgt_tokens != b.num_tgt_tokens
    return [a, b], collate_batch(ex, 0)


def _model():
    torch.manual_seed(0)
    return VanillaSeq2Seq(12, 12, VanillaConfig(16, 32, 1, dropout=0.0))


def _one_step(loader, clip):
    model = _model()
    trainer = Trainer(model, loader, None,
                      TrainConfig(epochs=1, clip=clip, progress=False, restore_best=False, seed=0),
                      device=torch.device("cpu"), optimizer=torch.optim.SGD(model.parameters(), lr=0.5))
    history = trainer.fit()
    return {"loss": history.steps[0]["loss"], "weights": {k: v.clone() for k, v in model.state_dict().items()}}


def _epochs_run(out_dir: str):
    seen = []
    torch.manual_seed(1)
    model = VanillaSeq2Seq(12, 12, VanillaConfig(16, 32, 1, dropout=0.3))
    train = ListLoader(copy_task_batches(5, seed=4))  # 5 batches: 2 per rank, the 5th dropped
    val = ListLoader(copy_task_batches(3, seed=9))  # 3 batches: rank 0 evaluates 2, rank 1 one
    cfg = TrainConfig(epochs=6, lr=0.3, clip=1.0, patience=1, teacher_forcing=0.5, progress=False, seed=2,
                      restore_best=False, checkpoint_path=os.path.join(out_dir, "ckpt.pt"))
    trainer = Trainer(model, train, val, cfg, device=torch.device("cpu"))
    real_step = trainer.train_step

    def step(batch, ratio):
        seen.append((trainer.epoch, tuple(batch.src.flatten().tolist())))
        return real_step(batch, ratio)

    trainer.train_step = step
    history = trainer.fit()
    return {"seen": seen, "epochs": history.epochs, "stopped": history.stopped, "steps": history.steps,
            "weights": {k: v.clone() for k, v in model.state_dict().items()}}


def _budget_run(rank: int):
    """Rank 1's clock runs out at once, rank 0's would not: both must stop after the same step."""
    cfg = TrainConfig(epochs=1, max_minutes=0.0 if rank == 1 else 60.0, progress=False, restore_best=False)
    trainer = Trainer(_model(), ListLoader(copy_task_batches(6, seed=5)), None, cfg, device=torch.device("cpu"))
    history = trainer.fit()
    return {"steps": trainer.global_step, "stopped": history.stopped, "class": type(trainer).__name__,
            "weights": {k: v.clone() for k, v in trainer.model.state_dict().items()}}


def _worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(WORLD), RANK=str(rank),
                      LOCAL_RANK=str(rank), GLOO_SOCKET_IFNAME="lo")
    torch.set_num_threads(1)
    try:
        rank_batches, _ = _rank_batches()
        result = {"unclipped": _one_step(ListLoader(rank_batches), clip=None),  # Trainer starts the group
                  "clipped": _one_step(ListLoader(rank_batches), clip=0.05),  # group already initialised
                  "epochs": _epochs_run(os.path.join(out_dir, "ckpt")),
                  "budget": _budget_run(rank)}
        result["files"] = sorted(os.listdir(os.path.join(out_dir, "ckpt")))
    except Exception:  # report it to the parent instead of hanging the other rank silently
        result = {"error": traceback.format_exc()}
    torch.save(result, os.path.join(out_dir, f"rank{rank}.result"))
    import torch.distributed as dist

    if dist.is_initialized() and "error" not in result:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("ddp")
    ctx = mp.start_processes(_worker, args=(_free_port(), str(out_dir)), nprocs=WORLD, join=False,
                             start_method="spawn")
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not ctx.join(timeout=1):
            if time.monotonic() > deadline:
                pytest.fail(f"the {WORLD} training processes did not finish within {TIMEOUT_S} s")
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.terminate()
    results = [torch.load(out_dir / f"rank{r}.result", weights_only=False) for r in range(WORLD)]
    for r, res in enumerate(results):
        assert "error" not in res, f"rank {r} failed:\n{res['error']}"
    return results, out_dir


def _assert_same_weights(a, b, **tol):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=f"{key} differs", **tol)


def test_ranks_end_with_identical_weights(ranks):
    results, _ = ranks
    for phase in ("unclipped", "clipped", "epochs", "budget"):
        _assert_same_weights(results[0][phase]["weights"], results[1][phase]["weights"], rtol=0, atol=0)


@pytest.mark.parametrize("clip", [None, 0.05])
def test_one_step_equals_a_single_process_on_the_global_batch(ranks, clip):
    results, _ = ranks
    _, global_batch = _rank_batches()
    single = _one_step(ListLoader([global_batch]), clip=clip)
    phase = "unclipped" if clip is None else "clipped"
    for res in results:
        assert res[phase]["loss"] == pytest.approx(single["loss"], rel=1e-5)
        _assert_same_weights(res[phase]["weights"], single["weights"], rtol=1e-5, atol=1e-6)
    # the step moved the weights (so the comparison means something)
    start = _model().state_dict()
    assert any(not torch.allclose(start[k], single["weights"][k]) for k in start)


def test_each_rank_trains_on_a_disjoint_shard_of_every_epoch(ranks):
    results, _ = ranks
    batches = [tuple(b.src.flatten().tolist()) for b in copy_task_batches(5, seed=4)]
    seen0, seen1 = results[0]["epochs"]["seen"], results[1]["epochs"]["seen"]
    assert len(seen0) == len(seen1), "every rank must take the same number of steps"
    epochs = sorted({e for e, _ in seen0})
    for epoch in epochs:
        mine = [b for e, b in seen0 if e == epoch], [b for e, b in seen1 if e == epoch]
        assert mine[0] == [batches[0], batches[2]] and mine[1] == [batches[1], batches[3]]


def test_history_validation_and_early_stopping_agree_on_every_rank(ranks):
    results, out_dir = ranks
    h0, h1 = results[0]["epochs"], results[1]["epochs"]
    assert h0["stopped"] == h1["stopped"]
    assert [e["val_loss"] for e in h0["epochs"]] == [e["val_loss"] for e in h1["epochs"]]
    assert [s["loss"] for s in h0["steps"]] == [s["loss"] for s in h1["steps"]]
    # the all-reduced validation loss is that of the whole validation set
    model = VanillaSeq2Seq(12, 12, VanillaConfig(16, 32, 1, dropout=0.3))
    model.load_state_dict(h0["weights"])
    full = evaluate_loss(model, ListLoader(copy_task_batches(3, seed=9)))
    assert h0["epochs"][-1]["val_loss"] == pytest.approx(full["loss"], rel=1e-5)
    assert h0["epochs"][-1]["tokens"] == sum(b.num_tgt_tokens for b in copy_task_batches(5, seed=4)[:4])
    # rank 0 wrote one checkpoint (no temporary files), with the final weights
    assert results[0]["files"] == ["ckpt.pt"] and results[1]["files"] == ["ckpt.pt"]
    state = load_checkpoint(out_dir / "ckpt" / "ckpt.pt")
    _assert_same_weights(state["model"], h0["weights"], rtol=0, atol=0)
    assert state["world_size"] == 2 and len(state["rng_per_rank"]) == 2


def test_trainer_under_torchrun_is_a_data_parallel_trainer(ranks):
    results, _ = ranks
    assert [r["budget"]["class"] for r in results] == ["DataParallelTrainer"] * WORLD


def test_time_budget_stops_every_rank_at_the_same_step(ranks):
    results, _ = ranks
    assert [r["budget"]["steps"] for r in results] == [1, 1]
    assert [r["budget"]["stopped"] for r in results] == ["time_budget", "time_budget"]


def test_launch_environment_is_checked(monkeypatch):
    loader = ListLoader(copy_task_batches(1))
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE"):
        Trainer(_model(), loader, device="cpu")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(ValueError, match="RANK"):
        Trainer(_model(), loader, device="cpu")
    monkeypatch.setenv("WORLD_SIZE", "1")  # torchrun --nproc_per_node 1: an ordinary run
    trainer = Trainer(_model(), loader, device="cpu")
    assert not trainer.data_parallel and trainer.world_size == 1 and trainer.is_main
