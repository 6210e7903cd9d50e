/* src/host/vmath.h - vectorized float transcendentals on the width abstraction (host/simd.h):
 * v_exp, v_log, v_tanh, v_atan2, v_sincos (and v_sin, v_cos). Include after host/simd.h in a
 * kernel translation unit; every kernel path compiles the same algorithm.
 *
 * Own functions (Cephes-style range reduction + minimax polynomials), not SLEEF: they inline
 * into the kernels (no call per vector), exist for the generic path on any architecture, and
 * bench_vmath measures them side by side with SLEEF where it is installed. Accuracy against
 * libm (double) over the whole float input range, measured by tests/test_vmath.cpp on every
 * kernel path (the test asserts the bound in brackets):
 *   v_exp    0.99 ulp [1.5]  (overflow to inf above 88.72, gradual underflow below -87.3)
 *   v_log    0.80 ulp [1.5]  (0 -> -inf, negative -> NaN, denormal inputs handled)
 *   v_tanh   1.28 ulp [1.5]  (tanh(-0) = -0, +-1 for large |x|)
 *   v_atan2  2.57 ulp [3]    (signed zeros and infinities as C's atan2f)
 *   v_sin    2.15 ulp [2.5], v_cos 2.39 ulp [2.5] for |x| <= 512; larger or non-finite lanes are
 *            computed by libm's sinf/cosf (a rare branch), so every input is covered.
 * NaN in gives NaN out for all of them. The avx512/avx2 paths use FMA in the polynomials, the
 * generic path a multiply and an add: the paths can differ in the last bit. */
#ifndef MBRL_SRC_HOST_VMATH_H
#define MBRL_SRC_HOST_VMATH_H

#ifndef VW
#error "include host/simd.h first"
#endif

/* exp(x) */
SIMD_INLINE vf v_exp(vf x) {
  const vf xc = vf_clamp(x, vf_set1(-104.0f), vf_set1(89.0f)); /* NaN -> -104, fixed below */
  /* n = round(x / ln2) (round-to-nearest-even via 1.5 * 2^23) */
  const vf magic = vf_set1(12582912.0f);
  const vf n = vf_sub(vf_fma(xc, vf_set1(1.44269504088896341f), magic), magic);
  /* r = x - n ln2 in two parts (n * 0.693359375 is exact) */
  vf r = vf_fnma(n, vf_set1(0.693359375f), xc);
  r = vf_fnma(n, vf_set1(-2.12194440e-4f), r);
  vf p = vf_set1(1.9875691500E-4f);
  p = vf_fma(p, r, vf_set1(1.3981999507E-3f));
  p = vf_fma(p, r, vf_set1(8.3334519073E-3f));
  p = vf_fma(p, r, vf_set1(4.1665795894E-2f));
  p = vf_fma(p, r, vf_set1(1.6666665459E-1f));
  p = vf_fma(p, r, vf_set1(5.0000001201E-1f));
  const vf y = vf_add(vf_fma(p, vf_mul(r, r), r), vf_set1(1.0f));
  /* y * 2^n as y * 2^n1 * 2^n2 (n in [-150, 129]: each factor a normal float) */
  const vi ni = vi_cvtt_vf(n);
  const vi n1 = vi_sra(ni, 1), n2 = vi_sub(ni, n1);
  const vf s1 = vi_as_vf(vi_sll(vi_add(n1, vi_set1(127)), 23));
  const vf s2 = vi_as_vf(vi_sll(vi_add(n2, vi_set1(127)), 23));
  const vf e = vf_mul(vf_mul(y, s1), s2);
  return vf_select(vf_isnan(x), x, e);
}

/* natural log(x) */
SIMD_INLINE vf v_log(vf x) {
  /* denormals: scale by 2^23 first */
  const vm den = vf_lt(x, vf_set1(1.17549435e-38f));
  const vf xs = vf_select(den, vf_mul(x, vf_set1(8388608.0f)), x);
  const vi bits = vf_as_vi(xs);
  vf e = vf_cvt_vi(vi_sub(vi_srl(bits, 23), vi_set1(126)));
  e = vf_select(den, vf_sub(e, vf_set1(23.0f)), e);
  /* mantissa in [0.5, 1) */
  vf m = vi_as_vf(vi_or(vi_and(bits, vi_set1(0x007fffff)), vi_set1(0x3f000000)));
  const vm small = vf_lt(m, vf_set1(0.707106781186547524f));
  e = vf_select(small, vf_sub(e, vf_set1(1.0f)), e);
  m = vf_sub(vf_select(small, vf_add(m, m), m), vf_set1(1.0f));
  const vf z = vf_mul(m, m);
  vf p = vf_set1(7.0376836292E-2f);
  p = vf_fma(p, m, vf_set1(-1.1514610310E-1f));
  p = vf_fma(p, m, vf_set1(1.1676998740E-1f));
  p = vf_fma(p, m, vf_set1(-1.2420140846E-1f));
  p = vf_fma(p, m, vf_set1(1.4249322787E-1f));
  p = vf_fma(p, m, vf_set1(-1.6668057665E-1f));
  p = vf_fma(p, m, vf_set1(2.0000714765E-1f));
  p = vf_fma(p, m, vf_set1(-2.4999993993E-1f));
  p = vf_fma(p, m, vf_set1(3.3333331174E-1f));
  vf y = vf_mul(vf_mul(p, m), z);
  y = vf_fma(e, vf_set1(-2.12194440e-4f), y);
  y = vf_fnma(vf_set1(0.5f), z, y);
  vf r = vf_add(m, y);
  r = vf_fma(e, vf_set1(0.693359375f), r);
  /* specials: x < 0 or NaN -> NaN, 0 -> -inf, +inf -> +inf */
  r = vf_select(vf_eq(x, vf_set1(INFINITY)), x, r);
  r = vf_select(vf_eq(x, vf_zero()), vf_set1(-INFINITY), r);
  r = vf_select(vm_or(vf_lt(x, vf_zero()), vf_isnan(x)), vf_set1(NAN), r);
  return r;
}

/* tanh(x) = sign(x) t(|x|): t(a) = a + a^3 P(a^2) for a < 0.625, else 1 - 2 / (exp(2a) + 1). */
SIMD_INLINE vf v_tanh(vf x) {
  const vf ax = vf_abs(x);
  const vf z = vf_mul(ax, ax);
  vf p = vf_set1(-5.70498872745E-3f);
  p = vf_fma(p, z, vf_set1(2.06390887954E-2f));
  p = vf_fma(p, z, vf_set1(-5.37397155531E-2f));
  p = vf_fma(p, z, vf_set1(1.33314422036E-1f));
  p = vf_fma(p, z, vf_set1(-3.33332819422E-1f));
  const vf small = vf_fma(vf_mul(p, z), ax, ax);
  const vf e = v_exp(vf_add(ax, ax));
  const vf big = vf_sub(vf_set1(1.0f), vf_div(vf_set1(2.0f), vf_add(e, vf_set1(1.0f))));
  return vf_or(vf_select(vf_lt(ax, vf_set1(0.625f)), small, big), vf_signbit(x));
}

/* atan2(y, x) in [-pi, pi]: the angle of the smaller over the larger of |x|, |y| (in [0, 1],
 * reduced once more by pi/4), then quadrant fixes with pi/2 and pi in two parts. */
SIMD_INLINE vf v_atan2(vf y, vf x) {
  const vf ax = vf_abs(x), ay = vf_abs(y);
  const vf mx = vf_max(ax, ay), mn = vf_min(ax, ay);
  const vf one = vf_set1(1.0f);
  /* a = mn / mx; both zero -> 0; both infinite -> 1 */
  vf a = vf_div(mn, vf_select(vf_eq(mx, vf_zero()), one, mx));
  a = vf_select(vm_andnot(vf_eq(mx, vf_zero()), vf_eq(ax, ay)), one, a);
  const vm big = vf_gt(a, vf_set1(0.4142135623730950f));
  a = vf_select(big, vf_div(vf_sub(a, one), vf_add(a, one)), a);
  const vf z = vf_mul(a, a);
  vf p = vf_set1(8.05374449538e-2f);
  p = vf_fma(p, z, vf_set1(-1.38776856032e-1f));
  p = vf_fma(p, z, vf_set1(1.99777106478e-1f));
  p = vf_fma(p, z, vf_set1(-3.33329491539e-1f));
  vf t = vf_fma(vf_mul(p, z), a, a);
  t = vf_add(vf_select(big, vf_set1(0.785398185253143310546875f), vf_zero()),
             vf_add(t, vf_select(big, vf_set1(-2.18556950009312e-8f), vf_zero())));
  /* |y| > |x|: pi/2 - t */
  const vm swap = vf_gt(ay, ax);
  t = vf_select(swap, vf_add(vf_sub(vf_set1(1.57079637050628662109375f), t),
                             vf_set1(-4.37113900018624283e-8f)), t);
  /* x negative (sign bit, so atan2(+0, -0) = pi): pi - t */
  const vm negx = vm_not(vi_eq(vf_as_vi(vf_signbit(x)), vi_zero()));
  t = vf_select(negx, vf_add(vf_sub(vf_set1(3.1415927410125732421875f), t),
                            vf_set1(-8.74227800037248566e-8f)), t);
  t = vf_select(vm_or(vf_isnan(x), vf_isnan(y)), vf_add(x, y), t); /* NaN in, NaN out */
  return vf_xor(t, vf_signbit(y));
}

/* sin and cos of |x| <= 512: octant j = nearest even integer to |x| / (pi/4), z = |x| - j pi/4
 * with pi/4 in four parts (three of 14 bits: j * part is exact and, when z is tiny, so is each
 * subtraction; the last part's product is rounded far below z's ulp), then Cephes' polynomials
 * on [-pi/4, pi/4]. FMA or not, this keeps results near the zeros of sin and cos to an ulp. */
SIMD_INLINE void v_sincos_reduced(vf x, vf *s_out, vf *c_out) {
  const vf ax = vf_min(vf_abs(x), vf_set1(512.0f)); /* callers send larger lanes to libm */
  vi j = vi_cvtt_vf(vf_mul(ax, vf_set1(1.27323954473516f)));
  j = vi_and(vi_add(j, vi_set1(1)), vi_set1(~1));
  const vf yj = vf_cvt_vi(j);
  vf z = vf_fnma(yj, vf_set1(0x1.9218p-1f), ax);
  z = vf_fnma(yj, vf_set1(0x1.ed5p-15f), z);
  z = vf_fnma(yj, vf_set1(0x1.10bp-31f), z);
  z = vf_fnma(yj, vf_set1(0x1.184698p-45f), z);
  const vf zz = vf_mul(z, z);
  vf sp = vf_set1(-1.9515295891e-4f);
  sp = vf_fma(sp, zz, vf_set1(8.3321608736e-3f));
  sp = vf_fma(sp, zz, vf_set1(-1.6666654611e-1f));
  sp = vf_fma(vf_mul(sp, zz), z, z);
  vf cp = vf_set1(2.443315711809948e-5f);
  cp = vf_fma(cp, zz, vf_set1(-1.388731625493765e-3f));
  cp = vf_fma(cp, zz, vf_set1(4.166664568298827e-2f));
  cp = vf_mul(vf_mul(cp, zz), zz);
  cp = vf_add(vf_fnma(vf_set1(0.5f), zz, cp), vf_set1(1.0f));
  /* octant j (even): sin = +s, +c, -s, -c for j&7 = 0, 2, 4, 6 (times sign x);
   * cos = +c, -s, -c, +s */
  const vi j7 = vi_and(j, vi_set1(7));
  const vm swap = vm_not(vi_eq(vi_and(j7, vi_set1(2)), vi_zero()));
  const vm j4 = vm_not(vi_eq(vi_and(j7, vi_set1(4)), vi_zero()));
  const vm cneg = vm_xor(swap, j4);
  const vf neg = vf_set1(-0.0f);
  vf sv = vf_select(swap, cp, sp), cv = vf_select(swap, sp, cp);
  sv = vf_xor(vf_xor(sv, vf_select(j4, neg, vf_zero())), vf_signbit(x));
  cv = vf_xor(cv, vf_select(cneg, neg, vf_zero()));
  *s_out = sv;
  *c_out = cv;
}

/* Lanes with |x| > 512, infinite or NaN: libm's sinf/cosf (rare; keeps the whole range). */
static __attribute__((noinline, unused)) void v_sincos_libm(vf x, vm lanes, vf *s, vf *c) {
  float xs[VW], ss[VW], cs[VW];
  vf_store(xs, x);
  vf_store(ss, *s);
  vf_store(cs, *c);
  const unsigned b = vm_bits(lanes);
  for (int i = 0; i < VW; ++i)
    if (b >> i & 1u) {
      ss[i] = sinf(xs[i]);
      cs[i] = cosf(xs[i]);
    }
  *s = vf_load(ss);
  *c = vf_load(cs);
}

SIMD_INLINE void v_sincos(vf x, vf *s, vf *c) {
  v_sincos_reduced(x, s, c);
  const vm out = vm_or(vf_gt(vf_abs(x), vf_set1(512.0f)), vf_isnan(x));
  if (__builtin_expect(vm_any(out), 0)) v_sincos_libm(x, out, s, c);
}
SIMD_INLINE vf v_sin(vf x) {
  vf s, c;
  v_sincos(x, &s, &c);
  return s;
}
SIMD_INLINE vf v_cos(vf x) {
  vf s, c;
  v_sincos(x, &s, &c);
  return c;
}

#endif /* MBRL_SRC_HOST_VMATH_H */
