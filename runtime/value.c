/* value.c — values as text for messages, and -p values parsed to a param's type. */
#include "vm.h"
#include <ctype.h>
#include <errno.h>
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
    default: return "?";
    }
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

