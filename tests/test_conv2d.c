#include <stdio.h>
#include <string.h>

#include "lib/layers/conv2d.h"
#include "tests/test_util.h"

typedef struct conv_case {
  int n, cin, h, w, cout, k, stride, pad, dilation;
  bool bias;
} conv_case;

/* every option combination the network uses: 1x1, 3x3, stride 2, padding, dilation 2/4 */
static const conv_case cases[] = {
    {2, 3, 7, 6, 4, 1, 1, 0, 1, true},  {2, 3, 7, 6, 4, 1, 1, 0, 1, false},
    {1, 3, 9, 8, 5, 3, 1, 1, 1, false}, {2, 2, 9, 7, 3, 3, 2, 1, 1, true},
    {1, 3, 9, 9, 2, 3, 1, 2, 2, false}, {1, 2, 11, 10, 3, 3, 1, 4, 4, true},
    {2, 4, 6, 5, 3, 1, 2, 0, 1, false},
};

typedef struct conv_problem {
  test_env *env;
  conv2d_layer *l;
  tensor *x, *dx;
} conv_problem;

static dnl_status conv_fwd(void *user, tensor *y) {
  conv_problem *p = user;
  arena_reset(&p->env->act);
  return conv2d_forward(p->l, &p->env->ctx, p->x, y);
}

static dnl_status conv_bwd(void *user, const tensor *dy) {
  conv_problem *p = user;
  return conv2d_backward(p->l, &p->env->ctx, p->x, dy, p->dx);
}

Test(conv2d, gradients_all_options) {
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    const conv_case *cc = &cases[c];
    test_env env;
    test_env_init(&env, 100 + c);
    conv2d_layer l;
    conv2d_config cfg = {.cin = cc->cin, .cout = cc->cout, .k = cc->k, .stride = cc->stride,
                         .pad = cc->pad, .dilation = cc->dilation, .bias = cc->bias,
                         .weight_init = conv2d_default_init(cc->cin, cc->k),
                         .bias_init = conv2d_default_init(cc->cin, cc->k)};
    TRY_OK(conv2d_init(&l, &env.ps, "conv", &cfg));
    test_env_finalize(&env, 0.5f);
    tensor x = test_randn4(&env.r, cc->n, cc->cin, cc->h, cc->w, 1.0f);
    tensor dx;
    TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
    conv_problem p = {&env, &l, &x, &dx};
    gradcheck_problem gp = {&p, conv_fwd, conv_bwd};
    gradcheck_var vars[3] = {{"x", &x, &dx}, {"weight", &l.weight, &l.weight_grad},
                             {"bias", &l.bias, &l.bias_grad}};
    char what[64];
    snprintf(what, sizeof what, "conv2d case %zu", c);
    gradcheck(what, &gp, vars, cc->bias ? 3 : 2, (gradcheck_opts){.seed = c + 1});
    tensor_free(&x);
    tensor_free(&dx);
    test_env_free(&env);
  }
}

/* Forward output and all gradients against PyTorch (tests/reference/make_fixtures.py). */
Test(conv2d, matches_pytorch) {
  static const char *names[] = {"conv_k3_s2_p1_bias", "conv_k3_d2_p2", "conv_k1_bias"};
  for (size_t c = 0; c < 3; c++) {
    char ds[128];
    h5io_array meta;
    snprintf(ds, sizeof ds, "%s/geometry", names[c]);
    TRY_OK(h5io_read_int(fixture_path("layers.h5"), ds, &meta));
    const int32_t *g = meta.data; /* n cin h w cout k stride pad dilation bias */
    test_env env;
    test_env_init(&env, 1);
    conv2d_layer l;
    conv2d_config cfg = {.cin = g[1], .cout = g[4], .k = g[5], .stride = g[6], .pad = g[7],
                         .dilation = g[8], .bias = g[9] != 0};
    TRY_OK(conv2d_init(&l, &env.ps, "conv", &cfg));
    test_env_finalize(&env, 0);
    size_t nx = (size_t)g[0] * g[1] * g[2] * g[3];
#define LOAD(var, leaf, count)                                  \
  snprintf(ds, sizeof ds, "%s/%s", names[c], leaf);             \
  h5io_array var = fixture_floats("layers.h5", ds, (count))
    LOAD(fx, "x", nx);
    LOAD(fw, "weight", tensor_numel(&l.weight));
    memcpy(l.weight.data, fw.data, fw.numel * sizeof(float));
    if (cfg.bias) {
      LOAD(fb, "bias", (size_t)g[4]);
      memcpy(l.bias.data, fb.data, fb.numel * sizeof(float));
      h5io_array_free(&fb);
    }
    tensor x = tensor_view4(fx.data, DEVICE_CPU, g[0], g[1], g[2], g[3]);
    tensor y;
    TRY_OK(conv2d_forward(&l, &env.ctx, &x, &y));
    LOAD(fy, "y", tensor_numel(&y));
    ASSERT_CLOSE(y.data, (float *)fy.data, fy.numel, 1e-5, 1e-4, names[c]);
    LOAD(fdy, "dy", fy.numel);
    tensor dy = tensor_view(fdy.data, DEVICE_CPU, 4, y.shape);
    tensor dx;
    TRY_OK(tensor_alloc(&dx, DEVICE_CPU, 4, x.shape));
    TRY_OK(params_zero_grad(&env.ps));
    TRY_OK(conv2d_backward(&l, &env.ctx, &x, &dy, &dx));
    LOAD(fdx, "dx", nx);
    ASSERT_CLOSE(dx.data, (float *)fdx.data, nx, 1e-5, 1e-4, "dx");
    LOAD(fdw, "dweight", fw.numel);
    ASSERT_CLOSE(l.weight_grad.data, (float *)fdw.data, fw.numel, 1e-5, 1e-4, "dweight");
    if (cfg.bias) {
      LOAD(fdb, "dbias", (size_t)g[4]);
      ASSERT_CLOSE(l.bias_grad.data, (float *)fdb.data, fdb.numel, 1e-5, 1e-4, "dbias");
      h5io_array_free(&fdb);
    }
#undef LOAD
    h5io_array_free(&fx), h5io_array_free(&fw), h5io_array_free(&fy);
    h5io_array_free(&fdy), h5io_array_free(&fdx), h5io_array_free(&fdw);
    h5io_array_free(&meta);
    tensor_free(&dx);
    test_env_free(&env);
  }
}

Test(conv2d, rejects_wrong_input_channels) {
  test_env env;
  test_env_init(&env, 1);
  conv2d_layer l;
  conv2d_config cfg = {.cin = 3, .cout = 4, .k = 3, .pad = 1};
  TRY_OK(conv2d_init(&l, &env.ps, "head.conva", &cfg));
  test_env_finalize(&env, 1.0f);
  tensor x = test_randn4(&env.r, 1, 5, 4, 4, 1.0f);
  tensor y;
  dnl_status s = conv2d_forward(&l, &env.ctx, &x, &y);
  cr_assert_eq(s, DNL_ERR_SHAPE);
  cr_assert(strstr(dnl_last_error(), "head.conva") != NULL, "message: %s", dnl_last_error());
  cr_assert(strstr(dnl_last_error(), "[1, 5, 4, 4]") != NULL, "message: %s", dnl_last_error());
  tensor_free(&x);
  test_env_free(&env);
}
