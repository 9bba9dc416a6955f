/* strmap.h — string → pointer hash map in an arena (names of migrations,
 * files). Keys are borrowed and must outlive the map. */
#ifndef MIG_STRMAP_H
#define MIG_STRMAP_H
#include <stddef.h>
#include "arena.h"

struct mig_strmap {
    struct mig_arena *arena;    /* borrowed */
    const char **keys;
    void **vals;
    size_t n, cap;
};

void *mig_strmap_get(const struct mig_strmap *m, const char *key);
/* Sets key → val; returns the previous value (NULL when new). */
void *mig_strmap_put(struct mig_strmap *m, const char *key, void *val);
/* Removes key (its slot is free again, the key no longer referenced);
 * returns its value (NULL when absent). */
void *mig_strmap_del(struct mig_strmap *m, const char *key);

#endif
