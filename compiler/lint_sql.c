/* lint_sql.c — the SQL rules over the bodies (statements split with the SQL
 * tokenizer, so literals, dollar quotes and comments never confuse them):
 * CREATE, DROP, REINDEX, ALTER TYPE and the rest of the statements but
 * ALTER TABLE (lint_alter.c), the down of each step, and the order in which
 * migrations are looked at (run order, so that what earlier migrations did
 * to a table is known). Each rule has an entry in doc/rules.md. */
#include "lint.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tokens and names ---------------------------------------------------------- */

const char *lint_text(struct lctx *c, const struct stok *t)
{
    return c->q->text + t->start;
}

bool lint_kw(struct lctx *c, const struct stmt *s, size_t i, const char *word)
{
    if (i >= s->n || s->t[i].kind != SQLT_WORD)
        return false;
    size_t n = strlen(word);
    return s->t[i].end - s->t[i].start == n && strncasecmp(lint_text(c, &s->t[i]), word, n) == 0;
}

bool lint_punct(struct lctx *c, const struct stmt *s, size_t i, char ch)
{
    return i < s->n && s->t[i].kind == SQLT_PUNCT && s->t[i].end - s->t[i].start == 1 && *lint_text(c, &s->t[i]) == ch;
}

static char *part(struct lctx *c, const struct stok *t)
{
    char *r;
    if (t->kind == SQLT_QIDENT)
        return mig_arena_strndup(&c->p->arena, lint_text(c, t) + 1, t->end - t->start - 2);
    r = mig_arena_strndup(&c->p->arena, lint_text(c, t), t->end - t->start);
    for (char *k = r; *k; k++)
        *k = (char)tolower((unsigned char)*k);
    return r;
}

static bool is_name(const struct stmt *s, size_t i)
{
    return i < s->n && (s->t[i].kind == SQLT_WORD || s->t[i].kind == SQLT_QIDENT);
}

/* A possibly qualified name at i: returns the lower-cased (unquoted) last
 * part and sets *next after it; NULL if there is no name. */
char *lint_name_at(struct lctx *c, const struct stmt *s, size_t i, size_t *next)
{
    char *last = NULL;
    while (is_name(s, i)) {
        last = part(c, &s->t[i]);
        i++;
        if (!lint_punct(c, s, i, '.'))
            break;
        i++;
    }
    *next = i;
    return last;
}

/* The qualifier of a qualified name at i ("s" of s.t), or NULL. */
char *lint_schema_at(struct lctx *c, const struct stmt *s, size_t i)
{
    if (is_name(s, i) && lint_punct(c, s, i + 1, '.') && is_name(s, i + 2) && !lint_punct(c, s, i + 3, '.'))
        return part(c, &s->t[i]);
    return NULL;
}

char *lint_key(struct lctx *c, const char *table, const char *name)
{
    return mig_arena_cat(&c->p->arena, table ? table : "?", ".", name ? name : "?", (char *)NULL);
}

struct mig_span lint_span(struct lctx *c, const struct stok *t)
{
    struct mig_span sp = { c->q->text_file, c->q->text_off + t->start, c->q->text_off + t->end };
    return sp;
}

/* Statement spans for the diagnostic: its first token through its last on
 * the same line. */
struct mig_span lint_stmt_span(struct lctx *c, const struct stmt *s)
{
    struct mig_span sp = lint_span(c, &s->t[0]);
    for (size_t i = 1; i < s->n; i++) {
        const char *a = c->q->text + s->t[0].start, *b = c->q->text + s->t[i].end;
        if (memchr(a, '\n', (size_t)(b - a)))
            break;
        sp.end = c->q->text_off + s->t[i].end;
    }
    return sp;
}

/* The index after the parenthesized group that opens at i (or i itself
 * when no '(' is there), not beyond end. */
size_t lint_skip_parens(struct lctx *c, const struct stmt *s, size_t i, size_t end)
{
    if (!lint_punct(c, s, i, '('))
        return i;
    int depth = 0;
    for (; i < end; i++) {
        if (lint_punct(c, s, i, '('))
            depth++;
        else if (lint_punct(c, s, i, ')') && --depth == 0)
            return i + 1;
    }
    return end;
}

/* ---- what this migration created --------------------------------------------------- */

bool lint_was_created(struct lctx *c, const char *name)
{
    return name && mig_strmap_get(&c->created, name) != NULL;
}

struct created_obj *lint_created(struct lctx *c, const char *name, uint32_t at)
{
    if (!name)
        return NULL;
    mig_strmap_put(&c->created, name, (void *)1);
    struct created_obj o = { name, NULL, NULL, { 0 }, at };
    MIG_PUSH(&c->p->arena, c->step_created, o);
    return &c->step_created.v[c->step_created.n - 1];
}

/* Forgets that the step creates name, and what name owns (the up drops it
 * itself). */
void lint_dropped(struct lctx *c, const char *name)
{
    for (size_t i = 0; name && i < c->step_created.n; i++) {
        struct created_obj *o = &c->step_created.v[i];
        if (o->name && (strcmp(o->name, name) == 0 || (o->owner && strcmp(o->owner, name) == 0)))
            o->name = NULL;
    }
}

void lint_warn(struct lctx *c, struct mig_span at, const char *rule, const char *fmt, ...)
{
    char buf[1024];
    if (!mig_lint_enabled(c->p, rule))
        return;
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

bool lint_in_transaction(struct lctx *c)
{
    return c->ph->txn != MIG_TXN_NONE;
}

static bool always_true(const struct mig_expr *e)
{
    return !e || (e->kind == MIG_E_BOOL && e->u.ival);
}

/* Whether a `when` can skip the step (for if-not-exists-unguarded). */
bool lint_step_guarded(struct lctx *c)
{
    return !always_true(c->st->when) || !always_true(c->ph->when);
}

/* missing-lock-timeout, once per phase: `what` is "table" or "index". */
void lint_strong_lock(struct lctx *c, const struct stmt *s, const char *what, const char *name)
{
    if (!c->pg || lint_was_created(c, name) || c->ph->lock_timeout_ms || c->phase_strong_lock_reported)
        return;
    c->phase_strong_lock_reported = true;
    lint_warn(c, lint_stmt_span(c, s), "missing-lock-timeout",
              "this takes a strong lock on existing %s '%s' but phase '%s' has no lock_timeout: "
              "waiting behind a long query, it would block every query on the table",
              what, name ? name : "?", c->ph->name);
}

/* ---- statements of an up -------------------------------------------------------- */

/* A down runs in its phase's transaction mode too. */
static void check_down_statement(struct lctx *c, const struct stmt *s)
{
    if (!c->pg || !lint_in_transaction(c))
        return;
    if ((lint_kw(c, s, 0, "DROP") || lint_kw(c, s, 0, "CREATE")) && (lint_kw(c, s, 1, "INDEX") || lint_kw(c, s, 2, "INDEX")))
        for (size_t k = 1; k < 4 && k < s->n; k++)
            if (lint_kw(c, s, k, "CONCURRENTLY"))
                lint_warn(c, lint_stmt_span(c, s), "concurrently-in-transaction",
                          "this down uses CONCURRENTLY, which cannot run inside a transaction: the rollback would "
                          "fail; put the step in a phase with 'transaction none'");
    if (lint_kw(c, s, 0, "VACUUM"))
        lint_warn(c, lint_stmt_span(c, s), "concurrently-in-transaction",
                  "VACUUM cannot run inside a transaction: put it in a phase with 'transaction none'");
}

static bool what_is(struct lctx *c, const struct stmt *s, size_t i, const char *const *words)
{
    for (size_t k = 0; words[k]; k++)
        if (lint_kw(c, s, i, words[k]))
            return true;
    return false;
}

static void check_create(struct lctx *c, const struct stmt *s)
{
    size_t i = 1, next = 0;
    if (lint_kw(c, s, i, "OR") && lint_kw(c, s, i + 1, "REPLACE"))
        i += 2;
    if (lint_kw(c, s, i, "UNIQUE"))
        i++;
    if (lint_kw(c, s, i, "CONSTRAINT") && lint_kw(c, s, i + 1, "TRIGGER"))
        i++;
    while (lint_kw(c, s, i, "TEMP") || lint_kw(c, s, i, "TEMPORARY") || lint_kw(c, s, i, "UNLOGGED") ||
           lint_kw(c, s, i, "MATERIALIZED") || lint_kw(c, s, i, "RECURSIVE"))
        i++;
    size_t what = i++;
    bool concurrently = lint_kw(c, s, i, "CONCURRENTLY");
    if (concurrently)
        i++;
    bool if_not_exists = lint_kw(c, s, i, "IF") && lint_kw(c, s, i + 1, "NOT") && lint_kw(c, s, i + 2, "EXISTS");
    if (if_not_exists) {
        i += 3;
        if (!lint_step_guarded(c) && !c->st->down_irreversible && !c->st->down_none)
            lint_warn(c, lint_stmt_span(c, s), "if-not-exists-unguarded",
                      "CREATE ... IF NOT EXISTS in a step whose when can never be false: if the object already "
                      "exists, the step is recorded as applied and its down drops what it did not create; guard the "
                      "step instead (when not std.table_exists(...), std.index_exists(...), ...)");
    }
    if (lint_kw(c, s, what, "INDEX")) {
        char *ix = NULL, *schema = NULL;
        if (!lint_kw(c, s, i, "ON")) {
            schema = lint_schema_at(c, s, i);
            ix = lint_name_at(c, s, i, &i);
        }
        char *table = NULL;
        if (lint_kw(c, s, i, "ON")) {
            i++;
            if (lint_kw(c, s, i, "ONLY"))
                i++;
            table = lint_name_at(c, s, i, &next);
            if (concurrently && lint_in_transaction(c) && c->pg)
                lint_warn(c, lint_stmt_span(c, s), "concurrently-in-transaction",
                          "CREATE INDEX CONCURRENTLY cannot run inside a transaction: put it in a phase with "
                          "'transaction none'");
            else if (!concurrently && c->pg && !lint_was_created(c, table))
                lint_warn(c, lint_stmt_span(c, s), "create-index-blocking",
                          "CREATE INDEX on existing table '%s' blocks writes to it until the index is built; use "
                          "CREATE INDEX CONCURRENTLY in a 'transaction none' phase", table ? table : "?");
            if (!concurrently && !lint_was_created(c, table))
                lint_strong_lock(c, s, "table", table);
        }
        struct created_obj *o = lint_created(c, ix, s->t[0].start);
        if (o) {
            o->owner = table;
            o->schema = schema;
            for (size_t k = next; table && k < s->n; k++)
                if (s->t[k].kind == SQLT_WORD || s->t[k].kind == SQLT_QIDENT)
                    MIG_PUSH(&c->p->arena, o->cols, part(c, &s->t[k]));
        }
        return;
    }
    static const char *const objects[] = { "TABLE", "VIEW", "FUNCTION", "PROCEDURE", "SCHEMA", "SEQUENCE",
                                            "TYPE", "TRIGGER", NULL };
    if (!what_is(c, s, what, objects))
        return;
    char *schema = lint_schema_at(c, s, i);
    char *name = lint_name_at(c, s, i, &next);
    struct created_obj *o = lint_created(c, name, s->t[0].start);
    if (o)
        o->schema = schema;
    if (o && lint_kw(c, s, what, "TRIGGER")) {
        for (size_t k = next; k < s->n; k++)
            if (lint_kw(c, s, k, "ON")) {
                size_t after;
                o->owner = lint_name_at(c, s, k + 1, &after);
                break;
            }
        /* SHARE ROW EXCLUSIVE on its table: writes queue behind it */
        if (o->owner && !lint_was_created(c, o->owner))
            lint_strong_lock(c, s, "table", o->owner);
    }
    if (lint_kw(c, s, what, "TABLE") && name)
        lint_create_table(c, s, next, name);
}

/* DROP INDEX [CONCURRENTLY] [IF EXISTS] name [, …] and the other objects. */
static void check_drop(struct lctx *c, const struct stmt *s)
{
    size_t i = 1, next;
    bool materialized = lint_kw(c, s, i, "MATERIALIZED");
    if (materialized)
        i++;
    size_t what = i++;
    bool concurrently = lint_kw(c, s, i, "CONCURRENTLY");
    if (concurrently)
        i++;
    if (lint_kw(c, s, i, "IF") && lint_kw(c, s, i + 1, "EXISTS"))
        i += 2;
    bool index = lint_kw(c, s, what, "INDEX");
    if (index && concurrently && c->pg && lint_in_transaction(c))
        lint_warn(c, lint_stmt_span(c, s), "concurrently-in-transaction",
                  "DROP INDEX CONCURRENTLY cannot run inside a transaction: put it in a phase with 'transaction none'");
    bool table = lint_kw(c, s, what, "TABLE"), schema = lint_kw(c, s, what, "SCHEMA");
    bool reported = false;
    for (;;) {
        char *name = lint_name_at(c, s, i, &next);
        if (!name)
            break;
        bool fresh = lint_was_created(c, name);
        lint_dropped(c, name);
        if (index && !concurrently && c->pg && !fresh && !reported) {
            reported = true;
            lint_warn(c, lint_stmt_span(c, s), "drop-index-blocking",
                      "DROP INDEX %s takes an ACCESS EXCLUSIVE lock on its table: every query on it waits; use "
                      "DROP INDEX CONCURRENTLY in a 'transaction none' phase", name);
            lint_strong_lock(c, s, "index", name);
        }
        if ((table || schema) && !fresh) {
            lint_warn(c, lint_stmt_span(c, s), "destructive",
                      "dropping %s '%s' in an up loses its data, which the down cannot bring back",
                      schema ? "schema" : "table", name);
            if (table)
                lint_strong_lock(c, s, "table", name);
        }
        if (table)
            lint_hist_drop_table(c, name);
        /* DROP FUNCTION f(int), g(text) */
        i = lint_skip_parens(c, s, next, s->n);
        if (!lint_punct(c, s, i, ','))
            break;
        i++;
    }
}

/* REINDEX [(options)] {INDEX|TABLE|SCHEMA|DATABASE|SYSTEM} [CONCURRENTLY] name */
static void check_reindex(struct lctx *c, const struct stmt *s)
{
    size_t i = 1, next;
    bool concurrently = false;
    if (lint_punct(c, s, i, '(')) {
        size_t end = lint_skip_parens(c, s, i, s->n);
        for (size_t k = i; k < end; k++)
            if (lint_kw(c, s, k, "CONCURRENTLY") && k + 1 < s->n && !lint_kw(c, s, k + 1, "false") &&
                !lint_kw(c, s, k + 1, "off") &&
                !(s->t[k + 1].kind == SQLT_WORD && lint_text(c, &s->t[k + 1])[0] == '0'))
                concurrently = true;
        i = end;
    }
    size_t what = i++;
    if (lint_kw(c, s, i, "CONCURRENTLY")) {
        concurrently = true;
        i++;
    }
    bool whole = lint_kw(c, s, what, "SCHEMA") || lint_kw(c, s, what, "DATABASE") || lint_kw(c, s, what, "SYSTEM");
    if (!whole && !lint_kw(c, s, what, "INDEX") && !lint_kw(c, s, what, "TABLE"))
        return;
    char *name = lint_name_at(c, s, i, &next);
    if (lint_in_transaction(c) && (concurrently || whole)) {
        const char *w = concurrently ? "CONCURRENTLY" : lint_text(c, &s->t[what]);
        int wl = concurrently ? 12 : (int)(s->t[what].end - s->t[what].start);
        lint_warn(c, lint_stmt_span(c, s), "concurrently-in-transaction",
                  "REINDEX %.*s cannot run inside a transaction: put it in a phase with 'transaction none'", wl, w);
        return;
    }
    if (concurrently || lint_was_created(c, name))
        return;
    bool old = c->pg_min && c->pg_min < 12;
    lint_warn(c, lint_stmt_span(c, s), "reindex-blocking",
              "REINDEX without CONCURRENTLY blocks writes to the table (and reads that would use the index) until "
              "it is rebuilt; %s", old ? "before PostgreSQL 12, build a new index CONCURRENTLY and drop the old one "
              "CONCURRENTLY" : "use REINDEX ... CONCURRENTLY (PostgreSQL 12+) in a 'transaction none' phase");
}

/* ALTER TYPE name ADD VALUE [IF NOT EXISTS] 'v' [BEFORE|AFTER 'w'] */
static void check_alter_type(struct lctx *c, const struct stmt *s)
{
    size_t next;
    char *type = lint_name_at(c, s, 2, &next);
    if (!lint_kw(c, s, next, "ADD") || !lint_kw(c, s, next + 1, "VALUE"))
        return;
    if (lint_in_transaction(c) && (c->pg_min == 0 || c->pg_min < 12))
        lint_warn(c, lint_stmt_span(c, s), "concurrently-in-transaction",
                  "ALTER TYPE ... ADD VALUE cannot run inside a transaction before PostgreSQL 12: declare "
                  "target postgres >= 12, or use a 'transaction none' phase");
    bool placed = false;
    for (size_t k = next + 2; k < s->n; k++)
        if (lint_kw(c, s, k, "BEFORE") || lint_kw(c, s, k, "AFTER"))
            placed = true;
    if (!placed && !lint_was_created(c, type))
        lint_warn(c, lint_stmt_span(c, s), "enum-value-position",
                  "ADD VALUE without BEFORE or AFTER appends the label after whatever the type holds in that "
                  "database: its sort order then depends on the history of each database; say where it goes "
                  "(ADD VALUE 'v' AFTER 'w')");
}

/* identifier-too-long: a name PostgreSQL truncates to 63 bytes. */
static void check_identifiers(struct lctx *c, const struct stmt *s)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct stok *t = &s->t[i];
        size_t n = t->end - t->start;
        if (t->kind == SQLT_QIDENT)
            n -= 2;
        else if (t->kind != SQLT_WORD || isdigit((unsigned char)lint_text(c, t)[0]))
            continue;
        if (n <= 63)
            continue;
        lint_warn(c, lint_span(c, t), "identifier-too-long",
                  "this name is %zu bytes long: PostgreSQL silently truncates names to 63 bytes, so two names "
                  "that differ after that are one, and checks by the full name never find it; shorten it", n);
        return;
    }
}

/* COPY … FROM STDIN: the rows after it are psql's input, not SQL (mig
 * sends the body as statements: the server would wait for data that never
 * comes, or the rows would fail as SQL). The data, up to its "\." line, is
 * skipped. */
static void check_copy(struct lctx *c, const struct stmt *s)
{
    bool from_stdin = false;
    for (size_t i = 1; i + 1 < s->n && !from_stdin; i++)
        from_stdin = lint_kw(c, s, i, "FROM") && lint_kw(c, s, i + 1, "STDIN");
    if (!from_stdin)
        return;
    lint_warn(c, lint_stmt_span(c, s), "copy-from-stdin",
              "COPY ... FROM STDIN reads its rows from psql's input, which mig does not send: write the rows as "
              "INSERT ... VALUES, or COPY FROM a file the server can read");
    /* the data: from the line after the statement to a line "\." */
    const char *t = c->q->text, *e = t + c->q->len;
    const char *l = memchr(t + s->t[s->n - 1].end, '\n', (size_t)(e - (t + s->t[s->n - 1].end)));
    while (l && l < e) {
        l++;
        const char *x = l;
        while (x < e && (*x == ' ' || *x == '\t'))
            x++;
        if (x + 1 < e && x[0] == '\\' && x[1] == '.') {
            const char *nl = memchr(x, '\n', (size_t)(e - x));
            c->resume_at = nl ? (size_t)(nl - t) : c->q->len;
            return;
        }
        l = memchr(l, '\n', (size_t)(e - l));
    }
    c->resume_at = c->q->len;
}

/* A backslash outside literals, comments and dollar quotes that starts a
 * line, or is followed by a letter (SELECT … \gexec): a psql meta-command
 * (\set, \i file, \connect, \gexec, …), which the server rejects.
 * Reported once per line; the rest of the line is skipped. */
static size_t meta_command(struct lctx *c, const struct mig_sql *q, const struct mig_sqltoken *t, bool report)
{
    const char *x = q->text + t->start;
    if (t->kind != SQLT_PUNCT || *x != '\\')
        return 0;
    const char *l = x;
    while (l > q->text && (l[-1] == ' ' || l[-1] == '\t'))
        l--;
    if (l > q->text && l[-1] != '\n' && !(t->start + 1 < q->len && isalpha((unsigned char)x[1])))
        return 0;
    const char *nl = memchr(x, '\n', q->len - t->start);
    size_t end = nl ? (size_t)(nl - q->text) : q->len;
    if (report) {
        size_t w = 1;
        while (t->start + w < end && !isspace((unsigned char)x[w]))
            w++;
        struct mig_span at = { q->text_file, q->text_off + (uint32_t)t->start, q->text_off + (uint32_t)(t->start + w) };
        const char *cmd = x + 1;
        int n = (int)w - 1;
#define IS(s) (n == (int)strlen(s) && strncmp(cmd, s, (size_t)n) == 0)
        const char *fix = IS("set") || IS("unset") ? "use a param or a let, and ${name} in the SQL"
                        : IS("i") || IS("ir") || IS("include") || IS("include_relative")
                        ? "put the file's statements here, or name it with up sql file \"…\""
                        : IS("gexec") ? "run the generated statements from a DO block (EXECUTE format(…))"
                        : IS("c") || IS("connect") ? "migrate each database with its own target (migrun --db)"
                        : "write it in SQL, or leave it out";
#undef IS
        MIG_DIAG_AT(c->p, MIG_ERROR, at, "psql-meta-command",
                    "%.*s is a psql meta-command, not SQL: mig sends the body to the server, which rejects it; %s",
                    (int)w, x, fix);
    }
    return end;
}

static void check_statement(struct lctx *c, const struct stmt *s, bool up)
{
    if (s->n == 0)
        return;
    if (lint_kw(c, s, 0, "COPY"))
        check_copy(c, s);
    if (!up) {
        check_down_statement(c, s);
        return;
    }
    if (c->pg)
        check_identifiers(c, s);
    if (lint_kw(c, s, 0, "CREATE"))
        check_create(c, s);
    else if (lint_kw(c, s, 0, "ALTER") && lint_kw(c, s, 1, "TABLE"))
        lint_alter_table(c, s, 2);
    else if (lint_kw(c, s, 0, "ALTER") && lint_kw(c, s, 1, "TYPE") && c->pg)
        check_alter_type(c, s);
    else if (lint_kw(c, s, 0, "DROP"))
        check_drop(c, s);
    else if (lint_kw(c, s, 0, "REINDEX") && c->pg)
        check_reindex(c, s);
    else if (lint_kw(c, s, 0, "TRUNCATE")) {
        size_t i = 1, next;
        if (lint_kw(c, s, i, "TABLE"))
            i++;
        if (lint_kw(c, s, i, "ONLY"))
            i++;
        char *name = lint_name_at(c, s, i, &next);
        if (!lint_was_created(c, name)) {
            lint_warn(c, lint_stmt_span(c, s), "destructive",
                      "TRUNCATE in an up deletes every row of '%s', which the down cannot bring back", name ? name : "?");
            lint_strong_lock(c, s, "table", name);
        }
    } else if (lint_kw(c, s, 0, "VACUUM") && c->pg && lint_in_transaction(c))
        lint_warn(c, lint_stmt_span(c, s), "concurrently-in-transaction",
                  "VACUUM cannot run inside a transaction: put it in a phase with 'transaction none'");
}

/* Splits a SQL text into statements of code tokens and calls fn on each. */
static void each_statement(struct lctx *c, const struct mig_sql *q, bool up,
                           void (*fn)(struct lctx *c, const struct stmt *s, bool up))
{
    const struct mig_sql *saved = c->q;
    c->q = q;
    /* the tokens of one statement at a time: a buffer of the heap reused
     * for every statement of the body and freed at the end, not arena
     * memory (thousands of bodies would leave their token arrays there
     * for the whole check, zeroed and faulted in for nothing) */
    struct {
        struct stok *v;
        size_t n, cap;
    } toks = { 0 };
    struct mig_sqltoken t;
    c->resume_at = 0;
    for (size_t pos = 0;; pos = t.end) {
        mig_sql_next(q->text, pos, q->len, &t);
        bool end = t.kind == SQLT_EOF || t.kind == SQLT_UNTERMINATED;
        if (end || t.kind == SQLT_SEMI) {
            struct stmt s = { toks.v, toks.n };
            if (s.n)
                fn(c, &s, up);
            toks.n = 0;
            if (end)
                break;
            if (c->resume_at > t.end) {
                t.end = c->resume_at;
                c->resume_at = 0;
            }
            continue;
        }
        if (!mig_sqltok_is_code(t.kind))
            continue;
        size_t skip = meta_command(c, q, &t, fn == check_statement);
        if (skip) {
            /* psql ends the statement before it there (\g, \gexec) */
            struct stmt s = { toks.v, toks.n };
            if (s.n)
                fn(c, &s, up);
            toks.n = 0;
            t.end = skip;
            continue;
        }
        if (toks.n == toks.cap) {
            size_t cap = toks.cap ? toks.cap * 2 : 64;
            struct stok *v = realloc(toks.v, cap * sizeof(*v));
            if (!v) {
                fputs("fatal: out of memory\n", stderr);
                abort();
            }
            toks.v = v;
            toks.cap = cap;
        }
        toks.v[toks.n++] = (struct stok){ t.kind, (uint32_t)t.start, (uint32_t)t.end };
    }
    free(toks.v);
    c->q = saved;
}

/* ---- the down -------------------------------------------------------------------- */

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

/* What a down drops wholesale, in c->gone: tables, materialized views (their
 * indexes go with them), schemas, "t.c" columns. */
static void note_drop(struct lctx *c, const struct stmt *s, bool up)
{
    (void)up;
    size_t i, next;
    bool matview = lint_kw(c, s, 1, "MATERIALIZED") && lint_kw(c, s, 2, "VIEW");
    if (lint_kw(c, s, 0, "DROP") && (lint_kw(c, s, 1, "TABLE") || lint_kw(c, s, 1, "SCHEMA") || matview)) {
        i = matview ? 3 : 2;
        if (lint_kw(c, s, i, "IF") && lint_kw(c, s, i + 1, "EXISTS"))
            i += 2;
        for (;;) {
            char *name = lint_name_at(c, s, i, &next);
            if (!name)
                break;
            mig_strmap_put(&c->gone, name, (void *)1);
            if (!lint_punct(c, s, next, ','))
                break;
            i = next + 1;
        }
    } else if (lint_kw(c, s, 0, "ALTER") && lint_kw(c, s, 1, "TABLE")) {
        i = 2;
        if (lint_kw(c, s, i, "IF") && lint_kw(c, s, i + 1, "EXISTS"))
            i += 2;
        if (lint_kw(c, s, i, "ONLY"))
            i++;
        char *table = lint_name_at(c, s, i, &next);
        for (i = next; table && i < s->n; i++) {
            if (!lint_kw(c, s, i, "DROP") || lint_kw(c, s, i + 1, "CONSTRAINT") || lint_kw(c, s, i + 1, "DEFAULT") ||
                lint_kw(c, s, i + 1, "NOT") || lint_kw(c, s, i + 1, "IDENTITY") || lint_kw(c, s, i + 1, "EXPRESSION"))
                continue;
            size_t k = i + 1;
            if (lint_kw(c, s, k, "COLUMN"))
                k++;
            if (lint_kw(c, s, k, "IF") && lint_kw(c, s, k + 1, "EXISTS"))
                k += 2;
            char *col = lint_name_at(c, s, k, &next);
            if (col)
                mig_strmap_put(&c->gone, lint_key(c, table, col), (void *)1);
        }
    }
}

/* Whether the down drops what owns o: its table, its schema, or a column
 * its index is on. */
static bool owner_dropped(struct lctx *c, const struct created_obj *o)
{
#define GONE(...) (mig_strmap_get(&c->gone, mig_arena_printf(&c->p->arena, __VA_ARGS__)) != NULL)
    if (o->schema && GONE("%s", o->schema))
        return true;
    if (o->owner && GONE("%s", o->owner))
        return true;
    for (size_t i = 0; o->owner && i < o->cols.n; i++)
        if (GONE("%s.%s", o->owner, o->cols.v[i]))
            return true;
    const char *dot = strchr(o->name, '.');
    if (dot && GONE("%.*s", (int)(dot - o->name), o->name))
        return true;
    return false;
#undef GONE
}

static void check_step(struct lctx *c, enum mig_dialect d)
{
    struct mig_step *st = c->st;
    c->step_created.n = 0;
    const struct mig_sql *up = mig_sql_variant(st->up, d);
    if (!up)
        up = st->up;
    if (up && up->text)
        each_statement(c, up, true, check_statement);
    if (!st->down || st->down_irreversible)
        return;
    const struct mig_sql *down = mig_sql_variant(st->down, d);
    if (!down || !down->text)
        return;
    each_statement(c, down, false, check_statement);
    memset(&c->gone, 0, sizeof(c->gone));
    c->gone.arena = &c->p->arena;
    each_statement(c, down, false, note_drop);
    for (size_t o = 0; o < c->step_created.n; o++) {
        struct created_obj *ob = &c->step_created.v[o];
        if (!ob->name || mentions(st->down, ob->name) || owner_dropped(c, ob))
            continue;
        struct mig_span at = { up->text_file, up->text_off + ob->at, up->text_off + ob->at + 6 };
        MIG_DIAG_AT(c->p, MIG_WARNING, at, "down-missing-object",
                    "the up of step '%s' creates '%s' but its down never mentions it: rolling back "
                    "would leave it behind", st->name, ob->name);
    }
}

/* require-statement-timeout (opt-in): a PostgreSQL phase with a SQL up and
 * no `timeout`, which mig sets as the phase's statement_timeout. */
static void check_statement_timeout(struct lctx *c)
{
    if (!c->pg || c->ph->timeout_ms || !mig_lint_enabled(c->p, "require-statement-timeout"))
        return;
    for (size_t j = 0; j < c->ph->steps.n; j++) {
        const struct mig_step *st = c->ph->steps.v[j];
        if (!st->up || st->up_exec)
            continue;
        struct mig_span at = c->ph->implicit ? st->span : c->ph->span;
        MIG_DIAG_AT(c->p, MIG_WARNING, at, "require-statement-timeout",
                    "phase '%s' runs SQL without a 'timeout' (its statement_timeout): a statement that runs "
                    "long (a scan, a lock wait without lock_timeout) holds its locks as long as it runs; add "
                    "'timeout 10m;' (the longest this phase may take per statement)", c->ph->name);
        return;
    }
}

static void lint_migration_sql(struct mig_program *p, struct mig_migration *m, struct lhist *h)
{
    struct lctx c;
    memset(&c, 0, sizeof(c));
    c.p = p;
    c.m = m;
    c.h = h;
    c.created.arena = &p->arena;
    c.notvalid.arena = &p->arena;
    bool has_pg = m->targets.n == 0;
    for (size_t i = 0; i < m->targets.n; i++)
        if (m->targets.v[i].dialect == MIG_D_POSTGRES) {
            has_pg = true;
            c.pg_min = m->targets.v[i].min_version;
        }
    c.pg = has_pg;
    for (size_t k = 0; k < m->phases.n; k++) {
        c.ph = m->phases.v[k];
        c.phase_i = k;
        c.phase_strong_lock_reported = false;
        check_statement_timeout(&c);
        for (size_t j = 0; j < c.ph->steps.n; j++) {
            c.st = c.ph->steps.v[j];
            c.step_i = j;
            check_step(&c, has_pg ? MIG_D_POSTGRES : MIG_D_SQLITE);
        }
    }
}

void mig_lint_sql(struct mig_program *p)
{
    struct lhist h;
    memset(&h, 0, sizeof(h));
    h.coltype.arena = h.checked.arena = h.checkcol.arena = h.notnull.arena = &p->arena;
    for (size_t i = 0; i < p->order.n; i++)
        lint_migration_sql(p, p->order.v[i], &h);
}
