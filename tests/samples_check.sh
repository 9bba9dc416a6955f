#!/bin/sh
# samples_check.sh — every sample migration is clean under `migc check`:
# exit 0 and no output at all.
: "${MIGC:?MIGC must name the migc binary}"
: "${TOP_SRCDIR:?}"
pass=0 fail=0
for f in "$TOP_SRCDIR"/samples/*.mig "$TOP_SRCDIR/samples"; do
    out=$("$MIGC" check "$f" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && [ -z "$out" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: migc check $f (exit $rc)"
        echo "$out"
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
