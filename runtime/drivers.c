/* drivers.c — the driver registry: from a --db URL to the driver that owns
 * its scheme and a connection, and the masking of passwords in URLs (they
 * are never printed or journaled), with libpq's own parser. */
#include "driver.h"
#include "url.h"
#include "lib/sbuf.h"
#include "pq.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
/* ---- masking ----------------------------------------------------------------------------- */

/* password, sslpassword, and whatever libpq marks as one ('*') or a later
 * libpq names so */
static bool secret_option(const PQconninfoOption *o)
{
    return (o->dispchar && o->dispchar[0] == '*') || strstr(o->keyword, "password") != NULL;
}



static const char *opt(const PQconninfoOption *opts, const char *key)
{
    for (const PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, key) == 0)
            return o->val;
    return NULL;
}

/* A value as displayed: a value holding a URL of its own is masked too. */
static void sb_value(struct mig_sbuf *b, const char *v)
{
    char *m = strstr(v, "://") || strstr(v, "assword") ? mig_mask_url_raw(v) : NULL;
    mig_sb_str(b, m ? m : v);
    free(m);
}

/* The i-th item of a comma-separated list (libpq's host and port lists). */
static void sb_item(struct mig_sbuf *b, const char *list, size_t i)
{
    for (; i && list; i--) {
        list = strchr(list, ',');
        if (list)
            list++;
    }
    if (list)
        mig_sb_add(b, list, strcspn(list, ","));
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
    if (!mig_url_is_uri(url))
        return false;
    /* (libpq's userinfo ends at the first '@' or '/'; an '@' after it) */
    const char *auth = strstr(url, "://") + 3;
    const char *d = auth + strcspn(auth, "@/");
    if (!*d || !strchr(d + 1, '@'))
        return false;
    const char *port = opt(opts, "port"), *host = opt(opts, "host"), *db = opt(opts, "dbname");
    return (port && port[strspn(port, "0123456789,")]) || (host && strchr(host, '@')) || (db && strchr(db, '@'));
}

static void sb_quoted(struct mig_sbuf *b, const char *v)
{
    if (*v && !v[strcspn(v, " \t\n\r\f\v'\\")]) {
        sb_value(b, v);
        return;
    }
    mig_sb_str(b, "'");
    for (const char *p = v; *p; p++) {
        if (*p == '\'' || *p == '\\')
            mig_sb_str(b, "\\");
        mig_sb_add(b, p, 1);
    }
    mig_sb_str(b, "'");
}

/* Rebuilt from libpq's parse: a URI as a URI, key=value text as such; every
 * secret option shown as ***. */
static char *mask_parsed(const char *url, const PQconninfoOption *opts)
{
    struct mig_sbuf b = { 0 };
    bool uri = mig_url_is_uri(url);
    const char *user = opt(opts, "user"), *pw = opt(opts, "password"), *host = opt(opts, "host"),
               *port = opt(opts, "port"), *db = opt(opts, "dbname");
    bool first = true;
    if (uri) {
        mig_sb_add(&b, url, (size_t)(strstr(url, "://") + 3 - url));
        if (user) {
            sb_value(&b, user);
            if (pw)
                mig_sb_str(&b, ":***");
            mig_sb_str(&b, "@");
        }
        /* a socket folder goes to the query, as host=/path */
        bool host_in_query = host && strchr(host, '/');
        if (!host_in_query) {
            size_t nh = count_items(host), np = count_items(port), k = nh > np ? nh : np;
            for (size_t i = 0; i < k; i++) {
                if (i)
                    mig_sb_str(&b, ",");
                struct mig_sbuf h = { 0 };
                sb_item(&h, host, i);
                char *hs = mig_sb_done(&h);
                bool v6 = hs && strchr(hs, ':');
                mig_sb_str(&b, v6 ? "[" : "");
                sb_value(&b, hs ? hs : "");
                mig_sb_str(&b, v6 ? "]" : "");
                free(hs);
                if (port && i < np) {
                    struct mig_sbuf pb = { 0 };
                    sb_item(&pb, port, i);
                    char *ps = mig_sb_done(&pb);
                    if (ps && *ps) {
                        mig_sb_str(&b, ":");
                        mig_sb_str(&b, ps);
                    }
                    free(ps);
                }
            }
        }
        if (db) {
            mig_sb_str(&b, "/");
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
            mig_sb_str(&b, first ? "?" : "&");
            first = false;
            mig_sb_str(&b, k);
            mig_sb_str(&b, "=");
            if (secret_option(o))
                mig_sb_str(&b, "***");
            else
                sb_value(&b, o->val);
        }
        return mig_sb_done(&b);
    }
    for (const PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (!first)
            mig_sb_str(&b, " ");
        first = false;
        mig_sb_str(&b, o->keyword);
        mig_sb_str(&b, "=");
        if (secret_option(o))
            mig_sb_str(&b, "***");
        else
            sb_quoted(&b, o->val);
    }
    return mig_sb_done(&b);
}

char *mig_mask_url(const char *url)
{
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &why);
    PQfreemem(why);
    char *out = opts && !misread(url, opts) ? mask_parsed(url, opts) : mig_mask_url_raw(url);
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
        char *m = mig_mask_url_raw(url);
        if (!m || strcmp(m, url) != 0)
            flags |= MIG_URL_PASSWORD;
        free(m);
    }
    PQconninfoFree(opts);
    return flags;
}

const struct mig_driver *mig_driver_for(const char *url)
{
    switch (mig_url_dialect(url)) {
    case MIG_D_SQLITE:
        return &mig_driver_sqlite;
    case MIG_D_POSTGRES:
        return &mig_driver_pg;
    default:
        return NULL;
    }
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
