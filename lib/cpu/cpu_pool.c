/* Max pooling with PyTorch's window rules (padding never wins, ceil mode). */
#include <float.h>
#include <math.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

/* Maximum of x[y0..y1) x [x0..x1) (rows of w) and its index, in row-major
 * order: the first maximum wins ties and NaN wins, as in PyTorch, so that it
 * reaches the non-finite checks. */
static void window_max(const float *x, int w, int y0, int y1, int x0, int x1, float *out,
                       int32_t *at) {
  float best = x[y0 * w + x0];
  int32_t idx = y0 * w + x0;
  for (int iy = y0; iy < y1; iy++)
    for (int ix = x0; ix < x1; ix++) {
      const float v = x[iy * w + ix];
      if (v > best || isnan(v)) {
        best = v;
        idx = iy * w + ix;
      }
    }
  *out = best;
  *at = idx;
}

/* A window clipped by the borders, one output at a time. */
static void edge_output(const pool_shape *s, const float *xp, int y0, int y1, int ox, float *yr,
                        int32_t *ar) {
  const int wx = ox * s->stride - s->pad;
  const int x0 = wx < 0 ? 0 : wx, x1 = wx + s->k > s->w ? s->w : wx + s->k;
  if (y0 < y1 && x0 < x1) {
    window_max(xp, s->w, y0, y1, x0, x1, &yr[ox], &ar[ox]);
  } else { /* a window in the padding only (not with PyTorch's rules) */
    yr[ox] = -FLT_MAX;
    ar[ox] = -1;
  }
}

/* One output row. Windows clipped at the left and right go one by one; the
 * others go tap by tap (in the same row-major order) across the row, as
 * branch-free vector selects: a branch on the unpredictable order of the
 * values cost 4x more. */
static void pool_row(const pool_shape *s, const float *xp, int oy, float *yr, int32_t *ar) {
  const int st = s->stride, k = s->k, w = s->w, pad = s->pad;
  const int wy = oy * st - pad;
  const int y0 = wy < 0 ? 0 : wy, y1 = wy + k > s->h ? s->h : wy + k;
  /* inside: ox * st - pad >= 0 and ox * st - pad + k <= w */
  const int span = w - k + pad;
  int lo = (pad + st - 1) / st, hi = span < 0 ? 0 : span / st + 1;
  if (hi > s->ow)
    hi = s->ow;
  if (lo > hi || y0 >= y1)
    lo = hi = s->ow;
  for (int ox = 0; ox < lo; ox++)
    edge_output(s, xp, y0, y1, ox, yr, ar);
  for (int ox = hi; ox < s->ow; ox++)
    edge_output(s, xp, y0, y1, ox, yr, ar);
  for (int ox = lo; ox < hi; ox++) {
    ar[ox] = y0 * w + ox * st - pad;
    yr[ox] = xp[ar[ox]];
  }
  for (int iy = y0; iy < y1; iy++)
    for (int j = 0; j < k; j++) {
      const int base = iy * w - pad + j;
      for (int ox = lo; ox < hi; ox++) {
        const float v = xp[base + ox * st], b = yr[ox];
        const int32_t a = ar[ox];
        const bool take = (v > b) | (v != v);
        yr[ox] = take ? v : b;
        ar[ox] = take ? base + ox * st : a;
      }
    }
}

dnl_status cpu_maxpool_forward(const pool_shape *s, const float *x, float *y,
                               int32_t *argmax) {
  const bool parallel = (size_t)s->n * s->c * s->h * s->w > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) schedule(static)
  for (int p = 0; p < s->n * s->c; p++)
    for (int oy = 0; oy < s->oh; oy++)
      pool_row(s, x + (size_t)p * s->h * s->w, oy, y + ((size_t)p * s->oh + oy) * s->ow,
               argmax + ((size_t)p * s->oh + oy) * s->ow);
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
