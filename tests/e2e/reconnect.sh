#!/usr/bin/env bash
# reconnect.sh — lost connections on PostgreSQL (needs ./configure
# --enable-fault-injection and a server: make check runs inside pg_virtualenv).
#
# a. COMMIT outcome unknown: MIGRUN_DROP_AFTER_COMMIT=K lets migrun's K-th
#    COMMIT succeed on the server and then breaks the connection before
#    migrun reads the answer. For every K of an apply whose last phase fails,
#    the run must exit 1 with the database exactly as before (or exit 4,
#    saying why); for every K of a `rollback --all`, exit 0 with the database
#    back at the start, and never a report that "0 of" the steps were undone.
# b. Reconnect race: runner A loses its connection (and its lock) in its
#    second phase; runner B, waiting for the lock, applies the rest and builds
#    on A's first phase; A reconnects (after MIGRUN_RECONNECT_DELAY_MS) and
#    must not undo what B built on: exit 4, tables a and b kept.
: "${MIGRUN:?}" "${TOP_SRCDIR:?}"
export NO_COLOR=1
pass=0 fail=0
work=$(mktemp -d)
DB=reconnect_$$
URL="postgresql:///$DB"
bg_pids=""
cleanup() {
    for p in $bg_pids; do kill -9 "$p" 2>/dev/null; done
    dropdb --force --if-exists "$DB" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 99

if ! psql -X -q -A -t -c 'SELECT 1' >/dev/null 2>&1; then
    echo "FAIL: no PostgreSQL server reachable: run the tests through pg_virtualenv"
    echo "0 passed, 1 failed"
    exit 1
fi

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

fresh() {
    rm -rf .migrun ./*.db
    dropdb --force --if-exists "$DB" 2>/dev/null
    createdb "$DB"
    q "CREATE TABLE keep (id integer PRIMARY KEY, label text); INSERT INTO keep VALUES (1, 'mine'), (2, 'yours');"
}

# state — schema and data of everything but mig's own objects
state() {
    pg_dump --no-owner --no-privileges -d "$DB" -T 'mig_*' -T '*.mig_*' -N 'mig_*' |
        grep -v -e '^--' -e '^$' -e '^\\restrict' -e '^\\unrestrict'
}

# tracked — rows of the tracking table (0 when it does not exist)
tracked() {
    if [ "$(q "SELECT count(*) FROM pg_class WHERE relname = 'mig_applied' AND relkind = 'r'")" = 1 ]; then
        q "SELECT count(*) FROM mig_applied"
    else
        echo 0
    fi
}

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# ---- a. COMMIT outcome unknown ------------------------------------------------------

# write_plan fail|ok — one migration (its automatic undo covers everything):
# per-phase, per-step, batch and autocommit transactions; the last phase's
# assert fails in the "fail" variant
write_plan() {
    local last_assert=''
    [ "$1" = fail ] && last_assert='assert false else "the last phase fails";'
    cat > plan.mig <<MIG
migration m {
  target postgres;
  phase tables {
    step a { up sql { CREATE TABLE a (id integer PRIMARY KEY, v integer); } down sql { DROP TABLE a; } }
    step a_rows { up sql { INSERT INTO a VALUES (1, 10), (2, 20); } down sql { DELETE FROM a WHERE id IN (1, 2); } }
  }
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
      down sql { UPDATE a SET v = v - 2 WHERE id = 1; }
    }
  }
  phase online {
    transaction none;
    step idx { up sql { CREATE INDEX IF NOT EXISTS b_id ON b (id); } down sql { DROP INDEX IF EXISTS b_id; } }
  }
  phase last {
    step c { up sql { CREATE TABLE c (id integer); } down sql { DROP TABLE c; } }
    $last_assert
  }
}
MIG
}

commits_of() { sed -n 's/^commits: //p' "$1" | tail -1; }

flow_a_apply() {
    write_plan fail
    fresh
    local initial n
    initial=$(state)
    MIGRUN_FAULT_REPORT=1 "$MIGRUN" apply plan.mig --db "$URL" >out.ref 2>&1
    n=$(commits_of out.ref)
    if [ -z "$n" ]; then
        bad "a/apply: no 'commits: N' reported (configure --enable-fault-injection; MIGRUN_FAULT_REPORT=1)"
        return
    fi
    [ "$(state)" = "$initial" ] && [ "$(tracked)" = 0 ] || bad "a/apply: the uninterrupted failing run did not restore the database"
    local k rc fours=0 bads=0
    for ((k = 1; k <= n; k++)); do
        fresh
        MIGRUN_DROP_AFTER_COMMIT=$k "$MIGRUN" apply plan.mig --db "$URL" >out.k 2>&1
        rc=$?
        if [ $rc = 1 ]; then
            if [ "$(state)" != "$initial" ] || [ "$(tracked)" != 0 ]; then
                bad "a/apply K=$k: exit 1 but the database is not as before (tracked rows: $(tracked))"
                diff <(echo "$initial") <(state) | head -10 | sed 's/^/    /'
                sed 's/^/    | /' out.k | tail -15
                bads=$((bads + 1))
                continue
            fi
        elif [ $rc = 4 ]; then
            # a person must look: fine only when migrun says why, and not "as before"
            if ! grep -q . out.k || grep -q "as before" out.k; then
                bad "a/apply K=$k: exit 4 without saying why (or claiming 'as before')"
                sed 's/^/    | /' out.k | tail -15
                bads=$((bads + 1))
                continue
            fi
            fours=$((fours + 1))
        else
            bad "a/apply K=$k: exit $rc, want 1 (or 4 with the facts)"
            sed 's/^/    | /' out.k | tail -15
            bads=$((bads + 1))
            continue
        fi
        ok
    done
    echo "a/apply: $n commits, each dropped once: $((n - bads)) exact ($fours of them exit 4), $bads wrong"
}

flow_a_rollback() {
    write_plan ok
    fresh
    local initial n
    initial=$(state)
    "$MIGRUN" apply plan.mig --db "$URL" >out.apply 2>&1 || { bad "a/rollback: the reference apply failed"; sed 's/^/    | /' out.apply | tail; return; }
    MIGRUN_FAULT_REPORT=1 "$MIGRUN" rollback --all --db "$URL" >out.ref 2>&1
    n=$(commits_of out.ref)
    if [ -z "$n" ]; then
        bad "a/rollback: no 'commits: N' reported (configure --enable-fault-injection; MIGRUN_FAULT_REPORT=1)"
        return
    fi
    [ "$(state)" = "$initial" ] && [ "$(tracked)" = 0 ] || bad "a/rollback: the uninterrupted rollback did not restore the database"
    local k rc bads=0
    for ((k = 1; k <= n; k++)); do
        fresh
        if ! "$MIGRUN" apply plan.mig --db "$URL" >out.apply 2>&1; then
            bad "a/rollback K=$k: the apply failed"
            bads=$((bads + 1))
            continue
        fi
        MIGRUN_DROP_AFTER_COMMIT=$k "$MIGRUN" rollback --all --db "$URL" >out.k 2>&1
        rc=$?
        if [ $rc != 0 ] || [ "$(state)" != "$initial" ] || [ "$(tracked)" != 0 ] || grep -qE '(^|[^0-9])0 of' out.k; then
            bad "a/rollback K=$k: exit $rc (want 0), tracked rows $(tracked), state $([ "$(state)" = "$initial" ] && echo restored || echo differs)$(grep -qE '(^|[^0-9])0 of' out.k && echo ", claims '0 of'")"
            sed 's/^/    | /' out.k | tail -15
            bads=$((bads + 1))
            continue
        fi
        ok
    done
    echo "a/rollback: $n commits, each dropped once: $((n - bads)) exact, $bads wrong"
}

# ---- b. reconnect race ----------------------------------------------------------------

migrun_sleeping() {
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'migrun' AND wait_event = 'PgSleep'")" != 0 ]
}
migrun_sessions() { q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'migrun'"; }

# wait_pid PID SECONDS — waits for a background process, kills it after SECONDS; its exit code in $RC
wait_pid() {
    local pid=$1 i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "    (pid $pid still running after $2 s: killed)"
        kill -9 "$pid" 2>/dev/null
    fi
    wait "$pid"
    RC=$?
}

flow_b() {
    fresh
    # A: p2 sleeps; its p1's down would succeed even after B built on a (CASCADE),
    # so an undo from a stale list shows as a lost table a
    cat > a.mig <<'MIG'
migration m {
  target postgres;
  phase p1 { step a { up sql { CREATE TABLE a (id integer PRIMARY KEY); } down sql { DROP TABLE a CASCADE; } } }
  phase p2 { step nap { up sql { SELECT pg_sleep(20); } down sql { SELECT 1; } } }
}
MIG
    # B: the fixed plan — p2 quick, and n builds on a
    cat > b.mig <<'MIG'
migration m {
  target postgres;
  phase p1 { step a { up sql { CREATE TABLE a (id integer PRIMARY KEY); } down sql { DROP TABLE a CASCADE; } } }
  phase p2 { step nap { up sql { SELECT 1; } down sql { SELECT 1; } } }
}
migration n {
  target postgres;
  after m;
  step b {
    up sql { CREATE TABLE b (id integer PRIMARY KEY, a_id integer REFERENCES a (id)); INSERT INTO a VALUES (1); INSERT INTO b VALUES (1, 1); }
    down sql { DROP TABLE b; DELETE FROM a WHERE id = 1; }
  }
}
MIG
    MIGRUN_RECONNECT_DELAY_MS=3000 "$MIGRUN" apply a.mig --db "$URL" --journal a.db >a.out 2>&1 &
    local a=$!
    bg_pids="$bg_pids $a"
    local i
    for ((i = 0; i < 200; i++)); do migrun_sleeping && break; sleep 0.1; done
    migrun_sleeping || { bad "b: runner A never reached its pg_sleep"; sed 's/^/    | /' a.out; return; }
    "$MIGRUN" apply b.mig --db "$URL" --journal b.db --lock-wait 30s >b.out 2>&1 &
    local b=$!
    bg_pids="$bg_pids $b"
    # B connected and is waiting for the lock
    for ((i = 0; i < 100; i++)); do [ "$(migrun_sessions)" -ge 2 ] && break; sleep 0.1; done
    sleep 1
    kill -0 "$b" 2>/dev/null || { bad "b: runner B did not wait for the lock"; sed 's/^/    | /' b.out; }
    q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'migrun' AND datname = current_database() AND query LIKE '%pg_sleep%'" >/dev/null
    wait_pid "$b" 40
    local rb=$RC
    wait_pid "$a" 40
    local ra=$RC
    local ta tb
    ta=$(q "SELECT count(*) FROM pg_class WHERE relname = 'a' AND relkind = 'r'")
    tb=$(q "SELECT count(*) FROM pg_class WHERE relname = 'b' AND relkind = 'r'")
    local problems=""
    [ "$rb" = 0 ] || problems="$problems; B exited $rb, want 0"
    [ "$ra" = 4 ] || problems="$problems; A exited $ra, want 4"
    [ "$ta" = 1 ] || problems="$problems; table a is gone"
    [ "$tb" = 1 ] || problems="$problems; table b is gone"
    [ "$(q "SELECT count(*) FROM a" 2>/dev/null)" = 1 ] || problems="$problems; a lost B's row"
    [ "$(q "SELECT count(*) FROM mig_applied WHERE migration = 'n'" 2>/dev/null)" = 1 ] || problems="$problems; n is not tracked"
    if [ -n "$problems" ]; then
        bad "b: reconnect race${problems}"
        echo "    A:"; sed 's/^/    | /' a.out | tail -15
        echo "    B:"; sed 's/^/    | /' b.out | tail -15
    else
        ok
        echo "b: A lost its connection, B applied the rest, A reconnected and left B's work alone (exit 4)"
    fi
}

flow_a_apply
flow_a_rollback
flow_b
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
