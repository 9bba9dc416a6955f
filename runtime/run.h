/* run.h — the runner: the commands of migrun over a plan, a connection and
 * the undo log. Each returns the process exit code of DESIGN.md:
 * 0 success or nothing to do; 1 failed and rolled back cleanly (or stopped
 * cleanly with --on-error stop); 2 usage; 3 refused before any change
 * (require, target, drift, lock, no connection); 4 failed and could not be
 * cleanly undone. */
#ifndef MIG_RUN_H
#define MIG_RUN_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "plan.h"

enum mig_exit { MIG_EXIT_OK = 0, MIG_EXIT_FAILED = 1, MIG_EXIT_USAGE = 2, MIG_EXIT_REFUSED = 3,
                MIG_EXIT_DIRTY = 4 };

enum mig_rollback_mode { MIG_RB_LAST_RUN, MIG_RB_TO, MIG_RB_ALL };

struct mig_param_arg {
    const char *migration;  /* NULL: every migration declaring name */
    const char *name;
    const char *value;
};

struct mig_run_opts {
    const char *db_url;
    const char *journal;            /* path of the undo log */
    int64_t lock_wait_ms;
    bool json, trace, color;
    bool on_error_stop;
    bool force;                     /* test: also on a database with applied steps */
    const char *to;                 /* apply/plan: MIGRATION[.PHASE]; rollback: MIGRATION */
    enum mig_rollback_mode rollback;
    const struct mig_param_arg *params;
    size_t nparams;
    FILE *out, *err;
};

int mig_run_apply(struct mig_plan *plan, const struct mig_run_opts *o);
int mig_run_plan(struct mig_plan *plan, const struct mig_run_opts *o);
int mig_run_status(struct mig_plan *plan, const struct mig_run_opts *o);
/* plan may be NULL; with one, steps missing from the journal fall back to
 * the compiled down of the sources. */
int mig_run_rollback(struct mig_plan *plan, const struct mig_run_opts *o);
int mig_run_log(const struct mig_run_opts *o);
/* migrun test: up, down, compare the schema, up again, for every step. */
int mig_run_test(struct mig_plan *plan, const struct mig_run_opts *o);

#endif
