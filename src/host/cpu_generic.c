/* cpu_generic.c - the CPU kernels (src/host/cpu/) compiled for the generic path: host/simd.h sets the
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

#define MBRL_SIMD_GENERIC 1
#include "host/simd.h"
#include "host/vmath.h"

#define MBRL_CPU_PATH_OF_generic MBRL_CPU_GENERIC
#include "host/cpu/table.c"

MBRL_SIMD_END

