/* Attributes of an open HDF5 object (file root, group or dataset): strings as
 * variable-length UTF-8 (h5py reads them as str), integers as int64 LE. */
#ifndef DNL_H5ATTR_H
#define DNL_H5ATTR_H

#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/core/status.h"

bool h5attr_exists(hid_t obj, const char *name);

/* Writers replace an attribute that already exists. */
dnl_status h5attr_write_str(hid_t obj, const char *name, const char *value);
dnl_status h5attr_write_i64(hid_t obj, const char *name, int64_t value);
dnl_status h5attr_write_u64s(hid_t obj, const char *name, const uint64_t *values, size_t n);

/* String attributes, fixed or variable length; *out is malloc'ed. */
dnl_status h5attr_read_str(hid_t obj, const char *name, char **out);
/* Any integer attribute holding one value. */
dnl_status h5attr_read_i64(hid_t obj, const char *name, int64_t *out);
/* Exactly n unsigned integers. */
dnl_status h5attr_read_u64s(hid_t obj, const char *name, uint64_t *values, size_t n);

#endif
