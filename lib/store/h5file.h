/* Opening, creating, flushing and closing HDF5 files with errors that say what
 * is wrong with the file (missing, not HDF5, truncated), plus the innermost
 * message of HDF5's error stack for the rest (lib/store/h5error.h, the layer
 * below; whole-array reads, attributes and datasets are above). */
#ifndef DNL_H5FILE_H
#define DNL_H5FILE_H

#include <hdf5.h>
#include <stddef.h>

#include "lib/core/status.h"

/* Read-only, without HDF5's file lock, so that a file a running writer holds
 * open can still be read. */
dnl_status h5file_open_read(const char *path, hid_t *out);
/* Read-write on an existing file. */
dnl_status h5file_open_write(const char *path, hid_t *out);
/* Creates (or truncates) path. */
dnl_status h5file_create(const char *path, hid_t *out);
/* A file that lives in memory only (name is for messages); its bytes come out
 * with h5file_image, so that writing them to disk is plain POSIX I/O whose
 * failures (disk full) leave HDF5 in a clean state. size_hint (bytes, may be
 * 0) is the expected file size: memory grows in steps of it. */
dnl_status h5file_create_in_memory(const char *name, size_t size_hint, hid_t *out);
/* The complete file image of an in-memory file (malloc'ed). */
dnl_status h5file_image(hid_t file, const char *name, void **image, size_t *size);
/* Writes every buffered change to the OS (data and metadata). */
dnl_status h5file_flush(hid_t file, const char *path);
/* Closes the file and reports a failed final write (disk full). */
dnl_status h5file_close(hid_t file, const char *path);

#endif
