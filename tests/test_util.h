/* Shared test helpers: random data, finite-difference gradient checks, and
 * fixtures produced by tests/reference/make_fixtures.py (PyTorch). */
#ifndef DNL_TEST_UTIL_H
#define DNL_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>

#include "lib/core/arena.h"
#include "lib/store/h5io.h"
#include "lib/layers/layer.h"
#include "lib/core/params.h"

/* Fails the current test with dnl_last_error() when the status is not OK. */
#define TRY_OK(expr)                                                                  \
  do {                                                                                \
    dnl_status try_ok_s_ = (expr);                                                    \
    cr_assert(try_ok_s_ == DNL_OK, "%s -> %s: %s", #expr, dnl_status_name(try_ok_s_), \
              dnl_last_error());                                                      \
  } while (0)

/* A CPU environment for one layer test: params, arena, ctx, rng. */
typedef struct test_env {
  param_store ps;
  arena act;
  layer_ctx ctx;
  rng r;
  uint64_t seed; /* of r and of params_init_values */
} test_env;

void test_env_init(test_env *env, uint64_t seed);
void test_env_free(test_env *env);
/* params_finalize + fill every value with N(0, 1) * scale (or init rules when scale 0) */
void test_env_finalize(test_env *env, float scale);

/* An owning CPU tensor of N(0,1) * scale values. */
tensor test_randn(rng *r, int ndim, const int *shape, float scale);
tensor test_randn4(rng *r, int n, int c, int h, int w, float scale);
void test_fill_randn(rng *r, float *x, size_t n, float scale);

/* Max |a - b| / (atol + rtol * |b|) over n elements; <= 1 means close. */
double test_close_ratio(const float *a, const float *b, size_t n, double atol, double rtol);
#define ASSERT_CLOSE(a, b, n, atol, rtol, what)                                         \
  do {                                                                                \
    double close_r_ = test_close_ratio((a), (b), (n), (atol), (rtol));                  \
    cr_assert(close_r_ <= 1.0, "%s: not close (ratio %.3g, atol %g rtol %g)", (what),   \
              close_r_, (double)(atol), (double)(rtol));                                \
  } while (0)

/* ---- finite-difference gradient check ----
 * The problem computes y = f(vars) (forward) and accumulates d(sum(y * dy))/d var
 * into each var's grad (backward). The check draws a random dy, compares the
 * analytic gradient with central differences of L = sum(y * dy) (accumulated in
 * double) for every element (or max_elems random ones per var). */
typedef struct gradcheck_var {
  const char *name;
  tensor *value;
  tensor *grad; /* zeroed by the check before backward */
} gradcheck_var;

typedef struct gradcheck_problem {
  void *user;
  /* must be deterministic (reseed any rng inside) and reset the arena itself */
  dnl_status (*forward)(void *user, tensor *y);
  dnl_status (*backward)(void *user, const tensor *dy);
} gradcheck_problem;

typedef struct gradcheck_opts {
  double eps;       /* default 1e-2 */
  double atol;      /* default 2e-3 */
  double rtol;      /* default 2e-2 */
  int max_elems;    /* per var, 0 = all */
  uint64_t seed;
} gradcheck_opts;

/* Asserts (through Criterion) that analytic and numeric gradients agree. */
void gradcheck(const char *what, const gradcheck_problem *p, gradcheck_var *vars, int nvars,
               gradcheck_opts opts);

/* Per parameter tensor of ps: max |a - b| within rel times the tensor's largest
 * |a|, plus a floor of 1e-9 for tensors whose true gradient is 0 (rounding noise
 * only moves them); a and b are whole value buffers laid out as ps. */
void test_assert_params_close(const param_store *ps, const float *a, const float *b, double rel,
                              const char *what);

/* ---- the programs ---- */
/* Runs "$DNL_BIN/<cmdline>" (a shell command line: globs expand) with stdout and
 * stderr into files under dir; returns the exit status, the outputs in out/err
 * (static buffers, valid until the next call). */
int test_run_program(const char *dir, const char *cmdline, char **out, char **err);
/* "$DNL_BIN/runner" (a static buffer); fails the test when DNL_BIN is not set. */
const char *test_runner_bin(void);
/* The text of a file into buf (at most len - 1 bytes, NUL-terminated). */
void test_read_text(const char *path, char *buf, size_t len);
/* Runs `runner ARGS` (ARGS from fmt and ap) to completion with its stdout and
 * stderr in dir/stdout.txt and dir/stderr.txt, read back into out and err;
 * returns the exit status (a run that cannot start fails the test). */
int test_runner_vrun(const char *dir, char *out, size_t out_len, char *err, size_t err_len,
                     const char *fmt, va_list ap);
/* Asserts that path is a PNG of w x h pixels (signature and IHDR; w <= 0: any size). */
void test_assert_png(const char *path, int w, int h);

/* ---- fixtures ---- */
/* Path of tests/fixtures/<file> (from the source tree). */
const char *fixture_path(const char *file);
/* Loads a float dataset and checks its element count. */
h5io_array fixture_floats(const char *file, const char *name, size_t expect_numel);

#endif
