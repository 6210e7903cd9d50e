/* mbrl/planner.h - sampling-based model-predictive control: random shooting over a model.
 *
 * A plan model (mbrl_plan_model) predicts the next observation from (observation, action):
 *   LEARNED  a dynamics MLP in eval mode with BatchNorm folded into its Linear layers:
 *            next = s + unnormalize(mlp(concat(normalize(s), normalize(a))), delta stats)
 *            (normalize(x) = (x - mean) / (std + 1e-8), DESIGN.md's normalizer);
 *   ORACLE   the true Pendulum-v1 dynamics on observations: th = atan2(sin, cos),
 *            mbrl_pendulum_step_f, next = [cos th', sin th', thdot'] (float).
 * The model is immutable once made; planners of any kind (random shooting now, CEM/MPPI and
 * ensembles later) read it. It holds host copies of the folded weights.
 *
 * Random shooting (mbrl_planner_plan), for each of E environments:
 *   - K action sequences of horizon H: sequence 0 is all zeros; for k >= 1 the entries
 *     a[k][h][j] are the draws h*act_dim + j, in order, of Philox(plan_seed, subsequence k,
 *     offset 0) mapped by mbrl_philox_range_float to (lo_j, hi_j] (the env's action bounds);
 *     the CPU and CUDA backends draw the very same numbers (mbrl_planner_draw below);
 *   - s_0 = the current observation, s_{h+1} = model(s_h, a_h);
 *     cost[k] = -sum_{h<H} gamma^h r(s_h, a_h) with the env's reward on the PREDICTED
 *     observations (pendulum: mbrl_pendulum_reward_obs_f); gamma^h is a running float product;
 *   - best = argmin cost (a NaN cost counts as +inf; ties go to the lowest index); the result
 *     is the first action of sequence best, its predicted return -cost[best] and the
 *     predicted next observation s_1 of sequence best.
 * Backends: CPU (blocks of rows through the folded MLP on the CPU kernel path in use,
 * mbrl/cpu.h: avx512, avx2 or generic, the zeros of ReLU activations skipped; OpenMP over
 * blocks, no allocation per plan; costs are bit-identical for a row whatever K, E, block or
 * thread count) and CUDA (one rollout kernel per plan that draws the
 * actions in-kernel, rolls all H steps with the weights in shared memory, accumulates the
 * costs and reduces to the argmin with a 64-bit atomicMin; a tiny kernel gathers the result;
 * one copy back). */
#ifndef MBRL_PLANNER_H
#define MBRL_PLANNER_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "mbrl/common.h"
#include "mbrl/dataset.h"
#include "mbrl/device.h"
#include "mbrl/dynamics.h"
#include "mbrl/mlp.h"
#include "mbrl/envs/pendulum.h"
#include "mbrl/philox.h"
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

#define MBRL_PLANNER_MAX_SAMPLES 2147483647 /* K per environment (memory decides sooner) */
#define MBRL_PLANNER_MAX_HORIZON 100000
#define MBRL_PLANNER_MAX_ENVS 65536

/* ---------------------------------------------------------------- shared per-element math */

/* plan_seed for environment/episode `episode` at control step `step` of a run seeded `seed`:
 * splitmix64 mixing, so neighbouring steps get unrelated Philox keys. */
MBRL_HD static inline uint64_t mbrl_planner_seed(uint64_t seed, uint64_t episode, uint64_t step) {
  uint64_t z = seed;
  uint64_t v[2] = {episode, step};
  for (int i = 0; i < 2; ++i) {
    z += 0x9E3779B97F4A7C15ull + v[i];
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
  }
  return z;
}

/* The action generator of sequence k: Philox(plan_seed, subsequence k, offset 0). */
MBRL_HD static inline void mbrl_planner_rng(mbrl_philox *s, uint64_t plan_seed, uint64_t k) {
  mbrl_philox_init(s, plan_seed, k, 0);
}

/* Next action (act_dim) of a sequence from its generator: entry j in (lo[j], hi[j]]. */
MBRL_HD static inline void mbrl_planner_next_action(mbrl_philox *s, int act_dim, const float *lo,
                                                    const float *hi, float *a) {
  for (int j = 0; j < act_dim; ++j) a[j] = mbrl_philox_range_float(s, lo[j], hi[j]);
}

/* All H actions of sequence k: out (H, act_dim); zeros for k == 0. */
MBRL_HD static inline void mbrl_planner_draw(uint64_t plan_seed, uint64_t k, int H, int act_dim,
                                             const float *lo, const float *hi, float *out) {
  if (k == 0) {
    for (int i = 0; i < H * act_dim; ++i) out[i] = 0.0f;
    return;
  }
  mbrl_philox s;
  mbrl_planner_rng(&s, plan_seed, k);
  for (int h = 0; h < H; ++h) mbrl_planner_next_action(&s, act_dim, lo, hi, out + h * act_dim);
}

/* The oracle's pendulum step on an observation: th = atan2(o[1], o[0]), thdot = o[2],
 * mbrl_pendulum_step_f with torque u, next = [cos th', sin th', thdot']. *th_out (may be
 * NULL) receives atan2(o[1], o[0]) (the reward's angle of the PRE-step observation). */
MBRL_HD static inline void mbrl_planner_oracle_step(const float *o, float u, float *next,
                                                    float *th_out) {
  float th = atan2f(o[1], o[0]), thdot = o[2];
  if (th_out) *th_out = th;
  mbrl_pendulum_step_f(&th, &thdot, u);
  next[0] = cosf(th);
  next[1] = sinf(th);
  next[2] = thdot;
}

/* A float cost as an unsigned key whose integer order is the float order (NaN -> largest),
 * packed with the index: key = (ordered bits << 32) | k; the minimum key is the argmin with
 * ties to the lowest index. Used by both backends' reductions. */
MBRL_HD static inline uint64_t mbrl_planner_cost_key(float cost, uint32_t k) {
  union {
    float f;
    uint32_t u;
  } c;
  c.f = cost;
  uint32_t b = c.u;
  if (cost != cost) b = 0xFFFFFFFFu;
  else b = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
  return ((uint64_t)b << 32) | (uint64_t)k;
}

/* ---------------------------------------------------------------- models */

typedef enum mbrl_plan_model_kind {
  MBRL_PLAN_MODEL_LEARNED = 1, /* folded dynamics MLP + normalizer */
  MBRL_PLAN_MODEL_ORACLE = 2   /* the env's true dynamics (Pendulum-v1 only) */
} mbrl_plan_model_kind;

typedef struct mbrl_plan_model {
  mbrl_plan_model_kind kind;
  char env_id[64];
  int obs_dim, act_dim;
  float act_low[MBRL_MAX_DIM], act_high[MBRL_MAX_DIM]; /* (act_dim) sampling bounds */
  /* LEARNED only: */
  int n_layers;                       /* Linear layers, each but the last followed by act */
  int sizes[MBRL_MLP_MAX_LAYERS + 1]; /* sizes[0] = obs_dim + act_dim, sizes[L] = obs_dim */
  mbrl_act activation;                /* hidden activation (ReLU or Tanh) */
  size_t n_params;                    /* floats in params */
  size_t w_off[MBRL_MLP_MAX_LAYERS], b_off[MBRL_MLP_MAX_LAYERS]; /* into params */
  float *params;                      /* host: per layer W (out, in) row-major, b (out) */
  mbrl_dataset_stats stats;           /* normalizer */
} mbrl_plan_model;

/* The true-dynamics model of env_id. Only Pendulum-v1 has one (its reward and physics are
 * MBRL_HD functions); other ids fail with MBRL_ERR_UNSUPPORTED. Free with _free. */
mbrl_status mbrl_plan_model_oracle(mbrl_plan_model **out, const char *env_id);

/* A learned model from an mlp (any backend; eval mode: BatchNorm, if any, is folded) whose
 * input is obs_dim + act_dim wide and output obs_dim wide, and the normalizer `stats`.
 * The env must be known (its action bounds are the sampling bounds) and have the widths. */
mbrl_status mbrl_plan_model_from_mlp(mbrl_plan_model **out, const char *env_id, int obs_dim,
                                     int act_dim, const mbrl_mlp *mlp,
                                     const mbrl_dataset_stats *stats);

/* A learned model from a dynamics model (eval mode, BN folded; d's mlp may be on any
 * backend). Same checks as mbrl_plan_model_from_mlp. */
mbrl_status mbrl_plan_model_from_dynamics(mbrl_plan_model **out, const mbrl_dynamics *d);

/* A learned model from a dynamics checkpoint (DESIGN.md "Dynamics checkpoint", written by
 * mbrl_train / mbrl_dynamics_save). Refuses a damaged/foreign file or one whose env or
 * widths do not match expect_env_id (NULL: any known env) with MBRL_ERR_FORMAT. */
mbrl_status mbrl_plan_model_load(mbrl_plan_model **out, const char *path,
                                 const char *expect_env_id);

/* Release (NULL is fine). */
void mbrl_plan_model_free(mbrl_plan_model *m);

/* Reference (plain C, libm) prediction: next (B, obs_dim) from obs (B, obs_dim), act
 * (B, act_dim). The planner's kernel paths agree with it to rounding (FMA, summation trees,
 * vector atan2/sin/cos within 3 ulp). */
mbrl_status mbrl_plan_model_step(const mbrl_plan_model *m, const float *obs, const float *act,
                                 int B, float *next);

/* Reference reward r(obs, act) of the model's env on an observation (pendulum:
 * mbrl_pendulum_reward_obs_f). */
float mbrl_plan_model_reward(const mbrl_plan_model *m, const float *obs, const float *act);

/* FLOPs of one model step for one sample (sum of 2*in*out over the Linear layers; 0 oracle). */
double mbrl_plan_model_flops(const mbrl_plan_model *m);

/* ---------------------------------------------------------------- random shooting */

typedef struct mbrl_planner_config {
  int samples;          /* K sequences per environment, 1..MBRL_PLANNER_MAX_SAMPLES (1024) */
  int horizon;          /* H, 1..MBRL_PLANNER_MAX_HORIZON (15) */
  float gamma;          /* discount in (0, 1] (1.0) */
  int max_envs;         /* largest E one plan call takes, 1..MBRL_PLANNER_MAX_ENVS (1) */
  mbrl_backend backend; /* CPU, CUDA or AUTO (CUDA when a GPU is present) */
  int score_next;       /* 0: r(s_h, a_h) (the reward of step h on its pre-step observation,
                         * Gymnasium's convention); 1: r(s_{h+1}, a_h) (the reward on the
                         * predicted NEXT observation, as the PyTorch reference does) */
} mbrl_planner_config;

/* Defaults: K 1024, H 15, gamma 1, E 1, AUTO. */
void mbrl_planner_config_init(mbrl_planner_config *c);

typedef struct mbrl_plan_result {
  float action[MBRL_MAX_DIM];   /* (act_dim) first action of the cheapest sequence */
  float best_return;            /* -cost[best] (the predicted discounted return) */
  float pred_next[MBRL_MAX_DIM];/* (obs_dim) predicted s_1 of sequence best */
  int best_index;               /* best in 0..K-1 */
} mbrl_plan_result;

typedef struct mbrl_planner mbrl_planner; /* opaque */

/* Make a random-shooting planner over `model` (which must outlive it). All memory (host
 * scratch per thread, device buffers) is allocated here: K, H or E too large for the
 * machine fail with MBRL_ERR_INVALID_ARG naming the bytes needed and the bytes available. */
mbrl_status mbrl_planner_create(mbrl_planner **out, const mbrl_plan_model *model,
                                const mbrl_planner_config *cfg);

/* Release (NULL is fine). */
void mbrl_planner_free(mbrl_planner *p);

/* The backend the planner runs on (CPU or CUDA, never AUTO). */
mbrl_backend mbrl_planner_backend(const mbrl_planner *p);

/* Plan for E environments at once (E x K rollouts): obs (E, obs_dim) HOST, plan_seeds (E)
 * (environment e draws from plan_seeds[e]), results (E) HOST. 1 <= E <= max_envs.
 * Environment e's result equals a single plan of obs[e] with plan_seeds[e]. */
mbrl_status mbrl_planner_plan(mbrl_planner *p, const float *obs, const uint64_t *plan_seeds,
                              int E, mbrl_plan_result *results);

/* mbrl_planner_plan with a warm-start candidate per environment: when prior (E, H, act_dim)
 * HOST is not NULL, sequence 1 of env e is prior[e] instead of a Philox draw (sequences
 * k >= 2 keep their draws). MPC warm start: pass the previous step's winner shifted by one
 * step (mbrl_planner_shift_best). prior == NULL is mbrl_planner_plan. */
mbrl_status mbrl_planner_plan_prior(mbrl_planner *p, const float *obs, const uint64_t *plan_seeds,
                                    const float *prior, int E, mbrl_plan_result *results);

/* The winning sequence of plan result r (made with plan_seed and prior (H, act_dim) or NULL)
 * shifted left by one step with zeros appended: out (H, act_dim) HOST, may not alias prior
 * unless equal to it. */
void mbrl_planner_shift_best(const mbrl_planner *p, const mbrl_plan_result *r, uint64_t plan_seed,
                             const float *prior, float *out);

/* Costs of the last plan: costs (E, K) HOST (E of that plan). On CUDA this copies. */
mbrl_status mbrl_planner_last_costs(mbrl_planner *p, float *costs);

/* Costs of caller-given sequences from one observation on the CPU reference path:
 * obs (obs_dim), actions (K, H, act_dim) HOST, costs (K). Any planner backend; uses the
 * planner's H and gamma, K <= its samples. */
mbrl_status mbrl_planner_evaluate(mbrl_planner *p, const float *obs, const float *actions,
                                  int K, float *costs);

/* Bytes of host and device memory a planner with this model and config would hold. */
void mbrl_planner_memory(const mbrl_plan_model *model, const mbrl_planner_config *cfg,
                         size_t *host_bytes, size_t *device_bytes);

MBRL_EXTERN_C_END

#endif
