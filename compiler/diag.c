/* diag.c — collecting, sorting and rendering diagnostics. */
#include "diag.h"
#include <jansson.h>
#include "compiler.h"
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

/* A diagnostic on a very long line (minified SQL, generated files) shows a
 * window of the line around the caret, marked with … where it is cut, so
 * that a thousand errors on one 75 KB line print kilobytes, not gigabytes. */
enum { CARET_WINDOW = 160, CARET_LEAD = 60 };   /* in characters */

/* The byte offset n characters (code points) after from, at most end. */
static size_t skip_chars(const char *t, size_t from, size_t end, size_t n)
{
    size_t i = from;
    while (i < end && n > 0) {
        i++;
        while (i < end && ((unsigned char)t[i] & 0xC0) == 0x80)
            i++;
        n--;
    }
    return i;
}

/* The byte offset n characters before from, at least begin. */
static size_t back_chars(const char *t, size_t begin, size_t from, size_t n)
{
    size_t i = from;
    while (i > begin && n > 0) {
        i--;
        while (i > begin && ((unsigned char)t[i] & 0xC0) == 0x80)
            i--;
        n--;
    }
    return i;
}

static void print_caret(FILE *out, struct mig_source *s, const struct mig_diag *x, bool color)
{
    size_t ls, ll;
    mig_source_line(s, x->start, &ls, &ll);
    const char *t = s->text;
    size_t le = ls + ll, at = x->start < le ? x->start : le;
    size_t wb = ls, we = le;    /* the window shown, in bytes; found in O(window) */
    if (ll > CARET_WINDOW) {
        wb = back_chars(t, ls, at, CARET_LEAD);
        we = skip_chars(t, wb, le, CARET_WINDOW);
        if (we == le)   /* near the end: a whole window that ends with the line */
            wb = back_chars(t, ls, le, CARET_WINDOW);
    }
    if (wb > ls)
        fputs("\xe2\x80\xa6", out);   /* … */
    fwrite(t + wb, 1, we - wb, out);
    if (we < le)
        fputs("\xe2\x80\xa6", out);   /* … */
    fputc('\n', out);
    if (wb > ls)
        fputc(' ', out);
    for (size_t i = wb; i < at; i++) {
        unsigned char c = (unsigned char)t[i];
        if ((c & 0xC0) == 0x80)
            continue;
        fputc(c == '\t' ? '\t' : ' ', out);
    }
    if (color)
        fputs("\033[1;32m", out);
    fputc('^', out);
    size_t end = x->end < we ? x->end : we;
    for (size_t i = x->start + 1; i < end; i++)
        if (((unsigned char)t[i] & 0xC0) != 0x80)
            fputc('~', out);
    if (color)
        fputs("\033[0m", out);
    fputc('\n', out);
}

void mig_diags_print_text(struct mig_diags *d, FILE *to, bool color)
{
    /* the diagnostics of a file are composed in memory and written at once
     * (or every 64 KiB): stderr is unbuffered, and a byte per write(2) made
     * thousands of them slow */
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        out = to;
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
        bool last = i + 1 == d->v.n || d->v.v[i + 1].file != x->file;
        if (out != to && (last || ftell(out) >= 65536)) {
            fflush(out);
            fwrite(buf, 1, len, to);
            rewind(out);
        }
    }
    if (out != to) {
        fclose(out);
        free(buf);
    }
}

/* ---- machine formats (jansson does the escaping) ------------------------------ */

static void position(struct mig_diags *d, const struct mig_diag *x, const char **path, unsigned *line,
                     unsigned *col, unsigned *eline, unsigned *ecol)
{
    struct mig_source *s = x->file == UINT32_MAX ? NULL : mig_source_get(d->sources, x->file);
    *path = s ? s->path : "";
    *line = *col = *eline = *ecol = 0;
    if (s) {
        mig_source_linecol(s, x->start, line, col);
        mig_source_linecol(s, x->end, eline, ecol);
    }
}

static void dump(json_t *doc, FILE *out)
{
    char *s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (s)
        fprintf(out, "%s\n", s);
    free(s);
    json_decref(doc);
}

void mig_diags_print_json(struct mig_diags *d, FILE *out)
{
    json_t *list = json_array();
    for (size_t i = 0; i < d->v.n; i++) {
        const struct mig_diag *x = &d->v.v[i];
        const char *path;
        unsigned line, col, eline, ecol;
        position(d, x, &path, &line, &col, &eline, &ecol);
        json_array_append_new(list, json_pack("{s:s,s:i,s:i,s:i,s:i,s:s,s:s,s:s}", "file", path, "line", (int)line,
                                              "column", (int)col, "end_line", (int)eline, "end_column", (int)ecol,
                                              "severity", x->sev == MIG_ERROR ? "error" : "warning",
                                              "rule", x->rule, "message", x->msg));
    }
    dump(json_pack("{s:i,s:o,s:i,s:i}", "version", 1, "diagnostics", list, "errors", (int)d->errors,
                   "warnings", (int)d->warnings), out);
}

void mig_diags_print_sarif(struct mig_diags *d, FILE *out, const struct mig_rule *rules, const char *version)
{
    json_t *rl = json_array();
    for (const struct mig_rule *r = rules; r->id; r++)
        json_array_append_new(rl, json_pack("{s:s,s:s,s:{s:s},s:{s:s},s:{s:s},s:{s:s}}", "id", r->id, "name", r->id,
                                            "shortDescription", "text", r->summary,
                                            "fullDescription", "text", r->summary,
                                            "help", "text", "See doc/rules.md of mig for the safe alternative.",
                                            "defaultConfiguration", "level", r->severity));
    json_t *results = json_array();
    for (size_t i = 0; i < d->v.n; i++) {
        const struct mig_diag *x = &d->v.v[i];
        const char *path;
        unsigned line, col, eline, ecol;
        position(d, x, &path, &line, &col, &eline, &ecol);
        json_t *res = json_pack("{s:s,s:s,s:{s:s}}", "ruleId", x->rule, "level",
                                x->sev == MIG_ERROR ? "error" : "warning", "message", "text", x->msg);
        for (size_t k = 0; rules[k].id; k++)
            if (strcmp(rules[k].id, x->rule) == 0)
                json_object_set_new(res, "ruleIndex", json_integer((json_int_t)k));
        if (path[0])
            json_object_set_new(res, "locations", json_pack("[{s:{s:{s:s},s:{s:i,s:i,s:i,s:i}}}]",
                "physicalLocation", "artifactLocation", "uri", path, "region", "startLine", (int)line,
                "startColumn", (int)col, "endLine", (int)(eline ? eline : line),
                "endColumn", (int)(ecol > col || eline > line ? ecol : col + 1)));
        json_array_append_new(results, res);
    }
    json_t *doc = json_pack("{s:s,s:s,s:[{s:{s:{s:s,s:s,s:o}},s:o}]}",
        "$schema", "https://json.schemastore.org/sarif-2.1.0.json", "version", "2.1.0",
        "runs", "tool", "driver", "name", "migc", "version", version, "rules", rl, "results", results);
    dump(doc, out);
}
