"""Lesson 02 in a real browser: JupyterLab + headless Chromium (Debian's) driven by Playwright.

Starts JupyterLab on 127.0.0.1 (see ``lab_server.py``), opens a copy of lesson 02, clears
its outputs, runs all cells (``browser_helpers.lesson_in_browser``), then:

- moves the explorer's first decoder-state slider one step (10 -> 11) and asserts that the
  figure's PNG bytes (SHA-256 of what its ``<img src>`` points to) and the printed scores
  changed;
- walks the four-step animation to its last step and asserts its picture changed.

Screenshots go to ``$COURSE_ARTIFACTS_DIR`` (default: pytest's ``tmp_path``); their paths are
printed. Needs ``/usr/bin/chromium`` and the ``playwright`` package (``.ci/install-browser.sh``);
without them the test is skipped, unless ``COURSE_REQUIRE_BROWSER=1``, when it fails.
"""

from __future__ import annotations

import pytest

from browser_helpers import image_hash, image_loaded, lesson_in_browser, wait_for_new_image, wait_until

pytestmark = pytest.mark.browser


def test_lesson02_explorer_reacts_to_slider(tmp_path):
    with lesson_in_browser("02_attention_by_hand.ipynb", tmp_path, "lesson02", run_timeout=180) as lp:
        page = lp.page
        # The explorer: read numbers and picture, move the slider, read again.
        explorer = page.locator(".attn-explorer")
        explorer.wait_for(state="visible", timeout=30_000)
        explorer.scroll_into_view_if_needed()
        figure = explorer.locator("img.attn-figure")
        numbers = explorer.locator(".attn-numbers")
        wait_until(lambda: "scores  = [15, 60, 15, 35]" in numbers.inner_text(), 30,
                   "the example's scores in the explorer")
        wait_until(lambda: image_loaded(figure), 30, "the explorer's figure to load")
        before_hash, before_text = image_hash(figure), numbers.inner_text()
        lp.shot(explorer, "explorer_before")

        handle = explorer.locator(".attn-main-slider .noUi-handle")
        wait_until(lambda: handle.get_attribute("aria-valuenow") in ("10", "10.0", "10.00"), 10, "the slider at 10")
        handle.focus()
        handle.press("ArrowRight")
        wait_until(lambda: handle.get_attribute("aria-valuenow") in ("11", "11.0", "11.00"), 10,
                   "the slider to read 11")
        wait_until(lambda: "scores  = [15, 65, 16, 35]" in numbers.inner_text(), 30,
                   "the printed scores to follow the slider")
        wait_for_new_image(figure, before_hash, 30, "the explorer's picture to change")
        after_text = numbers.inner_text()
        assert after_text != before_text
        assert "h_t     = [11, 5, 10]" in after_text
        lp.mark("slider moved")
        lp.shot(explorer, "explorer_after")

        # The animation: step to the end (score -> softmax -> weight -> sum).
        animation = page.locator(".attn-animation")
        animation.scroll_into_view_if_needed()
        steps_img = animation.locator("img.attn-steps-figure")
        wait_until(lambda: image_loaded(steps_img), 30, "the animation's first picture")
        first_hash = image_hash(steps_img)
        step_handle = animation.locator(".attn-step-slider .noUi-handle")
        step_handle.focus()
        for _ in range(4):
            step_handle.press("ArrowRight")
        step_text = animation.locator(".attn-step-text")
        wait_until(lambda: "Step 4, sum" in step_text.inner_text(), 15, "the animation's last step")
        wait_for_new_image(steps_img, first_hash, 15, "the animation's picture to change")
        lp.shot(animation, "animation_step4")
        page.screenshot(path=str(lp.artifacts / "lesson02_page.png"))
