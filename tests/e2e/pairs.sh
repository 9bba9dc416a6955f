#!/usr/bin/env bash
# pairs.sh — `migrun test` on a long history (issue 13), on SQLite and on
# the PostgreSQL server of pg_virtualenv (`make check` runs under it; without
# a server the PostgreSQL half fails, nothing is skipped). The corpus is the
# issue tracker of tests/pairs/gen.py: 220 migrations per dialect in a
# project's layout, breaks of every kind planted at known places. Every
# planted break must be found, with its kind, and nothing else; the given
# database must be unchanged afterwards (byte for byte on SQLite, pg_dump for
# pg_dump on PostgreSQL) and no scratch copy left behind, also after
# a signal. Cases p_* run on both dialects, pgp_* on PostgreSQL only,
# sqp_* on SQLite only;
# PAIRS_CASES=REGEX runs only the cases whose names match.
. "$(dirname "$0")/lib.sh"
PAIRS=$TOP_SRCDIR/tests/pairs
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT

# the corpus of the dialect: $C/db/migrations, $C/expected, $C/pre, $C/seed.sql
corpus_dir() { C=$corpus/$DIALECT; }

# the given database: the first migrations of the corpus applied to it
given() {
    corpus_dir
    "$MIGRUN" apply "$C/db/migrations" --db $URL --to "$(cat "$C/pre")" --allow-exec --journal "$CASE_DIR/journal.db" \
        >"$CASE_DIR/given.out" 2>&1 || { echo "    cannot apply the first migrations"; touch "$CASE_DIR/.failed"; }
}

# fingerprint — what must not change: the file and the files beside it (SQLite), or the dump (PostgreSQL)
fingerprint() {
    if [ "$DIALECT" = postgres ]; then
        snapshot
    else
        sha256sum db.sqlite
        ls -a | grep '^db\.sqlite' 
    fi
}

# the scratch copies made: their names, from the `scratch` events of the JSON output in $1
scratch_names() { python3 -c '
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{"):
        ev = json.loads(line)
        if ev.get("event") == "scratch":
            print(ev["name"])' "$1"; }

# first_scratch FILE — the name of the first scratch copy in FILE, as soon as it is written (no python: fast)
first_scratch() { sed -n 's/.*"event":"scratch","name":"\([^"]*\)".*/\1/p' "$1" 2>/dev/null | head -n 1; }

# gone NAME — the scratch copy NAME no longer exists
gone() {
    if [ "$DIALECT" = postgres ]; then
        test "$(psql -X -q -A -t -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$1'")" = 0
    else
        test ! -e "$1" && test ! -e "$(dirname "$1")"
    fi
}

# all_gone FILE — every scratch copy named in FILE is gone (and there was one)
all_gone() {
    local n=0 name
    for name in $(scratch_names "$1"); do
        gone "$name" || { echo "    left behind: $name"; return 1; }
        n=$((n + 1))
    done
    test "$n" -gt 0
}

# checks FILE [ARGS] — the report in FILE against the corpus' expected list
checks() {
    local out=$1
    shift
    python3 "$PAIRS/check.py" "$C/expected" "$out" "$@"
}

# SQLite scratch copies go to the case's own folder
case_tmp() { mkdir -p "$CASE_DIR/tmp"; export TMPDIR=$CASE_DIR/tmp; }

p_history_every_break_found_given_unchanged() {
    case_tmp
    given
    local before
    before=$(fingerprint)
    "$MIGRUN" test "$C/db/migrations" --db $URL --data --seed "$C/seed.sql" --format json >data.json 2>data.err
    check "--data: exit 1 (pairs fail)" test $? = 1
    check "--data: every planted break found, nothing else" checks data.json --data
    check "--data: the given database is unchanged" test "$(fingerprint)" = "$before"
    check "--data: no scratch copy left" all_gone data.json
    "$MIGRUN" test "$C/db/migrations" --db $URL --format json >plain.json 2>plain.err
    check "exit 1 (pairs fail)" test $? = 1
    check "every planted break found (those in rows need --data), nothing else" checks plain.json
    check "steps outside a transaction whose pair failed: a fresh copy" grep -q "fresh cop" plain.json
    check "the applied steps were not run again" grep -q "steps already applied in the database" plain.json
    check "the given database is unchanged" test "$(fingerprint)" = "$before"
    check "no scratch copy left" all_gone plain.json
}

p_whole_history_from_empty() {
    case_tmp
    given
    local before
    before=$(fingerprint)
    "$MIGRUN" test "$C/db/migrations" --db $URL --empty --format json >empty.json 2>empty.err
    check "exit 1" test $? = 1
    check "from an empty database: the same breaks, nothing else" checks empty.json
    check "no step was left out as applied" not_contains_file "already applied" empty.json
    check "the given database is unchanged" test "$(fingerprint)" = "$before"
    check "no scratch copy left" all_gone empty.json
}

not_contains_file() { ! grep -qF -- "$1" "$2"; }

p_from_and_only() {
    case_tmp
    given
    local one
    one=$(awk '$1 == "failed" && $3 == "changed" {print $2; exit}' "$C/expected")
    local mig=${one%%.*}
    expect_exit 1 "$MIGRUN" test "$C/db/migrations" --db $URL --only "$mig" --format json
    printf '%s\n' "$OUT" >only.json
    check "--only: that migration's steps only" python3 -c '
import json, sys
steps = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
steps = [e for e in steps if e.get("event") == "step"]
assert steps and all(e["migration"] == sys.argv[2] for e in steps), steps
assert [e for e in steps if e["outcome"] == "failed"], steps' only.json "$mig"
    local from
    from=$(awk '$1 == "failed" {n++} n == 10 {split($2, a, "."); print a[1]; exit}' "$C/expected")
    "$MIGRUN" test "$C/db/migrations" --db $URL --from "$from" --format json >from.json 2>from.err
    check "--from: the breaks from there on, nothing else" checks from.json --from "$from"
    check "no scratch copy left" all_gone from.json
}

p_junit() {
    case_tmp
    cat > m.mig <<'MIG'
migration a {
  step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } }
  step i { up sql { CREATE INDEX t_a ON t (a); } down sql { SELECT 1; } }
  step purge { up sql { DELETE FROM t; } down irreversible "rows are gone"; }
}
MIG
    "$MIGRUN" test m.mig --db $URL --format junit >junit.xml 2>junit.err
    check "exit 1" test $? = 1
    check "one test case per step, the failure with what the down left" python3 -c '
import sys, xml.etree.ElementTree as E
root = E.parse(sys.argv[1]).getroot()
cases = root.findall(".//testcase")
assert [c.get("name") for c in cases] == ["main.t", "main.i", "main.purge"], cases
fail = cases[1].find("failure")
assert fail is not None and "left behind by the down: index" in fail.text, fail
assert cases[2].find("skipped") is not None
assert root.get("failures") == "1" and root.get("tests") == "3"' junit.xml
    check "the text goes to standard error" grep -q "FAIL         a.main.i" junit.err
}

p_keep_names_the_copy() {
    case_tmp
    cat > m.mig <<'MIG'
migration a { step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } } }
MIG
    expect_exit 0 "$MIGRUN" test m.mig --db $URL --keep --json
    printf '%s\n' "$OUT" >keep.json
    local name
    name=$(scratch_names keep.json)
    check "says where the copy is" contains "kept afterwards: $name"
    check "the copy is there" eval '! gone "$name"'
    if [ "$DIALECT" = postgres ]; then
        check "with the state after the last up" test "$(psql -X -q -A -t -d "$name" -c "SELECT count(*) FROM pg_class WHERE relname = 't'")" = 1
        dropdb "$name"
    else
        check "with the state after the last up" test "$(sqlite3 "$name" "SELECT count(*) FROM sqlite_master WHERE name = 't'")" = 1
        rm -rf "$(dirname "$name")"
    fi
}

p_schema_of_the_run_in_the_scratch_database() {
    [ "$DIALECT" = postgres ] || return 0    # (SQLite has no schemas)
    case_tmp
    cat > m.mig <<'MIG'
migration a { step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } } }
MIG
    # an empty scratch database lacks the tenant's schema: test makes it
    expect_exit 0 "$MIGRUN" test m.mig --db $URL --schema "tenant 7" --empty --keep --json
    printf '%s\n' "$OUT" >keep.json
    local name
    name=$(scratch_names keep.json)
    check "the up and the down ran in the schema" eval '[ -n "$name" ] &&
        [ "$(psql -X -q -A -t -d "$name" -c "SELECT count(*) FROM pg_tables WHERE schemaname = '"'"'tenant 7'"'"' AND tablename = '"'"'t'"'"'")" = 1 ] &&
        [ "$(psql -X -q -A -t -d "$name" -c "SELECT count(*) FROM pg_tables WHERE schemaname = '"'"'public'"'"' AND tablename = '"'"'t'"'"'")" = 0 ]'
    [ -z "$name" ] || dropdb "$name"
}

p_signals_remove_the_copy() {
    case_tmp
    given
    local before sig
    before=$(fingerprint)
    for sig in TERM INT HUP; do
        env --default-signal=INT,TERM "$MIGRUN" test "$C/db/migrations" --db $URL --format json >sig.json 2>sig.err &
        local pid=$!
        for _ in $(seq 1 200); do
            [ "$(grep -c '"event":"step"' sig.json 2>/dev/null)" -ge 5 ] && break
            sleep 0.05
        done
        kill -$sig "$pid"
        wait "$pid"
        local rc=$?
        check "SIG$sig: exit 1" test "$rc" = 1
        check "SIG$sig: says so" grep -q "interrupted by SIG$sig" sig.json
        check "SIG$sig: the scratch copy is removed" all_gone sig.json
    done
    # an output closed early (… | head) is an interruption too, not the end of migrun
    "$MIGRUN" test "$C/db/migrations" --db $URL --format json 2>pipe.err | head -n 3 >pipe.json
    check "SIGPIPE: exit 1" test "${PIPESTATUS[0]}" = 1
    check "SIGPIPE: says so" grep -q "interrupted by SIGPIPE: its output was closed; the scratch copy was removed" pipe.err
    check "SIGPIPE: the scratch copy is removed" all_gone pipe.json
    check "the given database is unchanged" test "$(fingerprint)" = "$before"
}

p_usage_errors_make_nothing() {
    case_tmp
    cat > m.mig <<'MIG'
migration a { step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } } }
MIG
    expect_exit 2 "$MIGRUN" test m.mig --db $URL --from a --only a
    check "--from and --only" contains "give --from or --only, not both"
    expect_exit 2 "$MIGRUN" test m.mig --db $URL --only nosuch
    check "an unknown migration is named" contains "--only nosuch: there is no migration 'nosuch'"
    expect_exit 2 "$MIGRUN" test m.mig --db $URL --seed nosuch.sql
    check "a seed file that cannot be read" contains "cannot read the seed data 'nosuch.sql'"
    expect_exit 2 "$MIGRUN" test m.mig --db $URL --format xml
    check "--format" contains "--format takes text, json or junit"
    check "no copy was made" test -z "$(ls "$TMPDIR")"
    check "nothing created" db_untouched
}

p_an_up_that_fails_stops() {
    case_tmp
    cat > m.mig <<'MIG'
migration a {
  step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } }
  step bad { up sql { INSERT INTO nosuch VALUES (1); } down sql { DELETE FROM nosuch; } }
  step u { up sql { CREATE TABLE u (a integer); } down sql { DROP TABLE u; } }
}
MIG
    expect_exit 1 "$MIGRUN" test m.mig --db $URL
    check "the failing up, with the database's words" contains "FAIL         a.main.bad  (the up failed)"
    check "the message" contains "nosuch"
    check "what was not reached" contains "stopped early: the up of a.main.bad failed; 1 step was not reached"
    check "the step after it is not run" not_contains "a.main.u"
    printf 'INSERT INTO nosuch VALUES (1);\n' > bad.sql
    expect_exit 2 "$MIGRUN" test m.mig --db $URL --seed bad.sql
    check "seed data that fails" contains "the seed data bad.sql failed"
    cat > other.mig <<MIG
migration o { target $([ "$DIALECT" = postgres ] && echo sqlite || echo postgres);
  step t { up sql { SELECT 1; } down sql { SELECT 1; } } }
MIG
    expect_exit 3 "$MIGRUN" test other.mig --db $URL
    check "a migration for another database" contains "does not target"
    check "no copy left" test -z "$(ls "$TMPDIR")"
}

# conditions, values and steps that need a command: no command runs, the
# test goes on, and each step they concern says why it is not proven
p_commands_are_untested() {
    case_tmp
    local ran=$CASE_DIR/ran
    cat > m.mig <<MIG
let stamp = output exec ["touch", "$ran.global"];
migration a {
  require exec ["touch", "$ran.require"];
  phase p { transaction step;
    step guarded { when exec ["touch", "$ran.when"]; up sql { CREATE TABLE g (a integer); } down sql { DROP TABLE g; } }
    step broken { when exec ["true"]; up sql { CREATE TABLE b (a integer); CREATE INDEX b_a ON b (a); } down sql { DROP INDEX b_a; } }
    step absent { when exec ["test", "-e", "/nonexistent"]; up sql { DROP TABLE legacy; } down sql { CREATE TABLE legacy (a integer); } }
    step cmd { up exec ["touch", "$ran.up"]; down exec ["rm", "-f", "$ran.up"]; }
    step cmd_down { up sql { CREATE TABLE c (a integer); } down exec ["touch", "$ran.down"]; }
  }
  phase q { when exec ["touch", "$ran.phase"];
    step in_phase { up sql { CREATE TABLE q (a integer); } down sql { DROP TABLE q; } }
  }
  step plain { up sql { CREATE TABLE plain (a integer); } down sql { DROP TABLE plain; } }
  assert exec ["touch", "$ran.assert"] else "the service answers";
}
migration b {
  let label = output exec ["touch", "$ran.let"];
  phase n { transaction none;
    step absent_none { when exec ["false"]; up sql { DROP TABLE legacy_none; } down sql { CREATE TABLE legacy_none (a integer); } }
    step partly { when exec ["false"]; up sql { CREATE TABLE partly (a integer); DROP TABLE legacy_partly; } down sql { DROP TABLE partly; } }
    step checked { up sql { CREATE TABLE checked (a integer); } down sql { DROP TABLE checked; } verify exec ["touch", "$ran.verify"] else "checked"; }
  }
  step labelled { up sql { CREATE TABLE labelled (a text DEFAULT \${label}); } down sql { DROP TABLE labelled; } }
  step unlabelled { up sql { CREATE TABLE unlabelled (a integer); } down sql { DROP TABLE unlabelled; } }
}
MIG
    "$MIGRUN" test m.mig --db $URL --format json >cmd.json 2>cmd.err
    check "exit 1 (the broken pair behind a when)" test $? = 1
    check "each step: its outcome and why" python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
steps = {e["migration"] + "." + e["step"]: e for e in ev if e.get("event") == "step"}
want = {"a.guarded": "untested", "a.broken": "failed", "a.absent": "untested", "a.cmd": "untested",
        "a.cmd_down": "untested", "a.in_phase": "untested", "a.plain": "ok", "b.absent_none": "untested",
        "b.partly": "untested", "b.checked": "ok", "b.labelled": "untested", "b.unlabelled": "ok"}
got = {k: v["outcome"] for k, v in steps.items()}
assert got == want, got
def reason(k): return steps[k].get("note", "")
assert "its when runs a command (exec touch" in reason("a.guarded") and "tested as if the when held, inverts" in reason("a.guarded"), reason("a.guarded")
assert "tested as if the when held" in reason("a.broken"), reason("a.broken")
assert "its up, run as if the when held, failed; the test goes on as if it had not run" in reason("a.absent"), reason("a.absent")
assert "its up runs a command (exec touch" in reason("a.cmd"), reason("a.cmd")
assert "its down runs a command (exec touch" in reason("a.cmd_down"), reason("a.cmd_down")
assert "the when of its phase runs a command" in reason("a.in_phase"), reason("a.in_phase")
assert "its up, run as if the when held, failed" in reason("b.absent_none"), reason("b.absent_none")
assert "its up, run as if the when held, failed" in reason("b.partly"), reason("b.partly")
assert "uses the output of a command (output exec touch" in reason("b.labelled") and "tested with that output empty" in reason("b.labelled"), reason("b.labelled")
done = [e for e in ev if e.get("event") == "done"][0]
assert not done.get("stopped"), done' cmd.json
    check "outside a transaction, a first statement that failed changed nothing" not_contains_file "absent_none ran outside" cmd.json
    check "a later one: a fresh copy without that up" grep -q "b.n.partly ran outside a transaction: making a fresh copy and running the ups again up to the step before it" cmd.json
    check "no command ran" test -z "$(ls "$CASE_DIR" | grep '^ran')"
    check "no scratch copy left" all_gone cmd.json
    "$MIGRUN" test m.mig --db $URL --format junit >cmd.xml 2>/dev/null
    check "JUnit: the untested are skipped, with their reason" python3 -c '
import sys, xml.etree.ElementTree as E
cases = {c.get("classname") + "." + c.get("name"): c for c in E.parse(sys.argv[1]).getroot().findall(".//testcase")}
s = cases["a.p.guarded"].find("skipped")
assert s is not None and "its when runs a command" in s.get("message"), s
assert cases["a.p.broken"].find("failure") is not None' cmd.xml
}

# SQLite: the given file cannot be copied, the temporary folder cannot be
# made — refused before anything is made (exit 3)
sqp_copy_failures() {
    cat > m.mig <<'MIG'
migration a { step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } } }
MIG
    case_tmp
    echo "not a database at all, only text" >db.sqlite
    local before
    before=$(fingerprint)
    expect_exit 3 "$MIGRUN" test m.mig --db $URL
    check "a file that is not a database" contains "cannot copy 'db.sqlite' into a scratch copy: file is not a database"
    check "the given file is unchanged" test "$(fingerprint)" = "$before"
    rm db.sqlite
    mkdir db.sqlite
    expect_exit 3 "$MIGRUN" test m.mig --db $URL
    check "a folder" contains "cannot copy 'db.sqlite' into a scratch copy: it is not a file"
    rmdir db.sqlite
    sqlite3 db.sqlite "CREATE TABLE given (a integer)"
    if [ "$(id -u)" != 0 ]; then
        chmod 000 db.sqlite
        expect_exit 3 "$MIGRUN" test m.mig --db $URL
        check "a file that cannot be read" contains "cannot read 'db.sqlite' to copy it: Permission denied"
        chmod 644 db.sqlite
    fi
    check "no copy was made" test -z "$(ls "$TMPDIR")"
    before=$(fingerprint)
    expect_exit 3 env TMPDIR=/proc "$MIGRUN" test m.mig --db $URL
    check "a TMPDIR where no folder can be made" \
        contains "cannot make a temporary folder for the scratch copy in /proc (TMPDIR): "
    check "says what to do" contains "(set TMPDIR to a writable folder)"
    expect_exit 3 env TMPDIR="$CASE_DIR/nosuch" "$MIGRUN" test m.mig --db $URL
    check "a TMPDIR that does not exist" contains "in $CASE_DIR/nosuch (TMPDIR): No such file or directory"
    check "the given file is unchanged" test "$(fingerprint)" = "$before"
}

# SQLite: the scratch copy cannot be removed at the end (a file someone put
# in its folder): exit 4, and where it is
sqp_drop_fails_names_the_copy() {
    case_tmp
    # (a step that takes a moment, to put the file there while it runs)
    cat > m.mig <<'MIG'
migration a {
  step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } }
  step slow {
    up sql { WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000000) SELECT count(*) FROM c; }
    down sql { SELECT 1; }
  }
}
MIG
    "$MIGRUN" test m.mig --db $URL --format json >drop.json 2>drop.err &
    local pid=$! name=""
    for _ in $(seq 1 200); do
        name=$(first_scratch drop.json)
        [ -n "$name" ] && break
        sleep 0.02
    done
    local dir
    dir=$(dirname "$name")
    touch "$dir/somebody-elses-file"
    wait "$pid"
    local rc=$?
    check "exit 4" test "$rc" = 4
    check "names what is left and how to remove it" \
        grep -q "what is left of the scratch copy $name is in $dir: remove it yourself (rm -r $dir)" drop.json
    check "why" grep -q "cannot remove the folder of the scratch copy '$dir': Directory not empty" drop.json
    check "the pairs were tested" grep -q '"event":"done","ok":2' drop.json
    rm -rf "$dir"
}

# SQLite: after a pair that passed, the test goes on from the state after
# the up — kept from the up again only where that is the same state (no
# rollback to the savepoint, after which SQLite parses its schema again),
# else restored: a down that drops data, changes rows, sets a pragma or
# leaves a text other than it was. The copy kept with --keep shows it.
sqp_state_after_each_up() {
    case_tmp
    cat > m.mig <<'MIG'
migration a {
  step t { up sql { CREATE TABLE t (a integer); CREATE VIEW w AS SELECT 1 AS one; } down sql { DROP VIEW w; DROP TABLE t; } }
  step rows { up sql { INSERT INTO t VALUES (1), (2), (3); } down sql { DELETE FROM t WHERE a IN (1, 2, 3); } }
  step rename { up sql { ALTER TABLE t RENAME TO t2; } down sql { DROP TABLE t2; CREATE TABLE t (a integer); } }
  step empty { up sql { CREATE TABLE e (a integer); } down sql { DROP TABLE e; } }
  step lost {
    up sql { CREATE TABLE x (a integer); }
    down sql { ALTER TABLE t2 RENAME TO gone; DROP TABLE gone; CREATE TABLE t2 (a integer); DROP TABLE x; }
  }
  step index { up sql { CREATE INDEX t2_a ON t2 (a); } down sql { DROP INDEX t2_a; INSERT INTO t2 VALUES (99); } }
  step spacing { up sql { CREATE INDEX t2_a2 ON t2 (a); } down sql { DROP INDEX t2_a2; DROP VIEW w; CREATE VIEW w AS   SELECT 1 AS one; } }
  step pragma { up sql { CREATE INDEX t2_a3 ON t2 (a); } down sql { DROP INDEX t2_a3; PRAGMA user_version = 7; } }
  step view { up sql { CREATE VIEW v AS SELECT a FROM t2; } down sql { DROP VIEW v; } }
  step column { up sql { ALTER TABLE t2 ADD COLUMN b integer DEFAULT 5; } down sql { ALTER TABLE t2 DROP COLUMN b; } }
  step x2 { up sql { CREATE TABLE x2 (k integer, v integer); INSERT INTO x2 VALUES (1, 10), (2, 20); } down sql { DROP TABLE x2; } }
  step renamed_column {
    up sql { ALTER TABLE x2 RENAME COLUMN v TO w; }
    down sql { ALTER TABLE x2 DROP COLUMN w; ALTER TABLE x2 ADD COLUMN v integer; }
  }
}
MIG
    expect_exit 0 "$MIGRUN" test m.mig --db $URL --keep --json
    printf '%s\n' "$OUT" >state.json
    check "every pair inverts (rows are not compared without --data)" contains '"event":"done","ok":12'
    local name
    name=$(scratch_names state.json)
    check "the rows renamed with the table are there" test "$(sqlite3 "$name" "SELECT group_concat(a) FROM t2")" = 1,2,3
    check "the tables are there" \
        test "$(sqlite3 "$name" "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name)")" = "e,t2,x,x2"
    check "the indexes and the view are there" \
        test "$(sqlite3 "$name" "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master WHERE type IN ('index', 'view') ORDER BY name)")" = "t2_a,t2_a2,t2_a3,v,w"
    check "the view's text is the up's" test "$(sqlite3 "$name" "SELECT sql FROM sqlite_master WHERE name = 'w'")" = "CREATE VIEW w AS SELECT 1 AS one"
    check "the pragma is as the up left it" test "$(sqlite3 "$name" "PRAGMA user_version")" = 0
    check "the column added is there" test "$(sqlite3 "$name" "SELECT group_concat(b) FROM t2")" = 5,5,5
    check "the column renamed keeps its values" test "$(sqlite3 "$name" "SELECT group_concat(w) FROM x2")" = 10,20
    rm -rf "$(dirname "$name")"
}

pgp_no_db_inside_pg_virtualenv() {
    cat > m.mig <<'MIG'
migration a { step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } } }
MIG
    expect_exit 0 env -u MIGRUN_DB PGDATABASE=postgres "$MIGRUN" test m.mig --json
    printf '%s\n' "$OUT" >nodb.json
    check "an empty scratch database on the server of PG*" contains "in a new empty scratch database"
    check "passes" contains '"event":"done","ok":1'
    check "removed" all_gone nodb.json
}

# the scratch databases on the server (none is left by a test that could not make its own)
scratch_dbs() { psql -X -q -A -t -d postgres -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'migrun\_test\_%'"; }

pgp_copy_refused_while_in_use() {
    psql -X -q -d "$PGDB" -c "SELECT pg_sleep(20)" >/dev/null 2>&1 &
    local busy=$!
    sleep 0.5
    cat > m.mig <<'MIG'
migration a { step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } } }
MIG
    local before
    before=$(scratch_dbs)
    expect_exit 3 "$MIGRUN" test m.mig --db $URL
    check "says why and what to do" contains "only while no other session is connected to it"
    check "and --empty" contains "--empty"
    check "nothing is left behind" test "$(scratch_dbs)" = "$before"
    kill "$busy" 2>/dev/null
    wait "$busy" 2>/dev/null
    psql -X -q -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$PGDB'" \
        >/dev/null 2>&1
    expect_exit 0 "$MIGRUN" test m.mig --db $URL --empty
}

# role NAME ATTRIBUTES — a login role (password pairs), made once
role() {
    psql -X -q -d postgres -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$1')
        THEN CREATE ROLE $1 LOGIN $2 PASSWORD 'pairs'; END IF; END\$\$" >/dev/null
}

pgp_role_without_createdb() {
    role migrun_nocreatedb NOCREATEDB
    local db=${PGDB}_nocreatedb before
    createdb -O migrun_nocreatedb "$db"
    cat > m.mig <<'MIG'
migration a { step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } } }
MIG
    before=$(scratch_dbs)
    expect_exit 3 env PGUSER=migrun_nocreatedb PGPASSWORD=pairs "$MIGRUN" test m.mig --db "postgresql:///$db"
    check "says what the role lacks" contains "cannot create the scratch database (the role needs CREATEDB"
    check "with the server's words" contains "permission denied to create database"
    expect_exit 3 env PGUSER=migrun_nocreatedb PGPASSWORD=pairs "$MIGRUN" test m.mig --db "postgresql:///$db" --empty
    check "--empty: the same" contains "the role needs CREATEDB"
    check "nothing is left behind" test "$(scratch_dbs)" = "$before"
    check "the given database is untouched" test "$(psql -X -q -A -t -d "$db" -c "SELECT count(*) FROM pg_class
        WHERE relnamespace = 'public'::regnamespace")" = 0
    dropdb "$db"
}

# the scratch database cannot be dropped at the end: a superuser's session
# is on it, which its role (no superuser) may not end
pgp_drop_fails_names_the_copy() {
    role migrun_pairs CREATEDB
    local db=${PGDB}_dropfails
    PGUSER=migrun_pairs PGPASSWORD=pairs createdb "$db"
    cat > m.mig <<'MIG'
migration a { step slow { up sql { SELECT pg_sleep(1); } down sql { SELECT 1; } } }
MIG
    PGUSER=migrun_pairs PGPASSWORD=pairs "$MIGRUN" test m.mig --db "postgresql:///$db" --format json >drop.json \
        2>drop.err &
    local pid=$! name=""
    for _ in $(seq 1 200); do
        name=$(first_scratch drop.json)
        [ -n "$name" ] && break
        sleep 0.02
    done
    psql -X -q -d "$name" -c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
    local holder=$!
    wait "$pid"
    local rc=$?
    check "exit 4" test "$rc" = 4
    check "names what is left and how to remove it" \
        grep -q "the scratch database $name is left behind: drop it yourself (DROP DATABASE $name)" drop.json
    check "with the server's words" grep -q "cannot drop the scratch database: .*superuser" drop.json
    check "the pair was tested" grep -q '"event":"done","ok":1' drop.json
    check "it is there" eval '! gone "$name"'
    kill "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null
    dropdb --force "$name"
    dropdb "$db"
}

pgp_without_superuser_reads_everything() {
    corpus_dir
    role migrun_pairs CREATEDB
    local db=${PGDB}_role
    PGUSER=migrun_pairs PGPASSWORD=pairs createdb "$db"
    local from
    from=$(awk '$1 == "failed" {n++} n == 25 {split($2, a, "."); print a[1]; exit}' "$C/expected")
    PGUSER=migrun_pairs PGPASSWORD=pairs "$MIGRUN" apply "$C/db/migrations" --db "postgresql:///$db" \
        --to "$(cat "$C/pre")" --allow-exec --journal "$CASE_DIR/journal.db" >/dev/null 2>&1
    PGUSER=migrun_pairs PGPASSWORD=pairs "$MIGRUN" test "$C/db/migrations" --db "postgresql:///$db" --from "$from" \
        --format json >role.json 2>role.err
    check "says it reads the whole schema" grep -q "reading the whole schema after every up and down" role.json
    check "the same breaks" checks role.json --from "$from"
    check "removed" all_gone role.json
    dropdb "$db"
}

for DIALECT in sqlite postgres; do
    if [ "$DIALECT" = postgres ] && ! psql -X -q -A -t -c 'SELECT 1' >/dev/null 2>&1; then
        echo "FAIL postgres: no PostgreSQL server reachable (PGHOST=${PGHOST:-unset}); run the tests with"
        echo "     pg_virtualenv -t make check, as ./dev.sh test does"
        fail=$((fail + 1))
        failed_names="$failed_names postgres"
        continue
    fi
    echo "== $DIALECT"
    python3 "$PAIRS/gen.py" "$DIALECT" "$corpus/$DIALECT" || { echo "FAIL gen.py $DIALECT"; exit 1; }
    pattern='^(p|sqp)_'
    [ "$DIALECT" = postgres ] && pattern='^(p|pgp)_'
    for t in $(declare -F | awk '{print $3}' | grep -E "$pattern" | grep -E -- "${PAIRS_CASES:-.}"); do
        run_case "$t"
    done
done
finish
