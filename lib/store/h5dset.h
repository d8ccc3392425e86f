/* Datasets under an open HDF5 location: whole arrays written once, arrays of
 * strings, and extendible "series" that grow by one row per append (first
 * dimension unlimited, chunked) for logs that must survive a killed writer. */
#ifndef DNL_H5DSET_H
#define DNL_H5DSET_H

#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/core/status.h"
#include "lib/store/h5io.h"

bool h5dset_exists(hid_t loc, const char *name);

/* A new dataset of ndim dims stored as file_type (e.g. H5T_IEEE_F32LE) from
 * data of mem_type (e.g. H5T_NATIVE_FLOAT). ndim 0 writes a scalar. */
dnl_status h5dset_write(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int ndim,
                        const size_t *dims, const void *data);
/* Shape of an existing dataset (at most H5IO_MAX_DIMS dims). */
dnl_status h5dset_shape(hid_t loc, const char *name, int *ndim, size_t *dims);
/* Reads the whole dataset converted to mem_type into dst, which holds numel
 * elements; an error when the dataset's size differs or its values are not numbers. */
dnl_status h5dset_read_into(hid_t loc, const char *name, hid_t mem_type, void *dst, size_t numel);
/* Reads the whole dataset converted to mem_type into out (malloc'ed data). */
dnl_status h5dset_read(hid_t loc, const char *name, hid_t mem_type, h5io_array *out);

/* 1-D arrays of variable-length UTF-8 strings. */
dnl_status h5dset_write_strings(hid_t loc, const char *name, size_t n, const char *const *strings);
/* *out: malloc'ed array of n malloc'ed strings. */
dnl_status h5dset_read_strings(hid_t loc, const char *name, size_t *n, char ***out);

/* An empty series of rows of row_ndim dims (0 for scalars). */
dnl_status h5dset_series_create(hid_t loc, const char *name, hid_t file_type, int row_ndim,
                                const size_t *row_dims);
/* Appends one row (its elements of mem_type). */
dnl_status h5dset_series_append(hid_t loc, const char *name, hid_t mem_type, const void *row);
/* Shrinks (or grows) a series to rows rows. */
dnl_status h5dset_series_resize(hid_t loc, const char *name, size_t rows);

#endif
