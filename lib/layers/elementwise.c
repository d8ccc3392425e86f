#include "lib/layers/elementwise.h"

static dnl_status expect_any(const tensor *t, const char *layer, const char *what) {
  if (!t || !t->data)
    return dnl_error(DNL_ERR_ARG, "%s: %s tensor is %s", layer, what, t ? "empty" : "NULL");
  return DNL_OK;
}

static dnl_status expect_same(const tensor *a, const char *what_a, const tensor *b,
                              const char *what_b, const char *layer) {
  dnl_status st = tensor_expect_same(a, what_a, b, what_b);
  if (st != DNL_OK)
    return dnl_error_context(st, "%s", layer);
  return DNL_OK;
}

dnl_status relu_forward(layer_ctx *ctx, const tensor *x, tensor *y) {
  DNL_TRY(expect_any(x, "relu", "input"));
  DNL_TRY(arena_tensor(ctx->act, y, x->ndim, x->shape));
  return ctx->be->relu_forward(tensor_numel(x), x->data, y->data);
}

dnl_status relu_forward_inplace(layer_ctx *ctx, tensor *x) {
  DNL_TRY(expect_any(x, "relu", "input"));
  return ctx->be->relu_forward(tensor_numel(x), x->data, x->data);
}

dnl_status relu_backward(layer_ctx *ctx, const tensor *y, const tensor *dy, tensor *dx) {
  DNL_TRY(expect_any(y, "relu", "output"));
  DNL_TRY(expect_same(dy, "output gradient", y, "output", "relu"));
  if (!dx)
    return DNL_OK;
  DNL_TRY(expect_same(dx, "input gradient", y, "output", "relu"));
  return ctx->be->relu_backward(tensor_numel(y), y->data, dy->data, dx->data);
}

dnl_status add_forward(layer_ctx *ctx, const tensor *a, const tensor *b, tensor *y) {
  DNL_TRY(expect_any(a, "add", "first input"));
  DNL_TRY(expect_same(b, "second input", a, "first input", "add"));
  DNL_TRY(arena_tensor(ctx->act, y, a->ndim, a->shape));
  return ctx->be->add(tensor_numel(a), a->data, b->data, y->data);
}

dnl_status add_backward(layer_ctx *ctx, const tensor *dy, tensor *da, tensor *db) {
  DNL_TRY(expect_any(dy, "add", "output gradient"));
  tensor *grads[2] = {da, db};
  for (int i = 0; i < 2; i++) {
    if (!grads[i])
      continue;
    DNL_TRY(expect_same(grads[i], i ? "second input gradient" : "first input gradient", dy,
                        "output gradient", "add"));
    DNL_TRY(ctx->be->axpy(tensor_numel(dy), 1.0f, dy->data, grads[i]->data));
  }
  return DNL_OK;
}

dnl_status concat_forward(layer_ctx *ctx, const tensor *a, const tensor *b, tensor *y) {
  dnl_status st = tensor_expect(a, "first input", 4, -1, -1, -1, -1);
  if (st == DNL_OK)
    st = tensor_expect(b, "second input", 4, a->shape[0], -1, a->shape[2], a->shape[3]);
  if (st != DNL_OK)
    return dnl_error_context(st, "concat");
  const int n = a->shape[0], ca = a->shape[1], cb = b->shape[1];
  const int hw = a->shape[2] * a->shape[3];
  DNL_TRY(arena_tensor4(ctx->act, y, n, ca + cb, a->shape[2], a->shape[3]));
  DNL_TRY(ctx->be->copy_channels(n, hw, a->data, ca, 0, y->data, ca + cb, 0, ca, false));
  return ctx->be->copy_channels(n, hw, b->data, cb, 0, y->data, ca + cb, ca, cb, false);
}

dnl_status concat_backward(layer_ctx *ctx, const tensor *dy, tensor *da, tensor *db) {
  dnl_status st = tensor_expect(dy, "output gradient", 4, -1, -1, -1, -1);
  if (st != DNL_OK)
    return dnl_error_context(st, "concat");
  const int n = dy->shape[0], c = dy->shape[1], h = dy->shape[2], w = dy->shape[3];
  if (da)
    st = tensor_expect(da, "first input gradient", 4, n, -1, h, w);
  if (st == DNL_OK && db)
    st = tensor_expect(db, "second input gradient", 4, n, da ? c - da->shape[1] : -1, h, w);
  if (st != DNL_OK)
    return dnl_error_context(st, "concat");
  if (!da && !db)
    return DNL_OK;
  const int ca = da ? da->shape[1] : c - db->shape[1];
  if (ca < 0 || ca > c) {
    char sy[64], sp[64];
    return dnl_error(DNL_ERR_SHAPE, "concat: %s input gradient %s has more channels than the "
                                    "output gradient %s",
                     da ? "first" : "second",
                     tensor_shape_str(da ? da : db, sp, sizeof sp),
                     tensor_shape_str(dy, sy, sizeof sy));
  }
  const int hw = h * w;
  if (da)
    DNL_TRY(ctx->be->copy_channels(n, hw, dy->data, c, 0, da->data, ca, 0, ca, true));
  if (db)
    DNL_TRY(ctx->be->copy_channels(n, hw, dy->data, c, ca, db->data, c - ca, 0, c - ca, true));
  return DNL_OK;
}

/* [outer, len, inner] view of x with the softmax axis 1 */
static dnl_status softmax_geometry(const tensor *x, const char *what, int *outer, int *len,
                                   int *inner) {
  DNL_TRY(expect_any(x, "softmax", what));
  if (x->ndim < 2) {
    char s[64];
    return dnl_error(DNL_ERR_SHAPE, "softmax: %s %s has no channel axis", what,
                     tensor_shape_str(x, s, sizeof s));
  }
  *outer = x->shape[0];
  *len = x->shape[1];
  *inner = 1;
  for (int i = 2; i < x->ndim; i++)
    *inner *= x->shape[i];
  return DNL_OK;
}

dnl_status softmax_forward(layer_ctx *ctx, const tensor *x, tensor *y) {
  int outer = 0, len = 0, inner = 0;
  DNL_TRY(softmax_geometry(x, "input", &outer, &len, &inner));
  DNL_TRY(arena_tensor(ctx->act, y, x->ndim, x->shape));
  return ctx->be->softmax_forward(outer, len, inner, x->data, y->data);
}

dnl_status softmax_backward(layer_ctx *ctx, const tensor *y, const tensor *dy, tensor *dx) {
  int outer = 0, len = 0, inner = 0;
  DNL_TRY(softmax_geometry(y, "output", &outer, &len, &inner));
  DNL_TRY(expect_same(dy, "output gradient", y, "output", "softmax"));
  if (!dx)
    return DNL_OK;
  DNL_TRY(expect_same(dx, "input gradient", y, "output", "softmax"));
  return ctx->be->softmax_backward(outer, len, inner, y->data, dy->data, dx->data);
}
