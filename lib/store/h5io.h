/* Small HDF5 helpers shared by fixtures, checkpoints and result files. */
#ifndef DNL_H5IO_H
#define DNL_H5IO_H

#include <stddef.h>

#include "lib/core/status.h"

#define H5IO_MAX_DIMS 8

typedef struct h5io_array {
  int ndim;
  size_t shape[H5IO_MAX_DIMS];
  size_t numel;
  void *data; /* float, int32, ... as the reader converts; free() it */
} h5io_array;

/* Reads dataset `name` of file `path` converted to float32 / int32.
 * Errors name the file and dataset. */
dnl_status h5io_read_float(const char *path, const char *name, h5io_array *out);
dnl_status h5io_read_int(const char *path, const char *name, h5io_array *out);
void h5io_array_free(h5io_array *a);

/* Replaces HDF5's printing of its error stack (we report through dnl_error)
 * by remembering the innermost message of the latest failed HDF5 call. */
void h5io_quiet(void);
/* That message ("" when none), e.g. "truncated file: eof = 800, ..."; forgets it. */
const char *h5io_last_failure(char *buf, size_t len);

#endif
