/* cmd_adopt.c — adopting a database and fixing the ordinary accidents by
 * hand: migrun baseline (the steps up to --to recorded as applied without
 * running, `baselined`, which rollback refuses to cross), migrun mark
 * (steps recorded as applied, or their records removed, without running
 * anything) and migrun repair (an edited applied step's new checksum
 * accepted). Each names what it records before acting, is one transaction
 * in the target, and is journaled with the user's reason; `log` shows it. */
#include "context.h"
#include "protocol.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define S(c, s) mig_ctx_str((c), (s))

/* M, M.P or M.P.S: does the step match? */
static bool selected(const char *sel, const char *m, const char *p, const char *s)
{
    size_t ml = strlen(m), pl = strlen(p);
    if (strncmp(sel, m, ml) != 0 || (sel[ml] != 0 && sel[ml] != '.'))
        return false;
    if (!sel[ml])
        return true;
    sel += ml + 1;
    if (strncmp(sel, p, pl) != 0 || (sel[pl] != 0 && sel[pl] != '.'))
        return false;
    return !sel[pl] || strcmp(sel + pl + 1, s) == 0;
}

/* A record of step si as done by hand: no down (rollback refuses it). */
static void by_hand(struct mig_ctx *c, struct mig_proto *p, uint32_t si, struct mig_record *r, const char *kind,
                    const char *why)
{
    const struct mig_plan *plan = c->plan;
    const struct mig_pstep *st = &plan->steps[si];
    const struct mig_pphase *ph = &plan->phases[st->phase];
    memset(r, 0, sizeof(*r));
    mig_proto_record(p, r);
    r->migration = S(c, plan->migrations[st->migration].name);
    r->phase = S(c, ph->name);
    r->step = S(c, st->name);
    r->status = "applied";
    r->txn = ph->txn == MIG_TXN_NONE ? "none" : ph->txn == MIG_TXN_STEP ? "step" : "phase";
    r->file = S(c, st->file);
    r->line = st->line;
    char sum[65];
    mig_ctx_checksum(c, si, sum);
    r->checksum = mig_arena_strdup(&c->s.arena, sum);
    r->down_kind = kind;
    r->irreversible = mig_arena_printf(&c->s.arena, "%s by run %" PRId64 " (recorded as applied without running: "
                                       "migrun cannot undo what it did not do)%s%s", kind, p->run,
                                       why ? ": " : "", why ? why : "");
}

/* Opens the session, checks --to/params, starts the run. */
static int open_run(struct mig_ctx *c, struct mig_plan *plan, const struct mig_run_opts *o, struct mig_proto *p,
                    const char *command)
{
    mig_ctx_init(c, plan);
    int rc = mig_session_open(&c->s, o, MIG_NEEDS_WRITE);
    if (rc != 0)
        return rc;
    mig_proto_init(p, &c->s, command);
    return 0;
}

struct steps {
    uint32_t *v;
    size_t n, cap;
};

static int record(struct mig_ctx *c, struct mig_proto *p, struct steps *steps, const char *kind,
                  const char *action, const char *why)
{
    struct mig_session *s = &c->s;
    if (mig_proto_start(p) != 0)
        return MIG_EXIT_REFUSED;
    struct mig_record *r = mig_arena_alloc(&s->arena, (steps->n + 1) * sizeof(*r));
    for (size_t i = 0; i < steps->n; i++)
        by_hand(c, p, steps->v[i], &r[i], kind, why);
    s->rep.qualified = true;
    int rc = mig_proto_record_by_hand(p, r, steps->n, action, why);
    if (rc != MIG_P_OK) {
        mig_report_error(&s->rep, "%s; nothing was recorded", p->err);
        mig_proto_finish(p, "failed");
        return rc == MIG_P_FAIL ? MIG_EXIT_FAILED : MIG_EXIT_DIRTY;
    }
    for (size_t i = 0; i < steps->n; i++)
        mig_report_step(&s->rep, kind, r[i].migration, r[i].phase, r[i].step, -1, 0, NULL);
    mig_report_note(&s->rep, "%zu step%s recorded as applied without running (run %" PRId64 ")", steps->n,
                    steps->n == 1 ? "" : "s", p->run);
    mig_proto_finish(p, "success");
    return MIG_EXIT_OK;
}

int mig_cmd_baseline(struct mig_plan *plan, const struct mig_run_opts *o)
{
    struct mig_ctx cc, *c = &cc;
    struct mig_proto p;
    int rc = open_run(c, plan, o, &p, "baseline");
    if (rc != 0)
        goto out;
    struct mig_session *s = &c->s;
    rc = MIG_EXIT_USAGE;
    int last_mig = -1, last_phase = -1;
    if (!o->to) {
        mig_report_error(&s->rep, "baseline needs --to MIGRATION[.PHASE]: the last migration the database already "
                         "has");
        goto out;
    }
    if (mig_ctx_parse_to(c, o->to, &last_mig, &last_phase) != 0)
        goto out;
    struct steps steps = { 0 };
    unsigned already = 0, other = 0;
    for (uint32_t si = 0; si < plan->nsteps; si++) {
        const struct mig_pstep *st = &plan->steps[si];
        if ((int)st->migration > last_mig || (last_phase >= 0 && (int)st->migration == last_mig &&
                                                (int)st->phase > last_phase))
            continue;
        char why[256];
        if (!mig_ctx_target_ok(c, st->migration, why, sizeof(why))) {
            other++;
            continue;
        }
        if (mig_ctx_step_done(c, si)) {
            already++;
            continue;
        }
        MIG_PUSH(&s->arena, steps, si);
    }
    if (steps.n == 0) {
        mig_report_note(&s->rep, "nothing to baseline: every step up to %s is recorded already", o->to);
        rc = MIG_EXIT_OK;
        goto out;
    }
    mig_report_note(&s->rep, "baseline of %s up to %s: %zu step%s recorded as applied without running%s", 
                    s->conn->display, o->to, steps.n, steps.n == 1 ? "" : "s",
                    already ? " (the others are recorded already)" : "");
    if (other)
        mig_report_note(&s->rep, "%u step%s of migrations that do not target %s left out", other,
                        other == 1 ? "" : "s", s->conn->drv->name);
    rc = record(c, &p, &steps, "baselined", "baselined", o->reason);
out:
    mig_ctx_close(c);
    return rc;
}

static int mark_pending(struct mig_ctx *c, struct mig_proto *p, const struct mig_run_opts *o)
{
    struct mig_session *s = &c->s;
    MIG_VEC(struct mig_tracked *) rows = { 0 };
    int64_t low = INT64_MAX;
    for (size_t i = 0; i < s->rows.n; i++) {
        struct mig_tracked *t = s->rows.v[i];
        if (mig_session_by_uid(s, t->uid) == t && selected(o->select, t->migration, t->phase, t->step)) {
            MIG_PUSH(&s->arena, rows, t);
            if (t->seq < low)
                low = t->seq;
        }
    }
    if (rows.n == 0) {
        mig_report_error(&s->rep, "%s: no step of it is recorded in %s", o->select, s->conn->display);
        return MIG_EXIT_USAGE;
    }
    unsigned later = 0;
    for (size_t i = 0; i < s->rows.n; i++) {
        struct mig_tracked *t = s->rows.v[i];
        bool mine = false;
        for (size_t k = 0; k < rows.n && !mine; k++)
            mine = rows.v[k] == t;
        later += !mine && mig_session_by_uid(s, t->uid) == t && t->seq > low;
    }
    if (mig_proto_start(p) != 0)
        return MIG_EXIT_REFUSED;
    s->rep.qualified = true;
    int rc = mig_proto_forget(p, rows.v, rows.n, o->reason);
    if (rc != MIG_P_OK) {
        mig_report_error(&s->rep, "%s; nothing was changed", p->err);
        mig_proto_finish(p, "failed");
        return rc == MIG_P_FAIL ? MIG_EXIT_FAILED : MIG_EXIT_DIRTY;
    }
    for (size_t i = 0; i < rows.n; i++)
        mig_report_step(&s->rep, "pending", rows.v[i]->migration, rows.v[i]->phase, rows.v[i]->step, -1, 0,
                        "record removed; nothing was run");
    if (later)
        mig_report_warning(&s->rep, "%u step%s applied after %s stay%s recorded", later, later == 1 ? "" : "s",
                           o->select, later == 1 ? "s" : "");
    mig_proto_finish(p, "success");
    return MIG_EXIT_OK;
}

int mig_cmd_mark(struct mig_plan *plan, const struct mig_run_opts *o)
{
    struct mig_ctx cc, *c = &cc;
    struct mig_proto p;
    int rc = open_run(c, plan, o, &p, "mark");
    if (rc != 0)
        goto out;
    struct mig_session *s = &c->s;
    rc = MIG_EXIT_USAGE;
    if (!o->select || !o->mark) {
        mig_report_error(&s->rep, "mark needs MIGRATION[.PHASE[.STEP]] and --applied or --pending");
        goto out;
    }
    if (o->mark == 2) {
        rc = mark_pending(c, &p, o);
        goto out;
    }
    if (!plan) {
        mig_report_error(&s->rep, "mark --applied needs the sources (.mig files or a .migb): what to record");
        goto out;
    }
    struct steps steps = { 0 };
    unsigned matched = 0;
    for (uint32_t si = 0; si < plan->nsteps; si++) {
        const struct mig_pstep *st = &plan->steps[si];
        if (!selected(o->select, S(c, plan->migrations[st->migration].name), S(c, plan->phases[st->phase].name),
                      S(c, st->name)))
            continue;
        matched++;
        if (!mig_ctx_step_done(c, si))
            MIG_PUSH(&s->arena, steps, si);
    }
    if (!matched) {
        mig_report_error(&s->rep, "%s: no such migration, phase or step in the sources", o->select);
        goto out;
    }
    if (steps.n == 0) {
        mig_report_note(&s->rep, "nothing to mark: %s is recorded as applied already", o->select);
        rc = MIG_EXIT_OK;
        goto out;
    }
    rc = record(c, &p, &steps, "marked", "marked applied", o->reason);
out:
    mig_ctx_close(c);
    return rc;
}

int mig_cmd_repair(struct mig_plan *plan, const struct mig_run_opts *o)
{
    struct mig_ctx cc, *c = &cc;
    struct mig_proto p;
    int rc = open_run(c, plan, o, &p, "repair");
    if (rc != 0)
        goto out;
    struct mig_session *s = &c->s;
    rc = MIG_EXIT_USAGE;
    if (!o->select || !o->reason || !*o->reason) {
        mig_report_error(&s->rep, "repair needs --accept MIGRATION[.PHASE[.STEP]] and --reason \"why\"");
        goto out;
    }
    MIG_VEC(struct mig_tracked *) rows = { 0 };
    MIG_VEC(const char *) sums = { 0 };
    unsigned matched = 0;
    for (uint32_t si = 0; si < plan->nsteps; si++) {
        const struct mig_pstep *st = &plan->steps[si];
        const char *m = S(c, plan->migrations[st->migration].name), *ph = S(c, plan->phases[st->phase].name);
        if (!selected(o->select, m, ph, S(c, st->name)))
            continue;
        matched++;
        struct mig_tracked *t = mig_session_find(s, m, ph, S(c, st->name));
        char sum[65];
        mig_ctx_checksum(c, si, sum);
        if (t && strcmp(t->status, "applied") == 0 && t->checksum && strcmp(t->checksum, sum) != 0) {
            MIG_PUSH(&s->arena, rows, t);
            MIG_PUSH(&s->arena, sums, mig_arena_strdup(&s->arena, sum));
        }
    }
    if (!matched) {
        mig_report_error(&s->rep, "%s: no such migration, phase or step in the sources", o->select);
        goto out;
    }
    if (rows.n == 0) {
        mig_report_note(&s->rep, "nothing to repair: no applied step of %s has changed since", o->select);
        rc = MIG_EXIT_OK;
        goto out;
    }
    if (mig_proto_start(&p) != 0) {
        rc = MIG_EXIT_REFUSED;
        goto out;
    }
    s->rep.qualified = true;
    int prc = mig_proto_accept(&p, rows.v, sums.v, rows.n, o->reason);
    if (prc != MIG_P_OK) {
        mig_report_error(&s->rep, "%s; nothing was changed", p.err);
        mig_proto_finish(&p, "failed");
        rc = prc == MIG_P_FAIL ? MIG_EXIT_FAILED : MIG_EXIT_DIRTY;
        goto out;
    }
    for (size_t i = 0; i < rows.n; i++)
        mig_report_step(&s->rep, "repaired", rows.v[i]->migration, rows.v[i]->phase, rows.v[i]->step, -1, 0,
                        "its new source accepted; its recorded down is unchanged");
    mig_proto_finish(&p, "success");
    rc = MIG_EXIT_OK;
out:
    mig_ctx_close(c);
    return rc;
}
