/* nprandom.c - numpy's SeedSequence and PCG64 (see mbrl/nprandom.h for the sources followed). */
#include "mbrl/nprandom.h"

__extension__ typedef unsigned __int128 u128;

/* ---------------------------------------------------------------- SeedSequence */

#define SS_POOL_SIZE 4
#define SS_INIT_A 0x43b0d7e5u
#define SS_MULT_A 0x931e8875u
#define SS_INIT_B 0x8b51f9ddu
#define SS_MULT_B 0x58f38dedu
#define SS_MIX_MULT_L 0xca01f9ddu
#define SS_MIX_MULT_R 0x4973f715u
#define SS_XSHIFT 16 /* np.dtype(np.uint32).itemsize * 8 // 2 */

/* bit_generator.pyx hashmix: the multiplier *hash_const changes as it goes (in-out). */
static uint32_t ss_hashmix(uint32_t value, uint32_t *hash_const) {
  value ^= *hash_const;
  *hash_const *= SS_MULT_A;
  value *= *hash_const;
  value ^= value >> SS_XSHIFT;
  return value;
}

static uint32_t ss_mix(uint32_t x, uint32_t y) {
  uint32_t result = SS_MIX_MULT_L * x - SS_MIX_MULT_R * y;
  result ^= result >> SS_XSHIFT;
  return result;
}

size_t mbrl_nprandom_seed_words(uint64_t hi, uint64_t lo, uint32_t out[4]) {
  const uint32_t w[4] = {(uint32_t)lo, (uint32_t)(lo >> 32), (uint32_t)hi, (uint32_t)(hi >> 32)};
  size_t n = 4;
  while (n > 1 && w[n - 1] == 0) --n; /* numpy: words while n > 0; [0] for 0 */
  for (size_t i = 0; i < n; ++i) out[i] = w[i];
  return n;
}

void mbrl_nprandom_seedseq_generate(const uint32_t *entropy, size_t n_entropy, uint32_t *out,
                                    size_t n_words) {
  /* SeedSequence.mix_entropy(pool, entropy) */
  uint32_t pool[SS_POOL_SIZE];
  uint32_t hash_const = SS_INIT_A;
  for (size_t i = 0; i < SS_POOL_SIZE; ++i)
    pool[i] = ss_hashmix(i < n_entropy ? entropy[i] : 0u, &hash_const);
  for (size_t i_src = 0; i_src < SS_POOL_SIZE; ++i_src)
    for (size_t i_dst = 0; i_dst < SS_POOL_SIZE; ++i_dst)
      if (i_src != i_dst) pool[i_dst] = ss_mix(pool[i_dst], ss_hashmix(pool[i_src], &hash_const));
  for (size_t i_src = SS_POOL_SIZE; i_src < n_entropy; ++i_src)
    for (size_t i_dst = 0; i_dst < SS_POOL_SIZE; ++i_dst)
      pool[i_dst] = ss_mix(pool[i_dst], ss_hashmix(entropy[i_src], &hash_const));
  /* SeedSequence.generate_state(n_words, np.uint32): cycle over the pool */
  uint32_t hc = SS_INIT_B;
  for (size_t i = 0; i < n_words; ++i) {
    uint32_t v = pool[i % SS_POOL_SIZE];
    v ^= hc;
    hc *= SS_MULT_B;
    v *= hc;
    v ^= v >> SS_XSHIFT;
    out[i] = v;
  }
}

/* ---------------------------------------------------------------- PCG64 (pcg_setseq_128, XSL-RR) */

#define PCG_MULT_HI 0x2360ED051FC65DA4ull /* PCG_DEFAULT_MULTIPLIER_128 */
#define PCG_MULT_LO 0x4385DF649FCCF645ull

static u128 u128_of(uint64_t hi, uint64_t lo) { return ((u128)hi << 64) | lo; }

static u128 pcg_mult(void) { return u128_of(PCG_MULT_HI, PCG_MULT_LO); }

static void put(mbrl_nprandom_pcg64 *g, u128 state, u128 inc) {
  g->state_hi = (uint64_t)(state >> 64);
  g->state_lo = (uint64_t)state;
  g->inc_hi = (uint64_t)(inc >> 64);
  g->inc_lo = (uint64_t)inc;
}

void mbrl_nprandom_pcg64_set_seed(mbrl_nprandom_pcg64 *g, uint64_t seed_hi, uint64_t seed_lo,
                                  uint64_t inc_hi, uint64_t inc_lo) {
  /* pcg_setseq_128_srandom_r */
  const u128 m = pcg_mult();
  u128 inc = (u128_of(inc_hi, inc_lo) << 1) | 1u;
  u128 state = 0;
  state = state * m + inc;
  state += u128_of(seed_hi, seed_lo);
  state = state * m + inc;
  put(g, state, inc);
}

void mbrl_nprandom_pcg64_init_entropy(mbrl_nprandom_pcg64 *g, const uint32_t *entropy,
                                      size_t n_entropy) {
  uint32_t w[8]; /* generate_state(4, np.uint64): 8 words, pairs viewed little-endian */
  mbrl_nprandom_seedseq_generate(entropy, n_entropy, w, 8);
  uint64_t v[4];
  for (int k = 0; k < 4; ++k) v[k] = (uint64_t)w[2 * k] | ((uint64_t)w[2 * k + 1] << 32);
  mbrl_nprandom_pcg64_set_seed(g, v[0], v[1], v[2], v[3]);
}

void mbrl_nprandom_pcg64_init(mbrl_nprandom_pcg64 *g, uint64_t seed) {
  uint32_t words[4];
  size_t n = mbrl_nprandom_seed_words(0, seed, words);
  mbrl_nprandom_pcg64_init_entropy(g, words, n);
}

uint64_t mbrl_nprandom_pcg64_next64(mbrl_nprandom_pcg64 *g) {
  u128 state = u128_of(g->state_hi, g->state_lo) * pcg_mult() + u128_of(g->inc_hi, g->inc_lo);
  g->state_hi = (uint64_t)(state >> 64);
  g->state_lo = (uint64_t)state;
  const uint64_t x = g->state_hi ^ g->state_lo;
  const unsigned rot = (unsigned)(g->state_hi >> 58);
  return (x >> rot) | (x << ((-rot) & 63u));
}

double mbrl_nprandom_pcg64_double(mbrl_nprandom_pcg64 *g) {
  return (double)(mbrl_nprandom_pcg64_next64(g) >> 11) * (1.0 / 9007199254740992.0);
}

double mbrl_nprandom_pcg64_uniform(mbrl_nprandom_pcg64 *g, double low, double high) {
  const double range = high - low; /* numpy computes high - low first, then random_uniform */
  return low + range * mbrl_nprandom_pcg64_double(g);
}

void mbrl_nprandom_pcg64_advance(mbrl_nprandom_pcg64 *g, uint64_t delta_hi, uint64_t delta_lo) {
  /* pcg_advance_lcg_128 (Brown, "Random Number Generation with Arbitrary Stride") */
  u128 delta = u128_of(delta_hi, delta_lo);
  u128 cur_mult = pcg_mult(), cur_plus = u128_of(g->inc_hi, g->inc_lo);
  u128 acc_mult = 1u, acc_plus = 0u;
  while (delta > 0) {
    if (delta & 1u) {
      acc_mult *= cur_mult;
      acc_plus = acc_plus * cur_mult + cur_plus;
    }
    cur_plus = (cur_mult + 1) * cur_plus;
    cur_mult *= cur_mult;
    delta >>= 1;
  }
  u128 state = acc_mult * u128_of(g->state_hi, g->state_lo) + acc_plus;
  g->state_hi = (uint64_t)(state >> 64);
  g->state_lo = (uint64_t)state;
}
