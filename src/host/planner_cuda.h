/* src/host/planner_cuda.h - private: the CUDA backend of the planner (src/kernels/planner.cu).
 *
 * planner.c checks every argument and owns the host side; these functions hold the device
 * buffers of one planner in an opaque state. */
#ifndef MBRL_SRC_HOST_PLANNER_CUDA_H
#define MBRL_SRC_HOST_PLANNER_CUDA_H

#include "mbrl/planner.h"

#ifdef MBRL_HAVE_CUDA
MBRL_EXTERN_C_BEGIN

/* Device state for plans of K samples, horizon H, discount gamma, up to max_envs envs over
 * model m (weights uploaded here; m->spec->kind picks the rollout kernel's instantiation);
 * score_next as in mbrl_planner_config, shaped: 1 for MBRL_PLAN_COST_SHAPED, project: 1 to
 * apply the env's project_obs after every learned step (mbrl_planner_config.no_projection
 * 0). An ensemble
 * model (m->members > 0) rolls `particles` rows per sequence with `propagation`
 * (mbrl_plan_propagation) and `sample` (1: probabilistic members sample); ignored otherwise.
 * Fails with
 * MBRL_ERR_INVALID_ARG naming the bytes when the device lacks `device_bytes` of free memory,
 * MBRL_ERR_CUDA on other CUDA failures. */
mbrl_status mbrl_planner_cuda_create(void **state, const mbrl_plan_model *m, int K, int H,
                                     float gamma, int score_next, int shaped, int project,
                                     int max_envs,
                                     int particles, int propagation, int sample,
                                     size_t device_bytes);
void mbrl_planner_cuda_free(void *state);

/* One plan for E envs: obs (E, obs_dim) host, seeds (E) host, prior (E, H, act) host or NULL
 * (sequence 1 of each env), results (E) host. Launches the
 * rollout kernel and the gather kernel, then copies the E results back (synchronizes). */
mbrl_status mbrl_planner_cuda_plan(void *state, const float *obs, const uint64_t *seeds,
                                   const float *prior, int E, mbrl_plan_result *results);

/* Copy the last plan's costs (E, K) to host memory. */
mbrl_status mbrl_planner_cuda_costs(void *state, int E, float *costs);

/* Costs of caller-given sequences (mbrl_planner_evaluate_batch_seeded): obs (E, obs) host,
 * actions (E, Kn, H, act) HOST (copied into a device buffer the first call allocates: E_max x
 * K x H x act floats), pseeds (E) host or NULL (zeros; ensembles only), costs (E, Kn) and s1
 * (E, Kn, obs) or NULL host. Synchronizes. */
mbrl_status mbrl_planner_cuda_evaluate(void *state, const float *obs, const float *actions,
                                       const uint64_t *pseeds, int E, int Kn, float *costs,
                                       float *s1);

/* The same with the sequences already in DEVICE memory d_actions (E, Kn, H, act) (Kn <= K),
 * pseeds (E) host or NULL:
 * enqueues the rollout on the planner's stream (mbrl_planner_cuda_stream) and returns without
 * synchronizing; the costs land in mbrl_planner_cuda_device_costs (E rows of stride K). The
 * caller orders its own work on that stream. */
mbrl_status mbrl_planner_cuda_evaluate_device(void *state, const float *obs,
                                              const uint64_t *pseeds, const float *d_actions,
                                              int E, int Kn);
void *mbrl_planner_cuda_stream(void *state);               /* the cudaStream_t */
const float *mbrl_planner_cuda_device_costs(void *state);  /* (E_max, K) device */
int mbrl_planner_cuda_samples(void *state);                 /* K: the row stride of the costs */

MBRL_EXTERN_C_END
#endif

MBRL_EXTERN_C_BEGIN
/* The CUDA state of a CUDA planner (planner.c), NULL for a CPU planner or a CPU-only build:
 * the sampling optimizers (plan_opt.c) score on the device through it. */
void *mbrl_planner_cuda_state(mbrl_planner *p);
MBRL_EXTERN_C_END

#endif
