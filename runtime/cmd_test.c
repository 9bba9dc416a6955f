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
#include "test_run.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- signals ------------------------------------------------------------------------------ */

/* The session stops the test on SIGINT and SIGTERM (canceling the running
 * statement); so do a closed terminal (SIGHUP) and a closed output
 * (SIGPIPE: `migrun test … | head`), which would otherwise end migrun at
 * once and leave the scratch copy behind. */
static void catch_hangups(void)
{
    mig_session_catch(SIGHUP);
    mig_session_catch(SIGPIPE);
}

static const char *signal_name(int sig)
{
    return sig == SIGHUP ? "SIGHUP" : sig == SIGPIPE ? "SIGPIPE (its output was closed)" : mig_signal_name(sig);
}

/* While a copy is made or removed, signals wait (and are handled after). */
static void block_signals(sigset_t *old)
{
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGPIPE);
    sigprocmask(SIG_BLOCK, &block, old);
}

/* ---- the scratch database ------------------------------------------------------------------- */

static int make_scratch(struct mig_test *t)
{
    char err[2048];
    struct mig_report rep = { .out = t->o->junit ? t->o->err : t->o->out, .err = t->o->err, .json = t->o->json,
                              .color = t->o->color };
    if (t->drv->scratch_create(t->o->db_url, t->o->empty, t->o->schema, &t->scratch_url, &t->scratch_name,
                               &t->copied, err, sizeof(err)) != 0) {
        mig_report_error(&rep, "%s", err);
        return MIG_EXIT_REFUSED;
    }
    t->have_scratch = true;
    t->so = *t->o;
    t->so.db_url = t->scratch_url;
    return 0;
}

/* Removes the scratch copy (at the end, keeps it with --keep). */
static int drop_scratch(struct mig_test *t, bool at_end)
{
    if (!t->have_scratch)
        return 0;
    t->have_scratch = false;
    char err[2048];
    struct mig_report rep = { .out = t->o->junit ? t->o->err : t->o->out, .err = t->o->err, .json = t->o->json,
                              .color = t->o->color };
    int rc = 0;
    if (t->o->keep && at_end) {
        mig_report_note(&rep, "kept the scratch %s %s (--keep); remove it yourself",
                        t->drv->dialect == MIG_D_POSTGRES ? "database" : "copy", t->scratch_name);
    } else if (t->drv->scratch_drop(t->o->db_url, t->scratch_url, t->scratch_name, err, sizeof(err)) != 0) {
        if (t->drv->dialect == MIG_D_POSTGRES) {
            mig_report_error(&rep, "%s; the scratch database %s is left behind: drop it yourself (DROP DATABASE %s)",
                             err, t->scratch_name, t->scratch_name);
        } else {
            const char *slash = strrchr(t->scratch_name, '/');
            int n = slash ? (int)(slash - t->scratch_name) : (int)strlen(t->scratch_name);
            mig_report_error(&rep, "%s; what is left of the scratch copy %s is in %.*s: remove it yourself (rm -r %.*s)",
                             err, t->scratch_name, n, t->scratch_name, n, t->scratch_name);
        }
        rc = -1;
    }
    free(t->scratch_url);
    free(t->scratch_name);
    t->scratch_url = t->scratch_name = NULL;
    return rc;
}

static void close_scratch(struct mig_test *t)
{
    mig_snapper_free(t->snap);
    t->snap = NULL;
    if (t->opened)
        mig_ctx_close(&t->c);
    t->opened = false;
}

static int open_scratch(struct mig_test *t)
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
    if (mig_ctx_vm(&t->c, &mig_test_host, t) != 0)
        return MIG_EXIT_FAILED;
    t->seeded = false;
    t->have_ref = false;
    return 0;
}

/* JSON: the scratch copy in use (for tools, and the tests, to check it is gone). */
static void scratch_event(struct mig_test *t)
{
    mig_report_event(&t->c.s.rep, NULL, "{s:s,s:s,s:b,s:b,s:b}", "event", "scratch", "name", t->scratch_name,
                     "copied", t->copied, "kept", t->o->keep, "tracked", t->tracked);
}

/* A failing pair outside a transaction: a fresh copy, the ups again up to it. */
static int fresh_copy(struct mig_test *t)
{
    uint32_t si = t->restart_step;
    if (t->skip[si])
        mig_report_note(&t->c.s.rep, "%s ran outside a transaction: making a fresh copy and running the ups again up "
                        "to the step before it, to go on as if it had not run", mig_test_step_name(t, si));
    else
        mig_report_note(&t->c.s.rep, "%s ran outside a transaction: making a fresh copy and running the ups again up "
                        "to it, to go on from the state after its up", mig_test_step_name(t, si));
    mig_report_flush(&t->c.s.rep);
    t->restart = false;
    t->restarts++;
    close_scratch(t);
    sigset_t old;
    block_signals(&old);
    int rc = drop_scratch(t, false) != 0 ? MIG_EXIT_DIRTY : make_scratch(t);
    if (rc == 0)
        rc = open_scratch(t);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        scratch_event(t);
    t->replay_until = si;
    return rc;
}

/* The globals and every migration (up to --only's). */
static int run_plan(struct mig_test *t)
{
    t->when_step = t->when_phase = t->lets_mig = MIG_NONE;
    t->values = true;
    t->values_cmd[0] = 0;
    int rc = mig_vm_run(&t->c.vm, t->plan->globals_block, 0);
    t->values = false;
    snprintf(t->globals_cmd, sizeof(t->globals_cmd), "%s", t->values_cmd);
    if (rc != 0) {
        mig_ctx_failure(&t->c, "evaluating the file-level lets failed: ");
        mig_test_stop(t, "the file-level lets failed");
        return -1;
    }
    for (uint32_t mi = 0; mi < t->plan->nmigrations; mi++) {
        if (t->only >= 0 && (int)mi > t->only)
            break;
        t->c.mig = mi;
        t->c.phase = t->c.step = MIG_NONE;
        t->values = true;
        t->values_cmd[0] = 0;
        rc = mig_vm_run(&t->c.vm, t->plan->migrations[mi].prologue, mi);
        t->values = false;
        if (t->values_cmd[0]) {
            t->lets_mig = mi;
            snprintf(t->lets_cmd, sizeof(t->lets_cmd), "%s", t->values_cmd);
        }
        if (rc != 0 || mig_vm_run(&t->c.vm, t->plan->migrations[mi].body, mi) != 0) {
            if (t->restart || t->stopped || mig_test_signalled(t))
                return -1;
            mig_ctx_failure(&t->c, "");
            mig_test_stop(t, "migration %s failed to run", S(t, t->plan->migrations[mi].name));
            return -1;
        }
        if (mig_test_signalled(t))
            return -1;
    }
    return 0;
}

static int find(struct mig_test *t, const char *opt, const char *name)
{
    if (!name)
        return -1;
    int m = mig_ctx_find_migration(t->plan, name, strlen(name));
    if (m < 0) {
        struct mig_report rep = { .out = t->o->out, .err = t->o->err, .json = t->o->json, .color = t->o->color };
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
    struct mig_test tt, *t = &tt;
    memset(t, 0, sizeof(*t));
    t->plan = plan;
    t->o = o;
    t->replay_until = t->reported = MIG_NONE;
    t->drv = mig_driver_for(o->db_url);
    struct mig_report rep0 = { .out = o->junit ? o->err : o->out, .err = o->err, .json = o->json, .color = o->color };
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
    t->skip = calloc(plan->nsteps ? plan->nsteps : 1, sizeof(*t->skip));
    if (!t->skip) {
        mig_report_error(&rep0, "out of memory");
        free(t->seed_sql);
        return MIG_EXIT_FAILED;
    }
    /* a signal while the copy is made is handled once it is (and removed) */
    catch_hangups();
    sigset_t old;
    block_signals(&old);
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
        if (!mig_ctx_target_ok(&t->c, mi, why, sizeof(why)) ||
            !mig_ctx_pooled_ok(&t->c, mi, why, sizeof(why))) {
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
    scratch_event(t);
    if (!t->tracked && t->drv->dialect == MIG_D_POSTGRES)
        mig_report_note(&s->rep, "reading the whole schema after every up and down (slower): cannot install the DDL "
                        "tracker, which needs a superuser: %s", t->untracked);
    mig_report_flush(&s->rep);
    for (;;) {
        run_plan(t);
        if (!t->restart || t->stopped || t->interrupted)
            break;
        if ((rc = fresh_copy(t)) != 0) {
            mig_test_stop(t, "a fresh scratch copy could not be made");
            goto out;
        }
        s = &t->c.s;
    }
    if (t->interrupted)
        mig_test_stop(t, "interrupted by %s", signal_name(mig_last_signal));
    /* the steps never reached */
    unsigned not_reached = 0;
    for (uint32_t si = 0; t->stopped && si < plan->nsteps; si++)
        if (mig_test_in_range(t, plan->steps[si].migration) && (t->reported == MIG_NONE || si > t->reported) &&
            !mig_ctx_step_done(&t->c, si))
            not_reached++;
    int64_t ms = mig_now_ms() - t0;
    if (t->already)
        mig_report_note(&s->rep, "%u step%s already applied in the database (mig_applied) %s not run again: %s pair%s "
                        "%s not tested (--empty tests the whole history from an empty database)", t->already,
                        t->already == 1 ? "" : "s", t->already == 1 ? "was" : "were", t->already == 1 ? "its" : "their",
                        t->already == 1 ? "" : "s", t->already == 1 ? "is" : "are");
    if (t->restarts)
        mig_report_note(&s->rep, "made %u fresh cop%s for steps outside a transaction that failed",
                        t->restarts, t->restarts == 1 ? "y" : "ies");
    mig_test_log_summary(&t->log, &s->rep, t->stopped, not_reached, ms);
    if (o->junit)
        mig_test_log_junit(&t->log, o->out, t->stopped, ms);
    rc = t->usage ? MIG_EXIT_USAGE : t->log.failed || t->stopped ? MIG_EXIT_FAILED : MIG_EXIT_OK;
out:
    if (t->opened)
        mig_report_flush(&t->c.s.rep);
    close_scratch(t);
    bool kept = t->have_scratch && o->keep;
    int drc = drop_scratch(t, true);
    if (drc != 0 && rc < MIG_EXIT_DIRTY)
        rc = MIG_EXIT_DIRTY;
    if (t->interrupted && mig_last_signal == SIGPIPE)     /* (the report's own output is gone) */
        fprintf(o->err, "migrun: test interrupted by SIGPIPE: its output was closed%s\n",
                kept ? "; the scratch copy is kept (--keep)" : drc == 0 ? "; the scratch copy was removed" : "");
    mig_test_log_free(&t->log);
    free(t->skip);
    free(t->seed_sql);
    free(t->stopped);
    return rc;
}
