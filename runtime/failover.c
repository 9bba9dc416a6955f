/* failover.c — apply goes on after a lost connection (the server
 * restarted, or a standby was promoted and a multi-host URL with
 * target_session_attrs=read-write reaches it): connect again (for up to
 * --reconnect-timeout), take the lock again, read the tracking rows of the
 * server that is now the primary, and continue from the first step that is
 * not recorded there. A transaction that had not committed runs again; a
 * COMMIT whose answer was lost counts when its rows are there; a commit the
 * old primary acknowledged but that did not replicate (asynchronous
 * replication) is missing on the new one: its step runs again, and the
 * journal's entry for it is marked aborted. A step outside a transaction
 * recorded `running` runs again, as after a crash. See doc/migrun.1, HIGH
 * AVAILABILITY. */
#include "apply.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool mig_apply_lost(const struct apply *a)
{
    return a->proto_rc == MIG_P_UNKNOWN || (a->c.vm.has_dberr && a->c.vm.dberr.connection_lost);
}

/* Whether this run's row in mig_runs is on the server (-1: cannot tell). */
static int run_row_there(struct apply *a)
{
    struct mig_session *s = &a->c.s;
    if (!s->has_runs)
        return 0;
    bool has = false;
    struct mig_value v;
    struct mig_dberr e;
    char *sql = mig_arena_printf(&s->arena, "SELECT 1 FROM %smig_runs WHERE run = %" PRId64 " AND pid = %d",
                                 s->conn->prefix, a->p.run, (int)getpid());
    if (s->conn->drv->query(s->conn, sql, &has, &v, &e) != 0) {
        mig_session_dberror(s, "cannot read the runs of the target", &e);
        return -1;
    }
    if (v.t == MIG_V_STRING)
        free((void *)v.s);
    return has;
}

long mig_apply_failover(struct apply *a, const uint32_t *pending, size_t i)
{
    struct mig_session *s = &a->c.s;
    const struct mig_plan *plan = a->c.plan;
    if (!mig_apply_lost(a) || s->o->reconnect_timeout_ms <= 0 || mig_signals || a->proto_rc == MIG_P_DIRTY ||
        s->conn->drv->dialect != MIG_D_POSTGRES)
        return -1;
    /* a step that loses its connection every time it runs (it ends its own
     * session, or crashes the server) is not retried forever */
    unsigned done = a->p.applied + a->p.skipped;
    if (a->failovers && done == a->failover_mark && ++a->stalled >= 2) {
        mig_report_warning(&s->rep, "the connection was lost 3 times in a row without a step finishing; not "
                           "reconnecting again to continue");
        return -1;
    }
    if (done != a->failover_mark)
        a->stalled = 0;
    a->failovers++;
    char where[600] = "between steps";
    if (a->c.step != MIG_NONE) {
        const struct mig_pstep *st = &plan->steps[a->c.step];
        snprintf(where, sizeof(where), "during %s.%s.%s", S(a, plan->migrations[st->migration].name),
                 S(a, plan->phases[st->phase].name), S(a, st->name));
    }
    /* (libpq's message: its first line) */
    const char *msg = a->p.has_dberr ? a->p.dberr.message : a->c.vm.has_dberr ? a->c.vm.dberr.message : a->p.err;
    char why[256];
    size_t n = strcspn(msg, "\n");
    n = n < sizeof(why) - 1 ? n : sizeof(why) - 1;
    memcpy(why, msg, n);
    why[n] = 0;
    mig_report_warning(&s->rep, "the connection to %s was lost %s (%s); reconnecting to continue the run "
                       "(--reconnect-timeout %" PRId64 " ms)", s->conn->display, where, why,
                       s->o->reconnect_timeout_ms);
    /* the open transaction is gone with the connection: its steps run again */
    for (size_t k = 0; k < a->p.pending.n; k++) {
        const struct mig_record *r = &a->p.pending.v[k];
        bool skipped = strcmp(r->status, "skipped") == 0;
        if (skipped && a->p.skipped)
            a->p.skipped--;
        else if (!skipped && a->p.applied)
            a->p.applied--;
        mig_report_step(&s->rep, "lost", r->migration, r->phase, r->step, -1, 0,
                        "its transaction did not commit before the connection was lost; it runs again");
    }
    mig_proto_abort(&a->p);
    /* what this run committed, as the old server acknowledged it: the rows
     * the session holds, and the steps of the migrations it finished (whose
     * rows it forgot: cmd_apply.c finish_migration) */
    struct acked { const char *uid, *status, *migration, *phase, *step; };
    MIG_VEC(struct acked) mine = { 0 };
    for (size_t k = 0; k < s->rows.n; k++) {
        struct mig_tracked *t = s->rows.v[k];
        if (t->run == a->p.run && mig_session_by_uid(s, t->uid) == t) {
            struct acked x = { t->uid, t->status, t->migration, t->phase, t->step };
            MIG_PUSH(&s->arena, mine, x);
        }
    }
    for (size_t k = 0; k < a->done.n; k++) {
        const struct apply_done *d = &a->done.v[k];
        struct acked x = { d->uid, d->status, d->migration, d->phase, d->step };
        MIG_PUSH(&s->arena, mine, x);
    }
    int64_t our_run = a->p.run;
    if (mig_session_reconnect(s) != 0) {
        mig_report_error(&s->rep, "could not connect again to continue: %s may stay partly applied; run migrun "
                         "apply again when a primary is reachable — the target records what ran",
                         S(a, plan->migrations[pending[i]].name));
        return -2;
    }
    a->c.vm.conn = s->conn;
    if (s->last_run > our_run) {
        /* another runner took over meanwhile: what it did is not this run's to continue */
        mig_report_warning(&s->rep, "while this run was disconnected, run %" PRId64 " started on %s", s->last_run,
                           s->conn->display);
        mig_proto_resolve(&a->p);
        a->proto_rc = MIG_P_FAIL;
        a->c.vm.dberr.connection_lost = false;
        return -3;
    }
    /* commits acknowledged by the old server that the new one lacks */
    unsigned lost = 0;
    /* the rows read again hold those steps now (or lack them: below) */
    a->done.n = 0;
    for (size_t k = 0; k < mine.n; k++) {
        struct acked *t = &mine.v[k];
        struct mig_tracked *now = mig_session_by_uid(s, t->uid);
        if (now) {
            if (strcmp(now->status, "running") == 0 && strcmp(t->status, "running") != 0)
                mig_report_warning(&s->rep, "%s.%s.%s was recorded applied by the old server but only as running "
                                   "on %s (the last write did not replicate): it runs again", t->migration, t->phase,
                                   t->step, s->conn->location);
            continue;
        }
        lost++;
        if (strcmp(t->status, "applied") == 0 && a->p.applied)
            a->p.applied--;
        else if (strcmp(t->status, "skipped") == 0 && a->p.skipped)
            a->p.skipped--;
        if (s->j && mig_journal_set_state_uid(s->j, t->uid, "aborted") != 0)
            mig_report_warning(&s->rep, "%s", mig_journal_error(s->j));
        mig_report_warning(&s->rep, "%s.%s.%s: its commit was acknowledged before the connection was lost but is "
                           "not on %s (it did not reach the server that is primary now: asynchronous replication); "
                           "it runs again", t->migration, t->phase, t->step, s->conn->location);
    }
    int there = run_row_there(a);
    if (there < 0)
        return -2;
    /* the records of a COMMIT whose answer was lost: there or not */
    mig_proto_resolve(&a->p);
    for (size_t k = 0; k < s->rows.n; k++) {
        struct mig_tracked *t = s->rows.v[k];
        if (t->run == our_run && mig_session_by_uid(s, t->uid) == t && strcmp(t->status, "running") == 0) {
            if (s->j)
                mig_journal_set_state_uid(s->j, t->uid, "interrupted");
            mig_report_warning(&s->rep, "%s.%s.%s ran outside a transaction and was interrupted by the lost "
                               "connection (it may have partly run): it runs again", t->migration, t->phase, t->step);
        }
    }
    if (!there) {
        /* the run's own row did not replicate either: the run starts again under a new number */
        mig_report_warning(&s->rep, "the record of run %" PRId64 " is not on %s (asynchronous replication); the run "
                           "goes on as a new run", our_run, s->conn->location);
        if (a->p.jrun > 0 && mig_journal_run_end(s->j, a->p.jrun, "interrupted") != 0)
            mig_report_warning(&s->rep, "%s", mig_journal_error(s->j));
        a->p.run = 0;
        a->p.jrun = 0;
        a->p.committed.n = 0;
        if (mig_proto_start(&a->p) != 0)
            return -2;
        a->c.vm.conn = s->conn;
    }
    a->failover_mark = a->p.applied + a->p.skipped;
    a->c.phase = a->c.step = MIG_NONE;
    a->proto_rc = 0;
    a->c.vm.has_dberr = false;
    s->where[0] = 0;
    /* the first migration of the run that is not complete on this server */
    size_t from = 0;
    while (from < i && mig_ctx_migration_done(&a->c, pending[from]))
        from++;
    mig_report_note(&s->rep, "reconnected to %s; %u of this run's commits were lost; continuing with %s",
                    s->conn->location, lost, S(a, plan->migrations[pending[from]].name));
    if (from < i)
        a->p.committed.n = 0;
    return (long)from;
}
