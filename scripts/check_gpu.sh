#!/usr/bin/env bash
# Check the `gpu` profile on a CUDA machine (issue 16 §5), in about 8 minutes on one modern GPU:
#
#   bash scripts/check_gpu.sh
#
# 1. every lesson except 03 runs under the gpu profile (full data and model sizes) with each
#    training budget it picks capped at CHECK_GPU_SHORT_MINUTES (default 0.1 min);
# 2. lesson 03 runs once with its full gpu settings, its training budget capped at
#    CHECK_GPU_FULL_MINUTES (default 4 min, so that the whole check fits in 8; 0 = no cap);
# 3. it prints per lesson: passed or failed, minutes, BLEU and peak GPU memory
#    (torch.cuda.max_memory_allocated in the lesson's process, recorded by the runner).
#
# Without CUDA it says so and exits 3 before running anything. It exits 1 if a lesson failed or
# the check took longer than CHECK_GPU_LIMIT_MINUTES (default 8). The executed notebooks and
# summaries go to CHECK_GPU_OUT (default outputs/check_gpu). PYTHON is the interpreter (default:
# the repository's .venv, else python3); on a machine without internet set COURSE_DATA_URL /
# COURSE_ANKI_URL to a corpus mirror as for the tests.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
OUT="${CHECK_GPU_OUT:-outputs/check_gpu}"
SHORT="${CHECK_GPU_SHORT_MINUTES:-0.1}"
FULL="${CHECK_GPU_FULL_MINUTES:-4}"
LIMIT="${CHECK_GPU_LIMIT_MINUTES:-8}"

if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "check_gpu: no CUDA GPU here (torch.cuda.is_available() is False for $PYTHON); nothing was run." >&2
    echo "check_gpu: run it on a machine with an NVIDIA GPU and a CUDA build of PyTorch." >&2
    exit 3
fi
"$PYTHON" -c 'import torch; p = torch.cuda.get_device_properties(0); print(f"check_gpu: {p.name}, {p.total_memory / 2**30:.0f} GiB, torch {torch.__version__}")'

short=()
for nb in lessons/[0-9][0-9]_*.ipynb; do
    case "$(basename "$nb")" in 03_*) ;; *) short+=("$nb") ;; esac
done
full_cap=()
if [ "$FULL" != "0" ]; then full_cap=(--max-minutes "$FULL"); fi

start=$SECONDS
"$PYTHON" -m course_lib.runner --profile gpu --out "$OUT/short" --timeout 600 --max-minutes "$SHORT" \
    --lessons "${short[@]}"
"$PYTHON" -m course_lib.runner --profile gpu --out "$OUT/full" --timeout 600 "${full_cap[@]}" \
    --lessons lessons/03_*.ipynb
minutes=$(( (SECONDS - start + 59) / 60 ))

echo
echo "check_gpu: the gpu profile on this machine"
"$PYTHON" -m course_lib.runner --report "$OUT/short" "$OUT/full"
status=$?
if [ "$minutes" -gt "$LIMIT" ]; then
    echo "check_gpu: took about $minutes min, more than the $LIMIT min it should fit in" >&2
    status=1
fi
exit "$status"
