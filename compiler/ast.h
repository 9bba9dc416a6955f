/* ast.h — the syntax tree of .mig files. Every node lives in the
 * compilation's arena; spans are (file, byte offsets) into mig_sources. */
#ifndef MIG_AST_H
#define MIG_AST_H
#include <stdbool.h>
#include <stdint.h>
#include "lib/arena.h"
#include "lib/sqllex.h"
#include "runtime/plan.h"

struct mig_span {
    uint32_t file;
    uint32_t start, end;
};

enum mig_type {
    MIG_T_ANY,      /* known only at run time (a scalar query, a failed check) */
    MIG_T_INT,
    MIG_T_STRING,
    MIG_T_BOOL,
    MIG_T_DURATION,
    MIG_T_NULL,
    MIG_T_FLOAT,
};
const char *mig_type_name(enum mig_type t);

const char *mig_dialect_name(enum mig_dialect d);

struct mig_name {           /* an identifier or a dotted name as written */
    const char *text;       /* "std.table_exists"; arena-owned */
    struct mig_span span;
};

struct mig_interp {         /* one ${…} in a SQL text */
    const char *name;
    enum mig_interp_mode mode;
    uint32_t off, len;      /* in the sql text (relative to mig_sql.text) */
    struct mig_span span;   /* in the source */
    struct mig_symbol *sym; /* resolved */
};

struct mig_sql {            /* one `sql [dialect] { … }` or `sql [dialect] file "…"` */
    enum mig_dialect dialect;
    struct mig_span span;           /* the whole sqlsrc */
    struct mig_span dialect_span;
    bool is_file;
    const char *file_path;          /* as written */
    struct mig_span file_span;      /* the path string */
    const char *text;               /* the SQL bytes (borrowed from a source) */
    uint32_t len;
    uint32_t text_file, text_off;   /* where text lives: source id and offset */
    MIG_VEC(struct mig_interp) interps;
    struct mig_sql *next;           /* next variant of the same action */
};

enum mig_expr_kind {
    MIG_E_INT, MIG_E_STRING, MIG_E_BOOL, MIG_E_NULL, MIG_E_DURATION,
    MIG_E_NAME, MIG_E_CALL, MIG_E_NOT, MIG_E_NEG, MIG_E_BINARY,
    MIG_E_EXISTS, MIG_E_SCALAR,
    MIG_E_FLOAT,            /* 2.5, 1e-3 */
    MIG_E_EXEC,             /* exec [...] (bool) or output exec [...] (string) */
};

enum mig_binop {
    MIG_OP_OR, MIG_OP_AND, MIG_OP_EQ, MIG_OP_NE, MIG_OP_LT, MIG_OP_LE, MIG_OP_GT,
    MIG_OP_GE, MIG_OP_ADD, MIG_OP_SUB, MIG_OP_MUL, MIG_OP_DIV, MIG_OP_MOD,
};
const char *mig_binop_text(enum mig_binop op);


struct mig_expr;
struct mig_exprs { struct mig_expr **v; size_t n, cap; };

struct mig_envvar {         /* NAME = expr in env { … } */
    struct mig_name name;
    struct mig_expr *value;
};

struct mig_exec {           /* exec [argv] { timeout D | env { … } | cwd expr } */
    struct mig_span span;       /* from `exec` to its last option */
    struct mig_span argv_span;  /* the [ … ] */
    struct mig_exprs argv;
    MIG_VEC(struct mig_envvar) env;
    struct mig_expr *cwd;
    int64_t timeout_ms;         /* 0: none */
    bool output;                /* an `output exec` expression */
    struct mig_span timeout_span, cwd_span;
    bool has_timeout;
};

struct mig_expr {
    enum mig_expr_kind kind;
    struct mig_span span;       /* the whole expression */
    struct mig_span op_span;    /* the operator (binary/unary) */
    enum mig_type type;         /* filled by the checker */
    union {
        int64_t ival;           /* INT, BOOL; DURATION in milliseconds */
        double fval;            /* FLOAT */
        struct mig_exec *exec;  /* EXEC */
        struct { const char *s; uint32_t n; } str;  /* STRING (unescaped, arena) */
        struct {
            struct mig_name name;
            struct mig_symbol *sym;             /* resolved NAME or CALL target */
            enum mig_builtin builtin;           /* CALL of a builtin */
            struct mig_exprs args;
        } ref;
        struct { enum mig_binop op; struct mig_expr *l, *r; } bin;
        struct mig_expr *sub;   /* NOT, NEG */
        struct mig_sql *sql;    /* EXISTS, SCALAR: one or more dialect variants */
    } u;
};

struct mig_cond {           /* require / assert / verify: expr [within D [every D]] [else "msg"] */
    struct mig_expr *expr;
    const char *msg;        /* NULL when no else */
    struct mig_span span;   /* the keyword */
    int64_t within_ms, every_ms;    /* with `within`: every_ms defaults to 1s */
    bool poll;
};

enum mig_symkind { MIG_SYM_LET, MIG_SYM_PARAM, MIG_SYM_FN, MIG_SYM_FNPARAM };

struct mig_fn;
struct mig_symbol {
    enum mig_symkind kind;
    const char *name;           /* unqualified */
    struct mig_span span;       /* the name at its definition */
    enum mig_type type;         /* declared or inferred (lets, params, fn result) */
    bool has_type;              /* a `let` with ": type" */
    struct mig_expr *init;      /* let, param default */
    struct mig_fn *fn;          /* FN */
    uint32_t index;             /* FNPARAM: position; LET/PARAM: slot or global (codegen) */
    bool global;                /* a file-level let (codegen) */
    bool used;
    struct mig_file *file;      /* where it is defined */
};

struct mig_call { struct mig_fn *callee; struct mig_span at; };

struct mig_fn {
    struct mig_symbol *sym;
    MIG_VEC(struct mig_symbol *) params;
    enum mig_type ret;
    struct mig_span ret_span;
    struct mig_expr *body;
    struct mig_file *file;
    MIG_VEC(struct mig_call) calls;     /* calls of user fns in the body */
    int visit;                  /* recursion check */
};


struct mig_step {
    const char *name;
    const char *title;
    struct mig_span span;       /* the name */
    struct mig_span extent;     /* from `step` to its closing brace */
    struct mig_expr *when;
    struct mig_sql *up;         /* variants, linked by next */
    struct mig_sql *down;
    struct mig_exec *up_exec, *down_exec;   /* exec actions (then up/down are NULL) */
    bool down_irreversible;
    const char *irreversible_why;
    bool down_none;             /* down none "why" */
    const char *none_why;
    bool down_optional, down_restores;
    struct mig_span optional_span, restores_span;
    struct mig_span up_span, down_span;
    bool has_up, has_down;
    MIG_VEC(struct mig_cond) verify;
    bool batch;
    int64_t batch_max;          /* 0: unlimited */
    struct mig_span batch_span;
};

struct mig_phase {
    const char *name;
    const char *title;
    struct mig_span span;       /* the name (or the first step, for `main`) */
    struct mig_span extent;     /* from `phase` to its closing brace (implicit: empty) */
    bool implicit;              /* the `main` phase of steps written in the migration */
    struct mig_expr *when;
    enum mig_txn txn;
    struct mig_span txn_span;
    int64_t timeout_ms, lock_timeout_ms;    /* 0: not set */
    int64_t retry;                          /* 0: no retry */
    int64_t retry_every_ms;
    MIG_VEC(struct mig_step *) steps;
    MIG_VEC(struct mig_cond) asserts;
};

struct mig_target {
    enum mig_dialect dialect;
    int64_t min_version;        /* 0: any */
    struct mig_span span;
};

struct mig_migration {
    const char *name;
    const char *title;
    struct mig_span span;       /* the name */
    struct mig_span extent;     /* from `migration` to its closing brace */
    struct mig_file *file;
    MIG_VEC(struct mig_name) after;
    MIG_VEC(struct mig_migration *) after_resolved;
    MIG_VEC(struct mig_target) targets;
    MIG_VEC(struct mig_symbol *) params;
    MIG_VEC(struct mig_symbol *) lets;
    MIG_VEC(struct mig_cond) requires;
    MIG_VEC(struct mig_phase *) phases;
    MIG_VEC(struct mig_cond) asserts;      /* migration-level: after the last phase */
    int visit;                  /* after-cycle check and ordering */
    uint32_t order;             /* position in the run order */
};

struct mig_import {
    bool is_path;
    const char *name;           /* "std.pg" or the path as written */
    struct mig_span span;
    struct mig_file *file;      /* resolved */
};

struct mig_file {
    struct mig_source *src;
    const char *module;         /* `module x.y;` or NULL */
    struct mig_span module_span;
    MIG_VEC(struct mig_import) imports;
    MIG_VEC(struct mig_symbol *) lets;
    MIG_VEC(struct mig_symbol *) fns;
    MIG_VEC(struct mig_migration *) migrations;
    /* Items in source order for the checker: lets and fns interleaved. */
    MIG_VEC(struct mig_symbol *) decls;
    MIG_VEC(struct mig_file *) visible;    /* imported files (std expands to its modules) */
    bool is_input;              /* given on the command line (its migrations run) */
    bool is_std;
    bool resolved;
};

#endif
