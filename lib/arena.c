/* arena.c — the compilation arena: large blocks carved by bumping a pointer. */
#include "arena.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mig_arena_block {
    struct mig_arena_block *next;
    size_t used, size;
    max_align_t data[];
};

/* Blocks start at 64 kB and double up to 1 MB: a small arena (one
 * snapshot, one report) stays small, a large one (a compilation of
 * thousands of files) asks the system for memory a few times, not
 * hundreds. */
enum { BLOCK_MIN = 64 * 1024, BLOCK_MAX = 1024 * 1024 };

static size_t rounded(size_t size)
{
    return (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
}

void *mig_arena_alloc_raw(struct mig_arena *a, size_t size)
{
    size = rounded(size);
    struct mig_arena_block *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t cap = b ? (b->size < BLOCK_MAX / 2 ? b->size * 2 : BLOCK_MAX) : BLOCK_MIN;
        if (cap < size)
            cap = size;
        b = malloc(sizeof(*b) + cap);
        if (!b) {
            fputs("fatal: out of memory\n", stderr);
            abort();
        }
        b->used = 0;
        b->size = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    return p;
}

void *mig_arena_alloc(struct mig_arena *a, size_t size)
{
    void *p = mig_arena_alloc_raw(a, size);
    memset(p, 0, size);
    return p;
}

char *mig_arena_strndup(struct mig_arena *a, const char *s, size_t n)
{
    char *p = mig_arena_alloc_raw(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *mig_arena_strdup(struct mig_arena *a, const char *s)
{
    return mig_arena_strndup(a, s, strlen(s));
}

char *mig_arena_printf(struct mig_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = mig_arena_alloc_raw(a, (size_t)(n < 0 ? 0 : n) + 1);
    p[0] = 0;   /* (an encoding error writes nothing) */
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void *mig_arena_grow(struct mig_arena *a, void *old, size_t n, size_t cap, size_t sz)
{
    /* The array last allocated (a vector filled in a loop) grows in place
     * when its block has room: growing by doubling then wastes nothing. */
    struct mig_arena_block *b = a->head;
    if (old && b && n && cap > n) {
        size_t oldsz = rounded(n * sz), newsz = rounded(cap * sz);
        char *top = (char *)b->data + b->used;
        if ((char *)old + oldsz == top && (char *)old >= (char *)b->data && b->size - b->used >= newsz - oldsz) {
            memset(top, 0, newsz - oldsz);
            b->used += newsz - oldsz;
            return old;
        }
    }
    void *p = mig_arena_alloc(a, cap * sz);
    if (n)
        memcpy(p, old, n * sz);
    return p;
}

void mig_arena_free(struct mig_arena *a)
{
    struct mig_arena_block *b = a->head;
    while (b) {
        struct mig_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}
