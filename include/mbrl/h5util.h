/* mbrl/h5util.h - small HDF5 helpers shared by the dataset and checkpoint files.
 *
 * Every file is written through an mbrl_h5_writer: it creates `<path>.tmp.<pid>`,
 * the caller writes into w.file, then mbrl_h5_writer_commit() closes and rename()s
 * it over `path`; mbrl_h5_writer_abort() closes and removes the temporary, so a
 * failure never leaves a partial file nor touches an existing target. Files are
 * byte-identical for identical contents (no object time stamps).
 *
 * Readers validate: every function taking `file` (the path, for messages) fails
 * with MBRL_ERR_FORMAT and a message "FILE: what is wrong" when a dataset is
 * missing or has the wrong rank, shape or dtype. HDF5's own error printing is
 * silenced (mbrl_h5_quiet) by every entry point here. */
#ifndef MBRL_H5UTIL_H
#define MBRL_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

#define MBRL_H5_PATH_MAX 4096
#define MBRL_H5_NAME_MAX 512 /* longest object name inside a file, NUL included */

/* Turn off HDF5's automatic error-stack printing (idempotent). */
void mbrl_h5_quiet(void);

typedef struct mbrl_h5_writer {
  hid_t file;                        /* open HDF5 file to write into (the temporary) */
  char path[MBRL_H5_PATH_MAX];       /* final name */
  char tmp_path[MBRL_H5_PATH_MAX + 32]; /* `<path>.tmp.<pid>` */
} mbrl_h5_writer;

/* Check that `path` can be created: its directory exists and is writable and path is not a
 * directory. MBRL_ERR_IO naming the file and directory otherwise. */
mbrl_status mbrl_h5_check_writable(const char *path);

/* Create the temporary file for `path`. Fails with MBRL_ERR_IO naming the directory
 * when it is missing or not writable; nothing is left on disk on failure. */
mbrl_status mbrl_h5_writer_open(mbrl_h5_writer *w, const char *path);

/* Flush, close and rename the temporary over w->path. On failure the temporary is
 * removed and the existing target is untouched. */
mbrl_status mbrl_h5_writer_commit(mbrl_h5_writer *w);

/* Close and delete the temporary (safe to call twice or after a failed open). */
void mbrl_h5_writer_abort(mbrl_h5_writer *w);

/* End a write: st == MBRL_OK commits (mbrl_h5_writer_commit); otherwise aborts and returns st
 * with the message "writing 'PATH' failed: <the message of st>; nothing was written". */
mbrl_status mbrl_h5_writer_finish(mbrl_h5_writer *w, mbrl_status st);

/* Open an existing file read-only. MBRL_ERR_IO if missing/unreadable, MBRL_ERR_FORMAT
 * ("FILE is not an HDF5 file (truncated or another format)") if not HDF5. */
mbrl_status mbrl_h5_open_read(const char *path, hid_t *out);

/* 1 if every component of `path` (e.g. "/model/network/0") exists under loc, else 0 (no
 * error is set: for optional objects). */
int mbrl_h5_exists(hid_t loc, const char *path);

/* Rank of dataset `name` and its first min(rank, cap) extents in dims; -1 (no error set)
 * when it is missing or not a dataset. */
int mbrl_h5_dataset_rank(hid_t loc, const char *name, hsize_t *dims, int cap);

/* Write a float32 dataset `name` (may contain '/', parent groups are created) of
 * rank `rank` (0 = scalar, ..4) and shape dims (row-major, contiguous `data`). */
mbrl_status mbrl_h5_write_f32(hid_t loc, const char *name, int rank, const hsize_t *dims,
                              const float *data);

/* Write an int64 dataset (rank 0 = scalar, e.g. BatchNorm's num_batches_tracked). */
mbrl_status mbrl_h5_write_i64(hid_t loc, const char *name, int rank, const hsize_t *dims,
                              const int64_t *data);

/* Check that `name` is an integer dataset of rank `rank` (dims as in mbrl_h5_check_f32)
 * and, when out != NULL, read it as int64. */
mbrl_status mbrl_h5_read_i64(hid_t loc, const char *file, const char *name, int rank,
                             hsize_t *dims, int64_t *out);

/* Write a bool dataset (h5py reads numpy bool: enum int8 {FALSE=0, TRUE=1}) of shape (n). */
mbrl_status mbrl_h5_write_bool(hid_t loc, const char *name, hsize_t n, const uint8_t *data);

/* Check that dataset `name` exists, is float32 of rank `rank` (0 = scalar); dims[i] > 0 on entry
 * must match exactly, dims[i] == 0 accepts any extent and is filled in. */
mbrl_status mbrl_h5_check_f32(hid_t loc, const char *file, const char *name, int rank,
                              hsize_t *dims);

/* As mbrl_h5_check_f32 but any floating-point dtype passes (mbrl_h5_read_f32 converts it):
 * for weights other tools may have stored as float64. */
mbrl_status mbrl_h5_check_float(hid_t loc, const char *file, const char *name, int rank,
                                hsize_t *dims);

/* Check that dataset `name` exists, is rank 1 and bool (enum of 1-byte ints, or a
 * 1-byte integer); *n > 0 on entry must match, *n == 0 is filled in. */
mbrl_status mbrl_h5_check_bool(hid_t loc, const char *file, const char *name, hsize_t *n);

/* Read a float32 dataset whose shape was checked with mbrl_h5_check_f32 into `out`. */
mbrl_status mbrl_h5_read_f32(hid_t loc, const char *file, const char *name, float *out);

/* Read bool dataset `name` of exactly n rows (checked again here) into `out` (n bytes, each
 * 0 or 1; any other stored value is refused naming the row). */
mbrl_status mbrl_h5_read_bool(hid_t loc, const char *file, const char *name, hsize_t n,
                              uint8_t *out);

/* Attributes on object `loc` (e.g. the file's root). Strings are variable-length UTF-8
 * (h5py reads them as str); integers are int64 / uint64 scalars. */
mbrl_status mbrl_h5_attr_write_str(hid_t loc, const char *name, const char *value);
mbrl_status mbrl_h5_attr_write_i64(hid_t loc, const char *name, int64_t value);
mbrl_status mbrl_h5_attr_write_u64(hid_t loc, const char *name, uint64_t value);
mbrl_status mbrl_h5_attr_write_f32(hid_t loc, const char *name, float value);
/* A 1-D int64 attribute of n >= 1 values (e.g. layer widths). */
mbrl_status mbrl_h5_attr_write_i64_array(hid_t loc, const char *name, const int64_t *values,
                                         int n);

/* Read a string attribute (fixed or variable length) into out (cap bytes, NUL ended; a longer
 * value is cut to cap - 1 bytes).
 * MBRL_ERR_FORMAT "FILE: missing attribute NAME" / "...is not a string". */
mbrl_status mbrl_h5_attr_read_str(hid_t loc, const char *file, const char *name, char *out,
                                  size_t cap);
/* Read an integer attribute (any integer type, scalar) as int64 / uint64. */
mbrl_status mbrl_h5_attr_read_i64(hid_t loc, const char *file, const char *name, int64_t *out);
mbrl_status mbrl_h5_attr_read_u64(hid_t loc, const char *file, const char *name, uint64_t *out);
/* Read a numeric (float or integer) scalar attribute as float. */
mbrl_status mbrl_h5_attr_read_f32(hid_t loc, const char *file, const char *name, float *out);
/* Read an integer attribute of 1..cap values (scalar or 1-D) as int64 into out; *n gets the
 * count. More than cap values is MBRL_ERR_FORMAT. */
mbrl_status mbrl_h5_attr_read_i64_array(hid_t loc, const char *file, const char *name,
                                        int64_t *out, int cap, int *n);

/* Check the root attributes format == expect_format and format_version == expect_version,
 * with messages like "FILE is not an mbrl.dataset file (format attribute is 'x')". */
mbrl_status mbrl_h5_check_format(hid_t file_id, const char *file, const char *expect_format,
                                 int64_t expect_version);

MBRL_EXTERN_C_END

#endif
