#include "lib/store/h5file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/store/h5error.h"

/* Whether the HDF5 signature sits where HDF5 looks for it (offset 0, 512, 1024, ...). */
static int has_hdf5_signature(FILE *f) {
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  for (long off = 0; off <= (1L << 20); off = off ? 2 * off : 512) {
    unsigned char got[8];
    if (fseek(f, off, SEEK_SET) != 0 || fread(got, 1, 8, f) != 8)
      return 0;
    if (memcmp(got, sig, 8) == 0)
      return 1;
  }
  return 0;
}

/* Explains why H5Fopen failed on path. */
static dnl_status open_failure(const char *path) {
  char detail[256];
  h5error_detail(detail, sizeof detail);
  FILE *f = fopen(path, "rb");
  if (!f)
    return dnl_error(DNL_ERR_IO, "%s: %s", path, strerror(errno));
  int sig = has_hdf5_signature(f);
  fclose(f);
  if (!sig)
    return dnl_error(DNL_ERR_FORMAT, "%s: not an HDF5 file", path);
  if (strstr(detail, "truncated"))
    return dnl_error(DNL_ERR_FORMAT, "%s: truncated HDF5 file (%s)", path, detail);
  return dnl_error(DNL_ERR_FORMAT, "%s: damaged or locked HDF5 file (%s)", path,
                   detail[0] ? detail : "no detail");
}

dnl_status h5file_open_read(const char *path, hid_t *out) {
  h5error_quiet();
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0)
    return dnl_error(DNL_ERR_INTERNAL, "%s: cannot create HDF5 access properties", path);
  H5Pset_file_locking(fapl, 0, 1);
  *out = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  return *out < 0 ? open_failure(path) : DNL_OK;
}

dnl_status h5file_open_write(const char *path, hid_t *out) {
  h5error_quiet();
  *out = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  return *out < 0 ? open_failure(path) : DNL_OK;
}

dnl_status h5file_create(const char *path, hid_t *out) {
  h5error_quiet();
  *out = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (*out < 0) {
    char detail[256];
    h5error_detail(detail, sizeof detail);
    int err = errno;
    return dnl_error(DNL_ERR_IO, "%s: cannot create (%s%s%s)", path, strerror(err),
                     detail[0] ? "; " : "", detail);
  }
  return DNL_OK;
}

dnl_status h5file_create_in_memory(const char *name, size_t size_hint, hid_t *out) {
  h5error_quiet();
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  size_t step = size_hint > (1u << 20) ? size_hint : (1u << 20);
  if (fapl < 0 || H5Pset_fapl_core(fapl, step, 0) < 0) {
    if (fapl >= 0)
      H5Pclose(fapl);
    return dnl_error(DNL_ERR_INTERNAL, "%s: cannot set up an in-memory HDF5 file", name);
  }
  *out = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (*out < 0) {
    char detail[256];
    return dnl_error(DNL_ERR_NOMEM, "%s: cannot create in memory (%s)", name,
                     h5error_detail(detail, sizeof detail));
  }
  return DNL_OK;
}

dnl_status h5file_image(hid_t file, const char *name, void **image, size_t *size) {
  *image = NULL;
  *size = 0;
  DNL_TRY(h5file_flush(file, name));
  ssize_t n = H5Fget_file_image(file, NULL, 0);
  if (n <= 0)
    return dnl_error(DNL_ERR_INTERNAL, "%s: no file image", name);
  *image = malloc((size_t)n);
  if (!*image)
    return dnl_error(DNL_ERR_NOMEM, "%s: file image of %zd bytes", name, n);
  if (H5Fget_file_image(file, *image, (size_t)n) != n) {
    free(*image);
    *image = NULL;
    return dnl_error(DNL_ERR_INTERNAL, "%s: cannot copy the file image", name);
  }
  *size = (size_t)n;
  return DNL_OK;
}

dnl_status h5file_flush(hid_t file, const char *path) {
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) {
    char detail[256];
    h5error_detail(detail, sizeof detail);
    return dnl_error(DNL_ERR_IO, "%s: cannot flush (%s)", path, detail);
  }
  return DNL_OK;
}

dnl_status h5file_close(hid_t file, const char *path) {
  if (H5Fclose(file) < 0) {
    char detail[256];
    h5error_detail(detail, sizeof detail);
    return dnl_error(DNL_ERR_IO, "%s: cannot finish writing (%s)", path, detail);
  }
  return DNL_OK;
}
