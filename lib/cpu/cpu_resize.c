/* Bilinear resize with PyTorch's source-index rules for align_corners true/false. */
#include <stdlib.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

typedef struct axis_tap {
  int i0, i1;
  float w0, w1;
} axis_tap;

static axis_tap tap(int dst, int in, int out, bool align_corners) {
  float src;
  if (align_corners) {
    float scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    src = scale * (float)dst;
  } else {
    float scale = (float)in / (float)out;
    src = scale * ((float)dst + 0.5f) - 0.5f;
    if (src < 0.0f)
      src = 0.0f;
  }
  axis_tap t;
  t.i0 = (int)src;
  if (t.i0 > in - 1)
    t.i0 = in - 1;
  t.i1 = t.i0 < in - 1 ? t.i0 + 1 : t.i0;
  t.w1 = src - (float)t.i0;
  t.w0 = 1.0f - t.w1;
  return t;
}

/* The taps of every output column, computed once per call rather than once
 * per output pixel (a division each). */
static dnl_status column_taps(const resize_shape *s, axis_tap **out) {
  *out = malloc((size_t)s->ow * sizeof **out);
  if (!*out)
    return dnl_error(DNL_ERR_NOMEM, "resize: %d column taps", s->ow);
  for (int ox = 0; ox < s->ow; ox++)
    (*out)[ox] = tap(ox, s->iw, s->ow, s->align_corners);
  return DNL_OK;
}

dnl_status cpu_resize_forward(const resize_shape *s, const float *x, float *y) {
  axis_tap *cols;
  DNL_TRY(column_taps(s, &cols));
  const bool parallel = (size_t)s->n * s->c * s->oh * s->ow > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) schedule(static)
  for (int p = 0; p < s->n * s->c; p++) {
    const float *xp = x + (size_t)p * s->ih * s->iw;
    float *yp = y + (size_t)p * s->oh * s->ow;
    for (int oy = 0; oy < s->oh; oy++) {
      const axis_tap ty = tap(oy, s->ih, s->oh, s->align_corners);
      const float *r0 = xp + (size_t)ty.i0 * s->iw;
      const float *r1 = xp + (size_t)ty.i1 * s->iw;
      float *yr = yp + (size_t)oy * s->ow;
      for (int ox = 0; ox < s->ow; ox++) {
        const axis_tap tx = cols[ox];
        yr[ox] = ty.w0 * (tx.w0 * r0[tx.i0] + tx.w1 * r0[tx.i1]) +
                 ty.w1 * (tx.w0 * r1[tx.i0] + tx.w1 * r1[tx.i1]);
      }
    }
  }
  free(cols);
  return DNL_OK;
}

dnl_status cpu_resize_backward(const resize_shape *s, const float *dy, float *dx) {
  axis_tap *cols;
  DNL_TRY(column_taps(s, &cols));
  const bool parallel = (size_t)s->n * s->c * s->oh * s->ow > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) schedule(static)
  for (int p = 0; p < s->n * s->c; p++) {
    const float *dyp = dy + (size_t)p * s->oh * s->ow;
    float *dxp = dx + (size_t)p * s->ih * s->iw;
    for (int oy = 0; oy < s->oh; oy++) {
      const axis_tap ty = tap(oy, s->ih, s->oh, s->align_corners);
      float *r0 = dxp + (size_t)ty.i0 * s->iw;
      float *r1 = dxp + (size_t)ty.i1 * s->iw;
      for (int ox = 0; ox < s->ow; ox++) {
        const axis_tap tx = cols[ox];
        const float g = dyp[oy * s->ow + ox];
        r0[tx.i0] += ty.w0 * tx.w0 * g;
        r0[tx.i1] += ty.w0 * tx.w1 * g;
        r1[tx.i0] += ty.w1 * tx.w0 * g;
        r1[tx.i1] += ty.w1 * tx.w1 * g;
      }
    }
  }
  free(cols);
  return DNL_OK;
}
