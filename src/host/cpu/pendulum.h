/* src/host/cpu/pendulum.h - kernel source (compiled once per ISA, see host/simd.h): Pendulum-v1's
 * reward and true step on a block of rows, the vector twins of mbrl_pendulum_reward_obs_f and
 * mbrl_planner_oracle_step. This is the planner's only environment-specific code on the CPU
 * (cpu/plan.c calls it); an env-generic planner gives every env such a pair over the same
 * feature-major block layout (S (obs, BR), U (act, BR), BR = MBRL_PLAN_BR rows).
 *
 * Same float formulas as the scalar functions (separate multiply and add: vf_mul_add; clips
 * that let NaN through as the scalar ternaries do); atan2, sin and cos from host/vmath.h
 * (<= 2.6 ulp), so results agree with the scalar libm path to a few ulp. */

/* u < -hi ? -hi : (u > hi ? hi : u), NaN passes through (mbrl_pendulum_clip_torque) */
SIMD_INLINE vf pendulum_clip(vf u, float hi) {
  return vf_select(vf_lt(u, vf_set1(-hi)), vf_set1(-hi),
                   vf_select(vf_gt(u, vf_set1(hi)), vf_set1(hi), u));
}

/* mbrl_pendulum_reward_f(th, thdot, u) for th in [-pi, pi] (an atan2): angle_normalize as the
 * floored fmod does on that range, then -(an^2 + .1 thdot^2 + .001 uc^2). */
SIMD_INLINE vf pendulum_reward(vf th, vf thdot, vf u) {
  const vf pi = vf_set1((float)MBRL_PI), two_pi = vf_set1((float)(2.0 * MBRL_PI));
  const vf uc = pendulum_clip(u, (float)MBRL_PENDULUM_MAX_TORQUE);
  vf m = vf_add(th, pi);
  m = vf_select(vf_ge(m, two_pi), vf_sub(m, two_pi), m);
  m = vf_select(vf_lt(m, vf_zero()), vf_add(m, two_pi), m);
  const vf an = vf_sub(m, pi);
  vf c = vf_add(vf_mul(an, an), vf_mul(vf_set1(0.1f), vf_mul(thdot, thdot)));
  c = vf_add(c, vf_mul(vf_set1(0.001f), vf_mul(uc, uc)));
  return vf_neg(c);
}

/* cost[r] -= g * reward(obs_r, u_r) over the block: S (3, BR), U (BR). */
static void pendulum_reward_block(const float *S, const float *U, float *cost, float g) {
  const vf gv = vf_set1(g);
  for (int v = 0; v < MBRL_PLAN_BR; v += VW) {
    const vf c = vf_load(S + v), s = vf_load(S + MBRL_PLAN_BR + v);
    const vf td = vf_load(S + 2 * MBRL_PLAN_BR + v), u = vf_load(U + v);
    const vf r = pendulum_reward(v_atan2(s, c), td, u);
    vf_store(cost + v, vf_sub(vf_load(cost + v), vf_mul(gv, r)));
  }
}

/* The oracle step (mbrl_planner_oracle_step) and its reward over the block, in place on
 * S (3, BR). score_next: the reward on the new observation, else on the old one. */
static void pendulum_oracle_block(float *S, const float *U, float *cost, float g, int score_next) {
  const int BR = MBRL_PLAN_BR;
  const vf gv = vf_set1(g);
  const vf dt = vf_set1((float)MBRL_PENDULUM_DT);
  const vf k_sin = vf_set1((float)(3.0 * MBRL_PENDULUM_G / (2.0 * MBRL_PENDULUM_L)));
  const vf k_u = vf_set1((float)(3.0 / (MBRL_PENDULUM_M * MBRL_PENDULUM_L * MBRL_PENDULUM_L)));
  for (int v = 0; v < BR; v += VW) {
    const vf c = vf_load(S + v), s = vf_load(S + BR + v);
    const vf thdot = vf_load(S + 2 * BR + v), u = vf_load(U + v);
    const vf th = v_atan2(s, c);
    const vf uc = pendulum_clip(u, (float)MBRL_PENDULUM_MAX_TORQUE);
    vf sn, cs;
    v_sincos(th, &sn, &cs);
    vf nd = vf_add(thdot, vf_mul(vf_add(vf_mul(k_sin, sn), vf_mul(k_u, uc)), dt));
    nd = pendulum_clip(nd, (float)MBRL_PENDULUM_MAX_SPEED);
    const vf nth = vf_add(th, vf_mul(nd, dt));
    v_sincos(nth, &sn, &cs);
    const vf r = score_next ? pendulum_reward(v_atan2(sn, cs), nd, u)
                            : pendulum_reward(th, thdot, u);
    vf_store(cost + v, vf_sub(vf_load(cost + v), vf_mul(gv, r)));
    vf_store(S + v, cs);
    vf_store(S + BR + v, sn);
    vf_store(S + 2 * BR + v, nd);
  }
}
