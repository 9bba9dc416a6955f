/* url.c — a --db URL read without a driver: its dialect and a masking of
 * passwords that needs no libpq (see url.h). */
#include "url.h"
#include "lib/sbuf.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool mig_url_is_uri(const char *url)
{
    return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

/* Without libpq's parse (it failed, or libpq reads the URL otherwise than
 * it was meant): marks what could be a password and prints the rest as it
 * is. Marked are the userinfo after its ':' up to the last '@' (a password
 * may hold unencoded '@', '/', '?' and '#'), and the value of any keyword
 * containing "password" (in a URI query up to '&'; in key=value text a
 * quoted value or up to a blank). Errs on the side of masking. */
char *mig_mask_url_raw(const char *url)
{
    size_t n = strlen(url);
    char *hide = calloc(n + 1, 1);
    if (!hide)
        return NULL;
    const char *scheme = strstr(url, "://");
    if (scheme) {
        const char *auth = scheme + 3;
        const char *at = strrchr(auth, '@');
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon)
            memset(hide + (colon + 1 - url), 1, (size_t)(at - colon - 1));
    }
    for (size_t i = 0; i < n; i++) {
        size_t kw = i;
        if (i && !strchr("?& \t\n\r\f\v;", url[i - 1]))
            continue;
        size_t k = i;
        while (k < n && url[k] != '=' && url[k] != '&' && url[k] != ' ' && url[k] != '\t' && url[k] != '\n')
            k++;
        size_t e = k;
        while (e < n && (url[e] == ' ' || url[e] == '\t' || url[e] == '\n'))
            e++;
        if (e >= n || url[e] != '=')
            continue;
        bool secret = false;
        for (size_t q = kw; q + 8 <= k && !secret; q++)
            secret = strncasecmp(url + q, "password", 8) == 0;
        if (!secret)
            continue;
        size_t v = e + 1;
        if (!scheme)
            while (v < n && (url[v] == ' ' || url[v] == '\t' || url[v] == '\n'))
                v++;
        size_t w = v;
        if (scheme) {
            while (w < n && url[w] != '&')
                w++;
        } else if (w < n && url[w] == '\'') {
            for (w++; w < n && url[w] != '\''; w++)
                if (url[w] == '\\' && w + 1 < n)
                    w++;
            if (w < n)
                w++;
        } else {
            while (w < n && !strchr(" \t\n\r\f\v", url[w]))
                w++;
        }
        memset(hide + v, 1, w - v);
    }
    struct mig_sbuf b = { 0 };
    for (size_t i = 0; i < n;) {
        if (hide[i]) {
            mig_sb_str(&b, "***");
            while (i < n && hide[i])
                i++;
        } else {
            size_t j = i;
            while (j < n && !hide[j])
                j++;
            mig_sb_add(&b, url + i, j - i);
            i = j;
        }
    }
    free(hide);
    return mig_sb_done(&b);
}

/* libpq key=value text ("service=app dbname=x"): keywords of letters,
 * digits and '_', '=' with optional blanks around it, a value either quoted
 * ('…' with backslash escapes) or up to a blank. True when the whole text
 * reads so and names a non-empty service; libpq checks the keywords
 * themselves when it connects. */
static bool pg_service_text(const char *url)
{
    if (strstr(url, "://"))
        return false;
    bool service = false;
    const char *p = url;
    for (;;) {
        while (*p && strchr(" \t\n\r\f\v", *p))
            p++;
        if (!*p)
            return service;
        const char *k = p;
        while (*p && (*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            p++;
        size_t klen = (size_t)(p - k);
        while (*p && strchr(" \t\n\r\f\v", *p))
            p++;
        if (!klen || *p != '=')
            return false;
        p++;
        while (*p && strchr(" \t\n\r\f\v", *p))
            p++;
        size_t vlen = 0;
        if (*p == '\'') {
            for (p++; *p && *p != '\''; p++, vlen++)
                if (*p == '\\' && p[1])
                    p++;
            if (*p != '\'')
                return false;
            p++;
        } else {
            while (*p && !strchr(" \t\n\r\f\v", *p))
                p++, vlen++;
        }
        if (klen == 7 && strncmp(k, "service", 7) == 0)
            service = vlen > 0;
    }
}

enum mig_dialect mig_url_dialect(const char *url)
{
    if (strncmp(url, "sqlite:", 7) == 0)
        return MIG_D_SQLITE;
    if (mig_url_is_uri(url) || pg_service_text(url))
        return MIG_D_POSTGRES;
    return MIG_D_ANY;
}
