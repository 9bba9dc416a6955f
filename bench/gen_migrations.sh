#!/usr/bin/env bash
# gen_migrations.sh N DIR — writes N realistic, deterministic .mig files to
# DIR: each creates a table with seed rows, adds a column with a default,
# creates an index, backfills, and creates a view, each step with its exact
# inverse; migration i comes after migration i-1.
set -euo pipefail
n=${1:?usage: gen_migrations.sh N DIR}
dir=${2:?usage: gen_migrations.sh N DIR}
mkdir -p "$dir"
for ((i = 1; i <= n; i++)); do
    printf -v id '%05d' "$i"
    printf -v prev '%05d' "$((i - 1))"
    {
        echo "import std;"
        echo
        echo "migration m$id \"generated migration $i\" {"
        echo "  target postgres >= 13, sqlite;"
        [ "$i" -gt 1 ] && echo "  after m$prev;"
        echo "  param seed_rows: int = 3;"
        echo
        echo "  phase schema {"
        echo "    step create_t$id {"
        echo "      when not std.table_exists(\"t$id\");"
        echo "      up sql {"
        echo "        CREATE TABLE t$id (id integer PRIMARY KEY, name varchar(100) NOT NULL, note text DEFAULT '{}');"
        echo "        INSERT INTO t$id (id, name) VALUES (1, 'one'), (2, 'two'), (${id#0*}, 'n');"
        echo "      }"
        echo "      down sql { DROP TABLE t$id; }"
        echo "      verify std.table_exists(\"t$id\");"
        echo "    }"
        echo "    step add_flag_$id {"
        echo "      up   sql { ALTER TABLE t$id ADD COLUMN flag integer DEFAULT 0; }"
        echo "      down sql { ALTER TABLE t$id DROP COLUMN flag; }"
        echo "    }"
        echo "    step index_$id {"
        echo "      up   sql { CREATE INDEX idx_t${id}_name ON t$id (name); }"
        echo "      down sql { DROP INDEX idx_t${id}_name; }"
        echo "    }"
        echo "  }"
        echo
        echo "  phase data {"
        echo "    step backfill_$id {"
        echo "      up   sql { UPDATE t$id SET flag = \${seed_rows} WHERE flag = 0; }"
        echo "      down sql { UPDATE t$id SET flag = 0 WHERE flag = \${seed_rows}; }"
        echo "    }"
        echo "    step view_$id {"
        echo "      up   sql { CREATE VIEW v$id AS SELECT id, name FROM t$id WHERE flag > 0; }"
        echo "      down sql { DROP VIEW v$id; }"
        echo "    }"
        echo "    assert scalar sql { SELECT count(*) FROM t$id WHERE flag = 0 } == 0 else \"backfilled\";"
        echo "  }"
        echo "}"
    } > "$dir/m$id.mig"
done
