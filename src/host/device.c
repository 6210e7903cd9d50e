/* device.c - backend choice and CUDA device query. */
#include "mbrl/device.h"

#include <stdio.h>
#include <string.h>

#ifdef MBRL_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

int mbrl_cuda_compiled(void) {
#ifdef MBRL_HAVE_CUDA
  return 1;
#else
  return 0;
#endif
}

int mbrl_cuda_device_count(void) {
#ifdef MBRL_HAVE_CUDA
  static int cached = -1;
  if (cached < 0) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError(); /* clear the sticky "no device" error */
      n = 0;
    }
    cached = n;
  }
  return cached;
#else
  return 0;
#endif
}

mbrl_status mbrl_backend_parse(const char *name, mbrl_backend *out) {
  if (name && strcmp(name, "auto") == 0) { *out = MBRL_BACKEND_AUTO; return MBRL_OK; }
  if (name && strcmp(name, "cpu") == 0) { *out = MBRL_BACKEND_CPU; return MBRL_OK; }
  if (name && strcmp(name, "cuda") == 0) { *out = MBRL_BACKEND_CUDA; return MBRL_OK; }
  return mbrl_set_error(MBRL_ERR_INVALID_ARG,
                        "unknown device '%s': use auto, cpu or cuda", name ? name : "(null)");
}

mbrl_status mbrl_backend_resolve(mbrl_backend requested, mbrl_backend *out) {
  switch (requested) {
    case MBRL_BACKEND_CPU: *out = MBRL_BACKEND_CPU; return MBRL_OK;
    case MBRL_BACKEND_AUTO:
      *out = mbrl_cuda_device_count() > 0 ? MBRL_BACKEND_CUDA : MBRL_BACKEND_CPU;
      return MBRL_OK;
    case MBRL_BACKEND_CUDA:
      if (!mbrl_cuda_compiled())
        return mbrl_set_error(MBRL_ERR_UNSUPPORTED,
                              "device cuda requested, but this build has no CUDA backend "
                              "(rebuild with -DMBRL_CUDA=ON, or use --device cpu)");
      if (mbrl_cuda_device_count() == 0)
        return mbrl_set_error(MBRL_ERR_UNSUPPORTED,
                              "device cuda requested, but no CUDA GPU is present on this "
                              "machine (use --device cpu or --device auto)");
      *out = MBRL_BACKEND_CUDA;
      return MBRL_OK;
  }
  return mbrl_set_error(MBRL_ERR_INVALID_ARG, "unknown backend value %d", (int)requested);
}

const char *mbrl_backend_name(mbrl_backend b) {
  switch (b) {
    case MBRL_BACKEND_AUTO: return "auto";
    case MBRL_BACKEND_CPU: return "cpu";
    case MBRL_BACKEND_CUDA: return "cuda";
  }
  return "?";
}

const char *mbrl_cuda_device_name(void) {
#ifdef MBRL_HAVE_CUDA
  static char name[300];
  if (name[0] == '\0' && mbrl_cuda_device_count() > 0) {
    struct cudaDeviceProp p;
    int dev = 0;
    if (cudaGetDevice(&dev) == cudaSuccess && cudaGetDeviceProperties(&p, dev) == cudaSuccess)
      snprintf(name, sizeof name, "%s (sm_%d%d, %d SMs)", p.name, p.major, p.minor,
               p.multiProcessorCount);
  }
  return name;
#else
  return "";
#endif
}
