/* codegen.c — generating the plan: constant pool, SQL templates with their
 * interpolations and checksums, checks, the phase/step tables, and the code
 * blocks (functions, file-level lets, each migration's prologue and body).
 * Forward jumps are emitted with a placeholder and patched at their label. */
#include "codegen.h"
#include "lib/strmap.h"
#include "runtime/opcodes.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct pending_poll {
    uint32_t check, migration;
    struct mig_expr *expr;
};

struct cg {
    struct mig_program *prog;
    struct mig_plan *plan;
    struct mig_arena *a;        /* the plan's arena */
    struct mig_strmap strings;  /* text → index+1 (as a pointer) */
    MIG_VEC(const char *) strv;
    MIG_VEC(uint32_t) strlen_v;
    MIG_VEC(struct mig_value) consts;
    MIG_VEC(struct mig_pquery) queries;
    MIG_VEC(struct mig_pcheck) checks;
    MIG_VEC(struct mig_pexec) execs;
    /* polled conditions waiting for their block (emitted after the block
     * being written, as blocks do not nest) */
    MIG_VEC(struct pending_poll) polls;
    MIG_VEC(struct mig_pfn) fns;
    MIG_VEC(uint32_t) globals;
    MIG_VEC(struct mig_pmigration) migs;
    MIG_VEC(struct mig_pphase) phases;
    MIG_VEC(struct mig_pstep) steps;
    MIG_VEC(struct mig_pblock) blocks;
    MIG_VEC(uint32_t) code;
    MIG_VEC(struct mig_pline) lines;
    struct mig_strmap fn_index;     /* struct mig_fn * (as key string) → index+1 */
    struct mig_strmap const_index;  /* "type:value" → index+1 */
    uint32_t cur_file, cur_line;
    uint32_t cur_migration;     /* of the block being written */
};

static uint32_t str_n(struct cg *g, const char *s, size_t n)
{
    char *key = mig_arena_strndup(g->a, s, n);
    void *v = mig_strmap_get(&g->strings, key);
    if (v)
        return (uint32_t)((uintptr_t)v - 1);
    uint32_t i = (uint32_t)g->strv.n;
    MIG_PUSH(g->a, g->strv, key);
    MIG_PUSH(g->a, g->strlen_v, (uint32_t)n);
    mig_strmap_put(&g->strings, key, (void *)(uintptr_t)(i + 1));
    return i;
}

static uint32_t str(struct cg *g, const char *s)
{
    return s ? str_n(g, s, strlen(s)) : MIG_NONE;
}

static uint32_t file_str(struct cg *g, struct mig_span sp)
{
    return str(g, mig_source_get(&g->prog->sources, sp.file)->path);
}

static uint32_t line_of(struct cg *g, struct mig_span sp)
{
    return mig_span_line(g->prog, sp);
}

static const char *span_text(struct cg *g, struct mig_span sp)
{
    struct mig_source *s = mig_source_get(&g->prog->sources, sp.file);
    return mig_arena_strndup(g->a, s->text + sp.start, sp.end - sp.start);
}

/* ---- code emission ------------------------------------------------------ */

static void mark_line(struct cg *g, struct mig_span sp)
{
    uint32_t file = file_str(g, sp), line = line_of(g, sp);
    if (file == g->cur_file && line == g->cur_line)
        return;
    g->cur_file = file;
    g->cur_line = line;
    struct mig_pline l = { (uint32_t)g->code.n, file, line };
    if (g->lines.n && g->lines.v[g->lines.n - 1].addr == l.addr)
        g->lines.v[g->lines.n - 1] = l;
    else
        MIG_PUSH(g->a, g->lines, l);
}

static uint32_t emit(struct cg *g, enum mig_opcode op, ...)
{
    uint32_t at = (uint32_t)g->code.n;
    MIG_PUSH(g->a, g->code, (uint32_t)op);
    va_list ap;
    va_start(ap, op);
    for (int i = 0; i < mig_opinfo[op].nops; i++)
        MIG_PUSH(g->a, g->code, va_arg(ap, uint32_t));
    va_end(ap);
    return at;
}

/* Patches operand k of the instruction at `at` to the current address. */
static void patch_here(struct cg *g, uint32_t at, int k)
{
    g->code.v[at + 1 + k] = (uint32_t)g->code.n;
}

static uint32_t begin_block(struct cg *g, enum mig_blockkind kind, uint32_t owner)
{
    struct mig_pblock b = { (uint8_t)kind, owner, (uint32_t)g->code.n, 0, 0 };
    MIG_PUSH(g->a, g->blocks, b);
    g->cur_file = g->cur_line = MIG_NONE;
    return (uint32_t)g->blocks.n - 1;
}

static void end_block(struct cg *g, uint32_t b)
{
    g->blocks.v[b].end = (uint32_t)g->code.n;
}

static uint32_t konst(struct cg *g, struct mig_value v)
{
    /* strings are pool indexes here (v.i), so (type, i) identifies a value */
    char key[48];
    snprintf(key, sizeof(key), "%d:%lld", (int)v.t, (long long)v.i);
    void *old = mig_strmap_get(&g->const_index, key);
    if (old)
        return (uint32_t)((uintptr_t)old - 1);
    MIG_PUSH(g->a, g->consts, v);
    mig_strmap_put(&g->const_index, mig_arena_strdup(g->a, key), (void *)(uintptr_t)g->consts.n);
    return (uint32_t)g->consts.n - 1;
}

static enum mig_vtype vtype(enum mig_type t)
{
    switch (t) {
    case MIG_T_INT: return MIG_V_INT;
    case MIG_T_STRING: return MIG_V_STRING;
    case MIG_T_BOOL: return MIG_V_BOOL;
    case MIG_T_DURATION: return MIG_V_DURATION;
    case MIG_T_FLOAT: return MIG_V_FLOAT;
    case MIG_T_NULL: case MIG_T_ANY: break;
    }
    return MIG_V_NULL;
}

/* ---- SQL ------------------------------------------------------------------ */

static void var_ref(struct mig_symbol *s, uint8_t *kind, uint32_t *index)
{
    switch (s->kind) {
    case MIG_SYM_FNPARAM: *kind = MIG_VAR_ARG; break;
    case MIG_SYM_PARAM: *kind = MIG_VAR_SLOT; break;
    default: *kind = s->global ? MIG_VAR_GLOBAL : MIG_VAR_SLOT; break;
    }
    *index = s->index;
}

static uint32_t query(struct cg *g, const struct mig_sql *first)
{
    struct mig_pquery q = { 0, NULL };
    for (const struct mig_sql *s = first; s; s = s->next)
        q.nvariants++;
    q.v = mig_arena_alloc(g->a, q.nvariants * sizeof(*q.v));
    uint32_t i = 0;
    for (const struct mig_sql *s = first; s; s = s->next, i++) {
        struct mig_pvariant *v = &q.v[i];
        v->dialect = (uint8_t)s->dialect;
        v->text = str_n(g, s->text, s->len);
        mig_sha256(s->text, s->len, v->sha256);
        struct mig_source *src = mig_source_get(&g->prog->sources, s->text_file);
        unsigned line;
        mig_source_linecol(src, s->text_off, &line, NULL);
        v->file = str(g, src->path);
        v->line = line;
        v->ninterps = (uint32_t)s->interps.n;
        v->interps = mig_arena_alloc(g->a, (v->ninterps ? v->ninterps : 1) * sizeof(*v->interps));
        for (size_t k = 0; k < s->interps.n; k++) {
            const struct mig_interp *in = &s->interps.v[k];
            struct mig_pinterp *o = &v->interps[k];
            o->off = in->off;
            o->len = in->len;
            o->mode = (uint8_t)in->mode;
            o->name = str(g, in->name);
            var_ref(in->sym, &o->kind, &o->index);
        }
    }
    MIG_PUSH(g->a, g->queries, q);
    return (uint32_t)g->queries.n - 1;
}

static uint32_t check(struct cg *g, enum mig_checkkind kind, const struct mig_cond *c, uint32_t mi)
{
    struct mig_pcheck k = { (uint8_t)kind, str(g, c->msg), str(g, span_text(g, c->expr->span)),
                            file_str(g, c->span), line_of(g, c->span), MIG_NONE, 0, 0 };
    if (c->poll) {
        k.within_ms = c->within_ms;
        k.every_ms = c->every_ms;
        struct pending_poll pp = { (uint32_t)g->checks.n, mi, c->expr };
        MIG_PUSH(g->a, g->polls, pp);
    }
    MIG_PUSH(g->a, g->checks, k);
    return (uint32_t)g->checks.n - 1;
}

/* The source text of an exec without its layout: comments dropped, white
 * space kept only as one space between two word characters, strings as
 * written. Its checksum does not change when `migc fmt` (or a person)
 * re-indents the command, as a SQL body's does not. */
static const char *exec_canonical(struct cg *g, const struct mig_exec *x, size_t *len)
{
    struct mig_source *src = mig_source_get(&g->prog->sources, x->span.file);
    const char *t = src->text + x->span.start;
    size_t n = x->span.end - x->span.start, k = 0;
    char *out = mig_arena_alloc(&g->prog->arena, n + 1);
    bool gap = false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (c == '"') {     /* a string, escapes and all */
            size_t j = i + 1;
            while (j < n && t[j] != '"')
                j += t[j] == '\\' && j + 1 < n ? 2 : 1;
            j = j < n ? j + 1 : n;
            memcpy(out + k, t + i, j - i);
            k += j - i;
            i = j - 1;
            gap = false;
            continue;
        }
        if (c == '#') {
            while (i + 1 < n && t[i + 1] != '\n')
                i++;
            gap = true;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            gap = true;
            continue;
        }
        bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (gap && word && k > 0) {
            char p = out[k - 1];
            if ((p >= 'a' && p <= 'z') || (p >= 'A' && p <= 'Z') || (p >= '0' && p <= '9') || p == '_')
                out[k++] = ' ';
        }
        gap = false;
        out[k++] = c;
    }
    *len = k;
    return out;
}

/* An exec's table entry: its argv and env names as written, its options,
 * where it is, and the checksum of its source text. */
static uint32_t exec_entry(struct cg *g, const struct mig_exec *x, uint32_t block)
{
    struct mig_pexec e;
    memset(&e, 0, sizeof(e));
    e.block = block;
    e.nargv = (uint32_t)x->argv.n;
    e.argv_text = mig_arena_alloc(g->a, (x->argv.n + 1) * sizeof(*e.argv_text));
    for (size_t i = 0; i < x->argv.n; i++)
        e.argv_text[i] = str(g, span_text(g, x->argv.v[i]->span));
    e.nenv = (uint32_t)x->env.n;
    e.env_names = mig_arena_alloc(g->a, (x->env.n + 1) * sizeof(*e.env_names));
    for (size_t i = 0; i < x->env.n; i++)
        e.env_names[i] = str(g, x->env.v[i].name.text);
    e.has_cwd = x->cwd != NULL;
    e.output = x->output;
    e.timeout_ms = x->timeout_ms;
    e.file = file_str(g, x->span);
    e.line = line_of(g, x->span);
    size_t n;
    const char *canon = exec_canonical(g, x, &n);
    mig_sha256(canon, n, e.sha256);
    MIG_PUSH(g->a, g->execs, e);
    return (uint32_t)g->execs.n - 1;
}

/* ---- expressions ---------------------------------------------------------- */

static uint32_t fn_index(struct cg *g, struct mig_fn *f)
{
    char key[32];
    snprintf(key, sizeof(key), "%p", (void *)f);
    return (uint32_t)((uintptr_t)mig_strmap_get(&g->fn_index, key) - 1);
}

static void cg_expr(struct cg *g, struct mig_expr *e);

/* The values of a command, in the order of struct mig_pexec: argv, env, cwd. */
static uint32_t cg_exec_values(struct cg *g, const struct mig_exec *x)
{
    for (size_t i = 0; i < x->argv.n; i++)
        cg_expr(g, x->argv.v[i]);
    for (size_t i = 0; i < x->env.n; i++)
        cg_expr(g, x->env.v[i].value);
    if (x->cwd)
        cg_expr(g, x->cwd);
    return (uint32_t)(x->argv.n + x->env.n + (x->cwd != NULL));
}

static void cg_expr(struct cg *g, struct mig_expr *e)
{
    mark_line(g, e->span);
    struct mig_value v = { MIG_V_NULL, 0, NULL, 0 };
    switch (e->kind) {
    case MIG_E_INT: v.t = MIG_V_INT; v.i = e->u.ival; break;
    case MIG_E_FLOAT: v = mig_vmkfloat(e->u.fval); break;
    case MIG_E_EXEC: {
        uint32_t n = cg_exec_values(g, e->u.exec);
        mark_line(g, e->span);
        emit(g, e->u.exec->output ? OP_OUTPUT_EXEC : OP_EXEC, exec_entry(g, e->u.exec, MIG_NONE), n);
        return;
    }
    case MIG_E_BOOL: v.t = MIG_V_BOOL; v.i = e->u.ival; break;
    case MIG_E_DURATION: v.t = MIG_V_DURATION; v.i = e->u.ival; break;
    case MIG_E_NULL: break;
    case MIG_E_STRING: {
        uint32_t s = str_n(g, e->u.str.s, e->u.str.n);
        v.t = MIG_V_STRING;
        v.i = s;    /* resolved to the pool text when the plan is finished */
        break;
    }
    case MIG_E_NAME: {
        uint8_t kind;
        uint32_t index;
        var_ref(e->u.ref.sym, &kind, &index);
        emit(g, kind == MIG_VAR_GLOBAL ? OP_LOAD_GLOBAL : kind == MIG_VAR_SLOT ? OP_LOAD_SLOT : OP_LOAD_ARG,
             index);
        return;
    }
    case MIG_E_CALL:
        for (size_t i = 0; i < e->u.ref.args.n; i++) {
            cg_expr(g, e->u.ref.args.v[i]);
            /* an int passed where a float is declared becomes one */
            if (e->u.ref.builtin == MIG_B_NONE && e->u.ref.sym->fn->params.v[i]->type == MIG_T_FLOAT &&
                e->u.ref.args.v[i]->type == MIG_T_INT)
                emit(g, OP_BUILTIN, (uint32_t)MIG_B_FLOAT, 1u);
        }
        mark_line(g, e->span);
        if (e->u.ref.builtin != MIG_B_NONE)
            emit(g, OP_BUILTIN, (uint32_t)e->u.ref.builtin, (uint32_t)e->u.ref.args.n);
        else
            emit(g, OP_CALL, fn_index(g, e->u.ref.sym->fn), (uint32_t)e->u.ref.args.n);
        return;
    case MIG_E_NOT:
        cg_expr(g, e->u.sub);
        emit(g, OP_NOT);
        return;
    case MIG_E_NEG:
        cg_expr(g, e->u.sub);
        emit(g, OP_NEG);
        return;
    case MIG_E_BINARY: {
        /* a left-leaning chain (a + b + c + …, tens of thousands long in a
         * generated file) is walked in a loop, not by recursion, so its
         * length never exhausts the stack; the code is the same */
        size_t n = 0;
        struct mig_expr *x = e;
        for (; x->kind == MIG_E_BINARY; x = x->u.bin.l)
            n++;
        struct mig_expr **spine = mig_arena_alloc(&g->prog->arena, n * sizeof(*spine));
        n = 0;
        for (x = e; x->kind == MIG_E_BINARY; x = x->u.bin.l) {
            if (n)
                mark_line(g, x->span);
            spine[n++] = x;
        }
        /* "a" + "b" + … of string literals at the chain's start is folded
         * into one constant, built in one buffer (linear in its length) */
        size_t folded = 0, total = x->kind == MIG_E_STRING ? x->u.str.n : 0;
        while (x->kind == MIG_E_STRING && folded < n && spine[n - 1 - folded]->u.bin.op == MIG_OP_ADD &&
               spine[n - 1 - folded]->u.bin.r->kind == MIG_E_STRING)
            total += spine[n - 1 - folded++]->u.bin.r->u.str.n;
        if (folded) {
            char *buf = mig_arena_alloc(&g->prog->arena, total + 1);
            size_t at = x->u.str.n;
            memcpy(buf, x->u.str.s, at);
            for (size_t k = 0; k < folded; k++) {
                const struct mig_expr *r = spine[n - 1 - k]->u.bin.r;
                memcpy(buf + at, r->u.str.s, r->u.str.n);
                at += r->u.str.n;
            }
            mark_line(g, x->span);
            struct mig_value joined = { MIG_V_STRING, str_n(g, buf, total), NULL, 0 };
            emit(g, OP_CONST, konst(g, joined));
            n -= folded;
        } else {
            cg_expr(g, x);
        }
        static const enum mig_opcode ops[] = {
            [MIG_OP_EQ] = OP_EQ, [MIG_OP_NE] = OP_NE, [MIG_OP_LT] = OP_LT, [MIG_OP_LE] = OP_LE,
            [MIG_OP_GT] = OP_GT, [MIG_OP_GE] = OP_GE, [MIG_OP_ADD] = OP_ADD, [MIG_OP_SUB] = OP_SUB,
            [MIG_OP_MUL] = OP_MUL, [MIG_OP_DIV] = OP_DIV, [MIG_OP_MOD] = OP_MOD,
        };
        while (n-- > 0) {
            struct mig_expr *b = spine[n];
            enum mig_binop op = b->u.bin.op;
            if (op == MIG_OP_AND || op == MIG_OP_OR) {
                uint32_t j = emit(g, op == MIG_OP_AND ? OP_AND_JUMP : OP_OR_JUMP, 0u);
                cg_expr(g, b->u.bin.r);
                patch_here(g, j, 0);
                continue;
            }
            cg_expr(g, b->u.bin.r);
            mark_line(g, b->op_span);
            emit(g, ops[op]);
        }
        return;
    }
    case MIG_E_EXISTS:
        emit(g, OP_EXISTS, query(g, e->u.sql));
        return;
    case MIG_E_SCALAR:
        emit(g, OP_SCALAR, query(g, e->u.sql));
        return;
    }
    emit(g, OP_CONST, konst(g, v));
}

/* A require, verify or assert: its condition (evaluated once, or polled
 * from a block of its own), then op with its check. */
static void cg_cond(struct cg *g, const struct mig_cond *c, enum mig_checkkind kind, enum mig_opcode op)
{
    if (c->poll) {
        uint32_t k = check(g, kind, c, g->cur_migration);
        mark_line(g, c->span);
        emit(g, OP_POLL, k);
        emit(g, op, k);
        return;
    }
    cg_expr(g, c->expr);
    mark_line(g, c->span);
    emit(g, op, check(g, kind, c, g->cur_migration));
}

/* verify/assert conditions: behind a CHECKS jump, so that a read-only
 * plan can skip them (nothing ran for them to check). */
static void cg_checks(struct cg *g, const struct mig_cond *c, size_t n, enum mig_checkkind kind)
{
    if (n == 0)
        return;
    uint32_t j = emit(g, OP_CHECKS, 0u);
    for (size_t k = 0; k < n; k++)
        cg_cond(g, &c[k], kind, kind == MIG_CHECK_VERIFY ? OP_VERIFY : OP_ASSERT);
    patch_here(g, j, 0);
}

/* A value stored under a declared type whose expression is only known at
 * run time (a scalar query) is checked when it is stored. */
static void cg_typed(struct cg *g, struct mig_expr *e, enum mig_type declared, bool has_type)
{
    if (has_type && declared == MIG_T_FLOAT && e->kind == MIG_E_INT) {
        mark_line(g, e->span);
        emit(g, OP_CONST, konst(g, mig_vmkfloat((double)e->u.ival)));   /* 2 stored as a float is 2.0 */
        return;
    }
    cg_expr(g, e);
    if (has_type && e->type == MIG_T_ANY)
        emit(g, OP_CHECK_TYPE, (uint32_t)vtype(declared));
    else if (has_type && declared == MIG_T_FLOAT && e->type == MIG_T_INT)
        emit(g, OP_BUILTIN, (uint32_t)MIG_B_FLOAT, 1u);     /* an int stored as a float becomes one */
}

/* The blocks of the conditions polled in the block just ended. */
static void flush_polls(struct cg *g)
{
    for (size_t i = 0; i < g->polls.n; i++) {
        const struct pending_poll *pp = &g->polls.v[i];
        uint32_t b = begin_block(g, MIG_BLOCK_POLL, pp->migration);
        cg_expr(g, pp->expr);
        emit(g, OP_RET);
        end_block(g, b);
        g->checks.v[pp->check].poll_block = b;
    }
    g->polls.n = 0;
}

/* An exec action of a step: its block computes the values and ends in ARGS. */
static uint32_t cg_exec_action(struct cg *g, const struct mig_exec *x, uint32_t mi)
{
    uint32_t b = begin_block(g, MIG_BLOCK_EXEC, mi);
    uint32_t e = exec_entry(g, x, b);
    mark_line(g, x->span);
    uint32_t n = cg_exec_values(g, x);
    mark_line(g, x->span);
    emit(g, OP_ARGS, e, n);
    end_block(g, b);
    return e;
}

/* ---- blocks --------------------------------------------------------------- */

static void cg_fn(struct cg *g, struct mig_fn *f, uint32_t index)
{
    uint32_t b = begin_block(g, MIG_BLOCK_FN, index);
    g->fns.v[index].block = b;
    cg_typed(g, f->body, f->ret, true);
    emit(g, OP_RET);
    end_block(g, b);
}

static void cg_migration(struct cg *g, struct mig_migration *m, uint32_t mi)
{
    struct mig_pmigration pm;
    memset(&pm, 0, sizeof(pm));
    pm.name = str(g, m->name);
    pm.title = str(g, m->title);
    pm.file = file_str(g, m->span);
    pm.line = line_of(g, m->span);
    pm.ntargets = (uint32_t)m->targets.n;
    pm.targets = mig_arena_alloc(g->a, (m->targets.n + 1) * sizeof(*pm.targets));
    for (size_t i = 0; i < m->targets.n; i++) {
        pm.targets[i].dialect = (uint8_t)m->targets.v[i].dialect;
        pm.targets[i].min_version = m->targets.v[i].min_version;
    }
    pm.nafter = (uint32_t)m->after.n;
    pm.after = mig_arena_alloc(g->a, (m->after.n + 1) * sizeof(*pm.after));
    for (size_t i = 0; i < m->after.n; i++)
        pm.after[i] = str(g, m->after.v[i].text);
    pm.nparams = (uint32_t)m->params.n;
    pm.params = mig_arena_alloc(g->a, (m->params.n + 1) * sizeof(*pm.params));
    uint32_t slot = 0;
    for (size_t i = 0; i < m->params.n; i++) {
        struct mig_symbol *s = m->params.v[i];
        s->index = slot++;
        pm.params[i].name = str(g, s->name);
        pm.params[i].type = (uint8_t)vtype(s->type);
        pm.params[i].slot = s->index;
    }
    for (size_t i = 0; i < m->lets.n; i++)
        m->lets.v[i]->index = slot++;
    pm.nslots = slot;

    /* prologue: params, lets, requires */
    g->cur_migration = mi;
    pm.prologue = begin_block(g, MIG_BLOCK_PROLOGUE, mi);
    for (size_t i = 0; i < m->params.n; i++) {
        struct mig_symbol *s = m->params.v[i];
        mark_line(g, s->span);
        uint32_t j = emit(g, OP_PARAM, s->index, 0u);
        cg_typed(g, s->init, s->type, true);
        emit(g, OP_STORE_SLOT, s->index);
        patch_here(g, j, 1);
    }
    for (size_t i = 0; i < m->lets.n; i++) {
        struct mig_symbol *s = m->lets.v[i];
        cg_typed(g, s->init, s->type, s->has_type);
        emit(g, OP_STORE_SLOT, s->index);
    }
    for (size_t i = 0; i < m->requires.n; i++)
        cg_cond(g, &m->requires.v[i], MIG_CHECK_REQUIRE, OP_REQUIRE);
    emit(g, OP_HALT);
    end_block(g, pm.prologue);
    flush_polls(g);

    /* body: phases and steps */
    pm.first_phase = (uint32_t)g->phases.n;
    pm.nphases = (uint32_t)m->phases.n;
    for (size_t i = 0; i < m->phases.n; i++) {
        struct mig_phase *ph = m->phases.v[i];
        struct mig_pphase pp;
        memset(&pp, 0, sizeof(pp));
        pp.name = str(g, ph->name);
        pp.title = str(g, ph->title);
        pp.migration = mi;
        pp.file = file_str(g, ph->span);
        pp.line = line_of(g, ph->span);
        pp.txn = (uint8_t)(ph->txn == MIG_TXN_DEFAULT ? MIG_TXN_PHASE : ph->txn);
        pp.implicit = ph->implicit;
        pp.timeout_ms = ph->timeout_ms;
        pp.lock_timeout_ms = ph->lock_timeout_ms;
        pp.retry = ph->retry;
        pp.retry_every_ms = ph->retry_every_ms;
        pp.first_step = (uint32_t)g->steps.n;
        pp.nsteps = (uint32_t)ph->steps.n;
        for (size_t k = 0; k < ph->steps.n; k++) {
            struct mig_step *st = ph->steps.v[k];
            struct mig_pstep ps;
            memset(&ps, 0, sizeof(ps));
            ps.name = str(g, st->name);
            ps.title = str(g, st->title);
            ps.migration = mi;
            ps.phase = (uint32_t)g->phases.n;
            ps.file = file_str(g, st->span);
            ps.line = line_of(g, st->span);
            ps.up = st->up ? query(g, st->up) : MIG_NONE;
            ps.up_kind = st->up_exec ? MIG_ACTION_EXEC : MIG_ACTION_SQL;
            ps.up_exec = st->up_exec ? cg_exec_action(g, st->up_exec, mi) : MIG_NONE;
            ps.down = st->down ? query(g, st->down) : MIG_NONE;
            ps.down_exec = st->down_exec ? cg_exec_action(g, st->down_exec, mi) : MIG_NONE;
            ps.down_kind = st->down_irreversible ? MIG_DOWN_IRREVERSIBLE : st->down_none ? MIG_DOWN_NONE
                         : st->down_exec ? MIG_DOWN_EXEC : MIG_DOWN_SQL;
            ps.down_flags = (uint8_t)((st->down_optional ? MIG_DOWN_OPTIONAL : 0) |
                                      (st->down_restores ? MIG_DOWN_RESTORES : 0));
            ps.irreversible = st->down_irreversible ? str(g, st->irreversible_why) : MIG_NONE;
            ps.none_reason = st->down_none ? str(g, st->none_why) : MIG_NONE;
            ps.batch = st->batch;
            ps.batch_max = st->batch_max;
            MIG_PUSH(g->a, g->steps, ps);
        }
        MIG_PUSH(g->a, g->phases, pp);
    }
    pm.body = begin_block(g, MIG_BLOCK_BODY, mi);
    for (size_t i = 0; i < m->phases.n; i++) {
        struct mig_phase *ph = m->phases.v[i];
        uint32_t pi = pm.first_phase + (uint32_t)i;
        mark_line(g, ph->span);
        uint32_t jp = emit(g, OP_PHASE, pi, 0u), jw = MIG_NONE;
        if (ph->when) {
            cg_expr(g, ph->when);
            jw = emit(g, OP_PHASE_WHEN, pi, 0u);
        }
        emit(g, OP_TXN_BEGIN, pi);
        for (size_t k = 0; k < ph->steps.n; k++) {
            struct mig_step *st = ph->steps.v[k];
            uint32_t si = g->phases.v[pi].first_step + (uint32_t)k;
            mark_line(g, st->span);
            uint32_t js = emit(g, OP_STEP, si, 0u), jsw = MIG_NONE;
            if (st->when) {
                cg_expr(g, st->when);
                jsw = emit(g, OP_STEP_WHEN, si, 0u);
            }
            mark_line(g, st->up_span);
            emit(g, OP_UP, si);
            cg_checks(g, st->verify.v, st->verify.n, MIG_CHECK_VERIFY);
            mark_line(g, st->span);
            emit(g, OP_STEP_END, si);
            patch_here(g, js, 1);
            if (jsw != MIG_NONE)
                patch_here(g, jsw, 1);
        }
        cg_checks(g, ph->asserts.v, ph->asserts.n, MIG_CHECK_ASSERT);
        mark_line(g, ph->span);
        emit(g, OP_TXN_COMMIT, pi);
        emit(g, OP_PHASE_END, pi);
        patch_here(g, jp, 1);
        if (jw != MIG_NONE)
            patch_here(g, jw, 1);
    }
    cg_checks(g, m->asserts.v, m->asserts.n, MIG_CHECK_ASSERT);
    emit(g, OP_HALT);
    end_block(g, pm.body);
    flush_polls(g);
    g->migs.v[mi] = pm;
}

struct mig_plan *mig_codegen(struct mig_program *prog)
{
    struct mig_plan *plan = calloc(1, sizeof(*plan));
    if (!plan) {
        fputs("fatal: out of memory\n", stderr);
        abort();
    }
    struct cg g;
    memset(&g, 0, sizeof(g));
    g.prog = prog;
    g.plan = plan;
    g.a = &plan->arena;
    g.strings.arena = g.a;
    g.fn_index.arena = g.a;
    g.const_index.arena = g.a;

    /* indexes: every fn and file-level let of every file */
    for (size_t i = 0; i < prog->files.n; i++) {
        struct mig_file *f = prog->files.v[i];
        for (size_t k = 0; k < f->fns.n; k++) {
            struct mig_fn *fn = f->fns.v[k]->fn;
            char key[32];
            snprintf(key, sizeof(key), "%p", (void *)fn);
            mig_strmap_put(&g.fn_index, mig_arena_strdup(g.a, key), (void *)(uintptr_t)(g.fns.n + 1));
            const char *name = f->module ? mig_arena_printf(g.a, "%s.%s", f->module, fn->sym->name)
                                         : fn->sym->name;
            struct mig_pfn pf = { str(&g, name), (uint32_t)fn->params.n, 0 };
            MIG_PUSH(g.a, g.fns, pf);
        }
        for (size_t k = 0; k < f->lets.n; k++) {
            struct mig_symbol *s = f->lets.v[k];
            s->global = true;
            s->index = (uint32_t)g.globals.n;
            MIG_PUSH(g.a, g.globals, str(&g, s->name));
        }
    }
    for (size_t i = 0; i < prog->order.n; i++) {
        struct mig_pmigration empty;
        memset(&empty, 0, sizeof(empty));
        MIG_PUSH(g.a, g.migs, empty);
    }
    /* file-level lets, imported files first (as the checker typed them) */
    uint32_t gb = begin_block(&g, MIG_BLOCK_GLOBALS, 0);
    for (size_t i = prog->files.n; i-- > 0;) {
        struct mig_file *f = prog->files.v[i];
        for (size_t k = 0; k < f->lets.n; k++) {
            struct mig_symbol *s = f->lets.v[k];
            cg_typed(&g, s->init, s->type, s->has_type);
            emit(&g, OP_STORE_GLOBAL, s->index);
        }
    }
    emit(&g, OP_HALT);
    end_block(&g, gb);
    plan->globals_block = gb;
    uint32_t fi = 0;
    for (size_t i = 0; i < prog->files.n; i++)
        for (size_t k = 0; k < prog->files.v[i]->fns.n; k++)
            cg_fn(&g, prog->files.v[i]->fns.v[k]->fn, fi++);
    for (size_t i = 0; i < prog->order.n; i++)
        cg_migration(&g, prog->order.v[i], (uint32_t)i);

    plan->nstrings = (uint32_t)g.strv.n;
    plan->strings = g.strv.v;
    plan->string_len = g.strlen_v.v;
    for (size_t i = 0; i < g.consts.n; i++)
        if (g.consts.v[i].t == MIG_V_STRING) {
            uint32_t s = (uint32_t)g.consts.v[i].i;
            g.consts.v[i].s = plan->strings[s];
            g.consts.v[i].n = plan->string_len[s];
        }
    plan->nconsts = (uint32_t)g.consts.n;
    plan->consts = g.consts.v;
    plan->nqueries = (uint32_t)g.queries.n;
    plan->queries = g.queries.v;
    plan->nchecks = (uint32_t)g.checks.n;
    plan->checks = g.checks.v;
    plan->nexecs = (uint32_t)g.execs.n;
    plan->execs = g.execs.v;
    plan->nfns = (uint32_t)g.fns.n;
    plan->fns = g.fns.v;
    plan->nglobals = (uint32_t)g.globals.n;
    plan->global_names = g.globals.v;
    plan->nmigrations = (uint32_t)g.migs.n;
    plan->migrations = g.migs.v;
    plan->nphases = (uint32_t)g.phases.n;
    plan->phases = g.phases.v;
    plan->nsteps = (uint32_t)g.steps.n;
    plan->steps = g.steps.v;
    plan->nblocks = (uint32_t)g.blocks.n;
    plan->blocks = g.blocks.v;
    plan->ncode = (uint32_t)g.code.n;
    plan->code = g.code.v;
    plan->nlines = (uint32_t)g.lines.n;
    plan->lines = g.lines.v;
    return plan;
}
