/* migrun.c — the runner's command line: one table maps each subcommand to
 * its cmd_ function; options are parsed once for all of them and each
 * command says which it takes. Exit codes: see runtime/run.h. */
#include "config.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "load.h"
#include "runtime/run.h"
#include "runtime/vm.h"

static const char usage_text[] =
    "usage: migrun apply    (PATH...|plan.migb) --db URL [-p NAME=VALUE]... [--to MIGRATION[.PHASE]]\n"
    "                       [--on-error rollback|stop] [--journal PATH] [--lock-wait DURATION] [--json] [--trace]\n"
    "       migrun plan     (PATH...|plan.migb) --db URL [-p NAME=VALUE]... [--to MIGRATION[.PHASE]]\n"
    "       migrun rollback --db URL [--last-run | --to MIGRATION | --all] [--journal PATH] [--json] [PATH...]\n"
    "       migrun status   (PATH...|plan.migb) --db URL [--journal PATH] [--json]\n"
    "       migrun log      --db URL [--journal PATH] [--json]\n"
    "       migrun test     (PATH...|plan.migb) --db URL [--force] [-p NAME=VALUE]... [--json]\n"
    "\n"
    "URL: sqlite:PATH, sqlite:///ABS/PATH, postgres://… or postgresql://… (default: $MIGRUN_DB,\n"
    "     else postgresql:// when PGHOST, PGDATABASE or PGSERVICE is set)\n"
    "Journal: --journal, else $MIGRUN_JOURNAL, else .migrun/journal.db\n";

enum {
    O_PARAMS = 1, O_TO = 2, O_ONERROR = 4, O_LOCK = 8, O_ROLLBACK = 16, O_INPUTS = 32, O_INPUTS_OPT = 64,
    O_TRACE = 128, O_FORCE = 256,
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("migrun: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    fputs(usage_text, stderr);
    return MIG_EXIT_USAGE;
}


struct args {
    struct mig_run_opts o;
    char **paths;
    int npaths;
    struct mig_param_arg *params;
    size_t nparams;
    bool saw_rollback_mode;
};

/* Parses a duration such as 60s for --lock-wait. */
static int parse_duration(const char *s, int64_t *ms)
{
    struct mig_arena a = { 0 };
    struct mig_value v;
    char err[128];
    int rc = mig_value_parse(&a, MIG_V_DURATION, s, &v, err, sizeof(err));
    mig_arena_free(&a);
    if (rc == 0)
        *ms = v.i;
    return rc;
}

static int parse(int argc, char **argv, unsigned allowed, struct args *a)
{
    memset(a, 0, sizeof(*a));
    a->o.out = stdout;
    a->o.err = stderr;
    a->o.color = mig_use_color(stdout);
    a->o.lock_wait_ms = 60000;
    a->o.db_url = getenv("MIGRUN_DB");
    a->o.journal = getenv("MIGRUN_JOURNAL");
    a->paths = calloc((size_t)argc + 1, sizeof(*a->paths));
    a->params = calloc((size_t)argc + 1, sizeof(*a->params));
    if (!a->paths || !a->params)
        return usage_error("out of memory");
    bool opts = true;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
#define TAKES(name) (strcmp(arg, name) == 0 || (strncmp(arg, name "=", sizeof(name)) == 0))
#define VALUE(name) (eq && strncmp(arg, name "=", sizeof(name)) == 0 ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL))
        if (!opts || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (!(allowed & (O_INPUTS | O_INPUTS_OPT)))
                return usage_error("unexpected argument '%s'", arg);
            a->paths[a->npaths++] = argv[i];
        } else if (strcmp(arg, "--") == 0) {
            opts = false;
        } else if (TAKES("--db")) {
            const char *v = VALUE("--db");
            if (!v)
                return usage_error("--db needs a URL");
            a->o.db_url = v;
        } else if (TAKES("--journal")) {
            const char *v = VALUE("--journal");
            if (!v)
                return usage_error("--journal needs a path");
            a->o.journal = v;
        } else if (strcmp(arg, "--force") == 0 && (allowed & O_FORCE)) {
            a->o.force = true;
        } else if (strcmp(arg, "--json") == 0) {
            a->o.json = true;
        } else if (strcmp(arg, "--trace") == 0 && (allowed & O_TRACE)) {
            a->o.trace = true;
        } else if ((strcmp(arg, "-p") == 0 || strncmp(arg, "-p", 2) == 0 || TAKES("--param")) && (allowed & O_PARAMS)) {
            const char *v = strcmp(arg, "-p") == 0 || strcmp(arg, "--param") == 0 ? (i + 1 < argc ? argv[++i] : NULL)
                          : strncmp(arg, "--param=", 8) == 0 ? arg + 8 : arg + 2;
            if (!v || !strchr(v, '='))
                return usage_error("-p needs NAME=VALUE or MIGRATION.NAME=VALUE");
            const char *veq = strchr(v, '=');
            char *name = strndup(v, (size_t)(veq - v));
            char *dot = strchr(name, '.');
            struct mig_param_arg *pa = &a->params[a->nparams++];
            if (dot) {
                *dot = 0;
                pa->migration = name;
                pa->name = dot + 1;
            } else {
                pa->name = name;
            }
            pa->value = veq + 1;
            if (!*pa->name || (pa->migration && !*pa->migration))
                return usage_error("-p %s: the param name is empty", v);
        } else if (TAKES("--to") && (allowed & O_TO)) {
            const char *v = VALUE("--to");
            if (!v)
                return usage_error("--to needs a migration");
            a->o.to = v;
            if (allowed & O_ROLLBACK) {
                if (a->saw_rollback_mode)
                    return usage_error("give only one of --last-run, --to and --all");
                a->saw_rollback_mode = true;
                a->o.rollback = MIG_RB_TO;
            }
        } else if (TAKES("--on-error") && (allowed & O_ONERROR)) {
            const char *v = VALUE("--on-error");
            if (!v || (strcmp(v, "rollback") != 0 && strcmp(v, "stop") != 0))
                return usage_error("--on-error takes rollback or stop");
            a->o.on_error_stop = strcmp(v, "stop") == 0;
        } else if (TAKES("--lock-wait") && (allowed & O_LOCK)) {
            const char *v = VALUE("--lock-wait");
            if (!v || parse_duration(v, &a->o.lock_wait_ms) != 0)
                return usage_error("--lock-wait takes a duration such as 60s");
        } else if ((strcmp(arg, "--last-run") == 0 || strcmp(arg, "--all") == 0) && (allowed & O_ROLLBACK)) {
            if (a->saw_rollback_mode)
                return usage_error("give only one of --last-run, --to and --all");
            a->saw_rollback_mode = true;
            a->o.rollback = strcmp(arg, "--all") == 0 ? MIG_RB_ALL : MIG_RB_LAST_RUN;
        } else {
            return usage_error("unknown option '%s'", arg);
        }
#undef TAKES
#undef VALUE
    }
    /* the PG* environment of libpq (as pg_virtualenv sets it) names a server */
    if ((!a->o.db_url || !*a->o.db_url) && (getenv("PGHOST") || getenv("PGDATABASE") || getenv("PGSERVICE")))
        a->o.db_url = "postgresql://";
    if (!a->o.db_url || !*a->o.db_url)
        return usage_error("no database: give --db URL or set MIGRUN_DB (or the PG* variables of libpq)");
    if (strncmp(a->o.db_url, "sqlite:", 7) != 0 && strncmp(a->o.db_url, "postgres://", 11) != 0 &&
        strncmp(a->o.db_url, "postgresql://", 13) != 0) {
        char *m = mig_mask_url(a->o.db_url);
        usage_error("unsupported database URL '%s' (expected sqlite:PATH, sqlite:///ABS/PATH, postgres://… "
                    "or postgresql://…)", m ? m : "");
        free(m);
        return MIG_EXIT_USAGE;
    }
    if (!a->o.journal || !*a->o.journal)
        a->o.journal = ".migrun/journal.db";
    if ((allowed & O_INPUTS) && a->npaths == 0)
        return usage_error("give the migrations: .mig files, folders, or one .migb");
    a->o.params = a->params;
    a->o.nparams = a->nparams;
    return 0;
}

static void free_args(struct args *a)
{
    for (size_t i = 0; i < a->nparams; i++)
        free((char *)(a->params[i].migration ? a->params[i].migration : a->params[i].name));
    free(a->params);
    free(a->paths);
}

static int with_plan(int argc, char **argv, unsigned allowed, int (*fn)(struct mig_plan *, const struct mig_run_opts *))
{
    struct args a;
    int rc = parse(argc, argv, allowed, &a);
    if (rc != 0) {
        free_args(&a);
        return rc;
    }
    struct mig_plan *p = NULL;
    if (a.npaths) {
        bool usage = false;
        p = mig_load_inputs("migrun", a.paths, a.npaths, stderr, mig_use_color(stderr), &usage);
        if (!p) {
            free_args(&a);
            return MIG_EXIT_USAGE;
        }
    }
    rc = fn(p, &a.o);
    mig_plan_free(p);
    free_args(&a);
    return rc;
}

static int cmd_apply(int argc, char **argv)
{
    return with_plan(argc, argv, O_INPUTS | O_PARAMS | O_TO | O_ONERROR | O_LOCK | O_TRACE, mig_run_apply);
}

static int cmd_plan(int argc, char **argv)
{
    return with_plan(argc, argv, O_INPUTS | O_PARAMS | O_TO | O_LOCK | O_TRACE, mig_run_plan);
}

static int cmd_status(int argc, char **argv)
{
    return with_plan(argc, argv, O_INPUTS | O_LOCK, mig_run_status);
}

static int cmd_rollback(int argc, char **argv)
{
    return with_plan(argc, argv, O_INPUTS_OPT | O_ROLLBACK | O_TO | O_LOCK, mig_run_rollback);
}

static int run_log(struct mig_plan *p, const struct mig_run_opts *o)
{
    (void)p;
    return mig_run_log(o);
}

static int cmd_log(int argc, char **argv)
{
    return with_plan(argc, argv, O_LOCK, run_log);
}

static int cmd_test(int argc, char **argv)
{
    return with_plan(argc, argv, O_INPUTS | O_PARAMS | O_FORCE | O_TRACE, mig_run_test);
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    { "apply", cmd_apply },
    { "plan", cmd_plan },
    { "rollback", cmd_rollback },
    { "status", cmd_status },
    { "log", cmd_log },
    { "test", cmd_test },
};

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("missing command");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return MIG_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("migrun (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
        return MIG_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
        if (strcmp(commands[i].name, cmd) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    return usage_error("unknown command '%s'", cmd);
}
