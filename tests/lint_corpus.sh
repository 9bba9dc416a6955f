#!/bin/sh
# lint_corpus.sh — the linter against a corpus of six PostgreSQL project
# histories (tests/lint_corpus/*/, 336 migrations in the style of GitLab,
# Mastodon, Discourse, Sentry, Zulip and Synapse) whose expected findings,
# one "file:line: rule" per line, are the golden file
# tests/lint_corpus/expected.txt (the judgment of each planted hazard and
# safe variant is explained in tests/lint_corpus/generate.py, which wrote
# both). Runs `migc check` on the whole corpus (the migrations in run order,
# so that what earlier ones did to a table is known), prints precision and
# recall, lists every false positive and false negative, and fails unless
# the findings match the golden file exactly.
: "${MIGC:?MIGC must name the migc binary}"
: "${TOP_SRCDIR:?}"
pass=0 fail=0
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
corpus=$TOP_SRCDIR/tests/lint_corpus
check() {
    desc=$1; shift
    if "$@"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $desc"
    fi
}

# no mig.conf of the tree around may change the rules
cd "$corpus" || exit 99
MIG_CONFIG='' NO_COLOR=1 "$MIGC" check chat forge forum matrix social telemetry >"$tmp/out" 2>&1
rc=$?
# file:line:col: severity: message [rule]  →  file:line: rule
sed -n 's/^\([^: ]*\.mig\):\([0-9]*\):[0-9]*: \(warning\|error\): .* \[\([a-z-]*\)\]$/\1:\2: \4/p' "$tmp/out" |
    LC_ALL=C sort >"$tmp/got"
LC_ALL=C sort "$corpus/expected.txt" >"$tmp/want"
LC_ALL=C comm -12 "$tmp/want" "$tmp/got" >"$tmp/tp"
LC_ALL=C comm -13 "$tmp/want" "$tmp/got" >"$tmp/fp"
LC_ALL=C comm -23 "$tmp/want" "$tmp/got" >"$tmp/fn"
tp=$(wc -l <"$tmp/tp") fp=$(wc -l <"$tmp/fp") fn=$(wc -l <"$tmp/fn")
files=$(find chat forge forum matrix social telemetry -name '*.mig' | wc -l)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "1.00"; else printf "%.3f", a / b }'; }
echo "corpus: $files migrations, $(wc -l <"$tmp/want") expected findings, $(wc -l <"$tmp/got") reported"
echo "precision $(ratio "$tp" $((tp + fp))) ($tp/$((tp + fp)))  recall $(ratio "$tp" $((tp + fn))) ($tp/$((tp + fn)))"
# per rule: expected, found, false positives, false negatives
awk '{ print $2 }' "$tmp/want" "$tmp/got" | LC_ALL=C sort -u | while read -r rule; do
    w=$(grep -c " $rule\$" "$tmp/want") g=$(grep -c " $rule\$" "$tmp/tp")
    p=$(grep -c " $rule\$" "$tmp/fp") n=$(grep -c " $rule\$" "$tmp/fn")
    printf '  %-28s expected %3d  found %3d  false positives %2d  missed %2d\n' "$rule" "$w" "$g" "$p" "$n"
done
sed 's/^/false positive: /' "$tmp/fp"
sed 's/^/false negative: /' "$tmp/fn"

check "the corpus has at least 300 migrations" test "$files" -ge 300
check "migc check found every migration and compiled it (no 'io' or syntax error)" \
    eval '! grep -q "\[\(io\|syntax\|unterminated-sql\|unknown-after\|unknown-name\)\]" "$tmp/out"'
check "every diagnostic has a place and a rule" \
    eval '[ "$(grep -c "^[^ ].*: \(warning\|error\): " "$tmp/out")" -eq "$(wc -l <"$tmp/got")" ]'
check "no false positive" test "$fp" -eq 0
check "no false negative" test "$fn" -eq 0
# the corpus plants lint errors (psql meta-commands, COPY FROM STDIN,
# CONCURRENTLY in a transaction, ADD COLUMN NOT NULL without a default)
check "the lint errors fail the check (exit 1)" test "$rc" -eq 1
# doc/rules.md describes every rule of the table (compiler/lint.c)
undocumented=$(sed -n 's/^    { "\([a-z-]*\)", "\(error\|warning\)".*/\1/p' "$TOP_SRCDIR/compiler/lint.c" |
    while read -r id; do grep -q "\`$id\`" "$TOP_SRCDIR/doc/rules.md" || echo "$id"; done)
check "doc/rules.md describes every rule${undocumented:+ (missing: $undocumented)}" test -z "$undocumented"
# the generator is deterministic: the committed corpus is what it writes
if command -v python3 >/dev/null 2>&1; then
    mkdir "$tmp/gen"
    cp "$corpus/generate.py" "$tmp/gen/"
    python3 "$tmp/gen/generate.py" >/dev/null 2>&1
    check "generate.py writes the committed corpus and golden file" \
        diff -r -x generate.py -x __pycache__ "$tmp/gen" "$corpus"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
