/* protocol_outside.c — the protocol for steps outside a transaction
 * (transaction none, batches, commands): recorded `running` before they
 * start, `applied` after; and the resolution of what a lost connection left
 * unknown. See protocol.h. */
#include "protocol.h"
#include "protocol_internal.h"
#include "exec.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- steps outside a transaction ------------------------------------------------------------ */

static char *set_status_sql(struct mig_proto *p, const struct mig_record *r, const char *status)
{
    struct buf b = { 0 };
    mig_pbuf_put(&b, "UPDATE ");
    mig_pbuf_put(&b, p->s->conn->prefix);
    mig_pbuf_put(&b, "mig_applied SET status = ");
    mig_pbuf_lit(&b, p->s->conn, status);
    mig_pbuf_row_key(&b, p->s->conn, r->migration, r->phase, r->step, r->uid);
    return b.s;
}


/* The `running` row of r, committed on its own. */
static int record_running(struct mig_proto *p, struct mig_record *r)
{
    struct mig_dberr e;
    if (mig_proto_refresh_seq(p, &e) != 0 || mig_proto_clear_interrupted(p, r, &e) != 0 || mig_proto_write_rows(p, r, 1, "running", &e) != 0)
        return mig_proto_fail(p, e.connection_lost ? MIG_P_UNKNOWN : MIG_P_FAIL, &e,
                              "cannot record the step in mig_applied before it runs: %s", e.message);
    return MIG_P_OK;
}

/* The invalid indexes that sql's CREATE INDEX statements could leave,
 * as they are before the step runs. */
struct invalid {
    char names[16][256];
    size_t n;
};

static void invalid_before(struct mig_proto *p, const char *sql, struct invalid *inv)
{
    inv->n = mig_session_invalid_indexes(p->s, sql, inv->names, 16);
}

/* A failed CREATE INDEX CONCURRENTLY leaves its index behind, invalid,
 * although nothing committed: what is invalid now and was not before
 * goes (DROP INDEX CONCURRENTLY). 0 when nothing is left, -1 (e filled)
 * when an index could not be dropped. */
static int drop_left_invalid(struct mig_proto *p, const struct mig_record *r, const char *sql,
                             const struct invalid *before, struct mig_dberr *e)
{
    char now[16][256];
    size_t n = mig_session_invalid_indexes(p->s, sql, now, 16);
    for (size_t i = 0; i < n; i++) {
        bool old = false;
        for (size_t j = 0; j < before->n && !old; j++)
            old = strcmp(now[i], before->names[j]) == 0;
        if (old)
            continue;
        const char *drop = mig_session_fill(p->s, p->s->conn->drv->drop_invalid_index, now[i], NULL);
        if (p->s->conn->drv->exec(p->s->conn, drop, NULL, e) != 0)
            return -1;
        mig_report_note(&p->s->rep, "the failed statement of %s.%s.%s left the invalid index %s; it was dropped",
                        r->migration, r->phase, r->step, now[i]);
    }
    return 0;
}

/* After a failed statement outside a transaction: when nothing of it ran
 * (and what a failed CREATE INDEX CONCURRENTLY left is dropped), its
 * `running` row goes; otherwise it stays for the undo. */
static int after_failure(struct mig_proto *p, struct mig_record *r, const struct mig_dberr *e, bool some_ran,
                         const char *what, const char *sql, const struct invalid *before)
{
    if (e->connection_lost) {
        MIG_PUSH(&p->s->arena, p->unknown, *r);
        return mig_proto_fail(p, MIG_P_UNKNOWN, e, "%s: %s", what, e->message);
    }
    struct mig_dberr e2;
    if (!some_ran && drop_left_invalid(p, r, sql, before, &e2) != 0) {
        mig_proto_committed(p, r, 1, "running");
        return mig_proto_fail(p, MIG_P_FAIL, e, "%s: %s; it left an invalid index that could not be dropped (%s): "
                              "the step stays recorded as running, for its down", what, e->message, e2.message);
    }
    if (some_ran) {
        mig_proto_committed(p, r, 1, "running");
        return mig_proto_fail(p, MIG_P_FAIL, e, "%s: %s", what, e->message);
    }
    char *del = mig_proto_delete_sql(p, r->migration, r->phase, r->step, r->uid);
    int rc = mig_proto_exec_autocommit(p, del, &e2);
    free(del);
    if (rc != 0) {
        mig_proto_committed(p, r, 1, "running");
        return mig_proto_fail(p, MIG_P_DIRTY, e, "%s: %s; and its record as running could not be removed: %s",
                              what, e->message, e2.message);
    }
    return mig_proto_fail(p, MIG_P_FAIL, e, "%s: %s", what, e->message);
}

static int mark_applied(struct mig_proto *p, struct mig_record *r)
{
    struct mig_dberr e;
    char *sql = set_status_sql(p, r, "applied");
    int rc = mig_proto_exec_autocommit(p, sql, &e);
    free(sql);
    if (rc != 0 && e.connection_lost) {
        /* its row stays `running` in the target: read back after reconnecting */
        MIG_PUSH(&p->s->arena, p->unknown, *r);
        return mig_proto_fail(p, MIG_P_UNKNOWN, &e, "the step ran but the connection was lost before it was recorded "
                              "as applied: %s", e.message);
    }
    if (rc != 0) {
        mig_proto_committed(p, r, 1, "running");
        return mig_proto_fail(p, MIG_P_DIRTY, &e, "the step ran but could not be recorded as applied in mig_applied "
                              "(it stays recorded as running): %s", e.message);
    }
    mig_proto_journal_entries(p, r, 1, "applied", NULL);
    mig_proto_committed(p, r, 1, "applied");
    return MIG_P_OK;
}

int mig_proto_run_outside(struct mig_proto *p, struct mig_record *r, const char *sql, int64_t *rows)
{
    struct invalid before;
    invalid_before(p, sql, &before);
    int rc = record_running(p, r);
    if (rc != MIG_P_OK)
        return rc;
    struct mig_dberr e;
    int64_t t0 = mig_now_ms();
    if (p->s->conn->drv->exec(p->s->conn, sql, rows, &e) != 0)
        return after_failure(p, r, &e, e.stmts_done > 0, "statement failed", sql, &before);
    r->rows = rows ? *rows : 0;
    r->duration_ms = mig_now_ms() - t0;
    return mark_applied(p, r);
}

int mig_proto_batch(struct mig_proto *p, struct mig_record *r, const char *sql, bool in_txn, int64_t max,
                    void (*progress)(void *ctx, int64_t iter, int64_t n, int64_t total), void *ctx)
{
    struct mig_conn *c = p->s->conn;
    int64_t total = 0, t0 = mig_now_ms();
    int rc;
    struct invalid before = { .n = 0 };
    if (!in_txn)
        invalid_before(p, sql, &before);
    if (!in_txn && (rc = record_running(p, r)) != MIG_P_OK)
        return rc;
    for (int64_t iter = 0;; iter++) {
        struct mig_dberr e;
        int64_t n = 0;
        if (in_txn && (rc = mig_proto_begin(p, r->timeout_ms, r->lock_timeout_ms)) != MIG_P_OK) {
            if (iter > 0 && rc == MIG_P_FAIL)
                mig_proto_committed(p, r, 1, "running");
            else if (iter > 0)
                MIG_PUSH(&p->s->arena, p->unknown, *r);
            return rc;
        }
        if (c->drv->exec(c, sql, &n, &e) != 0) {
            if (in_txn)
                mig_proto_abort(p);
            bool some = iter > 0 || (!in_txn && e.stmts_done > 0);
            if (in_txn && iter == 0 && !e.connection_lost)
                return mig_proto_fail(p, MIG_P_FAIL, &e, "statement failed: %s", e.message);
            if (in_txn && !e.connection_lost) {
                mig_proto_committed(p, r, 1, "running");
                return mig_proto_fail(p, MIG_P_FAIL, &e, "statement failed in batch iteration %" PRId64 " (%"
                                      PRId64 " rows changed by the iterations before, which committed): %s",
                                      iter + 1, total, e.message);
            }
            if (in_txn && iter == 0) /* the lost transaction was not committed */
                return mig_proto_fail(p, MIG_P_UNKNOWN, &e, "statement failed: %s", e.message);
            return after_failure(p, r, &e, some, "statement failed", sql, &before);
        }
        total += n;
        bool last = n == 0 || (max && iter + 1 >= max);
        if (in_txn) {
            if (iter == 0 && (mig_proto_clear_interrupted(p, r, &e) != 0 || mig_proto_write_rows(p, r, 1, last ? "applied" : "running", &e) != 0)) {
                mig_proto_abort(p);
                return mig_proto_fail(p, e.connection_lost ? MIG_P_UNKNOWN : MIG_P_FAIL, &e,
                                      "cannot record the step in mig_applied: %s", e.message);
            }
            if (iter > 0 && last) {
                char *u = set_status_sql(p, r, "applied");
                int urc = c->drv->exec(c, u, NULL, &e);
                free(u);
                if (urc != 0) {
                    mig_proto_abort(p);
                    mig_proto_committed(p, r, 1, "running");
                    return mig_proto_fail(p, MIG_P_FAIL, &e, "cannot record the step as applied: %s", e.message);
                }
            }
            p->pending.n = 0;
            if (c->drv->commit(c, &e) != 0) {
                p->txn_open = false;
                if (e.connection_lost) {
                    MIG_PUSH(&p->s->arena, p->unknown, *r);
                    return mig_proto_fail(p, MIG_P_UNKNOWN, &e, "the connection was lost during COMMIT: %s",
                                          e.message);
                }
                if (iter > 0)
                    mig_proto_committed(p, r, 1, "running");
                return mig_proto_fail(p, MIG_P_FAIL, &e, "commit failed: %s", e.message);
            }
            p->txn_open = false;
        }
        if (progress)
            progress(ctx, iter + 1, n, total);
        if (last)
            break;
        if (mig_signals) {
            if (in_txn || total > 0)
                mig_proto_committed(p, r, 1, "running");
            return mig_proto_fail(p, MIG_P_FAIL, NULL, "interrupted by %s between batch iterations",
                                  mig_signal_name(mig_last_signal));
        }
    }
    r->rows = total;
    r->duration_ms = mig_now_ms() - t0;
    if (!in_txn)
        return mark_applied(p, r);
    mig_proto_journal_entries(p, r, 1, "applied", NULL);
    mig_proto_committed(p, r, 1, "applied");
    return MIG_P_OK;
}

void mig_proto_resolve(struct mig_proto *p)
{
    struct mig_session *s = p->s;
    /* the run's earlier commits: still tracked? (the session re-read them) */
    size_t k = 0;
    for (size_t i = 0; i < p->committed.n; i++) {
        struct mig_tracked *t = mig_session_by_uid(s, p->committed.v[i]->uid);
        if (t)
            p->committed.v[k++] = t;
    }
    p->committed.n = k;
    for (size_t i = 0; i < p->unknown.n; i++) {
        struct mig_tracked *t = mig_session_by_uid(s, p->unknown.v[i].uid);
        if (!t)
            continue;
        mig_proto_journal_entries(p, &p->unknown.v[i], 1, "applied", NULL);
        MIG_PUSH(&s->arena, p->committed, t);
        if (strcmp(t->status, "running") == 0) {   /* outside a transaction: started, not recorded as finished */
            mig_report_note(&s->rep, "%s.%s.%s had started (it is recorded as running) when the connection was lost",
                            t->migration, t->phase, t->step);
            continue;
        }
        mig_report_note(&s->rep, "%s.%s.%s did commit before the connection was lost", t->migration, t->phase,
                        t->step);
    }
    p->unknown.n = 0;
}

/* ---- commands ------------------------------------------------------------------------------ */

char **mig_proto_command_env(struct mig_proto *p, char *const *own, size_t *owned)
{
    char **conn = p->s->conn->drv->command_env(p->s->conn);
    size_t nc = 0, no = 0;
    while (conn && conn[nc])
        nc++;
    while (own && own[no])
        no++;
    char **env = calloc(nc + no + 1, sizeof(*env));
    if (!env)
        abort();
    for (size_t i = 0; i < nc; i++)
        env[i] = conn[i];
    for (size_t i = 0; i < no; i++)
        env[nc + i] = own[i];   /* borrowed; the action's own env { } comes last and wins */
    free(conn);
    *owned = nc;
    return env;
}

void mig_proto_free_env(char **env, size_t owned)
{
    for (size_t i = 0; env && i < owned; i++)
        free(env[i]);
    free(env);
}

int mig_proto_run_command(struct mig_proto *p, struct mig_record *r, const struct mig_exec_spec *spec,
                          struct mig_exec_result *res)
{
    int rc = record_running(p, r);
    if (rc != MIG_P_OK)
        return rc;
    if (mig_exec_run(spec, &p->s->rep, res) != 0) {
        struct mig_dberr e;
        memset(&e, 0, sizeof(e));
        snprintf(e.message, sizeof(e.message), "%s", res->why);
        e.offset = -1;
        /* a command that ran may have done part of its work: its row stays
         * `running` for the undo (its down); one that never started goes */
        static const struct invalid none = { .n = 0 };
        return after_failure(p, r, &e, res->started, "the command failed", NULL, &none);
    }
    r->duration_ms = res->ms;
    r->output = res->tail;
    return mark_applied(p, r);
}
