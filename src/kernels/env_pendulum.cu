// env_pendulum.cu - batched Pendulum-v1 step and reward on the GPU.
// CUDA twin of mbrl_pendulum_batch_step (src/host/env.c): one thread per env, the same
// MBRL_HD functions from mbrl/pendulum.h (reward on the pre-step state, then the step).
#include <cuda_runtime.h>

extern "C" {
#include "mbrl/pendulum.h"
}

// ---------------------------------------------------------------- kernels

__global__ void pendulum_batch_step_kernel(int B, double *th, double *thdot, const float *u,
                                           float *obs, float *reward) {
  int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= B) return;
  double t = th[b], td = thdot[b];
  float ub = u[b];
  if (reward) reward[b] = (float)mbrl_pendulum_reward(t, td, ub);
  mbrl_pendulum_step(&t, &td, ub);
  th[b] = t;
  thdot[b] = td;
  if (obs) mbrl_pendulum_obs(t, td, obs + (size_t)b * 3);
}

// ---------------------------------------------------------------- launchers

extern "C" mbrl_status mbrl_pendulum_batch_step_cuda(int B, double *th, double *thdot,
                                                     const float *u, float *obs, float *reward,
                                                     void *stream) {
  if (B < 0)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_pendulum_batch_step_cuda: B=%d < 0", B);
  if (B == 0) return MBRL_OK;
  if (!th || !thdot || !u)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                          "mbrl_pendulum_batch_step_cuda: th, thdot and u must not be NULL");
  const int block = 256;
  const int grid = MBRL_CEIL_DIV(B, block);
  pendulum_batch_step_kernel<<<grid, block, 0, (cudaStream_t)stream>>>(B, th, thdot, u, obs,
                                                                       reward);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    return mbrl_set_error(MBRL_ERR_CUDA, "mbrl_pendulum_batch_step_cuda: launch of %d envs failed: %s",
                          B, cudaGetErrorString(err));
  return MBRL_OK;
}
