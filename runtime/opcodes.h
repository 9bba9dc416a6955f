/* opcodes.h — the single table of VM instructions. Each entry:
 *   OP(NAME, NOPS, POP, PUSH, FLAGS, "synopsis")
 * NOPS operands (32-bit words) follow the opcode word. POP/PUSH give the
 * stack effect (-1 for POP means "the second operand says how many").
 * FLAGS: J_ jumps (the operand named in the synopsis as `a` is an address),
 * K_ keeps the popped value on the taken branch, T_ ends a block, S_ is a
 * plan-structure op (body blocks only), P_ prologue-only.
 * The enum, the descriptor array, the verifier, the VM dispatch, the tracer
 * and `migc disasm` are all generated from it. */
#ifndef MIG_OPCODES_H
#define MIG_OPCODES_H

#define OPF_JUMP 1u
#define OPF_KEEP 2u
#define OPF_TERM 4u
#define OPF_PLAN 8u
#define OPF_PROLOGUE 16u
#define OPF_FN 32u

#define MIG_OPCODES(OP) \
    OP(CONST,        1, 0, 1, 0,        "push constant K[k]") \
    OP(LOAD_GLOBAL,  1, 0, 1, 0,        "push global g (a file-level let)") \
    OP(LOAD_SLOT,    1, 0, 1, 0,        "push slot s of the current migration (param or let)") \
    OP(LOAD_ARG,     1, 0, 1, OPF_FN,   "push argument a of the current function") \
    OP(STORE_GLOBAL, 1, 1, 0, 0,        "pop into global g") \
    OP(STORE_SLOT,   1, 1, 0, 0,        "pop into slot s of the current migration") \
    OP(CHECK_TYPE,   1, 1, 1, 0,        "fail unless the top is of type t (or null)") \
    OP(NOT,          0, 1, 1, 0,        "pop a bool, push its negation") \
    OP(NEG,          0, 1, 1, 0,        "pop an int or duration, push its negation") \
    OP(ADD,          0, 2, 1, 0,        "pop r, l; push l + r (ints, durations; strings concatenate)") \
    OP(SUB,          0, 2, 1, 0,        "pop r, l; push l - r (ints or durations)") \
    OP(MUL,          0, 2, 1, 0,        "pop r, l; push l * r (ints)") \
    OP(DIV,          0, 2, 1, 0,        "pop r, l; push l / r (ints; zero fails)") \
    OP(MOD,          0, 2, 1, 0,        "pop r, l; push l % r (ints; zero fails)") \
    OP(EQ,           0, 2, 1, 0,        "pop r, l; push l == r (null equals only null)") \
    OP(NE,           0, 2, 1, 0,        "pop r, l; push l != r") \
    OP(LT,           0, 2, 1, 0,        "pop r, l; push l < r (ints, strings, durations)") \
    OP(LE,           0, 2, 1, 0,        "pop r, l; push l <= r") \
    OP(GT,           0, 2, 1, 0,        "pop r, l; push l > r") \
    OP(GE,           0, 2, 1, 0,        "pop r, l; push l >= r") \
    OP(JUMP,         1, 0, 0, OPF_JUMP, "continue at address a") \
    OP(JUMP_FALSE,   1, 1, 0, OPF_JUMP, "pop; jump to a if false") \
    OP(AND_JUMP,     1, 1, 0, OPF_JUMP | OPF_KEEP, "if top is false jump to a keeping it, else pop (short-circuit and)") \
    OP(OR_JUMP,      1, 1, 0, OPF_JUMP | OPF_KEEP, "if top is true jump to a keeping it, else pop (short-circuit or)") \
    OP(CALL,         2, -1, 1, 0,       "call function f with n arguments") \
    OP(BUILTIN,      2, -1, 1, 0,       "call builtin b with n arguments") \
    OP(EXISTS,       1, 0, 1, 0,        "push whether query q returns a row") \
    OP(SCALAR,       1, 0, 1, 0,        "push the first column of the first row of query q (null if none)") \
    OP(RET,          0, 1, 0, OPF_TERM | OPF_FN, "return the top from the function") \
    OP(HALT,         0, 0, 0, OPF_TERM, "end of the block (files lets, prologue, body)") \
    OP(PARAM,        2, 0, 0, OPF_JUMP | OPF_PROLOGUE, "if param slot s was given with -p, store it and jump to a") \
    OP(REQUIRE,      1, 1, 0, OPF_PROLOGUE, "pop; refuse the run (preflight) if false, with check c") \
    OP(PHASE,        2, 0, 0, OPF_JUMP | OPF_PLAN, "enter phase p; jump to a if all its steps are done") \
    OP(CHECKS,       1, 0, 0, OPF_JUMP | OPF_PLAN, "verify/assert follow: a read-only plan jumps to a (nothing ran to check)") \
    OP(PHASE_WHEN,   2, 1, 0, OPF_JUMP | OPF_PLAN, "pop; if false record phase p's steps skipped, jump to a") \
    OP(TXN_BEGIN,    1, 0, 0, OPF_PLAN, "begin the transaction of phase p (mode phase)") \
    OP(STEP,         2, 0, 0, OPF_JUMP | OPF_PLAN, "enter step s; jump to a if it is already applied or skipped") \
    OP(STEP_WHEN,    2, 1, 0, OPF_JUMP | OPF_PLAN, "pop; if false record step s skipped, jump to a") \
    OP(UP,           1, 0, 0, OPF_PLAN, "run the up of step s, record it in the undo log and mig_applied") \
    OP(VERIFY,       1, 1, 0, OPF_PLAN, "pop; fail the step if false, with check c") \
    OP(STEP_END,     1, 0, 0, OPF_PLAN, "leave step s (commit under transaction step)") \
    OP(ASSERT,       1, 1, 0, OPF_PLAN, "pop; fail the phase (or migration) if false, with check c") \
    OP(TXN_COMMIT,   1, 0, 0, OPF_PLAN, "commit the transaction of phase p") \
    OP(PHASE_END,    1, 0, 0, OPF_PLAN, "leave phase p")

enum mig_opcode {
#define OP_ENUM(name, nops, pop, push, flags, doc) OP_##name,
    MIG_OPCODES(OP_ENUM)
#undef OP_ENUM
    OP__COUNT
};

struct mig_opinfo {
    const char *name;
    int nops, pop, push;
    unsigned flags;
    const char *doc;
};

extern const struct mig_opinfo mig_opinfo[OP__COUNT];

#endif
