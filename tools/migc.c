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
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "compiler/codegen.h"
#include "compiler/compiler.h"
#include "compiler/fmt.h"
#include "compiler/parse.h"
#include "import.h"
#include "load.h"
#include "lsp.h"
#include "migconf.h"
#include "runtime/url.h"

enum { EXIT_CLEAN = 0, EXIT_ERRORS = 1, EXIT_USAGE = 2 };

/* The commands, in the order of the usage; each row's bit selects its
 * options in the table below. */
enum { C_CHECK = 1, C_BUILD = 2, C_DISASM = 4, C_FMT = 8, C_IMPORT = 16, C_NEW = 32, C_INIT = 64, C_LSP = 128 };

static int cmd_check(int argc, char **argv);
static int cmd_build(int argc, char **argv);
static int cmd_disasm(int argc, char **argv);
static int cmd_fmt(int argc, char **argv);
static int cmd_new(int argc, char **argv);
static int cmd_init(int argc, char **argv);

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    unsigned bit;
    const char *usage, *summary;
} commands[] = {
    { "check", cmd_check, C_CHECK, "check [--format text|json|sarif] [-Werror] [--list-exec] [PATH...]",
      "check .mig files without a database: syntax, names, types, and the SQL and plan rules" },
    { "build", cmd_build, C_BUILD, "build [PATH...] [-o plan.migb]",
      "compile .mig files to one bytecode file that migrun runs without the sources" },
    { "disasm", cmd_disasm, C_DISASM, "disasm (plan.migb | PATH...)",
      "print the bytecode of a plan: address, opcode, operands and what they refer to" },
    { "fmt", cmd_fmt, C_FMT, "fmt [--check] [PATH...]",
      "rewrite .mig files in the one canonical layout (SQL bodies and comments kept byte for byte)" },
    { "import", mig_cmd_import, C_IMPORT,
      "import --from golang-migrate|dbmate|flyway|sqitch|goose|dir DIR -o OUTDIR [--force]",
      "convert another tool's migrations to .mig files, chained with after in the tool's order" },
    { "new", cmd_new, C_NEW, "new NAME [--dir DIR]",
      "write NAME.mig, a skeleton migration after the current heads (the migrations nothing follows yet)" },
    { "init", cmd_init, C_INIT, "init [--db URL] [--migrations DIR]",
      "write mig.conf and a migrations folder in the working directory (never overwrites)" },
    { "lsp", mig_cmd_lsp, C_LSP, "lsp [--stdio]",
      "a Language Server for editors over stdio: migc check's diagnostics, fmt, hover, definition, completion" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(*commands))

/* The options, each with the commands that take it (0: every command). */
static const struct {
    const char *name, *help;
    unsigned bits;
} options[] = {
    { "--format text|json|sarif", "diagnostics as gcc-style text (on stderr), JSON or SARIF 2.1.0 (on stdout)",
      C_CHECK },
    { "-Werror", "warnings fail too (exit 1)", C_CHECK },
    { "--list-exec", "print every command the migrations can run, one per line", C_CHECK },
    { "-o FILE", "the bytecode file to write (default plan.migb)", C_BUILD },
    { "--check", "change nothing: list the files that would change, exit 1 if any", C_FMT },
    { "--from TOOL", "golang-migrate, dbmate, flyway, sqitch, goose or dir (one NAME.up.sql/.down.sql pair each)",
      C_IMPORT },
    { "-o OUTDIR", "the folder to write the .mig files to", C_IMPORT },
    { "--force", "overwrite .mig files that exist in OUTDIR", C_IMPORT },
    { "--dir DIR", "the folder to write to (default: the first migrations folder of mig.conf, else migrations/ "
                   "if it exists, else .)", C_NEW },
    { "--db URL", "the default target to write into mig.conf (no password: use service=NAME, ~/.pgpass)", C_INIT },
    { "--migrations DIR", "the migrations folder to create and name in mig.conf (default migrations)", C_INIT },
    { "--stdio", "talk over standard input and output (the default and only transport)", C_LSP },
    { "-h, --help", "this help", 0 },
};

/* The command being run (NULL before one is known): usage errors point to
 * its --help. */
static const struct command *current;

/* One line, and where to read more: never the whole usage. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mig_usage_verror("migc", current ? current->name : NULL, fmt, ap);
    va_end(ap);
    return EXIT_USAGE;
}

static void print_usage(FILE *to)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(to, "%s migc %s\n", i ? "      " : "usage:", commands[i].usage);
    fputs("       migc --version | --help | COMMAND --help\n"
          "\n"
          "PATH is a .mig file or a directory searched recursively for *.mig files; without PATH,\n"
          "check, build and fmt read the migrations folders of mig.conf (found in the working\n"
          "directory or a parent; $MIG_CONFIG names another file).\n", to);
}

static void print_help(const struct command *c)
{
    printf("usage: migc %s\n\n%s\n\noptions:\n", c->usage, c->summary);
    for (size_t i = 0; i < sizeof(options) / sizeof(*options); i++)
        if (!options[i].bits || (options[i].bits & c->bit))
            printf("  %-26s %s\n", options[i].name, options[i].help);
    printf("\nSee migc(1) for the exit codes and mig.conf.\n");
}

/* ---- mig.conf ------------------------------------------------------------ */

static struct mig_conf conf;
static bool conf_loaded;

/* Reads mig.conf once; its [lint] rules are checked against the rule
 * table: only warnings can be disabled. 0, or a usage error. */
static int load_conf(void)
{
    if (conf_loaded)
        return 0;
    char err[512];
    if (mig_conf_load(&conf, err, sizeof(err)) != 0)
        return usage_error("%s", err);
    conf_loaded = true;     /* its [lint] ids were checked against the rule table as it was read */
    return 0;
}

/* mig.conf's [lint] applied to the diagnostics: the warnings of the rules
 * it disables dropped, those of the rules it lists under `error` made
 * errors. */
static void filter_disabled(struct mig_diags *d)
{
    size_t k = 0;
    for (size_t i = 0; i < d->v.n; i++) {
        struct mig_diag *x = &d->v.v[i];
        if (x->sev == MIG_WARNING && mig_conf_rule_disabled(&conf, x->rule)) {
            d->warnings--;
            continue;
        }
        if (x->sev == MIG_WARNING && mig_conf_rule_error(&conf, x->rule)) {
            x->sev = MIG_ERROR;
            d->warnings--;
            d->errors++;
        }
        d->v.v[k++] = *x;
    }
    d->v.n = k;
}

/* Without PATH: the migrations folders of mig.conf. Adds them to p; the
 * number added, or -1 after a usage error. */
static int add_conf_paths(struct mig_program *p, const char *what)
{
    if (load_conf() != 0)
        return -1;
    if (conf.nmigrations == 0) {
        usage_error("%s needs at least one PATH (or a mig.conf with migrations = FOLDER)", what);
        return -1;
    }
    char err[512];
    for (size_t i = 0; i < conf.nmigrations; i++)
        if (mig_program_add_path(p, conf.migrations[i], err, sizeof(err)) != 0) {
            fprintf(stderr, "migc: error: %s (named in %s)\n", err, conf.path);
            return -1;
        }
    return (int)conf.nmigrations;
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
    if (load_conf() != 0) {
        mig_program_free(p);
        return EXIT_USAGE;
    }
    if (npaths == 0 && (npaths = add_conf_paths(p, "check")) < 0) {
        mig_program_free(p);
        return EXIT_USAGE;
    }
    if (list_exec && strcmp(format, "text") != 0) {
        mig_program_free(p);
        return usage_error("--list-exec prints text on standard output: it cannot be combined with --format %s",
                           format);
    }
    p->lint_enable = (const char *const *)conf.lint_enable;
    mig_program_check(p);
    struct mig_diags *d = &p->diags;
    filter_disabled(d);
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


/* Compiles sources as load.c does, with the warnings mig.conf disables
 * left out; without paths, the migrations folders of mig.conf. NULL after
 * printing why (*usage: a usage error). */
static struct mig_plan *compile_sources(char **paths, int n, bool *usage)
{
    *usage = true;
    if (load_conf() != 0)
        return NULL;
    struct mig_program *p = mig_program_new();
    char msg[512];
    if (n == 0 && add_conf_paths(p, "build") < 0) {
        mig_program_free(p);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        size_t before = p->input_paths.n;
        if (mig_program_add_path(p, paths[i], msg, sizeof(msg)) != 0) {
            fprintf(stderr, "migc: error: %s\n", msg);
            mig_program_free(p);
            return NULL;
        }
        /* a folder without migrations is a mistyped path, not "nothing to do" */
        bool none = p->input_paths.n == before;
        if (none) {
            struct mig_program *alone = mig_program_new();
            none = mig_program_add_path(alone, paths[i], msg, sizeof(msg)) == 0 && alone->input_paths.n == 0;
            mig_program_free(alone);
        }
        if (none) {
            fprintf(stderr, "migc: error: no .mig files in '%s' (nor in its folders; hidden ones are skipped)\n",
                    paths[i]);
            mig_program_free(p);
            return NULL;
        }
    }
    *usage = false;
    p->lint_enable = (const char *const *)conf.lint_enable;
    mig_program_check(p);
    filter_disabled(&p->diags);
    unsigned errors = p->diags.errors;
    if (errors || p->diags.warnings)
        mig_diags_print_text(&p->diags, stderr, mig_use_color(stderr));
    if (errors) {
        fprintf(stderr, "migc: %u error%s: nothing was built\n", errors, errors == 1 ? "" : "s");
        mig_program_free(p);
        return NULL;
    }
    struct mig_plan *plan = mig_codegen(p);
    mig_program_free(p);
    if (mig_plan_verify(plan, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "migc: internal error: the compiled plan does not verify: %s\n", msg);
        mig_plan_free(plan);
        return NULL;
    }
    return plan;
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
    for (int i = 0; i < n; i++)
        if (mig_is_bytecode_path(paths[i])) {
            free(paths);
            return usage_error("'%s' is already bytecode", paths[i]);
        }
    bool usage = false;
    struct mig_plan *p = compile_sources(paths, n, &usage);
    free(paths);
    if (!p)
        return usage ? EXIT_USAGE : EXIT_ERRORS;
    size_t size = 0;
    unsigned char *buf = mig_plan_write(p, &size);
    mig_plan_free(p);
    int rc = mig_write_replacing(out, buf, size);
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
    } else if (mig_write_replacing(path, out, n) == 0) {
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
    if (n == 0 && add_conf_paths(paths, "fmt") < 0) {
        mig_program_free(paths);
        return EXIT_USAGE;
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

/* ---- new and init ---------------------------------------------------------- */

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_ident(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* Writes a new file (never one that exists). 0, or -1 after saying why. */
static int write_new(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "migc: error: cannot create '%s': %s\n", path,
                errno == EEXIST ? "it exists (not overwritten)" : strerror(errno));
        return -1;
    }
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        fprintf(stderr, "migc: error: cannot write '%s': %s\n", path, strerror(errno));
        unlink(path);
    }
    return ok ? 0 : -1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(struct mig_migration *const *)a)->name, (*(struct mig_migration *const *)b)->name);
}

/* migc new NAME: NAME.mig, after the heads of the project's migrations. */
static int cmd_new(int argc, char **argv)
{
    const char *name = NULL, *dir = NULL;
    bool opts = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts && strcmp(a, "--") == 0) {
            opts = false;
        } else if (opts && (strcmp(a, "--dir") == 0 || strncmp(a, "--dir=", 6) == 0)) {
            dir = a[5] == '=' ? a + 6 : i + 1 < argc ? argv[++i] : NULL;
            if (!dir || !*dir)
                return usage_error("--dir needs a folder");
        } else if (opts && a[0] == '-' && a[1]) {
            return usage_error("unknown option '%s'", a);
        } else if (name) {
            return usage_error("new takes one NAME ('%s' and '%s' given)", name, a);
        } else {
            name = a;
        }
    }
    if (!name)
        return usage_error("new needs the NAME of the migration");
    if (!is_ident(name))
        return usage_error("'%s' is not a migration name (letters, digits and _, not starting with a digit)", name);
    if (load_conf() != 0)
        return EXIT_USAGE;
    if (!dir)
        dir = conf.nmigrations ? conf.migrations[0] : is_dir("migrations") ? "migrations" : ".";
    if (!is_dir(dir)) {
        fprintf(stderr, "migc: error: '%s' is not a folder%s\n", dir,
                conf.nmigrations && dir == conf.migrations[0] ? " (named in mig.conf): create it first" : "");
        return EXIT_USAGE;
    }
    /* the project's migrations: mig.conf's folders and this one */
    struct mig_program *p = mig_program_new();
    char err[512];
    for (size_t i = 0; i <= conf.nmigrations; i++) {
        const char *d = i < conf.nmigrations ? conf.migrations[i] : dir;
        if (is_dir(d) && mig_program_add_path(p, d, err, sizeof(err)) != 0) {
            fprintf(stderr, "migc: error: %s\n", err);
            mig_program_free(p);
            return EXIT_USAGE;
        }
    }
    if (p->input_paths.n)
        mig_program_check(p);
    if (p->diags.fatal) {
        mig_diags_sort(&p->diags);
        mig_diags_print_text(&p->diags, stderr, mig_use_color(stderr));
        fprintf(stderr, "migc: error: fix the syntax errors first: without them the heads are not known\n");
        mig_program_free(p);
        return EXIT_ERRORS;
    }
    MIG_VEC(struct mig_migration *) all = { 0 }, heads = { 0 };
    for (size_t i = 0; i < p->files.n; i++)
        if (p->files.v[i]->is_input)
            for (size_t k = 0; k < p->files.v[i]->migrations.n; k++)
                MIG_PUSH(&p->arena, all, p->files.v[i]->migrations.v[k]);
    for (size_t i = 0; i < all.n; i++) {
        if (strcmp(all.v[i]->name, name) == 0) {
            fprintf(stderr, "migc: error: a migration '%s' exists already (%s:%u)\n", name,
                    all.v[i]->file->src->path, mig_span_line(p, all.v[i]->span));
            mig_program_free(p);
            return EXIT_USAGE;
        }
        bool followed = false;
        for (size_t j = 0; j < all.n && !followed; j++)
            for (size_t k = 0; k < all.v[j]->after.n && !followed; k++)
                followed = j != i && strcmp(all.v[j]->after.v[k].text, all.v[i]->name) == 0;
        if (!followed)
            MIG_PUSH(&p->arena, heads, all.v[i]);
    }
    if (heads.n > 1)
        qsort(heads.v, heads.n, sizeof(*heads.v), by_name);
    size_t cap = 512 + 3 * strlen(name);
    for (size_t i = 0; i < heads.n; i++)
        cap += strlen(heads.v[i]->name) + 2;
    char *text = malloc(cap), *path = malloc(strlen(dir) + strlen(name) + 8);
    if (!text || !path) {
        free(text);
        free(path);
        mig_program_free(p);
        fprintf(stderr, "migc: error: out of memory\n");
        return EXIT_ERRORS;
    }
    size_t o = (size_t)snprintf(text, cap, "# %s: what this migration changes, and why.\nmigration %s {\n", name, name);
    if (heads.n) {
        o += (size_t)snprintf(text + o, cap - o, "  after ");
        for (size_t i = 0; i < heads.n; i++)
            o += (size_t)snprintf(text + o, cap - o, "%s%s", i ? ", " : "", heads.v[i]->name);
        o += (size_t)snprintf(text + o, cap - o, ";\n\n");
    }
    snprintf(text + o, cap - o,
             "  phase schema {\n"
             "    step %s {\n"
             "      up sql {\n"
             "        -- the change\n"
             "      }\n"
             "      down sql {\n"
             "        -- how to undo it\n"
             "      }\n"
             "    }\n"
             "  }\n"
             "}\n", name);
    sprintf(path, "%s/%s.mig", dir, name);
    int rc = write_new(path, text);
    if (rc == 0) {
        printf("%s", path);
        for (size_t i = 0; i < heads.n; i++)
            printf("%s%s", i ? ", " : " (after ", heads.v[i]->name);
        printf("%s\n", heads.n ? ")" : " (the first migration)");
    }
    free(text);
    free(path);
    mig_program_free(p);
    return rc == 0 ? EXIT_CLEAN : EXIT_ERRORS;
}

static const char conf_template[] =
    "# mig.conf — the project file of migc and migrun (see migrun(1), FILES).\n"
    "# Paths are relative to this file. For every setting a command-line flag\n"
    "# wins over the environment (MIGRUN_DB, MIGRUN_JOURNAL), which wins over\n"
    "# this file. Comments start a line with # or ;.\n"
    "\n"
    "# where migc new writes, and what migc check/build/fmt and migrun\n"
    "# apply/plan/status read when no PATH is given (comma-separated)\n"
    "migrations = %s\n"
    "\n"
    "# the local undo log (default: .migrun/journal.db beside this file)\n"
    "# journal = .migrun/journal.db\n"
    "\n"
    "# the target of migrun without --db or --env (MIGRUN_DB wins over it)\n"
    "%s%s\n"
    "\n"
    "# migrun --env production. Keep passwords out of this file: name a\n"
    "# service of libpq's pg_service.conf, with the password in ~/.pgpass.\n"
    "# [env production]\n"
    "# db = service=myapp-production\n"
    "\n"
    "[lint]\n"
    "# rules of doc/rules.md, comma-separated: opt-in style rules to run, warnings\n"
    "# not to report, warnings to report as errors\n"
    "# enable = prefer-bigint, prefer-timestamptz\n"
    "# disable = rename, destructive\n"
    "# error = set-not-null, volatile-default\n";

/* migc init: mig.conf and a migrations folder, here; nothing overwritten. */
static int cmd_init(int argc, char **argv)
{
    const char *db = NULL, *dir = "migrations";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--db") == 0 || strncmp(a, "--db=", 5) == 0) {
            db = a[4] == '=' ? a + 5 : i + 1 < argc ? argv[++i] : NULL;
            if (!db || !*db)
                return usage_error("--db needs a URL");
        } else if (strcmp(a, "--migrations") == 0 || strncmp(a, "--migrations=", 13) == 0) {
            dir = a[12] == '=' ? a + 13 : i + 1 < argc ? argv[++i] : NULL;
            if (!dir || !*dir || strpbrk(dir, ",\n"))
                return usage_error("--migrations needs a folder name (without commas)");
        } else if (a[0] == '-') {
            return usage_error("unknown option '%s'", a);
        } else {
            return usage_error("unexpected argument '%s' (init writes into the working directory)", a);
        }
    }
    if (db) {
        if (mig_url_dialect(db) == MIG_D_ANY)
            return usage_error("unsupported database URL (expected sqlite:PATH, sqlite:///ABS/PATH, postgres://…, "
                               "postgresql://… or service=NAME)");
        char *masked = mig_mask_url_raw(db);
        bool secret = !masked || strcmp(masked, db) != 0;
        free(masked);
        if (secret)
            return usage_error("--db carries a password: mig.conf is no place for it; use service=NAME with "
                               "pg_service.conf and ~/.pgpass, or PGPASSWORD");
    }
    struct stat st;
    if (lstat(MIG_CONF_NAME, &st) == 0) {
        fprintf(stderr, "migc: error: %s exists here: not overwritten\n", MIG_CONF_NAME);
        return EXIT_ERRORS;
    }
    if (lstat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "migc: error: '%s' exists and is not a folder\n", dir);
        return EXIT_ERRORS;
    }
    size_t cap = sizeof(conf_template) + strlen(dir) + (db ? strlen(db) : 32) + 16;
    char *text = malloc(cap);
    if (!text) {
        fprintf(stderr, "migc: error: out of memory\n");
        return EXIT_ERRORS;
    }
    snprintf(text, cap, conf_template, dir, db ? "db = " : "# db = sqlite:dev.db", db ? db : "");
    bool made = false;
    if (!is_dir(dir)) {
        if (mkdir(dir, 0777) != 0) {
            fprintf(stderr, "migc: error: cannot create '%s': %s\n", dir, strerror(errno));
            free(text);
            return EXIT_ERRORS;
        }
        made = true;
    }
    int rc = write_new(MIG_CONF_NAME, text);
    free(text);
    if (rc != 0) {
        if (made)
            rmdir(dir);
        return EXIT_ERRORS;
    }
    printf("wrote %s; %s %s/ (next: migc new NAME)\n", MIG_CONF_NAME, made ? "created" : "kept", dir);
    return EXIT_CLEAN;
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage_error("missing command (check, build, disasm, fmt, import, new, init, lsp)");
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        print_usage(stdout);
        return EXIT_CLEAN;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("migc (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
        return EXIT_CLEAN;
    }
    int rc = -1;
    for (size_t i = 0; i < NCOMMANDS && rc < 0; i++) {
        if (strcmp(commands[i].name, cmd) != 0)
            continue;
        current = &commands[i];
        rc = -2;
        for (int k = 2; k < argc && strcmp(argv[k], "--") != 0; k++)
            if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
                print_help(current);
                rc = EXIT_CLEAN;
                break;
            }
        if (rc == -2)
            rc = commands[i].fn(argc - 1, argv + 1);
    }
    if (rc == -1) {
        if (cmd[0] == '-')
            rc = usage_error("give a command first (check, build, disasm, fmt, import, new, init, lsp), then '%s'", cmd);
        else
            rc = usage_error("unknown command '%s' (the commands: check, build, disasm, fmt, import, new, init, lsp)",
                             cmd);
    }
    if (conf_loaded)
        mig_conf_free(&conf);
    return rc;
}
