import json
import re

import nbformat
import pytest

from course_lib.runner import RESULTS_ENV, main, record_result


def test_record_result_appends_json_lines_only_when_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    assert record_result("01", bleu=12.345) is None
    assert "bleu = 12.35" in capsys.readouterr().out
    target = tmp_path / "results.jsonl"
    monkeypatch.setenv(RESULTS_ENV, str(target))
    record_result("01", bleu=1.0)
    record_result("02", note="x")
    assert [json.loads(line) for line in target.read_text().splitlines()] == [
        {"lesson": "01", "bleu": 1.0}, {"lesson": "02", "note": "x"}]
    with pytest.raises(TypeError):
        record_result("03", bad=object())


def tiny_lesson(path, body):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from course_lib.runner import record_result"), nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.mark.slow
def test_main_job_runs_lessons_and_writes_the_summary(tmp_path, monkeypatch):
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    good, bad = tmp_path / "01_good.ipynb", tmp_path / "02_bad.ipynb"
    tiny_lesson(good, 'import os\nrecord_result("01", bleu=42.0, profile_seen=os.environ["COURSE_PROFILE"])')
    tiny_lesson(bad, "raise RuntimeError('broken lesson')")
    out = tmp_path / "out"
    status = main(["--profile", "ci", "--out", str(out), "--lessons", str(good), str(bad), "--timeout", "120"])
    assert status == 1, "a failing lesson must make the job fail"
    summary = (out / "summary.csv").read_text()
    assert "01,01_good.ipynb,ci,ok" in summary and "failed: RuntimeError" in summary
    table = (out / "summary.md").read_text()
    assert re.search(r"\|\s+42(\.0)?\s+\|", table) and "nan" not in table
    executed = nbformat.read(out / "01_good.ipynb", as_version=4)
    assert "profile_seen = ci" in executed.cells[1].outputs[0]["text"]


# -- bad input --------------------------------------------------------------------------------


def test_record_result_bad_input(tmp_path, monkeypatch, capsys):
    target = tmp_path / "results.jsonl"
    monkeypatch.setenv(RESULTS_ENV, str(target))
    for lesson in ("", "  ", 1, None):
        with pytest.raises(ValueError, match="lesson"):
            record_result(lesson, bleu=1.0)
    with pytest.raises(ValueError, match="at least one metric"):
        record_result("01")
    assert not target.exists() or target.read_text() == "", "nothing is written for refused input"
    record_result("01", bleu=float("nan"), ppl=float("inf"))
    assert json.loads(target.read_text()) == {"lesson": "01", "bleu": None, "ppl": None}
    assert "bleu = nan" in capsys.readouterr().out


def test_run_lessons_refuses_bad_arguments_before_running(tmp_path, monkeypatch):
    from course_lib.runner import run_lessons

    good = tmp_path / "01_good.ipynb"
    tiny_lesson(good, "x = 1")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="at least one"):
        run_lessons([], "ci", out)
    with pytest.raises(ValueError, match="not an existing"):
        run_lessons([tmp_path / "missing.ipynb"], "ci", out)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not an existing"):
        run_lessons([tmp_path / "notes.txt"], "ci", out)
    with pytest.raises(ValueError, match="not a known profile"):
        run_lessons([good], "laptop", out)
    with pytest.raises(ValueError, match="timeout"):
        run_lessons([good], "ci", out, timeout=0)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        run_lessons([good], "ci", a_file)
    assert not out.exists(), "nothing is written when the arguments are refused"


def test_main_reports_a_missing_lessons_folder(tmp_path, monkeypatch, capsys):
    import course_lib.runner as runner

    monkeypatch.setattr(runner, "_lessons_dir", lambda: tmp_path / "no_lessons_here")
    with pytest.raises(SystemExit) as exit_info:
        main(["--profile", "ci", "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert "no lessons folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    monkeypatch.setattr(runner, "_lessons_dir", lambda: tmp_path / "empty")
    with pytest.raises(SystemExit):
        main(["--profile", "ci"])
    assert "found no lessons" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--profile", "ci", "--lessons", str(tmp_path / "nope.ipynb")])
    assert "no such notebook" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--profile", "ci", "--timeout", "0", "--lessons", str(tmp_path / "nope.ipynb")])
    assert "--timeout" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--profile", "laptop"])
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_run_lessons_restores_the_environment(tmp_path, monkeypatch):
    import os

    from course_lib.runner import run_lessons

    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    good = tmp_path / "01_good.ipynb"
    tiny_lesson(good, 'record_result("01", bleu=1.5)')
    rows = run_lessons([good], "ci", tmp_path / "out", timeout=120)
    assert rows[0]["status"] == "ok" and rows[0]["bleu"] == 1.5
    assert os.environ["COURSE_PROFILE"] == "cpu" and RESULTS_ENV not in os.environ
    assert not list((tmp_path / "out").glob(".*.part")), "no temporary files left behind"
