/* sqllex.h — a tokenizer for the SQL text inside `sql { … }` bodies and
 * `sql file` files. It knows exactly what LANGUAGE.md §2 says matters:
 * single-quoted strings ('' escapes; E'…' with backslash escapes), double-
 * quoted identifiers, dollar quotes ($$…$$, $tag$…$tag$), -- line comments,
 * nested block comments, and ${name[:ident|:raw]} interpolations outside all
 * of them; with SQLite's rules also the [identifier] and `identifier`
 * quotes (in PostgreSQL '[' is a subscript, ARRAY[…] or int[]). The grammar's lexer uses it to find where a body ends; the
 * checker uses it to find interpolations and split statements; the runtime
 * renders interpolations with it. It allocates nothing. */
#ifndef MIG_SQLLEX_H
#define MIG_SQLLEX_H
#include <stddef.h>

enum mig_sqltok {
    SQLT_EOF,
    SQLT_SPACE,
    SQLT_WORD,          /* identifier or keyword or number */
    SQLT_STRING,        /* '…' (also E'…', B'…', X'…' as WORD + STRING) */
    SQLT_QIDENT,        /* "…"; with SQLite rules also […] and `…` */
    SQLT_DOLLAR,        /* $tag$…$tag$ */
    SQLT_LINE_COMMENT,  /* -- … */
    SQLT_BLOCK_COMMENT, /* nested */
    SQLT_INTERP,        /* ${name}, ${name:ident}, ${name:raw} */
    SQLT_LBRACE,
    SQLT_RBRACE,
    SQLT_SEMI,
    SQLT_PUNCT,         /* any other single character (or UTF-8 sequence) */
    SQLT_UNTERMINATED,  /* a literal or comment that runs past the end */
    SQLT_BAD_INTERP,    /* ${ not followed by name[:ident|:raw] } */
};

enum mig_interp_mode { MIG_INTERP_LITERAL, MIG_INTERP_IDENT, MIG_INTERP_RAW };

/* Whose quoting rules: PostgreSQL's are the default (mig_sql_next). */
enum mig_sqlrules {
    MIG_SQL_POSTGRES,   /* '[' and '`' are punctuation */
    MIG_SQL_SQLITE,     /* [ident] (no escape) and `ident` (`` escapes) are SQLT_QIDENT too */
};

struct mig_sqltoken {
    enum mig_sqltok kind;
    size_t start, end;              /* byte offsets into the buffer */
    size_t name_start, name_len;    /* SQLT_INTERP: the name */
    enum mig_interp_mode mode;      /* SQLT_INTERP */
    const char *what;               /* SQLT_UNTERMINATED / SQLT_BAD_INTERP: description */
};

/* Reads the token at s[pos] (pos < end, or EOF when pos >= end). The buffer
 * is only read in [pos, end). */
void mig_sql_next(const char *s, size_t pos, size_t end, struct mig_sqltoken *t);
/* The same with the quoting rules of a dialect. */
void mig_sql_next_in(enum mig_sqlrules rules, const char *s, size_t pos, size_t end, struct mig_sqltoken *t);

/* Reads "${…}" at s[pos] as an interpolation would be read outside quotes
 * (SQLT_INTERP or SQLT_BAD_INTERP), or SQLT_EOF when s[pos] does not start
 * "${". For finding ${…} written inside a literal or quoted identifier. */
void mig_sql_interp_at(const char *s, size_t pos, size_t end, struct mig_sqltoken *t);

/* Finds the '}' closing a body whose content starts at s[pos] (just after
 * its '{'). Returns 1 and sets *close to the offset of that brace; returns
 * 0 when the body is unterminated and sets *why to a description of the
 * reason (e.g. "a '…' string opened at offset N is not closed") and *why_off
 * to the offset of the unterminated literal or comment, or to end when only
 * braces are unbalanced. */
int mig_sql_body_end(const char *s, size_t pos, size_t end, size_t *close,
                     const char **why, size_t *why_off);
int mig_sql_body_end_in(enum mig_sqlrules rules, const char *s, size_t pos, size_t end, size_t *close,
                        const char **why, size_t *why_off);

/* Character classes of a byte: MIG_SQL_C_START starts an identifier (a
 * letter, '_', a byte of a UTF-8 sequence), MIG_SQL_C_IDENT continues one
 * (those and digits), MIG_SQL_C_SPACE is white space. */
enum { MIG_SQL_C_START = 1, MIG_SQL_C_IDENT = 2, MIG_SQL_C_SPACE = 4 };
extern const unsigned char mig_sql_cclass[256];

/* Whether the token is "significant" for statement splitting (not space or
 * comment). */
int mig_sqltok_is_code(enum mig_sqltok k);

#endif
