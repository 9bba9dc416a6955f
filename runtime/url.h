/* url.h — what can be read of a --db URL without a driver or libpq: its
 * dialect (by scheme, or libpq key=value text naming a service) and a
 * conservative masking of passwords. migc uses only this part, so it links
 * neither libpq nor SQLite; migrun's drivers.c adds libpq's own parse. */
#ifndef MIG_URL_H
#define MIG_URL_H
#include <stdbool.h>
#include <stddef.h>
#include "plan.h"

/* MIG_D_SQLITE for sqlite:…, MIG_D_POSTGRES for postgres://, postgresql://
 * or key=value text with a non-empty service, else MIG_D_ANY (unsupported). */
enum mig_dialect mig_url_dialect(const char *url);

/* postgres:// or postgresql:// */
bool mig_url_is_uri(const char *url);

/* The URL with whatever could be a password replaced by "***", without
 * libpq's parse: errs on the side of masking. Malloc'd (NULL: no memory). */
char *mig_mask_url_raw(const char *url);

#endif
