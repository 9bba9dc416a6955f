/* apply_failure.c — what apply does when a migration fails: the open
 * transaction rolls back; after a lost connection it connects again and
 * reads what committed; then the failing migration's steps committed in
 * this run are undone, unless another run built on them (see apply.h). */
#include "apply.h"
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define S(a, s) mig_ctx_str(&(a)->c, (s))

/* ---- failure ---------------------------------------------------------------------------- */

/* After a lost connection: connect again, take the lock, read what is
 * tracked; what this run committed (a COMMIT whose answer was lost
 * included) is then known. */
static int reconnect(struct apply *a, uint32_t mi)
{
    struct mig_session *s = &a->c.s;
    mig_report_note(&s->rep, "the connection was lost; reconnecting to read what %s committed", S(a, a->c.plan->migrations[mi].name));
    if (mig_session_reconnect(s) != 0) {
        mig_report_error(&s->rep, "the connection was lost and could not be made again; %s may stay partly applied: "
                         "run migrun apply or migrun rollback when the server is back — the target records what ran",
                         S(a, a->c.plan->migrations[mi].name));
        return -1;
    }
    a->c.vm.conn = s->conn;
    mig_proto_resolve(&a->p);
    return 0;
}

/* Steps another run applied after this run's first step of migration mi. */
static struct mig_tracked *foreign_on_top(struct apply *a)
{
    struct mig_session *s = &a->c.s;
    int64_t low = INT64_MAX;
    for (size_t i = 0; i < a->p.committed.n; i++)
        if (a->p.committed.v[i]->seq < low)
            low = a->p.committed.v[i]->seq;
    for (size_t i = 0; i < s->rows.n; i++) {
        struct mig_tracked *t = s->rows.v[i];
        if (mig_session_by_uid(s, t->uid) == t && t->seq > low && t->run != a->p.run)
            return t;
    }
    return NULL;
}

int mig_apply_failure(struct apply *a, uint32_t mi)
{
    struct mig_session *s = &a->c.s;
    const char *m = S(a, a->c.plan->migrations[mi].name);
    bool was_open = a->p.txn_open;
    bool lost = a->proto_rc == MIG_P_UNKNOWN || (a->c.vm.has_dberr && a->c.vm.dberr.connection_lost);
    bool by_signal = mig_signals > 0;
    /* steps reported applied in the transaction that now rolls back */
    for (size_t i = 0; i < a->p.pending.n; i++)
        if (strcmp(a->p.pending.v[i].status, "applied") == 0)
            mig_report_step(&s->rep, "undone", a->p.pending.v[i].migration, a->p.pending.v[i].phase,
                            a->p.pending.v[i].step, -1, 0, "rolled back with its transaction");
    mig_proto_abort(&a->p);
    if (!lost && a->c.phase != MIG_NONE) {
        const struct mig_pphase *ph = mig_apply_phase(a, a->c.phase);
        struct mig_dberr e;
        if (ph->txn == MIG_TXN_NONE && (ph->timeout_ms || ph->lock_timeout_ms))
            s->conn->drv->set_timeouts(s->conn, 0, 0, &e);
    }
    if (a->c.step != MIG_NONE) {
        const struct mig_pstep *st = &a->c.plan->steps[a->c.step];
        mig_report_step(&s->rep, "failed", m, S(a, a->c.plan->phases[st->phase].name), S(a, st->name), -1, 0, NULL);
    }
    mig_ctx_failure(&a->c, "");
    if (was_open && !lost)
        mig_report_note(&s->rep, "the transaction in progress was rolled back");
    if (a->proto_rc == MIG_P_DIRTY) {
        mig_report_error(&s->rep, "%s is left as it is: a person must look (migrun status shows what is recorded; "
                         "migrun rollback undoes what is)", m);
        return MIG_EXIT_DIRTY;
    }
    if (lost && reconnect(a, mi) != 0)
        return MIG_EXIT_DIRTY;
    struct mig_tracked *top = a->p.committed.n ? foreign_on_top(a) : NULL;
    if (top) {
        mig_report_error(&s->rep, "while this run was disconnected, run %" PRId64 " applied %s.%s.%s on top of what "
                         "this run committed; nothing was undone — a person must look", top->run, top->migration,
                         top->phase, top->step);
        return MIG_EXIT_DIRTY;
    }
    if (a->c.s.o->on_error_stop) {
        mig_report_note(&s->rep, "stopped (--on-error stop): the committed phases of %s stay applied", m);
        return MIG_EXIT_FAILED;
    }
    if (a->p.committed.n == 0) {
        mig_report_note(&s->rep, "nothing of %s was committed: the database is as before", m);
        return MIG_EXIT_FAILED;
    }
    mig_report_note(&s->rep, "undoing what %s committed in this run", m);
    size_t n = a->p.committed.n, undone = 0;
    struct mig_tracked **rows = mig_arena_alloc(&s->arena, (n + 1) * sizeof(*rows));
    for (size_t i = 0; i < n; i++)
        rows[i] = a->p.committed.v[n - 1 - i];
    bool was_qualified = s->rep.qualified;
    int rc = mig_proto_undo(&a->p, rows, n, by_signal ? 2 : 1, &undone);
    s->rep.qualified = was_qualified;
    if (rc == MIG_P_OK) {
        char again[1024] = "";
        size_t k = 0;
        for (size_t i = 0; i < n && k < sizeof(again); i++)
            if (rows[i]->was_interrupted)
                k += (size_t)snprintf(again + k, sizeof(again) - k, "%s%s.%s", k ? ", " : "", rows[i]->phase,
                                      rows[i]->step);
        if (k)
            mig_report_note(&s->rep, "rolled back: %s is as it was before this run, except that %s, which an "
                            "interrupted run had partly run, was undone entirely by its down", m, again);
        else
            mig_report_note(&s->rep, "rolled back: %s is as it was before this run", m);
        return MIG_EXIT_FAILED;
    }
    mig_report_error(&s->rep, "undoing failed: %s; %zu of %zu steps were undone and %s is left partly applied — a "
                     "person must look", a->p.err, undone, n, m);
    return MIG_EXIT_DIRTY;
}

