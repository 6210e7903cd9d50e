/* trajectory.c - mbrl/trajectory.h: MPC step records in memory and their sealed HDF5 file. */
#include "mbrl/trajectory.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbrl/env.h"
#include "mbrl/h5util.h"

mbrl_status mbrl_trajectory_init(mbrl_trajectory *t, const char *env_id, int obs_dim,
                                 int act_dim) {
  memset(t, 0, sizeof *t);
  if (!env_id || strlen(env_id) >= sizeof t->env_id || obs_dim < 1 || obs_dim > MBRL_MAX_DIM ||
      act_dim < 1 || act_dim > MBRL_MAX_DIM)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "trajectory_init: env '%s', widths %d, %d",
                          env_id ? env_id : "(null)", obs_dim, act_dim);
  snprintf(t->env_id, sizeof t->env_id, "%s", env_id);
  t->obs_dim = obs_dim;
  t->act_dim = act_dim;
  t->gamma = 1.0;
  return MBRL_OK;
}

void mbrl_trajectory_free(mbrl_trajectory *t) {
  if (!t) return;
  free(t->obs);
  free(t->act);
  free(t->rew);
  free(t->pred_ret);
  free(t->pred_next);
  free(t->next_obs);
  free(t->episode);
  free(t->step);
  free(t->terminal);
  free(t->timeout);
  memset(t, 0, sizeof *t);
}

/* Make room for cap rows (no-op when there is). */
static mbrl_status reserve(mbrl_trajectory *t, size_t cap) {
  if (cap <= t->cap) return MBRL_OK;
  const size_t O = (size_t)t->obs_dim, A = (size_t)t->act_dim;
#define GROW(f, type, w)                                              \
  do {                                                                \
    type *p_ = (type *)realloc(t->f, cap * (size_t)(w) * sizeof(type)); \
    if (!p_)                                                          \
      return mbrl_set_error(MBRL_ERR_NOMEM, "trajectory: out of memory for %zu steps", cap); \
    t->f = p_;                                                        \
  } while (0)
  GROW(obs, float, O);
  GROW(act, float, A);
  GROW(rew, float, 1);
  GROW(pred_ret, float, 1);
  GROW(pred_next, float, O);
  GROW(next_obs, float, O);
  GROW(episode, int64_t, 1);
  GROW(step, int64_t, 1);
  GROW(terminal, uint8_t, 1);
  GROW(timeout, uint8_t, 1);
#undef GROW
  t->cap = cap;
  return MBRL_OK;
}

mbrl_status mbrl_trajectory_push(mbrl_trajectory *t, const float *o, const float *a, float r,
                                 float pred_ret, const float *pn, const float *no,
                                 int64_t episode, int64_t step, int terminal, int timeout) {
  if (t->n == t->cap) {
    mbrl_status st = reserve(t, t->cap ? 2 * t->cap : 1024);
    if (st) return st;
  }
  const size_t i = t->n++, O = (size_t)t->obs_dim, A = (size_t)t->act_dim;
  memcpy(t->obs + i * O, o, O * sizeof(float));
  memcpy(t->act + i * A, a, A * sizeof(float));
  t->rew[i] = r;
  t->pred_ret[i] = pred_ret;
  memcpy(t->pred_next + i * O, pn, O * sizeof(float));
  memcpy(t->next_obs + i * O, no, O * sizeof(float));
  t->episode[i] = episode;
  t->step[i] = step;
  t->terminal[i] = terminal ? 1 : 0;
  t->timeout[i] = timeout && !terminal ? 1 : 0;
  return MBRL_OK;
}

static mbrl_status write_all(const mbrl_trajectory *t, hid_t f) {
  const hsize_t n = t->n, dO[2] = {n, (hsize_t)t->obs_dim}, dA[2] = {n, (hsize_t)t->act_dim};
  mbrl_status st;
  if ((st = mbrl_h5_write_f32(f, "observations", 2, dO, t->obs)) ||
      (st = mbrl_h5_write_f32(f, "actions", 2, dA, t->act)) ||
      (st = mbrl_h5_write_f32(f, "rewards", 1, &n, t->rew)) ||
      (st = mbrl_h5_write_f32(f, "predicted_returns", 1, &n, t->pred_ret)) ||
      (st = mbrl_h5_write_f32(f, "predicted_next_observations", 2, dO, t->pred_next)) ||
      (st = mbrl_h5_write_f32(f, "next_observations", 2, dO, t->next_obs)) ||
      (st = mbrl_h5_write_i64(f, "episode", 1, &n, t->episode)) ||
      (st = mbrl_h5_write_i64(f, "step", 1, &n, t->step)) ||
      (st = mbrl_h5_write_bool(f, "terminals", n, t->terminal)) ||
      (st = mbrl_h5_write_bool(f, "timeouts", n, t->timeout)) ||
      (st = mbrl_h5_attr_write_str(f, "format", MBRL_TRAJECTORY_FORMAT)) ||
      (st = mbrl_h5_attr_write_i64(f, "format_version", MBRL_TRAJECTORY_FORMAT_VERSION)) ||
      (st = mbrl_h5_attr_write_str(f, "env_id", t->env_id)) ||
      (st = mbrl_h5_attr_write_str(f, "model", t->model)) ||
      (st = mbrl_h5_attr_write_i64(f, "samples", t->samples)) ||
      (st = mbrl_h5_attr_write_i64(f, "horizon", t->horizon)) ||
      (st = mbrl_h5_attr_write_f64(f, "gamma", t->gamma)) ||
      (st = mbrl_h5_attr_write_u64(f, "seed", t->seed)))
    return st;
  if (t->cost[0] && (st = mbrl_h5_attr_write_str(f, "cost", t->cost))) return st;
  if (t->planner[0] && (st = mbrl_h5_attr_write_str(f, "planner", t->planner))) return st;
  return MBRL_OK;
}

mbrl_status mbrl_trajectory_save(const mbrl_trajectory *t, const char *path) {
  if (!t || !path) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "trajectory_save: NULL argument");
  mbrl_h5_writer w;
  mbrl_status st = mbrl_h5_writer_open(&w, path);
  if (st) return st;
  return mbrl_h5_writer_finish(&w, write_all(t, w.file));
}

/* ---------------------------------------------------------------- loading */

static int finite_all(const float *x, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!isfinite(x[i])) return 0;
  return 1;
}

static mbrl_status load_open(mbrl_trajectory *t, hid_t f, const char *path) {
  mbrl_status st = mbrl_h5_check_format(f, path, MBRL_TRAJECTORY_FORMAT,
                                        MBRL_TRAJECTORY_FORMAT_VERSION);
  if (st) return st;
  char env_id[64];
  if ((st = mbrl_h5_attr_read_str(f, path, "env_id", env_id, sizeof env_id))) return st;
  const mbrl_env_spec *spec = mbrl_env_find(env_id);
  if (!spec)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': env_id '%s' is not a known environment (known: %s)",
                          path, env_id, mbrl_env_known_ids());
  const int O = spec->obs_dim, A = spec->act_dim;
  if ((st = mbrl_trajectory_init(t, env_id, O, A))) return st;
  if ((st = mbrl_h5_attr_read_str(f, path, "model", t->model, sizeof t->model)) ||
      (st = mbrl_h5_attr_read_i64(f, path, "samples", &t->samples)) ||
      (st = mbrl_h5_attr_read_i64(f, path, "horizon", &t->horizon)) ||
      (st = mbrl_h5_attr_read_u64(f, path, "seed", &t->seed)))
    return st;
  float gamma = 0.0f;
  if ((st = mbrl_h5_attr_read_f32(f, path, "gamma", &gamma))) return st;
  t->gamma = gamma; /* stored as f64; read through float is exact for the planner's float gamma */
  /* optional attributes (absent: ""); one that exists but cannot be read is an error */
  static const char *const opt[2] = {"cost", "planner"};
  char *const attr_dst[2] = {t->cost, t->planner};
  const size_t cap[2] = {sizeof t->cost, sizeof t->planner};
  for (int i = 0; i < 2; ++i) {
    const htri_t has = H5Aexists(f, opt[i]);
    if (has < 0)
      return mbrl_set_error(MBRL_ERR_FORMAT, "'%s' is damaged: cannot look up attribute %s",
                            path, opt[i]);
    if (has && (st = mbrl_h5_attr_read_str(f, path, opt[i], attr_dst[i], cap[i]))) return st;
  }
  if (t->samples < 1 || t->horizon < 1 || !(gamma > 0.0f && gamma <= 1.0f))
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': samples %lld, horizon %lld, gamma %g (expected >= 1, >= 1, (0, 1])",
                          path, (long long)t->samples, (long long)t->horizon, (double)gamma);

  /* shapes: rows free, widths from the env; every dataset has the same rows */
  static const char *const f32[6] = {"observations", "actions", "rewards", "predicted_returns",
                                     "predicted_next_observations", "next_observations"};
  static const int width[6] = {-1, -2, 0, 0, -1, -1}; /* -1: O, -2: A, 0: rank 1 */
  hsize_t rows = 0;
  for (int k = 0; k < 6; ++k) {
    hsize_t d[2] = {0, (hsize_t)(width[k] == -1 ? O : A)};
    if ((st = mbrl_h5_check_f32(f, path, f32[k], width[k] ? 2 : 1, d))) return st;
    if (k == 0) rows = d[0];
    if (d[0] != rows)
      return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /%s has %llu rows but /observations has %llu",
                            path, f32[k], (unsigned long long)d[0], (unsigned long long)rows);
  }
  if (rows == 0) return mbrl_set_error(MBRL_ERR_FORMAT, "'%s' holds no steps", path);
  if (rows > 1000000000ull)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s' claims %llu steps (the file is damaged)", path,
                          (unsigned long long)rows);
  const size_t N = (size_t)rows;
  if ((st = reserve(t, N))) return st;
  float *dst[6] = {t->obs, t->act, t->rew, t->pred_ret, t->pred_next, t->next_obs};
  for (int k = 0; k < 6; ++k)
    if ((st = mbrl_h5_read_f32(f, path, f32[k], dst[k]))) return st;
  hsize_t d1 = rows;
  if ((st = mbrl_h5_read_i64(f, path, "episode", 1, &d1, t->episode)) ||
      (st = mbrl_h5_read_i64(f, path, "step", 1, &d1, t->step)))
    return st;
  int64_t version = 1; /* checked above: 1..MBRL_TRAJECTORY_FORMAT_VERSION */
  if ((st = mbrl_h5_attr_read_i64(f, path, "format_version", &version))) return st;
  const int has_flags = version >= 2; /* version 1 recorded neither flag */
  if (has_flags && ((st = mbrl_h5_read_bool(f, path, "terminals", rows, t->terminal)) ||
                    (st = mbrl_h5_read_bool(f, path, "timeouts", rows, t->timeout))))
    return st;
  t->n = N;

  /* values */
  for (size_t i = 0; i < N; ++i) {
    const int ok = finite_all(t->obs + i * O, (size_t)O) && finite_all(t->act + i * A, (size_t)A) &&
                   isfinite(t->rew[i]) && isfinite(t->pred_ret[i]) &&
                   finite_all(t->pred_next + i * O, (size_t)O) &&
                   finite_all(t->next_obs + i * O, (size_t)O);
    if (!ok)
      return mbrl_set_error(MBRL_ERR_NUMERIC, "'%s': step %zu (row %zu) holds NaN or Inf", path,
                            (size_t)t->step[i], i);
    const int first = i == 0 || t->episode[i] != t->episode[i - 1];
    const int64_t want_ep = i == 0 ? 0 : t->episode[i - 1] + (first ? 1 : 0);
    const int64_t want_step = first ? 0 : t->step[i - 1] + 1;
    if (t->episode[i] != want_ep || t->step[i] != want_step)
      return mbrl_set_error(MBRL_ERR_FORMAT,
                            "'%s': row %zu is episode %lld step %lld; expected episode %lld step "
                            "%lld (episodes and steps count up from 0)",
                            path, i, (long long)t->episode[i], (long long)t->step[i],
                            (long long)want_ep, (long long)want_step);
    if (has_flags && t->terminal[i] && t->timeout[i])
      return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': row %zu is both terminal and timeout", path, i);
    if (!has_flags) t->terminal[i] = t->timeout[i] = 0;
    if (!has_flags && i > 0 && first) t->timeout[i - 1] = 1;
  }
  if (!has_flags) t->timeout[N - 1] = 1;
  return MBRL_OK;
}

static mbrl_status load_fn(const char *path, void *ctx) {
  mbrl_trajectory *t = (mbrl_trajectory *)ctx;
  memset(t, 0, sizeof *t);
  hid_t f;
  mbrl_status st = mbrl_h5_open_read(path, &f);
  if (st) return st;
  st = load_open(t, f, path);
  H5Fclose(f);
  if (st) mbrl_trajectory_free(t);
  return st;
}

mbrl_status mbrl_trajectory_load(mbrl_trajectory *t, const char *path) {
  if (!t || !path) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "trajectory_load: NULL argument");
  memset(t, 0, sizeof *t);
  return mbrl_h5_guarded_read(path, load_fn, t);
}
