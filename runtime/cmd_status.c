/* cmd_status.c — migrun status: each migration and step of the sources as
 * applied, pending, skipped or drifted (and, for steps outside a
 * transaction that were interrupted, running), and what the target records
 * that the sources do not know. Read-only; exits 0 whatever it reports. */
#include "context.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define S(c, s) mig_ctx_str((c), (s))

int mig_cmd_status(struct mig_plan *plan, const struct mig_run_opts *o)
{
    struct mig_ctx cc, *c = &cc;
    mig_ctx_init(c, plan);
    int rc = mig_session_open(&c->s, o, MIG_BRIEF_ROWS);
    if (rc != 0)
        goto out;
    struct mig_session *s = &c->s;
    mig_report_line(&s->rep, "%s", s->conn->display);
    /* each migration's steps in plan order, found in one pass */
    uint32_t *first = mig_arena_alloc(&s->arena, (plan->nmigrations + 1) * sizeof(uint32_t));
    uint32_t *order = mig_arena_alloc(&s->arena, (plan->nsteps + 1) * sizeof(uint32_t));
    memset(first, 0, (plan->nmigrations + 1) * sizeof(uint32_t));
    for (uint32_t si = 0; si < plan->nsteps; si++)
        if (plan->steps[si].migration < plan->nmigrations)
            first[plan->steps[si].migration + 1]++;
    for (uint32_t mi = 0; mi < plan->nmigrations; mi++)
        first[mi + 1] += first[mi];
    uint32_t *fill = mig_arena_alloc(&s->arena, (plan->nmigrations + 1) * sizeof(uint32_t));
    memcpy(fill, first, (plan->nmigrations + 1) * sizeof(uint32_t));
    for (uint32_t si = 0; si < plan->nsteps; si++)
        if (plan->steps[si].migration < plan->nmigrations)
            order[fill[plan->steps[si].migration]++] = si;
    /* an index left invalid by an interrupted CREATE INDEX CONCURRENTLY is
     * looked for step by step only when the database holds one at all */
    bool any_invalid = false;
    if (s->conn->drv->invalid_index && s->conn->exists && s->conn->drv->dialect == MIG_D_POSTGRES) {
        struct mig_value v = { 0 };
        struct mig_dberr e;
        if (s->conn->drv->query(s->conn, "SELECT 1 FROM pg_catalog.pg_index WHERE NOT indisvalid LIMIT 1",
                                &any_invalid, &v, &e) != 0)
            any_invalid = true;
        if (v.t == MIG_V_STRING)
            free((void *)v.s);
    } else {
        any_invalid = s->conn->drv->invalid_index != NULL;
    }
    /* each applied step's checksum, computed once (by the first loop below) */
    char (*sums)[65] = mig_arena_alloc(&s->arena, (plan->nsteps + 1) * sizeof(*sums));
    /* each step's tracking row, looked up once (by the first loop below) */
    struct mig_tracked **rows = mig_arena_alloc(&s->arena, (plan->nsteps + 1) * sizeof(*rows));
    for (uint32_t mi = 0; mi < plan->nmigrations; mi++) {
        const struct mig_pmigration *m = &plan->migrations[mi];
        unsigned applied = 0, skipped = 0, drifted = 0, total = 0;
        for (uint32_t oi = first[mi]; oi < first[mi + 1]; oi++) {
            uint32_t si = order[oi];
            const struct mig_pstep *st = &plan->steps[si];
            total++;
            struct mig_tracked *t = rows[si] = mig_session_find(s, S(c, m->name), S(c, plan->phases[st->phase].name),
                                                                S(c, st->name));
            if (t)
                t->seen = true;
            if (!t || strcmp(t->status, "running") == 0)
                continue;
            if (strcmp(t->status, "skipped") == 0) {
                skipped++;
                continue;
            }
            applied++;
            mig_ctx_checksum(c, si, sums[si]);
            drifted += t->checksum && strcmp(sums[si], t->checksum) != 0;
        }
        const char *state = drifted ? "drifted" : applied + skipped == total ? "applied"
                          : applied + skipped ? "partial" : "pending";
        char text[512];
        snprintf(text, sizeof(text), "%-8s %s  (%u step%s: %u applied, %u skipped%s)", state, S(c, m->name), total,
                 total == 1 ? "" : "s", applied, skipped, drifted ? ", drifted" : "");
        mig_report_event(&s->rep, text, "{s:s,s:s,s:s,s:I,s:I,s:I,s:I}", "event", "migration", "migration",
                         S(c, m->name), "status", state, "steps", (json_int_t)total, "applied", (json_int_t)applied,
                         "skipped", (json_int_t)skipped, "drifted", (json_int_t)drifted);
        for (uint32_t oi = first[mi]; oi < first[mi + 1]; oi++) {
            uint32_t si = order[oi];
            const struct mig_pstep *st = &plan->steps[si];
            const char *ph = S(c, plan->phases[st->phase].name);
            struct mig_tracked *t = rows[si];
            const char *ss = "pending";
            if (t) {
                ss = t->down_kind && (strcmp(t->down_kind, "baselined") == 0 || strcmp(t->down_kind, "marked") == 0)
                     ? t->down_kind : t->status;
                if (strcmp(t->status, "applied") == 0 && t->checksum && strcmp(sums[si], t->checksum) != 0)
                    ss = "drifted";
            }
            /* an index of the step left invalid by an interrupted CREATE INDEX CONCURRENTLY */
            const struct mig_pvariant *up = mig_plan_variant(plan, st->up, s->conn->drv->dialect);
            char bad[4][256];
            size_t nbad = t && up && any_invalid ? mig_ctx_invalid_indexes(c, S(c, up->text), bad, 4) : 0;
            if (nbad)
                ss = "invalid";
            snprintf(text, sizeof(text), "  %-8s %s.%s%s%s", ss, ph, S(c, st->name), t && t->applied_at ? "  " : "",
                     t && t->applied_at ? t->applied_at : "");
            mig_report_event(&s->rep, text, "{s:s,s:s,s:s,s:s,s:s,s:s?,s:I}", "event", "step", "migration",
                             S(c, m->name), "phase", ph, "step", S(c, st->name), "status", ss, "applied_at",
                             t ? t->applied_at : NULL, "run", (json_int_t)(t ? t->run : 0));
            for (size_t k = 0; k < nbad; k++) {
                char line[512];
                snprintf(line, sizeof(line), "           index %s is invalid (an interrupted CREATE INDEX "
                         "CONCURRENTLY): the planner does not use it; apply builds it again", bad[k]);
                mig_report_event(&s->rep, line, "{s:s,s:s,s:s,s:s,s:s}", "event", "invalid_index", "migration",
                                 S(c, m->name), "phase", ph, "step", S(c, st->name), "index", bad[k]);
            }
        }
    }
    for (size_t i = 0; i < s->rows.n; i++) {
        struct mig_tracked *t = s->rows.v[i];
        if (t->seen)
            continue;
        char text[512];
        snprintf(text, sizeof(text), "unknown  %s.%s.%s  (%s in the database, not in the sources)", t->migration,
                 t->phase, t->step, t->status);
        mig_report_event(&s->rep, text, "{s:s,s:s,s:s,s:s,s:s}", "event", "step", "migration", t->migration, "phase",
                         t->phase, "step", t->step, "status", "unknown");
    }
out:
    mig_ctx_close(c);
    return rc;
}
