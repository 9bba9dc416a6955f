/* snapshot_internal.h — what snapshot.c and snapshot_read.c share: a
 * reading (groups of objects by root) and the snapshotter's state. */
#ifndef MIG_SNAPSHOT_INTERNAL_H
#define MIG_SNAPSHOT_INTERNAL_H
#include "lib/strmap.h"
#include "snapshot.h"

struct ent {
    const char *key, *def;
    const char *show;               /* what to print of it (NULL: def) */
};

struct group {
    const char *root;
    struct ent *v;
    size_t n, cap;
};

/* A SQLite object as the cache holds it, parsed once per text: its root
 * and its objects (a table's columns and constraints). */
struct sq_table {
    const char *root;
    struct ent *v;
    size_t n, cap;
};

struct reading {
    struct mig_arena a;
    struct mig_strmap by_root;      /* root → struct group * (NULL: removed) */
    /* SQLite: the cached objects in the order read; by_root is filled from
     * them only when a difference must be found (snap_groups) */
    MIG_VEC(const struct sq_table *) seq;
    bool lazy;
    bool whole;
    bool roots_all;                 /* read with "*": every root */
    MIG_VEC(const char *) roots;    /* the roots read (a partial reading) */
};

struct mig_snapper {
    struct mig_conn *c;
    const struct mig_snapshot_sql *q;
    bool data, tracked, prepared;
    bool clean;                     /* the tracker forgot what it saw since */
    bool txn;                       /* the step runs in one transaction: what it touched is what
                                       the tracker saw in it */
    unsigned steps;
    struct reading *ref, *up;       /* the reference; the reading after the up */
    bool up_same;                   /* the up changed no schema (same version) */
    char *ref_version;
    struct mig_rows *ref_rows, *up_rows;
    char *ref_rows_version;
    bool up_rows_same;
    struct mig_arena keep;          /* long-lived: self → root, parsed SQLite tables */
    struct mig_strmap self_root, sq_tables;
    struct mig_arena step;          /* per step: differences */
    /* SQLite, per step: the tables the down drops a column of, and their
     * rows' hashes before it (mig_snapper_may_keep) */
    MIG_VEC(const char *) keep_tables;
    MIG_VEC(const char *) keep_hashes;
};

struct reading *snap_reading_new(void);
/* Fills by_root of a reading read lazily (SQLite). */
void snap_groups(struct reading *r);
void snap_reading_free(struct reading *r);
/* Prepares the snapshot queries on the connection (PostgreSQL). */
void snap_prepare(struct mig_snapper *s);
/* Reads r: whole, or the roots listed in it. 0 or -1. */
int snap_read_schema(struct mig_snapper *s, struct reading *r, struct mig_dberr *e);
/* A new reading of what was touched since the step began (all of it when
 * there is no tracker); prefix: a statement to run first, in the same
 * round trip. NULL on failure. */
struct reading *snap_read_touched(struct mig_snapper *s, const char *prefix, struct mig_dberr *e);
/* The first value of a query as text (malloc'd; "" for none), NULL with
 * *failed on failure. */
char *snap_query_text(struct mig_snapper *s, const char *sql, struct mig_dberr *e, bool *failed);

#endif
