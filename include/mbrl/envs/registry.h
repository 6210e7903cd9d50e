/* mbrl/envs/registry.h - the list of environments: every env header, one line each.
 *
 * An environment is one header, mbrl/envs/<name>.h (PufferLib's Ocean envs are the model),
 * that defines, with <NAME> / <name> its macro / function prefix:
 *
 *   spec constants
 *     MBRL_<NAME>_ID           Gymnasium id, e.g. "Pendulum-v1"
 *     MBRL_<NAME>_OBS_DIM      observation width            MBRL_<NAME>_ACT_DIM  action width
 *     MBRL_<NAME>_STATE_DIM    double state width (<= MBRL_ENV_MAX_STATE)
 *     MBRL_<NAME>_N_ACTIONS    number of discrete actions, 0 for a continuous action
 *     MBRL_<NAME>_MAX_STEPS    Gymnasium's TimeLimit (max_episode_steps)
 *     MBRL_<NAME>_RESET_DRAWS  PCG64 draws one reset takes
 *     MBRL_<NAME>_ACT_LOW / _ACT_HIGH / _OBS_LOW / _OBS_HIGH   {..} Gymnasium's Box bounds
 *                              (float32; a discrete env's act bounds are 0 .. n_actions-1)
 *     MBRL_<NAME>_OBS_NAMES    {"..", ..} a short name per observation value
 *     MBRL_<NAME>_SHAPED_COST_DOC   one line saying what the shaped cost is
 *
 *   functions (all `static inline`; all but the reset MBRL_HD, so the CUDA code instantiates
 *   them per env; the double ones are the exact env, the float ones what a planner runs)
 *     void   mbrl_<name>_reset_state(mbrl_nprandom_pcg64 *rng, double *s, float *obs)
 *              Gymnasium's reset: draws MBRL_<NAME>_RESET_DRAWS uniforms from rng (the
 *              generator of env.reset(seed=...)), writes the state s (STATE_DIM) and the
 *              reset observation obs (OBS_DIM). Host only.
 *     double mbrl_<name>_step_state(double *s, const float *a, int past_terminal,
 *                                   int *terminated)
 *              Gymnasium's step of the state s in place with action a (ACT_DIM; a discrete
 *              env reads the index from a[0], mbrl_env_action_index); writes *terminated and
 *              returns the reward. past_terminal: an earlier step since the reset already
 *              terminated (CartPole then pays 0). Bit for bit Gymnasium's float64 math.
 *     void   mbrl_<name>_obs_from_state(const double *s, float *obs)
 *              the float32 observation of a state (as Gymnasium returns it after a step).
 *     float  mbrl_<name>_reward_obs(const float *obs, const float *a, const float *next_obs)
 *              the env's reward of a transition, from OBSERVATIONS (what a planner has for
 *              predicted transitions), float arithmetic.
 *     int    mbrl_<name>_terminal_obs(const float *next_obs)
 *              1 if Gymnasium would say terminated on reaching next_obs (float).
 *     void   mbrl_<name>_oracle_step(const float *obs, const float *a, float *next_obs)
 *              the true dynamics on observations in float: the planner's oracle model.
 *     void   mbrl_<name>_project_obs(float *obs)
 *              a model's predicted observation mapped in place to the nearest one the env
 *              can emit (unit (cos, sin) pairs; nothing for unconstrained values): what the
 *              planner applies after each learned step unless told not to.
 *     float  mbrl_<name>_shaped_cost(const float *obs, const float *a, const float *next_obs)
 *              a dense planning cost (lower is better), documented in _SHAPED_COST_DOC;
 *              -reward where the reward is dense already.
 *
 * To add an environment: write its header with the above and add one X(...) line below.
 * env.c builds the run-time table (mbrl_env_spec, mbrl/env.h) from this list; CUDA code
 * instantiates a kernel per env with it, e.g.
 *   #define X(NAME, name) case MBRL_ENV_##NAME: kernel<...mbrl_##name##_oracle_step...>; break;
 *   switch (spec->kind) { MBRL_ENV_LIST(X) }
 */
#ifndef MBRL_ENVS_REGISTRY_H
#define MBRL_ENVS_REGISTRY_H

#include "mbrl/envs/acrobot.h"
#include "mbrl/envs/cartpole.h"
#include "mbrl/envs/mountaincar.h"
#include "mbrl/envs/mountaincar_continuous.h"
#include "mbrl/envs/pendulum.h"

/* X(NAME, name) for every environment; the order is mbrl_env_kind's. */
#define MBRL_ENV_LIST(X)                             \
  X(PENDULUM, pendulum)                              \
  X(CARTPOLE, cartpole)                              \
  X(MOUNTAINCAR_CONTINUOUS, mountaincar_continuous) \
  X(MOUNTAINCAR, mountaincar)                        \
  X(ACROBOT, acrobot)

/* Largest state width of any env (the single env's and the batch's state arrays). */
#define MBRL_ENV_MAX_STATE 4

#endif
