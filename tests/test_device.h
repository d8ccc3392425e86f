/* The CUDA cases of the op tests: the same random inputs go through the CPU
 * backend and the CUDA backend and the results are compared. On a machine
 * without a GPU (or a build without CUDA=1) these cases are skipped, and the
 * skip message says why. */
#ifndef DNL_TEST_DEVICE_H
#define DNL_TEST_DEVICE_H

#include <stddef.h>

#include "lib/core/backend.h"

/* The CUDA backend, or skips the current test (cr_skip_test) with the reason.
 * The table may still lack ops: each case asserts that its op is present. */
const dnl_backend *test_cuda_or_skip(void);

/* A device copy of n bytes of host memory (asserts on failure). */
void *test_upload(const dnl_backend *be, const void *host, size_t bytes);
/* A device buffer of bytes filled with zero bytes. */
void *test_device_zeros(const dnl_backend *be, size_t bytes);
/* A malloc'ed host copy of bytes of device memory; free() it. */
void *test_download_new(const dnl_backend *be, const void *dev, size_t bytes);

#endif
