#!/usr/bin/env bash
# flows.sh — the deployment flows of issue 10 (§4 c–l) end to end: a lost
# journal, two journals, batch steps, rollback without the journal, a step
# that ran but could not be recorded, rollback after a failed run, timeouts
# during undo, SIGINT/SIGTERM, one large phase, read-only commands. Each case
# checks the database afterwards. flows-sqlite.sh and flows-postgres.sh run
# it; cases named f_* run on both dialects, fpg_* on PostgreSQL only, fsq_*
# on SQLite only. (Flows a and b need the fault-injection build: reconnect.sh.)
. "$(dirname "$0")/lib.sh"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# the rows of t as id:v lines
t_rows() { q "SELECT id || ':' || v FROM t ORDER BY id"; }

# tracked — how many rows the tracking table holds (0 when it does not exist)
tracked() {
    if [ "$(has_table mig_applied)" = 1 ]; then q "SELECT count(*) FROM mig_applied"; else echo 0; fi
}

# start_bg OUTFILE COMMAND... — runs a command in the background with SIGINT
# and SIGTERM at their defaults (a non-interactive shell starts background
# jobs with SIGINT ignored); its pid in $BG
start_bg() {
    local out=$1
    shift
    env --default-signal=INT,TERM "$@" >"$out" 2>&1 &
    BG=$!
}

# wait_until SECONDS COMMAND... — polls every 0.1 s
wait_until() {
    local limit=$(($1 * 10))
    shift
    local i
    for ((i = 0; i < limit; i++)); do
        "$@" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# table_there NAME — the table exists now (for wait_until)
table_there() { [ "$(has_table "$1")" = 1 ]; }

# PostgreSQL: no migrun session is left on the server
no_migrun_session() {
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'migrun'")" = 0 ]
}

# PostgreSQL: a migrun backend is sleeping in pg_sleep (a statement or a trigger)
migrun_sleeping() {
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'migrun' AND wait_event = 'PgSleep'")" != 0 ]
}

# PostgreSQL: a session other than migrun's holds a lock on table $1
other_holds_lock() {
    [ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
             JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE c.relname = '$1' AND l.granted AND a.application_name = 'holder'")" != 0 ]
}

# ---- c. lost journal with params ----------------------------------------------

write_archive() {
    cat > m.mig <<'MIG'
migration archive {
  param t: string = "orders";
  step make {
    up   sql { CREATE TABLE ${t:ident} (id integer); }
    down sql { DROP TABLE ${t:ident}; }
  }
}
MIG
    q "CREATE TABLE orders (id integer, total integer); INSERT INTO orders VALUES (1, 10), (2, 20);"
}

# lost_journal_case [SOURCES...] — apply with a param, lose the journal, roll back
lost_journal_case() {
    write_archive
    local before
    before=$(schema)
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL -p t=orders_archive_2026
    check "the param's table made" test "$(has_table orders_archive_2026)" = 1
    rm -rf .migrun
    expect_exit 0 "$MIGRUN" rollback --db $URL "$@"
    check "the table the run made is gone" test "$(has_table orders_archive_2026)" = 0
    check "the user's orders survive with their rows" test "$(q "SELECT count(*) FROM orders")" = 2
    check "schema as before" test "$(schema)" = "$before"
    check "nothing tracked" test "$(tracked)" = 0
}

f_lost_journal_with_params_rollback_from_target() { lost_journal_case; }
# the sources, where given, never change what is undone
f_lost_journal_with_params_rollback_with_sources() { lost_journal_case m.mig; }
# (today's main drops the user's orders here: the sources' default param)
f_lost_journal_with_params_rollback_all_with_sources() { lost_journal_case --all m.mig; }

# ---- d. two journals for one target --------------------------------------------

f_two_journals_undo_in_target_order() {
    cat > a.mig <<'MIG'
migration a {
  step t { up sql { CREATE TABLE t (id integer PRIMARY KEY, v integer); } down sql { DROP TABLE t; } }
}
MIG
    cat > b.mig <<'MIG'
migration b {
  after a;
  step t_v { up sql { CREATE INDEX t_v ON t (v); } down sql { DROP INDEX t_v; } }
  step rows { up sql { INSERT INTO t VALUES (1, 10), (2, 20); } down sql { DELETE FROM t WHERE id IN (1, 2); } }
}
MIG
    q "CREATE TABLE keep (x integer); INSERT INTO keep VALUES (5);"
    local before
    before=$(schema)
    expect_exit 0 "$MIGRUN" apply a.mig --db $URL --journal laptop.db
    expect_exit 0 "$MIGRUN" apply a.mig b.mig --db $URL --journal ci.db
    check "both applied" test "$(q "SELECT count(*) FROM t")" = 2
    expect_exit 0 "$MIGRUN" rollback --all --db $URL --journal laptop.db
    check "schema exactly as at the start" test "$(schema)" = "$before"
    check "the user's data untouched" test "$(q "SELECT x FROM keep")" = 5
    check "nothing tracked" test "$(tracked)" = 0
}

# ---- e. batch steps ------------------------------------------------------------

f_batch_failure_undoes_committed_iterations() {
    # iterations 1 and 2 commit (ids 1–4), the 3rd breaks the CHECK at id 5
    q "CREATE TABLE t (id integer PRIMARY KEY, v integer NOT NULL, CHECK (id < 5 OR v < 10));
       INSERT INTO t VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0);"
    cat > m.mig <<'MIG'
migration bump {
  phase fill {
    transaction step;
    step chunks {
      batch max 100;
      up   sql { UPDATE t SET v = v + 10 WHERE id IN (SELECT id FROM t WHERE v < 10 ORDER BY id LIMIT 2); }
      down sql { UPDATE t SET v = v - 10 WHERE v >= 10; }
    }
  }
}
MIG
    local before
    before=$(t_rows)
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL
    check "does not claim nothing was committed" sh -c '! printf "%s\n" "$1" | grep -q "nothing of.*was committed"' _ "$OUT"
    check "the rows exactly as before (the batch's down ran)" test "$(t_rows)" = "$before"
    check "nothing tracked" test "$(tracked)" = 0
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "and rollback finds nothing more to undo" test "$(t_rows)" = "$before"
}

fpg_batch_kill_9_then_rollback_runs_its_down() {
    # iteration 2 sleeps in a trigger at row 3, after iteration 1 committed
    q "CREATE TABLE t (id integer PRIMARY KEY, v integer NOT NULL);
       INSERT INTO t SELECT i, 0 FROM generate_series(1, 6) i;
       CREATE FUNCTION slow_at_3() RETURNS trigger LANGUAGE plpgsql AS \$\$
       BEGIN IF NEW.id = 3 AND NEW.v >= 10 THEN PERFORM pg_sleep(30); END IF; RETURN NEW; END \$\$;
       CREATE TRIGGER slow_at_3 BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION slow_at_3();"
    cat > m.mig <<'MIG'
migration bump {
  phase fill {
    transaction step;
    step chunks {
      batch max 100;
      up   sql { UPDATE t SET v = v + 10 WHERE id IN (SELECT id FROM t WHERE v < 10 ORDER BY id LIMIT 2); }
      down sql { UPDATE t SET v = v - 10 WHERE v >= 10; }
    }
  }
}
MIG
    local before
    before=$(t_rows)
    start_bg run1.out "$MIGRUN" apply m.mig --db $URL
    local pid=$BG
    if ! wait_until 20 migrun_sleeping; then
        echo "    the batch never reached its 2nd iteration"
        touch "$CASE_DIR/.failed"
    fi
    check "iteration 1 committed before the kill" test "$(q "SELECT count(*) FROM t WHERE v >= 10")" = 2
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    # the server notices the dead client (here at once)
    q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'migrun' AND datname = current_database()" >/dev/null
    wait_until 10 no_migrun_session
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "not 'nothing to roll back'" not_contains "nothing to roll back"
    check "names the run" contains "rolling back run 1"
    check "the batch's down restored the rows" test "$(t_rows)" = "$before"
    check "nothing tracked" test "$(tracked)" = 0
}

# ---- f. rollback without the journal keeps the order inside a phase -------------

write_z_then_a() {
    cat > m.mig <<'MIG'
migration za {
  phase one {
    step z_table { up sql { CREATE TABLE z (id integer, v integer); } down sql { DROP TABLE z; } }
    step a_index { up sql { CREATE INDEX z_v ON z (v); } down sql { DROP INDEX z_v; } }
  }
}
MIG
}

f_rollback_without_journal_keeps_step_order() {
    write_z_then_a
    q "CREATE TABLE keep (x integer);"
    local before
    before=$(schema)
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    rm -rf .migrun
    expect_exit 0 "$MIGRUN" rollback --all --db $URL
    check "schema as before (no sources)" test "$(schema)" = "$before"
    check "nothing tracked" test "$(tracked)" = 0
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    rm -rf .migrun
    expect_exit 0 "$MIGRUN" rollback --all --db $URL m.mig
    check "schema as before (sources given)" test "$(schema)" = "$before"
    check "nothing tracked (sources given)" test "$(tracked)" = 0
}

# ---- g. a transaction none step that ran but could not be recorded ------------

f_unrecorded_none_step_exits_4() {
    cat > first.mig <<'MIG'
migration first {
  step s { up sql { CREATE TABLE s (x integer); } down sql { DROP TABLE s; } }
}
MIG
    cat > second.mig <<'MIG'
migration second {
  after first;
  phase online {
    transaction none;
    step make_n { up sql { CREATE TABLE n (x integer); } down sql { DROP TABLE n; } }
  }
}
MIG
    expect_exit 0 "$MIGRUN" apply first.mig --db $URL
    check "the tracking table exists" test "$(has_table mig_applied)" = 1
    if [ "$DIALECT" = postgres ]; then
        q "CREATE FUNCTION mig_block() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RAISE EXCEPTION 'blocked'; END \$\$;
           CREATE TRIGGER mig_block BEFORE UPDATE ON mig_applied FOR EACH ROW EXECUTE FUNCTION mig_block();"
    else
        q "CREATE TRIGGER mig_block BEFORE UPDATE ON mig_applied BEGIN SELECT RAISE(ABORT, 'blocked'); END;"
    fi
    expect_exit 4 "$MIGRUN" apply first.mig second.mig --db $URL
    check "never claims the database is as before" not_contains "as before"
    check "the step ran: n exists" test "$(has_table n)" = 1
    check "the first migration stays" test "$(has_table s)" = 1
}

# ---- h. rollback after a failed run; --run; --to MIGRATION.PHASE ----------------

f_rollback_after_failed_run_names_it() {
    cat > one.mig <<'MIG'
migration one {
  step t1 { up sql { CREATE TABLE t1 (x integer); } down sql { DROP TABLE t1; } }
}
MIG
    cat > two.mig <<'MIG'
migration two {
  after one;
  phase first { step t2 { up sql { CREATE TABLE t2 (x integer); } down sql { DROP TABLE t2; } } }
  phase second {
    step t3 { up sql { CREATE TABLE t3 (x integer); } down sql { DROP TABLE t3; } }
    assert false else "the second phase fails";
  }
}
MIG
    expect_exit 0 "$MIGRUN" apply one.mig --db $URL
    expect_exit 1 "$MIGRUN" apply one.mig two.mig --db $URL
    check "run 2 undone automatically" test "$(has_table t2)$(has_table t3)" = 00
    check "t1 there" test "$(has_table t1)" = 1
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "says nothing to roll back, naming run 2" \
        sh -c 'printf "%s\n" "$1" | grep "nothing to roll back" | grep -q "run 2"' _ "$OUT"
    check "run 1 left alone" test "$(has_table t1)" = 1
    check "run 1 still tracked" test "$(tracked)" = 1
    expect_exit 0 "$MIGRUN" rollback --run 1 --db $URL
    check "names run 1 before acting" contains "rolling back run 1"
    check "--run 1 undid t1" test "$(has_table t1)" = 0
    check "nothing tracked" test "$(tracked)" = 0
}

f_rollback_to_migration_phase() {
    cat > m.mig <<'MIG'
migration m {
  phase p1 { step s { up sql { CREATE TABLE p1 (x integer); } down sql { DROP TABLE p1; } } }
  phase p2 { step s { up sql { CREATE TABLE p2 (x integer); } down sql { DROP TABLE p2; } } }
  phase p3 { step s { up sql { CREATE TABLE p3 (x integer); } down sql { DROP TABLE p3; } } }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    expect_exit 0 "$MIGRUN" rollback --to m.p1 --db $URL
    check "p1 kept, p2 and p3 undone" test "$(has_table p1)$(has_table p2)$(has_table p3)" = 100
    check "p1 still tracked" test "$(q "SELECT count(*) FROM mig_applied WHERE phase = 'p1'")" = 1
    check "only p1 tracked" test "$(tracked)" = 1
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "apply completes it again" test "$(has_table p1)$(has_table p2)$(has_table p3)" = 111
}

# ---- i. timeouts during undo (PostgreSQL) ----------------------------------------

fpg_rollback_obeys_lock_timeout() {
    cat > m.mig <<'MIG'
migration busy {
  phase make {
    lock_timeout 300ms;
    step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } }
  }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    PGAPPNAME=holder psql -X -q -d "$PGDB" -c "BEGIN; LOCK TABLE t IN ACCESS SHARE MODE; SELECT pg_sleep(10); COMMIT;" >/dev/null 2>&1 &
    local holder=$!
    wait_until 10 other_holds_lock t || { echo "    the holder never took its lock"; touch "$CASE_DIR/.failed"; }
    local t0 t1
    t0=$(now_ms)
    expect_exit 1 "$MIGRUN" rollback --db $URL
    t1=$(now_ms)
    check "returned within 5 s ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 5000
    check "mentions the lock timeout" sh -c 'printf "%s\n" "$1" | grep -qiE "lock.timeout"' _ "$OUT"
    check "nothing undone: t exists" test "$(has_table t)" = 1
    check "still tracked" test "$(tracked)" = 1
    kill "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null
}

fpg_automatic_undo_obeys_lock_timeout() {
    cat > m.mig <<'MIG'
migration busy {
  phase p1 {
    lock_timeout 300ms;
    step t { up sql { CREATE TABLE t (a integer); } down sql { DROP TABLE t; } }
  }
  phase p2 {
    step nap { up sql { SELECT pg_sleep(3); } down sql { SELECT 1; } }
    assert false else "p2 fails";
  }
}
MIG
    local t0 t1 holder rc
    t0=$(now_ms)
    start_bg run.out "$MIGRUN" apply m.mig --db $URL
    local pid=$BG
    wait_until 20 migrun_sleeping || { echo "    p2 never started its sleep"; touch "$CASE_DIR/.failed"; }
    PGAPPNAME=holder psql -X -q -d "$PGDB" -c "BEGIN; LOCK TABLE t IN ACCESS SHARE MODE; SELECT pg_sleep(15); COMMIT;" >/dev/null 2>&1 &
    holder=$!
    wait_until 10 other_holds_lock t || { echo "    the holder never took its lock"; touch "$CASE_DIR/.failed"; }
    wait "$pid"
    rc=$?
    t1=$(now_ms)
    OUT=$(cat run.out)
    check "exit 4 (got $rc)" test "$rc" = 4
    check "within a few seconds, not after the holder ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 9000
    check "t stays (its down timed out)" test "$(has_table t)" = 1
    check "says so" sh -c 'printf "%s\n" "$1" | grep -qiE "lock.timeout"' _ "$OUT"
    kill "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null
}

# ---- j. SIGINT / SIGTERM ---------------------------------------------------------

write_long_second_phase() {
    local long
    if [ "$DIALECT" = postgres ]; then
        long='SELECT pg_sleep(30);'
    else
        long='WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c;'
    fi
    cat > m.mig <<MIG
migration long {
  phase one { step a { up sql { CREATE TABLE a (x integer); } down sql { DROP TABLE a; } } }
  phase two { step slow { up sql { $long } down sql { SELECT 1; } } }
}
MIG
}

interrupt_case() {
    local sig=$1
    write_long_second_phase
    start_bg run.out "$MIGRUN" apply m.mig --db $URL
    local pid=$BG
    if [ "$DIALECT" = postgres ]; then
        wait_until 20 migrun_sleeping || { echo "    phase two never started"; touch "$CASE_DIR/.failed"; }
    else
        wait_until 20 table_there a || { echo "    phase one never committed"; touch "$CASE_DIR/.failed"; }
        sleep 0.5
    fi
    local t0 t1 rc
    t0=$(now_ms)
    kill -"$sig" "$pid"
    # at most 10 s, then make sure it does not outlive the case
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { echo "    migrun still running 10 s after SIG$sig"; kill -9 "$pid"; }
    wait "$pid"
    rc=$?
    t1=$(now_ms)
    OUT=$(cat run.out)
    check "exit 1 (got $rc)" test "$rc" = 1
    check "within 5 s ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 5000
    check "says it was interrupted" grep -qiE "interrupted|SIG$sig" run.out
    check "phase one undone" test "$(has_table a)" = 0
    check "nothing tracked" test "$(tracked)" = 0
    local outcome
    outcome=$(sqlite3 .migrun/journal.db "SELECT outcome FROM runs ORDER BY id DESC LIMIT 1" 2>/dev/null)
    check "the journal's run has an outcome ($outcome), not running" test -n "$outcome" -a "$outcome" != running
}

f_sigint_undoes_and_exits_1() { interrupt_case INT; }
f_sigterm_undoes_and_exits_1() { interrupt_case TERM; }

# ---- k. rolling back one large phase (SQLite) ------------------------------------

fsq_rollback_of_a_large_phase_is_linear() {
    local n=5000 i
    q "CREATE TABLE t (id integer PRIMARY KEY);"
    {
        echo 'migration big {'
        echo '  phase fill {'
        for ((i = 1; i <= n; i++)); do
            echo "    step s$i { up sql { INSERT INTO t VALUES ($i); } down sql { DELETE FROM t WHERE id = $i; } }"
        done
        echo '  }'
        echo '}'
    } > m.mig
    local t0 t1 t2 apply_ms rb_ms
    t0=$(now_ms)
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    t1=$(now_ms)
    check "all rows" test "$(q "SELECT count(*) FROM t")" = $n
    local timev=()
    [ -x /usr/bin/time ] && timev=(/usr/bin/time -f 'maxrss %M' -o rss.txt)
    expect_exit 0 "${timev[@]}" "$MIGRUN" rollback --all --db $URL
    t2=$(now_ms)
    apply_ms=$((t1 - t0)) rb_ms=$((t2 - t1))
    echo "    apply of $n steps: $apply_ms ms; rollback --all: $rb_ms ms$([ -f rss.txt ] && echo ", $(cat rss.txt) KiB")"
    check "rollback within 20 s" test "$rb_ms" -lt 20000
    # 5,000 steps roll back in about 4 s when undo is quadratic, well under 1 s when linear
    check "rollback not much slower than apply (linear, not quadratic)" test "$rb_ms" -lt $((4 * apply_ms + 1000))
    [ -f rss.txt ] && check "rollback within 256 MiB" test "$(sed -n 's/^maxrss //p' rss.txt)" -lt 262144
    check "t is empty" test "$(q "SELECT count(*) FROM t")" = 0
    check "nothing tracked" test "$(tracked)" = 0
}

# ---- l. read-only commands write nothing ----------------------------------------

f_plan_and_status_write_nothing() {
    cat > m.mig <<'MIG'
migration ro {
  step t { up sql { CREATE TABLE t (x integer); } down sql { DROP TABLE t; } }
}
MIG
    local files_before
    files_before=$(ls -A)
    expect_exit 0 "$MIGRUN" plan m.mig --db $URL
    if [ "$DIALECT" = sqlite ]; then
        check "plan prints the real target" contains "sqlite:db.sqlite"
        check "not :memory:" not_contains ":memory:"
    else
        check "plan prints the real target" contains "$PGDB"
    fi
    expect_exit 0 "$MIGRUN" status m.mig --db $URL
    check "no .migrun folder" test ! -e .migrun
    check "no lock file" test ! -e db.sqlite-miglock
    check "no new file at all" test "$(ls -A)" = "$files_before"
    check "the database untouched (no file, no tracking table)" db_untouched
    # after an apply: the journal's file stays as it is
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "the journal exists after apply" test -f .migrun/journal.db
    local j_before files2 snap
    j_before=$(stat -c '%y %s' .migrun/journal.db)
    files2=$(ls -A . .migrun)
    snap=$(snapshot)
    expect_exit 0 "$MIGRUN" plan m.mig --db $URL
    expect_exit 0 "$MIGRUN" status m.mig --db $URL
    check "journal mtime and size unchanged" test "$(stat -c '%y %s' .migrun/journal.db)" = "$j_before"
    check "no new files" test "$(ls -A . .migrun)" = "$files2"
    check "the database unchanged" test "$(snapshot)" = "$snap"
    # apply made the compile cache's folder (its journal is the default one
    # here); the status after it kept its compilation there
    check "apply made .migrun/cache, mode 0700" test "$(stat -c %a .migrun/cache 2>/dev/null)" = 700
    check "one compilation in the cache" test "$(ls .migrun/cache | grep -c '\.migb$')" = 1
    # the entry is what status loads: replaced by another compilation, status shows that one
    cat > other.mig <<'MIG'
migration from_the_cache {
  step t { up sql { CREATE TABLE t2 (x integer); } down sql { DROP TABLE t2; } }
}
MIG
    "$MIGC" build other.mig -o other.migb >/dev/null 2>&1
    cp other.migb .migrun/cache/"$(ls .migrun/cache | grep '\.migb$')"
    expect_exit 0 "$MIGRUN" status m.mig --db $URL
    check "status loads the cached compilation" contains "from_the_cache"
    rm -rf .migrun/cache/*
    expect_exit 0 "$MIGRUN" status m.mig --db $URL
    check "without it, status compiles the sources" contains "applied  ro"
}

# ---- adoption: baseline, mark, repair ------------------------------------------

write_adopt() {
    cat > m.mig <<'MIG'
migration base {
  step users { up sql { CREATE TABLE users (id integer PRIMARY KEY, name text); } down sql { DROP TABLE users; } }
}
migration orders {
  after base;
  step orders { up sql { CREATE TABLE orders (id integer PRIMARY KEY); } down sql { DROP TABLE orders; } }
}
migration email {
  after orders;
  step col { up sql { ALTER TABLE users ADD COLUMN email text; } down sql { ALTER TABLE users DROP COLUMN email; } }
}
MIG
}

# An existing database adopted: the steps up to --to are recorded without
# running, apply runs the rest, rollback undoes it and refuses to cross the
# baseline, saying why; log shows who and why.
f_baseline_adopts_an_existing_database() {
    write_adopt
    q "CREATE TABLE users (id integer PRIMARY KEY, name text); CREATE TABLE orders (id integer PRIMARY KEY); INSERT INTO users VALUES (1, 'ada');"
    expect_exit 2 "$MIGRUN" baseline m.mig --db $URL
    check "needs --to" contains "baseline needs --to"
    expect_exit 0 "$MIGRUN" baseline m.mig --db $URL --to orders --reason "adopted from the deploy scripts"
    check "names the steps" contains "baselined    orders.main.orders"
    check "two rows, not run" test "$(q "SELECT count(*) FROM mig_applied WHERE down_kind = 'baselined'")" = 2
    expect_exit 0 "$MIGRUN" status m.mig --db $URL
    check "status says baselined" contains "baselined main.users"
    check "email pending" contains "pending  email"
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "only email ran" contains "applied      main.col"
    check "the data stays" test "$(q "SELECT name FROM users")" = ada
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "email undone" contains "undone       email.main.col"
    expect_exit 3 "$MIGRUN" rollback --db $URL
    check "refuses to cross the baseline, saying why" contains "cannot roll back orders.main.orders: it was baselined by run 1"
    check "the tables stay" test "$(has_table orders)" = 1
    expect_exit 3 "$MIGRUN" rollback --all --db $URL
    expect_exit 0 "$MIGRUN" log --db $URL
    check "log: the reason" contains "baselined base.main.users  (adopted from the deploy scripts)"
    check "log: the run" contains "baseline"
}

# mark --applied records without running; --pending removes records without
# running downs; repair accepts an edited step's new source.
f_mark_and_repair() {
    write_adopt
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --to orders
    expect_exit 2 "$MIGRUN" mark email --db $URL --reason x m.mig
    check "needs --applied or --pending" contains "--applied or --pending"
    q "ALTER TABLE users ADD COLUMN email text"
    expect_exit 0 "$MIGRUN" mark email --applied --db $URL --reason "added by hand during the outage" m.mig
    check "email marked" test "$(q "SELECT down_kind FROM mig_applied WHERE migration = 'email'")" = marked
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "nothing to do" contains "nothing to do"
    expect_exit 0 "$MIGRUN" mark email --pending --db $URL --reason "undo the mark"
    check "record removed" test "$(q "SELECT count(*) FROM mig_applied WHERE migration = 'email'")" = 0
    check "the column is still there (nothing ran)" q "SELECT email FROM users WHERE 1 = 0"
    expect_exit 2 "$MIGRUN" mark nosuch --pending --db $URL --reason x
    # an edited applied step: drift refuses the apply until it is repaired
    sed -i 's/CREATE TABLE orders (id integer PRIMARY KEY);/CREATE TABLE orders (id integer PRIMARY KEY, total integer);/' m.mig
    q "ALTER TABLE users DROP COLUMN email"
    expect_exit 3 "$MIGRUN" apply m.mig --db $URL
    check "drift" contains "drift: step orders.main.orders"
    expect_exit 2 "$MIGRUN" repair m.mig --db $URL --accept orders.main.orders
    check "repair needs a reason" contains "--reason"
    expect_exit 0 "$MIGRUN" repair m.mig --db $URL --accept orders.main.orders --reason "total was added by hand"
    check "repaired" contains "repaired     orders.main.orders"
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "applies the rest" contains "applied      main.col"
    expect_exit 0 "$MIGRUN" log --db $URL
    check "log: marked" contains "marked applied email.main.col  (added by hand during the outage)"
    check "log: repaired" contains "repaired orders.main.orders  (total was added by hand)"
    expect_exit 0 "$MIGRUN" rollback --all --db $URL
    check "everything undone (the recorded downs)" test "$(has_table orders)$(has_table users)" = 00
}

# ---- statements the driver must not split ------------------------------------

# A ';' inside a BEGIN ATOMIC body (PostgreSQL 14+) or the parentheses of a
# multi-action rule does not end the statement: split there, the body was
# cut and the server said "syntax error at end of input".
fpg_begin_atomic_and_rules_are_one_statement() {
    cat > m.mig <<'MIG'
migration fns {
  step add_one {
    up sql {
      CREATE TABLE log (n integer);
      CREATE FUNCTION add_one(i integer) RETURNS integer LANGUAGE sql
      BEGIN ATOMIC
        SELECT CASE WHEN i IS NULL THEN 0 ELSE i + 1 END;
      END;
      CREATE TABLE t (n integer);
      CREATE RULE t_log AS ON INSERT TO t DO ALSO (INSERT INTO log VALUES (NEW.n); INSERT INTO log VALUES (NEW.n + 1));
      INSERT INTO t VALUES (add_one(41));
    }
    down sql { DROP TABLE t; DROP FUNCTION add_one(integer); DROP TABLE log; }
  }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "the function works" test "$(q "SELECT add_one(1)")" = 2
    check "the rule ran both actions" test "$(q "SELECT string_agg(n::text, ',' ORDER BY n) FROM log")" = "42,43"
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "gone" test "$(q "SELECT count(*) FROM pg_proc WHERE proname = 'add_one'")" = 0
}

# ---- commands: applied again, nothing to do ------------------------------------

# An applied exec step is not "drifted": its checksum is its command's
# source, the same in status, plan and the preflight of the next apply.
f_exec_steps_applied_are_up_to_date() {
    cat > m.mig <<'MIG'
migration a {
  phase p {
    transaction step;
    step notify { up exec ["true"]; down exec ["true"]; }
    step t { up sql { CREATE TABLE t (id integer); } down sql { DROP TABLE t; } }
  }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec
    expect_exit 0 "$MIGRUN" status m.mig --db $URL
    check "status: applied, not drifted" contains "applied  p.notify"
    check "no drift" not_contains "drifted"
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "apply again: nothing to do" contains "nothing to do"
    sed -i 's/up exec \["true"\]/up exec ["true", "changed"]/' m.mig
    expect_exit 3 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "a changed command is drift" contains "drift: step a.p.notify"
}

# ---- restore points (down … restores) ------------------------------------------

# A backup step whose down restores it, then schema and an irreversible
# data step, then a command step: the rollback runs the later command's
# down, then the restore instead of the database steps' downs, then the
# earlier commands' downs; the data is back; the tracking tables say so.
write_restore_plan() {
    local backup restore
    if [ "$DIALECT" = postgres ]; then
        backup='["pg_dump", "--format=custom", "--file", dir + "/b.dump"]'
        # pg_restore --clean replaces only what the dump holds: the schema is
        # emptied first, so that what later steps created goes too
        restore='["sh", "-c", "psql -X -q -v ON_ERROR_STOP=1 -c \"DROP SCHEMA public CASCADE\" -c \"CREATE SCHEMA public\" && exec pg_restore --dbname \"$PGDATABASE\" \"$0\"", dir + "/b.dump"]'
        [ "${1:-}" = clean ] && restore='["pg_restore", "--clean", "--if-exists", "--dbname", env("PGDATABASE"), dir + "/b.dump"]'
    else
        backup='["sqlite3", env("MIGRUN_SQLITE_PATH"), ".backup " + dir + "/b.db"]'
        restore='["sqlite3", env("MIGRUN_SQLITE_PATH"), ".restore " + dir + "/b.db"]'
    fi
    cat > m.mig <<MIG
migration upgrade {
  param dir: string = ".";
  phase prepare {
    transaction step;
    step page { up exec ["touch", dir + "/maintenance"]; down exec ["rm", "-f", dir + "/maintenance"]; }
    step backup {
      up exec $backup;
      down exec $restore restores;
    }
  }
  phase schema {
    step t { up sql { CREATE TABLE t (id integer PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'new'); } down sql { DROP TABLE t; } }
    step wipe { up sql { UPDATE users SET name = 'x'; } down irreversible "the old names are gone"; }
  }
  phase finish {
    transaction step;
    step start { up exec ["touch", dir + "/started"]; down exec ["rm", "-f", dir + "/started"]; }
  }
}
MIG
    q "CREATE TABLE users (id integer, name text); INSERT INTO users VALUES (1, 'ada'), (2, 'bob');"
}

user_names() { q "SELECT name FROM users ORDER BY id" | paste -sd,; }

f_restore_point_replaces_later_database_downs() {
    write_restore_plan
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "applied: data changed" test "$(user_names)" = "x,x"
    check "commands ran" test -f started -a -f maintenance
    # a rollback that does not reach the restore point cannot cross the irreversible step
    expect_exit 3 "$MIGRUN" rollback --to upgrade.prepare --db $URL --allow-exec
    check "refused at the irreversible step" contains "cannot roll back upgrade.schema.wipe"
    check "the restore point is not reached: nothing changes" test -f started
    expect_exit 0 "$MIGRUN" rollback --db $URL --allow-exec
    check "names what the restore replaces" contains "replaces the downs of 2 steps applied after it: upgrade.schema.wipe (irreversible), upgrade.schema.t"
    check "the later command's down ran" test ! -e started
    check "the earlier command's down ran" test ! -e maintenance
    check "the replaced steps are reported undone" contains "by the restore of upgrade.prepare.backup"
    check "the data is back" test "$(user_names)" = "ada,bob"
    check "no table t" test "$(has_table t)" = 0
    check "nothing tracked" test "$(tracked)" = 0
    check "the runs table keeps both runs" test "$(q "SELECT run || ':' || command || ':' || outcome FROM mig_runs ORDER BY run" | paste -sd,)" = "1:apply:success,2:rollback:success"
    check "order: start's down, restore, page's down" test "$(printf '%s\n' "$OUT" | grep -o 'undone  *upgrade\.[a-z]*\.[a-z]*' | awk '{print $2}' | tr '\n' ' ')" = "upgrade.finish.start upgrade.schema.wipe upgrade.schema.t upgrade.prepare.backup upgrade.prepare.page "
    check "the schema is as before" test "$(q "SELECT count(*) FROM users")" = 2
    expect_exit 0 "$MIGRUN" log --db $URL
    check "the journal records the replaced steps as undone" test "$(printf '%s\n' "$OUT" | grep -c 'undone')" -ge 5
    # and it applies again from there
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "applied again" test "$(q "SELECT count(*) FROM mig_applied WHERE status = 'applied'")" = 5
    expect_exit 0 "$MIGRUN" rollback --all --db $URL --allow-exec
    check "and back again" test "$(user_names)" = "ada,bob"
}

# The automatic undo of a failed run uses the restore point too.
f_restore_point_in_the_automatic_undo() {
    write_restore_plan
    sed -i 's/step start { up exec \["touch", dir + "\/started"\]/step start { up exec ["false"]/' m.mig
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "the step failed" contains "exit status 1"
    check "rolled back through the restore" contains "by the restore of upgrade.prepare.backup"
    check "says it is as before" contains "is as it was before this run"
    check "the data is back" test "$(user_names)" = "ada,bob"
    check "nothing tracked" test "$(tracked)" = 0
    check "the maintenance page is gone" test ! -e maintenance
}

# A restore that brings back a backup which is not the one the step took
# (tracking rows that do not match) is never "as before".
f_restore_of_a_foreign_backup_is_reported() {
    write_restore_plan
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec
    # the backup now holds a step that this database never applied
    q "INSERT INTO mig_applied (migration, phase, step, status, entry_uid, applied_at, seq, run) VALUES ('other', 'p', 's', 'applied', 'uid-x', 'now', 99, 1)" >/dev/null
    if [ "$DIALECT" = postgres ]; then
        pg_dump --format=custom --file b.dump "$PGDB"
    else
        sqlite3 db.sqlite ".backup b.db"
    fi
    q "DELETE FROM mig_applied WHERE entry_uid = 'uid-x'" >/dev/null
    expect_exit 4 "$MIGRUN" rollback --db $URL --allow-exec
    check "names the mismatch" contains "do not match what was applied before it"
    check "names the foreign step" contains "other.p.s (not applied before)"
    check "never as before" not_contains "is as it was before"
}

# pg_restore --clean --if-exists (the guides' restore) leaves the tables that
# later steps created: the rollback says so, naming them (exit 4), and
# never reports the database as before.
fpg_restore_that_leaves_objects_is_never_as_before() {
    write_restore_plan clean
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec
    expect_exit 4 "$MIGRUN" rollback --db $URL --allow-exec
    check "says the schema is not as before" contains "did not bring the schema back as it was before that step"
    check "names the table left" contains "relation public.t r"
    check "names its column" contains "column public.t.id integer not null"
    check "no 'done'" not_contains "done:"
    check "the data of the backup is back all the same" test "$(user_names)" = "ada,bob"
}

pattern='^(f|fsq)_'
[ "$DIALECT" = postgres ] && pattern='^(f|fpg)_'
# FLOWS=REGEX runs only the matching cases
for t in $(declare -F | awk '{print $3}' | grep -E "$pattern" | grep -E -- "${FLOWS:-.}"); do
    run_case "$t"
done
finish
