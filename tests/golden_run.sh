#!/bin/sh
# golden_run.sh — runner transcripts as golden files. Each case is a folder
# tests/golden/run/NAME/ holding one or more .mig files, a `cmds` file and
# the `expected` transcript. The case runs in a fresh temporary copy of its
# folder with NO_COLOR=1: every line of `cmds` is a shell command (migrun,
# migc, sqlite3 to show the database, or a file edit), run from that copy;
# lines starting with # and blank lines are copied to the transcript as
# they are, as comments for the reader. For each command the transcript has
#     $ COMMAND
#     its stdout and stderr, merged in order
#     [exit N]
# with what varies masked: times (`12 ms` → `N ms`, `"ms":12` → `"ms":N`),
# ISO timestamps (→ TIMESTAMP), process ids (→ pid N), host and user names
# (→ HOST, USER) and the case's temporary folder (→ CASEDIR). The
# transcript is compared with `expected` (a diff on mismatch).
# UPDATE_GOLDEN=1 rewrites the expected files.
: "${MIGC:?MIGC must name the migc binary}"
: "${MIGRUN:?MIGRUN must name the migrun binary}"
: "${TOP_SRCDIR:?}"
NO_COLOR=1
export NO_COLOR
unset MIGRUN_DB MIGRUN_JOURNAL MIGRUN_ALLOW_EXEC
pass=0 fail=0
tmp=$(mktemp) || exit 99
raw=$(mktemp) || exit 99
work=""
trap 'rm -f "$tmp" "$raw"; [ -n "$work" ] && rm -rf "$work"' EXIT

# the commands a cmds line names
migrun() { "$MIGRUN" "$@"; }
migc() { "$MIGC" "$@"; }

host=$(hostname 2>/dev/null || uname -n)
user=$(id -un 2>/dev/null)

# mask DIR — the transcript on stdin with what varies masked
mask() {
    real=$(cd "$1" && pwd -P)
    sed -E \
        -e "s#$real#CASEDIR#g" \
        -e "s#$1#CASEDIR#g" \
        -e "s#${TMPDIR:-/tmp}/tmp\.[A-Za-z0-9]+#TMPFILE#g" \
        -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?/TIMESTAMP/g' \
        -e 's/\b[0-9]+ ms\b/N ms/g' \
        -e 's/"ms": ?[0-9]+/"ms":N/g' \
        -e 's/\b(pid|process|PID) [0-9]+/\1 N/g' \
        -e 's/"pid": ?[0-9]+/"pid":N/g' \
        -e 's/"(host|user)": ?"[^"]*"/"\1":"\U\1"/g' |
    if [ -n "$host" ] && [ ${#host} -ge 3 ]; then
        sed -E "s/\\b$host\\b/HOST/g"
    else
        cat
    fi |
    if [ -n "$user" ] && [ ${#user} -ge 3 ]; then
        sed -E -e "s/([@ (])$user@/\\1USER@/g" -e "s/(user|by|owner) $user\\b/\\1 USER/g"
    else
        cat
    fi
}

cd "$TOP_SRCDIR/tests/golden/run" || exit 99
for case in */; do
    case=${case%/}
    [ -f "$case/cmds" ] || continue
    exp="$case/expected"
    work=$(mktemp -d) || exit 99
    cp -R "$case/." "$work/"
    rm -f "$work/expected"
    (
        cd "$work" || exit 99
        while IFS= read -r line || [ -n "$line" ]; do
            case $line in
            '' | '#'*)
                printf '%s\n' "$line"
                continue
                ;;
            esac
            printf '$ %s\n' "$line"
            eval "$line" </dev/null 2>&1
            echo "[exit $?]"
        done <cmds
    ) >"$raw" 2>&1
    mask "$work" <"$raw" >"$tmp"
    if [ -n "$UPDATE_GOLDEN" ]; then
        cp "$tmp" "$exp"
    fi
    if cmp -s "$tmp" "$exp"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: run $case"
        diff -u "$exp" "$tmp" | head -60
    fi
    rm -rf "$work"
    work=""
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
