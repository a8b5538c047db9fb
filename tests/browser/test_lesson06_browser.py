"""Lesson 06 in a real browser (JupyterLab + headless Chromium + Playwright).

Runs a copy of the lesson under the ``ci`` profile, then operates

- the beam explorer: the beam size, α (length) and β (coverage) sliders each rerun the search
  (the n-best header names the new setting; a wider beam draws a new step picture); Play walks
  the search to its last step (caption "step N of N", step picture and search tree change);
  a typed German sentence reruns it (new n-best list);
- the decoder stepper (step, Play, typed sentence) and the attention animation (Play, a step
  back), as in lesson 03.

Screenshots go to ``$COURSE_ARTIFACTS_DIR`` (``lesson06_*.png``). See ``browser_helpers.py``.
"""

from __future__ import annotations

import re

import pytest

from browser_helpers import (
    STEP_RE,
    Slider,
    cell_output,
    check_attention_animation,
    check_decoder_stepper,
    image_hash,
    image_loaded,
    lesson_in_browser,
    play_stopped,
    play_to_end,
    text_box,
    type_into,
    wait_for_new_image,
    wait_until,
)

pytestmark = pytest.mark.browser

HEADER_RE = re.compile(r"beam size (\d+), α = ([\d.]+), β = ([\d.]+)")


def check_beam_explorer(lp) -> None:
    out = cell_output(lp.page, "widgets.beam_explorer(")
    size, alpha, beta, step = (Slider(out, label) for label in ("beam size", "α (length)", "β (coverage)", "step"))
    nbest, caption = out.locator(".beam-nbest"), out.locator(".beam-caption")
    figure, tree = out.locator("img.beam-figure"), out.locator("img.beam-tree")
    wait_until(lambda: HEADER_RE.search(nbest.inner_text()), 30, "the n-best list")
    wait_until(lambda: image_loaded(figure) and image_loaded(tree), 30, "the beam pictures")

    def header():
        k, a, b = HEADER_RE.search(nbest.inner_text()).groups()
        return int(k), float(a), float(b)

    k0, a0, b0 = header()
    assert (k0, a0, b0) == (size.value(), alpha.value(), beta.value()), "the header disagrees with the sliders"
    fig0 = image_hash(figure)
    lp.shot(out, "beam_start")

    # beam size: one wider (or narrower at the top of its range)
    key, k1 = ("ArrowRight", k0 + 1) if k0 < size.max() else ("ArrowLeft", k0 - 1)
    size.press(key)
    size.wait_value(k1)
    wait_until(lambda: header()[0] == k1, 60, f"the n-best list for beam size {k1}")
    fig1 = wait_for_new_image(figure, fig0, 30, "the step picture to show the other beam width")
    assert step.value() == 0, "a new search starts at step 1"

    # alpha: one step of 0.1
    a1 = round(a0 + 0.1, 1) if a0 < alpha.max() - 1e-9 else round(a0 - 0.1, 1)
    alpha.press("ArrowRight" if a1 > a0 else "ArrowLeft")
    alpha.wait_value(a1)
    wait_until(lambda: abs(header()[1] - a1) < 1e-9, 60, f"the n-best list for α = {a1}")

    # beta: one step of 0.05 (GNMT has attention, so the slider is live)
    assert not beta.disabled(), "β is disabled, but lesson 06's model has attention"
    b1 = round(b0 + 0.05, 2) if b0 < beta.max() - 1e-9 else round(b0 - 0.05, 2)
    beta.press("ArrowRight" if b1 > b0 else "ArrowLeft")
    beta.wait_value(b1)
    wait_until(lambda: abs(header()[2] - b1) < 1e-9, 60, f"the n-best list for β = {b1}")
    lp.shot(out, "beam_settings_moved")

    # Play: walk the search to its last step
    wait_until(lambda: STEP_RE.search(caption.inner_text()), 30, "the step caption")
    n = int(STEP_RE.search(caption.inner_text()).group(2))
    assert n >= 2, f"beam search took {n} step(s)"
    fig_step1, tree_step1 = image_hash(figure), image_hash(tree)
    play_to_end(out, lambda: f"step {n} of {n}" in caption.inner_text(), n, "Play to reach the last step")
    step.wait_value(n - 1)
    fig_last = wait_for_new_image(figure, fig_step1, 30, "the step picture to change while playing")
    tree_last = wait_for_new_image(tree, tree_step1, 30, "the search tree to grow while playing")
    lp.shot(out, "beam_last_step")

    # the tree (issue 15 §3): one step back draws the tree without the last step, and it stays;
    # forward again draws the same last tree (Agg PNGs are byte-identical)
    step.press("ArrowLeft")
    step.wait_value(n - 2)
    wait_until(lambda: f"step {n - 1} of {n}" in caption.inner_text(), 30, "the caption one step back")
    wait_for_new_image(tree, tree_last, 30, "the search tree without its last step")
    assert play_stopped(out) and step.value() == n - 2, "Play undid the step back"
    lp.shot(out, "beam_tree_step_back")
    step.press("ArrowRight")
    step.wait_value(n - 1)
    wait_until(lambda: image_loaded(tree) and image_hash(tree) == tree_last, 30, "the last step's tree again")

    # a typed sentence reruns the search and starts again at step 1
    before = nbest.inner_text()
    type_into(text_box(out, "source:"), "zwei hunde spielen im schnee .")
    wait_until(lambda: nbest.inner_text() != before, 60, "a new n-best list for the typed sentence")
    step.wait_value(0)
    wait_until(lambda: "step 1 of" in caption.inner_text(), 30, "the caption to restart at step 1")
    wait_for_new_image(figure, fig_last, 30, "the step picture of the typed sentence's first step")
    wait_for_new_image(tree, tree_last, 30, "the search tree of the typed sentence's first step")
    assert header() == (k1, a1, b1), "typing a sentence must keep the settings"
    lp.shot(out, "beam_typed")
    lp.mark("beam explorer")
    assert fig1  # the wider beam's picture was seen


def test_lesson06_beam_explorer_stepper_and_animation(tmp_path):
    with lesson_in_browser("06_subwords_beam_search.ipynb", tmp_path, "lesson06", run_timeout=900) as lp:
        check_beam_explorer(lp)
        check_decoder_stepper(lp, "ein mann fährt fahrrad .")
        check_attention_animation(lp)
