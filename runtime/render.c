/* render.c — SQL templates with their ${…} rendered through the driver's
 * quoting (literals, identifiers; raw only where written). */
#include "vm.h"
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rendering ${…} --------------------------------------------------------- */

static bool append(char **buf, size_t *n, size_t *cap, const char *s, size_t len)
{
    if (*n + len + 1 > *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        while (c < *n + len + 1)
            c *= 2;
        char *nb = realloc(*buf, c);
        if (!nb)
            return false;
        *buf = nb;
        *cap = c;
    }
    memcpy(*buf + *n, s, len);
    *n += len;
    (*buf)[*n] = 0;
    return true;
}

char *mig_vm_render(struct mig_vm *vm, const struct mig_pvariant *v, const struct mig_value *args)
{
    const struct mig_plan *p = vm->plan;
    const char *text = p->strings[v->text];
    uint32_t tl = p->string_len[v->text], pos = 0;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    bool pg = vm->conn->drv->dialect == MIG_D_POSTGRES;
    for (uint32_t i = 0; i <= v->ninterps; i++) {
        uint32_t upto = i < v->ninterps ? v->interps[i].off : tl;
        if (!append(&buf, &n, &cap, text + pos, upto - pos))
            goto oom;
        if (i == v->ninterps)
            break;
        const struct mig_pinterp *in = &v->interps[i];
        pos = in->off + in->len;
        const struct mig_value *val = in->kind == MIG_VAR_GLOBAL ? &vm->globals[in->index]
                                    : in->kind == MIG_VAR_SLOT ? &mig_slots(vm, vm->migration)[in->index]
                                    : &args[in->index];
        const char *name = p->strings[in->name];
        char num[32];
        char *q = NULL;
        const char *piece = NULL;
        if (in->mode == 1) {            /* ident */
            if (val->t != MIG_V_STRING) {
                mig_vm_fail(vm, MIG_NONE, "${%s:ident} needs a string, but %s is %s", name, name,
                            mig_value_show(vm, val));
                free(buf);
                return NULL;
            }
            piece = q = vm->conn->drv->quote_ident(vm->conn, val->s, val->n);
        } else if (val->t == MIG_V_STRING) {
            if (in->mode == 2)
                piece = val->s;
            else
                piece = q = vm->conn->drv->quote_literal(vm->conn, val->s, val->n);
        } else if (val->t == MIG_V_NULL) {
            piece = "NULL";
        } else if (val->t == MIG_V_BOOL) {
            piece = pg ? (val->i ? "TRUE" : "FALSE") : (val->i ? "1" : "0");
        } else if (val->t == MIG_V_FLOAT) {
            /* a numeric literal, never an integer one (2.0, not 2) */
            piece = mig_float_text(mig_vfloat(val), num);
        } else {
            snprintf(num, sizeof(num), "%" PRId64, val->i);
            piece = num;
        }
        if (!piece || !append(&buf, &n, &cap, piece, strlen(piece))) {
            free(q);
            goto oom;
        }
        free(q);
    }
    if (!buf)
        buf = calloc(1, 1);
    return buf;
oom:
    free(buf);
    mig_vm_fail(vm, MIG_NONE, "out of memory while rendering SQL");
    return NULL;
}

