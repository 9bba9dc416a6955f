/* fleet.c — one migrun command over many targets (see fleet.h and FLEETS
 * in doc/migrun.1). */
#include "fleet.h"
#include "driver.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum tstate { T_WAITING, T_RUNNING, T_DONE, T_NOT_RUN };

/* What a worker's pipe has delivered and not yet ended with a newline. */
struct linebuf {
    int fd;                 /* -1: closed */
    char *buf;
    size_t n, cap;
};

struct target {
    char *url;              /* as written (may carry a password: never printed) */
    char *schema;           /* URL#schema, a schema row of --targets-query, or NULL */
    char *display;          /* the masked URL, #schema */
    char *journal;
    char where[64];         /* "line N" or "row N" */
    enum tstate state;
    pid_t pid;
    struct linebuf out, err;
    int64_t t0, ms;
    int rc;
    bool killed, resumed;
    /* from the worker's events */
    int64_t applied, skipped, undone, would, pending, drifted;
    char *error;            /* the first error */
};

enum stop { STOP_NONE, STOP_FAILURE, STOP_CANARY, STOP_SIGNAL };

struct fleet {
    const struct mig_command *cmd;
    struct mig_plan *plan;
    const struct mig_run_opts *o;
    struct target *t;
    size_t n, cap;
    size_t finished;
    enum stop stop;
    size_t stopped_by;      /* the target whose failure stopped the fleet */
    FILE *out, *err;
};

static volatile sig_atomic_t got_signals, last_signal;

static void on_signal(int sig)
{
    got_signals++;
    last_signal = sig;
}

static const char *signame(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- the targets ------------------------------------------------------------------------ */

static uint64_t fnv64(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

char *mig_fleet_journal(const char *journal, const char *display)
{
    size_t jl = strlen(journal);
    if (jl > 3 && strcmp(journal + jl - 3, ".db") == 0)
        jl -= 3;
    /* a readable tail of the target (database, schema) and a hash of all of it */
    const char *from = strstr(display, "://");
    from = from ? from + 3 : display;
    char slug[48];
    size_t k = 0, len = strlen(from);
    const char *tail = len > sizeof(slug) - 1 ? from + len - (sizeof(slug) - 1) : from;
    for (const char *c = tail; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
                  *c == '_' || *c == '.';
        if (!ok && k && slug[k - 1] == '_')
            continue;
        slug[k++] = ok ? *c : '_';
    }
    while (k && (slug[k - 1] == '_' || slug[k - 1] == '.'))
        k--;
    slug[k] = 0;
    size_t n = jl + sizeof(slug) + 48;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%.*s.fleet/%s%s%016" PRIx64 ".db", (int)jl, journal, slug, k ? "-" : "", fnv64(display));
    return p;
}

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

static bool plain_name(const char *s)
{
    if (!*s)
        return false;
    for (const char *c = s; *c; c++)
        if (*c == '/' || *c == ':' || *c == '=' || *c == '#' || *c == ' ' || *c == '\t')
            return false;
    return true;
}

/* Adds one target: spec is a URL, URL#schema, a SQLite path (a file's
 * line), or (a row of --targets-query) a schema name of the control
 * database. where says where it was read ("line 3", "row 3"). */
static int add_target(struct fleet *f, const char *src, const char *spec, const char *where, bool row, char *err,
                      size_t errlen)
{
    char *url = NULL, *schema = NULL;
    const char *hash = strrchr(spec, '#');
    if (row && plain_name(spec)) {
        url = strdup(f->o->db_url);
        schema = strdup(spec);
    } else {
        size_t ul = hash ? (size_t)(hash - spec) : strlen(spec);
        if (hash && !hash[1])
            return fail(err, errlen, "%s, %s: '#' with no schema after it (URL#schema)", src, where);
        url = strndup(spec, ul);
        schema = hash ? strdup(hash + 1) : NULL;
        if (url && !mig_driver_for(url) && !strstr(url, "://") && !strchr(url, '=')) {
            char *s = malloc(ul + 8);     /* a path: a SQLite file */
            if (s)
                sprintf(s, "sqlite:%s", url);
            free(url);
            url = s;
        }
    }
    if (!url || (hash && !schema))
        return fail(err, errlen, "out of memory");
    int rc = -1;
    char *masked = mig_mask_url(url);
    const struct mig_driver *d = mig_driver_for(url);
    if (!*url || !d) {
        fail(err, errlen, "%s, %s: unsupported database URL '%s' (expected sqlite:PATH, a path, postgresql://…, "
             "service=NAME, each optionally #schema)", src, where, masked ? masked : "");
        goto out;
    }
    if (mig_url_inspect(url) & MIG_URL_MISREAD) {
        fail(err, errlen, "%s, %s: the database URL '%s' does not say what it seems to: libpq reads the password only "
             "up to a '/' or '@' in it; percent-encode them (%%2F, %%40)", src, where, masked ? masked : "");
        goto out;
    }
    if (schema && d == &mig_driver_sqlite) {
        fail(err, errlen, "%s, %s: %s#%s: a SQLite file has one schema (#schema applies to PostgreSQL)", src, where,
             masked ? masked : "", schema);
        goto out;
    }
    if (!schema && d != &mig_driver_sqlite && f->o->schema)
        schema = strdup(f->o->schema);      /* --schema (or mig.conf's): every target without its own */
    size_t dl = strlen(masked ? masked : "") + (schema ? strlen(schema) + 2 : 1);
    char *display = malloc(dl);
    if (!display) {
        fail(err, errlen, "out of memory");
        goto out;
    }
    snprintf(display, dl, "%s%s%s", masked ? masked : "", schema ? "#" : "", schema ? schema : "");
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->t[i].display, display) == 0) {
            fail(err, errlen, "%s, %s: the target %s is already on %s (each target once)", src, where, display,
                 f->t[i].where);
            free(display);
            goto out;
        }
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 64;
        struct target *nt = realloc(f->t, nc * sizeof(*nt));
        if (!nt) {
            free(display);
            fail(err, errlen, "out of memory");
            goto out;
        }
        f->t = nt;
        f->cap = nc;
    }
    struct target *t = &f->t[f->n++];
    memset(t, 0, sizeof(*t));
    t->url = url;
    t->schema = schema;
    t->display = display;
    t->journal = mig_fleet_journal(f->o->journal, display);
    t->out.fd = t->err.fd = -1;
    snprintf(t->where, sizeof(t->where), "%s", where);
    url = schema = NULL;
    rc = 0;
out:
    free(masked);
    free(url);
    free(schema);
    return rc;
}

static int read_file(struct fleet *f, const char *path, char *err, size_t errlen)
{
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!in)
        return fail(err, errlen, "--targets %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0, lineno = 0;
    while (rc == 0 && (len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        /* a comment: '#' first on the line, or after a blank; URL#schema has none before its '#' */
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '#')
            continue;
        for (char *c = s; *c; c++)
            if (*c == '#' && c > s && (c[-1] == ' ' || c[-1] == '\t')) {
                *c = 0;
                break;
            }
        size_t l = strlen(s);
        while (l && (s[l - 1] == '\n' || s[l - 1] == '\r' || s[l - 1] == ' ' || s[l - 1] == '\t'))
            s[--l] = 0;
        if (!l)
            continue;
        char where[32];
        snprintf(where, sizeof(where), "line %d", lineno);
        rc = add_target(f, path, s, where, false, err, errlen);
    }
    free(line);
    if (in != stdin)
        fclose(in);
    if (rc == 0 && f->n == 0)
        return fail(err, errlen, "--targets %s names no target (one URL, URL#schema or SQLite path a line)", path);
    return rc;
}

struct qrows {
    struct fleet *f;
    int row;
    char *err;
    size_t errlen;
    int rc;
};

static int query_row(void *ctx, int ncols, const char *const *vals)
{
    struct qrows *q = ctx;
    q->row++;
    if (ncols != 1) {
        q->rc = fail(q->err, q->errlen, "--targets-query returns %d columns; it must return one (a URL, URL#schema "
                     "or a schema name of --db a row)", ncols);
        return 1;
    }
    char where[32];
    snprintf(where, sizeof(where), "row %d", q->row);
    if (!vals[0] || !*vals[0]) {
        q->rc = fail(q->err, q->errlen, "--targets-query, %s: NULL or empty (each row names a target)", where);
        return 1;
    }
    q->rc = add_target(q->f, "--targets-query", vals[0], where, true, q->err, q->errlen);
    return q->rc != 0;
}

/* Runs --targets-query on the control database. An exit code. */
static int read_query(struct fleet *f, char *err, size_t errlen)
{
    struct mig_open_opts oo = { f->o->lock_wait_ms, NULL, true, true };
    struct mig_conn *c = NULL;
    bool usage = false;
    char cerr[1024];
    if (mig_connect(f->o->db_url, &oo, &c, cerr, sizeof(cerr), &usage) != 0) {
        fail(err, errlen, "the control database of --targets-query: %s", cerr);
        return usage ? MIG_EXIT_USAGE : MIG_EXIT_REFUSED;
    }
    struct qrows q = { f, 0, err, errlen, 0 };
    struct mig_dberr e;
    memset(&e, 0, sizeof(e));
    int rc = c->drv->select(c, f->o->targets_query, query_row, &q, &e);
    char *display = strdup(c->display);
    mig_disconnect(c);
    if (q.rc != 0) {
        free(display);
        return MIG_EXIT_USAGE;
    }
    if (rc != 0) {
        fail(err, errlen, "--targets-query on %s: %s%s%s%s", display ? display : "", e.message,
             e.sqlstate[0] ? " (SQLSTATE " : "", e.sqlstate, e.sqlstate[0] ? ")" : "");
        free(display);
        return MIG_EXIT_REFUSED;
    }
    free(display);
    return 0;
}

/* ---- workers ---------------------------------------------------------------------------- */

/* The child: the command on one target, its events on stdout (a pipe to
 * the parent), its errors on stderr (another). Never returns. */
static void worker(struct fleet *f, struct target *t, int outfd, int errfd, pid_t parent)
{
    /* the parent's death (even SIGKILL) stops the worker as SIGTERM does a
     * migrun: it undoes its run */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(MIG_EXIT_FAILED);
    /* a process group of its own: a terminal's ^C reaches the parent only,
     * which passes each signal on once (a second one stops an undo) */
    setpgid(0, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < f->n; i++) {
        if (f->t[i].out.fd >= 0)
            close(f->t[i].out.fd);
        if (f->t[i].err.fd >= 0)
            close(f->t[i].err.fd);
    }
    if (dup2(outfd, STDOUT_FILENO) < 0 || dup2(errfd, STDERR_FILENO) < 0)
        _exit(MIG_EXIT_FAILED);
    close(outfd);
    close(errfd);
    setvbuf(stdout, NULL, _IOLBF, 0);   /* each event reaches the parent as it happens */
    struct mig_run_opts o = *f->o;
    o.db_url = t->url;
    o.schema = t->schema;
    o.journal = t->journal;
    o.json = true;
    o.color = false;
    o.quiet = false;
    o.out = stdout;
    o.err = stderr;
    o.targets = o.targets_query = NULL;
    int rc = f->cmd->run(f->plan, &o);
    fflush(stdout);
    fflush(stderr);
    _exit(rc);
}

static int launch(struct fleet *f, size_t i)
{
    struct target *t = &f->t[i];
    int po[2], pe[2];
    if (pipe(po) != 0)
        return -1;
    if (pipe(pe) != 0) {
        close(po[0]);
        close(po[1]);
        return -1;
    }
    fflush(f->out);
    fflush(f->err);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(po[0]);
        close(po[1]);
        close(pe[0]);
        close(pe[1]);
        return -1;
    }
    if (pid == 0) {
        close(po[0]);
        close(pe[0]);
        worker(f, t, po[1], pe[1], parent);
    }
    close(po[1]);
    close(pe[1]);
    fcntl(po[0], F_SETFD, FD_CLOEXEC);
    fcntl(pe[0], F_SETFD, FD_CLOEXEC);
    setpgid(pid, pid);      /* (also in the child: whichever runs first) */
    t->pid = pid;
    t->out.fd = po[0];
    t->err.fd = pe[0];
    t->state = T_RUNNING;
    t->t0 = now_ms();
    return 0;
}

/* ---- what workers say ------------------------------------------------------------------- */

static int64_t geti(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* One line of a worker's stdout: an event (counted, and with --json
 * forwarded with its target), or a raw line. */
static void on_out_line(struct fleet *f, struct target *t, const char *line)
{
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        if (f->o->json) {
            json_t *e = json_pack("{s:s,s:s,s:s}", "event", "output", "target", t->display, "line", line);
            char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
            if (s)
                fprintf(f->out, "%s\n", s);
            free(s);
            json_decref(e);
        } else if (!f->o->quiet) {
            fprintf(f->out, "%s: %s\n", t->display, line);
        }
        return;
    }
    const char *ev = json_string_value(json_object_get(o, "event"));
    const char *msg = json_string_value(json_object_get(o, "message"));
    ev = ev ? ev : "";
    if (strcmp(ev, "done") == 0) {
        t->applied = geti(o, "applied");
        t->skipped = geti(o, "skipped");
        t->undone = geti(o, "undone");
    } else if (strcmp(ev, "step") == 0) {
        const char *oc = json_string_value(json_object_get(o, "outcome"));
        t->would += oc && strcmp(oc, "would apply") == 0;
    } else if (strcmp(ev, "migration") == 0) {
        const char *st = json_string_value(json_object_get(o, "status"));
        if (st && strcmp(st, "applied") != 0)
            t->pending++;
        t->drifted += st && strcmp(st, "drifted") == 0;
    } else if (strcmp(ev, "error") == 0 && msg && !t->error) {
        t->error = strdup(msg);
    } else if ((strcmp(ev, "warning") == 0 || strcmp(ev, "note") == 0) && msg &&
               (strncmp(msg, "an earlier run ", 15) == 0 || strstr(msg, "is recorded as running"))) {
        t->resumed = true;
    }
    /* A worker's notes reach only its stdout (its warnings and errors also
     * go to its stderr, printed with the target): in text mode each is
     * printed with its target too, but those its target line says already. */
    if (!f->o->json && !f->o->quiet && strcmp(ev, "note") == 0 && msg) {
        static const char *const routine[] = { "applying ", "nothing to do: ", "plan: ", "rolling back ",
                                                "nothing to roll back: ", NULL };
        bool said = false;
        for (const char *const *r = routine; *r && !said; r++)
            said = strncmp(msg, *r, strlen(*r)) == 0;
        if (!said)
            fprintf(f->out, "%s: %s\n", t->display, msg);
    }
    if (f->o->json) {
        /* the same event, its target second */
        json_t *e = json_object();
        json_object_set(e, "event", json_object_get(o, "event"));
        json_object_set_new(e, "target", json_string(t->display));
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v)
            if (strcmp(k, "event") != 0 && strcmp(k, "target") != 0)
                json_object_set(e, k, v);
        char *s = json_dumps(e, JSON_COMPACT);
        if (s)
            fprintf(f->out, "%s\n", s);
        free(s);
        json_decref(e);
    }
    json_decref(o);
}

static void on_err_line(struct fleet *f, struct target *t, const char *line)
{
    fflush(f->out);
    fprintf(f->err, "%s: %s\n", t->display, line);
    fflush(f->err);
}

/* Reads what fd has (all of it when drain, without waiting); 0 at the end
 * of the pipe. */
static int pump(struct fleet *f, struct target *t, struct linebuf *b, bool is_err, bool drain)
{
    if (b->fd < 0)
        return 0;
    if (drain)
        fcntl(b->fd, F_SETFL, fcntl(b->fd, F_GETFL) | O_NONBLOCK);
    for (;;) {
        if (b->cap - b->n < 4096) {
            size_t nc = b->cap ? b->cap * 2 : 8192;
            char *nb = realloc(b->buf, nc);
            if (!nb)
                abort();
            b->buf = nb;
            b->cap = nc;
        }
        ssize_t r = read(b->fd, b->buf + b->n, b->cap - b->n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        bool end = r == 0 || (r < 0 && errno != EAGAIN);
        if (r > 0)
            b->n += (size_t)r;
        /* every complete line; at the end, the rest too */
        size_t start = 0;
        for (size_t i = 0; i < b->n; i++)
            if (b->buf[i] == '\n') {
                b->buf[i] = 0;
                (is_err ? on_err_line : on_out_line)(f, t, b->buf + start);
                start = i + 1;
            }
        memmove(b->buf, b->buf + start, b->n - start);
        b->n -= start;
        if (end || r < 0) {
            if (end) {
                if (b->n) {
                    b->buf[b->n] = 0;
                    (is_err ? on_err_line : on_out_line)(f, t, b->buf);
                    b->n = 0;
                }
                close(b->fd);
                b->fd = -1;
                return 0;
            }
            return 1;   /* EAGAIN: nothing more now */
        }
        if (!drain)
            return 1;
    }
}

/* ---- results ---------------------------------------------------------------------------- */

static bool is_apply(const struct fleet *f)
{
    return strcmp(f->cmd->name, "apply") == 0;
}

/* A target's result in a word or two. */
static const char *result(const struct fleet *f, const struct target *t)
{
    if (t->state == T_NOT_RUN || t->state == T_WAITING)
        return "not run";
    if (t->killed)
        return "killed";
    switch (t->rc) {
    case MIG_EXIT_OK:
        if (is_apply(f))
            return t->applied ? "applied" : "up to date";
        if (strcmp(f->cmd->name, "rollback") == 0)
            return t->undone ? "rolled back" : "nothing to undo";
        if (strcmp(f->cmd->name, "plan") == 0)
            return t->would ? "would apply" : "up to date";
        return t->drifted ? "drifted" : t->pending ? "pending" : "up to date";
    case MIG_EXIT_FAILED: return "failed";
    case MIG_EXIT_USAGE: return "error";
    case MIG_EXIT_REFUSED: return "refused";
    case MIG_EXIT_DIRTY: return "not undone";
    default: return "failed";
    }
}

static int64_t steps(const struct fleet *f, const struct target *t)
{
    if (is_apply(f))
        return t->applied;
    if (strcmp(f->cmd->name, "rollback") == 0)
        return t->undone;
    if (strcmp(f->cmd->name, "plan") == 0)
        return t->would;
    return t->pending;
}

/* 4 > 1 > 3 > 2 > 0 */
static int worse(int a, int b)
{
    static const int rank[] = { 0, 3, 1, 2, 4 };
    int ra = a >= 0 && a <= 4 ? rank[a] : 3, rb = b >= 0 && b <= 4 ? rank[b] : 3;
    return ra >= rb ? a : b;
}

static void finish_target(struct fleet *f, struct target *t, int status)
{
    pump(f, t, &t->out, false, true);
    pump(f, t, &t->err, true, true);
    /* (a command the worker started may still hold a pipe: the worker is
     * gone, what it wrote has been read) */
    struct linebuf *bs[2] = { &t->out, &t->err };
    for (int k = 0; k < 2; k++)
        if (bs[k]->fd >= 0) {
            if (bs[k]->n) {
                bs[k]->buf[bs[k]->n] = 0;
                (k ? on_err_line : on_out_line)(f, t, bs[k]->buf);
                bs[k]->n = 0;
            }
            close(bs[k]->fd);
            bs[k]->fd = -1;
        }
    for (int k = 0; k < 2; k++) {   /* (a fleet of thousands keeps no buffer per finished target) */
        free(bs[k]->buf);
        bs[k]->buf = NULL;
        bs[k]->n = bs[k]->cap = 0;
    }
    t->state = T_DONE;
    t->ms = now_ms() - t->t0;
    if (WIFEXITED(status)) {
        t->rc = WEXITSTATUS(status);
    } else {
        t->killed = true;
        t->rc = MIG_EXIT_DIRTY;     /* it cannot tell what stayed: re-running resumes it */
        if (!t->error) {
            char m[160];
            snprintf(m, sizeof(m), "the worker was killed by signal %d; what it had committed stays until the "
                     "command runs again", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
            t->error = strdup(m);
        }
    }
    f->finished++;
    const char *res = result(f, t);
    if (f->o->json) {
        json_t *e = json_pack("{s:s,s:s,s:s,s:i,s:I,s:I,s:s?,s:b}", "event", "target_done", "target", t->display,
                              "result", res, "exit", t->rc, "steps", (json_int_t)steps(f, t), "ms", (json_int_t)t->ms,
                              "error", t->error, "resumed", t->resumed);
        char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
        if (s)
            fprintf(f->out, "%s\n", s);
        free(s);
        json_decref(e);
    } else if (!f->o->quiet || t->rc != 0) {
        char what[128] = "";
        int64_t n = steps(f, t);
        if (t->rc == 0 && n)
            snprintf(what, sizeof(what), " %" PRId64 " %s%s", n, strcmp(f->cmd->name, "status") == 0 ? "migration"
                     : "step", n == 1 ? "" : "s");
        fprintf(f->out, "[%zu/%zu] %s: %s%s in %" PRId64 " ms%s\n", f->finished, f->n, t->display, res, what,
                t->ms, t->resumed ? " (resumed an interrupted run)" : "");
    }
    fflush(f->out);
    if (t->rc != 0 && f->stop == STOP_NONE && !f->o->continue_on_error) {
        f->stop = STOP_FAILURE;
        f->stopped_by = (size_t)(t - f->t);
    }
}

static void summary(struct fleet *f, int rc, int64_t ms, size_t canary_failed)
{
    static const char *const kinds[] = { "applied", "up to date", "rolled back", "nothing to undo", "would apply",
                                         "pending", "drifted", "failed", "refused", "not undone", "killed", "error",
                                         "not run" };
    size_t counts[sizeof(kinds) / sizeof(*kinds)] = { 0 };
    size_t resumed = 0, not_run = 0;
    for (size_t i = 0; i < f->n; i++) {
        const char *r = result(f, &f->t[i]);
        for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++)
            if (strcmp(r, kinds[k]) == 0)
                counts[k]++;
        resumed += f->t[i].resumed;
        not_run += f->t[i].state != T_DONE;
    }
    const char *why = f->stop == STOP_CANARY ? "canary" : f->stop == STOP_SIGNAL ? "signal"
                    : f->stop == STOP_FAILURE ? "failure" : NULL;
    if (f->o->json) {
        json_t *res = json_object();
        for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++)
            if (counts[k])
                json_object_set_new(res, kinds[k], json_integer((json_int_t)counts[k]));
        /* peak resident sets (KiB): the parent's, and the largest worker's */
        struct rusage self, kids;
        getrusage(RUSAGE_SELF, &self);
        getrusage(RUSAGE_CHILDREN, &kids);
        json_t *e = json_pack("{s:s,s:n,s:s,s:I,s:o,s:I,s:s?,s:i,s:I,s:I,s:I}", "event", "fleet_done", "target",
                              "command", f->cmd->name, "targets", (json_int_t)f->n, "results", res, "resumed",
                              (json_int_t)resumed, "stopped", why, "exit", rc, "ms", (json_int_t)ms, "parent_rss_kb",
                              (json_int_t)self.ru_maxrss, "worker_rss_kb", (json_int_t)kids.ru_maxrss);
        char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
        if (s)
            fprintf(f->out, "%s\n", s);
        free(s);
        json_decref(e);
        fflush(f->out);
        return;
    }
    fprintf(f->out, "\nfleet %s: %zu target%s in %" PRId64 " ms:", f->cmd->name, f->n, f->n == 1 ? "" : "s", ms);
    bool first = true;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++)
        if (counts[k]) {
            fprintf(f->out, "%s %zu %s", first ? "" : ",", counts[k], kinds[k]);
            first = false;
        }
    fputc('\n', f->out);
    if (resumed)
        fprintf(f->out, "%zu target%s resumed a run that had been interrupted\n", resumed, resumed == 1 ? "" : "s");
    fprintf(f->out, "  %-15s %6s %8s  %s\n", "RESULT", "STEPS", "MS", "TARGET");
    for (size_t i = 0; i < f->n; i++) {
        struct target *t = &f->t[i];
        if (f->o->quiet && t->rc == 0 && t->state == T_DONE)
            continue;
        char st[24] = "-", ms_[24] = "-";
        if (t->state == T_DONE) {
            snprintf(st, sizeof(st), "%" PRId64, steps(f, t));
            snprintf(ms_, sizeof(ms_), "%" PRId64, t->ms);
        }
        /* (the error's first line) */
        int el = t->error && t->rc ? (int)strcspn(t->error, "\n") : 0;
        fprintf(f->out, "  %-15s %6s %8s  %s%s%s%.*s\n", result(f, t), st, ms_, t->display,
                t->resumed ? "  (resumed)" : "", el ? "  -- " : "", el, el ? t->error : "");
    }
    if (f->stop == STOP_CANARY)
        fprintf(f->out, "the canary (the first %zu target%s) failed: no other target was run\n", canary_failed,
                canary_failed == 1 ? "" : "s");
    else if (f->stop == STOP_FAILURE && not_run)
        fprintf(f->out, "stopped launching after %s failed (--continue-on-error runs every target); %zu target%s "
                "not run\n", f->t[f->stopped_by].display, not_run, not_run == 1 ? "" : "s");
    else if (f->stop == STOP_SIGNAL)
        fprintf(f->out, "interrupted by %s: each running target stopped as migrun does on a signal; %zu target%s "
                "not run\n", signame(last_signal), not_run, not_run == 1 ? "" : "s");
    if (rc != 0 && (not_run || f->stop != STOP_NONE))
        fprintf(f->out, "running the same command again continues: done targets are up to date, interrupted "
                "ones resume\n");
    fflush(f->out);
}

/* ---- the fleet -------------------------------------------------------------------------- */

int mig_fleet_run(const struct mig_command *cmd, struct mig_plan *plan, const struct mig_run_opts *o)
{
    struct fleet f;
    memset(&f, 0, sizeof(f));
    f.cmd = cmd;
    f.plan = plan;
    f.o = o;
    f.out = o->out;
    f.err = o->err;
    char err[2048] = "";
    int rc = o->targets ? (read_file(&f, o->targets, err, sizeof(err)) ? MIG_EXIT_USAGE : 0)
                        : read_query(&f, err, sizeof(err));
    if (rc != 0) {
        if (o->json) {
            json_t *e = json_pack("{s:s,s:n,s:s}", "event", "error", "target", "message", err);
            char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
            if (s)
                fprintf(f.out, "%s\n", s);
            free(s);
            json_decref(e);
            fflush(f.out);
        }
        fprintf(f.err, "migrun: %s\n", err);
        goto out;
    }
    if (f.n == 0) {     /* a query that returns no target */
        if (o->json)
            fprintf(f.out, "{\"event\":\"fleet_done\",\"target\":null,\"command\":\"%s\",\"targets\":0,"
                    "\"results\":{},\"exit\":0,\"ms\":0}\n", cmd->name);
        else
            fprintf(f.out, "fleet %s: the --targets-query returned no target; nothing to do\n", cmd->name);
        goto out;
    }
    size_t parallel = o->parallel > 0 ? (size_t)o->parallel : 1;
    size_t canary = o->canary > 0 ? (size_t)o->canary : 0;
    if (canary > f.n)
        canary = f.n;
    if (!o->json && !o->quiet) {
        fprintf(f.out, "fleet %s: %zu target%s, %zu at a time", cmd->name, f.n, f.n == 1 ? "" : "s",
                parallel < f.n ? parallel : f.n);
        if (canary)
            fprintf(f.out, ", the first %zu as a canary", canary);
        fputc('\n', f.out);
    }
    struct sigaction sa, old_int, old_term, old_pipe;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &old_pipe);
    got_signals = 0;
    sig_atomic_t forwarded = 0;
    int64_t t0 = now_ms();
    size_t next = 0, running = 0, limit = canary ? canary : f.n;
    struct pollfd *pfd = calloc(2 * parallel + 2, sizeof(*pfd));
    struct target **pt = calloc(2 * parallel + 2, sizeof(*pt));
    if (!pfd || !pt)
        abort();
    for (;;) {
        if (got_signals > forwarded) {
            int sig = last_signal;
            for (; forwarded < got_signals; forwarded++)
                for (size_t i = 0; i < f.n; i++)
                    if (f.t[i].state == T_RUNNING)
                        kill(f.t[i].pid, sig);
            f.stop = STOP_SIGNAL;
        }
        while (f.stop == STOP_NONE && running < parallel && next < limit) {
            if (launch(&f, next) != 0) {
                fprintf(f.err, "migrun: cannot start a worker for %s: %s\n", f.t[next].display, strerror(errno));
                f.t[next].state = T_DONE;
                f.t[next].rc = MIG_EXIT_REFUSED;
                f.t[next].error = strdup("no worker process could be started");
                f.stop = STOP_FAILURE;
                f.stopped_by = next;
                next++;
                break;
            }
            next++;
            running++;
        }
        if (running == 0) {
            if (f.stop == STOP_NONE && next == limit && limit < f.n) {
                /* the canary is done: all of it must have succeeded */
                bool ok = true;
                for (size_t i = 0; i < limit; i++)
                    ok = ok && f.t[i].rc == 0;
                if (!ok) {
                    f.stop = STOP_CANARY;
                    continue;
                }
                limit = f.n;
                continue;
            }
            if (f.stop == STOP_FAILURE && canary && next <= canary)
                f.stop = STOP_CANARY;
            break;
        }
        size_t np = 0;
        for (size_t i = 0; i < f.n; i++)
            if (f.t[i].state == T_RUNNING) {
                if (f.t[i].out.fd >= 0) {
                    pfd[np] = (struct pollfd){ f.t[i].out.fd, POLLIN, 0 };
                    pt[np++] = &f.t[i];
                }
                if (f.t[i].err.fd >= 0) {
                    pfd[np] = (struct pollfd){ f.t[i].err.fd, POLLIN, 0 };
                    pt[np++] = &f.t[i];
                }
            }
        int pr = poll(pfd, np, 100);
        for (size_t k = 0; pr > 0 && k < np; k++)
            if (pfd[k].revents) {
                struct target *t = pt[k];
                bool is_err = pfd[k].fd == t->err.fd;
                pump(&f, t, is_err ? &t->err : &t->out, is_err, false);
            }
        fflush(f.out);
        for (size_t i = 0; i < f.n; i++) {
            struct target *t = &f.t[i];
            int status;
            if (t->state != T_RUNNING || waitpid(t->pid, &status, WNOHANG) != t->pid)
                continue;
            finish_target(&f, t, status);
            running--;
        }
    }
    for (size_t i = 0; i < f.n; i++) {
        if (f.t[i].state == T_WAITING)
            f.t[i].state = T_NOT_RUN;
        if (f.t[i].state == T_DONE)
            rc = worse(rc, f.t[i].rc);
    }
    if (f.stop == STOP_SIGNAL && rc == 0)
        rc = MIG_EXIT_FAILED;   /* interrupted: not everything ran */
    summary(&f, rc, now_ms() - t0, canary);
    free(pfd);
    free(pt);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
out:
    for (size_t i = 0; i < f.n; i++) {
        free(f.t[i].url);
        free(f.t[i].schema);
        free(f.t[i].display);
        free(f.t[i].journal);
        free(f.t[i].error);
        free(f.t[i].out.buf);
        free(f.t[i].err.buf);
    }
    free(f.t);
    return rc;
}
