/* commands.c — the table of migrun's commands: what each needs and which
 * options it takes. A new command is one file (cmd_NAME.c) and one row. */
#include "run.h"

#define P MIG_OPT_PARAMS
#define COMMON (MIG_OPT_JOURNAL | MIG_OPT_SCHEMA | MIG_OPT_LOCK)
#define FLEET MIG_OPT_FLEET

const struct mig_command mig_commands[] = {
    { "apply", mig_cmd_apply, MIG_NEEDS_PLAN | MIG_NEEDS_WRITE | MIG_NEEDS_VM,
      COMMON | P | MIG_OPT_TO | MIG_OPT_ONERROR | MIG_OPT_TRACE | MIG_OPT_EXEC | MIG_OPT_QUIET | FLEET,
      "apply    (PATH...|plan.migb) --db URL [-p NAME=VALUE]... [--to MIGRATION[.PHASE]]\n"
      "                [--on-error rollback|stop] [--journal PATH] [--lock-wait DURATION]\n"
      "                [--reconnect-timeout DURATION] [--lock session|xact|table] [--schema S]\n"
      "                [--allow-exec] [--json] [--trace]\n"
      "                [--targets FILE | --targets-query SQL] [--parallel N] [--canary K] [--continue-on-error]",
      "apply the pending steps, each recorded with its rendered down; a failure undoes the run" },
    { "plan", mig_cmd_plan, MIG_NEEDS_PLAN | MIG_NEEDS_VM,
      COMMON | P | MIG_OPT_TO | MIG_OPT_TRACE | MIG_OPT_SQL | FLEET,
      "plan     (PATH...|plan.migb) --db URL [-p NAME=VALUE]... [--to MIGRATION[.PHASE]] [--schema S]\n"
      "                [--sql] [--json] [--trace] [--targets FILE | --targets-query SQL] [--parallel N]",
      "show what apply would run (guards evaluated live), changing nothing" },
    { "rollback", mig_cmd_rollback, MIG_PLAN_OPTIONAL | MIG_NEEDS_WRITE,
      COMMON | MIG_OPT_ROLLBACK | MIG_OPT_TO | MIG_OPT_EXEC | MIG_OPT_QUIET | FLEET,
      "rollback --db URL [--run N | --to MIGRATION[.PHASE] | --all] [--journal PATH]\n"
      "                [--lock-wait DURATION] [--reconnect-timeout DURATION] [--lock session|xact|table]\n"
      "                [--schema S] [--allow-exec] [--json] [--targets FILE | --targets-query SQL]\n"
      "                [--parallel N] [--canary K] [--continue-on-error] [PATH...]",
      "undo the last run (or --run N, --to M[.PHASE], --all) from the downs recorded in the target" },
    { "status", mig_cmd_status, MIG_NEEDS_PLAN, COMMON | FLEET,
      "status   (PATH...|plan.migb) --db URL [--schema S] [--json] [--targets FILE | --targets-query SQL]\n"
      "                [--parallel N]",
      "list every step as applied, pending, skipped, changed since applied or interrupted" },
    { "log", mig_cmd_log, MIG_READS_JOURNAL, COMMON,
      "log      --db URL [--journal PATH] [--schema S] [--json]",
      "show the runs and steps recorded for the target (journal and target)" },
    { "test", mig_cmd_test, MIG_NEEDS_PLAN | MIG_WRITES_TARGET | MIG_NEEDS_VM,
      COMMON | P | MIG_OPT_FORCE | MIG_OPT_TRACE | MIG_OPT_TEST,
      "test     (PATH...|plan.migb) [--db URL] [--empty] [--keep] [--data] [--seed FILE.sql]\n"
      "                [--from M | --only M] [--format text|json|junit] [-p NAME=VALUE]... [--schema S] [--trace]",
      "prove every down undoes its up, in a throwaway copy of the database" },
    { "baseline", mig_cmd_baseline, MIG_NEEDS_PLAN | MIG_NEEDS_WRITE, COMMON | MIG_OPT_TO | MIG_OPT_ADOPT,
      "baseline (PATH...|plan.migb) --db URL --to MIGRATION[.PHASE] [--reason TEXT] [--schema S] [--json]",
      "adopt a database that has the schema already: record every step up to --to as applied, without running it" },
    { "mark", mig_cmd_mark, MIG_PLAN_OPTIONAL | MIG_NEEDS_WRITE, COMMON | MIG_OPT_ADOPT,
      "mark     MIGRATION[.PHASE[.STEP]] (--applied | --pending) --db URL --reason TEXT [PATH...] [--json]",
      "record steps as applied without running them, or remove their records without running their downs" },
    { "repair", mig_cmd_repair, MIG_NEEDS_PLAN | MIG_NEEDS_WRITE, COMMON | MIG_OPT_ADOPT,
      "repair   (PATH...|plan.migb) --db URL --accept MIGRATION[.PHASE[.STEP]] --reason TEXT [--json]",
      "accept the changed source of applied steps (their new checksum); their recorded downs stay" },
};

const size_t mig_ncommands = sizeof(mig_commands) / sizeof(*mig_commands);
