/* vm.c — the dispatch loop and the expression ops. The handler table is
 * generated from opcodes.h, so an opcode without a handler does not link.
 * Each handler is documented in one shape: the opcode, its operands and its
 * effect, above its definition. */
#include "vm.h"
#include "vm_internal.h"
#include "fault.h"
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_CALL_DEPTH = 200 };

int mig_vm_init(struct mig_vm *vm, const struct mig_plan *plan, struct mig_conn *conn)
{
    memset(vm, 0, sizeof(*vm));
    vm->plan = plan;
    vm->conn = conn;
    vm->globals = mig_arena_alloc(&vm->arena, (plan->nglobals + 1) * sizeof(*vm->globals));
    vm->slots = mig_arena_alloc(&vm->arena, (plan->nmigrations + 1) * sizeof(*vm->slots));
    vm->overrides = mig_arena_alloc(&vm->arena, (plan->nmigrations + 1) * sizeof(*vm->overrides));
    vm->has_override = mig_arena_alloc(&vm->arena, (plan->nmigrations + 1) * sizeof(*vm->has_override));
    uint32_t cap = 16;
    for (uint32_t i = 0; i < plan->nblocks; i++)
        if (plan->blocks[i].max_stack > cap)
            cap = plan->blocks[i].max_stack;
    /* each call frame needs its block's stack on top of the caller's */
    vm->stack_cap = cap * (MAX_CALL_DEPTH + 2);
    vm->stack = calloc(vm->stack_cap, sizeof(*vm->stack));
    return vm->stack ? 0 : -1;
}

void mig_vm_free(struct mig_vm *vm)
{
    free(vm->stack);
    mig_arena_free(&vm->arena);
}

struct mig_value *mig_slots(struct mig_vm *vm, uint32_t m)
{
    if (!vm->slots[m])
        vm->slots[m] = mig_arena_alloc(&vm->arena, (vm->plan->migrations[m].nslots + 1) * sizeof(struct mig_value));
    return vm->slots[m];
}

void mig_vm_set_param(struct mig_vm *vm, uint32_t migration, uint32_t slot, const struct mig_value *v)
{
    uint32_t n = vm->plan->migrations[migration].nslots + 1;
    if (!vm->overrides[migration]) {
        vm->overrides[migration] = mig_arena_alloc(&vm->arena, n * sizeof(struct mig_value));
        vm->has_override[migration] = mig_arena_alloc(&vm->arena, n * sizeof(bool));
    }
    struct mig_value c = *v;
    if (c.t == MIG_V_STRING)
        c.s = mig_arena_strndup(&vm->arena, v->s, v->n);
    vm->overrides[migration][slot] = c;
    vm->has_override[migration][slot] = true;
}

void mig_vm_fail(struct mig_vm *vm, uint32_t pc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->err, sizeof(vm->err), fmt, ap);
    va_end(ap);
    vm->err_pc = pc;
}

/* ---- the machine ------------------------------------------------------------- */


int mig_vm_type_error(struct mig_vm *vm, uint32_t pc, const char *what, const struct mig_value *l,
                      const struct mig_value *r)
{
    if (r)
        mig_vm_fail(vm, pc, "%s: cannot use %s (%s) with %s (%s)", what, mig_value_show(vm, l),
                    mig_vtype_name(l->t), mig_value_show(vm, r), mig_vtype_name(r->t));
    else
        mig_vm_fail(vm, pc, "%s: cannot use %s (%s)", what, mig_value_show(vm, l), mig_vtype_name(l->t));
    return -1;
}

struct mig_value mig_vm_mkint(enum mig_vtype t, int64_t i)
{
    struct mig_value v = { t, i, NULL, 0 };
    return v;
}

/* CONST k — push K[k] */
int mig_op_CONST(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    PUSH(vm->plan->consts[a[0]]);
    return NEXT(OP_CONST);
}

/* LOAD_GLOBAL g — push global g */
int mig_op_LOAD_GLOBAL(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    PUSH(vm->globals[a[0]]);
    return NEXT(OP_LOAD_GLOBAL);
}

/* LOAD_SLOT s — push slot s of the running migration */
int mig_op_LOAD_SLOT(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    PUSH(mig_slots(vm, vm->migration)[a[0]]);
    return NEXT(OP_LOAD_SLOT);
}

/* LOAD_ARG a — push argument a of the running function */
int mig_op_LOAD_ARG(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    PUSH(f->base[a[0]]);
    return NEXT(OP_LOAD_ARG);
}

/* STORE_GLOBAL g — pop into global g */
int mig_op_STORE_GLOBAL(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    vm->globals[a[0]] = POP();
    return NEXT(OP_STORE_GLOBAL);
}

/* STORE_SLOT s — pop into slot s of the running migration */
int mig_op_STORE_SLOT(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    mig_slots(vm, vm->migration)[a[0]] = POP();
    return NEXT(OP_STORE_SLOT);
}

#define mkfloat mig_vmkfloat
#define FLT(v) mig_vfloat(&(v))

/* CHECK_TYPE t — fail unless the top is null or of type t (an int stored as a float becomes one) */
int mig_op_CHECK_TYPE(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    if (TOP.t == MIG_V_INT && a[0] == MIG_V_FLOAT)
        TOP = mkfloat((double)TOP.i);
    if (TOP.t != MIG_V_NULL && TOP.t != (enum mig_vtype)a[0]) {
        mig_vm_fail(vm, pc, "a %s value was expected, but the value is %s (%s)", mig_vtype_name((enum mig_vtype)a[0]),
                    mig_value_show(vm, &TOP), mig_vtype_name(TOP.t));
        return -1;
    }
    return NEXT(OP_CHECK_TYPE);
}

/* NOT — pop a bool, push its negation */
int mig_op_NOT(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    (void)a;
    if (TOP.t != MIG_V_BOOL)
        return mig_vm_type_error(vm, pc, "'not'", &TOP, NULL);
    TOP.i = !TOP.i;
    return NEXT(OP_NOT);
}

/* NEG — pop an int, float or duration, push its negation */
int mig_op_NEG(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    (void)a;
    if (TOP.t == MIG_V_FLOAT) {
        TOP = mkfloat(-FLT(TOP));
        return NEXT(OP_NEG);
    }
    if ((TOP.t != MIG_V_INT && TOP.t != MIG_V_DURATION) || TOP.i == INT64_MIN)
        return mig_vm_type_error(vm, pc, "unary '-'", &TOP, NULL);
    TOP.i = -TOP.i;
    return NEXT(OP_NEG);
}

static int arith(struct mig_vm *vm, uint32_t pc, enum mig_opcode op)
{
    struct mig_value r = POP(), l = POP();
    static const char *const sym[] = { [OP_ADD] = "'+'", [OP_SUB] = "'-'", [OP_MUL] = "'*'",
                                       [OP_DIV] = "'/'", [OP_MOD] = "'%'" };
    if (op == OP_ADD && l.t == MIG_V_STRING && r.t == MIG_V_STRING) {
        char *s = mig_arena_alloc(&vm->arena, (size_t)l.n + r.n + 1);
        memcpy(s, l.s, l.n);
        memcpy(s + l.n, r.s, r.n);
        struct mig_value v = { MIG_V_STRING, 0, s, l.n + r.n };
        PUSH(v);
        return NEXT(op);
    }
    if ((l.t == MIG_V_FLOAT || r.t == MIG_V_FLOAT) && (l.t == MIG_V_FLOAT || l.t == MIG_V_INT) &&
        (r.t == MIG_V_FLOAT || r.t == MIG_V_INT) && op != OP_MOD) {
        /* an int with a float counts as a float */
        double x = l.t == MIG_V_FLOAT ? FLT(l) : (double)l.i, y = r.t == MIG_V_FLOAT ? FLT(r) : (double)r.i, z = 0;
        switch (op) {
        case OP_ADD: z = x + y; break;
        case OP_SUB: z = x - y; break;
        case OP_MUL: z = x * y; break;
        default:
            if (y == 0) {
                mig_vm_fail(vm, pc, "division by zero");
                return -1;
            }
            z = x / y;
            break;
        }
        if (!isfinite(z)) {
            mig_vm_fail(vm, pc, "float overflow in %s", sym[op]);
            return -1;
        }
        PUSH(mkfloat(z));
        return NEXT(op);
    }
    bool ok = l.t == r.t && (l.t == MIG_V_INT || (l.t == MIG_V_DURATION && (op == OP_ADD || op == OP_SUB)));
    if (!ok)
        return mig_vm_type_error(vm, pc, sym[op], &l, &r);
    int64_t out = 0;
    bool overflow = false;
    switch (op) {
    case OP_ADD: overflow = __builtin_add_overflow(l.i, r.i, &out); break;
    case OP_SUB: overflow = __builtin_sub_overflow(l.i, r.i, &out); break;
    case OP_MUL: overflow = __builtin_mul_overflow(l.i, r.i, &out); break;
    case OP_DIV: case OP_MOD:
        if (r.i == 0) {
            mig_vm_fail(vm, pc, "division by zero");
            return -1;
        }
        if (l.i == INT64_MIN && r.i == -1)
            overflow = true;
        else
            out = op == OP_DIV ? l.i / r.i : l.i % r.i;
        break;
    default: break;
    }
    if (overflow) {
        mig_vm_fail(vm, pc, "integer overflow in %s", sym[op]);
        return -1;
    }
    PUSH(mig_vm_mkint(l.t, out));
    return NEXT(op);
}

/* ADD — pop r, l; push l + r (ints, durations; strings concatenate) */
int mig_op_ADD(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; (void)a; return arith(vm, pc, OP_ADD); }
/* SUB — pop r, l; push l - r */
int mig_op_SUB(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; (void)a; return arith(vm, pc, OP_SUB); }
/* MUL — pop r, l; push l * r */
int mig_op_MUL(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; (void)a; return arith(vm, pc, OP_MUL); }
/* DIV — pop r, l; push l / r (error on zero) */
int mig_op_DIV(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; (void)a; return arith(vm, pc, OP_DIV); }
/* MOD — pop r, l; push l % r (error on zero) */
int mig_op_MOD(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; (void)a; return arith(vm, pc, OP_MOD); }

static int compare(struct mig_vm *vm, uint32_t pc, enum mig_opcode op)
{
    struct mig_value r = POP(), l = POP();
    static const char *const sym[] = { [OP_EQ] = "'=='", [OP_NE] = "'!='", [OP_LT] = "'<'",
                                       [OP_LE] = "'<='", [OP_GT] = "'>'", [OP_GE] = "'>='" };
    int c;
    bool numeric = (l.t == MIG_V_FLOAT && (r.t == MIG_V_FLOAT || r.t == MIG_V_INT)) ||
                   (r.t == MIG_V_FLOAT && l.t == MIG_V_INT);
    if (numeric) {
        /* an int with a float compares as numbers (exactly, not through a
         * rounded double, when the int is beyond 2^53) */
        double x = l.t == MIG_V_FLOAT ? FLT(l) : (double)l.i, y = r.t == MIG_V_FLOAT ? FLT(r) : (double)r.i;
        c = (x > y) - (x < y);
        if (c == 0 && l.t != r.t) {
            int64_t n = l.t == MIG_V_INT ? l.i : r.i;
            double d = l.t == MIG_V_FLOAT ? FLT(l) : FLT(r);
            /* d is integral here; compare as integers when it fits */
            if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
                int64_t di = (int64_t)d;
                c = l.t == MIG_V_INT ? (n > di) - (n < di) : (di > n) - (di < n);
            }
        }
        bool res = op == OP_EQ ? c == 0 : op == OP_NE ? c != 0 : op == OP_LT ? c < 0 : op == OP_LE ? c <= 0
                 : op == OP_GT ? c > 0 : c >= 0;
        PUSH(mig_vm_mkint(MIG_V_BOOL, res));
        return NEXT(op);
    }
    if (op == OP_EQ || op == OP_NE) {
        if (l.t == MIG_V_NULL || r.t == MIG_V_NULL) {
            c = l.t == r.t ? 0 : 1;
        } else if (l.t != r.t) {
            return mig_vm_type_error(vm, pc, sym[op], &l, &r);
        } else if (l.t == MIG_V_STRING) {
            c = l.n != r.n || memcmp(l.s, r.s, l.n) != 0;
        } else {
            c = l.i != r.i;
        }
        PUSH(mig_vm_mkint(MIG_V_BOOL, op == OP_EQ ? c == 0 : c != 0));
        return NEXT(op);
    }
    if (l.t != r.t || l.t == MIG_V_NULL || l.t == MIG_V_BOOL)
        return mig_vm_type_error(vm, pc, sym[op], &l, &r);
    if (l.t == MIG_V_STRING) {
        int m = memcmp(l.s, r.s, l.n < r.n ? l.n : r.n);
        c = m ? m : (l.n > r.n) - (l.n < r.n);
    } else {
        c = (l.i > r.i) - (l.i < r.i);
    }
    bool res = op == OP_LT ? c < 0 : op == OP_LE ? c <= 0 : op == OP_GT ? c > 0 : c >= 0;
    PUSH(mig_vm_mkint(MIG_V_BOOL, res));
    return NEXT(op);
}

/* EQ — pop r, l; push l == r (null equals only null; other mixed types fail) */
int mig_op_EQ(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; (void)a; return compare(vm, pc, OP_EQ); }
/* NE — pop r, l; push l != r */
int mig_op_NE(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; (void)a; return compare(vm, pc, OP_NE); }
/* LT — pop r, l; push l < r (ints, strings, durations) */
int mig_op_LT(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; (void)a; return compare(vm, pc, OP_LT); }
/* LE — pop r, l; push l <= r */
int mig_op_LE(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; (void)a; return compare(vm, pc, OP_LE); }
/* GT — pop r, l; push l > r */
int mig_op_GT(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; (void)a; return compare(vm, pc, OP_GT); }
/* GE — pop r, l; push l >= r */
int mig_op_GE(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; (void)a; return compare(vm, pc, OP_GE); }

/* JUMP a — go to a */
int mig_op_JUMP(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)vm; (void)f; (void)pc;
    return (int)a[0];
}

int mig_vm_want_bool(struct mig_vm *vm, uint32_t pc, const struct mig_value *v, const char *what)
{
    if (v->t == MIG_V_BOOL)
        return 0;
    mig_vm_fail(vm, pc, "%s needs a bool, but the value is %s (%s)", what, mig_value_show(vm, v),
                mig_vtype_name(v->t));
    return -1;
}

/* JUMP_FALSE a — pop a bool; go to a if it is false */
int mig_op_JUMP_FALSE(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    struct mig_value v = POP();
    if (mig_vm_want_bool(vm, pc, &v, "a condition") != 0)
        return -1;
    return v.i ? NEXT(OP_JUMP_FALSE) : (int)a[0];
}

/* AND_JUMP a — top false: go to a keeping it; else pop it (and's left side) */
int mig_op_AND_JUMP(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    if (mig_vm_want_bool(vm, pc, &TOP, "'and'") != 0)
        return -1;
    if (!TOP.i)
        return (int)a[0];
    vm->sp--;
    return NEXT(OP_AND_JUMP);
}

/* OR_JUMP a — top true: go to a keeping it; else pop it (or's left side) */
int mig_op_OR_JUMP(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    if (mig_vm_want_bool(vm, pc, &TOP, "'or'") != 0)
        return -1;
    if (TOP.i)
        return (int)a[0];
    vm->sp--;
    return NEXT(OP_OR_JUMP);
}

int mig_vm_run_code(struct mig_vm *vm, uint32_t block, struct mig_value *args);

/* CALL f n — call function f with the top n values as arguments; push its result */
int mig_op_CALL(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    if (vm->depth >= MAX_CALL_DEPTH) {
        mig_vm_fail(vm, pc, "calls nested deeper than %d", MAX_CALL_DEPTH);
        return -1;
    }
    const struct mig_pfn *fn = &vm->plan->fns[a[0]];
    struct mig_value *args = &vm->stack[vm->sp - a[1]];
    uint32_t base_sp = vm->sp;
    vm->depth++;
    int rc = mig_vm_run_code(vm, fn->block, args);
    vm->depth--;
    if (rc != 0)
        return -1;
    struct mig_value result = vm->stack[base_sp];   /* RET leaves it just above the args */
    vm->sp = base_sp - a[1];
    PUSH(result);
    return NEXT(OP_CALL);
}

/* BUILTIN b n — call builtin b with the top n values; push its result */
int mig_op_BUILTIN(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    struct mig_value *args = &vm->stack[vm->sp - a[1]];
    struct mig_value out = { MIG_V_NULL, 0, NULL, 0 };
    /* the string functions give null for a null argument */
    enum mig_builtin b = (enum mig_builtin)a[0];
    if ((b == MIG_B_VERSION_CMP || b == MIG_B_MATCHES || b == MIG_B_TRIM || b == MIG_B_LOWER || b == MIG_B_UPPER)) {
        for (uint32_t i = 0; i < a[1]; i++) {
            if (args[i].t == MIG_V_NULL) {
                vm->sp -= a[1];
                PUSH(out);
                return NEXT(OP_BUILTIN);
            }
            if (args[i].t != MIG_V_STRING)
                return mig_vm_type_error(vm, pc, mig_arena_printf(&vm->arena, "%s()", mig_builtin_name[b]), &args[i], NULL);
        }
    }
    if (mig_vm_builtin(vm, pc, b, args, a[1], &out) != 0)
        return -1;
    vm->sp -= a[1];
    PUSH(out);
    return NEXT(OP_BUILTIN);
}

static int run_query(struct mig_vm *vm, struct frame *f, uint32_t pc, uint32_t q, bool exists,
                     struct mig_value *out)
{
    const struct mig_pvariant *v = mig_plan_variant(vm->plan, q, vm->conn->drv->dialect);
    if (!v) {
        mig_vm_fail(vm, pc, "this query has no SQL for %s", vm->conn->drv->name);
        return -1;
    }
    char *sql = mig_vm_render(vm, v, f->base);
    if (!sql) {
        vm->err_pc = pc;
        return -1;
    }
    bool has_row = false;
    struct mig_value r;
    memset(&r, 0, sizeof(r));
    memset(&vm->dberr, 0, sizeof(vm->dberr));
    int rc = vm->conn->drv->query(vm->conn, sql, &has_row, &r, &vm->dberr);
    free(sql);
    if (rc != 0) {
        vm->has_dberr = true;
        mig_vm_fail(vm, pc, "%s query failed: %s", exists ? "exists" : "scalar", vm->dberr.message);
        return -1;
    }
    if (exists) {
        *out = mig_vm_mkint(MIG_V_BOOL, has_row);
    } else if (!has_row) {
        *out = mig_vm_mkint(MIG_V_NULL, 0);
    } else {
        *out = r;
    }
    if (r.t == MIG_V_STRING) {
        if (!exists)
            out->s = mig_arena_strndup(&vm->arena, r.s, r.n);
        free((void *)r.s);
    }
    return 0;
}

/* EXISTS q — push whether query q (rendered with ${…}) returns a row */
int mig_op_EXISTS(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    struct mig_value v;
    if (run_query(vm, f, pc, a[0], true, &v) != 0)
        return -1;
    PUSH(v);
    return NEXT(OP_EXISTS);
}

/* SCALAR q — push the first column of the first row of query q, or null */
int mig_op_SCALAR(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    struct mig_value v;
    if (run_query(vm, f, pc, a[0], false, &v) != 0)
        return -1;
    PUSH(v);
    return NEXT(OP_SCALAR);
}

static const op_handler handlers[OP__COUNT] = {
#define OP_HANDLER(name, nops, pop, push, flags, doc) [OP_##name] = mig_op_##name,
    MIG_OPCODES(OP_HANDLER)
#undef OP_HANDLER
};

/* --trace never shows what env() read (a token, a password): the values it
 * returns are noted as its BUILTIN goes by, and a value holding one of them
 * shows as <env>. */
static const char *trace_env[64];
static size_t trace_nenv;
static bool trace_env_overflow;     /* more than trace_env holds: every value is hidden */

static bool trace_holds_env(const char *s)
{
    if (trace_env_overflow)
        return true;
    for (size_t i = 0; s && i < trace_nenv; i++)
        if (strstr(s, trace_env[i]))
            return true;
    return false;
}

static void trace(struct mig_vm *vm, uint32_t pc)
{
    const uint32_t *arg = &vm->plan->code[pc + 1];
    if (vm->plan->code[pc] == OP_BUILTIN && arg[0] == MIG_B_ENV && arg[1] >= 1 && vm->sp >= arg[1]) {
        const struct mig_value *name = &vm->stack[vm->sp - arg[1]];
        const char *e = name->t == MIG_V_STRING ? getenv(name->s) : NULL;
        bool known = false;
        for (size_t i = 0; e && i < trace_nenv; i++)
            known = known || trace_env[i] == e;
        if (e && *e && !known) {
            if (trace_nenv < sizeof(trace_env) / sizeof(*trace_env))
                trace_env[trace_nenv++] = e;
            else
                trace_env_overflow = true;
        }
    }
    const struct mig_opinfo *oi = &mig_opinfo[vm->plan->code[pc]];
    const char *file;
    uint32_t line;
    mig_plan_line(vm->plan, pc, &file, &line);
    fprintf(vm->trace, "trace: %04u %-12s", pc, oi->name);
    for (int i = 0; i < oi->nops; i++)
        fprintf(vm->trace, " %u", vm->plan->code[pc + 1 + i]);
    fprintf(vm->trace, "  [%s:%u] stack=%u", file, line, vm->sp);
    if (vm->sp) {
        const struct mig_value *top = &vm->stack[vm->sp - 1];
        const char *shown = mig_value_show(vm, top);
        bool env = (top->t == MIG_V_STRING && trace_holds_env(top->s)) || trace_holds_env(shown);
        fprintf(vm->trace, " top=%s", env ? "<env>" : shown);
    }
    fputc('\n', vm->trace);
}

int mig_vm_run_code(struct mig_vm *vm, uint32_t block, struct mig_value *args)
{
    const struct mig_pblock *b = &vm->plan->blocks[block];
    struct frame f = { vm->plan->code, args };
    if (vm->sp + b->max_stack + 1 > vm->stack_cap) {
        mig_vm_fail(vm, b->start, "the VM stack is exhausted");
        return -1;
    }
    int pc = (int)b->start;
    for (;;) {
        if (vm->trace)
            trace(vm, (uint32_t)pc);
        MIG_FAULT();
        uint32_t op = f.code[pc];
        int next = handlers[op](vm, &f, (uint32_t)pc, &f.code[pc + 1]);
        if (next == -2)
            return 0;
        if (next < 0) {
            if (vm->err_pc == MIG_NONE)
                vm->err_pc = (uint32_t)pc;
            return -1;
        }
        pc = next;
    }
}

int mig_vm_exec_args(struct mig_vm *vm, uint32_t action, struct mig_exec_args *out)
{
    memset(out, 0, sizeof(*out));
    if (action >= vm->plan->nexecs || vm->plan->execs[action].block == MIG_NONE) {
        mig_vm_fail(vm, MIG_NONE, "exec %u is not an exec action", action);
        return -1;
    }
    const struct mig_pblock *b = &vm->plan->blocks[vm->plan->execs[action].block];
    /* a host may call this from a callback, in the middle of a block:
     * everything the running block needs is put back */
    uint32_t migration = vm->migration, sp = vm->sp, depth = vm->depth, err_pc = vm->err_pc;
    struct mig_exec_args *saved = vm->args_out;
    vm->migration = b->owner;
    vm->args_out = out;
    vm->err_pc = MIG_NONE;
    int rc = mig_vm_run_code(vm, vm->plan->execs[action].block, NULL);
    vm->migration = migration;
    vm->sp = sp;
    vm->depth = depth;
    vm->args_out = saved;
    if (rc != 0) {
        mig_exec_args_free(out);
        return -1;
    }
    vm->err_pc = err_pc;
    return 0;
}

int mig_vm_run(struct mig_vm *vm, uint32_t block, uint32_t migration)
{
    vm->migration = migration;
    vm->sp = 0;
    vm->depth = 0;
    vm->err[0] = 0;
    vm->err_pc = MIG_NONE;
    vm->has_dberr = false;
    vm->not_evaluated = false;
    int rc = mig_vm_run_code(vm, block, NULL);
    vm->sp = 0;
    return rc;
}
