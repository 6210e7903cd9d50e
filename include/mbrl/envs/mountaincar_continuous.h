/* mbrl/envs/mountaincar_continuous.h - Gymnasium MountainCarContinuous-v0, one environment
 * header (host+device inline).
 *
 * Transcribed from gymnasium/envs/classic_control/continuous_mountain_car.py (Gymnasium
 * 1.4.0), with numpy 1.x's promotion (every float32 scalar meets a Python float and is
 * promoted: the arithmetic is float64, the state is stored as float32 after each step):
 *   force = min(max(a, -1), 1);  velocity += force * 0.0015 - 0.0025 cos(3 position)
 *   velocity clipped to +-0.07;  position += velocity, clipped to [-1.2, 0.6]
 *   if position == -1.2 and velocity < 0: velocity = 0               (the left wall)
 *   terminated = position >= 0.45 and velocity >= 0   (goal 0.45 in Gymnasium 1.x)
 *   reward = (100 if terminated else 0) - 0.1 a^2   (a unclipped, squared in double)
 *   state = float32 [position, velocity];  TimeLimit 999.
 *   reset: [np_random.uniform(-0.6, -0.4), 0] as float64 (1 draw); obs = float32 state.
 * (numpy >= 2 computes force * 0.0015 in float32 for an unclipped float32 action: Gymnasium
 * itself then differs in the last bits.)
 * The interface every env header provides is described in mbrl/envs/registry.h. */
#ifndef MBRL_ENVS_MOUNTAINCAR_CONTINUOUS_H
#define MBRL_ENVS_MOUNTAINCAR_CONTINUOUS_H

#include <math.h>

#include "mbrl/common.h"
#include "mbrl/envs/common.h"
#include "mbrl/envs/mountaincar.h" /* mbrl_mountaincar_energy */
#include "mbrl/nprandom.h"

/* ---------------------------------------------------------------- spec */
#define MBRL_MOUNTAINCAR_CONTINUOUS_ID "MountainCarContinuous-v0"
#define MBRL_MOUNTAINCAR_CONTINUOUS_OBS_DIM 2
#define MBRL_MOUNTAINCAR_CONTINUOUS_ACT_DIM 1
#define MBRL_MOUNTAINCAR_CONTINUOUS_STATE_DIM 2 /* position, velocity */
#define MBRL_MOUNTAINCAR_CONTINUOUS_N_ACTIONS 0  /* continuous: force */
#define MBRL_MOUNTAINCAR_CONTINUOUS_MAX_STEPS 999
#define MBRL_MOUNTAINCAR_CONTINUOUS_RESET_DRAWS 1
#define MBRL_MOUNTAINCAR_CONTINUOUS_ACT_LOW {-1.0f}
#define MBRL_MOUNTAINCAR_CONTINUOUS_ACT_HIGH {1.0f}
#define MBRL_MOUNTAINCAR_CONTINUOUS_OBS_LOW {-1.2f, -0.07f}
#define MBRL_MOUNTAINCAR_CONTINUOUS_OBS_HIGH {0.6f, 0.07f}
#define MBRL_MOUNTAINCAR_CONTINUOUS_OBS_NAMES {"position", "velocity"}
#define MBRL_MOUNTAINCAR_CONTINUOUS_SHAPED_COST_DOC                                             \
  "-reward - 30 (e' - e): potential-based shaping by the car's normalized mechanical energy " \
  "e (as MountainCar-v0's, 1 at rest at the goal 0.45); the reward keeps the 0.1 a^2 action " \
  "cost and the +100 at the goal"

/* ---------------------------------------------------------------- constants */
#define MBRL_MOUNTAINCAR_CONTINUOUS_MIN_ACTION (-1.0)
#define MBRL_MOUNTAINCAR_CONTINUOUS_MAX_ACTION 1.0
#define MBRL_MOUNTAINCAR_CONTINUOUS_GOAL_POSITION 0.45
#define MBRL_MOUNTAINCAR_CONTINUOUS_POWER 0.0015

/* ---------------------------------------------------------------- the env interface */

/* Gymnasium's reset: s = [uniform(-0.6, -0.4), 0] (1 draw), obs (2). Host. */
static inline void mbrl_mountaincar_continuous_reset_state(mbrl_nprandom_pcg64 *rng, double *s,
                                                           float *obs) {
  mbrl_mountaincar_reset_state(rng, s, obs);
}

/* Gymnasium's step of s = [position, velocity] with force a[0]; the new state is rounded
 * to float32 (Gymnasium stores it as a float32 array). Returns the reward. */
MBRL_HD static inline double mbrl_mountaincar_continuous_step_state(double *s, const float *a,
                                                                    int past_terminal,
                                                                    int *terminated) {
  (void)past_terminal;
  const double ms = MBRL_MOUNTAINCAR_MAX_SPEED;
  const double pmin = MBRL_MOUNTAINCAR_MIN_POSITION, pmax = MBRL_MOUNTAINCAR_MAX_POSITION;
  const double a0 = (double)a[0];
  double position = s[0], velocity = s[1];
  /* Python's min(max(a, lo), hi): max returns lo only when lo > a (NaN stays NaN) */
  double force = MBRL_MOUNTAINCAR_CONTINUOUS_MIN_ACTION > a0 ? MBRL_MOUNTAINCAR_CONTINUOUS_MIN_ACTION
                                                             : a0;
  force = MBRL_MOUNTAINCAR_CONTINUOUS_MAX_ACTION < force ? MBRL_MOUNTAINCAR_CONTINUOUS_MAX_ACTION
                                                         : force;
  velocity = velocity + (force * MBRL_MOUNTAINCAR_CONTINUOUS_POWER -
                         MBRL_MOUNTAINCAR_GRAVITY * cos(3.0 * position));
  if (velocity > ms) velocity = ms;
  if (velocity < -ms) velocity = -ms;
  position = position + velocity;
  if (position > pmax) position = pmax;
  if (position < pmin) position = pmin;
  if (position == pmin && velocity < 0.0) velocity = 0.0;
  const int term = position >= MBRL_MOUNTAINCAR_CONTINUOUS_GOAL_POSITION && velocity >= 0.0;
  *terminated = term;
  s[0] = (double)(float)position;
  s[1] = (double)(float)velocity;
  return (term ? 100.0 : 0.0) - (a0 * a0) * 0.1;
}

/* obs (2) = float32 [position, velocity]. */
MBRL_HD static inline void mbrl_mountaincar_continuous_obs_from_state(const double *s,
                                                                      float *obs) {
  obs[0] = (float)s[0];
  obs[1] = (float)s[1];
}

/* Terminated: position' >= 0.45 and velocity' >= 0 (float). */
MBRL_HD static inline int mbrl_mountaincar_continuous_terminal_obs(const float *next_obs) {
  return next_obs[0] >= (float)MBRL_MOUNTAINCAR_CONTINUOUS_GOAL_POSITION && next_obs[1] >= 0.0f;
}

/* Reward of a transition in float: 100 if next_obs is terminal, minus 0.1 a^2. */
MBRL_HD static inline float mbrl_mountaincar_continuous_reward_obs(const float *obs,
                                                                   const float *a,
                                                                   const float *next_obs) {
  (void)obs;
  const float bonus = mbrl_mountaincar_continuous_terminal_obs(next_obs) ? 100.0f : 0.0f;
  return bonus - (a[0] * a[0]) * 0.1f;
}

/* Projection of a predicted observation: none (position and velocity are free values). */
MBRL_HD static inline void mbrl_mountaincar_continuous_project_obs(float *obs) { (void)obs; }

/* True dynamics on observations in float (same order of operations). */
MBRL_HD static inline void mbrl_mountaincar_continuous_oracle_step(const float *obs,
                                                                   const float *a,
                                                                   float *next_obs) {
  const float ms = (float)MBRL_MOUNTAINCAR_MAX_SPEED, pmin = (float)MBRL_MOUNTAINCAR_MIN_POSITION;
  const float pmax = (float)MBRL_MOUNTAINCAR_MAX_POSITION;
  const float force = mbrl_env_clipf(a[0], -1.0f, 1.0f);
  float position = obs[0], velocity = obs[1];
  velocity = velocity + (force * (float)MBRL_MOUNTAINCAR_CONTINUOUS_POWER -
                         (float)MBRL_MOUNTAINCAR_GRAVITY * cosf(3.0f * position));
  velocity = mbrl_env_clipf(velocity, -ms, ms);
  position = mbrl_env_clipf(position + velocity, pmin, pmax);
  if (position == pmin && velocity < 0.0f) velocity = 0.0f;
  next_obs[0] = position;
  next_obs[1] = velocity;
}

/* Weight of the energy shaping in MountainCarContinuous-v0's planning cost. Larger than
 * MountainCar-v0's 10 because this env charges 0.1 a^2 per step: from rest near the valley
 * floor a 15-step sequence gains so little energy (power = force x velocity, velocity ~0)
 * that with weight 10 the action cost outweighs it and the all-zeros sequence wins every
 * step (oracle random shooting K 1024, H 15, reset seeds 0..49: 9 episodes stayed at 0, mean
 * 77.3); with 30 every episode reaches the goal (mean 93.66, min 92.0). */
#define MBRL_MOUNTAINCAR_CONTINUOUS_SHAPING 30.0f

/* Planning cost (MBRL_MOUNTAINCAR_CONTINUOUS_SHAPED_COST_DOC): -reward - 30 (e' - e).
 * Oracle random shooting (K 1024, H 15, costs summed up to the first predicted terminal):
 * 93.66 on reset seeds 0..49; with -reward alone -11.5 (seeds 0..2: it learns to stand still). */
MBRL_HD static inline float mbrl_mountaincar_continuous_shaped_cost(const float *obs,
                                                                    const float *a,
                                                                    const float *next_obs) {
  const float goal = (float)MBRL_MOUNTAINCAR_CONTINUOUS_GOAL_POSITION;
  const float de = mbrl_mountaincar_energy(next_obs[0], next_obs[1], goal) -
                   mbrl_mountaincar_energy(obs[0], obs[1], goal);
  return -mbrl_mountaincar_continuous_reward_obs(obs, a, next_obs) - MBRL_MOUNTAINCAR_CONTINUOUS_SHAPING * de;
}

#endif
