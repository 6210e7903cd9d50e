/* bench_ensemble.c - a dynamics ensemble's batched training step against one member's step,
 * measured side by side (issue 11: "M = 5 members in one batched step at batch 128 per member
 * costs <= 2.5x one member's step").
 *
 * Usage: bench_ensemble [--threads N] [--quick] [--seconds S] [--runs R] [--members M]
 *                       [--batch B]
 * Data: 4000 Pendulum-v1 random-policy transitions (20 episodes x 200), made in memory.
 * Cases per device (cpu; cuda when built with it and a GPU is present), every one the seed's
 * member shape 3+1 -> 64 -> 64 -> out with BatchNorm, Adam(0.01, 0.99, 0.999), batch B per
 * member (default 128):
 *   single       the seed's model (mbrl_dynamics_trainer): "one member's step";
 *   ens1_prob    a 1-member probabilistic ensemble (the batched code path with M = 1);
 *   ens<M>_prob  M members (default 5), probabilistic (Gaussian NLL, learned bounds);
 *   ens<M>_det   M deterministic members (MSE).
 * Each case warms up 50 steps and probes its step time; then R rounds (default 7, --quick 3)
 * time every case in turn for about S seconds (default 0.3, --quick 0.15), so the cases share
 * the machine's state round by round. Reported per case: the median steps/s; per ensemble case
 * the median over rounds of (its step time / single's step time in the same round) and the
 * same against ens1_prob, the FLOPs per step (2 * in * out per Linear per row for the forward,
 * dW and dx (not the first layer's dx) for the backward) and GFLOP/s. The CPU variant names
 * the nn.h kernel path (host/nn_cpu.h) that the batched CPU ops call per member. --threads is
 * reported; the thread count comes from OMP_NUM_THREADS (run_all.sh sets it).
 * Prints ONE JSON object on stdout (bench/README.md's schema, "ensemble" rows). */
#include "bench_common.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbrl/cpu.h"
#include "mbrl/dataset.h"
#include "mbrl/device.h"
#include "mbrl/dyn_ensemble.h"
#include "mbrl/dynamics.h"
#include "mbrl/env.h"
#include "mbrl/philox.h"

#define MAX_ROUNDS 31

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

typedef struct bench_case {
  char name[32];
  int members, probabilistic; /* members 0: the single model */
  mbrl_dynamics *d;
  mbrl_dynamics_trainer *dt;
  mbrl_dyn_ensemble *e;
  mbrl_dyn_ensemble_trainer *et;
  long n;              /* steps per timed run */
  float *losses;       /* (n) */
  double rate[MAX_ROUNDS]; /* steps/s per round */
  double flops;        /* per step */
} bench_case;

static mbrl_status run_steps(bench_case *c, int n, float *losses) {
  if (c->members == 0) return mbrl_dynamics_trainer_run(c->dt, n, losses);
  return mbrl_dyn_ensemble_trainer_run(c->et, n, losses);
}

/* FLOPs of one training step: per member and row 2*in*out per Linear forward, the same for
 * dW, and for dx of every layer but the first. */
static double step_flops(int members, int out_dim, int batch) {
  const int sizes[4] = {4, 64, 64, out_dim};
  double f = 0.0;
  for (int l = 0; l < 3; ++l) {
    const double io = 2.0 * sizes[l] * sizes[l + 1];
    f += io * (l == 0 ? 2.0 : 3.0);
  }
  return f * batch * (members > 0 ? members : 1);
}

static int setup(bench_case *c, const mbrl_dataset *ds, mbrl_backend be, int batch) {
  static const int hidden[2] = {64, 64};
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  if (c->members == 0) {
    if (mbrl_dynamics_create(&c->d, ds->env_id, 3, 1, &ds->stats, 2, hidden, 1, be, batch, 0) ||
        mbrl_dynamics_trainer_create(&c->dt, c->d, ds, &oc, batch, 1))
      return 1;
  } else {
    mbrl_dyn_ensemble_config cfg;
    mbrl_dyn_ensemble_config_init(&cfg);
    cfg.members = c->members;
    cfg.probabilistic = c->probabilistic;
    if (mbrl_dyn_ensemble_create(&c->e, ds->env_id, 3, 1, &ds->stats, &cfg, be, batch, 0) ||
        mbrl_dyn_ensemble_trainer_create(&c->et, c->e, ds, &oc, batch, 1, 1))
      return 1;
  }
  c->flops = step_flops(c->members, c->probabilistic ? 6 : 3, batch);
  return 0;
}

static void teardown(bench_case *c) {
  mbrl_dynamics_trainer_free(c->dt);
  mbrl_dynamics_free(c->d);
  mbrl_dyn_ensemble_trainer_free(c->et);
  mbrl_dyn_ensemble_free(c->e);
  free(c->losses);
}

static void usage(FILE *f) {
  fprintf(f, "usage: bench_ensemble [--threads N] [--quick] [--seconds S] [--runs R] [--members M]\n"
             "                      [--batch B]\n"
             "  an M-member dynamics ensemble's training step against one member's step, side\n"
             "  by side, CPU and CUDA; one JSON object on stdout\n");
}

int main(int argc, char **argv) {
  bench_flags fl = {0, 1, -1, -1.0};
  long long members = 5, batch = 128;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    const int r = bench_common_flag("bench_ensemble", argc, argv, &i, &fl, 1);
    if (r == 2) return 2;
    if (r) continue;
    if (strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--members") == 0 && i + 1 < argc) {
      if (bench_parse_int("bench_ensemble", a, argv[++i], 2, MBRL_DYN_ENSEMBLE_MAX_MEMBERS, &members))
        return 2;
    } else if (strcmp(a, "--batch") == 0 && i + 1 < argc) {
      if (bench_parse_int("bench_ensemble", a, argv[++i], 2, 3600, &batch)) return 2;
    } else {
      return bench_bad_arg("bench_ensemble", a, usage);
    }
  }
  const double min_s = fl.seconds > 0 ? fl.seconds : fl.quick ? 0.15 : 0.3;
  const int rounds = fl.runs > 0 ? fl.runs : fl.quick ? 3 : 7, threads = fl.threads;

  mbrl_dataset ds;
  if (make_data(&ds)) {
    fprintf(stderr, "bench_ensemble: error: %s\n", mbrl_last_error());
    return 1;
  }
  char date[64];
  bench_date_utc(date, sizeof date);
  const int gpus = mbrl_cuda_device_count();
  bench_print_head("ensemble", gpus > 0);
  printf(" \"threads\": %d, \"date\": \"%s\", \"seconds_per_run\": %g, \"runs\": %d,\n"
         " \"data\": \"4000 Pendulum-v1 random-policy transitions\",\n \"command\": ",
         threads, date, min_s, rounds);
  bench_print_command(argc, argv);
  printf(",\n \"results\": [");
  char cpu_variant[32]; /* "cpu_<kernel path>" */
  snprintf(cpu_variant, sizeof cpu_variant, "cpu_%s", mbrl_cpu_path_name(mbrl_cpu_kernels()));
  int rows = 0;
  const mbrl_backend bes[2] = {MBRL_BACKEND_CPU, MBRL_BACKEND_CUDA};
  for (int k = 0; k < 2; ++k) {
    const mbrl_backend be = bes[k];
    if (be == MBRL_BACKEND_CUDA && (!mbrl_cuda_compiled() || gpus == 0)) continue;
    bench_case cs[4];
    memset(cs, 0, sizeof cs);
    snprintf(cs[0].name, sizeof cs[0].name, "single");
    snprintf(cs[1].name, sizeof cs[1].name, "ens1_prob");
    cs[1].members = 1, cs[1].probabilistic = 1;
    snprintf(cs[2].name, sizeof cs[2].name, "ens%lld_prob", members);
    cs[2].members = (int)members, cs[2].probabilistic = 1;
    snprintf(cs[3].name, sizeof cs[3].name, "ens%lld_det", members);
    cs[3].members = (int)members, cs[3].probabilistic = 0;
    int fail = 0;
    for (int i = 0; i < 4 && !fail; ++i) {
      fail = setup(&cs[i], &ds, be, (int)batch);
      float probe[50];
      if (!fail) fail = run_steps(&cs[i], 50, probe) != MBRL_OK; /* warm-up */
      const double t0 = bench_now_s();
      if (!fail) fail = run_steps(&cs[i], 50, probe) != MBRL_OK;
      const double per = (bench_now_s() - t0) / 50;
      long n = (long)(min_s / (per > 1e-7 ? per : 1e-7));
      cs[i].n = n < 20 ? 20 : n > 10000000 ? 10000000 : n;
      if (!fail && !(cs[i].losses = malloc((size_t)cs[i].n * sizeof(float)))) fail = 1;
    }
    for (int r = 0; r < rounds && !fail; ++r)
      for (int i = 0; i < 4 && !fail; ++i) {
        const double t0 = bench_now_s();
        fail = run_steps(&cs[i], (int)cs[i].n, cs[i].losses) != MBRL_OK;
        cs[i].rate[r] = (double)cs[i].n / (bench_now_s() - t0);
      }
    if (fail) {
      printf("\n]}\n");
      fflush(stdout);
      fprintf(stderr, "bench_ensemble: error: %s: %s\n", mbrl_backend_name(be), mbrl_last_error());
      for (int i = 0; i < 4; ++i) teardown(&cs[i]);
      mbrl_dataset_free(&ds);
      return 1;
    }
    for (int i = 0; i < 4; ++i) {
      double rv[MAX_ROUNDS], vs_single[MAX_ROUNDS], vs_one[MAX_ROUNDS];
      for (int r = 0; r < rounds; ++r) {
        rv[r] = cs[i].rate[r];
        vs_single[r] = cs[0].rate[r] / cs[i].rate[r]; /* time ratio */
        vs_one[r] = cs[1].rate[r] / cs[i].rate[r];
      }
      const double rate = bench_median(rv, rounds);
      printf("%s\n    {\"name\": \"%s\", \"variant\": \"%s\", \"device\": \"%s\", \"members\": %d, "
             "\"probabilistic\": %s, \"batch\": %lld, \"steps_per_s\": %.6g, \"us_per_step\": %.4g, "
             "\"flops_per_step\": %.6g, \"gflops\": %.4g",
             rows++ ? "," : "", cs[i].name, be == MBRL_BACKEND_CPU ? cpu_variant : "cuda",
             mbrl_backend_name(be), cs[i].members > 0 ? cs[i].members : 1,
             cs[i].probabilistic ? "true" : "false", batch, rate, 1e6 / rate, cs[i].flops,
             cs[i].flops * rate * 1e-9);
      if (i > 0)
        printf(", \"time_vs_single\": %.4g, \"time_vs_ens1\": %.4g, \"flops_vs_single\": %.4g",
               bench_median(vs_single, rounds), bench_median(vs_one, rounds),
               cs[i].flops / cs[0].flops);
      printf(", \"steps_timed\": %ld, \"runs\": %d, \"final_loss\": %.6g}", cs[i].n, rounds,
             (double)cs[i].losses[cs[i].n - 1]);
      fflush(stdout);
      fprintf(stderr, "bench_ensemble: %s %-10s %8.0f steps/s (%7.1f us/step)%s", mbrl_backend_name(be),
              cs[i].name, rate, 1e6 / rate, i ? "" : "\n");
      if (i) fprintf(stderr, "  %.2fx single, %.2fx ens1\n", bench_median(vs_single, rounds),
                     bench_median(vs_one, rounds));
    }
    for (int i = 0; i < 4; ++i) teardown(&cs[i]);
  }
  printf("\n]}\n");
  mbrl_dataset_free(&ds);
  return 0;
}
