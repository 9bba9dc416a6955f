/* fmt.h — the canonical layout of .mig text (migc fmt). */
#ifndef MIG_FMT_H
#define MIG_FMT_H
#include <stddef.h>

/* Formats src; *out is malloc'd. -1 when the text cannot be tokenised
 * (callers parse it first and report real diagnostics). */
int mig_format(const char *src, size_t len, char **out, size_t *outlen);

#endif
