/* report.c — text and JSON output of migrun (see report.h). */
#include "report.h"
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *col(struct mig_report *r, const char *c)
{
    return r->color ? c : "";
}

static void emit(struct mig_report *r, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s)
        fprintf(r->out, "%s\n", s);
    free(s);
    json_decref(o);
}

void mig_report_flush(struct mig_report *r)
{
    fflush(r->out);
    fflush(r->err);
}

void mig_report_step(struct mig_report *r, const char *outcome, const char *m, const char *p, const char *s,
                     int64_t ms, int64_t rows, const char *note)
{
    if (r->json) {
        emit(r, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s?}", "event", "step", "outcome", outcome, "migration", m,
                          "phase", p, "step", s, "ms", (json_int_t)(ms < 0 ? 0 : ms), "rows", (json_int_t)rows,
                          "note", note));
        return;
    }
    if (r->quiet && strcmp(outcome, "failed") != 0)
        return;
    const char *c = strcmp(outcome, "applied") == 0 || strcmp(outcome, "undone") == 0 || strcmp(outcome, "ok") == 0
                  ? "\033[32m" : strcmp(outcome, "failed") == 0 || strcmp(outcome, "FAIL") == 0 ? "\033[1;31m"
                  : "\033[33m";
    if (r->qualified)
        fprintf(r->out, "  %s%-12s%s %s.%s.%s", col(r, c), outcome, col(r, "\033[0m"), m, p, s);
    else
        fprintf(r->out, "  %s%-12s%s %s.%s", col(r, c), outcome, col(r, "\033[0m"), p, s);
    if (ms >= 0)
        fprintf(r->out, "  %" PRId64 " ms", ms);
    if (rows > 0)
        fprintf(r->out, "  %" PRId64 " row%s", rows, rows == 1 ? "" : "s");
    if (note)
        fprintf(r->out, "  (%s)", note);
    fputc('\n', r->out);
}

void mig_report_migration(struct mig_report *r, const char *what, const char *name, const char *file, uint32_t line)
{
    if (r->json) {
        emit(r, json_pack("{s:s,s:s,s:s,s:s,s:i}", "event", "migration", "action", what, "migration", name, "file",
                          file, "line", (int)line));
        return;
    }
    if (r->quiet)
        return;
    fprintf(r->out, "%s%s%s %s (%s:%u)\n", col(r, "\033[1m"), what, col(r, "\033[0m"), name, file, line);
}

static void vreport(struct mig_report *r, const char *event, const char *prefix, const char *color, FILE *to,
                    const char *fmt, va_list ap)
{
    char buf[8192];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    if (r->json)
        emit(r, json_pack("{s:s,s:s}", "event", event, "message", buf));
    if (to == r->err) {
        fflush(r->out);     /* keep stdout and stderr in order */
        fprintf(to, "%s%s%s%s\n", col(r, color), prefix, col(r, "\033[0m"), buf);
        fflush(to);
    } else if (!r->json && !r->quiet) {
        fprintf(to, "%s\n", buf);
    }
}

void mig_report_note(struct mig_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(r, "note", "", "", r->out, fmt, ap);
    va_end(ap);
}

void mig_report_warning(struct mig_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(r, "warning", "warning: ", "\033[1;35m", r->err, fmt, ap);
    va_end(ap);
}

void mig_report_error(struct mig_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(r, "error", "error: ", "\033[1;31m", r->err, fmt, ap);
    va_end(ap);
}

void mig_report_detail(struct mig_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("  ", r->err);
    vfprintf(r->err, fmt, ap);
    fputc('\n', r->err);
    va_end(ap);
}

void mig_report_event(struct mig_report *r, const char *text, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (r->json) {
        json_error_t je;
        emit(r, json_vpack_ex(&je, 0, fmt, ap));
    } else if (text && !r->quiet) {
        fprintf(r->out, "%s\n", text);
    }
    va_end(ap);
}

void mig_report_line(struct mig_report *r, const char *fmt, ...)
{
    if (r->json || r->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->out, fmt, ap);
    va_end(ap);
    fputc('\n', r->out);
}
