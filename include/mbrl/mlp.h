/* mbrl/mlp.h - Linear / BatchNorm1d / activation stacks with PyTorch semantics, their
 * optimizers (Adam, RMSprop), flat state vectors and HDF5 save/load.
 *
 * Architecture: L Linear layers, widths sizes[0] (input) ... sizes[L] (output). Every hidden
 * Linear (all but the last) is followed by BatchNorm1d (if cfg.batchnorm) and the hidden
 * activation. The PyTorch equivalent is nn.Sequential(Linear, [BatchNorm1d], [ReLU|Tanh], ...,
 * Linear); module indices in state_dict names count those modules (the seed's model:
 * network.0 Linear, .1 BN, .2 ReLU, .3 Linear, .4 BN, .5 ReLU, .6 Linear).
 *
 * Memory: params, grads, BN buffers and the workspace live on the mlp's backend (host memory
 * for CPU, cudaMalloc'ed device memory for CUDA). Pointers handed to forward/backward/train
 * functions (x, y, dy, dx, target, loss) are in that same memory. Get/set/save/load functions
 * take HOST memory on every backend.
 *
 * Parameter layout (one contiguous float array, state_dict order, grads identical):
 *   for l in 0..L-1: W_l (sizes[l+1], sizes[l]) row-major [out, in], b_l (sizes[l+1]),
 *                    and for a hidden layer with BN: gamma_l (sizes[l+1]), beta_l (sizes[l+1]).
 * BN buffers (separate array): running_mean_l, running_var_l per hidden layer; the
 * num_batches_tracked counters are host integers.
 * State vector (seed 000's model_weights_as_vector, host floats): state_dict order, i.e. per
 * layer W, b, [gamma, beta, running_mean, running_var, (float)num_batches_tracked]. */
#ifndef MBRL_MLP_H
#define MBRL_MLP_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "mbrl/device.h"
#include "mbrl/nn.h"
#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

#define MBRL_MLP_MAX_LAYERS 8

typedef struct mbrl_mlp_config {
  int n_layers;                          /* L, number of Linear layers, 1..MBRL_MLP_MAX_LAYERS */
  int sizes[MBRL_MLP_MAX_LAYERS + 1];    /* sizes[0] = input width ... sizes[L] = output width */
  int batchnorm;                         /* 1: BatchNorm1d after every hidden Linear */
  mbrl_act activation;                   /* hidden activation (after BN when present) */
  float bn_momentum;                     /* 0.1 */
  float bn_eps;                          /* 1e-5 */
  float init_gain[MBRL_MLP_MAX_LAYERS];  /* orthogonal init gain per Linear layer (1.0) */
  uint64_t seed;                         /* init RNG seed (Philox) */
} mbrl_mlp_config;

typedef struct mbrl_mlp {
  mbrl_mlp_config cfg;
  mbrl_backend backend; /* MBRL_BACKEND_CPU or MBRL_BACKEND_CUDA, never AUTO */
  int max_batch;        /* largest B forward accepts */
  size_t n_params;      /* floats in params and grads */
  size_t n_buffers;     /* floats in buffers */
  size_t w_off[MBRL_MLP_MAX_LAYERS], b_off[MBRL_MLP_MAX_LAYERS];         /* into params */
  size_t gamma_off[MBRL_MLP_MAX_LAYERS], beta_off[MBRL_MLP_MAX_LAYERS];  /* BN layers only */
  size_t rmean_off[MBRL_MLP_MAX_LAYERS], rvar_off[MBRL_MLP_MAX_LAYERS];  /* into buffers */
  long long num_batches_tracked[MBRL_MLP_MAX_LAYERS]; /* per BN layer, host */
  float *params;  /* (n_params) */
  float *grads;   /* (n_params) */
  float *buffers; /* (n_buffers) */
  /* workspace (backend memory), sized for max_batch */
  float *x_in;                      /* (max_batch, sizes[0]) copy of the last forward input */
  float *z[MBRL_MLP_MAX_LAYERS];    /* (max_batch, sizes[l+1]) hidden Linear output, BN only */
  float *a[MBRL_MLP_MAX_LAYERS];    /* (max_batch, sizes[l+1]) hidden activation output */
  float *mean[MBRL_MLP_MAX_LAYERS]; /* (sizes[l+1]) BN statistics saved by forward */
  float *rstd[MBRL_MLP_MAX_LAYERS]; /* (sizes[l+1]) */
  float *dbuf[2];                   /* (max_batch, max width) backward ping-pong */
  float *dy_buf;                    /* (max_batch, sizes[L]) dL/dy for the train-step helper */
  int last_B;                       /* batch of the last forward, 0 before any */
  int last_train;                   /* mode of the last forward */
  void *stream;                     /* CUDA stream (NULL = default); unused on CPU */
  void *cuda;                       /* private state of the CUDA path (cuBLAS handle, ...) */
} mbrl_mlp;

/* Fill *c with defaults for `n_layers` Linear layers of widths sizes[0..n_layers]: no BN,
 * ReLU, momentum 0.1, eps 1e-5, gains 1, seed 0. */
void mbrl_mlp_config_init(mbrl_mlp_config *c, int n_layers, const int *sizes);

/* Check a config; MBRL_ERR_INVALID_ARG names the bad field. */
mbrl_status mbrl_mlp_config_check(const mbrl_mlp_config *c);

/* Allocate an mlp on `backend` (CPU or CUDA; AUTO is resolved) with a workspace for batches up
 * to max_batch, and initialize it (mbrl_mlp_init_params with cfg->seed). Free with mbrl_mlp_free. */
mbrl_status mbrl_mlp_create(mbrl_mlp **out, const mbrl_mlp_config *cfg, mbrl_backend backend,
                            int max_batch);

/* Release everything (NULL is fine). */
void mbrl_mlp_free(mbrl_mlp *m);

/* Re-initialize as the seed's weight_init: orthogonal W_l * init_gain[l] (torch.nn.init.
 * orthogonal_ semantics, Philox normals from `seed`), zero biases, BN gamma 1 beta 0, running
 * mean 0 var 1, num_batches_tracked 0. Deterministic for a seed on every backend. */
mbrl_status mbrl_mlp_init_params(mbrl_mlp *m, uint64_t seed);

/* y = mlp(x). x (B, sizes[0]), y (B, sizes[L]), backend memory, 1 <= B <= max_batch.
 * train=1: BN uses batch statistics (needs B >= 2), updates running stats and
 * num_batches_tracked; train=0: BN uses running statistics. Saves what backward needs. */
mbrl_status mbrl_mlp_forward(mbrl_mlp *m, const float *x, int B, float *y, int train);

/* Backward of the LAST forward from the caller's dL/dy dy (B, sizes[L]): OVERWRITES m->grads
 * (no accumulation) and, if dx is not NULL, writes dL/dx (B, sizes[0]). BN is differentiated
 * in the mode of that forward. */
mbrl_status mbrl_mlp_backward(mbrl_mlp *m, const float *dy, float *dx);

/* One forward(train) + MSE(pred, target) + backward + optimizer step. x (B, sizes[0]),
 * target (B, sizes[L]); *loss (backend memory, may be NULL) receives the loss before the step. */
struct mbrl_optim;
mbrl_status mbrl_mlp_train_step_mse(mbrl_mlp *m, struct mbrl_optim *opt, const float *x,
                                    const float *target, int B, float *loss);

/* Forward of M mlps of identical config and backend on the same input: x (B, sizes[0]),
 * y (M, B, sizes[L]). Same as M calls of mbrl_mlp_forward (one batched computation on CUDA). */
mbrl_status mbrl_mlp_forward_many(mbrl_mlp *const *ms, int M, const float *x, int B, float *y,
                                  int train);

/* Scale m->grads as torch.nn.utils.clip_grad_norm_(max_norm); *norm (HOST, may be NULL)
 * receives the total norm before clipping (on CUDA a non-NULL norm synchronizes). */
mbrl_status mbrl_mlp_clip_grad_norm(mbrl_mlp *m, float max_norm, float *norm);

/* Floats in the flat state vector (params + BN buffers + one per num_batches_tracked). */
size_t mbrl_mlp_state_size(const mbrl_mlp *m);

/* Copy the state vector to / from HOST memory (state_size floats, state_dict order). */
mbrl_status mbrl_mlp_get_state(const mbrl_mlp *m, float *state);
mbrl_status mbrl_mlp_set_state(mbrl_mlp *m, const float *state);

/* Copy params / grads (n_params floats, layout above) to or from HOST memory. */
mbrl_status mbrl_mlp_get_params(const mbrl_mlp *m, float *params);
mbrl_status mbrl_mlp_set_params(mbrl_mlp *m, const float *params);
mbrl_status mbrl_mlp_get_grads(const mbrl_mlp *m, float *grads);

/* Copy the BN running buffers (n_buffers floats) to HOST memory. */
mbrl_status mbrl_mlp_get_buffers(const mbrl_mlp *m, float *buffers);

/* A new plain mlp (no BN, same backend, workspace for max_batch) whose Linear layers absorb
 * m's eval-mode BN: W' = W * s per row, b' = (b - running_mean) * s + beta,
 * s = gamma / sqrt(running_var + eps). Its eval forward equals m's eval forward. */
mbrl_status mbrl_mlp_fold_batchnorm(const mbrl_mlp *m, int max_batch, mbrl_mlp **out);

/* ---------------- HDF5 (src/host/mlp_h5.c) ---------------- */

/* Write the state under group `prefix` of `loc` (created as needed) with PyTorch state_dict
 * names: prefix/<i>/weight [out,in] f32, .../bias, BN .../running_mean, running_var f32,
 * num_batches_tracked int64 scalar; group attrs sizes, batchnorm, activation ("relu" ...). */
mbrl_status mbrl_mlp_write_h5(const mbrl_mlp *m, hid_t loc, const char *prefix);

/* Read a state written by mbrl_mlp_write_h5 (or by PyTorch with those names) into m; shapes
 * must match m's config, else MBRL_ERR_FORMAT naming the dataset. */
mbrl_status mbrl_mlp_read_h5(mbrl_mlp *m, hid_t loc, const char *prefix);

/* Recover a config from the group: sizes and BN from dataset shapes, the activation from the
 * "activation" attribute (default "relu" when absent). */
mbrl_status mbrl_mlp_config_from_h5(hid_t loc, const char *prefix, mbrl_mlp_config *cfg);

/* Whole-file helpers: save writes `path` atomically (temp name + rename) with the mlp under
 * "/network"; load creates an mlp from such a file (or any file with `prefix`). */
mbrl_status mbrl_mlp_save(const mbrl_mlp *m, const char *path);
mbrl_status mbrl_mlp_load(const char *path, const char *prefix, mbrl_backend backend,
                          int max_batch, mbrl_mlp **out);

/* ---------------- optimizers ---------------- */

typedef enum mbrl_optim_kind { MBRL_OPTIM_ADAM = 1, MBRL_OPTIM_RMSPROP = 2 } mbrl_optim_kind;

typedef struct mbrl_optim_config {
  mbrl_optim_kind kind;
  float lr;
  float beta1, beta2; /* Adam (0.9, 0.999 defaults; the seed uses 0.99, 0.999) */
  float alpha;        /* RMSprop smoothing (0.99) */
  float eps;          /* Adam 1e-8, RMSprop 1e-8 (SB3's A2C uses 1e-5) */
} mbrl_optim_config;

/* PyTorch defaults for Adam (betas 0.9/0.999, eps 1e-8) and RMSprop (alpha 0.99, eps 1e-8). */
mbrl_optim_config mbrl_optim_adam_config(float lr, float beta1, float beta2);
mbrl_optim_config mbrl_optim_rmsprop_config(float lr, float alpha, float eps);

typedef struct mbrl_optim {
  mbrl_optim_config cfg;
  mbrl_backend backend;
  size_t n;        /* = mlp n_params */
  float *m;        /* (n) Adam exp_avg, or RMSprop square_avg; backend memory */
  float *v;        /* (n) Adam exp_avg_sq; NULL for RMSprop */
  long long step;  /* steps taken */
} mbrl_optim;

/* Optimizer state (zeros) for the parameters of `m`, on m's backend. */
mbrl_status mbrl_optim_create(mbrl_optim **out, const mbrl_optim_config *cfg, const mbrl_mlp *m);
void mbrl_optim_free(mbrl_optim *o);

/* One update of m->params from m->grads (PyTorch's formula for the kind, see nn.h). */
mbrl_status mbrl_optim_step(mbrl_optim *o, mbrl_mlp *m);

/* Zero the moments and the step count (e.g. after new weights were imported). */
mbrl_status mbrl_optim_reset(mbrl_optim *o);

MBRL_EXTERN_C_END

#endif
