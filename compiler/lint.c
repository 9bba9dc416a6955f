/* lint.c — the rule table, plan and command rules the language makes
 * checkable, and `# mig: allow RULE — why` suppressions (the SQL-aware
 * rules are in lint_sql.c and lint_alter.c). Each rule has a stable id, a
 * diagnostic at the offending statement (or token) itself, and an entry in
 * doc/rules.md. */
#include "lint.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct mig_rule mig_rules[] = {
    { "syntax", "error", "The grammar, literals and interpolations of the language." , false },
    { "unterminated-sql", "error", "A SQL body (or a literal in a SQL file) that never ends." , false },
    { "unknown-import", "error", "An import of a module that does not exist or a file that cannot be read." , false },
    { "sql-file", "error", "A `sql file` that cannot be read." , false },
    { "duplicate-name", "error", "Two migrations, phases, steps, params, lets or functions of one name." , false },
    { "duplicate-clause", "error", "A second up, down or when in one step or phase." , false },
    { "duplicate-variant", "error", "Two SQL variants for one dialect in one action." , false },
    { "missing-variant", "error", "No SQL for a dialect the migration targets." , false },
    { "unknown-after", "error", "`after` names a migration that is not compiled." , false },
    { "after-cycle", "error", "Migrations wait for each other through `after`." , false },
    { "unknown-name", "error", "A name or function that does not exist or is not declared yet." , false },
    { "type-mismatch", "error", "Operand, argument, condition or declaration types do not fit." , false },
    { "missing-up", "error", "A step without its up." , false },
    { "missing-down", "error", "A step without its down (or down irreversible)." , false },
    { "batch-transaction", "error", "A batch step in a phase with one transaction." , false },
    { "transaction-control", "error", "BEGIN, COMMIT, ROLLBACK, END, SAVEPOINT, RELEASE or START TRANSACTION at the top level of a body in a transactional phase." , false },
    { "fn-recursion", "error", "A function that calls itself, directly or not." , false },
    { "exec-transaction", "error", "A step that runs a command in a phase with one transaction." , false },
    { "exec-argv", "error", "An empty argv, or a bool, null or duration argv element, env value or cwd of a command." , false },
    { "exec-batch", "error", "batch on a step whose up runs a command." , false },
    { "env-password", "error", "env(\"PGPASSWORD\"): the password would reach an argv, SQL or output." , false },
    { "bad-regex", "error", "A matches() pattern that is not a POSIX extended regular expression." , false },
    { "shell-string", "warning", "A param or env() value reaches the script of sh -c (or bash -c …), where the shell interprets it." , false },
    { "txn-none-multi", "warning", "Several statements in one up under transaction none." , false },
    { "quoted-interpolation", "error", "${x} written inside a quoted identifier or a string literal, where it is not an interpolation." , false },
    { "raw-interpolation", "warning", "${x:raw} inserts a value into SQL unquoted." , false },
    { "create-index-blocking", "warning", "CREATE INDEX without CONCURRENTLY on an existing table blocks writes." , false },
    { "concurrently-in-transaction", "error", "CONCURRENTLY, VACUUM, REINDEX SCHEMA/DATABASE/SYSTEM or ALTER TYPE ... ADD VALUE (before PostgreSQL 12) inside a transaction." , false },
    { "drop-index-blocking", "warning", "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on its table." , false },
    { "reindex-blocking", "warning", "REINDEX without CONCURRENTLY blocks writes to the table while it rebuilds." , false },
    { "constraint-index-blocking", "warning", "ADD PRIMARY KEY or UNIQUE without USING INDEX builds an index under an ACCESS EXCLUSIVE lock." , false },
    { "add-column-not-null", "error", "ADD COLUMN ... NOT NULL without a default fails on a non-empty table." , false },
    { "alter-column-type", "warning", "ALTER COLUMN ... TYPE rewrites the table under an ACCESS EXCLUSIVE lock." , false },
    { "set-not-null", "warning", "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock." , false },
    { "constraint-not-valid", "warning", "A FOREIGN KEY or CHECK constraint (or ADD COLUMN ... REFERENCES) added without NOT VALID scans the table under a strong lock." , false },
    { "validate-same-transaction", "warning", "VALIDATE CONSTRAINT in the transaction that added the constraint NOT VALID." , false },
    { "volatile-default", "warning", "ADD COLUMN with a volatile default, GENERATED ... STORED, identity or serial rewrites the table (any default before PostgreSQL 11)." , false },
    { "enum-value-position", "warning", "ALTER TYPE ... ADD VALUE without BEFORE or AFTER: the label's position depends on each database's history." , false },
    { "identifier-too-long", "warning", "A name longer than 63 bytes, which PostgreSQL silently truncates." , false },
    { "destructive", "warning", "DROP TABLE/COLUMN/SCHEMA or TRUNCATE in an up: data the down cannot restore." , false },
    { "rename", "warning", "Renaming a table or column breaks the application versions still running." , false },
    { "down-missing-object", "warning", "The down does not mention an object that the up creates." , false },
    { "missing-lock-timeout", "warning", "A phase takes strong locks on existing tables without lock_timeout." , false },
    { "if-not-exists-unguarded", "warning", "CREATE ... IF NOT EXISTS or ADD COLUMN IF NOT EXISTS in a step whose when can never be false." , false },
    { "unused-param", "warning", "A param nothing uses." , false },
    { "unused-let", "warning", "A let nothing uses." , false },
    { "assert-without-message", "warning", "An assert without `else \"message\"`." , false },
    { "suppression-without-reason", "warning", "A `# mig: allow` comment without a reason, or for an unknown rule." , false },
    { "psql-meta-command", "error", "A psql meta-command (\\set, \\i, \\connect, ...) in a SQL body, which only psql understands." , false },
    { "copy-from-stdin", "error", "COPY ... FROM STDIN in a SQL body: the data rows are psql input, not SQL." , false },
    /* opt-in style rules: off unless mig.conf [lint] enable names them */
    { "prefer-bigint", "warning", "An int, integer or smallint column on PostgreSQL (opt-in): bigint does not run out.", true },
    { "prefer-identity", "warning", "A serial column on PostgreSQL (opt-in): bigint GENERATED BY DEFAULT AS IDENTITY.", true },
    { "prefer-timestamptz", "warning", "A timestamp without time zone column on PostgreSQL (opt-in).", true },
    { "prefer-text", "warning", "A varchar(n) column on PostgreSQL (opt-in): text with a CHECK on its length.", true },
    { "require-statement-timeout", "warning", "A PostgreSQL phase of SQL steps without `timeout` (its statement_timeout) (opt-in).", true },
    { NULL, NULL, NULL, false },
};

const struct mig_rule *mig_rule_find(const char *id)
{
    for (const struct mig_rule *r = mig_rules; id && r->id; r++)
        if (strcmp(r->id, id) == 0)
            return r;
    return NULL;
}

bool mig_lint_enabled(const struct mig_program *p, const char *id)
{
    const struct mig_rule *r = mig_rule_find(id);
    if (!r || !r->opt_in)
        return true;
    for (const char *const *e = p->lint_enable; e && *e; e++)
        if (strcmp(*e, id) == 0)
            return true;
    return false;
}

/* ---- plan rules ------------------------------------------------------------------ */

static void lint_migration(struct mig_program *p, struct mig_migration *m)
{
    for (size_t k = 0; k < m->phases.n; k++) {
        struct mig_phase *ph = m->phases.v[k];
        for (size_t j = 0; j < ph->asserts.n; j++)
            if (!ph->asserts.v[j].msg)
                MIG_DIAG_AT(p, MIG_WARNING, ph->asserts.v[j].span, "assert-without-message",
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
    struct allows allows = { 0 };
    mig_lint_sql(p);
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
    /* drop the suppressed diagnostics of this pass, and the warnings of the
     * earlier ones (raw-interpolation, txn-none-multi: this pass runs only
     * when they found no error); sql file texts count as inside the step
     * that names them */
    size_t k = 0;
    for (size_t i = 0; i < p->diags.v.n; i++) {
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
