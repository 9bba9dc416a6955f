/* migc.c — the compiler's command line: one table maps each subcommand to
 * its cmd_ function (as git.c does). Exit codes: 0 clean, 1 errors (or
 * warnings with -Werror), 2 usage. */
#include "config.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "compiler/compiler.h"

enum { EXIT_CLEAN = 0, EXIT_ERRORS = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: migc check [--format text] [-Werror] PATH...\n"
    "       migc --version | --help\n"
    "\n"
    "PATH is a .mig file or a directory searched recursively for *.mig files.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("migc: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

static bool use_color(FILE *f)
{
    const char *nc = getenv("NO_COLOR");
    if (nc && *nc)
        return false;
    return isatty(fileno(f));
}

static int cmd_check(int argc, char **argv)
{
    bool werror = false;
    bool opts = true;
    struct mig_program *p = mig_program_new();
    int npaths = 0;
    char err[512];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts && strcmp(a, "--") == 0) {
            opts = false;
        } else if (opts && strcmp(a, "-Werror") == 0) {
            werror = true;
        } else if (opts && (strcmp(a, "--format") == 0 || strncmp(a, "--format=", 9) == 0)) {
            const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) {
                mig_program_free(p);
                return usage_error("%s needs a value (text)", "--format");
            }
            if (strcmp(v, "text") != 0) {
                mig_program_free(p);
                return usage_error("unknown --format '%s' (expected text)", v);
            }
        } else if (opts && a[0] == '-' && a[1]) {
            mig_program_free(p);
            return usage_error("unknown option '%s'", a);
        } else {
            if (mig_program_add_path(p, a, err, sizeof(err)) != 0) {
                mig_program_free(p);
                fprintf(stderr, "migc: error: %s\n", err);
                return EXIT_USAGE;
            }
            npaths++;
        }
    }
    if (npaths == 0) {
        mig_program_free(p);
        return usage_error("%s", "check needs at least one PATH");
    }
    mig_program_check(p);
    struct mig_diags *d = &p->diags;
    mig_diags_print_text(d, stderr, use_color(stderr));
    if (d->errors || d->warnings)
        fprintf(stderr, "%u error%s and %u warning%s.\n", d->errors, d->errors == 1 ? "" : "s",
                d->warnings, d->warnings == 1 ? "" : "s");
    int rc = d->errors || (werror && d->warnings) ? EXIT_ERRORS : EXIT_CLEAN;
    mig_program_free(p);
    return rc;
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    { "check", cmd_check },
};

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("%s", "missing command");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_CLEAN;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("migc (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
        return EXIT_CLEAN;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
        if (strcmp(commands[i].name, cmd) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    return usage_error("unknown command '%s'", cmd);
}
