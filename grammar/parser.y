/* parser.y — the grammar of .mig files (LANGUAGE.md §3–4): a pure bison
 * parser with byte-offset locations, building the AST of compiler/ast.h in
 * the compilation's arena. Syntax errors are collected; recovery resumes at
 * the next ';' so that one file reports several errors. */
%code requires {
#include "compiler/parse.h"
struct mig_str { const char *s; uint32_t n; };
struct mig_poll { bool on; int64_t within_ms, every_ms; };
struct mig_downflags { unsigned optional, restores; struct mig_loc optional_at, restores_at; };
struct mig_envlist { MIG_VEC(struct mig_envvar) v; };
}

%code provides {
int mig_yylex(MIG_YYSTYPE *lval, MIG_YYLTYPE *lloc, void *scanner);
}

%code {
#include <string.h>

#define YYLLOC_DEFAULT(Cur, Rhs, N) do { \
        if (N) { (Cur).start = YYRHSLOC(Rhs, 1).start; (Cur).end = YYRHSLOC(Rhs, N).end; } \
        else { (Cur).start = (Cur).end = YYRHSLOC(Rhs, 0).end; } \
    } while (0)

static void yyerror(YYLTYPE *loc, void *scanner, struct mig_parse *ps, const char *msg);
#define SPAN(l) mig_span_of(ps, (l))
#define MIG_DIAG_AT_PS(ps, sp, rule, ...) \
    mig_diag((ps)->diags, MIG_ERROR, (sp).file, (sp).start, (sp).end, (rule), __VA_ARGS__)
#define A (ps->arena)

static struct mig_expr *mk(struct mig_parse *ps, enum mig_expr_kind k, YYLTYPE l);
static struct mig_expr *mkbin(struct mig_parse *ps, enum mig_binop op, struct mig_expr *l,
                              struct mig_expr *r, YYLTYPE opl);
static struct mig_expr *mkcall(struct mig_parse *ps, struct mig_name n, struct mig_exprs *args, YYLTYPE l);
static struct mig_phase *implicit_phase(struct mig_parse *ps, struct mig_span at);
static void add_step(struct mig_parse *ps, struct mig_step *st);
static void add_cond(struct mig_parse *ps, int where, struct mig_expr *e, struct mig_poll poll, const char *msg,
                     YYLTYPE kw);
static void add_let(struct mig_parse *ps, struct mig_name n, enum mig_type t, bool typed, struct mig_expr *e);
static void set_when(struct mig_parse *ps, struct mig_expr **slot, struct mig_expr *e, YYLTYPE kw);
static void set_action(struct mig_parse *ps, int up, struct mig_sql *q, struct mig_exec *x, YYLTYPE kw);
static void set_down_flags(struct mig_parse *ps, struct mig_downflags f);
static struct mig_exec *mkexec(struct mig_parse *ps, struct mig_exprs *argv, YYLTYPE argv_loc);
static void exec_option(struct mig_parse *ps, struct mig_exec *x, int kind, YYLTYPE loc, int64_t ms,
                        struct mig_expr *cwd, struct mig_envlist *env);
static void top_item(struct mig_parse *ps, YYLTYPE l);
}

%define api.pure full
%define api.prefix {mig_yy}
%define api.location.type {struct mig_loc}
%define parse.error custom
%locations
%lex-param {void *scanner}
%parse-param {void *scanner} {struct mig_parse *ps}

%union {
    int64_t i;
    double f;
    struct mig_poll poll;
    struct mig_downflags downflags;
    struct mig_exec *exec;
    struct mig_envlist *env;
    struct mig_str str;
    struct mig_name name;
    struct mig_sql *sql;
    struct mig_expr *expr;
    struct mig_exprs *exprs;
    enum mig_dialect dialect;
    enum mig_type type;
}

%token IMPORT "import" MODULE "module" MIGRATION "migration" AFTER "after"
%token TARGET "target" PARAM "param" LET "let" FN "fn" REQUIRE "require" ELSE "else"
%token PHASE "phase" STEP "step" WHEN "when" UP "up" DOWN "down" VERIFY "verify"
%token ASSERT "assert" SQL "sql" FILE_KW "file" IRREVERSIBLE "irreversible"
%token TRANSACTION "transaction" TIMEOUT "timeout" LOCK_TIMEOUT "lock_timeout"
%token RETRY "retry" EVERY "every" BATCH "batch" MAX "max" EXISTS "exists" SCALAR "scalar"
%token AND "and" OR "or" NOT "not" TRUE "true" FALSE "false" NULL_KW "null"
%token EXEC "exec" OUTPUT "output" NONE "none" OPTIONAL "optional" RESTORES "restores"
%token WITHIN "within" ENV "env" CWD "cwd"
%token T_INT "int" T_FLOAT "float" T_STRING "string" T_BOOL "bool" T_DURATION "duration"
%token POSTGRES "postgres" SQLITE "sqlite"
%token EQ "==" NE "!=" LE "<=" GE ">=" ARROW "->"
%token <i> INT "integer" DURATION "duration literal"
%token <f> FLOAT "float literal"
%token <str> STRING "string literal"
%token <name> NAME "identifier"
%token <sql> SQLBODY "SQL body"

%type <name> qname name_part
%type <str> opt_title opt_else
%type <sql> sqlsrc sqlsrcs
%type <expr> expr primary
%type <exprs> args arglist
%type <dialect> dialect
%type <type> type
%type <poll> opt_poll
%type <downflags> down_flags
%type <exec> execsrc exec_head
%type <env> env_list

/* An exec's options bind to it (`cwd output exec [...] timeout 5s`: the
 * timeout is the inner command's), and `cwd` takes a whole expression. */
%precedence EXEC
%precedence CWD TIMEOUT ENV
%left OR
%left AND
%precedence NOT
%nonassoc EQ NE '<' LE '>' GE
%left '+' '-'
%left '*' '/' '%'
%precedence UMINUS

%%

file
    : %empty
    | file top_item
    ;

top_item
    : import        { top_item(ps, @1); }
    | module_decl
    | let_decl      { top_item(ps, @1); }
    | fn_decl       { top_item(ps, @1); }
    | migration     { top_item(ps, @1); }
    | error ';'     { yyerrok; }
    | error '}'     { yyerrok; }
    ;

import
    : IMPORT qname ';'
        { struct mig_import im = { false, $2.text, $2.span, NULL };
          MIG_PUSH(A, ps->file->imports, im); }
    | IMPORT STRING ';'
        { struct mig_import im = { true, $2.s, SPAN(@2), NULL };
          MIG_PUSH(A, ps->file->imports, im); }
    ;

module_decl
    : MODULE qname ';'
        { if (ps->seen_item || ps->file->module)
              mig_diag(ps->diags, MIG_ERROR, ps->src->id, @1.start, @1.end, "syntax",
                       "'module' must be the first item of a file");
          else { ps->file->module = $2.text; ps->file->module_span = $2.span; }
          ps->seen_item = true; }
    ;

qname
    : NAME
    | qname '.' name_part
        { $$.text = mig_arena_printf(A, "%s.%s", $1.text, $3.text);
          $$.span = $1.span; $$.span.end = $3.span.end; }
    ;

name_part
    : NAME
    | POSTGRES  { $$.text = "postgres"; $$.span = SPAN(@1); }
    | SQLITE    { $$.text = "sqlite"; $$.span = SPAN(@1); }
    ;

type
    : T_INT       { $$ = MIG_T_INT; }
    | T_FLOAT     { $$ = MIG_T_FLOAT; }
    | T_STRING    { $$ = MIG_T_STRING; }
    | T_BOOL      { $$ = MIG_T_BOOL; }
    | T_DURATION  { $$ = MIG_T_DURATION; }
    ;

let_decl
    : LET NAME ':' type '=' expr ';'    { add_let(ps, $2, $4, true, $6); }
    | LET NAME '=' expr ';'             { add_let(ps, $2, MIG_T_ANY, false, $4); }
    ;

fn_decl
    : FN NAME
        { struct mig_fn *f = MIG_NEW(A, struct mig_fn);
          struct mig_symbol *s = MIG_NEW(A, struct mig_symbol);
          s->kind = MIG_SYM_FN; s->name = $2.text; s->span = $2.span; s->fn = f; s->file = ps->file;
          f->sym = s; f->file = ps->file; ps->fn = f; }
      '(' fn_params ')' ARROW type '=' expr ';'
        { struct mig_fn *f = ps->fn;
          f->ret = $8; f->ret_span = SPAN(@8); f->sym->type = $8; f->body = $10;
          MIG_PUSH(A, ps->file->fns, f->sym);
          MIG_PUSH(A, ps->file->decls, f->sym);
          ps->fn = NULL; }
    ;

fn_params
    : %empty
    | fn_param_list
    ;

fn_param_list
    : fn_param
    | fn_param_list ',' fn_param
    ;

fn_param
    : NAME ':' type
        { struct mig_symbol *s = MIG_NEW(A, struct mig_symbol);
          s->kind = MIG_SYM_FNPARAM; s->name = $1.text; s->span = $1.span; s->type = $3;
          s->has_type = true; s->file = ps->file;
          s->index = (uint32_t)ps->fn->params.n;
          MIG_PUSH(A, ps->fn->params, s); }
    ;

migration
    : MIGRATION NAME opt_title '{'
        { struct mig_migration *m = MIG_NEW(A, struct mig_migration);
          m->name = $2.text; m->title = $3.s; m->span = $2.span; m->file = ps->file;
          ps->mig = m; }
      mig_items '}'
        { ps->mig->extent = SPAN(@$); MIG_PUSH(A, ps->file->migrations, ps->mig); ps->mig = NULL; }
    | MIGRATION error '{'
        { ps->mig = MIG_NEW(A, struct mig_migration); ps->mig->name = ""; ps->mig->span = SPAN(@1);
          ps->mig->file = ps->file; yyerrok; }
      mig_items '}'
        { ps->mig = NULL; }
    ;

opt_title
    : %empty    { $$.s = NULL; $$.n = 0; }
    | STRING
    ;

mig_items
    : %empty
    | mig_items mig_item
    ;

mig_item
    : AFTER after_list ';'
    | TARGET target_list ';'
    | PARAM NAME ':' type '=' expr ';'
        { struct mig_symbol *s = MIG_NEW(A, struct mig_symbol);
          s->kind = MIG_SYM_PARAM; s->name = $2.text; s->span = $2.span; s->type = $4;
          s->has_type = true; s->init = $6; s->file = ps->file;
          MIG_PUSH(A, ps->mig->params, s); }
    | let_decl
    | REQUIRE expr opt_poll opt_else ';'    { add_cond(ps, 0, $2, $3, $4.s, @1); }
    | phase
    | step
    | assert
    | error ';'     { yyerrok; }
    ;

after_list
    : NAME                  { MIG_PUSH(A, ps->mig->after, $1); }
    | after_list ',' NAME   { MIG_PUSH(A, ps->mig->after, $3); }
    ;

target_list
    : target_req
    | target_list ',' target_req
    ;

target_req
    : dialect
        { struct mig_target t = { $1, 0, SPAN(@1) }; MIG_PUSH(A, ps->mig->targets, t); }
    | dialect GE INT
        { struct mig_target t = { $1, $3, SPAN(@1) }; MIG_PUSH(A, ps->mig->targets, t); }
    ;

dialect
    : POSTGRES  { $$ = MIG_D_POSTGRES; }
    | SQLITE    { $$ = MIG_D_SQLITE; }
    ;

opt_else
    : %empty        { $$.s = NULL; $$.n = 0; }
    | ELSE STRING   { $$ = $2; }
    ;

assert
    : ASSERT expr opt_poll opt_else ';'     { add_cond(ps, 1, $2, $3, $4.s, @1); }
    ;

opt_poll
    : %empty                        { $$.on = false; $$.within_ms = 0; $$.every_ms = 0; }
    | WITHIN DURATION               { $$.on = true; $$.within_ms = $2; $$.every_ms = 1000; }
    | WITHIN DURATION EVERY DURATION
        { $$.on = true; $$.within_ms = $2; $$.every_ms = $4;
          if ($4 <= 0) mig_diag(ps->diags, MIG_ERROR, ps->src->id, @4.start, @4.end, "syntax",
                                "a poll's 'every' must be at least 1ms"); }
    ;

phase
    : PHASE NAME opt_title '{'
        { struct mig_phase *p = MIG_NEW(A, struct mig_phase);
          p->name = $2.text; p->title = $3.s; p->span = $2.span;
          ps->phase = p; }
      phase_items '}'
        { ps->phase->extent = SPAN(@$); MIG_PUSH(A, ps->mig->phases, ps->phase); ps->phase = NULL; }
    | PHASE error '{'
        { /* a malformed header: parse the body anyway, into a phase nobody sees */
          ps->phase = MIG_NEW(A, struct mig_phase); ps->phase->name = "";
          ps->phase->span = SPAN(@1); yyerrok; }
      phase_items '}'
        { ps->phase = NULL; }
    ;

phase_items
    : %empty
    | phase_items phase_item
    ;

phase_item
    : WHEN expr ';'                 { set_when(ps, &ps->phase->when, $2, @1); }
    | TRANSACTION PHASE ';'         { ps->phase->txn = MIG_TXN_PHASE; ps->phase->txn_span = SPAN(@2); }
    | TRANSACTION STEP ';'          { ps->phase->txn = MIG_TXN_STEP; ps->phase->txn_span = SPAN(@2); }
    | TRANSACTION NONE ';'          { ps->phase->txn = MIG_TXN_NONE; ps->phase->txn_span = SPAN(@2); }
    | TRANSACTION NAME ';'
        { mig_diag(ps->diags, MIG_ERROR, ps->src->id, @2.start, @2.end, "syntax",
                   "unknown transaction mode '%s' (expected phase, step or none)", $2.text); }
    | TIMEOUT DURATION ';'          { ps->phase->timeout_ms = $2; }
    | LOCK_TIMEOUT DURATION ';'     { ps->phase->lock_timeout_ms = $2; }
    | RETRY INT ';'                 { ps->phase->retry = $2; }
    | RETRY INT EVERY DURATION ';'  { ps->phase->retry = $2; ps->phase->retry_every_ms = $4; }
    | step
    | assert
    | error ';'     { yyerrok; }
    ;

step
    : STEP NAME opt_title '{'
        { struct mig_step *st = MIG_NEW(A, struct mig_step);
          st->name = $2.text; st->title = $3.s; st->span = $2.span;
          ps->step = st; }
      step_items '}'
        { ps->step->extent = SPAN(@$); add_step(ps, ps->step); ps->step = NULL; }
    | STEP error '{'
        { ps->step = MIG_NEW(A, struct mig_step); ps->step->name = ""; ps->step->span = SPAN(@1); yyerrok; }
      step_items '}'
        { ps->step = NULL; }
    ;

step_items
    : %empty
    | step_items step_item
    ;

step_item
    : WHEN expr ';'                 { set_when(ps, &ps->step->when, $2, @1); }
    | UP sqlsrcs opt_semi           { set_action(ps, 1, $2, NULL, @1); }
    | UP execsrc opt_semi           { set_action(ps, 1, NULL, $2, @1); }
    | DOWN sqlsrcs down_flags opt_semi
        { set_action(ps, 0, $2, NULL, @1); set_down_flags(ps, $3); }
    | DOWN execsrc down_flags opt_semi
        { set_action(ps, 0, NULL, $2, @1); set_down_flags(ps, $3); }
    | DOWN IRREVERSIBLE STRING opt_semi
        { set_action(ps, 0, NULL, NULL, @1);
          ps->step->down_irreversible = true; ps->step->irreversible_why = $3.s; }
    | DOWN NONE STRING opt_semi
        { set_action(ps, 0, NULL, NULL, @1);
          ps->step->down_none = true; ps->step->none_why = $3.s; }
    | VERIFY expr opt_poll opt_else ';'     { add_cond(ps, 2, $2, $3, $4.s, @1); }
    | BATCH ';'                     { ps->step->batch = true; ps->step->batch_span = SPAN(@1); }
    | BATCH MAX INT ';'
        { ps->step->batch = true; ps->step->batch_max = $3; ps->step->batch_span = SPAN(@1);
          if ($3 <= 0) mig_diag(ps->diags, MIG_ERROR, ps->src->id, @3.start, @3.end, "syntax",
                                "batch max must be at least 1"); }
    | error ';'     { yyerrok; }
    ;

opt_semi
    : %empty
    | ';'
    ;

/* `optional` and `restores`, in either order, each at most once */
down_flags
    : %empty                { memset(&$$, 0, sizeof($$)); }
    | down_flags OPTIONAL
        { $$ = $1;
          if ($$.optional) mig_diag(ps->diags, MIG_ERROR, ps->src->id, @2.start, @2.end, "duplicate-clause",
                                    "'optional' is written twice");
          $$.optional = 1; $$.optional_at = @2; }
    | down_flags RESTORES
        { $$ = $1;
          if ($$.restores) mig_diag(ps->diags, MIG_ERROR, ps->src->id, @2.start, @2.end, "duplicate-clause",
                                    "'restores' is written twice");
          $$.restores = 1; $$.restores_at = @2; }
    ;

execsrc
    : exec_head %prec EXEC          { $$ = $1; }
    ;

exec_head
    : EXEC '[' args ']'             { $$ = mkexec(ps, $3, @2); $$->argv_span.end = @4.end; $$->span = SPAN(@$); }
    | exec_head TIMEOUT DURATION    { $$ = $1; exec_option(ps, $$, 0, @2, $3, NULL, NULL); $$->span.end = @3.end; }
    | exec_head ENV '{' env_list opt_comma '}'
        { $$ = $1; exec_option(ps, $$, 1, @2, 0, NULL, $4); $$->span.end = @6.end; }
    | exec_head CWD expr            { $$ = $1; exec_option(ps, $$, 2, @2, 0, $3, NULL); $$->span.end = @3.end; }
    ;

env_list
    : NAME '=' expr
        { $$ = MIG_NEW(A, struct mig_envlist); struct mig_envvar v = { $1, $3 }; MIG_PUSH(A, $$->v, v); }
    | env_list ',' NAME '=' expr
        { $$ = $1; struct mig_envvar v = { $3, $5 }; MIG_PUSH(A, $$->v, v); }
    ;

opt_comma
    : %empty
    | ','
    ;

sqlsrcs
    : sqlsrc
    | sqlsrcs sqlsrc
        { struct mig_sql *q = $1; while (q->next) q = q->next; q->next = $2; $$ = $1; }
    ;

sqlsrc
    : SQL SQLBODY
        { $$ = $2; $$->dialect = MIG_D_ANY; $$->span = SPAN(@$); }
    | SQL dialect SQLBODY
        { $$ = $3; $$->dialect = $2; $$->span = SPAN(@$); $$->dialect_span = SPAN(@2); }
    | SQL FILE_KW STRING
        { $$ = MIG_NEW(A, struct mig_sql); $$->dialect = MIG_D_ANY; $$->span = SPAN(@$);
          $$->is_file = true; $$->file_path = $3.s; $$->file_span = SPAN(@3); }
    | SQL dialect FILE_KW STRING
        { $$ = MIG_NEW(A, struct mig_sql); $$->dialect = $2; $$->span = SPAN(@$);
          $$->dialect_span = SPAN(@2);
          $$->is_file = true; $$->file_path = $4.s; $$->file_span = SPAN(@4); }
    ;

expr
    : expr OR expr      { $$ = mkbin(ps, MIG_OP_OR, $1, $3, @2); }
    | expr AND expr     { $$ = mkbin(ps, MIG_OP_AND, $1, $3, @2); }
    | NOT expr          { $$ = mk(ps, MIG_E_NOT, @$); $$->op_span = SPAN(@1); $$->u.sub = $2; }
    | expr EQ expr      { $$ = mkbin(ps, MIG_OP_EQ, $1, $3, @2); }
    | expr NE expr      { $$ = mkbin(ps, MIG_OP_NE, $1, $3, @2); }
    | expr '<' expr     { $$ = mkbin(ps, MIG_OP_LT, $1, $3, @2); }
    | expr LE expr      { $$ = mkbin(ps, MIG_OP_LE, $1, $3, @2); }
    | expr '>' expr     { $$ = mkbin(ps, MIG_OP_GT, $1, $3, @2); }
    | expr GE expr      { $$ = mkbin(ps, MIG_OP_GE, $1, $3, @2); }
    | expr '+' expr     { $$ = mkbin(ps, MIG_OP_ADD, $1, $3, @2); }
    | expr '-' expr     { $$ = mkbin(ps, MIG_OP_SUB, $1, $3, @2); }
    | expr '*' expr     { $$ = mkbin(ps, MIG_OP_MUL, $1, $3, @2); }
    | expr '/' expr     { $$ = mkbin(ps, MIG_OP_DIV, $1, $3, @2); }
    | expr '%' expr     { $$ = mkbin(ps, MIG_OP_MOD, $1, $3, @2); }
    | '-' expr %prec UMINUS
        { $$ = mk(ps, MIG_E_NEG, @$); $$->op_span = SPAN(@1); $$->u.sub = $2; }
    | primary
    ;

primary
    : INT           { $$ = mk(ps, MIG_E_INT, @$); $$->u.ival = $1; }
    | FLOAT         { $$ = mk(ps, MIG_E_FLOAT, @$); $$->u.fval = $1; }
    | DURATION      { $$ = mk(ps, MIG_E_DURATION, @$); $$->u.ival = $1; }
    | STRING        { $$ = mk(ps, MIG_E_STRING, @$); $$->u.str.s = $1.s; $$->u.str.n = $1.n; }
    | TRUE          { $$ = mk(ps, MIG_E_BOOL, @$); $$->u.ival = 1; }
    | FALSE         { $$ = mk(ps, MIG_E_BOOL, @$); $$->u.ival = 0; }
    | NULL_KW       { $$ = mk(ps, MIG_E_NULL, @$); }
    | qname         { $$ = mk(ps, MIG_E_NAME, @$); $$->u.ref.name = $1; }
    | qname '(' args ')'    { $$ = mkcall(ps, $1, $3, @$); }
    | T_INT '(' args ')'
        { struct mig_name n = { "int", SPAN(@1) }; $$ = mkcall(ps, n, $3, @$); }
    | T_STRING '(' args ')'
        { struct mig_name n = { "string", SPAN(@1) }; $$ = mkcall(ps, n, $3, @$); }
    | T_FLOAT '(' args ')'
        { struct mig_name n = { "float", SPAN(@1) }; $$ = mkcall(ps, n, $3, @$); }
    | ENV '(' args ')'
        { struct mig_name n = { "env", SPAN(@1) }; $$ = mkcall(ps, n, $3, @$); }
    | execsrc           { $$ = mk(ps, MIG_E_EXEC, @$); $$->u.exec = $1; }
    | OUTPUT execsrc
        { $$ = mk(ps, MIG_E_EXEC, @$); $$->u.exec = $2; $2->output = true; }
    | '(' expr ')'  { $$ = $2; }
    | EXISTS sqlsrcs    { $$ = mk(ps, MIG_E_EXISTS, @$); $$->u.sql = $2; }
    | SCALAR sqlsrcs    { $$ = mk(ps, MIG_E_SCALAR, @$); $$->u.sql = $2; }
    ;

args
    : %empty        { $$ = MIG_NEW(A, struct mig_exprs); }
    | arglist
    ;

arglist
    : expr              { $$ = MIG_NEW(A, struct mig_exprs); MIG_PUSH(A, *$$, $1); }
    | arglist ',' expr  { $$ = $1; MIG_PUSH(A, *$$, $3); }
    ;

%%

/* "unexpected keyword 'import', expecting identifier": keywords and
 * punctuation quoted as written, at most four alternatives listed. */
static const char *describe(struct mig_parse *ps, yysymbol_kind_t k)
{
    const char *name = yysymbol_name(k);
    if (k >= YYSYMBOL_IMPORT && k <= YYSYMBOL_SQLITE)
        return mig_arena_printf(A, "keyword '%s'", name);
    if (k >= YYSYMBOL_EQ && k <= YYSYMBOL_ARROW)
        return mig_arena_printf(A, "'%s'", name);
    return name;
}

/* What the statement that ends at offset end is, from its first word
 * (after the previous ';', '{' or '}'): "the 'when' condition", … */
static const char *statement_before(struct mig_parse *ps, size_t end)
{
    const char *t = ps->src->text;
    size_t b = end;
    while (b > 0 && t[b - 1] != ';' && t[b - 1] != '{' && t[b - 1] != '}')
        b--;
    while (b < end && (t[b] == ' ' || t[b] == '\t' || t[b] == '\r' || t[b] == '\n'))
        b++;
    size_t w = b;
    while (w < end && ((t[w] >= 'a' && t[w] <= 'z') || t[w] == '_'))
        w++;
    static const struct { const char *kw, *what; } names[] = {
        { "when", "the 'when' condition" }, { "require", "the 'require' condition" },
        { "assert", "the 'assert' condition" }, { "verify", "the 'verify' condition" },
        { "param", "the param declaration" }, { "let", "the 'let' declaration" },
        { "import", "the import" }, { "after", "the 'after' list" }, { "target", "the 'target' declaration" },
        { "transaction", "the 'transaction' setting" }, { "timeout", "the 'timeout' setting" },
        { "lock_timeout", "the 'lock_timeout' setting" }, { "retry", "the 'retry' setting" },
        { "up", "the 'up' action" }, { "down", "the 'down' action" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
        if (w - b == strlen(names[i].kw) && memcmp(t + b, names[i].kw, w - b) == 0)
            return names[i].what;
    return NULL;
}

/* A missing ';': ';' was one of the tokens the parser could take, and the
 * unexpected one starts a new line. The error points just after the
 * previous token and names the statement it ends. */
static bool missing_semicolon(struct mig_parse *ps, const yypcontext_t *ctx, const YYLTYPE *loc)
{
    yysymbol_kind_t exp[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, exp, YYNTOKENS);
    bool semi = false;
    for (int i = 0; i < n && !semi; i++)
        semi = strcmp(yysymbol_name(exp[i]), "';'") == 0;
    if (!semi || loc->start > ps->src->len)
        return false;
    const char *t = ps->src->text;
    size_t p = loc->start;
    bool newline = false;
    while (p > 0 && (t[p - 1] == ' ' || t[p - 1] == '\t' || t[p - 1] == '\r' || t[p - 1] == '\n'))
        newline |= t[--p] == '\n';
    if (!newline || p == 0)
        return false;
    const char *what = statement_before(ps, p);
    mig_diag(ps->diags, MIG_ERROR, ps->src->id, (uint32_t)p, (uint32_t)p, "syntax", "expected ';' after %s",
             what ? what : "this statement");
    ps->diags->fatal++;
    return true;
}

static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner, struct mig_parse *ps)
{
    (void)scanner;
    if (ps->at_eof_error)
        return 0;   /* an unterminated body swallowed the rest: it explains the end */
    yysymbol_kind_t exp[5];
    int n = yypcontext_expected_tokens(ctx, exp, 5);
    yysymbol_kind_t tok = yypcontext_token(ctx);
    const YYLTYPE *loc = yypcontext_location(ctx);
    if (missing_semicolon(ps, ctx, loc))
        return 0;
    char *msg = mig_arena_printf(A, "syntax error: unexpected %s", describe(ps, tok));
    if (n > 0 && n <= 4) {
        for (int i = 0; i < n; i++)
            msg = mig_arena_printf(A, "%s%s%s", msg, i == 0 ? ", expecting " : i == n - 1 ? " or " : ", ",
                                   describe(ps, exp[i]));
    }
    mig_diag(ps->diags, MIG_ERROR, ps->src->id, loc->start, loc->end, "syntax", "%s", msg);
    ps->diags->fatal++;
    return 0;
}

static void yyerror(YYLTYPE *loc, void *scanner, struct mig_parse *ps, const char *msg)
{
    (void)scanner;
    if (ps->at_eof_error)
        return;     /* an unterminated body swallowed the rest: it explains the end */
    if (strcmp(msg, "memory exhausted") == 0)
        msg = "nesting too deep for the parser (simplify the expression)";
    mig_diag(ps->diags, MIG_ERROR, ps->src->id, loc->start, loc->end, "syntax", "%s", msg);
    ps->diags->fatal++;
}

struct mig_span mig_span_of(const struct mig_parse *ps, struct mig_loc l)
{
    struct mig_span s = { ps->src->id, l.start, l.end };
    return s;
}

static struct mig_expr *mk(struct mig_parse *ps, enum mig_expr_kind k, YYLTYPE l)
{
    struct mig_expr *e = MIG_NEW(A, struct mig_expr);
    e->kind = k;
    e->span = SPAN(l);
    return e;
}

static struct mig_expr *mkbin(struct mig_parse *ps, enum mig_binop op, struct mig_expr *l,
                              struct mig_expr *r, YYLTYPE opl)
{
    struct mig_expr *e = MIG_NEW(A, struct mig_expr);
    e->kind = MIG_E_BINARY;
    e->u.bin.op = op;
    e->u.bin.l = l;
    e->u.bin.r = r;
    e->op_span = SPAN(opl);
    e->span = l->span;
    e->span.end = r->span.end;
    return e;
}

static struct mig_expr *mkcall(struct mig_parse *ps, struct mig_name n, struct mig_exprs *args, YYLTYPE l)
{
    struct mig_expr *e = mk(ps, MIG_E_CALL, l);
    e->u.ref.name = n;
    e->u.ref.args = *args;
    return e;
}

static void top_item(struct mig_parse *ps, YYLTYPE l)
{
    (void)l;
    ps->seen_item = true;
}

static struct mig_phase *implicit_phase(struct mig_parse *ps, struct mig_span at)
{
    struct mig_migration *m = ps->mig;
    for (size_t i = 0; i < m->phases.n; i++)
        if (m->phases.v[i]->implicit)
            return m->phases.v[i];
    struct mig_phase *p = MIG_NEW(A, struct mig_phase);
    p->name = "main";
    p->implicit = true;
    p->span = at;
    MIG_PUSH(A, m->phases, p);
    return p;
}

static void add_step(struct mig_parse *ps, struct mig_step *st)
{
    struct mig_phase *p = ps->phase ? ps->phase : implicit_phase(ps, st->span);
    MIG_PUSH(A, p->steps, st);
}

/* where: 0 require, 1 assert, 2 verify */
static void add_cond(struct mig_parse *ps, int where, struct mig_expr *e, struct mig_poll poll, const char *msg,
                     YYLTYPE kw)
{
    struct mig_cond c = { e, msg, SPAN(kw), poll.within_ms, poll.every_ms, poll.on };
    if (where == 0)
        MIG_PUSH(A, ps->mig->requires, c);
    else if (where == 2)
        MIG_PUSH(A, ps->step->verify, c);
    else if (ps->phase)
        MIG_PUSH(A, ps->phase->asserts, c);
    else
        MIG_PUSH(A, ps->mig->asserts, c);
}

static void add_let(struct mig_parse *ps, struct mig_name n, enum mig_type t, bool typed, struct mig_expr *e)
{
    struct mig_symbol *s = MIG_NEW(A, struct mig_symbol);
    s->kind = MIG_SYM_LET;
    s->name = n.text;
    s->span = n.span;
    s->type = t;
    s->has_type = typed;
    s->init = e;
    s->file = ps->file;
    if (ps->mig) {
        MIG_PUSH(A, ps->mig->lets, s);
    } else {
        MIG_PUSH(A, ps->file->lets, s);
        MIG_PUSH(A, ps->file->decls, s);
    }
}

static void set_when(struct mig_parse *ps, struct mig_expr **slot, struct mig_expr *e, YYLTYPE kw)
{
    if (*slot)
        mig_diag(ps->diags, MIG_ERROR, ps->src->id, kw.start, kw.end, "duplicate-clause",
                 "a second 'when' guard (combine the conditions with 'and')");
    else
        *slot = e;
}

static void set_action(struct mig_parse *ps, int up, struct mig_sql *q, struct mig_exec *x, YYLTYPE kw)
{
    struct mig_step *st = ps->step;
    bool *has = up ? &st->has_up : &st->has_down;
    if (*has) {
        mig_diag(ps->diags, MIG_ERROR, ps->src->id, kw.start, kw.end, "duplicate-clause",
                 "step '%s' has a second '%s' (put dialect variants in one '%s')",
                 st->name, up ? "up" : "down", up ? "up" : "down");
        return;
    }
    *has = true;
    if (up) {
        st->up = q;
        st->up_exec = x;
        st->up_span = SPAN(kw);
    } else {
        st->down = q;
        st->down_exec = x;
        st->down_span = SPAN(kw);
    }
}

static void set_down_flags(struct mig_parse *ps, struct mig_downflags f)
{
    struct mig_step *st = ps->step;
    if (f.optional) {
        st->down_optional = true;
        st->optional_span = SPAN(f.optional_at);
    }
    if (f.restores) {
        st->down_restores = true;
        st->restores_span = SPAN(f.restores_at);
    }
}

static struct mig_exec *mkexec(struct mig_parse *ps, struct mig_exprs *argv, YYLTYPE argv_loc)
{
    struct mig_exec *x = MIG_NEW(A, struct mig_exec);
    x->argv = *argv;
    x->argv_span = SPAN(argv_loc);
    return x;
}

/* kind: 0 timeout, 1 env { … }, 2 cwd; each at most once */
static void exec_option(struct mig_parse *ps, struct mig_exec *x, int kind, YYLTYPE loc, int64_t ms,
                        struct mig_expr *cwd, struct mig_envlist *env)
{
    static const char *const names[] = { "timeout", "env", "cwd" };
    bool dup = kind == 0 ? x->has_timeout : kind == 1 ? x->env.n > 0 : x->cwd != NULL;
    if (dup) {
        mig_diag(ps->diags, MIG_ERROR, ps->src->id, loc.start, loc.end, "duplicate-clause",
                 "a second '%s' for one command", names[kind]);
        return;
    }
    if (kind == 0) {
        x->has_timeout = true;
        x->timeout_ms = ms;
        x->timeout_span = SPAN(loc);
        if (ms <= 0)
            mig_diag(ps->diags, MIG_ERROR, ps->src->id, loc.start, loc.end, "syntax",
                     "a command's timeout must be at least 1ms");
    } else if (kind == 1) {
        for (size_t i = 0; i < env->v.n; i++) {
            for (size_t k = 0; k < i; k++)
                if (strcmp(env->v.v[k].name.text, env->v.v[i].name.text) == 0)
                    MIG_DIAG_AT_PS(ps, env->v.v[i].name.span, "duplicate-name",
                                   "env variable '%s' is already set in this env { … }", env->v.v[i].name.text);
            MIG_PUSH(A, x->env, env->v.v[i]);
        }
    } else {
        x->cwd = cwd;
        x->cwd_span = SPAN(loc);
    }
}

