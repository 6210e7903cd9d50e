/* philox_fill.c - CPU twin of the Philox fill ops (src/kernels/philox.cu is the CUDA twin).
 * Both call mbrl_philox_fill_block from include/mbrl/philox.h for every 4-word block. */
#include <stdint.h>

#include "mbrl/philox.h"
#include "mbrl/status.h"

/* Below this many blocks the OpenMP fork costs more than it saves. */
#define PHILOX_FILL_PAR_BLOCKS 16384

static mbrl_status philox_fill(const char *fn, uint32_t *out_u32, float *out_f32, size_t n,
                               uint64_t seed, uint64_t subsequence, uint64_t offset) {
  if (n == 0) return MBRL_OK;
  if (!out_u32 && !out_f32)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: out is NULL but n = %zu; pass a buffer of n elements",
                          fn, n);
  mbrl_philox base;
  mbrl_philox_init(&base, seed, subsequence, offset);
  int64_t nb = (int64_t)mbrl_philox_fill_blocks(&base, (uint64_t)n);
#pragma omp parallel for schedule(static) if (nb > PHILOX_FILL_PAR_BLOCKS)
  for (int64_t j = 0; j < nb; ++j) mbrl_philox_fill_block(&base, (uint64_t)j, (uint64_t)n, out_u32, out_f32);
  return MBRL_OK;
}

mbrl_status mbrl_philox_fill_uniform(float *out, size_t n, uint64_t seed, uint64_t subsequence,
                                     uint64_t offset) {
  return philox_fill("mbrl_philox_fill_uniform", NULL, out, n, seed, subsequence, offset);
}

mbrl_status mbrl_philox_fill_u32(uint32_t *out, size_t n, uint64_t seed, uint64_t subsequence,
                                 uint64_t offset) {
  return philox_fill("mbrl_philox_fill_u32", out, NULL, n, seed, subsequence, offset);
}

mbrl_philox mbrl_philox_make(uint64_t seed, uint64_t subsequence, uint64_t offset) {
  mbrl_philox s;
  mbrl_philox_init(&s, seed, subsequence, offset);
  return s;
}
