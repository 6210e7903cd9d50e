/* device.c - backend choice and CUDA device query. */
#include "mbrl/device.h"

#include <stdio.h>
#include <stdlib.h>
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

/* ---------------------------------------------------------------- memory on a backend */

static mbrl_status check_memory_backend(mbrl_backend b) {
  if (b == MBRL_BACKEND_CPU) return MBRL_OK;
  if (b == MBRL_BACKEND_CUDA) {
    if (!mbrl_cuda_compiled())
      return mbrl_set_error(MBRL_ERR_UNSUPPORTED, "CUDA memory requested, but this build has no "
                            "CUDA backend (rebuild with -DMBRL_CUDA=ON, or use the cpu backend)");
    if (mbrl_cuda_device_count() == 0)
      return mbrl_set_error(MBRL_ERR_UNSUPPORTED, "CUDA memory requested, but no CUDA GPU is "
                            "present on this machine (use the cpu backend)");
    return MBRL_OK;
  }
  return mbrl_set_error(MBRL_ERR_INVALID_ARG, "memory needs a resolved backend (cpu or cuda), "
                        "got %s", mbrl_backend_name(b));
}

mbrl_status mbrl_backend_malloc(void **out, size_t bytes, mbrl_backend b) {
  if (!out) return mbrl_set_error(MBRL_ERR_INVALID_ARG, "mbrl_backend_malloc: out is NULL");
  *out = NULL;
  mbrl_status st = check_memory_backend(b);
  if (st || bytes == 0) return st;
  if (b == MBRL_BACKEND_CPU) {
    const size_t rounded = (bytes + 63) / 64 * 64; /* aligned_alloc wants a multiple */
    if (rounded < bytes || !(*out = aligned_alloc(64, rounded)))
      return mbrl_set_error(MBRL_ERR_NOMEM, "out of host memory allocating %zu bytes", bytes);
    memset(*out, 0, bytes);
    return MBRL_OK;
  }
#ifdef MBRL_HAVE_CUDA
  cudaError_t e = cudaMalloc(out, bytes);
  if (e == cudaSuccess) e = cudaMemset(*out, 0, bytes);
  if (e != cudaSuccess) {
    if (*out) cudaFree(*out);
    *out = NULL;
    (void)cudaGetLastError();
    return mbrl_set_error(MBRL_ERR_NOMEM, "cudaMalloc of %zu bytes failed: %s", bytes,
                          cudaGetErrorString(e));
  }
#endif
  return MBRL_OK;
}

void mbrl_backend_free(void *p, mbrl_backend b) {
  if (!p) return;
  if (b == MBRL_BACKEND_CPU) free(p);
#ifdef MBRL_HAVE_CUDA
  else if (b == MBRL_BACKEND_CUDA) cudaFree(p);
#endif
}

static mbrl_status backend_copy(void *dst, const void *src, size_t bytes, mbrl_backend b,
                                int upload) {
  mbrl_status st = check_memory_backend(b);
  if (st || bytes == 0) return st;
  if (!dst || !src)
    return mbrl_set_error(MBRL_ERR_INVALID_ARG, "backend copy of %zu bytes with a NULL pointer",
                          bytes);
  if (b == MBRL_BACKEND_CPU) {
    memmove(dst, src, bytes);
    return MBRL_OK;
  }
#ifdef MBRL_HAVE_CUDA
  cudaError_t e = cudaMemcpy(dst, src, bytes, upload ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return mbrl_set_error(MBRL_ERR_CUDA, "cudaMemcpy (%s, %zu bytes) failed: %s",
                          upload ? "to the device" : "from the device", bytes, cudaGetErrorString(e));
  }
#else
  (void)upload;
#endif
  return MBRL_OK;
}

mbrl_status mbrl_backend_upload(void *dst, const void *src, size_t bytes, mbrl_backend b) {
  return backend_copy(dst, src, bytes, b, 1);
}

mbrl_status mbrl_backend_download(void *dst, const void *src, size_t bytes, mbrl_backend b) {
  return backend_copy(dst, src, bytes, b, 0);
}
