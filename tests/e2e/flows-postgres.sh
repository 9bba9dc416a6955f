#!/usr/bin/env bash
# flows-postgres.sh — the deployment flows of flows.sh on a real PostgreSQL
# server: the one pg_virtualenv starts for `make check` (./dev.sh test).
# Without a server this fails: nothing is skipped for want of one.
if ! psql -X -q -A -t -c 'SELECT 1' >/dev/null 2>&1; then
    echo "FAIL: no PostgreSQL server reachable (PGHOST=${PGHOST:-unset}); run the tests with"
    echo "      pg_virtualenv -t make check, as ./dev.sh test does"
    echo "0 passed, 1 failed"
    exit 1
fi
DIALECT=postgres exec bash "$(dirname "$0")/flows.sh"
