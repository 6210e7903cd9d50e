/* nn_batched.c - CPU twins of the ensemble ops in mbrl/nn_batched.h.
 *
 * Each batched op is one call of the matching public mbrl/nn.h op per member (the nn.h CPU
 * kernel paths, AVX-512 / AVX2 / generic, do the work); the losses are plain loops over the
 * MBRL_HD per-element math of nn_batched.h with double sums. No allocation.
 *
 * Threads: the members of the Linear and BatchNorm ops run in parallel (OpenMP, one member per
 * task, up to omp_get_max_threads(); serial inside an enclosing parallel region). A member's
 * arithmetic is the same whichever thread runs it, so results are bit for bit the same for
 * every thread count. The Gaussian NLL runs its members in parallel too, each member's sums
 * apart, then adds the members' partial sums in member order; the MSE loss stays serial. */
#include "mbrl/nn_batched.h"

#include <math.h>
#include <string.h>

void mbrl_nnb_linear_forward(float *y, const float *x, const float *W, const float *b, int M,
                             int B, int in, int out, size_t sx, size_t sp) {
  const size_t sy = (size_t)B * (size_t)out;
#pragma omp parallel for schedule(static, 1) if (M > 1)
  for (int m = 0; m < M; ++m)
    mbrl_nn_linear_forward(y + (size_t)m * sy, x + (size_t)m * sx, W + (size_t)m * sp,
                           b ? b + (size_t)m * sp : NULL, B, in, out);
}

void mbrl_nnb_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                              const float *W, int M, int B, int in, int out, size_t sx,
                              size_t sp) {
  const size_t sdy = (size_t)B * (size_t)out, sdx = (size_t)B * (size_t)in;
#pragma omp parallel for schedule(static, 1) if (M > 1)
  for (int m = 0; m < M; ++m)
    mbrl_nn_linear_backward(dx ? dx + (size_t)m * sdx : NULL, dW ? dW + (size_t)m * sp : NULL,
                            db ? db + (size_t)m * sp : NULL, dy + (size_t)m * sdy,
                            x + (size_t)m * sx, W + (size_t)m * sp, B, in, out);
}

void mbrl_nnb_bn_act_forward(float *y, float *mean, float *rstd, float *running_mean,
                             float *running_var, const float *x, const float *gamma,
                             const float *beta, int M, int B, int C, size_t sp, size_t sbuf,
                             float momentum, float eps, mbrl_act act, int train) {
  const size_t sa = (size_t)B * (size_t)C;
#pragma omp parallel for schedule(static, 1) if (M > 1)
  for (int m = 0; m < M; ++m) {
    float *ym = y + (size_t)m * sa;
    const float *xm = x + (size_t)m * sa;
    float *mu = mean + (size_t)m * (size_t)C, *rs = rstd + (size_t)m * (size_t)C;
    float *rm = running_mean + (size_t)m * sbuf, *rv = running_var + (size_t)m * sbuf;
    const float *g = gamma + (size_t)m * sp, *be = beta + (size_t)m * sp;
    if (train)
      mbrl_nn_batchnorm_forward_train(ym, mu, rs, rm, rv, xm, g, be, B, C, momentum, eps);
    else
      mbrl_nn_batchnorm_forward_eval(ym, mu, rs, xm, g, be, rm, rv, B, C, eps);
    if (act != MBRL_ACT_NONE) mbrl_nn_act_forward(ym, ym, sa, act);
  }
}

void mbrl_nnb_act_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                              const float *y, const float *x, const float *mean, const float *rstd,
                              const float *gamma, int M, int B, int C, size_t sp, mbrl_act act,
                              int train) {
  const size_t sa = (size_t)B * (size_t)C;
#pragma omp parallel for schedule(static, 1) if (M > 1)
  for (int m = 0; m < M; ++m) {
    float *dxm = dx + (size_t)m * sa;
    /* dL/d(BN output) into dx (nn.h: dx may alias dy), then BN backward in place */
    mbrl_nn_act_backward(dxm, dy + (size_t)m * sa, y + (size_t)m * sa, sa, act);
    mbrl_nn_batchnorm_backward(dxm, dgamma ? dgamma + (size_t)m * sp : NULL,
                               dbeta ? dbeta + (size_t)m * sp : NULL, dxm, x + (size_t)m * sa,
                               mean + (size_t)m * (size_t)C, rstd + (size_t)m * (size_t)C,
                               gamma + (size_t)m * sp, B, C, train);
  }
}

void mbrl_nnb_gaussian_nll(float *loss, float *member_loss, float *dout, float *dmax_logvar,
                           float *dmin_logvar, const float *out, const float *target,
                           const float *max_logvar, const float *min_logvar, int M, int B, int O,
                           float bound_coef) {
  /* per member: its mean NLL and its share of the bound gradients, each member's rows summed
   * in row order (members in parallel, 64 at a time); then the members' partials summed in
   * member order */
  enum { CHUNK = 64, W = 2 * MBRL_MAX_DIM + 1 };
  double part[CHUNK][W];
  float e_range[MBRL_MAX_DIM], e_negmin[MBRL_MAX_DIM];
  for (int j = 0; j < O; ++j) {
    e_range[j] = expf(max_logvar[j] - min_logvar[j]);
    e_negmin[j] = expf(-min_logvar[j]);
  }
  const float scale = 1.0f / (float)((size_t)B * (size_t)O);
  double total = 0.0, gmax[MBRL_MAX_DIM], gmin[MBRL_MAX_DIM];
  for (int j = 0; j < O; ++j) gmax[j] = gmin[j] = 0.0;
  for (int m0 = 0; m0 < M; m0 += CHUNK) {
    const int Mc = M - m0 < CHUNK ? M - m0 : CHUNK;
#pragma omp parallel for schedule(static, 1) if (Mc > 1)
    for (int i = 0; i < Mc; ++i) {
      const int m = m0 + i;
      double *pmax = part[i], *pmin = part[i] + MBRL_MAX_DIM, acc = 0.0;
      for (int j = 0; j < O; ++j) pmax[j] = pmin[j] = 0.0;
      for (int r = 0; r < B; ++r) {
        const size_t row = (size_t)m * (size_t)B + (size_t)r;
        const float *o = out + row * 2 * (size_t)O;
        const float *t = target + row * (size_t)O;
        float *d = dout ? dout + row * 2 * (size_t)O : NULL;
        for (int j = 0; j < O; ++j) {
          float g[4];
          acc += (double)mbrl_gaussian_nll_clamped(o[j], o[O + j], t[j], max_logvar[j],
                                                   min_logvar[j], e_range[j], e_negmin[j], g);
          if (d) {
            d[j] = g[0] * scale;
            d[O + j] = g[1] * scale;
          }
          pmax[j] += (double)(g[2] * scale);
          pmin[j] += (double)(g[3] * scale);
        }
      }
      const float ml = (float)(acc / ((double)B * (double)O));
      if (member_loss) member_loss[m] = ml;
      part[i][W - 1] = (double)ml;
    }
    for (int i = 0; i < Mc; ++i) {
      total += part[i][W - 1];
      for (int j = 0; j < O; ++j) {
        gmax[j] += part[i][j];
        gmin[j] += part[i][MBRL_MAX_DIM + j];
      }
    }
  }
  double pen = 0.0;
  for (int j = 0; j < O; ++j) pen += (double)max_logvar[j] - (double)min_logvar[j];
  if (loss) *loss = (float)(total + (double)bound_coef * pen);
  for (int j = 0; j < O; ++j) {
    if (dmax_logvar) dmax_logvar[j] = (float)(gmax[j] + (double)bound_coef);
    if (dmin_logvar) dmin_logvar[j] = (float)(gmin[j] - (double)bound_coef);
  }
}

void mbrl_nnb_mse_loss(float *loss, float *member_loss, float *dpred, const float *pred,
                       const float *target, int M, int B, int O) {
  const size_t n = (size_t)B * (size_t)O;
  const float scale = 2.0f / (float)n;
  double total = 0.0;
  for (int m = 0; m < M; ++m) {
    const float *p = pred + (size_t)m * n, *t = target + (size_t)m * n;
    double acc = 0.0;
    for (size_t i = 0; i < n; ++i) {
      const float d = p[i] - t[i];
      acc += (double)d * (double)d;
      if (dpred) dpred[(size_t)m * n + i] = scale * d;
    }
    const float ml = (float)(acc / (double)n);
    if (member_loss) member_loss[m] = ml;
    total += (double)ml;
  }
  if (loss) *loss = (float)total;
}

void mbrl_nnb_gaussian_split(float *mean, float *logvar, const float *out,
                             const float *max_logvar, const float *min_logvar, size_t rows,
                             int O) {
  for (size_t r = 0; r < rows; ++r) {
    const float *o = out + r * 2 * (size_t)O;
    for (int j = 0; j < O; ++j) {
      mean[r * (size_t)O + (size_t)j] = o[j];
      if (logvar)
        logvar[r * (size_t)O + (size_t)j] =
            mbrl_logvar_clamp(o[O + j], max_logvar[j], min_logvar[j], NULL);
    }
  }
}

void mbrl_nnb_gather_rows(float *y, const float *X, const int32_t *idx, size_t n, int C) {
  for (size_t i = 0; i < n; ++i)
    memcpy(y + i * (size_t)C, X + (size_t)idx[i] * (size_t)C, (size_t)C * sizeof(float));
}
