/* vm_host.c — the ops that reach outside the VM: commands (EXEC,
 * OUTPUT_EXEC, ARGS), polling (POLL) and the plan-structure ops handed to
 * the host's typed callbacks. Each handler is documented above it. */
#include "vm_internal.h"
#include "fault.h"
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- commands ------------------------------------------------------------------ */

/* Value k of exec e as text: argv elements and env values take strings,
 * ints and floats; the cwd a string. Malloc'd, or NULL with vm->err. */
static char *exec_value(struct mig_vm *vm, uint32_t pc, const struct mig_pexec *e, uint32_t k,
                        const struct mig_value *v)
{
    const struct mig_plan *p = vm->plan;
    const char *what = k < e->nargv ? mig_arena_printf(&vm->arena, "argv element %u (%s)", k + 1,
                                                       mig_plan_str(p, e->argv_text[k]))
                     : k < e->nargv + e->nenv ? mig_arena_printf(&vm->arena, "env %s",
                                                                 mig_plan_str(p, e->env_names[k - e->nargv]))
                     : "cwd";
    bool is_cwd = k == e->nargv + e->nenv;
    char buf[32];
    const char *text = NULL;
    if (v->t == MIG_V_STRING)
        text = v->s;
    else if (v->t == MIG_V_INT && !is_cwd)
        text = mig_arena_printf(&vm->arena, "%" PRId64, v->i);
    else if (v->t == MIG_V_FLOAT && !is_cwd)
        text = mig_float_text(mig_vfloat(v), buf);
    if (!text) {
        mig_vm_fail(vm, pc, "the command at %s:%u: %s is %s (%s), but must be a string%s",
                    mig_plan_str(p, e->file), e->line, what, mig_value_show(vm, v), mig_vtype_name(v->t),
                    is_cwd ? "" : ", an int or a float");
        return NULL;
    }
    char *out = strdup(text);
    if (!out)
        mig_vm_fail(vm, pc, "out of memory");
    return out;
}

/* The n values of exec ei at vals into *out (freed on failure). */
static int exec_collect(struct mig_vm *vm, uint32_t pc, uint32_t ei, const struct mig_value *vals,
                        struct mig_exec_args *out)
{
    const struct mig_pexec *e = &vm->plan->execs[ei];
    memset(out, 0, sizeof(*out));
    out->exec = ei;
    out->timeout_ms = e->timeout_ms;
    out->argv = calloc(e->nargv + 1, sizeof(*out->argv));
    out->env = calloc(e->nenv + 1, sizeof(*out->env));
    if (!out->argv || !out->env) {
        mig_exec_args_free(out);
        mig_vm_fail(vm, pc, "out of memory");
        return -1;
    }
    for (uint32_t k = 0; k < e->nargv + e->nenv + e->has_cwd; k++) {
        char *t = exec_value(vm, pc, e, k, &vals[k]);
        if (!t) {
            mig_exec_args_free(out);
            return -1;
        }
        if (k < e->nargv) {
            out->argv[out->argc++] = t;
        } else if (k < e->nargv + e->nenv) {
            const char *name = mig_plan_str(vm->plan, e->env_names[k - e->nargv]);
            char *pair = malloc(strlen(name) + strlen(t) + 2);
            if (pair)
                sprintf(pair, "%s=%s", name, t);
            free(t);
            if (!pair) {
                mig_exec_args_free(out);
                mig_vm_fail(vm, pc, "out of memory");
                return -1;
            }
            out->env[out->nenv++] = pair;
        } else {
            out->cwd = t;
        }
    }
    return 0;
}

static int run_exec(struct mig_vm *vm, uint32_t pc, const uint32_t *a, bool want_output, enum mig_opcode op)
{
    struct mig_exec_args args;
    if (exec_collect(vm, pc, a[0], &vm->stack[vm->sp - a[1]], &args) != 0)
        return -1;
    vm->sp -= a[1];
    bool ok = false;
    char *output = NULL;
    int rc;
    if (!vm->host || !vm->host->exec) {
        char *shown = mig_exec_args_text(&args);
        mig_vm_fail(vm, pc, "cannot run the command %s: commands need --allow-exec and are not supported by "
                    "this migrun command", shown ? shown : "");
        free(shown);
        rc = -1;
    } else {
        rc = vm->host->exec(vm->host_ctx, vm, &args, want_output, &ok, &output);
    }
    if (rc == 0 && want_output && !ok) {
        char *shown = mig_exec_args_text(&args);
        mig_vm_fail(vm, pc, "output exec: the command %s failed", shown ? shown : "");
        free(shown);
        rc = -1;
    }
    mig_exec_args_free(&args);
    if (rc < 0) {
        free(output);
        if (vm->err_pc == MIG_NONE)
            vm->err_pc = pc;
        return -1;
    }
    if (rc == 2) {
        vm->not_evaluated = true;
        ok = false;
        free(output);
        output = NULL;
    }
    if (!want_output) {
        free(output);
        PUSH(mig_vm_mkint(MIG_V_BOOL, ok));
        return NEXT(op);
    }
    size_t n = output ? strlen(output) : 0;
    if (n && output[n - 1] == '\n')
        n--;
    if (n && output[n - 1] == '\r')
        n--;
    struct mig_value v = { MIG_V_STRING, 0, mig_arena_strndup(&vm->arena, output ? output : "", n), (uint32_t)n };
    free(output);
    PUSH(v);
    return NEXT(op);
}

/* EXEC e n — pop the n values of exec e (argv, env, cwd); run the command through the host; push whether it exited 0 */
int mig_op_EXEC(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    return run_exec(vm, pc, a, false, OP_EXEC);
}

/* OUTPUT_EXEC e n — likewise; push its standard output without the trailing newline (a failed command fails) */
int mig_op_OUTPUT_EXEC(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    return run_exec(vm, pc, a, true, OP_OUTPUT_EXEC);
}

/* ARGS e n — end of exec action e's block: pop its n values into vm->args_out (mig_vm_exec_args) */
int mig_op_ARGS(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    if (!vm->args_out) {
        mig_vm_fail(vm, pc, "an exec action's values were computed outside mig_vm_exec_args");
        return -1;
    }
    if (exec_collect(vm, pc, a[0], &vm->stack[vm->sp - a[1]], vm->args_out) != 0)
        return -1;
    vm->sp -= a[1];
    return -2;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 }, rem;
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}

/* POLL c — run check c's condition block until it is true or `within` has
 * passed since the first try (tries start `every` apart); push the last result */
int mig_op_POLL(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    const struct mig_pcheck *c = &vm->plan->checks[a[0]];
    int64_t first = now_ms();
    bool earlier = vm->not_evaluated;   /* a command left not run before this poll */
    for (uint32_t tries = 1;; tries++) {
        int64_t start = now_ms();
        uint32_t base = vm->sp;
        vm->not_evaluated = false;
        if (mig_vm_run_code(vm, c->poll_block, NULL) != 0)
            return -1;
        struct mig_value v = vm->stack[base];   /* RET leaves it on top of the caller's stack */
        vm->sp = base;
        if (mig_vm_want_bool(vm, pc, &v, "a polled condition") != 0)
            return -1;
        if (v.i || vm->not_evaluated) {     /* true, or not evaluated (no command runs): no more tries */
            vm->not_evaluated = vm->not_evaluated || earlier;
            PUSH(v);
            return NEXT(OP_POLL);
        }
        vm->not_evaluated = earlier;
        int64_t next = start + c->every_ms, now = now_ms();
        if (next - first > c->within_ms) {
            PUSH(v);
            return NEXT(OP_POLL);
        }
        int64_t wait = next > now ? next - now : 0;
        int rc = vm->host && vm->host->poll_wait ? vm->host->poll_wait(vm->host_ctx, vm, a[0], tries, wait) : 1;
        if (rc < 0) {
            if (vm->err_pc == MIG_NONE)
                vm->err_pc = pc;
            return -1;
        }
        if (rc == 1 && wait > 0)
            sleep_ms(wait);
    }
}

/* RET — return the top to the caller (the block ends) */
int mig_op_RET(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)vm; (void)f; (void)pc; (void)a;
    return -2;
}

/* HALT — end of the block */
int mig_op_HALT(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)vm; (void)f; (void)pc; (void)a;
    return -2;
}

/* PARAM s a — a -p value given for slot s: store it and go to a (skip the default) */
int mig_op_PARAM(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a)
{
    (void)f;
    uint32_t m = vm->migration;
    if (vm->has_override[m] && vm->has_override[m][a[0]]) {
        mig_slots(vm, m)[a[0]] = vm->overrides[m][a[0]];
        return (int)a[1];
    }
    return NEXT(OP_PARAM);
}

/* The plan ops: the host decides, through its typed callbacks. */
static int mig_vm_host_result(struct mig_vm *vm, uint32_t pc, enum mig_opcode op, const uint32_t *a, int rc)
{
    if (rc < 0) {
        if (vm->err_pc == MIG_NONE)
            vm->err_pc = pc;
        return -1;
    }
    if (rc == 1 && (mig_opinfo[op].flags & OPF_JUMP))
        return (int)a[mig_opinfo[op].nops - 1];
    return NEXT(op);
}

static int mig_vm_pop_cond(struct mig_vm *vm, uint32_t pc, const char *what, bool *ok)
{
    struct mig_value v = POP();
    if (mig_vm_want_bool(vm, pc, &v, what) != 0)
        return -1;
    *ok = v.i != 0;
    return 0;
}

#define HOST(cb, ...) (vm->host && vm->host->cb ? vm->host->cb(vm->host_ctx, vm, __VA_ARGS__) : 0)
#define HOST0(cb) (vm->host && vm->host->cb ? vm->host->cb(vm->host_ctx, vm) : 0)
#define HOST_COND(op, cb, what) do { \
        bool ok_; \
        if (mig_vm_pop_cond(vm, pc, what, &ok_) != 0) \
            return -1; \
        return mig_vm_host_result(vm, pc, op, a, HOST(cb, a[0], ok_)); \
    } while (0)

/* REQUIRE c — pop; a false require refuses the run (preflight) */
int mig_op_REQUIRE(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; HOST_COND(OP_REQUIRE, require, "a 'require' condition"); }
/* PHASE p a — enter phase p; the host jumps to a when all its steps are done */
int mig_op_PHASE(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; return mig_vm_host_result(vm, pc, OP_PHASE, a, HOST(phase, a[0])); }
/* CHECKS a — verify/assert code follows; the host of a read-only plan jumps to a */
int mig_op_CHECKS(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; return mig_vm_host_result(vm, pc, OP_CHECKS, a, HOST0(checks)); }
/* PHASE_WHEN p a — pop the phase guard; false: its steps are recorded skipped, go to a */
int mig_op_PHASE_WHEN(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; HOST_COND(OP_PHASE_WHEN, phase_when, "a 'when' guard"); }
/* TXN_BEGIN p — begin phase p's transaction (transaction phase) */
int mig_op_TXN_BEGIN(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; return mig_vm_host_result(vm, pc, OP_TXN_BEGIN, a, HOST(txn_begin, a[0])); }
/* STEP s a — enter step s; the host jumps to a when it is already applied or skipped */
int mig_op_STEP(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; return mig_vm_host_result(vm, pc, OP_STEP, a, HOST(step, a[0])); }
/* STEP_WHEN s a — pop the step guard; false: the step is recorded skipped, go to a */
int mig_op_STEP_WHEN(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; HOST_COND(OP_STEP_WHEN, step_when, "a 'when' guard"); }
/* UP s — run step s's up; record it (rendered down) in the undo log and mig_applied */
int mig_op_UP(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; return mig_vm_host_result(vm, pc, OP_UP, a, HOST(up, a[0])); }
/* VERIFY c — pop; false fails the step */
int mig_op_VERIFY(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; HOST_COND(OP_VERIFY, verify, "a 'verify' condition"); }
/* STEP_END s — leave step s (commits it under transaction step) */
int mig_op_STEP_END(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; return mig_vm_host_result(vm, pc, OP_STEP_END, a, HOST(step_end, a[0])); }
/* ASSERT c — pop; false fails the phase or migration */
int mig_op_ASSERT(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; HOST_COND(OP_ASSERT, assert_, "an 'assert' condition"); }
/* TXN_COMMIT p — commit phase p's transaction with its undo-log entries */
int mig_op_TXN_COMMIT(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; return mig_vm_host_result(vm, pc, OP_TXN_COMMIT, a, HOST(txn_commit, a[0])); }
/* PHASE_END p — leave phase p */
int mig_op_PHASE_END(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a) { (void)f; return mig_vm_host_result(vm, pc, OP_PHASE_END, a, HOST(phase_end, a[0])); }

