#!/usr/bin/env bash
# test_ratio.sh [N] [RUNS] — the cost of `migrun test` against applying the
# same history once (`migrun apply` on an empty database): wall time,
# median of RUNS runs (default 5), on SQLite and on PostgreSQL (a throwaway
# cluster from pg_virtualenv, or the server PG* names), for two histories
# of N migrations (default 300): bench/gen.py's (six steps each: a table
# with rows, a column, an index, a backfill, a view) and the issue tracker
# of tests/pairs/gen.py (a mix of tables, columns, indexes, views,
# triggers, constraints, types, functions, grants, … with its planted
# breaks). Both commands load the same .migb. A benchmark, not a test: run
# it by hand on an idle machine; it prints a table for bench/RESULTS.md.
# BUILD names the build folder (default build/); BENCH_PGPORT the port of
# the throwaway cluster (default: pg_virtualenv's choice); BENCH_NO_PG=1
# measures SQLite only.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
if [ -z "${PGHOST:-}" ] && [ -z "${BENCH_NO_PG:-}" ] && command -v pg_virtualenv >/dev/null; then
    exec pg_virtualenv -t ${BENCH_PGPORT:+-o port=$BENCH_PGPORT} "$0" "$@"
fi
n=${1:-300}
runs=${2:-5}
build=${BUILD:-$top/build}
migc=$build/migc
migrun=$build/migrun
[ -x "$migrun" ] || { echo "build first (./dev.sh build), or set BUILD" >&2; exit 2; }
have_pg=$(psql -X -q -A -t -c 'SELECT 1' >/dev/null 2>&1 && echo yes || echo no)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NO_COLOR=1

# seconds COMMAND... — wall time of one run
seconds() {
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    local rc=$?
    e=$(date +%s.%N)
    echo "$e - $s" | bc -l
    return $rc
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'; }

fresh_db() {    # fresh_db DIALECT NAME — an empty database, its URL on stdout
    if [ "$1" = postgres ]; then
        dropdb --if-exists "$2" >/dev/null 2>&1
        createdb "$2" && echo "postgresql:///$2"
    else
        rm -f "$work/$2.sqlite" "$work/$2.sqlite-miglock"
        echo "sqlite:$work/$2.sqlite"
    fi
}

printf '| database | history | steps | apply (s) | test (s) | test / apply | test --data (s) | --data / apply |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- |\n'
for dialect in sqlite postgres; do
    [ "$dialect" = postgres ] && [ "$have_pg" = no ] && { echo "| postgres | (no server) | | | | | | |"; continue; }
    for history in bench tracker; do
        src=$work/$history-$dialect
        if [ "$history" = bench ]; then
            python3 "$here/gen.py" "$n" "$src" >/dev/null && dir=$src/mig
        else
            python3 "$top/tests/pairs/gen.py" "$dialect" "$src" "$n" && dir=$src/db/migrations
        fi
        "$migc" build "$dir" -o "$src/plan.migb" >/dev/null 2>&1 || { echo "migc build failed for $dir" >&2; exit 1; }
        steps=$(grep -c 'step ' -r "$dir" | awk -F: '{s += $2} END {print s}')
        a=() t=() d=()
        for ((r = 0; r < runs; r++)); do
            url=$(fresh_db "$dialect" "bench_apply")
            a+=("$(seconds "$migrun" apply "$src/plan.migb" --db "$url" --allow-exec --journal "$work/journal-$r.db")")
            url=$(fresh_db "$dialect" "bench_given")
            t+=("$(seconds "$migrun" test "$src/plan.migb" --db "$url")")
            d+=("$(seconds "$migrun" test "$src/plan.migb" --db "$url" --data)")
        done
        ma=$(median "${a[@]}") mt=$(median "${t[@]}") md=$(median "${d[@]}")
        printf '| %s | %s (%s migrations) | %s | %s | %s | %.2f | %s | %.2f |\n' "$dialect" "$history" "$n" "$steps" \
            "$ma" "$mt" "$(echo "$mt / $ma" | bc -l)" "$md" "$(echo "$md / $ma" | bc -l)"
    done
done
[ "$have_pg" = yes ] && { dropdb --if-exists bench_apply; dropdb --if-exists bench_given; } >/dev/null 2>&1
exit 0
