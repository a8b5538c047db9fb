"""Lesson 04 in a real browser (JupyterLab + headless Chromium + Playwright).

Runs a copy of the lesson under the ``ci`` profile, then operates the decoder stepper of the
best Luong variant: a step forward (caption "step 2 of N", new picture), Play to the last
step, a typed German sentence (restart at step 1 on it). Screenshots go to
``$COURSE_ARTIFACTS_DIR`` (``lesson04_*.png``). See ``browser_helpers.py``.
"""

from __future__ import annotations

import pytest

from browser_helpers import check_decoder_stepper, lesson_in_browser

pytestmark = pytest.mark.browser


def test_lesson04_decoder_stepper(tmp_path):
    with lesson_in_browser("04_luong_attention.ipynb", tmp_path, "lesson04") as lp:
        check_decoder_stepper(lp, "ein mann fährt fahrrad .", expect_words=("mann", "fahrrad"))
