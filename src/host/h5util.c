/* h5util.c - HDF5 helpers: atomic file creation, checked float/bool datasets, attributes. */
#define _POSIX_C_SOURCE 200809L
#include "mbrl/h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void mbrl_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* ---- atomic writer ---- */

/* Copy the directory part of `path` into dir ("." when there is none). */
static void dir_of(const char *path, char *dir, size_t cap) {
  const char *slash = strrchr(path, '/');
  if (!slash) {
    snprintf(dir, cap, ".");
  } else if (slash == path) {
    snprintf(dir, cap, "/");
  } else {
    size_t len = (size_t)(slash - path);
    if (len >= cap) len = cap - 1;
    memcpy(dir, path, len);
    dir[len] = '\0';
  }
}

mbrl_status mbrl_h5_check_writable(const char *path) {
  if (!path || !*path) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "empty output file name");
  size_t len = strlen(path);
  if (len >= MBRL_H5_PATH_MAX)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "output path is too long (%zu bytes)", len);
  if (path[len - 1] == '/')
    return mbrl_set_error(MBRL_ERR_IO, "cannot write '%s': it names a directory; give a file name",
                          path);
  char dir[MBRL_H5_PATH_MAX];
  dir_of(path, dir, sizeof dir);
  struct stat st;
  if (stat(dir, &st) != 0)
    return mbrl_set_error(MBRL_ERR_IO,
                          "cannot write '%s': directory '%s' does not exist (create it first)",
                          path, dir);
  if (!S_ISDIR(st.st_mode))
    return mbrl_set_error(MBRL_ERR_IO, "cannot write '%s': '%s' is not a directory", path, dir);
  if (access(dir, W_OK | X_OK) != 0)
    return mbrl_set_error(MBRL_ERR_IO, "cannot write '%s': directory '%s' is not writable (%s)",
                          path, dir, strerror(errno));
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return mbrl_set_error(MBRL_ERR_IO, "cannot write '%s': it is a directory", path);
  return MBRL_OK;
}

mbrl_status mbrl_h5_writer_open(mbrl_h5_writer *w, const char *path) {
  mbrl_h5_quiet();
  w->file = H5I_INVALID_HID;
  w->path[0] = w->tmp_path[0] = '\0';
  mbrl_status cst = mbrl_h5_check_writable(path);
  if (cst != MBRL_OK) return cst;
  size_t len = strlen(path);
  memcpy(w->path, path, len + 1);
  snprintf(w->tmp_path, sizeof w->tmp_path, "%s.tmp.%ld", path, (long)getpid());

  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fcpl < 0 || fapl < 0) {
    if (fcpl >= 0) H5Pclose(fcpl);
    if (fapl >= 0) H5Pclose(fapl);
    return mbrl_set_error(MBRL_ERR_IO, "cannot write '%s': HDF5 property lists failed", path);
  }
  H5Pset_obj_track_times(fcpl, 0); /* root group: no time stamps */
  H5Pset_libver_bounds(fapl, H5F_LIBVER_EARLIEST, H5F_LIBVER_V18);
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  w->file = H5Fcreate(w->tmp_path, H5F_ACC_TRUNC, fcpl, fapl);
  H5Pclose(fcpl);
  H5Pclose(fapl);
  if (w->file < 0) {
    int e = errno;
    unlink(w->tmp_path);
    w->tmp_path[0] = '\0';
    return mbrl_set_error(MBRL_ERR_IO, "cannot create a temporary file next to '%s' (%s)", path,
                          e ? strerror(e) : "HDF5 error");
  }
  return MBRL_OK;
}

void mbrl_h5_writer_abort(mbrl_h5_writer *w) {
  if (w->file >= 0) H5Fclose(w->file);
  w->file = H5I_INVALID_HID;
  if (w->tmp_path[0]) unlink(w->tmp_path);
  w->tmp_path[0] = '\0';
}

mbrl_status mbrl_h5_writer_commit(mbrl_h5_writer *w) {
  if (w->file < 0 || !w->tmp_path[0])
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_h5_writer_commit: writer is not open");
  herr_t rc = H5Fclose(w->file);
  w->file = H5I_INVALID_HID;
  if (rc < 0) {
    mbrl_h5_writer_abort(w);
    return mbrl_set_error(MBRL_ERR_IO, "writing '%s' failed while closing the file (disk full?)",
                          w->path);
  }
  int fd = open(w->tmp_path, O_RDONLY);
  if (fd >= 0) {
    int bad = fsync(fd) != 0;
    int e = errno;
    close(fd);
    if (bad) {
      mbrl_h5_writer_abort(w);
      return mbrl_set_error(MBRL_ERR_IO, "writing '%s' failed (fsync: %s)", w->path, strerror(e));
    }
  }
  if (rename(w->tmp_path, w->path) != 0) {
    int e = errno;
    mbrl_h5_writer_abort(w);
    return mbrl_set_error(MBRL_ERR_IO, "cannot rename the temporary file onto '%s' (%s)",
                          w->path, strerror(e));
  }
  w->tmp_path[0] = '\0';
  return MBRL_OK;
}

mbrl_status mbrl_h5_open_read(const char *path, hid_t *out) {
  mbrl_h5_quiet();
  *out = H5I_INVALID_HID;
  struct stat st;
  if (!path || stat(path, &st) != 0)
    return mbrl_set_error(MBRL_ERR_IO, "cannot open '%s': %s", path ? path : "(null)",
                          strerror(errno));
  if (S_ISDIR(st.st_mode))
    return mbrl_set_error(MBRL_ERR_IO, "cannot open '%s': it is a directory", path);
  if (access(path, R_OK) != 0)
    return mbrl_set_error(MBRL_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  htri_t is = H5Fis_hdf5(path);
  if (is <= 0)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is not an HDF5 file (it is another format, empty or truncated)",
                          path);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f < 0)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is a damaged HDF5 file (truncated or corrupt); it cannot be opened",
                          path);
  *out = f;
  return MBRL_OK;
}

/* ---- datasets ---- */

static hid_t make_ocpl(hid_t cls) {
  hid_t p = H5Pcreate(cls);
  if (p >= 0) H5Pset_obj_track_times(p, 0);
  return p;
}

/* Create the parent groups of `name` (e.g. "stats" for "stats/state_mean"). */
static mbrl_status ensure_parents(hid_t loc, const char *name) {
  char buf[512];
  size_t len = strlen(name);
  if (len >= sizeof buf) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "HDF5 name too long: %s", name);
  memcpy(buf, name, len + 1);
  for (char *p = buf + (buf[0] == '/'); *p; ++p) {
    if (*p != '/') continue;
    *p = '\0';
    htri_t ex = H5Lexists(loc, buf, H5P_DEFAULT);
    if (ex <= 0) {
      hid_t gcpl = make_ocpl(H5P_GROUP_CREATE);
      hid_t g = H5Gcreate2(loc, buf, H5P_DEFAULT, gcpl, H5P_DEFAULT);
      H5Pclose(gcpl);
      if (g < 0) return mbrl_set_error(MBRL_ERR_IO, "cannot create HDF5 group %s", buf);
      H5Gclose(g);
    }
    *p = '/';
  }
  return MBRL_OK;
}

static mbrl_status write_dataset(hid_t loc, const char *name, int rank, const hsize_t *dims,
                                 hid_t file_type, hid_t mem_type, const void *data) {
  mbrl_status st = ensure_parents(loc, name);
  if (st != MBRL_OK) return st;
  hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
  hid_t dcpl = make_ocpl(H5P_DATASET_CREATE);
  hid_t d = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  herr_t rc = -1;
  if (d >= 0) {
    hsize_t total = 1;
    for (int i = 0; i < rank; ++i) total *= dims[i];
    rc = total ? H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    H5Dclose(d);
  }
  H5Pclose(dcpl);
  H5Sclose(space);
  if (rc < 0) return mbrl_set_error(MBRL_ERR_IO, "cannot write HDF5 dataset %s (disk full?)", name);
  return MBRL_OK;
}

mbrl_status mbrl_h5_write_f32(hid_t loc, const char *name, int rank, const hsize_t *dims,
                              const float *data) {
  if (rank < 0 || rank > 4)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_h5_write_f32: rank %d of %s", rank, name);
  return write_dataset(loc, name, rank, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data);
}

mbrl_status mbrl_h5_write_i64(hid_t loc, const char *name, int rank, const hsize_t *dims,
                              const int64_t *data) {
  if (rank < 0 || rank > 4)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_h5_write_i64: rank %d of %s", rank, name);
  return write_dataset(loc, name, rank, dims, H5T_STD_I64LE, H5T_NATIVE_INT64, data);
}

static hid_t bool_type(void) {
  hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
  int8_t v = 0;
  H5Tenum_insert(t, "FALSE", &v);
  v = 1;
  H5Tenum_insert(t, "TRUE", &v);
  return t;
}

mbrl_status mbrl_h5_write_bool(hid_t loc, const char *name, hsize_t n, const uint8_t *data) {
  hid_t t = bool_type();
  int8_t *tmp = (int8_t *)malloc(n ? n : 1);
  if (!tmp) {
    H5Tclose(t);
    return mbrl_set_error(MBRL_ERR_NOMEM, "out of memory writing %s", name);
  }
  for (hsize_t i = 0; i < n; ++i) tmp[i] = data[i] ? 1 : 0;
  mbrl_status st = write_dataset(loc, name, 1, &n, t, t, tmp);
  free(tmp);
  H5Tclose(t);
  return st;
}

/* Open dataset `name`, distinguishing "missing" from "not a dataset". */
static mbrl_status open_dataset(hid_t loc, const char *file, const char *name, hid_t *out) {
  char buf[512];
  size_t len = strlen(name);
  if (len >= sizeof buf) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "HDF5 name too long: %s", name);
  memcpy(buf, name, len + 1);
  /* Walk each prefix: H5Lexists fails on a path whose parent is missing. */
  for (char *p = buf + (buf[0] == '/');; ++p) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (H5Lexists(loc, buf, H5P_DEFAULT) <= 0)
        return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': missing dataset /%s", file,
                              name + (name[0] == '/'));
      *p = c;
      if (c == '\0') break;
    }
  }
  hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  if (d < 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /%s is not a dataset (or is damaged)", file,
                          name + (name[0] == '/'));
  *out = d;
  return MBRL_OK;
}

/* "[4000,3]"; a 0 extent (any) prints as N. */
static void dims_str(char *buf, size_t cap, int rank, const hsize_t *dims) {
  size_t k = (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < rank && k < cap; ++i) {
    if (dims[i] == 0)
      k += (size_t)snprintf(buf + k, cap - k, "%sN", i ? "," : "");
    else
      k += (size_t)snprintf(buf + k, cap - k, "%s%llu", i ? "," : "", (unsigned long long)dims[i]);
  }
  if (k < cap) snprintf(buf + k, cap - k, "]");
}

static const char *type_name(hid_t t) {
  H5T_class_t c = H5Tget_class(t);
  size_t sz = H5Tget_size(t);
  switch (c) {
    case H5T_FLOAT: return sz == 4 ? "float32" : sz == 8 ? "float64" : sz == 2 ? "float16" : "float";
    case H5T_INTEGER:
      if (H5Tget_sign(t) == H5T_SGN_NONE)
        return sz == 1 ? "uint8" : sz == 2 ? "uint16" : sz == 4 ? "uint32" : "uint64";
      return sz == 1 ? "int8" : sz == 2 ? "int16" : sz == 4 ? "int32" : "int64";
    case H5T_ENUM: return sz == 1 ? "bool/enum8" : "enum";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    default: return "an unsupported type";
  }
}

/* Check rank and shape of an open dataset against (rank, dims) with 0 = any. */
static mbrl_status check_shape(hid_t d, const char *file, const char *name, int rank,
                               hsize_t *dims) {
  hid_t sp = H5Dget_space(d);
  int r = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  hsize_t got[H5S_MAX_RANK];
  if (r >= 0) H5Sget_simple_extent_dims(sp, got, NULL);
  if (sp >= 0) H5Sclose(sp);
  const char *n = name + (name[0] == '/');
  if (r < 0) return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /%s has an unreadable shape", file, n);
  if (r != rank)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /%s has rank %d; expected rank %d", file, n, r,
                          rank);
  for (int i = 0; i < rank; ++i) {
    if (dims[i] != 0 && got[i] != dims[i]) {
      char a[96], b[96];
      dims_str(a, sizeof a, r, got);
      dims_str(b, sizeof b, rank, dims);
      return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /%s has shape %s; expected %s", file, n, a, b);
    }
  }
  for (int i = 0; i < rank; ++i) dims[i] = got[i];
  return MBRL_OK;
}

mbrl_status mbrl_h5_check_f32(hid_t loc, const char *file, const char *name, int rank,
                              hsize_t *dims) {
  mbrl_h5_quiet();
  hid_t d;
  mbrl_status st = open_dataset(loc, file, name, &d);
  if (st != MBRL_OK) return st;
  hid_t t = H5Dget_type(d);
  if (t < 0 || H5Tget_class(t) != H5T_FLOAT || H5Tget_size(t) != 4) {
    st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /%s has dtype %s; expected float32", file,
                        name + (name[0] == '/'), t >= 0 ? type_name(t) : "?");
  } else {
    st = check_shape(d, file, name, rank, dims);
  }
  if (t >= 0) H5Tclose(t);
  H5Dclose(d);
  return st;
}

mbrl_status mbrl_h5_check_bool(hid_t loc, const char *file, const char *name, hsize_t *n) {
  mbrl_h5_quiet();
  hid_t d;
  mbrl_status st = open_dataset(loc, file, name, &d);
  if (st != MBRL_OK) return st;
  hid_t t = H5Dget_type(d);
  H5T_class_t c = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
  if (!((c == H5T_ENUM || c == H5T_INTEGER) && H5Tget_size(t) == 1)) {
    st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /%s has dtype %s; expected bool", file,
                        name + (name[0] == '/'), t >= 0 ? type_name(t) : "?");
  } else {
    st = check_shape(d, file, name, 1, n);
  }
  if (t >= 0) H5Tclose(t);
  H5Dclose(d);
  return st;
}

mbrl_status mbrl_h5_read_f32(hid_t loc, const char *file, const char *name, float *out) {
  mbrl_h5_quiet();
  hid_t d;
  mbrl_status st = open_dataset(loc, file, name, &d);
  if (st != MBRL_OK) return st;
  herr_t rc = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
  H5Dclose(d);
  if (rc < 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': cannot read /%s (the file is damaged or truncated)",
                          file, name + (name[0] == '/'));
  return MBRL_OK;
}

mbrl_status mbrl_h5_read_i64(hid_t loc, const char *file, const char *name, int rank,
                             hsize_t *dims, int64_t *out) {
  mbrl_h5_quiet();
  hid_t d;
  mbrl_status st = open_dataset(loc, file, name, &d);
  if (st != MBRL_OK) return st;
  hid_t t = H5Dget_type(d);
  if (t < 0 || H5Tget_class(t) != H5T_INTEGER) {
    st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /%s has dtype %s; expected an integer", file,
                        name + (name[0] == '/'), t >= 0 ? type_name(t) : "?");
  } else {
    st = check_shape(d, file, name, rank, dims);
  }
  if (t >= 0) H5Tclose(t);
  if (st == MBRL_OK && out && H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': cannot read /%s (the file is damaged or truncated)",
                        file, name + (name[0] == '/'));
  H5Dclose(d);
  return st;
}

mbrl_status mbrl_h5_read_bool(hid_t loc, const char *file, const char *name, hsize_t n,
                              uint8_t *out) {
  mbrl_h5_quiet();
  hid_t d;
  mbrl_status st = open_dataset(loc, file, name, &d);
  if (st != MBRL_OK) return st;
  hid_t ft = H5Dget_type(d);
  hid_t mt = ft >= 0 ? H5Tget_native_type(ft, H5T_DIR_ASCEND) : H5I_INVALID_HID;
  herr_t rc = -1;
  if (mt >= 0 && H5Tget_size(mt) == 1) rc = H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
  if (mt >= 0) H5Tclose(mt);
  if (ft >= 0) H5Tclose(ft);
  H5Dclose(d);
  const char *nm = name + (name[0] == '/');
  if (rc < 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': cannot read /%s (the file is damaged or truncated)",
                          file, nm);
  for (hsize_t i = 0; i < n; ++i)
    if (out[i] > 1)
      return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /%s holds %d at row %llu; expected 0 or 1",
                            file, nm, (int)(int8_t)out[i], (unsigned long long)i);
  return MBRL_OK;
}

/* ---- attributes ---- */

static mbrl_status write_attr(hid_t loc, const char *name, hid_t type, const void *value) {
  if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = a >= 0 ? H5Awrite(a, type, value) : -1;
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  if (rc < 0) return mbrl_set_error(MBRL_ERR_IO, "cannot write HDF5 attribute %s", name);
  return MBRL_OK;
}

mbrl_status mbrl_h5_attr_write_str(hid_t loc, const char *name, const char *value) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  mbrl_status st = write_attr(loc, name, t, &value);
  H5Tclose(t);
  return st;
}

mbrl_status mbrl_h5_attr_write_i64(hid_t loc, const char *name, int64_t value) {
  return write_attr(loc, name, H5T_NATIVE_INT64, &value);
}

mbrl_status mbrl_h5_attr_write_u64(hid_t loc, const char *name, uint64_t value) {
  return write_attr(loc, name, H5T_NATIVE_UINT64, &value);
}

static mbrl_status open_attr(hid_t loc, const char *file, const char *name, hid_t *a) {
  mbrl_h5_quiet();
  if (H5Aexists(loc, name) <= 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': missing attribute '%s'", file, name);
  *a = H5Aopen(loc, name, H5P_DEFAULT);
  if (*a < 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': attribute '%s' cannot be read", file, name);
  hid_t sp = H5Aget_space(*a);
  hssize_t npts = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
  if (sp >= 0) H5Sclose(sp);
  if (npts != 1) {
    H5Aclose(*a);
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': attribute '%s' is not a single value", file,
                          name);
  }
  return MBRL_OK;
}

mbrl_status mbrl_h5_attr_read_str(hid_t loc, const char *file, const char *name, char *out,
                                  size_t cap) {
  hid_t a;
  mbrl_status st = open_attr(loc, file, name, &a);
  if (st != MBRL_OK) return st;
  hid_t ft = H5Aget_type(a);
  st = MBRL_OK;
  if (ft < 0 || H5Tget_class(ft) != H5T_STRING) {
    st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': attribute '%s' is not a string", file, name);
  } else if (H5Tis_variable_str(ft) > 0) {
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(ft));
    char *s = NULL;
    if (H5Aread(a, mt, &s) < 0 || !s) {
      st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': attribute '%s' cannot be read", file, name);
    } else {
      snprintf(out, cap, "%s", s);
      H5free_memory(s);
    }
    H5Tclose(mt);
  } else {
    size_t sz = H5Tget_size(ft);
    char *buf = (char *)calloc(sz + 1, 1);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, sz + 1);
    H5Tset_strpad(mt, H5T_STR_NULLTERM);
    H5Tset_cset(mt, H5Tget_cset(ft));
    if (!buf || H5Aread(a, mt, buf) < 0)
      st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': attribute '%s' cannot be read", file, name);
    else
      snprintf(out, cap, "%s", buf);
    free(buf);
    H5Tclose(mt);
  }
  if (ft >= 0) H5Tclose(ft);
  H5Aclose(a);
  return st;
}

static mbrl_status read_int_attr(hid_t loc, const char *file, const char *name, hid_t mt,
                                 void *out) {
  hid_t a;
  mbrl_status st = open_attr(loc, file, name, &a);
  if (st != MBRL_OK) return st;
  hid_t ft = H5Aget_type(a);
  if (ft < 0 || H5Tget_class(ft) != H5T_INTEGER)
    st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': attribute '%s' is not an integer", file, name);
  else if (H5Aread(a, mt, out) < 0)
    st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': attribute '%s' cannot be read", file, name);
  if (ft >= 0) H5Tclose(ft);
  H5Aclose(a);
  return st;
}

mbrl_status mbrl_h5_attr_read_i64(hid_t loc, const char *file, const char *name, int64_t *out) {
  return read_int_attr(loc, file, name, H5T_NATIVE_INT64, out);
}

mbrl_status mbrl_h5_attr_read_u64(hid_t loc, const char *file, const char *name, uint64_t *out) {
  return read_int_attr(loc, file, name, H5T_NATIVE_UINT64, out);
}

mbrl_status mbrl_h5_check_format(hid_t file_id, const char *file, const char *expect_format,
                                 int64_t expect_version) {
  mbrl_h5_quiet();
  if (H5Aexists(file_id, "format") <= 0)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is not an %s file (it has no 'format' attribute; it was not "
                          "written by mbrl)",
                          file, expect_format);
  char fmt[128];
  mbrl_status st = mbrl_h5_attr_read_str(file_id, file, "format", fmt, sizeof fmt);
  if (st != MBRL_OK) return st;
  if (strcmp(fmt, expect_format) != 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s' is not an %s file (its format attribute is '%s')",
                          file, expect_format, fmt);
  int64_t v = 0;
  st = mbrl_h5_attr_read_i64(file_id, file, "format_version", &v);
  if (st != MBRL_OK) return st;
  if (v != expect_version)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' has %s format_version %lld; this mbrl reads version %lld "
                          "(rewrite the file with this version of mbrl)",
                          file, expect_format, (long long)v, (long long)expect_version);
  return MBRL_OK;
}
