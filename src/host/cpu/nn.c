/* src/host/cpu/nn.c - kernel source (compiled once per ISA, see host/simd.h): the CPU twins of
 * mbrl/nn.h and the fused ops of host/nn_cpu.h, entered through host/cpu_kernels.h's table.
 *
 * - Linear: y = x W^T as the "nn" tile kernel on W^T blocks (transposed 64 x 64 at a time on
 *   the stack), or, for an input that is mostly exact zeros (a ReLU output), the sparse kernel
 *   that does only the FMAs of the nonzeros; outputs narrower than a vector as dot products.
 *   Backward: dW = dy^T x ("tn" kernel, or sparse over the zeros of x), dx = dy W ("nn").
 * - BatchNorm + activation fused forward (sums, centred squares, apply) and backward, and the
 *   backward that forms the next Linear's input gradient tile by tile while it is in L1.
 * - Elementwise: activations (tanh by host/vmath.h's v_tanh), Adam and RMSprop in nn_math.h's
 *   operation order without FMA (bit-identical to the scalar functions on every path), and
 *   plain C loops (BatchNorm unfused, MSE, bias gradient) that the compiler vectorizes for the
 *   path; those round identically on every path (no FMA contraction, no reassociation).
 * No heap: buffers are the caller's; stack tiles of at most 32 KiB. */

enum { TILE = 64 }; /* W^T tiles of TILE x TILE floats (16 KiB) on the stack */
#define CH (SIMD_NR * VW) /* channels per BatchNorm chunk: SIMD_NR vectors in registers */

/* ---------------------------------------------------------------- Linear */

/* sparse = 1: x is mostly exact zeros (skip them). */
static void SIMD_SYM(linear_forward)(float *y, const float *x, const float *W, const float *b,
                                     int B, int in, int out, int sparse) {
  if (out < VW) {
    dot_rows(y, (size_t)out, 1, x, in, W, in, b, B, in, out);
    return;
  }
  /* y = x W^T: a (TILE out x TILE in) block of W at a time transposed into wt (in, out), then
   * the nn kernel over all rows; blocks after the first along `in` accumulate into y */
  float wt[TILE * TILE] __attribute__((aligned(64)));
  for (int o0 = 0; o0 < out; o0 += TILE) {
    const int on = out - o0 < TILE ? out - o0 : TILE;
    for (int k0 = 0; k0 < in; k0 += TILE) {
      const int kn = in - k0 < TILE ? in - k0 : TILE;
      for (int ob = 0; ob < on; ob += VW)
        for (int kb = 0; kb < kn; kb += VW)
          transpose_block(wt + kb * TILE + ob, TILE, W + (size_t)(o0 + ob) * in + k0 + kb, in,
                          on - ob < VW ? on - ob : VW, kn - kb < VW ? kn - kb : VW);
      const float *bias = k0 == 0 && b ? b + o0 : NULL;
      if (sparse)
        gemm_nn_sparse(y + o0, out, x + k0, in, wt, TILE, B, kn, on, bias, k0 > 0, 0);
      else
        gemm_nn(y + o0, out, x + k0, in, wt, TILE, B, kn, on, bias, k0 > 0, 0);
    }
  }
}

/* db = sum over rows of dy (out), rows in order. */
static void bias_grad(float *db, const float *dy, int B, int out) {
  for (int o = 0; o < out; ++o) db[o] = 0.0f;
  for (int r = 0; r < B; ++r) {
    const float *dyr = dy + (size_t)r * out;
    for (int o = 0; o < out; ++o) db[o] += dyr[o];
  }
}

/* dW^T (in, out) = x^T dy over the nonzero x only (x mostly zeros): per tile, x is transposed
 * so that each input column becomes a row for the sparse kernels, and the dW^T tile is transposed
 * back into dW (out, in). Rows in chunks of TILE, accumulated. */
static void weight_grad_sparse(float *dW, const float *dy, const float *x, int B, int in,
                               int out) {
  float xt[TILE * TILE] __attribute__((aligned(64)));
  float t[TILE * TILE] __attribute__((aligned(64)));
  for (int i0 = 0; i0 < in; i0 += TILE) {
    const int inn = in - i0 < TILE ? in - i0 : TILE;
    for (int o0 = 0; o0 < out; o0 += TILE) {
      const int on = out - o0 < TILE ? out - o0 : TILE;
      for (int r0 = 0; r0 < B; r0 += TILE) {
        const int rn = B - r0 < TILE ? B - r0 : TILE;
        for (int rb = 0; rb < rn; rb += VW)
          for (int ib = 0; ib < inn; ib += VW)
            transpose_block(xt + ib * TILE + rb, TILE, x + (size_t)(r0 + rb) * in + i0 + ib, in,
                            rn - rb < VW ? rn - rb : VW, inn - ib < VW ? inn - ib : VW);
        const float *dyr = dy + (size_t)r0 * out + o0;
        for (int n0 = 0; n0 < on; n0 += SPARSE_NV * VW) {
          const col_tile ct = col_tile_at(n0, on, SPARSE_NV);
          int i = 0;
#if SPARSE_PAIRS
          for (; i + 2 <= inn; i += 2)
            DISPATCH_SNV(ct, sparse_row2, t + i * TILE + n0, t + (i + 1) * TILE + n0,
                         xt + i * TILE, xt + (i + 1) * TILE, dyr + n0, out, rn, NULL, r0 > 0, 0,
                         ct.tail);
#endif
          for (; i < inn; ++i)
            DISPATCH_SNV(ct, sparse_row1, t + i * TILE + n0, xt + i * TILE, dyr + n0, out, rn,
                         NULL, r0 > 0, 0, ct.tail);
        }
      }
      for (int ob = 0; ob < on; ob += VW)
        for (int ib = 0; ib < inn; ib += VW)
          transpose_block(dW + (size_t)(o0 + ob) * in + i0 + ib, in, t + ib * TILE + ob, TILE,
                          inn - ib < VW ? inn - ib : VW, on - ob < VW ? on - ob : VW);
    }
  }
}

/* sparse = 1: x is mostly exact zeros (dW skips them). */
static void SIMD_SYM(linear_backward)(float *dx, float *dW, float *db, const float *dy,
                                      const float *x, const float *W, int B, int in, int out,
                                      int sparse) {
  if (db) bias_grad(db, dy, B, out);
  if (dW) {
    if (in < VW && out > in) {
      /* narrow input: dW^T (in, out) = x^T dy in blocks of TILE outputs, then transposed */
      float t[VW * TILE] __attribute__((aligned(64)));
      for (int o0 = 0; o0 < out; o0 += TILE) {
        const int on = out - o0 < TILE ? out - o0 : TILE;
        gemm_tn(t, TILE, x, in, dy + o0, out, in, on, B);
        for (int o = 0; o < on; ++o)
          for (int i = 0; i < in; ++i) dW[(size_t)(o0 + o) * in + i] = t[i * TILE + o];
      }
    } else if (sparse && out >= VW) {
      weight_grad_sparse(dW, dy, x, B, in, out);
    } else {
      gemm_tn(dW, in, dy, out, x, in, out, in, B);
    }
  }
  if (dx) gemm_nn(dx, in, dy, out, W, in, B, out, in, NULL, 0, 0);
}

/* ---------------------------------------------------------------- activations */

/* act(v) for one vector: relu max(v, 0) (NaN -> 0 as mbrl_relu_fwd), tanh v_tanh, identity */
SIMD_INLINE vf act_vec(vf v, mbrl_act act) {
  return act == MBRL_ACT_RELU ? vf_max(v, vf_zero()) : act == MBRL_ACT_TANH ? v_tanh(v) : v;
}
/* dy * act'(.) from the forward output y, as mbrl_act_bwd: relu y > 0 ? dy : 0, tanh
 * dy (1 - y^2) (multiply, subtract, multiply: no FMA) */
SIMD_INLINE vf act_bwd_vec(vf dy, vf y, mbrl_act act) {
  return act == MBRL_ACT_RELU   ? vf_select(vf_gt(y, vf_zero()), dy, vf_zero())
         : act == MBRL_ACT_TANH ? vf_mul(dy, vf_sub(vf_set1(1.0f), vf_mul(y, y)))
                                : dy;
}

static void SIMD_SYM(act_forward)(float *y, const float *x, size_t n, mbrl_act act) {
  if (act == MBRL_ACT_NONE) {
    if (y != x) memmove(y, x, n * sizeof(float));
    return;
  }
  for (size_t i = 0; i < n; i += VW) {
    const int m = n - i < (size_t)VW ? (int)(n - i) : VW;
    vf_store_n(y + i, act_vec(vf_load_n(x + i, m), act), m);
  }
}

static void SIMD_SYM(act_backward)(float *dx, const float *dy, const float *y, size_t n,
                                   mbrl_act act) {
  if (act == MBRL_ACT_NONE) {
    if (dx != dy) memmove(dx, dy, n * sizeof(float));
    return;
  }
  for (size_t i = 0; i < n; i += VW) {
    const int m = n - i < (size_t)VW ? (int)(n - i) : VW;
    vf_store_n(dx + i, act_bwd_vec(vf_load_n(dy + i, m), vf_load_n(y + i, m), act), m);
  }
}

/* ---------------------------------------------------------------- BatchNorm1d (unfused) */

/* Channels in blocks of BN_BLOCK so that per-channel sums, scales and shifts live in stack
 * arrays the compiler knows do not alias the data (the loops vectorize). */
enum { BN_BLOCK = 256 };

/* y[r, c0 + c] = x[r, c0 + c] * scale[c] + shift[c] for one block of channels. */
static void bn_apply_block(float *y, const float *x, const float *scale, const float *shift,
                           int B, int C, int c0, int cn) {
  for (int r = 0; r < B; ++r) {
    const float *xr = x + (size_t)r * C + c0;
    float *yr = y + (size_t)r * C + c0;
    for (int c = 0; c < cn; ++c) yr[c] = mbrl_bn_apply(xr[c], scale[c], shift[c]);
  }
}

static void SIMD_SYM(bn_forward_train)(float *y, float *mean, float *rstd, float *running_mean,
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

static void SIMD_SYM(bn_forward_eval)(float *y, float *mean, float *rstd, const float *x,
                                      const float *gamma, const float *beta,
                                      const float *running_mean, const float *running_var, int B,
                                      int C, float eps) {
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

static void SIMD_SYM(bn_backward)(float *dx, float *dgamma, float *dbeta, const float *dy,
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

/* ---------------------------------------------------------------- BatchNorm + activation */

/* One chunk of NV vectors (<= CH channels; pointers offset to the chunk's first channel, rows
 * C apart): three passes (sum, centred squares, apply + act) with the per-channel sums, scales
 * and shifts in registers. Two accumulators per channel (even / odd rows). */
SIMD_INLINE void bn_act_fwd_chunk(float *a, float *mean, float *rstd, float *running_mean,
                                  float *running_var, const float *z, const float *gamma,
                                  const float *beta, int B, int C, float momentum, float eps,
                                  mbrl_act act, int tail, const int NV, const int MK) {
  const vf zero = vf_zero(), invB = vf_set1(1.0f / (float)B);
  vf s0[SIMD_NR], s1[SIMD_NR], mu[SIMD_NR], sc[SIMD_NR], sh[SIMD_NR];
#define Z(r, j) ldv(z + (size_t)(r) * C + VW * (j), j, NV, MK, tail)
  for (int j = 0; j < NV; ++j) s0[j] = s1[j] = zero;
  int r = 0;
  for (; r + 2 <= B; r += 2)
    for (int j = 0; j < NV; ++j) {
      s0[j] = vf_add(s0[j], Z(r, j));
      s1[j] = vf_add(s1[j], Z(r + 1, j));
    }
  for (; r < B; ++r)
    for (int j = 0; j < NV; ++j) s0[j] = vf_add(s0[j], Z(r, j));
  for (int j = 0; j < NV; ++j) {
    mu[j] = vf_mul(vf_add(s0[j], s1[j]), invB);
    s0[j] = s1[j] = zero;
  }
  for (r = 0; r + 2 <= B; r += 2)
    for (int j = 0; j < NV; ++j) {
      const vf d0 = vf_sub(Z(r, j), mu[j]), d1 = vf_sub(Z(r + 1, j), mu[j]);
      s0[j] = vf_fma(d0, d0, s0[j]);
      s1[j] = vf_fma(d1, d1, s1[j]);
    }
  for (; r < B; ++r)
    for (int j = 0; j < NV; ++j) {
      const vf d0 = vf_sub(Z(r, j), mu[j]);
      s0[j] = vf_fma(d0, d0, s0[j]);
    }
  const vf unbias = vf_set1(B > 1 ? (float)B / (float)(B - 1) : 1.0f);
  const vf mom = vf_set1(momentum), keep = vf_set1(1.0f - momentum);
  for (int j = 0; j < NV; ++j) {
    /* the per-channel formulas of nn_math.h, VW channels at a time (same roundings) */
    const vf var = vf_mul(vf_add(s0[j], s1[j]), invB);
    const vf rs = vf_div(vf_set1(1.0f), vf_sqrt(vf_add(var, vf_set1(eps))));
    const vf rm = ldv(running_mean + VW * j, j, NV, MK, tail);
    const vf rv = ldv(running_var + VW * j, j, NV, MK, tail);
    stv(running_mean + VW * j, vf_add(vf_mul(keep, rm), vf_mul(mom, mu[j])), j, NV, MK, tail);
    stv(running_var + VW * j, vf_add(vf_mul(keep, rv), vf_mul(mom, vf_mul(var, unbias))), j, NV,
        MK, tail);
    stv(mean + VW * j, mu[j], j, NV, MK, tail);
    stv(rstd + VW * j, rs, j, NV, MK, tail);
    sc[j] = vf_mul(rs, ldv(gamma + VW * j, j, NV, MK, tail));
    sh[j] = vf_sub(ldv(beta + VW * j, j, NV, MK, tail), vf_mul(mu[j], sc[j]));
  }
  for (r = 0; r < B; ++r)
    for (int j = 0; j < NV; ++j) {
      const vf v = vf_add(vf_mul(Z(r, j), sc[j]), sh[j]);
      stv(a + (size_t)r * C + VW * j, act_vec(v, act), j, NV, MK, tail);
    }
#undef Z
}

static void SIMD_SYM(bn_act_forward_train)(float *a, float *mean, float *rstd,
                                           float *running_mean, float *running_var,
                                           const float *z, const float *gamma, const float *beta,
                                           int B, int C, float momentum, float eps,
                                           mbrl_act act) {
  for (int c0 = 0; c0 < C; c0 += CH) {
    const col_tile t = col_tile_at(c0, C, SIMD_NR);
    DISPATCH_NV(t, bn_act_fwd_chunk, a + c0, mean + c0, rstd + c0, running_mean + c0,
                running_var + c0, z + c0, gamma + c0, beta + c0, B, C, momentum, eps, act,
                t.tail);
  }
}

/* Backward of act(BN(z)) for one chunk: pass 1 sums t = act'(da) and t * xhat over the rows,
 * pass 2 recomputes t and xhat and writes dz (and sums it into db).
 * pre: NULL, or the pass-1 sums already made (pre[0..CH) = sum t, pre[CH..2CH) = sum t xhat;
 * then da holds t itself and act must be MBRL_ACT_NONE). */
SIMD_INLINE void act_bn_bwd_chunk(float *dz, float *dgamma, float *dbeta, float *db,
                                  const float *da, const float *a, const float *z,
                                  const float *mean, const float *rstd, const float *gamma, int B,
                                  int C, mbrl_act act, int train, const float *pre, int tail,
                                  const int NV, const int MK) {
  const vf zero = vf_zero();
  vf mu[SIMD_NR], rs[SIMD_NR], s0[SIMD_NR], s1[SIMD_NR], x0[SIMD_NR], x1[SIMD_NR];
  for (int j = 0; j < NV; ++j) {
    mu[j] = ldv(mean + VW * j, j, NV, MK, tail);
    rs[j] = ldv(rstd + VW * j, j, NV, MK, tail);
    s0[j] = s1[j] = x0[j] = x1[j] = zero;
  }
#define ACT_T(r, j)                                                               \
  act_bwd_vec(ldv(da + (size_t)(r) * C + VW * (j), j, NV, MK, tail),             \
              act == MBRL_ACT_NONE ? zero : ldv(a + (size_t)(r) * C + VW * (j), j, NV, MK, tail), \
              act)
#define XHAT(r, j) vf_mul(vf_sub(ldv(z + (size_t)(r) * C + VW * (j), j, NV, MK, tail), mu[j]), rs[j])
  if (pre) {
    for (int j = 0; j < NV; ++j) {
      s0[j] = vf_load(pre + VW * j);
      x0[j] = vf_load(pre + CH + VW * j);
      if (dgamma) stv(dgamma + VW * j, x0[j], j, NV, MK, tail);
      if (dbeta) stv(dbeta + VW * j, s0[j], j, NV, MK, tail);
    }
  } else if (train || dgamma || dbeta) {
    int r = 0;
    for (; r + 2 <= B; r += 2)
      for (int j = 0; j < NV; ++j) {
        const vf t0 = ACT_T(r, j), t1 = ACT_T(r + 1, j);
        s0[j] = vf_add(s0[j], t0);
        s1[j] = vf_add(s1[j], t1);
        x0[j] = vf_fma(t0, XHAT(r, j), x0[j]);
        x1[j] = vf_fma(t1, XHAT(r + 1, j), x1[j]);
      }
    for (; r < B; ++r)
      for (int j = 0; j < NV; ++j) {
        const vf t0 = ACT_T(r, j);
        s0[j] = vf_add(s0[j], t0);
        x0[j] = vf_fma(t0, XHAT(r, j), x0[j]);
      }
    for (int j = 0; j < NV; ++j) {
      s0[j] = vf_add(s0[j], s1[j]); /* sum dy (dbeta) */
      x0[j] = vf_add(x0[j], x1[j]); /* sum dy * xhat (dgamma) */
      if (dgamma) stv(dgamma + VW * j, x0[j], j, NV, MK, tail);
      if (dbeta) stv(dbeta + VW * j, s0[j], j, NV, MK, tail);
    }
  }
  if (!dz) return;
  const vf invB = vf_set1(1.0f / (float)B);
  vf k[SIMD_NR], acc[SIMD_NR];
  for (int j = 0; j < NV; ++j) {
    k[j] = vf_mul(rs[j], ldv(gamma + VW * j, j, NV, MK, tail));
    s0[j] = vf_mul(s0[j], invB); /* mean(dy) */
    x0[j] = vf_mul(x0[j], invB); /* mean(dy * xhat) */
    acc[j] = zero;
  }
  for (int r = 0; r < B; ++r)
    for (int j = 0; j < NV; ++j) {
      const vf t = ACT_T(r, j);
      /* train: (dy - mean(dy) - xhat * mean(dy xhat)) * rstd * gamma; eval: dy * rstd * gamma */
      const vf v = train ? vf_mul(vf_fnma(XHAT(r, j), x0[j], vf_sub(t, s0[j])), k[j])
                         : vf_mul(t, k[j]);
      stv(dz + (size_t)r * C + VW * j, v, j, NV, MK, tail);
      acc[j] = vf_add(acc[j], v);
    }
#undef ACT_T
#undef XHAT
  if (db)
    for (int j = 0; j < NV; ++j) stv(db + VW * j, acc[j], j, NV, MK, tail);
}

#define OFF(p) ((p) ? (p) + c0 : NULL)

static void SIMD_SYM(act_bn_backward)(float *dz, float *dgamma, float *dbeta, float *db,
                                      const float *da, const float *a, const float *z,
                                      const float *mean, const float *rstd, const float *gamma,
                                      int B, int C, mbrl_act act, int train) {
  for (int c0 = 0; c0 < C; c0 += CH) {
    const col_tile t = col_tile_at(c0, C, SIMD_NR);
    DISPATCH_NV(t, act_bn_bwd_chunk, OFF(dz), OFF(dgamma), OFF(dbeta), OFF(db), da + c0, a + c0,
                z + c0, mean + c0, rstd + c0, gamma + c0, B, C, act, train, NULL, t.tail);
  }
}

/* After nn_tile has written da for R rows x NV vectors into T (still in L1): t = act'(da) is
 * written back and the sums of t and t * xhat over these rows are added into S
 * (S[0..CH) sum t, S[CH..2CH) sum t xhat). a, z, T share the row stride. */
SIMD_INLINE void bn_bwd_tile_sums(const int R, float *T, int ldt, const float *a, const float *z,
                                  const float *mu, const float *rs, float *S, mbrl_act act,
                                  int tail, const int NV, const int MK) {
  for (int j = 0; j < NV; ++j) {
    const vf m = vf_load(mu + VW * j), q = vf_load(rs + VW * j);
    vf s1 = vf_load(S + VW * j), s2 = vf_load(S + CH + VW * j);
    for (int i = 0; i < R; ++i) {
      const size_t o = (size_t)i * ldt + VW * j;
      vf t = ldv(T + o, j, NV, MK, tail);
      if (act != MBRL_ACT_NONE) {
        t = act_bwd_vec(t, ldv(a + o, j, NV, MK, tail), act);
        stv(T + o, t, j, NV, MK, tail);
      }
      s1 = vf_add(s1, t);
      s2 = vf_fma(t, vf_mul(vf_sub(ldv(z + o, j, NV, MK, tail), m), q), s2);
    }
    vf_store(S + VW * j, s1);
    vf_store(S + CH + VW * j, s2);
  }
}
#define TILE_SUMS_CALL(R, ...) bn_bwd_tile_sums(R, __VA_ARGS__)
#define TILE_SUMS_NV(...) DISPATCH_R(rn, TILE_SUMS_CALL, __VA_ARGS__)

static void SIMD_SYM(linear_act_bn_backward)(float *dz, float *dgamma, float *dbeta, float *db,
                                             const float *dy, const float *W, int K,
                                             const float *a, const float *z, const float *mean,
                                             const float *rstd, const float *gamma, int B, int C,
                                             mbrl_act act, int train) {
  for (int c0 = 0; c0 < C; c0 += CH) {
    const col_tile t = col_tile_at(c0, C, SIMD_NR);
    const int cn = C - c0 < CH ? C - c0 : CH;
    float S[2 * CH] __attribute__((aligned(64))), mu[CH] __attribute__((aligned(64))),
        rs[CH] __attribute__((aligned(64)));
    memset(S, 0, sizeof S);
    memset(mu, 0, sizeof mu);
    memset(rs, 0, sizeof rs);
    memcpy(mu, mean + c0, sizeof(float) * (size_t)cn);
    memcpy(rs, rstd + c0, sizeof(float) * (size_t)cn);
    for (int r = 0; r < B; r += SIMD_MR) {
      const int rn = B - r < SIMD_MR ? B - r : SIMD_MR;
      const size_t o = (size_t)r * C + c0;
      DISPATCH_NV(t, NN_TILE_NV, dz + o, C, dy + (size_t)r * K, K, W + c0, C, K, NULL, 0, 0,
                  t.tail);
      DISPATCH_NV(t, TILE_SUMS_NV, dz + o, C, a + o, z + o, mu, rs, S, act, t.tail);
    }
    DISPATCH_NV(t, act_bn_bwd_chunk, dz + c0, OFF(dgamma), OFF(dbeta), OFF(db), dz + c0, a + c0,
                z + c0, mean + c0, rstd + c0, gamma + c0, B, C, MBRL_ACT_NONE, train, S, t.tail);
  }
}
#undef OFF

/* ---------------------------------------------------------------- loss */

static void SIMD_SYM(mse_loss)(float *loss, float *dpred, const float *pred, const float *target,
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

/* ---------------------------------------------------------------- optimizers */

/* Adam and RMSprop VW wide: the operations of nn_math.h in its order, no FMA (sqrt, div, mul
 * and add round like their scalar forms): bit-identical to the scalar functions. */
static void SIMD_SYM(adam)(float *p, float *m, float *v, const float *g, size_t n, float beta1,
                           float beta2, float step_size, float bc2_sqrt, float eps) {
  const vf b1 = vf_set1(beta1), omb1 = vf_set1(1.0f - beta1);
  const vf b2 = vf_set1(beta2), omb2 = vf_set1(1.0f - beta2);
  const vf bc = vf_set1(bc2_sqrt), ep = vf_set1(eps), nss = vf_set1(-step_size);
  for (size_t i = 0; i < n; i += VW) {
    const int k = n - i < (size_t)VW ? (int)(n - i) : VW;
    const vf gv = vf_load_n(g + i, k);
    const vf mm = vf_add(vf_mul(vf_load_n(m + i, k), b1), vf_mul(gv, omb1));
    const vf vv = vf_add(vf_mul(vf_load_n(v + i, k), b2), vf_mul(omb2, vf_mul(gv, gv)));
    const vf denom = vf_add(vf_div(vf_sqrt(vv), bc), ep);
    vf_store_n(m + i, mm, k);
    vf_store_n(v + i, vv, k);
    vf_store_n(p + i, vf_add(vf_load_n(p + i, k), vf_mul(nss, vf_div(mm, denom))), k);
  }
}

static void SIMD_SYM(rmsprop)(float *p, float *sq, const float *g, size_t n, float lr, float alpha,
                              float eps) {
  const vf al = vf_set1(alpha), oma = vf_set1(1.0f - alpha);
  const vf ep = vf_set1(eps), nlr = vf_set1(-lr);
  for (size_t i = 0; i < n; i += VW) {
    const int k = n - i < (size_t)VW ? (int)(n - i) : VW;
    const vf gv = vf_load_n(g + i, k);
    const vf sv = vf_add(vf_mul(vf_load_n(sq + i, k), al), vf_mul(oma, vf_mul(gv, gv)));
    const vf avg = vf_add(vf_sqrt(sv), ep);
    vf_store_n(sq + i, sv, k);
    vf_store_n(p + i, vf_add(vf_load_n(p + i, k), vf_mul(nlr, vf_div(gv, avg))), k);
  }
}

/* sum of g[i]^2 as float: VW partial sums (lane i takes elements i, i + VW, ...; fma), then
 * vf_hsum. Deterministic for a given path and n. */
static float SIMD_SYM(sumsq)(const float *g, size_t n) {
  vf acc0 = vf_zero(), acc1 = vf_zero();
  size_t i = 0;
  for (; i + 2 * VW <= n; i += 2 * VW) {
    const vf a = vf_load(g + i), b = vf_load(g + i + VW);
    acc0 = vf_fma(a, a, acc0);
    acc1 = vf_fma(b, b, acc1);
  }
  for (; i < n; i += VW) {
    const int k = n - i < (size_t)VW ? (int)(n - i) : VW;
    const vf a = vf_load_n(g + i, k);
    acc0 = vf_fma(a, a, acc0);
  }
  return vf_hsum(vf_add(acc0, acc1));
}
