/* cmd_test.c — migrun test: proves that every down undoes its up, in a
 * throwaway copy of the given database that it makes and removes itself
 * (test_scratch.c; the given database is only read). For every step, in
 * order: the reference state, the up, a reading, the down, a reading
 * compared with the reference (snapshot.c: schema, and rows with --data),
 * the up again; then the state after the up is restored — with a savepoint
 * where the step runs in a transaction (DDL is transactional on both
 * dialects), otherwise, when the pair failed, by making a fresh copy and
 * running the ups again up to that step. A failing pair is reported and
 * the test goes on; an up that fails stops it (what follows depends on
 * it). Steps that cannot be tested (irreversible, commands) are reported
 * as such. Writes no journal and no tracking rows. */
#include "context.h"
#include "snapshot.h"
#include "test_report.h"
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define S(x, s) mig_ctx_str(&(x)->c, (s))

struct test {
    struct mig_ctx c;
    struct mig_plan *plan;
    const struct mig_run_opts *o;
    struct mig_run_opts so;             /* o with the scratch database's URL */
    const struct mig_driver *drv;
    char *scratch_url, *scratch_name;
    bool copied, have_scratch, opened;
    struct mig_snapper *snap;
    bool tracked;
    char untracked[512];                /* why every reading reads the whole schema */
    struct mig_test_log log;
    char *seed_sql;
    int from, only;                     /* migration indexes (-1: none) */
    bool seeded, have_ref;
    uint32_t replay_until;              /* MIG_NONE, or the last step whose up runs again untested */
    uint32_t reported;                  /* the last step reported (MIG_NONE: none yet) */
    bool restart;                       /* start again from a fresh copy up to restart_step */
    uint32_t restart_step;
    unsigned restarts;
    char *stopped;                      /* why the test stopped early (malloc'd) */
    bool interrupted, usage;
    unsigned already;                   /* steps the copy records as applied: not run */
    struct mig_diffs diffs;
};

static int64_t prof[8];
#define P0() int64_t p0_ = mig_now_us()
#define P1(k) (prof[k] += mig_now_us() - p0_)
#include <time.h>
static int64_t mig_now_us(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000; }

static bool signalled(struct test *t)
{
    if (mig_signals)
        t->interrupted = true;
    return t->interrupted;
}

static void stop(struct test *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void stop(struct test *t, const char *fmt, ...)
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

static bool in_range(const struct test *t, uint32_t mi)
{
    return (t->from < 0 || (int)mi >= t->from) && (t->only < 0 || (int)mi == t->only);
}

static const char *step_name(struct test *t, uint32_t si)
{
    const struct mig_pstep *st = &t->plan->steps[si];
    return mig_arena_printf(&t->c.s.arena, "%s.%s.%s", S(t, t->plan->migrations[st->migration].name),
                            S(t, t->plan->phases[st->phase].name), S(t, st->name));
}

static void result(struct test *t, uint32_t si, const char *outcome, const char *reason, const char *what,
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
static int run_sql(struct test *t, const struct mig_pstep *st, const char *sql, struct mig_dberr *e)
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
static int run_alone(struct test *t, uint32_t si, const char *sql, struct mig_dberr *e)
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

static char *render(struct test *t, struct mig_vm *vm, uint32_t query, bool *none)
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

static int snapshot_failed(struct test *t, const struct mig_dberr *e)
{
    stop(t, "cannot read the schema of the scratch database: %s", e->message);
    return -1;
}

/* An up that fails stops the test: what comes after depends on it. */
static int up_failed(struct test *t, uint32_t si, const struct mig_dberr *e, int64_t t0)
{
    if (signalled(t))
        return -1;      /* canceled by the signal: not the step's fault */
    result(t, si, "failed", "the up failed", "the up", e, mig_now_ms() - t0, NULL);
    stop(t, "the up of %s failed", step_name(t, si));
    return -1;
}

/* An up run without its down (irreversible, a command as its down). */
static int up_alone(struct test *t, uint32_t si, const char *up, const char *outcome, const char *reason)
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
static int pair(struct test *t, uint32_t si, const char *up, const char *down, bool down_none)
{
    const struct mig_pstep *st = &t->plan->steps[si];
    const struct mig_pphase *ph = &t->plan->phases[st->phase];
    struct mig_conn *c = t->c.s.conn;
    bool txn = ph->txn != MIG_TXN_NONE;
    struct mig_dberr e, e2, fe;
    int64_t t0 = mig_now_ms();
    { P0();
    if (mig_snapper_step(t->snap, txn, &e) != 0)
        return snapshot_failed(t, &e);
    P1(0); }
    { P0();
    if (txn && c->drv->begin(c, ph->timeout_ms, ph->lock_timeout_ms, &e) != 0)
        return up_failed(t, si, &e, t0);
    P1(1); }
    P0();
    int urc = run_sql(t, st, up, &e);
    P1(2);
    if (urc != 0) {
        if (txn)
            c->drv->rollback(c, &e2);
        return up_failed(t, si, &e, t0);
    }
    if (txn && c->drv->txn_status(c) == MIG_TX_IDLE) {
        memset(&e, 0, sizeof(e));
        snprintf(e.message, sizeof(e.message), "the body ended mig's transaction (a COMMIT, ROLLBACK or END in it)");
        return up_failed(t, si, &e, t0);
    }
    int64_t q0 = mig_now_us();
    int arc = signalled(t) ? -1 : mig_snapper_after_up(t->snap, txn ? "SAVEPOINT mig_test_pair" : NULL, &e);
    prof[3] += mig_now_us() - q0;
    if (arc != 0) {
        if (txn)
            c->drv->rollback(c, &e2);
        return t->interrupted ? -1 : snapshot_failed(t, &e);
    }
    const char *what = NULL;
    memset(&t->diffs, 0, sizeof(t->diffs));
    q0 = mig_now_us();
    int drc = run_sql(t, st, down, &fe);
    prof[4] += mig_now_us() - q0;
    if (drc != 0) {
        what = "the down";
    } else if (txn && c->drv->txn_status(c) == MIG_TX_IDLE) {
        memset(&fe, 0, sizeof(fe));
        snprintf(fe.message, sizeof(fe.message), "the body ended mig's transaction (a COMMIT, ROLLBACK or END in it)");
        what = "the down";
    } else {
        q0 = mig_now_us();
        int crc = mig_snapper_compare(t->snap, &t->diffs, &e);
        prof[5] += mig_now_us() - q0;
        if (crc != 0) {
            if (txn)
                c->drv->rollback(c, &e2);
            return snapshot_failed(t, &e);
        }
        q0 = mig_now_us();
        if (run_sql(t, st, up, &fe) != 0)
            what = "the up, run again after the down,";
        prof[6] += mig_now_us() - q0;
    }
    if (signalled(t)) {
        if (txn)
            c->drv->rollback(c, &e2);
        return -1;
    }
    bool fresh = false;     /* the state after the up cannot be restored in place */
    q0 = mig_now_us();
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
    prof[7] += mig_now_us() - q0;
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

static int load_seed(struct test *t)
{
    struct mig_conn *c = t->c.s.conn;
    struct mig_dberr e, e2;
    t->seeded = true;
    if (c->drv->begin(c, 0, 0, &e) == 0 && c->drv->exec(c, t->seed_sql, NULL, &e) == 0 && c->drv->commit(c, &e) == 0)
        return 0;
    c->drv->rollback(c, &e2);
    mig_report_error(&t->c.s.rep, "the seed data %s failed: %s", t->o->seed, e.message);
    stop(t, "the seed data %s failed", t->o->seed);
    t->usage = true;
    return -1;
}

static int t_up(void *ctx, struct mig_vm *vm, uint32_t si)
{
    struct test *t = ctx;
    t->c.step = si;
    if (signalled(t))
        return -1;
    const struct mig_pstep *st = &t->plan->steps[si];
    uint32_t mi = st->migration;
    snprintf(t->c.s.where, sizeof(t->c.s.where), "step %s", step_name(t, si));
    bool range = in_range(t, mi), replaying = t->replay_until != MIG_NONE;
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
        stop(t, "%s", e.message);
        return -1;
    }
    if (!up)
        return -1;
    if (!range || replaying) {
        /* a step before --from, or one a fresh copy needs again: its up only */
        struct mig_dberr e;
        if (run_alone(t, si, up, &e) != 0) {
            if (signalled(t))
                return -1;
            mig_report_error(&t->c.s.rep, "the up of %s failed %s: %s", step_name(t, si),
                             replaying ? "when run again in a fresh copy" : "(before the steps tested)", e.message);
            stop(t, "the up of %s failed", step_name(t, si));
            return -1;
        }
        if (replaying && si >= t->replay_until)
            t->replay_until = MIG_NONE;
        return signalled(t) ? -1 : 0;
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

static void skipped(struct test *t, uint32_t si, const char *why)
{
    const struct mig_pstep *st = &t->plan->steps[si];
    if (in_range(t, st->migration) && t->replay_until == MIG_NONE)
        result(t, si, "skipped", why, NULL, NULL, 0, NULL);
    if (t->replay_until != MIG_NONE && si >= t->replay_until)
        t->replay_until = MIG_NONE;
}

static int t_phase_when(void *ctx, struct mig_vm *vm, uint32_t ph, bool ok)
{
    struct test *t = ctx;
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
    struct test *t = ctx;
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
    struct test *t = ctx;
    (void)vm;
    t->c.phase = ph;
    t->c.step = MIG_NONE;
    return 0;
}

static const struct mig_host test_host = {
    .require = mig_ctx_require, .phase = t_phase, .checks = t_checks, .phase_when = t_phase_when,
    .step = t_step, .step_when = t_step_when, .up = t_up,
};

/* ---- the scratch database ------------------------------------------------------------------- */

static int make_scratch(struct test *t)
{
    char err[2048];
    struct mig_report rep = { t->o->junit ? t->o->err : t->o->out, t->o->err, t->o->json, t->o->color, false };
    if (t->drv->scratch_create(t->o->db_url, t->o->empty, &t->scratch_url, &t->scratch_name, &t->copied, err,
                               sizeof(err)) != 0) {
        mig_report_error(&rep, "%s", err);
        return MIG_EXIT_REFUSED;
    }
    t->have_scratch = true;
    t->so = *t->o;
    t->so.db_url = t->scratch_url;
    return 0;
}

static int drop_scratch(struct test *t)
{
    if (!t->have_scratch)
        return 0;
    t->have_scratch = false;
    char err[2048];
    struct mig_report rep = { t->o->junit ? t->o->err : t->o->out, t->o->err, t->o->json, t->o->color, false };
    int rc = 0;
    if (t->o->keep) {
        mig_report_note(&rep, "kept the scratch %s %s (--keep); remove it yourself",
                        t->drv->dialect == MIG_D_POSTGRES ? "database" : "copy", t->scratch_name);
    } else if (t->drv->scratch_drop(t->o->db_url, t->scratch_url, t->scratch_name, err, sizeof(err)) != 0) {
        mig_report_error(&rep, "%s; the scratch %s %s is left behind: remove it yourself", err,
                         t->drv->dialect == MIG_D_POSTGRES ? "database" : "copy", t->scratch_name);
        rc = -1;
    }
    free(t->scratch_url);
    free(t->scratch_name);
    t->scratch_url = t->scratch_name = NULL;
    return rc;
}

static void close_scratch(struct test *t)
{
    mig_snapper_free(t->snap);
    t->snap = NULL;
    if (t->opened)
        mig_ctx_close(&t->c);
    t->opened = false;
}

static int open_scratch(struct test *t)
{
    mig_ctx_init(&t->c, t->plan);
    t->c.ignore_requires = true;
    if (mig_ctx_params(&t->c, t->o) != 0)
        return MIG_EXIT_USAGE;
    t->opened = true;
    int rc = mig_session_open(&t->c.s, &t->so, MIG_WRITES_TARGET);
    if (rc != 0)
        return rc;
    struct mig_session *s = &t->c.s;
    s->rep.qualified = true;
    if (t->o->junit)
        s->rep.out = t->o->err;     /* stdout is the JUnit document's */
    struct mig_dberr e;
    const struct mig_snapshot_sql *q = s->conn->drv->snapshot;
    for (const char *const *p = q->setup; p && *p; p++)
        if (s->conn->drv->exec(s->conn, *p, NULL, &e) != 0) {
            mig_session_dberror(s, "cannot set up the scratch database", &e);
            return MIG_EXIT_REFUSED;
        }
    t->snap = mig_snapper_new(s->conn, t->o->data);
    if (!t->snap) {
        mig_report_error(&s->rep, "out of memory");
        return MIG_EXIT_FAILED;
    }
    t->tracked = mig_snapper_track(t->snap, t->untracked, sizeof(t->untracked));
    if (mig_ctx_vm(&t->c, &test_host, t) != 0)
        return MIG_EXIT_FAILED;
    t->seeded = false;
    t->have_ref = false;
    return 0;
}

/* A failing pair outside a transaction: a fresh copy, the ups again up to it. */
static int fresh_copy(struct test *t)
{
    uint32_t si = t->restart_step;
    mig_report_note(&t->c.s.rep, "%s ran outside a transaction: making a fresh copy and running the ups again up "
                    "to it, to go on from the state after its up", step_name(t, si));
    mig_report_flush(&t->c.s.rep);
    t->restart = false;
    t->restarts++;
    close_scratch(t);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);
    int rc = drop_scratch(t) != 0 ? MIG_EXIT_DIRTY : make_scratch(t);
    if (rc == 0)
        rc = open_scratch(t);
    sigprocmask(SIG_SETMASK, &old, NULL);
    t->replay_until = si;
    return rc;
}

/* The globals and every migration (up to --only's). */
static int run_plan(struct test *t)
{
    if (mig_vm_run(&t->c.vm, t->plan->globals_block, 0) != 0) {
        mig_ctx_failure(&t->c, "evaluating the file-level lets failed: ");
        stop(t, "the file-level lets failed");
        return -1;
    }
    for (uint32_t mi = 0; mi < t->plan->nmigrations; mi++) {
        if (t->only >= 0 && (int)mi > t->only)
            break;
        t->c.mig = mi;
        t->c.phase = t->c.step = MIG_NONE;
        if (mig_vm_run(&t->c.vm, t->plan->migrations[mi].prologue, mi) != 0 ||
            mig_vm_run(&t->c.vm, t->plan->migrations[mi].body, mi) != 0) {
            if (t->restart || t->stopped || signalled(t))
                return -1;
            mig_ctx_failure(&t->c, "");
            stop(t, "migration %s failed to run", S(t, t->plan->migrations[mi].name));
            return -1;
        }
        if (signalled(t))
            return -1;
    }
    return 0;
}

static int find(struct test *t, const char *opt, const char *name)
{
    if (!name)
        return -1;
    int m = mig_ctx_find_migration(t->plan, name, strlen(name));
    if (m < 0) {
        struct mig_report rep = { t->o->out, t->o->err, t->o->json, t->o->color, false };
        mig_report_error(&rep, "%s %s: there is no migration '%s' in the plan", opt, name, name);
        t->usage = true;
    }
    return m;
}

static char *read_seed(const char *path, char *err, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, n, "cannot read the seed data '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (size_t k; buf && (k = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
        len += k;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        snprintf(err, n, "out of memory reading '%s'", path);
    else
        buf[len] = 0;
    return buf;
}

int mig_cmd_test(struct mig_plan *plan, const struct mig_run_opts *o)
{
    struct test tt, *t = &tt;
    memset(t, 0, sizeof(*t));
    t->plan = plan;
    t->o = o;
    t->replay_until = t->reported = MIG_NONE;
    t->drv = mig_driver_for(o->db_url);
    struct mig_report rep0 = { o->junit ? o->err : o->out, o->err, o->json, o->color, false };
    /* everything that can be refused is refused before a copy is made */
    mig_ctx_init(&t->c, plan);
    int prc = mig_ctx_params(&t->c, o);
    mig_ctx_close(&t->c);
    if (prc != 0)
        return MIG_EXIT_USAGE;
    if (o->from && o->only) {
        mig_report_error(&rep0, "give --from or --only, not both");
        return MIG_EXIT_USAGE;
    }
    t->from = find(t, "--from", o->from);
    t->only = find(t, "--only", o->only);
    if (t->usage)
        return MIG_EXIT_USAGE;
    if (o->seed) {
        char err[1024];
        if (!(t->seed_sql = read_seed(o->seed, err, sizeof(err)))) {
            mig_report_error(&rep0, "%s", err);
            return MIG_EXIT_USAGE;
        }
    }
    if (!t->drv || !t->drv->scratch_create) {
        mig_report_error(&rep0, "migrun test cannot make a scratch copy of %s", o->db_url);
        free(t->seed_sql);
        return MIG_EXIT_USAGE;
    }
    /* a signal while the copy is made is handled once it is (and removed) */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);
    int rc = make_scratch(t);
    if (rc == 0)
        rc = open_scratch(t);
    sigprocmask(SIG_SETMASK, &old, NULL);
    struct mig_session *s = &t->c.s;
    int64_t t0 = mig_now_ms();
    if (rc != 0)
        goto out;
    /* the targets, as apply checks them */
    for (uint32_t mi = 0; mi < plan->nmigrations && (t->only < 0 || (int)mi <= t->only); mi++) {
        char why[512];
        if (!mig_ctx_target_ok(&t->c, mi, why, sizeof(why))) {
            mig_report_error(&s->rep, "%s; nothing was tested", why);
            rc = MIG_EXIT_REFUSED;
            goto out;
        }
    }
    char *given = mig_mask_url(o->db_url);
    const char *where = t->copied ? mig_arena_printf(&s->arena, "in a scratch copy of %s", given ? given : "it")
                                  : "in a new empty scratch database";
    if (o->keep)
        mig_report_note(&s->rep, "testing that every down undoes its up: %u migration%s, %s, kept afterwards: %s",
                        plan->nmigrations, plan->nmigrations == 1 ? "" : "s", where, t->scratch_name);
    else
        mig_report_note(&s->rep, "testing that every down undoes its up: %u migration%s, %s (removed afterwards)",
                        plan->nmigrations, plan->nmigrations == 1 ? "" : "s", where);
    free(given);
    mig_report_event(&s->rep, NULL, "{s:s,s:s,s:b,s:b,s:b}", "event", "scratch", "name", t->scratch_name, "copied",
                     t->copied, "kept", o->keep, "tracked", t->tracked);
    if (!t->tracked && t->drv->dialect == MIG_D_POSTGRES)
        mig_report_note(&s->rep, "reading the whole schema after every up and down (slower): cannot install the DDL "
                        "tracker, which needs a superuser: %s", t->untracked);
    mig_report_flush(&s->rep);
    for (;;) {
        run_plan(t);
        if (!t->restart || t->stopped || t->interrupted)
            break;
        if ((rc = fresh_copy(t)) != 0) {
            stop(t, "a fresh scratch copy could not be made");
            goto out;
        }
        s = &t->c.s;
    }
    if (t->interrupted)
        stop(t, "interrupted by %s", mig_signal_name(mig_last_signal));
    /* the steps never reached */
    unsigned not_reached = 0;
    for (uint32_t si = 0; t->stopped && si < plan->nsteps; si++)
        if (in_range(t, plan->steps[si].migration) && (t->reported == MIG_NONE || si > t->reported) &&
            !mig_ctx_step_done(&t->c, si))
            not_reached++;
    int64_t ms = mig_now_ms() - t0;
    if (t->already)
        mig_report_note(&s->rep, "%u step%s already applied in the database (mig_applied) %s not run again: %s pair%s "
                        "%s not tested (--empty tests the whole history from an empty database)", t->already,
                        t->already == 1 ? "" : "s", t->already == 1 ? "was" : "were", t->already == 1 ? "its" : "their",
                        t->already == 1 ? "" : "s", t->already == 1 ? "is" : "are");
    if (t->restarts)
        mig_report_note(&s->rep, "made %u fresh cop%s for steps outside a transaction whose pair failed",
                        t->restarts, t->restarts == 1 ? "y" : "ies");
    mig_test_log_summary(&t->log, &s->rep, t->stopped, not_reached, ms);
    if (o->junit)
        mig_test_log_junit(&t->log, o->out, t->stopped, ms);
    rc = t->usage ? MIG_EXIT_USAGE : t->log.failed || t->stopped ? MIG_EXIT_FAILED : MIG_EXIT_OK;
out:
    if (t->opened)
        mig_report_flush(&t->c.s.rep);
    close_scratch(t);
    if (drop_scratch(t) != 0 && rc < MIG_EXIT_DIRTY)
        rc = MIG_EXIT_DIRTY;
    mig_test_log_free(&t->log);
    if (getenv("MIGRUN_PROF"))
        fprintf(stderr, "step %.3f begin %.3f up %.3f after_up %.3f down %.3f compare %.3f up2 %.3f end %.3f\n",
                prof[0] / 1e6, prof[1] / 1e6, prof[2] / 1e6, prof[3] / 1e6, prof[4] / 1e6, prof[5] / 1e6, prof[6] / 1e6, prof[7] / 1e6);
    free(t->seed_sql);
    free(t->stopped);
    return rc;
}
