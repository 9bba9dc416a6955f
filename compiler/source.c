/* source.c — source texts and the offset → line/column mapping. */
#include "source.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct mig_source *mig_source_read(struct mig_sources *t, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            errno = ENOMEM;
            return NULL;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
        if (cap - n - 1 == 0) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        errno = EIO;
        return NULL;
    }
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
    unsigned c = 1;
    for (size_t i = s->lines[li]; i < off; i++)
        if (((unsigned char)s->text[i] & 0xC0) != 0x80)
            c++;
    *line = (unsigned)li + 1;
    *col = c;
}

void mig_source_line(struct mig_source *s, size_t off, size_t *start, size_t *len)
{
    if (off > s->len)
        off = s->len;
    size_t li = line_index(s, off);
    size_t b = s->lines[li], e = b;
    while (e < s->len && s->text[e] != '\n')
        e++;
    if (e > b && s->text[e - 1] == '\r')
        e--;
    *start = b;
    *len = e - b;
}
