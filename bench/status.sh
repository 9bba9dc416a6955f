#!/usr/bin/env bash
# status.sh [N] — how long `migrun status` takes on N (default 1000) applied
# migrations of bench/gen.py's corpus (six steps each), on SQLite and on
# PostgreSQL: from sources without the compile cache, from sources with the
# compile cache .migrun/cache (filled by the warm-up runs), and from a .migb.
# Medians of hyperfine (BENCH_RUNS runs, default 20, after 3 warm-ups), in ms,
# one line each on stdout. Not a test (timings are not asserted); issue 14's
# target is "status, 1,000 applied migrations, from sources: <= 20 ms".
#
# PostgreSQL: a throwaway cluster from pg_virtualenv (port BENCH_PGPORT, else
# its choice), or the server the PG* variables name (PGHOST set);
# BENCH_NO_PG=1 measures SQLite only. BUILD: the folder with migc and migrun
# (default: the source tree). BASE: another build's folder (say, of main):
# its migrun is timed too, right after this one on each line, for a
# before/after on the same machine at the same load.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
n=${1:-1000}
case $n in '' | *[!0-9]*) echo "status.sh: N must be a number (usage: bench/status.sh [N])" >&2; exit 2 ;; esac

if [ -z "${PGHOST:-}" ] && [ -z "${BENCH_NO_PG:-}" ] && command -v pg_virtualenv >/dev/null; then
    exec pg_virtualenv -t ${BENCH_PGPORT:+-o "port=$BENCH_PGPORT"} "$0" "$@"
fi

build=${BUILD:-$top}
migc=$build/migc
migrun=$build/migrun
[ -x "$migc" ] && [ -x "$migrun" ] || { echo "status.sh: no migc and migrun in $build (build first, or set BUILD)" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "status.sh: hyperfine is needed (apt-get install hyperfine)" >&2; exit 2; }
runs=${BENCH_RUNS:-20}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NO_COLOR=1
mkdir -p "$work/nocache" "$work/cache/.migrun/cache"

python3 "$here/gen.py" "$n" "$work/g" || exit 2
"$migc" build "$work/g/mig" -o "$work/g/plan.migb" >/dev/null || { echo "status.sh: migc build failed" >&2; exit 2; }

dbs=(sqlite)
if [ -z "${BENCH_NO_PG:-}" ] && psql -X -q -A -t -c 'SELECT 1' >/dev/null 2>&1; then
    dbs+=(postgres)
else
    echo "status.sh: no PostgreSQL server: SQLite only" >&2
fi

median() {  # median ARGS — hyperfine's median in ms of migrun ARGS (and of BASE's migrun ARGS)
    local cmds=("$migrun $1")
    [ -n "${BASE:-}" ] && cmds+=("$BASE/migrun $1")
    hyperfine -N --style none --runs "$runs" --warmup 3 --export-json "$work/h.json" "${cmds[@]}" >/dev/null 2>"$work/h.err" || {
        echo "failed: $(tail -n 1 "$work/h.err")"
        return
    }
    python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))["results"]
print(", ".join("%.1f ms (user %.1f, system %.1f)%s" % (x["median"] * 1000, x["user"] * 1000, x["system"] * 1000,
                 " [BASE]" if i else "") for i, x in enumerate(r)))' "$work/h.json"
}

rc=0
for d in "${dbs[@]}"; do
    journal=$work/journal-$d.db
    if [ "$d" = sqlite ]; then
        url=sqlite:$work/bench.db
    else
        PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists bench && createdb bench || exit 2
        url=postgresql:///bench
    fi
    (cd "$work/nocache" && "$migrun" apply "$work/g/plan.migb" --db "$url" --journal "$journal" >/dev/null) || {
        echo "status.sh: $d: the apply of $n migrations failed" >&2
        rc=1
        continue
    }
    st="status $work/g/mig --db $url --journal $journal"
    cd "$work/nocache" || exit 2
    echo "$d, $n applied, status from sources, no cache: $(median "$st")"
    cd "$work/cache" && rm -rf .migrun/cache/*
    echo "$d, $n applied, status from sources, with cache: $(median "$st")"
    cd "$work/nocache" || exit 2
    echo "$d, $n applied, status from .migb: $(median "status $work/g/plan.migb --db $url --journal $journal")"
done
exit $rc
