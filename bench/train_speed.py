"""Training and decoding speed of the course's attention models, in one run.

Measures, on the machine it runs on:

(a) ``BahdanauSeq2Seq`` at ``BahdanauConfig.tutorial()`` (E 256, H_enc = H = 512,
    bidirectional GRU, dropout 0.5), Adam, clip 1.0, teacher forcing 0.5, batches of 128
    bucketed by source length -- the course's training path (``Trainer.train_step``);
(b) the straightforward reference of ``bench/reference_bahdanau.py`` (same model, same
    parameter count), time-major, unpacked, energies recomputed at every step, plain
    random-order batches of 128 -- the way most tutorials do it;
(c) ``LuongSeq2Seq`` (default ``LuongConfig``: 2 x 512 LSTM, general score) with input
    feeding (teacher forcing 0.5, step loop) and without (teacher forcing 1.0, all steps at once);
(d) batched greedy decoding (``translate_dataset``, batches of 128) of test_2016_flickr.

Training speed is non-padding target tokens per second (``Batch.num_tgt_tokens``: the
tokens the loss is computed on), over the same number of batches for every model, drawn
from the real Multi30k training data (``prepare_multi30k(min_freq=2, lower=True)``), after
``--warmup`` untimed batches. See ``bench/README.md``.

Run from the repository root::

    COURSE_DATA_URL=file:///path/to/mirror/multi30k/ python bench/train_speed.py
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
from contextlib import nullcontext
from pathlib import Path

if "--omp-spin" not in sys.argv:
    # OpenMP threads that spin while waiting lose whole time slices when the cores are shared
    # (measured here: 3x slower training with 2 threads at load 6). Must be set before torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_bahdanau import build_reference  # noqa: E402

from course_lib.data import make_loader, prepare_multi30k  # noqa: E402
from course_lib.decoding import translate_dataset  # noqa: E402
from course_lib.models import BahdanauConfig, BahdanauSeq2Seq, LuongConfig, LuongSeq2Seq  # noqa: E402
from course_lib.training import TrainConfig, Trainer  # noqa: E402
from course_lib.utils import num_parameters, set_seed  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=20, help="timed batches per model (default 20)")
    p.add_argument("--warmup", type=int, default=2, help="untimed batches before timing (default 2)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--teacher-forcing", type=float, default=0.5)
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--amp", action="store_true", help="mixed precision (CUDA only: bf16 if supported, else fp16)")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: reference,luong,greedy")
    p.add_argument("--omp-spin", action="store_true",
                   help="leave OMP_WAIT_POLICY alone (default: PASSIVE, far faster on shared cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        p.error("--steps must be at least 1 and --warmup at least 0")
    return args


def take(loader, n):
    return list(itertools.islice(iter(loader), n))


def padding_share(batches):
    """Fraction of target positions (after <sos>) that are padding, over ``batches``."""
    real = sum(b.num_tgt_tokens for b in batches)
    total = sum(b.tgt.size(0) * (b.tgt.size(1) - 1) for b in batches)
    return 1.0 - real / total


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_training(runners, warmup, device):
    """Interleaved timing: batch ``i`` of every model, then batch ``i + 1`` of every model ...

    ``runners`` maps a name to ``(step_fn, batches)``. Interleaving makes every model see the
    same machine over the same minutes, so the ratios stay fair on a shared, loaded machine.
    The first ``warmup`` batches of each model are run but not timed.
    """
    seconds = {name: 0.0 for name in runners}
    n = min(len(batches) for _, batches in runners.values())
    for i in range(n):
        for name, (step_fn, batches) in runners.items():
            sync(device)
            start = time.perf_counter()
            step_fn(batches[i])
            sync(device)
            if i >= warmup:
                seconds[name] += time.perf_counter() - start
        print(f"  batch {i + 1}/{n} done", flush=True)
    results = {}
    for name, (_, batches) in runners.items():
        timed = batches[warmup:n]
        tokens = sum(b.num_tgt_tokens for b in timed)
        results[name] = {"batches": len(timed), "tokens": tokens, "seconds": seconds[name],
                         "tokens_per_s": tokens / seconds[name], "s_per_batch": seconds[name] / len(timed),
                         "tgt_padding": padding_share(timed)}
    return results


def course_step(model, device, args, teacher_forcing, batches):
    """One optimiser step through the course's Trainer (loss, backward, clip, Adam); ``batches``
    is the Trainer's training loader (it is not iterated: the benchmark feeds the steps)."""
    cfg = TrainConfig(lr=1e-3, clip=1.0, amp=args.amp, progress=False, teacher_forcing=teacher_forcing)
    trainer = Trainer(model, batches, None, cfg, device=device)
    return lambda batch: trainer.train_step(batch, teacher_forcing)


def reference_step(model, device, args, pad_id):
    """The tutorial's training step: time-major batch, loss on ``outputs[1:]``, clip, Adam."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    amp_dtype = None
    if args.amp and device.type == "cuda":
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)

    def step(batch):
        model.train()
        src, tgt = batch.src.t().to(device), batch.tgt.t().to(device)  # [S, B], [T, B]
        ctx = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext()
        with ctx:
            output = model(src, tgt, args.teacher_forcing)  # [T, B, V]
            loss = F.cross_entropy(output[1:].reshape(-1, output.size(-1)).float(), tgt[1:].reshape(-1),
                                   ignore_index=pad_id)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()

    return step


def greedy_warmup(model, dataset):
    """Decode one batch untimed (first-call costs)."""
    from course_lib.decoding import greedy_decode, _encode_sources  # noqa: F401

    src, src_lens = _encode_sources(dataset.src_tokens[:128], dataset.src_vocab, next(model.parameters()).device)
    greedy_decode(model, src, src_lens)


def time_greedy(model, dataset, device, amp):
    amp_dtype = None
    if amp and device.type == "cuda":
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    ctx = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext()
    with ctx:
        greedy_warmup(model, dataset)
        sync(device)
        start = time.perf_counter()
        out = translate_dataset(model, dataset, batch_size=128)
        sync(device)
    seconds = time.perf_counter() - start
    mean_len = sum(len(t.tokens) for t in out) / len(out)
    return {"sentences": len(out), "seconds": seconds, "sentences_per_s": len(out) / seconds, "mean_output_len": mean_len}


def main(argv=None):
    args = parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, device {device}, "
          f"threads {torch.get_num_threads()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, amp {args.amp and device.type == 'cuda'}, "
          f"load average before: {load}", flush=True)

    set_seed(args.seed)
    t0 = time.perf_counter()
    data = prepare_multi30k("de", "en", lower=True, min_freq=2)
    print(f"data: {len(data.train)} training pairs, vocab de {len(data.src_vocab)} / en {len(data.tgt_vocab)} "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)
    n = args.warmup + args.steps
    bucketed = take(make_loader(data.train, args.batch_size, shuffle=True, bucket=True, seed=args.seed), n)
    random_order = take(make_loader(data.train, args.batch_size, shuffle=True, bucket=False, seed=args.seed), n)
    V_src, V_tgt, pad = len(data.src_vocab), len(data.tgt_vocab), data.tgt_vocab.pad_id

    runners, params, luong_models = {}, {}, {}
    A, B_ = "(a) course Bahdanau, bucketed", "(b) reference, random batches"
    set_seed(args.seed)
    course = BahdanauSeq2Seq(V_src, V_tgt, BahdanauConfig.tutorial(), pad_id=pad)
    params[A] = num_parameters(course)
    runners[A] = (course_step(course, device, args, args.teacher_forcing, bucketed), bucketed)
    if "reference" not in skip:
        set_seed(args.seed)
        ref = build_reference(V_src, V_tgt).to(device)
        params[B_] = num_parameters(ref)
        runners[B_] = (reference_step(ref, device, args, pad), random_order)
    if "luong" not in skip:
        for feeding, tf in ((True, args.teacher_forcing), (False, 1.0)):
            set_seed(args.seed)
            model = LuongSeq2Seq(V_src, V_tgt, LuongConfig(input_feeding=feeding), pad_id=pad)
            name = f"(c) Luong general, input feeding {'on' if feeding else 'off'}, tf {tf:g}, bucketed"
            params[name] = num_parameters(model)
            runners[name] = (course_step(model, device, args, tf, bucketed), bucketed)
            luong_models[feeding] = model
    results = time_training(runners, args.warmup, device)
    for name in results:
        results[name]["params"] = params[name]
    params_course, params_ref = params[A], params.get(B_)

    greedy = {}
    if "greedy" not in skip:
        greedy["course Bahdanau (tutorial config)"] = time_greedy(course, data.test, device, args.amp)
        if True in luong_models:
            greedy["Luong general, input feeding"] = time_greedy(luong_models[True], data.test, device, args.amp)

    load_after = os.getloadavg() if hasattr(os, "getloadavg") else None
    print()
    print(f"training speed ({args.steps} timed batches of {args.batch_size} after {args.warmup} warm-up, "
          f"device {device}, {torch.get_num_threads()} threads)")
    header = f"{'model':<58}{'params':>12}{'tgt pad':>9}{'s/batch':>9}{'tokens/s':>10}"
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        print(f"{name:<58}{r['params']:>12,}{r['tgt_padding']:>8.0%}{r['s_per_batch']:>9.2f}{r['tokens_per_s']:>10.0f}")
    if params_ref is not None:
        a = results["(a) course Bahdanau, bucketed"]["tokens_per_s"]
        b = results["(b) reference, random batches"]["tokens_per_s"]
        print(f"\nratio (a)/(b): {a / b:.2f}x   parameters: course {params_course:,}, reference {params_ref:,}"
              f" ({'equal' if params_course == params_ref else 'DIFFERENT'})")
    if greedy:
        print(f"\ngreedy decoding of test_2016_flickr ({len(data.test)} sentences, batches of 128, max_len 2*S+10):")
        for name, r in greedy.items():
            print(f"  {name:<40}{r['sentences_per_s']:>8.1f} sentences/s   ({r['seconds']:.1f} s, "
                  f"mean output length {r['mean_output_len']:.1f} tokens)")
        print(f"  (weights after only {args.warmup + args.steps} training steps; decoding time grows with the "
              "output length, so compare runs by the mean output length too)")
    print(f"\nload average before: {load}, after: {load_after}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "load_before": load, "load_after": load_after,
                                               "training": results, "greedy": greedy}, indent=2))


if __name__ == "__main__":
    main()
