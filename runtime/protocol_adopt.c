/* protocol_adopt.c — what a person records by hand (migrun baseline, mark,
 * repair): steps recorded as applied without running them, records
 * removed without running a down, a changed step's checksum accepted. Each
 * is one transaction in the target, then journal entries carrying the
 * reason the user gave. See protocol.h. */
#include "protocol.h"
#include "protocol_internal.h"
#include <stdlib.h>
#include <string.h>

static void journal(struct mig_proto *p, struct mig_jentry *e, size_t n)
{
    struct mig_session *s = p->s;
    if (!s->j || !p->jrun || n == 0)
        return;
    if (mig_journal_add(s->j, p->jrun, e, n, "done") != 0)
        mig_report_warning(&s->rep, "%s; the target holds the truth", mig_journal_error(s->j));
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
    struct mig_jentry *je = calloc(n + 1, sizeof(*je));
    if (!je)
        abort();
    for (size_t i = 0; i < n; i++) {
        memcpy(je[i].uid, r[i].uid, sizeof(je[i].uid));
        je[i].migration = r[i].migration;
        je[i].phase = r[i].phase;
        je[i].step = r[i].step;
        je[i].action = action;
        je[i].txn = r[i].txn;
        je[i].checksum = r[i].checksum;
        je[i].irreversible = r[i].irreversible;
        je[i].file = r[i].file;
        je[i].line = r[i].line;
        je[i].seq = r[i].seq;
        je[i].note = note;
    }
    journal(p, je, n);
    free(je);
    return MIG_P_OK;
}

int mig_proto_forget(struct mig_proto *p, struct mig_tracked *const *t, size_t n, const char *note)
{
    struct mig_conn *c = p->s->conn;
    struct mig_dberr e;
    int rc = mig_proto_begin(p, 0, 0);
    if (rc != MIG_P_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char *sql = mig_proto_delete_sql(p, t[i]->uid);
        rc = c->drv->exec(c, sql, NULL, &e);
        free(sql);
        if (rc != 0)
            break;
    }
    if (rc != 0 || c->drv->commit(c, &e) != 0) {
        bool lost = e.connection_lost;
        mig_proto_abort(p);
        return mig_proto_fail(p, lost ? MIG_P_UNKNOWN : MIG_P_FAIL, &e, "cannot update mig_applied: %s", e.message);
    }
    p->txn_open = false;
    struct mig_jentry *je = calloc(n + 1, sizeof(*je));
    if (!je)
        abort();
    for (size_t i = 0; i < n; i++) {
        mig_journal_uid(je[i].uid);
        je[i].migration = t[i]->migration;
        je[i].phase = t[i]->phase;
        je[i].step = t[i]->step;
        je[i].action = "marked pending";
        je[i].txn = t[i]->txn;
        je[i].undoes = t[i]->uid;
        je[i].down_sql = t[i]->down;
        je[i].file = t[i]->file;
        je[i].line = t[i]->line;
        je[i].seq = t[i]->seq;
        je[i].note = note;
        mig_session_untrack(p->s, t[i]);
    }
    journal(p, je, n);
    free(je);
    return MIG_P_OK;
}

int mig_proto_accept(struct mig_proto *p, struct mig_tracked *const *t, const char *const *sums, size_t n,
                     const char *note)
{
    struct mig_conn *c = p->s->conn;
    struct mig_dberr e;
    int rc = mig_proto_begin(p, 0, 0);
    if (rc != MIG_P_OK)
        return rc;
    struct buf b = { 0 };
    for (size_t i = 0; i < n && rc == 0; i++) {
        b.n = 0;
        mig_pbuf_put(&b, "UPDATE ");
        mig_pbuf_put(&b, c->prefix);
        mig_pbuf_put(&b, "mig_applied SET checksum = ");
        mig_pbuf_lit(&b, c, sums[i]);
        mig_pbuf_put(&b, " WHERE entry_uid = ");
        mig_pbuf_lit(&b, c, t[i]->uid);
        rc = c->drv->exec(c, b.s, NULL, &e);
    }
    free(b.s);
    if (rc != 0 || c->drv->commit(c, &e) != 0) {
        bool lost = e.connection_lost;
        mig_proto_abort(p);
        return mig_proto_fail(p, lost ? MIG_P_UNKNOWN : MIG_P_FAIL, &e, "cannot update mig_applied: %s", e.message);
    }
    p->txn_open = false;
    struct mig_jentry *je = calloc(n + 1, sizeof(*je));
    if (!je)
        abort();
    for (size_t i = 0; i < n; i++) {
        mig_journal_uid(je[i].uid);
        je[i].migration = t[i]->migration;
        je[i].phase = t[i]->phase;
        je[i].step = t[i]->step;
        je[i].action = "repaired";
        je[i].txn = t[i]->txn;
        je[i].checksum = sums[i];
        je[i].undoes = t[i]->uid;
        je[i].file = t[i]->file;
        je[i].line = t[i]->line;
        je[i].seq = t[i]->seq;
        je[i].note = note;
        t[i]->checksum = mig_arena_strdup(&p->s->arena, sums[i]);
    }
    journal(p, je, n);
    free(je);
    return MIG_P_OK;
}
