/* nn_cpu.c - CPU twins of the ops in mbrl/nn.h.
 *
 * Matrix products go to OpenBLAS cblas_sgemm when the product is big enough to pay for its
 * call overhead (MBRL_NN_GEMM_MIN_FLOPS) and to tight C loops otherwise (tiny widths such as
 * the 4-wide input or 3-wide output of the dynamics model). Everything else is a loop over
 * rows with the channel index innermost, so the compiler vectorizes across channels.
 * No allocation anywhere: every buffer is the caller's. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "host/nn_math.h"
#include "mbrl/nn.h"

/* Products with fewer multiply-adds than this use the plain loops below. */
#define MBRL_NN_GEMM_MIN_FLOPS 16384

/* ---- Linear ---- */

void mbrl_nn_linear_forward(float *y, const float *x, const float *W, const float *b, int B,
                            int in, int out) {
  if ((long)B * in * out >= MBRL_NN_GEMM_MIN_FLOPS && in >= 8) {
    if (b) {
      for (int r = 0; r < B; ++r) memcpy(y + (size_t)r * out, b, sizeof(float) * (size_t)out);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, out, in, 1.0f, x, in, W, in,
                b ? 1.0f : 0.0f, y, out);
    return;
  }
  if (out <= in) {
    /* narrow output (e.g. 64 -> 3): dot products along the contiguous input row */
    for (int r = 0; r < B; ++r) {
      const float *xr = x + (size_t)r * in;
      float *yr = y + (size_t)r * out;
      for (int o = 0; o < out; ++o) {
        const float *w = W + (size_t)o * in;
        float acc = 0.0f;
        for (int i = 0; i < in; ++i) acc += xr[i] * w[i];
        yr[o] = b ? acc + b[o] : acc;
      }
    }
  } else {
    /* narrow input (e.g. 4 -> 64): axpy over the output row, weights read by column */
    for (int r = 0; r < B; ++r) {
      const float *xr = x + (size_t)r * in;
      float *yr = y + (size_t)r * out;
      for (int o = 0; o < out; ++o) yr[o] = 0.0f;
      for (int i = 0; i < in; ++i) {
        const float xi = xr[i];
        for (int o = 0; o < out; ++o) yr[o] += xi * W[(size_t)o * in + i];
      }
      if (b)
        for (int o = 0; o < out; ++o) yr[o] += b[o];
    }
  }
}

void mbrl_nn_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                             const float *W, int B, int in, int out) {
  const int big = (long)B * in * out >= MBRL_NN_GEMM_MIN_FLOPS && in >= 8 && out >= 8;
  if (db) {
    for (int o = 0; o < out; ++o) db[o] = 0.0f;
    for (int r = 0; r < B; ++r) {
      const float *dyr = dy + (size_t)r * out;
      for (int o = 0; o < out; ++o) db[o] += dyr[o];
    }
  }
  if (dW) {
    if (big) {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, B, 1.0f, dy, out, x, in,
                  0.0f, dW, in);
    } else {
      memset(dW, 0, sizeof(float) * (size_t)out * (size_t)in);
      for (int r = 0; r < B; ++r) {
        const float *dyr = dy + (size_t)r * out;
        const float *xr = x + (size_t)r * in;
        for (int o = 0; o < out; ++o) {
          const float g = dyr[o];
          float *w = dW + (size_t)o * in;
          for (int i = 0; i < in; ++i) w[i] += g * xr[i];
        }
      }
    }
  }
  if (dx) {
    if (big) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, in, out, 1.0f, dy, out, W, in,
                  0.0f, dx, in);
    } else if (in <= out) {
      /* narrow dx (e.g. 64 -> 4 input gradient): dot along the output row, W by column */
      for (int r = 0; r < B; ++r) {
        const float *dyr = dy + (size_t)r * out;
        float *dxr = dx + (size_t)r * in;
        for (int i = 0; i < in; ++i) {
          float acc = 0.0f;
          for (int o = 0; o < out; ++o) acc += dyr[o] * W[(size_t)o * in + i];
          dxr[i] = acc;
        }
      }
    } else {
      /* narrow dy (e.g. 3-wide output): dx row = sum_o dy[o] * W[o, :] */
      for (int r = 0; r < B; ++r) {
        const float *dyr = dy + (size_t)r * out;
        float *dxr = dx + (size_t)r * in;
        for (int i = 0; i < in; ++i) dxr[i] = 0.0f;
        for (int o = 0; o < out; ++o) {
          const float g = dyr[o];
          const float *w = W + (size_t)o * in;
          for (int i = 0; i < in; ++i) dxr[i] += g * w[i];
        }
      }
    }
  }
}

/* ---- BatchNorm1d ---- */

void mbrl_nn_batchnorm_forward_train(float *y, float *mean, float *rstd, float *running_mean,
                                     float *running_var, const float *x, const float *gamma,
                                     const float *beta, int B, int C, float momentum, float eps) {
  /* two passes over x for mean and biased variance (mean / rstd used as accumulators) */
  for (int c = 0; c < C; ++c) mean[c] = 0.0f;
  for (int r = 0; r < B; ++r) {
    const float *xr = x + (size_t)r * C;
    for (int c = 0; c < C; ++c) mean[c] += xr[c];
  }
  const float invB = 1.0f / (float)B;
  for (int c = 0; c < C; ++c) {
    mean[c] *= invB;
    rstd[c] = 0.0f;
  }
  for (int r = 0; r < B; ++r) {
    const float *xr = x + (size_t)r * C;
    for (int c = 0; c < C; ++c) {
      const float d = xr[c] - mean[c];
      rstd[c] += d * d;
    }
  }
  const float unbias = B > 1 ? (float)B / (float)(B - 1) : 1.0f;
  for (int c = 0; c < C; ++c) {
    const float var = rstd[c] * invB;
    running_mean[c] = mbrl_bn_running(running_mean[c], mean[c], momentum);
    running_var[c] = mbrl_bn_running(running_var[c], var * unbias, momentum);
    rstd[c] = mbrl_bn_rstd(var, eps);
  }
  for (int r = 0; r < B; ++r) {
    const float *xr = x + (size_t)r * C;
    float *yr = y + (size_t)r * C;
    for (int c = 0; c < C; ++c) {
      float scale, shift;
      mbrl_bn_scale_shift(mean[c], rstd[c], gamma[c], beta[c], &scale, &shift);
      yr[c] = mbrl_bn_apply(xr[c], scale, shift);
    }
  }
}

void mbrl_nn_batchnorm_forward_eval(float *y, float *mean, float *rstd, const float *x,
                                    const float *gamma, const float *beta,
                                    const float *running_mean, const float *running_var, int B,
                                    int C, float eps) {
  if (mean)
    for (int c = 0; c < C; ++c) mean[c] = running_mean[c];
  if (rstd)
    for (int c = 0; c < C; ++c) rstd[c] = mbrl_bn_rstd(running_var[c], eps);
  for (int r = 0; r < B; ++r) {
    const float *xr = x + (size_t)r * C;
    float *yr = y + (size_t)r * C;
    for (int c = 0; c < C; ++c) {
      float scale, shift;
      mbrl_bn_scale_shift(running_mean[c], mbrl_bn_rstd(running_var[c], eps), gamma[c], beta[c],
                          &scale, &shift);
      yr[c] = mbrl_bn_apply(xr[c], scale, shift);
    }
  }
}

void mbrl_nn_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                                const float *x, const float *mean, const float *rstd,
                                const float *gamma, int B, int C, int train) {
  /* sums over the batch: sdy = sum dy, sdyx = sum dy * xhat (dgamma) */
  float sdy[C > 0 ? C : 1], sdyx[C > 0 ? C : 1];
  for (int c = 0; c < C; ++c) {
    sdy[c] = 0.0f;
    sdyx[c] = 0.0f;
  }
  for (int r = 0; r < B; ++r) {
    const float *dyr = dy + (size_t)r * C;
    const float *xr = x + (size_t)r * C;
    for (int c = 0; c < C; ++c) {
      sdy[c] += dyr[c];
      sdyx[c] += dyr[c] * ((xr[c] - mean[c]) * rstd[c]);
    }
  }
  if (dgamma) memcpy(dgamma, sdyx, sizeof(float) * (size_t)C);
  if (dbeta) memcpy(dbeta, sdy, sizeof(float) * (size_t)C);
  if (!dx) return;
  if (train) {
    /* PyTorch: dx = (dy - mean(dy) - xhat * mean(dy * xhat)) * rstd * gamma */
    const float invB = 1.0f / (float)B;
    for (int c = 0; c < C; ++c) {
      sdy[c] *= invB;
      sdyx[c] *= invB;
    }
    for (int r = 0; r < B; ++r) {
      const float *dyr = dy + (size_t)r * C;
      const float *xr = x + (size_t)r * C;
      float *dxr = dx + (size_t)r * C;
      for (int c = 0; c < C; ++c) {
        const float xhat = (xr[c] - mean[c]) * rstd[c];
        dxr[c] = (dyr[c] - sdy[c] - xhat * sdyx[c]) * (rstd[c] * gamma[c]);
      }
    }
  } else {
    for (int r = 0; r < B; ++r) {
      const float *dyr = dy + (size_t)r * C;
      float *dxr = dx + (size_t)r * C;
      for (int c = 0; c < C; ++c) dxr[c] = dyr[c] * (rstd[c] * gamma[c]);
    }
  }
}

/* ---- activations ---- */

void mbrl_nn_act_forward(float *y, const float *x, size_t n, mbrl_act act) {
  switch (act) {
    case MBRL_ACT_RELU:
      for (size_t i = 0; i < n; ++i) y[i] = mbrl_relu_fwd(x[i]);
      break;
    case MBRL_ACT_TANH:
      for (size_t i = 0; i < n; ++i) y[i] = mbrl_tanh_fwd(x[i]);
      break;
    case MBRL_ACT_NONE:
      if (y != x) memmove(y, x, n * sizeof(float));
      break;
  }
}

void mbrl_nn_act_backward(float *dx, const float *dy, const float *y, size_t n, mbrl_act act) {
  switch (act) {
    case MBRL_ACT_RELU:
      for (size_t i = 0; i < n; ++i) dx[i] = mbrl_relu_bwd(dy[i], y[i]);
      break;
    case MBRL_ACT_TANH:
      for (size_t i = 0; i < n; ++i) dx[i] = mbrl_tanh_bwd(dy[i], y[i]);
      break;
    case MBRL_ACT_NONE:
      if (dx != dy) memmove(dx, dy, n * sizeof(float));
      break;
  }
}

/* ---- loss ---- */

void mbrl_nn_mse_loss(float *loss, float *dpred, const float *pred, const float *target,
                      size_t n) {
  double acc = 0.0;
  const float scale = 2.0f / (float)n;
  for (size_t i = 0; i < n; ++i) {
    const float d = pred[i] - target[i];
    acc += (double)d * (double)d;
    if (dpred) dpred[i] = scale * d;
  }
  if (loss) *loss = (float)(acc / (double)n);
}

/* ---- optimizers ---- */

void mbrl_nn_adam_step(float *p, float *m, float *v, const float *g, size_t n, float lr,
                       float beta1, float beta2, float eps, long long step) {
  /* as torch: bias corrections in double on the host, used as float scalars */
  const double bc1 = 1.0 - pow((double)beta1, (double)step);
  const double bc2 = 1.0 - pow((double)beta2, (double)step);
  const float step_size = (float)((double)lr / bc1);
  const float bc2_sqrt = (float)sqrt(bc2);
  for (size_t i = 0; i < n; ++i)
    mbrl_adam_update(p + i, m + i, v + i, g[i], beta1, beta2, step_size, bc2_sqrt, eps);
}

void mbrl_nn_rmsprop_step(float *p, float *sq, const float *g, size_t n, float lr, float alpha,
                          float eps) {
  for (size_t i = 0; i < n; ++i) mbrl_rmsprop_update(p + i, sq + i, g[i], lr, alpha, eps);
}

void mbrl_nn_clip_grad_norm(float *g, float *norm, size_t n, float max_norm) {
  double acc = 0.0;
  for (size_t i = 0; i < n; ++i) acc += (double)g[i] * (double)g[i];
  const float total = (float)sqrt(acc);
  if (norm) *norm = total;
  float coef = max_norm / (total + 1e-6f);
  if (coef < 1.0f)
    for (size_t i = 0; i < n; ++i) g[i] *= coef;
}
