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
 * exact words and float mapping of mbrl_planner_next_action (a discrete env: the index
 * (word * n_actions) >> 32 in float, mbrl_philox_below's).
 * The env enters through one table entry per env (plan_env_ops_of at the bottom): its oracle
 * step and its cost + terminal on a block, a vector pair from src/host/cpu/<env>.h where one
 * exists (Pendulum-v1), else the env header's MBRL_HD scalar functions lane by lane (the
 * rollout's cost is the MLP's; the lane loop costs little next to it). */

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
        Uj[r] = r < blk->R ? blk->given[((size_t)((blk->k0 + r) / km->particles) * H + h) * A + j]
                           : 0.0f;
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
    const uint32_t *Dq = D + (size_t)(word & 3) * BR;
    if (m->n_actions > 0) {
      /* mbrl_philox_below: index = (word * n) >> 32, as a float */
      for (int v = 0; v < BR; v += VW) {
        vi lo32, hi32;
        vu_mulhilo(vi_load(Dq + v), (uint32_t)m->n_actions, &lo32, &hi32);
        vf_store(Uj + v, vu_cvt_vf(hi32));
      }
    } else {
      /* mbrl_philox_range_float: u = word * 2^-32 + 2^-33; lo + (hi - lo) * u, each rounded */
      const vf scale = vf_set1(2.3283064e-10f), half = vf_set1(2.3283064e-10f / 2.0f);
      const vf lo = vf_set1(m->act_low[j]), span = vf_set1(m->act_high[j] - m->act_low[j]);
      for (int v = 0; v < BR; v += VW) {
        const vf u = vf_mul_add(vu_cvt_vf(vi_load(Dq + v)), scale, half);
        vf_store(Uj + v, vf_add(lo, vf_mul(span, u)));
      }
    }
    if (blk->k0 == 0) Uj[0] = 0.0f;
    if (blk->prior && blk->k0 <= 1 && 1 < blk->k0 + blk->R) Uj[1 - blk->k0] = blk->prior[(size_t)h * A + j];
    for (int r = blk->R; r < BR; ++r) Uj[r] = 0.0f;
  }
}

/* x = normalize(s, a) of the block's rows into X (BR, obs + act), row-major:
 * (x - mean) / (std + eps). */
static void normalize_rows(const mbrl_plan_kmodel *km, const float *S, const float *U, float *X) {
  const mbrl_plan_model *m = km->m;
  const mbrl_dataset_stats *st = &m->stats;
  const int O = m->obs_dim, A = m->act_dim, in0 = O + A, BR = MBRL_PLAN_BR;
  for (int i = 0; i < in0; ++i) {
    const float *src = i < O ? S + (size_t)i * BR : U + (size_t)(i - O) * BR;
    const float mean = i < O ? st->state_mean[i] : st->action_mean[i - O];
    const float den = (i < O ? st->state_std[i] : st->action_std[i - O]) + MBRL_NORMALIZE_EPS;
    float t[MBRL_PLAN_BR];
    for (int v = 0; v < BR; v += VW)
      vf_store(t + v, vf_div(vf_sub(vf_load(src + v), vf_set1(mean)), vf_set1(den)));
    for (int r = 0; r < BR; ++r) X[(size_t)r * in0 + i] = t[r];
  }
}

/* The folded network (packed weights at offset woff: member woff / mstride of an ensemble) on
 * MBRL_PLAN_GROUP rows of x (row stride ldx): output o of row r to y[o * ldy + r] (the first
 * `out` rows of the last layer). Hb0/Hb1: (GROUP, maxw) activation buffers. */
static void mlp_group(const mbrl_plan_kmodel *km, size_t woff, const float *x, int ldx, float *Hb0,
                      float *Hb1, float *y, size_t ldy, int out) {
  const mbrl_plan_model *m = km->m;
  const int in0 = m->obs_dim + m->act_dim, nl = m->n_layers;
  float *Hb[2] = {Hb0, Hb1};
  const mbrl_act act = m->activation;
  const float *h = x;
  int ldh = ldx;
  for (int l = 0; l + 1 < nl; ++l) {
    float *o = Hb[l & 1];
    const int w = km->maxw;
    if (PLAN_SPARSE && l > 0 && act == MBRL_ACT_RELU)
      gemm_nn_sparse(o, w, h, ldh, km->wt[l] + woff, km->opad[l], MBRL_PLAN_GROUP, km->wpad[l],
                     km->opad[l], km->bias[l] + woff, 0, 1);
    else
      gemm_nn(o, w, h, ldh, km->wt[l] + woff, km->opad[l], MBRL_PLAN_GROUP,
              l == 0 ? in0 : km->wpad[l], km->opad[l], km->bias[l] + woff, 0,
              act == MBRL_ACT_RELU);
    if (act == MBRL_ACT_TANH)
      for (int r = 0; r < MBRL_PLAN_GROUP; ++r)
        for (int c = 0; c < km->opad[l]; c += VW) {
          float *p = o + (size_t)r * w + c;
          vf_store(p, v_tanh(vf_load(p)));
        }
    h = o;
    ldh = w;
  }
  dot_rows(y, 1, ldy, h, ldh, km->wt[nl - 1] + woff, km->wpad[nl - 1], km->bias[nl - 1] + woff,
           MBRL_PLAN_GROUP, nl == 1 ? in0 : km->wpad[nl - 1], out);
}

/* s += unnormalize(delta) = s + (delta * std + mean), S and dS (obs, BR). */
static void add_delta(const mbrl_plan_kmodel *km, float *S, const float *dS) {
  const mbrl_dataset_stats *st = &km->m->stats;
  const int BR = MBRL_PLAN_BR;
  for (int i = 0; i < km->m->obs_dim; ++i) {
    const vf sd = vf_set1(st->delta_state_std[i]), mu = vf_set1(st->delta_state_mean[i]);
    for (int v = 0; v < BR; v += VW) {
      float *s = S + (size_t)i * BR + v;
      vf_store(s, vf_add(vf_load(s), vf_mul_add(vf_load(dS + (size_t)i * BR + v), sd, mu)));
    }
  }
}

/* The learned model's step on the block: dS (obs, BR) = mlp(normalize(S, U)), then
 * S += unnormalize(dS). */
static void learned_step(const mbrl_plan_kmodel *km, float *S, const float *U, float *base,
                         const mbrl_plan_scratch *L) {
  const int in0 = km->m->obs_dim + km->m->act_dim, BR = MBRL_PLAN_BR;
  float *X = base + L->X, *dS = base + L->dS;
  normalize_rows(km, S, U, X);
  for (int g = 0; g < BR; g += MBRL_PLAN_GROUP)
    mlp_group(km, 0, X + (size_t)g * in0, in0, base + L->H0, base + L->H1, dS + g, BR,
              km->m->obs_dim);
  add_delta(km, S, dS);
}

/* softplus(x) = max(x, 0) + log(1 + exp(-|x|)) (branch-free; absolute error ~1e-7 where the
 * scalar's log1p is exact). */
SIMD_INLINE vf v_softplus(vf x) {
  const vf ax = vf_max(x, vf_sub(vf_zero(), x));
  return vf_add(vf_max(x, vf_zero()), v_log(vf_add(vf_set1(1.0f), v_exp(vf_sub(vf_zero(), ax)))));
}

/* A probabilistic member's sample for the block's rows: dS = mean + exp(logvar / 2) eps with
 * logvar = mbrl_logvar_clamp(raw) and eps the normals of mbrl_dyn_ensemble_noise(
 * mbrl_planner_seed(pseed, MBRL_PLAN_NOISE_TAG, h), row) (the same Philox words and
 * Box-Muller formula, vector log/sin/cos within a few ulp). dS, raw (obs, BR); E: (obs, BR)
 * scratch for the noise. */
static void sample_rows(const mbrl_plan_kmodel *km, const mbrl_plan_block *blk, int h, float *dS,
                        const float *raw, float *E) {
  const mbrl_plan_model *m = km->m;
  const int O = m->obs_dim, BR = MBRL_PLAN_BR;
  const uint64_t nseed = mbrl_planner_seed(blk->pseed, MBRL_PLAN_NOISE_TAG, (uint64_t)h);
  const float c = 2.3283064e-10f, c2pi = 2.3283064e-10f * 6.2831855f;
  for (int b = 0; 4 * b < O + (O & 1); ++b)
    for (int v = 0; v < BR; v += VW) {
      vi w[4];
      philox_rows(nseed, blk->k0 + v, (uint32_t)b, w);
      for (int q = 0; q < 2; ++q) {
        const int i0 = 4 * b + 2 * q;
        if (i0 >= O) break;
        const vf u = vf_add(vf_mul(vu_cvt_vf(w[2 * q]), vf_set1(c)), vf_set1(c / 2.0f));
        const vf ang = vf_add(vf_mul(vu_cvt_vf(w[2 * q + 1]), vf_set1(c2pi)), vf_set1(c2pi / 2.0f));
        const vf rad = vf_sqrt(vf_mul(vf_set1(-2.0f), v_log(u)));
        vf sn, cs;
        v_sincos(ang, &sn, &cs);
        vf_store(E + (size_t)i0 * BR + v, vf_mul(rad, sn));
        if (i0 + 1 < O) vf_store(E + (size_t)(i0 + 1) * BR + v, vf_mul(rad, cs));
      }
    }
  for (int i = 0; i < O; ++i) {
    const vf mx = vf_set1(m->max_logvar[i]), mn = vf_set1(m->min_logvar[i]);
    for (int v = 0; v < BR; v += VW) {
      const size_t at = (size_t)i * BR + v;
      const vf l1 = vf_sub(mx, v_softplus(vf_sub(mx, vf_load(raw + at))));
      const vf lv = vf_add(mn, v_softplus(vf_sub(l1, mn)));
      vf_store(dS + at, vf_mul_add(v_exp(vf_mul(vf_set1(0.5f), lv)), vf_load(E + at), vf_load(dS + at)));
    }
  }
}

/* An ensemble's step on a block of particle rows (mbrl/planner.h "particles"): EXPECTATION
 * averages the elites' mean outputs over all rows; TS1/TSINF gives each row its member (drawn
 * at h = 0 for TSINF and kept in mem for the block's later steps), groups the rows by member
 * (each group padded to MBRL_PLAN_GROUP rows, so every network call is the single model's
 * kernel with one member's weights), runs each member on its rows, and scatters the outputs
 * back, adding a probabilistic member's Gaussian noise. */
static void ensemble_step(const mbrl_plan_kmodel *km, const mbrl_plan_block *blk, int h, float *S,
                          const float *U, float *base, const mbrl_plan_scratch *L) {
  const mbrl_plan_model *m = km->m;
  const int O = m->obs_dim, in0 = O + m->act_dim, BR = MBRL_PLAN_BR, M = m->members;
  const size_t BRP = (size_t)MBRL_PLAN_BRP(M);
  float *X = base + L->X, *dS = base + L->dS, *Xp = base + L->Xp, *Yp = base + L->Yp;
  float *H0 = base + L->H0, *H1 = base + L->H1;
  int *mem = (int *)(base + L->mem), *pos = (int *)(base + L->pos);
  normalize_rows(km, S, U, X);
  if (km->prop == MBRL_PLAN_PROP_EXPECTATION) {
    for (size_t i = 0; i < (size_t)O * BR; ++i) dS[i] = 0.0f;
    for (int q = 0; q < m->n_elites; ++q) {
      const size_t woff = (size_t)m->elites[q] * km->mstride;
      for (int g = 0; g < BR; g += MBRL_PLAN_GROUP)
        mlp_group(km, woff, X + (size_t)g * in0, in0, H0, H1, Yp + g, BR, O);
      for (size_t i = 0; i < (size_t)O * BR; ++i) dS[i] += Yp[i];
    }
    const float ne = (float)m->n_elites;
    for (size_t i = 0; i < (size_t)O * BR; ++i) dS[i] = dS[i] / ne;
    add_delta(km, S, dS);
    return;
  }
  if (km->prop == MBRL_PLAN_PROP_TS1 || h == 0)
    for (int r = 0; r < BR; ++r)
      mem[r] = r < blk->R ? mbrl_planner_particle_member(blk->pseed, (uint64_t)(blk->k0 + r), h,
                                                         km->prop, m->elites, m->n_elites)
                          : m->elites[0];
  int cnt[MBRL_PLAN_MAX_MEMBERS], start[MBRL_PLAN_MAX_MEMBERS], fill[MBRL_PLAN_MAX_MEMBERS];
  for (int q = 0; q < M; ++q) cnt[q] = 0;
  for (int r = 0; r < BR; ++r) ++cnt[mem[r]];
  int off = 0;
  for (int q = 0; q < M; ++q) {
    start[q] = fill[q] = off;
    off += (cnt[q] + MBRL_PLAN_GROUP - 1) / MBRL_PLAN_GROUP * MBRL_PLAN_GROUP;
  }
  for (int r = 0; r < BR; ++r) {
    pos[r] = fill[mem[r]]++;
    memcpy(Xp + (size_t)pos[r] * in0, X + (size_t)r * in0, (size_t)in0 * sizeof(float));
  }
  const int outw = km->sample ? 2 * O : O;
  for (int q = 0; q < M; ++q) {
    if (!cnt[q]) continue;
    const int end = start[q] + (cnt[q] + MBRL_PLAN_GROUP - 1) / MBRL_PLAN_GROUP * MBRL_PLAN_GROUP;
    for (int i = fill[q]; i < end; ++i) memset(Xp + (size_t)i * in0, 0, (size_t)in0 * sizeof(float));
    for (int g = start[q]; g < end; g += MBRL_PLAN_GROUP)
      mlp_group(km, (size_t)q * km->mstride, Xp + (size_t)g * in0, in0, H0, H1, Yp + g, BRP, outw);
  }
  /* gather: means into dS, raw log-variances into X (both (obs, BR)); Yp is free afterwards */
  for (int r = 0; r < BR; ++r)
    for (int i = 0; i < O; ++i) {
      dS[(size_t)i * BR + r] = Yp[(size_t)i * BRP + pos[r]];
      if (km->sample) X[(size_t)i * BR + r] = Yp[(size_t)(O + i) * BRP + pos[r]];
    }
  if (km->sample) sample_rows(km, blk, h, dS, X, Yp);
  add_delta(km, S, dS);
}

/* ---------------------------------------------------------------- the per-env table */

/* Cost of the block's transitions (S0, U, S1) (each (dim, BR), feature-major), accumulated
 * into cost (BR) for rows still alive: cost -= g r(s, a, s1) (shaped: cost += g shaped(s, a,
 * s1)) with s = S1 if score_next else S0; then alive[r] = 0 where s1 is terminal. */
typedef void (*plan_cost_fn)(const float *S0, const float *U, const float *S1, float *cost,
                             float *alive, float g, int shaped, int score_next);
/* The oracle step of S (obs, BR) in place and its cost as plan_cost_fn (S0: scratch (obs, BR)
 * for the pre-step state where the entry needs it). */
typedef void (*plan_step_cost_fn)(float *S, const float *U, float *S0, float *cost, float *alive,
                                  float g, int shaped, int score_next);
/* The env's project_obs on every row of S (obs, BR) in place. */
typedef void (*plan_project_fn)(float *S);
typedef struct plan_env_ops {
  plan_step_cost_fn step_cost;
  plan_cost_fn cost;
  plan_project_fn project;
} plan_env_ops;

/* The lane-by-lane entry of env NAME/name: its header's scalar oracle_step, reward_obs,
 * shaped_cost, terminal_obs and project_obs on each row of the block (one instantiation per
 * env). */
#define PLAN_LANE_OPS(NAME, name)                                                                \
  static void lane_cost_##name(const float *S0, const float *U, const float *S1, float *cost,   \
                               float *alive, float g, int shaped, int score_next) {             \
    enum { O_ = MBRL_##NAME##_OBS_DIM, A_ = MBRL_##NAME##_ACT_DIM, BR_ = MBRL_PLAN_BR };         \
    for (int r = 0; r < BR_; ++r) {                                                              \
      if (alive[r] == 0.0f) continue;                                                            \
      float o[O_], a[A_], n[O_];                                                                 \
      for (int i = 0; i < O_; ++i) {                                                             \
        o[i] = S0[i * BR_ + r];                                                                  \
        n[i] = S1[i * BR_ + r];                                                                  \
      }                                                                                          \
      for (int j = 0; j < A_; ++j) a[j] = U[j * BR_ + r];                                        \
      const float *oc = score_next ? n : o;                                                      \
      if (shaped)                                                                                \
        cost[r] = cost[r] + g * mbrl_##name##_shaped_cost(oc, a, n);                             \
      else                                                                                       \
        cost[r] = cost[r] - g * mbrl_##name##_reward_obs(oc, a, n);                              \
      if (mbrl_##name##_terminal_obs(n)) alive[r] = 0.0f;                                        \
    }                                                                                            \
  }                                                                                              \
  static void lane_step_cost_##name(float *S, const float *U, float *S0, float *cost,           \
                                    float *alive, float g, int shaped, int score_next) {        \
    enum { O_ = MBRL_##NAME##_OBS_DIM, A_ = MBRL_##NAME##_ACT_DIM, BR_ = MBRL_PLAN_BR };         \
    memcpy(S0, S, sizeof(float) * O_ * BR_);                                                     \
    for (int r = 0; r < BR_; ++r) {                                                              \
      float o[O_], a[A_], n[O_];                                                                 \
      for (int i = 0; i < O_; ++i) o[i] = S0[i * BR_ + r];                                       \
      for (int j = 0; j < A_; ++j) a[j] = U[j * BR_ + r];                                        \
      mbrl_##name##_oracle_step(o, a, n);                                                        \
      for (int i = 0; i < O_; ++i) S[i * BR_ + r] = n[i];                                        \
    }                                                                                            \
    lane_cost_##name(S0, U, S, cost, alive, g, shaped, score_next);                              \
  }                                                                                              \
  static void lane_project_##name(float *S) {                                                    \
    enum { O_ = MBRL_##NAME##_OBS_DIM, BR_ = MBRL_PLAN_BR };                                     \
    for (int r = 0; r < BR_; ++r) {                                                              \
      float o[O_];                                                                               \
      for (int i = 0; i < O_; ++i) o[i] = S[i * BR_ + r];                                        \
      mbrl_##name##_project_obs(o);                                                              \
      for (int i = 0; i < O_; ++i) S[i * BR_ + r] = o[i];                                        \
    }                                                                                            \
  }
MBRL_ENV_LIST(PLAN_LANE_OPS)
#undef PLAN_LANE_OPS

/* The table: env kind -> its entry. The vector pairs of src/host/cpu/<env>.h override the
 * lane entries (add a line here with a new vector file). */
static plan_env_ops plan_env_ops_of(mbrl_env_kind kind) {
  plan_env_ops o = {NULL, NULL, NULL};
  switch (kind) {
#define PLAN_LANE_CASE(NAME, name)       \
  case MBRL_ENV_##NAME:                  \
    o.step_cost = lane_step_cost_##name; \
    o.cost = lane_cost_##name;           \
    o.project = lane_project_##name;     \
    break;
    MBRL_ENV_LIST(PLAN_LANE_CASE)
#undef PLAN_LANE_CASE
    default:
      break;
  }
  if (kind == MBRL_ENV_PENDULUM) { /* src/host/cpu/pendulum.h */
    o.step_cost = pendulum_step_cost_block;
    o.cost = pendulum_cost_block;
  }
  return o;
}

/* A custom system's cost (mbrl_planner_set_reward): the block's first R rows transposed to
 * row-major, the caller's reward (and terminal) on them, accumulated as plan_cost_fn. */
static void custom_cost(const mbrl_plan_kmodel *km, const mbrl_plan_block *blk, const float *S0,
                        const float *U, const float *S1, float *cost, float *alive, float g,
                        float *base, const mbrl_plan_scratch *L) {
  const mbrl_plan_model *m = km->m;
  const int O = m->obs_dim, A = m->act_dim, BR = MBRL_PLAN_BR, R = blk->R;
  float *T0 = base + L->T0, *T1 = base + L->T1, *TA = base + L->TA, *TR = base + L->TR;
  uint8_t *TT = (uint8_t *)(base + L->TR + BR);
  const float *src0 = km->score_next ? S1 : S0;
  for (int r = 0; r < R; ++r) {
    for (int i = 0; i < O; ++i) {
      T0[(size_t)r * O + i] = src0[(size_t)i * BR + r];
      T1[(size_t)r * O + i] = S1[(size_t)i * BR + r];
    }
    for (int j = 0; j < A; ++j) TA[(size_t)r * A + j] = U[(size_t)j * BR + r];
    TT[r] = 0;
  }
  km->reward_fn(km->user, R, O, A, T0, TA, T1, TR);
  if (km->terminal_fn) km->terminal_fn(km->user, R, O, T1, TT);
  for (int r = 0; r < R; ++r) {
    if (alive[r] == 0.0f) continue;
    cost[r] = cost[r] - g * TR[r];
    if (TT[r]) alive[r] = 0.0f;
  }
}

static void SIMD_SYM(plan_block)(const mbrl_plan_kmodel *km, const mbrl_plan_block *blk,
                                 void *scratch) {
  const mbrl_plan_model *m = km->m;
  const int O = m->obs_dim, BR = MBRL_PLAN_BR;
  const mbrl_plan_scratch L = mbrl_plan_scratch_layout(O, m->act_dim, km->maxw, m->members);
  const plan_env_ops ops = plan_env_ops_of(km->env);
  float *base = (float *)scratch;
  float *S = base + L.S, *U = base + L.A, *cost = base + L.cost, *S0 = base + L.S0;
  float *alive = base + L.alive;
  uint32_t *D = (uint32_t *)(base + L.D);
  int64_t cur = -1;
  for (int i = 0; i < O; ++i)
    for (int r = 0; r < BR; ++r) S[i * BR + r] = blk->obs0[i];
  for (int r = 0; r < BR; ++r) {
    cost[r] = 0.0f;
    alive[r] = 1.0f;
  }
  float g = 1.0f;
  for (int h = 0; h < km->H; ++h) {
    draw_actions(km, blk, h, U, D, &cur);
    if (m->kind == MBRL_PLAN_MODEL_ORACLE) {
      ops.step_cost(S, U, S0, cost, alive, g, km->shaped, km->score_next);
    } else {
      memcpy(S0, S, sizeof(float) * (size_t)O * BR);
      if (m->members > 0)
        ensemble_step(km, blk, h, S, U, base, &L);
      else
        learned_step(km, S, U, base, &L);
      if (km->project && ops.project) ops.project(S);
      if (km->reward_fn)
        custom_cost(km, blk, S0, U, S, cost, alive, g, base, &L);
      else
        ops.cost(S0, U, S, cost, alive, g, km->shaped, km->score_next);
    }
    if (h == 0 && blk->s1_out)
      for (int r = 0; r < blk->R; ++r)
        for (int i = 0; i < O; ++i) blk->s1_out[(size_t)r * O + i] = S[i * BR + r];
    g = g * km->gamma;
  }
  for (int r = 0; r < blk->R; ++r) blk->cost_out[r] = cost[r];
}
