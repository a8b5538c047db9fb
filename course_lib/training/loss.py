"""The loss: cross-entropy of the correct translation (Sutskever et al. 2014) in nats per
non-padding target token -- the unit of every loss and perplexity the course prints."""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_choice, check_instance, check_int, check_real, check_tensor, require
from ..data import Batch
from ..models.base import Seq2Seq
from ..utils import as_device, eval_mode
from ._checks import check_loader


def token_loss_sum(logits: Tensor, tgt_out: Tensor, pad_id: int, label_smoothing: float = 0.0) -> Tensor:
    """Summed cross-entropy of ``logits [B, T, V]`` against ``tgt_out [B, T]``, padding skipped.

    Unchecked: for the library's own batches (:meth:`Trainer.train_step`, validation).
    """
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), tgt_out.reshape(-1).long(),
                           ignore_index=pad_id, label_smoothing=label_smoothing, reduction="sum")


def sequence_loss(logits: Tensor, tgt_out: Tensor, pad_id: int, label_smoothing: float = 0.0,
                  reduction: str = "mean") -> Tensor:
    """Cross-entropy over the non-padding target positions: a scalar fp32 tensor.

    Args:
        logits: ``[B, T, V]`` floating-point scores; ``tgt_out``: ``[B, T]`` gold ids
            (``tgt[:, 1:]``) in ``[0, V)``; ``pad_id``: the id ignored.
        label_smoothing: in ``[0, 1)`` (Szegedy et al. 2016).
        reduction: ``"mean"`` (nats per non-padding target token) or ``"sum"`` (nats).

    Raises:
        ValueError: wrong types, ranks or dtypes; ``B``/``T`` of the two differ; an id outside
            ``[0, V)``; a bad option; for ``"mean"``, no non-padding position (the mean is NaN).
    """
    check_tensor(logits, "logits [B, T, V] (floating point)", ndim=3, kind="float")
    check_tensor(tgt_out, "tgt_out [B, T] (integer ids)", ndim=2, kind="int")
    require(logits.shape[:2] == tgt_out.shape, f"logits {tuple(logits.shape)} and tgt_out {tuple(tgt_out.shape)} "
            "disagree on [B, T]")
    vocab = logits.size(-1)
    check_int(pad_id, "pad_id", low=0, high=vocab - 1)
    check_real(label_smoothing, "label_smoothing", 0.0, 1.0, high_open=True)
    check_choice(reduction, "reduction", ("mean", "sum"))
    require(not bool(((tgt_out < 0) | (tgt_out >= vocab)).any()), f"tgt_out holds ids outside [0, V={vocab})")
    require(reduction == "sum" or bool((tgt_out != pad_id).any()),
            "no target token to average the loss over: tgt_out is empty or holds only padding")
    loss = token_loss_sum(logits, tgt_out, pad_id, float(label_smoothing))
    return loss / (tgt_out != pad_id).sum() if reduction == "mean" else loss


def loss_sums(model: nn.Module, loader, device: torch.device, autocast=None) -> Tuple[Tensor, int]:
    """Summed loss (a tensor, not yet read on the host) and target tokens over ``loader``,
    with full teacher forcing and dropout off."""
    total, tokens = torch.zeros((), device=device), 0
    with eval_mode(model), torch.no_grad():
        for batch in loader:
            check_instance(batch, Batch, "each batch", "a course_lib.data.Batch")
            tokens += batch.num_tgt_tokens
            batch = batch.to(device)
            with (autocast or nullcontext)():
                out = model(batch.src, batch.src_lens, batch.tgt, teacher_forcing_ratio=1.0)
                total += token_loss_sum(out.logits, batch.tgt[:, 1:], model.pad_id)
    return total, tokens


def loss_record(total: float, tokens: int) -> Dict[str, float]:
    """``{"loss", "ppl", "tokens"}`` from summed nats and a token count."""
    require(tokens, "the loader yielded no target tokens: there is nothing to evaluate")
    loss = total / tokens
    return {"loss": loss, "ppl": math.exp(min(loss, 50.0)), "tokens": int(tokens)}


def evaluate_loss(model: nn.Module, loader, device: Optional[torch.device] = None, autocast=None) -> Dict[str, float]:
    """``{"loss", "ppl", "tokens"}``: mean cross-entropy (nats per non-padding target token) and
    perplexity of ``model`` (a ``Seq2Seq``) on ``loader`` (batches), with full teacher forcing and
    dropout off (the model's mode is restored, even on error). ``device``: default the model's;
    ``autocast``: optional zero-argument callable returning a context manager.

    Raises:
        ValueError: ``model`` is not a ``Seq2Seq``; the loader is not an iterable of batches or is empty.
    """
    check_instance(model, Seq2Seq, "model", "a course_lib.models.Seq2Seq")
    check_loader(loader, "loader")
    check_instance(autocast, (Callable, type(None)), "autocast", "a function returning a context manager, or None")
    device = as_device(device) if device is not None else model.device
    total, tokens = loss_sums(model, loader, device, autocast)
    return loss_record(float(total), tokens)
