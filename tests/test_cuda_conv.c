/* The CUDA backend's convolution (cuDNN, lib/cuda/cuda_conv.cu) against the
 * CPU backend's on the same random inputs: forward with and without bias, and
 * the backward's dx, dw and dbias, which start from nonzero values on both
 * sides so that accumulation is checked. Skipped without a GPU.
 *
 * The exact cases set DNL_CUDA_TF32=0 before the backend makes its first plan
 * (the setting is read once per process; Criterion runs every test in its own
 * process, so each test chooses its own). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/test_device.h"
#include "tests/test_util.h"

typedef struct conv_case {
  int n, cin, h, w, cout, k, stride, pad, dilation;
  bool bias;
} conv_case;

/* odd sizes, cin != cout, the geometries of the network: 1x1, 3x3, the 7x7
 * stem, stride 2, dilation 2 and 4, bias on and off; one with many input
 * channels (576-term sums) */
static const conv_case cases[] = {
    {2, 3, 13, 11, 5, 3, 1, 1, 1, true},  {3, 7, 9, 10, 4, 1, 1, 0, 1, false},
    {2, 5, 15, 13, 6, 3, 2, 1, 1, true},  {1, 6, 17, 15, 7, 3, 1, 2, 2, false},
    {2, 4, 19, 17, 3, 3, 1, 4, 4, true},  {2, 9, 11, 9, 5, 1, 2, 0, 1, true},
    {1, 3, 23, 21, 6, 7, 2, 3, 1, false}, {2, 64, 13, 11, 33, 3, 1, 1, 1, true},
    {1, 5, 12, 14, 3, 3, 2, 2, 2, false},
};

static float *host_randn(rng *r, size_t n, float scale) {
  float *x = malloc((n ? n : 1) * sizeof *x);
  cr_assert(x, "out of host memory");
  test_fill_randn(r, x, n, scale);
  return x;
}

static float *upload_floats(const dnl_backend *g, const float *x, size_t n) {
  return test_upload(g, x, n * sizeof *x);
}

static float max_abs(const float *x, size_t n) {
  float m = 0.0f;
  for (size_t i = 0; i < n; i++)
    m = fmaxf(m, fabsf(x[i]));
  return m;
}

/* Downloads n floats and compares them with the CPU's: rtol per element, and
 * an absolute floor of atol_rel times the largest CPU value, for elements that
 * a sum cancelled to near zero (their rounding error is that of the terms). */
static void expect_close(const dnl_backend *g, const float *dev, const float *cpu, size_t n,
                         double rtol, double atol_rel, const char *what) {
  float *got = test_download_new(g, dev, n * sizeof *got);
  const double atol = atol_rel * (double)max_abs(cpu, n) + 1e-7;
  ASSERT_CLOSE(got, cpu, n, atol, rtol, what);
  free(got);
}

/* One case through both backends; cuDNN must agree with the CPU within rtol
 * and atol_rel (see expect_close). */
static void check_case(const dnl_backend *g, const conv_case *cc, uint64_t seed, double rtol,
                       double atol_rel) {
  const dnl_backend *cpu = cpu_backend();
  conv2d_shape s;
  TRY_OK(conv2d_shape_init(&s, cc->n, cc->cin, cc->h, cc->w, cc->cout, cc->k, cc->stride, cc->pad,
                           cc->dilation));
  const size_t nx = (size_t)s.n * s.cin * s.h * s.w, ny = (size_t)s.n * s.cout * s.oh * s.ow;
  const size_t nw = (size_t)s.cout * s.cin * s.kh * s.kw, nb = (size_t)s.cout;
  rng r;
  rng_seed(&r, seed);
  const float wscale = 1.0f / sqrtf((float)(s.cin * s.kh * s.kw));
  float *x = host_randn(&r, nx, 1.0f), *w = host_randn(&r, nw, wscale);
  float *b = host_randn(&r, nb, 0.5f), *dy = host_randn(&r, ny, 1.0f);
  /* gradients start nonzero: the backward must add to them */
  float *dx = host_randn(&r, nx, 1.0f), *dw = host_randn(&r, nw, 1.0f);
  float *db = host_randn(&r, nb, 1.0f), *y = host_randn(&r, ny, 1.0f);
  float *gx = upload_floats(g, x, nx), *gw = upload_floats(g, w, nw);
  float *gb = upload_floats(g, b, nb), *gdy = upload_floats(g, dy, ny);
  float *gdx = upload_floats(g, dx, nx), *gdw = upload_floats(g, dw, nw);
  float *gdb = upload_floats(g, db, nb), *gy = upload_floats(g, y, ny);

  const size_t cpu_ws_bytes = cpu->conv2d_workspace(&s);
  void *cpu_ws = malloc(cpu_ws_bytes ? cpu_ws_bytes : 1);
  cr_assert(cpu_ws, "out of host memory");
  const size_t ws_bytes = g->conv2d_workspace(&s);
  cr_assert(g->conv2d_workspace(&s) == ws_bytes, "workspace of one shape changed");
  void *ws = test_device_zeros(g, ws_bytes);

  const float *bias = cc->bias ? b : NULL;
  TRY_OK(cpu->conv2d_forward(&s, x, w, bias, y, cpu_ws));
  TRY_OK(g->conv2d_forward(&s, gx, gw, cc->bias ? gb : NULL, gy, ws));
  TRY_OK(cpu->conv2d_backward(&s, x, w, dy, dx, dw, cc->bias ? db : NULL, cpu_ws));
  TRY_OK(g->conv2d_backward(&s, gx, gw, gdy, gdx, gdw, cc->bias ? gdb : NULL, ws));

  char what[160];
  const char *names[4] = {"y", "dx", "dw", "dbias"};
  const float *dev[4] = {gy, gdx, gdw, gdb}, *host[4] = {y, dx, dw, db};
  const size_t count[4] = {ny, nx, nw, nb};
  for (int i = 0; i < 4; i++) {
    snprintf(what, sizeof what, "conv n%d cin%d %dx%d cout%d k%d s%d p%d d%d bias%d: %s", cc->n,
             cc->cin, cc->h, cc->w, cc->cout, cc->k, cc->stride, cc->pad, cc->dilation, cc->bias,
             names[i]);
    expect_close(g, dev[i], host[i], count[i], rtol, atol_rel, what);
  }

  g->free(gx), g->free(gw), g->free(gb), g->free(gdy);
  g->free(gdx), g->free(gdw), g->free(gdb), g->free(gy), g->free(ws);
  free(x), free(w), free(b), free(dy), free(dx), free(dw), free(db), free(y), free(cpu_ws);
}

static const dnl_backend *cuda_with_tf32(const char *setting) {
  cr_assert(setenv("DNL_CUDA_TF32", setting, 1) == 0, "setenv failed");
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->conv2d_workspace && g->conv2d_forward && g->conv2d_backward,
            "cuda backend lacks a conv2d op");
  return g;
}

Test(cuda_conv, matches_cpu_exact_fp32) {
  const dnl_backend *g = cuda_with_tf32("0");
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    check_case(g, &cases[c], 40 + c, 1e-4, 1e-5);
}

/* Backward with some gradients NULL: those are skipped, the others still
 * accumulate (a bias-free call passes dbias NULL too). */
Test(cuda_conv, backward_skips_null_gradients) {
  const dnl_backend *g = cuda_with_tf32("0");
  const conv_case cc = {2, 4, 9, 11, 5, 3, 2, 1, 1, true};
  conv2d_shape s;
  TRY_OK(conv2d_shape_init(&s, cc.n, cc.cin, cc.h, cc.w, cc.cout, cc.k, cc.stride, cc.pad,
                           cc.dilation));
  const size_t nx = (size_t)s.n * s.cin * s.h * s.w, ny = (size_t)s.n * s.cout * s.oh * s.ow;
  const size_t nw = (size_t)s.cout * s.cin * s.kh * s.kw;
  rng r;
  rng_seed(&r, 7);
  float *x = host_randn(&r, nx, 1.0f), *w = host_randn(&r, nw, 0.2f);
  float *dy = host_randn(&r, ny, 1.0f), *dx = host_randn(&r, nx, 1.0f);
  float *dw = host_randn(&r, nw, 1.0f), *db = host_randn(&r, (size_t)s.cout, 1.0f);
  float *gx = upload_floats(g, x, nx), *gw = upload_floats(g, w, nw);
  float *gdy = upload_floats(g, dy, ny), *gdx = upload_floats(g, dx, nx);
  float *gdw = upload_floats(g, dw, nw), *gdb = upload_floats(g, db, (size_t)s.cout);
  void *ws = test_device_zeros(g, g->conv2d_workspace(&s));
  const size_t cpu_ws_bytes = cpu_backend()->conv2d_workspace(&s);
  void *cpu_ws = malloc(cpu_ws_bytes ? cpu_ws_bytes : 1);
  cr_assert(cpu_ws);

  /* only dx: dw and dbias must stay as they were */
  TRY_OK(g->conv2d_backward(&s, gx, gw, gdy, gdx, NULL, NULL, ws));
  TRY_OK(cpu_backend()->conv2d_backward(&s, x, w, dy, dx, NULL, NULL, cpu_ws));
  expect_close(g, gdx, dx, nx, 1e-4, 1e-5, "dx alone");
  float *back = test_download_new(g, gdw, nw * sizeof(float));
  cr_assert(memcmp(back, dw, nw * sizeof(float)) == 0, "dw changed although it was NULL");
  free(back);
  back = test_download_new(g, gdb, (size_t)s.cout * sizeof(float));
  cr_assert(memcmp(back, db, (size_t)s.cout * sizeof(float)) == 0,
            "dbias changed although it was NULL");
  free(back);
  /* only dw and dbias */
  TRY_OK(g->conv2d_backward(&s, gx, gw, gdy, NULL, gdw, gdb, ws));
  TRY_OK(cpu_backend()->conv2d_backward(&s, x, w, dy, NULL, dw, db, cpu_ws));
  expect_close(g, gdx, dx, nx, 1e-4, 1e-5, "dx untouched by a call without it");
  expect_close(g, gdw, dw, nw, 1e-4, 1e-5, "dw without dx");
  expect_close(g, gdb, db, (size_t)s.cout, 1e-4, 1e-5, "dbias without dx");

  g->free(gx), g->free(gw), g->free(gdy), g->free(gdx), g->free(gdw), g->free(gdb);
  g->free(ws);
  free(x), free(w), free(dy), free(dx), free(dw), free(db), free(cpu_ws);
}

/* Many distinct shapes (more than the plan table's first size, so it grows and
 * rehashes), then all of them again: each must still find its own plan. */
Test(cuda_conv, many_shapes_keep_their_plans) {
  const dnl_backend *g = cuda_with_tf32("0");
  enum { SHAPES = 45 };
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < SHAPES; i++) {
      const conv_case cc = {1,         2 + i % 3, 5 + i, 6 + i % 4, 3, i % 2 ? 3 : 1,
                            1 + i % 2, i % 2,     1,     i % 3 == 0};
      check_case(g, &cc, 1000 + i, 1e-4, 1e-5);
    }
}

/* TF32 (the default) keeps 10 mantissa bits of each input: a relative error of
 * up to 2^-11 when rounded, 2^-10 when truncated, with FP32 accumulation. An
 * output's error is then at most about 2e-3 of its size where truncation
 * biases every product the same way, and otherwise a random walk over its K
 * products, about 2^-11 of the size of the outputs; an output that a sum
 * cancelled to near zero keeps that absolute error. rtol 5e-3 with an absolute
 * floor of 5e-3 of the largest value leaves more than twice the worst bias and
 * ten times the random part, while a wrong element or a lost accumulation is
 * off by O(1). */
Test(cuda_conv, matches_cpu_tf32) {
  const dnl_backend *g = cuda_with_tf32("1");
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    check_case(g, &cases[c], 80 + c, 5e-3, 5e-3);
}

Test(cuda_conv, bad_tf32_setting_is_reported) {
  const dnl_backend *g = cuda_with_tf32("yes");
  conv2d_shape s;
  TRY_OK(conv2d_shape_init(&s, 1, 2, 5, 5, 3, 3, 1, 1, 1));
  cr_assert(g->conv2d_workspace(&s) == 0, "a shape without a plan needs no workspace");
  float *x = test_device_zeros(g, 50 * sizeof(float)),
        *w = test_device_zeros(g, 54 * sizeof(float));
  float *y = test_device_zeros(g, 75 * sizeof(float));
  dnl_status st = g->conv2d_forward(&s, x, w, NULL, y, NULL);
  cr_assert(st == DNL_ERR_ARG, "forward gave %s", dnl_status_name(st));
  cr_assert(strstr(dnl_last_error(), "DNL_CUDA_TF32=yes"), "message: %s", dnl_last_error());
  g->free(x), g->free(w), g->free(y);
}
