/* compiler.h — the public face of the front end: collect .mig inputs, parse
 * them with their imports, run every check, and hand the checked program
 * (AST, run order, diagnostics) to codegen, migc and migrun. */
#ifndef MIG_COMPILER_H
#define MIG_COMPILER_H
#include <stdbool.h>
#include <stdio.h>
#include "lib/arena.h"
#include "lib/strmap.h"
#include "ast.h"
#include "diag.h"
#include "source.h"

struct mig_program {
    struct mig_arena arena;         /* owns everything below */
    struct mig_sources sources;
    struct mig_diags diags;
    MIG_VEC(struct mig_file *) files;           /* every parsed file, inputs first */
    MIG_VEC(struct mig_migration *) order;      /* run order of input migrations (after check) */
    MIG_VEC(const char *) input_paths;          /* collected .mig paths, sorted per argument */
    MIG_VEC(struct mig_source *) input_texts;   /* inputs given as text */
    struct mig_strmap walked_dirs;              /* "dev:ino" of directories walked */
    struct mig_strmap real_paths;               /* input path -> its real path, where a walk knew it */
    const char *const *lint_enable;             /* opt-in rules to run (NULL-terminated, borrowed) */
};

/* A new, empty program; free with mig_program_free(). */
struct mig_program *mig_program_new(void);
void mig_program_free(struct mig_program *p);

/* Adds a file or (recursively, following symlinks but walking each
 * directory once, so link cycles end) every *.mig file of a directory. Returns 0,
 * or -1 when the path does not exist or cannot be read, with a message in
 * err (a usage error: exit 2). */
int mig_program_add_path(struct mig_program *p, const char *path, char *err, size_t errlen);

/* Adds an input given as text (borrowed: must outlive the program), named
 * name in diagnostics. Imports are resolved relative to name; when name is
 * an existing file, an import of that file gets this text. */
void mig_program_add_text(struct mig_program *p, const char *name, const char *text, size_t len);

/* Parses the inputs and their imports, then runs name resolution, type and
 * structural checks, stopping between passes on errors. Diagnostics are in
 * p->diags, sorted. Returns the number of errors. */
unsigned mig_program_check(struct mig_program *p);

/* Whether a text read from a file can be compiled: no NUL byte (C
 * strings, libpq and SQLite would stop there) and, with utf8, valid UTF-8
 * (shortest forms, no surrogates, nothing above U+10FFFF). Otherwise one
 * error with rule id `rule` at the first bad byte, and false. */
bool mig_source_check_text(struct mig_program *p, struct mig_source *src, bool utf8, const char *rule);

/* The embedded standard library: the text of module "std", "std.pg" or
 * "std.sqlite", or NULL. */
const char *mig_stdlib_text(const char *module);

/* Internal passes (called by mig_program_check, in this order). */
void mig_resolve_imports(struct mig_program *p);
void mig_check_decls(struct mig_program *p);     /* names, after graph, order */
void mig_check_types(struct mig_program *p);     /* expressions, ${…}, sql file */
void mig_check_rules(struct mig_program *p);     /* rollback pairs and plan rules */
void mig_check_recursion(struct mig_program *p); /* fn call cycles (after types) */
void mig_lint(struct mig_program *p);            /* SQL and plan rules, suppressions */

/* `migc check --list-exec`: every command of a checked program — the exec
 * actions and expressions of its input migrations, and those of the
 * functions and lets of its files (the standard library has none) — one
 * per line, "file:line: where: exec [argv as written] options", sorted by
 * file and position. */
void mig_list_execs(struct mig_program *p, FILE *out);

/* The variant of an action or query for a dialect: its own, else the one
 * without a dialect, else NULL. */
const struct mig_sql *mig_sql_variant(const struct mig_sql *q, enum mig_dialect d);

/* Every rule: id, default severity ("error"/"warning"), one-line summary,
 * and whether it is an opt-in style rule (off unless the program enables
 * it: mig.conf [lint] enable). Ends with a NULL id. doc/rules.md explains
 * each. */
struct mig_rule {
    const char *id, *severity, *summary;
    bool opt_in;
};
extern const struct mig_rule mig_rules[];
/* The rule of an id, or NULL. */
const struct mig_rule *mig_rule_find(const char *id);



/* A diagnostic at a span. */
#define MIG_DIAG_AT(p, sev, sp, rule, ...) \
    mig_diag(&(p)->diags, (sev), (sp).file, (sp).start, (sp).end, (rule), __VA_ARGS__)
/* 1-based line of a span's start (for "first defined at line N"). */
unsigned mig_span_line(struct mig_program *p, struct mig_span s);
#endif
