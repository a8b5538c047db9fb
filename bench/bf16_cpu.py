"""bf16 autocast on the CPU against fp32: speed and quality, lesson 03's ``cpu`` model, one run.

What it measures, on the machine it runs on (``bench/README.md`` has the results):

* **Training speed and training numerics.** Two copies of ``BahdanauSeq2Seq`` at lesson 03's
  ``cpu`` profile (``BahdanauConfig(emb_dim=128, enc_hidden_dim=128, dec_hidden_dim=256,
  attn_dim=128, dropout=0.2)``), both initialised from the same seed, are trained on the
  *same* batches of 64 Multi30k de→en sentences (lowercased spaCy words, ``min_freq=2``,
  ``max_len=40``, bucketed by length) with the same dropout masks and the course's training
  step (teacher forcing 1.0, per-token cross-entropy, Adam 2e-3, gradient clipping 1.0): one
  in fp32, the other under ``torch.autocast("cpu", dtype=torch.bfloat16)``. The two
  alternate in blocks of ``--block`` batches, so both see the same machine load and the
  speed *ratio* is robust even when the absolute speed is not. Reported: non-padding target
  tokens per second, the largest gap between the two per-step training losses, and the
  validation loss of each model afterwards (evaluated in the precision it was trained in).
* **Inference quality and decoding speed.** The fp32 model is trained ``--extra-steps``
  further, then the *same weights* are evaluated in fp32 and under bf16 autocast:
  validation loss and greedy BLEU (sacrebleu) on the first ``--bleu-sentences`` sentences of
  test_2016_flickr (``course_lib.decoding.translate_dataset``, batches of 64), with the
  generated tokens per second of each.

Why so few bf16 training steps by default (``--steps 4``): on a CPU without AVX-512 BF16 /
AMX (torch then reports ``AVX2``), bf16 matrix products run on a slow emulated path -- about
14x slower training here -- so 300 steps in bf16 would take an hour. On a CPU with
``avx512_bf16`` or ``amx_bf16`` run ``--steps 300 --block 5`` for the full quality comparison
(two models trained 300 steps from the same seed).

Settings that matter on a shared CPU: ``OMP_WAIT_POLICY=PASSIVE`` (set before torch is
imported) and ``torch.set_num_threads(--threads)`` (default 2). The load average before and
after the run is printed with the table: say it when you quote the numbers.

Run from the repository root (about 5-7 minutes on 2 shared cores)::

    COURSE_DATA_URL=file://$PWD/../shared/data/multi30k/ python bench/bf16_cpu.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must be set before torch loads

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from contextlib import nullcontext  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_lib.data import make_loader, prepare_multi30k  # noqa: E402
from course_lib.decoding import translate_dataset  # noqa: E402
from course_lib.metrics import corpus_bleu  # noqa: E402
from course_lib.models import BahdanauConfig, BahdanauSeq2Seq  # noqa: E402
from course_lib.training import evaluate_loss, sequence_loss  # noqa: E402
from course_lib.utils import set_seed  # noqa: E402

MODES = ("fp32", "bf16")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=4,
                   help="training steps per mode, both modes from the same seed (default 4: bf16 is slow on AVX2)")
    p.add_argument("--block", type=int, default=1, help="batches per alternating block (default 1)")
    p.add_argument("--extra-steps", type=int, default=40,
                   help="further fp32 steps before the inference comparison (default 40)")
    p.add_argument("--val-sentences", type=int, default=300, help="validation sentences for the loss (default 300)")
    p.add_argument("--bleu-sentences", type=int, default=300, help="test sentences to decode (default 300)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=str, default=None, help="also write every number to this file")
    return p.parse_args(argv)


def autocast(mode: str):
    return torch.autocast("cpu", dtype=torch.bfloat16) if mode == "bf16" else nullcontext()


def train_step(model: nn.Module, optimizer, batch, mode: str) -> float:
    """The course's training step (``Trainer.train_step`` with teacher forcing 1.0, clip 1.0)."""
    model.train()
    with autocast(mode):
        out = model(batch.src, batch.src_lens, batch.tgt, teacher_forcing_ratio=1.0)
        loss = sequence_loss(out.logits, batch.tgt[:, 1:], model.pad_id)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return float(loss.detach())


def cpu_flags() -> str:
    """The CPU's bf16-relevant instruction sets, and the one torch uses."""
    try:
        line = next(l for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("flags"))
        have = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in line.split()]
    except (OSError, StopIteration):
        have = ["?"]
    return f"{' '.join(have) or 'none'} (torch uses {torch.backends.cpu.get_cpu_capability()})"


def subset(dataset, n: int):
    """The first ``n`` pairs of a TranslationDataset (a shallow copy; the original is kept)."""
    import copy

    part = copy.copy(dataset)
    for name in ("pairs", "src_tokens", "tgt_tokens", "src_ids", "tgt_ids"):
        setattr(part, name, getattr(dataset, name)[:n])
    return part


def decode(model, dataset, mode: str):
    """Greedy BLEU and generated tokens per second of ``model`` on ``dataset`` in ``mode``."""
    t0 = time.perf_counter()
    with autocast(mode):
        out = translate_dataset(model, dataset, batch_size=64)
    seconds = time.perf_counter() - t0
    hyps = [t.text for t in out]
    tokens = sum(len(t.tokens) + 1 for t in out)  # + <eos>
    return corpus_bleu(hyps, [en for _, en in dataset.pairs]).score, tokens / seconds


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    load_before = os.getloadavg()
    t_start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        corpus = prepare_multi30k("de", "en", lower=True, min_freq=2, max_len=40, seed=0)
    val_loader = make_loader(subset(corpus.val, args.val_sentences), 64, shuffle=False)
    test = subset(corpus.test, args.bleu_sentences)
    config = BahdanauConfig(emb_dim=128, enc_hidden_dim=128, dec_hidden_dim=256, attn_dim=128, dropout=0.2)
    models, optimizers = {}, {}
    for mode in MODES:
        set_seed(args.seed)
        models[mode] = BahdanauSeq2Seq(len(corpus.src_vocab), len(corpus.tgt_vocab), config)
        optimizers[mode] = torch.optim.Adam(models[mode].parameters(), lr=2e-3)
    loader = make_loader(corpus.train, 64, shuffle=True, seed=args.seed)
    batches, need = [], args.steps + args.extra_steps
    while len(batches) < need:
        batches.extend(itertools.islice(iter(loader), need - len(batches)))

    # 1. training: the same batches and dropout masks in both modes, alternating blocks
    tokens = {m: 0 for m in MODES}
    seconds = {m: 0.0 for m in MODES}
    losses = {m: [] for m in MODES}
    for k, start in enumerate(range(0, args.steps, args.block)):
        block = batches[start:start + args.block]
        for mode in (MODES if k % 2 == 0 else MODES[::-1]):  # alternate who goes first
            set_seed(args.seed + start)
            t0 = time.perf_counter()
            for batch in block:
                losses[mode].append(train_step(models[mode], optimizers[mode], batch, mode))
            seconds[mode] += time.perf_counter() - t0
            tokens[mode] += sum(b.num_tgt_tokens for b in block)
        print(f"  step {start + len(block)}/{args.steps}: " + ", ".join(
            f"{m} {tokens[m] / seconds[m]:.0f} tok/s, loss {losses[m][-1]:.3f}" for m in MODES), flush=True)
    val_after_training = {m: evaluate_loss(models[m], val_loader, cpu, lambda m=m: autocast(m))["loss"] for m in MODES}
    loss_gap = max(abs(a - b) for a, b in zip(losses["fp32"], losses["bf16"]))

    # 2. inference: the fp32 model, trained further, evaluated and decoded in fp32 and in bf16
    model = models["fp32"]
    set_seed(args.seed + 1)
    for i, batch in enumerate(batches[args.steps:]):
        train_step(model, optimizers["fp32"], batch, "fp32")
        if (i + 1) % 10 == 0:
            print(f"  fp32 step {args.steps + i + 1}/{need}", flush=True)
    val_inference = {m: evaluate_loss(model, val_loader, cpu, lambda m=m: autocast(m))["loss"] for m in MODES}
    bleu, dec_speed = {}, {}
    for mode in MODES:
        bleu[mode], dec_speed[mode] = decode(model, test, mode)

    load_after = os.getloadavg()
    train_speed = {m: tokens[m] / seconds[m] for m in MODES}
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"CPU flags: {cpu_flags()}",
        "torch": torch.__version__,
        "threads": args.threads,
        "steps": args.steps,
        "extra_steps": args.extra_steps,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "train_tokens_per_s": train_speed,
        "train_ratio_bf16_over_fp32": train_speed["bf16"] / train_speed["fp32"],
        "train_losses": losses,
        "max_step_loss_gap": loss_gap,
        "val_loss_after_training": val_after_training,
        "val_loss_inference": val_inference,
        "bleu": bleu,
        "decode_tokens_per_s": dec_speed,
        "decode_ratio_bf16_over_fp32": dec_speed["bf16"] / dec_speed["fp32"],
        "total_seconds": time.perf_counter() - t_start,
    }
    print()
    print(f"bf16 autocast vs fp32 on the CPU: lesson 03 cpu model, batch 64, {args.threads} threads")
    print(f"machine: {result['machine']}; torch {result['torch']}")
    print(f"load average (1/5/15 min): before {result['load_before']}, after {result['load_after']}")
    print(f"{'':<52}{'fp32':>10}{'bf16':>10}{'bf16/fp32':>11}")
    print(f"{f'training, target tokens/s ({args.steps} steps each)':<52}{train_speed['fp32']:>10.0f}"
          f"{train_speed['bf16']:>10.0f}{result['train_ratio_bf16_over_fp32']:>11.3f}")
    print(f"{f'validation loss after those steps ({args.val_sentences} sent.)':<52}"
          f"{val_after_training['fp32']:>10.4f}{val_after_training['bf16']:>10.4f}")
    print(f"{'largest per-step training-loss gap':<52}{loss_gap:>20.4f}")
    print(f"{f'same fp32 weights after {need} steps, evaluated in:':<52}")
    print(f"{'  validation loss (nats/token)':<52}{val_inference['fp32']:>10.4f}{val_inference['bf16']:>10.4f}")
    print(f"{f'  greedy BLEU, {len(test)} test sentences':<52}{bleu['fp32']:>10.2f}{bleu['bf16']:>10.2f}")
    print(f"{'  greedy decoding, generated tokens/s':<52}{dec_speed['fp32']:>10.0f}{dec_speed['bf16']:>10.0f}"
          f"{result['decode_ratio_bf16_over_fp32']:>11.3f}")
    print(f"total {result['total_seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
