/* mbrl/device.h - backend choice (cpu, cuda, auto) and device query.
 *
 * The CUDA backend exists only in builds configured with MBRL_CUDA (the macro
 * MBRL_HAVE_CUDA is then defined for every target that links mbrl). Its ops are
 * declared in the module headers under `#ifdef MBRL_HAVE_CUDA`; a CPU-only build
 * has no CUDA symbols at all. */
#ifndef MBRL_DEVICE_H
#define MBRL_DEVICE_H

#include <stddef.h>

#include "mbrl/status.h"

MBRL_EXTERN_C_BEGIN

typedef enum mbrl_backend {
  MBRL_BACKEND_AUTO = 0,
  MBRL_BACKEND_CPU = 1,
  MBRL_BACKEND_CUDA = 2
} mbrl_backend;

/* 1 if this build has the CUDA backend compiled in, else 0. */
int mbrl_cuda_compiled(void);

/* Number of usable CUDA devices (0 without CUDA in the build or without a GPU). */
int mbrl_cuda_device_count(void);

/* Parse "auto" | "cpu" | "cuda" into *out; MBRL_ERR_INVALID_ARG names the bad word. */
mbrl_status mbrl_backend_parse(const char *name, mbrl_backend *out);

/* Resolve AUTO to CUDA when a device is present, else CPU. Asking for CUDA in a
 * build without it, or on a machine without a GPU, fails with a message saying so. */
mbrl_status mbrl_backend_resolve(mbrl_backend requested, mbrl_backend *out);

/* "cpu" or "cuda" (or "auto"). */
const char *mbrl_backend_name(mbrl_backend b);

/* A one-line description of the CUDA device in use ("" without one), e.g. for JSON. */
const char *mbrl_cuda_device_name(void);

/* ---------------------------------------------------------------- memory on a backend */
/* For callers that feed a backend's ops (mbrl_mlp_forward, ...) from host data, e.g. the
 * Python package. CPU: 64-byte aligned host memory; CUDA: cudaMalloc'ed device memory.
 * `b` must be CPU or CUDA (not AUTO). */

/* Allocate `bytes` (zeroed) on backend b into *out; bytes == 0 gives NULL. MBRL_ERR_NOMEM
 * names the size; CUDA on a build or machine without it is MBRL_ERR_UNSUPPORTED. */
mbrl_status mbrl_backend_malloc(void **out, size_t bytes, mbrl_backend b);

/* Release memory from mbrl_backend_malloc (NULL is fine). */
void mbrl_backend_free(void *p, mbrl_backend b);

/* Copy `bytes` from host memory src to backend memory dst (upload) or from backend memory
 * src to host memory dst (download). Synchronous: on CUDA the copy has finished (and every
 * earlier kernel on the default stream with it) when the call returns. */
mbrl_status mbrl_backend_upload(void *dst, const void *src, size_t bytes, mbrl_backend b);
mbrl_status mbrl_backend_download(void *dst, const void *src, size_t bytes, mbrl_backend b);

MBRL_EXTERN_C_END

#endif
