/* src/host/dynamics_cuda.h - private: the CUDA trainer of the dynamics module.
 *
 * dynamics.c calls these when d->mlp->backend == MBRL_BACKEND_CUDA (builds with
 * MBRL_HAVE_CUDA only); implemented in src/kernels/dynamics_train.cu. Same contracts as
 * mbrl_dynamics_trainer_create/_run/_free in mbrl/dynamics.h (arguments already checked by
 * dynamics.c: batch in [2, min(train_data->n, d->mlp->max_batch)], n >= 1, widths match).
 *
 * What the CUDA trainer must do:
 * - get the normalized training set with mbrl_dynamics_normalize_data (host arrays x (n, in),
 *   y (n, obs)) and keep it resident on the GPU;
 * - draw the SAME minibatches as the CPU trainer: an mbrl_sampler over rows 0..n-1 with
 *   (batch, seed) -- epoch e is the Fisher-Yates permutation from Philox(seed, subsequence e),
 *   floor(n / batch) batches per epoch, batch j = perm[j*batch .. (j+1)*batch), the rest
 *   dropped (e.g. upload each epoch's permutation once at the epoch start, or compute it on
 *   the GPU);
 * - per step: gather on the GPU, train-mode forward, MSE, backward, Adam (opt) on d->mlp's
 *   device params, with no host-device copy and no synchronization per step;
 * - losses (n, HOST, may be NULL): each step's loss before its update, copied back once at
 *   the end of a run; a non-finite loss returns MBRL_ERR_NUMERIC naming the first such step
 *   (1-based count over the trainer's life, as the CPU trainer does). */
#ifndef MBRL_SRC_HOST_DYNAMICS_CUDA_H
#define MBRL_SRC_HOST_DYNAMICS_CUDA_H

#include "mbrl/dynamics.h"

#ifdef MBRL_HAVE_CUDA
MBRL_EXTERN_C_BEGIN

typedef struct mbrl_dynamics_trainer_cuda mbrl_dynamics_trainer_cuda; /* private */

mbrl_status mbrl_dynamics_trainer_cuda_create(mbrl_dynamics_trainer_cuda **out,
                                              mbrl_dynamics *d, const mbrl_dataset *train_data,
                                              const mbrl_optim_config *opt, int batch,
                                              uint64_t seed);
mbrl_status mbrl_dynamics_trainer_cuda_run(mbrl_dynamics_trainer_cuda *t, int n,
                                           float *losses);
/* Steps run so far. */
long long mbrl_dynamics_trainer_cuda_steps(const mbrl_dynamics_trainer_cuda *t);
void mbrl_dynamics_trainer_cuda_free(mbrl_dynamics_trainer_cuda *t);

MBRL_EXTERN_C_END
#endif

#endif
