/* vm_internal.h — what the files of the VM share (vm.c: dispatch and
 * expression ops; builtins.c; vm_host.c: commands, polling and the plan
 * ops handed to the host). Nothing else includes it. */
#ifndef MIG_VM_INTERNAL_H
#define MIG_VM_INTERNAL_H
#include "vm.h"

struct frame {
    const uint32_t *code;
    struct mig_value *base;     /* arguments of the current function */
};

typedef int (*op_handler)(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a);

#define TOP (vm->stack[vm->sp - 1])
#define POP() (vm->stack[--vm->sp])
#define PUSH(v) (vm->stack[vm->sp++] = (v))
#define NEXT(op) ((int)(pc + 1 + (uint32_t)mig_opinfo[op].nops))

/* Every op's handler, generated from the opcode table. */
#define OP_PROTO(name, nops, pop, push, flags, doc) \
    int mig_op_##name(struct mig_vm *vm, struct frame *f, uint32_t pc, const uint32_t *a);
MIG_OPCODES(OP_PROTO)
#undef OP_PROTO

int mig_vm_type_error(struct mig_vm *vm, uint32_t pc, const char *what, const struct mig_value *l,
                      const struct mig_value *r);
struct mig_value mig_vm_mkint(enum mig_vtype t, int64_t i);
int mig_vm_want_bool(struct mig_vm *vm, uint32_t pc, const struct mig_value *v, const char *what);
int mig_vm_run_code(struct mig_vm *vm, uint32_t block, struct mig_value *args);

#endif
