/* snapshot.h — what migrun test compares: the schema of a database (and,
 * with --data, every table's row count and content hash) as objects, each
 * with a key (`column public.users.email`) and a definition (`text not
 * null`). A snapshotter keeps the reference reading (the database before
 * the step being tested) and reads again only what a step touched when the
 * driver has a DDL tracker (PostgreSQL as a superuser), else the whole
 * schema, cheaply skipped when a version says nothing changed (SQLite).
 * The queries are the driver's (struct mig_snapshot_sql). */
#ifndef MIG_SNAPSHOT_H
#define MIG_SNAPSHOT_H
#include <stdbool.h>
#include "driver.h"
#include "lib/arena.h"

enum mig_diff_kind { MIG_DIFF_LEFT, MIG_DIFF_LOST, MIG_DIFF_CHANGED };

/* One difference between the reference and a later reading: an object
 * left behind (after set), lost (before set) or changed (both). */
struct mig_diff {
    enum mig_diff_kind kind;
    const char *key, *before, *after;
};

struct mig_diffs {
    struct mig_diff *v;
    size_t n, cap;
};

struct mig_snapper;

/* A snapshotter over a connection (borrowed); data: also rows. */
struct mig_snapper *mig_snapper_new(struct mig_conn *c, bool data);
void mig_snapper_free(struct mig_snapper *s);
/* Installs the driver's DDL tracker in the (scratch) database. Returns
 * true when reading only what a step touched is possible; false (why in
 * why) when every reading reads the whole schema. */
bool mig_snapper_track(struct mig_snapper *s, char *why, size_t n);
/* Reads everything: the reference. 0 or -1 with e. */
int mig_snapper_reset(struct mig_snapper *s, struct mig_dberr *e);
/* Starts a step, run in one transaction (txn) or not: the tracker
 * forgets what it saw. */
int mig_snapper_step(struct mig_snapper *s, bool txn, struct mig_dberr *e);
/* After the up (in its transaction): reads what it touched; prefix (or
 * NULL) is a statement to run first, in the same round trip. */
int mig_snapper_after_up(struct mig_snapper *s, const char *prefix, struct mig_dberr *e);
/* After the down: the differences between the reference and now, into
 * out (valid until the next mig_snapper_step). */
int mig_snapper_compare(struct mig_snapper *s, struct mig_diffs *out, struct mig_dberr *e);
/* Runs sql, and has the tracker forget what it saw (one round trip). */
int mig_snapper_exec_forget(struct mig_snapper *s, const char *sql, struct mig_dberr *e);
/* The state after the up (read by after_up) becomes the reference. */
void mig_snapper_keep_up(struct mig_snapper *s);
/* The database changed without a test (an up run alone, seed data, a
 * step outside a transaction run again): the reference is read again
 * where it was touched since mig_snapper_step. */
int mig_snapper_sync(struct mig_snapper *s, struct mig_dberr *e);
/* SQLite (read whole), after the up, before the down: whether the state
 * after the up again may stand for the state after the up — the down loses
 * no data but through the rows it changes (mig_snapshot_sqlite_down_drops),
 * every table it drops holds no row (or is not there), and every table it
 * drops a column of is small (its rows' hash is kept, to be compared after
 * the up again). */
bool mig_snapper_may_keep(struct mig_snapper *s, const char *down);
/* After the up again of a pair that passed, in its transaction, when
 * mig_snapper_may_keep said so and the down and the up again changed no
 * row: whether sqlite_master holds exactly the texts it held after the up
 * (the same objects, the same columns in the same order) and the tables
 * the down dropped a column of hold the same rows. The state after the up
 * again is then the state after the up, which can stay: no rollback to
 * the savepoint, after which SQLite parses its whole schema again.
 * 1 yes, 0 no, -1 with e. */
int mig_snapper_same_as_up(struct mig_snapper *s, struct mig_dberr *e);

/* --data (snapshot_rows.c): every user table's row count and content hash. */
struct mig_rows;
/* ref (or NULL): the rows at the start of the open transaction (txn). */
struct mig_rows *mig_rows_read(struct mig_conn *c, const struct mig_snapshot_sql *q, const struct mig_rows *ref,
                               bool txn, struct mig_dberr *e);
void mig_rows_free(struct mig_rows *r);
/* Appends to out (in a) the tables whose rows differ between ref and now,
 * but not those whose columns out already says changed. */
void mig_rows_diff(struct mig_arena *a, const struct mig_rows *ref, const struct mig_rows *now, struct mig_diffs *out);
/* SQLite: the hash of a small table's rows, rowids included ("count h1
 * h2", in a), or NULL when it has more than max rows, no rowid, or cannot
 * be read. */
char *mig_rows_hash_small(struct mig_arena *a, struct mig_conn *c, const char *table, unsigned max);

/* SQLite (snapshot_sqlite.c): a CREATE TABLE split into the table, each
 * column and each table constraint, normalized; emit is called with the key
 * and the definition of each. */
void mig_snapshot_sqlite_table(struct mig_arena *a, const char *table, const char *sql,
                               void (*emit)(void *ctx, const char *key, const char *def), void *ctx);
/* A statement's text normalized: tokens joined by one space, words and
 * plain quoted identifiers in lower case without quotes, comments dropped. */
char *mig_snapshot_sqlite_norm(struct mig_arena *a, const char *sql);
/* What a down's SQL (SQLite) may lose data by: the tables it drops
 * (DROP TABLE) and those it drops a column of (ALTER TABLE … DROP), their
 * names as written, in a — when it can lose data no other way than by
 * them and by the rows it changes (which SQLite counts): it renames
 * nothing (DROP INDEX, VIEW and TRIGGER are harmless) and runs no PRAGMA,
 * TEMP object, ATTACH, DETACH or VACUUM. False otherwise (or for a name it
 * cannot read). */
struct mig_sqlite_drops {
    MIG_VEC(const char *) tables, columns_of;
};
bool mig_snapshot_sqlite_down_drops(struct mig_arena *a, const char *sql, struct mig_sqlite_drops *out);

#endif
