/* sqllex.c — the SQL body tokenizer (see sqllex.h). */
#include "sqllex.h"
#include <string.h>

/* One load per byte in the loops that read words and space, which is most
 * of every SQL body. */
enum { C_START = MIG_SQL_C_START, C_IDENT = MIG_SQL_C_IDENT, C_SPACE = MIG_SQL_C_SPACE };
#define cclass mig_sql_cclass
#define R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
const unsigned char mig_sql_cclass[256] = {
    [' '] = C_SPACE, ['\t'] = C_SPACE, ['\n'] = C_SPACE, ['\r'] = C_SPACE, ['\f'] = C_SPACE, ['\v'] = C_SPACE,
    ['0'] = C_IDENT, ['1'] = C_IDENT, ['2'] = C_IDENT, ['3'] = C_IDENT, ['4'] = C_IDENT,
    ['5'] = C_IDENT, ['6'] = C_IDENT, ['7'] = C_IDENT, ['8'] = C_IDENT, ['9'] = C_IDENT,
    ['_'] = C_START | C_IDENT,
    ['A'] = 3, ['B'] = 3, ['C'] = 3, ['D'] = 3, ['E'] = 3, ['F'] = 3, ['G'] = 3, ['H'] = 3, ['I'] = 3,
    ['J'] = 3, ['K'] = 3, ['L'] = 3, ['M'] = 3, ['N'] = 3, ['O'] = 3, ['P'] = 3, ['Q'] = 3, ['R'] = 3,
    ['S'] = 3, ['T'] = 3, ['U'] = 3, ['V'] = 3, ['W'] = 3, ['X'] = 3, ['Y'] = 3, ['Z'] = 3,
    ['a'] = 3, ['b'] = 3, ['c'] = 3, ['d'] = 3, ['e'] = 3, ['f'] = 3, ['g'] = 3, ['h'] = 3, ['i'] = 3,
    ['j'] = 3, ['k'] = 3, ['l'] = 3, ['m'] = 3, ['n'] = 3, ['o'] = 3, ['p'] = 3, ['q'] = 3, ['r'] = 3,
    ['s'] = 3, ['t'] = 3, ['u'] = 3, ['v'] = 3, ['w'] = 3, ['x'] = 3, ['y'] = 3, ['z'] = 3,
    [0x80] = R16(3), [0x90] = R16(3), [0xA0] = R16(3), [0xB0] = R16(3),
    [0xC0] = R16(3), [0xD0] = R16(3), [0xE0] = R16(3), [0xF0] = R16(3),
};
#undef R16

static int is_ident_start(unsigned char c)
{
    return cclass[c] & C_START;
}

static int is_ident_char(unsigned char c)
{
    return cclass[c] & C_IDENT;
}

/* Length of a dollar-quote tag "$tag$" or "$$" at s[pos], or 0. */
static size_t dollar_tag(const char *s, size_t pos, size_t end)
{
    size_t i = pos + 1;
    if (i < end && s[i] == '$')
        return 2;
    if (i >= end || !is_ident_start((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80)
        return 0;
    while (i < end && is_ident_char((unsigned char)s[i]) && (unsigned char)s[i] < 0x80)
        i++;
    if (i < end && s[i] == '$')
        return i + 1 - pos;
    return 0;
}

/* Scans a quoted literal whose content starts at s[i]; q doubled escapes
 * itself, and with backslash set (E'…') a backslash escapes any byte. */
static void quoted(const char *s, size_t i, size_t end, struct mig_sqltoken *t, char q, int backslash)
{
    while (i < end) {
        if (backslash && s[i] == '\\') {
            i += 2;
            continue;
        }
        if (s[i] == q) {
            if (i + 1 < end && s[i + 1] == q) {
                i += 2;
                continue;
            }
            t->end = i + 1;
            return;
        }
        i++;
    }
    t->kind = SQLT_UNTERMINATED;
    t->what = q == '\'' ? "string literal" : q == '`' ? "backtick-quoted identifier" : "quoted identifier";
    t->end = end;
}

/* SQLite's [identifier]: no escape, it ends at the first ']'. */
static void bracketed(const char *s, size_t i, size_t end, struct mig_sqltoken *t)
{
    const char *close = memchr(s + i, ']', end - i);
    if (close) {
        t->end = (size_t)(close - s) + 1;
        return;
    }
    t->kind = SQLT_UNTERMINATED;
    t->what = "bracket-quoted identifier";
    t->end = end;
}

/* ${name}, ${name:ident}, ${name:raw}. Anything else from "${" to the next
 * '}' on the same line is one malformed token, so that its braces never
 * count as the body's own. */
static void interp(const char *s, size_t end, struct mig_sqltoken *t)
{
    size_t close = t->start + 2;
    while (close < end && s[close] != '}' && s[close] != '\n')
        close++;
    t->kind = SQLT_BAD_INTERP;
    if (close >= end || s[close] != '}') {
        t->what = "'${' without its closing '}'";
        t->end = t->start + 2;
        return;
    }
    t->end = close + 1;
    t->what = "expected ${name}, ${name:ident} or ${name:raw}";
    size_t i = t->start + 2;
    if (!is_ident_start((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80)
        return;
    t->name_start = i;
    while (is_ident_char((unsigned char)s[i]) && (unsigned char)s[i] < 0x80)
        i++;
    t->name_len = i - t->name_start;
    t->mode = MIG_INTERP_LITERAL;
    if (s[i] == ':') {
        size_t m = ++i;
        while (i < close && s[i] != '}')
            i++;
        if (i - m == 5 && memcmp(s + m, "ident", 5) == 0)
            t->mode = MIG_INTERP_IDENT;
        else if (i - m == 3 && memcmp(s + m, "raw", 3) == 0)
            t->mode = MIG_INTERP_RAW;
        else {
            t->what = "unknown interpolation mode: expected ${name:ident} or ${name:raw}";
            return;
        }
    }
    if (i == close) {
        t->kind = SQLT_INTERP;
        t->what = NULL;
    }
}

void mig_sql_next(const char *s, size_t pos, size_t end, struct mig_sqltoken *t)
{
    mig_sql_next_in(MIG_SQL_POSTGRES, s, pos, end, t);
}

void mig_sql_interp_at(const char *s, size_t pos, size_t end, struct mig_sqltoken *t)
{
    memset(t, 0, sizeof(*t));
    t->start = pos;
    t->end = pos;
    t->kind = SQLT_EOF;
    if (pos + 1 < end && s[pos] == '$' && s[pos + 1] == '{')
        interp(s, end, t);
}

void mig_sql_next_in(enum mig_sqlrules rules, const char *s, size_t pos, size_t end, struct mig_sqltoken *t)
{
    memset(t, 0, sizeof(*t));
    t->start = pos;
    t->end = pos;
    if (pos >= end) {
        t->kind = SQLT_EOF;
        return;
    }
    unsigned char c = (unsigned char)s[pos];
    size_t i = pos + 1;
    switch (c) {
    case ' ': case '\t': case '\n': case '\r': case '\f': case '\v':
        while (i < end && (cclass[(unsigned char)s[i]] & C_SPACE))
            i++;
        t->kind = SQLT_SPACE;
        t->end = i;
        return;
    case '\'':
        t->kind = SQLT_STRING;
        quoted(s, i, end, t, '\'', 0);
        return;
    case '"':
        t->kind = SQLT_QIDENT;
        quoted(s, i, end, t, '"', 0);
        return;
    case '`':
        if (rules != MIG_SQL_SQLITE)
            break;
        t->kind = SQLT_QIDENT;
        quoted(s, i, end, t, '`', 0);
        return;
    case '[':
        if (rules != MIG_SQL_SQLITE)
            break;      /* PostgreSQL: a subscript, ARRAY[…], int[] */
        t->kind = SQLT_QIDENT;
        bracketed(s, i, end, t);
        return;
    case '-':
        if (i < end && s[i] == '-') {
            while (i < end && s[i] != '\n')
                i++;
            t->kind = SQLT_LINE_COMMENT;
            t->end = i;
            return;
        }
        break;
    case '/':
        if (i < end && s[i] == '*') {
            int depth = 1;
            i++;
            while (i < end && depth > 0) {
                if (s[i] == '/' && i + 1 < end && s[i + 1] == '*') {
                    depth++;
                    i += 2;
                } else if (s[i] == '*' && i + 1 < end && s[i + 1] == '/') {
                    depth--;
                    i += 2;
                } else
                    i++;
            }
            t->end = i;
            if (depth > 0) {
                t->kind = SQLT_UNTERMINATED;
                t->what = "block comment";
            } else
                t->kind = SQLT_BLOCK_COMMENT;
            return;
        }
        break;
    case '$': {
        if (i < end && s[i] == '{') {
            interp(s, end, t);
            return;
        }
        size_t tag = dollar_tag(s, pos, end);
        if (tag) {
            i = pos + tag;
            while (i < end) {
                if (s[i] == '$' && i + tag <= end && memcmp(s + i, s + pos, tag) == 0) {
                    t->kind = SQLT_DOLLAR;
                    t->end = i + tag;
                    return;
                }
                i++;
            }
            t->kind = SQLT_UNTERMINATED;
            t->what = "dollar-quoted string";
            t->end = end;
            return;
        }
        break;
    }
    case '{':
        t->kind = SQLT_LBRACE;
        t->end = i;
        return;
    case '}':
        t->kind = SQLT_RBRACE;
        t->end = i;
        return;
    case ';':
        t->kind = SQLT_SEMI;
        t->end = i;
        return;
    default:
        if ((c == 'E' || c == 'e') && i < end && s[i] == '\'') {
            /* E'…': PostgreSQL escape string, backslash escapes */
            t->kind = SQLT_STRING;
            quoted(s, i + 1, end, t, '\'', 1);
            return;
        }
        if (is_ident_char(c)) {
            while (i < end && (is_ident_char((unsigned char)s[i]) || s[i] == '$'))
                i++;
            t->kind = SQLT_WORD;
            t->end = i;
            return;
        }
        break;
    }
    t->kind = SQLT_PUNCT;
    t->end = i;
}

int mig_sqltok_is_code(enum mig_sqltok k)
{
    return k != SQLT_SPACE && k != SQLT_LINE_COMMENT && k != SQLT_BLOCK_COMMENT && k != SQLT_EOF;
}

int mig_sql_body_end(const char *s, size_t pos, size_t end, size_t *close,
                     const char **why, size_t *why_off)
{
    return mig_sql_body_end_in(MIG_SQL_POSTGRES, s, pos, end, close, why, why_off);
}

int mig_sql_body_end_in(enum mig_sqlrules rules, const char *s, size_t pos, size_t end, size_t *close,
                        const char **why, size_t *why_off)
{
    int depth = 0;
    struct mig_sqltoken t;
    for (;;) {
        mig_sql_next_in(rules, s, pos, end, &t);
        switch (t.kind) {
        case SQLT_EOF:
            *why = "braces";
            *why_off = end;
            return 0;
        case SQLT_UNTERMINATED:
            *why = t.what;
            *why_off = t.start;
            return 0;
        case SQLT_LBRACE:
            depth++;
            break;
        case SQLT_RBRACE:
            if (depth == 0) {
                *close = t.start;
                return 1;
            }
            depth--;
            break;
        default:
            break;
        }
        pos = t.end;
    }
}
