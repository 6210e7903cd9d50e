/* mbrl/planner.h - sampling-based model-predictive control: random shooting over a model,
 * for every registered environment (mbrl/env.h) and, on the CPU, for custom systems.
 *
 * A plan model (mbrl_plan_model) predicts the next observation from (observation, action):
 *   LEARNED  a dynamics MLP in eval mode with BatchNorm folded into its Linear layers:
 *            next = s + unnormalize(mlp(concat(normalize(s), normalize(a))), delta stats)
 *            (normalize(x) = (x - mean) / (std + 1e-8), DESIGN.md's normalizer);
 *   ORACLE   the env's true dynamics on observations in float (spec->oracle_step, the env
 *            header's mbrl_<name>_oracle_step).
 * The model is immutable once made; planners of any kind (random shooting now, CEM/MPPI and
 * ensembles later) read it. It holds host copies of the folded weights.
 *
 * Random shooting (mbrl_planner_plan), for each of E environments:
 *   - K action sequences of horizon H: sequence 0 is all zeros (a discrete env: action index
 *     0 throughout); for k >= 1 the entries a[k][h][j] are the draws h*act_dim + j, in order,
 *     of Philox(plan_seed, subsequence k, offset 0): a continuous env maps each 32-bit word
 *     by mbrl_philox_range_float to (lo_j, hi_j] (the env's action bounds), a discrete env by
 *     mbrl_philox_below to an action index in [0, n_actions) (multiply-shift, the draw
 *     mbrl_collect makes), given to the model and the env as that index in float (0.0, 1.0,
 *     ..: the dataset's action encoding, mbrl_env_action_index). The CPU and CUDA backends
 *     and every CPU kernel path draw the very same numbers (mbrl_planner_draw below);
 *   - s_0 = the current observation, s_{h+1} = model(s_h, a_h);
 *     cost[k] = sum_{h<H} alive_h gamma^h c(s_h, a_h, s_{h+1}) where c is the planning cost
 *     on the PREDICTED observations: -reward (cost MBRL_PLAN_COST_REWARD: spec->reward_obs)
 *     or the env's documented dense cost (MBRL_PLAN_COST_SHAPED: spec->shaped_cost), and
 *     alive_0 = 1, alive_{h+1} = alive_h and not terminal(s_{h+1}) (spec->terminal_obs): a
 *     sequence earns (or pays) nothing after its first predicted terminal state, whose own
 *     step still counts (CartPole: rewards up to termination; the sequence that survives
 *     longest wins). gamma^h is a running float product;
 *   - best = argmin cost (a NaN cost counts as +inf; ties go to the lowest index); the result
 *     is the first action of sequence best, its predicted return -cost[best] and the
 *     predicted next observation s_1 of sequence best.
 * Custom systems (CPU backend, learned models): mbrl_planner_set_reward replaces the env's
 * reward and terminal by the caller's callbacks over batches of predicted transitions; a
 * system that is no registered env gets its model from mbrl_plan_model_from_mlp_system.
 * Backends: CPU (blocks of rows through the folded MLP on the CPU kernel path in use,
 * mbrl/cpu.h: avx512, avx2 or generic, the zeros of ReLU activations skipped; the env's step
 * and cost per block through a table with one entry per env (a vector pair for Pendulum-v1,
 * the env header's scalar functions lane by lane for the others); OpenMP over blocks, no
 * allocation per plan; costs are bit-identical for a row whatever K, E, block or thread
 * count) and CUDA (one rollout kernel per plan, instantiated per env with its step, cost and
 * terminal fused, that draws the actions in-kernel, rolls all H steps with the weights in
 * shared memory, accumulates the costs and reduces to the argmin with a 64-bit atomicMin; a
 * tiny kernel gathers the result; one copy back; the same kernel scores caller-given
 * sequences, mbrl_planner_evaluate_batch). Ensemble models (PETS particles, below) plan on
 * both backends: K * P rows; on the CPU each row's member per step gathered into groups of
 * one member's rows before the folded MLP (so the kernel path stays the single model's); on
 * CUDA one fused particle rollout kernel (each row through its own member's weights: all
 * members in shared memory when they fit, else read through L1/L2) and a kernel that averages
 * the particles (see src/kernels/planner.cu). */
#ifndef MBRL_PLANNER_H
#define MBRL_PLANNER_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "mbrl/common.h"
#include "mbrl/dataset.h"
#include "mbrl/device.h"
#include "mbrl/dynamics.h"
#include "mbrl/env.h"
#include "mbrl/mlp.h"
#include "mbrl/philox.h"
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

#define MBRL_PLANNER_MAX_SAMPLES 2147483647 /* K per environment (memory decides sooner) */
#define MBRL_PLANNER_MAX_HORIZON 100000
#define MBRL_PLANNER_MAX_ENVS 65536
#define MBRL_PLAN_MAX_MEMBERS 64     /* = MBRL_DYN_ENSEMBLE_MAX_MEMBERS */
#define MBRL_PLANNER_MAX_PARTICLES 10000
#define MBRL_PLAN_MEMBER_TAG 0x6d656d6265727321ull /* "members!": particles' member draws */
#define MBRL_PLAN_NOISE_TAG 0x6e6f6973655f7473ull  /* "noise_ts": particles' Gaussian noise */

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

/* Next action (act_dim) of a sequence from its generator, one 32-bit draw per entry:
 * continuous (n_actions == 0): entry j in (lo[j], hi[j]] (mbrl_philox_range_float);
 * discrete (n_actions > 0): the action index mbrl_philox_below(n_actions) as a float. */
MBRL_HD static inline void mbrl_planner_next_action(mbrl_philox *s, int act_dim, int n_actions,
                                                    const float *lo, const float *hi, float *a) {
  for (int j = 0; j < act_dim; ++j)
    a[j] = n_actions > 0 ? (float)mbrl_philox_below(s, (uint32_t)n_actions)
                         : mbrl_philox_range_float(s, lo[j], hi[j]);
}

/* All H actions of sequence k: out (H, act_dim); zeros for k == 0. n_actions as above. */
MBRL_HD static inline void mbrl_planner_draw(uint64_t plan_seed, uint64_t k, int H, int act_dim,
                                             int n_actions, const float *lo, const float *hi,
                                             float *out) {
  if (k == 0) {
    for (int i = 0; i < H * act_dim; ++i) out[i] = 0.0f;
    return;
  }
  mbrl_philox s;
  mbrl_planner_rng(&s, plan_seed, k);
  for (int h = 0; h < H; ++h)
    mbrl_planner_next_action(&s, act_dim, n_actions, lo, hi, out + h * act_dim);
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

/* ---------------------------------------------------------------- particles (PETS)
 *
 * With an ensemble model (mbrl_plan_model_from_ensemble) every action sequence k is rolled as P
 * particles: rows k * P + p (p = 0..P-1) of its environment ("row" below), all with the
 * sequence's actions; a sequence's cost is the mean over its particles (sum in particle order,
 * then / P) and its predicted s_1 the particles' mean. Propagation (Chua et al. 2018):
 *   TS1          row r at step h uses member mbrl_planner_particle_member(pseed, r, h, TS1)
 *   TSINF        row r uses member mbrl_planner_particle_member(pseed, r, 0, ..) at every step
 *   EXPECTATION  every row uses the mean over the elites of their mean predictions (no noise);
 *                the rollout is deterministic, so it runs 1 particle per sequence.
 * Members are drawn uniformly from the elites. A probabilistic ensemble samples under TS1/TSINF:
 * delta = mean + exp(logvar / 2) eps with eps = mbrl_dyn_ensemble_noise(
 * mbrl_planner_seed(pseed, MBRL_PLAN_NOISE_TAG, h), r, obs_dim) (the planner's `sample` = 0:
 * the member's mean only). pseed, the particle seed of a plan, is plan_seed for
 * mbrl_planner_plan(_prior) and the caller's for mbrl_planner_evaluate_batch_seeded. */
typedef enum mbrl_plan_propagation {
  MBRL_PLAN_PROP_TSINF = 0, /* default (mbrl-lib's PETS: fixed_model) */
  MBRL_PLAN_PROP_TS1 = 1,
  MBRL_PLAN_PROP_EXPECTATION = 2
} mbrl_plan_propagation;

/* The member of particle row `row` at step h (TSINF: h is ignored): elites[philox_below(
 * n_elites)] from Philox(mbrl_planner_seed(pseed, MBRL_PLAN_MEMBER_TAG, h'), subsequence row,
 * offset 0), h' = h for TS1 and 0 for TSINF (mbrl_dyn_ensemble_draw_member's draw). */
MBRL_HD static inline int mbrl_planner_particle_member(uint64_t pseed, uint64_t row, int h,
                                                       int prop, const int *elites, int n_elites) {
  mbrl_philox s;
  mbrl_philox_init(&s, mbrl_planner_seed(pseed, MBRL_PLAN_MEMBER_TAG,
                                         prop == MBRL_PLAN_PROP_TS1 ? (uint64_t)h : 0u),
                   row, 0);
  return elites[mbrl_philox_below(&s, (uint32_t)n_elites)];
}

/* ---------------------------------------------------------------- models */

typedef enum mbrl_plan_model_kind {
  MBRL_PLAN_MODEL_LEARNED = 1, /* folded dynamics MLP + normalizer */
  MBRL_PLAN_MODEL_ORACLE = 2   /* the env's true dynamics (spec->oracle_step) */
} mbrl_plan_model_kind;

typedef struct mbrl_plan_model {
  mbrl_plan_model_kind kind;
  char env_id[64];
  int obs_dim, act_dim;
  float act_low[MBRL_MAX_DIM], act_high[MBRL_MAX_DIM]; /* (act_dim) sampling bounds */
  int n_actions;                      /* discrete env: number of action indices; 0 continuous */
  const mbrl_env_spec *spec;          /* the registered env (mbrl_env_find(env_id)); NULL for a
                                         custom system (mbrl_plan_model_from_mlp_system) */
  /* LEARNED only: */
  int n_layers;                       /* Linear layers, each but the last followed by act */
  int sizes[MBRL_MLP_MAX_LAYERS + 1]; /* sizes[0] = obs_dim + act_dim, sizes[L] = obs_dim */
  mbrl_act activation;                /* hidden activation (ReLU or Tanh) */
  size_t n_params;                    /* floats in params */
  size_t w_off[MBRL_MLP_MAX_LAYERS], b_off[MBRL_MLP_MAX_LAYERS]; /* into params */
  float *params;                      /* host: per layer W (out, in) row-major, b (out) */
  mbrl_dataset_stats stats;           /* normalizer */
  /* LEARNED ensembles (mbrl_plan_model_from_ensemble; members == 0: a single model): member m's
   * folded weights at params + m * member_params (w_off/b_off into a member's block, the
   * layout of mbrl_dyn_ensemble_export_folded); n_params = members * member_params. When
   * probabilistic, the last layer has 2 * obs_dim rows: the mean, then the raw log-variance
   * (clamped with mbrl_logvar_clamp(raw, max_logvar[j], min_logvar[j], NULL)). */
  int members;                        /* M >= 1 for an ensemble, 0 for a single model */
  size_t member_params;
  int probabilistic;
  int n_elites;
  int elites[MBRL_PLAN_MAX_MEMBERS];  /* best first; TS draws and expectation use these */
  float max_logvar[MBRL_MAX_DIM], min_logvar[MBRL_MAX_DIM];
} mbrl_plan_model;

/* The true-dynamics model of any registered env_id (spec->oracle_step, float arithmetic);
 * an unknown id fails with MBRL_ERR_INVALID_ARG naming the known ones. Free with _free. */
mbrl_status mbrl_plan_model_oracle(mbrl_plan_model **out, const char *env_id);

/* A learned model from an mlp (any backend; eval mode: BatchNorm, if any, is folded) whose
 * input is obs_dim + act_dim wide and output obs_dim wide, and the normalizer `stats`.
 * The env must be registered (its action bounds / action count are the sampling space, its
 * reward and terminal the default cost) and have the widths. A discrete env's model reads
 * the action index as a float (the dataset's encoding). */
mbrl_status mbrl_plan_model_from_mlp(mbrl_plan_model **out, const char *env_id, int obs_dim,
                                     int act_dim, const mbrl_mlp *mlp,
                                     const mbrl_dataset_stats *stats);

/* A system that is not a registered env (a custom system): a name (not a registered id), the
 * widths and the action space: continuous with bounds act_low/act_high (act_dim each), or
 * discrete with n_actions > 0 (act_dim 1; the bounds are then 0 .. n_actions - 1). */
typedef struct mbrl_plan_system {
  const char *name;
  int obs_dim, act_dim;
  int n_actions; /* 0: continuous */
  float act_low[MBRL_MAX_DIM], act_high[MBRL_MAX_DIM];
} mbrl_plan_system;

/* A learned model of a custom system (the mlp and normalizer as mbrl_plan_model_from_mlp;
 * spec NULL). Its planners run on the CPU backend only and need mbrl_planner_set_reward
 * before planning (there is no env reward to fall back to). Bad widths, bounds or a
 * registered id as the name: MBRL_ERR_INVALID_ARG. */
mbrl_status mbrl_plan_model_from_mlp_system(mbrl_plan_model **out, const mbrl_plan_system *sys,
                                            const mbrl_mlp *mlp,
                                            const mbrl_dataset_stats *stats);

/* A learned model from a dynamics model (eval mode, BN folded; d's mlp may be on any
 * backend). Same checks as mbrl_plan_model_from_mlp. */
mbrl_status mbrl_plan_model_from_dynamics(mbrl_plan_model **out, const mbrl_dynamics *d);

/* A learned model from a dynamics checkpoint (DESIGN.md "Dynamics checkpoint", written by
 * mbrl_train / mbrl_dynamics_save) or an ensemble checkpoint (mbrl.dyn_ensemble, detected by
 * mbrl_dyn_ensemble_is_file: an ensemble model as mbrl_plan_model_from_ensemble). Refuses a damaged/foreign file or one whose env or
 * widths do not match expect_env_id (NULL: any known env) with MBRL_ERR_FORMAT. */
mbrl_status mbrl_plan_model_load(mbrl_plan_model **out, const char *path,
                                 const char *expect_env_id);

/* A learned ensemble model (PETS) from a dyn_ensemble (any backend): every member folded
 * (mbrl_dyn_ensemble_export_folded), its elites and log-variance bounds. Same env checks as
 * mbrl_plan_model_from_mlp. Plans with particles (above) on the CPU or CUDA backend. */
struct mbrl_dyn_ensemble;
mbrl_status mbrl_plan_model_from_ensemble(mbrl_plan_model **out, const struct mbrl_dyn_ensemble *e);

/* Release (NULL is fine). */
void mbrl_plan_model_free(mbrl_plan_model *m);

/* Reference (plain C, libm) prediction: next (B, obs_dim) from obs (B, obs_dim), act
 * (B, act_dim); an ensemble model predicts the expectation (the elites' mean of their means). The planner's kernel paths agree with it to rounding (FMA, summation trees,
 * vector atan2/sin/cos within 3 ulp). */
mbrl_status mbrl_plan_model_step(const mbrl_plan_model *m, const float *obs, const float *act,
                                 int B, float *next);

/* Reference reward r(obs, act, next_obs) of the model's env on a transition of observations
 * (spec->reward_obs; NAN for a custom system). */
float mbrl_plan_model_reward(const mbrl_plan_model *m, const float *obs, const float *act,
                             const float *next_obs);

/* FLOPs of one model step for one sample (sum of 2*in*out over the Linear layers; 0 oracle). */
double mbrl_plan_model_flops(const mbrl_plan_model *m);

/* ---------------------------------------------------------------- random shooting */

/* What a sequence is scored by (mbrl_planner_config.cost). Reported returns (best_return,
 * mbrl_mpc's episode returns) are always the env's own reward. */
typedef enum mbrl_plan_cost {
  MBRL_PLAN_COST_REWARD = 0, /* -reward (spec->reward_obs) */
  MBRL_PLAN_COST_SHAPED = 1  /* the env's dense planning cost (spec->shaped_cost, documented
                              * in spec->shaped_cost_doc); for sparse-reward envs */
} mbrl_plan_cost;

typedef struct mbrl_planner_config {
  int samples;          /* K sequences per environment, 1..MBRL_PLANNER_MAX_SAMPLES (1024) */
  int horizon;          /* H, 1..MBRL_PLANNER_MAX_HORIZON (15) */
  float gamma;          /* discount in (0, 1] (1.0) */
  int max_envs;         /* largest E one plan call takes, 1..MBRL_PLANNER_MAX_ENVS (1) */
  mbrl_backend backend; /* CPU, CUDA or AUTO (CUDA when a GPU is present) */
  int score_next;       /* 0: r(s_h, a_h) (the reward of step h on its pre-step observation,
                         * Gymnasium's convention); 1: r(s_{h+1}, a_h) (the reward on the
                         * predicted NEXT observation, as the PyTorch reference does): the
                         * cost is c(s_h, a_h, s_{h+1}) (0) or c(s_{h+1}, a_h, s_{h+1}) (1) */
  mbrl_plan_cost cost;  /* REWARD (default) or SHAPED */
  /* ensemble models only (a single model refuses particles > 1): */
  int particles;        /* P per sequence, 1..MBRL_PLANNER_MAX_PARTICLES; 0 = 20 for an
                         * ensemble (PETS's default), 1 for a single model (0) */
  mbrl_plan_propagation propagation; /* TSINF (default), TS1, EXPECTATION */
  int no_sample;        /* 1: a probabilistic ensemble propagates its members' means (no
                         * Gaussian noise); 0 (default): samples under TS1/TSINF */
  int no_projection;    /* learned models: 0 (default): every predicted observation is mapped
                         * to the nearest one the env can emit (mbrl_<env>_project_obs: unit
                         * (cos, sin) pairs for Pendulum and Acrobot, nothing elsewhere; a
                         * custom system has none) before it is scored and stepped on;
                         * 1: the model's raw predictions (the seed's method) */
} mbrl_planner_config;

/* Defaults: K 1024, H 15, gamma 1, E 1, AUTO, cost REWARD, particles 0 (auto), TSINF. */
void mbrl_planner_config_init(mbrl_planner_config *c);

typedef struct mbrl_plan_result {
  float action[MBRL_MAX_DIM];   /* (act_dim) first action of the cheapest sequence */
  float best_return;            /* -cost[best] (the predicted discounted return; with a shaped
                                   cost: minus the shaped cost) */
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

/* ---------------------------------------------------------------- custom systems (CPU)
 *
 * A user's reward and terminal over a batch of n predicted transitions, row-major:
 * obs (n, obs_dim), act (n, act_dim), next_obs (n, obs_dim) -> reward (n) (higher is better;
 * the planner's cost is -reward), terminal (n) (1 = next_obs is terminal: the sequence earns
 * nothing afterwards). `user` is the pointer given to mbrl_planner_set_reward. The planner
 * calls them from its OpenMP threads at once, each call with its own rows (n <= 48), so they
 * must be thread-safe; they must not call back into this planner. */
typedef void (*mbrl_reward_fn)(void *user, int n, int obs_dim, int act_dim, const float *obs,
                               const float *act, const float *next_obs, float *reward);
typedef void (*mbrl_terminal_fn)(void *user, int n, int obs_dim, const float *next_obs,
                                 uint8_t *terminal);

/* Plan with the caller's reward (and terminal; NULL: never terminal) instead of the env's:
 * cost c(s_h, a_h, s_{h+1}) = -reward(...) (score_next: with s_{h+1} for s_h), alive mask as
 * above; the config's cost kind is then ignored. Learned models on the CPU backend only: a
 * CUDA planner fails with MBRL_ERR_UNSUPPORTED (the CUDA rollout is compiled per registered
 * env), an oracle planner with MBRL_ERR_INVALID_ARG. reward NULL restores the env's own. */
mbrl_status mbrl_planner_set_reward(mbrl_planner *p, mbrl_reward_fn reward,
                                    mbrl_terminal_fn terminal, void *user);

/* Costs of caller-given sequences from one observation on the CPU reference path:
 * obs (obs_dim), actions (K, H, act_dim) HOST, costs (K). Any planner backend; uses the
 * planner's H and gamma, K <= its samples. */
mbrl_status mbrl_planner_evaluate(mbrl_planner *p, const float *obs, const float *actions,
                                  int K, float *costs);

/* Bytes of host and device memory a planner with this model and config would hold. */
void mbrl_planner_memory(const mbrl_plan_model *model, const mbrl_planner_config *cfg,
                         size_t *host_bytes, size_t *device_bytes);

/* ---------------------------------------------------------------- caller-given sequences
 *
 * Costs of caller-given action sequences for E environments on the fast path (the rollout
 * and kernel path of mbrl_planner_plan; mbrl_planner_evaluate is the one-environment
 * reference): obs (E, obs_dim), actions (E, K, H, act_dim) (a discrete env: action indices
 * as floats), costs (E, K) and s1 (E, K, obs_dim) or NULL (each sequence's predicted first
 * next observation), all HOST. 1 <= E <= max_envs, 1 <= K <= samples; the planner's H,
 * gamma, cost kind and reward (mbrl_planner_set_reward) apply; a sequence's cost is the same
 * bits whatever E, K or thread count. Sampling optimizers (mbrl/plan_opt.h) score their
 * populations with it. Both backends: the CUDA planner copies `actions` into a device buffer
 * (allocated by its first call: max_envs x samples x H x act_dim floats) and runs the
 * random-shooting rollout kernel in its given-sequence mode (each row reads its actions
 * instead of drawing them; the same fused step, cost, alive mask and gamma), then copies the
 * costs (and s1) back; its costs equal the CPU twin's to rounding (the tolerances of the
 * CUDA-vs-CPU plan tests). Afterwards mbrl_planner_last_costs has no plan to return. */
mbrl_status mbrl_planner_evaluate_batch(mbrl_planner *p, const float *obs, const float *actions,
                                        int E, int K, float *costs, float *s1);

/* mbrl_planner_evaluate_batch with particle seeds pseeds (E) (NULL: all 0) keying an
 * ensemble's member draws and noise (see "particles" above); a single model ignores them.
 * Sampling optimizers pass a fresh seed per plan and iteration. */
mbrl_status mbrl_planner_evaluate_batch_seeded(mbrl_planner *p, const float *obs,
                                               const float *actions, const uint64_t *pseeds,
                                               int E, int K, float *costs, float *s1);

/* Particles per sequence the planner rolls (1 for single models and EXPECTATION). */
int mbrl_planner_particles(const mbrl_planner *p);

MBRL_EXTERN_C_END

#endif
