/* mbrl/philox.h - Philox4x32-10 counter-based RNG, host+device inline.
 *
 * Reproduces cuRAND's curandStatePhilox4_32_10_t stream bit for bit:
 * mbrl_philox_init(seed, subsequence, offset) == curand_init(seed, subsequence, offset),
 * mbrl_philox_next_u32 == curand, mbrl_philox_next_u32x4 == curand4,
 * mbrl_philox_uniform == curand_uniform (range (0, 1]),
 * mbrl_philox_uniform_double == curand_uniform_double for Philox.
 * mbrl_philox_uniform2_double == curand_uniform2_double (53-bit doubles from curand4).
 * The raw block function mbrl_philox4x32_10 is Random123's philox4x32 with 10 rounds
 * (counter words x,y,z,w = Random123's v[0..3], key x,y = k[0..1]).
 *
 * Checked by tests/test_philox.cpp against Random123's kat_vectors, against cuRAND's device
 * API (curand_kernel.h compiled for the host) and against cuRAND's host generator, whose
 * CURAND_ORDERING_PSEUDO_DEFAULT (== LEGACY) output at position p = offset + i is word p % 4
 * of subsequence (p / 4) % 65536, block (p / 4) / 65536 of this stream; its doubles come four
 * per subsequence and round from two mbrl_philox_uniform2_double (exact for offsets 0..3).
 *
 * Fill ops at the bottom: out[i] = i-th draw after curand_init(seed, subsequence, offset),
 * a CPU twin and a CUDA twin that agree bit for bit. */
#ifndef MBRL_PHILOX_H
#define MBRL_PHILOX_H

#include <stddef.h>
#include <stdint.h>

#include "mbrl/common.h"
#include "mbrl/status.h"

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

/* Counter `c` advanced by n blocks, with cuRAND's exact carry logic (Philox_State_Incr(s, n)). */
MBRL_HD static inline mbrl_u32x4 mbrl_philox_ctr_add(mbrl_u32x4 c, uint64_t n) {
  uint32_t nlo = (uint32_t)n;
  uint32_t nhi = (uint32_t)(n >> 32);
  c.x += nlo;
  if (c.x < nlo) nhi++;
  c.y += nhi;
  if (nhi <= c.y) return c;
  if (++c.z) return c;
  ++c.w;
  return c;
}

/* Advance the counter by n blocks (cuRAND's Philox_State_Incr(s, n)). */
MBRL_HD static inline void mbrl_philox_incr_n(mbrl_philox *s, uint64_t n) {
  s->ctr = mbrl_philox_ctr_add(s->ctr, n);
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

/* Uniform double in (0, 1] from one 32-bit draw (curand_uniform_double for Philox, i.e.
 * cuRAND's _curand_uniform_double(unsigned int): x * 2^-32 + 2^-32, smallest value 2^-32). */
MBRL_HD static inline double mbrl_philox_uniform_double(mbrl_philox *s) {
  return (double)mbrl_philox_next_u32(s) * 2.3283064365386963e-10 + 2.3283064365386963e-10;
}

/* Two 32-bit words to a double in (0, 1] with 53 random bits (cuRAND's _curand_uniform_double_hq). */
MBRL_HD static inline double mbrl_philox_u32x2_to_uniform_double(uint32_t x, uint32_t y) {
  uint64_t z = (uint64_t)x ^ ((uint64_t)y << (53 - 32));
  return (double)z * 1.1102230246251565e-16 + (1.1102230246251565e-16 / 2.0);
}

/* Two uniform doubles in (0, 1] from one curand4 (curand_uniform2_double); r[0], r[1]. */
MBRL_HD static inline void mbrl_philox_uniform2_double(mbrl_philox *s, double r[2]) {
  mbrl_u32x4 v = mbrl_philox_next_u32x4(s);
  r[0] = mbrl_philox_u32x2_to_uniform_double(v.x, v.y);
  r[1] = mbrl_philox_u32x2_to_uniform_double(v.z, v.w);
}

/* Uniform double in [lo, hi) (never hi): lo + (hi - lo) * (1 - u), u in (0, 1].
 * Rounded multiply then add on host and device alike (no FMA contraction on the GPU). */
MBRL_HD static inline double mbrl_philox_range_double(mbrl_philox *s, double lo, double hi) {
  double v = 1.0 - mbrl_philox_uniform_double(s);
#if defined(__CUDA_ARCH__)
  return __dadd_rn(lo, __dmul_rn(hi - lo, v));
#else
  return lo + (hi - lo) * v;
#endif
}

/* Uniform float in (lo, hi] from one draw: lo + (hi - lo) * u, u in (0, 1], computed in float
 * (rounded multiply then add on host and device alike). */
MBRL_HD static inline float mbrl_philox_range_float(mbrl_philox *s, float lo, float hi) {
  float u = mbrl_philox_uniform(s);
#if defined(__CUDA_ARCH__)
  return __fadd_rn(lo, __fmul_rn(hi - lo, u));
#else
  return lo + (hi - lo) * u;
#endif
}

/* Uniform integer in [0, n) from one draw (multiply-shift; n > 0). */
MBRL_HD static inline uint32_t mbrl_philox_below(mbrl_philox *s, uint32_t n) {
  return (uint32_t)(((uint64_t)mbrl_philox_next_u32(s) * (uint64_t)n) >> 32);
}

/* ---- fill ops: shared per-block math ----
 * After `base` = mbrl_philox_init(seed, subsequence, offset), draw i (0-based) is word
 * (base->state + i) % 4 of block j = (base->state + i) / 4, whose counter is base->ctr + j.
 * Both twins compute block j independently, so any split over threads gives the same bits. */

/* Number of 4-word blocks that n draws from `base` touch. */
MBRL_HD static inline uint64_t mbrl_philox_fill_blocks(const mbrl_philox *base, uint64_t n) {
  return n == 0 ? 0 : (base->state + n + 3) / 4;
}

/* Block j of the stream that starts at `base` (4 words). */
MBRL_HD static inline mbrl_u32x4 mbrl_philox_block_at(const mbrl_philox *base, uint64_t j) {
  return mbrl_philox4x32_10(mbrl_philox_ctr_add(base->ctr, j), base->key[0], base->key[1]);
}

/* Write the words of block j that fall in [0, n) to out_u32 or (as curand_uniform) out_f32;
 * exactly one of the two is non-NULL. */
MBRL_HD static inline void mbrl_philox_fill_block(const mbrl_philox *base, uint64_t j, uint64_t n,
                                                  uint32_t *out_u32, float *out_f32) {
  mbrl_u32x4 b = mbrl_philox_block_at(base, j);
  uint32_t w[4] = {b.x, b.y, b.z, b.w};
  uint64_t first = 4 * j; /* stream position of word 0, relative to draw 0 at base->state */
  for (uint32_t k = 0; k < 4; ++k) {
    uint64_t pos = first + k;
    if (pos < base->state) continue;
    uint64_t i = pos - base->state;
    if (i >= n) break;
    if (out_u32) out_u32[i] = w[k];
    else out_f32[i] = mbrl_philox_u32_to_uniform(w[k]);
  }
}

MBRL_EXTERN_C_BEGIN

/* out[i] = i-th curand_uniform draw after curand_init(seed, subsequence, offset), i < n.
 * out: (n,) host floats in (0, 1]. Parallel (OpenMP) over blocks; same bits for any thread count.
 * Returns MBRL_ERR_INVALID_ARG if out is NULL and n > 0. */
mbrl_status mbrl_philox_fill_uniform(float *out, size_t n, uint64_t seed, uint64_t subsequence,
                                     uint64_t offset);

/* mbrl_philox_init as an exported function, for callers that cannot use the inline one
 * (the Python package's ctypes layer): returns the state curand_init(seed, subsequence, offset)
 * makes. */
mbrl_philox mbrl_philox_make(uint64_t seed, uint64_t subsequence, uint64_t offset);

/* out[i] = i-th curand() draw after curand_init(seed, subsequence, offset), i < n. out: (n,) host. */
mbrl_status mbrl_philox_fill_u32(uint32_t *out, size_t n, uint64_t seed, uint64_t subsequence,
                                 uint64_t offset);

#ifdef MBRL_HAVE_CUDA
/* CUDA twin of mbrl_philox_fill_uniform: d_out (n,) device memory, launched on `stream`
 * (a cudaStream_t, NULL = default stream), asynchronous. Bit for bit equal to the CPU twin. */
mbrl_status mbrl_philox_fill_uniform_cuda(float *d_out, size_t n, uint64_t seed,
                                          uint64_t subsequence, uint64_t offset, void *stream);

/* CUDA twin of mbrl_philox_fill_u32: d_out (n,) device memory, asynchronous on `stream`. */
mbrl_status mbrl_philox_fill_u32_cuda(uint32_t *d_out, size_t n, uint64_t seed,
                                      uint64_t subsequence, uint64_t offset, void *stream);
#endif

MBRL_EXTERN_C_END

#endif
