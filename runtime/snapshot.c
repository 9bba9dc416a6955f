/* snapshot.c — readings of a database's schema and rows for migrun test
 * (see snapshot.h). A reading is a set of groups, one per root (a table
 * with its columns, indexes, constraints…), each a list of objects (key,
 * definition). The reference is a whole reading, kept up to date after
 * every step by reading again the roots the step touched. */
#include "snapshot.h"
#include "lib/strmap.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ent {
    const char *key, *def;
    const char *show;               /* what to print of it (NULL: def) */
};

struct group {
    const char *root;
    struct ent *v;
    size_t n, cap;
};

struct reading {
    struct mig_arena a;
    struct mig_strmap by_root;      /* root → struct group * (NULL: removed) */
    bool whole;
    bool roots_all;                 /* read with "*": every root */
    MIG_VEC(const char *) roots;    /* the roots read (a partial reading) */
};

struct rows {                       /* --data: table → "count h1 h2" */
    struct mig_arena a;
    struct mig_strmap by_table;
    MIG_VEC(const char *) tables;
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
    struct rows *ref_rows, *up_rows;
    char *ref_rows_version;
    bool up_rows_same;
    struct mig_arena keep;          /* long-lived: self → root, parsed SQLite tables */
    struct mig_strmap self_root, sq_tables;
    struct mig_arena step;          /* per step: differences */
    unsigned long readings, whole_readings;
};

/* ---- readings -------------------------------------------------------------------------- */

static struct reading *reading_new(void)
{
    struct reading *r = calloc(1, sizeof(*r));
    if (r)
        r->by_root.arena = &r->a;
    return r;
}

static void reading_free(struct reading *r)
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

struct sq_table {                   /* a parsed SQLite CREATE TABLE */
    struct ent *v;
    size_t n, cap;
};

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

static int on_row(void *ctx, int n, const char *const *v)
{
    struct fill *f = ctx;
    struct mig_snapper *s = f->s;
    if (n < 4 || !v[0] || !v[2])
        return 0;
    if (v[1] && !mig_strmap_get(&s->self_root, v[1]))
        mig_strmap_put(&s->self_root, mig_arena_strdup(&s->keep, v[1]),
                       (void *)mig_arena_strdup(&s->keep, v[0]));
    if (s->c->drv->dialect != MIG_D_SQLITE || !v[3]) {
        add(f->r, v[0], v[2], v[3], NULL);
        return 0;
    }
    /* SQLite: the text of each object; a table's split into its parts
     * (parsed once per text) */
    if (strncmp(v[2], "table ", 6) != 0) {
        struct mig_arena *a = &f->r->a;
        add(f->r, v[0], v[2], mig_snapshot_sqlite_norm(a, v[3]), v[3]);
        return 0;
    }
    char *k = mig_arena_printf(&s->step, "%s\x1f%s", v[2], v[3]);
    struct sq_table *t = mig_strmap_get(&s->sq_tables, k);
    if (!t) {
        t = MIG_NEW(&s->keep, struct sq_table);
        struct fill tf = { s, f->r, v[0], t };
        mig_snapshot_sqlite_table(&s->step, v[2] + 6, v[3], sq_emit, &tf);
        mig_strmap_put(&s->sq_tables, mig_arena_strdup(&s->keep, k), t);
    }
    for (size_t i = 0; i < t->n; i++)
        add(f->r, v[0], t->v[i].key, t->v[i].def, NULL);
    return 0;
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
static void prepare(struct mig_snapper *s)
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
static int read_schema(struct mig_snapper *s, struct reading *r, struct mig_dberr *e)
{
    s->readings++;
    if (r->whole)
        s->whole_readings++;
    else if (!r->roots.n)
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

static char *query_text(struct mig_snapper *s, const char *sql, struct mig_dberr *e, bool *failed)
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

/* ---- rows (--data) --------------------------------------------------------------------- */

struct hash_state {
    uint64_t count, h1, h2;
};

static uint64_t mix(uint64_t h, const char *s, uint64_t seed)
{
    h ^= seed;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    h ^= 0xff;
    h *= 0x100000001b3ULL;
    return h;
}

static uint64_t finish(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static int hash_row(void *ctx, int n, const char *const *v)
{
    struct hash_state *h = ctx;
    uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
    for (int i = 0; i < n; i++) {
        a = mix(a, v[i] ? v[i] : "\x01null", (uint64_t)i);
        b = mix(b, v[i] ? v[i] : "\x01null", (uint64_t)i * 7919 + 1);
    }
    h->count++;
    h->h1 += finish(a);
    h->h2 += finish(b);
    return 0;
}

struct rows_fill {
    struct rows *r;
    struct mig_arena *tmp;
    MIG_VEC(const char *) names;        /* as the keys write them */
    MIG_VEC(const char *) quoted;       /* to query them */
};

static int on_table(void *ctx, int n, const char *const *v)
{
    struct rows_fill *f = ctx;
    if (n >= 2 && v[0] && v[1]) {
        MIG_PUSH(f->tmp, f->names, mig_arena_strdup(f->tmp, v[0]));
        MIG_PUSH(f->tmp, f->quoted, mig_arena_strdup(f->tmp, v[1]));
    }
    return 0;
}

static int on_rows(void *ctx, int n, const char *const *v)
{
    struct rows *r = ctx;
    if (n < 4 || !v[0])
        return 0;
    char *name = mig_arena_strdup(&r->a, v[0]);
    mig_strmap_put(&r->by_table, name, mig_arena_printf(&r->a, "%s %s %s", v[1], v[2], v[3]));
    MIG_PUSH(&r->a, r->tables, name);
    return 0;
}

/* tmpl with its first two %s replaced by a and b. */
static char *fill2(struct mig_arena *m, const char *tmpl, const char *a, const char *b)
{
    const char *args[2] = { a, b };
    char *out = mig_arena_alloc(m, strlen(tmpl) + strlen(a) + strlen(b) + 1);
    size_t k = 0, used = 0;
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '%' && p[1] == 's' && used < 2) {
            size_t n = strlen(args[used]);
            memcpy(out + k, args[used++], n);
            k += n;
            p++;
        } else {
            out[k++] = *p;
        }
    }
    out[k] = 0;
    return out;
}

static void rows_free(struct rows *r)
{
    if (!r)
        return;
    mig_arena_free(&r->a);
    free(r);
}

static struct rows *read_rows(struct mig_snapper *s, struct mig_dberr *e)
{
    struct rows *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(e->message, sizeof(e->message), "out of memory");
        return NULL;
    }
    r->by_table.arena = &r->a;
    struct mig_arena tmp = { 0 };
    struct rows_fill f = { r, &tmp, { 0 }, { 0 } };
    struct mig_conn *c = s->c;
    int rc = c->drv->select(c, s->q->tables, on_table, &f, e);
    if (rc == 0 && s->q->rows && f.names.n) {
        /* one query: the hashes of every table, computed by the server */
        size_t cap = 1;
        for (size_t i = 0; i < f.names.n; i++) {
            char *lit = c->drv->quote_literal(c, f.names.v[i], strlen(f.names.v[i]));
            char *part = fill2(&tmp, s->q->rows, lit ? lit : "''", f.quoted.v[i]);
            free(lit);
            f.names.v[i] = part;
            cap += strlen(part) + 12;
        }
        char *sql = mig_arena_alloc(&tmp, cap);
        size_t k = 0;
        for (size_t i = 0; i < f.names.n; i++)
            k += (size_t)sprintf(sql + k, "%s%s", i ? " UNION ALL " : "", f.names.v[i]);
        rc = c->drv->select(c, sql, on_rows, r, e);
    } else if (rc == 0) {
        for (size_t i = 0; i < f.names.n && rc == 0; i++) {
            struct hash_state h = { 0, 0, 0 };
            rc = c->drv->select(c, mig_arena_printf(&tmp, "SELECT * FROM %s", f.quoted.v[i]), hash_row, &h, e);
            char *name = mig_arena_strdup(&r->a, f.names.v[i]);
            mig_strmap_put(&r->by_table, name, mig_arena_printf(&r->a, "%llu %016llx %016llx",
                                                                (unsigned long long)h.count,
                                                                (unsigned long long)h.h1, (unsigned long long)h.h2));
            MIG_PUSH(&r->a, r->tables, name);
        }
    }
    mig_arena_free(&tmp);
    if (rc != 0) {
        rows_free(r);
        return NULL;
    }
    return r;
}

/* "3 rows" from "count h1 h2" (with the content's hash when asked). */
static const char *rows_text(struct mig_arena *a, const char *v, bool hash)
{
    unsigned long long n = strtoull(v, NULL, 10);
    const char *h = strchr(v, ' ');
    char digest[13] = "";
    if (h) {
        unsigned long long x = 1469598103934665603ULL;
        for (const char *p = h; *p; p++)
            x = (x ^ (unsigned char)*p) * 1099511628211ULL;
        snprintf(digest, sizeof(digest), "%012llx", x & 0xffffffffffffULL);
    }
    return hash ? mig_arena_printf(a, "%llu row%s, content %s", n, n == 1 ? "" : "s", digest)
                : mig_arena_printf(a, "%llu row%s", n, n == 1 ? "" : "s");
}

/* ---- the snapshotter ------------------------------------------------------------------- */

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

static int dbg_row(void *ctx, int n, const char *const *v)
{
    (void)ctx;
    for (int i = 0; i < n; i++)
        fprintf(stderr, "%s ", v[i] ? v[i] : "NULL");
    fputc('\n', stderr);
    return 0;
}

void mig_snapper_free(struct mig_snapper *s)
{
    if (!s)
        return;
    if (getenv("MIGRUN_DEBUG_PREP")) {
        struct mig_dberr e;
        s->c->drv->select(s->c, "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements", dbg_row, NULL, &e);
    }
    reading_free(s->ref);
    reading_free(s->up);
    rows_free(s->ref_rows);
    rows_free(s->up_rows);
    free(s->ref_version);
    free(s->ref_rows_version);
    mig_arena_free(&s->keep);
    mig_arena_free(&s->step);
    free(s);
}

void mig_snapper_counts(const struct mig_snapper *s, unsigned long *readings, unsigned long *whole)
{
    *readings = s->readings;
    *whole = s->whole_readings;
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
    if (s->q->version && !(*schema = query_text(s, s->q->version, e, &failed)) && failed)
        return -1;
    if (s->data && s->q->rows_version && !(*rows = query_text(s, s->q->rows_version, e, &failed)) && failed) {
        free(*schema);
        *schema = NULL;
        return -1;
    }
    return 0;
}

int mig_snapper_reset(struct mig_snapper *s, struct mig_dberr *e)
{
    reading_free(s->ref);
    reading_free(s->up);
    s->up = NULL;
    rows_free(s->ref_rows);
    rows_free(s->up_rows);
    s->up_rows = NULL;
    free(s->ref_version);
    free(s->ref_rows_version);
    s->ref_version = s->ref_rows_version = NULL;
    s->ref = reading_new();
    if (!s->ref) {
        snprintf(e->message, sizeof(e->message), "out of memory");
        return -1;
    }
    s->ref->whole = true;
    if (s->q->prepare && !s->prepared)
        prepare(s);
    if (versions(s, &s->ref_version, &s->ref_rows_version, e) != 0 || read_schema(s, s->ref, e) != 0)
        return -1;
    if (s->data && !(s->ref_rows = read_rows(s, e)))
        return -1;
    if (s->tracked && s->c->drv->exec(s->c, s->q->untouch, NULL, e) != 0)
        return -1;
    return 0;
}

int mig_snapper_step(struct mig_snapper *s, bool txn, struct mig_dberr *e)
{
    mig_arena_free(&s->step);
    reading_free(s->up);
    s->up = NULL;
    rows_free(s->up_rows);
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
static struct reading *read_touched(struct mig_snapper *s, const char *prefix, struct mig_dberr *e)
{
    struct reading *r = reading_new();
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
            reading_free(r);
            return NULL;
        }
        r->whole = r->roots_all;
    } else {
        r->whole = true;
        if (prefix && s->c->drv->exec(s->c, prefix, NULL, e) != 0) {
            reading_free(r);
            return NULL;
        }
    }
    if (read_schema(s, r, e) != 0) {
        reading_free(r);
        return NULL;
    }
    return r;
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
    if (!s->up_same && !(s->up = read_touched(s, prefix, e)))
        return -1;
    if (s->data && !s->up_rows_same && !(s->up_rows = read_rows(s, e)))
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

static void diff_schema(struct mig_snapper *s, struct reading *now, struct mig_diffs *out)
{
    struct ents before = { 0 }, after = { 0 };
    struct mig_arena *a = &s->step;
    if (now->whole) {
        for (size_t i = 0; i < s->ref->by_root.cap; i++)
            if (s->ref->by_root.keys && s->ref->by_root.keys[i])
                collect(a, s->ref->by_root.vals[i], &before);
    } else {
        for (size_t i = 0; i < now->roots.n; i++)
            collect(a, mig_strmap_get(&s->ref->by_root, now->roots.v[i]), &before);
    }
    for (size_t i = 0; i < now->by_root.cap; i++)
        if (now->by_root.keys && now->by_root.keys[i])
            collect(a, now->by_root.vals[i], &after);
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

/* The rows of the tables whose columns are the same as before (a column
 * left behind or lost changes every row: the schema says it already). */
static void diff_rows(struct mig_snapper *s, struct rows *now, struct mig_diffs *out)
{
    struct rows *ref = s->ref_rows;
    size_t nschema = out->n;
    for (size_t i = 0; i < now->tables.n; i++) {
        const char *t = now->tables.v[i];
        const char *b = mig_strmap_get(&ref->by_table, t), *n = mig_strmap_get(&now->by_table, t);
        if (!b || !n || strcmp(b, n) == 0)
            continue;
        size_t tl = strlen(t);
        bool columns = false;
        for (size_t k = 0; k < nschema && !columns; k++)
            columns = strncmp(out->v[k].key, "column ", 7) == 0 && strncmp(out->v[k].key + 7, t, tl) == 0 &&
                      out->v[k].key[7 + tl] == '.';
        if (columns)
            continue;
        bool same_count = strtoull(b, NULL, 10) == strtoull(n, NULL, 10);
        push_diff(s, out, MIG_DIFF_CHANGED, mig_arena_printf(&s->step, "rows of %s", t),
                  rows_text(&s->step, b, same_count), rows_text(&s->step, n, same_count));
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
        struct reading *now = read_touched(s, NULL, e);
        if (!now)
            return -1;
        diff_schema(s, now, out);
        reading_free(now);
    }
    if (s->data && !rows_same) {
        struct rows *now = read_rows(s, e);
        if (!now)
            return -1;
        diff_rows(s, now, out);
        rows_free(now);
    }
    return 0;
}

/* The groups of r replace the reference's under the roots r read. */
static void merge(struct mig_snapper *s, struct reading *r)
{
    if (r->whole) {
        reading_free(s->ref);
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
    reading_free(r);
}

void mig_snapper_keep_up(struct mig_snapper *s)
{
    if (s->up) {
        merge(s, s->up);
        s->up = NULL;
    }
    if (s->up_rows) {
        rows_free(s->ref_rows);
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
    reading_free(s->up);
    s->up = NULL;
    rows_free(s->up_rows);
    s->up_rows = NULL;
    if (mig_snapper_after_up(s, NULL, e) != 0)
        return -1;
    mig_snapper_keep_up(s);
    if (s->tracked && s->c->drv->exec(s->c, s->q->untouch, NULL, e) != 0)
        return -1;
    s->clean = true;
    return 0;
}
