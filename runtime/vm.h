/* vm.h — the virtual machine: runs one code block of a plan at a time
 * (file-level lets, a migration's prologue or body). Expression ops are the
 * VM's own; the plan-structure ops (PHASE, STEP, UP, …, REQUIRE) are handed
 * to the host — the runner — which owns transactions, the undo log and the
 * tracking table. One failure path: an op sets vm->err and returns -1, the
 * block stops, the host decides what to undo. */
#ifndef MIG_VM_H
#define MIG_VM_H
#include <stdio.h>
#include "driver.h"
#include "opcodes.h"
#include "plan.h"

struct mig_vm;

/* The host: what the runner does for the plan-structure ops, one typed
 * callback per op with its operands decoded (a NULL callback goes on).
 * Each returns 0 to go on, 1 to take the op's jump (where it has one), -1
 * to fail (vm->err set). Ops that pop a condition pass it as ok. Each
 * migrun command supplies its own table (apply runs steps; plan evaluates
 * guards and prints; test runs each pair). */
struct mig_host {
    int (*require)(void *ctx, struct mig_vm *vm, uint32_t check, bool ok);
    int (*phase)(void *ctx, struct mig_vm *vm, uint32_t phase);         /* 1: all done, skip it */
    int (*checks)(void *ctx, struct mig_vm *vm);                         /* 1: skip verify/assert */
    int (*phase_when)(void *ctx, struct mig_vm *vm, uint32_t phase, bool ok); /* 1: skipped */
    int (*txn_begin)(void *ctx, struct mig_vm *vm, uint32_t phase);
    int (*step)(void *ctx, struct mig_vm *vm, uint32_t step);            /* 1: done, skip it */
    int (*step_when)(void *ctx, struct mig_vm *vm, uint32_t step, bool ok); /* 1: skipped */
    int (*up)(void *ctx, struct mig_vm *vm, uint32_t step);
    int (*verify)(void *ctx, struct mig_vm *vm, uint32_t check, bool ok);
    int (*step_end)(void *ctx, struct mig_vm *vm, uint32_t step);
    int (*assert_)(void *ctx, struct mig_vm *vm, uint32_t check, bool ok);
    int (*txn_commit)(void *ctx, struct mig_vm *vm, uint32_t phase);
    int (*phase_end)(void *ctx, struct mig_vm *vm, uint32_t phase);
};

struct mig_vm {
    const struct mig_plan *plan;
    struct mig_conn *conn;
    const struct mig_host *host;    /* borrowed; NULL: every plan op goes on */
    void *host_ctx;
    FILE *trace;                    /* --trace: each instruction as it runs, or NULL */
    struct mig_arena arena;         /* strings made while running (freed with the VM) */
    struct mig_value *globals;
    struct mig_value **slots;       /* per migration, allocated on first use */
    struct mig_value **overrides;   /* per migration and slot: -p values (t == NULL type: none) */
    bool **has_override;
    struct mig_value *stack;
    uint32_t sp, stack_cap;
    uint32_t depth;                 /* call depth */
    uint32_t migration;             /* of the block running */
    /* failure */
    char err[4096];
    uint32_t err_pc;
    struct mig_dberr dberr;         /* when the failure came from the database */
    bool has_dberr;
};

/* Borrows plan and conn. */
int mig_vm_init(struct mig_vm *vm, const struct mig_plan *plan, struct mig_conn *conn);
void mig_vm_free(struct mig_vm *vm);
/* Sets a -p value for a param (already converted to its type; strings are
 * copied). */
void mig_vm_set_param(struct mig_vm *vm, uint32_t migration, uint32_t slot, const struct mig_value *v);
/* Runs a block to its HALT; for a migration's blocks, migration is its
 * index. 0, or -1 with vm->err. */
int mig_vm_run(struct mig_vm *vm, uint32_t block, uint32_t migration);
/* Renders a SQL variant with the current values (the migration's slots,
 * globals). Malloc'd SQL, or NULL with vm->err set. */
char *mig_vm_render(struct mig_vm *vm, const struct mig_pvariant *v, const struct mig_value *args);
/* Formats a failure message into vm->err (with the source line of pc). */
void mig_vm_fail(struct mig_vm *vm, uint32_t pc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A value as text for messages ("'abc'", "42", "null"). */
const char *mig_value_show(struct mig_vm *vm, const struct mig_value *v);
/* The slots (params, lets) of migration m, allocated on first use. */
struct mig_value *mig_slots(struct mig_vm *vm, uint32_t m);
/* Parses a -p value for a param of type t; -1 with a message. */
int mig_value_parse(struct mig_arena *a, enum mig_vtype t, const char *text, struct mig_value *out,
                    char *err, size_t errlen);

#endif
