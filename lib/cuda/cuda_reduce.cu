/* Reductions to a host value: sum (in double) and the count of NaN/Inf.
 * Each block reduces a fixed grid-stride slice into its own slot of a device
 * scratch array; the host adds the slots in order, so results do not depend on
 * scheduling. */
#include <math.h>

#include "lib/cuda/cuda_block_reduce.cuh"
#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"

#define REDUCE_BLOCKS 1024

/* REDUCE_BLOCKS partial results, 8 bytes each (double or unsigned long long) */
static void *partials;

dnl_status cuda_reduce_init(void) {
  CUDA_CHECK(cudaMalloc(&partials, REDUCE_BLOCKS * sizeof(double)));
  return DNL_OK;
}

static unsigned reduce_grid(size_t n) {
  const unsigned g = cuda_grid_for(n);
  return g < REDUCE_BLOCKS ? g : REDUCE_BLOCKS;
}

__global__ static void sum_kernel(size_t n, const float *x, double *out) {
  double acc = 0.0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    acc += x[i];
  acc = block_reduce(acc, reduce_add(), 0.0);
  if (threadIdx.x == 0)
    out[blockIdx.x] = acc;
}

__global__ static void nonfinite_kernel(size_t n, const float *x, unsigned long long *out) {
  unsigned long long bad = 0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    bad += !isfinite(x[i]);
  bad = block_reduce(bad, reduce_add(), 0ull);
  if (threadIdx.x == 0)
    out[blockIdx.x] = bad;
}

dnl_status cuda_sum(size_t n, const float *x, double *out) {
  *out = 0.0;
  if (n == 0)
    return DNL_OK;
  const unsigned grid = reduce_grid(n);
  double host[REDUCE_BLOCKS];
  sum_kernel<<<grid, CUDA_BLOCK>>>(n, x, (double *)partials);
  CUDA_CHECK_LAUNCH("sum_kernel");
  CUDA_CHECK(cudaMemcpy(host, partials, grid * sizeof(double), cudaMemcpyDeviceToHost));
  double s = 0.0;
  for (unsigned b = 0; b < grid; b++)
    s += host[b];
  *out = s;
  return DNL_OK;
}

dnl_status cuda_count_nonfinite(size_t n, const float *x, size_t *out) {
  *out = 0;
  if (n == 0)
    return DNL_OK;
  const unsigned grid = reduce_grid(n);
  unsigned long long host[REDUCE_BLOCKS];
  nonfinite_kernel<<<grid, CUDA_BLOCK>>>(n, x, (unsigned long long *)partials);
  CUDA_CHECK_LAUNCH("nonfinite_kernel");
  CUDA_CHECK(
      cudaMemcpy(host, partials, grid * sizeof(unsigned long long), cudaMemcpyDeviceToHost));
  size_t bad = 0;
  for (unsigned b = 0; b < grid; b++)
    bad += (size_t)host[b];
  *out = bad;
  return DNL_OK;
}
