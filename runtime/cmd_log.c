/* cmd_log.c — migrun log: the runs of a target and their entries from the
 * journal on this machine, numbered as the target numbers them. Read-only:
 * without a journal it says so and lists the runs the target records. */
#include "session.h"
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int target_run(void *ctx, int n, const char *const *v)
{
    struct mig_session *s = ctx;
    if (n < 5)
        return 0;
    char text[512];
    snprintf(text, sizeof(text), "run %s  %s  %s  %s%s%s", v[0] ? v[0] : "?", v[1] ? v[1] : "", v[2] ? v[2] : "",
             v[3] ? v[3] : "", v[4] ? "  by " : "", v[4] ? v[4] : "");
    mig_report_event(&s->rep, text, "{s:s,s:I,s:s?,s:s?,s:s?,s:s?}", "event", "run", "run",
                     (json_int_t)(v[0] ? strtoll(v[0], NULL, 10) : 0), "command", v[1], "started_at", v[2],
                     "outcome", v[3], "user", v[4]);
    return 0;
}

struct walk {
    struct mig_session *s;
    unsigned runs;
};

static void journal_run(void *ctx, const struct mig_jrun *r)
{
    struct walk *w = ctx;
    char number[32], text[1024];
    w->runs++;
    if (r->number > 0)
        snprintf(number, sizeof(number), "%lld", (long long)r->number);
    else
        snprintf(number, sizeof(number), "-");
    snprintf(text, sizeof(text), "run %s  %s  %s  %s  %s%s%s", number, r->command, r->started_at, r->outcome,
             r->display, r->user ? "  by " : "", r->user ? r->user : "");
    mig_report_event(&w->s->rep, text, "{s:s,s:I,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?}", "event", "run", "run",
                     (json_int_t)r->number, "command", r->command, "target", r->display, "started_at", r->started_at,
                     "finished_at", r->finished_at, "outcome", r->outcome, "user", r->user, "host", r->host);
}

static void journal_entry(void *ctx, const struct mig_jrow *e)
{
    struct walk *w = ctx;
    char text[1024];
    bool done = e->state && strcmp(e->state, "done") == 0;
    if (e->note)
        snprintf(text, sizeof(text), "  %-8s %s.%s.%s  (%s)", e->action, e->migration, e->phase, e->step, e->note);
    else
        snprintf(text, sizeof(text), "  %-8s %s.%s.%s  (%lld ms%s%s)", e->action, e->migration, e->phase, e->step,
                 (long long)e->ms, done ? "" : ", ", done ? "" : e->state ? e->state : "");
    mig_report_event(&w->s->rep, text, "{s:s,s:I,s:s?,s:s?,s:s?,s:s?,s:s?,s:I,s:I,s:s?,s:s?,s:I,s:s?}", "event", "entry",
                     "run", (json_int_t)e->run, "migration", e->migration, "phase", e->phase, "step", e->step,
                     "action", e->action, "state", e->state, "rows", (json_int_t)e->rows, "ms", (json_int_t)e->ms,
                     "irreversible", e->irreversible, "file", e->file, "line", (json_int_t)e->line, "note", e->note);
}

int mig_cmd_log(struct mig_plan *plan, const struct mig_run_opts *o)
{
    (void)plan;
    struct mig_session ss, *s = &ss;
    memset(s, 0, sizeof(*s));
    int rc = mig_session_open(s, o, MIG_READS_JOURNAL);
    if (rc != 0)
        goto out;
    if (s->j) {
        static const struct mig_jwalk walk = { journal_run, journal_entry };
        struct walk w = { s, 0 };
        if (mig_journal_walk(s->j, &s->jt, &walk, &w) != 0) {
            mig_report_error(&s->rep, "%s", mig_journal_error(s->j));
            rc = MIG_EXIT_REFUSED;
        } else if (w.runs == 0) {
            mig_report_line(&s->rep, "no runs recorded for this database in this journal");
        }
        goto out;
    }
    if (!s->has_runs) {
        mig_report_note(&s->rep, "no journal at %s on this machine, and %s records no runs", o->journal,
                        s->conn->display);
        goto out;
    }
    mig_report_note(&s->rep, "no journal at %s on this machine; the runs %s records:", o->journal, s->conn->display);
    {
        struct mig_dberr e;
        char *sql = mig_arena_printf(&s->arena, "SELECT run, command, started_at, outcome, user_name FROM %smig_runs "
                                     "ORDER BY run", s->conn->prefix);
        if (s->conn->drv->select(s->conn, sql, target_run, s, &e) != 0) {
            mig_session_dberror(s, "cannot read the runs of the target", &e);
            rc = MIG_EXIT_REFUSED;
        }
    }
out:
    mig_session_close(s);
    return rc;
}
