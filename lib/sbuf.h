/* sbuf.h — a growing string, always NUL-terminated; out of memory is
 * remembered (oom) and reported once at the end: mig_sb_done gives the
 * malloc'd text, or NULL (the text freed) when memory ran out. */
#ifndef MIG_SBUF_H
#define MIG_SBUF_H
#include <stdbool.h>
#include <stddef.h>

struct mig_sbuf {
    char *s;
    size_t n, cap;
    bool oom;
};
void mig_sb_add(struct mig_sbuf *b, const char *s, size_t n);
void mig_sb_str(struct mig_sbuf *b, const char *s);
char *mig_sb_done(struct mig_sbuf *b);

#endif
