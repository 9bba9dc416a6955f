/* arena.h — bump allocator owning every AST node and analysis table of one
 * compilation; everything is released by one mig_arena_free() call. */
#ifndef MIG_ARENA_H
#define MIG_ARENA_H
#include <stdbool.h>
#include <stddef.h>

struct mig_arena_block;
struct mig_arena {
    struct mig_arena_block *head;
    /* Set by the owner of an arena expected to grow to megabytes (a
     * compilation): after its first 64 KiB block it takes memory in 2 MiB
     * huge pages at once, not in doubling blocks of 4 KiB pages (a huge
     * page is resident whole: up to 2 MiB more of peak memory). */
    bool large;
};

/* Zeroed memory owned by the arena. Aborts the process when memory is out
 * (there is nothing sensible a compiler can do then). */
void *mig_arena_alloc(struct mig_arena *a, size_t size);
/* Like mig_arena_alloc, but the memory is not zeroed: for a caller that
 * writes all of it at once (a copy of a string, of a buffer). */
void *mig_arena_alloc_raw(struct mig_arena *a, size_t size);
/* NUL-terminated copy of s[0..n) owned by the arena. */
char *mig_arena_strndup(struct mig_arena *a, const char *s, size_t n);
char *mig_arena_strdup(struct mig_arena *a, const char *s);
/* The concatenation of the strings given, up to a NULL, into the arena:
 * what printf("%s%s…") makes, without parsing a format (the linter builds
 * a key such as "table.column" for every column it sees). */
char *mig_arena_cat(struct mig_arena *a, ...) __attribute__((sentinel));
/* printf into the arena. */
char *mig_arena_printf(struct mig_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Grow an arena-owned array of n elements of size sz (allocated with room
 * for exactly n) to room for cap: in place when it is the arena's latest
 * allocation and its block has room, else a copy (the old block stays owned
 * by the arena). */
void *mig_arena_grow(struct mig_arena *a, void *old, size_t n, size_t cap, size_t sz);
void mig_arena_free(struct mig_arena *a);

#define MIG_NEW(a, T) ((T *)mig_arena_alloc((a), sizeof(T)))

/* Append x to an arena-owned vector {T *v; size_t n, cap;}. */
#define MIG_VEC(T) struct { T *v; size_t n, cap; }
#define MIG_PUSH(a, vec, x) do { \
        if ((vec).n == (vec).cap) { \
            size_t nc_ = (vec).cap ? (vec).cap * 2 : 4; \
            (vec).v = mig_arena_grow((a), (vec).v, (vec).n, nc_, sizeof(*(vec).v)); \
            (vec).cap = nc_; \
        } \
        (vec).v[(vec).n++] = (x); \
    } while (0)

#endif
