/* mbrl/plan_opt.h - sampling-based trajectory optimizers for MPC on one interface: CEM
 * (mbrl-lib's CEMOptimizer), iCEM (Pinneri et al. 2020, mbrl-lib's ICEMOptimizer) and MPPI
 * (PDDM's / mbrl-lib's MPPIOptimizer), over any plan model (mbrl/planner.h: learned or oracle,
 * every registered env).
 *
 * An optimizer owns a planner (mbrl/planner.h) made from the caller's model and planner config
 * (horizon H, gamma, cost kind, max_envs, backend; its `samples` is replaced by the largest
 * population) and scores every population with mbrl_planner_evaluate_batch: the planner's
 * fast rollout, cost c(s_h, a_h, s_{h+1}) and alive mask, the same costs random shooting uses.
 * Plans are for E environments at once; each environment keeps its own warm-start state
 * (reset it at the start of an episode with mbrl_plan_opt_reset).
 *
 * The search space is the (H, act_dim) action sequence, x in [lo, hi] per action entry
 * (the env's action bounds). Notation: mid = (lo + hi) / 2, var0 = (hi - lo)^2 / 16.
 *
 * CEM, per plan of one environment:
 *   mu = warm ? previous step's returned sequence shifted left by one step with mid appended
 *             : mid everywhere (the first step of an episode, or warm_start 0);  var = var0;
 *   `iterations` times:
 *     x_k = mu + sqrt(min(var, ((mu - lo)/2)^2, ((hi - mu)/2)^2)) * z_k, clipped to [lo, hi],
 *       z_k entrywise standard normal truncated at 2 std (mbrl_plan_opt_truncnormal: draws
 *       outside [-2, 2] are redrawn), k = 0..population-1;
 *     costs of the x_k (NaN counts as +inf; ties to the lowest k), elites = the
 *       ceil(elite_ratio * population) cheapest;
 *     mu = alpha mu + (1 - alpha) mean(elites), var = alpha var + (1 - alpha) var(elites)
 *       (var with Bessel's correction, torch.var's default, as mbrl-lib's CEM);
 *   returned sequence: the final mu (default; mbrl-lib's return_mean_elites) or, with
 *   return_best, the cheapest sample over all iterations. The action is its first step.
 * iCEM: as CEM with, in iteration i, population N_i = ceil(max(population * decay^-i,
 *   2 * elites)); z_k colored noise over time with power spectrum 1/f^noise_beta (unit
 *   variance; Timmer & Koenig 1995, the colorednoise package mbrl-lib adapts) and the samples
 *   clipped (no truncation); ceil(keep_elite_frac * elites) of the previous iteration's elites
 *   (chosen at random) join the population: in iteration 0 those of the previous plan shifted
 *   by one step (last step drawn from N(mu[H-1], var[H-1])), in the last iteration the mean mu
 *   instead; var without Bessel's correction (mbrl-lib's iCEM).
 * MPPI (temperature lambda, noise sigma, smoothing beta), per plan of one environment:
 *   mean = warm ? the previous mean shifted left by one (its last step repeated) : mid;
 *   past = the previous plan's first action (the action taken; mid at an episode's start);
 *   `iterations` times:
 *     u_{k,0} = beta (mean_0 + sigma z_{k,0}) + (1 - beta) past,
 *     u_{k,h} = beta (mean_h + sigma z_{k,h}) + (1 - beta) u_{k,h-1}, then clipped to [lo, hi]
 *       (z truncated standard normal as above);
 *     w_k = exp(-(cost_k - min cost) / lambda) (NaN cost: weight 0),
 *     mean = sum_k w_k u_k / (sum_k w_k + 1e-10);
 *   the action is mean_0. (mbrl-lib's MPPIOptimizer overwrites its sigma-scaled population
 *   with unscaled noise, so its sigma has no effect; here sigma scales the noise as in PDDM.)
 * Discrete envs (n_actions > 0): the optimizers work on a continuous relaxation, x in
 *   [-0.5, n_actions - 0.5]; sequences are scored (and the action taken) with each entry
 *   rounded to the nearest index; the distribution is updated with the unrounded samples.
 * Randomness: sample k of iteration i of a plan with plan_seed draws from
 *   Philox(mbrl_planner_seed(plan_seed, MBRL_PLAN_OPT_TAG, i), subsequence k, offset 0): its
 *   H*act_dim entries in order (h-major), two normals per two 32-bit words (Box-Muller, the
 *   mapping of cuRAND's curand_normal); iCEM's colored noise takes its H*act_dim*2 normals the
 *   same way, its elite choice and end actions from subsequence 2^32 + ... (see plan_opt.c).
 *   A plan is deterministic given the plan seeds and the warm state, whatever the thread count.
 * Ensemble models (PETS): the planner config's particles / propagation apply; every population
 *   is scored with its particles (mbrl/planner.h), keyed per iteration (MBRL_PLAN_OPT_PARTICLE_TAG).
 * Backends: CPU (the planner's CPU kernel paths) and CUDA (the planner config's backend;
 *   AUTO: CUDA when a GPU is present; ensembles too, through the CUDA particle rollout). On
 *   CUDA, CEM and MPPI draw each iteration's population on the device from the same Philox
 *   streams with the same MBRL_HD per-element functions as the CPU
 *   (mbrl_plan_opt_truncnormal, mbrl_plan_opt_cem_entry, mbrl_plan_opt_mppi_row), score it
 *   with the planner's fused rollout without leaving the device, and copy population and
 *   costs back; the distribution update runs on the host in the CPU twin's functions
 *   (mbrl_plan_opt_cem_update, mbrl_plan_opt_mppi_update), so equal costs give equal results.
 *   The device's draws equal the CPU's to CUDA's logf/sinf/cosf accuracy (<= 2 ulp; see
 *   src/kernels/plan_opt.cu). iCEM makes its colored-noise population on the host (as on the
 *   CPU) and scores it on the device (mbrl_planner_evaluate_batch). */
#ifndef MBRL_PLAN_OPT_H
#define MBRL_PLAN_OPT_H

#include <math.h>
#include <stdint.h>

#include "mbrl/common.h"
#include "mbrl/philox.h"
#include "mbrl/planner.h"
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

#define MBRL_PLAN_OPT_TAG 0x6f70745f706c616eull /* "opt_plan": the iteration keys' tag */
/* "particle": with an ensemble model, the populations of iteration i are scored with the
 * particle seed mbrl_planner_seed(plan_seed, MBRL_PLAN_OPT_PARTICLE_TAG, i) (the returned
 * sequence's final score: i = iterations); see mbrl/planner.h "particles". */
#define MBRL_PLAN_OPT_PARTICLE_TAG 0x7061727469636c65ull
#define MBRL_PLAN_OPT_MAX_POPULATION 1000000
#define MBRL_PLAN_OPT_MAX_ITERATIONS 1000

/* ---------------------------------------------------------------- shared per-element math */

/* Two standard normals from two 32-bit words (Box-Muller as cuRAND's _curand_box_muller):
 * u = x 2^-32 + 2^-33, v = (y 2^-32 + 2^-33) 2 pi, r = sqrt(-2 ln u): (r sin v, r cos v). */
MBRL_HD static inline void mbrl_plan_opt_box_muller(uint32_t x, uint32_t y, float *n0, float *n1) {
  const float u = (float)x * 2.3283064365386963e-10f + 1.1641532182693481e-10f;
  const float v = ((float)y * 2.3283064365386963e-10f + 1.1641532182693481e-10f) *
                  6.2831853071795865f;
  const float r = sqrtf(-2.0f * logf(u));
  *n0 = r * sinf(v);
  *n1 = r * cosf(v);
}

/* n standard normals truncated at 2 std from stream s: Box-Muller pairs in draw order, each
 * value outside [-2, 2] dropped (redrawn by the next pair), z[0..n) in acceptance order. */
MBRL_HD static inline void mbrl_plan_opt_truncnormal(mbrl_philox *s, int n, float *z) {
  int i = 0;
  while (i < n) {
    const uint32_t x = mbrl_philox_next_u32(s), y = mbrl_philox_next_u32(s);
    float a, b;
    mbrl_plan_opt_box_muller(x, y, &a, &b);
    if (fabsf(a) <= 2.0f) z[i++] = a;
    if (i < n && fabsf(b) <= 2.0f) z[i++] = b;
  }
}

/* The stream of sample k in iteration `iter` of a plan seeded plan_seed. */
MBRL_HD static inline void mbrl_plan_opt_rng(mbrl_philox *s, uint64_t plan_seed, int iter,
                                             uint64_t k) {
  mbrl_philox_init(s, mbrl_planner_seed(plan_seed, MBRL_PLAN_OPT_TAG, (uint64_t)iter), k, 0);
}

/* One CEM sample entry (per-element math of mbrl_plan_opt_cem_sample, CPU and CUDA):
 * clip(mu + sqrt(min(var, ((mu - lo)/2)^2, ((hi - mu)/2)^2)) z, lo, hi). */
MBRL_HD static inline float mbrl_plan_opt_cem_entry(float mu, float var, float lo, float hi,
                                                    float z) {
  const float lb = (mu - lo) * 0.5f, ub = (hi - mu) * 0.5f;
  float v = var;
  if (lb * lb < v) v = lb * lb;
  if (ub * ub < v) v = ub * ub;
  const float x = mu + sqrtf(v) * z;
  return x < lo ? lo : x > hi ? hi : x;
}

/* One MPPI sample row x (H * A) from its noise z (may alias x): smoothed from past (A), then
 * clipped (the smoothing sees unclipped values); see the top of this file. */
MBRL_HD static inline void mbrl_plan_opt_mppi_row(int H, int A, const float *mean,
                                                  const float *past, float sigma, float beta,
                                                  const float *lo, const float *hi,
                                                  const float *z, float *x) {
  for (int h = 0; h < H; ++h)
    for (int j = 0; j < A; ++j) {
      const int d = h * A + j;
      const float prev = h == 0 ? past[j] : x[d - A];
      x[d] = beta * (mean[d] + sigma * z[d]) + (1.0f - beta) * prev;
    }
  for (int d = 0; d < H * A; ++d) {
    const int j = d % A;
    x[d] = x[d] < lo[j] ? lo[j] : x[d] > hi[j] ? hi[j] : x[d];
  }
}

/* A discrete env's relaxed entry rounded to the nearest action index in [0, n - 1]. */
MBRL_HD static inline float mbrl_plan_opt_round_index(float x, int n) {
  const float r = floorf(x + 0.5f);
  return r < 0.0f ? 0.0f : r > (float)(n - 1) ? (float)(n - 1) : r;
}

/* ---------------------------------------------------------------- the update steps
 * (exposed so that tests feed them fixed noise and costs; D = H * A entries per sequence,
 * bounds lo/hi (A) apply to entry d as lo[d % A]) */

/* CEM samples: pop (N, D) = clip(mu + sqrt(min(var, ((mu-lo)/2)^2, ((hi-mu)/2)^2)) * z). */
void mbrl_plan_opt_cem_sample(int H, int A, const float *mu, const float *var, const float *lo,
                              const float *hi, int N, const float *z, float *pop);

/* CEM update from the costs (N) of pop (N, D): elites = the n_elite cheapest (NaN last, ties
 * to the lowest index), mu/var <- alpha * mu/var + (1 - alpha) * mean/var(elites) with
 * var's divisor n_elite - 1 (unbiased 1) or n_elite (0); sums in double. order (N) is
 * scratch (on return: the indices sorted by cost). Returns the cheapest index. */
int mbrl_plan_opt_cem_update(int H, int A, int N, const float *pop, const float *costs,
                             int n_elite, float alpha, int unbiased, float *mu, float *var,
                             uint64_t *order);

/* MPPI samples: pop (N, D): the smoothed, clipped noisy sequences around mean (D) from the
 * previous action past (A) (see the top of this file). */
void mbrl_plan_opt_mppi_sample(int H, int A, const float *mean, const float *past, float sigma,
                               float beta, const float *lo, const float *hi, int N,
                               const float *z, float *pop);

/* MPPI update: mean (D) = sum_k w_k pop_k / (sum_k w_k + 1e-10), w_k = exp(-(c_k - min c) /
 * lambda) (NaN: 0); sums in double. */
void mbrl_plan_opt_mppi_update(int H, int A, int N, const float *pop, const float *costs,
                               float lambda, float *mean);

/* Colored noise (iCEM): out (n) with power spectrum ~ 1/f^exponent over its n steps, unit
 * variance normalization of the colorednoise package (frequencies rfftfreq(n), cut off below
 * 1/n), from 2 * (n/2 + 1) standard normals g (real parts then imaginary parts). */
void mbrl_plan_opt_colored(int n, float exponent, const float *g, float *out);

/* ---------------------------------------------------------------- the optimizer */

typedef enum mbrl_plan_opt_kind {
  MBRL_PLAN_OPT_CEM = 1,
  MBRL_PLAN_OPT_ICEM = 2,
  MBRL_PLAN_OPT_MPPI = 3
} mbrl_plan_opt_kind;

typedef struct mbrl_plan_opt_config {
  mbrl_plan_opt_kind kind;
  int population;        /* samples per iteration (iCEM: of iteration 0), 1..1e6 */
  int iterations;        /* 1..1000 */
  int warm_start;        /* 1: start from the previous plan (see above); 0: from mid */
  /* CEM and iCEM */
  float elite_ratio;     /* elites = ceil(ratio * population), >= 2, <= population */
  float alpha;           /* smoothing of mu and var, in [0, 1) */
  int return_best;       /* 0: the final mean's first action; 1: the best sample's */
  /* iCEM */
  float noise_beta;      /* colored-noise exponent (0 white, 2 pink-red) */
  float pop_decay;       /* population decay factor per iteration, >= 1 */
  float keep_elite_frac; /* fraction of elites kept into the next iteration/plan, [0, 1] */
  /* MPPI */
  float lambda;          /* temperature, > 0 (in cost units) */
  float sigma;           /* noise std, > 0 (in action units) */
  float beta;            /* temporal smoothing in (0, 1]: 1 = none */
} mbrl_plan_opt_config;

/* Defaults of `kind`, chosen by measurement with the true dynamics on Pendulum-v1 (mbrl_mpc
 * --oracle --planner P --episodes 50: Gymnasium reset seeds 0..49, H 30, avx512 path; mean
 * returns in parentheses):
 *   CEM:  population 500, iterations 5, elite_ratio 0.1, alpha 0 (-143.5; mbrl-lib's alpha
 *         0.1: -148.5, 0.25: -153.4; elite_ratio 0.05: -145.9; population 1000: -148.3;
 *         8 iterations: -146.2; H 20: -168.9, H 40: -160.1; return_best: -162.2), the final
 *         mean, warm start;
 *   MPPI: population 500, iterations 5, lambda 0.3, sigma 1, beta 0.9 (-138.8; lambda 1:
 *         -141.8, lambda 3: -146.6; sigma 0.5: -149.4; beta 0.7: -144.9), warm start;
 *   iCEM: population 300, iterations 5, elite_ratio 0.1, alpha 0, noise_beta 2, pop_decay
 *         1.25, keep_elite_frac 0.3 (mbrl-lib's PETS-iCEM settings with alpha 0: -143.8 at
 *         17.0 ms/action; noise_beta 1: -143.3, noise_beta 3: -147.2; population 500: -143.0
 *         at 25.8 ms; alpha 0.1: -143.4; keep_elite_frac 0.5: -143.5 at 22.9 ms: none better
 *         by more than a point on these 50 starts, so the cheaper defaults stay).
 * The horizon is the planner config's; mbrl_mpc's default is mbrl_plan_opt_default_horizon. */
void mbrl_plan_opt_config_init(mbrl_plan_opt_config *c, mbrl_plan_opt_kind kind);

/* The horizon `kind` plans over by default (0 for an unknown kind), measured on Pendulum-v1
 * over Gymnasium reset seeds 0..49 with the defaults above (avx512 path):
 *   CEM, iCEM: 30 (CEM oracle: H 30 -143.5, H 20 -174.1, H 40 -160.1);
 *   MPPI: 20 (oracle: H 20 -137.4, H 30 -138.8; learned, the three final models of the
 *         whole loop made with H 30 (docs/learned_loop.md): H 20 -139.0, -138.6, -139.3,
 *         H 30 -154.2, -143.3, -165.6: a learned model's error compounds over the longer
 *         horizon). On the other envs' oracle MPPI is as good or nearly (CartPole-v1 500 at
 *         both; MountainCarContinuous-v0 93.7 at H 20, 95.7 at H 30, 5 episodes). */
int mbrl_plan_opt_default_horizon(mbrl_plan_opt_kind kind);

/* "cem", "icem", "mppi" (NULL for an unknown kind) and back (0 for an unknown name). */
const char *mbrl_plan_opt_kind_name(mbrl_plan_opt_kind kind);
mbrl_plan_opt_kind mbrl_plan_opt_kind_from_name(const char *name);

/* MBRL_OK when every setting of c is in range, else MBRL_ERR_INVALID_ARG naming the first bad
 * one (mbrl_plan_opt_create checks the same). */
mbrl_status mbrl_plan_opt_config_check(const mbrl_plan_opt_config *c);

typedef struct mbrl_plan_opt mbrl_plan_opt; /* opaque */

/* Make an optimizer over `model` (must outlive it) with the planner settings pcfg (its
 * samples is ignored; its backend picks CPU or CUDA, see "Backends" above) and the optimizer
 * settings ocfg. Bad settings fail with MBRL_ERR_INVALID_ARG naming the value and its range.
 * All memory is allocated here (on CUDA, iCEM's device upload buffer at its first plan). */
mbrl_status mbrl_plan_opt_create(mbrl_plan_opt **out, const mbrl_plan_model *model,
                                 const mbrl_planner_config *pcfg,
                                 const mbrl_plan_opt_config *ocfg);

/* Release (NULL is fine). */
void mbrl_plan_opt_free(mbrl_plan_opt *o);

/* Forget the warm-start state of environment e (e = -1: all), e.g. at an episode's start. */
void mbrl_plan_opt_reset(mbrl_plan_opt *o, int e);

/* Plan for E environments: obs (E, obs_dim), plan_seeds (E), results (E), all HOST;
 * 1 <= E <= max_envs. results[e]: action = first step of the returned sequence (discrete:
 * the index as a float), best_return = minus its cost, pred_next = its predicted s_1,
 * best_index = -1 (not a sampled index). Updates environment e's warm-start state. */
mbrl_status mbrl_plan_opt_plan(mbrl_plan_opt *o, const float *obs, const uint64_t *plan_seeds,
                               int E, mbrl_plan_result *results);

/* The returned sequence of environment e's last plan: seq (H, act_dim) HOST. */
mbrl_status mbrl_plan_opt_last_sequence(const mbrl_plan_opt *o, int e, float *seq);

/* The last iteration's population of environment e in the last plan (the sequences the
 * optimizer sampled, unrounded for a discrete env, iCEM's kept elites / mean included) and
 * their costs: *n rows, pop (*n, H, act_dim) and costs (*n) HOST, each NULL to skip; give
 * room for population rows (iCEM: population + its kept elites). For checks of the sampler
 * (CPU vs CUDA draw the same numbers) and for inspection. */
mbrl_status mbrl_plan_opt_last_population(const mbrl_plan_opt *o, int e, float *pop,
                                          float *costs, int *n);

/* The planner the optimizer scores with (to set a custom reward: mbrl_planner_set_reward). */
mbrl_planner *mbrl_plan_opt_planner(mbrl_plan_opt *o);

/* Model rollouts (sequences scored) per environment per plan, for FLOP/throughput counts. */
long mbrl_plan_opt_rollouts(const mbrl_plan_opt *o);

MBRL_EXTERN_C_END

#endif
