#!/usr/bin/env bash
# crash.sh — crash at every point, and lost connections (needs ./configure
# --enable-fault-injection). MIGRUN_CRASH_AT=K kills migrun with SIGKILL at
# its K-th fault point (every VM instruction, driver call and journal write);
# MIGRUN_DROP_AFTER_COMMIT=K lets its K-th COMMIT reach the server and then
# breaks the connection before the answer is read (PostgreSQL only).
#
#   1. kill `apply` at every point K; then a plain apply ends as an
#      uninterrupted run, and `rollback --all` restores the initial state.
#   2. kill `rollback --all` of the applied plan at every point K; then a plain
#      `rollback --all` exits 0 with the initial state, and apply reaches the
#      final state again.
#   3. the automatic undo: an apply whose last phase fails (an assert) undoes
#      the failing migration's committed phases; kill it at every point K
#      (the undo included); then (a) `rollback --all` exits 0 with the initial
#      state, and (b) — after a second crash at K — the failing apply run
#      again exits 1 leaving the database as it found it, and `rollback --all`
#      still restores the initial state.
#   4. PostgreSQL: drop the connection after COMMIT K, for every K, during
#      (a) a successful apply: exit 0 with the final state, or exit 1 with the
#      failing migration as before (then a plain apply reaches the final
#      state); (b) the failing apply of 3: exit 1 with the database as before,
#      or exit 4 saying why (listed); (c) `rollback --all`: exit 0, the initial
#      state, and no "0 of" in the report.
#
# States compare the whole schema and data outside mig's own tables. Each K
# starts from a snapshot (a copied SQLite file, a PostgreSQL template
# database, and the journal), so that the points are independent. SQLite, and
# PostgreSQL in two halves, run side by side. A part with more than
# $CRASH_SAMPLE_FROM points (150) runs every point up to it, then every 3rd.
# CRASH_DIALECTS and CRASH_PARTS (e.g. "postgres", "2 3") narrow a run by hand.
: "${MIGRUN:?}" "${TOP_SRCDIR:?}"
export NO_COLOR=1
unset MIGRUN_CRASH_AT MIGRUN_DROP_AFTER_COMMIT MIGRUN_FAULT_REPORT MIGRUN_RECONNECT_DELAY_MS MIGRUN_DB MIGRUN_JOURNAL
DIALECTS=${CRASH_DIALECTS:-sqlite postgres}
PARTS=${CRASH_PARTS:-1 2 3 4}
SAMPLE_FROM=${CRASH_SAMPLE_FROM:-150}
TMO=120     # seconds any one migrun may take
started=$SECONDS
work=$(mktemp -d)
workers=""
cleanup() {
    local p
    for p in $workers; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ -n "${PG_OK:-}" ]; then
        psql -X -q -A -t -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'crash\_$$\_%'" 2>/dev/null |
            while read -r d; do psql -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null 2>&1; done
    fi
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 99

# ---- the plans ----------------------------------------------------------------------------

# (the batch's down is right after any number of its iterations: a lost
# connection can leave the batch part-way, and the undo runs the down)
cat > plan.mig <<'MIG'
import std;

migration base {
  target postgres, sqlite;
  phase tables {
    step a { up sql { CREATE TABLE a (id integer PRIMARY KEY, v integer); } down sql { DROP TABLE a; } }
    step a_rows { up sql { INSERT INTO a VALUES (1, 10), (2, 20); } down sql { DELETE FROM a WHERE id IN (1, 2); } }
    step guarded { when not std.table_exists("a"); up sql { CREATE TABLE never (x integer); } down sql { DROP TABLE never; } }
  }
}

migration more {
  target postgres, sqlite;
  after base;
  phase per_step {
    transaction step;
    step b { up sql { CREATE TABLE b (id integer PRIMARY KEY); } down sql { DROP TABLE b; } }
    step b_rows { up sql { INSERT INTO b VALUES (1); INSERT INTO b VALUES (2); } down sql { DELETE FROM b; } }
  }
  phase fill {
    transaction step;
    step chunks {
      batch;
      up sql { UPDATE a SET v = v + 1 WHERE v < 12; }
      down sql { UPDATE a SET v = 10 WHERE id = 1; UPDATE a SET v = v - 0 WHERE id = 2; }
    }
  }
  phase online {
    transaction none;
    step idx { up sql { CREATE INDEX IF NOT EXISTS b_id ON b (id); } down sql { DROP INDEX IF EXISTS b_id; } }
  }
  assert scalar sql { SELECT count(*) FROM b } == 2 else "two rows in b";
}
MIG

# fail.mig: the same, and a last phase of `more` whose assert is false — the
# automatic undo takes back every phase `more` committed in the run
sed 's|^  assert scalar|  phase last {\
    step c { up sql { CREATE TABLE c (id integer); INSERT INTO c VALUES (1); } down sql { DROP TABLE c; } }\
    assert false else "the last phase fails";\
  }\
  assert scalar|' plan.mig > fail.mig
grep -q 'the last phase fails' fail.mig || { echo "FAIL: could not write fail.mig"; echo "0 passed, 1 failed"; exit 1; }

# ---- helpers (a worker runs in its own directory, with its own database) ------------------

# mr ARGS… — migrun, bounded in time
mr() { timeout -k 5 "$TMO" "$MIGRUN" "$@"; }

# crash K ARGS… — migrun killed at its K-th fault point; output in out.crash,
# exit code in RC (137 when killed). The inner subshell becomes migrun; the
# outer one takes the shell's "Killed" notice to /dev/null.
crash() {
    local k=$1
    shift
    ( (MIGRUN_CRASH_AT=$k exec timeout -k 5 "$TMO" "$MIGRUN" "$@" >out.crash 2>&1); exit $? ) 2>/dev/null
    RC=$?
}

# fault_count WHAT FILE — "fault points" or "commits" from MIGRUN_FAULT_REPORT=1
fault_count() { sed -n "s/^$1: //p" "$2" | tail -n 1; }

# points N — the K to exercise: all up to SAMPLE_FROM, then every 3rd
points() {
    local n=$1 k
    for ((k = 1; k <= n; k++)); do
        if [ "$k" -le "$SAMPLE_FROM" ] || [ $(((k - SAMPLE_FROM) % 3)) = 0 ] || [ "$k" = "$n" ]; then echo "$k"; fi
    done
}
sampled_note() { [ "$1" -gt "$SAMPLE_FROM" ] && echo " (sampled: every point up to $SAMPLE_FROM, then every 3rd, and the last)"; }

psql_db() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

# state — schema and data of everything but mig's own tables
state() {
    if [ "$DIALECT" = postgres ]; then
        psql_db -d "$DB" -c "
WITH o AS (SELECT c.oid, n.nspname::text AS nspname, c.relname::text AS relname, c.relkind::text AS relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND c.relname NOT LIKE 'mig\_%'
             AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
                             WHERE i.indexrelid = c.oid AND t.relname LIKE 'mig\_%'))
SELECT string_agg(line, E'\n' ORDER BY line) FROM (
  SELECT 'relation ' || relkind || ' ' || nspname || '.' || relname AS line FROM o
  UNION ALL
  SELECT 'column ' || o.relname || '.' || a.attname::text || ' ' || format_type(a.atttypid, a.atttypmod)
         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END FROM o JOIN pg_attribute a ON a.attrelid = o.oid
   WHERE a.attnum > 0 AND NOT a.attisdropped AND o.relkind IN ('r', 'v', 'p')
  UNION ALL
  SELECT 'index ' || pg_get_indexdef(o.oid) FROM o WHERE relkind = 'i'
  UNION ALL
  SELECT 'constraint ' || o.relname || ' ' || k.conname::text || ' ' || pg_get_constraintdef(k.oid)
    FROM o JOIN pg_constraint k ON k.conrelid = o.oid
  UNION ALL
  SELECT 'rows ' || relname || ' ' || regexp_replace(regexp_replace(query_to_xml(format('SELECT * FROM %I.%I t
                ORDER BY t::text', nspname, relname), false, true, '')::text, '>\s+<', '><', 'g'), ' xmlns:xsi=[^ >]+', '', 'g')
    FROM o WHERE relkind = 'r'
) s" 2>&1
    else
        [ -e db.sqlite ] || { echo "(no db.sqlite)"; return; }
        local mine="name NOT LIKE 'mig\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'" tables
        sqlite3 -batch db.sqlite "SELECT type || ' ' || name || ' on ' || tbl_name || ': ' || coalesce(sql, '')
                                  FROM sqlite_master WHERE $mine ORDER BY type, name" 2>&1
        tables=$(sqlite3 -batch db.sqlite "SELECT name FROM sqlite_master WHERE type = 'table' AND $mine ORDER BY name")
        [ -z "$tables" ] || sqlite3 -batch db.sqlite ".dump $tables" 2>&1
    fi
}

# snapshot NAME / restore NAME — the database and the journal
snapshot() {
    rm -rf "snap_$1"
    mkdir "snap_$1"
    [ -d .migrun ] && cp -a .migrun "snap_$1/"
    if [ "$DIALECT" = postgres ]; then
        psql_db -d postgres -c "DROP DATABASE IF EXISTS ${DB}_$1" -c "CREATE DATABASE ${DB}_$1 TEMPLATE $DB" >/dev/null
    else
        cp -a db.sqlite* "snap_$1/"
    fi
}
restore() {
    rm -rf .migrun db.sqlite*
    [ -d "snap_$1/.migrun" ] && cp -a "snap_$1/.migrun" .
    if [ "$DIALECT" = postgres ]; then
        psql_db -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB TEMPLATE ${DB}_$1" >/dev/null
    else
        cp -a "snap_$1"/db.sqlite* .
    fi
}

show() { sed 's/^/    | /' "$1" | tail -n "${2:-15}"; }
differ() {   # differ WANT GOT — what differs, indented
    diff <(echo "$1") <(echo "$2") | grep '^[<>]' | head -8 | sed 's/^</    want:/; s/^>/    got: /'
}
says_zero_of() { grep -qE '(^|[^0-9])0 of' "$1"; }

# check WHAT WANT_RC RC WANT_STATE OUT — fails (returns 1, with the facts) when
# the exit code or the state differs
check() {
    local what=$1 want_rc=$2 rc=$3 want=$4 out=$5 got
    got=$(state)
    if [ "$rc" != "$want_rc" ] || [ "$got" != "$want" ]; then
        echo "FAIL: $DIALECT $PART K=$K: $what: exit $rc (want $want_rc), database $([ "$got" = "$want" ] && echo as expected || echo differs)"
        [ "$got" = "$want" ] || differ "$want" "$got"
        show "$out"
        return 1
    fi
    return 0
}

BAD=0
result() {   # result PART N — the part's line, kept for the summary
    echo "$DIALECT $1 $2 $BAD $NOTE" >> "$work/results"
    BAD=0 NOTE=""
}

# ---- the parts ----------------------------------------------------------------------------

part1() {
    PART=1
    local n k
    restore empty
    MIGRUN_FAULT_REPORT=1 mr apply plan.mig --db "$URL" >out.ref 2>&1
    n=$(fault_count "fault points" out.ref)
    [ -n "$n" ] || { echo "FAIL: $DIALECT 1: no fault points reported"; show out.ref; echo "$DIALECT setup 0 1" >> "$work/results"; return; }
    for K in $(points "$n"); do
        restore empty
        crash "$K" apply plan.mig --db "$URL"
        [ "$RC" = 137 ] || { echo "FAIL: $DIALECT 1 K=$K: the run was not killed (exit $RC)"; show out.crash; BAD=$((BAD + 1)); continue; }
        mr apply plan.mig --db "$URL" >out.1 2>&1
        check "apply after the crash" 0 $? "$FINAL" out.1 || { BAD=$((BAD + 1)); continue; }
        mr rollback --all --db "$URL" >out.2 2>&1
        check "rollback --all after that" 0 $? "$INITIAL" out.2 || { BAD=$((BAD + 1)); continue; }
    done
    NOTE=" (kill apply)$(sampled_note "$n")"
    result 1 "$(points "$n" | wc -l)"
}

part2() {
    PART=2
    local n
    restore final
    MIGRUN_FAULT_REPORT=1 mr rollback --all --db "$URL" >out.ref 2>&1
    n=$(fault_count "fault points" out.ref)
    [ -n "$n" ] || { echo "FAIL: $DIALECT 2: no fault points reported"; show out.ref; echo "$DIALECT setup 0 1" >> "$work/results"; return; }
    for K in $(points "$n"); do
        restore final
        crash "$K" rollback --all --db "$URL"
        [ "$RC" = 137 ] || { echo "FAIL: $DIALECT 2 K=$K: the run was not killed (exit $RC)"; show out.crash; BAD=$((BAD + 1)); continue; }
        local before
        before=$(state)
        mr rollback --all --db "$URL" >out.1 2>&1
        check "rollback --all after the crash" 0 $? "$INITIAL" out.1 || { BAD=$((BAD + 1)); continue; }
        if [ "$before" != "$INITIAL" ] && says_zero_of out.1; then
            echo "FAIL: $DIALECT 2 K=$K: rollback --all after the crash undid steps but says '0 of'"; show out.1
            BAD=$((BAD + 1)); continue
        fi
        mr apply plan.mig --db "$URL" >out.2 2>&1
        check "apply after that" 0 $? "$FINAL" out.2 || { BAD=$((BAD + 1)); continue; }
    done
    NOTE=" (kill rollback --all)$(sampled_note "$n")"
    result 2 "$(points "$n" | wc -l)"
}

part3() {
    PART=3
    local n after rc
    restore base
    MIGRUN_FAULT_REPORT=1 mr apply fail.mig --db "$URL" >out.ref 2>&1
    n=$(fault_count "fault points" out.ref)
    [ -n "$n" ] || { echo "FAIL: $DIALECT 3: no fault points reported"; show out.ref; echo "$DIALECT setup 0 1" >> "$work/results"; return; }
    for K in $(points "$n"); do
        # (a) rollback --all right after the crash
        restore base
        crash "$K" apply fail.mig --db "$URL"
        [ "$RC" = 137 ] || { echo "FAIL: $DIALECT 3 K=$K: the run was not killed (exit $RC)"; show out.crash; BAD=$((BAD + 1)); continue; }
        cp out.crash out.crash.a
        mr rollback --all --db "$URL" >out.1 2>&1
        check "(a) rollback --all after the crash" 0 $? "$INITIAL" out.1 || { BAD=$((BAD + 1)); continue; }
        # (b) the failing apply again after the crash, then rollback --all
        restore base
        crash "$K" apply fail.mig --db "$URL"
        [ "$RC" = 137 ] || { echo "FAIL: $DIALECT 3 K=$K: the second run was not killed (exit $RC)"; show out.crash; BAD=$((BAD + 1)); continue; }
        after=$(state)
        mr apply fail.mig --db "$URL" >out.2 2>&1
        rc=$?
        # a step the crash left running (a batch, a transaction none step) is
        # run again and, with the migration, undone entirely by its down:
        # migrun says so instead of "as before", and the rollback below proves
        # the rest
        if grep -q "which an interrupted run had partly run, was undone entirely" out.2; then
            after=$(state)
        fi
        check "(b) the failing apply after the crash" 1 $rc "$after" out.2 || { BAD=$((BAD + 1)); continue; }
        mr rollback --all --db "$URL" >out.3 2>&1
        check "(b) rollback --all after that" 0 $? "$INITIAL" out.3 || { BAD=$((BAD + 1)); continue; }
    done
    NOTE=" (kill the apply whose last phase fails, through its automatic undo)$(sampled_note "$n")"
    result 3 "$(points "$n" | wc -l)"
}

# the last migration the run started
failing_migration() { sed -n 's/^migration \([A-Za-z_0-9]*\) .*/\1/p' "$1" | tail -n 1; }

part4() {
    PART=4
    local n rc fours
    # (a) a successful apply
    PART=4a
    restore empty
    MIGRUN_FAULT_REPORT=1 mr apply plan.mig --db "$URL" >out.ref 2>&1
    n=$(fault_count commits out.ref)
    [ -n "$n" ] || { echo "FAIL: $DIALECT 4a: no commits reported"; show out.ref; echo "$DIALECT setup 0 1" >> "$work/results"; return; }
    for ((K = 1; K <= n; K++)); do
        restore empty
        MIGRUN_DROP_AFTER_COMMIT=$K mr apply plan.mig --db "$URL" >out.1 2>&1
        rc=$?
        if [ $rc = 0 ]; then
            check "apply" 0 $rc "$FINAL" out.1 || { BAD=$((BAD + 1)); continue; }
        else
            # exit 1: the failing migration as before; migrations before it stay
            local want=$INITIAL m
            m=$(failing_migration out.1)
            [ "$m" = more ] && want=$BASE
            check "apply (failed in ${m:-no migration})" 1 $rc "$want" out.1 || { BAD=$((BAD + 1)); continue; }
            mr apply plan.mig --db "$URL" >out.2 2>&1
            check "plain apply after that" 0 $? "$FINAL" out.2 || { BAD=$((BAD + 1)); continue; }
        fi
        mr rollback --all --db "$URL" >out.3 2>&1
        check "rollback --all after that" 0 $? "$INITIAL" out.3 || { BAD=$((BAD + 1)); continue; }
    done
    NOTE=" (drop the connection after COMMIT K of apply)"
    result 4a "$n"
    # (b) the failing apply
    PART=4b
    restore base
    MIGRUN_FAULT_REPORT=1 mr apply fail.mig --db "$URL" >out.ref 2>&1
    n=$(fault_count commits out.ref)
    fours=""
    for ((K = 1; K <= n; K++)); do
        restore base
        MIGRUN_DROP_AFTER_COMMIT=$K mr apply fail.mig --db "$URL" >out.1 2>&1
        rc=$?
        if [ $rc = 4 ]; then
            # a person must look: fine when migrun says why, and not "as before"
            if ! grep -q '^error' out.1 || grep -q "as before" out.1; then
                echo "FAIL: $DIALECT 4b K=$K: exit 4 without saying why (or claiming 'as before')"; show out.1
                BAD=$((BAD + 1)); continue
            fi
            fours="$fours $K"
            echo "note: $DIALECT 4b K=$K: exit 4: $(grep '^error' out.1 | tail -n 1)"
        else
            check "the failing apply" 1 $rc "$BASE" out.1 || { BAD=$((BAD + 1)); continue; }
        fi
        mr rollback --all --db "$URL" >out.3 2>&1
        check "rollback --all after that" 0 $? "$INITIAL" out.3 || { BAD=$((BAD + 1)); continue; }
    done
    NOTE=" (drop the connection after COMMIT K of the failing apply${fours:+; exit 4 at K =$fours})"
    result 4b "$n"
    # (c) rollback --all
    PART=4c
    restore final
    MIGRUN_FAULT_REPORT=1 mr rollback --all --db "$URL" >out.ref 2>&1
    n=$(fault_count commits out.ref)
    for ((K = 1; K <= n; K++)); do
        restore final
        MIGRUN_DROP_AFTER_COMMIT=$K mr rollback --all --db "$URL" >out.1 2>&1
        check "rollback --all" 0 $? "$INITIAL" out.1 || { BAD=$((BAD + 1)); continue; }
        if says_zero_of out.1; then
            echo "FAIL: $DIALECT 4c K=$K: rollback --all undid the steps but says '0 of'"; show out.1
            BAD=$((BAD + 1)); continue
        fi
        mr apply plan.mig --db "$URL" >out.2 2>&1
        check "apply after that" 0 $? "$FINAL" out.2 || { BAD=$((BAD + 1)); continue; }
    done
    NOTE=" (drop the connection after COMMIT K of rollback --all)"
    result 4c "$n"
}

# worker DIALECT NAME PARTS… — the snapshots and reference states, then the parts
worker() {
    DIALECT=$1
    local name=$2 p t0=$SECONDS
    shift 2
    mkdir "$work/$name" && cd "$work/$name" || return
    cp ../plan.mig ../fail.mig .
    if [ "$DIALECT" = postgres ]; then
        DB=crash_$$_$name
        URL="postgresql:///$DB"
        psql_db -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
    else
        URL="sqlite:db.sqlite"
        : > db.sqlite
    fi
    local setup_bad=0
    INITIAL=$(state)
    snapshot empty
    mr apply fail.mig --to base --db "$URL" >out.setup 2>&1 || { echo "FAIL: $DIALECT: apply --to base"; show out.setup; setup_bad=1; }
    BASE=$(state)
    snapshot base
    mr apply plan.mig --db "$URL" >out.setup 2>&1 || { echo "FAIL: $DIALECT: apply"; show out.setup; setup_bad=1; }
    FINAL=$(state)
    snapshot final
    # the uninterrupted references
    mr rollback --all --db "$URL" >out.setup 2>&1
    [ $? = 0 ] && [ "$(state)" = "$INITIAL" ] || { echo "FAIL: $DIALECT: the uninterrupted rollback --all"; show out.setup; setup_bad=1; }
    restore base
    mr apply fail.mig --db "$URL" >out.setup 2>&1
    [ $? = 1 ] && [ "$(state)" = "$BASE" ] || { echo "FAIL: $DIALECT: the uninterrupted failing apply"; show out.setup; setup_bad=1; }
    [ "$INITIAL" != "$BASE" ] && [ "$BASE" != "$FINAL" ] && ! grep -q -i 'error' <<<"$INITIAL$BASE$FINAL" ||
        { echo "FAIL: $DIALECT: the reference states are wrong"; printf '%s\n--\n' "$INITIAL" "$BASE" "$FINAL" | head -40; setup_bad=1; }
    if [ $setup_bad != 0 ]; then
        echo "$DIALECT setup 0 1" >> "$work/results"
        return
    fi
    for p in "$@"; do
        "part$p"
    done
    echo "($DIALECT, parts $*: $((SECONDS - t0)) s)"
}

# ---- run ------------------------------------------------------------------------------------

want() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }
jobs_started=()
start() {   # start NAME DIALECT PARTS… — a worker in the background, its log in log.NAME
    local name=$1 d=$2 parts="" p
    shift 2
    want "$d" "$DIALECTS" || return
    for p in "$@"; do want "$p" "$PARTS" && parts="$parts $p"; done
    [ -n "$parts" ] || return
    # shellcheck disable=SC2086
    (worker "$d" "$name" $parts) > "$work/log.$name" 2>&1 &
    workers="$workers $!"
    jobs_started+=("$name")
}

: > results
start sqlite sqlite 1 2 3
if want postgres "$DIALECTS"; then
    if psql -X -q -A -t -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
        PG_OK=1
        start pg_undo postgres 3
        start pg_rest postgres 1 2 4
    else
        echo "FAIL: no PostgreSQL server reachable: run the tests through pg_virtualenv"
        echo "postgres setup 0 1" >> results
    fi
fi
for p in $workers; do wait "$p"; done
workers=""
for name in "${jobs_started[@]}"; do cat "log.$name"; done

echo "--"
pass=0 fail=0 total=0
for d in sqlite postgres; do
    for p in 1 2 3 4a 4b 4c; do
        while read -r rd rp n m note; do
            [ "$rd $rp" = "$d $p" ] || continue
            echo "$d $p: $n points exercised, $m failed${note:+ $note}"
            total=$((total + n)) pass=$((pass + n - m)) fail=$((fail + m))
        done < results
    done
    while read -r rd rp n m _; do
        [ "$rd $rp" = "$d setup" ] && fail=$((fail + m))
    done < results
done
echo "$total crash points in all ($((SECONDS - started)) s)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
