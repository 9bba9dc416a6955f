/* protocol_restore.c — restore points (`down … restores`): the down of such
 * a step brings the whole database back to the state before the step (a
 * backup's restore), tracking tables included. A rollback that reaches it
 * runs it instead of the downs of every database step applied after it in
 * the same run (irreversible ones included); the downs of later steps whose
 * down is a command still run, in reverse order, before it. Afterwards the
 * tracking rows are put right from the rollback's own list, whatever the
 * restored tables say: the replaced steps and the restore point are
 * undone, the runs table is as it was before the restore, and every other
 * step still applied must be there (else: a person must look). */
#include "protocol.h"
#include "protocol_internal.h"
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static bool has_flag(const struct mig_tracked *t, const char *f)
{
    return t->down_flags && strstr(t->down_flags, f) != NULL;
}

bool mig_proto_is_restore(const struct mig_tracked *t)
{
    return has_flag(t, "restores") && strcmp(t->status, "applied") == 0;
}

/* A step whose down is a command (not itself a restore) is not replaced:
 * it undoes something outside the database. */
static bool replaceable(const struct mig_tracked *t)
{
    bool command = t->down_kind && strcmp(t->down_kind, "exec") == 0;
    return !command || has_flag(t, "restores");
}

size_t mig_proto_restore_map(struct mig_tracked *const *rows, size_t n, struct mig_tracked **by)
{
    size_t replaced = 0;
    for (size_t i = 0; i < n; i++)
        by[i] = NULL;
    /* rows are newest first: walk from the oldest, so that the earliest
     * restore point of a run replaces what follows it, later ones included */
    for (size_t i = n; i-- > 0;) {
        struct mig_tracked *r = rows[i];
        if (by[i] || !mig_proto_is_restore(r))
            continue;
        for (size_t k = 0; k < i; k++)
            if (!by[k] && rows[k]->run == r->run && rows[k]->seq > r->seq && replaceable(rows[k])) {
                by[k] = r;
                replaced++;
            }
    }
    return replaced;
}

/* ---- the schema before the step and after its restore ---------------------------------------- */

static int fp_row(void *ctx, int n, const char *const *v)
{
    struct buf *b = ctx;
    if (n >= 1 && v[0]) {
        mig_pbuf_put(b, v[0]);
        mig_pbuf_put(b, "\n");
    }
    return 0;
}

char *mig_proto_fingerprint(struct mig_session *s, struct mig_dberr *e)
{
    const char *q = s->conn->drv->schema_fingerprint;
    struct buf b = { 0 };
    mig_pbuf_put(&b, "");
    if (!q)
        return b.s;
    if (s->conn->drv->select(s->conn, q, fp_row, &b, e) != 0) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static void add_line(char *out, size_t n, size_t *k, const char *l, size_t len)
{
    if (*k < n)
        *k += (size_t)snprintf(out + *k, n - *k, "\n      %.*s", (int)(len > 200 ? 200 : len), l);
}

/* The lines only in a and only in b (both sorted bytewise, as the
 * fingerprint queries sort them), one merge. */
static void differ(const char *a, const char *b, char *only_a, size_t *na, char *only_b, size_t *nb, size_t n)
{
    size_t ka = 0, kb = 0;
    *na = *nb = 0;
    while (*a || *b) {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        size_t la = ea ? (size_t)(ea - a) : strlen(a), lb = eb ? (size_t)(eb - b) : strlen(b);
        int c;
        if (!*a)
            c = 1;
        else if (!*b)
            c = -1;
        else {
            c = memcmp(a, b, la < lb ? la : lb);
            if (c == 0)
                c = la < lb ? -1 : la > lb ? 1 : 0;
        }
        if (c <= 0 && c != 0) {
            (*na)++;
            add_line(only_a, n, &ka, a, la);
        } else if (c > 0) {
            (*nb)++;
            add_line(only_b, n, &kb, b, lb);
        }
        if (c <= 0)
            a = ea ? ea + 1 : a + la;
        if (c >= 0)
            b = eb ? eb + 1 : b + lb;
    }
}

/* After the restore: the schema must be the one recorded before the step.
 * 0, or -1 with the differences in p->err. */
static int check_schema(struct mig_proto *p, const struct mig_tracked *r)
{
    json_t *o = r->down_exec ? json_loads(r->down_exec, 0, NULL) : NULL;
    const char *before = json_string_value(json_object_get(o, "restore_check"));
    if (!before) {
        json_decref(o);
        return 0;       /* recorded by a migrun without the check */
    }
    struct mig_dberr e;
    char *now = mig_proto_fingerprint(p->s, &e);
    if (!now) {
        json_decref(o);
        mig_proto_fail(p, MIG_P_DIRTY, &e, "%s.%s.%s: the restore ran, but the schema could not be read to check "
                       "it: %s", r->migration, r->phase, r->step, e.message);
        return -1;
    }
    char left[4096] = "", lost[4096] = "";
    size_t nleft, nlost;
    differ(now, before, left, &nleft, lost, &nlost, sizeof(left));
    free(now);
    json_decref(o);
    if (nleft == 0 && nlost == 0)
        return 0;
    mig_proto_fail(p, MIG_P_DIRTY, NULL, "the restore of %s.%s.%s did not bring the schema back as it was before "
                   "that step (a restore that only replaces what the backup holds leaves what later steps created): "
                   "%zu object%s left that were not there before%s%s; %zu object%s lost%s%s — a person must look",
                   r->migration, r->phase, r->step, nleft, nleft == 1 ? "" : "s", nleft ? ":" : "", left, nlost,
                   nlost == 1 ? "" : "s", nlost ? ":" : "", lost);
    return -1;
}

/* ---- the runs table, kept across the restore ------------------------------------------------- */

#define RUN_COLS 8

struct saved_runs {
    MIG_VEC(char *) v;      /* RUN_COLS texts (or NULL) per run */
};

static int save_run(void *ctx, int n, const char *const *v)
{
    struct mig_session *s = ((void **)ctx)[0];
    struct saved_runs *sr = ((void **)ctx)[1];
    for (int i = 0; i < RUN_COLS; i++) {
        char *t = i < n && v[i] ? mig_arena_strdup(&s->arena, v[i]) : NULL;
        MIG_PUSH(&s->arena, sr->v, t);
    }
    return 0;
}

static const char *run_cols = "run, command, outcome, started_at, finished_at, user_name, host, pid";

static int read_runs(struct mig_proto *p, struct saved_runs *sr, struct mig_dberr *e)
{
    struct mig_session *s = p->s;
    void *ctx[2] = { s, sr };
    char *sql = mig_arena_printf(&s->arena, "SELECT %s FROM %smig_runs ORDER BY run", run_cols, s->conn->prefix);
    return s->conn->drv->select(s->conn, sql, save_run, ctx, e);
}

/* The runs table as it was before the restore, and the tracking rows of
 * gone[0..n) removed, in one transaction. */
static int put_right(struct mig_proto *p, const struct saved_runs *sr, struct mig_tracked *const *gone, size_t n,
                     struct mig_dberr *e)
{
    struct mig_session *s = p->s;
    struct mig_conn *c = s->conn;
    if (c->drv->begin(c, 0, 0, e) != 0)
        return -1;
    struct buf b = { 0 };
    mig_pbuf_put(&b, "DELETE FROM ");
    mig_pbuf_put(&b, c->prefix);
    mig_pbuf_put(&b, "mig_runs");
    int rc = c->drv->exec(c, b.s, NULL, e);
    for (size_t i = 0; rc == 0 && i < sr->v.n; i += RUN_COLS) {
        b.n = 0;
        mig_pbuf_put(&b, "INSERT INTO ");
        mig_pbuf_put(&b, c->prefix);
        mig_pbuf_put(&b, "mig_runs (");
        mig_pbuf_put(&b, run_cols);
        mig_pbuf_put(&b, ") VALUES (");
        for (size_t k = 0; k < RUN_COLS; k++) {
            mig_pbuf_put(&b, k ? ", " : "");
            mig_pbuf_lit(&b, c, sr->v.v[i + k]);
        }
        mig_pbuf_put(&b, ")");
        rc = c->drv->exec(c, b.s, NULL, e);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *del = mig_proto_delete_sql(p, gone[i]->migration, gone[i]->phase, gone[i]->step, gone[i]->uid);
        rc = c->drv->exec(c, del, NULL, e);
        free(del);
    }
    free(b.s);
    if (rc != 0) {
        struct mig_dberr e2;
        c->drv->rollback(c, &e2);
        return -1;
    }
    return c->drv->commit(c, e);
}

/* ---- the restore ------------------------------------------------------------------------------ */

static int run_down(struct mig_proto *p, struct mig_tracked *r, char *why, size_t n)
{
    struct mig_conn *c = p->s->conn;
    if (r->down_kind && strcmp(r->down_kind, "exec") == 0) {
        bool ok = false;
        return mig_proto_run_down_command(p, r, "restore", &ok, why, n) == 0 && ok ? 0 : -1;
    }
    if (!r->down) {
        snprintf(why, n, "no down recorded");
        return -1;
    }
    struct mig_dberr e;
    if (c->drv->exec(c, r->down, NULL, &e) != 0) {
        snprintf(why, n, "%.400s", e.message);
        return -1;
    }
    return 0;
}

int mig_proto_restore(struct mig_proto *p, struct mig_tracked **rows, size_t n, size_t at,
                      struct mig_tracked *const *by)
{
    struct mig_session *s = p->s;
    struct mig_tracked *r = rows[at];
    struct mig_dberr e;
    int64_t t0 = mig_now_ms();
    /* what the restore replaces, and what must still be applied after it */
    MIG_VEC(struct mig_tracked *) gone = { 0 };
    MIG_VEC(struct mig_tracked *) keep = { 0 };
    for (size_t i = 0; i < n; i++)
        if (by[i] && strcmp(by[i]->uid, r->uid) == 0 && mig_session_by_uid(s, rows[i]->uid))
            MIG_PUSH(&s->arena, gone, rows[i]);
    MIG_PUSH(&s->arena, gone, r);
    for (size_t i = 0; i < s->rows.n; i++) {
        struct mig_tracked *t = s->rows.v[i];
        bool replaced = false;
        for (size_t k = 0; k < gone.n && !replaced; k++)
            replaced = gone.v[k] == t;
        if (!replaced && mig_session_by_uid(s, t->uid) == t)
            MIG_PUSH(&s->arena, keep, t);
    }
    struct saved_runs sr = { 0 };
    if (read_runs(p, &sr, &e) != 0)
        return mig_proto_fail(p, e.connection_lost ? MIG_P_UNKNOWN : MIG_P_FAIL, &e,
                              "cannot read mig_runs before the restore of %s.%s.%s: %s", r->migration, r->phase,
                              r->step, e.message);
    char why[512] = "";
    snprintf(s->where, sizeof(s->where), "the restore of %s.%s.%s", r->migration, r->phase, r->step);
    if (run_down(p, r, why, sizeof(why)) != 0) {
        s->where[0] = 0;
        /* a restore that failed may have changed anything: never "as before" */
        return mig_proto_fail(p, MIG_P_DIRTY, NULL, "%s.%s.%s: its restore failed (%s); what it replaces (%zu "
                              "step%s) was not undone", r->migration, r->phase, r->step, why, gone.n - 1,
                              gone.n == 2 ? "" : "s");
    }
    s->where[0] = 0;
    /* the target may be a new file now (SQLite): read it again */
    int lrc = s->conn->drv->dialect == MIG_D_SQLITE ? mig_session_reconnect(s) : mig_session_load(s);
    if (lrc != 0 || put_right(p, &sr, gone.v, gone.n, &e) != 0 || mig_session_load(s) != 0)
        return mig_proto_fail(p, MIG_P_DIRTY, lrc ? NULL : &e, "%s.%s.%s: the restore ran, but the tracking tables "
                              "could not be put right afterwards%s%s", r->migration, r->phase, r->step,
                              lrc ? "" : ": ", lrc ? "" : e.message);
    /* every step applied before the restore point must still be there, and
     * nothing else */
    char missing[1024] = "";
    size_t k = 0, nmissing = 0, nextra = 0;
    for (size_t i = 0; i < keep.n; i++)
        if (!mig_session_by_uid(s, keep.v[i]->uid)) {
            nmissing++;
            if (k < sizeof(missing))
                k += (size_t)snprintf(missing + k, sizeof(missing) - k, "%s%s.%s.%s (missing)", k ? ", " : "",
                                      keep.v[i]->migration, keep.v[i]->phase, keep.v[i]->step);
        }
    for (size_t i = 0; i < s->rows.n; i++) {
        struct mig_tracked *t = s->rows.v[i];
        if (mig_session_by_uid(s, t->uid) != t)
            continue;
        bool known = false;
        for (size_t j = 0; j < keep.n && !known; j++)
            known = strcmp(keep.v[j]->uid, t->uid) == 0;
        if (!known) {
            nextra++;
            if (k < sizeof(missing))
                k += (size_t)snprintf(missing + k, sizeof(missing) - k, "%s%s.%s.%s (not applied before)",
                                      k ? ", " : "", t->migration, t->phase, t->step);
        }
    }
    mig_proto_journal_tracked(p, gone.v, gone.n, "undone", NULL, NULL);
    for (size_t i = 0; i < gone.n; i++) {
        struct mig_tracked *t = gone.v[i];
        mig_report_step(&s->rep, "undone", t->migration, t->phase, t->step, t == r ? mig_now_ms() - t0 : -1, 0,
                        t == r ? "restored the database as it was before this step"
                               : mig_arena_printf(&s->arena, "by the restore of %s.%s.%s", r->migration, r->phase,
                                                  r->step));
        t->status = "undone";
        p->undone++;
    }
    if (!nmissing && !nextra && check_schema(p, r) != 0)
        return MIG_P_DIRTY;
    /* the rows still to undo are the session's new ones */
    for (size_t i = at + 1; i < n; i++) {
        struct mig_tracked *now = mig_session_by_uid(s, rows[i]->uid);
        if (now)
            rows[i] = now;
    }
    if (nmissing || nextra)
        return mig_proto_fail(p, MIG_P_DIRTY, NULL, "the restore of %s.%s.%s brought back tracking rows that do not "
                              "match what was applied before it (%zu missing, %zu not applied before: %s): the backup "
                              "is not the one this step took — a person must look", r->migration, r->phase, r->step,
                              nmissing, nextra, missing);
    return MIG_P_OK;
}
