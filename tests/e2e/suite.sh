#!/usr/bin/env bash
# suite.sh — end-to-end runs of the real migc and migrun against a real
# database (DIALECT=sqlite: SQLite files; DIALECT=postgres: the server of
# pg_virtualenv), checking the database afterwards. sqlite.sh and
# postgres.sh run it; cases named pg_* run on PostgreSQL only.
. "$(dirname "$0")/lib.sh"

write_two_phase() {
    cat > m.mig <<'MIG'
import std;

migration shop "a shop" {
  target postgres, sqlite;
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
      up   sql { INSERT INTO items (id, name, price) VALUES (1, ${greeting}, 1), (2, 'b', 2); }
      down sql { DELETE FROM items WHERE name IN (${greeting}, 'b'); }
    }
    assert scalar sql { SELECT count(*) FROM items } == 2 else "two items";
  }
}
MIG
}

t_apply_reapply_rollback_restores_schema() {
    write_two_phase
    q "CREATE TABLE keep_me (x INTEGER); INSERT INTO keep_me VALUES (7);"
    local before
    before=$(schema)
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "applied lines" contains "applied      schema.items"
    check "items exist" test "$(q "SELECT count(*) FROM items")" = 2
    check "seeded with the param" test "$(q "SELECT name FROM items WHERE price = 1")" = hello
    check "tracking rows" test "$(q "SELECT count(*) FROM mig_applied WHERE status = 'applied'")" = 3
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "re-apply says so" contains "nothing to do"
    check "re-apply changes nothing" test "$(q "SELECT count(*) FROM items")" = 2
    expect_exit 0 "$MIGRUN" rollback --all --db $URL
    check "schema exactly as before" test "$(schema)" = "$before"
    check "other data untouched" test "$(q "SELECT x FROM keep_me")" = 7
    check "tracking emptied" test "$(q "SELECT count(*) FROM mig_applied")" = 0
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "applies again after rollback" test "$(q "SELECT count(*) FROM items")" = 2
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
    q "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (42);"
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "the guard skipped" contains "skipped      main.make_t"
    check "skip recorded" test "$(q "SELECT status FROM mig_applied WHERE step = 'make_t'")" = skipped
    expect_exit 0 "$MIGRUN" status m.mig --db $URL
    check "status shows skipped" contains "skipped  main.make_t"
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "u undone" test "$(has_table u)" = 0
    check "the skipped step's table survives with its data" test "$(q "SELECT a FROM t")" = 42
}

t_failure_in_second_phase_rolls_back_everything() {
    write_two_phase
    sed -i "s/(2, 'b', 2)/(2, 'b', 2), (3, 'c', 3)/" m.mig     # the assert now fails
    local before
    before=$(schema 2>/dev/null)
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL
    check "names the assert" contains "assert failed: two items"
    check "names the migration and phase" contains "migration shop, phase data"
    check "says it undid" contains "rolled back"
    check "schema as before" test "$(schema)" = "$before"
    check "nothing tracked" test "$(q "SELECT count(*) FROM mig_applied")" = 0
}

# A run forgets the session rows of each migration it finished (a run of N
# migrations holds one migration's rows: session.h row_arena); what it
# finished must still count: the run is "failed", not "rolled_back", the
# finished migrations stay recorded, and `rollback` (the last run) undoes
# them from the target's rows.
t_failure_after_finished_migrations_keeps_them() {
    cat > m.mig <<'MIG'
migration a {
  step t { up sql { CREATE TABLE a_t (x integer); } down sql { DROP TABLE a_t; } }
  step seed { up sql { INSERT INTO a_t VALUES (1); } down sql { DELETE FROM a_t; } }
}
migration b {
  after a;
  step skip_me { when false; up sql { CREATE TABLE never (x integer); } down sql { DROP TABLE never; } }
  step t { up sql { CREATE TABLE b_t (x integer); } down sql { DROP TABLE b_t; } }
}
migration c {
  after b;
  step t { up sql { CREATE TABLE c_t (x integer); } down sql { DROP TABLE c_t; } }
  phase more {
    step bad { up sql { INSERT INTO no_such_table VALUES (1); } down sql { SELECT 1; } }
  }
}
MIG
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL
    check "c undone" contains "rolled back: c is as it was before this run"
    check "a and b stay" test "$(has_table a_t)$(has_table b_t)$(has_table c_t)" = 110
    check "their rows stay (b's skip too)" test "$(q "SELECT count(*) FROM mig_applied")" = 4
    check "the run failed (it left a and b)" test "$(q "SELECT outcome FROM mig_runs ORDER BY run DESC LIMIT 1")" = failed
    expect_exit 0 "$MIGRUN" status m.mig --db $URL
    check "a applied" contains "applied  a  (2 steps: 2 applied, 0 skipped)"
    check "b applied, its skip kept" contains "applied  b  (2 steps: 1 applied, 1 skipped)"
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --to b
    check "nothing left to do up to b" contains "nothing to do"
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "rollback of the failed run undid a and b" test "$(has_table a_t)$(has_table b_t)" = 00
    check "nothing tracked" test "$(q "SELECT count(*) FROM mig_applied")" = 0
}

t_failure_with_on_error_stop_keeps_first_phase() {
    write_two_phase
    sed -i "s/INSERT INTO items (id, name, price)/INSERT INTO no_such_table (id, name, price)/" m.mig
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --on-error stop
    check "the database's message" contains "no_such_table"
    check "file and line of the statement" contains "statement failed at m.mig:21"
    check "step named" contains "step seed"
    check "first phase kept" test "$(q "SELECT count(*) FROM items")" = 0
    check "first phase tracked" test "$(q "SELECT count(*) FROM mig_applied")" = 2
    # fixed, the run resumes where it stopped
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "resumed with the second phase only" not_contains "schema.items"
    check "completed" test "$(q "SELECT count(*) FROM items")" = 2
}

t_false_require_changes_nothing() {
    cat > m.mig <<'MIG'
migration needs {
  require server_version() > 99999999 else "a SQLite from the future";
  step s { up sql { CREATE TABLE s (a INTEGER); } down sql { DROP TABLE s; } }
}
MIG
    q "CREATE TABLE other (a INTEGER);"
    local before
    before=$(snapshot)
    expect_exit 3 "$MIGRUN" apply m.mig --db $URL
    check "quotes the require" contains "a SQLite from the future"
    check "says nothing changed" contains "nothing was changed"
    check "database untouched" test "$(snapshot)" = "$before"
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
    q "CREATE TABLE victim (a INTEGER); INSERT INTO victim VALUES (1);"
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL -p "label=$evil" -p "p.tname=$evil_name"
    check "the victim survives" test "$(q "SELECT a FROM victim")" = 1
    check "the value landed as data" test "$(q "SELECT v FROM \"we\"\"ird; DROP TABLE victim\"")" = "$evil"
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "rollback used the same quoted name" test "$(has_table 'we"ird; DROP TABLE victim')" = 0
    check "the victim still survives" test "$(q "SELECT a FROM victim")" = 1
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
    expect_exit 2 "$MIGRUN" apply m.mig --db $URL -p n=ten
    check "names the param and type" contains "is not an int"
    expect_exit 2 "$MIGRUN" apply m.mig --db $URL -p on=yes
    check "bool" contains "is not a bool"
    expect_exit 2 "$MIGRUN" apply m.mig --db $URL -p wait=soon
    check "duration" contains "is not a duration"
    expect_exit 2 "$MIGRUN" apply m.mig --db $URL -p nope=1
    check "unknown param" contains "no migration declares a param 'nope'"
    expect_exit 2 "$MIGRUN" apply m.mig --db $URL -p other.n=1
    check "unknown migration" contains "there is no migration 'other'"
    check "nothing created by a usage error" db_untouched
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL -p n=5 -p p.on=false -p wait=2m
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
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    local before
    before=$(snapshot)
    expect_exit 3 "$MIGRUN" rollback --all --db $URL
    check "quotes the reason" contains "deleted rows cannot come back"
    check "nothing changed" test "$(snapshot)" = "$before"
}

t_edited_applied_step_is_drift() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    sed -i 's/price INTEGER DEFAULT 0/price INTEGER DEFAULT 1/' m.mig
    cat >> m.mig <<'MIG'
migration later { after shop; step x { up sql { CREATE TABLE x (a INTEGER); } down sql { DROP TABLE x; } } }
MIG
    expect_exit 3 "$MIGRUN" apply m.mig --db $URL
    check "names the drifted step" contains "drift: step shop.schema.items_price"
    check "nothing else ran" test "$(has_table x)" = 0
    expect_exit 0 "$MIGRUN" status m.mig --db $URL
    check "status shows drifted" contains "drifted  schema.items_price"
}

t_rollback_uses_journal_down_after_sources_change() {
    cat > m.mig <<'MIG'
migration j {
  param t: string = "first";
  step make { up sql { CREATE TABLE ${t:ident} (a INTEGER); } down sql { DROP TABLE ${t:ident}; } }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL -p t=chosen
    rm m.mig
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "the rendered down dropped the table the run created" \
        test "$(has_table chosen)" = 0
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
    expect_exit 0 "$MIGRUN" apply m1.mig --db $URL
    expect_exit 0 "$MIGRUN" apply m1.mig m2.mig m3.mig --db $URL
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "last run undone (t2, t3)" test "$(has_table t1)$(has_table t2)$(has_table t3)" = 100
    expect_exit 0 "$MIGRUN" apply m1.mig m2.mig m3.mig --db $URL
    expect_exit 0 "$MIGRUN" rollback --to m1 --db $URL
    check "--to m1 keeps m1" test "$(has_table t1)$(has_table t2)$(has_table t3)" = 100
    expect_exit 2 "$MIGRUN" rollback --to nosuch --db $URL
}

t_apply_to_migration_and_phase() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --to shop.schema
    check "schema phase only" test "$(q "SELECT count(*) FROM mig_applied")" = 2
    check "no seed yet" test "$(q "SELECT count(*) FROM items")" = 0
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "the rest" test "$(q "SELECT count(*) FROM items")" = 2
    expect_exit 2 "$MIGRUN" apply m.mig --db $URL --to shop.nophase
}

t_plan_is_read_only() {
    write_two_phase
    expect_exit 0 "$MIGRUN" plan m.mig --db $URL
    check "lists what would run" contains "would apply  schema.items"
    check "creates nothing" db_untouched
    q "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    local before
    before=$(snapshot)
    expect_exit 0 "$MIGRUN" plan m.mig --db $URL
    check "database unchanged" test "$(snapshot)" = "$before"
}

t_guarded_plan_shows_skips() {
    cat > m.mig <<'MIG'
import std;
migration g {
  step a { when not std.table_exists("t"); up sql { CREATE TABLE t (a INTEGER); } down sql { DROP TABLE t; } }
}
MIG
    q "CREATE TABLE t (a INTEGER);"
    expect_exit 0 "$MIGRUN" plan m.mig --db $URL
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
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "three iterations with rows, one without" contains "batch 4: 0 rows (25 so far"
    check "all done" test "$(q "SELECT sum(done) FROM t")" = 25
    expect_exit 0 "$MIGRUN" rollback --all --db $URL
    check "rolled back" test "$(has_table t)" = 0
}

t_bytecode_runs_like_sources() {
    write_two_phase
    expect_exit 0 "$MIGC" build m.mig -o plan.migb
    expect_exit 0 "$MIGRUN" apply plan.migb --db $URL
    check "applied from bytecode" test "$(q "SELECT count(*) FROM items")" = 2
    expect_exit 0 "$MIGRUN" status plan.migb --db $URL
    check "status from bytecode" contains "applied  shop"
    printf 'garbage' > bad.migb
    expect_exit 2 "$MIGRUN" apply bad.migb --db $URL
    check "corrupt bytecode is a clear error" contains "bad.migb"
}

t_json_events() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --json
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
    expect_exit 2 env -u PGHOST -u PGDATABASE -u PGSERVICE -u MIGRUN_DB "$MIGRUN" apply m.mig
    check "no db" contains "no database"
    MIGRUN_DB=$URL expect_exit 0 "$MIGRUN" apply m.mig
    check "MIGRUN_DB honoured" test "$(has_table items)" = 1
    if [ "$DIALECT" = postgres ]; then
        expect_exit 3 "$MIGRUN" apply m.mig --db "postgresql://migrun_nobody:s3cr3t-pw@localhost:1/nope"
        check "cannot connect named" contains "cannot connect to postgresql://migrun_nobody:***@localhost:1/nope"
        check "the password is never printed" not_contains "s3cr3t-pw"
    else
        expect_exit 3 "$MIGRUN" apply m.mig --db sqlite:/nonexistent/dir/db.sqlite
        check "cannot open named" contains "/nonexistent/dir/db.sqlite"
    fi
    expect_exit 2 "$MIGRUN" apply nope.mig --db $URL
    expect_exit 2 "$MIGRUN" frobnicate
    expect_exit 2 "$MIGRUN" apply m.mig --db $URL --bogus
    echo 'migration broken {' > broken.mig
    expect_exit 2 "$MIGRUN" apply broken.mig --db $URL
    check "compile errors shown" contains "broken.mig:1"
}

t_journal_location() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --journal j/custom.db
    check "--journal" test -f j/custom.db
    check "the default is not used" test ! -e .migrun
    MIGRUN_JOURNAL=env-journal.db expect_exit 0 "$MIGRUN" log --db $URL
    check "log creates no journal" test ! -e env-journal.db
    check "and says there is none, listing the target's runs" contains "run 1  apply"
    MIGRUN_JOURNAL=env-journal.db expect_exit 0 "$MIGRUN" rollback --db $URL
    check "MIGRUN_JOURNAL used" test -f env-journal.db
    MIGRUN_JOURNAL=env-journal.db expect_exit 0 "$MIGRUN" log --db $URL
    check "the rollback is run 2 of the target" contains "run 2  rollback"
    check "and run 1 was copied from the target" contains "run 1  apply"
    expect_exit 0 "$MIGRUN" log --db $URL --journal j/custom.db
    check "log lists the run" contains "run 1  apply"
    check "WAL journal" test "$(sqlite3 j/custom.db 'PRAGMA journal_mode')" = wal
}

t_journal_equal_to_target_refused() {
    [ "$DIALECT" = sqlite ] || return 0
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    expect_exit 2 "$MIGRUN" rollback --db $URL --journal ./db.sqlite
    check "names the mistake" contains "is the target database itself"
    check "nothing undone" test "$(q "SELECT count(*) FROM items")" = 2
}

t_body_ending_the_transaction_exits_4() {
    cat > m.mig <<'MIG'
migration sneaky {
  param stmt: string = "COMMIT";
  phase p {
    lock_timeout 5s;
    step a { up sql { CREATE TABLE a (x integer); ${stmt:raw}; } down sql { DROP TABLE a; } }
    step b { up sql { CREATE TABLE b (x integer); } down sql { DROP TABLE b; } }
  }
}
MIG
    expect_exit 4 "$MIGRUN" apply m.mig --db $URL
    check "names the step and why" contains "the body of step a ended mig's transaction"
    check "never claims the database is as before" not_contains "as before"
}

t_sixteen_parallel_runners_all_finish() {
    [ "$DIALECT" = sqlite ] || return 0
    write_two_phase
    local pids=() i rc bad=0
    for i in $(seq 1 16); do
        "$MIGRUN" apply m.mig --db $URL --lock-wait 60s >"r$i.out" 2>&1 &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}"; rc=$?
        [ "$rc" = 0 ] || { bad=$((bad + 1)); sed 's/^/      | /' "r$((i + 1)).out" | head -5; }
    done
    check "every runner waited and finished (none died of 'database is locked')" test "$bad" = 0
    check "applied exactly once" test "$(q "SELECT count(*) FROM items")" = 2
    check "one run recorded" test "$(q "SELECT count(*) FROM mig_runs")" = 1
}

t_sqlite_lock_wait_bounds_the_write_lock() {
    [ "$DIALECT" = sqlite ] || return 0
    write_two_phase
    q "CREATE TABLE other (x integer)"
    # another connection (an application) holds the write lock for a while
    python3 -c "
import sqlite3, time
c = sqlite3.connect('db.sqlite', isolation_level=None)
c.execute('BEGIN IMMEDIATE'); c.execute('INSERT INTO other VALUES (1)')
open('locked', 'w').close(); time.sleep(4); c.execute('COMMIT')" &
    local holder=$!
    for _ in $(seq 1 50); do [ -e locked ] && break; sleep 0.1; done
    local t0 t1
    t0=$(date +%s%N)
    expect_exit 3 "$MIGRUN" apply m.mig --db $URL --lock-wait 300ms
    t1=$(date +%s%N)
    check "gave up after --lock-wait, not at once and not after the holder" test $(( (t1 - t0) / 1000000 )) -lt 2500
    check "says the database is locked" contains "locked"
    check "nothing applied" test "$(has_table items)" = 0
    wait "$holder"
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --lock-wait 300ms
}

t_tracking_table_of_an_older_migrun() {
    [ "$DIALECT" = sqlite ] || return 0
    cat > m.mig <<'MIG'
migration old {
  step a { up sql { CREATE TABLE a (x integer); } down sql { DROP TABLE a; } }
}
migration newer {
  after old;
  step b { up sql { CREATE TABLE b (x integer); } down sql { DROP TABLE b; } }
}
MIG
    # what migrun 0.1 left: its seven columns, no runs, no identity, no journal
    q "CREATE TABLE a (x integer);
       CREATE TABLE mig_applied (migration TEXT NOT NULL, phase TEXT NOT NULL, step TEXT NOT NULL, status TEXT NOT NULL,
         checksum TEXT, entry_uid TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (migration, phase, step));
       INSERT INTO mig_applied VALUES ('old', 'main', 'a', 'applied', NULL, 'u1', '2026-01-01T00:00:00Z')"
    expect_exit 3 "$MIGRUN" rollback --all --db $URL
    check "no down is known for the old row: refused, naming it" contains "recorded by an older migrun"
    check "nothing changed" test "$(has_table a)" = 1
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "the old step counts as applied" not_contains "main.a"
    check "the new step applied" test "$(has_table b)" = 1
    check "the table gained the undo columns" test "$(q "SELECT count(*) FROM pragma_table_info('mig_applied') WHERE name IN ('seq', 'down_sql', 'down_kind')")" = 3
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "the new run rolls back from the target" test "$(has_table b)" = 0
    check "the old table stays" test "$(has_table a)" = 1
}

# The statements that find one tracking row (rollback's DELETE, mark
# --pending, repair, a transaction-none step's `applied` mark) find it by its
# key on both layouts of a SQLite mig_applied: this migrun's (no index on
# entry_uid: every b-tree of the table costs each apply transaction a page
# and its rollback-journal copy) and the one before (mig_applied_uid), which
# keeps its index.
t_tracking_layouts_without_and_with_the_uid_index() {
    [ "$DIALECT" = sqlite ] || return 0
    cat > m.mig <<'MIG'
migration one {
  step a { up sql { CREATE TABLE a (x integer); } down sql { DROP TABLE a; } }
  step b { up sql { CREATE TABLE b (x integer); } down sql { DROP TABLE b; } }
}
migration two {
  after one;
  phase slow {
    transaction none;
    step c { up sql { CREATE TABLE c (x integer); } down sql { DROP TABLE c; } }
  }
  phase quick {
    step d { up sql { CREATE TABLE d (x integer); } down sql { DROP TABLE d; } }
  }
}
MIG
    local layout
    for layout in new previous; do
        rm -rf db.sqlite db.sqlite-* .migrun
        expect_exit 0 "$MIGRUN" apply m.mig --db $URL --to one
        check "$layout: a new target's mig_applied is two b-trees, the table and its primary key" \
            test "$(q "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE tbl_name = 'mig_applied' ORDER BY name)")" = "mig_applied sqlite_autoindex_mig_applied_1"
        if [ $layout = previous ]; then
            # what the migrun before this one made: the same table and an index on entry_uid
            q "CREATE UNIQUE INDEX mig_applied_uid ON mig_applied (entry_uid)"
        fi
        expect_exit 0 "$MIGRUN" apply m.mig --db $URL
        check "$layout: applied" test "$(q "SELECT group_concat(step || '=' || status, ' ') FROM (SELECT step, status FROM mig_applied ORDER BY seq)")" = "a=applied b=applied c=applied d=applied"
        check "$layout: the index is kept, none is added" test "$(q "SELECT count(*) FROM sqlite_master WHERE name = 'mig_applied_uid'")" = "$([ $layout = previous ] && echo 1 || echo 0)"
        sed -i 's/CREATE TABLE b (x integer)/CREATE TABLE b (x integer, y integer)/' m.mig
        expect_exit 0 "$MIGRUN" repair m.mig --db $URL --accept one.main.b --reason "edited"
        check "$layout: repair rewrote b's checksum only" test "$(q "SELECT count(DISTINCT checksum) FROM mig_applied WHERE step = 'b'") $(q "SELECT count(*) FROM mig_applied")" = "1 4"
        expect_exit 0 "$MIGRUN" apply m.mig --db $URL
        check "$layout: no drift after the repair" contains "nothing to do"
        expect_exit 0 "$MIGRUN" mark two.quick --pending --db $URL --reason "by hand"
        check "$layout: mark --pending removed d's row only" test "$(q "SELECT group_concat(step, ' ') FROM (SELECT step FROM mig_applied ORDER BY seq)")" = "a b c"
        q "DROP TABLE d"
        expect_exit 0 "$MIGRUN" apply m.mig --db $URL
        check "$layout: d applied again" test "$(has_table d)" = 1
        expect_exit 0 "$MIGRUN" status m.mig --db $URL
        check "$layout: status reads the rows" contains "two"
        expect_exit 0 "$MIGRUN" rollback --all --db $URL
        check "$layout: every row removed" test "$(q "SELECT count(*) FROM mig_applied")" = 0
        check "$layout: every table dropped" test "$(has_table a)$(has_table b)$(has_table c)$(has_table d)" = 0000
        sed -i 's/CREATE TABLE b (x integer, y integer)/CREATE TABLE b (x integer)/' m.mig
    done
}

t_exec_steps_need_allow_exec_and_undo() {
    cat > m.mig <<'MIG'
migration ops {
  param who: string = "x; rm -rf /tmp/nothing";
  phase prepare {
    transaction step;
    step marker {
      up   exec ["sh", "-c", "echo up \"$1\" >> calls.log; echo hello", "sh", who];
      down exec ["sh", "-c", "echo down >> calls.log"];
    }
    step note {
      up   exec ["true"];
      down none "nothing to undo";
    }
  }
  phase schema {
    step t { up sql { CREATE TABLE t (x integer); } down sql { DROP TABLE t; } }
  }
  phase check {
    transaction none;
    assert exec ["test", "-f", "calls.log"] else "the marker ran";
  }
}
MIG
    expect_exit 3 "$MIGRUN" apply m.mig --db $URL
    check "lists the commands" contains "this plan runs a command"
    check "says how to allow them" contains "--allow-exec"
    check "nothing ran" test ! -e calls.log
    expect_exit 0 "$MIGRUN" plan m.mig --db $URL
    check "plan shows the rendered command" contains "runs sh -c"
    check "plan ran nothing" test ! -e calls.log
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "the command's output is shown" contains "| hello"
    check "the param arrived as one argument, not interpreted" test "$(cat calls.log)" = "up x; rm -rf /tmp/nothing"
    check "recorded with its rendered down" test "$(q "SELECT down_kind FROM mig_applied WHERE step = 'marker'")" = exec
    expect_exit 3 "$MIGRUN" rollback --db $URL
    check "rollback refuses the command down without --allow-exec" contains "runs a command"
    MIGRUN_ALLOW_EXEC=1 expect_exit 0 "$MIGRUN" rollback --db $URL
    check "the down command ran, after the SQL step's" test "$(tail -n 1 calls.log)" = down
    check "the table is gone" test "$(has_table t)" = 0
    check "nothing tracked" test "$(q "SELECT count(*) FROM mig_applied")" = 0
}

t_failing_command_fails_the_step_and_undoes() {
    cat > m.mig <<'MIG'
migration ops {
  phase first {
    transaction step;
    step marker {
      up   exec ["sh", "-c", "echo up >> calls.log"];
      down exec ["sh", "-c", "echo down >> calls.log"];
    }
  }
  phase second {
    transaction step;
    step slow { up exec ["sleep", "5"] timeout 300ms; down none "nothing"; }
  }
}
MIG
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "names the timeout" contains "timed out after 300ms"
    check "the first step's down ran" test "$(cat calls.log | tr '\n' ' ')" = "up down "
    check "rolled back cleanly" contains "rolled back"
    check "nothing tracked" test "$(q "SELECT count(*) FROM mig_applied")" = 0
    sed -i 's/\["sleep", "5"\] timeout 300ms/["no-such-program-mig"]/' m.mig
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "a program that cannot start is named" contains "cannot start no-such-program-mig"
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
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --on-error stop
    check "committed steps kept" test "$(has_table a)$(has_table b)$(has_table c)" = 111
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "all undone" test "$(has_table a)$(has_table b)$(has_table c)" = 000
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL
    check "default undoes step and none modes too" test "$(has_table a)$(has_table b)$(has_table c)" = 000
}

t_samples_apply_and_roll_back() {
    local S=$TOP_SRCDIR/samples
    # the database part of the guides; the full upgrades beside them
    # (*-upgrade.mig, kato-v2-rollout.mig) run commands: tests/e2e/guides.sh
    local db_only=("$S/keiko-v1-base.mig" "$S/keiko-v2.mig" "$S/kaizen-billing-base.mig" "$S/kaizen-external-agents.mig")
    local before
    q "CREATE TABLE unrelated (a INTEGER);"
    before=$(schema)
    expect_exit 3 "$MIGRUN" apply "$S" --db $URL
    check "the whole folder is refused before any change" test "$(has_table mig_applied)" = 0
    if [ "$DIALECT" = postgres ]; then
        check "the full upgrades run commands: they need --allow-exec" contains "--allow-exec"
        # every database-only sample, the Keiko SQL exactly as its guide writes it
        expect_exit 0 "$MIGRUN" apply "${db_only[@]}" "$S/trusted-login-legacy-import.mig" --db $URL
        check "JSONB default" test "$(q "SELECT column_default FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'preferences'")" = "'{}'::jsonb"
        check "GIN index" contains "applied      indexes.idx_agents_capabilities"
        check "GIN index exists" test "$(q "SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_agents_capabilities' AND indexdef LIKE '%USING gin%'")" = 1
        check "gen_random_uuid default" test "$(q "SELECT column_default FROM information_schema.columns WHERE table_name = 'mcp_servers' AND column_name = 'id'")" = "gen_random_uuid()"
        check "auth.users" test "$(q "SELECT count(*) FROM pg_tables WHERE schemaname = 'auth' AND tablename = 'users'")" = 1
        check "concurrent indexes valid" test "$(q "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'idx_invocation_lineage_%' AND i.indisvalid")" = 3
    else
        expect_exit 0 "$MIGRUN" apply "${db_only[@]}" --db $URL
        expect_exit 3 "$MIGRUN" apply "$S/trusted-login-legacy-import.mig" --db $URL
        check "a postgres-only migration is refused on sqlite" contains "does not target sqlite"
    fi
    check "keiko v2 columns" q "SELECT role, preferences, last_login FROM users WHERE 1 = 0"
    check "external agents" test "$(has_table external_agents)" = 1
    expect_exit 0 "$MIGRUN" rollback --all --db $URL
    check "schema restored" test "$(schema)" = "$before"
}

t_lost_journal_rolls_back_from_the_target() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL -p greeting=hi
    rm -rf .migrun
    # sources that changed since, with another default, change nothing
    sed -i 's/"hello"/"other"/' m.mig
    expect_exit 0 "$MIGRUN" rollback --all --db $URL m.mig
    check "the journal is re-synchronised from the target" contains "copied from the target"
    check "rolled back" test "$(has_table items)" = 0
    check "nothing left tracked" test "$(q "SELECT count(*) FROM mig_applied")" = 0
    expect_exit 0 "$MIGRUN" log --db $URL
    check "the log knows the apply again" contains "run 1  apply"
}

t_reconciles_pending_entries() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    # as if killed after the target committed but before the journal said so
    sqlite3 .migrun/journal.db "UPDATE entries SET state = 'pending'; UPDATE runs SET outcome = 'running'"
    # and an entry whose target transaction never committed
    sqlite3 .migrun/journal.db "INSERT INTO entries (run_id, uid, migration, phase, step, action, state, txn,
        recorded_at) VALUES (1, 'deadbeef', 'shop', 'data', 'ghost', 'applied', 'pending', 'phase', 'now')"
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "explains the recovery" contains "an earlier run was interrupted: of its journal entries, 3 committed with the database, 1 were rolled back"
    check "committed entries done" test "$(sqlite3 .migrun/journal.db "SELECT count(*) FROM entries WHERE state = 'done'")" = 3
    check "the ghost aborted" test "$(sqlite3 .migrun/journal.db "SELECT state FROM entries WHERE uid = 'deadbeef'")" = aborted
    check "the run is marked interrupted" test "$(sqlite3 .migrun/journal.db "SELECT outcome FROM runs WHERE id = 1")" = interrupted
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "rollback still exact" test "$(has_table items)" = 0
}

t_concurrent_runner_waits_then_gives_up() {
    write_two_phase
    q "SELECT 1" >/dev/null
    # hold the lock as a running migrun would
    local holder
    local others=()
    if [ "$DIALECT" = postgres ]; then
        # runners holding the same key in other databases of the cluster are
        # not the holder (advisory locks are per database; the holder named
        # once was one of them when other suites ran beside this one)
        local i
        for i in 1 2 3; do
            createdb "${PGDB}_o$i"
            psql -X -q -d "${PGDB}_o$i" -c "SET application_name = 'elsewhere-$i'; SELECT pg_advisory_lock(7235943); SELECT pg_sleep(3)" >/dev/null &
            others+=($!)
        done
        psql -X -q -d "$PGDB" -c "SET application_name = 'other-runner'; SELECT pg_advisory_lock(7235943); SELECT pg_sleep(3)" >/dev/null &
        holder=$!
        sleep 1
    else
        exec 9>"$(readlink -f db.sqlite)-miglock"
        flock 9
    fi
    expect_exit 3 "$MIGRUN" apply m.mig --db $URL --lock-wait 300ms
    check "names the lock" contains "another migrun holds the lock"
    [ "$DIALECT" = postgres ] && check "names the holder" contains "(other-runner)"
    [ "$DIALECT" = postgres ] && check "not a runner of another database" not_contains "elsewhere"
    if [ "$DIALECT" = postgres ]; then
        wait "$holder" "${others[@]}"
        for i in 1 2 3; do dropdb "${PGDB}_o$i"; done
    else exec 9>&-; fi
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --lock-wait 300ms
}

t_trace_prints_instructions() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --trace
    check "UP traced with its source line" contains "UP           0  [m.mig:9]"
    check "a guard's query traced" contains "EXISTS"
}

t_status_json() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --to shop.schema
    expect_exit 0 "$MIGRUN" status m.mig --db $URL --json
    check "partial migration, pending step" python3 -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin.read().splitlines() if l.strip()]
mig = [e for e in ev if e["event"] == "migration"][0]
assert mig["status"] == "partial" and mig["applied"] == 2, mig
steps = {e["step"]: e["status"] for e in ev if e["event"] == "step"}
assert steps == {"items": "applied", "items_price": "applied", "seed": "pending"}, steps
' <<<"$OUT"
}


t_migrun_test_finds_a_wrong_down() {
    cat > m.mig <<'MIG'
migration pairs {
  step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } }
  step add_b {
    up   sql { ALTER TABLE t ADD COLUMN b integer; CREATE INDEX t_b ON t (b); }
    down sql { DROP INDEX t_b; }
  }
}
MIG
    expect_exit 1 "$MIGRUN" test m.mig --db $URL
    check "the good pair passes" contains "ok           pairs.main.t"
    check "the wrong down is named" contains "FAIL         pairs.main.add_b"
    check "with what it left behind" contains "left behind by the down: column"
    check "nothing recorded" test "$(has_table mig_applied)" = 0
}

t_migrun_test_passes_the_samples() {
    local S=$TOP_SRCDIR/samples
    # the database-only samples (the full upgrades run commands: guides.sh)
    if [ "$DIALECT" = postgres ]; then
        expect_exit 0 "$MIGRUN" test "$S/keiko-v1-base.mig" "$S/keiko-v2.mig" "$S/kaizen-billing-base.mig" \
            "$S/kaizen-external-agents.mig" "$S/trusted-login-legacy-import.mig" --db $URL
    else
        expect_exit 0 "$MIGRUN" test "$S/keiko-v1-base.mig" "$S/keiko-v2.mig" "$S/kaizen-billing-base.mig" \
            "$S/kaizen-external-agents.mig" --db $URL
    fi
    check "every pair inverts" contains "passed:"
    check "no failures" not_contains "FAIL"
}

# migrun test works in a copy it makes (it used to refuse a database with
# applied steps): the given database is never changed, the steps it records
# as applied are not run again, --empty tests from an empty database
t_migrun_test_works_in_a_copy() {
    write_two_phase
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    local before
    before=$(snapshot)
    expect_exit 0 "$MIGRUN" test m.mig --db $URL
    check "applied steps are not run again" contains "3 steps already applied"
    check "the database is unchanged" test "$(snapshot)" = "$before"
    expect_exit 0 "$MIGRUN" test m.mig --db $URL --empty
    check "--empty tests every pair" contains "passed: 3 pairs invert"
    check "still unchanged" test "$(snapshot)" = "$before"
    expect_exit 0 "$MIGRUN" test m.mig --db $URL --force
    check "--force is accepted, and changes nothing" test "$(snapshot)" = "$before"
}

t_migrun_test_reports_irreversible_and_skipped() {
    cat > m.mig <<'MIG'
import std;
migration mix {
  step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } }
  step purge { up sql { DELETE FROM t; } down irreversible "rows are gone"; }
  step never { when std.table_exists("nope"); up sql { CREATE TABLE n (a integer); } down sql { DROP TABLE n; } }
}
MIG
    expect_exit 0 "$MIGRUN" test m.mig --db $URL --json
    check "irreversible reported" contains '"outcome":"irreversible"'
    check "skipped reported" contains '"outcome":"skipped"'
}

t_journal_problems_refuse_before_any_change() {
    write_two_phase
    mkdir .migrun && echo "not a database" > .migrun/journal.db
    expect_exit 3 "$MIGRUN" apply m.mig --db $URL
    check "an unreadable journal is named" contains "cannot use the journal '.migrun/journal.db': file is not a database"
    check "nothing created" db_untouched
    expect_exit 3 "$MIGRUN" apply m.mig --db $URL --journal /dev/full
    check "a full disk is named" contains "database or disk is full"
    check "still nothing" db_untouched
    expect_exit 3 "$MIGRUN" apply m.mig --db $URL --journal /proc/migrun/journal.db
    check "a journal folder that cannot be made is named" contains "cannot create the folder of the journal"
    check "and nothing" db_untouched
}

t_verify_failure_rolls_back() {
    cat > m.mig <<'MIG'
import std;
migration v {
  step t {
    up sql { CREATE TABLE t (a integer); }
    down sql { DROP TABLE t; }
    verify std.table_exists("not_t") else "the table exists under its new name";
  }
}
MIG
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL
    check "names the verify and its message" contains "verify failed: the table exists under its new name"
    check "names file and line" contains "m.mig:6"
    check "rolled back" test "$(has_table t)" = 0
}

# ---- PostgreSQL only ------------------------------------------------------------

# A step that ends its own connection every time: apply reconnects and goes
# on (--reconnect-timeout), but not forever: after 3 losses in a row with
# no step finishing it fails as any failure does, and undoes the migration.
pg_step_that_ends_its_own_connection_is_not_retried_forever() {
    cat > m.mig <<'MIG'
migration suicidal {
  phase one { step t { up sql { CREATE TABLE t (n integer); } down sql { DROP TABLE t; } } }
  phase two { step bye { up sql { SELECT pg_terminate_backend(pg_backend_pid()); } down sql { SELECT 1; } } }
}
MIG
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL
    check "reconnected to go on" contains "continuing with suicidal"
    check "then gave up" contains "lost 3 times in a row without a step finishing"
    check "and undid what the migration committed" contains "rolled back: suicidal is as it was before this run"
    check "t is gone" test "$(has_table t)" = 0
    check "nothing tracked" test "$(q "SELECT count(*) FROM mig_applied")" = 0
}

pg_password_never_printed_nor_journaled() {
    write_two_phase
    local url="postgresql://$PGUSER:$PGPASSWORD@${PGHOST:-localhost}:${PGPORT:-5432}/$PGDB"
    expect_exit 0 "$MIGRUN" apply m.mig --db "$url" --json
    check "not in the output" not_contains "$PGPASSWORD"
    check "masked instead" contains "$PGUSER:***@"
    expect_exit 0 "$MIGRUN" log --db "$url"
    check "not in the log" not_contains "$PGPASSWORD"
    check "not in the journal file" sh -c "! grep -q -a '$PGPASSWORD' .migrun/journal.db*"
}

pg_wrong_password() {
    write_two_phase
    expect_exit 3 "$MIGRUN" apply m.mig --db "postgresql://$PGUSER:wrong-Secret-42@${PGHOST:-localhost}:${PGPORT:-5432}/$PGDB"
    check "the server's refusal" contains "password authentication failed"
    check "the password is not printed" not_contains "wrong-Secret-42"
    check "nothing applied" test "$(has_table items)" = 0
}

pg_environment_is_enough() {
    write_two_phase
    (unset MIGRUN_DB; PGDATABASE=$PGDB "$MIGRUN" apply m.mig) >out.txt 2>&1
    check "PG* variables name the database" grep -q "applying 1 migration to postgresql://" out.txt
    check "applied there" test "$(has_table items)" = 1
}

pg_plpgsql_dollar_quotes() {
    cat > m.mig <<'MIG'
migration plpgsql_fn {
  target postgres;
  step audit_fn {
    up sql {
      CREATE FUNCTION audit_label(n integer) RETURNS text LANGUAGE plpgsql AS $body$
      DECLARE
        braces text := '{}';   -- a brace in a comment: }
      BEGIN
        /* nested /* comment } */ still */
        RETURN format('%s:%s', braces, n) || $inner$}$inner$;
      END
      $body$;
    }
    down sql { DROP FUNCTION audit_label(integer); }
  }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "the function body arrived intact" test "$(q "SELECT audit_label(7)")" = "{}:7}"
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "dropped" test "$(q "SELECT count(*) FROM pg_proc WHERE proname = 'audit_label'")" = 0
}

pg_concurrently_needs_transaction_none() {
    cat > m.mig <<'MIG'
migration idx {
  phase t { step make { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } } }
  phase wrong {
    step ix { up sql { CREATE INDEX CONCURRENTLY t_a ON t (a); } down sql { DROP INDEX CONCURRENTLY t_a; } }
  }
}
MIG
    expect_exit 2 "$MIGRUN" apply m.mig --db $URL
    check "refused at compile time" contains "[concurrently-in-transaction]"
    check "nothing ran" test "$(has_table t)" = 0
    # suppressed, PostgreSQL refuses it itself, and the run is undone
    sed -i 's/^  phase wrong {/  # mig: allow concurrently-in-transaction — to see the server refuse it\n  phase wrong {/' m.mig
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL
    check "PostgreSQL's own refusal with its SQLSTATE" contains "SQLSTATE 25001"
    check "everything undone" test "$(has_table t)" = 0
    sed -i 's/phase wrong {/phase wrong { transaction none;/' m.mig
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "the index is valid" test "$(q "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 't_a'")" = t
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "dropped concurrently by its down" test "$(q "SELECT count(*) FROM pg_class WHERE relname = 't_a'")" = 0
}

pg_schemas_and_search_path() {
    cat > m.mig <<'MIG'
import std;
migration sch {
  target postgres;
  step schema { when not std.pg.schema_exists("app"); up sql { CREATE SCHEMA app; } down sql { DROP SCHEMA app; } }
  step things {
    when not std.table_exists("app.things");
    up sql { CREATE TABLE app.things (id integer PRIMARY KEY, label text); }
    down sql { DROP TABLE app.things; }
    verify std.table_exists("app.things") and not std.table_exists("things") and std.column_exists("app.things", "label");
  }
  step idx {
    up sql { CREATE INDEX things_label ON app.things (label); }
    down sql { DROP INDEX app.things_label; }
    verify std.index_exists("app.things_label") and std.row_count("app.things") == 0;
  }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "table in its schema" test "$(q "SELECT count(*) FROM pg_tables WHERE schemaname = 'app' AND tablename = 'things'")" = 1
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "schema gone" test "$(q "SELECT count(*) FROM pg_namespace WHERE nspname = 'app'")" = 0
}

pg_error_names_its_line() {
    cat > m.mig <<'MIG'
migration lines {
  step two {
    up sql {
      CREATE TABLE ok_table (a integer);
      INSERT INTO ok_table VALUES (1);
      INSERT INTO ok_table VALUES ('not a number');
    }
    down sql { DROP TABLE ok_table; }
  }
}
MIG
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL
    check "the .mig line of the failing statement" contains "statement failed at m.mig:6"
    check "the server's message" contains 'invalid input syntax for type integer: "not a number"'
    check "its SQLSTATE" contains "SQLSTATE 22P02"
    check "nothing left" test "$(has_table ok_table)" = 0
}

# A COMMIT that fails (a deferred constraint): the tracking rows go with the
# COMMIT in one message (driver commit_with), so it is the COMMIT's error
# that is reported, nothing of the migration stays, earlier ones do.
pg_commit_fails_on_a_deferred_constraint() {
    cat > m.mig <<'MIG'
migration a_parent {
  step tables {
    up sql {
      CREATE TABLE parent (id integer PRIMARY KEY);
      CREATE TABLE child (p integer REFERENCES parent DEFERRABLE INITIALLY DEFERRED);
    }
    down sql { DROP TABLE child; DROP TABLE parent; }
  }
}
migration b_orphan {
  after a_parent;
  step one { up sql { CREATE TABLE marker (x integer); } down sql { DROP TABLE marker; } }
  step two { up sql { INSERT INTO child VALUES (42); } down sql { DELETE FROM child; } }
}
MIG
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL
    check "the COMMIT's error" contains "commit failed"
    check "its SQLSTATE" contains "SQLSTATE 23503"
    check "the first migration stays" test "$(q "SELECT count(*) FROM mig_applied WHERE migration = 'a_parent'")" = 1
    check "nothing of the second is tracked" test "$(q "SELECT count(*) FROM mig_applied WHERE migration = 'b_orphan'")" = 0
    check "nor left in the database" test "$(has_table marker)" = 0
    check "no orphan row" test "$(q "SELECT count(*) FROM child")" = 0
    check "no transaction left open" test "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'")" = 0
    expect_exit 0 "$MIGRUN" status m.mig --db $URL
    check "status: the second pending" contains "pending  b_orphan"
}

pg_statement_timeout() {
    cat > m.mig <<'MIG'
migration slow {
  phase p {
    timeout 200ms;
    step nap { up sql { SELECT pg_sleep(2); } down sql { SELECT 1; } }
  }
}
MIG
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL
    check "canceled by statement_timeout" contains "SQLSTATE 57014"
}

pg_lock_timeout_then_retry_succeeds() {
    cat > m.mig <<'MIG'
migration busy {
  phase make { step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } } }
  phase alter {
    lock_timeout 200ms;
    retry 30 every 200ms;
    step add_b { up sql { ALTER TABLE t ADD COLUMN b integer; } down sql { ALTER TABLE t DROP COLUMN b; } }
  }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --to busy.make
    # another session holds the table for a while
    psql -X -q -d "$PGDB" -c "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1.5); COMMIT;" >/dev/null &
    local holder=$!
    sleep 0.5
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    wait "$holder"
    check "retries reported" contains "retry 1/30 of phase alter"
    check "after lock timeouts" contains "55P03"
    check "then applied" test "$(q "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'b'")" = 1
}

pg_lock_timeout_without_retry_fails() {
    cat > m.mig <<'MIG'
migration busy {
  phase make { step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } } }
  phase alter {
    lock_timeout 100ms;
    step add_b { up sql { ALTER TABLE t ADD COLUMN b integer; } down sql { ALTER TABLE t DROP COLUMN b; } }
  }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --to busy.make
    psql -X -q -d "$PGDB" -c "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1.5); COMMIT;" >/dev/null &
    local holder=$!
    sleep 0.5
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL
    wait "$holder"
    check "lock timeout named" contains "SQLSTATE 55P03"
    check "not retried" not_contains "retry 1"
}

write_sleepy() {
    cat > m.mig <<'MIG'
migration sleepy {
  phase first {
    step t { up sql { CREATE TABLE t (n integer); } down sql { DROP TABLE t; } }
    step one { up sql { INSERT INTO t VALUES (1); } down sql { DELETE FROM t WHERE n = 1; } }
  }
  phase second {
    step nap_and_two {
      up sql { SELECT pg_sleep(2); INSERT INTO t VALUES (2); }
      down sql { DELETE FROM t WHERE n = 2; }
    }
  }
}
MIG
}

wait_for_sleep() {
    for _ in $(seq 1 100); do
        [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'migrun' AND datname = current_database() AND query LIKE '%pg_sleep%' AND state = 'active'")" != 0 ] && return 0
        sleep 0.1
    done
    echo "    the migration never reached its pg_sleep"
    touch "$CASE_DIR/.failed"
}

pg_kill_9_then_rerun_exactly_once() {
    write_sleepy
    "$MIGRUN" apply m.mig --db $URL >run1.out 2>&1 &
    local pid=$!
    wait_for_sleep
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    # the server notices the dead client and rolls back the open transaction
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "finished exactly once" test "$(q "SELECT string_agg(n::text, ',' ORDER BY n) FROM t")" = "1,2"
    check "only the interrupted phase re-ran" not_contains "first.one"
    check "every step recorded once" test "$(q "SELECT count(*) FROM mig_applied")" = 3
    expect_exit 0 "$MIGRUN" log --db $URL
    check "log shows the interrupted run" contains "interrupted"
    expect_exit 0 "$MIGRUN" rollback --all --db $URL
    check "rolled back" test "$(has_table t)" = 0
}

# An interrupted CREATE INDEX CONCURRENTLY leaves an invalid index: status
# says so, std.index_exists is false for it, and the next apply drops it
# before the step runs again, so the index ends up valid (not skipped by
# IF NOT EXISTS, not recorded as skipped by a guard).
pg_interrupted_concurrent_index_is_rebuilt() {
    cat > m.mig <<'MIG'
import std;
migration idx {
  phase tables {
    step t { up sql { CREATE TABLE t (n integer); INSERT INTO t SELECT generate_series(1, 1000); } down sql { DROP TABLE t; } }
  }
  phase indexes {
    transaction none;
    step t_n {
      when not std.index_exists("t_n_idx");
      up   sql { CREATE INDEX CONCURRENTLY IF NOT EXISTS t_n_idx ON t (n); }
      down sql { DROP INDEX CONCURRENTLY IF EXISTS t_n_idx; }
    }
  }
}
MIG
    # a transaction holding a snapshot makes CREATE INDEX CONCURRENTLY wait
    # with its index already in the catalog (invalid)
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --to idx.tables
    psql -X -q -d "$PGDB" -c "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM t; SELECT pg_sleep(6); COMMIT" >/dev/null 2>&1 &
    local holder=$!
    sleep 0.5
    "$MIGRUN" apply m.mig --db $URL >run1.out 2>&1 &
    local pid=$!
    for _ in $(seq 1 100); do
        [ "$(q "SELECT count(*) FROM pg_class WHERE relname = 't_n_idx'")" = 1 ] && break
        sleep 0.1
    done
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    # the server cancels the statement of the dead client (client_connection_check_interval)
    for _ in $(seq 1 50); do
        [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'migrun' AND datname = current_database()")" = 0 ] && break
        sleep 0.2
    done
    check "the index was left invalid" test "$(q "SELECT count(*) FROM pg_index WHERE indexrelid = 't_n_idx'::regclass AND NOT indisvalid")" = 1
    expect_exit 0 "$MIGRUN" status m.mig --db $URL
    check "status names the invalid index" contains "index t_n_idx is invalid"
    wait "$holder"
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "says it dropped the invalid index" contains "dropped the invalid index t_n_idx"
    check "the step ran again (not skipped)" contains "applied      indexes.t_n"
    check "the index is valid now" test "$(q "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_n_idx'::regclass")" = t
    check "recorded as applied" test "$(q "SELECT status FROM mig_applied WHERE step = 't_n'")" = applied
}

# A CREATE UNIQUE INDEX CONCURRENTLY that fails on duplicates leaves its
# index behind, invalid, although nothing committed: the run drops it
# before it says "the database is as before" (a false "as before" else).
pg_failed_concurrent_index_leaves_nothing() {
    cat > m.mig <<'MIG'
migration uniq {
  phase tables {
    step t { up sql { CREATE TABLE t (n integer); INSERT INTO t VALUES (1), (1), (2); } down sql { DROP TABLE t; } }
  }
  phase indexes {
    transaction none;
    step t_n {
      up   sql { CREATE UNIQUE INDEX CONCURRENTLY t_n_key ON t (n); }
      down sql { DROP INDEX CONCURRENTLY IF EXISTS t_n_key; }
    }
  }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --to uniq.tables
    # an invalid index of another name from before stays as it was
    psql -X -q -d "$PGDB" -c "CREATE UNIQUE INDEX CONCURRENTLY t_old ON t (n)" >/dev/null 2>&1
    check "the index of before is invalid" test "$(q "SELECT count(*) FROM pg_index WHERE indexrelid = 't_old'::regclass AND NOT indisvalid")" = 1
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL
    check "the error names the duplicate" contains "could not create unique index"
    check "says it dropped the index the failure left" contains "left the invalid index t_n_key; it was dropped"
    check "no index t_n_key is left" test "$(q "SELECT count(*) FROM pg_class WHERE relname = 't_n_key'")" = 0
    check "the invalid index of before is untouched" test "$(q "SELECT count(*) FROM pg_index WHERE indexrelid = 't_old'::regclass AND NOT indisvalid")" = 1
    check "the step is not recorded" test "$(q "SELECT count(*) FROM mig_applied WHERE step = 't_n'")" = 0
    expect_exit 0 "$MIGRUN" rollback --all --db $URL
    check "rolled back" test "$(has_table t)" = 0
}

pg_two_runners_one_applies() {
    write_sleepy
    "$MIGRUN" apply m.mig --db $URL >a.out 2>&1 &
    local a=$!
    wait_for_sleep
    "$MIGRUN" apply m.mig --db $URL >b.out 2>&1 &
    local b=$!
    wait "$a"
    local ra=$?
    wait "$b"
    local rb=$?
    check "first applied" test "$ra" = 0
    check "second waited, then found nothing" test "$rb" = 0
    check "the waiting one said who held the lock" grep -q "waiting for the lock" b.out
    check "and found nothing to do" grep -q "nothing to do" b.out
    check "applied exactly once" test "$(q "SELECT string_agg(n::text, ',' ORDER BY n) FROM t")" = "1,2"
}

# (pgserial_*: restarts the server, which other suites running in parallel
# under make check disturb; .ci/run runs it alone after the test command:
# MIG_CASES='^pgserial_')
pgserial_server_restart_mid_run() {
    write_sleepy
    # a long sleep: the restart must land inside it, even on a loaded machine
    sed -i 's/pg_sleep(2)/pg_sleep(8)/' m.mig
    "$MIGRUN" apply m.mig --db $URL >run1.out 2>&1 &
    local pid=$!
    wait_for_sleep
    pg_ctlcluster "$PGVERSION" regress restart -m fast >/dev/null 2>&1 || pg_ctlcluster "$PGVERSION" regress restart >/dev/null
    wait "$pid"
    local rc=$?
    # (--reconnect-timeout, default 60s: it connects again and goes on)
    check "the interrupted run reconnects and finishes (exit 0)" test "$rc" = 0
    check "says the connection was lost during the step" grep -q "was lost during sleepy.second.nap_and_two" run1.out
    check "and that it continues" grep -q "continuing with sleepy" run1.out
    check "never 'as before'" sh -c '! grep -q "as before" run1.out'
    check "finished exactly once" test "$(q "SELECT string_agg(n::text, ',' ORDER BY n) FROM t")" = "1,2"
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "then nothing to do" contains "nothing to do"
    expect_exit 0 "$MIGRUN" status m.mig --db $URL
    check "status: applied" contains "applied  sleepy"
}

# --reconnect-timeout 0s: a lost connection fails the run as any failure does
pgserial_server_restart_without_reconnect() {
    write_sleepy
    sed -i 's/pg_sleep(2)/pg_sleep(8)/' m.mig
    "$MIGRUN" apply m.mig --db $URL --reconnect-timeout 0s >run1.out 2>&1 &
    local pid=$!
    wait_for_sleep
    pg_ctlcluster "$PGVERSION" regress restart -m fast >/dev/null 2>&1 || pg_ctlcluster "$PGVERSION" regress restart >/dev/null
    wait "$pid"
    local rc=$?
    check "the interrupted run exits 1 (rolled back cleanly) or 4" test "$rc" = 1 -o "$rc" = 4
    check "says the connection was lost" grep -q "connection" run1.out
    check "does not go on" sh -c '! grep -q "continuing with" run1.out'
    for _ in $(seq 1 50); do psql -X -q -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "finished exactly once" test "$(q "SELECT string_agg(n::text, ',' ORDER BY n) FROM t")" = "1,2"
}

pattern='^t_'
[ "$DIALECT" = postgres ] && pattern='^(t|pg)_'
[ -n "${MIG_CASES:-}" ] && pattern="$MIG_CASES"
for t in $(declare -F | awk '{print $3}' | grep -E "$pattern"); do
    run_case "$t"
done
finish
