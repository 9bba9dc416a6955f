/* cmd_plan.c — migrun plan: what apply would run, guards evaluated,
 * nothing written (no journal, no lock, no tracking table; a missing SQLite
 * file is an empty database and is not created). */
#include "context.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define S(c, s) mig_ctx_str((c), (s))

/* --sql: the script, on stdout (the report is quiet meanwhile). */
static uint32_t sql_phase = MIG_NONE;

static void sql_header(struct mig_ctx *c, uint32_t si)
{
    const struct mig_plan *plan = c->plan;
    const struct mig_pstep *st = &plan->steps[si];
    const struct mig_pphase *ph = &plan->phases[st->phase];
    FILE *out = c->s.o->out;
    if (sql_phase != st->phase) {
        sql_phase = st->phase;
        fprintf(out, "\n-- migration %s, phase %s (%s:%u): transaction %s\n", S(c, plan->migrations[st->migration].name),
                S(c, ph->name), S(c, ph->file), ph->line,
                ph->txn == MIG_TXN_NONE ? "none" : ph->txn == MIG_TXN_STEP ? "step" : "phase");
    }
    fprintf(out, "\n-- step %s (%s:%u)\n", S(c, st->name), S(c, st->file), st->line);
}

/* A text as SQL comment lines. */
static void sql_comment(FILE *out, const char *prefix, const char *text)
{
    fprintf(out, "-- %s", prefix);
    for (const char *p = text; *p; p++) {
        fputc(*p, out);
        if (*p == '\n' && p[1])
            fputs("--   ", out);
    }
    if (!*text || text[strlen(text) - 1] != '\n')
        fputc('\n', out);
}

static void would(struct mig_ctx *c, const char *outcome, uint32_t si, const char *note)
{
    if (c->s.o->plan_sql && strcmp(outcome, "would skip") == 0) {
        sql_header(c, si);
        sql_comment(c->s.o->out, "skipped: ", note ? note : "");
    }
    const struct mig_pstep *st = &c->plan->steps[si];
    mig_report_step(&c->s.rep, outcome, S(c, c->plan->migrations[st->migration].name),
                    S(c, c->plan->phases[st->phase].name), S(c, st->name), -1, 0, note);
}

static int p_phase(void *ctx, struct mig_vm *vm, uint32_t ph)
{
    struct mig_ctx *c = ctx;
    (void)vm;
    c->phase = ph;
    c->step = MIG_NONE;
    for (uint32_t i = 0; i < c->plan->phases[ph].nsteps; i++)
        if (!mig_ctx_step_done(c, c->plan->phases[ph].first_step + i))
            return 0;
    return 1;
}

static int p_phase_when(void *ctx, struct mig_vm *vm, uint32_t ph, bool ok)
{
    struct mig_ctx *c = ctx;
    if (vm->not_evaluated) {    /* it needs a command: shown as would run, with the note */
        vm->not_evaluated = false;
        return 0;
    }
    if (ok)
        return 0;
    for (uint32_t i = 0; i < c->plan->phases[ph].nsteps; i++)
        if (!mig_ctx_step_done(c, c->plan->phases[ph].first_step + i))
            would(c, "would skip", c->plan->phases[ph].first_step + i, "the phase's when is false");
    return 1;
}

static int p_checks(void *ctx, struct mig_vm *vm)
{
    (void)ctx;
    (void)vm;
    return 1;   /* nothing ran, nothing to verify */
}

static int p_step(void *ctx, struct mig_vm *vm, uint32_t si)
{
    struct mig_ctx *c = ctx;
    (void)vm;
    c->step = si;
    return mig_ctx_step_done(c, si) ? 1 : 0;
}

static int p_step_when(void *ctx, struct mig_vm *vm, uint32_t si, bool ok)
{
    if (vm->not_evaluated) {    /* it needs a command: shown as would run, with the note */
        vm->not_evaluated = false;
        return 0;
    }
    if (ok)
        return 0;
    would(ctx, "would skip", si, "when is false");
    return 1;
}

static int p_up(void *ctx, struct mig_vm *vm, uint32_t si)
{
    struct mig_ctx *c = ctx;
    const struct mig_pstep *st = &c->plan->steps[si];
    if (mig_pstep_up_kind(st) == MIG_ACTION_EXEC) {
        struct mig_exec_args args;
        if (mig_vm_exec_args(vm, st->up_exec, &args) != 0)
            return -1;
        char *text = mig_exec_args_text(&args);
        if (c->s.o->plan_sql) {
            sql_header(c, si);
            sql_comment(c->s.o->out, "runs: ", text ? text : args.argv[0]);
        }
        would(c, "would apply", si, text ? mig_arena_printf(&c->s.arena, "runs %s", text) : "runs a command");
        free(text);
        mig_exec_args_free(&args);
        return 0;
    }
    if (!mig_plan_variant(c->plan, st->up, c->s.conn->drv->dialect)) {
        mig_vm_fail(vm, MIG_NONE, "step %s has no up SQL for %s", S(c, st->name), c->s.conn->drv->name);
        return -1;
    }
    if (c->s.o->plan_sql) {
        const struct mig_pvariant *up = mig_plan_variant(c->plan, st->up, c->s.conn->drv->dialect);
        const struct mig_pvariant *down = st->down != MIG_NONE ? mig_plan_variant(c->plan, st->down,
                                                                                 c->s.conn->drv->dialect) : NULL;
        char *u = mig_vm_render(vm, up, NULL), *d = down ? mig_vm_render(vm, down, NULL) : NULL;
        if (!u || (down && !d)) {
            free(u);
            free(d);
            return -1;
        }
        sql_header(c, si);
        FILE *out = c->s.o->out;
        size_t n = strlen(u);
        while (n && (u[n - 1] == ' ' || u[n - 1] == '\n' || u[n - 1] == '\t'))
            u[--n] = 0;
        const char *b = u;
        while (*b == ' ' || *b == '\n' || *b == '\t')
            b++;
        fprintf(out, "%s\n", b);
        if (d) {
            char *db = d;
            while (*db == ' ' || *db == '\n' || *db == '\t')
                db++;
            size_t dn = strlen(db);
            while (dn && (db[dn - 1] == ' ' || db[dn - 1] == '\n' || db[dn - 1] == '\t'))
                db[--dn] = 0;
            sql_comment(out, "down: ", db);
        }
        else if (st->irreversible != MIG_NONE)
            sql_comment(out, "down irreversible: ", S(c, st->irreversible));
        free(u);
        free(d);
    }
    would(c, "would apply", si, st->down == MIG_NONE ? "down irreversible" : NULL);
    return 0;
}

/* plan runs no command: a condition that needs one is not evaluated */
static int p_exec(void *ctx, struct mig_vm *vm, const struct mig_exec_args *a, bool want_output, bool *ok,
                  char **output)
{
    struct mig_ctx *c = ctx;
    (void)vm;
    (void)want_output;
    (void)output;
    char *text = mig_exec_args_text(a);
    mig_report_note(&c->s.rep, "    not evaluated (plan runs no command): exec %s", text ? text : a->argv[0]);
    if (c->s.o->plan_sql)
        fprintf(c->s.o->out, "-- not evaluated (plan runs no command): exec %s\n", text ? text : a->argv[0]);
    free(text);
    *ok = false;
    return 2;
}

static const struct mig_host plan_host = {
    .require = mig_ctx_require, .phase = p_phase, .checks = p_checks, .phase_when = p_phase_when,
    .step = p_step, .step_when = p_step_when, .up = p_up, .exec = p_exec,
};

int mig_cmd_plan(struct mig_plan *plan, const struct mig_run_opts *o)
{
    struct mig_ctx cc, *c = &cc;
    mig_ctx_init(c, plan);
    c->s.o = o;
    int rc, last_mig, last_phase;
    if (mig_ctx_parse_to(c, o->to, &last_mig, &last_phase) != 0 || mig_ctx_params(c, o) != 0)
        return MIG_EXIT_USAGE;
    if ((rc = mig_session_open(&c->s, o, 0)) != 0)
        goto out;
    rc = MIG_EXIT_REFUSED;
    if (mig_ctx_vm(c, &plan_host, c) != 0)
        goto out;
    MIG_VEC(uint32_t) pending = { 0 };
    for (uint32_t i = 0; i <= (uint32_t)last_mig && i < plan->nmigrations; i++)
        if (!mig_ctx_migration_done(c, i))
            MIG_PUSH(&c->s.arena, pending, i);
    unsigned refused = mig_ctx_drift(c);
    for (size_t i = 0; i < pending.n; i++) {
        char why[512];
        if (!mig_ctx_target_ok(c, pending.v[i], why, sizeof(why)) ||
            !mig_ctx_pooled_ok(c, pending.v[i], why, sizeof(why))) {
            mig_report_error(&c->s.rep, "%s:%u: %s", S(c, plan->migrations[pending.v[i]].file),
                             plan->migrations[pending.v[i]].line, why);
            refused++;
        }
    }
    if (refused == 0 && pending.n && mig_vm_run(&c->vm, plan->globals_block, 0) != 0) {
        mig_ctx_failure(c, "evaluating the file-level lets failed: ");
        goto out;
    }
    for (size_t i = 0; refused == 0 && i < pending.n; i++) {
        /* requires of a migration after one pending here are checked when its turn comes */
        const struct mig_pmigration *m = &plan->migrations[pending.v[i]];
        bool waits = false;
        for (uint32_t k = 0; k < m->nafter && !waits; k++)
            for (size_t j = 0; j < i && !waits; j++)
                waits = strcmp(S(c, m->after[k]), S(c, plan->migrations[pending.v[j]].name)) == 0;
        if (mig_ctx_prologue(c, pending.v[i], !waits) != 0) {
            if (waits)
                mig_report_note(&c->s.rep, "the requires of %s do not hold yet; apply checks them again when its "
                                "turn comes", S(c, m->name));
            else
                refused++;
        }
    }
    if (refused) {
        mig_report_error(&c->s.rep, "apply would refuse the run; nothing would change");
        goto out;
    }
    if (pending.n == 0) {
        mig_report_note(&c->s.rep, "nothing to do: %s is up to date (%u migration%s applied)", c->s.conn->display,
                        plan->nmigrations, plan->nmigrations == 1 ? "" : "s");
        rc = MIG_EXIT_OK;
        goto out;
    }
    if (o->plan_sql)
        c->s.rep.quiet = true;
    mig_report_note(&c->s.rep, "plan: %zu migration%s pending on %s", pending.n, pending.n == 1 ? "" : "s",
                    c->s.conn->display);
    if (o->plan_sql) {
        fprintf(o->out, "-- migrun plan --sql: what apply would run on %s, rendered with the params in effect\n"
                "-- (guards evaluated now; mig records each step and its down in mig_applied as it goes)\n",
                c->s.conn->display);
        c->s.rep.quiet = true;
    }
    rc = MIG_EXIT_OK;
    for (size_t i = 0; i < pending.n; i++) {
        uint32_t mi = pending.v[i];
        c->mig = mi;
        c->phase = c->step = MIG_NONE;
        mig_report_migration(&c->s.rep, "would run", S(c, plan->migrations[mi].name), S(c, plan->migrations[mi].file),
                             plan->migrations[mi].line);
        if (mig_vm_run(&c->vm, plan->migrations[mi].body, mi) != 0) {
            mig_ctx_failure(c, "plan failed: ");
            rc = MIG_EXIT_FAILED;
            break;
        }
    }
out:
    mig_ctx_close(c);
    return rc;
}
