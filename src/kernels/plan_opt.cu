/* plan_opt.cu - CUDA side of the sampling optimizers CEM and MPPI (src/host/plan_opt.c is the
 * host side and the CPU twin; src/host/plan_opt_cuda.h the contract).
 *
 * One iteration for E environments = one sampling kernel + the planner's fused rollout over
 * the device-resident population + two copies back, all on the planner's stream, one sync:
 *   1. sample kernel, one thread per (env, sample) row: Philox(mbrl_planner_seed(plan_seed,
 *      MBRL_PLAN_OPT_TAG, it), subsequence k) -> D = H * A truncated normals in the CPU twin's
 *      draw order (mbrl_plan_opt_truncnormal, written straight into the row), transformed in
 *      place by the same MBRL_HD per-element functions the CPU runs (mbrl_plan_opt_cem_entry,
 *      mbrl_plan_opt_mppi_row); a discrete env also writes the rows rounded to action indices
 *      (mbrl_plan_opt_round_index), which are what gets scored;
 *   2. the planner's rollout kernel (planner.cu, given-sequence mode: every row reads its
 *      actions from the population; weights in shared memory, see planner.cu) -> costs;
 *   3. copies of the population (E, N, D) and the costs (E, N) into pinned host buffers.
 * The update (sorting the cost keys, elite moments in double / MPPI weights) runs on the host
 * in the CPU twin's functions over these very numbers: for a PETS-sized plan (pop 500, H 30)
 * the population is 60 KB, its copy a few microseconds, the host update tens of microseconds,
 * less than a device sort + reduction's launches would cost. The device draws differ from the
 * CPU's only where CUDA's logf/sinf/cosf differ from the host libm (<= 2 ulp; a truncation
 * decision at exactly |z| = 2 could flip and shift the rest of that row's draws). */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/plan_opt_cuda.h"
#include "host/planner_cuda.h"
#include "mbrl/plan_opt.h"

#define SAMPLE_THREADS 128

typedef struct opt_bounds {
  float lo[MBRL_MAX_DIM], hi[MBRL_MAX_DIM];
} opt_bounds;

typedef struct plan_opt_cuda {
  void *planner;        /* the CUDA planner state that scores (owned by the planner) */
  cudaStream_t stream;  /* the planner's stream */
  int Emax, N, H, A, D, n_actions, stride;
  opt_bounds bd;
  float *d_pop;         /* (Emax, N, D) the samples */
  float *d_eval;        /* (Emax, N, D) discrete envs: the samples rounded (scored); else NULL */
  float *d_a, *d_b;     /* (Emax, D) mu / mean; (Emax, D) var or (Emax, A) past */
  uint64_t *d_seeds;    /* (Emax) */
  float *h_a, *h_b;     /* pinned staging of d_a, d_b */
  uint64_t *h_seeds;    /* pinned */
  uint64_t *pseeds;     /* (Emax) an iteration's particle seeds (ensembles) */
  float *h_pop;         /* (Emax, N, D) pinned */
  float *h_costs;       /* (Emax, N) pinned */
} plan_opt_cuda;

#define CUDA_TRY(call, what)                                                                   \
  do {                                                                                         \
    cudaError_t err_ = (call);                                                                 \
    if (err_ != cudaSuccess)                                                                   \
      return mbrl_set_error(MBRL_ERR_CUDA, "plan_opt (CUDA): %s failed: %s", what,            \
                            cudaGetErrorString(err_));                                         \
  } while (0)

/* Row r = e * N + k of the population (see the top of the file). */
__global__ void __launch_bounds__(SAMPLE_THREADS)
    sample_kernel(int kind, int E, int N, int H, int A, int it, const uint64_t *seeds,
                  const float *da, const float *db, opt_bounds bd, float sigma, float beta,
                  int n_actions, float *pop, float *eval) {
  const long r = (long)blockIdx.x * SAMPLE_THREADS + threadIdx.x;
  if (r >= (long)E * N) return;
  const int e = (int)(r / N), k = (int)(r % N), D = H * A;
  float *x = pop + (size_t)r * D;
  mbrl_philox s;
  mbrl_plan_opt_rng(&s, seeds[e], it, (uint64_t)k);
  mbrl_plan_opt_truncnormal(&s, D, x);
  if (kind == MBRL_PLAN_OPT_CEM) {
    const float *mu = da + (size_t)e * D, *var = db + (size_t)e * D;
    for (int d = 0; d < D; ++d) {
      const int j = d % A;
      x[d] = mbrl_plan_opt_cem_entry(mu[d], var[d], bd.lo[j], bd.hi[j], x[d]);
    }
  } else {
    mbrl_plan_opt_mppi_row(H, A, da + (size_t)e * D, db + (size_t)e * A, sigma, beta, bd.lo,
                           bd.hi, x, x);
  }
  if (eval) {
    float *y = eval + (size_t)r * D;
    for (int d = 0; d < D; ++d) y[d] = mbrl_plan_opt_round_index(x[d], n_actions);
  }
}

extern "C" void mbrl_plan_opt_cuda_free(void *state) {
  plan_opt_cuda *c = (plan_opt_cuda *)state;
  if (!c) return;
  cudaFree(c->d_pop);
  cudaFree(c->d_eval);
  cudaFree(c->d_a);
  cudaFree(c->d_b);
  cudaFree(c->d_seeds);
  cudaFreeHost(c->h_a);
  cudaFreeHost(c->h_b);
  cudaFreeHost(c->h_seeds);
  cudaFreeHost(c->h_pop);
  cudaFreeHost(c->h_costs);
  free(c->pseeds);
  free(c);
}

static mbrl_status alloc_dev(void **p, size_t bytes, const char *what) {
  cudaError_t err = cudaMalloc(p, bytes ? bytes : 1);
  if (err != cudaSuccess) {
    *p = NULL;
    return mbrl_set_error(MBRL_ERR_NOMEM,
                          "plan_opt (CUDA): cudaMalloc of %zu bytes for %s failed: %s; lower the "
                          "population or max_envs",
                          bytes, what, cudaGetErrorString(err));
  }
  return MBRL_OK;
}

static mbrl_status alloc_host(void **p, size_t bytes, const char *what) {
  cudaError_t err = cudaMallocHost(p, bytes ? bytes : 1);
  if (err != cudaSuccess) {
    *p = NULL;
    return mbrl_set_error(MBRL_ERR_NOMEM,
                          "plan_opt (CUDA): pinned host allocation of %zu bytes for %s failed: "
                          "%s; lower the population or max_envs",
                          bytes, what, cudaGetErrorString(err));
  }
  return MBRL_OK;
}

extern "C" mbrl_status mbrl_plan_opt_cuda_create(void **state, void *planner, int Emax, int N,
                                                 int H, int A, const float *lo, const float *hi,
                                                 int n_actions) {
  *state = NULL;
  plan_opt_cuda *c = (plan_opt_cuda *)calloc(1, sizeof *c);
  if (!c) return mbrl_set_error(MBRL_ERR_NOMEM, "plan_opt (CUDA): out of memory");
  c->planner = planner;
  c->stream = (cudaStream_t)mbrl_planner_cuda_stream(planner);
  c->stride = mbrl_planner_cuda_samples(planner);
  c->Emax = Emax;
  c->N = N;
  c->H = H;
  c->A = A;
  c->D = H * A;
  c->n_actions = n_actions;
  for (int j = 0; j < A; ++j) {
    c->bd.lo[j] = lo[j];
    c->bd.hi[j] = hi[j];
  }
  const size_t END = (size_t)Emax * N * c->D, ED = (size_t)Emax * c->D;
  mbrl_status st = MBRL_OK;
  if (c->stride < N)
    st = mbrl_set_error(MBRL_ERR_INVALID_ARG,
                        "plan_opt (CUDA): the planner scores %d sequences, the population is %d",
                        c->stride, N);
  if (!st && !(c->pseeds = (uint64_t *)malloc((size_t)Emax * sizeof(uint64_t))))
    st = mbrl_set_error(MBRL_ERR_NOMEM, "plan_opt (CUDA): out of memory");
  if (!st) st = alloc_dev((void **)&c->d_pop, END * sizeof(float), "the population");
  if (!st && n_actions > 0)
    st = alloc_dev((void **)&c->d_eval, END * sizeof(float), "the rounded population");
  if (!st) st = alloc_dev((void **)&c->d_a, ED * sizeof(float), "the means");
  if (!st) st = alloc_dev((void **)&c->d_b, ED * sizeof(float), "the variances");
  if (!st) st = alloc_dev((void **)&c->d_seeds, (size_t)Emax * sizeof(uint64_t), "the seeds");
  if (!st) st = alloc_host((void **)&c->h_a, ED * sizeof(float), "the means");
  if (!st) st = alloc_host((void **)&c->h_b, ED * sizeof(float), "the variances");
  if (!st) st = alloc_host((void **)&c->h_seeds, (size_t)Emax * sizeof(uint64_t), "the seeds");
  if (!st) st = alloc_host((void **)&c->h_pop, END * sizeof(float), "the population");
  if (!st) st = alloc_host((void **)&c->h_costs, (size_t)Emax * N * sizeof(float), "the costs");
  if (st) {
    mbrl_plan_opt_cuda_free(c);
    return st;
  }
  *state = c;
  return MBRL_OK;
}

extern "C" mbrl_status mbrl_plan_opt_cuda_iterate(void *state, mbrl_plan_opt_kind kind,
                                                  const float *obs, const uint64_t *seeds, int E,
                                                  int it, const float *a, const float *b,
                                                  float sigma, float beta, float *pop,
                                                  float *costs) {
  plan_opt_cuda *c = (plan_opt_cuda *)state;
  const int N = c->N, D = c->D;
  const size_t na = (size_t)E * D, nb = kind == MBRL_PLAN_OPT_CEM ? (size_t)E * D : (size_t)E * c->A;
  const size_t npop = (size_t)E * N * D;
  memcpy(c->h_seeds, seeds, (size_t)E * sizeof(uint64_t));
  memcpy(c->h_a, a, na * sizeof(float));
  memcpy(c->h_b, b, nb * sizeof(float));
  CUDA_TRY(cudaMemcpyAsync(c->d_seeds, c->h_seeds, (size_t)E * sizeof(uint64_t),
                           cudaMemcpyHostToDevice, c->stream),
           "seed upload");
  CUDA_TRY(cudaMemcpyAsync(c->d_a, c->h_a, na * sizeof(float), cudaMemcpyHostToDevice, c->stream),
           "mean upload");
  CUDA_TRY(cudaMemcpyAsync(c->d_b, c->h_b, nb * sizeof(float), cudaMemcpyHostToDevice, c->stream),
           "variance upload");
  const long rows = (long)E * N;
  sample_kernel<<<(unsigned)((rows + SAMPLE_THREADS - 1) / SAMPLE_THREADS), SAMPLE_THREADS, 0,
                  c->stream>>>((int)kind, E, N, c->H, c->A, it, c->d_seeds, c->d_a, c->d_b, c->bd,
                               sigma, beta, c->n_actions, c->d_pop, c->d_eval);
  CUDA_TRY(cudaGetLastError(), "sample kernel launch");
  /* an ensemble's particles: the particle seed of iteration it (plan_opt.h) */
  for (int e = 0; e < E; ++e)
    c->pseeds[e] = mbrl_planner_seed(seeds[e], MBRL_PLAN_OPT_PARTICLE_TAG, (uint64_t)it);
  mbrl_status st = mbrl_planner_cuda_evaluate_device(c->planner, obs, c->pseeds,
                                                     c->d_eval ? c->d_eval : c->d_pop, E, N);
  if (st) return st;
  CUDA_TRY(cudaMemcpyAsync(c->h_pop, c->d_pop, npop * sizeof(float), cudaMemcpyDeviceToHost,
                           c->stream),
           "population download");
  CUDA_TRY(cudaMemcpy2DAsync(c->h_costs, (size_t)N * sizeof(float),
                             mbrl_planner_cuda_device_costs(c->planner),
                             (size_t)c->stride * sizeof(float), (size_t)N * sizeof(float),
                             (size_t)E, cudaMemcpyDeviceToHost, c->stream),
           "cost download");
  CUDA_TRY(cudaStreamSynchronize(c->stream), "optimizer iteration");
  memcpy(pop, c->h_pop, npop * sizeof(float));
  memcpy(costs, c->h_costs, (size_t)E * N * sizeof(float));
  return MBRL_OK;
}
