/* snapshot_read.c — one reading of a database for migrun test: the
 * driver's snapshot queries, for everything or for some roots (PostgreSQL:
 * prepared once per connection), and what the DDL tracker saw touched. */
#include "snapshot_internal.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct reading *snap_reading_new(void)
{
    struct reading *r = calloc(1, sizeof(*r));
    if (r)
        r->by_root.arena = &r->a;
    return r;
}

void snap_reading_free(struct reading *r)
{
    if (!r)
        return;
    mig_arena_free(&r->a);
    free(r);
}

static struct group *group_of(struct reading *r, const char *root)
{
    struct group *g = mig_strmap_get(&r->by_root, root);
    if (!g) {
        g = MIG_NEW(&r->a, struct group);
        g->root = mig_arena_strdup(&r->a, root);
        mig_strmap_put(&r->by_root, g->root, g);
    }
    return g;
}

static void add(struct reading *r, const char *root, const char *key, const char *def, const char *show)
{
    struct group *g = group_of(r, root);
    struct ent e = { mig_arena_strdup(&r->a, key), mig_arena_strdup(&r->a, def ? def : ""),
                     show ? mig_arena_strdup(&r->a, show) : NULL };
    MIG_PUSH(&r->a, *g, e);
}

struct fill {
    struct mig_snapper *s;
    struct reading *r;
    const char *root;
    struct sq_table *t;
};

static void sq_emit(void *ctx, const char *key, const char *def)
{
    struct fill *f = ctx;
    struct ent e = { mig_arena_strdup(&f->s->keep, key), mig_arena_strdup(&f->s->keep, def), NULL };
    MIG_PUSH(&f->s->keep, *f->t, e);
}

/* SQLite: a row of sqlite_master (sql, type, name). Each object is its own
 * root ("type name"), its text normalized, a table's split into its parts;
 * all of it done once per text (its text names it) and shared by the
 * readings, which only list them in order. SQLite's own objects
 * (sqlite_…), mig's (mig_…) and those without text are left out. */
static int on_sqlite_row(struct fill *f, const char *sql, const char *type, const char *name)
{
    struct mig_snapper *s = f->s;
    if (!sql)
        return 0;
    struct sq_table *t = mig_strmap_get(&s->sq_tables, sql);
    if (!t) {
        t = MIG_NEW(&s->keep, struct sq_table);
        mig_strmap_put(&s->sq_tables, mig_arena_strdup(&s->keep, sql), t);
        if (!type || !name || strncasecmp(name, "sqlite_", 7) == 0 || strncasecmp(name, "mig_", 4) == 0)
            return 0;       /* (t->root NULL: left out) */
        char *key = mig_arena_printf(&s->step, "%s %s", type, name);
        for (char *p = key + strlen(type) + 1; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        t->root = mig_arena_strdup(&s->keep, key);
        struct fill tf = { s, f->r, t->root, t };
        if (strcmp(type, "table") == 0) {
            mig_snapshot_sqlite_table(&s->step, key + 6, sql, sq_emit, &tf);
        } else {
            sq_emit(&tf, key, mig_snapshot_sqlite_norm(&s->step, sql));
            t->v[0].show = mig_arena_strdup(&s->keep, sql);
        }
    }
    if (!t->root)
        return 0;
    MIG_PUSH(&f->r->a, f->r->seq, t);
    f->r->lazy = true;
    return 0;
}

static int on_row(void *ctx, int n, const char *const *v)
{
    struct fill *f = ctx;
    struct mig_snapper *s = f->s;
    if (s->c->drv->dialect == MIG_D_SQLITE)
        return n < 3 ? 0 : on_sqlite_row(f, v[0], v[1], v[2]);
    if (n < 4 || !v[0] || !v[2])
        return 0;
    if (v[1] && !mig_strmap_get(&s->self_root, v[1]))
        mig_strmap_put(&s->self_root, mig_arena_strdup(&s->keep, v[1]),
                       (void *)mig_arena_strdup(&s->keep, v[0]));
    add(f->r, v[0], v[2], v[3], NULL);
    return 0;
}

void snap_groups(struct reading *r)
{
    if (!r->lazy)
        return;
    r->lazy = false;
    for (size_t i = 0; i < r->seq.n; i++) {
        const struct sq_table *t = r->seq.v[i];
        struct group *g = group_of(r, t->root);
        if (!g->n) {
            g->v = t->v;    /* the cache's array, not copied */
            g->n = t->n;
            g->cap = 0;     /* (pushing to it would copy it first) */
        } else {
            for (size_t k = 0; k < t->n; k++)
                add(r, t->root, t->v[k].key, t->v[k].def, t->v[k].show);
        }
    }
}

static void oid_list(struct mig_arena *a, char **list, const char *oid)
{
    *list = *list ? mig_arena_printf(a, "%s,%s", *list, oid) : mig_arena_strdup(a, oid);
}

static const char *const token_names[] = { "@ALL@", "@REL@", "@PROC@", "@TYPE@", "@NSP@", "@EXT@" };

/* tmpl with its six tokens replaced by vals. */
static char *replace_tokens(struct mig_arena *a, const char *tmpl, const char *const vals[6])
{
    size_t cap = strlen(tmpl) + 1;
    for (int i = 0; i < 6; i++)
        for (const char *p = strstr(tmpl, token_names[i]); p; p = strstr(p + 1, token_names[i]))
            cap += strlen(vals[i]);
    char *out = mig_arena_alloc(a, cap);
    size_t k = 0;
    for (const char *p = tmpl; *p;) {
        int hit = -1;
        if (*p == '@')
            for (int i = 0; i < 6 && hit < 0; i++)
                if (strncmp(p, token_names[i], strlen(token_names[i])) == 0)
                    hit = i;
        if (hit < 0) {
            out[k++] = *p++;
            continue;
        }
        size_t n = strlen(vals[hit]);
        memcpy(out + k, vals[hit], n);
        k += n;
        p += strlen(token_names[hit]);
    }
    out[k] = 0;
    return out;
}

/* The oid[] literals of the roots of r, by kind (rel, proc, type, nsp, ext). */
static void root_lists(struct mig_arena *a, const struct reading *r, const char *out[5])
{
    char *lists[5] = { NULL, NULL, NULL, NULL, NULL };
    for (size_t i = 0; i < r->roots.n; i++) {
        const char *x = r->roots.v[i];
        const char *kinds = "rptne", *k = x[0] ? strchr(kinds, x[0]) : NULL;
        if (k && x[1])
            oid_list(a, &lists[k - kinds], x + 1);
    }
    for (int i = 0; i < 5; i++)
        out[i] = mig_arena_printf(a, "'{%s}'::oid[]", lists[i] ? lists[i] : "");
}

/* The query with its tokens replaced: everything, or the roots of r. */
static char *fill_query(struct mig_arena *a, const char *tmpl, const struct reading *r)
{
    const char *vals[6];
    vals[0] = r->whole ? "true" : "false";
    if (r->whole)
        for (int i = 1; i < 6; i++)
            vals[i] = "'{}'::oid[]";
    else
        root_lists(a, r, vals + 1);
    return replace_tokens(a, tmpl, vals);
}

/* The tracker's query: what it saw in the open transaction (txn), or
 * since it was last told to forget. */
static char *touched_query(struct mig_arena *a, const struct mig_snapshot_sql *q, bool txn)
{
    const char *at = strstr(q->touched, "@SINCE@");
    if (!at)
        return mig_arena_strdup(a, q->touched);
    return mig_arena_printf(a, "%.*s%s%s", (int)(at - q->touched), q->touched, txn && q->since_txn ? q->since_txn
                            : "true", at + 7);
}

/* PostgreSQL: the queries prepared once per connection (their plans are
 * most of their cost; the driver's setup asks for generic plans). */
void snap_prepare(struct mig_snapper *s)
{
    struct mig_arena a = { 0 };
    struct mig_dberr e;
    bool ok = true;
    static const char *const part[6] = { "false", "$1", "$2", "$3", "$4", "$5" };
    static const char *const whole[6] = { "true", "'{}'::oid[]", "'{}'::oid[]", "'{}'::oid[]", "'{}'::oid[]",
                                           "'{}'::oid[]" };
    for (int i = 0; ok && s->q->schema[i]; i++) {
        ok = s->c->drv->exec(s->c, mig_arena_printf(&a, "PREPARE mig_test_part%d (oid[], oid[], oid[], oid[], oid[]) "
                                                    "AS %s", i, replace_tokens(&a, s->q->schema[i], part)),
                             NULL, &e) == 0 &&
             s->c->drv->exec(s->c, mig_arena_printf(&a, "PREPARE mig_test_whole%d AS %s", i,
                                                    replace_tokens(&a, s->q->schema[i], whole)), NULL, &e) == 0;
    }
    /* what was touched: in the transaction, or since untouch */
    for (int x = 0; ok && s->tracked && x < 2; x++)
        ok = s->c->drv->exec(s->c, mig_arena_printf(&a, "PREPARE mig_test_touched_%c AS %s", "xa"[x],
                                                    touched_query(&a, s->q, x == 0)), NULL, &e) == 0;
    s->prepared = ok;
    mig_arena_free(&a);
}

/* Reads r (whole, or the roots listed in it). */
int snap_read_schema(struct mig_snapper *s, struct reading *r, struct mig_dberr *e)
{
    if (!r->whole && !r->roots.n)
        return 0;
    unsigned kinds = 0;     /* the kinds of roots to read */
    for (size_t i = 0; i < r->roots.n; i++) {
        const char *k = r->roots.v[i][0] ? strchr("rptne", r->roots.v[i][0]) : NULL;
        if (k)
            kinds |= 2u << (k - "rptne");
    }
    for (int i = 0; s->q->schema[i]; i++) {
        struct fill f = { s, r, NULL, NULL };
        const char *sql;
        unsigned uses = 0;
        for (int k = 1; k < 6; k++)
            if (strstr(s->q->schema[i], token_names[k]))
                uses |= 1u << k;
        if (!r->whole && !(uses & kinds))
            continue;   /* no roots of the kinds it reads */
        if (s->prepared && r->whole) {
            sql = mig_arena_printf(&r->a, "EXECUTE mig_test_whole%d", i);
        } else if (s->prepared) {
            const char *l[5];
            root_lists(&r->a, r, l);
            sql = mig_arena_printf(&r->a, "EXECUTE mig_test_part%d (%s, %s, %s, %s, %s)", i, l[0], l[1], l[2], l[3],
                                   l[4]);
        } else {
            sql = fill_query(&r->a, s->q->schema[i], r);
        }
        if (s->c->drv->select(s->c, sql, on_row, &f, e) != 0)
            return -1;
    }
    return 0;
}

char *snap_query_text(struct mig_snapper *s, const char *sql, struct mig_dberr *e, bool *failed)
{
    bool has = false;
    struct mig_value v;
    *failed = false;
    if (s->c->drv->query(s->c, sql, &has, &v, e) != 0) {
        *failed = true;
        return NULL;
    }
    char buf[64];
    const char *t = buf;
    if (!has || v.t == MIG_V_NULL)
        t = "";
    else if (v.t == MIG_V_STRING)
        t = v.s;
    else
        snprintf(buf, sizeof(buf), "%lld", (long long)v.i);
    char *out = strdup(t);
    if (v.t == MIG_V_STRING)
        free((void *)v.s);
    return out;
}

static int on_touched(void *ctx, int n, const char *const *v)
{
    struct fill *f = ctx;
    struct mig_snapper *s = f->s;
    struct reading *r = f->r;
    if (n < 1 || !v[0])
        return 0;
    if (strcmp(v[0], "*") == 0) {
        r->roots_all = true;
        return 0;
    }
    const char *root = v[0];
    if (root[0] == '?') {
        /* gone: its own root when it was one, else the root it belonged to */
        root++;
        if (!(s->ref && mig_strmap_get(&s->ref->by_root, root))) {
            root = mig_strmap_get(&s->self_root, root);
        }
        if (!root)
            return 0;
    }
    for (size_t i = 0; i < r->roots.n; i++)
        if (strcmp(r->roots.v[i], root) == 0)
            return 0;
    MIG_PUSH(&r->a, r->roots, mig_arena_strdup(&r->a, root));
    return 0;
}

/* A new reading of what was touched since the step began (or of all);
 * prefix: a statement to run first (in the same round trip). */
struct reading *snap_read_touched(struct mig_snapper *s, const char *prefix, struct mig_dberr *e)
{
    struct reading *r = snap_reading_new();
    if (!r) {
        snprintf(e->message, sizeof(e->message), "out of memory");
        return NULL;
    }
    if (s->tracked) {
        struct fill f = { s, r, NULL, NULL };
        char *q = s->prepared ? mig_arena_printf(&r->a, "EXECUTE mig_test_touched_%c", s->txn ? 'x' : 'a')
                              : touched_query(&r->a, s->q, s->txn);
        if (prefix)
            q = mig_arena_printf(&r->a, "%s; %s", prefix, q);
        if (s->c->drv->select(s->c, q, on_touched, &f, e) != 0) {
            snap_reading_free(r);
            return NULL;
        }
        r->whole = r->roots_all;
    } else {
        r->whole = true;
        if (prefix && s->c->drv->exec(s->c, prefix, NULL, e) != 0) {
            snap_reading_free(r);
            return NULL;
        }
    }
    if (snap_read_schema(s, r, e) != 0) {
        snap_reading_free(r);
        return NULL;
    }
    return r;
}

