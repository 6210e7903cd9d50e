/* mlp_h5.c - HDF5 save/load of an mlp with PyTorch state_dict names.
 *
 * Under a group PREFIX (e.g. "/model/network"): PREFIX/<i>/weight [out,in] f32, PREFIX/<i>/bias
 * for Linear module i; PREFIX/<j>/{weight,bias,running_mean,running_var} f32 [C] and
 * PREFIX/<j>/num_batches_tracked int64 scalar for BatchNorm1d module j. Module indices count
 * nn.Sequential entries (Linear, BatchNorm1d, activation). Group attributes record the
 * architecture (sizes, batchnorm, activation, bn_eps, bn_momentum) for loaders without torch.
 * Every object goes through mbrl/h5util.h (no time stamps: same state, same bytes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbrl/h5util.h"
#include "mbrl/mlp.h"

/* Longest prefix accepted: leaves room for "/<index>/num_batches_tracked". */
#define PREFIX_MAX (MBRL_H5_NAME_MAX - 64)

/* Module index of Linear layer l and of its BatchNorm (-1 if none). */
static void module_indices(const mbrl_mlp_config *c, int *lin, int *bn) {
  int idx = 0;
  for (int l = 0; l < c->n_layers; ++l) {
    lin[l] = idx++;
    bn[l] = -1;
    if (l < c->n_layers - 1) {
      if (c->batchnorm) bn[l] = idx++;
      if (c->activation != MBRL_ACT_NONE) idx++;
    }
  }
}

static const char *act_name(mbrl_act a) {
  return a == MBRL_ACT_RELU ? "relu" : a == MBRL_ACT_TANH ? "tanh" : "none";
}

/* The name of the file holding loc, for messages. */
static void file_name(hid_t loc, char *buf, size_t cap) {
  if (H5Fget_name(loc, buf, cap) <= 0) snprintf(buf, cap, "(HDF5 file)");
}

static mbrl_status check_prefix(const char *fn, const char *prefix) {
  if (strlen(prefix) > PREFIX_MAX)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "%s: group name is too long (at most %d bytes): %.64s...",
                          fn, PREFIX_MAX, prefix);
  return MBRL_OK;
}

/* The group attributes that describe the architecture. */
static mbrl_status write_arch_attrs(hid_t loc, const char *prefix, const mbrl_mlp_config *c) {
  hid_t g = H5Gopen2(loc, prefix, H5P_DEFAULT);
  if (g < 0) {
    char f[512];
    file_name(loc, f, sizeof f);
    return mbrl_set_error(MBRL_ERR_IO, "'%s': cannot open group %s to write its attributes", f,
                          prefix);
  }
  int64_t sizes[MBRL_MLP_MAX_LAYERS + 1];
  for (int i = 0; i <= c->n_layers; ++i) sizes[i] = c->sizes[i];
  mbrl_status st;
  if ((st = mbrl_h5_attr_write_i64_array(g, "sizes", sizes, c->n_layers + 1)) == MBRL_OK &&
      (st = mbrl_h5_attr_write_i64(g, "batchnorm", c->batchnorm ? 1 : 0)) == MBRL_OK &&
      (st = mbrl_h5_attr_write_f32(g, "bn_eps", c->bn_eps)) == MBRL_OK &&
      (st = mbrl_h5_attr_write_f32(g, "bn_momentum", c->bn_momentum)) == MBRL_OK)
    st = mbrl_h5_attr_write_str(g, "activation", act_name(c->activation));
  H5Gclose(g);
  return st;
}

mbrl_status mbrl_mlp_write_h5(const mbrl_mlp *m, hid_t loc, const char *prefix) {
  if (!m || !prefix) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_write_h5: NULL argument");
  mbrl_status st = check_prefix("mlp_write_h5", prefix);
  if (st != MBRL_OK) return st;
  const mbrl_mlp_config *c = &m->cfg;
  float *hp = (float *)malloc((m->n_params + m->n_buffers + 1) * sizeof(float));
  if (!hp)
    return mbrl_set_error(MBRL_ERR_NOMEM, "mlp_write_h5: out of memory for %zu parameters",
                          m->n_params + m->n_buffers);
  float *hb = hp + m->n_params;
  st = mbrl_mlp_get_params(m, hp);
  if (!st) st = mbrl_mlp_get_buffers(m, hb);
  int lin[MBRL_MLP_MAX_LAYERS], bn[MBRL_MLP_MAX_LAYERS];
  module_indices(c, lin, bn);
  char name[MBRL_H5_NAME_MAX];
  for (int l = 0; l < c->n_layers && !st; ++l) {
    hsize_t d2[2] = {(hsize_t)c->sizes[l + 1], (hsize_t)c->sizes[l]}, d1[1] = {d2[0]};
    snprintf(name, sizeof name, "%s/%d/weight", prefix, lin[l]);
    st = mbrl_h5_write_f32(loc, name, 2, d2, hp + m->w_off[l]);
    snprintf(name, sizeof name, "%s/%d/bias", prefix, lin[l]);
    if (!st) st = mbrl_h5_write_f32(loc, name, 1, d1, hp + m->b_off[l]);
    if (bn[l] < 0 || st) continue;
    snprintf(name, sizeof name, "%s/%d/weight", prefix, bn[l]);
    st = mbrl_h5_write_f32(loc, name, 1, d1, hp + m->gamma_off[l]);
    snprintf(name, sizeof name, "%s/%d/bias", prefix, bn[l]);
    if (!st) st = mbrl_h5_write_f32(loc, name, 1, d1, hp + m->beta_off[l]);
    snprintf(name, sizeof name, "%s/%d/running_mean", prefix, bn[l]);
    if (!st) st = mbrl_h5_write_f32(loc, name, 1, d1, hb + m->rmean_off[l]);
    snprintf(name, sizeof name, "%s/%d/running_var", prefix, bn[l]);
    if (!st) st = mbrl_h5_write_f32(loc, name, 1, d1, hb + m->rvar_off[l]);
    snprintf(name, sizeof name, "%s/%d/num_batches_tracked", prefix, bn[l]);
    const int64_t nbt = m->num_batches_tracked[l];
    if (!st) st = mbrl_h5_write_i64(loc, name, 0, NULL, &nbt);
  }
  free(hp);
  if (st) return st;
  return write_arch_attrs(loc, prefix, c);
}

/* Check float dataset `name` has shape exactly (d0) or (d0, d1) (d1 = 0: rank 1) and read it. */
static mbrl_status read_param(hid_t loc, const char *f, const char *name, hsize_t d0, hsize_t d1,
                              float *out) {
  hsize_t dims[2] = {d0, d1};
  mbrl_status st = mbrl_h5_check_float(loc, f, name, d1 ? 2 : 1, dims);
  if (st == MBRL_OK) st = mbrl_h5_read_f32(loc, f, name, out);
  return st;
}

/* num_batches_tracked: an integer scalar (or a single-element vector) >= 0. */
static mbrl_status read_count(hid_t loc, const char *f, const char *name, long long *out) {
  hsize_t dims[1] = {1};
  const int r = mbrl_h5_dataset_rank(loc, name, dims, 1);
  int64_t v = 0;
  mbrl_status st;
  if (r == -2)
    st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s' is damaged: %s cannot be read", f, name);
  else if (r < 0 || r > 1 || (r == 1 && dims[0] != 1))
    st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': missing or non-scalar dataset %s", f, name);
  else
    st = mbrl_h5_read_i64(loc, f, name, r, dims, &v);
  if (st == MBRL_OK && v < 0)
    st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': %s is %lld; expected a count >= 0", f, name,
                        (long long)v);
  *out = v;
  return st;
}

mbrl_status mbrl_mlp_read_h5(mbrl_mlp *m, hid_t loc, const char *prefix) {
  if (!m || !prefix) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_read_h5: NULL argument");
  mbrl_status st = check_prefix("mlp_read_h5", prefix);
  if (st != MBRL_OK) return st;
  char f[512];
  file_name(loc, f, sizeof f);
  const mbrl_mlp_config *c = &m->cfg;
  float *hp = (float *)malloc((m->n_params + m->n_buffers + 1) * sizeof(float));
  if (!hp)
    return mbrl_set_error(MBRL_ERR_NOMEM, "mlp_read_h5: out of memory for %zu parameters",
                          m->n_params + m->n_buffers);
  float *hb = hp + m->n_params;
  long long nbt[MBRL_MLP_MAX_LAYERS] = {0};
  int lin[MBRL_MLP_MAX_LAYERS], bn[MBRL_MLP_MAX_LAYERS];
  module_indices(c, lin, bn);
  char name[MBRL_H5_NAME_MAX];
  for (int l = 0; l < c->n_layers && !st; ++l) {
    const hsize_t in = (hsize_t)c->sizes[l], out = (hsize_t)c->sizes[l + 1];
    snprintf(name, sizeof name, "%s/%d/weight", prefix, lin[l]);
    st = read_param(loc, f, name, out, in, hp + m->w_off[l]);
    snprintf(name, sizeof name, "%s/%d/bias", prefix, lin[l]);
    if (!st) st = read_param(loc, f, name, out, 0, hp + m->b_off[l]);
    if (bn[l] < 0 || st) continue;
    snprintf(name, sizeof name, "%s/%d/weight", prefix, bn[l]);
    st = read_param(loc, f, name, out, 0, hp + m->gamma_off[l]);
    snprintf(name, sizeof name, "%s/%d/bias", prefix, bn[l]);
    if (!st) st = read_param(loc, f, name, out, 0, hp + m->beta_off[l]);
    snprintf(name, sizeof name, "%s/%d/running_mean", prefix, bn[l]);
    if (!st) st = read_param(loc, f, name, out, 0, hb + m->rmean_off[l]);
    snprintf(name, sizeof name, "%s/%d/running_var", prefix, bn[l]);
    if (!st) st = read_param(loc, f, name, out, 0, hb + m->rvar_off[l]);
    snprintf(name, sizeof name, "%s/%d/num_batches_tracked", prefix, bn[l]);
    if (!st) st = read_count(loc, f, name, &nbt[l]);
  }
  /* assemble the state vector (state_dict order) and set it in one go */
  float *state = st ? NULL : (float *)malloc(mbrl_mlp_state_size(m) * sizeof(float));
  if (!st && !state) st = mbrl_set_error(MBRL_ERR_NOMEM, "mlp_read_h5: out of memory");
  if (!st) {
    size_t o = 0;
    for (int l = 0; l < c->n_layers; ++l) {
      const size_t in = (size_t)c->sizes[l], out = (size_t)c->sizes[l + 1];
      memcpy(state + o, hp + m->w_off[l], in * out * sizeof(float));
      o += in * out;
      memcpy(state + o, hp + m->b_off[l], out * sizeof(float));
      o += out;
      if (bn[l] < 0) continue;
      memcpy(state + o, hp + m->gamma_off[l], out * sizeof(float));
      o += out;
      memcpy(state + o, hp + m->beta_off[l], out * sizeof(float));
      o += out;
      memcpy(state + o, hb + m->rmean_off[l], out * sizeof(float));
      o += out;
      memcpy(state + o, hb + m->rvar_off[l], out * sizeof(float));
      o += out;
      state[o++] = (float)nbt[l];
    }
    st = mbrl_mlp_set_state(m, state);
    if (st == MBRL_ERR_NUMERIC)
      st = mbrl_set_error(MBRL_ERR_NUMERIC, "'%s': group %s holds a NaN or Inf value", f, prefix);
  }
  free(state);
  free(hp);
  return st;
}

/* The optional architecture attributes of the group: activation, bn_eps, bn_momentum. */
static mbrl_status read_arch_attrs(hid_t loc, const char *f, const char *prefix,
                                   mbrl_mlp_config *cfg) {
  hid_t g = H5Gopen2(loc, prefix, H5P_DEFAULT);
  if (g < 0) return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': %s is not a group", f, prefix);
  mbrl_status st = MBRL_OK;
  /* optional: absent means the default; unreadable (H5Aexists < 0: damaged) is an error */
  const htri_t has_act = H5Aexists(g, "activation"), has_eps = H5Aexists(g, "bn_eps"),
               has_mom = H5Aexists(g, "bn_momentum");
  if (has_act < 0 || has_eps < 0 || has_mom < 0) {
    H5Gclose(g);
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s' is damaged: the attributes of %s cannot be read",
                          f, prefix);
  }
  if (has_act > 0) {
    char buf[64];
    st = mbrl_h5_attr_read_str(g, f, "activation", buf, sizeof buf);
    if (st == MBRL_OK) {
      if (strcmp(buf, "relu") == 0)
        cfg->activation = MBRL_ACT_RELU;
      else if (strcmp(buf, "tanh") == 0)
        cfg->activation = MBRL_ACT_TANH;
      else if (strcmp(buf, "none") == 0)
        cfg->activation = MBRL_ACT_NONE;
      else
        st = mbrl_set_error(MBRL_ERR_FORMAT,
                            "'%s': %s has unknown activation attribute '%s' (relu, tanh or none)",
                            f, prefix, buf);
    }
  }
  if (st == MBRL_OK && has_eps > 0)
    st = mbrl_h5_attr_read_f32(g, f, "bn_eps", &cfg->bn_eps);
  if (st == MBRL_OK && has_mom > 0)
    st = mbrl_h5_attr_read_f32(g, f, "bn_momentum", &cfg->bn_momentum);
  H5Gclose(g);
  return st;
}

mbrl_status mbrl_mlp_config_from_h5(hid_t loc, const char *prefix, mbrl_mlp_config *cfg) {
  if (!prefix || !cfg) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_config_from_h5: NULL argument");
  mbrl_status st = check_prefix("mlp_config_from_h5", prefix);
  if (st != MBRL_OK) return st;
  mbrl_h5_quiet();
  char f[512];
  file_name(loc, f, sizeof f);
  const int has = mbrl_h5_exists(loc, prefix);
  if (has < 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s' is damaged: the group %s cannot be read", f, prefix);
  if (has == 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': no group %s holding network weights", f, prefix);
  int sizes[MBRL_MLP_MAX_LAYERS + 1];
  int nlin = 0, nbn = 0, gaps = 0, last = -1;
  char name[MBRL_H5_NAME_MAX];
  for (int i = 0; i < 64; ++i) {
    hsize_t dims[2] = {0, 0};
    snprintf(name, sizeof name, "%s/%d/weight", prefix, i);
    const int r = mbrl_h5_dataset_rank(loc, name, dims, 2);
    if (r == -2) /* there but unreadable: not an absent module (the architecture would change) */
      return mbrl_set_error(MBRL_ERR_FORMAT, "'%s' is damaged: %s/%d cannot be read", f, prefix, i);
    if (r < 0) continue;
    if (r == 2) {
      if (nlin >= MBRL_MLP_MAX_LAYERS)
        return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': more than %d Linear layers under %s", f,
                              MBRL_MLP_MAX_LAYERS, prefix);
      if (dims[0] < 1 || dims[0] > 1000000 || dims[1] < 1 || dims[1] > 1000000)
        return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': %s has shape (%llu, %llu); expected widths "
                              "in [1, 1000000]", f, name, (unsigned long long)dims[0],
                              (unsigned long long)dims[1]);
      if (nlin > 0 && (int)dims[1] != sizes[nlin])
        return mbrl_set_error(MBRL_ERR_FORMAT,
                              "'%s': %s has %llu inputs but the previous layer has %d outputs", f,
                              name, (unsigned long long)dims[1], sizes[nlin]);
      if (nlin == 0) sizes[0] = (int)dims[1];
      sizes[++nlin] = (int)dims[0];
    } else if (r == 1) {
      if (nlin == 0 || dims[0] != (hsize_t)sizes[nlin])
        return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': BatchNorm %s does not follow a Linear of its width",
                              f, name);
      nbn++;
    } else {
      return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': %s has rank %d (expected 1 or 2)", f, name, r);
    }
    if (last >= 0 && i - last > 1) gaps++;
    last = i;
  }
  if (nlin == 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': no Linear weights (%s/0/weight ...) found", f, prefix);
  mbrl_mlp_config_init(cfg, nlin, sizes);
  cfg->batchnorm = nbn > 0;
  if (nbn > 0 && nbn != nlin - 1)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': %d BatchNorm layers for %d Linear layers (need one per hidden layer)",
                          f, nbn, nlin);
  double params = 0.0;
  for (int l = 0; l < nlin; ++l) params += ((double)sizes[l] + 1.0 + 4.0) * (double)sizes[l + 1];
  snprintf(name, sizeof name, "an MLP of %d layers under %s", nlin, prefix);
  if ((st = mbrl_h5_check_claim(loc, f, 4.0 * params, name)) != MBRL_OK) return st;
  cfg->activation = gaps > 0 ? MBRL_ACT_RELU : MBRL_ACT_NONE;
  if ((st = read_arch_attrs(loc, f, prefix, cfg)) != MBRL_OK) return st;
  /* the module indices must be the ones this architecture produces */
  int lin[MBRL_MLP_MAX_LAYERS], bn[MBRL_MLP_MAX_LAYERS];
  module_indices(cfg, lin, bn);
  for (int l = 0; l < nlin; ++l) {
    hsize_t dims[2];
    snprintf(name, sizeof name, "%s/%d/weight", prefix, lin[l]);
    if (mbrl_h5_dataset_rank(loc, name, dims, 2) != 2)
      return mbrl_set_error(MBRL_ERR_FORMAT,
                            "'%s': module indices under %s do not match a %s MLP (expected %s)", f,
                            prefix, act_name(cfg->activation), name);
  }
  return mbrl_mlp_config_check(cfg);
}

mbrl_status mbrl_mlp_save(const mbrl_mlp *m, const char *path) {
  if (!m || !path) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_save: NULL argument");
  mbrl_h5_writer w;
  mbrl_status st = mbrl_h5_writer_open(&w, path);
  if (st != MBRL_OK) return st;
  st = mbrl_mlp_write_h5(m, w.file, "/network");
  if (st == MBRL_OK) st = mbrl_h5_attr_write_str(w.file, "format", "mbrl.mlp");
  if (st == MBRL_OK) st = mbrl_h5_attr_write_i64(w.file, "format_version", 2);
  return mbrl_h5_writer_finish(&w, st);
}

typedef struct load_args {
  const char *prefix;
  mbrl_backend backend;
  int max_batch;
  mbrl_mlp *m;
} load_args;

/* The whole read (mbrl_h5_read_fn); the guard's checking child builds the mlp on the CPU. */
static mbrl_status load_fn(const char *path, void *ctx) {
  load_args *a = (load_args *)ctx;
  a->m = NULL;
  hid_t fid;
  mbrl_status st = mbrl_h5_open_read(path, &fid);
  if (st != MBRL_OK) return st;
  mbrl_mlp_config cfg;
  st = mbrl_mlp_config_from_h5(fid, a->prefix, &cfg);
  const mbrl_backend b = mbrl_h5_guard_child() ? MBRL_BACKEND_CPU : a->backend;
  if (!st) st = mbrl_mlp_create(&a->m, &cfg, b, a->max_batch);
  if (!st) st = mbrl_mlp_read_h5(a->m, fid, a->prefix);
  H5Fclose(fid);
  if (st) {
    mbrl_mlp_free(a->m);
    a->m = NULL;
  }
  return st;
}

mbrl_status mbrl_mlp_load(const char *path, const char *prefix, mbrl_backend backend,
                          int max_batch, mbrl_mlp **out) {
  if (!path || !out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_load: NULL argument");
  *out = NULL;
  load_args a = {prefix ? prefix : "/network", backend, max_batch, NULL};
  mbrl_status st = mbrl_h5_guarded_read(path, load_fn, &a);
  if (st == MBRL_OK) *out = a.m;
  return st;
}
