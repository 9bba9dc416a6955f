#!/usr/bin/env python3
"""gen.py N DIR — N deterministic, realistic migrations in every layout the
benchmark compares: .mig files (one phase, one transaction per migration,
as the floor), plain SQL (one transaction per migration, and all in one),
a Sqitch project and a dbmate migrations folder. Each migration creates a
table with seed rows, adds a column with a default, creates an index,
backfills, and creates a view; each has its exact inverse."""
import os
import sys

n = int(sys.argv[1])
root = sys.argv[2]


def ups(i):
    t = f"t{i:05d}"
    return [
        f"CREATE TABLE {t} (id integer PRIMARY KEY, name varchar(100) NOT NULL, note text DEFAULT '{{}}')",
        f"INSERT INTO {t} (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three')",
        f"ALTER TABLE {t} ADD COLUMN flag integer DEFAULT 0",
        f"CREATE INDEX idx_{t}_name ON {t} (name)",
        f"UPDATE {t} SET flag = 3 WHERE flag = 0",
        f"CREATE VIEW v{i:05d} AS SELECT id, name FROM {t} WHERE flag > 0",
    ]


def downs(i):
    t = f"t{i:05d}"
    return [
        f"DROP VIEW v{i:05d}",
        f"UPDATE {t} SET flag = 0 WHERE flag = 3",
        f"DROP INDEX idx_{t}_name",
        f"ALTER TABLE {t} DROP COLUMN flag",
        f"DELETE FROM {t} WHERE id IN (1, 2, 3)",
        f"DROP TABLE {t}",
    ]


def mkdir(*p):
    d = os.path.join(root, *p)
    os.makedirs(d, exist_ok=True)
    return d


names = ["create", "seed", "add_flag", "index", "backfill", "view"]
mig = mkdir("mig")
for i in range(1, n + 1):
    u, d = ups(i), list(reversed(downs(i)))
    # downs(i) is in undo order; step k's down is the inverse of up k
    pairs = {0: d[0], 1: d[1], 2: d[2], 3: d[3], 4: d[4], 5: d[5]}
    with open(os.path.join(mig, f"m{i:05d}.mig"), "w") as f:
        f.write(f"migration m{i:05d} \"generated migration {i}\" {{\n")
        f.write("  target postgres >= 13, sqlite;\n")
        if i > 1:
            f.write(f"  after m{i - 1:05d};\n")
        f.write("  # mig: allow create-index-blocking, missing-lock-timeout — a benchmark, not a live system\n")
        f.write("  phase main {\n")
        for k, name in enumerate(names):
            f.write(f"    step {name} {{\n      up sql {{ {u[k]}; }}\n      down sql {{ {pairs[k]}; }}\n    }}\n")
        f.write("  }\n}\n")

sql = mkdir("sql")
with open(os.path.join(sql, "up_floor.sql"), "w") as f:       # one transaction per migration
    for i in range(1, n + 1):
        f.write("BEGIN;\n" + "".join(s + ";\n" for s in ups(i)) + "COMMIT;\n")
with open(os.path.join(sql, "down_floor.sql"), "w") as f:
    for i in range(n, 0, -1):
        f.write("BEGIN;\n" + "".join(s + ";\n" for s in downs(i)) + "COMMIT;\n")
with open(os.path.join(sql, "up_single.sql"), "w") as f:      # everything in one transaction
    f.write("BEGIN;\n")
    for i in range(1, n + 1):
        f.write("".join(s + ";\n" for s in ups(i)))
    f.write("COMMIT;\n")
with open(os.path.join(sql, "down_single.sql"), "w") as f:
    f.write("BEGIN;\n")
    for i in range(n, 0, -1):
        f.write("".join(s + ";\n" for s in downs(i)))
    f.write("COMMIT;\n")

for engine in ("sqlite", "pg"):
    sq = mkdir("sqitch-" + engine)
    for sub in ("deploy", "revert", "verify"):
        mkdir("sqitch-" + engine, sub)
    with open(os.path.join(sq, "sqitch.conf"), "w") as f:
        f.write(f"[core]\n\tengine = {engine}\n\tplan_file = sqitch.plan\n\ttop_dir = .\n")
    with open(os.path.join(sq, "sqitch.plan"), "w") as f:
        f.write("%syntax-version=1.0.0\n%project=bench\n\n")
        for i in range(1, n + 1):
            f.write(f"m{i:05d} 2026-01-01T00:00:00Z Bench <bench@example.invalid> # generated\n")
    for i in range(1, n + 1):
        with open(os.path.join(sq, "deploy", f"m{i:05d}.sql"), "w") as f:
            f.write("BEGIN;\n" + "".join(s + ";\n" for s in ups(i)) + "COMMIT;\n")
        with open(os.path.join(sq, "revert", f"m{i:05d}.sql"), "w") as f:
            f.write("BEGIN;\n" + "".join(s + ";\n" for s in downs(i)) + "COMMIT;\n")

dm = mkdir("dbmate", "migrations")
for i in range(1, n + 1):
    with open(os.path.join(dm, f"{i:05d}_m{i:05d}.sql"), "w") as f:
        f.write("-- migrate:up\n" + "".join(s + ";\n" for s in ups(i)))
        f.write("\n-- migrate:down\n" + "".join(s + ";\n" for s in downs(i)))
