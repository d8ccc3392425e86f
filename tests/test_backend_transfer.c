/* The backend's host staging entries (lib/core/backend.h): pinned host memory,
 * asynchronous uploads ordered between the ops around them, memory in use; on
 * the CPU and, where a GPU is, on CUDA. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/test_device.h"
#include "tests/test_util.h"

Test(backend_transfer, cpu_pinned_memory_upload_and_usage) {
  const dnl_backend *be = cpu_backend();
  const size_t n = 1000;
  float *pinned = NULL, *dev = NULL;
  TRY_OK(be->host_alloc_pinned(n * sizeof(float), (void **)&pinned));
  TRY_OK(be->alloc(n * sizeof(float), (void **)&dev));
  for (size_t i = 0; i < n; i++)
    pinned[i] = (float)i * 0.5f;
  TRY_OK(be->upload_async(dev, pinned, n * sizeof(float)));
  TRY_OK(be->upload_wait());
  cr_assert(!memcmp(dev, pinned, n * sizeof(float)));
  size_t used = 0, total = 0;
  TRY_OK(be->memory_usage(&used, &total));
  cr_assert_gt(used, n * sizeof(float), "the resident set holds at least the buffers");
  cr_assert_gt(total, used);
  be->free(dev);
  be->host_free_pinned(pinned);
}

Test(backend_transfer, backend_check_names_a_missing_staging_entry) {
  dnl_backend be = *cpu_backend();
  TRY_OK(backend_check(&be));
  be.upload_wait = NULL;
  cr_assert_eq(backend_check(&be), DNL_ERR_UNSUPPORTED);
  cr_assert(strstr(dnl_last_error(), "upload_wait"), "%s", dnl_last_error());
  be = *cpu_backend();
  be.memory_usage = NULL;
  cr_assert_eq(backend_check(&be), DNL_ERR_UNSUPPORTED);
  cr_assert(strstr(dnl_last_error(), "memory_usage"), "%s", dnl_last_error());
}

/* An upload starts after the ops queued before it (a fill of its destination)
 * and the ops queued after upload_wait see its data (a scale of it). */
Test(backend_transfer, cuda_upload_is_ordered_between_the_ops_around_it) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->host_alloc_pinned && g->host_free_pinned && g->upload_async && g->upload_wait &&
            g->memory_usage && g->fill && g->scale);
  const size_t n = (size_t)3 << 22, half = n / 2 + 7; /* 48 MiB: the fill takes a while */
  float *pinned = NULL, *dev = NULL;
  TRY_OK(g->host_alloc_pinned(half * sizeof(float), (void **)&pinned));
  TRY_OK(g->alloc(n * sizeof(float), (void **)&dev));
  for (size_t i = 0; i < half; i++)
    pinned[i] = (float)(i % 1000) - 500.0f;
  TRY_OK(g->fill(dev, n, -1.0f));
  TRY_OK(g->upload_async(dev, pinned, half * sizeof(float)));
  TRY_OK(g->upload_wait());
  TRY_OK(g->scale(n, 2.0f, dev));
  float *back = test_download_new(g, dev, n * sizeof(float));
  size_t bad = 0;
  for (size_t i = 0; i < n; i++)
    bad += back[i] != (i < half ? 2.0f * pinned[i] : -2.0f);
  cr_assert_eq(bad, 0, "%zu of %zu values out of order", bad, n);
  size_t used = 0, total = 0;
  TRY_OK(g->memory_usage(&used, &total));
  cr_assert_gt(used, n * sizeof(float), "the device holds at least the buffer");
  cr_assert_gt(total, used);
  free(back);
  g->free(dev);
  g->host_free_pinned(pinned);
  TRY_OK(g->upload_wait()); /* nothing pending: returns at once */
}
