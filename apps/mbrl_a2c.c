/* mbrl_a2c - train A2C (stable-baselines3 defaults) or REINFORCE on CartPole-v1 over a batch
 * of environments, alone or as an ensemble of M policies with optional evolution; evaluate
 * deterministically every N steps; save / load the policies as HDF5 (mbrl.policy). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mbrl/a2c.h"
#include "mbrl/cli.h"
#include "mbrl/device.h"
#include "mbrl/ensemble.h"
#include "mbrl/env.h"
#include "mbrl/h5util.h"
#include "mbrl/log.h"

static const char *PROG = "mbrl_a2c";

static void usage(void) {
  printf(
      "Usage: mbrl_a2c [--env ID] [--algo a2c|reinforce] [--steps N] [--seed S] [--envs B]\n"
      "                [--ensemble [M]] [--evolve-every STEPS] [--eval-every N] [--json]\n"
      "                [--logdir DIR] [--save FILE [--force]] [--load FILE] [--device D] [...]\n"
      "\n"
      "Train an actor-critic (A2C with stable-baselines3's defaults) or REINFORCE on a discrete-\n"
      "action environment over a batch of environments; evaluate the greedy (argmax) policy.\n"
      "\n"
      "Run:\n"
      "  --env ID              environment with discrete actions (default CartPole-v1; known: %s)\n"
      "  --algo A              a2c (default) or reinforce (seed 004's loss: G - mean(G), no critic)\n"
      "  --steps N             environment steps to train, 0..10^10 (default 500000; 0 = only\n"
      "                        evaluate, e.g. with --load)\n"
      "  --seed S              seed, 0..2^64-1 (default 0); a run repeats bit for bit per device\n"
      "  --device D            auto|cpu|cuda (default auto: cuda when a GPU is present)\n"
      "  --stop-return R       stop once an evaluation's mean return reaches R (default: never)\n"
      "\n"
      "A2C / REINFORCE hyperparameters (SB3 defaults):\n"
      "  --envs B              environments stepped together, 1..65536 (default 8)\n"
      "  --n-steps T           steps per rollout fragment (default 5; reinforce 50)\n"
      "  --gamma G             discount (default 0.99)\n"
      "  --gae-lambda L        GAE lambda (default 1.0)\n"
      "  --vf-coef C           value loss coefficient (default 0.5)\n"
      "  --ent-coef C          entropy coefficient (default 0.0; reinforce 0.01)\n"
      "  --max-grad-norm X     clip the norm over actor+critic gradients (default 0.5; 0 = off)\n"
      "  --lr X                RMSprop learning rate (default 0.0007)\n"
      "  --rms-alpha X         RMSprop smoothing constant (default 0.99)\n"
      "  --rms-eps X           RMSprop eps (default 1e-05)\n"
      "  --hidden W,W          hidden widths of actor and critic, tanh (default 64,64)\n"
      "\n"
      "Ensemble (seeds 000/001):\n"
      "  --ensemble [M]        M policies act together, 2..1024 (default 20 when given): the\n"
      "                        action comes from the normalized sum of their probabilities\n"
      "  --evolve-every STEPS  every STEPS env steps rebuild the lowest-contributing models from\n"
      "                        the best (default 0 = never)\n"
      "  --evolve-frac F       fraction rebuilt per evolution, (0, 1) (default 0.25)\n"
      "  --mutation-std S      Gaussian noise std added to a rebuilt weight vector (default 0.01)\n"
      "  --crossover           uniform crossover of two parents before the noise\n"
      "\n"
      "Evaluation and output:\n"
      "  --eval-every N        evaluate every N env steps (default 10000; 0 = only at the end)\n"
      "  --eval-episodes K     episodes per evaluation, greedy actions (default 10)\n"
      "  --json                print a JSON summary on stdout (env_steps, wall_seconds,\n"
      "                        final_eval_mean, best_eval_mean, evals [[steps, mean], ...])\n"
      "  --logdir DIR          write DIR/metrics.csv and a TensorBoard event file\n"
      "  --save FILE           write the policies to FILE (HDF5, format mbrl.policy, PyTorch\n"
      "                        state_dict names /actor/network/0/weight ...) when done; an\n"
      "                        existing FILE is refused before training unless --force\n"
      "  --force               let --save overwrite an existing FILE (a failed run never\n"
      "                        touches it)\n"
      "  --load FILE           start from the policies in FILE (env, algo, ensemble size and\n"
      "                        hidden widths default to the file's)\n"
      "  --quiet               no progress line on stderr\n"
      "  --help, --version\n"
      "\n"
      "Exit status: 0 ok, 1 runtime failure, 2 bad usage.\n",
      mbrl_env_known_ids());
}

typedef struct eval_point {
  long long steps;
  double mean;
} eval_point;

int main(int argc, char **argv) {
  mbrl_a2c_config cfg;
  mbrl_a2c_config_init(&cfg, MBRL_A2C_ALGO_A2C);
  const char *env_id = NULL, *logdir = NULL, *save = NULL, *load = NULL;
  long long steps = 500000, eval_every = 10000, evolve_every = 0;
  long eval_episodes = 10;
  int M = 1, json = 0, quiet = 0, algo_given = 0, ensemble_given = 0, force = 0;
  int n_steps = -1, hidden_given = 0;
  double ent_coef = -1.0, stop_return = NAN;
  mbrl_backend backend = MBRL_BACKEND_AUTO;
  mbrl_evolve_config ec;
  mbrl_evolve_config_init(&ec);
  int evolve_opts_given = 0;
  mbrl_a2c_algo algo = MBRL_A2C_ALGO_A2C;
  long hid[MBRL_A2C_MAX_HIDDEN];
  int n_hid = 0;

  mbrl_cli c;
  mbrl_cli_init(&c, PROG, argc, argv);
  while (mbrl_cli_next(&c)) {
    mbrl_cli_help_version(&c, usage);
    if (mbrl_cli_option(&c, "--env")) {
      const mbrl_env_spec *s = mbrl_env_find(c.value);
      if (!s)
        mbrl_cli_usage_error(PROG, "--env: '%s' is not a known environment; use one of: %s",
                             c.value, mbrl_env_known_ids());
      if (!s->discrete)
        mbrl_cli_usage_error(PROG,
                             "--env: %s has a continuous action space; A2C/REINFORCE here need "
                             "discrete actions (use CartPole-v1)",
                             s->id);
      env_id = s->id;
    } else if (mbrl_cli_option(&c, "--algo")) {
      static const char *const algos[] = {"a2c", "reinforce", NULL};
      algo = mbrl_cli_choice(&c, algos) == 1 ? MBRL_A2C_ALGO_REINFORCE : MBRL_A2C_ALGO_A2C;
      algo_given = 1;
    } else if (mbrl_cli_option(&c, "--steps")) {
      steps = (long long)mbrl_cli_int(&c, 0, 10000000000L);
    } else if (mbrl_cli_option(&c, "--seed")) {
      cfg.seed = mbrl_cli_u64(&c);
    } else if (mbrl_cli_option(&c, "--device")) {
      backend = mbrl_cli_device(&c);
    } else if (mbrl_cli_option(&c, "--stop-return")) {
      stop_return = mbrl_cli_double(&c, -1e9, 1e9);
    } else if (mbrl_cli_option(&c, "--envs")) {
      cfg.n_envs = (int)mbrl_cli_int(&c, 1, 65536);
    } else if (mbrl_cli_option(&c, "--n-steps")) {
      n_steps = (int)mbrl_cli_int(&c, 1, 100000);
    } else if (mbrl_cli_option(&c, "--gamma")) {
      cfg.gamma = (float)mbrl_cli_double(&c, 0.0, 1.0);
    } else if (mbrl_cli_option(&c, "--gae-lambda")) {
      cfg.gae_lambda = (float)mbrl_cli_double(&c, 0.0, 1.0);
    } else if (mbrl_cli_option(&c, "--vf-coef")) {
      cfg.vf_coef = (float)mbrl_cli_double(&c, 0.0, 1e6);
    } else if (mbrl_cli_option(&c, "--ent-coef")) {
      ent_coef = mbrl_cli_double(&c, 0.0, 1e6);
    } else if (mbrl_cli_option(&c, "--max-grad-norm")) {
      cfg.max_grad_norm = (float)mbrl_cli_double(&c, 0.0, 1e9);
    } else if (mbrl_cli_option(&c, "--lr")) {
      cfg.lr = (float)mbrl_cli_double(&c, 1e-12, 10.0);
    } else if (mbrl_cli_option(&c, "--rms-alpha")) {
      cfg.rms_alpha = (float)mbrl_cli_double(&c, 0.0, 1.0);
    } else if (mbrl_cli_option(&c, "--rms-eps")) {
      cfg.rms_eps = (float)mbrl_cli_double(&c, 1e-12, 1.0);
    } else if (mbrl_cli_option(&c, "--hidden")) {
      n_hid = mbrl_cli_int_list(&c, hid, MBRL_A2C_MAX_HIDDEN, 1, 4096);
      hidden_given = 1;
    } else if (strcmp(c.arg, "--ensemble") == 0 &&
               (c.i + 1 >= c.argc || strncmp(c.argv[c.i + 1], "--", 2) == 0)) {
      M = 20; /* bare --ensemble */
      ensemble_given = 1;
    } else if (mbrl_cli_option(&c, "--ensemble")) {
      M = (int)mbrl_cli_int(&c, 2, 1024);
      ensemble_given = 1;
    } else if (mbrl_cli_option(&c, "--evolve-every")) {
      evolve_every = (long long)mbrl_cli_int(&c, 0, 10000000000L);
    } else if (mbrl_cli_option(&c, "--evolve-frac")) {
      ec.frac = mbrl_cli_double(&c, 1e-9, 0.999999);
      evolve_opts_given = 1;
    } else if (mbrl_cli_option(&c, "--mutation-std")) {
      ec.mutation_std = (float)mbrl_cli_double(&c, 0.0, 100.0);
      evolve_opts_given = 1;
    } else if (mbrl_cli_flag(&c, "--crossover")) {
      ec.crossover = 1;
      evolve_opts_given = 1;
    } else if (mbrl_cli_option(&c, "--eval-every")) {
      eval_every = (long long)mbrl_cli_int(&c, 0, 10000000000L);
    } else if (mbrl_cli_option(&c, "--eval-episodes")) {
      eval_episodes = mbrl_cli_int(&c, 1, 100000);
    } else if (mbrl_cli_flag(&c, "--json")) {
      json = 1;
    } else if (mbrl_cli_option(&c, "--logdir")) {
      logdir = mbrl_cli_path(&c, "runs");
    } else if (mbrl_cli_option(&c, "--save")) {
      save = mbrl_cli_path(&c, "policy.h5");
    } else if (mbrl_cli_option(&c, "--load")) {
      load = mbrl_cli_path(&c, "policy.h5");
    } else if (mbrl_cli_flag(&c, "--force")) {
      force = 1;
    } else if (mbrl_cli_flag(&c, "--quiet")) {
      quiet = 1;
    } else {
      mbrl_cli_unknown(&c);
    }
  }
  if (evolve_every > 0 && M < 2)
    mbrl_cli_usage_error(PROG, "--evolve-every needs an ensemble; add --ensemble (20 models) or "
                               "--ensemble M");
  if (force && !save)
    mbrl_cli_usage_error(PROG, "--force only lets --save overwrite a file; add --save FILE");
  if (evolve_opts_given && evolve_every == 0)
    mbrl_cli_usage_error(PROG, "--evolve-frac/--mutation-std/--crossover need --evolve-every "
                               "STEPS");

  /* --load: the file's env, algo, ensemble size and widths are the defaults */
  if (load) {
    mbrl_a2c_file_info info;
    if (mbrl_a2c_file_info_read(load, &info) != MBRL_OK)
      mbrl_cli_fail(PROG, "--load: %s", mbrl_last_error());
    if (!env_id) {
      const mbrl_env_spec *s = mbrl_env_find(info.env_id);
      if (!s || !s->discrete)
        mbrl_cli_fail(PROG, "--load: %s names environment '%s', which has no discrete policy here",
                      load, info.env_id);
      env_id = s->id;
    }
    if (!algo_given) algo = info.algo;
    if (!ensemble_given) M = info.models;
    if (!hidden_given) {
      n_hid = info.n_hidden;
      for (int i = 0; i < n_hid; ++i) hid[i] = info.hidden[i];
      hidden_given = 1;
    }
  }
  if (!env_id) env_id = "CartPole-v1";

  /* algorithm defaults, then the flags that were given */
  {
    mbrl_a2c_config d;
    mbrl_a2c_config_init(&d, algo);
    cfg.algo = algo;
    cfg.n_steps = n_steps > 0 ? n_steps : d.n_steps;
    cfg.ent_coef = ent_coef >= 0.0 ? (float)ent_coef : d.ent_coef;
    if (hidden_given) {
      cfg.n_hidden = n_hid;
      for (int i = 0; i < n_hid; ++i) cfg.hidden[i] = (int)hid[i];
    }
  }
  if (mbrl_a2c_config_check(&cfg) != MBRL_OK)
    mbrl_cli_usage_error(PROG, "%s", mbrl_last_error());
  /* --save is checked before any training, so a refused FILE costs nothing */
  if (save) {
    struct stat sb;
    if (stat(save, &sb) == 0 && !force)
      mbrl_cli_fail(PROG, "--save: '%s' already exists; pass --force to overwrite it or choose "
                    "another name", save);
    if (mbrl_h5_check_writable(save) != MBRL_OK)
      mbrl_cli_fail(PROG, "--save: %s", mbrl_last_error());
  }

  const mbrl_backend be = mbrl_cli_resolve_device(PROG, backend);
  const char *cpu_kernels = mbrl_cli_cpu_kernels(PROG); /* the host math runs on any device */
  mbrl_a2c *a = NULL;
  if (mbrl_a2c_create(&a, &cfg, env_id, M, be) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  if (load && mbrl_a2c_load(a, load) != MBRL_OK) {
    mbrl_a2c_free(a);
    mbrl_cli_fail(PROG, "--load: %s", mbrl_last_error());
  }
  if (!quiet)
    fprintf(stderr, "%s: %s on %s, %d model%s, device %s%s%s\n", PROG, mbrl_a2c_algo_name(cfg.algo),
            env_id, M, M > 1 ? "s" : "", mbrl_backend_name(be),
            be == MBRL_BACKEND_CUDA ? " " : "", be == MBRL_BACKEND_CUDA ? mbrl_cuda_device_name() : "");

  mbrl_log *log = NULL;
  if (logdir && mbrl_log_open(&log, logdir, NULL) != MBRL_OK) {
    mbrl_a2c_free(a);
    mbrl_cli_fail(PROG, "--logdir: %s", mbrl_last_error());
  }

  const long long per_iter = (long long)cfg.n_steps * cfg.n_envs;
  const long long iters = (steps + per_iter - 1) / per_iter;
  eval_point *evals = NULL;
  size_t n_evals = 0, cap_evals = 0;
  double best = -INFINITY, final_mean = NAN;
  long long next_eval = eval_every > 0 ? eval_every : -1;
  long long next_evolve = evolve_every > 0 ? evolve_every : -1;
  int evolutions = 0;
  mbrl_philox evo_rng;
  mbrl_philox_init(&evo_rng, cfg.seed, 1ULL << 35, 0);
  mbrl_progress prog;
  mbrl_progress_init(&prog, stderr, "a2c", 0, iters * per_iter,
                     quiet ? MBRL_PROGRESS_OFF : MBRL_PROGRESS_AUTO, 10.0);
  mbrl_a2c_stats s;
  memset(&s, 0, sizeof s);
  s.ep_return_mean = NAN;
  int stopped = 0, fail = 0;
  const double t0 = mbrl_log_now();

#define EVALUATE()                                                                          \
  do {                                                                                      \
    double mean = 0.0;                                                                      \
    if (mbrl_a2c_evaluate(a, (int)eval_episodes, 1, NULL, &mean) != MBRL_OK) {              \
      fail = 1;                                                                             \
      break;                                                                                \
    }                                                                                       \
    if (n_evals == cap_evals) {                                                             \
      cap_evals = cap_evals ? 2 * cap_evals : 64;                                           \
      eval_point *ne = (eval_point *)realloc(evals, cap_evals * sizeof *evals);             \
      if (!ne) {                                                                            \
        fail = 1;                                                                           \
        break;                                                                              \
      }                                                                                     \
      evals = ne;                                                                           \
    }                                                                                       \
    evals[n_evals].steps = (long long)a->env_steps;                                         \
    evals[n_evals++].mean = mean;                                                           \
    final_mean = mean;                                                                      \
    if (mean > best) best = mean;                                                           \
    if (log) mbrl_log_scalar(log, "eval/mean_reward", a->env_steps, mean);                  \
    if (!quiet && !json) {                                                                  \
      if (prog.dirty) fputc('\n', stderr), prog.dirty = 0;                                  \
      fprintf(stderr, "%s: eval at %lld steps: mean return %.1f (best %.1f)\n", PROG,       \
              (long long)a->env_steps, mean, best);                                         \
    }                                                                                       \
    if (!isnan(stop_return) && mean >= stop_return) stopped = 1;                            \
  } while (0)

  for (long long it = 0; it < iters && !fail && !stopped; ++it) {
    if (mbrl_a2c_iterate(a, &s) != MBRL_OK) {
      fail = 1;
      break;
    }
    const long long k = (long long)a->env_steps;
    if (log && (a->iterations % 100 == 0 || it == iters - 1)) {
      const double el = mbrl_log_now() - t0;
      if (!isnan(s.ep_return_mean)) {
        mbrl_log_scalar(log, "rollout/ep_rew_mean", k, s.ep_return_mean);
        mbrl_log_scalar(log, "rollout/ep_len_mean", k, s.ep_len_mean);
      }
      mbrl_log_scalar(log, "train/policy_loss", k, s.losses.policy_loss);
      if (cfg.algo == MBRL_A2C_ALGO_A2C) mbrl_log_scalar(log, "train/value_loss", k, s.losses.value_loss);
      mbrl_log_scalar(log, "train/entropy_loss", k, -s.losses.entropy);
      mbrl_log_scalar(log, "train/grad_norm", k, s.grad_norm);
      mbrl_log_scalar(log, "time/fps", k, el > 0 ? (double)k / el : 0.0);
    }
    if (next_evolve > 0 && k >= next_evolve) {
      while (next_evolve <= k) next_evolve += evolve_every;
      double cmax = -INFINITY, cmin = INFINITY;
      for (int i = 0; i < M; ++i) {
        cmax = a->contribution[i] > cmax ? a->contribution[i] : cmax;
        cmin = a->contribution[i] < cmin ? a->contribution[i] : cmin;
      }
      int nr = 0;
      if (mbrl_ensemble_evolve(a, &ec, &evo_rng, NULL, &nr) != MBRL_OK) {
        fail = 1;
        break;
      }
      evolutions++;
      if (log) {
        mbrl_log_scalar(log, "ensemble/contribution_max", k, cmax);
        mbrl_log_scalar(log, "ensemble/contribution_min", k, cmin);
        mbrl_log_scalar(log, "ensemble/rebuilt", k, nr);
      }
    }
    if (next_eval > 0 && k >= next_eval) {
      while (next_eval <= k) next_eval += eval_every;
      EVALUATE();
    }
    mbrl_progress_update(&prog, k, "return", s.ep_return_mean);
  }
  /* final evaluation (unless the last step was just evaluated) */
  if (!fail && (n_evals == 0 || evals[n_evals - 1].steps != (long long)a->env_steps)) EVALUATE();
  const double wall = mbrl_log_now() - t0;
  mbrl_progress_finish(&prog, a->env_steps, "return", s.ep_return_mean);
  if (fail) {
    fprintf(stderr, "%s: error: %s\n", PROG, mbrl_last_error());
    mbrl_log_close(log);
    mbrl_a2c_free(a);
    free(evals);
    return 1;
  }
  if (log && mbrl_log_close(log) != MBRL_OK) {
    fprintf(stderr, "%s: error: --logdir: %s\n", PROG, mbrl_last_error());
    mbrl_a2c_free(a);
    free(evals);
    return 1;
  }
  if (save && mbrl_a2c_save(a, save) != MBRL_OK) {
    fprintf(stderr, "%s: error: --save: %s\n", PROG, mbrl_last_error());
    mbrl_a2c_free(a);
    free(evals);
    return 1;
  }

  if (json) {
    printf("{\"env\": ");
    mbrl_cli_json_string(stdout, env_id);
    printf(", \"algo\": \"%s\", \"device\": \"%s\", \"cpu_kernels\": \"%s\", \"seed\": %llu, "
           "\"ensemble\": %d, "
           "\"envs\": %d, \"n_steps\": %d, \"env_steps\": %lld, \"iterations\": %lld, "
           "\"episodes\": %lld, \"wall_seconds\": %.6f, \"steps_per_second\": %.1f, "
           "\"evolutions\": %d, \"stopped_early\": %s, \"final_eval_mean\": %.6g, "
           "\"best_eval_mean\": %.6g, \"eval_episodes\": %ld, \"evals\": [",
           mbrl_a2c_algo_name(cfg.algo), mbrl_backend_name(be), cpu_kernels,
           (unsigned long long)cfg.seed, M,
           cfg.n_envs, cfg.n_steps, (long long)a->env_steps, (long long)a->iterations,
           (long long)a->episodes_total, wall, wall > 0 ? (double)a->env_steps / wall : 0.0,
           evolutions, stopped ? "true" : "false", final_mean, best, eval_episodes);
    for (size_t i = 0; i < n_evals; ++i)
      printf("%s[%lld, %.6g]", i ? ", " : "", evals[i].steps, evals[i].mean);
    printf("]");
    if (save) {
      printf(", \"saved\": ");
      mbrl_cli_json_string(stdout, save);
    }
    printf("}\n");
  } else {
    printf("algo: %s  env: %s  models: %d  device: %s\n", mbrl_a2c_algo_name(cfg.algo), env_id,
           M, mbrl_backend_name(be));
    printf("env steps: %lld in %.2f s (%.0f steps/s), %lld episodes\n", (long long)a->env_steps,
           wall, wall > 0 ? (double)a->env_steps / wall : 0.0, (long long)a->episodes_total);
    printf("final eval mean return: %.1f  best: %.1f  (%zu evaluations of %ld episodes)\n",
           final_mean, best, n_evals, eval_episodes);
    if (save) printf("saved: %s\n", save);
  }
  mbrl_a2c_free(a);
  free(evals);
  return 0;
}
