/* source.c — source texts and the offset → line/column mapping. */
#include "source.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mig_source *mig_source_add(struct mig_sources *t, const char *path,
                                  const char *text, size_t len)
{
    struct mig_source *s = MIG_NEW(t->arena, struct mig_source);
    s->id = (uint32_t)t->v.n;
    s->path = mig_arena_strdup(t->arena, path);
    s->text = text;
    s->len = len;
    s->arena = t->arena;
    MIG_PUSH(t->arena, t->v, s);
    return s;
}

struct mig_source *mig_source_read(struct mig_sources *t, const char *path, const char **why)
{
    /* O_NONBLOCK: opening a FIFO for reading must not wait for a writer;
     * what is not a regular file is refused before anything is read */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *why = strerror(errno);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        *why = strerror(errno);
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        *why = S_ISDIR(st.st_mode) ? "it is a directory, not a file"
             : S_ISFIFO(st.st_mode) ? "it is a FIFO, not a regular file"
             : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "it is a device, not a regular file"
             : "it is not a regular file";
        close(fd);
        return NULL;
    }
    if ((uintmax_t)st.st_size > MIG_SOURCE_MAX) {
        *why = "the file is larger than 64 MiB, the limit for sources and SQL files";
        close(fd);
        return NULL;
    }
    /* read at most one byte past the limit: a file growing while it is
     * read is caught too */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) {
            close(fd);
            *why = strerror(ENOMEM);
            return NULL;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *why = strerror(errno);
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == (size_t)st.st_size)
            break;      /* the size fstat gave (less than asked for): the end, without one more read(2) */
        if (n > MIG_SOURCE_MAX) {
            *why = "the file is larger than 64 MiB, the limit for sources and SQL files";
            free(buf);
            close(fd);
            return NULL;
        }
        if (n == cap) {
            cap = cap * 2 > MIG_SOURCE_MAX + 1 ? MIG_SOURCE_MAX + 1 : cap * 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    close(fd);
    char *text = mig_arena_strndup(t->arena, buf, n);
    free(buf);
    return mig_source_add(t, path, text, n);
}

struct mig_source *mig_source_get(const struct mig_sources *t, uint32_t id)
{
    return id < t->v.n ? t->v.v[id] : NULL;
}

struct mig_source *mig_source_find(const struct mig_sources *t, const char *path)
{
    for (size_t i = 0; i < t->v.n; i++)
        if (strcmp(t->v.v[i]->path, path) == 0)
            return t->v.v[i];
    return NULL;
}

static void build_lines(struct mig_source *s)
{
    size_t n = 1;
    for (size_t i = 0; i < s->len; i++)
        if (s->text[i] == '\n')
            n++;
    s->lines = mig_arena_alloc(s->arena, n * sizeof(*s->lines));
    s->lines[0] = 0;
    size_t k = 1;
    for (size_t i = 0; i < s->len; i++)
        if (s->text[i] == '\n')
            s->lines[k++] = (uint32_t)(i + 1);
    s->nlines = n;
}

static size_t line_index(struct mig_source *s, size_t off)
{
    if (!s->lines)
        build_lines(s);
    size_t lo = 0, hi = s->nlines;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->lines[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

void mig_source_linecol(struct mig_source *s, size_t off, unsigned *line, unsigned *col)
{
    if (off > s->len)
        off = s->len;
    size_t li = line_index(s, off);
    *line = (unsigned)li + 1;
    if (!col)
        return;     /* the column costs a walk of the line: only when asked */
    /* diagnostics are printed in order: go on from the last column asked
     * on this line, so that thousands of them on one long line cost one
     * walk of it, not one each */
    size_t from = s->lines[li];
    unsigned c = 1;
    if (s->col_cached && s->col_line == li && s->col_off <= off) {
        from = s->col_off;
        c = s->col_val;
    }
    for (size_t i = from; i < off; i++)
        if (((unsigned char)s->text[i] & 0xC0) != 0x80)
            c++;
    s->col_cached = true;
    s->col_line = li;
    s->col_off = off;
    s->col_val = c;
    *col = c;
}

void mig_source_line(struct mig_source *s, size_t off, size_t *start, size_t *len)
{
    if (off > s->len)
        off = s->len;
    size_t li = line_index(s, off);
    size_t b = s->lines[li], e = li + 1 < s->nlines ? s->lines[li + 1] - 1 : s->len;
    if (e > b && s->text[e - 1] == '\r')
        e--;
    *start = b;
    *len = e - b;
}
