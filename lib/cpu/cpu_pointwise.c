/* Element-wise ops: ReLU, per-channel scaling (Dropout2d), channel copies (concat). */
#include <string.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

dnl_status cpu_relu_forward(size_t n, const float *x, float *y) {
#pragma omp parallel for if (n > CPU_PARALLEL_MIN) schedule(static)
  for (size_t i = 0; i < n; i++)
    y[i] = x[i] <= 0.0f ? 0.0f : x[i]; /* NaN passes, as in PyTorch, to reach the loss check */
  return DNL_OK;
}

dnl_status cpu_relu_backward(size_t n, const float *y, const float *dy, float *dx) {
  /* both loads unconditional so that the loop becomes a vector select: a branch
   * on the unpredictable sign of y cost 10x more (simd: right even when dx is dy) */
#pragma omp parallel for simd if (n > CPU_PARALLEL_MIN) schedule(static)
  for (size_t i = 0; i < n; i++) {
    const float g = dy[i];
    dx[i] += y[i] > 0.0f ? g : 0.0f;
  }
  return DNL_OK;
}

dnl_status cpu_channel_scale_forward(int n, int c, int hw, const float *x, const float *scale,
                                     float *y) {
  const bool parallel = (size_t)n * c * hw > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) schedule(static)
  for (int p = 0; p < n * c; p++) {
    const float s = scale[p];
    const float *xp = x + (size_t)p * hw;
    float *yp = y + (size_t)p * hw;
    for (int i = 0; i < hw; i++)
      yp[i] = xp[i] * s;
  }
  return DNL_OK;
}

dnl_status cpu_channel_scale_backward(int n, int c, int hw, const float *dy,
                                      const float *scale, float *dx) {
  const bool parallel = (size_t)n * c * hw > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) schedule(static)
  for (int p = 0; p < n * c; p++) {
    const float s = scale[p];
    const float *dyp = dy + (size_t)p * hw;
    float *dxp = dx + (size_t)p * hw;
    for (int i = 0; i < hw; i++)
      dxp[i] += dyp[i] * s;
  }
  return DNL_OK;
}

dnl_status cpu_copy_channels(int n, int hw, const float *src, int src_c, int src_off,
                             float *dst, int dst_c, int dst_off, int count, bool accumulate) {
  const bool parallel = (size_t)n * count * hw > CPU_PARALLEL_MIN;
#pragma omp parallel for collapse(2) if (parallel) schedule(static)
  for (int b = 0; b < n; b++)
    for (int i = 0; i < count; i++) {
      const float *s = src + ((size_t)b * src_c + src_off + i) * hw;
      float *d = dst + ((size_t)b * dst_c + dst_off + i) * hw;
      if (accumulate) {
        for (int j = 0; j < hw; j++)
          d[j] += s[j];
      } else {
        memcpy(d, s, (size_t)hw * sizeof(float));
      }
    }
  return DNL_OK;
}
