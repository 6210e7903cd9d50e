/* sha256.c - SHA-256 as FIPS 180-4 specifies it (section 6.2): portable C, and the x86 SHA
 * extensions (SHA-NI) when the CPU has them, chosen at run time; MBRL_SHA256=generic|shani
 * forces one (an unsupported choice falls back to generic). */
#include "host/sha256.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MBRL_SHA256_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

static inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

/* Process `nblocks` 64-byte blocks. */
static void compress_generic(uint32_t h[8], const uint8_t *p, size_t nblocks) {
  for (; nblocks; --nblocks, p += 64) {
    uint32_t w[64];
    for (int t = 0; t < 16; ++t)
      w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
             (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
    for (int t = 16; t < 64; ++t) {
      const uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      const uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int t = 0; t < 64; ++t) {
      const uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                          K[t] + w[t];
      const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
  }
}

#ifdef MBRL_SHA256_X86
/* The same compression with the SHA extensions: the state as ABEF/CDGH, four rounds per
 * message group W[4i..4i+3] (two sha256rnds2), the schedule by sha256msg1/msg2:
 * W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]. */
__attribute__((target("sha,sse4.1,ssse3"))) static void compress_shani(uint32_t h[8],
                                                                        const uint8_t *p,
                                                                        size_t nblocks) {
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  __m128i t = _mm_loadu_si128((const __m128i *)&h[0]);  /* D C B A */
  __m128i s1 = _mm_loadu_si128((const __m128i *)&h[4]); /* H G F E */
  t = _mm_shuffle_epi32(t, 0xB1);                       /* C D A B */
  s1 = _mm_shuffle_epi32(s1, 0x1B);                     /* E F G H */
  __m128i s0 = _mm_alignr_epi8(t, s1, 8);               /* A B E F */
  s1 = _mm_blend_epi16(s1, t, 0xF0);                    /* C D G H */
  for (; nblocks; --nblocks, p += 64) {
    const __m128i abef = s0, cdgh = s1;
    __m128i w[16];
    for (int i = 0; i < 16; ++i) {
      if (i < 4) {
        w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
      } else {
        __m128i m = _mm_sha256msg1_epu32(w[i - 4], w[i - 3]);
        m = _mm_add_epi32(m, _mm_alignr_epi8(w[i - 1], w[i - 2], 4));
        w[i] = _mm_sha256msg2_epu32(m, w[i - 1]);
      }
      __m128i msg = _mm_add_epi32(w[i], _mm_loadu_si128((const __m128i *)&K[4 * i]));
      s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
      msg = _mm_shuffle_epi32(msg, 0x0E);
      s0 = _mm_sha256rnds2_epu32(s0, s1, msg);
    }
    s0 = _mm_add_epi32(s0, abef);
    s1 = _mm_add_epi32(s1, cdgh);
  }
  t = _mm_shuffle_epi32(s0, 0x1B);      /* F E B A */
  s1 = _mm_shuffle_epi32(s1, 0xB1);     /* D C H G */
  s0 = _mm_blend_epi16(t, s1, 0xF0);    /* D C B A */
  s1 = _mm_alignr_epi8(s1, t, 8);       /* H G F E */
  _mm_storeu_si128((__m128i *)&h[0], s0);
  _mm_storeu_si128((__m128i *)&h[4], s1);
}

static int cpu_has_shani(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 9))) return 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  return (b >> 29) & 1u;
}
#endif

typedef void (*compress_fn)(uint32_t h[8], const uint8_t *p, size_t nblocks);

/* The compression chosen once: SHA-NI when present unless MBRL_SHA256=generic. */
static compress_fn g_compress;

static compress_fn pick(void) {
  const char *e = getenv("MBRL_SHA256");
#ifdef MBRL_SHA256_X86
  if (!(e && strcmp(e, "generic") == 0) && cpu_has_shani()) return compress_shani;
#endif
  (void)e;
  return compress_generic;
}

static void compress(uint32_t h[8], const uint8_t *p, size_t nblocks) {
  if (!g_compress) g_compress = pick();
  g_compress(h, p, nblocks);
}

const char *mbrl_sha256_impl(void) {
  if (!g_compress) g_compress = pick();
  return g_compress == compress_generic ? "generic" : "shani";
}

int mbrl_sha256_select(const char *impl) {
  if (impl && strcmp(impl, "generic") == 0) {
    g_compress = compress_generic;
    return 0;
  }
#ifdef MBRL_SHA256_X86
  if (impl && strcmp(impl, "shani") == 0 && cpu_has_shani()) {
    g_compress = compress_shani;
    return 0;
  }
#endif
  return -1;
}

void mbrl_sha256_init(mbrl_sha256_ctx *s) {
  static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->h, h0, sizeof h0);
  s->bytes = 0;
  s->fill = 0;
}

void mbrl_sha256_update(mbrl_sha256_ctx *s, const void *data, size_t n) {
  const uint8_t *p = (const uint8_t *)data;
  if (n == 0) return;
  s->bytes += n;
  if (s->fill) {
    size_t take = 64 - s->fill < n ? 64 - s->fill : n;
    memcpy(s->block + s->fill, p, take);
    s->fill += take, p += take, n -= take;
    if (s->fill < 64) return;
    compress(s->h, s->block, 1);
    s->fill = 0;
  }
  compress(s->h, p, n / 64);
  p += n / 64 * 64;
  n %= 64;
  memcpy(s->block, p, n);
  s->fill = n;
}

void mbrl_sha256_final(mbrl_sha256_ctx *s, uint8_t out[MBRL_SHA256_BYTES]) {
  const uint64_t bits = s->bytes * 8;
  s->block[s->fill++] = 0x80;
  if (s->fill > 56) {
    memset(s->block + s->fill, 0, 64 - s->fill);
    compress(s->h, s->block, 1);
    s->fill = 0;
  }
  memset(s->block + s->fill, 0, 56 - s->fill);
  for (int i = 0; i < 8; ++i) s->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
  compress(s->h, s->block, 1);
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 4; ++j) out[4 * i + j] = (uint8_t)(s->h[i] >> (24 - 8 * j));
}

void mbrl_sha256(const void *data, size_t n, uint8_t out[MBRL_SHA256_BYTES]) {
  mbrl_sha256_ctx s;
  mbrl_sha256_init(&s);
  mbrl_sha256_update(&s, data, n);
  mbrl_sha256_final(&s, out);
}

void mbrl_sha256_hex(const uint8_t d[MBRL_SHA256_BYTES], char hex[MBRL_SHA256_HEX]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < MBRL_SHA256_BYTES; ++i) {
    hex[2 * i] = digits[d[i] >> 4];
    hex[2 * i + 1] = digits[d[i] & 15];
  }
  hex[64] = '\0';
}
