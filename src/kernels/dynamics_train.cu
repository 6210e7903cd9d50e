// dynamics_train.cu - the GPU-resident trainer of the dynamics model (src/host/dynamics_cuda.h).
//
// Create: the normalized training set (mbrl_dynamics_normalize_data, the CPU trainer's exact
// arrays) is uploaded once: X (n, in), Y (n, obs) in device memory. An mbrl_optim on the GPU.
//
// Minibatches: the SAME as the CPU trainer's. The host runs the identical mbrl_sampler
// (Philox Fisher-Yates permutation per epoch, floor(n / batch) batches, the rest dropped) and
// writes the row indices of every step of a chunk (up to CHUNK_STEPS steps) into one int32 list,
// uploaded with ONE host->device copy per chunk (a run of n <= CHUNK_STEPS steps is one chunk).
//
// A step (all on the trainer's own non-blocking stream, no host copy, no synchronization):
//   gather_kernel      x_in (batch, in) = X[idx[k]], yb (batch, obs) = Y[idx[k]] where k =
//                      ss->k, the step's index in the chunk, read from device memory
//   mlp forward        train mode, into pred (mbrl_mlp_forward_cuda; x == x_in: no copy)
//   mse_kernel         dpred, loss -> losses_dev[k]; then ss->k++ and ss->t++ (device)
//   mlp backward       from dpred (mbrl_mlp_backward_cuda)
//   adam_kernel        bias corrections from ss->t (device), or rmsprop_kernel
// Because every per-step value lives in device memory, the step is captured ONCE into a CUDA
// graph and replayed; a second graph holds GRAPH_UNROLL consecutive steps.
//
// Launches per step for the seed's model (3 Linear layers, BN after the 2 hidden ones; cuBLAS
// calls counted as one launch each; see mlp.cu for the breakdown):
//   eager (MBRL_CUDA_GRAPHS=0): 1 gather + 6 forward + 1 MSE + 8 backward + 1 Adam = 17
//   graph of 1 step:  1 cudaGraphLaunch per step (17 kernel nodes)
//   graph of GRAPH_UNROLL = 16 steps: 1 cudaGraphLaunch per 16 steps (1/16 launch per step);
//   a chunk of s steps takes s / 16 unrolled launches + s % 16 single-step launches (the
//   trainer's very first step runs eagerly, before the first capture).
// Per chunk (i.e. per run call for n <= CHUNK_STEPS): 1 host->device copy of the indices, 1
// memset, 1 event wait, the replays, 1 device->host copy of the losses and 1 stream sync.
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/dynamics_cuda.h"
#include "host/mlp_cuda.h"
#include "kernels/mlp_internal.cuh"
#include "kernels/nn_kernels.cuh"
#include "mbrl/dataset.h"
#include "mbrl/dynamics.h"
#include "mbrl/mlp.h"

#define CHUNK_MAX_INDEX_BYTES (16u << 20) // index list of one chunk, at most
#define CHUNK_MAX_STEPS 8192              // steps per chunk, at most
#define GRAPH_UNROLL 16                   // steps in the unrolled graph

struct mbrl_dynamics_trainer_cuda {
  mbrl_dynamics *d;
  mbrl_mlp *m; // d->mlp
  int batch, in, obs;
  size_t n;             // training rows
  float *X, *Y;         // device (n, in), (n, obs): the normalized training set
  float *yb;            // device (batch, obs): gathered targets (inputs go to m->x_in)
  int *idx;             // device (chunk * batch): row indices of the chunk's steps
  int *h_idx;           // host (chunk * batch)
  size_t *h_rows;       // host (batch): one minibatch from the sampler
  float *losses_dev;    // device (chunk)
  float *h_losses;      // host (chunk)
  unsigned long long *h_epoch; // host (chunk): epoch of each step (for error messages)
  int chunk;            // steps per chunk
  mbrl_cuda_step_state *ss; // device
  mbrl_sampler sampler; // host, identical to the CPU trainer's
  mbrl_optim *opt;
  long long steps;      // steps run so far
  cudaStream_t stream;  // non-blocking, owned
  cudaEvent_t ev;       // orders the trainer after earlier work of the caller's streams
  int use_graphs;       // 0 when MBRL_CUDA_GRAPHS=0 (eager launches, for comparison)
  cudaGraphExec_t exec1, execK; // 1-step and GRAPH_UNROLL-step graphs (NULL until captured)
};

// ---------------------------------------------------------------- kernels

namespace {

// x_in (batch, in) and yb (batch, obs) from the rows idx[k * batch ...], k = ss->k.
__global__ void gather_kernel(float *xb, float *yb, const float *X, const float *Y,
                              const int *idx, const mbrl_cuda_step_state *ss, int batch, int in,
                              int obs) {
  const int *rows = idx + (size_t)ss->k * (size_t)batch;
  const size_t nx = (size_t)batch * in, ny = (size_t)batch * obs;
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < nx + ny; i += stride) {
    if (i < nx) {
      const size_t r = i / (size_t)in, j = i % (size_t)in;
      xb[i] = X[(size_t)rows[r] * in + j];
    } else {
      const size_t i2 = i - nx, r = i2 / (size_t)obs, j = i2 % (size_t)obs;
      yb[i2] = Y[(size_t)rows[r] * obs + j];
    }
  }
}

}  // namespace

// ---------------------------------------------------------------- one step

// Queue one training step on m->stream (== t->stream while a run is under way).
static mbrl_status queue_step(mbrl_dynamics_trainer_cuda *t, const char *fn) {
  mbrl_mlp *m = t->m;
  cudaStream_t s = t->stream;
  const size_t total = (size_t)t->batch * (size_t)(t->in + t->obs);
  unsigned grid = (unsigned)((total + 255) / 256);
  if (grid > 1024) grid = 1024;
  gather_kernel<<<grid, 256, 0, s>>>(m->x_in, t->yb, t->X, t->Y, t->idx, t->ss, t->batch, t->in,
                                     t->obs);
  mbrl_status st = mbrl_cuda_check_launch(fn, "gather_kernel launch");
  if (st) return st;
  float *pred = m->dbuf[1]; // as mbrl_mlp_train_step_mse: consumed by MSE before backward
  if ((st = mbrl_mlp_forward_cuda(m, m->x_in, t->batch, pred, 1))) return st;
  const size_t n = (size_t)t->batch * (size_t)t->obs;
  if ((st = mbrl_cuda_mse(NULL, m->dy_buf, pred, t->yb, n, t->ss, t->losses_dev, s, fn)))
    return st;
  m->last_B = t->batch; // what mbrl_mlp_backward_cuda differentiates
  m->last_train = 1;
  if ((st = mbrl_mlp_backward_cuda(m, m->dy_buf, NULL))) return st;
  const mbrl_optim *o = t->opt;
  if (o->cfg.kind == MBRL_OPTIM_ADAM)
    return mbrl_cuda_adam(m->params, o->m, o->v, m->grads, o->n, o->cfg.lr, o->cfg.beta1,
                          o->cfg.beta2, o->cfg.eps, 0.0f, 0.0f, t->ss, s, fn);
  return mbrl_cuda_rmsprop(m->params, o->m, m->grads, o->n, o->cfg.lr, o->cfg.alpha, o->cfg.eps,
                           s, fn);
}

// Capture `k` consecutive steps into an instantiated graph.
static mbrl_status capture(mbrl_dynamics_trainer_cuda *t, int k, cudaGraphExec_t *out,
                           const char *fn) {
  *out = NULL;
  mbrl_status st = mbrl_cuda_check(
      cudaStreamBeginCapture(t->stream, cudaStreamCaptureModeThreadLocal), fn,
      "cudaStreamBeginCapture");
  if (st) return st;
  for (int i = 0; i < k && !st; ++i) st = queue_step(t, fn);
  cudaGraph_t g = NULL;
  cudaError_t e = cudaStreamEndCapture(t->stream, &g); // always end the capture
  if (!st) st = mbrl_cuda_check(e, fn, "cudaStreamEndCapture");
  if (!st) st = mbrl_cuda_check(cudaGraphInstantiate(out, g, 0), fn, "cudaGraphInstantiate");
  if (g) cudaGraphDestroy(g);
  if (st) {
    (void)cudaGetLastError();
    *out = NULL;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", mbrl_last_error());
    return mbrl_set_error(st, "%s (while capturing %d training step(s) into a CUDA graph; set "
                          "MBRL_CUDA_GRAPHS=0 to train with plain launches)", msg, k);
  }
  return MBRL_OK;
}

// ---------------------------------------------------------------- create / free

extern "C" void mbrl_dynamics_trainer_cuda_free(mbrl_dynamics_trainer_cuda *t) {
  if (!t) return;
  if (t->stream) (void)cudaStreamSynchronize(t->stream);
  if (t->exec1) cudaGraphExecDestroy(t->exec1);
  if (t->execK) cudaGraphExecDestroy(t->execK);
  mbrl_mlp_cuda_free(t->X);
  mbrl_mlp_cuda_free(t->Y);
  mbrl_mlp_cuda_free(t->yb);
  mbrl_mlp_cuda_free(t->idx);
  mbrl_mlp_cuda_free(t->losses_dev);
  mbrl_mlp_cuda_free(t->ss);
  free(t->h_idx);
  free(t->h_rows);
  free(t->h_losses);
  free(t->h_epoch);
  mbrl_sampler_free(&t->sampler);
  mbrl_optim_free(t->opt);
  if (t->ev) cudaEventDestroy(t->ev);
  if (t->stream) cudaStreamDestroy(t->stream);
  free(t);
}

extern "C" mbrl_status mbrl_dynamics_trainer_cuda_create(mbrl_dynamics_trainer_cuda **out,
                                                         mbrl_dynamics *d,
                                                         const mbrl_dataset *train_data,
                                                         const mbrl_optim_config *opt, int batch,
                                                         uint64_t seed) {
  const char *fn = "dynamics_trainer_create (cuda)";
  *out = NULL;
  mbrl_mlp *m = d->mlp;
  if (m->backend != MBRL_BACKEND_CUDA)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: the model is not on the cuda backend", fn);
  const size_t n = train_data->n;
  if (n > (size_t)INT32_MAX)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "%s: %zu training rows exceed the 2^31-1 rows the GPU trainer indexes",
                          fn, n);
  mbrl_dynamics_trainer_cuda *t =
      (mbrl_dynamics_trainer_cuda *)calloc(1, sizeof(mbrl_dynamics_trainer_cuda));
  if (!t) return mbrl_set_error(MBRL_ERR_NOMEM, "%s: out of memory", fn);
  t->d = d;
  t->m = m;
  t->batch = batch;
  t->in = d->obs_dim + d->act_dim;
  t->obs = d->obs_dim;
  t->n = n;
  const char *g = getenv("MBRL_CUDA_GRAPHS");
  t->use_graphs = !(g && strcmp(g, "0") == 0);
  size_t chunk = CHUNK_MAX_INDEX_BYTES / (sizeof(int) * (size_t)batch);
  if (chunk > CHUNK_MAX_STEPS) chunk = CHUNK_MAX_STEPS;
  if (chunk < 1) chunk = 1;
  t->chunk = (int)chunk;

  mbrl_status st = MBRL_OK;
  float *hx = (float *)malloc(sizeof(float) * (n * (size_t)t->in + 1));
  float *hy = (float *)malloc(sizeof(float) * (n * (size_t)t->obs + 1));
  t->h_idx = (int *)malloc(sizeof(int) * chunk * (size_t)batch);
  t->h_rows = (size_t *)malloc(sizeof(size_t) * (size_t)batch);
  t->h_losses = (float *)malloc(sizeof(float) * chunk);
  t->h_epoch = (unsigned long long *)malloc(sizeof(unsigned long long) * chunk);
  if (!hx || !hy || !t->h_idx || !t->h_rows || !t->h_losses || !t->h_epoch)
    st = mbrl_set_error(MBRL_ERR_NOMEM, "%s: out of host memory for %zu training rows", fn, n);
  if (!st) st = mbrl_dynamics_normalize_data(d, train_data, hx, hy);
  if (!st) st = mbrl_mlp_cuda_alloc((void **)&t->X, sizeof(float) * n * (size_t)t->in);
  if (!st) st = mbrl_mlp_cuda_alloc((void **)&t->Y, sizeof(float) * n * (size_t)t->obs);
  if (!st) st = mbrl_mlp_cuda_copy(t->X, hx, sizeof(float) * n * (size_t)t->in, 1);
  if (!st) st = mbrl_mlp_cuda_copy(t->Y, hy, sizeof(float) * n * (size_t)t->obs, 1);
  free(hx);
  free(hy);
  if (!st) st = mbrl_mlp_cuda_alloc((void **)&t->yb, sizeof(float) * (size_t)batch * t->obs);
  if (!st) st = mbrl_mlp_cuda_alloc((void **)&t->idx, sizeof(int) * chunk * (size_t)batch);
  if (!st) st = mbrl_mlp_cuda_alloc((void **)&t->losses_dev, sizeof(float) * chunk);
  if (!st) st = mbrl_mlp_cuda_alloc((void **)&t->ss, sizeof(mbrl_cuda_step_state));
  if (!st) st = mbrl_sampler_init(&t->sampler, NULL, n, (size_t)batch, seed);
  if (!st) st = mbrl_optim_create(&t->opt, opt, m);
  if (!st)
    st = mbrl_cuda_check(cudaStreamCreateWithFlags(&t->stream, cudaStreamNonBlocking), fn,
                         "cudaStreamCreateWithFlags");
  if (!st)
    st = mbrl_cuda_check(cudaEventCreateWithFlags(&t->ev, cudaEventDisableTiming), fn,
                         "cudaEventCreateWithFlags");
  if (st) {
    mbrl_dynamics_trainer_cuda_free(t);
    return st;
  }
  *out = t;
  return MBRL_OK;
}

// ---------------------------------------------------------------- run

// Fill h_idx / h_epoch with the next `k` minibatches: the CPU trainer's exact sampler calls.
static void draw_indices(mbrl_dynamics_trainer_cuda *t, int k) {
  for (int s = 0; s < k; ++s) {
    if (!mbrl_sampler_next(&t->sampler, t->h_rows)) {
      mbrl_sampler_begin_epoch(&t->sampler, t->sampler.epoch + 1);
      mbrl_sampler_next(&t->sampler, t->h_rows); // batch <= n: an epoch has >= 1 batch
    }
    int *out = t->h_idx + (size_t)s * (size_t)t->batch;
    for (int r = 0; r < t->batch; ++r) out[r] = (int)t->h_rows[r];
    t->h_epoch[s] = (unsigned long long)t->sampler.epoch;
  }
}

// Run k <= chunk steps; losses of the chunk land in t->h_losses.
static mbrl_status run_chunk(mbrl_dynamics_trainer_cuda *t, int k, const char *fn) {
  cudaStream_t s = t->stream;
  draw_indices(t, k);
  // pageable source: the copy is staged before cudaMemcpyAsync returns, so h_idx can be
  // refilled by the next chunk; stream order puts it after the previous chunk's kernels
  mbrl_status st = mbrl_cuda_check(cudaMemcpyAsync(t->idx, t->h_idx,
                                                   sizeof(int) * (size_t)k * (size_t)t->batch,
                                                   cudaMemcpyHostToDevice, s),
                                   fn, "cudaMemcpyAsync indices");
  if (!st)
    st = mbrl_cuda_check(cudaMemsetAsync(&t->ss->k, 0, sizeof(int), s), fn, "cudaMemsetAsync k");
  if (st) return st;
  int done = 0;
  if (!t->use_graphs) {
    for (; done < k && !st; ++done) st = queue_step(t, fn);
  } else {
    // the very first step runs eagerly: every kernel module (ours, cuBLAS's) is loaded and
    // cuBLAS has chosen its kernels before anything is captured
    if (!t->exec1 && !t->execK && t->steps == 0) {
      st = queue_step(t, fn);
      ++done;
    }
    if (!st && k - done >= GRAPH_UNROLL && !t->execK) st = capture(t, GRAPH_UNROLL, &t->execK, fn);
    for (; !st && k - done >= GRAPH_UNROLL; done += GRAPH_UNROLL)
      st = mbrl_cuda_check(cudaGraphLaunch(t->execK, s), fn, "cudaGraphLaunch (16 steps)");
    if (!st && done < k && !t->exec1) st = capture(t, 1, &t->exec1, fn);
    for (; !st && done < k; ++done)
      st = mbrl_cuda_check(cudaGraphLaunch(t->exec1, s), fn, "cudaGraphLaunch (1 step)");
  }
  if (st) return st;
  st = mbrl_cuda_check(cudaMemcpyAsync(t->h_losses, t->losses_dev, sizeof(float) * (size_t)k,
                                       cudaMemcpyDeviceToHost, s),
                       fn, "cudaMemcpyAsync losses");
  if (!st) st = mbrl_cuda_check(cudaStreamSynchronize(s), fn, "cudaStreamSynchronize");
  return st;
}

extern "C" mbrl_status mbrl_dynamics_trainer_cuda_run(mbrl_dynamics_trainer_cuda *t, int n,
                                                      float *losses) {
  const char *fn = "dynamics_trainer_run (cuda)";
  mbrl_mlp *m = t->m;
  void *saved_stream = m->stream;
  // order the trainer's stream after the work already queued on the caller's stream and the
  // legacy default stream (e.g. an evaluation forward that reads the parameters)
  mbrl_status st =
      mbrl_cuda_check(cudaEventRecord(t->ev, (cudaStream_t)saved_stream), fn, "cudaEventRecord");
  if (!st) st = mbrl_cuda_check(cudaStreamWaitEvent(t->stream, t->ev, 0), fn, "cudaStreamWaitEvent");
  if (!st && saved_stream != NULL) {
    st = mbrl_cuda_check(cudaEventRecord(t->ev, (cudaStream_t)0), fn, "cudaEventRecord");
    if (!st)
      st = mbrl_cuda_check(cudaStreamWaitEvent(t->stream, t->ev, 0), fn, "cudaStreamWaitEvent");
  }
  if (st) return st;
  m->stream = t->stream;
  st = mbrl_mlp_cuda_bind(m, fn); // before any capture: no cuBLAS configuration inside it
  long long bad_step = 0;
  float bad_loss = 0.0f;
  unsigned long long bad_epoch = 0;
  int done = 0;
  while (!st && done < n) {
    const int k = n - done < t->chunk ? n - done : t->chunk;
    st = run_chunk(t, k, fn);
    if (st) break;
    for (int j = 0; j < k; ++j) {
      if (losses) losses[done + j] = t->h_losses[j];
      if (!bad_step && !isfinite(t->h_losses[j])) {
        bad_step = t->steps + j + 1;
        bad_loss = t->h_losses[j];
        bad_epoch = t->h_epoch[j];
      }
    }
    // host mirrors of what the device did: optimizer step count, BN counters, last forward
    t->steps += k;
    t->opt->step += k;
    for (int l = 0; l < m->cfg.n_layers - 1; ++l)
      if (m->cfg.batchnorm) m->num_batches_tracked[l] += k;
    m->last_B = t->batch;
    m->last_train = 1;
    done += k;
    if (bad_step) break;
  }
  m->stream = saved_stream;
  // Bind the mlp's cuBLAS handle back to the caller's stream now: left on t->stream, the handle
  // would keep a stream that mbrl_dynamics_trainer_cuda_free destroys (cublasDestroy at
  // mbrl_mlp_free, or a later trainer whose new stream reuses the address, would meet it).
  const mbrl_status st_bind = mbrl_mlp_cuda_bind(m, fn);
  if (!st) st = st_bind;
  if (st) return st;
  if (bad_step)
    return mbrl_set_error(MBRL_ERR_NUMERIC,
                          "the training loss became %s at step %lld (epoch %llu); the weights "
                          "are no longer usable: lower the learning rate",
                          isnan(bad_loss) ? "NaN" : "Inf", bad_step, bad_epoch);
  return MBRL_OK;
}

extern "C" long long mbrl_dynamics_trainer_cuda_steps(const mbrl_dynamics_trainer_cuda *t) {
  return t ? t->steps : 0;
}
