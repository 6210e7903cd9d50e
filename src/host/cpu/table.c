/* src/host/cpu/table.c - kernel source (compiled once per ISA, see host/simd.h): every kernel of
 * src/host/cpu/ and the table (host/cpu_kernels.h) that hands them to the library. */
#include "host/cpu/gemm.h"
#include "host/cpu/nn.c"
#include "host/cpu/pendulum.h"
#include "host/cpu/plan.c"
#include "host/cpu/a2c.c"
#include "host/cpu/vmath_eval.c"

const mbrl_cpu_table SIMD_SYM(mbrl_cpu_table) = {
    .path = SIMD_SYM(MBRL_CPU_PATH_OF),
    .linear_forward = SIMD_SYM(linear_forward),
    .linear_backward = SIMD_SYM(linear_backward),
    .bn_forward_train = SIMD_SYM(bn_forward_train),
    .bn_forward_eval = SIMD_SYM(bn_forward_eval),
    .bn_backward = SIMD_SYM(bn_backward),
    .bn_act_forward_train = SIMD_SYM(bn_act_forward_train),
    .act_bn_backward = SIMD_SYM(act_bn_backward),
    .linear_act_bn_backward = SIMD_SYM(linear_act_bn_backward),
    .act_forward = SIMD_SYM(act_forward),
    .act_backward = SIMD_SYM(act_backward),
    .mse_loss = SIMD_SYM(mse_loss),
    .adam = SIMD_SYM(adam),
    .rmsprop = SIMD_SYM(rmsprop),
    .sumsq = SIMD_SYM(sumsq),
    .plan_block = SIMD_SYM(plan_block),
    .softmax = SIMD_SYM(softmax),
    .vmath = SIMD_SYM(vmath_eval),
};
