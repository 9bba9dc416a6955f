/* migconf.c — mig.conf (see migconf.h): found, parsed with libinih, paths
 * resolved against the file's folder. Values are never echoed in errors:
 * a db value may carry a password. */
#include "migconf.h"
#include "compiler/compiler.h"
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct reader {
    struct mig_conf *c;
    char msg[256];          /* the first error (ini_parse gives its line) */
    bool failed;
};

/* path resolved against the file's folder (absolute paths as they are) */
static char *resolve(const struct mig_conf *c, const char *path)
{
    if (path[0] == '/' || !c->dir)
        return strdup(path);
    size_t n = strlen(c->dir) + strlen(path) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", strcmp(c->dir, "/") == 0 ? "" : c->dir, path);
    return s;
}

/* a relative sqlite:PATH is relative to the file's folder too, so that
 * migrun finds the same database from any subfolder */
static char *resolve_db(const struct mig_conf *c, const char *db)
{
    if (strncmp(db, "sqlite:", 7) != 0 || db[7] == '/' || !db[7] || strncmp(db + 7, ":memory:", 8) == 0)
        return strdup(db);
    char *p = resolve(c, db + 7);
    char *s = p ? malloc(strlen(p) + 8) : NULL;
    if (s)
        sprintf(s, "sqlite:%s", p);
    free(p);
    return s;
}

static int push(char ***v, size_t *n, char *s)
{
    char **nv = s ? realloc(*v, (*n + 1) * sizeof(**v)) : NULL;
    if (!nv) {
        free(s);
        return -1;
    }
    nv[(*n)++] = s;
    *v = nv;
    return 0;
}

/* Splits a list ("a, b c") at commas and blanks; each item through f. */
static int split(const char *value, int (*f)(struct reader *, const char *), struct reader *r)
{
    char *copy = strdup(value), *save = NULL;
    if (!copy)
        return -1;
    int rc = 0;
    for (char *t = strtok_r(copy, ", \t", &save); t && rc == 0; t = strtok_r(NULL, ", \t", &save))
        rc = f(r, t);
    free(copy);
    return rc;
}

static int add_migrations(struct reader *r, const char *item)
{
    return push(&r->c->migrations, &r->c->nmigrations, resolve(r->c, item));
}

static int fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool listed(char *const *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], id) == 0)
            return true;
    return false;
}

/* The lists of [lint]: each id must be a rule, and fit the list it is in
 * (libinih gives the line of a failure). */
static const struct mig_rule *lint_rule(struct reader *r, const char *key, const char *item)
{
    const struct mig_rule *rule = mig_rule_find(item);
    if (!rule) {
        fail(r, "[lint] %s: unknown rule '%s' (the rules: doc/rules.md, or migc check --format sarif)", key, item);
        return NULL;
    }
    struct mig_conf *c = r->c;
    const char *other = listed(c->lint_disable, c->nlint_disable, item) ? "disable"
                      : listed(c->lint_error, c->nlint_error, item) ? "error" : NULL;
    if (other && strcmp(key, "enable") != 0 && strcmp(other, key) != 0) {
        fail(r, "[lint] %s: '%s' is already in [lint] %s", key, item, other);
        return NULL;
    }
    return rule;
}

static int add_disabled(struct reader *r, const char *item)
{
    const struct mig_rule *rule = lint_rule(r, "disable", item);
    if (!rule)
        return 0;
    if (strcmp(rule->severity, "warning") != 0)
        return fail(r, "[lint] disable: '%s' reports errors, which cannot be disabled (suppress one occurrence "
                    "with a reason: # mig: allow %s — why)", item, item), 0;
    return push(&r->c->lint_disable, &r->c->nlint_disable, strdup(item));
}

static int add_enabled(struct reader *r, const char *item)
{
    const struct mig_rule *rule = lint_rule(r, "enable", item);
    if (!rule)
        return 0;
    if (!rule->opt_in)
        return fail(r, "[lint] enable: '%s' is on by default (enable names the opt-in rules: prefer-bigint, "
                    "prefer-identity, prefer-timestamptz, prefer-text, require-statement-timeout)", item), 0;
    struct mig_conf *c = r->c;
    if (listed(c->lint_enable, c->nlint_enable, item))
        return 0;
    /* kept NULL-terminated: the compiler reads the list as it is */
    char **nv = realloc(c->lint_enable, (c->nlint_enable + 2) * sizeof(*nv));
    char *id = strdup(item);
    if (!nv || !id) {
        free(id);
        if (nv)
            c->lint_enable = nv;
        return -1;
    }
    nv[c->nlint_enable++] = id;
    nv[c->nlint_enable] = NULL;
    c->lint_enable = nv;
    return 0;
}

static int add_error(struct reader *r, const char *item)
{
    const struct mig_rule *rule = lint_rule(r, "error", item);
    if (!rule)
        return 0;
    if (strcmp(rule->severity, "warning") != 0)
        return fail(r, "[lint] error: '%s' reports errors already", item), 0;
    if (rule->opt_in && add_enabled(r, item) != 0)
        return -1;
    return push(&r->c->lint_error, &r->c->nlint_error, strdup(item));
}

static int fail(struct reader *r, const char *fmt, ...)
{
    if (r->failed)
        return 0;
    if (!r->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
        va_end(ap);
    }
    r->failed = true;
    return 0;
}

/* sets *slot once: a second value for one key is a mistake, not an override */
static int set(struct reader *r, char **slot, char *value, const char *section, const char *key)
{
    if (!value)
        return fail(r, "%s: out of memory", key);
    if (*slot) {
        free(value);
        return fail(r, "'%s' is set twice in %s", key, *section ? section : "the top level");
    }
    *slot = value;
    return 1;
}

/* "env production" → "production"; NULL for another section */
static const char *env_name(const char *section, char *buf, size_t cap)
{
    while (*section == ' ' || *section == '\t')
        section++;
    if (strncmp(section, "env", 3) != 0 || (section[3] != ' ' && section[3] != '\t'))
        return NULL;
    section += 3;
    while (*section == ' ' || *section == '\t')
        section++;
    size_t n = strcspn(section, " \t");
    if (n == 0 || n >= cap || section[n + strspn(section + n, " \t")])
        return NULL;
    memcpy(buf, section, n);
    buf[n] = 0;
    return buf;
}

static int on_value(void *user, const char *section, const char *key, const char *value)
{
    struct reader *r = user;
    struct mig_conf *c = r->c;
    char sect[128], name[64];
    snprintf(sect, sizeof(sect), "[%s]", section);
    if (!*section) {
        if (strcmp(key, "migrations") == 0)
            return split(value, add_migrations, r) == 0 ? 1 : fail(r, "out of memory");
        if (strcmp(key, "db") == 0)
            return set(r, &c->db, resolve_db(c, value), "", key);
        if (strcmp(key, "journal") == 0)
            return set(r, &c->journal, resolve(c, value), "", key);
        if (strcmp(key, "schema") == 0)
            return set(r, &c->schema, strdup(value), "", key);
        return fail(r, "unknown key '%s' at the top level (known: migrations, db, journal, schema)", key);
    }
    if (env_name(section, name, sizeof(name))) {
        struct mig_conf_env *e = (struct mig_conf_env *)mig_conf_env(c, name);
        if (!e) {
            struct mig_conf_env *ne = realloc(c->envs, (c->nenvs + 1) * sizeof(*ne));
            if (!ne)
                return fail(r, "out of memory");
            c->envs = ne;
            e = &c->envs[c->nenvs++];
            memset(e, 0, sizeof(*e));
            e->name = strdup(name);
        }
        if (strcmp(key, "db") == 0)
            return set(r, &e->db, resolve_db(c, value), sect, key);
        if (strcmp(key, "journal") == 0)
            return set(r, &e->journal, resolve(c, value), sect, key);
        if (strcmp(key, "schema") == 0)
            return set(r, &e->schema, strdup(value), sect, key);
        return fail(r, "unknown key '%s' in %s (known: db, journal, schema)", key, sect);
    }
    if (strcmp(section, "lint") == 0) {
        int (*add)(struct reader *, const char *) = strcmp(key, "disable") == 0 ? add_disabled
                                                   : strcmp(key, "enable") == 0 ? add_enabled
                                                   : strcmp(key, "error") == 0 ? add_error : NULL;
        if (add)
            return split(value, add, r) == 0 ? (r->failed ? 0 : 1) : fail(r, "out of memory");
        return fail(r, "unknown key '%s' in %s (known: enable, disable, error)", key, sect);
    }
    return fail(r, "unknown section %s (known: [env NAME], [lint])", sect);
}

int mig_conf_read(struct mig_conf *c, const char *path, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "cannot read '%s': it is not a regular file", path);
        return -1;
    }
    c->path = strdup(real);
    char *slash = strrchr(real, '/');
    if (slash == real)
        slash[1] = 0;
    else if (slash)
        *slash = 0;
    c->dir = strdup(real);
    /* libinih reads lines of up to INI_MAX_LINE - 1 bytes (200 as Debian
     * builds it) and splits longer ones silently: say so instead */
    FILE *f = c->path ? fopen(c->path, "r") : NULL;
    int line = 1, len = 0, ch, longest = 0, at = 0;
    while (f && (ch = getc(f)) != EOF) {
        if (ch == '\n') {
            line++;
            len = 0;
        } else if (++len > longest) {
            longest = len;
            at = line;
        }
    }
    if (f)
        fclose(f);
    if (longest >= INI_MAX_LINE - 1) {
        snprintf(err, errlen, "%s:%d: a line longer than %d characters (write a list over several "
                 "'key = value' lines)", c->path, at, INI_MAX_LINE - 2);
        mig_conf_free(c);
        return -1;
    }
    struct reader r = { .c = c };
    int rc = c->path && c->dir ? ini_parse(c->path, on_value, &r) : -2;
    if (rc == 0 && !r.failed)
        return 0;
    if (rc == -1)
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
    else if (rc == -2)
        snprintf(err, errlen, "%s: out of memory", path);
    else if (r.failed)
        snprintf(err, errlen, "%s:%d: %s", c->path, rc, r.msg);
    else    /* libinih's own complaint: no '=' or no closing ']' */
        snprintf(err, errlen, "%s:%d: not 'key = value', '[section]' or a comment (# or ;)", c->path, rc);
    mig_conf_free(c);
    return -1;
}

int mig_conf_load(struct mig_conf *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    const char *named = getenv("MIG_CONFIG");
    if (named)
        return *named ? mig_conf_read(c, named, err, errlen) : 0;
    char dir[PATH_MAX];
    if (!getcwd(dir, sizeof(dir)))
        return 0;
    for (;;) {
        char path[PATH_MAX + sizeof(MIG_CONF_NAME) + 1];
        snprintf(path, sizeof(path), "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, MIG_CONF_NAME);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            return mig_conf_read(c, path, err, errlen);
        char *slash = strrchr(dir, '/');
        if (!slash || strcmp(dir, "/") == 0)
            return 0;
        if (slash == dir)
            slash[1] = 0;
        else
            *slash = 0;
    }
}

const struct mig_conf_env *mig_conf_env(const struct mig_conf *c, const char *name)
{
    for (size_t i = 0; i < c->nenvs; i++)
        if (strcmp(c->envs[i].name, name) == 0)
            return &c->envs[i];
    return NULL;
}

bool mig_conf_rule_disabled(const struct mig_conf *c, const char *rule)
{
    for (size_t i = 0; rule && i < c->nlint_disable; i++)
        if (strcmp(c->lint_disable[i], rule) == 0)
            return true;
    return false;
}

bool mig_conf_rule_error(const struct mig_conf *c, const char *rule)
{
    return rule && listed(c->lint_error, c->nlint_error, rule);
}

void mig_conf_free(struct mig_conf *c)
{
    for (size_t i = 0; i < c->nlint_enable; i++)
        free(c->lint_enable[i]);
    for (size_t i = 0; i < c->nlint_error; i++)
        free(c->lint_error[i]);
    free(c->lint_enable);
    free(c->lint_error);
    for (size_t i = 0; i < c->nmigrations; i++)
        free(c->migrations[i]);
    for (size_t i = 0; i < c->nlint_disable; i++)
        free(c->lint_disable[i]);
    for (size_t i = 0; i < c->nenvs; i++) {
        free(c->envs[i].name);
        free(c->envs[i].db);
        free(c->envs[i].journal);
        free(c->envs[i].schema);
    }
    free(c->migrations);
    free(c->lint_disable);
    free(c->envs);
    free(c->path);
    free(c->dir);
    free(c->db);
    free(c->journal);
    free(c->schema);
    memset(c, 0, sizeof(*c));
}
