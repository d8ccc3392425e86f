/* PyTorch SGD step on the device; same formula as lib/cpu/cpu_sgd.c. */
#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"

__global__ static void sgd_kernel(size_t n, float *w, const float *g, float *momentum_buf,
                                  float lr, float momentum, float weight_decay) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    const float d = g[i] + weight_decay * w[i];
    const float b = momentum * momentum_buf[i] + d;
    momentum_buf[i] = b;
    w[i] -= lr * b;
  }
}

dnl_status cuda_sgd_update(size_t n, float *w, const float *g, float *momentum_buf, float lr,
                           float momentum, float weight_decay) {
  if (n == 0)
    return DNL_OK;
  sgd_kernel<<<cuda_grid_for(n), CUDA_BLOCK>>>(n, w, g, momentum_buf, lr, momentum,
                                               weight_decay);
  CUDA_CHECK_LAUNCH("sgd_kernel");
  return DNL_OK;
}
