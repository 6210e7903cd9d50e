/* planner.c - plan models (learned, oracle) and random-shooting MPC: the CPU backend and the
 * dispatch to the CUDA backend (src/kernels/planner.cu through host/planner_cuda.h).
 *
 * CPU layout: rows (samples) are processed in blocks of BR = 48 rows, feature-major inside a
 * block (x[i][r], r fastest) so one vector holds 16 rows. A block rolls all H steps before
 * the next block starts; its activations stay in L1. The Linear layers run either a plain C
 * loop (any CPU) or an AVX-512 register-tiled kernel (8 outputs x 48 rows of accumulators,
 * weights pre-packed per 8-output tile) chosen at run time. OpenMP spreads blocks over
 * threads; every row's arithmetic is independent of the thread count. */
#include "mbrl/planner.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/planner_cuda.h"
#include "mbrl/env.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PLANNER_X86 1
#else
#define PLANNER_X86 0
#endif

#define BR 48 /* rows per block: 3 AVX-512 vectors */
#define ALIGN 64

/* ================================================================= models */

static mbrl_status check_env(const char *fn, const char *env_id, int obs_dim, int act_dim,
                             const mbrl_env_spec **spec_out) {
  const mbrl_env_spec *spec = mbrl_env_find(env_id ? env_id : "");
  if (!spec)
    return mbrl_set_error(MBRL_ERR_FORMAT, "%s: unknown env '%s'; the planner knows %s", fn,
                          env_id ? env_id : "(null)", mbrl_env_known_ids());
  if (spec->kind != MBRL_ENV_PENDULUM)
    return mbrl_set_error(MBRL_ERR_UNSUPPORTED,
                          "%s: the model is for %s, but the planner has a reward function only "
                          "for Pendulum-v1; use a Pendulum-v1 model",
                          fn, env_id);
  if (obs_dim != spec->obs_dim || act_dim != spec->act_dim)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "%s: the model maps obs %d + act %d, but %s has obs %d and act %d; "
                          "train a model on a %s dataset",
                          fn, obs_dim, act_dim, env_id, spec->obs_dim, spec->act_dim, env_id);
  *spec_out = spec;
  return MBRL_OK;
}

static mbrl_plan_model *model_new(const mbrl_env_spec *spec, mbrl_plan_model_kind kind) {
  mbrl_plan_model *m = (mbrl_plan_model *)calloc(1, sizeof *m);
  if (!m) return NULL;
  m->kind = kind;
  snprintf(m->env_id, sizeof m->env_id, "%s", spec->id);
  m->obs_dim = spec->obs_dim;
  m->act_dim = spec->act_dim;
  for (int j = 0; j < spec->act_dim; ++j) {
    m->act_low[j] = spec->act_low[j];
    m->act_high[j] = spec->act_high[j];
  }
  return m;
}

mbrl_status mbrl_plan_model_oracle(mbrl_plan_model **out, const char *env_id) {
  if (!out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_model_oracle: out is NULL");
  *out = NULL;
  const mbrl_env_spec *spec = mbrl_env_find(env_id ? env_id : "");
  if (!spec)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_model_oracle: unknown env '%s'; known: %s",
                          env_id ? env_id : "(null)", mbrl_env_known_ids());
  if (spec->kind != MBRL_ENV_PENDULUM)
    return mbrl_set_error(MBRL_ERR_UNSUPPORTED,
                          "plan_model_oracle: no true-dynamics planner model for %s (only "
                          "Pendulum-v1)",
                          env_id);
  mbrl_plan_model *m = model_new(spec, MBRL_PLAN_MODEL_ORACLE);
  if (!m) return mbrl_set_error(MBRL_ERR_NOMEM, "plan_model_oracle: out of memory");
  *out = m;
  return MBRL_OK;
}

mbrl_status mbrl_plan_model_from_mlp(mbrl_plan_model **out, const char *env_id, int obs_dim,
                                     int act_dim, const mbrl_mlp *mlp,
                                     const mbrl_dataset_stats *stats) {
  if (!out || !mlp || !stats)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_model_from_mlp: NULL argument");
  *out = NULL;
  const mbrl_env_spec *spec;
  mbrl_status st = check_env("plan_model_from_mlp", env_id, obs_dim, act_dim, &spec);
  if (st) return st;
  const mbrl_mlp_config *c = &mlp->cfg;
  const int L = c->n_layers;
  if (c->sizes[0] != obs_dim + act_dim || c->sizes[L] != obs_dim)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "plan_model_from_mlp: the network maps %d -> %d values, but a %s "
                          "dynamics model must map obs+act = %d -> obs = %d",
                          c->sizes[0], c->sizes[L], env_id, obs_dim + act_dim, obs_dim);
  if (L > 1 && c->activation != MBRL_ACT_RELU && c->activation != MBRL_ACT_TANH &&
      c->activation != MBRL_ACT_NONE)
    return mbrl_set_error(MBRL_ERR_UNSUPPORTED, "plan_model_from_mlp: unknown activation %d",
                          (int)c->activation);
  for (int j = 0; j < obs_dim; ++j)
    if (!(stats->state_std[j] >= 0.0f) || !(stats->delta_state_std[j] >= 0.0f) ||
        !isfinite(stats->state_mean[j]) || !isfinite(stats->delta_state_mean[j]) ||
        !isfinite(stats->state_std[j]) || !isfinite(stats->delta_state_std[j]))
      return mbrl_set_error(MBRL_ERR_FORMAT,
                            "plan_model_from_mlp: normalizer value %d is not finite or its std "
                            "is negative",
                            j);
  mbrl_mlp *folded = NULL;
  const mbrl_mlp *src = mlp;
  if (c->batchnorm) {
    st = mbrl_mlp_fold_batchnorm(mlp, 1, &folded);
    if (st) return st;
    src = folded;
  }
  mbrl_plan_model *m = model_new(spec, MBRL_PLAN_MODEL_LEARNED);
  float *params = m ? (float *)malloc(src->n_params * sizeof(float)) : NULL;
  if (!m || !params) {
    free(m);
    mbrl_mlp_free(folded);
    return mbrl_set_error(MBRL_ERR_NOMEM, "plan_model_from_mlp: out of memory");
  }
  st = mbrl_mlp_get_params(src, params);
  if (st) {
    free(params);
    free(m);
    mbrl_mlp_free(folded);
    return st;
  }
  m->n_layers = L;
  for (int l = 0; l <= L; ++l) m->sizes[l] = c->sizes[l];
  m->activation = L > 1 ? c->activation : MBRL_ACT_NONE;
  m->n_params = src->n_params;
  for (int l = 0; l < L; ++l) {
    m->w_off[l] = src->w_off[l];
    m->b_off[l] = src->b_off[l];
  }
  m->params = params;
  m->stats = *stats;
  mbrl_mlp_free(folded);
  for (size_t i = 0; i < m->n_params; ++i)
    if (!isfinite(params[i])) {
      mbrl_plan_model_free(m);
      return mbrl_set_error(MBRL_ERR_NUMERIC,
                            "plan_model_from_mlp: weight %zu of the (folded) network is not "
                            "finite; retrain the model",
                            i);
    }
  *out = m;
  return MBRL_OK;
}

mbrl_status mbrl_plan_model_from_dynamics(mbrl_plan_model **out, const mbrl_dynamics *d) {
  if (!out || !d) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_model_from_dynamics: NULL");
  return mbrl_plan_model_from_mlp(out, d->env_id, d->obs_dim, d->act_dim, d->mlp, &d->stats);
}

mbrl_status mbrl_plan_model_load(mbrl_plan_model **out, const char *path,
                                 const char *expect_env_id) {
  if (!out || !path) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_model_load: NULL argument");
  *out = NULL;
  mbrl_dynamics *d = NULL;
  mbrl_status st = mbrl_dynamics_load(path, MBRL_BACKEND_CPU, 2, &d);
  if (st) return st;
  if (expect_env_id && strcmp(d->env_id, expect_env_id) != 0) {
    st = mbrl_set_error(MBRL_ERR_FORMAT, "%s: the model is for %s, not %s; train one on a %s dataset",
                        path, d->env_id, expect_env_id, expect_env_id);
  } else {
    st = mbrl_plan_model_from_dynamics(out, d);
    if (st) {
      char msg[768];
      snprintf(msg, sizeof msg, "%s", mbrl_last_error());
      st = mbrl_set_error(st, "%s: %s", path, msg);
    }
  }
  mbrl_dynamics_free(d);
  return st;
}

void mbrl_plan_model_free(mbrl_plan_model *m) {
  if (!m) return;
  free(m->params);
  free(m);
}

double mbrl_plan_model_flops(const mbrl_plan_model *m) {
  if (!m || m->kind != MBRL_PLAN_MODEL_LEARNED) return 0.0;
  double f = 0.0;
  for (int l = 0; l < m->n_layers; ++l) f += 2.0 * m->sizes[l] * m->sizes[l + 1];
  return f;
}

float mbrl_plan_model_reward(const mbrl_plan_model *m, const float *obs, const float *act) {
  (void)m; /* Pendulum-v1 is the only env with a planner reward (checked at creation) */
  return mbrl_pendulum_reward_obs_f(obs[0], obs[1], obs[2], act[0]);
}

static float act_apply(float x, mbrl_act a) {
  if (a == MBRL_ACT_RELU) return x > 0.0f ? x : 0.0f;
  if (a == MBRL_ACT_TANH) return tanhf(x);
  return x;
}

mbrl_status mbrl_plan_model_step(const mbrl_plan_model *m, const float *obs, const float *act,
                                 int B, float *next) {
  if (!m || (B > 0 && (!obs || !act || !next)))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_model_step: NULL argument");
  const int O = m->obs_dim, A = m->act_dim;
  if (m->kind == MBRL_PLAN_MODEL_ORACLE) {
    for (int b = 0; b < B; ++b)
      mbrl_planner_oracle_step(obs + (size_t)b * O, act[(size_t)b * A], next + (size_t)b * O, NULL);
    return MBRL_OK;
  }
  float buf[2][1024];
  int maxw = 0;
  for (int l = 0; l <= m->n_layers; ++l) maxw = m->sizes[l] > maxw ? m->sizes[l] : maxw;
  float *x = buf[0], *y = buf[1], *heap = NULL;
  if (maxw > 1024) {
    heap = (float *)malloc(2 * (size_t)maxw * sizeof(float));
    if (!heap) return mbrl_set_error(MBRL_ERR_NOMEM, "plan_model_step: out of memory");
    x = heap;
    y = heap + maxw;
  }
  const mbrl_dataset_stats *s = &m->stats;
  for (int b = 0; b < B; ++b) {
    const float *o = obs + (size_t)b * O, *a = act + (size_t)b * A;
    for (int i = 0; i < O; ++i) x[i] = mbrl_normalize1(o[i], s->state_mean[i], s->state_std[i]);
    for (int j = 0; j < A; ++j)
      x[O + j] = mbrl_normalize1(a[j], s->action_mean[j], s->action_std[j]);
    for (int l = 0; l < m->n_layers; ++l) {
      const int in = m->sizes[l], ou = m->sizes[l + 1];
      const float *W = m->params + m->w_off[l], *bias = m->params + m->b_off[l];
      for (int j = 0; j < ou; ++j) {
        float acc = bias[j];
        for (int i = 0; i < in; ++i) acc += W[(size_t)j * in + i] * x[i];
        y[j] = l < m->n_layers - 1 ? act_apply(acc, m->activation) : acc;
      }
      float *t = x;
      x = y;
      y = t;
    }
    float *nx = next + (size_t)b * O;
    for (int i = 0; i < O; ++i)
      nx[i] = o[i] + mbrl_unnormalize1(x[i], s->delta_state_mean[i], s->delta_state_std[i]);
  }
  free(heap);
  return MBRL_OK;
}

/* ================================================================= planner */

struct mbrl_planner {
  const mbrl_plan_model *m;
  mbrl_planner_config cfg; /* backend resolved */
  int K, H, Emax;
  float gamma;
  int maxw;                /* widest layer */
  int nthreads;
  float *costs;            /* (Emax, K) */
  float *s1;               /* (Emax, K, obs) */
  int last_E;
  /* CPU */
  int avx512;
  float *packed;           /* per layer: tiles of T outputs, each (in, T) */
  size_t pk_off[MBRL_MLP_MAX_LAYERS];
  char *scratch;           /* nthreads x scratch_bytes, 64-byte aligned */
  size_t scratch_bytes;
  void *cuda;
};

typedef struct scratch_view {
  float *S, *A, *X0, *X1, *cost, *D, *tmp;
  mbrl_philox *rng;
} scratch_view;

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* Bytes of one thread's scratch: S (obs,BR), A (act,BR), two (maxw,BR) buffers, cost (BR),
 * tmp (maxw... for row gathers), BR philox states. */
static size_t scratch_size(int O, int A, int maxw) {
  size_t f = (size_t)BR * ((size_t)O + (size_t)A + 2 * (size_t)maxw + 5) + (size_t)maxw + 64;
  return round_up(f * sizeof(float), ALIGN) + round_up(BR * sizeof(mbrl_philox), ALIGN);
}

static scratch_view scratch_at(const mbrl_planner *p, int t) {
  const int O = p->m->obs_dim, A = p->m->act_dim;
  float *f = (float *)(p->scratch + (size_t)t * p->scratch_bytes);
  scratch_view v;
  v.S = f;
  v.A = v.S + (size_t)BR * O;
  v.X0 = v.A + (size_t)BR * A;
  v.X1 = v.X0 + (size_t)BR * p->maxw;
  v.cost = v.X1 + (size_t)BR * p->maxw;
  v.D = v.cost + BR;
  v.tmp = v.D + 4 * BR;
  size_t fbytes = round_up(((size_t)BR * ((size_t)O + A + 2 * (size_t)p->maxw + 5) + p->maxw + 64) *
                               sizeof(float),
                           ALIGN);
  v.rng = (mbrl_philox *)((char *)f + fbytes);
  return v;
}

static int model_maxw(const mbrl_plan_model *m) {
  int w = m->obs_dim + m->act_dim;
  if (m->kind == MBRL_PLAN_MODEL_LEARNED)
    for (int l = 0; l <= m->n_layers; ++l) w = m->sizes[l] > w ? m->sizes[l] : w;
  return w;
}

void mbrl_planner_config_init(mbrl_planner_config *c) {
  memset(c, 0, sizeof *c);
  c->samples = 1024;
  c->horizon = 15;
  c->gamma = 1.0f;
  c->max_envs = 1;
  c->backend = MBRL_BACKEND_AUTO;
}

static int cpu_threads(void) {
  int t = omp_get_max_threads();
  return t < 1 ? 1 : t;
}

static void memory_need(const mbrl_plan_model *m, const mbrl_planner_config *c, int nthreads,
                        int cuda, double *host, double *dev) {
  const double EK = (double)c->max_envs * (double)c->samples;
  const double O = m->obs_dim;
  const double params = m->kind == MBRL_PLAN_MODEL_LEARNED ? (double)m->n_params * 4.0 : 0.0;
  *host = EK * (1.0 + O) * 4.0 + 2.0 * params +
          (double)nthreads * (double)scratch_size(m->obs_dim, m->act_dim, model_maxw(m));
  *dev = cuda ? EK * (1.0 + O) * 4.0 + params + 8.0 * c->max_envs * (sizeof(mbrl_plan_result) + 16.0)
              : 0.0;
}

void mbrl_planner_memory(const mbrl_plan_model *model, const mbrl_planner_config *cfg,
                         size_t *host_bytes, size_t *device_bytes) {
  double h = 0, d = 0;
  if (model && cfg) {
    mbrl_backend b = cfg->backend;
    if (b == MBRL_BACKEND_AUTO) b = mbrl_cuda_device_count() > 0 ? MBRL_BACKEND_CUDA : MBRL_BACKEND_CPU;
    memory_need(model, cfg, cpu_threads(), b == MBRL_BACKEND_CUDA, &h, &d);
  }
  if (host_bytes) *host_bytes = h > (double)SIZE_MAX ? SIZE_MAX : (size_t)h;
  if (device_bytes) *device_bytes = d > (double)SIZE_MAX ? SIZE_MAX : (size_t)d;
}

/* Tile sizes used for a layer of `out` outputs: greedy 8, 4, 2, 1. */
static int next_tile(int remaining) {
  return remaining >= 8 ? 8 : remaining >= 4 ? 4 : remaining >= 2 ? 2 : 1;
}

static size_t pack_weights(const mbrl_plan_model *m, float *dst, size_t *off) {
  size_t n = 0;
  for (int l = 0; l < m->n_layers; ++l) {
    const int in = m->sizes[l], ou = m->sizes[l + 1];
    const float *W = m->params + m->w_off[l];
    if (off) off[l] = n;
    for (int j0 = 0; j0 < ou;) {
      const int T = next_tile(ou - j0);
      for (int i = 0; i < in; ++i)
        for (int t = 0; t < T; ++t) {
          if (dst) dst[n] = W[(size_t)(j0 + t) * in + i];
          ++n;
        }
      j0 += T;
    }
  }
  return n;
}

static int cpu_has_avx512(void) {
#if PLANNER_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") ? 1 : 0;
#else
  return 0;
#endif
}

static double gib(double b) { return b / (1024.0 * 1024.0 * 1024.0); }

mbrl_status mbrl_planner_create(mbrl_planner **out, const mbrl_plan_model *model,
                                const mbrl_planner_config *cfg) {
  if (!out || !model || !cfg)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "planner_create: NULL argument");
  *out = NULL;
  if (cfg->samples < 1 || cfg->samples > MBRL_PLANNER_MAX_SAMPLES)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "planner_create: samples K = %d; use 1..%d per environment",
                          cfg->samples, MBRL_PLANNER_MAX_SAMPLES);
  if (cfg->horizon < 1 || cfg->horizon > MBRL_PLANNER_MAX_HORIZON)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "planner_create: horizon H = %d; use 1..%d",
                          cfg->horizon, MBRL_PLANNER_MAX_HORIZON);
  if (cfg->max_envs < 1 || cfg->max_envs > MBRL_PLANNER_MAX_ENVS)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "planner_create: max_envs E = %d; use 1..%d",
                          cfg->max_envs, MBRL_PLANNER_MAX_ENVS);
  if (!(cfg->gamma > 0.0f && cfg->gamma <= 1.0f))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "planner_create: gamma %g; use a value in (0, 1]",
                          (double)cfg->gamma);
  const mbrl_env_spec *spec;
  mbrl_status st = check_env("planner_create", model->env_id, model->obs_dim, model->act_dim, &spec);
  if (st) return st;
  if (model->kind == MBRL_PLAN_MODEL_LEARNED && !model->params)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "planner_create: learned model without weights");
  mbrl_backend be;
  st = mbrl_backend_resolve(cfg->backend, &be);
  if (st) return st;

  const int nthreads = cpu_threads();
  double host_need, dev_need;
  memory_need(model, cfg, nthreads, be == MBRL_BACKEND_CUDA, &host_need, &dev_need);
  const double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
  if (phys > 0 && host_need > 0.8 * phys)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "planner_create: K = %d samples x E = %d envs needs %.2f GiB of host "
                          "memory (costs and predicted states, %d bytes per sample), but this "
                          "machine has %.2f GiB; lower the number of samples",
                          cfg->samples, cfg->max_envs, gib(host_need), 4 * (1 + model->obs_dim),
                          gib(phys));

  mbrl_planner *p = (mbrl_planner *)calloc(1, sizeof *p);
  if (!p) return mbrl_set_error(MBRL_ERR_NOMEM, "planner_create: out of memory");
  p->m = model;
  p->cfg = *cfg;
  p->cfg.backend = be;
  p->K = cfg->samples;
  p->H = cfg->horizon;
  p->Emax = cfg->max_envs;
  p->gamma = cfg->gamma;
  p->maxw = model_maxw(model);
  p->nthreads = nthreads;
  p->avx512 = cpu_has_avx512();
  const size_t EK = (size_t)p->Emax * (size_t)p->K;
  p->costs = (float *)malloc(EK * sizeof(float));
  p->s1 = (float *)malloc(EK * (size_t)model->obs_dim * sizeof(float));
  p->scratch_bytes = scratch_size(model->obs_dim, model->act_dim, p->maxw);
  p->scratch = (char *)aligned_alloc(ALIGN, p->scratch_bytes * (size_t)nthreads);
  if (model->kind == MBRL_PLAN_MODEL_LEARNED) {
    size_t n = pack_weights(model, NULL, NULL);
    p->packed = (float *)aligned_alloc(ALIGN, round_up(n * sizeof(float), ALIGN));
    if (p->packed) pack_weights(model, p->packed, p->pk_off);
  }
  if (!p->costs || !p->s1 || !p->scratch || (model->kind == MBRL_PLAN_MODEL_LEARNED && !p->packed)) {
    mbrl_planner_free(p);
    return mbrl_set_error(MBRL_ERR_NOMEM, "planner_create: cannot allocate %.2f GiB of host memory",
                          gib(host_need));
  }
  memset(p->scratch, 0, p->scratch_bytes * (size_t)nthreads);
#ifdef MBRL_HAVE_CUDA
  if (be == MBRL_BACKEND_CUDA) {
    st = mbrl_planner_cuda_create(&p->cuda, model, p->K, p->H, p->gamma, p->cfg.score_next, p->Emax,
                                  (size_t)dev_need);
    if (st) {
      mbrl_planner_free(p);
      return st;
    }
  }
#endif
  *out = p;
  return MBRL_OK;
}

void mbrl_planner_free(mbrl_planner *p) {
  if (!p) return;
#ifdef MBRL_HAVE_CUDA
  if (p->cuda) mbrl_planner_cuda_free(p->cuda);
#endif
  free(p->costs);
  free(p->s1);
  free(p->scratch);
  free(p->packed);
  free(p);
}

mbrl_backend mbrl_planner_backend(const mbrl_planner *p) {
  return p ? p->cfg.backend : MBRL_BACKEND_CPU;
}

/* ----------------------------------------------------------------- CPU dense layers */

/* out[j][r] = act(b[j] + sum_i W[j][i] in[i][r]) for BR rows, plain C. */
static void dense_generic(float *out, const float *in, const float *W, const float *b, int nin,
                          int nout, mbrl_act act) {
  for (int j = 0; j < nout; ++j) {
    float *o = out + (size_t)j * BR;
    for (int r = 0; r < BR; ++r) o[r] = b[j];
    const float *w = W + (size_t)j * nin;
    for (int i = 0; i < nin; ++i) {
      const float wi = w[i];
      const float *x = in + (size_t)i * BR;
      for (int r = 0; r < BR; ++r) o[r] += wi * x[r];
    }
    if (act != MBRL_ACT_NONE)
      for (int r = 0; r < BR; ++r) o[r] = act_apply(o[r], act);
  }
}

#if PLANNER_X86
/* One tile of T outputs over BR = 48 rows: 3*T AVX-512 accumulators. wp (nin, T) packed. */
__attribute__((target("avx512f"), always_inline)) static inline void tile_avx512(
    const int T, float *out, const float *in, const float *wp, const float *b, int nin, int relu) {
  __m512 acc[8][3];
  for (int t = 0; t < T; ++t) {
    const __m512 bt = _mm512_set1_ps(b[t]);
    acc[t][0] = bt;
    acc[t][1] = bt;
    acc[t][2] = bt;
  }
  for (int i = 0; i < nin; ++i) {
    const float *x = in + (size_t)i * BR;
    const __m512 x0 = _mm512_load_ps(x), x1 = _mm512_load_ps(x + 16), x2 = _mm512_load_ps(x + 32);
    const float *w = wp + (size_t)i * T;
    for (int t = 0; t < T; ++t) {
      const __m512 wt = _mm512_set1_ps(w[t]);
      acc[t][0] = _mm512_fmadd_ps(wt, x0, acc[t][0]);
      acc[t][1] = _mm512_fmadd_ps(wt, x1, acc[t][1]);
      acc[t][2] = _mm512_fmadd_ps(wt, x2, acc[t][2]);
    }
  }
  const __m512 zero = _mm512_setzero_ps();
  for (int t = 0; t < T; ++t) {
    float *o = out + (size_t)t * BR;
    for (int v = 0; v < 3; ++v) {
      __m512 a = relu ? _mm512_max_ps(acc[t][v], zero) : acc[t][v];
      _mm512_store_ps(o + 16 * v, a);
    }
  }
}

__attribute__((target("avx512f"))) static void dense_avx512(float *out, const float *in,
                                                            const float *wp, const float *b,
                                                            int nin, int nout, mbrl_act act) {
  const int relu = act == MBRL_ACT_RELU;
  for (int j0 = 0; j0 < nout;) {
    const int T = next_tile(nout - j0);
    float *o = out + (size_t)j0 * BR;
    switch (T) {
      case 8: tile_avx512(8, o, in, wp, b + j0, nin, relu); break;
      case 4: tile_avx512(4, o, in, wp, b + j0, nin, relu); break;
      case 2: tile_avx512(2, o, in, wp, b + j0, nin, relu); break;
      default: tile_avx512(1, o, in, wp, b + j0, nin, relu); break;
    }
    wp += (size_t)nin * T;
    j0 += T;
  }
  if (act == MBRL_ACT_TANH)
    for (size_t i = 0; i < (size_t)nout * BR; ++i) out[i] = tanhf(out[i]);
}
#endif

#if PLANNER_X86
/* ----------------------------------------------------------------- AVX-512 pendulum math
 * 16 rows at a time: Cephes-style float atan2 / sin / cos (about 2 ulp on the angles the
 * planner sees, |x| < 8192) and the SAME float formulas as mbrl_pendulum_reward_f and
 * mbrl_pendulum_step_f (separate multiply and add, as the scalar code compiled with
 * -ffp-contract=off). Results agree with the scalar libm path to a few ulp; the tests bound
 * the planner's costs against the double-precision env and the scalar reference. */
#define V512 __attribute__((target("avx512f"), always_inline)) static inline

V512 __m512 v_abs(__m512 x) {
  return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)));
}
V512 __m512 v_signbit(__m512 x) {
  return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u)));
}
V512 __m512 v_xor(__m512 a, __m512 b) {
  return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}
V512 __m512 v_madd(__m512 a, __m512 b, __m512 c) { /* a*b + c, rounded twice */
  return _mm512_add_ps(_mm512_mul_ps(a, b), c);
}

/* atan2(y, x) in [-pi, pi], sign from y's sign bit. */
V512 __m512 v_atan2(__m512 y, __m512 x) {
  const __m512 ax = v_abs(x), ay = v_abs(y);
  const __m512 mx = _mm512_max_ps(ax, ay), mn = _mm512_min_ps(ax, ay);
  const __mmask16 zero = _mm512_cmp_ps_mask(mx, _mm512_setzero_ps(), _CMP_EQ_OQ);
  __m512 a = _mm512_div_ps(mn, _mm512_mask_blend_ps(zero, mx, _mm512_set1_ps(1.0f)));
  const __mmask16 big = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.4142135623730950f), _CMP_GT_OQ);
  const __m512 one = _mm512_set1_ps(1.0f);
  a = _mm512_mask_div_ps(a, big, _mm512_sub_ps(a, one), _mm512_add_ps(a, one));
  const __m512 y0 = _mm512_maskz_mov_ps(big, _mm512_set1_ps(0.78539816339744830962f));
  const __m512 z = _mm512_mul_ps(a, a);
  __m512 r = _mm512_set1_ps(8.05374449538e-2f);
  r = v_madd(r, z, _mm512_set1_ps(-1.38776856032e-1f));
  r = v_madd(r, z, _mm512_set1_ps(1.99777106478e-1f));
  r = v_madd(r, z, _mm512_set1_ps(-3.33329491539e-1f));
  r = _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(r, z), a), a);
  __m512 t = _mm512_add_ps(y0, r);
  const __mmask16 swap = _mm512_cmp_ps_mask(ay, ax, _CMP_GT_OQ);
  t = _mm512_mask_sub_ps(t, swap, _mm512_set1_ps(1.57079632679489661923f), t);
  const __mmask16 neg_x = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  t = _mm512_mask_sub_ps(t, neg_x, _mm512_set1_ps(3.14159265358979323846f), t);
  return v_xor(t, v_signbit(y));
}

/* sin and cos of x (|x| < 8192), Cephes sinf/cosf range reduction by pi/4. */
V512 void v_sincos(__m512 x, __m512 *s_out, __m512 *c_out) {
  const __m512 ax = v_abs(x);
  __m512i j = _mm512_cvttps_epi32(_mm512_mul_ps(ax, _mm512_set1_ps(1.27323954473516f)));
  j = _mm512_and_si512(_mm512_add_epi32(j, _mm512_set1_epi32(1)), _mm512_set1_epi32(~1));
  const __m512 yj = _mm512_cvtepi32_ps(j);
  __m512 z = _mm512_sub_ps(ax, _mm512_mul_ps(yj, _mm512_set1_ps(0.78515625f)));
  z = _mm512_sub_ps(z, _mm512_mul_ps(yj, _mm512_set1_ps(2.4187564849853515625e-4f)));
  z = _mm512_sub_ps(z, _mm512_mul_ps(yj, _mm512_set1_ps(3.77489497744594108e-8f)));
  const __m512 zz = _mm512_mul_ps(z, z);
  __m512 sp = _mm512_set1_ps(-1.9515295891e-4f);
  sp = v_madd(sp, zz, _mm512_set1_ps(8.3321608736e-3f));
  sp = v_madd(sp, zz, _mm512_set1_ps(-1.6666654611e-1f));
  sp = _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(sp, zz), z), z);
  __m512 cp = _mm512_set1_ps(2.443315711809948e-5f);
  cp = v_madd(cp, zz, _mm512_set1_ps(-1.388731625493765e-3f));
  cp = v_madd(cp, zz, _mm512_set1_ps(4.166664568298827e-2f));
  cp = _mm512_mul_ps(_mm512_mul_ps(cp, zz), zz);
  cp = _mm512_add_ps(_mm512_sub_ps(cp, _mm512_mul_ps(_mm512_set1_ps(0.5f), zz)), _mm512_set1_ps(1.0f));
  const __m512i j7 = _mm512_and_si512(j, _mm512_set1_epi32(7));
  const __mmask16 swap = _mm512_test_epi32_mask(j7, _mm512_set1_epi32(2));
  const __mmask16 j4 = _mm512_test_epi32_mask(j7, _mm512_set1_epi32(4));
  /* sin: j 0 +s, 2 +c, 4 -s, 6 -c (times sign x); cos: j 0 +c, 2 -s, 4 -c, 6 +s */
  __m512 sv = _mm512_mask_blend_ps(swap, sp, cp);
  __m512 cv = _mm512_mask_blend_ps(swap, cp, sp);
  const __m512 neg = _mm512_set1_ps(-0.0f);
  sv = v_xor(sv, _mm512_maskz_mov_ps(j4, neg));
  sv = v_xor(sv, v_signbit(x));
  cv = v_xor(cv, _mm512_maskz_mov_ps((__mmask16)(j4 ^ swap), neg));
  *s_out = sv;
  *c_out = cv;
}

/* mbrl_pendulum_reward_f(th, thdot, u) for th = atan2 in [-pi, pi]: angle_normalize as the
 * floored fmod does on that range, then -(an^2 + .1 thdot^2 + .001 uc^2). */
V512 __m512 v_reward(__m512 th, __m512 thdot, __m512 u) {
  const __m512 pi = _mm512_set1_ps((float)MBRL_PI), two_pi = _mm512_set1_ps((float)(2.0 * MBRL_PI));
  const __m512 uc = _mm512_min_ps(_mm512_max_ps(u, _mm512_set1_ps(-2.0f)), _mm512_set1_ps(2.0f));
  __m512 m = _mm512_add_ps(th, pi);
  m = _mm512_mask_sub_ps(m, _mm512_cmp_ps_mask(m, two_pi, _CMP_GE_OQ), m, two_pi);
  m = _mm512_mask_add_ps(m, _mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_LT_OQ), m, two_pi);
  const __m512 an = _mm512_sub_ps(m, pi);
  __m512 c = _mm512_add_ps(_mm512_mul_ps(an, an),
                           _mm512_mul_ps(_mm512_set1_ps(0.1f), _mm512_mul_ps(thdot, thdot)));
  c = _mm512_add_ps(c, _mm512_mul_ps(_mm512_set1_ps(0.001f), _mm512_mul_ps(uc, uc)));
  return v_xor(c, _mm512_set1_ps(-0.0f));
}

/* 32 x 32 -> 64-bit products of 16 lanes with m: low and high words. */
V512 void v_mulhilo(__m512i a, uint32_t m, __m512i *lo, __m512i *hi) {
  const __m512i mv = _mm512_set1_epi32((int)m);
  const __m512i even = _mm512_mul_epu32(a, mv);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), mv);
  *lo = _mm512_mullo_epi32(a, mv);
  *hi = _mm512_mask_blend_epi32((__mmask16)0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

/* Block j of the action streams of rows k0 .. k0+BR-1 (Philox(seed, subsequence k, offset 0),
 * counter (j, 0, k, 0), as mbrl_philox_init + next_u32 produce it for k < 2^31), its 4 words
 * mapped like mbrl_philox_range_float(lo, hi): D (4, BR), word q of row r at D[q*BR + r].
 * Bit for bit the scalar draws (uint32 -> float conversion, multiply, add, each rounded). */
__attribute__((target("avx512f"))) static void draw_block_avx512(uint64_t seed, int k0, uint32_t j,
                                                                 float lo, float hi, float *D) {
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512 scale = _mm512_set1_ps(2.3283064e-10f), half = _mm512_set1_ps(2.3283064e-10f / 2.0f);
  const __m512 lov = _mm512_set1_ps(lo), span = _mm512_set1_ps(hi - lo);
  for (int v = 0; v < BR; v += 16) {
    __m512i x = _mm512_set1_epi32((int)j), y = _mm512_setzero_si512();
    __m512i z = _mm512_add_epi32(_mm512_set1_epi32(k0 + v), iota), w = _mm512_setzero_si512();
    uint32_t key0 = (uint32_t)seed, key1 = (uint32_t)(seed >> 32);
    for (int i = 0; i < 10; ++i) {
      __m512i lo0, hi0, lo1, hi1;
      v_mulhilo(x, MBRL_PHILOX_M0, &lo0, &hi0);
      v_mulhilo(z, MBRL_PHILOX_M1, &lo1, &hi1);
      const __m512i nx = _mm512_xor_si512(_mm512_xor_si512(hi1, y), _mm512_set1_epi32((int)key0));
      const __m512i nz = _mm512_xor_si512(_mm512_xor_si512(hi0, w), _mm512_set1_epi32((int)key1));
      x = nx;
      y = lo1;
      z = nz;
      w = lo0;
      key0 += MBRL_PHILOX_W0;
      key1 += MBRL_PHILOX_W1;
    }
    const __m512i words[4] = {x, y, z, w};
    for (int q = 0; q < 4; ++q) {
      const __m512 u = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepu32_ps(words[q]), scale), half);
      _mm512_store_ps(D + q * BR + v, _mm512_add_ps(lov, _mm512_mul_ps(span, u)));
    }
  }
}

/* cost[r] -= g * reward(obs_r, u_r) over the block's BR rows; S (3, BR), U (BR). */
__attribute__((target("avx512f"))) static void reward_block_avx512(const float *S, const float *U,
                                                                   float *cost, float g) {
  const __m512 gv = _mm512_set1_ps(g);
  for (int v = 0; v < BR; v += 16) {
    const __m512 c = _mm512_load_ps(S + v), s = _mm512_load_ps(S + BR + v);
    const __m512 td = _mm512_load_ps(S + 2 * BR + v), u = _mm512_load_ps(U + v);
    const __m512 r = v_reward(v_atan2(s, c), td, u);
    _mm512_store_ps(cost + v, _mm512_sub_ps(_mm512_load_ps(cost + v), _mm512_mul_ps(gv, r)));
  }
}

/* The oracle step (mbrl_planner_oracle_step) and its reward for the block's BR rows, in place
 * on S (3, BR). score_next: reward on the new observation, else on the old one. */
__attribute__((target("avx512f"))) static void oracle_block_avx512(float *S, const float *U,
                                                                   float *cost, float g,
                                                                   int score_next) {
  const __m512 gv = _mm512_set1_ps(g);
  const __m512 dt = _mm512_set1_ps((float)MBRL_PENDULUM_DT), ms = _mm512_set1_ps((float)MBRL_PENDULUM_MAX_SPEED);
  const __m512 k_sin = _mm512_set1_ps((float)(3.0 * MBRL_PENDULUM_G / (2.0 * MBRL_PENDULUM_L)));
  const __m512 k_u = _mm512_set1_ps((float)(3.0 / (MBRL_PENDULUM_M * MBRL_PENDULUM_L * MBRL_PENDULUM_L)));
  for (int v = 0; v < BR; v += 16) {
    const __m512 c = _mm512_load_ps(S + v), s = _mm512_load_ps(S + BR + v);
    const __m512 thdot = _mm512_load_ps(S + 2 * BR + v), u = _mm512_load_ps(U + v);
    const __m512 th = v_atan2(s, c);
    const __m512 uc = _mm512_min_ps(_mm512_max_ps(u, _mm512_set1_ps(-2.0f)), _mm512_set1_ps(2.0f));
    __m512 sn, cs;
    v_sincos(th, &sn, &cs);
    __m512 nd = _mm512_add_ps(thdot, _mm512_mul_ps(_mm512_add_ps(_mm512_mul_ps(k_sin, sn), _mm512_mul_ps(k_u, uc)), dt));
    nd = _mm512_min_ps(_mm512_max_ps(nd, _mm512_sub_ps(_mm512_setzero_ps(), ms)), ms);
    const __m512 nth = _mm512_add_ps(th, _mm512_mul_ps(nd, dt));
    v_sincos(nth, &sn, &cs);
    const __m512 r = score_next ? v_reward(v_atan2(sn, cs), nd, u) : v_reward(th, thdot, u);
    _mm512_store_ps(cost + v, _mm512_sub_ps(_mm512_load_ps(cost + v), _mm512_mul_ps(gv, r)));
    _mm512_store_ps(S + v, cs);
    _mm512_store_ps(S + BR + v, sn);
    _mm512_store_ps(S + 2 * BR + v, nd);
  }
}
#endif

/* ----------------------------------------------------------------- CPU rollout of a block */

typedef struct rollout_src {
  const float *given;   /* (K, H, act) caller's sequences, or NULL: draw from Philox */
  const float *prior;   /* (H, act) warm-start sequence used as sequence 1, or NULL */
  uint64_t seed;        /* plan seed when drawing */
} rollout_src;

/* cost[r] -= g * r(obs_r, a_r) over a block (pendulum reward on observations S (3, BR)). */
static void block_reward(const mbrl_planner *p, const float *S, const float *Ac, float *cost,
                         float g) {
#if PLANNER_X86
  if (p->avx512) {
    reward_block_avx512(S, Ac, cost, g);
    return;
  }
#endif
  (void)p;
  for (int r = 0; r < BR; ++r)
    cost[r] = cost[r] - g * mbrl_pendulum_reward_obs_f(S[r], S[BR + r], S[2 * BR + r], Ac[r]);
}

/* Roll rows k0 .. k0+R-1 (R <= BR) of one environment from obs0 for H steps. Writes
 * cost_out (R) and s1_out (R, obs). Padding rows (r >= R) compute on zeros and are dropped. */
#if PLANNER_X86
__attribute__((target_clones("avx512f", "default")))
#endif
static void rollout_block(const mbrl_planner *p, scratch_view *w, const float *obs0,
                          const rollout_src *src, int k0, int R, float *cost_out, float *s1_out) {
  const mbrl_plan_model *m = p->m;
  const int O = m->obs_dim, A = m->act_dim, H = p->H;
  float *S = w->S, *Ac = w->A, *cost = w->cost;
  for (int i = 0; i < O; ++i)
    for (int r = 0; r < BR; ++r) S[i * BR + r] = obs0[i];
  for (int r = 0; r < BR; ++r) cost[r] = 0.0f;
#if PLANNER_X86
  const int vec_draw = p->avx512 && A == 1 && !src->given;
#else
  const int vec_draw = 0;
#endif
  if (!src->given && !vec_draw)
    for (int r = 0; r < R; ++r)
      if (k0 + r > (src->prior ? 1 : 0))
        mbrl_planner_rng(&w->rng[r], src->seed, (uint64_t)(k0 + r));
  const mbrl_dataset_stats *st = &m->stats;
  float g = 1.0f;
  for (int h = 0; h < H; ++h) {
    /* actions a_h */
#if PLANNER_X86
    if (vec_draw) {
      if ((h & 3) == 0) draw_block_avx512(src->seed, k0, (uint32_t)(h >> 2), m->act_low[0], m->act_high[0], w->D);
      memcpy(Ac, w->D + (size_t)(h & 3) * BR, BR * sizeof(float));
      for (int r = R; r < BR; ++r) Ac[r] = 0.0f;
      if (k0 == 0) Ac[0] = 0.0f;
      if (src->prior && k0 <= 1 && 1 < k0 + R) Ac[1 - k0] = src->prior[h];
    } else
#endif
    for (int r = 0; r < BR; ++r) {
      float a[MBRL_MAX_DIM];
      const int k = k0 + r;
      if (r >= R) {
        for (int j = 0; j < A; ++j) a[j] = 0.0f;
      } else if (src->given) {
        const float *ga = src->given + ((size_t)k * H + h) * A;
        for (int j = 0; j < A; ++j) a[j] = ga[j];
      } else if (k == 0) {
        for (int j = 0; j < A; ++j) a[j] = 0.0f;
      } else if (k == 1 && src->prior) {
        for (int j = 0; j < A; ++j) a[j] = src->prior[(size_t)h * A + j];
      } else {
        mbrl_planner_next_action(&w->rng[r], A, m->act_low, m->act_high, a);
      }
      for (int j = 0; j < A; ++j) Ac[j * BR + r] = a[j];
    }
    if (m->kind == MBRL_PLAN_MODEL_ORACLE) {
#if PLANNER_X86
      if (p->avx512 && A == 1) {
        oracle_block_avx512(S, Ac, cost, g, p->cfg.score_next);
        goto stepped;
      }
#endif
      /* reward of (s_h, a_h) and the true step, sharing th = atan2(sin, cos) */
      for (int r = 0; r < BR; ++r) {
        float o[3] = {S[r], S[BR + r], S[2 * BR + r]}, nx[3], th;
        const float u = Ac[r];
        mbrl_planner_oracle_step(o, u, nx, &th);
        const float rew = p->cfg.score_next ? mbrl_pendulum_reward_obs_f(nx[0], nx[1], nx[2], u)
                                            : mbrl_pendulum_reward_f(th, o[2], u);
        cost[r] = cost[r] - g * rew;
        S[r] = nx[0];
        S[BR + r] = nx[1];
        S[2 * BR + r] = nx[2];
      }
    } else {
      if (!p->cfg.score_next) block_reward(p, S, Ac, cost, g);
      float *x = w->X0, *y = w->X1;
      for (int i = 0; i < O; ++i)
        for (int r = 0; r < BR; ++r)
          x[i * BR + r] = mbrl_normalize1(S[i * BR + r], st->state_mean[i], st->state_std[i]);
      for (int j = 0; j < A; ++j)
        for (int r = 0; r < BR; ++r)
          x[(O + j) * BR + r] = mbrl_normalize1(Ac[j * BR + r], st->action_mean[j], st->action_std[j]);
      for (int l = 0; l < m->n_layers; ++l) {
        const int in = m->sizes[l], ou = m->sizes[l + 1];
        const mbrl_act act = l < m->n_layers - 1 ? m->activation : MBRL_ACT_NONE;
        const float *b = m->params + m->b_off[l];
#if PLANNER_X86
        if (p->avx512)
          dense_avx512(y, x, p->packed + p->pk_off[l], b, in, ou, act);
        else
#endif
          dense_generic(y, x, m->params + m->w_off[l], b, in, ou, act);
        float *t = x;
        x = y;
        y = t;
      }
      for (int i = 0; i < O; ++i)
        for (int r = 0; r < BR; ++r)
          S[i * BR + r] = S[i * BR + r] + mbrl_unnormalize1(x[i * BR + r], st->delta_state_mean[i],
                                                            st->delta_state_std[i]);
      if (p->cfg.score_next) block_reward(p, S, Ac, cost, g);
    }
#if PLANNER_X86
  stepped:
#endif
    if (h == 0 && s1_out)
      for (int r = 0; r < R; ++r)
        for (int i = 0; i < O; ++i) s1_out[(size_t)r * O + i] = S[i * BR + r];
    g = g * p->gamma;
  }
  for (int r = 0; r < R; ++r) cost_out[r] = cost[r];
}

/* Roll E environments x K rows (blocks spread over OpenMP threads). */
static void rollout_all(mbrl_planner *p, const float *obs, const rollout_src *srcs, int E, int K) {
  const int O = p->m->obs_dim;
  const int nbk = MBRL_CEIL_DIV(K, BR);
  const long nb = (long)E * nbk;
#pragma omp parallel for schedule(dynamic, 1) num_threads(p->nthreads) if (nb > 1)
  for (long b = 0; b < nb; ++b) {
    const int e = (int)(b / nbk), k0 = (int)(b % nbk) * BR;
    const int R = K - k0 < BR ? K - k0 : BR;
    scratch_view w = scratch_at(p, omp_get_thread_num());
    const size_t row = (size_t)e * p->K + (size_t)k0;
    rollout_block(p, &w, obs + (size_t)e * O, &srcs[e], k0, R, p->costs + row,
                  p->s1 + row * (size_t)O);
  }
}

static int argmin_key(const float *c, int K) {
  uint64_t best = mbrl_planner_cost_key(c[0], 0);
  for (int k = 1; k < K; ++k) {
    const uint64_t key = mbrl_planner_cost_key(c[k], (uint32_t)k);
    if (key < best) best = key;
  }
  return (int)(best & 0xFFFFFFFFu);
}

mbrl_status mbrl_planner_plan(mbrl_planner *p, const float *obs, const uint64_t *plan_seeds, int E,
                              mbrl_plan_result *results) {
  return mbrl_planner_plan_prior(p, obs, plan_seeds, NULL, E, results);
}

mbrl_status mbrl_planner_plan_prior(mbrl_planner *p, const float *obs, const uint64_t *plan_seeds,
                                    const float *prior, int E, mbrl_plan_result *results) {
  if (!p || !obs || !plan_seeds || !results)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "planner_plan: NULL argument");
  if (E < 1 || E > p->Emax)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "planner_plan: E = %d environments; this planner takes 1..%d (max_envs)",
                          E, p->Emax);
  const mbrl_plan_model *m = p->m;
  const int O = m->obs_dim, A = m->act_dim;
  for (size_t i = 0; i < (size_t)E * O; ++i)
    if (!isfinite(obs[i]))
      return mbrl_set_error(MBRL_ERR_NUMERIC,
                            "planner_plan: observation value %zu (env %zu) is not finite", i % O,
                            i / O);
  if (prior)
    for (size_t i = 0; i < (size_t)E * p->H * A; ++i)
      if (!isfinite(prior[i]))
        return mbrl_set_error(MBRL_ERR_NUMERIC, "planner_plan: prior action %zu is not finite", i);
  p->last_E = E;
#ifdef MBRL_HAVE_CUDA
  if (p->cfg.backend == MBRL_BACKEND_CUDA)
    return mbrl_planner_cuda_plan(p->cuda, obs, plan_seeds, prior, E, results);
#endif
  rollout_src srcs_small[8];
  rollout_src *srcs = E <= 8 ? srcs_small : (rollout_src *)malloc((size_t)E * sizeof *srcs);
  if (!srcs) return mbrl_set_error(MBRL_ERR_NOMEM, "planner_plan: out of memory");
  for (int e = 0; e < E; ++e) {
    srcs[e].given = NULL;
    srcs[e].prior = prior ? prior + (size_t)e * p->H * A : NULL;
    srcs[e].seed = plan_seeds[e];
  }
  rollout_all(p, obs, srcs, E, p->K);
  if (srcs != srcs_small) free(srcs);
  for (int e = 0; e < E; ++e) {
    const float *c = p->costs + (size_t)e * p->K;
    const int best = argmin_key(c, p->K);
    mbrl_plan_result *res = &results[e];
    memset(res, 0, sizeof *res);
    res->best_index = best;
    res->best_return = -c[best];
    if (best == 1 && prior) {
      memcpy(res->action, prior + (size_t)e * p->H * A, (size_t)A * sizeof(float));
    } else if (best > 0) {
      mbrl_philox s;
      mbrl_planner_rng(&s, plan_seeds[e], (uint64_t)best);
      mbrl_planner_next_action(&s, A, m->act_low, m->act_high, res->action);
    }
    memcpy(res->pred_next, p->s1 + ((size_t)e * p->K + best) * O, (size_t)O * sizeof(float));
  }
  return MBRL_OK;
}

mbrl_status mbrl_planner_last_costs(mbrl_planner *p, float *costs) {
  if (!p || !costs) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "planner_last_costs: NULL argument");
  if (p->last_E < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "planner_last_costs: no plan has run yet");
#ifdef MBRL_HAVE_CUDA
  if (p->cfg.backend == MBRL_BACKEND_CUDA) return mbrl_planner_cuda_costs(p->cuda, p->last_E, costs);
#endif
  memcpy(costs, p->costs, (size_t)p->last_E * p->K * sizeof(float));
  return MBRL_OK;
}

mbrl_status mbrl_planner_evaluate(mbrl_planner *p, const float *obs, const float *actions, int K,
                                  float *costs) {
  if (!p || !obs || !actions || !costs)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "planner_evaluate: NULL argument");
  if (K < 1 || K > p->K)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "planner_evaluate: K = %d; use 1..%d (samples)", K,
                          p->K);
  rollout_src src = {actions, NULL, 0};
  rollout_all(p, obs, &src, 1, K);
  memcpy(costs, p->costs, (size_t)K * sizeof(float));
  p->last_E = 0; /* the cost buffer no longer holds a plan */
  return MBRL_OK;
}

void mbrl_planner_shift_best(const mbrl_planner *p, const mbrl_plan_result *r, uint64_t plan_seed,
                             const float *prior, float *out) {
  const mbrl_plan_model *m = p->m;
  const int H = p->H, A = m->act_dim;
  if (r->best_index == 1 && prior) {
    memmove(out, prior + A, (size_t)(H - 1) * A * sizeof(float));
  } else if (r->best_index == 0) {
    memset(out, 0, (size_t)(H - 1) * A * sizeof(float));
  } else {
    mbrl_philox s;
    mbrl_planner_rng(&s, plan_seed, (uint64_t)r->best_index);
    float a[MBRL_MAX_DIM];
    mbrl_planner_next_action(&s, A, m->act_low, m->act_high, a); /* a_0 was executed */
    for (int h = 0; h + 1 < H; ++h)
      mbrl_planner_next_action(&s, A, m->act_low, m->act_high, out + (size_t)h * A);
  }
  memset(out + (size_t)(H - 1) * A, 0, (size_t)A * sizeof(float));
}
