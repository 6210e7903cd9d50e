/* src/host/nn_cpu.h - private to the library: facts about the CPU twins in nn_cpu.c. */
#ifndef MBRL_SRC_HOST_NN_CPU_H
#define MBRL_SRC_HOST_NN_CPU_H

#include "mbrl/common.h"
#include "mbrl/nn.h"

MBRL_EXTERN_C_BEGIN

/* The kernel path the CPU ops run on: mbrl_cpu_path_name(mbrl_cpu_kernels()) (mbrl/cpu.h). */
const char *mbrl_nn_cpu_kernels(void);

/* mbrl_nn_linear_forward for an input x (B, in) that is mostly exact zeros (a ReLU output): only
 * the nonzero x[r, k] take part (the result then differs from the dense product only where a
 * weight is Inf or NaN, whose 0 * w would be NaN, or in the sign of an exact zero). */
void mbrl_nn_cpu_linear_forward_sparse(float *y, const float *x, const float *W, const float *b,
                                       int B, int in, int out);

/* mbrl_nn_linear_backward for a forward input x (B, in) that is mostly exact zeros: dW sums
 * over the nonzero x only (same caveat as above for non-finite dy). */
void mbrl_nn_cpu_linear_backward_sparse(float *dx, float *dW, float *db, const float *dy,
                                        const float *x, const float *W, int B, int in, int out);

/* a = act(BatchNorm1d_train(z)): mbrl_nn_batchnorm_forward_train followed by
 * mbrl_nn_act_forward, in one set of passes. z, a (B, C) (a may alias z);
 * mean, rstd, running_mean, running_var, gamma, beta (C) as in mbrl/nn.h. */
void mbrl_nn_cpu_bn_act_forward_train(float *a, float *mean, float *rstd, float *running_mean,
                                      float *running_var, const float *z, const float *gamma,
                                      const float *beta, int B, int C, float momentum, float eps,
                                      mbrl_act act);

/* Backward of a = act(BatchNorm1d(z)) from da (B, C) = dL/da: dz (B, C) (may alias da),
 * dgamma, dbeta (C) as mbrl_nn_batchnorm_backward, and db (C) = sum over rows of dz (the bias
 * gradient of the Linear that produced z); dgamma, dbeta, db may be NULL. a: forward output. */
void mbrl_nn_cpu_act_bn_backward(float *dz, float *dgamma, float *dbeta, float *db,
                                 const float *da, const float *a, const float *z,
                                 const float *mean, const float *rstd, const float *gamma, int B,
                                 int C, mbrl_act act, int train);

/* Backward through the NEXT Linear's input and this layer's act(BatchNorm1d(z)): da = dy W
 * (dy (B, K) = dL/d(next Linear's output), W (K, C) its weight), then as
 * mbrl_nn_cpu_act_bn_backward. Each row tile of the product is put through act' and summed
 * while in L1 (one pass over the batch fewer). dz (B, C) must not alias dy. */
void mbrl_nn_cpu_linear_act_bn_backward(float *dz, float *dgamma, float *dbeta, float *db,
                                        const float *dy, const float *W, int K, const float *a,
                                        const float *z, const float *mean, const float *rstd,
                                        const float *gamma, int B, int C, mbrl_act act,
                                        int train);

/* sum over i of g[i]^2 in float, in the kernel path's fixed order (vector partial sums, then
 * the lanes' tree): deterministic for a given path and n. */
float mbrl_nn_cpu_sumsq(const float *g, size_t n);

MBRL_EXTERN_C_END

#endif
