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

# schema DB — every object except the tracking table, in a stable order
schema() {
    sqlite3 "$1" "SELECT type, name, tbl_name, sql FROM sqlite_master
                  WHERE name NOT LIKE 'mig_applied%' AND name NOT LIKE 'sqlite_autoindex_mig_applied%'
                    AND name <> 'sqlite_sequence'
                  ORDER BY type, name"
}

q() { sqlite3 "$1" "$2"; }

run_case() {
    local name=$1
    CASE_OK=1
    local dir
    dir=$(mktemp -d)
    # each case runs in a subshell in its own folder and reports through a file
    (export CASE_DIR="$dir"; cd "$dir" && "$name")
    if [ -f "$dir/.failed" ]; then CASE_OK=0; fi
    rm -rf "$dir"
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
