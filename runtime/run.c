/* run.c — the runner behind migrun: connection, lock, undo log and
 * reconciliation, preflight (targets, requires, drift), the host side of
 * the VM's plan ops (transactions, steps, skips, the journal protocol),
 * failure handling (undo of the failing migration), rollback, status, log.
 *
 * Journal protocol for each target transaction: the entries it records are
 * added to the journal as `pending` (a durable commit) before the target
 * commits — the target's mig_applied rows commit with the work — and are
 * then marked `done`. Under `transaction none` the entry is pending before
 * the statement runs. Reconciliation compares pending entries with
 * mig_applied. */
#include "run.h"
#include "driver.h"
#include "journal.h"
#include "vm.h"
#include "compiler/strmap.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

struct tracked {
    char *migration, *phase, *step, *status, *checksum, *uid, *applied_at;
    int64_t run;        /* journal run that recorded it, filled by rollback */
};

struct undo_item {
    char *migration, *phase, *step, *uid, *down, *irreversible, *txn, *status, *file;
    int64_t line, order;
};

struct param_value;

struct runner {
    const struct mig_run_opts *o;
    struct mig_plan *plan;
    struct mig_conn *conn;
    struct mig_journal *j;
    int lockfd;
    int64_t run;
    bool vm_ready;
    struct mig_vm vm;
    struct mig_arena arena;
    struct mig_strmap tracked;              /* "m\x1fp\x1fs" → struct tracked * */
    MIG_VEC(struct tracked *) tracked_list;
    bool has_table;
    bool dry;                               /* migrun plan */
    bool testing;                           /* migrun test */
    unsigned test_ok, test_failed, test_irreversible, test_skipped;
    bool prologue_only_requires;            /* rollback fallback: ignore requires */
    uint32_t mig, cur_phase, cur_step;     /* where the VM is (MIG_NONE: outside) */
    bool txn_open;
    MIG_VEC(struct mig_jentry) txn_entries;
    MIG_VEC(struct undo_item) committed;    /* of the current migration in this run */
    int64_t step_t0;
    MIG_VEC(uint32_t) req_failed;           /* checks of the prologue that just ran */
    MIG_VEC(struct param_value) param_values;
    unsigned applied, skipped, undone;
    bool failed_in_commit;
};

/* ---- output ------------------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void emit_json(struct runner *r, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s) {
        fprintf(r->o->out, "%s\n", s);
        fflush(r->o->out);
    }
    free(s);
    json_decref(o);
}

static const char *col(struct runner *r, const char *c)
{
    return r->o->color ? c : "";
}

/* One line per step: outcome, name, time or note. */
static void report_step(struct runner *r, const char *outcome, const char *m, const char *p, const char *s,
                        int64_t ms, int64_t rows, const char *note)
{
    if (r->o->json) {
        emit_json(r, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s?}", "event", "step", "outcome", outcome,
                               "migration", m, "phase", p, "step", s, "ms", (json_int_t)ms,
                               "rows", (json_int_t)rows, "note", note));
        return;
    }
    const char *c = strcmp(outcome, "applied") == 0 || strcmp(outcome, "undone") == 0 ? "\033[32m"
                  : strcmp(outcome, "failed") == 0 ? "\033[1;31m" : "\033[33m";
    /* under a migration header the step is phase.step; alone (rollback) it is qualified */
    if (r->mig == MIG_NONE)
        fprintf(r->o->out, "  %s%-12s%s %s.%s.%s", col(r, c), outcome, col(r, "\033[0m"), m, p, s);
    else
        fprintf(r->o->out, "  %s%-12s%s %s.%s", col(r, c), outcome, col(r, "\033[0m"), p, s);
    if (ms >= 0)
        fprintf(r->o->out, "  %" PRId64 " ms", ms);
    if (rows > 0)
        fprintf(r->o->out, "  %" PRId64 " row%s", rows, rows == 1 ? "" : "s");
    if (note)
        fprintf(r->o->out, "  (%s)", note);
    fputc('\n', r->o->out);
    fflush(r->o->out);
}

static void report_migration(struct runner *r, uint32_t mi, const char *what)
{
    const struct mig_pmigration *m = &r->plan->migrations[mi];
    if (r->o->json) {
        emit_json(r, json_pack("{s:s,s:s,s:s,s:s,s:i}", "event", "migration", "action", what, "migration",
                               mig_plan_str(r->plan, m->name), "file", mig_plan_str(r->plan, m->file),
                               "line", (int)m->line));
        return;
    }
    fprintf(r->o->out, "%s%s%s %s (%s:%u)\n", col(r, "\033[1m"), what, col(r, "\033[0m"),
            mig_plan_str(r->plan, m->name), mig_plan_str(r->plan, m->file), m->line);
}

static void note(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct runner *r, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (r->o->json)
        emit_json(r, json_pack("{s:s,s:s}", "event", "note", "message", buf));
    else
        fprintf(r->o->out, "%s\n", buf);
}

static void error_msg(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void error_msg(struct runner *r, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fprintf(r->o->err, "%serror:%s %s\n", col(r, "\033[1;31m"), col(r, "\033[0m"), buf);
    fflush(r->o->err);
    if (r->o->json)
        emit_json(r, json_pack("{s:s,s:s}", "event", "error", "message", buf));
}

/* ---- setup: connection, lock, journal, tracking table -------------------------- */

static const char *dialect_name(struct runner *r)
{
    return r->conn->drv->name;
}

static int dbfail(struct runner *r, const char *what, const struct mig_dberr *e);

/* The session advisory lock of PostgreSQL runners ('mig' in ASCII); it is
 * held by the connection that does the work and dies with it. */
#define MIG_PG_LOCK_KEY 7235943

static int sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };
    return nanosleep(&ts, NULL);
}

static int take_pg_lock(struct runner *r)
{
    int64_t deadline = now_ms() + r->o->lock_wait_ms;
    bool told = false;
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%d)", MIG_PG_LOCK_KEY);
    for (;;) {
        bool has_row = false;
        struct mig_value v;
        struct mig_dberr e;
        if (r->conn->drv->query(r->conn, sql, &has_row, &v, &e) != 0)
            return dbfail(r, "cannot take the advisory lock", &e);
        if (has_row && v.t == MIG_V_BOOL && v.i)
            return 0;
        /* who holds it: pid, application, since when */
        char who[512] = "another session";
        char holder_sql[512];
        snprintf(holder_sql, sizeof(holder_sql),
                 "SELECT format('pid %%s (%%s) connected since %%s', a.pid, coalesce(nullif(a.application_name, ''), "
                 "'no application_name'), date_trunc('second', a.backend_start)) FROM pg_locks l JOIN pg_stat_activity a "
                 "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = %d AND l.granted "
                 "LIMIT 1", MIG_PG_LOCK_KEY);
        struct mig_value h;
        bool hr = false;
        if (r->conn->drv->query(r->conn, holder_sql, &hr, &h, &e) == 0 && hr && h.t == MIG_V_STRING) {
            snprintf(who, sizeof(who), "%s", h.s);
            free((void *)h.s);
        }
        if (now_ms() >= deadline) {
            error_msg(r, "another migrun holds the lock on %s: %s; gave up after %" PRId64 " ms (--lock-wait)",
                      r->conn->display, who, r->o->lock_wait_ms);
            return -1;
        }
        if (!told) {
            note(r, "waiting for the lock on %s held by %s", r->conn->display, who);
            told = true;
        }
        sleep_ms(100);
    }
}

static int take_lock(struct runner *r)
{
    if (r->conn->drv->dialect == MIG_D_POSTGRES)
        return take_pg_lock(r);
    char path[4200];
    snprintf(path, sizeof(path), "%s-miglock", r->conn->target);
    r->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (r->lockfd < 0) {
        error_msg(r, "cannot create the lock file '%s': %s", path, strerror(errno));
        return -1;
    }
    int64_t deadline = now_ms() + r->o->lock_wait_ms;
    bool told = false;
    while (flock(r->lockfd, LOCK_EX | LOCK_NB) != 0) {
        char holder[128] = "";
        ssize_t n = pread(r->lockfd, holder, sizeof(holder) - 1, 0);
        if (n > 0)
            holder[n] = 0;
        holder[strcspn(holder, "\n")] = 0;
        if (now_ms() >= deadline) {
            error_msg(r, "another migrun holds the lock on %s (%s); gave up after %" PRId64 " ms (--lock-wait)",
                      r->conn->display, holder[0] ? holder : "holder unknown", r->o->lock_wait_ms);
            close(r->lockfd);
            r->lockfd = -1;
            return -1;
        }
        if (!told) {
            note(r, "waiting for the lock on %s held by %s", r->conn->display, holder[0] ? holder : "another migrun");
            told = true;
        }
        sleep_ms(50);
    }
    char me[128];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    int n = snprintf(me, sizeof(me), "pid %d since %04d-%02d-%02dT%02d:%02d:%02dZ\n", (int)getpid(),
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (ftruncate(r->lockfd, 0) == 0 && pwrite(r->lockfd, me, (size_t)n, 0) < 0) {
        /* the holder's description is only informative */
    }
    return 0;
}

static int dbfail(struct runner *r, const char *what, const struct mig_dberr *e)
{
    error_msg(r, "%s: %s%s%s%s", what, e->message, e->sqlstate[0] ? " (SQLSTATE " : "", e->sqlstate,
              e->sqlstate[0] ? ")" : "");
    return -1;
}

static int table_exists(struct runner *r, bool *exists)
{
    const char *sql = r->conn->drv->dialect == MIG_D_SQLITE
        ? "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mig_applied'"
        : "SELECT 1 WHERE to_regclass('mig_applied') IS NOT NULL";
    struct mig_value v;
    struct mig_dberr e;
    if (r->conn->drv->query(r->conn, sql, exists, &v, &e) != 0)
        return dbfail(r, "cannot read the tracking table", &e);
    return 0;
}

static int ensure_table(struct runner *r)
{
    struct mig_dberr e;
    if (r->conn->drv->exec(r->conn,
            "CREATE TABLE IF NOT EXISTS mig_applied (\n"
            "  migration  TEXT NOT NULL,\n"
            "  phase      TEXT NOT NULL,\n"
            "  step       TEXT NOT NULL,\n"
            "  status     TEXT NOT NULL,\n"
            "  checksum   TEXT,\n"
            "  entry_uid  TEXT NOT NULL,\n"
            "  applied_at TEXT NOT NULL,\n"
            "  PRIMARY KEY (migration, phase, step)\n"
            ")", NULL, &e) != 0)
        return dbfail(r, "cannot create the tracking table mig_applied", &e);
    r->has_table = true;
    return 0;
}

static char *key3(struct runner *r, const char *m, const char *p, const char *s)
{
    size_t a = strlen(m), b = strlen(p), c = strlen(s);
    char *k = mig_arena_alloc(&r->arena, a + b + c + 3);
    memcpy(k, m, a);
    k[a] = '\x1f';
    memcpy(k + a + 1, p, b);
    k[a + 1 + b] = '\x1f';
    memcpy(k + a + b + 2, s, c);
    k[a + b + c + 2] = 0;
    return k;
}

static int track_row(void *ctx, int n, const char *const *v)
{
    struct runner *r = ctx;
    if (n < 7)
        return 0;
    struct tracked *t = MIG_NEW(&r->arena, struct tracked);
    char **f[] = { &t->migration, &t->phase, &t->step, &t->status, &t->checksum, &t->uid, &t->applied_at };
    for (int i = 0; i < 7; i++)
        *f[i] = v[i] ? mig_arena_strdup(&r->arena, v[i]) : NULL;
    if (!t->migration || !t->phase || !t->step || !t->status || !t->uid)
        return 0;
    mig_strmap_put(&r->tracked, key3(r, t->migration, t->phase, t->step), t);
    MIG_PUSH(&r->arena, r->tracked_list, t);
    return 0;
}

static int load_tracked(struct runner *r)
{
    r->tracked.arena = &r->arena;
    r->tracked_list.n = 0;
    if (r->tracked.cap)
        memset(r->tracked.keys, 0, r->tracked.cap * sizeof(*r->tracked.keys));
    r->tracked.n = 0;
    if (!r->has_table)
        return 0;
    struct mig_dberr e;
    if (r->conn->drv->select(r->conn, "SELECT migration, phase, step, status, checksum, entry_uid, applied_at "
                             "FROM mig_applied ORDER BY applied_at, migration, phase, step",
                             track_row, r, &e) != 0)
        return dbfail(r, "cannot read the tracking table mig_applied", &e);
    return 0;
}

static struct tracked *tracked_of(struct runner *r, const char *m, const char *p, const char *s)
{
    return mig_strmap_get(&r->tracked, key3(r, m, p, s));
}

static struct tracked *tracked_by_uid(struct runner *r, const char *uid)
{
    for (size_t i = 0; i < r->tracked_list.n; i++)
        if (strcmp(r->tracked_list.v[i]->uid, uid) == 0)
            return r->tracked_list.v[i];
    return NULL;
}

/* Pending journal entries: committed with the target (tracking row present)
 * or not. */
struct reconcile {
    struct runner *r;
    MIG_VEC(char *) done, aborted, interrupted;
    MIG_VEC(char *) interrupted_steps;
};

static void reconcile_cb(void *ctx, const char *uid, const char *action, const char *undoes, const char *txn,
                         const char *m, const char *p, const char *s)
{
    struct reconcile *rc = ctx;
    struct runner *r = rc->r;
    char *u = mig_arena_strdup(&r->arena, uid);
    bool none = txn && strcmp(txn, "none") == 0;
    bool committed;
    if (strcmp(action, "undone") == 0)
        committed = !undoes || !tracked_by_uid(r, undoes);
    else
        committed = tracked_by_uid(r, uid) != NULL;
    if (committed) {
        MIG_PUSH(&r->arena, rc->done, u);
    } else if (none) {
        MIG_PUSH(&r->arena, rc->interrupted, u);
        MIG_PUSH(&r->arena, rc->interrupted_steps, mig_arena_printf(&r->arena, "%s %s.%s.%s", action, m, p, s));
    } else {
        MIG_PUSH(&r->arena, rc->aborted, u);
    }
}

static int reconcile(struct runner *r)
{
    struct reconcile rc;
    memset(&rc, 0, sizeof(rc));
    rc.r = r;
    if (mig_journal_pending(r->j, r->conn->target, reconcile_cb, &rc) != 0) {
        error_msg(r, "%s", mig_journal_error(r->j));
        return -1;
    }
    for (size_t i = 0; i < rc.done.n; i++)
        mig_journal_set_state_uid(r->j, rc.done.v[i], "done");
    for (size_t i = 0; i < rc.aborted.n; i++)
        mig_journal_set_state_uid(r->j, rc.aborted.v[i], "aborted");
    for (size_t i = 0; i < rc.interrupted.n; i++)
        mig_journal_set_state_uid(r->j, rc.interrupted.v[i], "interrupted");
    mig_journal_close_stale_runs(r->j, r->conn->target);
    if (rc.done.n + rc.aborted.n + rc.interrupted.n)
        note(r, "recovered an interrupted run: %zu journal entr%s committed with the database, %zu rolled back "
             "by it%s", rc.done.n, rc.done.n == 1 ? "y" : "ies", rc.aborted.n,
             rc.interrupted.n ? ", and" : "");
    for (size_t i = 0; i < rc.interrupted_steps.n; i++)
        note(r, "warning: %s (transaction none) was interrupted and may have partly run; it will run again",
             rc.interrupted_steps.v[i]);
    return 0;
}

/* Connects, takes the lock and reconciles. For read-only commands, a
 * missing SQLite file is an empty database and nothing is created. */
static int setup(struct runner *r, bool readonly)
{
    char err[1024];
    r->lockfd = -1;
    const char *url = r->o->db_url;
    if (readonly && strncmp(url, "sqlite:", 7) == 0) {
        const char *path = url[7] == '/' && url[8] == '/' ? url + 9 : url + 7;
        if (access(path, F_OK) != 0)
            url = "sqlite::memory:";
    }
    /* the journal first: a journal that cannot be written refuses the run
     * before the database is even opened */
    if (mig_journal_open(r->o->journal, &r->j, err, sizeof(err)) != 0) {
        error_msg(r, "%s", err);
        return -1;
    }
    if (mig_connect(url, r->o->lock_wait_ms, &r->conn, err, sizeof(err)) != 0) {
        error_msg(r, "%s", err);
        return -1;
    }
    if (!readonly && take_lock(r) != 0)
        return -1;
    if (table_exists(r, &r->has_table) != 0 || load_tracked(r) != 0)
        return -1;
    if (!readonly && reconcile(r) != 0)
        return -1;
    return 0;
}

static void teardown(struct runner *r)
{
    if (r->vm_ready)
        mig_vm_free(&r->vm);
    mig_journal_close(r->j);
    mig_disconnect(r->conn);
    if (r->lockfd >= 0)
        close(r->lockfd);
    mig_arena_free(&r->arena);
}

/* ---- params and the VM ------------------------------------------------------------ */

static int host(void *ctx, struct mig_vm *vm, enum mig_opcode op, const uint32_t *a, bool cond);

static int find_migration(const struct mig_plan *p, const char *name, size_t n)
{
    for (uint32_t i = 0; i < p->nmigrations; i++)
        if (strlen(mig_plan_str(p, p->migrations[i].name)) == n &&
            strncmp(mig_plan_str(p, p->migrations[i].name), name, n) == 0)
            return (int)i;
    return -1;
}

/* -p values, checked against the plan before anything is opened. */
struct param_value {
    uint32_t migration, slot;
    struct mig_value v;
};

static int parse_params(struct runner *r)
{
    for (size_t i = 0; i < r->o->nparams; i++) {
        const struct mig_param_arg *pa = &r->o->params[i];
        bool found = false;
        for (uint32_t m = 0; m < r->plan->nmigrations; m++) {
            const struct mig_pmigration *pm = &r->plan->migrations[m];
            if (pa->migration && strcmp(pa->migration, mig_plan_str(r->plan, pm->name)) != 0)
                continue;
            for (uint32_t k = 0; k < pm->nparams; k++) {
                if (strcmp(mig_plan_str(r->plan, pm->params[k].name), pa->name) != 0)
                    continue;
                struct param_value pv = { m, pm->params[k].slot, { MIG_V_NULL, 0, NULL, 0 } };
                char err[256];
                if (mig_value_parse(&r->arena, (enum mig_vtype)pm->params[k].type, pa->value, &pv.v, err,
                                    sizeof(err)) != 0) {
                    error_msg(r, "-p %s%s%s: %s (param '%s' of migration %s is %s)", pa->migration ? pa->migration : "",
                              pa->migration ? "." : "", pa->name, err, pa->name, mig_plan_str(r->plan, pm->name),
                              mig_vtype_name((enum mig_vtype)pm->params[k].type));
                    return -1;
                }
                MIG_PUSH(&r->arena, r->param_values, pv);
                found = true;
            }
        }
        if (!found) {
            if (pa->migration && find_migration(r->plan, pa->migration, strlen(pa->migration)) < 0)
                error_msg(r, "-p %s.%s: there is no migration '%s'", pa->migration, pa->name, pa->migration);
            else
                error_msg(r, "-p %s%s%s: no migration declares a param '%s'", pa->migration ? pa->migration : "",
                          pa->migration ? "." : "", pa->name, pa->name);
            return -1;
        }
    }
    return 0;
}

static int setup_vm(struct runner *r)
{
    if (mig_vm_init(&r->vm, r->plan, r->conn) != 0) {
        error_msg(r, "out of memory");
        return -1;
    }
    r->vm_ready = true;
    r->vm.host = host;
    r->vm.host_ctx = r;
    r->vm.trace = r->o->trace ? r->o->err : NULL;
    for (size_t i = 0; i < r->param_values.n; i++)
        mig_vm_set_param(&r->vm, r->param_values.v[i].migration, r->param_values.v[i].slot, &r->param_values.v[i].v);
    return 0;
}

/* Prints a VM failure: what, where (file:line, migration, phase, step) and
 * the database's own words. */
static void report_failure(struct runner *r, const char *prefix)
{
    const struct mig_plan *p = r->plan;
    char where[1024] = "";
    size_t n = 0;
    if (r->vm.err_pc != MIG_NONE) {
        const char *file;
        uint32_t line;
        mig_plan_line(p, r->vm.err_pc, &file, &line);
        n += (size_t)snprintf(where + n, sizeof(where) - n, "\n  at %s:%u", file, line);
    }
    if (r->mig != MIG_NONE && r->mig < p->nmigrations)
        n += (size_t)snprintf(where + n, sizeof(where) - n, "%smigration %s", n ? ", " : "\n  in ",
                              mig_plan_str(p, p->migrations[r->mig].name));
    if (r->cur_phase != MIG_NONE && r->cur_phase < p->nphases)
        n += (size_t)snprintf(where + n, sizeof(where) - n, ", phase %s", mig_plan_str(p, p->phases[r->cur_phase].name));
    if (r->cur_step != MIG_NONE && r->cur_step < p->nsteps)
        snprintf(where + n, sizeof(where) - n, ", step %s", mig_plan_str(p, p->steps[r->cur_step].name));
    error_msg(r, "%s%s%s", prefix, r->vm.err, where);
    if (r->vm.has_dberr) {
        const struct mig_dberr *e = &r->vm.dberr;
        if (e->sqlstate[0])
            fprintf(r->o->err, "  SQLSTATE %s\n", e->sqlstate);
        if (e->detail[0])
            fprintf(r->o->err, "  detail: %s\n", e->detail);
        if (e->hint[0])
            fprintf(r->o->err, "  hint: %s\n", e->hint);
    }
}

/* ---- the host side of the plan ops ---------------------------------------------------- */

static const char *txn_name(uint8_t t)
{
    return t == MIG_TXN_NONE ? "none" : t == MIG_TXN_STEP ? "step" : "phase";
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
}

static const char *S(struct runner *r, uint32_t s)
{
    return mig_plan_str(r->plan, s);
}

static int vmfail(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int vmfail(struct runner *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->vm.err, sizeof(r->vm.err), fmt, ap);
    va_end(ap);
    return -1;
}

static int vmdbfail(struct runner *r, const char *what, const struct mig_dberr *e)
{
    r->vm.dberr = *e;
    r->vm.has_dberr = true;
    return vmfail(r, "%s: %s", what, e->message);
}

static char *sql_lit(struct runner *r, const char *s)
{
    if (!s)
        return mig_arena_strdup(&r->arena, "NULL");
    char *q = r->conn->drv->quote_literal(r->conn, s, strlen(s));
    char *out = mig_arena_strdup(&r->arena, q ? q : "NULL");
    free(q);
    return out;
}


static int insert_tracking(struct runner *r, const struct mig_jentry *e, const char *status, struct mig_dberr *err)
{
    char now[64];
    mig_now_iso(now);
    char *sql = mig_arena_printf(&r->arena,
        "INSERT INTO mig_applied (migration, phase, step, status, checksum, entry_uid, applied_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)", sql_lit(r, e->migration), sql_lit(r, e->phase),
        sql_lit(r, e->step), sql_lit(r, status), sql_lit(r, e->checksum), sql_lit(r, e->uid), sql_lit(r, now));
    return r->conn->drv->exec(r->conn, sql, NULL, err);
}

static int delete_tracking(struct runner *r, const char *m, const char *p, const char *s, struct mig_dberr *err)
{
    char *sql = mig_arena_printf(&r->arena, "DELETE FROM mig_applied WHERE migration = %s AND phase = %s AND step = %s",
                                 sql_lit(r, m), sql_lit(r, p), sql_lit(r, s));
    return r->conn->drv->exec(r->conn, sql, NULL, err);
}

static struct mig_jentry new_entry(struct runner *r, uint32_t si, const char *action)
{
    const struct mig_pstep *st = &r->plan->steps[si];
    const struct mig_pphase *ph = &r->plan->phases[st->phase];
    struct mig_jentry e;
    memset(&e, 0, sizeof(e));
    mig_journal_uid(e.uid);
    e.migration = S(r, r->plan->migrations[st->migration].name);
    e.phase = S(r, ph->name);
    e.step = S(r, st->name);
    e.action = action;
    e.txn = txn_name(ph->txn);
    e.file = S(r, st->file);
    e.line = st->line;
    e.irreversible = st->irreversible != MIG_NONE ? S(r, st->irreversible) : NULL;
    return e;
}

static void remember_committed(struct runner *r, const struct mig_jentry *e, const char *status)
{
    struct undo_item u;
    memset(&u, 0, sizeof(u));
    u.migration = mig_arena_strdup(&r->arena, e->migration);
    u.phase = mig_arena_strdup(&r->arena, e->phase);
    u.step = mig_arena_strdup(&r->arena, e->step);
    u.uid = mig_arena_strdup(&r->arena, e->uid);
    u.down = e->down_sql ? mig_arena_strdup(&r->arena, e->down_sql) : NULL;
    u.irreversible = e->irreversible ? mig_arena_strdup(&r->arena, e->irreversible) : NULL;
    u.txn = mig_arena_strdup(&r->arena, e->txn);
    u.status = mig_arena_strdup(&r->arena, status);
    u.file = mig_arena_strdup(&r->arena, e->file ? e->file : "");
    u.line = e->line;
    MIG_PUSH(&r->arena, r->committed, u);
    struct mig_jentry keep = *e;
    struct tracked *t = MIG_NEW(&r->arena, struct tracked);
    t->migration = u.migration;
    t->phase = u.phase;
    t->step = u.step;
    t->status = u.status;
    t->uid = u.uid;
    t->checksum = keep.checksum ? mig_arena_strdup(&r->arena, keep.checksum) : NULL;
    mig_strmap_put(&r->tracked, key3(r, t->migration, t->phase, t->step), t);
    MIG_PUSH(&r->arena, r->tracked_list, t);
}

/* The mig_applied rows of the open transaction's entries, in one INSERT. */
static int insert_tracking_rows(struct runner *r, struct mig_dberr *err)
{
    if (r->txn_entries.n == 0)
        return 0;
    char now[64];
    mig_now_iso(now);
    char *lit_now = sql_lit(r, now);
    size_t cap = 256 + r->txn_entries.n * 256, n = 0;
    char *sql = malloc(cap);
    if (!sql) {
        snprintf(err->message, sizeof(err->message), "out of memory");
        return -1;
    }
    n += (size_t)snprintf(sql, cap, "INSERT INTO mig_applied (migration, phase, step, status, checksum, entry_uid, "
                          "applied_at) VALUES ");
    for (size_t i = 0; i < r->txn_entries.n; i++) {
        const struct mig_jentry *e = &r->txn_entries.v[i];
        const char *row = mig_arena_printf(&r->arena, "%s(%s, %s, %s, %s, %s, %s, %s)", i ? ", " : "",
            sql_lit(r, e->migration), sql_lit(r, e->phase), sql_lit(r, e->step),
            sql_lit(r, strcmp(e->action, "skipped") == 0 ? "skipped" : "applied"), sql_lit(r, e->checksum),
            sql_lit(r, e->uid), lit_now);
        size_t rl = strlen(row);
        if (n + rl + 1 > cap) {
            cap = (n + rl + 1) * 2;
            char *ns = realloc(sql, cap);
            if (!ns) {
                free(sql);
                snprintf(err->message, sizeof(err->message), "out of memory");
                return -1;
            }
            sql = ns;
        }
        memcpy(sql + n, row, rl + 1);
        n += rl;
    }
    int rc = r->conn->drv->exec(r->conn, sql, NULL, err);
    free(sql);
    return rc;
}

/* The journal protocol around a target commit: the tracking rows join the
 * transaction, the entries become durable as `pending`, the target
 * commits, the entries become `done`. */
static int commit_txn(struct runner *r)
{
    if (!r->txn_open)
        return 0;
    struct mig_dberr e;
    if (insert_tracking_rows(r, &e) != 0)
        return vmdbfail(r, "cannot record the steps in mig_applied", &e);
    if (mig_journal_add(r->j, r->run, r->txn_entries.v, r->txn_entries.n) != 0) {
        vmfail(r, "cannot write the undo log, so nothing was committed: %s", mig_journal_error(r->j));
        return -1;
    }
    if (r->conn->drv->commit(r->conn, &e) != 0) {
        r->txn_open = false;
        mig_journal_set_state(r->j, r->txn_entries.v, r->txn_entries.n, "aborted");
        r->txn_entries.n = 0;
        return vmdbfail(r, "commit failed", &e);
    }
    r->txn_open = false;
    mig_journal_set_state(r->j, r->txn_entries.v, r->txn_entries.n, "done");
    for (size_t i = 0; i < r->txn_entries.n; i++)
        remember_committed(r, &r->txn_entries.v[i], strcmp(r->txn_entries.v[i].action, "skipped") == 0 ? "skipped" : "applied");
    r->txn_entries.n = 0;
    return 0;
}

static int begin_txn(struct runner *r, const struct mig_pphase *ph)
{
    struct mig_dberr e;
    if (r->conn->drv->begin(r->conn, &e) != 0)
        return vmdbfail(r, "cannot begin a transaction", &e);
    r->txn_open = true;
    if ((ph->timeout_ms || ph->lock_timeout_ms) &&
        r->conn->drv->set_timeouts(r->conn, ph->timeout_ms, ph->lock_timeout_ms, true, &e) != 0)
        return vmdbfail(r, "cannot set the timeouts", &e);
    return 0;
}

/* Records a step as skipped: inside the open transaction, or in one of its own. */
static int record_skip(struct runner *r, uint32_t si, const char *why)
{
    const struct mig_pstep *st = &r->plan->steps[si];
    const struct mig_pphase *ph = &r->plan->phases[st->phase];
    struct mig_jentry e = new_entry(r, si, "skipped");
    e.irreversible = NULL;
    bool own = !r->txn_open;
    if (own && begin_txn(r, ph) != 0)
        return -1;
    MIG_PUSH(&r->arena, r->txn_entries, e);     /* its mig_applied row joins the commit */
    if (own && commit_txn(r) != 0)
        return -1;
    r->skipped++;
    report_step(r, "skipped", e.migration, e.phase, e.step, -1, 0, why);
    return 0;
}

static bool step_done(struct runner *r, uint32_t si)
{
    const struct mig_pstep *st = &r->plan->steps[si];
    return tracked_of(r, S(r, r->plan->migrations[st->migration].name), S(r, r->plan->phases[st->phase].name),
                      S(r, st->name)) != NULL;
}

static int run_up(struct runner *r, uint32_t si)
{
    const struct mig_pstep *st = &r->plan->steps[si];
    const struct mig_pphase *ph = &r->plan->phases[st->phase];
    int d = r->conn->drv->dialect;
    const struct mig_pvariant *up = mig_plan_variant(r->plan, st->up, d);
    if (!up)
        return vmfail(r, "step %s has no up SQL for %s", S(r, st->name), dialect_name(r));
    const struct mig_pvariant *down = st->down != MIG_NONE ? mig_plan_variant(r->plan, st->down, d) : NULL;
    if (st->down != MIG_NONE && !down)
        return vmfail(r, "step %s has no down SQL for %s, so it could not be undone; refusing to apply it",
                      S(r, st->name), dialect_name(r));
    char *up_sql = mig_vm_render(&r->vm, up, NULL);
    if (!up_sql)
        return -1;
    char *down_sql = down ? mig_vm_render(&r->vm, down, NULL) : NULL;
    if (down && !down_sql) {
        free(up_sql);
        return -1;
    }
    struct mig_jentry e = new_entry(r, si, "applied");
    char sum[65];
    hex(up->sha256, 32, sum);
    e.checksum = mig_arena_strdup(&r->arena, sum);
    e.up_sql = mig_arena_strdup(&r->arena, up_sql);
    e.down_sql = down_sql ? mig_arena_strdup(&r->arena, down_sql) : NULL;
    free(up_sql);
    free(down_sql);
    struct mig_dberr err;
    int64_t rows = 0, t0 = now_ms();
    int rc = 0;
    if (st->batch) {
        int64_t iter = 0, total = 0;
        for (;;) {
            int64_t n = 0;
            if (ph->txn != MIG_TXN_NONE && begin_txn(r, ph) != 0)
                return -1;
            if (r->conn->drv->exec(r->conn, e.up_sql, &n, &err) != 0) {
                rc = -1;
                break;
            }
            if (ph->txn != MIG_TXN_NONE) {
                if (r->conn->drv->commit(r->conn, &err) != 0) {
                    r->txn_open = false;
                    rc = -1;
                    break;
                }
                r->txn_open = false;
            }
            iter++;
            total += n;
            int64_t el = now_ms() - t0;
            if (!r->o->json)
                fprintf(r->o->out, "    batch %" PRId64 ": %" PRId64 " rows (%" PRId64 " so far, %.0f rows/s)\n",
                        iter, n, total, el > 0 ? (double)total * 1000.0 / (double)el : (double)total);
            else
                emit_json(r, json_pack("{s:s,s:s,s:I,s:I,s:I}", "event", "batch", "step", e.step,
                                       "iteration", (json_int_t)iter, "rows", (json_int_t)n, "total", (json_int_t)total));
            if (n == 0 || (st->batch_max && iter >= st->batch_max))
                break;
        }
        rows = total;
        if (rc != 0)
            return vmdbfail(r, "statement failed", &err);
        e.rows = rows;
        e.duration_ms = now_ms() - t0;
        /* the record of the whole step commits on its own */
        if (begin_txn(r, ph) != 0)
            return -1;
        MIG_PUSH(&r->arena, r->txn_entries, e);
        if (commit_txn(r) != 0)
            return -1;
    } else if (ph->txn == MIG_TXN_NONE) {
        /* autocommit: the entry is durable before the statement runs */
        if (mig_journal_add(r->j, r->run, &e, 1) != 0)
            return vmfail(r, "cannot write the undo log: %s", mig_journal_error(r->j));
        if (r->conn->drv->exec(r->conn, e.up_sql, &rows, &err) != 0) {
            mig_journal_set_state(r->j, &e, 1, "aborted");
            return vmdbfail(r, "statement failed", &err);
        }
        e.rows = rows;
        e.duration_ms = now_ms() - t0;
        if (insert_tracking(r, &e, "applied", &err) != 0) {
            mig_journal_set_state(r->j, &e, 1, "interrupted");
            return vmdbfail(r, "the step ran but could not be recorded in mig_applied", &err);
        }
        mig_journal_set_state(r->j, &e, 1, "done");
        remember_committed(r, &e, "applied");
    } else {
        if (ph->txn == MIG_TXN_STEP && begin_txn(r, ph) != 0)
            return -1;
        if (r->conn->drv->exec(r->conn, e.up_sql, &rows, &err) != 0) {
            /* map the failing statement back to its line in the source */
            if (err.offset >= 0) {
                uint32_t line = up->line;
                const char *t = S(r, up->text);
                for (long i = 0; i < err.offset && t[i]; i++)
                    if (t[i] == '\n')
                        line++;
                r->vm.dberr = err;
                r->vm.has_dberr = true;
                return vmfail(r, "statement failed at %s:%u: %s", S(r, up->file), line, err.message);
            }
            return vmdbfail(r, "statement failed", &err);
        }
        e.rows = rows;
        e.duration_ms = now_ms() - t0;
        MIG_PUSH(&r->arena, r->txn_entries, e);     /* its mig_applied row joins the commit */
    }
    r->applied++;
    report_step(r, "applied", e.migration, e.phase, e.step, now_ms() - t0, rows, NULL);
    return 0;
}

static int check_failed(struct runner *r, uint32_t c, const char *what)
{
    const struct mig_pcheck *k = &r->plan->checks[c];
    if (k->msg != MIG_NONE)
        return vmfail(r, "%s failed: %s (%s)", what, S(r, k->msg), S(r, k->text));
    return vmfail(r, "%s failed: %s", what, S(r, k->text));
}

static void print_require_failures(struct runner *r, uint32_t mi)
{
    for (size_t i = 0; i < r->req_failed.n; i++) {
        const struct mig_pcheck *k = &r->plan->checks[r->req_failed.v[i]];
        error_msg(r, "%s:%u: require failed in migration %s: %s%s%s", S(r, k->file), k->line,
                  S(r, r->plan->migrations[mi].name), k->msg != MIG_NONE ? S(r, k->msg) : S(r, k->text),
                  k->msg != MIG_NONE ? " — " : "", k->msg != MIG_NONE ? S(r, k->text) : "");
    }
}

/* Runs a migration's prologue (params, lets, requires). 0 when every
 * require holds; otherwise -1, with the failures in r->req_failed or a VM
 * error (report with report = true). */
static int run_prologue(struct runner *r, uint32_t mi, bool report)
{
    r->mig = mi;
    r->req_failed.n = 0;
    if (mig_vm_run(&r->vm, r->plan->migrations[mi].prologue, mi) != 0) {
        if (report)
            report_failure(r, "preflight failed: ");
        return -1;
    }
    if (r->req_failed.n) {
        if (report)
            print_require_failures(r, mi);
        return -1;
    }
    return 0;
}

static int dry_host(struct runner *r, enum mig_opcode op, const uint32_t *a, bool cond)
{
    switch (op) {
    case OP_PHASE: {
        const struct mig_pphase *ph = &r->plan->phases[a[0]];
        for (uint32_t i = 0; i < ph->nsteps; i++)
            if (!step_done(r, ph->first_step + i))
                return 0;
        return 1;
    }
    case OP_PHASE_WHEN:
        if (!cond) {
            const struct mig_pphase *ph = &r->plan->phases[a[0]];
            for (uint32_t i = 0; i < ph->nsteps; i++) {
                const struct mig_pstep *st = &r->plan->steps[ph->first_step + i];
                if (!step_done(r, ph->first_step + i))
                    report_step(r, "would skip", S(r, r->plan->migrations[st->migration].name), S(r, ph->name),
                                S(r, st->name), -1, 0, "the phase's when is false");
            }
            return 1;
        }
        return 0;
    case OP_STEP:
        return step_done(r, a[0]) ? 1 : 0;
    case OP_CHECKS:
        return 1;   /* nothing ran, nothing to verify */
    case OP_STEP_WHEN:
        if (!cond) {
            const struct mig_pstep *st = &r->plan->steps[a[0]];
            report_step(r, "would skip", S(r, r->plan->migrations[st->migration].name),
                        S(r, r->plan->phases[st->phase].name), S(r, st->name), -1, 0, "when is false");
            return 1;
        }
        return 0;
    case OP_UP: {
        const struct mig_pstep *st = &r->plan->steps[a[0]];
        const struct mig_pvariant *up = mig_plan_variant(r->plan, st->up, r->conn->drv->dialect);
        if (!up)
            return vmfail(r, "step %s has no up SQL for %s", S(r, st->name), dialect_name(r));
        report_step(r, "would apply", S(r, r->plan->migrations[st->migration].name),
                    S(r, r->plan->phases[st->phase].name), S(r, st->name), -1, 0,
                    st->down == MIG_NONE ? "down irreversible" : NULL);
        return 0;
    }
    default:
        return 0;   /* verify/assert/transactions: nothing happens in a plan */
    }
}

/* ---- migrun test: every up inverted by its down ------------------------------------ */

struct lines {
    char **v;
    size_t n, cap;
    struct mig_arena *a;
};

static int add_line(void *ctx, int n, const char *const *vals)
{
    struct lines *l = ctx;
    if (n >= 1 && vals[0])
        MIG_PUSH(l->a, *l, mig_arena_strdup(l->a, vals[0]));
    return 0;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The schema as sorted lines: tables, columns (type, default, nullability),
 * indexes, constraints, views, functions, sequences, schemas, types. */
static int snapshot(struct runner *r, struct lines *out)
{
    static const char *const sqlite_q[] = {
        "SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master "
        "WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE 'mig_applied%'",
        "SELECT 'column ' || m.name || '.' || p.name || ' ' || p.type || ' notnull=' || p.\"notnull\" || "
        "' default=' || coalesce(p.dflt_value, '') || ' pk=' || p.pk FROM sqlite_master m "
        "JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' "
        "AND m.name <> 'mig_applied'",
        NULL,
    };
#define PG_SKIP "NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
    static const char *const pg_q[] = {
        "SELECT 'table ' || n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname " PG_SKIP " AND c.relname <> 'mig_applied'",
        "SELECT 'column ' || table_schema || '.' || table_name || '.' || column_name || ' ' || data_type || "
        "coalesce(' default ' || column_default, '') || ' nullable=' || is_nullable FROM information_schema.columns "
        "WHERE table_schema " PG_SKIP " AND table_name <> 'mig_applied'",
        "SELECT 'index ' || schemaname || '.' || indexname || ': ' || indexdef FROM pg_indexes "
        "WHERE schemaname " PG_SKIP " AND tablename <> 'mig_applied'",
        "SELECT 'constraint ' || n.nspname || '.' || cl.relname || '.' || co.conname || ': ' || "
        "pg_get_constraintdef(co.oid) FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid "
        "JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE n.nspname " PG_SKIP " AND cl.relname <> 'mig_applied'",
        "SELECT 'view ' || schemaname || '.' || viewname || ': ' || definition FROM pg_views WHERE schemaname " PG_SKIP,
        "SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname " PG_SKIP,
        "SELECT 'sequence ' || schemaname || '.' || sequencename FROM pg_sequences WHERE schemaname " PG_SKIP,
        "SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema'",
        "SELECT 'type ' || n.nspname || '.' || t.typname || ' ' || t.typtype::text FROM pg_type t JOIN pg_namespace n "
        "ON n.oid = t.typnamespace WHERE t.typtype IN ('e', 'd') AND n.nspname " PG_SKIP,
        NULL,
    };
#undef PG_SKIP
    const char *const *qs = r->conn->drv->dialect == MIG_D_POSTGRES ? pg_q : sqlite_q;
    out->n = 0;
    out->a = &r->arena;
    for (size_t i = 0; qs[i]; i++) {
        struct mig_dberr e;
        if (r->conn->drv->select(r->conn, qs[i], add_line, out, &e) != 0)
            return vmdbfail(r, "cannot read the schema", &e);
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), cmp_line);
    return 0;
}

static int exec_in_txn(struct runner *r, const struct mig_pphase *ph, const char *sql, const char *what)
{
    struct mig_dberr e;
    bool txn = ph->txn != MIG_TXN_NONE;
    if (txn && r->conn->drv->begin(r->conn, &e) != 0)
        return vmdbfail(r, what, &e);
    if (r->conn->drv->exec(r->conn, sql, NULL, &e) != 0) {
        struct mig_dberr e2;
        if (txn)
            r->conn->drv->rollback(r->conn, &e2);
        return vmdbfail(r, what, &e);
    }
    if (txn && r->conn->drv->commit(r->conn, &e) != 0)
        return vmdbfail(r, what, &e);
    return 0;
}

static void test_line(struct runner *r, const char *outcome, uint32_t si, const char *note_)
{
    const struct mig_pstep *st = &r->plan->steps[si];
    const char *m = S(r, r->plan->migrations[st->migration].name), *p = S(r, r->plan->phases[st->phase].name);
    if (r->o->json) {
        emit_json(r, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?}", "event", "test", "outcome", outcome, "migration", m,
                               "phase", p, "step", S(r, st->name), "note", note_));
        return;
    }
    const char *c = strcmp(outcome, "ok") == 0 ? "\033[32m" : strcmp(outcome, "FAIL") == 0 ? "\033[1;31m" : "\033[33m";
    fprintf(r->o->out, "  %s%-12s%s %s.%s.%s%s%s%s\n", col(r, c), outcome, col(r, "\033[0m"), m, p, S(r, st->name),
            note_ ? "  (" : "", note_ ? note_ : "", note_ ? ")" : "");
}

static int test_step(struct runner *r, uint32_t si)
{
    const struct mig_pstep *st = &r->plan->steps[si];
    const struct mig_pphase *ph = &r->plan->phases[st->phase];
    const struct mig_pvariant *up = mig_plan_variant(r->plan, st->up, r->conn->drv->dialect);
    if (!up)
        return vmfail(r, "step %s has no up SQL for %s", S(r, st->name), dialect_name(r));
    char *up_sql = mig_vm_render(&r->vm, up, NULL);
    if (!up_sql)
        return -1;
    char *up_copy = mig_arena_strdup(&r->arena, up_sql);
    free(up_sql);
    if (st->down == MIG_NONE) {
        if (exec_in_txn(r, ph, up_copy, "the up failed") != 0)
            return -1;
        r->test_irreversible++;
        test_line(r, "irreversible", si, mig_arena_printf(&r->arena, "not checked: %s", S(r, st->irreversible)));
        return 0;
    }
    const struct mig_pvariant *down = mig_plan_variant(r->plan, st->down, r->conn->drv->dialect);
    if (!down)
        return vmfail(r, "step %s has no down SQL for %s", S(r, st->name), dialect_name(r));
    char *down_sql = mig_vm_render(&r->vm, down, NULL);
    if (!down_sql)
        return -1;
    char *down_copy = mig_arena_strdup(&r->arena, down_sql);
    free(down_sql);
    struct lines before = { 0 }, after = { 0 };
    if (snapshot(r, &before) != 0 || exec_in_txn(r, ph, up_copy, "the up failed") != 0 ||
        exec_in_txn(r, ph, down_copy, "the down failed") != 0 || snapshot(r, &after) != 0)
        return -1;
    /* differences, both ways, on the sorted lines */
    MIG_VEC(const char *) missing = { 0 }, extra = { 0 };
    size_t i = 0, k = 0;
    while (i < before.n || k < after.n) {
        int c = i == before.n ? 1 : k == after.n ? -1 : strcmp(before.v[i], after.v[k]);
        if (c == 0) {
            i++;
            k++;
        } else if (c < 0) {
            MIG_PUSH(&r->arena, missing, before.v[i++]);
        } else {
            MIG_PUSH(&r->arena, extra, after.v[k++]);
        }
    }
    if (missing.n || extra.n) {
        r->test_failed++;
        test_line(r, "FAIL", si, "the down does not undo the up");
        for (size_t j = 0; j < extra.n; j++)
            if (r->o->json)
                emit_json(r, json_pack("{s:s,s:s,s:s}", "event", "difference", "kind", "left behind", "object", extra.v[j]));
            else
                fprintf(r->o->out, "      left behind by the down: %s\n", extra.v[j]);
        for (size_t j = 0; j < missing.n; j++)
            if (r->o->json)
                emit_json(r, json_pack("{s:s,s:s,s:s}", "event", "difference", "kind", "lost", "object", missing.v[j]));
            else
                fprintf(r->o->out, "      lost (was there before the up): %s\n", missing.v[j]);
    } else {
        r->test_ok++;
        test_line(r, "ok", si, NULL);
    }
    /* go on from the state the up leaves */
    return exec_in_txn(r, ph, up_copy, "the up failed (the second time)");
}

static int test_host(struct runner *r, enum mig_opcode op, const uint32_t *a, bool cond)
{
    switch (op) {
    case OP_PHASE_WHEN:
        if (cond)
            return 0;
        for (uint32_t i = 0; i < r->plan->phases[a[0]].nsteps; i++) {
            r->test_skipped++;
            test_line(r, "skipped", r->plan->phases[a[0]].first_step + i, "the phase's when is false");
        }
        return 1;
    case OP_STEP_WHEN:
        if (cond)
            return 0;
        r->test_skipped++;
        test_line(r, "skipped", a[0], "when is false");
        return 1;
    case OP_CHECKS:
        return 1;
    case OP_UP:
        r->cur_step = a[0];
        return test_step(r, a[0]);
    default:
        return 0;
    }
}

static int host(void *ctx, struct mig_vm *vm, enum mig_opcode op, const uint32_t *a, bool cond)
{
    struct runner *r = ctx;
    (void)vm;
    if (op == OP_REQUIRE) {
        if (!cond && !r->prologue_only_requires)
            MIG_PUSH(&r->arena, r->req_failed, a[0]);
        return 0;
    }
    if (op == OP_PHASE || op == OP_PHASE_WHEN || op == OP_TXN_BEGIN) {
        r->cur_phase = a[0];
        r->cur_step = MIG_NONE;
    } else if (op == OP_STEP || op == OP_STEP_WHEN || op == OP_UP) {
        r->cur_step = a[0];
    }
    if (r->testing)
        return test_host(r, op, a, cond);
    if (r->dry) {
        int rc = dry_host(r, op, a, cond);
        if (rc == 1 && (op == OP_STEP || op == OP_STEP_WHEN))
            r->cur_step = MIG_NONE;
        return rc;
    }
    switch (op) {
    case OP_PHASE: {
        const struct mig_pphase *ph = &r->plan->phases[a[0]];
        for (uint32_t i = 0; i < ph->nsteps; i++)
            if (!step_done(r, ph->first_step + i))
                return 0;
        return 1;
    }
    case OP_PHASE_WHEN: {
        if (cond)
            return 0;
        const struct mig_pphase *ph = &r->plan->phases[a[0]];
        if (begin_txn(r, ph) != 0)
            return -1;
        for (uint32_t i = 0; i < ph->nsteps; i++)
            if (!step_done(r, ph->first_step + i) && record_skip(r, ph->first_step + i, "the phase's when is false") != 0)
                return -1;
        return commit_txn(r) != 0 ? -1 : 1;
    }
    case OP_TXN_BEGIN: {
        const struct mig_pphase *ph = &r->plan->phases[a[0]];
        struct mig_dberr e;
        if (ph->txn == MIG_TXN_PHASE)
            return begin_txn(r, ph);
        if ((ph->timeout_ms || ph->lock_timeout_ms) &&
            r->conn->drv->set_timeouts(r->conn, ph->timeout_ms, ph->lock_timeout_ms, false, &e) != 0)
            return vmdbfail(r, "cannot set the timeouts", &e);
        return 0;
    }
    case OP_STEP:
        r->step_t0 = now_ms();
        return step_done(r, a[0]) ? 1 : 0;
    case OP_STEP_WHEN:
        if (cond)
            return 0;
        return record_skip(r, a[0], "when is false") != 0 ? -1 : 1;
    case OP_UP:
        return run_up(r, a[0]);
    case OP_CHECKS:
        return 0;
    case OP_VERIFY:
        return cond ? 0 : check_failed(r, a[0], "verify");
    case OP_STEP_END: {
        r->cur_step = MIG_NONE;
        const struct mig_pphase *ph = &r->plan->phases[r->plan->steps[a[0]].phase];
        if (ph->txn == MIG_TXN_STEP && !r->plan->steps[a[0]].batch)
            return commit_txn(r);
        return 0;
    }
    case OP_ASSERT:
        return cond ? 0 : check_failed(r, a[0], "assert");
    case OP_TXN_COMMIT:
        return commit_txn(r);
    case OP_PHASE_END: {
        const struct mig_pphase *ph = &r->plan->phases[a[0]];
        struct mig_dberr e;
        r->cur_phase = r->cur_step = MIG_NONE;
        if (ph->txn != MIG_TXN_PHASE && (ph->timeout_ms || ph->lock_timeout_ms))
            r->conn->drv->set_timeouts(r->conn, 0, 0, false, &e);
        return 0;
    }
    default:
        return vmfail(r, "unexpected plan op %s", mig_opinfo[op].name);
    }
}

/* ---- undo --------------------------------------------------------------------------- */

/* Undoes one applied (or skipped) step: its down and the removal of its
 * tracking row commit together, with an `undone` journal entry. */
static int undo_one(struct runner *r, const struct undo_item *u, char *why, size_t whylen)
{
    struct mig_jentry e;
    memset(&e, 0, sizeof(e));
    mig_journal_uid(e.uid);
    e.migration = u->migration;
    e.phase = u->phase;
    e.step = u->step;
    e.action = "undone";
    e.txn = u->txn;
    e.undoes = u->uid;
    e.file = u->file;
    e.line = u->line;
    bool skipped = strcmp(u->status, "skipped") == 0;
    e.down_sql = skipped ? NULL : u->down;
    struct mig_dberr err;
    int64_t t0 = now_ms(), rows = 0;
    bool none = u->txn && strcmp(u->txn, "none") == 0 && !skipped;
    if (none) {
        if (mig_journal_add(r->j, r->run, &e, 1) != 0) {
            snprintf(why, whylen, "cannot write the undo log: %s", mig_journal_error(r->j));
            return -1;
        }
        if (r->conn->drv->exec(r->conn, u->down, &rows, &err) != 0) {
            mig_journal_set_state(r->j, &e, 1, "aborted");
            snprintf(why, whylen, "%s", err.message);
            return -1;
        }
        if (delete_tracking(r, u->migration, u->phase, u->step, &err) != 0) {
            mig_journal_set_state(r->j, &e, 1, "interrupted");
            snprintf(why, whylen, "the down ran but mig_applied could not be updated: %s", err.message);
            return -2;
        }
        mig_journal_set_state(r->j, &e, 1, "done");
    } else {
        if (r->conn->drv->begin(r->conn, &err) != 0) {
            snprintf(why, whylen, "%s", err.message);
            return -1;
        }
        if ((!skipped && r->conn->drv->exec(r->conn, u->down, &rows, &err) != 0) ||
            delete_tracking(r, u->migration, u->phase, u->step, &err) != 0) {
            struct mig_dberr e2;
            r->conn->drv->rollback(r->conn, &e2);
            snprintf(why, whylen, "%s", err.message);
            return -1;
        }
        e.rows = rows;
        e.duration_ms = now_ms() - t0;
        if (mig_journal_add(r->j, r->run, &e, 1) != 0) {
            struct mig_dberr e2;
            r->conn->drv->rollback(r->conn, &e2);
            snprintf(why, whylen, "cannot write the undo log: %s", mig_journal_error(r->j));
            return -1;
        }
        if (r->conn->drv->commit(r->conn, &err) != 0) {
            mig_journal_set_state(r->j, &e, 1, "aborted");
            snprintf(why, whylen, "%s", err.message);
            return -1;
        }
        mig_journal_set_state(r->j, &e, 1, "done");
    }
    r->undone++;
    report_step(r, skipped ? "unrecorded" : "undone", u->migration, u->phase, u->step, now_ms() - t0, rows,
                skipped ? "was skipped: nothing to undo" : NULL);
    return 0;
}

/* Undoes a run of steps of one phase (newest first) in one transaction:
 * their downs, the removal of their mig_applied rows and their `undone`
 * entries commit together. Steps of `transaction none` phases go one by
 * one (undo_one). Returns 0, or -1 with why (nothing of the group done). */
static bool same_group(const struct undo_item *a, const struct undo_item *b)
{
    return strcmp(a->migration, b->migration) == 0 && strcmp(a->phase, b->phase) == 0 &&
           strcmp(a->txn ? a->txn : "", "none") != 0 && strcmp(b->txn ? b->txn : "", "none") != 0;
}

static int undo_group(struct runner *r, const struct undo_item *const *u, size_t n, char *why, size_t whylen)
{
    if (n == 1)
        return undo_one(r, u[0], why, whylen);
    struct mig_dberr err, e2;
    int64_t t0 = now_ms();
    MIG_VEC(struct mig_jentry) entries = { 0 };
    int64_t *rows = mig_arena_alloc(&r->arena, n * sizeof(*rows));
    if (r->conn->drv->begin(r->conn, &err) != 0) {
        snprintf(why, whylen, "%s", err.message);
        return -1;
    }
    /* the tracking rows of the whole group go in one statement */
    char *del = mig_arena_printf(&r->arena, "DELETE FROM mig_applied WHERE entry_uid IN (");
    for (size_t i = 0; i < n; i++)
        del = mig_arena_printf(&r->arena, "%s%s%s", del, i ? ", " : "", sql_lit(r, u[i]->uid));
    del = mig_arena_printf(&r->arena, "%s)", del);
    for (size_t i = 0; i < n; i++) {
        bool skipped = strcmp(u[i]->status, "skipped") == 0;
        if (!skipped && r->conn->drv->exec(r->conn, u[i]->down, &rows[i], &err) != 0) {
            r->conn->drv->rollback(r->conn, &e2);
            snprintf(why, whylen, "%s.%s.%s: %s", u[i]->migration, u[i]->phase, u[i]->step, err.message);
            return -1;
        }
        struct mig_jentry e;
        memset(&e, 0, sizeof(e));
        mig_journal_uid(e.uid);
        e.migration = u[i]->migration;
        e.phase = u[i]->phase;
        e.step = u[i]->step;
        e.action = "undone";
        e.txn = u[i]->txn;
        e.undoes = u[i]->uid;
        e.file = u[i]->file;
        e.line = u[i]->line;
        e.down_sql = skipped ? NULL : u[i]->down;
        e.rows = rows[i];
        MIG_PUSH(&r->arena, entries, e);
    }
    if (r->conn->drv->exec(r->conn, del, NULL, &err) != 0) {
        r->conn->drv->rollback(r->conn, &e2);
        snprintf(why, whylen, "cannot update mig_applied: %s", err.message);
        return -1;
    }
    if (mig_journal_add(r->j, r->run, entries.v, entries.n) != 0) {
        r->conn->drv->rollback(r->conn, &e2);
        snprintf(why, whylen, "cannot write the undo log: %s", mig_journal_error(r->j));
        return -1;
    }
    if (r->conn->drv->commit(r->conn, &err) != 0) {
        mig_journal_set_state(r->j, entries.v, entries.n, "aborted");
        snprintf(why, whylen, "%s", err.message);
        return -1;
    }
    mig_journal_set_state(r->j, entries.v, entries.n, "done");
    int64_t ms = now_ms() - t0;
    for (size_t i = 0; i < n; i++) {
        bool skipped = strcmp(u[i]->status, "skipped") == 0;
        r->undone++;
        report_step(r, skipped ? "unrecorded" : "undone", u[i]->migration, u[i]->phase, u[i]->step,
                    i == 0 ? ms : -1, rows[i], skipped ? "was skipped: nothing to undo" : NULL);
    }
    return 0;
}

/* Undoes items (newest first), a phase's run of them per transaction.
 * Returns the number undone; *failed gets the index of the first item not
 * undone (or n). */
static size_t undo_items(struct runner *r, const struct undo_item *const *u, size_t n, char *why, size_t whylen,
                         int *rc)
{
    size_t i = 0;
    *rc = 0;
    while (i < n) {
        size_t k = i + 1;
        while (k < n && same_group(u[i], u[k]))
            k++;
        int g = undo_group(r, u + i, k - i, why, whylen);
        if (g != 0) {
            *rc = g;
            return i;
        }
        i = k;
    }
    return n;
}

/* After a failure: undo what this run committed for the failing migration. */
static int undo_committed(struct runner *r)
{
    size_t n = r->committed.n, k = 0;
    const struct undo_item **u = mig_arena_alloc(&r->arena, (n + 1) * sizeof(*u));
    for (size_t i = n; i-- > 0;) {
        u[k] = &r->committed.v[i];
        if (strcmp(u[k]->status, "applied") == 0 && !u[k]->down) {
            /* undo what comes after it, then stop there */
            char why[2048];
            int rc;
            if (undo_items(r, u, k, why, sizeof(why), &rc) != k)
                error_msg(r, "undoing failed: %s", why);
            error_msg(r, "cannot undo %s.%s.%s: its down is irreversible (%s); the migration is left partly "
                      "applied — a person must look", u[k]->migration, u[k]->phase, u[k]->step,
                      u[k]->irreversible ? u[k]->irreversible : "no reason given");
            return -1;
        }
        k++;
    }
    char why[2048];
    int rc;
    if (undo_items(r, u, k, why, sizeof(why), &rc) != k) {
        error_msg(r, "undoing failed: %s; the migration is left partly applied — a person must look", why);
        return -1;
    }
    r->committed.n = 0;
    return 0;
}

/* ---- commands ------------------------------------------------------------------------- */

static bool target_ok(struct runner *r, uint32_t mi, char *why, size_t n)
{
    const struct mig_pmigration *m = &r->plan->migrations[mi];
    if (m->ntargets == 0)
        return true;
    int d = r->conn->drv->dialect;
    int64_t v = r->conn->drv->server_version(r->conn);
    for (uint32_t i = 0; i < m->ntargets; i++) {
        if (m->targets[i].dialect != d)
            continue;
        int64_t have = d == MIG_D_POSTGRES ? v / 10000 : v;
        if (m->targets[i].min_version && have < m->targets[i].min_version) {
            snprintf(why, n, "migration %s needs %s >= %" PRId64 ", the database is %" PRId64,
                     S(r, m->name), dialect_name(r), m->targets[i].min_version, have);
            return false;
        }
        return true;
    }
    snprintf(why, n, "migration %s does not target %s (its targets: %s%s)", S(r, m->name), dialect_name(r),
             m->targets[0].dialect == MIG_D_POSTGRES ? "postgres" : "sqlite",
             m->ntargets > 1 ? (m->targets[1].dialect == MIG_D_POSTGRES ? ", postgres" : ", sqlite") : "");
    return false;
}

static bool migration_done(struct runner *r, uint32_t mi)
{
    const struct mig_pmigration *m = &r->plan->migrations[mi];
    for (uint32_t p = 0; p < m->nphases; p++) {
        const struct mig_pphase *ph = &r->plan->phases[m->first_phase + p];
        for (uint32_t s = 0; s < ph->nsteps; s++)
            if (!step_done(r, ph->first_step + s))
                return false;
    }
    return true;
}

/* Applied steps whose up source changed since (drift): named, counted. */
static unsigned check_drift(struct runner *r)
{
    unsigned n = 0;
    for (uint32_t si = 0; si < r->plan->nsteps; si++) {
        const struct mig_pstep *st = &r->plan->steps[si];
        const char *m = S(r, r->plan->migrations[st->migration].name);
        struct tracked *t = tracked_of(r, m, S(r, r->plan->phases[st->phase].name), S(r, st->name));
        if (!t || strcmp(t->status, "applied") != 0 || !t->checksum)
            continue;
        const struct mig_pvariant *up = mig_plan_variant(r->plan, st->up, r->conn->drv->dialect);
        char sum[65] = "";
        if (up)
            hex(up->sha256, 32, sum);
        if (strcmp(sum, t->checksum) != 0) {
            error_msg(r, "%s:%u: drift: step %s.%s.%s was applied with a different 'up' (checksum %.12s…, "
                      "the sources now have %.12s…); restore its source, or roll it back with the journal's "
                      "down before changing it", S(r, st->file), st->line, m, S(r, r->plan->phases[st->phase].name),
                      S(r, st->name), t->checksum, sum[0] ? sum : "no SQL for this dialect");
            n++;
        }
    }
    return n;
}

/* --to MIGRATION[.PHASE]: the last migration to run and, optionally, the last phase. */
static int parse_to(struct runner *r, int *last_mig, int *last_phase)
{
    *last_mig = (int)r->plan->nmigrations - 1;
    *last_phase = -1;
    if (!r->o->to)
        return 0;
    const char *dot = strchr(r->o->to, '.');
    size_t n = dot ? (size_t)(dot - r->o->to) : strlen(r->o->to);
    int m = find_migration(r->plan, r->o->to, n);
    if (m < 0) {
        error_msg(r, "--to %s: there is no migration '%.*s' in the plan", r->o->to, (int)n, r->o->to);
        return -1;
    }
    *last_mig = m;
    if (dot) {
        const struct mig_pmigration *pm = &r->plan->migrations[m];
        for (uint32_t p = 0; p < pm->nphases; p++)
            if (strcmp(S(r, r->plan->phases[pm->first_phase + p].name), dot + 1) == 0)
                *last_phase = (int)(pm->first_phase + p);
        if (*last_phase < 0) {
            error_msg(r, "--to %s: migration %.*s has no phase '%s'", r->o->to, (int)n, r->o->to, dot + 1);
            return -1;
        }
    }
    return 0;
}

static int apply_or_plan(struct mig_plan *plan, const struct mig_run_opts *o, bool dry)
{
    struct runner rr, *r = &rr;
    memset(r, 0, sizeof(*r));
    r->o = o;
    r->plan = plan;
    r->dry = dry;
    r->mig = r->cur_phase = r->cur_step = MIG_NONE;
    int rc = MIG_EXIT_REFUSED;
    int last_mig, last_phase;
    if (parse_to(r, &last_mig, &last_phase) != 0 || parse_params(r) != 0) {
        rc = MIG_EXIT_USAGE;
        goto out;
    }
    if (setup(r, dry) != 0 || setup_vm(r) != 0)
        goto out;
    /* what is pending */
    MIG_VEC(uint32_t) pending = { 0 };
    for (uint32_t i = 0; i <= (uint32_t)last_mig && i < plan->nmigrations; i++)
        if (!migration_done(r, i))
            MIG_PUSH(&r->arena, pending, i);
    /* preflight: drift, targets, file-level lets, requires — before any change */
    bool *recheck = mig_arena_alloc(&r->arena, (plan->nmigrations + 1) * sizeof(bool));
    int64_t *retries = mig_arena_alloc(&r->arena, (plan->nphases + 1) * sizeof(int64_t));
    unsigned refused = check_drift(r);
    for (size_t i = 0; i < pending.n; i++) {
        char why[512];
        if (!target_ok(r, pending.v[i], why, sizeof(why))) {
            error_msg(r, "%s:%u: %s", S(r, plan->migrations[pending.v[i]].file), plan->migrations[pending.v[i]].line, why);
            refused++;
        }
    }
    if (refused == 0 && pending.n) {
        if (mig_vm_run(&r->vm, plan->globals_block, 0) != 0) {
            report_failure(r, "evaluating the file-level lets failed: ");
            goto out;
        }
        /* A migration waiting (after) for another one pending in this run
         * may require what that one creates: its requires are checked again
         * when its turn comes instead of refusing the run now. */
        for (size_t i = 0; i < pending.n; i++) {
            uint32_t mi = pending.v[i];
            const struct mig_pmigration *m = &plan->migrations[mi];
            const char *waits_for = NULL;
            for (uint32_t k = 0; k < m->nafter && !waits_for; k++)
                for (size_t j = 0; j < i; j++)
                    if (strcmp(S(r, m->after[k]), S(r, plan->migrations[pending.v[j]].name)) == 0) {
                        waits_for = S(r, m->after[k]);
                        break;
                    }
            if (run_prologue(r, mi, !waits_for) == 0)
                continue;
            if (waits_for) {
                recheck[mi] = true;
                note(r, "the requires of %s do not hold yet; they are checked again after %s runs", S(r, m->name),
                     waits_for);
            } else {
                refused++;
            }
        }
    }
    if (refused) {
        error_msg(r, "preflight refused the run; nothing was changed");
        goto out;
    }
    if (pending.n == 0) {
        note(r, "nothing to do: %s is up to date (%u migration%s applied)", r->conn->display, plan->nmigrations,
             plan->nmigrations == 1 ? "" : "s");
        rc = MIG_EXIT_OK;
        goto out;
    }
    if (!dry) {
        if (!r->has_table && ensure_table(r) != 0)
            goto out;
        r->run = mig_journal_run_begin(r->j, "apply", r->conn->target, r->conn->display, dialect_name(r));
        if (r->run < 0) {
            error_msg(r, "%s", mig_journal_error(r->j));
            goto out;
        }
    }
    note(r, "%s %zu migration%s %s %s", dry ? "plan:" : "applying", pending.n, pending.n == 1 ? "" : "s",
         dry ? "pending on" : "to", r->conn->display);
    int64_t t0 = now_ms();
    rc = MIG_EXIT_OK;
    for (size_t i = 0; i < pending.n; i++) {
        uint32_t mi = pending.v[i];
        r->mig = mi;
        r->cur_phase = r->cur_step = MIG_NONE;
        r->committed.n = 0;
        report_migration(r, mi, dry ? "would run" : "migration");
        if (recheck[mi] && !dry && run_prologue(r, mi, true) != 0) {
            error_msg(r, "refused: the requires of %s still fail after the migrations it comes after ran; "
                      "those stay applied, nothing of %s was changed", S(r, plan->migrations[mi].name),
                      S(r, plan->migrations[mi].name));
            rc = MIG_EXIT_REFUSED;
            break;
        }
        /* --to M.P: phases after P are left for later */
        uint32_t body = plan->migrations[mi].body;
        if ((int)mi == last_mig && last_phase >= 0) {
            for (uint32_t p = (uint32_t)last_phase + 1; p < plan->migrations[mi].first_phase + plan->migrations[mi].nphases; p++) {
                const struct mig_pphase *ph = &plan->phases[p];
                for (uint32_t s = 0; s < ph->nsteps; s++) {
                    /* mark the later steps as done for this run so that PHASE jumps over them */
                    const struct mig_pstep *st = &plan->steps[ph->first_step + s];
                    struct tracked *t = MIG_NEW(&r->arena, struct tracked);
                    t->migration = (char *)S(r, plan->migrations[mi].name);
                    t->phase = (char *)S(r, ph->name);
                    t->step = (char *)S(r, st->name);
                    t->status = "deferred";
                    t->uid = "";
                    if (!tracked_of(r, t->migration, t->phase, t->step))
                        mig_strmap_put(&r->tracked, key3(r, t->migration, t->phase, t->step), t);
                }
            }
        }
        /* The body runs again after a transient error of a phase with
         * `retry`: its committed steps are skipped, the rest re-runs. */
        int vrc;
        while ((vrc = mig_vm_run(&r->vm, body, mi)) != 0 && !dry && r->vm.has_dberr && r->vm.dberr.transient &&
               !r->vm.dberr.connection_lost && r->cur_phase != MIG_NONE &&
               retries[r->cur_phase] < plan->phases[r->cur_phase].retry) {
            const struct mig_pphase *ph = &plan->phases[r->cur_phase];
            struct mig_dberr e;
            if (r->txn_open) {
                r->conn->drv->rollback(r->conn, &e);
                r->txn_open = false;
            }
            r->txn_entries.n = 0;
            retries[r->cur_phase]++;
            note(r, "retry %" PRId64 "/%" PRId64 " of phase %s in %" PRId64 " ms after a transient error: %s%s%s%s",
                 retries[r->cur_phase], ph->retry, S(r, ph->name), ph->retry_every_ms, r->vm.dberr.message,
                 r->vm.dberr.sqlstate[0] ? " (SQLSTATE " : "", r->vm.dberr.sqlstate,
                 r->vm.dberr.sqlstate[0] ? ")" : "");
            if (o->json)
                emit_json(r, json_pack("{s:s,s:s,s:I,s:s}", "event", "retry", "phase", S(r, ph->name),
                                       "attempt", (json_int_t)retries[r->cur_phase], "error", r->vm.dberr.message));
            sleep_ms(ph->retry_every_ms);
            r->cur_phase = r->cur_step = MIG_NONE;
        }
        if (vrc == 0)
            continue;
        /* failure: the open transaction rolls back, then by default the
         * migration's committed work of this run is undone */
        struct mig_dberr e;
        bool was_open = r->txn_open;
        bool lost = r->vm.has_dberr && r->vm.dberr.connection_lost;
        if (r->txn_open) {
            r->conn->drv->rollback(r->conn, &e);
            r->txn_open = false;
            r->txn_entries.n = 0;
        }
        /* session timeouts of a `transaction none` phase must not limit the undo */
        if (!lost && r->cur_phase != MIG_NONE && plan->phases[r->cur_phase].txn == MIG_TXN_NONE &&
            (plan->phases[r->cur_phase].timeout_ms || plan->phases[r->cur_phase].lock_timeout_ms))
            r->conn->drv->set_timeouts(r->conn, 0, 0, false, &e);
        report_failure(r, dry ? "plan failed: " : "");
        if (dry) {
            rc = MIG_EXIT_FAILED;
            break;
        }
        if (was_open)
            note(r, "the transaction in progress was rolled back");
        if (lost && !o->on_error_stop && r->committed.n) {
            /* the server rolled back what was open; undo the rest on a new connection */
            char err[1024] = "the lock";
            struct mig_conn *fresh = NULL;
            bool back = mig_connect(o->db_url, o->lock_wait_ms, &fresh, err, sizeof(err)) == 0;
            if (back) {
                mig_disconnect(r->conn);
                r->conn = r->vm.conn = fresh;
                back = take_lock(r) == 0;
            }
            if (!back) {
                error_msg(r, "the connection was lost and could not be made again (%s); %s stays partly applied: "
                          "run migrun apply or migrun rollback when the server is back — the undo log knows what ran",
                          err, S(r, plan->migrations[mi].name));
                rc = MIG_EXIT_DIRTY;
                break;
            }
            note(r, "the connection was lost; reconnected to undo what %s committed", S(r, plan->migrations[mi].name));
        } else if (lost) {
            note(r, "the connection was lost: the server rolled back the transaction in progress");
        }
        if (o->on_error_stop) {
            note(r, "stopped (--on-error stop): the committed phases of %s stay applied", S(r, plan->migrations[mi].name));
            rc = MIG_EXIT_FAILED;
        } else if (r->committed.n == 0) {
            note(r, "nothing of %s was committed: the database is as before", S(r, plan->migrations[mi].name));
            rc = MIG_EXIT_FAILED;
        } else {
            note(r, "undoing what %s committed in this run", S(r, plan->migrations[mi].name));
            rc = undo_committed(r) == 0 ? MIG_EXIT_FAILED : MIG_EXIT_DIRTY;
            if (rc == MIG_EXIT_FAILED)
                note(r, "rolled back: %s is as it was before this run", S(r, plan->migrations[mi].name));
        }
        break;
    }
    if (!dry) {
        mig_journal_run_end(r->j, r->run, rc == MIG_EXIT_OK ? "success" : rc == MIG_EXIT_FAILED ?
                            (o->on_error_stop ? "failed" : "rolled_back") : rc == MIG_EXIT_REFUSED ? "refused" : "failed");
        if (rc == MIG_EXIT_OK) {
            if (o->json)
                emit_json(r, json_pack("{s:s,s:I,s:I,s:I}", "event", "done", "applied", (json_int_t)r->applied,
                                       "skipped", (json_int_t)r->skipped, "ms", (json_int_t)(now_ms() - t0)));
            else
                fprintf(o->out, "done: %u step%s applied, %u skipped in %" PRId64 " ms\n", r->applied,
                        r->applied == 1 ? "" : "s", r->skipped, now_ms() - t0);
        }
    }
out:
    teardown(r);
    return rc;
}

int mig_run_apply(struct mig_plan *plan, const struct mig_run_opts *o)
{
    return apply_or_plan(plan, o, false);
}

int mig_run_plan(struct mig_plan *plan, const struct mig_run_opts *o)
{
    return apply_or_plan(plan, o, true);
}

int mig_run_status(struct mig_plan *plan, const struct mig_run_opts *o)
{
    struct runner rr, *r = &rr;
    memset(r, 0, sizeof(*r));
    r->o = o;
    r->plan = plan;
    int rc = MIG_EXIT_REFUSED;
    if (setup(r, true) != 0)
        goto out;
    rc = MIG_EXIT_OK;
    if (!o->json)
        fprintf(o->out, "%s\n", r->conn->display);
    for (uint32_t mi = 0; mi < plan->nmigrations; mi++) {
        const struct mig_pmigration *m = &plan->migrations[mi];
        unsigned applied = 0, skipped = 0, drifted = 0, total = 0;
        for (uint32_t p = 0; p < m->nphases; p++) {
            const struct mig_pphase *ph = &plan->phases[m->first_phase + p];
            for (uint32_t s = 0; s < ph->nsteps; s++) {
                const struct mig_pstep *st = &plan->steps[ph->first_step + s];
                struct tracked *t = tracked_of(r, S(r, m->name), S(r, ph->name), S(r, st->name));
                total++;
                if (!t)
                    continue;
                if (strcmp(t->status, "skipped") == 0) {
                    skipped++;
                    continue;
                }
                applied++;
                const struct mig_pvariant *up = mig_plan_variant(plan, st->up, r->conn->drv->dialect);
                char sum[65] = "";
                if (up)
                    hex(up->sha256, 32, sum);
                if (t->checksum && strcmp(sum, t->checksum) != 0)
                    drifted++;
            }
        }
        const char *state = drifted ? "drifted" : applied + skipped == total ? "applied"
                          : applied + skipped ? "partial" : "pending";
        if (o->json)
            emit_json(r, json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I}", "event", "migration", "migration", S(r, m->name),
                                   "status", state, "steps", (json_int_t)total, "applied", (json_int_t)applied,
                                   "skipped", (json_int_t)skipped, "drifted", (json_int_t)drifted));
        else
            fprintf(o->out, "%-8s %s  (%u step%s: %u applied, %u skipped%s%s)\n", state, S(r, m->name), total,
                    total == 1 ? "" : "s", applied, skipped, drifted ? ", drifted: " : "",
                    drifted ? mig_arena_printf(&r->arena, "%u", drifted) : "");
        for (uint32_t p = 0; p < m->nphases; p++) {
            const struct mig_pphase *ph = &plan->phases[m->first_phase + p];
            for (uint32_t s = 0; s < ph->nsteps; s++) {
                const struct mig_pstep *st = &plan->steps[ph->first_step + s];
                struct tracked *t = tracked_of(r, S(r, m->name), S(r, ph->name), S(r, st->name));
                const char *ss = "pending";
                if (t) {
                    ss = t->status;
                    const struct mig_pvariant *up = mig_plan_variant(plan, st->up, r->conn->drv->dialect);
                    char sum[65] = "";
                    if (up)
                        hex(up->sha256, 32, sum);
                    if (strcmp(t->status, "applied") == 0 && t->checksum && strcmp(sum, t->checksum) != 0)
                        ss = "drifted";
                }
                if (o->json)
                    emit_json(r, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?}", "event", "step", "migration", S(r, m->name),
                                           "phase", S(r, ph->name), "step", S(r, st->name), "status", ss,
                                           "applied_at", t ? t->applied_at : NULL));
                else
                    fprintf(o->out, "  %-8s %s.%s%s%s\n", ss, S(r, ph->name), S(r, st->name),
                            t && t->applied_at ? "  " : "", t && t->applied_at ? t->applied_at : "");
            }
        }
    }
    /* what the database records but the sources do not know */
    struct mig_strmap known = { .arena = &r->arena };
    for (uint32_t si = 0; si < plan->nsteps; si++) {
        const struct mig_pstep *st = &plan->steps[si];
        mig_strmap_put(&known, key3(r, S(r, plan->migrations[st->migration].name), S(r, plan->phases[st->phase].name),
                                    S(r, st->name)), (void *)1);
    }
    for (size_t i = 0; i < r->tracked_list.n; i++) {
        struct tracked *t = r->tracked_list.v[i];
        if (mig_strmap_get(&known, key3(r, t->migration, t->phase, t->step)))
            continue;
        if (o->json)
            emit_json(r, json_pack("{s:s,s:s,s:s,s:s,s:s}", "event", "step", "migration", t->migration, "phase",
                                   t->phase, "step", t->step, "status", "unknown"));
        else
            fprintf(o->out, "unknown  %s.%s.%s  (%s in the database, not in the sources)\n", t->migration, t->phase,
                    t->step, t->status);
    }
out:
    teardown(r);
    return rc;
}

static int cmp_undo(const void *pa, const void *pb)
{
    const struct undo_item *a = pa, *b = pb;
    return (a->order < b->order) - (a->order > b->order);   /* newest first */
}

int mig_run_rollback(struct mig_plan *plan, const struct mig_run_opts *o)
{
    struct runner rr, *r = &rr;
    memset(r, 0, sizeof(*r));
    r->o = o;
    r->plan = plan;
    r->mig = r->cur_phase = r->cur_step = MIG_NONE;
    int rc = MIG_EXIT_REFUSED;
    if (setup(r, false) != 0)
        goto out;
    if (!r->has_table || r->tracked_list.n == 0) {
        note(r, "nothing to roll back: %s records no applied migrations", r->conn->display);
        rc = MIG_EXIT_OK;
        goto out;
    }
    /* the journal's knowledge of every tracked step */
    MIG_VEC(struct undo_item) all = { 0 };
    unsigned missing = 0;
    for (size_t i = 0; i < r->tracked_list.n; i++) {
        struct tracked *t = r->tracked_list.v[i];
        struct undo_item u;
        memset(&u, 0, sizeof(u));
        u.migration = t->migration;
        u.phase = t->phase;
        u.step = t->step;
        u.uid = t->uid;
        u.status = t->status;
        int64_t id = 0, run = 0, line = 0;
        char *down = NULL, *irr = NULL, *txn = NULL, *file = NULL;
        int found = mig_journal_lookup(r->j, t->uid, &id, &run, &down, &irr, &txn, &file, &line);
        if (found < 0) {
            error_msg(r, "%s", mig_journal_error(r->j));
            goto out;
        }
        if (found == 0) {
            u.down = down ? mig_arena_strdup(&r->arena, down) : NULL;
            u.irreversible = irr ? mig_arena_strdup(&r->arena, irr) : NULL;
            u.txn = mig_arena_strdup(&r->arena, txn ? txn : "phase");
            u.file = mig_arena_strdup(&r->arena, file ? file : "");
            u.line = line;
            u.order = id;
            t->run = run;
        } else {
            u.order = -1;
            missing++;
        }
        free(down);
        free(irr);
        free(txn);
        free(file);
        MIG_PUSH(&r->arena, all, u);
    }
    /* the journal is lost for some steps: the compiled downs of the sources */
    if (missing) {
        if (!plan) {
            error_msg(r, "the journal %s has no record of %u applied step%s of %s; give the sources "
                      "(migrun rollback PATH… --db …) to fall back to their compiled downs", o->journal, missing,
                      missing == 1 ? "" : "s", r->conn->display);
            goto out;
        }
        if (setup_vm(r) != 0)
            goto out;
        r->prologue_only_requires = true;
        if (mig_vm_run(&r->vm, plan->globals_block, 0) != 0) {
            report_failure(r, "evaluating the file-level lets failed: ");
            goto out;
        }
        note(r, "note: the journal has no record of %u step%s; using the down of the current sources for them",
             missing, missing == 1 ? "" : "s");
        int64_t order = 0;
        for (size_t i = 0; i < all.n; i++) {
            struct undo_item *u = &all.v[i];
            if (u->order >= 0)
                continue;
            u->order = -1000000000 + order++;   /* older than anything journaled, in tracking order */
            u->txn = "phase";
            for (uint32_t si = 0; si < plan->nsteps; si++) {
                const struct mig_pstep *st = &plan->steps[si];
                if (strcmp(u->migration, S(r, plan->migrations[st->migration].name)) != 0 ||
                    strcmp(u->phase, S(r, plan->phases[st->phase].name)) != 0 || strcmp(u->step, S(r, st->name)) != 0)
                    continue;
                u->txn = (char *)txn_name(plan->phases[st->phase].txn);
                u->file = (char *)S(r, st->file);
                u->line = st->line;
                if (st->down == MIG_NONE) {
                    u->irreversible = (char *)S(r, st->irreversible);
                    break;
                }
                r->mig = st->migration;
                if (mig_vm_run(&r->vm, plan->migrations[st->migration].prologue, st->migration) != 0) {
                    report_failure(r, "evaluating the params of the sources failed: ");
                    goto out;
                }
                const struct mig_pvariant *dv = mig_plan_variant(plan, st->down, r->conn->drv->dialect);
                char *sql = dv ? mig_vm_render(&r->vm, dv, NULL) : NULL;
                if (sql) {
                    u->down = mig_arena_strdup(&r->arena, sql);
                    free(sql);
                }
                break;
            }
            if (!u->down && !u->irreversible && strcmp(u->status, "applied") == 0) {
                error_msg(r, "no down is known for %s.%s.%s: neither the journal nor the sources have it",
                          u->migration, u->phase, u->step);
                goto out;
            }
        }
        r->mig = MIG_NONE;
    }
    if (all.n > 1)
        qsort(all.v, all.n, sizeof(*all.v), cmp_undo);
    /* which to undo */
    size_t n = 0;
    MIG_VEC(struct undo_item) todo = { 0 };
    if (o->rollback == MIG_RB_ALL) {
        for (size_t i = 0; i < all.n; i++)
            MIG_PUSH(&r->arena, todo, all.v[i]);
    } else if (o->rollback == MIG_RB_TO) {
        int64_t keep_from = INT64_MIN;
        bool found = false;
        for (size_t i = 0; i < all.n; i++)
            if (strcmp(all.v[i].migration, o->to) == 0) {
                found = true;
                if (all.v[i].order > keep_from)
                    keep_from = all.v[i].order;
            }
        if (!found) {
            error_msg(r, "--to %s: migration %s is not applied to %s", o->to, o->to, r->conn->display);
            rc = MIG_EXIT_USAGE;
            goto out;
        }
        for (size_t i = 0; i < all.n; i++)
            if (all.v[i].order > keep_from && strcmp(all.v[i].migration, o->to) != 0)
                MIG_PUSH(&r->arena, todo, all.v[i]);
    } else {
        /* the newest run that still has steps applied */
        int64_t last = 0;
        for (size_t i = 0; i < r->tracked_list.n; i++)
            if (r->tracked_list.v[i]->run > last)
                last = r->tracked_list.v[i]->run;
        for (size_t i = 0; i < all.n; i++) {
            struct tracked *t = tracked_of(r, all.v[i].migration, all.v[i].phase, all.v[i].step);
            if (t && all.v[i].order >= 0 && t->run == last)
                MIG_PUSH(&r->arena, todo, all.v[i]);
        }
    }
    n = todo.n;
    if (n == 0) {
        note(r, "nothing to roll back");
        rc = MIG_EXIT_OK;
        goto out;
    }
    /* refuse, before changing anything, to cross an irreversible step */
    unsigned blocked = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(todo.v[i].status, "applied") == 0 && !todo.v[i].down) {
            error_msg(r, "%s:%" PRId64 ": cannot roll back %s.%s.%s: its down is irreversible: \"%s\"",
                      todo.v[i].file ? todo.v[i].file : "", todo.v[i].line, todo.v[i].migration, todo.v[i].phase,
                      todo.v[i].step, todo.v[i].irreversible ? todo.v[i].irreversible : "");
            blocked++;
        }
    if (blocked) {
        error_msg(r, "rollback refused: nothing was changed");
        goto out;
    }
    r->run = mig_journal_run_begin(r->j, "rollback", r->conn->target, r->conn->display, dialect_name(r));
    if (r->run < 0) {
        error_msg(r, "%s", mig_journal_error(r->j));
        goto out;
    }
    note(r, "rolling back %zu step%s of %s", n, n == 1 ? "" : "s", r->conn->display);
    int64_t t0 = now_ms();
    rc = MIG_EXIT_OK;
    const struct undo_item **items = mig_arena_alloc(&r->arena, (n + 1) * sizeof(*items));
    for (size_t i = 0; i < n; i++)
        items[i] = &todo.v[i];
    char why[2048];
    int urc;
    size_t done = undo_items(r, items, n, why, sizeof(why), &urc);
    if (done != n) {
        error_msg(r, "%s:%" PRId64 ": undoing %s.%s failed: %s", items[done]->file ? items[done]->file : "",
                  items[done]->line, items[done]->migration, items[done]->phase, why);
        note(r, "%zu of %zu steps were undone; the failing phase was rolled back by the database", done, n);
        rc = urc == -2 ? MIG_EXIT_DIRTY : MIG_EXIT_FAILED;
    }
    mig_journal_run_end(r->j, r->run, rc == MIG_EXIT_OK ? "success" : "failed");
    if (rc == MIG_EXIT_OK) {
        if (o->json)
            emit_json(r, json_pack("{s:s,s:I,s:I}", "event", "done", "undone", (json_int_t)r->undone, "ms",
                                   (json_int_t)(now_ms() - t0)));
        else
            fprintf(o->out, "done: %u step%s rolled back in %" PRId64 " ms\n", r->undone, r->undone == 1 ? "" : "s",
                    now_ms() - t0);
    }
out:
    teardown(r);
    return rc;
}

int mig_run_test(struct mig_plan *plan, const struct mig_run_opts *o)
{
    struct runner rr, *r = &rr;
    memset(r, 0, sizeof(*r));
    r->o = o;
    r->plan = plan;
    r->testing = true;
    r->prologue_only_requires = true;
    r->mig = r->cur_phase = r->cur_step = MIG_NONE;
    int rc = MIG_EXIT_REFUSED;
    if (parse_params(r) != 0) {
        rc = MIG_EXIT_USAGE;
        goto out;
    }
    char err[1024];
    if (mig_connect(o->db_url, o->lock_wait_ms, &r->conn, err, sizeof(err)) != 0) {
        error_msg(r, "%s", err);
        goto out;
    }
    if (table_exists(r, &r->has_table) != 0 || load_tracked(r) != 0)
        goto out;
    size_t applied = 0;
    for (size_t i = 0; i < r->tracked_list.n; i++)
        applied += strcmp(r->tracked_list.v[i]->status, "applied") == 0;
    if (applied && !o->force) {
        error_msg(r, "%s is not a scratch database: mig_applied lists %zu applied step%s; migrun test changes "
                  "the schema back and forth (give --force to test there anyway)", r->conn->display, applied,
                  applied == 1 ? "" : "s");
        goto out;
    }
    if (setup_vm(r) != 0)
        goto out;
    note(r, "testing that every down undoes its up: %u migration%s on %s", plan->nmigrations,
         plan->nmigrations == 1 ? "" : "s", r->conn->display);
    rc = MIG_EXIT_OK;
    if (mig_vm_run(&r->vm, plan->globals_block, 0) != 0) {
        report_failure(r, "evaluating the file-level lets failed: ");
        rc = MIG_EXIT_FAILED;
        goto out;
    }
    for (uint32_t mi = 0; mi < plan->nmigrations; mi++) {
        r->mig = mi;
        r->cur_phase = r->cur_step = MIG_NONE;
        if (mig_vm_run(&r->vm, plan->migrations[mi].prologue, mi) != 0 ||
            mig_vm_run(&r->vm, plan->migrations[mi].body, mi) != 0) {
            report_failure(r, "");
            rc = MIG_EXIT_FAILED;
            break;
        }
    }
    if (r->test_failed)
        rc = MIG_EXIT_FAILED;
    if (o->json)
        emit_json(r, json_pack("{s:s,s:I,s:I,s:I,s:I}", "event", "done", "ok", (json_int_t)r->test_ok,
                               "failed", (json_int_t)r->test_failed, "irreversible", (json_int_t)r->test_irreversible,
                               "skipped", (json_int_t)r->test_skipped));
    else
        fprintf(o->out, "%s: %u step%s invert, %u do%s not, %u irreversible, %u skipped\n",
                rc == MIG_EXIT_OK ? "passed" : "failed", r->test_ok, r->test_ok == 1 ? "" : "s", r->test_failed,
                r->test_failed == 1 ? "es" : "", r->test_irreversible, r->test_skipped);
out:
    teardown(r);
    return rc;
}

int mig_run_log(const struct mig_run_opts *o)
{
    struct runner rr, *r = &rr;
    memset(r, 0, sizeof(*r));
    r->o = o;
    int rc = MIG_EXIT_REFUSED;
    if (setup(r, true) != 0)
        goto out;
    if (mig_journal_print(r->j, r->conn->target, o->json, o->out) != 0) {
        error_msg(r, "%s", mig_journal_error(r->j));
        goto out;
    }
    rc = MIG_EXIT_OK;
out:
    teardown(r);
    return rc;
}
