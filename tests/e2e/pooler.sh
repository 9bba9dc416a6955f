#!/usr/bin/env bash
# pooler.sh — migrun behind a real PgBouncer in pool_mode=transaction,
# started by this test in front of the server of pg_virtualenv: the default
# session lock refuses to work through it (nothing changed, no lock left on
# a pooled server connection), --lock xact and --lock table work, two pooled
# runners never both run a step, and no session setting outlives the run.
. "$(dirname "$0")/lib.sh"
DIALECT=postgres

if ! psql -X -q -A -t -c 'SELECT 1' >/dev/null 2>&1; then
    echo "FAIL: no PostgreSQL server reachable; run through pg_virtualenv (make check does)"
    echo "0 passed, 1 failed"
    exit 1
fi
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
if [ ! -x "$PGBOUNCER" ]; then
    echo "FAIL: pgbouncer is not installed (Debian package pgbouncer; ./dev.sh installs it)"
    echo "0 passed, 1 failed"
    exit 1
fi

BDIR=$(mktemp -d)
BPORT=$((20000 + $$ % 20000))
start_pgbouncer "$PGBOUNCER" "$BDIR" "$BPORT" || { echo "FAIL: pgbouncer did not start"; echo "0 passed, 1 failed"; exit 1; }
trap 'kill "$(cat "$BDIR/pgbouncer.pid" 2>/dev/null)" 2>/dev/null; rm -rf "$BDIR"' EXIT

pooled_url() { echo "postgresql://${PGUSER:-postgres}@127.0.0.1:$BPORT/$PGDB"; }

write_plan() {
    cat > m.mig <<'MIG'
migration bank {
  phase schema {
    step accounts {
      up   sql { CREATE TABLE accounts (id integer PRIMARY KEY, balance bigint NOT NULL); INSERT INTO accounts VALUES (1, 7); }
      down sql { DROP TABLE accounts; }
    }
  }
  phase scale {
    transaction none;
    timeout 30s;
    step cents {
      up   sql { UPDATE accounts SET balance = balance * 100 + 0 * length(pg_sleep(1)::text); }
      down sql { UPDATE accounts SET balance = balance / 100; }
    }
  }
}
MIG
}

p_session_lock_refused_through_a_transaction_pooler() {
    write_plan
    expect_exit 3 "$MIGRUN" apply m.mig --db "$(pooled_url)"
    check "names the pooler and the way out" contains "--lock xact"
    check "nothing created" test "$(has_table mig_applied)" = 0
    check "no advisory lock left on any server connection" \
        test "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")" = 0
    # a direct runner does not wait for a migrun that no longer exists
    expect_exit 0 "$MIGRUN" apply m.mig --db "$URL" --lock-wait 1s
}

p_xact_lock_applies_and_leaves_no_lock() {
    write_plan
    expect_exit 0 "$MIGRUN" apply m.mig --db "$(pooled_url)" --lock xact
    check "applied once" test "$(q "SELECT balance FROM accounts")" = 700
    check "no advisory lock left" test "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")" = 0
    check "the phase's timeout was not set on a pooled connection" contains "not applied"
    check "no session setting outlives the run" \
        test "$(psql -X -A -t -h 127.0.0.1 -p "$BPORT" -d "$PGDB" -c 'SHOW statement_timeout')" = 0
    check "nor client_connection_check_interval" \
        test "$(psql -X -A -t -h 127.0.0.1 -p "$BPORT" -d "$PGDB" -c 'SHOW client_connection_check_interval')" = 0
    expect_exit 0 "$MIGRUN" rollback --db "$URL" --lock-wait 1s
    check "a direct rollback does not wait and undoes" test "$(has_table accounts)" = 0
}

p_table_lock_works_too() {
    write_plan
    expect_exit 0 "$MIGRUN" apply m.mig --db "$(pooled_url)" --lock table
    check "applied" test "$(q "SELECT balance FROM accounts")" = 700
    expect_exit 0 "$MIGRUN" rollback --db "$(pooled_url)" --lock table
    check "rolled back" test "$(has_table accounts)" = 0
}

p_two_pooled_runners_never_both_run_a_step() {
    write_plan
    "$MIGRUN" apply m.mig --db "$(pooled_url)" --lock xact >a.out 2>&1 &
    local a=$!
    "$MIGRUN" apply m.mig --db "$(pooled_url)" --lock xact >b.out 2>&1 &
    local b=$!
    wait "$a"; local ra=$?
    wait "$b"; local rb=$?
    check "one of them applied" test "$ra" = 0 -o "$rb" = 0
    check "the other did not claim success twice" test "$ra" != 4 -a "$rb" != 4
    check "the balance was multiplied exactly once" test "$(q "SELECT balance FROM accounts")" = 700
    check "each step recorded once" test "$(q "SELECT count(*) FROM mig_applied")" = 2
    [ "$(q "SELECT balance FROM accounts")" = 700 ] || { sed 's/^/    a| /' a.out; sed 's/^/    b| /' b.out; }
}

# the second runner starts while the first runs the transaction-none step
# (recorded running, no lock held): it must not run it again
p_second_pooled_runner_during_an_outside_step_refuses() {
    write_plan
    sed -i 's/length(pg_sleep(1)::text)/length(pg_sleep(3)::text)/' m.mig
    "$MIGRUN" apply m.mig --db "$(pooled_url)" --lock xact >a.out 2>&1 &
    local a=$!
    local i=0
    until [ "$(q "SELECT count(*) FROM mig_applied WHERE status = 'running'" 2>/dev/null)" = 1 ] || [ $i -ge 100 ]; do
        sleep 0.05; i=$((i + 1))
    done
    expect_exit 3 "$MIGRUN" apply m.mig --db "$(pooled_url)" --lock xact
    check "names the step and the live run" contains "bank.scale.cents is recorded as running by run"
    wait "$a"; local ra=$?
    check "the first runner finished" test "$ra" = 0
    check "the balance was multiplied exactly once" test "$(q "SELECT balance FROM accounts")" = 700
    check "each step recorded once" test "$(q "SELECT count(*) FROM mig_applied WHERE status = 'applied'")" = 2
    expect_exit 0 "$MIGRUN" apply m.mig --db "$(pooled_url)" --lock xact
    check "then up to date" test "$(q "SELECT balance FROM accounts")" = 700
}

# a runner whose tracking rows are outdated by the time it holds the lock
# stops before running anything
p_runner_with_outdated_rows_stops() {
    write_plan
    sed -i 's/length(pg_sleep(1)::text)/length(pg_sleep(0)::text)/' m.mig
    sed -i 's/INSERT INTO accounts VALUES (1, 7);/INSERT INTO accounts VALUES (1, 7); SELECT pg_sleep(2);/' m.mig
    "$MIGRUN" apply m.mig --db "$(pooled_url)" --lock xact >a.out 2>&1 &
    local a=$!
    sleep 0.7
    "$MIGRUN" apply m.mig --db "$(pooled_url)" --lock xact >b.out 2>&1
    local rb=$?
    wait "$a"; local ra=$?
    check "the first runner finished" test "$ra" = 0
    check "the second did not succeed nor leave a mess" test "$rb" != 0 -a "$rb" != 4
    check "the balance was multiplied exactly once" test "$(q "SELECT balance FROM accounts")" = 700
    check "each step recorded once" test "$(q "SELECT count(*) FROM mig_applied")" = 2
    [ "$(q "SELECT balance FROM accounts")" = 700 ] || { sed 's/^/    a| /' a.out; sed 's/^/    b| /' b.out; }
}

for t in $(declare -F | awk '{print $3}' | grep -E '^p_'); do
    run_case "$t"
done
finish
