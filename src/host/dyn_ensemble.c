/* dyn_ensemble.c - the dynamics ensemble (mbrl/dyn_ensemble.h): layout, init, the batched
 * forward / backward / train step over all members (the ops of mbrl/nn_batched.h on the CPU or
 * CUDA backend: the same host code drives both), prediction with per-row members, evaluation,
 * elites and the folded export. The trainer is in dyn_ensemble_train.c, the checkpoint in
 * dyn_ensemble_h5.c. */
#include "mbrl/dyn_ensemble.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/dyn_ensemble_internal.h"
#include "host/mlp_cuda.h"
#include "mbrl/planner.h"

/* ---------------------------------------------------------------- backend memory */

mbrl_status mbrl_dyn_ensemble_mem_alloc(mbrl_backend be, void **p, size_t bytes) {
  *p = NULL;
  if (bytes == 0) bytes = 1;
#ifdef MBRL_HAVE_CUDA
  if (be == MBRL_BACKEND_CUDA) return mbrl_mlp_cuda_alloc(p, bytes);
#endif
  (void)be;
  const size_t rounded = (bytes + 63) & ~(size_t)63;
  void *q = aligned_alloc(64, rounded);
  if (!q)
    return mbrl_set_error(MBRL_ERR_NOMEM, "dyn_ensemble: cannot allocate %zu bytes", rounded);
  memset(q, 0, rounded);
  *p = q;
  return MBRL_OK;
}

void mbrl_dyn_ensemble_mem_free(mbrl_backend be, void *p) {
  if (!p) return;
#ifdef MBRL_HAVE_CUDA
  if (be == MBRL_BACKEND_CUDA) {
    mbrl_mlp_cuda_free(p);
    return;
  }
#endif
  (void)be;
  free(p);
}

mbrl_status mbrl_dyn_ensemble_mem_copy(mbrl_backend be, void *dst, const void *src, size_t bytes,
                                       int to_backend) {
  if (bytes == 0) return MBRL_OK;
#ifdef MBRL_HAVE_CUDA
  if (be == MBRL_BACKEND_CUDA) return mbrl_mlp_cuda_copy(dst, src, bytes, to_backend);
#endif
  (void)be;
  (void)to_backend;
  if (dst != src) memcpy(dst, src, bytes);
  return MBRL_OK;
}

static mbrl_status falloc(const mbrl_dyn_ensemble *e, float **p, size_t n) {
  return mbrl_dyn_ensemble_mem_alloc(e->backend, (void **)p, n * sizeof(float));
}

/* ---------------------------------------------------------------- op dispatch */

#ifdef MBRL_HAVE_CUDA
#define IS_CUDA(e) ((e)->backend == MBRL_BACKEND_CUDA)
#define STREAM NULL /* the legacy default stream: ordered with the synchronous copies */
#endif

static mbrl_status op_linear_forward(const mbrl_dyn_ensemble *e, float *y, const float *x,
                                     const float *W, const float *b, int M, int B, int in, int out,
                                     size_t sx, size_t sp) {
#ifdef MBRL_HAVE_CUDA
  if (IS_CUDA(e)) return mbrl_nnb_linear_forward_cuda(y, x, W, b, M, B, in, out, sx, sp, STREAM);
#endif
  (void)e;
  mbrl_nnb_linear_forward(y, x, W, b, M, B, in, out, sx, sp);
  return MBRL_OK;
}

static mbrl_status op_linear_backward(const mbrl_dyn_ensemble *e, float *dx, float *dW, float *db,
                                      const float *dy, const float *x, const float *W, int M,
                                      int B, int in, int out, size_t sx, size_t sp) {
#ifdef MBRL_HAVE_CUDA
  if (IS_CUDA(e))
    return mbrl_nnb_linear_backward_cuda(dx, dW, db, dy, x, W, M, B, in, out, sx, sp, STREAM);
#endif
  (void)e;
  mbrl_nnb_linear_backward(dx, dW, db, dy, x, W, M, B, in, out, sx, sp);
  return MBRL_OK;
}

static mbrl_status op_bn_act_forward(const mbrl_dyn_ensemble *e, float *y, float *mean,
                                     float *rstd, float *rm, float *rv, const float *x,
                                     const float *gamma, const float *beta, int M, int B, int C,
                                     int train) {
  const mbrl_mlp_config *c = &e->member_cfg;
#ifdef MBRL_HAVE_CUDA
  if (IS_CUDA(e))
    return mbrl_nnb_bn_act_forward_cuda(y, mean, rstd, rm, rv, x, gamma, beta, M, B, C,
                                        e->member_params, e->member_buffers, c->bn_momentum,
                                        c->bn_eps, c->activation, train, STREAM);
#endif
  mbrl_nnb_bn_act_forward(y, mean, rstd, rm, rv, x, gamma, beta, M, B, C, e->member_params,
                          e->member_buffers, c->bn_momentum, c->bn_eps, c->activation, train);
  return MBRL_OK;
}

static mbrl_status op_act_bn_backward(const mbrl_dyn_ensemble *e, float *dx, float *dgamma,
                                      float *dbeta, const float *dy, const float *y,
                                      const float *x, const float *mean, const float *rstd,
                                      const float *gamma, int M, int B, int C, int train) {
#ifdef MBRL_HAVE_CUDA
  if (IS_CUDA(e))
    return mbrl_nnb_act_bn_backward_cuda(dx, dgamma, dbeta, dy, y, x, mean, rstd, gamma, M, B, C,
                                         e->member_params, e->member_cfg.activation, train,
                                         STREAM);
#endif
  mbrl_nnb_act_bn_backward(dx, dgamma, dbeta, dy, y, x, mean, rstd, gamma, M, B, C,
                           e->member_params, e->member_cfg.activation, train);
  return MBRL_OK;
}

static mbrl_status op_act_forward(const mbrl_dyn_ensemble *e, float *y, const float *x, size_t n) {
#ifdef MBRL_HAVE_CUDA
  if (IS_CUDA(e)) return mbrl_nn_act_forward_cuda(y, x, n, e->member_cfg.activation, STREAM);
#endif
  mbrl_nn_act_forward(y, x, n, e->member_cfg.activation);
  return MBRL_OK;
}

static mbrl_status op_act_backward(const mbrl_dyn_ensemble *e, float *dx, const float *dy,
                                   const float *y, size_t n) {
#ifdef MBRL_HAVE_CUDA
  if (IS_CUDA(e)) return mbrl_nn_act_backward_cuda(dx, dy, y, n, e->member_cfg.activation, STREAM);
#endif
  mbrl_nn_act_backward(dx, dy, y, n, e->member_cfg.activation);
  return MBRL_OK;
}

static mbrl_status op_split(const mbrl_dyn_ensemble *e, float *mean, float *logvar,
                            const float *out, size_t rows) {
  const float *mx = e->cfg.probabilistic ? e->params + e->max_logvar_off : NULL;
  const float *mn = e->cfg.probabilistic ? e->params + e->min_logvar_off : NULL;
#ifdef MBRL_HAVE_CUDA
  if (IS_CUDA(e))
    return mbrl_nnb_gaussian_split_cuda(mean, logvar, out, mx, mn, rows, e->obs_dim, STREAM);
#endif
  mbrl_nnb_gaussian_split(mean, logvar, out, mx, mn, rows, e->obs_dim);
  return MBRL_OK;
}

mbrl_status mbrl_dyn_ensemble_gather(const mbrl_dyn_ensemble *e, float *y, const float *X,
                                     const int32_t *idx, size_t n, int C) {
#ifdef MBRL_HAVE_CUDA
  if (IS_CUDA(e)) return mbrl_nnb_gather_rows_cuda(y, X, idx, n, C, STREAM);
#endif
  (void)e;
  mbrl_nnb_gather_rows(y, X, idx, n, C);
  return MBRL_OK;
}

/* ---------------------------------------------------------------- workspace */

struct mbrl_dyn_ensemble_ws {
  /* backend memory, sized for M members x max_batch rows */
  float *z[MBRL_MLP_MAX_LAYERS];    /* (M, mb, C_l) BN input (BN layers only) */
  float *a[MBRL_MLP_MAX_LAYERS];    /* (M, mb, C_l) hidden activation output */
  float *mean[MBRL_MLP_MAX_LAYERS]; /* (M, C_l) BN statistics saved by forward */
  float *rstd[MBRL_MLP_MAX_LAYERS]; /* (M, C_l) */
  float *dbuf[2];                   /* (M, mb, max width) backward ping-pong */
  float *out;                       /* (M, mb, out_dim) train step / prediction output */
  float *dout;                      /* (M, mb, out_dim) dL/dout */
  float *pm, *plv;                  /* (M, mb, obs) split mean / logvar (backend) */
  float *b_in;                      /* (mb, in) shared prediction input (backend) */
  void *block;                      /* base of the backend block above */
  /* host scratch for predictions */
  float *h_in;                      /* (mb, in) */
  float *h_mean, *h_lv;             /* (M, mb, obs) */
  int *h_rows;                      /* (mb) row numbers of one member group */
  /* the last forward, for backward */
  const float *x;                   /* its input (backend memory, caller's) */
  size_t sx;
  int B, M0, Mc, train;             /* rows, first member, members */
};

static int has_bn(const mbrl_dyn_ensemble *e, int l) {
  return e->member_cfg.batchnorm && l < e->member_cfg.n_layers - 1;
}

static int max_width(const mbrl_mlp_config *c) {
  int w = 0;
  for (int i = 0; i <= c->n_layers; ++i) w = c->sizes[i] > w ? c->sizes[i] : w;
  return w;
}

int mbrl_dyn_ensemble_out_dim(const mbrl_dyn_ensemble *e) {
  return e->member_cfg.sizes[e->member_cfg.n_layers];
}

static mbrl_status ws_create(mbrl_dyn_ensemble *e) {
  mbrl_dyn_ensemble_ws *w = (mbrl_dyn_ensemble_ws *)calloc(1, sizeof *w);
  if (!w) return mbrl_set_error(MBRL_ERR_NOMEM, "dyn_ensemble_create: out of memory");
  e->ws = w;
  const mbrl_mlp_config *c = &e->member_cfg;
  const int L = c->n_layers;
  const size_t M = (size_t)e->cfg.members, mb = (size_t)e->max_batch;
  const size_t O = (size_t)e->obs_dim, od = (size_t)mbrl_dyn_ensemble_out_dim(e);
  const size_t in = (size_t)c->sizes[0], W = (size_t)max_width(c);
  size_t total = 0;
  for (int l = 0; l < L - 1; ++l) {
    const size_t C = (size_t)c->sizes[l + 1];
    total += (has_bn(e, l) ? 2 : 1) * M * mb * C + 2 * M * C;
  }
  total += 2 * M * mb * W + 2 * M * mb * od + 2 * M * mb * O + mb * in;
  float *p = NULL;
  mbrl_status st = falloc(e, &p, total);
  if (st) return st;
  w->block = p;
  for (int l = 0; l < L - 1; ++l) {
    const size_t C = (size_t)c->sizes[l + 1];
    if (has_bn(e, l)) w->z[l] = p, p += M * mb * C;
    w->a[l] = p, p += M * mb * C;
    w->mean[l] = p, p += M * C;
    w->rstd[l] = p, p += M * C;
  }
  w->dbuf[0] = p, p += M * mb * W;
  w->dbuf[1] = p, p += M * mb * W;
  w->out = p, p += M * mb * od;
  w->dout = p, p += M * mb * od;
  w->pm = p, p += M * mb * O;
  w->plv = p, p += M * mb * O;
  w->b_in = p;
  w->h_in = (float *)malloc(mb * in * sizeof(float));
  w->h_mean = (float *)malloc(M * mb * O * sizeof(float));
  w->h_lv = (float *)malloc(M * mb * O * sizeof(float));
  w->h_rows = (int *)malloc(mb * sizeof(int));
  if (!w->h_in || !w->h_mean || !w->h_lv || !w->h_rows)
    return mbrl_set_error(MBRL_ERR_NOMEM, "dyn_ensemble_create: out of memory");
  return MBRL_OK;
}

static void ws_free(mbrl_dyn_ensemble *e) {
  mbrl_dyn_ensemble_ws *w = e->ws;
  if (!w) return;
  mbrl_dyn_ensemble_mem_free(e->backend, w->block);
  free(w->h_in);
  free(w->h_mean);
  free(w->h_lv);
  free(w->h_rows);
  free(w);
  e->ws = NULL;
}

/* ---------------------------------------------------------------- create / free */

void mbrl_dyn_ensemble_config_init(mbrl_dyn_ensemble_config *c) {
  memset(c, 0, sizeof *c);
  c->members = 5;
  c->probabilistic = 1;
  c->n_hidden = 2;
  c->hidden[0] = c->hidden[1] = 64;
  c->batchnorm = 1;
  c->learn_logvar_bounds = 1;
  c->max_logvar_init = 0.5f;
  c->min_logvar_init = -10.0f;
  c->bound_coef = 0.01f;
  c->n_elites = 0;
}

static mbrl_status check_config(const mbrl_dyn_ensemble_config *c) {
  if (c->members < 1 || c->members > MBRL_DYN_ENSEMBLE_MAX_MEMBERS)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble: %d members; use 1..%d",
                          c->members, MBRL_DYN_ENSEMBLE_MAX_MEMBERS);
  if (c->n_hidden < 1 || c->n_hidden > MBRL_DYNAMICS_MAX_HIDDEN)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble: %d hidden layers; use 1..%d",
                          c->n_hidden, MBRL_DYNAMICS_MAX_HIDDEN);
  for (int i = 0; i < c->n_hidden; ++i)
    if (c->hidden[i] < 1 || c->hidden[i] > 65536)
      return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                            "dyn_ensemble: hidden width %d out of range (1..65536)", c->hidden[i]);
  if (c->n_elites < 0 || c->n_elites > c->members)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble: %d elites for %d members; use 1..members (0: all)",
                          c->n_elites, c->members);
  if (c->probabilistic &&
      !(isfinite(c->max_logvar_init) && isfinite(c->min_logvar_init) &&
        c->min_logvar_init < c->max_logvar_init && isfinite(c->bound_coef) &&
        c->bound_coef >= 0.0f))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble: log-variance bounds (min %g, max %g) must be finite with "
                          "min < max, and the bound penalty %g finite and >= 0",
                          (double)c->min_logvar_init, (double)c->max_logvar_init,
                          (double)c->bound_coef);
  return MBRL_OK;
}

void mbrl_dyn_ensemble_free(mbrl_dyn_ensemble *e) {
  if (!e) return;
  ws_free(e);
  mbrl_dyn_ensemble_mem_free(e->backend, e->params);
  mbrl_dyn_ensemble_mem_free(e->backend, e->grads);
  mbrl_dyn_ensemble_mem_free(e->backend, e->buffers);
  free(e);
}

mbrl_status mbrl_dyn_ensemble_create(mbrl_dyn_ensemble **out, const char *env_id, int obs_dim,
                                     int act_dim, const mbrl_dataset_stats *stats,
                                     const mbrl_dyn_ensemble_config *cfg, mbrl_backend backend,
                                     int max_batch, uint64_t seed) {
  if (!out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_create: out is NULL");
  *out = NULL;
  if (!env_id || strlen(env_id) >= sizeof(((mbrl_dyn_ensemble *)0)->env_id))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_create: env_id missing or too long");
  if (obs_dim < 1 || obs_dim > MBRL_MAX_DIM || act_dim < 1 || act_dim > MBRL_MAX_DIM)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble_create: obs_dim %d / act_dim %d out of range (1..%d)",
                          obs_dim, act_dim, MBRL_MAX_DIM);
  if (max_batch < 2)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_create: max_batch %d; use >= 2",
                          max_batch);
  mbrl_dyn_ensemble_config c;
  if (cfg)
    c = *cfg;
  else
    mbrl_dyn_ensemble_config_init(&c);
  mbrl_status st = check_config(&c);
  if (st) return st;
  if (c.n_elites == 0) c.n_elites = c.members;
  mbrl_backend be;
  if ((st = mbrl_backend_resolve(backend, &be))) return st;

  mbrl_dyn_ensemble *e = (mbrl_dyn_ensemble *)calloc(1, sizeof *e);
  if (!e) return mbrl_set_error(MBRL_ERR_NOMEM, "dyn_ensemble_create: out of memory");
  snprintf(e->env_id, sizeof e->env_id, "%s", env_id);
  e->obs_dim = obs_dim;
  e->act_dim = act_dim;
  if (stats)
    e->stats = *stats;
  else
    mbrl_dataset_stats_identity(&e->stats);
  e->cfg = c;
  e->backend = be;
  e->max_batch = max_batch;
  snprintf(e->config_json, sizeof e->config_json, "{}");
  for (int m = 0; m < MBRL_DYN_ENSEMBLE_MAX_MEMBERS; ++m) {
    e->elites[m] = m;
    e->val_mse[m] = e->val_nll[m] = NAN;
  }

  /* one member's architecture and layout: those of a CPU mlp of that config */
  int sizes[MBRL_MLP_MAX_LAYERS + 1];
  sizes[0] = obs_dim + act_dim;
  for (int i = 0; i < c.n_hidden; ++i) sizes[i + 1] = c.hidden[i];
  sizes[c.n_hidden + 1] = (c.probabilistic ? 2 : 1) * obs_dim;
  mbrl_mlp_config_init(&e->member_cfg, c.n_hidden + 1, sizes);
  e->member_cfg.batchnorm = c.batchnorm ? 1 : 0;
  e->member_cfg.activation = MBRL_ACT_RELU;
  e->member_cfg.seed = seed;
  mbrl_mlp *tmpl = NULL;
  if ((st = mbrl_mlp_create(&tmpl, &e->member_cfg, MBRL_BACKEND_CPU, 1))) {
    free(e);
    return st;
  }
  const size_t P = tmpl->n_params, PB = tmpl->n_buffers, M = (size_t)c.members;
  e->member_params = P;
  e->member_buffers = PB;
  memcpy(e->w_off, tmpl->w_off, sizeof e->w_off);
  memcpy(e->b_off, tmpl->b_off, sizeof e->b_off);
  memcpy(e->gamma_off, tmpl->gamma_off, sizeof e->gamma_off);
  memcpy(e->beta_off, tmpl->beta_off, sizeof e->beta_off);
  memcpy(e->rmean_off, tmpl->rmean_off, sizeof e->rmean_off);
  memcpy(e->rvar_off, tmpl->rvar_off, sizeof e->rvar_off);
  e->n_params = M * P;
  if (c.probabilistic) {
    e->max_logvar_off = e->n_params;
    e->min_logvar_off = e->n_params + (size_t)obs_dim;
    e->n_params += 2 * (size_t)obs_dim;
  }
  float *hp = (float *)malloc((e->n_params + M * PB + 1) * sizeof(float));
  if (!hp) {
    mbrl_mlp_free(tmpl);
    free(e);
    return mbrl_set_error(MBRL_ERR_NOMEM, "dyn_ensemble_create: out of memory");
  }
  float *hb = hp + e->n_params;
  for (int m = 0; m < c.members && !st; ++m) {
    st = mbrl_mlp_init_params(tmpl, mbrl_dyn_ensemble_member_seed(seed, m));
    if (!st) st = mbrl_mlp_get_params(tmpl, hp + (size_t)m * P);
    if (!st) st = mbrl_mlp_get_buffers(tmpl, hb + (size_t)m * PB);
  }
  mbrl_mlp_free(tmpl);
  if (c.probabilistic)
    for (int j = 0; j < obs_dim; ++j) {
      hp[e->max_logvar_off + (size_t)j] = c.max_logvar_init;
      hp[e->min_logvar_off + (size_t)j] = c.min_logvar_init;
    }
  if (!st) st = falloc(e, &e->params, e->n_params);
  if (!st) st = falloc(e, &e->grads, e->n_params);
  if (!st) st = falloc(e, &e->buffers, M * PB);
  if (!st) st = ws_create(e);
  if (!st)
    st = mbrl_dyn_ensemble_mem_copy(be, e->params, hp, e->n_params * sizeof(float), 1);
  if (!st) st = mbrl_dyn_ensemble_mem_copy(be, e->buffers, hb, M * PB * sizeof(float), 1);
  free(hp);
  if (st) {
    mbrl_dyn_ensemble_free(e);
    return st;
  }
  *out = e;
  return MBRL_OK;
}

mbrl_status mbrl_dyn_ensemble_set_config(mbrl_dyn_ensemble *e, const char *json) {
  if (!e || !json)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_set_config: NULL argument");
  if (strlen(json) >= sizeof e->config_json)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble_set_config: config is %zu bytes; at most %zu fit",
                          strlen(json), sizeof e->config_json - 1);
  snprintf(e->config_json, sizeof e->config_json, "%s", json);
  return MBRL_OK;
}

/* ---------------------------------------------------------------- get / set */

mbrl_status mbrl_dyn_ensemble_get_params(const mbrl_dyn_ensemble *e, float *params) {
  if (!e || !params)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_get_params: NULL argument");
  return mbrl_dyn_ensemble_mem_copy(e->backend, params, e->params, e->n_params * sizeof(float), 0);
}

mbrl_status mbrl_dyn_ensemble_set_params(mbrl_dyn_ensemble *e, const float *params) {
  if (!e || !params)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_set_params: NULL argument");
  for (size_t i = 0; i < e->n_params; ++i)
    if (!isfinite(params[i]))
      return mbrl_set_error(MBRL_ERR_NUMERIC,
                            "dyn_ensemble_set_params: params[%zu] is not finite; nothing was "
                            "changed", i);
  return mbrl_dyn_ensemble_mem_copy(e->backend, e->params, params, e->n_params * sizeof(float), 1);
}

mbrl_status mbrl_dyn_ensemble_get_grads(const mbrl_dyn_ensemble *e, float *grads) {
  if (!e || !grads)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_get_grads: NULL argument");
  return mbrl_dyn_ensemble_mem_copy(e->backend, grads, e->grads, e->n_params * sizeof(float), 0);
}

mbrl_status mbrl_dyn_ensemble_get_buffers(const mbrl_dyn_ensemble *e, float *buffers) {
  if (!e || (!buffers && e->member_buffers))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_get_buffers: NULL argument");
  return mbrl_dyn_ensemble_mem_copy(e->backend, buffers, e->buffers,
                                    (size_t)e->cfg.members * e->member_buffers * sizeof(float), 0);
}

mbrl_status mbrl_dyn_ensemble_set_buffers(mbrl_dyn_ensemble *e, const float *buffers) {
  if (!e || (!buffers && e->member_buffers))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_set_buffers: NULL argument");
  const size_t n = (size_t)e->cfg.members * e->member_buffers;
  for (size_t i = 0; i < n; ++i)
    if (!isfinite(buffers[i]))
      return mbrl_set_error(MBRL_ERR_NUMERIC,
                            "dyn_ensemble_set_buffers: buffers[%zu] is not finite; nothing was "
                            "changed", i);
  return n ? mbrl_dyn_ensemble_mem_copy(e->backend, e->buffers, buffers, n * sizeof(float), 1)
           : MBRL_OK;
}

static mbrl_status check_member_mlp(const mbrl_dyn_ensemble *e, int m, const mbrl_mlp *mlp,
                                    const char *fn) {
  if (!e || !mlp) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: NULL argument", fn);
  if (m < 0 || m >= e->cfg.members)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: member %d out of range (0..%d)", fn, m,
                          e->cfg.members - 1);
  const mbrl_mlp_config *a = &mlp->cfg, *b = &e->member_cfg;
  if (a->n_layers != b->n_layers || memcmp(a->sizes, b->sizes, sizeof a->sizes) != 0 ||
      a->batchnorm != b->batchnorm || a->activation != b->activation)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "%s: the mlp's architecture differs from the ensemble's members", fn);
  return MBRL_OK;
}

/* Host copies of member m's params (P) and buffers (PB). */
static mbrl_status member_host(const mbrl_dyn_ensemble *e, int m, float *p, float *b) {
  mbrl_status st = mbrl_dyn_ensemble_mem_copy(e->backend, p, e->params + (size_t)m * e->member_params,
                                              e->member_params * sizeof(float), 0);
  if (!st && e->member_buffers)
    st = mbrl_dyn_ensemble_mem_copy(e->backend, b, e->buffers + (size_t)m * e->member_buffers,
                                    e->member_buffers * sizeof(float), 0);
  return st;
}

/* Walk mlp.h's state order (per layer W, b, [gamma, beta, running_mean, running_var, nbt]):
 * to_state = 1 fills state from (p, b, nbt); 0 fills (p, b) from state and returns *nbt. */
static void member_state(const mbrl_dyn_ensemble *e, float *p, float *b, long long *nbt,
                         float *state, int to_state) {
  const mbrl_mlp_config *c = &e->member_cfg;
  size_t o = 0;
  for (int l = 0; l < c->n_layers; ++l) {
    const size_t in = (size_t)c->sizes[l], out = (size_t)c->sizes[l + 1];
    struct {
      float *base;
      size_t off, n;
    } seg[6] = {{p, e->w_off[l], in * out}, {p, e->b_off[l], out}, {p, e->gamma_off[l], out},
                {p, e->beta_off[l], out},   {b, e->rmean_off[l], out}, {b, e->rvar_off[l], out}};
    const int nseg = has_bn(e, l) ? 6 : 2;
    for (int k = 0; k < nseg; ++k) {
      if (to_state)
        memcpy(state + o, seg[k].base + seg[k].off, seg[k].n * sizeof(float));
      else
        memcpy(seg[k].base + seg[k].off, state + o, seg[k].n * sizeof(float));
      o += seg[k].n;
    }
    if (has_bn(e, l)) {
      if (to_state)
        state[o] = (float)*nbt;
      else
        *nbt = (long long)state[o];
      o += 1;
    }
  }
}

mbrl_status mbrl_dyn_ensemble_get_member(const mbrl_dyn_ensemble *e, int m, mbrl_mlp *dst) {
  mbrl_status st = check_member_mlp(e, m, dst, "dyn_ensemble_get_member");
  if (st) return st;
  const size_t n = mbrl_mlp_state_size(dst);
  float *buf = (float *)malloc((n + e->member_params + e->member_buffers + 1) * sizeof(float));
  if (!buf) return mbrl_set_error(MBRL_ERR_NOMEM, "dyn_ensemble_get_member: out of memory");
  float *p = buf + n, *b = p + e->member_params;
  long long nbt = e->num_batches_tracked;
  st = member_host(e, m, p, b);
  if (!st) {
    member_state(e, p, b, &nbt, buf, 1);
    st = mbrl_mlp_set_state(dst, buf);
  }
  free(buf);
  return st;
}

mbrl_status mbrl_dyn_ensemble_set_member(mbrl_dyn_ensemble *e, int m, const mbrl_mlp *src) {
  mbrl_status st = check_member_mlp(e, m, src, "dyn_ensemble_set_member");
  if (st) return st;
  const size_t n = mbrl_mlp_state_size(src);
  float *buf = (float *)malloc((n + e->member_params + e->member_buffers + 1) * sizeof(float));
  if (!buf) return mbrl_set_error(MBRL_ERR_NOMEM, "dyn_ensemble_set_member: out of memory");
  float *p = buf + n, *b = p + e->member_params;
  long long nbt = e->num_batches_tracked;
  st = mbrl_mlp_get_state(src, buf);
  if (!st) {
    member_state(e, p, b, &nbt, buf, 0);
    st = mbrl_dyn_ensemble_mem_copy(e->backend, e->params + (size_t)m * e->member_params, p,
                                    e->member_params * sizeof(float), 1);
  }
  if (!st && e->member_buffers)
    st = mbrl_dyn_ensemble_mem_copy(e->backend, e->buffers + (size_t)m * e->member_buffers, b,
                                    e->member_buffers * sizeof(float), 1);
  if (!st) e->num_batches_tracked = nbt;
  free(buf);
  return st;
}

mbrl_status mbrl_dyn_ensemble_get_logvar_bounds(const mbrl_dyn_ensemble *e, float *max_logvar,
                                                float *min_logvar) {
  if (!e || !max_logvar || !min_logvar)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_get_logvar_bounds: NULL argument");
  if (!e->cfg.probabilistic)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble_get_logvar_bounds: the ensemble is deterministic");
  const size_t bytes = (size_t)e->obs_dim * sizeof(float);
  mbrl_status st =
      mbrl_dyn_ensemble_mem_copy(e->backend, max_logvar, e->params + e->max_logvar_off, bytes, 0);
  if (!st)
    st = mbrl_dyn_ensemble_mem_copy(e->backend, min_logvar, e->params + e->min_logvar_off, bytes,
                                    0);
  return st;
}

mbrl_status mbrl_dyn_ensemble_set_logvar_bounds(mbrl_dyn_ensemble *e, const float *max_logvar,
                                                const float *min_logvar) {
  if (!e || !max_logvar || !min_logvar)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_set_logvar_bounds: NULL argument");
  if (!e->cfg.probabilistic)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble_set_logvar_bounds: the ensemble is deterministic");
  for (int j = 0; j < e->obs_dim; ++j)
    if (!isfinite(max_logvar[j]) || !isfinite(min_logvar[j]))
      return mbrl_set_error(MBRL_ERR_NUMERIC,
                            "dyn_ensemble_set_logvar_bounds: bound %d is not finite", j);
  const size_t bytes = (size_t)e->obs_dim * sizeof(float);
  mbrl_status st =
      mbrl_dyn_ensemble_mem_copy(e->backend, e->params + e->max_logvar_off, max_logvar, bytes, 1);
  if (!st)
    st = mbrl_dyn_ensemble_mem_copy(e->backend, e->params + e->min_logvar_off, min_logvar, bytes,
                                    1);
  return st;
}

/* ---------------------------------------------------------------- forward / backward */

/* Members m0 .. m0+Mc-1 on their rows (B <= max_batch): member m0+i reads x + i*sx. */
static mbrl_status forward_impl(mbrl_dyn_ensemble *e, int m0, int Mc, const float *x, int B,
                                size_t sx, float *out, int train) {
  const mbrl_mlp_config *c = &e->member_cfg;
  mbrl_dyn_ensemble_ws *w = e->ws;
  const int L = c->n_layers;
  const size_t P = e->member_params;
  const float *Pm = e->params + (size_t)m0 * P;
  float *Bm = e->buffers + (size_t)m0 * e->member_buffers;
  const float *h = x;
  size_t sh = sx;
  mbrl_status st = MBRL_OK;
  for (int l = 0; l < L && !st; ++l) {
    const int in = c->sizes[l], C = c->sizes[l + 1];
    if (l == L - 1) {
      st = op_linear_forward(e, out, h, Pm + e->w_off[l], Pm + e->b_off[l], Mc, B, in, C, sh, P);
      break;
    }
    float *a = w->a[l];
    if (has_bn(e, l)) {
      float *z = w->z[l];
      st = op_linear_forward(e, z, h, Pm + e->w_off[l], Pm + e->b_off[l], Mc, B, in, C, sh, P);
      if (!st)
        st = op_bn_act_forward(e, a, w->mean[l], w->rstd[l], Bm + e->rmean_off[l],
                               Bm + e->rvar_off[l], z, Pm + e->gamma_off[l], Pm + e->beta_off[l],
                               Mc, B, C, train);
    } else {
      st = op_linear_forward(e, a, h, Pm + e->w_off[l], Pm + e->b_off[l], Mc, B, in, C, sh, P);
      if (!st) st = op_act_forward(e, a, a, (size_t)Mc * (size_t)B * (size_t)C);
    }
    h = a;
    sh = (size_t)B * (size_t)C;
  }
  if (st) return st;
  w->x = x;
  w->sx = sx;
  w->B = B;
  w->M0 = m0;
  w->Mc = Mc;
  w->train = train ? 1 : 0;
  if (train && c->batchnorm && L > 1 && m0 == 0 && Mc == e->cfg.members)
    e->num_batches_tracked += 1;
  return MBRL_OK;
}

static mbrl_status check_batch(const mbrl_dyn_ensemble *e, int B, int train, const char *fn) {
  if (B < 1 || B > e->max_batch)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "%s: batch %d out of range (1..max_batch %d given at create)", fn, B,
                          e->max_batch);
  if (train && e->member_cfg.batchnorm && B < 2)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "%s: BatchNorm in training mode needs at least 2 rows per member (got "
                          "%d)", fn, B);
  return MBRL_OK;
}

mbrl_status mbrl_dyn_ensemble_forward_backend(mbrl_dyn_ensemble *e, const float *x, int B,
                                              size_t sx, float *out, int train) {
  if (!e || !x || !out)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_forward: NULL argument");
  mbrl_status st = check_batch(e, B, train, "dyn_ensemble_forward");
  if (st) return st;
  return forward_impl(e, 0, e->cfg.members, x, B, sx, out, train);
}

mbrl_status mbrl_dyn_ensemble_backward_backend(mbrl_dyn_ensemble *e, const float *dout) {
  if (!e || !dout)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_backward: NULL argument");
  mbrl_dyn_ensemble_ws *w = e->ws;
  if (w->B < 1 || w->M0 != 0 || w->Mc != e->cfg.members)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble_backward: no forward of all members to differentiate "
                          "(call mbrl_dyn_ensemble_forward_backend first)");
  const mbrl_mlp_config *c = &e->member_cfg;
  const int L = c->n_layers, M = e->cfg.members, B = w->B;
  const size_t P = e->member_params;
  const float *Pm = e->params;
  float *G = e->grads;
  const float *d = dout;
  mbrl_status st = MBRL_OK;
  for (int l = L - 1; l >= 0 && !st; --l) {
    const int in = c->sizes[l], out = c->sizes[l + 1];
    const float *xin = l == 0 ? w->x : w->a[l - 1];
    const size_t sx = l == 0 ? w->sx : (size_t)B * (size_t)in;
    float *dxin = l == 0 ? NULL : w->dbuf[(l - 1) & 1];
    st = op_linear_backward(e, dxin, G + e->w_off[l], G + e->b_off[l], d, xin, Pm + e->w_off[l],
                            M, B, in, out, sx, P);
    if (st || l == 0) break;
    const int k = l - 1; /* layer below: its act (and BN) produced xin */
    if (has_bn(e, k))
      st = op_act_bn_backward(e, dxin, G + e->gamma_off[k], G + e->beta_off[k], dxin, w->a[k],
                              w->z[k], w->mean[k], w->rstd[k], Pm + e->gamma_off[k], M, B, in,
                              w->train);
    else
      st = op_act_backward(e, dxin, dxin, w->a[k], (size_t)M * (size_t)B * (size_t)in);
    d = dxin;
  }
  return st;
}

/* ---------------------------------------------------------------- optimizer and train step */

mbrl_status mbrl_dyn_ensemble_optim_create(mbrl_optim **out, const mbrl_optim_config *cfg,
                                           const mbrl_dyn_ensemble *e) {
  if (!out || !cfg || !e)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_optim_create: NULL argument");
  *out = NULL;
  if (cfg->kind != MBRL_OPTIM_ADAM && cfg->kind != MBRL_OPTIM_RMSPROP)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_optim_create: unknown kind %d",
                          (int)cfg->kind);
  if (!(cfg->lr >= 0.0f) || !isfinite(cfg->lr) || !(cfg->eps >= 0.0f) ||
      (cfg->kind == MBRL_OPTIM_ADAM &&
       !(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f && cfg->beta2 >= 0.0f && cfg->beta2 < 1.0f)))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble_optim_create: lr %g, eps %g must be >= 0 and betas (%g, "
                          "%g) in [0, 1)",
                          (double)cfg->lr, (double)cfg->eps, (double)cfg->beta1,
                          (double)cfg->beta2);
  /* the same object mbrl_optim_create makes (freed by mbrl_optim_free: host memory from the
   * C allocator, device memory from mbrl_mlp_cuda_alloc) */
  mbrl_optim *o = (mbrl_optim *)calloc(1, sizeof *o);
  if (!o) return mbrl_set_error(MBRL_ERR_NOMEM, "dyn_ensemble_optim_create: out of memory");
  o->cfg = *cfg;
  o->backend = e->backend;
  o->n = e->n_params;
  mbrl_status st = mbrl_dyn_ensemble_mem_alloc(e->backend, (void **)&o->m, o->n * sizeof(float));
  if (!st && cfg->kind == MBRL_OPTIM_ADAM)
    st = mbrl_dyn_ensemble_mem_alloc(e->backend, (void **)&o->v, o->n * sizeof(float));
  if (st) {
    mbrl_optim_free(o);
    return st;
  }
  *out = o;
  return MBRL_OK;
}

/* The parameters the optimizer updates: all, or all but fixed log-variance bounds. */
static size_t trained_params(const mbrl_dyn_ensemble *e) {
  if (e->cfg.probabilistic && !e->cfg.learn_logvar_bounds) return e->max_logvar_off;
  return e->n_params;
}

static mbrl_status optim_step(mbrl_dyn_ensemble *e, mbrl_optim *o) {
  const size_t n = trained_params(e);
  o->step += 1;
#ifdef MBRL_HAVE_CUDA
  if (IS_CUDA(e)) {
    if (o->cfg.kind == MBRL_OPTIM_ADAM)
      return mbrl_nn_adam_step_cuda(e->params, o->m, o->v, e->grads, n, o->cfg.lr, o->cfg.beta1,
                                    o->cfg.beta2, o->cfg.eps, o->step, STREAM);
    return mbrl_nn_rmsprop_step_cuda(e->params, o->m, e->grads, n, o->cfg.lr, o->cfg.alpha,
                                     o->cfg.eps, STREAM);
  }
#endif
  /* CPU: the update is per element, so the parameters go in fixed chunks of OPT_CHUNK to the
   * threads; the chunking does not depend on the thread count, nor do the bits */
  enum { OPT_CHUNK = 4096 };
  const long nchunks = (long)((n + OPT_CHUNK - 1) / OPT_CHUNK);
#pragma omp parallel for schedule(static) if (nchunks > 1)
  for (long c = 0; c < nchunks; ++c) {
    const size_t off = (size_t)c * OPT_CHUNK, len = n - off < OPT_CHUNK ? n - off : OPT_CHUNK;
    if (o->cfg.kind == MBRL_OPTIM_ADAM)
      mbrl_nn_adam_step(e->params + off, o->m + off, o->v + off, e->grads + off, len, o->cfg.lr,
                        o->cfg.beta1, o->cfg.beta2, o->cfg.eps, o->step);
    else
      mbrl_nn_rmsprop_step(e->params + off, o->m + off, e->grads + off, len, o->cfg.lr,
                           o->cfg.alpha, o->cfg.eps);
  }
  return MBRL_OK;
}

mbrl_status mbrl_dyn_ensemble_train_step_backend(mbrl_dyn_ensemble *e, mbrl_optim *opt,
                                                 const float *x, const float *target, int B,
                                                 float *loss, float *member_loss) {
  if (!e || !opt || !x || !target)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_train_step: NULL argument");
  mbrl_status st = check_batch(e, B, 1, "dyn_ensemble_train_step");
  if (st) return st;
  if (B < 2)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_train_step: batch %d; use >= 2", B);
  if (opt->n != e->n_params || opt->backend != e->backend)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble_train_step: the optimizer was made for another model "
                          "(use mbrl_dyn_ensemble_optim_create)");
  mbrl_dyn_ensemble_ws *w = e->ws;
  const int M = e->cfg.members, O = e->obs_dim;
  const size_t in = (size_t)e->member_cfg.sizes[0];
  if ((st = forward_impl(e, 0, M, x, B, (size_t)B * in, w->out, 1))) return st;
  if (e->cfg.probabilistic) {
    float *gmax = e->cfg.learn_logvar_bounds ? e->grads + e->max_logvar_off : NULL;
    float *gmin = e->cfg.learn_logvar_bounds ? e->grads + e->min_logvar_off : NULL;
    const float *mx = e->params + e->max_logvar_off, *mn = e->params + e->min_logvar_off;
#ifdef MBRL_HAVE_CUDA
    if (IS_CUDA(e))
      st = mbrl_nnb_gaussian_nll_cuda(loss, member_loss, w->dout, gmax, gmin, w->out, target, mx,
                                      mn, M, B, O, e->cfg.bound_coef, STREAM);
    else
#endif
      mbrl_nnb_gaussian_nll(loss, member_loss, w->dout, gmax, gmin, w->out, target, mx, mn, M, B,
                            O, e->cfg.bound_coef);
  } else {
#ifdef MBRL_HAVE_CUDA
    if (IS_CUDA(e))
      st = mbrl_nnb_mse_loss_cuda(loss, member_loss, w->dout, w->out, target, M, B, O, STREAM);
    else
#endif
      mbrl_nnb_mse_loss(loss, member_loss, w->dout, w->out, target, M, B, O);
  }
  if (st) return st;
  if ((st = mbrl_dyn_ensemble_backward_backend(e, w->dout))) return st;
  return optim_step(e, opt);
}

/* ---------------------------------------------------------------- prediction */

static void normalize_rows(const mbrl_dyn_ensemble *e, const float *obs, const float *act,
                           const int *rows, size_t n, float *in) {
  const int O = e->obs_dim, A = e->act_dim, W = O + A;
  const mbrl_dataset_stats *s = &e->stats;
  for (size_t i = 0; i < n; ++i) {
    const size_t r = rows ? (size_t)rows[i] : i;
    float *row = in + i * (size_t)W;
    const float *o = obs + r * (size_t)O, *a = act + r * (size_t)A;
    for (int j = 0; j < O; ++j) row[j] = mbrl_normalize1(o[j], s->state_mean[j], s->state_std[j]);
    for (int j = 0; j < A; ++j)
      row[O + j] = mbrl_normalize1(a[j], s->action_mean[j], s->action_std[j]);
  }
}

mbrl_status mbrl_dyn_ensemble_normalize_data(const mbrl_dyn_ensemble *e, const mbrl_dataset *data,
                                             float *x, float *y) {
  const int O = e->obs_dim;
  const mbrl_dataset_stats *s = &e->stats;
  normalize_rows(e, data->observations, data->actions, NULL, data->n, x);
  for (size_t r = 0; r < data->n; ++r)
    for (int j = 0; j < O; ++j) {
      const size_t k = r * (size_t)O + (size_t)j;
      const float delta = data->next_observations[k] - data->observations[k];
      y[k] = mbrl_normalize1(delta, s->delta_state_mean[j], s->delta_state_std[j]);
    }
  return MBRL_OK;
}

/* Eval forward of members m0..m0+Mc-1 on the same n (<= max_batch) normalized rows in
 * ws->h_in; results in ws->h_mean, ws->h_lv (Mc, n, obs) (h_lv when want_lv). */
static mbrl_status eval_chunk(mbrl_dyn_ensemble *e, int m0, int Mc, int n, int want_lv) {
  mbrl_dyn_ensemble_ws *w = e->ws;
  const size_t in = (size_t)e->member_cfg.sizes[0], O = (size_t)e->obs_dim;
  const size_t rows = (size_t)Mc * (size_t)n;
  mbrl_status st;
  const float *x = w->h_in;
  if (e->backend != MBRL_BACKEND_CPU) {
    if ((st = mbrl_dyn_ensemble_mem_copy(e->backend, w->b_in, w->h_in, (size_t)n * in * sizeof(float), 1)))
      return st;
    x = w->b_in;
  }
  if ((st = forward_impl(e, m0, Mc, x, n, 0, w->out, 0))) return st;
  if (e->cfg.probabilistic) {
    if ((st = op_split(e, w->pm, want_lv ? w->plv : NULL, w->out, rows))) return st;
    if ((st = mbrl_dyn_ensemble_mem_copy(e->backend, w->h_mean, w->pm, rows * O * sizeof(float), 0)))
      return st;
    if (want_lv &&
        (st = mbrl_dyn_ensemble_mem_copy(e->backend, w->h_lv, w->plv, rows * O * sizeof(float), 0)))
      return st;
    return MBRL_OK;
  }
  return mbrl_dyn_ensemble_mem_copy(e->backend, w->h_mean, w->out, rows * O * sizeof(float), 0);
}

static mbrl_status check_predict(const mbrl_dyn_ensemble *e, const float *obs, const float *act,
                                 int B, const float *mean, const float *logvar, const char *fn) {
  if (!e || !obs || !act || !mean || B < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: NULL argument or batch %d < 1", fn, B);
  if (logvar && !e->cfg.probabilistic)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "%s: the ensemble is deterministic: it predicts no log-variance (pass "
                          "logvar = NULL)", fn);
  return MBRL_OK;
}

mbrl_status mbrl_dyn_ensemble_predict_all(mbrl_dyn_ensemble *e, const float *obs,
                                          const float *act, int B, float *mean, float *logvar) {
  mbrl_status st = check_predict(e, obs, act, B, mean, logvar, "dyn_ensemble_predict_all");
  if (st) return st;
  mbrl_dyn_ensemble_ws *w = e->ws;
  const int M = e->cfg.members, O = e->obs_dim, mb = e->max_batch;
  for (int r0 = 0; r0 < B; r0 += mb) {
    const int n = B - r0 < mb ? B - r0 : mb;
    normalize_rows(e, obs + (size_t)r0 * (size_t)O, act + (size_t)r0 * (size_t)e->act_dim, NULL,
                   (size_t)n, w->h_in);
    if ((st = eval_chunk(e, 0, M, n, logvar != NULL))) return st;
    for (int m = 0; m < M; ++m) {
      const size_t dst = ((size_t)m * (size_t)B + (size_t)r0) * (size_t)O;
      const size_t src = (size_t)m * (size_t)n * (size_t)O;
      memcpy(mean + dst, w->h_mean + src, (size_t)n * (size_t)O * sizeof(float));
      if (logvar) memcpy(logvar + dst, w->h_lv + src, (size_t)n * (size_t)O * sizeof(float));
    }
  }
  return MBRL_OK;
}

/* Expectation over the elites of rows r0..r0+n-1 (already normalized in h_in): mean, logvar
 * rows written at out offsets r0. */
static mbrl_status expectation_chunk(mbrl_dyn_ensemble *e, int r0, int n, float *mean,
                                     float *logvar) {
  mbrl_dyn_ensemble_ws *w = e->ws;
  const int O = e->obs_dim, K = e->cfg.n_elites;
  mbrl_status st = eval_chunk(e, 0, e->cfg.members, n, logvar != NULL);
  if (st) return st;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < O; ++j) {
      float sm = 0.0f, sl = 0.0f;
      for (int k = 0; k < K; ++k) {
        const size_t src = ((size_t)e->elites[k] * (size_t)n + (size_t)i) * (size_t)O + (size_t)j;
        sm += w->h_mean[src];
        if (logvar) sl += w->h_lv[src];
      }
      const size_t dst = ((size_t)r0 + (size_t)i) * (size_t)O + (size_t)j;
      mean[dst] = sm / (float)K;
      if (logvar) logvar[dst] = sl / (float)K;
    }
  return MBRL_OK;
}

mbrl_status mbrl_dyn_ensemble_predict(mbrl_dyn_ensemble *e, const float *obs, const float *act,
                                      const int *members, int B, float *mean, float *logvar) {
  mbrl_status st = check_predict(e, obs, act, B, mean, logvar, "dyn_ensemble_predict");
  if (st) return st;
  mbrl_dyn_ensemble_ws *w = e->ws;
  const int M = e->cfg.members, O = e->obs_dim, mb = e->max_batch;
  if (!members) {
    for (int r0 = 0; r0 < B && !st; r0 += mb) {
      const int n = B - r0 < mb ? B - r0 : mb;
      normalize_rows(e, obs + (size_t)r0 * (size_t)O, act + (size_t)r0 * (size_t)e->act_dim,
                     NULL, (size_t)n, w->h_in);
      st = expectation_chunk(e, r0, n, mean, logvar);
    }
    return st;
  }
  for (int i = 0; i < B; ++i)
    if (members[i] < 0 || members[i] >= M)
      return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                            "dyn_ensemble_predict: members[%d] = %d out of range (0..%d)", i,
                            members[i], M - 1);
  /* group the rows by member: for each member, chunks of up to max_batch of its rows */
  for (int m = 0; m < M; ++m) {
    int next = 0;
    while (next < B) {
      int n = 0;
      for (; next < B && n < mb; ++next)
        if (members[next] == m) w->h_rows[n++] = next;
      if (n == 0) break;
      normalize_rows(e, obs, act, w->h_rows, (size_t)n, w->h_in);
      if ((st = eval_chunk(e, m, 1, n, logvar != NULL))) return st;
      for (int i = 0; i < n; ++i) {
        const size_t dst = (size_t)w->h_rows[i] * (size_t)O, src = (size_t)i * (size_t)O;
        memcpy(mean + dst, w->h_mean + src, (size_t)O * sizeof(float));
        if (logvar) memcpy(logvar + dst, w->h_lv + src, (size_t)O * sizeof(float));
      }
    }
  }
  return MBRL_OK;
}

mbrl_status mbrl_dyn_ensemble_predict_next(mbrl_dyn_ensemble *e, const float *obs,
                                           const float *act, const int *members, int B,
                                           int sample, uint64_t sample_seed, float *next) {
  if (!e || !next)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_predict_next: NULL argument");
  if (sample && !e->cfg.probabilistic)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble_predict_next: sampling needs a probabilistic ensemble");
  const int O = e->obs_dim;
  const size_t n = (size_t)(B > 0 ? B : 1) * (size_t)O;
  float *mean = (float *)malloc(n * sizeof(float));
  float *lv = sample ? (float *)malloc(n * sizeof(float)) : NULL;
  if (!mean || (sample && !lv)) {
    free(mean);
    free(lv);
    return mbrl_set_error(MBRL_ERR_NOMEM, "dyn_ensemble_predict_next: out of memory");
  }
  mbrl_status st = mbrl_dyn_ensemble_predict(e, obs, act, members, B, mean, lv);
  if (!st) {
    const mbrl_dataset_stats *s = &e->stats;
    float eps[MBRL_MAX_DIM];
    for (int i = 0; i < B; ++i) {
      if (sample) mbrl_dyn_ensemble_noise(sample_seed, (uint64_t)i, O, eps);
      for (int j = 0; j < O; ++j) {
        const size_t k = (size_t)i * (size_t)O + (size_t)j;
        const float d = sample ? mbrl_dyn_ensemble_sample1(mean[k], lv[k], eps[j]) : mean[k];
        next[k] = obs[k] + mbrl_unnormalize1(d, s->delta_state_mean[j], s->delta_state_std[j]);
      }
    }
  }
  free(mean);
  free(lv);
  return st;
}

/* ---------------------------------------------------------------- evaluation */

static mbrl_status check_data(const mbrl_dyn_ensemble *e, const mbrl_dataset *data,
                              const char *fn) {
  if (!e || !data) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: NULL argument", fn);
  if (data->obs_dim != e->obs_dim || data->act_dim != e->act_dim)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "%s: the data has obs_dim %d, act_dim %d but the model %d, %d", fn,
                          data->obs_dim, data->act_dim, e->obs_dim, e->act_dim);
  if (data->n == 0) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: the data has no rows", fn);
  return MBRL_OK;
}

mbrl_status mbrl_dyn_ensemble_evaluate(mbrl_dyn_ensemble *e, const mbrl_dataset *data,
                                       double *member_mse, double *member_nll, double *ens_mse) {
  mbrl_status st = check_data(e, data, "dyn_ensemble_evaluate");
  if (st) return st;
  if (member_nll && !e->cfg.probabilistic)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble_evaluate: a deterministic ensemble has no NLL");
  mbrl_dyn_ensemble_ws *w = e->ws;
  const int M = e->cfg.members, O = e->obs_dim, A = e->act_dim, K = e->cfg.n_elites;
  const size_t mb = (size_t)e->max_batch;
  const mbrl_dataset_stats *s = &e->stats;
  const int want_lv = member_nll != NULL;
  double se[MBRL_DYN_ENSEMBLE_MAX_MEMBERS] = {0}, nll[MBRL_DYN_ENSEMBLE_MAX_MEMBERS] = {0};
  double ens = 0.0;
  for (size_t r0 = 0; r0 < data->n; r0 += mb) {
    const int n = data->n - r0 < mb ? (int)(data->n - r0) : (int)mb;
    const float *o = data->observations + r0 * (size_t)O;
    const float *no = data->next_observations + r0 * (size_t)O;
    normalize_rows(e, o, data->actions + r0 * (size_t)A, NULL, (size_t)n, w->h_in);
    if ((st = eval_chunk(e, 0, M, n, want_lv))) return st;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < O; ++j) {
        const size_t k = (size_t)i * (size_t)O + (size_t)j;
        const float y = mbrl_normalize1(no[k] - o[k], s->delta_state_mean[j], s->delta_state_std[j]);
        float avg = 0.0f;
        for (int m = 0; m < M; ++m) {
          const size_t src = (size_t)m * (size_t)n * (size_t)O + k;
          const double d = (double)w->h_mean[src] - (double)y;
          se[m] += d * d;
          if (want_lv) nll[m] += (double)mbrl_gaussian_nll_term(w->h_mean[src], w->h_lv[src], y, NULL);
        }
        for (int q = 0; q < K; ++q)
          avg += w->h_mean[(size_t)e->elites[q] * (size_t)n * (size_t)O + k];
        const double d = (double)(avg / (float)K) - (double)y;
        ens += d * d;
      }
  }
  const double cnt = (double)data->n * (double)O;
  for (int m = 0; m < M; ++m) {
    if (member_mse) member_mse[m] = se[m] / cnt;
    if (member_nll) member_nll[m] = nll[m] / cnt;
  }
  if (ens_mse) *ens_mse = ens / cnt;
  return MBRL_OK;
}

mbrl_status mbrl_dyn_ensemble_select_elites(mbrl_dyn_ensemble *e, const mbrl_dataset *data) {
  double mse[MBRL_DYN_ENSEMBLE_MAX_MEMBERS], nll[MBRL_DYN_ENSEMBLE_MAX_MEMBERS];
  mbrl_status st = mbrl_dyn_ensemble_evaluate(e, data, mse, e && e->cfg.probabilistic ? nll : NULL,
                                              NULL);
  if (st) return st;
  const int M = e->cfg.members;
  int order[MBRL_DYN_ENSEMBLE_MAX_MEMBERS];
  for (int m = 0; m < M; ++m) order[m] = m;
  /* insertion sort by MSE (NaN last), ties to the lower index: stable */
  for (int i = 1; i < M; ++i) {
    const int v = order[i];
    int j = i - 1;
    while (j >= 0 && (isnan(mse[order[j]]) ? !isnan(mse[v]) : mse[v] < mse[order[j]])) {
      order[j + 1] = order[j];
      --j;
    }
    order[j + 1] = v;
  }
  for (int m = 0; m < M; ++m) {
    e->elites[m] = order[m];
    e->val_mse[m] = mse[m];
    e->val_nll[m] = e->cfg.probabilistic ? nll[m] : NAN;
  }
  e->ranked = 1;
  return MBRL_OK;
}

mbrl_status mbrl_dyn_ensemble_open_loop_rmse(mbrl_dyn_ensemble *e, const mbrl_dataset *data,
                                             int k, double *rmse) {
  mbrl_status st = check_data(e, data, "dyn_ensemble_open_loop_rmse");
  if (st) return st;
  if (!rmse || k < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_open_loop_rmse: rmse NULL or k %d < 1",
                          k);
  const size_t n_starts = mbrl_dynamics_open_loop_starts(data, k);
  if (n_starts == 0)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble_open_loop_rmse: no episode of the data has %d steps", k);
  const int O = e->obs_dim, A = e->act_dim;
  const size_t chunk = (size_t)e->max_batch;
  size_t *starts = (size_t *)malloc(n_starts * sizeof(size_t));
  float *S = (float *)malloc(chunk * (size_t)O * sizeof(float));
  float *Ac = (float *)malloc(chunk * (size_t)A * sizeof(float));
  if (!starts || !S || !Ac) {
    free(starts), free(S), free(Ac);
    return mbrl_set_error(MBRL_ERR_NOMEM, "dyn_ensemble_open_loop_rmse: out of memory");
  }
  size_t cnt = 0, ep = 0;
  for (size_t i = 0; i < data->n; ++i)
    if (i + 1 == data->n || data->terminals[i] || data->timeouts[i]) {
      for (size_t t = ep; t + (size_t)k <= i + 1; ++t) starts[cnt++] = t;
      ep = i + 1;
    }
  double sq[MBRL_MAX_DIM] = {0};
  for (size_t c0 = 0; c0 < n_starts && !st; c0 += chunk) {
    const size_t b = n_starts - c0 < chunk ? n_starts - c0 : chunk;
    for (size_t i = 0; i < b; ++i)
      memcpy(S + i * (size_t)O, data->observations + starts[c0 + i] * (size_t)O,
             (size_t)O * sizeof(float));
    for (int h = 0; h < k && !st; ++h) {
      for (size_t i = 0; i < b; ++i)
        memcpy(Ac + i * (size_t)A, data->actions + (starts[c0 + i] + (size_t)h) * (size_t)A,
               (size_t)A * sizeof(float));
      st = mbrl_dyn_ensemble_predict_next(e, S, Ac, NULL, (int)b, 0, 0, S);
    }
    for (size_t i = 0; i < b && !st; ++i) {
      const float *truth = data->next_observations + (starts[c0 + i] + (size_t)k - 1) * (size_t)O;
      for (int j = 0; j < O; ++j) {
        const double d = (double)S[i * (size_t)O + (size_t)j] - (double)truth[j];
        sq[j] += d * d;
      }
    }
  }
  free(starts), free(S), free(Ac);
  if (st) return st;
  for (int j = 0; j < O; ++j) rmse[j] = sqrt(sq[j] / (double)n_starts);
  return MBRL_OK;
}

/* ---------------------------------------------------------------- export */

void mbrl_dyn_ensemble_export_free(mbrl_dyn_ensemble_export *x) {
  if (!x) return;
  free(x->params);
  free(x);
}

/* Member m folded into `folded` (a BN-free CPU mlp of the member's sizes, made by the caller
 * or here when *folded is NULL). */
static mbrl_status fold_member(const mbrl_dyn_ensemble *e, int m, mbrl_mlp **folded) {
  mbrl_mlp *mm = NULL;
  mbrl_status st = mbrl_mlp_create(&mm, &e->member_cfg, MBRL_BACKEND_CPU, 1);
  if (!st) st = mbrl_dyn_ensemble_get_member(e, m, mm);
  if (!st) st = mbrl_mlp_fold_batchnorm(mm, 1, folded);
  mbrl_mlp_free(mm);
  return st;
}

mbrl_status mbrl_dyn_ensemble_export_folded(const mbrl_dyn_ensemble *e,
                                            mbrl_dyn_ensemble_export **out) {
  if (!e || !out)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_export_folded: NULL argument");
  *out = NULL;
  mbrl_dyn_ensemble_export *x = (mbrl_dyn_ensemble_export *)calloc(1, sizeof *x);
  if (!x) return mbrl_set_error(MBRL_ERR_NOMEM, "dyn_ensemble_export_folded: out of memory");
  snprintf(x->env_id, sizeof x->env_id, "%s", e->env_id);
  x->obs_dim = e->obs_dim;
  x->act_dim = e->act_dim;
  x->members = e->cfg.members;
  x->probabilistic = e->cfg.probabilistic;
  x->n_elites = e->cfg.n_elites;
  memcpy(x->elites, e->elites, sizeof x->elites);
  x->n_layers = e->member_cfg.n_layers;
  memcpy(x->sizes, e->member_cfg.sizes, sizeof x->sizes);
  x->activation = e->member_cfg.activation;
  x->stats = e->stats;
  mbrl_status st = MBRL_OK;
  for (int m = 0; m < e->cfg.members && !st; ++m) {
    mbrl_mlp *f = NULL;
    st = fold_member(e, m, &f);
    if (!st && m == 0) {
      x->member_params = f->n_params;
      memcpy(x->w_off, f->w_off, sizeof x->w_off);
      memcpy(x->b_off, f->b_off, sizeof x->b_off);
      x->params = (float *)malloc((size_t)e->cfg.members * f->n_params * sizeof(float));
      if (!x->params)
        st = mbrl_set_error(MBRL_ERR_NOMEM, "dyn_ensemble_export_folded: out of memory");
    }
    if (!st) st = mbrl_mlp_get_params(f, x->params + (size_t)m * x->member_params);
    mbrl_mlp_free(f);
  }
  if (!st && e->cfg.probabilistic)
    st = mbrl_dyn_ensemble_get_logvar_bounds(e, x->max_logvar, x->min_logvar);
  if (st) {
    mbrl_dyn_ensemble_export_free(x);
    return st;
  }
  *out = x;
  return MBRL_OK;
}

mbrl_status mbrl_dyn_ensemble_export_step(const mbrl_dyn_ensemble_export *x, const float *obs,
                                          const float *act, const int *members, int B,
                                          float *mean, float *logvar) {
  if (!x || !obs || !act || !members || !mean || B < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble_export_step: NULL argument or batch %d < 1", B);
  if (logvar && !x->probabilistic)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dyn_ensemble_export_step: the export is deterministic (logvar NULL)");
  const int O = x->obs_dim, A = x->act_dim, L = x->n_layers;
  int wmax = 0;
  for (int l = 0; l <= L; ++l) wmax = x->sizes[l] > wmax ? x->sizes[l] : wmax;
  float *h0 = (float *)malloc(2 * (size_t)wmax * sizeof(float));
  if (!h0) return mbrl_set_error(MBRL_ERR_NOMEM, "dyn_ensemble_export_step: out of memory");
  float *h1 = h0 + wmax;
  const mbrl_dataset_stats *s = &x->stats;
  for (int i = 0; i < B; ++i) {
    const int m = members[i];
    if (m < 0 || m >= x->members) {
      free(h0);
      return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                            "dyn_ensemble_export_step: members[%d] = %d out of range (0..%d)", i,
                            m, x->members - 1);
    }
    const float *P = x->params + (size_t)m * x->member_params;
    const float *o = obs + (size_t)i * (size_t)O, *a = act + (size_t)i * (size_t)A;
    for (int j = 0; j < O; ++j) h0[j] = mbrl_normalize1(o[j], s->state_mean[j], s->state_std[j]);
    for (int j = 0; j < A; ++j)
      h0[O + j] = mbrl_normalize1(a[j], s->action_mean[j], s->action_std[j]);
    float *cur = h0, *nxt = h1;
    for (int l = 0; l < L; ++l) {
      const int in = x->sizes[l], out = x->sizes[l + 1];
      const float *W = P + x->w_off[l], *b = P + x->b_off[l];
      for (int r = 0; r < out; ++r) {
        float acc = b[r];
        for (int c = 0; c < in; ++c) acc += W[(size_t)r * (size_t)in + (size_t)c] * cur[c];
        nxt[r] = l < L - 1 ? (x->activation == MBRL_ACT_RELU ? (acc > 0.0f ? acc : 0.0f)
                              : x->activation == MBRL_ACT_TANH ? tanhf(acc)
                                                               : acc)
                           : acc;
      }
      float *t = cur;
      cur = nxt;
      nxt = t;
    }
    for (int j = 0; j < O; ++j) {
      mean[(size_t)i * (size_t)O + (size_t)j] = cur[j];
      if (logvar)
        logvar[(size_t)i * (size_t)O + (size_t)j] =
            mbrl_logvar_clamp(cur[O + j], x->max_logvar[j], x->min_logvar[j], NULL);
    }
  }
  free(h0);
  return MBRL_OK;
}

mbrl_status mbrl_dyn_ensemble_plan_model(const mbrl_dyn_ensemble *e, int m,
                                         struct mbrl_plan_model **out) {
  if (!e || !out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_plan_model: NULL argument");
  *out = NULL;
  if (m < 0 || m >= e->cfg.members)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_plan_model: member %d out of range "
                          "(0..%d)", m, e->cfg.members - 1);
  mbrl_mlp *f = NULL, *head = NULL;
  mbrl_status st = fold_member(e, m, &f);
  mbrl_mlp_config c = e->member_cfg;
  c.batchnorm = 0;
  c.sizes[c.n_layers] = e->obs_dim; /* the mean rows only */
  if (!st) st = mbrl_mlp_create(&head, &c, MBRL_BACKEND_CPU, 1);
  float *pf = NULL, *ph = NULL;
  if (!st) {
    pf = (float *)malloc(f->n_params * sizeof(float));
    ph = (float *)malloc(head->n_params * sizeof(float));
    if (!pf || !ph) st = mbrl_set_error(MBRL_ERR_NOMEM, "dyn_ensemble_plan_model: out of memory");
  }
  if (!st) st = mbrl_mlp_get_params(f, pf);
  if (!st) {
    const int L = c.n_layers;
    for (int l = 0; l < L; ++l) {
      /* W rows 0..out-1 and b 0..out-1: the first obs rows of the last layer */
      const size_t rows = (size_t)c.sizes[l + 1], in = (size_t)c.sizes[l];
      memcpy(ph + head->w_off[l], pf + f->w_off[l], rows * in * sizeof(float));
      memcpy(ph + head->b_off[l], pf + f->b_off[l], rows * sizeof(float));
    }
    st = mbrl_mlp_set_params(head, ph);
  }
  if (!st)
    st = mbrl_plan_model_from_mlp(out, e->env_id, e->obs_dim, e->act_dim, head, &e->stats);
  free(pf);
  free(ph);
  mbrl_mlp_free(f);
  mbrl_mlp_free(head);
  return st;
}
