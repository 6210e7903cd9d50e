// src/kernels/nn_kernels.cuh - private: the launchers behind the CUDA twins of mbrl/nn.h,
// shared by nn.cu (the public twins), mlp.cu (the mlp's CUDA path, fused and batched
// variants) and dynamics_train.cu (the GPU-resident trainer). C++ linkage, .cu files only.
//
// Conventions (same as nn.h): matrices row-major, Linear weights W (out, in), y = x W^T + b.
// cuBLAS is column-major; a row-major (R, C) matrix is the column-major (C, R) matrix, i.e.
// its transpose, with leading dimension C. Each gemm launcher states its mapping.
// Every launcher checks its launch (cudaGetLastError / cuBLAS status) and returns
// MBRL_ERR_CUDA with a message naming `fn` on failure. None synchronizes with the host.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>

#include "mbrl/nn.h"
#include "mbrl/status.h"

// ---------------------------------------------------------------- shared device helpers

// Per-feature reduction of the column kernels (nn.cu, nn_batched.cu): a block of TXP - 1
// features (threadIdx.x) x TY row lanes (threadIdx.y); sum v[k] over the TY lanes of each
// feature column, so that every thread holds its column's total. sh is the block's shared
// (NV, TY, TXP) scratch (TXP = features + 1: no bank conflicts). Fixed order (lane 0 .. TY-1):
// deterministic. Every thread of the block must call it (it synchronizes; sh may be reused
// after it returns).
template <int TY, int TXP, int NV>
__device__ __forceinline__ void mbrl_col_sum(float (&v)[NV], float (*sh)[TY][TXP]) {
#pragma unroll
  for (int k = 0; k < NV; ++k) sh[k][threadIdx.y][threadIdx.x] = v[k];
  __syncthreads();
#pragma unroll
  for (int k = 0; k < NV; ++k) {
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < TY; ++j) s += sh[k][j][threadIdx.x];
    v[k] = s;
  }
  __syncthreads();
}

// MBRL_ERR_CUDA with `fn` and the pending error if the last launch failed.
mbrl_status mbrl_cuda_check_launch(const char *fn, const char *what);
// MBRL_ERR_CUDA naming `fn`, `what` and the cuBLAS status unless s is CUBLAS_STATUS_SUCCESS.
mbrl_status mbrl_cuda_check_cublas(cublasStatus_t s, const char *fn, const char *what);
// MBRL_ERR_CUDA naming `fn`, `what` and the CUDA error unless e is cudaSuccess.
mbrl_status mbrl_cuda_check(cudaError_t e, const char *fn, const char *what);

// The calling thread's cuBLAS handle for the op-level twins, bound to `stream` (created on
// first use, never destroyed: a process-lifetime handle, as PyTorch keeps its handles).
mbrl_status mbrl_cuda_thread_cublas(cudaStream_t stream, cublasHandle_t *out, const char *fn);

// Pointers of one layer for the fused per-feature kernels (one model). A NULL field is unused.
struct mbrl_layer_ptrs {
  const float *x;     // (B, C) input: the Linear product x W^T WITHOUT its bias
  float *z;           // (B, C) receives x + bias (BN input kept for backward); may equal x
  float *y;           // (B, C) output act(BN(x + bias)) or act(x + bias)
  const float *bias;  // (C) Linear bias, or NULL (then z is not written and x is BN's input)
  const float *gamma; // (C) BN weight
  const float *beta;  // (C) BN bias
  float *mean;        // (C) BN saved mean (batch mean in train mode, running mean in eval)
  float *rstd;        // (C) BN saved 1/sqrt(var + eps)
  float *rmean;       // (C) BN running_mean (updated in train mode)
  float *rvar;        // (C) BN running_var (updated in train mode, unbiased batch variance)
};

// ---- Linear products (cuBLAS sgemm, FP32, no bias) ----

// y (B, out) = x (B, in) W^T, W (out, in).
mbrl_status mbrl_cuda_gemm_xwt(cublasHandle_t h, float *y, const float *x, const float *W, int B,
                               int in, int out, const char *fn);
// The same for M models in one cublasSgemmBatched: y[i] = x[i] W[i]^T; Y, X, Wp are DEVICE
// arrays of M device pointers. X entries may repeat (shared input); Y entries must not.
mbrl_status mbrl_cuda_gemm_xwt_batched(cublasHandle_t h, float *const *Y, const float *const *X,
                                       const float *const *Wp, int B, int in, int out, int M,
                                       const char *fn);
// dW (out, in) = dy^T (out, B) x (B, in).
mbrl_status mbrl_cuda_gemm_dw(cublasHandle_t h, float *dW, const float *dy, const float *x, int B,
                              int in, int out, const char *fn);
// dx (B, in) = dy (B, out) W (out, in).
mbrl_status mbrl_cuda_gemm_dx(cublasHandle_t h, float *dx, const float *dy, const float *W, int B,
                              int in, int out, const char *fn);

// ---- fused elementwise / per-feature kernels ----

// y = act(x + bias) elementwise over (B, C) (bias may be NULL; z unused). With tab != NULL,
// M models: model i uses tab[i] (device array) and, when tab[i].y is NULL, writes
// ybase + i*B*C. With tab == NULL, one model `p`.
mbrl_status mbrl_cuda_bias_act(const mbrl_layer_ptrs &p, const mbrl_layer_ptrs *tab, int M,
                               float *ybase, int B, int C, mbrl_act act, cudaStream_t s,
                               const char *fn);

// BatchNorm1d forward (+ the preceding Linear's bias, + the activation), PyTorch semantics:
// train: batch mean / biased variance saved in mean/rstd, running stats updated with
// `momentum` (variance unbiased B/(B-1)); eval: running statistics. y = act(BN(x + bias)).
// tab/M as in mbrl_cuda_bias_act (tab[i].y must be set).
mbrl_status mbrl_cuda_bn_forward(const mbrl_layer_ptrs &p, const mbrl_layer_ptrs *tab, int M,
                                 int B, int C, float momentum, float eps, mbrl_act act, int train,
                                 cudaStream_t s, const char *fn);

// Backward through act (from its OUTPUT a, NULL when act is NONE) then BatchNorm (input x,
// saved mean/rstd, gamma) from dy (B, C): dgamma, dbeta (C), dx (B, C) (may alias dy) and
// db_lin (C) = column sums of dx (the preceding Linear's bias gradient). Any output may be NULL.
mbrl_status mbrl_cuda_bn_backward(float *dx, float *dgamma, float *dbeta, float *db_lin,
                                  const float *dy, const float *a, mbrl_act act, const float *x,
                                  const float *mean, const float *rstd, const float *gamma, int B,
                                  int C, int train, cudaStream_t s, const char *fn);

// t (B, C) = act'(dy, a) (may alias dy; NULL: not written) and db (C) = column sums of t
// (NULL: not computed). a may be NULL when act is NONE.
mbrl_status mbrl_cuda_act_bwd_colsum(float *t, float *db, const float *dy, const float *a,
                                     mbrl_act act, int B, int C, cudaStream_t s, const char *fn);

// ---- losses, optimizers, clipping ----

// Device-side bookkeeping of a captured training step (kernel arguments are frozen in a
// CUDA graph, so per-step values live in device memory).
struct mbrl_cuda_step_state {
  long long t; // optimizer steps taken (Adam's bias-correction step once the loss kernel ran)
  int k;       // steps done in the current chunk: the minibatch index and the loss slot
  int pad;
};

// loss (device, one float, may be NULL) = mean((pred - target)^2) over n values (double
// accumulation), dpred (n, may be NULL) = 2 (pred - target) / n. One block. With ss != NULL the
// kernel also closes a training step: log[ss->k] = loss (log may be NULL), then ss->k and
// ss->t are incremented.
mbrl_status mbrl_cuda_mse(float *loss, float *dpred, const float *pred, const float *target,
                          size_t n, mbrl_cuda_step_state *ss, float *log, cudaStream_t s,
                          const char *fn);

// Adam (nn_math.h mbrl_adam_update) over n values. With d_ss == NULL the host-computed
// step_size = lr / (1 - b1^t) and bc2_sqrt = sqrt(1 - b2^t) are used; with d_ss the kernel
// computes them (in double, from d_ss->t) itself, for graph replay.
mbrl_status mbrl_cuda_adam(float *p, float *m, float *v, const float *g, size_t n, float lr,
                           float beta1, float beta2, float eps, float step_size, float bc2_sqrt,
                           const mbrl_cuda_step_state *d_ss, cudaStream_t s, const char *fn);

// RMSprop (nn_math.h mbrl_rmsprop_update) over n values.
mbrl_status mbrl_cuda_rmsprop(float *p, float *sq, const float *g, size_t n, float lr,
                              float alpha, float eps, cudaStream_t s, const char *fn);

// clip_grad_norm_ over g (n) in ONE single-block kernel (norm, then scale): no scratch memory,
// no host synchronization. norm (device, may be NULL) receives the norm before clipping.
mbrl_status mbrl_cuda_clip_grad_norm(float *g, float *norm, size_t n, float max_norm,
                                     cudaStream_t s, const char *fn);

// dst[i] (n floats) = src for M destinations (device array of M pointers).
mbrl_status mbrl_cuda_broadcast_copy(float *const *dst, const float *src, size_t n, int M,
                                     cudaStream_t s, const char *fn);
