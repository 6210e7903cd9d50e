/* bench_env.c - environment steps per second, single env and batched (SoA), CPU (+ CUDA).
 *
 * Usage: bench_env [--threads N] [--quick] [--seconds S] [--runs R]
 * Runs every registered env (Pendulum-v1, CartPole-v1, MountainCarContinuous-v0,
 * MountainCar-v0, Acrobot-v1): one mbrl_env (step + reset when done, mode "single") and
 * mbrl_env_batch with B = 1, 64, 4096 (auto-reset inside, mode "batch_autoreset"). A case is
 * one warm-up run then R timed runs (default 5, --quick 3), each running whole chunks until
 * S seconds (default 0.2, --quick 0.05) have passed; the row reports the median rate. The env
 * code is single-threaded: --threads is accepted (run_all.sh passes it) and reported, rows
 * say threads 1. Actions are drawn in advance (uniform in the action bounds), so only the env
 * is timed. With the CUDA backend and a GPU, also times mbrl_env_batch_physics_cuda
 * (step + observation + reward, no reset) of every env for B = 4096 and 1M. Prints ONE JSON
 * object on stdout in bench/README.md's schema. */
#include "bench_common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbrl/device.h"
#include "mbrl/env.h"

#ifdef MBRL_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#define N_ACT_ROWS 64 /* pre-drawn action rows, cycled */

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
  double t0 = bench_now_s(), el = 0;
  do {
    for (long i = 0; i < chunk; ++i) {
      mbrl_env_step(&e, &act[i & 1023], obs, &r, &term, &trunc);
      acc += r;
      if (term || trunc) mbrl_env_reset(&e, obs);
    }
    steps += chunk;
    el = bench_now_s() - t0;
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
  double t0 = bench_now_s(), el = 0;
  float acc = 0.0f;
  do {
    for (long i = 0; i < iters_per_chunk; ++i) {
      mbrl_env_batch_step(&eb, act + (size_t)(i % N_ACT_ROWS) * nb, obs, nobs, rew, te, tr);
      acc += rew[0];
    }
    iters += iters_per_chunk;
    el = bench_now_s() - t0;
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

/* Median rate (steps/s) over `runs` timed runs after one warm-up; B = 0 means single env. */
static int median_rate(const char *id, int B, double min_s, int runs, double *rate) {
  double r[32], steps, sec;
  for (int i = -1; i < runs; ++i) {
    int rc = B == 0 ? bench_single(id, min_s, &steps, &sec)
                    : bench_batch(id, B, min_s, &steps, &sec);
    if (rc) return rc;
    if (i >= 0) r[i] = steps / sec;
  }
  *rate = bench_median(r, runs);
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
/* Median rate of the CUDA physics op of env `spec` over B states (device memory, events
 * around 100 steps; states from the env's resets, actions drawn as on the CPU). */
static int cuda_rate(const mbrl_env_spec *spec, int B, int runs, double *rate) {
  const size_t D = (size_t)spec->state_dim, O = (size_t)spec->obs_dim, n = (size_t)B;
  double *s = NULL;
  float *u = NULL, *obs = NULL, *rew = NULL;
  float *hu = malloc(n * sizeof *hu);
  double *hs = malloc(D * n * sizeof *hs);
  cudaEvent_t e0 = NULL, e1 = NULL;
  int rc = 1;
  if (!hu || !hs) goto done;
  if (cudaMalloc((void **)&s, D * n * sizeof *s) != cudaSuccess ||
      cudaMalloc((void **)&u, n * sizeof *u) != cudaSuccess ||
      cudaMalloc((void **)&obs, n * O * sizeof *obs) != cudaSuccess ||
      cudaMalloc((void **)&rew, n * sizeof *rew) != cudaSuccess) {
    mbrl_set_error(MBRL_ERR_CUDA, "bench_env: cudaMalloc for %d envs failed", B);
    goto done;
  }
  mbrl_env e;
  if (mbrl_env_init(&e, spec->id, 5, 0) != MBRL_OK) goto done;
  for (size_t b = 0; b < n; ++b) {
    float o[MBRL_MAX_DIM];
    mbrl_env_reset(&e, o);
    for (size_t k = 0; k < D; ++k) hs[k * n + b] = e.state[k];
  }
  draw_actions(spec, hu, n);
  if (cudaMemcpy(s, hs, D * n * sizeof *hs, cudaMemcpyHostToDevice) != cudaSuccess ||
      cudaMemcpy(u, hu, n * sizeof *hu, cudaMemcpyHostToDevice) != cudaSuccess ||
      cudaEventCreate(&e0) != cudaSuccess || cudaEventCreate(&e1) != cudaSuccess) {
    mbrl_set_error(MBRL_ERR_CUDA, "bench_env: CUDA set-up failed");
    goto done;
  }
  const int iters = 100;
  double rates[32];
  for (int i = -1; i < runs; ++i) {
    cudaEventRecord(e0, NULL);
    for (int k = 0; k < iters; ++k)
      if (mbrl_env_batch_physics_cuda(spec, B, s, u, obs, rew, NULL, NULL) != MBRL_OK) goto done;
    cudaEventRecord(e1, NULL);
    if (cudaEventSynchronize(e1) != cudaSuccess) {
      mbrl_set_error(MBRL_ERR_CUDA, "bench_env: CUDA kernel failed");
      goto done;
    }
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    if (i >= 0) rates[i] = (double)iters * B / (1e-3 * ms);
  }
  bench_sort(rates, runs);
  *rate = rates[runs / 2];
  rc = 0;
done:
  if (e0) cudaEventDestroy(e0);
  if (e1) cudaEventDestroy(e1);
  cudaFree(s);
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
             "  env steps/s (every registered env; single env and batches of 1, 64, 4096);\n"
             "  one JSON object on stdout\n");
}

int main(int argc, char **argv) {
  bench_flags fl = {0, 1, -1, -1.0};
  for (int i = 1; i < argc; ++i) {
    const int r = bench_common_flag("bench_env", argc, argv, &i, &fl, 1);
    if (r == 2) return 2;
    if (r) continue;
    if (strcmp(argv[i], "--help") != 0) return bench_bad_arg("bench_env", argv[i], usage);
    usage(stdout);
    return 0;
  }
  const double min_s = fl.seconds > 0 ? fl.seconds : fl.quick ? 0.05 : 0.2;
  const int runs = fl.runs > 0 ? fl.runs : fl.quick ? 3 : 5, threads = fl.threads;

  char date[64];
  bench_date_utc(date, sizeof date);
  int gpus = mbrl_cuda_device_count();
  bench_cpu_kernels("bench_env");
  bench_print_head("env", gpus > 0);
  printf(" \"threads\": %d, \"date\": \"%s\", \"seconds_per_run\": %g, \"runs\": %d,\n"
         " \"command\": ", threads, date, min_s, runs);
  bench_print_command(argc, argv);
  printf(",\n \"results\": [");
  const int Bs[3] = {1, 64, 4096};
  for (int k = 0; k < MBRL_ENV_COUNT; ++k) {
    const char *id = mbrl_env_at(k)->id;
    double rate;
    if (median_rate(id, 0, min_s, runs, &rate)) goto fail;
    print_row(id, "single", "cpu", 1, rate, runs);
    for (int j = 0; j < 3; ++j) {
      if (median_rate(id, Bs[j], min_s, runs, &rate)) goto fail;
      print_row(id, "batch_autoreset", "cpu", Bs[j], rate, runs);
    }
  }
#ifdef MBRL_HAVE_CUDA
  if (gpus > 0) {
    const int cB[2] = {4096, 1 << 20};
    for (int k = 0; k < MBRL_ENV_COUNT; ++k) {
      for (int j = 0; j < 2; ++j) {
        double rate;
        if (cuda_rate(mbrl_env_at(k), cB[j], runs, &rate)) goto fail;
        print_row(mbrl_env_at(k)->id, "batch_physics_only", "cuda", cB[j], rate, runs);
      }
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
