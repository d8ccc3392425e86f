#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/layers/pooling.h"
#include "tests/test_util.h"

typedef struct pool_problem {
  test_env *env;
  maxpool_layer *l;
  tensor *x, *dx;
  int oh, ow;         /* resize target */
  bool align_corners; /* resize mode */
} pool_problem;

static dnl_status maxpool_fwd(void *user, tensor *y) {
  pool_problem *p = user;
  arena_reset(&p->env->act);
  return maxpool_forward(p->l, &p->env->ctx, p->x, y);
}

static dnl_status maxpool_bwd(void *user, const tensor *dy) {
  pool_problem *p = user;
  return maxpool_backward(p->l, &p->env->ctx, p->x, dy, p->dx);
}

static dnl_status resize_fwd(void *user, tensor *y) {
  pool_problem *p = user;
  arena_reset(&p->env->act);
  return resize_forward(&p->env->ctx, p->x, p->oh, p->ow, p->align_corners, y);
}

static dnl_status resize_bwd(void *user, const tensor *dy) {
  pool_problem *p = user;
  return resize_backward(&p->env->ctx, dy, p->align_corners, p->dx);
}

/* Distinct values 0.05 apart in random order, so that a perturbation of 1e-2
 * never changes which element is the maximum of a window. */
static void fill_distinct(rng *r, tensor *x) {
  size_t n = tensor_numel(x);
  for (size_t i = 0; i < n; i++)
    x->data[i] = 0.05f * (float)i - 0.025f * (float)n;
  for (size_t i = n - 1; i > 0; i--) {
    size_t j = (size_t)rng_int(r, 0, (int64_t)i);
    float t = x->data[i];
    x->data[i] = x->data[j];
    x->data[j] = t;
  }
}

Test(maxpool, gradients_ceil_and_floor) {
  static const int shapes[][4] = {{2, 2, 7, 9}, {1, 3, 8, 8}, {1, 2, 9, 7}, {2, 1, 6, 10}};
  for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
    for (int ceil_mode = 0; ceil_mode < 2; ceil_mode++) {
      const int *s = shapes[c];
      test_env env;
      test_env_init(&env, 300 + c);
      maxpool_layer l;
      maxpool_init(&l, 3, 2, 1, ceil_mode);
      tensor x, dx;
      TRY_OK(tensor_alloc(&x, DEVICE_CPU, 4, s));
      TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, s));
      fill_distinct(&env.r, &x);
      pool_problem p = {.env = &env, .l = &l, .x = &x, .dx = &dx};
      gradcheck_problem gp = {&p, maxpool_fwd, maxpool_bwd};
      gradcheck_var vars[1] = {{"x", &x, &dx}};
      char what[64];
      snprintf(what, sizeof what, "maxpool %dx%d ceil %d", s[2], s[3], ceil_mode);
      gradcheck(what, &gp, vars, 1, (gradcheck_opts){.seed = c + 1});
      tensor_free(&x), tensor_free(&dx);
      test_env_free(&env);
    }
}

/* The stem's pooling: 769 -> 385 -> 193 -> 97 needs ceil mode at 193. */
Test(maxpool, output_sizes) {
  static const int cases[][4] = {/* size, ceil, expected */
                                 {193, 1, 97}, {193, 0, 97}, {8, 1, 5}, {8, 0, 4},
                                 {9, 1, 5},    {6, 1, 4},    {6, 0, 3}, {2, 1, 2}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pool_shape s;
    TRY_OK(pool_shape_init(&s, 1, 1, cases[i][0], 5, 3, 2, 1, cases[i][1]));
    cr_assert_eq(s.oh, cases[i][2], "size %d ceil %d: %d, want %d", cases[i][0], cases[i][1],
                 s.oh, cases[i][2]);
  }
}

Test(maxpool, nan_propagates) {
  test_env env;
  test_env_init(&env, 1);
  maxpool_layer l;
  maxpool_init(&l, 3, 2, 1, true);
  tensor x = test_randn4(&env.r, 1, 1, 5, 5, 1.0f), y;
  x.data[6] = NAN;
  TRY_OK(maxpool_forward(&l, &env.ctx, &x, &y));
  size_t bad = 0;
  for (size_t i = 0; i < tensor_numel(&y); i++)
    bad += isnan(y.data[i]);
  cr_assert_eq(bad, 4u, "pixel (1, 1) lies in 4 windows: %zu NaN outputs", bad);
  tensor_free(&x);
  test_env_free(&env);
}

/* Ties go to the first element of a window in row-major order, as in PyTorch. */
Test(maxpool, ties_route_gradient_to_first) {
  test_env env;
  test_env_init(&env, 1);
  maxpool_layer l;
  maxpool_init(&l, 3, 2, 1, true);
  tensor x, dx, y;
  TRY_OK(tensor_alloc(&x, DEVICE_CPU, 4, (const int[4]){1, 1, 5, 5}));
  TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
  TRY_OK(maxpool_forward(&l, &env.ctx, &x, &y));
  cr_assert_eq(y.shape[2], 3);
  tensor dy;
  TRY_OK(tensor_alloc(&dy, DEVICE_CPU, 4, y.shape));
  for (int i = 0; i < 9; i++)
    dy.data[i] = 1.0f;
  TRY_OK(maxpool_backward(&l, &env.ctx, &x, &dy, &dx));
  /* windows start at rows/columns -1, 1, 3: their first valid ones are 0, 1, 3 */
  for (int r = 0; r < 5; r++)
    for (int c = 0; c < 5; c++) {
      const bool first = (r == 0 || r == 1 || r == 3) && (c == 0 || c == 1 || c == 3);
      cr_assert_eq(dx.data[r * 5 + c], first ? 1.0f : 0.0f, "dx at (%d, %d)", r, c);
    }
  tensor_free(&x), tensor_free(&dx), tensor_free(&dy);
  test_env_free(&env);
}

typedef struct resize_case {
  int n, c, h, w, oh, ow;
} resize_case;

Test(resize, gradients_up_down_both_modes) {
  static const resize_case cases[] = {
      {2, 2, 5, 7, 11, 13}, {1, 2, 4, 5, 25, 33}, {1, 3, 9, 11, 4, 6},
      {1, 2, 7, 6, 3, 10},  {1, 1, 6, 5, 1, 3},   {1, 2, 3, 1, 8, 1},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int align = 0; align < 2; align++) {
      const resize_case *rc = &cases[c];
      test_env env;
      test_env_init(&env, 400 + c);
      tensor x = test_randn4(&env.r, rc->n, rc->c, rc->h, rc->w, 1.0f), dx;
      TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
      pool_problem p = {.env = &env, .x = &x, .dx = &dx, .oh = rc->oh, .ow = rc->ow,
                        .align_corners = align};
      gradcheck_problem gp = {&p, resize_fwd, resize_bwd};
      gradcheck_var vars[1] = {{"x", &x, &dx}};
      char what[96];
      snprintf(what, sizeof what, "resize %dx%d -> %dx%d align_corners %d", rc->h, rc->w,
               rc->oh, rc->ow, align);
      gradcheck(what, &gp, vars, 1, (gradcheck_opts){.seed = c + 1});
      tensor_free(&x), tensor_free(&dx);
      test_env_free(&env);
    }
}

/* align_corners=true maps corners onto corners: a (97-1)*8+1 upsampling keeps
 * every input value at stride 8, as the heads' 97 -> 769 upsampling does. */
Test(resize, aligned_corners_hit_input_pixels) {
  test_env env;
  test_env_init(&env, 5);
  tensor x = test_randn4(&env.r, 1, 1, 4, 3, 1.0f), y;
  TRY_OK(resize_forward(&env.ctx, &x, 25, 17, true, &y));
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 3; j++)
      cr_assert_float_eq(y.data[(i * 8) * 17 + j * 8], x.data[i * 3 + j], 1e-6);
  tensor_free(&x);
  test_env_free(&env);
}

static h5io_array load(const char *group, const char *leaf, size_t n) {
  char ds[128];
  snprintf(ds, sizeof ds, "%s/%s", group, leaf);
  return fixture_floats("layers.h5", ds, n);
}

static void check_fixture(const char *name, bool is_pool) {
  char ds[128];
  h5io_array meta;
  snprintf(ds, sizeof ds, "%s/geometry", name);
  TRY_OK(h5io_read_int(fixture_path("layers.h5"), ds, &meta));
  const int32_t *g = meta.data; /* pool: n c h w k s p ceil; resize: n c h w oh ow align */
  test_env env;
  test_env_init(&env, 1);
  const size_t nx = (size_t)g[0] * g[1] * g[2] * g[3];
  h5io_array fx = load(name, "x", nx);
  tensor x = tensor_view4(fx.data, DEVICE_CPU, g[0], g[1], g[2], g[3]), y, dx;
  maxpool_layer l;
  if (is_pool) {
    maxpool_init(&l, g[4], g[5], g[6], g[7]);
    TRY_OK(maxpool_forward(&l, &env.ctx, &x, &y));
  } else {
    TRY_OK(resize_forward(&env.ctx, &x, g[4], g[5], g[6], &y));
  }
  const size_t ny = tensor_numel(&y);
  h5io_array fy = load(name, "y", ny), fdy = load(name, "dy", ny), fdx = load(name, "dx", nx);
  ASSERT_CLOSE(y.data, (float *)fy.data, ny, 1e-6, 1e-5, name);
  tensor dy = tensor_view(fdy.data, DEVICE_CPU, 4, y.shape);
  TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
  for (size_t i = 0; i < nx; i++) /* backward accumulates onto what is there */
    dx.data[i] = 1.0f;
  if (is_pool)
    TRY_OK(maxpool_backward(&l, &env.ctx, &x, &dy, &dx));
  else
    TRY_OK(resize_backward(&env.ctx, &dy, g[6], &dx));
  for (size_t i = 0; i < nx; i++)
    dx.data[i] -= 1.0f;
  ASSERT_CLOSE(dx.data, (float *)fdx.data, nx, 1e-5, 1e-4, name);
  tensor_free(&dx);
  h5io_array_free(&fx), h5io_array_free(&fy), h5io_array_free(&fdy), h5io_array_free(&fdx);
  h5io_array_free(&meta);
  test_env_free(&env);
}

Test(maxpool, matches_pytorch) {
  static const char *names[] = {"maxpool_9x7_ceil", "maxpool_8x8_ceil", "maxpool_8x8_floor",
                                "maxpool_6x10_ceil"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    check_fixture(names[i], true);
}

Test(resize, matches_pytorch) {
  static const char *names[] = {"resize_up_aligned",     "resize_up_x8_aligned",
                                "resize_up_half_pixel",  "resize_down_aligned",
                                "resize_down_half_pixel", "resize_to_one_row_aligned"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    check_fixture(names[i], false);
}

static void assert_error(dnl_status got, dnl_status want, const char *a, const char *b) {
  const char *msg = dnl_last_error();
  cr_assert_eq(got, want, "status %s, want %s (%s)", dnl_status_name(got),
               dnl_status_name(want), msg);
  cr_assert(strstr(msg, a) != NULL, "message lacks '%s': %s", a, msg);
  cr_assert(!b || strstr(msg, b) != NULL, "message lacks '%s': %s", b, msg);
}

Test(pooling, rejects_bad_input) {
  test_env env;
  test_env_init(&env, 1);
  maxpool_layer l;
  maxpool_init(&l, 3, 2, 1, true);
  tensor x = test_randn4(&env.r, 1, 2, 7, 7, 1.0f), y;
  tensor v = test_randn(&env.r, 3, (const int[3]){2, 7, 7}, 1.0f);
  assert_error(maxpool_forward(&l, &env.ctx, &v, &y), DNL_ERR_SHAPE, "maxpool", "[2, 7, 7]");
  assert_error(maxpool_forward(&l, &env.ctx, NULL, &y), DNL_ERR_ARG, "maxpool", "NULL");
  maxpool_layer bad;
  maxpool_init(&bad, 3, 0, 1, true);
  assert_error(maxpool_forward(&bad, &env.ctx, &x, &y), DNL_ERR_ARG, "maxpool", "stride=0");
  TRY_OK(maxpool_forward(&l, &env.ctx, &x, &y));
  assert_error(maxpool_backward(&l, &env.ctx, &x, &x, NULL), DNL_ERR_SHAPE, "maxpool",
               "[1, 2, 4, 4]");
  maxpool_layer fresh;
  maxpool_init(&fresh, 3, 2, 1, true);
  assert_error(maxpool_backward(&fresh, &env.ctx, &x, &y, NULL), DNL_ERR_ARG, "maxpool",
               "without a forward");

  assert_error(resize_forward(&env.ctx, &x, 0, 5, true, &y), DNL_ERR_ARG, "resize", "0x5");
  assert_error(resize_forward(&env.ctx, &v, 4, 5, true, &y), DNL_ERR_SHAPE, "resize",
               "[2, 7, 7]");
  tensor dx = test_randn4(&env.r, 1, 3, 7, 7, 1.0f);
  TRY_OK(resize_forward(&env.ctx, &x, 9, 9, false, &y));
  assert_error(resize_backward(&env.ctx, &y, false, &dx), DNL_ERR_SHAPE, "resize",
               "[1, 3, 7, 7]");
  tensor_free(&x), tensor_free(&v), tensor_free(&dx);
  test_env_free(&env);
}
