/* mbrl/status.h - error codes and the last error message.
 *
 * The library never prints or exits: a failing call returns a non-OK status and
 * leaves a message (naming the file, value or flag at fault, and what to do) that
 * mbrl_last_error() returns. Messages are thread-local. */
#ifndef MBRL_STATUS_H
#define MBRL_STATUS_H

#include "mbrl/common.h"

MBRL_EXTERN_C_BEGIN

typedef enum mbrl_status {
  MBRL_OK = 0,
  MBRL_ERR_INVALID_ARG = 1, /* a caller's value is out of range or malformed */
  MBRL_ERR_IO = 2,          /* a file could not be opened, read, written or renamed */
  MBRL_ERR_FORMAT = 3,      /* a file is foreign, damaged or of the wrong shape */
  MBRL_ERR_NOMEM = 4,       /* an allocation failed (host or device) */
  MBRL_ERR_CUDA = 5,        /* a CUDA / cuBLAS / cuRAND call failed */
  MBRL_ERR_UNSUPPORTED = 6, /* asked for something this build or device lacks */
  MBRL_ERR_NUMERIC = 7      /* NaN or Inf where a finite number is needed */
} mbrl_status;

/* The message left by the last failing call on this thread ("" if none). */
const char *mbrl_last_error(void);

/* Set the message (printf format) and return `code`; for use inside the library. */
mbrl_status mbrl_set_error(mbrl_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Clear the message. */
void mbrl_clear_error(void);

/* A short constant name for a status ("ok", "invalid argument", ...). */
const char *mbrl_status_name(mbrl_status s);

MBRL_EXTERN_C_END

#endif
