/* plan.h — a compiled plan in memory: what codegen builds, what a .migb
 * file holds, what the loader verifies and the VM runs. Everything is owned
 * by the plan's arena (mig_plan_free). Indexes refer to the tables here;
 * MIG_NONE marks an absent optional index. */
#ifndef MIG_PLAN_H
#define MIG_PLAN_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "lib/arena.h"

#define MIG_NONE UINT32_MAX
/* 2: exec actions and expressions, down none/optional/restores, polling,
 * float values, the string and version builtins. A file of another
 * version is refused (naming both versions): compile the sources again. */
#define MIG_FORMAT_VERSION 2
/* A .migb file starts with: magic "MIGB", format version (u32), flags (u32),
 * total size (u64), SHA-256 of every byte after the header; all little-endian. */
#define MIG_MIGB_HEADER (4 + 4 + 4 + 8 + 32)

/* Shared by the compiler and the runtime: values of these enums are stored
 * in .migb files, so they never change. */
enum mig_dialect { MIG_D_ANY = 0, MIG_D_POSTGRES = 1, MIG_D_SQLITE = 2 };
enum mig_txn { MIG_TXN_DEFAULT, MIG_TXN_PHASE, MIG_TXN_STEP, MIG_TXN_NONE };
enum mig_builtin {
    MIG_B_NONE, MIG_B_DIALECT, MIG_B_SERVER_VERSION, MIG_B_ENV, MIG_B_INT,
    MIG_B_STRING, MIG_B_IS_NULL, MIG_B_FLOAT, MIG_B_VERSION_CMP, MIG_B_MATCHES,
    MIG_B_TRIM, MIG_B_LOWER, MIG_B_UPPER, MIG_B__COUNT
};
/* Arity of each builtin: min and max arguments. */
extern const uint8_t mig_builtin_arity[MIG_B__COUNT][2];
extern const char *const mig_builtin_name[MIG_B__COUNT];

enum mig_vtype { MIG_V_NULL, MIG_V_INT, MIG_V_STRING, MIG_V_BOOL, MIG_V_DURATION, MIG_V_FLOAT, MIG_V__COUNT };

struct mig_value {
    enum mig_vtype t;
    int64_t i;              /* INT, BOOL (0/1), DURATION (ms); FLOAT: the bits of a finite
                               double (mig_vfloat, mig_vmkfloat), so in .migb too */
    const char *s;          /* STRING: NUL-terminated; owned by whoever made the value */
    uint32_t n;             /* STRING: length */
};

const char *mig_vtype_name(enum mig_vtype t);
/* The double of a FLOAT value, and a FLOAT value of a double. */
static inline double mig_vfloat(const struct mig_value *v)
{
    double d;
    memcpy(&d, &v->i, sizeof(d));
    return d;
}
static inline struct mig_value mig_vmkfloat(double d)
{
    struct mig_value v = { MIG_V_FLOAT, 0, NULL, 0 };
    memcpy(&v.i, &d, sizeof(d));
    return v;
}

enum mig_varkind { MIG_VAR_GLOBAL, MIG_VAR_SLOT, MIG_VAR_ARG };

struct mig_pinterp {        /* one ${…} of a SQL template */
    uint32_t off, len;      /* in the template text */
    uint8_t mode;           /* enum mig_interp_mode */
    uint8_t kind;           /* enum mig_varkind */
    uint32_t index;
    uint32_t name;          /* string: the name, for messages */
};

struct mig_pvariant {       /* one dialect's SQL of an action or query */
    uint8_t dialect;        /* enum mig_dialect; 0 = any */
    uint32_t text;          /* string: the SQL exactly as written */
    uint32_t ninterps;
    struct mig_pinterp *interps;
    uint8_t sha256[32];     /* of the text bytes (the checksum of DESIGN.md) */
    uint32_t file, line;    /* where the text starts (string, 1-based line) */
};

struct mig_pquery {         /* an up, a down, or an exists/scalar query */
    uint32_t nvariants;
    struct mig_pvariant *v;
};

enum mig_checkkind { MIG_CHECK_REQUIRE, MIG_CHECK_VERIFY, MIG_CHECK_ASSERT };

struct mig_pcheck {         /* a require, verify or assert */
    uint8_t kind;
    uint32_t msg;           /* string or MIG_NONE */
    uint32_t text;          /* string: the condition's source text */
    uint32_t file, line;
    /* `within D [every E]`: the condition is the block poll_block (a
     * MIG_BLOCK_POLL of the check's migration, ending in RET), which the
     * POLL op runs until it is true or D has passed since the first try;
     * tries start every_ms apart. MIG_NONE and 0, 0 without a poll. */
    uint32_t poll_block;
    int64_t within_ms, every_ms;
};

/* One command: the up or down of a step (an exec action), or an `exec` /
 * `output exec` expression. Its values are, in this order, the argv
 * elements, the env { … } values and the cwd: an action's block (a
 * MIG_BLOCK_EXEC of the step's migration) computes them and ends in ARGS;
 * an expression computes them inline before its EXEC or OUTPUT_EXEC op. */
struct mig_pexec {
    uint32_t block;         /* MIG_BLOCK_EXEC block (actions), MIG_NONE (expressions) */
    uint32_t nargv;         /* at least 1 */
    uint32_t *argv_text;    /* strings: each argv element's expression as written */
    uint32_t nenv;
    uint32_t *env_names;    /* strings: the env { NAME = … } names, in order */
    uint8_t has_cwd;
    uint8_t output;         /* an `output exec` expression */
    int64_t timeout_ms;     /* 0: none */
    uint32_t file, line;    /* where `exec` is written */
    uint8_t sha256[32];     /* of its source text from `exec` to its last option, comments and
                               layout removed (strings as written; one space between two word
                               characters), so re-indenting never changes it: an exec up's
                               checksum, as a SQL up's is its body's */
};

/* What a step's up and down are (values stored in .migb files). */
enum mig_action_kind { MIG_ACTION_SQL = 0, MIG_ACTION_EXEC = 1 };
enum mig_down_kind {
    MIG_DOWN_SQL = 0,           /* down sql …: the query `down` */
    MIG_DOWN_EXEC = 1,          /* down exec …: the exec `down_exec` */
    MIG_DOWN_IRREVERSIBLE = 2,  /* down irreversible "why": `irreversible` */
    MIG_DOWN_NONE = 3,          /* down none "why": nothing to undo; `none_reason` */
};
/* Flags of a SQL or exec down (down_flags). */
#define MIG_DOWN_OPTIONAL 1u    /* a failure of this down is reported and the rollback goes on */
#define MIG_DOWN_RESTORES 2u    /* this down restores the database as it was before the step */

struct mig_pstep {
    uint32_t name, title;   /* strings (title MIG_NONE) */
    uint32_t migration, phase;
    uint32_t file, line;
    uint32_t up, down;      /* queries, or MIG_NONE when that half is not SQL */
    uint32_t irreversible;  /* string: the reason, or MIG_NONE */
    uint8_t batch;
    int64_t batch_max;      /* 0: until no rows change */
    uint8_t up_kind;        /* enum mig_action_kind */
    uint8_t down_kind;      /* enum mig_down_kind */
    uint8_t down_flags;     /* MIG_DOWN_OPTIONAL | MIG_DOWN_RESTORES (SQL and exec downs only) */
    uint32_t up_exec, down_exec;    /* execs, or MIG_NONE when that half is not exec */
    uint32_t none_reason;   /* string: the reason of `down none`, or MIG_NONE */
};

struct mig_pphase {
    uint32_t name, title;
    uint32_t migration;
    uint32_t file, line;
    uint8_t txn;            /* enum mig_txn (DEFAULT means phase) */
    uint8_t implicit;
    int64_t timeout_ms, lock_timeout_ms, retry, retry_every_ms;
    uint32_t first_step, nsteps;
};

struct mig_ptarget {
    uint8_t dialect;
    int64_t min_version;
};

struct mig_pparam {
    uint32_t name;
    uint8_t type;           /* enum mig_vtype */
    uint32_t slot;
};

enum mig_blockkind {
    MIG_BLOCK_FN, MIG_BLOCK_GLOBALS, MIG_BLOCK_PROLOGUE, MIG_BLOCK_BODY,
    MIG_BLOCK_EXEC,         /* the values of an exec action (ends in ARGS) */
    MIG_BLOCK_POLL,         /* a polled condition (ends in RET) */
};

struct mig_pblock {
    uint8_t kind;
    uint32_t owner;         /* fn index; migration index (prologue, body, exec, poll) */
    uint32_t start, end;    /* code words [start, end) */
    uint32_t max_stack;     /* computed by the verifier */
};

struct mig_pmigration {
    uint32_t name, title, file, line;
    uint32_t ntargets;
    struct mig_ptarget *targets;
    uint32_t nafter;
    uint32_t *after;        /* strings */
    uint32_t nparams;
    struct mig_pparam *params;
    uint32_t nslots;        /* params then lets */
    uint32_t prologue, body;    /* blocks */
    uint32_t first_phase, nphases;
};

struct mig_pfn {
    uint32_t name;          /* string, qualified ("std.table_exists") */
    uint32_t nparams;
    uint32_t block;
};

struct mig_pline {          /* from addr on, code comes from file:line */
    uint32_t addr, file, line;
};

struct mig_plan {
    struct mig_arena arena;
    uint32_t nstrings;
    const char **strings;   /* NUL-terminated */
    uint32_t *string_len;
    uint32_t nconsts;
    struct mig_value *consts;
    uint32_t nqueries;
    struct mig_pquery *queries;
    uint32_t nchecks;
    struct mig_pcheck *checks;
    uint32_t nexecs;
    struct mig_pexec *execs;
    uint32_t nfns;
    struct mig_pfn *fns;
    uint32_t nglobals;
    uint32_t *global_names; /* strings */
    uint32_t globals_block;
    uint32_t nmigrations;   /* in run order */
    struct mig_pmigration *migrations;
    uint32_t nphases;
    struct mig_pphase *phases;
    uint32_t nsteps;
    struct mig_pstep *steps;
    uint32_t nblocks;
    struct mig_pblock *blocks;
    uint32_t ncode;
    uint32_t *code;
    uint32_t nlines;
    struct mig_pline *lines;
};

void mig_plan_free(struct mig_plan *p);
const char *mig_plan_str(const struct mig_plan *p, uint32_t s);  /* "" for MIG_NONE */
/* The source line of the instruction at addr (0 when unknown). */
void mig_plan_line(const struct mig_plan *p, uint32_t addr, const char **file, uint32_t *line);
/* The variant of a query for a dialect (its own, else the one without a
 * dialect), or NULL. */
const struct mig_pvariant *mig_plan_variant(const struct mig_plan *p, uint32_t query, int dialect);

/* ---- steps and commands -------------------------------------------------------- */

/* Whether a step's up is SQL (the query s->up) or a command (the exec s->up_exec). */
static inline enum mig_action_kind mig_pstep_up_kind(const struct mig_pstep *s)
{
    return (enum mig_action_kind)s->up_kind;
}
/* What a step's down is: SQL (s->down), a command (s->down_exec), irreversible
 * (s->irreversible: the reason) or nothing to undo (s->none_reason). */
static inline enum mig_down_kind mig_pstep_down_kind(const struct mig_pstep *s)
{
    return (enum mig_down_kind)s->down_kind;
}
/* `down … optional`: when the down fails in a rollback, report it and go on. */
static inline bool mig_pstep_optional(const struct mig_pstep *s)
{
    return (s->down_flags & MIG_DOWN_OPTIONAL) != 0;
}
/* `down … restores`: the down brings back the database as it was before the
 * step; a rollback reaching it replaces the downs of the database steps
 * applied after it in the same run. */
static inline bool mig_pstep_restores(const struct mig_pstep *s)
{
    return (s->down_flags & MIG_DOWN_RESTORES) != 0;
}
/* The reason of `down none "why"`, or NULL for any other down. */
const char *mig_pstep_none_reason(const struct mig_plan *p, const struct mig_pstep *s);
/* Whether a step runs a command in its up or its down. */
static inline bool mig_pstep_has_exec(const struct mig_pstep *s)
{
    return s->up_kind == MIG_ACTION_EXEC || s->down_kind == MIG_DOWN_EXEC;
}
/* Whether the plan holds any command (an exec action, or an exec / output
 * exec expression anywhere, functions included): such a plan needs
 * --allow-exec. plan->execs lists them all, with file and line. */
static inline bool mig_plan_has_exec(const struct mig_plan *p)
{
    return p->nexecs > 0;
}
/* The argv of an exec as written, on one line: ["pg_dump", "--file", dir + "/x"]
 * (each element's source text), then its options: ` timeout 30s env {A, B}
 * cwd` (env names only: values may be secrets). Malloc'd; the caller frees it. */
char *mig_pexec_text(const struct mig_plan *p, uint32_t exec);

/* Serialises the plan (.migb). Returns a malloc'd buffer (the caller frees
 * it) and its size. Defined in compiler/bytecode_write.c (libmigfront): the
 * runtime only loads plans. */
unsigned char *mig_plan_write(const struct mig_plan *p, size_t *size);
/* Loads and verifies a .migb image. NULL on any problem, with a message. */
struct mig_plan *mig_plan_load(const unsigned char *buf, size_t size, char *err, size_t errlen);
/* The same from an open file of size bytes (fstat), read 64 KiB at a time
 * and hashed as it is read: the bytes are never all in memory. */
struct mig_plan *mig_plan_load_file(FILE *f, size_t size, char *err, size_t errlen);
/* Verifies a plan (bounds, blocks, jumps, stack depth); 0 or -1 with err. */
int mig_plan_verify(struct mig_plan *p, char *err, size_t errlen);
/* EXPLAIN-style listing. */
void mig_plan_disasm(const struct mig_plan *p, FILE *out);

#endif
