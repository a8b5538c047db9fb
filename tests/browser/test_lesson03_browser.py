"""Lesson 03 in a real browser (JupyterLab + headless Chromium + Playwright).

Runs a copy of the lesson under the ``ci`` profile, then operates

- the decoder stepper: a step forward (caption "step 2 of N", new picture), Play to the last
  step, a typed German sentence (restart at step 1 on it);
- the attention animation: Play to the last word (caption "word N of N", the heatmap grows),
  one step back (caption "word N-1 of N", the picture changes again).

Screenshots go to ``$COURSE_ARTIFACTS_DIR`` (``lesson03_*.png``). See ``browser_helpers.py``.
"""

from __future__ import annotations

import pytest

from browser_helpers import check_attention_animation, check_decoder_stepper, lesson_in_browser

pytestmark = pytest.mark.browser


def test_lesson03_stepper_and_attention_animation(tmp_path):
    with lesson_in_browser("03_bahdanau_attention.ipynb", tmp_path, "lesson03") as lp:
        check_decoder_stepper(lp, "ein mann fährt fahrrad .", expect_words=("mann", "fahrrad"))
        check_attention_animation(lp)
