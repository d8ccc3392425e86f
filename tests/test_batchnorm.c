#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/layers/batchnorm.h"
#include "tests/test_util.h"

typedef struct bn_problem {
  test_env *env;
  batchnorm_layer *l;
  tensor *x, *dx;
} bn_problem;

static dnl_status bn_fwd(void *user, tensor *y) {
  bn_problem *p = user;
  arena_reset(&p->env->act);
  return batchnorm_forward(p->l, &p->env->ctx, p->x, y);
}

static dnl_status bn_bwd(void *user, const tensor *dy) {
  bn_problem *p = user;
  return batchnorm_backward(p->l, &p->env->ctx, p->x, dy, p->dx);
}

/* Gradients of input, weight and bias in one mode over a few odd shapes. */
static void check_bn_gradients(bool training) {
  static const int shapes[][4] = {{2, 3, 5, 4}, {1, 4, 3, 7}, {3, 2, 1, 1}};
  for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
    const int *s = shapes[c];
    test_env env;
    test_env_init(&env, 200 + c);
    env.ctx.training = training;
    batchnorm_layer l;
    TRY_OK(batchnorm_init(&l, &env.ps, "bn", s[1]));
    test_env_finalize(&env, 0.7f);
    for (int ch = 0; ch < s[1]; ch++) /* eval mode needs a positive variance */
      l.running_var.data[ch] = 0.5f + fabsf(l.running_var.data[ch]);
    tensor x = test_randn4(&env.r, s[0], s[1], s[2], s[3], 1.5f);
    for (size_t i = 0; i < tensor_numel(&x); i++) /* a mean away from 0 */
      x.data[i] += 0.7f;
    tensor dx;
    TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
    bn_problem p = {&env, &l, &x, &dx};
    gradcheck_problem gp = {&p, bn_fwd, bn_bwd};
    gradcheck_var vars[3] = {{"x", &x, &dx}, {"weight", &l.weight, &l.weight_grad},
                             {"bias", &l.bias, &l.bias_grad}};
    char what[64];
    snprintf(what, sizeof what, "batchnorm %s case %zu", training ? "train" : "eval", c);
    gradcheck(what, &gp, vars, 3, (gradcheck_opts){.eps = 5e-3, .seed = c + 7});
    tensor_free(&x);
    tensor_free(&dx);
    test_env_free(&env);
  }
}

Test(batchnorm, gradients_train_mode) { check_bn_gradients(true); }

Test(batchnorm, gradients_eval_mode) { check_bn_gradients(false); }

Test(batchnorm, registers_parameters_and_buffers) {
  test_env env;
  test_env_init(&env, 1);
  batchnorm_layer l;
  TRY_OK(batchnorm_init(&l, &env.ps, "head.conva_bn", 5));
  test_env_finalize(&env, 0);
  static const struct {
    const char *name;
    param_kind kind;
    float init;
  } want[] = {{"head.conva_bn.weight", PARAM_TRAINABLE, 1.0f},
              {"head.conva_bn.bias", PARAM_TRAINABLE, 0.0f},
              {"head.conva_bn.running_mean", PARAM_BUFFER, 0.0f},
              {"head.conva_bn.running_var", PARAM_BUFFER, 1.0f}};
  for (int i = 0; i < 4; i++) {
    param_entry *e = params_find(&env.ps, want[i].name);
    cr_assert(e, "missing %s", want[i].name);
    cr_assert_eq(e->kind, want[i].kind, "%s kind", want[i].name);
    cr_assert_eq(e->numel, 5u);
    for (int j = 0; j < 5; j++)
      cr_assert_eq(e->value->data[j], want[i].init, "%s init", want[i].name);
  }
  cr_assert_eq(l.eps, 1e-5f);
  cr_assert_eq(l.momentum, 0.1f);
  test_env_free(&env);
}

static h5io_array load(const char *group, const char *leaf, size_t n) {
  char ds[128];
  snprintf(ds, sizeof ds, "%s/%s", group, leaf);
  return fixture_floats("layers.h5", ds, n);
}

/* dx is pre-filled with `base` to check that backward accumulates */
static void assert_accumulated(const tensor *dx, float base, const float *want, size_t n,
                               const char *what) {
  for (size_t i = 0; i < n; i++)
    dx->data[i] -= base;
  ASSERT_CLOSE(dx->data, want, n, 1e-5, 1e-4, what);
}

static void fill(tensor *t, float v) {
  for (size_t i = 0; i < tensor_numel(t); i++)
    t->data[i] = v;
}

/* One training step from running stats 0/1, then eval on a new input with the
 * updated running stats; outputs and all gradients. */
Test(batchnorm, matches_pytorch_train_then_eval) {
  test_env env;
  test_env_init(&env, 1);
  batchnorm_layer l;
  TRY_OK(batchnorm_init(&l, &env.ps, "bn", 3));
  test_env_finalize(&env, 0);
  h5io_array w = load("bn_train", "weight", 3), b = load("bn_train", "bias", 3);
  memcpy(l.weight.data, w.data, 3 * sizeof(float));
  memcpy(l.bias.data, b.data, 3 * sizeof(float));

  h5io_array fx = load("bn_train", "x", 120), fy = load("bn_train", "y", 120);
  h5io_array fdy = load("bn_train", "dy", 120), fdx = load("bn_train", "dx", 120);
  h5io_array fdw = load("bn_train", "dweight", 3), fdb = load("bn_train", "dbias", 3);
  h5io_array frm = load("bn_train", "running_mean", 3);
  h5io_array frv = load("bn_train", "running_var", 3);
  tensor x = tensor_view4(fx.data, DEVICE_CPU, 2, 3, 5, 4);
  tensor dy = tensor_view4(fdy.data, DEVICE_CPU, 2, 3, 5, 4);
  tensor y, dx;
  TRY_OK(batchnorm_forward(&l, &env.ctx, &x, &y));
  ASSERT_CLOSE(y.data, (float *)fy.data, 120, 1e-5, 1e-4, "train y");
  ASSERT_CLOSE(l.running_mean.data, (float *)frm.data, 3, 1e-6, 1e-5, "running_mean");
  ASSERT_CLOSE(l.running_var.data, (float *)frv.data, 3, 1e-6, 1e-5, "running_var");
  TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
  fill(&dx, 0.25f);
  fill(&l.weight_grad, 0.5f);
  fill(&l.bias_grad, -0.5f);
  TRY_OK(batchnorm_backward(&l, &env.ctx, &x, &dy, &dx));
  assert_accumulated(&dx, 0.25f, fdx.data, 120, "train dx");
  assert_accumulated(&l.weight_grad, 0.5f, fdw.data, 3, "train dweight");
  assert_accumulated(&l.bias_grad, -0.5f, fdb.data, 3, "train dbias");
  tensor_free(&dx);

  env.ctx.training = false;
  float rm_before[3];
  memcpy(rm_before, l.running_mean.data, sizeof rm_before);
  h5io_array ex = load("bn_eval", "x", 72), ey = load("bn_eval", "y", 72);
  h5io_array edy = load("bn_eval", "dy", 72), edx = load("bn_eval", "dx", 72);
  h5io_array edw = load("bn_eval", "dweight", 3), edb = load("bn_eval", "dbias", 3);
  tensor x2 = tensor_view4(ex.data, DEVICE_CPU, 2, 3, 4, 3);
  tensor dy2 = tensor_view4(edy.data, DEVICE_CPU, 2, 3, 4, 3);
  TRY_OK(batchnorm_forward(&l, &env.ctx, &x2, &y));
  ASSERT_CLOSE(y.data, (float *)ey.data, 72, 1e-5, 1e-4, "eval y");
  ASSERT_CLOSE(l.running_mean.data, rm_before, 3, 1e-12, 0, "eval keeps running_mean");
  TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x2.shape));
  TRY_OK(params_zero_grad(&env.ps));
  TRY_OK(batchnorm_backward(&l, &env.ctx, &x2, &dy2, &dx));
  ASSERT_CLOSE(dx.data, (float *)edx.data, 72, 1e-5, 1e-4, "eval dx");
  ASSERT_CLOSE(l.weight_grad.data, (float *)edw.data, 3, 1e-5, 1e-4, "eval dweight");
  ASSERT_CLOSE(l.bias_grad.data, (float *)edb.data, 3, 1e-5, 1e-4, "eval dbias");
  tensor_free(&dx);

  h5io_array *all[] = {&w, &b, &fx, &fy, &fdy, &fdx, &fdw, &fdb, &frm, &frv,
                       &ex, &ey, &edy, &edx, &edw, &edb};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    h5io_array_free(all[i]);
  test_env_free(&env);
}

Test(batchnorm, rejects_bad_input) {
  test_env env;
  test_env_init(&env, 1);
  batchnorm_layer l;
  TRY_OK(batchnorm_init(&l, &env.ps, "backbone.prefix.bn1", 4));
  test_env_finalize(&env, 0);
  tensor x = test_randn4(&env.r, 2, 3, 4, 4, 1.0f);
  tensor y;
  cr_assert_eq(batchnorm_forward(&l, &env.ctx, &x, &y), DNL_ERR_SHAPE);
  const char *msg = dnl_last_error();
  cr_assert(strstr(msg, "backbone.prefix.bn1") && strstr(msg, "[2, 3, 4, 4]") &&
                strstr(msg, "[*, 4, *, *]"),
            "message: %s", msg);
  cr_assert_eq(batchnorm_forward(&l, &env.ctx, NULL, &y), DNL_ERR_ARG);
  cr_assert(strstr(dnl_last_error(), "NULL"), "message: %s", dnl_last_error());

  /* one value per channel cannot be normalised with batch statistics */
  tensor one = test_randn4(&env.r, 1, 4, 1, 1, 1.0f);
  cr_assert_eq(batchnorm_forward(&l, &env.ctx, &one, &y), DNL_ERR_SHAPE);
  cr_assert(strstr(dnl_last_error(), "more than one value"), "message: %s", dnl_last_error());

  tensor good = test_randn4(&env.r, 2, 4, 3, 3, 1.0f);
  tensor bad_dy = test_randn4(&env.r, 2, 4, 3, 2, 1.0f);
  TRY_OK(batchnorm_forward(&l, &env.ctx, &good, &y));
  cr_assert_eq(batchnorm_backward(&l, &env.ctx, &good, &bad_dy, NULL), DNL_ERR_SHAPE);
  msg = dnl_last_error();
  cr_assert(strstr(msg, "[2, 4, 3, 2]") && strstr(msg, "[2, 4, 3, 3]"), "message: %s", msg);
  cr_assert_eq(batchnorm_init(&l, &env.ps, "bn_zero", 0), DNL_ERR_ARG);
  tensor_free(&x), tensor_free(&one), tensor_free(&good), tensor_free(&bad_dy);
  test_env_free(&env);
}
