"""Speed of batched beam search against the same search one sentence at a time, and against greedy.

Measures, on the machine it runs on, over the sentences of Multi30k ``test_2016_flickr``
(first ``--limit`` of them):

(a) greedy search, batched (``greedy_decode``, ``--batch-size`` sentences per batch);
(b) beam search ``k = --beam`` batched (``beam_search``: ``--batch-size`` sentences x k
    beams in one tensor, finished sentences leaving the batch);
(c) the same beam search run one sentence at a time (batch of one sentence, k beams).

The sentences are sorted by length and cut into chunks of ``--batch-size``; every chunk is
timed with (a), (b) and (c) in turn (interleaved, so that on a shared machine all three see
the same load). The model is ``BahdanauSeq2Seq`` with the default (laptop) ``BahdanauConfig``,
trained for ``--train-seconds`` (default 60 s) on the training split first, so that it
emits ``<eos>`` and its outputs have realistic lengths (an untrained model runs every
hypothesis to ``max_len``); ``--train-seconds 0`` skips training (then cap ``--max-len``).
(b) and (c) must give the same translations; the script counts any that differ.

Run from the repository root::

    COURSE_DATA_URL=file:///path/to/mirror/multi30k/ python bench/beam_speed.py --limit 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

if "--omp-spin" not in sys.argv:
    # spinning OpenMP threads lose whole time slices on shared cores; must be set before torch loads
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_lib.data import make_loader, prepare_multi30k  # noqa: E402
from course_lib.decoding import beam_search, greedy_decode  # noqa: E402
from course_lib.models import BahdanauConfig, BahdanauSeq2Seq  # noqa: E402
from course_lib.utils import num_parameters, set_seed  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=None, help="only the first N test sentences (default: all 1,000)")
    p.add_argument("--beam", type=int, default=5, help="beam size k (default 5)")
    p.add_argument("--alpha", type=float, default=0.0, help="length normalisation (default 0)")
    p.add_argument("--beta", type=float, default=0.0, help="coverage penalty (default 0)")
    p.add_argument("--batch-size", type=int, default=128, help="sentences per batch for (a) and (b) (default 128)")
    p.add_argument("--max-len", type=int, default=None, help="most output tokens (default 2*S+10 per batch)")
    p.add_argument("--train-seconds", type=float, default=60.0, help="train the model this long first (default 60)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--omp-spin", action="store_true", help="leave OMP_WAIT_POLICY alone (default: PASSIVE)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        p.error("--limit must be at least 1")
    if args.beam < 1 or args.batch_size < 1 or args.threads < 1:
        p.error("--beam, --batch-size and --threads must be at least 1")
    if args.max_len is not None and args.max_len < 1:
        p.error("--max-len must be at least 1")
    return args


def train_briefly(model, data, seconds, seed):
    """Teacher-forced training (Adam 1e-3, clip 1.0, batches of 64) for ``seconds`` of wall-clock time."""
    if seconds <= 0:
        return 0, 0.0
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    pad = data.tgt_vocab.pad_id
    model.train()
    steps, loss_value, start = 0, float("nan"), time.perf_counter()
    while time.perf_counter() - start < seconds:
        for batch in make_loader(data.train, 64, shuffle=True, bucket=True, seed=seed + steps):
            out = model(batch.src, batch.src_lens, batch.tgt, 1.0)
            loss = F.cross_entropy(out.logits.reshape(-1, out.logits.size(-1)), batch.tgt[:, 1:].reshape(-1),
                                   ignore_index=pad)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            steps += 1
            loss_value = float(loss.detach())
            if time.perf_counter() - start >= seconds:
                break
    model.eval()
    return steps, loss_value


def pad_batch(ids_list, pad_id):
    lens = torch.tensor([len(x) for x in ids_list], dtype=torch.long)
    src = torch.full((len(ids_list), int(lens.max())), pad_id, dtype=torch.long)
    for i, row in enumerate(ids_list):
        src[i, : len(row)] = torch.tensor(row)
    return src, lens


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, threads {torch.get_num_threads()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, load average before: {load}", flush=True)
    set_seed(args.seed)
    t0 = time.perf_counter()
    data = prepare_multi30k("de", "en", lower=True, min_freq=2)
    print(f"data: {len(data.train)} training pairs, test {len(data.test)} sentences, vocab de {len(data.src_vocab)} / "
          f"en {len(data.tgt_vocab)} ({time.perf_counter() - t0:.1f} s)", flush=True)
    pad = data.tgt_vocab.pad_id
    model = BahdanauSeq2Seq(len(data.src_vocab), len(data.tgt_vocab), BahdanauConfig(), pad_id=pad)
    steps, loss = train_briefly(model, data, args.train_seconds, args.seed)
    trained = f"trained {steps} steps in {args.train_seconds:.0f} s (last loss {loss:.2f})" if steps else "untrained"
    print(f"model: BahdanauSeq2Seq, default BahdanauConfig, {num_parameters(model):,} parameters, {trained}", flush=True)
    model.eval()

    ids = data.test.src_ids[: args.limit] if args.limit else data.test.src_ids
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    chunks = [order[i:i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    kw = dict(beam_size=args.beam, max_len=args.max_len, alpha=args.alpha, beta=args.beta)

    # warm-up (first-call costs), untimed
    src, lens = pad_batch([ids[i] for i in chunks[0][:8]], pad)
    greedy_decode(model, src, lens, args.max_len)
    beam_search(model, src, lens, **kw)

    seconds = {"greedy": 0.0, "beam batched": 0.0, "beam one at a time": 0.0}
    out_len = {"greedy": 0, "beam batched": 0}
    mismatches = 0
    for n, chunk in enumerate(chunks):
        src, lens = pad_batch([ids[i] for i in chunk], pad)
        start = time.perf_counter()
        greedy = greedy_decode(model, src, lens, args.max_len)
        seconds["greedy"] += time.perf_counter() - start
        out_len["greedy"] += int(greedy.lengths.sum())

        start = time.perf_counter()
        batched = beam_search(model, src, lens, **kw).best()
        seconds["beam batched"] += time.perf_counter() - start
        out_len["beam batched"] += sum(h.length for h in batched)

        start = time.perf_counter()
        single = []
        for i in chunk:
            s, length = pad_batch([ids[i]], pad)
            single.append(beam_search(model, s, length, **kw).best()[0])
        seconds["beam one at a time"] += time.perf_counter() - start
        mismatches += sum(a.tokens != b.tokens for a, b in zip(batched, single))
        print(f"  chunk {n + 1}/{len(chunks)}: {len(chunk)} sentences, "
              + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()), flush=True)

    n_sent = len(ids)
    load_after = os.getloadavg() if hasattr(os, "getloadavg") else None
    rows = {k: {"seconds": v, "sentences_per_s": n_sent / v} for k, v in seconds.items()}
    rows["greedy"]["mean_output_len"] = out_len["greedy"] / n_sent
    rows["beam batched"]["mean_output_len"] = out_len["beam batched"] / n_sent
    speedup = seconds["beam one at a time"] / seconds["beam batched"]
    cost = seconds["beam batched"] / seconds["greedy"]
    print()
    print(f"test_2016_flickr, {n_sent} sentences, beam k={args.beam}, alpha={args.alpha:g}, beta={args.beta:g}, "
          f"batches of {args.batch_size}, max_len {args.max_len or '2*S+10'}, {torch.get_num_threads()} threads")
    header = f"{'search':<24}{'seconds':>10}{'sentences/s':>14}{'mean length':>14}"
    print(header)
    print("-" * len(header))
    for name, r in rows.items():
        length = f"{r['mean_output_len']:.1f}" if "mean_output_len" in r else ""
        print(f"{name:<24}{r['seconds']:>10.1f}{r['sentences_per_s']:>14.1f}{length:>14}")
    print(f"\nbatched beam vs one sentence at a time: {speedup:.1f}x faster (target >= 10x)")
    print(f"batched beam k={args.beam} vs batched greedy: {cost:.1f}x the time")
    print(f"translations that differ between batched and one-at-a-time beam search: {mismatches} of {n_sent}")
    print(f"load average before: {load}, after: {load_after}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "load_before": load, "load_after": load_after,
                                               "model": trained, "results": rows, "speedup": speedup,
                                               "beam_vs_greedy_time": cost, "mismatches": mismatches}, indent=2))


if __name__ == "__main__":
    main()
