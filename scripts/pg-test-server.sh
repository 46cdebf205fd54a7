#!/usr/bin/env bash
# Start/stop a throwaway PostgreSQL cluster on 127.0.0.1 for the tests; prints its URL on start.
# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user.
set -euo pipefail
cmd=${1:-start}
port=${HISCRM_TEST_PG_PORT:-54329}
dir=/tmp/hiscrm-test-pg-$port
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "no PostgreSQL server installed" >&2; exit 1; }
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
start)
    if [ ! -f "$dir/PG_VERSION" ]; then
        rm -rf "$dir"; mkdir -p "$dir"
        [ "$(id -u)" = 0 ] && chown postgres "$dir"
        as_owner "$bin/initdb" -D "$dir" -U hiscrm --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
            -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off" start >/dev/null
    fi
    echo "postgresql+psycopg://hiscrm@127.0.0.1:$port/postgres"
    ;;
stop)
    as_owner "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
    ;;
esac
