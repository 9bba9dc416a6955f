/* strmap.c — open addressing with linear probing, FNV-1a hashes. */
#include "strmap.h"
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void *mig_strmap_get(const struct mig_strmap *m, const char *key)
{
    if (!m->cap)
        return NULL;
    for (size_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return NULL;
        if (strcmp(m->keys[i], key) == 0)
            return m->vals[i];
    }
}

static void insert(const char **keys, void **vals, size_t cap, uint64_t h, const char *key, void *val)
{
    size_t i = h & (cap - 1);
    while (keys[i])
        i = (i + 1) & (cap - 1);
    keys[i] = key;
    vals[i] = val;
}

void *mig_strmap_put(struct mig_strmap *m, const char *key, void *val)
{
    /* one hash of the key for the look-up and the insertion (a reading of
     * thousands of tracking rows puts as many keys) */
    uint64_t h = hash(key);
    if (m->cap) {
        for (size_t i = h & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1))
            if (strcmp(m->keys[i], key) == 0) {
                void *old = m->vals[i];
                m->vals[i] = val;
                return old;
            }
    }
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        const char **keys = mig_arena_alloc(m->arena, cap * sizeof(*keys));
        void **vals = mig_arena_alloc_raw(m->arena, cap * sizeof(*vals));
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i])
                insert(keys, vals, cap, hash(m->keys[i]), m->keys[i], m->vals[i]);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    insert(m->keys, m->vals, m->cap, h, key, val);
    m->n++;
    return NULL;
}

void *mig_strmap_del(struct mig_strmap *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1, i = hash(key) & mask;
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & mask;
    if (!m->keys[i])
        return NULL;
    void *old = m->vals[i];
    /* backward shift (no tombstones): a later key of the same cluster moves
     * into the hole unless its home slot lies cyclically in (hole, its slot] */
    for (size_t j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
        size_t h = hash(m->keys[j]) & mask;
        bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (!stays) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = NULL;
    m->vals[i] = NULL;
    m->n--;
    return old;
}
