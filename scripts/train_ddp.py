"""Train lesson 03's Bahdanau model on Multi30k de→en, data-parallel with ``torchrun``.

One process per GPU (or several CPU processes); ``course_lib.training.Trainer`` notices the
``torchrun`` environment and builds a ``DataParallelTrainer``, which trains with
``DistributedDataParallel`` (NCCL on GPUs, gloo on CPUs). Every process reads the same data and builds the same vocabulary; each trains on its
own share of every epoch's batches; rank 0 prints, writes the checkpoint and, at the end,
reports test BLEU.

Examples (from the repository root)::

    # two processes on one machine's CPU cores
    torchrun --standalone --nproc_per_node 2 scripts/train_ddp.py --profile ci --epochs 1
    # four GPUs
    torchrun --standalone --nproc_per_node 4 scripts/train_ddp.py --profile gpu --checkpoint runs/ddp.pt

The global batch is ``--batch-size`` times the number of processes (``--batch-size`` is per
process). Run it again with the same command to resume from ``--checkpoint``.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_lib import data, decoding, metrics  # noqa: E402
from course_lib.models import BahdanauConfig, BahdanauSeq2Seq  # noqa: E402
from course_lib.profiles import current_profile  # noqa: E402
from course_lib.training import TrainConfig, Trainer  # noqa: E402
from course_lib.utils import set_seed  # noqa: E402

SETTINGS = dict(  # lesson 03's model sizes per profile
    ci=dict(max_train_pairs=4000, max_eval_pairs=300, emb_dim=64, enc_hidden_dim=64, dec_hidden_dim=128,
            attn_dim=64, dropout=0.2, batch_size=64, lr=3e-3, epochs=3),
    cpu=dict(max_train_pairs=None, max_eval_pairs=None, emb_dim=128, enc_hidden_dim=128, dec_hidden_dim=256,
             attn_dim=128, dropout=0.2, batch_size=64, lr=2e-3, epochs=20),
    gpu=dict(max_train_pairs=None, max_eval_pairs=None, emb_dim=256, enc_hidden_dim=512, dec_hidden_dim=512,
             attn_dim=512, dropout=0.5, batch_size=128, lr=1e-3, epochs=20),
)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=sorted(SETTINGS), default=None, help="default: $COURSE_PROFILE or by device")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None, help="sentences per process and step")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget (all ranks stop together)")
    p.add_argument("--checkpoint", type=str, default=None, help="checkpoint path (written by rank 0); resumes")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    profile = current_profile(args.profile)
    s = dict(SETTINGS[profile.name])
    for key in ("epochs", "batch_size", "lr"):
        if getattr(args, key) is not None:
            s[key] = getattr(args, key)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if not torch.cuda.is_available():  # share the CPU cores between the processes
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(world, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        corpus = data.prepare_multi30k("de", "en", lower=True, min_freq=2, max_len=40,
                                       max_train_pairs=s["max_train_pairs"], max_eval_pairs=s["max_eval_pairs"], seed=0)
    set_seed(args.seed)  # the same initial weights on every rank
    model = BahdanauSeq2Seq(len(corpus.src_vocab), len(corpus.tgt_vocab),
                            BahdanauConfig(emb_dim=s["emb_dim"], enc_hidden_dim=s["enc_hidden_dim"],
                                           dec_hidden_dim=s["dec_hidden_dim"], attn_dim=s["attn_dim"],
                                           dropout=s["dropout"]))
    train_loader = data.make_loader(corpus.train, s["batch_size"], shuffle=True, seed=args.seed)
    val_loader = data.make_loader(corpus.val, 128, shuffle=False)
    config = TrainConfig(epochs=s["epochs"], lr=s["lr"], clip=1.0, patience=3, max_minutes=args.minutes,
                         seed=args.seed, checkpoint_path=args.checkpoint)
    trainer = Trainer(model, train_loader, val_loader, config)
    if rank == 0:
        print(f"{profile}; {trainer.world_size} process(es) on {trainer.device}; global batch "
              f"{s['batch_size'] * trainer.world_size} sentences")
    history = trainer.fit()
    if trainer.is_main:
        print(f"stopped by {history.stopped}; {history.tokens_per_s:.0f} target tokens/s (all processes together)")
        translations = decoding.translate_dataset(trainer.model, corpus.test, batch_size=128)
        bleu = metrics.corpus_bleu([t.text for t in translations], [en for _, en in corpus.test.pairs])
        print(bleu)
    if trainer.data_parallel:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
