/* compile.c — the compilation driver: collecting input files, parsing them
 * and their imports (the standard library comes from the embedded texts),
 * and running the checking passes in order. */
#include "compiler.h"
#include "parse.h"
#include "lib/strmap.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

extern const char mig_stdlib_std[], mig_stdlib_pg[], mig_stdlib_sqlite[];

static const struct { const char *module, *path; const char *text; } stdlib_modules[] = {
    { "std", "<std>", mig_stdlib_std },
    { "std.pg", "<std.pg>", mig_stdlib_pg },
    { "std.sqlite", "<std.sqlite>", mig_stdlib_sqlite },
};
enum { N_STDLIB = sizeof(stdlib_modules) / sizeof(stdlib_modules[0]) };

const char *mig_stdlib_text(const char *module)
{
    for (size_t i = 0; i < N_STDLIB; i++)
        if (strcmp(stdlib_modules[i].module, module) == 0)
            return stdlib_modules[i].text;
    return NULL;
}

struct mig_program *mig_program_new(void)
{
    struct mig_program *p = calloc(1, sizeof(*p));
    if (!p) {
        fputs("fatal: out of memory\n", stderr);
        abort();
    }
    p->arena.large = true;
    p->sources.arena = &p->arena;
    p->walked_dirs.arena = &p->arena;
    p->real_paths.arena = &p->arena;
    p->diags.sources = &p->sources;
    return p;
}

void mig_program_free(struct mig_program *p)
{
    if (!p)
        return;
    mig_arena_free(&p->arena);
    free(p);
}

static int ends_with_mig(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".mig") == 0;
}

/* Names after their type byte (add_dir), in the order of the names. */
static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a + 1, *(const char *const *)b + 1);
}

static char *join_path(struct mig_arena *a, const char *dir, const char *name)
{
    size_t n = strlen(dir);
    return mig_arena_cat(a, dir, n && dir[n - 1] == '/' ? "" : "/", name, (char *)NULL);
}

/* Whether the directory st was walked already in this program: a symlink
 * to a parent (a cycle) or two links to one folder must not make the walk
 * endless or exponential, so each directory (device, inode) is walked once. */
static bool walked_before(struct mig_program *p, const struct stat *st)
{
    char key[64];
    snprintf(key, sizeof(key), "%ju:%ju", (uintmax_t)st->st_dev, (uintmax_t)st->st_ino);
    if (mig_strmap_get(&p->walked_dirs, key))
        return true;
    mig_strmap_put(&p->walked_dirs, mig_arena_strdup(&p->arena, key), (void *)1);
    return false;
}

static int add_dir(struct mig_program *p, const char *dir, const struct stat *dst, char *err, size_t errlen)
{
    if (walked_before(p, dst))
        return 0;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot read directory '%s': %s", dir, strerror(errno));
        return -1;
    }
    /* each name after one byte of its type from readdir (DT_REG: a regular
     * file, not a link, so it needs no stat and its real path is the
     * folder's real path and its name) */
    MIG_VEC(const char *) names = { 0 };
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;       /* ., .., and hidden entries such as .git */
        char type[2] = { e->d_type == DT_REG ? 'f' : '?', 0 };
        MIG_PUSH(&p->arena, names, mig_arena_cat(&p->arena, type, e->d_name, (char *)NULL));
    }
    closedir(d);
    if (names.n > 1)
        qsort(names.v, names.n, sizeof(*names.v), cmp_name);
    char rbuf[PATH_MAX];
    const char *real_dir = realpath(dir, rbuf) ? mig_arena_strdup(&p->arena, rbuf) : NULL;
    for (size_t i = 0; i < names.n; i++) {
        const char *name = names.v[i] + 1;
        if (names.v[i][0] == 'f') {
            if (ends_with_mig(name)) {
                const char *full = join_path(&p->arena, dir, name);
                MIG_PUSH(&p->arena, p->input_paths, full);
                if (real_dir)
                    mig_strmap_put(&p->real_paths, full, join_path(&p->arena, real_dir, name));
            }
            continue;
        }
        const char *full = join_path(&p->arena, dir, name);
        struct stat st;
        if (stat(full, &st) != 0)
            continue;       /* a dangling link inside a tree is not an input */
        if (S_ISDIR(st.st_mode)) {
            if (add_dir(p, full, &st, err, errlen) != 0)
                return -1;
        } else if (S_ISREG(st.st_mode) && ends_with_mig(name)) {
            MIG_PUSH(&p->arena, p->input_paths, full);
        }
    }
    return 0;
}

int mig_program_add_path(struct mig_program *p, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode))
        return add_dir(p, path, &st, err, errlen);
    MIG_PUSH(&p->arena, p->input_paths, mig_arena_strdup(&p->arena, path));
    return 0;
}

/* Files are identified by their real path, so that a file named twice, or
 * imported and also given as input, is parsed once. Set during
 * mig_program_check. */
static struct mig_strmap *file_keys;

static struct mig_file *find_file(const char *real)
{
    return mig_strmap_get(file_keys, real);
}

/* Offset of the first byte that is not part of valid UTF-8, or len. Valid
 * means RFC 3629: shortest forms only (no overlong 2-, 3- or 4-byte
 * encodings), no UTF-16 surrogates (U+D800–U+DFFF), nothing above U+10FFFF. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xBF;  /* the range of the second byte */
        if (c < 0x80) {
            /* ASCII, most of any source: eight bytes at a time */
            for (i++; i + 8 <= len; i += 8) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                if (w & 0x8080808080808080u)
                    break;
            }
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0)
                lo = 0xA0;      /* below: overlong */
            else if (c == 0xED)
                hi = 0x9F;      /* above: surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0)
                lo = 0x90;      /* below: overlong */
            else if (c == 0xF4)
                hi = 0x8F;      /* above: beyond U+10FFFF */
        } else {
            return i;           /* 0x80–0xC1 (continuation, overlong 2-byte), 0xF5–0xFF */
        }
        if (i + n >= len || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += n + 1;
    }
    return len;
}

/* A text that cannot be a .mig file or a SQL file: a NUL byte (C strings,
 * libpq and SQLite would silently stop there) or, when utf8 is set, bytes
 * that are not UTF-8. One error at the first bad byte; returns whether the
 * text is acceptable. */
bool mig_source_check_text(struct mig_program *p, struct mig_source *src, bool utf8, const char *rule)
{
    const char *nul = memchr(src->text, 0, src->len);
    size_t bad = utf8 ? utf8_invalid_at((const unsigned char *)src->text, nul ? (size_t)(nul - src->text) : src->len)
                      : src->len;
    if (nul && bad >= (size_t)(nul - src->text)) {
        size_t at = (size_t)(nul - src->text);
        mig_diag(&p->diags, MIG_ERROR, src->id, (uint32_t)at, (uint32_t)at + 1, rule,
                 "the file contains a NUL byte (offset %zu): a text file cannot hold one, "
                 "and everything after it would be lost", at);
        return false;
    }
    if (bad < src->len) {
        mig_diag(&p->diags, MIG_ERROR, src->id, (uint32_t)bad, (uint32_t)bad + 1, rule,
                 "the file is not UTF-8 text (byte 0x%02x at offset %zu)",
                 (unsigned char)src->text[bad], bad);
        return false;
    }
    return true;
}

static struct mig_file *parse_text(struct mig_program *p, struct mig_source *src)
{
    if (!mig_source_check_text(p, src, true, "syntax")) {
        /* not a .mig text at all: one error, not hundreds */
        p->diags.fatal++;
        struct mig_file *f = MIG_NEW(&p->arena, struct mig_file);
        f->src = src;
        MIG_PUSH(&p->arena, p->files, f);
        return f;
    }
    struct mig_file *f = mig_parse_source(&p->arena, &p->diags, src);
    MIG_PUSH(&p->arena, p->files, f);
    return f;
}

static struct mig_file *load_file(struct mig_program *p, const char *path, const char **why)
{
    char rbuf[PATH_MAX];
    const char *real = mig_strmap_get(&p->real_paths, path);    /* known from the folder's walk */
    if (!real)
        real = realpath(path, rbuf) ? rbuf : path;
    struct mig_file *f = find_file(real);
    if (f)
        return f;
    struct mig_source *src = mig_source_read(&p->sources, path, why);
    if (!src)
        return NULL;
    f = parse_text(p, src);
    mig_strmap_put(file_keys, mig_arena_strdup(&p->arena, real), f);
    return f;
}

static struct mig_file *load_std(struct mig_program *p, size_t i)
{
    struct mig_file *f = find_file(stdlib_modules[i].path);
    if (f)
        return f;
    struct mig_source *src = mig_source_add(&p->sources, stdlib_modules[i].path,
                                            stdlib_modules[i].text, strlen(stdlib_modules[i].text));
    f = parse_text(p, src);
    f->is_std = true;
    mig_strmap_put(file_keys, stdlib_modules[i].path, f);
    return f;
}

static void add_visible(struct mig_program *p, struct mig_file *f, struct mig_file *g)
{
    for (size_t i = 0; i < f->visible.n; i++)
        if (f->visible.v[i] == g)
            return;
    MIG_PUSH(&p->arena, f->visible, g);
}

static void resolve_file_imports(struct mig_program *p, struct mig_file *f)
{
    if (f->resolved)
        return;
    f->resolved = true;
    for (size_t i = 0; i < f->imports.n; i++) {
        struct mig_import *im = &f->imports.v[i];
        if (!im->is_path) {
            size_t plen = strlen(im->name);
            int found = 0;
            /* `import std;` brings std and its submodules; `import std.pg;` only std.pg */
            for (size_t k = 0; k < N_STDLIB; k++) {
                const char *m = stdlib_modules[k].module;
                if (strcmp(m, im->name) == 0 ||
                    (strncmp(m, im->name, plen) == 0 && m[plen] == '.')) {
                    struct mig_file *g = load_std(p, k);
                    if (strcmp(m, im->name) == 0)
                        im->file = g;
                    add_visible(p, f, g);
                    found = 1;
                }
            }
            if (!found) {
                p->diags.fatal++;
                mig_diag(&p->diags, MIG_ERROR, im->span.file, im->span.start, im->span.end,
                         "unknown-import",
                         "unknown module '%s' (the standard modules are std, std.pg and std.sqlite; "
                         "import another file by its path, as in import \"lib.mig\";)", im->name);
            }
            continue;
        }
        const char *base = f->src->path;
        const char *slash = strrchr(base, '/');
        const char *path = im->name[0] == '/' || !slash ? im->name
            : mig_arena_printf(&p->arena, "%.*s/%s", (int)(slash - base), base, im->name);
        if (f->is_std) {
            mig_diag(&p->diags, MIG_ERROR, im->span.file, im->span.start, im->span.end,
                     "unknown-import", "the standard library cannot import files");
            p->diags.fatal++;
            continue;
        }
        const char *why = NULL;
        struct mig_file *g = load_file(p, path, &why);
        if (!g) {
            mig_diag(&p->diags, MIG_ERROR, im->span.file, im->span.start, im->span.end,
                     "unknown-import", "cannot import '%s': %s", path, why);
            p->diags.fatal++;
            continue;
        }
        if (g == f) {
            mig_diag(&p->diags, MIG_ERROR, im->span.file, im->span.start, im->span.end,
                     "unknown-import", "a file cannot import itself");
            p->diags.fatal++;
            continue;
        }
        im->file = g;
        add_visible(p, f, g);
    }
}

void mig_resolve_imports(struct mig_program *p)
{
    /* p->files grows while we walk it: imported files are resolved in turn */
    for (size_t i = 0; i < p->files.n; i++)
        resolve_file_imports(p, p->files.v[i]);
}

void mig_program_add_text(struct mig_program *p, const char *name, const char *text, size_t len)
{
    MIG_PUSH(&p->arena, p->input_texts, mig_source_add(&p->sources, name, text, len));
}

unsigned mig_program_check(struct mig_program *p)
{
    struct mig_strmap keys = { .arena = &p->arena };
    file_keys = &keys;
    for (size_t i = 0; i < p->input_texts.n; i++) {
        struct mig_file *f = parse_text(p, p->input_texts.v[i]);
        f->is_input = true;
        /* a text standing for a file on disk (an editor's unsaved buffer)
         * is what an import of that file gets, not the file */
        char rbuf[PATH_MAX];
        if (realpath(p->input_texts.v[i]->path, rbuf) && !find_file(rbuf))
            mig_strmap_put(file_keys, mig_arena_strdup(&p->arena, rbuf), f);
    }
    for (size_t i = 0; i < p->input_paths.n; i++) {
        const char *why = NULL;
        struct mig_file *f = load_file(p, p->input_paths.v[i], &why);
        if (!f) {
            mig_diag(&p->diags, MIG_ERROR, UINT32_MAX, 0, 0, "io",
                     "cannot read '%s': %s", p->input_paths.v[i], why);
            p->diags.fatal++;
            continue;
        }
        f->is_input = true;
    }
    mig_resolve_imports(p);
    file_keys = NULL;
    if (p->diags.fatal == 0) {
        mig_check_decls(p);
        mig_check_types(p);
        mig_check_rules(p);
        mig_check_recursion(p);
        if (p->diags.errors == 0)
            mig_lint(p);    /* on a program that checks: rules about broken code would only add noise */
    }
    mig_diags_sort(&p->diags);
    return p->diags.errors;
}
