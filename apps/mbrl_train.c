/* mbrl_train - train the dynamics model of seed 003 on a random-policy dataset and write the
 * checkpoint (format mbrl.dynamics; loads into the seed's PyTorch Model).
 *
 * Seeds: --seed S gives the weight init Philox(S), the episode split Philox(S ^ SPLIT_KEY, 0)
 * and the minibatch order Philox(S ^ SAMPLER_KEY, epoch). Statistics for the normalizer are
 * computed on the training episodes only (the validation episodes stay unseen).
 * A second mode, --predict MODEL, writes a checkpoint's predictions for a file of
 * (observations, actions) (used by tests/py_checkpoint_torch.py to compare with PyTorch).
 * --ensemble M / --probabilistic train an ensemble (mbrl/dyn_ensemble.h) instead of the single
 * model; member m's init and minibatches come from mbrl_dyn_ensemble_member_seed(S, m) and its
 * bootstrap resample from Philox(S ^ SAMPLER_KEY, 2^40 + m). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mbrl/cli.h"
#include "mbrl/dataset.h"
#include "mbrl/device.h"
#include "mbrl/dynamics.h"
#include "mbrl/dyn_ensemble.h"
#include "mbrl/env.h"
#include "mbrl/h5util.h"
#include "mbrl/log.h"

static const char *PROG = "mbrl_train";
static const char *cpu_kernels = "?"; /* the CPU kernel path (mbrl/cpu.h), set in main */

#define DEFAULT_STEPS 5000
#define SPLIT_KEY 0x9e3779b97f4a7c15ULL
#define SAMPLER_KEY 0xd1b54a32d192ed03ULL
#define LOG_EVERY 10 /* train_model/loss is logged every LOG_EVERY steps */
#define OPEN_LOOP_K 15

static void usage(void) {
  printf(
      "Usage: mbrl_train [--data FILE] [--out FILE] [--steps N] [--batch B] [--lr LR]\n"
      "                  [--beta1 B1] [--beta2 B2] [--hidden W1,W2,...] [--no-batchnorm]\n"
      "                  [--val-frac F] [--seed S] [--device auto|cpu|cuda] [--logdir DIR]\n"
      "                  [--eval-every N] [--checkpoint-every N] [--json] [--drop-nonfinite]\n"
      "                  [--force] [--ensemble M] [--probabilistic] [--elites K]\n"
      "                  [--no-bootstrap] [--fixed-logvar-bounds]\n"
      "       mbrl_train --predict MODEL --data IN --out OUT [--device D] [--force]\n"
      "\n"
      "Train the dynamics model of seed 003 (input concat(normalize(s), normalize(a));\n"
      "Linear-BatchNorm-ReLU per hidden layer, then Linear; it predicts normalize(s' - s))\n"
      "with Adam and the MSE on normalized deltas, on minibatches drawn without replacement\n"
      "per epoch. Whole episodes are held out for validation. At the end it prints the train\n"
      "and validation loss (normalized MSE, eval mode) and the 1-step and %d-step open-loop\n"
      "RMSE per state dimension in raw units on the validation episodes, and writes the\n"
      "checkpoint (format mbrl.dynamics: the PyTorch state_dict names of the seed's Model, the\n"
      "normalizer statistics and the training configuration).\n"
      "\n"
      "Options:\n"
      "  --data FILE       mbrl.dataset file (default data/pendulum_random.h5)\n"
      "  --out FILE        checkpoint to write (default data/<env>_model.h5, e.g.\n"
      "                    data/pendulum_model.h5); written atomically\n"
      "  --force           overwrite FILE if it exists (a failed run never touches it, unless\n"
      "                    --checkpoint-every wrote it)\n"
      "  --steps N         training steps, 1..100000000 (default %d: the validation loss of\n"
      "                    the default 4000-transition Pendulum dataset has flattened by then)\n"
      "  --batch B         minibatch size, 2..65536 and at most the training rows (default 128)\n"
      "  --lr LR           Adam learning rate (default 0.01)\n"
      "  --beta1 B1        Adam beta1 (default 0.99, the seed's)\n"
      "  --beta2 B2        Adam beta2 (default 0.999)\n"
      "  --hidden LIST     hidden widths, 1..%d comma-separated integers (default 64,64)\n"
      "  --no-batchnorm    no BatchNorm1d after the hidden Linear layers\n"
      "  --val-frac F      fraction of the episodes held out for validation, in [0, 0.9]\n"
      "                    (default 0.1; 0 trains on everything and reports no validation)\n"
      "  --seed S          seed, 0..2^64-1 (default 0): weight init, episode split, minibatch\n"
      "                    order; the same seed repeats a run bit for bit on the same backend\n"
      "  --device D        auto|cpu|cuda (default auto: CUDA when a GPU is present)\n"
      "  --logdir DIR      write DIR/metrics.csv and a TensorBoard event file (scalars\n"
      "                    train_model/loss every %d steps, val/loss at every evaluation)\n"
      "  --eval-every N    validation loss every N steps for the log and progress line\n"
      "                    (default 500)\n"
      "  --checkpoint-every N  write the checkpoint to --out every N steps as well (each one\n"
      "                    complete, replacing the last); if the loss turns NaN or Inf the run\n"
      "                    stops and --out holds the last weights whose losses were finite\n"
      "                    (default: write only at the end; a failed run writes nothing)\n"
      "  --drop-nonfinite  drop rows holding NaN or Inf (default: refuse such a dataset); a\n"
      "                    dropped row ends its episode\n"
      "  --json            print one JSON object on stdout instead of the text summary\n"
      "  --eval MODEL      do not train: evaluate the checkpoint MODEL on every episode of the\n"
      "                    dataset --data (e.g. fresh episodes from mbrl_collect --seed S): loss\n"
      "                    (normalized MSE) and 1-step and %d-step open-loop RMSE\n"
      "  --predict MODEL   do not train: read /observations (N,obs) and /actions (N,act) from\n"
      "                    --data (any HDF5 file holding them as float32) and write to --out\n"
      "                    /next_observations (N,obs) and /delta_normalized (N,obs) as MODEL\n"
      "                    predicts them (eval mode; an ensemble: the mean over its elites, and\n"
      "                    /member_mean (M,N,obs), /member_logvar (M,N,obs) per member)\n"
      "\n"
      "Ensembles (PETS; mbrl-lib's GaussianMLP semantics; the single model stays the default):\n"
      "  --ensemble M      train M members (1..%d) of the model above as one batched\n"
      "                    computation, each on its own bootstrapped minibatches of --batch\n"
      "                    rows; writes format mbrl.dyn_ensemble (default --out\n"
      "                    data/<env>_ensemble.h5)\n"
      "  --probabilistic   members predict the mean and log-variance of the normalized delta\n"
      "                    and train on the Gaussian NLL, the log-variance soft-clamped between\n"
      "                    learned bounds (init 0.5 and -10, penalty 0.01); without --ensemble\n"
      "                    it means --ensemble 5\n"
      "  --elites K        members kept for aggregate predictions: the K with the lowest\n"
      "                    validation MSE (1..M, default M)\n"
      "  --no-bootstrap    every member draws from all training rows (own order) instead of\n"
      "                    its own resample with replacement\n"
      "  --fixed-logvar-bounds  keep the log-variance bounds at their init\n"
      "  For ensembles the losses above are the summed member losses (NLL or MSE); the\n"
      "  validation loss is the normalized MSE of the elites' mean, printed with each member's\n"
      "  MSE and NLL (mean of (mu - y)^2 / var + log var, mbrl-lib's form); the open-loop RMSE\n"
      "  follows the elites' mean.\n"
      "  --help            show this help\n"
      "  --version         show the version\n"
      "\n"
      "Progress goes to stderr (a live line on a terminal, a line every 10 s otherwise), the\n"
      "summary to stdout. Exit status: 0 ok, 1 runtime failure (files, a loss that turned\n"
      "NaN, no GPU for --device cuda), 2 bad usage.\n"
      "\n"
      "Open-loop RMSE: from EVERY row t of an episode with k rows left (t..t+k-1), the model\n"
      "is fed its own predictions with the recorded actions a_t..a_{t+k-1}; the k-th\n"
      "prediction is compared with the recorded s_{t+k}. (all) is sqrt(mean over dims of\n"
      "RMSE^2).\n",
      OPEN_LOOP_K, DEFAULT_STEPS, MBRL_DYNAMICS_MAX_HIDDEN, LOG_EVERY, OPEN_LOOP_K,
      MBRL_DYN_ENSEMBLE_MAX_MEMBERS);
}

/* The env's name for observation value j (its spec's obs_names), else "s<j>". */
static const char *dim_name(const char *env_id, int j, char *buf, size_t cap) {
  const mbrl_env_spec *spec = mbrl_env_find(env_id);
  if (spec && j < spec->obs_dim && spec->obs_names[j]) return spec->obs_names[j];
  snprintf(buf, cap, "s%d", j);
  return buf;
}

static int row_finite(const float *x, int w) {
  for (int j = 0; j < w; ++j)
    if (!isfinite(x[j])) return 0;
  return 1;
}

/* Row i's first non-finite array name, or NULL when the row is finite. */
static const char *row_bad(const mbrl_dataset *ds, size_t i) {
  const int O = ds->obs_dim, A = ds->act_dim;
  if (!row_finite(ds->observations + i * (size_t)O, O)) return "observations";
  if (!row_finite(ds->actions + i * (size_t)A, A)) return "actions";
  if (!row_finite(ds->next_observations + i * (size_t)O, O)) return "next_observations";
  if (!isfinite(ds->rewards[i])) return "rewards";
  return NULL;
}

/* out = rows idx[0..k) of src (ascending, whole episodes); a row that ended its episode in
 * src (or was src's last row) keeps ending one: flags are set to timeout if neither is. */
static mbrl_status subset(const mbrl_dataset *src, const size_t *idx, size_t k,
                          mbrl_dataset *out) {
  mbrl_status st = mbrl_dataset_init(out, src->env_id, src->obs_dim, src->act_dim);
  if (st != MBRL_OK || (st = mbrl_dataset_reserve(out, k ? k : 1)) != MBRL_OK) return st;
  const int O = src->obs_dim, A = src->act_dim;
  for (size_t r = 0; r < k; ++r) {
    const size_t i = idx[r];
    const int last = i + 1 == src->n || (r + 1 < k && idx[r + 1] != i + 1);
    int term = src->terminals[i], tout = src->timeouts[i];
    if (last && !term) tout = 1;
    if ((st = mbrl_dataset_add(out, src->observations + i * (size_t)O, src->actions + i * (size_t)A,
                               src->next_observations + i * (size_t)O, src->rewards[i], term,
                               tout)) != MBRL_OK)
      return st;
  }
  out->seed = src->seed;
  out->episodes = (int)mbrl_dataset_count_episodes(out);
  return MBRL_OK;
}

static double overall(const double *rmse, int n) {
  double s = 0.0;
  for (int j = 0; j < n; ++j) s += rmse[j] * rmse[j];
  return sqrt(s / n);
}

/* JSON members `, "rmse_<k>step": [...], "rmse_<k>step_all": x` (both null when r is NULL). */
static void json_rmse(int k, const double *r, int O) {
  if (!r) {
    printf(", \"rmse_%dstep\": null, \"rmse_%dstep_all\": null", k, k);
    return;
  }
  printf(", \"rmse_%dstep\": ", k);
  mbrl_cli_print_doubles(stdout, r, O, 9);
  printf(", \"rmse_%dstep_all\": %.9g", k, overall(r, O));
}

/* The text table of 1-step and OPEN_LOOP_K-step RMSE (rk NULL: no `what` has that many steps). */
static void text_rmse(const char *heading, const char *env_id, int O, const double *r1,
                      const double *rk, const char *what) {
  char nb[16];
  printf("%s  [", heading);
  for (int j = 0; j < O; ++j) printf("%s%s", j ? ", " : "", dim_name(env_id, j, nb, sizeof nb));
  printf("] (all)\n  1-step:  ");
  mbrl_cli_print_doubles(stdout, r1, O, 5);
  printf(" (%.5g)\n", overall(r1, O));
  if (rk) {
    printf("  %d-step: ", OPEN_LOOP_K);
    mbrl_cli_print_doubles(stdout, rk, O, 5);
    printf(" (%.5g)\n", overall(rk, O));
  } else {
    printf("  %d-step: n/a (no %s has %d steps)\n", OPEN_LOOP_K, what, OPEN_LOOP_K);
  }
}

/* Fail unless `out` can be written: it must not exist (unless force) and its directory must
 * be writable. Checked before any work, so a bad --out costs nothing. */
/* The checkpoint's config attribute: the JSON prefix `cfg` ("": none) closed with the steps
 * trained and, when the run stopped early, why. */
static mbrl_status set_config(mbrl_dynamics *d, const char *cfg, long trained, const char *stop) {
  if (!cfg[0]) return MBRL_OK;
  char buf[2200];
  snprintf(buf, sizeof buf, "%s, \"trained_steps\": %ld%s%s%s}", cfg, trained,
           stop ? ", \"stopped\": \"" : "", stop ? stop : "", stop ? "\"" : "");
  return mbrl_dynamics_set_config(d, buf);
}

/* Are all of m's state values (host copy `state`) finite? */
static int state_finite(const float *state, const mbrl_mlp *m) {
  const size_t n = mbrl_mlp_state_size(m);
  for (size_t i = 0; i < n; ++i)
    if (!isfinite(state[i])) return 0;
  return 1;
}

/* The ensemble's config attribute, as set_config does for the single model. */
static mbrl_status ens_set_config(mbrl_dyn_ensemble *e, const char *cfg, long trained,
                                  const char *stop) {
  if (!cfg[0]) return MBRL_OK;
  char buf[2200];
  snprintf(buf, sizeof buf, "%s, \"trained_steps\": %ld%s%s%s}", cfg, trained,
           stop ? ", \"stopped\": \"" : "", stop ? stop : "", stop ? "\"" : "");
  return mbrl_dyn_ensemble_set_config(e, buf);
}

/* What an ensemble checkpoint holds, in host memory: every parameter (log-variance bounds
 * included), the BN running statistics and the BN step count. */
/* Steps of the next training chunk from `done`: at most `chunk`, ending at the next multiple
 * of eval_every and (when > 0) of checkpoint_every, and at `steps`. */
static int chunk_steps(long done, long steps, int chunk, long eval_every, long checkpoint_every) {
  int n = (int)(steps - done < chunk ? steps - done : chunk);
  const long next_eval = (done / eval_every + 1) * eval_every;
  if (next_eval > done && next_eval - done < n) n = (int)(next_eval - done);
  if (checkpoint_every > 0) {
    const long next_ckpt = (done / checkpoint_every + 1) * checkpoint_every;
    if (next_ckpt > done && next_ckpt - done < n) n = (int)(next_ckpt - done);
  }
  return n;
}

typedef struct ens_state {
  float *params, *buffers;
  long long nbt;
} ens_state;

static int ens_state_alloc(ens_state *s, const mbrl_dyn_ensemble *e) {
  s->params = malloc(e->n_params * sizeof(float));
  s->buffers = malloc(((size_t)e->cfg.members * e->member_buffers + 1) * sizeof(float));
  s->nbt = 0;
  return s->params && s->buffers;
}

static void ens_state_free(ens_state *s) {
  free(s->params), free(s->buffers);
  s->params = s->buffers = NULL;
}

/* Copy e's state into *good when every value is finite (via *scratch; the two swap): 1 when
 * taken, 0 when e holds a non-finite value (*good keeps the last finite state). */
static int ens_state_take(ens_state *good, ens_state *scratch, const mbrl_dyn_ensemble *e) {
  const size_t nb = (size_t)e->cfg.members * e->member_buffers;
  if (mbrl_dyn_ensemble_get_params(e, scratch->params) != MBRL_OK ||
      (nb && mbrl_dyn_ensemble_get_buffers(e, scratch->buffers) != MBRL_OK))
    return 0;
  for (size_t i = 0; i < e->n_params; ++i)
    if (!isfinite(scratch->params[i])) return 0;
  for (size_t i = 0; i < nb; ++i)
    if (!isfinite(scratch->buffers[i])) return 0;
  scratch->nbt = e->num_batches_tracked;
  const ens_state t = *good;
  *good = *scratch;
  *scratch = t;
  return 1;
}

static mbrl_status ens_state_restore(mbrl_dyn_ensemble *e, const ens_state *s) {
  mbrl_status st = mbrl_dyn_ensemble_set_params(e, s->params);
  if (!st && e->member_buffers) st = mbrl_dyn_ensemble_set_buffers(e, s->buffers);
  if (!st) e->num_batches_tracked = s->nbt;
  return st;
}

/* Rank the elites on `rank_on` and write the checkpoint (config: `trained` steps, `stop`). */
static mbrl_status ens_checkpoint(mbrl_dyn_ensemble *e, const mbrl_dataset *rank_on,
                                  const char *cfg, long trained, const char *stop,
                                  const char *out) {
  mbrl_status st = mbrl_dyn_ensemble_select_elites(e, rank_on);
  if (!st) st = ens_set_config(e, cfg, trained, stop);
  if (!st) st = mbrl_dyn_ensemble_save(e, out);
  return st;
}

static void check_out(const char *out, int force) {
  struct stat sb;
  if (stat(out, &sb) == 0 && !force)
    mbrl_cli_fail(PROG, "'%s' already exists; pass --force to overwrite it", out);
  if (mbrl_h5_check_writable(out) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());
}

/* ---------------------------------------------------------------- --predict mode */

typedef struct predict_input {
  int O, A;         /* the model's widths */
  size_t n;         /* rows read */
  float *obs, *act; /* (n, O), (n, A) */
} predict_input;

/* Read /observations and /actions of any HDF5 file (an mbrl_h5_read_fn). */
static mbrl_status read_predict_input(const char *path, void *ctx) {
  predict_input *in = (predict_input *)ctx;
  in->n = 0, in->obs = in->act = NULL;
  hid_t f;
  mbrl_status st = mbrl_h5_open_read(path, &f);
  if (st != MBRL_OK) return st;
  hsize_t od[2] = {0, (hsize_t)in->O}, ad[2] = {0, (hsize_t)in->A};
  if ((st = mbrl_h5_check_f32(f, path, "observations", 2, od)) == MBRL_OK &&
      (st = mbrl_h5_check_f32(f, path, "actions", 2, ad)) == MBRL_OK &&
      (od[0] != ad[0] || od[0] == 0 || od[0] > 100000000))
    st = mbrl_set_error(MBRL_ERR_FORMAT,
                        "'%s': /observations has %llu rows and /actions %llu; they must agree",
                        path, (unsigned long long)od[0], (unsigned long long)ad[0]);
  const size_t N = (size_t)od[0];
  if (st == MBRL_OK) {
    in->obs = malloc(N * (size_t)in->O * sizeof(float));
    in->act = malloc(N * (size_t)in->A * sizeof(float));
    if (!in->obs || !in->act) st = mbrl_set_error(MBRL_ERR_NOMEM, "out of memory for %zu rows", N);
  }
  if (st == MBRL_OK && (st = mbrl_h5_read_f32(f, path, "observations", in->obs)) == MBRL_OK)
    st = mbrl_h5_read_f32(f, path, "actions", in->act);
  H5Fclose(f);
  if (st != MBRL_OK) {
    free(in->obs), free(in->act);
    in->obs = in->act = NULL;
    return st;
  }
  in->n = N;
  return MBRL_OK;
}

static int predict_mode(const char *model_path, const char *in_path, const char *out_path,
                        mbrl_backend backend, int force) {
  check_out(out_path, force);
  mbrl_dynamics *d = NULL;
  if (mbrl_dynamics_load(model_path, backend, 4096, &d) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  predict_input in = {d->obs_dim, d->act_dim, 0, NULL, NULL};
  if (mbrl_h5_guarded_read(in_path, read_predict_input, &in) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  const size_t N = in.n, O = (size_t)d->obs_dim;
  float *obs = in.obs, *act = in.act;
  float *next = malloc(N * O * sizeof(float)), *dn = malloc(N * O * sizeof(float));
  if (!next || !dn) mbrl_cli_fail(PROG, "out of memory for %zu rows", N);
  if (mbrl_dynamics_predict_next(d, obs, act, (int)N, next) != MBRL_OK ||
      mbrl_dynamics_predict_delta_normalized(d, obs, act, (int)N, dn) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  mbrl_h5_writer w;
  if (mbrl_h5_writer_open(&w, out_path) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  hsize_t dims[2] = {(hsize_t)N, (hsize_t)O};
  mbrl_status st = mbrl_h5_write_f32(w.file, "next_observations", 2, dims, next);
  if (st == MBRL_OK) st = mbrl_h5_write_f32(w.file, "delta_normalized", 2, dims, dn);
  if (mbrl_h5_writer_finish(&w, st) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  fprintf(stderr, "%s: wrote %zu predictions of %s to %s\n", PROG, N, model_path, out_path);
  free(obs), free(act), free(next), free(dn);
  mbrl_dynamics_free(d);
  return 0;
}

/* ---------------------------------------------------------------- --eval mode */

static int eval_mode(const char *model_path, const char *data_path, mbrl_backend backend,
                     int json) {
  mbrl_dynamics *d = NULL;
  if (mbrl_dynamics_load(model_path, backend, 4096, &d) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  mbrl_dataset ds;
  if (mbrl_dataset_load(&ds, data_path) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  if (strcmp(ds.env_id, d->env_id) != 0)
    mbrl_cli_fail(PROG, "'%s' holds %s data but the model '%s' is for %s", data_path, ds.env_id,
                  model_path, d->env_id);
  const int O = d->obs_dim;
  double loss, r1[MBRL_MAX_DIM], rk[MBRL_MAX_DIM];
  const int have_k = mbrl_dynamics_open_loop_starts(&ds, OPEN_LOOP_K) > 0;
  if (mbrl_dynamics_eval_mse(d, &ds, &loss) != MBRL_OK ||
      mbrl_dynamics_open_loop_rmse(d, &ds, 1, r1) != MBRL_OK ||
      (have_k && mbrl_dynamics_open_loop_rmse(d, &ds, OPEN_LOOP_K, rk) != MBRL_OK))
    mbrl_cli_fail(PROG, "evaluation failed: %s", mbrl_last_error());
  const size_t episodes = mbrl_dataset_count_episodes(&ds);
  if (json) {
    printf("{\"env_id\": ");
    mbrl_cli_json_string(stdout, ds.env_id);
    printf(", \"model\": ");
    mbrl_cli_json_string(stdout, model_path);
    printf(", \"data\": ");
    mbrl_cli_json_string(stdout, data_path);
    printf(", \"rows\": %zu, \"episodes\": %zu, \"device\": \"%s\", \"cpu_kernels\": \"%s\", "
           "\"loss\": %.9g",
           ds.n, episodes, mbrl_backend_name(backend), cpu_kernels, loss);
    json_rmse(1, r1, O);
    json_rmse(OPEN_LOOP_K, have_k ? rk : NULL, O);
    printf("}\n");
  } else {
    printf("%s on %s (%zu transitions, %zu episodes):\n", model_path, data_path, ds.n, episodes);
    printf("loss (normalized MSE): %.6f\n", loss);
    text_rmse("open-loop RMSE, raw units", ds.env_id, O, r1, have_k ? rk : NULL, "episode");
  }
  mbrl_dataset_free(&ds);
  mbrl_dynamics_free(d);
  return 0;
}

/* ---------------------------------------------------------------- ensembles */

/* Options of the ensemble path (--ensemble and friends). */
typedef struct ens_opts {
  int members;       /* 0: single model */
  int probabilistic;
  int elites;        /* 0: all */
  int bootstrap;
  int learn_bounds;
} ens_opts;

/* --predict for an ensemble checkpoint: the elites' mean and every member's outputs. */
static int ens_predict_mode(const char *model_path, const char *in_path, const char *out_path,
                            mbrl_backend backend, int force) {
  check_out(out_path, force);
  mbrl_dyn_ensemble *e = NULL;
  if (mbrl_dyn_ensemble_load(model_path, backend, 4096, &e) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  predict_input in = {e->obs_dim, e->act_dim, 0, NULL, NULL};
  if (mbrl_h5_guarded_read(in_path, read_predict_input, &in) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  const size_t N = in.n, O = (size_t)e->obs_dim;
  const size_t M = (size_t)e->cfg.members;
  float *obs = in.obs, *act = in.act;
  float *next = malloc(N * O * sizeof(float)), *dn = malloc(N * O * sizeof(float));
  float *mm = malloc(M * N * O * sizeof(float)), *ml = malloc(M * N * O * sizeof(float));
  if (!next || !dn || !mm || !ml) mbrl_cli_fail(PROG, "out of memory for %zu rows", N);
  const int prob = e->cfg.probabilistic;
  if (mbrl_dyn_ensemble_predict_next(e, obs, act, NULL, (int)N, 0, 0, next) != MBRL_OK ||
      mbrl_dyn_ensemble_predict(e, obs, act, NULL, (int)N, dn, NULL) != MBRL_OK ||
      mbrl_dyn_ensemble_predict_all(e, obs, act, (int)N, mm, prob ? ml : NULL) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  mbrl_h5_writer w;
  if (mbrl_h5_writer_open(&w, out_path) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  hsize_t dims[2] = {(hsize_t)N, (hsize_t)O}, mdims[3] = {(hsize_t)M, (hsize_t)N, (hsize_t)O};
  mbrl_status st = mbrl_h5_write_f32(w.file, "next_observations", 2, dims, next);
  if (st == MBRL_OK) st = mbrl_h5_write_f32(w.file, "delta_normalized", 2, dims, dn);
  if (st == MBRL_OK) st = mbrl_h5_write_f32(w.file, "member_mean", 3, mdims, mm);
  if (st == MBRL_OK && prob) st = mbrl_h5_write_f32(w.file, "member_logvar", 3, mdims, ml);
  if (mbrl_h5_writer_finish(&w, st) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  fprintf(stderr, "%s: wrote %zu predictions of the %zu-member ensemble %s to %s\n", PROG, N, M,
          model_path, out_path);
  free(obs), free(act), free(next), free(dn), free(mm), free(ml);
  mbrl_dyn_ensemble_free(e);
  return 0;
}

/* JSON array of M doubles (null for NaN). */
static void json_doubles_or_null(const double *v, int M) {
  printf("[");
  for (int m = 0; m < M; ++m) {
    if (isfinite(v[m]))
      printf("%s%.9g", m ? ", " : "", v[m]);
    else
      printf("%snull", m ? ", " : "");
  }
  printf("]");
}

/* The per-member table, the elites' mean MSE and the open-loop RMSE, text or JSON members
 * (JSON: without the surrounding braces). */
static void ens_report(const mbrl_dyn_ensemble *e, const double *mse, const double *nll,
                       double ens_mse, const double *r1, const double *rk, const char *env_id,
                       int json, const char *heading) {
  const int M = e->cfg.members, O = e->obs_dim;
  double elite_nll = 0.0;
  for (int k = 0; k < e->cfg.n_elites; ++k) elite_nll += nll ? nll[e->elites[k]] : 0.0;
  elite_nll /= e->cfg.n_elites;
  if (json) {
    printf(", \"ensemble\": %d, \"probabilistic\": %s, \"elites\": [", M,
           e->cfg.probabilistic ? "true" : "false");
    for (int k = 0; k < e->cfg.n_elites; ++k) printf("%s%d", k ? ", " : "", e->elites[k]);
    printf("], \"member_mse\": ");
    json_doubles_or_null(mse, M);
    printf(", \"member_nll\": ");
    if (nll)
      json_doubles_or_null(nll, M);
    else
      printf("null");
    printf(", \"ensemble_mse\": %.9g, \"elites_nll\": ", ens_mse);
    if (nll) printf("%.9g", elite_nll); else printf("null");
    json_rmse(1, r1, O);
    json_rmse(OPEN_LOOP_K, rk, O);
    return;
  }
  printf("%s\n  member  MSE (normalized)  NLL        elite rank\n", heading);
  for (int m = 0; m < M; ++m) {
    int rank = -1;
    for (int k = 0; k < e->cfg.n_elites; ++k)
      if (e->elites[k] == m) rank = k + 1;
    printf("  %-6d  %-16.6f  ", m, mse[m]);
    if (nll) printf("%-9.4f  ", nll[m]); else printf("%-9s  ", "-");
    if (rank > 0) printf("%d\n", rank); else printf("-\n");
  }
  printf("  elites' mean: MSE %.6f", ens_mse);
  if (nll) printf(", mean NLL of the elites %.4f", elite_nll);
  printf("\n");
  if (r1) text_rmse("open-loop RMSE of the elites' mean, raw units", env_id, O, r1, rk, "episode");
}

/* --eval for an ensemble checkpoint. */
static int ens_eval_mode(const char *model_path, const char *data_path, mbrl_backend backend,
                         int json) {
  mbrl_dyn_ensemble *e = NULL;
  if (mbrl_dyn_ensemble_load(model_path, backend, 4096, &e) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  mbrl_dataset ds;
  if (mbrl_dataset_load(&ds, data_path) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  if (strcmp(ds.env_id, e->env_id) != 0)
    mbrl_cli_fail(PROG, "'%s' holds %s data but the model '%s' is for %s", data_path, ds.env_id,
                  model_path, e->env_id);
  double mse[MBRL_DYN_ENSEMBLE_MAX_MEMBERS], nll[MBRL_DYN_ENSEMBLE_MAX_MEMBERS], ens;
  double r1[MBRL_MAX_DIM], rk[MBRL_MAX_DIM];
  const int prob = e->cfg.probabilistic;
  const int have_k = mbrl_dynamics_open_loop_starts(&ds, OPEN_LOOP_K) > 0;
  if (mbrl_dyn_ensemble_evaluate(e, &ds, mse, prob ? nll : NULL, &ens) != MBRL_OK ||
      mbrl_dyn_ensemble_open_loop_rmse(e, &ds, 1, r1) != MBRL_OK ||
      (have_k && mbrl_dyn_ensemble_open_loop_rmse(e, &ds, OPEN_LOOP_K, rk) != MBRL_OK))
    mbrl_cli_fail(PROG, "evaluation failed: %s", mbrl_last_error());
  const size_t episodes = mbrl_dataset_count_episodes(&ds);
  if (json) {
    printf("{\"env_id\": ");
    mbrl_cli_json_string(stdout, ds.env_id);
    printf(", \"model\": ");
    mbrl_cli_json_string(stdout, model_path);
    printf(", \"data\": ");
    mbrl_cli_json_string(stdout, data_path);
    printf(", \"rows\": %zu, \"episodes\": %zu, \"device\": \"%s\", \"loss\": %.9g", ds.n,
           episodes, mbrl_backend_name(backend), ens);
    ens_report(e, mse, prob ? nll : NULL, ens, r1, have_k ? rk : NULL, ds.env_id, 1, NULL);
    printf("}\n");
  } else {
    printf("%s on %s (%zu transitions, %zu episodes):\n", model_path, data_path, ds.n, episodes);
    printf("loss (normalized MSE of the elites' mean): %.6f\n", ens);
    ens_report(e, mse, prob ? nll : NULL, ens, r1, have_k ? rk : NULL, ds.env_id, 0,
               "members (normalized delta, eval mode):");
  }
  mbrl_dataset_free(&ds);
  mbrl_dyn_ensemble_free(e);
  return 0;
}

/* Train, evaluate and save an ensemble (the data is split and the stats made by main). */
static int train_ensemble(const ens_opts *eo, const mbrl_dataset *all, const mbrl_dataset *train,
                          const mbrl_dataset *val, const mbrl_dataset_split *sp,
                          const mbrl_dataset_stats *stats, const char *data_path, const char *out,
                          const char *logdir, long steps, long batch, double lr, double beta1,
                          double beta2, double val_frac, int n_hidden, const long *hidden_l,
                          int batchnorm, uint64_t seed, mbrl_backend backend, long eval_every,
                          long checkpoint_every, int json, size_t n_bad) {
  mbrl_dyn_ensemble_config c;
  mbrl_dyn_ensemble_config_init(&c);
  c.members = eo->members;
  c.probabilistic = eo->probabilistic;
  c.n_hidden = n_hidden;
  for (int i = 0; i < n_hidden; ++i) c.hidden[i] = (int)hidden_l[i];
  c.batchnorm = batchnorm;
  c.learn_logvar_bounds = eo->learn_bounds;
  c.n_elites = eo->elites;
  mbrl_dyn_ensemble *e = NULL;
  const int max_batch = batch > 1024 ? (int)batch : 1024; /* rows per member per forward */
  if (mbrl_dyn_ensemble_create(&e, all->env_id, all->obs_dim, all->act_dim, stats, &c, backend,
                               max_batch, seed) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  const int M = e->cfg.members, prob = e->cfg.probabilistic;
  char hid_txt[128] = "";
  for (int i = 0; i < n_hidden; ++i)
    snprintf(hid_txt + strlen(hid_txt), sizeof hid_txt - strlen(hid_txt), "%s%ld", i ? "," : "",
             hidden_l[i]);
  char cfg[2048] = ""; /* the config JSON without its closing brace ("" if it does not fit) */
  {
    int n = snprintf(cfg, sizeof cfg,
                     "{\"created_by\": \"%s %s\", \"optimizer\": \"adam\", \"lr\": %.9g, "
                     "\"betas\": [%.9g, %.9g], \"eps\": 1e-08, \"batch\": %ld, \"steps\": %ld, "
                     "\"seed\": %llu, \"val_frac\": %.9g, \"hidden\": [%s], \"batchnorm\": %s, "
                     "\"members\": %d, \"probabilistic\": %s, \"elites\": %d, \"bootstrap\": %s, "
                     "\"learn_logvar_bounds\": %s, \"loss\": \"%s\", \"device\": \"%s\", "
                     "\"train_rows\": %zu, \"val_rows\": %zu, \"dropped_rows\": %zu, \"data\": ",
                     PROG, MBRL_VERSION, lr, beta1, beta2, batch, steps,
                     (unsigned long long)seed, val_frac, hid_txt, batchnorm ? "true" : "false", M,
                     prob ? "true" : "false", e->cfg.n_elites, eo->bootstrap ? "true" : "false",
                     eo->learn_bounds ? "true" : "false",
                     prob ? "gaussian_nll_normalized_delta" : "mse_normalized_delta",
                     mbrl_backend_name(backend), train->n, val->n, n_bad);
    if (!(n > 0 && (size_t)n < sizeof cfg &&
          mbrl_cli_json_append(cfg, sizeof cfg - 64, data_path) == 0)) { /* room for the tail */
      cfg[0] = '\0';
      fprintf(stderr, "%s: warning: the --data path is too long to record; the checkpoint's "
              "config attribute stays {}\n", PROG);
    }
  }
  mbrl_optim_config oc = mbrl_optim_adam_config((float)lr, (float)beta1, (float)beta2);
  mbrl_dyn_ensemble_trainer *tr = NULL;
  if (mbrl_dyn_ensemble_trainer_create(&tr, e, train, &oc, (int)batch, eo->bootstrap,
                                       seed ^ SAMPLER_KEY) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  mbrl_log *lg = NULL;
  if (logdir && mbrl_log_open(&lg, logdir, NULL) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  fprintf(stderr,
          "%s: %s, %d-member %s ensemble, %zu training rows (%zu episodes), %zu validation rows "
          "(%zu episodes), device %s%s%s, %ld steps of batch %ld per member\n",
          PROG, all->env_id, M, prob ? "probabilistic" : "deterministic", train->n,
          sp->train_episodes, val->n, sp->val_episodes, mbrl_backend_name(backend),
          backend == MBRL_BACKEND_CUDA ? " " : "",
          backend == MBRL_BACKEND_CUDA ? mbrl_cuda_device_name() : "", steps, batch);

  /* elites on the validation episodes (mbrl-lib: on the training data when there are none) */
  const mbrl_dataset *rank_on = val->n ? val : train;

  /* With --checkpoint-every N, as for the single model: the checkpoint (elites ranked on
   * rank_on) is written every N steps, and the state is kept in memory after every chunk whose
   * losses were finite: if the loss turns NaN or Inf, the last good state is written and the
   * run stops (exit 1). */
  ens_state good = {NULL, NULL, 0}, scratch = {NULL, NULL, 0};
  long good_step = -1, saved_step = -1;
  if (checkpoint_every > 0 && !(ens_state_alloc(&good, e) && ens_state_alloc(&scratch, e)))
    mbrl_cli_fail(PROG, "out of memory");
  mbrl_progress prog;
  mbrl_progress_init(&prog, stderr, "train", 0, steps, MBRL_PROGRESS_AUTO, 10.0);
  float losses[LOG_EVERY * 10];
  const int chunk = LOG_EVERY * 10;
  double train_s = 0.0, last_loss = NAN, tail_sum = 0.0;
  long tail_n = 0;
  for (long done = 0; done < steps;) {
    const int n = chunk_steps(done, steps, chunk, eval_every, checkpoint_every);
    const double t0 = mbrl_log_now();
    mbrl_status st = mbrl_dyn_ensemble_trainer_run(tr, n, losses);
    train_s += mbrl_log_now() - t0;
    if (st != MBRL_OK) {
      char msg[1024];
      snprintf(msg, sizeof msg, "%s", mbrl_last_error());
      mbrl_progress_finish(&prog, mbrl_dyn_ensemble_trainer_steps(tr), "loss", last_loss);
      if (lg) mbrl_log_close(lg); /* keeps the rows logged so far */
      if (good_step > 0 && st == MBRL_ERR_NUMERIC) {
        /* the last good state becomes the checkpoint */
        if (ens_state_restore(e, &good) == MBRL_OK &&
            ens_checkpoint(e, rank_on, cfg, good_step, "the loss turned non-finite", out) ==
                MBRL_OK)
          mbrl_cli_fail(PROG, "%s (--lr %g); training stopped. '%s' holds the last good "
                        "ensemble, of step %ld", msg, lr, out, good_step);
        mbrl_cli_fail(PROG, "%s (--lr %g); training stopped, and the last good ensemble (step "
                      "%ld) could not be written: %s", msg, lr, good_step, mbrl_last_error());
      }
      struct stat sb;
      const int kept = stat(out, &sb) == 0;
      if (saved_step > 0)
        mbrl_cli_fail(PROG, "%s; '%s' holds the checkpoint of step %ld", msg, out, saved_step);
      mbrl_cli_fail(PROG, "%s (--lr %g); nothing was written%s%s%s%s", msg, lr, kept ? ", '" : "",
                    kept ? out : "", kept ? "' is unchanged" : "",
                    st == MBRL_ERR_NUMERIC && checkpoint_every == 0
                        ? " (--checkpoint-every N keeps the last good ensemble of a long run)"
                        : "");
    }
    for (int i = 0; i < n; ++i) {
      const long s = done + i;
      if (lg && s % LOG_EVERY == 0) mbrl_log_scalar(lg, "train_model/loss", s, losses[i]);
      if (s >= steps - 100) tail_sum += losses[i], tail_n++;
    }
    done += n;
    last_loss = losses[n - 1];
    if (checkpoint_every > 0 && ens_state_take(&good, &scratch, e)) good_step = done;
    if (checkpoint_every > 0 && done % checkpoint_every == 0 && done < steps && good_step == done) {
      if (ens_checkpoint(e, rank_on, cfg, done, NULL, out) != MBRL_OK)
        mbrl_cli_fail(PROG, "%s", mbrl_last_error());
      saved_step = done;
    }
    if ((done % eval_every == 0 || done == steps) && val->n && lg) {
      double vm[MBRL_DYN_ENSEMBLE_MAX_MEMBERS], vn[MBRL_DYN_ENSEMBLE_MAX_MEMBERS], ve;
      if (mbrl_dyn_ensemble_evaluate(e, val, vm, prob ? vn : NULL, &ve) == MBRL_OK) {
        mbrl_log_scalar(lg, "val/loss", done, ve);
        if (prob) {
          double s = 0;
          for (int m = 0; m < M; ++m) s += vn[m];
          mbrl_log_scalar(lg, "val/nll", done, s / M);
        }
        mbrl_log_flush(lg);
      }
    }
    mbrl_progress_update(&prog, done, "loss", last_loss);
  }
  mbrl_progress_finish(&prog, steps, "loss", last_loss);
  ens_state_free(&good);
  ens_state_free(&scratch);
  if (ens_set_config(e, cfg, steps, NULL) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  if (!val->n && e->cfg.n_elites < M)
    fprintf(stderr, "%s: warning: no validation episodes; the elites are chosen on the "
            "training data\n", PROG);
  if (mbrl_dyn_ensemble_select_elites(e, rank_on) != MBRL_OK)
    mbrl_cli_fail(PROG, "evaluation failed: %s", mbrl_last_error());
  const int O = all->obs_dim;
  double tm[MBRL_DYN_ENSEMBLE_MAX_MEMBERS], train_loss = NAN;
  double vm[MBRL_DYN_ENSEMBLE_MAX_MEMBERS], vn[MBRL_DYN_ENSEMBLE_MAX_MEMBERS], val_loss = NAN;
  double r1[MBRL_MAX_DIM], rk[MBRL_MAX_DIM];
  const int have_val = val->n > 0;
  const int have_k = have_val && mbrl_dynamics_open_loop_starts(val, OPEN_LOOP_K) > 0;
  if (mbrl_dyn_ensemble_evaluate(e, train, tm, NULL, &train_loss) != MBRL_OK ||
      (have_val && mbrl_dyn_ensemble_evaluate(e, val, vm, prob ? vn : NULL, &val_loss) != MBRL_OK) ||
      (have_val && mbrl_dyn_ensemble_open_loop_rmse(e, val, 1, r1) != MBRL_OK) ||
      (have_k && mbrl_dyn_ensemble_open_loop_rmse(e, val, OPEN_LOOP_K, rk) != MBRL_OK))
    mbrl_cli_fail(PROG, "evaluation failed: %s", mbrl_last_error());
  if (!isfinite(train_loss))
    mbrl_cli_fail(PROG, "the trained ensemble predicts NaN or Inf on the training data (--lr %g); "
                  "nothing was written", lr);
  if (mbrl_dyn_ensemble_save(e, out) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  if (lg && mbrl_log_close(lg) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());

  const double sps = train_s > 0 ? (double)steps / train_s : 0.0;
  if (json) {
    printf("{\"env_id\": ");
    mbrl_cli_json_string(stdout, all->env_id);
    printf(", \"steps\": %ld, \"batch\": %ld, \"steps_per_second\": %.6g, "
           "\"samples_per_second\": %.6g, \"train_seconds\": %.6g, \"device\": \"%s\", "
           "\"seed\": %llu, \"train_loss\": %.9g, \"last_batch_loss\": %.9g",
           steps, batch, sps, sps * (double)batch * M, train_s, mbrl_backend_name(backend),
           (unsigned long long)seed, train_loss, tail_n ? tail_sum / (double)tail_n : NAN);
    if (have_val) {
      printf(", \"val_loss\": %.9g", val_loss);
      ens_report(e, vm, prob ? vn : NULL, val_loss, r1, have_k ? rk : NULL, all->env_id, 1, NULL);
    } else {
      printf(", \"val_loss\": null, \"ensemble\": %d, \"probabilistic\": %s", M,
             prob ? "true" : "false");
      json_rmse(1, NULL, O);
      json_rmse(OPEN_LOOP_K, NULL, O);
    }
    printf(", \"train_rows\": %zu, \"val_rows\": %zu, \"train_episodes\": %zu, "
           "\"val_episodes\": %zu, \"dropped_rows\": %zu, \"data\": ",
           train->n, val->n, sp->train_episodes, sp->val_episodes, n_bad);
    mbrl_cli_json_string(stdout, data_path);
    printf(", \"out\": ");
    mbrl_cli_json_string(stdout, out);
    printf("}\n");
  } else {
    printf("Trained a %d-member %s ensemble %ld steps (batch %ld per member) on %zu transitions "
           "in %.2f s: %.0f steps/s on %s\n",
           M, prob ? "probabilistic" : "deterministic", steps, batch, train->n, train_s, sps,
           mbrl_backend_name(backend));
    printf("train loss (normalized MSE of the elites' mean, eval mode): %.6f\n", train_loss);
    if (have_val) {
      printf("validation loss (normalized MSE of the elites' mean):       %.6f  (%zu "
             "transitions, %zu episodes)\n", val_loss, val->n, sp->val_episodes);
      ens_report(e, vm, prob ? vn : NULL, val_loss, r1, have_k ? rk : NULL, all->env_id, 0,
                 "validation, per member (normalized delta, eval mode):");
    } else {
      printf("validation: none (--val-frac 0 or a single episode)\n");
    }
    printf("Wrote %s\n", out);
  }
  mbrl_dyn_ensemble_trainer_free(tr);
  mbrl_dyn_ensemble_free(e);
  return 0;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
  const char *data_path = "data/pendulum_random.h5", *out_arg = NULL, *logdir = NULL;
  const char *predict_model = NULL, *eval_model = NULL;
  long steps = DEFAULT_STEPS, batch = 128, eval_every = 500, checkpoint_every = 0;
  double lr = 0.01, beta1 = 0.99, beta2 = 0.999, val_frac = 0.1;
  long hidden_l[MBRL_DYNAMICS_MAX_HIDDEN] = {64, 64};
  int n_hidden = 2, batchnorm = 1, json = 0, drop_nonfinite = 0, force = 0;
  uint64_t seed = 0;
  mbrl_backend req_backend = MBRL_BACKEND_AUTO;
  ens_opts eo = {0, 0, 0, 1, 1};

  mbrl_cli c;
  mbrl_cli_init(&c, PROG, argc, argv);
  while (mbrl_cli_next(&c)) {
    mbrl_cli_help_version(&c, usage);
    if (mbrl_cli_option(&c, "--data")) {
      data_path = c.value;
    } else if (mbrl_cli_option(&c, "--out")) {
      out_arg = mbrl_cli_path(&c, "data/m.h5");
    } else if (mbrl_cli_option(&c, "--steps")) {
      steps = mbrl_cli_int(&c, 1, 100000000);
    } else if (mbrl_cli_option(&c, "--batch")) {
      batch = mbrl_cli_int(&c, 2, 65536);
    } else if (mbrl_cli_option(&c, "--lr")) {
      lr = mbrl_cli_double(&c, 1e-30, 1e38);
      if (lr <= 0.0) mbrl_cli_usage_error(PROG, "--lr: must be > 0");
    } else if (mbrl_cli_option(&c, "--beta1")) {
      beta1 = mbrl_cli_double(&c, 0.0, 0.999999);
    } else if (mbrl_cli_option(&c, "--beta2")) {
      beta2 = mbrl_cli_double(&c, 0.0, 0.999999);
    } else if (mbrl_cli_option(&c, "--hidden")) {
      n_hidden = mbrl_cli_int_list(&c, hidden_l, MBRL_DYNAMICS_MAX_HIDDEN, 1, 4096);
    } else if (mbrl_cli_flag(&c, "--no-batchnorm")) {
      batchnorm = 0;
    } else if (mbrl_cli_option(&c, "--val-frac")) {
      val_frac = mbrl_cli_double(&c, 0.0, 0.9);
    } else if (mbrl_cli_option(&c, "--seed")) {
      seed = mbrl_cli_u64(&c);
    } else if (mbrl_cli_option(&c, "--device")) {
      req_backend = mbrl_cli_device(&c);
    } else if (mbrl_cli_option(&c, "--logdir")) {
      logdir = mbrl_cli_path(&c, "runs");
    } else if (mbrl_cli_option(&c, "--eval-every")) {
      eval_every = mbrl_cli_int(&c, 1, 100000000);
    } else if (mbrl_cli_option(&c, "--checkpoint-every")) {
      checkpoint_every = mbrl_cli_int(&c, 1, 100000000);
    } else if (mbrl_cli_flag(&c, "--json")) {
      json = 1;
    } else if (mbrl_cli_flag(&c, "--drop-nonfinite")) {
      drop_nonfinite = 1;
    } else if (mbrl_cli_flag(&c, "--force")) {
      force = 1;
    } else if (mbrl_cli_option(&c, "--eval")) {
      eval_model = c.value;
    } else if (mbrl_cli_option(&c, "--predict")) {
      predict_model = c.value;
    } else if (mbrl_cli_option(&c, "--ensemble")) {
      eo.members = (int)mbrl_cli_int(&c, 1, MBRL_DYN_ENSEMBLE_MAX_MEMBERS);
    } else if (mbrl_cli_flag(&c, "--probabilistic")) {
      eo.probabilistic = 1;
    } else if (mbrl_cli_option(&c, "--elites")) {
      eo.elites = (int)mbrl_cli_int(&c, 1, MBRL_DYN_ENSEMBLE_MAX_MEMBERS);
    } else if (mbrl_cli_flag(&c, "--no-bootstrap")) {
      eo.bootstrap = 0;
    } else if (mbrl_cli_flag(&c, "--fixed-logvar-bounds")) {
      eo.learn_bounds = 0;
    } else {
      mbrl_cli_unknown(&c);
    }
  }

  const mbrl_backend backend = mbrl_cli_resolve_device(PROG, req_backend);
  cpu_kernels = mbrl_cli_cpu_kernels(PROG);

  if (eo.probabilistic && eo.members == 0) eo.members = 5;
  if (eo.elites > 0 && eo.members == 0)
    mbrl_cli_usage_error(PROG, "--elites needs --ensemble M (or --probabilistic)");
  if (eo.elites > eo.members && eo.members > 0)
    mbrl_cli_usage_error(PROG, "--elites %d exceeds the %d members; use 1..%d", eo.elites,
                         eo.members, eo.members);
  if ((!eo.bootstrap || !eo.learn_bounds) && eo.members == 0)
    mbrl_cli_usage_error(PROG, "--no-bootstrap and --fixed-logvar-bounds need --ensemble M");
  if (!eo.learn_bounds && !eo.probabilistic)
    mbrl_cli_usage_error(PROG, "--fixed-logvar-bounds needs --probabilistic");

  if (predict_model && eval_model)
    mbrl_cli_usage_error(PROG, "--eval and --predict exclude each other; use one of them");
  if (eval_model)
    return mbrl_dyn_ensemble_is_file(eval_model) ? ens_eval_mode(eval_model, data_path, backend, json)
                                                 : eval_mode(eval_model, data_path, backend, json);
  if (predict_model) {
    if (!out_arg)
      mbrl_cli_usage_error(PROG, "--predict needs --out FILE for the predictions");
    if (mbrl_dyn_ensemble_is_file(predict_model))
      return ens_predict_mode(predict_model, data_path, out_arg, backend, force);
    return predict_mode(predict_model, data_path, out_arg, backend, force);
  }

  /* ---- the dataset ---- */
  mbrl_dataset all;
  if (mbrl_dataset_load_keep_nonfinite(&all, data_path) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  size_t n_bad = 0, first_bad = 0;
  const char *first_arr = NULL;
  for (size_t i = 0; i < all.n; ++i) {
    const char *arr = row_bad(&all, i);
    if (!arr) continue;
    if (!n_bad) first_bad = i, first_arr = arr;
    ++n_bad;
  }
  if (n_bad && !drop_nonfinite)
    mbrl_cli_fail(PROG,
                  "'%s': %zu of %zu rows hold NaN or Inf; the first is row %zu (in /%s); pass "
                  "--drop-nonfinite to train without them",
                  data_path, n_bad, all.n, first_bad, first_arr);
  if (n_bad) {
    /* Keep the finite rows; the row before a dropped one ends its episode. */
    size_t *keep = malloc(all.n * sizeof(size_t)), k = 0;
    if (!keep) mbrl_cli_fail(PROG, "out of memory");
    for (size_t i = 0; i < all.n; ++i) {
      if (row_bad(&all, i)) {
        if (i > 0 && k > 0 && keep[k - 1] == i - 1 && !all.terminals[i - 1]) all.timeouts[i - 1] = 1;
        continue;
      }
      keep[k++] = i;
    }
    if (k == 0) mbrl_cli_fail(PROG, "'%s': every row holds NaN or Inf; nothing to train on", data_path);
    mbrl_dataset clean;
    if (subset(&all, keep, k, &clean) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());
    free(keep);
    mbrl_dataset_free(&all);
    all = clean;
    fprintf(stderr,
            "%s: dropped %zu rows holding NaN or Inf (the first was row %zu, in /%s); %zu rows "
            "left\n",
            PROG, n_bad, first_bad, first_arr, all.n);
  }

  char out_buf[4096];
  if (!out_arg)
    mbrl_cli_default_out(all.env_id, eo.members ? "_ensemble.h5" : "_model.h5", out_buf,
                         sizeof out_buf);
  const char *out = out_arg ? out_arg : out_buf;
  check_out(out, force);

  /* ---- split by whole episodes ---- */
  mbrl_dataset_split sp;
  if (mbrl_dataset_split_episodes(&all, val_frac, seed ^ SPLIT_KEY, &sp) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  mbrl_dataset train, val;
  memset(&val, 0, sizeof val);
  if (subset(&all, sp.train, sp.n_train, &train) != MBRL_OK ||
      (sp.n_val && subset(&all, sp.val, sp.n_val, &val) != MBRL_OK))
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  if (val_frac > 0 && sp.n_val == 0)
    fprintf(stderr, "%s: warning: '%s' has one episode; nothing is held out for validation\n",
            PROG, data_path);
  if ((size_t)batch > train.n)
    mbrl_cli_fail(PROG,
                  "--batch %ld is larger than the training split (%zu rows of %zu; --val-frac "
                  "%g holds out %zu); use --batch <= %zu or a larger dataset",
                  batch, train.n, all.n, val_frac, sp.n_val, train.n);
  mbrl_dataset_stats stats;
  if (mbrl_dataset_stats_compute(&train, &stats) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());

  if (eo.members > 0) {
    const int rc = train_ensemble(&eo, &all, &train, &val, &sp, &stats, data_path, out, logdir,
                                  steps, batch, lr, beta1, beta2, val_frac, n_hidden, hidden_l,
                                  batchnorm, seed, backend, eval_every, checkpoint_every, json,
                                  n_bad);
    mbrl_dataset_split_free(&sp);
    mbrl_dataset_free(&train);
    mbrl_dataset_free(&val);
    mbrl_dataset_free(&all);
    return rc;
  }

  /* ---- model and trainer ---- */
  int hidden[MBRL_DYNAMICS_MAX_HIDDEN];
  for (int i = 0; i < n_hidden; ++i) hidden[i] = (int)hidden_l[i];
  const int max_batch = batch > 2048 ? (int)batch : 2048;
  mbrl_dynamics *d = NULL;
  if (mbrl_dynamics_create(&d, all.env_id, all.obs_dim, all.act_dim, &stats, n_hidden, hidden,
                           batchnorm, backend, max_batch, seed) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  char hid_txt[128] = "";
  for (int i = 0; i < n_hidden; ++i)
    snprintf(hid_txt + strlen(hid_txt), sizeof hid_txt - strlen(hid_txt), "%s%d", i ? "," : "",
             hidden[i]);
  char cfg[2048] = ""; /* the config JSON without its closing brace ("" if it does not fit) */
  {
    int n = snprintf(cfg, sizeof cfg,
                     "{\"created_by\": \"%s %s\", \"optimizer\": \"adam\", \"lr\": %.9g, "
                     "\"betas\": [%.9g, %.9g], \"eps\": 1e-08, \"batch\": %ld, \"steps\": %ld, "
                     "\"seed\": %llu, \"val_frac\": %.9g, \"hidden\": [%s], \"batchnorm\": %s, "
                     "\"loss\": \"mse_normalized_delta\", \"device\": \"%s\", "
                     "\"train_rows\": %zu, \"val_rows\": %zu, \"dropped_rows\": %zu, \"data\": ",
                     PROG, MBRL_VERSION, lr, beta1, beta2, batch, steps,
                     (unsigned long long)seed, val_frac, hid_txt, batchnorm ? "true" : "false",
                     mbrl_backend_name(backend), train.n, val.n, n_bad);
    if (!(n > 0 && (size_t)n < sizeof cfg &&
          mbrl_cli_json_append(cfg, sizeof cfg - 64, data_path) == 0)) { /* room for the tail */
      cfg[0] = '\0';
      fprintf(stderr, "%s: warning: the --data path is too long to record; the checkpoint's "
              "config attribute stays {}\n", PROG);
    }
  }
  mbrl_optim_config oc = mbrl_optim_adam_config((float)lr, (float)beta1, (float)beta2);
  mbrl_dynamics_trainer *tr = NULL;
  if (mbrl_dynamics_trainer_create(&tr, d, &train, &oc, (int)batch, seed ^ SAMPLER_KEY) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  mbrl_log *lg = NULL;
  if (logdir && mbrl_log_open(&lg, logdir, NULL) != MBRL_OK)
    mbrl_cli_fail(PROG, "%s", mbrl_last_error());

  fprintf(stderr,
          "%s: %s, %zu training rows (%zu episodes), %zu validation rows (%zu episodes), "
          "device %s%s%s, %ld steps of batch %ld\n",
          PROG, all.env_id, train.n, sp.train_episodes, val.n, sp.val_episodes,
          mbrl_backend_name(backend), backend == MBRL_BACKEND_CUDA ? " " : "",
          backend == MBRL_BACKEND_CUDA ? mbrl_cuda_device_name() : "", steps, batch);

  /* ---- train ---- */
  /* With --checkpoint-every N the checkpoint is written every N steps, and the weights are
   * kept in memory after every chunk whose losses were finite: if the loss turns NaN or Inf,
   * the last good weights are written and the run stops (exit 1). */
  float *good = NULL;
  long good_step = -1, saved_step = -1;
  if (checkpoint_every > 0) {
    good = malloc(mbrl_mlp_state_size(d->mlp) * sizeof(float));
    if (!good) mbrl_cli_fail(PROG, "out of memory");
  }
  mbrl_progress prog;
  mbrl_progress_init(&prog, stderr, "train", 0, steps, MBRL_PROGRESS_AUTO, 10.0);
  float losses[LOG_EVERY * 10];
  const int chunk = LOG_EVERY * 10;
  double train_s = 0.0, last_loss = NAN, tail_sum = 0.0;
  long tail_n = 0;
  for (long done = 0; done < steps;) {
    const int n = chunk_steps(done, steps, chunk, eval_every, checkpoint_every);
    const double t0 = mbrl_log_now();
    mbrl_status st = mbrl_dynamics_trainer_run(tr, n, losses);
    train_s += mbrl_log_now() - t0;
    if (st != MBRL_OK) {
      char msg[1024];
      snprintf(msg, sizeof msg, "%s", mbrl_last_error());
      mbrl_progress_finish(&prog, mbrl_dynamics_trainer_steps(tr), "loss", last_loss);
      if (lg) mbrl_log_close(lg); /* keeps the rows logged so far */
      if (good_step > 0 && st == MBRL_ERR_NUMERIC) {
        /* the last good weights become the checkpoint */
        if (mbrl_mlp_set_state(d->mlp, good) == MBRL_OK &&
            set_config(d, cfg, good_step, "the loss turned non-finite") == MBRL_OK &&
            mbrl_dynamics_save(d, out) == MBRL_OK)
          mbrl_cli_fail(PROG, "%s (--lr %g); training stopped. '%s' holds the last good "
                        "weights, of step %ld", msg, lr, out, good_step);
        mbrl_cli_fail(PROG, "%s (--lr %g); training stopped, and the last good weights (step "
                      "%ld) could not be written: %s", msg, lr, good_step, mbrl_last_error());
      }
      struct stat sb;
      const int kept = stat(out, &sb) == 0;
      if (saved_step > 0)
        mbrl_cli_fail(PROG, "%s; '%s' holds the checkpoint of step %ld", msg, out, saved_step);
      mbrl_cli_fail(PROG, "%s (--lr %g); nothing was written%s%s%s%s", msg, lr, kept ? ", '" : "",
                    kept ? out : "", kept ? "' is unchanged" : "",
                    st == MBRL_ERR_NUMERIC && checkpoint_every == 0
                        ? " (--checkpoint-every N keeps the last good weights of a long run)"
                        : "");
    }
    for (int i = 0; i < n; ++i) {
      const long s = done + i;
      if (lg && s % LOG_EVERY == 0) mbrl_log_scalar(lg, "train_model/loss", s, losses[i]);
      if (s >= steps - 100) tail_sum += losses[i], tail_n++;
    }
    done += n;
    last_loss = losses[n - 1];
    if (good && mbrl_mlp_get_state(d->mlp, good) == MBRL_OK && state_finite(good, d->mlp))
      good_step = done;
    if (checkpoint_every > 0 && done % checkpoint_every == 0 && done < steps && good_step == done) {
      if (set_config(d, cfg, done, NULL) != MBRL_OK || mbrl_dynamics_save(d, out) != MBRL_OK)
        mbrl_cli_fail(PROG, "%s", mbrl_last_error());
      saved_step = done;
    }
    if (done % eval_every == 0 || done == steps) {
      double vl;
      if (val.n && mbrl_dynamics_eval_mse(d, &val, &vl) == MBRL_OK) {
        if (lg) mbrl_log_scalar(lg, "val/loss", done, vl);
        if (lg) mbrl_log_flush(lg);
      }
    }
    mbrl_progress_update(&prog, done, "loss", last_loss);
  }
  mbrl_progress_finish(&prog, steps, "loss", last_loss);
  free(good);
  if (set_config(d, cfg, steps, NULL) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());

  /* ---- evaluate ---- */
  const int O = all.obs_dim;
  double train_loss = NAN, val_loss = NAN, r1[MBRL_MAX_DIM], rk[MBRL_MAX_DIM];
  int have_val = val.n > 0, have_k = have_val && mbrl_dynamics_open_loop_starts(&val, OPEN_LOOP_K) > 0;
  if (mbrl_dynamics_eval_mse(d, &train, &train_loss) != MBRL_OK ||
      (have_val && mbrl_dynamics_eval_mse(d, &val, &val_loss) != MBRL_OK) ||
      (have_val && mbrl_dynamics_open_loop_rmse(d, &val, 1, r1) != MBRL_OK) ||
      (have_k && mbrl_dynamics_open_loop_rmse(d, &val, OPEN_LOOP_K, rk) != MBRL_OK))
    mbrl_cli_fail(PROG, "evaluation failed: %s", mbrl_last_error());
  if (!isfinite(train_loss))
    mbrl_cli_fail(PROG, "the trained model predicts NaN or Inf on the training data (--lr %g); "
                  "nothing was written", lr);

  /* ---- save ---- */
  if (mbrl_dynamics_save(d, out) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());
  if (lg && mbrl_log_close(lg) != MBRL_OK) mbrl_cli_fail(PROG, "%s", mbrl_last_error());

  const double sps = train_s > 0 ? (double)steps / train_s : 0.0;
  if (json) {
    printf("{\"env_id\": ");
    mbrl_cli_json_string(stdout, all.env_id);
    printf(", \"steps\": %ld, \"batch\": %ld, \"steps_per_second\": %.6g, "
           "\"samples_per_second\": %.6g, \"train_seconds\": %.6g, \"device\": \"%s\", "
           "\"cpu_kernels\": \"%s\", \"seed\": %llu, \"train_loss\": %.9g, "
           "\"last_batch_loss\": %.9g",
           steps, batch, sps, sps * (double)batch, train_s, mbrl_backend_name(backend),
           cpu_kernels, (unsigned long long)seed, train_loss, tail_n ? tail_sum / (double)tail_n : NAN);
    if (have_val)
      printf(", \"val_loss\": %.9g", val_loss);
    else
      printf(", \"val_loss\": null");
    json_rmse(1, have_val ? r1 : NULL, O);
    json_rmse(OPEN_LOOP_K, have_k ? rk : NULL, O);
    printf(", \"train_rows\": %zu, \"val_rows\": %zu, \"train_episodes\": %zu, "
           "\"val_episodes\": %zu, \"dropped_rows\": %zu, \"data\": ",
           train.n, val.n, sp.train_episodes, sp.val_episodes, n_bad);
    mbrl_cli_json_string(stdout, data_path);
    printf(", \"out\": ");
    mbrl_cli_json_string(stdout, out);
    printf("}\n");
  } else {
    printf("Trained %ld steps (batch %ld) on %zu transitions in %.2f s: %.0f steps/s on %s\n",
           steps, batch, train.n, train_s, sps, mbrl_backend_name(backend));
    printf("train loss (normalized MSE, eval mode): %.6f\n", train_loss);
    if (have_val) {
      printf("validation loss (normalized MSE):       %.6f  (%zu transitions, %zu episodes)\n",
             val_loss, val.n, sp.val_episodes);
      text_rmse("open-loop RMSE on the validation episodes, raw units", all.env_id, O, r1,
                have_k ? rk : NULL, "validation episode");
    } else {
      printf("validation: none (--val-frac 0 or a single episode)\n");
    }
    printf("Wrote %s\n", out);
  }
  mbrl_dynamics_trainer_free(tr);
  mbrl_dynamics_free(d);
  mbrl_dataset_split_free(&sp);
  mbrl_dataset_free(&train);
  mbrl_dataset_free(&val);
  mbrl_dataset_free(&all);
  return 0;
}
