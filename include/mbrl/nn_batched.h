/* mbrl/nn_batched.h - ops over an ensemble of M models of one architecture: M independent
 * copies of an mbrl/nn.h op in one call, and the ensemble's losses (Gaussian NLL with
 * learned log-variance bounds, per-member MSE).
 *
 * Layout: member m's part of an array with member stride s starts at p + m * s (floats).
 * Activations and their gradients are (M, B, C) contiguous (stride B * C). Parameters and
 * their gradients share one stride `sp` (floats per member: one flat array holds every member,
 * the dynamics ensemble's layout); BatchNorm running statistics have their own stride `sbuf`.
 * An input stride of 0 shares one input among all members (e.g. sx = 0: every member sees the
 * same x (B, in)).
 *
 * Conventions as mbrl/nn.h: outputs first, then inputs, sizes, scalars; Linear weights are
 * W (out, in), y = x W^T + b; backwards OVERWRITE their outputs; a NULL optional output is
 * skipped. CPU twins take host pointers and never fail (sizes are checked by the caller, the
 * dyn_ensemble module); each is one call of the matching public mbrl/nn.h op per member, so
 * the CPU kernel paths of nn.h (AVX-512, AVX2, generic) serve them. CUDA twins take device
 * pointers, have the same arguments plus a `void *stream` (a cudaStream_t, NULL = default),
 * run each op as ONE batched computation (cublasSgemmStridedBatched for the products; one
 * kernel whose grid's y dimension is the member for the per-feature ops), launch
 * asynchronously and return MBRL_ERR_CUDA with a message if a launch or cuBLAS call fails.
 * Scalars a CPU twin returns through a pointer are device pointers for the CUDA twin.
 * Per-element math shared by both twins (softplus, the log-variance clamp, the NLL terms) is
 * below, MBRL_HD. */
#ifndef MBRL_NN_BATCHED_H
#define MBRL_NN_BATCHED_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "mbrl/common.h"
#include "mbrl/nn.h"
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

/* ---------------------------------------------------------------- per-element math */

/* log1p(z) for z >= 0 through logf (Kahan's formula: w = 1 + z, log(w) * z / (w - 1), exact z
 * when w rounds to 1; a few ulp, as log1pf, at a fraction of glibc's log1pf cost). */
MBRL_HD static inline float mbrl_log1p_pos(float z) {
  const float w = 1.0f + z;
  return w == 1.0f ? z : logf(w) * (z / (w - 1.0f));
}

/* torch.nn.functional.softplus(x) (beta 1, threshold 20) from z = exp(x):
 * x > 20 ? x : log1p(z). */
MBRL_HD static inline float mbrl_softplus_from_exp(float x, float z) {
  return x > 20.0f ? x : mbrl_log1p_pos(z);
}
MBRL_HD static inline float mbrl_softplus(float x) { return mbrl_softplus_from_exp(x, expf(x)); }

/* d softplus / dx as PyTorch's softplus_backward: x > 20 ? 1 : z / (z + 1), z = exp(x). */
MBRL_HD static inline float mbrl_softplus_grad(float x) {
  if (x > 20.0f) return 1.0f;
  const float z = expf(x);
  return z / (z + 1.0f);
}

/* 1 - mbrl_softplus_grad(x) without cancellation: x > 20 ? 0 : 1 / (1 + exp(x)). */
MBRL_HD static inline float mbrl_softplus_grad_c(float x) {
  return x > 20.0f ? 0.0f : 1.0f / (1.0f + expf(x));
}

/* mbrl-lib GaussianMLP's soft clamp of a raw log-variance between the bounds:
 *   l1 = max_lv - softplus(max_lv - raw);  logvar = min_lv + softplus(l1 - min_lv).
 * Returns logvar; when d is not NULL, d[0] = dlogvar/draw, d[1] = dlogvar/dmax_lv,
 * d[2] = dlogvar/dmin_lv (PyTorch's softplus gradients; the 1 - softplus' factors are
 * formed as mbrl_softplus_grad_c, which float autograd would round to 0 far inside the
 * bounds). Two expf per call, shared by the values and the gradients. */
MBRL_HD static inline float mbrl_logvar_clamp(float raw, float max_lv, float min_lv, float *d) {
  const float u = max_lv - raw;
  const float zu = expf(u); /* Inf for u > 88: then only the u > 20 branches read u */
  const float l1 = max_lv - mbrl_softplus_from_exp(u, zu);
  const float v = l1 - min_lv;
  const float zv = expf(v);
  const float lv = min_lv + mbrl_softplus_from_exp(v, zv);
  if (d) {
    const float gv = v > 20.0f ? 1.0f : zv / (zv + 1.0f);
    d[0] = gv * (u > 20.0f ? 1.0f : zu / (zu + 1.0f));
    d[1] = gv * (u > 20.0f ? 0.0f : 1.0f / (1.0f + zu));
    d[2] = v > 20.0f ? 0.0f : 1.0f / (1.0f + zv);
  }
  return lv;
}

/* mbrl-lib's gaussian_nll term of one value (no 1/2, no log(2 pi)):
 *   (mean - target)^2 * exp(-logvar) + logvar.
 * When g is not NULL, g[0] = d/dmean = 2 (mean - target) exp(-logvar),
 * g[1] = d/dlogvar = 1 - (mean - target)^2 exp(-logvar). */
MBRL_HD static inline float mbrl_gaussian_nll_term(float mean, float logvar, float target,
                                                   float *g) {
  const float d = mean - target;
  const float l2 = d * d;
  const float inv_var = expf(-logvar);
  if (g) {
    g[0] = 2.0f * d * inv_var;
    g[1] = 1.0f - l2 * inv_var;
  }
  return l2 * inv_var + logvar;
}

/* One value's term of the Gaussian NLL with the clamp of mbrl_logvar_clamp fused in, for the
 * loss op: *term = (mean - target)^2 exp(-logvar) + logvar with logvar the clamp of raw, and
 * g[0..3] = d term / d (mean, raw, max_lv, min_lv). e_range = exp(max_lv - min_lv) and
 * e_negmin = exp(-min_lv) are per-dimension constants of the caller: with them
 * exp(v) = e_range / (1 + exp(u)) and exp(-logvar) = e_negmin / (1 + exp(v)) (u, v as in
 * mbrl_logvar_clamp) follow from the one expf(u), so a value costs one expf and two logf. */
MBRL_HD static inline float mbrl_gaussian_nll_clamped(float mean, float raw, float target,
                                                      float max_lv, float min_lv, float e_range,
                                                      float e_negmin, float *g) {
  const float u = max_lv - raw;
  const float zu = expf(u); /* Inf for u > 88: then only the u > 20 branches read it */
  const int su = u > 20.0f;
  const float l1 = max_lv - mbrl_softplus_from_exp(u, zu);
  const float v = l1 - min_lv;
  const float zv = su ? e_range / zu : e_range / (1.0f + zu);
  const int sv = v > 20.0f;
  const float lv = min_lv + mbrl_softplus_from_exp(v, zv);
  const float cv = sv ? 0.0f : 1.0f / (1.0f + zv); /* 1 - softplus'(v) */
  const float inv_var = sv ? e_negmin / zv : e_negmin * cv;
  const float d = mean - target, l2 = d * d;
  if (g) {
    const float glv = 1.0f - l2 * inv_var;
    const float gv = sv ? 1.0f : zv * cv; /* softplus'(v) */
    const float gu = su ? 1.0f : zu / (1.0f + zu), cu = su ? 0.0f : 1.0f / (1.0f + zu);
    g[0] = 2.0f * d * inv_var;
    g[1] = glv * gv * gu;
    g[2] = glv * gv * cu;
    g[3] = glv * cv;
  }
  return l2 * inv_var + lv;
}

/* ---------------------------------------------------------------- CPU twins (host pointers) */

/* y[m] (B, out) = x[m] W[m]^T + b[m] for m < M; x[m] = x + m*sx (B, in), W[m] = W + m*sp
 * (out, in), b[m] = b + m*sp (out) or b NULL; y (M, B, out) contiguous. */
void mbrl_nnb_linear_forward(float *y, const float *x, const float *W, const float *b, int M,
                             int B, int in, int out, size_t sx, size_t sp);

/* From dy (M, B, out): dx (M, B, in) = dy[m] W[m], dW[m] = dy[m]^T x[m] (out, in), db[m] = row
 * sums of dy[m] (out); dW, db with member stride sp, x with sx, W with sp. dx, dW, db may be
 * NULL (skipped). Overwrites. */
void mbrl_nnb_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                              const float *W, int M, int B, int in, int out, size_t sx, size_t sp);

/* y = act(BatchNorm1d(x)) per member, x, y (M, B, C). gamma, beta member stride sp;
 * running_mean, running_var stride sbuf; mean, rstd (M, C) contiguous receive the statistics
 * the backward needs. train=1: batch statistics (B >= 2), running statistics updated (as
 * mbrl_nn_batchnorm_forward_train); train=0: running statistics (as _forward_eval).
 * act NONE gives BatchNorm alone. y may alias x only when no backward follows. */
void mbrl_nnb_bn_act_forward(float *y, float *mean, float *rstd, float *running_mean,
                             float *running_var, const float *x, const float *gamma,
                             const float *beta, int M, int B, int C, size_t sp, size_t sbuf,
                             float momentum, float eps, mbrl_act act, int train);

/* Backward of y = act(BatchNorm1d(x)) from dy (M, B, C): dx (M, B, C) (required; may alias
 * dy), dgamma, dbeta (member stride sp, may be NULL). y: the forward's output, x its input,
 * mean, rstd (M, C) its saved statistics; train as in that forward. */
void mbrl_nnb_act_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                              const float *y, const float *x, const float *mean, const float *rstd,
                              const float *gamma, int M, int B, int C, size_t sp, mbrl_act act,
                              int train);

/* Gaussian NLL of M members (mbrl-lib GaussianMLP._nll_loss): out (M, B, 2*O) holds per row
 * the mean (O) then the raw log-variance (O); target (M, B, O); max_logvar, min_logvar (O)
 * shared by all members, O <= MBRL_MAX_DIM. logvar = mbrl_logvar_clamp(raw, max, min) and
 *   member_loss[m] = mean over (B, O) of mbrl_gaussian_nll_term(mean, logvar, target),
 *   *loss = sum_m member_loss[m] + bound_coef * (sum max_logvar - sum min_logvar).
 * Gradients of *loss: dout (M, B, 2*O) (w.r.t. mean and RAW log-variance), dmax_logvar,
 * dmin_logvar (O) (summed over members, penalty included). Sums in double. member_loss,
 * dout, dmax_logvar, dmin_logvar may be NULL. */
void mbrl_nnb_gaussian_nll(float *loss, float *member_loss, float *dout, float *dmax_logvar,
                           float *dmin_logvar, const float *out, const float *target,
                           const float *max_logvar, const float *min_logvar, int M, int B, int O,
                           float bound_coef);

/* Per-member MSE (each member the seed's F.mse_loss, mean over its (B, O) values):
 * member_loss[m] = mean over (B, O) of (pred - target)^2, *loss = sum_m member_loss[m],
 * dpred (M, B, O) = 2 (pred - target) / (B * O). pred, target (M, B, O). Sums in double.
 * member_loss, dpred may be NULL. */
void mbrl_nnb_mse_loss(float *loss, float *member_loss, float *dpred, const float *pred,
                       const float *target, int M, int B, int O);

/* Split Gaussian head outputs: out (rows, 2*O) -> mean (rows, O) and logvar (rows, O) =
 * mbrl_logvar_clamp(raw, max_logvar, min_logvar); logvar may be NULL. */
void mbrl_nnb_gaussian_split(float *mean, float *logvar, const float *out,
                             const float *max_logvar, const float *min_logvar, size_t rows, int O);

/* y (n, C) = rows idx[0..n) of X (., C) (a minibatch gather). */
void mbrl_nnb_gather_rows(float *y, const float *X, const int32_t *idx, size_t n, int C);

/* ---------------------------------------------------------------- CUDA twins */
#ifdef MBRL_HAVE_CUDA
mbrl_status mbrl_nnb_linear_forward_cuda(float *y, const float *x, const float *W, const float *b,
                                         int M, int B, int in, int out, size_t sx, size_t sp,
                                         void *stream);
mbrl_status mbrl_nnb_linear_backward_cuda(float *dx, float *dW, float *db, const float *dy,
                                          const float *x, const float *W, int M, int B, int in,
                                          int out, size_t sx, size_t sp, void *stream);
mbrl_status mbrl_nnb_bn_act_forward_cuda(float *y, float *mean, float *rstd, float *running_mean,
                                         float *running_var, const float *x, const float *gamma,
                                         const float *beta, int M, int B, int C, size_t sp,
                                         size_t sbuf, float momentum, float eps, mbrl_act act,
                                         int train, void *stream);
mbrl_status mbrl_nnb_act_bn_backward_cuda(float *dx, float *dgamma, float *dbeta, const float *dy,
                                          const float *y, const float *x, const float *mean,
                                          const float *rstd, const float *gamma, int M, int B,
                                          int C, size_t sp, mbrl_act act, int train, void *stream);
/* loss, member_loss: device pointers. One block: deterministic. */
mbrl_status mbrl_nnb_gaussian_nll_cuda(float *loss, float *member_loss, float *dout,
                                       float *dmax_logvar, float *dmin_logvar, const float *out,
                                       const float *target, const float *max_logvar,
                                       const float *min_logvar, int M, int B, int O,
                                       float bound_coef, void *stream);
mbrl_status mbrl_nnb_mse_loss_cuda(float *loss, float *member_loss, float *dpred,
                                   const float *pred, const float *target, int M, int B, int O,
                                   void *stream);
mbrl_status mbrl_nnb_gaussian_split_cuda(float *mean, float *logvar, const float *out,
                                         const float *max_logvar, const float *min_logvar,
                                         size_t rows, int O, void *stream);
mbrl_status mbrl_nnb_gather_rows_cuda(float *y, const float *X, const int32_t *idx, size_t n,
                                      int C, void *stream);
#endif

MBRL_EXTERN_C_END

#endif
