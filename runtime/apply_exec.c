/* apply_exec.c — apply's steps and conditions that run commands (see apply.h). */
#include "apply.h"
#include "exec.h"
#include "exec_steps.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define S(a, s) mig_ctx_str(&(a)->c, (s))

/* An exec down is rendered when its step runs (like a SQL down): its
 * values go into the tracking row as JSON. A restore point's row also
 * holds the schema as it is before the step ("restore_check"), which the
 * rollback compares after the restore. */
int mig_apply_exec_down(struct apply *a, struct mig_vm *vm, uint32_t si, struct mig_record *r)
{
    const struct mig_pstep *st = &a->c.plan->steps[si];
    bool command = mig_pstep_down_kind(st) == MIG_DOWN_EXEC, restores = mig_pstep_restores(st);
    if (!command && !restores)
        return 0;
    json_t *o = NULL;
    if (command) {
        struct mig_exec_args args;
        if (mig_vm_exec_args(vm, st->down_exec, &args) != 0)
            return -1;
        char *json = mig_exec_to_json(&args);
        mig_exec_args_free(&args);
        o = json ? json_loads(json, 0, NULL) : NULL;
        free(json);
    }
    if (!o)
        o = json_object();
    if (restores) {
        struct mig_dberr e;
        char *fp = mig_proto_fingerprint(&a->c.s, &e);
        if (!fp) {
            json_decref(o);
            return mig_apply_failed(a, mig_proto_fail(&a->p, e.connection_lost ? MIG_P_UNKNOWN : MIG_P_FAIL, &e,
                                                       "cannot read the schema before the restore point %s: %s",
                                                       S(a, st->name), e.message));
        }
        json_object_set_new(o, "restore_check", json_string(fp));
        free(fp);
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    r->down_exec = text ? mig_arena_strdup(&a->work, text) : NULL;
    free(text);
    return 0;
}

/* A step whose up is a command: recorded before it starts, applied when
 * it exits 0. */
int mig_apply_exec_up(struct apply *a, struct mig_vm *vm, uint32_t si)
{
    const struct mig_pstep *st = &a->c.plan->steps[si];
    struct mig_record r;
    mig_apply_record(a, si, &r);
    if (mig_apply_exec_down(a, vm, si, &r) != 0)
        return -1;
    struct mig_exec_args args;
    if (mig_vm_exec_args(vm, st->up_exec, &args) != 0)
        return -1;
    char sum[65];
    mig_ctx_checksum(&a->c, si, sum);
    r.checksum = mig_arena_strdup(&a->work, sum);
    char *text = mig_exec_args_text(&args);
    r.up_sql = text ? mig_arena_strdup(&a->work, text) : NULL;
    free(text);
    mig_report_note(&a->c.s.rep, "    running %s", r.up_sql ? r.up_sql : args.argv[0]);
    size_t owned = 0;
    char **env = mig_proto_command_env(&a->p, args.env, &owned);
    struct mig_exec_spec spec = { args.argv, env, args.cwd, args.timeout_ms, "    | ", false };
    struct mig_exec_result *res = calloc(1, sizeof(*res));
    if (!res)
        abort();
    int64_t t0 = mig_now_ms();
    int rc = mig_proto_run_command(&a->p, &r, &spec, res);
    mig_proto_free_env(env, owned);
    mig_exec_args_free(&args);
    free(res->output);
    free(res);
    if (rc != MIG_P_OK)
        return mig_apply_failed(a, rc);
    a->p.applied++;
    mig_report_step(&a->c.s.rep, "applied", r.migration, r.phase, r.step, mig_now_ms() - t0, 0, NULL);
    return 0;
}

/* `exec [...]` and `output exec [...]` in conditions. */
int mig_apply_host_exec(void *ctx, struct mig_vm *vm, const struct mig_exec_args *args, bool want_output, bool *ok,
                  char **output)
{
    struct apply *a = ctx;
    char why[512] = "";
    if (mig_exec_command(&a->p, args, want_output, ok, output, why, sizeof(why)) != 0) {
        mig_vm_fail(vm, MIG_NONE, "cannot run %s: %s", args->argv[0], why);
        return -1;
    }
    if (mig_signals) {
        mig_vm_fail(vm, MIG_NONE, "interrupted by %s", mig_signal_name(mig_last_signal));
        return -1;
    }
    return 0;
}

int mig_apply_host_poll_wait(void *ctx, struct mig_vm *vm, uint32_t check, uint32_t tries, int64_t wait_ms)
{
    (void)ctx;
    (void)check;
    (void)tries;
    if (mig_signals) {
        mig_vm_fail(vm, MIG_NONE, "interrupted by %s while waiting for a condition", mig_signal_name(mig_last_signal));
        return -1;
    }
    mig_sleep_ms(wait_ms);
    return mig_signals ? (mig_vm_fail(vm, MIG_NONE, "interrupted by %s", mig_signal_name(mig_last_signal)), -1) : 0;
}

