/* Bilinear resize as lib/cpu/cpu_resize.c (PyTorch's source-index rules for
 * align_corners true and false). The float arithmetic is the CPU's operation by
 * operation, spelled with __fmul_rn/__fadd_rn/__fsub_rn/__fdiv_rn so that nvcc
 * does not fuse it into FMAs: the taps, the forward and the backward match the
 * CPU to the bit.
 * The backward gathers instead of scattering: each input element walks the
 * outputs that read it in the CPU's order (rows, then columns, then the four
 * taps r0[i0], r0[i1], r1[i0], r1[i1]) and adds their shares, so it sums the
 * same terms in the same order as the CPU, without atomics. */
#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"

#define GRID_STRIDE_LOOP(i, n)                                                                \
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                     \
       i += (size_t)gridDim.x * blockDim.x)

struct axis_tap {
  int i0, i1;
  float w0, w1;
};

/* Source taps of output index dst along an axis of in -> out samples. */
__device__ static axis_tap tap(int dst, int in, int out, bool align_corners) {
  float src;
  if (align_corners) {
    const float scale = out > 1 ? __fdiv_rn((float)(in - 1), (float)(out - 1)) : 0.0f;
    src = __fmul_rn(scale, (float)dst);
  } else {
    const float scale = __fdiv_rn((float)in, (float)out);
    src = __fsub_rn(__fmul_rn(scale, __fadd_rn((float)dst, 0.5f)), 0.5f);
    if (src < 0.0f)
      src = 0.0f;
  }
  axis_tap t;
  t.i0 = (int)src;
  if (t.i0 > in - 1)
    t.i0 = in - 1;
  t.i1 = t.i0 < in - 1 ? t.i0 + 1 : t.i0;
  t.w1 = __fsub_rn(src, (float)t.i0);
  t.w0 = __fsub_rn(1.0f, t.w1);
  return t;
}

__global__ static void resize_forward_kernel(resize_shape s, const float *x, float *y) {
  const size_t total = (size_t)s.n * s.c * s.oh * s.ow;
  GRID_STRIDE_LOOP(o, total) {
    const int ox = (int)(o % s.ow), oy = (int)(o / s.ow % s.oh);
    const size_t plane = o / s.ow / s.oh;
    const axis_tap ty = tap(oy, s.ih, s.oh, s.align_corners);
    const axis_tap tx = tap(ox, s.iw, s.ow, s.align_corners);
    const float *r0 = x + (plane * s.ih + ty.i0) * s.iw;
    const float *r1 = x + (plane * s.ih + ty.i1) * s.iw;
    const float a = __fadd_rn(__fmul_rn(tx.w0, r0[tx.i0]), __fmul_rn(tx.w1, r0[tx.i1]));
    const float b = __fadd_rn(__fmul_rn(tx.w0, r1[tx.i0]), __fmul_rn(tx.w1, r1[tx.i1]));
    y[o] = __fadd_rn(__fmul_rn(ty.w0, a), __fmul_rn(ty.w1, b));
  }
}

/* The outputs along one axis that read input index i: [*lo, *hi). i0 and i1 of
 * the taps never decrease with the output index (rounding is monotone) and
 * i1 - i0 <= 1, so they are the outputs with i1 >= i and i0 <= i, a range
 * found by two binary searches. */
__device__ static void outputs_reading(int i, int in, int out, bool align_corners, int *lo,
                                       int *hi) {
  int a = 0, b = out; /* first output with i1 >= i */
  while (a < b) {
    const int m = a + (b - a) / 2;
    if (tap(m, in, out, align_corners).i1 >= i)
      b = m;
    else
      a = m + 1;
  }
  *lo = a;
  b = out; /* first output with i0 > i */
  while (a < b) {
    const int m = a + (b - a) / 2;
    if (tap(m, in, out, align_corners).i0 > i)
      b = m;
    else
      a = m + 1;
  }
  *hi = a;
}

__global__ static void resize_backward_kernel(resize_shape s, const float *dy, float *dx) {
  const size_t total = (size_t)s.n * s.c * s.ih * s.iw;
  GRID_STRIDE_LOOP(i, total) {
    const int ix = (int)(i % s.iw), iy = (int)(i / s.iw % s.ih);
    const size_t plane = i / s.iw / s.ih;
    const float *dyp = dy + plane * s.oh * s.ow;
    int oy0, oy1, ox0, ox1;
    outputs_reading(iy, s.ih, s.oh, s.align_corners, &oy0, &oy1);
    outputs_reading(ix, s.iw, s.ow, s.align_corners, &ox0, &ox1);
    float acc = dx[i];
    for (int oy = oy0; oy < oy1; oy++) {
      const axis_tap ty = tap(oy, s.ih, s.oh, s.align_corners);
      for (int ox = ox0; ox < ox1; ox++) {
        const axis_tap tx = tap(ox, s.iw, s.ow, s.align_corners);
        const float g = dyp[(size_t)oy * s.ow + ox];
        /* the CPU's four += in its order: (row i0 or i1, column i0 or i1) */
        if (ty.i0 == iy && tx.i0 == ix)
          acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(ty.w0, tx.w0), g));
        if (ty.i0 == iy && tx.i1 == ix)
          acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(ty.w0, tx.w1), g));
        if (ty.i1 == iy && tx.i0 == ix)
          acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(ty.w1, tx.w0), g));
        if (ty.i1 == iy && tx.i1 == ix)
          acc = __fadd_rn(acc, __fmul_rn(__fmul_rn(ty.w1, tx.w1), g));
      }
    }
    dx[i] = acc;
  }
}

dnl_status cuda_resize_forward(const resize_shape *s, const float *x, float *y) {
  const size_t total = (size_t)s->n * s->c * s->oh * s->ow;
  if (total == 0)
    return DNL_OK;
  resize_forward_kernel<<<cuda_grid_for(total), CUDA_BLOCK>>>(*s, x, y);
  CUDA_CHECK_LAUNCH("resize_forward_kernel");
  return DNL_OK;
}

dnl_status cuda_resize_backward(const resize_shape *s, const float *dy, float *dx) {
  const size_t total = (size_t)s->n * s->c * s->ih * s->iw;
  if (total == 0)
    return DNL_OK;
  resize_backward_kernel<<<cuda_grid_for(total), CUDA_BLOCK>>>(*s, dy, dx);
  CUDA_CHECK_LAUNCH("resize_backward_kernel");
  return DNL_OK;
}
