/* The CUDA backend's batch norm (split ops) and group norm against the CPU
 * backend's on the same random inputs (odd sizes; one channel or group of a
 * few hundred thousand values, as in the stem and in layer norm, so the sums
 * are split over many blocks). Gradients and running statistics start from
 * nonzero values on both sides, so that accumulation and the momentum update
 * are checked. Skipped without a GPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/test_device.h"
#include "tests/test_util.h"

/* Both sides do the same float arithmetic from double sums added in another
 * order: they differ by a rounding or two. */
#define RTOL 1e-4
#define ATOL 1e-5

static float *host_randn(rng *r, size_t n, float scale, float offset) {
  float *x = malloc((n ? n : 1) * sizeof *x);
  cr_assert(x, "out of host memory");
  test_fill_randn(r, x, n, scale);
  for (size_t i = 0; i < n; i++)
    x[i] += offset;
  return x;
}

static float *upload_floats(const dnl_backend *g, const float *x, size_t n) {
  return test_upload(g, x, n * sizeof *x);
}

static void expect_floats(const dnl_backend *g, const float *dev, const float *cpu, size_t n,
                          const char *what) {
  float *got = test_download_new(g, dev, n * sizeof *got);
  ASSERT_CLOSE(got, cpu, n, ATOL, RTOL, what);
  free(got);
}

/* The statistics are double sums over up to ~300k values: the two summation
 * orders agree to far better than 1e-9 of the sum of magnitudes. */
static void expect_stats(const dnl_backend *g, const double *dev, const double *cpu, int c,
                         const char *what) {
  const size_t n = 2 * (size_t)c + 1;
  double *got = test_download_new(g, dev, n * sizeof *got);
  for (size_t i = 0; i < n; i++) {
    const double tol = 1e-9 * (fabs(cpu[i]) + cpu[2 * c]);
    cr_assert(fabs(got[i] - cpu[i]) <= tol, "%s: stats[%zu] is %.17g on CUDA, %.17g on the CPU",
              what, i, got[i], cpu[i]);
  }
  free(got);
}

typedef struct norm_case {
  int n, c, hw;
} norm_case;

/* small and odd; few channels of many values (the stem: 2 x 385 x 385 per
 * channel, split over many blocks); many channels of few values; hw = 1 */
static const norm_case bn_cases[] = {
    {3, 7, 11 * 13}, {2, 3, 385 * 385}, {2, 2049, 5}, {5, 9, 1}, {1, 4, 97 * 97},
};

/* Training forward (stats + apply) and backward (stats + apply) on one case. */
static void check_bn_train(const dnl_backend *g, const norm_case *nc, uint64_t seed) {
  const dnl_backend *cpu = cpu_backend();
  const int n = nc->n, c = nc->c, hw = nc->hw;
  const size_t nx = (size_t)n * c * hw, nstats = 2 * (size_t)c + 1;
  const float eps = 1e-5f, momentum = 0.1f;
  char what[96];
  rng r;
  rng_seed(&r, seed);
  /* an offset and a scale away from 0 and 1, so mean and variance matter */
  float *x = host_randn(&r, nx, 2.5f, 1.5f), *dy = host_randn(&r, nx, 1.0f, 0.2f);
  float *gamma = host_randn(&r, c, 0.5f, 1.0f), *beta = host_randn(&r, c, 0.5f, 0.0f);
  float *rmean = host_randn(&r, c, 0.3f, 0.0f), *rvar = host_randn(&r, c, 0.1f, 1.0f);
  float *y = host_randn(&r, nx, 1.0f, 0.0f), *dx = host_randn(&r, nx, 1.0f, 0.0f);
  float *dgamma = host_randn(&r, c, 1.0f, 0.0f), *dbeta = host_randn(&r, c, 1.0f, 0.0f);
  float *smean = host_randn(&r, c, 1.0f, 0.0f), *sinv = host_randn(&r, c, 1.0f, 0.0f);
  double *stats = malloc(nstats * sizeof *stats);
  cr_assert(stats);
  float *gx = upload_floats(g, x, nx), *gdy = upload_floats(g, dy, nx);
  float *ggamma = upload_floats(g, gamma, c), *gbeta = upload_floats(g, beta, c);
  float *grmean = upload_floats(g, rmean, c), *grvar = upload_floats(g, rvar, c);
  float *gy = upload_floats(g, y, nx), *gdx = upload_floats(g, dx, nx);
  float *gdgamma = upload_floats(g, dgamma, c), *gdbeta = upload_floats(g, dbeta, c);
  float *gsmean = upload_floats(g, smean, c), *gsinv = upload_floats(g, sinv, c);
  double *gstats = test_device_zeros(g, nstats * sizeof *gstats);

  TRY_OK(cpu->bn_stats(n, c, hw, x, stats));
  TRY_OK(g->bn_stats(n, c, hw, gx, gstats));
  snprintf(what, sizeof what, "bn [%d, %d, %d] forward stats", n, c, hw);
  expect_stats(g, gstats, stats, c, what);

  TRY_OK(cpu->bn_forward_apply(n, c, hw, eps, momentum, stats, x, gamma, beta, rmean, rvar, y,
                               smean, sinv));
  TRY_OK(g->bn_forward_apply(n, c, hw, eps, momentum, gstats, gx, ggamma, gbeta, grmean, grvar, gy,
                             gsmean, gsinv));
  const char *fnames[5] = {"y", "save_mean", "save_invstd", "running_mean", "running_var"};
  const float *fdev[5] = {gy, gsmean, gsinv, grmean, grvar},
              *fhost[5] = {y, smean, sinv, rmean, rvar};
  const size_t fcount[5] = {nx, c, c, c, c};
  for (int i = 0; i < 5; i++) {
    snprintf(what, sizeof what, "bn [%d, %d, %d] forward %s", n, c, hw, fnames[i]);
    expect_floats(g, fdev[i], fhost[i], fcount[i], what);
  }

  TRY_OK(cpu->bn_backward_stats(n, c, hw, x, dy, smean, sinv, stats, dgamma, dbeta));
  TRY_OK(g->bn_backward_stats(n, c, hw, gx, gdy, gsmean, gsinv, gstats, gdgamma, gdbeta));
  snprintf(what, sizeof what, "bn [%d, %d, %d] backward stats", n, c, hw);
  expect_stats(g, gstats, stats, c, what);
  TRY_OK(cpu->bn_backward_apply(n, c, hw, x, gamma, dy, smean, sinv, stats, dx));
  TRY_OK(g->bn_backward_apply(n, c, hw, gx, ggamma, gdy, gsmean, gsinv, gstats, gdx));
  const char *bnames[3] = {"dx", "dgamma", "dbeta"};
  const float *bdev[3] = {gdx, gdgamma, gdbeta}, *bhost[3] = {dx, dgamma, dbeta};
  const size_t bcount[3] = {nx, c, c};
  for (int i = 0; i < 3; i++) {
    snprintf(what, sizeof what, "bn [%d, %d, %d] backward %s", n, c, hw, bnames[i]);
    expect_floats(g, bdev[i], bhost[i], bcount[i], what);
  }

  /* NULL dgamma and dbeta: the statistics alone, the gradients untouched */
  TRY_OK(g->bn_backward_stats(n, c, hw, gx, gdy, gsmean, gsinv, gstats, NULL, NULL));
  snprintf(what, sizeof what, "bn [%d, %d, %d] backward stats without dgamma", n, c, hw);
  expect_stats(g, gstats, stats, c, what);
  snprintf(what, sizeof what, "bn [%d, %d, %d] dgamma after a NULL call", n, c, hw);
  expect_floats(g, gdgamma, dgamma, c, what);

  g->free(gx), g->free(gdy), g->free(ggamma), g->free(gbeta), g->free(grmean), g->free(grvar);
  g->free(gy), g->free(gdx), g->free(gdgamma), g->free(gdbeta), g->free(gsmean);
  g->free(gsinv), g->free(gstats);
  free(x), free(dy), free(gamma), free(beta), free(rmean), free(rvar), free(y), free(dx);
  free(dgamma), free(dbeta), free(smean), free(sinv), free(stats);
}

Test(cuda_norm, batchnorm_train_matches_cpu) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->bn_stats && g->bn_forward_apply && g->bn_backward_stats && g->bn_backward_apply,
            "cuda backend lacks a batch norm training op");
  for (size_t i = 0; i < sizeof bn_cases / sizeof bn_cases[0]; i++)
    check_bn_train(g, &bn_cases[i], 10 + i);
}

Test(cuda_norm, batchnorm_eval_matches_cpu) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->bn_forward_eval, "cuda backend lacks bn_forward_eval");
  for (size_t i = 0; i < sizeof bn_cases / sizeof bn_cases[0]; i++) {
    const int n = bn_cases[i].n, c = bn_cases[i].c, hw = bn_cases[i].hw;
    const size_t nx = (size_t)n * c * hw;
    rng r;
    rng_seed(&r, 30 + i);
    float *x = host_randn(&r, nx, 2.0f, -0.5f), *y = host_randn(&r, nx, 1.0f, 0.0f);
    float *gamma = host_randn(&r, c, 0.5f, 1.0f), *beta = host_randn(&r, c, 0.5f, 0.0f);
    float *rmean = host_randn(&r, c, 0.5f, 0.0f), *rvar = host_randn(&r, c, 0.2f, 2.0f);
    float *gx = upload_floats(g, x, nx), *gy = upload_floats(g, y, nx);
    float *ggamma = upload_floats(g, gamma, c), *gbeta = upload_floats(g, beta, c);
    float *grmean = upload_floats(g, rmean, c), *grvar = upload_floats(g, rvar, c);
    TRY_OK(cpu_backend()->bn_forward_eval(n, c, hw, 1e-5f, x, gamma, beta, rmean, rvar, y));
    TRY_OK(g->bn_forward_eval(n, c, hw, 1e-5f, gx, ggamma, gbeta, grmean, grvar, gy));
    char what[64];
    snprintf(what, sizeof what, "bn eval [%d, %d, %d]", n, c, hw);
    expect_floats(g, gy, y, nx, what);
    g->free(gx), g->free(gy), g->free(ggamma), g->free(gbeta), g->free(grmean), g->free(grvar);
    free(x), free(y), free(gamma), free(beta), free(rmean), free(rvar);
  }
}

/* ---- group norm ---- */

typedef struct gn_case {
  int n, c, hw, groups;
} gn_case;

/* layer norm (1 group), instance norm (groups = c), groups in between; one
 * layer norm of 64 x 41 x 43 values per sample (split over many blocks) */
static const gn_case gn_cases[] = {
    {3, 12, 7 * 9, 1},   {3, 12, 7 * 9, 12}, {3, 12, 7 * 9, 4}, {2, 15, 11, 5},
    {2, 64, 41 * 43, 1}, {2, 33, 1, 33},     {1, 6, 13 * 5, 3},
};

/* which of dx, dgamma, dbeta the backward gets */
enum { GRAD_DX = 1, GRAD_DGAMMA = 2, GRAD_DBETA = 4, GRAD_ALL = 7 };

static void check_gn(const dnl_backend *g, const gn_case *gc, int grads, uint64_t seed) {
  const dnl_backend *cpu = cpu_backend();
  const int n = gc->n, c = gc->c, hw = gc->hw, groups = gc->groups;
  const size_t nx = (size_t)n * c * hw, ns = (size_t)n * groups;
  char what[112];
  rng r;
  rng_seed(&r, seed);
  float *x = host_randn(&r, nx, 1.7f, -0.8f), *dy = host_randn(&r, nx, 1.0f, 0.1f);
  float *gamma = host_randn(&r, c, 0.5f, 1.0f), *beta = host_randn(&r, c, 0.5f, 0.0f);
  float *y = host_randn(&r, nx, 1.0f, 0.0f), *dx = host_randn(&r, nx, 1.0f, 0.0f);
  float *dgamma = host_randn(&r, c, 1.0f, 0.0f), *dbeta = host_randn(&r, c, 1.0f, 0.0f);
  float *smean = host_randn(&r, ns, 1.0f, 0.0f), *sinv = host_randn(&r, ns, 1.0f, 0.0f);
  float *gx = upload_floats(g, x, nx), *gdy = upload_floats(g, dy, nx);
  float *ggamma = upload_floats(g, gamma, c), *gbeta = upload_floats(g, beta, c);
  float *gy = upload_floats(g, y, nx), *gdx = upload_floats(g, dx, nx);
  float *gdgamma = upload_floats(g, dgamma, c), *gdbeta = upload_floats(g, dbeta, c);
  float *gsmean = upload_floats(g, smean, ns), *gsinv = upload_floats(g, sinv, ns);

  TRY_OK(cpu->group_norm_forward(n, c, hw, groups, 1e-5f, x, gamma, beta, y, smean, sinv));
  TRY_OK(g->group_norm_forward(n, c, hw, groups, 1e-5f, gx, ggamma, gbeta, gy, gsmean, gsinv));
  const char *fnames[3] = {"y", "save_mean", "save_invstd"};
  const float *fdev[3] = {gy, gsmean, gsinv}, *fhost[3] = {y, smean, sinv};
  const size_t fcount[3] = {nx, ns, ns};
  for (int i = 0; i < 3; i++) {
    snprintf(what, sizeof what, "gn [%d, %d, %d] groups %d forward %s", n, c, hw, groups,
             fnames[i]);
    expect_floats(g, fdev[i], fhost[i], fcount[i], what);
  }

  TRY_OK(cpu->group_norm_backward(n, c, hw, groups, x, gamma, dy, smean, sinv,
                                  grads & GRAD_DX ? dx : NULL, grads & GRAD_DGAMMA ? dgamma : NULL,
                                  grads & GRAD_DBETA ? dbeta : NULL));
  TRY_OK(g->group_norm_backward(n, c, hw, groups, gx, ggamma, gdy, gsmean, gsinv,
                                grads & GRAD_DX ? gdx : NULL, grads & GRAD_DGAMMA ? gdgamma : NULL,
                                grads & GRAD_DBETA ? gdbeta : NULL));
  /* the ones left out must keep their starting values on both sides */
  const char *bnames[3] = {"dx", "dgamma", "dbeta"};
  const float *bdev[3] = {gdx, gdgamma, gdbeta}, *bhost[3] = {dx, dgamma, dbeta};
  const size_t bcount[3] = {nx, c, c};
  for (int i = 0; i < 3; i++) {
    snprintf(what, sizeof what, "gn [%d, %d, %d] groups %d grads %d backward %s", n, c, hw, groups,
             grads, bnames[i]);
    expect_floats(g, bdev[i], bhost[i], bcount[i], what);
  }

  g->free(gx), g->free(gdy), g->free(ggamma), g->free(gbeta), g->free(gy), g->free(gdx);
  g->free(gdgamma), g->free(gdbeta), g->free(gsmean), g->free(gsinv);
  free(x), free(dy), free(gamma), free(beta), free(y), free(dx), free(dgamma), free(dbeta);
  free(smean), free(sinv);
}

Test(cuda_norm, groupnorm_matches_cpu) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->group_norm_forward && g->group_norm_backward, "cuda backend lacks a group norm op");
  for (size_t i = 0; i < sizeof gn_cases / sizeof gn_cases[0]; i++)
    check_gn(g, &gn_cases[i], GRAD_ALL, 50 + i);
}

Test(cuda_norm, groupnorm_backward_skips_null_gradients) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->group_norm_forward && g->group_norm_backward, "cuda backend lacks a group norm op");
  const int subsets[4] = {GRAD_DX, GRAD_DGAMMA, GRAD_DBETA, GRAD_DGAMMA | GRAD_DBETA};
  for (int i = 0; i < 4; i++)
    check_gn(g, &gn_cases[2], subsets[i], 70 + i);
}
