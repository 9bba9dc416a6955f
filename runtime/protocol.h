/* protocol.h — the one implementation of the undo protocol: the only code
 * that writes tracking rows (the target's mig_applied, mig_runs, mig_meta)
 * or journal entries. Per transaction: the work, then the steps' tracking
 * rows with everything needed to undo them (rendered down, transaction
 * mode, timeouts, irreversible reason, sequence number), then COMMIT — the
 * one durable write — and then the journal, which only follows. A step
 * outside a transaction is recorded `running` before it starts. Undo runs
 * the recorded downs in reverse order of application, a phase's steps per
 * transaction, under the recorded timeouts and retry. */
#ifndef MIG_PROTOCOL_H
#define MIG_PROTOCOL_H
#include "session.h"

/* What a step's tracking row will hold. Strings are borrowed until the
 * transaction commits (then copied into the session). */
struct mig_record {
    char uid[33];
    const char *migration, *phase, *step;
    const char *status;             /* "applied", "skipped" */
    const char *checksum, *up_sql, *down_sql, *irreversible, *txn, *file;
    int64_t line, rows, duration_ms, seq;
    int64_t timeout_ms, lock_timeout_ms, retry, retry_every_ms;
    struct mig_tracked *replaces;   /* the `running` row an interrupted run left for this step */
    const char *down_kind;          /* "sql", "exec", "irreversible", "none" */
    const char *down_exec;          /* exec downs: the rendered command as JSON */
    const char *down_flags;         /* "optional", "restores", "optional,restores" or NULL */
    const char *output;             /* exec ups: the last 8 KiB of the command's output (journal only) */
    bool kept;                      /* migration, phase, step, file, irreversible, txn, down_kind and
                                       down_flags outlive the session (the plan's strings, literals):
                                       the tracked row borrows them instead of copying */
};

enum mig_proto_rc {
    MIG_P_OK = 0,
    MIG_P_FAIL = -1,        /* failed; the target as before the operation (its transaction rolled back) */
    MIG_P_UNKNOWN = -2,     /* the connection was lost: what committed is read after reconnecting */
    MIG_P_DIRTY = -3,       /* something ran that could not be recorded or undone: a person must look */
};

struct mig_proto {
    struct mig_session *s;
    const char *command;
    int64_t run;                    /* the run's number in the target (0: not started) */
    int64_t jrun;                   /* the journal's run id (0: none) */
    bool txn_open;
    MIG_VEC(struct mig_record) pending;     /* of the open transaction */
    MIG_VEC(struct mig_record) unknown;     /* of a COMMIT whose outcome was lost */
    MIG_VEC(struct mig_tracked *) committed;    /* of this run, in order (the automatic undo's list) */
    unsigned applied, skipped, undone;
    char err[4096];                 /* the last failure, as a sentence */
    struct mig_dberr dberr;
    bool has_dberr;
};

void mig_proto_init(struct mig_proto *p, struct mig_session *s, const char *command);
/* Creates the tracking tables where missing, the target's identity, and
 * the run's row in mig_runs (its number). Reported; 0 or -1. */
int mig_proto_start(struct mig_proto *p);
/* The run's outcome in the target and the journal (failures are warnings). */
void mig_proto_finish(struct mig_proto *p, const char *outcome);

/* A new record for a step (uid, sequence number filled). */
void mig_proto_record(struct mig_proto *p, struct mig_record *r);
int mig_proto_begin(struct mig_proto *p, int64_t statement_ms, int64_t lock_ms);
/* Adds a record to the open transaction. */
void mig_proto_add(struct mig_proto *p, const struct mig_record *r);
/* The tracking rows of the open transaction, COMMIT, then the journal. */
int mig_proto_commit(struct mig_proto *p);
/* Rolls the open transaction back (its records are forgotten). */
void mig_proto_abort(struct mig_proto *p);
/* A step outside any transaction: recorded `running`, run, then
 * `applied`. *rows gets the rows changed. */
int mig_proto_run_outside(struct mig_proto *p, struct mig_record *r, const char *sql, int64_t *rows);
/* A batch step: its up until it changes no rows (or max iterations), each
 * iteration in its own transaction unless none; recorded from the first
 * iteration on. progress(ctx, iteration, rows, total) after each. */
int mig_proto_batch(struct mig_proto *p, struct mig_record *r, const char *sql, bool in_txn, int64_t max,
                    void (*progress)(void *ctx, int64_t iter, int64_t n, int64_t total), void *ctx);
/* A step whose up is a command: recorded `running`, run (spec), then
 * `applied`; the command's failure fails the step (its row goes). */
struct mig_exec_spec;
struct mig_exec_result;
int mig_proto_run_command(struct mig_proto *p, struct mig_record *r, const struct mig_exec_spec *spec,
                          struct mig_exec_result *res);
/* The variables a command gets: the target's connection, then its own
 * env { } (borrowed). NULL-terminated; the first *owned strings are the
 * array's: free with mig_proto_free_env(env, owned). */
char **mig_proto_command_env(struct mig_proto *p, char *const *own, size_t *owned);
void mig_proto_free_env(char **env, size_t owned);

/* After reconnecting: records of a COMMIT whose outcome was lost are read
 * back from the target (committed or not). */
void mig_proto_resolve(struct mig_proto *p);

/* Undoes rows (newest first). stop_signals: a count of signals that stops
 * the undo between transactions. *undone gets how many were undone.
 * MIG_P_OK, or the first failure (p->err) — MIG_P_FAIL when the failing
 * transaction was rolled back. */
int mig_proto_undo(struct mig_proto *p, struct mig_tracked *const *rows, size_t n, int stop_signals, size_t *undone);

/* Restore points (`down … restores`): whether t is one (applied), and
 * which rows (newest first) each replaces: by[i] is the restore point
 * whose down stands for rows[i]'s, or NULL. Returns how many are replaced. */
bool mig_proto_is_restore(const struct mig_tracked *t);
size_t mig_proto_restore_map(struct mig_tracked *const *rows, size_t n, struct mig_tracked **by);

/* The driver's schema fingerprint of the target, lines joined by '\n'
 * (what a restore point
 * records before its step; malloc'd; "" where the driver has none); NULL with e on failure. */
char *mig_proto_fingerprint(struct mig_session *s, struct mig_dberr *e);

/* By hand (protocol_adopt.c), each one transaction, then journal entries
 * with the user's note: records r[0..n) as applied without running them
 * (journal action: action, e.g. "baselined"); removes the records
 * t[0..n) without running their downs ("marked pending"); accepts new
 * checksums sums[i] for the applied steps t[i] ("repaired"). */
int mig_proto_record_by_hand(struct mig_proto *p, struct mig_record *r, size_t n, const char *action,
                             const char *note);
int mig_proto_forget(struct mig_proto *p, struct mig_tracked *const *t, size_t n, const char *note);
int mig_proto_accept(struct mig_proto *p, struct mig_tracked *const *t, const char *const *sums, size_t n,
                     const char *note);

/* Records the failure message in p->err (and the database error). */
int mig_proto_fail(struct mig_proto *p, int rc, const struct mig_dberr *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
