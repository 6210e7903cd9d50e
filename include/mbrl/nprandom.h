/* mbrl/nprandom.h - numpy's SeedSequence and PCG64, bit for bit (host only).
 *
 * Gymnasium seeds an env with `np.random.Generator(np.random.PCG64(np.random.SeedSequence(s)))`
 * (gymnasium/utils/seeding.py np_random); these functions reproduce that generator so that our
 * env resets draw Gymnasium's start states. Transcribed from numpy's sources:
 *   numpy/random/bit_generator.pyx   SeedSequence (pool_size 4, hashmix/mix, generate_state)
 *   numpy/random/_pcg64.pyx          PCG64.__init__ (generate_state(4, uint64) -> pcg64_set_seed)
 *   numpy/random/src/pcg64/pcg64.h/.c  pcg_setseq_128 XSL-RR 128/64 (srandom, step, output, advance)
 *   numpy/random/src/distributions/distributions.c  next_double = (next64 >> 11) * 2^-53,
 *                                    random_uniform = low + (high - low) * next_double
 * Checked against numpy itself by tests/test_nprandom.cpp (golden vectors that
 * scripts/make_golden_nprandom.py writes with numpy) and tests/py_nprandom_reference.py.
 * The 128-bit LCG uses unsigned __int128 inside nprandom.c; the struct holds 64-bit halves. */
#ifndef MBRL_NPRANDOM_H
#define MBRL_NPRANDOM_H

#include <stddef.h>
#include <stdint.h>

#include "mbrl/common.h"

MBRL_EXTERN_C_BEGIN

/* numpy's PCG64 state: the 128-bit LCG state and odd increment, as (high, low) halves
 * (the order of numpy's pcg64_get_state: state.high, state.low, inc.high, inc.low). */
typedef struct mbrl_nprandom_pcg64 {
  uint64_t state_hi, state_lo;
  uint64_t inc_hi, inc_lo;
} mbrl_nprandom_pcg64;

/* The uint32 entropy words numpy makes of a non-negative integer seed (its
 * _int_to_uint32_array): low 32 bits first, at least one word (seed 0 -> [0]); the integer is
 * hi * 2^64 + lo (hi = 0 for a uint64 seed). Writes out (up to 4); returns the word count. */
size_t mbrl_nprandom_seed_words(uint64_t hi, uint64_t lo, uint32_t out[4]);

/* SeedSequence(entropy).generate_state(n_words, np.uint32) with the default pool_size 4 and
 * no spawn key: entropy (n_entropy) -> out (n_words). n_entropy may be 0 (all-zero pool). */
void mbrl_nprandom_seedseq_generate(const uint32_t *entropy, size_t n_entropy, uint32_t *out,
                                    size_t n_words);

/* numpy's pcg64_set_seed(seed, inc): seed = (seed_hi, seed_lo), initseq = (inc_hi, inc_lo);
 * state = 0, inc = (initseq << 1) | 1, step, state += seed, step. */
void mbrl_nprandom_pcg64_set_seed(mbrl_nprandom_pcg64 *g, uint64_t seed_hi, uint64_t seed_lo,
                                  uint64_t inc_hi, uint64_t inc_lo);

/* np.random.PCG64(np.random.SeedSequence(entropy words)): words[0..3] of generate_state(4,
 * np.uint64) are seed high, seed low, inc high, inc low. */
void mbrl_nprandom_pcg64_init_entropy(mbrl_nprandom_pcg64 *g, const uint32_t *entropy,
                                      size_t n_entropy);

/* np.random.PCG64(seed) == the bit generator of np.random.default_rng(seed) and of
 * Gymnasium's env.reset(seed=seed), for an integer seed in [0, 2^64). */
void mbrl_nprandom_pcg64_init(mbrl_nprandom_pcg64 *g, uint64_t seed);

/* PCG64.random_raw(): step the LCG, then XSL-RR output rotr64(hi ^ lo, hi >> 58). */
uint64_t mbrl_nprandom_pcg64_next64(mbrl_nprandom_pcg64 *g);

/* Generator.random(): (next64 >> 11) * 2^-53, in [0, 1). */
double mbrl_nprandom_pcg64_double(mbrl_nprandom_pcg64 *g);

/* One Generator.uniform(low, high) draw: low + (high - low) * random(), one next64. */
double mbrl_nprandom_pcg64_uniform(mbrl_nprandom_pcg64 *g, double low, double high);

/* PCG64.advance(delta): as if next64 had been called delta = delta_hi * 2^64 + delta_lo
 * times (O(log delta) jump-ahead, numpy's pcg_advance_lcg_128). */
void mbrl_nprandom_pcg64_advance(mbrl_nprandom_pcg64 *g, uint64_t delta_hi, uint64_t delta_lo);

MBRL_EXTERN_C_END

#endif
