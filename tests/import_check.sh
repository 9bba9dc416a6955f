#!/usr/bin/env bash
# import_check.sh — `migc import` (issue 15): the fixtures of tests/import,
# one project per tool in that tool's documented layout, are imported; the
# .mig files and the report must equal tests/golden/import/TOOL/ and
# TOOL.report, pass `migc check` and `migc fmt --check`, and apply with the
# real migrun to SQLite — and to PostgreSQL when PGHOST is set (make check
# runs under pg_virtualenv; a server that does not answer then fails, it is
# not skipped) — with a row for the backfill, then roll back: `--all` is
# refused at the step imported without a down, `--to` it undoes the rest.
# Small projects built here check what is reported as not converted.
# UPDATE_GOLDEN=1 rewrites the golden files.
: "${MIGC:?}" "${MIGRUN:?}" "${TOP_SRCDIR:?}"
export NO_COLOR=1
pass=0 fail=0
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
GOLDEN=$TOP_SRCDIR/tests/golden/import
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }
# check DESCRIPTION COMMAND... — one test
check() {
    local what=$1
    shift
    if "$@"; then ok; else ko "$what"; fi
}

PG=""
if [ -n "${PGHOST:-}" ]; then
    if psql -X -q -A -t -c 'SELECT 1' >/dev/null 2>&1; then
        PG=1
    else
        ko "PGHOST is set ($PGHOST) but no PostgreSQL server answers"
    fi
else
    echo "# PostgreSQL: skipped (PGHOST is not set; make check runs under pg_virtualenv)"
fi

# PostgreSQL suites share one server under make check: hold the shared lock
# that tests/e2e/lib.sh takes, so no case restarts the server under us
if [ -n "$PG" ]; then
    exec 8>>"${TMPDIR:-/tmp}/mig-pg-server-${PGPORT:-5432}.lock"
    flock -s 8
fi

# ---- the fixtures ---------------------------------------------------------------

# q DIALECT DB SQL — one value
q() {
    if [ "$1" = postgres ]; then
        psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$2" -c "$3" 2>&1
    else
        sqlite3 "$2" "$3" 2>&1
    fi
}
# objects DIALECT DB NAME... — "NAME=0|1 …": which tables, views and indexes exist
objects() {
    local d=$1 db=$2 out="" n
    shift 2
    for n in "$@"; do
        if [ "$d" = postgres ]; then
            out="$out $n=$(q "$d" "$db" "SELECT count(*) FROM pg_catalog.pg_class WHERE relname = '$n'")"
        else
            out="$out $n=$(q "$d" "$db" "SELECT count(*) FROM sqlite_master WHERE name = '$n'")"
        fi
    done
    echo "${out# }"
}
# all VALUE NAME... — "NAME=VALUE …"
all() {
    local v=$1 out="" n
    shift
    for n in "$@"; do out="$out $n=$v"; done
    echo "${out# }"
}

# apply_and_roll_back TOOL DIALECT SQLITE_LAST BEFORE_BACKFILL IRREVERSIBLE "KEPT…" "UNDONE…" "LAST…"
# (LAST: what the last migration creates, on SQLite only when SQLITE_LAST is -)
apply_and_roll_back() {
    local tool=$1 d=$2 last=$3 before=$4 irrev=$5 kept=$6 undone=$7 db url to=()
    local j="$tmp/$tool-$d.journal" out="$tmp/$tool.out"
    if [ "$d" = postgres ]; then
        db="imp_$(echo "$tool" | tr -dc 'a-z0-9')"
        dropdb --if-exists "$db" >/dev/null 2>&1
        createdb "$db" || { ko "$tool/$d: cannot create database $db"; return; }
        url="postgresql:///$db"
    else
        db="$tmp/$tool.sqlite"
        url="sqlite:$db"
        # the last migration is PostgreSQL's CREATE INDEX CONCURRENTLY, unless the tool has dialect variants
        [ "$last" != - ] && to=(--to "$last")
    fi
    [ ${#to[@]} -eq 0 ] && undone="$undone $8"
    local o rc
    o=$("$MIGRUN" apply "$out" --db "$url" --journal "$j" --to "$before" 2>&1)
    check "$tool/$d: apply --to $before: $o" test $? -eq 0
    q "$d" "$db" "INSERT INTO users (id, email) VALUES (1, 'Ann@Example.COM')" >/dev/null
    o=$("$MIGRUN" apply "$out" --db "$url" --journal "$j" "${to[@]}" 2>&1)
    check "$tool/$d: apply: $o" test $? -eq 0
    # shellcheck disable=SC2086
    check "$tool/$d: the tables, views and indexes exist" \
        test "$(objects "$d" "$db" $kept $undone)" = "$(all 1 $kept $undone)"
    check "$tool/$d: the backfill ran" test "$(q "$d" "$db" "SELECT display_name FROM users")" = ann@example.com
    o=$("$MIGRUN" rollback --all --db "$url" --journal "$j" 2>&1)
    rc=$?
    check "$tool/$d: rollback --all is refused at $irrev (exit $rc): $o" \
        eval '[ $rc -eq 3 ] && printf "%s" "$o" | grep -q "$irrev.*imported without a down"'
    # shellcheck disable=SC2086
    check "$tool/$d: a refused rollback changes nothing" \
        test "$(objects "$d" "$db" $kept $undone)" = "$(all 1 $kept $undone)"
    o=$("$MIGRUN" rollback --to "$irrev" --db "$url" --journal "$j" 2>&1)
    check "$tool/$d: rollback --to $irrev: $o" test $? -eq 0
    # shellcheck disable=SC2086
    check "$tool/$d: what came after $irrev is undone, the rest stays" \
        test "$(objects "$d" "$db" $kept $undone)" = "$(echo $(all 1 $kept) $(all 0 $undone))"
    if [ "$tool" = sqitch ]; then
        # the reworked view is back to its first version
        check "sqitch/$d: user_names is the view of v1.0 again" \
            test "$(q "$d" "$db" "SELECT count(*) FROM user_names")" = 1
        q "$d" "$db" "SELECT display_name FROM user_names" >/dev/null 2>&1
        check "sqitch/$d: user_names has no display_name after the rollback" test $? -ne 0
    fi
    [ "$d" = postgres ] && dropdb "$db"
}

# import_tool TOOL SUBDIR SQLITE_LAST BEFORE_BACKFILL IRREVERSIBLE "KEPT…" "UNDONE…" "LAST…"
import_tool() {
    local tool=$1 sub=$2 src="$TOP_SRCDIR/tests/import/$1/$2" out="$tmp/$1.out"
    shift 2
    (cd "$tmp" && "$MIGC" import --from "$tool" "$src" -o "$tool.out") >"$tmp/$tool.report" 2>&1
    echo "exit: $?" >>"$tmp/$tool.report"
    if [ -n "${UPDATE_GOLDEN:-}" ]; then
        rm -rf "${GOLDEN:?}/$tool"
        mkdir -p "$GOLDEN/$tool"
        cp "$out"/*.mig "$GOLDEN/$tool/"
        cp "$tmp/$tool.report" "$GOLDEN/$tool.report"
    fi
    if cmp -s "$tmp/$tool.report" "$GOLDEN/$tool.report"; then ok; else
        ko "$tool: the report differs from $tool.report"
        diff -u "$GOLDEN/$tool.report" "$tmp/$tool.report" | head -30
    fi
    if [ "$(cd "$out" && ls)" = "$(cd "$GOLDEN/$tool" && ls)" ] && diff -r "$GOLDEN/$tool" "$out" >/dev/null; then ok; else
        ko "$tool: the .mig files differ from tests/golden/import/$tool"
        diff -ru "$GOLDEN/$tool" "$out" | head -40
    fi
    local o
    o=$("$MIGC" check "$out" 2>&1)
    check "$tool: migc check passes: $o" test $? -eq 0
    o=$("$MIGC" fmt --check "$out" 2>&1)
    check "$tool: migc fmt --check passes: $o" test $? -eq 0
    apply_and_roll_back "$tool" sqlite "$@"
    [ -n "$PG" ] && apply_and_roll_back "$tool" postgres "$@"
}

# tool, its dir, the last migration on SQLite (- all: dialect variants), the one
# before the backfill, the one without a down; what stays after rollback --to
# it, what goes, and what the last migration (CONCURRENTLY) adds
import_tool golang-migrate . - v000002_add_display_name v000003_backfill_display_name \
    "users users_email_key" "posts" "posts_user_id_idx"
import_tool dir . - v002_add_display_name v003_backfill_display_name \
    "users users_email_key" "posts" "posts_user_id_idx"
import_tool dbmate db/migrations v20240203110000_create_posts v20240112141500_add_display_name \
    v20240112142000_backfill_display_name "users users_email_key" "posts post_tags" "posts_user_id_idx"
import_tool goose migrations v00004_create_posts v00002_add_display_name v00003_backfill_display_name \
    "users users_email_key" "posts" "posts_user_id_idx"
import_tool flyway sql v3_create_posts v1_1_add_display_name v2_backfill_display_name \
    "users users_email_key" "posts" "posts_user_id_idx"
import_tool sqitch . user_names posts backfill_display_name \
    "users users_email_key posts user_names" "" "posts_user_id_idx"

# ---- SQL bodies byte for byte -----------------------------------------------------

mkdir -p "$tmp/bytes"
printf '%s\n' \
    "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS \$fn\$" \
    "BEGIN" \
    "    NEW.meta := '{\"touched\": true}';  -- }" \
    "    RETURN NEW;	" \
    "END" \
    "\$fn\$;" \
    "/* a { nested /* } */ comment */" \
    "SELECT E'\\'}', \"odd}name\", \$\$ { \$\$, 'it''s }';   " \
    "-- the last line is a comment: }" >"$tmp/bytes/001_tricky.up.sql"
echo "DROP FUNCTION touch();" >"$tmp/bytes/001_tricky.down.sql"
"$MIGC" import --from dir "$tmp/bytes" -o "$tmp/bytes.out" >/dev/null 2>&1
check "a body with braces in literals, dollar quotes and comments imports" test $? -eq 0
awk '/^    up sql \{$/ { on = 1; next } on && /^    }$/ { exit } on' "$tmp/bytes.out/v001_tricky.mig" >"$tmp/bytes/body"
check "its SQL is in the .mig byte for byte" cmp -s "$tmp/bytes/001_tricky.up.sql" "$tmp/bytes/body"
"$MIGC" check "$tmp/bytes.out" >/dev/null 2>&1
check "and compiles" test $? -eq 0

# ---- what is not converted ---------------------------------------------------------

# imp TOOL DIR — runs the import of $tmp/DIR into $tmp/DIR.out; $OUT, $RC
imp() {
    OUT=$(cd "$tmp" && "$MIGC" import --from "$1" "$2" -o "$2.out" 2>&1)
    RC=$?
}
has() { printf '%s\n' "$OUT" | grep -qF -- "$1"; }

mkdir -p "$tmp/g"
printf -- '-- +goose Up\nCREATE TABLE a (id integer);\n-- +goose Down\nDROP TABLE a;\n' >"$tmp/g/001_a.sql"
printf 'package migrations\n' >"$tmp/g/002_seed.go"
printf -- '-- +goose ENVSUB ON\n-- +goose Up\nCREATE ROLE ${APP_ROLE};\n' >"$tmp/g/003_role.sql"
printf 'CREATE TABLE b (id integer);\n' >"$tmp/g/004_no_annotation.sql"
printf -- '-- +goose Up\n-- +goose Frobnicate\nSELECT 1;\n' >"$tmp/g/005_bad.sql"
imp goose g
check "goose: exit 1 when something is not converted ($RC)" test $RC -eq 1
check "goose: a Go migration is reported" has "002_seed.go: a Go migration: not converted"
check "goose: ENVSUB is reported" has "003_role: not converted: -- +goose ENVSUB ON"
check "goose: a file without -- +goose Up is reported" has "004_no_annotation: not converted"
check "goose: an unknown annotation is reported" has "005_bad: not converted: goose cannot read '-- +goose Frobnicate'"
check "goose: what converts is written" test -f "$tmp/g.out/v001_a.mig"

mkdir -p "$tmp/d"
printf 'CREATE TABLE t (id integer);\n' >"$tmp/d/01_t.up.sql"
printf 'DROP TABLE t;\n' >"$tmp/d/01_t.down.sql"
printf "INSERT INTO t VALUES (\${id});\n" >"$tmp/d/02_interp.sql"
printf '\\set ON_ERROR_STOP on\nSELECT 1;\n' >"$tmp/d/03_psql.sql"
printf "SELECT 'x' = :'name';\n" >"$tmp/d/04_psqlvar.sql"
printf 'SELECT 1;\n' >"$tmp/d/05_twice.sql"
printf 'SELECT 2;\n' >"$tmp/d/05_twice.up.sql"
printf "SELECT 'unterminated;\n" >"$tmp/d/06_open.sql"
printf 'CREATE TABLE u (id integer);\n' >"$tmp/d/import.up.sql"
printf 'DROP TABLE u;\n' >"$tmp/d/import.down.sql"
printf 'SELECT 3;\n' >"$tmp/d/07 Odd-Name!.sql"
printf 'SELECT 4;\n' >"$tmp/d/07_odd_name.sql"
printf 'SELECT \x27\xff\x27;\n' >"$tmp/d/08_latin1.sql"
printf 'notes\n' >"$tmp/d/README"
imp dir d
check "dir: exit 1 when something is not converted ($RC)" test $RC -eq 1
check "dir: \${…} outside quotes is reported" has "02_interp: not converted: 02_interp.sql: it holds \${…} outside quotes"
check "dir: a psql meta-command is reported" has "03_psql: not converted: 03_psql.sql: it holds a psql meta-command"
check "dir: a psql variable is reported" has "04_psqlvar: not converted: 04_psqlvar.sql: it holds a psql variable"
check "dir: two ups of one name are reported" has "05_twice: 05_twice.sql and 05_twice.up.sql are both its up"
check "dir: an unterminated literal is reported" has "06_open: not converted: 06_open.sql:"
check "dir: a file that is not UTF-8 is reported" has "08_latin1: not converted: 08_latin1.sql: it is not UTF-8"
check "dir: a keyword is not a name" test -f "$tmp/d.out/import_.mig"
check "dir: odd characters become _ and names stay unique" \
    eval 'test -f "$tmp/d.out/v07_odd_name.mig" && test -f "$tmp/d.out/v07_odd_name_2.mig"'
check "dir: other files are listed as ignored" has "README: not a .sql file"
"$MIGC" check "$tmp/d.out" >/dev/null 2>&1
check "dir: what was written compiles" test $? -eq 0
imp dir d
check "dir: an existing output is not overwritten (exit $RC)" eval '[ $RC -eq 2 ] && has "give --force"'
OUT=$(cd "$tmp" && "$MIGC" import --from dir d -o d.out --force 2>&1)
check "dir: --force overwrites" test $? -eq 1

mkdir -p "$tmp/f"
printf 'CREATE TABLE s (v text);\n' >"$tmp/f/V1__s.sql"
printf "INSERT INTO s VALUES ('\${flyway:user}');\n" >"$tmp/f/V2__who.sql"
printf "INSERT INTO s VALUES ('\${literal}');\n" >"$tmp/f/V3__literal.sql"
printf 'placeholderReplacement=false\nshouldExecute=true\nmixed=true\n' >"$tmp/f/V3__literal.sql.conf"
printf 'DELETE FROM s;\n' >"$tmp/f/U9__nothing.sql"
printf 'SELECT 1;\n' >"$tmp/f/afterMigrate.sql"
printf 'CREATE TABLE s (v text);\n' >"$tmp/f/B1__base.sql"
imp flyway f
check "flyway: a placeholder is reported" has "V2__who: not converted: V2__who.sql uses Flyway placeholders"
check "flyway: placeholderReplacement=false keeps \${…} in a literal" test -f "$tmp/f.out/v3_literal.mig"
check "flyway: shouldExecute is reported" has "V3__literal: V3__literal.sql.conf: shouldExecute=true not converted"
check "flyway: other script settings are noted" has "V3__literal: V3__literal.sql.conf: 'mixed' ignored"
check "flyway: an undo without its migration is reported" has "U9__nothing.sql: an undo migration without its V9"
check "flyway: a callback is reported" has "afterMigrate.sql: a Flyway callback: not converted"
check "flyway: a baseline migration is reported" has "B1__base.sql: a baseline migration"

mkdir -p "$tmp/s/deploy" "$tmp/s/revert" "$tmp/s/verify"
printf '%%project=p\n\na 2024-01-01T00:00:00Z A <a@x>\nb [a other:thing !c] 2024-01-01T00:00:00Z A <a@x>\n-a 2024-01-02T00:00:00Z A <a@x>\nnofile 2024-01-02T00:00:00Z A <a@x>\n' >"$tmp/s/sqitch.plan"
printf 'CREATE TABLE a (id integer);\n' >"$tmp/s/deploy/a.sql"
printf 'CREATE TABLE b (id integer);\n' >"$tmp/s/deploy/b.sql"
printf 'SELECT 1;\nCOMMIT;\nSELECT 2;\n' >"$tmp/s/verify/b.sql"
imp sqitch s
check "sqitch: a planned revert is reported" has "a: a planned revert (-a in sqitch.plan): not converted"
check "sqitch: a missing deploy script is reported" has "nofile: not converted: cannot read deploy/nofile.sql"
check "sqitch: a dependency on another project is noted" has "b: requires other:thing of another project"
check "sqitch: a conflict is noted" has "b: conflicts with c"
check "sqitch: a verify script that commits is reported" has "b: verify/b.sql: it controls transactions (COMMIT)"
check "sqitch: b comes after a" grep -q "after a;" "$tmp/s.out/b.mig"

mkdir -p "$tmp/m"
printf 'CREATE TABLE early (id integer);\n-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\n' >"$tmp/m/1_early.sql"
printf -- '-- nothing yet\n' >"$tmp/m/2_nothing.sql"
printf -- '-- migrate:up transaction:false\nVACUUM;\n-- migrate:down\n' >"$tmp/m/3_vacuum.sql"
imp dbmate m
check "dbmate: statements before -- migrate:up are reported" has "1_early: not converted: statements before '-- migrate:up'"
check "dbmate: a file without -- migrate:up is reported" has "2_nothing: not converted: no '-- migrate:up' section"
check "dbmate: transaction:false on the up" grep -q "transaction none;" "$tmp/m.out/v3_vacuum.mig"

# the compiled result is checked before the report ends: an error is shown
mkdir -p "$tmp/e"
printf 'CREATE TABLE t (id integer);\n' >"$tmp/e/1_t.up.sql"
printf 'DROP TABLE t;\n' >"$tmp/e/1_t.down.sql"
printf 'ALTER TABLE t ADD COLUMN c text NOT NULL;\n' >"$tmp/e/2_c.up.sql"
printf 'ALTER TABLE t DROP COLUMN c;\n' >"$tmp/e/2_c.down.sql"
imp golang-migrate e
check "a result that does not compile is shown (exit $RC)" \
    eval '[ $RC -eq 1 ] && has "error:" && has "[add-column-not-null]"'

mkdir -p "$tmp/empty"
imp dir empty
check "an empty DIR is reported (exit $RC)" eval '[ $RC -eq 1 ] && has "no migration found"'

# usage
"$MIGC" import --from liquibase "$tmp/d" -o "$tmp/x" >/dev/null 2>&1
check "an unknown tool is a usage error" test $? -eq 2
"$MIGC" import --from dir "$tmp/d" >/dev/null 2>&1
check "-o is required" test $? -eq 2
"$MIGC" import --from dir "$tmp/nowhere" -o "$tmp/x" >/dev/null 2>&1
check "a missing DIR is a usage error" test $? -eq 2
"$MIGC" import --from sqitch "$tmp/d" -o "$tmp/x" >/dev/null 2>&1
check "a Sqitch DIR without sqitch.plan is a usage error" test $? -eq 2

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
