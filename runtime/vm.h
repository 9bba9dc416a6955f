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

/* Called for every OPF_PLAN / OPF_PROLOGUE op except PARAM. For the ops
 * that pop a condition, *cond holds it (already checked to be a bool).
 * Returns 0 to go on, 1 to take the op's jump, -1 to fail (vm->err set). */
typedef int (*mig_host_fn)(void *ctx, struct mig_vm *vm, enum mig_opcode op, const uint32_t *operands,
                           bool cond);

struct mig_vm {
    const struct mig_plan *plan;
    struct mig_conn *conn;
    mig_host_fn host;
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
/* Parses a -p value for a param of type t; -1 with a message. */
int mig_value_parse(struct mig_arena *a, enum mig_vtype t, const char *text, struct mig_value *out,
                    char *err, size_t errlen);

#endif
