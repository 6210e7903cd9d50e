/* src/host/cpu/a2c.c - kernel source (compiled once per ISA, see host/simd.h): A2C's row-wise
 * softmax (mbrl_a2c_softmax) with host/vmath.h's v_exp / v_log, VW rows at a time. */

/* Per row n: mx = max_a z[a]; s = sum_a exp(z[a] - mx) (a in order); lse = log(s);
 * logp[a] = z[a] - mx - lse; probs[a] = exp(logp[a]). Each lane is one row, so a row's result
 * does not depend on N or on its position. A > 256: the scalar loop with libm. */
static void SIMD_SYM(softmax)(float *probs, float *logp, const float *logits, int N, int A) {
  enum { AMAX = 256 };
  if (A > AMAX) {
    for (int n = 0; n < N; ++n) {
      const float *z = logits + (size_t)n * A;
      float mx = z[0];
      for (int a = 1; a < A; ++a) mx = z[a] > mx ? z[a] : mx;
      float s = 0.0f;
      for (int a = 0; a < A; ++a) s += expf(z[a] - mx);
      const float lse = logf(s);
      for (int a = 0; a < A; ++a) {
        const float lp = z[a] - mx - lse;
        if (logp) logp[(size_t)n * A + a] = lp;
        if (probs) probs[(size_t)n * A + a] = expf(lp);
      }
    }
    return;
  }
  float col[AMAX * VW]; /* column a of the VW rows at col[a * VW] */
  for (int n0 = 0; n0 < N; n0 += VW) {
    const int rows = N - n0 < VW ? N - n0 : VW;
    const float *z = logits + (size_t)n0 * A;
    for (int r = 0; r < VW; ++r)
      for (int a = 0; a < A; ++a) col[a * VW + r] = r < rows ? z[(size_t)r * A + a] : 0.0f;
    vf mx = vf_load(col);
    for (int a = 1; a < A; ++a) {
      const vf v = vf_load(col + a * VW);
      mx = vf_select(vf_gt(v, mx), v, mx); /* z[a] > mx ? z[a] : mx */
    }
    vf s = vf_zero();
    for (int a = 0; a < A; ++a) s = vf_add(s, v_exp(vf_sub(vf_load(col + a * VW), mx)));
    const vf lse = v_log(s);
    for (int a = 0; a < A; ++a) {
      const vf lp = vf_sub(vf_sub(vf_load(col + a * VW), mx), lse);
      vf_store(col + a * VW, lp);
    }
    for (int r = 0; r < rows; ++r)
      for (int a = 0; a < A; ++a)
        if (logp) logp[(size_t)(n0 + r) * A + a] = col[a * VW + r];
    if (probs) {
      for (int a = 0; a < A; ++a) vf_store(col + a * VW, v_exp(vf_load(col + a * VW)));
      for (int r = 0; r < rows; ++r)
        for (int a = 0; a < A; ++a) probs[(size_t)(n0 + r) * A + a] = col[a * VW + r];
    }
  }
}
