#!/usr/bin/env bash
# Count flakes of the real-browser suite (issue 15): run tests/browser N times under each of two
# deliberately different timings, alternating, and append one line per run to a log.
#
#   bash scripts/browser_flakes.sh [N] [TESTS...]   # N runs per timing (default 10) of TESTS
#                                                   # (default: the whole suite, tests/browser)
#
#   busy     the other core kept busy by a spinning process (torch's two threads then wait on
#            each other: on a 2-core machine about 28 minutes per run)
#   onecore  everything pinned to CPU 0 with taskset (about 11 minutes per run there)
#
# Needs what `.ci/run` sets up: .venv with the course, Chromium and Playwright
# (.ci/install-browser.sh), and the offline data mirror in ../shared/data (or COURSE_DATA_URL and
# COURSE_ANKI_URL already set). Log: $FLAKE_LOG (default .ci-artifacts/browser_flakes.txt); the
# pytest output of each run lies beside it. Touch $FLAKE_LOG.stop to end the loop after the run
# in progress.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUNS="${1:-10}"
shift $(( $# > 0 ? 1 : 0 ))
TESTS=("${@:-tests/browser}")
MIRROR="$(cd "$ROOT/.." && pwd)/shared/data"
export COURSE_DATA_URL="${COURSE_DATA_URL:-file://$MIRROR/multi30k/}"
export COURSE_ANKI_URL="${COURSE_ANKI_URL:-file://$MIRROR/anki/}"
export COURSE_DATA_DIR="${COURSE_DATA_DIR:-$ROOT/.ci-cache/data}"
export COURSE_ARTIFACTS_DIR="${COURSE_ARTIFACTS_DIR:-$ROOT/.ci-artifacts}"
export COURSE_REQUIRE_BROWSER=1 COURSE_PROFILE=ci
LOG="${FLAKE_LOG:-$COURSE_ARTIFACTS_DIR/browser_flakes.txt}"
mkdir -p "$COURSE_DATA_DIR" "$COURSE_ARTIFACTS_DIR" "$(dirname "$LOG")"

run() {  # $1: the timing's name; the rest: the command prefix that sets it
    local label=$1; shift
    local start out rc
    start=$(date +%s)
    out="$(dirname "$LOG")/browser_flakes-$label-$start.log"
    "$@" .venv/bin/python -m pytest "${TESTS[@]}" -q -p no:cacheprovider > "$out" 2>&1
    rc=$?
    echo "$(git rev-parse --short HEAD) $label rc=$rc $(( $(date +%s) - start ))s $(tail -1 "$out")" >> "$LOG"
}

for _ in $(seq 1 "$RUNS"); do
    [ -e "$LOG.stop" ] && break
    python3 -c "while True: pass" & spin=$!
    run busy env
    kill "$spin" 2>/dev/null
    wait "$spin" 2>/dev/null
    [ -e "$LOG.stop" ] && break
    run onecore taskset -c 0
done
echo "loop ended $(date -u '+%Y-%m-%d %H:%M UTC')" >> "$LOG"
