/* sha256.h — SHA-256 by OpenSSL's libcrypto, loaded on first use: `migc
 * check`, `fmt` and `lsp` compute no checksum, and linking libcrypto cost
 * every start of migc about 5 ms of dynamic loading and relocation (its
 * 4.7 MB and ~125 page faults), an eighth of a check of 1,000 files. */
#ifndef MIG_SHA256_H
#define MIG_SHA256_H
#include <stddef.h>
#include <stdint.h>

/* out = SHA-256 of data[0, n). When libcrypto cannot be loaded, says so
 * on stderr and aborts (as when the digest fails: nothing can be checked
 * or built without checksums). */
void mig_sha256(const void *data, size_t n, uint8_t out[32]);

/* The same over bytes given in pieces: init, update…, final (which
 * releases the context; free releases one not finished). */
struct mig_sha256_ctx { void *md; };
void mig_sha256_init(struct mig_sha256_ctx *c);
void mig_sha256_update(struct mig_sha256_ctx *c, const void *data, size_t n);
void mig_sha256_final(struct mig_sha256_ctx *c, uint8_t out[32]);
void mig_sha256_free(struct mig_sha256_ctx *c);

#endif
