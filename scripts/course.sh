#!/usr/bin/env bash
# One entry point for the course's two quick-start commands (see README.md):
#
#   bash scripts/course.sh lessons [--profile ci|cpu|gpu] [--out DIR]
#       set up a virtual environment and run the course's main job: execute every lesson
#       top to bottom, headless, and write the executed notebooks plus a summary table.
#   bash scripts/course.sh test
#       set up the environment and run the tests: unit tests, nbval over every lesson under
#       the ci profile, and the real-browser test (skipped unless Chromium is installed).
#   bash scripts/course.sh setup
#       only create/update the environment.
#
# Environment variables:
#   COURSE_VENV         where the virtual environment lives (default: .venv in the repository)
#   COURSE_TORCH_SPEC   pip requirement used to install PyTorch when it is missing (default: the
#                       CPU build from PyTorch's index on Linux without an NVIDIA GPU, else torch)
#   PYTHON              the Python (>= 3.10) used to create the environment (default: python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${COURSE_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

install_torch() {
    # COURSE_TORCH_SPEC wins. Otherwise, on Linux without an NVIDIA GPU, try PyTorch's CPU
    # wheel index first (plain `pip install torch` on Linux brings several GB of CUDA
    # libraries), and fall back to the default index if that one cannot be reached.
    if [ -n "${COURSE_TORCH_SPEC:-}" ]; then
        echo "course: installing PyTorch ($COURSE_TORCH_SPEC)"
        python -m pip install -q "$COURSE_TORCH_SPEC" 2>&1 | grep -v "^WARNING: Location" || true
        return
    fi
    if [ "$(uname -s)" = "Linux" ] && ! command -v nvidia-smi >/dev/null 2>&1; then
        echo "course: no NVIDIA GPU found: installing the CPU build of PyTorch"
        if python -m pip install -q --timeout 15 --retries 1 torch --index-url https://download.pytorch.org/whl/cpu \
                >/dev/null 2>&1; then
            return
        fi
        echo "course: PyTorch's CPU index is unreachable; installing torch from the default index"
    else
        echo "course: installing PyTorch"
    fi
    python -m pip install -q torch 2>&1 | grep -v "^WARNING: Location" || true
}

setup() {
    if [ ! -x "$VENV/bin/python" ]; then
        echo "course: creating virtual environment in $VENV"
        "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 needed, found " + sys.version' \
            || { echo "course: $PYTHON is too old; set PYTHON=python3.11 (or newer)" >&2; exit 1; }
        "$PYTHON" -m venv "$VENV"
    fi
    # shellcheck disable=SC1091
    . "$VENV/bin/activate"
    python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
    if ! python -c "import torch" >/dev/null 2>&1; then
        install_torch
    fi
    # (re)install the course when pyproject.toml changed since the last install
    stamp="$VENV/.course-installed"
    want="$(python -c 'import hashlib,sys; print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest())')"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! python -c "import course_lib" >/dev/null 2>&1; then
        echo "course: installing course_lib and its dependencies"
        python -m pip install -q -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
        python -c "import course_lib" && echo "$want" > "$stamp"
    fi
    python -c "import course_lib, torch, spacy, sacrebleu, nbval; print('course: environment ready (torch', torch.__version__ + ')')"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
    setup)
        setup ;;
    lessons)
        setup
        python -m course_lib.runner "$@" ;;
    test)
        setup
        export COURSE_PROFILE=ci
        python -m pytest tests lessons --nbval-lax --nbval-current-env -p no:cacheprovider "$@" ;;
    *)
        echo "usage: bash scripts/course.sh {setup|lessons [--profile P] [--out DIR]|test [pytest args]}" >&2
        exit 2 ;;
esac
