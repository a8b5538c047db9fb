"""Lesson 01 in a real browser (JupyterLab + headless Chromium + Playwright).

Runs a copy of the lesson under the ``ci`` profile, then operates the decoder stepper: one
step forward with the keyboard (caption "step 2 of N" and a new picture), Play to the last
step, and a typed German sentence (the stepper restarts at step 1 on it). Screenshots go to
``$COURSE_ARTIFACTS_DIR`` (``lesson01_*.png``). See ``browser_helpers.py``.
"""

from __future__ import annotations

import pytest

from browser_helpers import check_decoder_stepper, lesson_in_browser

pytestmark = pytest.mark.browser


def test_lesson01_decoder_stepper(tmp_path):
    with lesson_in_browser("01_vanilla_seq2seq.ipynb", tmp_path, "lesson01") as lp:
        check_decoder_stepper(lp, "ein mann fährt fahrrad .", expect_words=("mann", "fahrrad"))
        lp.shot(lp.page.locator(".jp-Notebook"), "page")
