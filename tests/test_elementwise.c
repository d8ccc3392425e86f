#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/layers/elementwise.h"
#include "tests/test_util.h"

/* Inputs a, b (b unused by one-input layers) and their gradients. */
typedef struct ew_problem {
  test_env *env;
  tensor *a, *b, *da, *db;
  tensor y; /* last forward's output (relu and softmax backward take it) */
} ew_problem;

static dnl_status relu_fwd(void *user, tensor *y) {
  ew_problem *p = user;
  arena_reset(&p->env->act);
  DNL_TRY(relu_forward(&p->env->ctx, p->a, y));
  p->y = *y;
  return DNL_OK;
}

static dnl_status relu_inplace_fwd(void *user, tensor *y) {
  ew_problem *p = user;
  arena_reset(&p->env->act);
  DNL_TRY(arena_tensor(&p->env->act, y, p->a->ndim, p->a->shape));
  memcpy(y->data, p->a->data, tensor_numel(p->a) * sizeof(float));
  DNL_TRY(relu_forward_inplace(&p->env->ctx, y));
  p->y = *y;
  return DNL_OK;
}

static dnl_status relu_bwd(void *user, const tensor *dy) {
  ew_problem *p = user;
  return relu_backward(&p->env->ctx, &p->y, dy, p->da);
}

static dnl_status add_fwd(void *user, tensor *y) {
  ew_problem *p = user;
  arena_reset(&p->env->act);
  return add_forward(&p->env->ctx, p->a, p->b, y);
}

static dnl_status add_bwd(void *user, const tensor *dy) {
  ew_problem *p = user;
  return add_backward(&p->env->ctx, dy, p->da, p->db);
}

static dnl_status concat_fwd(void *user, tensor *y) {
  ew_problem *p = user;
  arena_reset(&p->env->act);
  return concat_forward(&p->env->ctx, p->a, p->b, y);
}

static dnl_status concat_bwd(void *user, const tensor *dy) {
  ew_problem *p = user;
  return concat_backward(&p->env->ctx, dy, p->da, p->db);
}

static dnl_status softmax_fwd(void *user, tensor *y) {
  ew_problem *p = user;
  arena_reset(&p->env->act);
  DNL_TRY(softmax_forward(&p->env->ctx, p->a, y));
  p->y = *y;
  return DNL_OK;
}

static dnl_status softmax_bwd(void *user, const tensor *dy) {
  ew_problem *p = user;
  return softmax_backward(&p->env->ctx, &p->y, dy, p->da);
}

/* Runs a gradient check of a one- or two-input layer on fresh random inputs. */
static void check_layer(const char *what, const int *shape_a, const int *shape_b,
                        dnl_status (*fwd)(void *, tensor *),
                        dnl_status (*bwd)(void *, const tensor *), bool away_from_zero,
                        uint64_t seed) {
  test_env env;
  test_env_init(&env, seed);
  tensor a = test_randn(&env.r, 4, shape_a, 1.0f), da, b = {0}, db = {0};
  if (away_from_zero) /* ReLU's kink: keep every |x| >= 0.1 > eps */
    for (size_t i = 0; i < tensor_numel(&a); i++)
      a.data[i] = copysignf(fabsf(a.data[i]) + 0.1f, a.data[i]);
  TRY_OK(tensor_alloc(&da, DEVICE_CPU, 4, shape_a));
  if (shape_b) {
    b = test_randn(&env.r, 4, shape_b, 1.0f);
    TRY_OK(tensor_alloc(&db, DEVICE_CPU, 4, shape_b));
  }
  ew_problem p = {.env = &env, .a = &a, .b = &b, .da = &da, .db = &db};
  gradcheck_problem gp = {&p, fwd, bwd};
  gradcheck_var vars[2] = {{"a", &a, &da}, {"b", &b, &db}};
  gradcheck(what, &gp, vars, shape_b ? 2 : 1, (gradcheck_opts){.seed = seed});
  tensor_free(&a), tensor_free(&da), tensor_free(&b), tensor_free(&db);
  test_env_free(&env);
}

Test(elementwise, gradients) {
  const int s[4] = {2, 3, 5, 7}, s2[4] = {2, 2, 5, 7}, odd[4] = {1, 5, 3, 1},
            odd2[4] = {1, 2, 3, 1};
  check_layer("relu", s, NULL, relu_fwd, relu_bwd, true, 1);
  check_layer("relu in place", odd, NULL, relu_inplace_fwd, relu_bwd, true, 2);
  check_layer("add", s, s, add_fwd, add_bwd, false, 3);
  check_layer("concat", s, s2, concat_fwd, concat_bwd, false, 4);
  check_layer("concat odd", odd, odd2, concat_fwd, concat_bwd, false, 5);
  check_layer("softmax", s, NULL, softmax_fwd, softmax_bwd, false, 6);
  check_layer("softmax odd", odd, NULL, softmax_fwd, softmax_bwd, false, 7);
}

static h5io_array load(const char *group, const char *leaf, size_t n) {
  char ds[128];
  snprintf(ds, sizeof ds, "%s/%s", group, leaf);
  return fixture_floats("layers.h5", ds, n);
}

static tensor zeros_like(const tensor *t) {
  tensor z;
  TRY_OK(tensor_alloc(&z, DEVICE_CPU, t->ndim, t->shape));
  return z;
}

Test(elementwise, relu_matches_pytorch) {
  test_env env;
  test_env_init(&env, 1);
  const size_t n = 120;
  h5io_array fx = load("relu", "x", n), fy = load("relu", "y", n);
  h5io_array fdy = load("relu", "dy", n), fdx = load("relu", "dx", n);
  tensor x = tensor_view4(fx.data, DEVICE_CPU, 2, 3, 4, 5);
  tensor dy = tensor_view4(fdy.data, DEVICE_CPU, 2, 3, 4, 5);
  tensor y, dx = zeros_like(&x);
  TRY_OK(relu_forward(&env.ctx, &x, &y));
  ASSERT_CLOSE(y.data, (float *)fy.data, n, 1e-7, 0, "relu y");
  TRY_OK(relu_backward(&env.ctx, &y, &dy, &dx));
  ASSERT_CLOSE(dx.data, (float *)fdx.data, n, 1e-7, 0, "relu dx");
  /* in place gives the same and backward accumulates */
  TRY_OK(relu_forward_inplace(&env.ctx, &x));
  ASSERT_CLOSE(x.data, (float *)fy.data, n, 1e-7, 0, "relu in place");
  TRY_OK(relu_backward(&env.ctx, &x, &dy, &dx));
  for (size_t i = 0; i < n; i++)
    cr_assert_float_eq(dx.data[i], 2.0f * ((float *)fdx.data)[i], 1e-6);
  tensor_free(&dx);
  h5io_array_free(&fx), h5io_array_free(&fy), h5io_array_free(&fdy), h5io_array_free(&fdx);
  test_env_free(&env);
}

Test(elementwise, concat_matches_pytorch) {
  test_env env;
  test_env_init(&env, 1);
  h5io_array fa = load("cat", "a", 120), fb = load("cat", "b", 80), fy = load("cat", "y", 200);
  h5io_array fdy = load("cat", "dy", 200), fda = load("cat", "da", 120);
  h5io_array fdb = load("cat", "db", 80);
  tensor a = tensor_view4(fa.data, DEVICE_CPU, 2, 3, 4, 5);
  tensor b = tensor_view4(fb.data, DEVICE_CPU, 2, 2, 4, 5);
  tensor dy = tensor_view4(fdy.data, DEVICE_CPU, 2, 5, 4, 5);
  tensor y, da = zeros_like(&a), db = zeros_like(&b);
  TRY_OK(concat_forward(&env.ctx, &a, &b, &y));
  cr_assert_eq(y.shape[1], 5);
  ASSERT_CLOSE(y.data, (float *)fy.data, 200, 1e-7, 0, "cat y");
  TRY_OK(concat_backward(&env.ctx, &dy, &da, &db));
  ASSERT_CLOSE(da.data, (float *)fda.data, 120, 1e-7, 0, "cat da");
  ASSERT_CLOSE(db.data, (float *)fdb.data, 80, 1e-7, 0, "cat db");
  /* either gradient alone, accumulating */
  TRY_OK(concat_backward(&env.ctx, &dy, NULL, &db));
  TRY_OK(concat_backward(&env.ctx, &dy, &da, NULL));
  for (size_t i = 0; i < 120; i++)
    cr_assert_float_eq(da.data[i], 2.0f * ((float *)fda.data)[i], 1e-6);
  for (size_t i = 0; i < 80; i++)
    cr_assert_float_eq(db.data[i], 2.0f * ((float *)fdb.data)[i], 1e-6);
  tensor_free(&da), tensor_free(&db);
  h5io_array *all[] = {&fa, &fb, &fy, &fdy, &fda, &fdb};
  for (size_t i = 0; i < 6; i++)
    h5io_array_free(all[i]);
  test_env_free(&env);
}

Test(elementwise, softmax_matches_pytorch) {
  test_env env;
  test_env_init(&env, 1);
  const size_t n = 120;
  h5io_array fx = load("softmax", "x", n), fy = load("softmax", "y", n);
  h5io_array fdy = load("softmax", "dy", n), fdx = load("softmax", "dx", n);
  tensor x = tensor_view4(fx.data, DEVICE_CPU, 2, 5, 3, 4);
  tensor dy = tensor_view4(fdy.data, DEVICE_CPU, 2, 5, 3, 4);
  tensor y, dx = zeros_like(&x);
  TRY_OK(softmax_forward(&env.ctx, &x, &y));
  ASSERT_CLOSE(y.data, (float *)fy.data, n, 1e-7, 1e-5, "softmax y");
  TRY_OK(softmax_backward(&env.ctx, &y, &dy, &dx));
  ASSERT_CLOSE(dx.data, (float *)fdx.data, n, 1e-6, 1e-4, "softmax dx");
  tensor_free(&dx);
  h5io_array_free(&fx), h5io_array_free(&fy), h5io_array_free(&fdy), h5io_array_free(&fdx);
  test_env_free(&env);
}

Test(elementwise, add_sums_and_accumulates) {
  test_env env;
  test_env_init(&env, 3);
  tensor a = test_randn4(&env.r, 2, 3, 4, 5, 1.0f), b = test_randn4(&env.r, 2, 3, 4, 5, 1.0f);
  tensor y;
  TRY_OK(add_forward(&env.ctx, &a, &b, &y));
  for (size_t i = 0; i < tensor_numel(&a); i++)
    cr_assert_eq(y.data[i], a.data[i] + b.data[i]);
  tensor da = zeros_like(&a);
  TRY_OK(add_backward(&env.ctx, &b, &da, NULL));
  TRY_OK(add_backward(&env.ctx, &a, &da, NULL));
  ASSERT_CLOSE(da.data, y.data, tensor_numel(&a), 1e-7, 0, "add accumulates");
  tensor_free(&a), tensor_free(&b), tensor_free(&da);
  test_env_free(&env);
}

static void assert_error(dnl_status got, dnl_status want, const char *a, const char *b) {
  const char *msg = dnl_last_error();
  cr_assert_eq(got, want, "status %s, want %s (%s)", dnl_status_name(got),
               dnl_status_name(want), msg);
  cr_assert(strstr(msg, a) != NULL, "message lacks '%s': %s", a, msg);
  cr_assert(!b || strstr(msg, b) != NULL, "message lacks '%s': %s", b, msg);
}

Test(elementwise, rejects_bad_input) {
  test_env env;
  test_env_init(&env, 1);
  tensor a = test_randn4(&env.r, 2, 3, 4, 5, 1.0f), b = test_randn4(&env.r, 2, 3, 4, 6, 1.0f);
  tensor y, v = test_randn(&env.r, 1, (const int[1]){7}, 1.0f);
  assert_error(add_forward(&env.ctx, &a, &b, &y), DNL_ERR_SHAPE, "[2, 3, 4, 5]",
               "[2, 3, 4, 6]");
  assert_error(add_forward(&env.ctx, &a, NULL, &y), DNL_ERR_ARG, "add", "NULL");
  assert_error(add_backward(&env.ctx, &a, &b, NULL), DNL_ERR_SHAPE, "add", "[2, 3, 4, 6]");
  assert_error(relu_forward(&env.ctx, NULL, &y), DNL_ERR_ARG, "relu", "NULL");
  assert_error(relu_backward(&env.ctx, &a, &b, NULL), DNL_ERR_SHAPE, "relu", "[2, 3, 4, 6]");
  assert_error(concat_forward(&env.ctx, &a, &b, &y), DNL_ERR_SHAPE, "concat",
               "[2, 3, 4, 6]");
  assert_error(concat_forward(&env.ctx, &a, &v, &y), DNL_ERR_SHAPE, "concat", "[7]");
  tensor wide = test_randn4(&env.r, 2, 4, 4, 5, 1.0f);
  assert_error(concat_backward(&env.ctx, &a, &wide, NULL), DNL_ERR_SHAPE, "concat",
               "[2, 4, 4, 5]");
  assert_error(concat_backward(&env.ctx, &wide, &a, &a), DNL_ERR_SHAPE, "concat",
               "[2, 3, 4, 5]");
  assert_error(softmax_forward(&env.ctx, &v, &y), DNL_ERR_SHAPE, "softmax", "[7]");
  assert_error(softmax_backward(&env.ctx, &a, &b, NULL), DNL_ERR_SHAPE, "softmax",
               "[2, 3, 4, 6]");
  tensor_free(&a), tensor_free(&b), tensor_free(&v), tensor_free(&wide);
  test_env_free(&env);
}
