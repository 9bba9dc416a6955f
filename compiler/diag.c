/* diag.c — collecting, sorting and rendering diagnostics. */
#include "diag.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void mig_diag(struct mig_diags *d, enum mig_severity sev, uint32_t file,
              uint32_t start, uint32_t end, const char *rule, const char *fmt, ...)
{
    struct mig_arena *a = d->sources->arena;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *msg = mig_arena_alloc(a, (size_t)(n < 0 ? 0 : n) + 1);
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    va_end(ap);
    struct mig_diag x = { sev, file, start, end < start ? start : end, rule, msg, (uint32_t)d->v.n };
    MIG_PUSH(a, d->v, x);
    if (sev == MIG_ERROR)
        d->errors++;
    else
        d->warnings++;
}

static const struct mig_sources *sort_sources;

static int cmp_diag(const void *pa, const void *pb)
{
    const struct mig_diag *a = pa, *b = pb;
    if (a->file != b->file) {
        if (a->file == UINT32_MAX)
            return -1;
        if (b->file == UINT32_MAX)
            return 1;
        int c = strcmp(sort_sources->v.v[a->file]->path, sort_sources->v.v[b->file]->path);
        if (c)
            return c;
        return a->file < b->file ? -1 : 1;
    }
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void mig_diags_sort(struct mig_diags *d)
{
    sort_sources = d->sources;
    if (d->v.n > 1)
        qsort(d->v.v, d->v.n, sizeof(*d->v.v), cmp_diag);
    sort_sources = NULL;
}

static void print_caret(FILE *out, struct mig_source *s, const struct mig_diag *x, bool color)
{
    size_t ls, ll;
    mig_source_line(s, x->start, &ls, &ll);
    fwrite(s->text + ls, 1, ll, out);
    fputc('\n', out);
    for (size_t i = ls; i < x->start && i < ls + ll; i++) {
        unsigned char c = (unsigned char)s->text[i];
        if ((c & 0xC0) == 0x80)
            continue;
        fputc(c == '\t' ? '\t' : ' ', out);
    }
    if (color)
        fputs("\033[1;32m", out);
    fputc('^', out);
    size_t end = x->end < ls + ll ? x->end : ls + ll;
    for (size_t i = x->start + 1; i < end; i++)
        if (((unsigned char)s->text[i] & 0xC0) != 0x80)
            fputc('~', out);
    if (color)
        fputs("\033[0m", out);
    fputc('\n', out);
}

void mig_diags_print_text(struct mig_diags *d, FILE *out, bool color)
{
    for (size_t i = 0; i < d->v.n; i++) {
        const struct mig_diag *x = &d->v.v[i];
        struct mig_source *s = x->file == UINT32_MAX ? NULL : mig_source_get(d->sources, x->file);
        const char *sev = x->sev == MIG_ERROR ? "error" : "warning";
        const char *scol = x->sev == MIG_ERROR ? "\033[1;31m" : "\033[1;35m";
        if (color)
            fputs("\033[1m", out);
        if (s) {
            unsigned line, col;
            mig_source_linecol(s, x->start, &line, &col);
            fprintf(out, "%s:%u:%u: ", s->path, line, col);
        }
        if (color)
            fprintf(out, "%s%s:\033[0m\033[1m %s\033[0m [%s]\n", scol, sev, x->msg, x->rule);
        else
            fprintf(out, "%s: %s [%s]\n", sev, x->msg, x->rule);
        if (s)
            print_caret(out, s, x, color);
    }
}
