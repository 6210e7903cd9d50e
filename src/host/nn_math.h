/* src/host/nn_math.h - per-element math shared by the CPU ops (nn_cpu.c) and the CUDA
 * kernels (src/kernels, .cu files): activations, BatchNorm apply, Adam and RMSprop updates.
 * Each function is the exact float arithmetic of the PyTorch 1.13 CPU op it mirrors. */
#ifndef MBRL_SRC_HOST_NN_MATH_H
#define MBRL_SRC_HOST_NN_MATH_H

#include <math.h>

#include "mbrl/common.h"
#include "mbrl/nn.h"

MBRL_HD static inline float mbrl_relu_fwd(float x) { return x > 0.0f ? x : 0.0f; }
/* From the forward OUTPUT y. */
MBRL_HD static inline float mbrl_relu_bwd(float dy, float y) { return y > 0.0f ? dy : 0.0f; }
MBRL_HD static inline float mbrl_tanh_fwd(float x) { return tanhf(x); }
/* From the forward OUTPUT y: d tanh = 1 - y^2. */
MBRL_HD static inline float mbrl_tanh_bwd(float dy, float y) { return dy * (1.0f - y * y); }

MBRL_HD static inline float mbrl_act_fwd(float x, mbrl_act act) {
  return act == MBRL_ACT_RELU ? mbrl_relu_fwd(x) : act == MBRL_ACT_TANH ? mbrl_tanh_fwd(x) : x;
}
MBRL_HD static inline float mbrl_act_bwd(float dy, float y, mbrl_act act) {
  return act == MBRL_ACT_RELU ? mbrl_relu_bwd(dy, y) : act == MBRL_ACT_TANH ? mbrl_tanh_bwd(dy, y) : dy;
}

/* BatchNorm apply as PyTorch's CPU kernel: y = x * scale + shift with
 * scale = rstd * gamma, shift = beta - mean * scale (per channel, see mbrl_bn_scale_shift). */
MBRL_HD static inline void mbrl_bn_scale_shift(float mean, float rstd, float gamma, float beta,
                                               float *scale, float *shift) {
  float s = rstd * gamma;
  *scale = s;
  *shift = beta - mean * s;
}
MBRL_HD static inline float mbrl_bn_apply(float x, float scale, float shift) {
  return x * scale + shift;
}
/* 1 / sqrt(var + eps). */
MBRL_HD static inline float mbrl_bn_rstd(float var, float eps) { return 1.0f / sqrtf(var + eps); }
/* running <- (1 - momentum) * running + momentum * batch_value. */
MBRL_HD static inline float mbrl_bn_running(float running, float batch, float momentum) {
  return (1.0f - momentum) * running + momentum * batch;
}

/* Adam (torch 1.13 _single_tensor_adam): step_size = lr / (1 - b1^t) and
 * bc2_sqrt = sqrt(1 - b2^t) are computed once in double on the host and passed as floats. */
MBRL_HD static inline void mbrl_adam_update(float *p, float *m, float *v, float g, float beta1,
                                            float beta2, float step_size, float bc2_sqrt,
                                            float eps) {
  float mm = *m * beta1 + g * (1.0f - beta1);
  float vv = *v * beta2 + (1.0f - beta2) * (g * g);
  float denom = sqrtf(vv) / bc2_sqrt + eps;
  *m = mm;
  *v = vv;
  *p = *p + (-step_size) * (mm / denom);
}

/* RMSprop (torch 1.13 _single_tensor_rmsprop, not centered, no momentum). */
MBRL_HD static inline void mbrl_rmsprop_update(float *p, float *sq, float g, float lr,
                                               float alpha, float eps) {
  float s = *sq * alpha + (1.0f - alpha) * (g * g);
  float avg = sqrtf(s) + eps;
  *sq = s;
  *p = *p + (-lr) * (g / avg);
}

#endif
