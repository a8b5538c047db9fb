"""The BPE merge stepper (``course_lib.widgets.bpe_merge_stepper``, issue 15 §3) in a real browser.

Independent of the lessons: the test writes a notebook that trains a small BPE tokenizer on a
few words (no download) and shows ``widgets.bpe_merge_stepper(sp, "lowest newer")``. In
JupyterLab + headless Chromium it then checks, waiting each time for a state of the page:

- a step forward shows "merge 1 of N" and fewer pieces;
- Play walks to "merge N of N" (the tokenizer's own pieces) and stops; a step back stays;
- typed words restart the stepper at merge 0, one row per word.

Screenshots go to ``$COURSE_ARTIFACTS_DIR`` (``bpe_*.png``). See ``browser_helpers.py``.
"""

from __future__ import annotations

import re

import pytest

from browser_helpers import Slider, cell_output, lesson_in_browser, notebook_from_cells, play_stopped, play_to_end, \
    text_box, type_into, wait_until

pytestmark = pytest.mark.browser

MERGE_RE = re.compile(r"merge (\d+) of (\d+)")

CELLS = [
    "from course_lib import widgets\n"
    "from course_lib.data import train_subword_tokenizer\n"
    "words = 'lower lowest newer newest wider widest slower slowest the cat sat on the mat'.split()\n"
    "texts = [' '.join(words[i:] + words[:i]) for i in range(len(words))]\n"
    "sp = train_subword_tokenizer(texts, vocab_size=120, min_frequency=1, cache=False)\n"
    "print(sp('lowest'), sp('newer'))",
    "widgets.bpe_merge_stepper(sp, 'lowest newer')",
]


def test_bpe_merge_stepper(tmp_path):
    source = notebook_from_cells(CELLS, tmp_path / "bpe_stepper.ipynb")
    with lesson_in_browser(source, tmp_path, "bpe", run_timeout=180) as lp:
        out = cell_output(lp.page, "widgets.bpe_merge_stepper(")
        slider, pieces = Slider(out, "merge"), out.locator(".bpe-pieces")
        wait_until(lambda: MERGE_RE.search(pieces.inner_text()), 30, "the stepper's caption")
        n = int(MERGE_RE.search(pieces.inner_text()).group(2))
        assert n >= 2 and slider.value() == 0 and slider.max() == n
        boxes = pieces.locator("span")
        start = boxes.count()
        assert start == len("▁lowest") + len("▁newer"), f"{start} pieces at merge 0: expected the characters"
        lp.shot(out, "merge0")

        slider.press("ArrowRight")
        slider.wait_value(1)
        wait_until(lambda: f"merge 1 of {n}" in pieces.inner_text() and boxes.count() < start, 15,
                   "merge 1: fewer pieces")
        assert " + " in pieces.inner_text(), "the caption names the merge"

        play_to_end(out, lambda: f"merge {n} of {n}" in pieces.inner_text(), n, "Play to reach the last merge")
        slider.wait_value(n)
        final = boxes.count()
        lp.shot(out, "last_merge")
        slider.press("ArrowLeft")
        slider.wait_value(n - 1)
        wait_until(lambda: f"merge {n - 1} of {n}" in pieces.inner_text(), 15, "one merge back")
        assert play_stopped(out) and slider.value() == n - 1 and boxes.count() > final, "Play undid the step back"

        type_into(text_box(out, "words:"), "slowest")
        wait_until(lambda: "merge 0 of" in pieces.inner_text() and boxes.count() == len("▁slowest"), 30,
                   "the stepper to restart on the typed word")
        slider.wait_value(0)
        lp.shot(out, "typed")
        lp.mark("bpe merge stepper")
