/* fuzz_mig.c — libFuzzer target: .mig text through the lexer, parser,
 * checker and lint, then (when it checks) codegen, the verifier, the .migb
 * writer and loader, the disassembler and the formatter. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "compiler/codegen.h"
#include "compiler/compiler.h"
#include "compiler/fmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    struct mig_program *p = mig_program_new();
    mig_program_add_text(p, "fuzz.mig", text, size);
    if (mig_program_check(p) == 0) {
        struct mig_plan *plan = mig_codegen(p);
        char err[256];
        if (mig_plan_verify(plan, err, sizeof(err)) != 0) {
            fprintf(stderr, "generated code does not verify: %s\n", err);
            abort();
        }
        size_t n;
        unsigned char *buf = mig_plan_write(plan, &n);
        struct mig_plan *back = mig_plan_load(buf, n, err, sizeof(err));
        if (!back) {
            fprintf(stderr, "written code does not load: %s\n", err);
            abort();
        }
        FILE *null = fopen("/dev/null", "w");
        if (null) {
            mig_plan_disasm(back, null);
            fclose(null);
        }
        mig_plan_free(back);
        free(buf);
        mig_plan_free(plan);
        /* formatting text that checks keeps it checking the same */
        char *out;
        size_t outlen;
        if (mig_format(text, size, &out, &outlen) == 0) {
            char *again;
            size_t againlen;
            if (mig_format(out, outlen, &again, &againlen) != 0 || againlen != outlen ||
                memcmp(again, out, outlen) != 0) {
                fprintf(stderr, "formatting is not idempotent\n");
                abort();
            }
            free(again);
            free(out);
        }
    }
    mig_program_free(p);
    free(text);
    return 0;
}
