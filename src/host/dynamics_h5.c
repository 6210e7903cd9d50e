/* dynamics_h5.c - the mbrl.dynamics checkpoint: atomic save and validating load
 * (layout in mbrl/dynamics.h and DESIGN.md "Dynamics checkpoint"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbrl/dynamics.h"
#include "mbrl/env.h"
#include "mbrl/h5util.h"
#include "host/dataset_h5.h"

#define NET_PREFIX "/model/network"

/* Hidden widths of the network (sizes[1..L-1]). */
static int hidden_widths(const mbrl_mlp_config *c, int64_t *h) {
  for (int i = 1; i < c->n_layers; ++i) h[i - 1] = c->sizes[i];
  return c->n_layers - 1;
}

static mbrl_status write_all(const mbrl_dynamics *d, hid_t f) {
  mbrl_status st = mbrl_mlp_write_h5(d->mlp, f, NET_PREFIX);
  if (st != MBRL_OK) return st;
  if ((st = mbrl_stats_write_h5(f, "normalizer", &d->stats, d->obs_dim, d->act_dim)) != MBRL_OK)
    return st;
  int64_t hidden[MBRL_MLP_MAX_LAYERS];
  const int nh = hidden_widths(&d->mlp->cfg, hidden);
  if ((st = mbrl_h5_attr_write_str(f, "format", MBRL_DYNAMICS_FORMAT)) != MBRL_OK ||
      (st = mbrl_h5_attr_write_i64(f, "format_version", MBRL_DYNAMICS_FORMAT_VERSION)) !=
          MBRL_OK ||
      (st = mbrl_h5_attr_write_str(f, "env_id", d->env_id)) != MBRL_OK ||
      (st = mbrl_h5_attr_write_i64_array(f, "hidden", hidden, nh)) != MBRL_OK ||
      (st = mbrl_h5_attr_write_str(f, "config", d->config_json)) != MBRL_OK)
    return st;
  return MBRL_OK;
}

mbrl_status mbrl_dynamics_save(const mbrl_dynamics *d, const char *path) {
  if (!d || !path) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dynamics_save: NULL argument");
  mbrl_h5_writer w;
  mbrl_status st = mbrl_h5_writer_open(&w, path);
  if (st != MBRL_OK) return st;
  return mbrl_h5_writer_finish(&w, write_all(d, w.file));
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
  int na = 0;
  if ((st = mbrl_h5_attr_read_i64_array(f, path, "hidden", hid_attr, MBRL_MLP_MAX_LAYERS,
                                        &na)) != MBRL_OK)
    return st;
  if (na != nh || memcmp(hid_attr, hid_net, (size_t)nh * sizeof(int64_t)) != 0)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': root attribute 'hidden' does not match the network's hidden "
                          "widths (the file is damaged)",
                          path);
  mbrl_dataset_stats stats;
  if ((st = mbrl_stats_read_h5(f, path, "normalizer", O, A, &stats)) != MBRL_OK) return st;
  for (int k = 0; k < MBRL_STATS_N; ++k) {
    int w;
    const float *p = mbrl_stats_array(&stats, k, O, A, &w);
    for (int j = 0; j < w; ++j)
      if (!isfinite(p[j]) || ((k & 1) && p[j] < 0.0f))
        return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /normalizer/%s[%d] is %g (must be finite%s)",
                              path, mbrl_stats_name(k), j, (double)p[j],
                              (k & 1) ? " and >= 0" : "");
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

typedef struct load_args {
  mbrl_backend backend;
  int max_batch;
  mbrl_dynamics *d;
} load_args;

/* The whole read (mbrl_h5_read_fn); the guard's checking child builds the model on the CPU. */
static mbrl_status load_fn(const char *path, void *ctx) {
  load_args *a = (load_args *)ctx;
  a->d = NULL;
  hid_t f;
  mbrl_status st = mbrl_h5_open_read(path, &f);
  if (st != MBRL_OK) return st;
  const mbrl_backend b = mbrl_h5_guard_child() ? MBRL_BACKEND_CPU : a->backend;
  st = load_open(f, path, b, a->max_batch, &a->d);
  H5Fclose(f);
  return st;
}

mbrl_status mbrl_dynamics_load(const char *path, mbrl_backend backend, int max_batch,
                               mbrl_dynamics **out) {
  if (!path || !out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dynamics_load: NULL argument");
  *out = NULL;
  load_args a = {backend, max_batch, NULL};
  mbrl_status st = mbrl_h5_guarded_read(path, load_fn, &a);
  if (st == MBRL_OK) *out = a.d;
  return st;
}
