/* mbrl_check - check mbrl files for damage: each FILE is read by the library loader of its
 * kind (the one the programs use), with every check those make: the seal and each dataset's
 * digest (sealed files), the format and version, shapes, dtypes and values. Prints one line
 * per file; exit 0 when every file is sound, 1 when one is not, 2 on bad usage.
 * --values adds the SHA-256 of the numbers the loader returned (in a fixed order), which tells
 * whether two files (e.g. of two format versions) load the same numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/sha256.h"
#include "mbrl/a2c.h"
#include "mbrl/cli.h"
#include "mbrl/dataset.h"
#include "mbrl/dyn_ensemble.h"
#include "mbrl/dynamics.h"
#include "mbrl/env.h"
#include "mbrl/h5util.h"
#include "mbrl/mlp.h"
#include "mbrl/trajectory.h"

static const char *PROG = "mbrl_check";

static void usage(void) {
  printf(
      "Usage: mbrl_check [--values] [--json] FILE...\n"
      "\n"
      "Check mbrl files (datasets, dynamics checkpoints, dynamics ensembles, policies, MPC\n"
      "trajectory records, MLPs) for damage. Each FILE is read by the loader the programs use\n"
      "for its kind, with all its checks: for a sealed file (format_version 2 and later) first\n"
      "the SHA-256 of the whole file against its seal and then each dataset's SHA-256; for any\n"
      "file the format name and version, every shape, dtype and value check. A file of\n"
      "format_version 1 (an older mbrl, or h5py) has no checksums: only its structure and\n"
      "values can be checked, and it is read by a separate process first (a damaged file\n"
      "cannot crash mbrl_check).\n"
      "\n"
      "Options:\n"
      "  --values   also print the SHA-256 of the numbers the loader returned, in a fixed\n"
      "             order (equal for two files that load the same numbers, whatever their\n"
      "             format version or HDF5 layout)\n"
      "  --json     print one JSON object per file on stdout\n"
      "  --help, --version\n"
      "\n"
      "Prints `FILE: ok <format> v<version> <sealed|unsealed>: <what it holds>` on stdout per\n"
      "sound file and `mbrl_check: error: <why>` on stderr per damaged one. Exit status: 0\n"
      "every file is sound, 1 at least one is not, 2 bad usage.\n");
}

/* ---------------------------------------------------------------- the numbers read */

static void h_bytes(mbrl_sha256_ctx *h, const void *p, size_t n) { mbrl_sha256_update(h, p, n); }
static void h_str(mbrl_sha256_ctx *h, const char *s) { h_bytes(h, s, strlen(s) + 1); }
static void h_i64(mbrl_sha256_ctx *h, int64_t v) { h_bytes(h, &v, sizeof v); }

static void h_stats(mbrl_sha256_ctx *h, const mbrl_dataset_stats *s, int O, int A) {
  h_bytes(h, s->state_mean, O * sizeof(float)), h_bytes(h, s->state_std, O * sizeof(float));
  h_bytes(h, s->action_mean, A * sizeof(float)), h_bytes(h, s->action_std, A * sizeof(float));
  h_bytes(h, s->delta_state_mean, O * sizeof(float));
  h_bytes(h, s->delta_state_std, O * sizeof(float));
}

static mbrl_status h_mlp(mbrl_sha256_ctx *h, const mbrl_mlp *m) {
  const size_t n = mbrl_mlp_state_size(m);
  float *s = (float *)malloc((n ? n : 1) * sizeof(float));
  if (!s) return mbrl_set_error(MBRL_ERR_NOMEM, "out of memory");
  mbrl_status st = mbrl_mlp_get_state(m, s);
  if (!st) h_i64(h, (int64_t)n), h_bytes(h, s, n * sizeof(float));
  free(s);
  return st;
}

/* ---------------------------------------------------------------- one file per kind */

typedef struct result {
  char what[256]; /* e.g. "4000 rows of Pendulum-v1, 20 episodes" */
} result;

static mbrl_status check_dataset(const char *path, mbrl_sha256_ctx *h, result *r) {
  mbrl_dataset ds;
  mbrl_status st = mbrl_dataset_load(&ds, path);
  if (st) return st;
  const size_t n = ds.n, O = (size_t)ds.obs_dim, A = (size_t)ds.act_dim;
  h_str(h, ds.env_id), h_i64(h, (int64_t)ds.seed), h_i64(h, ds.episodes), h_i64(h, (int64_t)n);
  h_bytes(h, ds.observations, n * O * sizeof(float)), h_bytes(h, ds.actions, n * A * sizeof(float));
  h_bytes(h, ds.next_observations, n * O * sizeof(float));
  h_bytes(h, ds.rewards, n * sizeof(float));
  h_bytes(h, ds.terminals, n), h_bytes(h, ds.timeouts, n);
  h_stats(h, &ds.stats, ds.obs_dim, ds.act_dim);
  snprintf(r->what, sizeof r->what, "%zu rows of %s, %d episode(s)", n, ds.env_id, ds.episodes);
  mbrl_dataset_free(&ds);
  return MBRL_OK;
}

static mbrl_status check_dynamics(const char *path, mbrl_sha256_ctx *h, result *r) {
  mbrl_dynamics *d = NULL;
  mbrl_status st = mbrl_dynamics_load(path, MBRL_BACKEND_CPU, 2, &d);
  if (st) return st;
  h_str(h, d->env_id), h_str(h, d->config_json);
  h_stats(h, &d->stats, d->obs_dim, d->act_dim);
  st = h_mlp(h, d->mlp);
  const mbrl_mlp_config *c = &d->mlp->cfg;
  int k = snprintf(r->what, sizeof r->what, "%s model, layers", d->env_id);
  for (int i = 0; i <= c->n_layers && k > 0 && (size_t)k < sizeof r->what; ++i)
    k += snprintf(r->what + k, sizeof r->what - (size_t)k, "%s%d", i ? "-" : " ", c->sizes[i]);
  mbrl_dynamics_free(d);
  return st;
}

static mbrl_status check_ensemble(const char *path, mbrl_sha256_ctx *h, result *r) {
  mbrl_dyn_ensemble *e = NULL;
  mbrl_status st = mbrl_dyn_ensemble_load(path, MBRL_BACKEND_CPU, 2, &e);
  if (st) return st;
  const int M = e->cfg.members;
  const size_t nb = (size_t)M * e->member_buffers;
  float *p = (float *)malloc((e->n_params + nb + 1) * sizeof(float));
  if (!p) {
    mbrl_dyn_ensemble_free(e);
    return mbrl_set_error(MBRL_ERR_NOMEM, "out of memory");
  }
  st = mbrl_dyn_ensemble_get_params(e, p);
  if (!st && nb) st = mbrl_dyn_ensemble_get_buffers(e, p + e->n_params);
  if (!st) {
    h_str(h, e->env_id), h_str(h, e->config_json);
    h_stats(h, &e->stats, e->obs_dim, e->act_dim);
    h_i64(h, M), h_i64(h, e->cfg.probabilistic), h_i64(h, e->cfg.learn_logvar_bounds);
    h_bytes(h, &e->cfg.bound_coef, sizeof e->cfg.bound_coef);
    h_i64(h, e->member_cfg.n_layers), h_i64(h, e->member_cfg.batchnorm);
    for (int i = 0; i <= e->member_cfg.n_layers; ++i) h_i64(h, e->member_cfg.sizes[i]);
    h_i64(h, e->cfg.n_elites);
    for (int k = 0; k < M; ++k) h_i64(h, e->elites[k]);
    h_bytes(h, e->val_mse, (size_t)M * sizeof(double));
    h_bytes(h, e->val_nll, (size_t)M * sizeof(double));
    h_i64(h, e->num_batches_tracked);
    h_i64(h, (int64_t)(e->n_params + nb)), h_bytes(h, p, (e->n_params + nb) * sizeof(float));
  }
  free(p);
  snprintf(r->what, sizeof r->what, "%d-member %s ensemble for %s, %d elite(s)", M,
           e->cfg.probabilistic ? "probabilistic" : "deterministic", e->env_id, e->cfg.n_elites);
  mbrl_dyn_ensemble_free(e);
  return st;
}

static mbrl_status check_policy(const char *path, mbrl_sha256_ctx *h, result *r) {
  mbrl_a2c_file_info info;
  mbrl_status st = mbrl_a2c_file_info_read(path, &info);
  if (st) return st;
  const mbrl_env_spec *spec = mbrl_env_find(info.env_id);
  if (!spec || !spec->discrete)
    return mbrl_set_error(MBRL_ERR_FORMAT, "'%s' names environment '%s', which has no discrete "
                          "policy here", path, info.env_id);
  mbrl_a2c_config cfg;
  mbrl_a2c_config_init(&cfg, info.algo);
  cfg.n_envs = 1;
  cfg.n_hidden = info.n_hidden;
  for (int i = 0; i < info.n_hidden; ++i) cfg.hidden[i] = info.hidden[i];
  if ((st = mbrl_a2c_config_check(&cfg))) return st;
  mbrl_a2c *a = NULL;
  if ((st = mbrl_a2c_create(&a, &cfg, spec->id, info.models, MBRL_BACKEND_CPU))) return st;
  if ((st = mbrl_a2c_load(a, path))) {
    mbrl_a2c_free(a);
    return st;
  }
  h_str(h, spec->id), h_i64(h, info.algo), h_i64(h, info.models);
  for (int i = 0; i < a->M && !st; ++i) {
    st = h_mlp(h, a->models[i].actor);
    if (!st && a->models[i].critic) st = h_mlp(h, a->models[i].critic);
  }
  snprintf(r->what, sizeof r->what, "%d %s polic%s for %s", info.models,
           mbrl_a2c_algo_name(info.algo), info.models > 1 ? "ies" : "y", spec->id);
  mbrl_a2c_free(a);
  return st;
}

static mbrl_status check_trajectory(const char *path, mbrl_sha256_ctx *h, result *r) {
  mbrl_trajectory t;
  mbrl_status st = mbrl_trajectory_load(&t, path);
  if (st) return st;
  const size_t n = t.n, O = (size_t)t.obs_dim, A = (size_t)t.act_dim;
  h_str(h, t.env_id), h_str(h, t.model), h_i64(h, t.samples), h_i64(h, t.horizon);
  h_bytes(h, &t.gamma, sizeof t.gamma), h_i64(h, (int64_t)t.seed), h_i64(h, (int64_t)n);
  h_bytes(h, t.obs, n * O * sizeof(float)), h_bytes(h, t.act, n * A * sizeof(float));
  h_bytes(h, t.rew, n * sizeof(float)), h_bytes(h, t.pred_ret, n * sizeof(float));
  h_bytes(h, t.pred_next, n * O * sizeof(float)), h_bytes(h, t.next_obs, n * O * sizeof(float));
  h_bytes(h, t.episode, n * sizeof(int64_t)), h_bytes(h, t.step, n * sizeof(int64_t));
  h_bytes(h, t.terminal, n), h_bytes(h, t.timeout, n);
  snprintf(r->what, sizeof r->what, "%zu MPC steps of %s in %lld episode(s)", n, t.env_id,
           (long long)(n ? t.episode[n - 1] + 1 : 0));
  mbrl_trajectory_free(&t);
  return MBRL_OK;
}

static mbrl_status check_mlp(const char *path, mbrl_sha256_ctx *h, result *r) {
  mbrl_mlp *m = NULL;
  mbrl_status st = mbrl_mlp_load(path, "/network", MBRL_BACKEND_CPU, 1, &m);
  if (st) return st;
  st = h_mlp(h, m);
  snprintf(r->what, sizeof r->what, "an MLP of %d layers", m->cfg.n_layers);
  mbrl_mlp_free(m);
  return st;
}

/* ---------------------------------------------------------------- the format name */

typedef struct format_args {
  char format[64];
  int64_t version;
} format_args;

/* The root's format attributes (an mbrl_h5_read_fn: unsealed files are read in a child). */
static mbrl_status read_format(const char *path, void *ctx) {
  format_args *a = (format_args *)ctx;
  hid_t f;
  mbrl_status st = mbrl_h5_open_read(path, &f);
  if (st) return st;
  a->format[0] = '\0';
  a->version = 0;
  if (H5Aexists(f, "format") > 0)
    st = mbrl_h5_attr_read_str(f, path, "format", a->format, sizeof a->format);
  if (!st && H5Aexists(f, "format_version") > 0)
    st = mbrl_h5_attr_read_i64(f, path, "format_version", &a->version);
  H5Fclose(f);
  return st;
}

/* Check one file; prints its line; 0 sound, 1 not. */
static int check_file(const char *path, int values, int json) {
  mbrl_h5_seal_info seal;
  format_args fa;
  result r = {""};
  mbrl_sha256_ctx h;
  mbrl_sha256_init(&h);
  mbrl_status st = mbrl_h5_seal_check(path, &seal);
  if (!st) st = mbrl_h5_guarded_read(path, read_format, &fa);
  if (!st) {
    if (!strcmp(fa.format, MBRL_DATASET_FORMAT))
      st = check_dataset(path, &h, &r);
    else if (!strcmp(fa.format, MBRL_DYNAMICS_FORMAT))
      st = check_dynamics(path, &h, &r);
    else if (!strcmp(fa.format, MBRL_DYN_ENSEMBLE_FORMAT))
      st = check_ensemble(path, &h, &r);
    else if (!strcmp(fa.format, MBRL_POLICY_FORMAT))
      st = check_policy(path, &h, &r);
    else if (!strcmp(fa.format, MBRL_TRAJECTORY_FORMAT))
      st = check_trajectory(path, &h, &r);
    else if (!strcmp(fa.format, "mbrl.mlp"))
      st = check_mlp(path, &h, &r);
    else if (!fa.format[0])
      st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s' is %s HDF5 file without a format attribute: "
                          "not an mbrl file mbrl_check knows", path,
                          seal.sealed ? "a sealed" : "an");
    else
      st = mbrl_set_error(MBRL_ERR_FORMAT, "'%s' has format '%s', which mbrl_check does not know",
                          path, fa.format);
  }
  uint8_t d[MBRL_SHA256_BYTES];
  char hex[MBRL_SHA256_HEX];
  mbrl_sha256_final(&h, d);
  mbrl_sha256_hex(d, hex);
  if (json) {
    printf("{\"file\": ");
    mbrl_cli_json_string(stdout, path);
    printf(", \"ok\": %s", st ? "false" : "true");
    if (st) {
      printf(", \"error\": ");
      mbrl_cli_json_string(stdout, mbrl_last_error());
    } else {
      printf(", \"format\": ");
      mbrl_cli_json_string(stdout, fa.format);
      printf(", \"format_version\": %lld, \"sealed\": %s, \"holds\": ", (long long)fa.version,
             seal.sealed ? "true" : "false");
      mbrl_cli_json_string(stdout, r.what);
      if (values) printf(", \"values_sha256\": \"%s\"", hex);
    }
    printf("}\n");
  } else if (st) {
    fprintf(stderr, "%s: error: %s\n", PROG, mbrl_last_error());
  } else {
    printf("%s: ok %s v%lld %s: %s", path, fa.format, (long long)fa.version,
           seal.sealed ? "sealed (SHA-256 verified)" : "unsealed (no checksums to verify)", r.what);
    if (values) printf("; values sha256 %s", hex);
    printf("\n");
  }
  fflush(stdout);
  return st ? 1 : 0;
}

int main(int argc, char **argv) {
  int values = 0, json = 0, n_files = 0, bad = 0, opts = 1;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (opts && !strcmp(a, "--")) {
      opts = 0;
    } else if (opts && !strcmp(a, "--help")) {
      usage();
      return 0;
    } else if (opts && !strcmp(a, "--version")) {
      mbrl_cli_print_version(PROG);
      return 0;
    } else if (opts && !strcmp(a, "--values")) {
      values = 1;
    } else if (opts && !strcmp(a, "--json")) {
      json = 1;
    } else if (opts && a[0] == '-' && a[1]) {
      mbrl_cli_usage_error(PROG, "unknown option '%s'", a);
    }
  }
  opts = 1;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (opts && !strcmp(a, "--")) {
      opts = 0;
      continue;
    }
    if (opts && a[0] == '-' && a[1]) continue;
    ++n_files;
    bad |= check_file(a, values, json);
  }
  if (!n_files) mbrl_cli_usage_error(PROG, "no FILE given; e.g. mbrl_check data/pendulum_random.h5");
  return bad;
}
