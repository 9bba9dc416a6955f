/* verify.c — the loader's verifier: every index in bounds, every block a
 * clean sequence of instructions ending in HALT or RET, every jump on an
 * instruction of its own block, every operand checked by its kind (the
 * opcode table's, not code per opcode), and a consistent stack depth at
 * every instruction. A plan that passes can
 * be run without bounds checks in the VM's hot path. */
#include "plan.h"
#include "opcodes.h"
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct vctx {
    struct mig_plan *p;
    char *err;
    size_t errlen;
};

static int fail(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct vctx *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(v->err, v->errlen, "invalid bytecode: ");
    if (n >= 0 && (size_t)n < v->errlen)
        vsnprintf(v->err + n, v->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

#define STR_OK(x) ((x) < p->nstrings)
#define OPT_STR_OK(x) ((x) == MIG_NONE || (x) < p->nstrings)

/* Variables a query may use from a block: nslots (migration) and nargs (fn). */
static int check_query(struct vctx *v, uint32_t q, uint32_t nslots, uint32_t nargs, const char *where)
{
    struct mig_plan *p = v->p;
    if (q >= p->nqueries)
        return fail(v, "%s: query %u of %u", where, q, p->nqueries);
    const struct mig_pquery *qq = &p->queries[q];
    if (qq->nvariants == 0)
        return fail(v, "%s: query %u has no SQL", where, q);
    for (uint32_t i = 0; i < qq->nvariants; i++) {
        const struct mig_pvariant *var = &qq->v[i];
        if (var->dialect > MIG_D_SQLITE || !STR_OK(var->text) || !STR_OK(var->file))
            return fail(v, "%s: query %u variant %u is malformed", where, q, i);
        for (uint32_t k = 0; k < i; k++)
            if (qq->v[k].dialect == var->dialect)
                return fail(v, "%s: query %u has two variants for one dialect", where, q);
        uint32_t tl = p->string_len[var->text], prev_end = 0;
        for (uint32_t j = 0; j < var->ninterps; j++) {
            const struct mig_pinterp *in = &var->interps[j];
            if (in->off < prev_end || in->len < 3 || in->off > tl || in->len > tl - in->off ||
                in->mode > 2 || !STR_OK(in->name))
                return fail(v, "%s: interpolation %u of query %u is malformed", where, j, q);
            prev_end = in->off + in->len;
            uint32_t limit = in->kind == MIG_VAR_GLOBAL ? p->nglobals : in->kind == MIG_VAR_SLOT ? nslots
                           : in->kind == MIG_VAR_ARG ? nargs : 0;
            if (in->index >= limit)
                return fail(v, "%s: interpolation ${%s} of query %u refers to a variable out of range",
                            where, p->strings[in->name], q);
        }
    }
    return 0;
}

/* An exec action of a step of migration m: its block computes its values. */
static int check_exec_action(struct vctx *v, uint32_t e, uint32_t m, uint32_t step)
{
    struct mig_plan *p = v->p;
    if (e >= p->nexecs || p->execs[e].block == MIG_NONE || p->blocks[p->execs[e].block].owner != m)
        return fail(v, "step %u has a malformed exec action", step);
    return 0;
}

/* The up and down of a step: each half is of one kind, with exactly the
 * fields of that kind set. */
static int check_step_kinds(struct vctx *v, const struct mig_pstep *s, uint32_t m, uint32_t si)
{
    bool up_ok = s->up_kind == MIG_ACTION_SQL ? s->up != MIG_NONE && s->up_exec == MIG_NONE
               : s->up_kind == MIG_ACTION_EXEC ? s->up == MIG_NONE && s->up_exec != MIG_NONE && !s->batch
               : false;
    bool has_reason = s->down_kind == MIG_DOWN_IRREVERSIBLE || s->down_kind == MIG_DOWN_NONE;
    bool down_ok = s->down_kind <= MIG_DOWN_NONE &&
                   (s->down != MIG_NONE) == (s->down_kind == MIG_DOWN_SQL) &&
                   (s->down_exec != MIG_NONE) == (s->down_kind == MIG_DOWN_EXEC) &&
                   (s->irreversible != MIG_NONE) == (s->down_kind == MIG_DOWN_IRREVERSIBLE) &&
                   (s->none_reason != MIG_NONE) == (s->down_kind == MIG_DOWN_NONE) &&
                   (s->down_flags & ~(MIG_DOWN_OPTIONAL | MIG_DOWN_RESTORES)) == 0 &&
                   (!has_reason || s->down_flags == 0);
    if (!up_ok || !down_ok)
        return fail(v, "step %u has malformed up or down kinds", si);
    if (s->up_exec != MIG_NONE && check_exec_action(v, s->up_exec, m, si) != 0)
        return -1;
    if (s->down_exec != MIG_NONE && check_exec_action(v, s->down_exec, m, si) != 0)
        return -1;
    return 0;
}

static int verify_tables(struct vctx *v)
{
    struct mig_plan *p = v->p;
    for (uint32_t i = 0; i < p->nconsts; i++) {
        const struct mig_value *c = &p->consts[i];
        if (c->t >= MIG_V__COUNT || (c->t == MIG_V_BOOL && (c->i & ~1LL)) ||
            (c->t == MIG_V_FLOAT && !isfinite(mig_vfloat(c))))
            return fail(v, "constant %u is malformed", i);
    }
    /* blocks of conditions and exec actions belong to exactly one check or exec */
    unsigned char *used = calloc(p->nblocks + 1, 1);
    if (!used)
        return fail(v, "out of memory");
    for (uint32_t i = 0; i < p->nchecks; i++) {
        const struct mig_pcheck *c = &p->checks[i];
        bool poll_ok = c->poll_block == MIG_NONE
            ? c->within_ms == 0 && c->every_ms == 0
            : c->poll_block < p->nblocks && p->blocks[c->poll_block].kind == MIG_BLOCK_POLL &&
              !used[c->poll_block] && c->within_ms >= 0 && c->every_ms > 0;
        if (c->kind > MIG_CHECK_ASSERT || !OPT_STR_OK(c->msg) || !STR_OK(c->text) || !STR_OK(c->file) || !poll_ok) {
            free(used);
            return fail(v, "check %u is malformed", i);
        }
        if (c->poll_block != MIG_NONE)
            used[c->poll_block] = 1;
    }
    for (uint32_t i = 0; i < p->nexecs; i++) {
        const struct mig_pexec *e = &p->execs[i];
        bool ok = e->nargv >= 1 && e->has_cwd <= 1 && e->output <= 1 && e->timeout_ms >= 0 && STR_OK(e->file);
        for (uint32_t k = 0; ok && k < e->nargv; k++)
            ok = STR_OK(e->argv_text[k]);
        for (uint32_t k = 0; ok && k < e->nenv; k++)
            ok = STR_OK(e->env_names[k]);
        if (ok && e->block != MIG_NONE)
            ok = e->block < p->nblocks && p->blocks[e->block].kind == MIG_BLOCK_EXEC && !used[e->block] &&
                 !e->output;
        if (!ok) {
            free(used);
            return fail(v, "exec %u is malformed", i);
        }
        if (e->block != MIG_NONE)
            used[e->block] = 1;
    }
    for (uint32_t i = 0; i < p->nblocks; i++)
        if ((p->blocks[i].kind == MIG_BLOCK_POLL || p->blocks[i].kind == MIG_BLOCK_EXEC) && !used[i]) {
            free(used);
            return fail(v, "block %u belongs to no check or exec", i);
        }
    free(used);
    for (uint32_t i = 0; i < p->nfns; i++) {
        const struct mig_pfn *f = &p->fns[i];
        if (!STR_OK(f->name) || f->block >= p->nblocks || p->blocks[f->block].kind != MIG_BLOCK_FN ||
            p->blocks[f->block].owner != i || f->nparams > 255)
            return fail(v, "function %u is malformed", i);
    }
    for (uint32_t i = 0; i < p->nglobals; i++)
        if (!STR_OK(p->global_names[i]))
            return fail(v, "global %u has no name", i);
    if (p->globals_block >= p->nblocks || p->blocks[p->globals_block].kind != MIG_BLOCK_GLOBALS)
        return fail(v, "the globals block is missing");
    uint32_t next_phase = 0, next_step = 0;
    for (uint32_t i = 0; i < p->nmigrations; i++) {
        const struct mig_pmigration *m = &p->migrations[i];
        if (!STR_OK(m->name) || !OPT_STR_OK(m->title) || !STR_OK(m->file))
            return fail(v, "migration %u has malformed names", i);
        for (uint32_t k = 0; k < m->ntargets; k++)
            if (m->targets[k].dialect < MIG_D_POSTGRES || m->targets[k].dialect > MIG_D_SQLITE)
                return fail(v, "migration %u has a malformed target", i);
        for (uint32_t k = 0; k < m->nafter; k++)
            if (!STR_OK(m->after[k]))
                return fail(v, "migration %u has a malformed after", i);
        for (uint32_t k = 0; k < m->nparams; k++)
            if (!STR_OK(m->params[k].name) || m->params[k].type >= MIG_V__COUNT ||
                m->params[k].slot >= m->nslots)
                return fail(v, "migration %u has a malformed param", i);
        if (m->prologue >= p->nblocks || p->blocks[m->prologue].kind != MIG_BLOCK_PROLOGUE ||
            p->blocks[m->prologue].owner != i || m->body >= p->nblocks ||
            p->blocks[m->body].kind != MIG_BLOCK_BODY || p->blocks[m->body].owner != i)
            return fail(v, "migration %u has malformed code blocks", i);
        if (m->first_phase != next_phase || m->nphases > p->nphases - next_phase)
            return fail(v, "migration %u has malformed phases", i);
        for (uint32_t k = 0; k < m->nphases; k++) {
            const struct mig_pphase *ph = &p->phases[next_phase];
            if (!STR_OK(ph->name) || !OPT_STR_OK(ph->title) || !STR_OK(ph->file) || ph->migration != i ||
                ph->txn < MIG_TXN_PHASE || ph->txn > MIG_TXN_NONE || ph->first_step != next_step ||
                ph->nsteps > p->nsteps - next_step || ph->timeout_ms < 0 || ph->lock_timeout_ms < 0 ||
                ph->retry < 0 || ph->retry_every_ms < 0)
                return fail(v, "phase %u is malformed", next_phase);
            for (uint32_t j = 0; j < ph->nsteps; j++) {
                const struct mig_pstep *s = &p->steps[next_step];
                if (!STR_OK(s->name) || !OPT_STR_OK(s->title) || !STR_OK(s->file) || s->migration != i ||
                    s->phase != next_phase || !OPT_STR_OK(s->irreversible) || !OPT_STR_OK(s->none_reason) ||
                    s->batch > 1 || s->batch_max < 0)
                    return fail(v, "step %u is malformed", next_step);
                if (check_step_kinds(v, s, i, next_step) != 0)
                    return -1;
                if (s->up != MIG_NONE && check_query(v, s->up, m->nslots, 0, "step up") != 0)
                    return -1;
                if (s->down != MIG_NONE && check_query(v, s->down, m->nslots, 0, "step down") != 0)
                    return -1;
                next_step++;
            }
            next_phase++;
        }
    }
    if (next_phase != p->nphases || next_step != p->nsteps)
        return fail(v, "phases or steps outside any migration");
    for (uint32_t i = 0; i < p->nlines; i++)
        if (p->lines[i].addr > p->ncode || !STR_OK(p->lines[i].file) ||
            (i && p->lines[i].addr < p->lines[i - 1].addr))
            return fail(v, "line table entry %u is malformed", i);
    return 0;
}

/* What the operands of one block may refer to. */
struct bctx {
    uint32_t bi;
    const struct mig_pblock *b;
    const struct mig_pmigration *m;     /* NULL outside a migration's blocks */
    uint32_t nslots, nargs;
};

/* The index of the operand of kind k of an instruction, or -1. */
static int operand_of(const struct mig_opinfo *oi, enum mig_opkind k)
{
    for (int i = 0; i < oi->nops; i++)
        if (oi->kind[i] == k)
            return i;
    return -1;
}

/* Operand i of an instruction (operands a), checked by its kind alone:
 * 0 good, 1 out of range, -1 refused with a message of its own. Addresses
 * are checked once the block is decoded (they must land on an instruction). */
static int bad_operand(struct vctx *v, const struct bctx *c, const struct mig_opinfo *oi,
                       const uint32_t *a, int i)
{
    const struct mig_plan *p = v->p;
    uint32_t x = a[i];
    switch ((enum mig_opkind)oi->kind[i]) {
    case K_CONST: return x >= p->nconsts;
    case K_GLOBAL: return x >= p->nglobals;
    case K_SLOT: return x >= c->nslots;
    case K_ARG: return x >= c->nargs;
    case K_TYPE: return x >= MIG_V__COUNT;
    case K_FN: return x >= p->nfns;
    case K_BUILTIN: return x == MIG_B_NONE || x >= MIG_B__COUNT;
    case K_COUNT:   /* the callee, operand i - 1, is already checked */
        if (oi->kind[i - 1] == K_FN)
            return x != p->fns[a[i - 1]].nparams;
        if (oi->kind[i - 1] == K_BUILTIN)
            return x < mig_builtin_arity[a[i - 1]][0] || x > mig_builtin_arity[a[i - 1]][1];
        if (oi->kind[i - 1] == K_EXEC || oi->kind[i - 1] == K_EXEC_ACTION) {
            const struct mig_pexec *e = &p->execs[a[i - 1]];
            return x != e->nargv + e->nenv + e->has_cwd;
        }
        return 1;
    case K_QUERY: return check_query(v, x, c->nslots, c->nargs, "query") != 0 ? -1 : 0;
    case K_REQUIRE: return x >= p->nchecks || p->checks[x].kind != MIG_CHECK_REQUIRE;
    case K_VERIFY: return x >= p->nchecks || p->checks[x].kind != MIG_CHECK_VERIFY;
    case K_ASSERT: return x >= p->nchecks || p->checks[x].kind != MIG_CHECK_ASSERT;
    case K_PHASE: case K_PHASE_TXN:
        return !c->m || x < c->m->first_phase || x - c->m->first_phase >= c->m->nphases;
    case K_STEP: case K_STEP_ENTRY: case K_STEP_UP:
        return !c->m || x >= p->nsteps || p->steps[x].migration != c->b->owner;
    case K_ADDR: return 0;
    case K_EXEC:        /* an expression: computed inline; output exec for OUTPUT_EXEC */
        return x >= p->nexecs || p->execs[x].block != MIG_NONE ||
               p->execs[x].output != (oi == &mig_opinfo[OP_OUTPUT_EXEC]);
    case K_EXEC_ACTION: /* the action whose values this block computes */
        return x >= p->nexecs || p->execs[x].block != c->bi;
    case K_POLL:
        return !c->m || x >= p->nchecks || p->checks[x].poll_block == MIG_NONE ||
               p->blocks[p->checks[x].poll_block].owner != c->b->owner;
    case K_NONE: break;
    }
    return 1;
}

/* One block: decode, check operands, then stack depths by a worklist. */
static int verify_block(struct vctx *v, uint32_t bi, unsigned char *starts, int32_t *depth,
                        uint32_t *work)
{
    struct mig_plan *p = v->p;
    struct mig_pblock *b = &p->blocks[bi];
    struct bctx c = { bi, b, NULL, 0, 0 };
    if (b->kind == MIG_BLOCK_FN) {
        if (b->owner >= p->nfns)
            return fail(v, "block %u belongs to no function", bi);
        c.nargs = p->fns[b->owner].nparams;
    } else if (b->kind == MIG_BLOCK_PROLOGUE || b->kind == MIG_BLOCK_BODY || b->kind == MIG_BLOCK_EXEC ||
               b->kind == MIG_BLOCK_POLL) {
        if (b->owner >= p->nmigrations)
            return fail(v, "block %u belongs to no migration", bi);
        c.m = &p->migrations[b->owner];
        c.nslots = c.m->nslots;
    } else if (b->kind != MIG_BLOCK_GLOBALS) {
        return fail(v, "block %u has an unknown kind", bi);
    }
    if (b->start >= b->end || b->end > p->ncode)
        return fail(v, "block %u has a malformed range", bi);
    /* decode */
    uint32_t pc = b->start;
    enum mig_opcode last = OP_HALT;
    while (pc < b->end) {
        uint32_t op = p->code[pc];
        if (op >= OP__COUNT)
            return fail(v, "unknown opcode %u at %u", op, pc);
        const struct mig_opinfo *oi = &mig_opinfo[op];
        if (pc + 1 + (uint32_t)oi->nops > b->end)
            return fail(v, "%s at %u runs past the end of its block", oi->name, pc);
        if ((oi->flags & OPF_PLAN) && b->kind != MIG_BLOCK_BODY)
            return fail(v, "%s at %u outside a migration body", oi->name, pc);
        if ((oi->flags & OPF_PROLOGUE) && b->kind != MIG_BLOCK_PROLOGUE)
            return fail(v, "%s at %u outside a migration prologue", oi->name, pc);
        if ((oi->flags & OPF_FN) && b->kind != MIG_BLOCK_FN)
            return fail(v, "%s at %u outside a function", oi->name, pc);
        if ((oi->flags & OPF_RETURN) && b->kind != MIG_BLOCK_FN && b->kind != MIG_BLOCK_POLL)
            return fail(v, "%s at %u outside a function or polled condition", oi->name, pc);
        if ((oi->flags & OPF_ARGS) && b->kind != MIG_BLOCK_EXEC)
            return fail(v, "%s at %u outside an exec action", oi->name, pc);
        if ((oi->flags & OPF_STMT) && b->kind != MIG_BLOCK_PROLOGUE && b->kind != MIG_BLOCK_BODY)
            return fail(v, "%s at %u outside a migration prologue or body", oi->name, pc);
        if (op == OP_HALT && (b->kind == MIG_BLOCK_FN || b->kind == MIG_BLOCK_POLL || b->kind == MIG_BLOCK_EXEC))
            return fail(v, "HALT at %u inside a function, condition or exec action", pc);
        for (int i = 0; i < oi->nops; i++) {
            int bad = bad_operand(v, &c, oi, &p->code[pc + 1], i);
            if (bad < 0)
                return -1;
            if (bad)
                return fail(v, "%s at %u has an operand out of range", oi->name, pc);
        }
        starts[pc - b->start] = 1;
        last = (enum mig_opcode)op;
        pc += 1 + (uint32_t)oi->nops;
    }
    if (!(mig_opinfo[last].flags & OPF_TERM))
        return fail(v, "block %u does not end with HALT or RET", bi);
    /* jump targets: every address operand */
    for (pc = b->start; pc < b->end; pc += 1 + (uint32_t)mig_opinfo[p->code[pc]].nops) {
        const struct mig_opinfo *oi = &mig_opinfo[p->code[pc]];
        for (int i = 0; i < oi->nops; i++) {
            uint32_t t = p->code[pc + 1 + (uint32_t)i];
            if (oi->kind[i] == K_ADDR && (t <= pc || t >= b->end || !starts[t - b->start]))
                return fail(v, "%s at %u jumps to %u, not forward to an instruction of its block",
                            oi->name, pc, t);
        }
    }
    /* stack depths */
    uint32_t len = b->end - b->start, nw = 0, max = 0;
    for (uint32_t i = 0; i < len; i++)
        depth[i] = -1;
    depth[0] = 0;
    work[nw++] = b->start;
    while (nw) {
        pc = work[--nw];
        uint32_t op = p->code[pc];
        const struct mig_opinfo *oi = &mig_opinfo[op];
        int32_t d = depth[pc - b->start];
        int32_t pop = oi->pop < 0 ? (int32_t)p->code[pc + 1 + (uint32_t)operand_of(oi, K_COUNT)] : oi->pop;
        if (d < pop)
            return fail(v, "%s at %u pops %d values from a stack of %d", oi->name, pc, pop, d);
        int32_t after = d - pop + oi->push;
        if ((uint32_t)after > max)
            max = (uint32_t)after;
        if (op == OP_RET && d != 1)
            return fail(v, "RET at %u with %d values on the stack", pc, d);
        if (op == OP_HALT && d != 0)
            return fail(v, "HALT at %u with %d values on the stack", pc, d);
        if (op == OP_ARGS && d != pop)
            return fail(v, "ARGS at %u with %d values on the stack for %d", pc, d, pop);
        uint32_t succ[2];
        int32_t sd[2];
        int ns = 0;
        if (!(oi->flags & OPF_TERM) && op != OP_JUMP) {
            succ[ns] = pc + 1 + (uint32_t)oi->nops;
            sd[ns++] = after;
        }
        if (oi->flags & OPF_JUMP) {
            succ[ns] = p->code[pc + 1 + (uint32_t)operand_of(oi, K_ADDR)];
            sd[ns++] = (oi->flags & OPF_KEEP) ? d : after;
        }
        for (int i = 0; i < ns; i++) {
            if (succ[i] >= b->end)
                return fail(v, "%s at %u falls off the end of its block", oi->name, pc);
            int32_t *slot = &depth[succ[i] - b->start];
            if (*slot == -1) {
                *slot = sd[i];
                work[nw++] = succ[i];
            } else if (*slot != sd[i]) {
                return fail(v, "stack depth %d and %d meet at %u", *slot, sd[i], succ[i]);
            }
        }
    }
    b->max_stack = max;
    return 0;
}

int mig_plan_verify(struct mig_plan *p, char *err, size_t errlen)
{
    struct vctx v = { p, err, errlen };
    if (verify_tables(&v) != 0)
        return -1;
    /* blocks cover the code without overlapping */
    unsigned char *owned = calloc(p->ncode + 1, 1);
    unsigned char *starts = calloc(p->ncode + 1, 1);
    int32_t *depth = malloc((p->ncode + 1) * sizeof(*depth));
    uint32_t *work = malloc((p->ncode + 1) * sizeof(*work));
    int rc = 0;
    if (!owned || !starts || !depth || !work) {
        rc = fail(&v, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < p->nblocks && rc == 0; i++) {
        struct mig_pblock *b = &p->blocks[i];
        if (b->start >= b->end || b->end > p->ncode) {
            rc = fail(&v, "block %u has a malformed range", i);
            break;
        }
        for (uint32_t k = b->start; k < b->end; k++) {
            if (owned[k]) {
                rc = fail(&v, "blocks overlap at %u", k);
                break;
            }
            owned[k] = 1;
        }
        if (rc == 0)
            rc = verify_block(&v, i, starts + b->start, depth, work);
    }
out:
    free(owned);
    free(starts);
    free(depth);
    free(work);
    return rc;
}
