/* src/host/cpu/gemm.h - kernel source (compiled once per ISA, see host/simd.h): the register-
 * tiled matrix micro-kernels that the MLP ops (cpu/nn.c) and the planner rollout (cpu/plan.c)
 * are built from. Matrices are row-major with leading dimensions; columns are processed in
 * tiles of SIMD_NR vectors, rows in tiles of SIMD_MR.
 *
 * Reproducibility: every output element is computed by the same sequence of operations
 * whatever tile, block or batch it falls in (the sum over k runs in order, one accumulator per
 * element; dot products reduce in vf_hsum's tree whether 1 or VW rows at a time), so a row's
 * result does not depend on the number of rows in the call or on its position. */

/* vector j of a tile of NV vectors at p; with MK the last one holds `tail` valid lanes */
SIMD_INLINE vf ldv(const float *p, int j, const int NV, const int MK, int tail) {
  return MK && j == NV - 1 ? vf_load_n(p, tail) : vf_load(p);
}
SIMD_INLINE void stv(float *p, vf v, int j, const int NV, const int MK, int tail) {
  if (MK && j == NV - 1)
    vf_store_n(p, v, tail);
  else
    vf_store(p, v);
}

/* Column tiling: columns n0 .. n0 + nn of N, as nv vectors, the last with `tail` lanes;
 * mk = 0 for a full tile of SIMD_NR whole vectors. */
typedef struct col_tile {
  int n0, nv, tail, mk;
} col_tile;
SIMD_INLINE col_tile col_tile_at(int n0, int N, int nvmax) {
  col_tile t;
  const int nn = N - n0 < nvmax * VW ? N - n0 : nvmax * VW;
  t.n0 = n0;
  t.nv = (nn + VW - 1) / VW;
  t.tail = nn - VW * (t.nv - 1);
  t.mk = !(t.nv == nvmax && t.tail == VW);
  return t;
}

/* Calls FN(args..., NV, MK) for the column tile t (NV, MK compile-time) with NV <= NVMAX. */
#if SIMD_NR >= 4
#define NR_CASE4(FN, ...) case 4: FN(__VA_ARGS__, 4, 1); break;
#else
#define NR_CASE4(FN, ...)
#endif
#if SIMD_NR >= 3
#define NR_CASE3(FN, ...) case 3: FN(__VA_ARGS__, 3, 1); break;
#else
#define NR_CASE3(FN, ...)
#endif
#define DISPATCH_NV(t, FN, ...)                      \
  do {                                               \
    if (!(t).mk) {                                   \
      FN(__VA_ARGS__, SIMD_NR, 0);                   \
    } else {                                         \
      switch ((t).nv) {                              \
        NR_CASE4(FN, __VA_ARGS__)                    \
        NR_CASE3(FN, __VA_ARGS__)                    \
        case 2: FN(__VA_ARGS__, 2, 1); break;        \
        default: FN(__VA_ARGS__, 1, 1); break;       \
      }                                              \
    }                                                \
  } while (0)
/* The same for the sparse kernels, whose tiles are SPARSE_NV vectors wide: enough FMA chains
 * per nonzero to cover the latency and amortize its bookkeeping (avx2: 8 ymm = 64 columns of
 * one row; avx512 and generic: 4 vectors, two rows at a time). */
#if VW == 8
#define SPARSE_NV 8
#define SPARSE_PAIRS 0
#else
#define SPARSE_NV 4
#define SPARSE_PAIRS 1
#endif
#if SPARSE_NV >= 8
#define SNV_CASES8(FN, ...)                    \
  case 8: FN(__VA_ARGS__, 8, 1); break;        \
  case 7: FN(__VA_ARGS__, 7, 1); break;        \
  case 6: FN(__VA_ARGS__, 6, 1); break;        \
  case 5: FN(__VA_ARGS__, 5, 1); break;
#else
#define SNV_CASES8(FN, ...)
#endif
#define DISPATCH_SNV(t, FN, ...)                     \
  do {                                               \
    if (!(t).mk) {                                   \
      FN(__VA_ARGS__, SPARSE_NV, 0);                 \
    } else {                                         \
      switch ((t).nv) {                              \
        SNV_CASES8(FN, __VA_ARGS__)                  \
        case 4: FN(__VA_ARGS__, 4, 1); break;        \
        case 3: FN(__VA_ARGS__, 3, 1); break;        \
        case 2: FN(__VA_ARGS__, 2, 1); break;        \
        default: FN(__VA_ARGS__, 1, 1); break;       \
      }                                              \
    }                                                \
  } while (0)
/* Calls FN(R, args...) with R = r compile-time, r in 1..SIMD_MR. */
#if SIMD_MR >= 6
#define MR_CASE6(FN, ...) case 6: FN(6, __VA_ARGS__); break; case 5: FN(5, __VA_ARGS__); break;
#else
#define MR_CASE6(FN, ...)
#endif
#define DISPATCH_R(r, FN, ...)                       \
  switch (r) {                                       \
    MR_CASE6(FN, __VA_ARGS__)                        \
    case 4: FN(4, __VA_ARGS__); break;               \
    case 3: FN(3, __VA_ARGS__); break;               \
    case 2: FN(2, __VA_ARGS__); break;               \
    default: FN(1, __VA_ARGS__); break;              \
  }

/* ------------------------------------------------------------------ "nn": C = A Bm */

/* C (R rows, NV vectors) = A (R, K) Bm (K, .) plus C itself (acc), bias (one row, broadcast
 * down) or nothing; relu: max(., 0) on the way out. One broadcast of A and NV loads of Bm per
 * k feed R*NV accumulators. */
SIMD_INLINE void nn_tile(const int R, float *C, int ldc, const float *A, int lda, const float *Bm,
                         int ldb, int K, const float *bias, int acc, int relu, int tail,
                         const int NV, const int MK) {
  vf c[SIMD_MR][SIMD_NR];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < NV; ++j)
      c[i][j] = acc    ? ldv(C + (size_t)i * ldc + VW * j, j, NV, MK, tail)
                : bias ? ldv(bias + VW * j, j, NV, MK, tail)
                       : vf_zero();
  for (int k = 0; k < K; ++k) {
    vf b[SIMD_NR];
    for (int j = 0; j < NV; ++j) b[j] = ldv(Bm + (size_t)k * ldb + VW * j, j, NV, MK, tail);
    for (int i = 0; i < R; ++i) {
      const vf a = vf_bcast(A + (size_t)i * lda + k);
      for (int j = 0; j < NV; ++j) c[i][j] = vf_fma(a, b[j], c[i][j]);
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < NV; ++j)
      stv(C + (size_t)i * ldc + VW * j, relu ? vf_max(c[i][j], vf_zero()) : c[i][j], j, NV, MK,
          tail);
}
#define NN_TILE_CALL(R, ...) nn_tile(R, __VA_ARGS__)
#define NN_TILE_NV(...) DISPATCH_R(rn, NN_TILE_CALL, __VA_ARGS__)

/* C (M, N) = A (M, K) Bm (K, N) [+ C | + bias (N)] [relu]. */
static void gemm_nn(float *C, int ldc, const float *A, int lda, const float *Bm, int ldb, int M,
                    int K, int N, const float *bias, int acc, int relu) {
  for (int n0 = 0; n0 < N; n0 += SIMD_NR * VW) {
    const col_tile t = col_tile_at(n0, N, SIMD_NR);
    const float *bn = bias ? bias + n0 : NULL;
    for (int r = 0; r < M; r += SIMD_MR) {
      const int rn = M - r < SIMD_MR ? M - r : SIMD_MR;
      float *Cr = C + (size_t)r * ldc + n0;
      const float *Ar = A + (size_t)r * lda;
      DISPATCH_NV(t, NN_TILE_NV, Cr, ldc, Ar, lda, Bm + n0, ldb, K, bn, acc, relu, t.tail);
    }
  }
}

/* ------------------------------------------------------------------ "tn": C = A^T Bm */

/* C (MB rows, NV vectors) = sum over the n rows r of A[r, 0..MB) (x) Bm[r, .]. Overwrites. */
SIMD_INLINE void tn_tile(const int MB, float *C, int ldc, const float *A, int lda, const float *Bm,
                         int ldb, int n, int tail, const int NV, const int MK) {
  vf c[SIMD_MR][SIMD_NR];
  for (int i = 0; i < MB; ++i)
    for (int j = 0; j < NV; ++j) c[i][j] = vf_zero();
  for (int r = 0; r < n; ++r) {
    vf b[SIMD_NR];
    for (int j = 0; j < NV; ++j) b[j] = ldv(Bm + (size_t)r * ldb + VW * j, j, NV, MK, tail);
    for (int i = 0; i < MB; ++i) {
      const vf a = vf_bcast(A + (size_t)r * lda + i);
      for (int j = 0; j < NV; ++j) c[i][j] = vf_fma(a, b[j], c[i][j]);
    }
  }
  for (int i = 0; i < MB; ++i)
    for (int j = 0; j < NV; ++j) stv(C + (size_t)i * ldc + VW * j, c[i][j], j, NV, MK, tail);
}
#define TN_TILE_CALL(R, ...) tn_tile(R, __VA_ARGS__)
#define TN_TILE_NV(...) DISPATCH_R(mn, TN_TILE_CALL, __VA_ARGS__)

/* C (M, N) = A^T Bm with A (n, M), Bm (n, N): the sum over the n rows. Overwrites C. */
static void gemm_tn(float *C, int ldc, const float *A, int lda, const float *Bm, int ldb, int M,
                    int N, int n) {
  for (int n0 = 0; n0 < N; n0 += SIMD_NR * VW) {
    const col_tile t = col_tile_at(n0, N, SIMD_NR);
    for (int m = 0; m < M; m += SIMD_MR) {
      const int mn = M - m < SIMD_MR ? M - m : SIMD_MR;
      DISPATCH_NV(t, TN_TILE_NV, C + (size_t)m * ldc + n0, ldc, A + m, lda, Bm + n0, ldb, n,
                  t.tail);
    }
  }
}

/* dst (cols, ldd) = src (rows, cols)^T for a block of at most VW x VW; full blocks go through
 * registers (vf_transpose), partial ones element by element. */
static void transpose_block(float *dst, int ldd, const float *src, int lds, int rows, int cols) {
  if (rows < VW || cols < VW) {
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) dst[(size_t)c * ldd + r] = src[(size_t)r * lds + c];
    return;
  }
  vf v[VW];
  for (int i = 0; i < VW; ++i) v[i] = vf_load(src + (size_t)i * lds);
  vf_transpose(v);
  for (int i = 0; i < VW; ++i) vf_store(dst + (size_t)i * ldd, v[i]);
}

/* ------------------------------------------------------------------ sparse "nn" */

/* Makes p opaque to the optimizer so it lives in a register: the loads that use it then take
 * base + displacement addressing, which stays one micro-fused uop per FMA (GCC otherwise picks
 * base + index * 4 + displacement, two uops each on Intel cores, and the sparse loops become
 * front-end bound). */
#define SIMD_OPAQUE(p) __asm__("" : "+r"(p))

/* Bit k of the result: A[k] != 0 (NaN counts as nonzero), for K <= 64. */
SIMD_INLINE uint64_t nonzero_mask(const float *A, int K) {
  uint64_t m = 0;
  for (int q = 0; q * VW < K; ++q) {
    const int n = K - q * VW < VW ? K - q * VW : VW;
    m |= (uint64_t)vm_bits(vf_nonzero(vf_load_n(A + q * VW, n))) << (q * VW);
  }
  return m;
}

/* One row, skipping the zeros of A (K <= 64): C0 = A0 Bm (+ C0 | + bias) over the k with
 * A0[k] != 0 only (NaN counts as nonzero), walked from a bit mask with count-trailing-zeros;
 * one accumulator chain per vector in k order. relu: max(., 0) on the way out. */
SIMD_INLINE void sparse_row1(float *C0, const float *A0, const float *Bm, int ldb, int K,
                             const float *bias, int acc, int relu, int tail, const int NV,
                             const int MK) {
  vf c0[SPARSE_NV];
  for (int j = 0; j < NV; ++j)
    c0[j] = acc    ? ldv(C0 + VW * j, j, NV, MK, tail)
            : bias ? ldv(bias + VW * j, j, NV, MK, tail)
                   : vf_zero();
  for (uint64_t m0 = nonzero_mask(A0, K); m0; m0 &= m0 - 1) {
    const int k0 = __builtin_ctzll(m0);
    const vf a0 = vf_bcast(A0 + k0);
    const float *w0 = Bm + (size_t)k0 * ldb;
    SIMD_OPAQUE(w0);
    for (int j = 0; j < NV; ++j) c0[j] = vf_fma(a0, ldv(w0 + VW * j, j, NV, MK, tail), c0[j]);
  }
  for (int j = 0; j < NV; ++j)
    stv(C0 + VW * j, relu ? vf_max(c0[j], vf_zero()) : c0[j], j, NV, MK, tail);
}

#if SPARSE_PAIRS
/* Two rows at once, same Bm: one nonzero of each row per step while both have some (2 NV
 * independent FMA chains), then the rest of the longer row. Each row keeps its one chain in
 * k order, so a row's result is bit for bit sparse_row1's. */
SIMD_INLINE void sparse_row2(float *C0, float *C1, const float *A0, const float *A1,
                             const float *Bm, int ldb, int K, const float *bias, int acc, int relu,
                             int tail, const int NV, const int MK) {
  vf c0[SPARSE_NV], c1[SPARSE_NV];
  for (int j = 0; j < NV; ++j) {
    c0[j] = acc    ? ldv(C0 + VW * j, j, NV, MK, tail)
            : bias ? ldv(bias + VW * j, j, NV, MK, tail)
                   : vf_zero();
    c1[j] = acc    ? ldv(C1 + VW * j, j, NV, MK, tail)
            : bias ? ldv(bias + VW * j, j, NV, MK, tail)
                   : vf_zero();
  }
  uint64_t m0 = nonzero_mask(A0, K), m1 = nonzero_mask(A1, K);
  for (; m0 && m1; m0 &= m0 - 1, m1 &= m1 - 1) {
    const int k0 = __builtin_ctzll(m0), k1 = __builtin_ctzll(m1);
    const vf a0 = vf_bcast(A0 + k0), a1 = vf_bcast(A1 + k1);
    const float *w0 = Bm + (size_t)k0 * ldb, *w1 = Bm + (size_t)k1 * ldb;
    SIMD_OPAQUE(w0);
    SIMD_OPAQUE(w1);
    for (int j = 0; j < NV; ++j) {
      c0[j] = vf_fma(a0, ldv(w0 + VW * j, j, NV, MK, tail), c0[j]);
      c1[j] = vf_fma(a1, ldv(w1 + VW * j, j, NV, MK, tail), c1[j]);
    }
  }
  for (; m0; m0 &= m0 - 1) {
    const int k0 = __builtin_ctzll(m0);
    const vf a0 = vf_bcast(A0 + k0);
    const float *w0 = Bm + (size_t)k0 * ldb;
    SIMD_OPAQUE(w0);
    for (int j = 0; j < NV; ++j) c0[j] = vf_fma(a0, ldv(w0 + VW * j, j, NV, MK, tail), c0[j]);
  }
  for (; m1; m1 &= m1 - 1) {
    const int k1 = __builtin_ctzll(m1);
    const vf a1 = vf_bcast(A1 + k1);
    const float *w1 = Bm + (size_t)k1 * ldb;
    SIMD_OPAQUE(w1);
    for (int j = 0; j < NV; ++j) c1[j] = vf_fma(a1, ldv(w1 + VW * j, j, NV, MK, tail), c1[j]);
  }
  for (int j = 0; j < NV; ++j) {
    stv(C0 + VW * j, relu ? vf_max(c0[j], vf_zero()) : c0[j], j, NV, MK, tail);
    stv(C1 + VW * j, relu ? vf_max(c1[j], vf_zero()) : c1[j], j, NV, MK, tail);
  }
}
#endif

/* gemm_nn skipping the exact zeros of A (a ReLU output), any K (in chunks of 64, the later
 * chunks accumulating into C), rows in pairs. */
static void gemm_nn_sparse(float *C, int ldc, const float *A, int lda, const float *Bm, int ldb,
                           int M, int K, int N, const float *bias, int acc, int relu) {
  for (int k0 = 0; k0 < K; k0 += 64) {
    const int kn = K - k0 < 64 ? K - k0 : 64;
    const int last = k0 + kn >= K;
    for (int n0 = 0; n0 < N; n0 += SPARSE_NV * VW) {
      const col_tile t = col_tile_at(n0, N, SPARSE_NV);
      const float *Bk = Bm + (size_t)k0 * ldb + n0, *bn = bias ? bias + n0 : NULL;
      const float *bk = k0 == 0 ? bn : NULL;
      const int ak = acc || k0 > 0, rk = relu && last;
      int r = 0;
#if SPARSE_PAIRS
      for (; r + 2 <= M; r += 2) {
        float *C0 = C + (size_t)r * ldc + n0;
        const float *A0 = A + (size_t)r * lda + k0;
        DISPATCH_SNV(t, sparse_row2, C0, C0 + ldc, A0, A0 + lda, Bk, ldb, kn, bk, ak, rk, t.tail);
      }
#endif
      for (; r < M; ++r)
        DISPATCH_SNV(t, sparse_row1, C + (size_t)r * ldc + n0, A + (size_t)r * lda + k0, Bk, ldb,
                     kn, bk, ak, rk, t.tail);
    }
  }
}

/* ------------------------------------------------------------------ dot products */

/* Outputs narrower than a vector: y[r, o] = x[r, :] . W[o, :] (+ b[o]) for rows r < M, written
 * at y + r * rs + o * cs (rs = out, cs = 1: row-major; rs = 1, cs = ld: feature-major).
 * Groups of VW rows: one accumulator per row (FMAs along `in`, masked tail), vf_hsum_lanes
 * turns the VW accumulators into the VW rows' sums of one output; leftover rows use vf_hsum
 * (the same tree: same bits). */
static void dot_rows(float *y, size_t rs, size_t cs, const float *x, int ldx, const float *W,
                     int ldw, const float *b, int M, int in, int out) {
  int r0 = 0;
  for (; r0 + VW <= M; r0 += VW) {
    const float *xr = x + (size_t)r0 * ldx;
    for (int o = 0; o < out; ++o) {
      const float *wo = W + (size_t)o * ldw;
      vf acc[VW];
      for (int i = 0; i < VW; ++i) acc[i] = vf_zero();
      for (int k = 0; k < in; k += VW) {
        const int n = in - k < VW ? in - k : VW;
        const vf w = vf_load_n(wo + k, n);
        for (int i = 0; i < VW; ++i)
          acc[i] = vf_fma(vf_load_n(xr + (size_t)i * ldx + k, n), w, acc[i]);
      }
      vf s = vf_hsum_lanes(acc);
      if (b) s = vf_add(s, vf_set1(b[o]));
      if (rs == 1) {
        vf_store(y + (size_t)r0 + (size_t)o * cs, s);
      } else {
        float t[VW];
        vf_store(t, s);
        for (int i = 0; i < VW; ++i) y[(size_t)(r0 + i) * rs + (size_t)o * cs] = t[i];
      }
    }
  }
  for (int r = r0; r < M; ++r) {
    const float *xr = x + (size_t)r * ldx;
    for (int o = 0; o < out; ++o) {
      const float *wo = W + (size_t)o * ldw;
      vf acc = vf_zero();
      for (int k = 0; k < in; k += VW) {
        const int n = in - k < VW ? in - k : VW;
        acc = vf_fma(vf_load_n(xr + k, n), vf_load_n(wo + k, n), acc);
      }
      const float s = vf_hsum(acc);
      y[(size_t)r * rs + (size_t)o * cs] = b ? s + b[o] : s;
    }
  }
}
