/* drivers.c — the driver registry: from a --db URL to the driver that owns
 * its scheme and a connection, and the masking of passwords in URLs (they
 * are never printed or journaled), with libpq's own parser. */
#include "driver.h"
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* ---- a growing string ------------------------------------------------------------------ */

struct sbuf {
    char *s;
    size_t n, cap;
    bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
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

static void sb_str(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static char *sb_done(struct sbuf *b)
{
    if (!b->oom && !b->s)
        sb_add(b, "", 0);
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    return b->s;
}

/* ---- masking ----------------------------------------------------------------------------- */

/* password, sslpassword, and whatever libpq marks as one ('*') or a later
 * libpq names so */
static bool secret_option(const PQconninfoOption *o)
{
    return (o->dispchar && o->dispchar[0] == '*') || strstr(o->keyword, "password") != NULL;
}

static bool is_uri(const char *url)
{
    return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

/* Without libpq's parse (it failed, or libpq reads the URL otherwise than
 * it was meant): marks what could be a password and prints the rest as it
 * is. Marked are the userinfo after its ':' up to the last '@' (a password
 * may hold unencoded '@', '/', '?' and '#'), and the value of any keyword
 * containing "password" (in a URI query up to '&'; in key=value text a
 * quoted value or up to a blank). Errs on the side of masking. */
static char *mask_raw(const char *url)
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
    struct sbuf b = { 0 };
    for (size_t i = 0; i < n;) {
        if (hide[i]) {
            sb_str(&b, "***");
            while (i < n && hide[i])
                i++;
        } else {
            size_t j = i;
            while (j < n && !hide[j])
                j++;
            sb_add(&b, url + i, j - i);
            i = j;
        }
    }
    free(hide);
    return sb_done(&b);
}

static const char *opt(const PQconninfoOption *opts, const char *key)
{
    for (const PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, key) == 0)
            return o->val;
    return NULL;
}

/* A value as displayed: a value holding a URL of its own is masked too. */
static void sb_value(struct sbuf *b, const char *v)
{
    char *m = strstr(v, "://") || strstr(v, "assword") ? mask_raw(v) : NULL;
    sb_str(b, m ? m : v);
    free(m);
}

/* The i-th item of a comma-separated list (libpq's host and port lists). */
static void sb_item(struct sbuf *b, const char *list, size_t i)
{
    for (; i && list; i--) {
        list = strchr(list, ',');
        if (list)
            list++;
    }
    if (list)
        sb_add(b, list, strcspn(list, ","));
}

static size_t count_items(const char *list)
{
    size_t k = list && *list ? 1 : 0;
    for (const char *p = list; p && *p; p++)
        k += *p == ',';
    return k;
}

/* libpq reads the URI otherwise than it was written: an unencoded '/' or
 * '@' in the password ends libpq's userinfo early, and the rest of the
 * password becomes the port, the host or the database name. */
static bool misread(const char *url, const PQconninfoOption *opts)
{
    if (!is_uri(url))
        return false;
    /* (libpq's userinfo ends at the first '@' or '/'; an '@' after it) */
    const char *auth = strstr(url, "://") + 3;
    const char *d = auth + strcspn(auth, "@/");
    if (!*d || !strchr(d + 1, '@'))
        return false;
    const char *port = opt(opts, "port"), *host = opt(opts, "host"), *db = opt(opts, "dbname");
    return (port && port[strspn(port, "0123456789,")]) || (host && strchr(host, '@')) || (db && strchr(db, '@'));
}

static void sb_quoted(struct sbuf *b, const char *v)
{
    if (*v && !v[strcspn(v, " \t\n\r\f\v'\\")]) {
        sb_value(b, v);
        return;
    }
    sb_str(b, "'");
    for (const char *p = v; *p; p++) {
        if (*p == '\'' || *p == '\\')
            sb_str(b, "\\");
        sb_add(b, p, 1);
    }
    sb_str(b, "'");
}

/* Rebuilt from libpq's parse: a URI as a URI, key=value text as such; every
 * secret option shown as ***. */
static char *mask_parsed(const char *url, const PQconninfoOption *opts)
{
    struct sbuf b = { 0 };
    bool uri = is_uri(url);
    const char *user = opt(opts, "user"), *pw = opt(opts, "password"), *host = opt(opts, "host"),
               *port = opt(opts, "port"), *db = opt(opts, "dbname");
    bool first = true;
    if (uri) {
        sb_add(&b, url, (size_t)(strstr(url, "://") + 3 - url));
        if (user) {
            sb_value(&b, user);
            if (pw)
                sb_str(&b, ":***");
            sb_str(&b, "@");
        }
        /* a socket folder goes to the query, as host=/path */
        bool host_in_query = host && strchr(host, '/');
        if (!host_in_query) {
            size_t nh = count_items(host), np = count_items(port), k = nh > np ? nh : np;
            for (size_t i = 0; i < k; i++) {
                if (i)
                    sb_str(&b, ",");
                struct sbuf h = { 0 };
                sb_item(&h, host, i);
                char *hs = sb_done(&h);
                bool v6 = hs && strchr(hs, ':');
                sb_str(&b, v6 ? "[" : "");
                sb_value(&b, hs ? hs : "");
                sb_str(&b, v6 ? "]" : "");
                free(hs);
                if (port && i < np) {
                    struct sbuf pb = { 0 };
                    sb_item(&pb, port, i);
                    char *ps = sb_done(&pb);
                    if (ps && *ps) {
                        sb_str(&b, ":");
                        sb_str(&b, ps);
                    }
                    free(ps);
                }
            }
        }
        if (db) {
            sb_str(&b, "/");
            sb_value(&b, db);
        }
        for (const PQconninfoOption *o = opts; o->keyword; o++) {
            if (!o->val)
                continue;
            const char *k = o->keyword;
            if (strcmp(k, "dbname") == 0 || strcmp(k, "user") == 0 ||
                (strcmp(k, "password") == 0 && user) ||
                ((strcmp(k, "host") == 0 || strcmp(k, "port") == 0) && !host_in_query))
                continue;
            sb_str(&b, first ? "?" : "&");
            first = false;
            sb_str(&b, k);
            sb_str(&b, "=");
            if (secret_option(o))
                sb_str(&b, "***");
            else
                sb_value(&b, o->val);
        }
        return sb_done(&b);
    }
    for (const PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (!first)
            sb_str(&b, " ");
        first = false;
        sb_str(&b, o->keyword);
        sb_str(&b, "=");
        if (secret_option(o))
            sb_str(&b, "***");
        else
            sb_quoted(&b, o->val);
    }
    return sb_done(&b);
}

char *mig_mask_url(const char *url)
{
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &why);
    PQfreemem(why);
    char *out = opts && !misread(url, opts) ? mask_parsed(url, opts) : mask_raw(url);
    PQconninfoFree(opts);
    return out;
}

unsigned mig_url_inspect(const char *url)
{
    unsigned flags = 0;
    if (mig_driver_for(url) == &mig_driver_sqlite)
        return 0;
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &why);
    PQfreemem(why);
    if (opts && misread(url, opts))
        flags |= MIG_URL_MISREAD | MIG_URL_PASSWORD;
    else if (opts) {
        for (const PQconninfoOption *o = opts; o->keyword; o++)
            if (o->val && *o->val && secret_option(o))
                flags |= MIG_URL_PASSWORD;
    } else {
        char *m = mask_raw(url);
        if (!m || strcmp(m, url) != 0)
            flags |= MIG_URL_PASSWORD;
        free(m);
    }
    PQconninfoFree(opts);
    return flags;
}

static const struct mig_driver *const drivers[] = { &mig_driver_sqlite, &mig_driver_pg };

/* libpq key=value text naming a service of pg_service.conf ("service=NAME",
 * "service=app dbname=x"): PostgreSQL, connected through libpq as it is
 * (postgresql://?service=NAME is a URI like any other). Other key=value
 * text stays unsupported. */
static bool pg_service_text(const char *url)
{
    if (!strstr(url, "service") || strstr(url, "://"))
        return false;
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &why);
    PQfreemem(why);
    const char *service = opts ? opt(opts, "service") : NULL;
    bool yes = service && *service;
    PQconninfoFree(opts);
    return yes;
}

const struct mig_driver *mig_driver_for(const char *url)
{
    for (size_t i = 0; i < sizeof(drivers) / sizeof(*drivers); i++)
        for (const char *const *s = drivers[i]->schemes; *s; s++)
            if (strncmp(url, *s, strlen(*s)) == 0)
                return drivers[i];
    if (pg_service_text(url))
        return &mig_driver_pg;
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
