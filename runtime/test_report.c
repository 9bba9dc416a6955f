/* test_report.c — the results of migrun test: lines or JSON events as the
 * test goes, the summary, and the JUnit document (see test_report.h). */
#include "test_report.h"
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *dup(struct mig_arena *a, const char *s)
{
    return s ? mig_arena_strdup(a, s) : NULL;
}

/* A definition on one line: newlines and runs of spaces become one space. */
static const char *one_line(struct mig_arena *a, const char *s)
{
    if (!s)
        return NULL;
    char *out = mig_arena_alloc(a, strlen(s) + 1);
    size_t k = 0;
    bool space = false;
    for (const char *p = s; *p; p++) {
        bool ws = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';
        if (ws) {
            space = k > 0;
            continue;
        }
        if (space)
            out[k++] = ' ';
        space = false;
        out[k++] = *p;
    }
    out[k] = 0;
    return out;
}

static const char *kind_name(enum mig_diff_kind k)
{
    return k == MIG_DIFF_LEFT ? "left behind" : k == MIG_DIFF_LOST ? "lost" : "changed";
}

/* The lines of a failure, for the text output and the JUnit body. */
static char *failure_text(struct mig_arena *a, const struct mig_test_result *r, const char *indent)
{
    char *t = mig_arena_strdup(a, "");
    for (size_t i = 0; i < r->ndiffs; i++) {
        const struct mig_diff *d = &r->diffs[i];
        const char *b = one_line(a, d->before), *f = one_line(a, d->after);
        if (d->kind == MIG_DIFF_LEFT)
            t = mig_arena_printf(a, "%s%sleft behind by the down: %s%s%s\n", t, indent, d->key, *f ? ": " : "", f);
        else if (d->kind == MIG_DIFF_LOST)
            t = mig_arena_printf(a, "%s%slost (was there before the up): %s%s%s\n", t, indent, d->key, *b ? ": " : "",
                                 b);
        else
            t = mig_arena_printf(a, "%s%snot restored by the down: %s\n%s    before the up:  %s\n%s    after the down: "
                                 "%s\n", t, indent, d->key, indent, *b ? b : "(nothing)", indent, *f ? f : "(nothing)");
    }
    if (r->error)
        t = mig_arena_printf(a, "%s%s%s failed: %s\n", t, indent, r->error_what ? r->error_what : "it", r->error);
    return t;
}

void mig_test_log_add(struct mig_test_log *l, struct mig_report *rep, bool junit, const struct mig_test_result *r)
{
    struct mig_arena *a = &l->a;
    struct mig_test_result c = *r;
    c.migration = dup(a, r->migration);
    c.phase = dup(a, r->phase);
    c.step = dup(a, r->step);
    c.file = dup(a, r->file);
    c.reason = dup(a, r->reason);
    c.error = one_line(a, r->error);
    c.error_what = dup(a, r->error_what);
    struct mig_diff *d = r->ndiffs ? mig_arena_alloc(a, r->ndiffs * sizeof(*d)) : NULL;
    for (size_t i = 0; i < r->ndiffs; i++) {
        d[i].kind = r->diffs[i].kind;
        d[i].key = dup(a, r->diffs[i].key);
        d[i].before = dup(a, r->diffs[i].before);
        d[i].after = dup(a, r->diffs[i].after);
    }
    c.diffs = d;
    MIG_PUSH(a, l->v, c);
    if (strcmp(c.outcome, "ok") == 0)
        l->ok++;
    else if (strcmp(c.outcome, "failed") == 0)
        l->failed++;
    else if (strcmp(c.outcome, "skipped") == 0)
        l->skipped++;
    else
        l->untested++;
    l->irreversible += strcmp(c.outcome, "irreversible") == 0;
    (void)junit;    /* (--format junit: the lines go to rep, on standard error) */
    if (rep->json) {
        mig_report_event(rep, NULL, "{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:s?,s:s?,s:s?}", "event", "step", "outcome",
                         c.outcome, "migration", c.migration, "phase", c.phase, "step", c.step, "file", c.file, "line",
                         (int)c.line, "ms", (json_int_t)c.ms, "note", c.reason, "error", c.error, "failed",
                         c.error ? c.error_what : NULL);
        for (size_t i = 0; i < c.ndiffs; i++)
            mig_report_event(rep, NULL, "{s:s,s:s,s:s,s:s,s:s,s:s,s:s?,s:s?}", "event", "difference", "migration",
                             c.migration, "phase", c.phase, "step", c.step, "kind", kind_name(d[i].kind), "object",
                             d[i].key, "before", d[i].before, "after", d[i].after);
        return;
    }
    mig_report_step(rep, strcmp(c.outcome, "failed") == 0 ? "FAIL" : c.outcome, c.migration, c.phase, c.step, -1, 0,
                    c.reason);
    if (c.error || c.ndiffs) {
        struct mig_arena tmp = { 0 };
        char *t = failure_text(&tmp, &c, "      ");
        size_t n = strlen(t);
        if (n && t[n - 1] == '\n')
            t[n - 1] = 0;
        mig_report_line(rep, "%s", t);
        mig_arena_free(&tmp);
    }
}

void mig_test_log_summary(struct mig_test_log *l, struct mig_report *rep, const char *stopped, unsigned not_reached,
                          int64_t ms)
{
    struct mig_arena *a = &l->a;
    bool pass = l->failed == 0 && !stopped;
    char *failed_list = NULL, *untested_list = NULL;
    json_t *jf = json_array(), *ju = json_array();
    for (size_t i = 0; i < l->v.n; i++) {
        const struct mig_test_result *r = &l->v.v[i];
        const char *name = mig_arena_printf(a, "%s.%s.%s", r->migration, r->phase, r->step);
        if (strcmp(r->outcome, "failed") == 0) {
            failed_list = failed_list ? mig_arena_printf(a, "%s, %s", failed_list, name) : (char *)name;
            json_array_append_new(jf, json_string(name));
        } else if (strcmp(r->outcome, "untested") == 0 || strcmp(r->outcome, "irreversible") == 0) {
            const char *item = mig_arena_printf(a, "%s: %s", name, r->reason ? r->reason : r->outcome);
            untested_list = untested_list ? mig_arena_printf(a, "%s; %s", untested_list, item) : (char *)item;
            json_array_append_new(ju, json_pack("{s:s,s:s}", "step", name, "reason", r->reason ? r->reason : ""));
        }
    }
    char *text = mig_arena_printf(a, "%s: %u pair%s invert%s, %u do%s not%s%s%s, %u untested%s%s%s%s",
                                  pass ? "passed" : "failed", l->ok, l->ok == 1 ? "" : "s", l->ok == 1 ? "s" : "",
                                  l->failed, l->failed == 1 ? "es" : "", failed_list ? " (" : "",
                                  failed_list ? failed_list : "", failed_list ? ")" : "", l->untested,
                                  untested_list ? " (" : "", untested_list ? untested_list : "",
                                  untested_list ? ")" : "",
                                  l->skipped ? mig_arena_printf(a, ", %u skipped by their guards", l->skipped) : "");
    if (stopped)
        text = mig_arena_printf(a, "%s\nstopped early: %s; %u step%s %s not reached", text, stopped, not_reached,
                                not_reached == 1 ? "" : "s", not_reached == 1 ? "was" : "were");
    mig_report_event(rep, text, "{s:s,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:s?,s:I,s:I}", "event", "done", "ok",
                     (json_int_t)l->ok, "failed", (json_int_t)l->failed, "untested", (json_int_t)l->untested,
                     "irreversible", (json_int_t)l->irreversible, "skipped", (json_int_t)l->skipped, "failed_steps", jf,
                     "untested_steps", ju, "stopped", stopped, "not_reached", (json_int_t)not_reached, "ms",
                     (json_int_t)ms);
    if (!rep->json) {   /* (the event took them only in JSON) */
        json_decref(jf);
        json_decref(ju);
    }
}

static void xml(FILE *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        default:
            if (*p < 0x20 && *p != '\n' && *p != '\t')
                fputc('?', out);
            else
                fputc(*p, out);
        }
    }
}

void mig_test_log_junit(struct mig_test_log *l, FILE *out, const char *stopped, int64_t ms)
{
    struct mig_arena tmp = { 0 };
    unsigned skipped = l->untested + l->skipped;
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"migrun test\" tests=\"%zu\" "
            "failures=\"%u\" errors=\"%u\" skipped=\"%u\" time=\"%.3f\">\n", l->v.n, l->failed, stopped ? 1u : 0u,
            skipped, (double)ms / 1000.0);
    for (size_t i = 0; i < l->v.n;) {
        size_t j = i;
        unsigned f = 0, s = 0;
        int64_t t = 0;
        while (j < l->v.n && strcmp(l->v.v[j].migration, l->v.v[i].migration) == 0) {
            f += strcmp(l->v.v[j].outcome, "failed") == 0;
            s += strcmp(l->v.v[j].outcome, "ok") != 0 && strcmp(l->v.v[j].outcome, "failed") != 0;
            t += l->v.v[j].ms;
            j++;
        }
        fputs("  <testsuite name=\"", out);
        xml(out, l->v.v[i].migration);
        fprintf(out, "\" tests=\"%zu\" failures=\"%u\" errors=\"0\" skipped=\"%u\" time=\"%.3f\">\n", j - i, f, s,
                (double)t / 1000.0);
        for (size_t k = i; k < j; k++) {
            const struct mig_test_result *r = &l->v.v[k];
            fputs("    <testcase classname=\"", out);
            xml(out, r->migration);
            fputs("\" name=\"", out);
            xml(out, mig_arena_printf(&tmp, "%s.%s", r->phase, r->step));
            fputs("\" file=\"", out);
            xml(out, r->file);
            fprintf(out, "\" line=\"%u\" time=\"%.3f\"", r->line, (double)r->ms / 1000.0);
            if (strcmp(r->outcome, "ok") == 0) {
                fputs("/>\n", out);
                continue;
            }
            fputs(">\n", out);
            if (strcmp(r->outcome, "failed") == 0) {
                fputs("      <failure type=\"pair\" message=\"", out);
                xml(out, r->reason);
                fputs("\">", out);
                xml(out, failure_text(&tmp, r, ""));
                fputs("</failure>\n", out);
            } else {
                fputs("      <skipped message=\"", out);
                xml(out, mig_arena_printf(&tmp, "%s: %s", r->outcome, r->reason ? r->reason : ""));
                fputs("\"/>\n", out);
            }
            fputs("    </testcase>\n", out);
        }
        fputs("  </testsuite>\n", out);
        i = j;
    }
    if (stopped) {
        fputs("  <testsuite name=\"migrun test\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n"
              "    <testcase classname=\"migrun test\" name=\"the whole history\">\n      <error message=\"", out);
        xml(out, stopped);
        fputs("\"/>\n    </testcase>\n  </testsuite>\n", out);
    }
    fputs("</testsuites>\n", out);
    fflush(out);
    mig_arena_free(&tmp);
}

void mig_test_log_free(struct mig_test_log *l)
{
    mig_arena_free(&l->a);
    memset(l, 0, sizeof(*l));
}
