/* mlp_h5.c - HDF5 save/load of an mlp with PyTorch state_dict names.
 *
 * Under a group PREFIX (e.g. "/model/network"): PREFIX/<i>/weight [out,in] f32, PREFIX/<i>/bias
 * for Linear module i; PREFIX/<j>/{weight,bias,running_mean,running_var} f32 [C] and
 * PREFIX/<j>/num_batches_tracked int64 scalar for BatchNorm1d module j. Module indices count
 * nn.Sequential entries (Linear, BatchNorm1d, activation). Group attributes record the
 * architecture (sizes, batchnorm, activation, bn_eps, bn_momentum) for loaders without torch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mbrl/mlp.h"

#define NAME_MAX_LEN 512

static void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

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

static void file_name(hid_t loc, char *buf, size_t cap) {
  if (H5Fget_name(loc, buf, cap) < 0) snprintf(buf, cap, "(hdf5 file)");
}

/* Does every component of `path` exist (H5Lexists needs the parents to exist)? */
static int path_exists(hid_t loc, const char *path) {
  char buf[NAME_MAX_LEN];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; ; ++p) {
    if (*p == '/' || *p == '\0') {
      const char save = *p;
      *p = '\0';
      if (H5Lexists(loc, buf, H5P_DEFAULT) <= 0) return 0;
      *p = save;
      if (save == '\0') return 1;
    }
  }
}

static mbrl_status write_ds(hid_t loc, const char *name, hid_t mtype, hid_t ftype, int rank,
                            const hsize_t *dims, const void *data) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
  hid_t ds = H5Dcreate2(loc, name, ftype, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  herr_t e = ds < 0 ? -1 : H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(space);
  H5Pclose(lcpl);
  if (e < 0) {
    char f[256];
    file_name(loc, f, sizeof f);
    return mbrl_set_error(MBRL_ERR_IO, "%s: cannot write dataset %s (exists already, or disk full?)",
                          f, name);
  }
  return MBRL_OK;
}

static mbrl_status write_f32(hid_t loc, const char *name, int rank, const hsize_t *dims,
                             const float *data) {
  return write_ds(loc, name, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, rank, dims, data);
}

mbrl_status mbrl_mlp_write_h5(const mbrl_mlp *m, hid_t loc, const char *prefix) {
  if (!m || !prefix) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_write_h5: NULL argument");
  h5_quiet();
  const mbrl_mlp_config *c = &m->cfg;
  float *hp = (float *)malloc((m->n_params + m->n_buffers + 1) * sizeof(float));
  if (!hp) return mbrl_set_error(MBRL_ERR_NOMEM, "mlp_write_h5: out of memory");
  float *hb = hp + m->n_params;
  mbrl_status st = mbrl_mlp_get_params(m, hp);
  if (!st) st = mbrl_mlp_get_buffers(m, hb);
  int lin[MBRL_MLP_MAX_LAYERS], bn[MBRL_MLP_MAX_LAYERS];
  module_indices(c, lin, bn);
  char name[NAME_MAX_LEN];
  for (int l = 0; l < c->n_layers && !st; ++l) {
    hsize_t d2[2] = {(hsize_t)c->sizes[l + 1], (hsize_t)c->sizes[l]}, d1[1] = {d2[0]};
    snprintf(name, sizeof name, "%s/%d/weight", prefix, lin[l]);
    st = write_f32(loc, name, 2, d2, hp + m->w_off[l]);
    snprintf(name, sizeof name, "%s/%d/bias", prefix, lin[l]);
    if (!st) st = write_f32(loc, name, 1, d1, hp + m->b_off[l]);
    if (bn[l] < 0 || st) continue;
    snprintf(name, sizeof name, "%s/%d/weight", prefix, bn[l]);
    st = write_f32(loc, name, 1, d1, hp + m->gamma_off[l]);
    snprintf(name, sizeof name, "%s/%d/bias", prefix, bn[l]);
    if (!st) st = write_f32(loc, name, 1, d1, hp + m->beta_off[l]);
    snprintf(name, sizeof name, "%s/%d/running_mean", prefix, bn[l]);
    if (!st) st = write_f32(loc, name, 1, d1, hb + m->rmean_off[l]);
    snprintf(name, sizeof name, "%s/%d/running_var", prefix, bn[l]);
    if (!st) st = write_f32(loc, name, 1, d1, hb + m->rvar_off[l]);
    snprintf(name, sizeof name, "%s/%d/num_batches_tracked", prefix, bn[l]);
    int64_t nbt = m->num_batches_tracked[l];
    if (!st) st = write_ds(loc, name, H5T_NATIVE_INT64, H5T_STD_I64LE, 0, NULL, &nbt);
  }
  free(hp);
  if (st) return st;
  /* architecture attributes on the group */
  hid_t g = H5Gopen2(loc, prefix, H5P_DEFAULT);
  if (g < 0) return mbrl_set_error(MBRL_ERR_IO, "mlp_write_h5: cannot open group %s", prefix);
  herr_t e = 0;
  int64_t sizes[MBRL_MLP_MAX_LAYERS + 1];
  for (int i = 0; i <= c->n_layers; ++i) sizes[i] = c->sizes[i];
  hsize_t ns = (hsize_t)c->n_layers + 1;
  hid_t sp = H5Screate_simple(1, &ns, NULL);
  hid_t a = H5Acreate2(g, "sizes", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
  e |= a < 0 || H5Awrite(a, H5T_NATIVE_INT64, sizes) < 0;
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  sp = H5Screate(H5S_SCALAR);
  int64_t bnv = c->batchnorm ? 1 : 0;
  a = H5Acreate2(g, "batchnorm", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
  e |= a < 0 || H5Awrite(a, H5T_NATIVE_INT64, &bnv) < 0;
  if (a >= 0) H5Aclose(a);
  float fv[2] = {c->bn_eps, c->bn_momentum};
  const char *fn[2] = {"bn_eps", "bn_momentum"};
  for (int i = 0; i < 2; ++i) {
    a = H5Acreate2(g, fn[i], H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    e |= a < 0 || H5Awrite(a, H5T_NATIVE_FLOAT, &fv[i]) < 0;
    if (a >= 0) H5Aclose(a);
  }
  hid_t st_t = H5Tcopy(H5T_C_S1);
  H5Tset_size(st_t, H5T_VARIABLE);
  H5Tset_cset(st_t, H5T_CSET_UTF8);
  const char *an = act_name(c->activation);
  a = H5Acreate2(g, "activation", st_t, sp, H5P_DEFAULT, H5P_DEFAULT);
  e |= a < 0 || H5Awrite(a, st_t, &an) < 0;
  if (a >= 0) H5Aclose(a);
  H5Tclose(st_t);
  H5Sclose(sp);
  H5Gclose(g);
  if (e) return mbrl_set_error(MBRL_ERR_IO, "mlp_write_h5: cannot write attributes of %s", prefix);
  return MBRL_OK;
}

/* Rank and dims of dataset `name`; -1 if missing or unreadable. */
static int ds_shape(hid_t loc, const char *name, hsize_t *dims) {
  if (!path_exists(loc, name)) return -1;
  hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
  if (ds < 0) return -1;
  hid_t sp = H5Dget_space(ds);
  int r = H5Sget_simple_extent_ndims(sp);
  if (r > 0 && r <= 4) H5Sget_simple_extent_dims(sp, dims, NULL);
  H5Sclose(sp);
  H5Dclose(ds);
  return r;
}

/* Read float dataset `name` whose shape must be exactly (d0) or (d0, d1) (d1 = 0: rank 1). */
static mbrl_status read_f32(hid_t loc, const char *f, const char *name, hsize_t d0, hsize_t d1,
                            float *out) {
  hsize_t dims[4] = {0, 0, 0, 0};
  const int want = d1 ? 2 : 1;
  const int r = ds_shape(loc, name, dims);
  if (r < 0) return mbrl_set_error(MBRL_ERR_FORMAT, "%s: missing dataset %s", f, name);
  if (r != want || dims[0] != d0 || (want == 2 && dims[1] != d1))
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "%s: dataset %s has shape (%llu%s%llu) but the model needs (%llu%s%llu)",
                          f, name, (unsigned long long)dims[0], r > 1 ? ", " : "",
                          r > 1 ? (unsigned long long)dims[1] : 0ULL, (unsigned long long)d0,
                          want > 1 ? ", " : "", want > 1 ? (unsigned long long)d1 : 0ULL);
  hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
  hid_t t = H5Dget_type(ds);
  const int is_float = H5Tget_class(t) == H5T_FLOAT;
  H5Tclose(t);
  herr_t e = is_float ? H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) : -1;
  H5Dclose(ds);
  if (!is_float) return mbrl_set_error(MBRL_ERR_FORMAT, "%s: dataset %s is not floating point", f, name);
  if (e < 0) return mbrl_set_error(MBRL_ERR_FORMAT, "%s: cannot read dataset %s (damaged?)", f, name);
  return MBRL_OK;
}

mbrl_status mbrl_mlp_read_h5(mbrl_mlp *m, hid_t loc, const char *prefix) {
  if (!m || !prefix) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_read_h5: NULL argument");
  h5_quiet();
  char f[256];
  file_name(loc, f, sizeof f);
  const mbrl_mlp_config *c = &m->cfg;
  float *hp = (float *)malloc((m->n_params + m->n_buffers + 1) * sizeof(float));
  if (!hp) return mbrl_set_error(MBRL_ERR_NOMEM, "mlp_read_h5: out of memory");
  float *hb = hp + m->n_params;
  long long nbt[MBRL_MLP_MAX_LAYERS] = {0};
  int lin[MBRL_MLP_MAX_LAYERS], bn[MBRL_MLP_MAX_LAYERS];
  module_indices(c, lin, bn);
  char name[NAME_MAX_LEN];
  mbrl_status st = MBRL_OK;
  for (int l = 0; l < c->n_layers && !st; ++l) {
    const hsize_t in = (hsize_t)c->sizes[l], out = (hsize_t)c->sizes[l + 1];
    snprintf(name, sizeof name, "%s/%d/weight", prefix, lin[l]);
    st = read_f32(loc, f, name, out, in, hp + m->w_off[l]);
    snprintf(name, sizeof name, "%s/%d/bias", prefix, lin[l]);
    if (!st) st = read_f32(loc, f, name, out, 0, hp + m->b_off[l]);
    if (bn[l] < 0 || st) continue;
    snprintf(name, sizeof name, "%s/%d/weight", prefix, bn[l]);
    st = read_f32(loc, f, name, out, 0, hp + m->gamma_off[l]);
    snprintf(name, sizeof name, "%s/%d/bias", prefix, bn[l]);
    if (!st) st = read_f32(loc, f, name, out, 0, hp + m->beta_off[l]);
    snprintf(name, sizeof name, "%s/%d/running_mean", prefix, bn[l]);
    if (!st) st = read_f32(loc, f, name, out, 0, hb + m->rmean_off[l]);
    snprintf(name, sizeof name, "%s/%d/running_var", prefix, bn[l]);
    if (!st) st = read_f32(loc, f, name, out, 0, hb + m->rvar_off[l]);
    if (st) continue;
    snprintf(name, sizeof name, "%s/%d/num_batches_tracked", prefix, bn[l]);
    hsize_t dims[4];
    int r = ds_shape(loc, name, dims);
    if (r < 0 || (r == 1 && dims[0] != 1) || r > 1) {
      st = mbrl_set_error(MBRL_ERR_FORMAT, "%s: missing or non-scalar dataset %s", f, name);
      continue;
    }
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    int64_t v = 0;
    herr_t e = H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
    H5Dclose(ds);
    if (e < 0 || v < 0)
      st = mbrl_set_error(MBRL_ERR_FORMAT, "%s: cannot read %s as a count >= 0", f, name);
    nbt[l] = v;
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
      st = mbrl_set_error(MBRL_ERR_NUMERIC, "%s: group %s holds a NaN or Inf value", f, prefix);
  }
  free(state);
  free(hp);
  return st;
}

mbrl_status mbrl_mlp_config_from_h5(hid_t loc, const char *prefix, mbrl_mlp_config *cfg) {
  if (!prefix || !cfg) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_config_from_h5: NULL argument");
  h5_quiet();
  char f[256];
  file_name(loc, f, sizeof f);
  if (!path_exists(loc, prefix))
    return mbrl_set_error(MBRL_ERR_FORMAT, "%s: no group %s holding network weights", f, prefix);
  int sizes[MBRL_MLP_MAX_LAYERS + 1];
  int nlin = 0, nbn = 0, gaps = 0, last = -1;
  char name[NAME_MAX_LEN];
  for (int i = 0; i < 64; ++i) {
    hsize_t dims[4] = {0, 0, 0, 0};
    snprintf(name, sizeof name, "%s/%d/weight", prefix, i);
    const int r = ds_shape(loc, name, dims);
    if (r < 0) continue;
    if (r == 2) {
      if (nlin >= MBRL_MLP_MAX_LAYERS)
        return mbrl_set_error(MBRL_ERR_FORMAT, "%s: more than %d Linear layers under %s", f,
                              MBRL_MLP_MAX_LAYERS, prefix);
      if (nlin > 0 && (int)dims[1] != sizes[nlin])
        return mbrl_set_error(MBRL_ERR_FORMAT,
                              "%s: %s has %llu inputs but the previous layer has %d outputs", f,
                              name, (unsigned long long)dims[1], sizes[nlin]);
      if (nlin == 0) sizes[0] = (int)dims[1];
      sizes[++nlin] = (int)dims[0];
    } else if (r == 1) {
      if (nlin == 0 || (int)dims[0] != sizes[nlin])
        return mbrl_set_error(MBRL_ERR_FORMAT, "%s: BatchNorm %s does not follow a Linear of its width",
                              f, name);
      nbn++;
    } else {
      return mbrl_set_error(MBRL_ERR_FORMAT, "%s: %s has rank %d (expected 1 or 2)", f, name, r);
    }
    if (last >= 0 && i - last > 1) gaps++;
    last = i;
  }
  if (nlin == 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "%s: no Linear weights (%s/0/weight ...) found", f, prefix);
  mbrl_mlp_config_init(cfg, nlin, sizes);
  cfg->batchnorm = nbn > 0;
  if (nbn > 0 && nbn != nlin - 1)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "%s: %d BatchNorm layers for %d Linear layers (need one per hidden layer)",
                          f, nbn, nlin);
  cfg->activation = gaps > 0 ? MBRL_ACT_RELU : MBRL_ACT_NONE;
  hid_t g = H5Gopen2(loc, prefix, H5P_DEFAULT);
  if (g >= 0) {
    if (H5Aexists(g, "activation") > 0) {
      hid_t a = H5Aopen(g, "activation", H5P_DEFAULT);
      hid_t t = H5Aget_type(a);
      char buf[64] = {0};
      if (H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
          char *s = NULL;
          hid_t mt = H5Tcopy(H5T_C_S1);
          H5Tset_size(mt, H5T_VARIABLE);
          H5Tset_cset(mt, H5Tget_cset(t));
          if (H5Aread(a, mt, &s) >= 0 && s) {
            snprintf(buf, sizeof buf, "%s", s);
            H5free_memory(s);
          }
          H5Tclose(mt);
        } else {
          size_t n = H5Tget_size(t);
          if (n < sizeof buf) H5Aread(a, t, buf);
        }
      }
      H5Tclose(t);
      H5Aclose(a);
      if (strcmp(buf, "relu") == 0) cfg->activation = MBRL_ACT_RELU;
      else if (strcmp(buf, "tanh") == 0) cfg->activation = MBRL_ACT_TANH;
      else if (strcmp(buf, "none") == 0) cfg->activation = MBRL_ACT_NONE;
      else {
        H5Gclose(g);
        return mbrl_set_error(MBRL_ERR_FORMAT, "%s: %s has unknown activation attribute '%s'", f,
                              prefix, buf);
      }
    }
    const char *fn[2] = {"bn_eps", "bn_momentum"};
    float *fv[2] = {&cfg->bn_eps, &cfg->bn_momentum};
    for (int i = 0; i < 2; ++i)
      if (H5Aexists(g, fn[i]) > 0) {
        hid_t a = H5Aopen(g, fn[i], H5P_DEFAULT);
        H5Aread(a, H5T_NATIVE_FLOAT, fv[i]);
        H5Aclose(a);
      }
    H5Gclose(g);
  }
  /* the module indices must be the ones this architecture produces */
  int lin[MBRL_MLP_MAX_LAYERS], bn[MBRL_MLP_MAX_LAYERS];
  module_indices(cfg, lin, bn);
  for (int l = 0; l < nlin; ++l) {
    hsize_t dims[4];
    snprintf(name, sizeof name, "%s/%d/weight", prefix, lin[l]);
    if (ds_shape(loc, name, dims) != 2)
      return mbrl_set_error(MBRL_ERR_FORMAT,
                            "%s: module indices under %s do not match a %s MLP (expected %s)", f,
                            prefix, act_name(cfg->activation), name);
  }
  return mbrl_mlp_config_check(cfg);
}

mbrl_status mbrl_mlp_save(const mbrl_mlp *m, const char *path) {
  if (!m || !path) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_save: NULL argument");
  h5_quiet();
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  hid_t fid = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (fid < 0)
    return mbrl_set_error(MBRL_ERR_IO, "%s: cannot create (does the directory exist and is it writable?)",
                          path);
  mbrl_status st = mbrl_mlp_write_h5(m, fid, "/network");
  if (!st) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    const char *fmt = "mbrl.mlp";
    hid_t a = H5Acreate2(fid, "format", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 || H5Awrite(a, t, &fmt) < 0;
    if (a >= 0) H5Aclose(a);
    int64_t ver = 1;
    a = H5Acreate2(fid, "format_version", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    e |= a < 0 || H5Awrite(a, H5T_NATIVE_INT64, &ver) < 0;
    if (a >= 0) H5Aclose(a);
    H5Tclose(t);
    H5Sclose(sp);
    if (e) st = mbrl_set_error(MBRL_ERR_IO, "%s: cannot write root attributes", path);
  }
  if (H5Fclose(fid) < 0 && !st) st = mbrl_set_error(MBRL_ERR_IO, "%s: cannot close (disk full?)", path);
  if (!st && rename(tmp, path) != 0)
    st = mbrl_set_error(MBRL_ERR_IO, "%s: cannot rename the temporary %s into place", path, tmp);
  if (st) remove(tmp);
  return st;
}

mbrl_status mbrl_mlp_load(const char *path, const char *prefix, mbrl_backend backend,
                          int max_batch, mbrl_mlp **out) {
  if (!path || !out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mlp_load: NULL argument");
  *out = NULL;
  h5_quiet();
  if (access(path, R_OK) != 0)
    return mbrl_set_error(MBRL_ERR_IO, "%s: cannot open (missing or unreadable)", path);
  if (H5Fis_hdf5(path) <= 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "%s is not an HDF5 file (truncated or another format)", path);
  hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (fid < 0) return mbrl_set_error(MBRL_ERR_FORMAT, "%s: cannot open as HDF5 (damaged?)", path);
  mbrl_mlp_config cfg;
  const char *pre = prefix ? prefix : "/network";
  mbrl_status st = mbrl_mlp_config_from_h5(fid, pre, &cfg);
  mbrl_mlp *m = NULL;
  if (!st) st = mbrl_mlp_create(&m, &cfg, backend, max_batch);
  if (!st) st = mbrl_mlp_read_h5(m, fid, pre);
  H5Fclose(fid);
  if (st) {
    mbrl_mlp_free(m);
    return st;
  }
  *out = m;
  return MBRL_OK;
}
