/* opcodes.h — the single table of VM instructions. Each entry:
 *   OP(NAME, OPERANDS, POP, PUSH, FLAGS, "synopsis")
 * OPERANDS is OPS0, OPS1(kind) or OPS2(kind, kind): the 32-bit operand words
 * that follow the opcode word, each with what it refers to (enum
 * mig_opkind, as jq's opcode_list.h gives each opcode its IMMEDIATE kind).
 * POP/PUSH give the stack effect (-1 for POP: the K_COUNT operand says how
 * many). FLAGS: OPF_JUMP branches to its last operand (a K_ADDR), OPF_KEEP
 * keeps the popped value on the taken branch, OPF_TERM ends a block,
 * OPF_PLAN is a plan-structure op (body blocks only), OPF_PROLOGUE
 * prologue-only, OPF_FN function-only, OPF_RETURN ends a block that
 * returns a value (a function, a polled condition), OPF_ARGS ends an exec
 * action's block, OPF_STMT only in a migration's prologue or body.
 * The enum, the descriptor array, the verifier, the VM dispatch, the tracer
 * and `migc disasm` are all generated from it. */
#ifndef MIG_OPCODES_H
#define MIG_OPCODES_H
#include <stdint.h>

#define OPF_JUMP 1u
#define OPF_KEEP 2u
#define OPF_TERM 4u
#define OPF_PLAN 8u
#define OPF_PROLOGUE 16u
#define OPF_FN 32u
#define OPF_RETURN 64u
#define OPF_ARGS 128u
#define OPF_STMT 256u

/* What an operand refers to. The verifier checks each operand by its kind
 * (the table it indexes, the block it jumps in) and the listing shows what
 * it refers to; neither has code per opcode. */
enum mig_opkind {
    K_NONE,         /* no operand */
    K_CONST,        /* index into the constant pool: listed as its value */
    K_GLOBAL,       /* a global (file-level let): listed by name */
    K_SLOT,         /* a slot of the block's migration (param or let) */
    K_ARG,          /* an argument of the block's function */
    K_TYPE,         /* an enum mig_vtype: listed by name */
    K_FN,           /* a function: listed as name() */
    K_BUILTIN,      /* an enum mig_builtin: listed as name() */
    K_COUNT,        /* the argument count of the K_FN or K_BUILTIN before it */
    K_QUERY,        /* a query: listed as its SQL, per dialect */
    K_REQUIRE,      /* a require check: listed by its message or condition */
    K_VERIFY,       /* a verify check: likewise */
    K_ASSERT,       /* an assert check: likewise */
    K_PHASE,        /* a phase of the block's migration: listed as migration.phase */
    K_PHASE_TXN,    /* a phase whose transaction begins: also lists the transaction mode */
    K_STEP,         /* a step of the block's migration: listed as migration.phase.step */
    K_STEP_ENTRY,   /* a step being entered: also lists an irreversible down */
    K_STEP_UP,      /* a step whose up runs: also lists the up SQL (or command) and batch mode */
    K_ADDR,         /* a code address, forward, on an instruction of the same block */
    K_EXEC,         /* an exec expression (computed inline): listed as its argv as written */
    K_EXEC_ACTION,  /* the exec action whose block this is: listed likewise */
    K_POLL          /* a check with `within`: listed with its times and condition */
};

/* Operand lists of the table: the count, then the kinds (K_NONE-padded). */
#define OPS0 0, K_NONE, K_NONE
#define OPS1(a) 1, a, K_NONE
#define OPS2(a, b) 2, a, b

#define MIG_OPCODES(OP) \
    OP(CONST,        OPS1(K_CONST),               0, 1, 0,                       "push constant K[k]") \
    OP(LOAD_GLOBAL,  OPS1(K_GLOBAL),              0, 1, 0,                       "push global g (a file-level let)") \
    OP(LOAD_SLOT,    OPS1(K_SLOT),                0, 1, 0,                       "push slot s of the current migration (param or let)") \
    OP(LOAD_ARG,     OPS1(K_ARG),                 0, 1, OPF_FN,                  "push argument a of the current function") \
    OP(STORE_GLOBAL, OPS1(K_GLOBAL),              1, 0, 0,                       "pop into global g") \
    OP(STORE_SLOT,   OPS1(K_SLOT),                1, 0, 0,                       "pop into slot s of the current migration") \
    OP(CHECK_TYPE,   OPS1(K_TYPE),                1, 1, 0,                       "fail unless the top is of type t (or null)") \
    OP(NOT,          OPS0,                        1, 1, 0,                       "pop a bool, push its negation") \
    OP(NEG,          OPS0,                        1, 1, 0,                       "pop an int or duration, push its negation") \
    OP(ADD,          OPS0,                        2, 1, 0,                       "pop r, l; push l + r (ints, durations; strings concatenate)") \
    OP(SUB,          OPS0,                        2, 1, 0,                       "pop r, l; push l - r (ints or durations)") \
    OP(MUL,          OPS0,                        2, 1, 0,                       "pop r, l; push l * r (ints)") \
    OP(DIV,          OPS0,                        2, 1, 0,                       "pop r, l; push l / r (ints; zero fails)") \
    OP(MOD,          OPS0,                        2, 1, 0,                       "pop r, l; push l % r (ints; zero fails)") \
    OP(EQ,           OPS0,                        2, 1, 0,                       "pop r, l; push l == r (null equals only null)") \
    OP(NE,           OPS0,                        2, 1, 0,                       "pop r, l; push l != r") \
    OP(LT,           OPS0,                        2, 1, 0,                       "pop r, l; push l < r (ints, strings, durations)") \
    OP(LE,           OPS0,                        2, 1, 0,                       "pop r, l; push l <= r") \
    OP(GT,           OPS0,                        2, 1, 0,                       "pop r, l; push l > r") \
    OP(GE,           OPS0,                        2, 1, 0,                       "pop r, l; push l >= r") \
    OP(JUMP,         OPS1(K_ADDR),                0, 0, OPF_JUMP,                "continue at address a") \
    OP(JUMP_FALSE,   OPS1(K_ADDR),                1, 0, OPF_JUMP,                "pop; jump to a if false") \
    OP(AND_JUMP,     OPS1(K_ADDR),                1, 0, OPF_JUMP | OPF_KEEP,     "if top is false jump to a keeping it, else pop (short-circuit and)") \
    OP(OR_JUMP,      OPS1(K_ADDR),                1, 0, OPF_JUMP | OPF_KEEP,     "if top is true jump to a keeping it, else pop (short-circuit or)") \
    OP(CALL,         OPS2(K_FN, K_COUNT),        -1, 1, 0,                       "call function f with n arguments") \
    OP(BUILTIN,      OPS2(K_BUILTIN, K_COUNT),   -1, 1, 0,                       "call builtin b with n arguments") \
    OP(EXISTS,       OPS1(K_QUERY),               0, 1, 0,                       "push whether query q returns a row") \
    OP(SCALAR,       OPS1(K_QUERY),               0, 1, 0,                       "push the first column of the first row of query q (null if none)") \
    OP(EXEC,         OPS2(K_EXEC, K_COUNT),      -1, 1, 0,                       "pop the n values of exec e (argv, env, cwd), run it; push whether it exited 0") \
    OP(OUTPUT_EXEC,  OPS2(K_EXEC, K_COUNT),      -1, 1, 0,                       "pop the n values of exec e, run it; push its stdout without the trailing newline") \
    OP(POLL,         OPS1(K_POLL),                0, 1, OPF_STMT,                "run check c's condition until true or its time is up; push the last result") \
    OP(ARGS,         OPS2(K_EXEC_ACTION, K_COUNT), -1, 0, OPF_TERM | OPF_ARGS,   "end of exec action e's block: pop its n values, hand them to the runner") \
    OP(RET,          OPS0,                        1, 0, OPF_TERM | OPF_RETURN,   "return the top from the function (or polled condition)") \
    OP(HALT,         OPS0,                        0, 0, OPF_TERM,                "end of the block (files lets, prologue, body)") \
    OP(PARAM,        OPS2(K_SLOT, K_ADDR),        0, 0, OPF_JUMP | OPF_PROLOGUE, "if param slot s was given with -p, store it and jump to a") \
    OP(REQUIRE,      OPS1(K_REQUIRE),             1, 0, OPF_PROLOGUE,            "pop; refuse the run (preflight) if false, with check c") \
    OP(PHASE,        OPS2(K_PHASE, K_ADDR),       0, 0, OPF_JUMP | OPF_PLAN,     "enter phase p; jump to a if all its steps are done") \
    OP(CHECKS,       OPS1(K_ADDR),                0, 0, OPF_JUMP | OPF_PLAN,     "verify/assert follow: a read-only plan jumps to a (nothing ran to check)") \
    OP(PHASE_WHEN,   OPS2(K_PHASE, K_ADDR),       1, 0, OPF_JUMP | OPF_PLAN,     "pop; if false record phase p's steps skipped, jump to a") \
    OP(TXN_BEGIN,    OPS1(K_PHASE_TXN),           0, 0, OPF_PLAN,                "begin the transaction of phase p (mode phase)") \
    OP(STEP,         OPS2(K_STEP_ENTRY, K_ADDR),  0, 0, OPF_JUMP | OPF_PLAN,     "enter step s; jump to a if it is already applied or skipped") \
    OP(STEP_WHEN,    OPS2(K_STEP, K_ADDR),        1, 0, OPF_JUMP | OPF_PLAN,     "pop; if false record step s skipped, jump to a") \
    OP(UP,           OPS1(K_STEP_UP),             0, 0, OPF_PLAN,                "run the up of step s, record it in the undo log and mig_applied") \
    OP(VERIFY,       OPS1(K_VERIFY),              1, 0, OPF_PLAN,                "pop; fail the step if false, with check c") \
    OP(STEP_END,     OPS1(K_STEP),                0, 0, OPF_PLAN,                "leave step s (commit under transaction step)") \
    OP(ASSERT,       OPS1(K_ASSERT),              1, 0, OPF_PLAN,                "pop; fail the phase (or migration) if false, with check c") \
    OP(TXN_COMMIT,   OPS1(K_PHASE),               0, 0, OPF_PLAN,                "commit the transaction of phase p") \
    OP(PHASE_END,    OPS1(K_PHASE),               0, 0, OPF_PLAN,                "leave phase p")

enum mig_opcode {
#define OP_ENUM(name, ops, pop, push, flags, doc) OP_##name,
    MIG_OPCODES(OP_ENUM)
#undef OP_ENUM
    OP__COUNT
};

struct mig_opinfo {
    const char *name;
    int nops;
    uint8_t kind[2];        /* enum mig_opkind of each operand */
    int pop, push;
    unsigned flags;
    const char *doc;
};

extern const struct mig_opinfo mig_opinfo[OP__COUNT];

#endif
