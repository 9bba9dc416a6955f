#!/usr/bin/env python3
"""generate.py — writes the lint corpus: six project histories of
PostgreSQL migrations (tests/lint_corpus/<project>/NNNN_name.mig) in the
style of GitLab, Mastodon, Discourse, Sentry, Zulip and Synapse, and the
golden file expected.txt of the findings a careful reviewer expects.

The expected findings are not migc's output: every operation below plants
its hazards (or their safe variants) and marks, at the line where the
hazard is written, the rule that must report it: `⟦rule⟧` at the end of a
template line (stripped from the output). `⟦lock⟧` marks a statement that
takes a strong lock on a table that existed before the migration; the
first of a phase is expected as missing-lock-timeout when that phase has no
lock_timeout. The reasoning for each mark is in the comment of its
operation.

Deterministic: `python3 generate.py` rewrites the same files with any
Python 3 (every choice is drawn from random.Random.random() with a fixed
seed, the one output Python guarantees across versions). Run it from anywhere; it writes beside itself.
Python 3 standard library only.
"""
import os
import random
import re
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
MARK = re.compile(r"\s*⟦([a-z-]+)⟧")

# ---------------------------------------------------------------------------
# projects: their tables (existing before the corpus starts: their column
# types are unknown to the linter), their habits


class Project:
    def __init__(self, key, prefix, target, lock_p, tables, idcol, fkcol, style):
        self.key = key              # folder name
        self.prefix = prefix        # migration name prefix
        self.target = target        # None, or the declared minimum major
        self.lock_p = lock_p        # probability that a phase sets lock_timeout
        self.tables = dict(tables)  # name → list of columns known to exist
        self.idcol = idcol
        self.fkcol = fkcol          # table → its foreign key column name
        self.style = style
        self.created = {}           # table → {col: type} created by the corpus
        self.enums = {}             # enum type → labels
        self.indexes = []           # (index, table, col) built by the corpus
        self.last = None            # previous migration name
        self.n = 0
        self.fresh = set()          # tables the migration being written creates
        self.notnull = {(t, cols[0]) for t, cols in self.tables.items()}   # NOT NULL (the keys too)


def projects():
    return [
        Project("forge", "forge", 14, 0.9, {
            "namespaces": ["id", "name", "path", "owner_id", "created_at"],
            "projects": ["id", "name", "path", "namespace_id", "creator_id", "visibility_level", "archived"],
            "users": ["id", "email", "username", "name", "state", "created_at"],
            "issues": ["id", "title", "project_id", "author_id", "state_id", "created_at"],
            "merge_requests": ["id", "title", "target_project_id", "author_id", "state_id", "merge_status"],
            "ci_builds": ["id", "status", "project_id", "commit_id", "name", "stage", "finished_at"],
            "notes": ["id", "note", "noteable_type", "noteable_id", "author_id", "project_id"],
        }, "id", {"namespaces": "namespace_id", "projects": "project_id", "users": "user_id",
                  "issues": "issue_id", "merge_requests": "merge_request_id", "ci_builds": "build_id",
                  "notes": "note_id"}, "rails"),
        Project("social", "social", None, 0.4, {
            "accounts": ["id", "username", "domain", "display_name", "note", "locked", "created_at"],
            "statuses": ["id", "uri", "text", "account_id", "in_reply_to_id", "reblog_of_id", "visibility"],
            "follows": ["id", "account_id", "target_account_id", "show_reblogs", "created_at"],
            "media_attachments": ["id", "status_id", "account_id", "file_file_name", "type", "remote_url"],
            "notifications": ["id", "activity_id", "activity_type", "account_id", "from_account_id"],
            "users": ["id", "email", "account_id", "locale", "disabled", "confirmed_at"],
        }, "id", {"accounts": "account_id", "statuses": "status_id", "follows": "follow_id",
                  "media_attachments": "media_attachment_id", "notifications": "notification_id",
                  "users": "user_id"}, "rails"),
        Project("forum", "forum", 13, 0.7, {
            "topics": ["id", "title", "category_id", "user_id", "views", "posts_count", "archetype"],
            "posts": ["id", "topic_id", "user_id", "raw", "cooked", "post_number", "reply_count"],
            "categories": ["id", "name", "slug", "parent_category_id", "position", "color"],
            "user_actions": ["id", "action_type", "user_id", "target_topic_id", "acting_user_id"],
            "users": ["id", "username", "email", "trust_level", "admin", "moderator", "last_seen_at"],
            "uploads": ["id", "user_id", "original_filename", "filesize", "url", "sha1"],
        }, "id", {"topics": "topic_id", "posts": "post_id", "categories": "category_id",
                  "user_actions": "user_action_id", "users": "user_id", "uploads": "upload_id"}, "rails"),
        Project("telemetry", "telemetry", 12, 0.8, {
            "sentry_project": ["id", "slug", "name", "organization_id", "status", "date_added"],
            "sentry_organization": ["id", "slug", "name", "status", "flags", "date_added"],
            "sentry_groupedmessage": ["id", "project_id", "logger", "level", "message", "status", "times_seen"],
            "sentry_release": ["id", "organization_id", "version", "ref", "url", "date_added"],
            "sentry_environment": ["id", "organization_id", "name", "date_added"],
            "sentry_eventattachment": ["id", "project_id", "event_id", "name", "type"],
        }, "id", {"sentry_project": "project_id", "sentry_organization": "organization_id",
                  "sentry_groupedmessage": "group_id", "sentry_release": "release_id",
                  "sentry_environment": "environment_id", "sentry_eventattachment": "attachment_id"}, "django"),
        Project("chat", "chat", 12, 0.6, {
            "zerver_realm": ["id", "string_id", "name", "deactivated", "date_created"],
            "zerver_userprofile": ["id", "email", "full_name", "realm_id", "is_active", "date_joined"],
            "zerver_stream": ["id", "name", "realm_id", "invite_only", "description", "date_created"],
            "zerver_message": ["id", "sender_id", "recipient_id", "content", "rendered_content", "date_sent"],
            "zerver_usermessage": ["id", "user_profile_id", "message_id", "flags"],
            "zerver_recipient": ["id", "type_id", "type"],
        }, "id", {"zerver_realm": "realm_id", "zerver_userprofile": "user_profile_id",
                  "zerver_stream": "stream_id", "zerver_message": "message_id",
                  "zerver_usermessage": "usermessage_id", "zerver_recipient": "recipient_id"}, "django"),
        Project("matrix", "matrix", 10, 0.5, {
            "events": ["stream_ordering", "topological_ordering", "event_id", "type", "room_id", "sender",
                       "outlier", "origin_server_ts"],
            "rooms": ["room_id", "is_public", "creator", "room_version"],
            "room_memberships": ["event_id", "user_id", "sender", "room_id", "membership", "forgotten"],
            "event_json": ["event_id", "room_id", "internal_metadata", "json", "format_version"],
            "device_lists_stream": ["stream_id", "user_id", "device_id"],
            "users": ["name", "password_hash", "creation_ts", "admin", "deactivated"],
            "access_tokens": ["id", "user_id", "device_id", "token", "valid_until_ms"],
        }, "stream_ordering", {"events": "event_stream_ordering", "rooms": "room_id",
                               "room_memberships": "membership_event_id", "event_json": "event_id",
                               "device_lists_stream": "device_stream_id", "users": "user_name",
                               "access_tokens": "access_token_id"}, "synapse"),
    ]


WORDS = ["archived", "pinned", "hidden", "imported", "verified", "approved", "locked", "spam", "featured",
         "sensitive", "silenced", "deleted", "muted", "draft", "trusted", "external", "internal", "public"]
NOUNS = ["label", "tag", "mention", "reaction", "bookmark", "subscription", "webhook", "audit_event",
         "export", "import_job", "token", "invite", "report", "poll", "vote", "alias", "mirror", "snippet",
         "deploy_key", "badge", "scheduled_job", "quota", "retention_policy", "feature_flag", "annotation"]
TEXTCOLS = ["description", "summary", "external_url", "source", "reason", "comment", "checksum", "locale",
            "time_zone", "theme", "avatar_url", "language", "provider", "fingerprint", "title_html"]
TIMECOLS = ["last_activity_at", "expires_at", "archived_at", "verified_at", "deleted_at", "scheduled_at",
            "synced_at", "reviewed_at", "published_at", "edited_at"]


class Rng:
    """Choices from random.Random.random() only: its sequence for a seed is
    the same in every Python version, unlike randrange(), sample() and
    choices()."""

    def __init__(self, seed):
        self.g = random.Random(seed)

    def random(self):
        return self.g.random()

    def randrange(self, a, b=None):
        lo, hi = (0, a) if b is None else (a, b)
        return lo + min(int(self.g.random() * (hi - lo)), hi - lo - 1)

    def getrandbits(self, k):
        return int(self.g.random() * (1 << k))

    def sample(self, xs, k):
        xs = list(xs)
        out = []
        for _ in range(k):
            out.append(xs.pop(self.randrange(len(xs))))
        return out

    def choices(self, xs, weights):
        total = sum(weights)
        x = self.g.random() * total
        for item, w in zip(xs, weights):
            if x < w:
                return [item]
            x -= w
        return [xs[-1]]


def one(r, xs):
    return xs[r.randrange(len(xs))]


# ---------------------------------------------------------------------------
# the file model: migration → phases → steps; lines may carry ⟦marks⟧


class Step:
    def __init__(self, name, up, down=None, irreversible=None, none=None, when=None, batch=False, allow=None):
        self.name, self.up, self.down = name, up, down
        self.irreversible, self.none, self.when, self.batch, self.allow = irreversible, none, when, batch, allow


class Phase:
    def __init__(self, name, steps, txn=None, lock=None, timeout=None, title=None):
        self.name, self.steps, self.txn, self.lock, self.timeout, self.title = name, steps, txn, lock, timeout, title


class Mig:
    def __init__(self, p, name, title):
        self.p, self.name, self.title = p, name, title
        self.phases = []
        self.imports = False
        self.extra_target = None


def habits(p, m, r):
    """How each project writes its SQL, applied to every body line of a
    migration: Django quotes its identifiers ("sentry_project"); pg_dump-
    style scripts (Synapse) write ALTER TABLE ONLY; some GitLab migrations
    qualify names with public.; Rails projects leave comments of the Ruby
    they came from, some naming SQL that must not count."""
    names = sorted(p.tables, key=len, reverse=True)
    tables = re.compile(r"(?<![\w\".])(%s)(?![\w\"])" % "|".join(re.escape(t) for t in names)) if names else None
    qualify = p.style == "rails" and p.key == "forge" and r.random() < 0.3
    only = p.style == "synapse" and r.random() < 0.5
    lower = p.style == "synapse" and r.random() < 0.3

    def fix(line):
        code, sep, comment = line.partition("--")
        parts = code.split("'")
        for i in range(0, len(parts), 2):       # outside string literals
            x = parts[i]
            if p.style == "django" and tables:
                x = tables.sub(lambda mo: '"%s"' % mo.group(1), x)
            elif qualify and tables:
                x = re.sub(r"\b(ALTER TABLE|ON|REFERENCES|TRUNCATE|DROP TABLE) (%s)\b" % "|".join(
                    re.escape(t) for t in names), r"\1 public.\2", x)
            if only:
                x = re.sub(r"^ALTER TABLE (?!ONLY)", "ALTER TABLE ONLY ", x)
            if lower:
                x = "⟦".join(seg if k == 0 else seg for k, seg in enumerate(x.split("⟦")))
                x = re.sub(r"[A-Z_]+", lambda mo: mo.group(0).lower(), x)
            parts[i] = x
        return "'".join(parts) + sep + comment

    for ph in m.phases:
        for st in ph.steps:
            st.up = [fix(x) if not x.startswith("@@") else x for x in st.up]
            if st.down:
                st.down = [fix(x) for x in st.down]
            if p.style == "rails" and r.random() < 0.12 and st.up and not st.up[0].startswith("@@"):
                st.up.insert(0, one(r, [
                    "-- add_index :%s, :id, algorithm: :concurrently (CREATE INDEX ... ON users (id))",
                    "/* DROP TABLE %s; -- kept: see the previous release */",
                    "-- ALTER TABLE %s ALTER COLUMN id TYPE bigint; comes later, in batches",
                ]).replace("%s", one(r, names)))


def render(m, after, target):
    """Lines of the file and the expected (line, rule) pairs."""
    out, exp = [], []

    def emit(text, phase_state=None):
        rules = MARK.findall(text)
        text = MARK.sub("", text)
        out.append(text.rstrip())
        for rule in rules:
            if rule == "lock":
                if phase_state is not None and not phase_state["lock"] and not phase_state["reported"]:
                    phase_state["reported"] = True
                    exp.append((len(out), "missing-lock-timeout"))
            else:
                exp.append((len(out), rule))

    if m.imports:
        emit("import std;")
        emit("")
    emit('migration %s "%s" {' % (m.name, m.title))
    if after:
        emit("  after %s;" % after)
    if target:
        emit("  target postgres >= %d;" % target)
    for ph in m.phases:
        emit("")
        emit("  phase %s%s {" % (ph.name, ' "%s"' % ph.title if ph.title else ""))
        st = {"lock": ph.lock is not None, "reported": False}
        if ph.txn:
            emit("    transaction %s;" % ph.txn)
        if ph.timeout:
            emit("    timeout %s;" % ph.timeout)
        if ph.lock:
            emit("    lock_timeout %s;" % ph.lock)
            if ph.lock != "2s" or ph.txn:
                pass
        for s in ph.steps:
            if s.allow:
                emit("    # mig: allow %s" % s.allow)
            emit("    step %s {" % s.name)
            if s.when:
                emit("      when %s;" % s.when)
            if s.batch:
                emit("      batch max 1000;" if s.batch is True else "      batch max %d;" % s.batch)
            body(emit, "up", s.up, st)
            if s.irreversible:
                emit('      down irreversible "%s";' % s.irreversible)
            elif s.none:
                emit('      down none "%s";' % s.none)
            else:
                body(emit, "down", s.down, st, down=True)
            emit("    }")
        emit("  }")
    emit("}")
    return out, exp


def body(emit, what, lines, st, down=False):
    if len(lines) == 1 and "\n" not in lines[0] and len(lines[0]) < 70 and "⟦" not in lines[0]:
        emit("      %s sql { %s }" % (what + ("  " if what == "up" else ""), lines[0]))
        return
    emit("      %s sql {" % what)
    for line in lines:
        for sub in line.split("\n"):
            if sub.startswith("\\") or sub.startswith("@@"):
                emit(sub[2:] if sub.startswith("@@") else sub, st)
            else:
                emit("        " + sub if sub else "", st)
    emit("      }")


# ---------------------------------------------------------------------------
# operations: each adds phases to a migration. Marks are the judgment.


def pick_table(p, r, old_only=False):
    """A table that existed before this migration (one created earlier in
    the same migration has no rows: a different case)."""
    names = [t for t in p.tables if t not in p.fresh and not (old_only and t in p.created)]
    return one(r, names)


def ident(name):
    return name[:63]


def col_of(p, r, t):
    return one(r, p.tables[t])


def new_col(p, r, t, pool):
    for _ in range(20):
        c = one(r, pool)
        if c not in p.tables[t]:
            return c
    c = one(r, pool) + "_%d" % r.randrange(2, 9)
    return c


def lock_for(p, r, force=None):
    if force is not None:
        return force
    return one(r, ["2s", "3s", "5s", "10s"]) if r.random() < p.lock_p else None


def ts(p):
    return "bigint" if p.style == "synapse" else "timestamptz"


def op_create_table(p, m, r):
    """A new table, its indexes, a foreign key to an existing table: the
    referenced table is locked (SHARE ROW EXCLUSIVE) while the new table is
    created: lock_timeout needed. Indexes on the new table are fine. Now and
    then CREATE TABLE IF NOT EXISTS with no guard (its down drops a table
    it may not have created) or with the guard."""
    noun = one(r, NOUNS)
    t = {"rails": noun + "s", "django": ("sentry_" if p.key == "telemetry" else "zerver_") + noun.replace("_", ""),
         "synapse": noun + "s"}[p.style]
    if t in p.tables:
        t = t + "_v2"
    ref = pick_table(p, r)
    fk = p.fkcol[ref]
    idtype = one(r, ["bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "bigserial PRIMARY KEY",
                     "bigint PRIMARY KEY", "uuid PRIMARY KEY DEFAULT gen_random_uuid()"])
    reftype = "text" if ref in ("rooms", "event_json", "users") and p.style == "synapse" else "bigint"
    refcol = p.tables[ref][0]
    variant = r.random()
    ine = ""
    when = None
    if variant < 0.12:
        ine = " IF NOT EXISTS"
    elif variant < 0.2:
        ine = " IF NOT EXISTS"
        when = 'not std.table_exists("%s")' % t
        m.imports = True
    inline_fk = r.random() < 0.5
    cols = ["id %s," % idtype]
    if inline_fk:
        cols.append("%s %s NOT NULL REFERENCES %s (%s) ON DELETE CASCADE," % (fk, reftype, ref, refcol))
    else:
        cols.append("%s %s NOT NULL," % (fk, reftype))
    extra = r.sample(TEXTCOLS, 2)
    cols.append("%s text," % extra[0])
    cols.append("%s %s," % (extra[1], one(r, ["text", "varchar(255)", "jsonb NOT NULL DEFAULT '{}'"])))
    cols.append("created_at %s NOT NULL DEFAULT %s," % (ts(p), "now()" if ts(p) == "timestamptz" else "0"))
    if inline_fk:
        cols.append("updated_at %s" % ts(p))
    else:
        cols.append("updated_at %s," % ts(p))
        cols.append("CONSTRAINT fk_%s_%s FOREIGN KEY (%s) REFERENCES %s (%s)" % (t[:20], fk, fk, ref, refcol))
    mark = "" if when is None and not ine else ""
    first = "CREATE TABLE%s %s (" % (ine, t)
    marks = " ⟦lock⟧"
    if ine and when is None:
        marks += " ⟦if-not-exists-unguarded⟧"
    up = [first + marks] + ["  " + c for c in cols] + [");",
          "CREATE INDEX %s ON %s (%s);" % (ident("index_%s_on_%s" % (t, fk)), t, fk)]
    if r.random() < 0.5:
        up.append("CREATE UNIQUE INDEX %s ON %s (%s, %s);" % (ident("index_%s_on_%s_and_%s" % (t, fk, extra[0])),
                                                              t, fk, extra[0]))
    steps = [Step("create_" + t, up, ["DROP TABLE %s;" % t], when=when)]
    m.phases.append(Phase("schema", steps, lock=lock_for(p, r)))
    p.tables[t] = ["id", fk, extra[0], extra[1], "created_at", "updated_at"]
    p.notnull |= {(t, "id"), (t, fk), (t, "created_at")}
    p.created[t] = {extra[1]: cols[3].split(" ")[1].rstrip(",")}
    p.fresh.add(t)
    p.fkcol[t] = noun + "_id"
    return t


POOLS = {
    "uuid": ["public_id", "external_uuid", "tracking_id", "uuid", "secret_uuid"],
    "boolean": ["is_" + w for w in WORDS],
    "time": TIMECOLS,
    "int": ["position", "priority", "retry_count", "lock_version", "reports_count", "followers_count"],
    "jsonb": ["settings", "metadata", "preferences", "extra_data", "payload"],
    "float": ["score", "weight", "sample_rate", "ranking"],
    "text": TEXTCOLS,
    "seq": ["iid", "seq", "sequence_number", "display_order"],
}


def pool_of(typ):
    t = typ.split(" ")[0]
    return POOLS["uuid" if t == "uuid" else "boolean" if t == "boolean" else
                 "time" if t in ("timestamptz", "timestamp") else "int" if t in ("integer", "bigint", "smallint") else
                 "jsonb" if t == "jsonb" else "float" if t == "double" else
                 "seq" if t in ("bigserial", "serial") or "IDENTITY" in typ else "text"]


def op_add_column(p, m, r):
    """ADD COLUMN on an existing table, in its many shapes. From PostgreSQL
    11 a constant or stable default is stored once (not a rewrite); a
    volatile one (gen_random_uuid(), random(), clock_timestamp(), a user
    function), a serial, an identity or a GENERATED … STORED column
    rewrites the table on every version; before 11 any default does. NOT
    NULL without a default fails on a table with rows. REFERENCES validates
    at once and locks the referenced table. An inline UNIQUE builds an index
    under ACCESS EXCLUSIVE."""
    t = pick_table(p, r)
    old = p.target is not None and p.target < 11
    kind = r.random()
    when = None
    irrev = None
    c = None
    if kind < 0.22:
        typ = one(r, ["text", "bigint", "jsonb", ts(p), "integer", "boolean"])
        line = "ALTER TABLE %s ADD COLUMN {c} %s; ⟦lock⟧" % (t, typ)
    elif kind < 0.40:
        d = one(r, ["false", "0", "'{}'::jsonb", "''", "'none'", "now()", "CURRENT_TIMESTAMP", "true"])
        typ = {"false": "boolean", "true": "boolean", "0": "integer", "'{}'::jsonb": "jsonb", "''": "text",
               "'none'": "varchar(32)", "now()": "timestamptz", "CURRENT_TIMESTAMP": "timestamptz"}[d]
        nn = " NOT NULL" if r.random() < 0.5 else ""
        line = "ALTER TABLE %s ADD COLUMN {c} %s%s DEFAULT %s;%s ⟦lock⟧" % (
            t, typ, nn, d, " ⟦volatile-default⟧" if old else "")
    elif kind < 0.52:
        fn = one(r, ["gen_random_uuid()", "uuid_generate_v4()", "random()", "clock_timestamp()",
                     "%s_next_code()" % p.key, "md5(random()::text)"])
        typ = {"gen_random_uuid()": "uuid", "uuid_generate_v4()": "uuid", "random()": "double precision",
               "clock_timestamp()": "timestamptz"}.get(fn, "text")
        line = "ALTER TABLE %s ADD COLUMN {c} %s DEFAULT %s; ⟦lock⟧ ⟦volatile-default⟧" % (t, typ, fn)
    elif kind < 0.60:
        src = col_of(p, r, t)
        typ = one(r, ["bigserial", "serial", "bigint GENERATED ALWAYS AS IDENTITY",
                      "text GENERATED ALWAYS AS (lower(%s)) STORED" % src])
        if "STORED" in typ:
            c = src + "_normalized"
        line = "ALTER TABLE %s ADD COLUMN {c} %s; ⟦lock⟧ ⟦volatile-default⟧" % (t, typ)
    elif kind < 0.68:
        typ = one(r, ["text", "bigint", ts(p)])
        line = "ALTER TABLE %s ADD COLUMN {c} %s NOT NULL; ⟦lock⟧ ⟦add-column-not-null⟧" % (t, typ)
    elif kind < 0.76:
        ref = one(r, [x for x in p.tables if x != t])
        typ = "bigint"
        c = p.fkcol[ref] if p.fkcol[ref] not in p.tables[t] else "owner_" + p.fkcol[ref]
        line = "ALTER TABLE %s ADD COLUMN {c} bigint REFERENCES %s (%s); ⟦lock⟧ ⟦constraint-not-valid⟧" % (
            t, ref, p.tables[ref][0])
    elif kind < 0.82:
        typ = one(r, ["text", "uuid"])
        line = "ALTER TABLE %s ADD COLUMN {c} %s UNIQUE; ⟦lock⟧ ⟦constraint-index-blocking⟧" % (t, typ)
    else:
        typ = one(r, ["text", "boolean", "jsonb"])
        line = "ALTER TABLE %s ADD COLUMN IF NOT EXISTS {c} %s; ⟦lock⟧" % (t, typ)
        if kind < 0.90:
            line += " ⟦if-not-exists-unguarded⟧"
        elif kind < 0.95:
            when = 'not std.column_exists("%s", "{c}")' % t
            m.imports = True
        else:
            irrev = "the column may hold data written since: it stays"
    if c is None or c in p.tables[t]:
        c = new_col(p, r, t, pool_of(typ))
    line = line.replace("{c}", c)
    when = when.replace("{c}", c) if when else None
    down = ["ALTER TABLE %s DROP COLUMN %s;" % (t, c)]
    if "NOT NULL" in line:
        p.notnull.add((t, c))
    if "IF NOT EXISTS" not in line and r.random() < 0.2:
        line = line.replace("ADD COLUMN ", "ADD ", 1)
    p.tables[t].append(c)
    m.phases.append(Phase("add_%s" % c, [Step("add_" + c, [line], down, irreversible=irrev, when=when)],
                          lock=lock_for(p, r)))


def op_add_columns(p, m, r):
    """Several columns in one ALTER TABLE (Django and Rails both emit it):
    each action is judged on its own line, the lock once for the
    statement."""
    t = pick_table(p, r)
    old = p.target is not None and p.target < 11
    cols = []
    k = r.random()
    for pool in (POOLS["text"], POOLS["uuid"] if k < 0.4 else POOLS["boolean"] if k < 0.7 else POOLS["time"],
                 POOLS["int"]):
        c = new_col(p, r, t, pool)
        p.tables[t].append(c)
        cols.append(c)
    a = "  ADD COLUMN %s text," % cols[0]
    if k < 0.4:
        b = "  ADD COLUMN %s uuid DEFAULT gen_random_uuid(), ⟦volatile-default⟧" % cols[1]
    elif k < 0.7:
        b = "  ADD COLUMN %s boolean NOT NULL DEFAULT false,%s" % (cols[1], " ⟦volatile-default⟧" if old else "")
    else:
        b = "  ADD COLUMN %s timestamptz NOT NULL, ⟦add-column-not-null⟧" % cols[1]
    if "NOT NULL" in b:
        p.notnull.add((t, cols[1]))
    c3 = "  ADD COLUMN %s integer DEFAULT 0;%s" % (cols[2], " ⟦volatile-default⟧" if old else "")
    up = ["ALTER TABLE %s ⟦lock⟧" % t, a, b, c3]
    down = ["ALTER TABLE %s DROP COLUMN %s, DROP COLUMN %s, DROP COLUMN %s;" % (t, cols[2], cols[1], cols[0])]
    m.phases.append(Phase("columns", [Step("add_columns", up, down)], lock=lock_for(p, r)))


def op_positive_field(p, m, r):
    """Django's PositiveIntegerField: ADD COLUMN … CHECK (c >= 0) inline.
    PostgreSQL checks every existing row under the ALTER's ACCESS EXCLUSIVE
    lock, and an inline check cannot be NOT VALID (constraint-not-valid);
    the safe form adds the column, then the constraint NOT VALID, and
    validates it in a later phase."""
    t = pick_table(p, r)
    c = new_col(p, r, t, POOLS["int"])
    p.tables[t].append(c)
    p.notnull.add((t, c))
    down = ["ALTER TABLE %s DROP COLUMN %s;" % (t, c)]
    if r.random() < 0.5:
        m.phases.append(Phase("add_%s" % c, [Step("add_" + c, [
            "ALTER TABLE %s ADD COLUMN %s integer DEFAULT 0 NOT NULL CHECK (%s >= 0); ⟦lock⟧ ⟦constraint-not-valid⟧%s" % (
                t, c, c, " ⟦volatile-default⟧" if p.target is not None and p.target < 11 else ""),
            "ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT;" % (t, c)], down)], lock=lock_for(p, r)))
    else:
        name = "%s_%s_check" % (t[:30], c)
        m.phases.append(Phase("add_%s" % c, [Step("add_" + c, [
            "ALTER TABLE %s ADD COLUMN %s integer DEFAULT 0 NOT NULL; ⟦lock⟧%s" % (
                t, c, " ⟦volatile-default⟧" if p.target is not None and p.target < 11 else ""),
            "ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s >= 0) NOT VALID;" % (t, name, c)], down)],
            lock=lock_for(p, r)))
        m.phases.append(Phase("validate_%s" % c, [Step("validate_" + c, [
            "ALTER TABLE %s VALIDATE CONSTRAINT %s; ⟦lock⟧" % (t, name)], none="validation changes no data")],
            lock=lock_for(p, r)))


def op_index(p, m, r):
    """Indexes on existing tables: CREATE INDEX without CONCURRENTLY holds a
    SHARE lock for the build (create-index-blocking); with CONCURRENTLY in a
    transaction none phase it is the safe form; CONCURRENTLY inside a
    transaction fails (and so does a down with DROP INDEX CONCURRENTLY
    there)."""
    t = pick_table(p, r)
    cols = r.sample(p.tables[t], 2 if r.random() < 0.3 else 1)
    ix = ident("index_%s_on_%s" % (t, "_and_".join(cols)))
    uniq = "UNIQUE " if r.random() < 0.2 else ""
    where = " WHERE %s IS NOT NULL" % cols[0] if r.random() < 0.25 else ""
    kind = r.random()
    if kind < 0.1:
        # no name: PostgreSQL picks t_c_idx
        ix = ident("%s_%s_idx" % (t, "_".join(cols)))
        st = Step("add_" + ix[:50], ["CREATE %sINDEX CONCURRENTLY ON %s (%s)%s;" % (uniq, t, ", ".join(cols), where)],
                  ["DROP INDEX CONCURRENTLY %s;" % ix])
        m.phases.append(Phase("indexes", [st], txn="none", lock=lock_for(p, r)))
    elif kind < 0.55:
        st = Step("add_" + ix[:50], ["CREATE %sINDEX CONCURRENTLY %s ON %s (%s)%s;" % (uniq, ix, t, ", ".join(cols), where)],
                  ["DROP INDEX CONCURRENTLY %s;" % ix])
        m.phases.append(Phase("indexes", [st], txn="none", lock=lock_for(p, r)))
    elif kind < 0.8:
        st = Step("add_" + ix[:50], ["CREATE %sINDEX %s ON %s (%s)%s; ⟦create-index-blocking⟧ ⟦lock⟧" % (
            uniq, ix, t, ", ".join(cols), where)], ["DROP INDEX %s;" % ix])
        m.phases.append(Phase("indexes", [st], lock=lock_for(p, r)))
    elif kind < 0.9:
        st = Step("add_" + ix[:50], ["CREATE %sINDEX CONCURRENTLY %s ON %s (%s)%s; ⟦concurrently-in-transaction⟧" % (
            uniq, ix, t, ", ".join(cols), where)], ["DROP INDEX CONCURRENTLY %s; ⟦concurrently-in-transaction⟧" % ix])
        m.phases.append(Phase("indexes", [st], lock=lock_for(p, r)))
    else:
        # IF NOT EXISTS: Rails' algorithm: :concurrently, if_not_exists: true
        st = Step("add_" + ix[:50], ["CREATE %sINDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s); ⟦if-not-exists-unguarded⟧" % (
            uniq, ix, t, ", ".join(cols))], ["DROP INDEX CONCURRENTLY IF EXISTS %s;" % ix])
        m.phases.append(Phase("indexes", [st], txn="none", lock=lock_for(p, r)))
    p.indexes.append((ix, t, cols[0]))


def op_drop_index(p, m, r):
    """DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table
    (drop-index-blocking); CONCURRENTLY in a transaction none phase does
    not. The index is one an earlier migration built."""
    if not p.indexes:
        return op_index(p, m, r)
    ix, t, c = p.indexes.pop(r.randrange(len(p.indexes)))
    recreate = "CREATE INDEX CONCURRENTLY %s ON %s (%s);" % (ix, t, c)
    if r.random() < 0.5:
        st = Step("drop_" + ix[:50], ["DROP INDEX CONCURRENTLY IF EXISTS %s;" % ix], [recreate])
        m.phases.append(Phase("cleanup", [st], txn="none", lock=lock_for(p, r)))
    else:
        st = Step("drop_" + ix[:50], ["DROP INDEX %s; ⟦drop-index-blocking⟧ ⟦lock⟧" % ix],
                  ["CREATE INDEX %s ON %s (%s);" % (ix, t, c)])
        m.phases.append(Phase("cleanup", [st], lock=lock_for(p, r)))


def op_reindex(p, m, r):
    """REINDEX without CONCURRENTLY blocks writes (reindex-blocking); the
    concurrent form belongs in a transaction none phase (from 12)."""
    if p.indexes and r.random() < 0.7:
        what = "INDEX %s" % one(r, p.indexes)[0]
    else:
        what = "TABLE %s" % pick_table(p, r)
    if r.random() < 0.5 and (p.target is None or p.target >= 12):
        kw, obj = what.split(" ", 1)
        st = Step("rebuild", ["REINDEX %s CONCURRENTLY %s;" % (kw, obj)], none="a rebuilt index is the same index")
        m.phases.append(Phase("rebuild", [st], txn="none"))
    else:
        st = Step("rebuild", ["REINDEX %s; ⟦reindex-blocking⟧" % what], none="a rebuilt index is the same index")
        m.phases.append(Phase("rebuild", [st], lock=lock_for(p, r)))


def op_unique_constraint(p, m, r):
    """A primary key or unique constraint on an existing table: ADD UNIQUE /
    ADD PRIMARY KEY builds the index under ACCESS EXCLUSIVE
    (constraint-index-blocking); CREATE UNIQUE INDEX CONCURRENTLY then ADD
    CONSTRAINT … USING INDEX is the safe pattern."""
    t = pick_table(p, r)
    c = col_of(p, r, t)
    name = "%s_%s_key" % (t, c)
    if r.random() < 0.5:
        m.phases.append(Phase("build_index", [Step("unique_index", [
            "CREATE UNIQUE INDEX CONCURRENTLY %s_idx ON %s (%s);" % (name, t, c)],
            ["DROP INDEX CONCURRENTLY %s_idx;" % name])], txn="none"))
        m.phases.append(Phase("attach", [Step("attach_constraint", [
            "ALTER TABLE %s ADD CONSTRAINT %s UNIQUE USING INDEX %s_idx; ⟦lock⟧" % (t, name, name)],
            ["ALTER TABLE %s DROP CONSTRAINT %s;" % (t, name)])], lock=lock_for(p, r)))
    else:
        pk = r.random() < 0.3
        line = ("ALTER TABLE %s ADD PRIMARY KEY (%s); ⟦lock⟧ ⟦constraint-index-blocking⟧" % (t, c) if pk else
                "ALTER TABLE %s ADD CONSTRAINT %s UNIQUE (%s); ⟦lock⟧ ⟦constraint-index-blocking⟧" % (t, name, c))
        down = "ALTER TABLE %s DROP CONSTRAINT %s;" % (t, "%s_pkey" % t if pk else name)
        m.phases.append(Phase("constraints", [Step("add_" + ("pk" if pk else "unique"), [line], [down])],
                              lock=lock_for(p, r)))


def op_foreign_key(p, m, r):
    """A foreign key between existing tables: without NOT VALID every row is
    checked under the lock (constraint-not-valid); NOT VALID then VALIDATE
    in a later phase is the safe pattern; VALIDATE in the same transaction
    as the ADD keeps the lock for the scan (validate-same-transaction)."""
    t = pick_table(p, r)
    ref = one(r, [x for x in p.tables if x != t])
    col = p.fkcol[ref] if p.fkcol[ref] in p.tables[t] else col_of(p, r, t)
    name = "fk_rails_%08x" % r.getrandbits(32) if p.style == "rails" else "%s_%s_fk_%s" % (t[:20], col, ref[:12])
    add = "ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (%s)%s" % (
        t, name, col, ref, p.tables[ref][0], " ON DELETE CASCADE" if r.random() < 0.4 else "")
    down = ["ALTER TABLE %s DROP CONSTRAINT %s;" % (t, name)]
    kind = r.random()
    if kind < 0.4:
        m.phases.append(Phase("add_fk", [Step("add_" + name[:40], [add + " NOT VALID; ⟦lock⟧"], down)],
                              lock=lock_for(p, r)))
        m.phases.append(Phase("validate_fk", [Step("validate_" + name[:40], [
            "ALTER TABLE %s VALIDATE CONSTRAINT %s; ⟦lock⟧" % (t, name)], none="validation changes no data")],
            lock=lock_for(p, r)))
    elif kind < 0.7:
        m.phases.append(Phase("add_fk", [Step("add_" + name[:40], [add + "; ⟦lock⟧ ⟦constraint-not-valid⟧"], down)],
                              lock=lock_for(p, r)))
    elif kind < 0.85:
        m.phases.append(Phase("add_fk", [Step("add_" + name[:40], [
            add + " NOT VALID; ⟦lock⟧",
            "ALTER TABLE %s VALIDATE CONSTRAINT %s; ⟦validate-same-transaction⟧" % (t, name)], down)],
            lock=lock_for(p, r)))
    else:
        # two steps of one transaction phase: still one transaction
        m.phases.append(Phase("add_fk", [
            Step("add_" + name[:40], [add + " NOT VALID; ⟦lock⟧"], down),
            Step("validate_" + name[:40], ["ALTER TABLE %s VALIDATE CONSTRAINT %s; ⟦validate-same-transaction⟧" % (
                t, name)], none="validation changes no data")], lock=lock_for(p, r)))


def op_check(p, m, r):
    """A CHECK constraint: without NOT VALID it scans under ACCESS EXCLUSIVE
    (constraint-not-valid); NOT VALID + VALIDATE in a transaction step
    phase's later step is safe (each step commits)."""
    t = pick_table(p, r)
    c = col_of(p, r, t)
    name = "check_%s_%s" % (t[:24], c)
    cond = one(r, ["char_length(%s) <= 255" % c, "%s IS NOT NULL OR id < 0" % c, "%s <> ''" % c])
    add = "ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s)" % (t, name, cond)
    down = ["ALTER TABLE %s DROP CONSTRAINT %s;" % (t, name)]
    if r.random() < 0.45:
        m.phases.append(Phase("check", [Step("add_check", [add + "; ⟦lock⟧ ⟦constraint-not-valid⟧"], down)],
                              lock=lock_for(p, r)))
    else:
        m.phases.append(Phase("check", [
            Step("add_check", [add + " NOT VALID; ⟦lock⟧"], down),
            Step("validate_check", ["ALTER TABLE %s VALIDATE CONSTRAINT %s;" % (t, name)],
                 none="validation changes no data")], txn="step", lock=lock_for(p, r)))


def op_not_null(p, m, r):
    """NOT NULL on an existing table. SET NOT NULL scans under ACCESS
    EXCLUSIVE (set-not-null), also for a column added earlier in the same
    migration (the table has rows). The safe pattern: CHECK (c IS NOT NULL)
    NOT VALID, VALIDATE in a later phase, then SET NOT NULL, which
    PostgreSQL 12+ proves from the constraint (before 12 it still scans)."""
    t = pick_table(p, r)
    kind = r.random()
    cands = [c for c in p.tables[t] if (t, c) not in p.notnull]
    done = [c for c in p.tables[t] if (t, c) in p.notnull]
    if kind < 0.08 and done:
        # already NOT NULL (the key, or declared so by an earlier migration):
        # PostgreSQL has nothing to check, nothing to report
        c = one(r, done)
        m.phases.append(Phase("not_null", [Step("assert_not_null", [
            "ALTER TABLE %s ALTER COLUMN %s SET NOT NULL; ⟦lock⟧" % (t, c)],
            none="the column was NOT NULL already")], lock=lock_for(p, r)))
        return
    if not cands:
        kind = 0.4          # every column is NOT NULL already: add one
    if kind < 0.35:
        c = one(r, cands)
        p.notnull.add((t, c))
        m.phases.append(Phase("not_null", [Step("set_not_null", [
            "ALTER TABLE %s ALTER COLUMN %s SET NOT NULL; ⟦lock⟧ ⟦set-not-null⟧" % (t, c)],
            ["ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL;" % (t, c)])], lock=lock_for(p, r)))
    elif kind < 0.55:
        c = new_col(p, r, t, TEXTCOLS)
        p.tables[t].append(c)
        p.notnull.add((t, c))
        m.phases.append(Phase("add", [Step("add_" + c, ["ALTER TABLE %s ADD COLUMN %s text; ⟦lock⟧" % (t, c)],
                                           ["ALTER TABLE %s DROP COLUMN %s;" % (t, c)])], lock=lock_for(p, r)))
        m.phases.append(Phase("backfill", [Step("backfill_" + c, [
            "UPDATE %s SET %s = '' WHERE %s IN (SELECT %s FROM %s WHERE %s IS NULL LIMIT 1000);" % (
                t, c, p.tables[t][0], p.tables[t][0], t, c)], none="the values may stay", batch=True)],
            txn="step"))
        m.phases.append(Phase("constrain", [Step("set_not_null", [
            "ALTER TABLE %s ALTER COLUMN %s SET NOT NULL; ⟦lock⟧ ⟦set-not-null⟧" % (t, c)],
            ["ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL;" % (t, c)])], lock=lock_for(p, r)))
    else:
        c = one(r, cands)
        p.notnull.add((t, c))
        name = "%s_%s_not_null" % (t[:30], c)
        m.phases.append(Phase("check", [Step("add_check", [
            "ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID; ⟦lock⟧" % (t, name, c)],
            ["ALTER TABLE %s DROP CONSTRAINT %s;" % (t, name)])], lock=lock_for(p, r)))
        m.phases.append(Phase("validate", [Step("validate_check", [
            "ALTER TABLE %s VALIDATE CONSTRAINT %s; ⟦lock⟧" % (t, name)], none="validation changes no data")],
            lock=lock_for(p, r)))
        old = p.target is not None and p.target < 12
        m.phases.append(Phase("set_not_null", [Step("set_not_null", [
            "ALTER TABLE %s ALTER COLUMN %s SET NOT NULL; ⟦lock⟧%s" % (t, c, " ⟦set-not-null⟧" if old else ""),
            "ALTER TABLE %s DROP CONSTRAINT %s;" % (t, name)],
            ["ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL;" % (t, c)])], lock=lock_for(p, r)))


def op_new_table_not_null(p, m, r):
    """SET NOT NULL and a later index on a table created in the same
    migration: no rows, nothing to report (squawk false-alarms here). Also
    CREATE TABLE … AS and a materialized view with its index."""
    t = op_create_table(p, m, r)
    c = p.tables[t][2]
    m.phases.append(Phase("tighten", [Step("require_" + c, [
        "ALTER TABLE %s ALTER COLUMN %s SET NOT NULL;" % (t, c),
        "CREATE INDEX %s ON %s (%s);" % (ident("index_%s_on_%s" % (t, c)), t, c)],
        ["DROP INDEX %s;" % ident("index_%s_on_%s" % (t, c)), "ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL;" % (t, c)])],
        lock=m.phases[-1].lock))
    if r.random() < 0.5:
        src = pick_table(p, r)
        mv = "%s_stats" % src
        m.phases.append(Phase("reporting", [Step("materialize_" + mv, [
            "CREATE MATERIALIZED VIEW %s AS SELECT %s, count(*) AS n FROM %s GROUP BY 1;" % (mv, p.tables[src][0], src),
            "CREATE UNIQUE INDEX %s_key ON %s (%s);" % (mv, mv, p.tables[src][0])],
            ["DROP MATERIALIZED VIEW %s;" % mv])]))
    else:
        src = pick_table(p, r)
        snap = "%s_snapshot" % src
        m.phases.append(Phase("snapshot", [Step("copy_" + src, [
            "CREATE TABLE %s AS SELECT * FROM %s WHERE false;" % (snap, src),
            "ALTER TABLE %s ADD PRIMARY KEY (%s);" % (snap, p.tables[src][0]),
            "CREATE INDEX %s_idx ON %s (%s);" % (snap, snap, p.tables[src][1])],
            ["DROP TABLE %s;" % snap])]))


def op_type_change(p, m, r):
    """ALTER COLUMN … TYPE rewrites the table (alter-column-type) unless
    the column's type, known from the migration that created it, only
    widens a varchar (or becomes text): then nothing is rewritten."""
    known = [(t, c, ty) for t, cols in p.created.items() for c, ty in cols.items()
             if t in p.tables and t not in p.fresh and c in p.tables[t]]
    if known and r.random() < 0.6:
        t, c, ty = one(r, known)
        if ty.startswith("varchar"):
            n = int(ty[8:-1])
            if r.random() < 0.6:
                new = one(r, ["varchar(%d)" % (n * 2), "text", "character varying(%d)" % (n + 256)])
                mark = ""
            else:
                new = "varchar(%d)" % (n // 2)
                mark = " ⟦alter-column-type⟧"
        else:
            # another type: every row is converted (a USING where no cast is implicit)
            new = one(r, [x for x in ["varchar(100)", "bigint USING %s::bigint" % c, "jsonb USING %s::jsonb" % c,
                                      "timestamptz USING %s::timestamptz" % c] if x.split(" ")[0] != ty])
            mark = " ⟦alter-column-type⟧"
        p.created[t][c] = new.split(" USING")[0].replace("character varying", "varchar")
        m.phases.append(Phase("retype", [Step("widen_" + c, [
            "ALTER TABLE %s ALTER COLUMN %s TYPE %s; ⟦lock⟧%s" % (t, c, new, mark)],
            ["ALTER TABLE %s ALTER COLUMN %s TYPE %s;" % (t, c, ty)])], lock=lock_for(p, r)))
    else:
        t = pick_table(p, r, old_only=True)
        c = p.tables[t][0]
        m.phases.append(Phase("retype", [Step("bigint_" + c, [
            "ALTER TABLE %s ALTER COLUMN %s TYPE bigint; ⟦lock⟧ ⟦alter-column-type⟧" % (t, c)],
            irreversible="narrowing back could overflow")], lock=lock_for(p, r)))
        # known from now on: a second change to bigint would change nothing
        p.created.setdefault(t, {})[c] = "bigint"


def op_enum(p, m, r):
    """Enums: a new value without BEFORE/AFTER lands wherever each database's
    history put the others (enum-value-position); ADD VALUE inside a
    transaction fails before PostgreSQL 12 and with no version declared the
    cautious assumption is an old server (concurrently-in-transaction); in a
    transaction none phase it always runs."""
    if not p.enums or r.random() < 0.3:
        e = one(r, ["%s_state" % p.key, "visibility", "job_status", "membership_kind", "severity"])
        if e in p.enums:
            e = e + "_v2"
        labels = r.sample(["pending", "active", "blocked", "done", "failed", "queued", "running", "canceled"], 3)
        p.enums[e] = labels
        t = pick_table(p, r)
        c = e.split("_")[0] + "_kind"
        m.phases.append(Phase("types", [Step("create_" + e, [
            "CREATE TYPE %s AS ENUM (%s);" % (e, ", ".join("'%s'" % x for x in labels)),
            "ALTER TABLE %s ADD COLUMN %s %s; ⟦lock⟧" % (t, c, e)],
            ["ALTER TABLE %s DROP COLUMN %s;" % (t, c), "DROP TYPE %s;" % e])], lock=lock_for(p, r)))
        p.tables[t].append(c)
        return
    e = one(r, list(p.enums))
    v = one(r, ["archived", "paused", "expired", "skipped", "manual", "scheduled"]) + "_%d" % len(p.enums[e])
    placed = r.random() < 0.6
    pos = " AFTER '%s'" % p.enums[e][-1] if placed else ""
    p.enums[e].append(v)
    txn_none = r.random() < 0.5
    line = "ALTER TYPE %s ADD VALUE '%s'%s;" % (e, v, pos)
    if not placed:
        line += " ⟦enum-value-position⟧"
    if not txn_none and (p.target is None or p.target < 12):
        line += " ⟦concurrently-in-transaction⟧"
    m.phases.append(Phase("enum", [Step("add_" + v, [line], irreversible="PostgreSQL cannot drop an enum value")],
                          txn="none" if txn_none else None))


def op_rename(p, m, r):
    """Renames break the application version still running (rename);
    RENAME CONSTRAINT and ALTER INDEX … RENAME do not (no query names them)."""
    t = pick_table(p, r)
    kind = r.random()
    if kind < 0.4:
        c = col_of(p, r, t)
        nc = c + "_legacy" if not c.endswith("_legacy") else c[:-7]
        kw = one(r, ["RENAME COLUMN", "RENAME COLUMN", "RENAME"])
        m.phases.append(Phase("rename", [Step("rename_" + c, [
            "ALTER TABLE %s %s %s TO %s; ⟦lock⟧ ⟦rename⟧" % (t, kw, c, nc)],
            ["ALTER TABLE %s RENAME COLUMN %s TO %s;" % (t, nc, c)])], lock=lock_for(p, r)))
        p.tables[t][p.tables[t].index(c)] = nc
        if c in p.created.get(t, {}):
            p.created[t][nc] = p.created[t].pop(c)
        p.notnull = {(a, nc if (a, b) == (t, c) else b) for a, b in p.notnull}
    elif kind < 0.7:
        old = "%s_%s_fkey" % (t, col_of(p, r, t))
        m.phases.append(Phase("rename", [Step("rename_constraint", [
            "ALTER TABLE %s RENAME CONSTRAINT %s TO fk_%s_%d; ⟦lock⟧" % (t, old, t[:30], r.randrange(100))],
            ["ALTER TABLE %s RENAME CONSTRAINT fk_%s_%d TO %s;" % (t, t[:30], 0, old)])], lock=lock_for(p, r)))
    elif kind < 0.85 and p.indexes:
        ix, it, ic = one(r, p.indexes)
        m.phases.append(Phase("rename", [Step("rename_index", [
            "ALTER INDEX %s RENAME TO %s_old;" % (ix, ix[:50])],
            ["ALTER INDEX %s_old RENAME TO %s;" % (ix[:50], ix)])], lock=lock_for(p, r)))
        p.indexes.remove((ix, it, ic))
        p.indexes.append((ix[:50] + "_old", it, ic))
    else:
        nt = t + "_archive"
        m.phases.append(Phase("rename", [Step("rename_" + t, [
            "ALTER TABLE %s RENAME TO %s; ⟦lock⟧ ⟦rename⟧" % (t, nt)],
            ["ALTER TABLE %s RENAME TO %s;" % (nt, t)])], lock=lock_for(p, r)))
        p.tables[nt] = p.tables.pop(t)
        p.fkcol[nt] = p.fkcol.pop(t)
        if t in p.created:
            p.created[nt] = p.created.pop(t)
        p.indexes = [(a, nt if b == t else b, c) for a, b, c in p.indexes]


def op_destructive(p, m, r):
    """Dropping data: DROP COLUMN, DROP TABLE, TRUNCATE (destructive). A
    deliberate drop carries a suppression with its reason."""
    t = pick_table(p, r)
    kind = r.random()
    allow = None
    if kind < 0.5 and len(p.tables[t]) > 3:
        c = p.tables[t][-1]
        p.tables[t].remove(c)
        p.created.get(t, {}).pop(c, None)
        if r.random() < 0.4:
            allow = "destructive — the column has been ignored by the application since the last release"
            line = "ALTER TABLE %s DROP COLUMN %s; ⟦lock⟧" % (t, c)
        else:
            line = "ALTER TABLE %s DROP COLUMN %s; ⟦lock⟧ ⟦destructive⟧" % (t, c)
        m.phases.append(Phase("drop", [Step("drop_" + c, [line], irreversible="the data is gone", allow=allow)],
                              lock=lock_for(p, r)))
    elif kind < 0.8 and t in p.created and len(p.tables) > 5:
        del p.tables[t]
        p.indexes = [x for x in p.indexes if x[1] != t]
        m.phases.append(Phase("drop", [Step("drop_" + t, [
            "DROP TABLE %s; ⟦lock⟧ ⟦destructive⟧" % t], irreversible="the data is gone")], lock=lock_for(p, r)))
    else:
        noun = one(r, ["cache", "queue", "stats", "tmp"])
        tt = "%s_%s" % (t, noun)
        m.phases.append(Phase("reset", [Step("truncate_" + tt, [
            "TRUNCATE %s; ⟦lock⟧ ⟦destructive⟧" % tt], irreversible="the cache refills itself")],
            lock=lock_for(p, r)))


def op_backfill(p, m, r):
    """A batched backfill in a transaction step phase, with an index built
    concurrently for it: nothing to report."""
    t = pick_table(p, r)
    c = col_of(p, r, t)
    k = p.tables[t][0]
    m.phases.append(Phase("backfill", [Step("backfill_%s" % c, [
        "UPDATE %s SET %s = %s" % (t, c, "lower(%s)" % c),
        " WHERE %s IN (SELECT %s FROM %s WHERE %s <> lower(%s) LIMIT 1000);" % (k, k, t, c, c)],
        none="lower case is what the application writes now", batch=True)], txn="step",
        timeout=one(r, [None, "15m"])))


def op_function(p, m, r):
    """A trigger function and its trigger on an existing table: CREATE
    TRIGGER takes a SHARE ROW EXCLUSIVE lock (not reported: it is short and
    has no scan). The down drops both; a down that forgets the function is
    down-missing-object."""
    t = pick_table(p, r)
    fn = "%s_touch_updated_at" % t[:30]
    forget = r.random() < 0.3
    up = ["CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $$%s" % (
        fn, " ⟦down-missing-object⟧" if forget else ""),
          "BEGIN",
          "  NEW.updated_at := now(); -- a comment; with a semicolon",
          "  RETURN NEW;",
          "END;",
          "$$;",
          "CREATE TRIGGER %s_updated BEFORE UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION %s(); ⟦lock⟧" % (
              t[:30], t, fn)]
    down = ["DROP TRIGGER %s_updated ON %s;" % (t[:30], t)]
    if not forget:
        down.append("DROP FUNCTION %s();" % fn)
    m.phases.append(Phase("triggers", [Step("touch_trigger", up, down)], lock=lock_for(p, r)))


def op_view(p, m, r):
    """Views: a down that leaves the view behind is down-missing-object."""
    t = pick_table(p, r)
    v = "%s_%s" % (t, one(r, ["summary", "active", "recent", "public"]))
    forget = r.random() < 0.3
    up = ["CREATE VIEW %s AS%s" % (v, " ⟦down-missing-object⟧" if forget else ""),
          "  SELECT %s FROM %s WHERE %s IS NOT NULL;" % (", ".join(p.tables[t][:3]), t, p.tables[t][1])]
    down = ["DROP VIEW IF EXISTS %s_old;" % v] if forget else ["DROP VIEW %s;" % v]
    m.phases.append(Phase("views", [Step("create_" + v, up, down)]))


def op_long_name(p, m, r):
    """An index name over 63 bytes is truncated silently
    (identifier-too-long); Rails-style names reach it easily."""
    t = pick_table(p, r)
    cols = p.tables[t][:3]
    name = "index_%s_on_%s" % (t, "_and_".join(cols))
    while len(name) <= 63:
        name += "_and_id"
        cols = cols + ["id"] if "id" in p.tables[t] else cols
    if len(set(cols)) != len(cols):
        cols = list(dict.fromkeys(cols))
    mark = " ⟦identifier-too-long⟧"
    if r.random() < 0.4:
        name = name[:60]
        mark = ""
    m.phases.append(Phase("indexes", [Step("long_index", [
        "CREATE INDEX CONCURRENTLY %s ON %s (%s);%s" % (name, t, ", ".join(cols), mark)],
        ["DROP INDEX CONCURRENTLY %s;" % name])], txn="none"))


def op_extension(p, m, r):
    """CREATE EXTENSION IF NOT EXISTS with a down that drops it: the
    extension may have been there before (if-not-exists-unguarded); with
    `down none` nothing is dropped."""
    ext = one(r, ["pg_trgm", "btree_gin", "citext", "pgcrypto", "uuid-ossp"])
    q = '"%s"' % ext if "-" in ext else ext
    if r.random() < 0.5:
        st = Step("enable_" + ext.replace("-", "_"), ["CREATE EXTENSION IF NOT EXISTS %s; ⟦if-not-exists-unguarded⟧" % q],
                  ["DROP EXTENSION %s;" % q])
    else:
        st = Step("enable_" + ext.replace("-", "_"), ["CREATE EXTENSION IF NOT EXISTS %s;" % q],
                  none="other schemas may use the extension")
    m.phases.append(Phase("extensions", [st]))


def op_psql(p, m, r):
    """Pasted psql scripts: a meta-command (\\set, \\i) is not SQL
    (psql-meta-command); COPY … FROM stdin with inline rows needs psql
    (copy-from-stdin); INSERT … VALUES is the SQL form."""
    t = "%s_seed_%s" % (p.key, one(r, ["roles", "plans", "settings", "locales"]))
    op_psql.n = getattr(op_psql, "n", 0) + 1
    kind = (op_psql.n % 4) * 0.25 + 0.1     # every variant in turn
    up = ["CREATE TABLE %s (id bigint PRIMARY KEY, name text NOT NULL);" % t]
    if kind < 0.25:
        up = ["@@\\set ON_ERROR_STOP on ⟦psql-meta-command⟧"] + up + [
            "INSERT INTO %s (id, name) VALUES (1, 'default'), (2, 'admin');" % t]
    elif kind < 0.5:
        up += ["SELECT format('GRANT SELECT ON %%I TO readonly', tablename) FROM pg_tables WHERE tablename LIKE '%s%%' "
               "\\gexec ⟦psql-meta-command⟧" % p.key]
    elif kind < 0.7:
        up += ["COPY %s (id, name) FROM stdin; ⟦copy-from-stdin⟧" % t, "@@1\tdefault", "@@2\tadmin", "@@\\."]
    else:
        up += ["INSERT INTO %s (id, name) VALUES (1, 'default'), (2, 'admin');" % t,
               "COPY (SELECT 1) TO STDOUT;"]
    m.phases.append(Phase("seed", [Step("seed_" + t, up, ["DROP TABLE %s;" % t])]))


def op_txn_none_multi(p, m, r):
    """Two concurrent index builds in one step of a transaction none phase:
    when the second fails the first stays (txn-none-multi)."""
    t = pick_table(p, r)
    a, b = r.sample(p.tables[t], 2)
    m.phases.append(Phase("indexes", [Step("two_indexes", [
        "CREATE INDEX CONCURRENTLY %s ON %s (%s);" % (ident("index_%s_on_%s" % (t, a)), t, a),
        "CREATE INDEX CONCURRENTLY %s ON %s (%s); ⟦txn-none-multi⟧" % (ident("index_%s_on_%s" % (t, b)), t, b)],
        ["DROP INDEX CONCURRENTLY %s;" % ident("index_%s_on_%s" % (t, a))])], txn="none"))
    # the down leaves the second index: a real omission as well
    m.phases[-1].steps[0].up[1] += " ⟦down-missing-object⟧"
    p.indexes.append((ident("index_%s_on_%s" % (t, a)), t, a))


def op_data(p, m, r):
    """Plain data changes: nothing to report."""
    t = pick_table(p, r)
    c = col_of(p, r, t)
    m.phases.append(Phase("data", [Step("fix_" + c, [
        "UPDATE %s SET %s = NULL WHERE %s = '';" % (t, c, c),
        "DELETE FROM %s WHERE %s IS NULL AND false;" % (t, p.tables[t][0])],
        none="the cleaned values are not restored")], timeout="5m"))


OPS = [
    (op_create_table, 9), (op_add_column, 16), (op_add_columns, 4), (op_positive_field, 2), (op_index, 12), (op_drop_index, 4), (op_reindex, 2),
    (op_unique_constraint, 4), (op_foreign_key, 7), (op_check, 4), (op_not_null, 6), (op_new_table_not_null, 3),
    (op_type_change, 6), (op_enum, 5), (op_rename, 5), (op_destructive, 4), (op_backfill, 5), (op_function, 3),
    (op_view, 3), (op_long_name, 2), (op_extension, 2), (op_psql, 3), (op_txn_none_multi, 1), (op_data, 4),
]


def title_of(m):
    return m.name.split("_", 2)[-1].replace("_", " ")


def main():
    r = Rng(16016)
    for d in os.listdir(HERE):
        if os.path.isdir(os.path.join(HERE, d)):
            shutil.rmtree(os.path.join(HERE, d))
    expected = []
    ops, weights = zip(*OPS)
    total = 0
    for p in projects():
        os.makedirs(os.path.join(HERE, p.key))
        count = 56
        for i in range(count):
            p.n += 1
            op = r.choices(ops, weights)[0]
            name = "%s_%04d_%s" % (p.prefix, p.n, op.__name__[3:])
            m = Mig(p, name, "")
            p.fresh = set()
            op(p, m, r)
            if r.random() < 0.3:
                r.choices(ops, weights)[0](p, m, r)
            # unique phase names
            seen = {}
            for ph in m.phases:
                if ph.name in seen:
                    seen[ph.name] += 1
                    ph.name = "%s_%d" % (ph.name, seen[ph.name])
                else:
                    seen[ph.name] = 1
                names = {}
                for s in ph.steps:
                    s.name = re.sub(r"[^a-z0-9_]", "_", s.name.lower())[:60]
                    if s.name in names:
                        names[s.name] += 1
                        s.name = "%s_%d" % (s.name, names[s.name])
                    else:
                        names[s.name] = 1
            m.title = title_of(m)
            habits(p, m, r)
            lines, exp = render(m, p.last, p.target)
            p.last = name
            rel = "%s/%04d_%s.mig" % (p.key, p.n, op.__name__[3:])
            with open(os.path.join(HERE, rel), "w") as f:
                f.write("\n".join(lines) + "\n")
            expected += ["%s:%d: %s" % (rel, ln, rule) for ln, rule in exp]
            total += 1
    with open(os.path.join(HERE, "expected.txt"), "w") as f:
        f.write("\n".join(sorted(expected)) + "\n")
    print("%d migrations, %d expected findings" % (total, len(expected)))


if __name__ == "__main__":
    main()
