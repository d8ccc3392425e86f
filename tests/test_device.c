#include "tests/test_device.h"

#include <stdlib.h>
#include <string.h>

#include "tests/test_util.h"

const dnl_backend *test_cuda_or_skip(void) {
  const dnl_backend *be = NULL;
  if (backend_get(DEVICE_CUDA, &be) != DNL_OK)
    cr_skip_test("CUDA case skipped: %s", dnl_last_error());
  return be;
}

void *test_upload(const dnl_backend *be, const void *host, size_t bytes) {
  void *dev = NULL;
  TRY_OK(be->alloc(bytes, &dev));
  TRY_OK(be->memcpy(dev, be->device, host, DEVICE_CPU, bytes));
  return dev;
}

void *test_device_zeros(const dnl_backend *be, size_t bytes) {
  void *host = calloc(1, bytes ? bytes : 1);
  cr_assert(host, "out of host memory");
  void *dev = test_upload(be, host, bytes);
  free(host);
  return dev;
}

static void download(const dnl_backend *be, void *host, const void *dev, size_t bytes) {
  TRY_OK(be->memcpy(host, DEVICE_CPU, dev, be->device, bytes));
}

void *test_download_new(const dnl_backend *be, const void *dev, size_t bytes) {
  void *host = malloc(bytes ? bytes : 1);
  cr_assert(host, "out of host memory");
  download(be, host, dev, bytes);
  return host;
}
