/* Per-channel scaling (Dropout2d) and channel copies (concat), as in
 * lib/cpu/cpu_pointwise.c. One thread per element with grid-stride loops; the
 * multiply-adds are spelled with __fmul_rn/__fadd_rn so that nvcc does not
 * fuse them and the result is the CPU's to the bit. */
#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"

#define GRID_STRIDE_LOOP(i, n)                                                                \
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                     \
       i += (size_t)gridDim.x * blockDim.x)

__global__ static void channel_scale_forward_kernel(size_t total, size_t hw, const float *x,
                                                    const float *scale, float *y) {
  GRID_STRIDE_LOOP(i, total) y[i] = __fmul_rn(x[i], scale[i / hw]);
}

__global__ static void channel_scale_backward_kernel(size_t total, size_t hw, const float *dy,
                                                     const float *scale, float *dx) {
  GRID_STRIDE_LOOP(i, total) dx[i] = __fadd_rn(dx[i], __fmul_rn(dy[i], scale[i / hw]));
}

/* element i of the [n, count, hw] block being copied */
__global__ static void copy_channels_kernel(size_t total, size_t hw, size_t count,
                                            const float *src, size_t src_c, size_t src_off,
                                            float *dst, size_t dst_c, size_t dst_off,
                                            bool accumulate) {
  GRID_STRIDE_LOOP(i, total) {
    const size_t j = i % hw, ch = i / hw % count, b = i / hw / count;
    const float v = src[((b * src_c) + src_off + ch) * hw + j];
    float *d = &dst[((b * dst_c) + dst_off + ch) * hw + j];
    *d = accumulate ? __fadd_rn(*d, v) : v;
  }
}

dnl_status cuda_channel_scale_forward(int n, int c, int hw, const float *x, const float *scale,
                                      float *y) {
  if (n <= 0 || c <= 0 || hw <= 0)
    return DNL_OK;
  const size_t total = (size_t)n * c * hw;
  channel_scale_forward_kernel<<<cuda_grid_for(total), CUDA_BLOCK>>>(total, (size_t)hw, x,
                                                                     scale, y);
  CUDA_CHECK_LAUNCH("channel_scale_forward_kernel");
  return DNL_OK;
}

dnl_status cuda_channel_scale_backward(int n, int c, int hw, const float *dy,
                                       const float *scale, float *dx) {
  if (n <= 0 || c <= 0 || hw <= 0)
    return DNL_OK;
  const size_t total = (size_t)n * c * hw;
  channel_scale_backward_kernel<<<cuda_grid_for(total), CUDA_BLOCK>>>(total, (size_t)hw, dy,
                                                                      scale, dx);
  CUDA_CHECK_LAUNCH("channel_scale_backward_kernel");
  return DNL_OK;
}

dnl_status cuda_copy_channels(int n, int hw, const float *src, int src_c, int src_off,
                              float *dst, int dst_c, int dst_off, int count, bool accumulate) {
  if (n <= 0 || hw <= 0 || count <= 0)
    return DNL_OK;
  const size_t total = (size_t)n * count * hw;
  copy_channels_kernel<<<cuda_grid_for(total), CUDA_BLOCK>>>(
      total, (size_t)hw, (size_t)count, src, (size_t)src_c, (size_t)src_off, dst,
      (size_t)dst_c, (size_t)dst_off, accumulate);
  CUDA_CHECK_LAUNCH("copy_channels_kernel");
  return DNL_OK;
}
