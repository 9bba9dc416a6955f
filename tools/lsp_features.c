/* lsp_features.c — what `migc lsp` answers about a document: formatting
 * (compiler/fmt.c, as `migc fmt`), hover on functions (the standard
 * library's documentation is the comment above each fn), params and lets,
 * go to definition of `after` names, fns, params and lets, completion of
 * keywords, builtins and functions, and quick fixes that insert a
 * `# mig: allow RULE — reason` suppression where compiler/lint.c reads it. */
#include "config.h"
#include "lsp.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "compiler/fmt.h"
#include "compiler/parse.h"

/* The reason a quick fix writes: the author replaces it with the real one. */
#define FIX_REASON "TODO: say why this is safe here"

/* ---- small strings ------------------------------------------------------------------------------ */

struct buf {
    char *p;
    size_t n, cap;
};

static void bput(struct buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void bputs(struct buf *b, const char *s)
{
    bput(b, s, strlen(s));
}

static bool ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* The dotted name around off ([start, end)), empty when there is none. */
static void word_at(const char *t, size_t len, size_t off, size_t *start, size_t *end)
{
    size_t a = off, b = off;
    while (a > 0 && (ident_char(t[a - 1]) || t[a - 1] == '.'))
        a--;
    while (b < len && (ident_char(t[b]) || t[b] == '.'))
        b++;
    while (a < b && t[a] == '.')
        a++;
    while (b > a && t[b - 1] == '.')
        b--;
    *start = a;
    *end = b;
}

/* The comment lines right above the line holding off (without "# "),
 * joined by newlines: the documentation of a declaration. NULL if none. */
static char *doc_above(const char *t, size_t off)
{
    size_t ls = off;
    while (ls > 0 && t[ls - 1] != '\n')
        ls--;
    size_t top = ls;
    while (top > 0) {
        size_t ps = top - 1;
        while (ps > 0 && t[ps - 1] != '\n')
            ps--;
        const char *l = t + ps;
        while (*l == ' ' || *l == '\t')
            l++;
        if (*l != '#' || strncmp(l, "# mig:", 6) == 0)
            break;
        top = ps;
    }
    if (top == ls)
        return NULL;
    struct buf b = { 0 };
    for (size_t p = top; p < ls;) {
        size_t e = p;
        while (e < ls && t[e] != '\n')
            e++;
        const char *l = t + p;
        while (*l == ' ' || *l == '\t')
            l++;
        l++;    /* the # */
        if (*l == ' ')
            l++;
        size_t n = (size_t)(t + e - l);
        if (n && l[n - 1] == '\r')
            n--;
        if (b.n)
            bputs(&b, "\n");
        bput(&b, l, n);
        p = e + 1;
    }
    return b.p;
}

/* "fn NAME(params) -> type" from a function's declaration, with its
 * qualified name. */
static char *fn_signature(struct mig_source *src, const struct mig_symbol *sym, const char *qname)
{
    const char *t = src->text;
    size_t p = sym->span.end;
    int depth = 0;
    size_t e = p;
    for (; e < src->len; e++) {
        if (t[e] == '(')
            depth++;
        else if (t[e] == ')')
            depth--;
        else if (t[e] == '=' && depth == 0 && (e + 1 >= src->len || t[e + 1] != '='))
            break;
        else if (t[e] == '{' || t[e] == ';')
            break;
    }
    struct buf b = { 0 };
    bputs(&b, "fn ");
    bputs(&b, qname);
    bool space = false;
    for (size_t i = p; i < e; i++) {    /* whitespace collapsed */
        if (isspace((unsigned char)t[i])) {
            space = true;
            continue;
        }
        if (space && b.p[b.n - 1] != '(')
            bputs(&b, " ");
        space = false;
        if (t[i] == ')' && b.p[b.n - 1] == ' ')
            b.n--;
        bput(&b, t + i, 1);
    }
    return b.p;
}

/* The standard library, parsed once. */
static struct mig_program *std_program(struct lsp_server *s)
{
    if (s->std)
        return s->std;
    static const char *const mods[] = { "std", "std.pg", "std.sqlite" };
    static const char *const paths[] = { "<std>", "<std.pg>", "<std.sqlite>" };
    struct mig_program *p = s->std = mig_program_new();
    for (size_t i = 0; i < 3; i++) {
        const char *text = mig_stdlib_text(mods[i]);
        struct mig_source *src = mig_source_add(&p->sources, paths[i], text, strlen(text));
        struct mig_file *f = mig_parse_source(&p->arena, &p->diags, src);
        f->is_std = true;
        MIG_PUSH(&p->arena, p->files, f);
    }
    return p;
}

/* module.name, or name (malloc'd). */
static char *qualified(const struct mig_file *f, const char *name)
{
    struct buf b = { 0 };
    if (f->module) {
        bputs(&b, f->module);
        bputs(&b, ".");
    }
    bputs(&b, name);
    return b.p;
}

/* A function named `word` as written in `from`: the project's files, then
 * the standard library. */
static struct mig_symbol *find_fn(struct lsp_server *s, struct mig_program *prog, struct mig_file *from,
                                  const char *word, struct mig_file **in)
{
    struct mig_program *progs[2] = { prog, std_program(s) };
    for (int k = 0; k < 2; k++) {
        if (!progs[k])
            continue;
        for (size_t i = 0; i < progs[k]->files.n; i++) {
            struct mig_file *f = progs[k]->files.v[i];
            if (k == 0 && f->is_std)
                continue;   /* the copy parsed once has the same text */
            for (size_t j = 0; j < f->fns.n; j++) {
                const char *name = f->fns.v[j]->name;
                bool hit = f->module ? strncmp(word, f->module, strlen(f->module)) == 0 &&
                                           word[strlen(f->module)] == '.' &&
                                           strcmp(word + strlen(f->module) + 1, name) == 0
                                     : strcmp(word, name) == 0;
                if (!hit && f == from)
                    hit = strcmp(word, name) == 0;
                if (hit) {
                    *in = f;
                    return f->fns.v[j];
                }
            }
        }
    }
    return NULL;
}

static bool contains(struct mig_span sp, uint32_t file, size_t off)
{
    return sp.file == file && off >= sp.start && off <= sp.end;
}

/* The migration of f whose text holds off. */
static struct mig_migration *migration_at(struct mig_file *f, size_t off)
{
    for (size_t i = 0; f && i < f->migrations.n; i++)
        if (contains(f->migrations.v[i]->extent, f->src->id, off))
            return f->migrations.v[i];
    return NULL;
}

/* A param or let named word visible at off: the migration's, then the file's. */
static struct mig_symbol *find_value(struct mig_file *f, size_t off, const char *word)
{
    if (!f)
        return NULL;
    struct mig_migration *m = migration_at(f, off);
    for (size_t i = 0; m && i < m->params.n; i++)
        if (strcmp(m->params.v[i]->name, word) == 0)
            return m->params.v[i];
    for (size_t i = 0; m && i < m->lets.n; i++)
        if (strcmp(m->lets.v[i]->name, word) == 0)
            return m->lets.v[i];
    for (size_t i = 0; i < f->lets.n; i++)
        if (strcmp(f->lets.v[i]->name, word) == 0)
            return f->lets.v[i];
    for (size_t i = 0; i < f->fns.n; i++) {     /* a fn's parameter, inside its body */
        struct mig_fn *fn = f->fns.v[i]->fn;
        if (!fn || !fn->body || !contains(fn->body->span, f->src->id, off))
            continue;
        for (size_t j = 0; j < fn->params.n; j++)
            if (strcmp(fn->params.v[j]->name, word) == 0)
                return fn->params.v[j];
    }
    return NULL;
}

static struct mig_migration *find_migration(struct mig_program *prog, const char *name)
{
    for (size_t i = 0; i < prog->files.n; i++)
        if (prog->files.v[i]->is_input)
            for (size_t k = 0; k < prog->files.v[i]->migrations.n; k++)
                if (strcmp(prog->files.v[i]->migrations.v[k]->name, name) == 0)
                    return prog->files.v[i]->migrations.v[k];
    return NULL;
}

/* The `after` name of f at off, or NULL. */
static const struct mig_name *after_at(struct mig_file *f, size_t off)
{
    for (size_t i = 0; f && i < f->migrations.n; i++)
        for (size_t k = 0; k < f->migrations.v[i]->after.n; k++)
            if (contains(f->migrations.v[i]->after.v[k].span, f->src->id, off))
                return &f->migrations.v[i]->after.v[k];
    return NULL;
}

static int builtin_of(const char *word)
{
    for (int b = 1; b < MIG_B__COUNT; b++)
        if (strcmp(mig_builtin_name[b], word) == 0)
            return b;
    return 0;
}

static char *builtin_signature(int b)
{
    struct buf out = { 0 };
    char tmp[64];
    bputs(&out, mig_builtin_name[b]);
    snprintf(tmp, sizeof(tmp), "(%u", mig_builtin_arity[b][0]);
    bputs(&out, tmp);
    if (mig_builtin_arity[b][1] != mig_builtin_arity[b][0]) {
        snprintf(tmp, sizeof(tmp), "–%u", mig_builtin_arity[b][1]);
        bputs(&out, tmp);
    }
    bputs(&out, mig_builtin_arity[b][1] == 1 && mig_builtin_arity[b][0] == 1 ? " argument)" : " arguments)");
    return out.p;
}

/* ---- formatting ------------------------------------------------------------------------------- */

json_t *lsp_formatting(struct lsp_server *s, struct lsp_doc *d)
{
    /* as migc fmt: text that does not parse is left alone */
    struct mig_program *p = mig_program_new();
    struct mig_source *src = mig_source_add(&p->sources, d->path ? d->path : d->uri, d->text, d->len);
    bool ok = memchr(d->text, 0, d->len) == NULL;
    if (ok)
        mig_parse_source(&p->arena, &p->diags, src);
    ok = ok && p->diags.fatal == 0;
    mig_program_free(p);
    if (!ok) {
        lsp_log("%s: not formatted: fix its syntax errors first", d->uri);
        return json_null();
    }
    char *out = NULL;
    size_t n = 0;
    if (mig_format(d->text, d->len, &out, &n) != 0) {
        lsp_log("%s: cannot format", d->uri);
        return json_null();
    }
    json_t *edits = json_array();
    if (n != d->len || memcmp(out, d->text, n) != 0)
        json_array_append_new(edits, json_pack("{s:o, s:s%}", "range", lsp_range(s, d, 0, d->len), "newText", out, n));
    free(out);
    return edits;
}

/* ---- hover ------------------------------------------------------------------------------------- */

static json_t *hover_md(struct lsp_server *s, struct lsp_doc *d, struct buf *b, size_t a, size_t e)
{
    json_t *r = json_pack("{s:{s:s, s:s}, s:o}", "contents", "kind", "markdown", "value", b->p, "range",
                          lsp_range(s, d, a, e));
    free(b->p);
    return r;
}

static void code_block(struct buf *b, const char *code)
{
    bputs(b, "```mig\n");
    bputs(b, code);
    bputs(b, "\n```");
}

static void value_hover(struct buf *b, const struct mig_symbol *v)
{
    struct mig_source *src = v->file ? v->file->src : NULL;
    char *line = NULL;
    if (src) {  /* the declaration as written, up to its ';' */
        size_t a = v->span.start;
        while (a > 0 && src->text[a - 1] != '\n' && src->text[a - 1] != ';' && src->text[a - 1] != '{' &&
               src->text[a - 1] != '(' && src->text[a - 1] != ',')
            a--;
        while (isspace((unsigned char)src->text[a]))
            a++;
        size_t e = v->span.end;
        int depth = 0;
        while (e < src->len && src->text[e] != '\n' && (depth > 0 || (src->text[e] != ';' && src->text[e] != ',' &&
                                                                      src->text[e] != ')'))) {
            depth += src->text[e] == '(' ? 1 : src->text[e] == ')' ? -1 : 0;
            e++;
        }
        line = strndup(src->text + a, e - a);
    }
    code_block(b, line ? line : v->name);
    free(line);
    const char *what = v->kind == MIG_SYM_PARAM ? "param" : v->kind == MIG_SYM_LET ? "let" : "parameter";
    bputs(b, "\n\n");
    bputs(b, what);
    bputs(b, " `");
    bputs(b, v->name);
    bputs(b, "`");
    if (v->type != MIG_T_ANY || v->has_type) {
        bputs(b, ": ");
        bputs(b, mig_type_name(v->type));
    }
    if (v->init && src) {
        bputs(b, ", default `");
        bput(b, src->text + v->init->span.start, v->init->span.end - v->init->span.start);
        bputs(b, "`");
    } else if (v->kind == MIG_SYM_PARAM) {
        bputs(b, ", required (no default: migrun --param NAME=VALUE)");
    }
    char *doc = src ? doc_above(src->text, v->span.start) : NULL;
    if (doc) {
        bputs(b, "\n\n");
        bputs(b, doc);
        free(doc);
    }
}

json_t *lsp_hover(struct lsp_server *s, struct lsp_doc *d, size_t off)
{
    struct mig_file *f = lsp_doc_file(s, d);
    struct mig_program *prog = d->proj ? d->proj->prog : NULL;
    size_t a, e;
    word_at(d->text, d->len, off, &a, &e);
    if (a == e)
        return json_null();
    char *word = strndup(d->text + a, e - a);
    struct buf b = { 0 };
    const struct mig_name *after = after_at(f, off);
    struct mig_migration *m;
    struct mig_symbol *sym;
    struct mig_file *in = NULL;
    int bi;
    if (after && prog && (m = find_migration(prog, after->text))) {
        bputs(&b, "migration `");
        bputs(&b, m->name);
        bputs(&b, "`");
        if (m->title) {
            bputs(&b, " — ");
            bputs(&b, m->title);
        }
        bputs(&b, "\n\n");
        bputs(&b, m->file->src->path);
        char *doc = doc_above(m->file->src->text, m->extent.start);
        if (doc) {
            bputs(&b, "\n\n");
            bputs(&b, doc);
            free(doc);
        }
    } else if ((sym = find_value(f, off, word))) {
        value_hover(&b, sym);
    } else if ((sym = find_fn(s, prog, f, word, &in))) {
        char *q = qualified(in, sym->name);
        char *sig = fn_signature(in->src, sym, q);
        code_block(&b, sig);
        free(sig);
        free(q);
        char *doc = doc_above(in->src->text, sym->span.start);
        if (doc) {
            bputs(&b, "\n\n");
            bputs(&b, doc);
            free(doc);
        }
        if (!in->is_std) {
            bputs(&b, "\n\n");
            bputs(&b, in->src->path);
        }
    } else if ((bi = builtin_of(word))) {
        char *sig = builtin_signature(bi);
        bputs(&b, "builtin `");
        bputs(&b, sig);
        bputs(&b, "` (LANGUAGE.md: builtins)");
        free(sig);
    }
    free(word);
    if (!b.p)
        return json_null();
    return hover_md(s, d, &b, a, e);
}

/* ---- definition ---------------------------------------------------------------------------------- */

static json_t *location(struct lsp_server *s, struct mig_source *src, struct mig_span sp)
{
    if (!src || src->path[0] == '<')
        return json_null();
    char *uri = lsp_uri_of_path(s, src->path);
    json_t *r = json_pack("{s:s, s:o}", "uri", uri, "range", lsp_src_range(s, src, sp.start, sp.end));
    free(uri);
    return r;
}

json_t *lsp_definition(struct lsp_server *s, struct lsp_doc *d, size_t off)
{
    struct mig_file *f = lsp_doc_file(s, d);
    struct mig_program *prog = d->proj ? d->proj->prog : NULL;
    if (!f || !prog)
        return json_null();
    for (size_t i = 0; i < f->imports.n; i++)     /* import "lib.mig": that file */
        if (f->imports.v[i].is_path && f->imports.v[i].file && contains(f->imports.v[i].span, f->src->id, off))
            return location(s, f->imports.v[i].file->src, (struct mig_span){ 0, 0, 0 });
    const struct mig_name *after = after_at(f, off);
    struct mig_migration *m;
    if (after)
        return (m = find_migration(prog, after->text)) ? location(s, m->file->src, m->span) : json_null();
    size_t a, e;
    word_at(d->text, d->len, off, &a, &e);
    if (a == e)
        return json_null();
    char *word = strndup(d->text + a, e - a);
    struct mig_symbol *sym;
    struct mig_file *in = NULL;
    json_t *r = json_null();
    if ((sym = find_value(f, off, word)))
        r = location(s, sym->file ? sym->file->src : f->src, sym->span);
    else if ((sym = find_fn(s, prog, f, word, &in)))
        r = location(s, in->src, sym->span);
    else if ((m = find_migration(prog, word)))
        r = location(s, m->file->src, m->span);
    free(word);
    return r;
}

/* ---- completion ---------------------------------------------------------------------------------- */

static const char *const keywords[] = {
    "import", "module", "migration", "after", "target", "param", "let", "fn", "require", "else", "phase",
    "step", "when", "up", "down", "verify", "assert", "sql", "file", "irreversible", "transaction", "timeout",
    "lock_timeout", "retry", "every", "batch", "max", "exists", "scalar", "and", "or", "not", "true", "false",
    "null", "exec", "output", "none", "optional", "restores", "within", "env", "cwd", "int", "float", "string",
    "bool", "duration", "postgres", "sqlite",
};

static void add_item(json_t *items, const char *label, int kind, const char *detail, const char *doc, json_t *range)
{
    json_t *it = json_pack("{s:s, s:i, s:{s:O, s:s}}", "label", label, "kind", kind, "textEdit", "range", range,
                           "newText", label);
    json_object_set_new(it, "filterText", json_string(label));
    if (detail)
        json_object_set_new(it, "detail", json_string(detail));
    if (doc)
        json_object_set_new(it, "documentation", json_pack("{s:s, s:s}", "kind", "markdown", "value", doc));
    json_array_append_new(items, it);
}

static void add_fns(json_t *items, struct mig_file *f, json_t *range, bool qualify)
{
    for (size_t j = 0; j < f->fns.n; j++) {
        struct mig_symbol *sym = f->fns.v[j];
        char *q = qualify ? qualified(f, sym->name) : strdup(sym->name);
        char *sig = fn_signature(f->src, sym, q);
        char *doc = doc_above(f->src->text, sym->span.start);
        add_item(items, q, 3, sig, doc, range);
        free(q);
        free(sig);
        free(doc);
    }
}

/* Whether the word starting at a follows `after` and a list of names on
 * its line. */
static bool after_context(const char *t, size_t a)
{
    size_t i = a;
    while (i > 0 && t[i - 1] != '\n' && (ident_char(t[i - 1]) || t[i - 1] == ' ' || t[i - 1] == '\t' ||
                                         t[i - 1] == ','))
        i--;
    /* t[i..a) holds "after" first, then only names, commas and blanks */
    while (i < a && (t[i] == ' ' || t[i] == '\t'))
        i++;
    return a - i >= 5 && strncmp(t + i, "after", 5) == 0 && (i + 5 == a || !ident_char(t[i + 5])) &&
           (i == 0 || !ident_char(t[i - 1]));
}

json_t *lsp_completion(struct lsp_server *s, struct lsp_doc *d, size_t off)
{
    struct mig_file *f = lsp_doc_file(s, d);
    struct mig_program *prog = d->proj ? d->proj->prog : NULL;
    size_t a = off;
    while (a > 0 && (ident_char(d->text[a - 1]) || d->text[a - 1] == '.'))
        a--;
    json_t *range = lsp_range(s, d, a, off);
    json_t *items = json_array();
    bool dotted = memchr(d->text + a, '.', off - a) != NULL;
    if (!dotted && prog && after_context(d->text, a)) {
        /* after a, b, …: the project's migrations, and nothing else */
        struct mig_migration *here = f ? migration_at(f, off) : NULL;
        for (size_t i = 0; i < prog->files.n; i++)
            for (size_t k = 0; prog->files.v[i]->is_input && k < prog->files.v[i]->migrations.n; k++) {
                struct mig_migration *m = prog->files.v[i]->migrations.v[k];
                if (m != here)
                    add_item(items, m->name, 18, "migration", m->file->src->path, range);
            }
        json_decref(range);
        return json_pack("{s:b, s:o}", "isIncomplete", 0, "items", items);
    }
    if (!dotted) {
        for (size_t i = 0; i < sizeof(keywords) / sizeof(*keywords); i++)
            add_item(items, keywords[i], 14, "keyword", NULL, range);
        for (int b = 1; b < MIG_B__COUNT; b++) {
            char *sig = builtin_signature(b);
            add_item(items, mig_builtin_name[b], 3, sig, NULL, range);
            free(sig);
        }
    }
    struct mig_program *std = std_program(s);
    for (size_t i = 0; i < std->files.n; i++)
        add_fns(items, std->files.v[i], range, true);
    for (size_t i = 0; prog && i < prog->files.n; i++) {
        struct mig_file *g = prog->files.v[i];
        if (g->is_std)
            continue;
        add_fns(items, g, range, g != f);
        if (!dotted && g->is_input)
            for (size_t k = 0; k < g->migrations.n; k++)
                add_item(items, g->migrations.v[k]->name, 18, "migration", g->migrations.v[k]->file->src->path,
                         range);
    }
    struct mig_migration *m = f ? migration_at(f, off) : NULL;
    for (size_t i = 0; m && !dotted && i < m->params.n; i++)
        add_item(items, m->params.v[i]->name, 6, "param", NULL, range);
    for (size_t i = 0; m && !dotted && i < m->lets.n; i++)
        add_item(items, m->lets.v[i]->name, 6, "let", NULL, range);
    for (size_t i = 0; f && !dotted && i < f->lets.n; i++)
        add_item(items, f->lets.v[i]->name, 6, "let", NULL, range);
    json_decref(range);
    return json_pack("{s:b, s:o}", "isIncomplete", 0, "items", items);
}

/* ---- quick fixes ----------------------------------------------------------------------------------- */

/* The rules whose diagnostics `# mig: allow` silences: those of the lint
 * pass (compiler/lint.c, lint_sql.c, lint_alter.c) and every warning.
 * Errors of the earlier passes (transaction-control, …) cannot be. */
bool lsp_rule_suppressible(const char *rule)
{
    static const char *const lint_errors[] = { "add-column-not-null", "concurrently-in-transaction" };
    if (strcmp(rule, "suppression-without-reason") == 0)
        return false;
    for (size_t i = 0; i < sizeof(lint_errors) / sizeof(*lint_errors); i++)
        if (strcmp(rule, lint_errors[i]) == 0)
            return true;
    for (const struct mig_rule *r = mig_rules; r->id; r++)
        if (strcmp(r->id, rule) == 0)
            return strcmp(r->severity, "warning") == 0;
    return false;
}

/* The innermost step, phase (written) or migration of f holding off: where
 * a suppression for a diagnostic there goes (the line before it). */
static bool item_at(struct mig_file *f, size_t off, struct mig_span *out)
{
    struct mig_migration *m = migration_at(f, off);
    if (!m)
        return false;
    *out = m->extent;
    for (size_t k = 0; k < m->phases.n; k++) {
        struct mig_phase *ph = m->phases.v[k];
        if (!ph->implicit && contains(ph->extent, f->src->id, off))
            *out = ph->extent;
        for (size_t j = 0; j < ph->steps.n; j++)
            if (contains(ph->steps.v[j]->extent, f->src->id, off))
                *out = ph->steps.v[j]->extent;
    }
    return true;
}

/* The edit adding rule to the suppression of the item starting at `at`:
 * a new comment line above it, or the rule added to the one there. NULL
 * when the rule is listed already. */
static json_t *suppress_edit(struct lsp_server *s, struct lsp_doc *d, size_t at, const char *rule)
{
    const char *t = d->text;
    size_t ls = at;
    while (ls > 0 && t[ls - 1] != '\n')
        ls--;
    size_t ind = ls;
    while (ind < d->len && (t[ind] == ' ' || t[ind] == '\t'))
        ind++;
    /* the file's line ending, as the item's own line has it */
    const char *eol = memchr(t + ls, '\n', d->len - ls);
    const char *nl = (eol && eol > t + ls && eol[-1] == '\r') || (!eol && ls >= 2 && t[ls - 2] == '\r')
        ? "\r\n" : "\n";
    struct buf b = { 0 };
    if (ls > 0) {   /* an allow comment on the line above? */
        size_t ps = ls - 1;
        while (ps > 0 && t[ps - 1] != '\n')
            ps--;
        size_t pe = ls - 1;
        if (pe > ps && t[pe - 1] == '\r')
            pe--;
        size_t l = ps;
        while (l < pe && (t[l] == ' ' || t[l] == '\t'))
            l++;
        static const char tag[] = "# mig: allow";
        if (pe - l >= sizeof(tag) - 1 && strncmp(t + l, tag, sizeof(tag) - 1) == 0) {
            size_t cur = l + sizeof(tag) - 1, last = cur;
            for (;;) {
                while (cur < pe && (t[cur] == ' ' || t[cur] == ','))
                    cur++;
                size_t id = cur;
                while (cur < pe && (isalnum((unsigned char)t[cur]) || t[cur] == '-'))
                    cur++;
                if (cur == id)
                    break;
                if (cur - id == strlen(rule) && strncmp(t + id, rule, cur - id) == 0)
                    return NULL;
                last = cur;
                size_t sp = cur;
                while (sp < pe && t[sp] == ' ')
                    sp++;
                if (sp < pe && t[sp] != ',')
                    break;
            }
            /* the line again: its ids, this rule, its reason (or one) */
            bput(&b, t + ps, last - ps);
            bputs(&b, last > l + sizeof(tag) - 1 ? ", " : " ");
            bputs(&b, rule);
            size_t r = last;
            while (r < pe && (t[r] == ' ' || t[r] == '-' || t[r] == ':' || (unsigned char)t[r] >= 0x80))
                r++;
            if (r < pe && r > last)
                bput(&b, t + last, pe - last);
            else
                bputs(&b, " — " FIX_REASON);
            json_t *e = json_pack("{s:o, s:s}", "range", lsp_range(s, d, ps, pe), "newText", b.p);
            free(b.p);
            return e;
        }
    }
    bput(&b, t + ls, ind - ls);
    bputs(&b, "# mig: allow ");
    bputs(&b, rule);
    bputs(&b, " — " FIX_REASON);
    bputs(&b, nl);
    json_t *e = json_pack("{s:o, s:s}", "range", lsp_range(s, d, ls, ls), "newText", b.p);
    free(b.p);
    return e;
}

json_t *lsp_code_actions(struct lsp_server *s, struct lsp_doc *d, size_t start, size_t end)
{
    struct mig_file *f = lsp_doc_file(s, d);
    json_t *actions = json_array();
    if (!f)
        return actions;
    struct mig_diags *dg = &d->proj->prog->diags;
    for (size_t i = 0; i < dg->v.n; i++) {
        const struct mig_diag *g = &dg->v.v[i];
        if (g->file != d->src_id || g->end < start || g->start > end || !lsp_rule_suppressible(g->rule))
            continue;
        struct mig_span item;
        if (!item_at(f, g->start, &item))
            continue;
        json_t *edit = suppress_edit(s, d, item.start, g->rule);
        if (!edit)
            continue;
        char title[200];
        snprintf(title, sizeof(title), "Suppress %s here (# mig: allow %s — reason)", g->rule, g->rule);
        json_t *diag = json_pack("{s:o, s:i, s:s, s:s, s:s}", "range", lsp_range(s, d, g->start, g->end),
                                 "severity", g->sev == MIG_ERROR ? 1 : 2, "code", g->rule, "source", "migc",
                                 "message", g->msg);
        json_t *changes = json_object();
        json_object_set_new(changes, d->uri, json_pack("[o]", edit));
        json_array_append_new(actions, json_pack("{s:s, s:s, s:[o], s:{s:o}}", "title", title, "kind", "quickfix",
                                                 "diagnostics", diag, "edit", "changes", changes));
    }
    return actions;
}
