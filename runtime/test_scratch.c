/* test_scratch.c — the throwaway databases of migrun test: on PostgreSQL a
 * new database made with CREATE DATABASE … TEMPLATE (a copy of the given
 * one) or from template0 (an empty one), through a connection to the
 * server's maintenance database; on SQLite a copy of the file (SQLite's
 * backup API, the source opened read-only) in a new temporary folder. The
 * given database is only read. */
#include "driver.h"
#include <errno.h>
#include "pq.h"
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- PostgreSQL ------------------------------------------------------------------------ */

/* url with its database replaced by db (a libpq URI query parameter wins
 * over the path). Malloc'd. */
static char *with_dbname(const char *url, const char *db)
{
    size_t n = strlen(url) + strlen(db) * 3 + 16;
    char *s = malloc(n);
    if (!s)
        return NULL;
    size_t k = (size_t)snprintf(s, n, "%s%sdbname=", url, strchr(url, '?') ? "&" : "?");
    for (const unsigned char *p = (const unsigned char *)db; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
            *p == '-' || *p == '.')
            s[k++] = (char)*p;
        else
            k += (size_t)sprintf(s + k, "%%%02X", *p);
    }
    s[k] = 0;
    return s;
}

static PGconn *pg_connect_db(const char *url, const char *db)
{
    char *u = db ? with_dbname(url, db) : strdup(url);
    if (!u)
        return NULL;
    const char *keys[] = { "dbname", "application_name", NULL };
    const char *vals[] = { u, "migrun test", NULL };
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    free(u);
    return c;
}

/* "what: the server's message (its detail)" on one line */
static void pg_message(char *err, size_t errlen, const char *what, PGconn *c, const PGresult *r)
{
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s%s%s%s", m ? m : c ? PQerrorMessage(c) : "out of memory", detail ? " (" : "",
             detail ? detail : "", detail ? ")" : "");
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    size_t n = strlen(msg);
    while (n && msg[n - 1] == ' ')
        msg[--n] = 0;
    snprintf(err, errlen, "%s: %s", what, msg);
}

/* The maintenance connection: the database postgres, else template1. */
static PGconn *pg_maintenance(const char *url, char *err, size_t errlen)
{
    PGconn *m = pg_connect_db(url, "postgres");
    if (m && PQstatus(m) == CONNECTION_OK)
        return m;
    PQfinish(m);
    m = pg_connect_db(url, "template1");
    if (m && PQstatus(m) == CONNECTION_OK)
        return m;
    char *masked = mig_mask_url(url);
    char what[512];
    snprintf(what, sizeof(what), "cannot connect to the maintenance database (postgres or template1) of %s to make "
             "the scratch database", masked ? masked : "the server");
    free(masked);
    pg_message(err, errlen, what, m, NULL);
    PQfinish(m);
    return NULL;
}

static char *pg_ident(PGconn *c, const char *s)
{
    char *q = PQescapeIdentifier(c, s, strlen(s));
    char *out = q ? strdup(q) : NULL;
    PQfreemem(q);
    return out;
}

int mig_pg_scratch_create(const char *url, bool empty, const char *schema, char **scratch_url, char **name,
                          bool *copied, char *err, size_t errlen)
{
    *scratch_url = *name = NULL;
    *copied = false;
    /* the given database: which one the URL (and PG*) names; the driver's
     * own open reports a failure without any password */
    struct mig_conn *g = NULL;
    struct mig_open_opts oo = { 0 };
    bool usage = false;
    if (mig_connect(url, &oo, &g, err, errlen, &usage) != 0)
        return -1;
    bool has = false;
    struct mig_value v;
    struct mig_dberr e;
    char given[256] = "";
    if (g->drv->query(g, "SELECT current_database()", &has, &v, &e) == 0 && has && v.t == MIG_V_STRING) {
        snprintf(given, sizeof(given), "%s", v.s);
        free((void *)v.s);
    }
    mig_disconnect(g);
    /* the maintenance database holds no application: testing there means
     * testing from an empty database */
    if (!given[0] || strcmp(given, "postgres") == 0 || strcmp(given, "template1") == 0 ||
        strcmp(given, "template0") == 0)
        empty = true;
    PGconn *m = pg_maintenance(url, err, errlen);
    if (!m)
        return -1;
    char db[64];
    static unsigned made;   /* (fresh copies of one run get names of their own) */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    unsigned tag = ((unsigned)now.tv_nsec ^ (unsigned)now.tv_sec * 2654435761u) + ++made * 40503u;
    snprintf(db, sizeof(db), "migrun_test_%d_%06x", (int)getpid(), tag & 0xffffff);
    char *qdb = pg_ident(m, db), *qsrc = pg_ident(m, empty ? "template0" : given);
    char sql[1024];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE %s", qdb ? qdb : "", qsrc ? qsrc : "");
    free(qdb);
    free(qsrc);
    PGresult *r = PQexec(m, sql);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        char what[512];
        if (state && strcmp(state, "55006") == 0)
            snprintf(what, sizeof(what), "cannot copy the database %s into a scratch database: PostgreSQL copies a "
                     "database only while no other session is connected to it (close them, or give --empty to test "
                     "from an empty database)", given);
        else if (state && strcmp(state, "42501") == 0)
            snprintf(what, sizeof(what), "cannot create the scratch database (the role needs CREATEDB, or give "
                     "--db a database of a role that has it)");
        else
            snprintf(what, sizeof(what), "cannot create the scratch database %s", db);
        pg_message(err, errlen, what, m, r);
        rc = -1;
    }
    PQclear(r);
    PQfinish(m);
    if (rc != 0)
        return -1;
    *scratch_url = with_dbname(url, db);
    *name = strdup(db);
    *copied = !empty;
    if (!*scratch_url || !*name) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* the schema of --schema (a tenant's): an empty scratch database, or a
     * copy of a database without it, gets it, empty, owned by the role */
    if (schema && *schema) {
        PGconn *c = pg_connect_db(url, db);
        char *q = c && PQstatus(c) == CONNECTION_OK ? pg_ident(c, schema) : NULL;
        PGresult *sr = NULL;
        if (q) {
            snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS %s", q);
            sr = PQexec(c, sql);
        }
        if (!sr || PQresultStatus(sr) != PGRES_COMMAND_OK) {
            char what[512];
            snprintf(what, sizeof(what), "cannot create the schema '%s' in the scratch database %s", schema, db);
            pg_message(err, errlen, what, c, sr);
            rc = -1;
        }
        PQclear(sr);
        free(q);
        PQfinish(c);
        if (rc != 0) {
            char derr[512];
            mig_pg_scratch_drop(url, *scratch_url, db, derr, sizeof(derr));
            return -1;
        }
    }
    return 0;
}

int mig_pg_scratch_drop(const char *url, const char *scratch_url, const char *name, char *err, size_t errlen)
{
    (void)scratch_url;
    PGconn *m = pg_maintenance(url, err, errlen);
    if (!m)
        return -1;
    char *q = pg_ident(m, name);
    char sql[512];
    /* WITH (FORCE) ends a session left on it (PostgreSQL 13 and later) */
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s%s", q ? q : "",
             PQserverVersion(m) >= 130000 ? " WITH (FORCE)" : "");
    free(q);
    int rc = 0;
    for (int attempt = 0; attempt < 20; attempt++) {
        PGresult *r = PQexec(m, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        const char *state = rc ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        bool in_use = state && strcmp(state, "55006") == 0;     /* (state is r's) */
        if (rc)
            pg_message(err, errlen, "cannot drop the scratch database", m, r);
        PQclear(r);
        /* a backend of ours that is still exiting holds it a moment longer */
        if (rc == 0 || !in_use)
            break;
        struct timespec ts = { 0, 100 * 1000000L };
        nanosleep(&ts, NULL);
    }
    PQfinish(m);
    return rc;
}

/* ---- SQLite -------------------------------------------------------------------------- */

static const char *sqlite_path(const char *url)
{
    return url[7] == '/' && url[8] == '/' ? url + 9 : url + 7;
}

int mig_sqlite_scratch_create(const char *url, bool empty, const char *schema, char **scratch_url, char **name,
                              bool *copied, char *err, size_t errlen)
{
    (void)schema;   /* SQLite has none */
    *scratch_url = *name = NULL;
    *copied = false;
    const char *path = sqlite_path(url);
    if (!*path) {
        snprintf(err, errlen, "the SQLite URL '%s' names no file (use sqlite:PATH or sqlite:///ABS/PATH)", url);
        return -1;
    }
    /* the given file: read before anything is made */
    struct stat st;
    if (!empty && stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            snprintf(err, errlen, "cannot copy '%s' into a scratch copy: it is not a file", path);
            return -1;
        }
        if (access(path, R_OK) != 0) {
            snprintf(err, errlen, "cannot read '%s' to copy it: %s", path, strerror(errno));
            return -1;
        }
    }
    const char *tmp = getenv("TMPDIR");
    tmp = tmp && *tmp ? tmp : "/tmp";
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/migrun-test.XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        snprintf(err, errlen, "cannot make a temporary folder for the scratch copy in %s%s: %s (set TMPDIR to a "
                 "writable folder)", tmp, getenv("TMPDIR") && *getenv("TMPDIR") ? " (TMPDIR)" : "", strerror(errno));
        return -1;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(dir) + strlen(base) + 16;
    char *dest = malloc(n);
    if (!dest) {
        rmdir(dir);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(dest, n, "%s/%s", dir, *base ? base : "scratch.sqlite");
    sqlite3 *d = NULL, *s = NULL;
    int rc = sqlite3_open_v2(dest, &d, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot create the scratch copy '%s': %s", dest, d ? sqlite3_errmsg(d) : "out of memory");
        goto fail;
    }
    if (!empty && access(path, F_OK) == 0) {
        /* read-only: the given file is never written, not even its journal */
        rc = sqlite3_open_v2(path, &s, SQLITE_OPEN_READONLY, NULL);
        if (rc != SQLITE_OK) {
            snprintf(err, errlen, "cannot open '%s' to copy it: %s", path, s ? sqlite3_errmsg(s) : sqlite3_errstr(rc));
            goto fail;
        }
        sqlite3_busy_timeout(s, 10000);
        sqlite3_backup *b = sqlite3_backup_init(d, "main", s, "main");
        if (!b) {
            snprintf(err, errlen, "cannot copy '%s' into a scratch copy: %s", path, sqlite3_errmsg(d));
            goto fail;
        }
        rc = sqlite3_backup_step(b, -1);
        sqlite3_backup_finish(b);
        if (rc != SQLITE_DONE) {
            snprintf(err, errlen, "cannot copy '%s' into a scratch copy: %s", path, sqlite3_errstr(rc));
            goto fail;
        }
        sqlite3_close_v2(s);
        s = NULL;
        *copied = true;
    } else {
        /* an empty database, as a new file is */
        char *msg = NULL;
        if (sqlite3_exec(d, "SELECT count(*) FROM sqlite_master", NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "cannot create the scratch copy '%s': %s", dest, msg ? msg : "");
            sqlite3_free(msg);
            goto fail;
        }
    }
    sqlite3_close_v2(d);
    *scratch_url = malloc(strlen(dest) + 8);
    if (*scratch_url)
        sprintf(*scratch_url, "sqlite:%s", dest);
    *name = dest;
    return 0;
fail:
    sqlite3_close_v2(s);
    sqlite3_close_v2(d);
    unlink(dest);
    rmdir(dir);
    free(dest);
    return -1;
}

int mig_sqlite_scratch_drop(const char *url, const char *scratch_url, const char *name, char *err, size_t errlen)
{
    (void)url;
    (void)scratch_url;
    static const char *const suffixes[] = { "", "-journal", "-wal", "-shm", "-miglock", NULL };
    char p[PATH_MAX + 16];
    for (size_t i = 0; suffixes[i]; i++) {
        snprintf(p, sizeof(p), "%s%s", name, suffixes[i]);
        if (unlink(p) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "cannot remove the scratch copy '%s': %s", p, strerror(errno));
            return -1;
        }
    }
    snprintf(p, sizeof(p), "%s", name);
    char *slash = strrchr(p, '/');
    if (slash) {
        *slash = 0;
        if (rmdir(p) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "cannot remove the folder of the scratch copy '%s': %s", p, strerror(errno));
            return -1;
        }
    }
    return 0;
}
