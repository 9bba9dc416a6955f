/* context.c — the shared part of the commands that run a plan (see context.h). */
#include "context.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void mig_ctx_init(struct mig_ctx *c, struct mig_plan *plan)
{
    memset(c, 0, sizeof(*c));
    c->plan = plan;
    c->mig = c->phase = c->step = MIG_NONE;
}

const char *mig_ctx_str(struct mig_ctx *c, uint32_t s)
{
    return mig_plan_str(c->plan, s);
}

int mig_ctx_find_migration(const struct mig_plan *p, const char *name, size_t n)
{
    for (uint32_t i = 0; i < p->nmigrations; i++) {
        const char *m = mig_plan_str(p, p->migrations[i].name);
        if (strlen(m) == n && strncmp(m, name, n) == 0)
            return (int)i;
    }
    return -1;
}

int mig_ctx_params(struct mig_ctx *c, const struct mig_run_opts *o)
{
    struct mig_report rep = { .out = o->out, .err = o->err, .json = o->json, .color = o->color };
    const struct mig_plan *plan = c->plan;
    for (size_t i = 0; i < o->nparams; i++) {
        const struct mig_param_arg *pa = &o->params[i];
        bool found = false;
        for (uint32_t m = 0; m < plan->nmigrations; m++) {
            const struct mig_pmigration *pm = &plan->migrations[m];
            if (pa->migration && strcmp(pa->migration, mig_ctx_str(c, pm->name)) != 0)
                continue;
            for (uint32_t k = 0; k < pm->nparams; k++) {
                if (strcmp(mig_ctx_str(c, pm->params[k].name), pa->name) != 0)
                    continue;
                struct mig_param_value pv = { m, pm->params[k].slot, { MIG_V_NULL, 0, NULL, 0 } };
                char err[256];
                if (mig_value_parse(&c->s.arena, (enum mig_vtype)pm->params[k].type, pa->value, &pv.v, err,
                                    sizeof(err)) != 0) {
                    mig_report_error(&rep, "-p %s%s%s: %s (param '%s' of migration %s is %s)",
                                     pa->migration ? pa->migration : "", pa->migration ? "." : "", pa->name, err,
                                     pa->name, mig_ctx_str(c, pm->name),
                                     mig_vtype_name((enum mig_vtype)pm->params[k].type));
                    return -1;
                }
                MIG_PUSH(&c->s.arena, c->params, pv);
                found = true;
            }
        }
        if (!found) {
            if (pa->migration && mig_ctx_find_migration(plan, pa->migration, strlen(pa->migration)) < 0)
                mig_report_error(&rep, "-p %s.%s: there is no migration '%s'", pa->migration, pa->name, pa->migration);
            else
                mig_report_error(&rep, "-p %s%s%s: no migration declares a param '%s'",
                                 pa->migration ? pa->migration : "", pa->migration ? "." : "", pa->name, pa->name);
            return -1;
        }
    }
    return 0;
}

int mig_ctx_vm(struct mig_ctx *c, const struct mig_host *host, void *host_ctx)
{
    if (mig_vm_init(&c->vm, c->plan, c->s.conn) != 0) {
        mig_report_error(&c->s.rep, "out of memory");
        return -1;
    }
    c->vm_ready = true;
    c->vm.host = host;
    c->vm.host_ctx = host_ctx;
    c->vm.trace = c->s.o->trace ? c->s.o->err : NULL;
    for (size_t i = 0; i < c->params.n; i++)
        mig_vm_set_param(&c->vm, c->params.v[i].migration, c->params.v[i].slot, &c->params.v[i].v);
    return 0;
}

void mig_ctx_close(struct mig_ctx *c)
{
    if (c->vm_ready)
        mig_vm_free(&c->vm);
    c->vm_ready = false;
    mig_session_close(&c->s);
}

void mig_ctx_failure(struct mig_ctx *c, const char *prefix)
{
    const struct mig_plan *p = c->plan;
    char where[1024] = "";
    size_t n = 0;
    if (c->vm.err_pc != MIG_NONE) {
        const char *file;
        uint32_t line;
        mig_plan_line(p, c->vm.err_pc, &file, &line);
        n += (size_t)snprintf(where + n, sizeof(where) - n, "\n  at %s:%u", file, line);
    }
    if (c->mig != MIG_NONE && c->mig < p->nmigrations)
        n += (size_t)snprintf(where + n, sizeof(where) - n, "%smigration %s", n ? ", " : "\n  in ",
                              mig_ctx_str(c, p->migrations[c->mig].name));
    if (c->phase != MIG_NONE && c->phase < p->nphases && n < sizeof(where))
        n += (size_t)snprintf(where + n, sizeof(where) - n, ", phase %s", mig_ctx_str(c, p->phases[c->phase].name));
    if (c->step != MIG_NONE && c->step < p->nsteps && n < sizeof(where))
        snprintf(where + n, sizeof(where) - n, ", step %s", mig_ctx_str(c, p->steps[c->step].name));
    mig_report_error(&c->s.rep, "%s%s%s", prefix, c->vm.err, where);
    if (c->vm.has_dberr) {
        const struct mig_dberr *e = &c->vm.dberr;
        if (e->sqlstate[0])
            mig_report_detail(&c->s.rep, "SQLSTATE %s", e->sqlstate);
        if (e->detail[0])
            mig_report_detail(&c->s.rep, "detail: %s", e->detail);
        if (e->hint[0])
            mig_report_detail(&c->s.rep, "hint: %s", e->hint);
    }
}

int mig_ctx_parse_to(struct mig_ctx *c, const char *to, int *last_mig, int *last_phase)
{
    struct mig_report rep = { .out = c->s.o ? c->s.o->out : stdout, .err = c->s.o ? c->s.o->err : stderr };
    *last_mig = (int)c->plan->nmigrations - 1;
    *last_phase = -1;
    if (!to)
        return 0;
    const char *dot = strchr(to, '.');
    size_t n = dot ? (size_t)(dot - to) : strlen(to);
    int m = mig_ctx_find_migration(c->plan, to, n);
    if (m < 0) {
        mig_report_error(&rep, "--to %s: there is no migration '%.*s' in the plan", to, (int)n, to);
        return -1;
    }
    *last_mig = m;
    if (dot) {
        const struct mig_pmigration *pm = &c->plan->migrations[m];
        for (uint32_t p = 0; p < pm->nphases; p++)
            if (strcmp(mig_ctx_str(c, c->plan->phases[pm->first_phase + p].name), dot + 1) == 0)
                *last_phase = (int)(pm->first_phase + p);
        if (*last_phase < 0) {
            mig_report_error(&rep, "--to %s: migration %.*s has no phase '%s'", to, (int)n, to, dot + 1);
            return -1;
        }
    }
    return 0;
}

void mig_ctx_checksum(struct mig_ctx *c, uint32_t si, char out[65])
{
    static const char digits[] = "0123456789abcdef";
    const struct mig_pstep *st = &c->plan->steps[si];
    const struct mig_pvariant *up = mig_plan_variant(c->plan, st->up, c->s.conn->drv->dialect);
    const uint8_t *h = up ? up->sha256 : st->up_exec != MIG_NONE ? c->plan->execs[st->up_exec].sha256 : NULL;
    out[0] = 0;
    if (!h)
        return;
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 15];
    }
    out[64] = 0;
}

static struct mig_tracked *tracked_step(struct mig_ctx *c, uint32_t si)
{
    const struct mig_pstep *st = &c->plan->steps[si];
    return mig_session_find(&c->s, mig_ctx_str(c, c->plan->migrations[st->migration].name),
                            mig_ctx_str(c, c->plan->phases[st->phase].name), mig_ctx_str(c, st->name));
}

/* Done: applied or skipped (a `running` step is not: it runs again). */
bool mig_ctx_step_done(struct mig_ctx *c, uint32_t si)
{
    /* a migration this run finished (its rows are forgotten: session.h) */
    uint32_t mi = c->plan->steps[si].migration;
    if (c->s.finished && mi < c->s.nfinished && c->s.finished[mi])
        return true;
    struct mig_tracked *t = tracked_step(c, si);
    return t && strcmp(t->status, "running") != 0;
}

bool mig_ctx_migration_done(struct mig_ctx *c, uint32_t mi)
{
    const struct mig_pmigration *m = &c->plan->migrations[mi];
    for (uint32_t p = 0; p < m->nphases; p++) {
        const struct mig_pphase *ph = &c->plan->phases[m->first_phase + p];
        for (uint32_t s = 0; s < ph->nsteps; s++)
            if (!mig_ctx_step_done(c, ph->first_step + s))
                return false;
    }
    return true;
}

unsigned mig_ctx_drift(struct mig_ctx *c)
{
    unsigned n = 0;
    for (uint32_t si = 0; si < c->plan->nsteps; si++) {
        const struct mig_pstep *st = &c->plan->steps[si];
        struct mig_tracked *t = tracked_step(c, si);
        if (!t || strcmp(t->status, "skipped") == 0 || !t->checksum)
            continue;
        char sum[65];
        mig_ctx_checksum(c, si, sum);
        if (strcmp(sum, t->checksum) != 0) {
            mig_report_error(&c->s.rep, "%s:%u: drift: step %s.%s.%s was applied with a different 'up' (checksum "
                             "%.12s…, the sources now have %.12s…); restore its source, or roll it back with the "
                             "recorded down before changing it", mig_ctx_str(c, st->file), st->line, t->migration,
                             t->phase, t->step, t->checksum, sum[0] ? sum : "no SQL for this dialect");
            n++;
        }
    }
    return n;
}

bool mig_ctx_target_ok(struct mig_ctx *c, uint32_t mi, char *why, size_t n)
{
    const struct mig_pmigration *m = &c->plan->migrations[mi];
    if (m->ntargets == 0)
        return true;
    const struct mig_driver *d = c->s.conn->drv;
    for (uint32_t i = 0; i < m->ntargets; i++) {
        if (m->targets[i].dialect != d->dialect)
            continue;
        int64_t have = d->target_version(c->s.conn);
        if (m->targets[i].min_version && have < m->targets[i].min_version) {
            snprintf(why, n, "migration %s needs %s >= %" PRId64 ", the database is %" PRId64, mig_ctx_str(c, m->name),
                     d->name, m->targets[i].min_version, have);
            return false;
        }
        return true;
    }
    char list[128] = "";
    size_t k = 0;
    for (uint32_t i = 0; i < m->ntargets && k < sizeof(list); i++)
        k += (size_t)snprintf(list + k, sizeof(list) - k, "%s%s", i ? ", " : "",
                              m->targets[i].dialect == MIG_D_POSTGRES ? "postgres" : "sqlite");
    snprintf(why, n, "migration %s does not target %s (its targets: %s)", mig_ctx_str(c, m->name), d->name, list);
    return false;
}

uint32_t mig_ctx_variant_line(struct mig_ctx *c, const struct mig_pvariant *v, long off)
{
    uint32_t line = v->line;
    const char *t = mig_ctx_str(c, v->text);
    for (long i = 0; i < off && t[i]; i++)
        line += t[i] == '\n';
    return line;
}

bool mig_ctx_pooled_ok(struct mig_ctx *c, uint32_t mi, char *why, size_t n)
{
    const struct mig_conn *conn = c->s.conn;
    if (!conn || !conn->local_search_path)
        return true;
    const struct mig_plan *plan = c->plan;
    const struct mig_pmigration *m = &plan->migrations[mi];
    for (uint32_t p = m->first_phase; p < m->first_phase + m->nphases; p++) {
        const struct mig_pphase *ph = &plan->phases[p];
        if (ph->txn != MIG_TXN_NONE)
            continue;
        for (uint32_t k = 0; k < ph->nsteps; k++) {
            uint32_t si = ph->first_step + k;
            const struct mig_pstep *st = &plan->steps[si];
            if (mig_ctx_step_done(c, si) || mig_pstep_up_kind(st) != MIG_ACTION_SQL || st->up == MIG_NONE)
                continue;
            const struct mig_pvariant *up = mig_plan_variant(plan, st->up, conn->drv->dialect);
            if (!up)
                continue;
            const char *text = mig_ctx_str(c, up->text);
            char what[64];
            long off = mig_pg_outside_only(text, what, sizeof(what));
            if (off < 0)
                continue;
            uint32_t line = mig_ctx_variant_line(c, up, off);
            snprintf(why, n, "step %s.%s.%s (transaction none) runs '%s' at %s:%u, which cannot run inside a "
                     "transaction block; %s is reached through a connection pooler, where the schema '%s' can only "
                     "be the search_path of a transaction (SET LOCAL), so this statement would not run in it: apply "
                     "this migration with a direct connection to the server (then the pooler again for the rest); "
                     "nothing was changed", mig_ctx_str(c, m->name), mig_ctx_str(c, ph->name),
                     mig_ctx_str(c, st->name), what, mig_ctx_str(c, up->file), line, conn->display, conn->schema);
            return false;
        }
    }
    return true;
}

int mig_ctx_require(void *ctx, struct mig_vm *vm, uint32_t check, bool ok)
{
    struct mig_ctx *c = ctx;
    if (vm->not_evaluated) {    /* plan: it needs a command; neither held nor failed */
        vm->not_evaluated = false;
        return 0;
    }
    if (!ok && !c->ignore_requires)
        MIG_PUSH(&c->s.arena, c->req_failed, check);
    return 0;
}

int mig_ctx_prologue(struct mig_ctx *c, uint32_t mi, bool report)
{
    c->mig = mi;
    c->req_failed.n = 0;
    if (mig_vm_run(&c->vm, c->plan->migrations[mi].prologue, mi) != 0) {
        if (report)
            mig_ctx_failure(c, "preflight failed: ");
        return -1;
    }
    if (c->req_failed.n && report) {
        for (size_t i = 0; i < c->req_failed.n; i++) {
            const struct mig_pcheck *k = &c->plan->checks[c->req_failed.v[i]];
            mig_report_error(&c->s.rep, "%s:%u: require failed in migration %s: %s%s%s", mig_ctx_str(c, k->file),
                             k->line, mig_ctx_str(c, c->plan->migrations[mi].name),
                             k->msg != MIG_NONE ? mig_ctx_str(c, k->msg) : mig_ctx_str(c, k->text),
                             k->msg != MIG_NONE ? " — " : "", k->msg != MIG_NONE ? mig_ctx_str(c, k->text) : "");
        }
    }
    return c->req_failed.n ? -1 : 0;
}

size_t mig_ctx_invalid_indexes(struct mig_ctx *c, const char *sql, char (*out)[256], size_t max)
{
    return mig_session_invalid_indexes(&c->s, sql, out, max);
}
