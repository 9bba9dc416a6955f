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
#include "runtime/vm.h"
#include <time.h>

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

/* ---- format 2: commands, polls, floats ----------------------------------------- */

static struct mig_plan *compile_text(const char *text)
{
    struct mig_program *p = mig_program_new();
    mig_program_add_text(p, "t.mig", text, strlen(text));
    unsigned errors = mig_program_check(p);
    cr_assert_eq(errors, 0, "%s", errors ? p->diags.v.v[0].msg : "");
    struct mig_plan *plan = mig_codegen(p);
    mig_program_free(p);
    char err[512];
    cr_assert_eq(mig_plan_verify(plan, err, sizeof(err)), 0, "%s", err);
    return plan;
}

static const char exec_plan[] =
    "migration m {\n"
    "  param dir: string = \"/var/backups\";\n"
    "  param ratio: float = 2;\n"
    "  let n = 7;\n"
    "  require version_cmp(\"3.9.18\", \"3.10\") < 0 within 2s every 100ms else \"versions\";\n"
    "  phase prepare {\n"
    "    transaction step;\n"
    "    step backup {\n"
    "      up   exec [\"pg_dump\", \"--file\", dir + \"/k.dump\", n, ratio * 1.5] timeout 30m env { A = \"x\", B = n } cwd dir;\n"
    "      down exec [\"pg_restore\", \"--clean\", dir + \"/k.dump\"] optional restores;\n"
    "      verify exec [\"test\", \"-f\", dir + \"/k.dump\"] within 10s every 1s;\n"
    "    }\n"
    "    step notify { up sql { SELECT ${ratio} } down none \"nothing to undo\" }\n"
    "    step drop { up sql { SELECT 2 } down irreversible \"gone\" }\n"
    "  }\n"
    "  assert output exec [\"hostname\"] != \"\" else \"named\";\n"
    "}\n";

Test(bytecode, exec_plan_round_trip_and_kinds) {
    struct mig_plan *a = compile_text(exec_plan);
    size_t n1, n2;
    unsigned char *b1 = mig_plan_write(a, &n1);
    char err[512] = "";
    struct mig_plan *b = mig_plan_load(b1, n1, err, sizeof(err));
    cr_assert_not_null(b, "%s", err);
    unsigned char *b2 = mig_plan_write(b, &n2);
    cr_assert_eq(n1, n2);
    cr_assert_eq(memcmp(b1, b2, n1), 0, "writing a loaded plan gives the same bytes");
    cr_assert(mig_plan_has_exec(b));
    cr_assert_eq(b->nexecs, 4);
    const struct mig_pstep *backup = &b->steps[0], *notify = &b->steps[1], *drop = &b->steps[2];
    cr_assert_eq(mig_pstep_up_kind(backup), MIG_ACTION_EXEC);
    cr_assert_eq(backup->up, MIG_NONE);
    cr_assert_eq(mig_pstep_down_kind(backup), MIG_DOWN_EXEC);
    cr_assert(mig_pstep_optional(backup) && mig_pstep_restores(backup));
    cr_assert(mig_pstep_has_exec(backup));
    cr_assert_null(mig_pstep_none_reason(b, backup));
    cr_assert_eq(mig_pstep_up_kind(notify), MIG_ACTION_SQL);
    cr_assert_eq(mig_pstep_down_kind(notify), MIG_DOWN_NONE);
    cr_assert_str_eq(mig_pstep_none_reason(b, notify), "nothing to undo");
    cr_assert_eq(notify->down, MIG_NONE);
    cr_assert_eq(notify->irreversible, MIG_NONE);
    cr_assert_eq(mig_pstep_down_kind(drop), MIG_DOWN_IRREVERSIBLE);
    const struct mig_pexec *up = &b->execs[backup->up_exec];
    cr_assert_eq(up->nargv, 5);
    cr_assert_eq(up->timeout_ms, 30 * 60000);
    cr_assert_eq(up->line, 9);
    char *text = mig_pexec_text(b, backup->up_exec);
    cr_assert_str_eq(text, "[\"pg_dump\", \"--file\", dir + \"/k.dump\", n, ratio * 1.5] timeout 30m env {A, B} cwd");
    free(text);
    free(b1);
    free(b2);
    mig_plan_free(a);
    mig_plan_free(b);
}

Test(bytecode, exec_plan_damage_is_refused_or_verified) {
    struct mig_plan *a = compile_text(exec_plan);
    size_t n;
    unsigned char *buf = mig_plan_write(a, &n);
    mig_plan_free(a);
    size_t refused = 0;
    for (size_t i = 52; i < n; i++) {
        unsigned char *c = malloc(n);
        memcpy(c, buf, n);
        c[i] ^= 0x01;
        unsigned len = 32;
        EVP_Digest(c + 52, n - 52, c + 20, &len, EVP_sha256(), NULL);
        char err[512] = "";
        struct mig_plan *p = mig_plan_load(c, n, err, sizeof(err));
        if (p) {
            size_t m;
            free(mig_plan_write(p, &m));
            mig_plan_free(p);
        } else {
            cr_assert_neq(err[0], 0);
            refused++;
        }
        free(c);
    }
    cr_assert_gt(refused, (n - 52) / 3, "damage is detected (%zu refused)", refused);
    free(buf);
}

Test(bytecode, version_1_is_refused_naming_both_versions) {
    struct mig_plan *a = compile_sample("kaizen-billing-base.mig");
    size_t n;
    unsigned char *buf = mig_plan_write(a, &n);
    mig_plan_free(a);
    cr_assert_eq(buf[4], MIG_FORMAT_VERSION);
    buf[4] = 1;
    char err[512];
    cr_assert_null(mig_plan_load(buf, n, err, sizeof(err)));
    cr_assert(strstr(err, "version 1 is not supported") && strstr(err, "reads version 2"), "%s", err);
    free(buf);
}

/* ---- the VM: commands, polls, builtins --------------------------------------------- */

struct fake_host {
    int calls;
    int true_from;          /* exec succeeds from this call on (0: never) */
    bool require_ok;
    uint32_t polls;
    char last_argv[256];
};

static int fake_exec(void *ctx, struct mig_vm *vm, const struct mig_exec_args *a, bool want_output, bool *ok,
                     char **output)
{
    (void)vm;
    struct fake_host *h = ctx;
    h->calls++;
    snprintf(h->last_argv, sizeof(h->last_argv), "%s", a->argv[a->argc - 1]);
    *ok = h->true_from && h->calls >= h->true_from;
    if (want_output && *ok)
        *output = strdup("db-host-1\n");
    return 0;
}

static int fake_require(void *ctx, struct mig_vm *vm, uint32_t check, bool ok)
{
    (void)vm;
    (void)check;
    ((struct fake_host *)ctx)->require_ok = ok;
    return 0;
}

static int fake_wait(void *ctx, struct mig_vm *vm, uint32_t check, uint32_t tries, int64_t wait_ms)
{
    (void)vm;
    (void)check;
    (void)wait_ms;
    ((struct fake_host *)ctx)->polls = tries;
    return 1;
}

static struct mig_value global_value(struct mig_plan *plan, const char *text, struct mig_vm *vm)
{
    (void)text;
    cr_assert_eq(mig_vm_init(vm, plan, NULL), 0);
    cr_assert_eq(mig_vm_run(vm, plan->globals_block, 0), 0, "%s", vm->err);
    return vm->globals[0];
}

Test(vm, exec_args_render_ints_floats_env_and_cwd) {
    struct mig_plan *plan = compile_text(exec_plan);
    struct mig_vm vm;
    cr_assert_eq(mig_vm_init(&vm, plan, NULL), 0);
    struct fake_host h = { 0, 1, false, 0, "" };
    struct mig_host host = { .exec = fake_exec, .require = fake_require, .poll_wait = fake_wait };
    vm.host = &host;
    vm.host_ctx = &h;
    cr_assert_eq(mig_vm_run(&vm, plan->migrations[0].prologue, 0), 0, "%s", vm.err);
    cr_assert(h.require_ok);
    struct mig_exec_args a;
    cr_assert_eq(mig_vm_exec_args(&vm, plan->steps[0].up_exec, &a), 0, "%s", vm.err);
    cr_assert_eq(a.argc, 5);
    cr_assert_str_eq(a.argv[0], "pg_dump");
    cr_assert_str_eq(a.argv[2], "/var/backups/k.dump");
    cr_assert_str_eq(a.argv[3], "7");
    cr_assert_str_eq(a.argv[4], "3.0", "a float is rendered as one, never as an int");
    cr_assert_null(a.argv[5]);
    cr_assert_eq(a.nenv, 2);
    cr_assert_str_eq(a.env[0], "A=x");
    cr_assert_str_eq(a.env[1], "B=7");
    cr_assert_null(a.env[2]);
    cr_assert_str_eq(a.cwd, "/var/backups");
    cr_assert_eq(a.timeout_ms, 30 * 60000);
    char *shown = mig_exec_args_text(&a);
    cr_assert_str_eq(shown, "pg_dump --file /var/backups/k.dump 7 3.0");
    free(shown);
    mig_exec_args_free(&a);
    struct mig_value p = { MIG_V_STRING, 0, "/srv/it's here", 14 };
    mig_vm_set_param(&vm, 0, 0, &p);
    cr_assert_eq(mig_vm_run(&vm, plan->migrations[0].prologue, 0), 0, "%s", vm.err);
    cr_assert_eq(mig_vm_exec_args(&vm, plan->steps[0].down_exec, &a), 0, "%s", vm.err);
    cr_assert_str_eq(a.argv[2], "/srv/it's here/k.dump", "one argument, never split");
    shown = mig_exec_args_text(&a);
    cr_assert_str_eq(shown, "pg_restore --clean '/srv/it'\\''s here/k.dump'");
    free(shown);
    mig_exec_args_free(&a);
    mig_vm_free(&vm);
    mig_plan_free(plan);
}

Test(vm, exec_without_a_host_is_a_clear_error) {
    struct mig_plan *plan = compile_text("let ok = exec [\"true\"];\n");
    struct mig_vm vm;
    cr_assert_eq(mig_vm_init(&vm, plan, NULL), 0);
    cr_assert_eq(mig_vm_run(&vm, plan->globals_block, 0), -1);
    cr_assert(strstr(vm.err, "--allow-exec") != NULL, "%s", vm.err);
    mig_vm_free(&vm);
    mig_plan_free(plan);
}

Test(vm, output_exec_drops_the_trailing_newline) {
    struct mig_plan *plan = compile_text("let host = output exec [\"hostname\"];\n");
    struct mig_vm vm;
    cr_assert_eq(mig_vm_init(&vm, plan, NULL), 0);
    struct fake_host h = { 0, 1, false, 0, "" };
    struct mig_host host = { .exec = fake_exec };
    vm.host = &host;
    vm.host_ctx = &h;
    cr_assert_eq(mig_vm_run(&vm, plan->globals_block, 0), 0, "%s", vm.err);
    cr_assert_eq(vm.globals[0].t, MIG_V_STRING);
    cr_assert_str_eq(vm.globals[0].s, "db-host-1");
    h.true_from = 0;    /* a failing command fails the output exec */
    cr_assert_eq(mig_vm_run(&vm, plan->globals_block, 0), -1);
    cr_assert(strstr(vm.err, "failed") != NULL, "%s", vm.err);
    mig_vm_free(&vm);
    mig_plan_free(plan);
}

Test(vm, polling_retries_until_true_or_time_is_up) {
    struct mig_plan *plan = compile_text(
        "migration m {\n"
        "  require exec [\"check\"] within 2s every 10ms else \"comes up\";\n"
        "}\n");
    struct mig_vm vm;
    cr_assert_eq(mig_vm_init(&vm, plan, NULL), 0);
    struct fake_host h = { 0, 3, false, 0, "" };
    struct mig_host host = { .exec = fake_exec, .require = fake_require, .poll_wait = fake_wait };
    vm.host = &host;
    vm.host_ctx = &h;
    cr_assert_eq(mig_vm_run(&vm, plan->migrations[0].prologue, 0), 0, "%s", vm.err);
    cr_assert(h.require_ok);
    cr_assert_eq(h.calls, 3, "true at the third try");
    cr_assert_eq(h.polls, 2);
    mig_plan_free(plan);
    mig_vm_free(&vm);

    plan = compile_text("migration m {\n  require exec [\"check\"] within 50ms every 20ms;\n}\n");
    cr_assert_eq(mig_vm_init(&vm, plan, NULL), 0);
    struct fake_host never = { 0, 0, true, 0, "" };
    vm.host = &host;
    vm.host_ctx = &never;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(mig_vm_run(&vm, plan->migrations[0].prologue, 0), 0, "%s", vm.err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    cr_assert(!never.require_ok);
    /* tries at 0, 20 and 40 ms, none at 60; a loaded machine may wake late
     * from the second wait and find the time up after two tries */
    cr_assert(never.calls == 3 || never.calls == 2, "tries at 0, 20 and 40 ms, none at 60 (got %d)", never.calls);
    cr_assert(ms >= 40 && ms < 1000, "%ld ms", ms);
    mig_plan_free(plan);
    mig_vm_free(&vm);
}

Test(vm, builtins) {
    static const struct { const char *expr; const char *want; } cases[] = {
        { "version_cmp(\"3.9.18\", \"3.10\")", "-1" },
        { "version_cmp(\"3.10\", \"3.10.0\")", "0" },
        { "version_cmp(\"v2.0.0\", \"1.99\")", "1" },
        { "version_cmp(\"1.0rc1\", \"1.0\")", "-1" },
        { "version_cmp(\"14.2\", \"14.10\")", "-1" },
        { "matches(\"keiko-api.service\", \"^keiko-[a-z]+\\\\.service$\")", "true" },
        { "matches(\"v2\", \"^[0-9]+$\")", "false" },
        { "trim(\"  a b \\n\\t\")", "\"a b\"" },
        { "lower(\"ÄbC\")", "\"Äbc\"" },
        { "upper(\"abc-1\")", "\"ABC-1\"" },
        { "float(\"2.5\") * 2", "5.0" },
        { "float(\"1e-3\")", "0.001" },
        { "float(3)", "3.0" },
        { "int(2.9)", "2" },
        { "int(-2.9)", "-2" },
        { "1 / 4.0", "0.25" },
        { "2.5 == 2.5 and 2 < 2.5 and 3 == 3.0", "true" },
        { "string(0.1 + 0.2)", "\"0.30000000000000004\"" },
        { "is_null(trim(env(\"MIG_UNIT_SURELY_UNSET\")))", "true" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char text[512];
        snprintf(text, sizeof(text), "let x = %s;\n", cases[i].expr);
        struct mig_plan *plan = compile_text(text);
        struct mig_vm vm;
        struct mig_value v = global_value(plan, text, &vm);
        cr_assert_str_eq(mig_value_show(&vm, &v), cases[i].want, "%s", cases[i].expr);
        mig_vm_free(&vm);
        mig_plan_free(plan);
    }
}

Test(vm, builtin_errors_at_run_time) {
    static const char *const cases[] = {
        "float(\"2.5x\")", "float(\"\")", "matches(\"a\", string(1) + \"(\")", "env(\"PG\" + \"PASSWORD\")",
        "1.5 / (1 - 1)",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char text[256];
        snprintf(text, sizeof(text), "let x = %s;\n", cases[i]);
        struct mig_plan *plan = compile_text(text);
        struct mig_vm vm;
        cr_assert_eq(mig_vm_init(&vm, plan, NULL), 0);
        cr_assert_eq(mig_vm_run(&vm, plan->globals_block, 0), -1, "%s runs", cases[i]);
        cr_assert_neq(vm.err[0], 0);
        mig_vm_free(&vm);
        mig_plan_free(plan);
    }
}

Test(values, version_cmp) {
    cr_assert_eq(mig_version_cmp("3.9.18", "3.10"), -1);
    cr_assert_eq(mig_version_cmp("3.10", "3.9.18"), 1);
    cr_assert_eq(mig_version_cmp("1.2", "1.2.0.0"), 0);
    cr_assert_eq(mig_version_cmp("", ""), 0);
    cr_assert_eq(mig_version_cmp("1.0", "1.0-beta"), 1);
    cr_assert_eq(mig_version_cmp("1.0-alpha", "1.0-beta"), -1);
    cr_assert_eq(mig_version_cmp("99999999999999999999999", "1"), 1, "huge parts saturate");
}

Test(values, matches_is_posix_extended) {
    char err[128];
    cr_assert_eq(mig_regex_matches("abc", "b", err, sizeof(err)), 1, "anywhere, like grep -E");
    cr_assert_eq(mig_regex_matches("abc", "^(a|x)b+c$", err, sizeof(err)), 1);
    cr_assert_eq(mig_regex_matches("abc", "^b", err, sizeof(err)), 0);
    cr_assert_eq(mig_regex_matches("abc", "a{", err, sizeof(err)) < 0 || 1, 1);
    cr_assert_eq(mig_regex_matches("abc", "(", err, sizeof(err)), -1);
    cr_assert_neq(err[0], 0);
}

Test(values, floats_parse_and_print) {
    double d;
    cr_assert(mig_float_parse("2.5", &d) && d == 2.5);
    cr_assert(mig_float_parse("-1e-3", &d) && d == -0.001);
    cr_assert(mig_float_parse("7", &d) && d == 7.0);
    cr_assert(mig_float_parse(".5", &d) && d == 0.5);
    cr_assert(!mig_float_parse(" 2.5", &d));
    cr_assert(!mig_float_parse("2.5 ", &d));
    cr_assert(!mig_float_parse("inf", &d));
    cr_assert(!mig_float_parse("nan", &d));
    cr_assert(!mig_float_parse("0x10", &d));
    cr_assert(!mig_float_parse("1e999", &d));
    cr_assert(!mig_float_parse("", &d));
    char buf[32];
    cr_assert_str_eq(mig_float_text(2.0, buf), "2.0");
    cr_assert_str_eq(mig_float_text(0.001, buf), "0.001");
    cr_assert_str_eq(mig_float_text(-2.5, buf), "-2.5");
    cr_assert_str_eq(mig_float_text(1e20, buf), "1e+20");
    cr_assert_str_eq(mig_float_text(0.1 + 0.2, buf), "0.30000000000000004");
    struct mig_arena a = { 0 };
    struct mig_value v;
    char err[128];
    cr_assert_eq(mig_value_parse(&a, MIG_V_FLOAT, "2.5", &v, err, sizeof(err)), 0);
    cr_assert_eq(v.t, MIG_V_FLOAT);
    cr_assert_float_eq(mig_vfloat(&v), 2.5, 1e-12);
    cr_assert_eq(mig_value_parse(&a, MIG_V_FLOAT, "two", &v, err, sizeof(err)), -1);
    cr_assert(strstr(err, "not a float") != NULL, "%s", err);
    mig_arena_free(&a);
}

Test(bytecode, exec_checksum_ignores_layout_only) {
    const char *a = "migration m { phase p { transaction none; step s {\n"
                    "  up exec [\"pg_dump\", \"--file\", dir+\"/a b.dump\"] timeout 30m;\n"
                    "  down none \"x\" } } param dir: string = \"/d\"; }\n";
    const char *b = "migration m { phase p { transaction none; step s {\n"
                    "  up exec [ \"pg_dump\",   # the dump\n"
                    "            \"--file\", dir + \"/a b.dump\" ]\n"
                    "     timeout 30m;\n"
                    "  down none \"x\" } } param dir: string = \"/d\"; }\n";
    const char *c = "migration m { phase p { transaction none; step s {\n"
                    "  up exec [\"pg_dump\", \"--file\", dir + \"/ab.dump\"] timeout 30m;\n"
                    "  down none \"x\" } } param dir: string = \"/d\"; }\n";
    struct mig_plan *pa = compile_text(a), *pb = compile_text(b), *pc = compile_text(c);
    cr_assert_eq(memcmp(pa->execs[0].sha256, pb->execs[0].sha256, 32), 0, "re-indenting is not drift");
    cr_assert_neq(memcmp(pa->execs[0].sha256, pc->execs[0].sha256, 32), 0, "a changed string is");
    mig_plan_free(pa);
    mig_plan_free(pb);
    mig_plan_free(pc);
}

static int plan_exec(void *ctx, struct mig_vm *vm, const struct mig_exec_args *a, bool want_output, bool *ok,
                     char **output)
{
    (void)vm; (void)a; (void)want_output; (void)ok; (void)output;
    ((struct fake_host *)ctx)->calls++;
    return 2;   /* as migrun plan: not run */
}

static int plan_require(void *ctx, struct mig_vm *vm, uint32_t check, bool ok)
{
    (void)check;
    struct fake_host *h = ctx;
    h->require_ok = ok;
    h->polls = vm->not_evaluated;
    vm->not_evaluated = false;
    return 0;
}

Test(vm, a_command_left_not_run_stops_polling_and_is_flagged) {
    struct mig_plan *plan = compile_text("migration m {\n  require exec [\"check\"] within 10s every 1s;\n}\n");
    struct mig_vm vm;
    cr_assert_eq(mig_vm_init(&vm, plan, NULL), 0);
    struct fake_host h = { 0, 0, true, 0, "" };
    struct mig_host host = { .exec = plan_exec, .require = plan_require };
    vm.host = &host;
    vm.host_ctx = &h;
    cr_assert_eq(mig_vm_run(&vm, plan->migrations[0].prologue, 0), 0, "%s", vm.err);
    cr_assert_eq(h.calls, 1, "no second try");
    cr_assert(!h.require_ok);
    cr_assert_eq(h.polls, 1, "the require saw vm->not_evaluated");
    mig_vm_free(&vm);
    mig_plan_free(plan);
}
