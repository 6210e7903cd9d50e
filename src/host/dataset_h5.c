/* dataset_h5.c - mbrl.dataset HDF5 files: save (atomic), validating load, append. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbrl/dataset.h"
#include "mbrl/env.h"
#include "mbrl/h5util.h"
#include "host/dataset_h5.h"

#ifndef MBRL_VERSION
#define MBRL_VERSION "unknown"
#endif

static const char *const k_stat_names[MBRL_STATS_N] = {
    "state_mean", "state_std", "action_mean", "action_std", "delta_state_mean", "delta_state_std"};

const char *mbrl_stats_name(int k) { return k >= 0 && k < MBRL_STATS_N ? k_stat_names[k] : "?"; }

float *mbrl_stats_array(mbrl_dataset_stats *s, int k, int obs_dim, int act_dim, int *width) {
  float *const p[MBRL_STATS_N] = {s->state_mean,  s->state_std,        s->action_mean,
                                  s->action_std,  s->delta_state_mean, s->delta_state_std};
  *width = k == 2 || k == 3 ? act_dim : obs_dim;
  return p[k];
}

/* "GROUP/NAME" of array k. */
static void stats_path(char *buf, size_t cap, const char *group, int k) {
  snprintf(buf, cap, "%s/%s", group, k_stat_names[k]);
}

mbrl_status mbrl_stats_write_h5(hid_t loc, const char *group, const mbrl_dataset_stats *s,
                                int obs_dim, int act_dim) {
  mbrl_dataset_stats c = *s;
  char name[MBRL_H5_NAME_MAX];
  for (int k = 0; k < MBRL_STATS_N; ++k) {
    int w;
    float *p = mbrl_stats_array(&c, k, obs_dim, act_dim, &w);
    hsize_t d = (hsize_t)w;
    stats_path(name, sizeof name, group, k);
    mbrl_status st = mbrl_h5_write_f32(loc, name, 1, &d, p);
    if (st != MBRL_OK) return st;
  }
  return MBRL_OK;
}

mbrl_status mbrl_stats_read_h5(hid_t loc, const char *file, const char *group, int obs_dim,
                               int act_dim, mbrl_dataset_stats *out) {
  memset(out, 0, sizeof *out);
  char name[MBRL_H5_NAME_MAX];
  for (int k = 0; k < MBRL_STATS_N; ++k) {
    int w;
    float *p = mbrl_stats_array(out, k, obs_dim, act_dim, &w);
    hsize_t d = (hsize_t)w;
    stats_path(name, sizeof name, group, k);
    mbrl_status st = mbrl_h5_check_f32(loc, file, name, 1, &d);
    if (st == MBRL_OK) st = mbrl_h5_read_f32(loc, file, name, p);
    if (st != MBRL_OK) return st;
  }
  return MBRL_OK;
}

static mbrl_status write_all(hid_t f, const mbrl_dataset *ds, const mbrl_dataset_stats *stats,
                             const char *created_by) {
  hsize_t N = ds->n, O = (hsize_t)ds->obs_dim, A = (hsize_t)ds->act_dim;
  hsize_t d2[2];
  mbrl_status st;
  d2[0] = N, d2[1] = O;
  if ((st = mbrl_h5_write_f32(f, "observations", 2, d2, ds->observations)) != MBRL_OK) return st;
  d2[1] = A;
  if ((st = mbrl_h5_write_f32(f, "actions", 2, d2, ds->actions)) != MBRL_OK) return st;
  d2[1] = O;
  if ((st = mbrl_h5_write_f32(f, "next_observations", 2, d2, ds->next_observations)) != MBRL_OK)
    return st;
  if ((st = mbrl_h5_write_f32(f, "rewards", 1, &N, ds->rewards)) != MBRL_OK) return st;
  if ((st = mbrl_h5_write_bool(f, "terminals", N, ds->terminals)) != MBRL_OK) return st;
  if ((st = mbrl_h5_write_bool(f, "timeouts", N, ds->timeouts)) != MBRL_OK) return st;
  if ((st = mbrl_stats_write_h5(f, "stats", stats, ds->obs_dim, ds->act_dim)) != MBRL_OK)
    return st;
  if ((st = mbrl_h5_attr_write_str(f, "format", MBRL_DATASET_FORMAT)) != MBRL_OK) return st;
  if ((st = mbrl_h5_attr_write_i64(f, "format_version", MBRL_DATASET_FORMAT_VERSION)) != MBRL_OK)
    return st;
  if ((st = mbrl_h5_attr_write_str(f, "env_id", ds->env_id)) != MBRL_OK) return st;
  if ((st = mbrl_h5_attr_write_u64(f, "seed", ds->seed)) != MBRL_OK) return st;
  if ((st = mbrl_h5_attr_write_i64(f, "episodes", ds->episodes)) != MBRL_OK) return st;
  return mbrl_h5_attr_write_str(f, "created_by", created_by ? created_by : "mbrl " MBRL_VERSION);
}

mbrl_status mbrl_dataset_save(const mbrl_dataset *ds, const char *path, const char *created_by) {
  mbrl_dataset_stats stats;
  mbrl_status st = mbrl_dataset_stats_compute(ds, &stats);
  if (st != MBRL_OK) return st;
  mbrl_h5_writer w;
  if ((st = mbrl_h5_writer_open(&w, path)) != MBRL_OK) return st;
  return mbrl_h5_writer_finish(&w, write_all(w.file, ds, &stats, created_by));
}

/* Is every one of the w floats at x finite? */
static int all_finite(const float *x, int w) {
  for (int j = 0; j < w; ++j)
    if (!isfinite(x[j])) return 0;
  return 1;
}

/* Refuse rows holding NaN or Inf, naming the first such row (rows in file order), the array it
 * is in, and how many rows are bad. */
static mbrl_status check_rows_finite(const char *path, const mbrl_dataset *ds) {
  const int O = ds->obs_dim, A = ds->act_dim;
  size_t bad = 0, first = 0;
  const char *where = NULL;
  for (size_t i = 0; i < ds->n; ++i) {
    const char *w = !all_finite(ds->observations + i * (size_t)O, O)        ? "observations"
                    : !all_finite(ds->actions + i * (size_t)A, A)           ? "actions"
                    : !all_finite(ds->next_observations + i * (size_t)O, O) ? "next_observations"
                    : !isfinite(ds->rewards[i])                             ? "rewards"
                                                                            : NULL;
    if (!w) continue;
    if (!bad) first = i, where = w;
    ++bad;
  }
  if (!bad) return MBRL_OK;
  return mbrl_set_error(MBRL_ERR_NUMERIC,
                        "'%s': %zu of %zu rows hold NaN or Inf; the first is row %zu (in /%s). "
                        "Drop them (mbrl_train --drop-nonfinite) or fix the data",
                        path, bad, ds->n, first, where);
}

static mbrl_status load_open(mbrl_dataset *ds, hid_t f, const char *path, int check_values) {
  mbrl_status st = mbrl_h5_check_format(f, path, MBRL_DATASET_FORMAT, MBRL_DATASET_FORMAT_VERSION);
  if (st != MBRL_OK) return st;
  char env_id[64];
  if ((st = mbrl_h5_attr_read_str(f, path, "env_id", env_id, sizeof env_id)) != MBRL_OK) return st;
  const mbrl_env_spec *spec = mbrl_env_find(env_id);
  if (!spec)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': env_id '%s' is not a known environment (known: %s)",
                          path, env_id, mbrl_env_known_ids());
  int O = spec->obs_dim, A = spec->act_dim;

  /* Shapes first (rows free, widths from the env's spec), then the row counts agree. */
  static const char *const names[6] = {"observations", "actions", "next_observations",
                                       "rewards",      "terminals", "timeouts"};
  hsize_t rows[6];
  for (int k = 0; k < 6; ++k) {
    hsize_t d[2] = {0, (hsize_t)(k == 1 ? A : O)};
    if (k < 3)
      st = mbrl_h5_check_f32(f, path, names[k], 2, d);
    else if (k == 3)
      st = mbrl_h5_check_f32(f, path, names[k], 1, d);
    else
      st = mbrl_h5_check_bool(f, path, names[k], d);
    if (st != MBRL_OK) {
      if (k < 3 && strstr(mbrl_last_error(), "has shape")) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", mbrl_last_error());
        return mbrl_set_error(MBRL_ERR_FORMAT, "%s (%s has obs_dim %d, act_dim %d)", msg, env_id,
                              O, A);
      }
      return st;
    }
    rows[k] = d[0];
  }
  for (int k = 1; k < 6; ++k)
    if (rows[k] != rows[0])
      return mbrl_set_error(MBRL_ERR_FORMAT,
                            "'%s': /%s has %llu rows but /observations has %llu; every dataset "
                            "must have the same number of rows (the file is damaged)",
                            path, names[k], (unsigned long long)rows[k],
                            (unsigned long long)rows[0]);
  if (rows[0] == 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s' holds no transitions", path);
  if (rows[0] > SIZE_MAX / (MBRL_MAX_DIM * sizeof(float)))
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' claims %llu rows, more than memory can address (the file is "
                          "damaged)",
                          path, (unsigned long long)rows[0]);
  mbrl_dataset_stats stats;
  if ((st = mbrl_stats_read_h5(f, path, "stats", O, A, &stats)) != MBRL_OK) return st;
  int64_t episodes = 0;
  uint64_t seed = 0;
  if ((st = mbrl_h5_attr_read_u64(f, path, "seed", &seed)) != MBRL_OK) return st;
  if ((st = mbrl_h5_attr_read_i64(f, path, "episodes", &episodes)) != MBRL_OK) return st;
  if (episodes < 0 || episodes > 2147483647)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': attribute 'episodes' is %lld; expected 0..2147483647", path,
                          (long long)episodes);

  /* Read. */
  if ((st = mbrl_dataset_init(ds, env_id, O, A)) != MBRL_OK) return st;
  ds->seed = seed;
  ds->episodes = (int)episodes;
  size_t N = (size_t)rows[0];
  if ((st = mbrl_dataset_reserve(ds, N)) != MBRL_OK) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", mbrl_last_error()); /* not an argument of its own rewrite */
    return mbrl_set_error(st, "'%s' holds %zu rows: %s", path, N, msg);
  }
  if ((st = mbrl_h5_read_f32(f, path, "observations", ds->observations)) != MBRL_OK ||
      (st = mbrl_h5_read_f32(f, path, "actions", ds->actions)) != MBRL_OK ||
      (st = mbrl_h5_read_f32(f, path, "next_observations", ds->next_observations)) != MBRL_OK ||
      (st = mbrl_h5_read_f32(f, path, "rewards", ds->rewards)) != MBRL_OK ||
      (st = mbrl_h5_read_bool(f, path, "terminals", N, ds->terminals)) != MBRL_OK ||
      (st = mbrl_h5_read_bool(f, path, "timeouts", N, ds->timeouts)) != MBRL_OK)
    return st;
  ds->n = N;
  ds->stats = stats;
  if (!check_values) return MBRL_OK;
  if ((st = check_rows_finite(path, ds)) != MBRL_OK) return st;
  for (int k = 0; k < MBRL_STATS_N; ++k) {
    int w;
    const float *p = mbrl_stats_array(&ds->stats, k, O, A, &w);
    for (int j = 0; j < w; ++j)
      if (!isfinite(p[j]))
        return mbrl_set_error(MBRL_ERR_NUMERIC, "'%s': /stats/%s[%d] is %g (must be finite)", path,
                              k_stat_names[k], j, (double)p[j]);
  }
  return MBRL_OK;
}

typedef struct load_args {
  mbrl_dataset *ds;
  int check_values;
} load_args;

/* The whole read (mbrl_h5_read_fn): a sealed file is checked before HDF5 opens it. */
static mbrl_status load_fn(const char *path, void *ctx) {
  load_args *a = (load_args *)ctx;
  memset(a->ds, 0, sizeof *a->ds);
  hid_t f;
  mbrl_status st = mbrl_h5_open_read(path, &f);
  if (st != MBRL_OK) return st;
  st = load_open(a->ds, f, path, a->check_values);
  H5Fclose(f);
  if (st != MBRL_OK) mbrl_dataset_free(a->ds);
  return st;
}

static mbrl_status load(mbrl_dataset *ds, const char *path, int check_values) {
  memset(ds, 0, sizeof *ds);
  load_args a = {ds, check_values};
  return mbrl_h5_guarded_read(path, load_fn, &a);
}

mbrl_status mbrl_dataset_load(mbrl_dataset *ds, const char *path) { return load(ds, path, 1); }

mbrl_status mbrl_dataset_load_keep_nonfinite(mbrl_dataset *ds, const char *path) {
  return load(ds, path, 0);
}

mbrl_status mbrl_dataset_append_file(const char *path, const mbrl_dataset *more,
                                     const char *created_by) {
  mbrl_dataset ds;
  mbrl_status st = mbrl_dataset_load(&ds, path);
  if (st != MBRL_OK) return st;
  if (strcmp(ds.env_id, more->env_id) != 0) {
    st = mbrl_set_error(MBRL_ERR_INVALID_ARG,
                        "cannot append %s episodes to '%s': it holds %s data (use the same env, "
                        "or another file)",
                        more->env_id, path, ds.env_id);
  } else if ((st = mbrl_dataset_extend(&ds, more)) == MBRL_OK &&
             (st = mbrl_dataset_compute_stats(&ds)) == MBRL_OK) {
    st = mbrl_dataset_save(&ds, path, created_by);
  }
  mbrl_dataset_free(&ds);
  return st;
}
