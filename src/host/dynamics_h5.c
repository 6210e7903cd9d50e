/* dynamics_h5.c - the mbrl.dynamics checkpoint: atomic save and validating load
 * (layout in mbrl/dynamics.h and DESIGN.md "Dynamics checkpoint"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbrl/dynamics.h"
#include "mbrl/env.h"
#include "mbrl/h5util.h"

#define NET_PREFIX "/model/network"

static const char *const k_norm_names[6] = {
    "normalizer/state_mean",       "normalizer/state_std",      "normalizer/action_mean",
    "normalizer/action_std",       "normalizer/delta_state_mean", "normalizer/delta_state_std"};

/* Pointers to the six normalizer arrays (k_norm_names order) and their widths. */
static void norm_arrays(mbrl_dataset_stats *s, int obs, int act, float **p, int *w) {
  p[0] = s->state_mean, p[1] = s->state_std, p[2] = s->action_mean, p[3] = s->action_std;
  p[4] = s->delta_state_mean, p[5] = s->delta_state_std;
  w[0] = w[1] = w[4] = w[5] = obs;
  w[2] = w[3] = act;
}

/* Hidden widths of the network (sizes[1..L-1]). */
static int hidden_widths(const mbrl_mlp_config *c, int64_t *h) {
  for (int i = 1; i < c->n_layers; ++i) h[i - 1] = c->sizes[i];
  return c->n_layers - 1;
}

static mbrl_status write_i64_array_attr(hid_t loc, const char *name, const int64_t *v, int n) {
  hsize_t dims = (hsize_t)n;
  hid_t space = H5Screate_simple(1, &dims, NULL);
  if (space < 0) return mbrl_set_error(MBRL_ERR_IO, "cannot create attribute %s", name);
  hid_t a = H5Acreate2(loc, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t e = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT64, v);
  if (a >= 0) H5Aclose(a);
  H5Sclose(space);
  return e < 0 ? mbrl_set_error(MBRL_ERR_IO, "cannot write attribute %s", name) : MBRL_OK;
}

static mbrl_status write_all(const mbrl_dynamics *d, hid_t f) {
  mbrl_status st = mbrl_mlp_write_h5(d->mlp, f, NET_PREFIX);
  if (st != MBRL_OK) return st;
  mbrl_dataset_stats s = d->stats;
  float *p[6];
  int w[6];
  norm_arrays(&s, d->obs_dim, d->act_dim, p, w);
  for (int k = 0; k < 6; ++k) {
    hsize_t dim = (hsize_t)w[k];
    if ((st = mbrl_h5_write_f32(f, k_norm_names[k], 1, &dim, p[k])) != MBRL_OK) return st;
  }
  int64_t hidden[MBRL_MLP_MAX_LAYERS];
  const int nh = hidden_widths(&d->mlp->cfg, hidden);
  if ((st = mbrl_h5_attr_write_str(f, "format", MBRL_DYNAMICS_FORMAT)) != MBRL_OK ||
      (st = mbrl_h5_attr_write_i64(f, "format_version", MBRL_DYNAMICS_FORMAT_VERSION)) !=
          MBRL_OK ||
      (st = mbrl_h5_attr_write_str(f, "env_id", d->env_id)) != MBRL_OK ||
      (st = write_i64_array_attr(f, "hidden", hidden, nh)) != MBRL_OK ||
      (st = mbrl_h5_attr_write_str(f, "config", d->config_json)) != MBRL_OK)
    return st;
  return MBRL_OK;
}

mbrl_status mbrl_dynamics_save(const mbrl_dynamics *d, const char *path) {
  if (!d || !path) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dynamics_save: NULL argument");
  mbrl_h5_writer w;
  mbrl_status st = mbrl_h5_writer_open(&w, path);
  if (st != MBRL_OK) return st;
  st = write_all(d, w.file);
  if (st != MBRL_OK) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mbrl_last_error());
    mbrl_h5_writer_abort(&w);
    return mbrl_set_error(st, "writing '%s' failed: %s; nothing was written", path, msg);
  }
  return mbrl_h5_writer_commit(&w);
}

/* Read the root attribute `hidden` (1-D integers) into h; returns the count or -1. */
static int read_hidden_attr(hid_t f, int64_t *h, int cap) {
  if (H5Aexists(f, "hidden") <= 0) return -1;
  hid_t a = H5Aopen(f, "hidden", H5P_DEFAULT);
  if (a < 0) return -1;
  hid_t space = H5Aget_space(a), type = H5Aget_type(a);
  int n = -1;
  if (space >= 0 && type >= 0 && H5Tget_class(type) == H5T_INTEGER &&
      H5Sget_simple_extent_ndims(space) <= 1) {
    hssize_t np = H5Sget_simple_extent_npoints(space);
    if (np >= 0 && np <= cap && H5Aread(a, H5T_NATIVE_INT64, h) >= 0) n = (int)np;
  }
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  H5Aclose(a);
  return n;
}

static mbrl_status load_open(hid_t f, const char *path, mbrl_backend backend, int max_batch,
                             mbrl_dynamics **out) {
  mbrl_status st =
      mbrl_h5_check_format(f, path, MBRL_DYNAMICS_FORMAT, MBRL_DYNAMICS_FORMAT_VERSION);
  if (st != MBRL_OK) return st;
  char env_id[64];
  if ((st = mbrl_h5_attr_read_str(f, path, "env_id", env_id, sizeof env_id)) != MBRL_OK) return st;
  const mbrl_env_spec *spec = mbrl_env_find(env_id);
  if (!spec)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': env_id '%s' is not a known environment (known: %s)", path,
                          env_id, mbrl_env_known_ids());
  const int O = spec->obs_dim, A = spec->act_dim;
  mbrl_mlp_config cfg;
  if ((st = mbrl_mlp_config_from_h5(f, NET_PREFIX, &cfg)) != MBRL_OK) {
    if (!strstr(mbrl_last_error(), path)) {
      char msg[1024];
      snprintf(msg, sizeof msg, "%s", mbrl_last_error());
      return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': %s", path, msg);
    }
    return st;
  }
  const int L = cfg.n_layers;
  if (cfg.sizes[0] != O + A || cfg.sizes[L] != O)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': the network maps %d -> %d values but %s needs %d (obs %d + act "
                          "%d) -> %d",
                          path, cfg.sizes[0], cfg.sizes[L], env_id, O + A, O, A, O);
  if (L < 2)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': the network has no hidden layer", path);
  if (cfg.activation != MBRL_ACT_RELU)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': the network's activation is not relu (dynamics models use relu)",
                          path);
  int64_t hid_net[MBRL_MLP_MAX_LAYERS], hid_attr[MBRL_MLP_MAX_LAYERS];
  const int nh = hidden_widths(&cfg, hid_net);
  const int na = read_hidden_attr(f, hid_attr, MBRL_MLP_MAX_LAYERS);
  if (na < 0)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': missing or malformed root attribute 'hidden' (1-D integers)",
                          path);
  if (na != nh || memcmp(hid_attr, hid_net, (size_t)nh * sizeof(int64_t)) != 0)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': root attribute 'hidden' does not match the network's hidden "
                          "widths (the file is damaged)",
                          path);
  mbrl_dataset_stats stats;
  memset(&stats, 0, sizeof stats);
  float *p[6];
  int w[6];
  norm_arrays(&stats, O, A, p, w);
  for (int k = 0; k < 6; ++k) {
    hsize_t dim = (hsize_t)w[k];
    if ((st = mbrl_h5_check_f32(f, path, k_norm_names[k], 1, &dim)) != MBRL_OK ||
        (st = mbrl_h5_read_f32(f, path, k_norm_names[k], p[k])) != MBRL_OK)
      return st;
    for (int j = 0; j < w[k]; ++j)
      if (!isfinite(p[k][j]) || ((k & 1) && p[k][j] < 0.0f))
        return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /%s[%d] is %g (must be finite%s)", path,
                              k_norm_names[k], j, (double)p[k][j], (k & 1) ? " and >= 0" : "");
  }
  char config[2048];
  if ((st = mbrl_h5_attr_read_str(f, path, "config", config, sizeof config)) != MBRL_OK)
    return st;
  int hidden[MBRL_MLP_MAX_LAYERS];
  for (int i = 0; i < nh; ++i) hidden[i] = (int)hid_net[i];
  mbrl_dynamics *d = NULL;
  if ((st = mbrl_dynamics_create(&d, env_id, O, A, &stats, nh, hidden, cfg.batchnorm, backend,
                                 max_batch, 0)) != MBRL_OK)
    return st;
  if ((st = mbrl_mlp_read_h5(d->mlp, f, NET_PREFIX)) != MBRL_OK) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mbrl_last_error());
    mbrl_dynamics_free(d);
    if (!strstr(msg, path)) return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': %s", path, msg);
    return mbrl_set_error(MBRL_ERR_FORMAT, "%s", msg);
  }
  snprintf(d->config_json, sizeof d->config_json, "%s", config);
  *out = d;
  return MBRL_OK;
}

mbrl_status mbrl_dynamics_load(const char *path, mbrl_backend backend, int max_batch,
                               mbrl_dynamics **out) {
  if (!path || !out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dynamics_load: NULL argument");
  *out = NULL;
  hid_t f;
  mbrl_status st = mbrl_h5_open_read(path, &f);
  if (st != MBRL_OK) return st;
  st = load_open(f, path, backend, max_batch, out);
  H5Fclose(f);
  return st;
}
