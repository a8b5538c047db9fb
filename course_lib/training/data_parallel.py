"""Data-parallel training under ``torchrun``: :class:`DataParallelTrainer`, a :class:`Trainer`
on PyTorch's ``DistributedDataParallel`` (Li et al. 2020) that overrides a few hooks:

* each of the ``W`` processes trains on batches ``rank, rank + W, ...`` of every epoch;
* the loss is the per-token mean over the *global* batch: each rank's summed loss is scaled by
  ``W / global tokens``, so DDP's averaged gradient is that mean's gradient (then clipped);
* validation sums and the time-budget decision are all-reduced, so all ranks agree; only
  rank 0 prints and writes checkpoints.

``Trainer(...)`` builds this class itself when launched with ``WORLD_SIZE > 1`` (``scripts/train_ddp.py``).
"""

from __future__ import annotations

import math
import os
from typing import Any, Iterable, List

import torch
import torch.distributed as dist
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from ._checks import check_loader
from .trainer import Trainer


def launched_data_parallel() -> bool:
    """True when torchrun (or an equivalent launcher) started more than one process.

    Raises:
        ValueError: ``WORLD_SIZE`` is not an integer, or is > 1 without ``RANK``.
    """
    try:
        world = int(os.environ.get("WORLD_SIZE") or 1)
        if world > 1:
            int(os.environ["RANK"])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"start data-parallel training with torchrun, which sets the integers WORLD_SIZE and RANK "
                         f"(got WORLD_SIZE={os.environ.get('WORLD_SIZE')!r}, RANK={os.environ.get('RANK')!r})") from exc
    return world > 1 or (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1)


class RankShard:
    """Batches ``rank, rank + W, ...`` of ``inner``; for training (``drop_tail``) only the first
    ``W * (n // W)``, so that all processes take as many steps. ``set_epoch`` is passed on."""

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
        """Pass the epoch on to the wrapped loader's sampler (it reshuffles per epoch), if it has one."""
        if hasattr(self.inner, "set_epoch"):
            self.inner.set_epoch(epoch)


def shard_loader(loader, rank: int, world_size: int):
    """``loader`` restricted to this rank's batches; a DataLoader is rebuilt on a sharded batch
    sampler, so other ranks' batches are never collated here."""
    if isinstance(loader, DataLoader) and loader.batch_sampler is not None:
        return DataLoader(loader.dataset, batch_sampler=RankShard(loader.batch_sampler, rank, world_size),
                          collate_fn=loader.collate_fn, num_workers=loader.num_workers, pin_memory=loader.pin_memory)
    return RankShard(loader, rank, world_size)


class DataParallelTrainer(Trainer):
    """A :class:`Trainer` for one of the processes ``torchrun`` started (same arguments).

    Initialises the process group if needed (``nccl`` on CUDA, else ``gloo``); the device
    defaults to ``cuda:LOCAL_RANK`` (or the CPU); :attr:`net` wraps :attr:`model` in DDP.
    :meth:`fit`, :meth:`evaluate`, :meth:`save` and :meth:`state_dict` are collective calls.

    Raises:
        ValueError: as :class:`Trainer`; or the training loader has fewer batches than processes.
    """

    data_parallel = True

    def __init__(self, model, train_loader, val_loader=None, config=None, device=None, optimizer=None):
        local_rank = int(os.environ.get("LOCAL_RANK") or 0)
        if device is None or str(device) == "cuda":
            device = torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
        super().__init__(model, train_loader, val_loader, config, device, optimizer)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if self.device.type == "cuda" else "gloo")
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.net = DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda"
                                           else None)
        if train_loader is not None:
            self.train_loader = shard_loader(train_loader, self.rank, self.world_size)
            check_loader(self.train_loader, f"train_loader's share for each of the {self.world_size} processes")

    def _mean_loss(self, loss_sum: Tensor, tokens: int):
        stats = torch.stack([loss_sum.detach().double(), torch.full((), tokens, dtype=torch.float64,
                                                                    device=loss_sum.device)])
        dist.all_reduce(stats)  # all ranks' summed loss and tokens
        return loss_sum * (self.world_size / stats[1]), stats[0] / stats[1], stats[1]

    def _all_reduce(self, values: List[float], op: str = "sum") -> List[float]:
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
        return t.tolist()

    def _shard(self, loader):
        return RankShard(loader, self.rank, self.world_size, drop_tail=False)

    def _gather(self, obj: Any) -> List[Any]:
        gathered = [None] * self.world_size
        dist.all_gather_object(gathered, obj)
        return gathered

    def save(self, path=None) -> None:
        """:meth:`Trainer.save` on rank 0; every rank then waits until the file is written."""
        super().save(path)
        dist.barrier()  # the other ranks wait for rank 0's file

    def _interrupted(self) -> None:
        raise KeyboardInterrupt  # the other ranks are being stopped too: no collective call, no checkpoint
