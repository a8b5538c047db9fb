"""The course's main job: execute every lesson headless and write a summary.

Run it as ``course-run-lessons`` (installed with the package) or ``python -m course_lib.runner``::

    course-run-lessons --profile ci --out outputs/

For each notebook in ``lessons/`` it executes all cells top to bottom with ``nbclient``
under the chosen ``COURSE_PROFILE``, writes the executed notebook to the output folder, and
collects what the lesson recorded with :func:`record_result` (BLEU and friends). It ends by
writing ``summary.csv`` and ``summary.md`` (lesson, profile, status, runtime, BLEU, ...)
and printing the table. It exits non-zero if a lesson failed. ``summary.md`` shows the headline columns
(:data:`SUMMARY_COLUMNS`); ``summary.csv`` and ``results.jsonl`` hold everything the lessons
recorded (per-variant numbers of lesson 04, for example).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

__all__ = ["record_result", "run_lessons", "main"]

RESULTS_ENV = "COURSE_RESULTS_FILE"

#: Columns of ``summary.md`` (and of the table printed at the end), when present.
SUMMARY_COLUMNS = ("lesson", "profile", "status", "runtime_s", "bleu", "chrf", "test_ppl", "train_tokens_per_s",
                   "train_minutes")


def record_result(lesson: str, **metrics: Any) -> None:
    """Record a lesson's headline numbers (e.g. ``bleu=23.4``) for the summary table.

    When the lesson runs under :func:`run_lessons`, the numbers are appended as one JSON line
    to the file named by ``$COURSE_RESULTS_FILE``; otherwise nothing is written. The
    numbers are printed either way, so a learner sees them too.

    Args:
        lesson: the lesson's id, e.g. ``"01"``.
        **metrics: JSON-serialisable values (floats are rounded to 2 decimals when printed).

    Returns nothing, so that a lesson's last line can call it without echoing a value.
    A NaN or infinite float is recorded as ``null`` (a blank cell in the summary), since
    JSON cannot hold it; it is printed as it is.

    Raises:
        TypeError: a value is not JSON-serialisable.
        ValueError: ``lesson`` is not a non-empty str, or no metrics were given.
    """
    if not isinstance(lesson, str) or not lesson.strip():
        raise ValueError(f"lesson must be the lesson's id as a non-empty str (e.g. '01'), got {lesson!r}")
    if not metrics:
        raise ValueError("record_result needs at least one metric, e.g. record_result('01', bleu=23.4)")
    record = {"lesson": lesson, **{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                   for k, v in metrics.items()}}
    line = json.dumps(record, allow_nan=False)  # raises TypeError on values JSON cannot hold
    target = os.environ.get(RESULTS_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    shown = ", ".join(f"{k} = {v:.2f}" if isinstance(v, float) else f"{k} = {v}" for k, v in metrics.items())
    print(f"lesson {lesson} result: {shown}")


def _lessons_dir() -> Path:
    here = Path(__file__).resolve().parent.parent / "lessons"
    return here if here.is_dir() else Path.cwd() / "lessons"


def run_lessons(lessons: List[Path], profile: str, out_dir: Path, timeout: int = 3600,
                kernel_name: str = "python3") -> List[Dict[str, Any]]:
    """Execute ``lessons`` under ``profile``; write executed copies and the summary to ``out_dir``.

    Returns:
        One summary row per lesson: ``lesson``, ``notebook``, ``profile``, ``status``
        (``"ok"`` or the error's name), ``runtime_s`` and the recorded metrics.

    The environment variables it sets for the kernels (``COURSE_PROFILE``,
    ``$COURSE_RESULTS_FILE``) are restored afterwards.

    Raises:
        ValueError: no lessons; a lesson that is not an existing ``.ipynb`` file; an unknown
            profile; ``timeout`` below 1; ``out_dir`` is an existing file, cannot be created
            (e.g. a file in its path) or is not writable. Nothing is executed in these cases.
        TypeError (also a ValueError): ``lessons`` is not a path or a list of paths;
            ``out_dir`` is not a path; ``kernel_name`` is not a non-empty str.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from .profiles import profile_name
    from .utils import atomic_write

    from .viz import InputTypeError

    if isinstance(lessons, (str, os.PathLike)):
        lessons = [lessons]
    if not isinstance(lessons, (list, tuple)):
        raise InputTypeError(f"lessons must be a list of notebook paths, got {type(lessons).__name__}")
    bad_types = [p for p in lessons if not isinstance(p, (str, os.PathLike))]
    if bad_types:
        raise InputTypeError(f"lessons must hold paths (str or Path), got {bad_types[0]!r:.40}")
    if not isinstance(out_dir, (str, os.PathLike)):
        raise InputTypeError(f"out_dir must be a folder path (str or Path), got {type(out_dir).__name__}")
    if not isinstance(kernel_name, str) or not kernel_name.strip():
        raise InputTypeError(f"kernel_name must be a Jupyter kernel name such as 'python3', got {kernel_name!r:.40}")
    lessons = [Path(p) for p in lessons]
    if not lessons:
        raise ValueError("run_lessons needs at least one notebook")
    bad = [str(p) for p in lessons if not p.is_file() or p.suffix != ".ipynb"]
    if bad:
        raise ValueError(f"not an existing .ipynb notebook: {', '.join(bad)}")
    if profile is None:
        raise ValueError("run_lessons needs a profile: one of ci, cpu, gpu")
    profile = profile_name(profile)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        raise ValueError(f"timeout must be a positive number of seconds per cell, got {timeout!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir {out_dir} exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot create out_dir {out_dir} ({err.strerror or err}); choose a folder you can "
                         "write to") from None
    if not os.access(out_dir, os.W_OK):
        raise ValueError(f"out_dir {out_dir} is not writable; choose a folder you can write to")
    results_file = out_dir / "results.jsonl"
    results_file.write_text("")
    saved_env = {k: os.environ.get(k) for k in (RESULTS_ENV, "COURSE_PROFILE")}
    os.environ[RESULTS_ENV] = str(results_file.resolve())
    os.environ["COURSE_PROFILE"] = profile
    try:
        rows = _execute(lessons, profile, out_dir, timeout, kernel_name, nbformat, NotebookClient,
                        CellExecutionError, atomic_write)
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    recorded: Dict[str, Dict[str, Any]] = {}
    for line in results_file.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            recorded.setdefault(rec.pop("lesson"), {}).update(rec)
    for row in rows:
        row.update(recorded.get(row["lesson"], {}))
    _write_summary(rows, out_dir)
    return rows


def _execute(lessons, profile, out_dir, timeout, kernel_name, nbformat, NotebookClient, CellExecutionError,
             atomic_write) -> List[Dict[str, Any]]:
    rows: List[Dict[str, Any]] = []
    for path in lessons:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                                resources={"metadata": {"path": str(path.parent.resolve())}})
        print(f"running {path.name} under profile {profile} ...", flush=True)
        start = time.perf_counter()
        status = "ok"
        try:
            client.execute()
        except CellExecutionError as exc:
            status = f"failed: {getattr(exc, 'ename', type(exc).__name__)}"
        except Exception as exc:  # a dead kernel, a timeout: report and go on to the next lesson
            status = f"failed: {type(exc).__name__}"
        runtime = time.perf_counter() - start
        atomic_write(out_dir / path.name, lambda handle, nb=nb: nbformat.write(nb, handle), mode="w", encoding="utf-8")
        rows.append({"lesson": path.name.split("_")[0], "notebook": path.name, "profile": profile,
                     "status": status, "runtime_s": round(runtime, 1)})
        print(f"  {status} in {runtime:.1f} s", flush=True)
    return rows


def _write_summary(rows: List[Dict[str, Any]], out_dir: Path) -> None:
    import pandas as pd

    from .utils import atomic_write

    frame = pd.DataFrame(rows)
    atomic_write(out_dir / "summary.csv", lambda handle: frame.to_csv(handle, index=False), mode="w", encoding="utf-8")
    headline = frame[[c for c in SUMMARY_COLUMNS if c in frame.columns]]
    headline = headline.astype(object).where(headline.notna(), None)  # blank cells, not "nan"
    text = (headline.to_markdown(index=False, missingval="") + "\n" if _has_tabulate()
            else headline.to_string(index=False) + "\n")
    atomic_write(out_dir / "summary.md", lambda handle: handle.write(text), mode="w", encoding="utf-8")
    print("\n" + headline.to_string(index=False))
    print(f"\nexecuted notebooks and summary written to {out_dir}")


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
        return True
    except ImportError:
        return False


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point (``course-run-lessons``); returns the exit status.

    Raises:
        TypeError (also a ValueError): ``argv`` is not a list of str (one str would be read
            letter by letter). Bad arguments exit through argparse (``SystemExit(2)``).
    """
    from .profiles import PROFILES, profile_name
    from .viz import InputTypeError

    if argv is not None and (isinstance(argv, (str, bytes)) or not isinstance(argv, (list, tuple))
                             or not all(isinstance(a, str) for a in argv)):
        raise InputTypeError(f"argv must be a list of str arguments (e.g. ['--profile', 'ci']), got {argv!r:.60}")

    parser = argparse.ArgumentParser(description="Execute every lesson headless and write a summary table.")
    parser.add_argument("--profile", choices=PROFILES, default=None,
                        help="run profile (default: $COURSE_PROFILE, else gpu if CUDA is present, else cpu)")
    parser.add_argument("--out", default="outputs", help="folder for executed notebooks and summary (default: outputs)")
    parser.add_argument("--lessons", nargs="*", default=None,
                        help="notebooks to run (default: every lessons/*.ipynb)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell (default 3600)")
    args = parser.parse_args(argv)
    profile = profile_name(args.profile)
    if args.timeout < 1:
        parser.error(f"--timeout must be at least 1 second, got {args.timeout}")
    if args.lessons:
        lessons = [Path(p) for p in args.lessons]
    else:
        folder = _lessons_dir()
        if not folder.is_dir():
            parser.error(f"no lessons folder at {folder}: run from the repository root or pass --lessons")
        lessons = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
        if not lessons:
            parser.error(f"found no lessons (NN_name.ipynb) in {folder}: pass --lessons")
    missing = [str(p) for p in lessons if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    not_notebooks = [str(p) for p in lessons if p.suffix != ".ipynb"]
    if not_notebooks:
        parser.error(f"not a notebook (.ipynb): {', '.join(not_notebooks)}")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        parser.error(f"--out {args.out} is a file, not a folder")
    rows = run_lessons(lessons, profile, Path(args.out), timeout=args.timeout)
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
