/* report.h — the one sink for what migrun tells its user: text lines (with
 * colour on a TTY) or, with --json, one JSON object per line with an
 * `event` key. Every command reports through it, so text and JSON never
 * fork in the commands. Output is buffered; errors go to stderr (and, with
 * --json, also as an `error` event). */
#ifndef MIG_REPORT_H
#define MIG_REPORT_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct mig_report {
    FILE *out, *err;
    bool json, color;
    bool qualified;         /* step lines name their migration (no migration header above) */
    bool quiet;             /* text mode: only warnings and errors */
};

/* One step: outcome (applied, skipped, undone, failed, would apply, …),
 * its name, time (ms < 0: none), rows (<= 0: none) and a note (or NULL). */
void mig_report_step(struct mig_report *r, const char *outcome, const char *migration, const char *phase,
                     const char *step, int64_t ms, int64_t rows, const char *note);
/* A migration header: what (migration, would run) name (file:line). */
void mig_report_migration(struct mig_report *r, const char *what, const char *name, const char *file,
                          uint32_t line);
/* A sentence for the user (a `note` event). */
void mig_report_note(struct mig_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A warning: stderr as "warning: …" (a `warning` event). */
void mig_report_warning(struct mig_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An error: stderr as "error: …" (an `error` event). */
void mig_report_error(struct mig_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An indented detail line under an error, on stderr (SQLSTATE, detail, hint). */
void mig_report_detail(struct mig_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON event built from pairs of key and value: "k", "s:text" | "i:<int64>"
 * as a jansson format; text mode prints text (if not NULL) instead. */
void mig_report_event(struct mig_report *r, const char *text, const char *fmt, ...);
/* Text mode only: a raw line. */
void mig_report_line(struct mig_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mig_report_flush(struct mig_report *r);

#endif
