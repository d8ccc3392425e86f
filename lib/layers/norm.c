#include "lib/layers/norm.h"

#include <string.h>

static const char *kind_name(norm_kind k) { return k == NORM_INSTANCE ? "instance" : "layer"; }

static int groups(const norm_layer *l) { return l->kind == NORM_INSTANCE ? l->channels : 1; }

dnl_status norm_init(norm_layer *l, param_store *ps, const char *name, norm_kind kind,
                     int channels) {
  memset(l, 0, sizeof *l);
  if (strlen(name) >= sizeof l->name)
    return dnl_error(DNL_ERR_ARG, "norm: name too long: %s", name);
  if (kind != NORM_INSTANCE && kind != NORM_LAYER)
    return dnl_error(DNL_ERR_ARG, "norm %s: unknown kind %d", name, (int)kind);
  if (channels < 1)
    return dnl_error(DNL_ERR_ARG, "%s norm %s: channels = %d, expected >= 1", kind_name(kind),
                     name, channels);
  strcpy(l->name, name);
  l->kind = kind;
  l->channels = channels;
  l->eps = 1e-5f;
  char pname[PARAM_NAME_MAX];
  const int shape[1] = {channels};
  DNL_TRY(layer_param_name(pname, sizeof pname, name, "weight"));
  DNL_TRY(params_add(ps, pname, 1, shape, PARAM_TRAINABLE,
                     (param_init){PARAM_INIT_CONST, 1.0f, 0.0f}, &l->weight, &l->weight_grad));
  DNL_TRY(layer_param_name(pname, sizeof pname, name, "bias"));
  return params_add(ps, pname, 1, shape, PARAM_TRAINABLE,
                    (param_init){PARAM_INIT_CONST, 0.0f, 0.0f}, &l->bias, &l->bias_grad);
}

static dnl_status check_input(const norm_layer *l, const tensor *x) {
  dnl_status st = tensor_expect(x, l->name, 4, -1, l->channels, -1, -1);
  if (st != DNL_OK)
    return dnl_error_context(st, "%s norm input", kind_name(l->kind));
  return DNL_OK;
}

dnl_status norm_forward(norm_layer *l, layer_ctx *ctx, const tensor *x, tensor *y) {
  DNL_TRY(check_input(l, x));
  const int n = x->shape[0], hw = x->shape[2] * x->shape[3];
  const int stats[1] = {n * groups(l)};
  DNL_TRY(arena_tensor(ctx->act, y, 4, x->shape));
  DNL_TRY(arena_tensor(ctx->act, &l->save_mean, 1, stats));
  DNL_TRY(arena_tensor(ctx->act, &l->save_invstd, 1, stats));
  return ctx->be->group_norm_forward(n, l->channels, hw, groups(l), l->eps, x->data,
                                     l->weight.data, l->bias.data, y->data, l->save_mean.data,
                                     l->save_invstd.data);
}

dnl_status norm_backward(norm_layer *l, layer_ctx *ctx, const tensor *x, const tensor *dy,
                         tensor *dx) {
  DNL_TRY(check_input(l, x));
  dnl_status st = tensor_expect_same(dy, "norm output gradient", x, "norm input");
  if (st == DNL_OK && dx)
    st = tensor_expect_same(dx, "norm input gradient", x, "norm input");
  if (st != DNL_OK)
    return dnl_error_context(st, "%s norm %s", kind_name(l->kind), l->name);
  const int n = x->shape[0];
  if (!l->save_mean.data || l->save_mean.shape[0] != n * groups(l))
    return dnl_error(DNL_ERR_ARG, "%s norm %s: backward without a matching forward",
                     kind_name(l->kind), l->name);
  return ctx->be->group_norm_backward(n, l->channels, x->shape[2] * x->shape[3], groups(l),
                                      x->data, l->weight.data, dy->data, l->save_mean.data,
                                      l->save_invstd.data, dx ? dx->data : NULL,
                                      l->weight_grad.data, l->bias_grad.data);
}
