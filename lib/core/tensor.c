#include "lib/core/tensor.h"

#include <stdio.h>
#include <string.h>

const char *device_name(dnl_device d) { return d == DEVICE_CUDA ? "cuda" : "cpu"; }

size_t shape_numel(int ndim, const int *shape) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++)
    n *= (size_t)shape[i];
  return n;
}

size_t tensor_numel(const tensor *t) { return shape_numel(t->ndim, t->shape); }

const char *tensor_shape_str(const tensor *t, char *buf, size_t len) {
  size_t used = 0;
  used += (size_t)snprintf(buf + used, len - used, "[");
  for (int i = 0; i < t->ndim && used < len; i++)
    used += (size_t)snprintf(buf + used, len - used, i ? ", %d" : "%d", t->shape[i]);
  if (used < len)
    snprintf(buf + used, len - used, "]");
  return buf;
}

dnl_status tensor_set_shape(tensor *t, int ndim, const int *shape) {
  if (ndim < 1 || ndim > TENSOR_MAX_DIMS)
    return dnl_error(DNL_ERR_ARG, "tensor rank %d outside 1..%d", ndim, TENSOR_MAX_DIMS);
  for (int i = 0; i < TENSOR_MAX_DIMS; i++) {
    int d = i < ndim ? shape[i] : 1;
    if (d < 0)
      return dnl_error(DNL_ERR_ARG, "tensor dimension %d is negative (%d)", i, d);
    t->shape[i] = d;
  }
  t->ndim = ndim;
  return DNL_OK;
}

tensor tensor_view(float *data, dnl_device device, int ndim, const int *shape) {
  tensor t = {.data = data, .device = device, .owner = false};
  tensor_set_shape(&t, ndim, shape);
  return t;
}

tensor tensor_view4(float *data, dnl_device device, int n, int c, int h, int w) {
  int shape[4] = {n, c, h, w};
  return tensor_view(data, device, 4, shape);
}

dnl_status tensor_expect(const tensor *t, const char *what, int ndim, int d0, int d1,
                         int d2, int d3) {
  if (!t)
    return dnl_error(DNL_ERR_ARG, "%s: tensor is NULL", what);
  if (!t->data && tensor_numel(t) > 0)
    return dnl_error(DNL_ERR_ARG, "%s: tensor has no data", what);
  int want[4] = {d0, d1, d2, d3};
  bool ok = t->ndim == ndim;
  for (int i = 0; ok && i < ndim; i++)
    ok = want[i] < 0 || want[i] == t->shape[i];
  if (ok)
    return DNL_OK;
  char got[64];
  char exp[64];
  size_t used = (size_t)snprintf(exp, sizeof exp, "[");
  for (int i = 0; i < ndim; i++) {
    if (want[i] < 0)
      used += (size_t)snprintf(exp + used, sizeof exp - used, i ? ", *" : "*");
    else
      used += (size_t)snprintf(exp + used, sizeof exp - used, i ? ", %d" : "%d", want[i]);
  }
  snprintf(exp + used, sizeof exp - used, "]");
  return dnl_error(DNL_ERR_SHAPE, "%s: shape %s, expected %s", what,
                   tensor_shape_str(t, got, sizeof got), exp);
}

dnl_status tensor_expect_same(const tensor *a, const char *what_a, const tensor *b,
                              const char *what_b) {
  if (!a || !b)
    return dnl_error(DNL_ERR_ARG, "%s or %s is NULL", what_a, what_b);
  bool same = a->ndim == b->ndim && a->device == b->device;
  for (int i = 0; same && i < a->ndim; i++)
    same = a->shape[i] == b->shape[i];
  if (same)
    return DNL_OK;
  char sa[64];
  char sb[64];
  return dnl_error(DNL_ERR_SHAPE, "%s %s (%s) does not match %s %s (%s)", what_a,
                   tensor_shape_str(a, sa, sizeof sa), device_name(a->device), what_b,
                   tensor_shape_str(b, sb, sizeof sb), device_name(b->device));
}
