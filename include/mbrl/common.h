/* mbrl/common.h - macros shared by host C, CUDA C and C++ tests.
 *
 * MBRL_HD marks a function compiled for host and device: per-element math
 * (activation, BatchNorm apply, Adam, pendulum physics, Philox) is written once
 * as `MBRL_HD static inline` and called by the CPU twin and the CUDA kernel. */
#ifndef MBRL_COMMON_H
#define MBRL_COMMON_H

#ifdef __CUDACC__
#define MBRL_HD __host__ __device__
#else
#define MBRL_HD
#endif

#ifdef __cplusplus
#define MBRL_EXTERN_C_BEGIN extern "C" {
#define MBRL_EXTERN_C_END }
#else
#define MBRL_EXTERN_C_BEGIN
#define MBRL_EXTERN_C_END
#endif

#define MBRL_CEIL_DIV(a, b) (((a) + (b) - 1) / (b))

/* Largest observation / action width any env or dataset uses (fixed-size stats). */
#define MBRL_MAX_DIM 16

#endif
