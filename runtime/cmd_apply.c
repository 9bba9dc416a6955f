/* cmd_apply.c — migrun apply: preflight (drift, targets, requires), then
 * each pending migration's body through the apply host (steps run and are
 * recorded through the protocol), retry of transient errors, and on failure
 * the undo of what the failing migration committed in this run. */
#include "apply.h"
#include "exec.h"
#include "exec_steps.h"
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int mig_apply_failed(struct apply *a, int rc)
{
    a->proto_rc = rc;
    snprintf(a->c.vm.err, sizeof(a->c.vm.err), "%s", a->p.err);
    if (a->p.has_dberr) {
        a->c.vm.dberr = a->p.dberr;
        a->c.vm.has_dberr = true;
    }
    return -1;
}

static int interrupted(struct apply *a)
{
    if (!mig_signals)
        return 0;
    return mig_apply_failed(a, mig_proto_fail(&a->p, MIG_P_FAIL, NULL, "interrupted by %s", mig_signal_name(mig_last_signal)));
}

const struct mig_pphase *mig_apply_phase(struct apply *a, uint32_t ph)
{
    return &a->c.plan->phases[ph];
}

void mig_apply_record(struct apply *a, uint32_t si, struct mig_record *r)
{
    const struct mig_plan *plan = a->c.plan;
    const struct mig_pstep *st = &plan->steps[si];
    const struct mig_pphase *ph = &plan->phases[st->phase];
    memset(r, 0, sizeof(*r));
    mig_proto_record(&a->p, r);
    r->migration = S(a, plan->migrations[st->migration].name);
    r->phase = S(a, ph->name);
    r->step = S(a, st->name);
    r->status = "applied";
    r->txn = ph->txn == MIG_TXN_NONE ? "none" : ph->txn == MIG_TXN_STEP ? "step" : "phase";
    r->file = S(a, st->file);
    r->line = st->line;
    r->irreversible = st->irreversible != MIG_NONE ? S(a, st->irreversible) : NULL;
    static const char *const kinds[] = { "sql", "exec", "irreversible", "none" };
    r->down_kind = kinds[mig_pstep_down_kind(st) & 3];
    r->down_flags = mig_pstep_optional(st) && mig_pstep_restores(st) ? "optional,restores"
                  : mig_pstep_optional(st) ? "optional" : mig_pstep_restores(st) ? "restores" : NULL;
    r->timeout_ms = ph->timeout_ms;
    r->lock_timeout_ms = ph->lock_timeout_ms;
    r->retry = ph->retry;
    r->retry_every_ms = ph->retry_every_ms;
    r->kept = true;     /* the plan's strings and literals: the plan outlives the session */
}

static int skip(struct apply *a, uint32_t si, const char *why)
{
    const struct mig_pphase *ph = mig_apply_phase(a, a->c.plan->steps[si].phase);
    struct mig_record r;
    mig_apply_record(a, si, &r);
    r.status = "skipped";
    r.irreversible = NULL;
    bool own = !a->p.txn_open;
    int rc;
    if (own && (rc = mig_proto_begin(&a->p, ph->timeout_ms, ph->lock_timeout_ms)) != MIG_P_OK)
        return mig_apply_failed(a, rc);
    mig_proto_add(&a->p, &r);
    if (own && (rc = mig_proto_commit(&a->p)) != MIG_P_OK)
        return mig_apply_failed(a, rc);
    a->p.skipped++;
    mig_report_step(&a->c.s.rep, "skipped", r.migration, r.phase, r.step, -1, 0, why);
    return 0;
}

static bool step_done(struct apply *a, uint32_t si)
{
    return a->deferred[si] || mig_ctx_step_done(&a->c, si);
}

static int h_phase(void *ctx, struct mig_vm *vm, uint32_t ph)
{
    struct apply *a = ctx;
    (void)vm;
    a->c.phase = ph;
    a->c.step = MIG_NONE;
    if (interrupted(a))
        return -1;
    if (mig_apply_phase(a, ph)->nsteps == 0)
        return 0;   /* only checks (assert, verify): they run whenever their migration runs */
    for (uint32_t i = 0; i < mig_apply_phase(a, ph)->nsteps; i++)
        if (!step_done(a, mig_apply_phase(a, ph)->first_step + i))
            return 0;
    return 1;
}

static int h_phase_when(void *ctx, struct mig_vm *vm, uint32_t ph, bool ok)
{
    struct apply *a = ctx;
    (void)vm;
    if (ok)
        return 0;
    const struct mig_pphase *p = mig_apply_phase(a, ph);
    int rc = mig_proto_begin(&a->p, p->timeout_ms, p->lock_timeout_ms);
    if (rc != MIG_P_OK)
        return mig_apply_failed(a, rc);
    for (uint32_t i = 0; i < p->nsteps; i++)
        if (!step_done(a, p->first_step + i) && skip(a, p->first_step + i, "the phase's when is false") != 0)
            return -1;
    if ((rc = mig_proto_commit(&a->p)) != MIG_P_OK)
        return mig_apply_failed(a, rc);
    return 1;
}

static int h_txn_begin(void *ctx, struct mig_vm *vm, uint32_t ph)
{
    struct apply *a = ctx;
    (void)vm;
    const struct mig_pphase *p = mig_apply_phase(a, ph);
    if (p->txn == MIG_TXN_PHASE || p->txn == MIG_TXN_DEFAULT) {
        int rc = mig_proto_begin(&a->p, p->timeout_ms, p->lock_timeout_ms);
        return rc == MIG_P_OK ? 0 : mig_apply_failed(a, rc);
    }
    struct mig_dberr e;
    struct mig_conn *c = a->c.s.conn;
    if (p->txn == MIG_TXN_NONE && (p->timeout_ms || p->lock_timeout_ms) && c->pooled) {
        /* a session setting would land on one pooled server connection and stay there */
        mig_report_warning(&a->c.s.rep, "the timeout and lock_timeout of phase %s (transaction none) are not applied: "
                           "the connection goes through a pooler, where a session setting would outlive the run",
                           S(a, p->name));
        return 0;
    }
    if (p->txn == MIG_TXN_NONE && (p->timeout_ms || p->lock_timeout_ms) &&
        c->drv->set_timeouts(c, p->timeout_ms, p->lock_timeout_ms, &e) != 0)
        return mig_apply_failed(a, mig_proto_fail(&a->p, MIG_P_FAIL, &e, "cannot set the timeouts: %s", e.message));
    return 0;
}

static int h_step(void *ctx, struct mig_vm *vm, uint32_t si)
{
    struct apply *a = ctx;
    (void)vm;
    a->c.step = si;
    if (interrupted(a))
        return -1;
    return step_done(a, si) ? 1 : 0;
}

static int h_step_when(void *ctx, struct mig_vm *vm, uint32_t si, bool ok)
{
    (void)vm;
    return ok ? 0 : skip(ctx, si, "when is false") != 0 ? -1 : 1;
}

static void progress(void *ctx, int64_t iter, int64_t n, int64_t total)
{
    struct apply *a = ctx;
    char text[160];
    snprintf(text, sizeof(text), "    batch %" PRId64 ": %" PRId64 " row%s (%" PRId64 " so far)", iter, n,
             n == 1 ? "" : "s", total);
    mig_report_event(&a->c.s.rep, text, "{s:s,s:s,s:I,s:I,s:I}", "event", "batch", "step",
                     S(a, a->c.plan->steps[a->c.step].name), "iteration", (json_int_t)iter, "rows", (json_int_t)n,
                     "total", (json_int_t)total);
}

/* A statement error with the line of the failing statement in the source. */
static int statement_failed(struct apply *a, const struct mig_pvariant *up, const struct mig_dberr *e)
{
    if (mig_signals)
        return mig_apply_failed(a, mig_proto_fail(&a->p, MIG_P_FAIL, e, "interrupted by %s: the running statement was "
                                        "canceled (%s)", mig_signal_name(mig_last_signal), e->message));
    if (e->offset >= 0) {
        uint32_t line = mig_ctx_variant_line(&a->c, up, e->offset);
        return mig_apply_failed(a, mig_proto_fail(&a->p, e->connection_lost ? MIG_P_UNKNOWN : MIG_P_FAIL, e,
                                        "statement failed at %s:%u: %s", S(a, up->file), line, e->message));
    }
    return mig_apply_failed(a, mig_proto_fail(&a->p, e->connection_lost ? MIG_P_UNKNOWN : MIG_P_FAIL, e,
                                    "statement failed: %s", e->message));
}

/* An interrupted CREATE INDEX CONCURRENTLY leaves an invalid index that
 * IF NOT EXISTS would skip: before the interrupted step runs again, such
 * an index of the same name goes (and the user is told). */
static int drop_invalid(struct apply *a, const struct mig_record *r)
{
    struct mig_conn *c = a->c.s.conn;
    char names[16][256];
    size_t n = mig_ctx_invalid_indexes(&a->c, r->up_sql, names, 16);
    for (size_t i = 0; i < n; i++) {
        const char *sql = mig_session_fill(&a->c.s, c->drv->drop_invalid_index, names[i], NULL);
        if (a->p.txn_open)   /* CONCURRENTLY cannot run in a transaction */
            sql = mig_arena_printf(&a->c.s.arena, "DROP INDEX IF EXISTS %s", names[i]);
        struct mig_dberr e;
        if (c->drv->exec(c, sql, NULL, &e) != 0)
            return mig_apply_failed(a, mig_proto_fail(&a->p, e.connection_lost ? MIG_P_UNKNOWN : MIG_P_FAIL, &e,
                                            "cannot drop the invalid index %s that the interrupted run left: %s",
                                            names[i], e.message));
        mig_report_warning(&a->c.s.rep, "dropped the invalid index %s that the interrupted run of %s.%s.%s left (an "
                           "interrupted CREATE INDEX CONCURRENTLY); the step builds it again", names[i], r->migration,
                           r->phase, r->step);
    }
    return 0;
}

static int h_up(void *ctx, struct mig_vm *vm, uint32_t si)
{
    struct apply *a = ctx;
    const struct mig_plan *plan = a->c.plan;
    const struct mig_pstep *st = &plan->steps[si];
    const struct mig_pphase *ph = mig_apply_phase(a, st->phase);
    struct mig_conn *c = a->c.s.conn;
    int d = c->drv->dialect;
    if (mig_pstep_up_kind(st) == MIG_ACTION_EXEC)
        return mig_apply_exec_up(a, vm, si);
    const struct mig_pvariant *up = mig_plan_variant(plan, st->up, d);
    if (!up)
        return mig_apply_failed(a, mig_proto_fail(&a->p, MIG_P_FAIL, NULL, "step %s has no up SQL for %s", S(a, st->name),
                                        c->drv->name));
    const struct mig_pvariant *down = st->down != MIG_NONE ? mig_plan_variant(plan, st->down, d) : NULL;
    if (mig_pstep_down_kind(st) == MIG_DOWN_SQL && st->down != MIG_NONE && !down)
        return mig_apply_failed(a, mig_proto_fail(&a->p, MIG_P_FAIL, NULL, "step %s has no down SQL for %s, so it could not "
                                        "be undone; refusing to apply it", S(a, st->name), c->drv->name));
    char *up_sql = mig_vm_render(vm, up, NULL);
    if (!up_sql)
        return -1;
    char *down_sql = down ? mig_vm_render(vm, down, NULL) : NULL;
    if (down && !down_sql) {
        free(up_sql);
        return -1;
    }
    struct mig_record r;
    mig_apply_record(a, si, &r);
    if (mig_apply_exec_down(a, vm, si, &r) != 0)
        return -1;
    snprintf(a->c.s.where, sizeof(a->c.s.where), "step %s.%s.%s (%s:%" PRId64 ")", r.migration, r.phase, r.step,
             r.file, r.line);
    char sum[65];
    mig_ctx_checksum(&a->c, si, sum);
    r.checksum = mig_arena_strdup(&a->work, sum);
    r.up_sql = mig_arena_strdup(&a->work, up_sql);
    r.down_sql = down_sql ? mig_arena_strdup(&a->work, down_sql) : NULL;
    free(up_sql);
    free(down_sql);
    int64_t t0 = mig_now_ms(), rows = 0;
    int rc;
    struct mig_tracked *before = mig_session_find(&a->c.s, r.migration, r.phase, r.step);
    if (before && strcmp(before->status, "running") == 0 && (rc = drop_invalid(a, &r)) != 0)
        return rc;
    if (st->batch) {
        rc = mig_proto_batch(&a->p, &r, r.up_sql, ph->txn != MIG_TXN_NONE, st->batch_max, progress, a);
        if (rc != MIG_P_OK)
            return mig_apply_failed(a, rc);
        rows = r.rows;
    } else if (ph->txn == MIG_TXN_NONE) {
        rc = mig_proto_run_outside(&a->p, &r, r.up_sql, &rows);
        if (rc != MIG_P_OK) {
            if (a->p.has_dberr && a->p.dberr.offset >= 0 && rc != MIG_P_DIRTY) {
                struct mig_dberr e = a->p.dberr;
                statement_failed(a, up, &e);
            } else {
                mig_apply_failed(a, rc);
            }
            a->proto_rc = rc;
            return -1;
        }
    } else {
        if (ph->txn == MIG_TXN_STEP && (rc = mig_proto_begin(&a->p, ph->timeout_ms, ph->lock_timeout_ms)) != MIG_P_OK)
            return mig_apply_failed(a, rc);
        struct mig_dberr e;
        if (c->drv->exec(c, r.up_sql, &rows, &e) != 0)
            return statement_failed(a, up, &e);
        if (c->drv->txn_status(c) == MIG_TX_IDLE) {
            a->p.txn_open = false;
            return mig_apply_failed(a, mig_proto_fail(&a->p, MIG_P_DIRTY, NULL, "the body of step %s ended mig's transaction "
                                            "(a COMMIT, ROLLBACK or END in it): what ran before is committed "
                                            "without a record", S(a, st->name)));
        }
        r.rows = rows;
        r.duration_ms = mig_now_ms() - t0;
        mig_proto_add(&a->p, &r);
    }
    a->p.applied++;
    a->c.s.where[0] = 0;
    mig_report_step(&a->c.s.rep, "applied", r.migration, r.phase, r.step, mig_now_ms() - t0, rows, NULL);
    return 0;
}

static int check_failed(struct apply *a, uint32_t k, const char *what)
{
    const struct mig_pcheck *ch = &a->c.plan->checks[k];
    if (ch->msg != MIG_NONE)
        return mig_apply_failed(a, mig_proto_fail(&a->p, MIG_P_FAIL, NULL, "%s failed: %s (%s)", what, S(a, ch->msg),
                                        S(a, ch->text)));
    return mig_apply_failed(a, mig_proto_fail(&a->p, MIG_P_FAIL, NULL, "%s failed: %s", what, S(a, ch->text)));
}

static int h_verify(void *ctx, struct mig_vm *vm, uint32_t k, bool ok)
{
    (void)vm;
    return ok ? 0 : check_failed(ctx, k, "verify");
}

static int h_assert(void *ctx, struct mig_vm *vm, uint32_t k, bool ok)
{
    (void)vm;
    return ok ? 0 : check_failed(ctx, k, "assert");
}

static int h_step_end(void *ctx, struct mig_vm *vm, uint32_t si)
{
    struct apply *a = ctx;
    (void)vm;
    a->c.step = MIG_NONE;
    const struct mig_pstep *st = &a->c.plan->steps[si];
    if (mig_apply_phase(a, st->phase)->txn == MIG_TXN_STEP && !st->batch) {
        int rc = mig_proto_commit(&a->p);
        return rc == MIG_P_OK ? 0 : mig_apply_failed(a, rc);
    }
    return 0;
}

static int h_txn_commit(void *ctx, struct mig_vm *vm, uint32_t ph)
{
    struct apply *a = ctx;
    (void)vm;
    (void)ph;
    int rc = mig_proto_commit(&a->p);
    return rc == MIG_P_OK ? 0 : mig_apply_failed(a, rc);
}

static int h_phase_end(void *ctx, struct mig_vm *vm, uint32_t ph)
{
    struct apply *a = ctx;
    (void)vm;
    const struct mig_pphase *p = mig_apply_phase(a, ph);
    struct mig_dberr e;
    a->c.phase = a->c.step = MIG_NONE;
    if (p->txn == MIG_TXN_NONE && (p->timeout_ms || p->lock_timeout_ms) && !a->c.s.conn->pooled)
        a->c.s.conn->drv->set_timeouts(a->c.s.conn, 0, 0, &e);
    return 0;
}

static const struct mig_host apply_host = {
    .require = mig_ctx_require, .phase = h_phase, .phase_when = h_phase_when, .txn_begin = h_txn_begin,
    .step = h_step, .step_when = h_step_when, .up = h_up, .verify = h_verify, .step_end = h_step_end,
    .assert_ = h_assert, .txn_commit = h_txn_commit, .phase_end = h_phase_end, .exec = mig_apply_host_exec,
    .poll_wait = mig_apply_host_poll_wait,
};

/* ---- the command ----------------------------------------------------------------------------- */

static int preflight(struct apply *a, const uint32_t *pending, size_t npending, bool *recheck)
{
    struct mig_ctx *c = &a->c;
    const struct mig_plan *plan = c->plan;
    unsigned refused = mig_ctx_drift(c);
    for (size_t i = 0; i < npending; i++) {
        char why[512];
        if (!mig_ctx_target_ok(c, pending[i], why, sizeof(why)) ||
            !mig_ctx_pooled_ok(c, pending[i], why, sizeof(why))) {
            mig_report_error(&c->s.rep, "%s:%u: %s", S(a, plan->migrations[pending[i]].file),
                             plan->migrations[pending[i]].line, why);
            refused++;
        }
    }
    if (refused == 0 && npending) {
        if (mig_vm_run(&c->vm, plan->globals_block, 0) != 0) {
            mig_ctx_failure(c, "evaluating the file-level lets failed: ");
            return -1;
        }
        /* A migration waiting (after) for another one pending in this run
         * may require what that one creates: its requires are checked again
         * when its turn comes instead of refusing the run now. */
        for (size_t i = 0; i < npending; i++) {
            const struct mig_pmigration *m = &plan->migrations[pending[i]];
            const char *waits_for = NULL;
            for (uint32_t k = 0; k < m->nafter && !waits_for; k++)
                for (size_t j = 0; j < i; j++)
                    if (strcmp(S(a, m->after[k]), S(a, plan->migrations[pending[j]].name)) == 0) {
                        waits_for = S(a, m->after[k]);
                        break;
                    }
            if (mig_ctx_prologue(c, pending[i], !waits_for) == 0)
                continue;
            if (waits_for) {
                recheck[pending[i]] = true;
                mig_report_note(&c->s.rep, "the requires of %s do not hold yet; they are checked again after %s runs",
                                S(a, m->name), waits_for);
            } else {
                refused++;
            }
        }
    }
    if (refused) {
        mig_report_error(&c->s.rep, "preflight refused the run; nothing was changed");
        return -1;
    }
    return 0;
}

/* Runs a migration's body; a transient error of a phase with `retry`
 * runs the body again (its committed steps are skipped). */
static int run_body(struct apply *a, uint32_t mi, int64_t *retries)
{
    const struct mig_plan *plan = a->c.plan;
    int vrc;
    while ((vrc = mig_vm_run(&a->c.vm, plan->migrations[mi].body, mi)) != 0 && a->c.vm.has_dberr &&
           a->c.vm.dberr.transient && !a->c.vm.dberr.connection_lost && a->proto_rc == MIG_P_FAIL &&
           !mig_signals && a->c.phase != MIG_NONE && retries[a->c.phase] < plan->phases[a->c.phase].retry) {
        const struct mig_pphase *ph = &plan->phases[a->c.phase];
        mig_proto_abort(&a->p);
        retries[a->c.phase]++;
        mig_report_note(&a->c.s.rep, "retry %" PRId64 "/%" PRId64 " of phase %s in %" PRId64 " ms after a transient "
                        "error: %s%s%s%s", retries[a->c.phase], ph->retry, S(a, ph->name), ph->retry_every_ms,
                        a->c.vm.dberr.message, a->c.vm.dberr.sqlstate[0] ? " (SQLSTATE " : "", a->c.vm.dberr.sqlstate,
                        a->c.vm.dberr.sqlstate[0] ? ")" : "");
        mig_report_event(&a->c.s.rep, NULL, "{s:s,s:s,s:I,s:s}", "event", "retry", "phase", S(a, ph->name),
                         "attempt", (json_int_t)retries[a->c.phase], "error", a->c.vm.dberr.message);
        mig_sleep_ms(ph->retry_every_ms);
        a->c.phase = a->c.step = MIG_NONE;
        a->proto_rc = 0;
    }
    return vrc;
}

/* Migration mi finished (every step applied or skipped, all committed): the
 * session forgets its rows — a run holds the rows of the migration running,
 * not of all it applied — keeping what failover.c needs of them. */
static void finish_migration(struct apply *a, uint32_t mi)
{
    struct mig_session *s = &a->c.s;
    if (a->keep_rows)
        return;
    if (a->p.txn_open || a->p.pending.n || a->p.unknown.n || !s->finished || mi >= s->nfinished) {
        /* (not expected after a migration succeeded) its rows cannot be
         * told from the next one's: none is forgotten from now on */
        a->keep_rows = true;
        return;
    }
    /* (only a run that may go on after a failover compares them) */
    bool failover = s->conn->drv->dialect == MIG_D_POSTGRES && s->o->reconnect_timeout_ms > 0;
    for (size_t k = 0; k < a->p.committed.n && failover; k++) {
        struct mig_tracked *t = a->p.committed.v[k];
        if (mig_session_by_uid(s, t->uid) != t)
            continue;
        struct apply_done d = { .status = t->status, .migration = t->migration, .phase = t->phase, .step = t->step };
        snprintf(d.uid, sizeof(d.uid), "%s", t->uid);
        MIG_PUSH(&s->arena, a->done, d);
    }
    a->p.committed.n = 0;
    mig_session_forget_transient(s);
    s->finished[mi] = true;
    mig_arena_free(&a->rows);
}

int mig_cmd_apply(struct mig_plan *plan, const struct mig_run_opts *o)
{
    struct apply aa, *a = &aa;
    memset(a, 0, sizeof(*a));
    mig_ctx_init(&a->c, plan);
    int rc = MIG_EXIT_REFUSED, last_mig, last_phase;
    a->c.s.o = o;
    if (mig_ctx_parse_to(&a->c, o->to, &last_mig, &last_phase) != 0 || mig_ctx_params(&a->c, o) != 0)
        return MIG_EXIT_USAGE;
    if ((rc = mig_session_open(&a->c.s, o, MIG_NEEDS_WRITE)) != 0 || mig_ctx_vm(&a->c, &apply_host, a) != 0) {
        rc = rc ? rc : MIG_EXIT_REFUSED;
        goto out;
    }
    rc = MIG_EXIT_REFUSED;
    struct mig_session *s = &a->c.s;
    mig_proto_init(&a->p, s, "apply");
    s->row_arena = &a->rows;
    s->nfinished = plan->nmigrations;
    s->finished = mig_arena_alloc(&s->arena, (plan->nmigrations + 1) * sizeof(bool));
    a->deferred = mig_arena_alloc(&s->arena, (plan->nsteps + 1) * sizeof(bool));
    if (last_phase >= 0) {
        const struct mig_pmigration *m = &plan->migrations[last_mig];
        for (uint32_t p = (uint32_t)last_phase + 1; p < m->first_phase + m->nphases; p++)
            for (uint32_t k = 0; k < plan->phases[p].nsteps; k++)
                a->deferred[plan->phases[p].first_step + k] = true;
    }
    MIG_VEC(uint32_t) pending = { 0 };
    for (uint32_t i = 0; i <= (uint32_t)last_mig && i < plan->nmigrations; i++)
        if (!mig_ctx_migration_done(&a->c, i))
            MIG_PUSH(&s->arena, pending, i);
    bool *recheck = mig_arena_alloc(&s->arena, (plan->nmigrations + 1) * sizeof(bool));
    int64_t *retries = mig_arena_alloc(&s->arena, (plan->nphases + 1) * sizeof(int64_t));
    if (mig_exec_preflight(s, plan, o->allow_exec) != 0 || preflight(a, pending.v, pending.n, recheck) != 0)
        goto out;
    if (pending.n == 0) {
        mig_report_note(&s->rep, "nothing to do: %s is up to date (%u migration%s applied)", s->conn->display,
                        plan->nmigrations, plan->nmigrations == 1 ? "" : "s");
        rc = MIG_EXIT_OK;
        goto out;
    }
    if (mig_proto_start(&a->p) != 0)
        goto out;
    a->c.vm.conn = s->conn;     /* (a lost connection there was made again) */
    mig_report_note(&s->rep, "applying %zu migration%s to %s (run %" PRId64 ")", pending.n, pending.n == 1 ? "" : "s",
                    s->conn->display, a->p.run);
    int64_t t0 = mig_now_ms();
    rc = MIG_EXIT_OK;
    bool resumed = false;       /* going on with the same migration after a lost connection (failover.c) */
    for (size_t i = 0; i < pending.n;) {
        uint32_t mi = pending.v[i];
        a->c.mig = mi;
        a->c.phase = a->c.step = MIG_NONE;
        if (!resumed)
            a->p.committed.n = 0;
        /* the texts of the records of the migration before are in the
         * tracking rows and the journal now (and in the session's copies) */
        if (!resumed && !a->p.txn_open && a->p.pending.n == 0 && a->p.unknown.n == 0)
            mig_arena_free(&a->work);
        resumed = false;
        a->proto_rc = 0;
        mig_report_migration(&s->rep, "migration", S(a, plan->migrations[mi].name), S(a, plan->migrations[mi].file),
                             plan->migrations[mi].line);
        if (recheck[mi] && mig_ctx_prologue(&a->c, mi, true) != 0) {
            mig_report_error(&s->rep, "refused: the requires of %s still fail after the migrations it comes after "
                             "ran; those stay applied, nothing of %s was changed", S(a, plan->migrations[mi].name),
                             S(a, plan->migrations[mi].name));
            rc = MIG_EXIT_REFUSED;
            break;
        }
        if (run_body(a, mi, retries) == 0) {
            i++;
            if (i < pending.n)
                finish_migration(a, mi);
            continue;
        }
        long from = mig_apply_failover(a, pending.v, i);
        if (from >= 0) {
            resumed = (size_t)from == i;
            i = (size_t)from;
            continue;
        }
        rc = from == -2 ? MIG_EXIT_DIRTY : mig_apply_failure(a, mi);
        break;
    }
    /* rolled_back: nothing of the run stays applied (the rows of finished
     * migrations are forgotten: counted) */
    bool left = s->forgotten_live > 0;
    for (size_t i = 0; i < s->rows.n && !left; i++)
        left = s->rows.v[i]->run == a->p.run && mig_session_by_uid(s, s->rows.v[i]->uid) == s->rows.v[i];
    const char *outcome = rc == MIG_EXIT_OK ? "success" : rc == MIG_EXIT_REFUSED ? "refused"
                        : rc == MIG_EXIT_FAILED && !o->on_error_stop && !left ? "rolled_back" : "failed";
    mig_proto_finish(&a->p, outcome);
    if (rc != MIG_EXIT_OK && a->p.run > 0)
        mig_report_event(&s->rep, NULL, "{s:s,s:I,s:s,s:i,s:I,s:I}", "event", "done", "run", (json_int_t)a->p.run,
                         "outcome", outcome, "exit", rc, "applied", (json_int_t)a->p.applied, "skipped",
                         (json_int_t)a->p.skipped);
    if (rc == MIG_EXIT_OK) {
        char text[128];
        snprintf(text, sizeof(text), "done: %u step%s applied, %u skipped in %" PRId64 " ms", a->p.applied,
                 a->p.applied == 1 ? "" : "s", a->p.skipped, mig_now_ms() - t0);
        mig_report_event(&s->rep, text, "{s:s,s:I,s:I,s:I,s:I}", "event", "done", "run", (json_int_t)a->p.run,
                         "applied", (json_int_t)a->p.applied, "skipped", (json_int_t)a->p.skipped, "ms",
                         (json_int_t)(mig_now_ms() - t0));
    }
out:
    a->c.s.row_arena = NULL;
    mig_ctx_close(&a->c);
    mig_arena_free(&a->work);
    mig_arena_free(&a->rows);
    return rc;
}
