/* The CPU convolution splits its work into column tiles and channel blocks that
 * depend on the shape and the thread count (lib/cpu/cpu_conv.c). These shapes
 * are large enough for several tiles per image, tiles starting inside an output
 * row, and uneven channel blocks; each runs with 1, 2 and 3 threads against a
 * direct convolution in double precision. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "lib/cpu/cpu_ops.h"
#include "tests/test_util.h"

typedef struct tiling_case {
  int n, cin, h, w, cout, k, stride, pad, dilation;
  bool bias;
} tiling_case;

static const tiling_case tiling_cases[] = {
    {2, 20, 47, 46, 8, 3, 1, 1, 1, true},  /* two forward tiles per image */
    {1, 64, 61, 61, 6, 3, 2, 2, 2, false}, /* stride and dilation, several backward tiles */
    {3, 16, 20, 20, 12, 1, 1, 0, 1, true}, /* pointwise: no im2col */
    {2, 5, 9, 9, 4, 1, 2, 0, 1, false},    /* 1x1 with stride takes the im2col path */
    {1, 3, 40, 40, 8, 7, 2, 3, 1, true},   /* stem-like 7x7 */
    {1, 2, 5, 4, 2, 3, 1, 3, 1, true},     /* padding wider than the kernel reach */
};

/* x index of output (oy, ox) and kernel tap (i, j), or -1 in the padding. */
static long tap_index(const conv2d_shape *s, int b, int c, int oy, int ox, int i, int j) {
  const int iy = oy * s->stride - s->pad + i * s->dilation;
  const int ix = ox * s->stride - s->pad + j * s->dilation;
  if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
    return -1;
  return (((long)b * s->cin + c) * s->h + iy) * s->w + ix;
}

/* Direct convolution and its gradients, accumulated in double. */
static void reference(const conv2d_shape *s, const float *x, const float *w, const float *bias,
                      const float *dy, double *y, double *dx, double *dw, double *db) {
  for (int b = 0; b < s->n; b++)
    for (int o = 0; o < s->cout; o++)
      for (int oy = 0; oy < s->oh; oy++)
        for (int ox = 0; ox < s->ow; ox++) {
          const long yi = (((long)b * s->cout + o) * s->oh + oy) * s->ow + ox;
          double acc = bias ? bias[o] : 0.0;
          for (int c = 0; c < s->cin; c++)
            for (int i = 0; i < s->kh; i++)
              for (int j = 0; j < s->kw; j++) {
                const long xi = tap_index(s, b, c, oy, ox, i, j);
                const long wi = (((long)o * s->cin + c) * s->kh + i) * s->kw + j;
                if (xi < 0)
                  continue;
                acc += (double)w[wi] * x[xi];
                dx[xi] += (double)w[wi] * dy[yi];
                dw[wi] += (double)x[xi] * dy[yi];
              }
          y[yi] = acc;
          db[o] += dy[yi];
        }
}

static void expect_close(const float *got, const double *want, size_t n, const char *what,
                         size_t case_no, int threads) {
  for (size_t i = 0; i < n; i++) {
    const double err = fabs((double)got[i] - want[i]);
    cr_assert(err <= 1e-4 + 1e-4 * fabs(want[i]),
              "case %zu, %d threads, %s[%zu]: %.7g, expected %.7g", case_no, threads, what, i,
              (double)got[i], want[i]);
  }
}

static float *randn(rng *r, size_t n) {
  float *p = malloc(n * sizeof(float));
  cr_assert(p != NULL);
  test_fill_randn(r, p, n, 0.5f);
  return p;
}

static void check_case(size_t case_no, int threads) {
  const tiling_case *tc = &tiling_cases[case_no];
  conv2d_shape s;
  TRY_OK(conv2d_shape_init(&s, tc->n, tc->cin, tc->h, tc->w, tc->cout, tc->k, tc->stride,
                           tc->pad, tc->dilation));
  omp_set_num_threads(threads);
  rng r;
  rng_seed(&r, 40 + case_no);
  const size_t nx = (size_t)s.n * s.cin * s.h * s.w, ny = (size_t)s.n * s.cout * s.oh * s.ow;
  const size_t nw = (size_t)s.cout * s.cin * s.kh * s.kw, nb = (size_t)s.cout;
  float *x = randn(&r, nx), *w = randn(&r, nw), *bias = randn(&r, nb), *dy = randn(&r, ny);
  /* gradients start non-zero: the backward must add to them */
  float *dx = randn(&r, nx), *dw = randn(&r, nw), *db = randn(&r, nb);
  float *y = malloc(ny * sizeof(float));
  double *ry = calloc(ny, sizeof(double)), *rdx = calloc(nx, sizeof(double));
  double *rdw = calloc(nw, sizeof(double)), *rdb = calloc(nb, sizeof(double));
  void *ws = malloc(cpu_conv2d_workspace(&s) + 1);
  cr_assert(y && ry && rdx && rdw && rdb && ws);
  for (size_t i = 0; i < nx; i++)
    rdx[i] = dx[i];
  for (size_t i = 0; i < nw; i++)
    rdw[i] = dw[i];
  for (size_t i = 0; i < nb; i++)
    rdb[i] = db[i];
  const float *b = tc->bias ? bias : NULL;
  reference(&s, x, w, b, dy, ry, rdx, rdw, rdb);
  TRY_OK(cpu_conv2d_forward(&s, x, w, b, y, ws));
  TRY_OK(cpu_conv2d_backward(&s, x, w, dy, dx, dw, tc->bias ? db : NULL, ws));
  expect_close(y, ry, ny, "y", case_no, threads);
  expect_close(dx, rdx, nx, "dx", case_no, threads);
  expect_close(dw, rdw, nw, "dw", case_no, threads);
  if (tc->bias)
    expect_close(db, rdb, nb, "dbias", case_no, threads);
  free(x), free(w), free(bias), free(dy), free(dx), free(dw), free(db), free(y);
  free(ry), free(rdx), free(rdw), free(rdb), free(ws);
}

Test(conv_tiling, matches_direct_convolution_for_1_to_3_threads) {
  for (size_t c = 0; c < sizeof tiling_cases / sizeof tiling_cases[0]; c++)
    for (int threads = 1; threads <= 3; threads++)
      check_case(c, threads);
}
