/* import.h — `migc import`: the migrations of another tool's directory read
 * into one model (tools/import_tools.c, one reader per tool), then checked,
 * named, written as .mig files and reported (tools/import.c). Everything
 * lives in one arena, freed by the caller after the report. */
#ifndef MIG_IMPORT_H
#define MIG_IMPORT_H
#include <stdbool.h>
#include <stddef.h>
#include "lib/arena.h"

enum imp_dialect { IMP_ANY, IMP_PG, IMP_SQLITE };

/* One SQL text of an up, a down or a verify: the source's bytes (a whole
 * file, or a section of one), arena-owned, and where it came from. */
struct imp_body {
    enum imp_dialect dialect;
    const char *sql;
    size_t len;
    const char *origin;     /* file name relative to DIR, for notes */
};
struct imp_bodies {
    struct imp_body *v;
    size_t n, cap;
};
struct imp_strings {
    const char **v;
    size_t n, cap;
};

/* One up/down pair. */
struct imp_step {
    struct imp_bodies up;
    struct imp_bodies down;         /* empty: no down in the source */
    struct imp_bodies verify;       /* Sqitch verify scripts */
    const char *no_txn;     /* the tool's no-transaction marker, as written; NULL when absent */
    /* filled by the analysis (import.c) */
    bool txn_none;
    const char *txn_why;            /* why the phase runs outside a transaction */
    bool irreversible;
    struct imp_strings comments;    /* lines written above the step */
    struct imp_bodies verifies;     /* the verify statements, one each */
};

/* One source migration: becomes one .mig file. */
struct imp_migration {
    const char *id;         /* the source's name for it ("000001_create_users", "V1__init", "users") */
    const char *base;       /* what its mig name is made of, before sanitising */
    const char *title;      /* its description, or NULL */
    struct imp_strings files;       /* source files, relative to DIR */
    MIG_VEC(struct imp_step) steps;
    struct imp_strings requires;    /* Sqitch dependencies, as migration ids of this import */
    struct imp_strings remarks;     /* extra header comment lines (Sqitch tags) */
    bool skip;              /* not converted (reported) */
    /* filled when written */
    const char *name;
    const char *path;
};

/* Notes (what was converted with a change the user should know about),
 * things not converted (lost: the exit status is 1), and ignored files. */
struct imp_report {
    struct imp_strings notes;
    struct imp_strings lost;
    struct imp_strings ignored;
};

struct imp_ctx {
    struct mig_arena *arena;
    const char *tool;       /* as given to --from */
    const char *dir;
    MIG_VEC(struct imp_migration *) migs;   /* in the source's order */
    struct imp_report report;
    unsigned unwrapped;     /* scripts whose BEGIN … COMMIT were removed */
};

/* The readers: each fills ctx->migs in the tool's order and reports what
 * it cannot convert. 0, or -1 when DIR cannot be read as that tool's
 * layout at all (message printed). */
int imp_read_golang_migrate(struct imp_ctx *c);
int imp_read_dbmate(struct imp_ctx *c);
int imp_read_flyway(struct imp_ctx *c);
int imp_read_sqitch(struct imp_ctx *c);
int imp_read_goose(struct imp_ctx *c);
int imp_read_dir(struct imp_ctx *c);

/* Shared helpers (import.c). */
void imp_note(struct imp_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void imp_lost(struct imp_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void imp_ignored(struct imp_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct imp_migration *imp_new_migration(struct imp_ctx *c, const char *id, const char *base, const char *title);
struct imp_step *imp_new_step(struct imp_ctx *c, struct imp_migration *m);
/* Reads DIR/rel into the arena: NULL (and *why) when it is not a regular
 * file of at most 64 MiB or cannot be read. */
char *imp_read_file(struct imp_ctx *c, const char *rel, size_t *len, const char **why);
/* Whether DIR/rel is a regular file. */
bool imp_is_file(struct imp_ctx *c, const char *rel);
/* The regular files of DIR (recursive: with their relative paths), sorted
 * by byte value; hidden entries skipped. -1 when DIR cannot be read. */
int imp_list_files(struct imp_ctx *c, bool recursive, struct imp_strings *out);
/* Adds an up, down or verify text to a step. */
void imp_add_body(struct imp_ctx *c, struct imp_bodies *to, enum imp_dialect d, const char *sql, size_t len,
                  const char *origin);
/* Whether sql holds "${" outside comments (a Flyway placeholder, a goose
 * ENVSUB variable): those tools substitute text there, which mig never does. */
bool imp_has_placeholder(const char *sql, size_t len);
/* "postgres", "postgresql", "pg" → IMP_PG; "sqlite", "sqlite3" → IMP_SQLITE;
 * else -1. n is the length of word. */
int imp_dialect_word(const char *word, size_t n);

int mig_cmd_import(int argc, char **argv);

#endif
