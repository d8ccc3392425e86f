/* Softmax over the middle axis of [outer, len, inner] (max-subtracted), as in
 * lib/cpu/cpu_softmax.c. With inner == 1 (rows of length len, e.g. attention
 * maps) one block handles a row; otherwise one thread walks the len elements of
 * an (outer, inner) column, neighbouring threads reading neighbouring inner
 * positions. */
#include <math.h>

#include "lib/cuda/cuda_block_reduce.cuh"
#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"

__global__ static void softmax_rows_kernel(int len, const float *x, float *y) {
  const float *xr = x + (size_t)blockIdx.x * len;
  float *yr = y + (size_t)blockIdx.x * len;
  float mx = -INFINITY;
  for (int k = threadIdx.x; k < len; k += blockDim.x)
    mx = fmaxf(mx, xr[k]);
  mx = block_reduce(mx, reduce_max(), -INFINITY);
  double sum = 0.0; /* in double, as the CPU */
  for (int k = threadIdx.x; k < len; k += blockDim.x) {
    const float e = expf(xr[k] - mx);
    yr[k] = e;
    sum += e;
  }
  const float inv = (float)(1.0 / block_reduce(sum, reduce_add(), 0.0));
  for (int k = threadIdx.x; k < len; k += blockDim.x)
    yr[k] *= inv;
}

__global__ static void softmax_columns_kernel(int outer, int len, int inner, const float *x,
                                              float *y) {
  const size_t col = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (col >= (size_t)outer * inner)
    return;
  const size_t o = col / inner, i = col % inner;
  const float *xp = x + o * len * inner + i;
  float *yp = y + o * len * inner + i;
  float mx = xp[0];
  for (int k = 1; k < len; k++)
    mx = fmaxf(mx, xp[(size_t)k * inner]);
  double sum = 0.0;
  for (int k = 0; k < len; k++) {
    const float e = expf(xp[(size_t)k * inner] - mx);
    yp[(size_t)k * inner] = e;
    sum += e;
  }
  const float inv = (float)(1.0 / sum);
  for (int k = 0; k < len; k++)
    yp[(size_t)k * inner] *= inv;
}

/* dx += y * (dy - sum_k y_k dy_k) */
__global__ static void softmax_rows_backward_kernel(int len, const float *y, const float *dy,
                                                    float *dx) {
  const size_t base = (size_t)blockIdx.x * len;
  double dot = 0.0; /* in double, as the CPU */
  for (int k = threadIdx.x; k < len; k += blockDim.x)
    dot += (double)y[base + k] * dy[base + k];
  const float d = (float)block_reduce(dot, reduce_add(), 0.0);
  for (int k = threadIdx.x; k < len; k += blockDim.x)
    dx[base + k] += y[base + k] * (dy[base + k] - d);
}

__global__ static void softmax_columns_backward_kernel(int outer, int len, int inner,
                                                       const float *y, const float *dy,
                                                       float *dx) {
  const size_t col = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (col >= (size_t)outer * inner)
    return;
  const size_t o = col / inner, i = col % inner;
  const size_t base = o * len * inner + i;
  double dot = 0.0;
  for (int k = 0; k < len; k++)
    dot += (double)y[base + (size_t)k * inner] * dy[base + (size_t)k * inner];
  for (int k = 0; k < len; k++) {
    const size_t at = base + (size_t)k * inner;
    dx[at] += y[at] * (dy[at] - (float)dot);
  }
}

static unsigned column_blocks(int outer, int inner) {
  return (unsigned)(((size_t)outer * inner + CUDA_BLOCK - 1) / CUDA_BLOCK);
}

dnl_status cuda_softmax_forward(int outer, int len, int inner, const float *x, float *y) {
  if (outer <= 0 || len <= 0 || inner <= 0)
    return DNL_OK;
  if (inner == 1) {
    softmax_rows_kernel<<<outer, CUDA_BLOCK>>>(len, x, y);
    CUDA_CHECK_LAUNCH("softmax_rows_kernel");
  } else {
    softmax_columns_kernel<<<column_blocks(outer, inner), CUDA_BLOCK>>>(outer, len, inner, x,
                                                                        y);
    CUDA_CHECK_LAUNCH("softmax_columns_kernel");
  }
  return DNL_OK;
}

dnl_status cuda_softmax_backward(int outer, int len, int inner, const float *y,
                                 const float *dy, float *dx) {
  if (outer <= 0 || len <= 0 || inner <= 0)
    return DNL_OK;
  if (inner == 1) {
    softmax_rows_backward_kernel<<<outer, CUDA_BLOCK>>>(len, y, dy, dx);
    CUDA_CHECK_LAUNCH("softmax_rows_backward_kernel");
  } else {
    softmax_columns_backward_kernel<<<column_blocks(outer, inner), CUDA_BLOCK>>>(
        outer, len, inner, y, dy, dx);
    CUDA_CHECK_LAUNCH("softmax_columns_backward_kernel");
  }
  return DNL_OK;
}
