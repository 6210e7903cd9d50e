/* mbrl/cartpole.h - Gymnasium CartPole-v1 physics, host+device inline.
 *
 * Transcribed from Farama-Foundation/Gymnasium gymnasium/envs/classic_control/cartpole.py
 * (kinematics_integrator = "euler", the default): state s = [x, x_dot, theta, theta_dot]
 * in double; force = +10 for action 1, -10 for action 0; explicit Euler with tau 0.02
 * (positions advance with the OLD velocities); terminated when |x| > 2.4 or
 * |theta| > 12 * 2 * pi / 360 (strict). Reward and steps_beyond_terminated live in env.c. */
#ifndef MBRL_CARTPOLE_H
#define MBRL_CARTPOLE_H

#include <math.h>

#include "mbrl/common.h"

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
#define MBRL_CARTPOLE_MAX_STEPS 500
#define MBRL_CARTPOLE_OBS_DIM 4

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

#endif
