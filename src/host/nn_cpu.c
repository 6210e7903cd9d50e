/* nn_cpu.c - CPU twins of the ops in mbrl/nn.h and the private fused ops of host/nn_cpu.h: each
 * hands its arguments to the kernel path in use (mbrl/cpu.h). The kernels themselves are in
 * src/host/cpu/nn.c, written once against host/simd.h and compiled for avx512, avx2 and
 * generic (host/cpu_kernels.h). */
#include <math.h>

#include "host/cpu_kernels.h"
#include "host/nn_cpu.h"
#include "mbrl/cpu.h"
#include "mbrl/nn.h"

#define K() mbrl_cpu_table_get()

const char *mbrl_nn_cpu_kernels(void) { return mbrl_cpu_path_name(mbrl_cpu_kernels()); }

void mbrl_nn_linear_forward(float *y, const float *x, const float *W, const float *b, int B,
                            int in, int out) {
  K()->linear_forward(y, x, W, b, B, in, out, 0);
}

void mbrl_nn_cpu_linear_forward_sparse(float *y, const float *x, const float *W, const float *b,
                                       int B, int in, int out) {
  K()->linear_forward(y, x, W, b, B, in, out, 1);
}

void mbrl_nn_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                             const float *W, int B, int in, int out) {
  K()->linear_backward(dx, dW, db, dy, x, W, B, in, out, 0);
}

void mbrl_nn_cpu_linear_backward_sparse(float *dx, float *dW, float *db, const float *dy,
                                        const float *x, const float *W, int B, int in, int out) {
  K()->linear_backward(dx, dW, db, dy, x, W, B, in, out, 1);
}

void mbrl_nn_batchnorm_forward_train(float *y, float *mean, float *rstd, float *running_mean,
                                     float *running_var, const float *x, const float *gamma,
                                     const float *beta, int B, int C, float momentum, float eps) {
  K()->bn_forward_train(y, mean, rstd, running_mean, running_var, x, gamma, beta, B, C, momentum,
                        eps);
}

void mbrl_nn_batchnorm_forward_eval(float *y, float *mean, float *rstd, const float *x,
                                    const float *gamma, const float *beta,
                                    const float *running_mean, const float *running_var, int B,
                                    int C, float eps) {
  K()->bn_forward_eval(y, mean, rstd, x, gamma, beta, running_mean, running_var, B, C, eps);
}

void mbrl_nn_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                                const float *x, const float *mean, const float *rstd,
                                const float *gamma, int B, int C, int train) {
  K()->bn_backward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, B, C, train);
}

void mbrl_nn_cpu_bn_act_forward_train(float *a, float *mean, float *rstd, float *running_mean,
                                      float *running_var, const float *z, const float *gamma,
                                      const float *beta, int B, int C, float momentum, float eps,
                                      mbrl_act act) {
  K()->bn_act_forward_train(a, mean, rstd, running_mean, running_var, z, gamma, beta, B, C,
                            momentum, eps, act);
}

void mbrl_nn_cpu_act_bn_backward(float *dz, float *dgamma, float *dbeta, float *db,
                                 const float *da, const float *a, const float *z,
                                 const float *mean, const float *rstd, const float *gamma, int B,
                                 int C, mbrl_act act, int train) {
  K()->act_bn_backward(dz, dgamma, dbeta, db, da, a, z, mean, rstd, gamma, B, C, act, train);
}

void mbrl_nn_cpu_linear_act_bn_backward(float *dz, float *dgamma, float *dbeta, float *db,
                                        const float *dy, const float *W, int K, const float *a,
                                        const float *z, const float *mean, const float *rstd,
                                        const float *gamma, int B, int C, mbrl_act act,
                                        int train) {
  K()->linear_act_bn_backward(dz, dgamma, dbeta, db, dy, W, K, a, z, mean, rstd, gamma, B, C, act,
                              train);
}

void mbrl_nn_act_forward(float *y, const float *x, size_t n, mbrl_act act) {
  K()->act_forward(y, x, n, act);
}

void mbrl_nn_act_backward(float *dx, const float *dy, const float *y, size_t n, mbrl_act act) {
  K()->act_backward(dx, dy, y, n, act);
}

void mbrl_nn_mse_loss(float *loss, float *dpred, const float *pred, const float *target,
                      size_t n) {
  K()->mse_loss(loss, dpred, pred, target, n);
}

void mbrl_nn_adam_step(float *p, float *m, float *v, const float *g, size_t n, float lr,
                       float beta1, float beta2, float eps, long long step) {
  /* as torch: bias corrections in double on the host, used as float scalars */
  const double bc1 = 1.0 - pow((double)beta1, (double)step);
  const double bc2 = 1.0 - pow((double)beta2, (double)step);
  const float step_size = (float)((double)lr / bc1);
  const float bc2_sqrt = (float)sqrt(bc2);
  K()->adam(p, m, v, g, n, beta1, beta2, step_size, bc2_sqrt, eps);
}

void mbrl_nn_rmsprop_step(float *p, float *sq, const float *g, size_t n, float lr, float alpha,
                          float eps) {
  K()->rmsprop(p, sq, g, n, lr, alpha, eps);
}

float mbrl_nn_cpu_sumsq(const float *g, size_t n) { return K()->sumsq(g, n); }

void mbrl_nn_clip_grad_norm(float *g, float *norm, size_t n, float max_norm) {
  double acc = 0.0;
  for (size_t i = 0; i < n; ++i) acc += (double)g[i] * (double)g[i];
  const float total = (float)sqrt(acc);
  if (norm) *norm = total;
  float coef = max_norm / (total + 1e-6f);
  if (coef < 1.0f)
    for (size_t i = 0; i < n; ++i) g[i] *= coef;
}
