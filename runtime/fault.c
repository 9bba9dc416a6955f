/* fault.c — the crash points of fault.h. */
#include "fault.h"

#ifdef MIG_FAULT_INJECTION
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static long crash_at = -1, passed;

static void report(void)
{
    fprintf(stderr, "fault points: %ld\n", passed);
}

void mig_fault_point(void)
{
    if (crash_at == -1) {
        const char *k = getenv("MIGRUN_CRASH_AT");
        crash_at = k ? atol(k) : 0;
        const char *r = getenv("MIGRUN_FAULT_REPORT");
        if (r && *r == '1')
            atexit(report);
    }
    if (++passed == crash_at)
        raise(SIGKILL);
}
#endif
