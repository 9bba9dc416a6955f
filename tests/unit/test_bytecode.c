/* test_bytecode.c — the .migb image: a round trip keeps everything, and a
 * damaged file (any byte flipped, any truncation, even with a recomputed
 * checksum) is refused with a message, never a crash. Also the opcode
 * table: every opcode is documented. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include "compiler/codegen.h"
#include "compiler/compiler.h"
#include "runtime/opcodes.h"

static struct mig_plan *compile_sample(const char *name)
{
    const char *top = getenv("TOP_SRCDIR");
    cr_assert(top, "TOP_SRCDIR is set by make check");
    char path[4096], err[512];
    snprintf(path, sizeof(path), "%s/samples/%s", top, name);
    struct mig_program *p = mig_program_new();
    cr_assert_eq(mig_program_add_path(p, path, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(mig_program_check(p), 0);
    struct mig_plan *plan = mig_codegen(p);
    mig_program_free(p);
    cr_assert_eq(mig_plan_verify(plan, err, sizeof(err)), 0, "%s", err);
    return plan;
}

Test(bytecode, round_trip_is_exact) {
    struct mig_plan *a = compile_sample("kaizen-billing-base.mig");
    size_t n1, n2;
    unsigned char *b1 = mig_plan_write(a, &n1);
    char err[512] = "";
    struct mig_plan *b = mig_plan_load(b1, n1, err, sizeof(err));
    cr_assert_not_null(b, "%s", err);
    cr_assert_eq(b->nmigrations, a->nmigrations);
    cr_assert_eq(b->nsteps, a->nsteps);
    cr_assert_eq(b->ncode, a->ncode);
    cr_assert_eq(memcmp(b->code, a->code, a->ncode * sizeof(*a->code)), 0);
    cr_assert_str_eq(mig_plan_str(b, b->migrations[0].name), "billing_base");
    cr_assert_eq(memcmp(b->queries[b->steps[0].up].v[0].sha256, a->queries[a->steps[0].up].v[0].sha256, 32), 0);
    unsigned char *b2 = mig_plan_write(b, &n2);
    cr_assert_eq(n1, n2);
    cr_assert_eq(memcmp(b1, b2, n1), 0, "writing a loaded plan gives the same bytes");
    free(b1);
    free(b2);
    mig_plan_free(a);
    mig_plan_free(b);
}

Test(bytecode, every_flipped_byte_is_refused) {
    struct mig_plan *a = compile_sample("kaizen-billing-base.mig");
    size_t n;
    unsigned char *buf = mig_plan_write(a, &n);
    mig_plan_free(a);
    for (size_t i = 0; i < n; i++) {
        char err[512] = "";
        buf[i] ^= 0xff;
        struct mig_plan *p = mig_plan_load(buf, n, err, sizeof(err));
        cr_assert_null(p, "byte %zu flipped was accepted", i);
        cr_assert_neq(err[0], 0, "byte %zu: no message", i);
        buf[i] ^= 0xff;
    }
    free(buf);
}

Test(bytecode, every_truncation_is_refused) {
    struct mig_plan *a = compile_sample("kaizen-billing-base.mig");
    size_t n;
    unsigned char *buf = mig_plan_write(a, &n);
    mig_plan_free(a);
    for (size_t len = 0; len < n; len++) {
        char err[512] = "";
        unsigned char *copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        struct mig_plan *p = mig_plan_load(copy, len, err, sizeof(err));
        cr_assert_null(p, "a file cut to %zu bytes was accepted", len);
        free(copy);
    }
    free(buf);
}

/* With the checksum recomputed, the structural verifier is what stands
 * between a damaged file and the VM. */
Test(bytecode, damage_behind_a_valid_checksum_never_crashes) {
    struct mig_plan *a = compile_sample("kaizen-billing-base.mig");
    size_t n;
    unsigned char *buf = mig_plan_write(a, &n);
    mig_plan_free(a);
    const unsigned char deltas[] = { 0x01, 0x80, 0xff };
    size_t refused = 0;
    for (size_t i = 52; i < n; i++)
        for (size_t d = 0; d < sizeof(deltas); d++) {
            unsigned char *c = malloc(n);
            memcpy(c, buf, n);
            c[i] ^= deltas[d];
            unsigned len = 32;
            EVP_Digest(c + 52, n - 52, c + 20, &len, EVP_sha256(), NULL);
            char err[512] = "";
            struct mig_plan *p = mig_plan_load(c, n, err, sizeof(err));
            if (p) {
                /* whatever was accepted verifies and can be written again */
                size_t m;
                unsigned char *again = mig_plan_write(p, &m);
                free(again);
                mig_plan_free(p);
            } else {
                cr_assert_neq(err[0], 0);
                refused++;
            }
            free(c);
        }
    cr_assert_gt(refused, (n - 52), "most damage is detected by the verifier (%zu refused)", refused);
    free(buf);
}

Test(bytecode, bad_magic_and_version) {
    char err[512];
    unsigned char junk[64];
    memset(junk, 'x', sizeof(junk));
    cr_assert_null(mig_plan_load(junk, sizeof(junk), err, sizeof(err)));
    cr_assert(strstr(err, "magic") != NULL, "%s", err);
    struct mig_plan *a = compile_sample("kaizen-billing-base.mig");
    size_t n;
    unsigned char *buf = mig_plan_write(a, &n);
    mig_plan_free(a);
    buf[4] = 99;
    cr_assert_null(mig_plan_load(buf, n, err, sizeof(err)));
    cr_assert(strstr(err, "version 99") != NULL, "%s", err);
    free(buf);
}

Test(opcodes, every_opcode_is_documented) {
    for (int i = 0; i < OP__COUNT; i++) {
        cr_assert_not_null(mig_opinfo[i].name);
        cr_assert_gt(strlen(mig_opinfo[i].doc), 10, "opcode %s has no synopsis", mig_opinfo[i].name);
        cr_assert(mig_opinfo[i].nops >= 0 && mig_opinfo[i].nops <= 2);
        if (mig_opinfo[i].flags & OPF_JUMP)
            cr_assert_geq(mig_opinfo[i].nops, 1, "jump %s has no address operand", mig_opinfo[i].name);
    }
}
