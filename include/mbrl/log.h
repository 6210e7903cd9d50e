/* mbrl/log.h - training logs: metrics.csv, a TensorBoard event file, and a progress line.
 *
 * A log directory holds (files go to <logdir>/<run_name>/ when run_name is non-empty, so
 * that TensorBoard shows one run per name; else to <logdir>/ itself):
 *   metrics.csv  long format, header `step,tag,value`, one row per scalar, value printed
 *                with 9 significant digits (round-trips a float). Replaced by a new run.
 *   events.out.tfevents.<unix time>.<hostname>.mbrl  TensorBoard's TFRecord event file:
 *                each record is uint64 length, uint32 masked CRC-32C of those 8 bytes,
 *                the data, uint32 masked CRC-32C of the data (little endian; masked =
 *                ((crc >> 15) | (crc << 17)) + 0xa282ead8). The first record is
 *                Event{wall_time, file_version "brain.Event:2"}; each scalar is
 *                Event{wall_time(1), step(2), summary(5){value(1){tag(1), simple_value(2)}}}.
 *                A second file opened in the same second gets `.<k>.mbrl` (k = 2, 3, ...).
 *
 * The progress line is the one place the library writes text: to the FILE* the app hands
 * in (normally stderr). */
#ifndef MBRL_LOG_H
#define MBRL_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

typedef struct mbrl_log mbrl_log;

/* Create <logdir>[/<run_name>] (mkdir -p), open metrics.csv (truncated, header written) and a
 * new event file (file_version record written). run_name may be NULL or "". On failure *out
 * is NULL and the message names the path and the OS error. */
mbrl_status mbrl_log_open(mbrl_log **out, const char *logdir, const char *run_name);

/* Append scalar `value` of `tag` at `step` to both files (buffered; see mbrl_log_flush).
 * tag: non-empty, printable, no comma, quote or newline (CSV-safe), at most 255 bytes. */
mbrl_status mbrl_log_scalar(mbrl_log *log, const char *tag, int64_t step, double value);

/* Push buffered rows and records to the OS (so TensorBoard and readers see them). */
mbrl_status mbrl_log_flush(mbrl_log *log);

/* Flush and close both files and free `log` (NULL is a no-op). Reports a failed write. */
mbrl_status mbrl_log_close(mbrl_log *log);

/* Directory holding the files (<logdir> or <logdir>/<run_name>); valid until close. */
const char *mbrl_log_dir(const mbrl_log *log);

/* Full path of the event file; valid until close. */
const char *mbrl_log_event_path(const mbrl_log *log);

/* CRC-32C (Castagnoli, reflected 0x82F63B78, init and final xor 0xffffffff) of n bytes. */
uint32_t mbrl_log_crc32c(const void *data, size_t n);

/* TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8 of mbrl_log_crc32c. */
uint32_t mbrl_log_masked_crc32c(const void *data, size_t n);

/* ---- progress line ---- */

typedef enum mbrl_progress_mode {
  MBRL_PROGRESS_AUTO = 0,  /* LIVE when the stream is a terminal, else PLAIN */
  MBRL_PROGRESS_LIVE = 1,  /* rewrite one line with '\r' (at most 10 times a second) */
  MBRL_PROGRESS_PLAIN = 2, /* a full line every `interval_s` seconds */
  MBRL_PROGRESS_OFF = 3    /* print nothing */
} mbrl_progress_mode;

typedef struct mbrl_progress {
  FILE *fp;           /* where lines go (the app's stderr); NULL = print nothing */
  char label[32];     /* line prefix, e.g. "train" */
  int64_t total;      /* last step + 1 (<= 0: unknown, no time left shown) */
  int live;           /* 1: '\r' line, 0: plain lines, -1: off */
  double interval_s;  /* PLAIN mode: seconds between lines */
  double t0;          /* monotonic start time, seconds */
  double t_last;      /* time of the last line */
  int64_t step0;      /* step at start (for steps/s) */
  int dirty;          /* a LIVE line is on screen without its newline */
} mbrl_progress;

/* Start a progress report of steps [step0, total) on fp. interval_s <= 0 means 10 s. */
void mbrl_progress_init(mbrl_progress *p, FILE *fp, const char *label, int64_t step0, int64_t total,
                        mbrl_progress_mode mode, double interval_s);

/* Report that `step` steps are done; prints when due. metric_name (e.g. "loss") may be NULL.
 * Line: "<label> step S/T  <metric_name> V  R steps/s  ETA H:MM:SS". Returns 1 if printed. */
int mbrl_progress_update(mbrl_progress *p, int64_t step, const char *metric_name, double metric);

/* Print the final line (always, unless OFF) and end it with a newline. */
void mbrl_progress_finish(mbrl_progress *p, int64_t step, const char *metric_name, double metric);

/* Format `line` (at most n bytes) as mbrl_progress_update would at time `now` (monotonic s). */
void mbrl_progress_format(const mbrl_progress *p, int64_t step, const char *metric_name, double metric,
                          double now, char *line, size_t n);

/* Monotonic clock in seconds (CLOCK_MONOTONIC). */
double mbrl_log_now(void);

MBRL_EXTERN_C_END

#endif
