/* driver.h — the one interface between the runner and a database. Each
 * driver owns its runner lock, the DDL of the tracking tables, its schema
 * snapshot (migrun test), its version rule (`target postgres >= 13`), its
 * boolean literals and its transaction status; the registry (drivers.c)
 * picks a driver by the URL's dialect (runtime/url.c). Every call returns 0
 * or -1 with the database's own error in struct mig_dberr. Strings returned
 * to the caller are malloc'd. */
#ifndef MIG_DRIVER_H
#define MIG_DRIVER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "plan.h"

struct mig_dberr {
    char message[1024];
    char sqlstate[8];       /* PostgreSQL SQLSTATE, or "" */
    char detail[512], hint[512];
    int code;               /* SQLite extended result code, or 0 */
    long offset;            /* byte offset in the SQL where the failing statement starts, or -1 */
    int stmts_done;         /* exec: statements of the text that completed before the failure */
    bool transient;         /* lock timeout, deadlock, serialization failure, SQLITE_BUSY */
    bool connection_lost;
    bool canceled;          /* canceled by mig_conn cancel (a signal) */
};

/* What a connection's transaction is doing (after a statement). */
enum mig_txstatus { MIG_TX_IDLE, MIG_TX_ACTIVE, MIG_TX_FAILED, MIG_TX_UNKNOWN };

struct mig_conn;

struct mig_open_opts {
    int64_t lock_wait_ms;   /* busy timeout (SQLite) */
    const char *schema;     /* --schema: the tracking tables' schema (PostgreSQL), or NULL */
    bool readonly;          /* plan/status/log: a missing SQLite file is an empty database, not created */
    bool must_exist;        /* rollback: a missing SQLite file is an error, not created */
};

/* What migrun test reads of a database (runtime/snapshot.c). */
struct mig_snapshot_sql {
    /* Queries whose rows are (root, self, key, definition), one object per
     * row: key names the object, definition is what is compared, root
     * groups the objects read again together (a table with its columns,
     * indexes, constraints…), self is the object's own id when it is not
     * its root (or NULL). The tokens @ALL@ (true: everything, false: only
     * the roots listed) and @REL@, @PROC@, @TYPE@, @NSP@, @EXT@ (oid[]
     * expressions of the roots to read) are replaced first. */
    const char *const *schema;
    /* Statements installing a DDL tracker in a scratch database, the query
     * of the roots it saw touched (one per row; "*": all of them, "?<root>":
     * an object that is gone) since `untouch`, or (its token @SINCE@
     * replaced by since_txn rather than true) in the open transaction; and
     * the statement forgetting them. NULL: the schema is read whole every
     * time. */
    const char *const *track;
    const char *untouch, *touched, *since_txn;
    /* A query whose value changes with every schema change (SQLite's
     * schema_version), or NULL. */
    const char *version;
    /* --data: the user tables (each its name as the schema's keys write
     * it, a quoted name to query it, and optionally its storage and
     * columns and the number of rows the open transaction changed in it,
     * as "storage n");
     * a query template of one table's name, row count and two content
     * hashes (%s the name as a literal, %s the table; NULL: migrun reads the
     * rows and hashes them); a query whose value changes with every row
     * changed (or NULL). */
    const char *tables, *rows, *rows_version;
    /* Statements for a throwaway database: durability off (or NULL). */
    const char *const *setup;
    /* The schema and touched queries are worth preparing (PREPARE name
     * (oid[], …) AS … with $1…$5 for @REL@…@EXT@, then EXECUTE). */
    bool prepare;
};

struct mig_driver {
    const char *name;       /* "sqlite", "postgres" */
    enum mig_dialect dialect;
    int (*open)(const char *url, const struct mig_open_opts *o, struct mig_conn **out, char *err, size_t errlen);
    /* Runs one or more statements; *rows gets the rows they changed. */
    int (*exec)(struct mig_conn *c, const char *sql, int64_t *rows, struct mig_dberr *e);
    /* First column of the first row (*has_row false when none). Text values
     * are malloc'd into out->s (free with free((void *)out->s)). */
    int (*query)(struct mig_conn *c, const char *sql, bool *has_row, struct mig_value *out,
                 struct mig_dberr *e);
    /* Every row of a query, each column as text (NULL for SQL NULL); the
     * callback returns non-zero to stop. */
    int (*select)(struct mig_conn *c, const char *sql,
                  int (*row)(void *ctx, int ncols, const char *const *vals), void *ctx,
                  struct mig_dberr *e);
    /* Begins a transaction whose statements are limited to statement_ms
     * and whose lock waits (BEGIN's own on SQLite) to lock_ms (0: none). */
    int (*begin)(struct mig_conn *c, int64_t statement_ms, int64_t lock_ms, struct mig_dberr *e);
    int (*commit)(struct mig_conn *c, struct mig_dberr *e);
    /* Optional: runs sql (statements whose results only matter when they
     * fail: the tracking rows) then commits, in one round trip where the
     * driver can; as exec then commit, fault points included. On failure
     * e->stmts_done is 0 when sql failed (the transaction stays open, to be
     * rolled back), 1 when the COMMIT did or its outcome is unknown. */
    int (*commit_with)(struct mig_conn *c, const char *sql, struct mig_dberr *e);
    int (*rollback)(struct mig_conn *c, struct mig_dberr *e);
    /* Quoting: the returned text is a complete SQL literal / identifier. */
    char *(*quote_literal)(struct mig_conn *c, const char *s, size_t n);
    char *(*quote_ident)(struct mig_conn *c, const char *s, size_t n);
    /* server_version() of the language (PostgreSQL server_version_num,
     * sqlite3_libversion_number) and the number `target D >= N` compares
     * with (PostgreSQL: the major version; SQLite: the version number). */
    int64_t (*server_version)(struct mig_conn *c);
    int64_t (*target_version)(struct mig_conn *c);
    /* Per-statement limits of the session for what follows, outside
     * transactions (0, 0: back to none). */
    int (*set_timeouts)(struct mig_conn *c, int64_t statement_ms, int64_t lock_ms, struct mig_dberr *e);
    enum mig_txstatus (*txn_status)(struct mig_conn *c);
    /* The runner lock: 0 taken, 1 held by someone else (described in who),
     * -1 error. unlock releases it (also implied by close). */
    int (*try_lock)(struct mig_conn *c, char *who, size_t n, struct mig_dberr *e);
    void (*unlock)(struct mig_conn *c);
    /* The lock of --lock xact (table: false) or table (true), taken in the
     * open transaction and released by its end. */
    int (*txn_lock)(struct mig_conn *c, bool table, struct mig_dberr *e);
    /* The target's connection for a command: NAME=VALUE strings (PG*
     * variables, the password only in PGPASSWORD; MIGRUN_SQLITE_PATH),
     * malloc'd, NULL-terminated (free each and the array). */
    char **(*command_env)(struct mig_conn *c);
    /* Async-signal-safe: cancels the statement running now, if any. */
    void (*cancel)(struct mig_conn *c);
    /* Breaks the connection as a network failure would (fault injection). */
    void (*drop)(struct mig_conn *c);
    void (*close)(struct mig_conn *c);
    /* The tracking tables: statements with one %s for the qualified prefix
     * of their names (e.g. "\"tenant_a\"." or ""), NULL-terminated. */
    const char *const *tracking_ddl;
    /* migrun test's schema (and --data) snapshot: see struct mig_snapshot_sql. */
    const struct mig_snapshot_sql *snapshot;
    /* The throwaway database of migrun test (runtime/test_scratch.c): a
     * copy of the database url names (empty: a new empty one), with the
     * schema of --schema made when it lacks it (schema NULL or ""; none),
     * its URL and a name to print in *scratch_url and *name (malloc'd),
     * *copied false when it is empty; drop removes it. 0, or -1 with a
     * message in err. */
    int (*scratch_create)(const char *url, bool empty, const char *schema, char **scratch_url, char **name,
                          bool *copied, char *err, size_t errlen);
    int (*scratch_drop)(const char *url, const char *scratch_url, const char *name, char *err, size_t errlen);
    const char *true_lit, *false_lit;
    /* A query returning a row when a table exists: %s the schema and %s the
     * table name, both as literals. */
    const char *has_table;
    /* A query returning a row when %s (the schema, a literal) holds a
     * mig_applied with the column %s (a literal): the undo columns are
     * missing in one of an older migrun. */
    const char *has_undo_columns;
    /* A query returning a row when the index named by %s (a literal of its
     * name as written) exists but is invalid (an interrupted CREATE INDEX
     * CONCURRENTLY), and the statement dropping it (%s: the name as
     * written); NULL where indexes cannot be invalid. */
    const char *invalid_index, *drop_invalid_index;
    /* Rows of one text column, one per object of the user's schema
     * (relations, columns, indexes, constraints, functions, types,
     * triggers, views' definitions), sorted: what a restore point compares
     * before its step and after its restore. The tracking tables excluded. */
    const char *schema_fingerprint;
};

struct mig_conn {
    const struct mig_driver *drv;
    char *location;         /* where the database is, for the journal (no password) */
    char *display;          /* what to print (no password) */
    char *prefix;           /* the tracking tables' qualified prefix: "" or "\"schema\"." */
    char *schema;           /* their schema name ("main" on SQLite) */
    bool in_txn;
    bool exists;            /* false: a read-only open of a database that is not there */
    bool created;           /* the open created it (a new SQLite file) */
    bool pooled;            /* a connection pooler stands between us and the server */
    /* pooled with a schema: its search_path is set with SET LOCAL in each
     * transaction and before each statement outside one (a session setting
     * would land on one pooled server connection) */
    bool local_search_path;
    /* Messages the server sends besides results (PostgreSQL NOTICE,
     * WARNING): severity and text; NULL drops them. */
    void (*on_notice)(void *ctx, const char *severity, const char *message);
    void *notice_ctx;
};

/* Opens a connection for a --db URL through the driver that owns its
 * scheme. -1 with a message in err (which never contains a password);
 * *usage set when the URL itself is wrong (exit 2) rather than unreachable. */
int mig_connect(const char *url, const struct mig_open_opts *o, struct mig_conn **out, char *err, size_t errlen,
                bool *usage);
void mig_disconnect(struct mig_conn *c);
/* The driver owning url's scheme, or NULL. */
const struct mig_driver *mig_driver_for(const char *url);

/* What migrun checks of a --db before it connects: MIG_URL_PASSWORD, it
 * carries a password (or sslpassword, …); MIG_URL_MISREAD, libpq reads it
 * otherwise than it was written (an unencoded '/' or '@' in the password). */
#define MIG_URL_PASSWORD 1u
#define MIG_URL_MISREAD 2u
unsigned mig_url_inspect(const char *url);

/* The URL with any password replaced by "***". Malloc'd. */
char *mig_mask_url(const char *url);

extern const struct mig_driver mig_driver_pg, mig_driver_sqlite;

/* The first statement of sql (PostgreSQL) that cannot run inside a
 * transaction block (CREATE INDEX CONCURRENTLY, VACUUM, CREATE DATABASE,
 * ...): a few words of it in what, and its byte offset; -1 when none. */
long mig_pg_outside_only(const char *sql, char *what, size_t n);

/* What migrun test reads of each (runtime/snapshot_pg.c, snapshot_sqlite.c). */
extern const struct mig_snapshot_sql mig_snapshot_pg, mig_snapshot_sqlite;

/* The scratch databases of migrun test (runtime/test_scratch.c). */
int mig_pg_scratch_create(const char *url, bool empty, const char *schema, char **scratch_url, char **name,
                          bool *copied, char *err, size_t errlen);
int mig_pg_scratch_drop(const char *url, const char *scratch_url, const char *name, char *err, size_t errlen);
int mig_sqlite_scratch_create(const char *url, bool empty, const char *schema, char **scratch_url, char **name,
                              bool *copied, char *err, size_t errlen);
int mig_sqlite_scratch_drop(const char *url, const char *scratch_url, const char *name, char *err, size_t errlen);

#endif
