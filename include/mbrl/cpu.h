/* mbrl/cpu.h - the CPU kernel path: which SIMD code the CPU twins run, what this CPU offers,
 * and how to force a path.
 *
 * Every CPU hot path (the MLP ops of mbrl/nn.h, the planner's rollout, A2C's softmax and
 * activations) is written once against a SIMD width abstraction and compiled for three paths:
 *   avx512   x86-64 with AVX-512 F/VL/DQ/BW (+ AVX2, FMA, BMI1/2, POPCNT)
 *   avx2     x86-64 with AVX2 + FMA (+ BMI1/2, POPCNT): every x86-64 CPU of the last ten years
 *   generic  portable C (vector extensions the compiler maps to SSE2, NEON, ...), any CPU
 * The path is chosen once per process: the environment variable MBRL_CPU_KERNELS
 * (avx512|avx2|generic) when set, else the best this CPU runs. mbrl_cpu_set_kernels changes it.
 * For tests, MBRL_CPU_MASK="avx512f ..." makes the library treat those features as absent
 * (an AVX-512 machine then behaves as an AVX2-only one).
 *
 * Reproducibility: on one path, the same shapes and inputs give the same bits (no threads
 * inside an op, no alignment-dependent code; a Linear's row does not depend on how many rows
 * are in the call). The paths differ only in rounding: avx512 and avx2 fuse multiply-adds,
 * generic does not, and the widths change summation trees; the tests bound the differences. */
#ifndef MBRL_CPU_H
#define MBRL_CPU_H

#include "mbrl/common.h"
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

typedef enum mbrl_cpu_path {
  MBRL_CPU_GENERIC = 0,
  MBRL_CPU_AVX2 = 1,
  MBRL_CPU_AVX512 = 2
} mbrl_cpu_path;
#define MBRL_CPU_PATH_COUNT 3

/* "generic", "avx2", "avx512" ("?" for anything else). */
const char *mbrl_cpu_path_name(mbrl_cpu_path p);

/* Parse a path name as MBRL_CPU_KERNELS takes it; MBRL_ERR_INVALID_ARG names the choices. */
mbrl_status mbrl_cpu_path_parse(const char *name, mbrl_cpu_path *out);

/* 1 if this build and CPU can run path p (generic always; avx2/avx512 on x86-64 CPUs, and an
 * OS, that have every feature listed above). */
int mbrl_cpu_supports(mbrl_cpu_path p);

/* The best path this CPU runs. */
mbrl_cpu_path mbrl_cpu_best(void);

/* The CPU's features that the paths use, space-separated ("avx512f avx512vl avx512dq avx512bw
 * avx2 fma bmi bmi2 popcnt"; "none" when it has none of them; "not x86-64" elsewhere). */
const char *mbrl_cpu_features(void);

/* The path in use. The first call reads MBRL_CPU_KERNELS; when it is set to a path this CPU
 * lacks (or to something that is not a path), the best path is used and mbrl_cpu_check()
 * reports the error. Never fails. */
mbrl_cpu_path mbrl_cpu_kernels(void);

/* MBRL_OK, or the error with MBRL_CPU_KERNELS (MBRL_ERR_UNSUPPORTED: the CPU lacks the path,
 * the message names the variable, the path and the CPU's features; MBRL_ERR_INVALID_ARG: not a
 * path name). The apps call it first and exit 1 on an error; constructors that run CPU kernels
 * (mlp, planner, a2c on the CPU backend) return it. */
mbrl_status mbrl_cpu_check(void);

/* Use path p from now on in this process (tests, benchmarks): MBRL_ERR_UNSUPPORTED when the CPU
 * lacks it (nothing changes). Clears an MBRL_CPU_KERNELS error. Call it between operations,
 * not while another thread runs CPU kernels. */
mbrl_status mbrl_cpu_set_kernels(mbrl_cpu_path p);

MBRL_EXTERN_C_END

#endif
