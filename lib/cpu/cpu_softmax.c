/* Softmax over the middle axis of [outer, len, inner] (max-subtracted). */
#include <math.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

dnl_status cpu_softmax_forward(int outer, int len, int inner, const float *x, float *y) {
  const bool parallel = (size_t)outer * len * inner > CPU_PARALLEL_MIN;
#pragma omp parallel for collapse(2) if (parallel) schedule(static)
  for (int o = 0; o < outer; o++)
    for (int i = 0; i < inner; i++) {
      const float *xp = x + (size_t)o * len * inner + i;
      float *yp = y + (size_t)o * len * inner + i;
      float mx = xp[0];
      for (int k = 1; k < len; k++)
        if (xp[(size_t)k * inner] > mx)
          mx = xp[(size_t)k * inner];
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
  return DNL_OK;
}

dnl_status cpu_softmax_backward(int outer, int len, int inner, const float *y,
                                const float *dy, float *dx) {
  const bool parallel = (size_t)outer * len * inner > CPU_PARALLEL_MIN;
#pragma omp parallel for collapse(2) if (parallel) schedule(static)
  for (int o = 0; o < outer; o++)
    for (int i = 0; i < inner; i++) {
      const size_t base = (size_t)o * len * inner + i;
      double dot = 0.0;
      for (int k = 0; k < len; k++)
        dot += (double)y[base + (size_t)k * inner] * dy[base + (size_t)k * inner];
      for (int k = 0; k < len; k++) {
        const size_t at = base + (size_t)k * inner;
        dx[at] += y[at] * (dy[at] - (float)dot);
      }
    }
  return DNL_OK;
}
