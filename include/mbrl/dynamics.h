/* mbrl/dynamics.h - the learned dynamics model of seed 003: a normalizer plus an mlp that
 * predicts the normalized state change, its trainer (Adam + MSE on minibatches) and its
 * evaluation (validation MSE, k-step open-loop RMSE), and the HDF5 checkpoint.
 *
 * Model: in = concat(normalize(s), normalize(a)) (B, obs+act) with the state/action stats;
 * out = mlp(in) (B, obs) predicts normalize(s' - s) with the delta stats; the prediction of
 * the next state is s + unnormalize(out). normalize(x) = (x - mean) / (std + 1e-8).
 * Default mlp (the seed's): Linear(obs+act,64)-BN-ReLU-Linear(64,64)-BN-ReLU-Linear(64,obs).
 *
 * Checkpoint (DESIGN.md "Dynamics checkpoint"; PyTorch state_dict names of the seed's Model):
 *   /model/network/<i>/{weight,bias[,running_mean,running_var,num_batches_tracked]}
 *   /normalizer/{state_mean,state_std,delta_state_mean,delta_state_std} f32 (obs),
 *   /normalizer/{action_mean,action_std} f32 (act)
 *   root attrs: format="mbrl.dynamics", format_version=2, env_id (str), hidden (int64 array,
 *   hidden widths), config (JSON text: the training configuration).
 * Written to a temporary name and renamed into place, sealed (mbrl/h5util.h: a digest per
 * dataset, fixed-length strings, a whole-file SHA-256 checked before HDF5 reads the file).
 * format_version 1 checkpoints (unsealed) still load, through mbrl_h5_guarded_read.
 *
 * Memory: every pointer taken here is HOST memory, on every backend. */
#ifndef MBRL_DYNAMICS_H
#define MBRL_DYNAMICS_H

#include <stddef.h>
#include <stdint.h>

#include "mbrl/common.h"
#include "mbrl/dataset.h"
#include "mbrl/device.h"
#include "mbrl/mlp.h"
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

#define MBRL_DYNAMICS_FORMAT "mbrl.dynamics"
#define MBRL_DYNAMICS_FORMAT_VERSION 2
#define MBRL_DYNAMICS_MAX_HIDDEN (MBRL_MLP_MAX_LAYERS - 1)

typedef struct mbrl_dynamics {
  char env_id[64];          /* Gymnasium id, e.g. "Pendulum-v1" */
  int obs_dim, act_dim;     /* 1..MBRL_MAX_DIM */
  mbrl_dataset_stats stats; /* normalizer (state/action/delta mean & std) */
  mbrl_mlp *mlp;            /* (B, obs+act) normalized input -> (B, obs) normalized delta */
  char config_json[2048];   /* training configuration (a JSON object), stored in the checkpoint */
  /* private scratch for predict/eval, sized for mlp->max_batch */
  float *h_in;  /* (max_batch, obs+act) host */
  float *h_out; /* (max_batch, obs) host */
  float *b_in;  /* (max_batch, obs+act) backend memory (== h_in on CPU) */
  float *b_out; /* (max_batch, obs) backend memory (== h_out on CPU) */
} mbrl_dynamics;

/* A model for env_id (not looked up: any id, widths 1..MBRL_MAX_DIM) with normalizer `stats`
 * (copied; NULL = mean 0, std 1), n_hidden (1..MBRL_DYNAMICS_MAX_HIDDEN) hidden layers of
 * widths hidden[0..n_hidden), BatchNorm after each when batchnorm != 0, ReLU, the seed's init
 * from `seed`, on `backend` (AUTO resolved) with batches up to max_batch (>= 2).
 * config_json starts as "{}". */
mbrl_status mbrl_dynamics_create(mbrl_dynamics **out, const char *env_id, int obs_dim,
                                 int act_dim, const mbrl_dataset_stats *stats, int n_hidden,
                                 const int *hidden, int batchnorm, mbrl_backend backend,
                                 int max_batch, uint64_t seed);

/* Release everything (NULL is fine). */
void mbrl_dynamics_free(mbrl_dynamics *d);

/* Eval-mode batch prediction: next_obs (B, obs) = obs + unnormalize(mlp(norm(obs), norm(act))).
 * obs (B, obs), act (B, act). Any B >= 1 (processed in chunks of max_batch).
 * next_obs may alias obs. */
mbrl_status mbrl_dynamics_predict_next(mbrl_dynamics *d, const float *obs, const float *act,
                                       int B, float *next_obs);

/* Eval-mode normalized output: delta_norm (B, obs) = mlp(norm(obs), norm(act)). Any B >= 1. */
mbrl_status mbrl_dynamics_predict_delta_normalized(mbrl_dynamics *d, const float *obs,
                                                   const float *act, int B, float *delta_norm);

/* Training set in the model's normalized units: x (n, obs+act) = concat(norm(s), norm(a)),
 * y (n, obs) = normalize(s' - s) with the delta stats, for rows 0..data->n of `data`
 * (whose widths must equal d's). */
mbrl_status mbrl_dynamics_normalize_data(const mbrl_dynamics *d, const mbrl_dataset *data,
                                         float *x, float *y);

/* Set d->config_json (a JSON object text, < sizeof config_json bytes). */
mbrl_status mbrl_dynamics_set_config(mbrl_dynamics *d, const char *json);

/* Write the checkpoint (layout above) to path atomically: on failure nothing is left and an
 * existing file at path is untouched. Overwrites: callers decide whether that is allowed. */
mbrl_status mbrl_dynamics_save(const mbrl_dynamics *d, const char *path);

/* Read and validate a checkpoint into a new model on `backend` (AUTO resolved) with batches up
 * to max_batch. Refuses (MBRL_ERR_FORMAT, message naming the file and the fault) non-HDF5,
 * truncated, damaged (seal or digest mismatch) or foreign files, a wrong format/version
 * (1 and 2 load), an unknown env_id or widths unlike the
 * env's, normalizer shapes unlike the network's, non-finite values or negative std values
 * (a std of 0, a constant column, is allowed: normalize adds 1e-8). A missing file is
 * MBRL_ERR_IO. */
mbrl_status mbrl_dynamics_load(const char *path, mbrl_backend backend, int max_batch,
                               mbrl_dynamics **out);

/* ---------------------------------------------------------------- training */

typedef struct mbrl_dynamics_trainer mbrl_dynamics_trainer; /* opaque */

/* A trainer of d on every row of train_data (widths equal d's): normalizes the set once,
 * creates the optimizer (opt, e.g. mbrl_optim_adam_config(0.01, 0.99, 0.999)) and an
 * mbrl_sampler (batch in [2, train_data->n], `seed`): epoch e is a Philox(seed, e) permutation,
 * the last partial batch of an epoch is dropped. CUDA models train on the GPU with the same
 * minibatches. d must outlive the trainer. */
mbrl_status mbrl_dynamics_trainer_create(mbrl_dynamics_trainer **out, mbrl_dynamics *d,
                                         const mbrl_dataset *train_data,
                                         const mbrl_optim_config *opt, int batch, uint64_t seed);

/* Run n >= 1 training steps (train-mode forward, MSE, backward, optimizer step). losses (n,
 * HOST, may be NULL) receives each step's loss before its update. A non-finite loss stops
 * with MBRL_ERR_NUMERIC naming the step (on CUDA checked at the end of the n steps). */
mbrl_status mbrl_dynamics_trainer_run(mbrl_dynamics_trainer *t, int n, float *losses);

/* Steps run so far. */
long long mbrl_dynamics_trainer_steps(const mbrl_dynamics_trainer *t);

/* Release the trainer (NULL is fine); the model d stays. */
void mbrl_dynamics_trainer_free(mbrl_dynamics_trainer *t);

/* ---------------------------------------------------------------- evaluation */

/* Eval-mode MSE of the normalized delta over every row of data (the training loss's measure
 * on held-out data): mean over rows and dims of (mlp(in) - normalize(s' - s))^2. */
mbrl_status mbrl_dynamics_eval_mse(mbrl_dynamics *d, const mbrl_dataset *data, double *mse);

/* k-step open-loop RMSE per state dim in raw units (rmse (obs_dim)): for EVERY start row t
 * whose episode has k rows from t on (rows t..t+k-1 in one episode), start from s_t, apply
 * the recorded actions a_t..a_{t+k-1} feeding the model its own predictions, and compare the
 * k-th prediction with the recorded s_{t+k} (= next_observations[t+k-1]). RMSE over all such
 * starts. k = 1 is the 1-step error over every row. MBRL_ERR_INVALID_ARG if no episode has
 * k rows (see mbrl_dynamics_open_loop_starts). */
mbrl_status mbrl_dynamics_open_loop_rmse(mbrl_dynamics *d, const mbrl_dataset *data, int k,
                                         double *rmse);

/* Number of start rows mbrl_dynamics_open_loop_rmse uses for k (0 if none; k >= 1). */
size_t mbrl_dynamics_open_loop_starts(const mbrl_dataset *data, int k);

MBRL_EXTERN_C_END

#endif
