/* exec_steps.c — see exec_steps.h. */
#include "exec_steps.h"
#include "exec.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int mig_exec_preflight(struct mig_session *s, const struct mig_plan *plan, bool allowed)
{
    if (allowed || !mig_plan_has_exec(plan))
        return 0;
    for (uint32_t i = 0; i < plan->nexecs; i++) {
        char *text = mig_pexec_text(plan, i);
        mig_report_error(&s->rep, "%s:%u: this plan runs a command: exec %s", mig_plan_str(plan, plan->execs[i].file),
                         plan->execs[i].line, text ? text : "");
        free(text);
    }
    mig_report_error(&s->rep, "refused: the plan runs %u command%s; give --allow-exec (or MIGRUN_ALLOW_EXEC=1) to "
                     "let it; nothing was changed", plan->nexecs, plan->nexecs == 1 ? "" : "s");
    return -1;
}

char *mig_exec_to_json(const struct mig_exec_args *a)
{
    json_t *argv = json_array(), *env = json_array();
    for (size_t i = 0; i < a->argc; i++)
        json_array_append_new(argv, json_string(a->argv[i]));
    for (size_t i = 0; i < a->nenv; i++)
        json_array_append_new(env, json_string(a->env[i]));
    json_t *o = json_pack("{s:o,s:o,s:s?,s:I}", "argv", argv, "env", env, "cwd", a->cwd, "timeout_ms",
                          (json_int_t)a->timeout_ms);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

static char **strings(json_t *arr, size_t *n)
{
    size_t k = json_is_array(arr) ? json_array_size(arr) : 0;
    char **v = calloc(k + 1, sizeof(*v));
    if (!v)
        abort();
    for (size_t i = 0; i < k; i++) {
        const char *t = json_string_value(json_array_get(arr, i));
        v[i] = strdup(t ? t : "");
    }
    *n = k;
    return v;
}

int mig_exec_from_json(const char *json, struct mig_exec_args *out)
{
    memset(out, 0, sizeof(*out));
    json_error_t je;
    json_t *o = json ? json_loads(json, 0, &je) : NULL;
    if (!o || !json_is_array(json_object_get(o, "argv")) || json_array_size(json_object_get(o, "argv")) == 0) {
        json_decref(o);
        return -1;
    }
    out->argv = strings(json_object_get(o, "argv"), &out->argc);
    out->env = strings(json_object_get(o, "env"), &out->nenv);
    const char *cwd = json_string_value(json_object_get(o, "cwd"));
    out->cwd = cwd ? strdup(cwd) : NULL;
    out->timeout_ms = json_integer_value(json_object_get(o, "timeout_ms"));
    out->exec = UINT32_MAX;
    json_decref(o);
    return 0;
}

int mig_exec_command(struct mig_proto *p, const struct mig_exec_args *a, bool want_output, bool *ok, char **output,
                     char *why, size_t whylen)
{
    size_t owned = 0;
    char **env = mig_proto_command_env(p, a->env, &owned);
    struct mig_exec_spec spec = { a->argv, env, a->cwd, a->timeout_ms, "    | ", want_output };
    struct mig_exec_result res;
    int rc = mig_exec_run(&spec, &p->s->rep, &res);
    mig_proto_free_env(env, owned);
    *ok = rc == 0;
    if (why)
        snprintf(why, whylen, "%s", res.why);
    if (output)
        *output = res.output;
    else
        free(res.output);
    return res.started ? 0 : -1;
}
