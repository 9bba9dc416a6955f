/* diag.h — diagnostics of one compilation: collected (never printed at the
 * first), sorted by file and position, rendered in one place. */
#ifndef MIG_DIAG_H
#define MIG_DIAG_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "source.h"

enum mig_severity { MIG_ERROR, MIG_WARNING };

struct mig_diag {
    enum mig_severity sev;
    uint32_t file;          /* source id, or UINT32_MAX for a message without a place */
    uint32_t start, end;    /* byte span in that source */
    const char *rule;       /* stable rule id, e.g. "syntax", "unknown-name" */
    const char *msg;        /* arena-owned */
    uint32_t seq;           /* report order, to keep sorting stable */
};

struct mig_diags {
    struct mig_sources *sources;    /* borrowed */
    MIG_VEC(struct mig_diag) v;
    unsigned errors, warnings;
    unsigned fatal;     /* errors after which the AST is incomplete (syntax,
                           missing imports): later passes would only cascade */
};

void mig_diag(struct mig_diags *d, enum mig_severity sev, uint32_t file,
              uint32_t start, uint32_t end, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
void mig_diags_sort(struct mig_diags *d);
/* gcc/clang style: "file:line:col: error: message [rule]", source line, caret. */
void mig_diags_print_text(struct mig_diags *d, FILE *out, bool color);
/* {"version":1,"diagnostics":[{file,line,column,end_line,end_column,severity,rule,message}],...} */
void mig_diags_print_json(struct mig_diags *d, FILE *out);
struct mig_rule;
/* SARIF 2.1.0 with the rules' metadata, for code-scanning UIs. */
void mig_diags_print_sarif(struct mig_diags *d, FILE *out, const struct mig_rule *rules, const char *version);

#endif
