#!/usr/bin/env bash
# Prepare this checkout to run: system packages (Debian, as root), a venv and the pip packages.
# Idempotent and quick when nothing changed, so `make run` and `make test` can call it every time.
# Usage: scripts/bootstrap.sh [run|test]
set -euo pipefail
mode=${1:-run}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Debian packages the console and its tests use: the browser, a virtual display, Qt's xcb
# libraries, CJK fonts; for the tests a PostgreSQL server, a D-Bus daemon (notifications), a
# Redis server (two servers sharing their clients) and node (the original system's clients).
debs=(chromium xvfb xauth fonts-noto-cjk fonts-noto-color-emoji libxcb-cursor0 libegl1 libgl1 libxkbcommon-x11-0
      libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
      libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libfontconfig1 libdbus-1-3)
[ "$mode" = test ] && debs+=(postgresql dbus-daemon redis-server)
[ "$mode" = test ] && ! command -v npm >/dev/null 2>&1 && debs+=(nodejs npm)

if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
    missing=()
    for p in "${debs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" = 0 ]; then
            echo "bootstrap: installing Debian packages: ${missing[*]}"
            apt-get update -q >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
        else
            echo "bootstrap: please install these Debian packages (as root): ${missing[*]}" >&2
            command -v sudo >/dev/null 2>&1 && sudo apt-get install -y "${missing[@]}" || true
        fi
    fi
else
    echo "bootstrap: no apt-get here; install Chromium (or let Playwright fetch its own), Xvfb and a CJK font yourself." >&2
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv"
    "$python" -m venv .venv
fi
stamp=.venv/.hiscrm-installed-$mode
want=$(cat pyproject.toml | sha1sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "bootstrap: installing Python packages into .venv"
    extra=""
    [ "$mode" = test ] && extra="[test]"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e ".$extra"
    echo "$want" > "$stamp"
fi

# Playwright's own browser cannot be downloaded everywhere; the app falls back to the system
# Chromium (app/engine/pool/browser.py). Where there is none, try Playwright's download.
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
    .venv/bin/python -m playwright install chromium || echo "bootstrap: no browser available" >&2
fi

# The original system's clients (node's socket.io-client) for the server's compatibility tests.
if [ "$mode" = test ] && command -v npm >/dev/null 2>&1; then
    lock=tests/server/node/package-lock.json
    if [ ! -f tests/server/node/node_modules/.installed ] || [ "$lock" -nt tests/server/node/node_modules/.installed ]; then
        (cd tests/server/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null) && touch tests/server/node/node_modules/.installed \
            || echo "bootstrap: npm could not install tests/server/node (the node compatibility tests will fail)" >&2
    fi
fi

# Byte-compile the app once: where PYTHONDONTWRITEBYTECODE is set, Python would otherwise
# compile every module again at each start (about 0.6 s of the console's cold start).
.venv/bin/python -m compileall -q app resources >/dev/null || true
