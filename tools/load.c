/* load.c — PATH arguments to a plan (see load.h). */
#include "load.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config.h"
#include "compiler/codegen.h"
#include "compiler/compiler.h"

/* Writes data to path through a file beside it and a rename, so that a
 * failure never leaves half a file. 0, or -1 after saying why. */
int mig_write_replacing(const char *path, const void *data, size_t n)
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

void mig_usage_verror(const char *prog, const char *cmd, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s%s%s: error: ", prog, cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see: %s %s%s--help)\n", prog, cmd ? cmd : "", cmd ? " " : "");
}

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

/* The plan of an open .migb file, read a window at a time (its bytes are
 * never all in memory beside its tables: runtime/plan.c). */
static struct mig_plan *load_open(FILE *f, char *msg, size_t n)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        snprintf(msg, n, "%s", strerror(errno));
        return NULL;
    }
    return mig_plan_load_file(f, (size_t)st.st_size, msg, n);
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
    char msg[512];
    struct mig_plan *p = load_open(f, msg, sizeof(msg));
    if (!p && ferror(f))
        snprintf(msg, sizeof(msg), "cannot read it: %s", strerror(errno));
    fclose(f);
    if (!p)
        fprintf(err, "%s: error: %s: %s\n", prog, path, msg);
    return p;
}

/* ---- the compile cache ------------------------------------------------------------------
 * Compiling a thousand sources dominates the start of `migrun status` and
 * `apply`. When the folder .migrun/cache exists (migrun never creates it:
 * plan and status write nothing unless asked to), a clean compilation (no
 * diagnostic at all, no file imported besides the inputs and the standard
 * library) is kept there as bytecode, named by the SHA-256 of the compiler
 * (its version and the identity of the running executable) and of every
 * input's path and bytes; written to a temporary file and renamed, so a
 * reader sees a whole file or none. An entry that does not load and verify
 * (corrupt, truncated, another format) is ignored and compiled again. */

#define CACHE_DIR ".migrun/cache"
#define CACHE_KEEP 8    /* entries kept: the oldest others go when one is added */

struct cbuf {
    unsigned char *p;
    size_t n, cap;
};

static bool cput(struct cbuf *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2 + 4096;
        unsigned char *np = realloc(b->p, cap);
        if (!np)
            return false;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    return true;
}

/* Appends an input of the cache key: its path, its size and its bytes;
 * false when it cannot be read whole. One open, fstat, read and close per
 * input (a thousand sources are hashed at every status). */
static bool cput_input(struct cbuf *b, const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    char len[64];
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    int ln = snprintf(len, sizeof(len), "\n%lld\n", ok ? (long long)st.st_size : 0LL);
    ok = ok && cput(b, path, strlen(path) + 1) && cput(b, len, (size_t)ln);
    size_t want = ok ? (size_t)st.st_size : 0, got = 0;
    /* room for a byte more than the size: a file that grew since says so */
    if (ok && b->n + want + 1 > b->cap) {
        size_t cap = (b->n + want + 1) * 2 + 4096;
        unsigned char *np = realloc(b->p, cap);
        ok = np != NULL;
        if (np) {
            b->p = np;
            b->cap = cap;
        }
    }
    while (ok) {
        ssize_t r = read(fd, b->p + b->n + got, want + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || (got += (size_t)r) > want)
            ok = false;
        /* a regular file reads short only at its end */
        if (r <= 0 || got == want)
            break;
    }
    close(fd);
    ok = ok && got == want;
    if (ok)
        b->n += want;
    return ok;
}

/* The cache entry's path for the program's inputs (hex SHA-256), or false
 * when there is no cache folder or an input cannot be read. */
static bool cache_path(struct mig_program *pr, char *out, size_t n)
{
    struct stat st, ex;
    if (pr->input_texts.n || stat(CACHE_DIR, &st) != 0 || !S_ISDIR(st.st_mode))
        return false;
    struct cbuf b = { 0 };
    char head[256];
    memset(&ex, 0, sizeof(ex));
    stat("/proc/self/exe", &ex);
    int hn = snprintf(head, sizeof(head), "mig compile cache 1\n%s\n%llu %llu %lld %lld.%09ld\n", PACKAGE_VERSION,
                      (unsigned long long)ex.st_dev, (unsigned long long)ex.st_ino, (long long)ex.st_size,
                      (long long)ex.st_mtim.tv_sec, ex.st_mtim.tv_nsec);
    bool ok = cput(&b, head, (size_t)hn);
    for (size_t i = 0; ok && i < pr->input_paths.n; i++)
        ok = cput_input(&b, pr->input_paths.v[i]);
    uint8_t sum[32];
    if (ok)
        mig_sha256(b.p, b.n, sum);
    free(b.p);
    if (!ok)
        return false;
    static const char hex[] = "0123456789abcdef";
    char h[65];
    for (int i = 0; i < 32; i++) {
        h[2 * i] = hex[sum[i] >> 4];
        h[2 * i + 1] = hex[sum[i] & 15];
    }
    h[64] = 0;
    return snprintf(out, n, "%s/%s.migb", CACHE_DIR, h) < (int)n;
}

static struct mig_plan *cache_load(const char *path)
{
    FILE *f = open_regular(path, NULL);
    if (!f)
        return NULL;
    char msg[512];
    /* (the loader verifies the plan it loads) */
    struct mig_plan *p = load_open(f, msg, sizeof(msg));
    fclose(f);
    return p;
}

/* Whether every source the program read is an input or the standard library. */
static bool only_inputs(struct mig_program *pr)
{
    size_t files = 0;
    for (size_t i = 0; i < pr->sources.v.n; i++)
        if (pr->sources.v.v[i]->path[0] != '<')
            files++;
    return files == pr->input_paths.n;
}

static void cache_store(const char *path, const struct mig_plan *p)
{
    size_t size = 0;
    unsigned char *bytes = mig_plan_write(p, &size);
    if (!bytes)
        return;
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    bool ok = fd >= 0;
    for (size_t off = 0; ok && off < size;) {
        ssize_t w = write(fd, bytes + off, size - off);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        off += ok ? (size_t)w : 0;
    }
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0)
        unlink(tmp);
    free(bytes);
    /* an edit makes a new entry: only the CACHE_KEEP newest stay */
    for (;;) {
        DIR *d = opendir(CACHE_DIR);
        if (!d)
            return;
        struct dirent *de;
        char oldest[4200] = "";
        struct timespec when = { 0, 0 };
        int n = 0;
        while ((de = readdir(d)) != NULL) {
            size_t len = strlen(de->d_name);
            struct stat st;
            char ep[4200];
            if (len != 69 || strcmp(de->d_name + 64, ".migb") != 0)
                continue;
            snprintf(ep, sizeof(ep), "%s/%s", CACHE_DIR, de->d_name);
            if (stat(ep, &st) != 0)
                continue;
            n++;
            if (!oldest[0] || st.st_mtim.tv_sec < when.tv_sec ||
                (st.st_mtim.tv_sec == when.tv_sec && st.st_mtim.tv_nsec < when.tv_nsec)) {
                memcpy(oldest, ep, sizeof(ep));
                when = st.st_mtim;
            }
        }
        closedir(d);
        if (n <= CACHE_KEEP || unlink(oldest) != 0)
            return;
    }
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
    char cpath[4096];
    bool cacheable = cache_path(prog_, cpath, sizeof(cpath));
    if (cacheable) {
        struct mig_plan *hit = cache_load(cpath);
        if (hit) {
            mig_program_free(prog_);
            return hit;
        }
    }
    unsigned errors = mig_program_check(prog_);
    cacheable = cacheable && errors == 0 && prog_->diags.v.n == 0 && only_inputs(prog_);
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
    if (cacheable)
        cache_store(cpath, p);
    return p;
}
