/* Convolution as im2col + OpenBLAS sgemm, one image at a time.
 * 1x1 convolutions with stride 1 and no padding skip im2col: the input image
 * already is the [cin, h*w] column matrix. */
#include <string.h>

#include "lib/cpu/cpu_ops.h"

static bool is_pointwise(const conv2d_shape *s) {
  return s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad == 0;
}

size_t cpu_conv2d_workspace(const conv2d_shape *s) {
  if (is_pointwise(s))
    return 0;
  return (size_t)s->cin * s->kh * s->kw * s->oh * s->ow * sizeof(float);
}

/* col[(c*kh + i)*kw + j][oy*ow + ox] = x[c][oy*stride - pad + i*dil][ox*stride - pad + j*dil] */
static void im2col(const conv2d_shape *s, const float *x, float *col) {
  const int rows = s->cin * s->kh * s->kw;
  const int ohw = s->oh * s->ow;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; r++) {
    const int c = r / (s->kh * s->kw);
    const int i = (r / s->kw) % s->kh;
    const int j = r % s->kw;
    const float *xc = x + (size_t)c * s->h * s->w;
    float *dst = col + (size_t)r * ohw;
    for (int oy = 0; oy < s->oh; oy++) {
      const int iy = oy * s->stride - s->pad + i * s->dilation;
      float *d = dst + oy * s->ow;
      if (iy < 0 || iy >= s->h) {
        memset(d, 0, (size_t)s->ow * sizeof(float));
        continue;
      }
      const float *xrow = xc + (size_t)iy * s->w;
      const int off = j * s->dilation - s->pad;
      for (int ox = 0; ox < s->ow; ox++) {
        const int ix = ox * s->stride + off;
        d[ox] = (ix >= 0 && ix < s->w) ? xrow[ix] : 0.0f;
      }
    }
  }
}

/* dx[c] += scatter of col rows; parallel over input channels so that no two
 * threads write the same dx element. */
static void col2im_add(const conv2d_shape *s, const float *col, float *dx) {
  const int ohw = s->oh * s->ow;
  const int kk = s->kh * s->kw;
#pragma omp parallel for schedule(static)
  for (int c = 0; c < s->cin; c++) {
    float *dxc = dx + (size_t)c * s->h * s->w;
    for (int q = 0; q < kk; q++) {
      const int i = q / s->kw;
      const int j = q % s->kw;
      const float *src = col + (size_t)(c * kk + q) * ohw;
      for (int oy = 0; oy < s->oh; oy++) {
        const int iy = oy * s->stride - s->pad + i * s->dilation;
        if (iy < 0 || iy >= s->h)
          continue;
        float *drow = dxc + (size_t)iy * s->w;
        const float *srow = src + oy * s->ow;
        const int off = j * s->dilation - s->pad;
        for (int ox = 0; ox < s->ow; ox++) {
          const int ix = ox * s->stride + off;
          if (ix >= 0 && ix < s->w)
            drow[ix] += srow[ox];
        }
      }
    }
  }
}

dnl_status cpu_conv2d_forward(const conv2d_shape *s, const float *x, const float *w,
                              const float *bias, float *y, void *ws) {
  const int k = s->cin * s->kh * s->kw;
  const int ohw = s->oh * s->ow;
  const size_t x_stride = (size_t)s->cin * s->h * s->w;
  const size_t y_stride = (size_t)s->cout * ohw;
  for (int b = 0; b < s->n; b++) {
    const float *col = x + b * x_stride;
    if (!is_pointwise(s)) {
      im2col(s, x + b * x_stride, ws);
      col = ws;
    }
    float *yb = y + b * y_stride;
    cpu_sgemm(false, false, s->cout, ohw, k, 1.0f, w, k, col, ohw, 0.0f, yb, ohw);
    if (bias) {
#pragma omp parallel for schedule(static)
      for (int o = 0; o < s->cout; o++)
        for (int p = 0; p < ohw; p++)
          yb[(size_t)o * ohw + p] += bias[o];
    }
  }
  return DNL_OK;
}

dnl_status cpu_conv2d_backward(const conv2d_shape *s, const float *x, const float *w,
                               const float *dy, float *dx, float *dw, float *dbias, void *ws) {
  const int k = s->cin * s->kh * s->kw;
  const int ohw = s->oh * s->ow;
  const size_t x_stride = (size_t)s->cin * s->h * s->w;
  const size_t y_stride = (size_t)s->cout * ohw;
  const bool pointwise = is_pointwise(s);
  for (int b = 0; b < s->n; b++) {
    const float *dyb = dy + b * y_stride;
    if (dbias) {
#pragma omp parallel for schedule(static)
      for (int o = 0; o < s->cout; o++) {
        float acc = 0.0f;
        for (int p = 0; p < ohw; p++)
          acc += dyb[(size_t)o * ohw + p];
        dbias[o] += acc;
      }
    }
    if (dw) {
      const float *col = x + b * x_stride;
      if (!pointwise) {
        im2col(s, x + b * x_stride, ws);
        col = ws;
      }
      cpu_sgemm(false, true, s->cout, k, ohw, 1.0f, dyb, ohw, col, ohw, 1.0f, dw, k);
    }
    if (dx) {
      float *dxb = dx + b * x_stride;
      if (pointwise) {
        cpu_sgemm(true, false, k, ohw, s->cout, 1.0f, w, k, dyb, ohw, 1.0f, dxb, ohw);
      } else {
        cpu_sgemm(true, false, k, ohw, s->cout, 1.0f, w, k, dyb, ohw, 0.0f, ws, ohw);
        col2im_add(s, ws, dxb);
      }
    }
  }
  return DNL_OK;
}
