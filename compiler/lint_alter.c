/* lint_alter.c — ALTER TABLE and the column definitions of CREATE TABLE
 * and ADD COLUMN: the PostgreSQL rules about rewrites, scans and locks of
 * existing tables, and the history of column types that lets a type change
 * that rewrites nothing (varchar widening) go unreported. */
#include "lint.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A (&c->p->arena)

/* ---- types ------------------------------------------------------------------------- */

struct ctype {
    char base[64];      /* "varchar", "numeric", "timestamptz", a user type */
    char mods[32];      /* "20" or "10,2"; "" without */
    int array;          /* [] count */
};

static void canon_base(char *b)
{
    static const char *const alias[][2] = {
        { "character varying", "varchar" }, { "char varying", "varchar" }, { "character", "bpchar" },
        { "char", "bpchar" }, { "int", "int4" }, { "integer", "int4" }, { "serial", "int4" }, { "serial4", "int4" },
        { "bigint", "int8" }, { "bigserial", "int8" }, { "serial8", "int8" }, { "smallint", "int2" },
        { "smallserial", "int2" }, { "serial2", "int2" }, { "boolean", "bool" }, { "double precision", "float8" },
        { "real", "float4" }, { "decimal", "numeric" }, { "timestamp with time zone", "timestamptz" },
        { "timestamp without time zone", "timestamp" }, { "time without time zone", "time" },
        { "time with time zone", "timetz" }, { "bit varying", "varbit" },
    };
    for (size_t i = 0; i < sizeof(alias) / sizeof(*alias); i++)
        if (strcmp(b, alias[i][0]) == 0) {
            strcpy(b, alias[i][1]);
            return;
        }
}

/* The type written in tokens [i, end). */
static bool parse_type(struct lctx *c, const struct stmt *s, size_t i, size_t end, struct ctype *t)
{
    memset(t, 0, sizeof(*t));
    size_t bl = 0, ml = 0;
    int depth = 0;
    for (; i < end; i++) {
        const struct stok *k = &s->t[i];
        size_t n = k->end - k->start;
        const char *x = lint_text(c, k);
        if (lint_punct(c, s, i, '(')) {
            depth++;
            continue;
        }
        if (lint_punct(c, s, i, ')')) {
            depth--;
            continue;
        }
        if (lint_punct(c, s, i, '[')) {
            t->array++;
            continue;
        }
        if (lint_punct(c, s, i, ']') || (lint_kw(c, s, i, "pg_catalog") && lint_punct(c, s, i + 1, '.')))
            continue;
        if (lint_punct(c, s, i, '.') && bl == 0)
            continue;
        if (depth > 0) {
            if (ml + n + 1 >= sizeof(t->mods) || (k->kind != SQLT_WORD && !lint_punct(c, s, i, ',')))
                return false;
            memcpy(t->mods + ml, x, n);
            ml += n;
            continue;
        }
        if (k->kind == SQLT_QIDENT) {
            x++;
            n -= 2;
        } else if (k->kind != SQLT_WORD && !lint_punct(c, s, i, '.')) {
            return false;
        }
        if (bl + n + 2 >= sizeof(t->base))
            return false;
        if (bl && !lint_punct(c, s, i, '.') && t->base[bl - 1] != '.')
            t->base[bl++] = ' ';
        for (size_t j = 0; j < n; j++)
            t->base[bl++] = (char)(k->kind == SQLT_QIDENT ? x[j] : tolower((unsigned char)x[j]));
    }
    t->base[bl] = 0;
    t->mods[ml] = 0;
    canon_base(t->base);
    return bl > 0;
}

static char *type_string(struct lctx *c, const struct ctype *t)
{
    return mig_arena_cat(A, t->base, t->mods[0] ? "(" : "", t->mods, t->mods[0] ? ")" : "", t->array ? "[]" : "",
                         (char *)NULL);
}

static void type_from_string(const char *s, struct ctype *t)
{
    memset(t, 0, sizeof(*t));
    const char *p = strchr(s, '('), *q = p ? strchr(p, ')') : NULL;
    size_t bl = p ? (size_t)(p - s) : strcspn(s, "[");
    snprintf(t->base, sizeof(t->base), "%.*s", (int)bl, s);
    if (p && q)
        snprintf(t->mods, sizeof(t->mods), "%.*s", (int)(q - p - 1), p + 1);
    t->array = strchr(s, '[') != NULL;
}

/* Whether changing a column from type a to type b keeps its bytes (no
 * rewrite): the same type, a longer (or unbounded) varchar, varchar and
 * text, a numeric of more precision and the same scale. */
static bool same_bytes(const struct ctype *a, const struct ctype *b)
{
    if (a->array != b->array)
        return false;
    if (strcmp(a->base, b->base) == 0 && strcmp(a->mods, b->mods) == 0)
        return true;
    if (a->array)
        return false;
    bool av = strcmp(a->base, "varchar") == 0, bv = strcmp(b->base, "varchar") == 0;
    bool at = strcmp(a->base, "text") == 0, bt = strcmp(b->base, "text") == 0;
    if ((av || at) && (bt || (bv && !b->mods[0])))
        return true;
    if (av && bv && a->mods[0] && b->mods[0])
        return atol(b->mods) >= atol(a->mods);
    for (int k = 0; k < 2; k++) {
        const char *base = k ? "numeric" : "varbit";
        if (strcmp(a->base, base) || strcmp(b->base, base) || !a->mods[0])
            continue;
        if (!b->mods[0])
            return true;
        const char *as = strchr(a->mods, ','), *bs = strchr(b->mods, ',');
        if (atol(b->mods) >= atol(a->mods) && atol(as ? as + 1 : "0") == atol(bs ? bs + 1 : "0"))
            return true;
    }
    return false;
}

/* ---- history ----------------------------------------------------------------------- */

/* The keys filed under one prefix (duplicates allowed: the second visit
 * of a key finds it forgotten already). */
struct hist_keys {
    MIG_VEC(const char *) keys;
};

/* Sets key → val in m, one of the history's maps, and files the key under
 * every prefix of it that ends before a '.' (c->h->under). */
static void hist_set(struct lctx *c, struct mig_strmap *m, const char *key, void *val)
{
    if (!c->h->under.arena)
        c->h->under.arena = A;
    for (const char *dot = strchr(key, '.'); val && dot; dot = strchr(dot + 1, '.')) {
        char buf[128];
        size_t n = (size_t)(dot - key);
        char *prefix = n < sizeof(buf) ? memcpy(buf, key, n) : mig_arena_strndup(A, key, n);
        prefix[n] = 0;
        struct hist_keys *set = mig_strmap_get(&c->h->under, prefix);
        if (!set) {
            set = MIG_NEW(A, struct hist_keys);
            mig_strmap_put(&c->h->under, prefix == buf ? mig_arena_strndup(A, key, n) : prefix, set);
        }
        MIG_PUSH(A, set->keys, key);
    }
    mig_strmap_put(m, key, val);
}

static void hist_put(struct lctx *c, struct mig_strmap *m, const char *key, void *val)
{
    if (val || mig_strmap_get(m, key))
        hist_set(c, m, key, val);
}

/* Moves (to != NULL) or forgets every "from.x" key of the history: the keys
 * filed under from, not a scan of the whole history (which made a file of
 * many migrations creating tables quadratic). */
static void hist_table(struct lctx *c, const char *from, const char *to)
{
    struct mig_strmap *maps[] = { &c->h->coltype, &c->h->checked, &c->h->checkcol, &c->h->notnull };
    struct hist_keys *set = mig_strmap_get(&c->h->under, from);
    if (!set)
        return;
    mig_strmap_put(&c->h->under, from, NULL);   /* every key under from is forgotten below */
    size_t n = strlen(from);
    for (int k = 0; k < 4; k++) {
        struct mig_strmap *m = maps[k];
        for (size_t i = 0; i < set->keys.n; i++) {
            const char *key = set->keys.v[i];
            void *v = mig_strmap_get(m, key);
            if (!v)
                continue;
            mig_strmap_put(m, key, NULL);
            if (to)
                hist_set(c, m, lint_key(c, to, key + n + 1), v);
        }
    }
}

void lint_hist_drop_table(struct lctx *c, const char *table)
{
    hist_table(c, table, NULL);
}

static void hist_column(struct lctx *c, const char *table, const char *from, const char *to)
{
    char *k = lint_key(c, table, from);
    void *t = mig_strmap_get(&c->h->coltype, k), *ch = mig_strmap_get(&c->h->checked, k);
    void *nn = mig_strmap_get(&c->h->notnull, k);
    hist_put(c, &c->h->coltype, k, NULL);
    hist_put(c, &c->h->checked, k, NULL);
    hist_put(c, &c->h->notnull, k, NULL);
    if (to) {
        hist_put(c, &c->h->coltype, lint_key(c, table, to), t);
        hist_put(c, &c->h->checked, lint_key(c, table, to), ch);
        hist_put(c, &c->h->notnull, lint_key(c, table, to), nn);
    }
}

static char *part_name(struct lctx *c, const struct stmt *s, size_t j)
{
    size_t nx;
    return lint_name_at(c, s, j, &nx);
}

/* ---- column definitions ------------------------------------------------------------ */

static const char *const col_constraint_words[] = {
    "CONSTRAINT", "NOT", "NULL", "DEFAULT", "PRIMARY", "UNIQUE", "CHECK", "REFERENCES", "GENERATED",
    "COLLATE", "DEFERRABLE", "INITIALLY", "COMPRESSION", "STORAGE", NULL,
};

static bool word_in(struct lctx *c, const struct stmt *s, size_t i, const char *const *words)
{
    for (size_t k = 0; words[k]; k++)
        if (lint_kw(c, s, i, words[k]))
            return true;
    return false;
}

/* Functions a DEFAULT may call that are not volatile (stable ones too:
 * from PostgreSQL 11 they are evaluated once, when the column is added). */
static const char *const known_functions[] = {
    "now", "statement_timestamp", "transaction_timestamp", "current_timestamp", "localtimestamp", "current_time",
    "localtime", "current_date", "current_setting", "current_database", "current_schema", "current_user",
    "lower", "upper", "btrim", "trim", "substr", "substring", "replace", "concat", "concat_ws", "length", "md5",
    "to_char", "to_date", "to_timestamp", "to_number", "to_json", "to_jsonb", "json_build_object",
    "jsonb_build_object", "json_build_array", "jsonb_build_array", "array_fill", "make_date", "make_time",
    "make_timestamp", "make_timestamptz", "make_interval", "date_trunc", "date_part", "extract", "timezone",
    "coalesce", "nullif", "greatest", "least", "cast", "row", "array", "abs", "round", "floor", "ceil", "power",
    "char_length", "repeat", "lpad", "rpad", "left", "right", "encode", "decode", "uuid_nil", "interval",
    "numeric", "timestamp", "timestamptz", "date", "time", "varchar", "char", "int", "int4", "int8", "bigint",
    "decimal", "float", "bit", "character", "pg_catalog", "txid_current", "pg_current_xact_id",
    "inet_client_addr", "session_user", "current_role", "format", "split_part", "array_append", NULL,
};

static const char *const volatile_functions[] = {
    "random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4", "uuidv4", "uuidv7",
    "clock_timestamp", "timeofday", "nextval", "setseed", "random_normal", "gen_random_bytes", NULL,
};

static bool in_list(struct lctx *c, const struct stok *t, const char *const *words)
{
    size_t n = t->end - t->start;
    for (size_t k = 0; words[k]; k++)
        if (strlen(words[k]) == n && strncasecmp(lint_text(c, t), words[k], n) == 0)
            return true;
    return false;
}

struct coldef {
    char *col;
    size_t type_start, type_end;
    bool not_null, has_default, default_null;
    const struct stok *volatile_at;     /* a volatile function in the DEFAULT */
    bool unknown_fn;                    /* … which mig does not know */
    const struct stok *rewrite_at;      /* GENERATED … STORED, identity or serial */
    const char *rewrite_what;
    const struct stok *index_at;        /* an inline PRIMARY KEY or UNIQUE */
    const char *ref;                    /* REFERENCES table */
    const struct stok *ref_at;
    const struct stok *check_at;        /* an inline CHECK */
    bool primary;                       /* an inline PRIMARY KEY (NOT NULL too) */
};

/* Words after which a word followed by '(' is a function call (after
 * other words it is a type: character varying(10), AS numeric(10,2)). */
static const char *const expression_words[] = {
    "CASE", "WHEN", "THEN", "ELSE", "AND", "OR", "NOT", "IS", "IN", "BETWEEN", "LIKE", NULL,
};

/* The default expression at [i, end): its first volatile function call. */
static void scan_default(struct lctx *c, const struct stmt *s, size_t i, size_t end, struct coldef *d)
{
    int depth = 0;
    if (lint_kw(c, s, i, "NULL") && (i + 1 == end || word_in(c, s, i + 1, col_constraint_words)))
        d->default_null = true;
    for (size_t k = i; k < end; k++) {
        if (lint_punct(c, s, k, '('))
            depth++;
        else if (lint_punct(c, s, k, ')'))
            depth--;
        if (depth == 0 && k > i && word_in(c, s, k, col_constraint_words))
            return;
        if (s->t[k].kind != SQLT_WORD || !lint_punct(c, s, k + 1, '('))
            continue;
        if (k > i && (lint_punct(c, s, k - 1, ':') ||
                      (s->t[k - 1].kind == SQLT_WORD && !word_in(c, s, k - 1, expression_words))))
            continue;   /* ::varchar(10), character varying(10), AS numeric(10,2) */
        size_t name = k;
        bool qualified = k >= 2 && lint_punct(c, s, k - 1, '.');
        bool catalog = qualified && lint_kw(c, s, k - 2, "pg_catalog");
        if (in_list(c, &s->t[name], volatile_functions)) {
            d->volatile_at = &s->t[name];
            return;
        }
        if ((!qualified || catalog) && in_list(c, &s->t[name], known_functions))
            continue;
        d->volatile_at = &s->t[name];
        d->unknown_fn = true;
        return;
    }
}

/* A column definition at [i, end): name, type, constraints. */
static void parse_coldef(struct lctx *c, const struct stmt *s, size_t i, size_t end, struct coldef *d)
{
    memset(d, 0, sizeof(*d));
    size_t k;
    d->col = lint_name_at(c, s, i, &k);
    d->type_start = k;
    int depth = 0;
    for (; k < end; k++) {
        if (lint_punct(c, s, k, '('))
            depth++;
        else if (lint_punct(c, s, k, ')'))
            depth--;
        else if (depth == 0 && word_in(c, s, k, col_constraint_words))
            break;
    }
    d->type_end = k;
    if (d->type_end > d->type_start && (lint_kw(c, s, d->type_start, "serial") || lint_kw(c, s, d->type_start, "bigserial") ||
        lint_kw(c, s, d->type_start, "smallserial") || lint_kw(c, s, d->type_start, "serial2") ||
        lint_kw(c, s, d->type_start, "serial4") || lint_kw(c, s, d->type_start, "serial8"))) {
        d->rewrite_at = &s->t[d->type_start];
        d->rewrite_what = "a serial column numbers every existing row";
        d->has_default = true;
    }
    depth = 0;
    for (; k < end; k++) {
        if (lint_punct(c, s, k, '('))
            depth++;
        else if (lint_punct(c, s, k, ')'))
            depth--;
        if (depth)
            continue;
        if (lint_kw(c, s, k, "NOT") && lint_kw(c, s, k + 1, "NULL"))
            d->not_null = true;
        else if (lint_kw(c, s, k, "DEFAULT")) {
            d->has_default = true;
            scan_default(c, s, k + 1, end, d);
        } else if (lint_kw(c, s, k, "GENERATED")) {
            d->has_default = true;
            bool identity = false, stored = false;
            for (size_t j = k + 1; j < end; j++) {
                if (lint_kw(c, s, j, "IDENTITY"))
                    identity = true;
                if (lint_kw(c, s, j, "STORED"))
                    stored = true;
            }
            if (identity || stored) {
                d->rewrite_at = &s->t[k];
                d->rewrite_what = identity ? "an identity column numbers every existing row"
                                           : "a GENERATED ... STORED column is computed for every existing row";
            }
        } else if (lint_kw(c, s, k, "PRIMARY") || lint_kw(c, s, k, "UNIQUE")) {
            d->index_at = &s->t[k];
            d->primary = d->primary || lint_kw(c, s, k, "PRIMARY");
        } else if (lint_kw(c, s, k, "REFERENCES")) {
            size_t next;
            d->ref = lint_name_at(c, s, k + 1, &next);
            d->ref_at = &s->t[k];
        } else if (lint_kw(c, s, k, "CHECK") && lint_punct(c, s, k + 1, '(')) {
            d->check_at = &s->t[k];
        }
    }
}

/* The opt-in style rules about a column's type written in [start, end):
 * prefer-bigint, prefer-identity, prefer-timestamptz, prefer-text. */
void lint_style_type(struct lctx *c, const struct stmt *s, size_t start, size_t end, const char *what,
                     const char *table, const char *col)
{
    if (!c->pg || start >= end || s->t[start].kind != SQLT_WORD)
        return;
    size_t k = start;
    if (lint_kw(c, s, k, "pg_catalog") && lint_punct(c, s, k + 1, '.'))
        k += 2;
    struct mig_span at = lint_span(c, &s->t[k]);
    static const char *const ints[] = { "int", "integer", "int4", "smallint", "int2", NULL };
    static const char *const serials[] = { "serial", "serial4", "smallserial", "serial2", "bigserial", "serial8", NULL };
    if (word_in(c, s, k, ints))
        lint_warn(c, at, "prefer-bigint",
                  "%s%s.%s is a 32-bit (or 16-bit) integer: an id or a counter that outgrows it needs a rewrite of the "
                  "table to widen; use bigint", what, table, col);
    else if (word_in(c, s, k, serials))
        lint_warn(c, at, "prefer-identity",
                  "%s%s.%s is a serial, whose sequence belongs to no standard and whose grants and ownership are "
                  "separate; use bigint GENERATED BY DEFAULT AS IDENTITY", what, table, col);
    else if (lint_kw(c, s, k, "timestamp") && !lint_kw(c, s, lint_skip_parens(c, s, k + 1, end), "WITH"))
        lint_warn(c, at, "prefer-timestamptz",
                  "%s%s.%s is a timestamp without time zone: its values mean different instants on servers and "
                  "sessions of different time zones; use timestamptz", what, table, col);
    else if ((lint_kw(c, s, k, "varchar") && lint_punct(c, s, k + 1, '(')) ||
             (lint_kw(c, s, k, "character") && lint_kw(c, s, k + 1, "varying") && lint_punct(c, s, k + 2, '(')))
        lint_warn(c, at, "prefer-text",
                  "%s%s.%s is a varchar(n): raising n later is a change of type, and the limit is rarely the rule it "
                  "looks like; use text (with a CHECK (length(...) <= n) where the limit matters)", what, table, col);
}

static void remember_type(struct lctx *c, const struct stmt *s, const char *table, const struct coldef *d)
{
    if (d->col)
        lint_style_type(c, s, d->type_start, d->type_end, "column ", table, d->col);
    struct ctype t;
    if (d->col && parse_type(c, s, d->type_start, d->type_end, &t))
        hist_set(c, &c->h->coltype, lint_key(c, table, d->col), type_string(c, &t));
    if (d->col)
        hist_put(c, &c->h->notnull, lint_key(c, table, d->col), d->not_null || d->primary ? (void *)1 : NULL);
}

/* CREATE TABLE name ( columns and constraints ): the types of its columns,
 * and the lock its foreign keys take on the tables they reference. */
void lint_create_table(struct lctx *c, const struct stmt *s, size_t i, const char *table)
{
    lint_hist_drop_table(c, table);
    if (!lint_punct(c, s, i, '('))
        return;
    size_t close = lint_skip_parens(c, s, i, s->n) - 1;
    for (size_t a = i + 1; a < close;) {
        size_t end = a;
        for (int depth = 0; end < close; end++) {
            if (lint_punct(c, s, end, '('))
                depth++;
            else if (lint_punct(c, s, end, ')'))
                depth--;
            else if (depth == 0 && lint_punct(c, s, end, ','))
                break;
        }
        static const char *const table_constraints[] = { "CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN",
                                                          "EXCLUDE", "LIKE", NULL };
        if (word_in(c, s, a, table_constraints)) {
            for (size_t k = a; k < end; k++) {
                /* PRIMARY KEY (a, b): its columns are NOT NULL */
                if (lint_kw(c, s, k, "PRIMARY") && lint_kw(c, s, k + 1, "KEY") && lint_punct(c, s, k + 2, '(')) {
                    size_t ce = lint_skip_parens(c, s, k + 2, end);
                    for (size_t j = k + 3; j + 1 < ce; j++)
                        if (s->t[j].kind == SQLT_WORD || s->t[j].kind == SQLT_QIDENT)
                            hist_set(c, &c->h->notnull, lint_key(c, table, part_name(c, s, j)), (void *)1);
                }
                if (lint_kw(c, s, k, "REFERENCES")) {
                    size_t next;
                    char *ref = lint_name_at(c, s, k + 1, &next);
                    if (c->pg && ref && strcmp(ref, table) != 0)
                        lint_strong_lock(c, s, "table", ref);
                }
            }
        } else {
            struct coldef d;
            parse_coldef(c, s, a, end, &d);
            remember_type(c, s, table, &d);
            if (c->pg && d.ref && strcmp(d.ref, table) != 0)
                lint_strong_lock(c, s, "table", d.ref);
        }
        a = end + 1;
    }
}

/* ---- ALTER TABLE --------------------------------------------------------------------- */

static bool same_transaction(struct lctx *c, const struct notvalid *nv)
{
    if (nv->phase != c->phase_i || c->ph->txn == MIG_TXN_NONE)
        return false;
    return nv->step == c->step_i || c->ph->txn != MIG_TXN_STEP;
}

static void add_column(struct lctx *c, const struct stmt *s, size_t a, size_t end, const char *table, bool existing)
{
    size_t k = a + 1;
    struct mig_span at = lint_span(c, &s->t[a]);
    if (lint_kw(c, s, k, "COLUMN"))
        k++;
    if (lint_kw(c, s, k, "IF") && lint_kw(c, s, k + 1, "NOT") && lint_kw(c, s, k + 2, "EXISTS")) {
        k += 3;
        if (!lint_step_guarded(c) && !c->st->down_irreversible && !c->st->down_none)
            lint_warn(c, lint_span(c, &s->t[k - 3]), "if-not-exists-unguarded",
                      "ADD COLUMN IF NOT EXISTS in a step whose when can never be false: if the column already "
                      "exists, the step is recorded as applied and its down drops a column it did not add, with "
                      "its data; guard the step instead (when not std.column_exists(...))");
    }
    struct coldef d;
    parse_coldef(c, s, k, end, &d);
    remember_type(c, s, table, &d);
    const char *col = d.col ? d.col : "";
    if (existing && d.not_null && !d.has_default)
        lint_warn(c, at, "add-column-not-null",
                  "ADD COLUMN %s ... NOT NULL without a DEFAULT fails on a table that has rows; "
                  "add a DEFAULT, or add the column nullable, backfill it, then SET NOT NULL", col);
    if (existing && c->pg) {
        if (d.rewrite_at)
            lint_warn(c, lint_span(c, d.rewrite_at), "volatile-default",
                      "%s: adding %s.%s rewrites the whole table under an ACCESS EXCLUSIVE lock, on every "
                      "PostgreSQL version; add a plain nullable column, fill it in batches (a trigger or a "
                      "sequence DEFAULT for new rows), then add the constraint", d.rewrite_what, table, col);
        else if (d.volatile_at)
            lint_warn(c, lint_span(c, d.volatile_at), "volatile-default",
                      "the DEFAULT calls %.*s()%s: it is evaluated for every existing row, so adding %s.%s "
                      "rewrites the whole table under an ACCESS EXCLUSIVE lock, on every PostgreSQL version; add "
                      "the column without a default, SET DEFAULT for new rows, then backfill in batches",
                      (int)(d.volatile_at->end - d.volatile_at->start), lint_text(c, d.volatile_at),
                      d.unknown_fn ? ", a function mig does not know (a user function is VOLATILE unless "
                                     "declared otherwise)" : ", which is volatile", table, col);
        else if (d.has_default && !d.default_null && c->pg_min && c->pg_min < 11)
            lint_warn(c, at, "volatile-default",
                      "before PostgreSQL 11 adding %s.%s with a DEFAULT rewrites the whole table under an ACCESS "
                      "EXCLUSIVE lock (11+ stores a constant or stable default once); add the column without a "
                      "default and backfill in batches, or declare target postgres >= 11 if every server is",
                      table, col);
        if (d.index_at)
            lint_warn(c, lint_span(c, d.index_at), "constraint-index-blocking",
                      "an inline %s on a column added to existing table '%s' builds its index under an ACCESS "
                      "EXCLUSIVE lock; add the column, CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... "
                      "USING INDEX", word_in(c, s, (size_t)(d.index_at - s->t), (const char *const[]){ "PRIMARY", NULL })
                      ? "PRIMARY KEY" : "UNIQUE", table);
        if (d.check_at)
            lint_warn(c, lint_span(c, d.check_at), "constraint-not-valid",
                      "an inline CHECK on ADD COLUMN %s makes PostgreSQL check every row of existing table '%s' "
                      "under the ACCESS EXCLUSIVE lock of the ALTER (it cannot be NOT VALID); add the column, then "
                      "ADD CONSTRAINT ... CHECK (...) NOT VALID and VALIDATE CONSTRAINT in a later transaction",
                      col, table);
        if (d.ref)
            lint_warn(c, lint_span(c, d.ref_at), "constraint-not-valid",
                      "ADD COLUMN ... REFERENCES %s validates the foreign key at once, holding locks on '%s' and "
                      "'%s'; add the column, then ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID and VALIDATE "
                      "CONSTRAINT in a later transaction (a later phase)", d.ref, table, d.ref);
    }
    if (c->pg && d.ref && strcmp(d.ref, table) != 0)
        lint_strong_lock(c, s, "table", d.ref);
    if (d.col)
        lint_created(c, lint_key(c, table, d.col), s->t[a].start)->owner = table;
}

static void add_constraint(struct lctx *c, const struct stmt *s, size_t a, size_t end, const char *table,
                           bool existing)
{
    size_t k = a + 1;
    char *name = NULL;
    if (lint_kw(c, s, k, "CONSTRAINT"))
        name = lint_name_at(c, s, k + 1, &k);
    bool not_valid = false, using_index = false;
    const char *ref = NULL;
    for (size_t j = k; j < end; j++) {
        if (lint_kw(c, s, j, "NOT") && lint_kw(c, s, j + 1, "VALID"))
            not_valid = true;
        if (lint_kw(c, s, j, "USING") && lint_kw(c, s, j + 1, "INDEX"))
            using_index = true;
        if (lint_kw(c, s, j, "REFERENCES")) {
            size_t next;
            ref = lint_name_at(c, s, j + 1, &next);
        }
    }
    struct mig_span at = lint_span(c, &s->t[a]);
    if (lint_kw(c, s, k, "FOREIGN") || lint_kw(c, s, k, "CHECK")) {
        if (existing && !not_valid && c->pg)
            lint_warn(c, at, "constraint-not-valid",
                      "adding a %s constraint to existing table '%s' checks every row under a strong lock; "
                      "add it NOT VALID, then VALIDATE CONSTRAINT in a later transaction (a later phase)",
                      lint_kw(c, s, k, "CHECK") ? "CHECK" : "FOREIGN KEY", table);
        if (c->pg && ref && strcmp(ref, table) != 0)
            lint_strong_lock(c, s, "table", ref);
        /* CHECK (col IS NOT NULL): what SET NOT NULL can use from PostgreSQL 12 */
        if (lint_kw(c, s, k, "CHECK") && lint_punct(c, s, k + 1, '(') && lint_kw(c, s, k + 3, "IS") &&
            lint_kw(c, s, k + 4, "NOT") && lint_kw(c, s, k + 5, "NULL") && lint_punct(c, s, k + 6, ')')) {
            size_t next;
            char *col = lint_name_at(c, s, k + 2, &next);
            if (col && next == k + 3) {
                if (name)
                    hist_set(c, &c->h->checkcol, lint_key(c, table, name), lint_key(c, table, col));
                if (!not_valid)
                    hist_set(c, &c->h->checked, lint_key(c, table, col), (void *)1);
            }
        }
        if (name && not_valid) {
            struct notvalid *nv = mig_arena_alloc(A, sizeof(*nv));
            nv->phase = c->phase_i;
            nv->step = c->step_i;
            mig_strmap_put(&c->notvalid, lint_key(c, table, name), nv);
        }
    }
    /* ADD PRIMARY KEY (a, b) makes its columns NOT NULL */
    if (lint_kw(c, s, k, "PRIMARY") && lint_kw(c, s, k + 1, "KEY") && lint_punct(c, s, k + 2, '(')) {
        size_t ce = lint_skip_parens(c, s, k + 2, end);
        for (size_t j = k + 3; j + 1 < ce; j++)
            if (s->t[j].kind == SQLT_WORD || s->t[j].kind == SQLT_QIDENT)
                hist_set(c, &c->h->notnull, lint_key(c, table, part_name(c, s, j)), (void *)1);
    }
    if ((lint_kw(c, s, k, "PRIMARY") || lint_kw(c, s, k, "UNIQUE")) && existing && !using_index && c->pg) {
        bool pk = lint_kw(c, s, k, "PRIMARY");
        lint_warn(c, at, "constraint-index-blocking",
                  "ADD %s on existing table '%s' builds its index under an ACCESS EXCLUSIVE lock: every query on "
                  "the table waits for the whole build; CREATE UNIQUE INDEX CONCURRENTLY first (in a 'transaction "
                  "none' phase), then ADD CONSTRAINT ... %s USING INDEX", pk ? "PRIMARY KEY" : "UNIQUE", table,
                  pk ? "PRIMARY KEY" : "UNIQUE");
    }
}

static void alter_column(struct lctx *c, const struct stmt *s, size_t a, size_t end, const char *table,
                         bool existing)
{
    size_t k = a + 1;
    if (lint_kw(c, s, k, "COLUMN"))
        k++;
    size_t after;
    char *col = lint_name_at(c, s, k, &after);
    if (!col)
        return;
    char *key = lint_key(c, table, col);
    struct mig_span at = lint_span(c, &s->t[a]);
    size_t ty = 0;
    if (lint_kw(c, s, after, "TYPE"))
        ty = after + 1;
    else if (lint_kw(c, s, after, "SET") && lint_kw(c, s, after + 1, "DATA") && lint_kw(c, s, after + 2, "TYPE"))
        ty = after + 3;
    if (ty) {
        size_t te = ty;
        while (te < end && !lint_kw(c, s, te, "USING") && !lint_kw(c, s, te, "COLLATE"))
            te++;
        struct ctype nt, ot;
        bool parsed = parse_type(c, s, ty, te, &nt);
        lint_style_type(c, s, ty, te, "the new type of ", table, col);
        const char *old = mig_strmap_get(&c->h->coltype, key);
        bool keeps = false;
        if (parsed && old && te == end) {
            type_from_string(old, &ot);
            keeps = same_bytes(&ot, &nt);
        }
        if (existing && c->pg && !keeps)
            lint_warn(c, at, "alter-column-type",
                      "changing the type of %s.%s%s%s%s%s%s rewrites the table (and its indexes) under an ACCESS "
                      "EXCLUSIVE lock; add a new column, backfill it in batches and switch over instead", table, col,
                      old ? " from " : "", old ? old : "", old && parsed ? " to " : "",
                      old && parsed ? type_string(c, &nt) : "",
                      te < end && lint_kw(c, s, te, "USING") ? " with a USING expression" : "");
        hist_put(c, &c->h->coltype, key, parsed ? type_string(c, &nt) : NULL);
    } else if (lint_kw(c, s, after, "DROP") && lint_kw(c, s, after + 1, "NOT") && lint_kw(c, s, after + 2, "NULL")) {
        hist_put(c, &c->h->notnull, key, NULL);
    } else if (lint_kw(c, s, after, "SET") && lint_kw(c, s, after + 1, "NOT") && lint_kw(c, s, after + 2, "NULL")) {
        bool proven = mig_strmap_get(&c->h->checked, key) && (c->pg_min == 0 || c->pg_min >= 12);
        /* already NOT NULL (declared so, or the primary key): nothing to check */
        bool already = mig_strmap_get(&c->h->notnull, key) != NULL;
        hist_set(c, &c->h->notnull, key, (void *)1);
        if (existing && c->pg && !proven && !already)
            lint_warn(c, at, "set-not-null",
                      "SET NOT NULL on %s.%s scans the whole table under an ACCESS EXCLUSIVE lock%s; add a "
                      "CHECK (%s IS NOT NULL) NOT VALID constraint, VALIDATE it in a later transaction, then SET "
                      "NOT NULL (PostgreSQL 12+ uses the constraint)", table, col,
                      lint_was_created(c, key) ? " (even though the column was added in this migration: the table "
                                                 "has rows)" : "", col);
    }
}

void lint_alter_table(struct lctx *c, const struct stmt *s, size_t i)
{
    /* ALTER TABLE [IF EXISTS] [ONLY] name [*] action [, action]... */
    if (lint_kw(c, s, i, "IF") && lint_kw(c, s, i + 1, "EXISTS"))
        i += 2;
    if (lint_kw(c, s, i, "ONLY"))
        i++;
    size_t next;
    char *table = lint_name_at(c, s, i, &next);
    if (!table)
        return;
    bool existing = !lint_was_created(c, table);
    i = next;
    if (lint_punct(c, s, i, '*'))
        i++;
    if (existing)
        lint_strong_lock(c, s, "table", table);
    while (i < s->n) {
        size_t a = i;
        /* the action runs to the next top-level comma */
        size_t end = a;
        int depth = 0;
        for (; end < s->n; end++) {
            if (lint_punct(c, s, end, '('))
                depth++;
            else if (lint_punct(c, s, end, ')'))
                depth--;
            else if (depth == 0 && lint_punct(c, s, end, ','))
                break;
        }
        struct mig_span at = lint_span(c, &s->t[a]);
        static const char *const constraint_words[] = { "CONSTRAINT", "CHECK", "FOREIGN", "PRIMARY", "UNIQUE",
                                                        "EXCLUDE", NULL };
        if (lint_kw(c, s, a, "ADD") && word_in(c, s, a + 1, constraint_words)) {
            add_constraint(c, s, a, end, table, existing);
        } else if (lint_kw(c, s, a, "ADD")) {
            add_column(c, s, a, end, table, existing);
        } else if (lint_kw(c, s, a, "ALTER") && !lint_kw(c, s, a + 1, "CONSTRAINT")) {
            alter_column(c, s, a, end, table, existing);
        } else if (lint_kw(c, s, a, "VALIDATE") && lint_kw(c, s, a + 1, "CONSTRAINT")) {
            size_t nx;
            char *name = lint_name_at(c, s, a + 2, &nx);
            char *key = lint_key(c, table, name);
            const struct notvalid *nv = mig_strmap_get(&c->notvalid, key);
            if (nv && same_transaction(c, nv) && c->pg)
                lint_warn(c, at, "validate-same-transaction",
                          "VALIDATE CONSTRAINT %s runs in the transaction that added it NOT VALID: the lock the ADD "
                          "took is still held, so the scan NOT VALID was meant to move out of it runs under it; "
                          "validate in a later phase (or a later step under 'transaction step')", name ? name : "");
            const char *colkey = mig_strmap_get(&c->h->checkcol, key);
            if (colkey)
                hist_set(c, &c->h->checked, colkey, (void *)1);
        } else if (lint_kw(c, s, a, "DROP") && !lint_kw(c, s, a + 1, "CONSTRAINT") && !lint_kw(c, s, a + 1, "DEFAULT") &&
                   !lint_kw(c, s, a + 1, "NOT") && !lint_kw(c, s, a + 1, "IDENTITY") && !lint_kw(c, s, a + 1, "EXPRESSION")) {
            size_t k = a + 1;
            if (lint_kw(c, s, k, "COLUMN"))
                k++;
            if (lint_kw(c, s, k, "IF") && lint_kw(c, s, k + 1, "EXISTS"))
                k += 2;
            size_t after;
            char *col = lint_name_at(c, s, k, &after);
            if (col) {
                char *key = lint_key(c, table, col);
                if (existing && !lint_was_created(c, key))
                    lint_warn(c, at, "destructive",
                              "dropping column %s.%s loses its data, which the down cannot bring back; keep it until "
                              "no application version reads it, or make the step irreversible on purpose", table, col);
                lint_dropped(c, key);
                hist_column(c, table, col, NULL);
            }
        } else if (lint_kw(c, s, a, "RENAME") && !lint_kw(c, s, a + 1, "CONSTRAINT")) {
            bool whole = lint_kw(c, s, a + 1, "TO");
            if (existing)
                lint_warn(c, at, "rename",
                          "renaming %s '%s' breaks the application versions still running against it; "
                          "add the new name, copy, and drop the old one in a later release",
                          whole ? "table" : "a column of table", table);
            size_t k = a + 1, nx;
            if (whole) {
                char *to = lint_name_at(c, s, k + 1, &nx);
                if (to)
                    hist_table(c, table, to);
            } else {
                if (lint_kw(c, s, k, "COLUMN"))
                    k++;
                char *from = lint_name_at(c, s, k, &nx);
                char *to = lint_kw(c, s, nx, "TO") ? lint_name_at(c, s, nx + 1, &nx) : NULL;
                if (from && to)
                    hist_column(c, table, from, to);
            }
        }
        i = end + 1;
    }
}
