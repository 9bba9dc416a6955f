#!/usr/bin/env bash
# apply_ratio.sh [N] [RUNS] — the apply and rollback --all ratios of issue 14
# in one run: migrun (one or more builds, to compare before and after a
# change on the same machine at the same time) against the floor (the same
# SQL through psql/sqlite3, one transaction per migration) and dbmate, on
# PostgreSQL (a throwaway cluster from pg_virtualenv, port $BENCH_PGPORT,
# default 5527) and SQLite; `migrun status` of the N applied migrations
# from sources (without and with the compile cache, .migrun/cache) and from
# a .migb.
# Medians of RUNS runs (hyperfine). A benchmark, not a test.
#   BENCH_MIGRUN="label=/path/to/migrun ..."   builds to compare (default: ./migrun)
#   BENCH_MIGC=/path/to/migc                   the compiler for the .migb
#   BENCH_ONLY=sqlite|postgres                 one database only
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
if [ -z "${PGHOST:-}" ] && [ "${BENCH_ONLY:-}" != sqlite ] && command -v pg_virtualenv >/dev/null; then
    exec pg_virtualenv -t -o "port=${BENCH_PGPORT:-5527}" "$0" "$@"
fi
n=${1:-200}
runs=${2:-5}
migc=${BENCH_MIGC:-$top/migc}
read -r -a builds <<<"${BENCH_MIGRUN:-migrun=$top/migrun}"
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 2; }
# dbmate's own binary (the npm package's node wrapper only adds node's start)
dbmate=$here/.tools/node_modules/@dbmate/linux-x64/bin/dbmate
[ -x "$dbmate" ] || dbmate=$here/.tools/node_modules/.bin/dbmate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
g=$work/gen
python3 "$here/gen.py" "$n" "$g"
"$migc" build "$g/mig" -o "$g/plan.migb" || exit 1

declare -A RES
mkdir -p "$work/nocache" "$work/cache/.migrun/cache"
cd "$work/nocache" || exit 1
median() {          # median KEY PREPARE COMMAND [WARMUP]
    if hyperfine -N --runs "$runs" --warmup "${4:-0}" --prepare "$2" --export-json "$work/h.json" "$3" >"$work/h.log" 2>&1; then
        RES[$1]=$(python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$work/h.json")
    else
        RES[$1]=failed
        echo "benchmark $1 failed:" >&2
        tail -n 5 "$work/h.log" >&2
    fi
}
ratio() { python3 -c 'import sys
try: print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))
except Exception: print("n/a")' "$1" "$2"; }

dbs=(sqlite postgres)
[ -n "${BENCH_ONLY:-}" ] && dbs=("$BENCH_ONLY")
for d in "${dbs[@]}"; do
    s=$work/$d
    mkdir -p "$s"
    if [ "$d" = sqlite ]; then
        db=$work/bench.db
        url="sqlite:$db"
        printf 'rm -rf %s %s-* %s/journal.db*\n' "$db" "$db" "$work" >"$s/reset"
        printf 'sqlite3 %s < %s\n' "$db" "$g/sql/up_floor.sql" >"$s/floor_up"
        printf 'sqlite3 %s < %s\n' "$db" "$g/sql/down_floor.sql" >"$s/floor_down"
        dm_url="sqlite:$db"
    else
        url="postgresql:///bench"
        printf 'dropdb --if-exists bench && createdb bench && rm -rf %s/journal.db*\n' "$work" >"$s/reset"
        printf 'psql -X -q -v ON_ERROR_STOP=1 -d bench -f %s\n' "$g/sql/up_floor.sql" >"$s/floor_up"
        printf 'psql -X -q -v ON_ERROR_STOP=1 -d bench -f %s\n' "$g/sql/down_floor.sql" >"$s/floor_down"
        dm_url="postgres://$PGUSER:$PGPASSWORD@${PGHOST}:${PGPORT:-5432}/bench?sslmode=disable"
    fi
    median "$d/floor_apply" "sh $s/reset" "sh $s/floor_up"
    printf 'sh %s && sh %s\n' "$s/reset" "$s/floor_up" >"$s/floor_prepare_down"
    median "$d/floor_rollback" "sh $s/floor_prepare_down" "sh $s/floor_down"
    if [ -x "$dbmate" ]; then
        printf '%s --url "%s" --migrations-dir %s --no-dump-schema up >/dev/null\n' "$dbmate" "$dm_url" "$g/dbmate/migrations" >"$s/dbmate_up"
        median "$d/dbmate_apply" "sh $s/reset" "sh $s/dbmate_up"
    fi
    for b in "${builds[@]}"; do
        label=${b%%=*} bin=${b#*=}
        printf '%s apply %s --db %s --journal %s >/dev/null\n' "$bin" "$g/plan.migb" "$url" "$work/journal.db" >"$s/${label}_up"
        printf '%s rollback --all --db %s --journal %s >/dev/null\n' "$bin" "$url" "$work/journal.db" >"$s/${label}_down"
        printf 'sh %s && sh %s\n' "$s/reset" "$s/${label}_up" >"$s/${label}_prepare_down"
        median "$d/$label/apply" "sh $s/reset" "sh $s/${label}_up"
        median "$d/$label/rollback" "sh $s/${label}_prepare_down" "sh $s/${label}_down"
        sh "$s/reset" && sh "$s/${label}_up"
        median "$d/$label/status_src" "true" "$bin status $g/mig --db $url --journal $work/journal.db" 1
        median "$d/$label/status_migb" "true" "$bin status $g/plan.migb --db $url --journal $work/journal.db" 1
        cd "$work/cache" && rm -rf .migrun/cache/*
        median "$d/$label/status_cache" "true" "$bin status $g/mig --db $url --journal $work/journal.db" 1
        cd "$work/nocache" || exit 1
        sh "$s/reset"
        RES[$d/$label/rss]=$(/usr/bin/time -f %M "$bin" apply "$g/plan.migb" --db "$url" --journal "$work/journal.db" 2>&1 >/dev/null | tail -n 1)
    done
done

echo "N=$n, medians of $runs runs (hyperfine), seconds; $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| database | build | apply | floor | ratio | dbmate up | dbmate / migrun | rollback --all | floor | ratio | status (sources) | status (sources, cache) | status (.migb) | apply peak RSS KiB |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for d in "${dbs[@]}"; do
    for b in "${builds[@]}"; do
        label=${b%%=*}
        echo "| $d | $label | ${RES[$d/$label/apply]} | ${RES[$d/floor_apply]} | $(ratio "${RES[$d/$label/apply]}" "${RES[$d/floor_apply]}") | ${RES[$d/dbmate_apply]:-n/a} | $(ratio "${RES[$d/dbmate_apply]:-}" "${RES[$d/$label/apply]}") | ${RES[$d/$label/rollback]} | ${RES[$d/floor_rollback]} | $(ratio "${RES[$d/$label/rollback]}" "${RES[$d/floor_rollback]}") | ${RES[$d/$label/status_src]} | ${RES[$d/$label/status_cache]} | ${RES[$d/$label/status_migb]} | ${RES[$d/$label/rss]} |"
    done
done
