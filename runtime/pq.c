/* pq.c — libpq loaded on first use (see pq.h). */
#include "config.h"
#define MIG_PQ_LOADER
#include "pq.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static struct mig_pq api;
static int loaded;

static _Noreturn void missing(const char *what, const char *why)
{
    fprintf(stderr, "migrun: error: a PostgreSQL target needs libpq: cannot load %s (%s); install the Debian "
            "package 'libpq5'\n", what, why ? why : "unknown reason");
    exit(3);
}

const struct mig_pq *mig_pq(void)
{
    if (loaded)
        return &api;
    void *h = dlopen(MIG_LIBPQ_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        missing(MIG_LIBPQ_SONAME, dlerror());
#define MIG_PQ_LOAD(f)                                                                                           \
    if (!(*(void **)&api.f = dlsym(h, #f)))                                                                      \
        missing(MIG_LIBPQ_SONAME "'s " #f, dlerror());
    MIG_PQ_FUNCS(MIG_PQ_LOAD)
#undef MIG_PQ_LOAD
    loaded = 1;
    return &api;
}
