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
# $limit, when set, is a command prefix such as "timeout 10".
limit=
expect() {
    name=$1 want=$2 pattern=$3
    shift 4
    out=$($limit "$MIGC" "$@" 2>&1)
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

# ---- input limits (issue 11, item 6) ----------------------------------------

printf 'let a = 1;\nlet b\000 = 2;\n' > "$tmp/nul.mig"
expect "a NUL byte in a source is an error at its place" 1 \
    "nul.mig:2:6: error: the file contains a NUL byte \(offset 16\)" -- check "$tmp/nul.mig"
printf 'SELECT 1;\000DROP TABLE t;\n' > "$tmp/nul.sql"
cat > "$tmp/nulsql.mig" <<'MIG'
migration n { step s { up sql file "nul.sql"; down sql { SELECT 1; } } }
MIG
expect "a NUL byte in a sql file is an error, not a truncated statement" 1 \
    "nul.sql:1:10: error: the file contains a NUL byte .*\\[sql-file\\]" -- check "$tmp/nulsql.mig"

printf 'let a = "\355\240\200";\n' > "$tmp/surrogate.mig"
expect "UTF-8: an encoded surrogate is refused" 1 "surrogate.mig:1:10: error: the file is not UTF-8 text \(byte 0xed" \
    -- check "$tmp/surrogate.mig"
printf 'let a = "\340\200\257";\n' > "$tmp/overlong3.mig"
expect "UTF-8: an overlong 3-byte form is refused" 1 "not UTF-8 text \(byte 0xe0" -- check "$tmp/overlong3.mig"
printf 'let a = "\360\200\200\257";\n' > "$tmp/overlong4.mig"
expect "UTF-8: an overlong 4-byte form is refused" 1 "not UTF-8 text \(byte 0xf0" -- check "$tmp/overlong4.mig"
printf 'let a = "\364\220\200\200";\n' > "$tmp/toobig.mig"
expect "UTF-8: a code point above U+10FFFF is refused" 1 "not UTF-8 text \(byte 0xf4" -- check "$tmp/toobig.mig"
printf 'let a = "\360\237\230\200 \355\237\277 \344\275\240";\n' > "$tmp/utf8ok.mig"
expect "UTF-8: 4-byte, the last before the surrogates and CJK are fine" 0 "" -- check "$tmp/utf8ok.mig"

mkdir -p "$tmp/cyc/sub"
cp "$tmp/tree/a/b/deep.mig" "$tmp/cyc/"
ln -s .. "$tmp/cyc/sub/up1"
ln -s .. "$tmp/cyc/sub/up2"
ln -s ../sub "$tmp/cyc/sub/self"
limit="timeout 10"
expect "symlinks to a parent: each directory is walked once" 0 "" -- check "$tmp/cyc"
limit=

mkfifo "$tmp/fifo.mig" "$tmp/fifo.sql" "$tmp/fifo.migb"
cat > "$tmp/imports_fifo.mig" <<'MIG'
import "fifo.mig";
MIG
cat > "$tmp/sqlfile_fifo.mig" <<'MIG'
migration f { step s { up sql file "fifo.sql"; down sql { SELECT 1; } } }
MIG
cat > "$tmp/sqlfile_zero.mig" <<'MIG'
migration z { step s { up sql file "/dev/zero"; down sql { SELECT 1; } } }
MIG
truncate -s 65M "$tmp/huge.sql"
cat > "$tmp/sqlfile_huge.mig" <<'MIG'
migration h { step s { up sql file "huge.sql"; down sql { SELECT 1; } } }
MIG
limit="timeout 10"
expect "import of a FIFO: refused, not waited on" 1 "cannot import '.*fifo.mig': it is a FIFO, not a regular file" \
    -- check "$tmp/imports_fifo.mig"
expect "sql file of a FIFO: refused, not waited on" 1 "cannot read SQL file '.*fifo.sql': it is a FIFO" \
    -- check "$tmp/sqlfile_fifo.mig"
expect "sql file /dev/zero: refused, not read until memory runs out" 1 \
    "cannot read SQL file '/dev/zero': it is a device, not a regular file" -- check "$tmp/sqlfile_zero.mig"
expect "sql file over 64 MiB: refused" 1 "huge.sql': the file is larger than 64 MiB" -- check "$tmp/sqlfile_huge.mig"
expect "a FIFO as input: refused, not waited on" 1 "fifo.mig': it is a FIFO" -- check "$tmp/fifo.mig"
expect "a FIFO as bytecode: refused, not waited on" 2 "fifo.migb': it is a FIFO|fifo.migb': it is not a regular" \
    -- disasm "$tmp/fifo.migb"
limit=

# one 66 KB line with 1,000 errors: each shows a window of the line
awk 'BEGIN { printf "let a = 0"; for (i = 0; i < 1000; i++) printf " + undefined_name_number_%05d", i; print ";" }' \
    > "$tmp/longline.mig"
"$MIGC" check "$tmp/longline.mig" > "$tmp/longline.out" 2>&1
rc=$?
longest=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$tmp/longline.out")
if [ $rc -eq 1 ] && [ "$(grep -c 'unknown name' "$tmp/longline.out")" -eq 1000 ] && [ "$longest" -lt 400 ] \
    && grep -q '^…' "$tmp/longline.out"; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
    echo "FAIL: a diagnostic on a long line shows a window (exit $rc, longest output line $longest)"
fi

# long + chains: linear to check, no recursion to build (the real binary, not
# valgrind: this is about time)
awk 'BEGIN { printf "let s = \"a\""; for (i = 1; i < 30000; i++) printf " + \"a\""; print ";";
             print "migration c { step s { up sql { SELECT ${s}; } down sql { SELECT 1; } } }" }' > "$tmp/chain.mig"
awk 'BEGIN { print "let s0 = \"b\";"; printf "let s = \"a\""; for (i = 1; i < 200000; i++) printf " + s0";
             print ";" }' > "$tmp/chain200k.mig"
# (before: 13 s and 2.8 GB for the first, one copy of the rest of the line
# per string; now 0.03 s)
save=$MIGC limit="timeout 3"
[ -x "$TOP_BUILDDIR/migc" ] && MIGC="$TOP_BUILDDIR/migc"
expect "a 30,000-term + chain checks at once" 0 "" -- check "$tmp/chain.mig"
expect "a 30,000-term + chain of literals builds" 0 "" -- build "$tmp/chain.mig" -o "$tmp/chain.migb"
limit="timeout 10"
expect "a 200,000-term + chain does not exhaust the stack" 0 "" -- build "$tmp/chain200k.mig" -o "$tmp/chain.migb"
MIGC=$save limit=

# ---- migrun: secrets and smaller truths (issue 11, items 5 and 8) -------------
# (no server: the PostgreSQL URLs point at a closed port; tests/e2e/secrets.sh
# has the cases with a real one)
: "${MIGRUN:?MIGRUN must name the migrun binary}"
# run_migrun WANT_EXIT ARGS...: runs migrun in $tmp/run, keeps its output
# (stdout and stderr) in $out and its exit code in $rc
run_migrun() {
    want=$1
    shift
    out=$(cd "$tmp/run" && env -u MIGRUN_DB PGCONNECT_TIMEOUT=5 "$MIGRUN" "$@" 2>&1)
    rc=$?
    [ "$rc" -eq "$want" ]
}
# verdict NAME CONDITION...: counts a case; prints its output when it failed
verdict() {
    name=$1
    shift
    if "$@"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $name: exit $rc, output:"
        printf '%s\n' "$out"
    fi
}
has() { printf '%s\n' "$out" | grep -qF -- "$1"; }
hasnt() { ! printf '%s\n' "$out" | grep -qF -- "$1"; }
mkdir -p "$tmp/run/empty" "$tmp/run/dir.mig" "$tmp/run/mig/sub"
cat > "$tmp/run/mig/sub/m.mig" <<'MIG'
migration m {
  param n: int = 1;
  let token = env("MIG_CLI_TOKEN", "none");
  let tagged = "t-" + env("MIG_CLI_TOKEN", "none");
  step s { up sql { CREATE TABLE t (v int, w text); } down sql { DROP TABLE t; } }
  step use { up sql { INSERT INTO t VALUES (${n}, ${tagged}); } down sql { DELETE FROM t; } }
}
MIG

# item 8: paths, -p values
run_migrun 2 apply empty --db sqlite:db.sqlite
verdict "an empty migrations folder is an error, not nothing to do" \
    eval 'has "no .mig files in '"'"'empty'"'"'" && [ ! -e "$tmp/run/db.sqlite" ]'
run_migrun 2 apply migs --db sqlite:db.sqlite
verdict "a mistyped migrations folder is an error" has "cannot open 'migs': No such file or directory"
run_migrun 2 plan dir.mig --db sqlite:db.sqlite
verdict "a folder named x.mig without migrations is an error" has "no .mig files in 'dir.mig'"
run_migrun 0 plan mig mig/sub --db sqlite:db.sqlite
verdict "a folder inside one given before is no error" has "would apply  main.s"
run_migrun 2 plan nope.mig --db sqlite:db.sqlite
verdict "a missing .mig: exit 2 naming it" has "cannot open 'nope.mig': No such file or directory"
mkfifo "$tmp/run/fifo.mig"
run_migrun 2 plan fifo.mig --db sqlite:db.sqlite
verdict "a .mig that cannot be read (a FIFO): exit 2" has "cannot read 'fifo.mig': it is a FIFO, not a regular file"
cp "$tmp/run/mig/sub/m.mig" "$tmp/run/locked.mig"
chmod 000 "$tmp/run/locked.mig"
if [ "$(id -u)" -ne 0 ]; then
    run_migrun 2 plan locked.mig --db sqlite:db.sqlite
    verdict "an unreadable .mig: exit 2" has "cannot read 'locked.mig': Permission denied"
elif command -v setpriv >/dev/null; then
    # root reads anything: run as nobody, who may enter $tmp but not read the file
    chmod 755 "$tmp" "$tmp/run"
    out=$(cd "$tmp/run" && setpriv --reuid=65534 --regid=65534 --clear-groups \
          env -u MIGRUN_DB "$TOP_BUILDDIR/migrun" plan locked.mig --db sqlite:/tmp/nobody-$$.sqlite 2>&1)
    rc=$?
    verdict "an unreadable .mig: exit 2" eval '[ $rc -eq 2 ] && has "cannot read '"'"'locked.mig'"'"': Permission denied"'
    chmod 700 "$tmp"
fi
for v in "n= 5" "n=5 " "n=0x10" "n=5s" "n=" "n=-" "n=+"; do
    run_migrun 2 plan mig --db sqlite:db.sqlite -p "$v"
    verdict "-p '$v' is not an int" has "is not an int"
done
run_migrun 0 plan mig --db sqlite:db.sqlite -p n=-5
verdict "-p n=-5 is an int" has "would apply  main.use"
run_migrun 2 plan mig --db sqlite:db.sqlite --lock-wait " 5s"
verdict "--lock-wait ' 5s' is not a duration" has "--lock-wait takes a duration"
run_migrun 2 apply mig --db sqlite:db.sqlite --reconnect-timeout soon
verdict "--reconnect-timeout soon is not a duration" has "--reconnect-timeout takes a duration"
run_migrun 0 plan mig --db sqlite:db.sqlite --reconnect-timeout 0s
verdict "--reconnect-timeout 0s is accepted" has "would apply  main.use"

# item 5: --trace shows no env() value; the journal is 0600
out=$(cd "$tmp/run" && MIG_CLI_TOKEN=Tr4ceT0ken-xyz "$MIGRUN" apply mig --db sqlite:db.sqlite --trace 2>&1)
rc=$?
verdict "--trace does not print what env() returned" \
    eval '[ $rc -eq 0 ] && has "top=<env>" && hasnt "Tr4ceT0ken" && [ "$(sqlite3 "$tmp/run/db.sqlite" "SELECT w FROM t")" = t-Tr4ceT0ken-xyz ]'
verdict "the journal is created 0600" \
    eval '[ "$(stat -c %a "$tmp/run/.migrun/journal.db")" = 600 ] &&
          [ -z "$(find "$tmp/run/.migrun" -name "journal.db*" ! -perm 600)" ]'

# item 5: passwords in --db, PostgreSQL URLs that reach no server
for pw in 'p?a#ss-Q1' 'p%3Fa%23ss-Q1' ; do
    run_migrun 3 apply mig --db "postgresql://u:$pw@localhost:1/db"
    verdict "password '$pw' not printed" \
        eval 'hasnt "ss-Q1" && has "cannot connect to postgresql://u:***@localhost:1/db" &&
              [ "$(printf "%s\n" "$out" | grep -c "warning: --db carries a password")" -eq 1 ]'
    run_migrun 3 apply mig --json --db "postgresql://u:$pw@localhost:1/db"
    verdict "password '$pw' not in --json" eval 'hasnt "ss-Q1" && has "\"event\""'
done
run_migrun 3 apply mig --db "postgresql://u@localhost:1/db?password=qs-S3cret&sslpassword=key-S3cret&sslmode=disable"
verdict "password= and sslpassword= in the query are masked" \
    eval 'hasnt "S3cret" && has "sslpassword=***" && has "u:***@localhost:1/db" && has "warning: --db carries a password"'
run_migrun 3 apply mig --db "postgresql://u:s3cr%zz-B4d@localhost:1/db"
verdict "libpq's own error does not echo a bad password" eval 'hasnt "B4d" && has "invalid percent-encoded token"'
run_migrun 3 apply mig --db "postgresql://u:br4ck-S3cret@[::1/db"
verdict "libpq's own error does not echo the URL" eval 'hasnt "S3cret" && has "u:***@"'
for pw in 'sl/ash-S3cret' 'at@sign-S3cret'; do
    run_migrun 2 apply mig --db "postgresql://u:$pw@localhost:1/db"
    verdict "an unencoded / or @ in the password ($pw): exit 2, not printed, advice" \
        eval 'hasnt "S3cret" && hasnt "ash" && hasnt "sign" && has "percent-encode"'
done
run_migrun 2 apply mig --db "host=localhost password='kv S3cret' sslpassword=kv2-S3cret dbname=d"
verdict "key=value text: every password masked in the error" \
    eval 'hasnt "S3cret" && has "password=***" && has "sslpassword=***"'
run_migrun 3 apply mig --db "postgresql://u@localhost:1/db"
verdict "no warning without a password" hasnt "carries a password"
out=$(cd "$tmp/run" && MIGRUN_DB="postgresql://u:env-S3cret@localhost:1/db" PGCONNECT_TIMEOUT=5 "$MIGRUN" apply mig 2>&1)
rc=$?
verdict "MIGRUN_DB: masked and no warning" eval '[ $rc -eq 3 ] && hasnt "S3cret" && hasnt "carries a password"'

# libpq is loaded when a PostgreSQL target is first used, not at every start
# (runtime/pq.c): ~18 ms of dynamic loading that SQLite targets do not pay
out=$(cd "$tmp/run" && env -u MIGRUN_DB LD_DEBUG=files "$MIGRUN" status mig --db sqlite:lazy.sqlite 2>&1); rc=$?
verdict "a SQLite target: libpq is never loaded" eval '[ $rc -eq 0 ] && has "libsqlite3" && hasnt "libpq"'
out=$(cd "$tmp/run" && env -u MIGRUN_DB LD_DEBUG=files PGCONNECT_TIMEOUT=5 "$MIGRUN" status mig \
      --db "postgresql://u@localhost:1/db" 2>&1); rc=$?
verdict "a PostgreSQL target: libpq loaded at its first use, the connection error as before" \
    eval '[ $rc -eq 3 ] && has "libpq.so" && has "localhost"'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
