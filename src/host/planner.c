/* planner.c - plan models (learned, oracle) and random-shooting MPC: the CPU backend and the
 * dispatch to the CUDA backend (src/kernels/planner.cu through host/planner_cuda.h).
 *
 * CPU backend: rows (samples) in blocks of MBRL_PLAN_BR; a block rolls all H steps before the
 * next starts (its state and activations stay in L1). The block kernel (src/host/cpu/plan.c:
 * Philox draws, the folded MLP with a sparse kernel for ReLU inputs, reward, argmin-ready
 * costs) runs on the CPU kernel path in use (mbrl/cpu.h: avx512, avx2 or generic); this file
 * packs the weights for it (W^T per hidden layer, widths padded to 16) and spreads blocks over
 * OpenMP threads. Every row's arithmetic is independent of the thread count and of the block
 * it falls in, so costs repeat bit for bit on a path.
 *
 * No env-specific code: the env is its registry entry (mbrl_env_spec's function table for the
 * reference paths here, the kernel's per-env table in src/host/cpu/plan.c, the per-env
 * template instantiations in src/kernels/planner.cu). */
#include "mbrl/planner.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/cpu_kernels.h"
#include "host/planner_cuda.h"
#include "mbrl/cpu.h"
#include "mbrl/dyn_ensemble.h"
#include "mbrl/env.h"

#define ALIGN 64

/* ================================================================= models */

static mbrl_status check_env(const char *fn, const char *env_id, int obs_dim, int act_dim,
                             const mbrl_env_spec **spec_out) {
  const mbrl_env_spec *spec = mbrl_env_find(env_id ? env_id : "");
  if (!spec)
    return mbrl_set_error(MBRL_ERR_FORMAT, "%s: unknown env '%s'; the planner knows %s", fn,
                          env_id ? env_id : "(null)", mbrl_env_known_ids());
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
  m->n_actions = spec->discrete ? spec->n_actions : 0;
  m->spec = spec;
  return m;
}

mbrl_status mbrl_plan_model_oracle(mbrl_plan_model **out, const char *env_id) {
  if (!out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_model_oracle: out is NULL");
  *out = NULL;
  const mbrl_env_spec *spec = mbrl_env_find(env_id ? env_id : "");
  if (!spec)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_model_oracle: unknown env '%s'; known: %s",
                          env_id ? env_id : "(null)", mbrl_env_known_ids());
  mbrl_plan_model *m = model_new(spec, MBRL_PLAN_MODEL_ORACLE);
  if (!m) return mbrl_set_error(MBRL_ERR_NOMEM, "plan_model_oracle: out of memory");
  *out = m;
  return MBRL_OK;
}

/* A custom system's model shell (spec NULL): its name, widths and action space. */
static mbrl_plan_model *model_new_custom(const mbrl_plan_system *sys) {
  mbrl_plan_model *m = (mbrl_plan_model *)calloc(1, sizeof *m);
  if (!m) return NULL;
  m->kind = MBRL_PLAN_MODEL_LEARNED;
  snprintf(m->env_id, sizeof m->env_id, "%s", sys->name);
  m->obs_dim = sys->obs_dim;
  m->act_dim = sys->act_dim;
  for (int j = 0; j < sys->act_dim; ++j) {
    m->act_low[j] = sys->n_actions > 0 ? 0.0f : sys->act_low[j];
    m->act_high[j] = sys->n_actions > 0 ? (float)(sys->n_actions - 1) : sys->act_high[j];
  }
  m->n_actions = sys->n_actions;
  m->spec = NULL;
  return m;
}

static mbrl_status from_mlp_impl(mbrl_plan_model **out, const mbrl_env_spec *spec,
                                 const mbrl_plan_system *sys, const char *env_id, int obs_dim,
                                 int act_dim, const mbrl_mlp *mlp,
                                 const mbrl_dataset_stats *stats);

mbrl_status mbrl_plan_model_from_mlp(mbrl_plan_model **out, const char *env_id, int obs_dim,
                                     int act_dim, const mbrl_mlp *mlp,
                                     const mbrl_dataset_stats *stats) {
  if (!out || !mlp || !stats)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_model_from_mlp: NULL argument");
  *out = NULL;
  const mbrl_env_spec *spec = NULL;
  mbrl_status st = check_env("plan_model_from_mlp", env_id, obs_dim, act_dim, &spec);
  if (st) return st;
  return from_mlp_impl(out, spec, NULL, env_id, obs_dim, act_dim, mlp, stats);
}

mbrl_status mbrl_plan_model_from_mlp_system(mbrl_plan_model **out, const mbrl_plan_system *sys,
                                            const mbrl_mlp *mlp,
                                            const mbrl_dataset_stats *stats) {
  if (!out || !sys || !sys->name || !mlp || !stats)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_model_from_mlp_system: NULL argument");
  *out = NULL;
  if (strlen(sys->name) == 0 || strlen(sys->name) >= sizeof(((mbrl_plan_model *)0)->env_id))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "plan_model_from_mlp_system: give the system a name of 1..63 bytes");
  if (mbrl_env_find(sys->name))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "plan_model_from_mlp_system: '%s' is a registered env; use "
                          "mbrl_plan_model_from_mlp for it",
                          sys->name);
  if (sys->obs_dim < 1 || sys->obs_dim > MBRL_MAX_DIM || sys->act_dim < 1 ||
      sys->act_dim > MBRL_MAX_DIM || sys->n_actions < 0 || (sys->n_actions > 0 && sys->act_dim != 1))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "plan_model_from_mlp_system: obs_dim %d, act_dim %d, n_actions %d; use "
                          "widths 1..%d (a discrete system: act_dim 1, n_actions >= 1)",
                          sys->obs_dim, sys->act_dim, sys->n_actions, MBRL_MAX_DIM);
  if (sys->n_actions == 0)
    for (int j = 0; j < sys->act_dim; ++j)
      if (!(isfinite(sys->act_low[j]) && isfinite(sys->act_high[j]) &&
            sys->act_low[j] < sys->act_high[j]))
        return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                              "plan_model_from_mlp_system: action %d bounds [%g, %g]; give finite "
                              "bounds with low < high",
                              j, (double)sys->act_low[j], (double)sys->act_high[j]);
  return from_mlp_impl(out, NULL, sys, sys->name, sys->obs_dim, sys->act_dim, mlp, stats);
}

static mbrl_status from_mlp_impl(mbrl_plan_model **out, const mbrl_env_spec *spec,
                                 const mbrl_plan_system *sys, const char *env_id, int obs_dim,
                                 int act_dim, const mbrl_mlp *mlp,
                                 const mbrl_dataset_stats *stats) {
  mbrl_status st;
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
  mbrl_plan_model *m = spec ? model_new(spec, MBRL_PLAN_MODEL_LEARNED) : model_new_custom(sys);
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

mbrl_status mbrl_plan_model_from_ensemble(mbrl_plan_model **out, const mbrl_dyn_ensemble *e) {
  if (!out || !e) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_model_from_ensemble: NULL");
  *out = NULL;
  const mbrl_env_spec *spec;
  mbrl_status st = check_env("plan_model_from_ensemble", e->env_id, e->obs_dim, e->act_dim, &spec);
  if (st) return st;
  if (e->cfg.members < 1 || e->cfg.members > MBRL_PLAN_MAX_MEMBERS)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_model_from_ensemble: %d members; use 1..%d",
                          e->cfg.members, MBRL_PLAN_MAX_MEMBERS);
  mbrl_dyn_ensemble_export *x = NULL;
  if ((st = mbrl_dyn_ensemble_export_folded(e, &x))) return st;
  mbrl_plan_model *m = model_new(spec, MBRL_PLAN_MODEL_LEARNED);
  if (!m) {
    mbrl_dyn_ensemble_export_free(x);
    return mbrl_set_error(MBRL_ERR_NOMEM, "plan_model_from_ensemble: out of memory");
  }
  m->n_layers = x->n_layers;
  for (int l = 0; l <= x->n_layers; ++l) m->sizes[l] = x->sizes[l];
  m->activation = x->n_layers > 1 ? x->activation : MBRL_ACT_NONE;
  m->members = x->members;
  m->member_params = x->member_params;
  m->n_params = (size_t)x->members * x->member_params;
  for (int l = 0; l < x->n_layers; ++l) {
    m->w_off[l] = x->w_off[l];
    m->b_off[l] = x->b_off[l];
  }
  m->probabilistic = x->probabilistic;
  m->n_elites = x->n_elites;
  for (int i = 0; i < x->n_elites; ++i) m->elites[i] = x->elites[i];
  for (int j = 0; j < x->obs_dim; ++j) {
    m->max_logvar[j] = x->probabilistic ? x->max_logvar[j] : 0.0f;
    m->min_logvar[j] = x->probabilistic ? x->min_logvar[j] : 0.0f;
  }
  m->stats = x->stats;
  m->params = x->params; /* take the export's array */
  x->params = NULL;
  mbrl_dyn_ensemble_export_free(x);
  for (size_t i = 0; i < m->n_params; ++i)
    if (!isfinite(m->params[i])) {
      mbrl_plan_model_free(m);
      return mbrl_set_error(MBRL_ERR_NUMERIC,
                            "plan_model_from_ensemble: weight %zu of the (folded) members is not "
                            "finite; retrain the ensemble",
                            i);
    }
  *out = m;
  return MBRL_OK;
}

mbrl_status mbrl_plan_model_load(mbrl_plan_model **out, const char *path,
                                 const char *expect_env_id) {
  if (!out || !path) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "plan_model_load: NULL argument");
  *out = NULL;
  if (mbrl_dyn_ensemble_is_file(path)) {
    mbrl_dyn_ensemble *e = NULL;
    mbrl_status st = mbrl_dyn_ensemble_load(path, MBRL_BACKEND_CPU, 2, &e);
    if (st) return st;
    if (expect_env_id && strcmp(e->env_id, expect_env_id) != 0) {
      st = mbrl_set_error(MBRL_ERR_FORMAT,
                          "%s: the ensemble is for %s, not %s; train one on a %s dataset", path,
                          e->env_id, expect_env_id, expect_env_id);
    } else if ((st = mbrl_plan_model_from_ensemble(out, e))) {
      char msg[768];
      snprintf(msg, sizeof msg, "%s", mbrl_last_error());
      st = mbrl_set_error(st, "%s: %s", path, msg);
    }
    mbrl_dyn_ensemble_free(e);
    return st;
  }
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

float mbrl_plan_model_reward(const mbrl_plan_model *m, const float *obs, const float *act,
                             const float *next_obs) {
  return m->spec ? m->spec->reward_obs(obs, act, next_obs) : NAN;
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
      m->spec->oracle_step(obs + (size_t)b * O, act + (size_t)b * A, next + (size_t)b * O);
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
  const int nq = m->members > 0 ? m->n_elites : 1;
  float *x0 = x, *y0 = y;
  for (int b = 0; b < B; ++b) {
    const float *o = obs + (size_t)b * O, *a = act + (size_t)b * A;
    float dsum[MBRL_MAX_DIM];
    for (int i = 0; i < O; ++i) dsum[i] = 0.0f;
    for (int q = 0; q < nq; ++q) { /* an ensemble: the elites' mean (expectation) */
      const float *P = m->params + (m->members > 0 ? (size_t)m->elites[q] * m->member_params : 0);
      x = x0;
      y = y0;
      for (int i = 0; i < O; ++i) x[i] = mbrl_normalize1(o[i], s->state_mean[i], s->state_std[i]);
      for (int j = 0; j < A; ++j)
        x[O + j] = mbrl_normalize1(a[j], s->action_mean[j], s->action_std[j]);
      for (int l = 0; l < m->n_layers; ++l) {
        const int in = m->sizes[l], ou = l + 1 == m->n_layers ? O : m->sizes[l + 1];
        const float *W = P + m->w_off[l], *bias = P + m->b_off[l];
        for (int j = 0; j < ou; ++j) {
          float acc = bias[j];
          for (int i = 0; i < in; ++i) acc += W[(size_t)j * in + i] * x[i];
          y[j] = l < m->n_layers - 1 ? act_apply(acc, m->activation) : acc;
        }
        float *t = x;
        x = y;
        y = t;
      }
      for (int i = 0; i < O; ++i) dsum[i] = nq > 1 ? dsum[i] + x[i] : x[i];
    }
    float *nx = next + (size_t)b * O;
    for (int i = 0; i < O; ++i)
      nx[i] = o[i] + mbrl_unnormalize1(nq > 1 ? dsum[i] / (float)nq : dsum[i],
                                       s->delta_state_mean[i], s->delta_state_std[i]);
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
  int nthreads;
  float *costs;            /* (Emax, K) */
  float *s1;               /* (Emax, K, obs) */
  int P;                   /* particles per sequence (1: single model or EXPECTATION) */
  float *rcost, *rs1;      /* (Emax, K * P), (Emax, K * P, obs) per row; = costs, s1 when P == 1 */
  float *drawn;            /* ensembles: (Emax, K, H, act) a plan's drawn sequences */
  int last_E;
  /* CPU */
  mbrl_plan_kmodel km;     /* the model as the block kernel reads it */
  float *packed;           /* km's weights and biases */
  char *scratch;           /* nthreads x scratch_bytes, 64-byte aligned */
  size_t scratch_bytes;
  void *cuda;
};

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

static int pad16(int n) { return (n + MBRL_PLAN_PAD - 1) / MBRL_PLAN_PAD * MBRL_PLAN_PAD; }

/* Widest padded hidden activation (floats per row of the kernel's activation buffers). */
static int model_maxw(const mbrl_plan_model *m) {
  int w = MBRL_PLAN_PAD;
  if (m->kind == MBRL_PLAN_MODEL_LEARNED)
    for (int l = 1; l < m->n_layers; ++l) w = pad16(m->sizes[l]) > w ? pad16(m->sizes[l]) : w;
  return w;
}

/* Bytes of one thread's scratch (host/cpu_kernels.h's layout). */
static size_t scratch_size(int O, int A, int maxw, int members) {
  return round_up(mbrl_plan_scratch_layout(O, A, maxw, members).floats * sizeof(float), ALIGN);
}

/* Particles per sequence a config gives on model m (0 when the config is invalid for m). */
static int resolve_particles(const mbrl_plan_model *m, const mbrl_planner_config *c) {
  if (m->members <= 0) return c->particles <= 1 ? 1 : 0;
  if (c->propagation == MBRL_PLAN_PROP_EXPECTATION) return 1;
  return c->particles == 0 ? 20 : c->particles;
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
  const int P = resolve_particles(m, c);
  *host = EK * (1.0 + O) * 4.0 * (P > 1 ? 1.0 + P : 1.0) + 2.0 * params +
          (m->members > 0 ? EK * c->horizon * m->act_dim * 4.0 : 0.0) +
          (double)nthreads * (double)scratch_size(m->obs_dim, m->act_dim, model_maxw(m), m->members);
  *dev = cuda ? EK * (1.0 + O) * 4.0 * (m->members > 0 ? 1.0 + P : 1.0) + params +
                   8.0 * c->max_envs * (sizeof(mbrl_plan_result) + 24.0)
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

/* The learned model laid out for the block kernel (host/cpu_kernels.h, mbrl_plan_kmodel):
 * hidden layers as W^T (in, pad16(out)) + padded bias, the last as W (out, pad16(in)); the
 * padding is zeros. With dst NULL only counts floats; else fills dst and km's pointers. */
static size_t pack_weights(const mbrl_plan_model *m, const float *params, float *dst,
                           mbrl_plan_kmodel *km) {
  size_t n = 0;
  const int L = m->n_layers;
  for (int l = 0; l < L; ++l) {
    const int in = m->sizes[l], ou = m->sizes[l + 1];
    const int wpad = l == 0 ? in : pad16(in), opad = l + 1 < L ? pad16(ou) : ou;
    const float *W = params + m->w_off[l], *b = params + m->b_off[l];
    if (km) {
      km->wpad[l] = wpad;
      km->opad[l] = opad;
      km->wt[l] = dst + n;
    }
    if (l + 1 < L) { /* W^T (wpad, opad) */
      for (int i = 0; i < wpad; ++i)
        for (int o = 0; o < opad; ++o, ++n)
          if (dst) dst[n] = i < in && o < ou ? W[(size_t)o * in + i] : 0.0f;
    } else { /* W (out, wpad) */
      for (int o = 0; o < ou; ++o)
        for (int i = 0; i < wpad; ++i, ++n)
          if (dst) dst[n] = i < in ? W[(size_t)o * in + i] : 0.0f;
    }
    n = round_up(n, 16);
    if (km) km->bias[l] = dst + n;
    for (int o = 0; o < opad; ++o, ++n)
      if (dst) dst[n] = o < ou ? b[o] : 0.0f;
    n = round_up(n, 16);
  }
  return n;
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
  if (cfg->propagation != MBRL_PLAN_PROP_TSINF && cfg->propagation != MBRL_PLAN_PROP_TS1 &&
      cfg->propagation != MBRL_PLAN_PROP_EXPECTATION)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "planner_create: propagation %d; use MBRL_PLAN_PROP_TSINF (0), _TS1 (1) "
                          "or _EXPECTATION (2)", (int)cfg->propagation);
  if (cfg->particles < 0 || cfg->particles > MBRL_PLANNER_MAX_PARTICLES)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "planner_create: particles P = %d; use 1..%d (0: the default)",
                          cfg->particles, MBRL_PLANNER_MAX_PARTICLES);
  if (model->members <= 0 && cfg->particles > 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "planner_create: %d particles need an ensemble model (a single "
                          "deterministic model gives every particle the same rollout): load an "
                          "mbrl_train --ensemble checkpoint or use 1 particle",
                          cfg->particles);
  if (model->members > 0 &&
      (double)cfg->samples * resolve_particles(model, cfg) > (double)MBRL_PLANNER_MAX_SAMPLES)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "planner_create: K = %d samples x P = %d particles is more than %d rows; "
                          "lower either", cfg->samples, resolve_particles(model, cfg),
                          MBRL_PLANNER_MAX_SAMPLES);
  if (cfg->cost != MBRL_PLAN_COST_REWARD && cfg->cost != MBRL_PLAN_COST_SHAPED)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "planner_create: cost %d; use MBRL_PLAN_COST_REWARD (0) or "
                          "MBRL_PLAN_COST_SHAPED (1)",
                          (int)cfg->cost);
  const mbrl_env_spec *spec = model->spec;
  mbrl_status st = MBRL_OK;
  if (spec || model->kind != MBRL_PLAN_MODEL_LEARNED) {
    st = check_env("planner_create", model->env_id, model->obs_dim, model->act_dim, &spec);
    if (st) return st;
  }
  if (model->kind == MBRL_PLAN_MODEL_LEARNED && !model->params)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "planner_create: learned model without weights");
  mbrl_backend be;
  if ((st = mbrl_backend_resolve(cfg->backend, &be))) return st;
  if (be == MBRL_BACKEND_CPU && (st = mbrl_cpu_check()) != MBRL_OK) return st;

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
  p->nthreads = nthreads;
  p->km.m = model;
  p->km.H = p->H;
  p->km.gamma = p->gamma;
  p->km.score_next = cfg->score_next;
  p->km.env = spec ? spec->kind : MBRL_ENV_COUNT; /* custom: the callbacks only */
  p->km.shaped = cfg->cost == MBRL_PLAN_COST_SHAPED;
  p->km.project = model->kind != MBRL_PLAN_MODEL_ORACLE && spec && !cfg->no_projection;
  p->km.maxw = model_maxw(model);
  p->P = resolve_particles(model, cfg);
  p->km.particles = p->P;
  p->km.prop = (int)cfg->propagation;
  p->km.sample = model->members > 0 && model->probabilistic && !cfg->no_sample &&
                 cfg->propagation != MBRL_PLAN_PROP_EXPECTATION;
  const size_t EK = (size_t)p->Emax * (size_t)p->K;
  p->costs = (float *)malloc(EK * sizeof(float));
  p->s1 = (float *)malloc(EK * (size_t)model->obs_dim * sizeof(float));
  if (p->P > 1) {
    p->rcost = (float *)malloc(EK * (size_t)p->P * sizeof(float));
    p->rs1 = (float *)malloc(EK * (size_t)p->P * (size_t)model->obs_dim * sizeof(float));
  } else {
    p->rcost = p->costs;
    p->rs1 = p->s1;
  }
  if (model->members > 0)
    p->drawn = (float *)malloc(EK * (size_t)p->H * (size_t)model->act_dim * sizeof(float));
  p->scratch_bytes = scratch_size(model->obs_dim, model->act_dim, p->km.maxw, model->members);
  p->scratch = (char *)aligned_alloc(ALIGN, p->scratch_bytes * (size_t)nthreads);
  if (model->kind == MBRL_PLAN_MODEL_LEARNED) {
    const int nm = model->members > 0 ? model->members : 1;
    const size_t n = round_up(pack_weights(model, model->params, NULL, NULL), 16);
    p->km.mstride = n;
    p->packed = (float *)aligned_alloc(ALIGN, round_up(n * nm * sizeof(float), ALIGN));
    if (p->packed) {
      pack_weights(model, model->params, p->packed, &p->km);
      for (int q = 1; q < nm; ++q)
        pack_weights(model, model->params + (size_t)q * model->member_params,
                     p->packed + (size_t)q * n, NULL);
    }
  }
  if (!p->costs || !p->s1 || !p->rcost || !p->rs1 || !p->scratch ||
      (model->members > 0 && !p->drawn) || (model->kind == MBRL_PLAN_MODEL_LEARNED && !p->packed)) {
    mbrl_planner_free(p);
    return mbrl_set_error(MBRL_ERR_NOMEM, "planner_create: cannot allocate %.2f GiB of host memory",
                          gib(host_need));
  }
  memset(p->scratch, 0, p->scratch_bytes * (size_t)nthreads);
  if (!spec && be == MBRL_BACKEND_CUDA) {
    mbrl_planner_free(p);
    return mbrl_set_error(MBRL_ERR_UNSUPPORTED,
                          "planner_create: '%s' is a custom system; the CUDA planner is compiled "
                          "for the registered envs only (%s): plan it on the CPU backend with "
                          "mbrl_planner_set_reward",
                          model->env_id, mbrl_env_known_ids());
  }
#ifdef MBRL_HAVE_CUDA
  if (be == MBRL_BACKEND_CUDA) {
    st = mbrl_planner_cuda_create(&p->cuda, model, p->K, p->H, p->gamma, p->cfg.score_next,
                                  p->km.shaped, p->km.project, p->Emax, p->P, (int)cfg->propagation,
                                  p->km.sample, (size_t)dev_need);
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
  if (p->rcost != p->costs) free(p->rcost);
  if (p->rs1 != p->s1) free(p->rs1);
  free(p->costs);
  free(p->s1);
  free(p->drawn);
  free(p->scratch);
  free(p->packed);
  free(p);
}

mbrl_backend mbrl_planner_backend(const mbrl_planner *p) {
  return p ? p->cfg.backend : MBRL_BACKEND_CPU;
}

/* ----------------------------------------------------------------- CPU rollout */

typedef struct rollout_src {
  const float *given;   /* (K, H, act) caller's sequences, or NULL: draw from Philox */
  const float *prior;   /* (H, act) warm-start sequence used as sequence 1, or NULL */
  uint64_t seed;        /* plan seed when drawing */
  uint64_t pseed;       /* particle seed (ensembles) */
} rollout_src;

/* Roll E environments x K sequences x P particles (blocks of rows spread over OpenMP threads),
 * then (P > 1) each sequence's cost and s_1 = the means over its particles. */
static void rollout_all(mbrl_planner *p, const float *obs, const rollout_src *srcs, int E, int K) {
  const int O = p->m->obs_dim, P = p->P;
  const int rows = K * P;
  const int nbk = MBRL_CEIL_DIV(rows, MBRL_PLAN_BR);
  const long nb = (long)E * nbk;
  const mbrl_cpu_table *kt = mbrl_cpu_table_get();
#pragma omp parallel for schedule(dynamic, 1) num_threads(p->nthreads) if (nb > 1)
  for (long b = 0; b < nb; ++b) {
    const int e = (int)(b / nbk), k0 = (int)(b % nbk) * MBRL_PLAN_BR;
    const size_t row = (size_t)e * p->K * P + (size_t)k0;
    mbrl_plan_block blk;
    blk.obs0 = obs + (size_t)e * O;
    blk.given = srcs[e].given;
    blk.prior = srcs[e].prior;
    blk.seed = srcs[e].seed;
    blk.pseed = srcs[e].pseed;
    blk.k0 = k0;
    blk.R = rows - k0 < MBRL_PLAN_BR ? rows - k0 : MBRL_PLAN_BR;
    blk.cost_out = p->rcost + row;
    blk.s1_out = p->rs1 + row * (size_t)O;
    kt->plan_block(&p->km, &blk, p->scratch + (size_t)omp_get_thread_num() * p->scratch_bytes);
  }
  if (P == 1) return;
  for (int e = 0; e < E; ++e)
    for (int k = 0; k < K; ++k) {
      const size_t r0 = (size_t)e * p->K * P + (size_t)k * P, o = (size_t)e * p->K + k;
      float c = 0.0f;
      for (int q = 0; q < P; ++q) c += p->rcost[r0 + q];
      p->costs[o] = c / (float)P;
      for (int i = 0; i < O; ++i) {
        float s = 0.0f;
        for (int q = 0; q < P; ++q) s += p->rs1[(r0 + q) * O + i];
        p->s1[o * O + i] = s / (float)P;
      }
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
  if (!m->spec && !p->km.reward_fn)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "planner_plan: '%s' is a custom system without a reward; set one with "
                          "mbrl_planner_set_reward",
                          m->env_id);
  p->last_E = E;
#ifdef MBRL_HAVE_CUDA
  if (p->cfg.backend == MBRL_BACKEND_CUDA)
    return mbrl_planner_cuda_plan(p->cuda, obs, plan_seeds, prior, E, results);
#endif
  rollout_src srcs_small[8] = {{0}};
  rollout_src *srcs = E <= 8 ? srcs_small : (rollout_src *)malloc((size_t)E * sizeof *srcs);
  if (!srcs) return mbrl_set_error(MBRL_ERR_NOMEM, "planner_plan: out of memory");
  for (int e = 0; e < E; ++e) {
    srcs[e].given = NULL;
    srcs[e].prior = prior ? prior + (size_t)e * p->H * A : NULL;
    srcs[e].seed = plan_seeds[e];
    srcs[e].pseed = plan_seeds[e];
    if (m->members > 0) { /* particles: the drawn sequences as given ones (the same numbers) */
      float *d = p->drawn + (size_t)e * p->K * p->H * A;
      for (int k = 0; k < p->K; ++k) {
        float *dk = d + (size_t)k * p->H * A;
        if (k == 1 && srcs[e].prior)
          memcpy(dk, srcs[e].prior, (size_t)p->H * A * sizeof(float));
        else
          mbrl_planner_draw(plan_seeds[e], (uint64_t)k, p->H, A, m->n_actions, m->act_low,
                            m->act_high, dk);
      }
      srcs[e].given = d;
      srcs[e].prior = NULL;
    }
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
      mbrl_planner_next_action(&s, A, m->n_actions, m->act_low, m->act_high, res->action);
    }
    memcpy(res->pred_next, p->s1 + ((size_t)e * p->K + best) * O, (size_t)O * sizeof(float));
  }
  return MBRL_OK;
}

mbrl_status mbrl_planner_set_reward(mbrl_planner *p, mbrl_reward_fn reward,
                                    mbrl_terminal_fn terminal, void *user) {
  if (!p) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "planner_set_reward: planner is NULL");
  if (p->cfg.backend == MBRL_BACKEND_CUDA)
    return mbrl_set_error(MBRL_ERR_UNSUPPORTED,
                          "planner_set_reward: custom rewards run on the CPU backend only; the "
                          "CUDA planner is compiled for the registered envs (%s): create the "
                          "planner with backend CPU",
                          mbrl_env_known_ids());
  if (p->m->kind != MBRL_PLAN_MODEL_LEARNED)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "planner_set_reward: an oracle planner plans %s with its own reward; "
                          "custom rewards are for learned models",
                          p->m->env_id);
  if (!reward && terminal)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "planner_set_reward: a terminal function needs a reward function");
  p->km.reward_fn = reward;
  p->km.terminal_fn = reward ? terminal : NULL;
  p->km.user = reward ? user : NULL;
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
  if (!p->m->spec && !p->km.reward_fn)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "planner_evaluate: '%s' is a custom system without a reward; set one "
                          "with mbrl_planner_set_reward",
                          p->m->env_id);
  rollout_src src = {actions, NULL, 0, 0};
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
    mbrl_planner_next_action(&s, A, m->n_actions, m->act_low, m->act_high, a); /* a_0 ran */
    for (int h = 0; h + 1 < H; ++h)
      mbrl_planner_next_action(&s, A, m->n_actions, m->act_low, m->act_high, out + (size_t)h * A);
  }
  memset(out + (size_t)(H - 1) * A, 0, (size_t)A * sizeof(float));
}

int mbrl_planner_particles(const mbrl_planner *p) { return p ? p->P : 0; }

void *mbrl_planner_cuda_state(mbrl_planner *p) { return p ? p->cuda : NULL; }

mbrl_status mbrl_planner_evaluate_batch(mbrl_planner *p, const float *obs, const float *actions,
                                        int E, int K, float *costs, float *s1) {
  return mbrl_planner_evaluate_batch_seeded(p, obs, actions, NULL, E, K, costs, s1);
}

mbrl_status mbrl_planner_evaluate_batch_seeded(mbrl_planner *p, const float *obs,
                                               const float *actions, const uint64_t *pseeds,
                                               int E, int K, float *costs, float *s1) {
  if (!p || !obs || !actions || !costs)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "planner_evaluate_batch: NULL argument");
  if (E < 1 || E > p->Emax)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "planner_evaluate_batch: E = %d environments; this planner takes 1..%d "
                          "(max_envs)", E, p->Emax);
  if (K < 1 || K > p->K)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "planner_evaluate_batch: K = %d sequences; this planner takes 1..%d "
                          "(samples)", K, p->K);
  const int O = p->m->obs_dim, A = p->m->act_dim;
  for (size_t i = 0; i < (size_t)E * O; ++i)
    if (!isfinite(obs[i]))
      return mbrl_set_error(MBRL_ERR_NUMERIC,
                            "planner_evaluate_batch: observation value %zu (env %zu) is not finite",
                            i % O, i / O);
#ifdef MBRL_HAVE_CUDA
  if (p->cfg.backend == MBRL_BACKEND_CUDA) {
    p->last_E = 0;
    return mbrl_planner_cuda_evaluate(p->cuda, obs, actions, pseeds, E, K, costs, s1);
  }
#endif
  rollout_src srcs_small[8] = {{0}};
  rollout_src *srcs = E <= 8 ? srcs_small : (rollout_src *)malloc((size_t)E * sizeof *srcs);
  if (!srcs) return mbrl_set_error(MBRL_ERR_NOMEM, "planner_evaluate_batch: out of memory");
  for (int e = 0; e < E; ++e) {
    srcs[e].given = actions + (size_t)e * K * p->H * A;
    srcs[e].prior = NULL;
    srcs[e].seed = 0;
    srcs[e].pseed = pseeds ? pseeds[e] : 0;
  }
  rollout_all(p, obs, srcs, E, K);
  if (srcs != srcs_small) free(srcs);
  for (int e = 0; e < E; ++e) {
    memcpy(costs + (size_t)e * K, p->costs + (size_t)e * p->K, (size_t)K * sizeof(float));
    if (s1)
      memcpy(s1 + (size_t)e * K * O, p->s1 + (size_t)e * p->K * O, (size_t)K * O * sizeof(float));
  }
  p->last_E = 0; /* the cost buffer no longer holds a plan */
  return MBRL_OK;
}
