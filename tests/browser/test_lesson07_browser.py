"""Lesson 07 (your own language pair, English→Marathi) in a real browser.

Runs a copy of the appendix lesson under the ``ci`` profile, then operates its attention
animation: Play to the last word (caption "word N of N", the heatmap grows), one step back
(caption "word N-1 of N", the picture changes again). Screenshots go to
``$COURSE_ARTIFACTS_DIR`` (``lesson07_*.png``; look at them for Devanagari rendering). See
``browser_helpers.py``.
"""

from __future__ import annotations

import pytest

from browser_helpers import REPO, check_attention_animation, lesson_in_browser

pytestmark = pytest.mark.browser

LESSON = "07_your_language_pair.ipynb"


def test_lesson07_attention_animation(tmp_path):
    if not (REPO / "lessons" / LESSON).exists():
        pytest.skip(f"lessons/{LESSON} is not in this checkout")
    with lesson_in_browser(LESSON, tmp_path, "lesson07") as lp:
        check_attention_animation(lp)
