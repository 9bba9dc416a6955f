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
/* (redeclared here so that the compiler checks these types against
 * OpenSSL's header; nothing refers to them, so nothing is linked) */
extern digest_fn EVP_Digest;
extern md_fn EVP_sha256;

static digest_fn *digest;
static md_fn *sha256;

static _Noreturn void missing(const char *what, const char *why)
{
    fprintf(stderr, "fatal: SHA-256 checksums need OpenSSL's libcrypto: cannot load %s (%s); install the "
            "Debian package 'libssl3'\n", what, why ? why : "unknown reason");
    abort();
}

void mig_sha256(const void *data, size_t n, uint8_t out[32])
{
    if (!digest) {
        void *h = dlopen(MIG_LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h)
            missing(MIG_LIBCRYPTO_SONAME, dlerror());
        if (!(*(void **)&sha256 = dlsym(h, "EVP_sha256")))
            missing(MIG_LIBCRYPTO_SONAME "'s EVP_sha256", dlerror());
        if (!(*(void **)&digest = dlsym(h, "EVP_Digest")))
            missing(MIG_LIBCRYPTO_SONAME "'s EVP_Digest", dlerror());
    }
    unsigned len = 32;
    if (!digest(data, n, out, &len, sha256(), NULL)) {
        fputs("fatal: SHA-256 failed\n", stderr);
        abort();
    }
}
