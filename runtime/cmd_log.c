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

int mig_cmd_log(struct mig_plan *plan, const struct mig_run_opts *o)
{
    (void)plan;
    struct mig_session ss, *s = &ss;
    memset(s, 0, sizeof(*s));
    int rc = mig_session_open(s, o, MIG_READS_JOURNAL);
    if (rc != 0)
        goto out;
    if (s->j) {
        if (mig_journal_print(s->j, &s->jt, o->json, o->out) != 0) {
            mig_report_error(&s->rep, "%s", mig_journal_error(s->j));
            rc = MIG_EXIT_REFUSED;
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
