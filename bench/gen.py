#!/usr/bin/env python3
"""gen.py N DIR — the benchmark's corpus: N deterministic migrations, one
per file, in every layout the benchmark compares. Each migration has six
steps, each with its exact inverse:

  create   a table with three seed rows   (down: drop it, rows and all)
  add_flag a column with a default        (down: drop the column)
  index    an index                       (down: drop it)
  backfill an update of every seed row    (down: the inverse update)
  view     a view over the table          (down: drop it)
  touch    a reversible update of a text  (down: the inverse update)

Written to DIR:
  mig/mNNNNN.mig                .mig sources (one phase, so one transaction
                                per migration, the floor's boundaries)
  sql/up_floor.sql              the same SQL, BEGIN … COMMIT per migration
  sql/down_floor.sql            the downs, last migration first, likewise
  dbmate/migrations/NNNNN_mNNNNN.sql   dbmate's layout (-- migrate:up/down)
  squawk/NNNNN_mNNNNN.up.sql, .down.sql  the ups and downs as plain SQL
                                files, one per migration and direction,
                                for linters (the SQL migc check reads)

The SQL runs unchanged on PostgreSQL (13 and later) and SQLite (3.35 and
later). bench/apply_ratio.sh and bench/test_ratio.sh read mig/, sql/ and
dbmate/ too."""
import os
import sys

if len(sys.argv) != 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
    sys.exit("usage: gen.py N DIR   (N >= 1)")
n = int(sys.argv[1])
root = sys.argv[2]

# (step name, up statements, down statements); downs undo their own up only
def steps(i):
    t = f"t{i:05d}"
    return [
        ("create",
         [f"CREATE TABLE {t} (id integer PRIMARY KEY, name varchar(100) NOT NULL, note text DEFAULT '{{}}')",
          f"INSERT INTO {t} (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three')"],
         [f"DROP TABLE {t}"]),
        ("add_flag",
         [f"ALTER TABLE {t} ADD COLUMN flag integer DEFAULT 0"],
         [f"ALTER TABLE {t} DROP COLUMN flag"]),
        ("index",
         [f"CREATE INDEX idx_{t}_name ON {t} (name)"],
         [f"DROP INDEX idx_{t}_name"]),
        ("backfill",
         [f"UPDATE {t} SET flag = 3 WHERE flag = 0"],
         [f"UPDATE {t} SET flag = 0 WHERE flag = 3"]),
        ("view",
         [f"CREATE VIEW v{i:05d} AS SELECT id, name FROM {t} WHERE flag > 0"],
         [f"DROP VIEW v{i:05d}"]),
        ("touch",
         [f"UPDATE {t} SET note = 'n' || id WHERE note = '{{}}'"],
         [f"UPDATE {t} SET note = '{{}}' WHERE note = 'n' || id"]),
    ]


def ups(i):
    return [s for _, up, _ in steps(i) for s in up]


def downs(i):
    """every down of migration i in undo order (last step first)"""
    return [s for _, _, down in reversed(steps(i)) for s in down]


def sql(stmts):
    return "".join(s + ";\n" for s in stmts)


def mkdir(*p):
    d = os.path.join(root, *p)
    os.makedirs(d, exist_ok=True)
    return d


mig = mkdir("mig")
for i in range(1, n + 1):
    with open(os.path.join(mig, f"m{i:05d}.mig"), "w") as f:
        f.write(f"migration m{i:05d} \"generated migration {i}\" {{\n")
        f.write("  target postgres >= 13, sqlite;\n")
        if i > 1:
            f.write(f"  after m{i - 1:05d};\n")
        f.write("  # mig: allow create-index-blocking, missing-lock-timeout — a benchmark, not a live system\n")
        f.write("  phase main {\n")
        for name, up, down in steps(i):
            f.write(f"    step {name} {{\n"
                    f"      up sql {{ {' '.join(s + ';' for s in up)} }}\n"
                    f"      down sql {{ {' '.join(s + ';' for s in down)} }}\n"
                    f"    }}\n")
        f.write("  }\n}\n")

d = mkdir("sql")
with open(os.path.join(d, "up_floor.sql"), "w") as f:       # one transaction per migration
    for i in range(1, n + 1):
        f.write("BEGIN;\n" + sql(ups(i)) + "COMMIT;\n")
with open(os.path.join(d, "down_floor.sql"), "w") as f:
    for i in range(n, 0, -1):
        f.write("BEGIN;\n" + sql(downs(i)) + "COMMIT;\n")

d = mkdir("dbmate", "migrations")
for i in range(1, n + 1):
    with open(os.path.join(d, f"{i:05d}_m{i:05d}.sql"), "w") as f:
        f.write("-- migrate:up\n" + sql(ups(i)) + "\n-- migrate:down\n" + sql(downs(i)))

d = mkdir("squawk")
for i in range(1, n + 1):
    with open(os.path.join(d, f"{i:05d}_m{i:05d}.up.sql"), "w") as f:
        f.write(sql(ups(i)))
    with open(os.path.join(d, f"{i:05d}_m{i:05d}.down.sql"), "w") as f:
        f.write(sql(downs(i)))
