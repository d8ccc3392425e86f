#include "lib/store/h5attr.h"

#include <stdlib.h>
#include <string.h>

#include "lib/store/h5error.h"

bool h5attr_exists(hid_t obj, const char *name) { return H5Aexists(obj, name) > 0; }

/* Creates attribute name (deleting an old one) and writes data. */
static dnl_status write_attr(hid_t obj, const char *name, hid_t file_type, hid_t mem_type,
                             hid_t space, const void *data) {
  char where[600];
  if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0)
    return dnl_error(DNL_ERR_IO, "%s: cannot replace attribute %s",
                     h5error_where(obj, where, sizeof where), name);
  hid_t attr = H5Acreate2(obj, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t err = attr < 0 ? -1 : H5Awrite(attr, mem_type, data);
  if (attr >= 0 && H5Aclose(attr) < 0)
    err = -1;
  if (err < 0) {
    char detail[256];
    return dnl_error(DNL_ERR_IO, "%s: cannot write attribute %s (%s)",
                     h5error_where(obj, where, sizeof where), name,
                     h5error_detail(detail, sizeof detail));
  }
  return DNL_OK;
}

dnl_status h5attr_write_str(hid_t obj, const char *name, const char *value) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  hid_t space = H5Screate(H5S_SCALAR);
  const char *v = value ? value : "";
  dnl_status s = write_attr(obj, name, type, type, space, &v);
  H5Sclose(space);
  H5Tclose(type);
  return s;
}

dnl_status h5attr_write_i64(hid_t obj, const char *name, int64_t value) {
  hid_t space = H5Screate(H5S_SCALAR);
  dnl_status s = write_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space, &value);
  H5Sclose(space);
  return s;
}

dnl_status h5attr_write_u64s(hid_t obj, const char *name, const uint64_t *values, size_t n) {
  hsize_t dims[1] = {n};
  hid_t space = H5Screate_simple(1, dims, NULL);
  dnl_status s = write_attr(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, space, values);
  H5Sclose(space);
  return s;
}

/* Opens attribute name, with an error naming the object when it is absent. */
static dnl_status open_attr(hid_t obj, const char *name, hid_t *attr) {
  char where[600];
  if (H5Aexists(obj, name) <= 0)
    return dnl_error(DNL_ERR_FORMAT, "%s: no attribute %s", h5error_where(obj, where, sizeof where),
                     name);
  *attr = H5Aopen(obj, name, H5P_DEFAULT);
  if (*attr < 0)
    return dnl_error(DNL_ERR_FORMAT, "%s: cannot open attribute %s",
                     h5error_where(obj, where, sizeof where), name);
  return DNL_OK;
}

static hssize_t attr_points(hid_t attr) {
  hid_t space = H5Aget_space(attr);
  hssize_t n = H5Sget_simple_extent_npoints(space);
  H5Sclose(space);
  return n;
}

/* Reads a string attribute of either string kind into a malloc'ed copy. */
static dnl_status read_str(hid_t attr, hid_t ftype, char **out) {
  hid_t mtype = H5Tcopy(H5T_C_S1);
  H5Tset_cset(mtype, H5Tget_cset(ftype)); /* HDF5 does not convert between ASCII and UTF-8 */
  herr_t err;
  if (H5Tis_variable_str(ftype) > 0) {
    H5Tset_size(mtype, H5T_VARIABLE);
    char *v = NULL;
    err = H5Aread(attr, mtype, &v);
    if (err >= 0) {
      *out = strdup(v ? v : "");
      H5free_memory(v);
    }
  } else {
    size_t len = H5Tget_size(ftype);
    H5Tset_size(mtype, len + 1);
    H5Tset_strpad(mtype, H5T_STR_NULLTERM);
    *out = calloc(len + 1, 1);
    err = *out ? H5Aread(attr, mtype, *out) : 0;
  }
  H5Tclose(mtype);
  if (err < 0) {
    free(*out);
    *out = NULL;
    return DNL_ERR_FORMAT;
  }
  return *out ? DNL_OK : DNL_ERR_NOMEM;
}

dnl_status h5attr_read_str(hid_t obj, const char *name, char **out) {
  *out = NULL;
  hid_t attr = -1;
  DNL_TRY(open_attr(obj, name, &attr));
  hid_t ftype = H5Aget_type(attr);
  dnl_status s = DNL_ERR_FORMAT;
  if (H5Tget_class(ftype) == H5T_STRING && attr_points(attr) == 1)
    s = read_str(attr, ftype, out);
  H5Tclose(ftype);
  H5Aclose(attr);
  if (s != DNL_OK) {
    char where[600];
    return dnl_error(s, "%s: attribute %s is not a readable string",
                     h5error_where(obj, where, sizeof where), name);
  }
  return DNL_OK;
}

/* Reads n integers of an integer attribute converted to mem_type. */
static dnl_status read_ints(hid_t obj, const char *name, hid_t mem_type, void *out, size_t n) {
  hid_t attr = -1;
  DNL_TRY(open_attr(obj, name, &attr));
  hid_t ftype = H5Aget_type(attr);
  bool ok = H5Tget_class(ftype) == H5T_INTEGER && attr_points(attr) == (hssize_t)n &&
            H5Aread(attr, mem_type, out) >= 0;
  H5Tclose(ftype);
  H5Aclose(attr);
  if (!ok) {
    char where[600];
    return dnl_error(DNL_ERR_FORMAT, "%s: attribute %s is not %zu integer%s",
                     h5error_where(obj, where, sizeof where), name, n, n == 1 ? "" : "s");
  }
  return DNL_OK;
}

dnl_status h5attr_read_i64(hid_t obj, const char *name, int64_t *out) {
  return read_ints(obj, name, H5T_NATIVE_INT64, out, 1);
}

dnl_status h5attr_read_u64s(hid_t obj, const char *name, uint64_t *values, size_t n) {
  return read_ints(obj, name, H5T_NATIVE_UINT64, values, n);
}
