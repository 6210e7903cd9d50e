/* mbrl/dyn_ensemble.h - an ensemble of M dynamics models trained as ONE batched computation:
 * probabilistic (PETS, Chua et al. 2018; mbrl-lib's GaussianMLP semantics) or deterministic.
 *
 * Model: the normalizer and input of mbrl/dynamics.h (in = concat(normalize(s), normalize(a)),
 * the target is normalize(s' - s) with the delta stats). Each member is the seed's MLP shape
 * (Linear-BatchNorm-ReLU per hidden layer, then Linear; default hidden 64,64). Its last Linear
 * has 2 * obs outputs when probabilistic: the mean (obs) then the RAW log-variance (obs) of the
 * normalized delta; obs outputs (the mean) otherwise. The raw log-variance is soft-clamped
 * between bounds shared by all members (mbrl-lib: max_logvar, min_logvar of shape (1, obs),
 * init 0.5 and -10, learned by default):
 *   logvar = min + softplus(max - softplus(max - raw) - min)     (mbrl_logvar_clamp)
 * Training loss per step (mbrl-lib GaussianMLP._nll_loss): sum over members of the mean over
 * (batch, obs) of (mean - y)^2 exp(-logvar) + logvar, plus bound_coef (0.01) *
 * (sum max_logvar - sum min_logvar); deterministic members: sum over members of each member's
 * MSE (the seed's loss). Adam over all parameters (each member's moments are its own; the update
 * is elementwise, so this is Adam per member with a common step count).
 * Initialization: member m gets the seed's init (orthogonal weights, zero biases) from Philox
 * seed mbrl_dyn_ensemble_member_seed(seed, m) (member 0: `seed` itself, so a one-member
 * deterministic ensemble starts as the single model of mbrl/dynamics.h with that seed).
 * mbrl-lib uses a truncated-normal init; we keep the seed's.
 *
 * Elites (mbrl-lib num_elites): after training, members are ranked by their held-out MSE of
 * the mean (normalized delta; mbrl-lib's eval_score) and the best n_elites are the elites.
 * Predictions that aggregate (expectation) use the elites only.
 *
 * Parameter layout (HOST copies via mbrl_dyn_ensemble_get_params; backend memory in params):
 *   member m occupies params[m * P .. (m + 1) * P), P = member_params, in mbrl/mlp.h's layout
 *   of one member (per layer W (out, in), b, [BN gamma, beta]); offsets w_off/b_off/gamma_off/
 *   beta_off below are into a member's block. Then max_logvar (obs) at max_logvar_off and
 *   min_logvar (obs) at min_logvar_off (probabilistic only). BN running statistics: member m at
 *   buffers[m * member_buffers ...] with rmean_off/rvar_off.
 *
 * Checkpoint (format "mbrl.dyn_ensemble", version 2: the first version, born sealed; there is no
 * unsealed version to read), PyTorch state_dict names of a module with
 * `members = nn.ModuleList([...])` (each the seed's MLP: `network = nn.Sequential(...)`) and the
 * two bound parameters, so that
 *   model.load_state_dict({k.replace('/', '.'): torch.tensor(v) for k, v in <items under /model>})
 * works (scripts/ensemble_model.py has the class):
 *   /model/members/<m>/network/<i>/{weight,bias[,running_mean,running_var,num_batches_tracked]}
 *   /model/max_logvar [1, obs] f32, /model/min_logvar [1, obs] f32     (probabilistic only)
 *   /normalizer/{state_mean,state_std,action_mean,action_std,delta_state_mean,delta_state_std}
 *   /validation/mse [M] f32, /validation/nll [M] f32 (nll: probabilistic only) when evaluated
 *   root attrs: format, format_version, env_id, members (i64), probabilistic (i64 0/1),
 *   hidden (i64 array), elites (i64 array, best first, n_elites values), learn_logvar_bounds
 *   (i64 0/1), config (JSON text: the training configuration).
 * Written atomically through mbrl/h5util.h's writer (temp name, fsync, rename) and sealed: a
 * SHA-256 over the whole file checked before HDF5 parses it, a sha256 attribute per dataset,
 * checksummed HDF5 1.8 metadata, fixed-length strings (h5py reads them as bytes).
 *
 * Memory: functions named *_backend take backend memory (device memory for a CUDA ensemble);
 * all others take HOST memory on every backend. */
#ifndef MBRL_DYN_ENSEMBLE_H
#define MBRL_DYN_ENSEMBLE_H

#include <stddef.h>
#include <stdint.h>

#include "mbrl/common.h"
#include "mbrl/dataset.h"
#include "mbrl/device.h"
#include "mbrl/dynamics.h"
#include "mbrl/mlp.h"
#include "mbrl/nn_batched.h"
#include "mbrl/philox.h"
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

#define MBRL_DYN_ENSEMBLE_FORMAT "mbrl.dyn_ensemble"
#define MBRL_DYN_ENSEMBLE_FORMAT_VERSION 2 /* the first: sealed only (mbrl/h5util.h) */
#define MBRL_DYN_ENSEMBLE_MAX_MEMBERS 64

/* ---------------------------------------------------------------- per-element helpers */

/* Philox init seed of member m: seed for m = 0, splitmix64-mixed (seed, m) otherwise. */
MBRL_HD static inline uint64_t mbrl_dyn_ensemble_member_seed(uint64_t seed, int m) {
  if (m == 0) return seed;
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (uint64_t)(m + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Two standard normals from two 32-bit Philox draws x, y: Box-Muller in float with the formula
 * of cuRAND's _curand_box_muller (host branch): u = x 2^-32 + 2^-33, v = y 2^-32 2pi + 2^-32 pi,
 * z0 = sqrt(-2 log u) sin v, z1 = sqrt(-2 log u) cos v. sinf/cosf/logf on both backends (cuRAND's
 * device branch uses __sincosf), so CPU and CUDA agree to a few ulp, not bit for bit. */
MBRL_HD static inline void mbrl_dyn_ensemble_normal2(mbrl_philox *s, float *z0, float *z1) {
  const uint32_t x = mbrl_philox_next_u32(s), y = mbrl_philox_next_u32(s);
  const float two_pow32_inv = 2.3283064e-10f, two_pow32_inv_2pi = 2.3283064e-10f * 6.2831855f;
  const float u = (float)x * two_pow32_inv + two_pow32_inv / 2.0f;
  const float v = (float)y * two_pow32_inv_2pi + two_pow32_inv_2pi / 2.0f;
  const float r = sqrtf(-2.0f * logf(u));
  *z0 = r * sinf(v);
  *z1 = r * cosf(v);
}

/* The noise of row `row` of a sampled prediction: eps (obs_dim) standard normals, pairs from
 * Philox(sample_seed, subsequence row, offset 0) in order (z0, z1, z0, ...). */
MBRL_HD static inline void mbrl_dyn_ensemble_noise(uint64_t sample_seed, uint64_t row,
                                                   int obs_dim, float *eps) {
  mbrl_philox s;
  mbrl_philox_init(&s, sample_seed, row, 0);
  for (int j = 0; j < obs_dim; j += 2) {
    float z0, z1;
    mbrl_dyn_ensemble_normal2(&s, &z0, &z1);
    eps[j] = z0;
    if (j + 1 < obs_dim) eps[j + 1] = z1;
  }
}

/* A sampled normalized delta: mean + exp(logvar / 2) * eps (PETS's s' ~ N(mean, var)). */
MBRL_HD static inline float mbrl_dyn_ensemble_sample1(float mean, float logvar, float eps) {
  return mean + expf(0.5f * logvar) * eps;
}

/* A member index drawn uniformly from the elites: elites[philox_below(n_elites)] (one 32-bit
 * draw). For TS1 draw per (particle, step), for TSinf once per particle (e.g. from
 * Philox(plan_seed, subsequence particle)); mbrl-lib's TSinf instead deals particles to
 * members round-robin after a permutation, particle p -> elites[p % n_elites]. */
MBRL_HD static inline int mbrl_dyn_ensemble_draw_member(mbrl_philox *s, const int *elites,
                                                        int n_elites) {
  return elites[mbrl_philox_below(s, (uint32_t)n_elites)];
}

/* ---------------------------------------------------------------- model */

typedef struct mbrl_dyn_ensemble_config {
  int members;             /* M, 1..MBRL_DYN_ENSEMBLE_MAX_MEMBERS (5) */
  int probabilistic;       /* 1: mean + log-variance heads, Gaussian NLL; 0: mean, MSE (1) */
  int n_hidden;            /* hidden layers per member, 1..MBRL_DYNAMICS_MAX_HIDDEN (2) */
  int hidden[MBRL_DYNAMICS_MAX_HIDDEN]; /* widths (64, 64) */
  int batchnorm;           /* BatchNorm1d after each hidden Linear (1) */
  int learn_logvar_bounds; /* 1: max/min_logvar are trained; 0: fixed at their init (1) */
  float max_logvar_init;   /* 0.5 */
  float min_logvar_init;   /* -10 */
  float bound_coef;        /* penalty weight on sum max - sum min (0.01) */
  int n_elites;            /* 1..members; 0 = members (0) */
} mbrl_dyn_ensemble_config;

/* Defaults (above): 5 probabilistic members of the seed's shape, learned bounds, all elites. */
void mbrl_dyn_ensemble_config_init(mbrl_dyn_ensemble_config *c);

typedef struct mbrl_dyn_ensemble_ws mbrl_dyn_ensemble_ws; /* private workspace */

typedef struct mbrl_dyn_ensemble {
  char env_id[64];
  int obs_dim, act_dim;
  mbrl_dataset_stats stats;     /* normalizer */
  mbrl_dyn_ensemble_config cfg; /* n_elites resolved (never 0) */
  mbrl_backend backend;         /* CPU or CUDA */
  int max_batch;                /* rows per member one forward takes (chunks above) */
  mbrl_mlp_config member_cfg;   /* one member: sizes[0] = obs+act, sizes[L] = (2 or 1) * obs */
  size_t member_params;         /* P: floats of one member */
  size_t member_buffers;        /* floats of one member's BN running statistics */
  size_t w_off[MBRL_MLP_MAX_LAYERS], b_off[MBRL_MLP_MAX_LAYERS];        /* into a member */
  size_t gamma_off[MBRL_MLP_MAX_LAYERS], beta_off[MBRL_MLP_MAX_LAYERS]; /* BN layers only */
  size_t rmean_off[MBRL_MLP_MAX_LAYERS], rvar_off[MBRL_MLP_MAX_LAYERS]; /* into a member's buffers */
  size_t n_params;              /* M * P (+ 2 * obs when probabilistic) */
  size_t max_logvar_off, min_logvar_off; /* into params (probabilistic only) */
  float *params;                /* (n_params) backend memory */
  float *grads;                 /* (n_params) backend memory */
  float *buffers;               /* (M * member_buffers) backend memory */
  long long num_batches_tracked; /* train-mode forwards so far (the same for every BN layer) */
  int elites[MBRL_DYN_ENSEMBLE_MAX_MEMBERS]; /* members best first; the first n_elites are the
                                              * elites (identity order until ranked) */
  int ranked;                   /* 1 once mbrl_dyn_ensemble_select_elites (or a load) ranked them */
  double val_mse[MBRL_DYN_ENSEMBLE_MAX_MEMBERS]; /* held-out MSE per member (NAN: not known) */
  double val_nll[MBRL_DYN_ENSEMBLE_MAX_MEMBERS]; /* held-out NLL per member (NAN: not known) */
  char config_json[2048];       /* training configuration (JSON object), stored in the file */
  mbrl_dyn_ensemble_ws *ws;
} mbrl_dyn_ensemble;

/* A new ensemble for env_id (widths 1..MBRL_MAX_DIM; the env is not looked up) with normalizer
 * stats (copied; NULL = mean 0, std 1) and config cfg (NULL = defaults), initialized from
 * `seed`, on `backend` (AUTO resolved) with forwards of up to max_batch (>= 2) rows per member.
 * MBRL_ERR_INVALID_ARG names a bad field. Free with mbrl_dyn_ensemble_free. */
mbrl_status mbrl_dyn_ensemble_create(mbrl_dyn_ensemble **out, const char *env_id, int obs_dim,
                                     int act_dim, const mbrl_dataset_stats *stats,
                                     const mbrl_dyn_ensemble_config *cfg, mbrl_backend backend,
                                     int max_batch, uint64_t seed);

/* Release everything (NULL is fine). */
void mbrl_dyn_ensemble_free(mbrl_dyn_ensemble *e);

/* Width of a member's output: 2 * obs_dim when probabilistic, obs_dim otherwise. */
int mbrl_dyn_ensemble_out_dim(const mbrl_dyn_ensemble *e);

/* Set e->config_json (a JSON object text shorter than sizeof config_json). */
mbrl_status mbrl_dyn_ensemble_set_config(mbrl_dyn_ensemble *e, const char *json);

/* Copy all parameters (n_params floats, layout above) to / from HOST memory. */
mbrl_status mbrl_dyn_ensemble_get_params(const mbrl_dyn_ensemble *e, float *params);
mbrl_status mbrl_dyn_ensemble_set_params(mbrl_dyn_ensemble *e, const float *params);
/* Copy the gradients of the last backward (n_params floats) to HOST memory. */
mbrl_status mbrl_dyn_ensemble_get_grads(const mbrl_dyn_ensemble *e, float *grads);
/* Copy the BN running statistics (M * member_buffers floats, layout above) to / from HOST
 * memory (set: every value must be finite, else MBRL_ERR_NUMERIC and nothing changes; with
 * get_params/set_params and num_batches_tracked this saves and restores a whole ensemble). */
mbrl_status mbrl_dyn_ensemble_get_buffers(const mbrl_dyn_ensemble *e, float *buffers);
mbrl_status mbrl_dyn_ensemble_set_buffers(mbrl_dyn_ensemble *e, const float *buffers);

/* Member m as a stand-alone mlp: copy its state (weights, BN buffers, num_batches_tracked) into
 * dst, an mlp of config e->member_cfg on any backend; or from src (same config) into member m. */
mbrl_status mbrl_dyn_ensemble_get_member(const mbrl_dyn_ensemble *e, int m, mbrl_mlp *dst);
mbrl_status mbrl_dyn_ensemble_set_member(mbrl_dyn_ensemble *e, int m, const mbrl_mlp *src);

/* The log-variance bounds (obs_dim floats each, HOST). Probabilistic ensembles only. */
mbrl_status mbrl_dyn_ensemble_get_logvar_bounds(const mbrl_dyn_ensemble *e, float *max_logvar,
                                                float *min_logvar);
mbrl_status mbrl_dyn_ensemble_set_logvar_bounds(mbrl_dyn_ensemble *e, const float *max_logvar,
                                                const float *min_logvar);

/* ---------------------------------------------------------------- batched compute (backend memory) */

/* out (M, B, out_dim) = every member's network on its rows: member m reads x + m * sx (B, in)
 * (sx = 0: all members read the same x (B, in)). 1 <= B <= max_batch. train = 1: BatchNorm uses
 * each member's batch statistics (B >= 2) and updates its running statistics; train = 0:
 * running statistics. Saves what the backward needs; the backward also reads x itself, so x
 * must stay unchanged until then. Backend memory. */
mbrl_status mbrl_dyn_ensemble_forward_backend(mbrl_dyn_ensemble *e, const float *x, int B,
                                              size_t sx, float *out, int train);

/* Backward of the last forward from dout (M, B, out_dim) (backend memory): OVERWRITES the
 * members' part of e->grads (the bound gradients are the loss's, see train_step). */
mbrl_status mbrl_dyn_ensemble_backward_backend(mbrl_dyn_ensemble *e, const float *dout);

/* Optimizer state (zeros) for all of e's parameters on e's backend (Adam or RMSprop, the
 * formulas of mbrl/nn.h); free with mbrl_optim_free, reset with mbrl_optim_reset. */
mbrl_status mbrl_dyn_ensemble_optim_create(mbrl_optim **out, const mbrl_optim_config *cfg,
                                           const mbrl_dyn_ensemble *e);

/* One training step of every member on its own minibatch: train-mode forward of x (M, B, in),
 * the loss against target (M, B, obs) (NLL or MSE, above), backward, one optimizer step over
 * all parameters (fixed bounds are not updated). *loss (the total) and member_loss (M) receive
 * the values before the update; both backend memory, may be NULL. B in [2, max_batch]. */
mbrl_status mbrl_dyn_ensemble_train_step_backend(mbrl_dyn_ensemble *e, mbrl_optim *opt,
                                                 const float *x, const float *target, int B,
                                                 float *loss, float *member_loss);

/* ---------------------------------------------------------------- prediction (HOST memory) */

/* Eval-mode outputs of EVERY member on the same rows: mean (M, B, obs) of the normalized delta
 * and, probabilistic only, logvar (M, B, obs) (clamped; NULL to skip; must be NULL for a
 * deterministic ensemble). obs (B, obs_dim), act (B, act_dim); any B >= 1. */
mbrl_status mbrl_dyn_ensemble_predict_all(mbrl_dyn_ensemble *e, const float *obs,
                                          const float *act, int B, float *mean, float *logvar);

/* Eval-mode prediction where each row names its member (TS1 / TSinf propagation): row i uses
 * member members[i] (0..M-1). members == NULL: expectation over the elites (mbrl-lib's
 * "expectation": the mean over the elites of their means and of their log-variances).
 * mean (B, obs) normalized delta; logvar (B, obs) or NULL (must be NULL when deterministic).
 * Rows are grouped by member, so the cost is one forward per row. Any B >= 1. */
mbrl_status mbrl_dyn_ensemble_predict(mbrl_dyn_ensemble *e, const float *obs, const float *act,
                                      const int *members, int B, float *mean, float *logvar);

/* Next observations: next (B, obs) = obs + unnormalize(delta) with the delta stats, where
 * delta is the predicted mean (sample = 0) or, probabilistic only, a draw
 * mbrl_dyn_ensemble_sample1(mean, logvar, eps) with eps = mbrl_dyn_ensemble_noise(sample_seed,
 * i, ...) for row i (sample = 1). members as in mbrl_dyn_ensemble_predict. next may alias obs. */
mbrl_status mbrl_dyn_ensemble_predict_next(mbrl_dyn_ensemble *e, const float *obs,
                                           const float *act, const int *members, int B,
                                           int sample, uint64_t sample_seed, float *next);

/* ---------------------------------------------------------------- evaluation */

/* On every row of data (widths equal e's), eval mode: member_mse (M) the MSE of each member's
 * mean (normalized delta), member_nll (M) its NLL (mbrl-lib's training-loss form: mean over
 * rows and dims of (mean - y)^2 / var + log var; NULL, and must be NULL when deterministic),
 * ens_mse the MSE of the elites' averaged mean (may be NULL). */
mbrl_status mbrl_dyn_ensemble_evaluate(mbrl_dyn_ensemble *e, const mbrl_dataset *data,
                                       double *member_mse, double *member_nll, double *ens_mse);

/* Rank the members by their MSE on held-out `data` (mbrl-lib: eval_score on the validation
 * set; ties to the lower index), set e->elites (best first), e->val_mse, e->val_nll and
 * e->ranked. */
mbrl_status mbrl_dyn_ensemble_select_elites(mbrl_dyn_ensemble *e, const mbrl_dataset *data);

/* k-step open-loop RMSE per state dim in raw units (rmse (obs_dim)) of the elites' mean
 * prediction (next = s + unnormalize(mean over elites of the mean delta)), with the starts and
 * conventions of mbrl_dynamics_open_loop_rmse. */
mbrl_status mbrl_dyn_ensemble_open_loop_rmse(mbrl_dyn_ensemble *e, const mbrl_dataset *data,
                                             int k, double *rmse);

/* ---------------------------------------------------------------- training */

typedef struct mbrl_dyn_ensemble_trainer mbrl_dyn_ensemble_trainer; /* opaque */

/* A trainer of e on every row of train_data: normalizes the set once and gives member m its
 * own minibatch stream: bootstrap = 1: a resample of the n rows WITH replacement drawn from
 * Philox(seed, subsequence 2^40 + m) (mbrl-lib's BootstrapIterator), bootstrap = 0: all n rows;
 * then an mbrl_sampler over that pool with seed mbrl_dyn_ensemble_member_seed(seed, m) (epoch
 * permutations, the last partial batch dropped). Member 0 without bootstrap draws exactly the
 * minibatches of mbrl_dynamics_trainer_create(.., seed). batch in [2, min(n, max_batch)].
 * A CUDA ensemble trains on the GPU with the same minibatches. e must outlive the trainer. */
mbrl_status mbrl_dyn_ensemble_trainer_create(mbrl_dyn_ensemble_trainer **out,
                                             mbrl_dyn_ensemble *e, const mbrl_dataset *train_data,
                                             const mbrl_optim_config *opt, int batch,
                                             int bootstrap, uint64_t seed);

/* Run n >= 1 steps. losses (n, HOST, may be NULL): each step's total loss before its update.
 * A non-finite loss stops with MBRL_ERR_NUMERIC naming the step (CUDA: checked at the end). */
mbrl_status mbrl_dyn_ensemble_trainer_run(mbrl_dyn_ensemble_trainer *t, int n, float *losses);

/* Steps run so far. */
long long mbrl_dyn_ensemble_trainer_steps(const mbrl_dyn_ensemble_trainer *t);

/* Release (NULL is fine); the ensemble stays. */
void mbrl_dyn_ensemble_trainer_free(mbrl_dyn_ensemble_trainer *t);

/* ---------------------------------------------------------------- export for planners */

/* Every member in eval mode with BatchNorm folded into its Linear layers (as
 * mbrl_mlp_fold_batchnorm), in the layout of mbrl_plan_model (planner.h) per member, so a fused
 * rollout reads all members from one array:
 *   params[m * member_params + w_off[l]]: W_l (sizes[l+1], sizes[l]) row-major [out, in]
 *   params[m * member_params + b_off[l]]: b_l (sizes[l+1])
 * for l < n_layers; every layer but the last is followed by `activation`. The last layer has
 * sizes[L] = 2 * obs_dim rows when probabilistic (rows 0..obs-1: mean, rows obs..2obs-1: raw
 * log-variance, to be clamped with mbrl_logvar_clamp(raw, max_logvar[j], min_logvar[j], NULL))
 * and obs_dim rows otherwise. Inputs and outputs are normalized with `stats` as the planner's
 * learned model: in = concat(normalize(s), normalize(a)), next = s + unnormalize(mean
 * [+ exp(logvar/2) eps]). */
typedef struct mbrl_dyn_ensemble_export {
  char env_id[64];
  int obs_dim, act_dim;
  int members;                        /* M */
  int probabilistic;
  int n_elites;
  int elites[MBRL_DYN_ENSEMBLE_MAX_MEMBERS]; /* best first */
  int n_layers;
  int sizes[MBRL_MLP_MAX_LAYERS + 1];
  mbrl_act activation;
  size_t member_params;               /* floats per member */
  size_t w_off[MBRL_MLP_MAX_LAYERS], b_off[MBRL_MLP_MAX_LAYERS]; /* into a member's block */
  float *params;                      /* (members, member_params) HOST */
  float max_logvar[MBRL_MAX_DIM], min_logvar[MBRL_MAX_DIM]; /* (obs_dim), probabilistic */
  mbrl_dataset_stats stats;
} mbrl_dyn_ensemble_export;

/* Fold and export (any backend). Free with mbrl_dyn_ensemble_export_free. */
mbrl_status mbrl_dyn_ensemble_export_folded(const mbrl_dyn_ensemble *e,
                                            mbrl_dyn_ensemble_export **out);
void mbrl_dyn_ensemble_export_free(mbrl_dyn_ensemble_export *x);

/* Reference (plain C, double-free float math in layer order) step of an export: row i through
 * member members[i]: mean (B, obs) normalized delta and logvar (B, obs) clamped (NULL to skip;
 * must be NULL when deterministic). obs (B, obs_dim), act (B, act_dim). */
mbrl_status mbrl_dyn_ensemble_export_step(const mbrl_dyn_ensemble_export *x, const float *obs,
                                          const float *act, const int *members, int B,
                                          float *mean, float *logvar);

/* The mean head of member m as a learned mbrl_plan_model (the planner's single-model type:
 * folded BN, last layer's first obs_dim rows). The env must be known to the planner. */
struct mbrl_plan_model;
mbrl_status mbrl_dyn_ensemble_plan_model(const mbrl_dyn_ensemble *e, int m,
                                         struct mbrl_plan_model **out);

/* ---------------------------------------------------------------- checkpoint */

/* Write the checkpoint (layout above) to path atomically (nothing left on failure; an existing
 * file untouched). Overwrites: callers decide whether that is allowed. */
mbrl_status mbrl_dyn_ensemble_save(const mbrl_dyn_ensemble *e, const char *path);

/* Read and validate a checkpoint into a new ensemble on `backend` with forwards of up to
 * max_batch rows per member. Order: the seal (file digest) before HDF5 sees the file; an
 * unsealed file is refused without being parsed (no ensemble format was ever written without
 * one); then format and version, the attributes (bounded before anything is allocated for
 * them), each dataset's shape and sha256 digest, then the values. MBRL_ERR_FORMAT (naming the
 * file and the fault) for foreign, damaged or inconsistent files (no seal or a broken one,
 * wrong format/version, unknown env, shapes unlike the env or each other, elites out of range
 * or repeated, non-finite values, negative std); MBRL_ERR_IO for a missing file. */
mbrl_status mbrl_dyn_ensemble_load(const char *path, mbrl_backend backend, int max_batch,
                                   mbrl_dyn_ensemble **out);

/* 1 if path is a sealed file whose seal names the format "mbrl.dyn_ensemble" (checked without
 * HDF5: mbrl_h5_seal_check), else 0 (no error set; for apps that accept both checkpoint
 * kinds: a damaged ensemble file is 0, and the other kind's loader names the damage). */
int mbrl_dyn_ensemble_is_file(const char *path);

MBRL_EXTERN_C_END

#endif
