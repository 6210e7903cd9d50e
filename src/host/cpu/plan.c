/* src/host/cpu/plan.c - kernel source (compiled once per ISA, see host/simd.h): one block of the
 * random-shooting rollout (mbrl/planner.h), MBRL_PLAN_BR rows rolled through all H steps
 * before the next block starts.
 *
 * Layout: the state S (obs, BR), actions U (act, BR), costs and the network output are
 * feature-major (one vector = VW rows) for the elementwise math; the network runs on groups of
 * MBRL_PLAN_GROUP rows, row-major, layer by layer with the group's activations in two small
 * buffers that stay in L1 ("fused per-tile rollout"):
 *   layer 0        x (group, obs+act) W0^T            nn tile kernel (+bias, act)
 *   hidden layers  h (group, w) W^T                    sparse kernel when h is a ReLU output
 *                                                      (only the FMAs of its nonzeros), else nn
 *   last layer     y (obs, group) = W h               dot products, VW rows reduced at once
 * Draws: Philox4x32-10 for VW rows at a time (counter (word / 4, 0, k, 0), key = seed), the
 * exact words and float mapping of mbrl_planner_next_action.
 * Env-independent except for the calls into cpu/pendulum.h (reward, true step), marked ENV. */

/* Hidden layers on ReLU inputs skip the zeros (~half of them) on avx512 and avx2, where the
 * sparse kernel's bookkeeping per nonzero is amortized over 4-8 wide FMAs; measured here the
 * generic path's 4-wide vectors are faster dense. Both give the same bits (a skipped term is an
 * exact zero; only the sign of a zero pre-activation can differ, and ReLU erases it). */
#define PLAN_SPARSE (VW >= 8)

/* VW rows' Philox blocks: counter (blk, 0, k0 + lane, 0), key (seed lo, seed hi). */
SIMD_INLINE void philox_rows(uint64_t seed, int k0, uint32_t blk, vi *w) {
  vi x = vi_set1((int32_t)blk), y = vi_zero(), z = vi_add(vi_set1(k0), vi_iota()), q = vi_zero();
  uint32_t key0 = (uint32_t)seed, key1 = (uint32_t)(seed >> 32);
  for (int i = 0; i < 10; ++i) {
    vi lo0, hi0, lo1, hi1;
    vu_mulhilo(x, MBRL_PHILOX_M0, &lo0, &hi0);
    vu_mulhilo(z, MBRL_PHILOX_M1, &lo1, &hi1);
    const vi nx = vi_xor(vi_xor(hi1, y), vi_set1((int32_t)key0));
    const vi nz = vi_xor(vi_xor(hi0, q), vi_set1((int32_t)key1));
    x = nx;
    y = lo1;
    z = nz;
    q = lo0;
    key0 += MBRL_PHILOX_W0;
    key1 += MBRL_PHILOX_W1;
  }
  w[0] = x;
  w[1] = y;
  w[2] = z;
  w[3] = q;
}

/* Actions of step h into U (act, BR): Philox draws (or the caller's sequences), sequence 0
 * all zeros, sequence 1 the prior, padding rows zeros. D (4, BR) caches the Philox block
 * *cur of every row (words h*act + j of a sequence's stream). */
static void draw_actions(const mbrl_plan_kmodel *km, const mbrl_plan_block *blk, int h, float *U,
                         uint32_t *D, int64_t *cur) {
  const mbrl_plan_model *m = km->m;
  const int A = m->act_dim, BR = MBRL_PLAN_BR, H = km->H;
  for (int j = 0; j < A; ++j) {
    float *Uj = U + (size_t)j * BR;
    if (blk->given) {
      for (int r = 0; r < BR; ++r)
        Uj[r] = r < blk->R ? blk->given[((size_t)(blk->k0 + r) * H + h) * A + j] : 0.0f;
      continue;
    }
    const uint64_t word = (uint64_t)h * (uint64_t)A + (uint64_t)j;
    if ((int64_t)(word >> 2) != *cur) {
      *cur = (int64_t)(word >> 2);
      for (int v = 0; v < BR; v += VW) {
        vi w[4];
        philox_rows(blk->seed, blk->k0 + v, (uint32_t)(word >> 2), w);
        for (int q = 0; q < 4; ++q) vi_store(D + (size_t)q * BR + v, w[q]);
      }
    }
    /* mbrl_philox_range_float: u = word * 2^-32 + 2^-33; lo + (hi - lo) * u, each rounded */
    const vf scale = vf_set1(2.3283064e-10f), half = vf_set1(2.3283064e-10f / 2.0f);
    const vf lo = vf_set1(m->act_low[j]), span = vf_set1(m->act_high[j] - m->act_low[j]);
    const uint32_t *Dq = D + (size_t)(word & 3) * BR;
    for (int v = 0; v < BR; v += VW) {
      const vf u = vf_mul_add(vu_cvt_vf(vi_load(Dq + v)), scale, half);
      vf_store(Uj + v, vf_add(lo, vf_mul(span, u)));
    }
    if (blk->k0 == 0) Uj[0] = 0.0f;
    if (blk->prior && blk->k0 <= 1 && 1 < blk->k0 + blk->R) Uj[1 - blk->k0] = blk->prior[(size_t)h * A + j];
    for (int r = blk->R; r < BR; ++r) Uj[r] = 0.0f;
  }
}

/* The learned model's step on the block: dS (obs, BR) = mlp(normalize(S, U)), then
 * S += unnormalize(dS). */
static void learned_step(const mbrl_plan_kmodel *km, float *S, const float *U, float *base,
                         const mbrl_plan_scratch *L) {
  const mbrl_plan_model *m = km->m;
  const mbrl_dataset_stats *st = &m->stats;
  const int O = m->obs_dim, A = m->act_dim, in0 = O + A, BR = MBRL_PLAN_BR, nl = m->n_layers;
  float *X = base + L->X, *dS = base + L->dS, *Hb[2] = {base + L->H0, base + L->H1};
  /* x = normalize(s, a), row-major (BR, obs + act): (x - mean) / (std + eps) */
  for (int i = 0; i < in0; ++i) {
    const float *src = i < O ? S + (size_t)i * BR : U + (size_t)(i - O) * BR;
    const float mean = i < O ? st->state_mean[i] : st->action_mean[i - O];
    const float den = (i < O ? st->state_std[i] : st->action_std[i - O]) + MBRL_NORMALIZE_EPS;
    float t[MBRL_PLAN_BR];
    for (int v = 0; v < BR; v += VW)
      vf_store(t + v, vf_div(vf_sub(vf_load(src + v), vf_set1(mean)), vf_set1(den)));
    for (int r = 0; r < BR; ++r) X[(size_t)r * in0 + i] = t[r];
  }
  const mbrl_act act = m->activation;
  for (int g = 0; g < BR; g += MBRL_PLAN_GROUP) {
    const float *h = X + (size_t)g * in0;
    int ldh = in0;
    for (int l = 0; l + 1 < nl; ++l) {
      float *out = Hb[l & 1];
      const int w = km->maxw;
      if (PLAN_SPARSE && l > 0 && act == MBRL_ACT_RELU)
        gemm_nn_sparse(out, w, h, ldh, km->wt[l], km->opad[l], MBRL_PLAN_GROUP, km->wpad[l],
                       km->opad[l], km->bias[l], 0, 1);
      else
        gemm_nn(out, w, h, ldh, km->wt[l], km->opad[l], MBRL_PLAN_GROUP, l == 0 ? in0 : km->wpad[l],
                km->opad[l], km->bias[l], 0, act == MBRL_ACT_RELU);
      if (act == MBRL_ACT_TANH)
        for (int r = 0; r < MBRL_PLAN_GROUP; ++r)
          for (int c = 0; c < km->opad[l]; c += VW) {
            float *p = out + (size_t)r * w + c;
            vf_store(p, v_tanh(vf_load(p)));
          }
      h = out;
      ldh = w;
    }
    /* last layer: output o of rows g.. at dS[o * BR + g ..] */
    dot_rows(dS + g, 1, BR, h, ldh, km->wt[nl - 1], km->wpad[nl - 1], km->bias[nl - 1],
             MBRL_PLAN_GROUP, nl == 1 ? in0 : km->wpad[nl - 1], O);
  }
  /* s += unnormalize(delta) = s + (delta * std + mean) */
  for (int i = 0; i < O; ++i) {
    const vf sd = vf_set1(st->delta_state_std[i]), mu = vf_set1(st->delta_state_mean[i]);
    for (int v = 0; v < BR; v += VW) {
      float *s = S + (size_t)i * BR + v;
      vf_store(s, vf_add(vf_load(s), vf_mul_add(vf_load(dS + (size_t)i * BR + v), sd, mu)));
    }
  }
}

static void SIMD_SYM(plan_block)(const mbrl_plan_kmodel *km, const mbrl_plan_block *blk,
                                 void *scratch) {
  const mbrl_plan_model *m = km->m;
  const int O = m->obs_dim, BR = MBRL_PLAN_BR;
  const mbrl_plan_scratch L = mbrl_plan_scratch_layout(O, m->act_dim, km->maxw);
  float *base = (float *)scratch;
  float *S = base + L.S, *U = base + L.A, *cost = base + L.cost;
  uint32_t *D = (uint32_t *)(base + L.D);
  int64_t cur = -1;
  for (int i = 0; i < O; ++i)
    for (int r = 0; r < BR; ++r) S[i * BR + r] = blk->obs0[i];
  for (int r = 0; r < BR; ++r) cost[r] = 0.0f;
  float g = 1.0f;
  for (int h = 0; h < km->H; ++h) {
    draw_actions(km, blk, h, U, D, &cur);
    if (m->kind == MBRL_PLAN_MODEL_ORACLE) {
      pendulum_oracle_block(S, U, cost, g, km->score_next); /* ENV */
    } else {
      if (!km->score_next) pendulum_reward_block(S, U, cost, g); /* ENV */
      learned_step(km, S, U, base, &L);
      if (km->score_next) pendulum_reward_block(S, U, cost, g); /* ENV */
    }
    if (h == 0 && blk->s1_out)
      for (int r = 0; r < blk->R; ++r)
        for (int i = 0; i < O; ++i) blk->s1_out[(size_t)r * O + i] = S[i * BR + r];
    g = g * km->gamma;
  }
  for (int r = 0; r < blk->R; ++r) blk->cost_out[r] = cost[r];
}
