/* mbrl/philox.h - Philox4x32-10 counter-based RNG, host+device inline.
 *
 * Reproduces cuRAND's curandStatePhilox4_32_10_t stream bit for bit:
 * mbrl_philox_init(seed, subsequence, offset) == curand_init(seed, subsequence, offset),
 * mbrl_philox_next_u32 == curand, mbrl_philox_next_u32x4 == curand4,
 * mbrl_philox_uniform == curand_uniform (range (0, 1]),
 * mbrl_philox_uniform_double == curand_uniform_double for Philox.
 * The raw block function mbrl_philox4x32_10 is Random123's philox4x32 with 10 rounds
 * (counter words x,y,z,w = Random123's v[0..3], key x,y = k[0..1]). */
#ifndef MBRL_PHILOX_H
#define MBRL_PHILOX_H

#include <stdint.h>

#include "mbrl/common.h"

#define MBRL_PHILOX_M0 0xD2511F53u
#define MBRL_PHILOX_M1 0xCD9E8D57u
#define MBRL_PHILOX_W0 0x9E3779B9u
#define MBRL_PHILOX_W1 0xBB67AE85u

typedef struct mbrl_u32x4 {
  uint32_t x, y, z, w;
} mbrl_u32x4;

typedef struct mbrl_philox {
  mbrl_u32x4 ctr;    /* 128-bit counter, x least significant */
  uint32_t key[2];   /* seed low, seed high */
  mbrl_u32x4 output; /* block for the current counter */
  uint32_t state;    /* index (0..3) of the next word of `output` to return */
} mbrl_philox;

MBRL_HD static inline uint32_t mbrl_philox_mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
  uint64_t p = (uint64_t)a * (uint64_t)b;
  *hi = (uint32_t)(p >> 32);
  return (uint32_t)p;
}

MBRL_HD static inline mbrl_u32x4 mbrl_philox_round(mbrl_u32x4 c, uint32_t k0, uint32_t k1) {
  uint32_t hi0, hi1;
  uint32_t lo0 = mbrl_philox_mulhilo(MBRL_PHILOX_M0, c.x, &hi0);
  uint32_t lo1 = mbrl_philox_mulhilo(MBRL_PHILOX_M1, c.z, &hi1);
  mbrl_u32x4 r;
  r.x = hi1 ^ c.y ^ k0;
  r.y = lo1;
  r.z = hi0 ^ c.w ^ k1;
  r.w = lo0;
  return r;
}

/* The Philox4x32-10 block function: 10 rounds over counter `c` with key (k0, k1). */
MBRL_HD static inline mbrl_u32x4 mbrl_philox4x32_10(mbrl_u32x4 c, uint32_t k0, uint32_t k1) {
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int i = 0; i < 9; ++i) {
    c = mbrl_philox_round(c, k0, k1);
    k0 += MBRL_PHILOX_W0;
    k1 += MBRL_PHILOX_W1;
  }
  return mbrl_philox_round(c, k0, k1);
}

/* Advance the counter by one block (cuRAND's Philox_State_Incr). */
MBRL_HD static inline void mbrl_philox_incr(mbrl_philox *s) {
  if (++s->ctr.x) return;
  if (++s->ctr.y) return;
  if (++s->ctr.z) return;
  ++s->ctr.w;
}

/* Advance the counter by n blocks, with cuRAND's exact carry logic. */
MBRL_HD static inline void mbrl_philox_incr_n(mbrl_philox *s, uint64_t n) {
  uint32_t nlo = (uint32_t)n;
  uint32_t nhi = (uint32_t)(n >> 32);
  s->ctr.x += nlo;
  if (s->ctr.x < nlo) nhi++;
  s->ctr.y += nhi;
  if (nhi <= s->ctr.y) return;
  if (++s->ctr.z) return;
  ++s->ctr.w;
}

/* Skip n 32-bit outputs (cuRAND's skipahead). */
MBRL_HD static inline void mbrl_philox_skipahead(mbrl_philox *s, uint64_t n) {
  s->state += (uint32_t)(n & 3);
  n /= 4;
  if (s->state > 3) {
    n += 1;
    s->state -= 4;
  }
  mbrl_philox_incr_n(s, n);
  s->output = mbrl_philox4x32_10(s->ctr, s->key[0], s->key[1]);
}

/* Skip n subsequences of 2^66 outputs each (cuRAND's skipahead_sequence). */
MBRL_HD static inline void mbrl_philox_skipahead_sequence(mbrl_philox *s, uint64_t n) {
  uint32_t nlo = (uint32_t)n;
  uint32_t nhi = (uint32_t)(n >> 32);
  s->ctr.z += nlo;
  if (s->ctr.z < nlo) nhi++;
  s->ctr.w += nhi;
  s->output = mbrl_philox4x32_10(s->ctr, s->key[0], s->key[1]);
}

/* Start a stream exactly like curand_init(seed, subsequence, offset, &state). */
MBRL_HD static inline void mbrl_philox_init(mbrl_philox *s, uint64_t seed, uint64_t subsequence,
                                            uint64_t offset) {
  s->ctr.x = s->ctr.y = s->ctr.z = s->ctr.w = 0;
  s->key[0] = (uint32_t)seed;
  s->key[1] = (uint32_t)(seed >> 32);
  s->state = 0;
  mbrl_philox_skipahead_sequence(s, subsequence);
  mbrl_philox_skipahead(s, offset);
}

/* Next 32 random bits (curand). */
MBRL_HD static inline uint32_t mbrl_philox_next_u32(mbrl_philox *s) {
  uint32_t r;
  switch (s->state++) {
    default: r = s->output.x; break;
    case 1: r = s->output.y; break;
    case 2: r = s->output.z; break;
    case 3: r = s->output.w; break;
  }
  if (s->state == 4) {
    mbrl_philox_incr(s);
    s->output = mbrl_philox4x32_10(s->ctr, s->key[0], s->key[1]);
    s->state = 0;
  }
  return r;
}

/* Next 128 random bits (curand4). */
MBRL_HD static inline mbrl_u32x4 mbrl_philox_next_u32x4(mbrl_philox *s) {
  mbrl_u32x4 t = s->output, r;
  mbrl_philox_incr(s);
  s->output = mbrl_philox4x32_10(s->ctr, s->key[0], s->key[1]);
  switch (s->state) {
    case 1: r.x = t.y; r.y = t.z; r.z = t.w; r.w = s->output.x; return r;
    case 2: r.x = t.z; r.y = t.w; r.z = s->output.x; r.w = s->output.y; return r;
    case 3: r.x = t.w; r.y = s->output.x; r.z = s->output.y; r.w = s->output.z; return r;
    default: return t;
  }
}

/* 32 bits to a float in (0, 1], cuRAND's _curand_uniform. */
MBRL_HD static inline float mbrl_philox_u32_to_uniform(uint32_t x) {
  return (float)x * 2.3283064e-10f + (2.3283064e-10f / 2.0f);
}

/* Uniform float in (0, 1] (curand_uniform). */
MBRL_HD static inline float mbrl_philox_uniform(mbrl_philox *s) {
  return mbrl_philox_u32_to_uniform(mbrl_philox_next_u32(s));
}

/* Uniform double in (0, 1] from one 32-bit draw (curand_uniform_double for Philox). */
MBRL_HD static inline double mbrl_philox_uniform_double(mbrl_philox *s) {
  return (double)mbrl_philox_next_u32(s) * 2.3283064365386963e-10 + (2.3283064365386963e-10 / 2.0);
}

/* Uniform double in [lo, hi) (never hi): lo + (hi - lo) * (1 - u), u in (0, 1]. */
MBRL_HD static inline double mbrl_philox_range_double(mbrl_philox *s, double lo, double hi) {
  return lo + (hi - lo) * (1.0 - mbrl_philox_uniform_double(s));
}

/* Uniform float in [lo, hi] from one draw: lo + (hi - lo) * u, u in (0, 1], computed in float. */
MBRL_HD static inline float mbrl_philox_range_float(mbrl_philox *s, float lo, float hi) {
  return lo + (hi - lo) * mbrl_philox_uniform(s);
}

/* Uniform integer in [0, n) from one draw (multiply-shift; n > 0). */
MBRL_HD static inline uint32_t mbrl_philox_below(mbrl_philox *s, uint32_t n) {
  return (uint32_t)(((uint64_t)mbrl_philox_next_u32(s) * (uint64_t)n) >> 32);
}

#endif
