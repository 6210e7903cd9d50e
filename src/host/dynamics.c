/* dynamics.c - the dynamics model: normalizer + mlp, prediction, the trainer (CPU here, the
 * CUDA trainer in src/kernels/dynamics_train.cu through host/dynamics_cuda.h) and the
 * evaluation functions. The checkpoint lives in dynamics_h5.c. */
#include "mbrl/dynamics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/dynamics_cuda.h"
#include "host/mlp_cuda.h"

/* ---------------------------------------------------------------- memory helpers */

static mbrl_status backend_alloc(mbrl_backend be, float **p, size_t n) {
  *p = NULL;
#ifdef MBRL_HAVE_CUDA
  if (be == MBRL_BACKEND_CUDA) return mbrl_mlp_cuda_alloc((void **)p, (n ? n : 1) * sizeof(float));
#endif
  (void)be;
  *p = (float *)calloc(n ? n : 1, sizeof(float));
  if (!*p) return mbrl_set_error(MBRL_ERR_NOMEM, "dynamics: cannot allocate %zu floats", n);
  return MBRL_OK;
}

static void backend_free(mbrl_backend be, float *p) {
#ifdef MBRL_HAVE_CUDA
  if (be == MBRL_BACKEND_CUDA) {
    mbrl_mlp_cuda_free(p);
    return;
  }
#endif
  (void)be;
  free(p);
}

/* ---------------------------------------------------------------- model */

mbrl_status mbrl_dynamics_create(mbrl_dynamics **out, const char *env_id, int obs_dim,
                                 int act_dim, const mbrl_dataset_stats *stats, int n_hidden,
                                 const int *hidden, int batchnorm, mbrl_backend backend,
                                 int max_batch, uint64_t seed) {
  if (!out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dynamics_create: out is NULL");
  *out = NULL;
  if (!env_id || strlen(env_id) >= sizeof(((mbrl_dynamics *)0)->env_id))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dynamics_create: env_id missing or too long");
  if (obs_dim < 1 || obs_dim > MBRL_MAX_DIM || act_dim < 1 || act_dim > MBRL_MAX_DIM)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dynamics_create: obs_dim %d / act_dim %d out of range (1..%d)", obs_dim,
                          act_dim, MBRL_MAX_DIM);
  if (n_hidden < 1 || n_hidden > MBRL_DYNAMICS_MAX_HIDDEN || !hidden)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dynamics_create: %d hidden layers; use 1..%d", n_hidden,
                          MBRL_DYNAMICS_MAX_HIDDEN);
  if (max_batch < 2)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dynamics_create: max_batch %d; use >= 2",
                          max_batch);
  mbrl_mlp_config cfg;
  int sizes[MBRL_MLP_MAX_LAYERS + 1];
  sizes[0] = obs_dim + act_dim;
  for (int i = 0; i < n_hidden; ++i) {
    if (hidden[i] < 1 || hidden[i] > 65536)
      return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                            "dynamics_create: hidden width %d out of range (1..65536)", hidden[i]);
    sizes[i + 1] = hidden[i];
  }
  sizes[n_hidden + 1] = obs_dim;
  mbrl_mlp_config_init(&cfg, n_hidden + 1, sizes);
  cfg.batchnorm = batchnorm ? 1 : 0;
  cfg.activation = MBRL_ACT_RELU;
  cfg.seed = seed;

  mbrl_dynamics *d = (mbrl_dynamics *)calloc(1, sizeof *d);
  if (!d) return mbrl_set_error(MBRL_ERR_NOMEM, "dynamics_create: out of memory");
  snprintf(d->env_id, sizeof d->env_id, "%s", env_id);
  d->obs_dim = obs_dim;
  d->act_dim = act_dim;
  if (stats)
    d->stats = *stats;
  else
    mbrl_dataset_stats_identity(&d->stats);
  snprintf(d->config_json, sizeof d->config_json, "{}");
  mbrl_status st = mbrl_mlp_create(&d->mlp, &cfg, backend, max_batch);
  if (st != MBRL_OK) {
    free(d);
    return st;
  }
  const size_t in = (size_t)(obs_dim + act_dim), mb = (size_t)max_batch;
  d->h_in = (float *)calloc(mb * in, sizeof(float));
  d->h_out = (float *)calloc(mb * (size_t)obs_dim, sizeof(float));
  if (!d->h_in || !d->h_out) {
    mbrl_dynamics_free(d);
    return mbrl_set_error(MBRL_ERR_NOMEM, "dynamics_create: out of memory");
  }
  if (d->mlp->backend == MBRL_BACKEND_CPU) {
    d->b_in = d->h_in;
    d->b_out = d->h_out;
  } else if ((st = backend_alloc(d->mlp->backend, &d->b_in, mb * in)) != MBRL_OK ||
             (st = backend_alloc(d->mlp->backend, &d->b_out, mb * (size_t)obs_dim)) != MBRL_OK) {
    mbrl_dynamics_free(d);
    return st;
  }
  *out = d;
  return MBRL_OK;
}

void mbrl_dynamics_free(mbrl_dynamics *d) {
  if (!d) return;
  if (d->mlp && d->mlp->backend != MBRL_BACKEND_CPU) {
    backend_free(d->mlp->backend, d->b_in);
    backend_free(d->mlp->backend, d->b_out);
  }
  free(d->h_in);
  free(d->h_out);
  mbrl_mlp_free(d->mlp);
  free(d);
}

mbrl_status mbrl_dynamics_set_config(mbrl_dynamics *d, const char *json) {
  if (!d || !json) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dynamics_set_config: NULL argument");
  if (strlen(json) >= sizeof d->config_json)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dynamics_set_config: config is %zu bytes; at most %zu fit",
                          strlen(json), sizeof d->config_json - 1);
  snprintf(d->config_json, sizeof d->config_json, "%s", json);
  return MBRL_OK;
}

/* Normalized input rows: in (B, obs+act) = concat(norm(obs), norm(act)). */
static void normalize_input(const mbrl_dynamics *d, const float *obs, const float *act, size_t B,
                            float *in) {
  const int O = d->obs_dim, A = d->act_dim, W = O + A;
  const mbrl_dataset_stats *s = &d->stats;
  for (size_t r = 0; r < B; ++r) {
    float *row = in + r * (size_t)W;
    const float *o = obs + r * (size_t)O, *a = act + r * (size_t)A;
    for (int j = 0; j < O; ++j) row[j] = mbrl_normalize1(o[j], s->state_mean[j], s->state_std[j]);
    for (int j = 0; j < A; ++j)
      row[O + j] = mbrl_normalize1(a[j], s->action_mean[j], s->action_std[j]);
  }
}

/* One chunk (B <= max_batch) of eval forward on host inputs; result in d->h_out. */
static mbrl_status forward_chunk(mbrl_dynamics *d, const float *obs, const float *act, int B) {
  normalize_input(d, obs, act, (size_t)B, d->h_in);
  const size_t in = (size_t)(d->obs_dim + d->act_dim);
  mbrl_status st;
#ifdef MBRL_HAVE_CUDA
  if (d->mlp->backend == MBRL_BACKEND_CUDA &&
      (st = mbrl_mlp_cuda_copy(d->b_in, d->h_in, (size_t)B * in * sizeof(float), 1)) != MBRL_OK)
    return st;
#endif
  (void)in;
  if ((st = mbrl_mlp_forward(d->mlp, d->b_in, B, d->b_out, 0)) != MBRL_OK) return st;
#ifdef MBRL_HAVE_CUDA
  if (d->mlp->backend == MBRL_BACKEND_CUDA &&
      (st = mbrl_mlp_cuda_copy(d->h_out, d->b_out, (size_t)B * (size_t)d->obs_dim * sizeof(float),
                               0)) != MBRL_OK)
    return st;
#endif
  return MBRL_OK;
}

mbrl_status mbrl_dynamics_predict_delta_normalized(mbrl_dynamics *d, const float *obs,
                                                   const float *act, int B, float *delta_norm) {
  if (!d || !obs || !act || !delta_norm || B < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dynamics_predict: NULL argument or batch %d < 1", B);
  const int O = d->obs_dim, A = d->act_dim, mb = d->mlp->max_batch;
  for (int r0 = 0; r0 < B; r0 += mb) {
    const int b = B - r0 < mb ? B - r0 : mb;
    mbrl_status st = forward_chunk(d, obs + (size_t)r0 * O, act + (size_t)r0 * A, b);
    if (st != MBRL_OK) return st;
    memcpy(delta_norm + (size_t)r0 * O, d->h_out, (size_t)b * O * sizeof(float));
  }
  return MBRL_OK;
}

mbrl_status mbrl_dynamics_predict_next(mbrl_dynamics *d, const float *obs, const float *act,
                                       int B, float *next_obs) {
  if (!d || !obs || !act || !next_obs || B < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dynamics_predict_next: NULL argument or batch %d < 1", B);
  const int O = d->obs_dim, A = d->act_dim, mb = d->mlp->max_batch;
  const mbrl_dataset_stats *s = &d->stats;
  for (int r0 = 0; r0 < B; r0 += mb) {
    const int b = B - r0 < mb ? B - r0 : mb;
    const float *o = obs + (size_t)r0 * O;
    mbrl_status st = forward_chunk(d, o, act + (size_t)r0 * A, b);
    if (st != MBRL_OK) return st;
    float *nx = next_obs + (size_t)r0 * O;
    for (size_t i = 0; i < (size_t)b; ++i)
      for (int j = 0; j < O; ++j) {
        const size_t k = i * (size_t)O + (size_t)j;
        nx[k] = o[k] + mbrl_unnormalize1(d->h_out[k], s->delta_state_mean[j],
                                         s->delta_state_std[j]);
      }
  }
  return MBRL_OK;
}

static mbrl_status check_data(const mbrl_dynamics *d, const mbrl_dataset *data, const char *fn) {
  if (!d || !data) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: NULL argument", fn);
  if (data->obs_dim != d->obs_dim || data->act_dim != d->act_dim)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "%s: the data has obs_dim %d, act_dim %d but the model %d, %d", fn,
                          data->obs_dim, data->act_dim, d->obs_dim, d->act_dim);
  if (data->n == 0) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: the data has no rows", fn);
  return MBRL_OK;
}

mbrl_status mbrl_dynamics_normalize_data(const mbrl_dynamics *d, const mbrl_dataset *data,
                                         float *x, float *y) {
  mbrl_status st = check_data(d, data, "dynamics_normalize_data");
  if (st != MBRL_OK) return st;
  if (!x || !y) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dynamics_normalize_data: NULL output");
  const int O = d->obs_dim;
  const mbrl_dataset_stats *s = &d->stats;
  normalize_input(d, data->observations, data->actions, data->n, x);
  for (size_t r = 0; r < data->n; ++r)
    for (int j = 0; j < O; ++j) {
      const size_t k = r * (size_t)O + (size_t)j;
      const float delta = data->next_observations[k] - data->observations[k];
      y[k] = mbrl_normalize1(delta, s->delta_state_mean[j], s->delta_state_std[j]);
    }
  return MBRL_OK;
}

/* ---------------------------------------------------------------- trainer */

struct mbrl_dynamics_trainer {
  mbrl_dynamics *d;
  int batch;
  long long steps;
  /* CPU path */
  float *x, *y;       /* (n, in), (n, obs) the normalized training set */
  size_t n;
  mbrl_sampler sampler;
  size_t *idx;        /* (batch) */
  float *xb, *yb;     /* (batch, in), (batch, obs) gathered minibatch */
  mbrl_optim *opt;
#ifdef MBRL_HAVE_CUDA
  mbrl_dynamics_trainer_cuda *cuda; /* non-NULL: the CUDA trainer does everything */
#endif
};

mbrl_status mbrl_dynamics_trainer_create(mbrl_dynamics_trainer **out, mbrl_dynamics *d,
                                         const mbrl_dataset *train_data,
                                         const mbrl_optim_config *opt, int batch, uint64_t seed) {
  if (!out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dynamics_trainer_create: out is NULL");
  *out = NULL;
  mbrl_status st = check_data(d, train_data, "dynamics_trainer_create");
  if (st != MBRL_OK) return st;
  if (!opt) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dynamics_trainer_create: opt is NULL");
  if (batch < 2 || (size_t)batch > train_data->n)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "batch size %d does not fit the training set of %zu rows; use a batch "
                          "in [2, %zu] (BatchNorm needs 2 rows) or more data",
                          batch, train_data->n, train_data->n);
  if (batch > d->mlp->max_batch)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "batch size %d exceeds the model's max_batch %d (create the model with "
                          "max_batch >= batch)",
                          batch, d->mlp->max_batch);
  mbrl_dynamics_trainer *t = (mbrl_dynamics_trainer *)calloc(1, sizeof *t);
  if (!t) return mbrl_set_error(MBRL_ERR_NOMEM, "dynamics_trainer_create: out of memory");
  t->d = d;
  t->batch = batch;
#ifdef MBRL_HAVE_CUDA
  if (d->mlp->backend == MBRL_BACKEND_CUDA) {
    st = mbrl_dynamics_trainer_cuda_create(&t->cuda, d, train_data, opt, batch, seed);
    if (st != MBRL_OK) {
      free(t);
      return st;
    }
    *out = t;
    return MBRL_OK;
  }
#endif
  const size_t n = train_data->n, in = (size_t)(d->obs_dim + d->act_dim), O = (size_t)d->obs_dim;
  t->n = n;
  t->x = (float *)malloc(n * in * sizeof(float));
  t->y = (float *)malloc(n * O * sizeof(float));
  t->idx = (size_t *)malloc((size_t)batch * sizeof(size_t));
  t->xb = (float *)malloc((size_t)batch * in * sizeof(float));
  t->yb = (float *)malloc((size_t)batch * O * sizeof(float));
  if (!t->x || !t->y || !t->idx || !t->xb || !t->yb) {
    mbrl_dynamics_trainer_free(t);
    return mbrl_set_error(MBRL_ERR_NOMEM,
                          "dynamics_trainer_create: cannot allocate the training set (%zu rows)", n);
  }
  if ((st = mbrl_dynamics_normalize_data(d, train_data, t->x, t->y)) != MBRL_OK ||
      (st = mbrl_sampler_init(&t->sampler, NULL, n, (size_t)batch, seed)) != MBRL_OK ||
      (st = mbrl_optim_create(&t->opt, opt, d->mlp)) != MBRL_OK) {
    mbrl_dynamics_trainer_free(t);
    return st;
  }
  *out = t;
  return MBRL_OK;
}

/* MBRL_FAULT_NAN_LOSS_STEP=N (tests only): the CPU trainer reports step N's loss as NaN, so
 * that what follows a loss turning non-finite can be tested at a chosen step. */
static long long nan_fault_step(void) {
  const char *s = getenv("MBRL_FAULT_NAN_LOSS_STEP");
  return s && *s ? atoll(s) : -1;
}

mbrl_status mbrl_dynamics_trainer_run(mbrl_dynamics_trainer *t, int n, float *losses) {
  if (!t || n < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dynamics_trainer_run: NULL trainer or n %d < 1", n);
#ifdef MBRL_HAVE_CUDA
  if (t->cuda) {
    mbrl_status st = mbrl_dynamics_trainer_cuda_run(t->cuda, n, losses);
    t->steps = mbrl_dynamics_trainer_cuda_steps(t->cuda);
    return st;
  }
#endif
  const size_t in = (size_t)(t->d->obs_dim + t->d->act_dim), O = (size_t)t->d->obs_dim;
  const size_t B = (size_t)t->batch;
  for (int s = 0; s < n; ++s) {
    if (!mbrl_sampler_next(&t->sampler, t->idx)) {
      mbrl_sampler_begin_epoch(&t->sampler, t->sampler.epoch + 1);
      mbrl_sampler_next(&t->sampler, t->idx); /* batch <= n: an epoch has >= 1 batch */
    }
    for (size_t r = 0; r < B; ++r) {
      memcpy(t->xb + r * in, t->x + t->idx[r] * in, in * sizeof(float));
      memcpy(t->yb + r * O, t->y + t->idx[r] * O, O * sizeof(float));
    }
    float loss = 0.0f;
    mbrl_status st = mbrl_mlp_train_step_mse(t->d->mlp, t->opt, t->xb, t->yb, t->batch, &loss);
    if (st != MBRL_OK) return st;
    t->steps++;
    if (t->steps == nan_fault_step()) loss = NAN; /* fault injection for tests */
    if (losses) losses[s] = loss;
    if (!isfinite(loss))
      return mbrl_set_error(MBRL_ERR_NUMERIC,
                            "the training loss became %s at step %lld (epoch %llu); the weights "
                            "are no longer usable: lower the learning rate",
                            isnan(loss) ? "NaN" : "Inf", t->steps,
                            (unsigned long long)t->sampler.epoch);
  }
  return MBRL_OK;
}

long long mbrl_dynamics_trainer_steps(const mbrl_dynamics_trainer *t) { return t ? t->steps : 0; }

void mbrl_dynamics_trainer_free(mbrl_dynamics_trainer *t) {
  if (!t) return;
#ifdef MBRL_HAVE_CUDA
  mbrl_dynamics_trainer_cuda_free(t->cuda);
#endif
  free(t->x);
  free(t->y);
  free(t->idx);
  free(t->xb);
  free(t->yb);
  if (t->sampler.pool) mbrl_sampler_free(&t->sampler);
  mbrl_optim_free(t->opt);
  free(t);
}

/* ---------------------------------------------------------------- evaluation */

mbrl_status mbrl_dynamics_eval_mse(mbrl_dynamics *d, const mbrl_dataset *data, double *mse) {
  mbrl_status st = check_data(d, data, "dynamics_eval_mse");
  if (st != MBRL_OK) return st;
  if (!mse) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dynamics_eval_mse: mse is NULL");
  const int O = d->obs_dim, A = d->act_dim, mb = d->mlp->max_batch;
  const mbrl_dataset_stats *s = &d->stats;
  double sum = 0.0;
  for (size_t r0 = 0; r0 < data->n; r0 += (size_t)mb) {
    const int b = data->n - r0 < (size_t)mb ? (int)(data->n - r0) : mb;
    const float *o = data->observations + r0 * (size_t)O;
    const float *no = data->next_observations + r0 * (size_t)O;
    if ((st = forward_chunk(d, o, data->actions + r0 * (size_t)A, b)) != MBRL_OK) return st;
    for (size_t i = 0; i < (size_t)b; ++i)
      for (int j = 0; j < O; ++j) {
        const size_t k = i * (size_t)O + (size_t)j;
        const float target =
            mbrl_normalize1(no[k] - o[k], s->delta_state_mean[j], s->delta_state_std[j]);
        const double e = (double)d->h_out[k] - (double)target;
        sum += e * e;
      }
  }
  *mse = sum / ((double)data->n * (double)O);
  return MBRL_OK;
}

/* Does row i end an episode of data (terminal, timeout or the last row)? */
static int is_end(const mbrl_dataset *data, size_t i) {
  return i + 1 == data->n || data->terminals[i] || data->timeouts[i];
}

size_t mbrl_dynamics_open_loop_starts(const mbrl_dataset *data, int k) {
  if (!data || k < 1) return 0;
  size_t count = 0, start = 0;
  for (size_t i = 0; i < data->n; ++i)
    if (is_end(data, i)) {
      const size_t len = i + 1 - start;
      if (len >= (size_t)k) count += len - (size_t)k + 1;
      start = i + 1;
    }
  return count;
}

mbrl_status mbrl_dynamics_open_loop_rmse(mbrl_dynamics *d, const mbrl_dataset *data, int k,
                                         double *rmse) {
  mbrl_status st = check_data(d, data, "dynamics_open_loop_rmse");
  if (st != MBRL_OK) return st;
  if (!rmse || k < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dynamics_open_loop_rmse: rmse NULL or k %d < 1", k);
  const size_t n_starts = mbrl_dynamics_open_loop_starts(data, k);
  if (n_starts == 0)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dynamics_open_loop_rmse: no episode of the data has %d steps", k);
  const int O = d->obs_dim, A = d->act_dim;
  const size_t chunk = (size_t)d->mlp->max_batch;
  size_t *starts = (size_t *)malloc(n_starts * sizeof(size_t));
  float *S = (float *)malloc(chunk * (size_t)O * sizeof(float));
  float *Ac = (float *)malloc(chunk * (size_t)A * sizeof(float));
  if (!starts || !S || !Ac) {
    free(starts), free(S), free(Ac);
    return mbrl_set_error(MBRL_ERR_NOMEM, "dynamics_open_loop_rmse: out of memory");
  }
  size_t m = 0, ep = 0;
  for (size_t i = 0; i < data->n; ++i)
    if (is_end(data, i)) {
      for (size_t t = ep; t + (size_t)k <= i + 1; ++t) starts[m++] = t;
      ep = i + 1;
    }
  double sq[MBRL_MAX_DIM] = {0};
  for (size_t c0 = 0; c0 < n_starts && st == MBRL_OK; c0 += chunk) {
    const size_t b = n_starts - c0 < chunk ? n_starts - c0 : chunk;
    for (size_t i = 0; i < b; ++i)
      memcpy(S + i * (size_t)O, data->observations + starts[c0 + i] * (size_t)O,
             (size_t)O * sizeof(float));
    for (int h = 0; h < k && st == MBRL_OK; ++h) {
      for (size_t i = 0; i < b; ++i)
        memcpy(Ac + i * (size_t)A, data->actions + (starts[c0 + i] + (size_t)h) * (size_t)A,
               (size_t)A * sizeof(float));
      st = mbrl_dynamics_predict_next(d, S, Ac, (int)b, S);
    }
    for (size_t i = 0; i < b && st == MBRL_OK; ++i) {
      const float *truth = data->next_observations + (starts[c0 + i] + (size_t)k - 1) * (size_t)O;
      for (int j = 0; j < O; ++j) {
        const double e = (double)S[i * (size_t)O + (size_t)j] - (double)truth[j];
        sq[j] += e * e;
      }
    }
  }
  free(starts), free(S), free(Ac);
  if (st != MBRL_OK) return st;
  for (int j = 0; j < O; ++j) rmse[j] = sqrt(sq[j] / (double)n_starts);
  return MBRL_OK;
}
