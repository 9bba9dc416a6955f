#!/usr/bin/env bash
# sqlite.sh — end-to-end runs of the real migc and migrun against SQLite
# files, checking the database afterwards.
. "$(dirname "$0")/lib.sh"

write_two_phase() {
    cat > m.mig <<'MIG'
import std;

migration shop "a shop" {
  target sqlite;
  param greeting: string = "hello";

  phase schema {
    step items {
      up   sql { CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL); }
      down sql { DROP TABLE items; }
      verify std.table_exists("items");
    }
    step items_price {
      up   sql { ALTER TABLE items ADD COLUMN price INTEGER DEFAULT 0; }
      down sql { ALTER TABLE items DROP COLUMN price; }
    }
  }

  phase data {
    step seed {
      up   sql { INSERT INTO items (name, price) VALUES (${greeting}, 1), ('b', 2); }
      down sql { DELETE FROM items WHERE name IN (${greeting}, 'b'); }
    }
    assert scalar sql { SELECT count(*) FROM items } == 2 else "two items";
  }
}
MIG
}

t_apply_reapply_rollback_restores_schema() {
    write_two_phase
    sqlite3 db.sqlite "CREATE TABLE keep_me (x INTEGER); INSERT INTO keep_me VALUES (7);"
    local before
    before=$(schema db.sqlite)
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    check "applied lines" contains "applied      schema.items"
    check "items exist" test "$(q db.sqlite "SELECT count(*) FROM items")" = 2
    check "seeded with the param" test "$(q db.sqlite "SELECT name FROM items WHERE price = 1")" = hello
    check "tracking rows" test "$(q db.sqlite "SELECT count(*) FROM mig_applied WHERE status = 'applied'")" = 3
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    check "re-apply says so" contains "nothing to do"
    check "re-apply changes nothing" test "$(q db.sqlite "SELECT count(*) FROM items")" = 2
    expect_exit 0 "$MIGRUN" rollback --all --db sqlite:db.sqlite
    check "schema exactly as before" test "$(schema db.sqlite)" = "$before"
    check "other data untouched" test "$(q db.sqlite "SELECT x FROM keep_me")" = 7
    check "tracking emptied" test "$(q db.sqlite "SELECT count(*) FROM mig_applied")" = 0
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    check "applies again after rollback" test "$(q db.sqlite "SELECT count(*) FROM items")" = 2
}

t_skipped_step_survives_rollback() {
    cat > m.mig <<'MIG'
import std;
migration guarded {
  step make_t {
    when not std.table_exists("t");
    up   sql { CREATE TABLE t (a INTEGER); }
    down sql { DROP TABLE t; }
  }
  step make_u {
    up   sql { CREATE TABLE u (a INTEGER); }
    down sql { DROP TABLE u; }
  }
}
MIG
    sqlite3 db.sqlite "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (42);"
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    check "the guard skipped" contains "skipped      main.make_t"
    check "skip recorded" test "$(q db.sqlite "SELECT status FROM mig_applied WHERE step = 'make_t'")" = skipped
    expect_exit 0 "$MIGRUN" status m.mig --db sqlite:db.sqlite
    check "status shows skipped" contains "skipped  main.make_t"
    expect_exit 0 "$MIGRUN" rollback --db sqlite:db.sqlite
    check "u undone" test -z "$(q db.sqlite "SELECT name FROM sqlite_master WHERE name = 'u'")"
    check "the skipped step's table survives with its data" test "$(q db.sqlite "SELECT a FROM t")" = 42
}

t_failure_in_second_phase_rolls_back_everything() {
    write_two_phase
    sed -i "s/('b', 2)/('b', 2), ('c', 3)/" m.mig     # the assert now fails
    local before
    before=$(schema db.sqlite 2>/dev/null)
    expect_exit 1 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    check "names the assert" contains "assert failed: two items"
    check "names the migration and phase" contains "migration shop, phase data"
    check "says it undid" contains "rolled back"
    check "schema as before" test "$(schema db.sqlite)" = "$before"
    check "nothing tracked" test "$(q db.sqlite "SELECT count(*) FROM mig_applied")" = 0
}

t_failure_with_on_error_stop_keeps_first_phase() {
    write_two_phase
    sed -i "s/INSERT INTO items (name, price)/INSERT INTO no_such_table (name, price)/" m.mig
    expect_exit 1 "$MIGRUN" apply m.mig --db sqlite:db.sqlite --on-error stop
    check "the database's message" contains "no such table: no_such_table"
    check "file and line of the statement" contains "statement failed at m.mig:21"
    check "step named" contains "step seed"
    check "first phase kept" test "$(q db.sqlite "SELECT count(*) FROM items")" = 0
    check "first phase tracked" test "$(q db.sqlite "SELECT count(*) FROM mig_applied")" = 2
    # fixed, the run resumes where it stopped
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    check "resumed with the second phase only" not_contains "schema.items"
    check "completed" test "$(q db.sqlite "SELECT count(*) FROM items")" = 2
}

t_false_require_changes_nothing() {
    cat > m.mig <<'MIG'
migration needs {
  require server_version() > 99999999 else "a SQLite from the future";
  step s { up sql { CREATE TABLE s (a INTEGER); } down sql { DROP TABLE s; } }
}
MIG
    sqlite3 db.sqlite "CREATE TABLE other (a INTEGER);"
    local before
    before=$(sqlite3 db.sqlite .schema)
    expect_exit 3 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    check "quotes the require" contains "a SQLite from the future"
    check "says nothing changed" contains "nothing was changed"
    check "database untouched" test "$(sqlite3 db.sqlite .schema)" = "$before"
}

t_params_are_data_not_sql() {
    cat > m.mig <<'MIG'
migration p {
  param label: string = "x";
  param tname: string = "plain";
  step make {
    up   sql { CREATE TABLE ${tname:ident} (v TEXT); INSERT INTO ${tname:ident} VALUES (${label}); }
    down sql { DROP TABLE ${tname:ident}; }
  }
}
MIG
    local evil="x'); DROP TABLE victim; --"
    local evil_name='we"ird; DROP TABLE victim'
    sqlite3 db.sqlite "CREATE TABLE victim (a INTEGER); INSERT INTO victim VALUES (1);"
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite -p "label=$evil" -p "p.tname=$evil_name"
    check "the victim survives" test "$(q db.sqlite "SELECT a FROM victim")" = 1
    check "the value landed as data" test "$(q db.sqlite "SELECT v FROM \"we\"\"ird; DROP TABLE victim\"")" = "$evil"
    expect_exit 0 "$MIGRUN" rollback --db sqlite:db.sqlite
    check "rollback used the same quoted name" test -z "$(q db.sqlite "SELECT name FROM sqlite_master WHERE name LIKE 'we%'")"
    check "the victim still survives" test "$(q db.sqlite "SELECT a FROM victim")" = 1
}

t_param_type_errors_are_usage() {
    cat > m.mig <<'MIG'
migration p {
  param n: int = 1;
  param on: bool = true;
  param wait: duration = 1s;
  step s { up sql { SELECT ${n}, ${on}, ${wait}; } down sql { SELECT 1; } }
}
MIG
    expect_exit 2 "$MIGRUN" apply m.mig --db sqlite:db.sqlite -p n=ten
    check "names the param and type" contains "is not an int"
    expect_exit 2 "$MIGRUN" apply m.mig --db sqlite:db.sqlite -p on=yes
    check "bool" contains "is not a bool"
    expect_exit 2 "$MIGRUN" apply m.mig --db sqlite:db.sqlite -p wait=soon
    check "duration" contains "is not a duration"
    expect_exit 2 "$MIGRUN" apply m.mig --db sqlite:db.sqlite -p nope=1
    check "unknown param" contains "no migration declares a param 'nope'"
    expect_exit 2 "$MIGRUN" apply m.mig --db sqlite:db.sqlite -p other.n=1
    check "unknown migration" contains "there is no migration 'other'"
    check "no database created by a usage error" test ! -e db.sqlite
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite -p n=5 -p p.on=false -p wait=2m
}

t_rollback_refuses_irreversible() {
    cat > m.mig <<'MIG'
migration a {
  step t { up sql { CREATE TABLE t (a INTEGER); } down sql { DROP TABLE t; } }
  step purge {
    up sql { DELETE FROM t; }
    down irreversible "deleted rows cannot come back";
  }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    local before
    before=$(sqlite3 db.sqlite .dump)
    expect_exit 3 "$MIGRUN" rollback --all --db sqlite:db.sqlite
    check "quotes the reason" contains "deleted rows cannot come back"
    check "nothing changed" test "$(sqlite3 db.sqlite .dump)" = "$before"
}

t_edited_applied_step_is_drift() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    sed -i 's/price INTEGER DEFAULT 0/price INTEGER DEFAULT 1/' m.mig
    cat >> m.mig <<'MIG'
migration later { after shop; step x { up sql { CREATE TABLE x (a INTEGER); } down sql { DROP TABLE x; } } }
MIG
    expect_exit 3 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    check "names the drifted step" contains "drift: step shop.schema.items_price"
    check "nothing else ran" test -z "$(q db.sqlite "SELECT name FROM sqlite_master WHERE name = 'x'")"
    expect_exit 0 "$MIGRUN" status m.mig --db sqlite:db.sqlite
    check "status shows drifted" contains "drifted  schema.items_price"
}

t_rollback_uses_journal_down_after_sources_change() {
    cat > m.mig <<'MIG'
migration j {
  param t: string = "first";
  step make { up sql { CREATE TABLE ${t:ident} (a INTEGER); } down sql { DROP TABLE ${t:ident}; } }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite -p t=chosen
    rm m.mig
    expect_exit 0 "$MIGRUN" rollback --db sqlite:db.sqlite
    check "the rendered down dropped the table the run created" \
        test -z "$(q db.sqlite "SELECT name FROM sqlite_master WHERE name = 'chosen'")"
    check "the journal kept the rendered down" \
        test "$(sqlite3 .migrun/journal.db "SELECT down_sql FROM entries WHERE action = 'applied'")" = ' DROP TABLE "chosen"; '
}

t_rollback_last_run_and_to() {
    for n in 1 2 3; do
        cat > m$n.mig <<MIG
migration m$n { $( [ $n -gt 1 ] && echo "after m$((n - 1));" )
  step s { up sql { CREATE TABLE t$n (a INTEGER); } down sql { DROP TABLE t$n; } } }
MIG
    done
    expect_exit 0 "$MIGRUN" apply m1.mig --db sqlite:db.sqlite
    expect_exit 0 "$MIGRUN" apply m1.mig m2.mig m3.mig --db sqlite:db.sqlite
    expect_exit 0 "$MIGRUN" rollback --db sqlite:db.sqlite
    check "last run undone (t2, t3)" test "$(q db.sqlite "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master WHERE name LIKE 't%' ORDER BY name)")" = t1
    expect_exit 0 "$MIGRUN" apply m1.mig m2.mig m3.mig --db sqlite:db.sqlite
    expect_exit 0 "$MIGRUN" rollback --to m1 --db sqlite:db.sqlite
    check "--to m1 keeps m1" test "$(q db.sqlite "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master WHERE name LIKE 't%' ORDER BY name)")" = t1
    expect_exit 2 "$MIGRUN" rollback --to nosuch --db sqlite:db.sqlite
}

t_apply_to_migration_and_phase() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite --to shop.schema
    check "schema phase only" test "$(q db.sqlite "SELECT count(*) FROM mig_applied")" = 2
    check "no seed yet" test "$(q db.sqlite "SELECT count(*) FROM items")" = 0
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    check "the rest" test "$(q db.sqlite "SELECT count(*) FROM items")" = 2
    expect_exit 2 "$MIGRUN" apply m.mig --db sqlite:db.sqlite --to shop.nophase
}

t_plan_is_read_only() {
    write_two_phase
    expect_exit 0 "$MIGRUN" plan m.mig --db sqlite:db.sqlite
    check "lists what would run" contains "would apply  schema.items"
    check "creates no database" test ! -e db.sqlite
    sqlite3 db.sqlite "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    local before
    before=$(sqlite3 db.sqlite .dump)
    expect_exit 0 "$MIGRUN" plan m.mig --db sqlite:db.sqlite
    check "database unchanged" test "$(sqlite3 db.sqlite .dump)" = "$before"
}

t_guarded_plan_shows_skips() {
    cat > m.mig <<'MIG'
import std;
migration g {
  step a { when not std.table_exists("t"); up sql { CREATE TABLE t (a INTEGER); } down sql { DROP TABLE t; } }
}
MIG
    sqlite3 db.sqlite "CREATE TABLE t (a INTEGER);"
    expect_exit 0 "$MIGRUN" plan m.mig --db sqlite:db.sqlite
    check "would skip" contains "would skip   main.a"
}

t_batch_runs_until_no_rows() {
    cat > m.mig <<'MIG'
migration b {
  phase prep {
    step t {
      up sql { CREATE TABLE t (id INTEGER PRIMARY KEY, done INTEGER DEFAULT 0);
               WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25) INSERT INTO t (id) SELECT i FROM n; }
      down sql { DROP TABLE t; }
    }
  }
  phase fill {
    transaction step;
    step chunks {
      batch;
      up sql { UPDATE t SET done = 1 WHERE id IN (SELECT id FROM t WHERE done = 0 LIMIT 10); }
      down sql { UPDATE t SET done = 0; }
    }
  }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    check "three iterations with rows, one without" contains "batch 4: 0 rows (25 so far"
    check "all done" test "$(q db.sqlite "SELECT sum(done) FROM t")" = 25
    expect_exit 0 "$MIGRUN" rollback --all --db sqlite:db.sqlite
    check "rolled back" test -z "$(q db.sqlite "SELECT name FROM sqlite_master WHERE name = 't'")"
}

t_bytecode_runs_like_sources() {
    write_two_phase
    expect_exit 0 "$MIGC" build m.mig -o plan.migb
    expect_exit 0 "$MIGRUN" apply plan.migb --db sqlite:db.sqlite
    check "applied from bytecode" test "$(q db.sqlite "SELECT count(*) FROM items")" = 2
    expect_exit 0 "$MIGRUN" status plan.migb --db sqlite:db.sqlite
    check "status from bytecode" contains "applied  shop"
    printf 'garbage' > bad.migb
    expect_exit 2 "$MIGRUN" apply bad.migb --db sqlite:db.sqlite
    check "corrupt bytecode is a clear error" contains "bad.migb"
}

t_json_events() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite --json
    check "every line is JSON" python3 -c '
import json, sys
lines = [l for l in sys.stdin.read().splitlines() if l.strip()]
assert lines, "no output"
events = [json.loads(l) for l in lines]
steps = [e for e in events if e["event"] == "step"]
assert len(steps) == 3 and all(e["outcome"] == "applied" for e in steps), steps
assert events[-1]["event"] == "done"
' <<<"$OUT"
}

t_usage_and_environment_errors() {
    write_two_phase
    expect_exit 2 "$MIGRUN" apply m.mig --db mysql://x
    check "bad url named" contains "unsupported database URL"
    expect_exit 2 "$MIGRUN" apply m.mig
    check "no db" contains "no database"
    MIGRUN_DB=sqlite:env.sqlite expect_exit 0 "$MIGRUN" apply m.mig
    check "MIGRUN_DB honoured" test -f env.sqlite
    expect_exit 3 "$MIGRUN" apply m.mig --db sqlite:/nonexistent/dir/db.sqlite
    check "cannot open named" contains "/nonexistent/dir/db.sqlite"
    expect_exit 2 "$MIGRUN" apply nope.mig --db sqlite:db.sqlite
    expect_exit 2 "$MIGRUN" frobnicate
    expect_exit 2 "$MIGRUN" apply m.mig --db sqlite:db.sqlite --bogus
    echo 'migration broken {' > broken.mig
    expect_exit 2 "$MIGRUN" apply broken.mig --db sqlite:db.sqlite
    check "compile errors shown" contains "broken.mig:1"
}

t_journal_location() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite --journal j/custom.db
    check "--journal" test -f j/custom.db
    check "the default is not used" test ! -e .migrun
    MIGRUN_JOURNAL=env-journal.db expect_exit 0 "$MIGRUN" log --db sqlite:db.sqlite
    check "MIGRUN_JOURNAL used" test -f env-journal.db
    expect_exit 0 "$MIGRUN" log --db sqlite:db.sqlite --journal j/custom.db
    check "log lists the run" contains "run 1  apply"
    check "WAL journal" test "$(sqlite3 j/custom.db 'PRAGMA journal_mode')" = wal
}

t_transaction_modes() {
    cat > m.mig <<'MIG'
migration modes {
  phase per_step {
    transaction step;
    step a { up sql { CREATE TABLE a (x INTEGER); } down sql { DROP TABLE a; } }
    step b { up sql { CREATE TABLE b (x INTEGER); } down sql { DROP TABLE b; } }
  }
  phase autocommit {
    transaction none;
    step c { up sql { CREATE TABLE c (x INTEGER); } down sql { DROP TABLE c; } }
    step bad { up sql { INSERT INTO nowhere VALUES (1); } down sql { SELECT 1; } }
  }
}
MIG
    expect_exit 1 "$MIGRUN" apply m.mig --db sqlite:db.sqlite --on-error stop
    check "committed steps kept" test "$(q db.sqlite "SELECT count(*) FROM sqlite_master WHERE name IN ('a','b','c')")" = 3
    expect_exit 0 "$MIGRUN" rollback --db sqlite:db.sqlite
    check "all undone" test "$(q db.sqlite "SELECT count(*) FROM sqlite_master WHERE name IN ('a','b','c')")" = 0
    expect_exit 1 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    check "default undoes step and none modes too" test "$(q db.sqlite "SELECT count(*) FROM sqlite_master WHERE name IN ('a','b','c')")" = 0
}

t_samples_apply_and_roll_back() {
    local S=$TOP_SRCDIR/samples
    local before
    sqlite3 db.sqlite "CREATE TABLE unrelated (a INTEGER);"
    before=$(schema db.sqlite)
    expect_exit 0 "$MIGRUN" apply "$S/keiko-v1-base.mig" "$S/keiko-v2.mig" "$S/kaizen-billing-base.mig" \
        "$S/kaizen-external-agents.mig" --db sqlite:db.sqlite
    check "keiko v2 columns" test "$(q db.sqlite "SELECT count(*) FROM pragma_table_info('users') WHERE name IN ('role','preferences','last_login')")" = 3
    check "external agents" test "$(q db.sqlite "SELECT count(*) FROM sqlite_master WHERE name = 'external_agents'")" = 1
    expect_exit 0 "$MIGRUN" rollback --all --db sqlite:db.sqlite
    check "schema restored" test "$(schema db.sqlite)" = "$before"
    expect_exit 3 "$MIGRUN" apply "$S/trusted-login-legacy-import.mig" --db sqlite:db.sqlite
    check "a postgres-only migration is refused on sqlite" contains "does not target sqlite"
}

t_lost_journal_falls_back_to_sources() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    rm -rf .migrun
    expect_exit 3 "$MIGRUN" rollback --all --db sqlite:db.sqlite
    check "refuses without sources" contains "has no record of 3 applied steps"
    check "nothing changed" test "$(q db.sqlite "SELECT count(*) FROM items")" = 2
    expect_exit 0 "$MIGRUN" rollback --all --db sqlite:db.sqlite m.mig
    check "says it used the sources" contains "using the down of the current sources"
    check "rolled back" test -z "$(q db.sqlite "SELECT name FROM sqlite_master WHERE name = 'items'")"
}

t_reconciles_pending_entries() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    # as if killed after the target committed but before the journal said so
    sqlite3 .migrun/journal.db "UPDATE entries SET state = 'pending'; UPDATE runs SET outcome = 'running'"
    # and an entry whose target transaction never committed
    sqlite3 .migrun/journal.db "INSERT INTO entries (run_id, uid, migration, phase, step, action, state, txn,
        recorded_at) VALUES (1, 'deadbeef', 'shop', 'data', 'ghost', 'applied', 'pending', 'phase', 'now')"
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite
    check "explains the recovery" contains "recovered an interrupted run: 3 journal entries committed with the database, 1 rolled back"
    check "committed entries done" test "$(sqlite3 .migrun/journal.db "SELECT count(*) FROM entries WHERE state = 'done'")" = 3
    check "the ghost aborted" test "$(sqlite3 .migrun/journal.db "SELECT state FROM entries WHERE uid = 'deadbeef'")" = aborted
    check "the run is marked interrupted" test "$(sqlite3 .migrun/journal.db "SELECT outcome FROM runs WHERE id = 1")" = interrupted
    expect_exit 0 "$MIGRUN" rollback --db sqlite:db.sqlite
    check "rollback still exact" test -z "$(q db.sqlite "SELECT name FROM sqlite_master WHERE name = 'items'")"
}

t_concurrent_runner_waits_then_gives_up() {
    write_two_phase
    sqlite3 db.sqlite "SELECT 1" >/dev/null
    # hold the lock file as a running migrun would
    exec 9>"$(readlink -f db.sqlite)-miglock"
    flock 9
    expect_exit 3 "$MIGRUN" apply m.mig --db sqlite:db.sqlite --lock-wait 300ms
    check "names the lock" contains "another migrun holds the lock"
    exec 9>&-
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite --lock-wait 300ms
}

t_trace_prints_instructions() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite --trace
    check "UP traced with its source line" contains "UP           0  [m.mig:9]"
    check "a guard's query traced" contains "EXISTS"
}

t_status_json() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db sqlite:db.sqlite --to shop.schema
    expect_exit 0 "$MIGRUN" status m.mig --db sqlite:db.sqlite --json
    check "partial migration, pending step" python3 -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin.read().splitlines() if l.strip()]
mig = [e for e in ev if e["event"] == "migration"][0]
assert mig["status"] == "partial" and mig["applied"] == 2, mig
steps = {e["step"]: e["status"] for e in ev if e["event"] == "step"}
assert steps == {"items": "applied", "items_price": "applied", "seed": "pending"}, steps
' <<<"$OUT"
}

for t in $(declare -F | awk '{print $3}' | grep '^t_'); do
    run_case "$t"
done
finish
