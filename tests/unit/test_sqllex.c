/* test_sqllex.c — the SQL body scanner: where bodies end, what is a literal
 * or comment, which ${…} are interpolations; and the arena every
 * vector of the front end grows in. */
#include <criterion/criterion.h>
#include <string.h>
#include "lib/arena.h"
#include "lib/sqllex.h"

/* Offset of the '}' closing a body that starts right after s[0] == '{'. */
static long body_end(const char *s)
{
    size_t close = 0, why_off = 0;
    const char *why = NULL;
    cr_assert_eq(s[0], '{');
    if (!mig_sql_body_end(s, 1, strlen(s), &close, &why, &why_off))
        return -1;
    return (long)close;
}

static const char *unterminated_why(const char *s, size_t *off)
{
    size_t close = 0;
    const char *why = NULL;
    cr_assert_eq(mig_sql_body_end(s, 1, strlen(s), &close, &why, off), 0, "body of %s ended", s);
    return why;
}

Test(body, plain) {
    cr_assert_eq(body_end("{ SELECT 1 } tail"), 11);
}

Test(body, nested_braces_balance) {
    cr_assert_eq(body_end("{ a { b } c } x"), 12);
}

Test(body, brace_in_single_quotes) {
    cr_assert_eq(body_end("{ DEFAULT '{}' }"), 15);
    cr_assert_eq(body_end("{ '}' }"), 6);
    cr_assert_eq(body_end("{ 'it''s }' }"), 12);
}

Test(body, brace_in_escape_string) {
    cr_assert_eq(body_end("{ E'\\'}' }"), 9);
}

Test(body, brace_in_double_quotes) {
    cr_assert_eq(body_end("{ \"a}b\" }"), 8);
    cr_assert_eq(body_end("{ \"a\"\"}\" }"), 9);
}

Test(body, brace_in_dollar_quotes) {
    cr_assert_eq(body_end("{ $$ } $$ }"), 10);
    cr_assert_eq(body_end("{ $fn$ begin } $$ } end $fn$ }"), 29);
}

Test(body, dollar_tag_must_match) {
    /* $a$ is not closed by $b$ */
    size_t off = 0;
    cr_assert_str_eq(unterminated_why("{ $a$ } $b$ }", &off), "dollar-quoted string");
    cr_assert_eq(off, 2);
}

Test(body, positional_param_is_not_a_dollar_quote) {
    cr_assert_eq(body_end("{ SELECT $1 }"), 12);
}

Test(body, brace_in_line_comment) {
    cr_assert_eq(body_end("{ -- } here\n }"), 13);
}

Test(body, brace_in_nested_block_comment) {
    cr_assert_eq(body_end("{ /* } /* } */ } */ }"), 20);
}

Test(body, unterminated_braces) {
    size_t off = 0;
    cr_assert_str_eq(unterminated_why("{ SELECT 1", &off), "braces");
}

Test(body, unterminated_string) {
    size_t off = 0;
    cr_assert_str_eq(unterminated_why("{ SELECT 'abc }", &off), "string literal");
    cr_assert_eq(off, 9);
}

Test(body, unterminated_comment) {
    size_t off = 0;
    cr_assert_str_eq(unterminated_why("{ /* /* */ }", &off), "block comment");
    cr_assert_eq(off, 2);
}

Test(body, unterminated_identifier) {
    size_t off = 0;
    cr_assert_str_eq(unterminated_why("{ \"abc }", &off), "quoted identifier");
}

/* Interpolations */

static int collect(const char *s, struct mig_sqltoken *out, int max)
{
    int n = 0;
    struct mig_sqltoken t;
    for (size_t pos = 0;; pos = t.end) {
        mig_sql_next(s, pos, strlen(s), &t);
        if (t.kind == SQLT_EOF)
            break;
        if ((t.kind == SQLT_INTERP || t.kind == SQLT_BAD_INTERP) && n < max)
            out[n++] = t;
        cr_assert_gt(t.end, t.start, "token makes progress");
    }
    return n;
}

Test(interp, modes) {
    struct mig_sqltoken t[4];
    const char *s = "x ${a} ${b_2:ident} ${c:raw}";
    cr_assert_eq(collect(s, t, 4), 3);
    cr_assert_eq(t[0].kind, SQLT_INTERP);
    cr_assert_eq(t[0].mode, MIG_INTERP_LITERAL);
    cr_assert_eq(t[0].start, 2);
    cr_assert_eq(t[0].end, 6);
    cr_assert_eq(t[0].name_len, 1);
    cr_assert_eq(t[1].mode, MIG_INTERP_IDENT);
    cr_assert_eq(strncmp(s + t[1].name_start, "b_2", t[1].name_len), 0);
    cr_assert_eq(t[2].mode, MIG_INTERP_RAW);
}

Test(interp, not_inside_literals_or_comments) {
    struct mig_sqltoken t[4];
    cr_assert_eq(collect("'${a}' \"${b}\" $$${c}$$ -- ${d}\n /* ${e} */", t, 4), 0);
}

Test(interp, malformed) {
    struct mig_sqltoken t[4];
    cr_assert_eq(collect("${ a } ${a:upper} ${1}", t, 4), 3);
    cr_assert_eq(t[0].kind, SQLT_BAD_INTERP);
    cr_assert_eq(t[1].kind, SQLT_BAD_INTERP);
    cr_assert(strstr(t[1].what, "mode") != NULL);
    cr_assert_eq(t[2].kind, SQLT_BAD_INTERP);
}

Test(tokens, kinds) {
    const char *s = "a 'b' \"c\" $$d$$ -- e\n/* f */;{}";
    enum mig_sqltok want[] = { SQLT_WORD, SQLT_SPACE, SQLT_STRING, SQLT_SPACE, SQLT_QIDENT, SQLT_SPACE,
                               SQLT_DOLLAR, SQLT_SPACE, SQLT_LINE_COMMENT, SQLT_SPACE, SQLT_BLOCK_COMMENT,
                               SQLT_SEMI, SQLT_LBRACE, SQLT_RBRACE, SQLT_EOF };
    struct mig_sqltoken t;
    size_t pos = 0;
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
        mig_sql_next(s, pos, strlen(s), &t);
        cr_assert_eq(t.kind, want[i], "token %zu: kind %d, want %d", i, t.kind, want[i]);
        pos = t.end;
    }
}

Test(tokens, identifier_with_dollar_is_one_word) {
    struct mig_sqltoken t;
    mig_sql_next("a$b$ c", 0, 6, &t);
    cr_assert_eq(t.kind, SQLT_WORD);
    cr_assert_eq(t.end, 4);
}

/* SQLite's quoted identifiers: [name] and `name` are quotes with SQLite's
 * rules only; with PostgreSQL's '[' is a subscript, ARRAY[…] or int[]. */

static long body_end_in(enum mig_sqlrules rules, const char *s)
{
    size_t close = 0, why_off = 0;
    const char *why = NULL;
    cr_assert_eq(s[0], '{');
    if (!mig_sql_body_end_in(rules, s, 1, strlen(s), &close, &why, &why_off))
        return -1;
    return (long)close;
}

/* The kinds of the code tokens of s (up to max), SQLT_EOF-terminated. */
static int code_kinds(enum mig_sqlrules rules, const char *s, enum mig_sqltok *out, int max)
{
    int n = 0;
    struct mig_sqltoken t;
    for (size_t pos = 0;; pos = t.end) {
        mig_sql_next_in(rules, s, pos, strlen(s), &t);
        if (n < max && t.kind != SQLT_SPACE)
            out[n++] = t.kind;
        if (t.kind == SQLT_EOF)
            break;
        cr_assert_gt(t.end, t.start, "token makes progress");
    }
    return n;
}

Test(sqlite_quotes, brackets_and_backticks_are_identifiers) {
    enum mig_sqltok k[8];
    cr_assert_eq(code_kinds(MIG_SQL_SQLITE, "[a b] `c``d` \"e\"", k, 8), 4);
    cr_assert_eq(k[0], SQLT_QIDENT);
    cr_assert_eq(k[1], SQLT_QIDENT);
    cr_assert_eq(k[2], SQLT_QIDENT);
    cr_assert_eq(k[3], SQLT_EOF);
    struct mig_sqltoken t;
    mig_sql_next_in(MIG_SQL_SQLITE, "[a]]", 0, 4, &t);
    cr_assert_eq(t.end, 3, "a bracket name has no escape: it ends at the first ']'");
}

Test(sqlite_quotes, braces_and_quotes_inside_end_nothing) {
    cr_assert_eq(body_end_in(MIG_SQL_SQLITE, "{ SELECT [it's {odd}] }"), 22);
    cr_assert_eq(body_end_in(MIG_SQL_SQLITE, "{ SELECT `a}b` }"), 15);
    cr_assert_eq(body_end_in(MIG_SQL_SQLITE, "{ SELECT [}] FROM t } x"), 20);
}

Test(sqlite_quotes, interpolation_inside_is_not_an_interpolation) {
    struct mig_sqltoken t;
    const char *s = "AS [${label}]";
    mig_sql_next_in(MIG_SQL_SQLITE, s, 3, strlen(s), &t);
    cr_assert_eq(t.kind, SQLT_QIDENT);
    cr_assert_eq(t.end, strlen(s));
    /* with PostgreSQL's rules the same text is a subscript around ${label} */
    enum mig_sqltok k[8];
    cr_assert_eq(code_kinds(MIG_SQL_POSTGRES, s, k, 8), 5);
    cr_assert_eq(k[1], SQLT_PUNCT);
    cr_assert_eq(k[2], SQLT_INTERP);
    cr_assert_eq(k[3], SQLT_PUNCT);
}

Test(sqlite_quotes, unterminated) {
    size_t close = 0, off = 0;
    const char *why = NULL;
    cr_assert_eq(mig_sql_body_end_in(MIG_SQL_SQLITE, "{ [abc }", 1, 8, &close, &why, &off), 0);
    cr_assert_str_eq(why, "bracket-quoted identifier");
    cr_assert_eq(off, 2);
    cr_assert_eq(mig_sql_body_end_in(MIG_SQL_SQLITE, "{ `abc }", 1, 8, &close, &why, &off), 0);
    cr_assert_str_eq(why, "backtick-quoted identifier");
}

Test(postgres_brackets, subscripts_arrays_and_array_types_are_punctuation) {
    const char *bodies[] = { "{ SELECT ARRAY[1, '}'] }", "{ SELECT a[1] FROM t }", "{ CREATE TABLE t (x int[]) }",
                             "{ SELECT '{1}'::int[] }", "{ SELECT data['k}'] }" };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(*bodies); i++)
        cr_assert_eq(body_end_in(MIG_SQL_POSTGRES, bodies[i]), (long)strlen(bodies[i]) - 1, "%s", bodies[i]);
    enum mig_sqltok k[16];
    int n = code_kinds(MIG_SQL_POSTGRES, "ARRAY[${n}] a[${i}] int[]", k, 16);
    int interps = 0, qidents = 0;
    for (int i = 0; i < n; i++) {
        interps += k[i] == SQLT_INTERP;
        qidents += k[i] == SQLT_QIDENT;
    }
    cr_assert_eq(interps, 2);
    cr_assert_eq(qidents, 0);
    /* the default tokenizer is PostgreSQL's */
    struct mig_sqltoken t;
    mig_sql_next("[a]", 0, 3, &t);
    cr_assert_eq(t.kind, SQLT_PUNCT);
    mig_sql_next("`a`", 0, 3, &t);
    cr_assert_eq(t.kind, SQLT_PUNCT);
}

Test(interp, read_inside_a_literal) {
    struct mig_sqltoken t;
    const char *s = "'${a:ident}'";
    mig_sql_interp_at(s, 1, strlen(s), &t);
    cr_assert_eq(t.kind, SQLT_INTERP);
    cr_assert_eq(t.mode, MIG_INTERP_IDENT);
    cr_assert_eq(t.end, 11);
    mig_sql_interp_at(s, 0, strlen(s), &t);
    cr_assert_eq(t.kind, SQLT_EOF);
}

/* ---- the arena (lib/arena.c), which every vector of the front end grows in ---- */

Test(arena, vector_grows_in_place_keeping_its_elements) {
    struct mig_arena a = { 0 };
    MIG_VEC(int) v = { 0 };
    MIG_PUSH(&a, v, 0);
    int *first = v.v;
    for (int i = 1; i < 1000; i++)
        MIG_PUSH(&a, v, i);
    cr_assert_eq(v.v, first, "the latest allocation grows where it is");
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(v.v[i], i);
    mig_arena_free(&a);
}

Test(arena, vector_not_on_top_is_copied_and_the_newer_allocation_kept) {
    struct mig_arena a = { 0 };
    MIG_VEC(int) v = { 0 };
    for (int i = 0; i < 4; i++)
        MIG_PUSH(&a, v, i);
    char *other = mig_arena_strdup(&a, "after the vector");
    int *old = v.v;
    MIG_PUSH(&a, v, 4);
    cr_assert_neq(v.v, old, "a vector with a newer allocation above it moves");
    for (int i = 0; i < 5; i++)
        cr_assert_eq(v.v[i], i);
    cr_assert_str_eq(other, "after the vector");
    for (size_t i = v.n; i < v.cap; i++)
        cr_assert_eq(v.v[i], 0, "the room grown is zeroed");
    mig_arena_free(&a);
}

Test(arena, growth_past_a_block_copies) {
    struct mig_arena a = { 0 };
    MIG_VEC(long) v = { 0 };
    for (long i = 0; i < 100000; i++)   /* 800 kB: beyond one 64 kB block */
        MIG_PUSH(&a, v, i);
    for (long i = 0; i < 100000; i++)
        cr_assert_eq(v.v[i], i);
    mig_arena_free(&a);
}
