"""Lesson 02 in a real browser: JupyterLab + headless Chromium (Debian's) driven by Playwright.

Starts JupyterLab on 127.0.0.1 (see ``lab_server.py``), opens a copy of lesson 02, clears
its outputs, runs all cells, then:

- moves the explorer's first decoder-state slider one step (10 -> 11) and asserts that the
  figure's PNG bytes (SHA-256 of what its ``<img src>`` points to) and the printed scores
  changed;
- walks the four-step animation to its last step and asserts its picture changed.

Screenshots go to ``$COURSE_ARTIFACTS_DIR`` (default: pytest's ``tmp_path``); their paths are
printed. Needs ``/usr/bin/chromium`` and the ``playwright`` package (``.ci/install-browser.sh``);
without them the test is skipped, unless ``COURSE_REQUIRE_BROWSER=1``, when it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

import lab_server

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
LESSON = Path("lessons") / "02_attention_by_hand.ipynb"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]

pytestmark = pytest.mark.browser


def _require_browser():
    """Return playwright's sync_playwright, or skip/fail with the reason."""
    problems = []
    if not CHROMIUM.exists():
        problems.append(f"{CHROMIUM} is missing (apt-get install chromium, or run .ci/install-browser.sh)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
        problems.append("the python package 'playwright' is missing (pip install playwright; never 'playwright install')")
    if problems:
        reason = "browser test needs: " + "; ".join(problems)
        if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " [COURSE_REQUIRE_BROWSER=1]")
        pytest.skip(reason)
    return sync_playwright


def _artifacts_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("COURSE_ARTIFACTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- page helpers ---------------------------------------------------------------------------

IMG_SHA256_JS = """
async (img) => {
    const response = await fetch(img.src);
    const bytes = await response.arrayBuffer();
    const digest = await crypto.subtle.digest("SHA-256", bytes);
    return Array.from(new Uint8Array(digest)).map(b => b.toString(16).padStart(2, "0")).join("");
}
"""


def image_hash(locator) -> str:
    """SHA-256 of the bytes an <img> shows (works for blob: and data: URLs)."""
    return locator.evaluate(IMG_SHA256_JS)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def run_command(page, command: str) -> None:
    """Run a JupyterLab command through the command palette (no default shortcuts needed)."""
    labels = {
        "notebook:clear-all-cell-outputs": "Clear Outputs of All Cells",
        "notebook:run-all-cells": "Run All Cells",
    }
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".lm-CommandPalette-input")
    palette.wait_for(state="visible", timeout=10_000)
    palette.fill(labels[command])
    item = page.locator(f'.lm-CommandPalette-item[data-command="{command}"]').first
    item.wait_for(state="visible", timeout=10_000)
    item.click()


def prompts(page) -> list[str]:
    return page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()


def kernel_idle(page) -> bool:
    return page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle")).count() > 0


def run_all_and_wait(page, n_code: int, timeout: float = 180.0) -> None:
    """Run All Cells; retry once if no prompt changes (a click before the kernel is
    connected is silently ignored); then wait until every code cell has a number."""
    for attempt in range(2):
        page.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
        run_command(page, "notebook:run-all-cells")
        try:
            wait_until(lambda: any(re.search(r"\[(\*|\d+)\]", p) for p in prompts(page)), 15,
                       "a prompt to show [*] or [n] after Run All")
            break
        except AssertionError:
            if attempt == 1:
                raise
    wait_until(
        lambda: (lambda ps: len(ps) == n_code and all(re.search(r"\[\d+\]", p) for p in ps))(prompts(page)),
        timeout, f"all {n_code} code cells to finish",
    )
    wait_until(lambda: kernel_idle(page), 30, "the kernel to be idle after Run All")


# -- the test -------------------------------------------------------------------------------


def test_lesson02_explorer_reacts_to_slider(tmp_path):
    sync_playwright = _require_browser()
    t0 = time.monotonic()
    artifacts = _artifacts_dir(tmp_path)
    work = Path(tempfile.mkdtemp(prefix="course_browser_"))
    root = work / "root"
    (root / LESSON.parent).mkdir(parents=True)
    shutil.copy(REPO / LESSON, root / LESSON)  # the browser never touches the repository's copy
    nb = nbformat.read(REPO / LESSON, as_version=4)
    n_cells, n_code = len(nb.cells), sum(c.cell_type == "code" for c in nb.cells)
    env = {
        "COURSE_PROFILE": "ci",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    server = lab_server.start(root, work / "lab", extra_env=env)
    timings = {"server up": time.monotonic() - t0}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(30_000)
                page.goto(server.url(f"lab/tree/{LESSON.as_posix()}"))

                # 1. The notebook is open, fully rendered, and its kernel is connected and idle.
                wait_until(lambda: page.locator(".jp-Notebook .jp-Cell").count() == n_cells, 90,
                           f"{n_cells} cells in the DOM")
                wait_until(lambda: kernel_idle(page), 90, "'Python 3 (ipykernel) | Idle' in the status bar")
                timings["kernel idle"] = time.monotonic() - t0

                # 2. Clear the committed outputs, so prompts read [ ] and every output is fresh.
                page.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
                run_command(page, "notebook:clear-all-cell-outputs")
                wait_until(lambda: not any(re.search(r"\d", p) for p in prompts(page)), 15,
                           "cleared prompts")
                assert page.locator(".attn-explorer").count() == 0

                # 3. Run All Cells and wait for every prompt to get its number.
                run_all_and_wait(page, n_code)
                timings["all cells run"] = time.monotonic() - t0
                errors = page.locator('[data-mime-type="application/vnd.jupyter.error"]')
                assert errors.count() == 0, "a cell raised:\n" + "\n".join(errors.all_inner_texts())

                # 4. The explorer: read numbers and picture, move the slider, read again.
                explorer = page.locator(".attn-explorer")
                explorer.wait_for(state="visible", timeout=30_000)
                explorer.scroll_into_view_if_needed()
                figure = explorer.locator("img.attn-figure")
                numbers = explorer.locator(".attn-numbers")
                wait_until(lambda: "scores  = [15, 60, 15, 35]" in numbers.inner_text(), 30,
                           "the example's scores in the explorer")
                wait_until(lambda: figure.evaluate("img => img.complete && img.naturalWidth > 0"), 30,
                           "the explorer's figure to load")
                before_hash, before_text = image_hash(figure), numbers.inner_text()
                shot_before = artifacts / "lesson02_explorer_before.png"
                explorer.screenshot(path=str(shot_before))

                handle = explorer.locator(".attn-main-slider .noUi-handle")
                assert handle.get_attribute("aria-valuenow") in ("10", "10.0", "10.00")
                handle.focus()
                handle.press("ArrowRight")
                wait_until(lambda: handle.get_attribute("aria-valuenow") in ("11", "11.0", "11.00"), 10,
                           "the slider to read 11")
                wait_until(lambda: "scores  = [15, 65, 16, 35]" in numbers.inner_text(), 30,
                           "the printed scores to follow the slider")
                wait_until(lambda: figure.evaluate("img => img.complete && img.naturalWidth > 0")
                           and image_hash(figure) != before_hash, 30, "the explorer's picture to change")
                after_text = numbers.inner_text()
                assert after_text != before_text
                assert "h_t     = [11, 5, 10]" in after_text
                timings["slider moved"] = time.monotonic() - t0
                page.mouse.move(0, 0)  # no hover highlight in the screenshot
                shot_after = artifacts / "lesson02_explorer_after.png"
                explorer.screenshot(path=str(shot_after))

                # 5. The animation: step to the end (score -> softmax -> weight -> sum).
                animation = page.locator(".attn-animation")
                animation.scroll_into_view_if_needed()
                steps_img = animation.locator("img.attn-steps-figure")
                first_hash = image_hash(steps_img)
                step_handle = animation.locator(".attn-step-slider .noUi-handle")
                step_handle.focus()
                for _ in range(4):
                    step_handle.press("ArrowRight")
                step_text = animation.locator(".attn-step-text")
                wait_until(lambda: "Step 4, sum" in step_text.inner_text(), 15, "the animation's last step")
                wait_until(lambda: image_hash(steps_img) != first_hash, 15, "the animation's picture to change")
                shot_anim = artifacts / "lesson02_animation_step4.png"
                page.mouse.move(0, 0)
                animation.screenshot(path=str(shot_anim))
                page.screenshot(path=str(artifacts / "lesson02_page.png"))
            finally:
                browser.close()
    except BaseException:
        print("---- jupyter lab log (tail) ----\n" + server.log_tail())
        raise
    finally:
        lab_server.stop(server)
        lab_server.cleanup(work)
    assert not lab_server.port_is_open(server.port)
    timings["total"] = time.monotonic() - t0
    print("screenshots:", shot_before, shot_after, shot_anim, sep="\n  ")
    print("timings (s from start):", ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
