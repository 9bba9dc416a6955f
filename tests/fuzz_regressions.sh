#!/bin/sh
# fuzz_regressions.sh — every input a fuzzer ever crashed on stays a test:
# .mig files must check without a crash (exit 0, 1 or 2) and, when they
# check, format idempotently; .migb files must be refused or loaded cleanly.
: "${MIGC:?}" "${TOP_SRCDIR:?}"
pass=0 fail=0
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
for f in "$TOP_SRCDIR"/tests/fuzz-regressions/*; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    case "$f" in
    *.migb)
        "$MIGC" disasm "$f" >/dev/null 2>&1
        rc=$?
        [ $rc -le 2 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: disasm $name exit $rc"; }
        ;;
    *)
        cp "$f" "$tmp/case.mig"
        "$MIGC" check "$tmp/case.mig" >/dev/null 2>&1
        rc=$?
        if [ $rc -gt 2 ]; then
            fail=$((fail + 1))
            echo "FAIL: check $name exit $rc"
            continue
        fi
        if [ $rc -eq 0 ]; then
            "$MIGC" fmt "$tmp/case.mig" >/dev/null 2>&1 && "$MIGC" fmt --check "$tmp/case.mig" >/dev/null 2>&1 \
                || { fail=$((fail + 1)); echo "FAIL: fmt of $name is not idempotent"; continue; }
        fi
        pass=$((pass + 1))
        ;;
    esac
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
