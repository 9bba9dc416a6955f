/* import.c — `migc import`: turns the model the readers of import_tools.c
 * fill into .mig files — one per source migration, chained with `after` —
 * deciding each step's transaction mode, checking that every SQL text can
 * be embedded byte for byte, compiling the result before writing it, and
 * reporting what was changed or could not be converted. */
#include "config.h"
#include "load.h"
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "compiler/compiler.h"
#include "compiler/fmt.h"
#include "lib/sqllex.h"
#include "lib/strmap.h"
#include "import.h"

enum { EXIT_CLEAN = 0, EXIT_ERRORS = 1, EXIT_USAGE = 2 };

static const char import_usage[] =
    "usage: migc import --from golang-migrate|dbmate|flyway|sqitch|goose|dir DIR -o OUTDIR [--force]\n";

/* ---- the model -------------------------------------------------------------- */

static void report_add(struct imp_ctx *c, struct imp_strings *to, const char *fmt, va_list ap)
{
    char buf[2048];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    MIG_PUSH(c->arena, *to, mig_arena_strdup(c->arena, buf));
}

void imp_note(struct imp_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_add(c, &c->report.notes, fmt, ap);
    va_end(ap);
}

void imp_lost(struct imp_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_add(c, &c->report.lost, fmt, ap);
    va_end(ap);
}

void imp_ignored(struct imp_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_add(c, &c->report.ignored, fmt, ap);
    va_end(ap);
}

struct imp_migration *imp_new_migration(struct imp_ctx *c, const char *id, const char *base, const char *title)
{
    struct imp_migration *m = MIG_NEW(c->arena, struct imp_migration);
    m->id = mig_arena_strdup(c->arena, id);
    m->base = mig_arena_strdup(c->arena, base);
    m->title = title && *title ? mig_arena_strdup(c->arena, title) : NULL;
    MIG_PUSH(c->arena, c->migs, m);
    return m;
}

struct imp_step *imp_new_step(struct imp_ctx *c, struct imp_migration *m)
{
    struct imp_step s;
    memset(&s, 0, sizeof(s));
    MIG_PUSH(c->arena, m->steps, s);
    return &m->steps.v[m->steps.n - 1];
}

void imp_add_body(struct imp_ctx *c, struct imp_bodies *to, enum imp_dialect d, const char *sql, size_t len,
                  const char *origin)
{
    struct imp_body b = { d, sql, len, mig_arena_strdup(c->arena, origin) };
    MIG_PUSH(c->arena, *to, b);
}

int imp_dialect_word(const char *w, size_t n)
{
    if ((n == 8 && strncmp(w, "postgres", 8) == 0) || (n == 10 && strncmp(w, "postgresql", 10) == 0) ||
        (n == 2 && strncmp(w, "pg", 2) == 0))
        return IMP_PG;
    if ((n == 6 && strncmp(w, "sqlite", 6) == 0) || (n == 7 && strncmp(w, "sqlite3", 7) == 0))
        return IMP_SQLITE;
    return -1;
}

static char *join_path(struct imp_ctx *c, const char *rel)
{
    return mig_arena_printf(c->arena, "%s/%s", c->dir, rel);
}

bool imp_is_file(struct imp_ctx *c, const char *rel)
{
    struct stat st;
    return stat(join_path(c, rel), &st) == 0 && S_ISREG(st.st_mode);
}

char *imp_read_file(struct imp_ctx *c, const char *rel, size_t *len, const char **why)
{
    const char *path = join_path(c, rel);
    struct stat st;
    if (stat(path, &st) != 0) {
        *why = strerror(errno);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        *why = "not a regular file";
        return NULL;
    }
    if ((size_t)st.st_size > MIG_SOURCE_MAX) {
        *why = "larger than 64 MiB";
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        *why = strerror(errno);
        return NULL;
    }
    char *buf = mig_arena_alloc(c->arena, (size_t)st.st_size + 1);
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    bool err = ferror(f);
    fclose(f);
    if (err) {
        *why = "read error";
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int list_into(struct imp_ctx *c, const char *rel, bool recursive, struct imp_strings *out, int depth)
{
    const char *path = rel ? join_path(c, rel) : c->dir;
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        const char *r = rel ? mig_arena_printf(c->arena, "%s/%s", rel, e->d_name) : mig_arena_strdup(c->arena, e->d_name);
        struct stat st;
        if (stat(join_path(c, r), &st) != 0)
            continue;
        if (S_ISREG(st.st_mode))
            MIG_PUSH(c->arena, *out, r);
        else if (S_ISDIR(st.st_mode) && recursive && depth < 32)
            list_into(c, r, recursive, out, depth + 1);
    }
    closedir(d);
    return 0;
}

int imp_list_files(struct imp_ctx *c, bool recursive, struct imp_strings *out)
{
    memset(out, 0, sizeof(*out));
    if (list_into(c, NULL, recursive, out, 0) != 0)
        return -1;
    if (out->n)
        qsort(out->v, out->n, sizeof(*out->v), cmp_str);
    return 0;
}

/* ---- SQL statements ------------------------------------------------------------ */

static enum mig_sqlrules rules_of(enum imp_dialect d)
{
    return d == IMP_SQLITE ? MIG_SQL_SQLITE : MIG_SQL_POSTGRES;
}

/* One top-level statement: where it is and its first code tokens. */
struct stmt {
    size_t start, end;      /* first code token .. past its ';' (or its last token) */
    struct mig_sqltoken t[8];
    size_t nt;              /* code tokens (t holds the first 8) */
    bool add_value;         /* ALTER TYPE … ADD VALUE */
};

static bool word_at(const char *s, const struct stmt *st, size_t i, const char *w)
{
    size_t n = strlen(w);
    return i < st->nt && i < 8 && st->t[i].kind == SQLT_WORD && st->t[i].end - st->t[i].start == n &&
           strncasecmp(s + st->t[i].start, w, n) == 0;
}

static bool punct_tok(const char *s, const struct mig_sqltoken *t, char ch)
{
    return t->kind == SQLT_PUNCT && t->end - t->start == 1 && s[t->start] == ch;
}

static bool word_tok(const char *s, const struct mig_sqltoken *t, const char *w)
{
    size_t n = strlen(w);
    return t->kind == SQLT_WORD && t->end - t->start == n && strncasecmp(s + t->start, w, n) == 0;
}

/* The statement at *pos, as the compiler splits them (compiler/rules.c): a
 * ';' ends a statement except inside parentheses and inside the BEGIN … END
 * block of a CREATE statement (SQLite triggers, BEGIN ATOMIC), where CASE …
 * END nests. false at the end of the text. */
static bool next_stmt(enum mig_sqlrules rules, const char *s, size_t len, size_t *pos, struct stmt *st)
{
    memset(st, 0, sizeof(*st));
    int parens = 0, block = 0;
    size_t last_end = 0;
    struct mig_sqltoken t;
    for (;; *pos = t.end) {
        mig_sql_next_in(rules, s, *pos, len, &t);
        if (t.kind == SQLT_EOF || t.kind == SQLT_UNTERMINATED) {
            *pos = len;
            st->end = last_end;
            return st->nt > 0;
        }
        if (t.kind == SQLT_SEMI && parens <= 0 && block <= 0) {
            if (st->nt > 0) {
                *pos = st->end = t.end;
                return true;
            }
            continue;
        }
        if (!mig_sqltok_is_code(t.kind))
            continue;
        if (st->nt == 0)
            st->start = t.start;
        if (st->nt < 8)
            st->t[st->nt] = t;
        st->nt++;
        last_end = t.end;
        if (punct_tok(s, &t, '('))
            parens++;
        else if (punct_tok(s, &t, ')'))
            parens--;
        else if (st->nt > 1 && word_tok(s, &st->t[0], "CREATE") && parens <= 0) {
            if (word_tok(s, &t, "BEGIN") || (block > 0 && word_tok(s, &t, "CASE")))
                block++;
            else if (block > 0 && word_tok(s, &t, "END"))
                block--;
        }
        if (st->nt > 2 && word_tok(s, &t, "VALUE") && word_tok(s, &st->t[0], "ALTER") &&
            word_tok(s, &st->t[1], "TYPE"))
            st->add_value = true;
    }
}

/* The statement that cannot run inside a transaction block, or NULL. */
static const char *no_txn_statement(const char *s, const struct stmt *st)
{
    if (word_at(s, st, 0, "VACUUM"))
        return "VACUUM";
    if ((word_at(s, st, 0, "CREATE") || word_at(s, st, 0, "DROP")) &&
        (word_at(s, st, 1, "DATABASE") || word_at(s, st, 1, "TABLESPACE")))
        return word_at(s, st, 1, "DATABASE") ? "CREATE/DROP DATABASE" : "CREATE/DROP TABLESPACE";
    if (word_at(s, st, 0, "ALTER") && word_at(s, st, 1, "SYSTEM"))
        return "ALTER SYSTEM";
    if (word_at(s, st, 0, "ALTER") && word_at(s, st, 1, "TYPE") && st->add_value)
        return "ALTER TYPE ... ADD VALUE";
    bool index = word_at(s, st, 0, "REINDEX") ||
                 ((word_at(s, st, 0, "CREATE") || word_at(s, st, 0, "DROP")) &&
                  (word_at(s, st, 1, "INDEX") || word_at(s, st, 2, "INDEX")));
    for (size_t k = 1; index && k < 6; k++)
        if (word_at(s, st, k, "CONCURRENTLY"))
            return word_at(s, st, 0, "REINDEX") ? "REINDEX CONCURRENTLY"
                   : word_at(s, st, 0, "DROP")  ? "DROP INDEX CONCURRENTLY"
                                                : "CREATE INDEX CONCURRENTLY";
    return NULL;
}

/* Transaction control: the word (as the compiler's transaction-control
 * rule reads it), or NULL. */
static const char *txn_control(const char *s, const struct stmt *st)
{
    static const char *const words[] = { "BEGIN", "COMMIT", "ROLLBACK", "END", "ABORT", "SAVEPOINT", "RELEASE", NULL };
    for (size_t k = 0; words[k]; k++)
        if (word_at(s, st, 0, words[k]))
            return words[k];
    if (word_at(s, st, 1, "TRANSACTION") && (word_at(s, st, 0, "START") || word_at(s, st, 0, "PREPARE")))
        return word_at(s, st, 0, "START") ? "START TRANSACTION" : "PREPARE TRANSACTION";
    return NULL;
}

/* BEGIN [WORK|TRANSACTION], BEGIN DEFERRED|IMMEDIATE|EXCLUSIVE [TRANSACTION]
 * (SQLite), START TRANSACTION: a plain opening, nothing else. */
static bool is_open(const char *s, const struct stmt *st)
{
    if (word_at(s, st, 0, "START"))
        return st->nt == 2 && word_at(s, st, 1, "TRANSACTION");
    if (!word_at(s, st, 0, "BEGIN"))
        return false;
    size_t i = 1;
    if (word_at(s, st, i, "DEFERRED") || word_at(s, st, i, "IMMEDIATE") || word_at(s, st, i, "EXCLUSIVE"))
        i++;
    if (word_at(s, st, i, "WORK") || word_at(s, st, i, "TRANSACTION"))
        i++;
    return st->nt == i;
}

/* COMMIT|END [WORK|TRANSACTION], and with rollback also ROLLBACK […]. */
static bool is_close(const char *s, const struct stmt *st, bool rollback)
{
    if (!word_at(s, st, 0, "COMMIT") && !word_at(s, st, 0, "END") && !(rollback && word_at(s, st, 0, "ROLLBACK")))
        return false;
    return st->nt == 1 || (st->nt == 2 && (word_at(s, st, 1, "WORK") || word_at(s, st, 1, "TRANSACTION")));
}

/* What a body holds, for the step's transaction mode. */
struct facts {
    unsigned nstmts;
    const char *no_txn;             /* a statement that cannot run in a transaction */
    const char *control;            /* transaction control other than a wrapper */
    bool wrapped;                   /* first statement opens, last closes */
    struct stmt open, close;
};

static void body_facts(const struct imp_body *b, bool verify, struct facts *f)
{
    memset(f, 0, sizeof(*f));
    struct stmt st, first = { 0 }, last = { 0 };
    const char *ctl_first = NULL, *ctl_mid = NULL, *ctl_last = NULL;
    for (size_t pos = 0; next_stmt(rules_of(b->dialect), b->sql, b->len, &pos, &st);) {
        const char *w = txn_control(b->sql, &st);
        if (f->nstmts == 0) {
            first = st;
            ctl_first = w;
        } else {
            if (f->nstmts >= 2 && ctl_last && !ctl_mid)
                ctl_mid = ctl_last;     /* the last one so far was in the middle */
            last = st;
            ctl_last = w;
        }
        f->nstmts++;
        if (!f->no_txn)
            f->no_txn = no_txn_statement(b->sql, &st);
    }
    if (f->nstmts >= 2 && !ctl_mid && ctl_first && is_open(b->sql, &first) && ctl_last &&
        is_close(b->sql, &last, verify)) {
        f->wrapped = true;
        f->open = first;
        f->close = last;
    } else {
        f->control = ctl_first ? ctl_first : ctl_mid ? ctl_mid : ctl_last;
    }
}

/* The text with the wrapper's two statements cut out, each with the
 * blanks and the newline after it (and a blank line it leaves doubled). */
static void strip_wrapper(struct imp_ctx *c, struct imp_body *b, const struct facts *f)
{
    char *out = mig_arena_alloc(c->arena, b->len + 1);
    size_t n = 0, from = 0;
    const struct stmt *cut[2] = { &f->open, &f->close };
    for (int k = 0; k < 2; k++) {
        size_t s = cut[k]->start, e = cut[k]->end;
        while (e < b->len && (b->sql[e] == ' ' || b->sql[e] == '\t' || b->sql[e] == '\r'))
            e++;
        if (e < b->len && b->sql[e] == '\n') {
            e++;
            /* "x\n\nBEGIN;\n\ny" keeps one blank line, not two */
            size_t blank = e;
            while (blank < b->len && (b->sql[blank] == ' ' || b->sql[blank] == '\t' || b->sql[blank] == '\r'))
                blank++;
            bool line_starts = s == 0 || b->sql[s - 1] == '\n';
            if (line_starts && blank < b->len && b->sql[blank] == '\n' && s >= 2 && b->sql[s - 2] == '\n')
                e = blank + 1;
        }
        memcpy(out + n, b->sql + from, s - from);
        n += s - from;
        from = e;
    }
    memcpy(out + n, b->sql + from, b->len - from);
    n += b->len - from;
    out[n] = 0;
    b->sql = out;
    b->len = n;
}

/* Whether the text holds any code (not only blanks and comments). */
static bool has_code(const struct imp_body *b)
{
    struct mig_sqltoken t;
    for (size_t pos = 0;; pos = t.end) {
        mig_sql_next_in(rules_of(b->dialect), b->sql, pos, b->len, &t);
        if (t.kind == SQLT_EOF)
            return false;
        if (mig_sqltok_is_code(t.kind) || t.kind == SQLT_UNTERMINATED)
            return true;
    }
}

bool imp_has_placeholder(const char *sql, size_t len)
{
    struct mig_sqltoken t;
    for (size_t pos = 0;; pos = t.end) {
        mig_sql_next(sql, pos, len, &t);
        if (t.kind == SQLT_EOF)
            return false;
        if (t.kind == SQLT_LINE_COMMENT || t.kind == SQLT_BLOCK_COMMENT)
            continue;
        for (size_t i = t.start; i + 1 < t.end; i++)
            if (sql[i] == '$' && sql[i + 1] == '{')
                return true;
    }
}

/* ---- embedding ------------------------------------------------------------------- */

/* Length of the UTF-8 sequence at s (RFC 3629: shortest form, no
 * surrogates, nothing above U+10FFFF), or 0 when it is not one. */
static size_t utf8_one(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 1, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 2, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 3, cp = c & 0x07;
    else
        return 0;
    for (size_t k = 1; k <= n; k++) {
        if (k >= len || (s[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n + 1;
}

/* Offset of the first byte that is not UTF-8, or len. */
static size_t utf8_bad(const unsigned char *s, size_t len)
{
    for (size_t i = 0, n; i < len; i += n)
        if ((n = utf8_one(s + i, len - i)) == 0)
            return i;
    return len;
}

/* Why the text cannot be the body of a `sql { … }` block that says exactly
 * what it says (NULL when it can): the block must end at our '}', no `${…}`
 * may be read as an interpolation, and the compiler must accept the bytes. */
static const char *embed_problem(struct imp_ctx *c, const struct imp_body *b)
{
    if (memchr(b->sql, 0, b->len))
        return "it holds a NUL byte";
    size_t bad = utf8_bad((const unsigned char *)b->sql, b->len);
    if (bad < b->len)
        return mig_arena_printf(c->arena, "it is not UTF-8 (byte %zu)", bad + 1);
    char *text = mig_arena_alloc(c->arena, b->len + 3);
    memcpy(text, b->sql, b->len);
    memcpy(text + b->len, "\n}", 3);
    size_t close = 0, why_off = 0;
    const char *why = NULL;
    enum mig_sqlrules rules = rules_of(b->dialect);
    if (!mig_sql_body_end_in(rules, text, 0, b->len + 2, &close, &why, &why_off)) {
        if (strcmp(why, "braces") == 0)
            return "its braces do not balance outside literals and comments, so it cannot be a sql { } body";
        unsigned line = 1;
        for (size_t i = 0; i < why_off && i < b->len; i++)
            line += b->sql[i] == '\n';
        return mig_arena_printf(c->arena, "the %s opened on its line %u is not closed", why, line);
    }
    if (close != b->len + 1)
        return "a '}' outside literals and comments closes it early, so it cannot be a sql { } body";
    /* a body without a dialect is also read with SQLite's quotes where it may run there */
    for (int pass = 0; pass < (b->dialect == IMP_ANY ? 2 : 1); pass++) {
        enum mig_sqlrules r = pass ? MIG_SQL_SQLITE : rules;
        struct mig_sqltoken t, prev = { .kind = SQLT_EOF };
        for (size_t pos = 0;; prev = t, pos = t.end) {
            mig_sql_next_in(r, b->sql, pos, b->len, &t);
            if (t.kind == SQLT_EOF)
                break;
            if (t.kind == SQLT_INTERP || t.kind == SQLT_BAD_INTERP)
                return "it holds ${…} outside quotes, which mig would read as an interpolation";
            if (pass == 1 && t.kind != SQLT_QIDENT)
                continue;   /* SQLite's quotes are only looked at for ${…} in […] and `…` */
            if (t.kind == SQLT_UNTERMINATED)
                return mig_arena_printf(c->arena, "%s", t.what ? t.what : "a literal is not closed");
            if (t.kind == SQLT_QIDENT) {
                for (size_t i = t.start; i + 1 < t.end; i++)
                    if (b->sql[i] == '$' && b->sql[i + 1] == '{')
                        return "it holds ${…} inside a quoted name, which mig refuses (quoted-interpolation)";
            }
            if (punct_tok(b->sql, &t, '\\')) {
                size_t i = t.start;
                while (i > 0 && (b->sql[i - 1] == ' ' || b->sql[i - 1] == '\t'))
                    i--;
                if (i == 0 || b->sql[i - 1] == '\n')
                    return "it holds a psql meta-command (a line starting with '\\'): mig runs SQL, not psql";
            }
            if ((t.kind == SQLT_STRING || t.kind == SQLT_QIDENT) && punct_tok(b->sql, &prev, ':') &&
                prev.end == t.start && (prev.start == 0 || b->sql[prev.start - 1] != ':'))
                return "it holds a psql variable (:'name' or :\"name\"): mig runs SQL, not psql";
        }
    }
    return NULL;
}

/* ---- analysis -------------------------------------------------------------------- */

static const char *dialect_kw(enum imp_dialect d)
{
    return d == IMP_PG ? "postgres" : d == IMP_SQLITE ? "sqlite" : NULL;
}

/* The dialects a list of variants covers: bit 1 PG, bit 2 SQLite. */
static unsigned coverage(const struct imp_bodies *v)
{
    unsigned m = 0;
    for (size_t i = 0; i < v->n; i++)
        m |= v->v[i].dialect == IMP_ANY ? 3u : v->v[i].dialect == IMP_PG ? 1u : 2u;
    return m;
}

static void strip_bom(struct imp_ctx *c, struct imp_migration *m, struct imp_body *b)
{
    if (b->len >= 3 && memcmp(b->sql, "\xEF\xBB\xBF", 3) == 0) {
        b->sql += 3;
        b->len -= 3;
        imp_note(c, "%s: %s: its byte order mark was dropped", m->id, b->origin);
    }
}

/* Splits a verify script into its statements (without a BEGIN … ROLLBACK
 * wrapper): each becomes `verify exists sql { … } or true`, which passes
 * unless the statement fails, as a Sqitch verify script does. */
static void analyse_verify(struct imp_ctx *c, struct imp_migration *m, struct imp_step *s, struct imp_body *b)
{
    struct facts f;
    body_facts(b, true, &f);
    if (f.control) {
        imp_lost(c, "%s: %s: it controls transactions (%s): its checks were not converted", m->id, b->origin,
                 f.control);
        return;
    }
    if (f.no_txn) {
        imp_lost(c, "%s: %s: %s cannot run in a verify: its checks were not converted", m->id, b->origin, f.no_txn);
        return;
    }
    struct stmt st;
    size_t before = s->verifies.n;
    for (size_t pos = 0; next_stmt(rules_of(b->dialect), b->sql, b->len, &pos, &st);) {
        if (f.wrapped && (st.start == f.open.start || st.start == f.close.start))
            continue;
        struct imp_body one = { b->dialect, b->sql + st.start, st.end - st.start, b->origin };
        const char *why = embed_problem(c, &one);
        if (why) {
            imp_lost(c, "%s: %s: a check was not converted: %s", m->id, b->origin, why);
            continue;
        }
        MIG_PUSH(c->arena, s->verifies, one);
    }
    if (s->verifies.n == before)
        imp_note(c, "%s: %s holds no statement: nothing to verify", m->id, b->origin);
}

/* Decides a step: its transaction mode, its wrappers, whether its down is
 * irreversible. The bodies were checked by analyse(). */
static void analyse_step(struct imp_ctx *c, struct imp_migration *m, struct imp_step *s)
{
    struct imp_bodies *sides[2] = { &s->up, &s->down };
    struct facts f[2][3];   /* the readers give at most one body per dialect */
    const char *none = NULL;
    if (s->no_txn)
        none = mig_arena_printf(c->arena, "%s", s->no_txn);
    for (int k = 0; k < 2; k++)
        if (sides[k]->n > 3)
            sides[k]->n = 3;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < sides[k]->n; i++) {
            body_facts(&sides[k]->v[i], false, &f[k][i]);
            if (!none && f[k][i].no_txn)
                none = mig_arena_printf(c->arena, "%s: %s cannot run inside a transaction",
                                        sides[k]->v[i].origin, f[k][i].no_txn);
        }
    for (int k = 0; k < 2 && !none; k++)
        for (size_t i = 0; i < sides[k]->n && !none; i++)
            if (f[k][i].control)
                none = mig_arena_printf(c->arena, "%s: it controls its own transactions (%s)",
                                        sides[k]->v[i].origin, f[k][i].control);
    if (none) {
        s->txn_none = true;
        s->txn_why = none;
        imp_note(c, "%s: transaction none: %s", m->id, none);
    } else {
        for (int k = 0; k < 2; k++)
            for (size_t i = 0; i < sides[k]->n; i++)
                if (f[k][i].wrapped) {
                    struct imp_body *b = &sides[k]->v[i];
                    const char *open = mig_arena_strndup(c->arena, b->sql + f[k][i].open.t[0].start,
                                                         f[k][i].open.t[0].end - f[k][i].open.t[0].start);
                    const char *close = mig_arena_strndup(c->arena, b->sql + f[k][i].close.t[0].start,
                                                          f[k][i].close.t[0].end - f[k][i].close.t[0].start);
                    strip_wrapper(c, b, &f[k][i]);
                    MIG_PUSH(c->arena, s->comments,
                             mig_arena_printf(c->arena, "%s: its %s and %s were removed (mig runs the step in a transaction)",
                                              b->origin, open, close));
                    c->unwrapped++;
                }
    }
    for (size_t i = 0; i < s->up.n; i++)
        if (!has_code(&s->up.v[i]))
            imp_note(c, "%s: %s holds no statement", m->id, s->up.v[i].origin);
    bool empty = s->down.n > 0;
    for (size_t i = 0; i < s->down.n; i++)
        empty = empty && !has_code(&s->down.v[i]);
    if (s->down.n == 0 || empty) {
        s->irreversible = true;
        s->down.n = 0;
        imp_note(c, "%s: %s: down irreversible \"imported without a down\"", m->id,
                 empty ? "its down holds no statement" : "no down in the source");
    } else if ((coverage(&s->down) & coverage(&s->up)) != coverage(&s->up)) {
        s->irreversible = true;
        s->down.n = 0;
        imp_note(c, "%s: its down has no SQL for %s: down irreversible \"imported without a down\"", m->id,
                 (coverage(&s->up) & ~coverage(&s->down) & 1u) ? "postgres" : "sqlite");
    }
    for (size_t i = 0; i < s->verify.n; i++)
        analyse_verify(c, m, s, &s->verify.v[i]);
}

/* Checks every text of a migration (skipping it when one cannot be
 * embedded), then decides its steps. */
static void analyse(struct imp_ctx *c, struct imp_migration *m)
{
    for (size_t si = 0; si < m->steps.n; si++) {
        struct imp_step *s = &m->steps.v[si];
        struct imp_bodies *all[3] = { &s->up, &s->down, &s->verify };
        for (int k = 0; k < 3; k++)
            for (size_t i = 0; i < all[k]->n; i++) {
                struct imp_body *b = &all[k]->v[i];
                strip_bom(c, m, b);
                if (k == 2)
                    continue;   /* verify statements are checked one by one */
                const char *why = embed_problem(c, b);
                if (why && !m->skip) {
                    imp_lost(c, "%s: not converted: %s: %s", m->id, b->origin, why);
                    m->skip = true;
                }
            }
        if (s->up.n == 0 && !m->skip) {
            imp_lost(c, "%s: not converted: no up in the source", m->id);
            m->skip = true;
        }
    }
    if (!m->skip)
        for (size_t si = 0; si < m->steps.n; si++)
            analyse_step(c, m, &m->steps.v[si]);
}

/* ---- names ----------------------------------------------------------------------- */

static bool is_keyword(const char *w)
{
    static const char *const kw[] = {
        "import", "module", "migration", "after", "target", "param", "let", "fn", "require", "else", "phase",
        "step", "when", "up", "down", "verify", "assert", "sql", "file", "irreversible", "transaction",
        "timeout", "lock_timeout", "retry", "every", "batch", "max", "exists", "scalar", "and", "or", "not",
        "true", "false", "null", "exec", "output", "none", "optional", "restores", "within", "env", "cwd",
        "postgres", "sqlite", "int", "float", "string", "bool", "duration", NULL,
    };
    for (size_t i = 0; kw[i]; i++)
        if (strcmp(kw[i], w) == 0)
            return true;
    return false;
}

/* An identifier from base: lower case, other characters become '_' (runs
 * of '_' collapse), a leading digit gets a 'v' (a version), a keyword a '_'. */
static const char *identifier(struct imp_ctx *c, const char *base)
{
    size_t n = strlen(base);
    char *out = mig_arena_alloc(c->arena, n + 3);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = base[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!ok && (o == 0 || out[o - 1] == '_'))
            continue;
        out[o++] = !ok ? '_' : ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    }
    while (o > 0 && out[o - 1] == '_')
        o--;
    out[o] = 0;
    if (o == 0)
        return "m";
    if (out[0] >= '0' && out[0] <= '9')
        return mig_arena_printf(c->arena, "v%s", out);
    if (is_keyword(out))
        return mig_arena_printf(c->arena, "%s_", out);
    return out;
}

static void name_migrations(struct imp_ctx *c)
{
    struct mig_strmap used = { .arena = c->arena };
    for (size_t i = 0; i < c->migs.n; i++) {
        struct imp_migration *m = c->migs.v[i];
        if (m->skip)
            continue;
        const char *name = identifier(c, m->base);
        for (unsigned k = 2; mig_strmap_get(&used, name); k++)
            name = mig_arena_printf(c->arena, "%s_%u", identifier(c, m->base), k);
        if (strcmp(name, identifier(c, m->base)) != 0)
            imp_note(c, "%s: named %s (%s is taken)", m->id, name, identifier(c, m->base));
        mig_strmap_put(&used, name, m);
        m->name = name;
    }
}

/* ---- text ------------------------------------------------------------------------ */

struct buf {
    char *s;
    size_t n, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            fputs("migc: error: out of memory\n", stderr);
            exit(EXIT_ERRORS);
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    put(b, tmp, n < 0 ? 0 : (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Text for a comment or a string: UTF-8 kept, control characters and bytes
 * that are not UTF-8 become '?'; in a string '"' and '\' are escaped. */
static void put_clean(struct buf *b, const char *s, bool string)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s);
    for (size_t i = 0, n; i < len; i += n) {
        n = utf8_one(u + i, len - i);
        if (n == 0) {
            put(b, "?", 1);
            n = 1;
        } else if (u[i] < 0x20 || u[i] == 0x7F)
            put(b, "?", 1);
        else if (string && (u[i] == '"' || u[i] == '\\'))
            putf(b, "\\%c", u[i]);
        else
            put(b, s + i, n);
    }
}

static void put_comment(struct buf *b, const char *indent, const char *text)
{
    puts_(b, indent);
    puts_(b, "# ");
    put_clean(b, text, false);
    puts_(b, "\n");
}

/* Leading blank lines and trailing white space off: the SQL itself is kept
 * byte for byte. */
static void trimmed(const struct imp_body *body, const char **s, size_t *n)
{
    const char *p = body->sql, *e = body->sql + body->len;
    const char *q = p;
    while (q < e && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')) {
        if (*q == '\n')
            p = q + 1;
        q++;
    }
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    *s = p;
    *n = (size_t)(e - p);
}

/* `sql [dialect] {` NEWLINE the SQL NEWLINE indent `}`: the newline before
 * the brace ends a trailing -- comment. */
static void put_sql(struct buf *b, const struct imp_body *body, const char *indent)
{
    const char *s;
    size_t n;
    trimmed(body, &s, &n);
    puts_(b, "sql ");
    if (body->dialect != IMP_ANY)
        putf(b, "%s ", dialect_kw(body->dialect));
    puts_(b, "{\n");
    put(b, s, n);
    puts_(b, "\n");
    puts_(b, indent);
    puts_(b, "}");
}

static void put_action(struct buf *b, const char *kw, const struct imp_bodies *v, const char *indent)
{
    /* the variant without a dialect first, then postgres, then sqlite */
    bool first = true;
    for (int d = IMP_ANY; d <= IMP_SQLITE; d++)
        for (size_t i = 0; i < v->n; i++) {
            if ((int)v->v[i].dialect != d)
                continue;
            if (first)
                putf(b, "%s%s ", indent, kw);
            else
                putf(b, "\n%s%*s", indent, (int)strlen(kw) + 1, "");
            put_sql(b, &v->v[i], indent);
            first = false;
        }
    puts_(b, "\n");
}

static void put_step(struct buf *b, const struct imp_step *s, const char *name, const char *indent)
{
    char inner[32];
    snprintf(inner, sizeof(inner), "%s  ", indent);
    for (size_t i = 0; i < s->comments.n; i++)
        put_comment(b, indent, s->comments.v[i]);
    putf(b, "%sstep %s {\n", indent, name);
    put_action(b, "up", &s->up, inner);
    if (s->irreversible)
        putf(b, "%sdown irreversible \"imported without a down\";\n", inner);
    else
        put_action(b, "down", &s->down, inner);
    const char *origin = NULL;
    for (size_t i = 0; i < s->verifies.n; i++) {
        if (!origin || strcmp(origin, s->verifies.v[i].origin) != 0) {
            origin = s->verifies.v[i].origin;
            char line[512];
            snprintf(line, sizeof(line), "%s: passes unless a statement fails", origin);
            put_comment(b, inner, line);
        }
        putf(b, "%sverify exists ", inner);
        put_sql(b, &s->verifies.v[i], inner);
        puts_(b, " or true;\n");
    }
    putf(b, "%s}\n", indent);
}

/* The .mig text of a migration (before `migc fmt`). */
static void emit(struct imp_ctx *c, const struct imp_migration *m, const char *prev, struct buf *b)
{
    putf(b, "# Imported by migc import --from %s from:\n", c->tool);
    for (size_t i = 0; i < m->files.n; i++) {
        char line[1024];
        snprintf(line, sizeof(line), "  %s", m->files.v[i]);
        put_comment(b, "", line);
    }
    for (size_t i = 0; i < m->remarks.n; i++)
        put_comment(b, "", m->remarks.v[i]);
    putf(b, "migration %s", m->name);
    if (m->title) {
        puts_(b, " \"");
        put_clean(b, m->title, true);
        puts_(b, "\"");
    }
    puts_(b, " {\n");
    /* after: the previous migration, then the dependencies the source names */
    struct imp_strings after = { 0 };
    if (prev)
        MIG_PUSH(c->arena, after, prev);
    for (size_t i = 0; i < m->requires.n; i++) {
        const char *dep = NULL;
        for (size_t k = 0; k < c->migs.n; k++)
            if (c->migs.v[k]->name && strcmp(c->migs.v[k]->id, m->requires.v[i]) == 0)
                dep = c->migs.v[k]->name;
        bool dup = !dep;
        for (size_t k = 0; k < after.n && !dup; k++)
            dup = strcmp(after.v[k], dep) == 0;
        if (!dup)
            MIG_PUSH(c->arena, after, dep);
    }
    bool header = false;
    if (after.n) {
        puts_(b, "  after ");
        for (size_t i = 0; i < after.n; i++)
            putf(b, "%s%s", i ? ", " : "", after.v[i]);
        puts_(b, ";\n");
        header = true;
    }
    unsigned cov = 0;
    for (size_t i = 0; i < m->steps.n; i++)
        cov |= coverage(&m->steps.v[i].up);
    if (cov != 3) {
        putf(b, "  target %s;\n", cov == 1 ? "postgres" : "sqlite");
        header = true;
    }
    if (header)
        puts_(b, "\n");
    /* consecutive steps of one transaction mode form a phase */
    size_t nphases = 0;
    for (size_t i = 0; i < m->steps.n; i++)
        nphases += i == 0 || m->steps.v[i].txn_none != m->steps.v[i - 1].txn_none;
    for (size_t i = 0, ph = 0; i < m->steps.n; ph++) {
        size_t j = i;
        while (j < m->steps.n && m->steps.v[j].txn_none == m->steps.v[i].txn_none)
            j++;
        bool direct = nphases == 1 && !m->steps.v[i].txn_none;
        const char *indent = direct ? "  " : "    ";
        if (!direct) {
            if (nphases == 1)
                puts_(b, "  phase main {\n");
            else
                putf(b, "%s  phase part_%zu {\n", ph ? "\n" : "", ph + 1);
            if (m->steps.v[i].txn_none) {
                for (size_t k = i; k < j; k++)
                    if (m->steps.v[k].txn_why)
                        put_comment(b, "    ", m->steps.v[k].txn_why);
                puts_(b, "    transaction none;\n\n");
            }
        }
        for (size_t k = i; k < j; k++) {
            char name[32];
            if (m->steps.n == 1)
                snprintf(name, sizeof(name), "change");
            else
                snprintf(name, sizeof(name), "change_%zu", k + 1);
            if (k > i)
                puts_(b, "\n");
            put_step(b, &m->steps.v[k], name, indent);
        }
        if (!direct)
            puts_(b, "  }\n");
        i = j;
    }
    puts_(b, "}\n");
}

/* ---- the command ----------------------------------------------------------------- */

static int mkdirs(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return -1;
    for (char *q = p + 1; *q; q++)
        if (*q == '/') {
            *q = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                free(p);
                return -1;
            }
            *q = '/';
        }
    int rc = mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}


static const struct {
    const char *name;
    int (*read)(struct imp_ctx *c);
} readers[] = {
    { "golang-migrate", imp_read_golang_migrate },
    { "dbmate", imp_read_dbmate },
    { "flyway", imp_read_flyway },
    { "sqitch", imp_read_sqitch },
    { "goose", imp_read_goose },
    { "dir", imp_read_dir },
};

static int import_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int import_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("migc: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    fputs(import_usage, stderr);
    return EXIT_USAGE;
}

static void print_list(const char *title, const char *const *v, size_t n)
{
    if (!n)
        return;
    printf("%s:\n", title);
    for (size_t i = 0; i < n; i++)
        printf("  %s\n", v[i]);
}

/* Compiles the texts as migc check would; prints the errors (the warnings
 * are counted: `migc check OUTDIR` lists them). Returns the error count. */
static unsigned self_check(struct imp_ctx *c, const char **texts, size_t *lens)
{
    struct mig_program *p = mig_program_new();
    for (size_t i = 0; i < c->migs.n; i++)
        if (!c->migs.v[i]->skip)
            mig_program_add_text(p, c->migs.v[i]->path, texts[i], lens[i]);
    mig_program_check(p);
    struct mig_diags *d = &p->diags;
    unsigned errors = d->errors;
    if (errors) {
        printf("errors (the imported files do not compile; fix them by hand):\n");
        for (size_t i = 0; i < d->v.n; i++) {
            if (d->v.v[i].sev != MIG_ERROR)
                continue;
            struct mig_source *src = d->v.v[i].file == UINT32_MAX ? NULL : mig_source_get(&p->sources, d->v.v[i].file);
            unsigned line = 0, col = 0;
            if (src) {
                mig_source_linecol(src, d->v.v[i].start, &line, &col);
                printf("  %s:%u:%u: error: %s [%s]\n", src->path, line, col, d->v.v[i].msg, d->v.v[i].rule);
            } else {
                printf("  error: %s [%s]\n", d->v.v[i].msg, d->v.v[i].rule);
            }
        }
    }
    printf("check: %u error%s, %u warning%s", errors, errors == 1 ? "" : "s", d->warnings,
           d->warnings == 1 ? "" : "s");
    fputs(d->warnings ? " (migc check lists them)\n" : "\n", stdout);
    mig_program_free(p);
    return errors;
}

int mig_cmd_import(int argc, char **argv)
{
    const char *from = NULL, *dir = NULL, *out = NULL;
    bool force = false, opts = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts && strcmp(a, "--") == 0) {
            opts = false;
        } else if (opts && (strcmp(a, "--from") == 0 || strncmp(a, "--from=", 7) == 0)) {
            from = a[6] == '=' ? a + 7 : i + 1 < argc ? argv[++i] : NULL;
            if (!from)
                return import_usage_error("--from needs a tool name");
        } else if (opts && (strcmp(a, "-o") == 0 || strncmp(a, "-o", 2) == 0)) {
            out = a[2] ? a + 2 : i + 1 < argc ? argv[++i] : NULL;
            if (!out)
                return import_usage_error("-o needs a directory");
        } else if (opts && strcmp(a, "--force") == 0) {
            force = true;
        } else if (opts && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            fputs(import_usage, stdout);
            return EXIT_CLEAN;
        } else if (opts && a[0] == '-' && a[1]) {
            return import_usage_error("unknown option '%s'", a);
        } else if (dir) {
            return import_usage_error("import reads one DIR ('%s' and '%s' given)", dir, a);
        } else {
            dir = a;
        }
    }
    if (!from)
        return import_usage_error("import needs --from (golang-migrate, dbmate, flyway, sqitch, goose or dir)");
    int (*read)(struct imp_ctx *) = NULL;
    for (size_t i = 0; i < sizeof(readers) / sizeof(*readers); i++)
        if (strcmp(readers[i].name, from) == 0)
            read = readers[i].read;
    if (!read)
        return import_usage_error("unknown --from '%s' (expected golang-migrate, dbmate, flyway, sqitch, goose or dir)",
                                  from);
    if (!dir)
        return import_usage_error("import needs the DIR to read");
    if (!out)
        return import_usage_error("import needs -o OUTDIR");
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "migc: error: '%s' is not a directory\n", dir);
        return EXIT_USAGE;
    }

    struct mig_arena arena = { 0 };
    struct imp_ctx c;
    memset(&c, 0, sizeof(c));
    c.arena = &arena;
    c.tool = from;
    c.dir = dir;
    if (read(&c) != 0) {
        mig_arena_free(&arena);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < c.migs.n; i++)
        analyse(&c, c.migs.v[i]);
    if (c.unwrapped)
        imp_note(&c, "BEGIN … COMMIT removed from %u script%s: mig runs each step in a transaction "
                     "(a comment above each step says which)",
                 c.unwrapped, c.unwrapped == 1 ? "" : "s");
    name_migrations(&c);

    /* the texts, in memory first: nothing is written when one would overwrite a file */
    const char **texts = mig_arena_alloc(&arena, (c.migs.n + 1) * sizeof(*texts));
    size_t *lens = mig_arena_alloc(&arena, (c.migs.n + 1) * sizeof(*lens));
    const char *prev = NULL;
    size_t nwritten = 0;
    int rc = EXIT_CLEAN;
    for (size_t i = 0; i < c.migs.n; i++) {
        struct imp_migration *m = c.migs.v[i];
        if (m->skip)
            continue;
        m->path = mig_arena_printf(&arena, "%s/%s.mig", out, m->name);
        struct buf b = { 0 };
        emit(&c, m, prev, &b);
        char *fmt = NULL;
        size_t fn = 0;
        if (mig_format(b.s, b.n, &fmt, &fn) == 0) {
            texts[i] = mig_arena_strndup(&arena, fmt, fn);
            lens[i] = fn;
        } else {
            texts[i] = mig_arena_strndup(&arena, b.s, b.n);
            lens[i] = b.n;
        }
        free(fmt);
        free(b.s);
        prev = m->name;
        if (!force && access(m->path, F_OK) == 0) {
            fprintf(stderr, "migc: error: '%s' exists: give --force to overwrite it\n", m->path);
            rc = EXIT_USAGE;
        }
    }
    if (rc != EXIT_CLEAN) {
        mig_arena_free(&arena);
        return rc;
    }
    if (mkdirs(out) != 0) {
        fprintf(stderr, "migc: error: cannot create '%s': %s\n", out, strerror(errno));
        mig_arena_free(&arena);
        return EXIT_ERRORS;
    }
    size_t nmigs = 0;
    for (size_t i = 0; i < c.migs.n; i++)
        nmigs += !c.migs.v[i]->skip;
    if (c.migs.n == 0)
        imp_lost(&c, "%s: no migration found in %s's layout", dir, from);
    printf("imported %zu migration%s from %s into %s\n", nmigs, nmigs == 1 ? "" : "s", from, out);
    for (size_t i = 0; i < c.migs.n; i++) {
        struct imp_migration *m = c.migs.v[i];
        if (m->skip)
            continue;
        if (mig_write_replacing(m->path, texts[i], lens[i]) != 0) {
            rc = EXIT_ERRORS;
            continue;
        }
        nwritten++;
        printf("  %s.mig  <-", m->name);
        for (size_t k = 0; k < m->files.n; k++)
            printf(" %s", m->files.v[k]);
        printf("\n");
    }
    print_list("notes", c.report.notes.v, c.report.notes.n);
    print_list("not converted", c.report.lost.v, c.report.lost.n);
    print_list("ignored", c.report.ignored.v, c.report.ignored.n);
    unsigned errors = nmigs ? self_check(&c, texts, lens) : 0;
    if (c.report.lost.n || errors)
        rc = EXIT_ERRORS;
    (void)nwritten;
    mig_arena_free(&arena);
    return rc;
}
