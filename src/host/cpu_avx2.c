/* cpu_avx2.c - the CPU kernels (src/host/cpu/) compiled for the avx2 path: host/simd.h sets the
 * target and the vector width for everything after it, cpu/table.c includes every kernel
 * source and defines the path's table (host/cpu_kernels.h). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "host/cpu_kernels.h"
#include "host/nn_math.h"
#include "mbrl/dataset.h"
#include "mbrl/envs/pendulum.h"
#include "mbrl/philox.h"

#if defined(__x86_64__)
#define MBRL_SIMD_AVX2 1
#include "host/simd.h"
#include "host/vmath.h"

#define MBRL_CPU_PATH_OF_avx2 MBRL_CPU_AVX2
#include "host/cpu/table.c"

MBRL_SIMD_END
#else
typedef int mbrl_cpu_avx2_unused; /* x86-64 only */
#endif
