#!/usr/bin/env bash
# fleet.sh — migrun over many targets (--targets, --targets-query) on a
# real PostgreSQL server (pg_virtualenv) and real SQLite files: 50 tenant
# schemas of one database and 10 databases at --parallel 1 and 4 with every
# target's catalog checked afterwards, a failing tenant (stop launching,
# --continue-on-error, --canary), a killed fleet run again, JSON events
# that all carry their target, --targets-query, rollback over a fleet,
# SQLite fleets, plan --sql and the workers' notes over a fleet, and fleets
# of databases and of tenant schemas through a real PgBouncer in
# transaction mode.
. "$(dirname "$0")/lib.sh"
DIALECT=postgres

if ! psql -X -q -A -t -c 'SELECT 1' >/dev/null 2>&1; then
    echo "FAIL: no PostgreSQL server reachable; run through pg_virtualenv (make check does)"
    echo "0 passed, 1 failed"
    exit 1
fi

write_plan() {
    cat > m.mig <<'MIG'
migration accounts {
  phase schema {
    step table {
      up   sql { CREATE TABLE accounts (id integer PRIMARY KEY, owner text NOT NULL); }
      down sql { DROP TABLE accounts; }
    }
  }
  phase data {
    step seed {
      up   sql { INSERT INTO accounts VALUES (1, current_schema()); }
      down sql { DELETE FROM accounts WHERE id = 1; }
    }
  }
}
migration notes {
  phase schema {
    step table {
      up   sql { CREATE TABLE notes (id integer PRIMARY KEY, account integer REFERENCES accounts, body text); }
      down sql { DROP TABLE notes; }
    }
  }
}
MIG
}

# a third migration that takes a while in each target (for the kill)
write_slow_plan() {
    write_plan
    cat >> m.mig <<'MIG'
migration slow {
  phase work {
    step wait {
      up   sql { SELECT pg_sleep(0.4); CREATE TABLE slow_done (x integer); }
      down sql { DROP TABLE slow_done; }
    }
  }
}
MIG
}

# s.mig: one migration, one table t (any dialect: the SQLite fleets)
write_one_table() {
    cat > s.mig <<'MIG'
migration one {
  phase schema {
    step t { up sql { CREATE TABLE t (id integer PRIMARY KEY, v text); } down sql { DROP TABLE t; } }
  }
}
MIG
}

# schemas N — tenant_01 … tenant_N in the case's database, and a targets
# file naming them
schemas() {
    local n=$1 i
    : > targets
    for i in $(seq 1 "$n" | xargs printf '%02d\n'); do
        echo "CREATE SCHEMA tenant_$i;"
        echo "$URL#tenant_$i" >> targets
    done | psql -X -q -d "$PGDB" -v ON_ERROR_STOP=1
}

# per_schema SQL — for each tenant schema: name|value of SQL (%I the schema)
per_schema() {
    q "SELECT nspname || '|' || (xpath('/row/v/text()', query_to_xml(format('$1', nspname, nspname), false, true, '')))[1]::text
         FROM pg_namespace WHERE nspname LIKE 'tenant\\_%'
          AND to_regclass(quote_ident(nspname) || '.mig_applied') IS NOT NULL ORDER BY 1"
}

# tenants_complete N — every tenant schema has the two tables with their
# columns, its own seed row (its search_path was its schema) and three
# tracking rows
tenants_complete() {
    local n=$1
    [ "$(q "SELECT count(*) FROM information_schema.columns WHERE table_schema LIKE 'tenant\\_%'
              AND table_name IN ('accounts', 'notes')")" = $((n * 5)) ] || return 1
    [ "$(per_schema 'SELECT owner AS v FROM %I.accounts' | awk -F'|' '$1 == $2' | wc -l)" = "$n" ] || return 1
    [ "$(per_schema 'SELECT count(*) AS v FROM %I.mig_applied' | awk -F'|' '$2 == 3' | wc -l)" = "$n" ]
}

# databases N — N databases of the case and a targets file naming them
databases() {
    local i
    : > targets
    for i in $(seq 0 $(($1 - 1))); do
        echo "CREATE DATABASE ${PGDB}_d$i;"
        echo "postgresql:///${PGDB}_d$i" >> targets
    done | psql -X -q -d postgres -v ON_ERROR_STOP=1 || touch "$CASE_DIR/.failed"
}
drop_databases() {
    local i
    for i in $(seq 0 $(($1 - 1))); do echo "DROP DATABASE IF EXISTS ${PGDB}_d$i WITH (FORCE);"; done |
        psql -X -q -d postgres >/dev/null 2>&1
}
# each_db N SQL — for each database of the case: dI|value of SQL (one session)
each_db() {
    local i
    for i in $(seq 0 $(($1 - 1))); do
        echo "\\c ${PGDB}_d$i"
        echo "SELECT 'd$i|' || ($2);"
    done | psql -X -q -A -t -v ON_ERROR_STOP=1 -d postgres 2>&1
}
dq() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

f_fifty_schemas_at_parallel_4() {
    write_plan
    schemas 50
    expect_exit 0 "$MIGRUN" apply m.mig --targets targets --parallel 4
    check "the summary counts them" contains "fleet apply: 50 targets"
    check "all applied" contains "50 applied"
    check "every tenant's catalog and tracking rows" tenants_complete 50
    check "nothing in public" test "$(q "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0
    check "one journal per target" test "$(ls .migrun/journal.fleet | wc -l)" = 50
    expect_exit 0 "$MIGRUN" status m.mig --targets targets --parallel 4
    check "status: up to date everywhere" contains "50 up to date"
}

f_ten_databases_at_parallel_1_then_4_and_rollback() {
    write_plan
    databases 10
    expect_exit 0 "$MIGRUN" apply m.mig --targets targets --parallel 1
    check "all applied" contains "10 applied"
    local cat="(SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND table_name IN
        ('accounts', 'notes')) || ',' || (SELECT count(*) FROM mig_applied)"
    local ok=0
    [ "$(each_db 10 "$cat" | grep -c '|5,3$')" = 10 ] && ok=1
    check "every database's catalog and tracking rows" test $ok = 1
    expect_exit 0 "$MIGRUN" plan m.mig --targets targets --parallel 4
    check "plan: nothing to apply" contains "10 up to date"
    expect_exit 0 "$MIGRUN" rollback --all --targets targets --parallel 4
    check "rolled back everywhere" contains "10 rolled back"
    ok=0
    [ "$(each_db 10 "$cat" | grep -c '|0,0$')" = 10 ] && ok=1
    check "every database is as before" test $ok = 1
    drop_databases 10
}

plant_conflict() {   # tenant_03 already has a table notes
    q "CREATE TABLE tenant_03.notes (x integer)"
}

f_failing_tenant_stops_launching() {
    write_plan
    schemas 6
    plant_conflict
    expect_exit 1 "$MIGRUN" apply m.mig --targets targets --parallel 1
    check "the summary names the failed one with its error" contains "#tenant_03  -- statement failed at m.mig:18"
    check "the rest not run" contains "3 not run"
    check "says how to go on" contains "continue-on-error"
    check "tenants before it applied" test "$(per_schema 'SELECT count(*) AS v FROM %I.mig_applied' | grep -c '|3$')" = 2
    check "the failed tenant's notes untouched, nothing of it recorded" \
        test "$(q "SELECT count(*) FROM tenant_03.mig_applied WHERE migration = 'notes'")" = 0
    check "its own table unchanged" test "$(q "SELECT string_agg(column_name, ',') FROM information_schema.columns
        WHERE table_schema = 'tenant_03' AND table_name = 'notes'")" = x
    check "the ones after it untouched" test "$(q "SELECT count(*) FROM pg_tables WHERE schemaname IN
        ('tenant_04', 'tenant_05', 'tenant_06')")" = 0
    # --continue-on-error: every other target runs
    expect_exit 1 "$MIGRUN" apply m.mig --targets targets --parallel 4 --continue-on-error
    check "the others applied" contains "3 applied"
    check "the one failed" contains "1 failed"
    check "no not run" not_contains "not run"
    # the conflict removed, the same command finishes
    q "DROP TABLE tenant_03.notes"
    expect_exit 0 "$MIGRUN" apply m.mig --targets targets --parallel 4
    check "finished" tenants_complete 6
}

f_canary_stops_the_fleet() {
    write_plan
    schemas 6
    q "CREATE TABLE tenant_02.notes (x integer)"
    expect_exit 1 "$MIGRUN" apply m.mig --targets targets --parallel 4 --canary 2 --continue-on-error
    check "says the canary failed" contains "the canary (the first 2 targets) failed"
    check "nothing after the canary ran" test "$(q "SELECT count(*) FROM pg_tables WHERE schemaname > 'tenant_02'")" = 0
    check "the canary's good target applied" test "$(q "SELECT count(*) FROM tenant_01.mig_applied")" = 3
    q "DROP TABLE tenant_02.notes"
    expect_exit 0 "$MIGRUN" apply m.mig --targets targets --parallel 4 --canary 2
    check "a good canary lets the rest run" tenants_complete 6
}

f_killed_fleet_runs_again_exactly() {
    write_slow_plan
    schemas 6
    # SIGKILL of the parent: its workers get SIGTERM and undo their runs
    "$MIGRUN" apply m.mig --targets targets --parallel 2 >kill.out 2>&1 &
    local pid=$!
    sleep 1.3
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    check "some targets were not done yet" test "$(q "SELECT count(*) FROM pg_tables WHERE tablename = 'slow_done'")" -lt 6
    expect_exit 0 "$MIGRUN" apply m.mig --targets targets --parallel 4
    check "finished exactly" test "$(per_schema 'SELECT count(*) AS v FROM %I.mig_applied' | grep -c '|4$')" = 6
    check "each slow step ran once per tenant" \
        test "$(q "SELECT count(*) FROM pg_tables WHERE tablename = 'slow_done' AND schemaname LIKE 'tenant\\_%'")" = 6
    check "seed rows once" test "$(per_schema 'SELECT count(*) AS v FROM %I.accounts' | grep -c '|1$')" = 6
    # SIGTERM of the parent: passed on, the running targets undo, exit 1
    "$MIGRUN" rollback --all --targets targets --parallel 4 >/dev/null 2>&1
    "$MIGRUN" apply m.mig --targets targets --parallel 2 >term.out 2>&1 &
    pid=$!
    sleep 1.3
    kill -TERM "$pid"
    wait "$pid"
    local rc=$?
    OUT=$(cat term.out)
    check "exit 1 after SIGTERM (got $rc)" test "$rc" = 1
    check "says it was interrupted" contains "interrupted by SIGTERM"
    check "says how to go on" contains "running the same command again continues"
    local half
    half=$(q "SELECT count(*) FROM pg_namespace n WHERE nspname LIKE 'tenant\\_%' AND
        (EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = n.nspname AND tablename = 'slow_done'))::int <>
        (xpath('/row/v/text()', query_to_xml(format('SELECT count(*) AS v FROM %I.mig_applied WHERE migration = %L',
                                                     nspname, 'slow'), false, true, '')))[1]::text::int")
    check "no tenant half-done: slow_done only with its record" test "$half" = 0
    expect_exit 0 "$MIGRUN" apply m.mig --targets targets --parallel 4
    check "finished after SIGTERM" test "$(per_schema 'SELECT count(*) AS v FROM %I.mig_applied' | grep -c '|4$')" = 6
    # SIGKILL of a worker: its target cannot say what it left (exit 4);
    # the same command again resumes it exactly and says so
    "$MIGRUN" rollback --all --targets targets --parallel 4 >/dev/null 2>&1
    # (a longer sleep, so that a loaded machine's slow psql cannot miss it
    # before the fleet ends: the step is not applied anywhere, its source
    # may change)
    sed -i 's/pg_sleep(0.4)/pg_sleep(3)/' m.mig
    "$MIGRUN" apply m.mig --targets targets --parallel 1 >wk.out 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do   # the worker in its slow step
        [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(3)%' AND state = 'active' AND datname = current_database()")" = 1 ] && break
        sleep 0.05
    done
    pkill -KILL -P "$pid"
    wait "$pid"
    rc=$?
    OUT=$(cat wk.out)
    check "exit 4 when a worker was killed (got $rc)" test "$rc" = 4
    check "the summary says killed" contains "killed"
    expect_exit 0 "$MIGRUN" apply m.mig --targets targets --parallel 4
    check "the killed target resumed, and the summary says so" contains "(resumed)"
    check "finished after a killed worker" test "$(per_schema 'SELECT count(*) AS v FROM %I.mig_applied' | grep -c '|4$')" = 6
}

f_json_events_all_carry_their_target() {
    write_plan
    schemas 5
    plant_conflict
    "$MIGRUN" apply m.mig --targets targets --parallel 3 --continue-on-error --json >events.json 2>/dev/null
    local rc=$?
    check "exit 1" test "$rc" = 1
    check "every line an event with a target" python3 - events.json <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
assert evs and all('target' in e and 'event' in e for e in evs), evs
done = [e for e in evs if e['event'] == 'target_done']
assert len(done) == 5, done
assert sorted(e['result'] for e in done) == ['applied'] * 4 + ['failed'], done
bad = [e for e in done if e['result'] == 'failed'][0]
assert bad['target'].endswith('#tenant_03') and 'notes' in bad['error'], bad
assert any(e['event'] == 'error' and e['target'] == bad['target'] for e in evs)
assert sum(1 for e in evs if e['event'] == 'step' and e.get('outcome') == 'applied') >= 12
end = evs[-1]
assert end['event'] == 'fleet_done' and end['target'] is None and end['exit'] == 1, end
assert end['results'] == {'applied': 4, 'failed': 1}, end
PY
}

f_targets_query_on_a_control_database() {
    write_plan
    schemas 3
    q "CREATE TABLE tenants (name text); INSERT INTO tenants VALUES ('tenant_01'), ('tenant_02'), ('tenant_03')"
    createdb "${PGDB}_d0"
    q "INSERT INTO tenants VALUES ('postgresql:///${PGDB}_d0')"
    expect_exit 0 "$MIGRUN" apply m.mig --db "$URL" --targets-query "SELECT name FROM tenants ORDER BY 1" --parallel 2
    check "four targets" contains "4 applied"
    check "the schemas" tenants_complete 3
    check "the database" test "$(dq "${PGDB}_d0" "SELECT count(*) FROM mig_applied")" = 3
    check "the control database's public schema untouched" \
        test "$(q "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'tenants'")" = 0
    expect_exit 3 "$MIGRUN" status m.mig --db "$URL" --targets-query "SELECT nothing FROM tenants"
    check "a failing query is named" contains "--targets-query on"
    expect_exit 2 "$MIGRUN" status m.mig --db "$URL" --targets-query "SELECT name, 1 FROM tenants"
    check "one column" contains "must return one"
    expect_exit 0 "$MIGRUN" status m.mig --db "$URL" --targets-query "SELECT name FROM tenants WHERE false"
    check "no target: nothing to do" contains "returned no target"
    dropdb --force "${PGDB}_d0"
}

f_runner_lock_is_per_schema() {
    write_slow_plan
    sed -i 's/pg_sleep(0.4)/pg_sleep(2)/' m.mig
    schemas 3
    # another session holds the lock of the schema public: tenants do not wait for it
    psql -X -q -d "$PGDB" -c "SELECT pg_advisory_lock(7235943); SELECT pg_sleep(4)" >/dev/null 2>&1 &
    local holder=$!
    sleep 0.5
    expect_exit 0 "$MIGRUN" apply m.mig --targets targets --parallel 3 --lock-wait 1s
    check "tenants ran beside a lock on public" contains "3 applied"
    kill "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null
    # a runner on tenant_01 excludes a fleet's worker on tenant_01, and only there
    "$MIGRUN" rollback --all --targets targets --parallel 3 >/dev/null 2>&1
    "$MIGRUN" apply m.mig --db "$URL" --schema tenant_01 --journal solo.db >solo.out 2>&1 &
    local solo=$!
    for _ in $(seq 1 100); do
        [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(2)%' AND state = 'active' AND datname = current_database()")" = 1 ] && break
        sleep 0.05
    done
    expect_exit 3 "$MIGRUN" apply m.mig --targets targets --parallel 3 --lock-wait 100ms --continue-on-error
    check "the busy tenant refused, naming the holder" contains "another migrun holds the lock on"
    check "the others applied" contains "2 applied, 1 refused"
    wait "$solo"
    [ -n "${MIG_TEST_VERBOSE:-}" ] && sed "s/^/      solo: /" solo.out
    check "the solo runner finished" test "$(q "SELECT count(*) FROM tenant_01.mig_applied")" = 4
}

f_passwords_stay_out_of_output_and_journals() {
    [ -n "${PGPASSWORD:-}" ] || { echo "    (no PGPASSWORD from pg_virtualenv)"; touch "$CASE_DIR/.failed"; return; }
    write_plan
    q "CREATE SCHEMA tenant_01"
    echo "postgresql://${PGUSER:-postgres}:${PGPASSWORD}@${PGHOST:-localhost}:${PGPORT:-5432}/$PGDB#tenant_01" > targets
    expect_exit 0 "$MIGRUN" apply m.mig --targets targets
    check "applied" contains "1 applied"
    check "masked in the text" contains ":***@"
    check "the password is never printed" not_contains "$PGPASSWORD"
    expect_exit 0 "$MIGRUN" status m.mig --targets targets --json
    check "nor in JSON" not_contains "$PGPASSWORD"
    check "nor in a journal's name" test -z "$(ls .migrun/journal.fleet | grep -F -- "$PGPASSWORD")"
    check "nor in a journal" test -z "$(grep -alF -- "$PGPASSWORD" .migrun/journal.fleet/*)"
}

f_sqlite_fleet_and_bad_lists() {
    write_one_table
    printf '# the tenants\nsqlite:a.db\nb.db   # a path is a SQLite file\n\nsqlite:c.db\nd.db\ne.db\n' > targets
    expect_exit 0 "$MIGRUN" apply s.mig --targets targets --parallel 3
    check "five applied" contains "5 applied"
    local f ok=1
    for f in a b c d e; do
        [ "$(sqlite3 $f.db "SELECT count(*) FROM pragma_table_info('t')")" = 2 ] || ok=0
        [ "$(sqlite3 $f.db "SELECT count(*) FROM mig_applied")" = 1 ] || ok=0
    done
    check "every file's catalog and tracking row" test $ok = 1
    expect_exit 0 "$MIGRUN" rollback --targets targets --parallel 2
    ok=1
    for f in a b c d e; do [ "$(sqlite3 $f.db "SELECT count(*) FROM sqlite_master WHERE name = 't'")" = 0 ] || ok=0; done
    check "rolled back everywhere" test $ok = 1
    printf 'a.db\nc.db\n' | "$MIGRUN" status s.mig --targets - >stdin.out 2>&1
    OUT=$(cat stdin.out)
    check "--targets - reads the list from standard input" contains "fleet status: 2 targets"
    printf 'a.db\nb.db\nsqlite:a.db\n' > dup
    expect_exit 2 "$MIGRUN" apply s.mig --targets dup
    check "the same target twice names both lines" contains "dup, line 3: the target sqlite:a.db is already on line 1"
    printf 'a.db#tenant\n' > bad
    expect_exit 2 "$MIGRUN" apply s.mig --targets bad
    check "no schema on SQLite" contains "a SQLite file has one schema"
    printf '# nothing\n' > empty
    expect_exit 2 "$MIGRUN" apply s.mig --targets empty
    check "an empty list is an error" contains "names no target"
    expect_exit 2 "$MIGRUN" apply s.mig --targets targets --db sqlite:x.db
    check "--db and --targets" contains "--db is only the control database"
    expect_exit 2 "$MIGRUN" apply s.mig --db sqlite:x.db --parallel 2
    check "--parallel without a fleet" contains "apply to a fleet"
    expect_exit 2 "$MIGRUN" log --targets targets
    check "log over a fleet: refused, saying what to do" contains "is for apply, status, rollback and plan; run this command with --db URL"
}

# plan --sql over a fleet: every target's rendered SQL, each line with its
# target, nothing applied; and a worker's notes in text mode (what its
# target line does not say: "the database is as before") with its target
f_plan_sql_and_notes_over_a_fleet() {
    write_one_table
    printf 'a.db\nb.db\nc.db\n' > targets
    expect_exit 0 "$MIGRUN" plan s.mig --targets targets --parallel 2 --sql
    local f
    for f in a b c; do
        check "$f.db: its SQL, with its target" contains "sqlite:$f.db: CREATE TABLE t (id integer PRIMARY KEY, v text);"
        check "$f.db: its down" contains "sqlite:$f.db: -- down: DROP TABLE t;"
    done
    check "three would apply" contains "3 would apply"
    check "nothing applied" test "$(ls ./*.db 2>/dev/null | wc -l)" = 0
    expect_exit 0 "$MIGRUN" plan s.mig --targets targets --sql --json
    check "JSON: the lines as output events with their target" contains '"event":"output","target":"sqlite:b.db","line":"CREATE TABLE t (id integer PRIMARY KEY, v text);"'
    cat >> s.mig <<'MIG'
migration two {
  after one;
  phase data {
    step u { up sql { INSERT INTO t VALUES (1, 'x'); } down sql { DELETE FROM t WHERE id = 1; } }
    step bad { up sql { INSERT INTO nope VALUES (1); } down sql { DELETE FROM nope; } }
  }
}
MIG
    expect_exit 1 "$MIGRUN" apply s.mig --targets targets --continue-on-error
    check "three failed" contains "3 failed"
    for f in a b c; do
        check "$f.db: its note that it is as before" contains "sqlite:$f.db: nothing of two was committed: the database is as before"
    done
    expect_exit 1 "$MIGRUN" apply s.mig --targets targets -q
    check "not with -q" not_contains "the database is as before"
}

# pooler_up K: a PgBouncer in transaction mode for this case, on a port of
# its own (K apart from the other cases'), its folder in $bdir and its port
# in $bport (the caller's locals); 1, the case marked failed, when it is not
# installed or does not start
pooler_up() {
    local pgbouncer
    pgbouncer=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
    if [ ! -x "$pgbouncer" ]; then
        echo "    pgbouncer is not installed (Debian package pgbouncer; ./dev.sh installs it)"
        touch "$CASE_DIR/.failed"
        return 1
    fi
    bport=$((20000 + ($$ + $1) % 20000))
    bdir=$(mktemp -d)
    start_pgbouncer "$pgbouncer" "$bdir" "$bport" || { echo "    pgbouncer did not start"; touch "$CASE_DIR/.failed"; return 1; }
}

f_fleet_through_a_transaction_pooler() {
    local bdir bport
    pooler_up 7 || return
    write_plan
    databases 5
    sed -i "s|postgresql:///|postgresql://${PGUSER:-postgres}@127.0.0.1:$bport/|" targets
    expect_exit 3 "$MIGRUN" apply m.mig --targets targets --parallel 3 --continue-on-error
    check "the session lock refused through the pooler, each target" contains "5 refused"
    expect_exit 0 "$MIGRUN" apply m.mig --targets targets --parallel 3 --lock xact
    check "applied through the pooler" contains "5 applied"
    local ok=0
    [ "$(each_db 5 "(SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND table_name IN
        ('accounts', 'notes')) || ',' || (SELECT count(*) FROM mig_applied)" | grep -c '|5,3$')" = 5 ] && ok=1
    check "every database's catalog" test $ok = 1
    expect_exit 0 "$MIGRUN" rollback --targets targets --parallel 3 --lock table
    check "rolled back through the pooler" contains "5 rolled back"
    check "no advisory lock left" test "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database IN
        (SELECT oid FROM pg_database WHERE datname LIKE '${PGDB}%')")" = 0
    kill "$(cat "$bdir/pgbouncer.pid" 2>/dev/null)" 2>/dev/null
    sleep 0.2
    rm -rf "$bdir"
    drop_databases 5
}

# Tenant schemas of one database through a PgBouncer in transaction mode:
# the schema is no session setting there (it would stay on one pooled server
# connection for its next client) but SET LOCAL search_path in each
# transaction and before each statement sent outside one. 20 schemas at
# --parallel 4 over 3 server connections, while another client of the
# pooler keeps asking for its own search_path: every schema gets its own
# tables and rows, the other client never sees a tenant's search_path,
# nothing lands in public; a step that cannot run in a transaction block
# (CREATE INDEX CONCURRENTLY, transaction none) is refused before anything
# runs, and runs with a direct connection.
write_pooled_plan() {
    write_plan
    cat >> m.mig <<'MIG'
migration outside {
  phase fill {
    transaction none;
    step account {
      up   sql { INSERT INTO accounts VALUES (2, current_schema()); }
      down sql { DELETE FROM accounts WHERE id = 2; }
    }
    step note {
      up   sql { INSERT INTO notes VALUES (1, 2, current_setting('search_path')); }
      down sql { DELETE FROM notes WHERE id = 1; }
    }
  }
}
MIG
}

f_tenant_schemas_through_a_transaction_pooler() {
    local bdir bport
    pooler_up 11 || return
    local pooled="postgresql://${PGUSER:-postgres}@127.0.0.1:$bport/$PGDB"
    write_pooled_plan
    schemas 20
    sed -i "s|^$URL#|$pooled#|" targets
    # another client of the pooler, asking for its search_path all along
    ( while [ ! -e stop_watch ]; do
          psql -X -q -A -t -d "$pooled" -c "SELECT current_setting('search_path') || '|' || current_schema()" 2>&1
      done > watch.txt ) &
    local watcher=$!
    expect_exit 0 "$MIGRUN" apply m.mig --targets targets --parallel 4 --lock xact
    touch stop_watch
    wait "$watcher"
    check "applied through the pooler" contains "20 applied"
    check "every tenant's tables in its own schema" test "$(q "SELECT count(*) FROM pg_tables
        WHERE schemaname LIKE 'tenant\\_%' AND tablename IN ('accounts', 'notes', 'mig_applied', 'mig_runs', 'mig_meta')")" = 100
    check "its rows written with its search_path (in and outside a transaction)" test \
        "$(per_schema 'SELECT string_agg(owner, $$,$$ ORDER BY id) AS v FROM %I.accounts' | awk -F'|' '$2 == $1 "," $1' |
           wc -l)" = 20
    local sp_ok=0
    [ "$(per_schema 'SELECT body AS v FROM %I.notes' | awk -F'|' '$2 == $1' | wc -l)" = 20 ] && sp_ok=1
    check "a statement outside a transaction saw only its schema" test $sp_ok = 1
    check "its tracking rows" test "$(per_schema 'SELECT count(*) AS v FROM %I.mig_applied' | awk -F'|' '$2 == 5' | wc -l)" = 20
    check "nothing in public" test "$(q "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0
    check "the other client asked while the fleet ran" test "$(wc -l < watch.txt)" -gt 0
    check "and never saw a tenant's search_path" test "$(grep -cv '^"\$user", public|public$' watch.txt)" = 0
    # every pooled server connection afterwards: the default search_path
    local i
    for i in 1 2 3 4 5 6; do
        psql -X -q -A -t -d "$pooled" -c "SELECT current_setting('search_path'), pg_sleep(0.2)" &
    done > after.txt 2>&1
    wait
    check "no pooled server connection kept a schema" test "$(grep -c '^"\$user", public|$' after.txt)" = 6
    check "a direct session is not affected" test "$(q "SELECT current_schema()")" = public
    expect_exit 0 "$MIGRUN" status m.mig --targets targets --parallel 4
    check "status through the pooler" contains "20 up to date"
    expect_exit 0 "$MIGRUN" plan m.mig --targets targets --parallel 2 --sql
    check "plan through the pooler" contains "20 up to date"
    expect_exit 0 "$MIGRUN" rollback --targets targets --parallel 4 --lock table
    check "rolled back through the pooler" contains "20 rolled back"
    check "every tenant's tables gone, its tracking tables kept" test "$(q "SELECT count(*) FROM pg_tables
        WHERE schemaname LIKE 'tenant\\_%'")" = 60
    # a step outside a transaction that cannot run in one: refused before anything runs
    cat >> m.mig <<'MIG'
migration idx {
  phase build {
    transaction none;
    step owner {
      up   sql { CREATE INDEX CONCURRENTLY accounts_owner ON accounts (owner); }
      down sql { DROP INDEX CONCURRENTLY accounts_owner; }
    }
  }
}
MIG
    head -1 targets > one_target
    expect_exit 3 "$MIGRUN" apply m.mig --targets one_target --lock xact
    check "refused, naming the step, its line and why" contains "step idx.build.owner (transaction none) runs 'CREATE INDEX CONCURRENTLY accounts_owner ON accounts (owner)' at m.mig:"
    check "says what to do" contains "apply this migration with a direct connection to the server"
    check "nothing ran" test "$(q "SELECT count(*) FROM pg_tables WHERE schemaname = 'tenant_01'")" = 3
    check "no row written" test "$(q "SELECT count(*) FROM tenant_01.mig_applied WHERE status = 'applied'")" = 0
    expect_exit 3 "$MIGRUN" plan m.mig --targets one_target
    check "plan says so too" contains "step idx.build.owner (transaction none)"
    # the documented way: that target with a direct connection
    expect_exit 0 "$MIGRUN" apply m.mig --db "$URL" --schema tenant_01
    check "applied directly" test "$(q "SELECT count(*) FROM pg_indexes WHERE schemaname = 'tenant_01' AND indexname = 'accounts_owner'")" = 1
    # its down (DROP INDEX CONCURRENTLY) cannot go through the pooler either
    expect_exit 3 "$MIGRUN" rollback --targets one_target --lock xact
    check "rollback through the pooler refused, naming the step" contains "cannot roll back idx.build.owner through the connection pooler"
    check "the index still there" test "$(q "SELECT count(*) FROM pg_indexes WHERE schemaname = 'tenant_01' AND indexname = 'accounts_owner'")" = 1
    expect_exit 0 "$MIGRUN" rollback --db "$URL" --schema tenant_01
    check "rolled back directly" test "$(q "SELECT count(*) FROM pg_indexes WHERE schemaname = 'tenant_01' AND indexname = 'accounts_owner'")" = 0
    kill "$(cat "$bdir/pgbouncer.pid" 2>/dev/null)" 2>/dev/null
    sleep 0.2
    rm -rf "$bdir"
}

for t in $(declare -F | awk '{print $3}' | grep -E '^f_'); do
    if [ -n "${MIG_CASES:-}" ] && ! [[ $t =~ $MIG_CASES ]]; then continue; fi
    run_case "$t"
done
finish
