/* builtins.c — the builtin functions of the language (LANGUAGE.md §4):
 * dialect(), server_version(), env(), int(), float(), string(), is_null(),
 * version_cmp(), matches(), trim(), lower(), upper(). The VM's BUILTIN op
 * checks the stack and calls mig_vm_builtin. */
#include "vm.h"
#include "driver.h"
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int type_error(struct mig_vm *vm, uint32_t pc, const char *what, const struct mig_value *l,
                      const struct mig_value *r)
{
    (void)r;
    mig_vm_fail(vm, pc, "%s: cannot use %s (%s)", what, mig_value_show(vm, l), mig_vtype_name(l->t));
    return -1;
}

#define mkfloat mig_vmkfloat
#define FLT(v) mig_vfloat(&(v))

static struct mig_value mkint(enum mig_vtype t, int64_t i)
{
    struct mig_value v = { t, i, NULL, 0 };
    return v;
}

/* env("PGHOST"), env("PGPORT"), env("PGUSER"), env("PGDATABASE") in a run
 * against PostgreSQL, env("MIGRUN_SQLITE_PATH") against SQLite: the
 * target's values (those of --db), which commands get too, so a down can
 * name the database. NULL for any other name (PGPASSWORD never gets here). */
static const char *target_env(struct mig_vm *vm, const char *name)
{
    if (!vm->conn || !vm->conn->drv->command_env || strcmp(name, "PGPASSWORD") == 0)
        return NULL;
    char **env = vm->conn->drv->command_env(vm->conn);
    const char *out = NULL;
    size_t len = strlen(name);
    for (size_t i = 0; env && env[i]; i++) {
        if (!out && strncmp(env[i], name, len) == 0 && env[i][len] == '=')
            out = mig_arena_strdup(&vm->arena, env[i] + len + 1);
        free(env[i]);
    }
    free(env);
    return out;
}

int mig_vm_builtin(struct mig_vm *vm, uint32_t pc, enum mig_builtin b, struct mig_value *args, uint32_t n,
                   struct mig_value *out_)
{
    struct mig_value out = { MIG_V_NULL, 0, NULL, 0 };
    switch (b) {
    case MIG_B_DIALECT:
        out.t = MIG_V_STRING;
        out.s = vm->conn->drv->dialect == MIG_D_POSTGRES ? "postgres" : "sqlite";
        out.n = (uint32_t)strlen(out.s);
        break;
    case MIG_B_SERVER_VERSION:
        out = mkint(MIG_V_INT, vm->conn->drv->server_version(vm->conn));
        break;
    case MIG_B_ENV: {
        for (uint32_t i = 0; i < n; i++)
            if (args[i].t != MIG_V_STRING)
                return type_error(vm, pc, "env()", &args[i], NULL);
        if (strcmp(args[0].s, "PGPASSWORD") == 0) {
            mig_vm_fail(vm, pc, "env(\"PGPASSWORD\") is not allowed: a password must not reach a command's "
                        "arguments, SQL or output (commands get it in their PGPASSWORD variable)");
            return -1;
        }
        const char *e = target_env(vm, args[0].s);
        if (!e)
            e = getenv(args[0].s);
        if (e) {
            out.t = MIG_V_STRING;
            out.s = mig_arena_strdup(&vm->arena, e);
            out.n = (uint32_t)strlen(e);
        } else if (n == 2) {
            out = args[1];
        }
        break;
    }
    case MIG_B_INT:
        if (args[0].t == MIG_V_INT || args[0].t == MIG_V_DURATION || args[0].t == MIG_V_NULL) {
            out = args[0];
            if (out.t == MIG_V_DURATION)
                out.t = MIG_V_INT;
        } else if (args[0].t == MIG_V_FLOAT) {
            /* toward zero, as C and most languages convert */
            double d = FLT(args[0]);
            if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
                mig_vm_fail(vm, pc, "int(): %s is out of the range of int", mig_value_show(vm, &args[0]));
                return -1;
            }
            out = mkint(MIG_V_INT, (int64_t)d);
        } else if (args[0].t == MIG_V_STRING) {
            char *end = NULL;
            errno = 0;
            long long v = strtoll(args[0].s, &end, 10);
            if (errno || end == args[0].s || *end) {
                mig_vm_fail(vm, pc, "int(): %s is not an integer", mig_value_show(vm, &args[0]));
                return -1;
            }
            out = mkint(MIG_V_INT, v);
        } else {
            return type_error(vm, pc, "int()", &args[0], NULL);
        }
        break;
    case MIG_B_STRING:
        switch (args[0].t) {
        case MIG_V_STRING: case MIG_V_NULL: out = args[0]; break;
        case MIG_V_BOOL:
            out.t = MIG_V_STRING;
            out.s = args[0].i ? "true" : "false";
            break;
        case MIG_V_INT:
            out.t = MIG_V_STRING;
            out.s = mig_arena_printf(&vm->arena, "%" PRId64, args[0].i);
            break;
        case MIG_V_DURATION:
            out.t = MIG_V_STRING;
            out.s = mig_arena_printf(&vm->arena, "%" PRId64 "ms", args[0].i);
            break;
        case MIG_V_FLOAT: {
            char buf[32];
            out.t = MIG_V_STRING;
            out.s = mig_arena_strdup(&vm->arena, mig_float_text(FLT(args[0]), buf));
            break;
        }
        default: break;
        }
        if (out.t == MIG_V_STRING && args[0].t != MIG_V_STRING)
            out.n = (uint32_t)strlen(out.s);
        break;
    case MIG_B_IS_NULL:
        out = mkint(MIG_V_BOOL, args[0].t == MIG_V_NULL);
        break;
    case MIG_B_FLOAT:
        switch (args[0].t) {
        case MIG_V_NULL: case MIG_V_FLOAT: out = args[0]; break;
        case MIG_V_INT: case MIG_V_DURATION: out = mkfloat((double)args[0].i); break;
        case MIG_V_STRING: {
            double d;
            if (!mig_float_parse(args[0].s, &d)) {
                mig_vm_fail(vm, pc, "float(): %s is not a number", mig_value_show(vm, &args[0]));
                return -1;
            }
            out = mkfloat(d);
            break;
        }
        default:
            return type_error(vm, pc, "float()", &args[0], NULL);
        }
        break;
    case MIG_B_VERSION_CMP:
        out = mkint(MIG_V_INT, mig_version_cmp(args[0].s, args[1].s));
        break;
    case MIG_B_MATCHES: {
        char err[256];
        int m = mig_regex_matches(args[0].s, args[1].s, err, sizeof(err));
        if (m < 0) {
            mig_vm_fail(vm, pc, "matches(): %s is not a POSIX extended regular expression: %s",
                        mig_value_show(vm, &args[1]), err);
            return -1;
        }
        out = mkint(MIG_V_BOOL, m);
        break;
    }
    case MIG_B_TRIM: {
        const char *s = args[0].s;
        uint32_t from = 0, to = args[0].n;
        while (from < to && isspace((unsigned char)s[from]))
            from++;
        while (to > from && isspace((unsigned char)s[to - 1]))
            to--;
        out.t = MIG_V_STRING;
        out.s = mig_arena_strndup(&vm->arena, s + from, to - from);
        out.n = to - from;
        break;
    }
    case MIG_B_LOWER: case MIG_B_UPPER: {
        /* ASCII letters only: bytes of UTF-8 sequences stay as they are */
        char *s = mig_arena_strndup(&vm->arena, args[0].s, args[0].n);
        for (uint32_t i = 0; i < args[0].n; i++)
            if (b == MIG_B_LOWER && s[i] >= 'A' && s[i] <= 'Z')
                s[i] = (char)(s[i] - 'A' + 'a');
            else if (b == MIG_B_UPPER && s[i] >= 'a' && s[i] <= 'z')
                s[i] = (char)(s[i] - 'a' + 'A');
        out.t = MIG_V_STRING;
        out.s = s;
        out.n = args[0].n;
        break;
    }
    default:
        mig_vm_fail(vm, pc, "unknown builtin %u", (uint32_t)b);
        return -1;
    }
    *out_ = out;
    return 0;
}
