"""Lesson 06's notebook, read without running it: what the browser test and the runner rely on.

- the three widget cells that tests/browser/test_lesson06_browser.py operates are there, and the
  BPE merge stepper cell (issue 15 §3);
- each exercise has a stub, a ``check_...`` cell and a reference solution in the last cell;
- the runner's bookkeeping is the quiet ``record("06", ...)``, never ``record_result``;
- the ``cpu`` profile trains at most 12 minutes in all (two GNMT runs of ``minutes``), ``ci``
  three whole epochs per model (no time budget, so every machine trains the same model);
- the prose stays within 3,500 words (issue 16 §5).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "lessons" / "06_subwords_beam_search.ipynb"


@pytest.fixture(scope="module")
def cells():
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def code(cells):
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def test_widget_cells_the_browser_test_operates(cells):
    sources = code(cells)
    for call in ("widgets.beam_explorer(", "widgets.decoder_stepper(", "widgets.attention_animation(",
                 "widgets.bpe_merge_stepper("):
        assert sum(call in s for s in sources) == 1, call


def test_exercises_have_stub_check_and_solution(cells):
    sources = code(cells)
    solutions = sources[-1]
    for name, checker in (("gnmt_score", "check_gnmt_score"), ("bpe_merge", "check_bpe_merge"),
                          ("coverage_example", "check_coverage_example")):
        assert any(s.startswith(f"def {name}(") and "NotImplementedError" in s for s in sources), name
        assert any(f"def {checker}(fn)" in s for s in sources), checker
        assert f"def {name}_solution(" in solutions and f"{name}_solution, {checker})" in solutions, name


def test_quiet_record_only(cells):
    text = "\n".join(code(cells))
    assert "record_result" not in text
    assert 'record("06",' in text


def settings(cells, profile):
    cell = next(s for s in code(cells) if s.startswith("settings = profile.pick("))
    call = ast.parse(cell).body[0].value
    kw = next(k for k in call.keywords if k.arg == profile)   # profile=dict(name=value, ...)
    return {k.arg: ast.literal_eval(k.value) for k in kw.value.keywords}


def test_training_budgets(cells):
    assert 2 * settings(cells, "cpu")["minutes"] <= 12.0   # words and subwords, same minutes each
    ci = settings(cells, "ci")   # a fixed number of epochs, no time budget: the same model on any machine
    assert ci["minutes"] is None and ci["epochs"] <= 3 and ci["max_train_pairs"] <= 4000
    assert ci["bahdanau_minutes"] <= 0.25


def test_prose_within_limit(cells):
    words = sum(len("".join(c["source"]).split()) for c in cells if c["cell_type"] == "markdown")
    assert words <= 3500, words


def test_no_stale_old_lesson_references(cells):
    prose = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert not re.search(r"section (9|1[0-9])\b", prose)
    assert "close to dividing" not in prose and "tens of millions" not in prose
