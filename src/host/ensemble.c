/* ensemble.c - aggregation, contribution and evolution of the M-policy ensemble (see
 * mbrl/ensemble.h). Host code: these work on host arrays of size M x B x A, tiny next to the
 * networks, and the evolution step moves flat weight vectors through host memory anyway. */
#include "mbrl/ensemble.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void mbrl_ensemble_aggregate(float *agg, const float *probs, int M, int B, int A) {
  const size_t BA = (size_t)B * (size_t)A;
  memcpy(agg, probs, BA * sizeof(float));
  for (int i = 1; i < M; ++i) {
    const float *p = probs + (size_t)i * BA;
    for (size_t k = 0; k < BA; ++k) agg[k] += p[k];
  }
  for (int b = 0; b < B; ++b) {
    float *r = agg + (size_t)b * A;
    float s = 0.0f;
    for (int a = 0; a < A; ++a) s += r[a];
    if (s > 0.0f) {
      const float inv = 1.0f / s;
      for (int a = 0; a < A; ++a) r[a] *= inv;
    } else {
      for (int a = 0; a < A; ++a) r[a] = 1.0f / (float)A;
    }
  }
}

void mbrl_ensemble_select(int *actions, const float *agg, int B, int A, int deterministic,
                          mbrl_philox *rng) {
  for (int b = 0; b < B; ++b) {
    const float *r = agg + (size_t)b * A;
    int best = 0;
    if (deterministic) {
      for (int a = 1; a < A; ++a)
        if (r[a] > r[best]) best = a;
    } else {
      const float u = mbrl_philox_uniform(rng); /* (0, 1] */
      float c = r[0];
      while (u > c && best < A - 1) c += r[++best];
    }
    actions[b] = best;
  }
}

void mbrl_ensemble_contribution(double *contribution, const float *probs, const int *actions,
                                int M, int B, int A) {
  const size_t BA = (size_t)B * (size_t)A;
  for (int b = 0; b < B; ++b) {
    const size_t k = (size_t)b * A + (size_t)actions[b];
    double s = 0.0;
    for (int i = 0; i < M; ++i) s += (double)probs[(size_t)i * BA + k];
    if (s > 0.0) {
      for (int i = 0; i < M; ++i) contribution[i] += (double)probs[(size_t)i * BA + k] / s;
    } else {
      for (int i = 0; i < M; ++i) contribution[i] += 1.0 / (double)M;
    }
  }
}

void mbrl_ensemble_rank(int *order, const double *contribution, int M) {
  /* insertion sort: M is small (20), stable, no comparator globals */
  for (int i = 0; i < M; ++i) order[i] = i;
  for (int i = 1; i < M; ++i) {
    const int v = order[i];
    int j = i - 1;
    while (j >= 0 && contribution[order[j]] < contribution[v]) {
      order[j + 1] = order[j];
      --j;
    }
    order[j + 1] = v;
  }
}

void mbrl_evolve_config_init(mbrl_evolve_config *c) {
  c->frac = 0.25;
  c->mutation_std = 0.01f;
  c->crossover = 0;
}

int mbrl_ensemble_n_rebuild(const mbrl_evolve_config *c, int M) {
  int n = (int)floor(c->frac * (double)M + 0.5);
  if (n > M - 1) n = M - 1;
  if (n < 0) n = 0;
  return n;
}

/* One standard normal (Box-Muller on two 53-bit uniforms in (0, 1]). */
static double normal(mbrl_philox *rng) {
  double u[2];
  mbrl_philox_uniform2_double(rng, u);
  return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

int mbrl_ensemble_evolve_vectors(float *vecs, size_t S, const double *contribution, int M,
                                 const mbrl_evolve_config *c, mbrl_philox *rng, int *rebuilt,
                                 int *parent) {
  if (!vecs || !contribution || !c || !rng || M < 1) {
    mbrl_set_error(MBRL_ERR_INVALID_ARG, "ensemble_evolve: NULL argument or M < 1");
    return -1;
  }
  if (!(c->frac >= 0.0 && c->frac < 1.0) || !(c->mutation_std >= 0.0f) ||
      !isfinite(c->mutation_std)) {
    mbrl_set_error(MBRL_ERR_INVALID_ARG,
                   "ensemble_evolve: frac %g must be in [0, 1) and mutation_std %g >= 0", c->frac,
                   (double)c->mutation_std);
    return -1;
  }
  int order_buf[64];
  int *order = M <= 64 ? order_buf : (int *)malloc((size_t)M * sizeof(int));
  if (!order) {
    mbrl_set_error(MBRL_ERR_NOMEM, "ensemble_evolve: out of memory");
    return -1;
  }
  mbrl_ensemble_rank(order, contribution, M);
  const int n = mbrl_ensemble_n_rebuild(c, M);
  const int n_par = n < M - n ? n : M - n;
  const int n_surv = M - n;
  if (rebuilt)
    for (int i = 0; i < M; ++i) rebuilt[i] = 0;
  if (parent)
    for (int i = 0; i < M; ++i) parent[i] = -1;
  for (int k = 0; k < n; ++k) {
    const int child = order[M - 1 - k];
    const int p1 = order[k % n_par];
    float *dst = vecs + (size_t)child * S;
    memcpy(dst, vecs + (size_t)p1 * S, S * sizeof(float));
    if (c->crossover && n_surv >= 2) {
      /* second parent: another surviving model, uniform */
      int p2 = order[mbrl_philox_below(rng, (uint32_t)(n_surv - 1))];
      if (p2 == p1) p2 = order[n_surv - 1];
      const float *src2 = vecs + (size_t)p2 * S;
      for (size_t e = 0; e < S; e += 32) {
        uint32_t bits = mbrl_philox_next_u32(rng);
        const size_t end = e + 32 < S ? e + 32 : S;
        for (size_t j = e; j < end; ++j, bits >>= 1)
          if (bits & 1u) dst[j] = src2[j];
      }
    }
    if (c->mutation_std > 0.0f)
      for (size_t j = 0; j < S; ++j) dst[j] += (float)((double)c->mutation_std * normal(rng));
    if (rebuilt) rebuilt[child] = 1;
    if (parent) parent[child] = p1;
  }
  if (order != order_buf) free(order);
  return n;
}

mbrl_status mbrl_ensemble_evolve(mbrl_a2c *a, const mbrl_evolve_config *c, mbrl_philox *rng,
                                 int *rebuilt, int *n_rebuilt) {
  if (!a || !c || !rng)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "ensemble_evolve: NULL argument");
  if (a->M < 2)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "ensemble_evolve: needs an ensemble of at least 2 models (have %d)",
                          a->M);
  const size_t S = mbrl_a2c_state_size(a);
  const int M = a->M;
  float *vecs = (float *)malloc((size_t)M * S * sizeof(float));
  int *rb = (int *)malloc((size_t)M * sizeof(int));
  if (!vecs || !rb) {
    free(vecs);
    free(rb);
    return mbrl_set_error(MBRL_ERR_NOMEM, "ensemble_evolve: out of memory for %d x %zu floats",
                          M, S);
  }
  /* export: as in seed 000, a model does not train between GET and SET */
  a->training_enabled = 0;
  mbrl_status st = MBRL_OK;
  for (int i = 0; i < M && !st; ++i) st = mbrl_a2c_get_state(a, i, vecs + (size_t)i * S);
  int n = 0;
  if (!st) {
    n = mbrl_ensemble_evolve_vectors(vecs, S, a->contribution, M, c, rng, rb, NULL);
    if (n < 0) st = MBRL_ERR_INVALID_ARG;
  }
  for (int i = 0; i < M && !st; ++i) {
    if (!rb[i]) continue;
    st = mbrl_a2c_set_state(a, i, vecs + (size_t)i * S);
    if (!st) st = mbrl_a2c_reset_optim(a, i);
  }
  if (!st) {
    for (int i = 0; i < M; ++i) a->contribution[i] = 0.0;
    if (rebuilt) memcpy(rebuilt, rb, (size_t)M * sizeof(int));
    if (n_rebuilt) *n_rebuilt = n;
  }
  a->training_enabled = 1;
  free(vecs);
  free(rb);
  return st;
}
