/* bench_plan_opt.c - planning latency of the sampling optimizers (mbrl/plan_opt.h): one
 * mbrl_plan_opt_plan call (iterations x {draw, roll out, cost, update} + scoring the returned
 * sequence), CPU (default) or CUDA (--device cuda: device sampling and rollouts, mbrl/plan_opt.h
 * "Backends"). The twin of bench/torch_reference.py's "cem" section.
 *
 * Usage: bench_plan_opt [--threads N] [--planner cem|icem|mppi] [--population N]
 *                       [--horizon H] [--iterations I] [--seconds S] [--runs R]
 *                       [--members M] [--particles P] [--propagation tsinf|ts1|expectation]
 *                       [--device cpu|cuda|auto]
 * Models: "learned" (a randomly initialized 4-64-64-3 ReLU net with pendulum-like normalizer
 * statistics, bench_mpc's) and "oracle" (the true pendulum step). Defaults: CEM, population
 * 500, H 30, 5 iterations (issue 11's benchmark), R 5 timed runs of as many plans as fit in S
 * seconds (0.3, at least one), each plan from a hanging-down observation with a new plan seed
 * and the warm start reset (the first plan of an episode, as the PyTorch twin's x0 = 0).
 * Model "pets" (PETS, issue 11's benchmark): a randomly initialized probabilistic ensemble of M
 * (5) members of the same shape (mean and log-variance heads, BN folded), P (20) particles per
 * sequence, TSinf by default, the same statistics; the twin of torch_reference.py's "pets".
 * Prints ONE JSON object on stdout in bench/README.md's schema ("bench": "plan_opt"). */
#include "bench_common.h"

#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mbrl/cli.h"
#include "mbrl/device.h"
#include "mbrl/dyn_ensemble.h"
#include "mbrl/mlp.h"
#include "mbrl/plan_opt.h"
#include "mbrl/planner.h"

static const char *PROG = "bench_plan_opt";

/* bench_mpc's learned model: a randomly initialized 4-64-64-3 net, pendulum-like statistics. */
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

/* A randomly initialized probabilistic ensemble of M members with make_learned's statistics. */
static mbrl_status make_pets(int M, mbrl_plan_model **out) {
  mbrl_dyn_ensemble_config c;
  mbrl_dyn_ensemble_config_init(&c);
  c.members = M;
  c.probabilistic = 1;
  mbrl_dataset_stats s;
  memset(&s, 0, sizeof s);
  const float ss[3] = {0.7f, 0.7f, 3.0f}, ds[3] = {0.1f, 0.1f, 0.6f};
  for (int i = 0; i < 3; ++i) {
    s.state_std[i] = ss[i];
    s.delta_state_std[i] = ds[i];
  }
  s.action_std[0] = 1.15f;
  mbrl_dyn_ensemble *e = NULL;
  mbrl_status st = mbrl_dyn_ensemble_create(&e, "Pendulum-v1", 3, 1, &s, &c, MBRL_BACKEND_CPU, 2, 1);
  if (st) return st;
  st = mbrl_plan_model_from_ensemble(out, e);
  mbrl_dyn_ensemble_free(e);
  return st;
}

int main(int argc, char **argv) {
  long threads = 0, runs = 5, pop = -1, H = 30, iters = 5, members = 5, particles = 20;
  mbrl_plan_propagation prop = MBRL_PLAN_PROP_TSINF;
  double seconds = 0.3;
  mbrl_plan_opt_kind kind = MBRL_PLAN_OPT_CEM;
  mbrl_backend req = MBRL_BACKEND_CPU;
  mbrl_cli c;
  mbrl_cli_init(&c, PROG, argc, argv);
  while (mbrl_cli_next(&c)) {
    if (mbrl_cli_flag(&c, "--help")) {
      puts("Usage: bench_plan_opt [--threads N] [--planner cem|icem|mppi] [--population N]\n"
           "                      [--horizon H] [--iterations I] [--seconds S] [--runs R]\n"
           "                      [--members M] [--particles P] [--propagation W]\n"
           "                      [--device cpu|cuda|auto] (default cpu)\n"
           "Planning latency of the CEM/iCEM/MPPI optimizers; one JSON object on stdout.");
      return 0;
    } else if (mbrl_cli_option(&c, "--threads")) {
      threads = mbrl_cli_int(&c, 1, 1024);
    } else if (mbrl_cli_option(&c, "--planner")) {
      static const char *const ch[] = {"cem", "icem", "mppi", NULL};
      kind = mbrl_plan_opt_kind_from_name(ch[mbrl_cli_choice(&c, ch)]);
    } else if (mbrl_cli_option(&c, "--population")) {
      pop = mbrl_cli_int(&c, 1, MBRL_PLAN_OPT_MAX_POPULATION);
    } else if (mbrl_cli_option(&c, "--horizon")) {
      H = mbrl_cli_int(&c, 1, 1000);
    } else if (mbrl_cli_option(&c, "--iterations")) {
      iters = mbrl_cli_int(&c, 1, MBRL_PLAN_OPT_MAX_ITERATIONS);
    } else if (mbrl_cli_option(&c, "--members")) {
      members = mbrl_cli_int(&c, 1, MBRL_PLAN_MAX_MEMBERS);
    } else if (mbrl_cli_option(&c, "--particles")) {
      particles = mbrl_cli_int(&c, 1, MBRL_PLANNER_MAX_PARTICLES);
    } else if (mbrl_cli_option(&c, "--propagation")) {
      static const char *const ch[] = {"tsinf", "ts1", "expectation", NULL};
      prop = (mbrl_plan_propagation)mbrl_cli_choice(&c, ch);
    } else if (mbrl_cli_option(&c, "--device")) {
      req = mbrl_cli_device(&c);
    } else if (mbrl_cli_option(&c, "--runs")) {
      runs = mbrl_cli_int(&c, 1, 1000);
    } else if (mbrl_cli_option(&c, "--seconds")) {
      seconds = mbrl_cli_double(&c, 0.0, 1000.0);
    } else {
      mbrl_cli_unknown(&c);
    }
  }
  bench_cpu_kernels(PROG);
  if (threads > 0) omp_set_num_threads((int)threads);
  const int nthreads = omp_get_max_threads();
  mbrl_plan_opt_config oc;
  mbrl_plan_opt_config_init(&oc, kind);
  if (pop > 0) oc.population = (int)pop;
  oc.iterations = (int)iters;
  mbrl_planner_config pc;
  mbrl_planner_config_init(&pc);
  pc.horizon = (int)H;
  const mbrl_backend be = mbrl_cli_resolve_device(PROG, req);
  pc.backend = be;
  pc.particles = (int)particles;
  pc.propagation = prop;
  static const char *const names[3] = {"learned", "oracle", "pets"};
  mbrl_plan_model *models[3] = {NULL, NULL, NULL};
  if (make_learned(&models[0]) != MBRL_OK || mbrl_plan_model_oracle(&models[1], "Pendulum-v1") ||
      make_pets((int)members, &models[2]) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  double ms[3] = {0, 0, 0};
  int done_runs = (int)runs;
  double *t = (double *)malloc((size_t)runs * sizeof(double));
  if (!t) mbrl_cli_fail(PROG, "out of memory");
  const float obs[3] = {-0.99f, 0.14f, 0.5f};
  for (int mi = 0; mi < 3; ++mi) {
    mbrl_plan_opt *o = NULL;
    mbrl_planner_config pcm = pc;
    if (mi != 2) pcm.particles = 0; /* particles are for the ensemble */
    if (mbrl_plan_opt_create(&o, models[mi], &pcm, &oc) != MBRL_OK)
      mbrl_cli_fail(PROG, "%s", mbrl_last_error());
    mbrl_plan_result res;
    uint64_t step = 0, seed = mbrl_planner_seed(0, 0, step);
    if (mbrl_plan_opt_plan(o, obs, &seed, 1, &res) != MBRL_OK) /* warm-up */
      mbrl_cli_fail(PROG, "%s", mbrl_last_error());
    for (int i = 0; i < runs; ++i) {
      int n = 0;
      double t0 = bench_now_s(), el = 0.0;
      do {
        seed = mbrl_planner_seed(0, 0, ++step);
        mbrl_plan_opt_reset(o, -1);
        if (mbrl_plan_opt_plan(o, obs, &seed, 1, &res) != MBRL_OK)
          mbrl_cli_fail(PROG, "%s", mbrl_last_error());
        ++n;
        el = bench_now_s() - t0;
      } while (el < seconds);
      t[i] = el / n;
    }
    bench_sort(t, (int)runs);
    ms[mi] = t[runs / 2] * 1e3;
    fprintf(stderr, "%s: %s %-7s pop=%d H=%ld iters=%d threads=%d%s: %9.4f ms/plan\n", PROG,
            mbrl_plan_opt_kind_name(kind), names[mi], oc.population, H, oc.iterations, nthreads,
            mi == 2 ? " (members, particles as given)" : "", ms[mi]);
    mbrl_plan_opt_free(o);
  }
  char date[64];
  time_t now = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
  bench_print_head("plan_opt", 0);
  printf(" \"threads\": %d, \"date\": \"%s\", \"command\": ", nthreads, date);
  bench_print_command(argc, argv);
  printf(",\n \"results\": [\n");
  static const char *const pn[3] = {"tsinf", "ts1", "expectation"};
  for (int mi = 0; mi < 3; ++mi) {
    printf("  {\"planner\": \"%s\", \"model\": \"%s\", \"device\": \"%s\", \"population\": %d, "
           "\"H\": %ld, \"iterations\": %d, \"elite_ratio\": %.6g, \"alpha\": %.6g, "
           "\"ms_per_plan\": %.6g, \"gflops\": ",
           mbrl_plan_opt_kind_name(kind), names[mi], mbrl_backend_name(be), oc.population, H,
           oc.iterations,
           (double)oc.elite_ratio, (double)oc.alpha, ms[mi]);
    const double rows = mi == 2 ? (double)particles : 1.0;
    if (mi != 1)
      printf("%.4g", mbrl_plan_model_flops(models[mi]) * rows * oc.population *
                         (double)oc.iterations * H / (ms[mi] * 1e-3) / 1e9);
    else printf("null");
    if (mi == 2)
      printf(", \"members\": %ld, \"particles\": %ld, \"propagation\": \"%s\"", members, particles,
             pn[prop]);
    printf(", \"threads\": %d, \"runs\": %d}%s\n", nthreads, done_runs, mi < 2 ? "," : "");
  }
  printf(" ]}\n");
  free(t);
  mbrl_plan_model_free(models[0]);
  mbrl_plan_model_free(models[1]);
  mbrl_plan_model_free(models[2]);
  return 0;
}
