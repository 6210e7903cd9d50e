/* h5file.c - mbrl/h5util.h, file level: the atomic sealed writer (with the removal of
 * temporaries left by killed writers), the seal check made before HDF5 parses a file, and
 * mbrl_h5_guarded_read (unsealed files are read first by a child process).
 *
 * The seal: the first 512 bytes of the file (HDF5's user block, which HDF5 skips), written
 * after HDF5 has closed the file. Little-endian:
 *   [0,16)    magic "\x89MBRL SEAL\r\n\x1a\n\0\0"
 *   [16,20)   seal version (1)            [20,24)  seal size (512)
 *   [24,32)   content bytes: file size - 512
 *   [32,64)   SHA-256 of the content (bytes 512 .. end of file)
 *   [64,128)  format name, NUL padded ("" when the root has no `format` attribute)
 *   [128,136) format_version (0 when none)
 *   [136,168) SHA-256 of bytes [0,136)
 *   [168,512) zero
 * Python: hashlib.sha256(open(f, 'rb').read()[512:]).digest() == seal[32:64]. */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include <dirent.h>
#include <omp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/sha256.h"
#include "mbrl/h5util.h"

#ifdef MBRL_FUZZ_BUILD
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mbrl's file digests assume a little-endian host"
#endif

#define SEAL_VERSION 1u
#define SEAL_HEAD_BYTES 136 /* bytes covered by the seal's own digest */
static const unsigned char k_magic[16] = {0x89, 'M', 'B', 'R', 'L', ' ', 'S',  'E',
                                          'A',  'L', '\r', '\n', 0x1a, '\n', 0, 0};
static const unsigned char k_hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

void mbrl_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* ---------------------------------------------------------------- small I/O helpers */

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | p[i];
  return v;
}
static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

/* pread exactly n bytes at off; 0 ok, -1 error (errno set; EIO-like 0 on a short file). */
static int pread_full(int fd, void *buf, size_t n, off_t off) {
  unsigned char *p = (unsigned char *)buf;
  while (n) {
    ssize_t r = pread(fd, p, n, off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = 0;
      return -1;
    }
    p += r, n -= (size_t)r, off += r;
  }
  return 0;
}

static int pwrite_full(int fd, const void *buf, size_t n, off_t off) {
  const unsigned char *p = (const unsigned char *)buf;
  while (n) {
    ssize_t r = pwrite(fd, p, n, off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = EIO;
      return -1;
    }
    p += r, n -= (size_t)r, off += r;
  }
  return 0;
}

/* SHA-256 of bytes [off, off + n) of fd. 0 ok, -1 read error (errno). */
static int digest_range(int fd, off_t off, uint64_t n, uint8_t out[MBRL_SHA256_BYTES]) {
  enum { CHUNK = 1 << 16 };
  unsigned char *buf = (unsigned char *)malloc(CHUNK);
  if (!buf) {
    errno = ENOMEM;
    return -1;
  }
  mbrl_sha256_ctx s;
  mbrl_sha256_init(&s);
  while (n) {
    const size_t k = n < CHUNK ? (size_t)n : CHUNK;
    if (pread_full(fd, buf, k, off) != 0) {
      free(buf);
      return -1;
    }
    mbrl_sha256_update(&s, buf, k);
    off += (off_t)k, n -= k;
  }
  free(buf);
  mbrl_sha256_final(&s, out);
  return 0;
}

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

/* ---------------------------------------------------------------- the seal */

/* Build the 512-byte seal for content of `content_bytes` with digest `cd`. */
static void seal_build(unsigned char seal[MBRL_H5_SEAL_BYTES], uint64_t content_bytes,
                       const uint8_t cd[MBRL_SHA256_BYTES], const char *format,
                       int64_t version) {
  memset(seal, 0, MBRL_H5_SEAL_BYTES);
  memcpy(seal, k_magic, sizeof k_magic);
  put_u32(seal + 16, SEAL_VERSION);
  put_u32(seal + 20, MBRL_H5_SEAL_BYTES);
  put_u64(seal + 24, content_bytes);
  memcpy(seal + 32, cd, MBRL_SHA256_BYTES);
  size_t fl = strlen(format);
  memcpy(seal + 64, format, fl < 63 ? fl : 63);
  put_u64(seal + 128, (uint64_t)version);
  mbrl_sha256(seal, SEAL_HEAD_BYTES, seal + SEAL_HEAD_BYTES);
}

/* Seal the file open as fd (HDF5 closed it already): digest bytes [512, size), write the
 * seal at 0. 0 ok, -1 error (errno). */
static int seal_fd(int fd, const char *format, int64_t version) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -1;
  if (st.st_size < MBRL_H5_SEAL_BYTES) {
    errno = EINVAL;
    return -1;
  }
  const uint64_t n = (uint64_t)st.st_size - MBRL_H5_SEAL_BYTES;
  uint8_t cd[MBRL_SHA256_BYTES];
  if (digest_range(fd, MBRL_H5_SEAL_BYTES, n, cd) != 0) return -1;
  unsigned char seal[MBRL_H5_SEAL_BYTES];
  seal_build(seal, n, cd, format, version);
  return pwrite_full(fd, seal, sizeof seal, 0);
}

/* Where the HDF5 signature is: 0, 512, 1024, ... (the user block sizes HDF5 allows) up to
 * the file size; -1 when there is none. */
static off_t find_hdf5_signature(int fd, off_t size) {
  unsigned char sig[8];
  for (off_t at = 0; at + 8 <= size; at = at ? 2 * at : 512)
    if (pread_full(fd, sig, 8, at) == 0 && memcmp(sig, k_hdf5_sig, 8) == 0) return at;
  return -1;
}

/* HDF5's metadata checksum: Bob Jenkins' lookup3 hashlittle() with initval 0 (the checksum
 * the HDF5 file format specifies for superblock versions 2 and 3). */
static uint32_t rot32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
static uint32_t hdf5_checksum(const unsigned char *k, size_t length) {
  uint32_t a, b, c;
  a = b = c = 0xdeadbeefu + (uint32_t)length;
  while (length > 12) {
    a += k[0] + ((uint32_t)k[1] << 8) + ((uint32_t)k[2] << 16) + ((uint32_t)k[3] << 24);
    b += k[4] + ((uint32_t)k[5] << 8) + ((uint32_t)k[6] << 16) + ((uint32_t)k[7] << 24);
    c += k[8] + ((uint32_t)k[9] << 8) + ((uint32_t)k[10] << 16) + ((uint32_t)k[11] << 24);
    a -= c, a ^= rot32(c, 4), c += b;
    b -= a, b ^= rot32(a, 6), a += c;
    c -= b, c ^= rot32(b, 8), b += a;
    a -= c, a ^= rot32(c, 16), c += b;
    b -= a, b ^= rot32(a, 19), a += c;
    c -= b, c ^= rot32(b, 4), b += a;
    length -= 12, k += 12;
  }
  if (length == 0) return c;
  unsigned char t[12] = {0};
  memcpy(t, k, length);
  a += t[0] + ((uint32_t)t[1] << 8) + ((uint32_t)t[2] << 16) + ((uint32_t)t[3] << 24);
  b += t[4] + ((uint32_t)t[5] << 8) + ((uint32_t)t[6] << 16) + ((uint32_t)t[7] << 24);
  c += t[8] + ((uint32_t)t[9] << 8) + ((uint32_t)t[10] << 16) + ((uint32_t)t[11] << 24);
  c ^= b, c -= rot32(b, 14);
  a ^= c, a -= rot32(c, 11);
  b ^= a, b -= rot32(a, 25);
  c ^= b, c -= rot32(b, 16);
  a ^= c, a -= rot32(c, 4);
  b ^= a, b -= rot32(a, 14);
  c ^= b, c -= rot32(b, 24);
  return c;
}

/* The image H5Fget_file_image returns for a superblock of version 2 (HDF5 1.10.8) carries a
 * stale superblock checksum (the image's end-of-file address is patched in after the checksum
 * was computed): recompute it. 8-byte addresses: the checksum follows 44 bytes. */
static int fix_superblock_checksum(unsigned char *img, size_t n) {
  if (n < 48 || memcmp(img, k_hdf5_sig, 8) != 0) return -1;
  if (img[8] != 2 && img[8] != 3) return 0; /* older superblocks carry no checksum */
  if (img[9] != 8 || img[10] != 8) return -1;
  put_u32(img + 44, hdf5_checksum(img, 44));
  return 0;
}

/* Check the seal of the open file fd (size bytes) named path. */
static mbrl_status seal_check_fd(int fd, const char *path, off_t size, mbrl_h5_seal_info *info) {
  memset(info, 0, sizeof *info);
  unsigned char seal[MBRL_H5_SEAL_BYTES];
  const size_t head = size < MBRL_H5_SEAL_BYTES ? (size_t)size : MBRL_H5_SEAL_BYTES;
  if (head && pread_full(fd, seal, head, 0) != 0)
    return mbrl_set_error(MBRL_ERR_IO, "cannot read '%s': %s", path,
                          errno ? strerror(errno) : "short read");
  if (head < sizeof k_magic || memcmp(seal, k_magic, sizeof k_magic) != 0) {
    /* No seal: an unsealed HDF5 file (signature at 0, or a foreign user block of 1024+),
     * a sealed file whose seal is damaged (signature at 512), or not HDF5 at all. */
    const off_t at = find_hdf5_signature(fd, size);
    if (at == MBRL_H5_SEAL_BYTES)
      return mbrl_set_error(MBRL_ERR_FORMAT,
                            "'%s' is damaged: its first 512 bytes should hold mbrl's seal but "
                            "do not (the file was corrupted or overwritten by another program); "
                            "restore it from a copy or write it again",
                            path);
    if (at < 0)
      return mbrl_set_error(MBRL_ERR_FORMAT,
                            "'%s' is not an HDF5 file (it is another format, empty or truncated)",
                            path);
    info->content_bytes = (uint64_t)size;
    return MBRL_OK;
  }
  uint8_t d[MBRL_SHA256_BYTES];
  if (head < MBRL_H5_SEAL_BYTES)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is damaged: it is truncated (%lld bytes, shorter than its "
                          "512-byte seal); restore it from a copy or write it again",
                          path, (long long)size);
  mbrl_sha256(seal, SEAL_HEAD_BYTES, d);
  int zero_tail = 1;
  for (size_t i = SEAL_HEAD_BYTES + MBRL_SHA256_BYTES; i < sizeof seal; ++i) zero_tail &= !seal[i];
  if (memcmp(d, seal + SEAL_HEAD_BYTES, sizeof d) != 0 || !zero_tail ||
      get_u32(seal + 16) != SEAL_VERSION || get_u32(seal + 20) != MBRL_H5_SEAL_BYTES ||
      seal[127] != 0)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is damaged: its seal (the first 512 bytes, written by mbrl) does "
                          "not match its own checksum; restore it from a copy or write it again",
                          path);
  const uint64_t want = get_u64(seal + 24), have = (uint64_t)size - MBRL_H5_SEAL_BYTES;
  if (want != have)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is damaged: it is %s (%llu bytes after the seal, %llu written); "
                          "restore it from a copy or write it again",
                          path, have < want ? "truncated" : "longer than written",
                          (unsigned long long)have, (unsigned long long)want);
  if (digest_range(fd, MBRL_H5_SEAL_BYTES, have, d) != 0)
    return mbrl_set_error(MBRL_ERR_IO, "cannot read '%s': %s", path,
                          errno ? strerror(errno) : "short read");
  if (memcmp(d, seal + 32, sizeof d) != 0)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is damaged: its contents do not match the SHA-256 in its seal "
                          "(bytes changed since mbrl wrote it); restore it from a copy or write "
                          "it again",
                          path);
  info->sealed = 1;
  memcpy(info->format, seal + 64, 63);
  info->format[63] = '\0';
  info->format_version = (int64_t)get_u64(seal + 128);
  info->content_bytes = have;
  return MBRL_OK;
}

/* Open path read-only as a regular file: fd and size. */
static mbrl_status open_regular(const char *path, int *fd_out, off_t *size) {
  *fd_out = -1;
  if (!path || !*path) return mbrl_set_error(MBRL_ERR_IO, "cannot open '': empty file name");
  struct stat st;
  if (stat(path, &st) != 0)
    return mbrl_set_error(MBRL_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  if (S_ISDIR(st.st_mode))
    return mbrl_set_error(MBRL_ERR_IO, "cannot open '%s': it is a directory", path);
  if (!S_ISREG(st.st_mode))
    return mbrl_set_error(MBRL_ERR_IO, "cannot open '%s': it is not a regular file", path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return mbrl_set_error(MBRL_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return mbrl_set_error(MBRL_ERR_IO, "cannot open '%s': it is not a regular file", path);
  }
  *fd_out = fd;
  *size = st.st_size;
  return MBRL_OK;
}

mbrl_status mbrl_h5_seal_check(const char *path, mbrl_h5_seal_info *info) {
  mbrl_h5_seal_info tmp;
  if (!info) info = &tmp;
  int fd = -1;
  off_t size = 0;
  mbrl_status st = open_regular(path, &fd, &size);
  if (st != MBRL_OK) return st;
  st = seal_check_fd(fd, path, size, info);
  close(fd);
  return st;
}

/* The root's format name and version of an open HDF5 file ("" / 0 when absent). */
static void root_format(hid_t f, char *fmt, size_t cap, int64_t *version) {
  fmt[0] = '\0';
  *version = 0;
  if (H5Aexists(f, "format") > 0 && mbrl_h5_attr_read_str(f, "", "format", fmt, cap) != MBRL_OK)
    fmt[0] = '\0';
  if (H5Aexists(f, "format_version") > 0 &&
      mbrl_h5_attr_read_i64(f, "", "format_version", version) != MBRL_OK)
    *version = 0;
}

mbrl_status mbrl_h5_seal_rewrite(const char *path) {
  mbrl_h5_quiet();
  int fd = path ? open(path, O_RDWR | O_CLOEXEC) : -1;
  if (fd < 0)
    return mbrl_set_error(MBRL_ERR_IO, "cannot open '%s' to seal it: %s", path ? path : "",
                          strerror(errno));
  /* the format name and version as the file's attributes say, read with HDF5 */
  char fmt[64] = "";
  int64_t version = 0;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
  if (fapl >= 0) H5Pset_file_locking(fapl, 0, 1);
#endif
  hid_t f = fapl >= 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : H5I_INVALID_HID;
  if (fapl >= 0) H5Pclose(fapl);
  if (f >= 0) {
    hid_t cp = H5Fget_create_plist(f);
    hsize_t ub = 0;
    if (cp >= 0) H5Pget_userblock(cp, &ub), H5Pclose(cp);
    if (ub != MBRL_H5_SEAL_BYTES) {
      H5Fclose(f);
      close(fd);
      return mbrl_set_error(MBRL_ERR_FORMAT, "'%s' has no 512-byte user block to seal", path);
    }
    root_format(f, fmt, sizeof fmt, &version);
    H5Fclose(f);
  }
  int rc = seal_fd(fd, fmt, version);
  int e = errno;
  if (close(fd) != 0 && rc == 0) rc = -1, e = errno;
  if (rc != 0)
    return mbrl_set_error(MBRL_ERR_IO, "cannot seal '%s': %s", path, strerror(e));
  return MBRL_OK;
}

int mbrl_h5_is_sealed(hid_t loc) {
  hid_t f = H5Iget_file_id(loc);
  if (f < 0) return 0;
  hid_t cp = H5Fget_create_plist(f);
  hsize_t ub = 0;
  if (cp >= 0) {
    if (H5Pget_userblock(cp, &ub) < 0) ub = 0;
    H5Pclose(cp);
  }
  H5Fclose(f);
  return ub == MBRL_H5_SEAL_BYTES;
}

/* ---------------------------------------------------------------- the writer */

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

/* Take an exclusive open-file-description lock on fd without waiting: 0 ok, -1 held
 * elsewhere (or unsupported). Released when fd is closed, and only then. */
static int lock_fd(int fd) {
#ifdef F_OFD_SETLK
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET; /* l_start 0, l_len 0: the whole file */
  return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : -1;
#else
  (void)fd;
  errno = ENOSYS;
  return -1;
#endif
}

/* "NAME.tmp.<digits>" for the base name NAME of path? */
static int is_temp_of(const char *entry, const char *base) {
  const size_t bl = strlen(base);
  if (strncmp(entry, base, bl) != 0 || strncmp(entry + bl, ".tmp.", 5) != 0) return 0;
  const char *p = entry + bl + 5;
  if (!*p) return 0;
  for (; *p; ++p)
    if (*p < '0' || *p > '9') return 0;
  return 1;
}

int mbrl_h5_remove_stale_temporaries(const char *path) {
  if (!path || !*path) return 0;
  char dir[MBRL_H5_PATH_MAX];
  dir_of(path, dir, sizeof dir);
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  if (!*base) return 0;
  DIR *d = opendir(dir);
  if (!d) return 0;
  int removed = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!is_temp_of(e->d_name, base)) continue;
    char full[MBRL_H5_PATH_MAX + 300];
    snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
    int fd = open(full, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat a, b;
    /* locked: a live writer owns it; unlocked: its writer was killed */
    if (fstat(fd, &a) == 0 && S_ISREG(a.st_mode) && lock_fd(fd) == 0 &&
        lstat(full, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev &&
        unlink(full) == 0)
      ++removed;
    close(fd);
  }
  closedir(d);
  return removed;
}

mbrl_status mbrl_h5_writer_open(mbrl_h5_writer *w, const char *path) {
  mbrl_h5_quiet();
  w->file = H5I_INVALID_HID;
  w->lock_fd = -1;
  w->path[0] = w->tmp_path[0] = '\0';
  mbrl_status cst = mbrl_h5_check_writable(path);
  if (cst != MBRL_OK) return cst;
  size_t len = strlen(path);
  memcpy(w->path, path, len + 1);
  mbrl_h5_remove_stale_temporaries(path);
  snprintf(w->tmp_path, sizeof w->tmp_path, "%s.tmp.%ld", path, (long)getpid());

  /* Our own descriptor of the temporary holds its lock until commit or abort, so that no
   * other writer's clean-up takes it for a killed writer's leftover. */
  unlink(w->tmp_path); /* a leftover of a killed process that had our pid */
  errno = 0;
  int fd = open(w->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    int e = errno;
    w->tmp_path[0] = '\0';
    return mbrl_set_error(MBRL_ERR_IO, "cannot create a temporary file next to '%s' (%s)", path,
                          strerror(e));
  }
  lock_fd(fd); /* without OFD locks a temporary is never taken for stale */
  w->lock_fd = fd;

  /* HDF5 builds the file in memory (the core driver, no backing store): it never writes to
   * the disk, so a full disk or an I/O error cannot leave HDF5 half-closed (it crashes at exit
   * then). mbrl_h5_writer_commit writes the finished image with plain write()s. */
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  herr_t rc = fcpl < 0 || fapl < 0 ? -1 : 0;
  /* no time stamps on the root group; HDF5's 1.8 format, whose superblock and object headers
   * carry checksums. The seal's 512 bytes are put in front of the image at commit: HDF5 finds
   * the superblock at 512 and counts its addresses from there (as for h5jam's user blocks). */
  if (rc == 0 && (H5Pset_obj_track_times(fcpl, 0) < 0 ||
                  H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0 ||
                  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0 ||
                  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0))
    rc = -1;
  if (rc == 0) w->file = H5Fcreate(w->tmp_path, H5F_ACC_TRUNC, fcpl, fapl);
  if (fcpl >= 0) H5Pclose(fcpl);
  if (fapl >= 0) H5Pclose(fapl);
  if (w->file < 0) {
    mbrl_h5_writer_abort(w);
    return mbrl_set_error(MBRL_ERR_IO, "cannot create the HDF5 file for '%s' in memory", path);
  }
  return MBRL_OK;
}

void mbrl_h5_writer_abort(mbrl_h5_writer *w) {
  if (w->file >= 0) H5Fclose(w->file);
  w->file = H5I_INVALID_HID;
  if (w->tmp_path[0]) unlink(w->tmp_path);
  w->tmp_path[0] = '\0';
  if (w->lock_fd >= 0) close(w->lock_fd);
  w->lock_fd = -1;
}

/* fsync the directory holding path (so the rename survives a power cut); errors of file
 * systems that cannot fsync a directory are ignored. */
static int fsync_dir_of(const char *path) {
  char dir[MBRL_H5_PATH_MAX];
  dir_of(path, dir, sizeof dir);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  int rc = fsync(fd);
  int e = errno;
  close(fd);
  if (rc != 0 && (e == EINVAL || e == ENOTSUP || e == EBADF)) rc = 0;
  errno = e;
  return rc;
}

mbrl_status mbrl_h5_writer_commit(mbrl_h5_writer *w) {
  if (w->file < 0 || !w->tmp_path[0] || w->lock_fd < 0)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_h5_writer_commit: writer is not open");
  char fmt[64];
  int64_t version;
  root_format(w->file, fmt, sizeof fmt, &version);
  /* the finished file, from HDF5's memory, behind room for the seal */
  const ssize_t n = H5Fflush(w->file, H5F_SCOPE_LOCAL) < 0 ? -1 : H5Fget_file_image(w->file, NULL, 0);
  unsigned char *img = n > 0 ? (unsigned char *)malloc((size_t)n + MBRL_H5_SEAL_BYTES) : NULL;
  int ok = img && H5Fget_file_image(w->file, img + MBRL_H5_SEAL_BYTES, (size_t)n) == n &&
           fix_superblock_checksum(img + MBRL_H5_SEAL_BYTES, (size_t)n) == 0;
  if (H5Fclose(w->file) < 0) ok = 0;
  w->file = H5I_INVALID_HID;
  /* the image must open as HDF5 before it replaces anything */
  if (ok) {
    /* (a name that cannot exist on disk: the core driver refuses one that does) */
    char name[sizeof w->tmp_path + 8];
    snprintf(name, sizeof name, "%s/image", w->tmp_path);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = fapl >= 0 && H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) >= 0 &&
                      H5Pset_file_image(fapl, img + MBRL_H5_SEAL_BYTES, (size_t)n) >= 0
                  ? H5Fopen(name, H5F_ACC_RDONLY, fapl)
                  : H5I_INVALID_HID;
    if (f < 0 || H5Fclose(f) < 0) ok = 0;
    if (fapl >= 0) H5Pclose(fapl);
  }
  if (!ok) {
    const int oom = n > 0 && !img;
    free(img);
    mbrl_h5_writer_abort(w);
    return mbrl_set_error(oom ? MBRL_ERR_NOMEM : MBRL_ERR_IO,
                          "writing '%s' failed: HDF5 could not finish the file (%s); nothing "
                          "was written",
                          w->path, oom ? "out of memory" : "HDF5 error");
  }
  /* seal it, write it, sync it, rename it over the target, sync the directory */
  uint8_t cd[MBRL_SHA256_BYTES];
  const uint64_t content = (uint64_t)n;
  mbrl_sha256(img + MBRL_H5_SEAL_BYTES, (size_t)content, cd);
  seal_build(img, content, cd, fmt, version);
  const char *step = "write";
  int bad = pwrite_full(w->lock_fd, img, (size_t)n + MBRL_H5_SEAL_BYTES, 0) != 0;
  free(img);
  if (!bad) step = "fsync", bad = fsync(w->lock_fd) != 0;
  if (!bad) step = "rename", bad = rename(w->tmp_path, w->path) != 0;
  if (bad) {
    int e = errno;
    mbrl_h5_writer_abort(w);
    return mbrl_set_error(MBRL_ERR_IO, "writing '%s' failed (%s: %s); nothing was written",
                          w->path, step, strerror(e));
  }
  w->tmp_path[0] = '\0';
  int dir_bad = fsync_dir_of(w->path) != 0;
  int e = errno;
  close(w->lock_fd);
  w->lock_fd = -1;
  if (dir_bad)
    return mbrl_set_error(MBRL_ERR_IO, "'%s' was written but its directory could not be synced (%s)",
                          w->path, strerror(e));
  return MBRL_OK;
}

mbrl_status mbrl_h5_writer_finish(mbrl_h5_writer *w, mbrl_status st) {
  if (st == MBRL_OK) return mbrl_h5_writer_commit(w);
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", mbrl_last_error());
  mbrl_h5_writer_abort(w);
  return mbrl_set_error(st, "writing '%s' failed: %s; nothing was written", w->path, msg);
}

/* ---------------------------------------------------------------- reading */

static _Thread_local int g_guard_depth; /* > 0 inside mbrl_h5_guarded_read */
static _Thread_local int g_guard_child;

int mbrl_h5_guard_child(void) { return g_guard_child; }

typedef enum guard_mode { GUARD_AUTO, GUARD_ALWAYS, GUARD_OFF } guard_mode;

static guard_mode get_guard_mode(void) {
  const char *s = getenv("MBRL_H5_GUARD");
  if (s && strcmp(s, "off") == 0) return GUARD_OFF;
  if (s && strcmp(s, "always") == 0) return GUARD_ALWAYS;
  return GUARD_AUTO;
}

mbrl_status mbrl_h5_open_read(const char *path, hid_t *out) {
  mbrl_h5_quiet();
  *out = H5I_INVALID_HID;
  mbrl_h5_seal_info info;
  mbrl_status st = mbrl_h5_seal_check(path, &info);
  if (st != MBRL_OK) return st;
  if (!info.sealed && g_guard_depth == 0 && get_guard_mode() != GUARD_OFF)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' has no mbrl seal (an older mbrl or another program wrote it) "
                          "and this reader takes sealed files only",
                          path);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
    if (fapl >= 0) H5Pclose(fapl);
    return mbrl_set_error(MBRL_ERR_IO, "cannot open '%s': HDF5 file properties failed", path);
  }
#if H5_VERSION_GE(1, 10, 7)
  H5Pset_file_locking(fapl, 0, 1);
#endif
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f < 0)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is a damaged HDF5 file (truncated or corrupt); it cannot be opened",
                          path);
  /* a sealed file must be the one HDF5 opened with the user block we checked */
  if (info.sealed != mbrl_h5_is_sealed(f)) {
    H5Fclose(f);
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s' is damaged: its HDF5 superblock does not match its seal",
                          path);
  }
  *out = f;
  return MBRL_OK;
}

/* ---- the guard: read an unsealed file in a child process first ---- */

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The child's report: status, then the message. */
typedef struct guard_report {
  int32_t status;
  char msg[1024];
} guard_report;

static mbrl_status run_read(const char *path, mbrl_h5_read_fn fn, void *ctx) {
  ++g_guard_depth;
  mbrl_status st = fn(path, ctx);
  --g_guard_depth;
  return st;
}

mbrl_status mbrl_h5_guarded_read(const char *path, mbrl_h5_read_fn fn, void *ctx) {
  if (!fn) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_h5_guarded_read: NULL reader");
  if (g_guard_depth > 0) return fn(path, ctx); /* nested: the outer call decided */
  const guard_mode mode = get_guard_mode();
  mbrl_h5_seal_info info;
  mbrl_status st = mbrl_h5_seal_check(path, &info); /* missing, not HDF5, damaged seal */
  if (st != MBRL_OK) return st;
  if (mode == GUARD_OFF || (info.sealed && mode == GUARD_AUTO)) return run_read(path, fn, ctx);

  double limit = 5.0 + (double)info.content_bytes / 10e6;
  const char *tl = getenv("MBRL_H5_GUARD_TIMEOUT");
  if (tl && atof(tl) > 0) limit = atof(tl);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return mbrl_set_error(MBRL_ERR_IO, "cannot check '%s' in a separate process (pipe: %s)", path,
                          strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(fds[0]), close(fds[1]);
    return mbrl_set_error(MBRL_ERR_IO,
                          "cannot check '%s' in a separate process (fork: %s); set "
                          "MBRL_H5_GUARD=off to read it without that check",
                          path, strerror(e));
  }
  if (pid == 0) { /* the child: read, report, leave without running any exit handler */
    close(fds[0]);
    g_guard_child = 1;
#ifdef MBRL_FUZZ_BUILD
    /* fuzzing (scripts/fuzz): HDF5 crashing in this child is what the guard contains, not a
     * finding; without this libFuzzer's death callback (inherited) would write the input as a
     * crash artifact from here, and the sanitizer's report would flood the log */
    __sanitizer_set_death_callback(NULL);
    {
      const int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (null_fd >= 0) dup2(null_fd, 2), close(null_fd);
    }
#endif
    /* only this thread exists here: an OpenMP team of the parent's size would wait forever
     * for its threads (GCC's libgomp after fork) */
    omp_set_num_threads(1);
    guard_report r;
    memset(&r, 0, sizeof r);
    r.status = (int32_t)run_read(path, fn, ctx);
    snprintf(r.msg, sizeof r.msg, "%s", r.status ? mbrl_last_error() : "");
    (void)!write(fds[1], &r, sizeof r);
    _exit(0);
  }
  close(fds[1]);
  guard_report r;
  size_t got = 0;
  int timed_out = 0;
  const double t0 = now_s();
  while (got < sizeof r) {
    const double left = limit - (now_s() - t0);
    if (left <= 0) {
      timed_out = 1;
      break;
    }
    struct pollfd p = {fds[0], POLLIN, 0};
    int pr = poll(&p, 1, (int)(left * 1000.0) + 1);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue; /* timeout is decided above */
    ssize_t k = read(fds[0], (char *)&r + got, sizeof r - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break; /* the child is gone */
    got += (size_t)k;
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is damaged: reading it did not finish within %.3g s (the HDF5 "
                          "library loops on it); nothing was read (set MBRL_H5_GUARD_TIMEOUT to "
                          "allow longer)",
                          path, limit);
  if (got < sizeof r) {
    if (WIFSIGNALED(ws))
      return mbrl_set_error(MBRL_ERR_FORMAT,
                            "'%s' is damaged: reading it crashed the HDF5 library (signal %d, in "
                            "a separate checking process); nothing was read. Restore the file "
                            "from a copy or write it again",
                            path, WTERMSIG(ws));
    return mbrl_set_error(MBRL_ERR_FORMAT,
                          "'%s' is damaged: reading it failed in the separate checking process "
                          "(exit status %d); nothing was read",
                          path, WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
  }
  if (r.status != MBRL_OK) {
    r.msg[sizeof r.msg - 1] = '\0';
    return mbrl_set_error((mbrl_status)r.status, "%s", r.msg);
  }
  return run_read(path, fn, ctx);
}
