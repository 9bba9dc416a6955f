#!/usr/bin/env python3
"""gen.py DIALECT DIR [N] — the corpus of tests/e2e/pairs.sh: the migration
history of an issue tracker ("tracker"), N migrations (default 220) in the
layout of a real project (DIR/db/migrations/NNNN_what.mig, one migration
per file, each after the one before), for DIALECT (postgres or sqlite).

Almost every pair inverts exactly. At known places the history carries
planted breaks of every kind migrun test must find (a down that fails, that
leaves an object behind, that loses one, that changes a column, an index, a
constraint and its NOT VALID state, a view, a function, a trigger, a
sequence, an enum, a schema, an extension, row level security and its
policies, grants, comments, a collation, an identity, rows (--data), an up
that fails when run again, breaks outside a transaction, a `down none` that
changes something), plus steps that cannot be tested (irreversible, a command) and
steps whose guard is false. DIR/expected lists what migrun test must report
besides `ok`, one line per step:

    failed STEP CLASS      CLASS: down-failed, or the kinds of differences
                           (left, lost, changed) joined by +, after up-again
                           when the up then fails when run again; X|Y: X
                           without --data, Y with it (-: no report)
    untested STEP          irreversible, or a command
    skipped STEP           its when is false

The first PRE migrations (DIR/pre: their count) hold no break: pairs.sh
applies them to the "given" database, whose copy is then tested.
Deterministic: the same arguments write the same files."""
import os
import random
import sys

dialect = sys.argv[1]
root = sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 220
PRE = 20
PG = dialect == "postgres"
assert dialect in ("postgres", "sqlite")
rng = random.Random(20261130)

# ---- the breaks: migration number -> kind ---------------------------------
# (each kind is written by plant() below; the numbers are spread over the
# history after PRE)
BREAKS_BOTH = [
    "down_drops_missing_table", "index_left", "column_left", "index_lost", "table_lost", "view_changed",
    "trigger_left", "trigger_changed", "up_fails_again", "data_not_restored", "txnone_left", "none_changes",
    "view_left",
]
BREAKS_PG = [
    "default_changed", "not_null_changed", "type_changed", "check_left", "fk_left", "validated", "function_changed",
    "function_left", "sequence_changed", "enum_added", "schema_left", "extension_left", "rls_left", "policy_left",
    "grant_changed", "comment_changed", "collation_changed", "identity_changed", "matview_left", "domain_left",
    "txnone_down_fails", "replica_identity_changed", "unique_lost",
]
kinds = BREAKS_BOTH + (BREAKS_PG if PG else [])
rng.shuffle(kinds)
places = sorted(rng.sample(range(PRE + 3, N + 1), len(kinds)))
breaks = dict(zip(places, kinds))
# steps that cannot be tested, and guards that are false
irreversible_at = [m for m in range(PRE + 5, N + 1, 47) if m not in breaks]
skipped_at = [m for m in range(PRE + 8, N + 1, 53) if m not in breaks and m not in irreversible_at]
exec_at = [m for m in range(PRE + 11, N + 1, 61) if m not in breaks and m not in irreversible_at and m not in skipped_at]
# steps whose when runs a command, which migrun test does not run: tested as
# if the when held (reported untested); where the up then fails (the guard
# would be false), the test goes on as if they had not run
taken = set(breaks) | set(irreversible_at) | set(skipped_at) | set(exec_at)
guarded_at = [m for m in range(PRE + 14, N + 1, 67) if m not in taken]
guard_fails_at = [m for m in range(PRE + 17, N + 1, 71) if m not in taken and m not in guarded_at]

expected = []
files = []

TS = "timestamptz" if PG else "TEXT"
NOW = "now()" if PG else "CURRENT_TIMESTAMP"
INT = "integer" if PG else "INTEGER"
TEXT = "text" if PG else "TEXT"

ENTITIES = ["users", "orgs", "projects", "issues", "comments", "labels", "milestones", "attachments", "webhooks",
            "api_keys", "teams", "sprints", "boards", "columns", "reactions", "watchers", "invites", "exports",
            "audit_events", "notifications"]


class Table:
    def __init__(self, name):
        self.name = name
        self.cols = ["id", "name", "created_at"]
        self.extra = []          # added columns (nullable text or int)
        self.indexes = []
        self.rows = 0
        self.done = set()        # table-wide changes made once (comment, grant, rls, replica identity)


tables = []
counter = [0]


def uniq(prefix):
    counter[0] += 1
    return f"{prefix}{counter[0]}"


class Mig:
    def __init__(self, n, slug, title):
        self.n = n
        self.name = f"m{n:04d}_{slug}"
        self.file = f"{n:04d}_{slug}.mig"
        self.title = title
        self.phases = []         # (name, txn, [steps])
        self.imports = False

    def phase(self, name="main", txn=None):
        self.phases.append((name, txn, []))
        return self

    def step(self, name, up, down, when=None, batch=False):
        if not self.phases:
            self.phase()
        self.phases[-1][2].append((name, up, down, when, batch))
        if when:
            self.imports = True
        return f"{self.name}.{self.phases[-1][0]}.{name}"

    def write(self, prev):
        out = []
        if self.imports:
            out.append("import std;\n")
        out.append(f'migration {self.name} "{self.title}" {{')
        out.append(f"  target {'postgres >= 13' if PG else 'sqlite'};")
        if prev:
            out.append(f"  after {prev};")
        out.append("  # mig: allow create-index-blocking, missing-lock-timeout, if-not-exists-unguarded, "
                   "down-missing-object, constraint-not-valid, destructive — a test corpus")
        for (pname, txn, steps) in self.phases:
            out.append(f"  phase {pname} {{")
            if txn:
                out.append(f"    transaction {txn};")
            for (sname, up, down, when, batch) in steps:
                out.append(f"    step {sname} {{")
                if when:
                    out.append(f"      when {when};")
                if batch:
                    out.append("      batch max 50;")
                if up.startswith("exec "):
                    out.append(f"      up {up};")
                else:
                    out.append(f"      up sql {{ {up} }}")
                if down.startswith("irreversible ") or down.startswith("none "):
                    out.append(f"      down {down};")
                else:
                    out.append(f"      down sql {{ {down} }}")
                out.append("    }")
            out.append("  }")
        out.append("}")
        return "\n".join(out) + "\n"


def pick_table():
    return rng.choice(tables)


def new_table(m, base):
    t = Table(uniq(base + "_"))
    ident = f"id {INT} GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" if PG and rng.random() < 0.3 else \
        f"id {INT} PRIMARY KEY"
    m.step(f"create_{t.name}",
           f"CREATE TABLE {t.name} ({ident}, name {TEXT} NOT NULL, created_at {TS} NOT NULL DEFAULT {NOW});",
           f"DROP TABLE {t.name};")
    tables.append(t)
    return t


def seed(m, t, k=3):
    ids = list(range(t.rows + 1, t.rows + k + 1))
    vals = ", ".join(f"({i}, '{t.name} {i}')" for i in ids)
    m.step(f"seed_{t.name}", f"INSERT INTO {t.name} (id, name) VALUES {vals};",
           f"DELETE FROM {t.name} WHERE id IN ({', '.join(map(str, ids))});")
    t.rows += k


def add_column(m, t, typ=None, nodefault=False):
    c = uniq("c")
    typ = typ or rng.choice([TEXT, INT])
    default = None if nodefault else rng.choice([None, "0" if typ == INT else "'n/a'"])
    m.step(f"add_{t.name}_{c}", f"ALTER TABLE {t.name} ADD COLUMN {c} {typ}{' DEFAULT ' + default if default else ''};",
           f"ALTER TABLE {t.name} DROP COLUMN {c};")
    t.extra.append((c, typ))
    return c


def add_index(m, t, col=None, unique=False):
    col = col or "name"
    i = uniq(f"{t.name}_idx")
    m.step(f"index_{i}", f"CREATE {'UNIQUE ' if unique else ''}INDEX {i} ON {t.name} ({col});", f"DROP INDEX {i};")
    t.indexes.append(i)
    return i


def add_view(m, t):
    v = uniq("v_")
    m.step(f"view_{v}", f"CREATE VIEW {v} AS SELECT id, name FROM {t.name} WHERE id > 0;", f"DROP VIEW {v};")
    return v


def trigger_sql(tname, trg, text):
    if PG:
        return (f"CREATE TRIGGER {trg} BEFORE UPDATE ON {tname} FOR EACH ROW EXECUTE FUNCTION touch_{text}();")
    return (f"CREATE TRIGGER {trg} AFTER INSERT ON {tname} BEGIN UPDATE {tname} SET name = name || '{text}' "
            f"WHERE id = NEW.id; END;")


def add_trigger_fn(m, text):
    """PostgreSQL: the function a trigger runs (its own step)."""
    if PG:
        m.step(f"function_touch_{text}",
               f"CREATE FUNCTION touch_{text}() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;",
               f"DROP FUNCTION touch_{text}();")


def backfill(m, t):
    c = uniq("b")
    m.step(f"add_{t.name}_{c}", f"ALTER TABLE {t.name} ADD COLUMN {c} {TEXT};", f"ALTER TABLE {t.name} DROP COLUMN {c};")
    m.step(f"backfill_{t.name}_{c}", f"UPDATE {t.name} SET {c} = 'filled' WHERE {c} IS NULL;",
           f"UPDATE {t.name} SET {c} = NULL;")
    t.extra.append((c, TEXT))


# ---- correct migrations ----------------------------------------------------

def normal(m):
    r = rng.random()
    if r < 0.22 or len(tables) < 3:
        t = new_table(m, rng.choice(ENTITIES))
        seed(m, t)
        add_index(m, t)
    elif r < 0.34:
        t = pick_table()
        add_column(m, t)
    elif r < 0.42:
        t = pick_table()
        c = add_column(m, t, INT)
        add_index(m, t, c)
    elif r < 0.48:
        add_view(m, pick_table())
    elif r < 0.54:
        backfill(m, pick_table())
    elif r < 0.58:
        t = pick_table()
        tr = uniq("trg_")
        add_trigger_fn(m, tr)
        m.step(f"trigger_{tr}", trigger_sql(t.name, tr, tr), f"DROP TRIGGER {tr}{' ON ' + t.name if PG else ''};")
    elif r < 0.62:
        # rename a column and a table made in the same migration
        t = new_table(m, "tmp")
        c = uniq("old")
        m.step(f"add_{c}", f"ALTER TABLE {t.name} ADD COLUMN {c} {TEXT};", f"ALTER TABLE {t.name} DROP COLUMN {c};")
        m.step(f"rename_{c}", f"ALTER TABLE {t.name} RENAME COLUMN {c} TO {c}_new;",
               f"ALTER TABLE {t.name} RENAME COLUMN {c}_new TO {c};")
        newname = t.name + "_r"
        m.step(f"rename_{t.name}", f"ALTER TABLE {t.name} RENAME TO {newname};",
               f"ALTER TABLE {newname} RENAME TO {t.name};")
        tables.remove(t)
        t.name = newname
        t.extra.append((c + "_new", TEXT))
        tables.append(t)
    elif r < 0.66:
        # a batch backfill (transaction step)
        t = pick_table()
        c = uniq("bb")
        m.phase("schema")
        m.step(f"add_{c}", f"ALTER TABLE {t.name} ADD COLUMN {c} {INT};", f"ALTER TABLE {t.name} DROP COLUMN {c};")
        m.phase("data", "step")
        m.step(f"batch_{c}", f"UPDATE {t.name} SET {c} = id WHERE id IN (SELECT id FROM {t.name} WHERE {c} IS NULL "
               f"LIMIT 2);", f"UPDATE {t.name} SET {c} = NULL;", batch=True)
        t.extra.append((c, INT))
    elif r < 0.70:
        # an index built outside a transaction
        t = pick_table()
        i = uniq(f"{t.name}_cidx")
        m.phase("concurrently", "none")
        conc = " CONCURRENTLY" if PG else ""
        m.step(f"index_{i}", f"CREATE INDEX{conc} {i} ON {t.name} (created_at);", f"DROP INDEX{conc} {i};")
    elif r < 0.73:
        # statistics only: nothing to undo
        t = pick_table()
        m.step(f"analyze_{t.name}", f"ANALYZE {t.name};", 'none "statistics only"')
    elif PG:
        pg_normal(m, rng.random())
    else:
        t = new_table(m, rng.choice(ENTITIES))
        seed(m, t, 2)


def pg_normal(m, r):
    t = pick_table()
    if r < 0.08:
        c = add_column(m, t, "integer")
        k = uniq(f"{t.name}_chk")
        m.step(f"check_{k}", f"ALTER TABLE {t.name} ADD CONSTRAINT {k} CHECK ({c} >= 0) NOT VALID;",
               f"ALTER TABLE {t.name} DROP CONSTRAINT {k};")
        m.step(f"validate_{k}", f"ALTER TABLE {t.name} VALIDATE CONSTRAINT {k};",
               f"ALTER TABLE {t.name} DROP CONSTRAINT {k}; ALTER TABLE {t.name} ADD CONSTRAINT {k} CHECK ({c} >= 0) "
               f"NOT VALID;")
    elif r < 0.16:
        other = pick_table()
        c = add_column(m, t, "integer", nodefault=True)
        k = uniq(f"{t.name}_fk")
        m.step(f"fk_{k}", f"ALTER TABLE {t.name} ADD CONSTRAINT {k} FOREIGN KEY ({c}) REFERENCES {other.name} (id);",
               f"ALTER TABLE {t.name} DROP CONSTRAINT {k};")
    elif r < 0.24:
        e = uniq("status_")
        m.step(f"type_{e}", f"CREATE TYPE {e} AS ENUM ('open', 'closed');", f"DROP TYPE {e};")
        c = uniq("st")
        m.step(f"add_{c}", f"ALTER TABLE {t.name} ADD COLUMN {c} {e} NOT NULL DEFAULT 'open';",
               f"ALTER TABLE {t.name} DROP COLUMN {c};")
    elif r < 0.32:
        f = uniq("score_")
        m.step(f"function_{f}", f"CREATE FUNCTION {f}(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS "
               f"$$SELECT x * 2$$;", f"DROP FUNCTION {f}(integer);")
        m.step(f"replace_{f}", f"CREATE OR REPLACE FUNCTION {f}(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS "
               f"$$SELECT x * 3$$;", f"CREATE OR REPLACE FUNCTION {f}(x integer) RETURNS integer LANGUAGE sql "
               f"IMMUTABLE AS $$SELECT x * 2$$;")
    elif r < 0.40:
        s = uniq("seq_")
        m.step(f"sequence_{s}", f"CREATE SEQUENCE {s} START 100;", f"DROP SEQUENCE {s};")
        m.step(f"alter_{s}", f"ALTER SEQUENCE {s} INCREMENT BY 10;", f"ALTER SEQUENCE {s} INCREMENT BY 1;")
    elif r < 0.48 and not ({"comment", "grant"} & t.done):
        t.done |= {"comment", "grant"}
        m.step(f"comment_{t.name}", f"COMMENT ON TABLE {t.name} IS 'the {t.name} of the tracker';",
               f"COMMENT ON TABLE {t.name} IS NULL;")
        m.step(f"grant_{t.name}", f"GRANT SELECT ON {t.name} TO PUBLIC;", f"REVOKE SELECT ON {t.name} FROM PUBLIC;")
    elif r < 0.56 and "rls" not in t.done:
        t.done.add("rls")
        p = uniq("pol_")
        m.step(f"rls_{t.name}", f"ALTER TABLE {t.name} ENABLE ROW LEVEL SECURITY;",
               f"ALTER TABLE {t.name} DISABLE ROW LEVEL SECURITY;")
        m.step(f"policy_{p}", f"CREATE POLICY {p} ON {t.name} USING (id > 0);", f"DROP POLICY {p} ON {t.name};")
        m.step(f"norls_{t.name}", f"DROP POLICY {p} ON {t.name}; ALTER TABLE {t.name} DISABLE ROW LEVEL SECURITY;",
               f"ALTER TABLE {t.name} ENABLE ROW LEVEL SECURITY; CREATE POLICY {p} ON {t.name} USING (id > 0);")
    elif r < 0.64:
        s = uniq("reporting_")
        m.step(f"schema_{s}", f"CREATE SCHEMA {s};", f"DROP SCHEMA {s};")
        m.step(f"view_{s}", f"CREATE VIEW {s}.totals AS SELECT count(*) AS n FROM {t.name};", f"DROP VIEW {s}.totals;")
        m.step(f"matview_{s}", f"CREATE MATERIALIZED VIEW {s}.snapshot AS SELECT id FROM {t.name};",
               f"DROP MATERIALIZED VIEW {s}.snapshot;")
    elif r < 0.72:
        c = add_column(m, t, "integer", nodefault=True)
        m.step(f"type_{c}", f"ALTER TABLE {t.name} ALTER COLUMN {c} TYPE bigint;",
               f"ALTER TABLE {t.name} ALTER COLUMN {c} TYPE integer;")
        m.step(f"default_{c}", f"ALTER TABLE {t.name} ALTER COLUMN {c} SET DEFAULT 7;",
               f"ALTER TABLE {t.name} ALTER COLUMN {c} DROP DEFAULT;")
    elif r < 0.80:
        d = uniq("email_")
        m.step(f"domain_{d}", f"CREATE DOMAIN {d} AS text CHECK (VALUE LIKE '%@%');", f"DROP DOMAIN {d};")
        c = uniq("mail")
        m.step(f"add_{c}", f"ALTER TABLE {t.name} ADD COLUMN {c} {d};", f"ALTER TABLE {t.name} DROP COLUMN {c};")
    elif r < 0.88:
        c = add_column(m, t, "text")
        m.step(f"collate_{c}", f"ALTER TABLE {t.name} ALTER COLUMN {c} TYPE text COLLATE \"C\";",
               f"ALTER TABLE {t.name} ALTER COLUMN {c} TYPE text COLLATE \"default\";")
        if "replica" not in t.done:
            t.done.add("replica")
            m.step(f"replica_{t.name}", f"ALTER TABLE {t.name} REPLICA IDENTITY FULL;",
                   f"ALTER TABLE {t.name} REPLICA IDENTITY DEFAULT;")
    else:
        c = uniq("n")
        m.step(f"add_{c}", f"ALTER TABLE {t.name} ADD COLUMN {c} integer NOT NULL DEFAULT 0;",
               f"ALTER TABLE {t.name} DROP COLUMN {c};")
        m.step(f"nullable_{c}", f"ALTER TABLE {t.name} ALTER COLUMN {c} DROP NOT NULL;",
               f"ALTER TABLE {t.name} ALTER COLUMN {c} SET NOT NULL;")
        m.step(f"identity_{c}", f"ALTER TABLE {t.name} ALTER COLUMN {c} DROP DEFAULT, ALTER COLUMN {c} SET NOT NULL, "
               f"ALTER COLUMN {c} ADD GENERATED BY DEFAULT AS IDENTITY;",
               f"ALTER TABLE {t.name} ALTER COLUMN {c} DROP IDENTITY, ALTER COLUMN {c} DROP NOT NULL, "
               f"ALTER COLUMN {c} SET DEFAULT 0;")


# ---- the planted breaks ------------------------------------------------------

def pick_fresh(m, what):
    """A table never changed by `what` (a new one if need be)."""
    for t in tables:
        if what not in t.done:
            t.done.add(what)
            return t
    t = new_table(m, "fresh")
    t.done.add(what)
    return t


def plant(m, kind):
    """Writes a migration whose last step is broken as kind says; returns the
    expected class."""
    t = pick_table()
    noop = "SELECT 1;"
    if kind == "down_drops_missing_table":
        i = uniq(f"{t.name}_idx")
        return m.step(f"index_{i}", f"CREATE INDEX {i} ON {t.name} (created_at);",
                      f"DROP INDEX {i}; DROP TABLE never_created;"), "down-failed"
    if kind == "index_left":
        i = uniq(f"{t.name}_idx")
        return m.step(f"index_{i}", f"CREATE INDEX {i} ON {t.name} (created_at);", noop), "up-again+left"
    if kind == "column_left":
        c = uniq("c")
        t.extra.append((c, TEXT))
        return m.step(f"add_{c}", f"ALTER TABLE {t.name} ADD COLUMN {c} {TEXT};", noop), "up-again+left"
    if kind == "index_lost":
        keep = new_table(m, "lost")
        old = add_index(m, keep)
        i = uniq(f"{keep.name}_idx")
        keep.indexes.remove(old)
        return m.step(f"index_{i}", f"CREATE INDEX {i} ON {keep.name} (created_at);",
                      f"DROP INDEX {i}; DROP INDEX {old};"), "lost"
    if kind == "table_lost":
        gone = new_table(m, "gone")
        tables.remove(gone)
        tmp = uniq("scratch_")
        return m.step(f"create_{tmp}", f"CREATE TABLE {tmp} (id {INT});",
                      f"DROP TABLE {tmp}; DROP TABLE {gone.name};"), "lost"
    if kind in ("view_changed", "view_left"):
        v = add_view(m, t)
        if kind == "view_left":
            v2 = uniq("v_")
            return m.step(f"view_{v2}", f"CREATE VIEW {v2} AS SELECT id FROM {t.name};", noop), "up-again+left"
        return m.step(f"replace_{v}", f"DROP VIEW {v}; CREATE VIEW {v} AS SELECT id, name FROM {t.name} WHERE id > 1;",
                      f"DROP VIEW {v}; CREATE VIEW {v} AS SELECT id, name FROM {t.name} WHERE id > 2;"), "changed"
    if kind in ("trigger_left", "trigger_changed"):
        tr = uniq("trg_")
        add_trigger_fn(m, tr)
        if kind == "trigger_left":
            return m.step(f"trigger_{tr}", trigger_sql(t.name, tr, tr), noop), "up-again+left"
        on = " ON " + t.name if PG else ""
        m.step(f"trigger_{tr}", trigger_sql(t.name, tr, tr), f"DROP TRIGGER {tr}{on};")
        if PG:
            body_new = f"CREATE TRIGGER {tr} AFTER UPDATE ON {t.name} FOR EACH ROW EXECUTE FUNCTION touch_{tr}();"
            body_bad = f"CREATE TRIGGER {tr} BEFORE INSERT ON {t.name} FOR EACH ROW EXECUTE FUNCTION touch_{tr}();"
        else:
            body_new = trigger_sql(t.name, tr, "v2")
            body_bad = trigger_sql(t.name, tr, "v3")
        return m.step(f"retrigger_{tr}", f"DROP TRIGGER {tr}{on}; {body_new}", f"DROP TRIGGER {tr}{on}; {body_bad}"), \
            "changed"
    if kind == "up_fails_again":
        s = new_table(m, "settings")
        m.step(f"unique_{s.name}", f"CREATE UNIQUE INDEX {s.name}_name ON {s.name} (name);",
               f"DROP INDEX {s.name}_name;")
        return m.step(f"setting_{s.name}", f"INSERT INTO {s.name} (id, name) VALUES (100, 'theme');",
                      f"DELETE FROM {s.name} WHERE name = 'colour';"), "up-again|up-again+changed"
    if kind == "data_not_restored":
        c = uniq("b")
        m.step(f"add_{c}", f"ALTER TABLE {t.name} ADD COLUMN {c} {TEXT};", f"ALTER TABLE {t.name} DROP COLUMN {c};")
        t.extra.append((c, TEXT))
        return m.step(f"backfill_{c}", f"UPDATE {t.name} SET name = name || ' (migrated)';", noop), "-|changed"
    if kind == "txnone_left":
        i = uniq(f"{t.name}_cidx")
        m.phase("concurrently", "none")
        conc = " CONCURRENTLY" if PG else ""
        return m.step(f"index_{i}", f"CREATE INDEX{conc} {i} ON {t.name} (name, id);", noop), "up-again+left"
    if kind == "txnone_down_fails":
        i = uniq(f"{t.name}_cidx")
        m.phase("concurrently", "none")
        return m.step(f"index_{i}", f"CREATE INDEX CONCURRENTLY {i} ON {t.name} (name, id);",
                      f"DROP INDEX CONCURRENTLY {i}_typo;"), "down-failed"
    if kind == "none_changes":
        i = uniq(f"{t.name}_idx")
        return m.step(f"analyze_{i}", f"ANALYZE {t.name}; CREATE INDEX {i} ON {t.name} (id, name);",
                      'none "statistics only"'), "up-again+left"
    # PostgreSQL only
    if kind in ("default_changed", "not_null_changed", "type_changed", "identity_changed", "comment_changed"):
        c = uniq("c")
        m.step(f"add_{c}", f"ALTER TABLE {t.name} ADD COLUMN {c} integer DEFAULT 0;",
               f"ALTER TABLE {t.name} DROP COLUMN {c};")
        t.extra.append((c, "integer"))
        up, down = {
            "default_changed": (f"ALTER COLUMN {c} SET DEFAULT 5", f"ALTER COLUMN {c} SET DEFAULT 6"),
            "not_null_changed": (f"ALTER COLUMN {c} SET NOT NULL", f"ALTER COLUMN {c} SET DEFAULT 0"),
            "type_changed": (f"ALTER COLUMN {c} TYPE bigint", f"ALTER COLUMN {c} TYPE numeric"),
            "identity_changed": (f"ALTER COLUMN {c} DROP DEFAULT, ALTER COLUMN {c} SET NOT NULL, "
                                 f"ALTER COLUMN {c} ADD GENERATED BY DEFAULT AS IDENTITY",
                                 f"ALTER COLUMN {c} DROP IDENTITY, ALTER COLUMN {c} DROP NOT NULL, "
                                 f"ALTER COLUMN {c} SET DEFAULT 1"),
            "comment_changed": (None, None),
        }[kind]
        if kind == "comment_changed":
            return m.step(f"comment_{c}", f"COMMENT ON COLUMN {t.name}.{c} IS 'score';",
                          f"COMMENT ON COLUMN {t.name}.{c} IS 'points';"), "changed"
        return m.step(f"alter_{c}", f"ALTER TABLE {t.name} {up};", f"ALTER TABLE {t.name} {down};"), "changed"
    if kind == "check_left":
        c = add_column(m, t, "integer")
        k = uniq(f"{t.name}_chk")
        return m.step(f"check_{k}", f"ALTER TABLE {t.name} ADD CONSTRAINT {k} CHECK ({c} >= 0);", noop), "up-again+left"
    if kind == "fk_left":
        other = pick_table()
        c = add_column(m, t, "integer", nodefault=True)
        k = uniq(f"{t.name}_fk")
        return m.step(f"fk_{k}", f"ALTER TABLE {t.name} ADD CONSTRAINT {k} FOREIGN KEY ({c}) REFERENCES "
                      f"{other.name} (id);", noop), "up-again+left"
    if kind == "validated":
        c = add_column(m, t, "integer")
        k = uniq(f"{t.name}_chk")
        m.step(f"check_{k}", f"ALTER TABLE {t.name} ADD CONSTRAINT {k} CHECK ({c} >= 0) NOT VALID;",
               f"ALTER TABLE {t.name} DROP CONSTRAINT {k};")
        return m.step(f"validate_{k}", f"ALTER TABLE {t.name} VALIDATE CONSTRAINT {k};", noop), "changed"
    if kind in ("function_changed", "function_left"):
        f = uniq("score_")
        if kind == "function_left":
            return m.step(f"function_{f}", f"CREATE FUNCTION {f}() RETURNS integer LANGUAGE sql AS $$SELECT 1$$;",
                          noop), "up-again+left"
        m.step(f"function_{f}", f"CREATE FUNCTION {f}(x integer) RETURNS integer LANGUAGE sql AS $$SELECT x$$;",
               f"DROP FUNCTION {f}(integer);")
        return m.step(f"replace_{f}", f"CREATE OR REPLACE FUNCTION {f}(x integer) RETURNS integer LANGUAGE sql AS "
                      f"$$SELECT x + 1$$;", f"CREATE OR REPLACE FUNCTION {f}(x integer) RETURNS integer LANGUAGE sql "
                      f"AS $$SELECT x + 2$$;"), "changed"
    if kind == "sequence_changed":
        s = uniq("seq_")
        m.step(f"sequence_{s}", f"CREATE SEQUENCE {s};", f"DROP SEQUENCE {s};")
        return m.step(f"alter_{s}", f"ALTER SEQUENCE {s} INCREMENT BY 10;", f"ALTER SEQUENCE {s} INCREMENT BY 5;"), \
            "changed"
    if kind == "enum_added":
        e = uniq("state_")
        m.step(f"type_{e}", f"CREATE TYPE {e} AS ENUM ('new', 'done');", f"DROP TYPE {e};")
        return m.step(f"value_{e}", f"ALTER TYPE {e} ADD VALUE 'archived';", noop), "up-again+changed"
    if kind == "schema_left":
        s = uniq("archive_")
        return m.step(f"schema_{s}", f"CREATE SCHEMA {s};", noop), "up-again+left"
    if kind == "extension_left":
        return m.step("extension_citext", "CREATE EXTENSION citext;", noop), "up-again+left"
    if kind == "rls_left":
        t = pick_fresh(m, "rls")
        return m.step(f"rls_{t.name}", f"ALTER TABLE {t.name} ENABLE ROW LEVEL SECURITY;", noop), "changed"
    if kind == "policy_left":
        p = uniq("pol_")
        return m.step(f"policy_{p}", f"CREATE POLICY {p} ON {t.name} USING (true);", noop), "up-again+left"
    if kind == "grant_changed":
        t = pick_fresh(m, "grant")
        return m.step(f"grant_{t.name}", f"GRANT SELECT, INSERT ON {t.name} TO PUBLIC;",
                      f"REVOKE INSERT ON {t.name} FROM PUBLIC;"), "changed"
    if kind == "collation_changed":
        c = add_column(m, t, "text")
        return m.step(f"collate_{c}", f"ALTER TABLE {t.name} ALTER COLUMN {c} TYPE text COLLATE \"C\";",
                      f"ALTER TABLE {t.name} ALTER COLUMN {c} TYPE text COLLATE \"POSIX\";"), "changed"
    if kind == "matview_left":
        v = uniq("mv_")
        return m.step(f"matview_{v}", f"CREATE MATERIALIZED VIEW {v} AS SELECT id FROM {t.name};", noop), "up-again+left"
    if kind == "domain_left":
        d = uniq("code_")
        return m.step(f"domain_{d}", f"CREATE DOMAIN {d} AS text CHECK (VALUE ~ '^[A-Z]+$');",
                      f"DROP DOMAIN IF EXISTS {d}_old;"), "up-again+left"
    if kind == "replica_identity_changed":
        t = pick_fresh(m, "replica")
        return m.step(f"replica_{t.name}", f"ALTER TABLE {t.name} REPLICA IDENTITY FULL;",
                      f"ALTER TABLE {t.name} REPLICA IDENTITY NOTHING;"), "changed"
    if kind == "unique_lost":
        c = add_column(m, t, "integer")
        k = uniq(f"{t.name}_uniq")
        m.step(f"unique_{k}", f"ALTER TABLE {t.name} ADD CONSTRAINT {k} UNIQUE ({c});",
               f"ALTER TABLE {t.name} DROP CONSTRAINT {k};")
        return m.step(f"relax_{k}", f"ALTER TABLE {t.name} DROP CONSTRAINT {k}; CREATE UNIQUE INDEX {k}_idx ON "
                      f"{t.name} ({c});", f"DROP INDEX {k}_idx;"), "up-again+lost"
    raise SystemExit(f"unknown break {kind}")


# ---- the history -------------------------------------------------------------

migs = []
for n in range(1, N + 1):
    if n in breaks:
        m = Mig(n, breaks[n], f"tracker: {breaks[n].replace('_', ' ')} (planted break)")
        step, cls = plant(m, breaks[n])
        expected.append(f"failed {step} {cls}")
    elif n in irreversible_at:
        m = Mig(n, "purge_audit", "tracker: purge old audit rows")
        t = pick_table()
        step = m.step(f"purge_{t.name}", f"DELETE FROM {t.name} WHERE id > 1000000;",
                      'irreversible "deleted rows cannot come back"')
        expected.append(f"untested {step}")
    elif n in exec_at:
        m = Mig(n, "backup", "tracker: a backup before the next changes (a command)")
        m.phase("backup", "step")
        step = m.step("dump", 'exec ["true"]', 'none "a backup changes nothing"')
        expected.append(f"untested {step}")
    elif n in guarded_at:
        m = Mig(n, "feature_flags", "tracker: the feature flags table, where the deploy enables it (a command)")
        m.phase("flags", "step")
        f = uniq("feature_flags_")
        step = m.step(f"create_{f}", f"CREATE TABLE {f} (id {INT} PRIMARY KEY, name {TEXT} NOT NULL);",
                      f"DROP TABLE {f};", when='exec ["true"]')
        expected.append(f"untested {step}")
    elif n in guard_fails_at:
        # outside a transaction every other time: the test goes on from a fresh copy
        m = Mig(n, "legacy_import", "tracker: drop the import table where a command says it exists")
        m.phase("legacy", "none" if guard_fails_at.index(n) % 2 else "step")
        x = uniq("legacy_import_")
        step = m.step(f"drop_{x}", f"DROP TABLE {x};", f"CREATE TABLE {x} (id {INT} PRIMARY KEY);",
                      when=f'exec ["test", "-e", "/nonexistent/{x}"]')
        expected.append(f"untested {step}")
    elif n in skipped_at:
        m = Mig(n, "legacy_cleanup", "tracker: drop the legacy table where it exists")
        step = m.step("drop_legacy", "DROP TABLE legacy_accounts;",
                      "CREATE TABLE legacy_accounts (id integer PRIMARY KEY);",
                      when='std.table_exists("legacy_accounts")')
        expected.append(f"skipped {step}")
    else:
        slug = "schema" if n > 1 else "initial"
        m = Mig(n, slug, f"tracker: migration {n}")
        normal(m)
    migs.append(m)

mdir = os.path.join(root, "db", "migrations")
os.makedirs(mdir, exist_ok=True)
prev = None
for m in migs:
    with open(os.path.join(mdir, m.file), "w") as f:
        f.write(m.write(prev))
    prev = m.name
with open(os.path.join(root, "expected"), "w") as f:
    f.write("".join(line + "\n" for line in expected))
with open(os.path.join(root, "pre"), "w") as f:
    f.write(f"{migs[PRE - 1].name}\n")
# seed data for --seed: rows in the tables the first PRE migrations made
first = [t for t in tables[:3]]
with open(os.path.join(root, "seed.sql"), "w") as f:
    for t in first:
        f.write(f"INSERT INTO {t.name} (id, name) VALUES (9001, 'seeded'), (9002, 'seeded too');\n")
