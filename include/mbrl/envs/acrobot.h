/* mbrl/envs/acrobot.h - Gymnasium Acrobot-v1, one environment header (host+device inline).
 *
 * Transcribed from gymnasium/envs/classic_control/acrobot.py (Gymnasium 1.4.0), the default
 * book_or_nips = "book" dynamics, torque_noise_max = 0, dt = 0.2:
 *   state s = [theta1, theta2, dtheta1, dtheta2] (double); action k in {0, 1, 2} applies
 *   torque -1, 0, +1 on the joint between the links;
 *   s' = rk4(_dsdt, [s, torque], [0, dt]): one classical Runge-Kutta step of Gymnasium's rk4
 *   (k1..k4 at y0, y0 + dt/2 k1, y0 + dt/2 k2, y0 + dt k3; y0 + dt/6 (k1 + 2k2 + 2k3 + k4));
 *   theta1', theta2' wrapped into [-pi, pi] (Gymnasium's wrap: subtract / add 2pi while
 *   outside); dtheta1' bounded to +-4pi, dtheta2' to +-9pi;
 *   terminated = -cos(theta1') - cos(theta2' + theta1') > 1 (the tip above the line);
 *   reward = 0 if terminated else -1;  TimeLimit 500.
 *   obs = float32 [cos t1, sin t1, cos t2, sin t2, dt1, dt2].
 *   reset: np_random.uniform(-0.1, 0.1, size=(4,)).astype(np.float32) (4 draws): the state
 *   is float32-rounded, and the reset observation takes numpy's float32 cos/sin of it
 *   (mbrl_np_sincosf); the first step promotes the state to float64.
 * The interface every env header provides is described in mbrl/envs/registry.h. */
#ifndef MBRL_ENVS_ACROBOT_H
#define MBRL_ENVS_ACROBOT_H

#include <math.h>

#include "mbrl/common.h"
#include "mbrl/envs/common.h"
#include "mbrl/nprandom.h"

/* ---------------------------------------------------------------- spec */
#define MBRL_ACROBOT_ID "Acrobot-v1"
#define MBRL_ACROBOT_OBS_DIM 6
#define MBRL_ACROBOT_ACT_DIM 1
#define MBRL_ACROBOT_STATE_DIM 4 /* theta1, theta2, dtheta1, dtheta2 */
#define MBRL_ACROBOT_N_ACTIONS 3
#define MBRL_ACROBOT_MAX_STEPS 500
#define MBRL_ACROBOT_RESET_DRAWS 4
#define MBRL_ACROBOT_ACT_LOW {0.0f}
#define MBRL_ACROBOT_ACT_HIGH {2.0f}
#define MBRL_ACROBOT_OBS_LOW \
  {-1.0f, -1.0f, -1.0f, -1.0f, (float)(-4 * MBRL_PI), (float)(-9 * MBRL_PI)}
#define MBRL_ACROBOT_OBS_HIGH {1.0f, 1.0f, 1.0f, 1.0f, (float)(4 * MBRL_PI), (float)(9 * MBRL_PI)}
#define MBRL_ACROBOT_OBS_NAMES \
  {"cos_theta1", "sin_theta1", "cos_theta2", "sin_theta2", "dtheta1", "dtheta2"}
#define MBRL_ACROBOT_SHAPED_COST_DOC                                                             \
  "-reward - (E' - E): potential-based shaping by the mechanical energy of the two links, "   \
  "E = (T + V) / 19.6 with T = q'M(t2)q'/2 (Gymnasium's inertia matrix) and V = -14.7 cos t1 " \
  "- 4.9 cos(t1 + t2) (-1 hanging at rest, +1 upright at rest); summed over a horizon it is " \
  "the steps taken minus the energy gained"

/* ---------------------------------------------------------------- constants */
#define MBRL_ACROBOT_DT 0.2
#define MBRL_ACROBOT_MAX_VEL_1 (4 * MBRL_PI)
#define MBRL_ACROBOT_MAX_VEL_2 (9 * MBRL_PI)

/* Gymnasium's _dsdt (book dynamics) at s (4) with torque a: d (4) = ds/dt. Written in
 * Python's order of operations; T is double (the env) or float (the oracle). */
#define MBRL_ACROBOT_DSDT_BODY(T, COS, SIN)                                                 \
  const T m1 = 1, m2 = 1, l1 = 1, lc1 = (T)0.5, lc2 = (T)0.5, I1 = 1, I2 = 1, g = (T)9.8; \
  const T pi = (T)MBRL_PI;                                                                \
  const T theta1 = s[0], theta2 = s[1], dtheta1 = s[2], dtheta2 = s[3];                   \
  const T d1 = m1 * (lc1 * lc1) + m2 * (l1 * l1 + lc2 * lc2 + 2 * l1 * lc2 * COS(theta2)) + \
               I1 + I2;                                                                   \
  const T d2 = m2 * (lc2 * lc2 + l1 * lc2 * COS(theta2)) + I2;                            \
  const T phi2 = m2 * lc2 * g * COS(theta1 + theta2 - pi / (T)2.0);                       \
  const T phi1 = -m2 * l1 * lc2 * (dtheta2 * dtheta2) * SIN(theta2) -                     \
                 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * SIN(theta2) +                    \
                 (m1 * lc1 + m2 * l1) * g * COS(theta1 - pi / 2) + phi2;                  \
  const T ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * SIN(theta2) - \
                      phi2) /                                                             \
                     (m2 * (lc2 * lc2) + I2 - (d2 * d2) / d1);                            \
  const T ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;                                        \
  d[0] = dtheta1;                                                                         \
  d[1] = dtheta2;                                                                         \
  d[2] = ddtheta1;                                                                        \
  d[3] = ddtheta2;

MBRL_HD static inline void mbrl_acrobot_dsdt(const double *s, double a, double *d) {
  MBRL_ACROBOT_DSDT_BODY(double, cos, sin)
}

MBRL_HD static inline void mbrl_acrobot_dsdt_f(const float *s, float a, float *d) {
  MBRL_ACROBOT_DSDT_BODY(float, cosf, sinf)
}

/* Gymnasium's wrap(x, -pi, pi): x - 2pi while x > pi, x + 2pi while x < -pi. */
#define MBRL_ACROBOT_WRAP(T, x)                   \
  do {                                            \
    const T pi_ = (T)MBRL_PI, diff_ = pi_ - -pi_; \
    while ((x) > pi_) (x) = (x) - diff_;          \
    while ((x) < -pi_) (x) = (x) + diff_;         \
  } while (0)

/* Gymnasium's bound(x, -m, m) = min(max(x, -m), m) with Python's min/max. */
#define MBRL_ACROBOT_BOUND(x, m)      \
  do {                                \
    if (-(m) > (x)) (x) = -(m);       \
    if ((m) < (x)) (x) = (m);         \
  } while (0)

/* One rk4 step + wrap + bound of s (4) with torque a; T double or float. */
#define MBRL_ACROBOT_RK4_BODY(T, DSDT)                                                     \
  const T dt = (T)MBRL_ACROBOT_DT, dt2 = dt / (T)2.0;                                      \
  T k1[4], k2[4], k3[4], k4[4], y[4];                                                      \
  DSDT(s, a, k1);                                                                          \
  for (int i = 0; i < 4; ++i) y[i] = s[i] + dt2 * k1[i];                                   \
  DSDT(y, a, k2);                                                                          \
  for (int i = 0; i < 4; ++i) y[i] = s[i] + dt2 * k2[i];                                   \
  DSDT(y, a, k3);                                                                          \
  for (int i = 0; i < 4; ++i) y[i] = s[i] + dt * k3[i];                                    \
  DSDT(y, a, k4);                                                                          \
  for (int i = 0; i < 4; ++i) s[i] = s[i] + dt / (T)6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]); \
  MBRL_ACROBOT_WRAP(T, s[0]);                                                              \
  MBRL_ACROBOT_WRAP(T, s[1]);                                                              \
  MBRL_ACROBOT_BOUND(s[2], (T)MBRL_ACROBOT_MAX_VEL_1);                                     \
  MBRL_ACROBOT_BOUND(s[3], (T)MBRL_ACROBOT_MAX_VEL_2);

/* One Gymnasium step of the state s (4) in place with torque a (double). */
MBRL_HD static inline void mbrl_acrobot_rk4(double *s, double a) {
  MBRL_ACROBOT_RK4_BODY(double, mbrl_acrobot_dsdt)
}

/* The same in float. */
MBRL_HD static inline void mbrl_acrobot_rk4_f(float *s, float a) {
  MBRL_ACROBOT_RK4_BODY(float, mbrl_acrobot_dsdt_f)
}

/* Torque of action index k: AVAIL_TORQUE = [-1, 0, +1]. */
MBRL_HD static inline int mbrl_acrobot_torque(const float *a) {
  return mbrl_env_action_index(a[0], MBRL_ACROBOT_N_ACTIONS) - 1;
}

/* Height of the tip above the pivot in link lengths, from observation values:
 * -cos t1 - cos(t1 + t2) = -c1 - (c1 c2 - s1 s2), in [-2, 2]. */
MBRL_HD static inline float mbrl_acrobot_tip_height(const float *obs) {
  return -obs[0] - (obs[0] * obs[2] - obs[1] * obs[3]);
}

/* The links' mechanical energy from observation values, normalized by the potential of the
 * upright pose: E = (T + V) / 19.6, T = [dt1 dt2] M [dt1 dt2]' / 2 with Gymnasium's inertia
 * matrix M = [[d1, d2], [d2, m2 lc2^2 + I2]] (d1 = 3.5 + cos t2, d2 = 1.25 + cos t2 / 2),
 * V = -(m1 lc1 + m2 l1) g cos t1 - m2 lc2 g cos(t1 + t2) = -14.7 c1 - 4.9 cos(t1 + t2).
 * -1 hanging at rest, +1 upright at rest. */
MBRL_HD static inline float mbrl_acrobot_energy(const float *obs) {
  const float c1 = obs[0], s1 = obs[1], c2 = obs[2], s2 = obs[3], dt1 = obs[4], dt2 = obs[5];
  const float d1 = 3.5f + c2, d2 = 1.25f + 0.5f * c2, d22 = 1.25f;
  const float T = 0.5f * (d1 * dt1 * dt1 + 2.0f * d2 * dt1 * dt2 + d22 * dt2 * dt2);
  const float V = -14.7f * c1 - 4.9f * (c1 * c2 - s1 * s2);
  return (T + V) / 19.6f;
}

/* ---------------------------------------------------------------- the env interface */

/* Gymnasium's reset: s (4) = float32(uniform(-0.1, 0.1)) (4 draws); obs (6) with numpy's
 * float32 cos/sin of the float32 angles. Host. */
static inline void mbrl_acrobot_reset_state(mbrl_nprandom_pcg64 *rng, double *s, float *obs) {
  for (int k = 0; k < 4; ++k) s[k] = (double)(float)mbrl_nprandom_pcg64_uniform(rng, -0.1, 0.1);
  obs[0] = mbrl_np_sincosf((float)s[0], 1);
  obs[1] = mbrl_np_sincosf((float)s[0], 0);
  obs[2] = mbrl_np_sincosf((float)s[1], 1);
  obs[3] = mbrl_np_sincosf((float)s[1], 0);
  obs[4] = (float)s[2];
  obs[5] = (float)s[3];
}

/* Gymnasium's step of s with the action index of a[0]; returns 0 if terminated, else -1. */
MBRL_HD static inline double mbrl_acrobot_step_state(double *s, const float *a, int past_terminal,
                                                     int *terminated) {
  (void)past_terminal;
  mbrl_acrobot_rk4(s, (double)mbrl_acrobot_torque(a));
  const int term = -cos(s[0]) - cos(s[1] + s[0]) > 1.0;
  *terminated = term;
  return term ? 0.0 : -1.0;
}

/* obs (6) = float32 [cos t1, sin t1, cos t2, sin t2, dt1, dt2] of s. */
MBRL_HD static inline void mbrl_acrobot_obs_from_state(const double *s, float *obs) {
  obs[0] = (float)cos(s[0]);
  obs[1] = (float)sin(s[0]);
  obs[2] = (float)cos(s[1]);
  obs[3] = (float)sin(s[1]);
  obs[4] = (float)s[2];
  obs[5] = (float)s[3];
}

/* Terminated: the tip height of next_obs above 1 (float). */
MBRL_HD static inline int mbrl_acrobot_terminal_obs(const float *next_obs) {
  return mbrl_acrobot_tip_height(next_obs) > 1.0f;
}

/* The observation the env can emit nearest to a predicted one: both (cos, sin) pairs scaled
 * to unit length; the angular velocities as they are. */
MBRL_HD static inline void mbrl_acrobot_project_obs(float *obs) {
  mbrl_env_unit_pair(&obs[0], &obs[1]);
  mbrl_env_unit_pair(&obs[2], &obs[3]);
}

/* Reward of a transition: 0 if next_obs is terminal, else -1. */
MBRL_HD static inline float mbrl_acrobot_reward_obs(const float *obs, const float *a,
                                                    const float *next_obs) {
  (void)obs;
  (void)a;
  return mbrl_acrobot_terminal_obs(next_obs) ? 0.0f : -1.0f;
}

/* True dynamics on observations in float: angles from atan2, the same rk4 step in float,
 * next = the observation of the new state. */
MBRL_HD static inline void mbrl_acrobot_oracle_step(const float *obs, const float *a,
                                                    float *next_obs) {
  float s[4] = {atan2f(obs[1], obs[0]), atan2f(obs[3], obs[2]), obs[4], obs[5]};
  mbrl_acrobot_rk4_f(s, (float)mbrl_acrobot_torque(a));
  next_obs[0] = cosf(s[0]);
  next_obs[1] = sinf(s[0]);
  next_obs[2] = cosf(s[1]);
  next_obs[3] = sinf(s[1]);
  next_obs[4] = s[2];
  next_obs[5] = s[3];
}

/* Planning cost (MBRL_ACROBOT_SHAPED_COST_DOC): -reward - (E(next_obs) - E(obs)). Oracle
 * random shooting (K 1024, H 15, a sequence's costs summed up to its first predicted
 * terminal; reset seeds 0..9) returned -85.8 with it; with the tip height as the potential
 * -161 (seeds 0..2), with the reward alone -500 (never reaching the line). */
MBRL_HD static inline float mbrl_acrobot_shaped_cost(const float *obs, const float *a,
                                                     const float *next_obs) {
  const float de = mbrl_acrobot_energy(next_obs) - mbrl_acrobot_energy(obs);
  return -mbrl_acrobot_reward_obs(obs, a, next_obs) - de;
}

#endif
