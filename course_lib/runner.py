"""The course's main job: execute every lesson headless and write a summary.

``course-run-lessons --profile ci --out outputs/`` (or ``python -m course_lib.runner``) runs each
notebook of ``lessons/`` with ``nbclient`` under ``COURSE_PROFILE``, saves the executed copies and
``summary.csv``, ``summary.md`` (:data:`SUMMARY_COLUMNS`), ``results.jsonl``, and exits non-zero if
a lesson failed. A lesson hands over its numbers with one quiet call, e.g. at the end of the cell
that scores the test set: ``record("03", bleu=round(bleu.score, 2))`` (:func:`record` prints
nothing). On a GPU each lesson's ``peak_gpu_mib`` (``torch.cuda.max_memory_allocated`` in its
process) is recorded too. ``--max-minutes M`` caps the lessons' training budgets
(``COURSE_MAX_MINUTES``); ``--report DIR ...`` prints the table of ``scripts/check_gpu.sh``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence
from unittest import mock

from .checks import InputTypeError, check_int, check_real
from .utils import atomic_write, require

__all__ = ["record", "record_result", "run_lessons", "gpu_report", "main", "SUMMARY_COLUMNS", "RESULTS_ENV"]

RESULTS_ENV = "COURSE_RESULTS_FILE"

SUMMARY_COLUMNS = ("lesson", "profile", "status", "runtime_s", "bleu", "chrf", "test_ppl", "train_tokens_per_s",
                   "train_minutes", "max_minutes", "peak_gpu_mib")
"""Columns of ``summary.md`` (and of the table printed at the end), when present."""

# run after a lesson's last cell, in its process (it cannot fail the lesson), and left out of the saved copy
_PEAK_MEMORY_CELL = ("try:\n    from course_lib.runner import _record_peak_gpu_memory\n"
                     "    _record_peak_gpu_memory({lesson!r})\nexcept Exception:\n    pass")


def record(lesson: str, **numbers: Any) -> None:
    """Record a lesson's headline numbers (e.g. ``bleu=23.4``) for the summary table, quietly.

    Under :func:`run_lessons` (``$COURSE_RESULTS_FILE`` set) they are appended as a JSON line to that
    file, else nothing happens; nothing is printed. NaN or infinite floats are recorded as ``null``.

    Raises:
        ValueError: ``lesson`` is not a non-empty str (e.g. ``"01"``), or no numbers were given.
        TypeError: a value JSON cannot hold. Nothing is written then.
    """
    require(isinstance(lesson, str) and lesson.strip(), f"lesson must be the lesson's id such as '01', got {lesson!r}")
    require(numbers, "record needs at least one metric, e.g. record('01', bleu=23.4)")
    line = json.dumps({"lesson": lesson, **{k: None if isinstance(v, float) and not math.isfinite(v) else v
                                            for k, v in numbers.items()}}, allow_nan=False)
    if os.environ.get(RESULTS_ENV):
        with open(os.environ[RESULTS_ENV], "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def record_result(lesson: str, **metrics: Any) -> None:
    """:func:`record`, then print the numbers (``lesson 01 result: bleu = 23.40, ...``); same errors."""
    record(lesson, **metrics)
    shown = ", ".join(f"{k} = {v:.2f}" if isinstance(v, float) else f"{k} = {v}" for k, v in metrics.items())
    print(f"lesson {lesson} result: {shown}")


def _record_peak_gpu_memory(lesson: str) -> None:
    """Record ``peak_gpu_mib`` if this process used CUDA (run by the runner in the lesson's kernel)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        peak = sum(torch.cuda.max_memory_allocated(d) for d in range(torch.cuda.device_count()))
        record(lesson, peak_gpu_mib=round(peak / 2**20))


def _lessons_dir() -> Path:
    here = Path(__file__).resolve().parent.parent / "lessons"
    return here if here.is_dir() else Path.cwd() / "lessons"


def run_lessons(lessons: List[Path], profile: str, out_dir: Path, timeout: int = 3600, kernel_name: str = "python3",
                max_minutes: Optional[float] = None) -> List[Dict[str, Any]]:
    """Execute ``lessons`` (paths) under ``profile``; write the executed copies and the summary to ``out_dir``.

    ``timeout``: seconds per cell; ``max_minutes``: cap on the lessons' training budgets (default
    ``$COURSE_MAX_MINUTES``). Returns one row per lesson: ``lesson``, ``notebook``, ``profile``,
    ``status`` (``"ok"`` or ``"failed: <error>"``), ``runtime_s``, ``max_minutes`` if capped, and
    what it recorded. The environment is restored afterwards.

    Raises:
        ValueError: no lessons, or not existing ``.ipynb`` files; an unknown profile; a bad ``timeout``
            or ``max_minutes``; an ``out_dir`` that cannot be created or written. Nothing runs then.
        InputTypeError (also a ValueError): ``lessons``, ``out_dir`` or ``kernel_name`` of a wrong type.
    """
    from .profiles import MAX_MINUTES_ENV, max_minutes as max_minutes_from_env, profile_name

    lessons = [lessons] if isinstance(lessons, (str, os.PathLike)) else lessons
    require(isinstance(lessons, (list, tuple)) and all(isinstance(p, (str, os.PathLike)) for p in lessons),
            f"lessons must be a list of notebook paths (str or Path), got {lessons!r:.60}", InputTypeError)
    require(isinstance(out_dir, (str, os.PathLike)) and isinstance(kernel_name, str) and kernel_name.strip(),
            "out_dir must be a folder path and kernel_name a kernel's name such as 'python3'", InputTypeError)
    lessons, out_dir = [Path(p) for p in lessons], Path(out_dir)
    bad = [str(p) for p in lessons if not p.is_file() or p.suffix != ".ipynb"]
    require(lessons and not bad, f"run_lessons needs at least one notebook; not an existing .ipynb: {', '.join(bad)}")
    require(profile is not None, "run_lessons needs a profile: one of ci, cpu, gpu")
    profile = profile_name(profile)
    check_int(timeout, "timeout (seconds per cell)", low=1)
    max_minutes = check_real(max_minutes, "max_minutes", low=0, low_open=True, allow_none=True)
    max_minutes = max_minutes_from_env() if max_minutes is None else max_minutes
    results_file = out_dir / "results.jsonl"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        results_file.write_text("")
    except OSError as err:
        raise ValueError(f"cannot create out_dir {out_dir} ({err.strerror or err}): not a folder you can write to") from None
    env = {RESULTS_ENV: str(results_file.resolve()), "COURSE_PROFILE": profile,
           MAX_MINUTES_ENV: "" if max_minutes is None else str(max_minutes)}
    with mock.patch.dict(os.environ, env):  # for the kernels; restored afterwards
        rows = [_execute(path, profile, out_dir, timeout, kernel_name) for path in lessons]
    recorded: Dict[str, Dict[str, Any]] = {}
    for line in results_file.read_text().splitlines():
        rec = json.loads(line)
        recorded.setdefault(rec.pop("lesson"), {}).update(rec)
    for row in rows:
        row.update({"max_minutes": max_minutes} if max_minutes else {}, **recorded.get(row["lesson"], {}))
    _write_summary(rows, out_dir)
    return rows


def _execute(path: Path, profile: str, out_dir: Path, timeout: int, kernel_name: str) -> Dict[str, Any]:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    lesson = path.name.split("_")[0]
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_PEAK_MEMORY_CELL.format(lesson=lesson)))
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    print(f"running {path.name} under profile {profile} ...", flush=True)
    start, status = time.perf_counter(), "ok"
    try:
        client.execute()
    except CellExecutionError as exc:
        status = f"failed: {getattr(exc, 'ename', type(exc).__name__)}"
    except Exception as exc:  # a dead kernel, a timeout: report it and go on to the next lesson
        status = f"failed: {type(exc).__name__}"
    runtime = time.perf_counter() - start
    nb.cells.pop()  # the runner's own cell is not part of the lesson
    atomic_write(out_dir / path.name, lambda handle: nbformat.write(nb, handle), mode="w", encoding="utf-8")
    print(f"  {status} in {runtime:.1f} s", flush=True)
    return {"lesson": lesson, "notebook": path.name, "profile": profile, "status": status,
            "runtime_s": round(runtime, 1)}


def _write_summary(rows: List[Dict[str, Any]], out_dir: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(rows)
    atomic_write(out_dir / "summary.csv", lambda handle: frame.to_csv(handle, index=False), mode="w", encoding="utf-8")
    headline = frame[[c for c in SUMMARY_COLUMNS if c in frame.columns]]
    headline = headline.astype(object).where(headline.notna(), None)  # blank cells, not "nan"
    try:
        text = headline.to_markdown(index=False, missingval="") + "\n"
    except ImportError:  # no tabulate
        text = headline.to_string(index=False) + "\n"
    atomic_write(out_dir / "summary.md", lambda handle: handle.write(text), mode="w", encoding="utf-8")
    print("\n" + headline.to_string(index=False))
    print(f"\nexecuted notebooks and summary written to {out_dir}")


def gpu_report(rows: Sequence[Dict[str, Any]]) -> str:
    """The table of ``scripts/check_gpu.sh``: per lesson, passed or failed, minutes, BLEU, peak GPU memory.

    ``rows``: :func:`run_lessons`' rows or ``summary.csv``'s, as text (blank cells show ``-``);
    a total line comes last.
    """
    def value(row, key) -> Optional[float]:  # a number, or None for a blank cell
        try:
            x = float(row.get(key))
        except (TypeError, ValueError):
            return None
        return x if math.isfinite(x) else None

    lines = [f"{'lesson':<8}{'training budget':<18}{'result':<8}{'minutes':>8}{'BLEU':>8}{'peak GPU memory':>17}"]
    for row in rows:
        cap, bleu, peak = value(row, "max_minutes"), value(row, "bleu"), value(row, "peak_gpu_mib")
        lines.append(f"{str(row.get('lesson', '?')):<8}{f'capped {cap:g} min' if cap else 'full':<18}"
                     f"{'passed' if row.get('status') == 'ok' else 'failed':<8}"
                     f"{(value(row, 'runtime_s') or 0) / 60:>8.1f}{'-' if bleu is None else f'{bleu:.2f}':>8}"
                     f"{'-' if peak is None else f'{peak / 1024:.2f} GiB':>17}")
    failed = sum(row.get("status") != "ok" for row in rows)
    total = sum(value(row, "runtime_s") or 0 for row in rows) / 60
    return "\n".join(lines + [f"{len(rows)} runs, {failed} failed, {total:.1f} minutes in all"])


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point (``course-run-lessons``); returns the exit status (1 if a lesson failed).

    Raises:
        InputTypeError: ``argv`` is not a list of str. Bad arguments exit through argparse (``SystemExit(2)``).
    """
    from .profiles import PROFILES, profile_name

    require(argv is None or (isinstance(argv, (list, tuple)) and all(isinstance(a, str) for a in argv)),
            f"argv must be a list of str arguments (e.g. ['--profile', 'ci']), got {argv!r:.60}", InputTypeError)
    parser = argparse.ArgumentParser(description="Execute every lesson headless and write a summary table.")
    parser.add_argument("--profile", choices=PROFILES, default=None,
                        help="run profile (default: $COURSE_PROFILE, else gpu if CUDA is present, else cpu)")
    parser.add_argument("--out", default="outputs", help="folder for executed notebooks and summary (default: outputs)")
    parser.add_argument("--lessons", nargs="*", default=None, help="notebooks to run (default: every lessons/*.ipynb)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell (default 3600)")
    parser.add_argument("--max-minutes", type=float, default=None, metavar="M",
                        help="cap every training budget the lessons pick at M minutes (a smoke run)")
    parser.add_argument("--report", nargs="+", metavar="DIR", help="run nothing: print the table of scripts/"
                        "check_gpu.sh (passed/failed, minutes, BLEU, peak GPU memory) of each DIR's summary.csv")
    args = parser.parse_args(argv)
    if args.report:
        missing = [d for d in args.report if not (Path(d) / "summary.csv").is_file()]
        if missing:
            parser.error(f"no summary.csv in {', '.join(missing)} (did the run start?)")
        rows = [row for d in args.report for row in csv.DictReader(
            (Path(d) / "summary.csv").read_text(encoding="utf-8").splitlines())]
        print(gpu_report(rows))
        return 0 if all(r.get("status") == "ok" for r in rows) else 1
    profile = profile_name(args.profile)
    if args.timeout < 1 or (args.max_minutes is not None and not args.max_minutes > 0):
        parser.error(f"--timeout must be at least 1 second and --max-minutes above 0, got {args.timeout} and "
                     f"{args.max_minutes}")
    folder = _lessons_dir()
    if not args.lessons and not folder.is_dir():
        parser.error(f"no lessons folder at {folder}: run from the repository root or pass --lessons")
    lessons = [Path(p) for p in args.lessons] if args.lessons else sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    bad = [f"no such notebook: {p}" if not p.is_file() else f"not a notebook (.ipynb): {p}" for p in lessons
           if not p.is_file() or p.suffix != ".ipynb"]
    if not lessons or bad:
        parser.error("; ".join(bad) or f"found no lessons (NN_name.ipynb) in {folder}: pass --lessons")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        parser.error(f"--out {args.out} is a file, not a folder")
    rows = run_lessons(lessons, profile, Path(args.out), timeout=args.timeout, max_minutes=args.max_minutes)
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
