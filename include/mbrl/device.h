/* mbrl/device.h - backend choice (cpu, cuda, auto) and device query.
 *
 * The CUDA backend exists only in builds configured with MBRL_CUDA (the macro
 * MBRL_HAVE_CUDA is then defined for every target that links mbrl). Its ops are
 * declared in the module headers under `#ifdef MBRL_HAVE_CUDA`; a CPU-only build
 * has no CUDA symbols at all. */
#ifndef MBRL_DEVICE_H
#define MBRL_DEVICE_H

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

MBRL_EXTERN_C_END

#endif
