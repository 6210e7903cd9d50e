// mlp.cu - the CUDA path of the mlp module (declared in src/host/mlp_cuda.h; mlp.c owns the
// layout, init, get/set and HDF5 and calls these for m->backend == MBRL_BACKEND_CUDA).
//
// All of the mlp's arrays live in cudaMalloc'ed memory; work is queued on m->stream with the
// mlp's own cuBLAS handle (bound to that stream, with a workspace we own so that a CUDA graph
// capture never makes cuBLAS allocate). forward / backward / train_step / optim_step and
// clip with norm == NULL never synchronize with the host.
//
// Kernel launches (cuBLAS sgemm counted as one launch each), L Linear layers, all hidden layers
// with BatchNorm (the seed's model: L = 3):
//   forward    : 1 D2D copy of x into x_in (skipped when x == x_in) + per layer 1 sgemm +
//                1 fused kernel (bias + BN + activation, or bias + activation, or bias)
//                -> 2L (+1)                                      seed model: 6 (+1)
//   backward   : last layer 1 bias-grad kernel + 2 sgemm (dW, dx); hidden layer 1 fused
//                kernel (activation' + BN backward + bias grad) + 1 or 2 sgemm (no dx for
//                layer 0 when dx == NULL) -> 3L - 1 (+1 with dx)  seed model: 8
//   train_step : forward + 1 MSE kernel + backward + 1 optimizer kernel
//                                                                 seed model: 16 (+1 copy)
//   forward_many over M models: 1 broadcast copy + per layer 1 cublasSgemmBatched + 1 fused
//                kernel over all M (gridDim.y = M) -> 2L + 1, independent of M.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/mlp_cuda.h"
#include "kernels/mlp_internal.cuh"
#include "kernels/nn_kernels.cuh"
#include "mbrl/mlp.h"

#define MLP_CUBLAS_WORKSPACE (4u << 20) // bytes of cuBLAS workspace per mlp

// Private state behind m->cuda.
typedef struct mlp_cuda_state {
  cublasHandle_t h;
  cudaStream_t bound; // stream h is bound to
  int bound_once;     // h has been bound at least once
  void *ws;           // (MLP_CUBLAS_WORKSPACE bytes) cuBLAS workspace
  float *scalar;      // (1) device scratch: the gradient norm for a host-side read
  unsigned long long id; // unique over the process (forward_many cache key)
  // forward_many: device table of per-model pointers, built for the models many_ids[0..many_M)
  unsigned long long *many_ids; // (many_M) host
  int many_M;
  void *many_dev;               // device table (many_bytes)
  size_t many_bytes;
} mlp_cuda_state;

static unsigned long long next_mlp_id(void) {
  static unsigned long long counter = 0;
  return __atomic_add_fetch(&counter, 1ull, __ATOMIC_RELAXED);
}

static int has_bn(const mbrl_mlp *m, int l) { return m->cfg.batchnorm && l < m->cfg.n_layers - 1; }

// ---------------------------------------------------------------- memory helpers

extern "C" mbrl_status mbrl_mlp_cuda_alloc(void **p, size_t bytes) {
  const char *fn = "mbrl_mlp_cuda_alloc";
  *p = NULL;
  void *d = NULL;
  cudaError_t e = cudaMalloc(&d, bytes ? bytes : 1);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return mbrl_set_error(MBRL_ERR_NOMEM, "%s: cudaMalloc of %zu bytes failed: %s (free GPU "
                          "memory or use a smaller max_batch / model)", fn, bytes,
                          cudaGetErrorString(e));
  }
  mbrl_status st = mbrl_cuda_check(cudaMemset(d, 0, bytes ? bytes : 1), fn, "cudaMemset");
  // the zeros must be in place before any stream (blocking or not) reads the buffer
  if (!st) st = mbrl_cuda_check(cudaDeviceSynchronize(), fn, "cudaDeviceSynchronize");
  if (st) {
    cudaFree(d);
    return st;
  }
  *p = d;
  return MBRL_OK;
}

extern "C" void mbrl_mlp_cuda_free(void *p) {
  if (p) cudaFree(p);
}

// Synchronous in both directions and with respect to every stream: work queued on any stream
// (e.g. a trainer's non-blocking stream) that reads or writes the buffer is finished before the
// copy, and a host -> device copy has landed before the function returns (cudaMemcpy from
// pageable memory may return before its DMA completes).
extern "C" mbrl_status mbrl_mlp_cuda_copy(void *dst, const void *src, size_t bytes,
                                          int to_device) {
  const char *fn = "mbrl_mlp_cuda_copy";
  if (bytes == 0) return MBRL_OK;
  mbrl_status st = mbrl_cuda_check(cudaDeviceSynchronize(), fn, "cudaDeviceSynchronize");
  if (st) return st;
  st = mbrl_cuda_check(
      cudaMemcpy(dst, src, bytes, to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost), fn,
      to_device ? "cudaMemcpy host->device" : "cudaMemcpy device->host");
  if (st) return st;
  return mbrl_cuda_check(cudaDeviceSynchronize(), fn, "cudaDeviceSynchronize");
}

// ---------------------------------------------------------------- setup / teardown

static mlp_cuda_state *state_of(const mbrl_mlp *m) { return (mlp_cuda_state *)m->cuda; }

// Bind the mlp's cuBLAS handle to m->stream (again if the caller changed m->stream), with
// our workspace (cublasSetStream resets the workspace to cuBLAS's default pool).
mbrl_status mbrl_mlp_cuda_bind(mbrl_mlp *m, const char *fn) {
  mlp_cuda_state *cs = state_of(m);
  if (!cs || !cs->h)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: the mlp has no CUDA state (not created on "
                          "the cuda backend?)", fn);
  cudaStream_t s = (cudaStream_t)m->stream;
  if (cs->bound_once && s == cs->bound) return MBRL_OK;
  mbrl_status st = mbrl_cuda_check_cublas(cublasSetStream(cs->h, s), fn, "cublasSetStream");
  if (!st)
    st = mbrl_cuda_check_cublas(cublasSetWorkspace(cs->h, cs->ws, MLP_CUBLAS_WORKSPACE), fn,
                                "cublasSetWorkspace");
  if (st) return st;
  cs->bound = s;
  cs->bound_once = 1;
  return MBRL_OK;
}

extern "C" mbrl_status mbrl_mlp_cuda_setup(mbrl_mlp *m) {
  const char *fn = "mbrl_mlp_cuda_setup";
  mlp_cuda_state *cs = (mlp_cuda_state *)calloc(1, sizeof *cs);
  if (!cs) return mbrl_set_error(MBRL_ERR_NOMEM, "%s: out of memory", fn);
  m->cuda = cs;
  cs->id = next_mlp_id();
  mbrl_status st = mbrl_cuda_check_cublas(cublasCreate(&cs->h), fn, "cublasCreate");
  if (st) {
    cs->h = NULL;
    return st; // mbrl_mlp_free -> teardown releases the rest
  }
  // FP32 products stay FP32 (CUBLAS_DEFAULT_MATH never uses TF32 for sgemm)
  if ((st = mbrl_cuda_check_cublas(cublasSetMathMode(cs->h, CUBLAS_DEFAULT_MATH), fn,
                                   "cublasSetMathMode")))
    return st;
  if ((st = mbrl_mlp_cuda_alloc(&cs->ws, MLP_CUBLAS_WORKSPACE))) return st;
  if ((st = mbrl_mlp_cuda_alloc((void **)&cs->scalar, sizeof(float)))) return st;
  return mbrl_mlp_cuda_bind(m, fn);
}

extern "C" void mbrl_mlp_cuda_teardown(mbrl_mlp *m) {
  mlp_cuda_state *cs = state_of(m);
  if (!cs) return;
  // finish queued work that may still use the handle, workspace or table
  (void)cudaDeviceSynchronize();
  if (cs->h) cublasDestroy(cs->h);
  mbrl_mlp_cuda_free(cs->ws);
  mbrl_mlp_cuda_free(cs->scalar);
  mbrl_mlp_cuda_free(cs->many_dev);
  free(cs->many_ids);
  free(cs);
  m->cuda = NULL;
}

// ---------------------------------------------------------------- forward / backward

static mbrl_status forward_impl(mbrl_mlp *m, const float *x, int B, float *y, int train,
                                const char *fn) {
  mbrl_status st = mbrl_mlp_cuda_bind(m, fn);
  if (st) return st;
  const mbrl_mlp_config *c = &m->cfg;
  const int L = c->n_layers;
  cudaStream_t s = (cudaStream_t)m->stream;
  cublasHandle_t h = state_of(m)->h;
  float *P = m->params;
  if (x != m->x_in &&
      (st = mbrl_cuda_check(cudaMemcpyAsync(m->x_in, x, sizeof(float) * (size_t)B * c->sizes[0],
                                            cudaMemcpyDeviceToDevice, s),
                            fn, "cudaMemcpyAsync x -> x_in")))
    return st;
  const float *hin = m->x_in;
  for (int l = 0; l < L; ++l) {
    const int in = c->sizes[l], out = c->sizes[l + 1];
    const float *W = P + m->w_off[l], *b = P + m->b_off[l];
    mbrl_layer_ptrs p = {};
    p.bias = b;
    if (l == L - 1) {
      if ((st = mbrl_cuda_gemm_xwt(h, y, hin, W, B, in, out, fn))) return st;
      p.x = y;
      p.y = y;
      return mbrl_cuda_bias_act(p, NULL, 1, NULL, B, out, MBRL_ACT_NONE, s, fn);
    }
    if (has_bn(m, l)) {
      if ((st = mbrl_cuda_gemm_xwt(h, m->z[l], hin, W, B, in, out, fn))) return st;
      p.x = m->z[l];
      p.z = m->z[l];
      p.y = m->a[l];
      p.gamma = P + m->gamma_off[l];
      p.beta = P + m->beta_off[l];
      p.mean = m->mean[l];
      p.rstd = m->rstd[l];
      p.rmean = m->buffers + m->rmean_off[l];
      p.rvar = m->buffers + m->rvar_off[l];
      if ((st = mbrl_cuda_bn_forward(p, NULL, 1, B, out, c->bn_momentum, c->bn_eps,
                                     c->activation, train, s, fn)))
        return st;
    } else {
      if ((st = mbrl_cuda_gemm_xwt(h, m->a[l], hin, W, B, in, out, fn))) return st;
      p.x = m->a[l];
      p.y = m->a[l];
      if ((st = mbrl_cuda_bias_act(p, NULL, 1, NULL, B, out, c->activation, s, fn))) return st;
    }
    hin = m->a[l];
  }
  return MBRL_OK; // not reached: the last layer returns above
}

// Backward of a forward of batch B in mode `train` (the same walk as mlp.c's backward_cpu).
static mbrl_status backward_impl(mbrl_mlp *m, const float *dy, float *dx, int B, int train,
                                 const char *fn) {
  mbrl_status st = mbrl_mlp_cuda_bind(m, fn);
  if (st) return st;
  const mbrl_mlp_config *c = &m->cfg;
  const int L = c->n_layers;
  cudaStream_t s = (cudaStream_t)m->stream;
  cublasHandle_t h = state_of(m)->h;
  const float *P = m->params;
  float *G = m->grads;
  const float *d = dy; // dL/d(output of layer l)
  for (int l = L - 1; l >= 0; --l) {
    const int in = c->sizes[l], out = c->sizes[l + 1];
    if (l == L - 1) {
      if ((st = mbrl_cuda_act_bwd_colsum(NULL, G + m->b_off[l], d, NULL, MBRL_ACT_NONE, B, out, s,
                                         fn)))
        return st;
    } else {
      // d == dbuf[l & 1] (written by layer l+1's dx product): processed in place
      float *t = m->dbuf[l & 1];
      if (has_bn(m, l))
        st = mbrl_cuda_bn_backward(t, G + m->gamma_off[l], G + m->beta_off[l], G + m->b_off[l], d,
                                   m->a[l], c->activation, m->z[l], m->mean[l], m->rstd[l],
                                   P + m->gamma_off[l], B, out, train, s, fn);
      else
        st = mbrl_cuda_act_bwd_colsum(t, G + m->b_off[l], d, m->a[l], c->activation, B, out, s, fn);
      if (st) return st;
      d = t;
    }
    const float *xin = l == 0 ? m->x_in : m->a[l - 1];
    float *dxin = l == 0 ? dx : m->dbuf[(l - 1) & 1];
    if ((st = mbrl_cuda_gemm_dw(h, G + m->w_off[l], d, xin, B, in, out, fn))) return st;
    if (dxin && (st = mbrl_cuda_gemm_dx(h, dxin, d, P + m->w_off[l], B, in, out, fn))) return st;
    d = dxin;
  }
  return MBRL_OK;
}

extern "C" mbrl_status mbrl_mlp_forward_cuda(mbrl_mlp *m, const float *x, int B, float *y,
                                             int train) {
  return forward_impl(m, x, B, y, train, "mlp_forward (cuda)");
}

extern "C" mbrl_status mbrl_mlp_backward_cuda(mbrl_mlp *m, const float *dy, float *dx) {
  return backward_impl(m, dy, dx, m->last_B, m->last_train, "mlp_backward (cuda)");
}

extern "C" mbrl_status mbrl_optim_step_cuda(mbrl_optim *o, mbrl_mlp *m) {
  const char *fn = "optim_step (cuda)";
  mbrl_status st = mbrl_mlp_cuda_bind(m, fn);
  if (st) return st;
  cudaStream_t s = (cudaStream_t)m->stream;
  o->step += 1;
  if (o->cfg.kind == MBRL_OPTIM_ADAM) {
    // as mbrl_nn_adam_step: bias corrections in double on the host, passed as floats
    const double bc1 = 1.0 - pow((double)o->cfg.beta1, (double)o->step);
    const double bc2 = 1.0 - pow((double)o->cfg.beta2, (double)o->step);
    return mbrl_cuda_adam(m->params, o->m, o->v, m->grads, o->n, o->cfg.lr, o->cfg.beta1,
                          o->cfg.beta2, o->cfg.eps, (float)((double)o->cfg.lr / bc1),
                          (float)sqrt(bc2), NULL, s, fn);
  }
  return mbrl_cuda_rmsprop(m->params, o->m, m->grads, o->n, o->cfg.lr, o->cfg.alpha, o->cfg.eps, s,
                           fn);
}

extern "C" mbrl_status mbrl_mlp_train_step_mse_cuda(mbrl_mlp *m, mbrl_optim *opt, const float *x,
                                                    const float *target, int B, float *loss) {
  const char *fn = "mlp_train_step_mse (cuda)";
  // pred in dbuf[1]: backward writes dbuf[1] only after the MSE kernel consumed pred
  float *pred = m->dbuf[1];
  const size_t n = (size_t)B * (size_t)m->cfg.sizes[m->cfg.n_layers];
  mbrl_status st = forward_impl(m, x, B, pred, 1, fn);
  if (!st)
    st = mbrl_cuda_mse(loss, m->dy_buf, pred, target, n, NULL, NULL, (cudaStream_t)m->stream, fn);
  if (!st) st = backward_impl(m, m->dy_buf, NULL, B, 1, fn);
  if (!st) st = mbrl_optim_step_cuda(opt, m);
  return st;
}

extern "C" mbrl_status mbrl_mlp_clip_grad_norm_cuda(mbrl_mlp *m, float max_norm, float *norm) {
  const char *fn = "mlp_clip_grad_norm (cuda)";
  mbrl_status st = mbrl_mlp_cuda_bind(m, fn);
  if (st) return st;
  cudaStream_t s = (cudaStream_t)m->stream;
  mlp_cuda_state *cs = state_of(m);
  if ((st = mbrl_cuda_clip_grad_norm(m->grads, norm ? cs->scalar : NULL, m->n_params, max_norm, s,
                                     fn)))
    return st;
  if (!norm) return MBRL_OK; // no synchronization
  if ((st = mbrl_cuda_check(cudaMemcpyAsync(norm, cs->scalar, sizeof(float),
                                            cudaMemcpyDeviceToHost, s),
                            fn, "cudaMemcpyAsync norm")))
    return st;
  return mbrl_cuda_check(cudaStreamSynchronize(s), fn, "cudaStreamSynchronize");
}

// ---------------------------------------------------------------- forward_many

// Device table for M models (all pointers stable for the models' lifetimes):
//   xin[M]                     broadcast destinations (each model's x_in)
//   per layer l: Wp[l][M], X[l][M], Y[l][M]   gemm operands (weights, input, product)
//   per layer l: lp[l][M]      fused-kernel pointers (bias, BN, output)
typedef struct many_layout {
  size_t xin, wp[MBRL_MLP_MAX_LAYERS], x[MBRL_MLP_MAX_LAYERS], y[MBRL_MLP_MAX_LAYERS],
      lp[MBRL_MLP_MAX_LAYERS], bytes;
} many_layout;

static many_layout layout_for(int L, int M) {
  many_layout t;
  memset(&t, 0, sizeof t);
  const size_t ptrs = sizeof(void *) * (size_t)M;
  size_t o = 0;
  t.xin = o;
  o += ptrs;
  for (int l = 0; l < L; ++l) {
    t.wp[l] = o;
    o += ptrs;
    t.x[l] = o;
    o += ptrs;
    t.y[l] = o;
    o += ptrs;
  }
  o = (o + 15) & ~(size_t)15;
  for (int l = 0; l < L; ++l) {
    t.lp[l] = o;
    o += sizeof(mbrl_layer_ptrs) * (size_t)M;
  }
  t.bytes = o;
  return t;
}

// Build (or reuse) ms[0]'s device table for the models ms[0..M).
static mbrl_status many_table(mbrl_mlp *const *ms, int M, many_layout *lay, const char *fn) {
  mlp_cuda_state *cs = state_of(ms[0]);
  const int L = ms[0]->cfg.n_layers;
  *lay = layout_for(L, M);
  int hit = cs->many_dev && cs->many_M == M;
  for (int i = 0; hit && i < M; ++i) hit = cs->many_ids[i] == state_of(ms[i])->id;
  if (hit) return MBRL_OK;

  // rebuild: host image, then a synchronous upload (the old table may be in use)
  char *img = (char *)calloc(1, lay->bytes);
  unsigned long long *ids = (unsigned long long *)malloc(sizeof *ids * (size_t)M);
  if (!img || !ids) {
    free(img);
    free(ids);
    return mbrl_set_error(MBRL_ERR_NOMEM, "%s: out of memory for the table of %d models", fn, M);
  }
  for (int i = 0; i < M; ++i) {
    const mbrl_mlp *m = ms[i];
    float *P = m->params;
    ids[i] = state_of(m)->id;
    ((float **)(img + lay->xin))[i] = m->x_in;
    for (int l = 0; l < L; ++l) {
      const float *in = l == 0 ? m->x_in : m->a[l - 1];
      float *prod = l == L - 1 ? m->dbuf[0] : has_bn(m, l) ? m->z[l] : m->a[l];
      ((const float **)(img + lay->wp[l]))[i] = P + m->w_off[l];
      ((const float **)(img + lay->x[l]))[i] = in;
      ((float **)(img + lay->y[l]))[i] = prod;
      mbrl_layer_ptrs p;
      memset(&p, 0, sizeof p);
      p.x = prod;
      p.bias = P + m->b_off[l];
      if (l == L - 1) {
        p.y = NULL; // the output goes to y + i * B * out (kernel argument)
      } else if (has_bn(m, l)) {
        p.z = m->z[l];
        p.y = m->a[l];
        p.gamma = P + m->gamma_off[l];
        p.beta = P + m->beta_off[l];
        p.mean = m->mean[l];
        p.rstd = m->rstd[l];
        p.rmean = m->buffers + m->rmean_off[l];
        p.rvar = m->buffers + m->rvar_off[l];
      } else {
        p.y = m->a[l];
      }
      memcpy(img + lay->lp[l] + sizeof(mbrl_layer_ptrs) * (size_t)i, &p, sizeof p);
    }
  }
  mbrl_status st = MBRL_OK;
  if (lay->bytes > cs->many_bytes) {
    (void)cudaDeviceSynchronize(); // the old table may still be read by queued kernels
    mbrl_mlp_cuda_free(cs->many_dev);
    cs->many_dev = NULL;
    cs->many_bytes = 0;
    cs->many_M = 0;
    if ((st = mbrl_mlp_cuda_alloc(&cs->many_dev, lay->bytes))) {
      free(img);
      free(ids);
      return st;
    }
    cs->many_bytes = lay->bytes;
  }
  st = mbrl_mlp_cuda_copy(cs->many_dev, img, lay->bytes, 1);
  free(img);
  if (st) {
    free(ids);
    cs->many_M = 0;
    return st;
  }
  free(cs->many_ids);
  cs->many_ids = ids;
  cs->many_M = M;
  return MBRL_OK;
}

extern "C" mbrl_status mbrl_mlp_forward_many_cuda(mbrl_mlp *const *ms, int M, const float *x,
                                                  int B, float *y, int train) {
  const char *fn = "mlp_forward_many (cuda)";
  mbrl_mlp *m0 = ms[0];
  const mbrl_mlp_config *c = &m0->cfg;
  const int L = c->n_layers;
  // The batched kernels need one BN momentum / eps, and distinct models (a model listed twice
  // would be written by two batch entries at once). Otherwise: M single forwards in order, the
  // same result as M calls of mbrl_mlp_forward.
  int batched = 1;
  for (int i = 1; i < M && batched; ++i) {
    if (c->batchnorm &&
        (ms[i]->cfg.bn_momentum != c->bn_momentum || ms[i]->cfg.bn_eps != c->bn_eps))
      batched = 0;
    for (int j = 0; j < i && batched; ++j)
      if (ms[j] == ms[i]) batched = 0;
  }
  if (!batched) {
    const size_t ystride = (size_t)B * (size_t)c->sizes[L];
    for (int j = 0; j < M; ++j) {
      void *saved = ms[j]->stream;
      ms[j]->stream = m0->stream; // the whole call runs on ms[0]'s stream
      mbrl_status st = forward_impl(ms[j], x, B, y + (size_t)j * ystride, train, fn);
      ms[j]->stream = saved;
      if (st) return st;
    }
    return MBRL_OK;
  }
  mbrl_status st = mbrl_mlp_cuda_bind(m0, fn);
  if (st) return st;
  many_layout lay;
  if ((st = many_table(ms, M, &lay, fn))) return st;
  cudaStream_t s = (cudaStream_t)m0->stream;
  cublasHandle_t h = state_of(m0)->h;
  char *dev = (char *)state_of(m0)->many_dev;
  if ((st = mbrl_cuda_broadcast_copy((float *const *)(dev + lay.xin), x,
                                     (size_t)B * (size_t)c->sizes[0], M, s, fn)))
    return st;
  for (int l = 0; l < L; ++l) {
    const int in = c->sizes[l], out = c->sizes[l + 1];
    if ((st = mbrl_cuda_gemm_xwt_batched(h, (float *const *)(dev + lay.y[l]),
                                         (const float *const *)(dev + lay.x[l]),
                                         (const float *const *)(dev + lay.wp[l]), B, in, out, M,
                                         fn)))
      return st;
    const mbrl_layer_ptrs *tab = (const mbrl_layer_ptrs *)(dev + lay.lp[l]);
    const mbrl_layer_ptrs none = {};
    if (l == L - 1)
      st = mbrl_cuda_bias_act(none, tab, M, y, B, out, MBRL_ACT_NONE, s, fn);
    else if (has_bn(m0, l))
      st = mbrl_cuda_bn_forward(none, tab, M, B, out, c->bn_momentum, c->bn_eps, c->activation,
                                train, s, fn);
    else
      st = mbrl_cuda_bias_act(none, tab, M, NULL, B, out, c->activation, s, fn);
    if (st) return st;
  }
  return MBRL_OK;
}
