/* src/host/plan_opt_cuda.h - private: the CUDA side of the sampling optimizers
 * (src/kernels/plan_opt.cu; plan_opt.c owns the host side and every check).
 *
 * One iteration of CEM or MPPI for E environments on the device: the population is drawn
 * by a sampling kernel from the optimizer's Philox streams (mbrl_plan_opt_rng,
 * mbrl_plan_opt_truncnormal and the per-element MBRL_HD math of mbrl/plan_opt.h, the CPU
 * twin's), scored by the planner's fused rollout over device-resident sequences
 * (mbrl_planner_cuda_evaluate_device), and copied back with its costs, so that the update
 * (sorting, elite moments, MPPI weights) runs on the host in the CPU twin's own functions. */
#ifndef MBRL_SRC_HOST_PLAN_OPT_CUDA_H
#define MBRL_SRC_HOST_PLAN_OPT_CUDA_H

#include "mbrl/plan_opt.h"

#ifdef MBRL_HAVE_CUDA
MBRL_EXTERN_C_BEGIN

/* Device state for populations of N rows of H x A entries for up to Emax envs, scored by the
 * CUDA planner state `planner` (mbrl_planner_cuda_state; its samples must be >= N). lo/hi (A)
 * are the sampling bounds; n_actions > 0: a discrete env (the rows are scored rounded to
 * indices). MBRL_ERR_NOMEM / MBRL_ERR_CUDA on failure. */
mbrl_status mbrl_plan_opt_cuda_create(void **state, void *planner, int Emax, int N, int H, int A,
                                      const float *lo, const float *hi, int n_actions);
void mbrl_plan_opt_cuda_free(void *state);

/* One iteration `it` for E envs seeded seeds (E): kind CEM (a = mu (E, H*A), b = var
 * (E, H*A)) or MPPI (a = mean (E, H*A), b = past actions (E, A), sigma, beta), all HOST.
 * Draws the N rows per env on the device, scores them, and returns pop (E, N, H*A) and costs
 * (E, N) in HOST memory (rows of env e at e * N). obs (E, obs_dim) host. Synchronizes. */
mbrl_status mbrl_plan_opt_cuda_iterate(void *state, mbrl_plan_opt_kind kind, const float *obs,
                                       const uint64_t *seeds, int E, int it, const float *a,
                                       const float *b, float sigma, float beta, float *pop,
                                       float *costs);

MBRL_EXTERN_C_END
#endif

#endif
