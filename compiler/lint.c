/* lint.c — SQL-aware rules over the bodies (statements split with the SQL
 * tokenizer, so literals, dollar quotes and comments never confuse them),
 * plan rules the language makes checkable, and `# mig: allow RULE — why`
 * suppressions. Each rule has a stable id, a diagnostic at the offending
 * statement (or token) itself, and an entry in doc/rules.md. */
#include "compiler.h"
#include "lib/strmap.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct mig_rule mig_rules[] = {
    { "syntax", "error", "The grammar, literals and interpolations of the language." },
    { "unterminated-sql", "error", "A SQL body (or a literal in a SQL file) that never ends." },
    { "unknown-import", "error", "An import of a module that does not exist or a file that cannot be read." },
    { "sql-file", "error", "A `sql file` that cannot be read." },
    { "duplicate-name", "error", "Two migrations, phases, steps, params, lets or functions of one name." },
    { "duplicate-clause", "error", "A second up, down or when in one step or phase." },
    { "duplicate-variant", "error", "Two SQL variants for one dialect in one action." },
    { "missing-variant", "error", "No SQL for a dialect the migration targets." },
    { "unknown-after", "error", "`after` names a migration that is not compiled." },
    { "after-cycle", "error", "Migrations wait for each other through `after`." },
    { "unknown-name", "error", "A name or function that does not exist or is not declared yet." },
    { "type-mismatch", "error", "Operand, argument, condition or declaration types do not fit." },
    { "missing-up", "error", "A step without its up." },
    { "missing-down", "error", "A step without its down (or down irreversible)." },
    { "batch-transaction", "error", "A batch step in a phase with one transaction." },
    { "transaction-control", "error", "BEGIN, COMMIT, ROLLBACK, END, SAVEPOINT, RELEASE or START TRANSACTION at the top level of a body in a transactional phase." },
    { "fn-recursion", "error", "A function that calls itself, directly or not." },
    { "exec-transaction", "error", "A step that runs a command in a phase with one transaction." },
    { "exec-argv", "error", "An empty argv, or a bool, null or duration argv element, env value or cwd of a command." },
    { "exec-batch", "error", "batch on a step whose up runs a command." },
    { "env-password", "error", "env(\"PGPASSWORD\"): the password would reach an argv, SQL or output." },
    { "bad-regex", "error", "A matches() pattern that is not a POSIX extended regular expression." },
    { "shell-string", "warning", "A param or env() value reaches the script of sh -c (or bash -c …), where the shell interprets it." },
    { "txn-none-multi", "warning", "Several statements in one up under transaction none." },
    { "quoted-interpolation", "error", "${x} written inside a quoted identifier or a string literal, where it is not an interpolation." },
    { "raw-interpolation", "warning", "${x:raw} inserts a value into SQL unquoted." },
    { "create-index-blocking", "warning", "CREATE INDEX without CONCURRENTLY on an existing table blocks writes." },
    { "concurrently-in-transaction", "error", "CONCURRENTLY, VACUUM or ALTER TYPE ... ADD VALUE (before PostgreSQL 12) inside a transaction." },
    { "add-column-not-null", "error", "ADD COLUMN ... NOT NULL without a default fails on a non-empty table." },
    { "alter-column-type", "warning", "ALTER COLUMN ... TYPE rewrites the table under an ACCESS EXCLUSIVE lock." },
    { "set-not-null", "warning", "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock." },
    { "constraint-not-valid", "warning", "A FOREIGN KEY or CHECK constraint added without NOT VALID scans the table under a strong lock." },
    { "volatile-default", "warning", "ADD COLUMN with a volatile default rewrites the table before PostgreSQL 11." },
    { "destructive", "warning", "DROP TABLE/COLUMN/SCHEMA or TRUNCATE in an up: data the down cannot restore." },
    { "rename", "warning", "Renaming a table or column breaks the application versions still running." },
    { "down-missing-object", "warning", "The down does not mention an object that the up creates." },
    { "missing-lock-timeout", "warning", "A phase takes strong locks on existing tables without lock_timeout." },
    { "if-not-exists-unguarded", "warning", "CREATE ... IF NOT EXISTS in a step whose when can never be false." },
    { "unused-param", "warning", "A param nothing uses." },
    { "unused-let", "warning", "A let nothing uses." },
    { "assert-without-message", "warning", "An assert without `else \"message\"`." },
    { "suppression-without-reason", "warning", "A `# mig: allow` comment without a reason, or for an unknown rule." },
    { NULL, NULL, NULL },
};

/* ---- statements --------------------------------------------------------------- */

struct stok {
    enum mig_sqltok kind;
    uint32_t start, end;    /* offsets in the SQL text */
};

struct stmt {
    struct stok *t;
    size_t n;
};

struct lctx {
    struct mig_program *p;
    struct mig_migration *m;
    struct mig_phase *ph;
    struct mig_step *st;
    const struct mig_sql *q;    /* the text being looked at */
    bool pg;                    /* PostgreSQL rules apply */
    int64_t pg_min;             /* declared minimum PostgreSQL major, 0 unknown */
    struct mig_strmap created;  /* objects created earlier in this migration (lower-case names) */
    bool phase_strong_lock_reported;
    MIG_VEC(char *) step_created;   /* what this step's up creates, for down-missing-object */
    MIG_VEC(uint32_t) step_created_at;
};

static const char *text(struct lctx *c, const struct stok *t)
{
    return c->q->text + t->start;
}

static bool kw(struct lctx *c, const struct stmt *s, size_t i, const char *word)
{
    if (i >= s->n || s->t[i].kind != SQLT_WORD)
        return false;
    size_t n = strlen(word);
    return s->t[i].end - s->t[i].start == n && strncasecmp(text(c, &s->t[i]), word, n) == 0;
}

static bool punct(struct lctx *c, const struct stmt *s, size_t i, char ch)
{
    return i < s->n && s->t[i].kind == SQLT_PUNCT && s->t[i].end - s->t[i].start == 1 && *text(c, &s->t[i]) == ch;
}

/* A possibly qualified name at i: returns the lower-cased (unquoted) last
 * part and sets *next after it; NULL if there is no name. */
static char *name_at(struct lctx *c, const struct stmt *s, size_t i, size_t *next)
{
    char *last = NULL;
    for (;;) {
        if (i >= s->n || (s->t[i].kind != SQLT_WORD && s->t[i].kind != SQLT_QIDENT))
            break;
        const struct stok *t = &s->t[i];
        if (t->kind == SQLT_QIDENT) {
            last = mig_arena_strndup(&c->p->arena, text(c, t) + 1, t->end - t->start - 2);
        } else {
            last = mig_arena_strndup(&c->p->arena, text(c, t), t->end - t->start);
            for (char *k = last; *k; k++)
                *k = (char)tolower((unsigned char)*k);
        }
        i++;
        if (!punct(c, s, i, '.'))
            break;
        i++;
    }
    *next = i;
    return last;
}

static struct mig_span span_of(struct lctx *c, const struct stok *t)
{
    struct mig_span sp = { c->q->text_file, c->q->text_off + t->start, c->q->text_off + t->end };
    return sp;
}

/* Statement spans for the diagnostic: its first token through its last on
 * the same line. */
static struct mig_span stmt_span(struct lctx *c, const struct stmt *s)
{
    struct mig_span sp = span_of(c, &s->t[0]);
    for (size_t i = 1; i < s->n; i++) {
        const char *a = c->q->text + s->t[0].start, *b = c->q->text + s->t[i].end;
        if (memchr(a, '\n', (size_t)(b - a)))
            break;
        sp.end = c->q->text_off + s->t[i].end;
    }
    return sp;
}

static bool was_created(struct lctx *c, const char *name)
{
    return name && mig_strmap_get(&c->created, name) != NULL;
}

static void created(struct lctx *c, const char *name, uint32_t at)
{
    if (!name)
        return;
    mig_strmap_put(&c->created, name, (void *)1);
    MIG_PUSH(&c->p->arena, c->step_created, (char *)name);
    MIG_PUSH(&c->p->arena, c->step_created_at, at);
}

static void warn(struct lctx *c, struct mig_span at, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void warn(struct lctx *c, struct mig_span at, const char *rule, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    enum mig_severity sev = MIG_WARNING;
    for (const struct mig_rule *r = mig_rules; r->id; r++)
        if (strcmp(r->id, rule) == 0 && strcmp(r->severity, "error") == 0)
            sev = MIG_ERROR;
    MIG_DIAG_AT(c->p, sev, at, rule, "%s", buf);
}

static bool in_transaction(struct lctx *c)
{
    return c->ph->txn != MIG_TXN_NONE;
}

static void strong_lock(struct lctx *c, const struct stmt *s, const char *table)
{
    if (!c->pg || was_created(c, table) || c->ph->lock_timeout_ms || c->phase_strong_lock_reported)
        return;
    c->phase_strong_lock_reported = true;
    warn(c, stmt_span(c, s), "missing-lock-timeout",
         "this takes a strong lock on existing table '%s' but phase '%s' has no lock_timeout: "
         "waiting behind a long query, it would block every query on the table",
         table ? table : "?", c->ph->name);
}

static void check_alter_table(struct lctx *c, const struct stmt *s, size_t i)
{
    /* ALTER TABLE [IF EXISTS] [ONLY] name action [, action]... */
    if (kw(c, s, i, "IF") && kw(c, s, i + 1, "EXISTS"))
        i += 2;
    if (kw(c, s, i, "ONLY"))
        i++;
    size_t next;
    char *table = name_at(c, s, i, &next);
    if (!table)
        return;
    bool existing = !was_created(c, table);
    i = next;
    if (existing)
        strong_lock(c, s, table);
    while (i < s->n) {
        size_t a = i;
        /* the action runs to the next top-level comma */
        size_t end = a;
        int depth = 0;
        for (; end < s->n; end++) {
            if (punct(c, s, end, '('))
                depth++;
            else if (punct(c, s, end, ')'))
                depth--;
            else if (depth == 0 && punct(c, s, end, ','))
                break;
        }
        struct mig_span at = span_of(c, &s->t[a]);
        if (kw(c, s, a, "ADD")) {
            size_t k = a + 1;
            bool constraint = kw(c, s, k, "CONSTRAINT");
            if (constraint) {
                k++;
                name_at(c, s, k, &k);
            }
            if (kw(c, s, k, "FOREIGN") || kw(c, s, k, "CHECK") || (constraint && (kw(c, s, k, "FOREIGN") || kw(c, s, k, "CHECK")))) {
                bool not_valid = false;
                for (size_t j = k; j + 1 < end; j++)
                    if (kw(c, s, j, "NOT") && kw(c, s, j + 1, "VALID"))
                        not_valid = true;
                if (existing && !not_valid && c->pg)
                    warn(c, at, "constraint-not-valid",
                         "adding a %s constraint to existing table '%s' checks every row under a strong lock; "
                         "add it NOT VALID, then VALIDATE CONSTRAINT in a later step",
                         kw(c, s, k, "CHECK") ? "CHECK" : "FOREIGN KEY", table);
            } else if (!constraint && !kw(c, s, k, "PRIMARY") && !kw(c, s, k, "UNIQUE") && !kw(c, s, k, "EXCLUDE")) {
                if (kw(c, s, k, "COLUMN"))
                    k++;
                if (kw(c, s, k, "IF") && kw(c, s, k + 1, "NOT") && kw(c, s, k + 2, "EXISTS"))
                    k += 3;
                size_t after_col;
                char *col = name_at(c, s, k, &after_col);
                bool not_null = false, has_default = false;
                const struct stok *vol = NULL;
                for (size_t j = after_col; j < end; j++) {
                    if (kw(c, s, j, "NOT") && kw(c, s, j + 1, "NULL"))
                        not_null = true;
                    if (kw(c, s, j, "DEFAULT")) {
                        has_default = true;
                        for (size_t v = j + 1; v < end && v < j + 3; v++)
                            if (kw(c, s, v, "now") || kw(c, s, v, "random") || kw(c, s, v, "gen_random_uuid") ||
                                kw(c, s, v, "clock_timestamp") || kw(c, s, v, "nextval") ||
                                kw(c, s, v, "uuid_generate_v4") || kw(c, s, v, "timeofday"))
                                vol = &s->t[v];
                    }
                    if (kw(c, s, j, "GENERATED") || kw(c, s, j, "SERIAL") || kw(c, s, j, "BIGSERIAL"))
                        has_default = true;
                }
                if (existing && not_null && !has_default)
                    warn(c, at, "add-column-not-null",
                         "ADD COLUMN %s ... NOT NULL without a DEFAULT fails on a table that has rows; "
                         "add a DEFAULT, or add the column nullable, backfill it, then SET NOT NULL",
                         col ? col : "");
                if (existing && vol && c->pg && (c->pg_min == 0 || c->pg_min < 11))
                    warn(c, span_of(c, vol), "volatile-default",
                         "before PostgreSQL 11 a volatile DEFAULT (%.*s) rewrites the whole table under an "
                         "ACCESS EXCLUSIVE lock; declare target postgres >= 11, or add the column without a "
                         "default and backfill in batches", (int)(vol->end - vol->start), text(c, vol));
                if (col)
                    created(c, mig_arena_printf(&c->p->arena, "%s.%s", table, col), s->t[a].start);
            }
        } else if (kw(c, s, a, "ALTER")) {
            size_t k = a + 1;
            if (kw(c, s, k, "COLUMN"))
                k++;
            size_t after_col;
            char *col = name_at(c, s, k, &after_col);
            bool created_col = col && was_created(c, mig_arena_printf(&c->p->arena, "%s.%s", table, col));
            if (existing && !created_col && c->pg &&
                (kw(c, s, after_col, "TYPE") || (kw(c, s, after_col, "SET") && kw(c, s, after_col + 1, "DATA"))))
                warn(c, at, "alter-column-type",
                     "changing the type of %s.%s rewrites the table (and its indexes) under an ACCESS EXCLUSIVE "
                     "lock; add a new column, backfill it in batches and switch over instead", table, col);
            if (existing && !created_col && c->pg && kw(c, s, after_col, "SET") && kw(c, s, after_col + 1, "NOT") &&
                kw(c, s, after_col + 2, "NULL"))
                warn(c, at, "set-not-null",
                     "SET NOT NULL on %s.%s scans the whole table under an ACCESS EXCLUSIVE lock; add a "
                     "CHECK (%s IS NOT NULL) NOT VALID constraint, VALIDATE it, then SET NOT NULL (PostgreSQL 12+ "
                     "uses the constraint)", table, col, col);
        } else if (kw(c, s, a, "DROP")) {
            size_t k = a + 1;
            bool column = kw(c, s, k, "COLUMN");
            if (column)
                k++;
            if (kw(c, s, k, "IF") && kw(c, s, k + 1, "EXISTS"))
                k += 2;
            if (column || !(kw(c, s, k, "CONSTRAINT") || kw(c, s, k, "DEFAULT") || kw(c, s, k, "NOT"))) {
                size_t after;
                char *col = name_at(c, s, k, &after);
                if (col && !kw(c, s, a + 1, "CONSTRAINT") &&
                    !was_created(c, mig_arena_printf(&c->p->arena, "%s.%s", table, col)) && existing)
                    warn(c, at, "destructive",
                         "dropping column %s.%s loses its data, which the down cannot bring back; keep it until "
                         "no application version reads it, or make the step irreversible on purpose", table, col);
            }
        } else if (kw(c, s, a, "RENAME")) {
            if (existing)
                warn(c, at, "rename",
                     "renaming %s '%s' breaks the application versions still running against it; "
                     "add the new name, copy, and drop the old one in a later release",
                     kw(c, s, a + 1, "TO") ? "table" : "a column of table", table);
        }
        i = end + 1;
    }
}

/* A down runs in its phase's transaction mode too. */
static void check_down_statement(struct lctx *c, const struct stmt *s)
{
    if (!c->pg || !in_transaction(c))
        return;
    if ((kw(c, s, 0, "DROP") || kw(c, s, 0, "CREATE")) && (kw(c, s, 1, "INDEX") || kw(c, s, 2, "INDEX")))
        for (size_t k = 1; k < 4 && k < s->n; k++)
            if (kw(c, s, k, "CONCURRENTLY"))
                warn(c, stmt_span(c, s), "concurrently-in-transaction",
                     "this down uses CONCURRENTLY, which cannot run inside a transaction: the rollback would "
                     "fail; put the step in a phase with 'transaction none'");
    if (kw(c, s, 0, "VACUUM"))
        warn(c, stmt_span(c, s), "concurrently-in-transaction",
             "VACUUM cannot run inside a transaction: put it in a phase with 'transaction none'");
}

/* Forgets that the step creates name (it also drops it). */
static void dropped(struct lctx *c, const char *name)
{
    for (size_t i = 0; name && i < c->step_created.n; i++)
        if (c->step_created.v[i] && strcmp(c->step_created.v[i], name) == 0)
            c->step_created.v[i] = NULL;
}

static void check_statement(struct lctx *c, const struct stmt *s, bool up)
{
    if (s->n == 0)
        return;
    size_t i = 0, next;
    if (!up) {
        check_down_statement(c, s);
        return;
    }
    if (kw(c, s, 0, "CREATE")) {
        i = 1;
        if (kw(c, s, i, "OR") && kw(c, s, i + 1, "REPLACE"))
            i += 2;
        bool unique = kw(c, s, i, "UNIQUE");
        if (unique)
            i++;
        while (kw(c, s, i, "TEMP") || kw(c, s, i, "TEMPORARY") || kw(c, s, i, "UNLOGGED") || kw(c, s, i, "MATERIALIZED"))
            i++;
        const char *what = s->t[i].kind == SQLT_WORD ? text(c, &s->t[i]) : "";
        size_t wl = i < s->n ? s->t[i].end - s->t[i].start : 0;
        i++;
        bool concurrently = kw(c, s, i, "CONCURRENTLY");
        if (concurrently)
            i++;
        bool if_not_exists = kw(c, s, i, "IF") && kw(c, s, i + 1, "NOT") && kw(c, s, i + 2, "EXISTS");
        if (if_not_exists) {
            i += 3;
            bool guarded = (c->st->when && !(c->st->when->kind == MIG_E_BOOL && c->st->when->u.ival)) ||
                           (c->ph->when && !(c->ph->when->kind == MIG_E_BOOL && c->ph->when->u.ival));
            if (!guarded)
                warn(c, stmt_span(c, s), "if-not-exists-unguarded",
                     "CREATE ... IF NOT EXISTS in a step whose when can never be false: if the object already "
                     "exists, the step is recorded as applied and its down drops what it did not create; guard the "
                     "step instead (when not std.table_exists(...), std.index_exists(...), ...)");
        }
        if (wl == 5 && strncasecmp(what, "INDEX", 5) == 0) {
            char *ix = NULL;
            if (!kw(c, s, i, "ON"))
                ix = name_at(c, s, i, &i);
            if (kw(c, s, i, "ON")) {
                i++;
                if (kw(c, s, i, "ONLY"))
                    i++;
                char *table = name_at(c, s, i, &next);
                if (concurrently && in_transaction(c) && c->pg)
                    warn(c, stmt_span(c, s), "concurrently-in-transaction",
                         "CREATE INDEX CONCURRENTLY cannot run inside a transaction: put it in a phase with "
                         "'transaction none'");
                else if (!concurrently && c->pg && !was_created(c, table))
                    warn(c, stmt_span(c, s), "create-index-blocking",
                         "CREATE INDEX on existing table '%s' blocks writes to it until the index is built; use "
                         "CREATE INDEX CONCURRENTLY in a 'transaction none' phase", table ? table : "?");
                if (!concurrently && !was_created(c, table))
                    strong_lock(c, s, table);
            }
            created(c, ix, s->t[0].start);
        } else if ((wl == 5 && strncasecmp(what, "TABLE", 5) == 0) || (wl == 4 && strncasecmp(what, "VIEW", 4) == 0) ||
                   (wl == 8 && strncasecmp(what, "FUNCTION", 8) == 0) || (wl == 9 && strncasecmp(what, "PROCEDURE", 9) == 0) ||
                   (wl == 6 && strncasecmp(what, "SCHEMA", 6) == 0) || (wl == 8 && strncasecmp(what, "SEQUENCE", 8) == 0) ||
                   (wl == 4 && strncasecmp(what, "TYPE", 4) == 0) || (wl == 7 && strncasecmp(what, "TRIGGER", 7) == 0)) {
            created(c, name_at(c, s, i, &next), s->t[0].start);
        }
        return;
    }
    if (kw(c, s, 0, "ALTER") && kw(c, s, 1, "TABLE")) {
        check_alter_table(c, s, 2);
        return;
    }
    if (kw(c, s, 0, "ALTER") && kw(c, s, 1, "TYPE") && c->pg && in_transaction(c) &&
        (c->pg_min == 0 || c->pg_min < 12)) {
        for (size_t k = 2; k + 1 < s->n; k++)
            if (kw(c, s, k, "ADD") && kw(c, s, k + 1, "VALUE"))
                warn(c, stmt_span(c, s), "concurrently-in-transaction",
                     "ALTER TYPE ... ADD VALUE cannot run inside a transaction before PostgreSQL 12: declare "
                     "target postgres >= 12, or use a 'transaction none' phase");
        return;
    }
    if (kw(c, s, 0, "DROP")) {
        i = 1;
        if (kw(c, s, i, "INDEX") && kw(c, s, i + 1, "CONCURRENTLY") && c->pg && in_transaction(c))
            warn(c, stmt_span(c, s), "concurrently-in-transaction",
                 "DROP INDEX CONCURRENTLY cannot run inside a transaction: put it in a phase with 'transaction none'");
        if (kw(c, s, i, "TABLE") || kw(c, s, i, "SCHEMA")) {
            bool schema = kw(c, s, i, "SCHEMA");
            i++;
            if (kw(c, s, i, "IF") && kw(c, s, i + 1, "EXISTS"))
                i += 2;
            char *name = name_at(c, s, i, &next);
            dropped(c, name);
            if (!was_created(c, name)) {
                warn(c, stmt_span(c, s), "destructive",
                     "dropping %s '%s' in an up loses its data, which the down cannot bring back",
                     schema ? "schema" : "table", name ? name : "?");
                if (!schema)
                    strong_lock(c, s, name);
            }
        }
        return;
    }
    if (kw(c, s, 0, "TRUNCATE")) {
        i = 1;
        if (kw(c, s, i, "TABLE"))
            i++;
        char *name = name_at(c, s, i, &next);
        if (!was_created(c, name)) {
            warn(c, stmt_span(c, s), "destructive",
                 "TRUNCATE in an up deletes every row of '%s', which the down cannot bring back", name ? name : "?");
            strong_lock(c, s, name);
        }
        return;
    }
    if (kw(c, s, 0, "VACUUM") && c->pg && in_transaction(c)) {
        warn(c, stmt_span(c, s), "concurrently-in-transaction",
             "VACUUM cannot run inside a transaction: put it in a phase with 'transaction none'");
        return;
    }
}

/* Splits a SQL text into statements of code tokens and checks each. */
static void check_text(struct lctx *c, const struct mig_sql *q, bool up)
{
    c->q = q;
    MIG_VEC(struct stok) toks = { 0 };
    struct mig_sqltoken t;
    for (size_t pos = 0;; pos = t.end) {
        mig_sql_next(q->text, pos, q->len, &t);
        bool end = t.kind == SQLT_EOF || t.kind == SQLT_UNTERMINATED;
        if (end || t.kind == SQLT_SEMI) {
            struct stmt s = { toks.v, toks.n };
            check_statement(c, &s, up);
            toks.n = 0;
            if (end)
                break;
            continue;
        }
        if (!mig_sqltok_is_code(t.kind))
            continue;
        struct stok st = { t.kind, (uint32_t)t.start, (uint32_t)t.end };
        MIG_PUSH(&c->p->arena, toks, st);
    }
}

/* Whether the identifier `name` occurs (case-insensitively, as a whole
 * word, or quoted) in any variant of a down. */
static bool mentions(const struct mig_sql *down, const char *name)
{
    const char *last = strrchr(name, '.');
    const char *want = last ? last + 1 : name;
    size_t n = strlen(want);
    for (const struct mig_sql *q = down; q; q = q->next) {
        struct mig_sqltoken t;
        for (size_t pos = 0;; pos = t.end) {
            mig_sql_next(q->text, pos, q->len, &t);
            if (t.kind == SQLT_EOF || t.kind == SQLT_UNTERMINATED)
                break;
            if (t.kind == SQLT_WORD && t.end - t.start == n && strncasecmp(q->text + t.start, want, n) == 0)
                return true;
            if (t.kind == SQLT_QIDENT && t.end - t.start == n + 2 && strncmp(q->text + t.start + 1, want, n) == 0)
                return true;
            if (t.kind == SQLT_INTERP)
                return true;    /* a name given as a param: cannot tell */
        }
    }
    return false;
}

static void lint_migration(struct mig_program *p, struct mig_migration *m)
{
    struct lctx c;
    memset(&c, 0, sizeof(c));
    c.p = p;
    c.m = m;
    c.created.arena = &p->arena;
    bool has_pg = m->targets.n == 0;
    for (size_t i = 0; i < m->targets.n; i++)
        if (m->targets.v[i].dialect == MIG_D_POSTGRES) {
            has_pg = true;
            c.pg_min = m->targets.v[i].min_version;
        }
    enum mig_dialect d = has_pg ? MIG_D_POSTGRES : MIG_D_SQLITE;
    c.pg = has_pg;
    for (size_t k = 0; k < m->phases.n; k++) {
        c.ph = m->phases.v[k];
        c.phase_strong_lock_reported = false;
        for (size_t j = 0; j < c.ph->steps.n; j++) {
            c.st = c.ph->steps.v[j];
            c.step_created.n = 0;
            c.step_created_at.n = 0;
            const struct mig_sql *up = mig_sql_variant(c.st->up, d);
            if (!up)
                up = c.st->up;
            if (up && up->text)
                check_text(&c, up, true);
            if (c.st->down && !c.st->down_irreversible) {
                const struct mig_sql *down = mig_sql_variant(c.st->down, d);
                if (down && down->text)
                    check_text(&c, down, false);
            }
            if (c.st->down && !c.st->down_irreversible)
                for (size_t o = 0; o < c.step_created.n; o++)
                    if (c.step_created.v[o] && !mentions(c.st->down, c.step_created.v[o])) {
                        struct mig_span at = { up->text_file, up->text_off + c.step_created_at.v[o],
                                               up->text_off + c.step_created_at.v[o] + 6 };
                        MIG_DIAG_AT(p, MIG_WARNING, at, "down-missing-object",
                                    "the up of step '%s' creates '%s' but its down never mentions it: rolling back "
                                    "would leave it behind", c.st->name, c.step_created.v[o]);
                    }
        }
        for (size_t j = 0; j < c.ph->asserts.n; j++)
            if (!c.ph->asserts.v[j].msg)
                MIG_DIAG_AT(p, MIG_WARNING, c.ph->asserts.v[j].span, "assert-without-message",
                            "this assert has no message: add else \"what must hold\" so that a failure explains itself");
    }
    for (size_t j = 0; j < m->asserts.n; j++)
        if (!m->asserts.v[j].msg)
            MIG_DIAG_AT(p, MIG_WARNING, m->asserts.v[j].span, "assert-without-message",
                        "this assert has no message: add else \"what must hold\" so that a failure explains itself");
    for (size_t i = 0; i < m->params.n; i++)
        if (!m->params.v[i]->used)
            MIG_DIAG_AT(p, MIG_WARNING, m->params.v[i]->span, "unused-param",
                        "param '%s' is never used", m->params.v[i]->name);
    for (size_t i = 0; i < m->lets.n; i++)
        if (!m->lets.v[i]->used)
            MIG_DIAG_AT(p, MIG_WARNING, m->lets.v[i]->span, "unused-let", "let '%s' is never used",
                        m->lets.v[i]->name);
}

/* ---- commands ------------------------------------------------------------------ */

/* Calls fn on every exec expression inside e (e included), outer first. */
static void walk_execs(struct mig_expr *e, void (*fn)(struct mig_exec *x, void *ctx), void *ctx)
{
    /* the left spine of an operator chain is walked in a loop (generated
     * chains are tens of thousands long) */
    while (e) {
        switch (e->kind) {
        case MIG_E_CALL:
            for (size_t i = 0; i < e->u.ref.args.n; i++)
                walk_execs(e->u.ref.args.v[i], fn, ctx);
            return;
        case MIG_E_NOT: case MIG_E_NEG:
            e = e->u.sub;
            continue;
        case MIG_E_BINARY:
            walk_execs(e->u.bin.r, fn, ctx);
            e = e->u.bin.l;
            continue;
        case MIG_E_EXEC: {
            struct mig_exec *x = e->u.exec;
            fn(x, ctx);
            for (size_t i = 0; i < x->argv.n; i++)
                walk_execs(x->argv.v[i], fn, ctx);
            for (size_t i = 0; i < x->env.n; i++)
                walk_execs(x->env.v[i].value, fn, ctx);
            walk_execs(x->cwd, fn, ctx);
            return;
        }
        default:
            return;
        }
    }
}

/* Where a param's or env()'s value reaches e: "param 'dir'", "env(\"HOST\")"
 * (through lets, calls and operators), or NULL. */
static const char *outside_value(struct mig_program *p, const struct mig_expr *e, int depth)
{
    while (e && depth < 64) {
        switch (e->kind) {
        case MIG_E_NAME: {
            const struct mig_symbol *s = e->u.ref.sym;
            if (!s)
                return NULL;
            if (s->kind == MIG_SYM_PARAM)
                return mig_arena_printf(&p->arena, "param '%s'", s->name);
            if (s->kind != MIG_SYM_LET)
                return NULL;
            const char *via = outside_value(p, s->init, depth + 1);
            return via ? mig_arena_printf(&p->arena, "%s (through let '%s')", via, s->name) : NULL;
        }
        case MIG_E_CALL:
            if (e->u.ref.builtin == MIG_B_ENV)
                return e->u.ref.args.n && e->u.ref.args.v[0]->kind == MIG_E_STRING
                    ? mig_arena_printf(&p->arena, "env(\"%s\")", e->u.ref.args.v[0]->u.str.s) : "env()";
            for (size_t i = 0; i < e->u.ref.args.n; i++) {
                const char *via = outside_value(p, e->u.ref.args.v[i], depth + 1);
                if (via)
                    return via;
            }
            return NULL;
        case MIG_E_NOT: case MIG_E_NEG:
            e = e->u.sub;
            continue;
        case MIG_E_BINARY: {
            const char *via = outside_value(p, e->u.bin.r, depth + 1);
            if (via)
                return via;
            e = e->u.bin.l;
            continue;
        }
        default:
            return NULL;
        }
    }
    return NULL;
}

static bool is_shell(const struct mig_expr *e)
{
    static const char *const shells[] = { "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", NULL };
    if (e->kind != MIG_E_STRING)
        return false;
    const char *base = strrchr(e->u.str.s, '/');
    base = base ? base + 1 : e->u.str.s;
    for (size_t i = 0; shells[i]; i++)
        if (strcmp(base, shells[i]) == 0)
            return true;
    return false;
}

/* ["sh", "-c", SCRIPT, …] (or bash -ec, sh -x -c …): SCRIPT is read by
 * the shell; the arguments after it are safe ($0, $1, …). */
static void lint_shell(struct mig_exec *x, void *ctx)
{
    struct mig_program *p = ctx;
    if (x->argv.n < 3 || !is_shell(x->argv.v[0]))
        return;
    for (size_t i = 1; i + 1 < x->argv.n; i++) {
        const struct mig_expr *o = x->argv.v[i];
        if (o->kind != MIG_E_STRING || o->u.str.s[0] != '-' || o->u.str.s[1] == '-')
            return;     /* the options end before a -c */
        if (!strchr(o->u.str.s, 'c'))
            continue;
        const struct mig_expr *script = x->argv.v[i + 1];
        const char *via = outside_value(p, script, 0);
        if (via)
            MIG_DIAG_AT(p, MIG_WARNING, script->span, "shell-string",
                        "the value of %s reaches the script that %s interprets: quotes, ';' or $(…) in it "
                        "would run as commands; pass it as an argument after the script, where the shell "
                        "does not read it ([\"sh\", \"-c\", \"… \\\"$1\\\"\", \"sh\", value]), or run the "
                        "program without a shell", via, x->argv.v[0]->u.str.s);
        return;
    }
}

static void lint_step_execs(struct mig_program *p, struct mig_step *st)
{
    struct mig_exec *acts[2] = { st->up_exec, st->down_exec };
    for (int k = 0; k < 2; k++) {
        if (!acts[k])
            continue;
        lint_shell(acts[k], p);
        for (size_t i = 0; i < acts[k]->argv.n; i++)
            walk_execs(acts[k]->argv.v[i], lint_shell, p);
        for (size_t i = 0; i < acts[k]->env.n; i++)
            walk_execs(acts[k]->env.v[i].value, lint_shell, p);
        walk_execs(acts[k]->cwd, lint_shell, p);
    }
}

/* Every condition, let and param default of a migration, with fn calls on
 * each exec of them (step actions apart). */
static void migration_exprs(struct mig_migration *m, void (*fn)(struct mig_expr *e, const char *where, void *ctx),
                            struct mig_arena *a, void *ctx)
{
    for (size_t i = 0; i < m->params.n; i++)
        fn(m->params.v[i]->init, mig_arena_printf(a, "%s param %s", m->name, m->params.v[i]->name), ctx);
    for (size_t i = 0; i < m->lets.n; i++)
        fn(m->lets.v[i]->init, mig_arena_printf(a, "%s let %s", m->name, m->lets.v[i]->name), ctx);
    for (size_t i = 0; i < m->requires.n; i++)
        fn(m->requires.v[i].expr, mig_arena_printf(a, "%s require", m->name), ctx);
    for (size_t k = 0; k < m->phases.n; k++) {
        struct mig_phase *ph = m->phases.v[k];
        if (ph->when)
            fn(ph->when, mig_arena_printf(a, "%s.%s when", m->name, ph->name), ctx);
        for (size_t j = 0; j < ph->steps.n; j++) {
            struct mig_step *st = ph->steps.v[j];
            if (st->when)
                fn(st->when, mig_arena_printf(a, "%s.%s.%s when", m->name, ph->name, st->name), ctx);
            for (size_t i = 0; i < st->verify.n; i++)
                fn(st->verify.v[i].expr, mig_arena_printf(a, "%s.%s.%s verify", m->name, ph->name, st->name), ctx);
        }
        for (size_t i = 0; i < ph->asserts.n; i++)
            fn(ph->asserts.v[i].expr, mig_arena_printf(a, "%s.%s assert", m->name, ph->name), ctx);
    }
    for (size_t i = 0; i < m->asserts.n; i++)
        fn(m->asserts.v[i].expr, mig_arena_printf(a, "%s assert", m->name), ctx);
}

static void lint_expr_execs(struct mig_expr *e, const char *where, void *ctx)
{
    (void)where;
    walk_execs(e, lint_shell, ctx);
}

static void lint_execs(struct mig_program *p, struct mig_migration *m)
{
    migration_exprs(m, lint_expr_execs, &p->arena, p);
    for (size_t k = 0; k < m->phases.n; k++)
        for (size_t j = 0; j < m->phases.v[k]->steps.n; j++)
            lint_step_execs(p, m->phases.v[k]->steps.v[j]);
}

struct exec_site {
    const char *path;
    uint32_t file, start;
    unsigned line;
    const char *where, *text;
};

struct list_ctx {
    struct mig_program *p;
    const char *where;
    MIG_VEC(struct exec_site) v;
};

/* The source text of an exec on one line (runs of white space and
 * comments become one space). */
static const char *exec_text(struct mig_program *p, const struct mig_exec *x)
{
    struct mig_source *src = mig_source_get(&p->sources, x->span.file);
    const char *t = src->text + x->span.start;
    size_t n = x->span.end - x->span.start;
    char *out = mig_arena_alloc(&p->arena, n + 16), *o = out;
    if (x->output)
        o += sprintf(o, "output ");
    bool space = false, in_string = false;
    for (size_t i = 0; i < n; i++) {
        char ch = t[i];
        if (!in_string && ch == '#') {
            while (i + 1 < n && t[i + 1] != '\n')
                i++;
            space = true;
            continue;
        }
        if (!in_string && (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')) {
            space = true;
            continue;
        }
        if (space && o > out && o[-1] != '[' && ch != ']' && ch != ',')
            *o++ = ' ';
        space = false;
        if (ch == '"' && (i == 0 || t[i - 1] != '\\' || (i >= 2 && t[i - 2] == '\\')))
            in_string = !in_string;
        *o++ = ch;
    }
    *o = 0;
    return out;
}

static void list_one(struct mig_exec *x, void *vctx)
{
    struct list_ctx *c = vctx;
    struct exec_site s = { mig_source_get(&c->p->sources, x->span.file)->path, x->span.file, x->span.start,
                           mig_span_line(c->p, x->span), c->where, exec_text(c->p, x) };
    MIG_PUSH(&c->p->arena, c->v, s);
}

static void list_expr(struct mig_expr *e, const char *where, void *vctx)
{
    struct list_ctx *c = vctx;
    c->where = where;
    walk_execs(e, list_one, c);
}

static void list_action(struct list_ctx *c, struct mig_exec *x, const char *where)
{
    if (!x)
        return;
    c->where = where;
    list_one(x, c);
    for (size_t i = 0; i < x->argv.n; i++)
        walk_execs(x->argv.v[i], list_one, c);
    for (size_t i = 0; i < x->env.n; i++)
        walk_execs(x->env.v[i].value, list_one, c);
    walk_execs(x->cwd, list_one, c);
}

static int cmp_site(const void *a, const void *b)
{
    const struct exec_site *x = a, *y = b;
    int k = strcmp(x->path, y->path);
    if (k)
        return k;
    return x->start < y->start ? -1 : x->start > y->start;
}

void mig_list_execs(struct mig_program *p, FILE *out)
{
    struct list_ctx c = { p, NULL, { 0 } };
    struct mig_arena *a = &p->arena;
    for (size_t f = 0; f < p->files.n; f++) {
        struct mig_file *file = p->files.v[f];
        if (file->is_std)
            continue;
        for (size_t i = 0; i < file->lets.n; i++)
            list_expr(file->lets.v[i]->init, mig_arena_printf(a, "let %s", file->lets.v[i]->name), &c);
        for (size_t i = 0; i < file->fns.n; i++)
            list_expr(file->fns.v[i]->fn->body, mig_arena_printf(a, "fn %s", file->fns.v[i]->name), &c);
        if (!file->is_input)
            continue;
        for (size_t i = 0; i < file->migrations.n; i++) {
            struct mig_migration *m = file->migrations.v[i];
            migration_exprs(m, list_expr, a, &c);
            for (size_t k = 0; k < m->phases.n; k++) {
                struct mig_phase *ph = m->phases.v[k];
                for (size_t j = 0; j < ph->steps.n; j++) {
                    struct mig_step *st = ph->steps.v[j];
                    list_action(&c, st->up_exec, mig_arena_printf(a, "%s.%s.%s up", m->name, ph->name, st->name));
                    list_action(&c, st->down_exec,
                                mig_arena_printf(a, "%s.%s.%s down%s%s", m->name, ph->name, st->name,
                                                 st->down_optional ? " optional" : "",
                                                 st->down_restores ? " restores" : ""));
                }
            }
        }
    }
    if (c.v.n > 1)
        qsort(c.v.v, c.v.n, sizeof(*c.v.v), cmp_site);
    for (size_t i = 0; i < c.v.n; i++)
        fprintf(out, "%s:%u: %s: %s\n", c.v.v[i].path, c.v.v[i].line, c.v.v[i].where, c.v.v[i].text);
}

/* ---- suppressions --------------------------------------------------------------- */

struct allow {
    uint32_t file, start, end;  /* the step or phase it covers */
    const char *rule;
};

static bool known_rule(const char *id, size_t n)
{
    for (const struct mig_rule *r = mig_rules; r->id; r++)
        if (strlen(r->id) == n && strncmp(r->id, id, n) == 0)
            return true;
    return false;
}

/* The `# mig: allow RULE[, RULE] — reason` comment on the line before an
 * item starting at `at`. */
struct allows {
    struct allow *v;
    size_t n, cap;
};

static void find_allow(struct mig_program *p, struct mig_span item, struct allows *out)
{
    struct mig_source *src = mig_source_get(&p->sources, item.file);
    /* the line before the item's line, found backwards (no line index) */
    size_t ls = item.start;
    while (ls > 0 && src->text[ls - 1] != '\n')
        ls--;
    if (ls == 0)
        return;
    size_t ps = ls - 1;
    while (ps > 0 && src->text[ps - 1] != '\n')
        ps--;
    size_t pl = ls - 1 - ps;
    if (pl && src->text[ps + pl - 1] == '\r')
        pl--;
    const char *l = src->text + ps, *e = l + pl;
    while (l < e && (*l == ' ' || *l == '\t'))
        l++;
    static const char tag[] = "# mig: allow";
    if ((size_t)(e - l) < sizeof(tag) - 1 || strncmp(l, tag, sizeof(tag) - 1) != 0)
        return;
    const char *cur = l + sizeof(tag) - 1;
    bool any = false;
    for (;;) {
        while (cur < e && (*cur == ' ' || *cur == ','))
            cur++;
        const char *id = cur;
        while (cur < e && (isalnum((unsigned char)*cur) || *cur == '-'))
            cur++;
        if (cur == id)
            break;
        struct mig_span at = { item.file, (uint32_t)(id - src->text), (uint32_t)(cur - src->text) };
        if (!known_rule(id, (size_t)(cur - id))) {
            MIG_DIAG_AT(p, MIG_WARNING, at, "suppression-without-reason", "'%.*s' is not a rule id",
                        (int)(cur - id), id);
            continue;
        }
        struct allow a = { item.file, item.start, item.end, mig_arena_strndup(&p->arena, id, (size_t)(cur - id)) };
        MIG_PUSH(&p->arena, *out, a);
        any = true;
        while (cur < e && *cur == ' ')
            cur++;
        if (cur < e && *cur != ',')
            break;
    }
    /* the reason: after a dash (—, --, -) or a colon */
    const char *r = cur;
    while (r < e && (*r == ' ' || *r == '-' || *r == ':' || (unsigned char)*r >= 0x80))
        r++;
    bool reason = r < e && r > cur;
    if (any && !reason) {
        struct mig_span at = { item.file, (uint32_t)(l - src->text), (uint32_t)(e - src->text) };
        MIG_DIAG_AT(p, MIG_WARNING, at, "suppression-without-reason",
                    "a suppression needs a reason: # mig: allow RULE — why it is safe here");
    }
}

void mig_lint(struct mig_program *p)
{
    size_t first = p->diags.v.n;
    struct allows allows = { 0 };
    for (size_t f = 0; f < p->files.n; f++) {
        if (!p->files.v[f]->is_input)
            continue;
        for (size_t i = 0; i < p->files.v[f]->fns.n; i++)
            walk_execs(p->files.v[f]->fns.v[i]->fn->body, lint_shell, p);
        for (size_t i = 0; i < p->files.v[f]->lets.n; i++)
            walk_execs(p->files.v[f]->lets.v[i]->init, lint_shell, p);
        for (size_t i = 0; i < p->files.v[f]->migrations.n; i++) {
            struct mig_migration *m = p->files.v[f]->migrations.v[i];
            lint_migration(p, m);
            lint_execs(p, m);
            find_allow(p, m->extent, &allows);
            for (size_t k = 0; k < m->phases.n; k++) {
                if (!m->phases.v[k]->implicit)
                    find_allow(p, m->phases.v[k]->extent, &allows);
                for (size_t j = 0; j < m->phases.v[k]->steps.n; j++)
                    find_allow(p, m->phases.v[k]->steps.v[j]->extent, &allows);
            }
        }
    }
    if (allows.n == 0)
        return;
    /* drop the suppressed diagnostics of this pass; sql file texts count as
     * inside the step that names them */
    size_t k = first;
    for (size_t i = first; i < p->diags.v.n; i++) {
        struct mig_diag *d = &p->diags.v.v[i];
        bool drop = false;
        for (size_t a = 0; a < allows.n && !drop; a++)
            drop = strcmp(allows.v[a].rule, d->rule) == 0 && d->file == allows.v[a].file &&
                   d->start >= allows.v[a].start && d->start < allows.v[a].end;
        if (drop) {
            if (d->sev == MIG_ERROR)
                p->diags.errors--;
            else
                p->diags.warnings--;
            continue;
        }
        p->diags.v.v[k++] = *d;
    }
    p->diags.v.n = k;
}
