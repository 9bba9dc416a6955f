/* load.h — what migc and migrun share on their command lines: turning PATH
 * arguments (.mig files and folders, or one .migb) into a verified plan. */
#ifndef MIG_TOOLS_LOAD_H
#define MIG_TOOLS_LOAD_H
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include "runtime/plan.h"

/* Compiles sources (printing diagnostics to err) or loads a .migb. Returns
 * NULL on failure after printing why; *usage is set when the failure is a
 * missing path rather than a compile error. */
/* Writes data to path through a file beside it and a rename, so that a
 * failure never leaves half a file. 0, or -1 after saying why (migc). */
int mig_write_replacing(const char *path, const void *data, size_t n);
/* A usage error of prog (and its command cmd, or NULL): one line on stderr
 * that points to the command's --help, never the whole usage. */
void mig_usage_verror(const char *prog, const char *cmd, const char *fmt, va_list ap);
struct mig_plan *mig_load_inputs(const char *prog, char **paths, int n, FILE *err, bool color, bool *usage);
/* The same; lint: print the warnings too (else only errors, the lint
 * rules' errors included). */
struct mig_plan *mig_load_inputs_lint(const char *prog, char **paths, int n, FILE *err, bool color, bool *usage,
                                      bool lint);
bool mig_is_bytecode_path(const char *path);
/* Colour for a stream: only on a terminal, never with NO_COLOR set. */
bool mig_use_color(FILE *f);

#endif
