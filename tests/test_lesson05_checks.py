"""Lesson 05's exercise checkers and training budgets, run from the notebook's own cells (no training)."""

import json
from pathlib import Path

import numpy as np
import pytest

from course_lib.exercises import check_exercise
from course_lib.profiles import Profile

NOTEBOOK = Path(__file__).resolve().parent.parent / "lessons" / "05_gnmt_stacking.ipynb"


def cell_with(text):
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    found = ["".join(c["source"]) for c in cells if c["cell_type"] == "code" and text in "".join(c["source"])]
    assert len(found) == 1, f"{len(found)} code cells contain {text!r}"
    return found[0]


def settings_for(name, monkeypatch):
    monkeypatch.delenv("COURSE_MAX_MINUTES", raising=False)
    namespace = {"profile": Profile(name), "print": lambda *a, **k: None}
    exec(cell_with("settings = profile.pick("), namespace)
    return namespace["settings"]


@pytest.mark.parametrize("name, limit", [("ci", 1.0), ("cpu", 6.0)])
def test_training_minutes_fit_the_budget(name, limit, monkeypatch):
    settings = settings_for(name, monkeypatch)
    stacks = 3  # deep residual, deep plain, shallow
    assert stacks * len(settings["seeds"]) * settings["minutes"] <= limit
    assert name == "ci" or len(settings["seeds"]) >= 2  # the noise is shown on cpu


def fake_gradient_norms(factor):
    """Norms that fall by ``factor`` per layer below the top one, in the encoder and the decoder."""
    def gradient_norms(residual, num_layers=8):
        norms = {}
        for side in ("encoder", "decoder"):
            for layer in range(1, num_layers + 1):
                norms[f"{side}.layer{layer}"] = 1.0 if residual else factor ** (num_layers - layer)
        return norms
    return gradient_norms


def exercise2_namespace(factor=0.25):
    namespace = {"settings": {"grad_layers": 8}, "gradient_norms": fake_gradient_norms(factor),
                 "check_exercise": check_exercise, "print": lambda *a, **k: None}
    exec(cell_with("def smallest_vanishing_depth(threshold=1e-3):"), namespace)  # the stub the check cell calls
    exec(cell_with("def check_smallest_vanishing_depth"), namespace)
    solution = cell_with("def smallest_vanishing_depth_solution")
    start = solution.index("def smallest_vanishing_depth_solution")
    exec(solution[start:solution.index("\n\n\nassert", start)], namespace)
    return namespace


def test_exercise2_solution_passes_and_finds_the_depth():
    ns = exercise2_namespace(0.25)  # ratio 0.25 ** (depth - 1): below 1e-3 from depth 6 (0.25 ** 5 ≈ 9.8e-4)
    assert check_exercise("Exercise 2", ns["smallest_vanishing_depth_solution"], ns["check_smallest_vanishing_depth"])
    assert ns["smallest_vanishing_depth_solution"](1e-3) == 6
    assert ns["smallest_vanishing_depth_solution"](1e-9) is None


@pytest.mark.parametrize("wrong", [
    lambda threshold=1e-3: 6,                                        # the answer for 1e-3 only
    lambda threshold=1e-3: next((d for d in range(2, 9) if 0.25 ** (d - 1) <= threshold * 4), None),  # off by one
    lambda threshold=1e-3: next((d for d in range(2, 9) if 0.25 ** (d - 1) < threshold), 8),  # never None
])
def test_exercise2_check_rejects_wrong_answers(wrong):
    ns = exercise2_namespace(0.25)
    with pytest.raises(AssertionError):
        ns["check_smallest_vanishing_depth"](wrong)


def test_exercise2_stub_reports_not_yet():
    ns = exercise2_namespace()
    assert check_exercise("Exercise 2", ns["smallest_vanishing_depth"], ns["check_smallest_vanishing_depth"]) is False


def test_exercise1_solution_passes_and_wrong_formula_fails():
    ns = {"np": np, "print": lambda *a, **k: None, "check_exercise": check_exercise}
    exec(cell_with("def encoder_finish_times"), ns)
    exec(cell_with("def pipeline_time(num_layers"), ns)  # the stub the check cell calls
    exec(cell_with("def check_pipeline_time"), ns)
    exec(cell_with("def pipeline_time_solution").split("\n\n\nassert")[0], ns)
    assert check_exercise("Exercise 1", ns["pipeline_time_solution"], ns["check_pipeline_time"])
    with pytest.raises(AssertionError):
        ns["check_pipeline_time"](lambda L, S, bidi: S + L - 1 + (S if bidi else 0))
