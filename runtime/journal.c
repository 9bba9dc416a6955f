/* journal.c — the undo log in SQLite (see journal.h and doc/journal.md). */
#include "journal.h"
#include "fault.h"
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct mig_journal {
    sqlite3 *db;
    sqlite3_stmt *lookup;   /* prepared once: rollback looks up every applied step */
    sqlite3_stmt *has;      /* prepared once: re-synchronisation asks for every tracked step */
    char err[1024];
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);\n"
    "CREATE TABLE IF NOT EXISTS runs (\n"
    "  id          INTEGER PRIMARY KEY,\n"
    "  command     TEXT NOT NULL,      -- apply, rollback\n"
    "  target      TEXT NOT NULL,      -- database identity (no password)\n"
    "  display     TEXT NOT NULL,      -- the --db URL as printed (password masked)\n"
    "  dialect     TEXT NOT NULL,\n"
    "  user        TEXT, host TEXT, pid INTEGER,\n"
    "  started_at  TEXT NOT NULL, finished_at TEXT,\n"
    "  outcome     TEXT NOT NULL,      -- running, success, failed, rolled_back, refused, interrupted, synced\n"
    "  target_id   TEXT,               -- the identity stored in the target (mig_meta)\n"
    "  target_run  INTEGER             -- the run's number in the target (mig_runs)\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS entries (\n"
    "  id           INTEGER PRIMARY KEY,\n"
    "  run_id       INTEGER NOT NULL REFERENCES runs(id),\n"
    "  uid          TEXT NOT NULL UNIQUE, -- also mig_applied.entry_uid in the target\n"
    "  migration    TEXT NOT NULL, phase TEXT NOT NULL, step TEXT NOT NULL,\n"
    "  action       TEXT NOT NULL,       -- applied, skipped, undone\n"
    "  state        TEXT NOT NULL,       -- pending, done, aborted, interrupted\n"
    "  txn          TEXT,                -- phase, step, none\n"
    "  checksum     TEXT,                -- SHA-256 of the up source (hex)\n"
    "  up_sql       TEXT, down_sql TEXT, -- rendered with the values in effect\n"
    "  irreversible TEXT,                -- the reason of a down irreversible\n"
    "  undoes       TEXT,                -- for undone: the uid of the entry undone\n"
    "  file TEXT, line INTEGER,\n"
    "  rows INTEGER, duration_ms INTEGER,\n"
    "  recorded_at  TEXT NOT NULL,\n"
    "  seq          INTEGER,             -- order of application in the target\n"
    "  output       TEXT,                -- a command's last 8 KiB of output\n"
    "  note         TEXT                 -- baseline, mark, repair: why, as the user gave it\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS entries_run ON entries(run_id);\n"
    "CREATE INDEX IF NOT EXISTS entries_state ON entries(state);\n"
    "INSERT OR IGNORE INTO meta VALUES ('schema_version', '2');\n";

/* Journals of version 1 gain the columns of version 2. */
static const char upgrade[] =
    "ALTER TABLE runs ADD COLUMN target_id TEXT;\n"
    "ALTER TABLE runs ADD COLUMN target_run INTEGER;\n"
    "ALTER TABLE entries ADD COLUMN seq INTEGER;\n"
    "UPDATE meta SET value = '2' WHERE key = 'schema_version';\n";

void mig_now_iso(char out[64])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}

/* 32 hex digits: the time in milliseconds (12) and 20 of a counter that
 * starts at a random value in each process (drawn again after a fork) and
 * counts up. Uids of one process never repeat; across processes they would
 * need the same millisecond and overlapping 80-bit ranges. Being ordered by
 * time, they go to the right-hand end of the uid indexes of the journal and
 * of the tracking table (PostgreSQL's, and a SQLite target's made before
 * 2026-12): a transaction's rows touch one leaf page there, not one random
 * page per step. */
void mig_journal_uid(char out[33])
{
    static pid_t pid;
    static uint64_t hi; /* 16 bits */
    static uint64_t lo; /* 64 bits */
    if (pid != getpid()) {
        unsigned char b[10];
        if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            srand((unsigned)(ts.tv_nsec ^ getpid()));
            for (size_t i = 0; i < sizeof(b); i++)
                b[i] = (unsigned char)rand();
        }
        hi = (uint64_t)b[0] << 8 | b[1];
        lo = 0;
        for (size_t i = 2; i < sizeof(b); i++)
            lo = lo << 8 | b[i];
        pid = getpid();
    }
    if (++lo == 0)
        hi = (hi + 1) & 0xffff;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000) & 0xffffffffffffULL;
    snprintf(out, 33, "%012llx%04llx%016llx", (unsigned long long)ms, (unsigned long long)hi,
             (unsigned long long)lo);
}

static int jfail(struct mig_journal *j, const char *what)
{
    snprintf(j->err, sizeof(j->err), "%s: %s", what, sqlite3_errmsg(j->db));
    return -1;
}

const char *mig_journal_error(struct mig_journal *j)
{
    return j->err;
}

static int mkdirs(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

int mig_journal_open(const char *path, bool readonly, struct mig_journal **out, char *err, size_t errlen)
{
    *out = NULL;
    if (readonly && access(path, F_OK) != 0)
        return 1;
    struct mig_journal *j = calloc(1, sizeof(*j));
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!readonly && mkdirs(path) != 0) {
        snprintf(err, errlen, "cannot create the folder of the journal '%s': %s", path, strerror(errno));
        free(j);
        return -1;
    }
    /* the journal is history: nobody else should read it (it holds the
     * rendered SQL of every step) */
    mode_t old = umask(077);
    int rc = sqlite3_open_v2(path, &j->db,
                             (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                                 SQLITE_OPEN_NOMUTEX,
                             NULL);
    umask(old);
    char *msg = NULL;
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(j->db, 10000);
        /* The target's commit is the one durable write of a transaction:
         * the journal follows it without fsync (lost entries are
         * re-synchronised from the target). */
        if (!readonly)
            rc = sqlite3_exec(j->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, &msg);
        /* The journal is appended to and read by key: a page cache of
         * 256 KiB (SQLite's default is 2 MiB, filled as the journal grows
         * during a long apply) keeps a runner's memory flat. */
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(j->db, "PRAGMA cache_size=-256", NULL, NULL, &msg);
        if (rc == SQLITE_OK && !readonly)
            rc = sqlite3_exec(j->db, schema, NULL, NULL, &msg);
        if (rc == SQLITE_OK && !readonly &&
            sqlite3_exec(j->db, "SELECT target_run FROM runs LIMIT 0", NULL, NULL, NULL) != SQLITE_OK)
            rc = sqlite3_exec(j->db, upgrade, NULL, NULL, &msg);
        if (rc == SQLITE_OK && !readonly &&
            sqlite3_exec(j->db, "SELECT output FROM entries LIMIT 0", NULL, NULL, NULL) != SQLITE_OK)
            rc = sqlite3_exec(j->db, "ALTER TABLE entries ADD COLUMN output TEXT", NULL, NULL, &msg);
        if (rc == SQLITE_OK && !readonly &&
            sqlite3_exec(j->db, "SELECT note FROM entries LIMIT 0", NULL, NULL, NULL) != SQLITE_OK)
            rc = sqlite3_exec(j->db, "ALTER TABLE entries ADD COLUMN note TEXT", NULL, NULL, &msg);
        if (rc == SQLITE_OK && readonly)
            rc = sqlite3_exec(j->db, "SELECT id FROM runs LIMIT 0", NULL, NULL, &msg);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot use the journal '%s': %s", path,
                 msg ? msg : j->db ? sqlite3_errmsg(j->db) : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close_v2(j->db);
        free(j);
        return -1;
    }
    *out = j;
    return 0;
}

void mig_journal_close(struct mig_journal *j)
{
    if (!j)
        return;
    sqlite3_finalize(j->lookup);
    sqlite3_finalize(j->has);
    sqlite3_close_v2(j->db);
    free(j);
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

/* A target is its stored identity; runs recorded before it had one (or by
 * an older migrun) are matched by location. Binds 3 parameters. */
#define TARGET_IS(r) "(" r ".target_id = ?1 OR (" r ".target_id IS NULL AND " r ".target = ?2) OR (?1 IS NULL AND " r ".target = ?2))"

static void bind_target(sqlite3_stmt *st, int i, const struct mig_jtarget *t)
{
    (void)i;
    bind_text(st, 1, t->id && *t->id ? t->id : NULL);
    bind_text(st, 2, t->location);
}

int mig_journal_has(struct mig_journal *j, const char *uid)
{
    if (!j->has && sqlite3_prepare_v2(j->db, "SELECT 1 FROM entries WHERE uid = ?", -1, &j->has, NULL) != SQLITE_OK)
        return jfail(j, "cannot read the journal");
    sqlite3_reset(j->has);
    bind_text(j->has, 1, uid);
    int rc = sqlite3_step(j->has);
    sqlite3_reset(j->has);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : jfail(j, "cannot read the journal");
}

int64_t mig_journal_synced_run(struct mig_journal *j, const struct mig_jtarget *t, int64_t target_run)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->db, "SELECT id FROM runs WHERE target_run = ?3 AND " TARGET_IS("runs")
                           " ORDER BY id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK) {
        jfail(j, "cannot read the journal");
        return -1;
    }
    bind_target(st, 1, t);
    sqlite3_bind_int64(st, 3, target_run);
    int64_t id = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (id > 0)
        return id;
    return mig_journal_run_begin(j, "apply", t, target_run, "synced");
}

int64_t mig_journal_run_begin(struct mig_journal *j, const char *command, const struct mig_jtarget *t,
                              int64_t target_run, const char *outcome)
{
    MIG_FAULT();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->db, "INSERT INTO runs (command, target, display, dialect, user, host, pid, "
                           "started_at, outcome, target_id, target_run) VALUES (?,?,?,?,?,?,?,?,?,?,?)", -1, &st,
                           NULL) != SQLITE_OK) {
        jfail(j, "cannot record the run");
        return -1;
    }
    char now[64], host[256] = "";
    mig_now_iso(now);
    gethostname(host, sizeof(host) - 1);
    const char *user = getenv("USER");
    bind_text(st, 1, command);
    bind_text(st, 2, t->location);
    bind_text(st, 3, t->display);
    bind_text(st, 4, t->dialect);
    bind_text(st, 5, user);
    bind_text(st, 6, host);
    sqlite3_bind_int64(st, 7, getpid());
    bind_text(st, 8, now);
    bind_text(st, 9, outcome);
    bind_text(st, 10, t->id);
    if (target_run > 0)
        sqlite3_bind_int64(st, 11, target_run);
    else
        sqlite3_bind_null(st, 11);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        jfail(j, "cannot record the run");
        return -1;
    }
    return sqlite3_last_insert_rowid(j->db);
}

int mig_journal_run_end(struct mig_journal *j, int64_t run, const char *outcome)
{
    MIG_FAULT();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->db, "UPDATE runs SET outcome = ?, finished_at = ? WHERE id = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return jfail(j, "cannot finish the run");
    char now[64];
    mig_now_iso(now);
    bind_text(st, 1, outcome);
    bind_text(st, 2, now);
    sqlite3_bind_int64(st, 3, run);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : jfail(j, "cannot finish the run");
}

int mig_journal_add(struct mig_journal *j, int64_t run, struct mig_jentry *e, size_t n, const char *state)
{
    MIG_FAULT();
    if (n == 0)
        return 0;
    if (sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return jfail(j, "cannot write the journal");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->db, "INSERT INTO entries (run_id, uid, migration, phase, step, action, "
                           "txn, checksum, up_sql, down_sql, irreversible, undoes, file, line, rows, "
                           "duration_ms, recorded_at, seq, state, output, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) {
        jfail(j, "cannot write the journal");
        sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    char now[64];
    mig_now_iso(now);
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, run);
        bind_text(st, 2, e[i].uid);
        bind_text(st, 3, e[i].migration);
        bind_text(st, 4, e[i].phase);
        bind_text(st, 5, e[i].step);
        bind_text(st, 6, e[i].action);
        bind_text(st, 7, e[i].txn);
        bind_text(st, 8, e[i].checksum);
        bind_text(st, 9, e[i].up_sql);
        bind_text(st, 10, e[i].down_sql);
        bind_text(st, 11, e[i].irreversible);
        bind_text(st, 12, e[i].undoes);
        bind_text(st, 13, e[i].file);
        sqlite3_bind_int64(st, 14, e[i].line);
        sqlite3_bind_int64(st, 15, e[i].rows);
        sqlite3_bind_int64(st, 16, e[i].duration_ms);
        bind_text(st, 17, now);
        if (e[i].seq > 0)
            sqlite3_bind_int64(st, 18, e[i].seq);
        else
            sqlite3_bind_null(st, 18);
        bind_text(st, 19, state);
        bind_text(st, 20, e[i].output);
        bind_text(st, 21, e[i].note);
        if (sqlite3_step(st) != SQLITE_DONE) {
            jfail(j, "cannot write the journal");
            sqlite3_finalize(st);
            sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        e[i].id = sqlite3_last_insert_rowid(j->db);
    }
    sqlite3_finalize(st);
    if (sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        jfail(j, "cannot commit the journal");
        sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

int mig_journal_set_state(struct mig_journal *j, const struct mig_jentry *e, size_t n, const char *state)
{
    MIG_FAULT();
    if (n == 0)
        return 0;
    int ok = sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    for (size_t i = 0; i < n && ok; i++)
        ok = mig_journal_set_state_uid(j, e[i].uid, state) == 0;
    if (!ok || sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
        return jfail(j, "cannot update the journal");
    }
    return 0;
}

int mig_journal_set_state_uid(struct mig_journal *j, const char *uid, const char *state)
{
    MIG_FAULT();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->db, "UPDATE entries SET state = ? WHERE uid = ?", -1, &st, NULL) != SQLITE_OK)
        return jfail(j, "cannot update the journal");
    bind_text(st, 1, state);
    bind_text(st, 2, uid);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : jfail(j, "cannot update the journal");
}

int mig_journal_pending(struct mig_journal *j, const struct mig_jtarget *t,
                        void (*cb)(void *ctx, const char *uid, const char *action, const char *undoes,
                                   const char *txn, const char *migration, const char *phase,
                                   const char *step),
                        void *ctx)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->db, "SELECT e.uid, e.action, e.undoes, e.txn, e.migration, e.phase, e.step "
                           "FROM entries e JOIN runs r ON r.id = e.run_id "
                           "WHERE e.state = 'pending' AND " TARGET_IS("r") " ORDER BY e.id", -1, &st, NULL) != SQLITE_OK)
        return jfail(j, "cannot read the journal");
    bind_target(st, 1, t);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
           (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3),
           (const char *)sqlite3_column_text(st, 4), (const char *)sqlite3_column_text(st, 5),
           (const char *)sqlite3_column_text(st, 6));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : jfail(j, "cannot read the journal");
}

int mig_journal_close_stale_runs(struct mig_journal *j, const struct mig_jtarget *t)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->db, "UPDATE runs SET outcome = 'interrupted' WHERE outcome = 'running' "
                           "AND " TARGET_IS("runs"), -1, &st, NULL) != SQLITE_OK)
        return jfail(j, "cannot update the journal");
    bind_target(st, 1, t);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : jfail(j, "cannot update the journal");
}

static char *dup_col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

int mig_journal_lookup(struct mig_journal *j, const char *uid, int64_t *id, int64_t *run, char **down,
                       char **irreversible, char **txn, char **file, int64_t *line)
{
    if (!j->lookup &&
        sqlite3_prepare_v2(j->db, "SELECT id, run_id, down_sql, irreversible, txn, file, line FROM entries "
                           "WHERE uid = ? AND action IN ('applied', 'skipped')", -1, &j->lookup, NULL) != SQLITE_OK)
        return jfail(j, "cannot read the journal");
    sqlite3_stmt *st = j->lookup;
    sqlite3_reset(st);
    bind_text(st, 1, uid);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *run = sqlite3_column_int64(st, 1);
        *down = dup_col(st, 2);
        *irreversible = dup_col(st, 3);
        *txn = dup_col(st, 4);
        *file = dup_col(st, 5);
        *line = sqlite3_column_int64(st, 6);
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 1 : jfail(j, "cannot read the journal");
}

int mig_journal_walk(struct mig_journal *j, const struct mig_jtarget *t, const struct mig_jwalk *w, void *ctx)
{
    sqlite3_stmt *runs, *ents;
    bool v1 = sqlite3_exec(j->db, "SELECT target_run FROM runs LIMIT 0", NULL, NULL, NULL) != SQLITE_OK;
    if (sqlite3_prepare_v2(j->db, v1 ? "SELECT 0, command, display, started_at, finished_at, outcome, user, host, id "
                           "FROM runs WHERE target = ?2 OR ?1 = ?1 ORDER BY id"
                           : "SELECT coalesce(target_run, 0), command, display, started_at, finished_at, "
                           "outcome, user, host, id FROM runs WHERE " TARGET_IS("runs") " ORDER BY id", -1, &runs,
                           NULL) != SQLITE_OK)
        return jfail(j, "cannot read the journal");
    bool has_note = sqlite3_exec(j->db, "SELECT note FROM entries LIMIT 0", NULL, NULL, NULL) == SQLITE_OK;
    if (sqlite3_prepare_v2(j->db, has_note ? "SELECT migration, phase, step, action, state, rows, duration_ms, "
                           "irreversible, file, line, note FROM entries WHERE run_id = ? ORDER BY id"
                           : "SELECT migration, phase, step, action, state, rows, duration_ms, "
                           "irreversible, file, line, NULL FROM entries WHERE run_id = ? ORDER BY id",
                           -1, &ents, NULL) != SQLITE_OK) {
        sqlite3_finalize(runs);
        return jfail(j, "cannot read the journal");
    }
    bind_target(runs, 1, t);
#define COL(st, i) ((const char *)sqlite3_column_text((st), (i)))
    while (sqlite3_step(runs) == SQLITE_ROW) {
        struct mig_jrun r = { sqlite3_column_int64(runs, 0), COL(runs, 1), COL(runs, 2), COL(runs, 3), COL(runs, 4),
                              COL(runs, 5), COL(runs, 6), COL(runs, 7) };
        w->run(ctx, &r);
        sqlite3_reset(ents);
        sqlite3_bind_int64(ents, 1, sqlite3_column_int64(runs, 8));
        while (sqlite3_step(ents) == SQLITE_ROW) {
            struct mig_jrow e = { r.number, COL(ents, 0), COL(ents, 1), COL(ents, 2), COL(ents, 3), COL(ents, 4),
                                  sqlite3_column_int64(ents, 5), sqlite3_column_int64(ents, 6), COL(ents, 7),
                                  COL(ents, 8), sqlite3_column_int64(ents, 9), COL(ents, 10) };
            w->entry(ctx, &e);
        }
    }
#undef COL
    sqlite3_finalize(runs);
    sqlite3_finalize(ents);
    return 0;
}
