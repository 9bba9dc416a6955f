#!/usr/bin/env bash
# failover.sh — migrun apply and rollback across a real PostgreSQL failover
# (issue 17, item 4). Each case builds its own cluster on localhost, as the
# `postgres` user when run as root: a primary (port 5750) and a standby
# (5751) made with pg_basebackup -R, streaming; migrun connects with the
# multi-host URL postgresql://postgres@localhost:5750,localhost:5751/app?
# target_session_attrs=read-write. The failover: the primary is stopped with
# `pg_ctl stop -m immediate` (a crash: nothing is flushed to the standby
# that was not already sent) while migrun is inside a step, then the
# standby is promoted with `pg_ctl promote`.
#
# Plain streaming replication with pg_ctl rather than pg_auto_failover: the
# failover happens exactly when the test says (no monitor deciding after
# health checks), the synchronous/asynchronous setting is one line of the
# primary's configuration, and it needs no package beyond the server; what
# migrun sees — the connection drops, the old host refuses, the other host
# becomes read-write — is the same.
#
# The steps sleep only on the old primary (port 5750), so a step that runs
# again on the new one goes quickly; each step inserts its name into a log
# table in its own transaction, so "applied exactly once" is a count.
#
# Cases (FAILOVER_CASES=REGEX selects):
#   sync      synchronous_standby_names set: every commit migrun saw is on
#             the standby; the step interrupted runs again; exit 0, each
#             step once, the journal agrees.
#   async     asynchronous: the standby is cut off (stopped while a step
#             waits for a lock the test holds), steps commit on the
#             primary only, then the failover (the standby starts again
#             without its primary and is promoted): migrun says which commits
#             were lost and runs them again; each step once.
#   none      failover while a `transaction none` CREATE INDEX CONCURRENTLY
#             waits: the invalid index it left on the new primary is
#             dropped and the index built again; valid, once.
#   exec      failover while an exec step's command runs: it cannot be
#             recorded as applied, so it runs again (the command twice, as
#             doc/migrun.1 says), the step recorded once.
#   rollback  failover while migrun rollback runs a down: it reconnects and
#             finishes; nothing tracked, the objects gone.
#   pooler    the sync case through PgBouncer in transaction mode with
#             --lock xact; after the promotion the pooler is pointed at the
#             new primary (RELOAD), as a failover hook would
#   pooler_table  the same with --lock table and a tenant schema (--schema:
#             SET LOCAL search_path through the pooler): every table in it.
#   timeout   --reconnect-timeout 2s and no standby promoted: exit 4 within
#             bounds, saying that it could not connect again (never "as
#             before").
: "${MIGRUN:?}"
export NO_COLOR=1
pass=0 fail=0
P1=5750 P2=5751     # (and 5752: the pooler)
BIN=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
[ -x "$BIN/pg_ctl" ] || BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
work=$(mktemp -d)
chmod 755 "$work"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
    as_pg=(runuser -u postgres --)
    chown postgres "$work"
fi
URL="postgresql://postgres@localhost:$P1,localhost:$P2/app?target_session_attrs=read-write&connect_timeout=2"
bg=""

stop_all() {
    for p in $bg; do kill -9 "$p" 2>/dev/null; done
    bg=""
    for d in p1 p2; do
        [ -f "$work/$d/postmaster.pid" ] && "${as_pg[@]}" "$BIN/pg_ctl" -D "$work/$d" -m immediate stop >/dev/null 2>&1
    done
}
trap 'stop_all; rm -rf "$work"' EXIT
cd "$work" || exit 99

ok() {
    pass=$((pass + 1))
    echo "ok: $*"
    [ -n "${MIG_TEST_VERBOSE:-}" ] && [ -f out ] && sed 's/^/    | /' out
    return 0
}
say() { [ -n "${MIG_TEST_VERBOSE:-}" ] && echo "  $(date +%T) $*"; return 0; }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
    [ -f out ] && sed 's/^/    | /' out | tail -40
}

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -h localhost -U postgres -p "$1" -d "${3:-app}" -c "$2"; }

# cluster sync|async — a fresh primary on P1 with a streaming standby on P2
cluster() {
    say "cluster $1"
    stop_all
    rm -rf p1 p2 ./*.db ./*.mig out
    "${as_pg[@]}" "$BIN/initdb" -D "$work/p1" -U postgres --auth=trust --no-sync >init.log 2>&1 || { cat init.log; return 1; }
    cat >> p1/postgresql.conf <<CONF
port = $P1
listen_addresses = 'localhost'
unix_socket_directories = '$work'
wal_level = replica
max_wal_senders = 4
fsync = off
full_page_writes = on
wal_keep_size = 64MB
CONF
    "${as_pg[@]}" "$BIN/pg_ctl" -D "$work/p1" -l "$work/p1.log" -w start >/dev/null || { cat p1.log; return 1; }
    q $P1 "CREATE DATABASE app" postgres >/dev/null
    "${as_pg[@]}" "$BIN/pg_basebackup" -h localhost -p $P1 -U postgres -D "$work/p2" -R -X stream -c fast >bb.log 2>&1 ||
        { cat bb.log; return 1; }
    cat >> p2/postgresql.auto.conf <<CONF
port = $P2
primary_conninfo = 'host=localhost port=$P1 user=postgres application_name=standby1'
CONF
    "${as_pg[@]}" "$BIN/pg_ctl" -D "$work/p2" -l "$work/p2.log" -w start >/dev/null || { cat p2.log; return 1; }
    local i want=async
    if [ "$1" = sync ]; then
        # (set once the standby is there: until then every commit would wait)
        want=sync
        q $P1 "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" postgres &&
            q $P1 "ALTER SYSTEM SET synchronous_commit = 'on'" postgres && q $P1 "SELECT pg_reload_conf()" postgres >/dev/null
    fi
    for ((i = 0; i < 100; i++)); do
        [ "$(q $P1 "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1' AND state = 'streaming'" 2>/dev/null)" = $want ] && say "cluster up" && return 0
        sleep 0.1
    done
    echo "the standby did not start streaming ($want)"
    return 1
}

# failover — the primary crashes (immediate stop), the standby is promoted
failover() {
    say "failover: the primary stops"
    "${as_pg[@]}" "$BIN/pg_ctl" -D "$work/p1" -m immediate stop >/dev/null 2>&1
    sleep 1     # migrun sees the connection drop and starts retrying
    # (a standby stopped to cut it off starts again, without its primary)
    [ -f "$work/p2/postmaster.pid" ] || "${as_pg[@]}" "$BIN/pg_ctl" -D "$work/p2" -l "$work/p2.log" -w start >/dev/null
    "${as_pg[@]}" "$BIN/pg_ctl" -D "$work/p2" -w promote >/dev/null
    say "failover: the standby is promoted"
}

# wait_for PORT CONDITION-SQL — until migrun's session on PORT matches (20 s)
wait_for() {
    local i
    for ((i = 0; i < 200; i++)); do
        [ "$(q "$1" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'migrun' AND $2" 2>/dev/null)" -ge 1 ] 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# wait_pid PID SECONDS — its exit code in RC (killed after SECONDS)
wait_pid() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$1" 2>/dev/null && { echo "    (migrun still running after $2 s: killed)"; kill -9 "$1"; }
    wait "$1"
    RC=$?
    say "migrun exited $RC"
}

# sleeps only on the old primary
NAP="SELECT pg_sleep(CASE WHEN current_setting('port') = '$P1' THEN 60 ELSE 0 END)"

# once PORT — every step of the history applied exactly once: the log
# table holds each name once, mig_applied each step once as applied, and
# the journal's done applied entries are the same steps
once() {
    local port=$1 problems=""
    local dup
    dup=$(q "$port" "SELECT string_agg(name || ' x' || n, ', ') FROM (SELECT name, count(*) n FROM log GROUP BY name HAVING count(*) <> 1) d")
    [ -z "$dup" ] || problems="$problems; log rows not once: $dup"
    local logged tracked journaled
    logged=$(q "$port" "SELECT string_agg(name, ',' ORDER BY name) FROM (SELECT DISTINCT name FROM log) d")
    [ "$logged" = "$2" ] || problems="$problems; logged steps '$logged', want '$2'"
    tracked=$(q "$port" "SELECT string_agg(step, ',' ORDER BY step) FROM mig_applied WHERE status = 'applied'")
    [ "$tracked" = "$3" ] || problems="$problems; tracked steps '$tracked', want '$3'"
    [ "$(q "$port" "SELECT count(*) FROM mig_applied WHERE status <> 'applied'")" = 0 ] ||
        problems="$problems; rows not applied: $(q "$port" "SELECT string_agg(step || ':' || status, ',') FROM mig_applied WHERE status <> 'applied'")"
    journaled=$(sqlite3 j.db "SELECT group_concat(step, ',') FROM (SELECT step FROM entries WHERE action = 'applied' AND state = 'done' ORDER BY step)")
    [ "$journaled" = "$3" ] || problems="$problems; journal's done applied entries '$journaled', want '$3'"
    local uids_t uids_j
    uids_t=$(q "$port" "SELECT string_agg(entry_uid, ',' ORDER BY entry_uid) FROM mig_applied")
    uids_j=$(sqlite3 j.db "SELECT group_concat(uid, ',') FROM (SELECT uid FROM entries WHERE action = 'applied' AND state = 'done' ORDER BY uid)")
    [ "$uids_t" = "$uids_j" ] || problems="$problems; the journal's entries are not the target's rows"
    PROBLEMS=$problems
}

# ---- sync --------------------------------------------------------------------------------

case_sync() {
    cluster sync || { bad "sync: the cluster did not start"; return; }
    cat > h.mig <<MIG
migration base {
  target postgres;
  step log { up sql { CREATE TABLE log (name text NOT NULL); INSERT INTO log VALUES ('log'); } down sql { DROP TABLE log; } }
  phase fill {
    transaction step;
    step a { up sql { CREATE TABLE a (id integer); INSERT INTO log VALUES ('a'); } down sql { DROP TABLE a; DELETE FROM log WHERE name = 'a'; } }
    step nap { up sql { INSERT INTO log VALUES ('nap'); $NAP; } down sql { DELETE FROM log WHERE name = 'nap'; } }
    step b { up sql { CREATE TABLE b (id integer); INSERT INTO log VALUES ('b'); } down sql { DROP TABLE b; DELETE FROM log WHERE name = 'b'; } }
  }
}
migration more {
  target postgres;
  after base;
  step c { up sql { CREATE TABLE c (id integer); INSERT INTO log VALUES ('c'); } down sql { DROP TABLE c; DELETE FROM log WHERE name = 'c'; } }
}
MIG
    "$MIGRUN" apply h.mig --db "$URL" --journal j.db >out 2>&1 &
    local pid=$!
    bg="$pid"
    wait_for $P1 "wait_event = 'PgSleep'" || { bad "sync: migrun never reached the sleeping step"; return; }
    failover
    wait_pid "$pid" 90
    once $P2 "a,b,c,log,nap" "a,b,c,log,nap"
    [ "$RC" = 0 ] || PROBLEMS="$PROBLEMS; exit $RC, want 0"
    grep -q "connection to .* was lost during base.fill.nap" out || PROBLEMS="$PROBLEMS; no word of the lost connection during base.fill.nap"
    grep -q "were lost" out && ! grep -q "0 of this run's commits were lost" out && PROBLEMS="$PROBLEMS; says commits were lost under synchronous replication"
    grep -q "as before" out && PROBLEMS="$PROBLEMS; claims 'as before'"
    if [ -n "$PROBLEMS" ]; then bad "sync${PROBLEMS}"; else ok "sync: failover mid-step, reconnected to the new primary, each step once"; fi
}

# ---- async -------------------------------------------------------------------------------

case_async() {
    cluster async || { bad "async: the cluster did not start"; return; }
    # gate waits for a lock the test holds; meanwhile the standby is stopped
    # (cut off); then gate, c and d commit on the old primary only, and nap
    # is where the failover lands: in the migration after theirs, which the
    # run had finished (and whose rows its session forgot) — the lost
    # commits are still found, and base runs again from its first lost step
    q $P1 "CREATE TABLE gate_lock (x integer)"
    cat > h.mig <<MIG
migration base {
  target postgres;
  step log { up sql { CREATE TABLE log (name text NOT NULL); INSERT INTO log VALUES ('log'); } down sql { DROP TABLE log; } }
  phase fill {
    transaction step;
    step gate { up sql { INSERT INTO log VALUES ('gate'); SELECT count(*) FROM gate_lock; } down sql { DELETE FROM log WHERE name = 'gate'; } }
    step c { up sql { CREATE TABLE c (id integer); INSERT INTO log VALUES ('c'); } down sql { DROP TABLE c; DELETE FROM log WHERE name = 'c'; } }
    step d { up sql { CREATE TABLE d (id integer); INSERT INTO log VALUES ('d'); } down sql { DROP TABLE d; DELETE FROM log WHERE name = 'd'; } }
  }
}
migration later {
  target postgres;
  after base;
  step nap { up sql { INSERT INTO log VALUES ('nap'); $NAP; } down sql { DELETE FROM log WHERE name = 'nap'; } }
}
MIG
    coproc GATE { psql -X -q -A -t -h localhost -U postgres -p $P1 -d app; }
    echo "BEGIN; LOCK TABLE gate_lock IN ACCESS EXCLUSIVE MODE; SELECT 'held';" >&"${GATE[1]}"
    local line
    read -r -t 10 line <&"${GATE[0]}"
    "$MIGRUN" apply h.mig --db "$URL" --journal j.db >out 2>&1 &
    local pid=$!
    bg="$pid $GATE_PID"
    wait_for $P1 "wait_event_type = 'Lock'" || { bad "async: migrun never waited at the gate"; return; }
    # everything so far is on the standby; then the standby stops
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(q $P1 "SELECT count(*) FROM pg_stat_replication WHERE replay_lsn >= pg_current_wal_flush_lsn()")" = 1 ] && break
        sleep 0.1
    done
    say "the standby stops"
    "${as_pg[@]}" "$BIN/pg_ctl" -D "$work/p2" -m fast stop >/dev/null || { bad "async: the standby did not stop"; return; }
    echo "ROLLBACK;" >&"${GATE[1]}"
    wait_for $P1 "wait_event = 'PgSleep'" || { bad "async: migrun never reached the nap"; return; }
    local on_old
    on_old=$(q $P1 "SELECT string_agg(name, ',' ORDER BY name) FROM log")
    failover
    wait_pid "$pid" 90
    kill "$GATE_PID" 2>/dev/null
    once $P2 "c,d,gate,log,nap" "c,d,gate,log,nap"
    [ "$RC" = 0 ] || PROBLEMS="$PROBLEMS; exit $RC, want 0"
    [ "$on_old" = "c,d,gate,log" ] || PROBLEMS="$PROBLEMS; (test setup) the old primary had '$on_old' before the failover"
    for s in gate c d; do
        grep -q "base.fill.$s: its commit was acknowledged before the connection was lost but is not on" out ||
            PROBLEMS="$PROBLEMS; no word that the commit of base.fill.$s was lost"
    done
    grep -q "3 of this run's commits were lost" out || PROBLEMS="$PROBLEMS; no count of 3 lost commits"
    [ "$(sqlite3 j.db "SELECT count(*) FROM entries WHERE action = 'applied' AND state = 'aborted' AND step IN ('gate', 'c', 'd')")" = 3 ] ||
        PROBLEMS="$PROBLEMS; the journal does not mark the 3 lost entries aborted"
    grep -q "as before" out && PROBLEMS="$PROBLEMS; claims 'as before'"
    if [ -n "$PROBLEMS" ]; then bad "async${PROBLEMS}"; else ok "async: 3 acknowledged commits lost with the old primary were found missing and ran again, each step once"; fi
}

# ---- transaction none --------------------------------------------------------------------

case_none() {
    cluster sync || { bad "none: the cluster did not start"; return; }
    cat > h.mig <<MIG
migration base {
  target postgres;
  step log { up sql { CREATE TABLE log (name text NOT NULL); INSERT INTO log VALUES ('log'); CREATE TABLE big (id integer, v integer); INSERT INTO big SELECT g, g FROM generate_series(1, 1000) g; } down sql { DROP TABLE big; DROP TABLE log; } }
}
migration online {
  target postgres;
  after base;
  phase idx {
    transaction none;
    step big_v { up sql { CREATE INDEX CONCURRENTLY big_v ON big (v); } down sql { DROP INDEX CONCURRENTLY IF EXISTS big_v; } }
  }
  step later { up sql { INSERT INTO log VALUES ('later'); } down sql { DELETE FROM log WHERE name = 'later'; } }
}
MIG
    # a writer holds big open: the CREATE INDEX CONCURRENTLY waits for it
    # after its first transaction (the invalid index) committed
    "$MIGRUN" apply h.mig --db "$URL" --journal j.db --to base >out 2>&1 || { bad "none: the first apply failed"; return; }
    coproc HOLD { psql -X -q -A -t -h localhost -U postgres -p $P1 -d app; }
    echo "BEGIN; INSERT INTO big VALUES (0, 0); SELECT 'held';" >&"${HOLD[1]}"
    local line
    read -r -t 10 line <&"${HOLD[0]}"
    "$MIGRUN" apply h.mig --db "$URL" --journal j.db >out 2>&1 &
    local pid=$!
    bg="$pid ${HOLD_PID:-}"
    wait_for $P1 "query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'" || { bad "none: the CREATE INDEX CONCURRENTLY never waited"; return; }
    [ "$(q $P2 "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'big_v' AND NOT i.indisvalid")" = 1 ] ||
        echo "    (note: the standby has no invalid index big_v yet)"
    failover
    wait_pid "$pid" 90
    kill "${HOLD_PID:-0}" 2>/dev/null
    once $P2 "later,log" "big_v,later,log"
    [ "$RC" = 0 ] || PROBLEMS="$PROBLEMS; exit $RC, want 0"
    [ "$(q $P2 "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'big_v' AND i.indisvalid")" = 1 ] ||
        PROBLEMS="$PROBLEMS; the index big_v is not there and valid on the new primary"
    grep -q "online.idx.big_v ran outside a transaction and was interrupted" out || PROBLEMS="$PROBLEMS; no word that big_v was interrupted and runs again"
    grep -q "dropped the invalid index big_v" out || PROBLEMS="$PROBLEMS; no word of the invalid index dropped"
    [ "$(sqlite3 j.db "SELECT count(*) FROM entries WHERE step = 'big_v' AND state = 'done'")" = 1 ] || PROBLEMS="$PROBLEMS; the journal has not exactly one done entry for big_v"
    if [ -n "$PROBLEMS" ]; then bad "none${PROBLEMS}"; else ok "none: failover during CREATE INDEX CONCURRENTLY; the invalid index dropped, built again once"; fi
}

# ---- exec --------------------------------------------------------------------------------

# an exec step (recorded running, then its command) whose command is still
# running at the failover: it could not be recorded as applied, so it runs
# again on the new primary (as after a crash) — the command twice, the
# step recorded once
case_exec() {
    cluster sync || { bad "exec: the cluster did not start"; return; }
    cat > h.mig <<MIG
migration base {
  target postgres;
  step log { up sql { CREATE TABLE log (name text NOT NULL); INSERT INTO log VALUES ('log'); } down sql { DROP TABLE log; } }
  phase hooks {
    transaction step;
    step hook { up exec ["sh", "-c", "echo ran >> $work/hook.calls; sleep 4"]; down none "a test hook"; }
    step later { up sql { INSERT INTO log VALUES ('later'); } down sql { DELETE FROM log WHERE name = 'later'; } }
  }
}
MIG
    rm -f hook.calls
    "$MIGRUN" apply h.mig --db "$URL" --journal j.db --allow-exec >out 2>&1 &
    local pid=$!
    bg="$pid"
    local i
    for ((i = 0; i < 200; i++)); do [ -s hook.calls ] && break; sleep 0.1; done
    [ -s hook.calls ] || { bad "exec: the command never started"; return; }
    failover
    wait_pid "$pid" 90
    once $P2 "later,log" "hook,later,log"
    [ "$RC" = 0 ] || PROBLEMS="$PROBLEMS; exit $RC, want 0"
    [ "$(wc -l < hook.calls)" = 2 ] || PROBLEMS="$PROBLEMS; the command ran $(wc -l < hook.calls) times, want 2 (once, then again)"
    grep -q "base.hooks.hook ran outside a transaction and was interrupted" out || PROBLEMS="$PROBLEMS; no word that hook runs again"
    if [ -n "$PROBLEMS" ]; then bad "exec${PROBLEMS}"; else ok "exec: a command running at the failover could not be recorded; it ran again and the step is recorded once"; fi
}

# ---- rollback ----------------------------------------------------------------------------

case_rollback() {
    cluster sync || { bad "rollback: the cluster did not start"; return; }
    cat > h.mig <<MIG
migration base {
  target postgres;
  step log { up sql { CREATE TABLE log (name text NOT NULL); } down sql { DROP TABLE log; } }
  phase fill {
    transaction step;
    step a { up sql { CREATE TABLE a (id integer); } down sql { DROP TABLE a; } }
    step nap { up sql { CREATE TABLE n (id integer); } down sql { $NAP; DROP TABLE n; } }
    step b { up sql { CREATE TABLE b (id integer); } down sql { DROP TABLE b; } }
  }
}
MIG
    "$MIGRUN" apply h.mig --db "$URL" --journal j.db >out 2>&1 || { bad "rollback: the apply failed"; return; }
    "$MIGRUN" rollback --db "$URL" --journal j.db >out 2>&1 &
    local pid=$!
    bg="$pid"
    wait_for $P1 "wait_event = 'PgSleep'" || { bad "rollback: migrun never reached the sleeping down"; return; }
    failover
    wait_pid "$pid" 90
    PROBLEMS=""
    [ "$RC" = 0 ] || PROBLEMS="$PROBLEMS; exit $RC, want 0"
    [ "$(q $P2 "SELECT count(*) FROM mig_applied")" = 0 ] || PROBLEMS="$PROBLEMS; steps still tracked: $(q $P2 "SELECT string_agg(step, ',') FROM mig_applied")"
    [ "$(q $P2 "SELECT count(*) FROM pg_class WHERE relname IN ('log', 'a', 'n', 'b') AND relkind = 'r'")" = 0 ] ||
        PROBLEMS="$PROBLEMS; tables left: $(q $P2 "SELECT string_agg(relname, ',') FROM pg_class WHERE relname IN ('log', 'a', 'n', 'b') AND relkind = 'r'")"
    [ "$(sqlite3 j.db "SELECT count(*) FROM entries WHERE action = 'undone' AND state = 'done'")" = 4 ] ||
        PROBLEMS="$PROBLEMS; the journal has $(sqlite3 j.db "SELECT count(*) FROM entries WHERE action = 'undone' AND state = 'done'") done undone entries, want 4"
    if [ -n "$PROBLEMS" ]; then bad "rollback${PROBLEMS}"; else ok "rollback: failover during a down; reconnected and undid every step once"; fi
}

# ---- pooler ------------------------------------------------------------------------------

# migrun through PgBouncer (pool_mode=transaction, --lock xact) in front of
# the primary; after the promotion the pooler is pointed at the new primary
# (what a failover hook does: its [databases] entry rewritten, then RELOAD
# with SIGHUP); meanwhile migrun's reconnections wait or fail and are retried
# pooler_run NAME LOCK [SCHEMA]: the pooler case with --lock LOCK (and the
# tenant schema SCHEMA, set with SET LOCAL through the pooler)
pooler_run() {
    local name=$1 lock=$2 schema=${3:-}
    local PGBOUNCER
    PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
    [ -x "$PGBOUNCER" ] || { bad "$name: pgbouncer is not installed"; return; }
    cluster sync || { bad "$name: the cluster did not start"; return; }
    local sch=()
    if [ -n "$schema" ]; then
        q $P1 "CREATE SCHEMA $schema" || { bad "$name: cannot create the schema"; return; }
        sch=(--schema "$schema")
    fi
    local BP=5752
    mkdir -p pgb
    pooler_ini() {
        cat > pgb/pgbouncer.ini <<INI
[databases]
app = host=localhost port=$1 user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BP
unix_socket_dir =
auth_type = trust
auth_file = $work/pgb/users.txt
pool_mode = transaction
default_pool_size = 4
server_reset_query =
server_login_retry = 1
query_wait_timeout = 30
ignore_startup_parameters = extra_float_digits,options,application_name
logfile = $work/pgb/pgbouncer.log
pidfile = $work/pgb/pgbouncer.pid
INI
        echo '"postgres" ""' > pgb/users.txt
        chmod 755 pgb
        chmod 644 pgb/*
        [ "$(id -u)" -eq 0 ] && chown -R postgres pgb
        return 0
    }
    pooler_ini $P1
    local as_user=()
    [ "$(id -u)" -eq 0 ] && as_user=(-u postgres)
    "$PGBOUNCER" -d "${as_user[@]}" "$work/pgb/pgbouncer.ini" || { bad "$name: pgbouncer did not start"; return; }
    local i
    for ((i = 0; i < 50; i++)); do psql -X -q -h 127.0.0.1 -p $BP -U postgres -d app -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done
    cat > h.mig <<MIG
migration base {
  target postgres;
  step log { up sql { CREATE TABLE log (name text NOT NULL); INSERT INTO log VALUES ('log'); } down sql { DROP TABLE log; } }
  phase fill {
    transaction step;
    step a { up sql { CREATE TABLE a (id integer); INSERT INTO log VALUES ('a'); } down sql { DROP TABLE a; DELETE FROM log WHERE name = 'a'; } }
    step nap { up sql { INSERT INTO log VALUES ('nap'); $NAP; } down sql { DELETE FROM log WHERE name = 'nap'; } }
    step b { up sql { CREATE TABLE b (id integer); INSERT INTO log VALUES ('b'); } down sql { DROP TABLE b; DELETE FROM log WHERE name = 'b'; } }
  }
}
MIG
    "$MIGRUN" apply h.mig --db "postgresql://postgres@127.0.0.1:$BP/app" --lock "$lock" "${sch[@]}" --journal j.db >out 2>&1 &
    local pid=$!
    bg="$pid"
    wait_for $P1 "wait_event = 'PgSleep'" || { bad "$name: migrun never reached the sleeping step"; kill "$(cat pgb/pgbouncer.pid 2>/dev/null)" 2>/dev/null; return; }
    failover
    pooler_ini $P2
    kill -HUP "$(cat pgb/pgbouncer.pid)"
    say "the pooler points at the new primary"
    wait_pid "$pid" 90
    kill "$(cat pgb/pgbouncer.pid)" 2>/dev/null
    if [ -n "$schema" ]; then
        PGOPTIONS="-c search_path=$schema" once $P2 "a,b,log,nap" "a,b,log,nap"
        [ "$(q $P2 "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0 ] ||
            PROBLEMS="$PROBLEMS; tables in public: $(q $P2 "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'")"
        [ "$(q $P2 "SELECT count(*) FROM pg_tables WHERE schemaname = '$schema'")" = 6 ] ||
            PROBLEMS="$PROBLEMS; tables in $schema: $(q $P2 "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = '$schema'")"
    else
        once $P2 "a,b,log,nap" "a,b,log,nap"
    fi
    [ "$RC" = 0 ] || PROBLEMS="$PROBLEMS; exit $RC, want 0"
    grep -q "was lost during base.fill.nap" out || PROBLEMS="$PROBLEMS; no word of the lost connection during base.fill.nap"
    grep -q "as before" out && PROBLEMS="$PROBLEMS; claims 'as before'"
    if [ -n "$PROBLEMS" ]; then bad "$name${PROBLEMS}"; else ok "$name: through PgBouncer (transaction mode, --lock $lock${schema:+, --schema $schema}), failover mid-step, each step once"; fi
}
case_pooler() { pooler_run pooler xact; }
case_pooler_table() { pooler_run pooler_table table tenant; }

# ---- timeout -----------------------------------------------------------------------------

case_timeout() {
    cluster sync || { bad "timeout: the cluster did not start"; return; }
    cat > h.mig <<MIG
migration base {
  target postgres;
  step log { up sql { CREATE TABLE log (name text NOT NULL); } down sql { DROP TABLE log; } }
  step nap { up sql { INSERT INTO log VALUES ('nap'); $NAP; } down sql { DELETE FROM log WHERE name = 'nap'; } }
}
MIG
    "$MIGRUN" apply h.mig --db "$URL" --journal j.db --reconnect-timeout 2s >out 2>&1 &
    local pid=$!
    bg="$pid"
    wait_for $P1 "wait_event = 'PgSleep'" || { bad "timeout: migrun never reached the sleeping step"; return; }
    local t0=$SECONDS
    "${as_pg[@]}" "$BIN/pg_ctl" -D "$work/p1" -m immediate stop >/dev/null 2>&1
    wait_pid "$pid" 30
    PROBLEMS=""
    [ "$RC" = 4 ] || PROBLEMS="$PROBLEMS; exit $RC, want 4"
    [ $((SECONDS - t0)) -le 15 ] || PROBLEMS="$PROBLEMS; took $((SECONDS - t0)) s with --reconnect-timeout 2s"
    grep -q "retried for" out || PROBLEMS="$PROBLEMS; no word of how long it retried"
    grep -q "could not connect again" out || PROBLEMS="$PROBLEMS; no word that it could not connect again"
    grep -q "as before" out && PROBLEMS="$PROBLEMS; claims 'as before'"
    if [ -n "$PROBLEMS" ]; then bad "timeout${PROBLEMS}"; else ok "timeout: no primary within --reconnect-timeout: exit 4 with the facts"; fi
}

if ! command -v sqlite3 >/dev/null; then
    echo "FAIL: sqlite3 (the journal's reader) is not installed"
    echo "0 passed, 1 failed"
    exit 1
fi
for c in sync async none exec rollback pooler pooler_table timeout; do
    [[ $c =~ ${FAILOVER_CASES:-.} ]] || continue
    PROBLEMS=""
    "case_$c"
done
stop_all
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
