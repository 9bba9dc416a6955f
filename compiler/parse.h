/* parse.h — turning one source text into a mig_file (grammar/lexer.l and
 * grammar/parser.y behind one call). */
#ifndef MIG_PARSE_H
#define MIG_PARSE_H
#include "ast.h"
#include "diag.h"

struct mig_loc {
    uint32_t start, end;
};

/* State shared by the lexer and the parser of one file. */
struct mig_parse {
    struct mig_arena *arena;        /* borrowed */
    struct mig_diags *diags;        /* borrowed */
    struct mig_source *src;         /* borrowed */
    struct mig_file *file;          /* being built */
    /* lexer */
    size_t pos;                     /* offset of the next unread byte */
    bool at_eof_error;              /* an unterminated body ate the rest */
    bool sql_sqlite;                /* the body being lexed is `sql sqlite` */
    /* parser: the containers being filled */
    struct mig_migration *mig;
    struct mig_phase *phase;
    struct mig_step *step;
    struct mig_fn *fn;
    bool seen_item;
};

/* Parses src into a new mig_file owned by the arena; syntax errors go to
 * diags. Never fails to return a file (possibly partial). */
struct mig_file *mig_parse_source(struct mig_arena *a, struct mig_diags *d,
                                  struct mig_source *src);

struct mig_span mig_span_of(const struct mig_parse *ps, struct mig_loc l);

#endif
