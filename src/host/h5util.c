/* h5util.c - mbrl/h5util.h, object level: datasets carrying a SHA-256 attribute that reading
 * verifies, checked shapes and dtypes, fixed-length string attributes. The file level (seal,
 * atomic writer, guarded reading) is in h5file.c. */
#define _POSIX_C_SOURCE 200809L
#include "mbrl/h5util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/sha256.h"

#define DIGEST_ATTR "sha256"
#define STR_ATTR_MAX (1u << 20) /* longest string attribute read (damaged sizes are refused) */

/* ---- datasets ---- */

/* The name of the file holding `loc` (for messages), "(HDF5 file)" when unknown. */
static void loc_file_name(hid_t loc, char *buf, size_t cap) {
  if (H5Fget_name(loc, buf, cap) <= 0) snprintf(buf, cap, "(HDF5 file)");
}

/* An object-creation property list of class `cls` without time stamps (-1 on failure). */
static hid_t make_ocpl(hid_t cls) {
  hid_t p = H5Pcreate(cls);
  if (p >= 0 && H5Pset_obj_track_times(p, 0) < 0) {
    H5Pclose(p);
    return H5I_INVALID_HID;
  }
  return p;
}

/* Copy name into buf (cap bytes); MBRL_ERR_INVALID_ARG when it does not fit. */
static mbrl_status copy_name(char *buf, size_t cap, const char *name) {
  size_t len = strlen(name);
  if (len >= cap)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "HDF5 name is too long (%zu bytes, at most %zu): %.64s...",
                          len, cap - 1, name);
  memcpy(buf, name, len + 1);
  return MBRL_OK;
}

/* The type of object `name` under loc (H5I_GROUP, H5I_DATASET, ...), H5I_BADID when it cannot
 * be opened. */
static H5I_type_t object_type(hid_t loc, const char *name) {
  hid_t o = H5Oopen(loc, name, H5P_DEFAULT);
  if (o < 0) return H5I_BADID;
  const H5I_type_t t = H5Iget_type(o);
  H5Oclose(o);
  return t;
}

int mbrl_h5_exists(hid_t loc, const char *path) {
  char buf[MBRL_H5_NAME_MAX];
  if (!path || copy_name(buf, sizeof buf, path) != MBRL_OK) return 0;
  if (strcmp(buf, "/") == 0) return 1;
  /* Walk each prefix: H5Lexists fails on a path whose parent is missing. */
  char *start = buf + (buf[0] == '/');
  for (char *p = start;; ++p) {
    if (*p == '/' || *p == '\0') {
      const char c = *p;
      *p = '\0';
      const htri_t e = H5Lexists(loc, buf, H5P_DEFAULT);
      if (e == 0) return 0;
      if (e < 0) {
        /* the parent (present: checked one step ago) could not be searched: it is not a group
         * (the path is not there), or its metadata cannot be read (damaged) */
        char *slash = strrchr(buf, '/');
        const char *parent = ".";
        if (slash && slash == buf) parent = "/";
        if (slash && slash > buf) *slash = '\0', parent = buf;
        const H5I_type_t t = object_type(loc, parent);
        return t != H5I_BADID && t != H5I_GROUP ? 0 : -1;
      }
      *p = c;
      if (c == '\0') return 1;
    }
  }
}

/* Create the parent groups of `name` (e.g. "stats" for "stats/state_mean"). */
static mbrl_status ensure_parents(hid_t loc, const char *name) {
  char buf[MBRL_H5_NAME_MAX];
  mbrl_status st = copy_name(buf, sizeof buf, name);
  if (st != MBRL_OK) return st;
  for (char *p = buf + (buf[0] == '/'); *p; ++p) {
    if (*p != '/') continue;
    *p = '\0';
    if (H5Lexists(loc, buf, H5P_DEFAULT) <= 0) {
      hid_t gcpl = make_ocpl(H5P_GROUP_CREATE);
      hid_t g = gcpl < 0 ? H5I_INVALID_HID : H5Gcreate2(loc, buf, H5P_DEFAULT, gcpl, H5P_DEFAULT);
      if (gcpl >= 0) H5Pclose(gcpl);
      if (g < 0) {
        char f[512];
        loc_file_name(loc, f, sizeof f);
        return mbrl_set_error(MBRL_ERR_IO,
                              "'%s': cannot create HDF5 group %s (a dataset of that name, or "
                              "the disk is full?)",
                              f, buf);
      }
      H5Gclose(g);
    }
    *p = '/';
  }
  return MBRL_OK;
}

static mbrl_status write_attr(hid_t loc, const char *name, hid_t type, const void *value,
                              int count);

/* A fixed-length UTF-8 string type of len bytes (at least 1), NUL padded (-1 on failure). */
static hid_t fixed_str_type(size_t len) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t >= 0 && (H5Tset_size(t, len ? len : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
                 H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
    H5Tclose(t);
    return H5I_INVALID_HID;
  }
  return t;
}

/* Attribute "sha256" of object obj: the hex SHA-256 of the n bytes at data. */
static mbrl_status write_digest(hid_t obj, const void *data, size_t n) {
  uint8_t d[MBRL_SHA256_BYTES];
  char hex[MBRL_SHA256_HEX];
  mbrl_sha256(data, n, d);
  mbrl_sha256_hex(d, hex);
  hid_t t = fixed_str_type(64);
  if (t < 0) return mbrl_set_error(MBRL_ERR_IO, "cannot make the HDF5 string type for a digest");
  mbrl_status st = write_attr(obj, DIGEST_ATTR, t, hex, -1);
  H5Tclose(t);
  return st;
}

/* Write dataset `name` (contiguous: no chunks, no filters) and its "sha256" attribute over
 * the data's bytes; mem_type's bytes must be file_type's (little-endian host). */
static mbrl_status write_dataset(hid_t loc, const char *name, int rank, const hsize_t *dims,
                                 hid_t file_type, hid_t mem_type, const void *data) {
  mbrl_status st = ensure_parents(loc, name);
  if (st != MBRL_OK) return st;
  hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
  hid_t dcpl = make_ocpl(H5P_DATASET_CREATE);
  hid_t d = space < 0 || dcpl < 0 ? H5I_INVALID_HID
                                  : H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, dcpl,
                                               H5P_DEFAULT);
  herr_t rc = -1;
  if (d >= 0) {
    hsize_t total = 1;
    for (int i = 0; i < rank; ++i) total *= dims[i];
    rc = total ? H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    if (rc >= 0 && write_digest(d, data, (size_t)total * H5Tget_size(file_type)) != MBRL_OK)
      rc = -1;
    if (H5Dclose(d) < 0) rc = -1;
  }
  if (dcpl >= 0) H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);
  if (rc < 0) {
    char f[512];
    loc_file_name(loc, f, sizeof f);
    return mbrl_set_error(MBRL_ERR_IO,
                          "'%s': cannot write HDF5 dataset %s (it exists already, or the disk "
                          "is full?)",
                          f, name);
  }
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

/* numpy's bool as h5py stores it: enum int8 {FALSE=0, TRUE=1} (-1 on failure). */
static hid_t bool_type(void) {
  hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
  int8_t f = 0, tr = 1;
  if (t >= 0 && (H5Tenum_insert(t, "FALSE", &f) < 0 || H5Tenum_insert(t, "TRUE", &tr) < 0)) {
    H5Tclose(t);
    return H5I_INVALID_HID;
  }
  return t;
}

mbrl_status mbrl_h5_write_bool(hid_t loc, const char *name, hsize_t n, const uint8_t *data) {
  hid_t t = bool_type();
  if (t < 0) return mbrl_set_error(MBRL_ERR_IO, "cannot make the HDF5 bool type for %s", name);
  int8_t *tmp = (int8_t *)malloc(n ? (size_t)n : 1);
  if (!tmp) {
    H5Tclose(t);
    return mbrl_set_error(MBRL_ERR_NOMEM, "out of memory writing %s (%llu rows)", name,
                          (unsigned long long)n);
  }
  for (hsize_t i = 0; i < n; ++i) tmp[i] = data[i] ? 1 : 0;
  mbrl_status st = write_dataset(loc, name, 1, &n, t, t, tmp);
  free(tmp);
  H5Tclose(t);
  return st;
}

/* Open dataset `name`, distinguishing "missing" from "not a dataset". */
static mbrl_status open_dataset(hid_t loc, const char *file, const char *name, hid_t *out) {
  if (strlen(name) >= MBRL_H5_NAME_MAX)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "HDF5 name is too long (at most %d bytes): %.64s...",
                          MBRL_H5_NAME_MAX - 1, name);
  const int e = mbrl_h5_exists(loc, name);
  if (e < 0)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is damaged: the group holding /%s cannot be read", file,
                          name + (name[0] == '/'));
  if (e == 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': missing dataset /%s", file,
                          name + (name[0] == '/'));
  hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  if (d < 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /%s is not a dataset (or is damaged)", file,
                          name + (name[0] == '/'));
  *out = d;
  return MBRL_OK;
}

int mbrl_h5_dataset_rank(hid_t loc, const char *name, hsize_t *dims, int cap) {
  mbrl_h5_quiet();
  if (!name || strlen(name) >= MBRL_H5_NAME_MAX) return -1;
  const int e = mbrl_h5_exists(loc, name);
  if (e <= 0) return e < 0 ? -2 : -1;
  const H5I_type_t t = object_type(loc, name);
  if (t == H5I_BADID) return -2; /* the link is there, its object cannot be read */
  if (t != H5I_DATASET) return -1;
  hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  if (d < 0) return -2;
  hid_t sp = H5Dget_space(d);
  int r = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  hsize_t got[H5S_MAX_RANK];
  if (r >= 0 && H5Sget_simple_extent_dims(sp, got, NULL) < 0) r = -1;
  for (int i = 0; i < r && i < cap; ++i) dims[i] = got[i];
  if (sp >= 0) H5Sclose(sp);
  H5Dclose(d);
  return r;
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
  if (r >= 0 && H5Sget_simple_extent_dims(sp, got, NULL) < 0) r = -1;
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

/* The element types the checks accept. */
typedef enum dtype_kind { KIND_F32, KIND_FLOAT, KIND_INT, KIND_BOOL } dtype_kind;

static int dtype_ok(hid_t t, dtype_kind kind) {
  const H5T_class_t c = H5Tget_class(t);
  const size_t sz = H5Tget_size(t);
  switch (kind) {
    case KIND_F32: return c == H5T_FLOAT && sz == 4;
    case KIND_FLOAT: return c == H5T_FLOAT;
    case KIND_INT: return c == H5T_INTEGER;
    case KIND_BOOL: return (c == H5T_ENUM || c == H5T_INTEGER) && sz == 1;
  }
  return 0;
}

/* In a sealed file (always written by mbrl: contiguous, unfiltered data) the stored bytes of
 * dataset d must be exactly its elements and lie inside the file, so that no claimed shape
 * makes a reader allocate more than the file holds. Other files pass (read under the guard). */
static mbrl_status check_storage(hid_t d, const char *file, const char *name) {
  if (!mbrl_h5_is_sealed(d)) return MBRL_OK;
  hid_t dcpl = H5Dget_create_plist(d), t = H5Dget_type(d), sp = H5Dget_space(d);
  const H5D_layout_t layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
  const int nfilters = dcpl >= 0 ? H5Pget_nfilters(dcpl) : -1;
  hsize_t dims[H5S_MAX_RANK];
  const int rank = sp >= 0 ? H5Sget_simple_extent_dims(sp, dims, NULL) : -1;
  double npd = rank >= 0 ? 1.0 : -1.0; /* the element count, in double: no wrap-around */
  for (int i = 0; i < rank; ++i) npd *= (double)dims[i];
  const hssize_t np = npd >= 0.0 && npd < 9e18 ? (hssize_t)npd : -1;
  const size_t tsize = t >= 0 ? H5Tget_size(t) : 0;
  const hsize_t stored = H5Dget_storage_size(d);
  hsize_t fsize = 0;
  hid_t f = H5Iget_file_id(d);
  if (f < 0 || H5Fget_filesize(f, &fsize) < 0) fsize = 0;
  if (f >= 0) H5Fclose(f);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (t >= 0) H5Tclose(t);
  if (sp >= 0) H5Sclose(sp);
  const int ok = (layout == H5D_CONTIGUOUS || layout == H5D_COMPACT) && nfilters == 0 &&
                 np >= 0 && tsize > 0 && (hsize_t)np <= fsize / tsize &&
                 stored == (hsize_t)np * tsize && stored <= fsize;
  if (!ok)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is damaged: /%s claims %.4g elements of %zu bytes but stores "
                          "%llu bytes (the file holds %llu)",
                          file, name + (name[0] == '/'), npd, tsize,
                          (unsigned long long)stored, (unsigned long long)fsize);
  return MBRL_OK;
}

/* Open dataset `name` and check its dtype (kind) and shape (rank, dims as in
 * mbrl_h5_check_f32). On success the open dataset goes to *out when out != NULL (the
 * caller closes it), else it is closed. */
static mbrl_status check_dataset(hid_t loc, const char *file, const char *name, int rank,
                                 hsize_t *dims, dtype_kind kind, hid_t *out) {
  static const char *const expected[] = {"float32", "a floating-point type", "an integer",
                                         "bool"};
  mbrl_h5_quiet();
  hid_t d = H5I_INVALID_HID;
  mbrl_status st = open_dataset(loc, file, name, &d);
  if (st != MBRL_OK) return st;
  hid_t t = H5Dget_type(d);
  if (t < 0 || !dtype_ok(t, kind))
    st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /%s has dtype %s; expected %s", file,
                        name + (name[0] == '/'), t >= 0 ? type_name(t) : "?", expected[kind]);
  else
    st = check_shape(d, file, name, rank, dims);
  if (st == MBRL_OK) st = check_storage(d, file, name);
  if (t >= 0) H5Tclose(t);
  if (st == MBRL_OK && out)
    *out = d;
  else
    H5Dclose(d);
  return st;
}

mbrl_status mbrl_h5_check_f32(hid_t loc, const char *file, const char *name, int rank,
                              hsize_t *dims) {
  return check_dataset(loc, file, name, rank, dims, KIND_F32, NULL);
}

mbrl_status mbrl_h5_check_float(hid_t loc, const char *file, const char *name, int rank,
                                hsize_t *dims) {
  return check_dataset(loc, file, name, rank, dims, KIND_FLOAT, NULL);
}

mbrl_status mbrl_h5_check_bool(hid_t loc, const char *file, const char *name, hsize_t *n) {
  return check_dataset(loc, file, name, 1, n, KIND_BOOL, NULL);
}

/* "'FILE': cannot read /NAME (...)" */
static mbrl_status read_failed(const char *file, const char *name) {
  return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': cannot read /%s (the file is damaged or truncated)",
                        file, name + (name[0] == '/'));
}

/* Check the "sha256" attribute of dataset d (in file, named name) against the n bytes at buf.
 * A dataset without one passes in an unsealed file and fails in a sealed one. */
static mbrl_status verify_digest(hid_t d, const char *file, const char *name, const void *buf,
                                 size_t n, int has_digest) {
  const char *nm = name + (name[0] == '/');
  if (!has_digest)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is damaged: /%s has no sha256 attribute (every dataset of a "
                          "sealed file carries one)",
                          file, nm);
  char want[MBRL_SHA256_HEX] = "";
  hid_t a = H5Aopen(d, DIGEST_ATTR, H5P_DEFAULT);
  hid_t t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
  hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
  int ok = t >= 0 && sp >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0 &&
           H5Tget_size(t) == 64 && H5Sget_simple_extent_npoints(sp) == 1;
  hid_t mt = ok ? fixed_str_type(64) : H5I_INVALID_HID;
  char got[64];
  ok = ok && mt >= 0 && H5Aread(a, mt, got) >= 0;
  if (ok) memcpy(want, got, 64), want[64] = '\0';
  if (mt >= 0) H5Tclose(mt);
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  if (a >= 0) H5Aclose(a);
  if (!ok)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is damaged: the sha256 attribute of /%s is not 64 hex digits", file,
                          nm);
  uint8_t dg[MBRL_SHA256_BYTES];
  char hex[MBRL_SHA256_HEX];
  mbrl_sha256(buf, n, dg);
  mbrl_sha256_hex(dg, hex);
  if (memcmp(hex, want, 64) != 0)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is damaged: the numbers of /%s do not match its SHA-256 digest "
                          "(restore the file from a copy or write it again)",
                          file, nm);
  return MBRL_OK;
}

/* Read all of open dataset d as mem_type into out (its element count was checked by the
 * caller), verifying its digest when it has one (always in a sealed file). The digest covers
 * the elements in the file's type: when that differs from mem_type (other programs' files)
 * they are read a second time unconverted. */
static mbrl_status read_verified(hid_t d, const char *file, const char *name, hid_t mem_type,
                                 void *out) {
  mbrl_status cs = check_storage(d, file, name);
  if (cs != MBRL_OK) return cs;
  const int has = H5Aexists(d, DIGEST_ATTR) > 0;
  const int check = has || mbrl_h5_is_sealed(d);
  hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
  const hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
  if (sp >= 0) H5Sclose(sp);
  mbrl_status st = MBRL_OK;
  if (ft < 0 || np < 0) {
    st = read_failed(file, name);
  } else if (!check || H5Tequal(ft, mem_type) > 0) {
    if (np > 0 && H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
      st = read_failed(file, name);
    else if (check)
      st = verify_digest(d, file, name, out, (size_t)np * H5Tget_size(ft), has);
  } else {
    const size_t n = (size_t)np * H5Tget_size(ft);
    void *raw = malloc(n ? n : 1);
    if (!raw)
      st = mbrl_set_error(MBRL_ERR_NOMEM, "'%s': out of memory reading /%s", file,
                          name + (name[0] == '/'));
    else if (np > 0 && H5Dread(d, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0)
      st = read_failed(file, name);
    else if ((st = verify_digest(d, file, name, raw, n, has)) == MBRL_OK && np > 0 &&
             H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
      st = read_failed(file, name);
    free(raw);
  }
  if (ft >= 0) H5Tclose(ft);
  return st;
}

mbrl_status mbrl_h5_read_f32(hid_t loc, const char *file, const char *name, float *out) {
  mbrl_h5_quiet();
  hid_t d = H5I_INVALID_HID;
  mbrl_status st = open_dataset(loc, file, name, &d);
  if (st != MBRL_OK) return st;
  st = read_verified(d, file, name, H5T_NATIVE_FLOAT, out);
  H5Dclose(d);
  return st;
}

mbrl_status mbrl_h5_read_i64(hid_t loc, const char *file, const char *name, int rank,
                             hsize_t *dims, int64_t *out) {
  hid_t d = H5I_INVALID_HID;
  mbrl_status st = check_dataset(loc, file, name, rank, dims, KIND_INT, &d);
  if (st != MBRL_OK) return st;
  if (out) st = read_verified(d, file, name, H5T_NATIVE_INT64, out);
  H5Dclose(d);
  return st;
}

mbrl_status mbrl_h5_read_bool(hid_t loc, const char *file, const char *name, hsize_t n,
                              uint8_t *out) {
  hsize_t rows = n;
  hid_t d = H5I_INVALID_HID;
  mbrl_status st = check_dataset(loc, file, name, 1, &rows, KIND_BOOL, &d);
  if (st != MBRL_OK) return st;
  if (rows != n) { /* n == 0 on entry */
    H5Dclose(d);
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /%s has %llu rows; expected %llu", file,
                          name + (name[0] == '/'), (unsigned long long)rows,
                          (unsigned long long)n);
  }
  hid_t ft = H5Dget_type(d);
  hid_t mt = ft >= 0 ? H5Tget_native_type(ft, H5T_DIR_ASCEND) : H5I_INVALID_HID;
  if (mt >= 0 && H5Tget_size(mt) == 1)
    st = read_verified(d, file, name, mt, out);
  else
    st = read_failed(file, name);
  if (mt >= 0) H5Tclose(mt);
  if (ft >= 0) H5Tclose(ft);
  H5Dclose(d);
  if (st != MBRL_OK) return st;
  for (hsize_t i = 0; i < n; ++i)
    if (out[i] > 1)
      return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': /%s holds %d at row %llu; expected 0 or 1",
                            file, name + (name[0] == '/'), (int)(int8_t)out[i],
                            (unsigned long long)i);
  return MBRL_OK;
}

/* ---- attributes ---- */

/* Write attribute `name` of `count` values (count < 0: a scalar) stored as `type` from
 * memory of `type`, replacing an existing one. */
static mbrl_status write_attr(hid_t loc, const char *name, hid_t type, const void *value,
                              int count) {
  char f[512];
  if (H5Aexists(loc, name) > 0 && H5Adelete(loc, name) < 0) {
    loc_file_name(loc, f, sizeof f);
    return mbrl_set_error(MBRL_ERR_IO, "'%s': cannot replace HDF5 attribute %s", f, name);
  }
  hsize_t n = count < 0 ? 1 : (hsize_t)count;
  hid_t sp = count < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
  hid_t a = sp < 0 ? H5I_INVALID_HID : H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = a >= 0 ? H5Awrite(a, type, value) : -1;
  if (a >= 0 && H5Aclose(a) < 0) rc = -1;
  if (sp >= 0) H5Sclose(sp);
  if (rc < 0) {
    loc_file_name(loc, f, sizeof f);
    return mbrl_set_error(MBRL_ERR_IO, "'%s': cannot write HDF5 attribute %s (disk full?)", f,
                          name);
  }
  return MBRL_OK;
}

mbrl_status mbrl_h5_attr_write_str(hid_t loc, const char *name, const char *value) {
  const size_t len = strlen(value);
  if (len > 60000) /* an object header holds at most 64 KiB */
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "attribute %s: %zu bytes is too long", name, len);
  hid_t t = fixed_str_type(len);
  if (t < 0)
    return mbrl_set_error(MBRL_ERR_IO, "cannot make the HDF5 string type for attribute %s", name);
  char one = '\0';
  mbrl_status st = write_attr(loc, name, t, len ? value : &one, -1);
  H5Tclose(t);
  return st;
}

mbrl_status mbrl_h5_attr_write_i64(hid_t loc, const char *name, int64_t value) {
  return write_attr(loc, name, H5T_NATIVE_INT64, &value, -1);
}

mbrl_status mbrl_h5_attr_write_u64(hid_t loc, const char *name, uint64_t value) {
  return write_attr(loc, name, H5T_NATIVE_UINT64, &value, -1);
}

mbrl_status mbrl_h5_attr_write_f32(hid_t loc, const char *name, float value) {
  return write_attr(loc, name, H5T_NATIVE_FLOAT, &value, -1);
}

mbrl_status mbrl_h5_attr_write_f64(hid_t loc, const char *name, double value) {
  return write_attr(loc, name, H5T_NATIVE_DOUBLE, &value, -1);
}

mbrl_status mbrl_h5_attr_write_i64_array(hid_t loc, const char *name, const int64_t *values,
                                         int n) {
  if (n < 1)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "attribute %s: %d values; give at least one",
                          name, n);
  return write_attr(loc, name, H5T_NATIVE_INT64, values, n);
}

/* Open attribute `name` holding 1..cap values (a scalar or a 1-D array); *n gets the count. */
static mbrl_status open_attr_n(hid_t loc, const char *file, const char *name, hid_t *a,
                               hssize_t cap, hssize_t *n) {
  mbrl_h5_quiet();
  if (H5Aexists(loc, name) <= 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': missing attribute '%s'", file, name);
  *a = H5Aopen(loc, name, H5P_DEFAULT);
  if (*a < 0)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': attribute '%s' cannot be read", file, name);
  hid_t sp = H5Aget_space(*a);
  int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  *n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
  if (sp >= 0) H5Sclose(sp);
  if (rank < 0 || rank > 1 || *n < 1 || *n > cap) {
    H5Aclose(*a);
    if (cap == 1)
      return mbrl_set_error(MBRL_ERR_FORMAT, "'%s': attribute '%s' is not a single value", file,
                            name);
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s': attribute '%s' is not a list of 1 to %lld values", file, name,
                          (long long)cap);
  }
  return MBRL_OK;
}

static mbrl_status open_attr(hid_t loc, const char *file, const char *name, hid_t *a) {
  hssize_t n;
  return open_attr_n(loc, file, name, a, 1, &n);
}

mbrl_status mbrl_h5_attr_read_str(hid_t loc, const char *file, const char *name, char *out,
                                  size_t cap) {
  hid_t a = H5I_INVALID_HID;
  mbrl_status st = open_attr(loc, file, name, &a);
  if (st != MBRL_OK) return st;
  hid_t ft = H5Aget_type(a);
  st = MBRL_OK;
  if (ft < 0 || H5Tget_class(ft) != H5T_STRING) {
    st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': attribute '%s' is not a string", file, name);
  } else if (H5Tis_variable_str(ft) > 0) {
    /* variable-length strings live in the global heap, which has no checksum: only in
     * unsealed (older or other programs') files */
    if (mbrl_h5_is_sealed(loc)) {
      st = mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is damaged: attribute '%s' is a variable-length string (sealed "
                          "files hold fixed-length strings only)",
                          file, name);
    } else {
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
    }
  } else {
    const size_t sz = H5Tget_size(ft);
    char *buf = sz >= 1 && sz <= STR_ATTR_MAX ? (char *)calloc(sz + 1, 1) : NULL;
    if (sz < 1 || sz > STR_ATTR_MAX)
      st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': attribute '%s' is a string of %zu bytes "
                          "(damaged?)", file, name, sz);
    else if (!buf || H5Aread(a, ft, buf) < 0) /* the stored type: no conversion */
      st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': attribute '%s' cannot be read", file, name);
    else
      snprintf(out, cap, "%s", buf);
    free(buf);
  }
  if (ft >= 0) H5Tclose(ft);
  H5Aclose(a);
  return st;
}

/* Read attribute `name` (1..cap integers, or numbers when any_number) converted to memory type
 * mt into out; *n (may be NULL) gets the count. */
static mbrl_status read_num_attr(hid_t loc, const char *file, const char *name, hid_t mt,
                                 int any_number, hssize_t cap, void *out, int *n) {
  hid_t a = H5I_INVALID_HID;
  hssize_t count;
  mbrl_status st = open_attr_n(loc, file, name, &a, cap, &count);
  if (st != MBRL_OK) return st;
  hid_t ft = H5Aget_type(a);
  const H5T_class_t c = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
  if (!(c == H5T_INTEGER || (any_number && c == H5T_FLOAT)))
    st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': attribute '%s' is not %s", file, name,
                        any_number ? "a number" : "an integer");
  else if (H5Aread(a, mt, out) < 0)
    st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s': attribute '%s' cannot be read", file, name);
  if (ft >= 0) H5Tclose(ft);
  H5Aclose(a);
  if (st == MBRL_OK && n) *n = (int)count;
  return st;
}

mbrl_status mbrl_h5_attr_read_i64(hid_t loc, const char *file, const char *name, int64_t *out) {
  return read_num_attr(loc, file, name, H5T_NATIVE_INT64, 0, 1, out, NULL);
}

mbrl_status mbrl_h5_attr_read_u64(hid_t loc, const char *file, const char *name, uint64_t *out) {
  return read_num_attr(loc, file, name, H5T_NATIVE_UINT64, 0, 1, out, NULL);
}

mbrl_status mbrl_h5_attr_read_f32(hid_t loc, const char *file, const char *name, float *out) {
  return read_num_attr(loc, file, name, H5T_NATIVE_FLOAT, 1, 1, out, NULL);
}

mbrl_status mbrl_h5_attr_read_i64_array(hid_t loc, const char *file, const char *name,
                                        int64_t *out, int cap, int *n) {
  if (cap < 1) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "attribute %s: capacity %d", name, cap);
  return read_num_attr(loc, file, name, H5T_NATIVE_INT64, 0, cap, out, n);
}

mbrl_status mbrl_h5_check_claim(hid_t loc, const char *file, double bytes, const char *what) {
  hsize_t fsize = 0;
  hid_t f = H5Iget_file_id(loc);
  if (f < 0 || H5Fget_filesize(f, &fsize) < 0) fsize = 0;
  if (f >= 0) H5Fclose(f);
  if (bytes <= 2.0 * (double)fsize + 4096.0) return MBRL_OK;
  return mbrl_set_error(MBRL_ERR_FORMAT,
                        "'%s' is damaged: it declares %s (%.4g bytes of numbers) but holds only "
                        "%llu bytes",
                        file, what, bytes, (unsigned long long)fsize);
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
  if (v < 1 || v > expect_version)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' has %s format_version %lld; this mbrl reads versions 1 to %lld "
                          "(a newer mbrl wrote it, or it is damaged)",
                          file, expect_format, (long long)v, (long long)expect_version);
  if (v >= 2 && !mbrl_h5_is_sealed(file_id))
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' claims %s format_version %lld but has no mbrl seal (versions 2 "
                          "and later are always written sealed: it was rewritten by another "
                          "program or is damaged); other programs should write format_version 1",
                          file, expect_format, (long long)v);
  return MBRL_OK;
}
