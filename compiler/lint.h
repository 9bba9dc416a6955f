/* lint.h — what the parts of the linter share: lint.c (the rule table,
 * plan and command rules, suppressions), lint_sql.c (statements, CREATE,
 * DROP and the other PostgreSQL rules, the down) and lint_alter.c (ALTER
 * TABLE, column definitions and their types). */
#ifndef MIG_LINT_H
#define MIG_LINT_H
#include "compiler.h"
#include "lib/strmap.h"

/* The SQL rules of every input migration, in run order, so that the
 * history of tables and columns in earlier migrations is known. */
void mig_lint_sql(struct mig_program *p);
/* Whether a rule runs: every rule but the opt-in ones p does not enable. */
bool mig_lint_enabled(const struct mig_program *p, const char *id);

/* ---- internals of lint_sql.c and lint_alter.c ---- */

struct stok {
    enum mig_sqltok kind;
    uint32_t start, end;    /* offsets in the SQL text */
};

struct stmt {
    struct stok *t;
    size_t n;
};

/* What the earlier migrations (in run order) and the earlier statements
 * of this one did to the schema, as far as the linter follows it. Keys are
 * lower-case "table.column" or "table.constraint". */
struct lhist {
    struct mig_strmap coltype;      /* "t.c" → its normalized type ("varchar(20)") */
    struct mig_strmap checked;      /* "t.c" → a validated CHECK (c IS NOT NULL) exists */
    struct mig_strmap checkcol;     /* "t.constraint" → "t.c" of its CHECK (c IS NOT NULL) */
    struct mig_strmap notnull;      /* "t.c" → declared NOT NULL (or part of the primary key) */
    struct mig_strmap under;        /* "t" → the keys "t.…" put in the three maps (lint_alter.c's
                                     * struct hist_keys), so that forgetting or moving a table visits
                                     * its own keys, not the whole history (linear in the migrations) */
};

struct created_obj {            /* an object a step's up creates (down-missing-object) */
    const char *name;           /* lower case; "t.c" for a column */
    const char *owner;          /* the table of an index, trigger or column */
    const char *schema;         /* its qualifier, if written */
    MIG_VEC(const char *) cols; /* the words in an index's column list */
    uint32_t at;                /* offset in the up's text */
};

struct notvalid {               /* an ADD CONSTRAINT … NOT VALID of this migration */
    size_t phase, step;
};

struct lctx {
    struct mig_program *p;
    struct mig_migration *m;
    struct mig_phase *ph;
    struct mig_step *st;
    size_t phase_i, step_i;
    const struct mig_sql *q;    /* the text being looked at */
    bool pg;                    /* PostgreSQL rules apply */
    int64_t pg_min;             /* declared minimum PostgreSQL major, 0 unknown */
    struct mig_strmap created;  /* objects created earlier in this migration (lower-case names) */
    struct mig_strmap notvalid; /* "t.constraint" → struct notvalid */
    struct mig_strmap gone;     /* what the down of the step drops wholesale */
    struct lhist *h;
    bool phase_strong_lock_reported;
    size_t resume_at;           /* each_statement goes on from here (past COPY ... FROM STDIN data) */
    MIG_VEC(struct created_obj) step_created;
};

const char *lint_text(struct lctx *c, const struct stok *t);
bool lint_kw(struct lctx *c, const struct stmt *s, size_t i, const char *word);
bool lint_punct(struct lctx *c, const struct stmt *s, size_t i, char ch);
char *lint_name_at(struct lctx *c, const struct stmt *s, size_t i, size_t *next);
char *lint_schema_at(struct lctx *c, const struct stmt *s, size_t i);
struct mig_span lint_span(struct lctx *c, const struct stok *t);
struct mig_span lint_stmt_span(struct lctx *c, const struct stmt *s);
bool lint_was_created(struct lctx *c, const char *name);
struct created_obj *lint_created(struct lctx *c, const char *name, uint32_t at);
void lint_dropped(struct lctx *c, const char *name);
void lint_warn(struct lctx *c, struct mig_span at, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool lint_in_transaction(struct lctx *c);
bool lint_step_guarded(struct lctx *c);
void lint_strong_lock(struct lctx *c, const struct stmt *s, const char *what, const char *name);
size_t lint_skip_parens(struct lctx *c, const struct stmt *s, size_t i, size_t end);
char *lint_key(struct lctx *c, const char *table, const char *name);

/* lint_alter.c */
void lint_alter_table(struct lctx *c, const struct stmt *s, size_t i);
void lint_create_table(struct lctx *c, const struct stmt *s, size_t i, const char *table);
void lint_hist_drop_table(struct lctx *c, const char *table);
void lint_style_type(struct lctx *c, const struct stmt *s, size_t start, size_t end, const char *what,
                     const char *table, const char *col);

#endif
