/* arena.c — the compilation arena: large blocks carved by bumping a pointer. */
#include "arena.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct mig_arena_block {
    struct mig_arena_block *next;
    size_t used, size;
    size_t mapped;      /* bytes of its own mapping (a large block), 0 when malloc'd */
    max_align_t data[];
};

/* Blocks start at 64 kB and double up to 1 MB: a small arena (one
 * snapshot, one report) stays small, a large one (a compilation of
 * thousands of files) asks the system for memory a few times, not
 * hundreds. An arena marked large (a compilation: mig_program_new) takes,
 * after its first block, mappings of HUGE bytes (2 MiB) aligned on HUGE and
 * marked for transparent huge pages: `migc check` of 1,000 files fills
 * about 10 MB of arena, and one page fault per 4 KiB page cost a third of
 * its time on a VM where each fault takes ~15 µs; a huge page is one
 * fault. A mapping is zeroed by the kernel and an arena never hands the
 * same bytes out twice, so its memory needs no memset. The other arenas
 * keep 4 KiB pages: a huge page is resident whole, which the runner's
 * memory, measured against sqlite3's and psql's, cannot afford. */
enum { BLOCK_MIN = 64 * 1024, BLOCK_MAX = 1024 * 1024, HUGE = 2 * 1024 * 1024 };

static _Noreturn void out_of_memory(void)
{
    fputs("fatal: out of memory\n", stderr);
    abort();
}

/* A block of at least cap bytes of data in its own mapping of a multiple
 * of HUGE bytes, aligned on HUGE (so that each HUGE is one huge page). */
static struct mig_arena_block *map_block(size_t cap)
{
    size_t len = (sizeof(struct mig_arena_block) + cap + HUGE - 1) & ~(size_t)(HUGE - 1);
    char *raw = mmap(NULL, len + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        out_of_memory();
    char *start = (char *)(((uintptr_t)raw + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
    if (start > raw)
        munmap(raw, (size_t)(start - raw));
    if (start + len < raw + len + HUGE)
        munmap(start + len, (size_t)(raw + len + HUGE - (start + len)));
#ifdef MADV_HUGEPAGE
    madvise(start, len, MADV_HUGEPAGE);     /* a hint: without THP, ordinary pages */
#endif
    struct mig_arena_block *b = (struct mig_arena_block *)start;
    b->mapped = len;
    b->size = len - sizeof(*b);
    return b;
}

static size_t rounded(size_t size)
{
    return (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
}

void *mig_arena_alloc_raw(struct mig_arena *a, size_t size)
{
    size = rounded(size);
    struct mig_arena_block *b = a->head;
    if (!b || b->size - b->used < size) {
        if (b && a->large) {
            b = map_block(size);
        } else {
            size_t cap = b ? (b->size < BLOCK_MAX / 2 ? b->size * 2 : BLOCK_MAX) : BLOCK_MIN;
            if (cap < size)
                cap = size;
            b = malloc(sizeof(*b) + cap);
            if (!b)
                out_of_memory();
            b->size = cap;
            b->mapped = 0;
        }
        b->used = 0;
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
    if (!a->head->mapped)
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

char *mig_arena_cat(struct mig_arena *a, ...)
{
    va_list ap;
    size_t n = 0;
    va_start(ap, a);
    for (const char *s; (s = va_arg(ap, const char *));)
        n += strlen(s);
    va_end(ap);
    char *p = mig_arena_alloc_raw(a, n + 1), *q = p;
    va_start(ap, a);
    for (const char *s; (s = va_arg(ap, const char *));) {
        size_t k = strlen(s);
        memcpy(q, s, k);
        q += k;
    }
    va_end(ap);
    *q = 0;
    return p;
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
            if (!b->mapped)
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
        if (b->mapped)
            munmap(b, b->mapped);
        else
            free(b);
        b = next;
    }
    a->head = NULL;
}
