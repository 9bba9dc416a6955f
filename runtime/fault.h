/* fault.h — crash injection for the crash-at-every-point test, compiled in
 * only with ./configure --enable-fault-injection. Every VM instruction,
 * driver call and journal write is a numbered point; MIGRUN_CRASH_AT=K
 * kills the process with SIGKILL at the K-th; MIGRUN_FAULT_REPORT=1 prints
 * how many points a run passed. */
#ifndef MIG_FAULT_H
#define MIG_FAULT_H
#include "config.h"

#ifdef MIG_FAULT_INJECTION
void mig_fault_point(void);
#define MIG_FAULT() mig_fault_point()
#else
#define MIG_FAULT() ((void)0)
#endif

#endif
