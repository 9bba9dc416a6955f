/* sqlnames.c — see sqlnames.h. */
#include "sqlnames.h"
#include "sqllex.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int is_word(const char *sql, const struct mig_sqltoken *t, const char *w)
{
    size_t n = t->end - t->start;
    return t->kind == SQLT_WORD && n == strlen(w) && strncasecmp(sql + t->start, w, n) == 0;
}

size_t mig_sql_created_indexes(const char *sql, char (*out)[256], size_t max)
{
    size_t len = strlen(sql), pos = 0, found = 0;
    struct mig_sqltoken tok[8];
    size_t ntok = 0;      /* code tokens of the statement so far (the first 8) */
    for (;;) {
        struct mig_sqltoken t;
        mig_sql_next(sql, pos, len, &t);
        if (t.kind == SQLT_EOF)
            break;
        pos = t.end;
        if (t.kind == SQLT_SEMI) {
            ntok = 0;
            continue;
        }
        if (!mig_sqltok_is_code(t.kind) || ntok >= 8)
            continue;
        tok[ntok++] = t;
        /* CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] name */
        size_t k = 0;
        if (!is_word(sql, &tok[k++], "create") || ntok < 3)
            continue;
        if (k < ntok && is_word(sql, &tok[k], "unique"))
            k++;
        if (k >= ntok || !is_word(sql, &tok[k++], "index"))
            continue;
        if (k < ntok && is_word(sql, &tok[k], "concurrently"))
            k++;
        if (k < ntok && is_word(sql, &tok[k], "if")) {
            if (ntok < k + 4)
                continue;
            k += 3;
        }
        if (k != ntok - 1 || is_word(sql, &tok[k], "on"))
            continue;   /* not yet at the name, or an index without a name */
        /* the name, with a schema prefix: name(.name)* */
        size_t start = tok[k].start, end = tok[k].end;
        size_t p2 = end;
        for (;;) {
            struct mig_sqltoken d, nm;
            mig_sql_next(sql, p2, len, &d);
            if (d.kind != SQLT_PUNCT || sql[d.start] != '.')
                break;
            mig_sql_next(sql, d.end, len, &nm);
            if (nm.kind != SQLT_WORD && nm.kind != SQLT_QIDENT)
                break;
            end = p2 = nm.end;
        }
        if (found < max)
            snprintf(out[found], 256, "%.*s", (int)(end - start), sql + start);
        found++;
        ntok = 8;   /* nothing more in this statement */
    }
    return found < max ? found : max;
}
