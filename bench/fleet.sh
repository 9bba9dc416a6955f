#!/usr/bin/env bash
# fleet.sh [SCHEMAS] [DATABASES] [MIGRATIONS] — the fleet scale figures of
# issue 17: `migrun apply --targets` over SCHEMAS tenant schemas of one
# PostgreSQL database and over DATABASES databases (default 1000 and 100),
# MIGRATIONS migrations each (default 20; each a table and an index, two
# steps), at --parallel 1, 2, 4 and 8 (BENCH_PARALLEL="1 2 4 8"): wall time,
# median time per target, peak RSS of the parent and of the largest worker
# (from the fleet's own fleet_done event), and the ratio of the wall time to
# N × one single-target apply (the median of 3, on a fresh schema or
# database). Every run starts from empty tenants, and every target must end
# "applied". Writes bench/FLEET.md (BENCH_OUT to change). A benchmark, not a
# test: a throwaway cluster from pg_virtualenv (port BENCH_PGPORT, 5741).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
if [ -z "${PGHOST:-}" ] && command -v pg_virtualenv >/dev/null; then
    exec pg_virtualenv -t -o "port=${BENCH_PGPORT:-5741}" -o "max_connections=200" "$0" "$@"
fi
nschemas=${1:-1000}
ndbs=${2:-100}
nmig=${3:-20}
read -r -a pars <<<"${BENCH_PARALLEL:-1 2 4 8}"
migrun=${BENCH_MIGRUN_BIN:-$top/migrun}
out=${BENCH_OUT:-$here/FLEET.md}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MIG_CONFIG=

# the migrations: mNN creates table tNN and an index on it
mkdir -p "$work/m"
for ((i = 1; i <= nmig; i++)); do
    printf -v id '%03d' "$i"
    printf -v prev '%03d' "$((i - 1))"
    {
        echo "migration m$id {"
        [ "$i" -gt 1 ] && echo "  after m$prev;"
        echo "  phase schema {"
        echo "    step table { up sql { CREATE TABLE t$id (id integer PRIMARY KEY, name text NOT NULL DEFAULT ''); }"
        echo "                 down sql { DROP TABLE t$id; } }"
        echo "    step index { up sql { CREATE INDEX t${id}_name ON t$id (name); } down sql { DROP INDEX t${id}_name; } }"
        echo "  }"
        echo "}"
    } > "$work/m/m$id.mig"
done

createdb fleet_schemas
reset_schemas() {
    for ((i = 1; i <= nschemas; i++)); do
        echo "DROP SCHEMA IF EXISTS tenant_$i CASCADE; CREATE SCHEMA tenant_$i;"
    done | psql -X -q -d fleet_schemas -v ON_ERROR_STOP=1 >/dev/null
    : > "$work/targets_schemas"
    for ((i = 1; i <= nschemas; i++)); do echo "postgresql:///fleet_schemas#tenant_$i"; done > "$work/targets_schemas"
}
reset_dbs() {
    for ((i = 1; i <= ndbs; i++)); do
        echo "DROP DATABASE IF EXISTS fleet_db_$i; CREATE DATABASE fleet_db_$i;"
    done | psql -X -q -d postgres -v ON_ERROR_STOP=1 >/dev/null
    for ((i = 1; i <= ndbs; i++)); do echo "postgresql:///fleet_db_$i"; done > "$work/targets_dbs"
}
now() { date +%s.%N; }

# one target alone, three times: the median
single() {
    local kind=$1 k t0 t1
    for k in 1 2 3; do
        if [ "$kind" = schemas ]; then
            psql -X -q -d fleet_schemas -c "DROP SCHEMA IF EXISTS single CASCADE; CREATE SCHEMA single" >/dev/null
            set -- --db postgresql:///fleet_schemas --schema single
        else
            psql -X -q -d postgres -c "DROP DATABASE IF EXISTS fleet_single" -c "CREATE DATABASE fleet_single" >/dev/null
            set -- --db postgresql:///fleet_single
        fi
        rm -rf "$work/j"
        t0=$(now)
        "$migrun" apply "$work/m" "$@" --journal "$work/j/journal.db" -q >/dev/null || echo "single apply failed" >&2
        t1=$(now)
        echo "$t1 - $t0" | bc -l
    done | sort -n | sed -n 2p
}

rows=()
for kind in schemas dbs; do
    n=$([ "$kind" = schemas ] && echo "$nschemas" || echo "$ndbs")
    [ "$n" -gt 0 ] || continue
    one=$(single "$kind")
    for p in "${pars[@]}"; do
        "reset_$kind"
        rm -rf "$work/j"
        t0=$(now)
        "$migrun" apply "$work/m" --targets "$work/targets_$kind" --parallel "$p" --journal "$work/j/journal.db" \
            --json >"$work/ev.json" 2>"$work/err.txt"
        rc=$?
        t1=$(now)
        wall=$(echo "$t1 - $t0" | bc -l)
        row=$(python3 - "$work/ev.json" "$kind" "$n" "$p" "$wall" "$one" "$rc" <<'PY'
import json, statistics, sys
path, kind, n, p, wall, one, rc = sys.argv[1:]
n, wall, one = int(n), float(wall), float(one)
evs = [json.loads(l) for l in open(path)]
done = [e for e in evs if e['event'] == 'target_done']
end = [e for e in evs if e['event'] == 'fleet_done'][-1]
ok = sum(1 for e in done if e['result'] == 'applied')
med = statistics.median(e['ms'] for e in done) / 1000
what = '%d schemas of one database' % n if kind == 'schemas' else '%d databases' % n
print('| %s | %s | %.1f | %.3f | %.0f | %.0f | %.3f | %.2f | %d/%d%s |' % (
    what, p, wall, med, end['parent_rss_kb'], end['worker_rss_kb'],
    one, wall / (n * one), ok, n, '' if rc == '0' else ' (exit %s)' % rc))
PY
)
        echo "$row"
        rows+=("$row")
    done
done

{
    echo "# Fleet apply at scale (issue 17)"
    echo
    echo "Written by \`bench/fleet.sh $nschemas $ndbs $nmig\` on $(date -u +%Y-%m-%d) — $(uname -srm), $(nproc) cores,"
    echo "$(psql --version); the machine shared with other work while it ran, so absolute times are noisy."
    echo "Each target: $nmig migrations (a table and an index each, $((2 * nmig)) steps), applied from empty;"
    echo "every row's targets all ended \`applied\` (last column). Wall: the whole \`migrun apply --targets\`;"
    echo "per target: the median of the targets' own times (fork, connect, lock, tracking tables, steps);"
    echo "RSS: peak resident set (KiB) of the parent and of the largest worker (getrusage, reported in the"
    echo "fleet_done event); single: one target applied alone by \`migrun apply --db\` (median of 3, seconds);"
    echo "ratio: wall / (N × single) — below 1 is faster than applying the targets one after the other."
    echo
    echo "| targets | --parallel | wall (s) | per target (s) | parent RSS (KiB) | worker RSS (KiB) | single (s) | wall / (N × single) | applied |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${rows[@]}"
} > "$out"
echo "wrote $out"
