/* tests/fault_shim.c - an LD_PRELOAD library that makes writes to regular files misbehave, for
 * tests/test_file_faults.cpp:
 *   MBRL_SHIM_FAIL_AFTER=N  after N bytes written to regular files, writes fail with ENOSPC
 *                           (the write that crosses N writes what fits: a short write), as on
 *                           a full disk; fsync then fails with ENOSPC too
 *   MBRL_SHIM_SLOW_US=U     sleep U microseconds before each write to a regular file (widens
 *                           the save window so that a SIGKILL at a random moment lands in it)
 *   MBRL_SHIM_CHUNK=C       write at most C bytes per call (a short write, as POSIX allows)
 * Writes to pipes, terminals and /dev/null pass untouched. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static long long g_budget = -1; /* bytes left; -1: unlimited */
static long g_slow_us;
static long long g_chunk; /* 0: no limit */
static int g_init;

static void init(void) {
  if (g_init) return;
  g_init = 1;
  const char *f = getenv("MBRL_SHIM_FAIL_AFTER");
  if (f && *f) g_budget = atoll(f);
  const char *s = getenv("MBRL_SHIM_SLOW_US");
  if (s && *s) g_slow_us = atol(s);
  const char *c = getenv("MBRL_SHIM_CHUNK");
  if (c && *c) g_chunk = atoll(c);
}

static int is_regular(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* How many of n bytes may be written to fd now: n, fewer, or -1 with errno = ENOSPC. */
static ssize_t allow(int fd, size_t n) {
  init();
  if (!is_regular(fd)) return (ssize_t)n;
  if (g_slow_us > 0) {
    struct timespec t = {g_slow_us / 1000000, (g_slow_us % 1000000) * 1000};
    nanosleep(&t, NULL);
  }
  if (g_chunk > 0 && (long long)n > g_chunk) n = (size_t)g_chunk;
  if (g_budget < 0 || n == 0) return (ssize_t)n;
  if (g_budget == 0) {
    errno = ENOSPC;
    return -1;
  }
  if ((long long)n > g_budget) n = (size_t)g_budget;
  g_budget -= (long long)n;
  return (ssize_t)n;
}

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

#define LOAD(name)                                                             \
  do {                                                                         \
    if (!real_##name) *(void **)&real_##name = dlsym(RTLD_NEXT, #name);        \
  } while (0)

ssize_t write(int fd, const void *buf, size_t n) {
  LOAD(write);
  ssize_t k = allow(fd, n);
  return k < 0 ? -1 : real_write(fd, buf, (size_t)k);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  LOAD(pwrite);
  ssize_t k = allow(fd, n);
  return k < 0 ? -1 : real_pwrite(fd, buf, (size_t)k, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
  LOAD(pwrite64);
  ssize_t k = allow(fd, n);
  return k < 0 ? -1 : real_pwrite64(fd, buf, (size_t)k, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  LOAD(writev);
  size_t n = 0;
  for (int i = 0; i < cnt; ++i) n += iov[i].iov_len;
  ssize_t k = allow(fd, n);
  if (k < 0) return -1;
  if ((size_t)k == n) return real_writev(fd, iov, cnt);
  LOAD(write);
  return cnt > 0 ? real_write(fd, iov[0].iov_base, (size_t)k < iov[0].iov_len ? (size_t)k
                                                                              : iov[0].iov_len)
                 : 0;
}

int fsync(int fd) {
  LOAD(fsync);
  init();
  if (g_budget == 0 && is_regular(fd)) {
    errno = ENOSPC;
    return -1;
  }
  return real_fsync(fd);
}

int fdatasync(int fd) {
  LOAD(fdatasync);
  init();
  if (g_budget == 0 && is_regular(fd)) {
    errno = ENOSPC;
    return -1;
  }
  return real_fdatasync(fd);
}
