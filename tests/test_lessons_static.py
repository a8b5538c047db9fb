"""What every committed lesson must be, read statically (issues 15 and 16): no lesson over 3,500
words of prose, no runner bookkeeping or nbval comments in view, every exercise has its check,
and the lesson list the README promises."""

import json
import re
from pathlib import Path

import pytest

LESSONS = sorted((Path(__file__).resolve().parent.parent / "lessons").glob("0*.ipynb"))


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_the_seven_lessons():
    assert [p.name[:2] for p in LESSONS] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_prose_at_most_3500_words(path):
    words = sum(len(re.findall(r"\S+", "".join(c["source"]))) for c in cells(path) if c["cell_type"] == "markdown")
    assert words <= 3500, f"{path.name}: {words} words of prose"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_no_bookkeeping_or_nbval_comments_in_view(path):
    for c in cells(path):
        src = "".join(c["source"])
        assert "record_result(" not in src, f"{path.name}: use the quiet course_lib.runner.record"
        assert "# NBVAL" not in src, f"{path.name}: nbval markers are cell tags"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_every_exercise_stub_is_checked_and_solved(path):
    sources = ["".join(c["source"]) for c in cells(path) if c["cell_type"] == "code"]
    stubs = [m.group(1) for s in sources for m in re.finditer(r"def (\w+)\([^)]*\):\n\s+raise NotImplementedError", s)]
    assert stubs or path.name.startswith("02"), f"{path.name} has no exercise stub"
    for name in stubs:
        assert any(f"check_exercise(" in s and f", {name}," in s for s in sources), f"{path.name}: {name} is never checked"
        assert any(f"def {name}_solution(" in s for s in sources), f"{path.name}: {name} has no reference solution"
