#!/usr/bin/env bash
# run.sh [--quick] — the benchmark of issue 14 (not a test; .ci/run does not
# run it). One run measures, on the corpus of bench/gen.py (one migration
# per file, six steps each: a table with seed rows, a column with a
# default, an index, a backfill, a view, a reversible update; each with its
# exact inverse):
#   - apply and rollback --all: migrun against the floor (the same SQL
#     through sqlite3 / psql, one transaction per migration) and against
#     dbmate (`dbmate up`; N × `dbmate rollback`, which undoes one migration
#     per call), on SQLite and PostgreSQL, at each N of BENCH_SIZES, a fresh
#     database for every run (a new file; dropdb/createdb), medians of
#     BENCH_RUNS runs (hyperfine);
#   - `migrun status` on BENCH_STATUS_N applied migrations, from sources
#     (with and without the compile cache .migrun/cache) and from a .migb;
#   - `migc check` against squawk (npm squawk-cli) on the same BENCH_CHECK_N
#     migrations (squawk gets the SQL of the ups and downs as .sql files,
#     migc the .mig files holding the same SQL), diagnostics written to a
#     file, on one core (taskset -c 0) and on all cores;
#   - peak RSS (/usr/bin/time -f %M) of migrun apply against sqlite3 / psql
#     running the same SQL, at each N of BENCH_RSS_SIZES;
# and checks each tool's database after its apply and its rollback against
# the floor's (a tool that did less work is reported, not timed as faster).
# Each figure is set next to its target with whether it is met, in
# bench/RESULTS.md (rewritten; everything from the line `<!-- notes -->` on
# is kept verbatim) — or, with --quick, in bench/.tools/RESULTS-quick.md.
#
# PostgreSQL: a throwaway cluster from pg_virtualenv (port BENCH_PGPORT,
# default its choice), or the server the PG* variables name (PGHOST set);
# BENCH_NO_PG=1 measures SQLite only. Peers (hyperfine from Debian, dbmate
# and squawk-cli from npm into bench/.tools) are installed when missing; one
# that cannot be is reported on stderr and in the table with the reason, the
# rest is still measured, and the script exits 1.
#
# Options and environment:
#   --quick           a smoke check: BENCH_SIZES="20 100", BENCH_RUNS=2,
#                     BENCH_STATUS_N=BENCH_CHECK_N=100, BENCH_RSS_SIZES="100 200"
#   BENCH_RUNS        runs per median (default 5; status and check: at least 10)
#   BENCH_SIZES       N for apply and rollback (default "200 1000")
#   BENCH_STATUS_N    applied migrations for status (default 1000)
#   BENCH_CHECK_N     migrations for migc check and squawk (default 1000)
#   BENCH_RSS_SIZES   N for peak RSS (default "1000 10000"; "1000" skips 10,000)
#   BENCH_DBMATE_ROLLBACK=0  skip dbmate's N × rollback (the longest part)
#   BUILD             folder with migc and migrun (default: build/ or the
#                     source tree, whichever migrun is newer)
#   BENCH_OUT         the file written (default as above)
#   BENCH_TOOLS       where the npm peers are installed (default bench/.tools)
#
# How long (2 cores): --quick 6 min at load 7–10, 13 min at load 17. A full
# run on an idle machine, estimated from those and the figures of earlier
# runs: about 1 hour — some 20 min of it dbmate's 5 × 1,000 rollback calls
# per database (BENCH_DBMATE_ROLLBACK=0 drops them) and some 20 min SQLite
# applying 10,000 migrations twice for peak RSS (SQLite parses its whole
# schema again at every ALTER TABLE, so that grows with N²;
# BENCH_RSS_SIZES=1000 drops it); two to three times that on a loaded one.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")

usage() {
    sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit "$1"
}
quick=0
for a in "$@"; do
    case $a in
        --quick) quick=1 ;;
        -h | --help) usage 0 ;;
        *) echo "run.sh: unknown argument '$a' (usage: bench/run.sh [--quick]; --help says more)" >&2; exit 2 ;;
    esac
done

if [ -z "${PGHOST:-}" ] && [ -z "${BENCH_NO_PG:-}" ] && command -v pg_virtualenv >/dev/null; then
    exec pg_virtualenv -t ${BENCH_PGPORT:+-o "port=$BENCH_PGPORT"} "$0" "$@"
fi

if [ "$quick" = 1 ]; then
    runs=${BENCH_RUNS:-2}
    read -r -a sizes <<<"${BENCH_SIZES:-20 100}"
    status_n=${BENCH_STATUS_N:-100}
    check_n=${BENCH_CHECK_N:-100}
    read -r -a rss_sizes <<<"${BENCH_RSS_SIZES:-100 200}"
    out=${BENCH_OUT:-$here/.tools/RESULTS-quick.md}
else
    runs=${BENCH_RUNS:-5}
    read -r -a sizes <<<"${BENCH_SIZES:-200 1000}"
    status_n=${BENCH_STATUS_N:-1000}
    check_n=${BENCH_CHECK_N:-1000}
    read -r -a rss_sizes <<<"${BENCH_RSS_SIZES:-1000 10000}"
    out=${BENCH_OUT:-$here/RESULTS.md}
fi
for v in "$runs" "${sizes[@]}" "$status_n" "$check_n" "${rss_sizes[@]}"; do
    case $v in '' | *[!0-9]* | 0) echo "run.sh: '$v' is not a positive number (BENCH_RUNS, BENCH_SIZES, …)" >&2; exit 2 ;; esac
done
fast_runs=$((runs > 10 ? runs : 10))

if [ -n "${BUILD:-}" ]; then
    build=$BUILD
elif [ -x "$top/build/migrun" ] && { [ ! -x "$top/migrun" ] || [ "$top/build/migrun" -nt "$top/migrun" ]; }; then
    build=$top/build
else
    build=$top
fi
migc=$build/migc
migrun=$build/migrun
[ -x "$migc" ] && [ -x "$migrun" ] || {
    echo "run.sh: no migc and migrun in $build: build first (./dev.sh build, or ./configure && make), or set BUILD" >&2
    exit 2
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NO_COLOR=1
# every command runs in a folder without .migrun/ (migrun's compile cache is opt-in by its presence)
mkdir -p "$work/nocache" "$work/cache/.migrun/cache"
cd "$work/nocache" || exit 2
started=$(date +%s)
uptime_start=$(uptime)

# ---- problems: said on stderr at once, listed in the results, exit 1 ----------
problems=()
problem() {
    problems+=("$1")
    echo "run.sh: NOT MEASURED / WRONG: $1" >&2
}
progress() { echo "run.sh: [$(($(date +%s) - started)) s] $*" >&2; }

# ---- peers ------------------------------------------------------------------
tools=${BENCH_TOOLS:-$here/.tools}
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
if ! command -v hyperfine >/dev/null; then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q hyperfine >"$work/apt.log" 2>&1
fi
command -v hyperfine >/dev/null || {
    echo "run.sh: hyperfine is needed and could not be installed (apt-get install hyperfine):" >&2
    tail -n 3 "$work/apt.log" >&2
    exit 2
}
npm_tool() {    # npm_tool PACKAGE BIN — the peer's native binary on stdout
    local pkg=$1 bin=$2 f
    if ! compgen -G "$tools/node_modules/@$pkg/*/bin/$bin" >/dev/null && [ ! -x "$tools/node_modules/.bin/$bin" ]; then
        if ! command -v npm >/dev/null; then
            echo "npm is not installed (apt-get install npm)"
            return 1
        fi
        mkdir -p "$tools"
        if ! npm install --prefix "$tools" --no-audit --no-fund --no-save "$pkg" >"$work/npm-$pkg.log" 2>&1; then
            echo "npm install $pkg failed: $(grep -m1 -i 'err' "$work/npm-$pkg.log" || tail -n 1 "$work/npm-$pkg.log")"
            return 1
        fi
    fi
    # the package's own binary: its node wrapper would add node's start-up
    for f in "$tools"/node_modules/@"$pkg"/*/bin/"$bin" "$tools/node_modules/.bin/$bin"; do
        if [ -x "$f" ] && "$f" --version >/dev/null 2>&1; then
            echo "$f"
            return 0
        fi
    done
    echo "$pkg is installed in $tools but its $bin does not run ($bin --version fails)"
    return 1
}
if r=$(npm_tool dbmate dbmate); then dbmate=$r; dbmate_why=; else dbmate=; dbmate_why=$r; problem "dbmate: $r"; fi
if r=$(npm_tool squawk-cli squawk); then squawk=$r; squawk_why=; else squawk=; squawk_why=$r; problem "squawk: $r"; fi

have_pg=no pg_why=
if [ -n "${BENCH_NO_PG:-}" ]; then
    pg_why="BENCH_NO_PG is set"
elif ! psql -X -q -A -t -c 'SELECT 1' >/dev/null 2>"$work/pg.err"; then
    pg_why="no PostgreSQL server: $(head -n 1 "$work/pg.err")"
    command -v pg_virtualenv >/dev/null || pg_why="pg_virtualenv is not installed (apt-get install postgresql-common)"
    problem "PostgreSQL: $pg_why"
else
    have_pg=yes
fi
dbs=(sqlite)
[ "$have_pg" = yes ] && dbs+=(postgres)

# ---- helpers ----------------------------------------------------------------
declare -A RES WHY   # RES[key]: median seconds, KiB or count; WHY[key]: why a figure is missing or wrong
# median KEY PREPARE COMMAND [RUNS [hyperfine options…]] — hyperfine's median, in seconds
median() {
    local key=$1 prepare=$2 cmd=$3 n=${4:-$runs}
    shift 3; [ $# -gt 0 ] && shift
    local p=()
    [ -n "$prepare" ] && p=(--prepare "$prepare")
    if hyperfine -N --style basic --runs "$n" "${p[@]}" "$@" --export-json "$work/h.json" "$cmd" >"$work/h.log" 2>&1; then
        RES[$key]=$(python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$work/h.json")
    else
        # hyperfine keeps no output: run it once more to say why it failed
        local why
        if [ -n "$prepare" ] && ! $prepare >"$work/why.log" 2>&1; then
            why="its preparation ($prepare) failed: $(tail -n 1 "$work/why.log")"
        elif $cmd >/dev/null 2>"$work/why.log"; then
            why="$(grep -m1 -o 'Command terminated with non-zero exit code: [0-9]*' "$work/h.log" || tail -n 1 "$work/h.log") (it passed when run again)"
        else
            why="exit $?: $(tail -n 1 "$work/why.log")"
        fi
        RES[$key]=failed
        WHY[$key]=$why
        problem "$key failed: $why"
    fi
}
skip() { RES[$1]=n/a; WHY[$1]=$2; }
ratio() {
    python3 -c 'import sys
try: print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))
except Exception: print("n/a")' "$1" "$2"
}
# met VALUE OP LIMIT → yes / no / n/a
met() {
    python3 -c 'import sys, operator
ops = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
try: print("yes" if ops[sys.argv[2]](float(sys.argv[1]), float(sys.argv[3])) else "**no**")
except Exception: print("n/a")' "$1" "$2" "$3"
}
# x RATIO — "1.23×", or n/a
x() { case $1 in n/a) echo n/a ;; *) echo "$1×" ;; esac; }
# mscell KEY — a time in ms, or n/a with its reason
mscell() { echo "$(ms "${RES[$1]:-n/a}")${WHY[$1]:+ (${WHY[$1]})}"; }
ms() { python3 -c 'import sys
try: print("%.1f ms" % (float(sys.argv[1]) * 1000))
except Exception: print(sys.argv[1])' "$1"; }
# cell KEY [UNIT] — a figure, or n/a with its reason, flagged when the result was wrong
cell() {    # cell KEY [UNIT]
    local v=${RES[$1]:-n/a}
    case $v in n/a | failed) ;; *) v=$v${2:-} ;; esac
    if [ -n "${WHY[$1]:-}" ]; then
        echo "$v (${WHY[$1]})"
    else
        echo "$v"
    fi
}

# corpus N — bench/gen.py's N migrations and their plan.migb, made once; the folder on stdout
corpus() {
    local g=$work/gen$1
    if [ ! -f "$g/plan.migb" ]; then
        progress "generating $1 migrations"
        python3 "$here/gen.py" "$1" "$g" || { echo "run.sh: bench/gen.py $1 failed" >&2; exit 2; }
        "$migc" build "$g/mig" -o "$g/plan.migb" >"$work/build.log" 2>&1 || {
            echo "run.sh: migc build of the corpus failed:" >&2
            tail -n 5 "$work/build.log" >&2
            exit 2
        }
    fi
    echo "$g"
}

# scripts D G — the commands of database D on corpus G, one small script each
# (no quoting inside quoting): reset (a fresh database), <tool>_up, <tool>_down
scripts() {
    local d=$1 g=$2 s=$work/$1
    mkdir -p "$s"
    local dm_dir=$g/dbmate/migrations journal=$work/journal.db
    if [ "$d" = sqlite ]; then
        local db=$work/bench.db
        url="sqlite:$db"
        printf 'rm -rf %s %s-* %s*\n' "$db" "$db" "$journal" >"$s/reset"
        printf 'exec sqlite3 -bail %s < %s\n' "$db" "$g/sql/up_floor.sql" >"$s/floor_up"
        printf 'exec sqlite3 -bail %s < %s\n' "$db" "$g/sql/down_floor.sql" >"$s/floor_down"
        printf 'DATABASE_URL=sqlite:%s; export DATABASE_URL\n' "$db" >"$s/dbmate_env"
        # fingerprint: the objects of the corpus and the rows of its first and last table
        printf 'sqlite3 %s "SELECT type, name FROM sqlite_master WHERE name GLOB '"'"'[tv][0-9]*'"'"' OR name GLOB '"'"'idx_t*'"'"' ORDER BY 1, 2"\n' "$db" >"$s/fingerprint"
        printf 'for t in %s %s; do sqlite3 %s "SELECT * FROM $t ORDER BY id" 2>&1; done\n' \
            "t00001" "$(printf 't%05d' "$3")" "$db" >>"$s/fingerprint"
    else
        url="postgresql:///bench"
        printf 'PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists bench && createdb bench && rm -rf %s*\n' "$journal" >"$s/reset"
        printf 'exec psql -X -q -v ON_ERROR_STOP=1 -d bench -f %s >/dev/null\n' "$g/sql/up_floor.sql" >"$s/floor_up"
        printf 'exec psql -X -q -v ON_ERROR_STOP=1 -d bench -f %s >/dev/null\n' "$g/sql/down_floor.sql" >"$s/floor_down"
        # the password reaches dbmate in its environment, not in its argv
        # shellcheck disable=SC2016
        printf 'DATABASE_URL="postgres://$PGUSER:$PGPASSWORD@${PGHOST:-localhost}:${PGPORT:-5432}/bench?sslmode=disable"; export DATABASE_URL\n' >"$s/dbmate_env"
        printf 'psql -X -A -t -d bench -c "SELECT c.relkind, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relname ~ '"'"'^([tv][0-9]|idx_t)'"'"' ORDER BY 1, 2"\n' >"$s/fingerprint"
        printf 'for t in %s %s; do psql -X -A -t -d bench -c "SELECT * FROM $t ORDER BY id" 2>&1 | sed "s/^.*ERROR: *//"; done\n' \
            "t00001" "$(printf 't%05d' "$3")" >>"$s/fingerprint"
    fi
    printf 'exec %s apply %s --db %s --journal %s >/dev/null\n' "$migrun" "$g/plan.migb" "$url" "$journal" >"$s/migrun_up"
    printf 'exec %s rollback --all --db %s --journal %s >/dev/null\n' "$migrun" "$url" "$journal" >"$s/migrun_down"
    printf '. %s\nexec %s --no-dump-schema --migrations-dir %s up >/dev/null\n' "$s/dbmate_env" "$dbmate" "$dm_dir" >"$s/dbmate_up"
    # dbmate rolls back one migration per call: a user repeats it N times
    printf '. %s\nfor i in $(seq %s); do %s --no-dump-schema --migrations-dir %s rollback >/dev/null || exit 1; done\n' \
        "$s/dbmate_env" "$3" "$dbmate" "$dm_dir" >"$s/dbmate_down"
    for w in migrun floor dbmate; do
        printf 'sh %s && sh %s\n' "$s/reset" "$s/${w}_up" >"$s/${w}_prepare_down"
    done
    S=$s
}
fingerprint() { sh "$S/fingerprint" 2>&1 | md5sum | cut -d' ' -f1; }

# ---- apply and rollback --all -------------------------------------------------
for n in "${sizes[@]}"; do
    g=$(corpus "$n") || exit 2
    for d in "${dbs[@]}"; do
        scripts "$d" "$g" "$n"
        sh "$S/reset" && fp_empty=$(fingerprint)
        for w in floor migrun dbmate; do
            k=$d/$n/$w
            if [ "$w" = dbmate ] && [ -z "$dbmate" ]; then
                skip "$k/apply" "dbmate not installed: $dbmate_why"
                skip "$k/rollback" "dbmate not installed"
                continue
            fi
            progress "$d N=$n: $w apply"
            median "$k/apply" "sh $S/reset" "sh $S/${w}_up"
            if [ "${RES[$k/apply]}" != failed ]; then
                fp=$(fingerprint)
                if [ "$w" = floor ]; then
                    fp_full=$fp
                    [ "$fp" != "$fp_empty" ] || problem "$k: the floor's apply changed nothing"
                elif [ "$fp" != "$fp_full" ]; then
                    WHY[$k/apply]="WRONG: the database after it differs from the floor's"
                    problem "$k/apply: the database after it differs from the floor's"
                fi
            fi
            if [ "$w" = dbmate ] && [ "${BENCH_DBMATE_ROLLBACK:-1}" = 0 ]; then
                skip "$k/rollback" "skipped: BENCH_DBMATE_ROLLBACK=0"
                continue
            fi
            progress "$d N=$n: $w rollback"
            median "$k/rollback" "sh $S/${w}_prepare_down" "sh $S/${w}_down"
            if [ "${RES[$k/rollback]}" != failed ] && [ "$(fingerprint)" != "$fp_empty" ]; then
                WHY[$k/rollback]="WRONG: the database after it is not the empty one"
                problem "$k/rollback: the database after it is not the empty one it started from"
            fi
        done
    done
done

# ---- migrun status ----------------------------------------------------------
g=$(corpus "$status_n") || exit 2
for d in "${dbs[@]}"; do
    scripts "$d" "$g" "$status_n"
    k=$d/$status_n/status
    progress "$d: status of $status_n applied migrations"
    sh "$S/reset" 2>/dev/null
    fp_empty=$(fingerprint)
    if ! sh "$S/migrun_up" >"$work/status.log" 2>&1; then
        for w in src cache migb query; do skip "$k/$w" "the apply before it failed"; done
        problem "$k: migrun apply of $status_n migrations failed: $(tail -n 1 "$work/status.log")"
        continue
    fi
    if [ "$(fingerprint)" = "$fp_empty" ]; then
        for w in src cache migb query; do skip "$k/$w" "WRONG: the apply before it changed nothing"; done
        problem "$k: migrun apply of $status_n migrations changed nothing"
        continue
    fi
    st="$migrun status $g/mig --db $url --journal $work/journal.db"
    # from sources in a folder without .migrun/cache, then with it (filled by the warm-up)
    median "$k/src" "" "$st" "$fast_runs" --warmup 2
    cd "$work/cache" && rm -rf .migrun/cache/*
    median "$k/cache" "" "$st" "$fast_runs" --warmup 2
    cd "$work/nocache" || exit 2
    median "$k/migb" "" "$migrun status $g/plan.migb --db $url --journal $work/journal.db" "$fast_runs" --warmup 2
    # what one query of the tracking table costs its database's own client
    # (start, connect, the schema read): the floor under any status
    if [ "$d" = sqlite ]; then
        median "$k/query" "" "sqlite3 $work/bench.db 'SELECT count(*) FROM mig_applied'" "$fast_runs" --warmup 2
    else
        median "$k/query" "" "psql -X -A -t -d bench -c 'SELECT count(*) FROM mig_applied'" "$fast_runs" --warmup 2
    fi
done

# ---- migc check against squawk ----------------------------------------------
g=$(corpus "$check_n") || exit 2
c=$work/check
mkdir -p "$c"
RES[check/mig_bytes]=$(cat "$g"/mig/*.mig | wc -c)
RES[check/sql_bytes]=$(cat "$g"/squawk/*.sql | wc -c)
printf 'exec %s check %s 2>%s\n' "$migc" "$g/mig" "$c/migc.txt" >"$c/migc"
printf 'exec %s --reporter gcc --assume-in-transaction "%s/squawk/*.sql" >%s 2>%s\n' "$squawk" "$g" "$c/squawk.txt" "$c/squawk.err" >"$c/squawk"
progress "migc check of $check_n migrations"
if sh "$c/migc"; then
    RES[check/migc_diags]=$(wc -l <"$c/migc.txt")
    median check/migc_1 "" "taskset -c 0 sh $c/migc" "$fast_runs" --warmup 1
    median check/migc_all "" "sh $c/migc" "$fast_runs" --warmup 1
else
    skip check/migc_1 "migc check failed: $(head -n 1 "$c/migc.txt")"
    skip check/migc_all "migc check failed"
    problem "migc check of the corpus failed: $(head -n 1 "$c/migc.txt")"
fi
if [ -z "$squawk" ]; then
    skip check/squawk_1 "squawk not installed: $squawk_why"
    skip check/squawk_all "squawk not installed"
else
    progress "squawk on the same $check_n migrations"
    # squawk exits 1 when it reports something, and 1 when it fails: what it
    # wrote tells which (nothing on stderr, a diagnostic for every up file)
    sh "$c/squawk"
    rc=$?
    files=$(cut -d: -f1 "$c/squawk.txt" | sort -u | wc -l)
    if [ $rc -gt 1 ] || [ -s "$c/squawk.err" ] || [ "$files" -lt "$check_n" ]; then
        why="squawk did not lint the files (exit $rc, $files files named): $(head -c 200 "$c/squawk.err")"
        skip check/squawk_1 "$why"
        skip check/squawk_all "$why"
        problem "$why"
    else
        RES[check/squawk_diags]=$(wc -l <"$c/squawk.txt")
        median check/squawk_1 "" "taskset -c 0 sh $c/squawk" "$fast_runs" --warmup 1 -i
        median check/squawk_all "" "sh $c/squawk" "$fast_runs" --warmup 1 -i
    fi
fi

# ---- peak RSS ---------------------------------------------------------------
# rss KEY COMMAND… — peak RSS in KiB of one run (stdin and stdout as given)
rss() {
    local key=$1
    shift
    if /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>"$work/rss.err"; then
        RES[$key]=$(tail -n 1 "$work/rss")
    else
        RES[$key]=failed
        WHY[$key]="failed: $(grep -v '^Command exited' "$work/rss.err" | tail -n 1)"
        problem "$key ${WHY[$key]}"
    fi
}
[ -x /usr/bin/time ] || problem "peak RSS: /usr/bin/time is not installed (apt-get install time)"
for n in "${rss_sizes[@]}"; do
    [ -x /usr/bin/time ] || break
    g=$(corpus "$n") || exit 2
    for d in "${dbs[@]}"; do
        scripts "$d" "$g" "$n"
        progress "$d N=$n: peak RSS"
        sh "$S/reset"
        rss "$d/$n/rss/migrun" "$migrun" apply "$g/plan.migb" --db "$url" --journal "$work/journal.db"
        fp=$(fingerprint)
        sh "$S/reset"
        if [ "$d" = sqlite ]; then
            rss "$d/$n/rss/floor" sqlite3 -bail "$work/bench.db" <"$g/sql/up_floor.sql"
        else
            rss "$d/$n/rss/floor" psql -X -q -v ON_ERROR_STOP=1 -d bench -f "$g/sql/up_floor.sql"
        fi
        if [ "${RES[$d/$n/rss/migrun]}" != failed ] && [ "${RES[$d/$n/rss/floor]}" != failed ] && [ "$fp" != "$(fingerprint)" ]; then
            WHY[$d/$n/rss/migrun]="WRONG: the database after it differs from the floor's"
            problem "$d/$n/rss/migrun: the database after migrun's apply differs from the floor's"
        fi
    done
done
[ "$have_pg" = yes ] && dropdb --if-exists bench >/dev/null 2>&1

# ---- the results --------------------------------------------------------------
elapsed=$(($(date +%s) - started))
ver() { "$@" 2>/dev/null | head -n 1 || echo "not installed"; }
cores=$(nproc)
{
    echo "# Benchmark results"
    echo
    if [ "$quick" = 1 ]; then
        echo "**A quick run (\`bench/run.sh --quick\`): sizes below the targets' and $runs runs per"
        echo "median — a smoke check of the harness; its met / not met say nothing about the targets.**"
        echo
    fi
    echo "Written by \`bench/run.sh$([ "$quick" = 1 ] && echo ' --quick')\` on $(date -u '+%Y-%m-%d %H:%M UTC') in $((elapsed / 60)) min $((elapsed % 60)) s."
    echo
    echo "- machine: $(uname -srm), $cores cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB"
    echo "- load at the start: \`$(echo "$uptime_start" | sed 's/^ *//')\`; at the end: \`$(uptime | sed 's/^ *//')\`"
    if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.5 * int(sys.argv[2]) else 1)' "$(echo "$uptime_start" | sed 's/.*load average: //; s/,.*//')" "$cores"; then
        echo "- **the machine was shared**: other work was running when this run started (load average"
        echo "  $(echo "$uptime_start" | sed 's/.*load average: //; s/,.*//') on $cores cores), so the figures are noisy; ratios taken in one run are still comparable"
    fi
    echo "- mig: $(git -C "$top" describe --always --dirty 2>/dev/null || echo 'not a git checkout'), binaries of \`$([ "$build" = "$top" ] && echo 'the source tree' || echo "${build#"$top"/}")\`"
    echo "- SQLite $(sqlite3 --version | cut -d' ' -f1) (sqlite3), PostgreSQL $([ "$have_pg" = yes ] && psql -X -A -t -c 'SHOW server_version' || echo "not measured: $pg_why"), $(ver hyperfine --version)"
    echo "- dbmate: $([ -n "$dbmate" ] && "$dbmate" --version | sed 's/^dbmate version //' || echo "not installed: $dbmate_why"); squawk: $([ -n "$squawk" ] && "$squawk" --version | sed 's/^squawk //' || echo "not installed: $squawk_why") (npm, their native binaries)"
    echo
    echo "Corpus: \`bench/gen.py\` — one migration per file, six steps each (a table with three"
    echo "seed rows, a column with a default, an index, a backfill, a view, a reversible update),"
    echo "each with its exact inverse. The floor is the same SQL through \`sqlite3\` / \`psql\`,"
    echo "one transaction per migration (migrun's boundaries: one phase per migration). migrun"
    echo "applies the \`.migb\` of \`migc build\`. Every run starts from a fresh database (a new"
    echo "file; \`dropdb\` and \`createdb\`); rollback is timed from the state its own apply left."
    echo "Times are hyperfine's medians of $runs runs (status and check: $fast_runs runs after warm-ups),"
    echo "in seconds. Each tool's database after apply is compared with the floor's, and after"
    echo "rollback with the empty one (objects, and the rows of the first and last table)."
    echo
    echo "## Targets (issue 14)"
    echo
    echo "| target | measured | ratio | met |"
    echo "| --- | --- | --- | --- |"
    for d in sqlite postgres; do
        for n in "${sizes[@]}"; do
            k=$d/$n
            [ -n "${RES[$k/migrun/apply]:-}" ] || continue
            a=${RES[$k/migrun/apply]} f=${RES[$k/floor/apply]} m=${RES[$k/dbmate/apply]}
            r=$(ratio "$a" "$f")
            echo "| apply ≤ 1.05× the floor, $d, N=$n | migrun $(cell $k/migrun/apply " s"), floor $(cell $k/floor/apply " s") | $(x "$r") | $([ -n "${WHY[$k/migrun/apply]:-}" ] && echo n/a || met "$r" '<=' 1.05) |"
            r=$(ratio "$a" "$m")
            echo "| apply faster than dbmate, $d, N=$n | migrun $(cell $k/migrun/apply " s"), dbmate $(cell $k/dbmate/apply " s") | $(x "$r") | $([ -n "${WHY[$k/migrun/apply]:-}${WHY[$k/dbmate/apply]:-}" ] && echo n/a || met "$r" '<' 1) |"
            r=$(ratio "${RES[$k/migrun/rollback]}" "${RES[$k/floor/rollback]}")
            echo "| rollback --all ≤ 1.10× the floor, $d, N=$n | migrun $(cell $k/migrun/rollback " s"), floor $(cell $k/floor/rollback " s") | $(x "$r") | $([ -n "${WHY[$k/migrun/rollback]:-}" ] && echo n/a || met "$r" '<=' 1.10) |"
        done
    done
    for d in sqlite postgres; do
        k=$d/$status_n/status
        [ -n "${RES[$k/src]:-}" ] || continue
        echo "| \`status\` from sources ≤ 20 ms, $status_n applied migrations, $d | $(mscell $k/src) | | $(met "${RES[$k/src]}" '<=' 0.020) |"
    done
    r1=$(ratio "${RES[check/squawk_1]}" "${RES[check/migc_1]}")
    r2=$(ratio "${RES[check/squawk_all]}" "${RES[check/migc_all]}")
    echo "| \`migc check\` ≥ 4× faster than squawk on one core, $check_n migrations | migc $(cell check/migc_1 " s"), squawk $(cell check/squawk_1 " s") | squawk / migc $(x "$r1") | $(met "$r1" '>=' 4) |"
    echo "| \`migc check\` faster than squawk on the wall clock, $cores cores | migc $(cell check/migc_all " s"), squawk $(cell check/squawk_all " s") | squawk / migc $(x "$r2") | $(met "$r2" '>' 1) |"
    for d in sqlite postgres; do
        for n in "${rss_sizes[@]}"; do
            k=$d/$n/rss
            [ -n "${RES[$k/migrun]:-}" ] || continue
            r=$(ratio "${RES[$k/migrun]}" "${RES[$k/floor]}")
            echo "| peak RSS of apply ≤ 1.5× $([ $d = sqlite ] && echo sqlite3 || echo psql)'s, N=$n | migrun $(cell $k/migrun " KiB"), $([ $d = sqlite ] && echo sqlite3 || echo psql) $(cell $k/floor " KiB") | $(x "$r") | $([ -n "${WHY[$k/migrun]:-}" ] && echo n/a || met "$r" '<=' 1.5) |"
        done
    done
    echo
    echo "## Apply"
    echo
    echo "| database | N | migrun apply | floor | dbmate up | migrun / floor | migrun / dbmate |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for d in sqlite postgres; do
        for n in "${sizes[@]}"; do
            k=$d/$n
            [ -n "${RES[$k/migrun/apply]:-}" ] || continue
            echo "| $d | $n | $(cell $k/migrun/apply) | $(cell $k/floor/apply) | $(cell $k/dbmate/apply) | $(ratio "${RES[$k/migrun/apply]}" "${RES[$k/floor/apply]}") | $(ratio "${RES[$k/migrun/apply]}" "${RES[$k/dbmate/apply]}") |"
        done
    done
    echo
    echo "## Rollback of everything"
    echo
    echo "migrun: \`rollback --all\`; floor: the downs, last migration first, one transaction per"
    echo "migration; dbmate: \`dbmate rollback\` N times (it undoes one migration per call)."
    echo
    echo "| database | N | migrun rollback --all | floor | dbmate rollback ×N | migrun / floor | migrun / dbmate |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for d in sqlite postgres; do
        for n in "${sizes[@]}"; do
            k=$d/$n
            [ -n "${RES[$k/migrun/rollback]:-}" ] || continue
            echo "| $d | $n | $(cell $k/migrun/rollback) | $(cell $k/floor/rollback) | $(cell $k/dbmate/rollback) | $(ratio "${RES[$k/migrun/rollback]}" "${RES[$k/floor/rollback]}") | $(ratio "${RES[$k/migrun/rollback]}" "${RES[$k/dbmate/rollback]}") |"
        done
    done
    echo
    echo "## \`migrun status\`, $status_n applied migrations"
    echo
    echo "From sources: \`migrun status mig/\` compiles the $status_n \`.mig\` files (without, then with,"
    echo "the opt-in compile cache \`.migrun/cache\`, filled by the warm-up); from \`.migb\`: the plan"
    echo "of \`migc build\`. One query: \`sqlite3\` / \`psql\` counting the rows of \`mig_applied\` in the"
    echo "same database — its client's start, connection and reading of the schema, the floor under any"
    echo "\`status\`."
    echo
    echo "| database | from sources | from sources, cache | from .migb | one query (sqlite3 / psql) |"
    echo "| --- | --- | --- | --- | --- |"
    for d in sqlite postgres; do
        k=$d/$status_n/status
        [ -n "${RES[$k/src]:-}" ] || continue
        echo "| $d | $(mscell $k/src) | $(mscell $k/cache) | $(mscell $k/migb) | $(mscell $k/query) |"
    done
    echo
    echo "## \`migc check\` and squawk, $check_n migrations"
    echo
    echo "migc: \`migc check mig/\` ($check_n files, ${RES[check/mig_bytes]} bytes), diagnostics (text, stderr)"
    echo "to a file; squawk: \`squawk --reporter gcc --assume-in-transaction 'squawk/*.sql'\` on the"
    echo "same SQL, the up and the down of each migration in its own file ($((2 * check_n)) files,"
    echo "${RES[check/sql_bytes]} bytes), diagnostics to a file. One core: \`taskset -c 0\`."
    echo "Diagnostics written: migc ${RES[check/migc_diags]:-n/a}, squawk ${RES[check/squawk_diags]:-n/a} (their rules differ:"
    echo "migc knows that a table created in the same migration is not live yet)."
    echo
    echo "| cores | migc check | squawk | squawk / migc |"
    echo "| --- | --- | --- | --- |"
    echo "| 1 | $(cell check/migc_1) | $(cell check/squawk_1) | $r1 |"
    echo "| $cores | $(cell check/migc_all) | $(cell check/squawk_all) | $r2 |"
    echo
    echo "## Peak RSS of apply"
    echo
    echo "KiB, one run each (\`/usr/bin/time -f %M\`): migrun applying the \`.migb\` against"
    echo "\`sqlite3\` / \`psql\` running the floor's SQL (the client's memory in both cases)."
    echo
    echo "| database | N | migrun apply | sqlite3 / psql | migrun / floor |"
    echo "| --- | --- | --- | --- | --- |"
    for d in sqlite postgres; do
        for n in "${rss_sizes[@]}"; do
            k=$d/$n/rss
            [ -n "${RES[$k/migrun]:-}" ] || continue
            echo "| $d | $n | $(cell $k/migrun) | $(cell $k/floor) | $(ratio "${RES[$k/migrun]}" "${RES[$k/floor]}") |"
        done
    done
    echo
    echo "Sqitch is no longer measured (3–18× slower than migrun in the run of 2026-11-22,"
    echo "below the notes marker)."
    if [ ${#problems[@]} -gt 0 ]; then
        echo
        echo "## Not measured or wrong in this run"
        echo
        for p in "${problems[@]}"; do echo "- $p"; done
    fi
    if [ -f "$here/FLEET.md" ]; then
        echo
        echo "The fleet benchmark (\`bench/fleet.sh\`) is in [FLEET.md](FLEET.md)."
    fi
    echo
    echo "<!-- notes -->"
    # everything from the marker on is kept verbatim
    if [ -f "$out" ]; then
        if grep -q '^<!-- notes -->$' "$out"; then
            sed '1,/^<!-- notes -->$/d' "$out"
        else
            echo
            echo "## Earlier results (kept: the file had no \`<!-- notes -->\` line)"
            echo
            cat "$out"
            echo "run.sh: $out had no '<!-- notes -->' line: its whole text is kept below the new tables" >&2
        fi
    fi
} >"$work/RESULTS.md"
mkdir -p "$(dirname "$out")"
cp "$work/RESULTS.md" "$out"
cat "$out" | sed '/^<!-- notes -->$/q'
echo "run.sh: written to $out in $((elapsed / 60)) min $((elapsed % 60)) s" >&2
if [ ${#problems[@]} -gt 0 ]; then
    echo "run.sh: ${#problems[@]} figure(s) NOT MEASURED or WRONG:" >&2
    printf '  - %s\n' "${problems[@]}" >&2
    exit 1
fi
exit 0
