# lib.sh — helpers for the end-to-end tests: each test is a function run in
# a fresh temporary folder; checks compare exit codes, output, and the
# database afterwards (inspected with the sqlite3 shell).
: "${MIGC:?}" "${MIGRUN:?}" "${TOP_SRCDIR:?}"
pass=0 fail=0
failed_names=""
export NO_COLOR=1

# check DESCRIPTION CONDITION-COMMAND...
check() {
    local what=$1
    shift
    if "$@"; then
        return 0
    fi
    echo "    check failed: $what"
    [ -n "${MIG_TEST_VERBOSE:-}" ] && printf '%s\n' "$OUT" | sed 's/^/      | /' | head -40
    touch "$CASE_DIR/.failed"
}

# expect_exit WANT COMMAND... — runs the command, keeps its output in $OUT
expect_exit() {
    local want=$1
    shift
    OUT=$("$@" 2>&1)
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "    exit $rc, want $want: $*"
        printf '%s\n' "$OUT" | sed 's/^/      | /' | head -30
        touch "$CASE_DIR/.failed"
    fi
}

contains() { printf '%s\n' "$OUT" | grep -qF -- "$1"; }
not_contains() { ! printf '%s\n' "$OUT" | grep -qF -- "$1"; }

# The database of a case: DIALECT=sqlite uses the file db.sqlite in the
# case's folder; DIALECT=postgres a database of its own on the server that
# pg_virtualenv started (PGHOST, PGPORT, PGUSER, PGPASSWORD).
DIALECT=${DIALECT:-sqlite}
new_db() {
    if [ "$DIALECT" = postgres ]; then
        PGDB="t_$(basename "$CASE_DIR" | tr -dc 'a-z0-9')"
        createdb "$PGDB" || { echo "    cannot create database $PGDB"; touch "$CASE_DIR/.failed"; }
        URL="postgresql:///$PGDB"
    else
        URL="sqlite:db.sqlite"
    fi
}

drop_db() {
    if [ "$DIALECT" = postgres ] && [ -n "${PGDB:-}" ]; then
        dropdb --force "$PGDB" 2>/dev/null || dropdb "$PGDB" 2>/dev/null || true
    fi
}

# q SQL — runs SQL on the case's database, prints rows as a|b lines
q() {
    if [ "$DIALECT" = postgres ]; then
        psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$PGDB" -c "$1"
    else
        sqlite3 db.sqlite "$1"
    fi
}

# has_table NAME — 1 or 0
has_table() {
    if [ "$DIALECT" = postgres ]; then
        q "SELECT count(*) FROM pg_catalog.pg_class WHERE relname = '$1' AND relkind IN ('r', 'p', 'v')"
    else
        q "SELECT count(*) FROM sqlite_master WHERE name = '$1' AND type IN ('table', 'view')"
    fi
}

# schema — every object except mig's own (mig_applied, mig_runs, mig_meta), in a stable order
schema() {
    if [ "$DIALECT" = postgres ]; then
        q "SELECT table_schema, table_name, column_name, data_type, column_default, is_nullable
             FROM information_schema.columns
            WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_name NOT LIKE 'mig\\_%'
            ORDER BY 1, 2, ordinal_position"
        q "SELECT schemaname, indexname, indexdef FROM pg_indexes
            WHERE schemaname NOT IN ('pg_catalog') AND tablename NOT LIKE 'mig\\_%' ORDER BY 1, 2"
        q "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema' ORDER BY 1"
        q "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
    else
        sqlite3 db.sqlite "SELECT type, name, tbl_name, sql FROM sqlite_master
                  WHERE name NOT LIKE 'mig\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite_autoindex_mig\\_%' ESCAPE '\\'
                    AND name <> 'sqlite_sequence'
                  ORDER BY type, name"
    fi
}

# db_untouched — nothing was created: no file (SQLite), no tracking table
db_untouched() {
    if [ "$DIALECT" = postgres ]; then
        test "$(has_table mig_applied)" = 0
    else
        test ! -e db.sqlite
    fi
}

# snapshot — schema and data, for "nothing changed"
snapshot() {
    if [ "$DIALECT" = postgres ]; then
        # (\restrict lines carry a random key in recent pg_dump versions)
        pg_dump --no-owner --no-privileges -d "$PGDB" | grep -v -e '^--' -e '^$' -e '^\\restrict' -e '^\\unrestrict'
    else
        sqlite3 db.sqlite .dump
    fi
}

# PostgreSQL suites share one server (make check runs them in parallel): a
# case takes a shared lock on it, and a case that restarts the server
# (*restart* in its name) an exclusive one, so no other case sees it go.
pg_lock() {
    [ "$DIALECT" = postgres ] || return 0
    exec 8>>"${TMPDIR:-/tmp}/mig-pg-server-${PGPORT:-5432}.lock"
    case $1 in *restart*) flock -x 8 ;; *) flock -s 8 ;; esac
}
pg_unlock() {
    [ "$DIALECT" = postgres ] || return 0
    flock -u 8
    exec 8>&-
}

run_case() {
    local name=$1
    CASE_OK=1
    local dir
    pg_lock "$name"
    dir=$(mktemp -d)
    # each case runs in a subshell in its own folder and reports through a file
    (export CASE_DIR="$dir"; cd "$dir" && new_db && "$name"; drop_db)
    if [ -f "$dir/.failed" ]; then CASE_OK=0; fi
    rm -rf "$dir"
    pg_unlock
    if [ $CASE_OK -eq 1 ]; then
        pass=$((pass + 1))
        echo "ok   $name"
    else
        fail=$((fail + 1))
        failed_names="$failed_names $name"
        echo "FAIL $name"
    fi
}

finish() {
    [ -n "$failed_names" ] && echo "failed:$failed_names"
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}

# start_pgbouncer PGBOUNCER DIR PORT: a PgBouncer in transaction mode on
# 127.0.0.1:PORT in front of the server of PG*, its files in DIR (made
# world-writable: it runs as postgres when the tests run as root); waits
# until it answers. Non-zero (its log printed) when it does not start.
start_pgbouncer() {
    local bin=$1 dir=$2 port=$3
    chmod 777 "$dir"
    cat > "$dir/pgbouncer.ini" <<INI
[databases]
* = host=${PGHOST:-localhost} port=${PGPORT:-5432} user=${PGUSER:-postgres} password=${PGPASSWORD:-}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
default_pool_size = 3
server_reset_query =
ignore_startup_parameters = extra_float_digits,options,application_name
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
    echo "\"${PGUSER:-postgres}\" \"\"" > "$dir/users.txt"
    chmod 644 "$dir"/*
    local as_user=()
    [ "$(id -u)" -eq 0 ] && as_user=(-u postgres)
    "$bin" -d "${as_user[@]}" "$dir/pgbouncer.ini" || { cat "$dir/pgbouncer.log" 2>/dev/null; return 1; }
    for _ in $(seq 1 50); do psql -X -q -h 127.0.0.1 -p "$port" -d postgres -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done
}
