/* Error status of every fallible function, with a thread-local message. */
#ifndef DNL_STATUS_H
#define DNL_STATUS_H

typedef enum {
  DNL_OK = 0,
  DNL_ERR_ARG,         /* bad argument: null pointer, out of range value */
  DNL_ERR_SHAPE,       /* tensor shapes do not match */
  DNL_ERR_NOMEM,       /* allocation failed */
  DNL_ERR_IO,          /* file could not be read or written */
  DNL_ERR_FORMAT,      /* file content is not what was expected */
  DNL_ERR_UNSUPPORTED, /* operation not available on this backend or build */
  DNL_ERR_NUMERIC,     /* NaN / Inf */
  DNL_ERR_INTERNAL
} dnl_status;

/* Records a printf-style message for the calling thread and returns code. */
dnl_status dnl_error(dnl_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepends "context: " to the current message (for callers adding where). */
dnl_status dnl_error_context(dnl_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The calling thread's last message ("" when none). */
const char *dnl_last_error(void);
void dnl_clear_error(void);
const char *dnl_status_name(dnl_status s);

/* Propagates a failing status to the caller. */
#define DNL_TRY(expr)                \
  do {                               \
    dnl_status dnl_try_s_ = (expr);  \
    if (dnl_try_s_ != DNL_OK)        \
      return dnl_try_s_;             \
  } while (0)

#endif
