/* nn_cpu.c - CPU twins of the ops in mbrl/nn.h.
 *
 * Matrix products go to OpenBLAS cblas_sgemm (single-threaded): measured at batch 128 it
 * beats plain C loops even for the 4-wide input and 3-wide output layers of the dynamics
 * model (1.6 us vs 7.3 us for 4->64). Everything else is a loop over rows with the channel
 * index innermost, so the compiler vectorizes across channels. No allocation anywhere: every
 * buffer is the caller's. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/nn_math.h"
#include "mbrl/nn.h"

#if defined(__SSE2__)
/* The optimizer loops use SSE for 4 elements at a time: GCC will not vectorize sqrtf while it
 * keeps errno semantics (-fmath-errno, the default). sqrtps, mulps, addps and divps round
 * exactly like their scalar forms, and the operations run in the order of nn_math.h, so the
 * results are bit-identical to mbrl_adam_update / mbrl_rmsprop_update (tests/test_nn.cpp). */
#include <emmintrin.h>
#define MBRL_NN_SSE 1
#endif

/* ---- Linear ---- */

/* OpenBLAS runs single-threaded for these shapes (set once, unless the user chose a thread
 * count with OPENBLAS_NUM_THREADS / OMP_NUM_THREADS): measured here, a 128x64x64 product takes
 * ~12 us on one core and over twice that with two threads contending. */
static void gemm_threads_once(void) {
  static int done = 0;
  if (done) return;
  done = 1;
  if (!getenv("OPENBLAS_NUM_THREADS") && !getenv("OMP_NUM_THREADS")) openblas_set_num_threads(1);
}

void mbrl_nn_linear_forward(float *y, const float *x, const float *W, const float *b, int B,
                            int in, int out) {
  gemm_threads_once();
  if (b) {
    for (int r = 0; r < B; ++r) memcpy(y + (size_t)r * out, b, sizeof(float) * (size_t)out);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, out, in, 1.0f, x, in, W, in,
              b ? 1.0f : 0.0f, y, out);
}

void mbrl_nn_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                             const float *W, int B, int in, int out) {
  gemm_threads_once();
  if (db) {
    for (int o = 0; o < out; ++o) db[o] = 0.0f;
    for (int r = 0; r < B; ++r) {
      const float *dyr = dy + (size_t)r * out;
      for (int o = 0; o < out; ++o) db[o] += dyr[o];
    }
  }
  if (dW)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, B, 1.0f, dy, out, x, in, 0.0f,
                dW, in);
  if (dx)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, in, out, 1.0f, dy, out, W, in, 0.0f,
                dx, in);
}

/* ---- BatchNorm1d ---- */

/* Channels are processed in blocks of BN_BLOCK so that per-channel sums, scales and shifts
 * live in stack arrays the compiler knows do not alias the data (the loops vectorize). */
enum { BN_BLOCK = 256 };

/* y[r, c0 + c] = x[r, c0 + c] * scale[c] + shift[c] for one block of channels. */
static void bn_apply_block(float *y, const float *x, const float *scale, const float *shift, int B,
                           int C, int c0, int cn) {
  for (int r = 0; r < B; ++r) {
    const float *xr = x + (size_t)r * C + c0;
    float *yr = y + (size_t)r * C + c0;
    for (int c = 0; c < cn; ++c) yr[c] = mbrl_bn_apply(xr[c], scale[c], shift[c]);
  }
}

void mbrl_nn_batchnorm_forward_train(float *y, float *mean, float *rstd, float *running_mean,
                                     float *running_var, const float *x, const float *gamma,
                                     const float *beta, int B, int C, float momentum, float eps) {
  float s[BN_BLOCK], ss[BN_BLOCK], scale[BN_BLOCK], shift[BN_BLOCK];
  const float invB = 1.0f / (float)B;
  const float unbias = B > 1 ? (float)B / (float)(B - 1) : 1.0f;
  for (int c0 = 0; c0 < C; c0 += BN_BLOCK) {
    const int cn = C - c0 < BN_BLOCK ? C - c0 : BN_BLOCK;
    /* two passes over x: mean, then the biased variance */
    for (int c = 0; c < cn; ++c) s[c] = ss[c] = 0.0f;
    for (int r = 0; r < B; ++r) {
      const float *xr = x + (size_t)r * C + c0;
      for (int c = 0; c < cn; ++c) s[c] += xr[c];
    }
    for (int c = 0; c < cn; ++c) s[c] *= invB;
    for (int r = 0; r < B; ++r) {
      const float *xr = x + (size_t)r * C + c0;
      for (int c = 0; c < cn; ++c) {
        const float d = xr[c] - s[c];
        ss[c] += d * d;
      }
    }
    for (int c = 0; c < cn; ++c) {
      const int k = c0 + c;
      const float var = ss[c] * invB;
      const float rs = mbrl_bn_rstd(var, eps);
      running_mean[k] = mbrl_bn_running(running_mean[k], s[c], momentum);
      running_var[k] = mbrl_bn_running(running_var[k], var * unbias, momentum);
      mean[k] = s[c];
      rstd[k] = rs;
      mbrl_bn_scale_shift(s[c], rs, gamma[k], beta[k], &scale[c], &shift[c]);
    }
    bn_apply_block(y, x, scale, shift, B, C, c0, cn);
  }
}

void mbrl_nn_batchnorm_forward_eval(float *y, float *mean, float *rstd, const float *x,
                                    const float *gamma, const float *beta,
                                    const float *running_mean, const float *running_var, int B,
                                    int C, float eps) {
  float scale[BN_BLOCK], shift[BN_BLOCK];
  for (int c0 = 0; c0 < C; c0 += BN_BLOCK) {
    const int cn = C - c0 < BN_BLOCK ? C - c0 : BN_BLOCK;
    for (int c = 0; c < cn; ++c) {
      const int k = c0 + c;
      const float rs = mbrl_bn_rstd(running_var[k], eps);
      if (mean) mean[k] = running_mean[k];
      if (rstd) rstd[k] = rs;
      mbrl_bn_scale_shift(running_mean[k], rs, gamma[k], beta[k], &scale[c], &shift[c]);
    }
    bn_apply_block(y, x, scale, shift, B, C, c0, cn);
  }
}

void mbrl_nn_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                                const float *x, const float *mean, const float *rstd,
                                const float *gamma, int B, int C, int train) {
  float sdy[BN_BLOCK], sdyx[BN_BLOCK], mu[BN_BLOCK], rs[BN_BLOCK], k[BN_BLOCK];
  for (int c0 = 0; c0 < C; c0 += BN_BLOCK) {
    const int cn = C - c0 < BN_BLOCK ? C - c0 : BN_BLOCK;
    for (int c = 0; c < cn; ++c) {
      mu[c] = mean[c0 + c];
      rs[c] = rstd[c0 + c];
      k[c] = rstd[c0 + c] * gamma[c0 + c];
    }
    /* sums over the batch: sdy = sum dy (dbeta), sdyx = sum dy * xhat (dgamma) */
    for (int c = 0; c < cn; ++c) {
      sdy[c] = 0.0f;
      sdyx[c] = 0.0f;
    }
    for (int r = 0; r < B; ++r) {
      const float *dyr = dy + (size_t)r * C + c0;
      const float *xr = x + (size_t)r * C + c0;
      for (int c = 0; c < cn; ++c) {
        sdy[c] += dyr[c];
        sdyx[c] += dyr[c] * ((xr[c] - mu[c]) * rs[c]);
      }
    }
    if (dgamma) memcpy(dgamma + c0, sdyx, sizeof(float) * (size_t)cn);
    if (dbeta) memcpy(dbeta + c0, sdy, sizeof(float) * (size_t)cn);
    if (!dx) continue;
    if (train) {
      /* PyTorch: dx = (dy - mean(dy) - xhat * mean(dy * xhat)) * rstd * gamma */
      const float invB = 1.0f / (float)B;
      for (int c = 0; c < cn; ++c) {
        sdy[c] *= invB;
        sdyx[c] *= invB;
      }
      for (int r = 0; r < B; ++r) {
        const float *dyr = dy + (size_t)r * C + c0;
        const float *xr = x + (size_t)r * C + c0;
        float *dxr = dx + (size_t)r * C + c0;
        for (int c = 0; c < cn; ++c) {
          const float xhat = (xr[c] - mu[c]) * rs[c];
          dxr[c] = (dyr[c] - sdy[c] - xhat * sdyx[c]) * k[c];
        }
      }
    } else {
      for (int r = 0; r < B; ++r) {
        const float *dyr = dy + (size_t)r * C + c0;
        float *dxr = dx + (size_t)r * C + c0;
        for (int c = 0; c < cn; ++c) dxr[c] = dyr[c] * k[c];
      }
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
  size_t i0 = 0;
#ifdef MBRL_NN_SSE
  const __m128 b1 = _mm_set1_ps(beta1), omb1 = _mm_set1_ps(1.0f - beta1);
  const __m128 b2 = _mm_set1_ps(beta2), omb2 = _mm_set1_ps(1.0f - beta2);
  const __m128 bc = _mm_set1_ps(bc2_sqrt), ep = _mm_set1_ps(eps), nss = _mm_set1_ps(-step_size);
  for (; i0 + 4 <= n; i0 += 4) {
    const __m128 gv = _mm_loadu_ps(g + i0);
    const __m128 mm = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(m + i0), b1), _mm_mul_ps(gv, omb1));
    const __m128 vv = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + i0), b2),
                                 _mm_mul_ps(omb2, _mm_mul_ps(gv, gv)));
    const __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vv), bc), ep);
    _mm_storeu_ps(m + i0, mm);
    _mm_storeu_ps(v + i0, vv);
    _mm_storeu_ps(p + i0, _mm_add_ps(_mm_loadu_ps(p + i0), _mm_mul_ps(nss, _mm_div_ps(mm, denom))));
  }
#endif
  for (size_t i = i0; i < n; ++i)
    mbrl_adam_update(p + i, m + i, v + i, g[i], beta1, beta2, step_size, bc2_sqrt, eps);
}

void mbrl_nn_rmsprop_step(float *p, float *sq, const float *g, size_t n, float lr, float alpha,
                          float eps) {
  size_t i0 = 0;
#ifdef MBRL_NN_SSE
  const __m128 al = _mm_set1_ps(alpha), oma = _mm_set1_ps(1.0f - alpha), ep = _mm_set1_ps(eps);
  const __m128 nlr = _mm_set1_ps(-lr);
  for (; i0 + 4 <= n; i0 += 4) {
    const __m128 gv = _mm_loadu_ps(g + i0);
    const __m128 sv = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(sq + i0), al),
                                 _mm_mul_ps(oma, _mm_mul_ps(gv, gv)));
    const __m128 avg = _mm_add_ps(_mm_sqrt_ps(sv), ep);
    _mm_storeu_ps(sq + i0, sv);
    _mm_storeu_ps(p + i0, _mm_add_ps(_mm_loadu_ps(p + i0), _mm_mul_ps(nlr, _mm_div_ps(gv, avg))));
  }
#endif
  for (size_t i = i0; i < n; ++i) mbrl_rmsprop_update(p + i, sq + i, g[i], lr, alpha, eps);
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
