/* src/host/simd.h - the SIMD width abstraction the CPU kernels are written against once and
 * compiled per ISA (ggml's simd-mappings.h is the model).
 *
 * A kernel translation unit (src/host/cpu_avx512.c, cpu_avx2.c, cpu_generic.c) defines exactly
 * one of MBRL_SIMD_AVX512, MBRL_SIMD_AVX2, MBRL_SIMD_GENERIC, includes this header FIRST (its
 * target pragma applies to every function that follows), then the kernel sources
 * (src/host/cpu/), and ends with MBRL_SIMD_END. Each path gets:
 *   VW               lanes per vector (16, 8, 4)
 *   vf, vi, vm       vector of VW floats, of VW int32 (also used as uint32), lane mask
 *   MBRL_SIMD_NAME   "avx512" | "avx2" | "generic";  SIMD_SYM(x) = x_avx512 | x_avx2 | x_generic
 *   SIMD_MR, SIMD_NR register tile of the matrix kernels: rows x vectors of accumulators
 * and the same set of static inline operations below (every path defines all of them).
 *
 * Semantics every path keeps, so that one kernel source means the same thing everywhere:
 * - vf_fma(a, b, c) = a*b + c: ONE rounding on avx512/avx2 (FMA instructions), TWO on generic
 *   (multiply, then add; the library builds with -ffp-contract=off). This is the only
 *   arithmetic difference between paths; everything else rounds identically.
 * - vf_max(a, b) = a > b ? a : b and vf_min(a, b) = a < b ? a : b (x86's rule: when either is
 *   NaN the result is b), so vf_max(x, 0) is mbrl_relu_fwd (NaN -> 0).
 * - vf_hsum(v) adds the lanes in a fixed halving tree (lane i + lane i+VW/2, recursively), and
 *   vf_hsum_lanes(v[VW]) returns the VW sums of VW vectors in one vector, lane p = vf_hsum(v[p])
 *   bit for bit: a dot product reduced one row at a time or VW rows at once rounds the same.
 * - vf_load/vf_store are unaligned; vf_load_n/vf_store_n touch only the first n lanes (n in
 *   0..VW; the others read as 0.0f and are not written), so tails never read past an array.
 * - Comparisons are ordered (false on NaN) except vf_neq (true on NaN).
 * - vi_cvtt_vf / vf_cvt_vi convert float <-> int32 (truncating; the caller keeps the floats
 *   inside the int32 range); vu_cvt_vf converts uint32 -> float rounded to nearest, exactly
 *   like C's (float) cast.
 * No heap, no globals: everything is static inline. */
#ifndef MBRL_SRC_HOST_SIMD_H
#define MBRL_SRC_HOST_SIMD_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define SIMD_INLINE static inline __attribute__((always_inline))
#define SIMD_CAT2(a, b) a##_##b
#define SIMD_CAT(a, b) SIMD_CAT2(a, b)

#if (defined(MBRL_SIMD_AVX512) + defined(MBRL_SIMD_AVX2) + defined(MBRL_SIMD_GENERIC)) != 1
#error "define exactly one of MBRL_SIMD_AVX512, MBRL_SIMD_AVX2, MBRL_SIMD_GENERIC"
#endif

/* ---- the target of every function that follows (GCC: pragma; clang: attribute push) ---- */
#if defined(MBRL_SIMD_AVX512) || defined(MBRL_SIMD_AVX2)
#if !defined(__x86_64__)
#error "the avx512 and avx2 kernel paths are for x86-64"
#endif
#if defined(MBRL_SIMD_AVX512)
#define MBRL_SIMD_TARGET "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,bmi,bmi2,popcnt"
#else
#define MBRL_SIMD_TARGET "avx2,fma,bmi,bmi2,popcnt"
#endif
#if defined(__clang__)
#define MBRL_SIMD_PRAGMA_(x) _Pragma(#x)
#define MBRL_SIMD_PRAGMA(x) MBRL_SIMD_PRAGMA_(x)
MBRL_SIMD_PRAGMA(clang attribute push(__attribute__((target(MBRL_SIMD_TARGET))), apply_to = function))
#define MBRL_SIMD_END _Pragma("clang attribute pop")
#else
#pragma GCC push_options
#if defined(MBRL_SIMD_AVX512)
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,bmi,bmi2,popcnt,prefer-vector-width=512")
#else
#pragma GCC target("avx2,fma,bmi,bmi2,popcnt")
#endif
#define MBRL_SIMD_END _Pragma("GCC pop_options")
#endif
#include <immintrin.h>
#else
#define MBRL_SIMD_END
#endif

/* ======================================================================== AVX-512 */
#if defined(MBRL_SIMD_AVX512)
#define VW 16
#define MBRL_SIMD_NAME "avx512"
#define SIMD_SYM(x) SIMD_CAT(x, avx512)
#define SIMD_MR 4 /* 4 rows x 4 zmm = 16 accumulators of 32 registers */
#define SIMD_NR 4
typedef __m512 vf;
typedef __m512i vi;
typedef __mmask16 vm;

SIMD_INLINE vf vf_zero(void) { return _mm512_setzero_ps(); }
SIMD_INLINE vf vf_set1(float x) { return _mm512_set1_ps(x); }
SIMD_INLINE vf vf_bcast(const float *p) { return _mm512_set1_ps(*p); }
SIMD_INLINE vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
SIMD_INLINE void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
SIMD_INLINE vm vm_first(int n) { return (vm)(n >= 16 ? 0xFFFFu : (1u << (n < 0 ? 0 : n)) - 1u); }
/* Partial vectors go through a stack buffer, not the masked load/store instructions: GCC 12.2
 * at -O3 miscompiled _mm512_maskz_loadu_ps / _mm512_mask_storeu_ps in the sparse kernels
 * (rows read back stale or uninitialized; tests/test_cpu_paths.cpp and test_nn_cpu_kernels
 * caught it; -O2, clang -O3 and the buffer version are correct). Tails are off the hot paths
 * (the planner pads its widths to 16). */
SIMD_INLINE vf vf_load_n(const float *p, int n) {
  if (n >= 16) return _mm512_loadu_ps(p);
  float t[16] = {0};
  for (int i = 0; i < n; ++i) t[i] = p[i];
  return _mm512_loadu_ps(t);
}
SIMD_INLINE void vf_store_n(float *p, vf v, int n) {
  if (n >= 16) {
    _mm512_storeu_ps(p, v);
  } else {
    float t[16];
    _mm512_storeu_ps(t, v);
    for (int i = 0; i < n; ++i) p[i] = t[i];
  }
}
SIMD_INLINE vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
SIMD_INLINE vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
SIMD_INLINE vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
SIMD_INLINE vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
SIMD_INLINE vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
SIMD_INLINE vf vf_fnma(vf a, vf b, vf c) { return _mm512_fnmadd_ps(a, b, c); }
SIMD_INLINE vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
SIMD_INLINE vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
SIMD_INLINE vf vf_sqrt(vf a) { return _mm512_sqrt_ps(a); }
SIMD_INLINE vm vf_gt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
SIMD_INLINE vm vf_ge(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
SIMD_INLINE vm vf_lt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
SIMD_INLINE vm vf_le(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
SIMD_INLINE vm vf_eq(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
SIMD_INLINE vm vf_neq(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_NEQ_UQ); }
SIMD_INLINE vm vf_isnan(vf a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
/* m ? a : b per lane */
SIMD_INLINE vf vf_select(vm m, vf a, vf b) { return _mm512_mask_blend_ps(m, b, a); }
SIMD_INLINE vi vi_select(vm m, vi a, vi b) { return _mm512_mask_blend_epi32(m, b, a); }
SIMD_INLINE vm vm_and(vm a, vm b) { return (vm)(a & b); }
SIMD_INLINE vm vm_or(vm a, vm b) { return (vm)(a | b); }
SIMD_INLINE vm vm_andnot(vm a, vm b) { return (vm)(~a & b); } /* !a && b */
SIMD_INLINE vm vm_xor(vm a, vm b) { return (vm)(a ^ b); }
SIMD_INLINE vm vm_not(vm a) { return (vm)~a; }
SIMD_INLINE unsigned vm_bits(vm m) { return (unsigned)m; }
SIMD_INLINE vi vf_as_vi(vf a) { return _mm512_castps_si512(a); }
SIMD_INLINE vf vi_as_vf(vi a) { return _mm512_castsi512_ps(a); }
SIMD_INLINE vi vi_set1(int32_t x) { return _mm512_set1_epi32(x); }
SIMD_INLINE vi vi_zero(void) { return _mm512_setzero_si512(); }
SIMD_INLINE vi vi_iota(void) {
  return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
SIMD_INLINE vi vi_load(const void *p) { return _mm512_loadu_si512(p); }
SIMD_INLINE void vi_store(void *p, vi v) { _mm512_storeu_si512(p, v); }
SIMD_INLINE vi vi_add(vi a, vi b) { return _mm512_add_epi32(a, b); }
SIMD_INLINE vi vi_sub(vi a, vi b) { return _mm512_sub_epi32(a, b); }
SIMD_INLINE vi vi_and(vi a, vi b) { return _mm512_and_si512(a, b); }
SIMD_INLINE vi vi_or(vi a, vi b) { return _mm512_or_si512(a, b); }
SIMD_INLINE vi vi_xor(vi a, vi b) { return _mm512_xor_si512(a, b); }
SIMD_INLINE vi vi_mullo(vi a, vi b) { return _mm512_mullo_epi32(a, b); }
#define vi_sll(a, n) _mm512_slli_epi32((a), (n))
#define vi_srl(a, n) _mm512_srli_epi32((a), (n))
#define vi_sra(a, n) _mm512_srai_epi32((a), (n))
SIMD_INLINE vm vi_eq(vi a, vi b) { return _mm512_cmpeq_epi32_mask(a, b); }
SIMD_INLINE vm vi_gt(vi a, vi b) { return _mm512_cmpgt_epi32_mask(a, b); }
SIMD_INLINE vf vf_cvt_vi(vi a) { return _mm512_cvtepi32_ps(a); }
SIMD_INLINE vi vi_cvtt_vf(vf a) { return _mm512_cvttps_epi32(a); }
SIMD_INLINE vf vu_cvt_vf(vi a) { return _mm512_cvtepu32_ps(a); }
/* 32 x 32 -> 64-bit unsigned products of every lane with m: low and high words. */
SIMD_INLINE void vu_mulhilo(vi a, uint32_t m, vi *lo, vi *hi) {
  const vi mv = _mm512_set1_epi32((int)m);
  const vi even = _mm512_mul_epu32(a, mv);
  const vi odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), mv);
  *lo = _mm512_mullo_epi32(a, mv);
  *hi = _mm512_mask_blend_epi32((__mmask16)0xAAAA, _mm512_srli_epi64(even, 32), odd);
}
SIMD_INLINE float vf_hsum(vf v) {
  const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v),
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, 1)));
}
/* lane p = vf_hsum(v[p]): the same halving tree for 16 vectors at once (shuffles and adds). */
SIMD_INLINE vf vf_hsum_lanes(const vf *v) {
  vf a[8], b[4], c[2];
  for (int k = 0; k < 8; ++k) /* lane i + lane i+8 */
    a[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0x44),
                         _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0xEE));
  for (int k = 0; k < 4; ++k) /* + lane i+4 */
    b[k] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0x88),
                         _mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0xDD));
  for (int k = 0; k < 2; ++k) /* + lane i+2 */
    c[k] = _mm512_add_ps(_mm512_shuffle_ps(b[2 * k], b[2 * k + 1], 0x44),
                         _mm512_shuffle_ps(b[2 * k], b[2 * k + 1], 0xEE));
  const vf d = _mm512_add_ps(_mm512_shuffle_ps(c[0], c[1], 0x88), /* + lane i+1 */
                             _mm512_shuffle_ps(c[0], c[1], 0xDD));
  const vi idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(idx, d);
}
/* In place: v[i] lane j <-> v[j] lane i (a VW x VW block). */
SIMD_INLINE void vf_transpose(vf *v) {
  vf t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    v[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    v[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    v[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    v[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(v[i], v[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(v[i], v[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(v[i + 8], v[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(v[i + 8], v[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    v[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    v[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    v[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
  }
}

/* ======================================================================== AVX2 + FMA */
#elif defined(MBRL_SIMD_AVX2)
#define VW 8
#define MBRL_SIMD_NAME "avx2"
#define SIMD_SYM(x) SIMD_CAT(x, avx2)
#define SIMD_MR 6 /* 6 rows x 2 ymm = 12 accumulators of 16 registers */
#define SIMD_NR 2
typedef __m256 vf;
typedef __m256i vi;
typedef __m256 vm; /* lanes all ones / all zeros */

SIMD_INLINE vf vf_zero(void) { return _mm256_setzero_ps(); }
SIMD_INLINE vf vf_set1(float x) { return _mm256_set1_ps(x); }
SIMD_INLINE vf vf_bcast(const float *p) { return _mm256_broadcast_ss(p); }
SIMD_INLINE vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
SIMD_INLINE void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
SIMD_INLINE vi vm_first_i(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
SIMD_INLINE vm vm_first(int n) { return _mm256_castsi256_ps(vm_first_i(n)); }
SIMD_INLINE vf vf_load_n(const float *p, int n) {
  return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, vm_first_i(n));
}
SIMD_INLINE void vf_store_n(float *p, vf v, int n) {
  if (n >= 8)
    _mm256_storeu_ps(p, v);
  else
    _mm256_maskstore_ps(p, vm_first_i(n), v);
}
SIMD_INLINE vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
SIMD_INLINE vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
SIMD_INLINE vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
SIMD_INLINE vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
SIMD_INLINE vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
SIMD_INLINE vf vf_fnma(vf a, vf b, vf c) { return _mm256_fnmadd_ps(a, b, c); }
SIMD_INLINE vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
SIMD_INLINE vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
SIMD_INLINE vf vf_sqrt(vf a) { return _mm256_sqrt_ps(a); }
SIMD_INLINE vm vf_gt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
SIMD_INLINE vm vf_ge(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
SIMD_INLINE vm vf_lt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
SIMD_INLINE vm vf_le(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
SIMD_INLINE vm vf_eq(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
SIMD_INLINE vm vf_neq(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_NEQ_UQ); }
SIMD_INLINE vm vf_isnan(vf a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
SIMD_INLINE vf vf_select(vm m, vf a, vf b) { return _mm256_blendv_ps(b, a, m); }
SIMD_INLINE vi vi_select(vm m, vi a, vi b) {
  return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(b), _mm256_castsi256_ps(a), m));
}
SIMD_INLINE vm vm_and(vm a, vm b) { return _mm256_and_ps(a, b); }
SIMD_INLINE vm vm_or(vm a, vm b) { return _mm256_or_ps(a, b); }
SIMD_INLINE vm vm_andnot(vm a, vm b) { return _mm256_andnot_ps(a, b); }
SIMD_INLINE vm vm_xor(vm a, vm b) { return _mm256_xor_ps(a, b); }
SIMD_INLINE vm vm_not(vm a) { return _mm256_xor_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(-1))); }
SIMD_INLINE unsigned vm_bits(vm m) { return (unsigned)_mm256_movemask_ps(m); }
SIMD_INLINE vi vf_as_vi(vf a) { return _mm256_castps_si256(a); }
SIMD_INLINE vf vi_as_vf(vi a) { return _mm256_castsi256_ps(a); }
SIMD_INLINE vi vi_set1(int32_t x) { return _mm256_set1_epi32(x); }
SIMD_INLINE vi vi_zero(void) { return _mm256_setzero_si256(); }
SIMD_INLINE vi vi_iota(void) { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
SIMD_INLINE vi vi_load(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
SIMD_INLINE void vi_store(void *p, vi v) { _mm256_storeu_si256((__m256i *)p, v); }
SIMD_INLINE vi vi_add(vi a, vi b) { return _mm256_add_epi32(a, b); }
SIMD_INLINE vi vi_sub(vi a, vi b) { return _mm256_sub_epi32(a, b); }
SIMD_INLINE vi vi_and(vi a, vi b) { return _mm256_and_si256(a, b); }
SIMD_INLINE vi vi_or(vi a, vi b) { return _mm256_or_si256(a, b); }
SIMD_INLINE vi vi_xor(vi a, vi b) { return _mm256_xor_si256(a, b); }
SIMD_INLINE vi vi_mullo(vi a, vi b) { return _mm256_mullo_epi32(a, b); }
#define vi_sll(a, n) _mm256_slli_epi32((a), (n))
#define vi_srl(a, n) _mm256_srli_epi32((a), (n))
#define vi_sra(a, n) _mm256_srai_epi32((a), (n))
SIMD_INLINE vm vi_eq(vi a, vi b) { return _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b)); }
SIMD_INLINE vm vi_gt(vi a, vi b) { return _mm256_castsi256_ps(_mm256_cmpgt_epi32(a, b)); }
SIMD_INLINE vf vf_cvt_vi(vi a) { return _mm256_cvtepi32_ps(a); }
SIMD_INLINE vi vi_cvtt_vf(vf a) { return _mm256_cvttps_epi32(a); }
/* uint32 -> float, one rounding: hi16 * 65536 and lo16 are exact floats, their sum rounds once. */
SIMD_INLINE vf vu_cvt_vf(vi a) {
  const vf hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(a, 16));
  const vf lo = _mm256_cvtepi32_ps(_mm256_and_si256(a, _mm256_set1_epi32(0xFFFF)));
  return _mm256_add_ps(_mm256_mul_ps(hi, _mm256_set1_ps(65536.0f)), lo);
}
SIMD_INLINE void vu_mulhilo(vi a, uint32_t m, vi *lo, vi *hi) {
  const vi mv = _mm256_set1_epi32((int)m);
  const vi even = _mm256_mul_epu32(a, mv);
  const vi odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), mv);
  *lo = _mm256_mullo_epi32(a, mv);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}
SIMD_INLINE float vf_hsum(vf v) {
  const __m128 b = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, 1)));
}
SIMD_INLINE vf vf_hsum_lanes(const vf *v) {
  vf a[4];
  for (int k = 0; k < 4; ++k) /* lane i + lane i+4; halves: v[2k], v[2k+1] */
    a[k] = _mm256_add_ps(_mm256_permute2f128_ps(v[2 * k], v[2 * k + 1], 0x20),
                         _mm256_permute2f128_ps(v[2 * k], v[2 * k + 1], 0x31));
  /* + lane i+2: lo half v0|v2 (v4|v6), hi half v1|v3 (v5|v7) */
  const vf b0 = _mm256_add_ps(_mm256_shuffle_ps(a[0], a[1], 0x44), _mm256_shuffle_ps(a[0], a[1], 0xEE));
  const vf b1 = _mm256_add_ps(_mm256_shuffle_ps(a[2], a[3], 0x44), _mm256_shuffle_ps(a[2], a[3], 0xEE));
  /* + lane i+1: lo half v0 v2 v4 v6, hi half v1 v3 v5 v7 */
  const vf c = _mm256_add_ps(_mm256_shuffle_ps(b0, b1, 0x88), _mm256_shuffle_ps(b0, b1, 0xDD));
  return _mm256_permutevar8x32_ps(c, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}
SIMD_INLINE void vf_transpose(vf *v) {
  vf t[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
  }
  vf u[8];
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    v[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

/* ======================================================================== generic C */
#else
/* Portable: GCC/clang vector extensions of 4 floats (one SSE2 / NEON / VSX register), no
 * intrinsics. Arithmetic operators act per lane; what has no operator is a loop over lanes. */
#define VW 4
#define MBRL_SIMD_NAME "generic"
#define SIMD_SYM(x) SIMD_CAT(x, generic)
#define SIMD_MR 4 /* 4 rows x 2 vectors = 8 accumulators (16 registers on SSE2) */
#define SIMD_NR 2
typedef float vf __attribute__((vector_size(16)));
typedef int32_t vi __attribute__((vector_size(16)));
typedef uint32_t vu_ __attribute__((vector_size(16)));
typedef vi vm; /* lanes -1 / 0 */

SIMD_INLINE vf vf_zero(void) { return (vf){0.0f, 0.0f, 0.0f, 0.0f}; }
SIMD_INLINE vf vf_set1(float x) { return (vf){x, x, x, x}; }
SIMD_INLINE vf vf_bcast(const float *p) { return vf_set1(*p); }
SIMD_INLINE vf vf_load(const float *p) {
  vf v;
  memcpy(&v, p, sizeof v);
  return v;
}
SIMD_INLINE void vf_store(float *p, vf v) { memcpy(p, &v, sizeof v); }
SIMD_INLINE vf vf_load_n(const float *p, int n) {
  vf v = vf_zero();
  for (int i = 0; i < n && i < 4; ++i) v[i] = p[i];
  return v;
}
SIMD_INLINE void vf_store_n(float *p, vf v, int n) {
  for (int i = 0; i < n && i < 4; ++i) p[i] = v[i];
}
SIMD_INLINE vm vm_first(int n) { return (vi){0, 1, 2, 3} < (vi){n, n, n, n}; }
SIMD_INLINE vf vf_add(vf a, vf b) { return a + b; }
SIMD_INLINE vf vf_sub(vf a, vf b) { return a - b; }
SIMD_INLINE vf vf_mul(vf a, vf b) { return a * b; }
SIMD_INLINE vf vf_div(vf a, vf b) { return a / b; }
SIMD_INLINE vf vf_fma(vf a, vf b, vf c) { return a * b + c; } /* two roundings */
SIMD_INLINE vf vf_fnma(vf a, vf b, vf c) { return c - a * b; }
SIMD_INLINE vf vf_select(vm m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }
SIMD_INLINE vi vi_select(vm m, vi a, vi b) { return (a & m) | (b & ~m); }
SIMD_INLINE vf vf_max(vf a, vf b) { return vf_select(a > b, a, b); }
SIMD_INLINE vf vf_min(vf a, vf b) { return vf_select(a < b, a, b); }
SIMD_INLINE vf vf_sqrt(vf a) {
  for (int i = 0; i < 4; ++i) a[i] = sqrtf(a[i]);
  return a;
}
SIMD_INLINE vm vf_gt(vf a, vf b) { return a > b; }
SIMD_INLINE vm vf_ge(vf a, vf b) { return a >= b; }
SIMD_INLINE vm vf_lt(vf a, vf b) { return a < b; }
SIMD_INLINE vm vf_le(vf a, vf b) { return a <= b; }
SIMD_INLINE vm vf_eq(vf a, vf b) { return a == b; }
SIMD_INLINE vm vf_neq(vf a, vf b) { return a != b; } /* true on NaN */
SIMD_INLINE vm vf_isnan(vf a) { return a != a; }
SIMD_INLINE vm vm_and(vm a, vm b) { return a & b; }
SIMD_INLINE vm vm_or(vm a, vm b) { return a | b; }
SIMD_INLINE vm vm_andnot(vm a, vm b) { return ~a & b; }
SIMD_INLINE vm vm_xor(vm a, vm b) { return a ^ b; }
SIMD_INLINE vm vm_not(vm a) { return ~a; }
SIMD_INLINE unsigned vm_bits(vm m) {
  return (m[0] ? 1u : 0u) | (m[1] ? 2u : 0u) | (m[2] ? 4u : 0u) | (m[3] ? 8u : 0u);
}
SIMD_INLINE vi vf_as_vi(vf a) { return (vi)a; }
SIMD_INLINE vf vi_as_vf(vi a) { return (vf)a; }
SIMD_INLINE vi vi_set1(int32_t x) { return (vi){x, x, x, x}; }
SIMD_INLINE vi vi_zero(void) { return (vi){0, 0, 0, 0}; }
SIMD_INLINE vi vi_iota(void) { return (vi){0, 1, 2, 3}; }
SIMD_INLINE vi vi_load(const void *p) {
  vi v;
  memcpy(&v, p, sizeof v);
  return v;
}
SIMD_INLINE void vi_store(void *p, vi v) { memcpy(p, &v, sizeof v); }
/* int32 lane arithmetic wraps (done on unsigned lanes: no signed overflow) */
SIMD_INLINE vi vi_add(vi a, vi b) { return (vi)((vu_)a + (vu_)b); }
SIMD_INLINE vi vi_sub(vi a, vi b) { return (vi)((vu_)a - (vu_)b); }
SIMD_INLINE vi vi_and(vi a, vi b) { return a & b; }
SIMD_INLINE vi vi_or(vi a, vi b) { return a | b; }
SIMD_INLINE vi vi_xor(vi a, vi b) { return a ^ b; }
SIMD_INLINE vi vi_mullo(vi a, vi b) { return (vi)((vu_)a * (vu_)b); }
#define vi_sll(a, n) ((vi)((vu_)(a) << (n)))
#define vi_srl(a, n) ((vi)((vu_)(a) >> (n)))
#define vi_sra(a, n) ((a) >> (n))
SIMD_INLINE vm vi_eq(vi a, vi b) { return a == b; }
SIMD_INLINE vm vi_gt(vi a, vi b) { return a > b; }
SIMD_INLINE vf vf_cvt_vi(vi a) {
  return (vf){(float)a[0], (float)a[1], (float)a[2], (float)a[3]};
}
SIMD_INLINE vi vi_cvtt_vf(vf a) {
  return (vi){(int32_t)a[0], (int32_t)a[1], (int32_t)a[2], (int32_t)a[3]};
}
SIMD_INLINE vf vu_cvt_vf(vi a) {
  const vu_ u = (vu_)a;
  return (vf){(float)u[0], (float)u[1], (float)u[2], (float)u[3]};
}
SIMD_INLINE void vu_mulhilo(vi a, uint32_t m, vi *lo, vi *hi) {
  const vu_ u = (vu_)a;
  vu_ l, h;
  for (int i = 0; i < 4; ++i) {
    const uint64_t p = (uint64_t)u[i] * (uint64_t)m;
    l[i] = (uint32_t)p;
    h[i] = (uint32_t)(p >> 32);
  }
  *lo = (vi)l;
  *hi = (vi)h;
}
SIMD_INLINE float vf_hsum(vf v) { return (v[0] + v[2]) + (v[1] + v[3]); }
SIMD_INLINE vf vf_hsum_lanes(const vf *v) {
  return (vf){vf_hsum(v[0]), vf_hsum(v[1]), vf_hsum(v[2]), vf_hsum(v[3])};
}
SIMD_INLINE void vf_transpose(vf *v) {
  vf t[4];
  for (int i = 0; i < 4; ++i) t[i] = (vf){v[0][i], v[1][i], v[2][i], v[3][i]};
  for (int i = 0; i < 4; ++i) v[i] = t[i];
}
#endif

/* ======================================================================== all paths */

SIMD_INLINE vf vf_abs(vf a) { return vi_as_vf(vi_and(vf_as_vi(a), vi_set1(0x7fffffff))); }
/* the sign bit of a (other bits zero) */
SIMD_INLINE vf vf_signbit(vf a) {
  return vi_as_vf(vi_and(vf_as_vi(a), vi_set1((int32_t)0x80000000u)));
}
SIMD_INLINE vf vf_xor(vf a, vf b) { return vi_as_vf(vi_xor(vf_as_vi(a), vf_as_vi(b))); }
SIMD_INLINE vf vf_or(vf a, vf b) { return vi_as_vf(vi_or(vf_as_vi(a), vf_as_vi(b))); }
SIMD_INLINE vf vf_neg(vf a) { return vf_xor(a, vf_set1(-0.0f)); }
/* a*b + c with two roundings on every path (for code that must round like scalar C). */
SIMD_INLINE vf vf_mul_add(vf a, vf b, vf c) { return vf_add(vf_mul(a, b), c); }
SIMD_INLINE vf vf_clamp(vf x, vf lo, vf hi) { return vf_min(vf_max(x, lo), hi); }
/* true when any lane of m is set */
SIMD_INLINE int vm_any(vm m) { return vm_bits(m) != 0; }
/* mask of the lanes of x that are not exactly zero (NaN counts as nonzero) */
SIMD_INLINE vm vf_nonzero(vf x) { return vf_neq(x, vf_zero()); }

#endif /* MBRL_SRC_HOST_SIMD_H */
