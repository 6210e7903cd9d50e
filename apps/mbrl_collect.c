/* mbrl_collect - collect a random-policy dataset of an environment into an HDF5 file.
 *
 * Episode i (counted over the whole file, so appended episodes continue at the old count) is
 * mbrl_collect_random's episode i (mbrl/collect.h): it starts from mbrl_env_init(env, seed,
 * stream = i) + reset, Gymnasium's start state of the standard collection loop
 * (env.reset(seed=seed) for episode 0 and env.reset() for each later one; numpy's PCG64, see
 * mbrl/env.h), and its actions come from Philox(seed, subsequence = 2^32 + i): uniform in
 * [low, high] for a continuous action, uniform over {0, .., n-1} for a discrete one (not
 * Gymnasium's action_space.sample(), which has its own generator). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mbrl/cli.h"
#include "mbrl/collect.h"
#include "mbrl/dataset.h"
#include "mbrl/device.h"
#include "mbrl/env.h"
#include "mbrl/h5util.h"

static const char *PROG = "mbrl_collect";

static void usage(void) {
  char envs[2048];
  size_t k = 0;
  envs[0] = '\0';
  for (int i = 0; mbrl_env_at(i) && k < sizeof envs; ++i) {
    const mbrl_env_spec *e = mbrl_env_at(i);
    if (e->discrete)
      k += (size_t)snprintf(envs + k, sizeof envs - k, "                     %-25s %4d  %d actions\n",
                            e->id, e->max_steps, e->n_actions);
    else
      k += (size_t)snprintf(envs + k, sizeof envs - k,
                            "                     %-25s %4d  continuous [%g, %g]\n", e->id,
                            e->max_steps, (double)e->act_low[0], (double)e->act_high[0]);
  }
  printf(
      "Usage: mbrl_collect [--env ID] [--episodes N] [--max-steps T] [--seed S]\n"
      "                    [--out FILE] [--force | --append] [--json]\n"
      "\n"
      "Run a uniform random policy in an environment and write the transitions, with their\n"
      "statistics, to an HDF5 dataset (format mbrl.dataset, readable with h5py).\n"
      "\n"
      "Options:\n"
      "  --env ID         environment (default Pendulum-v1): id, time limit, actions\n"
      "%s"
      "                   a continuous action is drawn uniform in its bounds, a discrete\n"
      "                   one as a uniform action index (stored as a float)\n"
      "  --episodes N     episodes to collect, 1..1000000 (default 20)\n"
      "  --max-steps T    cap on an episode's length, 1..1000000 (default: the env's own\n"
      "                   time limit, which also ends an episode when T is larger); a\n"
      "                   capped episode ends with timeouts = 1 on its last row\n"
      "  --seed S         seed, 0..2^64-1 (default 999; with --append: the file's seed).\n"
      "                   Episode 0 starts from Gymnasium's env.reset(seed=S), episode i\n"
      "                   from the i-th env.reset() after it (numpy PCG64, as Gymnasium);\n"
      "                   actions come from Philox(S, 2^32 + i). The same seed gives the\n"
      "                   same file, bit for bit\n"
      "  --out FILE       output file (default data/<env>_random.h5, e.g.\n"
      "                   data/pendulum_random.h5, data/mountaincarcontinuous_random.h5)\n"
      "  --force          overwrite FILE if it exists\n"
      "  --append         add the episodes to the existing dataset FILE of the same env\n"
      "                   (new episodes continue the episode count, statistics are recomputed)\n"
      "  --json           print a JSON summary on stdout instead of the text summary\n"
      "  --device D       auto|cpu|cuda: accepted for uniformity; collection runs on the CPU\n"
      "  --help           show this help\n"
      "  --version        show the version\n"
      "\n"
      "Progress (one line per episode) goes to stderr, the summary to stdout.\n"
      "Exit status: 0 ok, 1 runtime failure (files), 2 bad usage.\n",
      envs);
}

int main(int argc, char **argv) {
  const char *env_id = "Pendulum-v1";
  long episodes = 20, max_steps = 0; /* 0: the env's time limit */
  uint64_t seed = 999;
  const char *out_arg = NULL;
  int force = 0, append = 0, json = 0, env_given = 0, seed_given = 0;

  mbrl_cli c;
  mbrl_cli_init(&c, PROG, argc, argv);
  while (mbrl_cli_next(&c)) {
    mbrl_cli_help_version(&c, usage);
    if (mbrl_cli_option(&c, "--env")) {
      if (!mbrl_env_find(c.value))
        mbrl_cli_usage_error(PROG, "--env: '%s' is not a known environment; use one of: %s",
                             c.value, mbrl_env_known_ids());
      env_id = c.value;
      env_given = 1;
    } else if (mbrl_cli_option(&c, "--episodes")) {
      episodes = mbrl_cli_int(&c, 1, 1000000);
    } else if (mbrl_cli_option(&c, "--max-steps")) {
      max_steps = mbrl_cli_int(&c, 1, 1000000);
    } else if (mbrl_cli_option(&c, "--seed")) {
      seed = mbrl_cli_u64(&c);
      seed_given = 1;
    } else if (mbrl_cli_option(&c, "--out")) {
      out_arg = mbrl_cli_path(&c, "data/x.h5");
    } else if (mbrl_cli_flag(&c, "--force")) {
      force = 1;
    } else if (mbrl_cli_flag(&c, "--append")) {
      append = 1;
    } else if (mbrl_cli_flag(&c, "--json")) {
      json = 1;
    } else if (mbrl_cli_option(&c, "--device")) {
      (void)mbrl_cli_device(&c); /* checked for uniformity; collection runs on the CPU */
    } else {
      mbrl_cli_unknown(&c);
    }
  }
  if (force && append)
    mbrl_cli_usage_error(PROG, "--force and --append exclude each other; use one of them");

  char out_buf[4096];
  if (!out_arg) mbrl_cli_default_out(env_id, "_random.h5", out_buf, sizeof out_buf);
  const char *out = out_arg ? out_arg : out_buf;

  /* Check the output before collecting anything. */
  mbrl_dataset old;
  memset(&old, 0, sizeof old);
  struct stat st;
  int exists = stat(out, &st) == 0;
  if (append) {
    if (!exists)
      mbrl_cli_fail(PROG, "cannot append to '%s': it does not exist (drop --append to create it)",
                    out);
    if (mbrl_dataset_load(&old, out) != MBRL_OK)
      mbrl_cli_fail(PROG, "cannot append: %s", mbrl_last_error());
    if (env_given && strcmp(old.env_id, env_id) != 0) {
      mbrl_cli_fail(PROG,
                    "cannot append %s episodes to '%s': it holds %s data (use --env %s, or "
                    "another --out file)",
                    env_id, out, old.env_id, old.env_id);
    }
    if (!env_given) env_id = mbrl_env_find(old.env_id)->id;
    if (!seed_given) seed = old.seed;
  } else if (exists && !force) {
    mbrl_cli_fail(PROG, "'%s' already exists; pass --force to overwrite it or --append to add "
                  "episodes to it", out);
  }
  if (mbrl_h5_check_writable(out) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());

  const mbrl_env_spec *spec = mbrl_env_find(env_id);
  if (max_steps == 0) max_steps = spec->max_steps;
  mbrl_dataset ds;
  if (mbrl_dataset_init(&ds, spec->id, spec->obs_dim, spec->act_dim) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  ds.seed = append ? old.seed : seed;
  uint64_t first = append ? (uint64_t)old.episodes : 0;

  double ret_sum = 0.0, ret_min = 0.0, ret_max = 0.0;
  for (long k = 0; k < episodes; ++k) {
    const uint64_t ep = first + (uint64_t)k;
    double ret;
    long t;
    if (mbrl_collect_random(&ds, spec->id, 1, max_steps, seed, ep, &ret, &t) != MBRL_OK)
      mbrl_cli_fail(PROG, "%s", mbrl_last_error());
    fprintf(stderr, "Episode %llu finished, reward: %.3f, length: %ld\n", (unsigned long long)ep,
            ret, t);
    ret_sum += ret;
    if (k == 0 || ret < ret_min) ret_min = ret;
    if (k == 0 || ret > ret_max) ret_max = ret;
  }
  size_t new_rows = ds.n;

  char created_by[64];
  snprintf(created_by, sizeof created_by, "%s %s", PROG, MBRL_VERSION);
  if (append) {
    if (mbrl_dataset_extend(&old, &ds) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());
    mbrl_dataset_free(&ds);
    ds = old;
  }
  if (mbrl_dataset_compute_stats(&ds) != MBRL_OK || mbrl_dataset_save(&ds, out, created_by) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());

  const mbrl_dataset_stats *s = &ds.stats;
  const int O = ds.obs_dim, A = ds.act_dim;
  const struct {
    const char *key, *label;
    const float *v;
    int n;
  } stat_rows[6] = {{"state_mean", "The state mean:", s->state_mean, O},
                    {"state_std", "The state std:", s->state_std, O},
                    {"action_mean", "The action mean:", s->action_mean, A},
                    {"action_std", "The action std:", s->action_std, A},
                    {"delta_state_mean", "The delta state mean:", s->delta_state_mean, O},
                    {"delta_state_std", "The delta state std:", s->delta_state_std, O}};
  if (json) {
    printf("{\"env_id\": ");
    mbrl_cli_json_string(stdout, ds.env_id);
    printf(", \"episodes\": %d, \"new_episodes\": %ld, \"transitions\": %zu, "
           "\"new_transitions\": %zu, \"seed\": %llu, \"max_steps\": %ld, \"append\": %s, \"out\": ",
           ds.episodes, episodes, ds.n, new_rows, (unsigned long long)seed, max_steps,
           append ? "true" : "false");
    mbrl_cli_json_string(stdout, out);
    printf(", \"episode_return\": {\"mean\": %.9g, \"min\": %.9g, \"max\": %.9g}, \"stats\": {",
           ret_sum / (double)episodes, ret_min, ret_max);
    for (int k = 0; k < 6; ++k) {
      printf("%s\"%s\": ", k ? ", " : "", stat_rows[k].key);
      mbrl_cli_print_floats(stdout, stat_rows[k].v, stat_rows[k].n, 9); /* round-trips */
    }
    printf("}}\n");
  } else {
    printf("%s %s: %s, %d episodes, seed %llu\n", append ? "Appended to" : "Wrote", out,
           ds.env_id, ds.episodes, (unsigned long long)ds.seed);
    for (int k = 0; k < 6; ++k) {
      printf("%-22s", stat_rows[k].label);
      mbrl_cli_print_floats(stdout, stat_rows[k].v, stat_rows[k].n, 6);
      putchar('\n');
    }
    printf("Episode return: mean %.3f, min %.3f, max %.3f (over the %ld new episodes)\n",
           ret_sum / (double)episodes, ret_min, ret_max, episodes);
    printf("Number of transitions: %zu\n", ds.n);
  }
  mbrl_dataset_free(&ds);
  return 0;
}
