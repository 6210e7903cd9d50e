/* mbrl/pendulum.h - Gymnasium Pendulum-v1 physics and reward, host+device inline.
 *
 * Transcribed from Farama-Foundation/Gymnasium gymnasium/envs/classic_control/pendulum.py:
 *   u = clip(u, -2, 2)                       (u is float32, as Gymnasium's Box action)
 *   cost = angle_normalize(th)^2 + .1 thdot^2 + .001 u^2     (on the PRE-step state)
 *   newthdot = clip(thdot + (3g/(2l) sin th + 3/(m l^2) u) dt, -8, 8)
 *   newth = th + newthdot dt                 (uses the clipped speed)
 *   obs = float32 [cos th, sin th, thdot];  reward = -cost.
 * The state is double, as in Gymnasium. u^2 is rounded to float32 first (numpy squares
 * the float32 scalar), then the sums are double (numpy 1.x promotion of float32 scalars
 * with Python floats). The _f twins do everything in float, for the planner.
 * Each function is MBRL_HD: the CPU twin and the CUDA kernel run the same arithmetic. */
#ifndef MBRL_PENDULUM_H
#define MBRL_PENDULUM_H

#include <math.h>

#include "mbrl/common.h"
#include "mbrl/status.h"

#define MBRL_PI 3.14159265358979323846

#define MBRL_PENDULUM_MAX_SPEED 8.0
#define MBRL_PENDULUM_MAX_TORQUE 2.0
#define MBRL_PENDULUM_DT 0.05
#define MBRL_PENDULUM_G 10.0
#define MBRL_PENDULUM_M 1.0
#define MBRL_PENDULUM_L 1.0
#define MBRL_PENDULUM_MAX_STEPS 200
#define MBRL_PENDULUM_OBS_DIM 3
#define MBRL_PENDULUM_ACT_DIM 1

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

/* Reward of applying torque u in state (th, thdot): -(an(th)^2 + .1 thdot^2 + .001 u^2). */
MBRL_HD static inline double mbrl_pendulum_reward(double th, double thdot, float u) {
  float uc = mbrl_pendulum_clip_torque(u);
  float u2 = uc * uc; /* float32 square, as numpy does for the float32 scalar */
  double an = mbrl_pendulum_angle_normalize(th);
  double cost = an * an + 0.1 * (thdot * thdot) + 0.001 * (double)u2;
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

MBRL_EXTERN_C_BEGIN

/* Batched physics op (no time limit, no reset): for b < B, reward[b] = reward(th, thdot,
 * u[b]) on the pre-step state, then step (th[b], thdot[b]) in place and write obs[b].
 * th, thdot (B) double; u (B); obs (B, 3) or NULL; reward (B) or NULL. B >= 0. */
mbrl_status mbrl_pendulum_batch_step(int B, double *th, double *thdot, const float *u, float *obs,
                                     float *reward);

#ifdef MBRL_HAVE_CUDA
/* CUDA twin of mbrl_pendulum_batch_step: all pointers are device memory (cudaMalloc);
 * launched on `stream` (a cudaStream_t, NULL = default); checks the launch. */
mbrl_status mbrl_pendulum_batch_step_cuda(int B, double *th, double *thdot, const float *u,
                                          float *obs, float *reward, void *stream);
#endif

MBRL_EXTERN_C_END

#endif
