/* cmd_rollback.c — migrun rollback: which steps to undo, from the target's
 * own records (never from the sources): the last run that still has
 * applied steps (named before acting), --run N, --to MIGRATION[.PHASE]
 * (keep it, undo what was applied after it) or --all; refused before any
 * change when an irreversible step would be crossed; then the protocol
 * undoes them in reverse order of application. */
#include "protocol.h"
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct target_run {
    int64_t run;
    char *command, *outcome, *started;
};

struct rowvec {
    struct mig_tracked **v;
    size_t n, cap;
};

struct rb {
    struct mig_session s;
    MIG_VEC(struct target_run) runs;    /* newest first */
};

static int run_row(void *ctx, int n, const char *const *v)
{
    struct rb *r = ctx;
    if (n < 4 || !v[0])
        return 0;
    struct target_run t = { strtoll(v[0], NULL, 10), mig_arena_strdup(&r->s.arena, v[1] ? v[1] : ""),
                            mig_arena_strdup(&r->s.arena, v[2] ? v[2] : ""),
                            mig_arena_strdup(&r->s.arena, v[3] ? v[3] : "") };
    MIG_PUSH(&r->s.arena, r->runs, t);
    return 0;
}

static const struct target_run *find_run(struct rb *r, int64_t n)
{
    for (size_t i = 0; i < r->runs.n; i++)
        if (r->runs.v[i].run == n)
            return &r->runs.v[i];
    return NULL;
}

static bool live(struct mig_session *s, struct mig_tracked *t)
{
    return mig_session_by_uid(s, t->uid) == t;
}

/* Rows of an older migrun carry no undo information: the journal may. */
static int legacy_downs(struct rb *r, struct rowvec *todo)
{
    struct mig_session *s = &r->s;
    unsigned missing = 0;
    for (size_t i = 0; i < todo->n; i++) {
        struct mig_tracked *t = todo->v[i];
        if (!t->legacy)
            continue;
        int64_t id = 0, run = 0, line = 0;
        char *down = NULL, *irr = NULL, *txn = NULL, *file = NULL;
        int found = s->j ? mig_journal_lookup(s->j, t->uid, &id, &run, &down, &irr, &txn, &file, &line) : 1;
        if (found == 0) {
            t->down = down ? mig_arena_strdup(&s->arena, down) : NULL;
            t->irreversible = irr ? mig_arena_strdup(&s->arena, irr) : NULL;
            t->txn = mig_arena_strdup(&s->arena, txn ? txn : "phase");
            t->file = file ? mig_arena_strdup(&s->arena, file) : NULL;
            t->line = line;
            t->legacy = false;
        } else {
            if (strcmp(t->status, "skipped") != 0) {
                mig_report_error(&s->rep, "%s.%s.%s was recorded by an older migrun, without its undo information, "
                                 "and the journal %s has no record of it: its down is unknown", t->migration, t->phase,
                                 t->step, s->o->journal);
                missing++;
            }
            t->txn = "phase";
        }
        free(down);
        free(irr);
        free(txn);
        free(file);
    }
    return missing ? -1 : 0;
}

/* The default: the newest apply run that still has applied steps; or,
 * when the last one failed and was undone, nothing. */
static int choose_last(struct rb *r, int64_t *which, const char **why)
{
    struct mig_session *s = &r->s;
    for (size_t i = 0; i < r->runs.n; i++) {
        const struct target_run *tr = &r->runs.v[i];
        if (strcmp(tr->command, "apply") != 0)
            continue;
        bool has = false;
        for (size_t k = 0; k < s->rows.n && !has; k++)
            has = live(s, s->rows.v[k]) && s->rows.v[k]->run == tr->run;
        if (has) {
            *which = tr->run;
            return 0;
        }
        if (strcmp(tr->outcome, "success") != 0) {
            *why = mig_arena_printf(&s->arena, "the last run, run %" PRId64 " (apply, %s, started %s), left nothing "
                                    "applied%s", tr->run, tr->outcome, tr->started,
                                    strcmp(tr->outcome, "rolled_back") == 0 ? ": it failed and was already undone"
                                    : ": it failed before anything was committed, or what it committed was undone");
            return 1;
        }
    }
    /* rows of an older migrun (run 0), or runs not recorded */
    int64_t best = -1;
    for (size_t k = 0; k < s->rows.n; k++)
        if (live(s, s->rows.v[k]) && s->rows.v[k]->run > best)
            best = s->rows.v[k]->run;
    if (best < 0) {
        *why = "no run has steps still applied";
        return 1;
    }
    *which = best;
    return 0;
}

static int cmp_seq_desc(const void *pa, const void *pb)
{
    const struct mig_tracked *a = *(struct mig_tracked *const *)pa, *b = *(struct mig_tracked *const *)pb;
    if (a->seq != b->seq)
        return (a->seq < b->seq) - (a->seq > b->seq);
    /* rows of an older migrun (no sequence): newest applied_at first */
    return strcmp(b->applied_at ? b->applied_at : "", a->applied_at ? a->applied_at : "");
}

int mig_cmd_rollback(struct mig_plan *plan, const struct mig_run_opts *o)
{
    (void)plan;     /* sources, where given, never change what is undone */
    struct rb rr, *r = &rr;
    memset(r, 0, sizeof(*r));
    struct mig_session *s = &r->s;
    int rc = mig_session_open(s, o, MIG_NEEDS_WRITE | MIG_NEEDS_EXISTING);
    if (rc != 0)
        goto out;
    rc = MIG_EXIT_REFUSED;
    if (s->has_runs) {
        struct mig_dberr e;
        char *sql = mig_arena_printf(&s->arena, "SELECT run, command, outcome, started_at FROM %smig_runs ORDER BY "
                                     "run DESC", s->conn->prefix);
        if (s->conn->drv->select(s->conn, sql, run_row, r, &e) != 0) {
            mig_session_dberror(s, "cannot read the runs of the target", &e);
            goto out;
        }
    }
    size_t nlive = 0;
    for (size_t i = 0; i < s->rows.n; i++)
        nlive += live(s, s->rows.v[i]);
    if (o->rollback == MIG_RB_RUN && (o->run < 1 || o->run > s->last_run)) {
        mig_report_error(&s->rep, "--run %" PRId64 ": %s has no run %" PRId64 " (its runs: %s)", o->run,
                         s->conn->display, o->run, s->last_run ? mig_arena_printf(&s->arena, "1 to %" PRId64,
                         s->last_run) : "none yet");
        rc = MIG_EXIT_USAGE;
        goto out;
    }
    if (nlive == 0 && o->rollback == MIG_RB_TO) {
        mig_report_error(&s->rep, "--to %s: %s is not applied to %s", o->to, o->to, s->conn->display);
        rc = MIG_EXIT_USAGE;
        goto out;
    }
    if (nlive == 0) {
        mig_report_note(&s->rep, "nothing to roll back: %s records no applied steps", s->conn->display);
        rc = MIG_EXIT_OK;
        goto out;
    }
    struct rowvec todo = { 0 };
    char *what = NULL;
    int64_t which = 0;
    if (o->rollback == MIG_RB_ALL) {
        what = mig_arena_printf(&s->arena, "every applied step");
        for (size_t i = 0; i < s->rows.n; i++)
            if (live(s, s->rows.v[i]))
                MIG_PUSH(&s->arena, todo, s->rows.v[i]);
    } else if (o->rollback == MIG_RB_TO) {
        const char *dot = strchr(o->to, '.');
        size_t mlen = dot ? (size_t)(dot - o->to) : strlen(o->to);
        int64_t keep = -1;
        for (size_t i = 0; i < s->rows.n; i++) {
            struct mig_tracked *t = s->rows.v[i];
            if (live(s, t) && strlen(t->migration) == mlen && strncmp(t->migration, o->to, mlen) == 0 &&
                (!dot || strcmp(t->phase, dot + 1) == 0) && t->seq > keep)
                keep = t->seq;
        }
        if (keep < 0) {
            mig_report_error(&s->rep, "--to %s: %s is not applied to %s", o->to, o->to, s->conn->display);
            rc = MIG_EXIT_USAGE;
            goto out;
        }
        what = mig_arena_printf(&s->arena, "what was applied after %s", o->to);
        for (size_t i = 0; i < s->rows.n; i++)
            if (live(s, s->rows.v[i]) && s->rows.v[i]->seq > keep)
                MIG_PUSH(&s->arena, todo, s->rows.v[i]);
    } else {
        const char *why = NULL;
        if (o->rollback == MIG_RB_RUN) {
            which = o->run;
        } else if (choose_last(r, &which, &why) != 0) {
            mig_report_note(&s->rep, "nothing to roll back: %s", why);
            rc = MIG_EXIT_OK;
            goto out;
        }
        int64_t low = INT64_MAX;
        for (size_t i = 0; i < s->rows.n; i++)
            if (live(s, s->rows.v[i]) && s->rows.v[i]->run == which) {
                MIG_PUSH(&s->arena, todo, s->rows.v[i]);
                if (s->rows.v[i]->seq < low)
                    low = s->rows.v[i]->seq;
            }
        if (todo.n == 0) {
            mig_report_note(&s->rep, "nothing to roll back: run %" PRId64 " has no steps still applied", which);
            rc = MIG_EXIT_OK;
            goto out;
        }
        for (size_t i = 0; i < s->rows.n; i++) {
            struct mig_tracked *t = s->rows.v[i];
            if (live(s, t) && t->run != which && t->seq > low) {
                mig_report_error(&s->rep, "run %" PRId64 " applied %s.%s.%s after run %" PRId64 " and it is still "
                                 "applied: roll that run back first (or use --to); nothing was changed", t->run,
                                 t->migration, t->phase, t->step, which);
                goto out;
            }
        }
        const struct target_run *tr = find_run(r, which);
        what = tr ? mig_arena_printf(&s->arena, "run %" PRId64 " (%s, %s, started %s)", which, tr->command,
                                     tr->outcome, tr->started)
                  : mig_arena_printf(&s->arena, "run %" PRId64, which);
    }
    if (todo.n == 0) {
        mig_report_note(&s->rep, "nothing to roll back: nothing was applied after %s", o->to);
        rc = MIG_EXIT_OK;
        goto out;
    }
    if (todo.n > 1)
        qsort(todo.v, todo.n, sizeof(*todo.v), cmp_seq_desc);
    if (legacy_downs(r, &todo) != 0) {
        mig_report_error(&s->rep, "rollback refused: nothing was changed");
        goto out;
    }
    struct mig_tracked **by = mig_arena_alloc(&s->arena, (todo.n + 1) * sizeof(*by));
    size_t nreplaced = mig_proto_restore_map(todo.v, todo.n, by);
    unsigned blocked = 0;
    for (size_t i = 0; i < todo.n; i++) {
        struct mig_tracked *t = todo.v[i];
        if (by[i])
            continue;   /* a restore point stands for its down */
        bool no_down = !t->down && !(t->down_kind && (strcmp(t->down_kind, "exec") == 0 ||
                                                      strcmp(t->down_kind, "none") == 0));
        bool by_hand = t->down_kind && (strcmp(t->down_kind, "baselined") == 0 || strcmp(t->down_kind, "marked") == 0);
        if (strcmp(t->status, "skipped") != 0 && by_hand) {
            mig_report_error(&s->rep, "%s:%" PRId64 ": cannot roll back %s.%s.%s: it was %s", t->file ? t->file : "",
                             t->line, t->migration, t->phase, t->step, t->irreversible ? t->irreversible : "");
            blocked++;
        } else if (strcmp(t->status, "skipped") != 0 && s->conn->local_search_path && t->down && t->txn &&
                   strcmp(t->txn, "none") == 0 && mig_pg_outside_only(t->down, NULL, 0) >= 0) {
            /* through a pooler, the schema is SET LOCAL: see mig_ctx_pooled_ok */
            mig_report_error(&s->rep, "%s:%" PRId64 ": cannot roll back %s.%s.%s through the connection pooler: its "
                             "down runs outside a transaction a statement that cannot run inside a transaction "
                             "block, where the schema '%s' (SET LOCAL search_path) cannot reach it; roll it back "
                             "with a direct connection to the server", t->file ? t->file : "", t->line,
                             t->migration, t->phase, t->step, s->conn->schema);
            blocked++;
        } else if (strcmp(t->status, "skipped") != 0 && no_down) {
            mig_report_error(&s->rep, "%s:%" PRId64 ": cannot roll back %s.%s.%s: its down is irreversible: \"%s\"",
                             t->file ? t->file : "", t->line, t->migration, t->phase, t->step,
                             t->irreversible ? t->irreversible : "");
            blocked++;
        }
    }
    unsigned commands = 0;
    for (size_t i = 0; i < todo.n && !o->allow_exec; i++) {
        struct mig_tracked *t = todo.v[i];
        if (t->down_kind && strcmp(t->down_kind, "exec") == 0 && strcmp(t->status, "skipped") != 0) {
            mig_report_error(&s->rep, "%s:%" PRId64 ": the down of %s.%s.%s runs a command: %s", t->file ? t->file : "",
                             t->line, t->migration, t->phase, t->step, t->down_exec ? t->down_exec : "");
            commands++;
        }
    }
    if (blocked || commands) {
        mig_report_error(&s->rep, "rollback refused%s: nothing was changed",
                         commands ? " (commands need --allow-exec)" : "");
        goto out;
    }
    struct mig_proto p;
    mig_proto_init(&p, s, "rollback");
    if (mig_proto_start(&p) != 0)
        goto out;
    size_t nskipped = 0;
    for (size_t i = 0; i < todo.n; i++)
        nskipped += strcmp(todo.v[i]->status, "skipped") == 0;
    if (nskipped)
        mig_report_note(&s->rep, "rolling back %s on %s: %zu step%s (and the records of %zu skipped)", what,
                        s->conn->display, todo.n - nskipped, todo.n - nskipped == 1 ? "" : "s", nskipped);
    else
        mig_report_note(&s->rep, "rolling back %s on %s: %zu step%s", what, s->conn->display, todo.n,
                        todo.n == 1 ? "" : "s");
    for (size_t i = todo.n; nreplaced && i-- > 0;) {
        struct mig_tracked *rp = todo.v[i];
        if (!mig_proto_is_restore(rp))
            continue;
        char list[2048] = "";
        size_t k = 0, m = 0;
        for (size_t j = 0; j < todo.n; j++)
            if (by[j] == rp) {
                m++;
                if (k < sizeof(list))
                    k += (size_t)snprintf(list + k, sizeof(list) - k, "%s%s.%s.%s%s", k ? ", " : "",
                                          todo.v[j]->migration, todo.v[j]->phase, todo.v[j]->step,
                                          todo.v[j]->down || (todo.v[j]->down_kind && strcmp(todo.v[j]->down_kind,
                                          "none") == 0) ? "" : " (irreversible)");
            }
        if (m)
            mig_report_note(&s->rep, "the restore point %s.%s.%s (%s:%" PRId64 ") replaces the downs of %zu step%s "
                            "applied after it: %s", rp->migration, rp->phase, rp->step, rp->file ? rp->file : "", rp->line,
                            m, m == 1 ? "" : "s", list);
    }
    s->rep.qualified = true;
    int64_t t0 = mig_now_ms();
    size_t undone = 0;
    int urc = mig_proto_undo(&p, todo.v, todo.n, 1, &undone);
    if (urc == MIG_P_OK) {
        rc = MIG_EXIT_OK;
        char text[160];
        size_t steps = undone - nskipped;
        snprintf(text, sizeof(text), "done: %zu step%s rolled back in %" PRId64 " ms", steps, steps == 1 ? "" : "s",
                 mig_now_ms() - t0);
        mig_report_event(&s->rep, text, "{s:s,s:I,s:I,s:I}", "event", "done", "run", (json_int_t)p.run, "undone",
                         (json_int_t)(undone - nskipped), "ms", (json_int_t)(mig_now_ms() - t0));
    } else {
        mig_report_error(&s->rep, "undoing failed: %s", p.err);
        if (undone == 0 && urc == MIG_P_FAIL) {
            mig_report_note(&s->rep, "nothing was undone: the database is as it was before this rollback");
            rc = MIG_EXIT_FAILED;
        } else {
            mig_report_note(&s->rep, "%zu of %zu steps were undone; the rest stay applied — a person must look",
                            undone, todo.n);
            rc = MIG_EXIT_DIRTY;
        }
    }
    mig_proto_finish(&p, rc == MIG_EXIT_OK ? "success" : "failed");
out:
    mig_session_close(s);
    return rc;
}
