/* run.h — what every migrun command shares: the options parsed from the
 * command line, the exit codes of DESIGN.md and the command table. Exit
 * codes: 0 success or nothing to do; 1 failed and rolled back cleanly (or
 * stopped cleanly with --on-error stop); 2 usage; 3 refused before any
 * change (require, target, drift, lock, no connection); 4 failed and could
 * not be cleanly undone. */
#ifndef MIG_RUN_H
#define MIG_RUN_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "plan.h"

enum mig_exit { MIG_EXIT_OK = 0, MIG_EXIT_FAILED = 1, MIG_EXIT_USAGE = 2, MIG_EXIT_REFUSED = 3,
                MIG_EXIT_DIRTY = 4 };

enum mig_rollback_mode { MIG_RB_LAST_RUN, MIG_RB_RUN, MIG_RB_TO, MIG_RB_ALL };

/* How runners exclude each other (--lock): the default is a session lock
 * that refuses to work through a pooler; xact and table take a lock in
 * every transaction, for transaction poolers. */
enum mig_lock_mode { MIG_LOCK_DEFAULT, MIG_LOCK_SESSION, MIG_LOCK_XACT, MIG_LOCK_TABLE };

struct mig_param_arg {
    const char *migration;  /* NULL: every migration declaring name */
    const char *name;
    const char *value;
};

struct mig_run_opts {
    const char *db_url;
    const char *journal;            /* path of the undo log */
    const char *schema;             /* --schema: the tracking tables' (and bodies') schema */
    int64_t lock_wait_ms;
    int64_t reconnect_timeout_ms;   /* --reconnect-timeout: how long a lost connection is retried (0: once) */
    enum mig_lock_mode lock;
    bool json, trace, color;
    bool quiet;                     /* --quiet: only warnings and errors (text mode) */
    const char *reason;             /* baseline, mark, repair: --reason */
    const char *select;             /* mark: M[.P[.S]]; repair: --accept M[.P[.S]] */
    int mark;                       /* mark: 1 --applied, 2 --pending */
    bool plan_sql;                  /* plan --sql: the SQL and commands as a script */
    bool on_error_stop;
    bool allow_exec;                /* --allow-exec or MIGRUN_ALLOW_EXEC=1: commands may run */
    bool force;                     /* test: accepted, no longer needed (it works in a scratch copy) */
    bool junit;                     /* test --format junit */
    bool empty, keep, data;         /* test: --empty, --keep, --data */
    const char *seed;               /* test --seed FILE.sql */
    const char *from, *only;        /* test --from M, --only M */
    const char *to;                 /* apply/plan: MIGRATION[.PHASE]; rollback: the same, kept */
    enum mig_rollback_mode rollback;
    int64_t run;                    /* rollback --run N */
    const struct mig_param_arg *params;
    size_t nparams;
    FILE *out, *err;
    /* fleets (runtime/fleet.c): --targets FILE or --targets-query SQL (on
     * db_url, the control database), --parallel N, --canary K,
     * --continue-on-error */
    const char *targets, *targets_query;
    int parallel, canary;
    bool continue_on_error;
};

/* What a command needs before it runs; the session provides it. */
enum {
    MIG_NEEDS_PLAN = 1,         /* sources or a .migb */
    MIG_PLAN_OPTIONAL = 2,      /* sources accepted but not needed (rollback) */
    MIG_NEEDS_WRITE = 4,        /* changes the target: the lock, the journal, reconciliation */
    MIG_NEEDS_VM = 8,           /* runs the plan's code */
    MIG_READS_JOURNAL = 16,     /* reads the journal if there is one (log) */
    MIG_WRITES_TARGET = 32,     /* changes a scratch target without lock or journal (test) */
    MIG_NEEDS_EXISTING = 64,    /* a target that is not there is an error, not created (rollback) */
    MIG_BRIEF_ROWS = 128,       /* the tracking rows without their undo information (down_sql, down_exec,
                                   down_flags, irreversible, file: NULL) nor the map by entry uid (status) */
};

/* The command-line options a command takes. */
enum {
    MIG_OPT_PARAMS = 1, MIG_OPT_TO = 2, MIG_OPT_ONERROR = 4, MIG_OPT_LOCK = 8, MIG_OPT_ROLLBACK = 16,
    MIG_OPT_TRACE = 32, MIG_OPT_FORCE = 64, MIG_OPT_JOURNAL = 128, MIG_OPT_SCHEMA = 256,
    MIG_OPT_EXEC = 1024,        /* --allow-exec */
    MIG_OPT_QUIET = 2048,       /* --quiet */
    MIG_OPT_SQL = 8192,         /* plan --sql */
    MIG_OPT_ADOPT = 4096,       /* --reason; mark: --applied, --pending; repair: --accept */
    MIG_OPT_TEST = 512,         /* --empty, --keep, --data, --seed, --format, --from, --only */
    MIG_OPT_FLEET = 16384,      /* --targets, --targets-query, --parallel, --canary, --continue-on-error */
};

struct mig_command {
    const char *name;
    int (*run)(struct mig_plan *plan, const struct mig_run_opts *o);
    unsigned needs;
    unsigned options;           /* the command-line options it takes (tools/migrun.c) */
    const char *usage;
    const char *summary;        /* one line: what it does (--help) */
};

extern const struct mig_command mig_commands[];
extern const size_t mig_ncommands;

int mig_cmd_apply(struct mig_plan *plan, const struct mig_run_opts *o);
int mig_cmd_plan(struct mig_plan *plan, const struct mig_run_opts *o);
int mig_cmd_rollback(struct mig_plan *plan, const struct mig_run_opts *o);
int mig_cmd_status(struct mig_plan *plan, const struct mig_run_opts *o);
int mig_cmd_log(struct mig_plan *plan, const struct mig_run_opts *o);
int mig_cmd_test(struct mig_plan *plan, const struct mig_run_opts *o);
int mig_cmd_baseline(struct mig_plan *plan, const struct mig_run_opts *o);
int mig_cmd_mark(struct mig_plan *plan, const struct mig_run_opts *o);
int mig_cmd_repair(struct mig_plan *plan, const struct mig_run_opts *o);

/* Runs cmd over the targets of o->targets or o->targets_query, each in a
 * worker process of its own (runtime/fleet.c); returns the combined exit
 * code. */
int mig_fleet_run(const struct mig_command *cmd, struct mig_plan *plan, const struct mig_run_opts *o);

#endif
