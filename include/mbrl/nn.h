/* mbrl/nn.h - op-level neural-network primitives: a CPU twin and a CUDA twin per op.
 *
 * Conventions (llm.c style): outputs first, then inputs, then sizes and scalars.
 * Matrices are row-major; a batch of B rows of width C is (B, C). Linear weights use
 * PyTorch's layout W (out, in), so y = x W^T + b. Every backward OVERWRITES its
 * gradient outputs (it never accumulates); a NULL gradient output is skipped.
 * CPU twins take host pointers and never fail (sizes are checked by the caller, the
 * mlp module). CUDA twins take device pointers, have the same arguments plus a
 * `void *stream` (a cudaStream_t, NULL = default stream), launch asynchronously and
 * return MBRL_ERR_CUDA with a message if a launch or cuBLAS call fails. Scalars that a
 * CPU twin returns through a pointer (loss, norm) are device pointers for the CUDA twin.
 * Per-element math shared by both twins lives in src/host/nn_math.h.
 * The CPU twins run on the CPU kernel path in use (mbrl/cpu.h: avx512, avx2 or generic, chosen
 * from cpuid or forced with MBRL_CPU_KERNELS), single-threaded, no allocation. On one path the
 * same inputs give the same bits, and a Linear's output row depends only on its input row (not
 * on the batch size or the row's position), so a model predicts the same in any chunking;
 * BatchNorm in training mode depends on the batch by definition. Adam, RMSprop and unfused
 * BatchNorm are bit-identical on every path; the products differ between paths only in
 * rounding (FMA or not, summation trees), within the tolerances tests/test_cpu_paths.cpp
 * writes down. */
#ifndef MBRL_NN_H
#define MBRL_NN_H

#include <stddef.h>

#include "mbrl/common.h"
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

/* Hidden-layer activation. */
typedef enum mbrl_act {
  MBRL_ACT_NONE = 0, /* identity */
  MBRL_ACT_RELU = 1,
  MBRL_ACT_TANH = 2
} mbrl_act;

/* ---------------- CPU twins (host pointers) ---------------- */

/* y = x W^T + b. x (B, in), W (out, in), b (out) or NULL, y (B, out). */
void mbrl_nn_linear_forward(float *y, const float *x, const float *W, const float *b, int B,
                            int in, int out);

/* From dy (B, out): dx = dy W (B, in), dW = dy^T x (out, in), db = sum_rows dy (out).
 * Any of dx, dW, db may be NULL (skipped). Overwrites. */
void mbrl_nn_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                             const float *W, int B, int in, int out);

/* BatchNorm1d, training mode (PyTorch): normalize with the batch mean and biased variance;
 * mean, rstd (C) receive the batch mean and 1/sqrt(var_biased + eps) for the backward;
 * running_mean/var (C) <- (1-momentum)*running + momentum*batch (variance UNBIASED, B/(B-1)).
 * x, y (B, C), gamma, beta (C). Needs B >= 2. y may alias x. */
void mbrl_nn_batchnorm_forward_train(float *y, float *mean, float *rstd, float *running_mean,
                                     float *running_var, const float *x, const float *gamma,
                                     const float *beta, int B, int C, float momentum, float eps);

/* BatchNorm1d, eval mode: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta.
 * mean, rstd (C) may be NULL; when given they receive running_mean and 1/sqrt(running_var+eps)
 * so that mbrl_nn_batchnorm_backward(..., train=0) can run after an eval forward. y may alias x. */
void mbrl_nn_batchnorm_forward_eval(float *y, float *mean, float *rstd, const float *x,
                                    const float *gamma, const float *beta,
                                    const float *running_mean, const float *running_var, int B,
                                    int C, float eps);

/* BatchNorm1d backward from dy (B, C) with the forward's input x (B, C) and its saved mean,
 * rstd (C). train=1: through the batch statistics (PyTorch training mode); train=0: statistics
 * held constant (eval mode). dx (B, C) may be NULL or alias dy; dgamma, dbeta (C) may be NULL. */
void mbrl_nn_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                                const float *x, const float *mean, const float *rstd,
                                const float *gamma, int B, int C, int train);

/* y = act(x) elementwise over n values; y may alias x. */
void mbrl_nn_act_forward(float *y, const float *x, size_t n, mbrl_act act);

/* dx = dy * act'(.) computed from the forward's OUTPUT y (relu: y > 0, tanh: 1 - y^2).
 * dx may alias dy. */
void mbrl_nn_act_backward(float *dx, const float *dy, const float *y, size_t n, mbrl_act act);

/* MSE averaged over all n values (PyTorch F.mse_loss, reduction 'mean'):
 * *loss = mean((pred - target)^2); dpred (n) = 2 (pred - target) / n, or NULL. */
void mbrl_nn_mse_loss(float *loss, float *dpred, const float *pred, const float *target,
                      size_t n);

/* One torch.optim.Adam step (torch 1.13 _single_tensor_adam, no weight decay/amsgrad) over n
 * values: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). `step` is t after increment (1 first). */
void mbrl_nn_adam_step(float *p, float *m, float *v, const float *g, size_t n, float lr,
                       float beta1, float beta2, float eps, long long step);

/* One torch.optim.RMSprop step (not centered, no momentum) over n values:
 * sq = alpha sq + (1-alpha) g^2; p -= lr * g / (sqrt(sq) + eps). */
void mbrl_nn_rmsprop_step(float *p, float *sq, const float *g, size_t n, float lr, float alpha,
                          float eps);

/* torch.nn.utils.clip_grad_norm_ over one flat gradient array g (n): total L2 norm;
 * g *= min(1, max_norm / (norm + 1e-6)). *norm (may be NULL) receives the norm before clipping. */
void mbrl_nn_clip_grad_norm(float *g, float *norm, size_t n, float max_norm);

/* ---------------- CUDA twins (device pointers; same arguments + stream) ---------------- */
#ifdef MBRL_HAVE_CUDA
mbrl_status mbrl_nn_linear_forward_cuda(float *y, const float *x, const float *W, const float *b,
                                        int B, int in, int out, void *stream);
mbrl_status mbrl_nn_linear_backward_cuda(float *dx, float *dW, float *db, const float *dy,
                                         const float *x, const float *W, int B, int in, int out,
                                         void *stream);
mbrl_status mbrl_nn_batchnorm_forward_train_cuda(float *y, float *mean, float *rstd,
                                                 float *running_mean, float *running_var,
                                                 const float *x, const float *gamma,
                                                 const float *beta, int B, int C, float momentum,
                                                 float eps, void *stream);
mbrl_status mbrl_nn_batchnorm_forward_eval_cuda(float *y, float *mean, float *rstd,
                                                const float *x, const float *gamma,
                                                const float *beta, const float *running_mean,
                                                const float *running_var, int B, int C, float eps,
                                                void *stream);
mbrl_status mbrl_nn_batchnorm_backward_cuda(float *dx, float *dgamma, float *dbeta,
                                            const float *dy, const float *x, const float *mean,
                                            const float *rstd, const float *gamma, int B, int C,
                                            int train, void *stream);
mbrl_status mbrl_nn_act_forward_cuda(float *y, const float *x, size_t n, mbrl_act act,
                                     void *stream);
mbrl_status mbrl_nn_act_backward_cuda(float *dx, const float *dy, const float *y, size_t n,
                                      mbrl_act act, void *stream);
/* loss: a device pointer to one float. */
mbrl_status mbrl_nn_mse_loss_cuda(float *loss, float *dpred, const float *pred,
                                  const float *target, size_t n, void *stream);
mbrl_status mbrl_nn_adam_step_cuda(float *p, float *m, float *v, const float *g, size_t n,
                                   float lr, float beta1, float beta2, float eps, long long step,
                                   void *stream);
mbrl_status mbrl_nn_rmsprop_step_cuda(float *p, float *sq, const float *g, size_t n, float lr,
                                      float alpha, float eps, void *stream);
/* norm: a device pointer to one float, or NULL. No host synchronization. */
mbrl_status mbrl_nn_clip_grad_norm_cuda(float *g, float *norm, size_t n, float max_norm,
                                        void *stream);
#endif

MBRL_EXTERN_C_END

#endif
