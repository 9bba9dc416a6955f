/* session.h — what a migrun command works in: the connection (through the
 * driver registry), the runner lock, the journal (opened only by commands
 * that write, or read-only by log), the target's tracking rows, the
 * reconciliation of the journal with the target, signals, and one
 * teardown. Everything is owned by the session's arena and freed by
 * mig_session_close. */
#ifndef MIG_SESSION_H
#define MIG_SESSION_H
#include <signal.h>
#include "driver.h"
#include "journal.h"
#include "lib/arena.h"
#include "lib/strmap.h"
#include "report.h"
#include "run.h"

/* One row of the target's mig_applied: a step applied, skipped, or in
 * progress (`running`: outside a transaction, started and not finished),
 * with what is needed to undo it. */
struct mig_tracked {
    char *migration, *phase, *step, *status, *checksum, *uid, *applied_at;
    char *down, *irreversible, *txn, *file;
    char *down_kind;        /* sql, exec, irreversible, none (NULL: sql, or irreversible without a down) */
    char *down_exec;        /* exec downs: the rendered command as JSON {argv, env, cwd, timeout_ms} */
    char *down_flags;       /* "optional", "restores", comma-separated, or NULL */
    int64_t seq, run, line, timeout_ms, lock_timeout_ms, retry, retry_every_ms;
    bool legacy;            /* recorded by an older migrun: no undo information in the target */
    bool was_interrupted;   /* this run ran it again after an interrupted run had partly run it */
    bool seen;              /* migrun status: a step of the sources */
};

struct mig_session {
    const struct mig_run_opts *o;
    unsigned needs;
    struct mig_report rep;
    struct mig_conn *conn;
    struct mig_journal *j;          /* NULL: none (read-only commands, or log without one) */
    struct mig_arena arena;
    bool locked, has_table, has_runs, legacy_table;
    bool old_table;                 /* a mig_applied without the exec columns (down_kind, …) */
    bool created;                   /* the connection created the target (a new SQLite file) */
    bool changed;                   /* something was written to the target */
    char target_id[40];             /* "" before the target has one */
    struct mig_jtarget jt;
    MIG_VEC(struct mig_tracked *) rows;     /* in order of application (seq) */
    struct mig_strmap by_key, by_uid;
    int64_t max_seq, last_run;
    /* apply: the rows it commits are allocated in row_arena (NULL: in
     * arena) and put after every row read (from transient_from on); when
     * their migration is finished they are forgotten (forget_transient) and
     * the migration marked in finished[] (indexed by the plan's migrations),
     * so that a run of N migrations holds the rows of one, not of N. A
     * reading of the rows (reconnection) clears both: the target knows. */
    struct mig_arena *row_arena;
    bool has_transient;
    size_t transient_from;
    bool *finished;
    size_t nfinished;
    size_t forgotten_live;          /* rows forgotten that stayed applied or skipped */
    char where[512];                /* the step running, for the server's notices ("" outside) */
};

/* Connects, and for writers: journal first (a bad journal refuses before
 * the target is touched), lock, tracking rows, reconciliation. Returns an
 * exit code (0 on success). */
int mig_session_open(struct mig_session *s, const struct mig_run_opts *o, unsigned needs);
void mig_session_close(struct mig_session *s);
/* (Re-)reads the tracking rows. 0 or -1 (reported). */
int mig_session_load(struct mig_session *s);
/* After a lost connection: a new connection (tried again every 0.5 s for
 * up to --reconnect-timeout while a server restarts or a standby is
 * promoted), the lock again, the tracking rows again. 0 or -1 (reported). */
int mig_session_reconnect(struct mig_session *s);
struct mig_tracked *mig_session_find(struct mig_session *s, const char *m, const char *p, const char *st);
struct mig_tracked *mig_session_by_uid(struct mig_session *s, const char *uid);
/* Adds a row the protocol just committed (or forgets one it undid). */
void mig_session_track(struct mig_session *s, struct mig_tracked *t);
void mig_session_untrack(struct mig_session *s, struct mig_tracked *t);
/* Forgets the rows tracked in s->row_arena (their maps' entries and their
 * place in s->rows; the caller then frees the arena). */
void mig_session_forget_transient(struct mig_session *s);
/* The text of s as a SQL literal of the target (arena-owned); NULL → NULL. */
const char *mig_session_lit(struct mig_session *s, const char *text);
/* The indexes that sql creates (CREATE INDEX … name) which exist in the
 * target and are invalid (a failed or interrupted CONCURRENTLY build),
 * up to max; 0 where the driver has no such notion. */
size_t mig_session_invalid_indexes(struct mig_session *s, const char *sql, char (*out)[256], size_t max);
/* tmpl with its first two %s replaced by a and b (arena-owned). */
const char *mig_session_fill(struct mig_session *s, const char *tmpl, const char *a, const char *b);
/* "prefix" + name: a tracking table's qualified name (arena-owned). */
const char *mig_session_table(struct mig_session *s, const char *name);
/* Reports a database error: what: message (SQLSTATE …). */
void mig_session_dberror(struct mig_session *s, const char *what, const struct mig_dberr *e);

/* Whether every transaction takes the runners' lock (--lock xact|table). */
bool mig_session_txn_locks(const struct mig_session *s);

/* Signals: SIGINT and SIGTERM cancel the running statement and are
 * counted; the runner checks the count between operations. */
extern volatile sig_atomic_t mig_signals, mig_last_signal;
const char *mig_signal_name(int sig);
/* Another signal that stops the run as SIGINT and SIGTERM do, canceling the
 * running statement (migrun test: SIGHUP, SIGPIPE). */
void mig_session_catch(int sig);

/* The monotonic clock in ms, and a sleep that a signal cuts short. */
int64_t mig_now_ms(void);
void mig_sleep_ms(int64_t ms);

#endif
