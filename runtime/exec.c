/* exec.c — commands of exec actions and expressions (see exec.h). */
#define _GNU_SOURCE
#include "exec.h"
#include "session.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* The environment of the child: ours, with spec->env replacing or adding;
 * never MIGRUN_DB, whose URL may carry the password (commands get the
 * target's connection as PG* variables, the password only in PGPASSWORD). */
static char **child_env(char *const *add)
{
    size_t n = 0, k = 0, m = 0;
    while (environ[n])
        n++;
    while (add && add[m])
        m++;
    char **env = calloc(n + m + 1, sizeof(*env));
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(environ[i], "=");
        bool replaced = false;
        for (size_t j = 0; j < m && !replaced; j++)
            replaced = strncmp(add[j], environ[i], len) == 0 && add[j][len] == '=';
        if (!replaced && strncmp(environ[i], "MIGRUN_DB=", 10) != 0)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        env[k++] = add[j];
    env[k] = NULL;
    return env;
}

static void keep_tail(struct mig_exec_result *r, const char *b, size_t n)
{
    if (n >= MIG_EXEC_TAIL) {
        memcpy(r->tail, b + n - MIG_EXEC_TAIL, MIG_EXEC_TAIL);
        r->tail_len = MIG_EXEC_TAIL;
    } else if (r->tail_len + n > MIG_EXEC_TAIL) {
        size_t drop = r->tail_len + n - MIG_EXEC_TAIL;
        memmove(r->tail, r->tail + drop, r->tail_len - drop);
        memcpy(r->tail + r->tail_len - drop, b, n);
        r->tail_len = MIG_EXEC_TAIL;
    } else {
        memcpy(r->tail + r->tail_len, b, n);
        r->tail_len += n;
    }
    r->tail[r->tail_len] = 0;
}

struct line {
    char buf[4096];
    size_t n;
};

static void emit_line(struct mig_report *rep, const char *prefix, const char *stream, const char *s, size_t n)
{
    if (rep->json) {
        /* JSON strings are UTF-8: an invalid byte (output in another
         * encoding, a character cut by the 4096-byte split) becomes U+FFFD,
         * and NUL too, instead of the line being dropped */
        char *t = malloc(n * 3 + 1);
        size_t k = 0;
        for (size_t i = 0; t && i < n;) {
            unsigned char c = (unsigned char)s[i];
            size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
            bool ok = len > 0 && i + len <= n && c != 0 && !(len == 2 && c < 0xC2);
            for (size_t j = 1; ok && j < len; j++)
                ok = ((unsigned char)s[i + j] & 0xC0) == 0x80;
            if (ok && len == 3)     /* no overlongs, no surrogates */
                ok = !(c == 0xE0 && (unsigned char)s[i + 1] < 0xA0) && !(c == 0xED && (unsigned char)s[i + 1] >= 0xA0);
            if (ok && len == 4)
                ok = !(c == 0xF0 && (unsigned char)s[i + 1] < 0x90) && c <= 0xF4 &&
                     !(c == 0xF4 && (unsigned char)s[i + 1] >= 0x90);
            if (ok) {
                memcpy(t + k, s + i, len);
                k += len;
                i += len;
            } else {
                memcpy(t + k, "\xEF\xBF\xBD", 3);
                k += 3;
                i++;
            }
        }
        if (t)
            t[k] = 0;
        mig_report_event(rep, NULL, "{s:s,s:s,s:s}", "event", "output", "stream", stream, "line", t ? t : "");
        free(t);
    } else {
        fprintf(rep->out, "%s%.*s\n", prefix, (int)n, s);
        fflush(rep->out);
    }
}

/* Splits what came into lines for the user (a line longer than the buffer
 * is shown in pieces). */
static void feed(struct mig_report *rep, const char *prefix, const char *stream, struct line *l, const char *b,
                 size_t n, bool flush)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '\n' || l->n == sizeof(l->buf)) {
            emit_line(rep, prefix, stream, l->buf, l->n);
            l->n = 0;
            if (b[i] == '\n')
                continue;
        }
        l->buf[l->n++] = b[i];
    }
    if (flush && l->n) {
        emit_line(rep, prefix, stream, l->buf, l->n);
        l->n = 0;
    }
}

static void fmt_ms(int64_t ms, char *out, size_t n)
{
    if (ms % 3600000 == 0)
        snprintf(out, n, "%" PRId64 "h", ms / 3600000);
    else if (ms % 60000 == 0)
        snprintf(out, n, "%" PRId64 "m", ms / 60000);
    else if (ms % 1000 == 0)
        snprintf(out, n, "%" PRId64 "s", ms / 1000);
    else
        snprintf(out, n, "%" PRId64 "ms", ms);
}

/* The command's time: past its timeout, or once migrun is interrupted, its
 * group gets SIGTERM, and SIGKILL a grace period later. */
struct deadline {
    int64_t start, term_at;
    bool termed, killed;
    int signals;        /* mig_signals when the command started: only a later one interrupts it (the
                           downs an interrupted run undoes with are commands too) */
};

static void enforce_deadline(struct deadline *d, const struct mig_exec_spec *s, struct mig_exec_result *r, pid_t pid,
                             int64_t now)
{
    bool signalled = mig_signals > d->signals;
    if (!d->termed && ((s->timeout_ms > 0 && now - d->start >= s->timeout_ms) || signalled)) {
        r->timed_out = !signalled;
        r->interrupted = signalled;
        kill(-pid, SIGTERM);
        d->termed = true;
        d->term_at = now;
    }
    if (d->termed && !d->killed && now - d->term_at >= MIG_EXEC_GRACE_MS) {
        kill(-pid, SIGKILL);
        d->killed = true;
    }
}

int mig_exec_run(const struct mig_exec_spec *s, struct mig_report *rep, struct mig_exec_result *r)
{
    memset(r, 0, sizeof(*r));
    int out[2] = { -1, -1 }, err[2] = { -1, -1 }, status[2] = { -1, -1 };
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 || pipe2(status, O_CLOEXEC) != 0) {
        snprintf(r->why, sizeof(r->why), "cannot make a pipe: %s", strerror(errno));
        goto closefds;
    }
    char **env = child_env(s->env);
    if (!env) {
        snprintf(r->why, sizeof(r->why), "out of memory");
        goto closefds;
    }
    mig_report_flush(rep);
    pid_t parent = getpid();
    int64_t t0 = mig_now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        free(env);
        snprintf(r->why, sizeof(r->why), "cannot start a process: %s", strerror(errno));
        goto closefds;
    }
    if (pid == 0) {
        /* the child: its own process group, which dies with migrun */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
            _exit(127);
        if (devnull > 2)
            close(devnull);
        int e = 0;
        if (s->cwd && chdir(s->cwd) != 0)
            e = errno;
        else {
            execvpe(s->argv[0], s->argv, env);
            e = errno;
        }
        /* tell the parent why it could not start */
        char msg[16];
        int len = snprintf(msg, sizeof(msg), "x%d", e);
        if (write(status[1], msg, (size_t)len) < 0) {
            /* nothing more to do */
        }
        _exit(127);
    }
    setpgid(pid, pid);
    free(env);
    close(out[1]);
    close(err[1]);
    close(status[1]);
    out[1] = err[1] = status[1] = -1;
    /* a watchdog kills the command's group when migrun dies, even by
     * SIGKILL (PR_SET_PDEATHSIG reaches only the command itself): it waits
     * for the end of a pipe only migrun holds */
    int wd[2] = { -1, -1 };
    pid_t watchdog = -1;
    if (pipe2(wd, O_CLOEXEC) == 0 && (watchdog = fork()) == 0) {
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        close(wd[1]);
        char c;
        while (read(wd[0], &c, 1) < 0 && errno == EINTR)
            ;
        kill(-pid, SIGKILL);
        _exit(0);
    }
    if (wd[0] >= 0)
        close(wd[0]);
    struct line lo = { .n = 0 }, le = { .n = 0 };
    size_t cap = 0, used = 0;
    bool open_out = true, open_err = true;
    struct deadline d = { t0, 0, false, false, mig_signals };
    bool reaped = false;
    int64_t exited_at = 0;
    int wstatus = 0;
    char startmsg[16] = "";
    ssize_t sm = read(status[0], startmsg, sizeof(startmsg) - 1);
    if (sm > 0) {
        startmsg[sm] = 0;
        int e = atoi(startmsg + 1);
        snprintf(r->why, sizeof(r->why), "cannot start %s: %s", s->argv[0],
                 s->cwd && e == ENOENT && access(s->cwd, F_OK) != 0 ? "its cwd does not exist" : strerror(e));
    }
    while (open_out || open_err) {
        int64_t now = mig_now_ms(), wait_ms = 200;
        enforce_deadline(&d, s, r, pid, now);
        /* the command exited but something it left holds its output open
         * (a background job, a daemon): what is there is read, then it goes */
        if (!reaped && waitpid(pid, &wstatus, WNOHANG) == pid) {
            reaped = true;
            exited_at = now;
        }
        if (reaped) {
            wait_ms = 50;
            if (now - exited_at >= 250) {
                kill(-pid, SIGKILL);
                if (now - exited_at >= 500)
                    break;
            }
        }
        struct pollfd p[2] = { { open_out ? out[0] : -1, POLLIN, 0 }, { open_err ? err[0] : -1, POLLIN, 0 } };
        if (poll(p, 2, (int)wait_ms) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char b[8192];
            ssize_t got = read(p[i].fd, b, sizeof(b));
            if (got <= 0) {
                if (i == 0)
                    open_out = false;
                else
                    open_err = false;
                continue;
            }
            keep_tail(r, b, (size_t)got);
            if (i == 0 && s->capture) {
                if (used + (size_t)got + 1 > cap) {
                    cap = (used + (size_t)got + 1) * 2;
                    char *nb = realloc(r->output, cap);
                    if (!nb)
                        abort();
                    r->output = nb;
                }
                memcpy(r->output + used, b, (size_t)got);
                used += (size_t)got;
                r->output[used] = 0;
            } else {
                feed(rep, s->prefix ? s->prefix : "", i == 0 ? "stdout" : "stderr", i == 0 ? &lo : &le, b,
                     (size_t)got, false);
            }
        }
    }
    feed(rep, s->prefix ? s->prefix : "", "stdout", &lo, "", 0, true);
    feed(rep, s->prefix ? s->prefix : "", "stderr", &le, "", 0, true);
    /* the pipes are closed: wait for the process (a timeout still applies) */
    for (; !reaped;) {
        pid_t w = waitpid(pid, &wstatus, WNOHANG);
        if (w == pid)
            break;
        int64_t now = mig_now_ms();
        enforce_deadline(&d, s, r, pid, now);
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
    }
    /* what the command left running in its group goes with it */
    kill(-pid, SIGKILL);
    if (watchdog > 0) {
        close(wd[1]);
        waitpid(watchdog, NULL, 0);
    } else if (wd[1] >= 0) {
        close(wd[1]);
    }
    r->ms = mig_now_ms() - t0;
    if (s->capture && r->output) {
        size_t n = strlen(r->output);
        while (n && (r->output[n - 1] == '\n' || r->output[n - 1] == '\r'))
            r->output[--n] = 0;
    } else if (s->capture) {
        r->output = strdup("");
    }
    if (sm > 0) {
        r->started = false;
    } else {
        r->started = true;
        if (WIFEXITED(wstatus))
            r->exit_status = WEXITSTATUS(wstatus);
        else if (WIFSIGNALED(wstatus))
            r->term_signal = WTERMSIG(wstatus);
        char limit[32];
        fmt_ms(s->timeout_ms, limit, sizeof(limit));
        if (r->timed_out)
            snprintf(r->why, sizeof(r->why), "timed out after %s", limit);
        else if (r->interrupted)
            snprintf(r->why, sizeof(r->why), "interrupted by %s", mig_signal_name(mig_last_signal));
        else if (r->term_signal)
            snprintf(r->why, sizeof(r->why), "killed by SIG%s", sigabbrev_np(r->term_signal) ? sigabbrev_np(r->term_signal) : "?");
        else if (r->exit_status)
            snprintf(r->why, sizeof(r->why), "exit status %d", r->exit_status);
    }
    close(out[0]);
    close(err[0]);
    close(status[0]);
    return r->started && !r->timed_out && !r->interrupted && !r->term_signal && r->exit_status == 0 ? 0 : -1;
closefds:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (err[i] >= 0)
            close(err[i]);
        if (status[i] >= 0)
            close(status[i]);
    }
    return -1;
}
