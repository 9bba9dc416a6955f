/* migc.c — the compiler's command line: one table maps each subcommand to
 * its cmd_ function (as git.c does). Exit codes: 0 clean, 1 errors (or
 * warnings with -Werror), 2 usage. */
#include "config.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "compiler/codegen.h"
#include "compiler/compiler.h"
#include "compiler/fmt.h"
#include "compiler/parse.h"
#include "import.h"
#include "load.h"

enum { EXIT_CLEAN = 0, EXIT_ERRORS = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: migc check [--format text|json|sarif] [-Werror] [--list-exec] PATH...\n"
    "       migc build PATH... [-o plan.migb]\n"
    "       migc disasm (plan.migb | PATH...)\n"
    "       migc fmt [--check] PATH...\n"
    "       migc import --from golang-migrate|dbmate|flyway|sqitch|goose|dir DIR -o OUTDIR [--force]\n"
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


static int cmd_check(int argc, char **argv)
{
    bool werror = false, list_exec = false;
    bool opts = true;
    const char *format = "text";
    struct mig_program *p = mig_program_new();
    int npaths = 0;
    char err[512];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts && strcmp(a, "--") == 0) {
            opts = false;
        } else if (opts && strcmp(a, "-Werror") == 0) {
            werror = true;
        } else if (opts && strcmp(a, "--list-exec") == 0) {
            list_exec = true;
        } else if (opts && (strcmp(a, "--format") == 0 || strncmp(a, "--format=", 9) == 0)) {
            const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) {
                mig_program_free(p);
                return usage_error("%s needs a value (text)", "--format");
            }
            if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0 && strcmp(v, "sarif") != 0) {
                mig_program_free(p);
                return usage_error("unknown --format '%s' (expected text, json or sarif)", v);
            }
            format = v;
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
    if (list_exec && strcmp(format, "text") != 0) {
        mig_program_free(p);
        return usage_error("--list-exec prints text on standard output: it cannot be combined with --format %s",
                           format);
    }
    mig_program_check(p);
    struct mig_diags *d = &p->diags;
    if (list_exec && d->fatal == 0)
        mig_list_execs(p, stdout);     /* the commands on stdout, the diagnostics on stderr */
    if (strcmp(format, "json") == 0) {
        mig_diags_print_json(d, stdout);
    } else if (strcmp(format, "sarif") == 0) {
        mig_diags_print_sarif(d, stdout, mig_rules, PACKAGE_VERSION);
    } else {
        mig_diags_print_text(d, stderr, mig_use_color(stderr));
        if (d->errors || d->warnings)
            fprintf(stderr, "%u error%s and %u warning%s.\n", d->errors, d->errors == 1 ? "" : "s",
                    d->warnings, d->warnings == 1 ? "" : "s");
    }
    int rc = d->errors || (werror && d->warnings) ? EXIT_ERRORS : EXIT_CLEAN;
    mig_program_free(p);
    return rc;
}

/* Writes data to path through a file beside it and a rename, so that a
 * failure never leaves half a file. 0, or -1 after saying why. */
static int write_replacing(const char *path, const void *data, size_t n)
{
    size_t tl = strlen(path) + 8;
    char *tmp = malloc(tl);
    if (!tmp) {
        fprintf(stderr, "migc: error: out of memory\n");
        return -1;
    }
    snprintf(tmp, tl, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    bool ok = f && fwrite(data, 1, n, f) == n;
    ok = f && fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        fprintf(stderr, "migc: error: cannot write '%s': %s\n", path, strerror(errno));
        remove(tmp);
    }
    free(tmp);
    return ok ? 0 : -1;
}

static int cmd_build(int argc, char **argv)
{
    const char *out = "plan.migb";
    char **paths = calloc((size_t)argc + 1, sizeof(*paths));
    int n = 0;
    bool opts = true;
    if (!paths)
        return usage_error("out of memory");
    for (int i = 1; i < argc; i++) {
        if (opts && strcmp(argv[i], "--") == 0) {
            opts = false;
        } else if (opts && (strcmp(argv[i], "-o") == 0 || strncmp(argv[i], "-o", 2) == 0)) {
            out = argv[i][2] ? argv[i] + 2 : i + 1 < argc ? argv[++i] : NULL;
            if (!out) {
                free(paths);
                return usage_error("-o needs a file name");
            }
        } else if (opts && argv[i][0] == '-' && argv[i][1]) {
            free(paths);
            return usage_error("unknown option '%s'", argv[i]);
        } else {
            paths[n++] = argv[i];
        }
    }
    if (n == 0) {
        free(paths);
        return usage_error("build needs at least one PATH");
    }
    for (int i = 0; i < n; i++)
        if (mig_is_bytecode_path(paths[i])) {
            free(paths);
            return usage_error("'%s' is already bytecode", paths[i]);
        }
    bool usage = false;
    struct mig_plan *p = mig_load_inputs("migc", paths, n, stderr, mig_use_color(stderr), &usage);
    free(paths);
    if (!p)
        return usage ? EXIT_USAGE : EXIT_ERRORS;
    size_t size = 0;
    unsigned char *buf = mig_plan_write(p, &size);
    mig_plan_free(p);
    int rc = write_replacing(out, buf, size);
    free(buf);
    return rc == 0 ? EXIT_CLEAN : EXIT_ERRORS;
}

static int cmd_disasm(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1])
            return usage_error("unknown option '%s'", argv[i]);
    if (argc < 2)
        return usage_error("disasm needs a .migb file (or .mig sources)");
    bool usage = false;
    struct mig_plan *p = mig_load_inputs("migc", argv + 1, argc - 1, stderr, mig_use_color(stderr), &usage);
    if (!p)
        return usage || mig_is_bytecode_path(argv[1]) ? EXIT_USAGE : EXIT_ERRORS;
    mig_plan_disasm(p, stdout);
    mig_plan_free(p);
    return EXIT_CLEAN;
}

/* Formats one file: 0 unchanged, 1 changed (written, or listed with
 * --check), -1 not formatted (syntax errors, I/O). */
static int fmt_file(const char *path, bool check)
{
    struct mig_program *p = mig_program_new();
    const char *why = NULL;
    struct mig_source *src = mig_source_read(&p->sources, path, &why);
    if (!src) {
        fprintf(stderr, "migc: error: cannot read '%s': %s\n", path, why);
        mig_program_free(p);
        return -1;
    }
    mig_parse_source(&p->arena, &p->diags, src);
    if (p->diags.fatal) {
        mig_diags_sort(&p->diags);
        mig_diags_print_text(&p->diags, stderr, mig_use_color(stderr));
        fprintf(stderr, "migc: %s not formatted: fix its syntax errors first\n", path);
        mig_program_free(p);
        return -1;
    }
    char *out = NULL;
    size_t n = 0;
    int rc = -1;
    if (mig_format(src->text, src->len, &out, &n) != 0) {
        fprintf(stderr, "migc: error: cannot format '%s'\n", path);
    } else if (n == src->len && memcmp(out, src->text, n) == 0) {
        rc = 0;
    } else if (check) {
        printf("%s\n", path);
        rc = 1;
    } else if (write_replacing(path, out, n) == 0) {
        rc = 1;
    }
    free(out);
    mig_program_free(p);
    return rc;
}

static int cmd_fmt(int argc, char **argv)
{
    bool check = false, opts = true;
    struct mig_program *paths = mig_program_new();
    char err[512];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (opts && strcmp(argv[i], "--") == 0) {
            opts = false;
        } else if (opts && strcmp(argv[i], "--check") == 0) {
            check = true;
        } else if (opts && argv[i][0] == '-' && argv[i][1]) {
            mig_program_free(paths);
            return usage_error("unknown option '%s'", argv[i]);
        } else if (mig_program_add_path(paths, argv[i], err, sizeof(err)) != 0) {
            mig_program_free(paths);
            fprintf(stderr, "migc: error: %s\n", err);
            return EXIT_USAGE;
        } else {
            n++;
        }
    }
    if (n == 0) {
        mig_program_free(paths);
        return usage_error("fmt needs at least one PATH");
    }
    int changed = 0, failed = 0;
    for (size_t i = 0; i < paths->input_paths.n; i++) {
        int rc = fmt_file(paths->input_paths.v[i], check);
        changed += rc == 1;
        failed += rc < 0;
    }
    mig_program_free(paths);
    if (check && changed)
        fprintf(stderr, "migc: %d file%s would be reformatted\n", changed, changed == 1 ? "" : "s");
    return failed || (check && changed) ? EXIT_ERRORS : EXIT_CLEAN;
}

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    { "check", cmd_check },
    { "build", cmd_build },
    { "disasm", cmd_disasm },
    { "fmt", cmd_fmt },
    { "import", mig_cmd_import },
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
