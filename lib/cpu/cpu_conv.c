/* Convolution as im2col + OpenBLAS sgemm, in tiles of output columns.
 *
 * Threading: one OpenMP region per call, and inside it single-threaded sgemm on
 * tiles that each thread lays out in its own slice of the workspace while they
 * are still in cache. Alternating OpenMP loops (whose threads spin for a while
 * after a region) with OpenBLAS's own thread pool makes the two pools fight for
 * the cores; on small layers that costs more than the convolution itself.
 *  - forward: a unit of work is (image, range of output columns); all K =
 *    cin*kh*kw column rows of the tile, then y[:, tile] = W col.
 *  - backward: a unit is a block of input channels, over every image and tile:
 *    its rows of the column matrix give its columns of dW, and its rows of
 *    W^T dy scatter into its channels of dx, so no two threads write the same
 *    element and the sums keep a fixed order.
 * 1x1 convolutions with stride 1 and no padding skip im2col: the input image
 * already is the [cin, h*w] column matrix. */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "lib/cpu/cpu_ops.h"

/* Column tiles: TILE_FLOATS bounds one thread's tile of the column matrix (it
 * stays in cache between im2col and the sgemm that reads it); at least
 * MIN_TILE_COLS columns, since sgemm repacks the weights for every call. */
#define TILE_FLOATS (256 * 1024)
#define MIN_TILE_COLS 256

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }
static int ceil_div(int a, int b) { return (a + b - 1) / b; }

static bool is_pointwise(const conv2d_shape *s) {
  return s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad == 0;
}

/* How a call splits its work; the workspace size follows from it. */
typedef struct conv_plan {
  int threads;
  int fwd_tile, fwd_tiles; /* forward: output columns per tile, tiles per image */
  int blocks, block_c;     /* backward: channel blocks, channels per block */
  int bwd_tile;            /* backward: output columns per tile */
} conv_plan;

static conv_plan plan_of(const conv2d_shape *s) {
  conv_plan p;
  const int ohw = s->oh * s->ow, kk = s->kh * s->kw, k = s->cin * kk;
  p.threads = imax(1, omp_get_max_threads());
  /* enough tiles to keep every thread busy, none larger than the cache budget */
  const int cache_tile = is_pointwise(s) ? ohw : imax(MIN_TILE_COLS, TILE_FLOATS / k);
  p.fwd_tiles = imax(ceil_div(ohw, cache_tile), ceil_div(p.threads, s->n));
  p.fwd_tiles = imin(p.fwd_tiles, ohw);
  p.fwd_tile = ceil_div(ohw, p.fwd_tiles);
  p.fwd_tiles = ceil_div(ohw, p.fwd_tile);
  p.block_c = ceil_div(s->cin, p.threads);
  p.blocks = ceil_div(s->cin, p.block_c);
  p.bwd_tile = imin(ohw, imax(MIN_TILE_COLS, TILE_FLOATS / (p.block_c * kk)));
  return p;
}

/* floats of one thread's slice of the workspace: the larger of the forward and
 * backward column tiles; none for pointwise convolutions, which read x directly */
static size_t slice_floats(const conv2d_shape *s, const conv_plan *p) {
  if (is_pointwise(s))
    return 0;
  const size_t kk = (size_t)s->kh * s->kw;
  const size_t fwd = (size_t)s->cin * kk * p->fwd_tile;
  const size_t bwd = (size_t)p->block_c * kk * p->bwd_tile;
  return fwd > bwd ? fwd : bwd;
}

size_t cpu_conv2d_workspace(const conv2d_shape *s) {
  const conv_plan p = plan_of(s);
  return (size_t)p.threads * slice_floats(s, &p) * sizeof(float);
}

/* Output positions o whose input position o * stride + off lies in [0, len). */
static void valid_range(int off, int stride, int len, int out_len, int *lo, int *hi) {
  const int first = off >= 0 ? 0 : ceil_div(-off, stride);
  const int end = len - off <= 0 ? 0 : ceil_div(len - off, stride);
  *lo = imin(first, out_len);
  *hi = imax(*lo, imin(end, out_len));
}

/* The tile functions walk output columns [p0, p1) in runs that share an output
 * row oy: columns ox0..ox1-1 of that row sit at tile offset pp - p0. */

/* col[(c - c0)*kk + i*kw + j][p - p0] = x[c][oy*stride - pad + i*dil][ox*stride - pad + j*dil]
 * for channels [c0, c1) and output columns p = oy*ow + ox in [p0, p1); 0 in the padding. */
static void im2col_tile(const conv2d_shape *s, const float *x, int c0, int c1, int p0, int p1,
                        float *col) {
  const int tw = p1 - p0, kk = s->kh * s->kw;
  for (int c = c0; c < c1; c++)
    for (int q = 0; q < kk; q++) {
      const int yoff = q / s->kw * s->dilation - s->pad;
      const int xoff = q % s->kw * s->dilation - s->pad;
      int ylo, yhi, xlo, xhi;
      valid_range(yoff, s->stride, s->h, s->oh, &ylo, &yhi);
      valid_range(xoff, s->stride, s->w, s->ow, &xlo, &xhi);
      const float *xc = x + (size_t)c * s->h * s->w;
      float *dst = col + ((size_t)(c - c0) * kk + q) * tw;
      for (int pp = p0, next; pp < p1; pp = next) {
        const int oy = pp / s->ow, ox0 = pp % s->ow, ox1 = imin(s->ow, ox0 + p1 - pp);
        next = pp + ox1 - ox0;
        float *d = dst + (pp - p0);
        if (oy < ylo || oy >= yhi) {
          memset(d, 0, (size_t)(ox1 - ox0) * sizeof(float));
          continue;
        }
        const int lo = imin(imax(xlo, ox0), ox1), hi = imax(lo, imin(xhi, ox1));
        const float *xrow = xc + (size_t)(oy * s->stride + yoff) * s->w;
        memset(d, 0, (size_t)(lo - ox0) * sizeof(float));
        if (s->stride == 1)
          memcpy(d + (lo - ox0), xrow + lo + xoff, (size_t)(hi - lo) * sizeof(float));
        else
          for (int ox = lo; ox < hi; ox++)
            d[ox - ox0] = xrow[ox * s->stride + xoff];
        memset(d + (hi - ox0), 0, (size_t)(ox1 - hi) * sizeof(float));
      }
    }
}

/* The adjoint of im2col_tile: dx[c][iy][ix] += col[row][p] over the same index map. */
static void col2im_tile_add(const conv2d_shape *s, const float *col, int c0, int c1, int p0,
                            int p1, float *dx) {
  const int tw = p1 - p0, kk = s->kh * s->kw;
  for (int c = c0; c < c1; c++)
    for (int q = 0; q < kk; q++) {
      const int yoff = q / s->kw * s->dilation - s->pad;
      const int xoff = q % s->kw * s->dilation - s->pad;
      int ylo, yhi, xlo, xhi;
      valid_range(yoff, s->stride, s->h, s->oh, &ylo, &yhi);
      valid_range(xoff, s->stride, s->w, s->ow, &xlo, &xhi);
      float *dxc = dx + (size_t)c * s->h * s->w;
      const float *src = col + ((size_t)(c - c0) * kk + q) * tw;
      for (int pp = p0, next; pp < p1; pp = next) {
        const int oy = pp / s->ow, ox0 = pp % s->ow, ox1 = imin(s->ow, ox0 + p1 - pp);
        next = pp + ox1 - ox0;
        if (oy < ylo || oy >= yhi)
          continue;
        const float *srun = src + (pp - p0);
        const int lo = imin(imax(xlo, ox0), ox1), hi = imax(lo, imin(xhi, ox1));
        float *drow = dxc + (size_t)(oy * s->stride + yoff) * s->w;
        for (int ox = lo; ox < hi; ox++)
          drow[ox * s->stride + xoff] += srun[ox - ox0];
      }
    }
}

/* OpenBLAS built on pthreads runs sgemm on its own pool: make it single-threaded
 * while the OpenMP threads call it (the OpenMP build does so by itself inside a
 * parallel region). Returns the count to restore, 0 when nothing changed. */
static int blas_single_thread_begin(void) {
  if (openblas_get_parallel() != 1)
    return 0;
  const int n = openblas_get_num_threads();
  if (n <= 1)
    return 0;
  openblas_set_num_threads(1);
  return n;
}

static void blas_single_thread_end(int saved) {
  if (saved > 0)
    openblas_set_num_threads(saved);
}

static void sgemm_rm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
                     const float *a, int lda, const float *b, int ldb, float beta, float *c,
                     int ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

dnl_status cpu_conv2d_forward(const conv2d_shape *s, const float *x, const float *w,
                              const float *bias, float *y, void *ws) {
  const conv_plan p = plan_of(s);
  const int k = s->cin * s->kh * s->kw, ohw = s->oh * s->ow;
  const size_t x_stride = (size_t)s->cin * s->h * s->w, y_stride = (size_t)s->cout * ohw;
  const size_t slice = slice_floats(s, &p);
  const bool pointwise = is_pointwise(s);
  const int units = s->n * p.fwd_tiles;
  const int saved = blas_single_thread_begin();
#pragma omp parallel num_threads(p.threads)
  {
    const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
    float *col = slice ? (float *)ws + (size_t)tid * slice : NULL;
    for (int u = tid; u < units; u += nth) {
      const int b = u / p.fwd_tiles;
      const int p0 = (u % p.fwd_tiles) * p.fwd_tile, p1 = imin(ohw, p0 + p.fwd_tile);
      const float *xb = x + b * x_stride;
      float *yt = y + b * y_stride + p0;
      if (pointwise) {
        sgemm_rm(CblasNoTrans, CblasNoTrans, s->cout, p1 - p0, k, w, k, xb + p0, ohw, 0.0f, yt,
                 ohw);
      } else {
        im2col_tile(s, xb, 0, s->cin, p0, p1, col);
        sgemm_rm(CblasNoTrans, CblasNoTrans, s->cout, p1 - p0, k, w, k, col, p1 - p0, 0.0f, yt,
                 ohw);
      }
      if (bias)
        for (int o = 0; o < s->cout; o++)
          for (int q = 0; q < p1 - p0; q++)
            yt[(size_t)o * ohw + q] += bias[o];
    }
  }
  blas_single_thread_end(saved);
  return DNL_OK;
}

dnl_status cpu_conv2d_backward(const conv2d_shape *s, const float *x, const float *w,
                               const float *dy, float *dx, float *dw, float *dbias, void *ws) {
  const conv_plan p = plan_of(s);
  const int kk = s->kh * s->kw, k = s->cin * kk, ohw = s->oh * s->ow;
  const size_t x_stride = (size_t)s->cin * s->h * s->w, y_stride = (size_t)s->cout * ohw;
  const size_t slice = slice_floats(s, &p);
  const bool pointwise = is_pointwise(s);
  const int saved = blas_single_thread_begin();
#pragma omp parallel num_threads(p.threads)
  {
    const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
    float *col = slice ? (float *)ws + (size_t)tid * slice : NULL;
    if (dbias) {
#pragma omp for schedule(static)
      for (int o = 0; o < s->cout; o++) {
        double acc = 0.0;
        for (int b = 0; b < s->n; b++) {
          const float *d = dy + b * y_stride + (size_t)o * ohw;
          for (int q = 0; q < ohw; q++)
            acc += d[q];
        }
        dbias[o] += (float)acc;
      }
    }
    for (int blk = tid; blk < p.blocks; blk += nth) {
      const int c0 = blk * p.block_c, c1 = imin(s->cin, c0 + p.block_c);
      const int rows = (c1 - c0) * kk; /* this block's rows of the column matrix */
      for (int b = 0; b < s->n; b++) {
        const float *xb = x + b * x_stride;
        const float *dyb = dy + b * y_stride;
        for (int p0 = 0; p0 < ohw; p0 += p.bwd_tile) {
          const int p1 = imin(ohw, p0 + p.bwd_tile), tw = p1 - p0;
          if (dw) { /* dW[:, rows] += dy[:, tile] col[rows, tile]^T */
            const float *ct = xb + (size_t)c0 * ohw + p0;
            int ldct = ohw;
            if (!pointwise) {
              im2col_tile(s, xb, c0, c1, p0, p1, col);
              ct = col;
              ldct = tw;
            }
            sgemm_rm(CblasNoTrans, CblasTrans, s->cout, rows, tw, dyb + p0, ohw, ct, ldct,
                     1.0f, dw + (size_t)c0 * kk, k);
          }
          if (dx) { /* dx[rows] += scatter of (W[:, rows]^T dy[:, tile]) */
            float *dxb = dx + b * x_stride;
            if (pointwise) {
              sgemm_rm(CblasTrans, CblasNoTrans, rows, tw, s->cout, w + c0, k, dyb + p0, ohw,
                       1.0f, dxb + (size_t)c0 * ohw + p0, ohw);
            } else {
              sgemm_rm(CblasTrans, CblasNoTrans, rows, tw, s->cout, w + (size_t)c0 * kk, k,
                       dyb + p0, ohw, 0.0f, col, tw);
              col2im_tile_add(s, col, c0, c1, p0, p1, dxb);
            }
          }
        }
      }
    }
  }
  blas_single_thread_end(saved);
  return DNL_OK;
}
