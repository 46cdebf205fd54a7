#!/usr/bin/env bash
# Run the test suite: a private PostgreSQL server for the database tests, Qt offscreen.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export QT_QPA_PLATFORM=offscreen
if url=$(scripts/pg-test-server.sh start); then
    export HISCRM_TEST_PG_URL="$url"
    trap 'scripts/pg-test-server.sh stop >/dev/null 2>&1 || true' EXIT
else
    echo "run-tests: PostgreSQL server unavailable; PostgreSQL tests will be skipped" >&2
fi
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
