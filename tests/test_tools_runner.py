"""The runner's quiet bookkeeping, training-budget caps, the GPU check table and scripts/check_gpu.sh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from course_lib import runner
from course_lib.profiles import MAX_MINUTES_ENV, Profile, current_profile, max_minutes
from course_lib.runner import RESULTS_ENV, gpu_report, main, record, record_result

REPO = Path(__file__).resolve().parents[1]


def test_record_is_quiet_and_writes_only_under_the_runner(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    assert record("01", bleu=12.345) is None
    target = tmp_path / "results.jsonl"
    monkeypatch.setenv(RESULTS_ENV, str(target))
    record("01", bleu=1.5, ppl=float("inf"))
    assert capsys.readouterr().out == "", "record prints nothing: no bookkeeping in the learner's view"
    assert json.loads(target.read_text()) == {"lesson": "01", "bleu": 1.5, "ppl": None}
    record_result("02", bleu=2.0)
    assert "lesson 02 result: bleu = 2.00" in capsys.readouterr().out
    for lesson in ("", 1, None):
        with pytest.raises(ValueError, match="lesson"):
            record(lesson, bleu=1.0)
    with pytest.raises(ValueError, match="at least one metric"):
        record("01")
    with pytest.raises(TypeError):
        record("01", bad=object())
    assert len(target.read_text().splitlines()) == 2, "nothing is written for refused input"


def test_max_minutes_caps_every_minutes_setting_a_lesson_picks(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "gpu")
    settings = dict(ci=dict(minutes=1), cpu=dict(minutes=10), gpu=dict(max_minutes=20.0, minutes_each=5,
                                                                        baseline_minutes=0.05, epochs=20))
    monkeypatch.delenv(MAX_MINUTES_ENV, raising=False)
    assert max_minutes() is None and current_profile().pick(**settings) == settings["gpu"]
    monkeypatch.setenv(MAX_MINUTES_ENV, "0.2")
    assert current_profile().pick(**settings) == dict(max_minutes=0.2, minutes_each=0.2, baseline_minutes=0.05,
                                                      epochs=20)
    assert settings["gpu"]["max_minutes"] == 20.0, "the lesson's own dict is left alone"
    assert Profile("ci").pick(ci=3, cpu=4, gpu=5) == 3, "plain values are not budgets"
    assert "training budgets capped at 0.2 min" in str(current_profile())
    for bad in ("abc", "0", "-1"):
        monkeypatch.setenv(MAX_MINUTES_ENV, bad)
        with pytest.raises(ValueError, match=MAX_MINUTES_ENV):
            max_minutes()
    monkeypatch.setenv(MAX_MINUTES_ENV, " ")
    assert max_minutes() is None


ROWS = [
    {"lesson": "01", "status": "ok", "runtime_s": "54.0", "bleu": "3.25", "peak_gpu_mib": "1536", "max_minutes": "0.1"},
    {"lesson": "02", "status": "ok", "runtime_s": "30", "bleu": "", "peak_gpu_mib": "", "max_minutes": "0.1"},
    {"lesson": "05", "status": "failed: RuntimeError", "runtime_s": "12", "max_minutes": "0.1"},
    {"lesson": "03", "status": "ok", "runtime_s": 300.0, "bleu": 34.5, "peak_gpu_mib": 10240, "max_minutes": None},
]


def test_gpu_report_table():
    lines = gpu_report(ROWS).splitlines()
    assert lines[0].split() == ["lesson", "training", "budget", "result", "minutes", "BLEU", "peak", "GPU", "memory"]
    assert lines[1].split() == ["01", "capped", "0.1", "min", "passed", "0.9", "3.25", "1.50", "GiB"]
    assert lines[2].split() == ["02", "capped", "0.1", "min", "passed", "0.5", "-", "-"]
    assert lines[3].split() == ["05", "capped", "0.1", "min", "failed", "0.2", "-", "-"]
    assert lines[4].split() == ["03", "full", "passed", "5.0", "34.50", "10.00", "GiB"]
    assert lines[5] == "4 runs, 1 failed, 6.6 minutes in all"
    assert len({len(line) for line in lines[:5]}) == 1, "the columns line up"


def _summary(folder: Path, rows) -> Path:
    folder.mkdir()
    keys = ["lesson", "status", "runtime_s", "bleu", "peak_gpu_mib", "max_minutes"]
    text = ",".join(keys) + "\n" + "".join(",".join(str(r.get(k, "")) for k in keys) + "\n" for r in rows)
    (folder / "summary.csv").write_text(text.replace("None", ""))
    return folder


def test_report_command_reads_the_summaries(tmp_path, capsys):
    short, full = _summary(tmp_path / "short", ROWS[:2]), _summary(tmp_path / "full", ROWS[3:])
    assert main(["--report", str(short), str(full)]) == 0
    out = capsys.readouterr().out
    assert "3 runs, 0 failed" in out and "34.50" in out and "full" in out
    failing = _summary(tmp_path / "failing", ROWS[2:3])
    assert main(["--report", str(short), str(failing)]) == 1
    with pytest.raises(SystemExit):
        main(["--report", str(tmp_path / "nothing")])
    assert "no summary.csv" in capsys.readouterr().err


def test_peak_memory_is_recorded_only_where_cuda_was_used(tmp_path, monkeypatch):
    target = tmp_path / "results.jsonl"
    monkeypatch.setenv(RESULTS_ENV, str(target))
    runner._record_peak_gpu_memory("01")
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        assert "peak_gpu_mib" in target.read_text()
    else:
        assert not target.exists()


def test_run_lessons_refuses_a_bad_max_minutes(tmp_path):
    nb = tmp_path / "01_x.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), nb)
    for bad, error in ((0, ValueError), (-1.0, ValueError), ("1", TypeError)):
        with pytest.raises(error, match="max_minutes"):
            runner.run_lessons([nb], "ci", tmp_path / "out", max_minutes=bad)
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit):
        main(["--profile", "ci", "--max-minutes", "0", "--lessons", str(nb)])


@pytest.mark.slow
def test_a_capped_run_records_quietly_and_restores_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(MAX_MINUTES_ENV, raising=False)
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from course_lib.profiles import current_profile\nfrom course_lib.runner import record\n"
        "settings = current_profile().pick(ci=dict(minutes=5.0), cpu=dict(minutes=9.0), gpu=dict(minutes=9.0))\n"
        "record('01', budget=settings['minutes'])")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "01_tiny.ipynb"
    nbformat.write(nb, path)
    rows = runner.run_lessons([path], "ci", tmp_path / "out", timeout=120, max_minutes=0.25)
    assert rows[0]["status"] == "ok" and rows[0]["budget"] == 0.25 and rows[0]["max_minutes"] == 0.25
    executed = nbformat.read(tmp_path / "out" / "01_tiny.ipynb", as_version=4)
    assert len(executed.cells) == 1 and executed.cells[0].outputs == [], "quiet, and the runner's cell is not saved"
    assert MAX_MINUTES_ENV not in os.environ and RESULTS_ENV not in os.environ
    assert "max_minutes" in (tmp_path / "out" / "summary.md").read_text()


# -- scripts/check_gpu.sh -----------------------------------------------------------------------

SCRIPT = REPO / "scripts" / "check_gpu.sh"


def test_check_gpu_script_is_valid_bash():
    assert SCRIPT.is_file() and os.access(SCRIPT, os.X_OK)
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="the no-GPU path needs a machine without CUDA")
def test_check_gpu_without_cuda_says_so_and_runs_nothing(tmp_path):
    out = tmp_path / "check"
    env = dict(os.environ, PYTHON=sys.executable, CHECK_GPU_OUT=str(out), OMP_NUM_THREADS="1")
    r = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 3
    assert "no CUDA GPU" in r.stderr and "nothing was run" in r.stderr
    assert r.stdout == "" and not out.exists()
