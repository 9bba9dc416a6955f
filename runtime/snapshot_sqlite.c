/* snapshot_sqlite.c — SQLite keeps a table's definition as the text of its
 * CREATE TABLE (rewritten by ALTER TABLE): migrun test splits it into the
 * table, its columns and its table constraints, so that a difference names
 * the column or constraint, and normalizes the text (spacing, case, quotes
 * of plain names), so that a table made again by a down in the usual
 * "create the new table, copy, rename" way compares equal when it is. */
#include "lib/sqllex.h"
#include "snapshot.h"
#include <ctype.h>
#include <string.h>

/* migrun test's snapshot: sqlite_master (runtime/snapshot_sqlite.c splits
 * each CREATE TABLE into its columns and constraints); schema_version
 * tells whether it changed; total_changes() (with schema_version: a
 * column added or dropped changes every row) whether any row did. */
#define SQ_USER "name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE 'mig\\_%' ESCAPE '\\'"
/* (read whole after every up and down: no expression, no filter; the
 * reading — snapshot_read.c — keys each text once, leaves out SQLite's and
 * mig's objects and those without text, and finds the others by their
 * text the next times) */
static const char *const sq_snapshot_schema[] = {
    "SELECT sql, type, name FROM sqlite_master",
    NULL,
};

static const char *const sq_scratch_setup[] = { "PRAGMA journal_mode = MEMORY", "PRAGMA synchronous = OFF", NULL };

const struct mig_snapshot_sql mig_snapshot_sqlite = {
    .schema = sq_snapshot_schema,
    .setup = sq_scratch_setup,
    .version = "PRAGMA schema_version",
    .tables = "SELECT lower(name), '\"' || replace(name, '\"', '\"\"') || '\"' FROM sqlite_master "
              "WHERE type = 'table' AND " SQ_USER,
    .rows_version = "SELECT total_changes() || ' ' || (SELECT schema_version FROM pragma_schema_version)",
};
#undef SQ_USER

struct tok {
    enum mig_sqltok kind;
    size_t start, end;
};

struct toks {
    struct tok *v;
    size_t n, cap;
};

static void lex(struct mig_arena *a, const char *sql, struct toks *out)
{
    size_t len = strlen(sql), pos = 0;
    struct mig_sqltoken t;
    for (;;) {
        mig_sql_next_in(MIG_SQL_SQLITE, sql, pos, len, &t);
        if (t.kind == SQLT_EOF || t.end <= pos)
            break;
        if (mig_sqltok_is_code(t.kind)) {
            struct tok k = { t.kind, t.start, t.end };
            MIG_PUSH(a, *out, k);
        }
        pos = t.end;
    }
}

static bool plain_name(const char *s, size_t n)
{
    if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '$'))
            return false;
    return true;
}

/* One token, normalized, appended to buf. */
static void put_tok(const char *sql, const struct tok *t, char *buf, size_t *k)
{
    const char *s = sql + t->start;
    size_t n = t->end - t->start;
    if (t->kind == SQLT_WORD) {
        for (size_t i = 0; i < n; i++)
            buf[(*k)++] = (char)tolower((unsigned char)s[i]);
        return;
    }
    if (t->kind == SQLT_QIDENT && n >= 2 && plain_name(s + 1, n - 2)) {
        for (size_t i = 1; i + 1 < n; i++)
            buf[(*k)++] = (char)tolower((unsigned char)s[i]);
        return;
    }
    memcpy(buf + *k, s, n);
    *k += n;
}

static char *norm_range(struct mig_arena *a, const char *sql, const struct tok *v, size_t from, size_t to)
{
    size_t cap = 1;
    for (size_t i = from; i < to; i++)
        cap += v[i].end - v[i].start + 1;
    char *buf = mig_arena_alloc(a, cap);
    size_t k = 0;
    for (size_t i = from; i < to; i++) {
        if (k)
            buf[k++] = ' ';
        put_tok(sql, &v[i], buf, &k);
    }
    buf[k] = 0;
    return buf;
}

char *mig_snapshot_sqlite_norm(struct mig_arena *a, const char *sql)
{
    struct toks t = { 0 };
    lex(a, sql, &t);
    return norm_range(a, sql, t.v, 0, t.n);
}

static bool is_word(const char *sql, const struct tok *t, const char *w)
{
    size_t n = strlen(w);
    return t->kind == SQLT_WORD && t->end - t->start == n && strncasecmp(sql + t->start, w, n) == 0;
}

static bool is_punct(const char *sql, const struct tok *t, char c)
{
    return t->kind == SQLT_PUNCT && t->end - t->start == 1 && sql[t->start] == c;
}

void mig_snapshot_sqlite_table(struct mig_arena *a, const char *table, const char *sql,
                               void (*emit)(void *ctx, const char *key, const char *def), void *ctx)
{
    struct toks t = { 0 };
    lex(a, sql, &t);
    size_t open = t.n;
    bool is_virtual = t.n > 1 && is_word(sql, &t.v[1], "virtual");
    for (size_t i = 0; i < t.n && !is_virtual; i++)
        if (is_punct(sql, &t.v[i], '(')) {
            open = i;
            break;
        }
    if (open == t.n) {
        emit(ctx, mig_arena_printf(a, "table %s", table), norm_range(a, sql, t.v, 0, t.n));
        return;
    }
    int depth = 0;
    size_t start = open + 1, close = t.n;
    for (size_t i = open + 1; i < t.n; i++) {
        bool end = false;
        if (is_punct(sql, &t.v[i], '('))
            depth++;
        else if (is_punct(sql, &t.v[i], ')') && depth > 0)
            depth--;
        else if (is_punct(sql, &t.v[i], ')'))
            end = true, close = i;
        else if (is_punct(sql, &t.v[i], ',') && depth == 0)
            end = true;
        if (!end)
            continue;
        if (i > start) {
            const struct tok *f = &t.v[start];
            if (is_word(sql, f, "constraint") && i > start + 1) {
                emit(ctx, mig_arena_printf(a, "constraint %s.%s", table, norm_range(a, sql, t.v, start + 1, start + 2)),
                     norm_range(a, sql, t.v, start + 2, i));
            } else if (is_word(sql, f, "primary") || is_word(sql, f, "unique") || is_word(sql, f, "check") ||
                       is_word(sql, f, "foreign")) {
                emit(ctx, mig_arena_printf(a, "constraint %s: %s", table, norm_range(a, sql, t.v, start, i)), "");
            } else {
                emit(ctx, mig_arena_printf(a, "column %s.%s", table, norm_range(a, sql, t.v, start, start + 1)),
                     norm_range(a, sql, t.v, start + 1, i));
            }
        }
        start = i + 1;
        if (close != t.n)
            break;
    }
    emit(ctx, mig_arena_printf(a, "table %s", table), close < t.n ? norm_range(a, sql, t.v, close + 1, t.n) : "");
}

/* The name at t->v[j] ([schema.]name): its text in a, and in *last its last token; NULL when there is none. */
static const char *name_at(struct mig_arena *a, const char *sql, const struct toks *t, size_t j, size_t *last)
{
    *last = j;
    if (j + 2 < t->n && is_punct(sql, &t->v[j + 1], '.'))
        *last = j + 2;
    if (*last >= t->n || (t->v[j].kind != SQLT_WORD && t->v[j].kind != SQLT_QIDENT) ||
        (t->v[*last].kind != SQLT_WORD && t->v[*last].kind != SQLT_QIDENT))
        return NULL;
    return mig_arena_strndup(a, sql + t->v[j].start, t->v[*last].end - t->v[j].start);
}

bool mig_snapshot_sqlite_down_drops(struct mig_arena *a, const char *sql, struct mig_sqlite_drops *out)
{
    struct toks t = { 0 };
    memset(out, 0, sizeof(*out));
    lex(a, sql, &t);
    bool keeps = true;
    for (size_t i = 0; i < t.n && keeps; i++) {
        const struct tok *k = &t.v[i];
        size_t last;
        if (is_word(sql, k, "drop") && i + 1 < t.n && is_word(sql, &t.v[i + 1], "table")) {
            /* DROP TABLE [IF EXISTS] [schema.]name */
            size_t j = i + 2;
            if (j + 1 < t.n && is_word(sql, &t.v[j], "if") && is_word(sql, &t.v[j + 1], "exists"))
                j += 2;
            const char *name = name_at(a, sql, &t, j, &last);
            if ((keeps = name != NULL))
                MIG_PUSH(a, out->tables, name);
            i = last;
        } else if (is_word(sql, k, "alter") && i + 1 < t.n && is_word(sql, &t.v[i + 1], "table")) {
            /* ALTER TABLE [schema.]name ADD …, or DROP [COLUMN] column (RENAME: below) */
            const char *name = name_at(a, sql, &t, i + 2, &last);
            keeps = name != NULL;
            if (keeps && last + 1 < t.n && is_word(sql, &t.v[last + 1], "drop")) {
                MIG_PUSH(a, out->columns_of, name);
                last++;
            }
            i = last;
        } else if (is_word(sql, k, "drop")) {
            keeps = i + 1 < t.n && (is_word(sql, &t.v[i + 1], "index") || is_word(sql, &t.v[i + 1], "view") ||
                                    is_word(sql, &t.v[i + 1], "trigger"));
        } else if (is_word(sql, k, "rename") || is_word(sql, k, "pragma") || is_word(sql, k, "temp") ||
                   is_word(sql, k, "temporary") || is_word(sql, k, "attach") || is_word(sql, k, "detach") ||
                   is_word(sql, k, "vacuum")) {
            keeps = false;
        }
    }
    return keeps;
}
