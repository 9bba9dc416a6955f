/* protocol_undo.c — the undo half of the protocol (see protocol.h): the
 * recorded downs in reverse order of application, a phase's steps in one
 * transaction with the removal of their tracking rows, under the phase's
 * recorded timeout, lock_timeout and retry; steps that ran outside a
 * transaction one by one. After a lost connection the rows still tracked
 * say what was undone. */
#include "protocol.h"
#include "protocol_internal.h"
#include "exec_steps.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 250

static bool kind(const struct mig_tracked *t, const char *k)
{
    return t->down_kind && strcmp(t->down_kind, k) == 0;
}

static bool has_flag(const struct mig_tracked *t, const char *f)
{
    return t->down_flags && strstr(t->down_flags, f) != NULL;
}

/* Undone one by one, outside a transaction: steps that ran outside one,
 * steps still `running`, and steps whose down is a command. */
static bool outside(const struct mig_tracked *t)
{
    return (t->txn && strcmp(t->txn, "none") == 0) || strcmp(t->status, "running") == 0 || kind(t, "exec") ||
           mig_proto_is_restore(t);
}

static bool same_group(const struct mig_tracked *a, const struct mig_tracked *b)
{
    return !outside(a) && !outside(b) && strcmp(a->migration, b->migration) == 0 &&
           strcmp(a->phase, b->phase) == 0 && a->run == b->run;
}

static bool skipped(const struct mig_tracked *t)
{
    return strcmp(t->status, "skipped") == 0;
}

/* The removal of n tracking rows in one statement. SQLite (whose targets
 * have no entry_uid index since 2026-12): the rows of each migration and
 * phase (an undo group is one) by `migration = … AND phase = … AND (step,
 * entry_uid) IN (VALUES …)`, one search of the primary key's prefix, joined
 * by OR when there are several (a condition per row, joined by OR, costs
 * SQLite's planner half again the instructions of the whole rollback);
 * PostgreSQL: by entry_uid IN (...), which its index on entry_uid answers. */
static char *delete_rows_sql(struct mig_proto *p, struct mig_tracked *const *t, size_t n)
{
    struct mig_conn *c = p->s->conn;
    bool by_key = c->drv->dialect == MIG_D_SQLITE;
    struct buf b = { 0 };
    mig_pbuf_put(&b, "DELETE FROM ");
    mig_pbuf_put(&b, c->prefix);
    mig_pbuf_put(&b, by_key ? "mig_applied WHERE " : "mig_applied WHERE entry_uid IN (");
    for (size_t i = 0; i < n; i++) {
        if (!by_key) {
            mig_pbuf_put(&b, i ? ", " : "");
            mig_pbuf_lit(&b, c, t[i]->uid);
            continue;
        }
        bool first = i == 0 || strcmp(t[i]->migration, t[i - 1]->migration) != 0 ||
                     strcmp(t[i]->phase, t[i - 1]->phase) != 0;
        if (first) {
            mig_pbuf_put(&b, i ? ")) OR (migration = " : "(migration = ");
            mig_pbuf_lit(&b, c, t[i]->migration);
            mig_pbuf_put(&b, " AND phase = ");
            mig_pbuf_lit(&b, c, t[i]->phase);
            mig_pbuf_put(&b, " AND (step, entry_uid) IN (VALUES (");
        } else {
            mig_pbuf_put(&b, ", (");
        }
        mig_pbuf_lit(&b, c, t[i]->step);
        mig_pbuf_put(&b, ", ");
        mig_pbuf_lit(&b, c, t[i]->uid);
        mig_pbuf_put(&b, ")");
    }
    mig_pbuf_put(&b, by_key ? (n ? "))" : "0") : ")");
    return b.s;
}

void mig_proto_journal_tracked(struct mig_proto *p, struct mig_tracked *const *t, size_t n, const char *action,
                               const char *note, const char *const *sums)
{
    struct mig_session *s = p->s;
    if (!s->j || !p->jrun || n == 0)
        return;
    struct mig_jentry *e = calloc(n, sizeof(*e));
    if (!e)
        return;
    for (size_t i = 0; i < n; i++) {
        mig_journal_uid(e[i].uid);
        e[i].migration = t[i]->migration;
        e[i].phase = t[i]->phase;
        e[i].step = t[i]->step;
        e[i].action = action;
        e[i].txn = t[i]->txn;
        e[i].checksum = sums ? sums[i] : NULL;
        e[i].down_sql = sums || skipped(t[i]) ? NULL : t[i]->down;
        e[i].undoes = t[i]->uid;
        e[i].file = t[i]->file;
        e[i].line = t[i]->line;
        e[i].seq = t[i]->seq;
        e[i].note = note;
    }
    mig_proto_journal_write(p, e, n, "the target holds the truth");
    free(e);
}

static void report_undone(struct mig_proto *p, struct mig_tracked *const *t, size_t n, int64_t ms, const int64_t *rows)
{
    for (size_t i = 0; i < n; i++) {
        mig_report_step(&p->s->rep, "undone", t[i]->migration, t[i]->phase, t[i]->step, i == 0 ? ms : -1,
                        rows ? rows[i] : 0, skipped(t[i]) ? "was skipped: its record is removed" : NULL);
        mig_session_untrack(p->s, t[i]);
        p->undone++;
    }
}

static int irreversible(struct mig_proto *p, const struct mig_tracked *t)
{
    return mig_proto_fail(p, MIG_P_FAIL, NULL, "%s.%s.%s cannot be undone: its down is irreversible (%s)",
                          t->migration, t->phase, t->step, t->irreversible ? t->irreversible : "no down recorded");
}

/* A phase's run of steps in one transaction. */
static int undo_group(struct mig_proto *p, struct mig_tracked *const *t, size_t n)
{
    struct mig_conn *c = p->s->conn;
    struct mig_dberr e;
    int64_t t0 = mig_now_ms();
    int rc = mig_proto_begin(p, t[0]->timeout_ms, t[0]->lock_timeout_ms);
    if (rc != MIG_P_OK)
        return rc;
    int64_t *rows = calloc(n, sizeof(*rows));
    if (!rows)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (skipped(t[i]) || kind(t[i], "none"))
            continue;
        snprintf(p->s->where, sizeof(p->s->where), "the down of %s.%s.%s", t[i]->migration, t[i]->phase, t[i]->step);
        if (!t[i]->down) {
            mig_proto_abort(p);
            free(rows);
            return irreversible(p, t[i]);
        }
        if (c->drv->exec(c, t[i]->down, &rows[i], &e) != 0) {
            mig_proto_abort(p);
            free(rows);
            return mig_proto_fail(p, e.connection_lost ? MIG_P_UNKNOWN : MIG_P_FAIL, &e, "%s.%s.%s: %s%s%s",
                                  t[i]->migration, t[i]->phase, t[i]->step, mig_signals ? "interrupted by " : "",
                                  mig_signals ? mig_signal_name(mig_last_signal) : e.message,
                                  strcmp(e.sqlstate, "55P03") == 0 ? " (the phase's lock_timeout ran out)" : "");
        }
        if (c->drv->txn_status(c) == MIG_TX_IDLE) {
            p->txn_open = false;
            free(rows);
            return mig_proto_fail(p, MIG_P_DIRTY, NULL, "%s.%s.%s: its down ended the transaction (COMMIT or "
                                  "ROLLBACK in the body)", t[i]->migration, t[i]->phase, t[i]->step);
        }
    }
    /* the last DELETE goes with the COMMIT, in one round trip where the
     * driver can (as in mig_proto_commit) */
    int crc = 0;
    bool together = false;
    for (size_t i = 0; i < n; i += CHUNK) {
        char *sql = delete_rows_sql(p, t + i, n - i < CHUNK ? n - i : CHUNK);
        together = c->drv->commit_with && i + CHUNK >= n;
        int drc = together ? (crc = c->drv->commit_with(c, sql, &e)) : c->drv->exec(c, sql, NULL, &e);
        free(sql);
        if (drc != 0 && !(together && (e.stmts_done != 0 || e.connection_lost))) {
            mig_proto_abort(p);
            free(rows);
            return mig_proto_fail(p, e.connection_lost ? MIG_P_UNKNOWN : MIG_P_FAIL, &e,
                                  "cannot update mig_applied: %s", e.message);
        }
    }
    if (together ? crc != 0 : c->drv->commit(c, &e) != 0) {
        p->txn_open = false;
        free(rows);
        if (!e.connection_lost)
            mig_proto_abort(p);
        return mig_proto_fail(p, e.connection_lost ? MIG_P_UNKNOWN : MIG_P_FAIL, &e, "commit failed: %s",
                              e.message);
    }
    p->txn_open = false;
    p->s->where[0] = 0;
    mig_proto_journal_tracked(p, t, n, "undone", NULL, NULL);
    report_undone(p, t, n, mig_now_ms() - t0, rows);
    free(rows);
    return MIG_P_OK;
}

int mig_proto_run_down_command(struct mig_proto *p, const struct mig_tracked *t, const char *what, bool *ok,
                               char *why, size_t n)
{
    struct mig_exec_args args;
    if (mig_exec_from_json(t->down_exec, &args) != 0) {
        snprintf(why, n, "its recorded down command cannot be read");
        return -2;
    }
    mig_report_note(&p->s->rep, "    running the %s of %s.%s.%s: %s", what, t->migration, t->phase, t->step,
                    args.argv[0]);
    int rc = mig_exec_command(p, &args, false, ok, NULL, why, n);
    mig_exec_args_free(&args);
    return rc;
}

/* A step that ran outside a transaction: its down in autocommit under the
 * recorded timeouts, then its row. */
static int undo_outside(struct mig_proto *p, struct mig_tracked *t)
{
    struct mig_conn *c = p->s->conn;
    struct mig_dberr e, e2;
    int64_t t0 = mig_now_ms(), rows = 0;
    if (kind(t, "exec") && !skipped(t)) {
        bool ok = false;
        char why[512] = "";
        int rc = mig_proto_run_down_command(p, t, "down", &ok, why, sizeof(why));
        if (rc == -2)
            return mig_proto_fail(p, MIG_P_FAIL, NULL, "%s.%s.%s: %s", t->migration, t->phase, t->step, why);
        if (rc != 0 || !ok) {
            /* a command that started may have done part of its work: never "as before" */
            if (!has_flag(t, "optional"))
                return mig_proto_fail(p, rc == 0 ? MIG_P_DIRTY : MIG_P_FAIL, NULL, "%s.%s.%s: its down command "
                                      "failed: %s%s", t->migration, t->phase, t->step, why,
                                      rc == 0 ? " (it had started: it may have done part of its work)" : "");
            mig_report_warning(&p->s->rep, "the optional down of %s.%s.%s failed (%s); the rollback goes on",
                               t->migration, t->phase, t->step, why);
        }
    } else if (!skipped(t) && !kind(t, "none")) {
        if (!t->down)
            return irreversible(p, t);
        bool limits = (t->timeout_ms || t->lock_timeout_ms) && !c->pooled;
        if (limits && c->drv->set_timeouts(c, t->timeout_ms, t->lock_timeout_ms, &e) != 0)
            return mig_proto_fail(p, e.connection_lost ? MIG_P_UNKNOWN : MIG_P_FAIL, &e,
                                  "cannot set the timeouts: %s", e.message);
        int rc = c->drv->exec(c, t->down, &rows, &e);
        if (limits)
            c->drv->set_timeouts(c, 0, 0, &e2);
        if (rc != 0)
            return mig_proto_fail(p, e.connection_lost ? MIG_P_UNKNOWN : e.stmts_done ? MIG_P_DIRTY : MIG_P_FAIL, &e,
                                  "%s.%s.%s: %s%s%s%s", t->migration, t->phase, t->step,
                                  mig_signals ? "interrupted by " : "",
                                  mig_signals ? mig_signal_name(mig_last_signal) : e.message,
                                  strcmp(e.sqlstate, "55P03") == 0 ? " (the phase's lock_timeout ran out)" : "",
                                  e.stmts_done ? " (after part of the down had run)" : "");
    }
    char *sql = delete_rows_sql(p, &t, 1);
    int rc = c->drv->exec(c, sql, NULL, &e);
    free(sql);
    if (rc != 0)
        return mig_proto_fail(p, e.connection_lost ? MIG_P_UNKNOWN : MIG_P_DIRTY, &e,
                              "%s.%s.%s: the down ran but mig_applied could not be updated: %s", t->migration,
                              t->phase, t->step, e.message);
    mig_proto_journal_tracked(p, &t, 1, "undone", NULL, NULL);
    report_undone(p, &t, 1, mig_now_ms() - t0, &rows);
    return MIG_P_OK;
}

/* After a lost connection during an undo: which of rows[i..n) are still
 * tracked (the undone ones are reported), and whether another run applied
 * something on top meanwhile. */
static int after_reconnect(struct mig_proto *p, struct mig_tracked **rows, size_t *i, size_t n)
{
    struct mig_session *s = p->s;
    if (mig_session_reconnect(s) != 0)
        return mig_proto_fail(p, MIG_P_DIRTY, NULL, "the connection was lost and could not be made again");
    int64_t top = 0;
    for (size_t k = *i; k < n; k++)
        if (rows[k]->seq > top)
            top = rows[k]->seq;
    for (size_t k = 0; k < s->rows.n; k++) {
        struct mig_tracked *t = s->rows.v[k];
        if (mig_session_by_uid(s, t->uid) == t && t->seq > top)
            return mig_proto_fail(p, MIG_P_DIRTY, NULL, "while the connection was lost, run %" PRId64 " applied "
                                  "%s.%s.%s on top of what this rollback undoes; nothing more was undone",
                                  t->run, t->migration, t->phase, t->step);
    }
    /* rows no longer tracked were undone by the transaction whose answer was lost */
    while (*i < n) {
        struct mig_tracked *now = mig_session_by_uid(s, rows[*i]->uid);
        if (now) {
            rows[*i] = now;
            break;
        }
        mig_report_note(&s->rep, "%s.%s.%s was undone before the connection was lost", rows[*i]->migration,
                        rows[*i]->phase, rows[*i]->step);
        rows[*i]->status = "undone";
        p->undone++;
        (*i)++;
    }
    for (size_t k = *i; k < n; k++) {
        struct mig_tracked *now = mig_session_by_uid(s, rows[k]->uid);
        if (now)
            rows[k] = now;
    }
    return MIG_P_OK;
}

int mig_proto_undo(struct mig_proto *p, struct mig_tracked *const *in, size_t n, int stop_signals, size_t *undone)
{
    struct mig_tracked **rows = malloc((n + 1) * sizeof(*rows));
    if (!rows)
        abort();
    memcpy(rows, in, n * sizeof(*rows));
    struct mig_tracked **by = calloc(n + 1, sizeof(*by));
    if (!by)
        abort();
    mig_proto_restore_map(rows, n, by);
    size_t i = 0;
    int attempts = 0, reconnects = 0, rc = MIG_P_OK;
    unsigned before = p->undone;
    while (i < n) {
        if (stop_signals && mig_signals >= stop_signals) {
            rc = mig_proto_fail(p, MIG_P_FAIL, NULL, "stopped by %s before %s.%s.%s was undone",
                                mig_signal_name(mig_last_signal), rows[i]->migration, rows[i]->phase, rows[i]->step);
            break;
        }
        if (by[i]) {    /* its down is replaced by a restore that comes later in this list */
            i++;
            continue;
        }
        size_t k = i + 1;
        while (k < n && same_group(rows[i], rows[k]) && !by[k])
            k++;
        rc = mig_proto_is_restore(rows[i]) ? mig_proto_restore(p, rows, n, i, by)
             : outside(rows[i]) ? undo_outside(p, rows[i]) : undo_group(p, rows + i, k - i);
        if (rc == MIG_P_OK) {
            i = k;
            attempts = 0;
            continue;
        }
        if (rc == MIG_P_FAIL && p->has_dberr && p->dberr.transient && !p->dberr.connection_lost &&
            attempts < rows[i]->retry && !(stop_signals && mig_signals >= stop_signals)) {
            attempts++;
            mig_report_note(&p->s->rep, "retry %d/%" PRId64 " of the undo of %s.%s in %" PRId64 " ms after a "
                            "transient error: %s", attempts, rows[i]->retry, rows[i]->migration, rows[i]->phase,
                            rows[i]->retry_every_ms, p->dberr.message);
            mig_sleep_ms(rows[i]->retry_every_ms);
            continue;
        }
        if (rc == MIG_P_UNKNOWN && reconnects++ < 3) {
            mig_report_note(&p->s->rep, "the connection was lost (%s); reconnecting to read what was undone",
                            p->err);
            rc = after_reconnect(p, rows, &i, n);
            if (rc != MIG_P_OK)
                break;
            continue;
        }
        if (rc == MIG_P_UNKNOWN)
            rc = MIG_P_DIRTY;
        break;
    }
    *undone = p->undone - before;
    free(rows);
    free(by);
    return i == n ? MIG_P_OK : rc;
}
