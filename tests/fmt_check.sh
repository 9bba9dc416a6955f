#!/bin/sh
# fmt_check.sh — `migc fmt`: the golden inputs of tests/golden/fmt become
# their .formatted files, formatting is idempotent, comments and SQL bodies
# survive byte for byte, --check lists without writing, and a file with
# syntax errors is left alone.
: "${MIGC:?}" "${TOP_SRCDIR:?}"
pass=0 fail=0
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }

for src in "$TOP_SRCDIR"/tests/golden/fmt/*.mig; do
    name=$(basename "$src" .mig)
    cp "$src" "$tmp/$name.mig"
    "$MIGC" fmt --check "$tmp/$name.mig" >"$tmp/out" 2>&1
    [ $? -eq 1 ] && grep -q "$name.mig" "$tmp/out" && cmp -s "$src" "$tmp/$name.mig" \
        && ok || ko "--check lists $name without touching it"
    "$MIGC" fmt "$tmp/$name.mig" && cmp -s "$tmp/$name.mig" "${src%.mig}.formatted" \
        && ok || { ko "$name is formatted as $name.formatted"; diff -u "${src%.mig}.formatted" "$tmp/$name.mig" | head -30; }
    "$MIGC" fmt --check "$tmp/$name.mig" >/dev/null 2>&1 && ok || ko "formatting $name twice changes it again"
    [ "$(grep -c '#' "$src")" = "$(grep -c '#' "$tmp/$name.mig")" ] && ok || ko "$name keeps its comments"
    "$MIGC" check "$tmp/$name.mig" >/dev/null 2>&1; a=$?
    "$MIGC" check "$src" >/dev/null 2>&1; b=$?
    [ $a -eq $b ] && ok || ko "$name checks the same before and after"
done

# every SQL body survives byte for byte: the bytecode of the samples is the same
mkdir "$tmp/samples"
cp "$TOP_SRCDIR"/samples/*.mig "$tmp/samples/"
sed -i 's/^  /      /' "$tmp/samples/keiko-v2.mig"       # mess up the layout
"$MIGC" fmt "$tmp/samples" >/dev/null 2>&1
"$MIGC" build "$TOP_SRCDIR/samples" -o "$tmp/a.migb" && "$MIGC" build "$tmp/samples" -o "$tmp/b.migb" \
    && "$MIGC" disasm "$tmp/a.migb" | sed 's/^\([0-9]*\)  *[0-9]* /\1 /; /^; migration/d; s#[^ (]*/samples/##g' >"$tmp/a.lst" \
    && "$MIGC" disasm "$tmp/b.migb" | sed 's/^\([0-9]*\)  *[0-9]* /\1 /; /^; migration/d; s#[^ (]*/samples/##g' >"$tmp/b.lst" \
    && cmp -s "$tmp/a.lst" "$tmp/b.lst" && ok || ko "formatting keeps the SQL and the code of the samples"

"$MIGC" fmt --check "$TOP_SRCDIR/samples" >/dev/null 2>&1 && ok || ko "the samples are formatted"

printf 'migration broken {\n  step s { up sql { SELECT 1 }\n' >"$tmp/broken.mig"
cp "$tmp/broken.mig" "$tmp/broken.orig"
"$MIGC" fmt "$tmp/broken.mig" >"$tmp/out" 2>&1
[ $? -eq 1 ] && cmp -s "$tmp/broken.mig" "$tmp/broken.orig" && grep -q "broken.mig:" "$tmp/out" \
    && ok || ko "a file with syntax errors is reported and left alone"
"$MIGC" fmt --bogus x >/dev/null 2>&1
[ $? -eq 2 ] && ok || ko "an unknown fmt option is a usage error"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
