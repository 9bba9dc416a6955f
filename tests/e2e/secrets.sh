#!/usr/bin/env bash
# secrets.sh — passwords never printed nor stored (issue 11, item 5), on the
# real PostgreSQL server of pg_virtualenv: roles with generated-looking
# passwords ('?', '#', '/', '@' in them) log in over TCP with the password
# in the URL (raw or percent-encoded), in its query (password=,
# sslpassword=), in MIGRUN_DB or in PGPASSWORD; the output, --json,
# errors, `migrun log`, the journal file (mode 0600) and the target's
# tracking tables never hold it, and --db with a password draws one warning.
# Without a server this fails: nothing is skipped for want of one.
if ! psql -X -q -A -t -c 'SELECT 1' >/dev/null 2>&1; then
    echo "FAIL: no PostgreSQL server reachable (PGHOST=${PGHOST:-unset}); run the tests with"
    echo "      pg_virtualenv -t make check, as ./dev.sh test does"
    echo "0 passed, 1 failed"
    exit 1
fi
DIALECT=postgres
. "$(dirname "$0")/lib.sh"

HOSTPORT="localhost:${PGPORT:-5432}"
ROLES=""

# new_role NAME PASSWORD — a login role owning the case's database (so it
# may create tables in its public schema), reached over TCP with a password
new_role() {
    psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE ROLE $1 LOGIN PASSWORD '$2'" \
        -c "ALTER DATABASE $PGDB OWNER TO $1" >/dev/null ||
        { echo "    cannot create role $1"; touch "$CASE_DIR/.failed"; }
}

write_migration() {
    cat > m.mig <<'MIG'
migration shop {
  target postgres;
  phase schema {
    step items {
      up   sql { CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL); }
      down sql { DROP TABLE items; }
    }
  }
  phase data {
    step seed {
      up   sql { INSERT INTO items VALUES (1, 'a'); }
      down sql { DELETE FROM items; }
    }
  }
}
MIG
}

# nowhere SECRET... — none of the secrets in $OUT
nowhere() {
    local s
    for s in "$@"; do
        not_contains "$s" || { echo "    printed: $s"; return 1; }
    done
}

# not_stored SECRET... — in neither the journal (its files, as bytes and as
# a .dump) nor the target's tables
not_stored() {
    local s
    for s in "$@"; do
        if grep -q -a -F -- "$s" .migrun/journal.db* || sqlite3 .migrun/journal.db .dump | grep -q -F -- "$s" ||
            snapshot | grep -q -F -- "$s"; then
            echo "    stored: $s"
            return 1
        fi
    done
}

journal_0600() {
    [ "$(stat -c %a .migrun/journal.db)" = 600 ] && [ -z "$(find .migrun -name 'journal.db*' ! -perm 600)" ]
}

warned_once() {
    [ "$(printf '%s\n' "$OUT" | grep -c 'warning: --db carries a password')" -eq 1 ]
}

# the whole round on one URL: apply (text and --json), status, log (text and
# --json), rollback; the secrets printed nowhere, stored nowhere
round() {
    local url=$1
    shift
    expect_exit 0 "$MIGRUN" apply m.mig --db "$url"
    check "applied" test "$(q "SELECT count(*) FROM items")" = 1
    check "apply: the password is not printed" nowhere "$@"
    check "apply: a warning about --db, once" warned_once
    check "apply: the URL shown masked" contains "***"
    expect_exit 0 "$MIGRUN" status m.mig --db "$url" --json
    check "status --json: not printed" nowhere "$@"
    expect_exit 0 "$MIGRUN" log --db "$url"
    check "log: not printed" nowhere "$@"
    check "log: the target named" contains "***@$HOSTPORT/$PGDB"
    expect_exit 0 "$MIGRUN" log --db "$url" --json
    check "log --json: not printed" nowhere "$@"
    expect_exit 0 "$MIGRUN" rollback --db "$url" --json
    check "rollback --json: not printed" nowhere "$@"
    check "rolled back" test "$(has_table items)" = 0
    check "not in the journal nor in the target" not_stored "$@"
    check "the journal is 0600" journal_0600
}

s_password_with_question_mark_and_hash_raw() {
    write_migration
    new_role mig_s1 'Gen?pw#9-Qx'
    round "postgresql://mig_s1:Gen?pw#9-Qx@$HOSTPORT/$PGDB" 'Gen?pw#9-Qx' 'pw#9-Qx' '9-Qx'
}

s_password_percent_encoded() {
    write_migration
    new_role mig_s2 'Gen?pw#9/Qx@7'
    round "postgresql://mig_s2:Gen%3Fpw%239%2FQx%407@$HOSTPORT/$PGDB" 'Gen?pw#9/Qx@7' 'Gen%3Fpw%239%2FQx%407' \
        '9/Qx@7' 'Qx%407'
}

s_password_in_the_query() {
    write_migration
    new_role mig_s3 'Qry?pw#5-Zk'
    round "postgresql://mig_s3@$HOSTPORT/$PGDB?password=Qry%3Fpw%235-Zk&sslpassword=Ssl-Key-5-Zk&sslmode=disable" \
        'Qry?pw#5-Zk' 'Qry%3Fpw%235-Zk' '5-Zk'
    expect_exit 0 "$MIGRUN" log --db "postgresql://mig_s3@$HOSTPORT/$PGDB?password=Qry%3Fpw%235-Zk&sslpassword=Ssl-Key-5-Zk"
    check "sslpassword shown masked" contains "sslpassword=***"
}

s_migrun_db_and_pgpassword_draw_no_warning() {
    write_migration
    new_role mig_s4 'Env?pw#4-Yy'
    OUT=$(MIGRUN_DB="postgresql://mig_s4:Env?pw#4-Yy@$HOSTPORT/$PGDB" "$MIGRUN" apply m.mig 2>&1)
    check "MIGRUN_DB: applied" test "$(q "SELECT count(*) FROM items")" = 1
    check "MIGRUN_DB: not printed" nowhere 'Env?pw#4-Yy' '4-Yy'
    check "MIGRUN_DB: no warning" not_contains "carries a password"
    OUT=$(PGPASSWORD='Env?pw#4-Yy' "$MIGRUN" rollback --db "postgresql://mig_s4@$HOSTPORT/$PGDB" 2>&1)
    check "PGPASSWORD: rolled back" test "$(has_table items)" = 0
    check "PGPASSWORD: no warning" not_contains "carries a password"
    check "PGPASSWORD: not printed" nowhere '4-Yy'
    check "not stored" not_stored 'Env?pw#4-Yy' '4-Yy'
}

s_wrong_password_not_echoed() {
    write_migration
    new_role mig_s5 'Right-pw-5'
    expect_exit 3 "$MIGRUN" apply m.mig --json --db "postgresql://mig_s5:Wr0ng?pw#5-Xx@$HOSTPORT/$PGDB"
    check "the server's refusal" contains "password authentication failed"
    check "the wrong password is not printed" nowhere 'Wr0ng?pw#5-Xx' 'pw#5-Xx' '5-Xx'
    check "nothing applied" test "$(has_table items)" = 0
}

s_unencoded_slash_refused_with_advice() {
    write_migration
    new_role mig_s6 'Sl/pw-6-Ww'
    expect_exit 2 "$MIGRUN" apply m.mig --db "postgresql://mig_s6:Sl/pw-6-Ww@$HOSTPORT/$PGDB"
    check "advice to percent-encode" contains "percent-encode"
    check "not printed" nowhere 'Sl/pw-6-Ww' 'pw-6-Ww' '6-Ww'
    check "nothing applied" test "$(has_table mig_applied)" = 0
    expect_exit 0 "$MIGRUN" apply m.mig --db "postgresql://mig_s6:Sl%2Fpw-6-Ww@$HOSTPORT/$PGDB"
    check "encoded: applied" test "$(q "SELECT count(*) FROM items")" = 1
    check "encoded: not printed" nowhere 'Sl/pw-6-Ww' 'Sl%2Fpw-6-Ww' '6-Ww'
}

s_trace_hides_env_values() {
    cat > m.mig <<'MIG'
migration tok {
  target postgres;
  let token = env("MIG_SECRET_TOKEN");
  let label = "svc:" + env("MIG_SECRET_TOKEN", "none");
  step store {
    up   sql { CREATE TABLE creds (token text, label text); INSERT INTO creds VALUES (${token}, ${label}); }
    down sql { DROP TABLE creds; }
  }
}
MIG
    OUT=$(MIG_SECRET_TOKEN='Tok-7?#-Vv' "$MIGRUN" apply m.mig --db "$URL" --trace 2>&1)
    check "applied with the value" test "$(q "SELECT label FROM creds")" = 'svc:Tok-7?#-Vv'
    check "the trace ran" contains "trace:"
    check "env() values shown as <env>" contains "top=<env>"
    check "the trace does not print them" nowhere 'Tok-7?#-Vv' '7?#-Vv'
}

run_case s_password_with_question_mark_and_hash_raw
run_case s_password_percent_encoded
run_case s_password_in_the_query
run_case s_migrun_db_and_pgpassword_draw_no_warning
run_case s_wrong_password_not_echoed
run_case s_unencoded_slash_refused_with_advice
run_case s_trace_hides_env_values

for r in mig_s1 mig_s2 mig_s3 mig_s4 mig_s5 mig_s6; do
    psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1
done
finish
