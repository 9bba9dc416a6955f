/* driver.h — the one interface between the VM/runner and a database
 * (SQLite now, PostgreSQL through libpq next). A connection is opened from a
 * URL; every call returns 0 or -1 with the database's own error in
 * struct mig_dberr. Strings returned to the caller are malloc'd. */
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
    bool transient;         /* lock timeout, deadlock, serialization failure, SQLITE_BUSY */
    bool connection_lost;
};

struct mig_conn;

struct mig_driver {
    const char *name;       /* "sqlite", "postgres" */
    enum mig_dialect dialect;
    /* Runs one or more statements; *rows gets the rows they changed. */
    int (*exec)(struct mig_conn *c, const char *sql, int64_t *rows, struct mig_dberr *e);
    /* First column of the first row (*has_row false when none). Text values
     * are malloc'd into out->s (free with mig_value_clear). */
    int (*query)(struct mig_conn *c, const char *sql, bool *has_row, struct mig_value *out,
                 struct mig_dberr *e);
    /* Every row of a query, each column as text (NULL for SQL NULL); the
     * callback returns non-zero to stop. */
    int (*select)(struct mig_conn *c, const char *sql,
                  int (*row)(void *ctx, int ncols, const char *const *vals), void *ctx,
                  struct mig_dberr *e);
    int (*begin)(struct mig_conn *c, struct mig_dberr *e);
    int (*commit)(struct mig_conn *c, struct mig_dberr *e);
    int (*rollback)(struct mig_conn *c, struct mig_dberr *e);
    /* Quoting: the returned text is a complete SQL literal / identifier. */
    char *(*quote_literal)(struct mig_conn *c, const char *s, size_t n);
    char *(*quote_ident)(struct mig_conn *c, const char *s, size_t n);
    int64_t (*server_version)(struct mig_conn *c);
    /* Per-statement limits for what follows (0: none); local = only for the
     * current transaction. */
    int (*set_timeouts)(struct mig_conn *c, int64_t statement_ms, int64_t lock_ms, bool local,
                        struct mig_dberr *e);
    void (*close)(struct mig_conn *c);
};

struct mig_conn {
    const struct mig_driver *drv;
    char *target;           /* identity of the database for the journal (no password) */
    char *display;          /* what to print (no password) */
    bool in_txn;
};

/* Opens a connection for a --db URL: sqlite:PATH, sqlite:///ABS/PATH,
 * postgres://… or postgresql://…. -1 with a message in err (which never
 * contains a password). */
int mig_connect(const char *url, int64_t busy_ms, struct mig_conn **out, char *err, size_t errlen);
void mig_disconnect(struct mig_conn *c);

/* The URL with any password replaced by "***". Malloc'd. */
char *mig_mask_url(const char *url);

int mig_pg_open(const char *url, struct mig_conn **out, char *err, size_t errlen);
int mig_sqlite_open(const char *path, int64_t busy_ms, struct mig_conn **out, char *err, size_t errlen);

#endif
