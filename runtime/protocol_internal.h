/* protocol_internal.h — what the files of the protocol share (protocol.c,
 * protocol_outside.c, protocol_undo.c, protocol_restore.c); nothing else includes it. */
#ifndef MIG_PROTOCOL_INTERNAL_H
#define MIG_PROTOCOL_INTERNAL_H
#include "protocol.h"

/* A growable SQL text (statements of thousands of rows stay linear). */
struct buf {
    char *s;
    size_t n, cap;
};
void mig_pbuf_put(struct buf *b, const char *t);
void mig_pbuf_lit(struct buf *b, struct mig_conn *c, const char *t);
void mig_pbuf_int(struct buf *b, int64_t v);

int mig_proto_exec_autocommit(struct mig_proto *p, const char *sql, struct mig_dberr *e);
/* The tracking rows of records (numbered when they have no seq yet). */
int mig_proto_write_rows(struct mig_proto *p, struct mig_record *r, size_t n, const char *status, struct mig_dberr *e);
/* " WHERE " and the condition that finds one tracking row: its primary
 * key (migration, phase, step), which every layout of mig_applied indexes
 * (a SQLite target made since 2026-12 has no index on entry_uid), and its
 * entry_uid, which makes the match exact. */
void mig_pbuf_row_key(struct buf *b, struct mig_conn *c, const char *migration, const char *phase, const char *step,
                      const char *uid);
char *mig_proto_delete_sql(struct mig_proto *p, const char *migration, const char *phase, const char *step,
                           const char *uid);
/* Removes the `running` row an interrupted run left for r's step. */
int mig_proto_clear_interrupted(struct mig_proto *p, struct mig_record *r, struct mig_dberr *e);
int mig_proto_refresh_seq(struct mig_proto *p, struct mig_dberr *e);
/* Records that committed: tracked by the session, in the run's list.
 * status must outlive the session (a literal: the tracked rows keep it). */
void mig_proto_committed(struct mig_proto *p, const struct mig_record *r, size_t n, const char *status);
/* Journal entries (a failure is a warning ending with holds: what holds the
 * record): of records (action, or "skipped"), and of tracked rows (undone,
 * marked pending, repaired: sums, the accepted checksums, or NULL). */
void mig_proto_journal_write(struct mig_proto *p, struct mig_jentry *e, size_t n, const char *holds);
void mig_proto_journal_entries(struct mig_proto *p, const struct mig_record *r, size_t n, const char *action,
                               const char *note);
/* Runs the recorded down command of t (what: "down" or "restore" in the
 * note): mig_exec_command's result with *ok; -2 with why when the record
 * cannot be read. */
int mig_proto_run_down_command(struct mig_proto *p, const struct mig_tracked *t, const char *what, bool *ok,
                               char *why, size_t n);
void mig_proto_journal_tracked(struct mig_proto *p, struct mig_tracked *const *t, size_t n, const char *action,
                               const char *note, const char *const *sums);
/* Runs the restore point rows[at] (see protocol_restore.c): the steps that
 * by[] says it replaces are undone with it. */
int mig_proto_restore(struct mig_proto *p, struct mig_tracked **rows, size_t n, size_t at,
                      struct mig_tracked *const *by);

#endif
