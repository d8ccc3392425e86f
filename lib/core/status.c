#include "lib/core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DNL_ERROR_MAX 1024

static _Thread_local char error_message[DNL_ERROR_MAX];

dnl_status dnl_error(dnl_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(error_message, sizeof error_message, fmt, ap);
  va_end(ap);
  return code;
}

dnl_status dnl_error_context(dnl_status code, const char *fmt, ...) {
  char prefix[DNL_ERROR_MAX];
  char old[DNL_ERROR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, error_message, sizeof old);
  /* truncation of an over-long message is acceptable */
  int n = snprintf(error_message, sizeof error_message, "%s", prefix);
  if (old[0] && n >= 0 && (size_t)n < sizeof error_message)
    snprintf(error_message + n, sizeof error_message - (size_t)n, ": %.*s",
             (int)(sizeof error_message - (size_t)n), old);
  return code;
}

const char *dnl_last_error(void) { return error_message; }

void dnl_clear_error(void) { error_message[0] = '\0'; }

const char *dnl_status_name(dnl_status s) {
  switch (s) {
  case DNL_OK: return "ok";
  case DNL_ERR_ARG: return "bad argument";
  case DNL_ERR_SHAPE: return "shape mismatch";
  case DNL_ERR_NOMEM: return "out of memory";
  case DNL_ERR_IO: return "I/O error";
  case DNL_ERR_FORMAT: return "bad format";
  case DNL_ERR_UNSUPPORTED: return "unsupported";
  case DNL_ERR_NUMERIC: return "numeric error";
  case DNL_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}
