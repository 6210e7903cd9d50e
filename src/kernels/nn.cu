// nn.cu - CUDA twins of the ops in mbrl/nn.h (src/host/nn_cpu.c is the CPU twin) and the
// private launchers of nn_kernels.cuh that mlp.cu and dynamics_train.cu build on.
//
// Kernels at the top, launchers below, the public twins at the bottom. Per-element math is
// the MBRL_HD code of src/host/nn_math.h, so only the summation order of the reductions and
// the matrix products (cuBLAS) differ from the CPU twin.
//
// Reductions:
// - per feature over the batch (BatchNorm statistics and backward, bias gradients): a block of
//   COL_TX x COL_TY threads owns COL_TX consecutive features (threadIdx.x, coalesced along a
//   row) and strides over the rows with threadIdx.y; partial sums meet in shared memory and
//   are added in a fixed order, so results are deterministic run to run;
// - over a whole array (MSE, gradient norm): ONE block of RED_THREADS threads, double
//   accumulation (as the CPU twin), warp shuffles then shared memory; deterministic, needs no
//   scratch memory and no second launch, and is fast for the sizes of this project
//   (10^2 .. 10^6 values).
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "host/nn_math.h"
#include "kernels/nn_kernels.cuh"
#include "mbrl/nn.h"
#include "mbrl/status.h"

#define EW_THREADS 256   // elementwise kernels: threads per block
#define EW_MAX_GRID 4096 // elementwise kernels: grid-stride beyond this many blocks
#define COL_TX 32        // per-feature kernels: features per block
#define COL_TY 16        // per-feature kernels: row lanes per feature
#define RED_THREADS 512  // single-block reductions

namespace { // kernels and device helpers: internal linkage (no clash with other .cu files)

// ---------------------------------------------------------------- device helpers

// Sum of `v` over the whole (1-D) block; the result is valid in thread 0 only.
// blockDim.x must be a multiple of 32 and <= 1024. Every thread must call it.
__device__ __forceinline__ double block_sum_double(double v, double *sh /* (32) */) {
  const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  if (lane == 0) sh[warp] = v;
  __syncthreads();
  const unsigned nwarps = blockDim.x >> 5;
  v = 0.0;
  if (warp == 0) {
    v = lane < nwarps ? sh[lane] : 0.0;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  }
  return v;
}

// ---------------------------------------------------------------- kernels

// y = act(x + bias) over (B, C); model blockIdx.y from tab (or `one`).
__global__ void bias_act_kernel(mbrl_layer_ptrs one, const mbrl_layer_ptrs *tab, float *ybase,
                                size_t n, int C, mbrl_act act) {
  const mbrl_layer_ptrs p = tab ? tab[blockIdx.y] : one;
  float *y = p.y ? p.y : ybase + (size_t)blockIdx.y * n;
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    float v = p.x[i];
    if (p.bias) v = v + p.bias[i % (size_t)C];
    y[i] = mbrl_act_fwd(v, act);
  }
}

// BatchNorm1d training forward (+ bias, + activation); grid (ceil(C / COL_TX), M),
// block (COL_TX, COL_TY). See mbrl_cuda_bn_forward.
__global__ void bn_train_kernel(mbrl_layer_ptrs one, const mbrl_layer_ptrs *tab, int B, int C,
                                float momentum, float eps, mbrl_act act) {
  __shared__ float sh[1][COL_TY][COL_TX + 1];
  const mbrl_layer_ptrs p = tab ? tab[blockIdx.y] : one;
  const int c = blockIdx.x * COL_TX + threadIdx.x;
  const bool ok = c < C;
  const float bc = (ok && p.bias) ? p.bias[c] : 0.0f;
  const float *src = p.bias ? p.z : p.x; // BN input once pass 1 has added the bias
  const float invB = 1.0f / (float)B;

  // pass 1: z = x + bias (written), sum z
  float v[1] = {0.0f};
  if (ok)
    for (int r = threadIdx.y; r < B; r += COL_TY) {
      const size_t i = (size_t)r * C + c;
      float xv = p.x[i];
      if (p.bias) {
        xv = xv + bc;
        p.z[i] = xv; // read back below by this same thread only
      }
      v[0] += xv;
    }
  mbrl_col_sum(v, sh);
  const float mean = v[0] * invB;

  // pass 2: biased variance (two-pass, as the CPU twin)
  v[0] = 0.0f;
  if (ok)
    for (int r = threadIdx.y; r < B; r += COL_TY) {
      const float d = src[(size_t)r * C + c] - mean;
      v[0] += d * d;
    }
  mbrl_col_sum(v, sh);
  const float var = v[0] * invB;
  const float rstd = mbrl_bn_rstd(var, eps);
  if (!ok) return; // no barrier below this point
  if (threadIdx.y == 0) {
    const float unbias = B > 1 ? (float)B / (float)(B - 1) : 1.0f;
    if (p.mean) p.mean[c] = mean;
    if (p.rstd) p.rstd[c] = rstd;
    if (p.rmean) p.rmean[c] = mbrl_bn_running(p.rmean[c], mean, momentum);
    if (p.rvar) p.rvar[c] = mbrl_bn_running(p.rvar[c], var * unbias, momentum);
  }

  // pass 3: y = act(z * scale + shift); y may alias x (same element, same thread)
  float scale, shift;
  mbrl_bn_scale_shift(mean, rstd, p.gamma[c], p.beta[c], &scale, &shift);
  for (int r = threadIdx.y; r < B; r += COL_TY) {
    const size_t i = (size_t)r * C + c;
    p.y[i] = mbrl_act_fwd(mbrl_bn_apply(src[i], scale, shift), act);
  }
}

// BatchNorm1d eval forward (+ bias, + activation), elementwise over (B, C); model blockIdx.y.
__global__ void bn_eval_kernel(mbrl_layer_ptrs one, const mbrl_layer_ptrs *tab, size_t n, int C,
                               float eps, mbrl_act act) {
  const mbrl_layer_ptrs p = tab ? tab[blockIdx.y] : one;
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int c = (int)(i % (size_t)C);
    float xv = p.x[i];
    if (p.bias) {
      xv = xv + p.bias[c];
      p.z[i] = xv;
    }
    const float rm = p.rmean[c];
    const float rstd = mbrl_bn_rstd(p.rvar[c], eps);
    if (i < (size_t)C) { // row 0: save the statistics for a backward (each feature once)
      if (p.mean) p.mean[c] = rm;
      if (p.rstd) p.rstd[c] = rstd;
    }
    float scale, shift;
    mbrl_bn_scale_shift(rm, rstd, p.gamma[c], p.beta[c], &scale, &shift);
    p.y[i] = mbrl_act_fwd(mbrl_bn_apply(xv, scale, shift), act);
  }
}

// Backward through the activation and BatchNorm; grid ceil(C / COL_TX), block (COL_TX, COL_TY).
__global__ void bn_backward_kernel(float *dx, float *dgamma, float *dbeta, float *db_lin,
                                   const float *dy, const float *a, mbrl_act act, const float *x,
                                   const float *mean, const float *rstd, const float *gamma,
                                   int B, int C, int train) {
  __shared__ float sh[2][COL_TY][COL_TX + 1];
  const int c = blockIdx.x * COL_TX + threadIdx.x;
  const bool ok = c < C;
  const float mu = ok ? mean[c] : 0.0f, rs = ok ? rstd[c] : 0.0f;

  // pass 1: sdy = sum t, sdyx = sum t * xhat with t = act'(dy) (dL/d BN output)
  float v[2] = {0.0f, 0.0f};
  if (ok)
    for (int r = threadIdx.y; r < B; r += COL_TY) {
      const size_t i = (size_t)r * C + c;
      const float t = a ? mbrl_act_bwd(dy[i], a[i], act) : dy[i];
      v[0] += t;
      v[1] += t * ((x[i] - mu) * rs);
    }
  mbrl_col_sum(v, sh);
  if (ok && threadIdx.y == 0) {
    if (dgamma) dgamma[c] = v[1];
    if (dbeta) dbeta[c] = v[0];
  }
  if (!dx && !db_lin) return; // uniform over the block

  // pass 2: dx (PyTorch: (t - mean(t) - xhat * mean(t * xhat)) * rstd * gamma in train mode)
  const float invB = 1.0f / (float)B;
  const float sdy = v[0] * invB, sdyx = v[1] * invB;
  const float k = ok ? rs * gamma[c] : 0.0f;
  float w[1] = {0.0f};
  if (ok)
    for (int r = threadIdx.y; r < B; r += COL_TY) {
      const size_t i = (size_t)r * C + c;
      const float t = a ? mbrl_act_bwd(dy[i], a[i], act) : dy[i];
      float d;
      if (train) {
        const float xhat = (x[i] - mu) * rs;
        d = (t - sdy - xhat * sdyx) * k;
      } else {
        d = t * k;
      }
      if (dx) dx[i] = d; // may alias dy: this thread alone read dy[i]
      w[0] += d;
    }
  if (db_lin) {
    mbrl_col_sum(w, sh);
    if (ok && threadIdx.y == 0) db_lin[c] = w[0];
  }
}

// t = act'(dy, a) (optional) and db = column sums of t (optional); per-feature layout.
__global__ void act_bwd_colsum_kernel(float *t, float *db, const float *dy, const float *a,
                                      mbrl_act act, int B, int C) {
  __shared__ float sh[1][COL_TY][COL_TX + 1];
  const int c = blockIdx.x * COL_TX + threadIdx.x;
  const bool ok = c < C;
  float v[1] = {0.0f};
  if (ok)
    for (int r = threadIdx.y; r < B; r += COL_TY) {
      const size_t i = (size_t)r * C + c;
      const float g = a ? mbrl_act_bwd(dy[i], a[i], act) : dy[i];
      if (t) t[i] = g;
      v[0] += g;
    }
  if (!db) return; // uniform over the block
  mbrl_col_sum(v, sh);
  if (ok && threadIdx.y == 0) db[c] = v[0];
}

__global__ void act_forward_kernel(float *y, const float *x, size_t n, mbrl_act act) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i] = mbrl_act_fwd(x[i], act);
}

__global__ void act_backward_kernel(float *dx, const float *dy, const float *y, size_t n,
                                    mbrl_act act) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    dx[i] = mbrl_act_bwd(dy[i], y[i], act);
}

// One block: loss = mean (pred - target)^2 (double accumulation), dpred = 2 d / n, and the
// optional step bookkeeping (see mbrl_cuda_mse).
__global__ void mse_kernel(float *loss, float *dpred, const float *pred, const float *target,
                           size_t n, mbrl_cuda_step_state *ss, float *log) {
  __shared__ double sh[32];
  const float scale = 2.0f / (float)n;
  double acc = 0.0;
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float d = pred[i] - target[i];
    acc += (double)d * (double)d;
    if (dpred) dpred[i] = scale * d; // may alias pred: same element, same thread
  }
  acc = block_sum_double(acc, sh);
  if (threadIdx.x == 0) {
    const float l = (float)(acc / (double)n);
    if (loss) *loss = l;
    if (ss) {
      if (log) log[ss->k] = l;
      ss->k += 1;
      ss->t += 1;
    }
  }
}

__global__ void adam_kernel(float *p, float *m, float *v, const float *g, size_t n, float lr,
                            float beta1, float beta2, float eps, float step_size, float bc2_sqrt,
                            const mbrl_cuda_step_state *ss) {
  if (ss) { // the same double arithmetic as mbrl_nn_adam_step on the host
    const double t = (double)ss->t;
    step_size = (float)((double)lr / (1.0 - pow((double)beta1, t)));
    bc2_sqrt = (float)sqrt(1.0 - pow((double)beta2, t));
  }
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    mbrl_adam_update(p + i, m + i, v + i, g[i], beta1, beta2, step_size, bc2_sqrt, eps);
}

__global__ void rmsprop_kernel(float *p, float *sq, const float *g, size_t n, float lr,
                               float alpha, float eps) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    mbrl_rmsprop_update(p + i, sq + i, g[i], lr, alpha, eps);
}

// One block: total = sqrt(sum g^2) (double), g *= min(1, max_norm / (total + 1e-6)).
__global__ void clip_kernel(float *g, float *norm, size_t n, float max_norm) {
  __shared__ double sh[32];
  __shared__ float coef_sh;
  double acc = 0.0;
  for (size_t i = threadIdx.x; i < n; i += blockDim.x) acc += (double)g[i] * (double)g[i];
  acc = block_sum_double(acc, sh);
  if (threadIdx.x == 0) {
    const float total = (float)sqrt(acc);
    if (norm) *norm = total;
    coef_sh = max_norm / (total + 1e-6f);
  }
  __syncthreads();
  const float coef = coef_sh;
  if (coef < 1.0f)
    for (size_t i = threadIdx.x; i < n; i += blockDim.x) g[i] *= coef;
}

__global__ void broadcast_copy_kernel(float *const *dst, const float *src, size_t n) {
  float *d = dst[blockIdx.y];
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) d[i] = src[i];
}

}  // namespace

// ---------------------------------------------------------------- error helpers

mbrl_status mbrl_cuda_check(cudaError_t e, const char *fn, const char *what) {
  if (e == cudaSuccess) return MBRL_OK;
  return mbrl_set_error(MBRL_ERR_CUDA, "%s: %s failed: %s (%s)", fn, what, cudaGetErrorString(e),
                        cudaGetErrorName(e));
}

mbrl_status mbrl_cuda_check_launch(const char *fn, const char *what) {
  return mbrl_cuda_check(cudaGetLastError(), fn, what);
}

mbrl_status mbrl_cuda_check_cublas(cublasStatus_t s, const char *fn, const char *what) {
  if (s == CUBLAS_STATUS_SUCCESS) return MBRL_OK;
  return mbrl_set_error(MBRL_ERR_CUDA, "%s: cuBLAS %s failed: %s (%s)", fn, what,
                        cublasGetStatusString(s), cublasGetStatusName(s));
}

mbrl_status mbrl_cuda_thread_cublas(cudaStream_t stream, cublasHandle_t *out, const char *fn) {
  static thread_local cublasHandle_t h = NULL;
  static thread_local cudaStream_t bound = NULL;
  mbrl_status st;
  if (!h) {
    cublasHandle_t nh = NULL;
    if ((st = mbrl_cuda_check_cublas(cublasCreate(&nh), fn, "cublasCreate"))) return st;
    // FP32 products stay FP32 (CUBLAS_DEFAULT_MATH never uses TF32 for sgemm).
    if ((st = mbrl_cuda_check_cublas(cublasSetMathMode(nh, CUBLAS_DEFAULT_MATH), fn,
                                     "cublasSetMathMode"))) {
      cublasDestroy(nh);
      return st;
    }
    h = nh;
    bound = NULL; // a new handle runs on the default stream
  }
  if (stream != bound) {
    if ((st = mbrl_cuda_check_cublas(cublasSetStream(h, stream), fn, "cublasSetStream")))
      return st;
    bound = stream;
  }
  *out = h;
  return MBRL_OK;
}

static unsigned ew_grid(size_t n) {
  size_t g = (n + EW_THREADS - 1) / EW_THREADS;
  if (g < 1) g = 1;
  if (g > EW_MAX_GRID) g = EW_MAX_GRID;
  return (unsigned)g;
}

static mbrl_status check_models(int M, const char *fn) {
  if (M < 1 || M > 65535)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: %d models out of range (1..65535)", fn, M);
  return MBRL_OK;
}

// ---------------------------------------------------------------- gemm launchers

// Row-major y (B, out) = x (B, in) W^T with W (out, in) row-major. Column-major view:
// y^T (out, B) = W_cm^T (out, in) * x_cm (in, B), where W_cm = W row-major read column-major
// = (in, out) with ld in, x_cm = (in, B) with ld in, y_cm = (out, B) with ld out:
// sgemm(T, N, m=out, n=B, k=in, W, lda=in, x, ldb=in, y, ldc=out).
mbrl_status mbrl_cuda_gemm_xwt(cublasHandle_t h, float *y, const float *x, const float *W, int B,
                               int in, int out, const char *fn) {
  const float one = 1.0f, zero = 0.0f;
  return mbrl_cuda_check_cublas(
      cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, out, B, in, &one, W, in, x, in, &zero, y, out), fn,
      "sgemm y = x W^T");
}

mbrl_status mbrl_cuda_gemm_xwt_batched(cublasHandle_t h, float *const *Y, const float *const *X,
                                       const float *const *Wp, int B, int in, int out, int M,
                                       const char *fn) {
  const float one = 1.0f, zero = 0.0f;
  // Same mapping as mbrl_cuda_gemm_xwt, per model i: A = Wp[i], B = X[i], C = Y[i].
  return mbrl_cuda_check_cublas(cublasSgemmBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, out, B, in, &one,
                                                   Wp, in, X, in, &zero, Y, out, M),
                                fn, "sgemmBatched y[i] = x[i] W[i]^T");
}

// Row-major dW (out, in) = dy^T (out, B) x (B, in). Column-major view: dW_cm = (in, out) =
// dW^T = x^T dy = x_cm (in, B) * dy_cm^T (B, out), x_cm ld in, dy_cm (out, B) ld out:
// sgemm(N, T, m=in, n=out, k=B, x, lda=in, dy, ldb=out, dW, ldc=in).
mbrl_status mbrl_cuda_gemm_dw(cublasHandle_t h, float *dW, const float *dy, const float *x, int B,
                              int in, int out, const char *fn) {
  const float one = 1.0f, zero = 0.0f;
  return mbrl_cuda_check_cublas(
      cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, in, out, B, &one, x, in, dy, out, &zero, dW, in), fn,
      "sgemm dW = dy^T x");
}

// Row-major dx (B, in) = dy (B, out) W (out, in). Column-major view: dx_cm (in, B) =
// W_cm (in, out) * dy_cm (out, B): sgemm(N, N, m=in, n=B, k=out, W, lda=in, dy, ldb=out,
// dx, ldc=in).
mbrl_status mbrl_cuda_gemm_dx(cublasHandle_t h, float *dx, const float *dy, const float *W, int B,
                              int in, int out, const char *fn) {
  const float one = 1.0f, zero = 0.0f;
  return mbrl_cuda_check_cublas(
      cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, in, B, out, &one, W, in, dy, out, &zero, dx, in), fn,
      "sgemm dx = dy W");
}

// ---------------------------------------------------------------- kernel launchers

mbrl_status mbrl_cuda_bias_act(const mbrl_layer_ptrs &p, const mbrl_layer_ptrs *tab, int M,
                               float *ybase, int B, int C, mbrl_act act, cudaStream_t s,
                               const char *fn) {
  mbrl_status st = check_models(M, fn);
  if (st) return st;
  const size_t n = (size_t)B * (size_t)C;
  if (n == 0) return MBRL_OK;
  bias_act_kernel<<<dim3(ew_grid(n), (unsigned)M), EW_THREADS, 0, s>>>(p, tab, ybase, n, C, act);
  return mbrl_cuda_check_launch(fn, "bias_act_kernel launch");
}

mbrl_status mbrl_cuda_bn_forward(const mbrl_layer_ptrs &p, const mbrl_layer_ptrs *tab, int M,
                                 int B, int C, float momentum, float eps, mbrl_act act, int train,
                                 cudaStream_t s, const char *fn) {
  mbrl_status st = check_models(M, fn);
  if (st) return st;
  if (B < 1 || C < 1) return MBRL_OK;
  if (train) {
    const dim3 grid((unsigned)MBRL_CEIL_DIV(C, COL_TX), (unsigned)M), block(COL_TX, COL_TY);
    bn_train_kernel<<<grid, block, 0, s>>>(p, tab, B, C, momentum, eps, act);
    return mbrl_cuda_check_launch(fn, "bn_train_kernel launch");
  }
  const size_t n = (size_t)B * (size_t)C;
  bn_eval_kernel<<<dim3(ew_grid(n), (unsigned)M), EW_THREADS, 0, s>>>(p, tab, n, C, eps, act);
  return mbrl_cuda_check_launch(fn, "bn_eval_kernel launch");
}

mbrl_status mbrl_cuda_bn_backward(float *dx, float *dgamma, float *dbeta, float *db_lin,
                                  const float *dy, const float *a, mbrl_act act, const float *x,
                                  const float *mean, const float *rstd, const float *gamma, int B,
                                  int C, int train, cudaStream_t s, const char *fn) {
  if (B < 1 || C < 1) return MBRL_OK;
  const dim3 grid((unsigned)MBRL_CEIL_DIV(C, COL_TX)), block(COL_TX, COL_TY);
  bn_backward_kernel<<<grid, block, 0, s>>>(dx, dgamma, dbeta, db_lin, dy, a, act, x, mean, rstd,
                                            gamma, B, C, train);
  return mbrl_cuda_check_launch(fn, "bn_backward_kernel launch");
}

mbrl_status mbrl_cuda_act_bwd_colsum(float *t, float *db, const float *dy, const float *a,
                                     mbrl_act act, int B, int C, cudaStream_t s, const char *fn) {
  if (B < 1 || C < 1 || (!t && !db)) return MBRL_OK;
  const dim3 grid((unsigned)MBRL_CEIL_DIV(C, COL_TX)), block(COL_TX, COL_TY);
  act_bwd_colsum_kernel<<<grid, block, 0, s>>>(t, db, dy, a, act, B, C);
  return mbrl_cuda_check_launch(fn, "act_bwd_colsum_kernel launch");
}

mbrl_status mbrl_cuda_mse(float *loss, float *dpred, const float *pred, const float *target,
                          size_t n, mbrl_cuda_step_state *ss, float *log, cudaStream_t s,
                          const char *fn) {
  if (n == 0)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: MSE over 0 values is undefined", fn);
  mse_kernel<<<1, RED_THREADS, 0, s>>>(loss, dpred, pred, target, n, ss, log);
  return mbrl_cuda_check_launch(fn, "mse_kernel launch");
}

mbrl_status mbrl_cuda_adam(float *p, float *m, float *v, const float *g, size_t n, float lr,
                           float beta1, float beta2, float eps, float step_size, float bc2_sqrt,
                           const mbrl_cuda_step_state *d_ss, cudaStream_t s, const char *fn) {
  if (n == 0) return MBRL_OK;
  adam_kernel<<<ew_grid(n), EW_THREADS, 0, s>>>(p, m, v, g, n, lr, beta1, beta2, eps, step_size,
                                                bc2_sqrt, d_ss);
  return mbrl_cuda_check_launch(fn, "adam_kernel launch");
}

mbrl_status mbrl_cuda_rmsprop(float *p, float *sq, const float *g, size_t n, float lr,
                              float alpha, float eps, cudaStream_t s, const char *fn) {
  if (n == 0) return MBRL_OK;
  rmsprop_kernel<<<ew_grid(n), EW_THREADS, 0, s>>>(p, sq, g, n, lr, alpha, eps);
  return mbrl_cuda_check_launch(fn, "rmsprop_kernel launch");
}

mbrl_status mbrl_cuda_clip_grad_norm(float *g, float *norm, size_t n, float max_norm,
                                     cudaStream_t s, const char *fn) {
  clip_kernel<<<1, RED_THREADS, 0, s>>>(g, norm, n, max_norm);
  return mbrl_cuda_check_launch(fn, "clip_kernel launch");
}

mbrl_status mbrl_cuda_broadcast_copy(float *const *dst, const float *src, size_t n, int M,
                                     cudaStream_t s, const char *fn) {
  mbrl_status st = check_models(M, fn);
  if (st) return st;
  if (n == 0) return MBRL_OK;
  broadcast_copy_kernel<<<dim3(ew_grid(n), (unsigned)M), EW_THREADS, 0, s>>>(dst, src, n);
  return mbrl_cuda_check_launch(fn, "broadcast_copy_kernel launch");
}

// ---------------------------------------------------------------- public CUDA twins

static mbrl_status need(const void *p, const char *fn, const char *name) {
  if (p) return MBRL_OK;
  return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: %s is NULL; pass a device buffer", fn, name);
}

static mbrl_status need_sizes(int B, int a, int b, const char *fn) {
  if (B >= 1 && a >= 1 && b >= 1) return MBRL_OK;
  return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: sizes (%d, %d, %d) must all be >= 1", fn, B, a,
                        b);
}

static mbrl_status need_act(mbrl_act act, const char *fn) {
  if (act == MBRL_ACT_NONE || act == MBRL_ACT_RELU || act == MBRL_ACT_TANH) return MBRL_OK;
  return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: unknown activation %d", fn, (int)act);
}

extern "C" mbrl_status mbrl_nn_linear_forward_cuda(float *y, const float *x, const float *W,
                                                   const float *b, int B, int in, int out,
                                                   void *stream) {
  const char *fn = "mbrl_nn_linear_forward_cuda";
  mbrl_status st;
  if ((st = need(y, fn, "y")) || (st = need(x, fn, "x")) || (st = need(W, fn, "W")) ||
      (st = need_sizes(B, in, out, fn)))
    return st;
  cudaStream_t s = (cudaStream_t)stream;
  cublasHandle_t h;
  if ((st = mbrl_cuda_thread_cublas(s, &h, fn))) return st;
  if ((st = mbrl_cuda_gemm_xwt(h, y, x, W, B, in, out, fn))) return st;
  if (!b) return MBRL_OK;
  mbrl_layer_ptrs p = {};
  p.x = y; // in place: y = y + b
  p.y = y;
  p.bias = b;
  return mbrl_cuda_bias_act(p, NULL, 1, NULL, B, out, MBRL_ACT_NONE, s, fn);
}

extern "C" mbrl_status mbrl_nn_linear_backward_cuda(float *dx, float *dW, float *db,
                                                    const float *dy, const float *x,
                                                    const float *W, int B, int in, int out,
                                                    void *stream) {
  const char *fn = "mbrl_nn_linear_backward_cuda";
  mbrl_status st;
  if ((st = need(dy, fn, "dy")) || (st = need_sizes(B, in, out, fn))) return st;
  if (dW && (st = need(x, fn, "x"))) return st;
  if (dx && (st = need(W, fn, "W"))) return st;
  cudaStream_t s = (cudaStream_t)stream;
  if (db && (st = mbrl_cuda_act_bwd_colsum(NULL, db, dy, NULL, MBRL_ACT_NONE, B, out, s, fn)))
    return st;
  if (!dW && !dx) return MBRL_OK;
  cublasHandle_t h;
  if ((st = mbrl_cuda_thread_cublas(s, &h, fn))) return st;
  if (dW && (st = mbrl_cuda_gemm_dw(h, dW, dy, x, B, in, out, fn))) return st;
  if (dx && (st = mbrl_cuda_gemm_dx(h, dx, dy, W, B, in, out, fn))) return st;
  return MBRL_OK;
}

extern "C" mbrl_status mbrl_nn_batchnorm_forward_train_cuda(float *y, float *mean, float *rstd,
                                                            float *running_mean,
                                                            float *running_var, const float *x,
                                                            const float *gamma,
                                                            const float *beta, int B, int C,
                                                            float momentum, float eps,
                                                            void *stream) {
  const char *fn = "mbrl_nn_batchnorm_forward_train_cuda";
  mbrl_status st;
  if ((st = need(y, fn, "y")) || (st = need(mean, fn, "mean")) || (st = need(rstd, fn, "rstd")) ||
      (st = need(running_mean, fn, "running_mean")) ||
      (st = need(running_var, fn, "running_var")) || (st = need(x, fn, "x")) ||
      (st = need(gamma, fn, "gamma")) || (st = need(beta, fn, "beta")) ||
      (st = need_sizes(B, C, 1, fn)))
    return st;
  mbrl_layer_ptrs p = {};
  p.x = x;
  p.y = y;
  p.gamma = gamma;
  p.beta = beta;
  p.mean = mean;
  p.rstd = rstd;
  p.rmean = running_mean;
  p.rvar = running_var;
  return mbrl_cuda_bn_forward(p, NULL, 1, B, C, momentum, eps, MBRL_ACT_NONE, 1,
                              (cudaStream_t)stream, fn);
}

extern "C" mbrl_status mbrl_nn_batchnorm_forward_eval_cuda(float *y, float *mean, float *rstd,
                                                           const float *x, const float *gamma,
                                                           const float *beta,
                                                           const float *running_mean,
                                                           const float *running_var, int B,
                                                           int C, float eps, void *stream) {
  const char *fn = "mbrl_nn_batchnorm_forward_eval_cuda";
  mbrl_status st;
  if ((st = need(y, fn, "y")) || (st = need(x, fn, "x")) || (st = need(gamma, fn, "gamma")) ||
      (st = need(beta, fn, "beta")) || (st = need(running_mean, fn, "running_mean")) ||
      (st = need(running_var, fn, "running_var")) || (st = need_sizes(B, C, 1, fn)))
    return st;
  mbrl_layer_ptrs p = {};
  p.x = x;
  p.y = y;
  p.gamma = gamma;
  p.beta = beta;
  p.mean = mean; // may be NULL
  p.rstd = rstd; // may be NULL
  p.rmean = (float *)running_mean; // read only in eval mode
  p.rvar = (float *)running_var;
  return mbrl_cuda_bn_forward(p, NULL, 1, B, C, 0.0f, eps, MBRL_ACT_NONE, 0, (cudaStream_t)stream,
                              fn);
}

extern "C" mbrl_status mbrl_nn_batchnorm_backward_cuda(float *dx, float *dgamma, float *dbeta,
                                                       const float *dy, const float *x,
                                                       const float *mean, const float *rstd,
                                                       const float *gamma, int B, int C,
                                                       int train, void *stream) {
  const char *fn = "mbrl_nn_batchnorm_backward_cuda";
  mbrl_status st;
  if ((st = need(dy, fn, "dy")) || (st = need(x, fn, "x")) || (st = need(mean, fn, "mean")) ||
      (st = need(rstd, fn, "rstd")) || (st = need_sizes(B, C, 1, fn)))
    return st;
  if (dx && (st = need(gamma, fn, "gamma"))) return st;
  return mbrl_cuda_bn_backward(dx, dgamma, dbeta, NULL, dy, NULL, MBRL_ACT_NONE, x, mean, rstd,
                               gamma, B, C, train ? 1 : 0, (cudaStream_t)stream, fn);
}

extern "C" mbrl_status mbrl_nn_act_forward_cuda(float *y, const float *x, size_t n, mbrl_act act,
                                                void *stream) {
  const char *fn = "mbrl_nn_act_forward_cuda";
  mbrl_status st;
  if ((st = need_act(act, fn))) return st;
  if (n == 0 || (act == MBRL_ACT_NONE && y == x)) return MBRL_OK;
  if ((st = need(y, fn, "y")) || (st = need(x, fn, "x"))) return st;
  act_forward_kernel<<<ew_grid(n), EW_THREADS, 0, (cudaStream_t)stream>>>(y, x, n, act);
  return mbrl_cuda_check_launch(fn, "act_forward_kernel launch");
}

extern "C" mbrl_status mbrl_nn_act_backward_cuda(float *dx, const float *dy, const float *y,
                                                 size_t n, mbrl_act act, void *stream) {
  const char *fn = "mbrl_nn_act_backward_cuda";
  mbrl_status st;
  if ((st = need_act(act, fn))) return st;
  if (n == 0 || (act == MBRL_ACT_NONE && dx == dy)) return MBRL_OK;
  if ((st = need(dx, fn, "dx")) || (st = need(dy, fn, "dy"))) return st;
  if (act != MBRL_ACT_NONE && (st = need(y, fn, "y"))) return st;
  act_backward_kernel<<<ew_grid(n), EW_THREADS, 0, (cudaStream_t)stream>>>(dx, dy, y, n, act);
  return mbrl_cuda_check_launch(fn, "act_backward_kernel launch");
}

extern "C" mbrl_status mbrl_nn_mse_loss_cuda(float *loss, float *dpred, const float *pred,
                                             const float *target, size_t n, void *stream) {
  const char *fn = "mbrl_nn_mse_loss_cuda";
  mbrl_status st;
  if ((st = need(pred, fn, "pred")) || (st = need(target, fn, "target"))) return st;
  return mbrl_cuda_mse(loss, dpred, pred, target, n, NULL, NULL, (cudaStream_t)stream, fn);
}

extern "C" mbrl_status mbrl_nn_adam_step_cuda(float *p, float *m, float *v, const float *g,
                                              size_t n, float lr, float beta1, float beta2,
                                              float eps, long long step, void *stream) {
  const char *fn = "mbrl_nn_adam_step_cuda";
  if (n == 0) return MBRL_OK;
  mbrl_status st;
  if ((st = need(p, fn, "p")) || (st = need(m, fn, "m")) || (st = need(v, fn, "v")) ||
      (st = need(g, fn, "g")))
    return st;
  if (step < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: step %lld must be >= 1 (the count after "
                          "this update)", fn, step);
  // as mbrl_nn_adam_step: bias corrections in double on the host, used as float scalars
  const double bc1 = 1.0 - pow((double)beta1, (double)step);
  const double bc2 = 1.0 - pow((double)beta2, (double)step);
  const float step_size = (float)((double)lr / bc1);
  const float bc2_sqrt = (float)sqrt(bc2);
  return mbrl_cuda_adam(p, m, v, g, n, lr, beta1, beta2, eps, step_size, bc2_sqrt, NULL,
                        (cudaStream_t)stream, fn);
}

extern "C" mbrl_status mbrl_nn_rmsprop_step_cuda(float *p, float *sq, const float *g, size_t n,
                                                 float lr, float alpha, float eps, void *stream) {
  const char *fn = "mbrl_nn_rmsprop_step_cuda";
  if (n == 0) return MBRL_OK;
  mbrl_status st;
  if ((st = need(p, fn, "p")) || (st = need(sq, fn, "sq")) || (st = need(g, fn, "g"))) return st;
  return mbrl_cuda_rmsprop(p, sq, g, n, lr, alpha, eps, (cudaStream_t)stream, fn);
}

extern "C" mbrl_status mbrl_nn_clip_grad_norm_cuda(float *g, float *norm, size_t n,
                                                   float max_norm, void *stream) {
  const char *fn = "mbrl_nn_clip_grad_norm_cuda";
  if (n > 0 && !g) return need(g, fn, "g");
  return mbrl_cuda_clip_grad_norm(g, norm, n, max_norm, (cudaStream_t)stream, fn);
}
