/* drivers.c — the driver registry: from a --db URL to the driver that owns
 * its scheme and a connection, and the masking of
 * passwords in URLs (they are never printed or journaled). */
#include "driver.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *mig_mask_url(const char *url)
{
    size_t n = strlen(url);
    char *out = malloc(n + 4);
    if (!out)
        return NULL;
    const char *scheme = strstr(url, "://");
    size_t k = 0, i = 0;
    if (scheme) {
        const char *auth = scheme + 3;
        const char *end = auth + strcspn(auth, "/?#");
        const char *at = NULL;
        for (const char *q = auth; q < end; q++)
            if (*q == '@')
                at = q;
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon) {
            memcpy(out, url, (size_t)(colon + 1 - url));
            k = (size_t)(colon + 1 - url);
            memcpy(out + k, "***", 3);
            k += 3;
            i = (size_t)(at - url);
        }
    }
    /* password=… in a query string or a key=value connection string */
    while (i < n) {
        if (strncmp(url + i, "password=", 9) == 0 && (i == 0 || strchr("?&; ", url[i - 1]))) {
            memcpy(out + k, "password=***", 12);
            k += 12;
            i += 9;
            while (i < n && url[i] != '&' && url[i] != ' ' && url[i] != ';')
                i++;
            continue;
        }
        out[k++] = url[i++];
    }
    out[k] = 0;
    return out;
}

static const struct mig_driver *const drivers[] = { &mig_driver_sqlite, &mig_driver_pg };

const struct mig_driver *mig_driver_for(const char *url)
{
    for (size_t i = 0; i < sizeof(drivers) / sizeof(*drivers); i++)
        for (const char *const *s = drivers[i]->schemes; *s; s++)
            if (strncmp(url, *s, strlen(*s)) == 0)
                return drivers[i];
    return NULL;
}

int mig_connect(const char *url, const struct mig_open_opts *o, struct mig_conn **out, char *err, size_t errlen,
                bool *usage)
{
    const struct mig_driver *d = mig_driver_for(url);
    if (usage)
        *usage = d == NULL;
    if (d)
        return d->open(url, o, out, err, errlen);
    char *masked = mig_mask_url(url);
    snprintf(err, errlen, "unsupported database URL '%s' (expected sqlite:PATH, sqlite:///ABS/PATH, "
             "postgres://… or postgresql://…)", masked ? masked : "?");
    free(masked);
    return -1;
}

void mig_disconnect(struct mig_conn *c)
{
    if (c)
        c->drv->close(c);
}
