/* dyn_ensemble_h5.c - the mbrl.dyn_ensemble checkpoint: atomic save and validating load
 * (layout in mbrl/dyn_ensemble.h). Every object goes through the shared writers and readers of
 * mbrl/h5util.h (members through mbrl_mlp_write_h5 / mbrl_mlp_read_h5, the normalizer through
 * host/dataset_h5.h), so the file is sealed and digested like the other formats; it is read
 * only when sealed (format_version 2 is its first version). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/dataset_h5.h"
#include "host/dyn_ensemble_internal.h"
#include "mbrl/dyn_ensemble.h"
#include "mbrl/env.h"
#include "mbrl/h5util.h"

#define MEMBER_PREFIX "/model/members/%d/network"

static mbrl_status write_all(const mbrl_dyn_ensemble *e, hid_t f) {
  const int M = e->cfg.members, O = e->obs_dim;
  mbrl_mlp *tmp = NULL;
  mbrl_status st = mbrl_mlp_create(&tmp, &e->member_cfg, MBRL_BACKEND_CPU, 1);
  for (int m = 0; m < M && !st; ++m) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, MEMBER_PREFIX, m);
    st = mbrl_dyn_ensemble_get_member(e, m, tmp);
    if (!st) st = mbrl_mlp_write_h5(tmp, f, prefix);
  }
  mbrl_mlp_free(tmp);
  if (st) return st;
  if (e->cfg.probabilistic) {
    float mx[MBRL_MAX_DIM], mn[MBRL_MAX_DIM];
    const hsize_t dims[2] = {1, (hsize_t)O};
    if ((st = mbrl_dyn_ensemble_get_logvar_bounds(e, mx, mn)) ||
        (st = mbrl_h5_write_f32(f, "/model/max_logvar", 2, dims, mx)) ||
        (st = mbrl_h5_write_f32(f, "/model/min_logvar", 2, dims, mn)))
      return st;
  }
  if ((st = mbrl_stats_write_h5(f, "normalizer", &e->stats, O, e->act_dim))) return st;
  if (!isnan(e->val_mse[0])) {
    float v[MBRL_DYN_ENSEMBLE_MAX_MEMBERS];
    const hsize_t dims[1] = {(hsize_t)M};
    for (int m = 0; m < M; ++m) v[m] = (float)e->val_mse[m];
    if ((st = mbrl_h5_write_f32(f, "/validation/mse", 1, dims, v))) return st;
    if (e->cfg.probabilistic && !isnan(e->val_nll[0])) {
      for (int m = 0; m < M; ++m) v[m] = (float)e->val_nll[m];
      if ((st = mbrl_h5_write_f32(f, "/validation/nll", 1, dims, v))) return st;
    }
  }
  int64_t hidden[MBRL_MLP_MAX_LAYERS], elites[MBRL_DYN_ENSEMBLE_MAX_MEMBERS];
  for (int i = 0; i < e->cfg.n_hidden; ++i) hidden[i] = e->cfg.hidden[i];
  for (int k = 0; k < e->cfg.n_elites; ++k) elites[k] = e->elites[k];
  if ((st = mbrl_h5_attr_write_str(f, "format", MBRL_DYN_ENSEMBLE_FORMAT)) ||
      (st = mbrl_h5_attr_write_i64(f, "format_version", MBRL_DYN_ENSEMBLE_FORMAT_VERSION)) ||
      (st = mbrl_h5_attr_write_str(f, "env_id", e->env_id)) ||
      (st = mbrl_h5_attr_write_i64(f, "members", M)) ||
      (st = mbrl_h5_attr_write_i64(f, "probabilistic", e->cfg.probabilistic ? 1 : 0)) ||
      (st = mbrl_h5_attr_write_i64_array(f, "hidden", hidden, e->cfg.n_hidden)) ||
      (st = mbrl_h5_attr_write_i64_array(f, "elites", elites, e->cfg.n_elites)) ||
      (st = mbrl_h5_attr_write_i64(f, "learn_logvar_bounds", e->cfg.learn_logvar_bounds ? 1 : 0)) ||
      (st = mbrl_h5_attr_write_f32(f, "bound_coef", e->cfg.bound_coef)) ||
      (st = mbrl_h5_attr_write_str(f, "config", e->config_json)))
    return st;
  return MBRL_OK;
}

mbrl_status mbrl_dyn_ensemble_save(const mbrl_dyn_ensemble *e, const char *path) {
  if (!e || !path) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_save: NULL argument");
  mbrl_h5_writer w;
  mbrl_status st = mbrl_h5_writer_open(&w, path);
  if (st) return st;
  return mbrl_h5_writer_finish(&w, write_all(e, w.file));
}

/* Prefix a message that does not name the file yet with 'path': and make it MBRL_ERR_FORMAT. */
static mbrl_status as_format(const char *path) {
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", mbrl_last_error());
  if (strstr(msg, path)) return mbrl_set_error(MBRL_ERR_FORMAT, "%s", msg);
  return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': %s", path, msg);
}

static mbrl_status load_open(hid_t f, const char *path, mbrl_backend backend, int max_batch,
                             mbrl_dyn_ensemble **out) {
  mbrl_status st =
      mbrl_h5_check_format(f, path, MBRL_DYN_ENSEMBLE_FORMAT, MBRL_DYN_ENSEMBLE_FORMAT_VERSION);
  if (st) return st;
  int64_t version = 0;
  if ((st = mbrl_h5_attr_read_i64(f, path, "format_version", &version))) return st;
  if (version < 2)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' claims mbrl.dyn_ensemble format_version %lld, which was never "
                          "written (the first is 2); the file is damaged or forged",
                          path, (long long)version);
  char env_id[64];
  if ((st = mbrl_h5_attr_read_str(f, path, "env_id", env_id, sizeof env_id))) return st;
  const mbrl_env_spec *spec = mbrl_env_find(env_id);
  if (!spec)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': env_id '%s' is not a known environment (known: %s)", path,
                          env_id, mbrl_env_known_ids());
  const int O = spec->obs_dim, A = spec->act_dim;
  int64_t M64 = 0, prob = 0, learn = 1;
  if ((st = mbrl_h5_attr_read_i64(f, path, "members", &M64)) ||
      (st = mbrl_h5_attr_read_i64(f, path, "probabilistic", &prob)) ||
      (st = mbrl_h5_attr_read_i64(f, path, "learn_logvar_bounds", &learn)))
    return st;
  if (M64 < 1 || M64 > MBRL_DYN_ENSEMBLE_MAX_MEMBERS || (prob != 0 && prob != 1))
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': attribute members = %lld (1..%d) or probabilistic = %lld (0/1) "
                          "is out of range (the file is damaged)",
                          path, (long long)M64, MBRL_DYN_ENSEMBLE_MAX_MEMBERS, (long long)prob);
  const int M = (int)M64;
  float bound_coef = 0.01f;
  if ((st = mbrl_h5_attr_read_f32(f, path, "bound_coef", &bound_coef))) return st;
  if (!isfinite(bound_coef) || bound_coef < 0.0f)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': attribute bound_coef = %g must be finite and >= 0",
                          path, (double)bound_coef);

  /* member 0 gives the architecture; every member must match it */
  mbrl_mlp_config cfg0;
  char prefix[64];
  snprintf(prefix, sizeof prefix, MEMBER_PREFIX, 0);
  if ((st = mbrl_mlp_config_from_h5(f, prefix, &cfg0))) return as_format(path);
  const int L = cfg0.n_layers, out_dim = prob ? 2 * O : O;
  if (L < 2)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': member 0 has no hidden layer", path);
  if (cfg0.sizes[0] != O + A || cfg0.sizes[L] != out_dim)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': member 0 maps %d -> %d values but a %s ensemble for %s needs "
                          "%d -> %d",
                          path, cfg0.sizes[0], cfg0.sizes[L],
                          prob ? "probabilistic" : "deterministic", env_id, O + A, out_dim);
  if (cfg0.activation != MBRL_ACT_RELU)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': member 0's activation is not relu", path);
  /* M members of member 0's shape must fit in the file before anything is allocated for them */
  {
    double params = 0.0;
    for (int l = 0; l < L; ++l) params += ((double)cfg0.sizes[l] + 1.0) * (double)cfg0.sizes[l + 1];
    char what[160];
    snprintf(what, sizeof what, "%d members of %d layers (member 0's shape)", M, L);
    if ((st = mbrl_h5_check_claim(f, path, 4.0 * (double)M * params, what))) return st;
  }
  int64_t hid_attr[MBRL_MLP_MAX_LAYERS];
  int na = 0;
  if ((st = mbrl_h5_attr_read_i64_array(f, path, "hidden", hid_attr, MBRL_MLP_MAX_LAYERS, &na)))
    return st;
  if (na != L - 1)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': root attribute 'hidden' has %d widths but the members have %d "
                          "hidden layers (the file is damaged)", path, na, L - 1);
  for (int i = 0; i < na; ++i)
    if (hid_attr[i] != cfg0.sizes[i + 1])
      return mbrl_set_error(MBRL_ERR_FORMAT,
                            "'%s': root attribute 'hidden' does not match the members' hidden "
                            "widths (the file is damaged)", path);
  int64_t el[MBRL_DYN_ENSEMBLE_MAX_MEMBERS];
  int ne = 0;
  if ((st = mbrl_h5_attr_read_i64_array(f, path, "elites", el, MBRL_DYN_ENSEMBLE_MAX_MEMBERS, &ne)))
    return st;
  if (ne < 1 || ne > M)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': %d elites for %d members (need 1..%d)", path,
                          ne, M, M);
  int seen[MBRL_DYN_ENSEMBLE_MAX_MEMBERS] = {0};
  for (int k = 0; k < ne; ++k) {
    if (el[k] < 0 || el[k] >= M || seen[el[k]])
      return mbrl_set_error(MBRL_ERR_FORMAT,
                            "'%s': elites[%d] = %lld is out of range (0..%d) or repeated", path, k,
                            (long long)el[k], M - 1);
    seen[el[k]] = 1;
  }

  mbrl_dataset_stats stats;
  if ((st = mbrl_stats_read_h5(f, path, "normalizer", O, A, &stats))) return st;
  for (int k = 0; k < MBRL_STATS_N; ++k) {
    int wdt;
    const float *p = mbrl_stats_array(&stats, k, O, A, &wdt);
    for (int j = 0; j < wdt; ++j)
      if (!isfinite(p[j]) || ((k & 1) && p[j] < 0.0f))
        return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /normalizer/%s[%d] is %g (must be finite%s)",
                              path, mbrl_stats_name(k), j, (double)p[j],
                              (k & 1) ? " and >= 0" : "");
  }
  char config[2048];
  if ((st = mbrl_h5_attr_read_str(f, path, "config", config, sizeof config))) return st;

  mbrl_dyn_ensemble_config c;
  mbrl_dyn_ensemble_config_init(&c);
  c.members = M;
  c.probabilistic = (int)prob;
  c.n_hidden = L - 1;
  for (int i = 0; i < L - 1; ++i) c.hidden[i] = cfg0.sizes[i + 1];
  c.batchnorm = cfg0.batchnorm;
  c.learn_logvar_bounds = learn ? 1 : 0;
  c.bound_coef = bound_coef;
  c.n_elites = ne;
  mbrl_dyn_ensemble *e = NULL;
  if ((st = mbrl_dyn_ensemble_create(&e, env_id, O, A, &stats, &c, backend, max_batch, 0)))
    return st;
  mbrl_mlp *tmp = NULL;
  st = mbrl_mlp_create(&tmp, &e->member_cfg, MBRL_BACKEND_CPU, 1);
  long long nbt0 = 0;
  for (int m = 0; m < M && !st; ++m) {
    snprintf(prefix, sizeof prefix, MEMBER_PREFIX, m);
    mbrl_mlp_config cm;
    if ((st = mbrl_mlp_config_from_h5(f, prefix, &cm))) {
      st = as_format(path);
      break;
    }
    if (cm.n_layers != L || memcmp(cm.sizes, cfg0.sizes, sizeof cm.sizes) != 0 ||
        cm.batchnorm != cfg0.batchnorm || cm.activation != cfg0.activation) {
      st = mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': member %d's network differs from member 0's (shapes, BatchNorm "
                          "or activation)", path, m);
      break;
    }
    if ((st = mbrl_mlp_read_h5(tmp, f, prefix))) {
      st = as_format(path);
      break;
    }
    const long long nbt = tmp->num_batches_tracked[0];
    if (m == 0) nbt0 = nbt;
    if (cfg0.batchnorm && nbt != nbt0) {
      st = mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': member %d has num_batches_tracked %lld but member 0 %lld (the "
                          "members are trained together; the file is damaged)",
                          path, m, nbt, nbt0);
      break;
    }
    st = mbrl_dyn_ensemble_set_member(e, m, tmp);
  }
  mbrl_mlp_free(tmp);
  if (!st && prob) {
    hsize_t dims[2] = {1, (hsize_t)O};
    float mx[MBRL_MAX_DIM], mn[MBRL_MAX_DIM];
    if ((st = mbrl_h5_check_f32(f, path, "/model/max_logvar", 2, dims)) == MBRL_OK &&
        (st = mbrl_h5_check_f32(f, path, "/model/min_logvar", 2, dims)) == MBRL_OK &&
        (st = mbrl_h5_read_f32(f, path, "/model/max_logvar", mx)) == MBRL_OK &&
        (st = mbrl_h5_read_f32(f, path, "/model/min_logvar", mn)) == MBRL_OK) {
      for (int j = 0; j < O && !st; ++j)
        if (!isfinite(mx[j]) || !isfinite(mn[j]))
          st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': the log-variance bound %d is not finite",
                              path, j);
      if (!st) st = mbrl_dyn_ensemble_set_logvar_bounds(e, mx, mn);
    }
  }
  /* /validation is optional (absent before the elites are ranked); unreadable is an error */
  const int has_mse = st ? 0 : mbrl_h5_exists(f, "/validation/mse");
  const int has_nll = st || !prob ? 0 : mbrl_h5_exists(f, "/validation/nll");
  if (!st && (has_mse < 0 || has_nll < 0))
    st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s' is damaged: the group /validation cannot be read",
                        path);
  if (!st && has_mse) {
    hsize_t dims[1] = {(hsize_t)M};
    float v[MBRL_DYN_ENSEMBLE_MAX_MEMBERS];
    if ((st = mbrl_h5_check_f32(f, path, "/validation/mse", 1, dims)) == MBRL_OK &&
        (st = mbrl_h5_read_f32(f, path, "/validation/mse", v)) == MBRL_OK)
      for (int m = 0; m < M; ++m) e->val_mse[m] = v[m];
    if (!st && has_nll &&
        (st = mbrl_h5_check_f32(f, path, "/validation/nll", 1, dims)) == MBRL_OK &&
        (st = mbrl_h5_read_f32(f, path, "/validation/nll", v)) == MBRL_OK)
      for (int m = 0; m < M; ++m) e->val_nll[m] = v[m];
  }
  if (st) {
    mbrl_dyn_ensemble_free(e);
    return st;
  }
  /* elites first (file order), then the other members in index order */
  int k = 0;
  for (int i = 0; i < ne; ++i) e->elites[k++] = (int)el[i];
  for (int m = 0; m < M; ++m)
    if (!seen[m]) e->elites[k++] = m;
  e->ranked = 1;
  snprintf(e->config_json, sizeof e->config_json, "%s", config);
  *out = e;
  return MBRL_OK;
}

mbrl_status mbrl_dyn_ensemble_load(const char *path, mbrl_backend backend, int max_batch,
                                   mbrl_dyn_ensemble **out) {
  if (!path || !out)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "dyn_ensemble_load: NULL argument");
  *out = NULL;
  /* the seal first: an unsealed file is refused before HDF5 parses it (mbrl_h5_open_read
   * would refuse it too; this says why for this format) */
  mbrl_h5_seal_info info;
  mbrl_status st = mbrl_h5_seal_check(path, &info);
  if (st) return st;
  if (!info.sealed)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' has no mbrl seal: %s checkpoints are read only as mbrl writes "
                          "them (format_version %d, sealed), and this file was written or "
                          "rewritten by another program; train the ensemble again with "
                          "mbrl_train --ensemble",
                          path, MBRL_DYN_ENSEMBLE_FORMAT, MBRL_DYN_ENSEMBLE_FORMAT_VERSION);
  hid_t f;
  if ((st = mbrl_h5_open_read(path, &f))) return st;
  st = load_open(f, path, backend, max_batch, out);
  H5Fclose(f);
  return st;
}

int mbrl_dyn_ensemble_is_file(const char *path) {
  if (!path) return 0;
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", mbrl_last_error()); /* leave the caller's message alone */
  mbrl_h5_seal_info info;
  const int yes = mbrl_h5_seal_check(path, &info) == MBRL_OK && info.sealed &&
                  strcmp(info.format, MBRL_DYN_ENSEMBLE_FORMAT) == 0;
  mbrl_set_error(MBRL_OK, "%s", msg);
  return yes;
}
