/* status.c - thread-local last-error message. */
#include "mbrl/status.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char g_last_error[1024];

const char *mbrl_last_error(void) { return g_last_error; }

mbrl_status mbrl_set_error(mbrl_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
  va_end(ap);
  return code;
}

void mbrl_clear_error(void) { g_last_error[0] = '\0'; }

const char *mbrl_status_name(mbrl_status s) {
  switch (s) {
    case MBRL_OK: return "ok";
    case MBRL_ERR_INVALID_ARG: return "invalid argument";
    case MBRL_ERR_IO: return "i/o error";
    case MBRL_ERR_FORMAT: return "bad file format";
    case MBRL_ERR_NOMEM: return "out of memory";
    case MBRL_ERR_CUDA: return "cuda error";
    case MBRL_ERR_UNSUPPORTED: return "unsupported";
    case MBRL_ERR_NUMERIC: return "non-finite number";
  }
  return "unknown status";
}
