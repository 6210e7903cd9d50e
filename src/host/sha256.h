/* src/host/sha256.h - private: SHA-256 (FIPS 180-4), the digest that seals mbrl's files and
 * every dataset in them (h5util.c). Portable C, and the x86 SHA extensions when present
 * (MBRL_SHA256=generic forces the portable path); Python's hashlib gives the same digests
 * (tests/test_h5_integrity.cpp checks the FIPS example vectors and both paths agree).
 * Implemented in sha256.c. */
#ifndef MBRL_HOST_SHA256_H
#define MBRL_HOST_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "mbrl/common.h"

MBRL_EXTERN_C_BEGIN

#define MBRL_SHA256_BYTES 32
#define MBRL_SHA256_HEX 65 /* 64 lowercase hex digits and a NUL */

typedef struct mbrl_sha256_ctx {
  uint32_t h[8];     /* chaining state */
  uint64_t bytes;    /* message length so far */
  uint8_t block[64]; /* pending partial block */
  size_t fill;       /* bytes pending in block */
} mbrl_sha256_ctx;

/* Start a digest. */
void mbrl_sha256_init(mbrl_sha256_ctx *s);

/* Add n bytes (n == 0 or data == NULL with n == 0 is fine). */
void mbrl_sha256_update(mbrl_sha256_ctx *s, const void *data, size_t n);

/* Finish: out gets the 32-byte digest; s must be re-initialised before reuse. */
void mbrl_sha256_final(mbrl_sha256_ctx *s, uint8_t out[MBRL_SHA256_BYTES]);

/* One-shot digest of n bytes. */
void mbrl_sha256(const void *data, size_t n, uint8_t out[MBRL_SHA256_BYTES]);

/* Which compression runs: "shani" (x86 SHA extensions) or "generic". */
const char *mbrl_sha256_impl(void);

/* Force "generic" or "shani" (tests); -1 when this CPU or build cannot run it. Not thread-safe:
 * call before hashing starts. */
int mbrl_sha256_select(const char *impl);

/* The digest as 64 lowercase hex digits, NUL-ended (hashlib's hexdigest()). */
void mbrl_sha256_hex(const uint8_t d[MBRL_SHA256_BYTES], char hex[MBRL_SHA256_HEX]);

MBRL_EXTERN_C_END

#endif
