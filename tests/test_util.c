#include "tests/test_util.h"

#include <math.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void test_env_init(test_env *env, uint64_t seed) {
  memset(env, 0, sizeof *env);
  params_init(&env->ps);
  env->seed = seed;
  rng_seed(&env->r, seed);
  TRY_OK(arena_init(&env->act, cpu_backend(), 1 << 20));
  layer_ctx_init(&env->ctx, cpu_backend(), &env->act, &env->r);
  env->ctx.training = true;
}

void test_env_free(test_env *env) {
  layer_ctx_free(&env->ctx);
  arena_free(&env->act);
  params_free(&env->ps);
}

void test_env_finalize(test_env *env, float scale) {
  TRY_OK(params_finalize(&env->ps, cpu_backend()));
  TRY_OK(params_init_values(&env->ps, env->seed));
  if (scale > 0)
    test_fill_randn(&env->r, env->ps.values, env->ps.total, scale);
}

void test_fill_randn(rng *r, float *x, size_t n, float scale) {
  for (size_t i = 0; i < n; i++)
    x[i] = (float)(rng_normal(r) * scale);
}

tensor test_randn(rng *r, int ndim, const int *shape, float scale) {
  tensor t;
  TRY_OK(tensor_alloc(&t, DEVICE_CPU, ndim, shape));
  test_fill_randn(r, t.data, tensor_numel(&t), scale);
  return t;
}

tensor test_randn4(rng *r, int n, int c, int h, int w, float scale) {
  int shape[4] = {n, c, h, w};
  return test_randn(r, 4, shape, scale);
}

double test_close_ratio(const float *a, const float *b, size_t n, double atol, double rtol) {
  double worst = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    double r = d / (atol + rtol * fabs((double)b[i]));
    if (!(r <= worst)) /* also catches NaN */
      worst = isnan(r) ? INFINITY : r;
  }
  return worst;
}

static double weighted_sum(const tensor *y, const float *dy) {
  double s = 0.0;
  size_t n = tensor_numel(y);
  for (size_t i = 0; i < n; i++)
    s += (double)y->data[i] * (double)dy[i];
  return s;
}

static double eval_loss(const gradcheck_problem *p, const float *dy, size_t n) {
  tensor y;
  TRY_OK(p->forward(p->user, &y));
  cr_assert(tensor_numel(&y) == n, "gradcheck: output size changed");
  return weighted_sum(&y, dy);
}

void gradcheck(const char *what, const gradcheck_problem *p, gradcheck_var *vars, int nvars,
               gradcheck_opts o) {
  double eps = o.eps > 0 ? o.eps : 1e-2;
  double atol = o.atol > 0 ? o.atol : 2e-3;
  double rtol = o.rtol > 0 ? o.rtol : 2e-2;
  rng r;
  rng_seed(&r, o.seed ? o.seed : 12345);

  tensor y;
  TRY_OK(p->forward(p->user, &y));
  size_t ny = tensor_numel(&y);
  float *dy_data = malloc(ny * sizeof(float));
  cr_assert(dy_data);
  test_fill_randn(&r, dy_data, ny, 1.0f);
  tensor dy = tensor_view(dy_data, DEVICE_CPU, y.ndim, y.shape);
  for (int v = 0; v < nvars; v++)
    memset(vars[v].grad->data, 0, tensor_numel(vars[v].grad) * sizeof(float));
  TRY_OK(p->backward(p->user, &dy));

  for (int v = 0; v < nvars; v++) {
    size_t n = tensor_numel(vars[v].value);
    float *analytic = malloc(n * sizeof(float));
    cr_assert(analytic);
    memcpy(analytic, vars[v].grad->data, n * sizeof(float));
    size_t checks = (o.max_elems > 0 && (size_t)o.max_elems < n) ? (size_t)o.max_elems : n;
    for (size_t c = 0; c < checks; c++) {
      size_t i = checks == n ? c : (size_t)rng_int(&r, 0, (int64_t)n - 1);
      float *x = &vars[v].value->data[i];
      float saved = *x;
      *x = (float)(saved + eps);
      double lp = eval_loss(p, dy_data, ny);
      *x = (float)(saved - eps);
      double lm = eval_loss(p, dy_data, ny);
      *x = saved;
      double numeric = (lp - lm) / (2 * eps);
      double diff = fabs(numeric - analytic[i]);
      cr_assert(diff <= atol + rtol * fabs(numeric),
                "%s: d/d %s[%zu]: analytic %.6g numeric %.6g (diff %.3g)", what,
                vars[v].name, i, (double)analytic[i], numeric, diff);
    }
    free(analytic);
  }
  free(dy_data);
}

const char *fixture_path(const char *file) {
  static _Thread_local char buf[512];
  const char *dir = getenv("DNL_FIXTURES");
  snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "tests/fixtures", file);
  return buf;
}

h5io_array fixture_floats(const char *file, const char *name, size_t expect_numel) {
  h5io_array a;
  TRY_OK(h5io_read_float(fixture_path(file), name, &a));
  cr_assert(a.numel == expect_numel, "fixture %s:%s has %zu values, expected %zu", file, name,
            a.numel, expect_numel);
  return a;
}

int test_run_program(const char *dir, const char *cmdline, char **out, char **err) {
  static char out_buf[65536], err_buf[65536];
  const char *bin = getenv("DNL_BIN") ? getenv("DNL_BIN") : "bin";
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "%s/%s > %s/stdout.txt 2> %s/stderr.txt", bin, cmdline, dir, dir);
  int status = system(cmd);
  cr_assert(status != -1 && WIFEXITED(status), "cannot run %s", cmd);
  char path[512];
  char *bufs[2] = {out_buf, err_buf};
  const char *files[2] = {"stdout.txt", "stderr.txt"};
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    FILE *f = fopen(path, "r");
    cr_assert(f, "no %s", path);
    size_t n = fread(bufs[i], 1, sizeof out_buf - 1, f);
    bufs[i][n] = '\0';
    fclose(f);
  }
  *out = out_buf;
  *err = err_buf;
  return WEXITSTATUS(status);
}

void test_assert_png(const char *path, int w, int h) {
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  unsigned char head[24];
  FILE *f = fopen(path, "rb");
  cr_assert(f, "%s missing", path);
  size_t n = fread(head, 1, sizeof head, f);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  cr_assert(n == sizeof head && memcmp(head, sig, 8) == 0, "%s is not a PNG", path);
  cr_assert(memcmp(head + 12, "IHDR", 4) == 0, "%s has no IHDR first", path);
  int pw = (head[16] << 24) | (head[17] << 16) | (head[18] << 8) | head[19];
  int ph = (head[20] << 24) | (head[21] << 16) | (head[22] << 8) | head[23];
  if (w > 0)
    cr_assert(pw == w && ph == h, "%s is %d x %d, expected %d x %d", path, pw, ph, w, h);
  cr_assert(size > 1000, "%s is suspiciously small (%ld bytes)", path, size);
}

void test_assert_params_close(const param_store *ps, const float *a, const float *b, double rel,
                              const char *what) {
  for (int i = 0; i < ps->count; i++) {
    const param_entry *e = &ps->entries[i];
    double scale = 0.0, worst = 0.0;
    for (size_t j = 0; j < e->numel; j++) {
      scale = fmax(scale, fabs(a[e->offset + j]));
      worst = fmax(worst, fabs((double)a[e->offset + j] - b[e->offset + j]));
    }
    cr_assert(worst <= rel * scale + 1e-9, "%s %s: differs by %g, its largest value is %g",
              what, e->name, worst, scale);
  }
}

const char *test_runner_bin(void) {
  static char path[512];
  const char *bin = getenv("DNL_BIN");
  cr_assert_not_null(bin, "DNL_BIN is not set (run the tests through make test)");
  snprintf(path, sizeof path, "%s/runner", bin);
  return path;
}

void test_read_text(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "cannot read %s", path);
  size_t n = fread(buf, 1, len - 1, f);
  buf[n] = '\0';
  fclose(f);
}

int test_runner_vrun(const char *dir, char *out, size_t out_len, char *err, size_t err_len,
                     const char *fmt, va_list ap) {
  char args[4096], cmd[8192], out_path[512], err_path[512];
  vsnprintf(args, sizeof args, fmt, ap);
  snprintf(out_path, sizeof out_path, "%s/stdout.txt", dir);
  snprintf(err_path, sizeof err_path, "%s/stderr.txt", dir);
  snprintf(cmd, sizeof cmd, "%s %s > %s 2> %s", test_runner_bin(), args, out_path, err_path);
  int st = system(cmd);
  cr_assert(st != -1 && WIFEXITED(st), "could not run: %s", cmd);
  test_read_text(out_path, out, out_len);
  test_read_text(err_path, err, err_len);
  return WEXITSTATUS(st);
}
