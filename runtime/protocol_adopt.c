/* protocol_adopt.c — what a person records by hand (migrun baseline, mark,
 * repair): steps recorded as applied without running them, records
 * removed without running a down, a changed step's checksum accepted. Each
 * is one transaction in the target, then journal entries carrying the
 * reason the user gave. See protocol.h. */
#include "protocol.h"
#include "protocol_internal.h"
#include <stdlib.h>
#include <string.h>

/* The statements sql[0..n) (freed) in one transaction. MIG_P_OK or the failure. */
static int in_one_transaction(struct mig_proto *p, char **sql, size_t n)
{
    struct mig_conn *c = p->s->conn;
    struct mig_dberr e;
    int rc = mig_proto_begin(p, 0, 0);
    for (size_t i = 0; i < n; i++) {
        if (rc == MIG_P_OK && c->drv->exec(c, sql[i], NULL, &e) != 0)
            rc = MIG_P_FAIL;
        free(sql[i]);
    }
    if (rc != MIG_P_OK && !p->txn_open)
        return rc;      /* BEGIN failed (reported) */
    if (rc != MIG_P_OK || c->drv->commit(c, &e) != 0) {
        bool lost = e.connection_lost;
        mig_proto_abort(p);
        return mig_proto_fail(p, lost ? MIG_P_UNKNOWN : MIG_P_FAIL, &e, "cannot update mig_applied: %s", e.message);
    }
    p->txn_open = false;
    return MIG_P_OK;
}

int mig_proto_record_by_hand(struct mig_proto *p, struct mig_record *r, size_t n, const char *action,
                             const char *note)
{
    struct mig_conn *c = p->s->conn;
    struct mig_dberr e;
    int rc = mig_proto_begin(p, 0, 0);
    if (rc != MIG_P_OK)
        return rc;
    if (mig_proto_write_rows(p, r, n, "applied", &e) != 0 || c->drv->commit(c, &e) != 0) {
        bool lost = e.connection_lost;
        mig_proto_abort(p);
        return mig_proto_fail(p, lost ? MIG_P_UNKNOWN : MIG_P_FAIL, &e, "cannot record the steps in mig_applied: %s",
                              e.message);
    }
    p->txn_open = false;
    mig_proto_committed(p, r, n, "applied");
    mig_proto_journal_entries(p, r, n, action, note);
    return MIG_P_OK;
}

int mig_proto_forget(struct mig_proto *p, struct mig_tracked *const *t, size_t n, const char *note)
{
    char **sql = calloc(n + 1, sizeof(*sql));
    if (!sql)
        abort();
    for (size_t i = 0; i < n; i++)
        sql[i] = mig_proto_delete_sql(p, t[i]->migration, t[i]->phase, t[i]->step, t[i]->uid);
    int rc = in_one_transaction(p, sql, n);
    free(sql);
    if (rc != MIG_P_OK)
        return rc;
    mig_proto_journal_tracked(p, t, n, "marked pending", note, NULL);
    for (size_t i = 0; i < n; i++)
        mig_session_untrack(p->s, t[i]);
    return MIG_P_OK;
}

int mig_proto_accept(struct mig_proto *p, struct mig_tracked *const *t, const char *const *sums, size_t n,
                     const char *note)
{
    struct mig_conn *c = p->s->conn;
    char **sql = calloc(n + 1, sizeof(*sql));
    if (!sql)
        abort();
    for (size_t i = 0; i < n; i++) {
        struct buf b = { 0 };
        mig_pbuf_put(&b, "UPDATE ");
        mig_pbuf_put(&b, c->prefix);
        mig_pbuf_put(&b, "mig_applied SET checksum = ");
        mig_pbuf_lit(&b, c, sums[i]);
        mig_pbuf_row_key(&b, c, t[i]->migration, t[i]->phase, t[i]->step, t[i]->uid);
        sql[i] = b.s;
    }
    int rc = in_one_transaction(p, sql, n);
    free(sql);
    if (rc != MIG_P_OK)
        return rc;
    mig_proto_journal_tracked(p, t, n, "repaired", note, sums);
    for (size_t i = 0; i < n; i++)
        t[i]->checksum = mig_arena_strdup(&p->s->arena, sums[i]);
    return MIG_P_OK;
}
