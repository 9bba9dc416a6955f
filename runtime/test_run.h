/* test_run.h — what the parts of migrun test share (cmd_test.c: the
 * command, its scratch copy and its run over the plan; test_steps.c: the
 * host that tests each step). */
#ifndef MIG_TEST_RUN_H
#define MIG_TEST_RUN_H
#include "context.h"
#include "snapshot.h"
#include "test_report.h"

#define S(x, s) mig_ctx_str(&(x)->c, (s))

struct mig_test {
    struct mig_ctx c;
    struct mig_plan *plan;
    const struct mig_run_opts *o;
    struct mig_run_opts so;             /* o with the scratch database's URL */
    const struct mig_driver *drv;
    char *scratch_url, *scratch_name;
    bool copied, have_scratch, opened;
    struct mig_snapper *snap;
    bool tracked;
    char untracked[512];                /* why every reading reads the whole schema */
    struct mig_test_log log;
    char *seed_sql;
    int from, only;                     /* migration indexes (-1: none) */
    bool seeded, have_ref;
    uint32_t replay_until;              /* MIG_NONE, or the last step whose up runs again untested */
    uint32_t reported;                  /* the last step reported (MIG_NONE: none yet) */
    bool restart;                       /* start again from a fresh copy up to restart_step */
    uint32_t restart_step;
    unsigned restarts;
    char *stopped;                      /* why the test stopped early (malloc'd) */
    bool interrupted, usage;
    unsigned already;                   /* steps the copy records as applied: not run */
    struct mig_diffs diffs;
    int64_t changed;                    /* rows the bodies run changed (SQLite counts them) */
    /* conditions and values that need a command, which the test does not
     * run (its exec callback leaves every command not run): the steps they
     * concern are tested as if the when held, or with the output empty,
     * and reported untested (or failed) saying so */
    char cmd[256];                      /* the last command left not run */
    uint32_t when_step, when_phase;     /* the step, the phase whose when needs a command (MIG_NONE) */
    char when_step_cmd[256], when_phase_cmd[256];
    uint32_t lets_mig;                  /* the migration whose lets need a command's output (MIG_NONE) */
    char lets_cmd[256], globals_cmd[256]; /* globals_cmd[0]: the file-level lets need one */
    bool values;                        /* the file-level lets or a prologue are running */
    char values_cmd[256];               /* the first output exec left not run in them ("": none) */
    bool *skip;                         /* per step: its up failed as if its when held: never run it */
    const char *unknown, *as_if;        /* for the step being tested: what is not known, and how it is
                                           tested (NULL: everything is known) */
};

/* Whether a signal came (the test then stops). */
bool mig_test_signalled(struct mig_test *t);
/* The test stops early, for the reason given (the first one is kept). */
void mig_test_stop(struct mig_test *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "migration.phase.step" (in the session's arena). */
const char *mig_test_step_name(struct mig_test *t, uint32_t si);
/* Whether migration mi is tested (--from, --only). */
bool mig_test_in_range(const struct mig_test *t, uint32_t mi);
/* The host of the VM: every step's pair tested. */
extern const struct mig_host mig_test_host;

#endif
