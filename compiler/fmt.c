/* fmt.c — `migc fmt`: one canonical layout for .mig text. The text is
 * re-tokenised (comments kept, SQL bodies taken byte for byte with the SQL
 * tokenizer) and printed again: two spaces per brace level, one item per
 * line, single spaces between tokens except around ( ) . , ; :, `sql`
 * variants of one action aligned under the first, one blank line between
 * steps, phases, migrations and functions, at most one blank line kept
 * elsewhere. Formatting formatted text changes nothing. */
#include "fmt.h"
#include "lib/sbuf.h"
#include "lib/sqllex.h"
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum fkind { F_WORD, F_STRING, F_NUMBER, F_OP, F_LBRACE, F_RBRACE, F_SEMI, F_COMMA, F_LPAREN, F_RPAREN,
             F_DOT, F_COLON, F_BODY, F_COMMENT, F_LBRACK, F_RBRACK, F_EOF };

struct ftok {
    enum fkind kind;
    size_t start, end;
    int nl_before;      /* newlines between the previous token and this one */
};

static const char *const keywords[] = {
    "import", "module", "migration", "after", "target", "param", "let", "fn", "require", "else", "phase",
    "step", "when", "up", "down", "verify", "assert", "sql", "file", "irreversible", "transaction", "timeout",
    "lock_timeout", "retry", "every", "batch", "max", "exists", "scalar", "and", "or", "not", "true", "false",
    "null", "int", "string", "bool", "duration", "postgres", "sqlite", "exec", "output", "none", "optional",
    "restores", "within", "env", "cwd", "float", NULL,
};

/* Keywords that start an item: a new line before them. */
static const char *const item_start[] = {
    "import", "module", "migration", "after", "target", "param", "let", "fn", "require", "phase", "step",
    "when", "up", "down", "verify", "assert", "transaction", "timeout", "lock_timeout", "retry", "batch", NULL,
};

static bool is_word(const char *text, const struct ftok *t, const char *w)
{
    size_t n = strlen(w);
    return t->kind == F_WORD && t->end - t->start == n && memcmp(text + t->start, w, n) == 0;
}

static bool in_list(const char *text, const struct ftok *t, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (is_word(text, t, list[i]))
            return true;
    return false;
}

/* Tokens of a .mig text; -1 on text the parser would refuse. */
static int tokenize(const char *s, size_t len, struct ftok **out, size_t *nout)
{
    size_t cap = 256, n = 0, i = 0;
    struct ftok *v = malloc(cap * sizeof(*v));
    if (!v)
        return -1;
    int nl = 0;
    /* after `sql` [dialect] a brace opens a body */
    int sql_state = 0;  /* 1: after sql, 2: after sql dialect, 3: after sql sqlite */
    while (1) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n' || s[i] == '\f' || s[i] == '\v')) {
            if (s[i] == '\n')
                nl++;
            i++;
        }
        if (n + 1 >= cap) {
            cap *= 2;
            struct ftok *nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                free(v);
                return -1;
            }
            v = nv;
        }
        struct ftok t = { F_EOF, i, i, nl };
        nl = 0;
        if (i >= len) {
            v[n++] = t;
            break;
        }
        char c = s[i];
        if (c == '#') {
            while (i < len && s[i] != '\n')
                i++;
            t.kind = F_COMMENT;
        } else if (c == '"') {
            i++;
            while (i < len && s[i] != '"' && s[i] != '\n') {
                if (s[i] == '\\' && i + 1 < len)
                    i++;
                i++;
            }
            if (i >= len || s[i] != '"') {
                free(v);
                return -1;
            }
            i++;
            t.kind = F_STRING;
        } else if (isdigit((unsigned char)c)) {
            /* 42, 1_000, 30s, 2.5, 1e-3 */
            while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_')) {
                if ((s[i] == 'e' || s[i] == 'E') && i + 2 < len && (s[i + 1] == '-' || s[i + 1] == '+') &&
                    isdigit((unsigned char)s[i + 2]))
                    i++;
                i++;
            }
            if (i + 1 < len && s[i] == '.' && isdigit((unsigned char)s[i + 1])) {
                i++;
                while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_')) {
                    if ((s[i] == 'e' || s[i] == 'E') && i + 2 < len && (s[i + 1] == '-' || s[i + 1] == '+') &&
                        isdigit((unsigned char)s[i + 2]))
                        i++;
                    i++;
                }
            }
            t.kind = F_NUMBER;
        } else if (isalpha((unsigned char)c) || c == '_') {
            while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_'))
                i++;
            t.kind = F_WORD;
        } else if (c == '{' && sql_state) {
            size_t close, why_off;
            const char *why;
            if (!mig_sql_body_end_in(sql_state == 3 ? MIG_SQL_SQLITE : MIG_SQL_POSTGRES, s, i + 1, len, &close,
                                     &why, &why_off)) {
                free(v);
                return -1;
            }
            i = close + 1;
            t.kind = F_BODY;
        } else {
            static const char *const two[] = { "==", "!=", "<=", ">=", "->", NULL };
            t.kind = F_OP;
            i++;
            for (size_t k = 0; two[k]; k++)
                if (c == two[k][0] && i < len && s[i] == two[k][1]) {
                    i++;
                    break;
                }
            if (i - t.start == 1)
                switch (c) {
                case '{': t.kind = F_LBRACE; break;
                case '}': t.kind = F_RBRACE; break;
                case ';': t.kind = F_SEMI; break;
                case ',': t.kind = F_COMMA; break;
                case '(': t.kind = F_LPAREN; break;
                case ')': t.kind = F_RPAREN; break;
                case '.': t.kind = F_DOT; break;
                case ':': t.kind = F_COLON; break;
                case '[': t.kind = F_LBRACK; break;
                case ']': t.kind = F_RBRACK; break;
                default: break;
                }
        }
        t.end = i;
        if (t.kind != F_COMMENT) {
            if (is_word(s, &t, "sql"))
                sql_state = 1;
            else if (sql_state == 1 && is_word(s, &t, "postgres"))
                sql_state = 2;
            else if (sql_state == 1 && is_word(s, &t, "sqlite"))
                sql_state = 3;     /* its body ends by SQLite's quoting rules, as the lexer's */
            else
                sql_state = 0;
        }
        v[n++] = t;
    }
    *out = v;
    *nout = n;
    return 0;
}

struct fmt {
    const char *src;
    struct ftok *t;
    size_t n;
    struct mig_sbuf out;
    int depth;
    int paren;
    bool line_start;        /* nothing on the current output line yet */
    bool blank_pending;
    int lines;              /* lines emitted */
    bool last_line_opened;  /* the last line ended with an opening brace of the language */
    bool brace_last;        /* the last token emitted on this line was such a brace */
    bool last_line_blank;
    bool unary;             /* the last token was a unary minus */
    int item_indent;        /* indent of the current item's first line */
    size_t item_kw_len;     /* length of the up/down keyword starting the item */
    size_t line_len;
    int inline_braces;      /* open `env { … }` braces, kept on their line */
    bool after_inline;      /* the last token closed such a brace */
};

static void newline(struct fmt *f)
{
    if (f->line_start)
        return;
    /* no trailing spaces */
    while (f->out.n && f->out.s[f->out.n - 1] == ' ')
        f->out.n--;
    f->last_line_opened = f->brace_last;
    f->brace_last = false;
    mig_sb_add(&f->out, "\n", 1);
    f->line_start = true;
    f->last_line_blank = false;
    f->line_len = 0;
    f->lines++;
}

static void blank_line(struct fmt *f)
{
    newline(f);
    if (f->lines == 0 || f->last_line_blank || f->last_line_opened)
        return;
    mig_sb_add(&f->out, "\n", 1);
    f->last_line_blank = true;
}

static void indent(struct fmt *f, int cols)
{
    for (int i = 0; i < cols; i++)
        mig_sb_add(&f->out, " ", 1);
    f->line_start = false;
    f->line_len = (size_t)cols;
}

static void word(struct fmt *f, const struct ftok *t)
{
    f->brace_last = t->kind == F_LBRACE;
    mig_sb_add(&f->out, f->src + t->start, t->end - t->start);
    f->line_len += t->end - t->start;
    f->line_start = false;
}

/* Whether the token at i begins an item that gets a blank line before it
 * (step, phase, migration, fn), looking through the comments above it. */
static bool starts_block(struct fmt *f, size_t i)
{
    while (i < f->n && f->t[i].kind == F_COMMENT) {
        i++;
        if (i < f->n && f->t[i].nl_before >= 2)
            return false;   /* a comment paragraph of its own */
    }
    if (i >= f->n)
        return false;
    return is_word(f->src, &f->t[i], "step") || is_word(f->src, &f->t[i], "phase") ||
           is_word(f->src, &f->t[i], "migration") || is_word(f->src, &f->t[i], "fn");
}

static bool needs_space(struct fmt *f, const struct ftok *prev, const struct ftok *t)
{
    if (!prev || f->unary)
        return false;
    switch (t->kind) {
    case F_SEMI: case F_COMMA: case F_RPAREN: case F_DOT: case F_COLON: case F_RBRACK:
        return false;
    case F_LPAREN:
        if (prev->kind == F_WORD)
            return in_list(f->src, prev, keywords) && !is_word(f->src, prev, "int") &&
                   !is_word(f->src, prev, "string") && !is_word(f->src, prev, "float") && !is_word(f->src, prev, "env");
        return prev->kind != F_LPAREN && prev->kind != F_DOT;
    default:
        break;
    }
    if (prev->kind == F_LPAREN || prev->kind == F_DOT || prev->kind == F_LBRACK)
        return false;
    return true;
}

static bool is_unary_minus(struct fmt *f, size_t i)
{
    const struct ftok *t = &f->t[i];
    if (t->kind != F_OP || t->end - t->start != 1 || f->src[t->start] != '-')
        return false;
    size_t p = i;
    while (p > 0 && f->t[p - 1].kind == F_COMMENT)
        p--;
    if (p == 0)
        return true;
    const struct ftok *prev = &f->t[p - 1];
    return prev->kind == F_OP || prev->kind == F_LPAREN || prev->kind == F_COMMA || prev->kind == F_COLON ||
           prev->kind == F_LBRACK ||
           (prev->kind == F_WORD && in_list(f->src, prev, keywords) && !is_word(f->src, prev, "true") &&
            !is_word(f->src, prev, "false") && !is_word(f->src, prev, "null"));
}

static void format_tokens(struct fmt *f)
{
    const struct ftok *prev = NULL;
    for (size_t i = 0; i < f->n && f->t[i].kind != F_EOF; i++) {
        const struct ftok *t = &f->t[i];
        if (t->kind == F_COMMENT) {
            if (t->nl_before == 0 && i > 0 && f->line_start && f->out.n && f->out.s[f->out.n - 1] == '\n' &&
                !f->last_line_blank) {
                /* a comment after the `;` or brace that ended the line stays on that line */
                f->out.n--;
                f->line_start = false;
                f->lines--;
            }
            if (t->nl_before == 0 && !f->line_start && i > 0) {
                mig_sb_add(&f->out, " ", 1);
                word(f, t);
                newline(f);
                continue;
            }
            newline(f);
            /* the blank line before a block goes above its whole comment,
             * not between the comment's lines */
            bool attached = i > 0 && f->t[i - 1].kind == F_COMMENT && t->nl_before < 2;
            if (!attached && starts_block(f, i) && (i == 0 || f->t[i].nl_before >= 1))
                blank_line(f);
            else if (t->nl_before >= 2)
                blank_line(f);
            indent(f, f->depth * 2);
            word(f, t);
            newline(f);
            prev = NULL;
            continue;
        }
        /* `timeout` starts an item only where a phase item can start (not
         * after a command: `exec [...] timeout 30s`) */
        bool item = t->kind == F_WORD && f->paren == 0 && f->inline_braces == 0 && in_list(f->src, t, item_start) &&
                    !(prev && (is_word(f->src, prev, "transaction"))) &&
                    !(is_word(f->src, t, "timeout") && prev && prev->kind != F_SEMI && prev->kind != F_LBRACE &&
                      (prev->kind != F_RBRACE || f->after_inline));
        f->after_inline = false;
        bool continuation = is_word(f->src, t, "sql") && prev && prev->kind == F_BODY && f->paren == 0 &&
                            f->item_kw_len;
        if (t->kind == F_RBRACE && f->inline_braces > 0) {
            /* the end of `env { … }`, on its line */
            f->inline_braces--;
            mig_sb_add(&f->out, " ", 1);
            word(f, t);
            f->brace_last = false;
            f->after_inline = true;
            prev = t;
            continue;
        }
        if (t->kind == F_LBRACE && prev && is_word(f->src, prev, "env")) {
            mig_sb_add(&f->out, " ", 1);
            word(f, t);
            f->brace_last = false;
            f->inline_braces++;
            prev = t;
            continue;
        }
        if (t->kind == F_RBRACE) {
            newline(f);
            f->depth = f->depth > 0 ? f->depth - 1 : 0;
            indent(f, f->depth * 2);
            word(f, t);
            newline(f);
            prev = t;
            f->item_kw_len = 0;
            continue;
        }
        if (item || continuation)
            newline(f);
        if (f->line_start) {
            if (!continuation) {
                bool attached = i > 0 && f->t[i - 1].kind == F_COMMENT && t->nl_before < 2;
                if (!attached && starts_block(f, i))
                    blank_line(f);
                else if (!attached && t->nl_before >= 2)
                    blank_line(f);
                f->item_indent = f->depth * 2;
                indent(f, f->item_indent);
                f->item_kw_len = is_word(f->src, t, "up") ? 2 : is_word(f->src, t, "down") ? 4 : 0;
            } else {
                indent(f, f->item_indent + (int)f->item_kw_len + 1);
            }
        } else if (needs_space(f, prev, t)) {
            mig_sb_add(&f->out, " ", 1);
            f->line_len++;
        }
        f->unary = false;
        switch (t->kind) {
        case F_LBRACE:
            word(f, t);
            newline(f);
            f->depth++;
            break;
        case F_SEMI:
            word(f, t);
            newline(f);
            f->item_kw_len = 0;
            break;
        case F_LPAREN:
            f->paren++;
            word(f, t);
            break;
        case F_RPAREN:
            if (f->paren)
                f->paren--;
            word(f, t);
            break;
        default:
            word(f, t);
            if (is_unary_minus(f, i))
                f->unary = true;
            break;
        }
        prev = t;
    }
    newline(f);
}

int mig_format(const char *src, size_t len, char **out, size_t *outlen)
{
    struct ftok *t;
    size_t n;
    if (tokenize(src, len, &t, &n) != 0)
        return -1;
    struct fmt f;
    memset(&f, 0, sizeof(f));
    f.src = src;
    f.t = t;
    f.n = n;
    f.line_start = true;
    format_tokens(&f);
    free(t);
    if (f.out.oom) {
        free(f.out.s);
        return -1;
    }
    if (!f.out.s) {
        f.out.s = calloc(1, 1);
        if (!f.out.s)
            return -1;
    }
    *out = f.out.s;
    *outlen = f.out.n;
    return 0;
}
