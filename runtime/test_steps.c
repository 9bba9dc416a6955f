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
#include <strings.h>

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
    if (t->unknown && strcmp(outcome, "ok") == 0) {
        outcome = "untested";
        reason = mig_arena_printf(&t->c.s.arena, "%s: its pair, tested %s, inverts", t->unknown, t->as_if);
    } else if (t->unknown) {
        reason = mig_arena_printf(&t->c.s.arena, "%s (tested %s: %s)", reason ? reason : "", t->as_if, t->unknown);
    }
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
        t->changed += rows;
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

/* An up that fails stops the test: what comes after depends on it —
 * unless it ran only as if a condition that needs a command held (or with
 * a command's output empty): then it is reported untested and the test
 * goes on as if it had not run — at once when it was rolled back (clean),
 * else from a fresh copy (cmd_test.c) where it does not run. */
static int up_failed(struct mig_test *t, uint32_t si, const struct mig_dberr *e, int64_t t0, bool clean)
{
    if (mig_test_signalled(t))
        return -1;      /* canceled by the signal: not the step's fault */
    if (t->unknown && t->skip) {
        const char *why = mig_arena_printf(&t->c.s.arena, "%s: its up, run %s, failed; the test goes on as if it "
                                           "had not run", t->unknown, t->as_if);
        t->unknown = NULL;
        result(t, si, "untested", why, "the up", e, mig_now_ms() - t0, NULL);
        t->skip[si] = true;
        if (clean)
            return 0;
        t->restart = true;
        t->restart_step = si;
        return -1;
    }
    result(t, si, "failed", "the up failed", "the up", e, mig_now_ms() - t0, NULL);
    mig_test_stop(t, "the up of %s failed", mig_test_step_name(t, si));
    return -1;
}

/* Whether a body that failed outside a transaction changed nothing: its
 * first statement failed (a statement is atomic; not a batch step's later
 * round, not CONCURRENTLY, whose failure leaves an invalid index). */
static bool unchanged(const struct mig_pstep *st, const char *sql, const struct mig_dberr *e)
{
    if (e->stmts_done != 0 || st->batch)
        return false;
    for (const char *p = sql; *p; p++)
        if (strncasecmp(p, "concurrently", 12) == 0)
            return false;
    return true;
}

/* An up run without its down (irreversible, a command as its down). */
static int up_alone(struct mig_test *t, uint32_t si, const char *up, const char *outcome, const char *reason)
{
    struct mig_dberr e;
    int64_t t0 = mig_now_ms();
    if (mig_snapper_step(t->snap, false, &e) != 0)
        return snapshot_failed(t, &e);
    if (run_alone(t, si, up, &e) != 0)
        return up_failed(t, si, &e, t0, t->plan->phases[t->plan->steps[si].phase].txn != MIG_TXN_NONE ||
                                        unchanged(&t->plan->steps[si], up, &e));
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
        return up_failed(t, si, &e, t0, false);
    if (run_sql(t, st, up, &e) != 0) {
        if (txn)
            c->drv->rollback(c, &e2);
        return up_failed(t, si, &e, t0, txn || unchanged(st, up, &e));
    }
    if (txn && c->drv->txn_status(c) == MIG_TX_IDLE) {
        memset(&e, 0, sizeof(e));
        snprintf(e.message, sizeof(e.message), "the body ended mig's transaction (a COMMIT, ROLLBACK or END in it)");
        return up_failed(t, si, &e, t0, false);
    }
    if (mig_test_signalled(t) || mig_snapper_after_up(t->snap, txn ? "SAVEPOINT mig_test_pair" : NULL, &e) != 0) {
        if (txn)
            c->drv->rollback(c, &e2);
        return t->interrupted ? -1 : snapshot_failed(t, &e);
    }
    const char *what = NULL;
    memset(&t->diffs, 0, sizeof(t->diffs));
    /* (SQLite: whether the state after the up again may stand for it) */
    bool may_keep = txn && c->drv->dialect == MIG_D_SQLITE && mig_snapper_may_keep(t->snap, down);
    t->changed = 0;     /* (rows changed by the down and the up again) */
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
    int same = 0;           /* the state after the up again is the state after the up */
    if (may_keep && !what && !t->diffs.n && t->changed == 0 && c->drv->txn_status(c) != MIG_TX_IDLE &&
        (same = mig_snapper_same_as_up(t->snap, &e)) < 0) {
        c->drv->rollback(c, &e2);
        return snapshot_failed(t, &e);
    }
    if (same == 1) {
        if (c->drv->commit(c, &e) != 0) {
            c->drv->rollback(c, &e2);
            fresh = true;
        } else {
            mig_snapper_keep_up(t->snap);
        }
    } else if (txn) {
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

static bool interpolates(const struct mig_plan *plan, uint32_t query)
{
    if (query == MIG_NONE)
        return false;
    for (uint32_t i = 0; i < plan->queries[query].nvariants; i++)
        if (plan->queries[query].v[i].ninterps)
            return true;
    return false;
}

/* What is not known of step si because it needs a command (t->unknown,
 * t->as_if; NULL: nothing). */
static void unknowns(struct mig_test *t, uint32_t si)
{
    const struct mig_pstep *st = &t->plan->steps[si];
    struct mig_arena *a = &t->c.s.arena;
    const char *not_run = "which migrun test does not run";
    bool values = interpolates(t->plan, st->up) || interpolates(t->plan, st->down);
    t->unknown = t->as_if = NULL;
    if (t->when_step == si) {
        t->unknown = mig_arena_printf(a, "its when runs a command (%s), %s", t->when_step_cmd, not_run);
        t->as_if = "as if the when held";
    } else if (t->when_phase == st->phase) {
        t->unknown = mig_arena_printf(a, "the when of its phase runs a command (%s), %s", t->when_phase_cmd, not_run);
        t->as_if = "as if the when held";
    } else if (values && t->lets_mig == st->migration) {
        t->unknown = mig_arena_printf(a, "a value of its migration uses the output of a command (%s), %s", t->lets_cmd,
                                      not_run);
        t->as_if = "with that output empty";
    } else if (values && t->globals_cmd[0]) {
        t->unknown = mig_arena_printf(a, "a file-level let uses the output of a command (%s), %s", t->globals_cmd,
                                      not_run);
        t->as_if = "with that output empty";
    }
}

/* "its up runs a command (exec pg_dump …), which migrun test does not run" */
static const char *command(struct mig_test *t, struct mig_vm *vm, const char *half, uint32_t exec)
{
    struct mig_exec_args args;
    char *text = NULL;
    if (mig_vm_exec_args(vm, exec, &args) == 0) {
        text = mig_exec_args_text(&args);
        mig_exec_args_free(&args);
    }
    vm->not_evaluated = false;
    const char *why = mig_arena_printf(&t->c.s.arena, "%s runs a command (exec%s%s), which migrun test does not run",
                                       half, text ? " " : "", text ? text : "");
    free(text);
    return why;
}

static int t_up(void *ctx, struct mig_vm *vm, uint32_t si)
{
    struct mig_test *t = ctx;
    t->c.step = si;
    if (mig_test_signalled(t))
        return -1;
    const struct mig_pstep *st = &t->plan->steps[si];
    uint32_t mi = st->migration;
    unknowns(t, si);
    snprintf(t->c.s.where, sizeof(t->c.s.where), "step %s", mig_test_step_name(t, si));
    bool range = mig_test_in_range(t, mi), replaying = t->replay_until != MIG_NONE;
    if (range && t->seed_sql && !t->seeded && load_seed(t) != 0)
        return -1;
    if (replaying && t->skip && t->skip[si]) {
        if (si >= t->replay_until)
            t->replay_until = MIG_NONE;
        return 0;
    }
    bool none = false;
    if (mig_pstep_up_kind(st) == MIG_ACTION_EXEC) {
        if (range && !replaying)
            result(t, si, "untested", command(t, vm, "its up", st->up_exec), NULL, NULL, 0, NULL);
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
            return up_failed(t, si, &e, mig_now_ms(), true);
        mig_test_stop(t, "%s", e.message);
        return -1;
    }
    if (!up)
        return -1;
    if (!range || replaying) {
        /* a step before --from, or one a fresh copy needs again: its up
         * only (not one whose up failed as if its when held: up_failed) */
        struct mig_dberr e;
        if (run_alone(t, si, up, &e) != 0) {
            if (mig_test_signalled(t))
                return -1;
            if (t->unknown && !replaying) {
                /* before --from, as when tested: as if it had not run */
                bool txn = t->plan->phases[st->phase].txn != MIG_TXN_NONE || unchanged(st, up, &e);
                mig_report_note(&t->c.s.rep, "the up of %s (before the steps tested) failed, run %s: %s; %s",
                                mig_test_step_name(t, si), t->as_if, e.message,
                                txn ? "going on as if it had not run" : "going on from a fresh copy without it");
                t->skip[si] = true;
                if (txn)
                    return 0;
                t->restart = true;
                t->restart_step = si;
                return -1;
            }
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
        return up_alone(t, si, up, "untested", command(t, vm, "its down", st->down_exec));
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
        return up_failed(t, si, &e, mig_now_ms(), true);
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

/* A when that needs a command is not known: the steps are tested as if it
 * held (the VM says so with not_evaluated). */
static int t_phase_when(void *ctx, struct mig_vm *vm, uint32_t ph, bool ok)
{
    struct mig_test *t = ctx;
    t->c.phase = ph;
    if (vm->not_evaluated) {
        vm->not_evaluated = false;
        t->when_phase = ph;
        snprintf(t->when_phase_cmd, sizeof(t->when_phase_cmd), "%s", t->cmd);
        return 0;
    }
    if (ok)
        return 0;
    for (uint32_t i = 0; i < t->plan->phases[ph].nsteps; i++)
        skipped(t, t->plan->phases[ph].first_step + i, "the phase's when is false");
    return 1;
}

static int t_step_when(void *ctx, struct mig_vm *vm, uint32_t si, bool ok)
{
    struct mig_test *t = ctx;
    if (vm->not_evaluated) {
        vm->not_evaluated = false;
        t->when_step = si;
        snprintf(t->when_step_cmd, sizeof(t->when_step_cmd), "%s", t->cmd);
        return 0;
    }
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

/* (requires are not checked: the copy is not the production database) */
static int t_require(void *ctx, struct mig_vm *vm, uint32_t check, bool ok)
{
    vm->not_evaluated = false;
    return mig_ctx_require(ctx, vm, check, ok);
}

/* No command runs: a condition or a value that needs one is not known
 * (the VM carries on with false or "" and sets vm->not_evaluated). */
static int t_exec(void *ctx, struct mig_vm *vm, const struct mig_exec_args *a, bool want_output, bool *ok,
                  char **output)
{
    struct mig_test *t = ctx;
    (void)vm;
    (void)output;
    char *text = mig_exec_args_text(a);
    snprintf(t->cmd, sizeof(t->cmd), "%sexec %s", want_output ? "output " : "", text ? text : a->argv[0]);
    free(text);
    /* (an output exec of the lets, whose value the SQL may interpolate) */
    if (want_output && t->values && !t->values_cmd[0])
        snprintf(t->values_cmd, sizeof(t->values_cmd), "%s", t->cmd);
    *ok = false;
    return 2;
}

const struct mig_host mig_test_host = {
    .require = t_require, .phase = t_phase, .checks = t_checks, .phase_when = t_phase_when,
    .step = t_step, .step_when = t_step_when, .up = t_up, .exec = t_exec,
};
