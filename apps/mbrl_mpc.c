/* mbrl_mpc - online control of any registered env (--env, default Pendulum-v1) with
 * random-shooting MPC over a learned dynamics model (--model) or the true dynamics (--oracle),
 * and the full model-based loop (--iterations: train, control, aggregate, retrain; Nagabandi
 * et al. 2017).
 *
 * Episode i of a run starts from the env's reset drawn with seed (seed + i), i.e.
 * mbrl_env_init(e, id, seed + i, 0) + reset (Gymnasium's env.reset(seed=seed + i)); control
 * step t of that episode plans
 * with plan seed mbrl_planner_seed(seed + i, 0, t), so an episode depends only on its reset
 * seed (episode i of --seed S equals episode 0 of --seed S+i). In the loop, the data-collecting
 * episodes of iteration j (1-based) use reset seeds seed + 1000000 j + i, so they never
 * coincide with evaluation episodes seed + i. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mbrl/cli.h"
#include "mbrl/dataset.h"
#include "mbrl/device.h"
#include "mbrl/dyn_ensemble.h"
#include "mbrl/dynamics.h"
#include "mbrl/env.h"
#include "mbrl/h5util.h"
#include "mbrl/log.h"
#include "mbrl/plan_opt.h"
#include "mbrl/planner.h"
#include "mbrl/trajectory.h"

static const char *PROG = "mbrl_mpc";

#define ITER_SEED_STRIDE 1000000ULL
#define TRAIN_SAMPLER_KEY 0xd1b54a32d192ed03ULL

static void usage(void) {
  printf(
      "Usage: mbrl_mpc [--env ID] (--model FILE | --oracle) [--episodes N] [--samples K]\n"
      "                [--horizon H] [--gamma G] [--seed S] [--max-steps T] [--init-state S,..]\n"
      "                [--device auto|cpu|cuda] [--record FILE [--force]] [--append-data FILE]\n"
      "                [--json] [--warm-start] [--reward-on current|next] [--cost reward|shaped]\n"
      "                [--planner rs|cem|icem|mppi [optimizer options below]]\n"
      "       mbrl_mpc --iterations N --data FILE --model FILE [--episodes N] [--force]\n"
      "                [--eval-episodes N] [--eval-seed S] [--train-steps N] [options above]\n"
      "\n"
      "Control an environment with random-shooting model-predictive control: at every step\n"
      "draw K action sequences of horizon H uniformly (within the action bounds, or uniform\n"
      "action indices for a discrete env; sequence 0 all zeros), roll them through the model\n"
      "from the current observation, score each with -sum_h gamma^h r(s_h, a_h, s_{h+1}) (the\n"
      "env's reward on the predicted observations, nothing after a predicted terminal state)\n"
      "and apply the first action of the best one.\n"
      "\n"
      "Options:\n"
      "  --env ID            the environment to control (default Pendulum-v1; known: %s).\n"
      "                      A --model made for another env than ID is refused (exit 1)\n"
      "  --model FILE        learned dynamics checkpoint (mbrl_train's output; BatchNorm is\n"
      "                      folded, eval mode), or an ensemble checkpoint (mbrl_train\n"
      "                      --ensemble M: planned with particles, CPU or CUDA). In\n"
      "                      --iterations mode: where the model is saved\n"
      "  --oracle            plan with the env's true dynamics instead of a model\n"
      "  --episodes N        episodes to run, 1..100000 (default 10; --iterations: episodes\n"
      "                      collected per iteration, default 5)\n"
      "  --samples K         action sequences per step, 1..%d (default 1024)\n"
      "  --horizon H         planning horizon, 1..%d (default 15)\n"
      "  --gamma G           discount of the planning cost, in (0, 1] (default 1.0)\n"
      "  --seed S            seed, 0..2^64-1 (default 0): episode i resets with seed S + i and\n"
      "                      its plans draw from Philox keyed by (S + i, step)\n"
      "  --max-steps T       steps per episode, 1..the env's time limit (default: the limit)\n"
      "  --init-state S,..   start every episode from this state, the env's state values\n"
      "                      (Pendulum-v1: TH,THDOT, e.g. 3.14159,0: hanging; CartPole-v1:\n"
      "                      X,X_DOT,THETA,THETA_DOT; see the env's header)\n"
      "  --warm-start        make sequence 1 the previous step's best sequence shifted by one\n"
      "                      step (instead of a random draw); off by default (the seed's method)\n"
      "  --particles P       ensemble models (--model from mbrl_train --ensemble): P particles\n"
      "                      per action sequence, its cost the mean over them (default 20)\n"
      "  --propagation W     tsinf (default: a fixed random elite per particle), ts1 (a random\n"
      "                      elite per particle per step) or expectation (the elites' mean,\n"
      "                      one deterministic particle); probabilistic members sample\n"
      "                      mean + std * noise under ts1/tsinf (PETS, Chua et al. 2018)\n"
      "  --no-sample         ts1/tsinf with each member's mean only (no Gaussian noise)\n"
      "  --no-projection     learned models: plan on the model's raw predictions (the seed's\n"
      "                      method). By default every predicted observation is mapped to the\n"
      "                      nearest one the env can emit (unit cos/sin pairs of Pendulum-v1 and\n"
      "                      Acrobot-v1; nothing for the others): a model's (cos, sin) drifts\n"
      "                      off the circle over a horizon (measured: docs/learned_loop.md)\n"
      "  --reward-on WHICH   current: r(s_h, a_h) on the pre-step observation (default, the\n"
      "                      env's reward of step h); next: r(s_{h+1}, a_h) on the predicted\n"
      "                      next observation\n"
      "  --cost KIND         reward: plan on -reward (default); shaped: on the env's dense\n"
      "                      planning cost (for sparse rewards: MountainCar, Acrobot; see\n"
      "                      below). Reported returns are always the env's own reward\n"
      "  --device D          auto|cpu|cuda (default auto: CUDA when a GPU is present)\n"
      "  --record FILE       write every step (observation, action, reward, terminated, best\n"
      "                      predicted return, predicted and true next observation) to an\n"
      "                      HDF5 file with env_id and seed (episode i: reset seed S + i), to\n"
      "                      replay in Gymnasium; an existing FILE is refused before any\n"
      "                      episode unless --force\n"
      "  --append-data FILE  add the transitions to the dataset FILE (created if missing); an\n"
      "                      existing FILE must be an mbrl.dataset of the env, checked before\n"
      "                      any episode runs\n"
      "  --json              print one JSON object on stdout instead of the text summary\n"
      "  --iterations N      model-based loop, 1..100: N times {train a model on --data (saved\n"
      "                      to --model), run --episodes episodes with it, append them to\n"
      "                      --data}, then train the final model on all data\n"
      "  --data FILE         the dataset the loop trains on and grows (from mbrl_collect)\n"
      "  --ensemble M        --iterations: train ensembles of M members (bootstrapped, all\n"
      "                      elites) instead of the single model, planned with particles (CPU)\n"
      "  --probabilistic     --iterations: probabilistic members (mean and log-variance;\n"
      "                      alone it means --ensemble 5)\n"
      "  --train-steps N     training steps per model in the loop (default 5000, batch 128,\n"
      "                      Adam lr 0.01 betas 0.99/0.999, the seed's 64-64 BatchNorm net)\n"
      "  --eval-episodes N   after the loop, evaluate the final model on N episodes with\n"
      "                      reset seeds S + i (default 0: no evaluation)\n"
      "  --eval-seed S       reset seeds of that evaluation: S + i (default: --seed), so runs\n"
      "                      with different training seeds are evaluated on the same starts\n"
      "                      (e.g. --eval-seed 0: Gymnasium reset seeds 0..N-1)\n"
      "  --force             overwrite an existing file: the --record FILE of a single run,\n"
      "                      or the --model FILE that --iterations writes (a failed run never\n"
      "                      touches it)\n"
      "  --planner P         rs: random shooting (default, above); cem: the cross-entropy\n"
      "                      method (mbrl-lib's CEMOptimizer); icem: iCEM (colored noise,\n"
      "                      decaying population, kept elites); mppi: MPPI. The optimizers\n"
      "                      run on either device (CUDA: cem/mppi sample and score on the GPU,\n"
      "                      icem samples on the CPU and scores on the GPU; ensembles too),\n"
      "                      start each step from the previous plan\n"
      "                      (--no-warm-start: from the middle of the action bounds) and\n"
      "                      default to --horizon 30 (cem, icem) or 20 (mppi), measured on\n"
      "                      Pendulum-v1 (mbrl/plan_opt.h)\n"
      "  --population N      samples per iteration (cem, mppi: 500; icem: 300, its first)\n"
      "  --opt-iterations N  optimizer iterations per step (default 5)\n"
      "  --elite-ratio R     cem/icem: elites = ceil(R x population) (default 0.1)\n"
      "  --alpha A           cem/icem: smoothing of mean and variance (default 0; mbrl-lib's\n"
      "                      is 0.1, measured worse on Pendulum-v1: mbrl/plan_opt.h)\n"
      "  --return-best       cem/icem: act on the best sample, not the final mean\n"
      "  --noise-beta B      icem: colored-noise exponent (default 2)\n"
      "  --pop-decay F       icem: population divided by F per iteration (default 1.25)\n"
      "  --keep-elites F     icem: fraction of elites kept (default 0.3)\n"
      "  --lambda L          mppi: temperature, in cost units (default 0.3)\n"
      "  --sigma S           mppi: noise std, in action units (default 1)\n"
      "  --beta B            mppi: temporal smoothing in (0, 1] (default 0.9)\n"
      "  --help, --version\n"
      "\n"
      "Results go to stdout, progress and errors to stderr. Exit status: 0 ok, 1 runtime\n"
      "failure (files, device), 2 bad usage.\n"
      "\n"
      "Shaped planning costs (--cost shaped):\n",
      mbrl_env_known_ids(), MBRL_PLANNER_MAX_SAMPLES, MBRL_PLANNER_MAX_HORIZON);
  for (int i = 0; mbrl_env_at(i); ++i)
    printf("  %s: %s\n", mbrl_env_at(i)->id, mbrl_env_at(i)->shaped_cost_doc);
}

/* ---------------------------------------------------------------- small helpers */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Percentile q in [0, 1] of sorted v (nearest rank). */
static double percentile(const double *v, size_t n, double q) {
  if (n == 0) return 0.0;
  size_t i = (size_t)ceil(q * (double)n);
  if (i < 1) i = 1;
  if (i > n) i = n;
  return v[i - 1];
}

static void mean_std(const double *v, int n, double *mean, double *std) {
  double m = 0, s = 0;
  for (int i = 0; i < n; ++i) m += v[i];
  m /= n > 0 ? n : 1;
  for (int i = 0; i < n; ++i) s += (v[i] - m) * (v[i] - m);
  *mean = m;
  *std = n > 0 ? sqrt(s / n) : 0.0;
}

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* ---------------------------------------------------------------- trajectory record */

/* Transitions of a trajectory as a dataset (with its terminal and timeout flags). */
static mbrl_status traj_to_dataset(const mbrl_trajectory *t, const char *env_id, int episodes,
                                   mbrl_dataset *ds) {
  const size_t O = (size_t)t->obs_dim, A = (size_t)t->act_dim;
  mbrl_status st = mbrl_dataset_init(ds, env_id, t->obs_dim, t->act_dim);
  if (st) return st;
  if ((st = mbrl_dataset_reserve(ds, t->n ? t->n : 1))) return st;
  for (size_t i = 0; i < t->n; ++i)
    if ((st = mbrl_dataset_add(ds, t->obs + i * O, t->act + i * A, t->next_obs + i * O,
                               t->rew[i], t->terminal[i], t->timeout[i])))
      return st;
  ds->episodes = episodes;
  return MBRL_OK;
}

/* ---------------------------------------------------------------- control */

typedef struct run_cfg {
  int K, H, max_steps, have_init, score_next, warm;
  mbrl_plan_cost cost;
  float gamma;
  double init[MBRL_ENV_MAX_STATE]; /* --init-state: the env's state (state_dim values) */
  uint64_t seed;
  int quiet, json;
  int warm_set;               /* --warm-start / --no-warm-start given */
  mbrl_plan_opt_config opt;   /* --planner cem|icem|mppi (opt.kind 0: random shooting) */
  int particles;              /* --particles (0: the planner's default, 20 for ensembles) */
  mbrl_plan_propagation prop; /* --propagation */
  int no_sample;              /* --no-sample */
  int no_projection;          /* --no-projection */
  int ensemble;               /* the model is an ensemble (PETS) */
} run_cfg;

/* The planner settings of the command line (samples K, horizon, gamma, cost, particles) on
 * backend be. */
static mbrl_planner_config planner_config_of(const run_cfg *rc, mbrl_backend be) {
  mbrl_planner_config c;
  mbrl_planner_config_init(&c);
  c.samples = rc->K;
  c.horizon = rc->H;
  c.gamma = rc->gamma;
  c.backend = be;
  c.score_next = rc->score_next;
  c.cost = rc->cost;
  c.particles = rc->particles;
  c.propagation = rc->prop;
  c.no_sample = rc->no_sample;
  c.no_projection = rc->no_projection;
  return c;
}

/* The --planner optimizer for model m on backend be (NULL for rs; exits on failure), and its
 * settings as JSON for --record / --json. */
static mbrl_plan_opt *make_opt(const mbrl_plan_model *m, const run_cfg *rc, mbrl_backend be) {
  if (!rc->opt.kind) return NULL;
  const mbrl_planner_config c = planner_config_of(rc, be); /* its samples: ignored */
  mbrl_plan_opt *o = NULL;
  if (mbrl_plan_opt_create(&o, m, &c, &rc->opt) != MBRL_OK)
    mbrl_cli_fail(PROG, "--planner %s: %s", mbrl_plan_opt_kind_name(rc->opt.kind), mbrl_last_error());
  return o;
}

static const char *prop_name(mbrl_plan_propagation p) {
  return p == MBRL_PLAN_PROP_TS1 ? "ts1" : p == MBRL_PLAN_PROP_EXPECTATION ? "expectation" : "tsinf";
}

static const char *planner_json(const run_cfg *rc) {
  static char buf[768];
  char pets[160] = "";
  if (rc->ensemble)
    snprintf(pets, sizeof pets, ", \"particles\": %d, \"propagation\": \"%s\", \"sample\": %d",
             rc->prop == MBRL_PLAN_PROP_EXPECTATION ? 1 : rc->particles ? rc->particles : 20,
             prop_name(rc->prop), !rc->no_sample);
  const mbrl_plan_opt_config *o = &rc->opt;
  if (!o->kind) {
    snprintf(buf, sizeof buf,
             "{\"planner\": \"rs\", \"samples\": %d, \"warm_start\": %d, \"projection\": %d%s}",
             rc->K, rc->warm, !rc->no_projection, pets);
    return buf;
  }
  const int n = snprintf(buf, sizeof buf,
           "{\"planner\": \"%s\", \"population\": %d, \"iterations\": %d, \"warm_start\": %d, "
           "\"elite_ratio\": %.6g, \"alpha\": %.6g, \"return_best\": %d, \"noise_beta\": %.6g, "
           "\"pop_decay\": %.6g, \"keep_elite_frac\": %.6g, \"lambda\": %.6g, \"sigma\": %.6g, "
           "\"beta\": %.6g, \"projection\": %d}",
           mbrl_plan_opt_kind_name(o->kind), o->population, o->iterations, o->warm_start,
           (double)o->elite_ratio, (double)o->alpha, o->return_best, (double)o->noise_beta,
           (double)o->pop_decay, (double)o->keep_elite_frac, (double)o->lambda, (double)o->sigma,
           (double)o->beta, !rc->no_projection);
  if (n > 0 && (size_t)n < sizeof buf - 1 && pets[0])
    snprintf(buf + n - 1, sizeof buf - (size_t)(n - 1), "%s}", pets);
  return buf;
}

typedef struct run_out {
  double *returns;   /* (episodes) */
  double *plan_ms;   /* (episodes * max_steps) every action's planning time */
  size_t n_plan;
  long env_steps;
  float *prior;      /* (H, act) warm-start scratch */
} run_out;

/* Run `episodes` episodes with reset seeds reset_seed0 + i; record to t (may be NULL). */
static int run_episodes(mbrl_planner *p, const mbrl_plan_model *m, const run_cfg *rc,
                        int episodes, uint64_t reset_seed0, mbrl_trajectory *t, run_out *out) {
  out->returns = (double *)calloc((size_t)episodes, sizeof(double));
  out->plan_ms = (double *)calloc((size_t)episodes * rc->max_steps, sizeof(double));
  out->n_plan = 0;
  out->env_steps = 0;
  float *prior = out->prior = (float *)calloc((size_t)rc->H * m->act_dim, sizeof(float));
  /* --planner cem|icem|mppi, else NULL; on the random-shooting planner's backend */
  mbrl_plan_opt *opt = make_opt(m, rc, mbrl_planner_backend(p));
  if (!out->returns || !out->plan_ms || !prior) {
    fprintf(stderr, "%s: error: out of memory\n", PROG);
    return 1;
  }
  for (int i = 0; i < episodes; ++i) {
    const uint64_t rs = reset_seed0 + (uint64_t)i;
    mbrl_env e;
    if (mbrl_env_init(&e, m->env_id, rs, 0) != MBRL_OK) {
      fprintf(stderr, "%s: error: %s\n", PROG, mbrl_last_error());
      return 1;
    }
    float o[MBRL_MAX_DIM], no[MBRL_MAX_DIM];
    mbrl_env_reset(&e, o);
    if (rc->have_init) {
      mbrl_env_set_state(&e, rc->init);
      mbrl_env_obs(&e, o);
    }
    double ret = 0.0, ep_ms = 0.0;
    int steps = 0, have_prior = 0;
    mbrl_plan_opt_reset(opt, -1);
    for (int tt = 0; tt < rc->max_steps; ++tt) {
      const uint64_t ps = mbrl_planner_seed(rs, 0, (uint64_t)tt);
      mbrl_plan_result res;
      const double t0 = mbrl_log_now();
      if ((opt ? mbrl_plan_opt_plan(opt, o, &ps, 1, &res)
               : mbrl_planner_plan_prior(p, o, &ps, have_prior ? prior : NULL, 1, &res)) != MBRL_OK) {
        fprintf(stderr, "%s: error: planning failed at episode %d step %d: %s\n", PROG, i, tt,
                mbrl_last_error());
        return 1;
      }
      if (rc->warm && !opt) {
        mbrl_planner_shift_best(p, &res, ps, have_prior ? prior : NULL, prior);
        have_prior = 1;
      }
      const double ms = (mbrl_log_now() - t0) * 1e3;
      out->plan_ms[out->n_plan++] = ms;
      ep_ms += ms;
      float r;
      int term, trunc;
      mbrl_env_step(&e, res.action, no, &r, &term, &trunc);
      ret += r;
      ++steps;
      const int last = term || trunc || tt + 1 == rc->max_steps;
      if (t && mbrl_trajectory_push(t, o, res.action, r, res.best_return, res.pred_next, no,
                                    (int64_t)i, tt, term, last && !term) != MBRL_OK) {
        fprintf(stderr, "%s: error: out of memory recording the trajectory\n", PROG);
        return 1;
      }
      memcpy(o, no, sizeof o);
      if (last) break;
    }
    out->returns[i] = ret;
    out->env_steps += steps;
    if (!rc->quiet) {
      FILE *f = rc->json ? stderr : stdout;
      fprintf(f, "episode %3d (reset seed %llu): return %9.2f  plan %.3f ms/action\n", i,
              (unsigned long long)rs, ret, ep_ms / (steps ? steps : 1));
      fflush(f);
    }
  }
  mbrl_plan_opt_free(opt);
  return 0;
}

static void summarize(const run_out *o, int episodes, double *mean, double *std, double *med,
                      double *p99, double *pmean) {
  mean_std(o->returns, episodes, mean, std);
  double *s = (double *)malloc((o->n_plan ? o->n_plan : 1) * sizeof(double));
  double tot = 0;
  for (size_t i = 0; i < o->n_plan; ++i) tot += o->plan_ms[i];
  if (s) {
    memcpy(s, o->plan_ms, o->n_plan * sizeof(double));
    qsort(s, o->n_plan, sizeof(double), cmp_double);
    *med = percentile(s, o->n_plan, 0.5);
    *p99 = percentile(s, o->n_plan, 0.99);
    free(s);
  }
  *pmean = o->n_plan ? tot / (double)o->n_plan : 0.0;
}

static void print_returns_json(const double *r, int n) {
  printf("[");
  for (int i = 0; i < n; ++i) printf("%s%.6f", i ? ", " : "", r[i]);
  printf("]");
}

/* ---------------------------------------------------------------- training (loop mode) */

/* --iterations --ensemble M [--probabilistic]: an ensemble (mbrl/dyn_ensemble.h) of M members
 * of the same net on bootstrapped minibatches, all members elites (ranked on the data). */
static int train_ensemble(const mbrl_dataset *ds, const mbrl_dataset_stats *stats, long steps,
                          long batch, int members, int prob, uint64_t seed, mbrl_backend be,
                          const char *out_path, mbrl_plan_model **pm) {
  mbrl_dyn_ensemble_config c;
  mbrl_dyn_ensemble_config_init(&c);
  c.members = members;
  c.probabilistic = prob;
  mbrl_dyn_ensemble *e = NULL;
  mbrl_dyn_ensemble_trainer *t = NULL;
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  char cfg[512];
  snprintf(cfg, sizeof cfg,
           "{\"created_by\": \"mbrl_mpc --iterations --ensemble\", \"members\": %d, "
           "\"probabilistic\": %d, \"steps\": %ld, \"batch\": %ld, \"lr\": 0.01, \"beta1\": "
           "0.99, \"beta2\": 0.999, \"hidden\": [64, 64], \"batchnorm\": true, \"bootstrap\": "
           "true, \"seed\": %llu, \"rows\": %zu}",
           members, prob, steps, batch, (unsigned long long)seed, ds->n);
  int rc = 1;
  if (mbrl_dyn_ensemble_create(&e, ds->env_id, ds->obs_dim, ds->act_dim, stats, &c, be,
                               batch > 1024 ? (int)batch : 1024, seed) != MBRL_OK ||
      mbrl_dyn_ensemble_trainer_create(&t, e, ds, &oc, (int)batch, 1, seed ^ TRAIN_SAMPLER_KEY) !=
          MBRL_OK ||
      mbrl_dyn_ensemble_trainer_run(t, (int)steps, NULL) != MBRL_OK ||
      mbrl_dyn_ensemble_select_elites(e, ds) != MBRL_OK ||
      mbrl_dyn_ensemble_set_config(e, cfg) != MBRL_OK) {
    fprintf(stderr, "%s: error: training the ensemble failed: %s\n", PROG, mbrl_last_error());
  } else if (mbrl_dyn_ensemble_save(e, out_path) != MBRL_OK ||
             mbrl_plan_model_from_ensemble(pm, e) != MBRL_OK) {
    fprintf(stderr, "%s: error: %s\n", PROG, mbrl_last_error());
  } else {
    rc = 0;
  }
  mbrl_dyn_ensemble_trainer_free(t);
  mbrl_dyn_ensemble_free(e);
  return rc;
}

static int g_members = 0, g_probabilistic = 0; /* --ensemble / --probabilistic (loop mode) */

static int train_model(const mbrl_dataset *ds, long steps, uint64_t seed, mbrl_backend be,
                       const char *out_path, mbrl_plan_model **pm) {
  mbrl_dataset_stats stats;
  if (mbrl_dataset_stats_compute(ds, &stats) != MBRL_OK) {
    fprintf(stderr, "%s: error: %s\n", PROG, mbrl_last_error());
    return 1;
  }
  const int hidden[2] = {64, 64};
  mbrl_dynamics *d = NULL;
  mbrl_dynamics_trainer *t = NULL;
  int rc = 1;
  const long batch = ds->n < 128 ? (long)ds->n : 128;
  mbrl_optim_config oc = mbrl_optim_adam_config(0.01f, 0.99f, 0.999f);
  char cfg[512];
  snprintf(cfg, sizeof cfg,
           "{\"created_by\": \"mbrl_mpc --iterations\", \"steps\": %ld, \"batch\": %ld, "
           "\"lr\": 0.01, \"beta1\": 0.99, \"beta2\": 0.999, \"hidden\": [64, 64], "
           "\"batchnorm\": true, \"seed\": %llu, \"rows\": %zu}",
           steps, batch, (unsigned long long)seed, ds->n);
  if (batch < 2) {
    fprintf(stderr, "%s: error: the dataset has %zu rows; at least 2 are needed to train\n", PROG,
            ds->n);
    return 1;
  }
  if (g_members > 0)
    return train_ensemble(ds, &stats, steps, batch, g_members, g_probabilistic, seed, be, out_path,
                          pm);
  if (mbrl_dynamics_create(&d, ds->env_id, ds->obs_dim, ds->act_dim, &stats, 2, hidden, 1, be,
                           (int)batch, seed) != MBRL_OK ||
      mbrl_dynamics_trainer_create(&t, d, ds, &oc, (int)batch, seed ^ TRAIN_SAMPLER_KEY) != MBRL_OK ||
      mbrl_dynamics_trainer_run(t, (int)steps, NULL) != MBRL_OK ||
      mbrl_dynamics_set_config(d, cfg) != MBRL_OK) {
    fprintf(stderr, "%s: error: training failed: %s\n", PROG, mbrl_last_error());
  } else if (mbrl_dynamics_save(d, out_path) != MBRL_OK) {
    fprintf(stderr, "%s: error: %s\n", PROG, mbrl_last_error());
  } else if (mbrl_plan_model_from_dynamics(pm, d) != MBRL_OK) {
    fprintf(stderr, "%s: error: %s\n", PROG, mbrl_last_error());
  } else {
    rc = 0;
  }
  mbrl_dynamics_trainer_free(t);
  mbrl_dynamics_free(d);
  return rc;
}

static int make_planner(const mbrl_plan_model *m, const run_cfg *rc, mbrl_backend be,
                        mbrl_planner **p) {
  const mbrl_planner_config c = planner_config_of(rc, be);
  mbrl_status st = mbrl_planner_create(p, m, &c);
  if (st == MBRL_ERR_INVALID_ARG)
    mbrl_cli_usage_error(PROG, "--samples %d / --horizon %d: %s", rc->K, rc->H, mbrl_last_error());
  if (st) {
    fprintf(stderr, "%s: error: %s\n", PROG, mbrl_last_error());
    return 1;
  }
  return 0;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
  const char *model_path = NULL, *record = NULL, *append = NULL, *data = NULL;
  const char *env_id = "Pendulum-v1";
  int n_init = 0;
  int oracle = 0, json = 0, force = 0, episodes_set = 0;
  long episodes = 10, iterations = 0, eval_episodes = 0, train_steps = 5000;
  int eval_seed_set = 0, prop_set = 0;
  uint64_t eval_seed = 0;
  run_cfg rc;
  memset(&rc, 0, sizeof rc);
  rc.K = 1024;
  rc.H = 15;
  rc.gamma = 1.0f;
  rc.max_steps = 0; /* 0: the env's time limit */
  mbrl_backend req = MBRL_BACKEND_AUTO;
  /* --planner and the optimizer flags: set on a CEM config, the kind's defaults fill the rest */
  mbrl_plan_opt_kind opt_kind = (mbrl_plan_opt_kind)0;
  int horizon_set = 0;
  mbrl_plan_opt_config oc = {(mbrl_plan_opt_kind)0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};

  mbrl_cli c;
  mbrl_cli_init(&c, PROG, argc, argv);
  while (mbrl_cli_next(&c)) {
    mbrl_cli_help_version(&c, usage);
    if (mbrl_cli_option(&c, "--env")) {
      if (!mbrl_env_find(c.value))
        mbrl_cli_usage_error(PROG, "--env: '%s' is not a known environment; use one of: %s",
                             c.value, mbrl_env_known_ids());
      env_id = c.value;
    } else if (mbrl_cli_option(&c, "--model")) {
      model_path = c.value;
    } else if (mbrl_cli_flag(&c, "--oracle")) {
      oracle = 1;
    } else if (mbrl_cli_option(&c, "--episodes")) {
      episodes = mbrl_cli_int(&c, 1, 100000);
      episodes_set = 1;
    } else if (mbrl_cli_option(&c, "--samples")) {
      rc.K = (int)mbrl_cli_int(&c, 1, MBRL_PLANNER_MAX_SAMPLES);
    } else if (mbrl_cli_option(&c, "--horizon")) {
      rc.H = (int)mbrl_cli_int(&c, 1, MBRL_PLANNER_MAX_HORIZON);
      horizon_set = 1;
    } else if (mbrl_cli_option(&c, "--gamma")) {
      double g = mbrl_cli_double(&c, 0.0, 1.0);
      if (!(g > 0.0)) mbrl_cli_usage_error(PROG, "--gamma: %s is not in (0, 1]", c.value);
      rc.gamma = (float)g;
    } else if (mbrl_cli_flag(&c, "--warm-start")) {
      rc.warm = rc.warm_set = 1;
    } else if (mbrl_cli_flag(&c, "--no-warm-start")) {
      rc.warm = 0;
      rc.warm_set = 1;
    } else if (mbrl_cli_option(&c, "--planner")) { /* the optimizers (mbrl/plan_opt.h) */
      static const char *const ch[] = {"rs", "cem", "icem", "mppi", NULL};
      const int k = mbrl_cli_choice(&c, ch);
      opt_kind = k ? mbrl_plan_opt_kind_from_name(ch[k]) : (mbrl_plan_opt_kind)0;
    } else if (mbrl_cli_option(&c, "--population")) {
      oc.population = (int)mbrl_cli_int(&c, 1, MBRL_PLAN_OPT_MAX_POPULATION);
    } else if (mbrl_cli_option(&c, "--opt-iterations")) {
      oc.iterations = (int)mbrl_cli_int(&c, 1, MBRL_PLAN_OPT_MAX_ITERATIONS);
    } else if (mbrl_cli_option(&c, "--elite-ratio")) {
      oc.elite_ratio = (float)mbrl_cli_double(&c, 1e-9, 1.0);
    } else if (mbrl_cli_option(&c, "--alpha")) {
      oc.alpha = (float)mbrl_cli_double(&c, 0.0, 0.999999);
    } else if (mbrl_cli_flag(&c, "--return-best")) {
      oc.return_best = 1;
    } else if (mbrl_cli_option(&c, "--noise-beta")) {
      oc.noise_beta = (float)mbrl_cli_double(&c, 0.0, 10.0);
    } else if (mbrl_cli_option(&c, "--pop-decay")) {
      oc.pop_decay = (float)mbrl_cli_double(&c, 1.0, 100.0);
    } else if (mbrl_cli_option(&c, "--keep-elites")) {
      oc.keep_elite_frac = (float)mbrl_cli_double(&c, 0.0, 1.0);
    } else if (mbrl_cli_option(&c, "--lambda")) {
      oc.lambda = (float)mbrl_cli_double(&c, 1e-9, 1e9);
    } else if (mbrl_cli_option(&c, "--sigma")) {
      oc.sigma = (float)mbrl_cli_double(&c, 1e-9, 1e9);
    } else if (mbrl_cli_option(&c, "--beta")) {
      oc.beta = (float)mbrl_cli_double(&c, 1e-9, 1.0);
    } else if (mbrl_cli_option(&c, "--ensemble")) {
      g_members = (int)mbrl_cli_int(&c, 1, MBRL_DYN_ENSEMBLE_MAX_MEMBERS);
    } else if (mbrl_cli_flag(&c, "--probabilistic")) {
      g_probabilistic = 1;
    } else if (mbrl_cli_option(&c, "--particles")) {
      rc.particles = (int)mbrl_cli_int(&c, 1, MBRL_PLANNER_MAX_PARTICLES);
    } else if (mbrl_cli_option(&c, "--propagation")) {
      static const char *const ch[] = {"tsinf", "ts1", "expectation", NULL};
      const int k = mbrl_cli_choice(&c, ch);
      rc.prop = k == 1 ? MBRL_PLAN_PROP_TS1 : k == 2 ? MBRL_PLAN_PROP_EXPECTATION : MBRL_PLAN_PROP_TSINF;
      prop_set = 1;
    } else if (mbrl_cli_flag(&c, "--no-sample")) {
      rc.no_sample = 1;
      prop_set = 1;
    } else if (mbrl_cli_flag(&c, "--no-projection")) {
      rc.no_projection = 1;
    } else if (mbrl_cli_option(&c, "--reward-on")) {
      static const char *const ch[] = {"current", "next", NULL};
      rc.score_next = mbrl_cli_choice(&c, ch);
    } else if (mbrl_cli_option(&c, "--cost")) {
      static const char *const ch[] = {"reward", "shaped", NULL};
      rc.cost = mbrl_cli_choice(&c, ch) == 1 ? MBRL_PLAN_COST_SHAPED : MBRL_PLAN_COST_REWARD;
    } else if (mbrl_cli_option(&c, "--seed")) {
      rc.seed = mbrl_cli_u64(&c);
    } else if (mbrl_cli_option(&c, "--max-steps")) {
      rc.max_steps = (int)mbrl_cli_int(&c, 1, 1000000);
    } else if (mbrl_cli_option(&c, "--init-state")) {
      n_init = mbrl_cli_double_list(&c, rc.init, MBRL_ENV_MAX_STATE, -1e6, 1e6);
      rc.have_init = 1;
    } else if (mbrl_cli_option(&c, "--device")) {
      req = mbrl_cli_device(&c);
    } else if (mbrl_cli_option(&c, "--record")) {
      record = c.value;
    } else if (mbrl_cli_option(&c, "--append-data")) {
      append = c.value;
    } else if (mbrl_cli_flag(&c, "--json")) {
      json = 1;
    } else if (mbrl_cli_option(&c, "--iterations")) {
      iterations = mbrl_cli_int(&c, 1, 100);
    } else if (mbrl_cli_option(&c, "--data")) {
      data = c.value;
    } else if (mbrl_cli_option(&c, "--train-steps")) {
      train_steps = mbrl_cli_int(&c, 1, 100000000);
    } else if (mbrl_cli_option(&c, "--eval-episodes")) {
      eval_episodes = mbrl_cli_int(&c, 1, 100000);
    } else if (mbrl_cli_option(&c, "--eval-seed")) {
      eval_seed = mbrl_cli_u64(&c);
      eval_seed_set = 1;
    } else if (mbrl_cli_flag(&c, "--force")) {
      force = 1;
    } else {
      mbrl_cli_unknown(&c);
    }
  }
  rc.json = json;
  if (opt_kind) { /* --planner cem|icem|mppi: defaults of the kind, then the flags given */
    mbrl_plan_opt_config_init(&rc.opt, opt_kind);
#define OPT_FLAG(f) if (oc.f >= 0) rc.opt.f = oc.f
    OPT_FLAG(population); OPT_FLAG(iterations); OPT_FLAG(elite_ratio); OPT_FLAG(alpha);
    OPT_FLAG(return_best); OPT_FLAG(noise_beta); OPT_FLAG(pop_decay); OPT_FLAG(keep_elite_frac);
    OPT_FLAG(lambda); OPT_FLAG(sigma); OPT_FLAG(beta);
#undef OPT_FLAG
    rc.opt.warm_start = rc.warm_set ? rc.warm : 1;
    if (!horizon_set) rc.H = mbrl_plan_opt_default_horizon(opt_kind);
    if (mbrl_plan_opt_config_check(&rc.opt) != MBRL_OK) /* a usage error, before any work */
      mbrl_cli_usage_error(PROG, "--planner %s: %s", mbrl_plan_opt_kind_name(opt_kind),
                           mbrl_last_error());
  } else if (oc.population >= 0 || oc.iterations >= 0 || oc.elite_ratio >= 0 || oc.alpha >= 0 ||
             oc.return_best >= 0 || oc.noise_beta >= 0 || oc.pop_decay >= 0 ||
             oc.keep_elite_frac >= 0 || oc.lambda >= 0 || oc.sigma >= 0 || oc.beta >= 0) {
    mbrl_cli_usage_error(PROG, "optimizer options (--population, --opt-iterations, ...) need "
                         "--planner cem, icem or mppi");
  }
  const mbrl_env_spec *env = mbrl_env_find(env_id);
  if (rc.max_steps == 0) rc.max_steps = env->max_steps;
  if (rc.max_steps > env->max_steps)
    mbrl_cli_usage_error(PROG, "--max-steps: %d is past %s's time limit; use 1..%d", rc.max_steps,
                         env->id, env->max_steps);
  if (rc.have_init && n_init != env->state_dim)
    mbrl_cli_usage_error(PROG, "--init-state: %s's state has %d values; give them comma-separated "
                         "(Pendulum-v1: TH,THDOT; see mbrl_mpc --help)", env->id, env->state_dim);
  if (!eval_seed_set) eval_seed = rc.seed;
  if (iterations > 0) {
    if (!data || !model_path)
      mbrl_cli_usage_error(PROG, "--iterations needs --data FILE (the dataset to grow) and "
                                 "--model FILE (where the model is saved)");
    if (oracle) mbrl_cli_usage_error(PROG, "--iterations trains a model; it cannot use --oracle");
    if (record || append)
      mbrl_cli_usage_error(PROG, "--record / --append-data are for single runs; --iterations "
                                 "appends to --data itself");
    if (!episodes_set) episodes = 5;
  } else {
    if (oracle && model_path) mbrl_cli_usage_error(PROG, "give either --model FILE or --oracle, not both");
    if (!oracle && !model_path)
      mbrl_cli_usage_error(PROG, "no model: give --model FILE (from mbrl_train) or --oracle");
    if (data) mbrl_cli_usage_error(PROG, "--data is used with --iterations only");
    if (eval_episodes) mbrl_cli_usage_error(PROG, "--eval-episodes is used with --iterations only");
    if (eval_seed_set) mbrl_cli_usage_error(PROG, "--eval-seed is used with --iterations only");
    if (force && !record)
      mbrl_cli_usage_error(PROG, "--force lets --record FILE (or --iterations' --model FILE) "
                                 "overwrite an existing file; add --record FILE");
    if (record && append && strcmp(record, append) == 0)
      mbrl_cli_usage_error(PROG, "--record and --append-data name the same file '%s'; a "
                                 "trajectory record is not a dataset: use two files", record);
  }
  /* The output files are checked before any episode runs, so a bad one costs nothing. */
  if (record) {
    if (file_exists(record) && !force)
      mbrl_cli_fail(PROG, "--record: '%s' already exists; pass --force to overwrite it or "
                    "choose another name", record);
    if (mbrl_h5_check_writable(record) != MBRL_OK)
      mbrl_cli_fail(PROG, "--record: %s", mbrl_last_error());
  }
  if (append) {
    if (file_exists(append)) {
      /* it must load as a dataset the transitions can join: the same env and widths */
      mbrl_dataset old;
      if (mbrl_dataset_load(&old, append) != MBRL_OK)
        mbrl_cli_fail(PROG, "--append-data: %s (give a %s dataset from mbrl_collect, or a new "
                      "file name)", mbrl_last_error(), env->id);
      const int same_env = strcmp(old.env_id, env->id) == 0;
      const int same_dims = old.obs_dim == env->obs_dim && old.act_dim == env->act_dim;
      char old_env[64];
      snprintf(old_env, sizeof old_env, "%s", old.env_id);
      const int O = old.obs_dim, A = old.act_dim;
      mbrl_dataset_free(&old);
      if (!same_env)
        mbrl_cli_fail(PROG, "--append-data: '%s' holds %s data; mbrl_mpc adds %s transitions: "
                      "give a %s dataset or a new file name", append, old_env, env->id, env->id);
      if (!same_dims)
        mbrl_cli_fail(PROG, "--append-data: '%s' has %d observation and %d action values per "
                      "row; %s has %d and %d", append, O, A, env->id, env->obs_dim,
                      env->act_dim);
    }
    if (mbrl_h5_check_writable(append) != MBRL_OK)
      mbrl_cli_fail(PROG, "--append-data: %s", mbrl_last_error());
  }

  /* an ensemble checkpoint (PETS): particles on the CPU planner */
  if (g_probabilistic && !g_members) g_members = 5;
  if (g_members && iterations == 0)
    mbrl_cli_usage_error(PROG, "--ensemble / --probabilistic train the loop's models: use them "
                         "with --iterations (a single run takes an ensemble --model FILE)");
  rc.ensemble = !oracle && (iterations > 0 ? g_members > 0
                                           : model_path && mbrl_dyn_ensemble_is_file(model_path));
  if (oracle && rc.no_projection)
    mbrl_cli_usage_error(PROG, "--no-projection applies to learned models; --oracle plans with "
                         "the true dynamics, whose observations need no projection");
  if (!rc.ensemble && (rc.particles > 1 || prop_set))
    mbrl_cli_usage_error(PROG, "--particles / --propagation / --no-sample need an ensemble model "
                         "(--model FILE from mbrl_train --ensemble M)");
  const mbrl_backend be = mbrl_cli_resolve_device(PROG, req);
  const char *dev_name = mbrl_backend_name(be);
  const char *cpu_kernels = mbrl_cli_cpu_kernels(PROG);
  fprintf(stderr, "%s: device %s%s%s%s\n", PROG, dev_name, be == MBRL_BACKEND_CUDA ? " (" : "",
            be == MBRL_BACKEND_CUDA ? mbrl_cuda_device_name() : "",
          be == MBRL_BACKEND_CUDA ? ")" : "");

  /* ------------------------------------------------ the model-based loop */
  if (iterations > 0) {
    if (file_exists(model_path) && !force)
      mbrl_cli_fail(PROG, "--model %s exists; --iterations writes the trained model there: add "
                    "--force to overwrite it or choose another path", model_path);
    if (mbrl_h5_check_writable(model_path) != MBRL_OK)
      mbrl_cli_fail(PROG, "--model: %s", mbrl_last_error());
    mbrl_dataset ds;
    if (mbrl_dataset_load(&ds, data) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());
    if (strcmp(ds.env_id, env->id) != 0)
      mbrl_cli_fail(PROG, "%s holds %s data, not %s (give --env %s, or a %s dataset)", data,
                    ds.env_id, env->id, ds.env_id, env->id);
    long env_steps = (long)ds.n;
    typedef struct it_row {
      size_t rows;
      double mean, std, med;
      long env_steps;
      double *returns;
    } it_row;
    it_row *rows = (it_row *)calloc((size_t)iterations, sizeof(it_row));
    if (!rows) mbrl_cli_fail(PROG, "out of memory");
    if (!json)
      printf("%9s %10s %9s %12s %10s %10s\n", "iteration", "train_rows", "episodes", "mean_return",
             "std", "env_steps");
    for (long it = 0; it < iterations; ++it) {
      mbrl_plan_model *pm = NULL;
      fprintf(stderr, "%s: iteration %ld: training on %zu transitions (%ld steps)\n", PROG, it + 1,
              ds.n, train_steps);
      if (train_model(&ds, train_steps, rc.seed + (uint64_t)it, be, model_path, &pm)) return 1;
      mbrl_planner *p = NULL;
      if (make_planner(pm, &rc, be, &p)) return 1;
      mbrl_trajectory t;
      if (mbrl_trajectory_init(&t, pm->env_id, pm->obs_dim, pm->act_dim) != MBRL_OK)
        mbrl_cli_fail(PROG, "%s", mbrl_last_error());
      run_out ro;
      run_cfg rq = rc;
      rq.quiet = 1;
      if (run_episodes(p, pm, &rq, (int)episodes, rc.seed + ITER_SEED_STRIDE * (uint64_t)(it + 1),
                       &t, &ro))
        return 1;
      mbrl_dataset more;
      if (traj_to_dataset(&t, ds.env_id, (int)episodes, &more) != MBRL_OK ||
          mbrl_dataset_append_file(data, &more, "mbrl_mpc --iterations") != MBRL_OK ||
          mbrl_dataset_extend(&ds, &more) != MBRL_OK)
        mbrl_cli_fail(PROG, "aggregating into %s: %s", data, mbrl_last_error());
      env_steps += ro.env_steps;
      it_row *r = &rows[it];
      r->rows = ds.n - more.n;
      double p99, pm_ms;
      summarize(&ro, (int)episodes, &r->mean, &r->std, &r->med, &p99, &pm_ms);
      r->env_steps = env_steps;
      r->returns = ro.returns;
      if (!json) {
        printf("%9ld %10zu %9ld %12.2f %10.2f %10ld\n", it + 1, r->rows, episodes, r->mean, r->std,
               r->env_steps);
        fflush(stdout);
      }
      free(ro.plan_ms);
      free(ro.prior);
      mbrl_dataset_free(&more);
      mbrl_trajectory_free(&t);
      mbrl_planner_free(p);
      mbrl_plan_model_free(pm);
    }
    fprintf(stderr, "%s: final model: training on %zu transitions\n", PROG, ds.n);
    mbrl_plan_model *pm = NULL;
    if (train_model(&ds, train_steps, rc.seed + (uint64_t)iterations, be, model_path, &pm)) return 1;
    double em = 0, es = 0, emed = 0, ep99 = 0, epm = 0;
    run_out ev;
    memset(&ev, 0, sizeof ev);
    if (eval_episodes > 0) {
      mbrl_planner *p = NULL;
      if (make_planner(pm, &rc, be, &p)) return 1;
      run_cfg rq = rc;
      rq.quiet = 1;
      if (run_episodes(p, pm, &rq, (int)eval_episodes, eval_seed, NULL, &ev)) return 1;
      summarize(&ev, (int)eval_episodes, &em, &es, &emed, &ep99, &epm);
      mbrl_planner_free(p);
    }
    if (json) {
      printf("{\"iterations\": [");
      for (long it = 0; it < iterations; ++it) {
        const it_row *r = &rows[it];
        printf("%s{\"iteration\": %ld, \"train_rows\": %zu, \"episodes\": %ld, \"returns\": ",
               it ? ", " : "", it + 1, r->rows, episodes);
        print_returns_json(r->returns, (int)episodes);
        printf(", \"mean_return\": %.6f, \"std_return\": %.6f, \"env_steps\": %ld}", r->mean, r->std,
               r->env_steps);
      }
      printf("], \"total_env_steps\": %ld, \"final_train_rows\": %zu, \"model\": ", env_steps, ds.n);
      mbrl_cli_json_string(stdout, model_path);
      printf(", \"data\": ");
      mbrl_cli_json_string(stdout, data);
      printf(", \"samples\": %d, \"horizon\": %d, \"gamma\": %.9g, \"device\": \"%s\", "
             "\"cpu_kernels\": \"%s\", \"env\": \"%s\", \"cost\": \"%s\", \"seed\": %llu",
             rc.K, rc.H, (double)rc.gamma, dev_name, cpu_kernels, env->id,
             rc.cost == MBRL_PLAN_COST_SHAPED ? "shaped" : "reward", (unsigned long long)rc.seed);
      printf(", \"planner\": %s, \"ensemble_members\": %d, \"probabilistic\": %d",
             planner_json(&rc), g_members, g_probabilistic);
      if (eval_episodes > 0) {
        printf(", \"eval\": {\"episodes\": %ld, \"reset_seed0\": %llu, \"returns\": ", eval_episodes,
               (unsigned long long)eval_seed);
        print_returns_json(ev.returns, (int)eval_episodes);
        printf(", \"mean_return\": %.6f, \"std_return\": %.6f, \"plan_ms_median\": %.6f, "
               "\"plan_ms_p99\": %.6f}",
               em, es, emed, ep99);
      }
      printf("}\n");
    } else {
      printf("final model: %zu transitions, %ld environment steps in total (saved to %s)\n", ds.n,
             env_steps, model_path);
      if (eval_episodes > 0)
        printf("evaluation: mean return %.2f +- %.2f over %ld episodes (reset seeds %llu..%llu); "
               "planning median %.3f ms, p99 %.3f ms per action\n",
               em, es, eval_episodes, (unsigned long long)eval_seed,
               (unsigned long long)(eval_seed + (uint64_t)eval_episodes - 1), emed, ep99);
    }
    for (long it = 0; it < iterations; ++it) free(rows[it].returns);
    free(rows);
    free(ev.returns);
    free(ev.plan_ms);
    free(ev.prior);
    mbrl_plan_model_free(pm);
    mbrl_dataset_free(&ds);
    return 0;
  }

  /* ------------------------------------------------ a single run */
  mbrl_plan_model *m = NULL;
  if (oracle) {
    if (mbrl_plan_model_oracle(&m, env->id) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  } else if (mbrl_plan_model_load(&m, model_path, env->id) != MBRL_OK) {
    mbrl_cli_fail(PROG, "--model: %s", mbrl_last_error());
  }
  mbrl_planner *p = NULL;
  if (make_planner(m, &rc, be, &p)) return 1;
  if (!json && rc.opt.kind)
    printf("planner %s\n", planner_json(&rc));
  if (!json)
    printf("%s, model %s, device %s, K=%d H=%d gamma=%g, cost %s, %ld episodes of up to %d "
           "steps\n",
           env->id, oracle ? "oracle (true dynamics)" : model_path, dev_name, rc.K, rc.H,
           (double)rc.gamma, rc.cost == MBRL_PLAN_COST_SHAPED ? "shaped" : "reward", episodes,
           rc.max_steps);
  mbrl_trajectory t;
  if (mbrl_trajectory_init(&t, m->env_id, m->obs_dim, m->act_dim) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  snprintf(t.model, sizeof t.model, "%s", oracle ? "oracle" : model_path);
  t.samples = rc.K;
  t.horizon = rc.H;
  t.gamma = (double)rc.gamma;
  t.seed = rc.seed;
  snprintf(t.cost, sizeof t.cost, "%s", rc.cost == MBRL_PLAN_COST_SHAPED ? "shaped" : "reward");
  snprintf(t.planner, sizeof t.planner, "%s", planner_json(&rc));
  run_out ro;
  if (run_episodes(p, m, &rc, (int)episodes, rc.seed, (record || append) ? &t : NULL, &ro)) return 1;
  double mean, std, med, p99, pmean;
  summarize(&ro, (int)episodes, &mean, &std, &med, &p99, &pmean);
  int rcode = 0;
  if (record && mbrl_trajectory_save(&t, record) != MBRL_OK) {
    fprintf(stderr, "%s: error: --record: %s\n", PROG, mbrl_last_error());
    rcode = 1;
  }
  if (append && !rcode) {
    mbrl_dataset more;
    mbrl_status st = traj_to_dataset(&t, m->env_id, (int)episodes, &more);
    if (!st) {
      if (file_exists(append)) {
        st = mbrl_dataset_append_file(append, &more, "mbrl_mpc");
      } else {
        more.seed = rc.seed;
        st = mbrl_dataset_save(&more, append, "mbrl_mpc");
      }
    }
    if (st) {
      fprintf(stderr, "%s: error: --append-data: %s\n", PROG, mbrl_last_error());
      rcode = 1;
    }
    mbrl_dataset_free(&more);
  }
  if (json) {
    printf("{\"returns\": ");
    print_returns_json(ro.returns, (int)episodes);
    printf(", \"mean_return\": %.6f, \"std_return\": %.6f, \"plan_ms_median\": %.6f, "
           "\"plan_ms_p99\": %.6f, \"plan_ms_mean\": %.6f, \"samples\": %d, \"horizon\": %d, "
           "\"gamma\": %.9g, \"device\": \"%s\", \"cpu_kernels\": \"%s\", \"env\": \"%s\", "
           "\"cost\": \"%s\", \"model\": ",
           mean, std, med, p99, pmean, rc.K, rc.H, (double)rc.gamma, dev_name, cpu_kernels, env->id,
           rc.cost == MBRL_PLAN_COST_SHAPED ? "shaped" : "reward");
    mbrl_cli_json_string(stdout, oracle ? "oracle" : model_path);
    printf(", \"planner\": %s", planner_json(&rc));
    printf(", \"episodes\": %ld, \"max_steps\": %d, \"env_steps\": %ld, \"seed\": %llu}\n", episodes,
           rc.max_steps, ro.env_steps, (unsigned long long)rc.seed);
  } else {
    printf("mean return %.2f +- %.2f over %ld episodes\n", mean, std, episodes);
    printf("planning latency per action: median %.3f ms, p99 %.3f ms (%zu actions)\n", med, p99,
           ro.n_plan);
  }
  mbrl_trajectory_free(&t);
  free(ro.returns);
  free(ro.plan_ms);
  free(ro.prior);
  mbrl_planner_free(p);
  mbrl_plan_model_free(m);
  return rcode;
}
