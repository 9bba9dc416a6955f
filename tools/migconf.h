/* migconf.h — mig.conf, the project file that migc and migrun share: an INI
 * file (read with libinih) found by walking up from the working directory,
 * or named by $MIG_CONFIG. (Not tools/config.h: that name would shadow
 * autoconf's config.h for every file of tools/.)
 *
 *     migrations = migrations          # folders, relative to this file
 *     journal = .migrun/journal.db     # relative to this file
 *     db = sqlite:dev.db               # the target when nothing else names one
 *     schema = app
 *     [env production]                 # migrun --env production
 *     db = service=myapp               # a service of libpq's pg_service.conf
 *     [lint]
 *     enable = prefer-bigint           # opt-in style rules migc runs
 *     disable = rename, destructive    # warning rules migc does not report
 *     error = set-not-null             # warning rules whose findings are errors
 *
 * Precedence, for each setting: command-line flags, then the environment
 * (MIGRUN_DB, MIGRUN_JOURNAL), then this file. Everything below is owned
 * by the struct and freed by mig_conf_free(). */
#ifndef MIG_TOOLS_MIGCONF_H
#define MIG_TOOLS_MIGCONF_H
#include <stdbool.h>
#include <stddef.h>

#define MIG_CONF_NAME "mig.conf"

struct mig_conf_env {
    char *name;
    char *db, *journal, *schema;    /* NULL when the section does not set them */
};

struct mig_conf {
    char *path;                     /* the file read; NULL when there is none */
    char *dir;                      /* its folder, absolute */
    char **migrations;              /* folders, resolved against dir */
    size_t nmigrations;
    char *db, *journal, *schema;    /* top level; journal resolved against dir */
    struct mig_conf_env *envs;
    size_t nenvs;
    char **lint_disable;            /* rule ids, checked against the rule table */
    size_t nlint_disable;
    char **lint_enable;             /* opt-in rule ids; NULL-terminated when set */
    size_t nlint_enable;
    char **lint_error;              /* warning rule ids reported as errors */
    size_t nlint_error;
};

/* Finds and reads mig.conf: the file $MIG_CONFIG names (set but empty: no
 * file), else the first mig.conf in the working directory or one of its
 * parents. 0 (c->path NULL when there is none), or -1 with a message in
 * err naming the file and line (a usage error: exit 2). */
int mig_conf_load(struct mig_conf *c, char *err, size_t errlen);
/* Reads one file. 0, or -1 with a message in err. */
int mig_conf_read(struct mig_conf *c, const char *path, char *err, size_t errlen);
/* The section [env NAME], or NULL. */
const struct mig_conf_env *mig_conf_env(const struct mig_conf *c, const char *name);
/* Whether a rule is disabled by [lint] disable. */
bool mig_conf_rule_disabled(const struct mig_conf *c, const char *rule);
/* Whether [lint] error makes a rule's warnings errors. */
bool mig_conf_rule_error(const struct mig_conf *c, const char *rule);
void mig_conf_free(struct mig_conf *c);

#endif
