/* types.c — names and types of expressions: every name used in an
 * expression or a ${…} resolves to a let, param, fn parameter or function;
 * every operator gets operands of the types it takes; conditions are bool.
 * Also loads `sql file` texts and finds the interpolations of SQL texts. */
#include "compiler.h"
#include <errno.h>
#include <regex.h>
#include <string.h>

const char *mig_type_name(enum mig_type t)
{
    switch (t) {
    case MIG_T_INT: return "int";
    case MIG_T_STRING: return "string";
    case MIG_T_BOOL: return "bool";
    case MIG_T_DURATION: return "duration";
    case MIG_T_NULL: return "null";
    case MIG_T_FLOAT: return "float";
    case MIG_T_ANY: break;
    }
    return "any";
}

const char *mig_dialect_name(enum mig_dialect d)
{
    return d == MIG_D_POSTGRES ? "postgres" : d == MIG_D_SQLITE ? "sqlite" : "any";
}

const char *mig_binop_text(enum mig_binop op)
{
    static const char *const t[] = { "or", "and", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%" };
    return t[op];
}

struct tctx {
    struct mig_program *p;
    struct mig_file *file;
    struct mig_migration *mig;  /* NULL outside migrations */
    struct mig_fn *fn;          /* NULL outside fn bodies */
    uint32_t file_limit;        /* file lets must be declared before this offset */
    uint32_t mig_limit;         /* migration lets must be declared before this offset */
    bool params_visible;        /* migration params (not inside param defaults) */
};

static bool compat(enum mig_type a, enum mig_type b)
{
    return a == b || a == MIG_T_ANY || b == MIG_T_ANY || a == MIG_T_NULL || b == MIG_T_NULL;
}

/* A value of type from may be stored where to is declared: an int where a
 * float is (it is converted), else the same type. */
static bool assignable(enum mig_type from, enum mig_type to)
{
    return compat(from, to) || (from == MIG_T_INT && to == MIG_T_FLOAT);
}

static bool numeric(enum mig_type t)
{
    return t == MIG_T_INT || t == MIG_T_FLOAT;
}

/* Two values that == and < may compare: one type, or an int and a float. */
static bool comparable(enum mig_type a, enum mig_type b)
{
    return compat(a, b) || (numeric(a) && numeric(b));
}

static struct mig_symbol *find_in(struct mig_symbol **v, size_t n, const char *name, uint32_t limit,
                                  bool *too_late)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i]->name, name) == 0) {
            if (v[i]->span.start < limit)
                return v[i];
            *too_late = true;
        }
    return NULL;
}

/* Files visible from c->file that declare module `mod` (NULL: no module). */
static struct mig_symbol *find_imported(struct tctx *c, const char *mod, const char *name, bool fn)
{
    bool late = false;
    for (size_t i = 0; i < c->file->visible.n; i++) {
        struct mig_file *g = c->file->visible.v[i];
        if (mod ? !g->module || strcmp(g->module, mod) != 0 : g->module != NULL)
            continue;
        struct mig_symbol *s = fn ? find_in(g->fns.v, g->fns.n, name, UINT32_MAX, &late)
                                  : find_in(g->lets.v, g->lets.n, name, UINT32_MAX, &late);
        if (s)
            return s;
    }
    return NULL;
}

static const char *hint(struct tctx *c, const char *qname)
{
    if (strncmp(qname, "std.", 4) != 0)
        return "";
    for (size_t i = 0; i < c->file->visible.n; i++)
        if (c->file->visible.v[i]->is_std && strcmp(c->file->visible.v[i]->module, "std") == 0)
            return "";
    return " (did you forget 'import std;'?)";
}

/* Lookup of a value name (not a function). */
static struct mig_symbol *lookup_var(struct tctx *c, const char *name, struct mig_span at)
{
    bool late = false;
    struct mig_symbol *s = NULL;
    const char *dot = strrchr(name, '.');
    if (dot) {
        char *mod = mig_arena_strndup(&c->p->arena, name, (size_t)(dot - name));
        s = find_imported(c, mod, dot + 1, false);
        if (!s && find_imported(c, mod, dot + 1, true)) {
            MIG_DIAG_AT(c->p, MIG_ERROR, at, "unknown-name", "'%s' is a function: call it as %s(…)", name, name);
            return NULL;
        }
    } else {
        if (c->fn)
            s = find_in(c->fn->params.v, c->fn->params.n, name, UINT32_MAX, &late);
        if (!s && c->mig) {
            if (c->params_visible)
                s = find_in(c->mig->params.v, c->mig->params.n, name, UINT32_MAX, &late);
            if (!s)
                s = find_in(c->mig->lets.v, c->mig->lets.n, name, c->mig_limit, &late);
        }
        if (!s)
            s = find_in(c->file->lets.v, c->file->lets.n, name, c->file_limit, &late);
        if (!s)
            s = find_imported(c, NULL, name, false);
        if (!s && (find_in(c->file->fns.v, c->file->fns.n, name, UINT32_MAX, &late) ||
                   find_imported(c, NULL, name, true))) {
            MIG_DIAG_AT(c->p, MIG_ERROR, at, "unknown-name", "'%s' is a function: call it as %s(…)", name, name);
            return NULL;
        }
        if (!s && c->mig && !c->params_visible &&
            find_in(c->mig->params.v, c->mig->params.n, name, UINT32_MAX, &late)) {
            MIG_DIAG_AT(c->p, MIG_ERROR, at, "unknown-name",
                        "a param default cannot use the param '%s' (params are independent inputs)", name);
            return NULL;
        }
    }
    if (!s) {
        if (late)
            MIG_DIAG_AT(c->p, MIG_ERROR, at, "unknown-name", "'%s' is used before its declaration", name);
        else
            MIG_DIAG_AT(c->p, MIG_ERROR, at, "unknown-name", "unknown name '%s'%s", name, hint(c, name));
        return NULL;
    }
    s->used = true;
    return s;
}

static struct mig_symbol *lookup_fn(struct tctx *c, const char *name, struct mig_span at)
{
    bool late = false;
    struct mig_symbol *s = NULL;
    const char *dot = strrchr(name, '.');
    if (dot) {
        char *mod = mig_arena_strndup(&c->p->arena, name, (size_t)(dot - name));
        s = find_imported(c, mod, dot + 1, true);
    } else {
        s = find_in(c->file->fns.v, c->file->fns.n, name, UINT32_MAX, &late);
        if (!s)
            s = find_imported(c, NULL, name, true);
    }
    if (!s) {
        MIG_DIAG_AT(c->p, MIG_ERROR, at, "unknown-name", "unknown function '%s'%s", name, hint(c, name));
        return NULL;
    }
    s->used = true;
    return s;
}

static enum mig_type check_expr(struct tctx *c, struct mig_expr *e);
static void check_sql(struct tctx *c, struct mig_sql *q, const char *what);

/* A command's argv and env values are strings, ints or floats (rendered
 * as text); its cwd a string. A bool, null or duration is a mistake the
 * compiler can see (`true` is not "true"). */
static void check_exec(struct tctx *c, struct mig_exec *x)
{
    if (x->argv.n == 0)
        MIG_DIAG_AT(c->p, MIG_ERROR, x->argv_span, "exec-argv",
                    "the argv of a command is empty: it needs at least the program to run");
    for (size_t i = 0; i < x->argv.n; i++) {
        enum mig_type t = check_expr(c, x->argv.v[i]);
        if (t == MIG_T_BOOL || t == MIG_T_NULL || t == MIG_T_DURATION)
            MIG_DIAG_AT(c->p, MIG_ERROR, x->argv.v[i]->span, "exec-argv",
                        "argv element %zu is %s%s: an argv element is a string (ints and floats are "
                        "rendered as text)%s", i + 1, t == MIG_T_NULL ? "" : "a ", mig_type_name(t),
                        t == MIG_T_BOOL ? "; write \"true\" or string(x) for the text"
                        : t == MIG_T_DURATION ? "; write the number the program expects" : "");
    }
    for (size_t i = 0; i < x->env.n; i++) {
        enum mig_type t = check_expr(c, x->env.v[i].value);
        if (t == MIG_T_BOOL || t == MIG_T_NULL || t == MIG_T_DURATION)
            MIG_DIAG_AT(c->p, MIG_ERROR, x->env.v[i].value->span, "exec-argv",
                        "env %s is %s%s: an environment variable is a string (ints and floats are rendered "
                        "as text)", x->env.v[i].name.text, t == MIG_T_NULL ? "" : "a ", mig_type_name(t));
    }
    if (x->cwd) {
        enum mig_type t = check_expr(c, x->cwd);
        if (!compat(t, MIG_T_STRING) || t == MIG_T_NULL)
            MIG_DIAG_AT(c->p, MIG_ERROR, x->cwd->span, "exec-argv", "cwd is %s, not a string (a directory)",
                        mig_type_name(t));
    }
}

static const struct { const char *name; enum mig_builtin b; int min, max; enum mig_type ret; } builtins[] = {
    { "dialect", MIG_B_DIALECT, 0, 0, MIG_T_STRING },
    { "server_version", MIG_B_SERVER_VERSION, 0, 0, MIG_T_INT },
    { "env", MIG_B_ENV, 1, 2, MIG_T_STRING },
    { "int", MIG_B_INT, 1, 1, MIG_T_INT },
    { "string", MIG_B_STRING, 1, 1, MIG_T_STRING },
    { "is_null", MIG_B_IS_NULL, 1, 1, MIG_T_BOOL },
    { "float", MIG_B_FLOAT, 1, 1, MIG_T_FLOAT },
    { "version_cmp", MIG_B_VERSION_CMP, 2, 2, MIG_T_INT },
    { "matches", MIG_B_MATCHES, 2, 2, MIG_T_BOOL },
    { "trim", MIG_B_TRIM, 1, 1, MIG_T_STRING },
    { "lower", MIG_B_LOWER, 1, 1, MIG_T_STRING },
    { "upper", MIG_B_UPPER, 1, 1, MIG_T_STRING },
};

static enum mig_type check_call(struct tctx *c, struct mig_expr *e)
{
    const char *name = e->u.ref.name.text;
    struct mig_exprs *args = &e->u.ref.args;
    enum mig_type at[64];
    for (size_t i = 0; i < args->n; i++) {
        enum mig_type t = check_expr(c, args->v[i]);
        if (i < 64)
            at[i] = t;
    }
    for (size_t i = 0; i < sizeof(builtins) / sizeof(*builtins); i++) {
        if (strcmp(builtins[i].name, name) != 0)
            continue;
        e->u.ref.builtin = builtins[i].b;
        if (args->n < (size_t)builtins[i].min || args->n > (size_t)builtins[i].max) {
            if (builtins[i].min == builtins[i].max)
                MIG_DIAG_AT(c->p, MIG_ERROR, e->u.ref.name.span, "type-mismatch",
                            "%s() takes %d argument%s, not %zu", name, builtins[i].min,
                            builtins[i].min == 1 ? "" : "s", args->n);
            else
                MIG_DIAG_AT(c->p, MIG_ERROR, e->u.ref.name.span, "type-mismatch",
                            "%s() takes %d or %d arguments, not %zu", name, builtins[i].min,
                            builtins[i].max, args->n);
            return builtins[i].ret;
        }
        if (builtins[i].b == MIG_B_ENV)
            for (size_t k = 0; k < args->n; k++)
                if (!compat(at[k], MIG_T_STRING) || at[k] == MIG_T_NULL)
                    MIG_DIAG_AT(c->p, MIG_ERROR, args->v[k]->span, "type-mismatch",
                                "env() takes string arguments, not %s", mig_type_name(at[k]));
        if (builtins[i].b == MIG_B_ENV && args->v[0]->kind == MIG_E_STRING &&
            strcmp(args->v[0]->u.str.s, "PGPASSWORD") == 0)
            MIG_DIAG_AT(c->p, MIG_ERROR, e->span, "env-password",
                        "env(\"PGPASSWORD\") would put the password into an argv, SQL or output: commands "
                        "get it in their own PGPASSWORD variable from migrun, never through the plan");
        if (builtins[i].b == MIG_B_INT && at[0] == MIG_T_BOOL)
            MIG_DIAG_AT(c->p, MIG_ERROR, args->v[0]->span, "type-mismatch",
                        "int() converts strings, floats and durations, not %s", mig_type_name(at[0]));
        if (builtins[i].b == MIG_B_FLOAT && at[0] == MIG_T_BOOL)
            MIG_DIAG_AT(c->p, MIG_ERROR, args->v[0]->span, "type-mismatch",
                        "float() converts strings, ints and durations, not %s", mig_type_name(at[0]));
        if (builtins[i].b == MIG_B_VERSION_CMP || builtins[i].b == MIG_B_MATCHES || builtins[i].b == MIG_B_TRIM ||
            builtins[i].b == MIG_B_LOWER || builtins[i].b == MIG_B_UPPER)
            for (size_t k = 0; k < args->n; k++)
                if (!compat(at[k], MIG_T_STRING))
                    MIG_DIAG_AT(c->p, MIG_ERROR, args->v[k]->span, "type-mismatch",
                                "%s() takes string arguments, not %s (convert with string())", name,
                                mig_type_name(at[k]));
        if (builtins[i].b == MIG_B_MATCHES && args->v[1]->kind == MIG_E_STRING) {
            regex_t rx;
            int rc = regcomp(&rx, args->v[1]->u.str.s, REG_EXTENDED | REG_NOSUB);
            if (rc != 0) {
                char why[256];
                regerror(rc, &rx, why, sizeof(why));
                MIG_DIAG_AT(c->p, MIG_ERROR, args->v[1]->span, "bad-regex",
                            "not a POSIX extended regular expression: %s", why);
            } else {
                regfree(&rx);
            }
        }
        return builtins[i].ret;
    }
    struct mig_symbol *s = lookup_fn(c, name, e->u.ref.name.span);
    if (!s)
        return MIG_T_ANY;
    struct mig_fn *f = s->fn;
    e->u.ref.sym = s;
    if (c->fn) {
        struct mig_call call = { f, e->u.ref.name.span };
        MIG_PUSH(&c->p->arena, c->fn->calls, call);
    }
    if (args->n != f->params.n) {
        MIG_DIAG_AT(c->p, MIG_ERROR, e->u.ref.name.span, "type-mismatch",
                    "%s() takes %zu argument%s, not %zu", name, f->params.n,
                    f->params.n == 1 ? "" : "s", args->n);
        return f->ret;
    }
    for (size_t i = 0; i < args->n && i < 64; i++)
        if (!assignable(at[i], f->params.v[i]->type))
            MIG_DIAG_AT(c->p, MIG_ERROR, args->v[i]->span, "type-mismatch",
                        "argument %zu of %s() must be %s, not %s", i + 1, name,
                        mig_type_name(f->params.v[i]->type), mig_type_name(at[i]));
    return f->ret;
}

/* The type of a binary expression whose left operand is checked already. */
static enum mig_type check_binary(struct tctx *c, struct mig_expr *e)
{
    enum mig_binop op = e->u.bin.op;
    enum mig_type l = e->u.bin.l->type, r = check_expr(c, e->u.bin.r);
    const char *ln = mig_type_name(l), *rn = mig_type_name(r), *o = mig_binop_text(op);
    switch (op) {
    case MIG_OP_OR:
    case MIG_OP_AND:
        if (!compat(l, MIG_T_BOOL) || l == MIG_T_NULL)
            MIG_DIAG_AT(c->p, MIG_ERROR, e->op_span, "type-mismatch",
                        "'%s' needs bool operands, but the left one is %s", o, ln);
        else if (!compat(r, MIG_T_BOOL) || r == MIG_T_NULL)
            MIG_DIAG_AT(c->p, MIG_ERROR, e->op_span, "type-mismatch",
                        "'%s' needs bool operands, but the right one is %s", o, rn);
        return MIG_T_BOOL;
    case MIG_OP_EQ:
    case MIG_OP_NE:
        if (!comparable(l, r))
            MIG_DIAG_AT(c->p, MIG_ERROR, e->op_span, "type-mismatch",
                        "cannot compare %s with %s using '%s'", ln, rn, o);
        return MIG_T_BOOL;
    case MIG_OP_LT:
    case MIG_OP_LE:
    case MIG_OP_GT:
    case MIG_OP_GE:
        if (!comparable(l, r))
            MIG_DIAG_AT(c->p, MIG_ERROR, e->op_span, "type-mismatch",
                        "cannot compare %s with %s using '%s'", ln, rn, o);
        else if (l == MIG_T_BOOL || r == MIG_T_BOOL || l == MIG_T_NULL || r == MIG_T_NULL)
            MIG_DIAG_AT(c->p, MIG_ERROR, e->op_span, "type-mismatch",
                        "'%s' orders ints, floats, strings and durations, not %s", o,
                        l == MIG_T_BOOL || l == MIG_T_NULL ? ln : rn);
        return MIG_T_BOOL;
    case MIG_OP_ADD:
    case MIG_OP_SUB:
    case MIG_OP_MUL:
    case MIG_OP_DIV:
        /* a float with an int or a float (or a value known at run time) is a float */
        if ((l == MIG_T_FLOAT || r == MIG_T_FLOAT) && (numeric(l) || l == MIG_T_ANY) &&
            (numeric(r) || r == MIG_T_ANY)) {
            if (op == MIG_OP_DIV && ((e->u.bin.r->kind == MIG_E_INT && e->u.bin.r->u.ival == 0) ||
                                     (e->u.bin.r->kind == MIG_E_FLOAT && e->u.bin.r->u.fval == 0)))
                MIG_DIAG_AT(c->p, MIG_ERROR, e->op_span, "type-mismatch", "division by zero");
            return MIG_T_FLOAT;
        }
        break;
    default:
        break;
    }
    switch (op) {
    case MIG_OP_OR: case MIG_OP_AND: case MIG_OP_EQ: case MIG_OP_NE:
    case MIG_OP_LT: case MIG_OP_LE: case MIG_OP_GT: case MIG_OP_GE:
        break;
    case MIG_OP_ADD:
        if (!compat(l, r) || l == MIG_T_NULL || r == MIG_T_NULL || l == MIG_T_BOOL || r == MIG_T_BOOL) {
            MIG_DIAG_AT(c->p, MIG_ERROR, e->op_span, "type-mismatch",
                        "'+' adds numbers or durations, or concatenates strings; cannot add %s and %s", ln, rn);
            return MIG_T_ANY;
        }
        return l != MIG_T_ANY ? l : r;
    case MIG_OP_SUB:
        if (!compat(l, r) || !(l == MIG_T_INT || l == MIG_T_DURATION || l == MIG_T_ANY) ||
            !(r == MIG_T_INT || r == MIG_T_DURATION || r == MIG_T_ANY)) {
            MIG_DIAG_AT(c->p, MIG_ERROR, e->op_span, "type-mismatch",
                        "'-' subtracts numbers or durations, not %s and %s", ln, rn);
            return MIG_T_ANY;
        }
        return l != MIG_T_ANY ? l : r;
    case MIG_OP_MUL:
    case MIG_OP_DIV:
    case MIG_OP_MOD:
        if (!(l == MIG_T_INT || l == MIG_T_ANY) || !(r == MIG_T_INT || r == MIG_T_ANY)) {
            MIG_DIAG_AT(c->p, MIG_ERROR, e->op_span, "type-mismatch",
                        op == MIG_OP_MOD ? "'%s' needs int operands, not %s and %s"
                                         : "'%s' needs numbers (ints or floats), not %s and %s", o, ln, rn);
            return MIG_T_ANY;
        }
        if (op != MIG_OP_MUL && e->u.bin.r->kind == MIG_E_INT && e->u.bin.r->u.ival == 0)
            MIG_DIAG_AT(c->p, MIG_ERROR, e->op_span, "type-mismatch", "division by zero");
        return MIG_T_INT;
    }
    return MIG_T_ANY;
}

static enum mig_type check_expr_inner(struct tctx *c, struct mig_expr *e)
{
    switch (e->kind) {
    case MIG_E_INT: return MIG_T_INT;
    case MIG_E_FLOAT: return MIG_T_FLOAT;
    case MIG_E_STRING: return MIG_T_STRING;
    case MIG_E_BOOL: return MIG_T_BOOL;
    case MIG_E_NULL: return MIG_T_NULL;
    case MIG_E_DURATION: return MIG_T_DURATION;
    case MIG_E_NAME: {
        struct mig_symbol *s = lookup_var(c, e->u.ref.name.text, e->u.ref.name.span);
        e->u.ref.sym = s;
        return s ? s->type : MIG_T_ANY;
    }
    case MIG_E_CALL:
        return check_call(c, e);
    case MIG_E_NOT: {
        enum mig_type t = check_expr(c, e->u.sub);
        if (!compat(t, MIG_T_BOOL) || t == MIG_T_NULL)
            MIG_DIAG_AT(c->p, MIG_ERROR, e->op_span, "type-mismatch", "'not' needs a bool, not %s",
                        mig_type_name(t));
        return MIG_T_BOOL;
    }
    case MIG_E_NEG: {
        enum mig_type t = check_expr(c, e->u.sub);
        if (t != MIG_T_INT && t != MIG_T_FLOAT && t != MIG_T_DURATION && t != MIG_T_ANY) {
            MIG_DIAG_AT(c->p, MIG_ERROR, e->op_span, "type-mismatch", "unary '-' needs a number, not %s",
                        mig_type_name(t));
            return MIG_T_ANY;
        }
        return t;
    }
    case MIG_E_BINARY:
        break;      /* check_expr walks the chain */
    case MIG_E_EXISTS:
        check_sql(c, e->u.sql, "exists");
        return MIG_T_BOOL;
    case MIG_E_SCALAR:
        check_sql(c, e->u.sql, "scalar");
        return MIG_T_ANY;
    case MIG_E_EXEC:
        check_exec(c, e->u.exec);
        return e->u.exec->output ? MIG_T_STRING : MIG_T_BOOL;
    }
    return MIG_T_ANY;
}

static enum mig_type check_expr(struct tctx *c, struct mig_expr *e)
{
    if (e->kind != MIG_E_BINARY) {
        e->type = check_expr_inner(c, e);
        return e->type;
    }
    /* a left-leaning chain (a + b + c + …, tens of thousands long in a
     * generated file) is checked in a loop, not by recursion, so its length
     * never exhausts the stack; the order of diagnostics is the same */
    size_t n = 0;
    struct mig_expr *x = e;
    for (; x->kind == MIG_E_BINARY; x = x->u.bin.l)
        n++;
    struct mig_expr **spine = mig_arena_alloc(&c->p->arena, n * sizeof(*spine));
    n = 0;
    for (x = e; x->kind == MIG_E_BINARY; x = x->u.bin.l)
        spine[n++] = x;
    x->type = check_expr_inner(c, x);
    while (n-- > 0)
        spine[n]->type = check_binary(c, spine[n]);
    return e->type;
}

static void check_cond(struct tctx *c, struct mig_expr *e, const char *what)
{
    if (!e)
        return;
    enum mig_type t = check_expr(c, e);
    if (!compat(t, MIG_T_BOOL) || t == MIG_T_NULL)
        MIG_DIAG_AT(c->p, MIG_ERROR, e->span, "type-mismatch", "a '%s' condition must be bool, not %s",
                    what, mig_type_name(t));
}

static void expect_type(struct tctx *c, struct mig_expr *e, enum mig_type want, const char *what,
                        const char *name)
{
    enum mig_type t = check_expr(c, e);
    if (!assignable(t, want))
        MIG_DIAG_AT(c->p, MIG_ERROR, e->span, "type-mismatch", "%s '%s' is declared %s but its value is %s",
                    what, name, mig_type_name(want), mig_type_name(t));
}

/* Reads a `sql file` relative to the including .mig file. */
static void load_sql_file(struct tctx *c, struct mig_sql *q)
{
    struct mig_program *p = c->p;
    struct mig_source *inc = mig_source_get(&p->sources, q->file_span.file);
    const char *base = inc->path, *slash = strrchr(base, '/');
    const char *path = q->file_path[0] == '/' || !slash ? q->file_path
        : mig_arena_printf(&p->arena, "%.*s/%s", (int)(slash - base), base, q->file_path);
    struct mig_source *src = mig_source_find(&p->sources, path);
    const char *why = NULL;
    if (!src) {
        src = mig_source_read(&p->sources, path, &why);
        /* a NUL byte would cut the statement short at run time */
        if (src && !mig_source_check_text(p, src, false, "sql-file"))
            src->bad = true;
    }
    if (!src || src->bad) {
        if (!src)
            MIG_DIAG_AT(p, MIG_ERROR, q->file_span, "sql-file", "cannot read SQL file '%s': %s", path, why);
        q->text = "";
        q->text_file = q->file_span.file;
        return;
    }
    q->text = src->text;
    q->len = (uint32_t)src->len;
    q->text_file = src->id;
    q->text_off = 0;
}

/* Whether name is a value visible here, as lookup_var would find it, but
 * without reporting anything. */
static bool visible_var(struct tctx *c, const char *name)
{
    bool late = false;
    if (c->fn && find_in(c->fn->params.v, c->fn->params.n, name, UINT32_MAX, &late))
        return true;
    if (c->mig && c->params_visible && find_in(c->mig->params.v, c->mig->params.n, name, UINT32_MAX, &late))
        return true;
    if (c->mig && find_in(c->mig->lets.v, c->mig->lets.n, name, c->mig_limit, &late))
        return true;
    return find_in(c->file->lets.v, c->file->lets.n, name, c->file_limit, &late) ||
           find_imported(c, NULL, name, false);
}

/* The dialects whose quoting rules a SQL variant runs under: its own, or,
 * without one, every dialect its migration targets (all of them outside a
 * migration, or without `target`). */
enum { RULES_PG = 1, RULES_SQLITE = 2 };
static unsigned variant_rules(struct tctx *c, const struct mig_sql *q)
{
    if (q->dialect == MIG_D_POSTGRES)
        return RULES_PG;
    if (q->dialect == MIG_D_SQLITE)
        return RULES_SQLITE;
    unsigned r = 0;
    for (size_t i = 0; c->mig && i < c->mig->targets.n; i++)
        r |= c->mig->targets.v[i].dialect == MIG_D_SQLITE ? RULES_SQLITE : RULES_PG;
    return r ? r : RULES_PG | RULES_SQLITE;
}

/* ${…} written inside a quoted token is not an interpolation: it would
 * reach the database as text. Inside a quoted identifier that is always a
 * mistake, and a dangerous one when "fixed" by hand (`AS [${label}]` on
 * SQLite, with `]` in the value, is SQL injection), so it is an error
 * pointing to ${x:ident}. Inside a string or dollar-quoted literal it is an
 * error when it names a value visible here (surely meant as an
 * interpolation); other names stay text, as in stored templates
 * ('Hello ${customer}'). `reported` holds the offsets already reported
 * (one text is scanned once per dialect). */
struct offsets {
    uint32_t *v;
    size_t n, cap;
};

static void check_quoted_interps(struct tctx *c, const struct mig_sql *q, const struct mig_sqltoken *t,
                                 bool pg_too, struct offsets *reported)
{
    const char *s = q->text;
    size_t from = t->start, to = t->end;
    char open = s[t->start];
    if (t->kind == SQLT_DOLLAR) {
        const char *tag_end = memchr(s + from + 1, '$', to - from - 1);
        size_t tag = tag_end ? (size_t)(tag_end - (s + from)) + 1 : 1;
        from += tag;
        to = to - tag > from ? to - tag : from;
    }
    for (size_t i = from; i + 1 < to; i++) {
        if (s[i] != '$' || s[i + 1] != '{')
            continue;
        struct mig_sqltoken in;
        mig_sql_interp_at(s, i, to, &in);
        if (in.kind != SQLT_INTERP)
            continue;
        i = in.end - 1;
        char *name = mig_arena_strndup(&c->p->arena, s + in.name_start, in.name_len);
        bool ident = t->kind == SQLT_QIDENT;
        if (!ident && !visible_var(c, name))
            continue;
        bool seen = false;
        for (size_t k = 0; k < reported->n && !seen; k++)
            seen = reported->v[k] == (uint32_t)in.start;
        if (seen)
            continue;
        MIG_PUSH(&c->p->arena, *reported, (uint32_t)in.start);
        struct mig_span at = { q->text_file, q->text_off + (uint32_t)in.start, q->text_off + (uint32_t)in.end };
        const char *written = mig_arena_strndup(&c->p->arena, s + in.start, in.end - in.start);
        if (ident && open == '"')
            MIG_DIAG_AT(c->p, MIG_ERROR, at, "quoted-interpolation",
                        "%s inside the quoted identifier \"…\" is not an interpolation, and a value quoted by "
                        "hand is open to injection: write ${%s:ident} in place of the whole quoted name "
                        "(it quotes the value as an identifier)", written, name);
        else if (ident)
            MIG_DIAG_AT(c->p, MIG_ERROR, at, "quoted-interpolation",
                        "%s inside the SQLite quoted identifier %s is not an interpolation, and a value "
                        "quoted by hand is open to injection (a '%c' in it ends the name): write "
                        "${%s:ident} in place of the whole quoted name (it quotes the value as an "
                        "identifier)%s", written, open == '[' ? "[…]" : "`…`", open == '[' ? ']' : '`', name,
                        pg_too && open == '['
                            ? "; if '[' is a PostgreSQL subscript here, put this SQL in a 'sql postgres' "
                              "variant: on SQLite, where this SQL may run too, '[' always quotes a name"
                            : "");
        else if (t->kind == SQLT_DOLLAR)
            MIG_DIAG_AT(c->p, MIG_ERROR, at, "quoted-interpolation",
                        "%s inside a dollar-quoted string is not an interpolation: it would stay the text "
                        "'%s'; pass the value from outside the quotes (in a function body: SELECT "
                        "set_config('mig.%s', ${%s}::text, true); before it, current_setting('mig.%s') "
                        "inside)", written, written, name, name, name);
        else
            MIG_DIAG_AT(c->p, MIG_ERROR, at, "quoted-interpolation",
                        "%s inside a string literal is not an interpolation: it would stay the text '%s'; "
                        "write ${%s} outside the quotes (for example 'a' || ${%s} || 'b'), which quotes the "
                        "value as a literal", written, written, name, name);
    }
}

/* Whether "${" occurs in s[0, len). */
static bool has_interp_open(const char *s, size_t len)
{
    for (const char *d = s, *end = s + len; (d = memchr(d, '$', (size_t)(end - d))); d++)
        if (d + 1 < end && d[1] == '{')
            return true;
    return false;
}

static void check_sql(struct tctx *c, struct mig_sql *first, const char *what)
{
    struct mig_program *p = c->p;
    for (struct mig_sql *q = first; q; q = q->next) {
        for (struct mig_sql *o = first; o != q; o = o->next)
            if (o->dialect == q->dialect) {
                struct mig_span at = q->dialect ? q->dialect_span : q->span;
                if (q->dialect)
                    MIG_DIAG_AT(p, MIG_ERROR, at, "duplicate-variant",
                                "a second '%s' SQL variant in one '%s' (line %u has the first)",
                                mig_dialect_name(q->dialect), what, mig_span_line(p, o->span));
                else
                    MIG_DIAG_AT(p, MIG_ERROR, at, "duplicate-variant",
                                "a second SQL variant without a dialect in one '%s' (line %u has the first)",
                                what, mig_span_line(p, o->span));
                break;
            }
        if (q->is_file && !q->text)
            load_sql_file(c, q);
        /* what the scans below look for all starts with "${" (an
         * interpolation, a malformed one, one inside quotes), but for an
         * unterminated literal, which a body cannot hold (the lexer found
         * its end with these rules): a body without "${" has nothing to
         * find, and most have none */
        if (!q->is_file && q->text && !has_interp_open(q->text, q->len))
            continue;
        /* the interpolations are found by the rules of the variant's
         * dialect (PostgreSQL's without one, as its body's end was); a
         * variant that may also run on SQLite is scanned again with
         * SQLite's quotes, for ${…} inside […] or `…` */
        unsigned rules = variant_rules(c, q);
        enum mig_sqlrules primary = q->dialect == MIG_D_SQLITE ? MIG_SQL_SQLITE : MIG_SQL_POSTGRES;
        struct offsets reported = { 0 };
        if (primary == MIG_SQL_POSTGRES && (rules & RULES_SQLITE)) {
            struct mig_sqltoken t;
            for (size_t pos = 0;; pos = t.end) {
                mig_sql_next_in(MIG_SQL_SQLITE, q->text, pos, q->len, &t);
                if (t.kind == SQLT_EOF || t.kind == SQLT_UNTERMINATED)
                    break;
                if (t.kind == SQLT_QIDENT && q->text[t.start] != '"')
                    check_quoted_interps(c, q, &t, (rules & RULES_PG) != 0, &reported);
            }
        }
        struct mig_sqltoken t;
        for (size_t pos = 0;; pos = t.end) {
            mig_sql_next_in(primary, q->text, pos, q->len, &t);
            if (t.kind == SQLT_EOF)
                break;
            struct mig_span at = { q->text_file, q->text_off + (uint32_t)t.start, q->text_off + (uint32_t)t.end };
            if (t.kind == SQLT_UNTERMINATED) {
                /* bodies were checked by the lexer; this is a `sql file` */
                MIG_DIAG_AT(p, MIG_ERROR, at, "unterminated-sql", "unterminated %s in SQL file", t.what);
                break;
            }
            if (t.kind == SQLT_STRING || t.kind == SQLT_QIDENT || t.kind == SQLT_DOLLAR) {
                check_quoted_interps(c, q, &t, false, &reported);
                continue;
            }
            if (t.kind == SQLT_BAD_INTERP) {
                MIG_DIAG_AT(p, MIG_ERROR, at, "syntax", "malformed interpolation: %s", t.what);
                continue;
            }
            if (t.kind != SQLT_INTERP)
                continue;
            struct mig_interp in;
            memset(&in, 0, sizeof(in));
            in.name = mig_arena_strndup(&p->arena, q->text + t.name_start, t.name_len);
            in.mode = t.mode;
            in.off = (uint32_t)t.start;
            in.len = (uint32_t)(t.end - t.start);
            in.span = at;
            in.sym = lookup_var(c, in.name, at);
            if (in.sym && in.mode == MIG_INTERP_IDENT && !compat(in.sym->type, MIG_T_STRING))
                MIG_DIAG_AT(p, MIG_ERROR, at, "type-mismatch",
                            "${%s:ident} quotes an identifier and needs a string, not %s",
                            in.name, mig_type_name(in.sym->type));
            if (in.mode == MIG_INTERP_RAW)
                MIG_DIAG_AT(p, MIG_WARNING, at, "raw-interpolation",
                            "${%s:raw} inserts the value verbatim into SQL, unquoted: "
                            "make sure it can never come from untrusted input", in.name);
            MIG_PUSH(&p->arena, q->interps, in);
        }
    }
}

static void check_migration(struct tctx *c, struct mig_migration *m)
{
    c->mig = m;
    c->params_visible = false;
    c->mig_limit = 0;
    for (size_t i = 0; i < m->params.n; i++) {
        struct mig_symbol *s = m->params.v[i];
        expect_type(c, s->init, s->type, "param", s->name);
    }
    c->params_visible = true;
    for (size_t i = 0; i < m->lets.n; i++) {
        struct mig_symbol *s = m->lets.v[i];
        c->mig_limit = s->span.start;
        if (s->has_type)
            expect_type(c, s->init, s->type, "let", s->name);
        else
            s->type = check_expr(c, s->init);
    }
    c->mig_limit = UINT32_MAX;
    for (size_t i = 0; i < m->requires.n; i++)
        check_cond(c, m->requires.v[i].expr, "require");
    for (size_t i = 0; i < m->phases.n; i++) {
        struct mig_phase *ph = m->phases.v[i];
        check_cond(c, ph->when, "when");
        for (size_t k = 0; k < ph->steps.n; k++) {
            struct mig_step *st = ph->steps.v[k];
            check_cond(c, st->when, "when");
            if (st->up)
                check_sql(c, st->up, "up");
            if (st->down)
                check_sql(c, st->down, "down");
            if (st->up_exec)
                check_exec(c, st->up_exec);
            if (st->down_exec)
                check_exec(c, st->down_exec);
            for (size_t j = 0; j < st->verify.n; j++)
                check_cond(c, st->verify.v[j].expr, "verify");
        }
        for (size_t k = 0; k < ph->asserts.n; k++)
            check_cond(c, ph->asserts.v[k].expr, "assert");
    }
    for (size_t i = 0; i < m->asserts.n; i++)
        check_cond(c, m->asserts.v[i].expr, "assert");
    c->mig = NULL;
}

void mig_check_types(struct mig_program *p)
{
    /* Imported files come after their importers in p->files: walk backwards
     * so that the types of imported lets are known when they are used. */
    for (size_t i = p->files.n; i-- > 0;) {
        struct mig_file *f = p->files.v[i];
        struct tctx c = { p, f, NULL, NULL, 0, UINT32_MAX, true };
        for (size_t k = 0; k < f->lets.n; k++) {
            struct mig_symbol *s = f->lets.v[k];
            c.file_limit = s->span.start;   /* each let sees the lets before it */
            if (s->has_type)
                expect_type(&c, s->init, s->type, "let", s->name);
            else
                s->type = check_expr(&c, s->init);
        }
    }
    for (size_t i = 0; i < p->files.n; i++) {
        struct mig_file *f = p->files.v[i];
        struct tctx c = { p, f, NULL, NULL, 0, UINT32_MAX, true };
        for (size_t k = 0; k < f->fns.n; k++) {
            struct mig_symbol *s = f->fns.v[k];
            c.file_limit = s->span.start;
            c.fn = s->fn;
            enum mig_type t = check_expr(&c, s->fn->body);
            if (!assignable(t, s->fn->ret))
                MIG_DIAG_AT(p, MIG_ERROR, s->fn->body->span, "type-mismatch",
                            "function '%s' is declared to return %s but its body is %s", s->name,
                            mig_type_name(s->fn->ret), mig_type_name(t));
        }
        if (!f->is_input)
            continue;
        c.fn = NULL;
        c.file_limit = UINT32_MAX;
        for (size_t k = 0; k < f->migrations.n; k++)
            check_migration(&c, f->migrations.v[k]);
    }
}
