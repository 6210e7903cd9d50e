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
 * variant names the CPU kernel path (mbrl/cpu.h): "cpu_avx512", "cpu_avx2" or "cpu_generic" (the
 * best the CPU runs, or MBRL_CPU_KERNELS).
 * Prints ONE JSON object on stdout in bench/README.md's schema ("train" rows). */
#include "bench_common.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbrl/dataset.h"
#include "mbrl/device.h"
#include "mbrl/dynamics.h"
#include "mbrl/env.h"
#include "mbrl/philox.h"

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
  double t0 = bench_now_s();
  if (mbrl_dynamics_trainer_run(t, 50, probe) != MBRL_OK) goto done;
  double per = (bench_now_s() - t0) / 50;
  long n = (long)(min_s / (per > 1e-7 ? per : 1e-7));
  if (n < 50) n = 50;
  if (n > 10000000) n = 10000000;
  losses = malloc((size_t)n * sizeof *losses);
  if (!losses) goto done;
  double r[32];
  for (int i = 0; i < runs; ++i) {
    t0 = bench_now_s();
    if (mbrl_dynamics_trainer_run(t, (int)n, losses) != MBRL_OK) goto done;
    r[i] = (double)n / (bench_now_s() - t0);
  }
  *rate = bench_median(r, runs);
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
  bench_flags fl = {0, 1, -1, -1.0};
  int nb = 2;
  int batches[8] = {128, 1024};
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    const int r = bench_common_flag("bench_train", argc, argv, &i, &fl, 1);
    if (r == 2) return 2;
    if (r) continue;
    if (strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--batches") == 0 && i + 1 < argc) {
      const char *v = argv[++i];
      char *end = NULL;
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
      return bench_bad_arg("bench_train", a, usage);
    }
  }
  const double min_s = fl.seconds > 0 ? fl.seconds : fl.quick ? 0.2 : 0.5;
  const int runs = fl.runs > 0 ? fl.runs : fl.quick ? 3 : 5, threads = fl.threads;

  mbrl_dataset ds;
  if (make_data(&ds)) {
    fprintf(stderr, "bench_train: error: %s\n", mbrl_last_error());
    return 1;
  }
  char date[64];
  bench_date_utc(date, sizeof date);
  const int gpus = mbrl_cuda_device_count();
  bench_cpu_kernels("bench_train");
  bench_print_head("train", gpus > 0);
  printf(" \"threads\": %d, \"date\": \"%s\", \"seconds_per_run\": %g, \"runs\": %d,\n"
         " \"data\": \"4000 Pendulum-v1 random-policy transitions\",\n \"command\": ",
         threads, date, min_s, runs);
  bench_print_command(argc, argv);
  printf(",\n \"results\": [");
  int rows = 0;
  /* the CPU kernel path in use (mbrl/cpu.h) names the CPU rows */
  char cpu_variant[32];
  snprintf(cpu_variant, sizeof cpu_variant, "cpu_%s", mbrl_cpu_path_name(mbrl_cpu_kernels()));
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
