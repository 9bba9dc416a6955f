/* fault.h — fault injection for the crash and reconnect tests, compiled in
 * only with ./configure --enable-fault-injection. Every VM instruction,
 * driver call and journal write is a numbered point; MIGRUN_CRASH_AT=K
 * kills the process with SIGKILL at the K-th. MIGRUN_DROP_AFTER_COMMIT=K
 * lets the K-th COMMIT reach the server and then breaks the connection
 * before its answer is read (the outcome a network drop leaves unknown);
 * MIGRUN_RECONNECT_DELAY_MS waits before reconnecting. MIGRUN_FAULT_REPORT=1
 * prints how many points and COMMITs a run passed. */
#ifndef MIG_FAULT_H
#define MIG_FAULT_H
#include "config.h"
#include <stdbool.h>

#ifdef MIG_FAULT_INJECTION
void mig_fault_point(void);
bool mig_fault_commit(void);     /* counts a COMMIT; true: drop the connection after it */
void mig_fault_reconnect_delay(void);
#define MIG_FAULT() mig_fault_point()
#define MIG_FAULT_COMMIT() mig_fault_commit()
#define MIG_FAULT_RECONNECT() mig_fault_reconnect_delay()
#else
#define MIG_FAULT() ((void)0)
#define MIG_FAULT_COMMIT() false
#define MIG_FAULT_RECONNECT() ((void)0)
#endif

#endif
