/* protocol.c — record, commit, mark and undo (see protocol.h): the only
 * writer of tracking rows and journal entries. */
#include "protocol.h"
#include "protocol_internal.h"
#include "exec.h"
#include "fault.h"
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 250       /* rows per INSERT or DELETE statement */

void mig_proto_init(struct mig_proto *p, struct mig_session *s, const char *command)
{
    memset(p, 0, sizeof(*p));
    p->s = s;
    p->command = command;
}

int mig_proto_fail(struct mig_proto *p, int rc, const struct mig_dberr *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof(p->err), fmt, ap);
    va_end(ap);
    p->has_dberr = e != NULL;
    if (e)
        p->dberr = *e;
    return rc;
}


void mig_pbuf_put(struct buf *b, const char *t)
{
    size_t k = strlen(t);
    if (b->n + k + 1 > b->cap) {
        size_t cap = (b->n + k + 1) * 2;
        char *ns = realloc(b->s, cap);
        if (!ns)
            abort();
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, t, k + 1);
    b->n += k;
}

void mig_pbuf_lit(struct buf *b, struct mig_conn *c, const char *t)
{
    if (!t) {
        mig_pbuf_put(b, "NULL");
        return;
    }
    char *q = c->drv->quote_literal(c, t, strlen(t));
    mig_pbuf_put(b, q ? q : "NULL");
    free(q);
}

void mig_pbuf_int(struct buf *b, int64_t v)
{
    char n[32];
    snprintf(n, sizeof(n), "%" PRId64, v);
    mig_pbuf_put(b, n);
}

int mig_proto_exec_autocommit(struct mig_proto *p, const char *sql, struct mig_dberr *e)
{
    return p->s->conn->drv->exec(p->s->conn, sql, NULL, e);
}

/* ---- the run ----------------------------------------------------------------------------- */

static const char *const added_columns[] = {
    "seq bigint", "run bigint", "txn text", "down_sql text", "irreversible text", "timeout_ms bigint",
    "lock_timeout_ms bigint", "retry bigint", "retry_every_ms bigint", "file text", "line bigint", NULL,
};

/* Added by the migrun that runs commands. */
static const char *const exec_columns[] = { "down_kind text", "down_exec text", "down_flags text", NULL };

static int start_once(struct mig_proto *p, const char *now, struct mig_dberr *e)
{
    struct mig_session *s = p->s;
    struct mig_conn *c = s->conn;
    if (c->drv->begin(c, 0, 0, e) != 0)
        return -1;
    bool locks = mig_session_txn_locks(s);
    if (locks && s->has_runs && c->drv->txn_lock(c, s->o->lock == MIG_LOCK_TABLE, e) != 0)
        goto fail;
    /* (only what is missing: IF NOT EXISTS on existing tables makes the server talk) */
    for (const char *const *d = c->drv->tracking_ddl; *d && !(s->has_table && s->has_runs && s->target_id[0] && !s->old_table); d++) {
        const char *sql = mig_session_fill(s, *d, c->prefix, NULL);
        if (c->drv->exec(c, sql, NULL, e) != 0)
            goto fail;
    }
    /* a tracking table of an older migrun gains the undo columns */
    for (size_t i = 0; s->legacy_table && added_columns[i]; i++) {
        char *sql = mig_arena_printf(&s->arena, "ALTER TABLE %smig_applied ADD COLUMN %s", c->prefix, added_columns[i]);
        if (c->drv->exec(c, sql, NULL, e) != 0)
            goto fail;
    }
    for (size_t i = 0; s->has_table && s->old_table && exec_columns[i]; i++) {
        char *sql = mig_arena_printf(&s->arena, "ALTER TABLE %smig_applied ADD COLUMN %s", c->prefix, exec_columns[i]);
        if (c->drv->exec(c, sql, NULL, e) != 0)
            goto fail;
    }
    if (!s->target_id[0]) {
        mig_journal_uid(s->target_id);
        char *sql = mig_arena_printf(&s->arena, "INSERT INTO %smig_meta (key, value) VALUES ('target_id', %s)",
                                     c->prefix, mig_session_lit(s, s->target_id));
        if (c->drv->exec(c, sql, NULL, e) != 0)
            goto fail;
    }
    if (locks) {
        /* the table lock needs the table; then the run number under it */
        bool has = false;
        struct mig_value v;
        char *q = mig_arena_printf(&s->arena, "SELECT max(run) FROM %smig_runs", c->prefix);
        if ((!s->has_runs && c->drv->txn_lock(c, s->o->lock == MIG_LOCK_TABLE, e) != 0) ||
            c->drv->query(c, q, &has, &v, e) != 0)
            goto fail;
        if (has && v.t == MIG_V_INT && v.i > s->last_run)
            s->last_run = v.i;
        if (v.t == MIG_V_STRING)
            free((void *)v.s);
    }
    p->run = s->last_run + 1;
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    char *sql = mig_arena_printf(&s->arena, "INSERT INTO %smig_runs (run, command, outcome, started_at, user_name, "
                                 "host, pid) VALUES (%" PRId64 ", %s, 'running', %s, %s, %s, %d)", c->prefix, p->run,
                                 mig_session_lit(s, p->command), mig_session_lit(s, now),
                                 mig_session_lit(s, getenv("USER")), mig_session_lit(s, host), (int)getpid());
    if (c->drv->exec(c, sql, NULL, e) != 0)
        goto fail;
    if (c->drv->commit(c, e) != 0)
        return -1;
    return 0;
fail:;
    struct mig_dberr e2;
    c->drv->rollback(c, &e2);
    return -1;
}

/* After a lost connection at the start: did the run's row commit? */
static bool started(struct mig_proto *p, const char *now)
{
    struct mig_session *s = p->s;
    bool has = false;
    struct mig_value v;
    struct mig_dberr e;
    char *sql = mig_arena_printf(&s->arena, "SELECT 1 FROM %smig_runs WHERE run = %" PRId64 " AND started_at = %s "
                                 "AND pid = %d", s->conn->prefix, p->run, mig_session_lit(s, now), (int)getpid());
    if (!s->has_runs || s->conn->drv->query(s->conn, sql, &has, &v, &e) != 0)
        return false;
    if (v.t == MIG_V_STRING)
        free((void *)v.s);
    return has;
}

int mig_proto_start(struct mig_proto *p)
{
    struct mig_session *s = p->s;
    struct mig_dberr e;
    char now[64];
    mig_now_iso(now);
    int rc = start_once(p, now, &e);
    if (rc != 0 && e.connection_lost) {
        /* the outcome of the COMMIT is read back after reconnecting */
        mig_report_note(&s->rep, "the connection was lost while the run was recorded (%s); reconnecting", e.message);
        if (mig_session_reconnect(s) == 0)
            rc = started(p, now) ? 0 : start_once(p, now, &e);
    }
    if (rc != 0) {
        mig_session_dberror(s, "cannot record the run in the target", &e);
        return -1;
    }
    s->last_run = p->run;
    s->changed = true;
    s->has_table = s->has_runs = true;
    s->legacy_table = s->old_table = false;
    s->jt.id = s->target_id;
    if (s->j) {
        p->jrun = mig_journal_run_begin(s->j, p->command, &s->jt, p->run, "running");
        if (p->jrun < 0) {
            p->jrun = 0;
            mig_report_warning(&s->rep, "%s; the run is recorded in the target only", mig_journal_error(s->j));
        }
    }
    return 0;
}

void mig_proto_finish(struct mig_proto *p, const char *outcome)
{
    struct mig_session *s = p->s;
    if (p->run > 0 && s->conn) {
        char now[64];
        mig_now_iso(now);
        struct mig_dberr e;
        char *sql = mig_arena_printf(&s->arena, "UPDATE %smig_runs SET outcome = %s, finished_at = %s WHERE run = %"
                                     PRId64, s->conn->prefix, mig_session_lit(s, outcome), mig_session_lit(s, now),
                                     p->run);
        if (mig_proto_exec_autocommit(p, sql, &e) != 0)
            mig_report_warning(&s->rep, "cannot record the run's outcome (%s) in the target: %s", outcome, e.message);
    }
    if (p->jrun > 0 && mig_journal_run_end(s->j, p->jrun, outcome) != 0)
        mig_report_warning(&s->rep, "%s", mig_journal_error(s->j));
}

/* ---- recording ---------------------------------------------------------------------------- */

void mig_proto_record(struct mig_proto *p, struct mig_record *r)
{
    (void)p;
    mig_journal_uid(r->uid);
    r->seq = 0;     /* numbered when its row is written */
}

/* Under --lock xact|table another runner may have applied steps since the
 * tracking rows were read: the sequence goes on from the target's. */
int mig_proto_refresh_seq(struct mig_proto *p, struct mig_dberr *e)
{
    struct mig_session *s = p->s;
    if (!mig_session_txn_locks(s) || !s->has_table)
        return 0;
    bool has = false;
    struct mig_value v;
    char *sql = mig_arena_printf(&s->arena, "SELECT max(seq) FROM %smig_applied", s->conn->prefix);
    if (s->conn->drv->query(s->conn, sql, &has, &v, e) != 0)
        return -1;
    if (v.t == MIG_V_STRING)
        free((void *)v.s);
    if (has && v.t == MIG_V_INT && v.i > s->max_seq) {
        /* another runner recorded steps since this one read the tracking
         * rows: going on could run a step it ran (or is running) again */
        snprintf(e->message, sizeof(e->message), "another runner recorded steps in %smig_applied since this run "
                 "read it (its last seq is %" PRId64 ", this run knew %" PRId64 "): this run stops here; run apply "
                 "again to go on from what the target holds", s->conn->prefix, v.i, s->max_seq);
        e->sqlstate[0] = 0, e->detail[0] = 0, e->hint[0] = 0;
        e->code = 0, e->offset = -1, e->stmts_done = 0;
        e->transient = e->connection_lost = e->canceled = false;
        return -1;
    }
    return 0;
}

int mig_proto_begin(struct mig_proto *p, int64_t statement_ms, int64_t lock_ms)
{
    struct mig_dberr e;
    struct mig_conn *c = p->s->conn;
    bool locks = mig_session_txn_locks(p->s);
    if (c->drv->begin(c, statement_ms, lock_ms, &e) != 0 ||
        (locks && (c->drv->txn_lock(c, p->s->o->lock == MIG_LOCK_TABLE, &e) != 0 || mig_proto_refresh_seq(p, &e) != 0))) {
        if (p->s->conn->in_txn) {
            struct mig_dberr e2;
            p->s->conn->drv->rollback(p->s->conn, &e2);
        }
        return mig_proto_fail(p, e.connection_lost ? MIG_P_UNKNOWN : MIG_P_FAIL, &e,
                              "cannot begin a transaction: %s", e.message);
    }
    p->txn_open = true;
    p->pending.n = 0;
    return MIG_P_OK;
}

void mig_proto_add(struct mig_proto *p, const struct mig_record *r)
{
    MIG_PUSH(&p->s->arena, p->pending, *r);
}

static struct mig_tracked *tracked_of(struct mig_proto *p, const struct mig_record *r, const char *status)
{
    /* apply's rows live only as long as their migration (session.h row_arena) */
    struct mig_arena *a = p->s->row_arena ? p->s->row_arena : &p->s->arena;
    struct mig_tracked *t = MIG_NEW(a, struct mig_tracked);
#define DUP(x) ((x) ? mig_arena_strdup(a, (x)) : NULL)
    /* what outlives the session is borrowed: a run of N steps keeps one
     * small row per step, not N copies of the same names */
#define KEEP(x) (r->kept ? (char *)(x) : DUP(x))
    t->migration = KEEP(r->migration);
    t->phase = KEEP(r->phase);
    t->step = KEEP(r->step);
    t->status = (char *)status;     /* a literal ("applied", "running", "skipped") */
    t->checksum = DUP(r->checksum);
    t->uid = DUP(r->uid);
    t->down = DUP(r->down_sql);
    t->irreversible = KEEP(r->irreversible);
    t->txn = KEEP(r->txn);
    t->file = KEEP(r->file);
    t->down_kind = KEEP(r->down_kind);
    t->down_exec = DUP(r->down_exec);
    t->down_flags = KEEP(r->down_flags);
#undef KEEP
#undef DUP
    t->seq = r->seq;
    t->run = p->run;
    t->line = r->line;
    t->timeout_ms = r->timeout_ms;
    t->lock_timeout_ms = r->lock_timeout_ms;
    t->retry = r->retry;
    t->retry_every_ms = r->retry_every_ms;
    return t;
}

void mig_proto_journal_write(struct mig_proto *p, struct mig_jentry *e, size_t n, const char *holds)
{
    struct mig_session *s = p->s;
    if (mig_journal_add(s->j, p->jrun, e, n, "done") != 0)
        mig_report_warning(&s->rep, "%s; %s", mig_journal_error(s->j), holds);
}

void mig_proto_journal_entries(struct mig_proto *p, const struct mig_record *r, size_t n, const char *action,
                               const char *note)
{
    struct mig_session *s = p->s;
    if (!s->j || !p->jrun || n == 0)
        return;
    struct mig_jentry *e = calloc(n, sizeof(*e));
    if (!e)
        return;
    for (size_t i = 0; i < n; i++) {
        memcpy(e[i].uid, r[i].uid, sizeof(e[i].uid));
        e[i].migration = r[i].migration;
        e[i].phase = r[i].phase;
        e[i].step = r[i].step;
        e[i].txn = r[i].txn;
        e[i].checksum = r[i].checksum;
        e[i].up_sql = r[i].up_sql;
        e[i].down_sql = r[i].down_sql;
        e[i].irreversible = r[i].irreversible;
        e[i].file = r[i].file;
        e[i].line = r[i].line;
        e[i].rows = r[i].rows;
        e[i].duration_ms = r[i].duration_ms;
        e[i].seq = r[i].seq;
        e[i].output = r[i].output;
        e[i].note = note;
        e[i].action = strcmp(r[i].status, "skipped") == 0 ? "skipped" : action;
    }
    mig_proto_journal_write(p, e, n, "the target holds the record, the journal will copy it on the next run");
    free(e);
}

void mig_proto_committed(struct mig_proto *p, const struct mig_record *r, size_t n, const char *status)
{
    for (size_t i = 0; i < n; i++) {
        struct mig_tracked *t = tracked_of(p, &r[i], strcmp(r[i].status, "skipped") == 0 ? "skipped" : status);
        if (r[i].replaces) {
            mig_session_untrack(p->s, r[i].replaces);
            t->was_interrupted = true;
        }
        mig_session_track(p->s, t);
        MIG_PUSH(&p->s->arena, p->committed, t);
    }
}

static void insert_rows(struct mig_proto *p, struct buf *b, const struct mig_record *r, size_t n, const char *status)
{
    struct mig_conn *c = p->s->conn;
    char now[64];
    mig_now_iso(now);
    mig_pbuf_put(b, "INSERT INTO ");
    mig_pbuf_put(b, c->prefix);
    mig_pbuf_put(b, "mig_applied (migration, phase, step, status, checksum, entry_uid, applied_at, seq, run, txn, down_sql, "
           "irreversible, timeout_ms, lock_timeout_ms, retry, retry_every_ms, file, line, down_kind, down_exec, "
           "down_flags) VALUES ");
    for (size_t i = 0; i < n; i++) {
        bool skipped = strcmp(r[i].status, "skipped") == 0;
        mig_pbuf_put(b, i ? ", (" : "(");
        mig_pbuf_lit(b, c, r[i].migration); mig_pbuf_put(b, ", ");
        mig_pbuf_lit(b, c, r[i].phase); mig_pbuf_put(b, ", ");
        mig_pbuf_lit(b, c, r[i].step); mig_pbuf_put(b, ", ");
        mig_pbuf_lit(b, c, skipped ? "skipped" : status); mig_pbuf_put(b, ", ");
        mig_pbuf_lit(b, c, r[i].checksum); mig_pbuf_put(b, ", ");
        mig_pbuf_lit(b, c, r[i].uid); mig_pbuf_put(b, ", ");
        mig_pbuf_lit(b, c, now); mig_pbuf_put(b, ", ");
        mig_pbuf_int(b, r[i].seq); mig_pbuf_put(b, ", ");
        mig_pbuf_int(b, p->run); mig_pbuf_put(b, ", ");
        mig_pbuf_lit(b, c, r[i].txn); mig_pbuf_put(b, ", ");
        mig_pbuf_lit(b, c, skipped ? NULL : r[i].down_sql); mig_pbuf_put(b, ", ");
        mig_pbuf_lit(b, c, skipped ? NULL : r[i].irreversible); mig_pbuf_put(b, ", ");
        mig_pbuf_int(b, r[i].timeout_ms); mig_pbuf_put(b, ", ");
        mig_pbuf_int(b, r[i].lock_timeout_ms); mig_pbuf_put(b, ", ");
        mig_pbuf_int(b, r[i].retry); mig_pbuf_put(b, ", ");
        mig_pbuf_int(b, r[i].retry_every_ms); mig_pbuf_put(b, ", ");
        mig_pbuf_lit(b, c, r[i].file); mig_pbuf_put(b, ", ");
        mig_pbuf_int(b, r[i].line); mig_pbuf_put(b, ", ");
        mig_pbuf_lit(b, c, skipped ? NULL : r[i].down_kind); mig_pbuf_put(b, ", ");
        mig_pbuf_lit(b, c, skipped ? NULL : r[i].down_exec); mig_pbuf_put(b, ", ");
        mig_pbuf_lit(b, c, skipped ? NULL : r[i].down_flags); mig_pbuf_put(b, ")");
    }
}

/* The INSERTs of n tracking rows (numbered here), CHUNK rows each, in one
 * text. Malloc'd. */
static char *rows_sql(struct mig_proto *p, struct mig_record *r, size_t n, const char *status)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].seq == 0)
            r[i].seq = ++p->s->max_seq;
    struct buf b = { 0 };
    for (size_t i = 0; i < n; i += CHUNK) {
        if (i)
            mig_pbuf_put(&b, ";\n");
        insert_rows(p, &b, r + i, n - i < CHUNK ? n - i : CHUNK, status);
    }
    return b.s;
}

int mig_proto_write_rows(struct mig_proto *p, struct mig_record *r, size_t n, const char *status, struct mig_dberr *e)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].seq == 0)
            r[i].seq = ++p->s->max_seq;
    for (size_t i = 0; i < n; i += CHUNK) {
        struct buf b = { 0 };
        insert_rows(p, &b, r + i, n - i < CHUNK ? n - i : CHUNK, status);
        int rc = p->s->conn->drv->exec(p->s->conn, b.s, NULL, e);
        free(b.s);
        if (rc != 0)
            return -1;
    }
    return 0;
}

void mig_pbuf_row_key(struct buf *b, struct mig_conn *c, const char *migration, const char *phase, const char *step,
                      const char *uid)
{
    mig_pbuf_put(b, " WHERE migration = ");
    mig_pbuf_lit(b, c, migration);
    mig_pbuf_put(b, " AND phase = ");
    mig_pbuf_lit(b, c, phase);
    mig_pbuf_put(b, " AND step = ");
    mig_pbuf_lit(b, c, step);
    mig_pbuf_put(b, " AND entry_uid = ");
    mig_pbuf_lit(b, c, uid);
}

char *mig_proto_delete_sql(struct mig_proto *p, const char *migration, const char *phase, const char *step,
                           const char *uid)
{
    struct buf b = { 0 };
    mig_pbuf_put(&b, "DELETE FROM ");
    mig_pbuf_put(&b, p->s->conn->prefix);
    mig_pbuf_put(&b, "mig_applied");
    mig_pbuf_row_key(&b, p->s->conn, migration, phase, step, uid);
    return b.s;
}

/* The row an interrupted run left `running` for r's step goes before r's
 * own is written (the step runs again). */
int mig_proto_clear_interrupted(struct mig_proto *p, struct mig_record *r, struct mig_dberr *e)
{
    struct mig_tracked *old = mig_session_find(p->s, r->migration, r->phase, r->step);
    if (!old || strcmp(old->status, "running") != 0)
        return 0;
    char *sql = mig_proto_delete_sql(p, old->migration, old->phase, old->step, old->uid);
    int rc = p->s->conn->drv->exec(p->s->conn, sql, NULL, e);
    free(sql);
    if (rc == 0)
        r->replaces = old;  /* forgotten by the session once this record commits */
    return rc;
}

int mig_proto_commit(struct mig_proto *p)
{
    struct mig_conn *c = p->s->conn;
    if (!p->txn_open)
        return MIG_P_OK;
    struct mig_dberr e;
    if (c->drv->txn_status(c) != MIG_TX_ACTIVE && c->drv->txn_status(c) != MIG_TX_UNKNOWN) {
        p->txn_open = false;
        if (c->drv->txn_status(c) == MIG_TX_IDLE)
            return mig_proto_fail(p, MIG_P_DIRTY, NULL, "the transaction was ended by a statement of the step "
                                  "(COMMIT or ROLLBACK in a body): what it ran is not recorded");
        mig_proto_abort(p);
        return mig_proto_fail(p, MIG_P_FAIL, NULL, "the transaction had failed and was rolled back");
    }
    int cleared = 0;
    for (size_t i = 0; i < p->pending.n && cleared == 0; i++)
        cleared = mig_proto_clear_interrupted(p, &p->pending.v[i], &e);
    /* the rows and the COMMIT in one round trip where the driver can: a
     * failure of the rows leaves the transaction to roll back (stmts_done
     * 0); a lost connection leaves the COMMIT's outcome unknown */
    bool together = c->drv->commit_with && p->pending.n > 0;
    int crc = 0;
    if (cleared == 0 && together) {
        char *sql = rows_sql(p, p->pending.v, p->pending.n, "applied");
        crc = c->drv->commit_with(c, sql, &e);
        free(sql);
        if (crc != 0 && e.stmts_done == 0 && !e.connection_lost)
            cleared = -1;
    } else if (cleared == 0 && mig_proto_write_rows(p, p->pending.v, p->pending.n, "applied", &e) != 0) {
        cleared = -1;
    }
    if (cleared != 0) {
        bool lost = e.connection_lost;
        mig_proto_abort(p);
        return mig_proto_fail(p, lost ? MIG_P_UNKNOWN : MIG_P_FAIL, &e, "cannot record the steps in mig_applied: %s",
                              e.message);
    }
    if (together ? crc != 0 : c->drv->commit(c, &e) != 0) {
        p->txn_open = false;
        if (e.connection_lost) {
            for (size_t i = 0; i < p->pending.n; i++)
                MIG_PUSH(&p->s->arena, p->unknown, p->pending.v[i]);
            p->pending.n = 0;
            return mig_proto_fail(p, MIG_P_UNKNOWN, &e, "the connection was lost during COMMIT: %s", e.message);
        }
        mig_proto_abort(p);
        return mig_proto_fail(p, MIG_P_FAIL, &e, "commit failed: %s", e.message);
    }
    p->txn_open = false;
    mig_proto_journal_entries(p, p->pending.v, p->pending.n, "applied", NULL);
    mig_proto_committed(p, p->pending.v, p->pending.n, "applied");
    p->pending.n = 0;
    return MIG_P_OK;
}

void mig_proto_abort(struct mig_proto *p)
{
    struct mig_conn *c = p->s->conn;
    if (p->txn_open || c->in_txn) {
        struct mig_dberr e;
        c->drv->rollback(c, &e);
    }
    p->txn_open = false;
    p->pending.n = 0;
}

