/* session.c — connection, lock, journal, tracking rows, reconciliation,
 * signals and teardown for every migrun command (see session.h). */
#include "session.h"
#include "fault.h"
#include "lib/sqlnames.h"
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t mig_signals, mig_last_signal;
static struct mig_conn *volatile signal_conn;   /* the connection a signal cancels */

const char *mig_signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

static void on_signal(int sig)
{
    mig_signals++;
    mig_last_signal = sig;
    struct mig_conn *c = signal_conn;
    if (c)
        c->drv->cancel(c);
}

void mig_session_catch(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

bool mig_session_txn_locks(const struct mig_session *s)
{
    return s->conn->drv->dialect == MIG_D_POSTGRES && (s->o->lock == MIG_LOCK_XACT || s->o->lock == MIG_LOCK_TABLE);
}

int64_t mig_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void mig_sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);   /* a signal ends it early, as it should */
}

void mig_session_dberror(struct mig_session *s, const char *what, const struct mig_dberr *e)
{
    mig_report_error(&s->rep, "%s: %s%s%s%s", what, e->message, e->sqlstate[0] ? " (SQLSTATE " : "", e->sqlstate,
                     e->sqlstate[0] ? ")" : "");
}

const char *mig_session_lit(struct mig_session *s, const char *text)
{
    if (!text)
        return "NULL";
    char *q = s->conn->drv->quote_literal(s->conn, text, strlen(text));
    char *out = mig_arena_strdup(&s->arena, q ? q : "NULL");
    free(q);
    return out;
}

const char *mig_session_table(struct mig_session *s, const char *name)
{
    return mig_arena_printf(&s->arena, "%s%s", s->conn->prefix, name);
}

size_t mig_session_invalid_indexes(struct mig_session *s, const char *sql, char (*out)[256], size_t max)
{
    const struct mig_driver *d = s->conn->drv;
    if (!d->invalid_index || !s->conn->exists || !sql)
        return 0;
    char names[16][256];
    size_t n = mig_sql_created_indexes(sql, names, 16), k = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        bool has = false;
        struct mig_value v = { 0 };
        struct mig_dberr e;
        const char *q = mig_session_fill(s, d->invalid_index, mig_session_lit(s, names[i]), NULL);
        if (d->query(s->conn, q, &has, &v, &e) == 0 && has)
            memcpy(out[k++], names[i], sizeof(names[i]));
        if (v.t == MIG_V_STRING)
            free((void *)v.s);
    }
    return k;
}

const char *mig_session_fill(struct mig_session *s, const char *tmpl, const char *a, const char *b)
{
    const char *args[2] = { a, b };
    size_t n = strlen(tmpl) + (a ? strlen(a) : 0) + (b ? strlen(b) : 0) + 1, k = 0, used = 0;
    char *out = mig_arena_alloc(&s->arena, n);
    for (const char *t = tmpl; *t; t++) {
        if (t[0] == '%' && t[1] == 's' && used < 2) {
            const char *v = args[used++];
            size_t vl = v ? strlen(v) : 0;
            memcpy(out + k, v ? v : "", vl);
            k += vl;
            t++;
        } else {
            out[k++] = *t;
        }
    }
    out[k] = 0;
    return out;
}

/* "m\x1fp\x1fst" into out (room for ml + pl + sl + 3 bytes). */
static char *key3_into(char *out, const char *m, size_t ml, const char *p, size_t pl, const char *st, size_t sl)
{
    memcpy(out, m, ml);
    out[ml] = '\x1f';
    memcpy(out + ml + 1, p, pl);
    out[ml + 1 + pl] = '\x1f';
    memcpy(out + ml + pl + 2, st, sl);
    out[ml + pl + sl + 2] = 0;
    return out;
}

static char *key3(struct mig_arena *a, const char *m, const char *p, const char *st)
{
    size_t ml = strlen(m), pl = strlen(p), sl = strlen(st);
    return key3_into(mig_arena_alloc(a, ml + pl + sl + 3), m, ml, p, pl, st, sl);
}

struct mig_tracked *mig_session_find(struct mig_session *s, const char *m, const char *p, const char *st)
{
    char buf[768];
    size_t ml = strlen(m), pl = strlen(p), sl = strlen(st);
    if (ml + pl + sl + 3 > sizeof(buf))
        return mig_strmap_get(&s->by_key, key3(&s->arena, m, p, st));
    return mig_strmap_get(&s->by_key, key3_into(buf, m, ml, p, pl, st, sl));
}

struct mig_tracked *mig_session_by_uid(struct mig_session *s, const char *uid)
{
    return mig_strmap_get(&s->by_uid, uid);
}

/* mig_session_track with the row's key (owned by the row's arena) already
 * made; transient: a row of s->row_arena (see session.h). */
static void track_keyed(struct mig_session *s, struct mig_tracked *t, const char *key, bool transient)
{
    struct mig_tracked *old = mig_strmap_put(&s->by_key, key, t);
    bool uids = !(s->needs & MIG_BRIEF_ROWS);
    if (old && uids)
        mig_strmap_put(&s->by_uid, old->uid, NULL);
    if (old && !transient) {
        for (size_t i = 0; i < s->rows.n; i++)
            if (s->rows.v[i] == old)
                s->rows.v[i] = t;
    } else {
        /* a transient row goes after every other (the one it replaces stays
         * where it is, no longer in the maps: walkers of s->rows check that),
         * so that forgetting the transient rows is cutting the list there */
        if (transient && !s->has_transient) {
            s->has_transient = true;
            s->transient_from = s->rows.n;
        }
        MIG_PUSH(&s->arena, s->rows, t);
    }
    if (uids)
        mig_strmap_put(&s->by_uid, t->uid, t);
    if (t->seq > s->max_seq)
        s->max_seq = t->seq;
}

void mig_session_track(struct mig_session *s, struct mig_tracked *t)
{
    struct mig_arena *a = s->row_arena ? s->row_arena : &s->arena;
    track_keyed(s, t, key3(a, t->migration, t->phase, t->step), s->row_arena != NULL);
}

void mig_session_forget_transient(struct mig_session *s)
{
    if (!s->has_transient)
        return;
    bool uids = !(s->needs & MIG_BRIEF_ROWS);
    for (size_t i = s->transient_from; i < s->rows.n; i++) {
        struct mig_tracked *t = s->rows.v[i];
        char buf[768];
        size_t ml = strlen(t->migration), pl = strlen(t->phase), sl = strlen(t->step);
        char *key = ml + pl + sl + 3 > sizeof(buf) ? key3(&s->arena, t->migration, t->phase, t->step)
                                                   : key3_into(buf, t->migration, ml, t->phase, pl, t->step, sl);
        /* a slot that holds t, or nothing (t was undone or replaced and the
         * slot's key may be t's own text): absent from now on */
        struct mig_tracked *k = mig_strmap_get(&s->by_key, key);
        if (k == t || k == NULL) {
            if (k == t && strcmp(t->status, "undone") != 0)
                s->forgotten_live++;
            mig_strmap_del(&s->by_key, key);
        }
        if (uids) {
            struct mig_tracked *u = mig_strmap_get(&s->by_uid, t->uid);
            if (u == t || u == NULL)
                mig_strmap_del(&s->by_uid, t->uid);
        }
    }
    s->rows.n = s->transient_from;
    s->has_transient = false;
}

void mig_session_untrack(struct mig_session *s, struct mig_tracked *t)
{
    /* the row stays in s->rows (callers walk that list); the maps forget it */
    if (mig_session_find(s, t->migration, t->phase, t->step) == t)
        mig_strmap_put(&s->by_key, key3(&s->arena, t->migration, t->phase, t->step), NULL);
    if (mig_session_by_uid(s, t->uid) == t)
        mig_strmap_put(&s->by_uid, t->uid, NULL);
    t->status = "undone";
}

/* ---- tracking rows --------------------------------------------------------------------- */

static int64_t num(const char *v)
{
    return v ? strtoll(v, NULL, 10) : 0;
}

/* The text columns of a tracking row (of the 21 of the full reading). */
enum { TEXT_COLS = 14 };
static const unsigned char text_col[TEXT_COLS] = { 0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 16, 18, 19, 20 };

static int track_row(void *ctx, int n, const char *const *v)
{
    struct mig_session *s = ctx;
    if (n < 7 || !v[0] || !v[1] || !v[2] || !v[3] || !v[5])
        return 0;
    /* the row, its texts and its key in one allocation of the arena (a
     * status of thousands of steps reads as many rows) */
    size_t len[TEXT_COLS], size = sizeof(struct mig_tracked), ml = strlen(v[0]), pl = strlen(v[1]), sl = strlen(v[2]);
    for (int k = 0; k < TEXT_COLS; k++) {
        int i = text_col[k];
        len[k] = n > i && v[i] ? strlen(v[i]) + 1 : 0;
        size += len[k];
    }
    size += ml + pl + sl + 3;
    char *mem = mig_arena_alloc_raw(&s->arena, size);
    struct mig_tracked *t = (struct mig_tracked *)mem;
    memset(t, 0, sizeof(*t));
    char *text[21] = { 0 }, *at = mem + sizeof(*t);
    for (int k = 0; k < TEXT_COLS; k++)
        if (len[k]) {
            text[text_col[k]] = memcpy(at, v[text_col[k]], len[k]);
            at += len[k];
        }
    t->migration = text[0];
    t->phase = text[1];
    t->step = text[2];
    t->status = text[3];
    t->checksum = text[4];
    t->uid = text[5];
    t->applied_at = text[6];
    if (n >= 18) {
        t->seq = num(v[7]);
        t->run = num(v[8]);
        t->txn = text[9];
        t->down = text[10];
        t->irreversible = text[11];
        t->timeout_ms = num(v[12]);
        t->lock_timeout_ms = num(v[13]);
        t->retry = num(v[14]);
        t->retry_every_ms = num(v[15]);
        t->file = text[16];
        t->line = num(v[17]);
    }
    if (n >= 21) {
        t->down_kind = text[18];
        t->down_exec = text[19];
        t->down_flags = text[20];
    }
    t->legacy = t->txn == NULL;     /* rows of an older migrun carry no undo information */
    track_keyed(s, t, key3_into(at, v[0], ml, v[1], pl, v[2], sl), false);
    if (t->run > s->last_run)
        s->last_run = t->run;
    return 0;
}

static int exists_table(struct mig_session *s, const char *name, bool *yes)
{
    const char *sql = mig_session_fill(s, s->conn->drv->has_table, mig_session_lit(s, s->conn->schema),
                                       mig_session_lit(s, name));
    struct mig_value v;
    struct mig_dberr e;
    if (s->conn->drv->query(s->conn, sql, yes, &v, &e) != 0) {
        mig_session_dberror(s, "cannot read the tracking table", &e);
        return -1;
    }
    if (v.t == MIG_V_STRING)
        free((void *)v.s);
    return 0;
}

/* A row of the one-query reading: the tracking row's 21 columns (all NULL
 * when mig_applied is empty), then the target's identity and last run; or,
 * read brief (MIG_BRIEF_ROWS), columns 0 to 9 and 18 of those 21, then the
 * two. */
enum { BRIEF_COLS = 13 };
static int track_row_head(void *ctx, int n, const char *const *v)
{
    struct mig_session *s = ctx;
    const char *full[23] = { 0 };
    if (n == BRIEF_COLS) {
        memcpy(full, v, 10 * sizeof(*v));
        full[18] = v[10];
        full[21] = v[11];
        full[22] = v[12];
        v = full;
    } else if (n != 23) {
        return 0;
    }
    if (v[21] && !s->target_id[0])
        snprintf(s->target_id, sizeof(s->target_id), "%s", v[21]);
    if (v[22] && num(v[22]) > s->last_run)
        s->last_run = num(v[22]);
    return v[0] ? track_row(ctx, 21, v) : 0;
}

/* The session knows no tracking row (before reading them, or after a
 * reading that failed part way). */
static void forget_rows(struct mig_session *s)
{
    s->rows.n = 0;
    s->has_transient = false;
    s->forgotten_live = 0;
    if (s->finished)
        memset(s->finished, 0, s->nfinished * sizeof(*s->finished));
    memset(&s->by_key, 0, sizeof(s->by_key));
    memset(&s->by_uid, 0, sizeof(s->by_uid));
    s->by_key.arena = s->by_uid.arena = &s->arena;
    s->max_seq = s->last_run = 0;
    s->target_id[0] = 0;
}

/* Whether tracking row a comes before b: ORDER BY seq, applied_at (a NULL
 * seq, read as 0, and a NULL applied_at first, as SQL sorts them). */
static bool row_before(const struct mig_tracked *a, const struct mig_tracked *b)
{
    if (a->seq != b->seq)
        return a->seq < b->seq;
    if (!a->applied_at || !b->applied_at)
        return !a->applied_at && b->applied_at;
    return strcmp(a->applied_at, b->applied_at) < 0;
}

/* s->rows sorted by seq and applied_at: a stable merge sort (rows that tie
 * stay in the order the database gave them), in order already at once. */
static void rows_in_order(struct mig_session *s)
{
    size_t n = s->rows.n;
    struct mig_tracked **v = s->rows.v;
    size_t i = 1;
    while (i < n && !row_before(v[i], v[i - 1]))
        i++;
    if (i >= n)
        return;
    struct mig_tracked **tmp = mig_arena_alloc_raw(&s->arena, n * sizeof(*tmp)), **from = v, **to = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, a = lo, b = mid, k = lo;
            while (a < mid && b < hi)
                to[k++] = row_before(from[b], from[a]) ? from[b++] : from[a++];
            while (a < mid)
                to[k++] = from[a++];
            while (b < hi)
                to[k++] = from[b++];
        }
        struct mig_tracked **t = from;
        from = to;
        to = t;
    }
    if (from != v)
        memcpy(v, from, n * sizeof(*v));
}

/* The tracking tables of this migrun (the three of them, every column, or
 * for status the columns it shows): read in one query. Anything else (no tables yet, an older migrun's
 * table) fails it, and the reading goes step by step. */
static bool load_at_once(struct mig_session *s)
{
    const char *x = s->conn->prefix;
    /* status reads no undo information: the texts of the downs are most
     * of a tracking table, and each column read costs a call per row */
    bool brief = s->needs & MIG_BRIEF_ROWS;
    /* in the table's order: sorted by seq here (rows_in_order), not by the
     * database (SQLite would copy every row through a sorter) */
    char *sql = mig_arena_printf(&s->arena,
        "SELECT a.migration, a.phase, a.step, a.status, a.checksum, a.entry_uid, a.applied_at, a.seq, a.run, a.txn, "
        "%sa.down_kind%s, h.tid, h.mr FROM (SELECT (SELECT value FROM %smig_meta WHERE key = 'target_id') AS tid, "
        "(SELECT max(run) FROM %smig_runs) AS mr) h LEFT JOIN %smig_applied a ON 1 = 1",
        brief ? "" : "a.down_sql, a.irreversible, a.timeout_ms, a.lock_timeout_ms, a.retry, a.retry_every_ms, "
                     "a.file, a.line, ", brief ? "" : ", a.down_exec, a.down_flags", x, x, x);
    struct mig_dberr e;
    if (s->conn->drv->select(s->conn, sql, track_row_head, s, &e) != 0) {
        forget_rows(s);     /* what it read before failing */
        return false;
    }
    rows_in_order(s);
    s->has_table = s->has_runs = true;
    s->legacy_table = s->old_table = false;
    s->jt.id = s->target_id[0] ? s->target_id : NULL;
    return true;
}

int mig_session_load(struct mig_session *s)
{
    forget_rows(s);
    if (!s->conn->exists)
        return 0;
    if (load_at_once(s))
        return 0;
    bool meta = false;
    if (exists_table(s, "mig_applied", &s->has_table) != 0 || exists_table(s, "mig_runs", &s->has_runs) != 0 ||
        exists_table(s, "mig_meta", &meta) != 0)
        return -1;
    struct mig_dberr e;
    if (meta) {
        bool has = false;
        struct mig_value v;
        char *sql = mig_arena_printf(&s->arena, "SELECT value FROM %smig_meta WHERE key = 'target_id'", s->conn->prefix);
        if (s->conn->drv->query(s->conn, sql, &has, &v, &e) != 0) {
            mig_session_dberror(s, "cannot read the tracking metadata", &e);
            return -1;
        }
        if (has && v.t == MIG_V_STRING) {
            snprintf(s->target_id, sizeof(s->target_id), "%s", v.s);
            free((void *)v.s);
        }
    }
    s->jt.id = s->target_id[0] ? s->target_id : NULL;
    if (s->has_runs) {
        bool has = false;
        struct mig_value v;
        char *sql = mig_arena_printf(&s->arena, "SELECT max(run) FROM %smig_runs", s->conn->prefix);
        if (s->conn->drv->query(s->conn, sql, &has, &v, &e) != 0) {
            mig_session_dberror(s, "cannot read the runs of the target", &e);
            return -1;
        }
        if (has && v.t == MIG_V_INT && v.i > s->last_run)
            s->last_run = v.i;
        if (v.t == MIG_V_STRING)
            free((void *)v.s);
    }
    if (!s->has_table)
        return 0;
    bool undo_columns = false, exec_columns = false;
    struct mig_value v;
    const char *q = mig_session_fill(s, s->conn->drv->has_undo_columns, mig_session_lit(s, s->conn->schema), "'seq'");
    const char *q2 = mig_session_fill(s, s->conn->drv->has_undo_columns, mig_session_lit(s, s->conn->schema),
                                      "'down_kind'");
    if (s->conn->drv->query(s->conn, q, &undo_columns, &v, &e) != 0 ||
        s->conn->drv->query(s->conn, q2, &exec_columns, &v, &e) != 0) {
        mig_session_dberror(s, "cannot read the tracking table", &e);
        return -1;
    }
    s->legacy_table = !undo_columns;
    s->old_table = !exec_columns;
    char *sql;
    if (s->legacy_table)
        goto legacy;
    sql = mig_arena_printf(&s->arena,
        "SELECT migration, phase, step, status, checksum, entry_uid, applied_at, seq, run, txn, down_sql, "
        "irreversible, timeout_ms, lock_timeout_ms, retry, retry_every_ms, file, line%s FROM %smig_applied "
        "ORDER BY seq, applied_at", s->old_table ? "" : ", down_kind, down_exec, down_flags", s->conn->prefix);
    if (s->conn->drv->select(s->conn, sql, track_row, s, &e) == 0)
        return 0;
    mig_session_dberror(s, "cannot read the tracking table mig_applied", &e);
    return -1;
legacy:
    /* a tracking table of an older migrun: no undo columns yet */
    sql = mig_arena_printf(&s->arena, "SELECT migration, phase, step, status, checksum, entry_uid, applied_at "
                           "FROM %smig_applied ORDER BY applied_at, migration, phase, step", s->conn->prefix);
    if (s->conn->drv->select(s->conn, sql, track_row, s, &e) != 0) {
        mig_session_dberror(s, "cannot read the tracking table mig_applied", &e);
        return -1;
    }
    return 0;
}

/* ---- lock ------------------------------------------------------------------------------ */

static int take_lock(struct mig_session *s)
{
    enum mig_lock_mode mode = s->o->lock;
    bool pg = s->conn->drv->dialect == MIG_D_POSTGRES;
    if (pg && (mode == MIG_LOCK_XACT || mode == MIG_LOCK_TABLE))
        return 0;   /* taken in every transaction (protocol) */
    if (pg && s->conn->pooled && mode == MIG_LOCK_DEFAULT) {
        mig_report_error(&s->rep, "%s is reached through a connection pooler (the server's backend is not the one "
                         "the connection was opened with): a session lock would stay on a pooled server connection "
                         "and two runners could both apply; use --lock xact (or --lock table) behind a transaction "
                         "pooler, --lock session behind a session pooler, or connect to the server directly; nothing "
                         "was changed", s->conn->display);
        return -1;
    }
    int64_t deadline = mig_now_ms() + s->o->lock_wait_ms;
    bool told = false;
    for (;;) {
        char who[512] = "";
        struct mig_dberr e;
        memset(&e, 0, sizeof(e));
        int rc = s->conn->drv->try_lock(s->conn, who, sizeof(who), &e);
        if (rc == 0) {
            s->locked = true;
            return 0;
        }
        if (rc < 0) {
            mig_session_dberror(s, "cannot take the runner lock", &e);
            return -1;
        }
        if (mig_signals) {
            mig_report_error(&s->rep, "interrupted by %s while waiting for the lock on %s held by %s; nothing was "
                             "changed", mig_signal_name(mig_last_signal), s->conn->display, who);
            return -1;
        }
        if (mig_now_ms() >= deadline) {
            mig_report_error(&s->rep, "another migrun holds the lock on %s: %s; gave up after %" PRId64
                             " ms (--lock-wait)", s->conn->display, who, s->o->lock_wait_ms);
            return -1;
        }
        if (!told) {
            mig_report_note(&s->rep, "waiting for the lock on %s held by %s", s->conn->display, who);
            mig_report_flush(&s->rep);
            told = true;
        }
        mig_sleep_ms(100);
    }
}

/* ---- reconciliation: the journal follows the target ------------------------------------- */

struct legacy_pending {
    struct mig_session *s;
    unsigned done, aborted, interrupted;
};

static void legacy_cb(void *ctx, const char *uid, const char *action, const char *undoes, const char *txn,
                      const char *m, const char *p, const char *st)
{
    struct legacy_pending *lp = ctx;
    struct mig_session *s = lp->s;
    bool committed = strcmp(action, "undone") == 0 ? !undoes || !mig_session_by_uid(s, undoes)
                                                   : mig_session_by_uid(s, uid) != NULL;
    const char *state = committed ? "done" : txn && strcmp(txn, "none") == 0 ? "interrupted" : "aborted";
    if (mig_journal_set_state_uid(s->j, uid, state) != 0)
        mig_report_warning(&s->rep, "%s", mig_journal_error(s->j));
    if (committed)
        lp->done++;
    else if (strcmp(state, "interrupted") == 0) {
        lp->interrupted++;
        mig_report_warning(&s->rep, "step %s.%s.%s (transaction none) was interrupted while it was %s and may have "
                           "partly run.", m, p, st, strcmp(action, "undone") == 0 ? "undone" : "applied");
    } else {
        lp->aborted++;
    }
}

/* Entries of the target's rows that the journal lacks (another machine's
 * runs, a lost or older journal) are copied into it. */
static int resync(struct mig_session *s)
{
    unsigned added = 0;
    for (size_t i = 0; i < s->rows.n; i++) {
        struct mig_tracked *t = s->rows.v[i];
        if (t->legacy)
            continue;   /* no undo information to copy: the journal's own record is the one that counts */
        int has = mig_journal_has(s->j, t->uid);
        if (has < 0)
            return -1;
        if (has)
            continue;
        int64_t jrun = mig_journal_synced_run(s->j, &s->jt, t->run);
        if (jrun < 0)
            return -1;
        struct mig_jentry e;
        memset(&e, 0, sizeof(e));
        snprintf(e.uid, sizeof(e.uid), "%s", t->uid);
        e.migration = t->migration;
        e.phase = t->phase;
        e.step = t->step;
        e.action = strcmp(t->status, "skipped") == 0 ? "skipped" : "applied";
        e.txn = t->txn;
        e.checksum = t->checksum;
        e.down_sql = t->down;
        e.irreversible = t->irreversible;
        e.file = t->file;
        e.line = t->line;
        e.seq = t->seq;
        if (mig_journal_add(s->j, jrun, &e, 1, "done") != 0)
            return -1;
        added++;
    }
    if (added)
        mig_report_note(&s->rep, "the journal %s lacked %u step%s recorded in %s; copied from the target",
                        s->o->journal, added, added == 1 ? "" : "s", s->conn->display);
    return 0;
}

static int reconcile(struct mig_session *s)
{
    struct legacy_pending lp = { s, 0, 0, 0 };
    if (mig_journal_pending(s->j, &s->jt, legacy_cb, &lp) != 0 || mig_journal_close_stale_runs(s->j, &s->jt) != 0 ||
        resync(s) != 0) {
        mig_report_error(&s->rep, "%s", mig_journal_error(s->j));
        return -1;
    }
    if (lp.done + lp.aborted + lp.interrupted)
        mig_report_warning(&s->rep, "an earlier run was interrupted: of its journal entries, %u committed with the "
                           "database, %u were rolled back by it and %u ran outside a transaction and may have partly "
                           "run; the journal now says so", lp.done, lp.aborted, lp.interrupted);
    /* runs a killed migrun left `running` in the target (only the lock
     * holder can tell: under --lock xact another runner may be running) */
    if (s->has_runs && s->locked) {
        struct mig_dberr e;
        bool any = false;
        struct mig_value v;
        char *q = mig_arena_printf(&s->arena, "SELECT 1 FROM %smig_runs WHERE outcome = 'running'", s->conn->prefix);
        if (s->conn->drv->query(s->conn, q, &any, &v, &e) != 0) {
            mig_session_dberror(s, "cannot read the runs of the target", &e);
            return -1;
        }
        char *sql = mig_arena_printf(&s->arena, "UPDATE %smig_runs SET outcome = 'interrupted' WHERE outcome = "
                                     "'running'", s->conn->prefix);
        if (any && s->conn->drv->exec(s->conn, sql, NULL, &e) != 0) {
            mig_session_dberror(s, "cannot update the runs of the target", &e);
            return -1;
        }
        if (any)
            mig_report_note(&s->rep, "an earlier run on %s was interrupted (killed, or its connection lost): what it "
                            "committed stays recorded, and this run goes on from there", s->conn->display);
    }
    /* under --lock xact|table no runner holds a lock while a step runs
     * outside a transaction: a step recorded running by a run that has not
     * ended may be running now, in another runner; running it again could
     * apply it twice */
    if (s->has_runs && !s->locked && mig_session_txn_locks(s))
        for (size_t i = 0; i < s->rows.n; i++) {
            struct mig_tracked *t = s->rows.v[i];
            if (strcmp(t->status, "running") != 0)
                continue;
            struct mig_dberr e;
            bool live = false;
            struct mig_value v;
            char *q = mig_arena_printf(&s->arena, "SELECT 1 FROM %smig_runs WHERE run = %" PRId64 " AND outcome = "
                                       "'running'", s->conn->prefix, t->run);
            if (s->conn->drv->query(s->conn, q, &live, &v, &e) != 0) {
                mig_session_dberror(s, "cannot read the runs of the target", &e);
                return -1;
            }
            if (live) {
                mig_report_error(&s->rep, "%s.%s.%s is recorded as running by run %" PRId64 ", which has not ended: "
                                 "another runner may be running it now (under --lock %s no runner can tell whether "
                                 "it is alive). Nothing was done. Run apply again when it has finished; if that run "
                                 "was killed, one apply with the default session lock on a direct connection (not "
                                 "through the pooler) marks it interrupted and goes on", t->migration, t->phase,
                                 t->step, t->run, s->o->lock == MIG_LOCK_TABLE ? "table" : "xact");
                return -1;
            }
        }
    for (size_t i = 0; i < s->rows.n; i++)
        if (strcmp(s->rows.v[i]->status, "running") == 0)
            mig_report_warning(&s->rep, "%s.%s.%s (run %" PRId64 ") is recorded as running: it ran outside a "
                               "transaction and was interrupted, or could not be recorded as applied, so it may have "
                               "partly run; apply runs it again, rollback runs its down",
                               s->rows.v[i]->migration, s->rows.v[i]->phase, s->rows.v[i]->step, s->rows.v[i]->run);
    return 0;
}

/* ---- open and close -------------------------------------------------------------------- */

static void on_notice(void *ctx, const char *severity, const char *message)
{
    struct mig_session *s = ctx;
    if (strcmp(severity, "DEBUG") == 0 || strcmp(severity, "LOG") == 0)
        return;
    mig_report_warning(&s->rep, "the server said (%s%s%s): %s", severity, s->where[0] ? " in " : "", s->where,
                       message);
}

/* Connects without reporting: 0, or an exit code with the reason in err. */
static int connect_quietly(struct mig_session *s, char *err, size_t errlen)
{
    bool usage = false;
    struct mig_open_opts oo = { s->o->lock_wait_ms, s->o->schema, !(s->needs & (MIG_NEEDS_WRITE | MIG_WRITES_TARGET)),
                                (s->needs & MIG_NEEDS_EXISTING) != 0 };
    if (mig_connect(s->o->db_url, &oo, &s->conn, err, errlen, &usage) != 0)
        return usage ? MIG_EXIT_USAGE : MIG_EXIT_REFUSED;
    s->conn->on_notice = on_notice;
    s->conn->notice_ctx = s;
    s->jt.location = s->conn->location;
    s->jt.display = s->conn->display;
    s->jt.dialect = s->conn->drv->name;
    signal_conn = s->conn;
    return 0;
}

static int connect_target(struct mig_session *s)
{
    char err[1024];
    int rc = connect_quietly(s, err, sizeof(err));
    if (rc != 0)
        mig_report_error(&s->rep, "%s", err);
    return rc;
}

int mig_session_open(struct mig_session *s, const struct mig_run_opts *o, unsigned needs)
{
    char err[1024];
    s->o = o;
    s->needs = needs;
    s->rep.out = o->out;
    s->rep.err = o->err;
    s->rep.json = o->json;
    s->rep.quiet = o->quiet && !o->json;
    s->rep.color = o->color;
    s->by_key.arena = s->by_uid.arena = &s->arena;
    mig_session_catch(SIGINT);
    mig_session_catch(SIGTERM);
    /* a journal that is the target itself would be written inside the
     * target's own transactions */
    if (mig_driver_for(o->db_url) == &mig_driver_sqlite) {
        const char *path = o->db_url[7] == '/' && o->db_url[8] == '/' ? o->db_url + 9 : o->db_url + 7;
        char *a = realpath(path, NULL), *b = realpath(o->journal, NULL);
        bool same = a && b && strcmp(a, b) == 0;
        free(a);
        free(b);
        if (same) {
            mig_report_error(&s->rep, "the journal %s is the target database itself: give --journal another file",
                             o->journal);
            return MIG_EXIT_USAGE;
        }
    }
    if ((needs & MIG_NEEDS_EXISTING) && mig_driver_for(o->db_url) == &mig_driver_sqlite) {
        const char *path = o->db_url[7] == '/' && o->db_url[8] == '/' ? o->db_url + 9 : o->db_url + 7;
        if (access(path, F_OK) != 0) {
            mig_report_error(&s->rep, "there is no SQLite database at '%s' (nothing was created)", path);
            return MIG_EXIT_REFUSED;
        }
    }
    /* the journal first: one that cannot be written refuses the run before
     * the database is even opened */
    if ((needs & (MIG_NEEDS_WRITE | MIG_READS_JOURNAL))) {
        int rc = mig_journal_open(o->journal, !(needs & MIG_NEEDS_WRITE), &s->j, err, sizeof(err));
        if (rc < 0) {
            mig_report_error(&s->rep, "%s", err);
            return MIG_EXIT_REFUSED;
        }
    }
    int rc = connect_target(s);
    if (rc != 0)
        return rc;
    s->created = s->conn->created;
    if ((needs & MIG_NEEDS_WRITE) && take_lock(s) != 0)
        return mig_signals ? MIG_EXIT_FAILED : MIG_EXIT_REFUSED;
    if (mig_session_load(s) != 0)
        return MIG_EXIT_REFUSED;
    if ((needs & MIG_NEEDS_WRITE) && reconcile(s) != 0)
        return MIG_EXIT_REFUSED;
    return 0;
}

int mig_session_reconnect(struct mig_session *s)
{
    MIG_FAULT_RECONNECT();
    signal_conn = NULL;
    struct mig_conn *old = s->conn;
    s->conn = NULL;
    s->locked = false;
    /* for --reconnect-timeout: while a server restarts or a standby is
     * promoted (a multi-host URL with target_session_attrs=read-write then
     * reaches the new primary), connecting fails for a while */
    int64_t wait = s->o->reconnect_timeout_ms, t0 = mig_now_ms();
    bool told = false;
    for (;;) {
        char err[1024];
        if (connect_quietly(s, err, sizeof(err)) == 0) {
            /* behind a pooler the connection is made before a server is
             * reached: one query proves there is one */
            bool has = false;
            struct mig_value v = { 0 };
            struct mig_dberr e;
            if (s->conn->drv->query(s->conn, "SELECT 1", &has, &v, &e) == 0 || !e.connection_lost)
                break;
            snprintf(err, sizeof(err), "cannot reach a server through %.300s: %.600s", s->conn->display, e.message);
            err[strcspn(err, "\n")] = 0;
            signal_conn = NULL;
            mig_disconnect(s->conn);
            s->conn = NULL;
        }
        if (mig_signals || mig_now_ms() - t0 >= wait) {
            if (wait > 0)
                mig_report_error(&s->rep, "%s (retried for %" PRId64 " ms, --reconnect-timeout)", err,
                                 mig_now_ms() - t0);
            else
                mig_report_error(&s->rep, "%s", err);
            s->conn = old;
            signal_conn = old;
            return -1;
        }
        if (!told) {
            mig_report_note(&s->rep, "cannot connect again yet (%s); retrying for up to %" PRId64 " ms "
                            "(--reconnect-timeout)", err, wait);
            mig_report_flush(&s->rep);
            told = true;
        }
        mig_sleep_ms(500);
    }
    if (told)
        mig_report_note(&s->rep, "connected again to %s after %" PRId64 " ms", s->conn->display, mig_now_ms() - t0);
    mig_disconnect(old);
    if (take_lock(s) != 0 || mig_session_load(s) != 0)
        return -1;
    return 0;
}

void mig_session_close(struct mig_session *s)
{
    signal_conn = NULL;
    mig_report_flush(&s->rep);
    /* a SQLite file this command created and never wrote goes again: a run
     * refused before any change creates nothing */
    char *created = NULL;
    if (s->conn && s->created && !s->changed && s->conn->drv->dialect == MIG_D_SQLITE &&
        (s->needs & MIG_NEEDS_WRITE)) {
        /* (only while it is still empty: another runner may have written it meanwhile) */
        bool has = true;
        struct mig_value v;
        struct mig_dberr e;
        if (s->conn->drv->query(s->conn, "SELECT 1 FROM sqlite_master LIMIT 1", &has, &v, &e) == 0 && !has)
            created = strdup(s->conn->location);
    }
    if (s->conn && s->locked)
        s->conn->drv->unlock(s->conn);
    mig_disconnect(s->conn);
    s->conn = NULL;
    if (created) {
        char lock[PATH_MAX + 16];
        snprintf(lock, sizeof(lock), "%s-miglock", created);
        unlink(created);
        unlink(lock);
        free(created);
    }
    mig_journal_close(s->j);
    s->j = NULL;
    mig_arena_free(&s->arena);
}
