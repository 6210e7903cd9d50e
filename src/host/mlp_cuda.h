/* src/host/mlp_cuda.h - private: the CUDA path of the mlp module.
 *
 * mlp.c owns the generic parts (config, layout, init on the host, get/set, fold, HDF5) and
 * moves memory through the helpers below; it dispatches forward/backward/step/clip to these
 * functions when m->backend == MBRL_BACKEND_CUDA. Implemented in src/kernels/mlp.cu. */
#ifndef MBRL_SRC_HOST_MLP_CUDA_H
#define MBRL_SRC_HOST_MLP_CUDA_H

#include "mbrl/mlp.h"

#ifdef MBRL_HAVE_CUDA
MBRL_EXTERN_C_BEGIN

/* cudaMalloc `bytes` into *p (MBRL_ERR_NOMEM with a message on failure); *p zeroed. */
mbrl_status mbrl_mlp_cuda_alloc(void **p, size_t bytes);
/* cudaFree (NULL is fine). */
void mbrl_mlp_cuda_free(void *p);
/* Synchronous copy: to_device=1 host->device, 0 device->host. */
mbrl_status mbrl_mlp_cuda_copy(void *dst, const void *src, size_t bytes, int to_device);

/* Called at the end of mbrl_mlp_create (all buffers allocated) / start of mbrl_mlp_free:
 * create and destroy whatever m->cuda holds (cuBLAS handle, graphs, ...). */
mbrl_status mbrl_mlp_cuda_setup(mbrl_mlp *m);
void mbrl_mlp_cuda_teardown(mbrl_mlp *m);

/* Same contracts as the public functions in mlp.h (arguments already checked by mlp.c).
 * Host bookkeeping stays in mlp.c, for both backends: after a successful forward /
 * train step it sets m->last_B, m->last_train and increments m->num_batches_tracked (train
 * mode, BN layers) - the CUDA path must not. The optimizer's step count is the CUDA path's:
 * mbrl_optim_step_cuda (and so the train step) increments o->step, then uses it as t. */
mbrl_status mbrl_mlp_forward_cuda(mbrl_mlp *m, const float *x, int B, float *y, int train);
mbrl_status mbrl_mlp_backward_cuda(mbrl_mlp *m, const float *dy, float *dx);
mbrl_status mbrl_mlp_train_step_mse_cuda(mbrl_mlp *m, mbrl_optim *opt, const float *x,
                                         const float *target, int B, float *loss);
mbrl_status mbrl_mlp_forward_many_cuda(mbrl_mlp *const *ms, int M, const float *x, int B,
                                       float *y, int train);
mbrl_status mbrl_mlp_clip_grad_norm_cuda(mbrl_mlp *m, float max_norm, float *norm);
mbrl_status mbrl_optim_step_cuda(mbrl_optim *o, mbrl_mlp *m);

MBRL_EXTERN_C_END
#endif

#endif
