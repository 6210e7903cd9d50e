/* src/host/dyn_ensemble_internal.h - private to the dyn_ensemble module (dyn_ensemble.c, the
 * trainer dyn_ensemble_train.c and the checkpoint dyn_ensemble_h5.c): memory on the ensemble's
 * backend and the op dispatch both backends share. */
#ifndef MBRL_SRC_HOST_DYN_ENSEMBLE_INTERNAL_H
#define MBRL_SRC_HOST_DYN_ENSEMBLE_INTERNAL_H

#include "mbrl/dyn_ensemble.h"

MBRL_EXTERN_C_BEGIN

/* `bytes` of zeroed memory on backend `be` (host: 64-byte aligned; CUDA: cudaMalloc). */
mbrl_status mbrl_dyn_ensemble_mem_alloc(mbrl_backend be, void **p, size_t bytes);
/* Release memory from mbrl_dyn_ensemble_mem_alloc (NULL is fine). */
void mbrl_dyn_ensemble_mem_free(mbrl_backend be, void *p);
/* Copy bytes between host memory and backend memory (to_backend = 1: host -> backend; on the
 * CPU backend a memcpy). Synchronous. */
mbrl_status mbrl_dyn_ensemble_mem_copy(mbrl_backend be, void *dst, const void *src, size_t bytes,
                                       int to_backend);

/* y (n, C) = X[idx] on e's backend (backend memory), the trainer's minibatch gather. */
mbrl_status mbrl_dyn_ensemble_gather(const mbrl_dyn_ensemble *e, float *y, const float *X,
                                     const int32_t *idx, size_t n, int C);

/* Training-set arrays of e's model units: x (n, obs+act) = concat(norm(s), norm(a)),
 * y (n, obs) = normalize(s' - s) with the delta stats; HOST. data's widths must equal e's. */
mbrl_status mbrl_dyn_ensemble_normalize_data(const mbrl_dyn_ensemble *e, const mbrl_dataset *data,
                                             float *x, float *y);

MBRL_EXTERN_C_END

#endif
