#!/usr/bin/env bash
# run.sh [N...] — the benchmark (not a test): migrun against the floor (raw
# SQL, one transaction per migration, the boundaries migrun uses), raw SQL
# in one transaction, Sqitch and dbmate, on SQLite and on PostgreSQL (a
# throwaway cluster from pg_virtualenv); migc check/build on 1,000 and
# 10,000 files; migrun status on 1,000 applied migrations; peak RSS.
# Medians of several runs (hyperfine). Prints a table and writes
# bench/RESULTS.md. Needs a build in build/ (./dev.sh build).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
if [ -z "${PGHOST:-}" ] && [ -z "${BENCH_NO_PG:-}" ] && command -v pg_virtualenv >/dev/null; then
    exec pg_virtualenv -t "$0" "$@"
fi
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(200 1000)
runs=${BENCH_RUNS:-3}
migc=$top/build/migc
migrun=$top/build/migrun
[ -x "$migrun" ] || { echo "build first: ./dev.sh build" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# peers: installed here if missing; reported, never silently dropped
tools=$here/.tools
install_peers() {
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    local want=()
    command -v hyperfine >/dev/null || want+=(hyperfine)
    command -v sqitch >/dev/null || want+=(sqitch libdbd-pg-perl libdbd-sqlite3-perl)
    if [ ${#want[@]} -gt 0 ]; then
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${want[@]}" >/dev/null 2>&1 ||
            echo "note: could not install ${want[*]}" >&2
    fi
    if [ ! -x "$tools/node_modules/.bin/dbmate" ] && command -v npm >/dev/null; then
        mkdir -p "$tools" && (cd "$tools" && npm install --silent dbmate >/dev/null 2>&1) ||
            echo "note: could not install dbmate from npm" >&2
    fi
}
install_peers
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 2; }
have_sqitch=$(command -v sqitch >/dev/null && echo yes || echo no)
dbmate=$tools/node_modules/.bin/dbmate
have_dbmate=$([ -x "$dbmate" ] && echo yes || echo no)
have_pg=$(psql -X -q -A -t -c 'SELECT 1' >/dev/null 2>&1 && echo yes || echo no)

declare -A RES     # "dialect/N/what" → median seconds
median() {          # median COMMAND_NAME PREPARE COMMAND
    local key=$1 prepare=$2 cmd=$3
    if hyperfine -N --runs "$runs" --prepare "$prepare" --export-json "$work/h.json" "$cmd" >"$work/h.log" 2>&1; then
        RES[$key]=$(python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$work/h.json")
    else
        RES[$key]="failed"
        echo "benchmark $key failed:" >&2
        tail -n 5 "$work/h.log" >&2
    fi
}

for n in "${sizes[@]}"; do
    g=$work/gen$n
    python3 "$here/gen.py" "$n" "$g"
    "$migc" build "$g/mig" -o "$g/plan.migb" || exit 1
    for d in sqlite postgres; do
        [ "$d" = postgres ] && [ "$have_pg" = no ] && continue
        # every command is a small script: no quoting inside quoting
        s=$work/$d-$n
        mkdir -p "$s"
        if [ "$d" = sqlite ]; then
            db=$work/bench.db
            url="sqlite:$db"
            printf 'rm -rf %s %s-* %s/journal.db* %s/sqitch.db\n' "$db" "$db" "$work" "$work" >"$s/reset"
            printf 'sqlite3 %s < %s\n' "$db" "$g/sql/up_floor.sql" >"$s/floor_up"
            printf 'sqlite3 %s < %s\n' "$db" "$g/sql/down_floor.sql" >"$s/floor_down"
            printf 'sqlite3 %s < %s\n' "$db" "$g/sql/up_single.sql" >"$s/single_up"
            sq_target="db:sqlite:$db"
            sq_dir=$g/sqitch-sqlite
            dm_url="sqlite:$db"
        else
            url="postgresql:///bench"
            printf 'dropdb --if-exists bench && createdb bench && rm -rf %s/journal.db*\n' "$work" >"$s/reset"
            printf 'psql -X -q -v ON_ERROR_STOP=1 -d bench -f %s\n' "$g/sql/up_floor.sql" >"$s/floor_up"
            printf 'psql -X -q -v ON_ERROR_STOP=1 -d bench -f %s\n' "$g/sql/down_floor.sql" >"$s/floor_down"
            printf 'psql -X -q -v ON_ERROR_STOP=1 -1 -d bench -f %s\n' "$g/sql/up_single.sql" >"$s/single_up"
            sq_target="db:pg://$PGUSER:$PGPASSWORD@${PGHOST}:${PGPORT:-5432}/bench"
            sq_dir=$g/sqitch-pg
            dm_url="postgres://$PGUSER:$PGPASSWORD@${PGHOST}:${PGPORT:-5432}/bench?sslmode=disable"
        fi
        printf '%s apply %s --db %s --journal %s >/dev/null\n' "$migrun" "$g/plan.migb" "$url" "$work/journal.db" >"$s/migrun_up"
        printf '%s rollback --all --db %s --journal %s >/dev/null\n' "$migrun" "$url" "$work/journal.db" >"$s/migrun_down"
        printf 'cd %s && sqitch --quiet deploy --no-verify %s\n' "$sq_dir" "$sq_target" >"$s/sqitch_up"
        printf 'cd %s && sqitch --quiet revert -y %s\n' "$sq_dir" "$sq_target" >"$s/sqitch_down"
        printf '%s --url "%s" --migrations-dir %s --no-dump-schema up >/dev/null\n' "$dbmate" "$dm_url" "$g/dbmate/migrations" >"$s/dbmate_up"
        # dbmate rolls back one migration per call: a user repeats it N times
        printf 'for i in $(seq %s); do %s --url "%s" --migrations-dir %s --no-dump-schema rollback >/dev/null || exit 1; done\n' \
            "$n" "$dbmate" "$dm_url" "$g/dbmate/migrations" >"$s/dbmate_down"
        for w in migrun floor sqitch dbmate; do
            printf 'sh %s && sh %s\n' "$s/reset" "$s/${w}_up" >"$s/${w}_prepare_down"
        done
        median "$d/$n/migrun_apply" "sh $s/reset" "sh $s/migrun_up"
        median "$d/$n/migrun_rollback" "sh $s/migrun_prepare_down" "sh $s/migrun_down"
        median "$d/$n/floor_apply" "sh $s/reset" "sh $s/floor_up"
        median "$d/$n/floor_rollback" "sh $s/floor_prepare_down" "sh $s/floor_down"
        median "$d/$n/single_apply" "sh $s/reset" "sh $s/single_up"
        if [ "$have_sqitch" = yes ]; then
            median "$d/$n/sqitch_apply" "sh $s/reset" "sh $s/sqitch_up"
            median "$d/$n/sqitch_rollback" "sh $s/sqitch_prepare_down" "sh $s/sqitch_down"
        fi
        if [ "$have_dbmate" = yes ]; then
            median "$d/$n/dbmate_apply" "sh $s/reset" "sh $s/dbmate_up"
            median "$d/$n/dbmate_rollback" "sh $s/dbmate_prepare_down" "sh $s/dbmate_down"
        fi
        if [ "$n" = 1000 ]; then
            sh "$s/reset" && sh "$s/migrun_up"
            median "$d/$n/migrun_status" "true" "$migrun status $g/plan.migb --db $url --journal $work/journal.db"
            sh "$s/reset"
            RES[$d/$n/apply_rss]=$(/usr/bin/time -f %M "$migrun" apply "$g/plan.migb" --db "$url" --journal "$work/journal.db" 2>&1 >/dev/null | tail -n 1)
        fi
    done
done

# the compiler on 1,000 and 10,000 files
for n in 1000 10000; do
    "$here/gen_migrations.sh" "$n" "$work/files$n"
    bytes=$(cat "$work/files$n"/*.mig | wc -c)
    median "migc/$n/check" "true" "$migc check $work/files$n"
    median "migc/$n/build" "true" "$migc build $work/files$n -o $work/p.migb"
    RES[migc/$n/bytes]=$bytes
    RES[migc/$n/check_rss]=$(/usr/bin/time -f %M "$migc" check "$work/files$n" 2>&1 >/dev/null | tail -n 1)
    RES[migc/$n/build_rss]=$(/usr/bin/time -f %M "$migc" build "$work/files$n" -o "$work/p.migb" 2>&1 >/dev/null | tail -n 1)
done

ratio() { python3 -c 'import sys
a, b = sys.argv[1], sys.argv[2]
try: print("%.2f" % (float(a) / float(b)))
except Exception: print("n/a")' "$1" "$2"; }

{
    echo "# Benchmark results"
    echo
    echo "Written by \`bench/run.sh\` on $(date -u +%Y-%m-%d) — $(uname -srm), $(nproc) cores,"
    echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB;"
    echo "SQLite $(sqlite3 --version | cut -d' ' -f1), $(psql --version | head -1),"
    echo "sqitch: $([ "$have_sqitch" = yes ] && sqitch --version | head -1 || echo 'not installed'),"
    echo "dbmate: $([ "$have_dbmate" = yes ] && "$dbmate" --version || echo 'not installed')."
    echo "Medians of $runs runs (hyperfine), in seconds. Each migration: create table with seed"
    echo "rows, add column with default, create index, backfill, create view (6 steps), with"
    echo "exact inverses. The floor is the same SQL with one transaction per migration —"
    echo "the boundaries migrun uses (one phase per migration)."
    echo
    echo "| database | N | migrun apply | floor | single txn | sqitch deploy | dbmate up | migrun / floor | sqitch / migrun | dbmate / migrun |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for d in sqlite postgres; do
        for n in "${sizes[@]}"; do
            k=$d/$n
            [ -n "${RES[$k/migrun_apply]:-}" ] || continue
            echo "| $d | $n | ${RES[$k/migrun_apply]} | ${RES[$k/floor_apply]} | ${RES[$k/single_apply]} | ${RES[$k/sqitch_apply]:-not installed} | ${RES[$k/dbmate_apply]:-not installed} | $(ratio "${RES[$k/migrun_apply]}" "${RES[$k/floor_apply]}") | $(ratio "${RES[$k/sqitch_apply]:-}" "${RES[$k/migrun_apply]}") | $(ratio "${RES[$k/dbmate_apply]:-}" "${RES[$k/migrun_apply]}") |"
        done
    done
    echo
    echo "| database | N | migrun rollback --all | floor | sqitch revert | dbmate rollback ×N | migrun / floor | sqitch / migrun | dbmate / migrun |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for d in sqlite postgres; do
        for n in "${sizes[@]}"; do
            k=$d/$n
            [ -n "${RES[$k/migrun_rollback]:-}" ] || continue
            echo "| $d | $n | ${RES[$k/migrun_rollback]} | ${RES[$k/floor_rollback]} | ${RES[$k/sqitch_rollback]:-not installed} | ${RES[$k/dbmate_rollback]:-not installed} | $(ratio "${RES[$k/migrun_rollback]}" "${RES[$k/floor_rollback]}") | $(ratio "${RES[$k/sqitch_rollback]:-}" "${RES[$k/migrun_rollback]}") | $(ratio "${RES[$k/dbmate_rollback]:-}" "${RES[$k/migrun_rollback]}") |"
        done
    done
    echo
    echo "| what | median s | peak RSS KiB |"
    echo "| --- | --- | --- |"
    for d in sqlite postgres; do
        [ -n "${RES[$d/1000/migrun_status]:-}" ] || continue
        echo "| migrun status, 1,000 applied migrations ($d, from plan.migb) | ${RES[$d/1000/migrun_status]} | |"
        echo "| migrun apply, 1,000 migrations ($d) | ${RES[$d/1000/migrun_apply]} | ${RES[$d/1000/apply_rss]} |"
    done
    for n in 1000 10000; do
        mbs=$(python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / 1048576 / float(sys.argv[2])))' "${RES[migc/$n/bytes]}" "${RES[migc/$n/check]}" 2>/dev/null || echo n/a)
        echo "| migc check, $n files (${RES[migc/$n/bytes]} bytes: $mbs MB/s) | ${RES[migc/$n/check]} | ${RES[migc/$n/check_rss]} |"
        echo "| migc build, $n files | ${RES[migc/$n/build]} | ${RES[migc/$n/build_rss]} |"
    done
    [ "$have_pg" = yes ] || echo "PostgreSQL: no server could be started; its rows are missing."
} > "$work/RESULTS.md"
cat "$work/RESULTS.md"
cp "$work/RESULTS.md" "$here/RESULTS.md"
