// env_physics.cu - batched env step on the GPU: the CUDA twin of mbrl_env_batch_physics
// (src/host/env.c). One kernel per registered env, instantiated from MBRL_ENV_LIST with the
// env header's MBRL_HD functions (the same step and observation code the CPU runs), one
// thread per state.
#include <cuda_runtime.h>

extern "C" {
#include "mbrl/env.h"
}

// ---------------------------------------------------------------- kernels

#define DEFINE_PHYSICS_KERNEL(NAME, name)                                                       \
  __global__ void physics_kernel_##name(int B, double *s, const float *actions, float *obs,    \
                                        float *rewards, uint8_t *terminated) {                  \
    const int D = MBRL_##NAME##_STATE_DIM, O = MBRL_##NAME##_OBS_DIM, A = MBRL_##NAME##_ACT_DIM; \
    const int b = blockIdx.x * blockDim.x + threadIdx.x;                                        \
    if (b >= B) return;                                                                         \
    double st[D];                                                                               \
    for (int k = 0; k < D; ++k) st[k] = s[(size_t)k * B + b];                                   \
    int term;                                                                                   \
    const double r = mbrl_##name##_step_state(st, actions + (size_t)b * A, 0, &term);           \
    for (int k = 0; k < D; ++k) s[(size_t)k * B + b] = st[k];                                   \
    if (obs) mbrl_##name##_obs_from_state(st, obs + (size_t)b * O);                             \
    if (rewards) rewards[b] = (float)r;                                                         \
    if (terminated) terminated[b] = (uint8_t)term;                                              \
  }
MBRL_ENV_LIST(DEFINE_PHYSICS_KERNEL)
#undef DEFINE_PHYSICS_KERNEL

// ---------------------------------------------------------------- launcher

extern "C" mbrl_status mbrl_env_batch_physics_cuda(const mbrl_env_spec *spec, int B, double *s,
                                                   const float *actions, float *obs,
                                                   float *rewards, uint8_t *terminated,
                                                   void *stream) {
  if (!spec || (int)spec->kind < 0 || (int)spec->kind >= MBRL_ENV_COUNT)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_env_batch_physics_cuda: no env spec");
  if (B < 0)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_env_batch_physics_cuda: B=%d < 0", B);
  if (B == 0) return MBRL_OK;
  if (!s || !actions)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "mbrl_env_batch_physics_cuda: the states and actions must not be NULL");
  const int block = 256;
  const int grid = MBRL_CEIL_DIV(B, block);
  cudaStream_t st = (cudaStream_t)stream;
  switch (spec->kind) {
#define LAUNCH(NAME, name)                                                                   \
  case MBRL_ENV_##NAME:                                                                      \
    physics_kernel_##name<<<grid, block, 0, st>>>(B, s, actions, obs, rewards, terminated); \
    break;
    MBRL_ENV_LIST(LAUNCH)
#undef LAUNCH
    default:
      break;
  }
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    return mbrl_set_error(MBRL_ERR_CUDA, "mbrl_env_batch_physics_cuda: launch of %d %s envs failed: %s",
                          B, spec->id, cudaGetErrorString(err));
  return MBRL_OK;
}
