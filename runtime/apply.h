/* apply.h — what the files of migrun apply share (cmd_apply.c: the host
 * and the command; apply_exec.c: steps and conditions that run commands;
 * apply_failure.c: what a failure undoes). Nothing else includes it. */
#ifndef MIG_APPLY_H
#define MIG_APPLY_H
#include "context.h"
#include "protocol.h"

/* A step of a migration the run finished (its names and status are the
 * plan's strings and literals, which apply's rows borrow: mig_apply_record
 * sets kept). */
struct apply_done {
    char uid[33];
    const char *status, *migration, *phase, *step;
};

struct apply {
    struct mig_ctx c;
    struct mig_proto p;
    bool *deferred;             /* steps after --to M.PHASE */
    struct mig_arena work;      /* the records' texts of the migration running (checksums, rendered
                                   up and down): released when the next one starts, so a run's
                                   memory does not grow with its number of steps */
    struct mig_arena rows;      /* the session's rows of the migration running (s->row_arena) */
    bool keep_rows;             /* forget no finished migration's rows (cmd_apply.c finish_migration) */
    /* this run's steps of the migrations it finished, whose session rows are
     * forgotten: what failover.c compares with a new primary's rows */
    MIG_VEC(struct apply_done) done;
    int proto_rc;               /* the protocol's result behind the last failure */
    unsigned failovers, stalled, failover_mark;     /* failover.c: reconnections, and without progress */
};

#define S(a, s) mig_ctx_str(&(a)->c, (s))

/* The protocol's failure (p->err, its database error) as the VM's. */
int mig_apply_failed(struct apply *a, int rc);
const struct mig_pphase *mig_apply_phase(struct apply *a, uint32_t ph);
/* A new record for step si (uid, names, phase limits, down kind and flags). */
void mig_apply_record(struct apply *a, uint32_t si, struct mig_record *r);
/* An exec down rendered into r (down_exec), when the step has one. */
int mig_apply_exec_down(struct apply *a, struct mig_vm *vm, uint32_t si, struct mig_record *r);
/* A step whose up is a command. */
int mig_apply_exec_up(struct apply *a, struct mig_vm *vm, uint32_t si);
int mig_apply_host_exec(void *ctx, struct mig_vm *vm, const struct mig_exec_args *args, bool want_output, bool *ok,
                        char **output);
int mig_apply_host_poll_wait(void *ctx, struct mig_vm *vm, uint32_t check, uint32_t tries, int64_t wait_ms);
/* After a failure of migration mi: the exit code. */
int mig_apply_failure(struct apply *a, uint32_t mi);

/* failover.c: whether the last failure was a lost connection; and after
 * one, in pending[i]: connect again (--reconnect-timeout), reconcile with
 * the tracking rows of the server reached, and return the index in pending
 * to go on from; -1: not a case for going on (the usual failure path);
 * -2: could not connect again (reported: exit 4); -3: connected again but
 * another run started meanwhile (the usual failure path, connected). */
bool mig_apply_lost(const struct apply *a);
long mig_apply_failover(struct apply *a, const uint32_t *pending, size_t i);

#endif
