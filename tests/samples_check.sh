#!/bin/sh
# samples_check.sh — the sample migrations are clean under `migc check`:
# the whole folder (migrations there name each other in `after`) exits 0
# with no output at all, and it holds the samples the guides call for.
: "${MIGC:?MIGC must name the migc binary}"
: "${TOP_SRCDIR:?}"
pass=0 fail=0
out=$("$MIGC" check "$TOP_SRCDIR/samples" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
    echo "FAIL: migc check samples/ (exit $rc)"
    echo "$out"
fi
for m in keiko_v2 external_agents legacy_user_import; do
    if grep -q "^migration $m " "$TOP_SRCDIR"/samples/*.mig; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: no sample migration '$m'"
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
