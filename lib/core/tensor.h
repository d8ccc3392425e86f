/* Dense float32 tensors in NCHW order, on the CPU or a CUDA device: shapes,
 * views and checks. Owned storage comes from the device's backend
 * (tensor_alloc, lib/core/backend.h). */
#ifndef DNL_TENSOR_H
#define DNL_TENSOR_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/core/status.h"

#define TENSOR_MAX_DIMS 4

typedef enum { DEVICE_CPU = 0, DEVICE_CUDA = 1 } dnl_device;

typedef struct tensor {
  float *data;
  int ndim;
  int shape[TENSOR_MAX_DIMS]; /* dims past ndim are 1 */
  dnl_device device;
  bool owner; /* data was allocated for this tensor and is freed with it */
} tensor;

const char *device_name(dnl_device d);

size_t tensor_numel(const tensor *t);
size_t shape_numel(int ndim, const int *shape);

/* "[2, 3, 5, 5]" into buf (returns buf). */
const char *tensor_shape_str(const tensor *t, char *buf, size_t len);

/* Sets shape fields without touching data. */
dnl_status tensor_set_shape(tensor *t, int ndim, const int *shape);

/* A non-owning view of data with the given shape. */
tensor tensor_view(float *data, dnl_device device, int ndim, const int *shape);
tensor tensor_view4(float *data, dnl_device device, int n, int c, int h, int w);

/* Checks that t exists, has data, ndim dims and the given sizes (-1 = any).
 * On mismatch the message names `what` and both shapes. */
dnl_status tensor_expect(const tensor *t, const char *what, int ndim, int d0, int d1,
                         int d2, int d3);

/* Checks that a and b have identical shapes and devices. */
dnl_status tensor_expect_same(const tensor *a, const char *what_a, const tensor *b,
                              const char *what_b);

#endif
