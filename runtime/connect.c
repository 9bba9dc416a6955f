/* connect.c — from a --db URL to a driver connection, and the masking of
 * passwords in URLs (they are never printed or journaled). */
#include "driver.h"
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

int mig_connect(const char *url, int64_t busy_ms, struct mig_conn **out, char *err, size_t errlen)
{
    if (strncmp(url, "sqlite://", 9) == 0 || strncmp(url, "sqlite:", 7) == 0) {
        const char *path = url[7] == '/' && url[8] == '/' ? url + 9 : url + 7;
        if (!*path) {
            snprintf(err, errlen, "the SQLite URL '%s' names no file (use sqlite:PATH or sqlite:///ABS/PATH)", url);
            return -1;
        }
        return mig_sqlite_open(path, busy_ms, out, err, errlen);
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return mig_pg_open(url, out, err, errlen);
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
