/* Element-wise kernels: axpy, scale, add, ReLU (grid-stride loops). */
#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"

#define GRID_STRIDE_LOOP(i, n)                                                                \
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                     \
       i += (size_t)gridDim.x * blockDim.x)

__global__ static void axpy_kernel(size_t n, float alpha, const float *x, float *y) {
  GRID_STRIDE_LOOP(i, n) y[i] += alpha * x[i];
}

__global__ static void scale_kernel(size_t n, float alpha, float *x) {
  GRID_STRIDE_LOOP(i, n) x[i] *= alpha;
}

__global__ static void add_kernel(size_t n, const float *a, const float *b, float *y) {
  GRID_STRIDE_LOOP(i, n) y[i] = a[i] + b[i];
}

__global__ static void relu_forward_kernel(size_t n, const float *x, float *y) {
  /* NaN passes, as on the CPU (and in PyTorch), to reach the loss check */
  GRID_STRIDE_LOOP(i, n) y[i] = x[i] <= 0.0f ? 0.0f : x[i];
}

__global__ static void relu_backward_kernel(size_t n, const float *y, const float *dy,
                                            float *dx) {
  GRID_STRIDE_LOOP(i, n) if (y[i] > 0.0f) dx[i] += dy[i];
}

/* Launches kernel over n elements; nothing to do for n == 0. */
#define LAUNCH_1D(kernel, n, ...)                                                             \
  do {                                                                                        \
    if ((n) == 0)                                                                             \
      return DNL_OK;                                                                          \
    kernel<<<cuda_grid_for(n), CUDA_BLOCK>>>((n), __VA_ARGS__);                               \
    CUDA_CHECK_LAUNCH(#kernel);                                                               \
    return DNL_OK;                                                                            \
  } while (0)

dnl_status cuda_axpy(size_t n, float alpha, const float *x, float *y) {
  LAUNCH_1D(axpy_kernel, n, alpha, x, y);
}

dnl_status cuda_scale(size_t n, float alpha, float *x) {
  LAUNCH_1D(scale_kernel, n, alpha, x);
}

dnl_status cuda_add(size_t n, const float *a, const float *b, float *y) {
  LAUNCH_1D(add_kernel, n, a, b, y);
}

dnl_status cuda_relu_forward(size_t n, const float *x, float *y) {
  LAUNCH_1D(relu_forward_kernel, n, x, y);
}

dnl_status cuda_relu_backward(size_t n, const float *y, const float *dy, float *dx) {
  LAUNCH_1D(relu_backward_kernel, n, y, dy, dx);
}
