/* bench_a2c - A2C training throughput on CartPole-v1 (SB3 configuration: 8 envs, n_steps 5,
 * 64-64 tanh actor and critic, RMSprop), one JSON object on stdout (bench/README.md, area a2c).
 *
 * Usage: bench_a2c [--threads N] [--quick] [--runs R] [--steps N] [--no-500k]
 *
 * Rows: single A2C and the 20-model ensemble on the CPU (and on CUDA when a GPU is present):
 * env steps/s of mbrl_a2c_iterate (collection + update, no evaluation), the median of R timed
 * runs (default 5, --quick 3) of N env steps (default 20000, --quick 8000; the ensemble 1/5 of
 * that) after a warm-up of 400 steps; plus one run of 500,000 steps of the single A2C from a
 * fresh trainer per device (the "wall time to 500k steps" row; --no-500k leaves it out). The CPU
 * path is single-threaded on the CPU kernel path in use (mbrl/cpu.h, named in the JSON as
 * cpu_kernels); --threads is reported. */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbrl/a2c.h"
#include "mbrl/device.h"
#include "mbrl/log.h"

/* Time `steps` env steps of training (after `warm` untimed ones) on a fresh trainer.
 * Returns 0 and *wall, *done; 1 on failure (message printed). */
static int time_run(int M, mbrl_backend be, long long warm, long long steps, double *wall,
                    long long *done) {
  mbrl_a2c_config c;
  mbrl_a2c_config_init(&c, MBRL_A2C_ALGO_A2C);
  mbrl_a2c *a = NULL;
  if (mbrl_a2c_create(&a, &c, "CartPole-v1", M, be) != MBRL_OK) {
    fprintf(stderr, "bench_a2c: error: %s\n", mbrl_last_error());
    return 1;
  }
  int st = 0;
  while (a->env_steps < warm && !st) st = mbrl_a2c_iterate(a, NULL) != MBRL_OK;
  const long long start = a->env_steps;
  const double t0 = bench_now_s();
  while (a->env_steps - start < steps && !st) st = mbrl_a2c_iterate(a, NULL) != MBRL_OK;
  *wall = bench_now_s() - t0;
  *done = a->env_steps - start;
  if (st) fprintf(stderr, "bench_a2c: error: %s\n", mbrl_last_error());
  mbrl_a2c_free(a);
  return st;
}

static int g_rows = 0;

static void print_row(const char *device, int M, long long steps, double wall, int runs,
                      const char *variant) {
  printf("%s\n  {\"bench\": \"a2c\", \"name\": \"a2c\", \"variant\": \"%s\", \"env\": \"CartPole-v1\", "
         "\"device\": \"%s\", \"envs\": 8, \"n_steps\": 5, \"env_steps\": %lld, \"wall_s\": %.6g, "
         "\"steps_per_s\": %.6g, \"ensemble\": %d, \"runs\": %d}",
         g_rows++ ? "," : "", variant, device, steps, wall, (double)steps / wall, M, runs);
  fflush(stdout);
  fprintf(stderr, "bench_a2c: %-4s M=%-2d %-10s %9lld steps in %8.3f s = %10.0f steps/s\n",
          device, M, variant, steps, wall, (double)steps / wall);
}

static int bench_device(mbrl_backend be, const char *dev, int runs, long long steps, int full) {
  const int Ms[2] = {1, 20};
  for (int k = 0; k < 2; ++k) {
    const int M = Ms[k];
    const long long n = M == 1 ? steps : steps / 5;
    double rates[31], walls[31];
    long long done = 0;
    for (int r = 0; r < runs; ++r) {
      if (time_run(M, be, 400, n, &walls[r], &done)) return 1;
      rates[r] = (double)done / walls[r];
    }
    bench_sort(rates, runs);
    const double med = rates[runs / 2];
    print_row(dev, M, done, (double)done / med, runs, "median");
  }
  if (full) {
    double wall;
    long long done;
    if (time_run(1, be, 0, 500000, &wall, &done)) return 1;
    print_row(dev, 1, done, wall, 1, "to_500k");
  }
  return 0;
}

static void usage(FILE *f) {
  fprintf(f, "usage: bench_a2c [--threads N] [--quick] [--runs R] [--steps N] [--no-500k]\n"
             "  A2C (CartPole-v1, SB3 configuration) training env steps/s, single and 20-model\n"
             "  ensemble, CPU and CUDA when present; one JSON object on stdout\n");
}

int main(int argc, char **argv) {
  bench_flags fl = {0, 1, -1, -1.0};
  int full = 1;
  long long steps = -1;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    const int r = bench_common_flag("bench_a2c", argc, argv, &i, &fl, 0);
    if (r == 2) return 2;
    if (r) continue;
    if (strcmp(a, "--no-500k") == 0) {
      full = 0;
    } else if (strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--steps") == 0 && i + 1 < argc) {
      if (bench_parse_int("bench_a2c", a, argv[++i], 400, 100000000, &steps)) return 2;
    } else {
      return bench_bad_arg("bench_a2c", a, usage);
    }
  }
  const int runs = fl.runs > 0 ? fl.runs : fl.quick ? 3 : 5, threads = fl.threads;
  if (steps < 0) steps = fl.quick ? 8000 : 20000;

  char date[64];
  bench_date_utc(date, sizeof date);
  const int gpus = mbrl_cuda_device_count();
  bench_cpu_kernels("bench_a2c");
  bench_print_head("a2c", gpus > 0);
  printf(" \"threads\": %d, \"date\": \"%s\", \"runs\": %d,\n \"command\": ", threads, date, runs);
  bench_print_command(argc, argv);
  printf(",\n \"results\": [");
  int fail = bench_device(MBRL_BACKEND_CPU, "cpu", runs, steps, full);
  if (!fail && gpus > 0) fail = bench_device(MBRL_BACKEND_CUDA, "cuda", runs, steps, full);
  printf("\n ]}\n");
  return fail ? 1 : 0;
}
