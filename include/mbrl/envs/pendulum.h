/* mbrl/envs/pendulum.h - Gymnasium Pendulum-v1, one environment header (host+device inline).
 *
 * Transcribed from gymnasium/envs/classic_control/pendulum.py (Gymnasium 1.4.0), with the
 * float32/float64 arithmetic numpy 1.x gives it (the reference our tests run: Debian's numpy
 * 1.24 under scripts/venv's Gymnasium):
 *   u = np.clip(u, -2, 2)[0]               float32 (clip of the float32 action array)
 *   cost = angle_normalize(th)**2 + .1*thdot**2 + .001*(u**2)   on the PRE-step state; every
 *          term float64: numpy 1.x promotes the float32 scalar u (u**2 is u*u exact in double)
 *   newthdot = clip(thdot + (15 sin th + 3 u) dt, -8, 8);  newth = th + newthdot dt
 *   obs = float32 [cos th, sin th, thdot];  reward = -cost;  never terminates; TimeLimit 200.
 *   reset: np_random.uniform(low=-[pi, 1], high=[pi, 1]): th then thdot, 2 draws.
 * (numpy >= 2 computes u**2, .001*u**2 and 3*u in float32 instead: Gymnasium itself then
 * differs in the last bits.)
 * The state is double, as in Gymnasium. The _f twins do everything in float, for the planner.
 * The interface every env header provides is described in mbrl/envs/registry.h. */
#ifndef MBRL_ENVS_PENDULUM_H
#define MBRL_ENVS_PENDULUM_H

#include <math.h>

#include "mbrl/common.h"
#include "mbrl/envs/common.h"
#include "mbrl/nprandom.h"

/* ---------------------------------------------------------------- spec */
#define MBRL_PENDULUM_ID "Pendulum-v1"
#define MBRL_PENDULUM_OBS_DIM 3
#define MBRL_PENDULUM_ACT_DIM 1
#define MBRL_PENDULUM_STATE_DIM 2   /* th, thdot */
#define MBRL_PENDULUM_N_ACTIONS 0   /* continuous: torque */
#define MBRL_PENDULUM_MAX_STEPS 200
#define MBRL_PENDULUM_RESET_DRAWS 2
#define MBRL_PENDULUM_ACT_LOW {-2.0f}
#define MBRL_PENDULUM_ACT_HIGH {2.0f}
#define MBRL_PENDULUM_OBS_LOW {-1.0f, -1.0f, -8.0f}
#define MBRL_PENDULUM_OBS_HIGH {1.0f, 1.0f, 8.0f}
#define MBRL_PENDULUM_OBS_NAMES {"cos", "sin", "thdot"}
#define MBRL_PENDULUM_SHAPED_COST_DOC "-reward (the reward is dense)"

/* ---------------------------------------------------------------- constants */
#define MBRL_PENDULUM_MAX_SPEED 8.0
#define MBRL_PENDULUM_MAX_TORQUE 2.0
#define MBRL_PENDULUM_DT 0.05
#define MBRL_PENDULUM_G 10.0
#define MBRL_PENDULUM_M 1.0
#define MBRL_PENDULUM_L 1.0

/* ((x + pi) mod 2pi) - pi with Python/numpy's floored modulo: result in [-pi, pi). */
MBRL_HD static inline double mbrl_pendulum_angle_normalize(double x) {
  const double two_pi = 2.0 * MBRL_PI;
  double m = fmod(x + MBRL_PI, two_pi);
  if (m != 0.0) {
    if (m < 0.0) m += two_pi;
  } else {
    m = 0.0; /* copysign(0, 2pi) */
  }
  return m - MBRL_PI;
}

/* np.clip(u, -max_torque, max_torque) in float32 (NaN passes through, as in numpy). */
MBRL_HD static inline float mbrl_pendulum_clip_torque(float u) {
  const float hi = (float)MBRL_PENDULUM_MAX_TORQUE;
  return u < -hi ? -hi : (u > hi ? hi : u);
}

/* Reward of applying torque u in state (th, thdot): -(an(th)^2 + .1 thdot^2 + .001 u^2),
 * float64 throughout (u is the clipped float32 torque, squared exactly in double). */
MBRL_HD static inline double mbrl_pendulum_reward(double th, double thdot, float u) {
  const double uc = (double)mbrl_pendulum_clip_torque(u);
  const double an = mbrl_pendulum_angle_normalize(th);
  const double cost = an * an + 0.1 * (thdot * thdot) + 0.001 * (uc * uc);
  return -cost;
}

/* One step in place: clip u, integrate thdot, clip it to +-max_speed, then th += thdot dt. */
MBRL_HD static inline void mbrl_pendulum_step(double *th, double *thdot, float u) {
  const double g = MBRL_PENDULUM_G, m = MBRL_PENDULUM_M, l = MBRL_PENDULUM_L;
  const double dt = MBRL_PENDULUM_DT, ms = MBRL_PENDULUM_MAX_SPEED;
  double uc = (double)mbrl_pendulum_clip_torque(u);
  double newthdot = *thdot + (3.0 * g / (2.0 * l) * sin(*th) + 3.0 / (m * l * l) * uc) * dt;
  newthdot = newthdot < -ms ? -ms : (newthdot > ms ? ms : newthdot);
  *th = *th + newthdot * dt;
  *thdot = newthdot;
}

/* Observation of state (th, thdot): obs (3) = float32 [cos th, sin th, thdot]. */
MBRL_HD static inline void mbrl_pendulum_obs(double th, double thdot, float *obs) {
  obs[0] = (float)cos(th);
  obs[1] = (float)sin(th);
  obs[2] = (float)thdot;
}

/* ---- float twins (planner): same formulas, float arithmetic ---- */

/* angle_normalize in float: result in [-pi, pi). */
MBRL_HD static inline float mbrl_pendulum_angle_normalize_f(float x) {
  const float pi = (float)MBRL_PI, two_pi = (float)(2.0 * MBRL_PI);
  float m = fmodf(x + pi, two_pi);
  if (m < 0.0f) m += two_pi;
  return m - pi;
}

/* Reward in float on the pre-step state (th, thdot) with torque u (clipped). */
MBRL_HD static inline float mbrl_pendulum_reward_f(float th, float thdot, float u) {
  float uc = mbrl_pendulum_clip_torque(u);
  float an = mbrl_pendulum_angle_normalize_f(th);
  return -(an * an + 0.1f * (thdot * thdot) + 0.001f * (uc * uc));
}

/* Reward in float from an observation [cos, sin, thdot]: th = atan2(sin, cos). */
MBRL_HD static inline float mbrl_pendulum_reward_obs_f(float c, float s, float thdot, float u) {
  return mbrl_pendulum_reward_f(atan2f(s, c), thdot, u);
}

/* One step in float, in place (same order: clip u, thdot, clip speed, th). */
MBRL_HD static inline void mbrl_pendulum_step_f(float *th, float *thdot, float u) {
  const float ms = (float)MBRL_PENDULUM_MAX_SPEED, dt = (float)MBRL_PENDULUM_DT;
  const float k_sin = (float)(3.0 * MBRL_PENDULUM_G / (2.0 * MBRL_PENDULUM_L));
  const float k_u = (float)(3.0 / (MBRL_PENDULUM_M * MBRL_PENDULUM_L * MBRL_PENDULUM_L));
  float uc = mbrl_pendulum_clip_torque(u);
  float newthdot = *thdot + (k_sin * sinf(*th) + k_u * uc) * dt;
  newthdot = newthdot < -ms ? -ms : (newthdot > ms ? ms : newthdot);
  *th = *th + newthdot * dt;
  *thdot = newthdot;
}

/* ---------------------------------------------------------------- the env interface */

/* Gymnasium's reset: s = [th, thdot] from rng (2 draws), obs (3) its observation. Host. */
static inline void mbrl_pendulum_reset_state(mbrl_nprandom_pcg64 *rng, double *s, float *obs) {
  s[0] = mbrl_nprandom_pcg64_uniform(rng, -MBRL_PI, MBRL_PI);
  s[1] = mbrl_nprandom_pcg64_uniform(rng, -1.0, 1.0);
  mbrl_pendulum_obs(s[0], s[1], obs);
}

/* Gymnasium's step of s = [th, thdot] with a[0] = torque: returns the reward (of the pre-step
 * state), *terminated = 0. */
MBRL_HD static inline double mbrl_pendulum_step_state(double *s, const float *a, int past_terminal,
                                                      int *terminated) {
  (void)past_terminal;
  const double r = mbrl_pendulum_reward(s[0], s[1], a[0]);
  mbrl_pendulum_step(&s[0], &s[1], a[0]);
  *terminated = 0;
  return r;
}

/* obs (3) of s = [th, thdot]. */
MBRL_HD static inline void mbrl_pendulum_obs_from_state(const double *s, float *obs) {
  mbrl_pendulum_obs(s[0], s[1], obs);
}

/* Reward of (obs, a, next_obs) in float: Gymnasium's cost on the pre-step observation,
 * th = atan2(obs[1], obs[0]); next_obs is not needed. */
MBRL_HD static inline float mbrl_pendulum_reward_obs(const float *obs, const float *a,
                                                     const float *next_obs) {
  (void)next_obs;
  return mbrl_pendulum_reward_obs_f(obs[0], obs[1], obs[2], a[0]);
}

/* Pendulum never terminates. */
MBRL_HD static inline int mbrl_pendulum_terminal_obs(const float *next_obs) {
  (void)next_obs;
  return 0;
}

/* The observation the env can emit nearest to a predicted one: (cos th, sin th) scaled to
 * unit length (a model's prediction drifts off the circle over a horizon); thdot as it is. */
MBRL_HD static inline void mbrl_pendulum_project_obs(float *obs) {
  mbrl_env_unit_pair(&obs[0], &obs[1]);
}

/* True dynamics on observations in float: th = atan2(sin, cos), mbrl_pendulum_step_f,
 * next = [cos th', sin th', thdot']. */
MBRL_HD static inline void mbrl_pendulum_oracle_step(const float *obs, const float *a,
                                                     float *next_obs) {
  float th = atan2f(obs[1], obs[0]), thdot = obs[2];
  mbrl_pendulum_step_f(&th, &thdot, a[0]);
  next_obs[0] = cosf(th);
  next_obs[1] = sinf(th);
  next_obs[2] = thdot;
}

/* Planning cost: -reward (dense already). */
MBRL_HD static inline float mbrl_pendulum_shaped_cost(const float *obs, const float *a,
                                                      const float *next_obs) {
  return -mbrl_pendulum_reward_obs(obs, a, next_obs);
}

#endif
