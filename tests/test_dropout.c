#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/layers/dropout.h"
#include "tests/test_util.h"

typedef struct drop_problem {
  test_env *env;
  dropout2d_layer *l;
  tensor *x, *dx;
  uint64_t seed;
} drop_problem;

/* Reseeds the rng so that every forward of the check draws the same mask. */
static dnl_status drop_fwd(void *user, tensor *y) {
  drop_problem *p = user;
  arena_reset(&p->env->act);
  rng_seed(&p->env->r, p->seed);
  return dropout2d_forward(p->l, &p->env->ctx, p->x, y);
}

static dnl_status drop_bwd(void *user, const tensor *dy) {
  drop_problem *p = user;
  return dropout2d_backward(p->l, &p->env->ctx, dy, p->dx);
}

Test(dropout2d, gradients) {
  for (int training = 0; training < 2; training++) {
    test_env env;
    test_env_init(&env, 11);
    env.ctx.training = training;
    dropout2d_layer l;
    TRY_OK(dropout2d_init(&l, 0.5f));
    tensor x = test_randn4(&env.r, 3, 4, 3, 5, 1.0f), dx;
    TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
    drop_problem p = {&env, &l, &x, &dx, 99};
    gradcheck_problem gp = {&p, drop_fwd, drop_bwd};
    gradcheck_var vars[1] = {{"x", &x, &dx}};
    gradcheck(training ? "dropout2d train" : "dropout2d eval", &gp, vars, 1,
              (gradcheck_opts){.seed = 3});
    if (training) { /* the check must have seen dropped and kept channels */
      int dropped = 0;
      for (int i = 0; i < 12; i++)
        dropped += l.scale.data[i] == 0.0f;
      cr_assert(dropped > 0 && dropped < 12, "%d of 12 channels dropped", dropped);
    }
    tensor_free(&x), tensor_free(&dx);
    test_env_free(&env);
  }
}

/* Whole channels are zeroed with probability p, the others scaled by 1/(1-p). */
Test(dropout2d, statistics_and_scaling) {
  test_env env;
  test_env_init(&env, 5);
  const float p = 0.1f;
  dropout2d_layer l;
  TRY_OK(dropout2d_init(&l, p));
  const int n = 8, c = 512, hw = 6;
  tensor x;
  TRY_OK(tensor_alloc(&x, DEVICE_CPU, 4, (const int[4]){n, c, 2, 3}));
  for (size_t i = 0; i < tensor_numel(&x); i++)
    x.data[i] = 1.0f + (float)(i % 7);
  tensor y;
  TRY_OK(dropout2d_forward(&l, &env.ctx, &x, &y));
  cr_assert(l.applied);
  const float keep = 1.0f / (1.0f - p);
  int dropped = 0;
  double sum_x = 0.0, sum_y = 0.0;
  for (int ch = 0; ch < n * c; ch++) {
    const bool zero = y.data[(size_t)ch * hw] == 0.0f;
    dropped += zero;
    for (int i = 0; i < hw; i++) {
      const size_t at = (size_t)ch * hw + i;
      const float want = zero ? 0.0f : x.data[at] * keep;
      cr_assert_eq(y.data[at], want, "channel %d element %d: %g, want %g", ch, i,
                   (double)y.data[at], (double)want);
      sum_x += x.data[at];
      sum_y += y.data[at];
    }
  }
  /* 4096 channels: the dropped fraction has standard deviation 0.0047 */
  const double frac = (double)dropped / (n * c);
  cr_assert(fabs(frac - p) < 0.02, "dropped fraction %.4f, want %.2f", frac, (double)p);
  cr_assert(fabs(sum_y / sum_x - 1.0) < 0.03, "mean preserved: ratio %.4f", sum_y / sum_x);
  tensor_free(&x);
  test_env_free(&env);
}

static void masks(uint64_t seed, float *out, size_t count) {
  test_env env;
  test_env_init(&env, seed);
  dropout2d_layer l;
  TRY_OK(dropout2d_init(&l, 0.3f));
  tensor x;
  TRY_OK(tensor_alloc(&x, DEVICE_CPU, 4, (const int[4]){4, (int)count / 4, 1, 1}));
  for (size_t i = 0; i < count; i++)
    x.data[i] = 1.0f;
  tensor y;
  TRY_OK(dropout2d_forward(&l, &env.ctx, &x, &y));
  memcpy(out, y.data, count * sizeof(float));
  tensor_free(&x);
  test_env_free(&env);
}

Test(dropout2d, seeded_masks) {
  float a[64], b[64], c[64];
  masks(7, a, 64);
  masks(7, b, 64);
  masks(8, c, 64);
  cr_assert(memcmp(a, b, sizeof a) == 0, "same seed, same mask");
  cr_assert(memcmp(a, c, sizeof a) != 0, "another seed, another mask");
}

Test(dropout2d, identity_in_eval_and_at_zero) {
  test_env env;
  test_env_init(&env, 5);
  tensor x = test_randn4(&env.r, 2, 3, 4, 4, 1.0f), y, dx;
  TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
  dropout2d_layer l;
  for (int mode = 0; mode < 2; mode++) {
    TRY_OK(dropout2d_init(&l, mode ? 0.0f : 0.5f));
    env.ctx.training = mode; /* eval with p 0.5, then training with p 0 */
    TRY_OK(dropout2d_forward(&l, &env.ctx, &x, &y));
    cr_assert(!l.applied);
    cr_assert(y.data != x.data, "output is a copy");
    cr_assert(memcmp(y.data, x.data, tensor_numel(&x) * sizeof(float)) == 0);
    TRY_OK(dropout2d_backward(&l, &env.ctx, &x, &dx));
  }
  for (size_t i = 0; i < tensor_numel(&x); i++)
    cr_assert_float_eq(dx.data[i], 2.0f * x.data[i], 1e-6, "backward accumulates");
  tensor_free(&x), tensor_free(&dx);
  test_env_free(&env);
}

Test(dropout2d, rejects_bad_input) {
  dropout2d_layer l;
  cr_assert_eq(dropout2d_init(&l, 1.0f), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "dropout2d"), "message: %s", dnl_last_error());
  cr_assert_eq(dropout2d_init(&l, -0.1f), DNL_ERR_ARG);
  cr_assert_eq(dropout2d_init(&l, NAN), DNL_ERR_ARG);
  test_env env;
  test_env_init(&env, 5);
  TRY_OK(dropout2d_init(&l, 0.1f));
  tensor v = test_randn(&env.r, 2, (const int[2]){3, 4}, 1.0f), y;
  cr_assert_eq(dropout2d_forward(&l, &env.ctx, &v, &y), DNL_ERR_SHAPE);
  cr_assert(strstr(dnl_last_error(), "[3, 4]"), "message: %s", dnl_last_error());
  cr_assert_eq(dropout2d_forward(&l, &env.ctx, NULL, &y), DNL_ERR_ARG);
  tensor x = test_randn4(&env.r, 2, 3, 2, 2, 1.0f), other = test_randn4(&env.r, 2, 4, 2, 2, 1);
  TRY_OK(dropout2d_forward(&l, &env.ctx, &x, &y));
  cr_assert_eq(dropout2d_backward(&l, &env.ctx, &x, &other), DNL_ERR_SHAPE);
  cr_assert(strstr(dnl_last_error(), "[2, 4, 2, 2]"), "message: %s", dnl_last_error());
  cr_assert_eq(dropout2d_backward(&l, &env.ctx, &other, &other), DNL_ERR_SHAPE);
  cr_assert(strstr(dnl_last_error(), "mask"), "message: %s", dnl_last_error());
  env.ctx.rng = NULL;
  cr_assert_eq(dropout2d_forward(&l, &env.ctx, &x, &y), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "rng"), "message: %s", dnl_last_error());
  tensor_free(&v), tensor_free(&x), tensor_free(&other);
  test_env_free(&env);
}
