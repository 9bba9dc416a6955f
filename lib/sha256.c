/* sha256.c — libcrypto's SHA-256, loaded on first use (see sha256.h). */
#include "config.h"
#include "sha256.h"
#include <dlfcn.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

typedef int digest_fn(const void *data, size_t count, unsigned char *md, unsigned int *size,
                      const EVP_MD *type, ENGINE *impl);
typedef const EVP_MD *md_fn(void);
typedef EVP_MD_CTX *ctx_new_fn(void);
typedef void ctx_free_fn(EVP_MD_CTX *ctx);
typedef int init_fn(EVP_MD_CTX *ctx, const EVP_MD *type, ENGINE *impl);
typedef int update_fn(EVP_MD_CTX *ctx, const void *d, size_t cnt);
typedef int final_fn(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *s);
/* (redeclared here so that the compiler checks these types against
 * OpenSSL's header; nothing refers to them, so nothing is linked) */
extern digest_fn EVP_Digest;
extern md_fn EVP_sha256;
extern ctx_new_fn EVP_MD_CTX_new;
extern ctx_free_fn EVP_MD_CTX_free;
extern init_fn EVP_DigestInit_ex;
extern update_fn EVP_DigestUpdate;
extern final_fn EVP_DigestFinal_ex;

static digest_fn *digest;
static md_fn *sha256;
static ctx_new_fn *ctx_new;
static ctx_free_fn *ctx_free;
static init_fn *init;
static update_fn *update;
static final_fn *final;

static _Noreturn void missing(const char *what, const char *why)
{
    fprintf(stderr, "fatal: SHA-256 checksums need OpenSSL's libcrypto: cannot load %s (%s); install the "
            "Debian package 'libssl3'\n", what, why ? why : "unknown reason");
    abort();
}

static _Noreturn void failed(void)
{
    fputs("fatal: SHA-256 failed\n", stderr);
    abort();
}

#define SYM(var, name) \
    if (!(*(void **)&var = dlsym(h, name))) \
        missing(MIG_LIBCRYPTO_SONAME "'s " name, dlerror());

static void load(void)
{
    if (digest)
        return;
    void *h = dlopen(MIG_LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        missing(MIG_LIBCRYPTO_SONAME, dlerror());
    SYM(sha256, "EVP_sha256")
    SYM(ctx_new, "EVP_MD_CTX_new")
    SYM(ctx_free, "EVP_MD_CTX_free")
    SYM(init, "EVP_DigestInit_ex")
    SYM(update, "EVP_DigestUpdate")
    SYM(final, "EVP_DigestFinal_ex")
    SYM(digest, "EVP_Digest")       /* last: it says the rest is loaded */
}

void mig_sha256(const void *data, size_t n, uint8_t out[32])
{
    load();
    unsigned len = 32;
    if (!digest(data, n, out, &len, sha256(), NULL))
        failed();
}

void mig_sha256_init(struct mig_sha256_ctx *c)
{
    load();
    EVP_MD_CTX *x = ctx_new();
    if (!x || !init(x, sha256(), NULL))
        failed();
    c->md = x;
}

void mig_sha256_update(struct mig_sha256_ctx *c, const void *data, size_t n)
{
    if (!update(c->md, data, n))
        failed();
}

void mig_sha256_final(struct mig_sha256_ctx *c, uint8_t out[32])
{
    unsigned len = 32;
    if (!final(c->md, out, &len))
        failed();
    ctx_free(c->md);
    c->md = NULL;
}

void mig_sha256_free(struct mig_sha256_ctx *c)
{
    if (c->md)
        ctx_free(c->md);
    c->md = NULL;
}
