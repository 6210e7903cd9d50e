/* planner.cu - CUDA backend of the random-shooting planner (src/host/planner.c is the CPU
 * twin; the draws, the cost key and every env's oracle step, reward, shaped cost and terminal
 * are the MBRL_HD functions of mbrl/planner.h and the env headers that the CPU runs too).
 * Both rollout kernels are templates over the env (EnvOps<kind>, one instantiation per entry
 * of MBRL_ENV_LIST), so the env's step and cost are fused into the rollout; a sequence stops
 * paying after its first predicted terminal state (alive flag per sample), discrete envs
 * draw action indices from the same Philox words as the CPU.
 *
 * One plan = two launches + one copy back:
 *   1. rollout kernel, grid (ceil(K / tile), E): each block rolls `tile` samples of one env
 *      through all H steps, drawing their actions in-kernel from Philox, accumulating the
 *      costs in registers, then writes costs and s_1 and folds its block minimum of the
 *      packed (cost, index) key into keys[e] with a 64-bit atomicMin;
 *   2. gather kernel: per env, reads keys[e] (and resets it for the next plan), redraws the
 *      first action of the winner, writes the result struct;
 *   3. one cudaMemcpyAsync of the E results to pinned host memory, one stream sync.
 * Caller-given sequences (mbrl_planner_evaluate_batch, the optimizers of plan_opt.cu): the
 * same rollout kernels with `given` set read row k's actions from given (E, Kn, H, A) in
 * device memory instead of drawing them (no prior, no argmin: keys NULL), so the step, cost,
 * alive mask and gamma are the random-shooting rollout's; costs and s_1 land in the usual
 * (E, K)-strided buffers. Host sequences are copied in first (mbrl_planner_cuda_evaluate).
 * Ensemble models (PETS particles): pets_rollout_kernel + particle_mean_kernel instead of the
 * learned kernel (see "ensemble (PETS) kernels" below for the layout and the weights' place).
 * Learned model: 256 threads per block, 16 samples per block; the folded weights, stored
 * transposed (in, out) so lanes read consecutive outputs, sit in shared memory (global memory
 * when they do not fit); activations ping-pong in shared memory as (width, 16) tiles; a
 * thread computes one output unit for 4 samples (float4 reads of the activations), or for 1
 * sample on narrow layers. Oracle: one thread per sample, 128 per block. The observations and
 * seeds of up to 32 envs travel as kernel arguments (no copy); more go through one copy. */
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "host/planner_cuda.h"
#include "mbrl/dyn_ensemble.h"
#include "mbrl/planner.h"

#define LEARNED_THREADS 256
#define TILE 16 /* samples per learned block (<= 32: the per-sample work lives in warp 0) */
#define ORACLE_THREADS 128
#define INLINE_ENVS 32
#define KEY_INIT 0xFFFFFFFFFFFFFFFFull

typedef struct plan_args {
  float obs[INLINE_ENVS * MBRL_MAX_DIM]; /* (E, obs) when E <= INLINE_ENVS */
  uint64_t seed[INLINE_ENVS];
  uint64_t pseed[INLINE_ENVS]; /* ensembles: particle seeds (planner.h "particles") */
} plan_args;

typedef struct model_args {
  int n_layers, act; /* act: mbrl_act of the hidden layers */
  int sizes[MBRL_MLP_MAX_LAYERS + 1];
  int w_off[MBRL_MLP_MAX_LAYERS], b_off[MBRL_MLP_MAX_LAYERS]; /* into the weight block */
  float sm[MBRL_MAX_DIM], ss[MBRL_MAX_DIM], am[MBRL_MAX_DIM], as[MBRL_MAX_DIM];
  float dm[MBRL_MAX_DIM], ds[MBRL_MAX_DIM];
  float lo[MBRL_MAX_DIM], hi[MBRL_MAX_DIM];
  int O, A, K, H, maxw, nweights, weights_in_smem, score_next, shaped, project, n_actions;
  float gamma;
  /* ensembles (members > 0): member q's block at q * mstride in the weights (nweights = members
   * x mstride), P particles per sequence, propagation, sample (probabilistic and sampling) */
  int members, mstride, P, prop, sample, n_elites;
  int elites[MBRL_PLAN_MAX_MEMBERS];
  float maxlv[MBRL_MAX_DIM], minlv[MBRL_MAX_DIM];
} model_args;

typedef struct planner_cuda {
  model_args ma;
  int kind, env, Emax; /* plan model kind, mbrl_env_kind */
  float *d_weights;           /* (nweights) transposed folded weights + biases */
  float *d_costs;             /* (Emax, K) */
  float *d_s1;                /* (Emax, K, O) */
  float *d_obs;               /* (Emax, O) for E > INLINE_ENVS */
  float *d_prior;             /* (Emax, H, A) warm-start sequences */
  float *d_given;             /* (Emax, K, H, A) caller-given sequences: allocated by the first
                                 mbrl_planner_cuda_evaluate (random shooting never needs it) */
  float *h_prior;             /* (Emax, H, A) pinned staging */
  uint64_t *d_seeds;          /* (Emax) */
  uint64_t *d_pseeds;         /* (Emax) particle seeds for E > INLINE_ENVS */
  uint64_t *h_pseeds;         /* (Emax) pinned */
  float *d_rcost;             /* ensembles: (Emax, K * P) each particle row's cost */
  float *d_rs1;               /* ensembles: (Emax, K * P, O) each particle row's s_1 */
  unsigned long long *d_keys; /* (Emax) */
  mbrl_plan_result *d_res;    /* (Emax) */
  mbrl_plan_result *h_res;    /* (Emax) pinned */
  float *h_obs;               /* (Emax, O) pinned staging */
  uint64_t *h_seeds;          /* (Emax) pinned */
  size_t smem;                /* dynamic shared memory of the learned kernel */
  cudaStream_t stream;
} planner_cuda;

#define CUDA_TRY(call, what)                                                                   \
  do {                                                                                         \
    cudaError_t err_ = (call);                                                                 \
    if (err_ != cudaSuccess)                                                                   \
      return mbrl_set_error(MBRL_ERR_CUDA, "planner (CUDA): %s failed: %s", what,             \
                            cudaGetErrorString(err_));                                         \
  } while (0)

/* Where row k's actions come from (all three rollout kernels): a given sequence (E, Kn, H, A)
 * when the caller passes one; else sequence 0 is all zeros, sequence 1 the prior (warm start)
 * when there is one, and every other sequence draws from its Philox stream. */
struct row_actions {
  const float *given_row; /* (H, A) of this row, or NULL */
  bool from_prior, drawn;
};
__device__ __forceinline__ row_actions row_actions_of(bool valid, const float *given,
                                                      const float *prior, int e, int Kn, int k,
                                                      int H, int A) {
  row_actions r;
  r.given_row = valid && given ? given + ((size_t)e * Kn + k) * (size_t)H * A : NULL;
  r.from_prior = valid && !given && prior && k == 1;
  r.drawn = valid && !given && k > 0 && !r.from_prior;
  return r;
}

/* a[0..NA) = the actions of step h of a row (zeros past A, and for sequence 0). */
template <int NA>
__device__ __forceinline__ void row_action_at(const row_actions &src, int h, int A, int e,
                                              const model_args &ma, const float *prior,
                                              mbrl_philox *rng, float (&a)[NA]) {
#pragma unroll
  for (int j = 0; j < NA; ++j) a[j] = 0.0f;
  if (src.given_row) {
#pragma unroll
    for (int j = 0; j < NA; ++j)
      if (j < A) a[j] = src.given_row[(size_t)h * A + j];
  } else if (src.drawn) {
    mbrl_planner_next_action(rng, A, ma.n_actions, ma.lo, ma.hi, a);
  } else if (src.from_prior) {
#pragma unroll
    for (int j = 0; j < NA; ++j)
      if (j < A) a[j] = prior[((size_t)e * ma.H + h) * A + j];
  }
}

/* ---------------------------------------------------------------- the envs */

/* EnvOps<kind>: the env header's planner functions, by name, for the kernel templates. */
template <int KIND>
struct EnvOps;
#define MBRL_PLAN_ENV_OPS(NAME, name)                                                         \
  template <>                                                                                 \
  struct EnvOps<MBRL_ENV_##NAME> {                                                            \
    enum { O = MBRL_##NAME##_OBS_DIM, A = MBRL_##NAME##_ACT_DIM };                            \
    __device__ static void step(const float *o, const float *a, float *n) {                   \
      mbrl_##name##_oracle_step(o, a, n);                                                     \
    }                                                                                         \
    __device__ static float reward(const float *o, const float *a, const float *n) {          \
      return mbrl_##name##_reward_obs(o, a, n);                                               \
    }                                                                                         \
    __device__ static float shaped(const float *o, const float *a, const float *n) {          \
      return mbrl_##name##_shaped_cost(o, a, n);                                              \
    }                                                                                         \
    __device__ static int terminal(const float *n) { return mbrl_##name##_terminal_obs(n); }  \
    __device__ static void project(float *n) { mbrl_##name##_project_obs(n); }                \
  };
MBRL_ENV_LIST(MBRL_PLAN_ENV_OPS)
#undef MBRL_PLAN_ENV_OPS

/* One step's cost of a live sample (planner.h): cost -= g r(s, a, n) (shaped: += g c(s, a,
 * n)) with s = n when score_next; then the sample dies on a terminal n. */
template <class Env>
__device__ static inline void add_cost(const model_args &ma, const float *s, const float *a,
                                       const float *n, float g, float *cost, bool *alive) {
  if (!*alive) return;
  const float *oc = ma.score_next ? n : s;
  if (ma.shaped)
    *cost = *cost + g * Env::shaped(oc, a, n);
  else
    *cost = *cost - g * Env::reward(oc, a, n);
  if (Env::terminal(n)) *alive = false;
}

/* ---------------------------------------------------------------- device helpers */

__device__ static inline void warp_min_key(unsigned long long *key) {
  for (int off = 16; off > 0; off >>= 1) {
    unsigned long long o = __shfl_xor_sync(0xFFFFFFFFu, *key, off);
    if (o < *key) *key = o;
  }
}

__device__ static inline float act_apply_d(float x, int act) {
  if (act == MBRL_ACT_RELU) return fmaxf(x, 0.0f);
  if (act == MBRL_ACT_TANH) return tanhf(x);
  return x;
}

__device__ static inline void load_obs(const plan_args &pa, const float *d_obs, int E, int e, int O,
                                       float *s) {
#pragma unroll
  for (int i = 0; i < MBRL_MAX_DIM; ++i)
    if (i < O) s[i] = E <= INLINE_ENVS ? pa.obs[e * O + i] : d_obs[e * O + i];
}

/* ---------------------------------------------------------------- oracle kernel */

template <class Env>
__global__ void __launch_bounds__(ORACLE_THREADS)
    oracle_rollout_kernel(plan_args pa, const float *d_obs, const uint64_t *d_seeds,
                          const float *prior, const float *given, int Kn, int E, model_args ma,
                          float *costs, float *s1, unsigned long long *keys) {
  const int O = Env::O, A = Env::A;
  const int e = blockIdx.y;
  const int k = blockIdx.x * ORACLE_THREADS + threadIdx.x;
  unsigned long long key = KEY_INIT;
  if (k < Kn) {
    float s[MBRL_MAX_DIM];
    load_obs(pa, d_obs, E, e, O, s);
    mbrl_philox rng;
    const row_actions src = row_actions_of(true, given, prior, e, Kn, k, ma.H, A);
    if (src.drawn) mbrl_planner_rng(&rng, E <= INLINE_ENVS ? pa.seed[e] : d_seeds[e], (uint64_t)k);
    float cost = 0.0f, g = 1.0f;
    bool alive = true;
    for (int h = 0; h < ma.H; ++h) {
      float a[A], nx[O];
      row_action_at(src, h, A, e, ma, prior, &rng, a);
      Env::step(s, a, nx);
      add_cost<Env>(ma, s, a, nx, g, &cost, &alive);
#pragma unroll
      for (int i = 0; i < O; ++i) s[i] = nx[i];
      if (h == 0) {
        float *o = s1 + ((size_t)e * ma.K + k) * O;
#pragma unroll
        for (int i = 0; i < O; ++i) o[i] = nx[i];
      }
      g = g * ma.gamma;
    }
    costs[(size_t)e * ma.K + k] = cost;
    key = mbrl_planner_cost_key(cost, (uint32_t)k);
  }
  if (!keys) return; /* given sequences: no argmin (uniform over the grid, so no barrier hangs) */
  __shared__ unsigned long long wmin[ORACLE_THREADS / 32];
  warp_min_key(&key);
  if ((threadIdx.x & 31) == 0) wmin[threadIdx.x >> 5] = key;
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned long long b = wmin[0];
    for (int w = 1; w < ORACLE_THREADS / 32; ++w) b = wmin[w] < b ? wmin[w] : b;
    atomicMin(&keys[e], b);
  }
}

/* ---------------------------------------------------------------- learned kernel */

/* out (n_out, TILE) = act(W x + b) for the block's TILE samples; Wt (n_in, n_out). */
__device__ static inline void dense_tile(float *out, const float *in, const float *Wt,
                                         const float *b, int n_in, int n_out, int act) {
  const int groups4 = TILE / 4;
  if (n_out * groups4 >= LEARNED_THREADS / 2) {
    for (int item = threadIdx.x; item < n_out * groups4; item += LEARNED_THREADS) {
      const int j = item % n_out, g = item / n_out;
      const float bj = b[j];
      float a0 = bj, a1 = bj, a2 = bj, a3 = bj;
      for (int i = 0; i < n_in; ++i) {
        const float w = Wt[i * n_out + j];
        const float4 x = *reinterpret_cast<const float4 *>(in + i * TILE + 4 * g);
        a0 += w * x.x;
        a1 += w * x.y;
        a2 += w * x.z;
        a3 += w * x.w;
      }
      float4 r = make_float4(act_apply_d(a0, act), act_apply_d(a1, act), act_apply_d(a2, act),
                             act_apply_d(a3, act));
      *reinterpret_cast<float4 *>(out + j * TILE + 4 * g) = r;
    }
  } else {
    for (int item = threadIdx.x; item < n_out * TILE; item += LEARNED_THREADS) {
      const int s = item % TILE, j = item / TILE;
      float a = b[j];
      for (int i = 0; i < n_in; ++i) a += Wt[i * n_out + j] * in[i * TILE + s];
      out[j * TILE + s] = act_apply_d(a, act);
    }
  }
}

template <class Env>
__global__ void __launch_bounds__(LEARNED_THREADS)
    learned_rollout_kernel(plan_args pa, const float *d_obs, const uint64_t *d_seeds,
                           const float *prior, const float *given, int Kn, int E, model_args ma,
                           const float *gweights, float *costs, float *s1,
                           unsigned long long *keys) {
  extern __shared__ float4 smem4[];
  float *smem = reinterpret_cast<float *>(smem4);
  const int e = blockIdx.y;
  const int k0 = blockIdx.x * TILE;
  const int tid = threadIdx.x;
  /* shared layout: two activation tiles (maxw, TILE), then the weights when they fit */
  float *bufA = smem, *bufB = smem + ma.maxw * TILE;
  const float *W = gweights;
  if (ma.weights_in_smem) {
    float *ws = bufB + ma.maxw * TILE;
    for (int i = tid; i < ma.nweights; i += LEARNED_THREADS) ws[i] = gweights[i];
    W = ws;
  }
  const int O = ma.O, A = ma.A;
  const int k = k0 + tid;
  const bool sample_thread = tid < TILE;
  const bool valid = sample_thread && k < Kn;
  const row_actions src = row_actions_of(valid, given, prior, e, Kn, k, ma.H, ma.A);
  float s[MBRL_MAX_DIM], s1v[MBRL_MAX_DIM], sp[MBRL_MAX_DIM], a[MBRL_MAX_DIM];
  float cost = 0.0f, g = 1.0f;
  bool alive = true;
  mbrl_philox rng;
  if (sample_thread) {
    load_obs(pa, d_obs, E, e, O, s);
    if (src.drawn) {
      const uint64_t seed = E <= INLINE_ENVS ? pa.seed[e] : d_seeds[e];
      mbrl_planner_rng(&rng, seed, (uint64_t)k);
    }
  }
  __syncthreads(); /* weights staged */
  for (int h = 0; h < ma.H; ++h) {
    if (sample_thread) {
      row_action_at(src, h, A, e, ma, prior, &rng, a);
#pragma unroll
      for (int i = 0; i < MBRL_MAX_DIM; ++i) sp[i] = s[i];
#pragma unroll
      for (int i = 0; i < MBRL_MAX_DIM; ++i)
        if (i < O) bufA[i * TILE + tid] = mbrl_normalize1(s[i], ma.sm[i], ma.ss[i]);
#pragma unroll
      for (int j = 0; j < MBRL_MAX_DIM; ++j)
        if (j < A) bufA[(O + j) * TILE + tid] = mbrl_normalize1(a[j], ma.am[j], ma.as[j]);
    }
    __syncthreads();
    float *x = bufA, *y = bufB;
    for (int l = 0; l < ma.n_layers; ++l) {
      const int act = l < ma.n_layers - 1 ? ma.act : MBRL_ACT_NONE;
      dense_tile(y, x, W + ma.w_off[l], W + ma.b_off[l], ma.sizes[l], ma.sizes[l + 1], act);
      __syncthreads();
      float *t = x;
      x = y;
      y = t;
    }
    if (sample_thread) {
#pragma unroll
      for (int i = 0; i < MBRL_MAX_DIM; ++i)
        if (i < O) s[i] = s[i] + mbrl_unnormalize1(x[i * TILE + tid], ma.dm[i], ma.ds[i]);
      if (ma.project) Env::project(s);
      if (h == 0)
#pragma unroll
        for (int i = 0; i < MBRL_MAX_DIM; ++i)
          if (i < O) s1v[i] = s[i];
      add_cost<Env>(ma, sp, a, s, g, &cost, &alive);
      g = g * ma.gamma;
    }
    /* No barrier needed here: the output tile x is read only by the sample threads, and the
     * next writes to it (the next step's inputs, or its layers) are by the same thread or
     * come after the next step's first __syncthreads. */
  }
  unsigned long long key = KEY_INIT;
  if (valid) {
    costs[(size_t)e * ma.K + k] = cost;
    float *o = s1 + ((size_t)e * ma.K + k) * O;
#pragma unroll
    for (int i = 0; i < MBRL_MAX_DIM; ++i)
      if (i < O) o[i] = s1v[i];
    key = mbrl_planner_cost_key(cost, (uint32_t)k);
  }
  if (keys && tid < 32) { /* keys NULL: given sequences, no argmin */
    warp_min_key(&key);
    if (tid == 0 && key != KEY_INIT) atomicMin(&keys[e], key);
  }
}

/* ---------------------------------------------------------------- ensemble (PETS) kernels
 *
 * The particle rollout: rows r = k * P + p (p < P) of each env roll sequence k's actions
 * (drawn in-kernel from sequence k's Philox stream as above, or given), each row through the
 * member mbrl_planner_particle_member(pseed, r, h, prop) of mbrl/planner.h (TS1: per step;
 * TSINF: drawn at h = 0 and kept), a probabilistic member's delta sampled as mean + exp(lv / 2)
 * eps with lv = mbrl_logvar_clamp(raw) and eps = mbrl_dyn_ensemble_noise(mbrl_planner_seed(
 * pseed, MBRL_PLAN_NOISE_TAG, h), r) (the CPU twin's numbers; its vector log/sin/cos are within
 * a few ulp of these scalar functions), EXPECTATION: the elites' mean of their mean outputs, in
 * elite order, divided by n_elites. Fused like the single-model kernel: 16 rows per block, the
 * activations as (width, 16) tiles in shared memory; the weights of ALL members sit in shared
 * memory when they fit (tiles + members x member block <= the opt-in limit, e.g. 5 members of
 * a 200-wide 3-layer MLP do not: 5 x ~42k floats = 840 KB) and are otherwise read from global
 * memory through L1/L2 (every block reads the same few hundred KB, which stay in L2). A thread
 * computes one output unit of one row (rows of a tile may use different members, so the
 * single-model kernel's 4-row float4 path does not apply). Then particle_mean_kernel: per
 * sequence the mean over its P particles (sum in particle order, / P: the CPU's order) of
 * cost and s_1, with the argmin key for a plan. */

/* out (n_out, TILE) = act(W_s x_s + b_s): row s's member block at W + moff[s]. */
__device__ static inline void dense_tile_members(float *out, const float *in, const float *W,
                                                 int w_off, int b_off, const int *moff, int n_in,
                                                 int n_out, int act) {
  for (int item = threadIdx.x; item < n_out * TILE; item += LEARNED_THREADS) {
    const int s = item % TILE, j = item / TILE;
    const float *Wm = W + moff[s];
    const float *Wt = Wm + w_off;
    float a = Wm[b_off + j];
    for (int i = 0; i < n_in; ++i) a += Wt[i * n_out + j] * in[i * TILE + s];
    out[j * TILE + s] = act_apply_d(a, act);
  }
}

template <class Env>
__global__ void __launch_bounds__(LEARNED_THREADS)
    pets_rollout_kernel(plan_args pa, const float *d_obs, const uint64_t *d_seeds,
                        const uint64_t *d_pseeds, const float *prior, const float *given, int Kn,
                        int E, model_args ma, const float *gweights, float *rcost, float *rs1) {
  extern __shared__ float4 smem4[];
  __shared__ int moff[TILE];
  float *smem = reinterpret_cast<float *>(smem4);
  const int e = blockIdx.y, tid = threadIdx.x, P = ma.P;
  const long R = (long)Kn * P;
  const long r = (long)blockIdx.x * TILE + tid;
  float *bufA = smem, *bufB = smem + ma.maxw * TILE;
  const float *W = gweights;
  if (ma.weights_in_smem) {
    float *ws = bufB + ma.maxw * TILE;
    for (int i = tid; i < ma.nweights; i += LEARNED_THREADS) ws[i] = gweights[i];
    W = ws;
  }
  const int O = ma.O, A = ma.A;
  const bool sample_thread = tid < TILE;
  const bool valid = sample_thread && r < R;
  const int k = valid ? (int)(r / P) : 0;
  const row_actions src = row_actions_of(valid, given, prior, e, Kn, k, ma.H, A);
  const uint64_t pseed = E <= INLINE_ENVS ? pa.pseed[e] : d_pseeds[e];
  float s[MBRL_MAX_DIM], s1v[MBRL_MAX_DIM], sp[MBRL_MAX_DIM], a[MBRL_MAX_DIM];
  float cost = 0.0f, g = 1.0f;
  bool alive = true;
  mbrl_philox rng;
  if (sample_thread) {
    load_obs(pa, d_obs, E, e, O, s);
    if (src.drawn) mbrl_planner_rng(&rng, E <= INLINE_ENVS ? pa.seed[e] : d_seeds[e], (uint64_t)k);
  }
  const bool expect = ma.prop == MBRL_PLAN_PROP_EXPECTATION;
  const int passes = expect ? ma.n_elites : 1;
  int member_off = ma.elites[0] * ma.mstride;
  for (int h = 0; h < ma.H; ++h) {
    float d[MBRL_MAX_DIM];
    if (sample_thread) {
      row_action_at(src, h, A, e, ma, prior, &rng, a);
#pragma unroll
      for (int i = 0; i < MBRL_MAX_DIM; ++i) {
        sp[i] = s[i];
        d[i] = 0.0f;
      }
      if (!expect && valid && (ma.prop == MBRL_PLAN_PROP_TS1 || h == 0))
        member_off = mbrl_planner_particle_member(pseed, (uint64_t)r, h, ma.prop, ma.elites,
                                                  ma.n_elites) * ma.mstride;
    }
    for (int q = 0; q < passes; ++q) {
      if (sample_thread) {
#pragma unroll
        for (int i = 0; i < MBRL_MAX_DIM; ++i)
          if (i < O) bufA[i * TILE + tid] = mbrl_normalize1(s[i], ma.sm[i], ma.ss[i]);
#pragma unroll
        for (int j = 0; j < MBRL_MAX_DIM; ++j)
          if (j < A) bufA[(O + j) * TILE + tid] = mbrl_normalize1(a[j], ma.am[j], ma.as[j]);
        moff[tid] = expect ? ma.elites[q] * ma.mstride : member_off;
      }
      __syncthreads(); /* inputs and members of the tile written (and weights staged) */
      float *x = bufA, *y = bufB;
      for (int l = 0; l < ma.n_layers; ++l) {
        const int act = l < ma.n_layers - 1 ? ma.act : MBRL_ACT_NONE;
        dense_tile_members(y, x, W, ma.w_off[l], ma.b_off[l], moff, ma.sizes[l], ma.sizes[l + 1],
                           act);
        __syncthreads();
        float *t = x;
        x = y;
        y = t;
      }
      if (sample_thread) {
        if (expect) {
#pragma unroll
          for (int i = 0; i < MBRL_MAX_DIM; ++i)
            if (i < O) d[i] = d[i] + x[i * TILE + tid];
        } else {
#pragma unroll
          for (int i = 0; i < MBRL_MAX_DIM; ++i)
            if (i < O) d[i] = x[i * TILE + tid];
          if (ma.sample && valid) {
            float eps[MBRL_MAX_DIM];
            mbrl_dyn_ensemble_noise(mbrl_planner_seed(pseed, MBRL_PLAN_NOISE_TAG, (uint64_t)h),
                                    (uint64_t)r, O, eps);
#pragma unroll
            for (int i = 0; i < MBRL_MAX_DIM; ++i)
              if (i < O) {
                const float lv = mbrl_logvar_clamp(x[(O + i) * TILE + tid], ma.maxlv[i],
                                                   ma.minlv[i], NULL);
                d[i] = mbrl_dyn_ensemble_sample1(d[i], lv, eps[i]);
              }
          }
        }
      }
      /* No barrier here: the output tile x is read by each sample thread in its own column
       * only; the next pass's (or step's) writes to the tiles and moff come before the next
       * __syncthreads, and every other thread has passed the last layer's barrier. */
    }
    if (sample_thread) {
#pragma unroll
      for (int i = 0; i < MBRL_MAX_DIM; ++i)
        if (i < O) {
          const float di = expect ? d[i] / (float)ma.n_elites : d[i];
          s[i] = s[i] + mbrl_unnormalize1(di, ma.dm[i], ma.ds[i]);
        }
      if (ma.project) Env::project(s);
      if (h == 0)
#pragma unroll
        for (int i = 0; i < MBRL_MAX_DIM; ++i)
          if (i < O) s1v[i] = s[i];
      add_cost<Env>(ma, sp, a, s, g, &cost, &alive);
      g = g * ma.gamma;
    }
  }
  if (valid) {
    const size_t row = (size_t)e * ma.K * P + (size_t)r;
    rcost[row] = cost;
#pragma unroll
    for (int i = 0; i < MBRL_MAX_DIM; ++i)
      if (i < O) rs1[row * O + i] = s1v[i];
  }
}

/* Per sequence k < Kn of env e: cost = (sum over its P particle rows, in order) / P, s_1 the
 * same mean; with keys, the block's argmin key folded into keys[e]. */
__global__ void __launch_bounds__(ORACLE_THREADS)
    particle_mean_kernel(int Kn, model_args ma, const float *rcost, const float *rs1,
                         float *costs, float *s1, unsigned long long *keys) {
  const int e = blockIdx.y, P = ma.P, O = ma.O;
  const int k = blockIdx.x * ORACLE_THREADS + threadIdx.x;
  unsigned long long key = KEY_INIT;
  if (k < Kn) {
    const size_t r0 = (size_t)e * ma.K * P + (size_t)k * P, o = (size_t)e * ma.K + k;
    float c = 0.0f;
    for (int q = 0; q < P; ++q) c += rcost[r0 + q];
    const float cost = c / (float)P;
    costs[o] = cost;
    for (int i = 0; i < O; ++i) {
      float t = 0.0f;
      for (int q = 0; q < P; ++q) t += rs1[(r0 + q) * O + i];
      s1[o * O + i] = t / (float)P;
    }
    key = mbrl_planner_cost_key(cost, (uint32_t)k);
  }
  if (!keys) return; /* uniform over the grid */
  __shared__ unsigned long long wmin[ORACLE_THREADS / 32];
  warp_min_key(&key);
  if ((threadIdx.x & 31) == 0) wmin[threadIdx.x >> 5] = key;
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned long long b = wmin[0];
    for (int w = 1; w < ORACLE_THREADS / 32; ++w) b = wmin[w] < b ? wmin[w] : b;
    if (b != KEY_INIT) atomicMin(&keys[e], b);
  }
}

/* ---------------------------------------------------------------- gather kernel */

__global__ void gather_kernel(int E, model_args ma, const uint64_t *d_seeds, plan_args pa,
                              const float *prior, const float *costs, const float *s1,
                              unsigned long long *keys, mbrl_plan_result *res) {
  const int e = blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= E) return;
  const unsigned long long key = keys[e];
  keys[e] = KEY_INIT;
  const int best = (int)(key & 0xFFFFFFFFull);
  mbrl_plan_result r;
  memset(&r, 0, sizeof r);
  r.best_index = best;
  r.best_return = -costs[(size_t)e * ma.K + best];
  if (best == 1 && prior) {
    for (int j = 0; j < ma.A; ++j) r.action[j] = prior[(size_t)e * ma.H * ma.A + j];
  } else if (best > 0) {
    mbrl_philox rng;
    mbrl_planner_rng(&rng, E <= INLINE_ENVS ? pa.seed[e] : d_seeds[e], (uint64_t)best);
    mbrl_planner_next_action(&rng, ma.A, ma.n_actions, ma.lo, ma.hi, r.action);
  }
  for (int i = 0; i < ma.O; ++i) r.pred_next[i] = s1[((size_t)e * ma.K + best) * ma.O + i];
  res[e] = r;
}

/* ---------------------------------------------------------------- host side */

typedef void (*oracle_kernel_t)(plan_args, const float *, const uint64_t *, const float *,
                                const float *, int, int, model_args, float *, float *,
                                unsigned long long *);
typedef void (*learned_kernel_t)(plan_args, const float *, const uint64_t *, const float *,
                                 const float *, int, int, model_args, const float *, float *,
                                 float *, unsigned long long *);

typedef void (*pets_kernel_t)(plan_args, const float *, const uint64_t *, const uint64_t *,
                              const float *, const float *, int, int, model_args, const float *,
                              float *, float *);

/* The instantiations of env `kind` (NULL for an unknown kind). */
static oracle_kernel_t oracle_kernel_of(int kind) {
  switch (kind) {
#define MBRL_PLAN_CASE(NAME, name) \
  case MBRL_ENV_##NAME:            \
    return oracle_rollout_kernel<EnvOps<MBRL_ENV_##NAME> >;
    MBRL_ENV_LIST(MBRL_PLAN_CASE)
#undef MBRL_PLAN_CASE
    default:
      return NULL;
  }
}

static learned_kernel_t learned_kernel_of(int kind) {
  switch (kind) {
#define MBRL_PLAN_CASE(NAME, name) \
  case MBRL_ENV_##NAME:            \
    return learned_rollout_kernel<EnvOps<MBRL_ENV_##NAME> >;
    MBRL_ENV_LIST(MBRL_PLAN_CASE)
#undef MBRL_PLAN_CASE
    default:
      return NULL;
  }
}

static pets_kernel_t pets_kernel_of(int kind) {
  switch (kind) {
#define MBRL_PLAN_CASE(NAME, name) \
  case MBRL_ENV_##NAME:            \
    return pets_rollout_kernel<EnvOps<MBRL_ENV_##NAME> >;
    MBRL_ENV_LIST(MBRL_PLAN_CASE)
#undef MBRL_PLAN_CASE
    default:
      return NULL;
  }
}

extern "C" void mbrl_planner_cuda_free(void *state) {
  planner_cuda *c = (planner_cuda *)state;
  if (!c) return;
  cudaFree(c->d_weights);
  cudaFree(c->d_costs);
  cudaFree(c->d_s1);
  cudaFree(c->d_obs);
  cudaFree(c->d_prior);
  cudaFree(c->d_given);
  cudaFreeHost(c->h_prior);
  cudaFree(c->d_seeds);
  cudaFree(c->d_pseeds);
  cudaFreeHost(c->h_pseeds);
  cudaFree(c->d_rcost);
  cudaFree(c->d_rs1);
  cudaFree(c->d_keys);
  cudaFree(c->d_res);
  cudaFreeHost(c->h_res);
  cudaFreeHost(c->h_obs);
  cudaFreeHost(c->h_seeds);
  if (c->stream) cudaStreamDestroy(c->stream);
  free(c);
}

static mbrl_status alloc_dev(void **p, size_t bytes, const char *what) {
  cudaError_t err = cudaMalloc(p, bytes ? bytes : 1);
  if (err != cudaSuccess) {
    *p = NULL;
    return mbrl_set_error(MBRL_ERR_NOMEM, "planner (CUDA): cudaMalloc of %zu bytes for %s failed: %s",
                          bytes, what, cudaGetErrorString(err));
  }
  return MBRL_OK;
}

static mbrl_status create_impl(planner_cuda *c, const mbrl_plan_model *m, int K, int H,
                               float gamma, int Emax, int P, int prop, int sample,
                               size_t device_bytes) {
  size_t free_b = 0, total_b = 0;
  CUDA_TRY(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
  if (device_bytes > free_b)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "planner (CUDA): K = %d samples x E = %d envs needs %.2f GiB of GPU "
                          "memory, but only %.2f GiB are free; lower the number of samples",
                          K, Emax, (double)device_bytes / 1073741824.0,
                          (double)free_b / 1073741824.0);
  model_args *ma = &c->ma;
  memset(ma, 0, sizeof *ma);
  c->kind = (int)m->kind;
  c->env = (int)m->spec->kind;
  c->Emax = Emax;
  if (!oracle_kernel_of(c->env))
    return mbrl_set_error(MBRL_ERR_UNSUPPORTED, "planner (CUDA): no rollout kernel for %s",
                          m->env_id);
  ma->n_actions = m->n_actions;
  ma->O = m->obs_dim;
  ma->A = m->act_dim;
  ma->K = K;
  ma->H = H;
  ma->gamma = gamma;
  for (int j = 0; j < m->act_dim; ++j) {
    ma->lo[j] = m->act_low[j];
    ma->hi[j] = m->act_high[j];
  }
  ma->maxw = m->obs_dim + m->act_dim;
  float *hw = NULL;
  if (m->kind == MBRL_PLAN_MODEL_LEARNED) {
    ma->n_layers = m->n_layers;
    ma->act = (int)m->activation;
    for (int l = 0; l <= m->n_layers; ++l) {
      ma->sizes[l] = m->sizes[l];
      if (m->sizes[l] > ma->maxw) ma->maxw = m->sizes[l];
    }
    ma->maxw = (ma->maxw + 3) / 4 * 4; /* float4-aligned tiles */
    for (int i = 0; i < m->obs_dim; ++i) {
      ma->sm[i] = m->stats.state_mean[i];
      ma->ss[i] = m->stats.state_std[i];
      ma->dm[i] = m->stats.delta_state_mean[i];
      ma->ds[i] = m->stats.delta_state_std[i];
    }
    for (int j = 0; j < m->act_dim; ++j) {
      ma->am[j] = m->stats.action_mean[j];
      ma->as[j] = m->stats.action_std[j];
    }
    /* transposed weights (in, out) then bias, per layer; an ensemble: one such block of n
     * floats per member, member q at q * n */
    const int nm = m->members > 0 ? m->members : 1;
    size_t n = 0;
    for (int l = 0; l < m->n_layers; ++l) n += (size_t)m->sizes[l] * m->sizes[l + 1] + m->sizes[l + 1];
    if (n * nm > (size_t)1 << 30)
      return mbrl_set_error(MBRL_ERR_UNSUPPORTED, "planner (CUDA): network of %zu weights is too large",
                            n * nm);
    hw = (float *)malloc(n * nm * sizeof(float));
    if (!hw) return mbrl_set_error(MBRL_ERR_NOMEM, "planner (CUDA): out of host memory");
    for (int q = 0; q < nm; ++q) {
      const float *params = m->params + (size_t)q * m->member_params;
      float *dst = hw + (size_t)q * n;
      size_t o = 0;
      for (int l = 0; l < m->n_layers; ++l) {
        const int in = m->sizes[l], ou = m->sizes[l + 1];
        const float *W = params + m->w_off[l], *b = params + m->b_off[l];
        ma->w_off[l] = (int)o;
        for (int i = 0; i < in; ++i)
          for (int j = 0; j < ou; ++j) dst[o + (size_t)i * ou + j] = W[(size_t)j * in + i];
        o += (size_t)in * ou;
        ma->b_off[l] = (int)o;
        memcpy(dst + o, b, (size_t)ou * sizeof(float));
        o += (size_t)ou;
      }
    }
    if (m->members > 0) {
      ma->members = m->members;
      ma->mstride = (int)n;
      ma->P = P;
      ma->prop = prop;
      ma->sample = sample;
      ma->n_elites = m->n_elites;
      for (int i = 0; i < m->n_elites; ++i) ma->elites[i] = m->elites[i];
      for (int i = 0; i < m->obs_dim; ++i) {
        ma->maxlv[i] = m->max_logvar[i];
        ma->minlv[i] = m->min_logvar[i];
      }
    }
    n *= (size_t)nm;
    ma->nweights = (int)n;
    int dev = 0, optin = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    const size_t tiles = 2 * (size_t)ma->maxw * TILE * sizeof(float);
    const size_t with_w = tiles + n * sizeof(float);
    if (optin <= 0) optin = 48 * 1024;
    if (m->members > 0) optin -= (int)(TILE * sizeof(int)); /* the PETS kernel's static moff */
    if (tiles > (size_t)optin) {
      free(hw);
      return mbrl_set_error(MBRL_ERR_UNSUPPORTED,
                            "planner (CUDA): layers of width %d need %zu bytes of shared memory "
                            "per block; this GPU allows %d",
                            ma->maxw, tiles, optin);
    }
    ma->weights_in_smem = with_w <= (size_t)optin;
    c->smem = ma->weights_in_smem ? with_w : tiles;
    if (c->smem + (m->members > 0 ? TILE * sizeof(int) : 0) > 48 * 1024) {
      cudaError_t err =
          m->members > 0
              ? cudaFuncSetAttribute(pets_kernel_of(c->env),
                                     cudaFuncAttributeMaxDynamicSharedMemorySize, (int)c->smem)
              : cudaFuncSetAttribute(learned_kernel_of(c->env),
                                     cudaFuncAttributeMaxDynamicSharedMemorySize, (int)c->smem);
      if (err != cudaSuccess) {
        free(hw);
        return mbrl_set_error(MBRL_ERR_CUDA, "planner (CUDA): cannot allow %zu bytes of shared memory: %s",
                              c->smem, cudaGetErrorString(err));
      }
    }
  }
  mbrl_status st = MBRL_OK;
  const size_t EK = (size_t)Emax * K;
  if ((st = alloc_dev((void **)&c->d_costs, EK * sizeof(float), "costs")) ||
      (st = alloc_dev((void **)&c->d_s1, EK * (size_t)ma->O * sizeof(float), "predicted states")) ||
      (st = alloc_dev((void **)&c->d_obs, (size_t)Emax * ma->O * sizeof(float), "observations")) ||
      (st = alloc_dev((void **)&c->d_seeds, (size_t)Emax * sizeof(uint64_t), "seeds")) ||
      (st = alloc_dev((void **)&c->d_prior, (size_t)Emax * H * ma->A * sizeof(float), "priors")) ||
      (st = alloc_dev((void **)&c->d_keys, (size_t)Emax * sizeof(unsigned long long), "keys")) ||
      (st = alloc_dev((void **)&c->d_res, (size_t)Emax * sizeof(mbrl_plan_result), "results")) ||
      (st = alloc_dev((void **)&c->d_pseeds, (size_t)Emax * sizeof(uint64_t), "particle seeds")) ||
      (m->members > 0 &&
       ((st = alloc_dev((void **)&c->d_rcost, EK * (size_t)P * sizeof(float), "particle costs")) ||
        (st = alloc_dev((void **)&c->d_rs1, EK * (size_t)P * ma->O * sizeof(float),
                        "particle states"))))) {
    free(hw);
    return st;
  }
  if (hw) {
    st = alloc_dev((void **)&c->d_weights, (size_t)ma->nweights * sizeof(float), "weights");
    if (st) {
      free(hw);
      return st;
    }
    cudaError_t err = cudaMemcpy(c->d_weights, hw, (size_t)ma->nweights * sizeof(float),
                                 cudaMemcpyHostToDevice);
    free(hw);
    CUDA_TRY(err, "weight upload");
  }
  CUDA_TRY(cudaMemset(c->d_keys, 0xFF, (size_t)Emax * sizeof(unsigned long long)), "key reset");
  CUDA_TRY(cudaMallocHost((void **)&c->h_res, (size_t)Emax * sizeof(mbrl_plan_result)), "pinned results");
  CUDA_TRY(cudaMallocHost((void **)&c->h_obs, (size_t)Emax * ma->O * sizeof(float)), "pinned obs");
  CUDA_TRY(cudaMallocHost((void **)&c->h_seeds, (size_t)Emax * sizeof(uint64_t)), "pinned seeds");
  CUDA_TRY(cudaMallocHost((void **)&c->h_pseeds, (size_t)Emax * sizeof(uint64_t)),
           "pinned particle seeds");
  CUDA_TRY(cudaMallocHost((void **)&c->h_prior, (size_t)Emax * H * ma->A * sizeof(float)),
           "pinned priors");
  CUDA_TRY(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "stream creation");
  CUDA_TRY(cudaDeviceSynchronize(), "setup");
  return MBRL_OK;
}

extern "C" mbrl_status mbrl_planner_cuda_create(void **state, const mbrl_plan_model *m, int K,
                                                int H, float gamma, int score_next, int shaped,
                                                int project,
                                                int max_envs, int particles, int propagation,
                                                int sample, size_t device_bytes) {
  *state = NULL;
  planner_cuda *c = (planner_cuda *)calloc(1, sizeof *c);
  if (!c) return mbrl_set_error(MBRL_ERR_NOMEM, "planner (CUDA): out of memory");
  mbrl_status st = create_impl(c, m, K, H, gamma, max_envs, particles, propagation, sample,
                               device_bytes);
  c->ma.score_next = score_next;
  c->ma.shaped = shaped;
  c->ma.project = project;
  if (st) {
    mbrl_planner_cuda_free(c);
    return st;
  }
  *state = c;
  return MBRL_OK;
}

/* The observations, plan seeds and particle seeds (each NULL to skip; pseeds NULL: zeros) of
 * E envs: into the kernel arguments pa for E <= INLINE_ENVS, else through the pinned staging
 * buffers onto the stream. */
static mbrl_status stage_obs(planner_cuda *c, const float *obs, const uint64_t *seeds,
                             const uint64_t *pseeds, int E, plan_args *pa) {
  const model_args &ma = c->ma;
  memset(pa, 0, sizeof *pa);
  if (E <= INLINE_ENVS) {
    memcpy(pa->obs, obs, (size_t)E * ma.O * sizeof(float));
    if (seeds) memcpy(pa->seed, seeds, (size_t)E * sizeof(uint64_t));
    if (pseeds) memcpy(pa->pseed, pseeds, (size_t)E * sizeof(uint64_t));
    return MBRL_OK;
  }
  memcpy(c->h_obs, obs, (size_t)E * ma.O * sizeof(float));
  CUDA_TRY(cudaMemcpyAsync(c->d_obs, c->h_obs, (size_t)E * ma.O * sizeof(float),
                           cudaMemcpyHostToDevice, c->stream),
           "observation upload");
  if (seeds) {
    memcpy(c->h_seeds, seeds, (size_t)E * sizeof(uint64_t));
    CUDA_TRY(cudaMemcpyAsync(c->d_seeds, c->h_seeds, (size_t)E * sizeof(uint64_t),
                             cudaMemcpyHostToDevice, c->stream),
             "seed upload");
  }
  if (ma.members > 0) {
    if (pseeds)
      memcpy(c->h_pseeds, pseeds, (size_t)E * sizeof(uint64_t));
    else
      memset(c->h_pseeds, 0, (size_t)E * sizeof(uint64_t));
    CUDA_TRY(cudaMemcpyAsync(c->d_pseeds, c->h_pseeds, (size_t)E * sizeof(uint64_t),
                             cudaMemcpyHostToDevice, c->stream),
             "particle seed upload");
  }
  return MBRL_OK;
}

/* The rollout of the planner's model over Kn sequences per env: drawn (given NULL) or the
 * caller's device sequences `given` (E, Kn, H, A). keys: fold the argmin in (a plan) or NULL.
 * Ensembles: the particle rollout, then the particle means (which fold the keys). */
static mbrl_status launch_rollout(planner_cuda *c, const plan_args &pa, const float *d_prior,
                                  const float *given, int Kn, int E, unsigned long long *keys) {
  const model_args &ma = c->ma;
  if (c->kind == MBRL_PLAN_MODEL_ORACLE) {
    dim3 grid((unsigned)MBRL_CEIL_DIV(Kn, ORACLE_THREADS), (unsigned)E);
    oracle_kernel_of(c->env)<<<grid, ORACLE_THREADS, 0, c->stream>>>(
        pa, c->d_obs, c->d_seeds, d_prior, given, Kn, E, ma, c->d_costs, c->d_s1, keys);
  } else if (ma.members > 0) {
    const long rows = (long)Kn * ma.P;
    dim3 grid((unsigned)((rows + TILE - 1) / TILE), (unsigned)E);
    pets_kernel_of(c->env)<<<grid, LEARNED_THREADS, c->smem, c->stream>>>(
        pa, c->d_obs, c->d_seeds, c->d_pseeds, d_prior, given, Kn, E, ma, c->d_weights,
        c->d_rcost, c->d_rs1);
    CUDA_TRY(cudaGetLastError(), "particle rollout kernel launch");
    dim3 grid2((unsigned)MBRL_CEIL_DIV(Kn, ORACLE_THREADS), (unsigned)E);
    particle_mean_kernel<<<grid2, ORACLE_THREADS, 0, c->stream>>>(Kn, ma, c->d_rcost, c->d_rs1,
                                                                  c->d_costs, c->d_s1, keys);
  } else {
    dim3 grid((unsigned)MBRL_CEIL_DIV(Kn, TILE), (unsigned)E);
    learned_kernel_of(c->env)<<<grid, LEARNED_THREADS, c->smem, c->stream>>>(
        pa, c->d_obs, c->d_seeds, d_prior, given, Kn, E, ma, c->d_weights, c->d_costs, c->d_s1,
        keys);
  }
  CUDA_TRY(cudaGetLastError(), "rollout kernel launch");
  return MBRL_OK;
}

extern "C" mbrl_status mbrl_planner_cuda_plan(void *state, const float *obs, const uint64_t *seeds,
                                              const float *prior, int E,
                                              mbrl_plan_result *results) {
  planner_cuda *c = (planner_cuda *)state;
  const model_args &ma = c->ma;
  plan_args pa;
  /* a plan's particle seed is its plan seed (planner.h "particles") */
  mbrl_status st = stage_obs(c, obs, seeds, seeds, E, &pa);
  if (st) return st;
  const float *d_prior = NULL;
  if (prior) {
    const size_t n = (size_t)E * ma.H * ma.A;
    memcpy(c->h_prior, prior, n * sizeof(float));
    CUDA_TRY(cudaMemcpyAsync(c->d_prior, c->h_prior, n * sizeof(float), cudaMemcpyHostToDevice,
                             c->stream),
             "prior upload");
    d_prior = c->d_prior;
  }
  if ((st = launch_rollout(c, pa, d_prior, NULL, ma.K, E, c->d_keys))) return st;
  gather_kernel<<<MBRL_CEIL_DIV(E, 128), 128, 0, c->stream>>>(E, ma, c->d_seeds, pa, d_prior, c->d_costs,
                                                              c->d_s1, c->d_keys, c->d_res);
  CUDA_TRY(cudaGetLastError(), "gather kernel launch");
  CUDA_TRY(cudaMemcpyAsync(c->h_res, c->d_res, (size_t)E * sizeof(mbrl_plan_result),
                           cudaMemcpyDeviceToHost, c->stream),
           "result download");
  CUDA_TRY(cudaStreamSynchronize(c->stream), "plan");
  memcpy(results, c->h_res, (size_t)E * sizeof(mbrl_plan_result));
  return MBRL_OK;
}

extern "C" mbrl_status mbrl_planner_cuda_evaluate_device(void *state, const float *obs,
                                                         const uint64_t *pseeds,
                                                         const float *d_actions, int E, int K) {
  planner_cuda *c = (planner_cuda *)state;
  plan_args pa;
  mbrl_status st = stage_obs(c, obs, NULL, pseeds, E, &pa);
  if (st) return st;
  return launch_rollout(c, pa, NULL, d_actions, K, E, NULL);
}

extern "C" mbrl_status mbrl_planner_cuda_evaluate(void *state, const float *obs,
                                                  const float *actions, const uint64_t *pseeds,
                                                  int E, int K, float *costs, float *s1) {
  planner_cuda *c = (planner_cuda *)state;
  const model_args &ma = c->ma;
  if (!c->d_given) {
    const size_t bytes = (size_t)c->Emax * ma.K * ma.H * ma.A * sizeof(float);
    mbrl_status st = alloc_dev((void **)&c->d_given, bytes, "caller-given action sequences");
    if (st) return st;
  }
  CUDA_TRY(cudaMemcpyAsync(c->d_given, actions, (size_t)E * K * ma.H * ma.A * sizeof(float),
                           cudaMemcpyHostToDevice, c->stream),
           "action sequence upload");
  mbrl_status st = mbrl_planner_cuda_evaluate_device(state, obs, pseeds, c->d_given, E, K);
  if (st) return st;
  /* rows of env e sit at e * samples in the device buffers, at e * K in the caller's */
  CUDA_TRY(cudaMemcpy2DAsync(costs, (size_t)K * sizeof(float), c->d_costs,
                             (size_t)ma.K * sizeof(float), (size_t)K * sizeof(float), (size_t)E,
                             cudaMemcpyDeviceToHost, c->stream),
           "cost download");
  if (s1)
    CUDA_TRY(cudaMemcpy2DAsync(s1, (size_t)K * ma.O * sizeof(float), c->d_s1,
                               (size_t)ma.K * ma.O * sizeof(float), (size_t)K * ma.O * sizeof(float),
                               (size_t)E, cudaMemcpyDeviceToHost, c->stream),
             "predicted state download");
  CUDA_TRY(cudaStreamSynchronize(c->stream), "evaluate");
  return MBRL_OK;
}

extern "C" void *mbrl_planner_cuda_stream(void *state) {
  return (void *)((planner_cuda *)state)->stream;
}

extern "C" const float *mbrl_planner_cuda_device_costs(void *state) {
  return ((planner_cuda *)state)->d_costs;
}

extern "C" int mbrl_planner_cuda_samples(void *state) { return ((planner_cuda *)state)->ma.K; }

extern "C" mbrl_status mbrl_planner_cuda_costs(void *state, int E, float *costs) {
  planner_cuda *c = (planner_cuda *)state;
  CUDA_TRY(cudaMemcpyAsync(costs, c->d_costs, (size_t)E * c->ma.K * sizeof(float),
                           cudaMemcpyDeviceToHost, c->stream),
           "cost download");
  CUDA_TRY(cudaStreamSynchronize(c->stream), "cost download");
  return MBRL_OK;
}
