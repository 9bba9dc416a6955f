/* sbuf.c — a growing string (see sbuf.h). */
#include "sbuf.h"
#include <stdlib.h>
#include <string.h>

void mig_sb_add(struct mig_sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 64) + n;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void mig_sb_str(struct mig_sbuf *b, const char *s) { mig_sb_add(b, s, strlen(s)); }

char *mig_sb_done(struct mig_sbuf *b)
{
    if (!b->oom && !b->s)
        mig_sb_add(b, "", 0);
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    return b->s;
}
