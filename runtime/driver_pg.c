/* driver_pg.c — the PostgreSQL driver (libpq). A multi-statement body runs
 * statement by statement (split with the SQL tokenizer, so dollar quotes,
 * literals and comments are respected), so that an error names its
 * statement and `CREATE INDEX CONCURRENTLY` is never wrapped in an implicit
 * transaction; errors carry SQLSTATE, message, detail, hint and the byte
 * offset of the failing statement (or of the error position inside it). */
#include "driver.h"
#include "fault.h"
#include "lib/sqllex.h"
#include "pq.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

struct pg_conn {
    struct mig_conn base;
    PGconn *pg;
    PGcancel *cancel;       /* made at open, so a signal handler can use it */
    bool locked;
    bool pipeline;          /* statements in a transaction may be pipelined (libpq pipeline mode) */
    int queued;             /* queries sent in pipeline mode whose results are not read yet (BEGIN, SET LOCAL) */
    char *local_sp;         /* through a pooler with a schema: "SET LOCAL search_path TO \"s\"" (base.local_search_path) */
    long shift;             /* characters of local_sp put before the last query sent (error positions) */
};

/* The session advisory lock of PostgreSQL runners ('mig' in ASCII): held by
 * the connection that does the work, it dies with it. */
#define MIG_PG_LOCK_KEY 7235943

/* The lock's key: the one key above for the schema public (as every
 * migrun before fleets took it), (key, a hash of the schema's name) for
 * any other, so that runners of the tenant schemas of one database (a
 * fleet's workers) do not wait for each other. Writes the arguments of
 * pg_*advisory*lock and the pg_locks condition that finds its holder. */
static void lock_key(const struct mig_conn *base, char *args, size_t na, char *cond, size_t nc)
{
    const char *sch = base->schema ? base->schema : "public";
    if (strcmp(sch, "public") == 0) {
        snprintf(args, na, "%d", MIG_PG_LOCK_KEY);
        snprintf(cond, nc, "l.classid = 0 AND l.objid = %d AND l.objsubid = 1", MIG_PG_LOCK_KEY);
        return;
    }
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)sch; *p; p++)
        h = (h ^ *p) * 16777619u;
    snprintf(args, na, "%d, %d", MIG_PG_LOCK_KEY, (int32_t)h);
    snprintf(cond, nc, "l.classid = %d AND l.objid = %u AND l.objsubid = 2", MIG_PG_LOCK_KEY, h);
}

static void copy_field(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
    size_t len = strlen(dst);
    while (len && (dst[len - 1] == '\n' || dst[len - 1] == ' '))
        dst[--len] = 0;
}

/* Byte offset of the 1-based character position pos in s. */
static long char_to_byte(const char *s, long len, long pos)
{
    long chars = 0;
    for (long i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && ++chars == pos)
            return i;
    }
    return 0;
}

static void set_error(struct pg_conn *c, struct mig_dberr *e, const PGresult *res, const char *stmt,
                      long stmt_len, long stmt_off)
{
    memset(e, 0, sizeof(*e));
    e->offset = stmt_off;
    if (res) {
        copy_field(e->message, sizeof(e->message), PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        copy_field(e->sqlstate, sizeof(e->sqlstate), PQresultErrorField(res, PG_DIAG_SQLSTATE));
        copy_field(e->detail, sizeof(e->detail), PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
        copy_field(e->hint, sizeof(e->hint), PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
        const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
        if (pos && stmt && stmt_off >= 0 && atol(pos) > c->shift)
            e->offset = stmt_off + char_to_byte(stmt, stmt_len, atol(pos) - c->shift);
    }
    if (!e->message[0])
        copy_field(e->message, sizeof(e->message), PQerrorMessage(c->pg));
    /* the server went away (class 08: connection exception; 57P01-03:
     * shut down, crashed, not accepting connections — a failover) */
    if (PQstatus(c->pg) == CONNECTION_BAD || strncmp(e->sqlstate, "08", 2) == 0 ||
        strcmp(e->sqlstate, "57P01") == 0 || strcmp(e->sqlstate, "57P02") == 0 || strcmp(e->sqlstate, "57P03") == 0) {
        e->connection_lost = true;
        if (!e->message[0])
            snprintf(e->message, sizeof(e->message), "the connection to the server was lost");
    }
    e->canceled = strcmp(e->sqlstate, "57014") == 0 && strstr(e->message, "user request") != NULL;
    e->transient = strcmp(e->sqlstate, "40001") == 0 || strcmp(e->sqlstate, "40P01") == 0 ||
                   strcmp(e->sqlstate, "55P03") == 0;
}

/* PQexec, except that through a pooler with a schema a statement sent
 * outside any transaction goes in one message after the schema's SET LOCAL
 * search_path: the two are one implicit transaction on one server
 * connection, so the statement sees the run's search_path and no session
 * setting is left on the pooled connection. */
static PGresult *pexec(struct pg_conn *c, const char *sql)
{
    c->shift = 0;
    if (!c->local_sp || PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        return PQexec(c->pg, sql);
    size_t n = strlen(c->local_sp), m = strlen(sql);
    char *all = malloc(n + m + 3);
    if (!all)
        return NULL;
    memcpy(all, c->local_sp, n);
    memcpy(all + n, "; ", 2);
    memcpy(all + n + 2, sql, m + 1);
    for (size_t i = 0; i < n + 2; i++)
        c->shift += ((unsigned char)all[i] & 0xC0) != 0x80;
    PGresult *r = PQexec(c->pg, all);
    free(all);
    return r;
}

/* After a failed pexec: a statement that cannot run inside a transaction
 * block could not have the schema's search_path through the pooler. */
static void outside_hint(struct pg_conn *c, struct mig_dberr *e)
{
    if (c->shift && strcmp(e->sqlstate, "25001") == 0) {
        size_t k = strlen(e->message);
        snprintf(e->message + k, sizeof(e->message) - k, " (through a connection pooler the schema '%s' is set "
                 "with SET LOCAL search_path in a transaction around each statement, and this statement cannot run "
                 "in one: run it with a direct connection to the server)", c->base.schema ? c->base.schema : "");
    }
}

/* Runs one statement; rows changed added to *rows. */
static int run_one(struct pg_conn *c, const char *stmt, long len, long off, int64_t *rows, struct mig_dberr *e)
{
    char *s = strndup(stmt, (size_t)len);
    if (!s) {
        snprintf(e->message, sizeof(e->message), "out of memory");
        return -1;
    }
    PGresult *res = pexec(c, s);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        const char *n = PQcmdTuples(res);
        if (rows && n && *n)
            *rows += atoll(n);
    } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
        memset(e, 0, sizeof(*e));
        snprintf(e->message, sizeof(e->message), "COPY to or from the client is not supported in a migration");
        e->offset = off;
        rc = -1;
        PQclear(res);
        /* leave the copy state */
        while ((res = PQgetResult(c->pg)))
            PQclear(res);
        free(s);
        return rc;
    } else {
        set_error(c, e, res, s, len, off);
        outside_hint(c, e);
        rc = -1;
    }
    PQclear(res);
    free(s);
    return rc;
}

static bool tok_word(const char *sql, const struct mig_sqltoken *t, const char *w)
{
    size_t n = strlen(w);
    return t->kind == SQLT_WORD && t->end - t->start == n && strncasecmp(sql + t->start, w, n) == 0;
}

static bool tok_punct(const char *sql, const struct mig_sqltoken *t, char ch)
{
    return t->kind == SQLT_PUNCT && t->end - t->start == 1 && sql[t->start] == ch;
}

/* ---- pipelining ----------------------------------------------------------------------------
 * Inside mig's transaction, the BEGIN (and its SET LOCALs) and the
 * statements of a body are sent without waiting for every answer (libpq
 * pipeline mode, one Sync per round trip): BEGIN goes with the first body, a
 * body's statements together; the tracking rows and the COMMIT go as one
 * simple-query message (commit_rt). The results are read in order; the first
 * error is the failing statement's, with its offset and SQLSTATE, exactly as
 * one statement at a time reports it (the server skips those after it).
 * Outside a transaction (transaction none, CONCURRENTLY) statements still go
 * one by one: a pipeline would run them in one implicit transaction. Not
 * through a pooler, nor with MIGRUN_PG_NO_PIPELINE=1. */

struct pg_stmt {
    size_t start, len;
};

struct pipe_out {
    int first_err;          /* the first query that failed (the queued ones counted first), or -1 */
    PGresult *err;          /* its result (NULL when the connection broke); the caller clears it */
    int64_t rows;           /* rows changed by the queries sent after the queued ones */
};

static int pipe_send(struct pg_conn *c, const char *sql, size_t len)
{
    if (PQpipelineStatus(c->pg) == PQ_PIPELINE_OFF && !PQenterPipelineMode(c->pg))
        return -1;
    char *s = strndup(sql, len);
    int ok = s && PQsendQueryParams(c->pg, s, 0, NULL, NULL, NULL, NULL, 0);
    free(s);
    return ok ? 0 : -1;
}

/* Ends a round trip: a Sync, then the results of the queued queries and of
 * the n sent after them, in order, and the Sync's. */
static void pipe_sync(struct pg_conn *c, int n, struct pipe_out *o)
{
    int queued = c->queued, total = queued + n;
    c->queued = 0;
    memset(o, 0, sizeof(*o));
    o->first_err = -1;
    bool broken = !PQpipelineSync(c->pg);
    for (int i = 0; i < total && !broken; i++) {
        PGresult *r;
        while ((r = PQgetResult(c->pg)) != NULL) {
            ExecStatusType st = PQresultStatus(r);
            if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
                const char *t = PQcmdTuples(r);
                if (i >= queued && t && *t)
                    o->rows += atoll(t);
                PQclear(r);
            } else if (st == PGRES_PIPELINE_ABORTED || o->first_err >= 0) {
                PQclear(r);
            } else {
                o->first_err = i;
                o->err = r;
            }
            if (PQstatus(c->pg) == CONNECTION_BAD)
                break;
        }
        broken = PQstatus(c->pg) == CONNECTION_BAD;
        if (broken && o->first_err < 0)
            o->first_err = i;
    }
    if (broken && o->first_err < 0)
        o->first_err = 0;
    if (!broken) {
        PGresult *r;
        while ((r = PQgetResult(c->pg)) != NULL) {
            bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
            PQclear(r);
            if (sync || PQstatus(c->pg) == CONNECTION_BAD)
                break;
        }
    }
    PQexitPipelineMode(c->pg);
}

/* Reads what pg_begin sent (before a query that needs the answers now). */
static int settle(struct pg_conn *c, struct mig_dberr *e)
{
    if (!c->queued && PQpipelineStatus(c->pg) == PQ_PIPELINE_OFF)
        return 0;
    struct pipe_out o;
    pipe_sync(c, 0, &o);
    if (o.first_err < 0)
        return 0;
    set_error(c, e, o.err, NULL, 0, -1);
    PQclear(o.err);
    return -1;
}

/* Splits a body into statements: a ';' ends one except inside parentheses
 * and inside the BEGIN … END of a CREATE statement (a BEGIN ATOMIC function
 * body, CREATE RULE … DO (…; …)), as the compiler splits them. *solo: one
 * of them must run on its own (COPY, or one that ends or starts a
 * transaction). Returns the number of statements (malloc'd in *out), or -1. */
static int split(const char *sql, struct pg_stmt **out, bool *solo)
{
    size_t len = strlen(sql), start = 0, pos = 0, cap = 8;
    bool code = false, create = false;
    int n = 0, parens = 0, block = 0, ncode = 0;
    struct pg_stmt *v = malloc(cap * sizeof(*v));
    struct mig_sqltoken t;
    *solo = false;
    if (!v)
        return -1;
    for (;;) {
        mig_sql_next(sql, pos, len, &t);
        bool end = t.kind == SQLT_EOF;
        if (end || (t.kind == SQLT_SEMI && parens <= 0 && block <= 0)) {
            if (code) {
                if ((size_t)n == cap) {
                    struct pg_stmt *nv = realloc(v, (cap *= 2) * sizeof(*v));
                    if (!nv) {
                        free(v);
                        return -1;
                    }
                    v = nv;
                }
                v[n].start = start;
                v[n++].len = t.end - start;
            }
            if (end)
                break;
            start = t.end;
            code = create = false;
            parens = block = ncode = 0;
        } else if (mig_sqltok_is_code(t.kind)) {
            if (!code) {
                start = t.start;
                code = true;
            }
            if (ncode++ == 0) {
                create = tok_word(sql, &t, "CREATE");
                static const char *const alone[] = { "COPY", "BEGIN", "START", "COMMIT", "END", "ROLLBACK",
                                                     "ABORT", "PREPARE", NULL };
                for (const char *const *w = alone; *w; w++)
                    *solo = *solo || tok_word(sql, &t, *w);
            }
            if (tok_punct(sql, &t, '('))
                parens++;
            else if (tok_punct(sql, &t, ')'))
                parens--;
            else if (create && ncode > 1 && parens <= 0) {
                if (tok_word(sql, &t, "BEGIN") || (block > 0 && tok_word(sql, &t, "CASE")))
                    block++;
                else if (block > 0 && tok_word(sql, &t, "END"))
                    block--;
            }
        }
        pos = t.end;
    }
    *out = v;
    return n;
}

/* See driver.h. Each statement's first code words: a CONCURRENTLY
 * anywhere but in REFRESH MATERIALIZED VIEW (CREATE/DROP INDEX, REINDEX,
 * DETACH PARTITION), VACUUM, CREATE/DROP DATABASE, TABLESPACE or
 * SUBSCRIPTION, ALTER SYSTEM, REINDEX SYSTEM/DATABASE. */
long mig_pg_outside_only(const char *sql, char *what, size_t n)
{
    size_t len = strlen(sql), pos = 0, start = 0;
    struct mig_sqltoken t, w[2];
    int nw = 0;
    bool hit = false;
    memset(w, 0, sizeof(w));
    for (;;) {
        mig_sql_next(sql, pos, len, &t);
        if (t.kind == SQLT_EOF || t.kind == SQLT_SEMI) {
            if (hit) {
                /* its first words, white space collapsed */
                size_t k = 0, cap = n < 64 ? n : 64;
                bool sp = false;
                for (size_t i = start; i < t.start && k + 1 < cap; i++) {
                    if (sql[i] == ' ' || sql[i] == '\n' || sql[i] == '\t' || sql[i] == '\r') {
                        sp = k > 0;
                        continue;
                    }
                    if (sp && k + 2 < cap)
                        what[k++] = ' ';
                    sp = false;
                    what[k++] = sql[i];
                }
                if (cap)
                    what[k] = 0;
                return (long)start;
            }
            if (t.kind == SQLT_EOF)
                return -1;
            nw = 0;
            memset(w, 0, sizeof(w));
        } else if (t.kind == SQLT_WORD) {
            if (nw == 0)
                start = t.start;
            if (nw < 2)
                w[nw] = t;
            nw++;
            if ((tok_word(sql, &t, "CONCURRENTLY") && !tok_word(sql, &w[0], "REFRESH")) ||
                (nw == 1 && tok_word(sql, &t, "VACUUM")))
                hit = true;
            if (nw == 2) {
                bool cd = tok_word(sql, &w[0], "CREATE") || tok_word(sql, &w[0], "DROP");
                if ((cd && (tok_word(sql, &t, "DATABASE") || tok_word(sql, &t, "TABLESPACE") ||
                            tok_word(sql, &t, "SUBSCRIPTION"))) ||
                    (tok_word(sql, &w[0], "ALTER") && tok_word(sql, &t, "SYSTEM")) ||
                    (tok_word(sql, &w[0], "REINDEX") && (tok_word(sql, &t, "SYSTEM") || tok_word(sql, &t, "DATABASE"))))
                    hit = true;
            }
        } else if (mig_sqltok_is_code(t.kind) && nw == 0) {
            start = t.start;
            nw = 3;     /* a statement not starting with a word */
        }
        pos = t.end;
    }
}

/* The statements of a body in one round trip (and what pg_begin queued). */
static int exec_pipelined(struct pg_conn *c, const char *sql, const struct pg_stmt *v, int n, int64_t *rows,
                          struct mig_dberr *e)
{
    int queued = c->queued, sent = 0;
    while (sent < n && pipe_send(c, sql + v[sent].start, v[sent].len) == 0)
        sent++;
    struct pipe_out o;
    pipe_sync(c, sent, &o);
    if (o.first_err >= 0) {
        int k = o.first_err - queued;
        if (k < 0)
            set_error(c, e, o.err, NULL, 0, -1);
        else
            set_error(c, e, o.err, sql + v[k].start, (long)v[k].len, (long)v[k].start);
        e->stmts_done = k < 0 ? 0 : k;
        PQclear(o.err);
        return -1;
    }
    if (sent < n) {
        set_error(c, e, NULL, NULL, 0, (long)v[sent].start);
        e->stmts_done = sent;
        return -1;
    }
    *rows += o.rows;
    return 0;
}

/* Statement by statement, or (inside mig's transaction) pipelined. */
static int pg_exec(struct mig_conn *base, const char *sql, int64_t *rows, struct mig_dberr *e)
{
    MIG_FAULT();
    struct pg_conn *c = (struct pg_conn *)base;
    struct pg_stmt *v = NULL;
    bool solo = false;
    int n = split(sql, &v, &solo);
    int64_t total = 0;
    if (n < 0) {
        memset(e, 0, sizeof(*e));
        snprintf(e->message, sizeof(e->message), "out of memory");
        e->offset = -1;
        return -1;
    }
    if (c->pipeline && base->in_txn && !solo && (n > 1 || (n == 1 && c->queued))) {
        int rc = exec_pipelined(c, sql, v, n, &total, e);
        free(v);
        if (rc == 0 && rows)
            *rows = total;
        return rc;
    }
    if (settle(c, e) != 0) {
        e->stmts_done = 0;
        free(v);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (run_one(c, sql + v[i].start, (long)v[i].len, (long)v[i].start, &total, e) != 0) {
            e->stmts_done = i;
            free(v);
            return -1;
        }
    free(v);
    if (rows)
        *rows = total;
    return 0;
}

static int pg_query(struct mig_conn *base, const char *sql, bool *has_row, struct mig_value *out,
                    struct mig_dberr *e)
{
    MIG_FAULT();
    struct pg_conn *c = (struct pg_conn *)base;
    memset(out, 0, sizeof(*out));
    if (settle(c, e) != 0)
        return -1;
    PGresult *res = pexec(c, sql);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
            *has_row = false;
            PQclear(res);
            return 0;
        }
        set_error(c, e, res, sql, (long)strlen(sql), 0);
        PQclear(res);
        return -1;
    }
    *has_row = PQntuples(res) > 0;
    if (*has_row && PQnfields(res) > 0) {
        if (PQgetisnull(res, 0, 0)) {
            out->t = MIG_V_NULL;
        } else {
            const char *v = PQgetvalue(res, 0, 0);
            Oid type = PQftype(res, 0);
            char *end = NULL;
            long long n = (type == 20 || type == 21 || type == 23 || type == 1700) ? strtoll(v, &end, 10) : 0;
            if ((type == 20 || type == 21 || type == 23 || type == 1700) && end && *end == 0 && *v) {
                out->t = MIG_V_INT;
                out->i = n;
            } else if (type == 16) {
                out->t = MIG_V_BOOL;
                out->i = v[0] == 't';
            } else {
                out->t = MIG_V_STRING;
                out->s = strdup(v);
                out->n = (uint32_t)strlen(v);
                if (!out->s) {
                    PQclear(res);
                    snprintf(e->message, sizeof(e->message), "out of memory");
                    return -1;
                }
            }
        }
    }
    PQclear(res);
    return 0;
}

static int pg_select(struct mig_conn *base, const char *sql,
                     int (*row)(void *ctx, int ncols, const char *const *vals), void *ctx, struct mig_dberr *e)
{
    MIG_FAULT();
    struct pg_conn *c = (struct pg_conn *)base;
    if (settle(c, e) != 0)
        return -1;
    PGresult *res = pexec(c, sql);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        set_error(c, e, res, sql, (long)strlen(sql), 0);
        PQclear(res);
        return -1;
    }
    int n = PQnfields(res);
    if (n > 64)
        n = 64;
    const char *vals[64];
    for (int r = 0; r < PQntuples(res); r++) {
        for (int i = 0; i < n; i++)
            vals[i] = PQgetisnull(res, r, i) ? NULL : PQgetvalue(res, r, i);
        if (row(ctx, n, vals))
            break;
    }
    PQclear(res);
    return 0;
}

static int simple(struct pg_conn *c, const char *sql, struct mig_dberr *e)
{
    if (settle(c, e) != 0)
        return -1;
    PGresult *res = PQexec(c->pg, sql);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        set_error(c, e, res, NULL, 0, -1);
        PQclear(res);
        return -1;
    }
    /* a COMMIT of a transaction that failed answers ROLLBACK */
    if (strcmp(sql, "COMMIT") == 0 && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
        memset(e, 0, sizeof(*e));
        snprintf(e->message, sizeof(e->message), "the transaction had failed and was rolled back");
        e->offset = -1;
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

static int pg_begin(struct mig_conn *base, int64_t statement_ms, int64_t lock_ms, struct mig_dberr *e)
{
    MIG_FAULT();
    struct pg_conn *c = (struct pg_conn *)base;
    if (c->pipeline) {
        /* sent with what follows: their answers are read with theirs */
        char sql[3][80] = { "BEGIN" };
        int n = 1;
        if (statement_ms || lock_ms) {
            snprintf(sql[n++], sizeof(sql[0]), "SET LOCAL statement_timeout = %lld", (long long)statement_ms);
            snprintf(sql[n++], sizeof(sql[0]), "SET LOCAL lock_timeout = %lld", (long long)lock_ms);
        }
        if (settle(c, e) != 0)
            return -1;
        for (int i = 0; i < n; i++) {
            if (pipe_send(c, sql[i], strlen(sql[i])) != 0) {
                struct pipe_out o;
                pipe_sync(c, 0, &o);
                set_error(c, e, o.err, NULL, 0, -1);
                PQclear(o.err);
                base->in_txn = PQtransactionStatus(c->pg) == PQTRANS_INTRANS ||
                               PQtransactionStatus(c->pg) == PQTRANS_INERROR;
                return -1;
            }
            c->queued++;
        }
        base->in_txn = true;
        return 0;
    }
    if (simple(c, "BEGIN", e) != 0)
        return -1;
    base->in_txn = true;
    /* through a pooler with a schema, every transaction sets it first */
    if (c->local_sp && run_one(c, c->local_sp, (long)strlen(c->local_sp), -1, NULL, e) != 0)
        return -1;
    if (statement_ms || lock_ms) {
        char sql[160];
        snprintf(sql, sizeof(sql), "SET LOCAL statement_timeout = %lld; SET LOCAL lock_timeout = %lld",
                 (long long)statement_ms, (long long)lock_ms);
        return pg_exec(base, sql, NULL, e);
    }
    return 0;
}

static void pg_drop(struct mig_conn *base)
{
    struct pg_conn *c = (struct pg_conn *)base;
    int fd = PQsocket(c->pg);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

/* The tracking rows (sql: statements whose results only matter when they
 * fail, or NULL) and the COMMIT, with what pg_begin queued, in one round
 * trip: on failure e->stmts_done is 0 when sql failed (the transaction
 * stays open, to be rolled back), 1 when the COMMIT did. */
static int commit_rt(struct pg_conn *c, const char *sql, struct mig_dberr *e)
{
    struct pg_stmt *v = NULL;
    bool solo = false;
    int n = sql ? split(sql, &v, &solo) : 0;
    if (n < 0 || solo || !sql || !c->pipeline) {
        int rc = settle(c, e);
        for (int i = 0; i < n && rc == 0; i++)
            rc = run_one(c, sql + v[i].start, (long)v[i].len, (long)v[i].start, NULL, e);
        free(v);
        if (n < 0 || rc != 0) {
            if (n < 0) {
                memset(e, 0, sizeof(*e));
                snprintf(e->message, sizeof(e->message), "out of memory");
                e->offset = -1;
            }
            e->stmts_done = 0;
            return -1;
        }
        c->base.in_txn = false;
        rc = simple(c, "COMMIT", e);
        e->stmts_done = 1;
        return rc;
    }
    /* one simple-query message: the rows' INSERTs then COMMIT, one result
     * each (the server skips what follows an error); (measured: the same
     * in pipeline mode, extended protocol, answered about 0.8 ms later) */
    if (settle(c, e) != 0) {
        free(v);
        e->stmts_done = 0;
        return -1;
    }
    size_t len = strlen(sql);
    char *all = malloc(len + 16);
    if (!all) {
        free(v);
        memset(e, 0, sizeof(*e));
        snprintf(e->message, sizeof(e->message), "out of memory");
        e->offset = -1;
        e->stmts_done = 0;
        return -1;
    }
    memcpy(all, sql, len);
    memcpy(all + len, ";\nCOMMIT", 9);
    int k = -1, got = 0;
    bool failed = !PQsendQuery(c->pg, all);
    char last_status[32] = "";
    PGresult *r, *err = NULL;
    while (!failed && (r = PQgetResult(c->pg)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if ((st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) && !err) {
            snprintf(last_status, sizeof(last_status), "%s", PQcmdStatus(r));
            got++;
            PQclear(r);
        } else if (!err) {
            err = r;
            k = got;
        } else {
            PQclear(r);
        }
    }
    free(all);
    if (failed || (!err && got < n + 1)) {
        failed = true;
        k = got;
    }
    failed = failed || err;
    if (failed) {
        if (k >= 0 && k < n)
            set_error(c, e, err, sql + v[k].start, (long)v[k].len, (long)v[k].start);
        else
            set_error(c, e, err, NULL, 0, -1);
        PQclear(err);
    }
    free(v);
    /* a failed statement skips the COMMIT: the transaction stays, failed */
    PGTransactionStatusType ts = PQtransactionStatus(c->pg);
    c->base.in_txn = ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR;
    if (failed) {
        e->stmts_done = k >= n || e->connection_lost;
        return -1;
    }
    if (strcmp(last_status, "ROLLBACK") == 0) {
        memset(e, 0, sizeof(*e));
        snprintf(e->message, sizeof(e->message), "the transaction had failed and was rolled back");
        e->offset = -1;
        e->stmts_done = 1;
        return -1;
    }
    return 0;
}

/* The server committed; the answer is lost on the way (fault injection). */
static int dropped(struct mig_conn *base, struct mig_dberr *e)
{
    pg_drop(base);
    PGresult *r = PQexec(((struct pg_conn *)base)->pg, "SELECT 1");
    PQclear(r);
    memset(e, 0, sizeof(*e));
    snprintf(e->message, sizeof(e->message), "server closed the connection unexpectedly (fault injection)");
    e->connection_lost = true;
    e->offset = -1;
    e->stmts_done = 1;
    return -1;
}

/* The tracking rows and the COMMIT: as exec then commit, with their two
 * fault points, in one round trip. */
static int pg_commit_with(struct mig_conn *base, const char *sql, struct mig_dberr *e)
{
    MIG_FAULT();    /* (the rows' exec) */
    MIG_FAULT();    /* (the commit) */
    bool drop = MIG_FAULT_COMMIT();
    int rc = commit_rt((struct pg_conn *)base, sql, e);
    return drop && rc == 0 ? dropped(base, e) : rc;
}

static int pg_commit(struct mig_conn *base, struct mig_dberr *e)
{
    MIG_FAULT();
    base->in_txn = false;
    bool drop = MIG_FAULT_COMMIT();
    int rc = commit_rt((struct pg_conn *)base, NULL, e);
    return drop && rc == 0 ? dropped(base, e) : rc;
}

static int pg_rollback(struct mig_conn *base, struct mig_dberr *e)
{
    MIG_FAULT();
    struct pg_conn *c = (struct pg_conn *)base;
    base->in_txn = false;
    if (c->queued) {
        struct mig_dberr e2;
        settle(c, &e2);
    }
    if (PQstatus(c->pg) == CONNECTION_BAD)
        return 0;   /* the server rolls back what a lost connection had open */
    return simple(c, "ROLLBACK", e);
}

static char *own(char *pq)
{
    if (!pq)
        return NULL;
    char *s = strdup(pq);
    PQfreemem(pq);
    return s;
}

static char *pg_quote_literal(struct mig_conn *base, const char *s, size_t n)
{
    return own(PQescapeLiteral(((struct pg_conn *)base)->pg, s, n));
}

/* Each dot-separated part quoted on its own: "auth"."users". */
static char *pg_quote_ident(struct mig_conn *base, const char *s, size_t n)
{
    struct pg_conn *c = (struct pg_conn *)base;
    size_t cap = 3 * n + 8, k = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != '.')
            j++;
        char *q = PQescapeIdentifier(c->pg, s + i, j - i);
        if (!q) {
            free(out);
            return NULL;
        }
        size_t ql = strlen(q);
        if (k + ql + 2 > cap) {
            cap = (k + ql + 2) * 2;
            char *nb = realloc(out, cap);
            if (!nb) {
                PQfreemem(q);
                free(out);
                return NULL;
            }
            out = nb;
        }
        if (i > 0)
            out[k++] = '.';
        memcpy(out + k, q, ql);
        k += ql;
        PQfreemem(q);
        i = j + 1;
    }
    out[k] = 0;
    return out;
}

static int64_t pg_server_version(struct mig_conn *base)
{
    return PQserverVersion(((struct pg_conn *)base)->pg);
}

static int pg_set_timeouts(struct mig_conn *base, int64_t statement_ms, int64_t lock_ms, struct mig_dberr *e)
{
    char sql[256];
    if (statement_ms || lock_ms)
        snprintf(sql, sizeof(sql), "SET statement_timeout = %lld; SET lock_timeout = %lld",
                 (long long)statement_ms, (long long)lock_ms);
    else
        snprintf(sql, sizeof(sql), "RESET statement_timeout; RESET lock_timeout");
    return pg_exec(base, sql, NULL, e);
}

static int64_t pg_target_version(struct mig_conn *base)
{
    return PQserverVersion(((struct pg_conn *)base)->pg) / 10000;
}

static enum mig_txstatus pg_txn_status(struct mig_conn *base)
{
    struct pg_conn *c = (struct pg_conn *)base;
    struct mig_dberr e;
    if (settle(c, &e) != 0 && PQstatus(c->pg) != CONNECTION_BAD)
        return MIG_TX_FAILED;
    switch (PQtransactionStatus(c->pg)) {
    case PQTRANS_IDLE: return MIG_TX_IDLE;
    case PQTRANS_INTRANS: return MIG_TX_ACTIVE;
    case PQTRANS_INERROR: return MIG_TX_FAILED;
    default: return MIG_TX_UNKNOWN;
    }
}

static int pg_try_lock(struct mig_conn *base, char *who, size_t n, struct mig_dberr *e)
{
    struct pg_conn *c = (struct pg_conn *)base;
    char sql[128], args[64], cond[128];
    lock_key(base, args, sizeof(args), cond, sizeof(cond));
    snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%s)", args);
    bool has_row = false;
    struct mig_value v;
    if (pg_query(base, sql, &has_row, &v, e) != 0)
        return -1;
    if (has_row && v.t == MIG_V_BOOL && v.i) {
        c->locked = true;
        return 0;
    }
    snprintf(who, n, "another session");
    /* Advisory locks are per database: a runner holding the same key in another database of the
     * cluster (tenant databases, parallel CI suites) is not the holder. */
    char holder_sql[640];
    snprintf(holder_sql, sizeof(holder_sql),
             "SELECT format('pid %%s (%%s) connected since %%s', a.pid, coalesce(nullif(a.application_name, ''), "
             "'no application_name'), date_trunc('second', a.backend_start)) FROM pg_locks l JOIN pg_stat_activity a "
             "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND %s AND l.granted AND l.database = "
             "(SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1", cond);
    struct mig_value h;
    bool hr = false;
    struct mig_dberr e2;
    if (pg_query(base, holder_sql, &hr, &h, &e2) == 0 && hr && h.t == MIG_V_STRING) {
        snprintf(who, n, "%s", h.s);
        free((void *)h.s);
    }
    return 1;
}

static void pg_unlock(struct mig_conn *base)
{
    struct pg_conn *c = (struct pg_conn *)base;
    struct mig_dberr e;
    settle(c, &e);
    if (!c->locked || PQstatus(c->pg) != CONNECTION_OK)
        return;
    char sql[128], args[64], cond[128];
    lock_key(base, args, sizeof(args), cond, sizeof(cond));
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%s)", args);
    PGresult *r = PQexec(c->pg, sql);
    PQclear(r);
    c->locked = false;
}

static int pg_txn_lock(struct mig_conn *base, bool table, struct mig_dberr *e)
{
    char sql[256], args[64], cond[128];
    lock_key(base, args, sizeof(args), cond, sizeof(cond));
    if (table)
        snprintf(sql, sizeof(sql), "LOCK TABLE %smig_runs IN EXCLUSIVE MODE", base->prefix);
    else
        snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%s)", args);
    bool has;
    struct mig_value v;
    return pg_query(base, sql, &has, &v, e);
}

static char *env_pair(const char *name, const char *value)
{
    char *s = malloc(strlen(name) + strlen(value ? value : "") + 2);
    if (s)
        sprintf(s, "%s=%s", name, value ? value : "");
    return s;
}

static char **pg_command_env(struct mig_conn *base)
{
    PGconn *pg = ((struct pg_conn *)base)->pg;
    const char *names[] = { "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD" };
    const char *vals[] = { PQhost(pg), PQport(pg), PQuser(pg), PQdb(pg), PQpass(pg) };
    char **env = calloc(6, sizeof(*env));
    size_t k = 0;
    for (size_t i = 0; env && i < 5; i++)
        if (vals[i] && *vals[i])
            env[k++] = env_pair(names[i], vals[i]);
    return env;
}

static void pg_cancel(struct mig_conn *base)
{
    struct pg_conn *c = (struct pg_conn *)base;
    char buf[256];
    if (c->cancel)
        PQcancel(c->cancel, buf, sizeof(buf));
}

static void pg_close(struct mig_conn *base)
{
    struct pg_conn *c = (struct pg_conn *)base;
    if (c->cancel)
        PQfreeCancel(c->cancel);
    PQfinish(c->pg);
    free(base->location);
    free(base->display);
    free(base->prefix);
    free(base->schema);
    free(c->local_sp);
    free(c);
}

static int pg_open(const char *url, const struct mig_open_opts *o, struct mig_conn **out, char *err, size_t errlen);

#define PG_USER_NS(n) "(" n ".nspname !~ '^pg_' AND " n ".nspname <> 'information_schema')"
#define PG_FINGERPRINT \
    "SELECT x FROM (" \
    "SELECT 'schema ' || n.nspname AS x FROM pg_catalog.pg_namespace n WHERE " PG_USER_NS("n") \
    " UNION ALL SELECT 'relation ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || coalesce(' ' || " \
    "pg_catalog.pg_get_viewdef(CASE WHEN c.relkind IN ('v', 'm') THEN c.oid END), '') FROM pg_catalog.pg_class c " \
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE " PG_USER_NS("n") \
    " UNION ALL SELECT 'column ' || n.nspname || '.' || c.relname || '.' || a.attname || ' ' || " \
    "pg_catalog.format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END || " \
    "coalesce(' default ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid), '') FROM pg_catalog.pg_attribute a " \
    "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " \
    "LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attnum > 0 AND " \
    "NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND " PG_USER_NS("n") \
    " UNION ALL SELECT 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' " \
    "ELSE ' (invalid)' END FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid " \
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE " PG_USER_NS("n") \
    " UNION ALL SELECT 'constraint ' || n.nspname || '.' || c.relname || '.' || k.conname || ' ' || " \
    "pg_catalog.pg_get_constraintdef(k.oid) FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON " \
    "c.oid = k.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE " PG_USER_NS("n") \
    " UNION ALL SELECT 'function ' || n.nspname || '.' || p.proname || '(' || " \
    "pg_catalog.pg_get_function_identity_arguments(p.oid) || ') ' || md5(p.prosrc) FROM pg_catalog.pg_proc p " \
    "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE " PG_USER_NS("n") \
    " UNION ALL SELECT 'type ' || n.nspname || '.' || t.typname || ' ' || t.typtype::text || coalesce(' ' || (SELECT " \
    "string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid), " \
    "'') FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype IN " \
    "('e', 'd') AND " PG_USER_NS("n") \
    " UNION ALL SELECT 'trigger ' || pg_catalog.pg_get_triggerdef(g.oid) FROM pg_catalog.pg_trigger g JOIN " \
    "pg_catalog.pg_class c ON c.oid = g.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE " \
    "NOT g.tgisinternal AND " PG_USER_NS("n") \
    " UNION ALL SELECT 'extension ' || x.extname FROM pg_catalog.pg_extension x" \
    ") s WHERE x !~ '\\.mig_(applied|runs|meta)(\\M|_)' ORDER BY x COLLATE \"C\""


static const char *const pg_ddl[] = {
    "CREATE TABLE IF NOT EXISTS %smig_meta (key text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS %smig_runs (run bigint PRIMARY KEY, command text NOT NULL, outcome text NOT NULL, "
    "started_at text NOT NULL, finished_at text, user_name text, host text, pid bigint)",
    "CREATE TABLE IF NOT EXISTS %smig_applied (migration text NOT NULL, phase text NOT NULL, step text NOT NULL, "
    "status text NOT NULL, checksum text, entry_uid text NOT NULL, applied_at text NOT NULL, seq bigint, run bigint, "
    "txn text, down_sql text, irreversible text, timeout_ms bigint, lock_timeout_ms bigint, retry bigint, "
    "retry_every_ms bigint, file text, line bigint, down_kind text, down_exec text, down_flags text, "
    "PRIMARY KEY (migration, phase, step))",
    "CREATE UNIQUE INDEX IF NOT EXISTS mig_applied_uid ON %smig_applied (entry_uid)",
    NULL,
};

const struct mig_driver mig_driver_pg = {
    .name = "postgres", .dialect = MIG_D_POSTGRES, .open = pg_open,
    .exec = pg_exec, .query = pg_query, .select = pg_select, .begin = pg_begin, .commit = pg_commit,
    .commit_with = pg_commit_with,
    .rollback = pg_rollback, .quote_literal = pg_quote_literal, .quote_ident = pg_quote_ident,
    .server_version = pg_server_version, .target_version = pg_target_version, .set_timeouts = pg_set_timeouts,
    .txn_status = pg_txn_status, .try_lock = pg_try_lock, .unlock = pg_unlock, .txn_lock = pg_txn_lock,
    .cancel = pg_cancel, .command_env = pg_command_env,
    .drop = pg_drop, .close = pg_close, .tracking_ddl = pg_ddl, .snapshot = &mig_snapshot_pg,
    .scratch_create = mig_pg_scratch_create, .scratch_drop = mig_pg_scratch_drop,
    .true_lit = "true", .false_lit = "false",
    .has_table = "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = %s AND tablename = %s",
    .invalid_index = "SELECT 1 FROM pg_catalog.pg_index x WHERE x.indexrelid = to_regclass(%s) AND NOT x.indisvalid",
    .drop_invalid_index = "DROP INDEX CONCURRENTLY IF EXISTS %s",
    .schema_fingerprint = PG_FINGERPRINT,
    .has_undo_columns = "SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
                        "AND table_name = 'mig_applied' AND column_name = %s",
};

/* NOTICEs go to the runner (which names the step), never raw to stderr. */
static void notice_receiver(void *arg, const PGresult *res)
{
    struct pg_conn *c = arg;
    if (!c->base.on_notice)
        return;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    c->base.on_notice(c->base.notice_ctx, sev ? sev : "NOTICE", msg ? msg : "");
}

/* msg (of capacity cap) with every occurrence of what replaced by by, or
 * with quote set, every "quoted" piece that url holds and masked does not. */
static void scrub(char *msg, size_t cap, const char *what, const char *by, const char *url, const char *masked)
{
    char *out = malloc(cap);
    if (!out) {
        snprintf(msg, cap, "(libpq's message withheld)");
        return;
    }
    size_t wn = what ? strlen(what) : 0, k = 0;
    for (const char *p = msg; *p && k + 1 < cap;) {
        size_t skip = 0;
        if (what && wn && strncmp(p, what, wn) == 0) {
            skip = wn;
        } else if (!what && *p == '"' && strchr(p + 1, '"')) {
            size_t n = (size_t)(strchr(p + 1, '"') - (p + 1));
            char *piece = strndup(p + 1, n);
            bool secret = !piece || (n && strstr(url, piece) && !strstr(masked, piece));
            free(piece);
            skip = n + 2;
            if (secret) {
                by = "\"***\"";
            } else {
                for (size_t i = 0; i < skip && k + 1 < cap; i++)
                    out[k++] = p[i];
                p += skip;
                continue;
            }
        }
        if (skip) {
            for (const char *c = by; *c && k + 1 < cap; c++)
                out[k++] = *c;
            p += skip;
        } else {
            out[k++] = *p++;
        }
    }
    out[k] = 0;
    memcpy(msg, out, k + 1);
    free(out);
}

/* libpq's errors about a connection string quote it, or a piece of it (a
 * badly percent-encoded password, a port): the URL becomes its masked form,
 * every password libpq parses from it ***, and a quoted piece that only the
 * unmasked URL holds ***. */
static void scrub_secrets(char *msg, size_t cap, const char *url, const char *masked)
{
    if (!masked) {
        snprintf(msg, cap, "(libpq's message withheld)");
        return;
    }
    scrub(msg, cap, url, masked, url, masked);
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &why);
    PQfreemem(why);
    for (PQconninfoOption *p = opts; p && p->keyword; p++)
        if (p->val && (strstr(p->keyword, "password") || (p->dispchar && p->dispchar[0] == '*')))
            scrub(msg, cap, p->val, "***", url, masked);
    PQconninfoFree(opts);
    scrub(msg, cap, NULL, NULL, url, masked);
}

static int pg_open(const char *url, const struct mig_open_opts *o, struct mig_conn **out, char *err, size_t errlen)
{
    const char *keys[3] = { "dbname", NULL, NULL };
    const char *vals[3] = { url, NULL, NULL };
    if (!strstr(url, "application_name=")) {
        keys[1] = "application_name";
        vals[1] = "migrun";
    }
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        char *masked = mig_mask_url(url);
        char msg[4096];
        copy_field(msg, sizeof(msg), pg ? PQerrorMessage(pg) : "out of memory");
        for (char *p = msg; *p; p++)
            if (*p == '\n')
                *p = ' ';
        scrub_secrets(msg, sizeof(msg), url, masked);
        snprintf(err, errlen, "cannot connect to %s: %s", masked ? masked : "the database", msg);
        free(masked);
        PQfinish(pg);
        return -1;
    }
    struct pg_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        PQfinish(pg);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->pg = pg;
    c->base.drv = &mig_driver_pg;
    c->base.exists = true;
    c->cancel = PQgetCancel(pg);
    PQsetNoticeReceiver(pg, notice_receiver, c);
    /* A pooler (PgBouncer) answers the connection with its own key data:
     * the pid libpq was given is not the backend's. */
    /* In the same query (one round trip): the current schema, and the
     * server noticing a killed client during a long statement (PG 14+), a
     * session setting made only when no pooler stands between (it would
     * outlive the run on a pooled server connection). */
    char sql0[320] = "SELECT pg_backend_pid(), current_schema()";
    if (PQserverVersion(pg) >= 140000)
        snprintf(sql0, sizeof(sql0), "SELECT pg_backend_pid(), current_schema(), CASE WHEN pg_backend_pid() = %d "
                 "THEN set_config('client_connection_check_interval', '1000', false) END", PQbackendPID(pg));
    PGresult *pr = PQexec(pg, sql0);
    char *current = NULL;
    if (pr && PQresultStatus(pr) == PGRES_TUPLES_OK && PQntuples(pr) == 1) {
        c->base.pooled = atoi(PQgetvalue(pr, 0, 0)) != PQbackendPID(pg);
        if (!PQgetisnull(pr, 0, 1))
            current = strdup(PQgetvalue(pr, 0, 1));
    }
    PQclear(pr);
    const char *np = getenv("MIGRUN_PG_NO_PIPELINE");
    c->pipeline = !c->base.pooled && !(np && *np && strcmp(np, "0") != 0);
    const char *host = PQhost(pg), *port = PQport(pg), *db = PQdb(pg), *user = PQuser(pg);
    size_t n = strlen(host ? host : "") + strlen(port ? port : "") + strlen(db ? db : "") +
               strlen(user ? user : "") + 32;
    c->base.location = malloc(n);
    c->base.display = mig_mask_url(url);
    if (!c->base.location || !c->base.display) {
        pg_close(&c->base);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(c->base.location, n, "postgresql://%s@%s:%s/%s", user ? user : "", host ? host : "",
             port ? port : "", db ? db : "");
    /* a bare postgres:// shows where it went */
    if (strcmp(url, "postgres://") == 0 || strcmp(url, "postgresql://") == 0) {
        free(c->base.display);
        c->base.display = strdup(c->base.location);
    }
    /* the tracking tables' schema: --schema (which also becomes the
     * search_path of the bodies), else the current schema */
    struct mig_dberr e;
    if (o && o->schema && *o->schema) {
        free(current);
        current = NULL;
        char *qs = own(PQescapeIdentifier(pg, o->schema, strlen(o->schema)));
        char *set = qs ? malloc(strlen(qs) + 32) : NULL;
        if (set)
            sprintf(set, "SET %ssearch_path TO %s", c->base.pooled ? "LOCAL " : "", qs);
        free(qs);
        /* Through a pooler a session setting would land on one pooled
         * server connection (and stay there for its next client): the
         * schema is set with SET LOCAL in every transaction of the run and
         * before every statement sent outside one (pexec, pg_begin). */
        if (set && c->base.pooled) {
            c->local_sp = set;
            c->base.local_search_path = true;
            set = NULL;
        }
        bool oom = !set && !c->local_sp;
        int rc = set ? pg_exec(&c->base, set, NULL, &e) : oom ? -1 : 0;
        free(set);
        if (rc != 0) {
            snprintf(err, errlen, "cannot use schema '%s': %s", o->schema, oom ? "out of memory" : e.message);
            pg_close(&c->base);
            return -1;
        }
        c->base.schema = strdup(o->schema);
    } else {
        c->base.schema = current ? current : strdup("public");
    }
    char *qs = c->base.schema ? own(PQescapeIdentifier(pg, c->base.schema, strlen(c->base.schema))) : NULL;
    c->base.prefix = qs ? malloc(strlen(qs) + 2) : NULL;
    if (!c->base.prefix) {
        free(qs);
        pg_close(&c->base);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    sprintf(c->base.prefix, "%s.", qs);
    free(qs);
    /* tenant schemas of one database are distinct locations */
    if (strcmp(c->base.schema, "public") != 0) {
        char *loc = malloc(strlen(c->base.location) + strlen(c->base.schema) + 16);
        if (loc) {
            sprintf(loc, "%s?schema=%s", c->base.location, c->base.schema);
            free(c->base.location);
            c->base.location = loc;
        }
    }
    *out = &c->base;
    return 0;
}
