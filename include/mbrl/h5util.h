/* mbrl/h5util.h - the HDF5 layer every mbrl file goes through: atomic sealed writing, damage
 * detection before HDF5 parses a file, checked datasets and attributes.
 *
 * Writing (mbrl_h5_writer): HDF5 builds the file in memory, with HDF5's 1.8 file format
 * (superblock v2 and object headers v2: every piece of metadata carries a checksum HDF5
 * verifies). Every dataset gets a "sha256" attribute (hex SHA-256 of its little-endian element
 * bytes, numpy's `hashlib.sha256(ds[()].tobytes()).hexdigest()`), strings are fixed-length (no
 * global heap), nothing is time-stamped (same contents, same bytes). mbrl_h5_writer_commit()
 * puts a 512-byte seal in front of the image (HDF5's user block: format name and version, the
 * length and SHA-256 of everything after it, the SHA-256 of the seal itself), writes it to
 * `<path>.tmp.<pid>` (created at open and locked while it is written), fsyncs, renames it over
 * `path` and fsyncs the directory. HDF5 never writes to the disk itself, so a full disk is an
 * ordinary error. A failure removes the temporary and leaves `path` untouched; a temporary
 * left by a killed writer is removed by the next writer of the same `path` (a temporary whose
 * writer is alive stays locked and is kept). Any format written through these functions gets
 * all of this without doing anything.
 *
 * Reading (mbrl_h5_open_read): a sealed file is checked before HDF5 sees a byte of it: the
 * seal's own digest, the length (truncation, appended bytes) and the SHA-256 of the rest.
 * Any difference is MBRL_ERR_FORMAT naming the file. Reading a dataset verifies its "sha256"
 * attribute (required in sealed files), so a mismatch names the file and the object.
 * Files without a seal (format_version 1 files of older mbrl, files written by h5py) cannot
 * be verified; they are read only under mbrl_h5_guarded_read(), which first runs the whole
 * read in a separate process, so that a crash or hang of the HDF5 library on a damaged file
 * becomes an error naming the file (see README "Files: integrity"). The environment variable
 * MBRL_H5_GUARD=auto|always|off chooses: auto (default) checks unsealed files in a separate
 * process, always checks every file so, off reads every file in-process (fuzzing, trusted
 * files).
 *
 * Readers validate: every function taking `file` (the path, for messages) fails with
 * MBRL_ERR_FORMAT and a message "FILE: what is wrong" when a dataset is missing, has the
 * wrong rank, shape or dtype, or does not match its digest. HDF5's own error printing is
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

#define MBRL_H5_SEAL_BYTES 512 /* the user block holding the seal */

typedef struct mbrl_h5_writer {
  hid_t file;                        /* open HDF5 file to write into (the temporary) */
  int lock_fd;                       /* our descriptor of the temporary, holding its lock */
  char path[MBRL_H5_PATH_MAX];       /* final name */
  char tmp_path[MBRL_H5_PATH_MAX + 32]; /* `<path>.tmp.<pid>` */
} mbrl_h5_writer;

/* Check that `path` can be created: its directory exists and is writable and path is not a
 * directory. MBRL_ERR_IO naming the file and directory otherwise. */
mbrl_status mbrl_h5_check_writable(const char *path);

/* Create the temporary file for `path` (removing temporaries of `path` left by killed
 * writers first). Fails with MBRL_ERR_IO naming the directory when it is missing or not
 * writable; nothing is left on disk on failure. */
mbrl_status mbrl_h5_writer_open(mbrl_h5_writer *w, const char *path);

/* Close the file, seal it, fsync, rename the temporary over w->path and fsync the directory.
 * On failure (e.g. a full disk: MBRL_ERR_IO naming w->path) the temporary is removed and the
 * existing target is untouched. */
mbrl_status mbrl_h5_writer_commit(mbrl_h5_writer *w);

/* Close and delete the temporary (safe to call twice or after a failed open). */
void mbrl_h5_writer_abort(mbrl_h5_writer *w);

/* End a write: st == MBRL_OK commits (mbrl_h5_writer_commit); otherwise aborts and returns st
 * with the message "writing 'PATH' failed: <the message of st>; nothing was written". */
mbrl_status mbrl_h5_writer_finish(mbrl_h5_writer *w, mbrl_status st);

/* Remove the temporaries `<path>.tmp.<digits>` of path whose writer is gone (not locked);
 * returns how many were removed. mbrl_h5_writer_open calls it. */
int mbrl_h5_remove_stale_temporaries(const char *path);

/* What mbrl_h5_seal_check found. */
typedef struct mbrl_h5_seal_info {
  int sealed;               /* 1: a valid seal matched the contents; 0: the file has none */
  char format[64];          /* the sealed format name ("" when the file had none) */
  int64_t format_version;   /* the sealed format_version (0 when none) */
  uint64_t content_bytes;   /* bytes after the seal */
} mbrl_h5_seal_info;

/* Check path before any HDF5 call: a regular, readable file; with a seal, the seal and the
 * SHA-256 of everything after it must match (MBRL_ERR_FORMAT "'FILE' is damaged: ..." naming
 * what differs); without one it must at least carry an HDF5 signature (info->sealed = 0).
 * MBRL_ERR_IO when it cannot be read. */
mbrl_status mbrl_h5_seal_check(const char *path, mbrl_h5_seal_info *info);

/* Write a fresh seal over the current contents of `path`, a file with a 512-byte user block
 * (e.g. made by mbrl and then edited with HDF5 on purpose). It makes whatever the file holds
 * pass mbrl_h5_seal_check: for tools and tests that build damaged-but-sealed files. */
mbrl_status mbrl_h5_seal_rewrite(const char *path);

/* 1 when the open file `loc` belongs to has mbrl's 512-byte user block (its seal was checked
 * when mbrl_h5_open_read opened it), else 0. */
int mbrl_h5_is_sealed(hid_t loc);

/* Open an existing file read-only after mbrl_h5_seal_check. MBRL_ERR_IO if missing/unreadable,
 * MBRL_ERR_FORMAT if damaged or not HDF5. A file without a seal opens only inside
 * mbrl_h5_guarded_read (or with MBRL_H5_GUARD=off); elsewhere it is MBRL_ERR_FORMAT. */
mbrl_status mbrl_h5_open_read(const char *path, hid_t *out);

/* A whole read of one file: open `path`, read everything needed into `ctx`, close it. */
typedef mbrl_status (*mbrl_h5_read_fn)(const char *path, void *ctx);

/* Run read(path, ctx) safely. A sealed file is read in this process (the seal is checked
 * first). A file without a seal is first read by a child process (fork) whose results are
 * dropped: if HDF5 crashes (a signal) or runs past the time limit (5 s + 1 s per 10 MB,
 * or MBRL_H5_GUARD_TIMEOUT seconds) the result is MBRL_ERR_FORMAT "'FILE' is damaged: ..."
 * and nothing is read here; if the child's read fails, its status and message are returned;
 * only when it succeeds does read run here. read must give the same result when run twice
 * and must not touch a GPU when mbrl_h5_guard_child() is 1. Nested calls run read directly. */
mbrl_status mbrl_h5_guarded_read(const char *path, mbrl_h5_read_fn read, void *ctx);

/* 1 inside the checking child process of mbrl_h5_guarded_read (read into host memory only). */
int mbrl_h5_guard_child(void);

/* 1 if every component of `path` (e.g. "/model/network/0") exists under loc, 0 if one is
 * missing (or a component on the way is not a group), -1 if HDF5 cannot read the metadata on
 * the way (a damaged group: never take it for "absent"). No error is set: for optional
 * objects, whose callers must refuse -1. */
int mbrl_h5_exists(hid_t loc, const char *path);

/* Rank of dataset `name` and its first min(rank, cap) extents in dims; -1 (no error set)
 * when it is missing or not a dataset, -2 when its metadata (or its group's) cannot be read
 * (damaged). */
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

/* Attributes on object `loc` (e.g. the file's root). Strings are fixed-length UTF-8 of the
 * value's length (no global heap; h5py reads them as bytes: `.decode()`); integers are
 * int64 / uint64 scalars. */
mbrl_status mbrl_h5_attr_write_str(hid_t loc, const char *name, const char *value);
mbrl_status mbrl_h5_attr_write_i64(hid_t loc, const char *name, int64_t value);
mbrl_status mbrl_h5_attr_write_u64(hid_t loc, const char *name, uint64_t value);
mbrl_status mbrl_h5_attr_write_f32(hid_t loc, const char *name, float value);
mbrl_status mbrl_h5_attr_write_f64(hid_t loc, const char *name, double value);
/* A 1-D int64 attribute of n >= 1 values (e.g. layer widths). */
mbrl_status mbrl_h5_attr_write_i64_array(hid_t loc, const char *name, const int64_t *values,
                                         int n);

/* Read a string attribute (fixed length; variable length only in unsealed files) into out
 * (cap bytes, NUL ended; a longer value is cut to cap - 1 bytes).
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

/* Refuse (MBRL_ERR_FORMAT "'FILE' is damaged: it declares WHAT (N bytes) but holds only M")
 * a size claimed by a file's metadata (e.g. layer widths and model counts, before allocating
 * for them) when it exceeds twice the file's size plus 4 KiB: stored numbers take space. */
mbrl_status mbrl_h5_check_claim(hid_t loc, const char *file, double bytes, const char *what);

/* Check the root attributes format == expect_format and 1 <= format_version <= expect_version,
 * with messages like "FILE is not an mbrl.dataset file (format attribute is 'x')". A file of
 * format_version >= 2 must be sealed (versions from 2 on are always written sealed); version 1
 * files (older mbrl, h5py) are read unsealed. */
mbrl_status mbrl_h5_check_format(hid_t file_id, const char *file, const char *expect_format,
                                 int64_t expect_version);

MBRL_EXTERN_C_END

#endif
