/* codegen.h — checked AST → plan (bytecode and its tables). */
#ifndef MIG_CODEGEN_H
#define MIG_CODEGEN_H
#include "compiler.h"
#include "lib/sha256.h"
#include "runtime/plan.h"

/* Builds the plan of a program that checked without errors. The plan owns
 * its own arena and does not refer to the program (free both separately). */
struct mig_plan *mig_codegen(struct mig_program *p);

#endif
