#!/bin/bash
# rss.sh — peak RSS of `migrun apply` against the client running the same SQL.
#
# For each N of RSS_SIZES (default "1000 10000") and each database (SQLite;
# PostgreSQL when PGHOST is set or pg_virtualenv is installed): bench/gen.py's
# N migrations, their plan.migb (migc build), then the peak RSS in KiB
# (/usr/bin/time -f %M: the process's ru_maxrss) of
#   migrun apply plan.migb --db … --journal …   on a fresh database
#   sqlite3 -bail / psql -f sql/up_floor.sql     on a fresh database
# and their ratio, one table on stdout. Also the RSS of a migrun that does
# nothing (`migrun --version`: the libraries' share).
#
# Environment: RSS_SIZES ("1000 10000"), RSS_DBS ("sqlite postgres"),
# RSS_PGPORT (pg_virtualenv's port, default its choice), BUILD (folder with
# migc and migrun; default the source tree). SQLite at N = 10,000 takes
# long (SQLite re-reads its whole schema at every ALTER TABLE: N²).
# Massif (what holds the memory): valgrind --tool=massif migrun apply … at a
# small N, then ms_print.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
read -r -a sizes <<<"${RSS_SIZES:-1000 10000}"
read -r -a dbs <<<"${RSS_DBS:-sqlite postgres}"
build=${BUILD:-$top}
migc=$build/migc
migrun=$build/migrun
[ -x "$migc" ] && [ -x "$migrun" ] || { echo "rss.sh: no migc and migrun in $build (build first, or set BUILD)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "rss.sh: /usr/bin/time is not installed (apt-get install time)" >&2; exit 2; }

want_pg=no
for d in "${dbs[@]}"; do [ "$d" = postgres ] && want_pg=yes; done
if [ "$want_pg" = yes ] && [ -z "${PGHOST:-}" ] && [ -z "${RSS_IN_PG:-}" ] && command -v pg_virtualenv >/dev/null; then
    RSS_IN_PG=1 exec pg_virtualenv -t ${RSS_PGPORT:+-o "port=$RSS_PGPORT"} "$0" "$@"
fi
[ "$want_pg" = yes ] && [ -z "${PGHOST:-}" ] && { echo "rss.sh: no PostgreSQL (no PGHOST, no pg_virtualenv): SQLite only" >&2; dbs=(sqlite); }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2

# peak KiB of one run of a command (stdin as given), or "failed"
peak() {
    if /usr/bin/time -f %M -o "$work/t" "$@" >/dev/null 2>"$work/err"; then
        tail -n 1 "$work/t"
    else
        echo "rss.sh: failed: $* — $(tail -n 2 "$work/err")" >&2
        echo failed
    fi
}

echo "migrun that does nothing (--version): $(peak "$migrun" --version) KiB; sqlite3 -version: $(peak sqlite3 -version) KiB"
echo
echo "| database | N | migrun apply KiB | floor KiB | migrun / floor |"
echo "| --- | --- | --- | --- | --- |"
for n in "${sizes[@]}"; do
    g=$work/c$n
    python3 "$here/gen.py" "$n" "$g" >/dev/null || exit 2
    "$migc" build -o "$g/plan.migb" "$g/mig" >/dev/null || exit 2
    for d in "${dbs[@]}"; do
        rm -f "$work/db.sqlite" "$work/floor.sqlite" "$work/journal.db"
        if [ "$d" = sqlite ]; then
            m=$(peak "$migrun" apply "$g/plan.migb" --db "sqlite:$work/db.sqlite" --journal "$work/journal.db")
            f=$(peak sqlite3 -bail "$work/floor.sqlite" <"$g/sql/up_floor.sql")
        else
            dropdb --if-exists rss_m >/dev/null 2>&1; createdb rss_m || exit 2
            dropdb --if-exists rss_f >/dev/null 2>&1; createdb rss_f || exit 2
            m=$(peak "$migrun" apply "$g/plan.migb" --db postgresql:///rss_m --journal "$work/journal.db")
            f=$(peak psql -X -q -v ON_ERROR_STOP=1 -d rss_f -f "$g/sql/up_floor.sql")
            dropdb rss_m; dropdb rss_f
        fi
        ratio=n/a
        [ "$m" != failed ] && [ "$f" != failed ] && ratio=$(awk -v a="$m" -v b="$f" 'BEGIN { printf "%.2f", a / b }')
        echo "| $d | $n | $m | $f | $ratio |"
    done
done
