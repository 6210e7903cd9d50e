/* dataset.c - transitions in memory, statistics, normalization, sampler, episode split.
 * HDF5 I/O lives in dataset_h5.c. */
#include "mbrl/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbrl/philox.h"

mbrl_status mbrl_dataset_init(mbrl_dataset *ds, const char *env_id, int obs_dim, int act_dim) {
  memset(ds, 0, sizeof *ds);
  if (!env_id || !*env_id || strlen(env_id) >= sizeof ds->env_id)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dataset env id '%s' is empty or too long",
                          env_id ? env_id : "(null)");
  if (obs_dim < 1 || obs_dim > MBRL_MAX_DIM || act_dim < 1 || act_dim > MBRL_MAX_DIM)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "dataset widths obs %d / act %d are out of range [1, %d]", obs_dim,
                          act_dim, MBRL_MAX_DIM);
  snprintf(ds->env_id, sizeof ds->env_id, "%s", env_id);
  ds->obs_dim = obs_dim;
  ds->act_dim = act_dim;
  return MBRL_OK;
}

void mbrl_dataset_free(mbrl_dataset *ds) {
  if (!ds) return;
  free(ds->observations);
  free(ds->actions);
  free(ds->next_observations);
  free(ds->rewards);
  free(ds->terminals);
  free(ds->timeouts);
  memset(ds, 0, sizeof *ds);
}

static int grow(void **p, size_t count, size_t elem) {
  if (count > SIZE_MAX / elem) return 0;
  void *q = realloc(*p, count * elem);
  if (!q) return 0;
  *p = q;
  return 1;
}

mbrl_status mbrl_dataset_reserve(mbrl_dataset *ds, size_t capacity) {
  if (capacity <= ds->capacity) return MBRL_OK;
  size_t O = (size_t)ds->obs_dim, A = (size_t)ds->act_dim;
  if (O < 1 || A < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "mbrl_dataset_reserve: the dataset is not initialised (call "
                          "mbrl_dataset_init first)");
  if (capacity > SIZE_MAX / (MBRL_MAX_DIM * sizeof(float)))
    return mbrl_set_error(MBRL_ERR_NOMEM, "a dataset of %zu rows does not fit in memory",
                          capacity);
  if (!grow((void **)&ds->observations, capacity * O, sizeof(float)) ||
      !grow((void **)&ds->actions, capacity * A, sizeof(float)) ||
      !grow((void **)&ds->next_observations, capacity * O, sizeof(float)) ||
      !grow((void **)&ds->rewards, capacity, sizeof(float)) ||
      !grow((void **)&ds->terminals, capacity, 1) || !grow((void **)&ds->timeouts, capacity, 1))
    return mbrl_set_error(MBRL_ERR_NOMEM, "out of memory growing the dataset to %zu rows",
                          capacity);
  ds->capacity = capacity;
  return MBRL_OK;
}

static int all_finite(const float *x, int n) {
  for (int i = 0; i < n; ++i)
    if (!isfinite(x[i])) return 0;
  return 1;
}

mbrl_status mbrl_dataset_add(mbrl_dataset *ds, const float *obs, const float *act,
                             const float *next_obs, float reward, int terminal, int timeout) {
  if (terminal && timeout)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "transition %zu is both terminal and timeout; a terminal wins, "
                          "pass timeout = 0",
                          ds->n);
  if (!all_finite(obs, ds->obs_dim) || !all_finite(act, ds->act_dim) ||
      !all_finite(next_obs, ds->obs_dim) || !isfinite(reward))
    return mbrl_set_error(MBRL_ERR_NUMERIC, "transition %zu has a NaN or Inf value", ds->n);
  if (ds->n == ds->capacity) {
    mbrl_status st = mbrl_dataset_reserve(ds, ds->capacity ? 2 * ds->capacity : 256);
    if (st != MBRL_OK) return st;
  }
  size_t i = ds->n, O = (size_t)ds->obs_dim, A = (size_t)ds->act_dim;
  memcpy(ds->observations + i * O, obs, O * sizeof(float));
  memcpy(ds->actions + i * A, act, A * sizeof(float));
  memcpy(ds->next_observations + i * O, next_obs, O * sizeof(float));
  ds->rewards[i] = reward;
  ds->terminals[i] = terminal ? 1 : 0;
  ds->timeouts[i] = timeout ? 1 : 0;
  ds->n++;
  return MBRL_OK;
}

mbrl_status mbrl_dataset_extend(mbrl_dataset *dst, const mbrl_dataset *src) {
  if (strcmp(dst->env_id, src->env_id) != 0 || dst->obs_dim != src->obs_dim ||
      dst->act_dim != src->act_dim)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "cannot join a %s dataset (obs %d, act %d) to a %s dataset (obs %d, "
                          "act %d); both must be of the same env",
                          src->env_id, src->obs_dim, src->act_dim, dst->env_id, dst->obs_dim,
                          dst->act_dim);
  mbrl_status st = mbrl_dataset_reserve(dst, dst->n + src->n);
  if (st != MBRL_OK) return st;
  size_t i = dst->n, O = (size_t)dst->obs_dim, A = (size_t)dst->act_dim, n = src->n;
  if (n) {
    memcpy(dst->observations + i * O, src->observations, n * O * sizeof(float));
    memcpy(dst->actions + i * A, src->actions, n * A * sizeof(float));
    memcpy(dst->next_observations + i * O, src->next_observations, n * O * sizeof(float));
    memcpy(dst->rewards + i, src->rewards, n * sizeof(float));
    memcpy(dst->terminals + i, src->terminals, n);
    memcpy(dst->timeouts + i, src->timeouts, n);
  }
  dst->n += n;
  dst->episodes += src->episodes;
  return MBRL_OK;
}

/* ---- statistics ---- */

/* Two-pass population mean/std of column j of x (n, dim) (or of next - x when next != NULL). */
static void column_stats(const float *x, const float *next, size_t n, int dim, int j, float *mean,
                         float *std) {
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) {
    float v = next ? next[i * (size_t)dim + j] - x[i * (size_t)dim + j] : x[i * (size_t)dim + j];
    s += (double)v;
  }
  double m = s / (double)n;
  double ss = 0.0;
  for (size_t i = 0; i < n; ++i) {
    float v = next ? next[i * (size_t)dim + j] - x[i * (size_t)dim + j] : x[i * (size_t)dim + j];
    double d = (double)v - m;
    ss += d * d;
  }
  *mean = (float)m;
  *std = (float)sqrt(ss / (double)n);
}

void mbrl_dataset_stats_identity(mbrl_dataset_stats *out) {
  memset(out, 0, sizeof *out);
  for (int i = 0; i < MBRL_MAX_DIM; ++i)
    out->state_std[i] = out->action_std[i] = out->delta_state_std[i] = 1.0f;
}

mbrl_status mbrl_dataset_stats_compute(const mbrl_dataset *ds, mbrl_dataset_stats *out) {
  if (ds->n == 0)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "the %s dataset has no transitions; statistics need at least one",
                          ds->env_id);
  memset(out, 0, sizeof *out);
  for (int j = 0; j < ds->obs_dim; ++j) {
    column_stats(ds->observations, NULL, ds->n, ds->obs_dim, j, &out->state_mean[j],
                 &out->state_std[j]);
    column_stats(ds->observations, ds->next_observations, ds->n, ds->obs_dim, j,
                 &out->delta_state_mean[j], &out->delta_state_std[j]);
  }
  for (int j = 0; j < ds->act_dim; ++j)
    column_stats(ds->actions, NULL, ds->n, ds->act_dim, j, &out->action_mean[j],
                 &out->action_std[j]);
  return MBRL_OK;
}

mbrl_status mbrl_dataset_compute_stats(mbrl_dataset *ds) {
  return mbrl_dataset_stats_compute(ds, &ds->stats);
}

size_t mbrl_dataset_count_episodes(const mbrl_dataset *ds) {
  size_t e = 0;
  for (size_t i = 0; i < ds->n; ++i)
    if (ds->terminals[i] || ds->timeouts[i] || i + 1 == ds->n) e++;
  return e;
}

void mbrl_dataset_gather(const mbrl_dataset *ds, const size_t *idx, size_t k, float *obs,
                         float *act, float *delta) {
  size_t O = (size_t)ds->obs_dim, A = (size_t)ds->act_dim;
  for (size_t r = 0; r < k; ++r) {
    size_t i = idx[r];
    const float *o = ds->observations + i * O, *no = ds->next_observations + i * O;
    if (obs) memcpy(obs + r * O, o, O * sizeof(float));
    if (act) memcpy(act + r * A, ds->actions + i * A, A * sizeof(float));
    if (delta)
      for (size_t j = 0; j < O; ++j) delta[r * O + j] = no[j] - o[j];
  }
}

/* ---- normalization ---- */

void mbrl_normalize(float *out, const float *x, size_t rows, int dim, const float *mean,
                    const float *std) {
  for (size_t i = 0; i < rows; ++i)
    for (int j = 0; j < dim; ++j) {
      size_t k = i * (size_t)dim + (size_t)j;
      out[k] = mbrl_normalize1(x[k], mean[j], std[j]);
    }
}

void mbrl_unnormalize(float *out, const float *x, size_t rows, int dim, const float *mean,
                      const float *std) {
  for (size_t i = 0; i < rows; ++i)
    for (int j = 0; j < dim; ++j) {
      size_t k = i * (size_t)dim + (size_t)j;
      out[k] = mbrl_unnormalize1(x[k], mean[j], std[j]);
    }
}

/* ---- sampler ---- */

/* Fisher-Yates over a[0..n) with draws from Philox(seed, subsequence, 0). */
static void shuffle(size_t *a, size_t n, uint64_t seed, uint64_t subsequence) {
  mbrl_philox rng;
  mbrl_philox_init(&rng, seed, subsequence, 0);
  for (size_t i = n; i > 1; --i) {
    size_t j = (size_t)mbrl_philox_below(&rng, (uint32_t)i);
    size_t t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
  }
}

mbrl_status mbrl_sampler_init(mbrl_sampler *s, const size_t *pool, size_t n, size_t batch_size,
                              uint64_t seed) {
  memset(s, 0, sizeof *s);
  if (n == 0)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "the sampler has no rows to draw from");
  if (n > UINT32_MAX)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "the sampler supports at most 2^32-1 rows, got %zu",
                          n);
  if (batch_size < 1 || batch_size > n)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "batch size %zu is out of range: it must be between 1 and the %zu "
                          "rows available",
                          batch_size, n);
  s->pool = (size_t *)malloc(n * sizeof(size_t));
  s->perm = (size_t *)malloc(n * sizeof(size_t));
  if (!s->pool || !s->perm) {
    mbrl_sampler_free(s);
    return mbrl_set_error(MBRL_ERR_NOMEM, "out of memory for a sampler over %zu rows", n);
  }
  for (size_t i = 0; i < n; ++i) s->pool[i] = pool ? pool[i] : i;
  s->n = n;
  s->batch = batch_size;
  s->seed = seed;
  mbrl_sampler_begin_epoch(s, 0);
  return MBRL_OK;
}

void mbrl_sampler_begin_epoch(mbrl_sampler *s, uint64_t epoch) {
  memcpy(s->perm, s->pool, s->n * sizeof(size_t));
  shuffle(s->perm, s->n, s->seed, epoch);
  s->epoch = epoch;
  s->pos = 0;
}

int mbrl_sampler_next(mbrl_sampler *s, size_t *idx) {
  if (s->pos + s->batch > s->n) return 0;
  memcpy(idx, s->perm + s->pos, s->batch * sizeof(size_t));
  s->pos += s->batch;
  return 1;
}

size_t mbrl_sampler_batches_per_epoch(const mbrl_sampler *s) { return s->batch ? s->n / s->batch : 0; }

void mbrl_sampler_free(mbrl_sampler *s) {
  free(s->pool);
  free(s->perm);
  memset(s, 0, sizeof *s);
}

/* ---- split by episodes ---- */

mbrl_status mbrl_dataset_split_episodes(const mbrl_dataset *ds, double val_fraction,
                                        uint64_t seed, mbrl_dataset_split *out) {
  memset(out, 0, sizeof *out);
  if (!(val_fraction >= 0.0 && val_fraction < 1.0))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "validation fraction %g is out of range; use a value in [0, 1)",
                          val_fraction);
  if (ds->n == 0)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "the %s dataset has no transitions to split",
                          ds->env_id);
  size_t E = mbrl_dataset_count_episodes(ds);
  size_t *order = (size_t *)malloc(E * sizeof(size_t));
  uint8_t *is_val = (uint8_t *)calloc(E, 1);
  out->train = (size_t *)malloc(ds->n * sizeof(size_t));
  out->val = (size_t *)malloc(ds->n * sizeof(size_t));
  if (!order || !is_val || !out->train || !out->val) {
    free(order);
    free(is_val);
    mbrl_dataset_split_free(out);
    return mbrl_set_error(MBRL_ERR_NOMEM, "out of memory splitting %zu rows", ds->n);
  }
  size_t n_val_ep = 0;
  if (E >= 2 && val_fraction > 0.0) {
    double want = floor(val_fraction * (double)E + 0.5);
    n_val_ep = want < 1.0 ? 1 : (size_t)want;
    if (n_val_ep > E - 1) n_val_ep = E - 1;
  }
  for (size_t e = 0; e < E; ++e) order[e] = e;
  shuffle(order, E, seed, 0);
  for (size_t k = 0; k < n_val_ep; ++k) is_val[order[k]] = 1;
  size_t e = 0;
  for (size_t i = 0; i < ds->n; ++i) {
    if (is_val[e])
      out->val[out->n_val++] = i;
    else
      out->train[out->n_train++] = i;
    if (ds->terminals[i] || ds->timeouts[i]) e++;
  }
  out->val_episodes = n_val_ep;
  out->train_episodes = E - n_val_ep;
  free(order);
  free(is_val);
  return MBRL_OK;
}

void mbrl_dataset_split_free(mbrl_dataset_split *sp) {
  free(sp->train);
  free(sp->val);
  memset(sp, 0, sizeof *sp);
}
