/* Max pooling with PyTorch's window rules (padding never wins, ceil mode). */
#include <float.h>
#include <math.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

dnl_status cpu_maxpool_forward(const pool_shape *s, const float *x, float *y,
                               int32_t *argmax) {
  const bool parallel = (size_t)s->n * s->c * s->h * s->w > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) schedule(static)
  for (int p = 0; p < s->n * s->c; p++) {
    const float *xp = x + (size_t)p * s->h * s->w;
    float *yp = y + (size_t)p * s->oh * s->ow;
    int32_t *ap = argmax + (size_t)p * s->oh * s->ow;
    for (int oy = 0; oy < s->oh; oy++) {
      const int y0 = oy * s->stride - s->pad;
      for (int ox = 0; ox < s->ow; ox++) {
        const int x0 = ox * s->stride - s->pad;
        float best = -FLT_MAX;
        int32_t at = -1;
        for (int i = 0; i < s->k; i++) {
          const int iy = y0 + i;
          if (iy < 0 || iy >= s->h)
            continue;
          for (int j = 0; j < s->k; j++) {
            const int ix = x0 + j;
            if (ix < 0 || ix >= s->w)
              continue;
            const float v = xp[iy * s->w + ix];
            /* NaN wins, as in PyTorch, so that it reaches the non-finite checks */
            if (at < 0 || v > best || isnan(v)) {
              best = v;
              at = iy * s->w + ix;
            }
          }
        }
        yp[oy * s->ow + ox] = best;
        ap[oy * s->ow + ox] = at;
      }
    }
  }
  return DNL_OK;
}

dnl_status cpu_maxpool_backward(const pool_shape *s, const float *dy, const int32_t *argmax,
                                float *dx) {
  const bool parallel = (size_t)s->n * s->c * s->h * s->w > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) schedule(static)
  for (int p = 0; p < s->n * s->c; p++) {
    const float *dyp = dy + (size_t)p * s->oh * s->ow;
    const int32_t *ap = argmax + (size_t)p * s->oh * s->ow;
    float *dxp = dx + (size_t)p * s->h * s->w;
    for (int i = 0; i < s->oh * s->ow; i++)
      if (ap[i] >= 0)
        dxp[ap[i]] += dyp[i];
  }
  return DNL_OK;
}
