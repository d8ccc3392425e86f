#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

/* PyTorch SGD: d = g + wd * w; buf = momentum * buf + d; w -= lr * buf.
 * A zero buffer makes the first step buf = d, as PyTorch's lazy buffer does. */
dnl_status cpu_sgd_update(size_t n, float *w, const float *g, float *momentum_buf, float lr,
                          float momentum, float weight_decay) {
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
  for (size_t i = 0; i < n; i++) {
    const float d = g[i] + weight_decay * w[i];
    const float b = momentum * momentum_buf[i] + d;
    momentum_buf[i] = b;
    w[i] -= lr * b;
  }
  return DNL_OK;
}
