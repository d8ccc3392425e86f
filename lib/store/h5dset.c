#include "lib/store/h5dset.h"

#include <stdlib.h>
#include <string.h>

#include "lib/store/h5error.h"

bool h5dset_exists(hid_t loc, const char *name) {
  return H5Lexists(loc, name, H5P_DEFAULT) > 0 && H5Oexists_by_name(loc, name, H5P_DEFAULT) > 0;
}

static dnl_status fail(dnl_status code, hid_t loc, const char *name, const char *what) {
  char where[600], detail[256];
  h5error_where(loc, where, sizeof where);
  h5error_detail(detail, sizeof detail);
  return dnl_error(code, "%s%s%s: %s%s%s%s", where, where[strlen(where) - 1] == '/' ? "" : "/",
                   name, what, detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
}

static dnl_status open_dset(hid_t loc, const char *name, hid_t *ds) {
  if (!h5dset_exists(loc, name))
    return fail(DNL_ERR_FORMAT, loc, name, "dataset missing");
  *ds = H5Dopen2(loc, name, H5P_DEFAULT);
  return *ds < 0 ? fail(DNL_ERR_FORMAT, loc, name, "cannot open dataset") : DNL_OK;
}

dnl_status h5dset_write(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int ndim,
                        const size_t *dims, const void *data) {
  if (ndim < 0 || ndim > H5IO_MAX_DIMS)
    return dnl_error(DNL_ERR_ARG, "h5dset_write %s: rank %d", name, ndim);
  hsize_t hd[H5IO_MAX_DIMS];
  size_t numel = 1;
  for (int i = 0; i < ndim; i++) {
    hd[i] = dims[i];
    numel *= dims[i];
  }
  hid_t space = ndim ? H5Screate_simple(ndim, hd, NULL) : H5Screate(H5S_SCALAR);
  hid_t ds = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  herr_t err = ds < 0 ? -1 : 0;
  if (err >= 0 && numel)
    err = H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  if (ds >= 0 && H5Dclose(ds) < 0)
    err = -1;
  H5Sclose(space);
  return err < 0 ? fail(DNL_ERR_IO, loc, name, "cannot write dataset") : DNL_OK;
}

/* Shape of an open dataset. */
static dnl_status dset_dims(hid_t ds, hid_t loc, const char *name, int *ndim, size_t *dims) {
  hid_t space = H5Dget_space(ds);
  int nd = H5Sget_simple_extent_ndims(space);
  hsize_t hd[H5IO_MAX_DIMS];
  if (nd >= 0 && nd <= H5IO_MAX_DIMS)
    H5Sget_simple_extent_dims(space, hd, NULL);
  H5Sclose(space);
  if (nd < 0 || nd > H5IO_MAX_DIMS)
    return fail(DNL_ERR_FORMAT, loc, name, "unsupported dataset rank");
  *ndim = nd;
  for (int i = 0; i < nd; i++)
    dims[i] = (size_t)hd[i];
  return DNL_OK;
}

dnl_status h5dset_shape(hid_t loc, const char *name, int *ndim, size_t *dims) {
  hid_t ds = -1;
  DNL_TRY(open_dset(loc, name, &ds));
  dnl_status s = dset_dims(ds, loc, name, ndim, dims);
  H5Dclose(ds);
  return s;
}

/* Whether values of the stored class convert to the memory class as numbers. */
static bool numeric_class(H5T_class_t c) { return c == H5T_INTEGER || c == H5T_FLOAT; }

static dnl_status read_open(hid_t ds, hid_t loc, const char *name, hid_t mem_type, void *dst,
                            size_t numel, size_t expect) {
  if (numel != expect) {
    char what[96];
    snprintf(what, sizeof what, "has %zu elements, expected %zu", numel, expect);
    return fail(DNL_ERR_SHAPE, loc, name, what);
  }
  hid_t ftype = H5Dget_type(ds);
  bool numeric = numeric_class(H5Tget_class(ftype));
  H5Tclose(ftype);
  if (!numeric)
    return fail(DNL_ERR_FORMAT, loc, name, "does not hold numbers");
  if (numel && H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
    return fail(DNL_ERR_FORMAT, loc, name, "cannot read (truncated file?)");
  return DNL_OK;
}

static size_t dims_numel(int ndim, const size_t *dims) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++)
    n *= dims[i];
  return n;
}

dnl_status h5dset_read_into(hid_t loc, const char *name, hid_t mem_type, void *dst, size_t numel) {
  hid_t ds = -1;
  DNL_TRY(open_dset(loc, name, &ds));
  int nd = 0;
  size_t dims[H5IO_MAX_DIMS];
  dnl_status s = dset_dims(ds, loc, name, &nd, dims);
  if (s == DNL_OK)
    s = read_open(ds, loc, name, mem_type, dst, dims_numel(nd, dims), numel);
  H5Dclose(ds);
  return s;
}

dnl_status h5dset_read(hid_t loc, const char *name, hid_t mem_type, h5io_array *out) {
  memset(out, 0, sizeof *out);
  hid_t ds = -1;
  DNL_TRY(open_dset(loc, name, &ds));
  dnl_status s = dset_dims(ds, loc, name, &out->ndim, out->shape);
  if (s == DNL_OK) {
    out->numel = dims_numel(out->ndim, out->shape);
    out->data = malloc((out->numel ? out->numel : 1) * H5Tget_size(mem_type));
    s = out->data ? read_open(ds, loc, name, mem_type, out->data, out->numel, out->numel)
                  : dnl_error(DNL_ERR_NOMEM, "%s: %zu elements", name, out->numel);
  }
  H5Dclose(ds);
  if (s != DNL_OK)
    h5io_array_free(out);
  return s;
}

static hid_t vlen_string_type(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

dnl_status h5dset_write_strings(hid_t loc, const char *name, size_t n, const char *const *strings) {
  hid_t type = vlen_string_type();
  size_t dims[1] = {n};
  dnl_status s = h5dset_write(loc, name, type, type, 1, dims, strings);
  H5Tclose(type);
  return s;
}

dnl_status h5dset_read_strings(hid_t loc, const char *name, size_t *n, char ***out) {
  *n = 0;
  *out = NULL;
  hid_t ds = -1;
  DNL_TRY(open_dset(loc, name, &ds));
  int nd = 0;
  size_t dims[H5IO_MAX_DIMS];
  dnl_status s = dset_dims(ds, loc, name, &nd, dims);
  hid_t ftype = H5Dget_type(ds);
  if (s == DNL_OK &&
      (nd != 1 || H5Tget_class(ftype) != H5T_STRING || H5Tis_variable_str(ftype) <= 0))
    s = fail(DNL_ERR_FORMAT, loc, name, "is not a 1-D array of variable-length strings");
  H5T_cset_t cset = H5Tget_cset(ftype);
  H5Tclose(ftype);
  char **raw = NULL;
  if (s == DNL_OK) {
    raw = calloc(dims[0] ? dims[0] : 1, sizeof *raw);
    *out = calloc(dims[0] ? dims[0] : 1, sizeof **out);
    if (!raw || !*out)
      s = dnl_error(DNL_ERR_NOMEM, "%s: %zu strings", name, dims[0]);
  }
  hid_t mtype = vlen_string_type();
  H5Tset_cset(mtype, cset);
  if (s == DNL_OK && dims[0] && H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0)
    s = fail(DNL_ERR_FORMAT, loc, name, "cannot read strings");
  H5Tclose(mtype);
  H5Dclose(ds);
  for (size_t i = 0; s == DNL_OK && i < dims[0]; i++) {
    (*out)[i] = strdup(raw[i] ? raw[i] : "");
    if (!(*out)[i])
      s = dnl_error(DNL_ERR_NOMEM, "%s: string %zu", name, i);
  }
  if (raw) {
    for (size_t i = 0; i < dims[0]; i++)
      H5free_memory(raw[i]);
    free(raw);
  }
  if (s == DNL_OK) {
    *n = dims[0];
    return DNL_OK;
  }
  if (*out)
    for (size_t i = 0; i < dims[0]; i++)
      free((*out)[i]);
  free(*out);
  *out = NULL;
  return s;
}

dnl_status h5dset_series_create(hid_t loc, const char *name, hid_t file_type, int row_ndim,
                                const size_t *row_dims) {
  if (row_ndim < 0 || row_ndim >= H5IO_MAX_DIMS)
    return dnl_error(DNL_ERR_ARG, "h5dset_series_create %s: row rank %d", name, row_ndim);
  hsize_t dims[H5IO_MAX_DIMS], maxdims[H5IO_MAX_DIMS], chunk[H5IO_MAX_DIMS];
  size_t row_bytes = H5Tget_size(file_type);
  dims[0] = 0;
  maxdims[0] = H5S_UNLIMITED;
  for (int i = 0; i < row_ndim; i++) {
    dims[i + 1] = maxdims[i + 1] = chunk[i + 1] = row_dims[i];
    row_bytes *= row_dims[i];
  }
  /* chunks of about 16 KiB keep small logs small and big rows one chunk each */
  size_t rows = row_bytes ? 16384 / row_bytes : 1;
  chunk[0] = rows < 1 ? 1 : rows;
  hid_t space = H5Screate_simple(row_ndim + 1, dims, maxdims);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, row_ndim + 1, chunk);
  hid_t ds = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  herr_t err = ds < 0 ? -1 : H5Dclose(ds);
  H5Pclose(dcpl);
  H5Sclose(space);
  return err < 0 ? fail(DNL_ERR_IO, loc, name, "cannot create series") : DNL_OK;
}

dnl_status h5dset_series_append(hid_t loc, const char *name, hid_t mem_type, const void *row) {
  hid_t ds = -1;
  DNL_TRY(open_dset(loc, name, &ds));
  int nd = 0;
  size_t dims[H5IO_MAX_DIMS];
  dnl_status s = dset_dims(ds, loc, name, &nd, dims);
  if (s == DNL_OK && nd < 1)
    s = fail(DNL_ERR_FORMAT, loc, name, "is not a series");
  if (s == DNL_OK) {
    hsize_t ext[H5IO_MAX_DIMS], start[H5IO_MAX_DIMS] = {0}, count[H5IO_MAX_DIMS];
    for (int i = 0; i < nd; i++)
      ext[i] = count[i] = dims[i];
    ext[0] = dims[0] + 1;
    start[0] = dims[0];
    count[0] = 1;
    herr_t err = H5Dset_extent(ds, ext);
    hid_t fspace = err < 0 ? -1 : H5Dget_space(ds);
    hid_t mspace = H5Screate_simple(nd, count, NULL);
    if (fspace >= 0)
      err = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    if (fspace >= 0 && err >= 0)
      err = H5Dwrite(ds, mem_type, mspace, fspace, H5P_DEFAULT, row);
    if (fspace >= 0)
      H5Sclose(fspace);
    H5Sclose(mspace);
    if (err < 0 || fspace < 0)
      s = fail(DNL_ERR_IO, loc, name, "cannot append a row");
  }
  H5Dclose(ds);
  return s;
}

dnl_status h5dset_series_resize(hid_t loc, const char *name, size_t rows) {
  hid_t ds = -1;
  DNL_TRY(open_dset(loc, name, &ds));
  int nd = 0;
  size_t dims[H5IO_MAX_DIMS];
  dnl_status s = dset_dims(ds, loc, name, &nd, dims);
  if (s == DNL_OK && nd < 1)
    s = fail(DNL_ERR_FORMAT, loc, name, "is not a series");
  if (s == DNL_OK) {
    hsize_t ext[H5IO_MAX_DIMS];
    for (int i = 0; i < nd; i++)
      ext[i] = dims[i];
    ext[0] = rows;
    if (H5Dset_extent(ds, ext) < 0)
      s = fail(DNL_ERR_IO, loc, name, "cannot resize series");
  }
  H5Dclose(ds);
  return s;
}
