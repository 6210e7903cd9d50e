/* log.c - metrics.csv, TensorBoard event files (TFRecord + hand-encoded protobuf) and the
 * progress line. See include/mbrl/log.h for the file formats. */
#define _POSIX_C_SOURCE 200809L

#include "mbrl/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAX_TAG 255
#define LOG_MAX_PATH 4096

struct mbrl_log {
  FILE *csv;
  FILE *ev;
  char dir[LOG_MAX_PATH];
  char csv_path[LOG_MAX_PATH + 16]; /* dir + "/metrics.csv" always fits */
  char ev_path[LOG_MAX_PATH + 256]; /* dir + event file name (host name <= 127) always fits */
  int write_failed; /* sticky: a short write happened (reported by flush/close) */
};

/* ---- CRC-32C ---- */

static uint32_t crc_table[256];
static int crc_table_ready;

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc_table[i] = c;
  }
  crc_table_ready = 1;
}

uint32_t mbrl_log_crc32c(const void *data, size_t n) {
  if (!crc_table_ready) crc_init(); /* idempotent: racing threads write the same values */
  const uint8_t *p = (const uint8_t *)data;
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) c = crc_table[(c ^ p[i]) & 0xffu] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

uint32_t mbrl_log_masked_crc32c(const void *data, size_t n) {
  uint32_t c = mbrl_log_crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

/* ---- protobuf and TFRecord encoding ---- */

static size_t put_varint(uint8_t *b, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    b[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  b[n++] = (uint8_t)v;
  return n;
}

static size_t put_le(uint8_t *b, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[i] = (uint8_t)(v >> (8 * i));
  return (size_t)bytes;
}

static size_t put_double(uint8_t *b, double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  return put_le(b, u, 8);
}

static size_t put_float(uint8_t *b, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return put_le(b, u, 4);
}

static double wall_time_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void write_record(mbrl_log *log, const uint8_t *data, size_t n) {
  uint8_t head[12];
  put_le(head, (uint64_t)n, 8);
  put_le(head + 8, mbrl_log_masked_crc32c(head, 8), 4);
  uint8_t tail[4];
  put_le(tail, mbrl_log_masked_crc32c(data, n), 4);
  if (fwrite(head, 1, 12, log->ev) != 12 || fwrite(data, 1, n, log->ev) != n ||
      fwrite(tail, 1, 4, log->ev) != 4)
    log->write_failed = 1;
}

/* Event{wall_time(1), file_version(3)} */
static void write_version_event(mbrl_log *log) {
  static const char version[] = "brain.Event:2";
  uint8_t b[64];
  size_t n = 0;
  b[n++] = 0x09; /* field 1, fixed64 */
  n += put_double(b + n, wall_time_now());
  b[n++] = 0x1a; /* field 3, length-delimited */
  n += put_varint(b + n, sizeof version - 1);
  memcpy(b + n, version, sizeof version - 1);
  n += sizeof version - 1;
  write_record(log, b, n);
}

/* Event{wall_time(1), step(2), summary(5){value(1){tag(1), simple_value(2)}}} */
static void write_scalar_event(mbrl_log *log, const char *tag, int64_t step, float value) {
  size_t tag_len = strlen(tag);
  uint8_t val[LOG_MAX_TAG + 16], sum[LOG_MAX_TAG + 32], ev[LOG_MAX_TAG + 64];
  size_t nv = 0, ns = 0, ne = 0;
  val[nv++] = 0x0a; /* Value.tag: field 1, length-delimited */
  nv += put_varint(val + nv, tag_len);
  memcpy(val + nv, tag, tag_len);
  nv += tag_len;
  val[nv++] = 0x15; /* Value.simple_value: field 2, fixed32 */
  nv += put_float(val + nv, value);

  sum[ns++] = 0x0a; /* Summary.value: field 1, length-delimited */
  ns += put_varint(sum + ns, nv);
  memcpy(sum + ns, val, nv);
  ns += nv;

  ev[ne++] = 0x09; /* Event.wall_time: field 1, fixed64 */
  ne += put_double(ev + ne, wall_time_now());
  ev[ne++] = 0x10; /* Event.step: field 2, varint (two's complement for negatives) */
  ne += put_varint(ev + ne, (uint64_t)step);
  ev[ne++] = 0x2a; /* Event.summary: field 5, length-delimited */
  ne += put_varint(ev + ne, ns);
  memcpy(ev + ne, sum, ns);
  ne += ns;
  write_record(log, ev, ne);
}

/* ---- files ---- */

/* mkdir -p `path`. */
static mbrl_status make_dirs(const char *path) {
  char buf[LOG_MAX_PATH];
  size_t n = strlen(path);
  if (n >= sizeof buf)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "log directory path is too long (%zu bytes): '%.64s...'", n,
                          path);
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; ++i) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char saved = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
      int e = errno;
      return mbrl_set_error(MBRL_ERR_IO, "cannot create log directory '%s': %s (check the path and permissions)",
                            buf, strerror(e));
    }
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
      return mbrl_set_error(MBRL_ERR_IO, "cannot use '%s' as a log directory: it exists and is not a directory",
                            buf);
    buf[i] = saved;
  }
  return MBRL_OK;
}

static void host_name(char *out, size_t n) {
  char h[256] = {0};
  if (gethostname(h, sizeof h - 1) != 0 || h[0] == '\0') snprintf(h, sizeof h, "localhost");
  size_t k = 0;
  for (size_t i = 0; h[i] && k + 1 < n; ++i) {
    char c = h[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
             c == '_' || c == '.';
    out[k++] = ok ? c : '_';
  }
  out[k] = '\0';
}

static mbrl_status open_event_file(mbrl_log *log) {
  char host[128];
  host_name(host, sizeof host);
  long long t = (long long)time(NULL);
  for (int k = 1; k < 1000; ++k) {
    int w = k == 1 ? snprintf(log->ev_path, sizeof log->ev_path, "%s/events.out.tfevents.%lld.%s.mbrl", log->dir,
                              t, host)
                   : snprintf(log->ev_path, sizeof log->ev_path, "%s/events.out.tfevents.%lld.%s.%d.mbrl",
                              log->dir, t, host, k);
    if (w < 0 || (size_t)w >= sizeof log->ev_path)
      return mbrl_set_error(MBRL_ERR_INVALID_ARG, "log directory path is too long: '%.64s...'", log->dir);
    log->ev = fopen(log->ev_path, "wbx");
    if (log->ev) return MBRL_OK;
    if (errno != EEXIST) {
      int e = errno;
      return mbrl_set_error(MBRL_ERR_IO, "cannot create TensorBoard event file '%s': %s", log->ev_path,
                            strerror(e));
    }
  }
  return mbrl_set_error(MBRL_ERR_IO, "cannot create a new event file in '%s': 999 names taken", log->dir);
}

mbrl_status mbrl_log_open(mbrl_log **out, const char *logdir, const char *run_name) {
  if (!out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_log_open: out is NULL");
  *out = NULL;
  if (!logdir || !logdir[0])
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "log directory is empty: pass a directory name (e.g. --logdir runs)");
  if (run_name && (strchr(run_name, '/') || !strcmp(run_name, ".") || !strcmp(run_name, "..")))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "run name '%s' must be a plain name without '/'", run_name);
  mbrl_log *log = (mbrl_log *)calloc(1, sizeof *log);
  if (!log) return mbrl_set_error(MBRL_ERR_NOMEM, "out of memory opening log '%s'", logdir);
  int w = (run_name && run_name[0]) ? snprintf(log->dir, sizeof log->dir, "%s/%s", logdir, run_name)
                                    : snprintf(log->dir, sizeof log->dir, "%s", logdir);
  if (w < 0 || (size_t)w + 64 >= sizeof log->dir) {
    free(log);
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "log directory path is too long: '%.64s...'", logdir);
  }
  /* strip trailing slashes ("runs/" -> "runs") so paths read cleanly */
  for (size_t n = strlen(log->dir); n > 1 && log->dir[n - 1] == '/'; --n) log->dir[n - 1] = '\0';

  mbrl_status st = make_dirs(log->dir);
  if (st != MBRL_OK) {
    free(log);
    return st;
  }
  snprintf(log->csv_path, sizeof log->csv_path, "%s/metrics.csv", log->dir);
  log->csv = fopen(log->csv_path, "w");
  if (!log->csv) {
    int e = errno;
    st = mbrl_set_error(MBRL_ERR_IO, "cannot create '%s': %s", log->csv_path, strerror(e));
    free(log);
    return st;
  }
  st = open_event_file(log);
  if (st != MBRL_OK) {
    fclose(log->csv);
    free(log);
    return st;
  }
  if (fputs("step,tag,value\n", log->csv) < 0) log->write_failed = 1;
  write_version_event(log);
  st = mbrl_log_flush(log);
  if (st != MBRL_OK) {
    mbrl_log_close(log);
    return st;
  }
  *out = log;
  return MBRL_OK;
}

static int tag_ok(const char *tag) {
  size_t n = strlen(tag);
  if (n == 0 || n > LOG_MAX_TAG) return 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = (unsigned char)tag[i];
    if (c < 0x20 || c == 0x7f || c == ',' || c == '"') return 0;
  }
  return 1;
}

mbrl_status mbrl_log_scalar(mbrl_log *log, const char *tag, int64_t step, double value) {
  if (!log) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_log_scalar: log is NULL (open it first)");
  if (!tag || !tag_ok(tag))
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "log tag '%.64s' is not allowed: use 1-%d printable characters without ',' or '\"'",
                          tag ? tag : "(null)", LOG_MAX_TAG);
  float v = (float)value;
  if (fprintf(log->csv, "%" PRId64 ",%s,%.9g\n", step, tag, (double)v) < 0) log->write_failed = 1;
  write_scalar_event(log, tag, step, v);
  if (log->write_failed)
    return mbrl_set_error(MBRL_ERR_IO, "writing the log in '%s' failed (disk full?)", log->dir);
  return MBRL_OK;
}

mbrl_status mbrl_log_flush(mbrl_log *log) {
  if (!log) return MBRL_OK;
  if (fflush(log->csv) != 0 || fflush(log->ev) != 0) log->write_failed = 1;
  if (log->write_failed)
    return mbrl_set_error(MBRL_ERR_IO, "writing the log in '%s' failed (disk full?)", log->dir);
  return MBRL_OK;
}

mbrl_status mbrl_log_close(mbrl_log *log) {
  if (!log) return MBRL_OK;
  int failed = log->write_failed;
  if (log->csv && fclose(log->csv) != 0) failed = 1;
  if (log->ev && fclose(log->ev) != 0) failed = 1;
  mbrl_status st = MBRL_OK;
  if (failed) st = mbrl_set_error(MBRL_ERR_IO, "writing the log in '%s' failed (disk full?)", log->dir);
  free(log);
  return st;
}

const char *mbrl_log_dir(const mbrl_log *log) { return log ? log->dir : ""; }

const char *mbrl_log_event_path(const mbrl_log *log) { return log ? log->ev_path : ""; }

/* ---- progress line ---- */

double mbrl_log_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void mbrl_progress_init(mbrl_progress *p, FILE *fp, const char *label, int64_t step0, int64_t total,
                        mbrl_progress_mode mode, double interval_s) {
  memset(p, 0, sizeof *p);
  p->fp = fp;
  snprintf(p->label, sizeof p->label, "%s", label ? label : "");
  p->total = total;
  p->step0 = step0;
  p->interval_s = interval_s > 0 ? interval_s : 10.0;
  if (!fp || mode == MBRL_PROGRESS_OFF) p->live = -1;
  else if (mode == MBRL_PROGRESS_LIVE) p->live = 1;
  else if (mode == MBRL_PROGRESS_PLAIN) p->live = 0;
  else p->live = isatty(fileno(fp)) ? 1 : 0;
  p->t0 = p->t_last = mbrl_log_now();
}

static void format_hms(double s, char *out, size_t n) {
  if (!(s >= 0) || s > 1e8) {
    snprintf(out, n, "?");
    return;
  }
  long long t = (long long)(s + 0.5);
  snprintf(out, n, "%lld:%02lld:%02lld", t / 3600, (t / 60) % 60, t % 60);
}

void mbrl_progress_format(const mbrl_progress *p, int64_t step, const char *metric_name, double metric,
                          double now, char *line, size_t n) {
  double elapsed = now - p->t0;
  double rate = elapsed > 0 ? (double)(step - p->step0) / elapsed : 0.0;
  size_t k = 0;
  int w;
#define APPEND(...)                                   \
  do {                                                \
    w = snprintf(line + k, n - k, __VA_ARGS__);       \
    if (w < 0 || (size_t)w >= n - k) return;          \
    k += (size_t)w;                                   \
  } while (0)
  if (n == 0) return;
  line[0] = '\0';
  if (p->label[0]) APPEND("%s ", p->label);
  if (p->total > 0) APPEND("step %" PRId64 "/%" PRId64, step, p->total);
  else APPEND("step %" PRId64, step);
  if (metric_name && metric_name[0]) APPEND("  %s %.5g", metric_name, metric);
  APPEND("  %.0f steps/s", rate);
  if (p->total > 0) {
    char eta[32];
    format_hms(rate > 0 ? (double)(p->total - step) / rate : -1.0, eta, sizeof eta);
    APPEND("  ETA %s", eta);
  }
  char el[32];
  format_hms(elapsed, el, sizeof el);
  APPEND("  elapsed %s", el);
#undef APPEND
}

static void progress_print(mbrl_progress *p, int64_t step, const char *metric_name, double metric, double now,
                           int final) {
  char line[256];
  mbrl_progress_format(p, step, metric_name, metric, now, line, sizeof line);
  if (p->live == 1) {
    fprintf(p->fp, "\r%s\033[K%s", line, final ? "\n" : "");
    p->dirty = !final;
  } else {
    fprintf(p->fp, "%s\n", line);
  }
  fflush(p->fp);
  p->t_last = now;
}

int mbrl_progress_update(mbrl_progress *p, int64_t step, const char *metric_name, double metric) {
  if (p->live < 0) return 0;
  double now = mbrl_log_now();
  double due = p->live == 1 ? 0.1 : p->interval_s;
  if (now - p->t_last < due) return 0;
  progress_print(p, step, metric_name, metric, now, 0);
  return 1;
}

void mbrl_progress_finish(mbrl_progress *p, int64_t step, const char *metric_name, double metric) {
  if (p->live < 0) return;
  progress_print(p, step, metric_name, metric, mbrl_log_now(), 1);
}
