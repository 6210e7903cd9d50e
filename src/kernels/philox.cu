/* philox.cu - CUDA twin of the Philox fill ops (src/host/philox_fill.c is the CPU twin).
 * One thread per 4-word block of the stream (grid-stride), each calling the same
 * mbrl_philox_fill_block as the CPU, so the two agree bit for bit. */
#include <cuda_runtime.h>
#include <stdint.h>

#include "mbrl/philox.h"
#include "mbrl/status.h"

#define PHILOX_THREADS 256
#define PHILOX_MAX_GRID 8192

__global__ void philox_fill_kernel(mbrl_philox base, uint64_t nblocks, uint64_t n, uint32_t *out_u32,
                                   float *out_f32) {
  uint64_t stride = (uint64_t)gridDim.x * blockDim.x;
  for (uint64_t j = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; j < nblocks; j += stride)
    mbrl_philox_fill_block(&base, j, n, out_u32, out_f32);
}

static mbrl_status philox_fill_cuda(const char *fn, uint32_t *out_u32, float *out_f32, size_t n,
                                    uint64_t seed, uint64_t subsequence, uint64_t offset, void *stream) {
  if (n == 0) return MBRL_OK;
  if (!out_u32 && !out_f32)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "%s: d_out is NULL but n = %zu; pass a device buffer of n elements", fn, n);
  mbrl_philox base;
  mbrl_philox_init(&base, seed, subsequence, offset);
  uint64_t nblocks = mbrl_philox_fill_blocks(&base, (uint64_t)n);
  uint64_t grid = MBRL_CEIL_DIV(nblocks, (uint64_t)PHILOX_THREADS);
  if (grid > PHILOX_MAX_GRID) grid = PHILOX_MAX_GRID;
  philox_fill_kernel<<<(unsigned)grid, PHILOX_THREADS, 0, (cudaStream_t)stream>>>(base, nblocks, (uint64_t)n,
                                                                                 out_u32, out_f32);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    return mbrl_set_error(MBRL_ERR_CUDA, "%s: kernel launch failed for n = %zu: %s", fn, n,
                          cudaGetErrorString(err));
  return MBRL_OK;
}

mbrl_status mbrl_philox_fill_uniform_cuda(float *d_out, size_t n, uint64_t seed, uint64_t subsequence,
                                          uint64_t offset, void *stream) {
  return philox_fill_cuda("mbrl_philox_fill_uniform_cuda", NULL, d_out, n, seed, subsequence, offset,
                          stream);
}

mbrl_status mbrl_philox_fill_u32_cuda(uint32_t *d_out, size_t n, uint64_t seed, uint64_t subsequence,
                                      uint64_t offset, void *stream) {
  return philox_fill_cuda("mbrl_philox_fill_u32_cuda", d_out, NULL, n, seed, subsequence, offset, stream);
}
