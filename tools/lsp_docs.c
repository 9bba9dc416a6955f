/* lsp_docs.c — the documents the client has open, positions (UTF-16 code
 * units, or bytes when the client chose utf-8), and projects: the open
 * documents checked with the other .mig files of their folder, unsaved
 * text winning over the file on disk, exactly as `migc check` checks them
 * (the same passes, rule ids and messages, [lint] disable of mig.conf). */
#include "config.h"
#include "lsp.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("migc lsp: fatal: out of memory\n", stderr);
        abort();
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

/* ---- URIs ----------------------------------------------------------------------------- */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The path of a file: URI (percent-decoded), or NULL. */
static char *path_of_uri(const char *uri)
{
    if (strncmp(uri, "file://", 7) != 0)
        return NULL;
    const char *p = uri + 7;
    if (*p != '/') {    /* file://host/path: only localhost */
        if (strncmp(p, "localhost/", 10) != 0)
            return NULL;
        p += 9;
    }
    char *out = xrealloc(NULL, strlen(p) + 1), *o = out;
    for (; *p && *p != '?' && *p != '#'; p++) {
        int h, l;
        if (*p == '%' && (h = hexval(p[1])) >= 0 && (l = hexval(p[2])) >= 0) {
            *o++ = (char)(h * 16 + l);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
    if (memchr(out, 0, (size_t)(o - out)) || !*out) {
        free(out);
        return NULL;
    }
    return out;
}

char *lsp_uri_of_path(struct lsp_server *s, const char *path)
{
    for (struct lsp_doc *d = s->docs; d; d = d->next)
        if (d->path && strcmp(d->path, path) == 0)
            return xstrdup(d->uri);
    size_t n = strlen(path);
    char *out = xrealloc(NULL, 8 + 3 * n + 1), *o = out;
    o += sprintf(o, "file://");
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/-._~", *p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = 0;
    return out;
}

/* ---- positions ---------------------------------------------------------------------------- */

static void index_lines(struct lsp_doc *d)
{
    size_t n = 1;
    for (size_t i = 0; i < d->len; i++)
        n += d->text[i] == '\n';
    d->lines = xrealloc(d->lines, n * sizeof(*d->lines));
    d->nlines = 0;
    d->lines[d->nlines++] = 0;
    for (size_t i = 0; i < d->len; i++)
        if (d->text[i] == '\n')
            d->lines[d->nlines++] = (uint32_t)(i + 1);
}

/* Length in bytes of the UTF-8 sequence starting with byte c (1 for bytes
 * that cannot start one: the text is then counted byte by byte). */
static size_t u8len(unsigned char c)
{
    return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 1;
}

/* The end of line `line` (before its \n, and before a \r ending it). */
static size_t line_end(const char *text, size_t len, const uint32_t *lines, size_t nlines, size_t line)
{
    size_t e = line + 1 < nlines ? lines[line + 1] - 1 : len;
    if (e > lines[line] && text[e - 1] == '\r' && line + 1 < nlines)
        e--;
    return e;
}

long lsp_offset(struct lsp_server *s, const struct lsp_doc *d, json_t *pos)
{
    json_t *jl = json_object_get(pos, "line"), *jc = json_object_get(pos, "character");
    if (!json_is_integer(jl) || !json_is_integer(jc) || json_integer_value(jl) < 0 || json_integer_value(jc) < 0)
        return -1;
    json_int_t line = json_integer_value(jl), ch = json_integer_value(jc);
    if ((size_t)line >= d->nlines)
        return (long)d->len;    /* past the end: the end (as clients expect of a range's end) */
    size_t off = d->lines[line], end = line_end(d->text, d->len, d->lines, d->nlines, (size_t)line);
    json_int_t units = 0;
    while (off < end && units < ch) {
        size_t n = u8len((unsigned char)d->text[off]);
        if (off + n > end)
            n = 1;
        json_int_t w = s->utf8 ? (json_int_t)n : n == 4 ? 2 : 1;
        if (units + w > ch)
            break;      /* inside a character (a surrogate pair split): its start */
        units += w;
        off += n;
    }
    return (long)off;
}

static json_t *pos_json(struct lsp_server *s, const char *text, size_t line_start, size_t line, size_t off)
{
    size_t units = 0;
    for (size_t i = line_start; i < off;) {
        size_t n = u8len((unsigned char)text[i]);
        if (i + n > off)
            n = off - i;
        units += s->utf8 ? n : n == 4 ? 2 : 1;
        i += n;
    }
    return json_pack("{s:I, s:I}", "line", (json_int_t)line, "character", (json_int_t)units);
}

json_t *lsp_position(struct lsp_server *s, const char *text, const uint32_t *lines, size_t nlines, size_t off)
{
    size_t lo = 0, hi = nlines;     /* the last line starting at or before off */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (lines[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return pos_json(s, text, lines[lo], lo, off);
}

json_t *lsp_range(struct lsp_server *s, const struct lsp_doc *d, size_t start, size_t end)
{
    if (start > d->len)
        start = d->len;
    if (end > d->len)
        end = d->len;
    if (end < start)
        end = start;
    return json_pack("{s:o, s:o}", "start", lsp_position(s, d->text, d->lines, d->nlines, start), "end",
                     lsp_position(s, d->text, d->lines, d->nlines, end));
}

json_t *lsp_src_range(struct lsp_server *s, struct mig_source *src, size_t start, size_t end)
{
    json_t *r = json_object();
    size_t offs[2] = { start > src->len ? src->len : start, end > src->len ? src->len : end };
    for (int k = 0; k < 2; k++) {
        unsigned line = 1;
        size_t ls = 0, ll = 0;
        mig_source_linecol(src, offs[k], &line, NULL);
        mig_source_line(src, offs[k], &ls, &ll);
        json_object_set_new(r, k ? "end" : "start", pos_json(s, src->text, ls, line - 1, offs[k]));
    }
    return r;
}

/* ---- documents ------------------------------------------------------------------------------ */

struct lsp_doc *lsp_doc_find(struct lsp_server *s, const char *uri)
{
    for (struct lsp_doc *d = s->docs; d; d = d->next)
        if (strcmp(d->uri, uri) == 0)
            return d;
    return NULL;
}

static void set_text(struct lsp_doc *d, const char *text, size_t len)
{
    if (len + 1 > d->cap) {
        d->cap = len + 1 + len / 2;
        d->text = xrealloc(d->text, d->cap);
    }
    memcpy(d->text, text, len);
    d->len = len;
    d->text[len] = 0;
    index_lines(d);
}

static struct lsp_project *project_for(struct lsp_server *s, struct lsp_doc *d);
static bool inside(const char *path, const char *dir);
static void project_free(struct lsp_project *p);
static void unpublish(struct lsp_server *s, struct lsp_project *p);
static void project_release(struct lsp_server *s, struct lsp_project *p);

/* Whether a project's folders hold path. */
static bool project_holds(const struct lsp_project *p, const char *path)
{
    for (size_t i = 0; path && i < p->nroots; i++)
        if (inside(path, p->roots[i]) &&
            (!p->shallow || strchr(path + strlen(p->roots[i]) + (strcmp(p->roots[i], "/") != 0), '/') == NULL))
            return true;
    return false;
}

/* The document's project, and every other one that reads its file, must
 * be checked again. */
static void mark_dirty(struct lsp_server *s, struct lsp_doc *d)
{
    if (d->proj)
        d->proj->dirty = true;
    for (struct lsp_project *p = s->projects; p; p = p->next)
        if (project_holds(p, d->path))
            p->dirty = true;
}

struct lsp_doc *lsp_doc_open(struct lsp_server *s, const char *uri, const char *text, size_t len, int64_t version)
{
    struct lsp_doc *d = lsp_doc_find(s, uri);
    if (!d) {
        d = xrealloc(NULL, sizeof(*d));
        memset(d, 0, sizeof(*d));
        d->uri = xstrdup(uri);
        char *p = path_of_uri(uri);
        if (p) {
            /* the real path when the folder exists (the file itself may not yet) */
            char real[PATH_MAX], *slash = strrchr(p, '/');
            *slash = 0;
            if (realpath(*p ? p : "/", real) && strlen(real) + strlen(slash + 1) + 2 < sizeof(real)) {
                size_t n = strlen(real);
                snprintf(real + n, sizeof(real) - n, "%s%s", n > 1 ? "/" : "", slash + 1);
                d->path = xstrdup(real);
            } else {
                *slash = '/';
                d->path = xstrdup(p);
            }
            free(p);
        }
        d->src_id = UINT32_MAX;
        d->next = s->docs;
        s->docs = d;
    }
    d->version = version;
    set_text(d, text, len);
    struct lsp_project *old = d->proj;
    d->proj = project_for(s, d);
    if (old && old != d->proj)
        project_release(s, old);
    mark_dirty(s, d);
    return d;
}

void lsp_doc_close(struct lsp_server *s, struct lsp_doc *d)
{
    for (struct lsp_doc **pp = &s->docs; *pp; pp = &(*pp)->next)
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    /* its diagnostics go with it; the project sees the file on disk again */
    lsp_notify("textDocument/publishDiagnostics", json_pack("{s:s, s:[]}", "uri", d->uri, "diagnostics"));
    struct lsp_project *p = d->proj;
    mark_dirty(s, d);
    free(d->uri);
    free(d->path);
    free(d->text);
    free(d->lines);
    free(d);
    if (p) {
        p->dirty = true;
        project_release(s, p);
    }
}

int lsp_doc_change(struct lsp_server *s, struct lsp_doc *d, json_t *change)
{
    json_t *text = json_object_get(change, "text");
    if (!json_is_string(text))
        return -1;
    json_t *range = json_object_get(change, "range");
    const char *t = json_string_value(text);
    size_t tl = json_string_length(text);
    mark_dirty(s, d);
    if (!range) {
        set_text(d, t, tl);
        return 0;
    }
    long a = lsp_offset(s, d, json_object_get(range, "start"));
    long b = lsp_offset(s, d, json_object_get(range, "end"));
    if (a < 0 || b < 0 || b < a)
        return -1;
    size_t nl = d->len - (size_t)(b - a) + tl;
    if (nl + 1 > d->cap) {
        d->cap = nl + 1 + nl / 2;
        d->text = xrealloc(d->text, d->cap);
    }
    memmove(d->text + a + tl, d->text + b, d->len - (size_t)b);
    memcpy(d->text + a, t, tl);
    d->len = nl;
    d->text[nl] = 0;
    index_lines(d);
    return 0;
}

/* ---- projects ------------------------------------------------------------------------------- */

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether path lies in folder dir (both absolute). */
static bool inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || (n == 1 && dir[0] == '/'));
}

/* The mig.conf for a document: $MIG_CONFIG (set but empty: none), else the
 * first one in its folder or a parent. 0 with c->path NULL when none. */
static int find_conf(const char *dir, struct mig_conf *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    const char *env = getenv("MIG_CONFIG");
    if (env)
        return *env ? mig_conf_read(c, env, err, errlen) : 0;
    char *d = xstrdup(dir);
    int rc = 0;
    for (;;) {
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", strcmp(d, "/") == 0 ? "" : d, MIG_CONF_NAME);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            rc = mig_conf_read(c, path, err, errlen);
            break;
        }
        char *slash = strrchr(d, '/');
        if (!slash || strcmp(d, "/") == 0)
            break;
        if (slash == d)
            slash[1] = 0;
        else
            *slash = 0;
    }
    free(d);
    return rc;
}

/* A folder never searched recursively without a mig.conf naming it: a
 * file opened at the root or in the home folder would otherwise make every
 * .mig file below it part of its project (and the walk could take long). */
static bool too_wide(const char *dir)
{
    const char *home = getenv("HOME");
    char real[PATH_MAX];
    return strcmp(dir, "/") == 0 || (home && *home && realpath(home, real) && strcmp(real, dir) == 0);
}

/* The *.mig files of one folder, not of its subfolders. */
static void add_shallow(struct mig_program *prog, const char *dir)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return;
    MIG_VEC(const char *) names = { 0 };
    struct dirent *e;
    while ((e = readdir(dh))) {
        size_t n = strlen(e->d_name);
        char *full = e->d_name[0] == '.' || n < 5 || strcmp(e->d_name + n - 4, ".mig") != 0 ? NULL
            : mig_arena_printf(&prog->arena, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, e->d_name);
        struct stat st;
        if (full && stat(full, &st) == 0 && S_ISREG(st.st_mode))
            MIG_PUSH(&prog->arena, names, full);
    }
    closedir(dh);
    if (names.n > 1)
        qsort(names.v, names.n, sizeof(*names.v), cmp_cstr);
    for (size_t i = 0; i < names.n; i++)
        MIG_PUSH(&prog->arena, prog->input_paths, names.v[i]);
}

static struct lsp_project *project_for(struct lsp_server *s, struct lsp_doc *d)
{
    struct mig_conf conf;
    char err[600];
    const char *key = d->uri;
    char *dir = NULL;
    bool has_conf = false;
    memset(&conf, 0, sizeof(conf));
    if (d->path) {
        dir = xstrdup(d->path);
        char *slash = strrchr(dir, '/');
        if (slash == dir)
            slash[1] = 0;
        else
            *slash = 0;
        if (find_conf(dir, &conf, err, sizeof(err)) != 0) {
            lsp_log("%s (its [lint] settings are not applied)", err);
            memset(&conf, 0, sizeof(conf));
        }
        has_conf = conf.path != NULL;
        bool in_conf = false;
        for (size_t i = 0; i < conf.nmigrations && !in_conf; i++) {
            char real[PATH_MAX];
            in_conf = inside(d->path, realpath(conf.migrations[i], real) ? real : conf.migrations[i]);
        }
        key = in_conf ? conf.path : dir;
        if (!in_conf)   /* a folder inside a project's folders is part of it */
            for (struct lsp_project *p = s->projects; p; p = p->next)
                if (project_holds(p, d->path)) {
                    if (has_conf)
                        mig_conf_free(&conf);
                    free(dir);
                    return p;
                }
        if (!in_conf && has_conf) {
            /* keep [lint] of the mig.conf above, but check the folder alone */
            for (size_t i = 0; i < conf.nmigrations; i++)
                free(conf.migrations[i]);
            conf.nmigrations = 0;
        }
    }
    for (struct lsp_project *p = s->projects; p; p = p->next)
        if (strcmp(p->key, key) == 0) {
            if (has_conf)
                mig_conf_free(&conf);
            free(dir);
            return p;
        }
    struct lsp_project *p = xrealloc(NULL, sizeof(*p));
    memset(p, 0, sizeof(*p));
    p->key = xstrdup(key);
    p->conf = conf;
    p->has_conf = has_conf;
    if (d->path) {
        if (conf.nmigrations) {
            p->roots = xrealloc(NULL, conf.nmigrations * sizeof(*p->roots));
            for (size_t i = 0; i < conf.nmigrations; i++) {
                char real[PATH_MAX];
                p->roots[p->nroots++] = xstrdup(realpath(conf.migrations[i], real) ? real : conf.migrations[i]);
            }
        } else {
            p->roots = xrealloc(NULL, sizeof(*p->roots));
            p->roots[p->nroots++] = xstrdup(dir);
            p->shallow = too_wide(dir);
        }
    }
    free(dir);
    p->next = s->projects;
    s->projects = p;
    /* a project of a subfolder (opened before) becomes part of this one, so
     * that the order documents are opened in does not change the result */
    for (struct lsp_project **qq = &p->next; *qq;) {
        struct lsp_project *q = *qq;
        bool sub = !q->has_conf || q->conf.nmigrations == 0;
        for (size_t i = 0; sub && i < q->nroots; i++)
            sub = project_holds(p, q->roots[i]);
        if (!sub || q->nroots == 0 || p->nroots == 0) {
            qq = &q->next;
            continue;
        }
        for (struct lsp_doc *o = s->docs; o; o = o->next)
            if (o->proj == q) {
                o->proj = p;
                o->src_id = UINT32_MAX;
            }
        *qq = q->next;
        unpublish(s, q);
        project_free(q);
    }
    return p;
}

static void project_free(struct lsp_project *p)
{
    for (size_t i = 0; i < p->npublished; i++)
        free(p->published[i]);
    free(p->published);
    for (size_t i = 0; i < p->nroots; i++)
        free(p->roots[i]);
    free(p->roots);
    if (p->has_conf)
        mig_conf_free(&p->conf);
    mig_program_free(p->prog);
    free(p->key);
    free(p);
}

/* Frees a project no open document uses any more. */
static void project_release(struct lsp_server *s, struct lsp_project *p)
{
    for (struct lsp_doc *d = s->docs; d; d = d->next)
        if (d->proj == p)
            return;
    for (struct lsp_project **pp = &s->projects; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    unpublish(s, p);
    project_free(p);
}

void lsp_reproject(struct lsp_server *s)
{
    while (s->projects) {
        struct lsp_project *p = s->projects;
        s->projects = p->next;
        unpublish(s, p);
        project_free(p);
    }
    for (struct lsp_doc *d = s->docs; d; d = d->next) {
        d->proj = project_for(s, d);
        d->proj->dirty = true;
        d->src_id = UINT32_MAX;
    }
}

void lsp_all_dirty(struct lsp_server *s)
{
    for (struct lsp_project *p = s->projects; p; p = p->next)
        p->dirty = true;
}

bool lsp_any_dirty(struct lsp_server *s)
{
    for (struct lsp_project *p = s->projects; p; p = p->next)
        if (p->dirty)
            return true;
    return false;
}

static bool same_file(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    char ra[PATH_MAX];
    return realpath(a, ra) && strcmp(ra, b) == 0;
}

static json_t *diag_json(struct lsp_server *s, struct lsp_doc *d, const struct mig_diag *g)
{
    json_t *range = g->file == UINT32_MAX ? lsp_range(s, d, 0, 0) : lsp_range(s, d, g->start, g->end);
    return json_pack("{s:o, s:i, s:s, s:s, s:s}", "range", range, "severity", g->sev == MIG_ERROR ? 1 : 2, "code",
                     g->rule, "source", "migc", "message", g->msg);
}

/* Publishes the diagnostics of the project's files that are not open (the
 * other .mig files, imported files, sql files), as `migc check` prints
 * them all, and clears those of files that had some and have none now.
 * A file open in another project is left to that one. */
static void publish_closed(struct lsp_server *s, struct lsp_project *p)
{
    struct mig_program *prog = p->prog;
    struct mig_diags *dg = &prog->diags;
    size_t nsrc = prog->sources.v.n;
    json_t **per = calloc(nsrc ? nsrc : 1, sizeof(*per));
    if (!per)
        return;
    for (size_t i = 0; i < dg->v.n; i++) {
        const struct mig_diag *g = &dg->v.v[i];
        struct mig_source *src = g->file == UINT32_MAX ? NULL : mig_source_get(&prog->sources, g->file);
        if (!src || src->path[0] == '<')
            continue;
        bool open = false;
        for (struct lsp_doc *d = s->docs; d && !open; d = d->next)
            open = (d->proj == p && d->src_id == g->file) || (d->path && strcmp(d->path, src->path) == 0);
        if (open)
            continue;
        if (!per[g->file])
            per[g->file] = json_array();
        json_array_append_new(per[g->file], json_pack("{s:o, s:i, s:s, s:s, s:s}", "range",
                                                      lsp_src_range(s, src, g->start, g->end), "severity",
                                                      g->sev == MIG_ERROR ? 1 : 2, "code", g->rule, "source",
                                                      "migc", "message", g->msg));
    }
    char **now = NULL;
    size_t nnow = 0;
    for (size_t i = 0; i < nsrc; i++) {
        if (!per[i])
            continue;
        char *uri = lsp_uri_of_path(s, mig_source_get(&prog->sources, (uint32_t)i)->path);
        lsp_notify("textDocument/publishDiagnostics", json_pack("{s:s, s:o}", "uri", uri, "diagnostics", per[i]));
        now = xrealloc(now, (nnow + 1) * sizeof(*now));
        now[nnow++] = uri;
    }
    free(per);
    for (size_t i = 0; i < p->npublished; i++) {
        bool still = false;
        for (size_t k = 0; k < nnow && !still; k++)
            still = strcmp(now[k], p->published[i]) == 0;
        bool open = false;
        for (struct lsp_doc *d = s->docs; d && !open; d = d->next)
            open = strcmp(d->uri, p->published[i]) == 0;
        if (!still && !open)
            lsp_notify("textDocument/publishDiagnostics",
                       json_pack("{s:s, s:[]}", "uri", p->published[i], "diagnostics"));
        free(p->published[i]);
    }
    free(p->published);
    p->published = now;
    p->npublished = nnow;
}

/* Clears what a project published for files that are not open. */
static void unpublish(struct lsp_server *s, struct lsp_project *p)
{
    for (size_t i = 0; i < p->npublished; i++) {
        bool open = false;
        for (struct lsp_doc *d = s->docs; d && !open; d = d->next)
            open = strcmp(d->uri, p->published[i]) == 0;
        if (!open)
            lsp_notify("textDocument/publishDiagnostics",
                       json_pack("{s:s, s:[]}", "uri", p->published[i], "diagnostics"));
        free(p->published[i]);
    }
    free(p->published);
    p->published = NULL;
    p->npublished = 0;
}

/* Checks a project as `migc check` would check its folders, with the open
 * documents' text in place of their files. */
static void project_check(struct lsp_server *s, struct lsp_project *p)
{
    mig_program_free(p->prog);
    struct mig_program *prog = p->prog = mig_program_new();
    char err[600];
    for (size_t i = 0; i < p->nroots && p->shallow; i++)
        add_shallow(prog, p->roots[i]);
    for (size_t i = 0; i < p->nroots && !p->shallow; i++)
        if (mig_program_add_path(prog, p->roots[i], err, sizeof(err)) != 0)
            lsp_log("%s", err);
    /* open documents: their text, not the file */
    size_t k = 0;
    for (size_t i = 0; i < prog->input_paths.n; i++) {
        bool open = false;
        struct lsp_doc *d = s->docs;
        for (; d && !open; d = open ? d : d->next)
            open = d->path && same_file(prog->input_paths.v[i], d->path);
        if (!open) {
            prog->input_paths.v[k++] = prog->input_paths.v[i];
        } else if (d->proj != p) {  /* open in another project: its text here too */
            char *copy = mig_arena_strndup(&prog->arena, d->text, d->len);
            mig_program_add_text(prog, d->path, copy, d->len);
        }
    }
    prog->input_paths.n = k;
    for (struct lsp_doc *d = s->docs; d; d = d->next) {
        if (d->proj != p)
            continue;
        char *copy = mig_arena_strndup(&prog->arena, d->text, d->len);
        mig_program_add_text(prog, d->path ? d->path : d->uri, copy, d->len);
        d->src_id = prog->input_texts.v[prog->input_texts.n - 1]->id;
    }
    mig_program_check(prog);
    /* [lint] disable of mig.conf, as migc drops them */
    struct mig_diags *dg = &prog->diags;
    if (p->has_conf) {
        size_t n = 0;
        for (size_t i = 0; i < dg->v.n; i++) {
            if (dg->v.v[i].sev == MIG_WARNING && mig_conf_rule_disabled(&p->conf, dg->v.v[i].rule)) {
                dg->warnings--;
                continue;
            }
            dg->v.v[n++] = dg->v.v[i];
        }
        dg->v.n = n;
    }
    p->dirty = false;
    for (struct lsp_doc *d = s->docs; d; d = d->next) {
        if (d->proj != p)
            continue;
        json_t *arr = json_array();
        for (size_t i = 0; i < dg->v.n; i++)
            if (dg->v.v[i].file == d->src_id || dg->v.v[i].file == UINT32_MAX)
                json_array_append_new(arr, diag_json(s, d, &dg->v.v[i]));
        lsp_notify("textDocument/publishDiagnostics",
                   json_pack("{s:s, s:I, s:o}", "uri", d->uri, "version", (json_int_t)d->version, "diagnostics", arr));
    }
    publish_closed(s, p);
}

void lsp_check_dirty(struct lsp_server *s)
{
    for (struct lsp_project *p = s->projects; p; p = p->next)
        if (p->dirty)
            project_check(s, p);
}

struct mig_file *lsp_doc_file(struct lsp_server *s, struct lsp_doc *d)
{
    if (!d->proj)
        return NULL;
    if (d->proj->dirty || !d->proj->prog)
        project_check(s, d->proj);
    struct mig_program *prog = d->proj->prog;
    for (size_t i = 0; i < prog->files.n; i++)
        if (prog->files.v[i]->src && prog->files.v[i]->src->id == d->src_id)
            return prog->files.v[i];
    return NULL;
}

void lsp_server_free(struct lsp_server *s)
{
    while (s->docs) {
        struct lsp_doc *d = s->docs;
        s->docs = d->next;
        free(d->uri);
        free(d->path);
        free(d->text);
        free(d->lines);
        free(d);
    }
    while (s->projects) {
        struct lsp_project *p = s->projects;
        s->projects = p->next;
        project_free(p);
    }
    mig_program_free(s->std);
    s->std = NULL;
}
