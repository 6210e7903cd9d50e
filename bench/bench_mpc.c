/* bench_mpc.c - planning latency of random-shooting MPC (one mbrl_planner_plan call: draw
 * K x H actions, roll out, cost, argmin, first action), CPU (+ CUDA with a GPU).
 *
 * Usage: bench_mpc [--threads N] [--quick] [--seconds S] [--runs R] [--device cpu|cuda|all]
 *                  [--samples K,K,..] [--horizons H,H,..] [--envs E]
 * Models: "learned" (a randomly initialized 4-64-64-3 ReLU net, i.e. an already folded seed
 * model, with pendulum-like normalizer statistics) and "oracle" (the true pendulum step).
 * Default grid K in {256, 1024, 4096, 16384, 65536} x H in {15, 30, 100} (--quick: K in
 * {1024, 4096} x H {15, 100}). A case is one warm-up plan then R timed runs (default 5,
 * --quick 3) of as many plans as fit in S seconds (default 0.3, --quick 0.1, at least one);
 * the row reports the median ms per plan and, for the learned model, the achieved GFLOP/s of
 * the rollout (K * H * 9088 / time). --threads N sets OpenMP's thread count (CPU rows).
 * Prints ONE JSON object on stdout in bench/README.md's schema ("bench": "mpc"). */
#include "bench_common.h"

#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mbrl/cli.h"
#include "mbrl/device.h"
#include "mbrl/mlp.h"
#include "mbrl/planner.h"

static const char *PROG = "bench_mpc";

/* A randomly initialized learned model with pendulum-like statistics. */
static mbrl_status make_learned(mbrl_plan_model **out) {
  int sizes[4] = {4, 64, 64, 3};
  mbrl_mlp_config c;
  mbrl_mlp_config_init(&c, 3, sizes);
  c.seed = 1;
  mbrl_mlp *m = NULL;
  mbrl_status st = mbrl_mlp_create(&m, &c, MBRL_BACKEND_CPU, 1);
  if (st) return st;
  mbrl_dataset_stats s;
  memset(&s, 0, sizeof s);
  const float ss[3] = {0.7f, 0.7f, 3.0f}, ds[3] = {0.1f, 0.1f, 0.6f};
  for (int i = 0; i < 3; ++i) {
    s.state_std[i] = ss[i];
    s.delta_state_std[i] = ds[i];
  }
  s.action_std[0] = 1.15f;
  st = mbrl_plan_model_from_mlp(out, "Pendulum-v1", 3, 1, m, &s);
  mbrl_mlp_free(m);
  return st;
}

typedef struct row {
  const char *model, *device;
  int K, H, E, runs, threads;
  double ms, gflops;
} row;

static int run_case(const mbrl_plan_model *model, mbrl_backend be, int K, int H, int E, int runs,
                    double seconds, row *r) {
  mbrl_planner_config c;
  mbrl_planner_config_init(&c);
  c.samples = K;
  c.horizon = H;
  c.max_envs = E;
  c.backend = be;
  mbrl_planner *p = NULL;
  if (mbrl_planner_create(&p, model, &c) != MBRL_OK) {
    fprintf(stderr, "%s: error: %s\n", PROG, mbrl_last_error());
    return 1;
  }
  float *obs = (float *)malloc((size_t)E * 3 * sizeof(float));
  uint64_t *seeds = (uint64_t *)malloc((size_t)E * sizeof(uint64_t));
  mbrl_plan_result *res = (mbrl_plan_result *)malloc((size_t)E * sizeof(mbrl_plan_result));
  if (!obs || !seeds || !res) {
    fprintf(stderr, "%s: error: out of memory\n", PROG);
    return 1;
  }
  for (int e = 0; e < E; ++e) {
    obs[3 * e] = -0.99f;
    obs[3 * e + 1] = 0.14f;
    obs[3 * e + 2] = 0.5f;
  }
  uint64_t step = 0;
  int fail = 0;
  double *t = (double *)malloc((size_t)runs * sizeof(double));
  for (int e = 0; e < E; ++e) seeds[e] = mbrl_planner_seed(0, (uint64_t)e, step);
  if (mbrl_planner_plan(p, obs, seeds, E, res) != MBRL_OK) fail = 1; /* warm-up */
  for (int i = 0; i < runs && !fail; ++i) {
    int n = 0;
    double t0 = bench_now_s(), el = 0.0;
    do {
      ++step;
      for (int e = 0; e < E; ++e) seeds[e] = mbrl_planner_seed(0, (uint64_t)e, step);
      if (mbrl_planner_plan(p, obs, seeds, E, res) != MBRL_OK) {
        fail = 1;
        break;
      }
      ++n;
      el = bench_now_s() - t0;
    } while (el < seconds);
    t[i] = el / n;
  }
  if (fail) {
    fprintf(stderr, "%s: error: %s\n", PROG, mbrl_last_error());
  } else {
    bench_sort(t, runs);
    const double med = t[runs / 2];
    const double fl = mbrl_plan_model_flops(model);
    r->K = K;
    r->H = H;
    r->E = E;
    r->runs = runs;
    r->ms = med * 1e3;
    r->gflops = fl > 0 ? fl * K * (double)H * E / med / 1e9 : -1.0;
    fprintf(stderr, "%s: %-7s %-4s K=%6d H=%3d E=%d: %9.4f ms/plan", PROG, r->model, r->device, K,
            H, E, r->ms);
    if (r->gflops >= 0) fprintf(stderr, "  %6.1f GFLOP/s", r->gflops);
    fprintf(stderr, "\n");
  }
  free(t);
  free(obs);
  free(seeds);
  free(res);
  mbrl_planner_free(p);
  return fail;
}

int main(int argc, char **argv) {
  long threads = 0, runs = -1, E = 1;
  double seconds = -1;
  int quick = 0;
  const char *device = "all";
  long Ks[16], Hs[16];
  int nK = 0, nH = 0;
  mbrl_cli c;
  mbrl_cli_init(&c, PROG, argc, argv);
  while (mbrl_cli_next(&c)) {
    if (mbrl_cli_flag(&c, "--help")) {
      puts("Usage: bench_mpc [--threads N] [--quick] [--seconds S] [--runs R]\n"
           "                 [--device cpu|cuda|all] [--samples K,..] [--horizons H,..] "
           "[--envs E]\n"
           "Planning latency of random-shooting MPC; one JSON object on stdout.");
      return 0;
    } else if (mbrl_cli_flag(&c, "--quick")) {
      quick = 1;
    } else if (mbrl_cli_option(&c, "--threads")) {
      threads = mbrl_cli_int(&c, 1, 1024);
    } else if (mbrl_cli_option(&c, "--runs")) {
      runs = mbrl_cli_int(&c, 1, 1000);
    } else if (mbrl_cli_option(&c, "--envs")) {
      E = mbrl_cli_int(&c, 1, 4096);
    } else if (mbrl_cli_option(&c, "--seconds")) {
      seconds = mbrl_cli_double(&c, 0.0, 1000.0);
    } else if (mbrl_cli_option(&c, "--device")) {
      static const char *const ch[] = {"cpu", "cuda", "all", NULL};
      device = ch[mbrl_cli_choice(&c, ch)];
    } else if (mbrl_cli_option(&c, "--samples")) {
      nK = mbrl_cli_int_list(&c, Ks, 16, 1, 1 << 24);
    } else if (mbrl_cli_option(&c, "--horizons")) {
      nH = mbrl_cli_int_list(&c, Hs, 16, 1, 100000);
    } else {
      mbrl_cli_unknown(&c);
    }
  }
  bench_cpu_kernels(PROG);
  if (threads > 0) omp_set_num_threads((int)threads);
  if (runs < 0) runs = quick ? 3 : 5;
  if (seconds < 0) seconds = quick ? 0.1 : 0.3;
  if (nK == 0) {
    const long q[] = {1024, 4096}, f[] = {256, 1024, 4096, 16384, 65536};
    nK = quick ? 2 : 5;
    memcpy(Ks, quick ? q : f, (size_t)nK * sizeof(long));
  }
  if (nH == 0) {
    const long q[] = {15, 100}, f[] = {15, 30, 100};
    nH = quick ? 2 : 3;
    memcpy(Hs, quick ? q : f, (size_t)nH * sizeof(long));
  }
  mbrl_backend devs[2];
  int ndev = 0;
  const int have_gpu = mbrl_cuda_device_count() > 0;
  if (strcmp(device, "cpu") == 0 || strcmp(device, "all") == 0) devs[ndev++] = MBRL_BACKEND_CPU;
  if (strcmp(device, "cuda") == 0 || (strcmp(device, "all") == 0 && have_gpu)) {
    if (!have_gpu) {
      fprintf(stderr, "%s: error: --device cuda: no CUDA GPU in this build or machine\n", PROG);
      return 1;
    }
    devs[ndev++] = MBRL_BACKEND_CUDA;
  }
  mbrl_plan_model *learned = NULL, *oracle = NULL;
  if (make_learned(&learned) || mbrl_plan_model_oracle(&oracle, "Pendulum-v1")) {
    fprintf(stderr, "%s: error: %s\n", PROG, mbrl_last_error());
    return 1;
  }
  const int nthreads = omp_get_max_threads();
  row *rows = (row *)calloc((size_t)2 * ndev * nK * nH, sizeof(row));
  int nrows = 0, fail = 0;
  for (int d = 0; d < ndev && !fail; ++d)
    for (int mi = 0; mi < 2 && !fail; ++mi)
      for (int i = 0; i < nK && !fail; ++i)
        for (int j = 0; j < nH && !fail; ++j) {
          row *r = &rows[nrows];
          r->model = mi == 0 ? "learned" : "oracle";
          r->device = devs[d] == MBRL_BACKEND_CUDA ? "cuda" : "cpu";
          r->threads = devs[d] == MBRL_BACKEND_CUDA ? 0 : nthreads;
          if (run_case(mi == 0 ? learned : oracle, devs[d], (int)Ks[i], (int)Hs[j], (int)E,
                       (int)runs, seconds, r))
            fail = 1;
          else
            ++nrows;
        }
  if (fail) return 1;
  char date[64];
  time_t now = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
  bench_print_head("mpc", have_gpu);
  printf(" \"threads\": %d, \"date\": \"%s\", \"command\": ", nthreads, date);
  bench_print_command(argc, argv);
  printf(",\n \"results\": [\n");
  for (int i = 0; i < nrows; ++i) {
    const row *r = &rows[i];
    printf("  {\"model\": \"%s\", \"variant\": \"folded\", \"device\": \"%s\", \"K\": %d, \"H\": %d, "
           "\"E\": %d, \"ms_per_plan\": %.6g, \"us_per_plan\": %.6g, \"gflops\": ",
           r->model, r->device, r->K, r->H, r->E, r->ms, r->ms * 1e3);
    if (r->gflops >= 0) printf("%.4g", r->gflops);
    else printf("null");
    printf(", \"flops_per_sample_step\": ");
    if (r->gflops >= 0) printf("%.0f", mbrl_plan_model_flops(learned));
    else printf("null");
    printf(", \"threads\": %d, \"runs\": %d}%s\n", r->threads, r->runs, i + 1 < nrows ? "," : "");
  }
  printf(" ]}\n");
  free(rows);
  mbrl_plan_model_free(learned);
  mbrl_plan_model_free(oracle);
  return 0;
}
