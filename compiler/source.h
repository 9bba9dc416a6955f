/* source.h — the table of source texts of one compilation (.mig files, the
 * embedded standard library, files read by `sql file`). Positions elsewhere
 * are (file id, byte offset); lines and columns are computed only here. */
#ifndef MIG_SOURCE_H
#define MIG_SOURCE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/arena.h"

struct mig_source {
    uint32_t id;
    const char *path;   /* as the user named it, or "<std>" etc.; arena-owned */
    const char *text;   /* NUL-terminated; arena-owned (or static for stdlib) */
    size_t len;
    uint32_t *lines;    /* offsets of line starts, built on first use */
    size_t nlines;
    struct mig_arena *arena;   /* borrowed: where lines live */
    bool bad;           /* refused (a NUL byte, not UTF-8): already reported */
    bool col_cached;    /* the last column computed: col_val at col_off, on line col_line */
    size_t col_line, col_off;
    unsigned col_val;
};

struct mig_sources {
    struct mig_arena *arena;    /* borrowed */
    MIG_VEC(struct mig_source *) v;
};

/* Registers a text (borrowed: must outlive the table). Returns its id. */
struct mig_source *mig_source_add(struct mig_sources *t, const char *path,
                                  const char *text, size_t len);
/* The largest source or SQL file read (64 MiB): offsets are 32-bit, and
 * nothing that large is a migration. */
#define MIG_SOURCE_MAX ((size_t)64 << 20)

/* Reads a regular file of at most MIG_SOURCE_MAX bytes into the arena.
 * NULL when it cannot be read, is not a regular file (a directory, FIFO or
 * device: refused without reading, so /dev/zero or a FIFO never hangs) or
 * is too large, with *why set to a static description. */
struct mig_source *mig_source_read(struct mig_sources *t, const char *path, const char **why);
struct mig_source *mig_source_get(const struct mig_sources *t, uint32_t id);
struct mig_source *mig_source_find(const struct mig_sources *t, const char *path);

/* 1-based line and column (in UTF-8 code points) of a byte offset; col may
 * be NULL when only the line is needed (O(log lines), where the column walks
 * the line). */
void mig_source_linecol(struct mig_source *s, size_t off, unsigned *line, unsigned *col);
/* The line containing off: start offset and length without the newline. */
void mig_source_line(struct mig_source *s, size_t off, size_t *start, size_t *len);

#endif
