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
