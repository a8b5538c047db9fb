"""Shared helpers for the real-browser tests: JupyterLab + headless Chromium + Playwright.

:func:`lesson_in_browser` opens a throw-away copy of a lesson in JupyterLab (``lab_server``),
clears its outputs, runs all cells under the ``ci`` profile, checks that no cell raised, and
hands back a :class:`LessonPage`. Widgets are found the way a learner finds them: the
output of the code cell whose source calls the widget (``cell_output(page, "widgets.beam_explorer(")``),
then a control by its description label (``Slider(scope, "beam size")``, ``text_box(scope,
"source:")``) or the Play button. Pictures are compared by the SHA-256 of the bytes their
``<img>`` shows (Matplotlib's Agg PNGs are byte-identical run to run).

Needs ``/usr/bin/chromium`` and the ``playwright`` package (``.ci/install-browser.sh``);
without them the tests are skipped, unless ``COURSE_REQUIRE_BROWSER=1``, when they fail.
Screenshots go to ``$COURSE_ARTIFACTS_DIR`` (default: pytest's ``tmp_path``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import nbformat
import pytest

import lab_server

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def require_browser():
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


def artifacts_dir(tmp_path: Path) -> Path:
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


def image_loaded(locator) -> bool:
    return bool(locator.evaluate("img => img.complete && img.naturalWidth > 0"))


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def wait_for_new_image(img, old_hash: str, timeout: float, what: str) -> str:
    """Wait until ``img`` is loaded and shows other bytes than ``old_hash``; return the new hash."""
    def changed():
        if not image_loaded(img):
            return None
        h = image_hash(img)
        return h if h != old_hash else None
    return wait_until(changed, timeout, what)


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


def error_outputs(page) -> list[str]:
    return page.locator('[data-mime-type="application/vnd.jupyter.error"]').all_inner_texts()


def run_all_and_wait(page, n_code: int, timeout: float = 180.0) -> None:
    """Run All Cells; retry once if no prompt changes (a click before the kernel is
    connected is silently ignored); then wait until every code cell has a number.
    A cell that raises stops Run All: then fail at once with its traceback."""
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

    def finished():
        errors = error_outputs(page)
        if errors:
            raise AssertionError("a cell raised:\n" + "\n".join(errors))
        ps = prompts(page)
        return len(ps) == n_code and all(re.search(r"\[\d+\]", p) for p in ps)

    try:
        wait_until(finished, timeout, f"all {n_code} code cells to finish", interval=0.5)
    except AssertionError as err:
        ps = prompts(page)
        running = [i for i, p in enumerate(ps) if "*" in p]
        done = sum(bool(re.search(r"\[\d+\]", p)) for p in ps)
        raise AssertionError(f"{err}: {done} of {len(ps)} code cells done, running: code cell(s) {running}") from None
    wait_until(lambda: kernel_idle(page), 30, "the kernel to be idle after Run All")


# -- widgets, found by the cell that shows them and by their labels -------------------------


def cell_output(page, call: str):
    """The output area of the one code cell whose source contains ``call``.

    Raises:
        AssertionError: no such cell, or more than one.
    """
    cells = page.locator(".jp-CodeCell").filter(has=page.locator(".jp-InputArea", has_text=call))
    n = cells.count()
    assert n == 1, f"expected one code cell calling {call!r}, found {n}"
    out = cells.first.locator(".jp-OutputArea")
    out.scroll_into_view_if_needed()
    return out


def _labelled(scope, css: str, label: str):
    return scope.locator(css).filter(
        has=scope.page.locator(".widget-label", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")))


class Slider:
    """An ipywidgets slider found by its description label inside ``scope``."""

    def __init__(self, scope, label: str):
        self.label = label
        self.box = _labelled(scope, ".widget-slider", label)
        n = self.box.count()
        assert n == 1, f"expected one slider labelled {label!r}, found {n}"
        self.handle = self.box.locator(".noUi-handle").first

    def value(self) -> float:
        """The value the slider's readout shows (noUiSlider's ``aria-valuenow`` has one decimal
        only: 0.25 reads "0.3"), falling back to ``aria-valuenow`` without a readout."""
        readout = self.box.locator(".widget-readout")
        if readout.count():
            text = readout.first.inner_text().strip()
            try:
                return float(text)
            except ValueError:
                pass
        return float(self.handle.get_attribute("aria-valuenow"))

    def max(self) -> float:
        return float(self.handle.get_attribute("aria-valuemax"))

    def disabled(self) -> bool:
        return self.box.locator("[disabled]").count() > 0 or "disabled" in (self.box.get_attribute("class") or "")

    def press(self, key: str, times: int = 1) -> None:
        self.handle.focus()
        for _ in range(times):
            self.handle.press(key)

    def wait_value(self, value: float, timeout: float = 15.0) -> None:
        seen = []

        def reached():
            seen.append(self.value())
            return abs(seen[-1] - value) < 1e-6

        try:
            wait_until(reached, timeout, f"slider {self.label!r} to read {value}")
        except AssertionError as err:
            raise AssertionError(f"{err}; it reads {seen[-1] if seen else '?'}") from None


def text_box(scope, label: str):
    """The <input> of the ipywidgets Text labelled ``label`` inside ``scope``."""
    box = _labelled(scope, ".widget-text", label)
    assert box.count() == 1, f"expected one text box labelled {label!r}, found {box.count()}"
    return box.locator("input").first


def type_into(box, text: str) -> None:
    """Replace a text box's value and press Enter (the widgets update on Enter)."""
    box.click()
    box.fill(text)
    box.press("Enter")


def play_button(scope):
    """The Play button of the one ipywidgets Play inside ``scope``."""
    buttons = scope.locator(".widget-play button").filter(has=scope.page.locator("i.fa-play"))
    assert buttons.count() == 1, f"expected one Play button, found {buttons.count()}"
    return buttons.first


def play_stopped(scope) -> bool:
    """True when the one ipywidgets Play in ``scope`` is not playing (its button shows ▶, not ⏸)."""
    return (scope.locator(".widget-play i.fa-pause").count() == 0
            and scope.locator(".widget-play i.fa-play").count() == 1)


def play_to_end(scope, at_end, n_frames: int, what: str) -> None:
    """Press Play and wait for the STATE "``at_end()`` and Play stopped", however slow the machine.

    The course's Play stops itself when the slider reaches the last frame (from the kernel,
    before that frame is drawn), so once this returns a step the test makes stays made.
    The timeout is only a bound for a hung kernel (a minute plus 5 s per frame).
    """
    play_button(scope).click()
    wait_until(lambda: at_end() and play_stopped(scope), 60 + 5 * n_frames, f"{what} and Play to stop")


# -- a lesson, run in the browser ----------------------------------------------------------


@dataclass
class LessonPage:
    page: object
    artifacts: Path
    prefix: str
    timings: dict = field(default_factory=dict)
    t0: float = field(default_factory=time.monotonic)
    shots: list = field(default_factory=list)

    def mark(self, name: str) -> None:
        self.timings[name] = time.monotonic() - self.t0

    def shot(self, locator, name: str) -> Path:
        """Screenshot ``locator`` (no hover highlight) to ``<artifacts>/<prefix>_<name>.png``."""
        self.page.mouse.move(0, 0)
        path = self.artifacts / f"{self.prefix}_{name}.png"
        locator.screenshot(path=str(path))
        self.shots.append(path)
        return path


def notebook_from_cells(cells: list[str], path: Path) -> str:
    """Write ``cells`` (code sources) as a Python 3 notebook at ``path``; return the path, for
    :func:`lesson_in_browser` (tests that build their own notebook)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, path)
    return str(path)


@contextmanager
def lesson_in_browser(lesson: str, tmp_path: Path, prefix: str, run_timeout: float = 600.0,
                      extra_env: dict | None = None) -> Iterator[LessonPage]:
    """Open a copy of ``lessons/<lesson>`` in JupyterLab, clear it, Run All under ``ci``.

    ``lesson`` is a file name in the repository's ``lessons/``, or an absolute path to any
    notebook (a test may write its own).

    The browser never touches the repository's copy; the kernel imports ``course_lib`` from
    the checkout (``PYTHONPATH``); everything the lesson writes lands in a temporary folder.
    """
    sync_playwright = require_browser()
    t0 = time.monotonic()
    artifacts = artifacts_dir(tmp_path)
    source = Path(lesson) if Path(lesson).is_absolute() else REPO / "lessons" / lesson
    rel = Path("lessons") / source.name
    work = Path(tempfile.mkdtemp(prefix="course_browser_"))
    root = work / "root"
    (root / rel.parent).mkdir(parents=True)
    shutil.copy(source, root / rel)
    nb = nbformat.read(source, as_version=4)
    n_cells, n_code = len(nb.cells), sum(c.cell_type == "code" for c in nb.cells)
    env = {}
    mirror = REPO.parent / "shared" / "data" / "anki"
    if not os.environ.get("COURSE_ANKI_URL") and mirror.is_dir():  # as conftest.py does for Multi30k
        env["COURSE_ANKI_URL"] = mirror.resolve().as_uri() + "/"
    env = {
        **env,
        "COURSE_PROFILE": "ci",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        **(extra_env or {}),
    }
    server = lab_server.start(root, work / "lab", extra_env=env)
    session = None
    page = None
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1100})
                page.set_default_timeout(30_000)
                session = LessonPage(page, artifacts, prefix, t0=t0)
                session.mark("server up")
                page.goto(server.url(f"lab/tree/{rel.as_posix()}"))
                wait_until(lambda: page.locator(".jp-Notebook .jp-Cell").count() == n_cells, 90,
                           f"{n_cells} cells in the DOM")
                wait_until(lambda: kernel_idle(page), 90, "'Python 3 (ipykernel) | Idle' in the status bar")
                session.mark("kernel idle")
                page.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
                run_command(page, "notebook:clear-all-cell-outputs")
                wait_until(lambda: not any(re.search(r"\d", p) for p in prompts(page)), 15, "cleared prompts")
                assert page.locator(".widget-slider").count() == 0, "outputs were not cleared"
                try:
                    run_all_and_wait(page, n_code, timeout=run_timeout)
                except BaseException:
                    page.screenshot(path=str(artifacts / f"{prefix}_FAILED_run_all.png"))
                    raise
                session.mark("all cells run")
                assert not error_outputs(page), "a cell raised:\n" + "\n".join(error_outputs(page))
                try:
                    yield session
                except BaseException:
                    try:
                        page.screenshot(path=str(artifacts / f"{prefix}_FAILED_page.png"), full_page=False)
                    except Exception:  # noqa: BLE001 - the original failure matters more
                        pass
                    raise
            finally:
                browser.close()
    except BaseException:
        print("---- jupyter lab log (tail) ----\n" + server.log_tail())
        raise
    finally:
        lab_server.stop(server)
        lab_server.cleanup(work)
    assert not lab_server.port_is_open(server.port)
    session.mark("total")
    print("screenshots:", *session.shots, sep="\n  ")
    print("timings (s from start):", ", ".join(f"{k} {v:.1f}" for k, v in session.timings.items()))


# -- the checks shared by several lessons ---------------------------------------------------

STEP_RE = re.compile(r"step (\d+) of (\d+)")
WORD_RE = re.compile(r"word (\d+) of (\d+)")


def _caption(scope):
    return scope.locator(".widget-html").first


def check_decoder_stepper(lp: LessonPage, new_sentence: str, expect_words: tuple[str, ...] = ()) -> None:
    """The decoder stepper: a step forward, Play to the end, a typed sentence, then a what-if.

    Asserts that the caption ("step i of N") and the picture change with each move, that Play
    reaches the last step and stops, that a typed sentence restarts the stepper at step 1 with a
    new source (containing ``expect_words``), and :func:`check_what_if` there.
    """
    out = cell_output(lp.page, "widgets.decoder_stepper(")
    slider, caption = Slider(out, "step"), _caption(out)
    img = out.locator("img.course-step-figure")
    wait_until(lambda: STEP_RE.search(caption.inner_text()), 30, "the stepper's caption")
    wait_until(lambda: image_loaded(img), 30, "the stepper's picture")
    n = int(STEP_RE.search(caption.inner_text()).group(2))
    assert n >= 2, f"the stepper's translation has {n} step(s); need 2 to step"
    assert slider.value() == 0 and slider.max() == n - 1
    h0, text0 = image_hash(img), caption.inner_text()
    lp.shot(out, "stepper_step1")

    slider.press("ArrowRight")
    slider.wait_value(1)
    wait_until(lambda: f"step 2 of {n}" in caption.inner_text(), 15, "the caption to show step 2")
    h1 = wait_for_new_image(img, h0, 15, "the stepper's picture to change at step 2")
    assert caption.inner_text() != text0

    play_to_end(out, lambda: f"step {n} of {n}" in caption.inner_text(), n, "Play to reach the last step")
    slider.wait_value(n - 1)
    h_last = wait_for_new_image(img, h1, 15, "the stepper's picture to change while playing")
    lp.shot(out, "stepper_last_step")

    box = text_box(out, "source:")
    before = caption.inner_text()
    type_into(box, new_sentence)
    wait_until(lambda: caption.inner_text() != before and "step 1 of" in caption.inner_text(), 60,
               "the stepper to restart on the typed sentence")
    slider.wait_value(0)
    source_line = caption.inner_text().split("\n")[0]
    for word in expect_words:
        assert word in source_line, f"{word!r} not in the stepper's source line {source_line!r}"
    wait_for_new_image(img, h_last, 30, "the stepper's picture for the typed sentence's first step")
    lp.shot(out, "stepper_typed")
    check_what_if(lp, out, slider, caption)
    lp.mark("decoder stepper")


def check_what_if(lp: LessonPage, out, slider: Slider, caption) -> None:
    """The stepper's what-if (issue 15 §3) at its current step: pick another word of the top-k in
    "what if:", continue with it (the caption names the choice, the slider stays, the translation
    line has the word at that step and the next step decodes from it), then "back to greedy"."""
    select = out.locator(".course-whatif-choice select")
    step = int(slider.value())
    current = select.input_value()
    others = [o for o in select.locator("option").all_inner_texts() if o.strip() not in (current, "<eos>")]
    assert others, f"the what-if dropdown offers no word but {current!r}"
    word = others[0].strip()

    def translation() -> list[str]:
        line = next((l for l in caption.inner_text().split("\n") if l.startswith("translation:")), "")
        return line.split(":", 1)[-1].split()

    greedy = translation()
    select.select_option(label=word)
    out.locator("button.course-whatif-go").click()
    wait_until(lambda: f"{word} instead of" in caption.inner_text(), 60, f"the caption to name the what-if {word!r}")
    slider.wait_value(step)
    if "\u2581" in word or any("\u00b7" in t for t in greedy):  # subword pieces: the line shows words
        from course_lib.viz import display_tokens

        shown = display_tokens([word])[0].lstrip("\u00b7")
        assert shown in " ".join(translation()), f"the translation {translation()} does not show {word!r}"
    else:  # one word per step
        assert translation()[step:step + 1] == [word], f"the translation {translation()} has no {word!r} at step {step + 1}"
    lp.shot(out, "stepper_what_if")
    slider.press("ArrowRight")
    slider.wait_value(step + 1)
    wait_until(lambda: f"step {step + 2} of" in caption.inner_text(), 30, "the step after the what-if")
    out.locator("button.course-whatif-reset").click()
    wait_until(lambda: "instead of" not in caption.inner_text(), 60, "back to greedy to undo the what-if")
    slider.wait_value(min(step + 1, len(greedy) - 1))  # the slider stays (on greedy's last step if shorter)
    assert translation() == greedy, "back to greedy gives the greedy translation again"


def check_attention_animation(lp: LessonPage) -> None:
    """The attention animation: Play reveals the heatmap row by row to the last word; a step
    back shows the word before. Caption "word i of N" and the picture change each time."""
    out = cell_output(lp.page, "widgets.attention_animation(")
    slider, caption = Slider(out, "word"), _caption(out)
    img = out.locator("img.course-attention-figure")
    wait_until(lambda: WORD_RE.search(caption.inner_text()), 30, "the animation's caption")
    wait_until(lambda: image_loaded(img), 30, "the animation's picture")
    n = int(WORD_RE.search(caption.inner_text()).group(2))
    assert n >= 2, f"the animated translation has {n} row(s)"
    assert f"word 1 of {n}" in caption.inner_text() and slider.value() == 0
    h0 = image_hash(img)
    lp.shot(out, "animation_word1")

    play_to_end(out, lambda: f"word {n} of {n}" in caption.inner_text(), n, "Play to reach the last word")
    slider.wait_value(n - 1)
    h_last = wait_for_new_image(img, h0, 15, "the heatmap to grow while playing")
    lp.shot(out, "animation_last_word")

    # issue 15 §4: a step back after Play reached the end stays (Play is stopped, nothing undoes it)
    slider.press("ArrowLeft")
    slider.wait_value(n - 2)
    wait_until(lambda: f"word {n - 1} of {n}" in caption.inner_text(), 15, "one word back")
    h_back = wait_for_new_image(img, h_last, 15, "the heatmap to lose its last row")
    assert play_stopped(out) and slider.value() == n - 2, "Play undid the step back"
    assert h_back != h0 or n == 2
    lp.mark("attention animation")
