/* nn_cpu.c - CPU twins of the ops in mbrl/nn.h, and the private fused kernels of host/nn_cpu.h
 * that the mlp's CPU training path uses.
 *
 * Two paths, chosen once per process (cpu_path below):
 * - avx512: hand-written AVX-512 kernels for the matrix products, made for the small widths of
 *   our MLPs (at batch 128, 64 x 64 layers) where OpenBLAS's call overhead and packing dominate:
 *   - nn_tile / tn_tile: register-blocked products, 4 rows x 64 columns of accumulators, one
 *     broadcast and four loads per 16 FMAs (a 128x64x64 product in ~8.9 us here = the FMA
 *     peak of one core, 1 zmm FMA per cycle);
 *   - sparse_row(2): products whose left input is mostly exact zeros (a ReLU output, ~50%
 *     zeros) walk the nonzeros from a bit mask and do only their FMAs;
 *   - linear_forward_dot: outputs narrower than a vector (the 64 -> 3 head) as 16-row blocks
 *     of dot products reduced by a shuffle tree;
 *   - BatchNorm + activation fused forward (sums, centred squares, apply) and backward, and
 *     the backward that forms the next Linear's input gradient tile by tile (host/nn_cpu.h);
 *   - Adam / RMSprop 16 wide in nn_math.h's operation order (bit-identical to it).
 *   The other ops are the generic loops below compiled a second time for AVX-512 (same
 *   arithmetic, same order: bit-identical to the generic path).
 * - generic: OpenBLAS cblas_sgemm (single-threaded) for the products, plain C loops (SSE2) for
 *   the rest. Used when the CPU lacks AVX-512 or MBRL_CPU_KERNELS=generic is set.
 * The matrix kernels use explicit FMA intrinsics, so -ffp-contract=off (which keeps the C loops
 * free of compiler-chosen contractions) does not change them; each path is deterministic for a
 * given input, and the two differ only in the rounding of sums (FMA, summation order).
 * No heap allocation: buffers are the caller's; kernels use stack tiles of at most 32 KiB. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/nn_cpu.h"
#include "host/nn_math.h"
#include "mbrl/nn.h"

#if defined(__SSE2__)
/* The optimizer loops use SSE for 4 elements at a time: GCC will not vectorize sqrtf while it
 * keeps errno semantics (-fmath-errno, the default). sqrtps, mulps, addps and divps round
 * exactly like their scalar forms, and the operations run in the order of nn_math.h, so the
 * results are bit-identical to mbrl_adam_update / mbrl_rmsprop_update (tests/test_nn.cpp). */
#include <emmintrin.h>
#define MBRL_NN_SSE 1
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define MBRL_NN_AVX512 1
/* Functions compiled for AVX-512 (called only after the run-time check in cpu_path). */
#define AVX512_FN __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,prefer-vector-width=512")))
#endif
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* 1: AVX-512 kernels, 0: generic. Decided on the first call (relaxed atomics: threads that
 * decide at once compute the same value). */
static int cpu_path(void) {
  static int path = -1;
  int p = __atomic_load_n(&path, __ATOMIC_RELAXED);
  if (p < 0) {
    p = 0;
#ifdef MBRL_NN_AVX512
    const char *e = getenv("MBRL_CPU_KERNELS");
    __builtin_cpu_init();
    p = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("fma") && !(e && strcmp(e, "generic") == 0);
#endif
    __atomic_store_n(&path, p, __ATOMIC_RELAXED);
  }
  return p;
}

const char *mbrl_nn_cpu_kernels(void) { return cpu_path() ? "avx512" : "generic"; }

/* ---- Linear: generic path (OpenBLAS) ---- */

/* OpenBLAS runs single-threaded for these shapes (set once, unless the user chose a thread
 * count with OPENBLAS_NUM_THREADS / OMP_NUM_THREADS): measured here, a 128x64x64 product takes
 * ~12 us on one core and over twice that with two threads contending. */
static void gemm_threads_once(void) {
  static int done = 0;
  if (done) return;
  done = 1;
  if (!getenv("OPENBLAS_NUM_THREADS") && !getenv("OMP_NUM_THREADS")) openblas_set_num_threads(1);
}

static void linear_forward_blas(float *y, const float *x, const float *W, const float *b, int B,
                                int in, int out) {
  gemm_threads_once();
  if (b) {
    for (int r = 0; r < B; ++r) memcpy(y + (size_t)r * out, b, sizeof(float) * (size_t)out);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, out, in, 1.0f, x, in, W, in,
              b ? 1.0f : 0.0f, y, out);
}

/* db = sum over rows of dy (out), rows in order. */
ALWAYS_INLINE void bias_grad_body(float *db, const float *dy, int B, int out) {
  for (int o = 0; o < out; ++o) db[o] = 0.0f;
  for (int r = 0; r < B; ++r) {
    const float *dyr = dy + (size_t)r * out;
    for (int o = 0; o < out; ++o) db[o] += dyr[o];
  }
}

static void linear_backward_blas(float *dx, float *dW, float *db, const float *dy,
                                 const float *x, const float *W, int B, int in, int out) {
  gemm_threads_once();
  if (db) bias_grad_body(db, dy, B, out);
  if (dW)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, B, 1.0f, dy, out, x, in, 0.0f,
                dW, in);
  if (dx)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, in, out, 1.0f, dy, out, W, in, 0.0f,
                dx, in);
}

/* ---- Linear: AVX-512 path ---- */
#ifdef MBRL_NN_AVX512
#define AVX512_INLINE AVX512_FN ALWAYS_INLINE

/* Vector j of a row segment of NV vectors: the last one is masked by lm (columns past the end
 * are neither read nor written). */
AVX512_INLINE __m512 ldv(const float *p, int j, int nv, __mmask16 lm) {
  return j == nv - 1 ? _mm512_maskz_loadu_ps(lm, p) : _mm512_loadu_ps(p);
}
AVX512_INLINE void stv(float *p, __m512 v, int j, int nv, __mmask16 lm) {
  if (j == nv - 1)
    _mm512_mask_storeu_ps(p, lm, v);
  else
    _mm512_storeu_ps(p, v);
}

/* Micro-kernel "nn": C (R rows, NV*16 columns, last vector masked) = A (R, K) Bm (K, .) plus
 * C itself (acc = 1), bias (one row, broadcast down) or nothing. R <= 4, NV <= 4: up to 16
 * accumulators in registers, one broadcast of A and NV loads of Bm per k. */
AVX512_INLINE void nn_tile(float *C, int ldc, const float *A, int lda, const float *Bm, int ldb,
                           int K, const float *bias, int acc, __mmask16 lm, const int R,
                           const int NV) {
  __m512 c[4][4];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < NV; ++j)
      c[i][j] = acc    ? ldv(C + (size_t)i * ldc + 16 * j, j, NV, lm)
                : bias ? ldv(bias + 16 * j, j, NV, lm)
                       : _mm512_setzero_ps();
  for (int k = 0; k < K; ++k) {
    __m512 b[4];
    for (int j = 0; j < NV; ++j) b[j] = ldv(Bm + (size_t)k * ldb + 16 * j, j, NV, lm);
    for (int i = 0; i < R; ++i) {
      const __m512 a = _mm512_set1_ps(A[(size_t)i * lda + k]);
      for (int j = 0; j < NV; ++j) c[i][j] = _mm512_fmadd_ps(a, b[j], c[i][j]);
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < NV; ++j) stv(C + (size_t)i * ldc + 16 * j, c[i][j], j, NV, lm);
}

static __mmask16 tail_mask(int n) { /* n in 1..16 valid lanes */
  return (__mmask16)(n >= 16 ? 0xFFFFu : (1u << n) - 1u);
}

/* Calls TILE(..., R, NV) with compile-time R (1..4) and NV (1..4) chosen from the run-time r, nv
 * (so every instantiation keeps its accumulators in registers). */
#define DISPATCH_RN(TILEFN, r, nv, ...)                                       \
  switch ((r) * 8 + (nv)) {                                                   \
    case 4 * 8 + 4: TILEFN(__VA_ARGS__, 4, 4); break;                         \
    case 4 * 8 + 3: TILEFN(__VA_ARGS__, 4, 3); break;                         \
    case 4 * 8 + 2: TILEFN(__VA_ARGS__, 4, 2); break;                         \
    case 4 * 8 + 1: TILEFN(__VA_ARGS__, 4, 1); break;                         \
    case 3 * 8 + 4: TILEFN(__VA_ARGS__, 3, 4); break;                         \
    case 3 * 8 + 3: TILEFN(__VA_ARGS__, 3, 3); break;                         \
    case 3 * 8 + 2: TILEFN(__VA_ARGS__, 3, 2); break;                         \
    case 3 * 8 + 1: TILEFN(__VA_ARGS__, 3, 1); break;                         \
    case 2 * 8 + 4: TILEFN(__VA_ARGS__, 2, 4); break;                         \
    case 2 * 8 + 3: TILEFN(__VA_ARGS__, 2, 3); break;                         \
    case 2 * 8 + 2: TILEFN(__VA_ARGS__, 2, 2); break;                         \
    case 2 * 8 + 1: TILEFN(__VA_ARGS__, 2, 1); break;                         \
    case 1 * 8 + 4: TILEFN(__VA_ARGS__, 1, 4); break;                         \
    case 1 * 8 + 3: TILEFN(__VA_ARGS__, 1, 3); break;                         \
    case 1 * 8 + 2: TILEFN(__VA_ARGS__, 1, 2); break;                         \
    default: TILEFN(__VA_ARGS__, 1, 1); break;                                \
  }

/* C (M, N) = A (M, K) Bm (K, N) [+ C | + bias (N)], all row-major with leading dimensions. */
AVX512_FN static void gemm_nn(float *C, int ldc, const float *A, int lda, const float *Bm,
                              int ldb, int M, int K, int N, const float *bias, int acc) {
  for (int n0 = 0; n0 < N; n0 += 64) {
    const int nn = N - n0 < 64 ? N - n0 : 64, nv = (nn + 15) / 16;
    const __mmask16 lm = tail_mask(nn - 16 * (nv - 1));
    const float *Bn = Bm + n0, *bn = bias ? bias + n0 : NULL;
    for (int r = 0; r < M; r += 4) {
      const int rn = M - r < 4 ? M - r : 4;
      float *Cr = C + (size_t)r * ldc + n0;
      const float *Ar = A + (size_t)r * lda;
      DISPATCH_RN(nn_tile, rn, nv, Cr, ldc, Ar, lda, Bn, ldb, K, bn, acc, lm)
    }
  }
}

/* Micro-kernel "tn": C (MB rows, NV*16 columns) = sum over n rows r of A[r, 0..MB) (x) Bm[r, .]
 * (an outer-product accumulation: C = A^T Bm). MB <= 4, NV <= 4. Overwrites C. */
AVX512_INLINE void tn_tile(float *C, int ldc, const float *A, int lda, const float *Bm, int ldb,
                           int n, __mmask16 lm, const int MB, const int NV) {
  __m512 c[4][4];
  for (int i = 0; i < MB; ++i)
    for (int j = 0; j < NV; ++j) c[i][j] = _mm512_setzero_ps();
  for (int r = 0; r < n; ++r) {
    __m512 b[4];
    for (int j = 0; j < NV; ++j) b[j] = ldv(Bm + (size_t)r * ldb + 16 * j, j, NV, lm);
    for (int i = 0; i < MB; ++i) {
      const __m512 a = _mm512_set1_ps(A[(size_t)r * lda + i]);
      for (int j = 0; j < NV; ++j) c[i][j] = _mm512_fmadd_ps(a, b[j], c[i][j]);
    }
  }
  for (int i = 0; i < MB; ++i)
    for (int j = 0; j < NV; ++j) stv(C + (size_t)i * ldc + 16 * j, c[i][j], j, NV, lm);
}

/* C (M, N) = A^T Bm with A (n, M), Bm (n, N): the sum over the n rows. Overwrites C. */
AVX512_FN static void gemm_tn(float *C, int ldc, const float *A, int lda, const float *Bm,
                              int ldb, int M, int N, int n) {
  for (int n0 = 0; n0 < N; n0 += 64) {
    const int nn = N - n0 < 64 ? N - n0 : 64, nv = (nn + 15) / 16;
    const __mmask16 lm = tail_mask(nn - 16 * (nv - 1));
    for (int m = 0; m < M; m += 4) {
      const int mn = M - m < 4 ? M - m : 4;
      float *Cm = C + (size_t)m * ldc + n0;
      DISPATCH_RN(tn_tile, mn, nv, Cm, ldc, A + m, lda, Bm + n0, ldb, n, lm)
    }
  }
}

/* dst (cols, ld_dst) = src (rows, cols)^T for a block of at most 16 x 16 (rows x cols); full
 * 16 x 16 blocks go through registers (unpack / shuffle network), partial ones element-wise. */
AVX512_FN static void transpose_block(float *dst, int ldd, const float *src, int lds, int rows,
                                      int cols) {
  if (rows < 16 || cols < 16) {
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) dst[(size_t)c * ldd + r] = src[(size_t)r * lds + c];
    return;
  }
  __m512 v[16], t[16];
  for (int i = 0; i < 16; ++i) v[i] = _mm512_loadu_ps(src + (size_t)i * lds);
  for (int i = 0; i < 16; i += 2) { /* 2x2 blocks of single elements */
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) { /* pairs -> 4x4 within 128-bit lanes */
    v[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    v[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    v[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    v[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) { /* 128-bit lanes across rows i, i+4, i+8, i+12 */
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
  for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + (size_t)i * ldd, v[i]);
}

/* Row kernel "sparse nn": Cr (NV vectors) = Ar[0..K) Bm (K, .) (+ Cr | + bias | 0) over the k
 * with Ar[k] != 0 only (K <= 64): for an input that is mostly exact zeros (a ReLU output) this
 * does the FMAs of the nonzeros alone. The nonzero positions come from a 64-bit mask (NaN counts
 * as nonzero), walked with count-trailing-zeros; two accumulator sets keep 2 * NV FMA chains in
 * flight. */
AVX512_INLINE void sparse_row(float *Cr, const float *Ar, const float *Bm, int ldb, int K,
                              const float *bias, int acc, __mmask16 lm, const int NV) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 c0[4], c1[4];
  for (int j = 0; j < NV; ++j) {
    c0[j] = acc ? ldv(Cr + 16 * j, j, NV, lm) : bias ? ldv(bias + 16 * j, j, NV, lm) : zero;
    c1[j] = zero;
  }
  unsigned long long m = 0;
  for (int q = 0; q * 16 < K; ++q) {
    const __mmask16 km = tail_mask(K - 16 * q);
    m |= (unsigned long long)_mm512_mask_cmp_ps_mask(km, _mm512_maskz_loadu_ps(km, Ar + 16 * q),
                                                      zero, _CMP_NEQ_UQ)
         << (16 * q);
  }
  while (m) {
    int k = __builtin_ctzll(m);
    m &= m - 1;
    __m512 a = _mm512_set1_ps(Ar[k]);
    for (int j = 0; j < NV; ++j)
      c0[j] = _mm512_fmadd_ps(a, ldv(Bm + (size_t)k * ldb + 16 * j, j, NV, lm), c0[j]);
    if (!m) break;
    k = __builtin_ctzll(m);
    m &= m - 1;
    a = _mm512_set1_ps(Ar[k]);
    for (int j = 0; j < NV; ++j)
      c1[j] = _mm512_fmadd_ps(a, ldv(Bm + (size_t)k * ldb + 16 * j, j, NV, lm), c1[j]);
  }
  for (int j = 0; j < NV; ++j) stv(Cr + 16 * j, _mm512_add_ps(c0[j], c1[j]), j, NV, lm);
}

/* sparse_row for two rows at once (C0 <- A0, C1 <- A1, same Bm): one nonzero of each row per
 * step while both have some (2 * NV independent FMA chains, the loads of the two overlap),
 * then the rest of the longer row alone. Same arithmetic per row as sparse_row up to the
 * order of the sum. */
AVX512_INLINE __m512 ldB(const float *Bm, int ldb, int k, int j, int NV, __mmask16 lm) {
  return ldv(Bm + (size_t)k * ldb + 16 * j, j, NV, lm);
}
AVX512_INLINE unsigned long long nonzero_mask(const float *Ar, int K) {
  unsigned long long m = 0;
  for (int q = 0; q * 16 < K; ++q) {
    const __mmask16 km = tail_mask(K - 16 * q);
    m |= (unsigned long long)_mm512_mask_cmp_ps_mask(km, _mm512_maskz_loadu_ps(km, Ar + 16 * q),
                                                      _mm512_setzero_ps(), _CMP_NEQ_UQ)
         << (16 * q);
  }
  return m;
}
AVX512_INLINE void sparse_row2(float *C0, float *C1, const float *A0, const float *A1,
                               const float *Bm, int ldb, int K, const float *bias, int acc,
                               __mmask16 lm, const int NV) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 c0[4], c1[4];
  for (int j = 0; j < NV; ++j) {
    c0[j] = acc ? ldv(C0 + 16 * j, j, NV, lm) : bias ? ldv(bias + 16 * j, j, NV, lm) : zero;
    c1[j] = acc ? ldv(C1 + 16 * j, j, NV, lm) : bias ? ldv(bias + 16 * j, j, NV, lm) : zero;
  }
  unsigned long long m0 = nonzero_mask(A0, K), m1 = nonzero_mask(A1, K);
  while (m0 && m1) {
    const int k0 = __builtin_ctzll(m0), k1 = __builtin_ctzll(m1);
    m0 &= m0 - 1;
    m1 &= m1 - 1;
    const __m512 a0 = _mm512_set1_ps(A0[k0]), a1 = _mm512_set1_ps(A1[k1]);
    for (int j = 0; j < NV; ++j) {
      c0[j] = _mm512_fmadd_ps(a0, ldB(Bm, ldb, k0, j, NV, lm), c0[j]);
      c1[j] = _mm512_fmadd_ps(a1, ldB(Bm, ldb, k1, j, NV, lm), c1[j]);
    }
  }
  while (m0) {
    const int k0 = __builtin_ctzll(m0);
    m0 &= m0 - 1;
    const __m512 a0 = _mm512_set1_ps(A0[k0]);
    for (int j = 0; j < NV; ++j) c0[j] = _mm512_fmadd_ps(a0, ldB(Bm, ldb, k0, j, NV, lm), c0[j]);
  }
  while (m1) {
    const int k1 = __builtin_ctzll(m1);
    m1 &= m1 - 1;
    const __m512 a1 = _mm512_set1_ps(A1[k1]);
    for (int j = 0; j < NV; ++j) c1[j] = _mm512_fmadd_ps(a1, ldB(Bm, ldb, k1, j, NV, lm), c1[j]);
  }
  for (int j = 0; j < NV; ++j) {
    stv(C0 + 16 * j, c0[j], j, NV, lm);
    stv(C1 + 16 * j, c1[j], j, NV, lm);
  }
}

/* gemm_nn for K <= 64 skipping the zero entries of A, row by row. */
AVX512_FN static void gemm_nn_sparse(float *C, int ldc, const float *A, int lda, const float *Bm,
                                     int ldb, int M, int K, int N, const float *bias, int acc) {
  for (int n0 = 0; n0 < N; n0 += 64) {
    const int nn = N - n0 < 64 ? N - n0 : 64, nv = (nn + 15) / 16;
    const __mmask16 lm = tail_mask(nn - 16 * (nv - 1));
    const float *Bn = Bm + n0, *bn = bias ? bias + n0 : NULL;
    int r = 0;
    for (; r + 2 <= M; r += 2) {
      float *C0 = C + (size_t)r * ldc + n0, *C1 = C0 + ldc;
      const float *A0 = A + (size_t)r * lda, *A1 = A0 + lda;
      switch (nv) {
        case 4: sparse_row2(C0, C1, A0, A1, Bn, ldb, K, bn, acc, lm, 4); break;
        case 3: sparse_row2(C0, C1, A0, A1, Bn, ldb, K, bn, acc, lm, 3); break;
        case 2: sparse_row2(C0, C1, A0, A1, Bn, ldb, K, bn, acc, lm, 2); break;
        default: sparse_row2(C0, C1, A0, A1, Bn, ldb, K, bn, acc, lm, 1); break;
      }
    }
    for (; r < M; ++r) {
      float *Cr = C + (size_t)r * ldc + n0;
      const float *Ar = A + (size_t)r * lda;
      switch (nv) {
        case 4: sparse_row(Cr, Ar, Bn, ldb, K, bn, acc, lm, 4); break;
        case 3: sparse_row(Cr, Ar, Bn, ldb, K, bn, acc, lm, 3); break;
        case 2: sparse_row(Cr, Ar, Bn, ldb, K, bn, acc, lm, 2); break;
        default: sparse_row(Cr, Ar, Bn, ldb, K, bn, acc, lm, 1); break;
      }
    }
  }
}

/* Lane p of the result = the sum of the 16 lanes of v[p]: a tree of 128-bit-lane and in-lane
 * shuffles with adds (15 pair steps), then one permutation back to source order. */
AVX512_INLINE __m512 reduce16(__m512 *v) {
  __m512 a[8], b[4], c[2];
  for (int k = 0; k < 8; ++k) /* lanes: [v2k half-sums x2, v2k+1 half-sums x2] */
    a[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0x44),
                         _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0xEE));
  for (int k = 0; k < 4; ++k) /* 128-bit lane L: 4 partial sums of v[4k + L] */
    b[k] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0x88),
                         _mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0xDD));
  for (int k = 0; k < 2; ++k) /* lane L: 2 partials of v[8k + L], 2 of v[8k + 4 + L] */
    c[k] = _mm512_add_ps(_mm512_shuffle_ps(b[2 * k], b[2 * k + 1], 0x44),
                         _mm512_shuffle_ps(b[2 * k], b[2 * k + 1], 0xEE));
  /* element 4L + e: the sum of v[L + 4e] */
  const __m512 d = _mm512_add_ps(_mm512_shuffle_ps(c[0], c[1], 0x88),
                                 _mm512_shuffle_ps(c[0], c[1], 0xDD));
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(idx, d);
}

/* y[r, o] = x[r, :] . W[o, :] (+ b[o]): dot products, for outputs narrower than a vector.
 * Blocks of 16 rows: one accumulator per row (FMAs along in), then reduce16 gives the 16
 * outputs of one column at once. Leftover rows one at a time. */
AVX512_FN static void linear_forward_dot(float *y, const float *x, const float *W,
                                         const float *b, int B, int in, int out) {
  int r0 = 0;
  for (; r0 + 16 <= B; r0 += 16) {
    const float *xr = x + (size_t)r0 * in;
    for (int o = 0; o < out; ++o) {
      const float *wo = W + (size_t)o * in;
      __m512 acc[16];
      for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_ps();
      for (int k = 0; k < in; k += 16) {
        const __mmask16 m = tail_mask(in - k);
        const __m512 w = _mm512_maskz_loadu_ps(m, wo + k);
        for (int i = 0; i < 16; ++i)
          acc[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, xr + (size_t)i * in + k), w, acc[i]);
      }
      __m512 s = reduce16(acc);
      if (b) s = _mm512_add_ps(s, _mm512_set1_ps(b[o]));
      float t[16];
      _mm512_storeu_ps(t, s);
      for (int i = 0; i < 16; ++i) y[(size_t)(r0 + i) * out + o] = t[i];
    }
  }
  for (int r = r0; r < B; ++r) {
    const float *xr = x + (size_t)r * in;
    for (int o = 0; o < out; ++o) {
      const float *wo = W + (size_t)o * in;
      __m512 acc = _mm512_setzero_ps();
      for (int k = 0; k < in; k += 16) {
        const __mmask16 m = tail_mask(in - k);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, xr + k), _mm512_maskz_loadu_ps(m, wo + k),
                              acc);
      }
      const float s = _mm512_reduce_add_ps(acc);
      y[(size_t)r * out + o] = b ? s + b[o] : s;
    }
  }
}

enum { TILE = 64 }; /* Wt tiles of TILE x TILE floats (16 KiB) on the stack */

/* sparse = 1: x is mostly zeros (skip them, see sparse_row). */
AVX512_FN static void linear_forward_avx512(float *y, const float *x, const float *W,
                                            const float *b, int B, int in, int out, int sparse) {
  if (out < 16) {
    linear_forward_dot(y, x, W, b, B, in, out);
    return;
  }
  /* y = x W^T: transpose a (TILE out x TILE in) block of W at a time into wt (in, out) and run
   * the nn kernel over all rows; blocks after the first along `in` accumulate into y. */
  float wt[TILE * TILE] __attribute__((aligned(64)));
  for (int o0 = 0; o0 < out; o0 += TILE) {
    const int on = out - o0 < TILE ? out - o0 : TILE;
    for (int k0 = 0; k0 < in; k0 += TILE) {
      const int kn = in - k0 < TILE ? in - k0 : TILE;
      for (int ob = 0; ob < on; ob += 16)
        for (int kb = 0; kb < kn; kb += 16)
          transpose_block(wt + kb * TILE + ob, TILE, W + (size_t)(o0 + ob) * in + k0 + kb, in,
                          on - ob < 16 ? on - ob : 16, kn - kb < 16 ? kn - kb : 16);
      (sparse ? gemm_nn_sparse : gemm_nn)(y + o0, out, x + k0, in, wt, TILE, B, kn, on,
                                          k0 == 0 ? (b ? b + o0 : NULL) : NULL, k0 > 0);
    }
  }
}

/* dW^T (in, out) = x^T dy over the nonzero x only (x mostly zeros): per tile, x is transposed
 * so that each input column becomes a row for sparse_row, and the dW^T tile is transposed back
 * into dW (out, in). Rows in chunks of TILE, accumulated. */
AVX512_FN static void weight_grad_sparse(float *dW, const float *dy, const float *x, int B, int in,
                                         int out) {
  float xt[TILE * TILE] __attribute__((aligned(64)));
  float t[TILE * TILE] __attribute__((aligned(64)));
  for (int i0 = 0; i0 < in; i0 += TILE) {
    const int inn = in - i0 < TILE ? in - i0 : TILE;
    for (int o0 = 0; o0 < out; o0 += TILE) {
      const int on = out - o0 < TILE ? out - o0 : TILE, nv = (on + 15) / 16;
      const __mmask16 lm = tail_mask(on - 16 * (nv - 1));
      for (int r0 = 0; r0 < B; r0 += TILE) {
        const int rn = B - r0 < TILE ? B - r0 : TILE;
        for (int rb = 0; rb < rn; rb += 16)
          for (int ib = 0; ib < inn; ib += 16)
            transpose_block(xt + ib * TILE + rb, TILE, x + (size_t)(r0 + rb) * in + i0 + ib, in,
                            rn - rb < 16 ? rn - rb : 16, inn - ib < 16 ? inn - ib : 16);
        const float *dyr = dy + (size_t)r0 * out + o0;
        int i = 0;
        for (; i + 2 <= inn; i += 2) {
          float *t0 = t + i * TILE, *t1 = t0 + TILE;
          const float *x0 = xt + i * TILE, *x1 = x0 + TILE;
          switch (nv) {
            case 4: sparse_row2(t0, t1, x0, x1, dyr, out, rn, NULL, r0 > 0, lm, 4); break;
            case 3: sparse_row2(t0, t1, x0, x1, dyr, out, rn, NULL, r0 > 0, lm, 3); break;
            case 2: sparse_row2(t0, t1, x0, x1, dyr, out, rn, NULL, r0 > 0, lm, 2); break;
            default: sparse_row2(t0, t1, x0, x1, dyr, out, rn, NULL, r0 > 0, lm, 1); break;
          }
        }
        for (; i < inn; ++i) {
          float *ti = t + i * TILE;
          const float *xi = xt + i * TILE;
          switch (nv) {
            case 4: sparse_row(ti, xi, dyr, out, rn, NULL, r0 > 0, lm, 4); break;
            case 3: sparse_row(ti, xi, dyr, out, rn, NULL, r0 > 0, lm, 3); break;
            case 2: sparse_row(ti, xi, dyr, out, rn, NULL, r0 > 0, lm, 2); break;
            default: sparse_row(ti, xi, dyr, out, rn, NULL, r0 > 0, lm, 1); break;
          }
        }
      }
      for (int ob = 0; ob < on; ob += 16)
        for (int ib = 0; ib < inn; ib += 16)
          transpose_block(dW + (size_t)(o0 + ob) * in + i0 + ib, in, t + ib * TILE + ob, TILE,
                          inn - ib < 16 ? inn - ib : 16, on - ob < 16 ? on - ob : 16);
    }
  }
}

/* sparse = 1: x is mostly zeros (dW skips them, see weight_grad_sparse). */
AVX512_FN static void linear_backward_avx512(float *dx, float *dW, float *db, const float *dy,
                                             const float *x, const float *W, int B, int in,
                                             int out, int sparse) {
  if (db) bias_grad_body(db, dy, B, out);
  if (dW) {
    if (in < 16 && out > in) {
      /* narrow input: dW^T (in, out) = x^T dy in blocks of TILE outputs, then transposed */
      float t[16 * TILE] __attribute__((aligned(64)));
      for (int o0 = 0; o0 < out; o0 += TILE) {
        const int on = out - o0 < TILE ? out - o0 : TILE;
        gemm_tn(t, TILE, x, in, dy + o0, out, in, on, B);
        for (int o = 0; o < on; ++o)
          for (int i = 0; i < in; ++i) dW[(size_t)(o0 + o) * in + i] = t[i * TILE + o];
      }
    } else if (sparse && out >= 16) {
      weight_grad_sparse(dW, dy, x, B, in, out);
    } else {
      gemm_tn(dW, in, dy, out, x, in, out, in, B);
    }
  }
  if (dx) gemm_nn(dx, in, dy, out, W, in, B, out, in, NULL, 0);
}
#endif /* MBRL_NN_AVX512 */

void mbrl_nn_linear_forward(float *y, const float *x, const float *W, const float *b, int B,
                            int in, int out) {
#ifdef MBRL_NN_AVX512
  if (cpu_path()) {
    linear_forward_avx512(y, x, W, b, B, in, out, 0);
    return;
  }
#endif
  linear_forward_blas(y, x, W, b, B, in, out);
}

void mbrl_nn_cpu_linear_forward_sparse(float *y, const float *x, const float *W, const float *b,
                                       int B, int in, int out) {
#ifdef MBRL_NN_AVX512
  if (cpu_path()) {
    linear_forward_avx512(y, x, W, b, B, in, out, 1);
    return;
  }
#endif
  linear_forward_blas(y, x, W, b, B, in, out);
}

void mbrl_nn_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                             const float *W, int B, int in, int out) {
#ifdef MBRL_NN_AVX512
  if (cpu_path()) {
    linear_backward_avx512(dx, dW, db, dy, x, W, B, in, out, 0);
    return;
  }
#endif
  linear_backward_blas(dx, dW, db, dy, x, W, B, in, out);
}

void mbrl_nn_cpu_linear_backward_sparse(float *dx, float *dW, float *db, const float *dy,
                                        const float *x, const float *W, int B, int in, int out) {
#ifdef MBRL_NN_AVX512
  if (cpu_path()) {
    linear_backward_avx512(dx, dW, db, dy, x, W, B, in, out, 1);
    return;
  }
#endif
  linear_backward_blas(dx, dW, db, dy, x, W, B, in, out);
}

/* ---- the elementwise ops: one body, compiled generic and (when available) for AVX-512 ---- */

/* Declares `static void NAME PARAMS` that runs NAME_body ARGS, on the AVX-512 clone when the
 * CPU path allows it. The clone is the same C code, vectorized 16 wide: same results. */
#ifdef MBRL_NN_AVX512
#define CPU_DISPATCH(name, params, args)                     \
  AVX512_FN static void name##_avx512 params { name##_body args; } \
  static void name##_generic params { name##_body args; }  \
  static void name params {                                 \
    if (cpu_path())                                         \
      name##_avx512 args;                                   \
    else                                                    \
      name##_generic args;                                  \
  }
#else
#define CPU_DISPATCH(name, params, args) \
  static void name params { name##_body args; }
#endif

CPU_DISPATCH(bias_grad, (float *db, const float *dy, int B, int out), (db, dy, B, out))

/* ---- BatchNorm1d ---- */

/* Channels are processed in blocks of BN_BLOCK so that per-channel sums, scales and shifts
 * live in stack arrays the compiler knows do not alias the data (the loops vectorize). */
enum { BN_BLOCK = 256 };

/* y[r, c0 + c] = x[r, c0 + c] * scale[c] + shift[c] for one block of channels. */
ALWAYS_INLINE void bn_apply_block(float *y, const float *x, const float *scale, const float *shift, int B,
                           int C, int c0, int cn) {
  for (int r = 0; r < B; ++r) {
    const float *xr = x + (size_t)r * C + c0;
    float *yr = y + (size_t)r * C + c0;
    for (int c = 0; c < cn; ++c) yr[c] = mbrl_bn_apply(xr[c], scale[c], shift[c]);
  }
}

ALWAYS_INLINE void bn_forward_train_body(float *y, float *mean, float *rstd, float *running_mean,
                                         float *running_var, const float *x, const float *gamma,
                                         const float *beta, int B, int C, float momentum,
                                         float eps) {
  float s[BN_BLOCK], ss[BN_BLOCK], scale[BN_BLOCK], shift[BN_BLOCK];
  const float invB = 1.0f / (float)B;
  const float unbias = B > 1 ? (float)B / (float)(B - 1) : 1.0f;
  for (int c0 = 0; c0 < C; c0 += BN_BLOCK) {
    const int cn = C - c0 < BN_BLOCK ? C - c0 : BN_BLOCK;
    /* two passes over x: mean, then the biased variance */
    for (int c = 0; c < cn; ++c) s[c] = ss[c] = 0.0f;
    for (int r = 0; r < B; ++r) {
      const float *xr = x + (size_t)r * C + c0;
      for (int c = 0; c < cn; ++c) s[c] += xr[c];
    }
    for (int c = 0; c < cn; ++c) s[c] *= invB;
    for (int r = 0; r < B; ++r) {
      const float *xr = x + (size_t)r * C + c0;
      for (int c = 0; c < cn; ++c) {
        const float d = xr[c] - s[c];
        ss[c] += d * d;
      }
    }
    for (int c = 0; c < cn; ++c) {
      const int k = c0 + c;
      const float var = ss[c] * invB;
      const float rs = mbrl_bn_rstd(var, eps);
      running_mean[k] = mbrl_bn_running(running_mean[k], s[c], momentum);
      running_var[k] = mbrl_bn_running(running_var[k], var * unbias, momentum);
      mean[k] = s[c];
      rstd[k] = rs;
      mbrl_bn_scale_shift(s[c], rs, gamma[k], beta[k], &scale[c], &shift[c]);
    }
    bn_apply_block(y, x, scale, shift, B, C, c0, cn);
  }
}

ALWAYS_INLINE void bn_forward_eval_body(float *y, float *mean, float *rstd, const float *x,
                                        const float *gamma, const float *beta,
                                        const float *running_mean, const float *running_var,
                                        int B, int C, float eps) {
  float scale[BN_BLOCK], shift[BN_BLOCK];
  for (int c0 = 0; c0 < C; c0 += BN_BLOCK) {
    const int cn = C - c0 < BN_BLOCK ? C - c0 : BN_BLOCK;
    for (int c = 0; c < cn; ++c) {
      const int k = c0 + c;
      const float rs = mbrl_bn_rstd(running_var[k], eps);
      if (mean) mean[k] = running_mean[k];
      if (rstd) rstd[k] = rs;
      mbrl_bn_scale_shift(running_mean[k], rs, gamma[k], beta[k], &scale[c], &shift[c]);
    }
    bn_apply_block(y, x, scale, shift, B, C, c0, cn);
  }
}

ALWAYS_INLINE void bn_backward_body(float *dx, float *dgamma, float *dbeta, const float *dy,
                                    const float *x, const float *mean, const float *rstd,
                                    const float *gamma, int B, int C, int train) {
  float sdy[BN_BLOCK], sdyx[BN_BLOCK], mu[BN_BLOCK], rs[BN_BLOCK], k[BN_BLOCK];
  for (int c0 = 0; c0 < C; c0 += BN_BLOCK) {
    const int cn = C - c0 < BN_BLOCK ? C - c0 : BN_BLOCK;
    for (int c = 0; c < cn; ++c) {
      mu[c] = mean[c0 + c];
      rs[c] = rstd[c0 + c];
      k[c] = rstd[c0 + c] * gamma[c0 + c];
    }
    /* sums over the batch: sdy = sum dy (dbeta), sdyx = sum dy * xhat (dgamma) */
    for (int c = 0; c < cn; ++c) {
      sdy[c] = 0.0f;
      sdyx[c] = 0.0f;
    }
    for (int r = 0; r < B; ++r) {
      const float *dyr = dy + (size_t)r * C + c0;
      const float *xr = x + (size_t)r * C + c0;
      for (int c = 0; c < cn; ++c) {
        sdy[c] += dyr[c];
        sdyx[c] += dyr[c] * ((xr[c] - mu[c]) * rs[c]);
      }
    }
    if (dgamma) memcpy(dgamma + c0, sdyx, sizeof(float) * (size_t)cn);
    if (dbeta) memcpy(dbeta + c0, sdy, sizeof(float) * (size_t)cn);
    if (!dx) continue;
    if (train) {
      /* PyTorch: dx = (dy - mean(dy) - xhat * mean(dy * xhat)) * rstd * gamma */
      const float invB = 1.0f / (float)B;
      for (int c = 0; c < cn; ++c) {
        sdy[c] *= invB;
        sdyx[c] *= invB;
      }
      for (int r = 0; r < B; ++r) {
        const float *dyr = dy + (size_t)r * C + c0;
        const float *xr = x + (size_t)r * C + c0;
        float *dxr = dx + (size_t)r * C + c0;
        for (int c = 0; c < cn; ++c) {
          const float xhat = (xr[c] - mu[c]) * rs[c];
          dxr[c] = (dyr[c] - sdy[c] - xhat * sdyx[c]) * k[c];
        }
      }
    } else {
      for (int r = 0; r < B; ++r) {
        const float *dyr = dy + (size_t)r * C + c0;
        float *dxr = dx + (size_t)r * C + c0;
        for (int c = 0; c < cn; ++c) dxr[c] = dyr[c] * k[c];
      }
    }
  }
}

CPU_DISPATCH(bn_forward_train,
             (float *y, float *mean, float *rstd, float *running_mean, float *running_var,
              const float *x, const float *gamma, const float *beta, int B, int C, float momentum,
              float eps),
             (y, mean, rstd, running_mean, running_var, x, gamma, beta, B, C, momentum, eps))
CPU_DISPATCH(bn_forward_eval,
             (float *y, float *mean, float *rstd, const float *x, const float *gamma,
              const float *beta, const float *running_mean, const float *running_var, int B,
              int C, float eps),
             (y, mean, rstd, x, gamma, beta, running_mean, running_var, B, C, eps))
CPU_DISPATCH(bn_backward,
             (float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
              const float *mean, const float *rstd, const float *gamma, int B, int C, int train),
             (dx, dgamma, dbeta, dy, x, mean, rstd, gamma, B, C, train))

void mbrl_nn_batchnorm_forward_train(float *y, float *mean, float *rstd, float *running_mean,
                                     float *running_var, const float *x, const float *gamma,
                                     const float *beta, int B, int C, float momentum, float eps) {
  bn_forward_train(y, mean, rstd, running_mean, running_var, x, gamma, beta, B, C, momentum, eps);
}

void mbrl_nn_batchnorm_forward_eval(float *y, float *mean, float *rstd, const float *x,
                                    const float *gamma, const float *beta,
                                    const float *running_mean, const float *running_var, int B,
                                    int C, float eps) {
  bn_forward_eval(y, mean, rstd, x, gamma, beta, running_mean, running_var, B, C, eps);
}

void mbrl_nn_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                                const float *x, const float *mean, const float *rstd,
                                const float *gamma, int B, int C, int train) {
  bn_backward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, B, C, train);
}

/* ---- activations ---- */

ALWAYS_INLINE void act_forward_body(float *y, const float *x, size_t n, mbrl_act act) {
  switch (act) {
    case MBRL_ACT_RELU:
      for (size_t i = 0; i < n; ++i) y[i] = mbrl_relu_fwd(x[i]);
      break;
    case MBRL_ACT_TANH:
      for (size_t i = 0; i < n; ++i) y[i] = mbrl_tanh_fwd(x[i]);
      break;
    case MBRL_ACT_NONE:
      if (y != x) memmove(y, x, n * sizeof(float));
      break;
  }
}

ALWAYS_INLINE void act_backward_body(float *dx, const float *dy, const float *y, size_t n,
                                     mbrl_act act) {
  switch (act) {
    case MBRL_ACT_RELU:
      for (size_t i = 0; i < n; ++i) dx[i] = mbrl_relu_bwd(dy[i], y[i]);
      break;
    case MBRL_ACT_TANH:
      for (size_t i = 0; i < n; ++i) dx[i] = mbrl_tanh_bwd(dy[i], y[i]);
      break;
    case MBRL_ACT_NONE:
      if (dx != dy) memmove(dx, dy, n * sizeof(float));
      break;
  }
}

CPU_DISPATCH(act_forward, (float *y, const float *x, size_t n, mbrl_act act), (y, x, n, act))
CPU_DISPATCH(act_backward, (float *dx, const float *dy, const float *y, size_t n, mbrl_act act),
             (dx, dy, y, n, act))

void mbrl_nn_act_forward(float *y, const float *x, size_t n, mbrl_act act) {
  act_forward(y, x, n, act);
}

void mbrl_nn_act_backward(float *dx, const float *dy, const float *y, size_t n, mbrl_act act) {
  act_backward(dx, dy, y, n, act);
}

/* ---- loss ---- */

ALWAYS_INLINE void mse_loss_body(float *loss, float *dpred, const float *pred, const float *target,
                                 size_t n) {
  double acc = 0.0;
  const float scale = 2.0f / (float)n;
  for (size_t i = 0; i < n; ++i) {
    const float d = pred[i] - target[i];
    acc += (double)d * (double)d;
    if (dpred) dpred[i] = scale * d;
  }
  if (loss) *loss = (float)(acc / (double)n);
}

CPU_DISPATCH(mse_loss, (float *loss, float *dpred, const float *pred, const float *target, size_t n),
             (loss, dpred, pred, target, n))

void mbrl_nn_mse_loss(float *loss, float *dpred, const float *pred, const float *target,
                      size_t n) {
  mse_loss(loss, dpred, pred, target, n);
}

/* ---- fused BatchNorm + activation (private: host/nn_cpu.h) ---- */
#ifdef MBRL_NN_AVX512
/* One chunk of NV vectors (<= 64 channels; pointers already offset to the chunk's first
 * channel, rows C apart): three passes (sum, centred squares, apply) with the per-channel
 * sums, scales and shifts in registers. Two accumulators per channel (even / odd rows). */
AVX512_INLINE void bn_act_fwd_chunk(float *a, float *mean, float *rstd, float *running_mean,
                                    float *running_var, const float *z, const float *gamma,
                                    const float *beta, int B, int C, float momentum, float eps,
                                    int relu, __mmask16 lm, const int NV) {
  const __m512 zero = _mm512_setzero_ps(), invB = _mm512_set1_ps(1.0f / (float)B);
  __m512 s0[4], s1[4], mu[4], sc[4], sh[4];
  for (int j = 0; j < NV; ++j) s0[j] = s1[j] = zero;
  int r = 0;
  for (; r + 2 <= B; r += 2)
    for (int j = 0; j < NV; ++j) {
      s0[j] = _mm512_add_ps(s0[j], ldv(z + (size_t)r * C + 16 * j, j, NV, lm));
      s1[j] = _mm512_add_ps(s1[j], ldv(z + (size_t)(r + 1) * C + 16 * j, j, NV, lm));
    }
  for (; r < B; ++r)
    for (int j = 0; j < NV; ++j) s0[j] = _mm512_add_ps(s0[j], ldv(z + (size_t)r * C + 16 * j, j, NV, lm));
  for (int j = 0; j < NV; ++j) {
    mu[j] = _mm512_mul_ps(_mm512_add_ps(s0[j], s1[j]), invB);
    s0[j] = s1[j] = zero;
  }
  for (r = 0; r + 2 <= B; r += 2)
    for (int j = 0; j < NV; ++j) {
      const __m512 d0 = _mm512_sub_ps(ldv(z + (size_t)r * C + 16 * j, j, NV, lm), mu[j]);
      const __m512 d1 = _mm512_sub_ps(ldv(z + (size_t)(r + 1) * C + 16 * j, j, NV, lm), mu[j]);
      s0[j] = _mm512_fmadd_ps(d0, d0, s0[j]);
      s1[j] = _mm512_fmadd_ps(d1, d1, s1[j]);
    }
  for (; r < B; ++r)
    for (int j = 0; j < NV; ++j) {
      const __m512 d0 = _mm512_sub_ps(ldv(z + (size_t)r * C + 16 * j, j, NV, lm), mu[j]);
      s0[j] = _mm512_fmadd_ps(d0, d0, s0[j]);
    }
  const __m512 unbias = _mm512_set1_ps(B > 1 ? (float)B / (float)(B - 1) : 1.0f);
  const __m512 mom = _mm512_set1_ps(momentum), keep = _mm512_set1_ps(1.0f - momentum);
  for (int j = 0; j < NV; ++j) {
    /* the per-channel formulas of nn_math.h, 16 channels at a time (same roundings) */
    const __m512 var = _mm512_mul_ps(_mm512_add_ps(s0[j], s1[j]), invB);
    const __m512 rs = _mm512_div_ps(_mm512_set1_ps(1.0f),
                                    _mm512_sqrt_ps(_mm512_add_ps(var, _mm512_set1_ps(eps))));
    const __m512 rm = ldv(running_mean + 16 * j, j, NV, lm), rv = ldv(running_var + 16 * j, j, NV, lm);
    stv(running_mean + 16 * j, _mm512_add_ps(_mm512_mul_ps(keep, rm), _mm512_mul_ps(mom, mu[j])), j,
        NV, lm);
    stv(running_var + 16 * j,
        _mm512_add_ps(_mm512_mul_ps(keep, rv), _mm512_mul_ps(mom, _mm512_mul_ps(var, unbias))), j,
        NV, lm);
    stv(mean + 16 * j, mu[j], j, NV, lm);
    stv(rstd + 16 * j, rs, j, NV, lm);
    sc[j] = _mm512_mul_ps(rs, ldv(gamma + 16 * j, j, NV, lm));
    sh[j] = _mm512_sub_ps(ldv(beta + 16 * j, j, NV, lm), _mm512_mul_ps(mu[j], sc[j]));
  }
  for (r = 0; r < B; ++r)
    for (int j = 0; j < NV; ++j) {
      __m512 v = _mm512_add_ps(_mm512_mul_ps(ldv(z + (size_t)r * C + 16 * j, j, NV, lm), sc[j]), sh[j]);
      if (relu) v = _mm512_max_ps(v, zero); /* max(NaN, 0) = 0, as mbrl_relu_fwd */
      stv(a + (size_t)r * C + 16 * j, v, j, NV, lm);
    }
}

AVX512_FN static void bn_act_forward_train_avx512(float *a, float *mean, float *rstd,
                                                  float *running_mean, float *running_var,
                                                  const float *z, const float *gamma,
                                                  const float *beta, int B, int C,
                                                  float momentum, float eps, int relu) {
  for (int c0 = 0; c0 < C; c0 += 64) {
    const int cn = C - c0 < 64 ? C - c0 : 64, nv = (cn + 15) / 16;
    const __mmask16 lm = tail_mask(cn - 16 * (nv - 1));
#define BN_FWD_ARGS a + c0, mean + c0, rstd + c0, running_mean + c0, running_var + c0, z + c0, \
                    gamma + c0, beta + c0, B, C, momentum, eps, relu, lm
    switch (nv) {
      case 4: bn_act_fwd_chunk(BN_FWD_ARGS, 4); break;
      case 3: bn_act_fwd_chunk(BN_FWD_ARGS, 3); break;
      case 2: bn_act_fwd_chunk(BN_FWD_ARGS, 2); break;
      default: bn_act_fwd_chunk(BN_FWD_ARGS, 1); break;
    }
#undef BN_FWD_ARGS
  }
}

/* Backward of act(BN(z)) for one chunk: pass 1 sums t = act'(da) and t * xhat over the rows,
 * pass 2 recomputes t and xhat and writes dz (and sums it into db). */
/* pre: NULL, or the pass-1 sums already made (pre[0..64) = sum t, pre[64..128) = sum t xhat;
 * then da holds t itself and relu must be 0). */
AVX512_INLINE void act_bn_bwd_chunk(float *dz, float *dgamma, float *dbeta, float *db,
                                    const float *da, const float *a, const float *z,
                                    const float *mean, const float *rstd, const float *gamma,
                                    int B, int C, int relu, int train, const float *pre,
                                    __mmask16 lm, const int NV) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 mu[4], rs[4], s0[4], s1[4], x0[4], x1[4];
  for (int j = 0; j < NV; ++j) {
    mu[j] = ldv(mean + 16 * j, j, NV, lm);
    rs[j] = ldv(rstd + 16 * j, j, NV, lm);
    s0[j] = s1[j] = x0[j] = x1[j] = zero;
  }
#define ACT_T(r, j)                                                                         \
  (relu ? _mm512_maskz_mov_ps(                                                              \
              _mm512_cmp_ps_mask(ldv(a + (size_t)(r) * C + 16 * (j), j, NV, lm), zero,    \
                                 _CMP_GT_OQ),                                               \
              ldv(da + (size_t)(r) * C + 16 * (j), j, NV, lm))                             \
        : ldv(da + (size_t)(r) * C + 16 * (j), j, NV, lm))
#define XHAT(r, j) \
  _mm512_mul_ps(_mm512_sub_ps(ldv(z + (size_t)(r) * C + 16 * (j), j, NV, lm), mu[j]), rs[j])
  if (pre) {
    for (int j = 0; j < NV; ++j) {
      s0[j] = _mm512_loadu_ps(pre + 16 * j);
      x0[j] = _mm512_loadu_ps(pre + 64 + 16 * j);
      if (dgamma) stv(dgamma + 16 * j, x0[j], j, NV, lm);
      if (dbeta) stv(dbeta + 16 * j, s0[j], j, NV, lm);
    }
  } else if (train || dgamma || dbeta) {
    int r = 0;
    for (; r + 2 <= B; r += 2)
      for (int j = 0; j < NV; ++j) {
        const __m512 t0 = ACT_T(r, j), t1 = ACT_T(r + 1, j);
        s0[j] = _mm512_add_ps(s0[j], t0);
        s1[j] = _mm512_add_ps(s1[j], t1);
        x0[j] = _mm512_fmadd_ps(t0, XHAT(r, j), x0[j]);
        x1[j] = _mm512_fmadd_ps(t1, XHAT(r + 1, j), x1[j]);
      }
    for (; r < B; ++r)
      for (int j = 0; j < NV; ++j) {
        const __m512 t0 = ACT_T(r, j);
        s0[j] = _mm512_add_ps(s0[j], t0);
        x0[j] = _mm512_fmadd_ps(t0, XHAT(r, j), x0[j]);
      }
    for (int j = 0; j < NV; ++j) {
      s0[j] = _mm512_add_ps(s0[j], s1[j]); /* sum dy (dbeta) */
      x0[j] = _mm512_add_ps(x0[j], x1[j]); /* sum dy * xhat (dgamma) */
      if (dgamma) stv(dgamma + 16 * j, x0[j], j, NV, lm);
      if (dbeta) stv(dbeta + 16 * j, s0[j], j, NV, lm);
    }
  }
  if (!dz) return;
  const __m512 invB = _mm512_set1_ps(1.0f / (float)B);
  __m512 k[4], acc[4];
  for (int j = 0; j < NV; ++j) {
    k[j] = _mm512_mul_ps(rs[j], ldv(gamma + 16 * j, j, NV, lm));
    s0[j] = _mm512_mul_ps(s0[j], invB); /* mean(dy) */
    x0[j] = _mm512_mul_ps(x0[j], invB); /* mean(dy * xhat) */
    acc[j] = zero;
  }
  for (int r = 0; r < B; ++r)
    for (int j = 0; j < NV; ++j) {
      const __m512 t = ACT_T(r, j);
      /* train: (dy - mean(dy) - xhat * mean(dy xhat)) * rstd * gamma; eval: dy * rstd * gamma */
      const __m512 v = train ? _mm512_mul_ps(_mm512_fnmadd_ps(XHAT(r, j), x0[j],
                                                              _mm512_sub_ps(t, s0[j])), k[j])
                             : _mm512_mul_ps(t, k[j]);
      stv(dz + (size_t)r * C + 16 * j, v, j, NV, lm);
      acc[j] = _mm512_add_ps(acc[j], v);
    }
#undef ACT_T
#undef XHAT
  if (db)
    for (int j = 0; j < NV; ++j) stv(db + 16 * j, acc[j], j, NV, lm);
}

AVX512_FN static void act_bn_backward_avx512(float *dz, float *dgamma, float *dbeta, float *db,
                                             const float *da, const float *a, const float *z,
                                             const float *mean, const float *rstd,
                                             const float *gamma, int B, int C, int relu,
                                             int train) {
  for (int c0 = 0; c0 < C; c0 += 64) {
    const int cn = C - c0 < 64 ? C - c0 : 64, nv = (cn + 15) / 16;
    const __mmask16 lm = tail_mask(cn - 16 * (nv - 1));
#define OFF(p) ((p) ? (p) + c0 : NULL)
#define BN_BWD_ARGS OFF(dz), OFF(dgamma), OFF(dbeta), OFF(db), da + c0, a + c0, z + c0, mean + c0, \
                    rstd + c0, gamma + c0, B, C, relu, train, NULL, lm
    switch (nv) {
      case 4: act_bn_bwd_chunk(BN_BWD_ARGS, 4); break;
      case 3: act_bn_bwd_chunk(BN_BWD_ARGS, 3); break;
      case 2: act_bn_bwd_chunk(BN_BWD_ARGS, 2); break;
      default: act_bn_bwd_chunk(BN_BWD_ARGS, 1); break;
    }
#undef BN_BWD_ARGS
#undef OFF
  }
}
/* Phase 1 of linear_act_bn_backward, after nn_tile has written da for R rows x NV vectors
 * into T (still in L1): t = act'(da) is written back and the sums of t and t * xhat over these
 * rows are added into S (S[0..64) sum t, S[64..128) sum t xhat). a, z, T share the row stride.
 * (A separate step, not nn_tile's epilogue: there the extra live values push its 16
 * accumulators out of registers.) */
AVX512_INLINE void bn_bwd_tile_sums(float *T, int ldt, const float *a, const float *z,
                                    const float *mu, const float *rs, float *S, int relu,
                                    __mmask16 lm, int R, const int NV) {
  for (int j = 0; j < NV; ++j) {
    const __m512 m = _mm512_loadu_ps(mu + 16 * j), q = _mm512_loadu_ps(rs + 16 * j);
    __m512 s1 = _mm512_loadu_ps(S + 16 * j), s2 = _mm512_loadu_ps(S + 64 + 16 * j);
    for (int i = 0; i < R; ++i) {
      const size_t o = (size_t)i * ldt + 16 * j;
      __m512 t = ldv(T + o, j, NV, lm);
      if (relu) {
        t = _mm512_maskz_mov_ps(
            _mm512_cmp_ps_mask(ldv(a + o, j, NV, lm), _mm512_setzero_ps(), _CMP_GT_OQ), t);
        stv(T + o, t, j, NV, lm);
      }
      s1 = _mm512_add_ps(s1, t);
      s2 = _mm512_fmadd_ps(t, _mm512_mul_ps(_mm512_sub_ps(ldv(z + o, j, NV, lm), m), q), s2);
    }
    _mm512_storeu_ps(S + 16 * j, s1);
    _mm512_storeu_ps(S + 64 + 16 * j, s2);
  }
}

AVX512_FN static void linear_act_bn_backward_avx512(float *dz, float *dgamma, float *dbeta,
                                                    float *db, const float *dy, const float *W,
                                                    int K, const float *a, const float *z,
                                                    const float *mean, const float *rstd,
                                                    const float *gamma, int B, int C, int relu,
                                                    int train) {
  for (int c0 = 0; c0 < C; c0 += 64) {
    const int cn = C - c0 < 64 ? C - c0 : 64, nv = (cn + 15) / 16;
    const __mmask16 lm = tail_mask(cn - 16 * (nv - 1));
    float S[128] __attribute__((aligned(64))), mu[64] __attribute__((aligned(64))),
        rs[64] __attribute__((aligned(64)));
    memset(S, 0, sizeof S);
    memset(mu, 0, sizeof mu);
    memset(rs, 0, sizeof rs);
    memcpy(mu, mean + c0, sizeof(float) * (size_t)cn);
    memcpy(rs, rstd + c0, sizeof(float) * (size_t)cn);
    for (int r = 0; r < B; r += 4) {
      const int rn = B - r < 4 ? B - r : 4;
      const size_t o = (size_t)r * C + c0;
      DISPATCH_RN(nn_tile, rn, nv, dz + o, C, dy + (size_t)r * K, K, W + c0, C, K, NULL, 0, lm)
      switch (nv) {
        case 4: bn_bwd_tile_sums(dz + o, C, a + o, z + o, mu, rs, S, relu, lm, rn, 4); break;
        case 3: bn_bwd_tile_sums(dz + o, C, a + o, z + o, mu, rs, S, relu, lm, rn, 3); break;
        case 2: bn_bwd_tile_sums(dz + o, C, a + o, z + o, mu, rs, S, relu, lm, rn, 2); break;
        default: bn_bwd_tile_sums(dz + o, C, a + o, z + o, mu, rs, S, relu, lm, rn, 1); break;
      }
    }
#define OFF(p) ((p) ? (p) + c0 : NULL)
#define BN_BWD_ARGS dz + c0, OFF(dgamma), OFF(dbeta), OFF(db), dz + c0, a + c0, z + c0, \
                    mean + c0, rstd + c0, gamma + c0, B, C, 0, train, S, lm
    switch (nv) {
      case 4: act_bn_bwd_chunk(BN_BWD_ARGS, 4); break;
      case 3: act_bn_bwd_chunk(BN_BWD_ARGS, 3); break;
      case 2: act_bn_bwd_chunk(BN_BWD_ARGS, 2); break;
      default: act_bn_bwd_chunk(BN_BWD_ARGS, 1); break;
    }
#undef BN_BWD_ARGS
#undef OFF
  }
}
#endif /* MBRL_NN_AVX512 */

void mbrl_nn_cpu_bn_act_forward_train(float *a, float *mean, float *rstd, float *running_mean,
                                      float *running_var, const float *z, const float *gamma,
                                      const float *beta, int B, int C, float momentum, float eps,
                                      mbrl_act act) {
#ifdef MBRL_NN_AVX512
  if (cpu_path() && act != MBRL_ACT_TANH) {
    bn_act_forward_train_avx512(a, mean, rstd, running_mean, running_var, z, gamma, beta, B, C,
                                momentum, eps, act == MBRL_ACT_RELU);
    return;
  }
#endif
  bn_forward_train(a, mean, rstd, running_mean, running_var, z, gamma, beta, B, C, momentum, eps);
  act_forward(a, a, (size_t)B * (size_t)C, act);
}

void mbrl_nn_cpu_act_bn_backward(float *dz, float *dgamma, float *dbeta, float *db,
                                 const float *da, const float *a, const float *z,
                                 const float *mean, const float *rstd, const float *gamma, int B,
                                 int C, mbrl_act act, int train) {
#ifdef MBRL_NN_AVX512
  if (cpu_path() && act != MBRL_ACT_TANH) {
    act_bn_backward_avx512(dz, dgamma, dbeta, db, da, a, z, mean, rstd, gamma, B, C,
                           act == MBRL_ACT_RELU, train);
    return;
  }
#endif
  act_backward(dz, da, a, (size_t)B * (size_t)C, act);
  bn_backward(dz, dgamma, dbeta, dz, z, mean, rstd, gamma, B, C, train);
  if (db) bias_grad(db, dz, B, C);
}

void mbrl_nn_cpu_linear_act_bn_backward(float *dz, float *dgamma, float *dbeta, float *db,
                                        const float *dy, const float *W, int K, const float *a,
                                        const float *z, const float *mean, const float *rstd,
                                        const float *gamma, int B, int C, mbrl_act act,
                                        int train) {
#ifdef MBRL_NN_AVX512
  if (cpu_path() && act != MBRL_ACT_TANH) {
    linear_act_bn_backward_avx512(dz, dgamma, dbeta, db, dy, W, K, a, z, mean, rstd, gamma, B, C,
                                  act == MBRL_ACT_RELU, train);
    return;
  }
#endif
  mbrl_nn_linear_backward(dz, NULL, NULL, dy, NULL, W, B, C, K);
  mbrl_nn_cpu_act_bn_backward(dz, dgamma, dbeta, db, dz, a, z, mean, rstd, gamma, B, C, act,
                              train);
}

/* ---- optimizers ---- */

#ifdef MBRL_NN_AVX512
/* The optimizer loops 16 wide: the same operations in the same order as nn_math.h (no FMA),
 * so bit-identical to the scalar functions; the last partial vector is masked. */
AVX512_FN static void adam_avx512(float *p, float *m, float *v, const float *g, size_t n,
                                  float beta1, float beta2, float step_size, float bc2_sqrt,
                                  float eps) {
  const __m512 b1 = _mm512_set1_ps(beta1), omb1 = _mm512_set1_ps(1.0f - beta1);
  const __m512 b2 = _mm512_set1_ps(beta2), omb2 = _mm512_set1_ps(1.0f - beta2);
  const __m512 bc = _mm512_set1_ps(bc2_sqrt), ep = _mm512_set1_ps(eps);
  const __m512 nss = _mm512_set1_ps(-step_size);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i < 16 ? (int)(n - i) : 16);
    const __m512 gv = _mm512_maskz_loadu_ps(k, g + i);
    const __m512 mm = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, m + i), b1),
                                    _mm512_mul_ps(gv, omb1));
    const __m512 vv = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, v + i), b2),
                                    _mm512_mul_ps(omb2, _mm512_mul_ps(gv, gv)));
    const __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vv), bc), ep);
    _mm512_mask_storeu_ps(m + i, k, mm);
    _mm512_mask_storeu_ps(v + i, k, vv);
    _mm512_mask_storeu_ps(p + i, k,
                          _mm512_add_ps(_mm512_maskz_loadu_ps(k, p + i),
                                        _mm512_mul_ps(nss, _mm512_div_ps(mm, denom))));
  }
}

AVX512_FN static void rmsprop_avx512(float *p, float *sq, const float *g, size_t n, float lr,
                                     float alpha, float eps) {
  const __m512 al = _mm512_set1_ps(alpha), oma = _mm512_set1_ps(1.0f - alpha);
  const __m512 ep = _mm512_set1_ps(eps), nlr = _mm512_set1_ps(-lr);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i < 16 ? (int)(n - i) : 16);
    const __m512 gv = _mm512_maskz_loadu_ps(k, g + i);
    const __m512 sv = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, sq + i), al),
                                    _mm512_mul_ps(oma, _mm512_mul_ps(gv, gv)));
    const __m512 avg = _mm512_add_ps(_mm512_sqrt_ps(sv), ep);
    _mm512_mask_storeu_ps(sq + i, k, sv);
    _mm512_mask_storeu_ps(p + i, k,
                          _mm512_add_ps(_mm512_maskz_loadu_ps(k, p + i),
                                        _mm512_mul_ps(nlr, _mm512_div_ps(gv, avg))));
  }
}
#endif

void mbrl_nn_adam_step(float *p, float *m, float *v, const float *g, size_t n, float lr,
                       float beta1, float beta2, float eps, long long step) {
  /* as torch: bias corrections in double on the host, used as float scalars */
  const double bc1 = 1.0 - pow((double)beta1, (double)step);
  const double bc2 = 1.0 - pow((double)beta2, (double)step);
  const float step_size = (float)((double)lr / bc1);
  const float bc2_sqrt = (float)sqrt(bc2);
#ifdef MBRL_NN_AVX512
  if (cpu_path()) {
    adam_avx512(p, m, v, g, n, beta1, beta2, step_size, bc2_sqrt, eps);
    return;
  }
#endif
  size_t i0 = 0;
#ifdef MBRL_NN_SSE
  const __m128 b1 = _mm_set1_ps(beta1), omb1 = _mm_set1_ps(1.0f - beta1);
  const __m128 b2 = _mm_set1_ps(beta2), omb2 = _mm_set1_ps(1.0f - beta2);
  const __m128 bc = _mm_set1_ps(bc2_sqrt), ep = _mm_set1_ps(eps), nss = _mm_set1_ps(-step_size);
  for (; i0 + 4 <= n; i0 += 4) {
    const __m128 gv = _mm_loadu_ps(g + i0);
    const __m128 mm = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(m + i0), b1), _mm_mul_ps(gv, omb1));
    const __m128 vv = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + i0), b2),
                                 _mm_mul_ps(omb2, _mm_mul_ps(gv, gv)));
    const __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vv), bc), ep);
    _mm_storeu_ps(m + i0, mm);
    _mm_storeu_ps(v + i0, vv);
    _mm_storeu_ps(p + i0, _mm_add_ps(_mm_loadu_ps(p + i0), _mm_mul_ps(nss, _mm_div_ps(mm, denom))));
  }
#endif
  for (size_t i = i0; i < n; ++i)
    mbrl_adam_update(p + i, m + i, v + i, g[i], beta1, beta2, step_size, bc2_sqrt, eps);
}

void mbrl_nn_rmsprop_step(float *p, float *sq, const float *g, size_t n, float lr, float alpha,
                          float eps) {
#ifdef MBRL_NN_AVX512
  if (cpu_path()) {
    rmsprop_avx512(p, sq, g, n, lr, alpha, eps);
    return;
  }
#endif
  size_t i0 = 0;
#ifdef MBRL_NN_SSE
  const __m128 al = _mm_set1_ps(alpha), oma = _mm_set1_ps(1.0f - alpha), ep = _mm_set1_ps(eps);
  const __m128 nlr = _mm_set1_ps(-lr);
  for (; i0 + 4 <= n; i0 += 4) {
    const __m128 gv = _mm_loadu_ps(g + i0);
    const __m128 sv = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(sq + i0), al),
                                 _mm_mul_ps(oma, _mm_mul_ps(gv, gv)));
    const __m128 avg = _mm_add_ps(_mm_sqrt_ps(sv), ep);
    _mm_storeu_ps(sq + i0, sv);
    _mm_storeu_ps(p + i0, _mm_add_ps(_mm_loadu_ps(p + i0), _mm_mul_ps(nlr, _mm_div_ps(gv, avg))));
  }
#endif
  for (size_t i = i0; i < n; ++i) mbrl_rmsprop_update(p + i, sq + i, g[i], lr, alpha, eps);
}

void mbrl_nn_clip_grad_norm(float *g, float *norm, size_t n, float max_norm) {
  double acc = 0.0;
  for (size_t i = 0; i < n; ++i) acc += (double)g[i] * (double)g[i];
  const float total = (float)sqrt(acc);
  if (norm) *norm = total;
  float coef = max_norm / (total + 1e-6f);
  if (coef < 1.0f)
    for (size_t i = 0; i < n; ++i) g[i] *= coef;
}
