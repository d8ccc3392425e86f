/* Device memory: allocation, copies between host and device, fill, sync. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"

static double mib(size_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

dnl_status cuda_oom_error(const char *what, size_t bytes, const char *cause) {
  cudaGetLastError();
  char asked[64] = "";
  if (bytes)
    snprintf(asked, sizeof asked, " asked for %.1f MiB,", mib(bytes));
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
    cudaGetLastError();
    return dnl_error(DNL_ERR_NOMEM, "cuda: out of device memory: %s%s free memory unknown (%s)",
                     what, asked, cause);
  }
  return dnl_error(DNL_ERR_NOMEM, "cuda: out of device memory: %s%s %.1f of %.1f MiB free (%s)",
                   what, asked, mib(free_bytes), mib(total_bytes), cause);
}

dnl_status cuda_alloc(size_t bytes, void **out) {
  *out = NULL;
  cudaError_t e = cudaMalloc(out, bytes ? bytes : sizeof(float));
  if (e == cudaSuccess)
    return DNL_OK;
  *out = NULL;
  if (e == cudaErrorMemoryAllocation)
    return cuda_oom_error("cuda alloc", bytes ? bytes : sizeof(float), cudaGetErrorString(e));
  cudaGetLastError(); /* clear the recorded error: later launch checks read it */
  return dnl_error(DNL_ERR_INTERNAL, "cuda: cannot allocate %zu bytes: %s", bytes,
                   cudaGetErrorString(e));
}

void cuda_free(void *p) {
  /* nothing to report to: a failing free means an earlier error, which the next
   * checked call reports */
  if (p)
    cudaFree(p);
}

static bool is_device(dnl_device d) { return d == DEVICE_CPU || d == DEVICE_CUDA; }

dnl_status cuda_memcpy(void *dst, dnl_device dst_dev, const void *src, dnl_device src_dev,
                       size_t bytes) {
  if (!is_device(dst_dev) || !is_device(src_dev))
    return dnl_error(DNL_ERR_ARG, "cuda backend: memcpy between unknown devices %d -> %d",
                     (int)src_dev, (int)dst_dev);
  if (bytes == 0)
    return DNL_OK;
  if (dst_dev == DEVICE_CPU && src_dev == DEVICE_CPU) {
    memmove(dst, src, bytes);
    return DNL_OK;
  }
  cudaMemcpyKind kind = dst_dev == DEVICE_CPU   ? cudaMemcpyDeviceToHost
                        : src_dev == DEVICE_CPU ? cudaMemcpyHostToDevice
                                                : cudaMemcpyDeviceToDevice;
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
  return DNL_OK;
}

__global__ static void fill_kernel(float *x, size_t n, float value) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    x[i] = value;
}

dnl_status cuda_fill(float *x, size_t n, float value) {
  if (n == 0)
    return DNL_OK;
  if (value == 0.0f && !signbit(value)) {
    CUDA_CHECK(cudaMemsetAsync(x, 0, n * sizeof(float)));
    return DNL_OK;
  }
  fill_kernel<<<cuda_grid_for(n), CUDA_BLOCK>>>(x, n, value);
  CUDA_CHECK_LAUNCH("fill_kernel");
  return DNL_OK;
}

dnl_status cuda_synchronize(void) {
  CUDA_CHECK(cudaDeviceSynchronize());
  return DNL_OK;
}
