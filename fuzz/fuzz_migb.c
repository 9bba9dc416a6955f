/* fuzz_migb.c — libFuzzer target: arbitrary bytes through the .migb loader
 * and verifier; what loads must disassemble and write back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "runtime/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    struct mig_plan *p = mig_plan_load(data, size, err, sizeof(err));
    if (!p)
        return 0;
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        mig_plan_disasm(p, null);
        fclose(null);
    }
    size_t n;
    unsigned char *buf = mig_plan_write(p, &n);
    free(buf);
    mig_plan_free(p);
    return 0;
}
