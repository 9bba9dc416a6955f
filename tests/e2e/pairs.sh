#!/usr/bin/env bash
# pairs.sh — `migrun test` on a long history (issue 13), on SQLite and on
# the PostgreSQL server of pg_virtualenv (`make check` runs under it; without
# a server the PostgreSQL half fails, nothing is skipped). The corpus is the
# issue tracker of tests/pairs/gen.py: 220 migrations per dialect in a
# project's layout, breaks of every kind planted at known places. Every
# planted break must be found, with its kind, and nothing else; the given
# database must be unchanged afterwards (byte for byte on SQLite, pg_dump for
# pg_dump on PostgreSQL) and no scratch copy left behind, also after
# SIGTERM. Cases p_* run on both dialects, pgp_* on PostgreSQL only.
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

p_sigterm_removes_the_copy() {
    case_tmp
    given
    local before
    before=$(fingerprint)
    env --default-signal=INT,TERM "$MIGRUN" test "$C/db/migrations" --db $URL --format json >sig.json 2>sig.err &
    local pid=$!
    for _ in $(seq 1 200); do
        [ "$(grep -c '"event":"step"' sig.json 2>/dev/null)" -ge 5 ] && break
        sleep 0.05
    done
    kill -TERM "$pid"
    wait "$pid"
    local rc=$?
    check "exit 1" test "$rc" = 1
    check "says so" grep -q "interrupted by SIGTERM" sig.json
    check "the scratch copy is removed" all_gone sig.json
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

pgp_copy_refused_while_in_use() {
    psql -X -q -d "$PGDB" -c "SELECT pg_sleep(20)" >/dev/null 2>&1 &
    local busy=$!
    sleep 0.5
    cat > m.mig <<'MIG'
migration a { step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } } }
MIG
    expect_exit 3 "$MIGRUN" test m.mig --db $URL
    check "says why and what to do" contains "only while no other session is connected to it"
    check "and --empty" contains "--empty"
    kill "$busy" 2>/dev/null
    wait "$busy" 2>/dev/null
    psql -X -q -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$PGDB'" \
        >/dev/null 2>&1
    expect_exit 0 "$MIGRUN" test m.mig --db $URL --empty
}

pgp_without_superuser_reads_everything() {
    corpus_dir
    psql -X -q -d postgres -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'migrun_pairs')
        THEN CREATE ROLE migrun_pairs LOGIN CREATEDB PASSWORD 'pairs'; END IF; END\$\$" >/dev/null
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
    pattern='^p_'
    [ "$DIALECT" = postgres ] && pattern='^(p|pgp)_'
    for t in $(declare -F | awk '{print $3}' | grep -E "$pattern"); do
        run_case "$t"
    done
done
finish
