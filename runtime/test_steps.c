/* test_steps.c — the host of migrun test: for each step, the reference
 * state, the up, a reading, the down, a reading compared with the
 * reference, the up again; then the state after the up, restored with a
 * savepoint in a transaction, or by a fresh copy (cmd_test.c) outside one.
 * An up that fails stops the test; steps that cannot be tested (a command,
 * an irreversible down) are reported as such. */
#include "test_run.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool mig_test_signalled(struct mig_test *t)
{
    if (mig_signals)
        t->interrupted = true;
    return t->interrupted;
}

void mig_test_stop(struct mig_test *t, const char *fmt, ...)
{
    if (t->stopped)
        return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    t->stopped = strdup(buf);
}

bool mig_test_in_range(const struct mig_test *t, uint32_t mi)
{
    return (t->from < 0 || (int)mi >= t->from) && (t->only < 0 || (int)mi == t->only);
}

const char *mig_test_step_name(struct mig_test *t, uint32_t si)
{
    const struct mig_pstep *st = &t->plan->steps[si];
    return mig_arena_printf(&t->c.s.arena, "%s.%s.%s", S(t, t->plan->migrations[st->migration].name),
                            S(t, t->plan->phases[st->phase].name), S(t, st->name));
}

static void result(struct mig_test *t, uint32_t si, const char *outcome, const char *reason, const char *what,
                   const struct mig_dberr *e, int64_t ms, const struct mig_diffs *d)
{
    if (t->reported != MIG_NONE && si <= t->reported)
        return;     /* reported before a fresh copy was made */
    t->reported = si;
    const struct mig_pstep *st = &t->plan->steps[si];
    struct mig_test_result r = {
        .migration = S(t, t->plan->migrations[st->migration].name), .phase = S(t, t->plan->phases[st->phase].name),
        .step = S(t, st->name), .file = S(t, st->file), .line = st->line, .outcome = outcome, .reason = reason,
        .error = e ? e->message : NULL, .error_what = what, .ms = ms, .diffs = d ? d->v : NULL,
        .ndiffs = d ? d->n : 0,
    };
    char msg[1400];
    if (e && e->sqlstate[0]) {
        snprintf(msg, sizeof(msg), "%s (SQLSTATE %s)", e->message, e->sqlstate);
        r.error = msg;
    }
    mig_test_log_add(&t->log, &t->c.s.rep, t->o->junit, &r);
}

/* ---- running SQL --------------------------------------------------------------------------- */

/* Runs a body (a batch step's until it changes no rows, or max times). */
static int run_sql(struct mig_test *t, const struct mig_pstep *st, const char *sql, struct mig_dberr *e)
{
    struct mig_conn *c = t->c.s.conn;
    for (int64_t iter = 0;; iter++) {
        int64_t rows = 0;
        if (c->drv->exec(c, sql, &rows, e) != 0)
            return -1;
        if (!st->batch || rows == 0 || (st->batch_max && iter + 1 >= st->batch_max) || mig_signals)
            return 0;
    }
}

/* Runs a body as apply would: in a transaction unless its phase has none. */
static int run_alone(struct mig_test *t, uint32_t si, const char *sql, struct mig_dberr *e)
{
    const struct mig_pstep *st = &t->plan->steps[si];
    const struct mig_pphase *ph = &t->plan->phases[st->phase];
    struct mig_conn *c = t->c.s.conn;
    struct mig_dberr e2;
    bool txn = ph->txn != MIG_TXN_NONE;
    if (txn && c->drv->begin(c, ph->timeout_ms, ph->lock_timeout_ms, e) != 0)
        return -1;
    if (run_sql(t, st, sql, e) != 0) {
        if (txn)
            c->drv->rollback(c, &e2);
        return -1;
    }
    if (txn && c->drv->txn_status(c) == MIG_TX_IDLE) {
        memset(e, 0, sizeof(*e));
        snprintf(e->message, sizeof(e->message), "the body ended mig's transaction (a COMMIT, ROLLBACK or END in it)");
        return -1;
    }
    return txn ? c->drv->commit(c, e) : 0;
}

static char *render(struct mig_test *t, struct mig_vm *vm, uint32_t query, bool *none)
{
    const struct mig_pvariant *v = mig_plan_variant(t->plan, query, t->c.s.conn->drv->dialect);
    *none = !v;
    if (!v)
        return NULL;
    char *sql = mig_vm_render(vm, v, NULL);
    if (!sql)
        return NULL;
    char *copy = mig_arena_strdup(&t->c.s.arena, sql);
    free(sql);
    return copy;
}

static int snapshot_failed(struct mig_test *t, const struct mig_dberr *e)
{
    if (mig_test_signalled(t))
        return -1;
    mig_report_error(&t->c.s.rep, "cannot read the schema of the scratch database: %s", e->message);
    mig_test_stop(t, "cannot read the schema of the scratch database");
    return -1;
}

/* An up that fails stops the test: what comes after depends on it. */
static int up_failed(struct mig_test *t, uint32_t si, const struct mig_dberr *e, int64_t t0)
{
    if (mig_test_signalled(t))
        return -1;      /* canceled by the signal: not the step's fault */
    result(t, si, "failed", "the up failed", "the up", e, mig_now_ms() - t0, NULL);
    mig_test_stop(t, "the up of %s failed", mig_test_step_name(t, si));
    return -1;
}

/* An up run without its down (irreversible, a command as its down). */
static int up_alone(struct mig_test *t, uint32_t si, const char *up, const char *outcome, const char *reason)
{
    struct mig_dberr e;
    int64_t t0 = mig_now_ms();
    if (mig_snapper_step(t->snap, false, &e) != 0)
        return snapshot_failed(t, &e);
    if (run_alone(t, si, up, &e) != 0)
        return up_failed(t, si, &e, t0);
    if (mig_snapper_sync(t->snap, &e) != 0)
        return snapshot_failed(t, &e);
    result(t, si, outcome, reason, NULL, NULL, mig_now_ms() - t0, NULL);
    return 0;
}

/* up, reading, down, comparison, up again; the state after the up stays. */
static int pair(struct mig_test *t, uint32_t si, const char *up, const char *down, bool down_none)
{
    const struct mig_pstep *st = &t->plan->steps[si];
    const struct mig_pphase *ph = &t->plan->phases[st->phase];
    struct mig_conn *c = t->c.s.conn;
    bool txn = ph->txn != MIG_TXN_NONE;
    struct mig_dberr e, e2, fe;
    int64_t t0 = mig_now_ms();
    if (mig_snapper_step(t->snap, txn, &e) != 0)
        return snapshot_failed(t, &e);
    if (txn && c->drv->begin(c, ph->timeout_ms, ph->lock_timeout_ms, &e) != 0)
        return up_failed(t, si, &e, t0);
    if (run_sql(t, st, up, &e) != 0) {
        if (txn)
            c->drv->rollback(c, &e2);
        return up_failed(t, si, &e, t0);
    }
    if (txn && c->drv->txn_status(c) == MIG_TX_IDLE) {
        memset(&e, 0, sizeof(e));
        snprintf(e.message, sizeof(e.message), "the body ended mig's transaction (a COMMIT, ROLLBACK or END in it)");
        return up_failed(t, si, &e, t0);
    }
    if (mig_test_signalled(t) || mig_snapper_after_up(t->snap, txn ? "SAVEPOINT mig_test_pair" : NULL, &e) != 0) {
        if (txn)
            c->drv->rollback(c, &e2);
        return t->interrupted ? -1 : snapshot_failed(t, &e);
    }
    const char *what = NULL;
    memset(&t->diffs, 0, sizeof(t->diffs));
    if (run_sql(t, st, down, &fe) != 0) {
        what = "the down";
    } else if (txn && c->drv->txn_status(c) == MIG_TX_IDLE) {
        memset(&fe, 0, sizeof(fe));
        snprintf(fe.message, sizeof(fe.message), "the body ended mig's transaction (a COMMIT, ROLLBACK or END in it)");
        what = "the down";
    } else {
        if (mig_snapper_compare(t->snap, &t->diffs, &e) != 0) {
            if (txn)
                c->drv->rollback(c, &e2);
            return snapshot_failed(t, &e);
        }
        if (run_sql(t, st, up, &fe) != 0)
            what = "the up, run again after the down,";
    }
    if (mig_test_signalled(t)) {
        if (txn)
            c->drv->rollback(c, &e2);
        return -1;
    }
    bool fresh = false;     /* the state after the up cannot be restored in place */
    if (txn) {
        if (c->drv->txn_status(c) == MIG_TX_IDLE ||
            mig_snapper_exec_forget(t->snap, "ROLLBACK TO SAVEPOINT mig_test_pair", &e) != 0 || c->drv->commit(c, &e) != 0) {
            c->drv->rollback(c, &e2);
            fresh = true;
        } else {
            mig_snapper_keep_up(t->snap);
        }
    } else if (what || t->diffs.n) {
        fresh = true;
    } else if (mig_snapper_sync(t->snap, &e) != 0) {
        return snapshot_failed(t, &e);
    }
    int64_t ms = mig_now_ms() - t0;
    if (!what && !t->diffs.n)
        result(t, si, "ok", NULL, NULL, NULL, ms, NULL);
    else
        result(t, si, "failed", what && strcmp(what, "the down") == 0 ? "the down failed"
                              : t->diffs.n && down_none ? "its down is none, but the up changes the database"
                              : t->diffs.n ? "the down does not undo the up"
                              : "the up failed when run again after the down", what, what ? &fe : NULL, ms, &t->diffs);
    if (fresh) {
        t->restart = true;
        t->restart_step = si;
        return -1;
    }
    return 0;
}

/* ---- the host ------------------------------------------------------------------------------ */

static int load_seed(struct mig_test *t)
{
    struct mig_conn *c = t->c.s.conn;
    struct mig_dberr e, e2;
    t->seeded = true;
    if (c->drv->begin(c, 0, 0, &e) == 0 && c->drv->exec(c, t->seed_sql, NULL, &e) == 0 && c->drv->commit(c, &e) == 0)
        return 0;
    c->drv->rollback(c, &e2);
    mig_report_error(&t->c.s.rep, "the seed data %s failed: %s", t->o->seed, e.message);
    mig_test_stop(t, "the seed data %s failed", t->o->seed);
    t->usage = true;
    return -1;
}

static int t_up(void *ctx, struct mig_vm *vm, uint32_t si)
{
    struct mig_test *t = ctx;
    t->c.step = si;
    if (mig_test_signalled(t))
        return -1;
    const struct mig_pstep *st = &t->plan->steps[si];
    uint32_t mi = st->migration;
    snprintf(t->c.s.where, sizeof(t->c.s.where), "step %s", mig_test_step_name(t, si));
    bool range = mig_test_in_range(t, mi), replaying = t->replay_until != MIG_NONE;
    if (range && t->seed_sql && !t->seeded && load_seed(t) != 0)
        return -1;
    bool none = false;
    if (mig_pstep_up_kind(st) == MIG_ACTION_EXEC) {
        if (range && !replaying)
            result(t, si, "untested", "its up runs a command (exec), which migrun test does not run", NULL, NULL, 0,
                   NULL);
        if (replaying && si >= t->replay_until)
            t->replay_until = MIG_NONE;
        return 0;
    }
    char *up = render(t, vm, st->up, &none);
    if (!up && none) {
        struct mig_dberr e;
        memset(&e, 0, sizeof(e));
        snprintf(e.message, sizeof(e.message), "step %s has no up SQL for %s", S(t, st->name),
                 t->c.s.conn->drv->name);
        if (range && !replaying)
            return up_failed(t, si, &e, mig_now_ms());
        mig_test_stop(t, "%s", e.message);
        return -1;
    }
    if (!up)
        return -1;
    if (!range || replaying) {
        /* a step before --from, or one a fresh copy needs again: its up only */
        struct mig_dberr e;
        if (run_alone(t, si, up, &e) != 0) {
            if (mig_test_signalled(t))
                return -1;
            mig_report_error(&t->c.s.rep, "the up of %s failed %s: %s", mig_test_step_name(t, si),
                             replaying ? "when run again in a fresh copy" : "(before the steps tested)", e.message);
            mig_test_stop(t, "the up of %s failed", mig_test_step_name(t, si));
            return -1;
        }
        if (replaying && si >= t->replay_until)
            t->replay_until = MIG_NONE;
        return mig_test_signalled(t) ? -1 : 0;
    }
    if (!t->have_ref) {
        struct mig_dberr e;
        if (mig_snapper_reset(t->snap, &e) != 0)
            return snapshot_failed(t, &e);
        t->have_ref = true;
    }
    switch (mig_pstep_down_kind(st)) {
    case MIG_DOWN_IRREVERSIBLE:
        return up_alone(t, si, up, "irreversible",
                        mig_arena_printf(&t->c.s.arena, "its down is irreversible: %s", S(t, st->irreversible)));
    case MIG_DOWN_EXEC:
        return up_alone(t, si, up, "untested", "its down runs a command (exec), which migrun test does not run");
    case MIG_DOWN_NONE:
        return pair(t, si, up, "", true);
    default:
        break;
    }
    char *down = render(t, vm, st->down, &none);
    if (!down && none) {
        struct mig_dberr e;
        memset(&e, 0, sizeof(e));
        snprintf(e.message, sizeof(e.message), "step %s has no down SQL for %s", S(t, st->name),
                 t->c.s.conn->drv->name);
        return up_failed(t, si, &e, mig_now_ms());
    }
    if (!down)
        return -1;
    return pair(t, si, up, down, false);
}

static void skipped(struct mig_test *t, uint32_t si, const char *why)
{
    const struct mig_pstep *st = &t->plan->steps[si];
    if (mig_test_in_range(t, st->migration) && t->replay_until == MIG_NONE)
        result(t, si, "skipped", why, NULL, NULL, 0, NULL);
    if (t->replay_until != MIG_NONE && si >= t->replay_until)
        t->replay_until = MIG_NONE;
}

static int t_phase_when(void *ctx, struct mig_vm *vm, uint32_t ph, bool ok)
{
    struct mig_test *t = ctx;
    (void)vm;
    t->c.phase = ph;
    if (ok)
        return 0;
    for (uint32_t i = 0; i < t->plan->phases[ph].nsteps; i++)
        skipped(t, t->plan->phases[ph].first_step + i, "the phase's when is false");
    return 1;
}

static int t_step_when(void *ctx, struct mig_vm *vm, uint32_t si, bool ok)
{
    (void)vm;
    if (!ok)
        skipped(ctx, si, "its when is false");
    return ok ? 0 : 1;
}

/* A step the copy of the database records as applied (or skipped) is not
 * run again: its pair is not tested (--empty tests the whole history). */
static int t_step(void *ctx, struct mig_vm *vm, uint32_t si)
{
    struct mig_test *t = ctx;
    (void)vm;
    if (!mig_ctx_step_done(&t->c, si))
        return 0;
    if (t->replay_until == MIG_NONE)
        t->already++;
    else if (si >= t->replay_until)
        t->replay_until = MIG_NONE;
    return 1;
}

static int t_checks(void *ctx, struct mig_vm *vm)
{
    (void)ctx;
    (void)vm;
    return 1;
}

static int t_phase(void *ctx, struct mig_vm *vm, uint32_t ph)
{
    struct mig_test *t = ctx;
    (void)vm;
    t->c.phase = ph;
    t->c.step = MIG_NONE;
    return 0;
}

const struct mig_host mig_test_host = {
    .require = mig_ctx_require, .phase = t_phase, .checks = t_checks, .phase_when = t_phase_when,
    .step = t_step, .step_when = t_step_when, .up = t_up,
};
