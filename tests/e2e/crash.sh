#!/usr/bin/env bash
# crash.sh — crash at every point (needs ./configure --enable-fault-injection):
# for K = 1, 2, … every VM instruction, driver call and journal write of an
# apply, migrun is killed with SIGKILL at the K-th point; then a plain
# `migrun apply` must finish with the same database as an uninterrupted run,
# and `migrun rollback --all` must restore the initial schema. On SQLite,
# and on PostgreSQL when a server is reachable (make check runs inside
# pg_virtualenv).
: "${MIGRUN:?}" "${TOP_SRCDIR:?}"
export NO_COLOR=1
pass=0 fail=0 points_total=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 99

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
      down sql { UPDATE a SET v = v - 2 WHERE id = 1; UPDATE a SET v = v - 0 WHERE id = 2; }
    }
  }
  phase online {
    transaction none;
    step idx { up sql { CREATE INDEX IF NOT EXISTS b_id ON b (id); } down sql { DROP INDEX IF EXISTS b_id; } }
  }
  assert scalar sql { SELECT count(*) FROM b } == 2 else "two rows in b";
}
MIG

state() {   # the schema and data that matter, for comparisons
    if [ "$DIALECT" = postgres ]; then
        psql -X -q -A -t -d "$DB" -c "SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY 1)
            FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'mig_applied'" \
            -c "SELECT string_agg(indexname, ',' ORDER BY 1) FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'mig_applied'" \
            -c "SELECT coalesce(string_agg(id || ':' || v, ',' ORDER BY id), '') FROM a" 2>/dev/null \
            -c "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM b" 2>/dev/null
    else
        sqlite3 db.sqlite "SELECT group_concat(type || ' ' || name, ',') FROM (SELECT type, name FROM sqlite_master
                           WHERE name NOT LIKE 'mig_applied%' AND name NOT LIKE 'sqlite_%' ORDER BY name)" \
                          "SELECT group_concat(id || ':' || v, ',') FROM (SELECT * FROM a ORDER BY id)" \
                          "SELECT group_concat(id, ',') FROM (SELECT * FROM b ORDER BY id)" 2>/dev/null
    fi
}

fresh() {
    rm -rf db.sqlite* .migrun
    if [ "$DIALECT" = postgres ]; then
        dropdb --if-exists "$DB" 2>/dev/null
        createdb "$DB"
    fi
}

run_dialect() {
    DIALECT=$1
    if [ "$DIALECT" = postgres ]; then
        DB=crash_$$
        URL="postgresql:///$DB"
    else
        URL="sqlite:db.sqlite"
    fi
    fresh
    local initial final points
    initial=$(state)
    points=$(MIGRUN_FAULT_REPORT=1 "$MIGRUN" apply plan.mig --db "$URL" 2>&1 >/dev/null | sed -n 's/^fault points: //p')
    final=$(state)
    if [ -z "$points" ]; then
        echo "FAIL: $DIALECT: no fault points reported (configure --enable-fault-injection)"
        fail=$((fail + 1))
        return
    fi
    "$MIGRUN" rollback --all --db "$URL" >/dev/null 2>&1
    [ "$(state)" = "$initial" ] || { echo "FAIL: $DIALECT: the reference rollback"; fail=$((fail + 1)); }
    local k bad=0
    for ((k = 1; k <= points; k++)); do
        fresh
        # (in a subshell, so that the shell's "Killed" notice goes nowhere)
        (MIGRUN_CRASH_AT=$k exec "$MIGRUN" apply plan.mig --db "$URL" >out.crash 2>&1) 2>/dev/null
        local rc=$?
        if [ $rc -ne 137 ]; then
            echo "FAIL: $DIALECT K=$k: the run was not killed (exit $rc)"
            bad=$((bad + 1))
            continue
        fi
        if ! "$MIGRUN" apply plan.mig --db "$URL" >out.apply 2>&1; then
            echo "FAIL: $DIALECT K=$k: the apply after the crash failed"
            sed 's/^/    | /' out.apply | head -20
            bad=$((bad + 1))
            continue
        fi
        if [ "$(state)" != "$final" ]; then
            echo "FAIL: $DIALECT K=$k: the database differs from an uninterrupted run"
            echo "    want: $final" | tr '\n' ' '; echo
            echo "    got:  $(state)" | tr '\n' ' '; echo
            bad=$((bad + 1))
            continue
        fi
        if ! "$MIGRUN" rollback --all --db "$URL" >out.rollback 2>&1 || [ "$(state)" != "$initial" ]; then
            echo "FAIL: $DIALECT K=$k: rollback --all did not restore the initial schema"
            sed 's/^/    | /' out.rollback | head -20
            bad=$((bad + 1))
            continue
        fi
    done
    [ "$DIALECT" = postgres ] && dropdb --if-exists "$DB" 2>/dev/null
    echo "$DIALECT: $points crash points exercised, $bad failed"
    points_total=$((points_total + points))
    pass=$((pass + points - bad))
    fail=$((fail + bad))
}

run_dialect sqlite
if psql -X -q -A -t -c 'SELECT 1' >/dev/null 2>&1; then
    run_dialect postgres
else
    echo "FAIL: no PostgreSQL server reachable: run the tests through pg_virtualenv"
    fail=$((fail + 1))
fi
echo "$points_total crash points in all"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
