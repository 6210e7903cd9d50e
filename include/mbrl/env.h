/* mbrl/env.h - Pendulum-v1 and CartPole-v1 with Gymnasium's semantics, single and batched.
 *
 * Semantics (Gymnasium + its TimeLimit wrapper):
 * - step returns the observation after the step, the reward, `terminated` (CartPole left
 *   the allowed region; Pendulum never terminates) and `truncated` (t >= max_steps after
 *   the step: 200 Pendulum, 500 CartPole). Both can be 1 on the same step (CartPole falling
 *   on step 500), exactly as Gymnasium returns them.
 * - CartPole: +1 on every step including the terminating one; stepping a terminated env
 *   again (without reset) gives 0 (steps_beyond_terminated, Gymnasium's "undefined behavior").
 * - Resets draw Gymnasium's start states bit for bit, from the generator Gymnasium's
 *   env.reset(seed=s) makes: numpy's PCG64(SeedSequence(s)) (mbrl/nprandom.h), with
 *   Generator.uniform: Pendulum uniform(low=-[pi, 1], high=[pi, 1]) (th then thdot, 2 doubles);
 *   CartPole uniform(-0.05, 0.05, size=(4,)) (x, x_dot, theta, theta_dot, 4 doubles). A later
 *   reset continues the same generator, as Gymnasium's env.reset() without a seed does.
 *   (Only the reset generator is Gymnasium's: a caller's random actions are its own, e.g.
 *   mbrl_collect draws them from Philox; Gymnasium's action_space.sample() uses another
 *   generator.)
 * - Actions are float: Pendulum torque (clipped to [-2, 2]); CartPole the action index
 *   stored as a float, action[0] > 0.5 means 1 (push right), else 0 (push left).
 * - State in double, observations float32. */
#ifndef MBRL_ENV_H
#define MBRL_ENV_H

#include <stdint.h>

#include "mbrl/common.h"
#include "mbrl/nprandom.h"
#include "mbrl/philox.h" /* kept for includers that use Philox next to the envs */
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

typedef enum mbrl_env_kind { MBRL_ENV_PENDULUM = 0, MBRL_ENV_CARTPOLE = 1 } mbrl_env_kind;

/* What a user needs to know about an env. Bounds are Gymnasium's spaces (float32).
 * Pendulum-v1: obs 3, act 1, continuous, act [-2, 2], obs [-1,-1,-8]..[1,1,8], max 200.
 * CartPole-v1: obs 4, act_dim 1 (the action index as a float 0.0 / 1.0), discrete,
 *   n_actions 2, act_low 0, act_high 1, obs +-[4.8, FLT_MAX, 24 deg, FLT_MAX], max 500. */
typedef struct mbrl_env_spec {
  const char *id;       /* Gymnasium id, e.g. "Pendulum-v1" */
  mbrl_env_kind kind;
  int obs_dim;          /* observation width */
  int act_dim;          /* action width (1 for both envs) */
  int discrete;         /* 1: action[0] is an index in [0, n_actions) */
  int n_actions;        /* number of discrete actions (0 when continuous) */
  float act_low[MBRL_MAX_DIM], act_high[MBRL_MAX_DIM]; /* (act_dim) */
  float obs_low[MBRL_MAX_DIM], obs_high[MBRL_MAX_DIM]; /* (obs_dim) */
  int max_steps;        /* TimeLimit max_episode_steps */
  int state_dim;        /* internal double state width: 2 Pendulum, 4 CartPole */
} mbrl_env_spec;

/* The spec for a Gymnasium id; NULL (message listing the known ids) when unknown. */
const mbrl_env_spec *mbrl_env_find(const char *id);

/* The known ids as one string, "Pendulum-v1, CartPole-v1" (for usage messages). */
const char *mbrl_env_known_ids(void);

/* ---------------------------------------------------------------- single env */

/* One environment. state: Pendulum [th, thdot]; CartPole [x, x_dot, theta, theta_dot]. */
typedef struct mbrl_env {
  const mbrl_env_spec *spec;
  double state[4];
  int t;                       /* steps since the last reset (TimeLimit's elapsed steps) */
  int steps_beyond_terminated; /* -1 = None (not terminated yet), else Gymnasium's count */
  mbrl_nprandom_pcg64 rng;     /* reset draws: Gymnasium's np_random */
} mbrl_env;

/* Set up env `id` with the reset generator PCG64(SeedSequence(seed)) of Gymnasium's
 * env.reset(seed=seed), advanced past `stream` earlier resets (2 draws each for Pendulum, 4
 * for CartPole). So init(seed, 0) + reset == Gymnasium's reset(seed=seed), and init(seed, k)
 * + reset == the (k+1)-th reset of a Gymnasium env reset first with seed=seed, then k times
 * without a seed. The state is zero until mbrl_env_reset. Unknown id: MBRL_ERR_INVALID_ARG. */
mbrl_status mbrl_env_init(mbrl_env *e, const char *id, uint64_t seed, uint64_t stream);

/* Draw the next initial state from e->rng (Gymnasium's reset()), t = 0; writes obs (obs_dim). */
void mbrl_env_reset(mbrl_env *e, float *obs);

/* Set the state (Pendulum th, thdot; CartPole x, x_dot, theta, theta_dot); t = 0, not
 * terminated. No draw from the rng. */
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
  double *s[4];                 /* s[k] (B): state component k (Pendulum uses s[0]=th, s[1]=thdot) */
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

MBRL_EXTERN_C_END

#endif
