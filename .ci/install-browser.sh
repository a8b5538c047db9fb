#!/usr/bin/env bash
# Install what the real-browser test needs: Debian's chromium (apt), a Devanagari font, and the Python
# playwright package (pip, into the active Python). Idempotent: does nothing that is
# already done. Never runs `playwright install` (that downloads a browser build; the
# test drives /usr/bin/chromium instead).
#
# Usage: .ci/install-browser.sh          (run as root, or with sudo available, for apt)
set -euo pipefail

CHROMIUM=/usr/bin/chromium
PYTHON="${PYTHON:-python}"

# A font with Devanagari glyphs (lesson 07 labels its heatmaps in Marathi; Chromium shows
# the widget captions with it too). Small; skipped when present.
if ! fc-list 2>/dev/null | grep -qi "lohit.*devanagari\|noto.*devanagari"; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
    echo "install-browser: installing a Devanagari font (fonts-lohit-deva)"
    export DEBIAN_FRONTEND=noninteractive
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends fonts-lohit-deva >/dev/null; } \
        || echo "install-browser: could not install fonts-lohit-deva; lesson 07 will draw boxes for Marathi" >&2
fi

if [ -x "$CHROMIUM" ]; then
    echo "install-browser: $CHROMIUM present ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
else
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
            echo "install-browser: need root (or sudo) to apt-get install chromium" >&2; exit 1
        fi
    fi
    echo "install-browser: installing Debian's chromium with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
    [ -x "$CHROMIUM" ] || { echo "install-browser: $CHROMIUM still missing after apt-get" >&2; exit 1; }
    echo "install-browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium installed)"
fi

if "$PYTHON" -c "import playwright.sync_api" >/dev/null 2>&1; then
    echo "install-browser: python playwright present"
else
    echo "install-browser: pip-installing playwright"
    "$PYTHON" -m pip install -q "playwright>=1.45"
fi
