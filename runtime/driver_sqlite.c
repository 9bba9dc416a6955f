/* driver_sqlite.c — the SQLite driver: statements run one by one from a
 * multi-statement text (so that a failure names its statement), row counts
 * from total_changes, BEGIN IMMEDIATE transactions, a busy timeout for lock
 * waits and a progress-handler deadline for statement timeouts. */
#include "driver.h"
#include "fault.h"
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sqlite_conn {
    struct mig_conn base;
    sqlite3 *db;
    int64_t statement_ms;   /* 0: no statement timeout */
    int64_t busy_ms;        /* the default busy timeout (lock wait) */
    struct timespec deadline;
    bool timed_out;
};

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int progress(void *arg)
{
    struct sqlite_conn *c = arg;
    int64_t deadline = (int64_t)c->deadline.tv_sec * 1000 + c->deadline.tv_nsec / 1000000;
    if (c->statement_ms > 0 && now_ms() > deadline) {
        c->timed_out = true;
        return 1;   /* interrupts the statement */
    }
    return 0;
}

static void arm_deadline(struct sqlite_conn *c)
{
    c->timed_out = false;
    if (c->statement_ms > 0) {
        int64_t d = now_ms() + c->statement_ms;
        c->deadline.tv_sec = d / 1000;
        c->deadline.tv_nsec = (d % 1000) * 1000000;
    }
}

static void set_error(struct sqlite_conn *c, struct mig_dberr *e, int rc, long offset)
{
    memset(e, 0, sizeof(*e));
    e->code = sqlite3_extended_errcode(c->db);
    if (c->timed_out && (rc == SQLITE_INTERRUPT || e->code == SQLITE_INTERRUPT))
        snprintf(e->message, sizeof(e->message), "statement timeout: canceled after %lld ms",
                 (long long)c->statement_ms);
    else
        snprintf(e->message, sizeof(e->message), "%s", sqlite3_errmsg(c->db));
    e->offset = offset;
    int primary = e->code & 0xff;
    e->transient = primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

static int sq_exec(struct mig_conn *base, const char *sql, int64_t *rows, struct mig_dberr *e)
{
    MIG_FAULT();
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    const char *p = sql;
    int64_t total = 0;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            break;
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        arm_deadline(c);
        int rc = sqlite3_prepare_v2(c->db, p, -1, &st, &tail);
        if (rc != SQLITE_OK) {
            set_error(c, e, rc, (long)(p - sql));
            return -1;
        }
        if (!st) {      /* only a comment or a ';' */
            p = tail;
            continue;
        }
        int64_t before = sqlite3_total_changes64(c->db);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (rc != SQLITE_DONE) {
            set_error(c, e, rc, (long)(p - sql));
            sqlite3_finalize(st);
            return -1;
        }
        total += sqlite3_total_changes64(c->db) - before;
        sqlite3_finalize(st);
        p = tail;
    }
    if (rows)
        *rows = total;
    return 0;
}

static int sq_query(struct mig_conn *base, const char *sql, bool *has_row, struct mig_value *out,
                    struct mig_dberr *e)
{
    MIG_FAULT();
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    sqlite3_stmt *st = NULL;
    arm_deadline(c);
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK || !st) {
        if (rc == SQLITE_OK)
            snprintf(e->message, sizeof(e->message), "the query is empty");
        else
            set_error(c, e, rc, 0);
        sqlite3_finalize(st);
        return -1;
    }
    memset(out, 0, sizeof(*out));
    rc = sqlite3_step(st);
    *has_row = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        switch (sqlite3_column_type(st, 0)) {
        case SQLITE_INTEGER:
            out->t = MIG_V_INT;
            out->i = sqlite3_column_int64(st, 0);
            break;
        case SQLITE_NULL:
            out->t = MIG_V_NULL;
            break;
        case SQLITE_FLOAT: {
            double d = sqlite3_column_double(st, 0);
            if (d == (double)(int64_t)d) {
                out->t = MIG_V_INT;
                out->i = (int64_t)d;
                break;
            }
            /* a fractional number is returned as its text */
        }
            __attribute__((fallthrough));
        default: {
            const unsigned char *t = sqlite3_column_text(st, 0);
            int n = sqlite3_column_bytes(st, 0);
            char *s = malloc((size_t)n + 1);
            if (!s) {
                sqlite3_finalize(st);
                snprintf(e->message, sizeof(e->message), "out of memory");
                return -1;
            }
            memcpy(s, t ? (const char *)t : "", (size_t)n);
            s[n] = 0;
            out->t = MIG_V_STRING;
            out->s = s;
            out->n = (uint32_t)n;
        }
        }
    } else if (rc != SQLITE_DONE) {
        set_error(c, e, rc, 0);
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

static int sq_select(struct mig_conn *base, const char *sql,
                     int (*row)(void *ctx, int ncols, const char *const *vals), void *ctx,
                     struct mig_dberr *e)
{
    MIG_FAULT();
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    sqlite3_stmt *st = NULL;
    arm_deadline(c);
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        set_error(c, e, rc, 0);
        return -1;
    }
    int n = sqlite3_column_count(st);
    const char *vals[64];
    if (n > 64)
        n = 64;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < n; i++)
            vals[i] = (const char *)sqlite3_column_text(st, i);
        if (row(ctx, n, vals))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        set_error(c, e, rc, 0);
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

static int simple(struct sqlite_conn *c, const char *sql, struct mig_dberr *e)
{
    char *msg = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    sqlite3_free(msg);
    if (rc != SQLITE_OK) {
        set_error(c, e, rc, -1);
        return -1;
    }
    return 0;
}

static int sq_begin(struct mig_conn *base, struct mig_dberr *e)
{
    MIG_FAULT();
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    if (simple(c, "BEGIN IMMEDIATE", e) != 0)
        return -1;
    base->in_txn = true;
    return 0;
}

static int sq_commit(struct mig_conn *base, struct mig_dberr *e)
{
    MIG_FAULT();
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    if (simple(c, "COMMIT", e) != 0)
        return -1;
    base->in_txn = false;
    return 0;
}

static int sq_rollback(struct mig_conn *base, struct mig_dberr *e)
{
    MIG_FAULT();
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    base->in_txn = false;
    if (sqlite3_get_autocommit(c->db))
        return 0;   /* SQLite already rolled back (e.g. after SQLITE_FULL) */
    return simple(c, "ROLLBACK", e);
}

static char *sq_quote_literal(struct mig_conn *base, const char *s, size_t n)
{
    (void)base;
    char *out = malloc(2 * n + 3);
    if (!out)
        return NULL;
    size_t k = 0;
    out[k++] = '\'';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'')
            out[k++] = '\'';
        out[k++] = s[i];
    }
    out[k++] = '\'';
    out[k] = 0;
    return out;
}

/* Each dot-separated part quoted on its own, so "main.users" stays qualified. */
static char *sq_quote_ident(struct mig_conn *base, const char *s, size_t n)
{
    (void)base;
    char *out = malloc(3 * n + 3);
    if (!out)
        return NULL;
    size_t k = 0;
    out[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            out[k++] = '"';
            out[k++] = '.';
            out[k++] = '"';
            continue;
        }
        if (s[i] == '"')
            out[k++] = '"';
        out[k++] = s[i];
    }
    out[k++] = '"';
    out[k] = 0;
    return out;
}

static int64_t sq_server_version(struct mig_conn *base)
{
    (void)base;
    return sqlite3_libversion_number();
}

static int sq_set_timeouts(struct mig_conn *base, int64_t statement_ms, int64_t lock_ms, bool local,
                           struct mig_dberr *e)
{
    (void)local;
    (void)e;
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    c->statement_ms = statement_ms;
    int64_t busy = lock_ms > 0 ? lock_ms : c->busy_ms;
    sqlite3_busy_timeout(c->db, busy > INT_MAX ? INT_MAX : (int)busy);
    return 0;
}

static void sq_close(struct mig_conn *base)
{
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    sqlite3_close_v2(c->db);
    free(base->target);
    free(base->display);
    free(c);
}

static const struct mig_driver sqlite_driver = {
    "sqlite", MIG_D_SQLITE, sq_exec, sq_query, sq_select, sq_begin, sq_commit, sq_rollback,
    sq_quote_literal, sq_quote_ident, sq_server_version, sq_set_timeouts, sq_close,
};

int mig_sqlite_open(const char *path, int64_t busy_ms, struct mig_conn **out, char *err, size_t errlen)
{
    struct sqlite_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open SQLite database '%s': %s", path,
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close_v2(c->db);
        free(c);
        return -1;
    }
    /* a file that is not a database is found now, not at the first step */
    char *msg = NULL;
    rc = sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot use SQLite database '%s': %s", path, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close_v2(c->db);
        free(c);
        return -1;
    }
    c->busy_ms = busy_ms;
    sqlite3_busy_timeout(c->db, busy_ms > INT_MAX ? INT_MAX : (int)busy_ms);
    sqlite3_progress_handler(c->db, 1000, progress, c);
    c->base.drv = &sqlite_driver;
    char *real = realpath(path, NULL);
    c->base.target = strdup(real ? real : path);
    free(real);
    size_t n = strlen(path) + 8;
    c->base.display = malloc(n);
    if (!c->base.target || !c->base.display) {
        sq_close(&c->base);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(c->base.display, n, "sqlite:%s", path);
    *out = &c->base;
    return 0;
}
