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

/* A command ready to run: an exec action's or expression's values as
 * text. Everything is malloc'd and owned by the struct: free it with
 * mig_exec_args_free. */
struct mig_exec_args {
    uint32_t exec;          /* the plan's exec (plan->execs[exec]: file, line, argv as written) */
    char **argv;            /* argc strings, then NULL; ints and floats rendered as text */
    size_t argc;            /* at least 1 */
    char **env;             /* nenv "NAME=VALUE" strings (env { … }, in order), then NULL */
    size_t nenv;
    char *cwd;              /* NULL: not given */
    int64_t timeout_ms;     /* 0: none */
};
void mig_exec_args_free(struct mig_exec_args *a);   /* frees the members (not a); a is zeroed */
/* The argv on one line, each element quoted for a POSIX shell when it
 * needs it (pg_dump --file '/var/backups/keiko 1.dump'): for messages and
 * listings. Malloc'd. */
char *mig_exec_args_text(const struct mig_exec_args *a);

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
    /* EXEC and OUTPUT_EXEC (the expressions `exec [...]` and `output exec
     * [...]`, wherever they are: conditions, lets, functions). Runs the
     * command a describes (borrowed, valid during the call). Returns 0 when
     * the command ran: *ok says whether it exited 0 (false also when it
     * could not be started, was killed or timed out); with want_output and
     * *ok, *output is its whole standard output, malloc'd, given to the VM
     * (which removes one trailing newline). Returns 2 to leave it not run
     * (`migrun plan`): the VM carries on with false (or "") and sets
     * vm->not_evaluated, which the host reads (and clears) in the callback
     * that consumes the condition. Returns -1 to fail the run (vm->err set:
     * interrupted, or an output exec whose command failed, saying why).
     * NULL: every command fails the run with "commands need --allow-exec
     * and are not supported by this migrun command". */
    int (*exec)(void *ctx, struct mig_vm *vm, const struct mig_exec_args *a, bool want_output, bool *ok,
                char **output);
    /* POLL, between two tries of a condition with `within`: the try number
     * that failed (1, 2, …) and the time until the next try. Returns 0
     * after waiting wait_ms itself (a host can report progress and stop
     * early on a signal), 1 to let the VM sleep, -1 to fail (vm->err set).
     * NULL: the VM sleeps. */
    int (*poll_wait)(void *ctx, struct mig_vm *vm, uint32_t check, uint32_t tries, int64_t wait_ms);
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
    bool not_evaluated;             /* a command was left not run (host exec returned 2); cleared by
                                       mig_vm_run and by the host once it has read it */
    struct mig_exec_args *args_out; /* where ARGS hands an exec action's values (mig_vm_exec_args) */
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
/* Evaluates the values of exec action `action` (a step's up_exec or
 * down_exec) with the current values of its migration's params and lets
 * (the migration's prologue must have run) into *out; the host may call it
 * from inside a callback (the VM's state is kept). 0, or -1 with vm->err
 * (a null or bool argv element, a query that failed, …) and *out empty. */
int mig_vm_exec_args(struct mig_vm *vm, uint32_t action, struct mig_exec_args *out);
/* Renders a SQL variant with the current values (the migration's slots,
 * globals). Malloc'd SQL, or NULL with vm->err set. */
char *mig_vm_render(struct mig_vm *vm, const struct mig_pvariant *v, const struct mig_value *args);
/* Formats a failure message into vm->err (with the source line of pc). */
void mig_vm_fail(struct mig_vm *vm, uint32_t pc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A value as text for messages ("'abc'", "42", "null"). */
const char *mig_value_show(struct mig_vm *vm, const struct mig_value *v);
/* The slots (params, lets) of migration m, allocated on first use. */
struct mig_value *mig_slots(struct mig_vm *vm, uint32_t m);
/* A float as text that reads back the same (%.15g, else %.17g), always
 * with a '.' or an exponent ("2.0", "0.001", "1e+20"), so that SQL reads
 * it as a numeric literal and never as an integer. buf: 32 bytes. */
const char *mig_float_text(double f, char buf[32]);
/* Parses a whole string as a finite float ("2.5", "1e-3", "-4"); false otherwise. */
bool mig_float_parse(const char *s, double *out);
/* version_cmp(): -1, 0 or 1 comparing dotted versions part by part as
 * numbers (see doc/language.md for suffixes and missing parts). */
int mig_version_cmp(const char *a, const char *b);
/* Builtin b on n arguments (already on the VM's stack; the string
 * functions' null and type checks done by the caller): 0 with *out, or -1
 * with vm->err (pc: where, for the message). */
int mig_vm_builtin(struct mig_vm *vm, uint32_t pc, enum mig_builtin b, struct mig_value *args, uint32_t n,
                   struct mig_value *out);
/* matches(): whether s matches the POSIX extended regex re (anywhere, as
 * grep -E). 1 or 0; -1 with a message in err when re does not compile. */
int mig_regex_matches(const char *s, const char *re, char *err, size_t errlen);
/* Parses a -p value for a param of type t; -1 with a message. */
int mig_value_parse(struct mig_arena *a, enum mig_vtype t, const char *text, struct mig_value *out,
                    char *err, size_t errlen);

#endif
