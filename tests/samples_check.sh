#!/bin/sh
# samples_check.sh — the sample migrations are clean under `migc check`:
# the whole folder (migrations there name each other in `after`) exits 0
# with no output at all, and it holds the samples the guides call for: the
# database part of a guide alone (what ./dev.sh demo runs on SQLite: no
# command in them) and the full upgrade of each of the five seed guides,
# each naming its guide in its header (tests/e2e/guides.sh runs them).
: "${MIGC:?MIGC must name the migc binary}"
: "${TOP_SRCDIR:?}"
S=$TOP_SRCDIR/samples
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }

out=$("$MIGC" check "$S" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then
    ok
else
    ko "migc check samples/ (exit $rc)"
    echo "$out"
fi
for m in keiko_v2 external_agents legacy_user_import \
         keiko_v2_upgrade kato_v2 orchesity_v2 trusted_login_upgrade external_agents_upgrade; do
    if grep -q "^migration $m " "$S"/*.mig; then ok; else ko "no sample migration '$m'"; fi
done

# the database-only samples of the demo run no command
out=$("$MIGC" check --list-exec "$S/keiko-v1-base.mig" "$S/keiko-v2.mig" "$S/kaizen-billing-base.mig" \
      "$S/kaizen-external-agents.mig" "$S/trusted-login-legacy-import.mig" 2>&1)
if [ $? -eq 0 ] && [ -z "$out" ]; then ok; else ko "the database-only samples run commands: $out"; fi

# each full upgrade says which seed guide it comes from, and runs commands
for f in keiko-v2-upgrade.mig:000 kato-v2-rollout.mig:001 orchesity-v2-upgrade.mig:002 \
         trusted-login-upgrade.mig:003 kaizen-external-agents-upgrade.mig:004; do
    file=$S/${f%%:*} seed=${f##*:}
    if head -n 3 "$file" | grep -q "(seed $seed"; then ok; else ko "${f%%:*}: no '(seed $seed' in its header"; fi
    if [ -n "$("$MIGC" check --list-exec "$file" 2>/dev/null)" ]; then ok; else ko "${f%%:*} runs no command"; fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
