/* src/host/plan_opt.c - CEM, iCEM and MPPI over the planner's fast rollout (mbrl/plan_opt.h).
 *
 * Per plan call, every iteration samples the populations of all E environments (OpenMP over
 * the (environment, sample) rows; each row draws from its own Philox stream, so the numbers do
 * not depend on the thread count), scores them in one mbrl_planner_evaluate_batch call and
 * updates each environment's distribution (sorting N cost keys, a few passes over N x D
 * floats). A last evaluate call scores the returned sequences (for best_return / pred_next).
 *
 * On a CUDA planner, CEM and MPPI iterations go through host/plan_opt_cuda.h instead (device
 * sampling and scoring, population and costs copied back, the same update code below); iCEM
 * samples here and scores through mbrl_planner_evaluate_batch on the device.
 *
 * iCEM's extra randomness (which elites are kept, the end actions of the shifted elites) comes
 * from Philox(mbrl_planner_seed(plan_seed, MBRL_PLAN_OPT_TAG, i), subsequence 2^32, offset 0):
 * a partial Fisher-Yates shuffle of the elite indices (mbrl_philox_below), then, in iteration
 * 0, per kept elite A standard normals (Box-Muller pairs) for its new last step. */
#include "mbrl/plan_opt.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/plan_opt_cuda.h"
#include "host/planner_cuda.h"

#define ICEM_AUX_SUBSEQ (1ull << 32)
#define ICEM_MAX_HORIZON 1024 /* colored noise per row on the stack */

struct mbrl_plan_opt {
  mbrl_plan_opt_config c;
  const mbrl_plan_model *m;
  mbrl_planner *p;
  int H, A, D, O, Emax, Nmax, n_elite, n_keep, discrete;
  float lo[MBRL_MAX_DIM], hi[MBRL_MAX_DIM], mid[MBRL_MAX_DIM], var0[MBRL_MAX_DIM];
  float *warm;      /* (Emax, D) the next plan's starting mean (CEM: shifted returned seq) */
  float *past;      /* (Emax, A) MPPI: the previous action */
  uint8_t *have;    /* (Emax) warm/past valid */
  float *mu, *var;  /* (Emax, D) the working distribution */
  float *pop;       /* (Emax, Nmax, D) */
  float *evalbuf;   /* (Emax, Nmax, D) rounded copy (discrete envs) */
  float *costs;     /* (Emax, Nmax) */
  uint64_t *order;  /* (Emax, Nmax) */
  float *best;      /* (Emax, D) best sample seen (return_best) */
  float *best_cost; /* (Emax) */
  float *out;       /* (Emax, D) the returned sequences */
  float *out_eval;  /* (Emax, D) rounded copy */
  float *out_cost;  /* (Emax) */
  float *out_s1;    /* (Emax, O) */
  float *elite;     /* (Emax, n_elite, D) iCEM: the last iteration's elites */
  uint8_t *have_elite; /* (Emax) */
  int *n_pop;       /* (Emax) iCEM: rows of the current population */
  int last_E;
  int last_rows;    /* rows per env of the last iteration's costs (its stride in costs) */
  void *cuda;       /* CEM/MPPI on a CUDA planner: device sampling (host/plan_opt_cuda.h) */
};

/* ---------------------------------------------------------------- update steps */

void mbrl_plan_opt_cem_sample(int H, int A, const float *mu, const float *var, const float *lo,
                              const float *hi, int N, const float *z, float *pop) {
  const int D = H * A;
  for (int k = 0; k < N; ++k)
    for (int d = 0; d < D; ++d) {
      const int j = d % A;
      pop[(size_t)k * D + d] = mbrl_plan_opt_cem_entry(mu[d], var[d], lo[j], hi[j], z[(size_t)k * D + d]);
    }
}

static int cmp_u64(const void *a, const void *b) {
  const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

int mbrl_plan_opt_cem_update(int H, int A, int N, const float *pop, const float *costs,
                             int n_elite, float alpha, int unbiased, float *mu, float *var,
                             uint64_t *order) {
  const int D = H * A;
  for (int k = 0; k < N; ++k) order[k] = mbrl_planner_cost_key(costs[k], (uint32_t)k);
  qsort(order, (size_t)N, sizeof *order, cmp_u64);
  for (int k = 0; k < N; ++k) order[k] &= 0xFFFFFFFFull;
  const double div = unbiased && n_elite > 1 ? n_elite - 1 : n_elite;
  for (int d = 0; d < D; ++d) {
    double s = 0.0;
    for (int i = 0; i < n_elite; ++i) s += pop[order[i] * (size_t)D + d];
    const double m = s / n_elite;
    double q = 0.0;
    for (int i = 0; i < n_elite; ++i) {
      const double t = pop[order[i] * (size_t)D + d] - m;
      q += t * t;
    }
    mu[d] = (float)(alpha * (double)mu[d] + (1.0 - alpha) * m);
    var[d] = (float)(alpha * (double)var[d] + (1.0 - alpha) * (q / div));
  }
  return (int)order[0];
}

void mbrl_plan_opt_mppi_sample(int H, int A, const float *mean, const float *past, float sigma,
                               float beta, const float *lo, const float *hi, int N,
                               const float *z, float *pop) {
  const int D = H * A;
  for (int k = 0; k < N; ++k)
    mbrl_plan_opt_mppi_row(H, A, mean, past, sigma, beta, lo, hi, z + (size_t)k * D,
                           pop + (size_t)k * D);
}

void mbrl_plan_opt_mppi_update(int H, int A, int N, const float *pop, const float *costs,
                               float lambda, float *mean) {
  const int D = H * A;
  float cmin = INFINITY;
  for (int k = 0; k < N; ++k)
    if (costs[k] < cmin) cmin = costs[k];
  double acc[4096], *sum = D <= 4096 ? acc : (double *)calloc((size_t)D, sizeof(double));
  if (!sum) return; /* D > 4096 and no memory: keep the mean */
  memset(sum, 0, (size_t)D * sizeof(double));
  double wsum = 0.0;
  for (int k = 0; k < N; ++k) {
    if (!(costs[k] <= INFINITY) || !isfinite(cmin)) continue; /* NaN (or no finite cost) */
    const double w = exp(-((double)costs[k] - (double)cmin) / (double)lambda);
    if (w == 0.0) continue;
    wsum += w;
    const float *x = pop + (size_t)k * D;
    for (int d = 0; d < D; ++d) sum[d] += w * x[d];
  }
  if (wsum > 0.0)
    for (int d = 0; d < D; ++d) mean[d] = (float)(sum[d] / (wsum + 1e-10));
  if (sum != acc) free(sum);
}

void mbrl_plan_opt_colored(int n, float exponent, const float *g, float *out) {
  const int m = n / 2 + 1; /* rfftfreq(n): f_i = i / n, i < m */
  double scale[64];
  double *s = m <= 64 ? scale : (double *)malloc((size_t)m * sizeof(double));
  if (!s) {
    for (int t = 0; t < n; ++t) out[t] = 0.0f;
    return;
  }
  for (int i = 0; i < m; ++i) {
    double f = (double)i / n;
    if (f < 1.0 / n) f = 1.0 / n; /* fmin = 1/n: f_0 takes f_1's scale */
    s[i] = pow(f, -(double)exponent / 2.0);
  }
  double w2 = 0.0;
  for (int i = 1; i < m; ++i) {
    double w = s[i];
    if (i == m - 1) w *= (1.0 + (n % 2)) / 2.0;
    w2 += w * w;
  }
  const double sigma = 2.0 * sqrt(w2) / n;
  /* irfft of X_i = s_i (g_re[i] + 1j g_im[i]), X_0 real * sqrt 2, Nyquist (n even) real * sqrt 2 */
  for (int t = 0; t < n; ++t) {
    double y = 0.0;
    for (int i = 0; i < m; ++i) {
      double re = s[i] * g[i], im = s[i] * g[m + i];
      const int edge = i == 0 || (n % 2 == 0 && i == m - 1);
      if (edge) {
        re *= sqrt(2.0);
        im = 0.0;
      }
      const double th = 2.0 * 3.14159265358979323846 * (double)i * (double)t / (double)n;
      y += (edge ? 1.0 : 2.0) * (re * cos(th) - im * sin(th));
    }
    out[t] = (float)(y / n / sigma);
  }
  if (s != scale) free(s);
}

/* ---------------------------------------------------------------- config */

void mbrl_plan_opt_config_init(mbrl_plan_opt_config *c, mbrl_plan_opt_kind kind) {
  memset(c, 0, sizeof *c);
  c->kind = kind;
  c->population = 500;
  c->iterations = 5;
  c->warm_start = 1;
  c->elite_ratio = 0.1f;
  c->alpha = 0.0f; /* oracle Pendulum-v1, 50 episodes: 0 -143.5, 0.1 (mbrl-lib's) -148.5 */
  c->return_best = 0;
  c->noise_beta = 2.0f;
  c->pop_decay = 1.25f;
  c->keep_elite_frac = 0.3f;
  c->lambda = 0.3f; /* oracle Pendulum-v1, 50 episodes: 0.3 -138.8, 1 -141.8, 3 -146.6 */
  c->sigma = 1.0f;
  c->beta = 0.9f;
  if (kind == MBRL_PLAN_OPT_ICEM) c->population = 300;
}

int mbrl_plan_opt_default_horizon(mbrl_plan_opt_kind kind) {
  switch (kind) {
    case MBRL_PLAN_OPT_CEM: return 30;
    case MBRL_PLAN_OPT_ICEM: return 30;
    case MBRL_PLAN_OPT_MPPI: return 20;
  }
  return 0;
}

const char *mbrl_plan_opt_kind_name(mbrl_plan_opt_kind kind) {
  switch (kind) {
    case MBRL_PLAN_OPT_CEM: return "cem";
    case MBRL_PLAN_OPT_ICEM: return "icem";
    case MBRL_PLAN_OPT_MPPI: return "mppi";
  }
  return NULL;
}

mbrl_plan_opt_kind mbrl_plan_opt_kind_from_name(const char *name) {
  if (!name) return (mbrl_plan_opt_kind)0;
  if (!strcmp(name, "cem")) return MBRL_PLAN_OPT_CEM;
  if (!strcmp(name, "icem")) return MBRL_PLAN_OPT_ICEM;
  if (!strcmp(name, "mppi")) return MBRL_PLAN_OPT_MPPI;
  return (mbrl_plan_opt_kind)0;
}

/* ---------------------------------------------------------------- create / free */

static int elites_of(const mbrl_plan_opt_config *c) {
  /* ceil(population * ratio) as mbrl-lib (in double there); the float ratio's representation
   * error (0.1f = 0.100000001) must not add an elite: ignore a relative excess below 1e-6 */
  const double x = (double)c->population * (double)c->elite_ratio;
  return (int)ceil(x - 1e-6 * x);
}

/* iCEM population of iteration i (without the kept elites). */
static int icem_pop(const mbrl_plan_opt *o, int i) {
  const double n = (double)o->c.population * pow((double)o->c.pop_decay, -(double)i);
  const double lo = 2.0 * o->n_elite;
  return (int)ceil((n > lo ? n : lo) * (1.0 - 1e-6));
}

mbrl_status mbrl_plan_opt_config_check(const mbrl_plan_opt_config *c) {
#define BAD(...) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_opt: " __VA_ARGS__)
  if (!mbrl_plan_opt_kind_name(c->kind))
    BAD("optimizer kind %d; use MBRL_PLAN_OPT_CEM, _ICEM or _MPPI", (int)c->kind);
  if (c->population < 1 || c->population > MBRL_PLAN_OPT_MAX_POPULATION)
    BAD("population %d; use 1..%d", c->population, MBRL_PLAN_OPT_MAX_POPULATION);
  if (c->iterations < 1 || c->iterations > MBRL_PLAN_OPT_MAX_ITERATIONS)
    BAD("iterations %d; use 1..%d", c->iterations, MBRL_PLAN_OPT_MAX_ITERATIONS);
  if (c->kind == MBRL_PLAN_OPT_CEM || c->kind == MBRL_PLAN_OPT_ICEM) {
    if (!(c->elite_ratio > 0.0f && c->elite_ratio <= 1.0f))
      BAD("elite ratio %g; use a value in (0, 1]", (double)c->elite_ratio);
    const int ne = elites_of(c);
    if (ne < 2)
      BAD("elite ratio %g x population %d gives %d elite(s); the variance needs at least 2: "
          "raise the ratio or the population", (double)c->elite_ratio, c->population, ne);
    if (!(c->alpha >= 0.0f && c->alpha < 1.0f))
      BAD("alpha %g; use a value in [0, 1)", (double)c->alpha);
  }
  if (c->kind == MBRL_PLAN_OPT_ICEM) {
    if (!(c->pop_decay >= 1.0f && c->pop_decay <= 100.0f))
      BAD("population decay %g; use a value in [1, 100]", (double)c->pop_decay);
    if (!(c->keep_elite_frac >= 0.0f && c->keep_elite_frac <= 1.0f))
      BAD("keep-elite fraction %g; use a value in [0, 1]", (double)c->keep_elite_frac);
    if (!(c->noise_beta >= 0.0f && c->noise_beta <= 10.0f))
      BAD("colored-noise exponent %g; use a value in [0, 10]", (double)c->noise_beta);
  }
  if (c->kind == MBRL_PLAN_OPT_MPPI) {
    if (!(c->lambda > 0.0f && isfinite(c->lambda)))
      BAD("temperature lambda %g; use a finite value > 0", (double)c->lambda);
    if (!(c->sigma > 0.0f && isfinite(c->sigma)))
      BAD("noise sigma %g; use a finite value > 0", (double)c->sigma);
    if (!(c->beta > 0.0f && c->beta <= 1.0f))
      BAD("smoothing beta %g; use a value in (0, 1]", (double)c->beta);
  }
#undef BAD
  return MBRL_OK;
}

void mbrl_plan_opt_free(mbrl_plan_opt *o) {
  if (!o) return;
#ifdef MBRL_HAVE_CUDA
  mbrl_plan_opt_cuda_free(o->cuda); /* before the planner whose stream it uses */
#endif
  mbrl_planner_free(o->p);
  free(o->warm);
  free(o->past);
  free(o->have);
  free(o->mu);
  free(o->var);
  free(o->pop);
  free(o->evalbuf);
  free(o->costs);
  free(o->order);
  free(o->best);
  free(o->best_cost);
  free(o->out);
  free(o->out_eval);
  free(o->out_cost);
  free(o->out_s1);
  free(o->elite);
  free(o->have_elite);
  free(o->n_pop);
  free(o);
}

mbrl_status mbrl_plan_opt_create(mbrl_plan_opt **out, const mbrl_plan_model *model,
                                 const mbrl_planner_config *pcfg,
                                 const mbrl_plan_opt_config *ocfg) {
  if (!out || !model || !pcfg || !ocfg)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_opt_create: NULL argument");
  *out = NULL;
  mbrl_status st = mbrl_plan_opt_config_check(ocfg);
  if (st) return st;
  mbrl_backend be;
  if ((st = mbrl_backend_resolve(pcfg->backend, &be))) return st;
  mbrl_plan_opt *o = (mbrl_plan_opt *)calloc(1, sizeof *o);
  if (!o) return mbrl_set_error(MBRL_ERR_NOMEM, "plan_opt_create: out of memory");
  o->c = *ocfg;
  o->m = model;
  o->H = pcfg->horizon;
  o->A = model->act_dim;
  o->O = model->obs_dim;
  o->D = o->H * o->A;
  o->Emax = pcfg->max_envs;
  o->discrete = model->n_actions > 0;
  o->n_elite = ocfg->kind == MBRL_PLAN_OPT_MPPI ? 0 : elites_of(ocfg);
  o->n_keep = ocfg->kind == MBRL_PLAN_OPT_ICEM
                  ? (int)ceil((double)ocfg->keep_elite_frac * o->n_elite * (1.0 - 1e-6))
                  : 0;
  o->Nmax = ocfg->population;
  if (ocfg->kind == MBRL_PLAN_OPT_ICEM && pcfg->horizon > ICEM_MAX_HORIZON) {
    free(o);
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_opt_create: iCEM horizon %d; use 1..%d",
                          pcfg->horizon, ICEM_MAX_HORIZON);
  }
  if (ocfg->kind == MBRL_PLAN_OPT_ICEM) {
    int n0 = icem_pop(o, 0);
    o->Nmax = n0 + (o->n_keep > 1 ? o->n_keep : 1);
  }
  for (int j = 0; j < o->A; ++j) {
    o->lo[j] = o->discrete ? -0.5f : model->act_low[j];
    o->hi[j] = o->discrete ? (float)model->n_actions - 0.5f : model->act_high[j];
    o->mid[j] = 0.5f * (o->lo[j] + o->hi[j]);
    o->var0[j] = (o->hi[j] - o->lo[j]) * (o->hi[j] - o->lo[j]) / 16.0f;
  }
  mbrl_planner_config pc = *pcfg;
  pc.samples = o->Nmax;
  pc.backend = be;
  if ((st = mbrl_planner_create(&o->p, model, &pc))) {
    free(o);
    return st;
  }
#ifdef MBRL_HAVE_CUDA
  if (be == MBRL_BACKEND_CUDA && ocfg->kind != MBRL_PLAN_OPT_ICEM &&
      (st = mbrl_plan_opt_cuda_create(&o->cuda, mbrl_planner_cuda_state(o->p), o->Emax, o->Nmax,
                                      o->H, o->A, o->lo, o->hi, model->n_actions))) {
    mbrl_plan_opt_free(o);
    return st;
  }
#endif
  const size_t E = (size_t)o->Emax, D = (size_t)o->D, N = (size_t)o->Nmax;
  o->warm = (float *)calloc(E * D, sizeof(float));
  o->past = (float *)calloc(E * (size_t)o->A, sizeof(float));
  o->have = (uint8_t *)calloc(E, 1);
  o->mu = (float *)calloc(E * D, sizeof(float));
  o->var = (float *)calloc(E * D, sizeof(float));
  o->pop = (float *)malloc(E * N * D * sizeof(float));
  o->evalbuf = o->discrete ? (float *)malloc(E * N * D * sizeof(float)) : NULL;
  o->costs = (float *)malloc(E * N * sizeof(float));
  o->order = (uint64_t *)malloc(E * N * sizeof(uint64_t));
  o->best = (float *)calloc(E * D, sizeof(float));
  o->best_cost = (float *)calloc(E, sizeof(float));
  o->out = (float *)calloc(E * D, sizeof(float));
  o->out_eval = (float *)calloc(E * D, sizeof(float));
  o->out_cost = (float *)calloc(E, sizeof(float));
  o->out_s1 = (float *)calloc(E * (size_t)o->O, sizeof(float));
  o->elite = o->n_elite ? (float *)calloc(E * (size_t)o->n_elite * D, sizeof(float)) : NULL;
  o->have_elite = (uint8_t *)calloc(E, 1);
  o->n_pop = (int *)calloc(E, sizeof(int));
  if (!o->warm || !o->past || !o->have || !o->mu || !o->var || !o->pop ||
      (o->discrete && !o->evalbuf) || !o->costs || !o->order || !o->best || !o->best_cost ||
      !o->out || !o->out_eval || !o->out_cost || !o->out_s1 || (o->n_elite && !o->elite) ||
      !o->have_elite || !o->n_pop) {
    mbrl_plan_opt_free(o);
    return mbrl_set_error(MBRL_ERR_NOMEM,
                          "plan_opt_create: cannot allocate the populations (%zu envs x %zu "
                          "samples x %zu actions); lower the population or max_envs",
                          E, N, D);
  }
  *out = o;
  return MBRL_OK;
}

void mbrl_plan_opt_reset(mbrl_plan_opt *o, int e) {
  if (!o) return;
  for (int i = 0; i < o->Emax; ++i)
    if (e < 0 || e == i) {
      o->have[i] = 0;
      o->have_elite[i] = 0;
    }
}

mbrl_planner *mbrl_plan_opt_planner(mbrl_plan_opt *o) { return o ? o->p : NULL; }

long mbrl_plan_opt_rollouts(const mbrl_plan_opt *o) {
  if (!o) return 0;
  if (o->c.kind != MBRL_PLAN_OPT_ICEM) return (long)o->c.population * o->c.iterations + 1;
  long n = 1;
  for (int i = 0; i < o->c.iterations; ++i) n += icem_pop(o, i) + (i == o->c.iterations - 1 ? 1 : o->n_keep);
  return n;
}

mbrl_status mbrl_plan_opt_last_sequence(const mbrl_plan_opt *o, int e, float *seq) {
  if (!o || !seq) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_opt_last_sequence: NULL argument");
  if (e < 0 || e >= o->last_E)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "plan_opt_last_sequence: env %d; the last plan had %d environment(s)", e,
                          o->last_E);
  memcpy(seq, o->out + (size_t)e * o->D, (size_t)o->D * sizeof(float));
  return MBRL_OK;
}

mbrl_status mbrl_plan_opt_last_population(const mbrl_plan_opt *o, int e, float *pop,
                                          float *costs, int *n) {
  if (!o || !n) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_opt_last_population: NULL argument");
  if (e < 0 || e >= o->last_E)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "plan_opt_last_population: env %d; the last plan had %d environment(s)",
                          e, o->last_E);
  *n = o->n_pop[e];
  if (pop)
    memcpy(pop, o->pop + (size_t)e * o->Nmax * o->D, (size_t)*n * o->D * sizeof(float));
  if (costs) memcpy(costs, o->costs + (size_t)e * o->last_rows, (size_t)*n * sizeof(float));
  return MBRL_OK;
}

/* ---------------------------------------------------------------- plan */

/* Score rows (E, N, D) of `x` (rounded first for a discrete env) into costs (E, N); an
 * ensemble's particles draw from the particle seed mbrl_planner_seed(seeds[e],
 * MBRL_PLAN_OPT_PARTICLE_TAG, it) of iteration `it` (the returned sequence: it = iterations). */
static mbrl_status score(mbrl_plan_opt *o, const float *obs, int E, int N, const float *x,
                         float *rounded, float *costs, float *s1, const uint64_t *seeds, int it) {
  const float *src = x;
  uint64_t ps_small[8] = {0}, *ps = E <= 8 ? ps_small : (uint64_t *)malloc((size_t)E * sizeof *ps);
  if (!ps) return mbrl_set_error(MBRL_ERR_NOMEM, "plan_opt: out of memory");
  for (int e = 0; e < E; ++e)
    ps[e] = mbrl_planner_seed(seeds[e], MBRL_PLAN_OPT_PARTICLE_TAG, (uint64_t)it);
  if (o->discrete) {
    const size_t n = (size_t)E * N * o->D;
    for (size_t i = 0; i < n; ++i) rounded[i] = mbrl_plan_opt_round_index(x[i], o->m->n_actions);
    src = rounded;
  }
  mbrl_status st = mbrl_planner_evaluate_batch_seeded(o->p, obs, src, ps, E, N, costs, s1);
  if (ps != ps_small) free(ps);
  return st;
}

/* Truncated-normal noise rows into pop (E, N, D) for iteration it (z in place, transformed
 * afterwards by the caller's sample step). */
static void draw_noise(const mbrl_plan_opt *o, const uint64_t *seeds, int E, int N, int it,
                       float *z) {
  const long rows = (long)E * N;
  const int D = o->D;
#pragma omp parallel for schedule(static) if (rows * D > 8192)
  for (long r = 0; r < rows; ++r) {
    const int e = (int)(r / N), k = (int)(r % N);
    mbrl_philox s;
    mbrl_plan_opt_rng(&s, seeds[e], it, (uint64_t)k);
    mbrl_plan_opt_truncnormal(&s, D, z + ((size_t)e * o->Nmax + k) * D);
  }
}

/* Colored-noise rows (iCEM): row k of env e, iteration it, one series of H per action entry j,
 * from 2 * (H/2 + 1) standard normals each (untruncated Box-Muller), entries j in order. */
static void draw_colored(const mbrl_plan_opt *o, const uint64_t *seeds, int E, int N, int it,
                         float *z) {
  const long rows = (long)E * N;
  const int H = o->H, A = o->A, D = o->D, G = 2 * (H / 2 + 1);
#pragma omp parallel for schedule(static) if (rows * D > 4096)
  for (long r = 0; r < rows; ++r) {
    const int e = (int)(r / N), k = (int)(r % N);
    mbrl_philox s;
    mbrl_plan_opt_rng(&s, seeds[e], it, (uint64_t)k);
    float g[2 * (ICEM_MAX_HORIZON / 2 + 1)], y[ICEM_MAX_HORIZON];
    float *zr = z + ((size_t)e * o->Nmax + k) * D;
    for (int j = 0; j < A; ++j) {
      for (int i = 0; i < G; i += 2) {
        const uint32_t a = mbrl_philox_next_u32(&s), b = mbrl_philox_next_u32(&s);
        float n0, n1;
        mbrl_plan_opt_box_muller(a, b, &n0, &n1);
        g[i] = n0;
        if (i + 1 < G) g[i + 1] = n1;
      }
      mbrl_plan_opt_colored(H, o->c.noise_beta, g, y);
      for (int h = 0; h < H; ++h) zr[h * A + j] = y[h];
    }
  }
}

static void start_mean(mbrl_plan_opt *o, int e, float *mu) {
  const int D = o->D, A = o->A;
  if (o->c.warm_start && o->have[e]) {
    memcpy(mu, o->warm + (size_t)e * D, (size_t)D * sizeof(float));
  } else {
    for (int d = 0; d < D; ++d) mu[d] = o->mid[d % A];
  }
}

static mbrl_status plan_cem(mbrl_plan_opt *o, const float *obs, const uint64_t *seeds, int E) {
  const int D = o->D, A = o->A, N = o->c.population;
  for (int e = 0; e < E; ++e) {
    start_mean(o, e, o->mu + (size_t)e * D);
    for (int d = 0; d < D; ++d) o->var[(size_t)e * D + d] = o->var0[d % A];
    o->best_cost[e] = INFINITY;
  }
  for (int it = 0; it < o->c.iterations; ++it) {
    mbrl_status st;
#ifdef MBRL_HAVE_CUDA
    if (o->cuda) { /* drawn and scored on the device, pop and costs copied back */
      st = mbrl_plan_opt_cuda_iterate(o->cuda, MBRL_PLAN_OPT_CEM, obs, seeds, E, it, o->mu,
                                      o->var, 0.0f, 0.0f, o->pop, o->costs);
      if (st) return st;
    } else
#endif
    {
      draw_noise(o, seeds, E, N, it, o->pop);
      for (int e = 0; e < E; ++e) {
        float *x = o->pop + (size_t)e * o->Nmax * D;
        mbrl_plan_opt_cem_sample(o->H, A, o->mu + (size_t)e * D, o->var + (size_t)e * D, o->lo,
                                 o->hi, N, x, x);
      }
      /* rows of env e start at e * Nmax * D (N = Nmax): E x N contiguous rows */
      st = score(o, obs, E, N, o->pop, o->evalbuf, o->costs, NULL, seeds, it);
      if (st) return st;
    }
    for (int e = 0; e < E; ++e) {
      const float *x = o->pop + (size_t)e * o->Nmax * D, *c = o->costs + (size_t)e * N;
      const int b = mbrl_plan_opt_cem_update(o->H, A, N, x, c, o->n_elite, o->c.alpha, 1,
                                             o->mu + (size_t)e * D, o->var + (size_t)e * D,
                                             o->order + (size_t)e * o->Nmax);
      if (mbrl_planner_cost_key(c[b], 0) < mbrl_planner_cost_key(o->best_cost[e], 0) ||
          it == 0) {
        o->best_cost[e] = c[b];
        memcpy(o->best + (size_t)e * D, x + (size_t)b * D, (size_t)D * sizeof(float));
      }
    }
  }
  for (int e = 0; e < E; ++e) {
    memcpy(o->out + (size_t)e * D, (o->c.return_best ? o->best : o->mu) + (size_t)e * D,
           (size_t)D * sizeof(float));
    o->n_pop[e] = N;
  }
  o->last_rows = N;
  return MBRL_OK;
}

static mbrl_status plan_icem(mbrl_plan_opt *o, const float *obs, const uint64_t *seeds, int E) {
  const int D = o->D, A = o->A, H = o->H, NE = o->n_elite, NK = o->n_keep;
  for (int e = 0; e < E; ++e) {
    start_mean(o, e, o->mu + (size_t)e * D);
    for (int d = 0; d < D; ++d) o->var[(size_t)e * D + d] = o->var0[d % A];
    o->best_cost[e] = INFINITY;
  }
  for (int it = 0; it < o->c.iterations; ++it) {
    const int Ni = icem_pop(o, it), last = it == o->c.iterations - 1;
    draw_colored(o, seeds, E, Ni, it, o->pop);
    int Nrows = Ni;
    for (int e = 0; e < E; ++e) {
      float *x = o->pop + (size_t)e * o->Nmax * D;
      const float *mu = o->mu + (size_t)e * D, *var = o->var + (size_t)e * D;
      for (int k = 0; k < Ni; ++k)
        for (int d = 0; d < D; ++d) {
          const int j = d % A;
          float v = mu[d] + x[(size_t)k * D + d] * sqrtf(var[d]);
          x[(size_t)k * D + d] = v < o->lo[j] ? o->lo[j] : v > o->hi[j] ? o->hi[j] : v;
        }
      int n = Ni;
      if (o->have_elite[e] && it > 0 && last) { /* mbrl-lib: the mean joins the last one */
        memcpy(x + (size_t)n * D, mu, (size_t)D * sizeof(float));
        n += 1;
      } else if (o->have_elite[e] && NK > 0) {
        mbrl_philox s;
        mbrl_plan_opt_rng(&s, seeds[e], it, ICEM_AUX_SUBSEQ);
        {
          int perm[4096];
          int *pp = NE <= 4096 ? perm : NULL;
          const float *el = o->elite + (size_t)e * NE * D;
          for (int i = 0; i < NE && pp; ++i) pp[i] = i;
          for (int i = 0; i < NK && pp; ++i) { /* partial Fisher-Yates: NK of NE at random */
            const int r = i + (int)mbrl_philox_below(&s, (uint32_t)(NE - i));
            const int t = pp[i];
            pp[i] = pp[r];
            pp[r] = t;
          }
          for (int i = 0; i < NK && pp; ++i) {
            float *dst = x + (size_t)(n + i) * D;
            const float *src = el + (size_t)pp[i] * D;
            if (it == 0) { /* the previous plan's elites, shifted; a new last step */
              memcpy(dst, src + A, (size_t)(D - A) * sizeof(float));
              for (int j = 0; j < A; j += 2) {
                float n0, n1;
                const uint32_t a = mbrl_philox_next_u32(&s), b = mbrl_philox_next_u32(&s);
                mbrl_plan_opt_box_muller(a, b, &n0, &n1);
                dst[D - A + j] = mu[D - A + j] + sqrtf(var[D - A + j]) * n0;
                if (j + 1 < A) dst[D - A + j + 1] = mu[D - A + j + 1] + sqrtf(var[D - A + j + 1]) * n1;
              }
            } else {
              memcpy(dst, src, (size_t)D * sizeof(float));
            }
          }
          if (pp) n += NK;
        }
      }
      o->n_pop[e] = n;
      if (n > Nrows) Nrows = n;
    }
    /* envs may differ in rows (first plan has no elites): pad with copies of row 0 */
    for (int e = 0; e < E; ++e) {
      float *x = o->pop + (size_t)e * o->Nmax * D;
      for (int k = o->n_pop[e]; k < Nrows; ++k)
        memcpy(x + (size_t)k * D, x, (size_t)D * sizeof(float));
    }
    (void)H;
    /* score needs rows contiguous per env with stride Nrows: compact when Nrows < Nmax */
    if (Nrows < o->Nmax)
      for (int e = 1; e < E; ++e)
        memmove(o->pop + (size_t)e * Nrows * D, o->pop + (size_t)e * o->Nmax * D,
                (size_t)Nrows * D * sizeof(float));
    mbrl_status st = score(o, obs, E, Nrows, o->pop, o->evalbuf, o->costs, NULL, seeds, it);
    o->last_rows = Nrows;
    if (Nrows < o->Nmax) /* back to the Nmax stride */
      for (int e = E - 1; e >= 1; --e)
        memmove(o->pop + (size_t)e * o->Nmax * D, o->pop + (size_t)e * Nrows * D,
                (size_t)Nrows * D * sizeof(float));
    if (st) return st;
    for (int e = 0; e < E; ++e) {
      const float *x = o->pop + (size_t)e * o->Nmax * D, *c = o->costs + (size_t)e * Nrows;
      const int n = o->n_pop[e];
      uint64_t *ord = o->order + (size_t)e * o->Nmax;
      const int b = mbrl_plan_opt_cem_update(H, A, n, x, c, NE, o->c.alpha, 0,
                                             o->mu + (size_t)e * D, o->var + (size_t)e * D, ord);
      float *el = o->elite + (size_t)e * NE * D;
      for (int i = 0; i < NE; ++i)
        memcpy(el + (size_t)i * D, x + ord[i] * (size_t)D, (size_t)D * sizeof(float));
      o->have_elite[e] = 1;
      if (mbrl_planner_cost_key(c[b], 0) < mbrl_planner_cost_key(o->best_cost[e], 0) || it == 0) {
        o->best_cost[e] = c[b];
        memcpy(o->best + (size_t)e * D, x + (size_t)b * D, (size_t)D * sizeof(float));
      }
    }
  }
  for (int e = 0; e < E; ++e)
    memcpy(o->out + (size_t)e * D, (o->c.return_best ? o->best : o->mu) + (size_t)e * D,
           (size_t)D * sizeof(float));
  return MBRL_OK;
}

static mbrl_status plan_mppi(mbrl_plan_opt *o, const float *obs, const uint64_t *seeds, int E) {
  const int D = o->D, A = o->A, N = o->c.population;
  float past[MBRL_MAX_DIM * 8];
  float *pasts = E * A <= (int)(sizeof past / sizeof *past) ? past
                                                              : (float *)malloc((size_t)E * A * sizeof(float));
  if (!pasts) return mbrl_set_error(MBRL_ERR_NOMEM, "plan_opt_plan: out of memory");
  for (int e = 0; e < E; ++e) {
    float *mu = o->mu + (size_t)e * D;
    if (o->c.warm_start && o->have[e]) {
      const float *w = o->warm + (size_t)e * D; /* the previous mean */
      memcpy(mu, w + A, (size_t)(D - A) * sizeof(float));
      memcpy(mu + D - A, w + D - A, (size_t)A * sizeof(float));
    } else {
      for (int d = 0; d < D; ++d) mu[d] = o->mid[d % A];
    }
    for (int j = 0; j < A; ++j)
      pasts[e * A + j] = o->have[e] ? o->past[(size_t)e * A + j] : o->mid[j];
  }
  mbrl_status st = MBRL_OK;
  for (int it = 0; it < o->c.iterations && !st; ++it) {
#ifdef MBRL_HAVE_CUDA
    if (o->cuda) { /* drawn and scored on the device, pop and costs copied back */
      if ((st = mbrl_plan_opt_cuda_iterate(o->cuda, MBRL_PLAN_OPT_MPPI, obs, seeds, E, it, o->mu,
                                           pasts, o->c.sigma, o->c.beta, o->pop, o->costs)))
        break;
    } else
#endif
    {
      draw_noise(o, seeds, E, N, it, o->pop);
      for (int e = 0; e < E; ++e) {
        float *x = o->pop + (size_t)e * o->Nmax * D;
        mbrl_plan_opt_mppi_sample(o->H, A, o->mu + (size_t)e * D, pasts + e * A, o->c.sigma,
                                  o->c.beta, o->lo, o->hi, N, x, x);
      }
      if ((st = score(o, obs, E, N, o->pop, o->evalbuf, o->costs, NULL, seeds, it))) break;
    }
    for (int e = 0; e < E; ++e)
      mbrl_plan_opt_mppi_update(o->H, A, N, o->pop + (size_t)e * o->Nmax * D,
                                o->costs + (size_t)e * N, o->c.lambda, o->mu + (size_t)e * D);
  }
  if (pasts != past) free(pasts);
  if (st) return st;
  memcpy(o->out, o->mu, (size_t)E * D * sizeof(float));
  for (int e = 0; e < E; ++e) o->n_pop[e] = N;
  o->last_rows = N;
  return MBRL_OK;
}

mbrl_status mbrl_plan_opt_plan(mbrl_plan_opt *o, const float *obs, const uint64_t *plan_seeds,
                               int E, mbrl_plan_result *results) {
  if (!o || !obs || !plan_seeds || !results)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_opt_plan: NULL argument");
  if (E < 1 || E > o->Emax)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "plan_opt_plan: E = %d environments; this optimizer takes 1..%d "
                          "(max_envs)", E, o->Emax);
  for (size_t i = 0; i < (size_t)E * o->O; ++i)
    if (!isfinite(obs[i]))
      return mbrl_set_error(MBRL_ERR_NUMERIC,
                            "plan_opt_plan: observation value %zu (env %zu) is not finite",
                            i % o->O, i / o->O);
  /* pop rows of env e live at e * Nmax; score() reads E x N contiguous rows, so the CEM and
   * MPPI paths (N = population = Nmax) need no compaction. */
  mbrl_status st;
  switch (o->c.kind) {
    case MBRL_PLAN_OPT_CEM: st = plan_cem(o, obs, plan_seeds, E); break;
    case MBRL_PLAN_OPT_ICEM: st = plan_icem(o, obs, plan_seeds, E); break;
    default: st = plan_mppi(o, obs, plan_seeds, E); break;
  }
  if (st) return st;
  const int D = o->D, A = o->A, O = o->O;
  if ((st = score(o, obs, E, 1, o->out, o->out_eval, o->out_cost, o->out_s1, plan_seeds,
                  o->c.iterations))) return st;
  for (int e = 0; e < E; ++e) {
    const float *seq = o->out + (size_t)e * D;
    mbrl_plan_result *r = &results[e];
    memset(r, 0, sizeof *r);
    for (int j = 0; j < A; ++j)
      r->action[j] = o->discrete ? mbrl_plan_opt_round_index(seq[j], o->m->n_actions) : seq[j];
    r->best_return = -o->out_cost[e];
    memcpy(r->pred_next, o->out_s1 + (size_t)e * O, (size_t)O * sizeof(float));
    r->best_index = -1;
    /* warm state for the next plan */
    float *w = o->warm + (size_t)e * D;
    if (o->c.kind == MBRL_PLAN_OPT_MPPI) {
      memcpy(w, seq, (size_t)D * sizeof(float)); /* shifted at the next plan */
    } else {                                     /* shifted now, mid appended (mbrl-lib) */
      memcpy(w, seq + A, (size_t)(D - A) * sizeof(float));
      for (int j = 0; j < A; ++j) w[D - A + j] = o->mid[j];
    }
    memcpy(o->past + (size_t)e * A, seq, (size_t)A * sizeof(float));
    o->have[e] = 1;
  }
  o->last_E = E;
  return MBRL_OK;
}
