/* load.c — PATH arguments to a plan (see load.h). */
#include "load.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "compiler/codegen.h"
#include "compiler/compiler.h"

bool mig_use_color(FILE *f)
{
    const char *nc = getenv("NO_COLOR");
    return !(nc && *nc) && isatty(fileno(f));
}

/* Opens a regular file for reading, or NULL with *why (when why is not
 * NULL) saying why: a FIFO is not waited on, a device (/dev/zero) is not
 * read forever. */
static FILE *open_regular(const char *path, const char **why)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    const char *w = NULL;
    if (fd < 0 || fstat(fd, &st) != 0)
        w = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        w = S_ISDIR(st.st_mode) ? "it is a directory, not a file" : "it is not a regular file";
    FILE *f = w ? NULL : fdopen(fd, "rb");
    if (!f) {
        if (!w)
            w = strerror(errno);
        if (fd >= 0)
            close(fd);
    }
    if (why)
        *why = w;
    return f;
}

bool mig_is_bytecode_path(const char *path)
{
    size_t n = strlen(path);
    if (n > 5 && strcmp(path + n - 5, ".migb") == 0)
        return true;
    FILE *f = open_regular(path, NULL);
    char magic[4] = { 0 };
    bool yes = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "MIGB", 4) == 0;
    if (f)
        fclose(f);
    return yes;
}

static struct mig_plan *load_bytecode(const char *prog, const char *path, FILE *err, bool *usage)
{
    const char *why = NULL;
    FILE *f = open_regular(path, &why);
    if (!f) {
        fprintf(err, "%s: error: cannot open '%s': %s\n", prog, path, why);
        *usage = true;
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    bool rerr = ferror(f);
    fclose(f);
    if (!buf || rerr) {
        fprintf(err, "%s: error: cannot read '%s'\n", prog, path);
        free(buf);
        return NULL;
    }
    char msg[512];
    struct mig_plan *p = mig_plan_load(buf, n, msg, sizeof(msg));
    free(buf);
    if (!p)
        fprintf(err, "%s: error: %s: %s\n", prog, path, msg);
    return p;
}

struct mig_plan *mig_load_inputs(const char *prog, char **paths, int n, FILE *err, bool color, bool *usage)
{
    return mig_load_inputs_lint(prog, paths, n, err, color, usage, true);
}

struct mig_plan *mig_load_inputs_lint(const char *prog, char **paths, int n, FILE *err, bool color, bool *usage,
                                      bool lint)
{
    *usage = false;
    if (n == 1 && mig_is_bytecode_path(paths[0]))
        return load_bytecode(prog, paths[0], err, usage);
    for (int i = 0; i < n; i++)
        if (mig_is_bytecode_path(paths[i])) {
            fprintf(err, "%s: error: '%s' is bytecode: give one .migb file, or .mig sources, not both\n", prog,
                    paths[i]);
            *usage = true;
            return NULL;
        }
    struct mig_program *prog_ = mig_program_new();
    char msg[512];
    for (int i = 0; i < n; i++) {
        size_t before = prog_->input_paths.n;
        if (mig_program_add_path(prog_, paths[i], msg, sizeof(msg)) != 0) {
            fprintf(err, "%s: error: %s\n", prog, msg);
            mig_program_free(prog_);
            *usage = true;
            return NULL;
        }
        /* a folder without migrations is a mistyped or wrong path, not
         * "nothing to do" (one walked already, inside an earlier PATH, is
         * walked again on its own to tell) */
        bool none = prog_->input_paths.n == before;
        if (none) {
            struct mig_program *alone = mig_program_new();
            none = mig_program_add_path(alone, paths[i], msg, sizeof(msg)) == 0 && alone->input_paths.n == 0;
            mig_program_free(alone);
        }
        if (none) {
            fprintf(err, "%s: error: no .mig files in '%s' (nor in its folders; hidden ones are skipped)\n", prog,
                    paths[i]);
            mig_program_free(prog_);
            *usage = true;
            return NULL;
        }
    }
    unsigned errors = mig_program_check(prog_);
    if (!lint) {    /* errors always; warnings only with --lint */
        size_t k = 0;
        for (size_t i = 0; i < prog_->diags.v.n; i++)
            if (prog_->diags.v.v[i].sev == MIG_ERROR)
                prog_->diags.v.v[k++] = prog_->diags.v.v[i];
        prog_->diags.v.n = k;
        prog_->diags.warnings = 0;
    }
    if (errors || prog_->diags.warnings)
        mig_diags_print_text(&prog_->diags, err, color);
    if (errors) {
        fprintf(err, "%s: %u error%s: nothing was run\n", prog, errors, errors == 1 ? "" : "s");
        mig_program_free(prog_);
        return NULL;
    }
    struct mig_plan *p = mig_codegen(prog_);
    mig_program_free(prog_);
    if (mig_plan_verify(p, msg, sizeof(msg)) != 0) {
        fprintf(err, "%s: internal error: the compiled plan does not verify: %s\n", prog, msg);
        mig_plan_free(p);
        return NULL;
    }
    return p;
}
