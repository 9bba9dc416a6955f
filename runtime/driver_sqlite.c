/* driver_sqlite.c — the SQLite driver: statements run one by one from a
 * multi-statement text (so that a failure names its statement), row counts
 * from total_changes, BEGIN IMMEDIATE transactions, a busy timeout for lock
 * waits and a progress-handler deadline for statement timeouts. */
#include "driver.h"
#include "fault.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

struct sqlite_conn {
    struct mig_conn base;
    sqlite3 *db;
    int64_t statement_ms;   /* of the session (transaction none); 0: none */
    int64_t txn_statement_ms;   /* of the open transaction; 0: none */
    int64_t session_lock_ms;    /* of the session; 0: the default */
    int64_t busy_ms;        /* the default busy timeout (lock wait) */
    struct timespec deadline;
    bool timed_out;
    int lockfd;             /* the runner lock: flock on <db>-miglock */
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
    if ((c->statement_ms > 0 || c->txn_statement_ms > 0) && now_ms() > deadline) {
        c->timed_out = true;
        return 1;   /* interrupts the statement */
    }
    return 0;
}

static void arm_deadline(struct sqlite_conn *c)
{
    c->timed_out = false;
    int64_t ms = c->txn_statement_ms > 0 ? c->txn_statement_ms : c->statement_ms;
    if (ms > 0) {
        int64_t d = now_ms() + ms;
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
                 (long long)(c->txn_statement_ms > 0 ? c->txn_statement_ms : c->statement_ms));
    else
        snprintf(e->message, sizeof(e->message), "%s", sqlite3_errmsg(c->db));
    e->offset = offset;
    int primary = e->code & 0xff;
    e->transient = primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
    e->canceled = primary == SQLITE_INTERRUPT && !c->timed_out;
}

static int sq_exec(struct mig_conn *base, const char *sql, int64_t *rows, struct mig_dberr *e)
{
    MIG_FAULT();
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    const char *p = sql;
    int64_t total = 0;
    int done = 0;
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
            e->stmts_done = done;
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
            e->stmts_done = done;
            sqlite3_finalize(st);
            return -1;
        }
        done++;
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

static void set_busy(struct sqlite_conn *c, int64_t ms)
{
    sqlite3_busy_timeout(c->db, ms > INT_MAX ? INT_MAX : (int)ms);
}

/* The transaction's lock_timeout bounds the wait of BEGIN IMMEDIATE too. */
static int sq_begin(struct mig_conn *base, int64_t statement_ms, int64_t lock_ms, struct mig_dberr *e)
{
    MIG_FAULT();
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    c->txn_statement_ms = statement_ms;
    set_busy(c, lock_ms > 0 ? lock_ms : c->busy_ms);
    if (simple(c, "BEGIN IMMEDIATE", e) != 0) {
        set_busy(c, c->busy_ms);
        c->txn_statement_ms = 0;
        return -1;
    }
    base->in_txn = true;
    return 0;
}

static void end_txn(struct sqlite_conn *c)
{
    c->base.in_txn = false;
    c->txn_statement_ms = 0;
    set_busy(c, c->session_lock_ms > 0 ? c->session_lock_ms : c->busy_ms);
}

static int sq_commit(struct mig_conn *base, struct mig_dberr *e)
{
    MIG_FAULT();
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    (void)MIG_FAULT_COMMIT();   /* counted; a file cannot drop its connection */
    if (simple(c, "COMMIT", e) != 0)
        return -1;
    end_txn(c);
    return 0;
}

static int sq_rollback(struct mig_conn *base, struct mig_dberr *e)
{
    MIG_FAULT();
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    end_txn(c);
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

static int sq_set_timeouts(struct mig_conn *base, int64_t statement_ms, int64_t lock_ms, struct mig_dberr *e)
{
    (void)e;
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    c->statement_ms = statement_ms;
    c->session_lock_ms = lock_ms;
    set_busy(c, lock_ms > 0 ? lock_ms : c->busy_ms);
    return 0;
}

static int64_t sq_target_version(struct mig_conn *base)
{
    (void)base;
    return sqlite3_libversion_number();
}

static enum mig_txstatus sq_txn_status(struct mig_conn *base)
{
    return sqlite3_get_autocommit(((struct sqlite_conn *)base)->db) ? MIG_TX_IDLE : MIG_TX_ACTIVE;
}

/* The runner lock is a file beside the database (a lock inside it would be
 * released by every COMMIT); its content names the holder. */
static int sq_try_lock(struct mig_conn *base, char *who, size_t n, struct mig_dberr *e)
{
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    if (c->lockfd < 0) {
        char path[PATH_MAX + 16];
        snprintf(path, sizeof(path), "%s-miglock", base->location);
        c->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (c->lockfd < 0) {
            memset(e, 0, sizeof(*e));
            snprintf(e->message, sizeof(e->message), "cannot create the lock file '%.900s': %s", path, strerror(errno));
            return -1;
        }
    }
    if (flock(c->lockfd, LOCK_EX | LOCK_NB) != 0) {
        char holder[128] = "";
        ssize_t k = pread(c->lockfd, holder, sizeof(holder) - 1, 0);
        if (k > 0)
            holder[k] = 0;
        holder[strcspn(holder, "\n")] = 0;
        snprintf(who, n, "%s", holder[0] ? holder : "another migrun");
        return 1;
    }
    char me[128];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    int k = snprintf(me, sizeof(me), "pid %d since %04d-%02d-%02dT%02d:%02d:%02dZ\n", (int)getpid(),
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (ftruncate(c->lockfd, 0) == 0 && pwrite(c->lockfd, me, (size_t)k, 0) < 0) {
        /* the holder's description is only informative */
    }
    return 0;
}

static void sq_unlock(struct mig_conn *base)
{
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    if (c->lockfd >= 0) {
        close(c->lockfd);
        c->lockfd = -1;
    }
}

static int sq_txn_lock(struct mig_conn *base, bool table, struct mig_dberr *e)
{
    (void)base;
    (void)table;
    (void)e;
    return 0;   /* BEGIN IMMEDIATE already holds the write lock */
}

static char **sq_command_env(struct mig_conn *base)
{
    char **env = calloc(2, sizeof(*env));
    if (env) {
        env[0] = malloc(strlen(base->location) + 32);
        if (env[0])
            sprintf(env[0], "MIGRUN_SQLITE_PATH=%s", base->location);
    }
    return env;
}

static void sq_cancel(struct mig_conn *base)
{
    sqlite3_interrupt(((struct sqlite_conn *)base)->db);
}

static void sq_drop(struct mig_conn *base)
{
    (void)base;     /* a file does not go away */
}

static void sq_close(struct mig_conn *base)
{
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    sq_unlock(base);
    sqlite3_close_v2(c->db);
    free(base->location);
    free(base->display);
    free(base->prefix);
    free(base->schema);
    free(c);
}

static int sq_open(const char *url, const struct mig_open_opts *o, struct mig_conn **out, char *err, size_t errlen);


static const char *const sq_ddl[] = {
    "CREATE TABLE IF NOT EXISTS %smig_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS %smig_runs (run INTEGER PRIMARY KEY, command TEXT NOT NULL, outcome TEXT NOT NULL, "
    "started_at TEXT NOT NULL, finished_at TEXT, user_name TEXT, host TEXT, pid INTEGER)",
    "CREATE TABLE IF NOT EXISTS %smig_applied (migration TEXT NOT NULL, phase TEXT NOT NULL, step TEXT NOT NULL, "
    "status TEXT NOT NULL, checksum TEXT, entry_uid TEXT NOT NULL, applied_at TEXT NOT NULL, seq INTEGER, run INTEGER, "
    "txn TEXT, down_sql TEXT, irreversible TEXT, timeout_ms INTEGER, lock_timeout_ms INTEGER, retry INTEGER, "
    "retry_every_ms INTEGER, file TEXT, line INTEGER, down_kind TEXT, down_exec TEXT, down_flags TEXT, "
    "PRIMARY KEY (migration, phase, step))",
    /* no index on entry_uid (a target made before 2026-12 has one,
     * mig_applied_uid, and keeps it): every statement finds a tracking row
     * by its primary key (mig_pbuf_row_key), and each b-tree of the table
     * costs every apply transaction a leaf or more of the file and of the
     * rollback journal — doc/journal.md, "The tracking tables" */
    NULL,
};

const struct mig_driver mig_driver_sqlite = {
    .name = "sqlite", .dialect = MIG_D_SQLITE, .open = sq_open,
    .exec = sq_exec, .query = sq_query, .select = sq_select, .begin = sq_begin, .commit = sq_commit,
    .rollback = sq_rollback, .quote_literal = sq_quote_literal, .quote_ident = sq_quote_ident,
    .server_version = sq_server_version, .target_version = sq_target_version, .set_timeouts = sq_set_timeouts,
    .txn_status = sq_txn_status, .try_lock = sq_try_lock, .unlock = sq_unlock, .txn_lock = sq_txn_lock,
    .cancel = sq_cancel, .command_env = sq_command_env,
    .schema_fingerprint = "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master WHERE "
                          "tbl_name NOT IN ('mig_applied', 'mig_runs', 'mig_meta') ORDER BY 1",
    .drop = sq_drop, .close = sq_close, .tracking_ddl = sq_ddl, .snapshot = &mig_snapshot_sqlite,
    .scratch_create = mig_sqlite_scratch_create, .scratch_drop = mig_sqlite_scratch_drop,
    .true_lit = "1", .false_lit = "0",
    .has_table = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND %s IS NOT NULL AND name = %s",
    .has_undo_columns = "SELECT 1 FROM pragma_table_info('mig_applied') WHERE %s IS NOT NULL AND name = %s",
};

static int sq_open(const char *url, const struct mig_open_opts *o, struct mig_conn **out, char *err, size_t errlen)
{
    const char *path = url[7] == '/' && url[8] == '/' ? url + 9 : url + 7;
    if (!*path) {
        snprintf(err, errlen, "the SQLite URL '%s' names no file (use sqlite:PATH or sqlite:///ABS/PATH)", url);
        return -1;
    }
    struct sqlite_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->lockfd = -1;
    c->base.exists = access(path, F_OK) == 0;
    if (o && o->must_exist && !c->base.exists) {
        snprintf(err, errlen, "there is no SQLite database at '%s' (nothing was created)", path);
        free(c);
        return -1;
    }
    if (o && o->schema) {
        snprintf(err, errlen, "--schema applies to PostgreSQL; a SQLite file has one schema");
        free(c);
        return -1;
    }
    /* a read-only command treats a missing file as an empty database and
     * does not create it */
    const char *file = o && o->readonly && !c->base.exists ? ":memory:" : path;
    /* one thread uses a connection (sqlite3_interrupt from the signal
     * handler takes no mutex): no per-call mutexes of the serialized mode */
    int flags = (o && o->readonly ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(file, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open SQLite database '%s': %s", path,
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close_v2(c->db);
        free(c);
        return -1;
    }
    /* the lock wait holds from the first statement on */
    int64_t busy_ms = o ? o->lock_wait_ms : 0;
    c->busy_ms = busy_ms;
    set_busy(c, busy_ms);
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
    sqlite3_progress_handler(c->db, 1000, progress, c);
    c->base.drv = &mig_driver_sqlite;
    if (!(o && o->readonly) && !c->base.exists) {
        c->base.created = true;     /* a writer's new file is a database from now on */
        c->base.exists = true;
    }
    char *real = realpath(path, NULL);
    if (!real && !c->base.exists) {
        /* a new file: the real path of its folder */
        char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
        if (dir) {
            const char *base = slash ? slash + 1 : path;
            if (slash)
                *slash = 0;
            char *rd = realpath(slash ? (*dir ? dir : "/") : ".", NULL);
            if (rd) {
                real = malloc(strlen(rd) + strlen(base) + 2);
                if (real)
                    sprintf(real, "%s/%s", strcmp(rd, "/") == 0 ? "" : rd, base);
                free(rd);
            }
            free(dir);
        }
    }
    c->base.location = strdup(real ? real : path);
    free(real);
    size_t n = strlen(path) + 8;
    c->base.display = malloc(n);
    c->base.prefix = strdup("");
    c->base.schema = strdup("main");
    if (!c->base.location || !c->base.display || !c->base.prefix || !c->base.schema) {
        sq_close(&c->base);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(c->base.display, n, "sqlite:%s", path);
    *out = &c->base;
    return 0;
}
