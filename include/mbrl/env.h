/* mbrl/env.h - the environments: a registry of Gymnasium's classic-control set, exact, and
 * single and batched (SoA) stepping with Gymnasium's semantics.
 *
 * Every environment is one header, mbrl/envs/<name>.h, of MBRL_HD inline functions (its
 * exact double step, its observation, and what a planner needs: reward and terminal on
 * observations, a float oracle step, a shaped cost); mbrl/envs/registry.h describes that
 * interface and lists them (MBRL_ENV_LIST). This module turns the list into a run-time
 * table (mbrl_env_spec: the spec and the function pointers) and steps envs by it; it holds
 * no env-specific code. Known ids: Pendulum-v1, CartPole-v1, MountainCarContinuous-v0,
 * MountainCar-v0, Acrobot-v1.
 *
 * Semantics (Gymnasium 1.4.0 + its TimeLimit wrapper; float64 math as numpy 1.x does it):
 * - step returns the observation after the step, the reward, `terminated` (CartPole left
 *   the allowed region, a mountain car reached the goal, Acrobot's tip the line; Pendulum
 *   never terminates) and `truncated` (t >= max_steps after the step: 200 Pendulum and
 *   MountainCar, 500 CartPole and Acrobot, 999 MountainCarContinuous). Both can be 1 on the
 *   same step, exactly as Gymnasium returns them.
 * - Stepping a terminated env again (without reset) continues the dynamics, as Gymnasium
 *   does; CartPole then pays 0 (steps_beyond_terminated, Gymnasium's "undefined behavior").
 * - Observations and rewards equal Gymnasium's bit for bit (float32 of its float64 values;
 *   tests/py_gym_envs.py checks every env against the real Gymnasium) where numpy's sin/cos
 *   are libm's: numpy's AVX-512 (SVML) float64 sin/cos round differently from libm in the
 *   last bit, which makes Gymnasium itself differ between machines.
 * - Resets draw Gymnasium's start states bit for bit, from the generator Gymnasium's
 *   env.reset(seed=s) makes: numpy's PCG64(SeedSequence(s)) (mbrl/nprandom.h) with
 *   Generator.uniform, as each env header says (reset_draws doubles per reset). A later
 *   reset continues the same generator, as Gymnasium's env.reset() without a seed does.
 *   (Only the reset generator is Gymnasium's: a caller's random actions are its own, e.g.
 *   mbrl_collect draws them from Philox; Gymnasium's action_space.sample() uses another
 *   generator.)
 * - Actions are float (act_dim of them): a continuous env clips as Gymnasium does; a
 *   discrete env (discrete = 1, act_dim 1) reads the action index from action[0]
 *   (mbrl_env_action_index: 0.0, 1.0, 2.0 -> 0, 1, 2; thresholds at k - 0.5).
 * - State in double, observations float32. */
#ifndef MBRL_ENV_H
#define MBRL_ENV_H

#include <stdint.h>

#include "mbrl/common.h"
#include "mbrl/envs/registry.h"
#include "mbrl/nprandom.h"
#include "mbrl/philox.h" /* kept for includers that use Philox next to the envs */
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

/* One value per registered env, in MBRL_ENV_LIST's order: MBRL_ENV_PENDULUM = 0,
 * MBRL_ENV_CARTPOLE, MBRL_ENV_MOUNTAINCAR_CONTINUOUS, MBRL_ENV_MOUNTAINCAR,
 * MBRL_ENV_ACROBOT; MBRL_ENV_COUNT envs. */
#define MBRL_ENV_KIND_(NAME, name) MBRL_ENV_##NAME,
typedef enum mbrl_env_kind { MBRL_ENV_LIST(MBRL_ENV_KIND_) MBRL_ENV_COUNT } mbrl_env_kind;
#undef MBRL_ENV_KIND_

/* An env: what a user needs to know (bounds are Gymnasium's spaces, float32; a discrete
 * env's action is its index as a float, act bounds 0 .. n_actions-1) and its functions, the
 * env header's inline functions by address (mbrl/envs/registry.h says what each does). */
typedef struct mbrl_env_spec {
  const char *id;       /* Gymnasium id, e.g. "Pendulum-v1" */
  mbrl_env_kind kind;
  int obs_dim;          /* observation width */
  int act_dim;          /* action width (1 for every registered env) */
  int discrete;         /* 1: action[0] is an index in [0, n_actions) */
  int n_actions;        /* number of discrete actions (0 when continuous) */
  float act_low[MBRL_MAX_DIM], act_high[MBRL_MAX_DIM]; /* (act_dim) */
  float obs_low[MBRL_MAX_DIM], obs_high[MBRL_MAX_DIM]; /* (obs_dim), +-INFINITY if unbounded */
  int max_steps;        /* TimeLimit max_episode_steps */
  int state_dim;        /* internal double state width (<= MBRL_ENV_MAX_STATE) */
  int reset_draws;      /* PCG64 draws per reset */
  const char *obs_names[MBRL_MAX_DIM]; /* (obs_dim) short names, e.g. "cos", "x_dot" */
  const char *shaped_cost_doc;         /* what shaped_cost computes, one line */
  /* the env's functions (CPU function table; the CUDA code calls them by name) */
  void (*reset_state)(mbrl_nprandom_pcg64 *rng, double *s, float *obs);
  double (*step_state)(double *s, const float *a, int past_terminal, int *terminated);
  void (*obs_from_state)(const double *s, float *obs);
  float (*reward_obs)(const float *obs, const float *a, const float *next_obs);
  int (*terminal_obs)(const float *next_obs);
  void (*oracle_step)(const float *obs, const float *a, float *next_obs);
  float (*shaped_cost)(const float *obs, const float *a, const float *next_obs);
  void (*project_obs)(float *obs); /* a predicted observation to the nearest the env emits */
} mbrl_env_spec;

/* The spec for a Gymnasium id; NULL (message listing the known ids) when unknown. */
const mbrl_env_spec *mbrl_env_find(const char *id);

/* The spec of registry entry i in [0, MBRL_ENV_COUNT) (MBRL_ENV_LIST's order), else NULL. */
const mbrl_env_spec *mbrl_env_at(int i);

/* The known ids as one string, "Pendulum-v1, CartPole-v1, ..." (for usage messages). */
const char *mbrl_env_known_ids(void);

/* ---------------------------------------------------------------- single env */

/* One environment. state: the env's double state (state_dim values, see its header). */
typedef struct mbrl_env {
  const mbrl_env_spec *spec;
  double state[MBRL_ENV_MAX_STATE];
  int t;                       /* steps since the last reset (TimeLimit's elapsed steps) */
  int steps_beyond_terminated; /* -1 = not terminated since the reset, else the number of
                                  steps taken after the first terminating one (Gymnasium's
                                  CartPole counter, kept for every env) */
  mbrl_nprandom_pcg64 rng;     /* reset draws: Gymnasium's np_random */
} mbrl_env;

/* Set up env `id` with the reset generator PCG64(SeedSequence(seed)) of Gymnasium's
 * env.reset(seed=seed), advanced past `stream` earlier resets (spec->reset_draws draws each,
 * a jump-ahead). So init(seed, 0) + reset == Gymnasium's reset(seed=seed), and init(seed, k)
 * + reset == the (k+1)-th reset of a Gymnasium env reset first with seed=seed, then k times
 * without a seed. The state is zero until mbrl_env_reset. Unknown id: MBRL_ERR_INVALID_ARG. */
mbrl_status mbrl_env_init(mbrl_env *e, const char *id, uint64_t seed, uint64_t stream);

/* Draw the next initial state from e->rng (Gymnasium's reset()), t = 0; writes obs (obs_dim). */
void mbrl_env_reset(mbrl_env *e, float *obs);

/* Set the state (state_dim doubles, as the env's header names them, e.g. Pendulum th, thdot;
 * CartPole x, x_dot, theta, theta_dot); t = 0, not terminated. No draw from the rng. */
void mbrl_env_set_state(mbrl_env *e, const double *state);

/* The observation of the current state: obs (obs_dim). */
void mbrl_env_obs(const mbrl_env *e, float *obs);

/* One step with action (act_dim): writes obs (obs_dim), *reward, *terminated, *truncated
 * (t >= max_steps after the step). Never resets; see the file comment for the semantics. */
void mbrl_env_step(mbrl_env *e, const float *action, float *obs, float *reward, int *terminated,
                   int *truncated);

/* ---------------------------------------------------------------- batched envs (SoA) */

/* B environments of one kind, state in structure-of-arrays form. Env b behaves exactly
 * like a single mbrl_env made with mbrl_env_init(id, seed + b, stream0) that is reset when
 * its episode ends (terminated or truncated), the way SB3's VecEnv / Gymnasium's
 * autoreset-same-step do it. With stream0 = 0 that is Gymnasium's vector-env convention:
 * envs.reset(seed=seed) seeds env b with seed + b, and every autoreset continues env b's
 * generator. stream0 > 0 skips stream0 resets of every env (a disjoint set of start states
 * for, e.g., evaluation). seed + b is the exact integer (past 2^64 too, as in Python).
 * Arrays are allocated by mbrl_env_batch_init.
 *
 * For seed 004's T x B fragments, the caller owns obs (T+1, B, obs_dim), actions
 * (T, B, act_dim), rewards / terminated / truncated (T, B) and next_obs (T, B, obs_dim),
 * and calls step with row t: mbrl_env_batch_step(eb, act + t*B*A, obs + (t+1)*B*O, ...). */
typedef struct mbrl_env_batch {
  const mbrl_env_spec *spec;
  int B;
  double *s[MBRL_ENV_MAX_STATE]; /* s[k] (B): state component k < state_dim (Pendulum:
                                   s[0] = th, s[1] = thdot) */
  int *t;                       /* (B) steps since the env's last reset */
  int *steps_beyond_terminated; /* (B) -1 = not terminated */
  mbrl_nprandom_pcg64 *rng;     /* (B) env b's reset generator: PCG64(SeedSequence(seed + b))
                                   advanced past stream0 resets */
} mbrl_env_batch;

/* Allocate B >= 1 envs of `id`; states zero until mbrl_env_batch_reset. Errors: unknown id,
 * B < 1 (MBRL_ERR_INVALID_ARG), allocation (MBRL_ERR_NOMEM); on error nothing is held. */
mbrl_status mbrl_env_batch_init(mbrl_env_batch *eb, const char *id, int B, uint64_t seed,
                                uint64_t stream0);

/* Free the arrays (safe on a zeroed or already freed batch). */
void mbrl_env_batch_free(mbrl_env_batch *eb);

/* Reset every env (each draws from its own stream); obs (B, obs_dim). */
void mbrl_env_batch_reset(mbrl_env_batch *eb, float *obs);

/* Set env b's state (as mbrl_env_set_state): t = 0, not terminated. 0 <= b < B. */
void mbrl_env_batch_set_state(mbrl_env_batch *eb, int b, const double *state);

/* Step every env with actions (B, act_dim). Writes rewards (B), terminated (B) and
 * truncated (B) of the step; next_obs (B, obs_dim) the observation the step produced
 * (the true next state, SB3's terminal_observation for finished episodes), or NULL to skip;
 * obs (B, obs_dim) the observation to act on next: next_obs, or for an env whose episode
 * just ended (terminated or truncated) the observation after its automatic reset. */
void mbrl_env_batch_step(mbrl_env_batch *eb, const float *actions, float *obs, float *next_obs,
                         float *rewards, uint8_t *terminated, uint8_t *truncated);

/* ---------------------------------------------------------------- batched physics op */

/* The env's step on B states at once, nothing else (no time limit, no reset, no CartPole
 * bookkeeping: every step is the first after a reset): for b < B, step state b with
 * actions (B, act_dim) row b, write obs (B, obs_dim), rewards (B) and terminated (B) (each
 * may be NULL). s (state_dim, B): component k of state b at s[k * B + b], updated in place.
 * spec from mbrl_env_find / mbrl_env_at. B >= 0. */
mbrl_status mbrl_env_batch_physics(const mbrl_env_spec *spec, int B, double *s,
                                   const float *actions, float *obs, float *rewards,
                                   uint8_t *terminated);

#ifdef MBRL_HAVE_CUDA
/* CUDA twin of mbrl_env_batch_physics (one thread per state, one kernel instantiation per
 * env): all arrays are device memory (cudaMalloc); launched on `stream` (a cudaStream_t,
 * NULL = default); checks the launch. Device sin/cos round differently from libm in the
 * last bits, so results track the CPU twin closely, not bit for bit. */
mbrl_status mbrl_env_batch_physics_cuda(const mbrl_env_spec *spec, int B, double *s,
                                        const float *actions, float *obs, float *rewards,
                                        uint8_t *terminated, void *stream);
#endif

MBRL_EXTERN_C_END

#endif
