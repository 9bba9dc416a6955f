/* snapshot.c — readings of a database's schema and rows for migrun test
 * (see snapshot.h): the reference, what a step changed compared with it,
 * and the reference brought up to date after each step (the roots the step
 * touched read again and put in place of theirs). */
#include "snapshot_internal.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mig_snapper *mig_snapper_new(struct mig_conn *c, bool data)
{
    struct mig_snapper *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->c = c;
    s->q = c->drv->snapshot;
    s->data = data;
    s->self_root.arena = s->sq_tables.arena = &s->keep;
    return s;
}

void mig_snapper_free(struct mig_snapper *s)
{
    if (!s)
        return;
    snap_reading_free(s->ref);
    snap_reading_free(s->up);
    mig_rows_free(s->ref_rows);
    mig_rows_free(s->up_rows);
    free(s->ref_version);
    free(s->ref_rows_version);
    mig_arena_free(&s->keep);
    mig_arena_free(&s->step);
    free(s);
}

bool mig_snapper_track(struct mig_snapper *s, char *why, size_t n)
{
    s->tracked = false;
    if (!s->q->track) {
        snprintf(why, n, "%s has no DDL tracker", s->c->drv->name);
        return false;
    }
    struct mig_dberr e, e2;
    /* all of it or nothing (a role that may not create event triggers) */
    if (s->c->drv->begin(s->c, 0, 0, &e) != 0) {
        snprintf(why, n, "%s", e.message);
        return false;
    }
    for (const char *const *q = s->q->track; *q; q++) {
        if (s->c->drv->exec(s->c, *q, NULL, &e) != 0) {
            snprintf(why, n, "%s", e.message);
            s->c->drv->rollback(s->c, &e2);
            return false;
        }
    }
    if (s->c->drv->commit(s->c, &e) != 0) {
        snprintf(why, n, "%s", e.message);
        return false;
    }
    s->tracked = true;
    return true;
}

static int versions(struct mig_snapper *s, char **schema, char **rows, struct mig_dberr *e)
{
    bool failed = false;
    *schema = *rows = NULL;
    if (s->q->version && !(*schema = snap_query_text(s, s->q->version, e, &failed)) && failed)
        return -1;
    if (s->data && s->q->rows_version && !(*rows = snap_query_text(s, s->q->rows_version, e, &failed)) && failed) {
        free(*schema);
        *schema = NULL;
        return -1;
    }
    return 0;
}

int mig_snapper_reset(struct mig_snapper *s, struct mig_dberr *e)
{
    snap_reading_free(s->ref);
    snap_reading_free(s->up);
    s->up = NULL;
    mig_rows_free(s->ref_rows);
    mig_rows_free(s->up_rows);
    s->up_rows = NULL;
    free(s->ref_version);
    free(s->ref_rows_version);
    s->ref_version = s->ref_rows_version = NULL;
    s->ref = snap_reading_new();
    if (!s->ref) {
        snprintf(e->message, sizeof(e->message), "out of memory");
        return -1;
    }
    s->ref->whole = true;
    if (s->q->prepare && !s->prepared)
        snap_prepare(s);
    if (versions(s, &s->ref_version, &s->ref_rows_version, e) != 0 || snap_read_schema(s, s->ref, e) != 0)
        return -1;
    if (s->data && !(s->ref_rows = mig_rows_read(s->c, s->q, NULL, false, e)))
        return -1;
    if (s->tracked && s->c->drv->exec(s->c, s->q->untouch, NULL, e) != 0)
        return -1;
    return 0;
}

int mig_snapper_step(struct mig_snapper *s, bool txn, struct mig_dberr *e)
{
    mig_arena_free(&s->step);
    snap_reading_free(s->up);
    s->up = NULL;
    mig_rows_free(s->up_rows);
    s->up_rows = NULL;
    s->txn = txn && s->q->since_txn;
    /* in one transaction the tracker's notes of it are told apart from
     * the others' (which are forgotten now and then) */
    if (s->tracked && !s->clean && (!s->txn || ++s->steps % 256 == 0) &&
        s->c->drv->exec(s->c, s->q->untouch, NULL, e) != 0)
        return -1;
    s->clean = false;
    return 0;
}

int mig_snapper_exec_forget(struct mig_snapper *s, const char *sql, struct mig_dberr *e)
{
    if (!s->tracked || s->txn)
        return s->c->drv->exec(s->c, sql, NULL, e);
    char *both = mig_arena_printf(&s->step, "%s; %s", sql, s->q->untouch);
    if (s->c->drv->exec(s->c, both, NULL, e) != 0)
        return -1;
    s->clean = true;
    return 0;
}

int mig_snapper_after_up(struct mig_snapper *s, const char *prefix, struct mig_dberr *e)
{
    char *v = NULL, *rv = NULL;
    if (versions(s, &v, &rv, e) != 0)
        return -1;
    s->up_same = v && s->ref_version && strcmp(v, s->ref_version) == 0;
    s->up_rows_same = rv && s->ref_rows_version && strcmp(rv, s->ref_rows_version) == 0;
    free(v);
    free(rv);
    if (s->up_same && prefix && s->c->drv->exec(s->c, prefix, NULL, e) != 0)
        return -1;
    if (!s->up_same && !(s->up = snap_read_touched(s, prefix, e)))
        return -1;
    if (s->data && !s->up_rows_same && !(s->up_rows = mig_rows_read(s->c, s->q, s->ref_rows, s->txn, e)))
        return -1;
    return 0;
}

static int cmp_ent(const void *a, const void *b)
{
    return strcmp(((const struct ent *)a)->key, ((const struct ent *)b)->key);
}

static void push_diff(struct mig_snapper *s, struct mig_diffs *out, enum mig_diff_kind k, const char *key,
                      const char *before, const char *after)
{
    struct mig_diff d = { k, mig_arena_strdup(&s->step, key), before ? mig_arena_strdup(&s->step, before) : NULL,
                          after ? mig_arena_strdup(&s->step, after) : NULL };
    MIG_PUSH(&s->step, *out, d);
}

struct ents {
    struct ent *v;
    size_t n, cap;
};

static void collect(struct mig_arena *a, struct group *g, struct ents *out)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        MIG_PUSH(a, *out, g->v[i]);
}

/* The objects of the reference under the roots of r (all of them when r is whole). */
#define SHOW(e) ((e).show ? (e).show : (e).def)

/* Whether two groups hold the same objects in the same order. */
static bool same_group(const struct group *a, const struct group *b)
{
    size_t n = a ? a->n : 0;
    if (n != (b ? b->n : 0))
        return false;
    if (!n || a->v == b->v)
        return true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(a->v[i].key, b->v[i].key) != 0 || strcmp(a->v[i].def, b->v[i].def) != 0)
            return false;
    return true;
}

/* The root's objects before and now, when they are not the same. */
static void collect_root(struct mig_snapper *s, struct reading *now, const char *root, struct ents *before,
                         struct ents *after)
{
    struct group *g0 = mig_strmap_get(&s->ref->by_root, root), *g1 = mig_strmap_get(&now->by_root, root);
    if (same_group(g0, g1))
        return;
    collect(&s->step, g0, before);
    collect(&s->step, g1, after);
}

static void diff_schema(struct mig_snapper *s, struct reading *now, struct mig_diffs *out)
{
    struct ents before = { 0 }, after = { 0 };
    /* (SQLite: the same objects in the same order are the same schema) */
    if (now->lazy && s->ref->lazy && now->seq.n == s->ref->seq.n &&
        (!now->seq.n || memcmp(now->seq.v, s->ref->seq.v, now->seq.n * sizeof(*now->seq.v)) == 0))
        return;
    snap_groups(now);
    snap_groups(s->ref);
    if (now->whole) {
        /* (a root the reference holds no group for is now's alone) */
        for (size_t i = 0; i < s->ref->by_root.cap; i++)
            if (s->ref->by_root.keys && s->ref->by_root.keys[i] && s->ref->by_root.vals[i])
                collect_root(s, now, s->ref->by_root.keys[i], &before, &after);
        for (size_t i = 0; i < now->by_root.cap; i++)
            if (now->by_root.keys && now->by_root.keys[i] && !mig_strmap_get(&s->ref->by_root, now->by_root.keys[i]))
                collect(&s->step, now->by_root.vals[i], &after);
    } else {
        for (size_t i = 0; i < now->roots.n; i++)
            collect_root(s, now, now->roots.v[i], &before, &after);
    }
    if (before.n > 1)
        qsort(before.v, before.n, sizeof(*before.v), cmp_ent);
    if (after.n > 1)
        qsort(after.v, after.n, sizeof(*after.v), cmp_ent);
    size_t i = 0, k = 0;
    while (i < before.n || k < after.n) {
        int c = i == before.n ? 1 : k == after.n ? -1 : strcmp(before.v[i].key, after.v[k].key);
        if (c < 0) {
            push_diff(s, out, MIG_DIFF_LOST, before.v[i].key, SHOW(before.v[i]), NULL);
            i++;
        } else if (c > 0) {
            push_diff(s, out, MIG_DIFF_LEFT, after.v[k].key, NULL, SHOW(after.v[k]));
            k++;
        } else {
            if (strcmp(before.v[i].def, after.v[k].def) != 0)
                push_diff(s, out, MIG_DIFF_CHANGED, before.v[i].key, SHOW(before.v[i]), SHOW(after.v[k]));
            i++;
            k++;
        }
    }
}

int mig_snapper_compare(struct mig_snapper *s, struct mig_diffs *out, struct mig_dberr *e)
{
    memset(out, 0, sizeof(*out));   /* (its memory is the step's, freed by mig_snapper_step) */
    char *v = NULL, *rv = NULL;
    if (versions(s, &v, &rv, e) != 0)
        return -1;
    bool same = v && s->ref_version && strcmp(v, s->ref_version) == 0;
    bool rows_same = rv && s->ref_rows_version && strcmp(rv, s->ref_rows_version) == 0;
    free(v);
    free(rv);
    if (!same) {
        struct reading *now = snap_read_touched(s, NULL, e);
        if (!now)
            return -1;
        diff_schema(s, now, out);
        snap_reading_free(now);
    }
    if (s->data && !rows_same) {
        struct mig_rows *now = mig_rows_read(s->c, s->q, s->ref_rows, s->txn, e);
        if (!now)
            return -1;
        mig_rows_diff(&s->step, s->ref_rows, now, out);
        mig_rows_free(now);
    }
    return 0;
}

/* The groups of r replace the reference's under the roots r read. */
static void merge(struct mig_snapper *s, struct reading *r)
{
    if (r->whole) {
        snap_reading_free(s->ref);
        s->ref = r;
        return;
    }
    struct reading *ref = s->ref;
    for (size_t i = 0; i < r->roots.n; i++) {
        struct group *g = mig_strmap_get(&r->by_root, r->roots.v[i]);
        struct group *copy = NULL;
        if (g && g->n) {
            copy = MIG_NEW(&ref->a, struct group);
            copy->root = mig_arena_strdup(&ref->a, g->root);
            for (size_t k = 0; k < g->n; k++) {
                struct ent e = { mig_arena_strdup(&ref->a, g->v[k].key), mig_arena_strdup(&ref->a, g->v[k].def),
                                 g->v[k].show ? mig_arena_strdup(&ref->a, g->v[k].show) : NULL };
                MIG_PUSH(&ref->a, *copy, e);
            }
        }
        /* (an existing key keeps its first copy: the map borrows it) */
        mig_strmap_put(&ref->by_root, mig_arena_strdup(&ref->a, r->roots.v[i]), copy);
    }
    snap_reading_free(r);
}

void mig_snapper_keep_up(struct mig_snapper *s)
{
    if (s->up) {
        merge(s, s->up);
        s->up = NULL;
    }
    if (s->up_rows) {
        mig_rows_free(s->ref_rows);
        s->ref_rows = s->up_rows;
        s->up_rows = NULL;
    }
    /* the versions after the up are the reference's now */
    struct mig_dberr e;
    char *v = NULL, *rv = NULL;
    if (versions(s, &v, &rv, &e) == 0) {
        free(s->ref_version);
        free(s->ref_rows_version);
        s->ref_version = v;
        s->ref_rows_version = rv;
    }
}

int mig_snapper_sync(struct mig_snapper *s, struct mig_dberr *e)
{
    if (!s->ref)
        return 0;
    snap_reading_free(s->up);
    s->up = NULL;
    mig_rows_free(s->up_rows);
    s->up_rows = NULL;
    if (mig_snapper_after_up(s, NULL, e) != 0)
        return -1;
    mig_snapper_keep_up(s);
    if (s->tracked && s->c->drv->exec(s->c, s->q->untouch, NULL, e) != 0)
        return -1;
    s->clean = true;
    return 0;
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(const void *const *)a, y = (uintptr_t)*(const void *const *)b;
    return x < y ? -1 : x > y;
}

/* The texts of two SQLite readings (each text one cached object) as sets. */
static bool same_texts(const struct reading *a, const struct reading *b)
{
    if (a->seq.n != b->seq.n)
        return false;
    size_t n = a->seq.n;
    if (!n || memcmp(a->seq.v, b->seq.v, n * sizeof(*a->seq.v)) == 0)
        return true;
    const struct sq_table **x = malloc(2 * n * sizeof(*x));
    if (!x)
        return false;
    memcpy(x, a->seq.v, n * sizeof(*x));
    memcpy(x + n, b->seq.v, n * sizeof(*x));
    qsort(x, n, sizeof(*x), cmp_ptr);
    qsort(x + n, n, sizeof(*x), cmp_ptr);
    bool same = memcmp(x, x + n, n * sizeof(*x)) == 0;
    free(x);
    return same;
}

/* (a table a down drops a column of is compared row by row, up to this many) */
#define KEEP_MAX_ROWS 1000

bool mig_snapper_may_keep(struct mig_snapper *s, const char *down)
{
    memset(&s->keep_tables, 0, sizeof(s->keep_tables));     /* (their memory was the last step's) */
    memset(&s->keep_hashes, 0, sizeof(s->keep_hashes));
    if (s->tracked || s->c->drv->dialect != MIG_D_SQLITE || !s->ref || !s->ref->whole)
        return false;
    struct mig_sqlite_drops d;
    bool keep = mig_snapshot_sqlite_down_drops(&s->step, down, &d);
    for (size_t i = 0; keep && i < d.tables.n; i++) {
        bool has = false;
        struct mig_value v;
        struct mig_dberr e;
        if (s->c->drv->query(s->c, mig_arena_printf(&s->step, "SELECT 1 FROM %s LIMIT 1", d.tables.v[i]), &has, &v,
                             &e) != 0)
            keep = strncmp(e.message, "no such table", 13) == 0;    /* (not there: nothing to lose) */
        else
            keep = !has;
        if (has && v.t == MIG_V_STRING)
            free((void *)v.s);
    }
    for (size_t i = 0; keep && i < d.columns_of.n; i++) {
        char *h = mig_rows_hash_small(&s->step, s->c, d.columns_of.v[i], KEEP_MAX_ROWS);
        if ((keep = h != NULL)) {
            MIG_PUSH(&s->step, s->keep_tables, d.columns_of.v[i]);
            MIG_PUSH(&s->step, s->keep_hashes, h);
        }
    }
    return keep;
}

int mig_snapper_same_as_up(struct mig_snapper *s, struct mig_dberr *e)
{
    if (s->tracked || s->c->drv->dialect != MIG_D_SQLITE || !s->ref)
        return 0;
    /* (an up that changed no schema left the reference as it was) */
    const struct reading *up = s->up ? s->up : s->ref;
    if (!up->whole)
        return 0;   /* (SQLite reads whole: never) */
    struct reading *now = snap_read_touched(s, NULL, e);
    if (!now)
        return -1;
    bool same = same_texts(up, now);
    snap_reading_free(now);
    for (size_t i = 0; same && i < s->keep_tables.n; i++) {
        const char *h = mig_rows_hash_small(&s->step, s->c, s->keep_tables.v[i], KEEP_MAX_ROWS);
        same = h && strcmp(h, s->keep_hashes.v[i]) == 0;
    }
    return same ? 1 : 0;
}
