#!/bin/sh
# cli_check.sh — the command-line contract of `migc check`: exit codes,
# usage errors naming what is wrong, directories searched recursively,
# clean input printing nothing.
: "${MIGC:?MIGC must name the migc binary}"
: "${TOP_SRCDIR:?}"
pass=0 fail=0
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

# expect NAME WANT_EXIT PATTERN -- ARGS...: runs migc ARGS, checks the exit
# code and that the output matches the grep -E PATTERN ("" = no output).
expect() {
    name=$1 want=$2 pattern=$3
    shift 4
    out=$("$MIGC" "$@" 2>&1)
    rc=$?
    ok=1
    [ "$rc" -eq "$want" ] || ok=0
    if [ -z "$pattern" ]; then
        [ -z "$out" ] || ok=0
    else
        printf '%s\n' "$out" | grep -qE -- "$pattern" || ok=0
    fi
    if [ $ok -eq 1 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $name: exit $rc (want $want), output:"
        printf '%s\n' "$out"
    fi
}

mkdir -p "$tmp/tree/a/b" "$tmp/tree/.hidden"
cat > "$tmp/tree/a/b/deep.mig" <<'MIG'
migration deep { step s { up sql { SELECT 1 } down sql { SELECT 1 } } }
MIG
cat > "$tmp/tree/top.mig" <<'MIG'
migration top { after deep; step s { up sql { SELECT 1 } down sql { SELECT 1 } } }
MIG
echo "not a migration" > "$tmp/tree/notes.txt"
echo "this is not .mig { at all" > "$tmp/tree/.hidden/skip.mig"
cat > "$tmp/warn.mig" <<'MIG'
migration w { param p: string = "x"; step s { up sql { SELECT ${p:raw} } down sql { SELECT 1 } } }
MIG
cat > "$tmp/bad.mig" <<'MIG'
migration b { step s { up sql { SELECT 1 } } }
MIG

printf 'let a = "\377\376";\n' > "$tmp/latin.mig"
expect "a file that is not UTF-8: one clear error" 1 "latin.mig:1:10: error: the file is not UTF-8 text" -- check "$tmp/latin.mig"

expect "clean directory: exit 0, no output" 0 "" -- check "$tmp/tree"
expect "after across a directory tree" 0 "" -- check "$tmp/tree/top.mig" "$tmp/tree/a"
expect "after names a file not given" 1 "unknown-after" -- check "$tmp/tree/top.mig"
expect "warnings alone exit 0" 0 "warning: .*raw-interpolation" -- check "$tmp/warn.mig"
expect "-Werror makes warnings fail" 1 "warning:" -- check -Werror "$tmp/warn.mig"
expect "errors exit 1" 1 "bad.mig:1:20: error: step 's' has no 'down'" -- check "$tmp/bad.mig"
expect "errors of several files are all reported" 1 "1 error and 1 warning" -- check "$tmp/bad.mig" "$tmp/warn.mig"
expect "missing file: exit 2 naming it" 2 "cannot open '$tmp/nope.mig'" -- check "$tmp/nope.mig"
expect "unknown option: exit 2 naming it" 2 "unknown option '--bogus'" -- check --bogus "$tmp/bad.mig"
expect "unknown format: exit 2" 2 "unknown --format 'yaml'" -- check --format yaml "$tmp/bad.mig"
expect "no path: exit 2" 2 "needs at least one PATH" -- check
expect "no command: exit 2" 2 "missing command" --
expect "unknown command: exit 2" 2 "unknown command 'frobnicate'" -- frobnicate
expect "samples are clean" 0 "" -- check "$TOP_SRCDIR/samples"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
