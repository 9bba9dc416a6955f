/* migrun.c — the runner's command line: parses the arguments and
 * dispatches through the command table of runtime/commands.c, whose rows
 * say which options each command takes and what it needs. Exit codes: see
 * runtime/run.h. */
#include "config.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <sys/stat.h>
#include "runtime/pq.h"
#include "load.h"
#include "migconf.h"
#include "runtime/driver.h"
#include "runtime/fleet.h"
#include "runtime/run.h"
#include "runtime/vm.h"


static void print_usage(FILE *to)
{
    for (size_t i = 0; i < mig_ncommands; i++)
        fprintf(to, "%s migrun %s\n", i ? "      " : "usage:", mig_commands[i].usage);
    fputs("       migrun --version | --help | COMMAND --help\n"
          "\nURL: sqlite:PATH, sqlite:///ABS/PATH, postgres://… or postgresql://…, service=NAME (a service of\n"
          "     libpq's pg_service.conf). Default: --env NAME's db in mig.conf, else $MIGRUN_DB, else the db of\n"
          "     mig.conf ([env default], else the top level), else postgresql:// when PGHOST, PGDATABASE or\n"
          "     PGSERVICE is set. Prefer $MIGRUN_DB, service=NAME, PGPASSWORD or ~/.pgpass to a password in\n"
          "     --db, which every local user sees in ps\n"
          "Journal: --journal, else $MIGRUN_JOURNAL, else mig.conf's, else .migrun/journal.db (beside mig.conf)\n"
          "PATH: when none is given, the migrations folders of mig.conf\n", to);
}

#define O_PARAMS MIG_OPT_PARAMS
#define O_TO MIG_OPT_TO
#define O_ONERROR MIG_OPT_ONERROR
#define O_LOCK MIG_OPT_LOCK
#define O_ROLLBACK MIG_OPT_ROLLBACK
#define O_TRACE MIG_OPT_TRACE
#define O_FORCE MIG_OPT_FORCE
#define O_SCHEMA MIG_OPT_SCHEMA
#define O_INPUTS (1u << 20)
#define O_INPUTS_OPT (1u << 21)

/* The command being parsed (NULL before one is known): usage errors point
 * to its --help. */
static const struct mig_command *current;

/* One line, and where to read more: never the whole usage. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mig_usage_verror("migrun", current ? current->name : NULL, fmt, ap);
    va_end(ap);
    return MIG_EXIT_USAGE;
}

#define O_LINT (1u << 22)   /* --lint: where sources are compiled */

/* The options, each with the commands that take it (0: every command). */
static const struct {
    const char *name, *help;
    unsigned bit;
} options[] = {
    { "--db URL", "the target: sqlite:PATH, postgresql://…, service=NAME (default: $MIGRUN_DB, mig.conf, PG*)", 0 },
    { "--env NAME", "use the settings of [env NAME] in mig.conf (db, journal, schema)", 0 },
    { "-p, --param [MIGRATION.]NAME=VALUE", "a param's value, checked against its declared type", O_PARAMS },
    { "--to MIGRATION[.PHASE]", "apply/plan: up to it; rollback: keep it and undo what was applied after it", O_TO },
    { "--run N", "undo run N (see migrun log)", O_ROLLBACK },
    { "--all", "undo every applied step", O_ROLLBACK },
    { "--on-error rollback|stop", "on a failure, undo the run's committed phases (default) or keep them", O_ONERROR },
    { "--allow-exec", "let steps and conditions run commands (or MIGRUN_ALLOW_EXEC=1)", MIG_OPT_EXEC },
    { "--journal PATH", "the local undo log (default: $MIGRUN_JOURNAL, else .migrun/journal.db)", 0 },
    { "--schema S", "the schema of the tracking tables, and the search_path of the run", O_SCHEMA },
    { "--lock session|xact|table", "how runners exclude each other (xact or table behind a transaction pooler)",
      O_LOCK },
    { "--lock-wait DURATION", "how long to wait for another runner's lock (default 60s)", O_LOCK },
    { "--reconnect-timeout DURATION", "how long to retry a lost connection, then go on (default 60s; 0: once)", O_LOCK },
    { "--empty", "test in an empty scratch database, not a copy of the given one", MIG_OPT_TEST },
    { "--keep", "keep the scratch database (its name is printed)", MIG_OPT_TEST },
    { "--data", "also compare every table's rows before the up and after the down", MIG_OPT_TEST },
    { "--seed FILE.sql", "load seed data before the first step", MIG_OPT_TEST },
    { "--from M", "test from migration M on", MIG_OPT_TEST },
    { "--only M", "test migration M only", MIG_OPT_TEST },
    { "--format text|json|junit", "the report's format", MIG_OPT_TEST },
    { "--sql", "print the SQL and commands apply would run, rendered with the params, as a script", MIG_OPT_SQL },
    { "--reason TEXT", "why (journaled with who, and shown by migrun log)", MIG_OPT_ADOPT },
    { "--applied | --pending", "mark: record as applied without running / remove the records without undoing",
      MIG_OPT_ADOPT },
    { "--accept MIGRATION[.PHASE[.STEP]]", "repair: the applied steps whose changed source is accepted",
      MIG_OPT_ADOPT },
    { "--force", "accepted for compatibility (test always works in a scratch copy)", O_FORCE },
    { "--lint", "print the compiler's warnings on the sources (errors are always printed)", O_LINT },
    { "-q, --quiet", "print only warnings and errors", MIG_OPT_QUIET },
    { "--targets FILE", "a fleet: one URL, URL#schema or SQLite path a line (# comments); see FLEETS in migrun(1)",
      MIG_OPT_FLEET },
    { "--targets-query SQL", "a fleet: the targets (URLs, or schema names of --db) the query returns on --db",
      MIG_OPT_FLEET },
    { "--parallel N", "a fleet: run N targets at a time, each in a worker process (default 1)", MIG_OPT_FLEET },
    { "--canary K", "a fleet: run the first K targets first; stop if any of them fails", MIG_OPT_FLEET },
    { "--continue-on-error", "a fleet: run every target even after a failure (default: stop launching)",
      MIG_OPT_FLEET },
    { "--json", "one JSON object per line (an `event` key in each)", 0 },
    { "--trace", "print each instruction of the plan as it runs", O_TRACE },
    { "-h, --help", "this help", 0 },
};

static void print_help(const struct mig_command *c)
{
    printf("usage: migrun %s\n\n%s\n\noptions:\n", c->usage, c->summary);
    unsigned allowed = c->options | (c->needs & (MIG_NEEDS_PLAN | MIG_PLAN_OPTIONAL) ? O_LINT : 0);
    for (size_t i = 0; i < sizeof(options) / sizeof(*options); i++)
        if (!options[i].bit || (allowed & options[i].bit))
            printf("  %-36s %s\n", options[i].name, options[i].help);
    printf("\nSee migrun(1) for the exit codes and the environment.\n");
}

struct args {
    struct mig_run_opts o;
    char **paths;
    int npaths;
    struct mig_param_arg *params;
    size_t nparams;
    bool saw_rollback_mode;
    bool db_from_argv;      /* --db, not MIGRUN_DB */
    bool lint;              /* --lint */
};

/* mig.conf, when there is one (its strings outlive the run) */
static struct mig_conf conf;

/* libpq key=value text ("service=NAME", "service=app dbname=x") as the
 * URI it means, postgresql://?service=NAME&..., so that every part of
 * migrun that adds to a URL (test's scratch database) reads one form.
 * NULL when it does not parse (left to the usual errors). */
static char *kv_to_uri(const char *kv)
{
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(kv, &why);
    PQfreemem(why);
    if (!opts)
        return NULL;
    size_t cap = 32 + 3 * strlen(kv) + 64, n = 0;
    char *s = malloc(cap);
    if (s)
        n = (size_t)snprintf(s, cap, "postgresql://");
    bool first = true;
    for (const PQconninfoOption *o = opts; s && o->keyword; o++) {
        if (!o->val)
            continue;
        n += (size_t)snprintf(s + n, cap - n, "%s%s=", first ? "?" : "&", o->keyword);
        first = false;
        for (const unsigned char *c = (const unsigned char *)o->val; *c && n + 4 < cap; c++)
            if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                strchr("-._~", *c))
                s[n++] = (char)*c;
            else
                n += (size_t)snprintf(s + n, cap - n, "%%%02X", *c);
        s[n] = 0;
    }
    PQconninfoFree(opts);
    return s;
}
static char *kv_uri;    /* the URI kv_to_uri made for this run */

/* Fills in what the command line left unset: flags, then the environment,
 * then mig.conf (see migconf.h). */
static int apply_conf(struct args *a, const char *env, const char *flag_db, const char *flag_journal,
                      unsigned allowed)
{
    char err[512];
    if (mig_conf_load(&conf, err, sizeof(err)) != 0)
        return usage_error("%s", err);
    const struct mig_conf_env *e = NULL;
    if (env) {
        if (!conf.path)
            return usage_error("--env %s: no mig.conf here or in a parent folder (or set MIG_CONFIG)", env);
        e = mig_conf_env(&conf, env);
        if (!e)
            return usage_error("--env %s: %s has no section [env %s]", env, conf.path, env);
    } else {
        e = mig_conf_env(&conf, "default");
    }
    const char *env_db = getenv("MIGRUN_DB"), *env_journal = getenv("MIGRUN_JOURNAL");
    if (env_db && !*env_db)
        env_db = NULL;
    if (env_journal && !*env_journal)
        env_journal = NULL;
    /* db: --db, --env's db, MIGRUN_DB, mig.conf's ([env default], top level) */
    if (flag_db)
        a->o.db_url = flag_db;
    else if (env && e->db)
        a->o.db_url = e->db;
    else if (env_db)
        a->o.db_url = env_db;
    else if (e && e->db)
        a->o.db_url = e->db;
    else if (conf.db)
        a->o.db_url = conf.db;
    if (env && !flag_db && !e->db && !conf.db)
        return usage_error("--env %s: [env %s] of %s sets no db", env, env, conf.path);
    /* journal: --journal, MIGRUN_JOURNAL, mig.conf's, .migrun/journal.db
     * beside mig.conf (so a subfolder shares the project's) */
    static char beside[4096];
    if (flag_journal)
        a->o.journal = flag_journal;
    else if (env_journal)
        a->o.journal = env_journal;
    else if (e && e->journal)
        a->o.journal = e->journal;
    else if (conf.journal)
        a->o.journal = conf.journal;
    else if (conf.dir) {
        snprintf(beside, sizeof(beside), "%s/.migrun/journal.db", strcmp(conf.dir, "/") ? conf.dir : "");
        a->o.journal = beside;
    }
    /* schema: --schema, mig.conf's (PostgreSQL targets only: a SQLite
     * file has one schema) */
    if (!a->o.schema && (allowed & O_SCHEMA) && (!a->o.db_url || mig_driver_for(a->o.db_url) != &mig_driver_sqlite))
        a->o.schema = e && e->schema ? e->schema : conf.schema;
    /* PATH...: the migrations folders of mig.conf */
    if ((allowed & O_INPUTS) && a->npaths == 0)
        for (size_t i = 0; i < conf.nmigrations && i < 63; i++)
            a->paths[a->npaths++] = conf.migrations[i];
    return 0;
}

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
    a->o.reconnect_timeout_ms = 60000;
    const char *env = NULL, *flag_db = NULL, *flag_journal = NULL;
    a->o.allow_exec = getenv("MIGRUN_ALLOW_EXEC") && strcmp(getenv("MIGRUN_ALLOW_EXEC"), "1") == 0;
    /* room for mig.conf's migrations folders too */
    a->paths = calloc((size_t)argc + 64, sizeof(*a->paths));
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
            if (current && strcmp(current->name, "mark") == 0 && !a->o.select)
                a->o.select = argv[i];      /* mark's first argument: what to mark */
            else
                a->paths[a->npaths++] = argv[i];
        } else if (strcmp(arg, "--") == 0) {
            opts = false;
        } else if (TAKES("--db")) {
            const char *v = VALUE("--db");
            if (!v)
                return usage_error("--db needs a URL");
            flag_db = v;
            a->db_from_argv = true;
        } else if (TAKES("--env")) {
            const char *v = VALUE("--env");
            if (!v || !*v)
                return usage_error("--env needs a name (a section [env NAME] of mig.conf)");
            env = v;
        } else if (TAKES("--journal")) {
            const char *v = VALUE("--journal");
            if (!v)
                return usage_error("--journal needs a path");
            flag_journal = v;
        } else if (TAKES("--schema") && (allowed & O_SCHEMA)) {
            const char *v = VALUE("--schema");
            if (!v || !*v)
                return usage_error("--schema needs a schema name");
            a->o.schema = v;
        } else if (TAKES("--run") && (allowed & O_ROLLBACK)) {
            const char *v = VALUE("--run");
            char *end = NULL;
            long long n = v ? strtoll(v, &end, 10) : 0;
            if (!v || !*v || *end || n < 1)
                return usage_error("--run takes a run number (1, 2, …; see migrun log)");
            if (a->saw_rollback_mode)
                return usage_error("give only one of --run, --to and --all");
            a->saw_rollback_mode = true;
            a->o.rollback = MIG_RB_RUN;
            a->o.run = n;
        } else if (strcmp(arg, "--force") == 0 && (allowed & O_FORCE)) {
            a->o.force = true;
        } else if (strcmp(arg, "--allow-exec") == 0 && (allowed & MIG_OPT_EXEC)) {
            a->o.allow_exec = true;
        } else if (TAKES("--reason") && (allowed & MIG_OPT_ADOPT)) {
            const char *v = VALUE("--reason");
            if (!v || !*v)
                return usage_error("--reason needs a text: why");
            a->o.reason = v;
        } else if (TAKES("--accept") && (allowed & MIG_OPT_ADOPT)) {
            const char *v = VALUE("--accept");
            if (!v || !*v)
                return usage_error("--accept needs MIGRATION[.PHASE[.STEP]]");
            a->o.select = v;
        } else if ((strcmp(arg, "--applied") == 0 || strcmp(arg, "--pending") == 0) && (allowed & MIG_OPT_ADOPT)) {
            if (a->o.mark)
                return usage_error("give one of --applied and --pending");
            a->o.mark = arg[2] == 'a' ? 1 : 2;
        } else if (strcmp(arg, "--sql") == 0 && (allowed & MIG_OPT_SQL)) {
            a->o.plan_sql = true;
        } else if (strcmp(arg, "--lint") == 0 && (allowed & (O_INPUTS | O_INPUTS_OPT))) {
            a->lint = true;
        } else if ((strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0) && (allowed & MIG_OPT_QUIET)) {
            a->o.quiet = true;
        } else if (strcmp(arg, "--json") == 0) {
            a->o.json = true;
        } else if ((TAKES("--targets") || TAKES("--targets-query")) && (allowed & MIG_OPT_FLEET)) {
            bool query = strncmp(arg, "--targets-query", 15) == 0;
            const char *v = query ? VALUE("--targets-query") : VALUE("--targets");
            if (!v || !*v)
                return usage_error("%s", query ? "--targets-query needs a SQL query returning the targets"
                                               : "--targets needs a file (one target a line)");
            if (a->o.targets || a->o.targets_query)
                return usage_error("give one of --targets and --targets-query, once");
            *(query ? &a->o.targets_query : &a->o.targets) = v;
        } else if ((TAKES("--parallel") || TAKES("--canary")) && (allowed & MIG_OPT_FLEET)) {
            bool par = arg[2] == 'p';
            const char *v = par ? VALUE("--parallel") : VALUE("--canary");
            char *end = NULL;
            long n = v ? strtol(v, &end, 10) : 0;
            if (!v || !*v || *end || n < 1 || n > (par ? 256 : 1000000))
                return usage_error("%s", par ? "--parallel takes a number of workers from 1 to 256"
                                             : "--canary takes a number of targets (1 or more)");
            *(par ? &a->o.parallel : &a->o.canary) = (int)n;
        } else if (strcmp(arg, "--continue-on-error") == 0 && (allowed & MIG_OPT_FLEET)) {
            a->o.continue_on_error = true;
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
                    return usage_error("give only one of --run, --to and --all");
                a->saw_rollback_mode = true;
                a->o.rollback = MIG_RB_TO;
            }
        } else if (TAKES("--on-error") && (allowed & O_ONERROR)) {
            const char *v = VALUE("--on-error");
            if (!v || (strcmp(v, "rollback") != 0 && strcmp(v, "stop") != 0))
                return usage_error("--on-error takes rollback or stop");
            a->o.on_error_stop = strcmp(v, "stop") == 0;
        } else if (TAKES("--reconnect-timeout") && (allowed & O_LOCK)) {
            const char *v = VALUE("--reconnect-timeout");
            if (!v || parse_duration(v, &a->o.reconnect_timeout_ms) != 0)
                return usage_error("--reconnect-timeout takes a duration such as 60s (0s: no retry)");
        } else if (TAKES("--lock-wait") && (allowed & O_LOCK)) {
            const char *v = VALUE("--lock-wait");
            if (!v || parse_duration(v, &a->o.lock_wait_ms) != 0)
                return usage_error("--lock-wait takes a duration such as 60s");
        } else if (TAKES("--lock") && (allowed & O_LOCK)) {
            const char *v = VALUE("--lock");
            if (!v || (strcmp(v, "session") != 0 && strcmp(v, "xact") != 0 && strcmp(v, "table") != 0))
                return usage_error("--lock takes session, xact or table");
            a->o.lock = strcmp(v, "session") == 0 ? MIG_LOCK_SESSION : strcmp(v, "xact") == 0 ? MIG_LOCK_XACT
                      : MIG_LOCK_TABLE;
        } else if ((strcmp(arg, "--last-run") == 0 || strcmp(arg, "--all") == 0) && (allowed & O_ROLLBACK)) {
            if (a->saw_rollback_mode)
                return usage_error("give only one of --run, --to and --all");
            a->saw_rollback_mode = true;
            a->o.rollback = strcmp(arg, "--all") == 0 ? MIG_RB_ALL : MIG_RB_LAST_RUN;
        } else if ((strcmp(arg, "--empty") == 0 || strcmp(arg, "--keep") == 0 || strcmp(arg, "--data") == 0) &&
                   (allowed & MIG_OPT_TEST)) {
            bool *flag = arg[2] == 'e' ? &a->o.empty : arg[2] == 'k' ? &a->o.keep : &a->o.data;
            *flag = true;
        } else if (TAKES("--format") && (allowed & MIG_OPT_TEST)) {
            const char *v = VALUE("--format");
            if (!v || (strcmp(v, "text") != 0 && strcmp(v, "json") != 0 && strcmp(v, "junit") != 0))
                return usage_error("--format takes text, json or junit");
            a->o.json = strcmp(v, "json") == 0;
            a->o.junit = strcmp(v, "junit") == 0;
        } else if ((TAKES("--seed") || TAKES("--from") || TAKES("--only")) && (allowed & MIG_OPT_TEST)) {
            const char *which = arg[2] == 's' ? "--seed" : arg[2] == 'f' ? "--from" : "--only";
            const char *v = arg[2] == 's' ? VALUE("--seed") : arg[2] == 'f' ? VALUE("--from") : VALUE("--only");
            if (!v || !*v)
                return usage_error("%s needs %s", which, arg[2] == 's' ? "a .sql file" : "a migration");
            *(arg[2] == 's' ? &a->o.seed : arg[2] == 'f' ? &a->o.from : &a->o.only) = v;
        } else if (TAKES("--targets") || TAKES("--targets-query") || TAKES("--parallel") || TAKES("--canary") ||
                   strcmp(arg, "--continue-on-error") == 0) {
            /* (log, test, baseline, mark, repair: one target each) */
            return usage_error("%s: a fleet (--targets, --targets-query, --parallel, --canary, --continue-on-error) "
                               "is for apply, status, rollback and plan; run this command with --db URL (and "
                               "--schema S) for each target", arg);
        } else {
            return usage_error("unknown option '%s'", arg);
        }
#undef TAKES
#undef VALUE
    }
    if (apply_conf(a, env, flag_db, flag_journal, allowed) != 0)
        return MIG_EXIT_USAGE;
    if ((a->o.parallel || a->o.canary || a->o.continue_on_error) && !a->o.targets && !a->o.targets_query)
        return usage_error("--parallel, --canary and --continue-on-error apply to a fleet: give --targets FILE or "
                           "--targets-query SQL");
    if (a->o.targets) {
        /* the file names every target: --db (or a default) has no part */
        if (flag_db)
            return usage_error("--targets names the targets; --db is only the control database of "
                               "--targets-query");
        if (!a->o.journal || !*a->o.journal)
            a->o.journal = ".migrun/journal.db";
        a->o.params = a->params;
        a->o.nparams = a->nparams;
        if ((allowed & O_INPUTS) && a->npaths == 0)
            return usage_error("give the migrations: .mig files, folders, or one .migb (or migrations = in "
                               "mig.conf)");
        return 0;
    }
    /* the PG* environment of libpq (as pg_virtualenv sets it) names a server */
    if ((!a->o.db_url || !*a->o.db_url) && (getenv("PGHOST") || getenv("PGDATABASE") || getenv("PGSERVICE")))
        a->o.db_url = "postgresql://";
    if (!a->o.db_url || !*a->o.db_url)
        return usage_error("no database: give --db URL or set MIGRUN_DB (or db in mig.conf, or the PG* "
                           "variables of libpq)");
    /* --db is in every local user's ps; MIGRUN_DB and ~/.pgpass are not */
    unsigned url = mig_url_inspect(a->o.db_url);
    if (url & MIG_URL_MISREAD) {
        char *m = mig_mask_url(a->o.db_url);
        usage_error("the database URL '%s' does not say what it seems to: libpq reads the password only up to "
                    "a '/' or '@' in it; percent-encode them (%%2F, %%40), or give the password in PGPASSWORD "
                    "or ~/.pgpass", m ? m : "");
        free(m);
        return MIG_EXIT_USAGE;
    }
    if ((url & MIG_URL_PASSWORD) && a->db_from_argv)
        fputs("migrun: warning: --db carries a password, which every local user sees in ps; set MIGRUN_DB, "
              "PGPASSWORD or ~/.pgpass instead\n", stderr);
    if (mig_driver_for(a->o.db_url) == &mig_driver_pg && !strstr(a->o.db_url, "://") &&
        (kv_uri = kv_to_uri(a->o.db_url)) != NULL)
        a->o.db_url = kv_uri;
    if (!mig_driver_for(a->o.db_url)) {
        char *m = mig_mask_url(a->o.db_url);
        usage_error("unsupported database URL '%s' (expected sqlite:PATH, sqlite:///ABS/PATH, postgres://… "
                    "or postgresql://…)", m ? m : "");
        free(m);
        return MIG_EXIT_USAGE;
    }
    if (!a->o.journal || !*a->o.journal)
        a->o.journal = ".migrun/journal.db";
    if ((allowed & O_INPUTS) && a->npaths == 0)
        return usage_error("give the migrations: .mig files, folders, or one .migb (or migrations = in mig.conf)");
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

/* After an apply that opened its journal, the .migrun/journal.db of the
 * current folder, the compile cache's folder (tools/load.c) is made beside
 * it: the next command given the sources keeps their compilation there and
 * the ones after it load it (status and plan never create the folder, and
 * a usage error leaves nothing). */
static void make_cache_dir(const char *journal)
{
    size_t n = journal ? strlen(journal) : 0;
    static const char tail[] = ".migrun/journal.db";
    if (n < sizeof(tail) - 1 || strcmp(journal + n - (sizeof(tail) - 1), tail) != 0 ||
        (n > sizeof(tail) - 1 && journal[n - sizeof(tail)] != '/'))
        return;
    char *parent = n > sizeof(tail) - 1 ? strndup(journal, n - (sizeof(tail) - 1)) : strdup(".");
    char *a = parent ? realpath(parent, NULL) : NULL, *b = realpath(".", NULL);
    struct stat st;
    if (a && b && strcmp(a, b) == 0 && stat(".migrun/journal.db", &st) == 0)
        mkdir(".migrun/cache", 0700);
    free(parent);
    free(a);
    free(b);
}

/* Parses the command's options, loads its plan where it takes one, runs it. */
static int dispatch(const struct mig_command *cmd, int argc, char **argv)
{
    current = cmd;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(cmd);
            return MIG_EXIT_OK;
        }
    unsigned allowed = cmd->options | (cmd->needs & MIG_NEEDS_PLAN ? O_INPUTS : 0) |
                       (cmd->needs & MIG_PLAN_OPTIONAL ? O_INPUTS_OPT : 0);
    struct args a;
    int rc = parse(argc, argv, allowed, &a);
    if (rc != 0) {
        free_args(&a);
        return rc;
    }
    struct mig_plan *p = NULL;
    if (a.npaths) {
        bool usage = false;
        p = mig_load_inputs_lint("migrun", a.paths, a.npaths, stderr, mig_use_color(stderr), &usage, a.lint);
        if (!p) {
            free_args(&a);
            return MIG_EXIT_USAGE;
        }
    }
    rc = a.o.targets || a.o.targets_query ? mig_fleet_run(cmd, p, &a.o) : cmd->run(p, &a.o);
    if (a.npaths && strcmp(cmd->name, "apply") == 0 && !a.o.targets && !a.o.targets_query)
        make_cache_dir(a.o.journal);
    mig_plan_free(p);
    free_args(&a);
    mig_conf_free(&conf);
    free(kv_uri);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return MIG_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        print_usage(stdout);
        return MIG_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("migrun (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
        return MIG_EXIT_OK;
    }
    for (size_t i = 0; i < mig_ncommands; i++)
        if (strcmp(mig_commands[i].name, cmd) == 0)
            return dispatch(&mig_commands[i], argc - 1, argv + 1);
    if (cmd[0] == '-')
        return usage_error("give a command first (apply, plan, rollback, status, …), then '%s'", cmd);
    return usage_error("unknown command '%s' (the commands: apply, plan, rollback, status, log, test, baseline, mark, repair)", cmd);
}
