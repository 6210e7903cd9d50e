/* src/host/cpu/vmath_eval.c - kernel source (compiled per ISA, see host/simd.h): the vector
 * math of host/vmath.h applied over arrays, for its tests and benchmarks. */

/* out[i] = f(a[i]) or f(a[i], b[i]) (atan2: y = a, x = b); n any (the tail is masked). */
static void SIMD_SYM(vmath_eval)(mbrl_vmath_fn fn, float *out, const float *a, const float *b,
                                size_t n) {
  for (size_t i = 0; i < n; i += VW) {
    const int m = n - i < (size_t)VW ? (int)(n - i) : VW;
    const vf x = vf_load_n(a + i, m);
    vf y;
    switch (fn) {
      case MBRL_VMATH_EXP: y = v_exp(x); break;
      case MBRL_VMATH_LOG: y = v_log(x); break;
      case MBRL_VMATH_TANH: y = v_tanh(x); break;
      case MBRL_VMATH_SIN: y = v_sin(x); break;
      case MBRL_VMATH_COS: y = v_cos(x); break;
      case MBRL_VMATH_ATAN2: y = v_atan2(x, vf_load_n(b + i, m)); break;
      default: y = x; break;
    }
    vf_store_n(out + i, y, m);
  }
}
