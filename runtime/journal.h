/* journal.h — the run history on this machine: a SQLite database (WAL) of
 * runs and their entries, each applied, skipped or undone step with its
 * rendered SQL. Its schema is documented in doc/journal.md; users may query
 * it with sqlite3. The target is the truth (its tracking rows carry the undo
 * information): entries are written after the target commits, without
 * fsync, and re-synchronised from the target when missing; `pending`
 * entries of older journals are reconciled at start. */
#ifndef MIG_JOURNAL_H
#define MIG_JOURNAL_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct mig_journal;

/* Which target: its stored identity (NULL before it has one), where it is
 * (no password), how it is shown, its dialect. */
struct mig_jtarget {
    const char *id, *location, *display, *dialect;
};

struct mig_jentry {
    int64_t id;             /* set when added */
    char uid[33];           /* random, also stored in mig_applied.entry_uid */
    const char *migration, *phase, *step;
    const char *action;     /* "applied", "skipped", "undone" */
    const char *txn;        /* "phase", "step", "none" */
    const char *checksum;   /* hex SHA-256 of the up source, or NULL */
    const char *up_sql, *down_sql;  /* rendered; down NULL when irreversible */
    const char *irreversible;       /* the reason, or NULL */
    const char *undoes;     /* for "undone": the uid of the entry it undid */
    const char *file;
    int64_t line;
    int64_t rows, duration_ms;
    int64_t seq;            /* order of application in the target, or 0 */
    const char *output;     /* a command's last 8 KiB of output, or NULL */
    const char *note;       /* baseline, mark, repair: why (the user's words), or NULL */
};

/* Opens (creating the file, its folder and the schema) the journal at path;
 * readonly: opens an existing one without writing (1 when there is none).
 * -1 with a message. The file is created 0600. */
int mig_journal_open(const char *path, bool readonly, struct mig_journal **out, char *err, size_t errlen);
void mig_journal_close(struct mig_journal *j);
const char *mig_journal_error(struct mig_journal *j);

/* A run of command on target, numbered target_run in the target (0: none). */
int64_t mig_journal_run_begin(struct mig_journal *j, const char *command, const struct mig_jtarget *t,
                              int64_t target_run, const char *outcome);
/* The journal run holding entries re-synchronised from run target_run of
 * the target (made when missing). */
int64_t mig_journal_synced_run(struct mig_journal *j, const struct mig_jtarget *t, int64_t target_run);
/* 1 when an entry with this uid is recorded, 0 when not, -1 error. */
int mig_journal_has(struct mig_journal *j, const char *uid);
int mig_journal_run_end(struct mig_journal *j, int64_t run, const char *outcome);

/* Adds entries of run in a state ("done", or "pending" in journals of
 * older runs) in one transaction (not fsync'ed: the target is the truth). */
int mig_journal_add(struct mig_journal *j, int64_t run, struct mig_jentry *e, size_t n, const char *state);
/* Moves entries to a state ("done", "aborted", "interrupted"). */
int mig_journal_set_state(struct mig_journal *j, const struct mig_jentry *e, size_t n, const char *state);
int mig_journal_set_state_uid(struct mig_journal *j, const char *uid, const char *state);

/* Every pending entry of a target: callback(ctx, uid, action, undoes, txn, migration, phase, step). */
int mig_journal_pending(struct mig_journal *j, const struct mig_jtarget *t,
                        void (*cb)(void *ctx, const char *uid, const char *action, const char *undoes,
                                   const char *txn, const char *migration, const char *phase,
                                   const char *step),
                        void *ctx);
/* Marks runs of target still "running" as "interrupted". */
int mig_journal_close_stale_runs(struct mig_journal *j, const struct mig_jtarget *t);

/* The applied/skipped entry with this uid: its id, rendered down,
 * irreversible reason and txn mode (strings malloc'd; free them). 0 found,
 * 1 not found, -1 error. */
int mig_journal_lookup(struct mig_journal *j, const char *uid, int64_t *id, int64_t *run, char **down,
                       char **irreversible, char **txn, char **file, int64_t *line);

/* A run and an entry as the journal holds them (strings borrowed for the
 * callback's duration; number: the run's number in the target, 0 when it
 * has none). */
struct mig_jrun {
    int64_t number;
    const char *command, *display, *started_at, *finished_at, *outcome, *user, *host;
};
struct mig_jrow {
    int64_t run;
    const char *migration, *phase, *step, *action, *state;
    int64_t rows, ms;
    const char *irreversible, *file;
    int64_t line;
    const char *note;
};
struct mig_jwalk {
    void (*run)(void *ctx, const struct mig_jrun *r);
    void (*entry)(void *ctx, const struct mig_jrow *e);
};
/* Every run of target and its entries, in order (migrun log). */
int mig_journal_walk(struct mig_journal *j, const struct mig_jtarget *t, const struct mig_jwalk *w, void *ctx);

/* The current UTC time as ISO 8601 with microseconds. */
void mig_now_iso(char out[64]);

/* A new random entry uid (32 hex digits). */
void mig_journal_uid(char out[33]);

#endif
