/* bench_train.c - dynamics-model training steps per second (gather minibatch, forward, MSE,
 * backward, Adam), the seed's model 3+1 -> 64 -> 64 -> 3 with BatchNorm, Adam(0.01, 0.99, 0.999).
 *
 * Usage: bench_train [--threads N] [--quick] [--seconds S] [--runs R] [--batches B1,B2,...]
 * Data: 4000 Pendulum-v1 random-policy transitions (20 episodes x 200, as mbrl_collect's
 * defaults) made in memory. For each device (cpu; cuda when the build has it and a GPU is
 * present) and batch (default 128 and 1024) it builds the model and an
 * mbrl_dynamics_trainer, warms up 50 steps, probes the step time, then times R runs (default 5,
 * --quick 3) of about S seconds each (default 0.5, --quick 0.2) of mbrl_dynamics_trainer_run
 * with a loss buffer (so a CUDA run ends synchronized), and reports the median. --threads is
 * reported; the thread count itself comes from OMP_NUM_THREADS / OPENBLAS_NUM_THREADS (as
 * run_all.sh sets them; without them the CPU gemm runs single-threaded, see nn.h). The CPU row's
 * variant names the kernel path (host/nn_cpu.h): "cpu_avx512" (hand-written AVX-512 kernels) or
 * "cpu_blas" (OpenBLAS; no AVX-512, or MBRL_CPU_KERNELS=generic).
 * Prints ONE JSON object on stdout in bench/README.md's schema ("train" rows). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mbrl/dataset.h"
#include "mbrl/device.h"
#include "mbrl/dynamics.h"
#include "mbrl/env.h"
#include "mbrl/philox.h"
#include "host/nn_cpu.h"

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

/* 20 episodes x 200 Pendulum-v1 transitions under a uniform random policy, stats computed. */
static int make_data(mbrl_dataset *ds) {
  if (mbrl_dataset_init(ds, "Pendulum-v1", 3, 1) != MBRL_OK) return 1;
  float obs[3], next[3], act[1], r;
  for (int e = 0; e < 20; ++e) {
    mbrl_env env;
    if (mbrl_env_init(&env, "Pendulum-v1", 999, (uint64_t)e) != MBRL_OK) return 1;
    mbrl_philox rng;
    mbrl_philox_init(&rng, 999, (1ULL << 32) + (uint64_t)e, 0);
    mbrl_env_reset(&env, obs);
    for (int t = 0; t < 200; ++t) {
      int term, trunc;
      act[0] = mbrl_philox_range_float(&rng, -2.0f, 2.0f);
      mbrl_env_step(&env, act, next, &r, &term, &trunc);
      if (mbrl_dataset_add(ds, obs, act, next, r, 0, t == 199) != MBRL_OK) return 1;
      memcpy(obs, next, sizeof obs);
    }
  }
  ds->episodes = 20;
  return mbrl_dataset_compute_stats(ds) != MBRL_OK;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median steps/s of the trainer on `be` at `batch`; *final_loss = the last step's loss. */
static int bench_case(const mbrl_dataset *ds, mbrl_backend be, int batch, double min_s, int runs,
                      double *rate, long *steps_timed, double *final_loss) {
  static const int hidden[2] = {64, 64};
  mbrl_dynamics *d = NULL;
  mbrl_dynamics_trainer *t = NULL;
  float *losses = NULL;
  int rc = 1;
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  if (mbrl_dynamics_create(&d, ds->env_id, 3, 1, &ds->stats, 2, hidden, 1, be, batch, 0) !=
          MBRL_OK ||
      mbrl_dynamics_trainer_create(&t, d, ds, &oc, batch, 1) != MBRL_OK)
    goto done;
  float probe[50];
  if (mbrl_dynamics_trainer_run(t, 50, probe) != MBRL_OK) goto done; /* warm-up */
  double t0 = now_s();
  if (mbrl_dynamics_trainer_run(t, 50, probe) != MBRL_OK) goto done;
  double per = (now_s() - t0) / 50;
  long n = (long)(min_s / (per > 1e-7 ? per : 1e-7));
  if (n < 50) n = 50;
  if (n > 10000000) n = 10000000;
  losses = malloc((size_t)n * sizeof *losses);
  if (!losses) goto done;
  double r[32];
  for (int i = 0; i < runs; ++i) {
    t0 = now_s();
    if (mbrl_dynamics_trainer_run(t, (int)n, losses) != MBRL_OK) goto done;
    r[i] = (double)n / (now_s() - t0);
  }
  qsort(r, (size_t)runs, sizeof r[0], cmp_double);
  *rate = runs % 2 ? r[runs / 2] : 0.5 * (r[runs / 2 - 1] + r[runs / 2]);
  *steps_timed = n;
  *final_loss = losses[n - 1];
  rc = 0;
done:
  free(losses);
  mbrl_dynamics_trainer_free(t);
  mbrl_dynamics_free(d);
  return rc;
}

static void usage(FILE *f) {
  fprintf(f, "usage: bench_train [--threads N] [--quick] [--seconds S] [--runs R] [--batches B,...]\n"
             "  dynamics-model training steps/s (batch 128 and 1024 by default), CPU and CUDA;\n"
             "  one JSON object on stdout\n");
}

int main(int argc, char **argv) {
  double min_s = -1;
  int runs = -1, threads = 1, quick = 0, nb = 2;
  int batches[8] = {128, 1024};
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    char *end = NULL;
    if (strcmp(a, "--quick") == 0) {
      quick = 1;
    } else if (strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--seconds") == 0 && i + 1 < argc) {
      const char *v = argv[++i];
      min_s = strtod(v, &end);
      if (*v == '\0' || *end || !(min_s > 0 && min_s <= 60)) {
        fprintf(stderr, "bench_train: error: --seconds '%s': need a number in (0, 60]\n", v);
        return 2;
      }
    } else if ((strcmp(a, "--runs") == 0 || strcmp(a, "--threads") == 0) && i + 1 < argc) {
      const char *v = argv[++i];
      long n = strtol(v, &end, 10), hi = a[2] == 'r' ? 31 : 1024;
      if (*v == '\0' || *end || n < 1 || n > hi) {
        fprintf(stderr, "bench_train: error: %s '%s': need an integer in [1, %ld]\n", a, v, hi);
        return 2;
      }
      if (a[2] == 'r') runs = (int)n; else threads = (int)n;
    } else if (strcmp(a, "--batches") == 0 && i + 1 < argc) {
      const char *v = argv[++i];
      nb = 0;
      for (const char *p = v; *p && nb < 8;) {
        long n = strtol(p, &end, 10);
        if (end == p || n < 2 || n > 4000 || (*end && *end != ',')) {
          fprintf(stderr, "bench_train: error: --batches '%s': need integers in [2, 4000], "
                          "comma-separated\n", v);
          return 2;
        }
        batches[nb++] = (int)n;
        p = *end ? end + 1 : end;
      }
      if (nb == 0) {
        fprintf(stderr, "bench_train: error: --batches '%s' is empty\n", v);
        return 2;
      }
    } else {
      fprintf(stderr, "bench_train: error: unknown or incomplete argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (min_s < 0) min_s = quick ? 0.2 : 0.5;
  if (runs < 0) runs = quick ? 3 : 5;

  mbrl_dataset ds;
  if (make_data(&ds)) {
    fprintf(stderr, "bench_train: error: %s\n", mbrl_last_error());
    return 1;
  }
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
  const int gpus = mbrl_cuda_device_count();
  printf("{\"bench\": \"train\", \"impl\": \"mbrl\", \"version\": \"%s\",\n"
         " \"machine\": {\"cpu\": \"%s\", \"cores\": %ld, \"host\": \"%s\", \"gpu\": ",
         MBRL_VERSION, cpu, sysconf(_SC_NPROCESSORS_ONLN), host);
  if (gpus > 0)
    printf("\"%s\"},\n", mbrl_cuda_device_name());
  else
    printf("null},\n");
  printf(" \"threads\": %d, \"date\": \"%s\", \"seconds_per_run\": %g, \"runs\": %d,\n"
         " \"data\": \"4000 Pendulum-v1 random-policy transitions\",\n \"command\": \"",
         threads, date, min_s, runs);
  for (int i = 0; i < argc; ++i) printf("%s%s", i ? " " : "", argv[i]);
  printf("\",\n \"results\": [");
  int rows = 0;
  /* the CPU kernel path the library chose (host/nn_cpu.h): AVX-512 kernels or OpenBLAS */
  const char *cpu_variant =
      strcmp(mbrl_nn_cpu_kernels(), "avx512") == 0 ? "cpu_avx512" : "cpu_blas";
  const mbrl_backend bes[2] = {MBRL_BACKEND_CPU, MBRL_BACKEND_CUDA};
  for (int k = 0; k < 2; ++k) {
    if (bes[k] == MBRL_BACKEND_CUDA && (!mbrl_cuda_compiled() || gpus == 0)) continue;
    for (int j = 0; j < nb; ++j) {
      double rate, loss;
      long n;
      if (bench_case(&ds, bes[k], batches[j], min_s, runs, &rate, &n, &loss)) {
        printf("\n]}\n");
        fflush(stdout);
        fprintf(stderr, "bench_train: error: %s batch %d: %s\n", mbrl_backend_name(bes[k]),
                batches[j], mbrl_last_error());
        mbrl_dataset_free(&ds);
        return 1;
      }
      printf("%s\n    {\"name\": \"train_step\", \"variant\": \"%s\", \"device\": \"%s\", "
             "\"batch\": %d, \"steps_per_s\": %.6g, \"samples_per_s\": %.6g, "
             "\"us_per_step\": %.4g, \"steps_timed\": %ld, \"runs\": %d, \"final_loss\": %.6g}",
             rows++ ? "," : "", bes[k] == MBRL_BACKEND_CPU ? cpu_variant : "cuda_trainer",
             mbrl_backend_name(bes[k]), batches[j], rate, rate * batches[j], 1e6 / rate, n, runs,
             loss);
      fflush(stdout);
      fprintf(stderr, "bench_train: %s batch %d: %.0f steps/s (%.1f us/step)\n",
              mbrl_backend_name(bes[k]), batches[j], rate, 1e6 / rate);
    }
  }
  printf("\n]}\n");
  mbrl_dataset_free(&ds);
  return 0;
}
