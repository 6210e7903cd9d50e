/* mbrl/envs/common.h - helpers the environment headers share (host+device inline).
 *
 * Every environment is one header in this folder (see mbrl/envs/registry.h for the
 * interface each one provides and the list that registers them). This file holds what
 * several of them need: pi, numpy's clip, the unit (cos, sin) pair, the discrete action index of a float action, and
 * numpy's own float32 sin/cos (which is not libm's). */
#ifndef MBRL_ENVS_COMMON_H
#define MBRL_ENVS_COMMON_H

#include <math.h>

#include "mbrl/common.h"

#define MBRL_PI 3.14159265358979323846 /* numpy.pi == math.pi */

/* np.clip(x, lo, hi) on a float64 scalar: lo if x < lo, hi if x > hi, else x (NaN passes). */
MBRL_HD static inline double mbrl_env_clip(double x, double lo, double hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

/* The same in float (np.clip of a float32 array with Python-float bounds stays float32). */
MBRL_HD static inline float mbrl_env_clipf(float x, float lo, float hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

/* (c, s) scaled to unit length, in place: the nearest point on the unit circle to a predicted
 * (cos, sin) pair. A zero pair, or one holding NaN or Inf, is left as it is. */
MBRL_HD static inline void mbrl_env_unit_pair(float *c, float *s) {
  const float n = sqrtf(*c * *c + *s * *s);
  if (n > 0.0f && n < INFINITY) {
    *c = *c / n;
    *s = *s / n;
  }
}

/* The action index k in [0, n) a float action value stands for: the number of thresholds
 * j - 0.5 (j = 1..n-1) that `a` exceeds. So 0.0, 1.0, 2.0 -> 0, 1, 2; 0.5 -> 0 (as
 * CartPole's `action[0] > 0.5` always meant); below 0 -> 0, above n-1 -> n-1; NaN -> 0. */
MBRL_HD static inline int mbrl_env_action_index(float a, int n) {
  int k = 0;
  for (int j = 1; j < n; ++j)
    if (a > (float)j - 0.5f) k = j;
  return k;
}

/* numpy's float32 sin (want_cos = 0) or cos (want_cos = 1) of x, bit for bit as numpy >= 1.22
 * computes np.sin/np.cos on a float32 value on a CPU with FMA3 (numpy's
 * loops_trigonometric.dispatch: Cody-Waite reduction by pi/2 with three fused
 * multiply-adds, a degree-8 cosine / degree-9 sine polynomial in fused multiply-adds, the
 * quadrant picks and signs the result; |x| above 71476.0625 (cos) / 117435.992 (sin) goes
 * to libm, as numpy does). This is NOT the correctly rounded result: it differs from
 * (float)cos((double)x) in the last bit for about 0.1% of small arguments. Checked equal to
 * numpy 1.24's np.cos/np.sin on float32 for |x| < 4096 (600,000 arguments; a few larger
 * ones differ); Acrobot needs |x| <= 0.1. On CPUs without FMA3 numpy calls libm's
 * cosf/sinf instead. Used where Gymnasium takes cos/sin of a float32 state (Acrobot's reset
 * observation). Host use: nvcc would contract x * 2/pi + magic on the device. */
MBRL_HD static inline float mbrl_np_sincosf(float x, int want_cos) {
  if (x != x) return x;
  const float max_cody = want_cos ? 71476.0625f : 117435.992f;
  if (!(fabsf(x) <= max_cody)) return want_cos ? cosf(x) : sinf(x);
  const float two_over_pi = 0x1.45f306p-1f, magic = 0x1.8p+23f;
  float q = x * two_over_pi;
  q = q + magic; /* round to nearest integer */
  q = q - magic;
  float r = fmaf(q, -0x1.921fb0p+00f, x); /* Cody-Waite: x - q pi/2 in three parts */
  r = fmaf(q, -0x1.5110b4p-22f, r);
  r = fmaf(q, -0x1.846988p-48f, r);
  const float r2 = r * r;
  float c = fmaf(0x1.98e616p-16f, r2, -0x1.6c06dcp-10f);
  c = fmaf(c, r2, 0x1.55553cp-05f);
  c = fmaf(c, r2, -0x1.000000p-01f);
  c = fmaf(c, r2, 0x1.000000p+00f);
  float s = fmaf(0x1.7d3bbcp-19f, r2, -0x1.a06bbap-13f);
  s = fmaf(s, r2, 0x1.11119ap-07f);
  s = fmaf(s, r2, -0x1.555556p-03f);
  s = fmaf(s, r2, 0.0f);
  s = fmaf(s, r, r);
  const int iq = (int)q + (want_cos ? 1 : 0);
  float v = (iq & 1) == 0 ? s : c;
  if (iq & 2) v = 0.0f - v;
  return v;
}

#endif
