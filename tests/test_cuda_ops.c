/* CUDA backend ops against the CPU backend: the same random inputs (odd sizes)
 * go through both, and the results must agree to float rounding (the ops that
 * do the CPU's arithmetic operation by operation, to about one rounding).
 * Backward ops start from nonzero gradients on both sides, so that
 * accumulation is checked too. Skipped without a GPU (tests/test_device.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/layers/loss.h"
#include "tests/test_device.h"
#include "tests/test_util.h"

#define ATOL 1e-5
#define RTOL 1e-4
/* for ops that do the CPU's float operations in the CPU's order */
#define EXACT_ATOL 1e-30
#define EXACT_RTOL 1e-7

static float *host_randn(rng *r, size_t n, float scale) {
  float *x = malloc((n ? n : 1) * sizeof *x);
  cr_assert(x, "out of host memory");
  test_fill_randn(r, x, n, scale);
  return x;
}

static float *host_copy(const float *x, size_t n) {
  float *y = malloc((n ? n : 1) * sizeof *y);
  cr_assert(y, "out of host memory");
  memcpy(y, x, n * sizeof *y);
  return y;
}

static float *upload_floats(const dnl_backend *g, const float *x, size_t n) {
  return test_upload(g, x, n * sizeof *x);
}

/* Downloads n floats of dev and compares them with the CPU's; NaN must be at
 * the same places on both sides. */
static void expect_floats(const dnl_backend *g, const float *dev, const float *cpu, size_t n,
                          double atol, double rtol, const char *what) {
  float *got = test_download_new(g, dev, n * sizeof *got);
  float *want = host_copy(cpu, n);
  for (size_t i = 0; i < n; i++) {
    cr_assert(isnan(got[i]) == isnan(want[i]), "%s: element %zu is %g on CUDA, %g on the CPU",
              what, i, (double)got[i], (double)want[i]);
    if (isnan(want[i]))
      got[i] = want[i] = 0.0f;
  }
  ASSERT_CLOSE(got, want, n, atol, rtol, what);
  free(want);
  free(got);
}

static void expect_ints(const dnl_backend *g, const int32_t *dev, const int32_t *cpu, size_t n,
                        const char *what) {
  int32_t *got = test_download_new(g, dev, n * sizeof *got);
  for (size_t i = 0; i < n; i++)
    cr_assert(got[i] == cpu[i], "%s: element %zu is %d on CUDA, %d on the CPU", what, i,
              (int)got[i], (int)cpu[i]);
  free(got);
}

/* ---- memory ---- */

Test(cuda_ops, fill_and_memcpy) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->fill && g->memcpy, "cuda backend lacks fill or memcpy");
  rng r;
  rng_seed(&r, 1);
  const size_t n = 1003;
  float *x = host_randn(&r, n, 1.0f);
  float *d = upload_floats(g, x, n); /* host -> device */
  void *d2 = NULL;
  TRY_OK(g->alloc(n * sizeof(float), &d2));
  TRY_OK(g->memcpy(d2, DEVICE_CUDA, d, DEVICE_CUDA, n * sizeof(float)));
  float *back = test_download_new(g, d2, n * sizeof(float)); /* device -> host */
  cr_assert(memcmp(back, x, n * sizeof(float)) == 0, "memcpy round trip changed the data");
  free(back);

  const float values[3] = {1.5f, 0.0f, -0.0f};
  for (int v = 0; v < 3; v++) {
    TRY_OK(g->fill(d, n - 2, values[v]));
    TRY_OK(cpu_backend()->fill(x, n - 2, values[v]));
    back = test_download_new(g, d, n * sizeof(float));
    cr_assert(memcmp(back, x, n * sizeof(float)) == 0, "fill %g differs from the CPU's",
              (double)values[v]);
    free(back);
  }
  g->free(d);
  g->free(d2);
  free(x);
}

/* An allocation larger than any GPU: DNL_ERR_NOMEM with one line that says how
 * much was asked and how much is free, and the backend still works after it. */
Test(cuda_ops, alloc_beyond_the_device_is_one_line) {
  const dnl_backend *g = test_cuda_or_skip();
  void *p = NULL;
  const size_t huge = (size_t)1 << 50; /* 1 PiB */
  cr_assert_eq(g->alloc(huge, &p), DNL_ERR_NOMEM);
  cr_assert_null(p);
  const char *msg = dnl_last_error();
  cr_assert(strstr(msg, "out of device memory") && strstr(msg, "asked for 1073741824.0 MiB") &&
                strstr(msg, "MiB free") && !strchr(msg, '\n'),
            "message: %s", msg);
  const float one = 1.0f;
  float *d = upload_floats(g, &one, 1), back = 0.0f;
  TRY_OK(g->memcpy(&back, DEVICE_CPU, d, DEVICE_CUDA, sizeof back));
  cr_assert(back == 1.0f, "a copy after the failed allocation gave %g", (double)back);
  g->free(d);
}

/* ---- BLAS ---- */

/* Stored sizes of op(A) [m, k] (rows x leading dimension) for a transpose flag. */
static size_t stored(bool trans, int rows, int cols, int ld) {
  return (size_t)(trans ? cols : rows) * ld;
}

Test(cuda_ops, sgemm_all_transposes) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->sgemm, "cuda backend lacks sgemm");
  rng r;
  rng_seed(&r, 2);
  const int m = 37, n = 29, k = 23;
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      const int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5;
      const size_t na = stored(ta, m, k, lda), nb = stored(tb, k, n, ldb),
                   nc = (size_t)m * ldc;
      float *a = host_randn(&r, na, 1.0f), *b = host_randn(&r, nb, 1.0f),
            *c = host_randn(&r, nc, 1.0f);
      float *da = upload_floats(g, a, na), *db = upload_floats(g, b, nb),
            *dc = upload_floats(g, c, nc);
      TRY_OK(cpu_backend()->sgemm(ta, tb, m, n, k, 0.7f, a, lda, b, ldb, 0.3f, c, ldc));
      TRY_OK(g->sgemm(ta, tb, m, n, k, 0.7f, da, lda, db, ldb, 0.3f, dc, ldc));
      char what[64];
      snprintf(what, sizeof what, "sgemm trans_a=%d trans_b=%d", ta, tb);
      expect_floats(g, dc, c, nc, ATOL, RTOL, what);
      g->free(da), g->free(db), g->free(dc);
      free(a), free(b), free(c);
    }
}

Test(cuda_ops, sgemm_batched_all_transposes) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->sgemm_batched, "cuda backend lacks sgemm_batched");
  rng r;
  rng_seed(&r, 3);
  const int m = 13, n = 17, k = 11, batch = 3;
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      const int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 3;
      const size_t sa = stored(ta, m, k, lda) + 5, sb = stored(tb, k, n, ldb) + 7,
                   sc = (size_t)m * ldc + 3;
      const size_t na = sa * batch, nb = sb * batch, nc = sc * batch;
      float *a = host_randn(&r, na, 1.0f), *b = host_randn(&r, nb, 1.0f),
            *c = host_randn(&r, nc, 1.0f);
      float *da = upload_floats(g, a, na), *db = upload_floats(g, b, nb),
            *dc = upload_floats(g, c, nc);
      TRY_OK(cpu_backend()->sgemm_batched(ta, tb, m, n, k, -1.3f, a, lda, sa, b, ldb, sb, 0.5f,
                                          c, ldc, sc, batch));
      TRY_OK(g->sgemm_batched(ta, tb, m, n, k, -1.3f, da, lda, sa, db, ldb, sb, 0.5f, dc, ldc,
                              sc, batch));
      char what[64];
      snprintf(what, sizeof what, "sgemm_batched trans_a=%d trans_b=%d", ta, tb);
      expect_floats(g, dc, c, nc, ATOL, RTOL, what);
      g->free(da), g->free(db), g->free(dc);
      free(a), free(b), free(c);
    }
}

/* ---- element-wise and reductions ---- */

Test(cuda_ops, axpy_scale_add) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->axpy && g->scale && g->add, "cuda backend lacks axpy, scale or add");
  rng r;
  rng_seed(&r, 4);
  const size_t n = 100003;
  float *x = host_randn(&r, n, 1.0f), *y = host_randn(&r, n, 1.0f), *z = host_randn(&r, n, 1.0f);
  float *dx = upload_floats(g, x, n), *dy = upload_floats(g, y, n), *dz = upload_floats(g, z, n);
  TRY_OK(cpu_backend()->axpy(n, -0.37f, x, y));
  TRY_OK(g->axpy(n, -0.37f, dx, dy));
  expect_floats(g, dy, y, n, 1e-6, 1e-6, "axpy");
  TRY_OK(cpu_backend()->scale(n, 1.7f, y));
  TRY_OK(g->scale(n, 1.7f, dy));
  expect_floats(g, dy, y, n, 1e-6, 1e-6, "scale");
  TRY_OK(cpu_backend()->add(n, x, y, z));
  TRY_OK(g->add(n, dx, dy, dz));
  expect_floats(g, dz, z, n, 1e-6, 1e-6, "add");
  g->free(dx), g->free(dy), g->free(dz);
  free(x), free(y), free(z);
}

Test(cuda_ops, sum_and_count_nonfinite) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->sum && g->count_nonfinite, "cuda backend lacks sum or count_nonfinite");
  rng r;
  rng_seed(&r, 5);
  const size_t n = 300007;
  float *x = host_randn(&r, n, 2.0f);
  for (size_t i = 0; i < n; i++)
    x[i] += 0.25f; /* a sum far from zero, so that a relative check means something */
  float *d = upload_floats(g, x, n);
  double want, got;
  TRY_OK(cpu_backend()->sum(n, x, &want));
  TRY_OK(g->sum(n, d, &got));
  cr_assert(fabs(got - want) <= 1e-9 * fabs(want) + 1e-9, "sum: %.17g on CUDA, %.17g on the CPU",
            got, want);
  TRY_OK(g->sum(0, d, &got));
  cr_assert(got == 0.0, "sum of nothing is %g", got);

  size_t bad_cpu, bad_gpu;
  TRY_OK(g->count_nonfinite(n, d, &bad_gpu));
  cr_assert(bad_gpu == 0, "count_nonfinite of finite data: %zu", bad_gpu);
  const size_t at[5] = {0, 17, 4099, 200001, n - 1};
  const float planted[5] = {NAN, INFINITY, -INFINITY, NAN, INFINITY};
  for (int i = 0; i < 5; i++)
    x[at[i]] = planted[i];
  g->free(d);
  d = upload_floats(g, x, n);
  TRY_OK(cpu_backend()->count_nonfinite(n, x, &bad_cpu));
  TRY_OK(g->count_nonfinite(n, d, &bad_gpu));
  cr_assert(bad_cpu == 5 && bad_gpu == 5, "count_nonfinite: %zu on CUDA, %zu on the CPU, 5 planted",
            bad_gpu, bad_cpu);
  g->free(d);
  free(x);
}

Test(cuda_ops, relu_forward_backward) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->relu_forward && g->relu_backward, "cuda backend lacks relu");
  rng r;
  rng_seed(&r, 6);
  const size_t n = 5001;
  float *x = host_randn(&r, n, 1.0f), *dy = host_randn(&r, n, 1.0f),
        *dx = host_randn(&r, n, 1.0f), *y = host_randn(&r, n, 1.0f);
  x[7] = NAN; /* passes through, to reach the loss check */
  x[8] = 0.0f;
  float *gx = upload_floats(g, x, n), *gy = upload_floats(g, y, n),
        *gdy = upload_floats(g, dy, n), *gdx = upload_floats(g, dx, n);
  TRY_OK(cpu_backend()->relu_forward(n, x, y));
  TRY_OK(g->relu_forward(n, gx, gy));
  expect_floats(g, gy, y, n, EXACT_ATOL, EXACT_RTOL, "relu_forward");
  TRY_OK(cpu_backend()->relu_backward(n, y, dy, dx));
  TRY_OK(g->relu_backward(n, gy, gdy, gdx));
  expect_floats(g, gdx, dx, n, 1e-7, 1e-7, "relu_backward");
  TRY_OK(g->relu_forward(n, gx, gx)); /* in place */
  expect_floats(g, gx, y, n, EXACT_ATOL, EXACT_RTOL, "relu_forward in place");
  g->free(gx), g->free(gy), g->free(gdy), g->free(gdx);
  free(x), free(y), free(dy), free(dx);
}

Test(cuda_ops, softmax_forward_backward) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->softmax_forward && g->softmax_backward, "cuda backend lacks softmax");
  rng r;
  rng_seed(&r, 7);
  /* inner 1 takes the row kernel (a row longer than a block too), inner > 1 the column one */
  const int shapes[4][3] = {{5, 37, 1}, {3, 1031, 1}, {3, 19, 41}, {2, 1, 7}};
  for (int t = 0; t < 4; t++) {
    const int outer = shapes[t][0], len = shapes[t][1], inner = shapes[t][2];
    const size_t n = (size_t)outer * len * inner;
    float *x = host_randn(&r, n, 3.0f), *y = host_randn(&r, n, 1.0f),
          *dy = host_randn(&r, n, 1.0f), *dx = host_randn(&r, n, 1.0f);
    float *gx = upload_floats(g, x, n), *gy = upload_floats(g, y, n),
          *gdy = upload_floats(g, dy, n), *gdx = upload_floats(g, dx, n);
    TRY_OK(cpu_backend()->softmax_forward(outer, len, inner, x, y));
    TRY_OK(g->softmax_forward(outer, len, inner, gx, gy));
    char what[96];
    snprintf(what, sizeof what, "softmax_forward [%d, %d, %d]", outer, len, inner);
    expect_floats(g, gy, y, n, 1e-7, RTOL, what);
    TRY_OK(cpu_backend()->softmax_backward(outer, len, inner, y, dy, dx));
    TRY_OK(g->softmax_backward(outer, len, inner, gy, gdy, gdx));
    snprintf(what, sizeof what, "softmax_backward [%d, %d, %d]", outer, len, inner);
    expect_floats(g, gdx, dx, n, ATOL, RTOL, what);
    g->free(gx), g->free(gy), g->free(gdy), g->free(gdx);
    free(x), free(y), free(dy), free(dx);
  }
}

Test(cuda_ops, sgd_update) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->sgd_update, "cuda backend lacks sgd_update");
  rng r;
  rng_seed(&r, 8);
  const size_t n = 4099;
  for (int decay = 0; decay < 2; decay++) {
    float *w = host_randn(&r, n, 1.0f), *gr = host_randn(&r, n, 1.0f),
          *buf = host_randn(&r, n, 0.1f);
    float *gw = upload_floats(g, w, n), *ggr = upload_floats(g, gr, n),
          *gbuf = upload_floats(g, buf, n);
    const float wd = decay ? 5e-4f : 0.0f;
    for (int step = 0; step < 3; step++) {
      TRY_OK(cpu_backend()->sgd_update(n, w, gr, buf, 0.01f, 0.9f, wd));
      TRY_OK(g->sgd_update(n, gw, ggr, gbuf, 0.01f, 0.9f, wd));
    }
    expect_floats(g, gw, w, n, 1e-6, 1e-5, decay ? "sgd weights (decay)" : "sgd weights");
    expect_floats(g, gbuf, buf, n, 1e-6, 1e-5, decay ? "sgd momentum (decay)" : "sgd momentum");
    g->free(gw), g->free(ggr), g->free(gbuf);
    free(w), free(gr), free(buf);
  }
}

/* ---- channels ---- */

Test(cuda_ops, channel_scale) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->channel_scale_forward && g->channel_scale_backward,
            "cuda backend lacks channel_scale");
  rng r;
  rng_seed(&r, 9);
  const int n = 3, c = 7, hw = 131;
  const size_t total = (size_t)n * c * hw;
  float *x = host_randn(&r, total, 1.0f), *y = host_randn(&r, total, 1.0f),
        *dx = host_randn(&r, total, 1.0f), *scale = host_randn(&r, (size_t)n * c, 1.0f);
  scale[4] = 0.0f; /* a dropped channel */
  float *gx = upload_floats(g, x, total), *gy = upload_floats(g, y, total),
        *gdx = upload_floats(g, dx, total), *gs = upload_floats(g, scale, (size_t)n * c);
  TRY_OK(cpu_backend()->channel_scale_forward(n, c, hw, x, scale, y));
  TRY_OK(g->channel_scale_forward(n, c, hw, gx, gs, gy));
  expect_floats(g, gy, y, total, EXACT_ATOL, EXACT_RTOL, "channel_scale_forward");
  TRY_OK(cpu_backend()->channel_scale_backward(n, c, hw, x, scale, dx));
  TRY_OK(g->channel_scale_backward(n, c, hw, gx, gs, gdx));
  expect_floats(g, gdx, dx, total, EXACT_ATOL, EXACT_RTOL, "channel_scale_backward");
  g->free(gx), g->free(gy), g->free(gdx), g->free(gs);
  free(x), free(y), free(dx), free(scale);
}

Test(cuda_ops, copy_channels) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->copy_channels, "cuda backend lacks copy_channels");
  rng r;
  rng_seed(&r, 10);
  const int n = 3, hw = 53, src_c = 5, dst_c = 9;
  const size_t ns = (size_t)n * src_c * hw, nd = (size_t)n * dst_c * hw;
  for (int acc = 0; acc < 2; acc++) {
    float *src = host_randn(&r, ns, 1.0f), *dst = host_randn(&r, nd, 1.0f);
    float *gs = upload_floats(g, src, ns), *gd = upload_floats(g, dst, nd);
    TRY_OK(cpu_backend()->copy_channels(n, hw, src, src_c, 1, dst, dst_c, 4, 3, acc));
    TRY_OK(g->copy_channels(n, hw, gs, src_c, 1, gd, dst_c, 4, 3, acc));
    expect_floats(g, gd, dst, nd, EXACT_ATOL, EXACT_RTOL, acc ? "copy_channels accumulate" : "copy_channels");
    g->free(gs), g->free(gd);
    free(src), free(dst);
  }
}

/* ---- pooling and resizing ---- */

Test(cuda_ops, maxpool_forward_backward) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->maxpool_forward && g->maxpool_backward, "cuda backend lacks maxpool");
  rng r;
  rng_seed(&r, 11);
  /* {h, w, k, stride, pad, ceil}: the stem's 3/2/1, ceil windows past the edge,
   * overlapping stride-1 windows */
  const int cases[5][6] = {{17, 23, 3, 2, 1, 0}, {17, 23, 3, 2, 0, 1}, {15, 9, 2, 2, 0, 1},
                           {11, 13, 3, 1, 1, 0}, {9, 10, 5, 3, 2, 1}};
  for (int t = 0; t < 5; t++) {
    pool_shape s;
    TRY_OK(pool_shape_init(&s, 2, 3, cases[t][0], cases[t][1], cases[t][2], cases[t][3],
                           cases[t][4], cases[t][5]));
    const size_t nx = (size_t)s.n * s.c * s.h * s.w, ny = (size_t)s.n * s.c * s.oh * s.ow;
    float *x = host_randn(&r, nx, 2.0f);
    for (size_t i = 0; i < nx; i++) /* a few levels only: ties, where the first must win */
      x[i] = roundf(x[i]);
    x[nx / 2] = NAN;
    float *y = host_randn(&r, ny, 1.0f), *dy = host_randn(&r, ny, 1.0f),
          *dx = host_randn(&r, nx, 1.0f);
    int32_t *am = malloc(ny * sizeof *am);
    cr_assert(am, "out of host memory");
    float *gx = upload_floats(g, x, nx), *gy = upload_floats(g, y, ny),
          *gdy = upload_floats(g, dy, ny), *gdx = upload_floats(g, dx, nx);
    int32_t *gam = test_device_zeros(g, ny * sizeof *gam);
    TRY_OK(cpu_backend()->maxpool_forward(&s, x, y, am));
    TRY_OK(g->maxpool_forward(&s, gx, gy, gam));
    char what[96];
    snprintf(what, sizeof what, "maxpool %dx%d k%d s%d p%d ceil %d", s.h, s.w, s.k, s.stride,
             s.pad, (int)s.ceil_mode);
    expect_ints(g, gam, am, ny, what);
    expect_floats(g, gy, y, ny, EXACT_ATOL, EXACT_RTOL, what);
    TRY_OK(cpu_backend()->maxpool_backward(&s, dy, am, dx));
    TRY_OK(g->maxpool_backward(&s, gdy, gam, gdx));
    expect_floats(g, gdx, dx, nx, EXACT_ATOL, EXACT_RTOL, what);
    g->free(gx), g->free(gy), g->free(gdy), g->free(gdx), g->free(gam);
    free(x), free(y), free(dy), free(dx), free(am);
  }
}

Test(cuda_ops, resize_forward_backward) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->resize_forward && g->resize_backward, "cuda backend lacks resize");
  rng r;
  rng_seed(&r, 12);
  /* {ih, iw, oh, ow}: up (x8, odd), down, same size, to one pixel */
  const int cases[4][4] = {{7, 9, 53, 65}, {19, 23, 7, 9}, {11, 13, 11, 13}, {5, 6, 1, 1}};
  for (int t = 0; t < 4; t++)
    for (int align = 0; align < 2; align++) {
      const resize_shape s = {.n = 2, .c = 3, .ih = cases[t][0], .iw = cases[t][1],
                              .oh = cases[t][2], .ow = cases[t][3], .align_corners = align};
      const size_t nx = (size_t)s.n * s.c * s.ih * s.iw, ny = (size_t)s.n * s.c * s.oh * s.ow;
      float *x = host_randn(&r, nx, 1.0f), *y = host_randn(&r, ny, 1.0f),
            *dy = host_randn(&r, ny, 1.0f), *dx = host_randn(&r, nx, 1.0f);
      float *gx = upload_floats(g, x, nx), *gy = upload_floats(g, y, ny),
            *gdy = upload_floats(g, dy, ny), *gdx = upload_floats(g, dx, nx);
      char what[96];
      snprintf(what, sizeof what, "resize %dx%d -> %dx%d align_corners %d", s.ih, s.iw, s.oh,
               s.ow, align);
      TRY_OK(cpu_backend()->resize_forward(&s, x, y));
      TRY_OK(g->resize_forward(&s, gx, gy));
      expect_floats(g, gy, y, ny, EXACT_ATOL, EXACT_RTOL, what);
      TRY_OK(cpu_backend()->resize_backward(&s, dy, dx));
      TRY_OK(g->resize_backward(&s, gdy, gdx));
      expect_floats(g, gdx, dx, nx, EXACT_ATOL, EXACT_RTOL, what);
      g->free(gx), g->free(gy), g->free(gdy), g->free(gdx);
      free(x), free(y), free(dy), free(dx);
    }
}

/* ---- losses ---- */

static void random_labels(rng *r, int32_t *labels, size_t n, int classes, double p_ignore) {
  for (size_t i = 0; i < n; i++)
    labels[i] = rng_uniform(r) < p_ignore ? LOSS_IGNORE_LABEL
                                          : (int32_t)rng_int(r, 0, classes - 1);
}

/* Inputs of the loss ops on both sides. */
typedef struct ce_case {
  ce_shape s;
  size_t nl, np;
  float *logits, *glogits;
  int32_t *labels, *glabels;
} ce_case;

static ce_case ce_case_new(const dnl_backend *g, rng *r, int n, int c, int hw) {
  ce_case k = {.s = {.n = n, .c = c, .hw = hw, .ignore_label = LOSS_IGNORE_LABEL}};
  k.nl = (size_t)n * c * hw;
  k.np = (size_t)n * hw;
  k.logits = host_randn(r, k.nl, 2.0f);
  k.labels = malloc(k.np * sizeof *k.labels);
  cr_assert(k.labels, "out of host memory");
  random_labels(r, k.labels, k.np, c, 0.2);
  k.glogits = upload_floats(g, k.logits, k.nl);
  k.glabels = test_upload(g, k.labels, k.np * sizeof *k.labels);
  return k;
}

static void ce_case_free(const dnl_backend *g, ce_case *k) {
  g->free(k->glogits), g->free(k->glabels);
  free(k->logits), free(k->labels);
}

/* A label outside 0..c-1 that is not the ignore label: the CPU's error, and
 * the gradient untouched. */
static void expect_bad_label_error(const dnl_backend *g, rng *r, ce_case *k) {
  int32_t *bad = malloc(k->np * sizeof *bad);
  cr_assert(bad, "out of host memory");
  memcpy(bad, k->labels, k->np * sizeof *bad);
  bad[k->np - 3] = -1;
  bad[k->np / 2] = k->s.c; /* the first bad one is named */
  int32_t *gbad = test_upload(g, bad, k->np * sizeof *bad);
  float *p = host_randn(r, k->np, 1.0f), *d = host_randn(r, k->nl, 1.0f);
  float *gp = upload_floats(g, p, k->np), *gd = upload_floats(g, d, k->nl);
  size_t nv;
  char cpu_msg[512];
  cr_assert(cpu_backend()->ce_prob_gt(&k->s, k->logits, bad, p, &nv) == DNL_ERR_ARG);
  snprintf(cpu_msg, sizeof cpu_msg, "%s", dnl_last_error());
  cr_assert(g->ce_prob_gt(&k->s, k->glogits, gbad, gp, &nv) == DNL_ERR_ARG,
            "ce_prob_gt accepted label %d", k->s.c);
  cr_assert_str_eq(dnl_last_error(), cpu_msg);
  float loss;
  cr_assert(g->ce_forward_backward(&k->s, k->glogits, gbad, NULL, NULL, 0.0f, 1.0f, &loss,
                                   gd) == DNL_ERR_ARG,
            "ce_forward_backward accepted label %d", k->s.c);
  cr_assert_str_eq(dnl_last_error(), cpu_msg);
  expect_floats(g, gd, d, k->nl, EXACT_ATOL, EXACT_RTOL, "dlogits after a bad label");
  g->free(gbad), g->free(gp), g->free(gd);
  free(bad), free(p), free(d);
}

Test(cuda_ops, ce_prob_gt) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->ce_prob_gt, "cuda backend lacks ce_prob_gt");
  rng r;
  rng_seed(&r, 13);
  ce_case k = ce_case_new(g, &r, 3, 7, 211);
  float *p = host_randn(&r, k.np, 1.0f);
  float *gp = test_device_zeros(g, k.np * sizeof *gp);
  size_t nv_cpu = 0, nv_gpu = 0;
  TRY_OK(cpu_backend()->ce_prob_gt(&k.s, k.logits, k.labels, p, &nv_cpu));
  TRY_OK(g->ce_prob_gt(&k.s, k.glogits, k.glabels, gp, &nv_gpu));
  cr_assert(nv_gpu == nv_cpu && nv_cpu > 0 && nv_cpu < k.np,
            "n_valid %zu on CUDA, %zu on the CPU (of %zu)", nv_gpu, nv_cpu, k.np);
  expect_floats(g, gp, p, k.np, 1e-6, RTOL, "ce_prob_gt");
  expect_bad_label_error(g, &r, &k);
  g->free(gp);
  free(p);
  ce_case_free(g, &k);
}

Test(cuda_ops, select_kth) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->select_kth, "cuda backend lacks select_kth");
  rng r;
  rng_seed(&r, 14);
  const size_t n = 100003;
  float *x = host_randn(&r, n, 1.0f), *scratch = malloc(n * sizeof *scratch);
  cr_assert(scratch, "out of host memory");
  for (size_t i = 0; i < n; i++) {
    if (i % 5 == 0)
      x[i] = 2.0f; /* ignored pixels' p_gt */
    else if (i % 7 == 0)
      x[i] = roundf(x[i] * 4.0f) / 4.0f; /* repeated values, negative ones too */
  }
  float *gx = upload_floats(g, x, n);
  float *gscratch = test_device_zeros(g, n * sizeof *gscratch);
  const size_t ks[6] = {0, 1, 777, n / 2, n - n / 5 - 1, n - 1};
  for (int i = 0; i < 6; i++) {
    float want, got;
    TRY_OK(cpu_backend()->select_kth(n, x, ks[i], scratch, &want));
    TRY_OK(g->select_kth(n, gx, ks[i], gscratch, &got));
    cr_assert(got == want, "select_kth k=%zu of %zu: %.9g on CUDA, %.9g on the CPU", ks[i], n,
              (double)got, (double)want);
  }
  float one = 0.5f, got;
  g->free(gx);
  gx = upload_floats(g, &one, 1);
  TRY_OK(g->select_kth(1, gx, 0, gscratch, &got));
  cr_assert(got == 0.5f, "select_kth of one value: %g", (double)got);
  cr_assert(g->select_kth(1, gx, 1, gscratch, &got) == DNL_ERR_ARG, "k=1 of 1 accepted");
  cr_assert(g->select_kth(0, gx, 0, gscratch, &got) == DNL_ERR_ARG, "n=0 accepted");
  g->free(gx), g->free(gscratch);
  free(x), free(scratch);
}

Test(cuda_ops, ce_forward_backward) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->ce_forward_backward, "cuda backend lacks ce_forward_backward");
  rng r;
  rng_seed(&r, 15);
  ce_case k = ce_case_new(g, &r, 2, 5, 317);
  const float weights[5] = {0.8373f, 1.2f, 0.5f, 1.0345f, 1.5f};
  float *gw = upload_floats(g, weights, 5);
  float *p = malloc(k.np * sizeof *p);
  cr_assert(p, "out of host memory");
  size_t nv;
  TRY_OK(cpu_backend()->ce_prob_gt(&k.s, k.logits, k.labels, p, &nv));
  float *gp = upload_floats(g, p, k.np);
  /* weights x OHEM selection x plain mean x gradient or none */
  for (int variant = 0; variant < 16; variant++) {
    const bool weighted = variant & 1, ohem = variant & 2, plain = variant & 4,
               grad = variant & 8;
    ce_shape s = k.s;
    s.plain_mean = plain;
    float *d = host_randn(&r, k.nl, 0.1f);
    float *gd = upload_floats(g, d, k.nl);
    float want = -1.0f, got = -2.0f;
    TRY_OK(cpu_backend()->ce_forward_backward(&s, k.logits, k.labels, weighted ? weights : NULL,
                                              ohem ? p : NULL, 0.7f, 0.4f, &want,
                                              grad ? d : NULL));
    TRY_OK(g->ce_forward_backward(&s, k.glogits, k.glabels, weighted ? gw : NULL,
                                  ohem ? gp : NULL, 0.7f, 0.4f, &got, grad ? gd : NULL));
    char what[128];
    snprintf(what, sizeof what, "ce weighted %d ohem %d plain_mean %d gradient %d", weighted,
             ohem, plain, grad);
    cr_assert(want > 0.0f, "%s: the CPU's loss %g", what, (double)want);
    ASSERT_CLOSE(&got, &want, 1, 1e-7, 1e-5, what);
    expect_floats(g, gd, d, k.nl, 1e-7, RTOL, what);
    g->free(gd);
    free(d);
  }
  /* nothing selected: loss 0, gradient untouched */
  float *d = host_randn(&r, k.nl, 0.1f);
  float *gd = upload_floats(g, d, k.nl);
  float got = -1.0f;
  TRY_OK(g->ce_forward_backward(&k.s, k.glogits, k.glabels, gw, gp, 0.0f, 1.0f, &got, gd));
  cr_assert(got == 0.0f, "loss %g with no pixel below threshold 0", (double)got);
  expect_floats(g, gd, d, k.nl, EXACT_ATOL, EXACT_RTOL, "gradient with nothing selected");
  expect_bad_label_error(g, &r, &k);
  g->free(gd), g->free(gw), g->free(gp);
  free(d), free(p);
  ce_case_free(g, &k);
}

/* Pixels that get no gradient keep dlogits as it is even where their logits
 * are not finite: ignore-label pixels, and pixels of a class of weight 0
 * (0 * NaN would write NaN). Logits +inf, -inf and NaN at such pixels; the
 * gradient must stay finite and equal the CPU's. The loss of the first case
 * is finite; in the second, 0 * NaN makes it NaN on both sides (as in
 * PyTorch). */
Test(cuda_ops, ce_nonfinite_logits_where_the_gradient_is_zero) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->ce_forward_backward, "cuda backend lacks ce_forward_backward");
  rng r;
  rng_seed(&r, 18);
  ce_case k = ce_case_new(g, &r, 2, 5, 317);
  const float weights[5] = {0.0f, 1.2f, 0.5f, 1.0345f, 1.5f};
  float *gw = upload_floats(g, weights, 5);
  const float bad[3] = {INFINITY, -INFINITY, NAN};
  for (int zero_weight = 0; zero_weight < 2; zero_weight++) {
    float *logits = host_copy(k.logits, k.nl);
    size_t spoiled = 0;
    for (size_t pix = 0; pix < k.np; pix++) {
      const int32_t l = k.labels[pix];
      if (l != LOSS_IGNORE_LABEL && !(zero_weight && l == 0))
        continue;
      const size_t b = pix / (size_t)k.s.hw, i = pix % (size_t)k.s.hw;
      for (int c = 0; c < k.s.c; c++)
        if ((pix + (size_t)c) % 2 == 0)
          logits[(b * k.s.c + c) * k.s.hw + i] = bad[(pix + (size_t)c) % 3];
      spoiled++;
    }
    cr_assert(spoiled > 0, "no pixel to spoil");
    float *glogits = upload_floats(g, logits, k.nl);
    float *d = host_randn(&r, k.nl, 0.1f);
    float *gd = upload_floats(g, d, k.nl);
    float want = -1.0f, got = -2.0f;
    TRY_OK(cpu_backend()->ce_forward_backward(&k.s, logits, k.labels, weights, NULL, 0.0f, 0.4f,
                                              &want, d));
    TRY_OK(g->ce_forward_backward(&k.s, glogits, k.glabels, gw, NULL, 0.0f, 0.4f, &got, gd));
    const char *what = zero_weight ? "ce with non-finite logits at ignored and weight-0 pixels"
                                   : "ce with non-finite logits at ignored pixels";
    float *host_d = test_download_new(g, gd, k.nl * sizeof *host_d);
    for (size_t i = 0; i < k.nl; i++)
      cr_assert(isfinite(host_d[i]) && isfinite(d[i]),
                "%s: dlogits[%zu] is %g on CUDA, %g on the CPU", what, i, (double)host_d[i],
                (double)d[i]);
    free(host_d);
    expect_floats(g, gd, d, k.nl, 1e-7, RTOL, what);
    if (zero_weight) {
      cr_assert(isnan(want) && isnan(got), "%s: loss %g on CUDA, %g on the CPU", what, (double)got,
                (double)want);
    } else {
      cr_assert(isfinite(want) && want > 0.0f, "%s: the CPU's loss %g", what, (double)want);
      ASSERT_CLOSE(&got, &want, 1, 1e-7, 1e-5, what);
    }
    g->free(glogits), g->free(gd);
    free(logits), free(d);
  }
  g->free(gw);
  ce_case_free(g, &k);
}

/* Both losses through lib/layers/loss.c (OHEM: ce_prob_gt, select_kth and the
 * thresholded CE in a row) on each backend. */
static float layer_loss(const dnl_backend *be, bool ohem, const loss_config *cfg,
                        const ce_case *k, const float *logits, const int32_t *labels,
                        float *dlogits) {
  arena act;
  rng r;
  layer_ctx ctx;
  rng_seed(&r, 1);
  TRY_OK(arena_init(&act, be, 1 << 20));
  layer_ctx_init(&ctx, be, &act, &r);
  tensor tl = tensor_view4((float *)logits, be->device, k->s.n, k->s.c, 1, k->s.hw);
  tensor td = tensor_view4(dlogits, be->device, k->s.n, k->s.c, 1, k->s.hw);
  float loss = -1.0f;
  if (ohem)
    TRY_OK(ohem_ce_loss(&ctx, cfg, &tl, labels, 0.5f, &loss, &td));
  else
    TRY_OK(ce_loss(&ctx, cfg, &tl, labels, 0.5f, &loss, &td));
  layer_ctx_free(&ctx);
  arena_free(&act);
  return loss;
}

Test(cuda_ops, ce_and_ohem_layers) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->ce_prob_gt && g->select_kth && g->ce_forward_backward,
            "cuda backend lacks a loss op");
  rng r;
  rng_seed(&r, 16);
  ce_case k = ce_case_new(g, &r, 2, 6, 1009);
  const float weights[6] = {1.1f, 0.9f, 1.3f, 0.7f, 1.0f, 0.6f};
  float *gw = upload_floats(g, weights, 6);
  /* min_kept below and above the count of pixels under the threshold */
  const long min_kept[2] = {50, 900};
  for (int variant = 0; variant < 6; variant++) {
    const bool ohem = variant >= 2, weighted = variant % 2;
    loss_config cpu_cfg = {.class_weights = weighted ? weights : NULL,
                           .ignore_label = LOSS_IGNORE_LABEL, .ohem_thresh = 0.7f,
                           .ohem_min_kept = min_kept[variant / 4]};
    loss_config gpu_cfg = cpu_cfg;
    gpu_cfg.class_weights = weighted ? gw : NULL;
    float *d = host_randn(&r, k.nl, 0.1f);
    float *gd = upload_floats(g, d, k.nl);
    const float want = layer_loss(cpu_backend(), ohem, &cpu_cfg, &k, k.logits, k.labels, d);
    const float got = layer_loss(g, ohem, &gpu_cfg, &k, k.glogits, k.glabels, gd);
    char what[96];
    snprintf(what, sizeof what, "%s weighted %d min_kept %ld", ohem ? "ohem_ce_loss" : "ce_loss",
             weighted, cpu_cfg.ohem_min_kept);
    cr_assert(want > 0.0f, "%s: the CPU's loss %g", what, (double)want);
    ASSERT_CLOSE(&got, &want, 1, 1e-7, 1e-5, what);
    expect_floats(g, gd, d, k.nl, 1e-7, RTOL, what);
    g->free(gd);
    free(d);
  }
  g->free(gw);
  ce_case_free(g, &k);
}

/* ---- context block ---- */

/* Short rows (one chunk each) and a few long ones (rows 2 x 1000003: 245
 * chunks per row, the last one short), as whitening over channels and over
 * whole samples gives them. */
Test(cuda_ops, center_rows) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->center_rows, "cuda backend lacks center_rows");
  rng r;
  rng_seed(&r, 17);
  const int shapes[3][2] = {{7, 1001}, {2, 1000003}, {3, 4097}};
  for (int k = 0; k < 3; k++) {
    const int rows = shapes[k][0], len = shapes[k][1];
    const size_t n = (size_t)rows * len;
    float *x = host_randn(&r, n, 1.0f), *y = host_randn(&r, n, 1.0f);
    for (size_t i = 0; i < n; i++)
      x[i] += 3.0f + (float)(i / (size_t)len); /* an offset per row to remove */
    float *gx = upload_floats(g, x, n), *gy = upload_floats(g, y, n);
    TRY_OK(cpu_backend()->center_rows(rows, len, x, y));
    TRY_OK(g->center_rows(rows, len, gx, gy));
    char what[64];
    snprintf(what, sizeof what, "center_rows %d x %d", rows, len);
    expect_floats(g, gy, y, n, 1e-6, RTOL, what);
    TRY_OK(g->center_rows(rows, len, gx, gx)); /* in place */
    snprintf(what, sizeof what, "center_rows %d x %d in place", rows, len);
    expect_floats(g, gx, y, n, 1e-6, RTOL, what);
    g->free(gx), g->free(gy);
    free(x), free(y);
  }
}

Test(cuda_ops, attention_combine) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->attention_combine_forward && g->attention_combine_backward,
            "cuda backend lacks attention_combine");
  rng r;
  rng_seed(&r, 18);
  const int n = 2, c = 5, p = 389;
  const size_t total = (size_t)n * c * p, nu = (size_t)n * c;
  float gamma = 0.37f;
  float *pair = host_randn(&r, total, 1.0f), *unary = host_randn(&r, nu, 1.0f),
        *dz = host_randn(&r, total, 1.0f);
  float *gpair = upload_floats(g, pair, total), *gunary = upload_floats(g, unary, nu),
        *gdz = upload_floats(g, dz, total), *ggamma = upload_floats(g, &gamma, 1);
  /* which terms are present: both, pair only, unary only */
  for (int terms = 0; terms < 3; terms++) {
    const bool has_pair = terms != 2, has_unary = terms != 1;
    float *z = host_randn(&r, total, 1.0f);
    float *gz = upload_floats(g, z, total);
    TRY_OK(cpu_backend()->attention_combine_forward(n, c, p, &gamma, has_pair ? pair : NULL,
                                                    has_unary ? unary : NULL, z));
    TRY_OK(g->attention_combine_forward(n, c, p, ggamma, has_pair ? gpair : NULL,
                                        has_unary ? gunary : NULL, gz));
    char what[96];
    snprintf(what, sizeof what, "attention_combine_forward pair %d unary %d", has_pair,
             has_unary);
    expect_floats(g, gz, z, total, EXACT_ATOL, EXACT_RTOL, what);
    g->free(gz);
    free(z);

    /* the backward with every gradient, then with each one absent */
    for (int absent = 0; absent < 4; absent++) {
      float *dpair = host_randn(&r, total, 1.0f), *dunary = host_randn(&r, nu, 1.0f);
      float dgamma = 0.25f;
      float *gdpair = upload_floats(g, dpair, total), *gdunary = upload_floats(g, dunary, nu),
            *gdgamma = upload_floats(g, &dgamma, 1);
      TRY_OK(cpu_backend()->attention_combine_backward(
          n, c, p, &gamma, has_pair ? pair : NULL, dz, absent == 1 ? NULL : dpair,
          absent == 2 ? NULL : &dgamma, absent == 3 ? NULL : dunary));
      TRY_OK(g->attention_combine_backward(n, c, p, ggamma, has_pair ? gpair : NULL, gdz,
                                           absent == 1 ? NULL : gdpair,
                                           absent == 2 ? NULL : gdgamma,
                                           absent == 3 ? NULL : gdunary));
      snprintf(what, sizeof what, "attention_combine_backward pair %d unary %d absent %d",
               has_pair, has_unary, absent);
      expect_floats(g, gdpair, dpair, total, EXACT_ATOL, EXACT_RTOL, what);
      expect_floats(g, gdunary, dunary, nu, 1e-6, RTOL, what);
      expect_floats(g, gdgamma, &dgamma, 1, 1e-6, RTOL, what);
      g->free(gdpair), g->free(gdunary), g->free(gdgamma);
      free(dpair), free(dunary);
    }
  }
  g->free(gpair), g->free(gunary), g->free(gdz), g->free(ggamma);
  free(pair), free(unary), free(dz);
}
