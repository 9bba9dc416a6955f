/* snapshot_rows.c — what --data compares: every user table's row count
 * and content hash (two 64-bit sums of a hash of each row, so the order of
 * the rows does not matter), computed by the server in one query where the
 * driver has one (PostgreSQL), else from the rows read (SQLite). In a
 * transaction, a table whose storage is the same (PostgreSQL's relfilenode)
 * and that the transaction changed no row of keeps the hash it had. */
#include "snapshot.h"
#include "lib/strmap.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mig_rows {                   /* table (as the schema's keys name it) → "count h1 h2" */
    struct mig_arena a;
    struct mig_strmap by_table;
    struct mig_strmap storage;      /* table → its storage (relfilenode), where the driver tells */
    MIG_VEC(const char *) tables;
};

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
    struct mig_rows *r;
    struct mig_arena *tmp;
    MIG_VEC(const char *) names;        /* as the keys write them */
    MIG_VEC(const char *) quoted;       /* to query them */
    MIG_VEC(const char *) version;      /* "storage changes", or NULL */
};

static int on_table(void *ctx, int n, const char *const *v)
{
    struct rows_fill *f = ctx;
    if (n >= 2 && v[0] && v[1]) {
        MIG_PUSH(f->tmp, f->names, mig_arena_strdup(f->tmp, v[0]));
        MIG_PUSH(f->tmp, f->quoted, mig_arena_strdup(f->tmp, v[1]));
        MIG_PUSH(f->tmp, f->version, n >= 3 && v[2] ? mig_arena_strdup(f->tmp, v[2]) : NULL);
    }
    return 0;
}

/* The hash ref has for table i when it is still right: the same storage,
 * no row changed by the open transaction. */
static const char *unchanged(const struct rows_fill *f, size_t i, const struct mig_rows *ref)
{
    const char *v = f->version.v[i];
    if (!ref || !v)
        return NULL;
    const char *sp = strchr(v, ' '), *old = mig_strmap_get(&ref->storage, f->names.v[i]);
    if (!sp || strcmp(sp + 1, "0") != 0 || !old || strncmp(old, v, (size_t)(sp - v)) != 0 || old[sp - v])
        return NULL;
    return mig_strmap_get(&ref->by_table, f->names.v[i]);
}

static int on_rows(void *ctx, int n, const char *const *v)
{
    struct mig_rows *r = ctx;
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

void mig_rows_free(struct mig_rows *r)
{
    if (!r)
        return;
    mig_arena_free(&r->a);
    free(r);
}

struct mig_rows *mig_rows_read(struct mig_conn *c, const struct mig_snapshot_sql *q, const struct mig_rows *ref,
                               bool txn, struct mig_dberr *e)
{
    struct mig_rows *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(e->message, sizeof(e->message), "out of memory");
        return NULL;
    }
    r->by_table.arena = r->storage.arena = &r->a;
    struct mig_arena tmp = { 0 };
    struct rows_fill f = { r, &tmp, { 0 }, { 0 }, { 0 } };
    int rc = c->drv->select(c, q->tables, on_table, &f, e);
    for (size_t i = 0; rc == 0 && i < f.version.n; i++) {
        const char *v = f.version.v[i];
        if (v)
            mig_strmap_put(&r->storage, mig_arena_strdup(&r->a, f.names.v[i]),
                           mig_arena_strndup(&r->a, v, strchr(v, ' ') ? (size_t)(strchr(v, ' ') - v) : strlen(v)));
    }
    if (rc == 0 && q->rows && f.names.n) {
        /* one query: the hashes of the tables, computed by the server */
        size_t cap = 1, parts = 0;
        for (size_t i = 0; i < f.names.n; i++) {
            const char *same = txn ? unchanged(&f, i, ref) : NULL;
            if (same) {
                char *name = mig_arena_strdup(&r->a, f.names.v[i]);
                mig_strmap_put(&r->by_table, name, mig_arena_strdup(&r->a, same));
                MIG_PUSH(&r->a, r->tables, name);
                f.names.v[i] = NULL;
                continue;
            }
            char *lit = c->drv->quote_literal(c, f.names.v[i], strlen(f.names.v[i]));
            char *part = fill2(&tmp, q->rows, lit ? lit : "''", f.quoted.v[i]);
            free(lit);
            f.names.v[i] = part;
            cap += strlen(part) + 12;
            parts++;
        }
        char *sql = mig_arena_alloc(&tmp, cap);
        size_t k = 0;
        for (size_t i = 0; i < f.names.n; i++)
            if (f.names.v[i])
                k += (size_t)sprintf(sql + k, "%s%s", k ? " UNION ALL " : "", f.names.v[i]);
        if (parts)
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
        mig_rows_free(r);
        return NULL;
    }
    return r;
}

char *mig_rows_hash_small(struct mig_arena *a, struct mig_conn *c, const char *table, unsigned max)
{
    struct hash_state h = { 0, 0, 0 };
    struct mig_dberr e;
    if (c->drv->select(c, mig_arena_printf(a, "SELECT rowid, * FROM %s LIMIT %u", table, max + 1), hash_row, &h,
                       &e) != 0 || h.count > max)
        return NULL;
    return mig_arena_printf(a, "%llu %016llx %016llx", (unsigned long long)h.count, (unsigned long long)h.h1,
                            (unsigned long long)h.h2);
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

/* The rows of the tables whose columns are the same as before (a column
 * left behind or lost changes every row: the schema says it already). */
void mig_rows_diff(struct mig_arena *a, const struct mig_rows *ref, const struct mig_rows *now, struct mig_diffs *out)
{
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
        struct mig_diff d = { MIG_DIFF_CHANGED, mig_arena_printf(a, "rows of %s", t), rows_text(a, b, same_count),
                              rows_text(a, n, same_count) };
        MIG_PUSH(a, *out, d);
    }
}
