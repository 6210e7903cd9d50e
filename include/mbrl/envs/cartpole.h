/* mbrl/envs/cartpole.h - Gymnasium CartPole-v1, one environment header (host+device inline).
 *
 * Transcribed from gymnasium/envs/classic_control/cartpole.py (Gymnasium 1.4.0, CartPoleEnv,
 * kinematics_integrator = "euler", the default): state s = [x, x_dot, theta, theta_dot] in
 * double; force = +10 for action 1, -10 for action 0; explicit Euler with tau 0.02
 * (positions advance with the OLD velocities); terminated when |x| > 2.4 or
 * |theta| > 12 * 2 * pi / 360 (strict); reward +1 on every step including the terminating
 * one, 0 on steps taken after a terminating step without a reset (Gymnasium's
 * steps_beyond_terminated); TimeLimit 500. reset: np_random.uniform(-0.05, 0.05, size=(4,)).
 * The action is the index as a float: 1.0 pushes right, 0.0 left (mbrl_env_action_index).
 * The interface every env header provides is described in mbrl/envs/registry.h. */
#ifndef MBRL_ENVS_CARTPOLE_H
#define MBRL_ENVS_CARTPOLE_H

#include <math.h>

#include "mbrl/common.h"
#include "mbrl/envs/common.h"
#include "mbrl/nprandom.h"

/* ---------------------------------------------------------------- spec */
#define MBRL_CARTPOLE_ID "CartPole-v1"
#define MBRL_CARTPOLE_OBS_DIM 4
#define MBRL_CARTPOLE_ACT_DIM 1
#define MBRL_CARTPOLE_STATE_DIM 4 /* x, x_dot, theta, theta_dot */
#define MBRL_CARTPOLE_N_ACTIONS 2
#define MBRL_CARTPOLE_MAX_STEPS 500
#define MBRL_CARTPOLE_RESET_DRAWS 4
#define MBRL_CARTPOLE_ACT_LOW {0.0f}
#define MBRL_CARTPOLE_ACT_HIGH {1.0f}
/* Gymnasium's Box: +-[2 x_threshold, inf, 2 theta_threshold, inf] as float32 */
#define MBRL_CARTPOLE_OBS_LOW                                                                     \
  {(float)(-MBRL_CARTPOLE_X_THRESHOLD * 2), -INFINITY, (float)(-MBRL_CARTPOLE_THETA_THRESHOLD * 2), \
   -INFINITY}
#define MBRL_CARTPOLE_OBS_HIGH                                                                   \
  {(float)(MBRL_CARTPOLE_X_THRESHOLD * 2), INFINITY, (float)(MBRL_CARTPOLE_THETA_THRESHOLD * 2), \
   INFINITY}
#define MBRL_CARTPOLE_OBS_NAMES {"x", "x_dot", "theta", "theta_dot"}
#define MBRL_CARTPOLE_SHAPED_COST_DOC                                                     \
  "-1 + ((x'/2.4)^2 + (theta'/(12 deg))^2) / 2 on the next observation: every surviving " \
  "step still earns (cost <= 0 inside the allowed region), a centred upright pole the most"

/* ---------------------------------------------------------------- constants */
#define MBRL_CARTPOLE_GRAVITY 9.8
#define MBRL_CARTPOLE_MASSCART 1.0
#define MBRL_CARTPOLE_MASSPOLE 0.1
#define MBRL_CARTPOLE_TOTAL_MASS (MBRL_CARTPOLE_MASSPOLE + MBRL_CARTPOLE_MASSCART)
#define MBRL_CARTPOLE_LENGTH 0.5 /* half the pole's length */
#define MBRL_CARTPOLE_POLEMASS_LENGTH (MBRL_CARTPOLE_MASSPOLE * MBRL_CARTPOLE_LENGTH)
#define MBRL_CARTPOLE_FORCE_MAG 10.0
#define MBRL_CARTPOLE_TAU 0.02
#define MBRL_CARTPOLE_X_THRESHOLD 2.4
#define MBRL_CARTPOLE_THETA_THRESHOLD (12 * 2 * 3.14159265358979323846 / 360)

/* One explicit-Euler step of s (4) in place; action 1 pushes right, anything else left. */
MBRL_HD static inline void mbrl_cartpole_step(double *s, int action) {
  const double tm = MBRL_CARTPOLE_TOTAL_MASS, pml = MBRL_CARTPOLE_POLEMASS_LENGTH;
  const double tau = MBRL_CARTPOLE_TAU;
  double x = s[0], x_dot = s[1], theta = s[2], theta_dot = s[3];
  double force = action == 1 ? MBRL_CARTPOLE_FORCE_MAG : -MBRL_CARTPOLE_FORCE_MAG;
  double costheta = cos(theta), sintheta = sin(theta);
  double temp = (force + pml * (theta_dot * theta_dot) * sintheta) / tm;
  double thetaacc = (MBRL_CARTPOLE_GRAVITY * sintheta - costheta * temp) /
                    (MBRL_CARTPOLE_LENGTH *
                     (4.0 / 3.0 - MBRL_CARTPOLE_MASSPOLE * (costheta * costheta) / tm));
  double xacc = temp - pml * thetaacc * costheta / tm;
  s[0] = x + tau * x_dot;
  s[1] = x_dot + tau * xacc;
  s[2] = theta + tau * theta_dot;
  s[3] = theta_dot + tau * thetaacc;
}

/* 1 when the state is outside the allowed region (|x| > 2.4 or |theta| > 12 deg), else 0. */
MBRL_HD static inline int mbrl_cartpole_terminated(const double *s) {
  return s[0] < -MBRL_CARTPOLE_X_THRESHOLD || s[0] > MBRL_CARTPOLE_X_THRESHOLD ||
         s[2] < -MBRL_CARTPOLE_THETA_THRESHOLD || s[2] > MBRL_CARTPOLE_THETA_THRESHOLD;
}

/* Observation of s: obs (4) = float32 [x, x_dot, theta, theta_dot]. */
MBRL_HD static inline void mbrl_cartpole_obs(const double *s, float *obs) {
  obs[0] = (float)s[0];
  obs[1] = (float)s[1];
  obs[2] = (float)s[2];
  obs[3] = (float)s[3];
}

/* ---------------------------------------------------------------- the env interface */

/* Gymnasium's reset: s (4) uniform in [-0.05, 0.05) (4 draws), obs (4). Host. */
static inline void mbrl_cartpole_reset_state(mbrl_nprandom_pcg64 *rng, double *s, float *obs) {
  for (int k = 0; k < 4; ++k) s[k] = mbrl_nprandom_pcg64_uniform(rng, -0.05, 0.05);
  mbrl_cartpole_obs(s, obs);
}

/* Gymnasium's step of s with the action index of a[0]: *terminated from the new state;
 * returns 1, or 0 when this step and an earlier one since the reset (past_terminal) both
 * terminated. */
MBRL_HD static inline double mbrl_cartpole_step_state(double *s, const float *a, int past_terminal,
                                                      int *terminated) {
  mbrl_cartpole_step(s, mbrl_env_action_index(a[0], MBRL_CARTPOLE_N_ACTIONS));
  const int term = mbrl_cartpole_terminated(s);
  *terminated = term;
  return term && past_terminal ? 0.0 : 1.0;
}

/* obs (4) of s. */
MBRL_HD static inline void mbrl_cartpole_obs_from_state(const double *s, float *obs) {
  mbrl_cartpole_obs(s, obs);
}

/* Reward of a transition: 1 (the terminating step earns it too; what comes after a
 * terminal state is the caller's business). */
MBRL_HD static inline float mbrl_cartpole_reward_obs(const float *obs, const float *a,
                                                     const float *next_obs) {
  (void)obs;
  (void)a;
  (void)next_obs;
  return 1.0f;
}

/* Terminated: |x'| > 2.4 or |theta'| > 12 deg, compared in float. */
MBRL_HD static inline int mbrl_cartpole_terminal_obs(const float *next_obs) {
  const float xt = (float)MBRL_CARTPOLE_X_THRESHOLD, tt = (float)MBRL_CARTPOLE_THETA_THRESHOLD;
  return next_obs[0] < -xt || next_obs[0] > xt || next_obs[2] < -tt || next_obs[2] > tt;
}

/* Projection of a predicted observation: none (every value is free). */
MBRL_HD static inline void mbrl_cartpole_project_obs(float *obs) { (void)obs; }

/* True dynamics on observations in float (the same explicit Euler step). */
MBRL_HD static inline void mbrl_cartpole_oracle_step(const float *obs, const float *a,
                                                     float *next_obs) {
  const float tm = (float)MBRL_CARTPOLE_TOTAL_MASS, pml = (float)MBRL_CARTPOLE_POLEMASS_LENGTH;
  const float tau = (float)MBRL_CARTPOLE_TAU, g = (float)MBRL_CARTPOLE_GRAVITY;
  const float len = (float)MBRL_CARTPOLE_LENGTH, mp = (float)MBRL_CARTPOLE_MASSPOLE;
  const float x = obs[0], x_dot = obs[1], theta = obs[2], theta_dot = obs[3];
  const float fm = (float)MBRL_CARTPOLE_FORCE_MAG;
  const float force = mbrl_env_action_index(a[0], MBRL_CARTPOLE_N_ACTIONS) == 1 ? fm : -fm;
  const float c = cosf(theta), s = sinf(theta);
  const float temp = (force + pml * (theta_dot * theta_dot) * s) / tm;
  const float thetaacc = (g * s - c * temp) / (len * (4.0f / 3.0f - mp * (c * c) / tm));
  const float xacc = temp - pml * thetaacc * c / tm;
  next_obs[0] = x + tau * x_dot;
  next_obs[1] = x_dot + tau * xacc;
  next_obs[2] = theta + tau * theta_dot;
  next_obs[3] = theta_dot + tau * thetaacc;
}

/* Planning cost (MBRL_CARTPOLE_SHAPED_COST_DOC): -1 + ((x'/2.4)^2 + (theta'/thr)^2) / 2.
 * Oracle random shooting (K 1024, H 15, costs summed up to the first predicted terminal):
 * 500 on reset seeds 0..9; with -reward alone 284 (seeds 0..2: the cart drifts off). */
MBRL_HD static inline float mbrl_cartpole_shaped_cost(const float *obs, const float *a,
                                                      const float *next_obs) {
  (void)obs;
  (void)a;
  const float xn = next_obs[0] / (float)MBRL_CARTPOLE_X_THRESHOLD;
  const float tn = next_obs[2] / (float)MBRL_CARTPOLE_THETA_THRESHOLD;
  return -1.0f + 0.5f * (xn * xn + tn * tn);
}

#endif
