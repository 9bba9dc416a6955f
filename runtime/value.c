/* value.c — values as text for messages, -p values parsed to a param's
 * type, floats as text, and the value functions behind the version and
 * regex builtins and commands' arguments. */
#include "vm.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *mig_value_show(struct mig_vm *vm, const struct mig_value *v)
{
    switch (v->t) {
    case MIG_V_NULL: return "null";
    case MIG_V_INT: return mig_arena_printf(&vm->arena, "%" PRId64, v->i);
    case MIG_V_BOOL: return v->i ? "true" : "false";
    case MIG_V_DURATION: return mig_arena_printf(&vm->arena, "%" PRId64 "ms", v->i);
    case MIG_V_STRING: return mig_arena_printf(&vm->arena, "\"%.200s%s\"", v->s, v->n > 200 ? "…" : "");
    case MIG_V_FLOAT: {
        char buf[32];
        return mig_arena_strdup(&vm->arena, mig_float_text(mig_vfloat(v), buf));
    }
    default: return "?";
    }
}

const char *mig_float_text(double f, char buf[32])
{
    snprintf(buf, 32, "%.15g", f);
    if (strtod(buf, NULL) != f)
        snprintf(buf, 32, "%.17g", f);
    if (!strpbrk(buf, ".eEni"))     /* "2" reads as an integer: "2.0" (inf and nan never get here) */
        strcat(buf, ".0");
    return buf;
}

bool mig_float_parse(const char *s, double *out)
{
    /* digits, an optional fraction and exponent, an optional sign; no
     * spaces, no hex, no inf or nan (strtod alone takes all of these) */
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
        return false;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q) && *q != '.' && *q != 'e' && *q != 'E' && *q != '-' && *q != '+')
            return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* One part of a dotted version: its leading number (saturating) and what
 * follows it up to the next '.'. */
static const char *version_part(const char *s, uint64_t *num, const char **suffix, size_t *suffix_len)
{
    uint64_t n = 0;
    while (isdigit((unsigned char)*s)) {
        n = n > (UINT64_MAX - 9) / 10 ? UINT64_MAX : n * 10 + (uint64_t)(*s - '0');
        s++;
    }
    *num = n;
    *suffix = s;
    while (*s && *s != '.')
        s++;
    *suffix_len = (size_t)(s - *suffix);
    return *s == '.' ? s + 1 : s;
}

int mig_version_cmp(const char *a, const char *b)
{
    if ((*a == 'v' || *a == 'V') && isdigit((unsigned char)a[1]))
        a++;
    if ((*b == 'v' || *b == 'V') && isdigit((unsigned char)b[1]))
        b++;
    while (*a || *b) {
        uint64_t na = 0, nb = 0;
        const char *sa = "", *sb = "";
        size_t la = 0, lb = 0;
        if (*a)
            a = version_part(a, &na, &sa, &la);
        if (*b)
            b = version_part(b, &nb, &sb, &lb);
        if (na != nb)
            return na < nb ? -1 : 1;
        /* equal numbers: no suffix ranks above a suffix (1.0 > 1.0rc1),
         * two suffixes compare as text */
        if (la == 0 || lb == 0) {
            if (la != lb)
                return la == 0 ? 1 : -1;
            continue;
        }
        int c = memcmp(sa, sb, la < lb ? la : lb);
        if (c == 0)
            c = (la > lb) - (la < lb);
        if (c)
            return c < 0 ? -1 : 1;
    }
    return 0;
}

int mig_regex_matches(const char *s, const char *re, char *err, size_t errlen)
{
    regex_t rx;
    int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        regerror(rc, &rx, err, errlen);
        return -1;
    }
    rc = regexec(&rx, s, 0, NULL, 0);
    regfree(&rx);
    return rc == 0;
}

void mig_exec_args_free(struct mig_exec_args *a)
{
    for (size_t i = 0; a->argv && i < a->argc; i++)
        free(a->argv[i]);
    for (size_t i = 0; a->env && i < a->nenv; i++)
        free(a->env[i]);
    free(a->argv);
    free(a->env);
    free(a->cwd);
    memset(a, 0, sizeof(*a));
}

char *mig_exec_args_text(const struct mig_exec_args *a)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m)
        return NULL;
    for (size_t i = 0; i < a->argc; i++) {
        const char *s = a->argv[i];
        bool plain = *s != 0;
        for (const char *c = s; *c && plain; c++)
            plain = isalnum((unsigned char)*c) || strchr("@%+=:,./_-", *c);
        if (i)
            fputc(' ', m);
        if (plain) {
            fputs(s, m);
            continue;
        }
        fputc('\'', m);
        for (const char *c = s; *c; c++)
            if (*c == '\'')
                fputs("'\\''", m);
            else
                fputc(*c, m);
        fputc('\'', m);
    }
    if (fclose(m) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

int mig_value_parse(struct mig_arena *a, enum mig_vtype t, const char *text, struct mig_value *out,
                    char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->t = t;
    char *end = NULL;
    switch (t) {
    case MIG_V_STRING:
        out->s = mig_arena_strdup(a, text);
        out->n = (uint32_t)strlen(text);
        return 0;
    case MIG_V_BOOL:
        if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
            out->i = text[0] == 't';
            return 0;
        }
        snprintf(err, errlen, "'%s' is not a bool (true or false)", text);
        return -1;
    case MIG_V_INT:
        /* digits with an optional sign, nothing around them (strtoll alone
         * would take " 5") */
        errno = 0;
        out->i = strtoll(text, &end, 10);
        if (errno == 0 && (isdigit((unsigned char)text[0]) || ((text[0] == '-' || text[0] == '+') &&
                                                                isdigit((unsigned char)text[1]))) &&
            *end == 0)
            return 0;
        snprintf(err, errlen, "'%s' is not an int", text);
        return -1;
    case MIG_V_FLOAT: {
        double d;
        if (mig_float_parse(text, &d)) {
            *out = mig_vmkfloat(d);
            return 0;
        }
        snprintf(err, errlen, "'%s' is not a float (such as 2.5, 1e-3)", text);
        return -1;
    }
    case MIG_V_DURATION: {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        int64_t unit = 0;
        if (isdigit((unsigned char)text[0]) && errno == 0) {
            if (strcmp(end, "ms") == 0)
                unit = 1;
            else if (strcmp(end, "s") == 0)
                unit = 1000;
            else if (strcmp(end, "m") == 0)
                unit = 60000;
            else if (strcmp(end, "h") == 0)
                unit = 3600000;
        }
        if (unit && v <= INT64_MAX / unit) {
            out->i = v * unit;
            return 0;
        }
        snprintf(err, errlen, "'%s' is not a duration (such as 250ms, 30s, 5m, 2h)", text);
        return -1;
    }
    default:
        snprintf(err, errlen, "a param cannot have type %s", mig_vtype_name(t));
        return -1;
    }
}

