#!/bin/sh
# config_check.sh — mig.conf (found from a subfolder, --env, precedence:
# flags > environment > file, [lint] enable/disable/error and a SQLite
# target's rules, passwords never printed),
# migc new (the heads) and migc init, each command's --help and one-line
# usage errors; on PostgreSQL (when PGHOST is set, as under pg_virtualenv)
# --db service=NAME through a pg_service.conf of its own.
: "${MIGC:?MIGC must name the migc binary}"
: "${MIGRUN:?MIGRUN must name the migrun binary}"
unset MIGRUN_DB MIGRUN_JOURNAL MIG_CONFIG MIGRUN_ALLOW_EXEC
NO_COLOR=1
export NO_COLOR
pass=0 fail=0
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $1"; printf '%s\n' "$out" | sed 's/^/    /'; }
# run WANT_EXIT CMD...: runs CMD, keeps its merged output in $out
run() {
    want=$1
    shift
    out=$("$@" 2>&1)
    rc=$?
    [ "$rc" -eq "$want" ] || echo "note: exit $rc (want $want): $*"
}
check() {   # check NAME TEST...
    name=$1
    shift
    if "$@"; then ok; else ko "$name (exit $rc)"; fi
}
has() { printf '%s\n' "$out" | grep -qF -- "$1"; }
hasnt() { ! has "$1"; }
lines() { [ "$(printf '%s\n' "$out" | grep -c .)" -eq "$1" ]; }
table_in() { [ -f "$1" ] && [ "$(sqlite3 "$1" "SELECT count(*) FROM sqlite_master WHERE name = '$2'")" = 1 ]; }
nopg() { env -u PGHOST -u PGPORT -u PGDATABASE -u PGSERVICE -u PGUSER "$@"; }

# ---- a project: mig.conf at the top, run from a subfolder --------------------
proj=$tmp/proj
mkdir -p "$proj/migrations" "$proj/src/deep"
cat > "$proj/mig.conf" <<'EOF'
# the test project
migrations = migrations
db = sqlite:top.db

[env staging]
db = sqlite:staging.db
journal = staging-journal.db

[env empty]
journal = empty-journal.db
schema = for_postgres_only
EOF
cat > "$proj/migrations/a.mig" <<'EOF'
migration a { step s { up sql { CREATE TABLE a (id integer); } down sql { DROP TABLE a; } } }
EOF
cat > "$proj/migrations/b.mig" <<'EOF'
migration b { step s { up sql { CREATE TABLE b (id integer); } down sql { DROP TABLE b; } } }
EOF

cd "$proj/src/deep" || exit 99
run 0 nopg "$MIGC" check
check "migc check without PATH reads mig.conf's migrations from a subfolder" eval '[ $rc -eq 0 ] && [ -z "$out" ]'
run 0 nopg "$MIGRUN" apply
check "migrun apply without PATH or --db: mig.conf's folder and db, from a subfolder" \
    eval '[ $rc -eq 0 ] && table_in "$proj/top.db" a && table_in "$proj/top.db" b'
check "the journal is beside mig.conf, not in the subfolder" \
    eval '[ -f "$proj/.migrun/journal.db" ] && [ ! -e "$proj/src/deep/.migrun" ] && [ ! -e "$proj/src/deep/top.db" ]'
run 0 nopg "$MIGRUN" apply --env staging
check "--env staging: its db and journal" \
    eval '[ $rc -eq 0 ] && table_in "$proj/staging.db" a && [ -f "$proj/staging-journal.db" ]'
run 2 nopg "$MIGRUN" status --env nosuch
check "--env naming no section: exit 2, one line" eval '[ $rc -eq 2 ] && lines 1 && has "no section [env nosuch]"'
run 0 nopg "$MIGRUN" status --env empty
check "--env without a db of its own falls back to the top-level db" eval '[ $rc -eq 0 ] && has "top.db"'
run 2 nopg env MIG_CONFIG= "$MIGRUN" status --env staging
check "--env without mig.conf (MIG_CONFIG set empty): exit 2" eval '[ $rc -eq 2 ] && has "no mig.conf"'
run 0 nopg env MIG_CONFIG="$proj/mig.conf" sh -c 'cd / && "$0" status' "$MIGRUN"
check "MIG_CONFIG names the file from anywhere" eval '[ $rc -eq 0 ] && has "top.db"'

# precedence: --db beats MIGRUN_DB beats the file
run 0 nopg env MIGRUN_DB="sqlite:$tmp/env.db" "$MIGRUN" apply
check "MIGRUN_DB beats mig.conf's db" eval '[ $rc -eq 0 ] && table_in "$tmp/env.db" a'
run 0 nopg env MIGRUN_DB="sqlite:$tmp/env2.db" "$MIGRUN" apply --db "sqlite:$tmp/flag.db"
check "--db beats MIGRUN_DB" eval '[ $rc -eq 0 ] && table_in "$tmp/flag.db" a && [ ! -e "$tmp/env2.db" ]'
run 0 nopg env MIGRUN_DB="sqlite:$tmp/env3.db" "$MIGRUN" apply --env staging
check "--env (a flag) beats MIGRUN_DB" eval '[ $rc -eq 0 ] && [ ! -e "$tmp/env3.db" ]'
run 0 nopg env MIGRUN_JOURNAL="$tmp/envjournal.db" "$MIGRUN" apply --db "sqlite:$tmp/j.db"
check "MIGRUN_JOURNAL beats the journal beside mig.conf" eval '[ $rc -eq 0 ] && [ -f "$tmp/envjournal.db" ]'
run 0 nopg "$MIGRUN" status "$proj/migrations/a.mig"
check "a PATH given beats mig.conf's folders" eval '[ $rc -eq 0 ] && hasnt "migration b" && hasnt " b "'

# [env default] applies without --env, over the top level
mkdir -p "$tmp/dflt/m"
cp "$proj/migrations/a.mig" "$tmp/dflt/m/"
printf 'migrations = m\ndb = sqlite:top.db\n[env default]\ndb = sqlite:default.db\n' > "$tmp/dflt/mig.conf"
out=$(cd "$tmp/dflt" && nopg "$MIGRUN" apply 2>&1); rc=$?
check "[env default] beats the top-level db" eval '[ $rc -eq 0 ] && table_in "$tmp/dflt/default.db" a && [ ! -e "$tmp/dflt/top.db" ]'

# a broken mig.conf names file and line, never echoes a value
mkdir -p "$tmp/broken"
printf 'migrations = m\ndbb = postgresql://u:Fil3-S3cret@localhost:1/db\n' > "$tmp/broken/mig.conf"
out=$(cd "$tmp/broken" && nopg "$MIGRUN" status --db sqlite:x.db 2>&1); rc=$?
check "an unknown key: exit 2, file and line, the value not printed" \
    eval '[ $rc -eq 2 ] && has "mig.conf:2: unknown key '"'dbb'"'" && hasnt "S3cret" && lines 1'
printf 'migrations = m\n[env prod]\ndb = postgresql://u:Fil3-S3cret@localhost:1/db\n' > "$tmp/broken/mig.conf"
out=$(cd "$tmp/broken" && PGCONNECT_TIMEOUT=5 nopg "$MIGRUN" log --env prod 2>&1); rc=$?
check "a password in mig.conf's db is masked, and no ps warning (it is not in argv)" \
    eval '[ $rc -eq 3 ] && hasnt "S3cret" && has "u:***@localhost:1/db" && hasnt "carries a password"'
printf '[nonsense]\nx = 1\n' > "$tmp/broken/mig.conf"
out=$(cd "$tmp/broken" && "$MIGC" check "$proj/migrations" 2>&1); rc=$?
check "an unknown section: exit 2" eval '[ $rc -eq 2 ] && has "unknown section [nonsense]"'

# ---- [lint] disable -------------------------------------------------------------
lint=$tmp/lint
mkdir -p "$lint/m"
cat > "$lint/m/w.mig" <<'EOF'
migration w { param p: string = "x"; step s { up sql { SELECT ${p:raw} } down sql { SELECT 1 } } }
EOF
out=$(cd "$lint" && "$MIGC" check m 2>&1); rc=$?
check "without mig.conf the warning is reported" eval '[ $rc -eq 0 ] && has "[raw-interpolation]"'
printf 'migrations = m\n[lint]\ndisable = rename, raw-interpolation\n' > "$lint/mig.conf"
out=$(cd "$lint" && "$MIGC" check 2>&1); rc=$?
check "[lint] disable: the rule's warnings are not reported" eval '[ $rc -eq 0 ] && [ -z "$out" ]'
out=$(cd "$lint" && "$MIGC" check -Werror 2>&1); rc=$?
check "[lint] disable: -Werror passes" test $rc -eq 0
out=$(cd "$lint" && "$MIGC" build -o plan.migb 2>&1); rc=$?
check "[lint] disable: migc build without PATH, quiet" eval '[ $rc -eq 0 ] && [ -z "$out" ] && [ -s "$lint/plan.migb" ]'
printf '[lint]\ndisable = no-such-rule\n' > "$lint/mig.conf"
out=$(cd "$lint" && "$MIGC" check m 2>&1); rc=$?
check "[lint] disable of an unknown rule: exit 2, one line" \
    eval '[ $rc -eq 2 ] && lines 1 && has "unknown rule '"'no-such-rule'"'"'
printf '[lint]\ndisable = missing-down\n' > "$lint/mig.conf"
out=$(cd "$lint" && "$MIGC" check m 2>&1); rc=$?
check "[lint] disable of an error rule: exit 2" eval '[ $rc -eq 2 ] && has "cannot be disabled"'

# ---- [lint] enable, error; ids checked with their line --------------------------------
style=$TOP_SRCDIR/tests/golden/check/lint_style_opt_in.mig
count() { printf '%s\n' "$out" | grep -c -- "$1"; }
printf '[lint]\nenable = prefer-bigint, prefer-identity,\n  prefer-timestamptz\nenable = prefer-text require-statement-timeout\n' \
    > "$lint/mig.conf"
out=$(cd "$lint" && "$MIGC" check "$style" 2>&1); rc=$?
check "[lint] enable: the opt-in rules fire where they should, warnings only (exit 0)" \
    eval '[ $rc -eq 0 ] && [ "$(count "\[prefer-bigint\]")" -eq 3 ] && [ "$(count "\[prefer-identity\]")" -eq 1 ] &&
          [ "$(count "\[prefer-timestamptz\]")" -eq 2 ] && [ "$(count "\[prefer-text\]")" -eq 2 ] &&
          [ "$(count "\[require-statement-timeout\]")" -eq 1 ]'
check "[lint] enable: nothing on the columns that are already right, the phase with a timeout, SQLite" \
    eval 'hasnt "column widgets.big is" && hasnt "widgets.seen" && hasnt "widgets.label" && hasnt "widgets.code" &&
          hasnt "widgets.ident" && hasnt "gadgets" && hasnt "phase '"'timed'"'" && has "phase '"'p'"'"'
out=$(cd "$lint" && MIG_CONFIG= "$MIGC" check "$style" 2>&1); rc=$?
check "without [lint] enable the opt-in rules never fire" eval '[ $rc -eq 0 ] && [ -z "$out" ]'
printf '[lint]\nerror = prefer-timestamptz, rename\n' > "$lint/mig.conf"
out=$(cd "$lint" && "$MIGC" check "$style" 2>&1); rc=$?
check "[lint] error on an opt-in rule enables it and fails the check (exit 1)" \
    eval '[ $rc -eq 1 ] && [ "$(count "error: .*\[prefer-timestamptz\]")" -eq 2 ] && hasnt "[prefer-bigint]"'
cat > "$lint/m/r.mig" <<'MIG'
migration r { target postgres >= 13; phase p { lock_timeout 1s; step s {
  up sql { ALTER TABLE users RENAME COLUMN fax TO fax_number; }
  down sql { ALTER TABLE users RENAME COLUMN fax_number TO fax; } } } }
MIG
out=$(cd "$lint" && "$MIGC" check m/r.mig 2>&1); rc=$?
check "[lint] error: the rule's warning is an error, counted as one (exit 1)" \
    eval '[ $rc -eq 1 ] && has "r.mig:2:30: error: renaming" && has "1 error and 0 warnings."'
out=$(cd "$lint" && "$MIGC" build m/r.mig -o plan2.migb 2>&1); rc=$?
check "[lint] error: migc build refuses too" eval '[ $rc -ne 0 ] && [ ! -e "$lint/plan2.migb" ] && has "[rename]"'
printf '[lint]\nerror = rename\nwarning = rename\n' > "$lint/mig.conf"
out=$(cd "$lint" && "$MIGC" check m/r.mig 2>&1); rc=$?
check "[lint] an unknown key: exit 2, with its line" \
    eval '[ $rc -eq 2 ] && lines 1 && has "mig.conf:3: unknown key '"'warning'"' in [lint] (known: enable, disable, error)"'
printf '[lint]\n# the style we follow\nenable = prefer-text,\n  prefer-bigint\nenable = prefer-big-int\n' > "$lint/mig.conf"
out=$(cd "$lint" && "$MIGC" check m/r.mig 2>&1); rc=$?
check "[lint] enable of an unknown rule: exit 2, naming the file and line" \
    eval '[ $rc -eq 2 ] && lines 1 && has "$lint/mig.conf:5: [lint] enable: unknown rule '"'prefer-big-int'"'"'
printf '[lint]\n\ndisable = no-such-rule\n' > "$lint/mig.conf"
out=$(cd "$lint" && "$MIGC" check m/r.mig 2>&1); rc=$?
check "[lint] disable of an unknown rule names the line" eval '[ $rc -eq 2 ] && has "mig.conf:3: [lint] disable"'
printf '[lint]\nerror = rename, bogus\n' > "$lint/mig.conf"
out=$(cd "$lint" && "$MIGRUN" plan m/r.mig 2>&1); rc=$?
check "migrun reads the same [lint] and refuses an unknown id too (exit 2)" \
    eval '[ $rc -eq 2 ] && has "mig.conf:2: [lint] error: unknown rule '"'bogus'"'"'
printf '[lint]\nenable = rename\n' > "$lint/mig.conf"
out=$(cd "$lint" && "$MIGC" check m/r.mig 2>&1); rc=$?
check "[lint] enable of a rule that is on by default: exit 2" eval '[ $rc -eq 2 ] && has "is on by default"'
printf '[lint]\nerror = missing-down\n' > "$lint/mig.conf"
out=$(cd "$lint" && "$MIGC" check m/r.mig 2>&1); rc=$?
check "[lint] error of a rule that reports errors: exit 2" eval '[ $rc -eq 2 ] && has "reports errors already"'
printf '[lint]\ndisable = rename\nerror = rename\n' > "$lint/mig.conf"
out=$(cd "$lint" && "$MIGC" check m/r.mig 2>&1); rc=$?
check "[lint] a rule both disabled and an error: exit 2" \
    eval '[ $rc -eq 2 ] && has "mig.conf:3: [lint] error: '"'rename'"' is already in [lint] disable"'

# ---- a SQLite-only target: no PostgreSQL lock or rewrite rule -----------------------
cat > "$lint/m/lite.mig" <<'MIG'
migration lite {
  target sqlite;
  step s {
    up sql {
      CREATE INDEX users_email ON users (email);
      DROP INDEX users_old;
      REINDEX users;
      ALTER TABLE users ADD COLUMN token text DEFAULT (hex(randomblob(16)));
      ALTER TABLE users ADD COLUMN team_id integer REFERENCES teams (id);
      ALTER TABLE users ADD COLUMN made timestamp;
      CREATE TABLE idx_users_on_last_name_first_name_and_email_address_and_phone_no (n integer, v varchar(10));
    }
    down sql {
      DROP TABLE idx_users_on_last_name_first_name_and_email_address_and_phone_no;
      ALTER TABLE users DROP COLUMN made;
      ALTER TABLE users DROP COLUMN team_id;
      ALTER TABLE users DROP COLUMN token;
      CREATE INDEX users_old ON users (email);
      DROP INDEX users_email;
    }
  }
}
MIG
printf '[lint]\nenable = prefer-bigint, prefer-identity, prefer-timestamptz, prefer-text, require-statement-timeout\n' \
    > "$lint/mig.conf"
{
    printf 'error = create-index-blocking, drop-index-blocking, reindex-blocking, volatile-default,\n'
    printf '  constraint-not-valid, identifier-too-long, missing-lock-timeout\n'
} >> "$lint/mig.conf"
out=$(cd "$lint" && "$MIGC" check -Werror m/lite.mig 2>&1); rc=$?
check "target sqlite: every PostgreSQL rule enabled and an error, none fires (-Werror passes)" \
    eval '[ $rc -eq 0 ] && [ -z "$out" ]'
sed -e "s/target sqlite;/target postgres >= 13;/" -e "s/REINDEX users;/REINDEX TABLE users;/" "$lint/m/lite.mig" > "$lint/m/lite_pg.mig"
out=$(cd "$lint" && "$MIGC" check m/lite_pg.mig 2>&1); rc=$?
check "the same migration on PostgreSQL: each of those rules fires" \
    eval '[ $rc -eq 1 ] && has "[create-index-blocking]" && has "[drop-index-blocking]" && has "[reindex-blocking]" &&
          has "[volatile-default]" && has "[constraint-not-valid]" && has "[identifier-too-long]" &&
          has "[missing-lock-timeout]" && has "[prefer-timestamptz]" && has "[prefer-text]"'
rm -f "$lint/mig.conf" "$lint/m/lite_pg.mig" "$lint/m/lite.mig" "$lint/m/r.mig"

# ---- migc new: after the heads ------------------------------------------------------
cd "$proj/src/deep" || exit 99
run 0 "$MIGC" new c
check "migc new: two independent heads → after a, b" \
    eval '[ $rc -eq 0 ] && grep -q "^  after a, b;" "$proj/migrations/c.mig"'
run 0 "$MIGC" new d
check "migc new: then one head → after c" \
    eval '[ $rc -eq 0 ] && grep -q "^  after c;" "$proj/migrations/d.mig" && has "(after c)"'
run 0 "$MIGC" check
check "the skeletons check clean" eval '[ $rc -eq 0 ] && [ -z "$out" ]'
run 0 "$MIGC" fmt --check "$proj/migrations/c.mig" "$proj/migrations/d.mig"
check "the skeletons are formatted" test $rc -eq 0
run 1 "$MIGC" fmt --check
check "migc fmt --check without PATH: mig.conf's folders (the one-line fixtures would change)" \
    eval '[ $rc -eq 1 ] && has "migrations/a.mig" && hasnt "c.mig"'
run 0 nopg "$MIGRUN" apply
check "the skeletons apply" eval '[ $rc -eq 0 ] && has "2 steps applied"'
run 2 "$MIGC" new a
check "migc new of an existing name: exit 2, nothing written" eval '[ $rc -eq 2 ] && has "exists already"'
run 2 "$MIGC" new 9lives
check "migc new of a bad name: exit 2" eval '[ $rc -eq 2 ] && lines 1'
mkdir -p "$tmp/plain/migrations"
out=$(cd "$tmp/plain" && MIG_CONFIG= "$MIGC" new first 2>&1); rc=$?
check "migc new without mig.conf: into migrations/, the first has no after" \
    eval '[ $rc -eq 0 ] && [ -f "$tmp/plain/migrations/first.mig" ] && ! grep -q after "$tmp/plain/migrations/first.mig"'
mkdir -p "$tmp/flat"
out=$(cd "$tmp/flat" && MIG_CONFIG= "$MIGC" new first 2>&1 && MIG_CONFIG= "$MIGC" new second 2>&1); rc=$?
check "migc new without mig.conf nor migrations/: into ., chained" \
    eval '[ $rc -eq 0 ] && grep -q "after first;" "$tmp/flat/second.mig"'
printf 'migration broken {\n' > "$tmp/flat/broken.mig"
out=$(cd "$tmp/flat" && MIG_CONFIG= "$MIGC" new third 2>&1); rc=$?
check "migc new refuses while a file does not parse" eval '[ $rc -eq 1 ] && [ ! -e "$tmp/flat/third.mig" ]'

# ---- migc init -----------------------------------------------------------------------
mkdir -p "$tmp/fresh"
out=$(cd "$tmp/fresh" && "$MIGC" init --db sqlite:dev.db 2>&1); rc=$?
check "migc init: mig.conf and migrations/" \
    eval '[ $rc -eq 0 ] && [ -f "$tmp/fresh/mig.conf" ] && [ -d "$tmp/fresh/migrations" ]'
cp "$tmp/fresh/mig.conf" "$tmp/fresh.conf"
out=$(cd "$tmp/fresh" && "$MIGC" init 2>&1); rc=$?
check "migc init again: refused, mig.conf unchanged" \
    eval '[ $rc -eq 1 ] && has "not overwritten" && cmp -s "$tmp/fresh/mig.conf" "$tmp/fresh.conf"'
out=$(cd "$tmp/fresh" && "$MIGC" new first 2>&1 && nopg "$MIGRUN" apply 2>&1); rc=$?
check "migc init, migc new, migrun apply: the written mig.conf works" \
    eval '[ $rc -eq 0 ] && [ -f "$tmp/fresh/migrations/first.mig" ] && [ -f "$tmp/fresh/dev.db" ]'
mkdir -p "$tmp/fresh2"
out=$(cd "$tmp/fresh2" && "$MIGC" init --db "postgresql://u:In1t-S3cret@h/db" 2>&1); rc=$?
check "migc init --db with a password: refused, not printed, nothing written" \
    eval '[ $rc -eq 2 ] && hasnt "S3cret" && [ ! -e "$tmp/fresh2/mig.conf" ] && [ ! -e "$tmp/fresh2/migrations" ]'

mkdir -p "$tmp/fresh3"
out=$(cd "$tmp/fresh3" && "$MIGC" init --db "service=app" 2>&1); rc=$?
check "migc init --db service=NAME: PostgreSQL through pg_service.conf, written as given" \
    eval '[ $rc -eq 0 ] && grep -q "service=app" "$tmp/fresh3/mig.conf"'
mkdir -p "$tmp/fresh4"
for bad in "mysql://h/db" "service=" "dbname=x" "service=app password=hunter2" "service='app"; do
    out=$(cd "$tmp/fresh4" && "$MIGC" init --db "$bad" 2>&1); rc=$?
    check "migc init --db '${bad%%password*}…': refused (exit 2), nothing written, no password printed" \
        eval '[ $rc -eq 2 ] && hasnt "hunter2" && [ ! -e "$tmp/fresh4/mig.conf" ]'
done

# ---- --help, --version, one-line usage errors -------------------------------------------
cd "$tmp" || exit 99
for c in check build disasm fmt import new init; do
    run 0 "$MIGC" "$c" --help
    check "migc $c --help: its usage and one line per option" \
        eval '[ $rc -eq 0 ] && has "usage: migc $c" && has "  -h, --help " && has "options:" &&
              [ -z "$(printf "%s\n" "$out" | sed -n "/^options:/,/^$/p" | grep -v "^options:" | grep -v "^  -" | grep .)" ]'
done
run 0 "$MIGC" check --help
check "migc check --help lists -Werror and --format" eval 'has "-Werror" && has "--format text|json|sarif"'
run 0 "$MIGC" new --help
check "migc new --help lists --dir only (no check options)" eval 'has "--dir DIR" && hasnt "-Werror"'
run 0 "$MIGC" --version
check "migc --version" eval 'printf "%s\n" "$out" | grep -qE "^migc \(mig\) [0-9]+\.[0-9]+"'
for args in "check --bogus x.mig" "build --frob" "fmt -z" "new" "init extra" "frobnicate" "--bogus"; do
    # shellcheck disable=SC2086
    run 2 "$MIGC" $args
    check "migc $args: one line, with a hint to --help" eval '[ $rc -eq 2 ] && lines 1 && has "--help)"'
done
run 2 "$MIGC" check --bogus x.mig
check "the hint names the command's --help" has "(see: migc check --help)"
run 2 nopg "$MIGRUN" apply --frobnicate
check "migrun apply --frobnicate: one line" eval '[ $rc -eq 2 ] && lines 1 && has "(see: migrun apply --help)"'
run 0 "$MIGRUN" apply --help
check "migrun apply --help lists --env" has "--env NAME"

# ---- PostgreSQL: --db service=NAME through libpq's pg_service.conf -------------------------
if [ -n "${PGHOST:-}" ] && command -v psql >/dev/null 2>&1; then
    dbname=mig_config_check_$$
    if psql -X -q -d "${PGDATABASE:-postgres}" -c "CREATE DATABASE $dbname" >/dev/null 2>&1; then
        pw=${PGPASSWORD:-}
        cat > "$tmp/pg_service.conf" <<EOF
[migtest]
host=$PGHOST
port=${PGPORT:-5432}
dbname=$dbname
user=${PGUSER:-postgres}
${pw:+password=$pw}
EOF
        svc() { env -u PGHOST -u PGPORT -u PGDATABASE -u PGUSER -u PGPASSWORD -u PGSERVICE \
                    PGSERVICEFILE="$tmp/pg_service.conf" "$@"; }
        mkdir -p "$tmp/pg" && cd "$tmp/pg" || exit 99
        run 0 svc "$MIGRUN" apply "$proj/migrations/a.mig" --db service=migtest
        check "PostgreSQL: --db service=NAME applies (the PG* variables unset)" eval '[ $rc -eq 0 ] && has "applied"'
        check "PostgreSQL: the service's password is never printed" \
            eval '[ -z "$pw" ] || [ ${#pw} -lt 4 ] || hasnt "$pw"'
        run 0 svc "$MIGRUN" status "$proj/migrations/a.mig" --db "postgresql://?service=migtest"
        check "PostgreSQL: postgresql://?service=NAME" eval '[ $rc -eq 0 ] && has "applied"'
        run 0 svc "$MIGRUN" test "$proj/migrations/a.mig" --db service=migtest --empty
        check "PostgreSQL: migrun test --db service=NAME (its scratch database through the service)" \
            eval '[ $rc -eq 0 ] && has "passed: 1 pair"'
        printf '[env pg]\ndb = service=migtest\n' > "$tmp/pg/mig.conf"
        run 0 svc "$MIGRUN" rollback --all --env pg
        check "PostgreSQL: [env pg] db = service=NAME, rollback" eval '[ $rc -eq 0 ] && has "undone"'
        run 3 svc "$MIGRUN" status "$proj/migrations/a.mig" --db service=nosuchservice
        check "PostgreSQL: an unknown service: a connection error naming it" \
            eval '[ $rc -ne 0 ] && has "nosuchservice"'
        cd "$tmp" || exit 99
        psql -X -q -d "${PGDATABASE:-postgres}" -c "DROP DATABASE $dbname" >/dev/null 2>&1
    else
        echo "# PostgreSQL: cannot create a database; service= tests skipped"
    fi
else
    echo "# PostgreSQL: skipped (PGHOST is not set; make check runs under pg_virtualenv)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
