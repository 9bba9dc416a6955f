/* test_parser.c — the grammar: the AST built for each item, expression
 * precedence, and error recovery. */
#include <criterion/criterion.h>
#include <string.h>
#include "compiler/parse.h"

static struct mig_arena arena;
static struct mig_sources sources;
static struct mig_diags diags;

static void setup(void)
{
    memset(&arena, 0, sizeof(arena));
    memset(&sources, 0, sizeof(sources));
    memset(&diags, 0, sizeof(diags));
    sources.arena = &arena;
    diags.sources = &sources;
}

static void teardown(void)
{
    mig_arena_free(&arena);
}

TestSuite(parser, .init = setup, .fini = teardown);

static struct mig_file *parse(const char *text)
{
    struct mig_source *s = mig_source_add(&sources, "t.mig", text, strlen(text));
    return mig_parse_source(&arena, &diags, s);
}

static unsigned line_of(size_t i)
{
    unsigned line, col;
    mig_source_linecol(sources.v.v[0], diags.v.v[i].start, &line, &col);
    return line;
}

Test(parser, migration_structure) {
    struct mig_file *f = parse(
        "import std;\n"
        "migration m \"title\" {\n"
        "  target postgres >= 13, sqlite;\n"
        "  after a, b;\n"
        "  param n: int = 1_000;\n"
        "  require true else \"why\";\n"
        "  phase p { transaction none; timeout 30s; lock_timeout 250ms; retry 3 every 2m;\n"
        "    step s { when false; up sql { SELECT '}' } sql postgres { SELECT 2 };\n"
        "             down irreversible \"no\"; verify true; batch max 5; }\n"
        "    assert 1 == 1;\n"
        "  }\n"
        "  step direct { up sql file \"x.sql\" down sql { } }\n"
        "}\n");
    cr_assert_eq(diags.errors, 0, "%s", diags.errors ? diags.v.v[0].msg : "");
    cr_assert_eq(f->imports.n, 1);
    cr_assert_str_eq(f->imports.v[0].name, "std");
    cr_assert_eq(f->migrations.n, 1);
    struct mig_migration *m = f->migrations.v[0];
    cr_assert_str_eq(m->name, "m");
    cr_assert_str_eq(m->title, "title");
    cr_assert_eq(m->targets.n, 2);
    cr_assert_eq(m->targets.v[0].dialect, MIG_D_POSTGRES);
    cr_assert_eq(m->targets.v[0].min_version, 13);
    cr_assert_eq(m->targets.v[1].dialect, MIG_D_SQLITE);
    cr_assert_eq(m->after.n, 2);
    cr_assert_str_eq(m->after.v[1].text, "b");
    cr_assert_eq(m->params.n, 1);
    cr_assert_eq(m->params.v[0]->init->u.ival, 1000);
    cr_assert_str_eq(m->requires.v[0].msg, "why");
    cr_assert_eq(m->phases.n, 2);
    struct mig_phase *p = m->phases.v[0];
    cr_assert_eq(p->txn, MIG_TXN_NONE);
    cr_assert_eq(p->timeout_ms, 30000);
    cr_assert_eq(p->lock_timeout_ms, 250);
    cr_assert_eq(p->retry, 3);
    cr_assert_eq(p->retry_every_ms, 120000);
    cr_assert_eq(p->asserts.n, 1);
    struct mig_step *s = p->steps.v[0];
    cr_assert_str_eq(s->name, "s");
    cr_assert_eq(s->up->dialect, MIG_D_ANY);
    cr_assert_eq(s->up->len, strlen(" SELECT '}' "));
    cr_assert_eq(strncmp(s->up->text, " SELECT '}' ", s->up->len), 0);
    cr_assert_eq(s->up->next->dialect, MIG_D_POSTGRES);
    cr_assert(s->down_irreversible);
    cr_assert_str_eq(s->irreversible_why, "no");
    cr_assert(s->batch);
    cr_assert_eq(s->batch_max, 5);
    cr_assert_eq(s->verify.n, 1);
    struct mig_phase *main_ = m->phases.v[1];
    cr_assert(main_->implicit);
    cr_assert_str_eq(main_->name, "main");
    cr_assert(main_->steps.v[0]->up->is_file);
    cr_assert_str_eq(main_->steps.v[0]->up->file_path, "x.sql");
}

Test(parser, precedence) {
    struct mig_file *f = parse("let x = not 1 + 2 * 3 == 7 or false and true;\n");
    cr_assert_eq(diags.errors, 0);
    struct mig_expr *e = f->lets.v[0]->init;
    /* or( not(==( +(1, *(2,3)), 7)), and(false, true) ) */
    cr_assert_eq(e->kind, MIG_E_BINARY);
    cr_assert_eq(e->u.bin.op, MIG_OP_OR);
    struct mig_expr *n = e->u.bin.l;
    cr_assert_eq(n->kind, MIG_E_NOT);
    struct mig_expr *eq = n->u.sub;
    cr_assert_eq(eq->u.bin.op, MIG_OP_EQ);
    cr_assert_eq(eq->u.bin.l->u.bin.op, MIG_OP_ADD);
    cr_assert_eq(eq->u.bin.l->u.bin.r->u.bin.op, MIG_OP_MUL);
    cr_assert_eq(e->u.bin.r->u.bin.op, MIG_OP_AND);
}

Test(parser, unary_minus_binds_tighter_than_multiplication) {
    struct mig_file *f = parse("let x = -2 * 3;\n");
    struct mig_expr *e = f->lets.v[0]->init;
    cr_assert_eq(e->u.bin.op, MIG_OP_MUL);
    cr_assert_eq(e->u.bin.l->kind, MIG_E_NEG);
}

Test(parser, comparisons_do_not_chain) {
    parse("let x = 1 < 2 < 3;\n");
    cr_assert_eq(diags.errors, 1);
}

Test(parser, qualified_calls_and_keywords_in_names) {
    struct mig_file *f = parse("let v = std.sqlite.version() + string(int(\"4\"));\n");
    cr_assert_eq(diags.errors, 0);
    struct mig_expr *e = f->lets.v[0]->init;
    cr_assert_str_eq(e->u.bin.l->u.ref.name.text, "std.sqlite.version");
    cr_assert_str_eq(e->u.bin.r->u.ref.name.text, "string");
}

Test(parser, strings_are_unescaped) {
    struct mig_file *f = parse("let s = \"a\\\"b\\\\c\\nd\\te\";\n");
    cr_assert_eq(diags.errors, 0);
    cr_assert_str_eq(f->lets.v[0]->init->u.str.s, "a\"b\\c\nd\te");
}

Test(parser, several_errors_are_reported) {
    parse("let a = ;\n"
          "let b = 1\n"
          "let c = 2;\n"
          "migration m { step s { up sql { SELECT 1 } down sql { } when ; } param x int = 1; }\n");
    cr_assert_geq(diags.errors, 3, "got %u errors", diags.errors);
    cr_assert_eq(line_of(0), 1);
    /* the missing ';' is reported where it is missing: after `let b = 1` */
    cr_assert_eq(line_of(1), 2);
    cr_assert(strstr(diags.v.v[1].msg, "expected ';' after the 'let' declaration") != NULL, "%s", diags.v.v[1].msg);
}

Test(parser, unterminated_braces_at_the_opening_line) {
    parse("migration m {\n"
          "  step s {\n"
          "    up sql { SELECT (\n"
          "    down sql { SELECT 1 }\n");
    cr_assert_eq(diags.errors, 1, "got %u errors", diags.errors);
    cr_assert_str_eq(diags.v.v[0].rule, "unterminated-sql");
    cr_assert_eq(line_of(0), 3);
}

Test(parser, unterminated_body_reported_where_it_opened) {
    parse("migration m {\n"
          "  step s {\n"
          "    up sql { SELECT 'abc }\n"
          "  }\n"
          "}\n");
    cr_assert_eq(diags.errors, 1);
    cr_assert_eq(line_of(0), 3);
    unsigned line, col;
    mig_source_linecol(sources.v.v[0], diags.v.v[0].start, &line, &col);
    cr_assert_eq(col, 12);
    cr_assert(strstr(diags.v.v[0].msg, "string literal opened at line 3") != NULL, "%s", diags.v.v[0].msg);
}

Test(parser, duplicate_up_is_reported_at_the_second) {
    parse("migration m { step s {\n up sql { A }\n up sql { B }\n down sql { C } } }\n");
    cr_assert_eq(diags.errors, 1);
    cr_assert_eq(line_of(0), 3);
}

Test(parser, module_must_come_first) {
    parse("let a = 1;\nmodule x;\n");
    cr_assert_eq(diags.errors, 1);
    cr_assert_eq(line_of(0), 2);
}

Test(parser, malformed_duration) {
    parse("migration m { phase p { timeout 30sec; } }\n");
    cr_assert_geq(diags.errors, 1);
}

Test(parser, float_literals) {
    struct mig_file *f = parse("let a = 2.5;\nlet b = 1e-3;\nlet c = 1_000.25E+2;\nlet d = 3e2;\n");
    cr_assert_eq(diags.errors, 0, "%s", diags.errors ? diags.v.v[0].msg : "");
    cr_assert_eq(f->lets.v[0]->init->kind, MIG_E_FLOAT);
    cr_assert_float_eq(f->lets.v[0]->init->u.fval, 2.5, 1e-12);
    cr_assert_float_eq(f->lets.v[1]->init->u.fval, 0.001, 1e-15);
    cr_assert_float_eq(f->lets.v[2]->init->u.fval, 100025.0, 1e-9);
    cr_assert_float_eq(f->lets.v[3]->init->u.fval, 300.0, 1e-12);
}

Test(parser, malformed_floats) {
    parse("let a = 2.5s;\n");
    cr_assert_eq(diags.errors, 1);
    cr_assert(strstr(diags.v.v[0].msg, "malformed number") != NULL, "%s", diags.v.v[0].msg);
    memset(&diags, 0, sizeof(diags));
    diags.sources = &sources;
    parse("let b = 1e999;\n");
    cr_assert_eq(diags.errors, 1);
    cr_assert(strstr(diags.v.v[0].msg, "too large") != NULL, "%s", diags.v.v[0].msg);
    memset(&diags, 0, sizeof(diags));
    diags.sources = &sources;
    parse("let c = 1_.5;\n");
    cr_assert_eq(diags.errors, 1);
}

Test(parser, exec_actions_and_downs) {
    struct mig_file *f = parse(
        "migration m {\n"
        "  phase p {\n"
        "    transaction step;\n"
        "    step backup {\n"
        "      up   exec [\"pg_dump\", \"--file\", dir + \"/x.dump\"] timeout 30m env { A = \"1\", B = 2 } cwd \"/tmp\";\n"
        "      down exec [\"pg_restore\", dir + \"/x.dump\"] optional restores;\n"
        "      verify exec [\"test\", \"-f\", \"x\"] within 60s every 2s else \"backup exists\";\n"
        "    }\n"
        "    step notify { up sql { SELECT 1 } down none \"nothing to undo\" }\n"
        "    step vacuum { up sql { VACUUM } down sql { SELECT 1 } restores }\n"
        "  }\n"
        "  require output exec [\"hostname\"] != \"\" within 5s;\n"
        "}\n");
    cr_assert_eq(diags.errors, 0, "%s", diags.errors ? diags.v.v[0].msg : "");
    struct mig_phase *p = f->migrations.v[0]->phases.v[0];
    struct mig_step *b = p->steps.v[0];
    cr_assert_null(b->up);
    cr_assert_not_null(b->up_exec);
    cr_assert_eq(b->up_exec->argv.n, 3);
    cr_assert_eq(b->up_exec->timeout_ms, 30 * 60000);
    cr_assert_eq(b->up_exec->env.n, 2);
    cr_assert_str_eq(b->up_exec->env.v[1].name.text, "B");
    cr_assert_not_null(b->up_exec->cwd);
    cr_assert_not_null(b->down_exec);
    cr_assert(b->down_optional && b->down_restores);
    cr_assert(b->verify.v[0].poll);
    cr_assert_eq(b->verify.v[0].within_ms, 60000);
    cr_assert_eq(b->verify.v[0].every_ms, 2000);
    cr_assert_eq(b->verify.v[0].expr->kind, MIG_E_EXEC);
    cr_assert(p->steps.v[1]->down_none);
    cr_assert_str_eq(p->steps.v[1]->none_why, "nothing to undo");
    cr_assert(p->steps.v[2]->down_restores && !p->steps.v[2]->down_optional);
    struct mig_cond *r = &f->migrations.v[0]->requires.v[0];
    cr_assert(r->poll);
    cr_assert_eq(r->every_ms, 1000, "every defaults to 1s");
    cr_assert_eq(r->expr->u.bin.l->kind, MIG_E_EXEC);
    cr_assert(r->expr->u.bin.l->u.exec->output);
}

Test(parser, exec_options_bind_to_the_nearest_command) {
    /* the cwd is an expression: an inner command's timeout is its own */
    struct mig_file *f = parse("let ok = exec [\"ls\"] cwd output exec [\"mktemp\", \"-d\"] timeout 5s;\n");
    cr_assert_eq(diags.errors, 0, "%s", diags.errors ? diags.v.v[0].msg : "");
    struct mig_exec *x = f->lets.v[0]->init->u.exec;
    cr_assert(!x->has_timeout);
    cr_assert_eq(x->cwd->u.exec->timeout_ms, 5000);
}

Test(parser, new_keywords_are_reserved) {
    static const char *const words[] = { "exec", "output", "none", "optional", "restores", "within", "env",
                                         "cwd", "float" };
    for (size_t i = 0; i < sizeof(words) / sizeof(*words); i++) {
        memset(&diags, 0, sizeof(diags));
        diags.sources = &sources;
        char text[64];
        snprintf(text, sizeof(text), "let %s = 1;\n", words[i]);
        parse(text);
        cr_assert_eq(diags.errors, 1, "'%s' is a keyword", words[i]);
    }
}

Test(parser, duplicate_exec_options) {
    parse("migration m { step s { up exec [\"a\"] timeout 1s timeout 2s; down none \"x\" } }\n");
    cr_assert_eq(diags.errors, 1);
    cr_assert_str_eq(diags.v.v[0].rule, "duplicate-clause");
}
