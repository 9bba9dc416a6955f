/* context.h — what the commands that run a plan's code share (apply, plan,
 * test): the session, the plan, the VM with the -p values, where the VM is
 * (migration, phase, step), preflight checks (drift, targets, requires,
 * --to) and the report of a VM failure with its file, line and step. */
#ifndef MIG_CONTEXT_H
#define MIG_CONTEXT_H
#include "session.h"
#include "vm.h"

struct mig_param_value {
    uint32_t migration, slot;
    struct mig_value v;
};

struct mig_ctx {
    struct mig_session s;
    struct mig_plan *plan;
    struct mig_vm vm;
    bool vm_ready;
    uint32_t mig, phase, step;          /* where the VM is (MIG_NONE: outside) */
    MIG_VEC(uint32_t) req_failed;       /* requires of the prologue that just ran */
    bool ignore_requires;
    MIG_VEC(struct mig_param_value) params;
};

void mig_ctx_init(struct mig_ctx *c, struct mig_plan *plan);
/* -p values checked against the plan, before anything is opened. 0 or -1 (reported). */
int mig_ctx_params(struct mig_ctx *c, const struct mig_run_opts *o);
/* The VM over the session's connection, with the host table. 0 or -1. */
int mig_ctx_vm(struct mig_ctx *c, const struct mig_host *host, void *host_ctx);
void mig_ctx_close(struct mig_ctx *c);
/* Reports the VM's failure: what, where (file:line, migration, phase, step)
 * and the database's own words. */
void mig_ctx_failure(struct mig_ctx *c, const char *prefix);
/* --to MIGRATION[.PHASE]: the last migration and phase to run (-1: all). 0 or -1. */
int mig_ctx_parse_to(struct mig_ctx *c, const char *to, int *last_mig, int *last_phase);
/* Applied steps whose up changed since (named); their number. */
unsigned mig_ctx_drift(struct mig_ctx *c);
/* Whether migration mi targets the database (why not in why). */
bool mig_ctx_target_ok(struct mig_ctx *c, uint32_t mi, char *why, size_t n);
/* Whether migration mi's steps not yet done can run through a pooler that
 * gives its schema only with SET LOCAL (conn->local_search_path): not a
 * step outside a transaction whose SQL cannot run inside one (why). */
bool mig_ctx_pooled_ok(struct mig_ctx *c, uint32_t mi, char *why, size_t n);
/* Runs a migration's prologue (params, lets, requires): 0 when every
 * require holds, else -1 (printed when report). */
int mig_ctx_prologue(struct mig_ctx *c, uint32_t mi, bool report);
bool mig_ctx_step_done(struct mig_ctx *c, uint32_t si);
bool mig_ctx_migration_done(struct mig_ctx *c, uint32_t mi);
/* A string of the plan. */
const char *mig_ctx_str(struct mig_ctx *c, uint32_t s);
/* The source line of byte off of a SQL variant's text. */
uint32_t mig_ctx_variant_line(struct mig_ctx *c, const struct mig_pvariant *v, long off);
/* The hex SHA-256 of a step's up for the target's dialect, or of its
 * command's source for an exec up ("" when none). */
void mig_ctx_checksum(struct mig_ctx *c, uint32_t si, char out[65]);
/* The host callback for REQUIRE shared by every host. */
int mig_ctx_require(void *ctx, struct mig_vm *vm, uint32_t check, bool ok);
int mig_ctx_find_migration(const struct mig_plan *p, const char *name, size_t n);
/* The indexes sql creates that exist invalid in the target (an interrupted
 * CREATE INDEX CONCURRENTLY): their names as written into out; how many. */
size_t mig_ctx_invalid_indexes(struct mig_ctx *c, const char *sql, char (*out)[256], size_t max);

#endif
