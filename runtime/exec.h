/* exec.h — running a command of an exec action or expression: argv as
 * given (never a shell unless written), the environment plus the target's
 * connection and the action's own variables, standard input /dev/null,
 * its own process group (killed with SIGTERM, then SIGKILL after a grace
 * period, on timeout or when migrun is interrupted; it dies with migrun),
 * output streamed to the user line by line with a prefix and its last
 * 8 KiB kept for the undo log. */
#ifndef MIG_EXEC_H
#define MIG_EXEC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "report.h"

#define MIG_EXEC_TAIL 8192
#define MIG_EXEC_GRACE_MS 5000

struct mig_exec_spec {
    char *const *argv;          /* argv[0] is the program, looked up in PATH when it has no '/' */
    char *const *env;           /* NAME=VALUE added to (or replacing in) the environment; NULL-terminated or NULL */
    const char *cwd;            /* NULL: migrun's */
    int64_t timeout_ms;         /* 0: none */
    const char *prefix;         /* shown before each output line ("    | ") */
    bool capture;               /* keep the whole standard output (output exec) instead of streaming it */
};

struct mig_exec_result {
    bool started;               /* false: the program could not be started (not found, not executable) */
    int exit_status;            /* when it exited */
    int term_signal;            /* when a signal ended it (0: none) */
    bool timed_out;
    bool interrupted;           /* migrun got SIGINT/SIGTERM while it ran */
    int64_t ms;
    char tail[MIG_EXEC_TAIL + 1];   /* the last bytes of its output (stdout and stderr) */
    size_t tail_len;
    char *output;               /* capture: its standard output (malloc'd; free it) */
    char why[512];              /* on failure: "exit status 3", "killed by SIGKILL", "timed out after 30s", … */
};

/* Runs the command to its end; 0 when it started and exited 0, else -1
 * (r->why says why). Output lines go to rep (text: prefixed lines on
 * stdout; JSON: `output` events). */
int mig_exec_run(const struct mig_exec_spec *s, struct mig_report *rep, struct mig_exec_result *r);

#endif
