/* mbrl/envs/mountaincar.h - Gymnasium MountainCar-v0, one environment header (host+device).
 *
 * Transcribed from gymnasium/envs/classic_control/mountain_car.py (Gymnasium 1.4.0):
 * state [position, velocity] in double (Python floats / np.float64 throughout); action
 * k in {0, 1, 2} (push left, none, right):
 *   velocity += (k - 1) * 0.001 + cos(3 position) * (-0.0025)
 *   velocity = clip(velocity, -0.07, 0.07);  position = clip(position + velocity, -1.2, 0.6)
 *   if position == -1.2 and velocity < 0: velocity = 0          (the left wall)
 *   terminated = position >= 0.5 and velocity >= 0;  reward = -1;  TimeLimit 200.
 *   reset: [np_random.uniform(-0.6, -0.4), 0] (1 draw); obs = float32 state.
 * The interface every env header provides is described in mbrl/envs/registry.h. */
#ifndef MBRL_ENVS_MOUNTAINCAR_H
#define MBRL_ENVS_MOUNTAINCAR_H

#include <math.h>

#include "mbrl/common.h"
#include "mbrl/envs/common.h"
#include "mbrl/nprandom.h"

/* ---------------------------------------------------------------- spec */
#define MBRL_MOUNTAINCAR_ID "MountainCar-v0"
#define MBRL_MOUNTAINCAR_OBS_DIM 2
#define MBRL_MOUNTAINCAR_ACT_DIM 1
#define MBRL_MOUNTAINCAR_STATE_DIM 2 /* position, velocity */
#define MBRL_MOUNTAINCAR_N_ACTIONS 3
#define MBRL_MOUNTAINCAR_MAX_STEPS 200
#define MBRL_MOUNTAINCAR_RESET_DRAWS 1
#define MBRL_MOUNTAINCAR_ACT_LOW {0.0f}
#define MBRL_MOUNTAINCAR_ACT_HIGH {2.0f}
#define MBRL_MOUNTAINCAR_OBS_LOW {-1.2f, -0.07f}
#define MBRL_MOUNTAINCAR_OBS_HIGH {0.6f, 0.07f}
#define MBRL_MOUNTAINCAR_OBS_NAMES {"position", "velocity"}
#define MBRL_MOUNTAINCAR_SHAPED_COST_DOC                                                          \
  "-reward - 10 (e' - e): potential-based shaping (Ng et al. 1999) by the car's mechanical "   \
  "energy e = (v^2/2 + 0.0025/3 sin 3p + 0.0025/3) / (0.0025/3 (1 + sin 1.5)), 0 at rest in " \
  "the valley, 1 at rest at the goal; summed over a horizon it is the steps taken minus 10 x " \
  "the energy gained"

/* ---------------------------------------------------------------- constants */
#define MBRL_MOUNTAINCAR_MIN_POSITION (-1.2)
#define MBRL_MOUNTAINCAR_MAX_POSITION 0.6
#define MBRL_MOUNTAINCAR_MAX_SPEED 0.07
#define MBRL_MOUNTAINCAR_GOAL_POSITION 0.5
#define MBRL_MOUNTAINCAR_FORCE 0.001
#define MBRL_MOUNTAINCAR_GRAVITY 0.0025
#define MBRL_MOUNTAINCAR_SHAPING 10.0f

/* The car's mechanical energy, normalized: 0 at rest at the valley bottom, 1 at rest at
 * position `goal`. v' = ... - 0.0025 cos 3p per step and p' = p + v make v^2/2 +
 * (0.0025/3) sin 3p the conserved quantity of the unforced motion. Shared with
 * MountainCarContinuous-v0 (goal 0.45). */
MBRL_HD static inline float mbrl_mountaincar_energy(float p, float v, float goal) {
  const float k = (float)(MBRL_MOUNTAINCAR_GRAVITY / 3.0);
  const float e = 0.5f * v * v + k * sinf(3.0f * p) + k;
  return e / (k * (1.0f + sinf(3.0f * goal)));
}

/* ---------------------------------------------------------------- the env interface */

/* Gymnasium's reset: s = [uniform(-0.6, -0.4), 0] (1 draw), obs (2). Host. */
static inline void mbrl_mountaincar_reset_state(mbrl_nprandom_pcg64 *rng, double *s, float *obs) {
  s[0] = mbrl_nprandom_pcg64_uniform(rng, -0.6, -0.4);
  s[1] = 0.0;
  obs[0] = (float)s[0];
  obs[1] = (float)s[1];
}

/* Gymnasium's step of s = [position, velocity] with the action index of a[0]; returns -1. */
MBRL_HD static inline double mbrl_mountaincar_step_state(double *s, const float *a,
                                                         int past_terminal, int *terminated) {
  (void)past_terminal;
  const int k = mbrl_env_action_index(a[0], MBRL_MOUNTAINCAR_N_ACTIONS);
  double position = s[0], velocity = s[1];
  velocity = velocity + ((double)(k - 1) * MBRL_MOUNTAINCAR_FORCE +
                         cos(3.0 * position) * (-MBRL_MOUNTAINCAR_GRAVITY));
  velocity = mbrl_env_clip(velocity, -MBRL_MOUNTAINCAR_MAX_SPEED, MBRL_MOUNTAINCAR_MAX_SPEED);
  position = position + velocity;
  position = mbrl_env_clip(position, MBRL_MOUNTAINCAR_MIN_POSITION, MBRL_MOUNTAINCAR_MAX_POSITION);
  if (position == MBRL_MOUNTAINCAR_MIN_POSITION && velocity < 0.0) velocity = 0.0;
  *terminated = position >= MBRL_MOUNTAINCAR_GOAL_POSITION && velocity >= 0.0;
  s[0] = position;
  s[1] = velocity;
  return -1.0;
}

/* obs (2) = float32 [position, velocity]. */
MBRL_HD static inline void mbrl_mountaincar_obs_from_state(const double *s, float *obs) {
  obs[0] = (float)s[0];
  obs[1] = (float)s[1];
}

/* Reward of a transition: -1. */
MBRL_HD static inline float mbrl_mountaincar_reward_obs(const float *obs, const float *a,
                                                        const float *next_obs) {
  (void)obs;
  (void)a;
  (void)next_obs;
  return -1.0f;
}

/* Terminated: position' >= 0.5 and velocity' >= 0 (float). */
MBRL_HD static inline int mbrl_mountaincar_terminal_obs(const float *next_obs) {
  return next_obs[0] >= (float)MBRL_MOUNTAINCAR_GOAL_POSITION && next_obs[1] >= 0.0f;
}

/* Projection of a predicted observation: none (position and velocity are free values). */
MBRL_HD static inline void mbrl_mountaincar_project_obs(float *obs) { (void)obs; }

/* True dynamics on observations in float (same order of operations). */
MBRL_HD static inline void mbrl_mountaincar_oracle_step(const float *obs, const float *a,
                                                        float *next_obs) {
  const int k = mbrl_env_action_index(a[0], MBRL_MOUNTAINCAR_N_ACTIONS);
  const float ms = (float)MBRL_MOUNTAINCAR_MAX_SPEED, pmin = (float)MBRL_MOUNTAINCAR_MIN_POSITION;
  float position = obs[0], velocity = obs[1];
  velocity = velocity + ((float)(k - 1) * (float)MBRL_MOUNTAINCAR_FORCE +
                         cosf(3.0f * position) * (float)(-MBRL_MOUNTAINCAR_GRAVITY));
  velocity = mbrl_env_clipf(velocity, -ms, ms);
  position = mbrl_env_clipf(position + velocity, pmin, (float)MBRL_MOUNTAINCAR_MAX_POSITION);
  if (position == pmin && velocity < 0.0f) velocity = 0.0f;
  next_obs[0] = position;
  next_obs[1] = velocity;
}

/* Planning cost (MBRL_MOUNTAINCAR_SHAPED_COST_DOC): 1 - 10 (e(next_obs) - e(obs)).
 * Oracle random shooting (K 1024, H 15, costs summed up to the first predicted terminal):
 * -170 on reset seeds 0..2; with -reward alone -200 (the goal is never seen). */
MBRL_HD static inline float mbrl_mountaincar_shaped_cost(const float *obs, const float *a,
                                                         const float *next_obs) {
  const float goal = (float)MBRL_MOUNTAINCAR_GOAL_POSITION;
  const float de = mbrl_mountaincar_energy(next_obs[0], next_obs[1], goal) -
                   mbrl_mountaincar_energy(obs[0], obs[1], goal);
  return -mbrl_mountaincar_reward_obs(obs, a, next_obs) - MBRL_MOUNTAINCAR_SHAPING * de;
}

#endif
