/* commands.c — the table of migrun's commands: what each needs and which
 * options it takes. A new command is one file (cmd_NAME.c) and one row. */
#include "run.h"

#define P MIG_OPT_PARAMS
#define COMMON (MIG_OPT_JOURNAL | MIG_OPT_SCHEMA | MIG_OPT_LOCK)

const struct mig_command mig_commands[] = {
    { "apply", mig_cmd_apply, MIG_NEEDS_PLAN | MIG_NEEDS_WRITE | MIG_NEEDS_VM,
      COMMON | P | MIG_OPT_TO | MIG_OPT_ONERROR | MIG_OPT_TRACE | MIG_OPT_EXEC,
      "apply    (PATH...|plan.migb) --db URL [-p NAME=VALUE]... [--to MIGRATION[.PHASE]]\n"
      "                [--on-error rollback|stop] [--journal PATH] [--lock-wait DURATION]\n"
      "                [--lock session|xact|table] [--schema S] [--allow-exec] [--json] [--trace]" },
    { "plan", mig_cmd_plan, MIG_NEEDS_PLAN | MIG_NEEDS_VM, COMMON | P | MIG_OPT_TO | MIG_OPT_TRACE,
      "plan     (PATH...|plan.migb) --db URL [-p NAME=VALUE]... [--to MIGRATION[.PHASE]] [--schema S]\n"
      "                [--json] [--trace]" },
    { "rollback", mig_cmd_rollback, MIG_PLAN_OPTIONAL | MIG_NEEDS_WRITE, COMMON | MIG_OPT_ROLLBACK | MIG_OPT_TO | MIG_OPT_EXEC,
      "rollback --db URL [--run N | --to MIGRATION[.PHASE] | --all] [--journal PATH]\n"
      "                [--lock-wait DURATION] [--lock session|xact|table] [--schema S] [--allow-exec]\n"
      "                [--json] [PATH...]" },
    { "status", mig_cmd_status, MIG_NEEDS_PLAN, COMMON,
      "status   (PATH...|plan.migb) --db URL [--schema S] [--json]" },
    { "log", mig_cmd_log, MIG_READS_JOURNAL, COMMON,
      "log      --db URL [--journal PATH] [--schema S] [--json]" },
    { "test", mig_cmd_test, MIG_NEEDS_PLAN | MIG_WRITES_TARGET | MIG_NEEDS_VM,
      COMMON | P | MIG_OPT_FORCE | MIG_OPT_TRACE | MIG_OPT_TEST,
      "test     (PATH...|plan.migb) [--db URL] [--empty] [--keep] [--data] [--seed FILE.sql]\n"
      "                [--from M | --only M] [--format text|json|junit] [-p NAME=VALUE]... [--schema S] [--trace]" },
};

const size_t mig_ncommands = sizeof(mig_commands) / sizeof(*mig_commands);
