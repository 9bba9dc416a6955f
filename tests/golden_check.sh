#!/bin/sh
# golden_check.sh — runs `migc check` on every case under tests/golden/check
# and `migc disasm` on every case under tests/golden/disasm (a .mig file, or
# a directory of them) and compares output and exit code with the .out file
# beside it. The first line of a case may hold "# args: …" with extra
# arguments. UPDATE_GOLDEN=1 rewrites the .out files.
: "${MIGC:?MIGC must name the migc binary}"
: "${TOP_SRCDIR:?}"
pass=0 fail=0
tmp=$(mktemp) || exit 99
trap 'rm -f "$tmp"' EXIT
for cmd in check disasm; do
cd "$TOP_SRCDIR/tests/golden/$cmd" || exit 99
for case in *.mig */; do
    case=${case%/}
    [ -e "$case" ] || continue
    exp="${case%.mig}.out"
    args=""
    if [ -f "$case" ]; then
        args=$(sed -n '1s/^# args: //p' "$case")
    elif [ -f "$case/args" ]; then
        args=$(cat "$case/args")
    fi
    # shellcheck disable=SC2086
    NO_COLOR=1 "$MIGC" $cmd $args "$case" >"$tmp" 2>&1
    echo "exit: $?" >>"$tmp"
    if [ -n "$UPDATE_GOLDEN" ]; then
        cp "$tmp" "$exp"
    fi
    if cmp -s "$tmp" "$exp"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $cmd $case"
        diff -u "$exp" "$tmp" | head -40
    fi
done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
