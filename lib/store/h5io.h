/* Whole HDF5 datasets as arrays: read by file path (test fixtures) or, through
 * lib/store/h5dset.h, from an open file (results),
 * above opening files (lib/store/h5file.h). */
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

#endif
