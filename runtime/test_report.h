/* test_report.h — what migrun test reports: one result per step (ok,
 * failed with the database's message and the differences, untested or
 * irreversible with the reason, skipped), printed as it comes (text, or
 * JSON events) and kept for the summary and for --format junit (one test
 * case per step). */
#ifndef MIG_TEST_REPORT_H
#define MIG_TEST_REPORT_H
#include <stdint.h>
#include "lib/arena.h"
#include "report.h"
#include "snapshot.h"

struct mig_test_result {
    const char *migration, *phase, *step, *file;
    uint32_t line;
    const char *outcome;        /* ok, failed, untested, irreversible, skipped */
    const char *reason;         /* why it failed, was not tested or skipped (NULL: ok) */
    const char *error;          /* the database's message (NULL: none) */
    const char *error_what;     /* what failed: "the down", "the up run again" */
    int64_t ms;
    const struct mig_diff *diffs;
    size_t ndiffs;
};

struct mig_test_log {
    struct mig_arena a;
    MIG_VEC(struct mig_test_result) v;
    unsigned ok, failed, untested, skipped;
    unsigned irreversible;      /* of the untested */
};

/* Prints a result (text or JSON through rep; with junit, whose document
 * comes at the end on standard output, rep writes to standard error) and
 * keeps a copy. */
void mig_test_log_add(struct mig_test_log *l, struct mig_report *rep, bool junit, const struct mig_test_result *r);
/* The summary line (and the `done` event); stopped: why the test stopped
 * early (or NULL), with not_reached steps never tested. */
void mig_test_log_summary(struct mig_test_log *l, struct mig_report *rep, const char *stopped, unsigned not_reached,
                          int64_t ms);
/* The JUnit XML document: one testsuite per migration, one testcase per step. */
void mig_test_log_junit(struct mig_test_log *l, FILE *out, const char *stopped, int64_t ms);
void mig_test_log_free(struct mig_test_log *l);

#endif
