/* bench_env.c - environment steps per second, single env and batched (SoA), CPU (+ CUDA).
 *
 * Usage: bench_env [--threads N] [--quick] [--seconds S] [--runs R]
 * Runs Pendulum-v1 and CartPole-v1: one mbrl_env (step + reset when done, mode "single") and
 * mbrl_env_batch with B = 1, 64, 4096 (auto-reset inside, mode "batch_autoreset"). A case is
 * one warm-up run then R timed runs (default 5, --quick 3), each running whole chunks until
 * S seconds (default 0.2, --quick 0.05) have passed; the row reports the median rate. The env
 * code is single-threaded: --threads is accepted (run_all.sh passes it) and reported, rows
 * say threads 1. Actions are drawn in advance (uniform in the action bounds), so only the env
 * is timed. With the CUDA backend and a GPU, also times mbrl_pendulum_batch_step_cuda
 * (physics + reward, no reset) for B = 4096 and 1M. Prints ONE JSON object on stdout in
 * bench/README.md's schema. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mbrl/device.h"
#include "mbrl/env.h"
#include "mbrl/pendulum.h"

#ifdef MBRL_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#define N_ACT_ROWS 64 /* pre-drawn action rows, cycled */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void machine_name(char *out, size_t n) {
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

/* Fill rows x B actions uniformly in the env's action bounds. */
static void draw_actions(const mbrl_env_spec *spec, float *a, size_t count) {
  mbrl_philox r;
  mbrl_philox_init(&r, 1234, 0, 0);
  for (size_t i = 0; i < count; ++i)
    a[i] = spec->discrete ? (float)mbrl_philox_below(&r, (uint32_t)spec->n_actions)
                          : mbrl_philox_range_float(&r, spec->act_low[0], spec->act_high[0]);
}

static volatile float g_sink; /* keeps results alive */

static int bench_single(const char *id, double min_s, double *steps_out, double *sec_out) {
  mbrl_env e;
  if (mbrl_env_init(&e, id, 1, 0) != MBRL_OK) return 1;
  float act[1024], obs[MBRL_MAX_DIM], r, acc = 0.0f;
  draw_actions(e.spec, act, 1024);
  int term, trunc;
  mbrl_env_reset(&e, obs);
  const long chunk = 100000;
  long steps = 0;
  double t0 = now_s(), el = 0;
  do {
    for (long i = 0; i < chunk; ++i) {
      mbrl_env_step(&e, &act[i & 1023], obs, &r, &term, &trunc);
      acc += r;
      if (term || trunc) mbrl_env_reset(&e, obs);
    }
    steps += chunk;
    el = now_s() - t0;
  } while (el < min_s);
  g_sink = acc;
  *steps_out = (double)steps;
  *sec_out = el;
  return 0;
}

static int bench_batch(const char *id, int B, double min_s, double *steps_out, double *sec_out) {
  mbrl_env_batch eb;
  if (mbrl_env_batch_init(&eb, id, B, 1, 0) != MBRL_OK) return 1;
  const int O = eb.spec->obs_dim;
  size_t nb = (size_t)B;
  float *act = malloc(N_ACT_ROWS * nb * sizeof *act);
  float *obs = malloc(nb * (size_t)O * sizeof *obs), *nobs = malloc(nb * (size_t)O * sizeof *nobs);
  float *rew = malloc(nb * sizeof *rew);
  uint8_t *te = malloc(nb), *tr = malloc(nb);
  int rc = 1;
  if (!act || !obs || !nobs || !rew || !te || !tr) goto done;
  draw_actions(eb.spec, act, N_ACT_ROWS * nb);
  mbrl_env_batch_reset(&eb, obs);
  long iters_per_chunk = 200000 / B + 1, iters = 0;
  double t0 = now_s(), el = 0;
  float acc = 0.0f;
  do {
    for (long i = 0; i < iters_per_chunk; ++i) {
      mbrl_env_batch_step(&eb, act + (size_t)(i % N_ACT_ROWS) * nb, obs, nobs, rew, te, tr);
      acc += rew[0];
    }
    iters += iters_per_chunk;
    el = now_s() - t0;
  } while (el < min_s);
  g_sink = acc;
  *steps_out = (double)iters * B;
  *sec_out = el;
  rc = 0;
done:
  free(act);
  free(obs);
  free(nobs);
  free(rew);
  free(te);
  free(tr);
  mbrl_env_batch_free(&eb);
  return rc;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median rate (steps/s) over `runs` timed runs after one warm-up; B = 0 means single env. */
static int median_rate(const char *id, int B, double min_s, int runs, double *rate) {
  double r[32], steps, sec;
  for (int i = -1; i < runs; ++i) {
    int rc = B == 0 ? bench_single(id, min_s, &steps, &sec)
                    : bench_batch(id, B, min_s, &steps, &sec);
    if (rc) return rc;
    if (i >= 0) r[i] = steps / sec;
  }
  qsort(r, (size_t)runs, sizeof r[0], cmp_double);
  *rate = runs % 2 ? r[runs / 2] : 0.5 * (r[runs / 2 - 1] + r[runs / 2]);
  return 0;
}

static int g_rows = 0;

static void print_row(const char *id, const char *mode, const char *device, int B, double rate,
                      int runs) {
  printf("%s\n    {\"env\": \"%s\", \"mode\": \"%s\", \"device\": \"%s\", \"batch\": %d, "
         "\"steps_per_s\": %.6g, \"ns_per_step\": %.4g, \"runs\": %d, \"threads\": 1}",
         g_rows++ ? "," : "", id, mode, device, B, rate, 1e9 / rate, runs);
}

#ifdef MBRL_HAVE_CUDA
/* Median rate of the CUDA pendulum op over B envs (device memory, events around 100 steps). */
static int cuda_rate(int B, int runs, double *rate) {
  double *th = NULL, *td = NULL;
  float *u = NULL, *obs = NULL, *rew = NULL;
  float *hu = malloc((size_t)B * sizeof *hu);
  double *hs = malloc((size_t)B * sizeof *hs);
  cudaEvent_t e0 = NULL, e1 = NULL;
  int rc = 1;
  if (!hu || !hs) goto done;
  if (cudaMalloc((void **)&th, (size_t)B * sizeof *th) != cudaSuccess ||
      cudaMalloc((void **)&td, (size_t)B * sizeof *td) != cudaSuccess ||
      cudaMalloc((void **)&u, (size_t)B * sizeof *u) != cudaSuccess ||
      cudaMalloc((void **)&obs, (size_t)B * 3 * sizeof *obs) != cudaSuccess ||
      cudaMalloc((void **)&rew, (size_t)B * sizeof *rew) != cudaSuccess) {
    mbrl_set_error(MBRL_ERR_CUDA, "bench_env: cudaMalloc for %d envs failed", B);
    goto done;
  }
  mbrl_philox r;
  mbrl_philox_init(&r, 5, 0, 0);
  for (int b = 0; b < B; ++b) {
    hs[b] = mbrl_philox_range_double(&r, -MBRL_PI, MBRL_PI);
    hu[b] = mbrl_philox_range_float(&r, -2.0f, 2.0f);
  }
  if (cudaMemcpy(th, hs, (size_t)B * sizeof *hs, cudaMemcpyHostToDevice) != cudaSuccess ||
      cudaMemset(td, 0, (size_t)B * sizeof *td) != cudaSuccess ||
      cudaMemcpy(u, hu, (size_t)B * sizeof *hu, cudaMemcpyHostToDevice) != cudaSuccess ||
      cudaEventCreate(&e0) != cudaSuccess || cudaEventCreate(&e1) != cudaSuccess) {
    mbrl_set_error(MBRL_ERR_CUDA, "bench_env: CUDA set-up failed");
    goto done;
  }
  const int iters = 100;
  double rates[32];
  for (int i = -1; i < runs; ++i) {
    cudaEventRecord(e0, NULL);
    for (int k = 0; k < iters; ++k)
      if (mbrl_pendulum_batch_step_cuda(B, th, td, u, obs, rew, NULL) != MBRL_OK) goto done;
    cudaEventRecord(e1, NULL);
    if (cudaEventSynchronize(e1) != cudaSuccess) {
      mbrl_set_error(MBRL_ERR_CUDA, "bench_env: CUDA kernel failed");
      goto done;
    }
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    if (i >= 0) rates[i] = (double)iters * B / (1e-3 * ms);
  }
  qsort(rates, (size_t)runs, sizeof rates[0], cmp_double);
  *rate = rates[runs / 2];
  rc = 0;
done:
  if (e0) cudaEventDestroy(e0);
  if (e1) cudaEventDestroy(e1);
  cudaFree(th);
  cudaFree(td);
  cudaFree(u);
  cudaFree(obs);
  cudaFree(rew);
  free(hu);
  free(hs);
  return rc;
}
#endif

static void usage(FILE *f) {
  fprintf(f, "usage: bench_env [--threads N] [--quick] [--seconds S] [--runs R]\n"
             "  env steps/s (Pendulum-v1, CartPole-v1; single env and batches of 1, 64, 4096);\n"
             "  one JSON object on stdout\n");
}

int main(int argc, char **argv) {
  double min_s = -1;
  int runs = -1, threads = 1, quick = 0;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    char *end = NULL;
    if (strcmp(a, "--quick") == 0) {
      quick = 1;
    } else if (strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if ((strcmp(a, "--seconds") == 0 || strcmp(a, "--runs") == 0 ||
                strcmp(a, "--threads") == 0) && i + 1 < argc) {
      const char *v = argv[++i];
      if (a[2] == 's') {
        min_s = strtod(v, &end);
        if (*v == '\0' || *end || !(min_s > 0 && min_s <= 60)) {
          fprintf(stderr, "bench_env: error: --seconds '%s': need a number in (0, 60]\n", v);
          return 2;
        }
      } else {
        long n = strtol(v, &end, 10);
        long hi = a[2] == 'r' ? 31 : 1024;
        if (*v == '\0' || *end || n < 1 || n > hi) {
          fprintf(stderr, "bench_env: error: %s '%s': need an integer in [1, %ld]\n", a, v, hi);
          return 2;
        }
        if (a[2] == 'r') runs = (int)n; else threads = (int)n;
      }
    } else {
      fprintf(stderr, "bench_env: error: unknown or incomplete argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (min_s < 0) min_s = quick ? 0.05 : 0.2;
  if (runs < 0) runs = quick ? 3 : 5;

  char cpu[256], host[256] = "unknown", date[64] = "";
  machine_name(cpu, sizeof cpu);
  FILE *hf = fopen("/proc/sys/kernel/hostname", "r");
  if (hf) {
    if (fgets(host, sizeof host, hf)) host[strcspn(host, "\n")] = '\0';
    fclose(hf);
  }
  time_t now = time(NULL);
  struct tm tmv;
  if (gmtime_r(&now, &tmv)) strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S+00:00", &tmv);
  int gpus = mbrl_cuda_device_count();
  printf("{\"bench\": \"env\", \"impl\": \"mbrl\", \"version\": \"%s\",\n"
         " \"machine\": {\"cpu\": \"%s\", \"cores\": %ld, \"host\": \"%s\", \"gpu\": ",
         MBRL_VERSION, cpu, sysconf(_SC_NPROCESSORS_ONLN), host);
  if (gpus > 0)
    printf("\"%s\"},\n", mbrl_cuda_device_name());
  else
    printf("null},\n");
  printf(" \"threads\": %d, \"date\": \"%s\", \"seconds_per_run\": %g, \"runs\": %d,\n"
         " \"command\": \"", threads, date, min_s, runs);
  for (int i = 0; i < argc; ++i) printf("%s%s", i ? " " : "", argv[i]);
  printf("\",\n \"results\": [");
  const char *ids[2] = {"Pendulum-v1", "CartPole-v1"};
  const int Bs[3] = {1, 64, 4096};
  for (int k = 0; k < 2; ++k) {
    double rate;
    if (median_rate(ids[k], 0, min_s, runs, &rate)) goto fail;
    print_row(ids[k], "single", "cpu", 1, rate, runs);
    for (int j = 0; j < 3; ++j) {
      if (median_rate(ids[k], Bs[j], min_s, runs, &rate)) goto fail;
      print_row(ids[k], "batch_autoreset", "cpu", Bs[j], rate, runs);
    }
  }
#ifdef MBRL_HAVE_CUDA
  if (gpus > 0) {
    const int cB[2] = {4096, 1 << 20};
    for (int j = 0; j < 2; ++j) {
      double rate;
      if (cuda_rate(cB[j], runs, &rate)) goto fail;
      print_row("Pendulum-v1", "batch_physics_only", "cuda", cB[j], rate, runs);
    }
  }
#endif
  printf("\n]}\n");
  return 0;
fail:
  printf("\n]}\n");
  fflush(stdout);
  fprintf(stderr, "bench_env: error: %s\n", mbrl_last_error());
  return 1;
}
