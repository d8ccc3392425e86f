/* Max pooling as lib/cpu/cpu_pool.c: windows clipped at the borders (padding
 * never wins), the first maximum in row-major order wins ties, a NaN wins (the
 * last one), a window in the padding only gives -FLT_MAX and argmax -1. argmax
 * holds the index within the input plane (iy * w + ix).
 * The backward gathers: each input element adds, in the CPU's order (outputs in
 * increasing index), the gradients of the outputs whose argmax is it, so the
 * result is the CPU's to the bit and needs no atomics. */
#include <float.h>
#include <math.h>

#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"

#define GRID_STRIDE_LOOP(i, n)                                                                \
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                     \
       i += (size_t)gridDim.x * blockDim.x)

__global__ static void maxpool_forward_kernel(pool_shape s, const float *x, float *y,
                                              int32_t *argmax) {
  const size_t total = (size_t)s.n * s.c * s.oh * s.ow;
  GRID_STRIDE_LOOP(o, total) {
    const int ox = (int)(o % s.ow), oy = (int)(o / s.ow % s.oh);
    const size_t plane = o / s.ow / s.oh;
    const float *xp = x + plane * s.h * s.w;
    const int wy = oy * s.stride - s.pad, wx = ox * s.stride - s.pad;
    const int y0 = wy < 0 ? 0 : wy, y1 = wy + s.k > s.h ? s.h : wy + s.k;
    const int x0 = wx < 0 ? 0 : wx, x1 = wx + s.k > s.w ? s.w : wx + s.k;
    if (y0 >= y1 || x0 >= x1) {
      y[o] = -FLT_MAX;
      argmax[o] = -1;
      continue;
    }
    float best = xp[y0 * s.w + x0];
    int32_t at = y0 * s.w + x0;
    for (int iy = y0; iy < y1; iy++)
      for (int ix = x0; ix < x1; ix++) {
        const float v = xp[iy * s.w + ix];
        if (v > best || isnan(v)) {
          best = v;
          at = iy * s.w + ix;
        }
      }
    y[o] = best;
    argmax[o] = at;
  }
}

/* The outputs o along one axis whose window [o * stride - pad, + k) holds i:
 * [*lo, *hi], empty when *lo > *hi. */
__device__ static void windows_holding(int i, int k, int stride, int pad, int out, int *lo,
                                       int *hi) {
  const int first = i + pad - k + 1; /* o * stride >= first */
  *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  const int last = (i + pad) / stride; /* o * stride <= i + pad */
  *hi = last < out - 1 ? last : out - 1;
}

__global__ static void maxpool_backward_kernel(pool_shape s, const float *dy,
                                               const int32_t *argmax, float *dx) {
  const size_t total = (size_t)s.n * s.c * s.h * s.w;
  GRID_STRIDE_LOOP(i, total) {
    const int in_plane = (int)(i % ((size_t)s.h * s.w));
    const int ix = in_plane % s.w, iy = in_plane / s.w;
    const size_t plane = i / ((size_t)s.h * s.w);
    const float *dyp = dy + plane * s.oh * s.ow;
    const int32_t *ap = argmax + plane * s.oh * s.ow;
    int oy0, oy1, ox0, ox1;
    windows_holding(iy, s.k, s.stride, s.pad, s.oh, &oy0, &oy1);
    windows_holding(ix, s.k, s.stride, s.pad, s.ow, &ox0, &ox1);
    float acc = dx[i];
    for (int oy = oy0; oy <= oy1; oy++)
      for (int ox = ox0; ox <= ox1; ox++) {
        const size_t o = (size_t)oy * s.ow + ox;
        if (ap[o] == in_plane)
          acc = __fadd_rn(acc, dyp[o]);
      }
    dx[i] = acc;
  }
}

dnl_status cuda_maxpool_forward(const pool_shape *s, const float *x, float *y,
                                int32_t *argmax) {
  const size_t total = (size_t)s->n * s->c * s->oh * s->ow;
  if (total == 0)
    return DNL_OK;
  maxpool_forward_kernel<<<cuda_grid_for(total), CUDA_BLOCK>>>(*s, x, y, argmax);
  CUDA_CHECK_LAUNCH("maxpool_forward_kernel");
  return DNL_OK;
}

dnl_status cuda_maxpool_backward(const pool_shape *s, const float *dy, const int32_t *argmax,
                                 float *dx) {
  const size_t total = (size_t)s->n * s->c * s->h * s->w;
  if (total == 0)
    return DNL_OK;
  maxpool_backward_kernel<<<cuda_grid_for(total), CUDA_BLOCK>>>(*s, dy, argmax, dx);
  CUDA_CHECK_LAUNCH("maxpool_backward_kernel");
  return DNL_OK;
}
