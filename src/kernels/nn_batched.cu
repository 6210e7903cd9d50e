// nn_batched.cu - CUDA twins of the ensemble ops in mbrl/nn_batched.h (src/host/nn_batched.c is
// the CPU twin). Kernels at the top, the public twins at the bottom.
//
// Every op is ONE batched computation over the M members:
// - Linear products: one cublasSgemmStridedBatched per product (member strides: x sx, W and dW
//   sp, y/dy/dx the (M, B, C) activation stride), plus one bias / column-sum kernel whose
//   gridDim.y is the member;
// - BatchNorm (+ activation) forward and backward: the per-feature reduction layout of nn.cu
//   (a block of COL_TX features x COL_TY row lanes, partial sums added in a fixed order, so
//   results are deterministic), gridDim = (ceil(C / COL_TX), M);
// - losses (Gaussian NLL, per-member MSE): ONE block of RED_THREADS threads walks the members
//   (and the output dims) in a fixed order with double sums (as the CPU twin); deterministic,
//   no scratch memory, one launch. Ensemble minibatches are small (M * B * O ~ 10^3..10^5).
// Per-element math is the MBRL_HD code of mbrl/nn_batched.h (log-variance clamp, NLL terms)
// and src/host/nn_math.h (activations, BatchNorm apply).
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "host/nn_math.h"
#include "kernels/nn_kernels.cuh"
#include "mbrl/nn_batched.h"
#include "mbrl/status.h"

#define NNB_EW_THREADS 256   // elementwise kernels: threads per block
#define NNB_EW_MAX_GRID 4096 // elementwise kernels: grid-stride beyond this many blocks
#define NNB_COL_TX 32        // per-feature kernels: features per block
#define NNB_COL_TY 16        // per-feature kernels: row lanes per feature
#define NNB_RED_THREADS 256  // single-block loss kernels

namespace {

// Sum of v[k] over the whole 1-D block (blockDim.x a multiple of 32, <= 1024); valid in thread
// 0 only. Every thread must call it. sh: (NV, 32) doubles.
template <int NV>
__device__ __forceinline__ void block_sum(double (&v)[NV], double (*sh)[32]) {
  const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
#pragma unroll
  for (int k = 0; k < NV; ++k) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v[k] += __shfl_down_sync(0xffffffffu, v[k], o);
    if (lane == 0) sh[k][warp] = v[k];
  }
  __syncthreads();
#pragma unroll
  for (int k = 0; k < NV; ++k) {
    double s = 0.0;
    if (warp == 0) {
      s = lane < nwarps ? sh[k][lane] : 0.0;
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
    }
    v[k] = s;
  }
  __syncthreads(); // sh may be reused after this
}

// y[m] (n = B*out values) += b[m * sp + i % out]; gridDim.y = member.
__global__ void bias_add_kernel(float *y, const float *b, size_t n, int out, size_t sp) {
  const int m = blockIdx.y;
  float *ym = y + (size_t)m * n;
  const float *bm = b + (size_t)m * sp;
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    ym[i] = ym[i] + bm[i % (size_t)out];
}

// db[m * sp + c] = sum over rows of dy[m] (B, C); grid (ceil(C / COL_TX), M).
__global__ void colsum_kernel(float *db, const float *dy, int B, int C, size_t sp) {
  __shared__ float sh[1][NNB_COL_TY][NNB_COL_TX + 1];
  const int m = blockIdx.y, c = blockIdx.x * NNB_COL_TX + threadIdx.x;
  const float *d = dy + (size_t)m * (size_t)B * (size_t)C;
  float v[1] = {0.0f};
  if (c < C)
    for (int r = threadIdx.y; r < B; r += NNB_COL_TY) v[0] += d[(size_t)r * C + c];
  mbrl_col_sum(v, sh);
  if (c < C && threadIdx.y == 0) db[(size_t)m * sp + c] = v[0];
}

// y = act(BN_train(x)) per member; grid (ceil(C / COL_TX), M), block (COL_TX, COL_TY).
// Two passes for mean and biased variance (as the CPU twin), running stats updated with the
// unbiased variance, then the apply pass (y may alias x: same element, same thread).
__global__ void bn_act_train_kernel(float *y, float *mean, float *rstd, float *rmean, float *rvar,
                                    const float *x, const float *gamma, const float *beta, int B,
                                    int C, size_t sp, size_t sbuf, float momentum, float eps,
                                    mbrl_act act) {
  __shared__ float sh[1][NNB_COL_TY][NNB_COL_TX + 1];
  const int m = blockIdx.y, c = blockIdx.x * NNB_COL_TX + threadIdx.x;
  const bool ok = c < C;
  const size_t base = (size_t)m * (size_t)B * (size_t)C;
  const float *xm = x + base;
  float *ym = y + base;
  const float invB = 1.0f / (float)B;
  float v[1] = {0.0f};
  if (ok)
    for (int r = threadIdx.y; r < B; r += NNB_COL_TY) v[0] += xm[(size_t)r * C + c];
  mbrl_col_sum(v, sh);
  const float mu = v[0] * invB;
  v[0] = 0.0f;
  if (ok)
    for (int r = threadIdx.y; r < B; r += NNB_COL_TY) {
      const float d = xm[(size_t)r * C + c] - mu;
      v[0] += d * d;
    }
  mbrl_col_sum(v, sh);
  const float var = v[0] * invB;
  const float rs = mbrl_bn_rstd(var, eps);
  if (!ok) return; // no barrier below
  if (threadIdx.y == 0) {
    const float unbias = B > 1 ? (float)B / (float)(B - 1) : 1.0f;
    mean[(size_t)m * C + c] = mu;
    rstd[(size_t)m * C + c] = rs;
    float *rm = rmean + (size_t)m * sbuf, *rv = rvar + (size_t)m * sbuf;
    rm[c] = mbrl_bn_running(rm[c], mu, momentum);
    rv[c] = mbrl_bn_running(rv[c], var * unbias, momentum);
  }
  float scale, shift;
  mbrl_bn_scale_shift(mu, rs, gamma[(size_t)m * sp + c], beta[(size_t)m * sp + c], &scale, &shift);
  for (int r = threadIdx.y; r < B; r += NNB_COL_TY) {
    const size_t i = (size_t)r * C + c;
    ym[i] = mbrl_act_fwd(mbrl_bn_apply(xm[i], scale, shift), act);
  }
}

// y = act(BN_eval(x)) elementwise over member m's (B, C); gridDim.y = member. Row 0 saves the
// running statistics as mean/rstd (for a backward).
__global__ void bn_act_eval_kernel(float *y, float *mean, float *rstd, const float *rmean,
                                   const float *rvar, const float *x, const float *gamma,
                                   const float *beta, size_t n, int C, size_t sp, size_t sbuf,
                                   float eps, mbrl_act act) {
  const int m = blockIdx.y;
  const float *xm = x + (size_t)m * n;
  float *ym = y + (size_t)m * n;
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int c = (int)(i % (size_t)C);
    const float rm = rmean[(size_t)m * sbuf + c];
    const float rs = mbrl_bn_rstd(rvar[(size_t)m * sbuf + c], eps);
    if (i < (size_t)C) {
      mean[(size_t)m * C + c] = rm;
      rstd[(size_t)m * C + c] = rs;
    }
    float scale, shift;
    mbrl_bn_scale_shift(rm, rs, gamma[(size_t)m * sp + c], beta[(size_t)m * sp + c], &scale,
                        &shift);
    ym[i] = mbrl_act_fwd(mbrl_bn_apply(xm[i], scale, shift), act);
  }
}

// Backward of y = act(BN(x)) per member; grid (ceil(C / COL_TX), M), block (COL_TX, COL_TY).
// PyTorch's formula: train dx = (t - mean(t) - xhat * mean(t * xhat)) * rstd * gamma with
// t = act'(dy); eval dx = t * rstd * gamma. dx may alias dy (same element, same thread).
__global__ void act_bn_backward_kernel(float *dx, float *dgamma, float *dbeta, const float *dy,
                                       const float *y, const float *x, const float *mean,
                                       const float *rstd, const float *gamma, int B, int C,
                                       size_t sp, mbrl_act act, int train) {
  __shared__ float sh[2][NNB_COL_TY][NNB_COL_TX + 1];
  const int m = blockIdx.y, c = blockIdx.x * NNB_COL_TX + threadIdx.x;
  const bool ok = c < C;
  const size_t base = (size_t)m * (size_t)B * (size_t)C;
  const float mu = ok ? mean[(size_t)m * C + c] : 0.0f, rs = ok ? rstd[(size_t)m * C + c] : 0.0f;
  float v[2] = {0.0f, 0.0f};
  if (ok)
    for (int r = threadIdx.y; r < B; r += NNB_COL_TY) {
      const size_t i = base + (size_t)r * C + c;
      const float t = mbrl_act_bwd(dy[i], y[i], act);
      v[0] += t;
      v[1] += t * ((x[i] - mu) * rs);
    }
  mbrl_col_sum(v, sh);
  if (!ok) return; // no barrier below
  if (threadIdx.y == 0) {
    if (dgamma) dgamma[(size_t)m * sp + c] = v[1];
    if (dbeta) dbeta[(size_t)m * sp + c] = v[0];
  }
  const float invB = 1.0f / (float)B;
  const float sdy = v[0] * invB, sdyx = v[1] * invB;
  const float k = rs * gamma[(size_t)m * sp + c];
  for (int r = threadIdx.y; r < B; r += NNB_COL_TY) {
    const size_t i = base + (size_t)r * C + c;
    const float t = mbrl_act_bwd(dy[i], y[i], act);
    dx[i] = train ? (t - sdy - ((x[i] - mu) * rs) * sdyx) * k : t * k;
  }
}

// One block: the Gaussian NLL of every member, its gradients and the bound penalty
// (see mbrl_nnb_gaussian_nll). Segments (member m, dim j) are visited in order; the threads
// split a segment's B rows, a block sum closes it.
__global__ void gaussian_nll_kernel(float *loss, float *member_loss, float *dout, float *dmax,
                                    float *dmin, const float *out, const float *target,
                                    const float *maxlv, const float *minlv, int M, int B, int O,
                                    float coef) {
  __shared__ double sh[3][32];
  __shared__ double gsum[2][MBRL_MAX_DIM];
  const float scale = 1.0f / (float)((size_t)B * (size_t)O);
  if (threadIdx.x < MBRL_MAX_DIM) gsum[0][threadIdx.x] = gsum[1][threadIdx.x] = 0.0;
  __syncthreads();
  double total = 0.0;
  for (int m = 0; m < M; ++m) {
    double macc = 0.0;
    for (int j = 0; j < O; ++j) {
      const float mx = maxlv[j], mn = minlv[j];
      const float e_range = expf(mx - mn), e_negmin = expf(-mn); // as the CPU twin
      double v[3] = {0.0, 0.0, 0.0};
      for (int r = threadIdx.x; r < B; r += blockDim.x) {
        const size_t row = (size_t)m * (size_t)B + (size_t)r;
        const float *o = out + row * 2 * (size_t)O;
        float g[4];
        v[0] += (double)mbrl_gaussian_nll_clamped(o[j], o[O + j], target[row * (size_t)O + j], mx,
                                                  mn, e_range, e_negmin, g);
        if (dout) {
          dout[row * 2 * (size_t)O + j] = g[0] * scale;
          dout[row * 2 * (size_t)O + O + j] = g[1] * scale;
        }
        v[1] += (double)(g[2] * scale);
        v[2] += (double)(g[3] * scale);
      }
      block_sum<3>(v, sh);
      if (threadIdx.x == 0) {
        macc += v[0];
        gsum[0][j] += v[1];
        gsum[1][j] += v[2];
      }
    }
    if (threadIdx.x == 0) {
      const float ml = (float)(macc / ((double)B * (double)O));
      if (member_loss) member_loss[m] = ml;
      total += (double)ml;
    }
  }
  if (threadIdx.x == 0) {
    double pen = 0.0;
    for (int j = 0; j < O; ++j) pen += (double)maxlv[j] - (double)minlv[j];
    if (loss) *loss = (float)(total + (double)coef * pen);
    for (int j = 0; j < O; ++j) {
      if (dmax) dmax[j] = (float)(gsum[0][j] + (double)coef);
      if (dmin) dmin[j] = (float)(gsum[1][j] - (double)coef);
    }
  }
}

// One block: per-member MSE (see mbrl_nnb_mse_loss).
__global__ void mse_members_kernel(float *loss, float *member_loss, float *dpred,
                                   const float *pred, const float *target, int M, size_t n) {
  __shared__ double sh[1][32];
  const float scale = 2.0f / (float)n;
  double total = 0.0;
  for (int m = 0; m < M; ++m) {
    const float *p = pred + (size_t)m * n, *t = target + (size_t)m * n;
    double v[1] = {0.0};
    for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
      const float d = p[i] - t[i];
      v[0] += (double)d * (double)d;
      if (dpred) dpred[(size_t)m * n + i] = scale * d;
    }
    block_sum<1>(v, sh);
    if (threadIdx.x == 0) {
      const float ml = (float)(v[0] / (double)n);
      if (member_loss) member_loss[m] = ml;
      total += (double)ml;
    }
  }
  if (threadIdx.x == 0 && loss) *loss = (float)total;
}

__global__ void gaussian_split_kernel(float *mean, float *logvar, const float *out,
                                      const float *maxlv, const float *minlv, size_t n, int O) {
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    const size_t r = i / (size_t)O;
    const int j = (int)(i % (size_t)O);
    const float *o = out + r * 2 * (size_t)O;
    mean[i] = o[j];
    if (logvar) logvar[i] = mbrl_logvar_clamp(o[O + j], maxlv[j], minlv[j], NULL);
  }
}

__global__ void gather_rows_kernel(float *y, const float *X, const int32_t *idx, size_t n, int C) {
  const size_t total = n * (size_t)C, stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
    const size_t r = i / (size_t)C, j = i % (size_t)C;
    y[i] = X[(size_t)idx[r] * (size_t)C + j];
  }
}

} // namespace

static unsigned nnb_ew_grid(size_t n) {
  size_t g = (n + NNB_EW_THREADS - 1) / NNB_EW_THREADS;
  if (g < 1) g = 1;
  if (g > NNB_EW_MAX_GRID) g = NNB_EW_MAX_GRID;
  return (unsigned)g;
}

static mbrl_status nnb_need(const void *p, const char *fn, const char *name) {
  if (p) return MBRL_OK;
  return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: %s is NULL; pass a device buffer", fn, name);
}

static mbrl_status nnb_sizes(int M, int B, int a, int b, const char *fn) {
  if (M >= 1 && M <= 65535 && B >= 1 && a >= 1 && b >= 1) return MBRL_OK;
  return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                        "%s: sizes (M %d, B %d, %d, %d) must be >= 1 (M <= 65535)", fn, M, B, a,
                        b);
}

// ---------------------------------------------------------------- public CUDA twins

extern "C" mbrl_status mbrl_nnb_linear_forward_cuda(float *y, const float *x, const float *W,
                                                    const float *b, int M, int B, int in,
                                                    int out, size_t sx, size_t sp,
                                                    void *stream) {
  const char *fn = "mbrl_nnb_linear_forward_cuda";
  mbrl_status st;
  if ((st = nnb_need(y, fn, "y")) || (st = nnb_need(x, fn, "x")) || (st = nnb_need(W, fn, "W")) ||
      (st = nnb_sizes(M, B, in, out, fn)))
    return st;
  cudaStream_t s = (cudaStream_t)stream;
  cublasHandle_t h;
  if ((st = mbrl_cuda_thread_cublas(s, &h, fn))) return st;
  // per member the mapping of mbrl_cuda_gemm_xwt: y_m^T (out, B) = W_m (row-major (out, in),
  // i.e. column-major (in, out), transposed) * x_m^T (column-major (in, B))
  const float one = 1.0f, zero = 0.0f;
  st = mbrl_cuda_check_cublas(
      cublasSgemmStridedBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, out, B, in, &one, W, in,
                                (long long)sp, x, in, (long long)sx, &zero, y, out,
                                (long long)B * out, M),
      fn, "sgemmStridedBatched y[m] = x[m] W[m]^T");
  if (st || !b) return st;
  const size_t n = (size_t)B * (size_t)out;
  bias_add_kernel<<<dim3(nnb_ew_grid(n), (unsigned)M), NNB_EW_THREADS, 0, s>>>(y, b, n, out, sp);
  return mbrl_cuda_check_launch(fn, "bias_add_kernel launch");
}

extern "C" mbrl_status mbrl_nnb_linear_backward_cuda(float *dx, float *dW, float *db,
                                                     const float *dy, const float *x,
                                                     const float *W, int M, int B, int in,
                                                     int out, size_t sx, size_t sp,
                                                     void *stream) {
  const char *fn = "mbrl_nnb_linear_backward_cuda";
  mbrl_status st;
  if ((st = nnb_need(dy, fn, "dy")) || (st = nnb_sizes(M, B, in, out, fn))) return st;
  if (dW && (st = nnb_need(x, fn, "x"))) return st;
  if (dx && (st = nnb_need(W, fn, "W"))) return st;
  cudaStream_t s = (cudaStream_t)stream;
  if (db) {
    const dim3 grid((unsigned)MBRL_CEIL_DIV(out, NNB_COL_TX), (unsigned)M);
    colsum_kernel<<<grid, dim3(NNB_COL_TX, NNB_COL_TY), 0, s>>>(db, dy, B, out, sp);
    if ((st = mbrl_cuda_check_launch(fn, "colsum_kernel launch"))) return st;
  }
  if (!dW && !dx) return MBRL_OK;
  cublasHandle_t h;
  if ((st = mbrl_cuda_thread_cublas(s, &h, fn))) return st;
  const float one = 1.0f, zero = 0.0f;
  const long long sdy = (long long)B * out;
  if (dW) {
    // mapping of mbrl_cuda_gemm_dw per member: dW_m^T (in, out) = x_m^T (in, B) * dy_m (B, out)
    st = mbrl_cuda_check_cublas(
        cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_T, in, out, B, &one, x, in,
                                  (long long)sx, dy, out, sdy, &zero, dW, in, (long long)sp, M),
        fn, "sgemmStridedBatched dW[m] = dy[m]^T x[m]");
    if (st) return st;
  }
  if (dx) {
    // mapping of mbrl_cuda_gemm_dx per member: dx_m^T (in, B) = W_m^T (in, out) * dy_m^T
    st = mbrl_cuda_check_cublas(
        cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, in, B, out, &one, W, in,
                                  (long long)sp, dy, out, sdy, &zero, dx, in, (long long)B * in,
                                  M),
        fn, "sgemmStridedBatched dx[m] = dy[m] W[m]");
  }
  return st;
}

extern "C" mbrl_status mbrl_nnb_bn_act_forward_cuda(float *y, float *mean, float *rstd,
                                                    float *running_mean, float *running_var,
                                                    const float *x, const float *gamma,
                                                    const float *beta, int M, int B, int C,
                                                    size_t sp, size_t sbuf, float momentum,
                                                    float eps, mbrl_act act, int train,
                                                    void *stream) {
  const char *fn = "mbrl_nnb_bn_act_forward_cuda";
  mbrl_status st;
  if ((st = nnb_need(y, fn, "y")) || (st = nnb_need(mean, fn, "mean")) ||
      (st = nnb_need(rstd, fn, "rstd")) || (st = nnb_need(running_mean, fn, "running_mean")) ||
      (st = nnb_need(running_var, fn, "running_var")) || (st = nnb_need(x, fn, "x")) ||
      (st = nnb_need(gamma, fn, "gamma")) || (st = nnb_need(beta, fn, "beta")) ||
      (st = nnb_sizes(M, B, C, 1, fn)))
    return st;
  cudaStream_t s = (cudaStream_t)stream;
  if (train) {
    const dim3 grid((unsigned)MBRL_CEIL_DIV(C, NNB_COL_TX), (unsigned)M);
    bn_act_train_kernel<<<grid, dim3(NNB_COL_TX, NNB_COL_TY), 0, s>>>(
        y, mean, rstd, running_mean, running_var, x, gamma, beta, B, C, sp, sbuf, momentum, eps,
        act);
    return mbrl_cuda_check_launch(fn, "bn_act_train_kernel launch");
  }
  const size_t n = (size_t)B * (size_t)C;
  bn_act_eval_kernel<<<dim3(nnb_ew_grid(n), (unsigned)M), NNB_EW_THREADS, 0, s>>>(
      y, mean, rstd, running_mean, running_var, x, gamma, beta, n, C, sp, sbuf, eps, act);
  return mbrl_cuda_check_launch(fn, "bn_act_eval_kernel launch");
}

extern "C" mbrl_status mbrl_nnb_act_bn_backward_cuda(float *dx, float *dgamma, float *dbeta,
                                                     const float *dy, const float *y,
                                                     const float *x, const float *mean,
                                                     const float *rstd, const float *gamma,
                                                     int M, int B, int C, size_t sp,
                                                     mbrl_act act, int train, void *stream) {
  const char *fn = "mbrl_nnb_act_bn_backward_cuda";
  mbrl_status st;
  if ((st = nnb_need(dx, fn, "dx")) || (st = nnb_need(dy, fn, "dy")) ||
      (st = nnb_need(y, fn, "y")) || (st = nnb_need(x, fn, "x")) ||
      (st = nnb_need(mean, fn, "mean")) || (st = nnb_need(rstd, fn, "rstd")) ||
      (st = nnb_need(gamma, fn, "gamma")) || (st = nnb_sizes(M, B, C, 1, fn)))
    return st;
  const dim3 grid((unsigned)MBRL_CEIL_DIV(C, NNB_COL_TX), (unsigned)M);
  act_bn_backward_kernel<<<grid, dim3(NNB_COL_TX, NNB_COL_TY), 0, (cudaStream_t)stream>>>(
      dx, dgamma, dbeta, dy, y, x, mean, rstd, gamma, B, C, sp, act, train);
  return mbrl_cuda_check_launch(fn, "act_bn_backward_kernel launch");
}

extern "C" mbrl_status mbrl_nnb_gaussian_nll_cuda(float *loss, float *member_loss, float *dout,
                                                  float *dmax_logvar, float *dmin_logvar,
                                                  const float *out, const float *target,
                                                  const float *max_logvar,
                                                  const float *min_logvar, int M, int B, int O,
                                                  float bound_coef, void *stream) {
  const char *fn = "mbrl_nnb_gaussian_nll_cuda";
  mbrl_status st;
  if ((st = nnb_need(out, fn, "out")) || (st = nnb_need(target, fn, "target")) ||
      (st = nnb_need(max_logvar, fn, "max_logvar")) ||
      (st = nnb_need(min_logvar, fn, "min_logvar")) || (st = nnb_sizes(M, B, O, 1, fn)))
    return st;
  if (O > MBRL_MAX_DIM)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: O %d exceeds MBRL_MAX_DIM %d", fn, O,
                          MBRL_MAX_DIM);
  gaussian_nll_kernel<<<1, NNB_RED_THREADS, 0, (cudaStream_t)stream>>>(
      loss, member_loss, dout, dmax_logvar, dmin_logvar, out, target, max_logvar, min_logvar, M,
      B, O, bound_coef);
  return mbrl_cuda_check_launch(fn, "gaussian_nll_kernel launch");
}

extern "C" mbrl_status mbrl_nnb_mse_loss_cuda(float *loss, float *member_loss, float *dpred,
                                              const float *pred, const float *target, int M,
                                              int B, int O, void *stream) {
  const char *fn = "mbrl_nnb_mse_loss_cuda";
  mbrl_status st;
  if ((st = nnb_need(pred, fn, "pred")) || (st = nnb_need(target, fn, "target")) ||
      (st = nnb_sizes(M, B, O, 1, fn)))
    return st;
  mse_members_kernel<<<1, NNB_RED_THREADS, 0, (cudaStream_t)stream>>>(
      loss, member_loss, dpred, pred, target, M, (size_t)B * (size_t)O);
  return mbrl_cuda_check_launch(fn, "mse_members_kernel launch");
}

extern "C" mbrl_status mbrl_nnb_gaussian_split_cuda(float *mean, float *logvar, const float *out,
                                                    const float *max_logvar,
                                                    const float *min_logvar, size_t rows, int O,
                                                    void *stream) {
  const char *fn = "mbrl_nnb_gaussian_split_cuda";
  mbrl_status st;
  if ((st = nnb_need(mean, fn, "mean")) || (st = nnb_need(out, fn, "out"))) return st;
  if (logvar && ((st = nnb_need(max_logvar, fn, "max_logvar")) ||
                 (st = nnb_need(min_logvar, fn, "min_logvar"))))
    return st;
  const size_t n = rows * (size_t)O;
  if (n == 0) return MBRL_OK;
  gaussian_split_kernel<<<nnb_ew_grid(n), NNB_EW_THREADS, 0, (cudaStream_t)stream>>>(
      mean, logvar, out, max_logvar, min_logvar, n, O);
  return mbrl_cuda_check_launch(fn, "gaussian_split_kernel launch");
}

extern "C" mbrl_status mbrl_nnb_gather_rows_cuda(float *y, const float *X, const int32_t *idx,
                                                 size_t n, int C, void *stream) {
  const char *fn = "mbrl_nnb_gather_rows_cuda";
  mbrl_status st;
  if ((st = nnb_need(y, fn, "y")) || (st = nnb_need(X, fn, "X")) ||
      (st = nnb_need(idx, fn, "idx")))
    return st;
  if (n == 0 || C < 1) return MBRL_OK;
  gather_rows_kernel<<<nnb_ew_grid(n * (size_t)C), NNB_EW_THREADS, 0, (cudaStream_t)stream>>>(
      y, X, idx, n, C);
  return mbrl_cuda_check_launch(fn, "gather_rows_kernel launch");
}
