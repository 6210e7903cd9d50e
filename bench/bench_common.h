/* bench_common.h - helpers shared by the bench programs (bench/bench_*.c, each its own
 * executable): wall clock, medians, the JSON header lines of bench/README.md's schema
 * (machine, date, command) and the numeric flag checks with their error messages.
 * Include it first (it sets _POSIX_C_SOURCE for clock_gettime, gmtime_r, gethostname). */
#ifndef MBRL_BENCH_COMMON_H
#define MBRL_BENCH_COMMON_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mbrl/cli.h"
#include "mbrl/cpu.h"
#include "mbrl/device.h"

/* 1 when MBRL_BENCH_CLOCK=cpu: time with the process's CPU time instead of the wall clock.
 * On a shared, loaded machine the wall clock counts the time other processes hold the cores;
 * CPU time does not (it still feels a busy sibling hyperthread). Single-threaded runs only:
 * with N threads CPU time adds them up. */
static inline int bench_cpu_clock(void) {
  const char *e = getenv("MBRL_BENCH_CLOCK");
  return e && strcmp(e, "cpu") == 0;
}

/* Seconds on the bench clock: monotonic wall clock, or process CPU time (bench_cpu_clock). */
static inline double bench_now_s(void) {
  struct timespec ts;
  clock_gettime(bench_cpu_clock() ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Sorts v (n) ascending. */
static inline void bench_sort(double *v, int n) {
  qsort(v, (size_t)n, sizeof v[0], bench_cmp_double);
}

/* Sorts v (n >= 1) and returns its median (the mean of the two middle values when n is even). */
static inline double bench_median(double *v, int n) {
  bench_sort(v, n);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The CPU's "model name" from /proc/cpuinfo ("unknown" without it), made JSON-safe. */
static inline void bench_cpu_name(char *out, size_t n) {
  snprintf(out, n, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) == 0) {
      char *p = strchr(line, ':');
      if (p) {
        p++;
        while (*p == ' ' || *p == '\t') p++;
        size_t len = strcspn(p, "\n");
        snprintf(out, n, "%.*s", (int)len, p);
        for (char *q = out; *q; ++q)
          if (*q == '"' || *q == '\\' || (unsigned char)*q < 32) *q = ' '; /* JSON-safe */
      }
      break;
    }
  }
  fclose(f);
}

/* The CPU kernel path for this run (mbrl/cpu.h): exits 1 when MBRL_CPU_KERNELS asks for a path
 * this CPU lacks, else prints "<prog>: CPU kernels <path> (cpu: ...)" on stderr. Call it first. */
static inline const char *bench_cpu_kernels(const char *prog) { return mbrl_cli_cpu_kernels(prog); }

/* Prints the opening of the bench JSON object, three lines:
 *   {"bench": "<bench>", "impl": "mbrl", "version": "...",
 *    "cpu_kernels": "<path>", "cpu_features": "...", "clock": "wall" | "cpu",
 *    "machine": {"cpu": "...", "cores": N, "host": "...", "gpu": "<name>" | null},
 * have_gpu != 0 names CUDA device 0. */
static inline void bench_print_head(const char *bench, int have_gpu) {
  char cpu[256], host[256] = "unknown";
  bench_cpu_name(cpu, sizeof cpu);
  if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "unknown");
  host[sizeof host - 1] = '\0';
  printf("{\"bench\": \"%s\", \"impl\": \"mbrl\", \"version\": \"%s\",\n", bench, MBRL_VERSION);
  printf(" \"cpu_kernels\": \"%s\", \"cpu_features\": \"%s\", \"clock\": \"%s\",\n",
         mbrl_cpu_path_name(mbrl_cpu_kernels()), mbrl_cpu_features(),
         bench_cpu_clock() ? "cpu" : "wall");
  printf(" \"machine\": {\"cpu\": \"%s\", \"cores\": %ld, \"host\": ", cpu,
         sysconf(_SC_NPROCESSORS_ONLN));
  mbrl_cli_json_string(stdout, host);
  printf(", \"gpu\": ");
  if (have_gpu)
    mbrl_cli_json_string(stdout, mbrl_cuda_device_name());
  else
    printf("null");
  printf("},\n");
}

/* The current UTC time as "YYYY-MM-DDTHH:MM:SS+00:00" ("" if it cannot be read). */
static inline void bench_date_utc(char *out, size_t n) {
  time_t now = time(NULL);
  struct tm tmv;
  out[0] = '\0';
  if (gmtime_r(&now, &tmv)) strftime(out, n, "%Y-%m-%dT%H:%M:%S+00:00", &tmv);
}

/* Prints argv joined by spaces as one JSON string literal (the "command" field). */
static inline void bench_print_command(int argc, char **argv) {
  size_t len = 1;
  for (int i = 0; i < argc; ++i) len += strlen(argv[i]) + 1;
  char *cmd = malloc(len);
  if (!cmd) {
    printf("null");
    return;
  }
  cmd[0] = '\0';
  for (int i = 0; i < argc; ++i) {
    if (i) strcat(cmd, " ");
    strcat(cmd, argv[i]);
  }
  mbrl_cli_json_string(stdout, cmd);
  free(cmd);
}

/* Parses flag's value v as an integer in [lo, hi] into *out. Returns 0, or prints
 * "prog: error: flag 'v': need an integer in [lo, hi]" to stderr and returns 2 (usage). */
static inline int bench_parse_int(const char *prog, const char *flag, const char *v, long long lo,
                                  long long hi, long long *out) {
  char *end = NULL;
  const long long x = strtoll(v, &end, 10);
  if (*v == '\0' || *end || x < lo || x > hi) {
    fprintf(stderr, "%s: error: %s '%s': need an integer in [%lld, %lld]\n", prog, flag, v, lo, hi);
    return 2;
  }
  *out = x;
  return 0;
}

/* Parses --seconds' value v (a number in (0, 60]) into *out. Returns 0, or prints the error
 * to stderr and returns 2 (usage). */
static inline int bench_parse_seconds(const char *prog, const char *v, double *out) {
  char *end = NULL;
  const double x = strtod(v, &end);
  if (*v == '\0' || *end || !(x > 0 && x <= 60)) {
    fprintf(stderr, "%s: error: --seconds '%s': need a number in (0, 60]\n", prog, v);
    return 2;
  }
  *out = x;
  return 0;
}

/* The flags every bench program takes; a value < 0 means "not given". */
typedef struct bench_flags {
  int quick, threads, runs;
  double seconds;
} bench_flags;

/* Handles argv[*i] when it is a common flag: --quick, --threads N (1..1024), --runs R (1..31)
 * and, with seconds_ok, --seconds S; steps *i past a value. Returns 1 handled, 0 not a common
 * flag (or one missing its value), 2 bad value (message printed: exit 2). */
static inline int bench_common_flag(const char *prog, int argc, char **argv, int *i,
                                    bench_flags *f, int seconds_ok) {
  const char *a = argv[*i];
  if (strcmp(a, "--quick") == 0) {
    f->quick = 1;
    return 1;
  }
  if (*i + 1 >= argc) return 0;
  if (seconds_ok && strcmp(a, "--seconds") == 0)
    return bench_parse_seconds(prog, argv[++*i], &f->seconds) ? 2 : 1;
  const int runs = strcmp(a, "--runs") == 0;
  if (!runs && strcmp(a, "--threads") != 0) return 0;
  long long n;
  if (bench_parse_int(prog, a, argv[++*i], 1, runs ? 31 : 1024, &n)) return 2;
  if (runs)
    f->runs = (int)n;
  else
    f->threads = (int)n;
  return 1;
}

/* Prints "prog: error: unknown or incomplete argument 'a'" and the usage to stderr; returns 2. */
static inline int bench_bad_arg(const char *prog, const char *a, void (*usage)(FILE *)) {
  fprintf(stderr, "%s: error: unknown or incomplete argument '%s'\n", prog, a);
  usage(stderr);
  return 2;
}

#endif
