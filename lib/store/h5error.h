/* HDF5's errors as message parts: the lowest layer of the HDF5 helpers, below
 * opening files (lib/store/h5file.h), whole-array reads (lib/store/h5io.h),
 * attributes and datasets (h5attr.h, h5dset.h). */
#ifndef DNL_H5ERROR_H
#define DNL_H5ERROR_H

#include <hdf5.h>
#include <stddef.h>

/* Replaces HDF5's printing of its error stack (we report through dnl_error)
 * by remembering the innermost message of the latest failed HDF5 call, per
 * thread. */
void h5error_quiet(void);

/* That message ("" when none), e.g. "truncated file: eof = 800, ..."; forgets
 * it. Returns buf. */
const char *h5error_detail(char *buf, size_t len);

/* "file.h5:/group" for messages about an open object. Returns buf. */
const char *h5error_where(hid_t obj, char *buf, size_t len);

#endif
