/* import_tools.c — the readers of `migc import`, one per tool: each walks
 * its tool's documented layout and fills the model of import.h in the
 * order the tool applies migrations, reporting what has no mig
 * equivalent. The bodies are the source's bytes; only the tool's own
 * directive lines (dbmate's -- migrate:, goose's -- +goose) are left out. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "import.h"

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static const char *base_name(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    return slash ? slash + 1 : rel;
}

/* Digits as an unsigned number: false when empty, not digits or too large. */
static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]) || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

static char *arena_replace(struct imp_ctx *c, const char *s, char from, char to)
{
    char *r = mig_arena_strdup(c->arena, s);
    for (char *p = r; *p; p++)
        if (*p == from)
            *p = to;
    return r;
}

/* Reads a file named by a migration into a body of its step (reporting,
 * and skipping the migration, when it cannot be read). */
static bool read_body(struct imp_ctx *c, struct imp_migration *m, struct imp_bodies *to, enum imp_dialect d,
                      const char *rel)
{
    size_t len = 0;
    const char *why = NULL;
    char *text = imp_read_file(c, rel, &len, &why);
    if (!text) {
        imp_lost(c, "%s: not converted: cannot read %s: %s", m->id, rel, why);
        m->skip = true;
        return false;
    }
    imp_add_body(c, to, d, text, len, rel);
    MIG_PUSH(c->arena, m->files, mig_arena_strdup(c->arena, rel));
    return true;
}

/* ---- up/down file pairs (golang-migrate, dir) ---------------------------------------- */

struct pair_file {
    const char *file;       /* relative to DIR */
    const char *key;        /* what groups the files of one migration */
    uint64_t num;           /* golang-migrate: the version */
    const char *id;         /* the migration's name in the source */
    int dialect;
    bool down;
};

static bool numeric_order;

static int cmp_pair(const void *a, const void *b)
{
    const struct pair_file *x = a, *y = b;
    if (numeric_order && x->num != y->num)
        return x->num < y->num ? -1 : 1;
    int k = strcmp(x->key, y->key);
    return k ? k : strcmp(x->file, y->file);
}

/* A trailing ".postgres" / ".sqlite3" … of a stem: its dialect, with *n
 * shortened to what comes before it. */
static enum imp_dialect dialect_suffix(const char *stem, size_t *n)
{
    for (size_t i = *n; i > 0; i--)
        if (stem[i - 1] == '.') {
            int d = imp_dialect_word(stem + i, *n - i);
            if (d < 0)
                return IMP_ANY;
            *n = i - 1;
            return (enum imp_dialect)d;
        }
    return IMP_ANY;
}

/* Adds one file of a pair to its step (a second file for the same side
 * and dialect is reported). */
static void add_pair_file(struct imp_ctx *c, struct imp_migration *m, struct imp_step *s, const struct pair_file *f)
{
    struct imp_bodies *to = f->down ? &s->down : &s->up;
    for (size_t x = 0; x < to->n; x++)
        if ((int)to->v[x].dialect == f->dialect) {
            imp_lost(c, "%s: %s and %s are both its %s%s: %s not converted", m->id, to->v[x].origin, f->file,
                     f->down ? "down" : "up",
                     f->dialect == IMP_PG ? " for postgres" : f->dialect == IMP_SQLITE ? " for sqlite" : "",
                     f->file);
            return;
        }
    read_body(c, m, to, (enum imp_dialect)f->dialect, f->file);
}

/* Groups sorted pair files into migrations: one step, an up and a down
 * variant per dialect. */
static void group_pairs(struct imp_ctx *c, struct pair_file *v, size_t n)
{
    numeric_order = strcmp(c->tool, "golang-migrate") == 0;
    if (n)
        qsort(v, n, sizeof(*v), cmp_pair);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && (numeric_order ? v[j].num == v[i].num : strcmp(v[j].key, v[i].key) == 0))
            j++;
        /* the id of the up file names the migration (golang-migrate allows other titles on the down) */
        size_t first = i;
        for (size_t k = i; k < j; k++)
            if (!v[k].down) {
                first = k;
                break;
            }
        struct imp_migration *m = imp_new_migration(c, v[first].id, v[first].id, NULL);
        struct imp_step *s = imp_new_step(c, m);
        /* ups, then downs, each in dialect order */
        for (int pass = 0; pass < 6; pass++)
            for (size_t k = i; k < j; k++)
                if (v[k].down == (pass >= 3) && v[k].dialect == pass % 3)
                    add_pair_file(c, m, s, &v[k]);
        i = j;
    }
}

/* golang-migrate: {version}_{title}.up.{ext} and .down.{ext} in DIR (not
 * below), applied by version. No transaction markers: each file runs as
 * written, so a file with its own BEGIN … COMMIT loses it and one that
 * cannot run in a transaction gets `transaction none` (import.c). */
int imp_read_golang_migrate(struct imp_ctx *c)
{
    struct imp_strings files;
    if (imp_list_files(c, false, &files) != 0) {
        fprintf(stderr, "migc: error: cannot read the directory '%s'\n", c->dir);
        return -1;
    }
    struct pair_file *v = mig_arena_alloc(c->arena, (files.n + 1) * sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < files.n; i++) {
        const char *f = files.v[i];
        size_t d = 0;
        while (is_digit(f[d]))
            d++;
        /* the last ".up." or ".down." after "{version}_" */
        const char *dir = NULL;
        bool down = false;
        for (const char *p = f + d; d > 0 && f[d] == '_' && (p = strchr(p, '.')) != NULL; p++) {
            if (strncmp(p, ".up.", 4) == 0)
                dir = p, down = false;
            else if (strncmp(p, ".down.", 6) == 0)
                dir = p, down = true;
        }
        if (!dir) {
            imp_ignored(c, "%s: not named {version}_{title}.up|down.{extension}", f);
            continue;
        }
        const char *ext = dir + (down ? 6 : 4);
        if (strcmp(ext, "sql") != 0) {
            imp_ignored(c, "%s: not a .sql file", f);
            continue;
        }
        uint64_t num;
        if (!parse_u64(f, d, &num)) {
            imp_lost(c, "%s: its version is larger than 64 bits: not converted", f);
            continue;
        }
        size_t tl = (size_t)(dir - (f + d + 1));
        enum imp_dialect dl = dialect_suffix(f + d + 1, &tl);
        v[n].file = f;
        v[n].num = num;
        v[n].key = "";
        v[n].id = mig_arena_strndup(c->arena, f, d + 1 + tl);
        if (tl == 0)
            v[n].id = mig_arena_strndup(c->arena, f, d);
        v[n].dialect = dl;
        v[n].down = down;
        n++;
    }
    group_pairs(c, v, n);
    return 0;
}

/* dir: NAME.up.sql / NAME.down.sql pairs, or a single NAME.sql (an up
 * without a down), optionally NAME.postgres.up.sql, NAME.sqlite3.up.sql …
 * for the dialect variants of one step; applied in the byte order of NAME. */
int imp_read_dir(struct imp_ctx *c)
{
    struct imp_strings files;
    if (imp_list_files(c, false, &files) != 0) {
        fprintf(stderr, "migc: error: cannot read the directory '%s'\n", c->dir);
        return -1;
    }
    struct pair_file *v = mig_arena_alloc(c->arena, (files.n + 1) * sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < files.n; i++) {
        const char *f = files.v[i];
        if (!ends_with(f, ".sql")) {
            imp_ignored(c, "%s: not a .sql file", f);
            continue;
        }
        size_t len = strlen(f) - 4;
        bool down = false;
        if (len > 3 && strncmp(f + len - 3, ".up", 3) == 0) {
            len -= 3;
        } else if (len > 5 && strncmp(f + len - 5, ".down", 5) == 0) {
            len -= 5;
            down = true;
        }
        enum imp_dialect dl = dialect_suffix(f, &len);
        if (len == 0) {
            imp_ignored(c, "%s: no name before its suffixes", f);
            continue;
        }
        v[n].file = f;
        v[n].key = v[n].id = mig_arena_strndup(c->arena, f, len);
        v[n].dialect = dl;
        v[n].down = down;
        n++;
    }
    group_pairs(c, v, n);
    return 0;
}

/* ---- dbmate ------------------------------------------------------------------------------ */

/* A `-- migrate:up` / `-- migrate:down` line at s[i] (a line start): 1 up,
 * 2 down, 0 neither; *opts gets the rest of the line. */
static int dbmate_directive(const char *s, size_t len, size_t i, const char **opts, size_t *optlen)
{
    if (i + 2 > len || s[i] != '-' || s[i + 1] != '-')
        return 0;
    size_t k = i + 2;
    while (k < len && (s[k] == ' ' || s[k] == '\t'))
        k++;
    int kind = 0;
    if (len - k >= 10 && strncmp(s + k, "migrate:up", 10) == 0)
        kind = 1, k += 10;
    else if (len - k >= 12 && strncmp(s + k, "migrate:down", 12) == 0)
        kind = 2, k += 12;
    else
        return 0;
    if (k < len && s[k] != ' ' && s[k] != '\t' && s[k] != '\r' && s[k] != '\n')
        return 0;   /* "-- migrate:upgrade" */
    size_t e = k;
    while (e < len && s[e] != '\n')
        e++;
    *opts = s + k;
    *optlen = e - k;
    return kind;
}

/* Reads dbmate's options ("transaction:false"): whether the section runs
 * without a transaction; other options are reported. */
static bool dbmate_no_txn(struct imp_ctx *c, struct imp_migration *m, const char *o, size_t n)
{
    bool none = false;
    for (size_t i = 0; i < n;) {
        while (i < n && (o[i] == ' ' || o[i] == '\t' || o[i] == '\r'))
            i++;
        size_t j = i;
        while (j < n && o[j] != ' ' && o[j] != '\t' && o[j] != '\r')
            j++;
        if (j > i) {
            if (j - i == 17 && strncmp(o + i, "transaction:false", 17) == 0)
                none = true;
            else if (!(j - i == 16 && strncmp(o + i, "transaction:true", 16) == 0))
                imp_note(c, "%s: dbmate option '%.*s' ignored", m->id, (int)(j - i), o + i);
        }
        i = j;
    }
    return none;
}

static bool blank_or_comment(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    return i == n || (n - i >= 2 && s[i] == '-' && s[i + 1] == '-');
}

/* dbmate: DIR/{version}_{name}.sql, applied in file-name order, each with
 * `-- migrate:up` and `-- migrate:down` sections (several pairs in one
 * file become several steps); `transaction:false` on either directive
 * runs the step outside a transaction. */
int imp_read_dbmate(struct imp_ctx *c)
{
    struct imp_strings files;
    if (imp_list_files(c, false, &files) != 0) {
        fprintf(stderr, "migc: error: cannot read the directory '%s'\n", c->dir);
        return -1;
    }
    for (size_t i = 0; i < files.n; i++) {
        const char *f = files.v[i];
        if (!is_digit(f[0]) || !ends_with(f, ".sql")) {
            imp_ignored(c, "%s: not named {version}_{name}.sql", f);
            continue;
        }
        const char *id = mig_arena_strndup(c->arena, f, strlen(f) - 4);
        struct imp_migration *m = imp_new_migration(c, id, id, NULL);
        size_t len = 0;
        const char *why = NULL;
        char *s = imp_read_file(c, f, &len, &why);
        if (!s) {
            imp_lost(c, "%s: not converted: cannot read %s: %s", id, f, why);
            m->skip = true;
            continue;
        }
        MIG_PUSH(c->arena, m->files, f);
        struct imp_step *st = NULL;
        struct imp_bodies *open = NULL;    /* the body being read */
        size_t body_from = 0;
        bool bad = false;
        for (size_t ln = 0; ln < len && !bad;) {
            size_t e = ln;
            while (e < len && s[e] != '\n')
                e++;
            const char *o = NULL;
            size_t on = 0;
            int kind = dbmate_directive(s, len, ln, &o, &on);
            if (kind && open) {
                imp_add_body(c, open, IMP_ANY, s + body_from, ln - body_from, f);
                open = NULL;
            }
            if (kind == 1) {
                st = imp_new_step(c, m);
                open = &st->up;
            } else if (kind == 2) {
                if (!st || st->down.n || open == &st->down) {
                    imp_lost(c, "%s: not converted: a '-- migrate:down' without its '-- migrate:up'", id);
                    bad = true;
                    break;
                }
                open = &st->down;
            } else if (!st && !blank_or_comment(s + ln, e - ln)) {
                imp_lost(c, "%s: not converted: statements before '-- migrate:up'", id);
                bad = true;
                break;
            }
            if (kind && dbmate_no_txn(c, m, o, on) && !st->no_txn)
                st->no_txn = mig_arena_printf(c->arena, "dbmate: -- migrate:%s transaction:false",
                                              kind == 1 ? "up" : "down");
            if (kind)
                body_from = e < len ? e + 1 : len;
            ln = e + 1;
        }
        if (open && !bad)
            imp_add_body(c, open, IMP_ANY, s + body_from, len - body_from, f);
        if (!bad && !st) {
            imp_lost(c, "%s: not converted: no '-- migrate:up' section", id);
            bad = true;
        }
        if (bad)
            m->skip = true;
    }
    return 0;
}

/* ---- goose --------------------------------------------------------------------------------- */

enum goose_ann { G_NONE, G_UP, G_DOWN, G_BEGIN, G_END, G_NO_TX, G_ENVSUB_ON, G_ENVSUB_OFF, G_BAD };

/* A `-- +goose …` annotation line (goose's own test: a comment holding
 * "+goose"), with goose's names compared case-insensitively. */
static enum goose_ann goose_annotation(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (n - i < 2 || s[i] != '-' || s[i + 1] != '-')
        return G_NONE;
    const char *g = NULL;
    for (size_t k = i; k + 6 <= n && !g; k++)
        if (strncmp(s + k, "+goose", 6) == 0)
            g = s + k;
    if (!g)
        return G_NONE;
    if (i > 0)
        return G_BAD;   /* goose refuses an indented annotation */
    char cmd[64];
    size_t o = 0;
    for (const char *p = s; p < s + n && o + 1 < sizeof(cmd); p++) {
        if (p == g) {
            p += 5;
            continue;
        }
        if (*p == '-' && p + 1 < s + n && p[1] == '-') {
            p++;
            continue;
        }
        cmd[o++] = *p;
    }
    cmd[o] = 0;
    char *a = cmd, *z = cmd + o;
    while (*a == ' ' || *a == '\t')
        a++;
    while (z > a && (z[-1] == ' ' || z[-1] == '\t' || z[-1] == '\r'))
        *--z = 0;
    static const struct {
        const char *w;
        enum goose_ann a;
    } names[] = {
        { "Up", G_UP }, { "Down", G_DOWN }, { "StatementBegin", G_BEGIN }, { "StatementEnd", G_END },
        { "NO TRANSACTION", G_NO_TX }, { "ENVSUB ON", G_ENVSUB_ON }, { "ENVSUB OFF", G_ENVSUB_OFF },
    };
    for (size_t k = 0; k < sizeof(names) / sizeof(*names); k++)
        if (strcasecmp(a, names[k].w) == 0)
            return names[k].a;
    return G_BAD;
}

/* Whether a line has what goose's ENVSUB would substitute: $NAME or ${…}. */
static bool envsub_variable(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == '$' && (s[i + 1] == '{' || s[i + 1] == '_' || (s[i + 1] >= 'A' && s[i + 1] <= 'Z') ||
                            (s[i + 1] >= 'a' && s[i + 1] <= 'z')))
            return true;
    return false;
}

struct text {
    char *s;
    size_t n;
};

static void text_add(struct imp_ctx *c, struct text *t, const char *s, size_t n, size_t cap)
{
    if (!t->s)
        t->s = mig_arena_alloc(c->arena, cap + 1);
    memcpy(t->s + t->n, s, n);
    t->n += n;
}

/* goose: DIR/{version}_{name}.sql, applied by version: `-- +goose Up` and
 * `-- +goose Down` sections; `-- +goose NO TRANSACTION` runs it outside a
 * transaction; StatementBegin/End lines are dropped (mig's SQL tokenizer
 * keeps dollar-quoted and BEGIN … END bodies whole); ENVSUB substitutes
 * environment variables, which mig does not. Go migrations are reported. */
int imp_read_goose(struct imp_ctx *c)
{
    struct imp_strings files;
    if (imp_list_files(c, false, &files) != 0) {
        fprintf(stderr, "migc: error: cannot read the directory '%s'\n", c->dir);
        return -1;
    }
    struct pair_file *v = mig_arena_alloc(c->arena, (files.n + 1) * sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < files.n; i++) {
        const char *f = files.v[i];
        size_t d = 0;
        while (is_digit(f[d]))
            d++;
        bool sql = ends_with(f, ".sql"), go = ends_with(f, ".go");
        if (d == 0 || f[d] != '_' || (!sql && !go) || ends_with(f, "_test.go")) {
            imp_ignored(c, "%s: not named {version}_{name}.sql", f);
            continue;
        }
        if (go) {
            imp_lost(c, "%s: a Go migration: not converted (write its SQL, or an exec step, by hand)", f);
            continue;
        }
        if (!parse_u64(f, d, &v[n].num)) {
            imp_lost(c, "%s: its version is larger than 64 bits: not converted", f);
            continue;
        }
        v[n].file = f;
        v[n].key = "";
        v[n].id = mig_arena_strndup(c->arena, f, strlen(f) - 4);
        n++;
    }
    numeric_order = true;
    if (n)
        qsort(v, n, sizeof(*v), cmp_pair);
    for (size_t i = 0; i < n; i++) {
        struct imp_migration *m = imp_new_migration(c, v[i].id, v[i].id, NULL);
        if (i > 0 && v[i].num == v[i - 1].num) {
            imp_lost(c, "%s: not converted: version %llu is also %s", m->id, (unsigned long long)v[i].num,
                     v[i - 1].file);
            m->skip = true;
            continue;
        }
        size_t len = 0;
        const char *why = NULL;
        char *s = imp_read_file(c, v[i].file, &len, &why);
        if (!s) {
            imp_lost(c, "%s: not converted: cannot read %s: %s", m->id, v[i].file, why);
            m->skip = true;
            continue;
        }
        MIG_PUSH(c->arena, m->files, v[i].file);
        struct imp_step *st = imp_new_step(c, m);
        struct text up = { 0 }, down = { 0 };
        int state = 0;      /* 0 before Up, 1 in Up, 2 in Down */
        bool envsub = false, bad = false, had_down = false;
        for (size_t ln = 0; ln < len && !bad;) {
            size_t e = ln;
            while (e < len && s[e] != '\n')
                e++;
            size_t next = e < len ? e + 1 : len;
            enum goose_ann a = goose_annotation(s + ln, e - ln);
            switch (a) {
            case G_UP:
                bad = state != 0;
                state = 1;
                break;
            case G_DOWN:
                bad = state != 1;
                state = 2;
                had_down = true;
                break;
            case G_NO_TX:
                st->no_txn = "goose: -- +goose NO TRANSACTION";
                break;
            case G_ENVSUB_ON:
                envsub = true;
                break;
            case G_ENVSUB_OFF:
                envsub = false;
                break;
            case G_BEGIN:
            case G_END:
                bad = state == 0;
                break;
            case G_BAD:
                imp_lost(c, "%s: not converted: goose cannot read '%.*s'", m->id, (int)(e - ln), s + ln);
                m->skip = true;
                bad = true;
                break;
            case G_NONE:
                if (state == 0 && !blank_or_comment(s + ln, e - ln)) {
                    bad = true;
                } else if (state != 0) {
                    if (envsub && envsub_variable(s + ln, e - ln) && !m->skip) {
                        imp_lost(c, "%s: not converted: -- +goose ENVSUB ON substitutes environment variables "
                                    "in its SQL, which mig does not do",
                                 m->id);
                        m->skip = true;
                    }
                    text_add(c, state == 1 ? &up : &down, s + ln, next - ln, len);
                }
                break;
            }
            ln = next;
        }
        if (bad && !m->skip) {
            imp_lost(c, "%s: not converted: goose cannot read it (its -- +goose annotations are out of order)",
                     m->id);
            m->skip = true;
        }
        if (state == 0 && !m->skip) {
            imp_lost(c, "%s: not converted: no '-- +goose Up' annotation", m->id);
            m->skip = true;
        }
        imp_add_body(c, &st->up, IMP_ANY, up.s ? up.s : "", up.n, v[i].file);
        if (had_down)
            imp_add_body(c, &st->down, IMP_ANY, down.s ? down.s : "", down.n, v[i].file);
    }
    return 0;
}

/* ---- Flyway --------------------------------------------------------------------------------- */

struct fw_script {
    const char *file;
    char kind;              /* 'V' or 'U' */
    const char *ver;        /* as written */
    uint64_t parts[16];
    size_t nparts;
    const char *desc;       /* with '_' */
    bool used;
};

/* Flyway's version: digits separated by '.' or '_'. */
static bool fw_version(const char *s, size_t n, struct fw_script *fs)
{
    fs->nparts = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && is_digit(s[j]))
            j++;
        if (j == i || fs->nparts == 16 || !parse_u64(s + i, j - i, &fs->parts[fs->nparts]))
            return false;
        fs->nparts++;
        if (j < n && s[j] != '.' && s[j] != '_')
            return false;
        i = j < n ? j + 1 : j;
        if (j < n && i == n)
            return false;
    }
    return fs->nparts > 0;
}

static int fw_cmp(const struct fw_script *a, const struct fw_script *b)
{
    size_t n = a->nparts > b->nparts ? a->nparts : b->nparts;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = i < a->nparts ? a->parts[i] : 0, y = i < b->nparts ? b->parts[i] : 0;
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

static int cmp_fw(const void *a, const void *b)
{
    const struct fw_script *x = a, *y = b;
    int k = fw_cmp(x, y);
    return k ? k : strcmp(x->file, y->file);
}

/* A script configuration file (key=value lines) beside a script: what it
 * says, as far as mig has an equivalent. */
static void fw_conf(struct imp_ctx *c, struct imp_migration *m, struct imp_step *st, const char *script,
                    bool *placeholders)
{
    const char *rel = mig_arena_printf(c->arena, "%s.conf", script);
    if (!imp_is_file(c, rel))
        return;
    size_t len = 0;
    const char *why = NULL;
    char *s = imp_read_file(c, rel, &len, &why);
    if (!s) {
        imp_lost(c, "%s: cannot read %s: %s", m->id, rel, why);
        return;
    }
    MIG_PUSH(c->arena, m->files, rel);
    for (size_t ln = 0; ln < len;) {
        size_t e = ln;
        while (e < len && s[e] != '\n')
            e++;
        char line[512];
        size_t n = e - ln < sizeof(line) - 1 ? e - ln : sizeof(line) - 1;
        memcpy(line, s + ln, n);
        line[n] = 0;
        ln = e + 1;
        char *k = line, *z = line + n;
        while (*k == ' ' || *k == '\t')
            k++;
        while (z > k && (z[-1] == ' ' || z[-1] == '\t' || z[-1] == '\r'))
            *--z = 0;
        if (!*k || *k == '#' || *k == '!')
            continue;
        char *eq = strchr(k, '=');
        if (!eq) {
            imp_note(c, "%s: %s: '%s' ignored", m->id, rel, k);
            continue;
        }
        char *ke = eq;
        while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
            ke--;
        *ke = 0;
        char *val = eq + 1;
        while (*val == ' ' || *val == '\t')
            val++;
        if (strcmp(k, "executeInTransaction") == 0) {
            if (strcasecmp(val, "false") == 0 && !st->no_txn)
                st->no_txn = mig_arena_printf(c->arena, "Flyway: executeInTransaction=false (%s)", rel);
        } else if (strcmp(k, "placeholderReplacement") == 0) {
            *placeholders = strcasecmp(val, "false") != 0;
        } else if (strcmp(k, "shouldExecute") == 0) {
            imp_lost(c, "%s: %s: shouldExecute=%s not converted (a condition on Flyway's configuration; "
                        "a `when` guard or a param can express it)",
                     m->id, rel, val);
        } else if (strcmp(k, "encoding") == 0) {
            if (strcasecmp(val, "UTF-8") != 0 && strcasecmp(val, "UTF8") != 0)
                imp_note(c, "%s: %s: encoding=%s: mig reads SQL as UTF-8 (a file that is not UTF-8 is refused)",
                         m->id, rel, val);
        } else {
            imp_note(c, "%s: %s: '%s' ignored", m->id, rel, k);
        }
    }
}

/* Flyway: V{version}__{description}.sql (with U{version}__….sql as its
 * undo) anywhere below DIR, applied by version; a script configuration
 * file V….sql.conf with executeInTransaction=false runs it outside a
 * transaction. Repeatable (R__), baseline (B…) migrations, callbacks and
 * placeholders have no mig equivalent and are reported. */
int imp_read_flyway(struct imp_ctx *c)
{
    struct imp_strings files;
    if (imp_list_files(c, true, &files) != 0) {
        fprintf(stderr, "migc: error: cannot read the directory '%s'\n", c->dir);
        return -1;
    }
    struct fw_script *v = mig_arena_alloc(c->arena, (files.n + 1) * sizeof(*v));
    size_t n = 0;
    static const char *const events[] = { "before", "after", NULL };
    for (size_t i = 0; i < files.n; i++) {
        const char *f = files.v[i], *b = base_name(f);
        if (ends_with(f, ".sql.conf")) {
            char *script = mig_arena_strndup(c->arena, f, strlen(f) - 5);
            if (!imp_is_file(c, script))
                imp_ignored(c, "%s: no %s beside it", f, base_name(script));
            continue;
        }
        if (!ends_with(f, ".sql")) {
            imp_ignored(c, "%s: not a .sql file", f);
            continue;
        }
        const char *sep = strstr(b, "__");
        if (b[0] == 'R' && sep == b + 1) {
            imp_lost(c, "%s: a repeatable migration (re-applied whenever it changes): not converted; "
                        "mig migrations run once — make each change a migration",
                     f);
            continue;
        }
        bool callback = false;
        for (size_t k = 0; events[k]; k++)
            callback = callback || strncmp(b, events[k], strlen(events[k])) == 0;
        if (callback) {
            imp_lost(c, "%s: a Flyway callback: not converted (mig runs no hooks; a migration's require or "
                        "an exec step can do the work)",
                     f);
            continue;
        }
        if ((b[0] == 'V' || b[0] == 'U' || b[0] == 'B') && sep && fw_version(b + 1, (size_t)(sep - b - 1), &v[n])) {
            if (b[0] == 'B') {
                imp_lost(c, "%s: a baseline migration (the schema up to its version, for new databases): "
                            "not converted; the versioned migrations it stands for are",
                         f);
                continue;
            }
            v[n].file = f;
            v[n].kind = b[0];
            v[n].ver = mig_arena_strndup(c->arena, b + 1, (size_t)(sep - b - 1));
            v[n].desc = mig_arena_strndup(c->arena, sep + 2, strlen(sep + 2) - 4);
            n++;
            continue;
        }
        imp_ignored(c, "%s: not named V{version}__{description}.sql", f);
    }
    if (n)
        qsort(v, n, sizeof(*v), cmp_fw);
    for (size_t i = 0; i < n; i++) {
        if (v[i].kind != 'V')
            continue;
        const char *id = mig_arena_strndup(c->arena, base_name(v[i].file), strlen(base_name(v[i].file)) - 4);
        const char *base = mig_arena_printf(c->arena, "%s_%s", arena_replace(c, v[i].ver, '.', '_'), v[i].desc);
        struct imp_migration *m = imp_new_migration(c, id, base, arena_replace(c, v[i].desc, '_', ' '));
        v[i].used = true;
        if (i > 0 && v[i - 1].kind == 'V' && fw_cmp(&v[i - 1], &v[i]) == 0) {
            imp_lost(c, "%s: not converted: version %s is also %s", id, v[i].ver, v[i - 1].file);
            m->skip = true;
            continue;
        }
        struct imp_step *st = imp_new_step(c, m);
        bool placeholders = true;
        read_body(c, m, &st->up, IMP_ANY, v[i].file);
        fw_conf(c, m, st, v[i].file, &placeholders);
        for (size_t k = 0; k < n; k++)
            if (v[k].kind == 'U' && !v[k].used && fw_cmp(&v[k], &v[i]) == 0) {
                v[k].used = true;
                read_body(c, m, &st->down, IMP_ANY, v[k].file);
                fw_conf(c, m, st, v[k].file, &placeholders);
                break;
            }
        for (size_t k = 0; placeholders && !m->skip && k < 2; k++) {
            struct imp_bodies *b = k ? &st->down : &st->up;
            if (b->n && imp_has_placeholder(b->v[0].sql, b->v[0].len)) {
                imp_lost(c, "%s: not converted: %s uses Flyway placeholders (${…}), which mig does not "
                            "substitute; make them params, or set placeholderReplacement=false if the text is "
                            "meant literally",
                         id, b->v[0].origin);
                m->skip = true;
            }
        }
    }
    for (size_t k = 0; k < n; k++)
        if (v[k].kind == 'U' && !v[k].used)
            imp_lost(c, "%s: an undo migration without its V%s: not converted", v[k].file, v[k].ver);
    return 0;
}

/* ---- Sqitch ------------------------------------------------------------------------------------- */

struct sq_change {
    const char *name, *deps, *note;
    char op;                /* '+' deploy, '-' revert */
    struct imp_strings tags;
    const char *id;         /* the migration id: name, or name@tag for a reworked earlier one */
    const char *stem;       /* the scripts' path without .sql */
    const char *base;
};

static bool blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* The instance of name that `dep` means from change number `at`: the
 * latest before it, or with name@tag the latest before that tag. */
static const struct sq_change *sq_resolve(const struct sq_change *v, size_t at, const char *dep)
{
    const char *tag = strchr(dep, '@');
    size_t nl = tag ? (size_t)(tag - dep) : strlen(dep);
    size_t limit = at;
    if (tag) {
        for (size_t i = 0; i < at; i++)
            for (size_t k = 0; k < v[i].tags.n; k++)
                if (strcmp(v[i].tags.v[k], tag + 1) == 0)
                    limit = i + 1;
    }
    for (size_t i = limit; i-- > 0;)
        if (v[i].op == '+' && strlen(v[i].name) == nl && strncmp(v[i].name, dep, nl) == 0)
            return &v[i];
    return NULL;
}

/* Sqitch: DIR (its top_dir) holds sqitch.plan and deploy/, revert/ and
 * verify/ scripts; changes are applied in plan order, their requirements
 * become `after` too, a verify script becomes `verify` checks. A reworked
 * change's earlier instances use their deploy/NAME@TAG.sql scripts. */
int imp_read_sqitch(struct imp_ctx *c)
{
    size_t len = 0;
    const char *why = NULL;
    char *s = imp_read_file(c, "sqitch.plan", &len, &why);
    if (!s) {
        fprintf(stderr, "migc: error: cannot read %s/sqitch.plan: %s (DIR is the Sqitch project's top "
                        "directory)\n",
                c->dir, why);
        return -1;
    }
    MIG_VEC(struct sq_change) v = { 0 };
    const char *project = "";
    for (size_t ln = 0; ln < len;) {
        size_t e = ln;
        while (e < len && s[e] != '\n')
            e++;
        char *line = mig_arena_strndup(c->arena, s + ln, e - ln);
        ln = e + 1;
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r')
            line[--n] = 0;
        char *p = line;
        while (blank(*p))
            p++;
        if (!*p || *p == '#')
            continue;
        if (*p == '%') {
            if (strncmp(p, "%project", 8) == 0 && (p = strchr(p, '=')) != NULL) {
                p++;
                while (blank(*p))
                    p++;
                char *z = p;
                while (*z && !blank(*z) && *z != '#')
                    z++;
                project = mig_arena_strndup(c->arena, p, (size_t)(z - p));
            }
            continue;
        }
        char *hash = strchr(p, '#');
        const char *note = NULL;
        if (hash) {
            *hash = 0;
            note = hash + 1;
            while (blank(*note))
                note++;
        }
        if (*p == '@') {
            char *z = ++p;
            while (*z && !blank(*z))
                z++;
            *z = 0;
            if (v.n)
                MIG_PUSH(c->arena, v.v[v.n - 1].tags, mig_arena_strdup(c->arena, p));
            continue;
        }
        struct sq_change ch;
        memset(&ch, 0, sizeof(ch));
        ch.op = '+';
        if (*p == '+' || *p == '-') {
            ch.op = *p++;
            while (blank(*p))
                p++;
        }
        char *z = p;
        while (*z && !blank(*z) && *z != '[')
            z++;
        ch.name = mig_arena_strndup(c->arena, p, (size_t)(z - p));
        while (blank(*z))
            z++;
        if (*z == '[') {
            char *close = strchr(z, ']');
            ch.deps = close ? mig_arena_strndup(c->arena, z + 1, (size_t)(close - z - 1)) : "";
        }
        ch.note = note && *note ? note : NULL;
        if (!*ch.name)
            continue;
        MIG_PUSH(c->arena, v, ch);
    }
    MIG_PUSH(c->arena, c->report.notes, mig_arena_printf(c->arena, "sqitch.plan: project %s, %zu change%s",
                                                         *project ? project : "(unnamed)", v.n, v.n == 1 ? "" : "s"));
    /* ids and script names (reworked changes) */
    for (size_t i = 0; i < v.n; i++) {
        struct sq_change *ch = &v.v[i];
        ch->id = ch->name;
        ch->stem = ch->name;
        ch->base = ch->name;
        size_t j = i + 1;
        while (j < v.n && !(v.v[j].op == '+' && strcmp(v.v[j].name, ch->name) == 0))
            j++;
        if (ch->op != '+' || j == v.n)
            continue;
        /* the tags after it, nearest to the rework first, then its own: the
         * first whose deploy/NAME@TAG.sql exists (as Sqitch looks) */
        const char *use = NULL, *first = NULL;
        for (size_t k = j; k-- > i && !use;)
            for (size_t t = 0; t < v.v[k].tags.n && !use; t++) {
                first = first ? first : v.v[k].tags.v[t];
                if (imp_is_file(c, mig_arena_printf(c->arena, "deploy/%s@%s.sql", ch->name, v.v[k].tags.v[t])))
                    use = v.v[k].tags.v[t];
            }
        use = use ? use : first;
        if (use) {
            ch->id = mig_arena_printf(c->arena, "%s@%s", ch->name, use);
            ch->stem = ch->id;
            ch->base = mig_arena_printf(c->arena, "%s_%s", ch->name, use);
        }
    }
    for (size_t i = 0; i < v.n; i++) {
        struct sq_change *ch = &v.v[i];
        if (ch->op == '-') {
            imp_lost(c, "%s: a planned revert (-%s in sqitch.plan): not converted", ch->name, ch->name);
            continue;
        }
        struct imp_migration *m = imp_new_migration(c, ch->id, ch->base, ch->note);
        const char *deploy = mig_arena_printf(c->arena, "deploy/%s.sql", ch->stem);
        const char *revert = mig_arena_printf(c->arena, "revert/%s.sql", ch->stem);
        const char *verify = mig_arena_printf(c->arena, "verify/%s.sql", ch->stem);
        struct imp_step *st = imp_new_step(c, m);
        if (!read_body(c, m, &st->up, IMP_ANY, deploy))
            continue;
        if (imp_is_file(c, revert))
            read_body(c, m, &st->down, IMP_ANY, revert);
        if (imp_is_file(c, verify))
            read_body(c, m, &st->verify, IMP_ANY, verify);
        for (size_t t = 0; t < ch->tags.n; t++)
            MIG_PUSH(c->arena, m->remarks, mig_arena_printf(c->arena, "tag @%s", ch->tags.v[t]));
        for (const char *d = ch->deps; d && *d;) {
            while (blank(*d))
                d++;
            const char *z = d;
            while (*z && !blank(*z))
                z++;
            if (z == d)
                break;
            char *dep = mig_arena_strndup(c->arena, d, (size_t)(z - d));
            d = z;
            if (dep[0] == '!') {
                imp_note(c, "%s: conflicts with %s: mig has no conflicts (not converted)", ch->id, dep + 1);
                continue;
            }
            char *colon = strchr(dep, ':');
            if (colon) {
                if ((size_t)(colon - dep) != strlen(project) || strncmp(dep, project, strlen(project)) != 0) {
                    imp_note(c, "%s: requires %s of another project: import that project too and add "
                                "the `after` by hand",
                             ch->id, dep);
                    continue;
                }
                dep = colon + 1;
            }
            const struct sq_change *to = sq_resolve(v.v, i, dep);
            if (!to)
                imp_note(c, "%s: requires %s, which comes nowhere before it in the plan", ch->id, dep);
            else
                MIG_PUSH(c->arena, m->requires, to->id);
        }
    }
    return 0;
}
