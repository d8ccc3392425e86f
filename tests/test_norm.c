/* Instance norm and layer norm: gradients, PyTorch values, shape errors. */
#include <stdio.h>
#include <string.h>

#include "lib/layers/norm.h"
#include "tests/test_util.h"

typedef struct norm_problem {
  test_env *env;
  norm_layer *l;
  tensor *x, *dx;
} norm_problem;

static dnl_status norm_fwd(void *user, tensor *y) {
  norm_problem *p = user;
  arena_reset(&p->env->act);
  return norm_forward(p->l, &p->env->ctx, p->x, y);
}

static dnl_status norm_bwd(void *user, const tensor *dy) {
  norm_problem *p = user;
  return norm_backward(p->l, &p->env->ctx, p->x, dy, p->dx);
}

static void gradcheck_norm(norm_kind kind) {
  test_env env;
  test_env_init(&env, 20 + kind);
  norm_layer l;
  TRY_OK(norm_init(&l, &env.ps, "head.block.out_norm", kind, 3));
  test_env_finalize(&env, 0);
  test_fill_randn(&env.r, l.weight.data, 3, 0.5f);
  test_fill_randn(&env.r, l.bias.data, 3, 0.5f);
  tensor x = test_randn4(&env.r, 2, 3, 4, 5, 2.0f), dx;
  TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
  norm_problem p = {&env, &l, &x, &dx};
  gradcheck_problem gp = {&p, norm_fwd, norm_bwd};
  gradcheck_var vars[3] = {
      {"x", &x, &dx}, {"weight", &l.weight, &l.weight_grad}, {"bias", &l.bias, &l.bias_grad}};
  gradcheck(kind == NORM_INSTANCE ? "instance norm" : "layer norm", &gp, vars, 3,
            (gradcheck_opts){.seed = 9, .eps = 1e-2, .rtol = 3e-2, .atol = 5e-3});
  tensor_free(&x), tensor_free(&dx);
  test_env_free(&env);
}

Test(norm, instance_gradients) { gradcheck_norm(NORM_INSTANCE); }
Test(norm, layer_gradients) { gradcheck_norm(NORM_LAYER); }

static void matches_pytorch(norm_kind kind, const char *group) {
  test_env env;
  test_env_init(&env, 1);
  norm_layer l;
  TRY_OK(norm_init(&l, &env.ps, "n", kind, 3));
  test_env_finalize(&env, 0);
  char ds[64];
#define LOAD(var, leaf, count)                      \
  snprintf(ds, sizeof ds, "%s/%s", group, leaf);    \
  h5io_array var = fixture_floats("blocks.h5", ds, (count))
  LOAD(fx, "x", 120);
  LOAD(fw, "weight", 3);
  LOAD(fb, "bias", 3);
  LOAD(fy, "y", 120);
  LOAD(fdy, "dy", 120);
  LOAD(fdx, "dx", 120);
  LOAD(fdw, "dweight", 3);
  LOAD(fdb, "dbias", 3);
#undef LOAD
  memcpy(l.weight.data, fw.data, 3 * sizeof(float));
  memcpy(l.bias.data, fb.data, 3 * sizeof(float));
  tensor x = tensor_view4(fx.data, DEVICE_CPU, 2, 3, 4, 5), y;
  TRY_OK(norm_forward(&l, &env.ctx, &x, &y));
  ASSERT_CLOSE(y.data, (float *)fy.data, 120, 1e-5, 1e-4, group);
  tensor dy = tensor_view4(fdy.data, DEVICE_CPU, 2, 3, 4, 5), dx;
  TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
  TRY_OK(norm_backward(&l, &env.ctx, &x, &dy, &dx));
  ASSERT_CLOSE(dx.data, (float *)fdx.data, 120, 1e-5, 1e-4, "dx");
  ASSERT_CLOSE(l.weight_grad.data, (float *)fdw.data, 3, 1e-5, 1e-4, "dweight");
  ASSERT_CLOSE(l.bias_grad.data, (float *)fdb.data, 3, 1e-5, 1e-4, "dbias");
  tensor_free(&dx);
  h5io_array_free(&fx), h5io_array_free(&fw), h5io_array_free(&fb), h5io_array_free(&fy);
  h5io_array_free(&fdy), h5io_array_free(&fdx), h5io_array_free(&fdw), h5io_array_free(&fdb);
  test_env_free(&env);
}

Test(norm, instance_matches_pytorch) { matches_pytorch(NORM_INSTANCE, "norm_in"); }
Test(norm, layer_matches_pytorch) { matches_pytorch(NORM_LAYER, "norm_ln"); }

/* No running statistics: evaluation computes what training computes. */
Test(norm, evaluation_equals_training) {
  test_env env;
  test_env_init(&env, 2);
  norm_layer l;
  TRY_OK(norm_init(&l, &env.ps, "n", NORM_LAYER, 4));
  test_env_finalize(&env, 0);
  tensor x = test_randn4(&env.r, 2, 4, 3, 3, 1.0f), y1, y2;
  TRY_OK(norm_forward(&l, &env.ctx, &x, &y1));
  env.ctx.training = false;
  TRY_OK(norm_forward(&l, &env.ctx, &x, &y2));
  cr_assert(memcmp(y1.data, y2.data, tensor_numel(&x) * sizeof(float)) == 0);
  tensor_free(&x);
  test_env_free(&env);
}

Test(norm, parameters_and_errors) {
  test_env env;
  test_env_init(&env, 3);
  norm_layer l;
  TRY_OK(norm_init(&l, &env.ps, "head.block.out_norm", NORM_INSTANCE, 4));
  cr_assert(params_find(&env.ps, "head.block.out_norm.weight"));
  cr_assert(params_find(&env.ps, "head.block.out_norm.bias"));
  test_env_finalize(&env, 0);
  cr_assert_eq(l.weight.data[0], 1.0f);
  cr_assert_eq(l.bias.data[0], 0.0f);
  tensor x = test_randn4(&env.r, 1, 3, 2, 2, 1.0f), y;
  cr_assert_eq(norm_forward(&l, &env.ctx, &x, &y), DNL_ERR_SHAPE);
  cr_assert(strstr(dnl_last_error(), "head.block.out_norm"), "message: %s", dnl_last_error());
  norm_layer bad;
  cr_assert_eq(norm_init(&bad, &env.ps, "b", NORM_LAYER, 0), DNL_ERR_ARG);
  tensor_free(&x);
  test_env_free(&env);
}
