/* cmd_test.c — migrun test: for every step, up, down, a comparison of the
 * schema (the driver's snapshot) before and after, and up again — on a
 * scratch database (refused on one with applied steps unless --force).
 * Writes no journal and no tracking rows. */
#include "context.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define S(x, s) mig_ctx_str(&(x)->c, (s))

struct test {
    struct mig_ctx c;
    unsigned ok, failed, irreversible, skipped;
};

struct lines {
    char **v;
    size_t n, cap;
    struct mig_arena *a;
};

static int add_line(void *ctx, int n, const char *const *vals)
{
    struct lines *l = ctx;
    if (n >= 1 && vals[0])
        MIG_PUSH(l->a, *l, mig_arena_strdup(l->a, vals[0]));
    return 0;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int fail(struct test *t, const char *what, const struct mig_dberr *e)
{
    if (e) {
        t->c.vm.dberr = *e;
        t->c.vm.has_dberr = true;
    }
    snprintf(t->c.vm.err, sizeof(t->c.vm.err), "%s%s%s", what, e ? ": " : "", e ? e->message : "");
    return -1;
}

static int snapshot(struct test *t, struct lines *out)
{
    struct mig_conn *c = t->c.s.conn;
    out->n = 0;
    out->a = &t->c.s.arena;
    for (const char *const *q = c->drv->snapshot; *q; q++) {
        struct mig_dberr e;
        if (c->drv->select(c, *q, add_line, out, &e) != 0)
            return fail(t, "cannot read the schema", &e);
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), cmp_line);
    return 0;
}

static int exec_in_txn(struct test *t, const struct mig_pphase *ph, const char *sql, const char *what)
{
    struct mig_conn *c = t->c.s.conn;
    struct mig_dberr e, e2;
    bool txn = ph->txn != MIG_TXN_NONE;
    if (txn && c->drv->begin(c, ph->timeout_ms, ph->lock_timeout_ms, &e) != 0)
        return fail(t, what, &e);
    if (c->drv->exec(c, sql, NULL, &e) != 0) {
        if (txn)
            c->drv->rollback(c, &e2);
        return fail(t, what, &e);
    }
    if (txn && c->drv->commit(c, &e) != 0)
        return fail(t, what, &e);
    return 0;
}

static void line(struct test *t, const char *outcome, uint32_t si, const char *note)
{
    const struct mig_pstep *st = &t->c.plan->steps[si];
    const char *m = S(t, t->c.plan->migrations[st->migration].name), *p = S(t, t->c.plan->phases[st->phase].name);
    if (t->c.s.rep.json) {
        mig_report_event(&t->c.s.rep, NULL, "{s:s,s:s,s:s,s:s,s:s,s:s?}", "event", "step", "outcome",
                         strcmp(outcome, "FAIL") == 0 ? "failed" : outcome, "migration", m, "phase", p, "step",
                         S(t, st->name), "note", note);
        return;
    }
    mig_report_step(&t->c.s.rep, outcome, m, p, S(t, st->name), -1, 0, note);
}

static char *render(struct test *t, struct mig_vm *vm, uint32_t query)
{
    const struct mig_pvariant *v = mig_plan_variant(t->c.plan, query, t->c.s.conn->drv->dialect);
    if (!v) {
        fail(t, "no SQL for this dialect", NULL);
        return NULL;
    }
    char *sql = mig_vm_render(vm, v, NULL);
    if (!sql)
        return NULL;
    char *copy = mig_arena_strdup(&t->c.s.arena, sql);
    free(sql);
    return copy;
}

static void differences(struct test *t, const struct lines *before, const struct lines *after, uint32_t si)
{
    MIG_VEC(const char *) missing = { 0 }, extra = { 0 };
    struct mig_arena *a = &t->c.s.arena;
    size_t i = 0, k = 0;
    while (i < before->n || k < after->n) {
        int c = i == before->n ? 1 : k == after->n ? -1 : strcmp(before->v[i], after->v[k]);
        if (c == 0) {
            i++;
            k++;
        } else if (c < 0) {
            MIG_PUSH(a, missing, before->v[i++]);
        } else {
            MIG_PUSH(a, extra, after->v[k++]);
        }
    }
    if (!missing.n && !extra.n) {
        t->ok++;
        line(t, "ok", si, NULL);
        return;
    }
    t->failed++;
    line(t, "FAIL", si, "the down does not undo the up");
    char text[2048];
    for (size_t j = 0; j < extra.n; j++) {
        snprintf(text, sizeof(text), "      left behind by the down: %s", extra.v[j]);
        mig_report_event(&t->c.s.rep, text, "{s:s,s:s,s:s}", "event", "difference", "kind", "left behind", "object",
                         extra.v[j]);
    }
    for (size_t j = 0; j < missing.n; j++) {
        snprintf(text, sizeof(text), "      lost (was there before the up): %s", missing.v[j]);
        mig_report_event(&t->c.s.rep, text, "{s:s,s:s,s:s}", "event", "difference", "kind", "lost", "object",
                         missing.v[j]);
    }
}

static int t_up(void *ctx, struct mig_vm *vm, uint32_t si)
{
    struct test *t = ctx;
    t->c.step = si;
    const struct mig_pstep *st = &t->c.plan->steps[si];
    const struct mig_pphase *ph = &t->c.plan->phases[st->phase];
    char *up = render(t, vm, st->up);
    if (!up)
        return -1;
    if (st->down == MIG_NONE) {
        if (exec_in_txn(t, ph, up, "the up failed") != 0)
            return -1;
        t->irreversible++;
        line(t, "irreversible", si, mig_arena_printf(&t->c.s.arena, "not checked: %s", S(t, st->irreversible)));
        return 0;
    }
    char *down = render(t, vm, st->down);
    if (!down)
        return -1;
    struct lines before = { 0 }, after = { 0 };
    if (snapshot(t, &before) != 0 || exec_in_txn(t, ph, up, "the up failed") != 0 ||
        exec_in_txn(t, ph, down, "the down failed") != 0 || snapshot(t, &after) != 0)
        return -1;
    differences(t, &before, &after, si);
    /* go on from the state the up leaves */
    return exec_in_txn(t, ph, up, "the up failed (the second time)");
}

static int t_phase_when(void *ctx, struct mig_vm *vm, uint32_t ph, bool ok)
{
    struct test *t = ctx;
    (void)vm;
    t->c.phase = ph;
    if (ok)
        return 0;
    for (uint32_t i = 0; i < t->c.plan->phases[ph].nsteps; i++) {
        t->skipped++;
        line(t, "skipped", t->c.plan->phases[ph].first_step + i, "the phase's when is false");
    }
    return 1;
}

static int t_step_when(void *ctx, struct mig_vm *vm, uint32_t si, bool ok)
{
    struct test *t = ctx;
    (void)vm;
    if (ok)
        return 0;
    t->skipped++;
    line(t, "skipped", si, "when is false");
    return 1;
}

static int t_checks(void *ctx, struct mig_vm *vm)
{
    (void)ctx;
    (void)vm;
    return 1;
}

static int t_phase(void *ctx, struct mig_vm *vm, uint32_t ph)
{
    struct test *t = ctx;
    (void)vm;
    t->c.phase = ph;
    t->c.step = MIG_NONE;
    return 0;
}

static const struct mig_host test_host = {
    .require = mig_ctx_require, .phase = t_phase, .checks = t_checks, .phase_when = t_phase_when,
    .step_when = t_step_when, .up = t_up,
};

int mig_cmd_test(struct mig_plan *plan, const struct mig_run_opts *o)
{
    struct test tt, *t = &tt;
    memset(t, 0, sizeof(*t));
    mig_ctx_init(&t->c, plan);
    t->c.ignore_requires = true;
    if (mig_ctx_params(&t->c, o) != 0)
        return MIG_EXIT_USAGE;
    int rc = mig_session_open(&t->c.s, o, MIG_WRITES_TARGET);
    struct mig_session *s = &t->c.s;
    if (rc != 0)
        goto out;
    rc = MIG_EXIT_REFUSED;
    size_t applied = 0;
    for (size_t i = 0; i < s->rows.n; i++)
        applied += strcmp(s->rows.v[i]->status, "applied") == 0;
    if (applied && !o->force) {
        mig_report_error(&s->rep, "%s is not a scratch database: mig_applied lists %zu applied step%s; migrun test "
                         "changes the schema back and forth (give --force to test there anyway)", s->conn->display,
                         applied, applied == 1 ? "" : "s");
        goto out;
    }
    if (mig_ctx_vm(&t->c, &test_host, t) != 0)
        goto out;
    s->rep.qualified = true;
    mig_report_note(&s->rep, "testing that every down undoes its up: %u migration%s on %s", plan->nmigrations,
                    plan->nmigrations == 1 ? "" : "s", s->conn->display);
    rc = MIG_EXIT_OK;
    if (mig_vm_run(&t->c.vm, plan->globals_block, 0) != 0) {
        mig_ctx_failure(&t->c, "evaluating the file-level lets failed: ");
        rc = MIG_EXIT_FAILED;
        goto out;
    }
    for (uint32_t mi = 0; mi < plan->nmigrations; mi++) {
        t->c.mig = mi;
        t->c.phase = t->c.step = MIG_NONE;
        if (mig_vm_run(&t->c.vm, plan->migrations[mi].prologue, mi) != 0 ||
            mig_vm_run(&t->c.vm, plan->migrations[mi].body, mi) != 0) {
            mig_ctx_failure(&t->c, "");
            rc = MIG_EXIT_FAILED;
            break;
        }
    }
    if (t->failed)
        rc = MIG_EXIT_FAILED;
    char text[256];
    snprintf(text, sizeof(text), "%s: %u step%s invert, %u do%s not, %u irreversible, %u skipped",
             rc == MIG_EXIT_OK ? "passed" : "failed", t->ok, t->ok == 1 ? "" : "s", t->failed,
             t->failed == 1 ? "es" : "", t->irreversible, t->skipped);
    mig_report_event(&s->rep, text, "{s:s,s:I,s:I,s:I,s:I}", "event", "done", "ok", (json_int_t)t->ok, "failed",
                     (json_int_t)t->failed, "irreversible", (json_int_t)t->irreversible, "skipped",
                     (json_int_t)t->skipped);
out:
    mig_ctx_close(&t->c);
    return rc;
}
