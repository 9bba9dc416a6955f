/* fuzz_migb_unsealed.c — libFuzzer target: like fuzz_migb, but the input's
 * header checksum is recomputed first, so the fuzzer explores the
 * structural verifier instead of stopping at the checksum. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 52)
        return 0;
    unsigned char *c = malloc(size);
    if (!c)
        return 0;
    memcpy(c, data, size);
    memcpy(c, "MIGB", 4);
    for (int i = 0; i < 8; i++)
        c[12 + i] = (unsigned char)((uint64_t)size >> (8 * i));
    unsigned len = 32;
    EVP_Digest(c + 52, size - 52, c + 20, &len, EVP_sha256(), NULL);
    char err[512], err2[512];
    struct mig_plan *p = mig_plan_load(c, size, err, sizeof(err));
    /* the file loader (a window at a time, hashed as read) agrees */
    FILE *mem = fmemopen(c, size, "rb");
    if (mem) {
        struct mig_plan *q = mig_plan_load_file(mem, size, err2, sizeof(err2));
        fclose(mem);
        if (!p != !q || (!p && strcmp(err, err2) != 0))
            abort();
        mig_plan_free(q);
    }
    if (p) {
        FILE *null = fopen("/dev/null", "w");
        if (null) {
            mig_plan_disasm(p, null);
            fclose(null);
        }
        mig_plan_free(p);
    }
    free(c);
    return 0;
}
