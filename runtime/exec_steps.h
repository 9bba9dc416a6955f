/* exec_steps.h — what apply and rollback do with commands beyond running
 * them (exec.c): the --allow-exec preflight, a rendered command kept as
 * JSON in the tracking row (an exec down), and the host side of `exec` /
 * `output exec` expressions. */
#ifndef MIG_EXEC_STEPS_H
#define MIG_EXEC_STEPS_H
#include "protocol.h"
#include "vm.h"

/* Refuses (reported, -1) a plan with commands unless they are allowed,
 * listing each with its file and line. */
int mig_exec_preflight(struct mig_session *s, const struct mig_plan *plan, bool allowed);
/* A command's values as the JSON of a tracking row's down_exec (malloc'd),
 * and back (0, or -1 when the text is not one). */
char *mig_exec_to_json(const struct mig_exec_args *a);
int mig_exec_from_json(const char *json, struct mig_exec_args *out);
/* Runs a command of an expression (`exec [...]`, `output exec [...]`) or of
 * a down for the protocol: its output shown under prefix, the target's
 * connection in its environment. ok: exit 0; *output (want_output) malloc'd. */
int mig_exec_command(struct mig_proto *p, const struct mig_exec_args *a, bool want_output, bool *ok, char **output,
                     char *why, size_t whylen);

#endif
