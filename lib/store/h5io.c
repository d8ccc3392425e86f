#include "lib/store/h5io.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/store/h5file.h"

static dnl_status read_array(const char *path, const char *name, hid_t mem_type, size_t elem,
                             h5io_array *out) {
  memset(out, 0, sizeof *out);
  hid_t file;
  DNL_TRY(h5file_open_read(path, &file));
  dnl_status st = DNL_OK;
  hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
  hid_t space = -1;
  if (ds < 0) {
    st = dnl_error(DNL_ERR_FORMAT, "%s: no dataset %s", path, name);
    goto done;
  }
  space = H5Dget_space(ds);
  int nd = H5Sget_simple_extent_ndims(space);
  if (nd < 0 || nd > H5IO_MAX_DIMS) {
    st = dnl_error(DNL_ERR_FORMAT, "%s: dataset %s has rank %d (at most %d)", path, name, nd,
                   H5IO_MAX_DIMS);
    goto done;
  }
  hsize_t dims[H5IO_MAX_DIMS];
  H5Sget_simple_extent_dims(space, dims, NULL);
  out->ndim = nd;
  out->numel = 1;
  for (int i = 0; i < nd; i++) {
    out->shape[i] = (size_t)dims[i];
    out->numel *= (size_t)dims[i];
  }
  out->data = malloc((out->numel ? out->numel : 1) * elem);
  if (!out->data) {
    st = dnl_error(DNL_ERR_NOMEM, "%s: dataset %s of %zu elements", path, name, out->numel);
    goto done;
  }
  if (out->numel && H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out->data) < 0) {
    st = dnl_error(DNL_ERR_FORMAT, "%s: cannot read dataset %s as numbers", path, name);
    free(out->data);
    out->data = NULL;
  }
done:
  if (space >= 0)
    H5Sclose(space);
  if (ds >= 0)
    H5Dclose(ds);
  H5Fclose(file);
  return st;
}

dnl_status h5io_read_float(const char *path, const char *name, h5io_array *out) {
  return read_array(path, name, H5T_NATIVE_FLOAT, sizeof(float), out);
}

dnl_status h5io_read_int(const char *path, const char *name, h5io_array *out) {
  return read_array(path, name, H5T_NATIVE_INT32, sizeof(int32_t), out);
}

void h5io_array_free(h5io_array *a) {
  free(a->data);
  memset(a, 0, sizeof *a);
}
