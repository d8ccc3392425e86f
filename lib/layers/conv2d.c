#include "lib/layers/conv2d.h"

#include <math.h>
#include <string.h>

param_init conv2d_default_init(int cin, int k) {
  float bound = 1.0f / sqrtf((float)(cin * k * k));
  return (param_init){PARAM_INIT_UNIFORM, -bound, bound};
}

dnl_status conv2d_init(conv2d_layer *l, param_store *ps, const char *name,
                       const conv2d_config *cfg) {
  memset(l, 0, sizeof *l);
  if (strlen(name) >= sizeof l->name)
    return dnl_error(DNL_ERR_ARG, "conv2d: name too long: %s", name);
  strcpy(l->name, name);
  l->cfg = *cfg;
  if (l->cfg.stride == 0)
    l->cfg.stride = 1;
  if (l->cfg.dilation == 0)
    l->cfg.dilation = 1;
  if (cfg->cin < 1 || cfg->cout < 1 || cfg->k < 1 || l->cfg.stride < 1 || cfg->pad < 0 ||
      l->cfg.dilation < 1)
    return dnl_error(DNL_ERR_ARG, "conv2d %s: invalid config cin=%d cout=%d k=%d stride=%d "
                                  "pad=%d dilation=%d",
                     name, cfg->cin, cfg->cout, cfg->k, cfg->stride, cfg->pad, cfg->dilation);
  char pname[PARAM_NAME_MAX];
  int wshape[4] = {cfg->cout, cfg->cin, cfg->k, cfg->k};
  DNL_TRY(layer_param_name(pname, sizeof pname, name, "weight"));
  DNL_TRY(params_add(ps, pname, 4, wshape, cfg->kind, cfg->weight_init, &l->weight,
                     &l->weight_grad));
  if (cfg->bias) {
    int bshape[1] = {cfg->cout};
    DNL_TRY(layer_param_name(pname, sizeof pname, name, "bias"));
    DNL_TRY(params_add(ps, pname, 1, bshape, cfg->kind, cfg->bias_init, &l->bias,
                       &l->bias_grad));
  }
  return DNL_OK;
}

static dnl_status make_shape(const conv2d_layer *l, const tensor *x, conv2d_shape *s) {
  dnl_status st = tensor_expect(x, l->name, 4, -1, l->cfg.cin, -1, -1);
  if (st != DNL_OK)
    return dnl_error_context(st, "conv2d input");
  st = conv2d_shape_init(s, x->shape[0], x->shape[1], x->shape[2], x->shape[3], l->cfg.cout,
                         l->cfg.k, l->cfg.stride, l->cfg.pad, l->cfg.dilation);
  if (st != DNL_OK)
    return dnl_error_context(st, "conv2d %s", l->name);
  return DNL_OK;
}

dnl_status conv2d_forward(conv2d_layer *l, layer_ctx *ctx, const tensor *x, tensor *y) {
  conv2d_shape s;
  DNL_TRY(make_shape(l, x, &s));
  DNL_TRY(arena_tensor4(ctx->act, y, s.n, s.cout, s.oh, s.ow));
  ctx->flops += 2.0 * s.n * s.cout * s.oh * s.ow * (double)s.cin * s.kh * s.kw;
  void *ws = NULL;
  DNL_TRY(layer_ctx_workspace(ctx, ctx->be->conv2d_workspace(&s), &ws));
  return ctx->be->conv2d_forward(&s, x->data, l->weight.data,
                                 l->cfg.bias ? l->bias.data : NULL, y->data, ws);
}

dnl_status conv2d_backward(conv2d_layer *l, layer_ctx *ctx, const tensor *x, const tensor *dy,
                           tensor *dx) {
  conv2d_shape s;
  DNL_TRY(make_shape(l, x, &s));
  dnl_status st = tensor_expect(dy, l->name, 4, s.n, s.cout, s.oh, s.ow);
  if (st != DNL_OK)
    return dnl_error_context(st, "conv2d output gradient");
  if (dx)
    DNL_TRY(tensor_expect_same(dx, "conv2d input gradient", x, "conv2d input"));
  void *ws = NULL;
  DNL_TRY(layer_ctx_workspace(ctx, ctx->be->conv2d_workspace(&s), &ws));
  return ctx->be->conv2d_backward(&s, x->data, l->weight.data, dy->data,
                                  dx ? dx->data : NULL, l->weight_grad.data,
                                  l->cfg.bias ? l->bias_grad.data : NULL, ws);
}
