/* fault.c — the fault points of fault.h. */
#include "fault.h"

#ifdef MIG_FAULT_INJECTION
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long crash_at = -1, passed, drop_at, commits;

static void report(void)
{
    fprintf(stderr, "fault points: %ld\ncommits: %ld\n", passed, commits);
}

static void init(void)
{
    if (crash_at != -1)
        return;
    const char *k = getenv("MIGRUN_CRASH_AT");
    crash_at = k ? atol(k) : 0;
    const char *d = getenv("MIGRUN_DROP_AFTER_COMMIT");
    drop_at = d ? atol(d) : 0;
    const char *r = getenv("MIGRUN_FAULT_REPORT");
    if (r && *r == '1')
        atexit(report);
}

void mig_fault_point(void)
{
    init();
    if (++passed == crash_at)
        raise(SIGKILL);
}

bool mig_fault_commit(void)
{
    init();
    return ++commits == drop_at;
}

void mig_fault_reconnect_delay(void)
{
    const char *d = getenv("MIGRUN_RECONNECT_DELAY_MS");
    long ms = d ? atol(d) : 0;
    if (ms > 0) {
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
}
#endif
