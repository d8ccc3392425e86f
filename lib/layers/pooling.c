#include "lib/layers/pooling.h"

void maxpool_init(maxpool_layer *l, int k, int stride, int pad, bool ceil_mode) {
  *l = (maxpool_layer){.k = k, .stride = stride, .pad = pad, .ceil_mode = ceil_mode};
}

static dnl_status maxpool_geometry(const maxpool_layer *l, const tensor *x, pool_shape *s) {
  dnl_status st = tensor_expect(x, "input", 4, -1, -1, -1, -1);
  if (st == DNL_OK)
    st = pool_shape_init(s, x->shape[0], x->shape[1], x->shape[2], x->shape[3], l->k,
                         l->stride, l->pad, l->ceil_mode);
  if (st != DNL_OK)
    return dnl_error_context(st, "maxpool k=%d stride=%d pad=%d", l->k, l->stride, l->pad);
  return DNL_OK;
}

dnl_status maxpool_forward(maxpool_layer *l, layer_ctx *ctx, const tensor *x, tensor *y) {
  pool_shape s;
  DNL_TRY(maxpool_geometry(l, x, &s));
  DNL_TRY(arena_tensor4(ctx->act, y, s.n, s.c, s.oh, s.ow));
  void *argmax = NULL;
  DNL_TRY(arena_alloc(ctx->act, tensor_numel(y) * sizeof(int32_t), &argmax));
  l->argmax = argmax;
  return ctx->be->maxpool_forward(&s, x->data, y->data, l->argmax);
}

dnl_status maxpool_backward(maxpool_layer *l, layer_ctx *ctx, const tensor *x,
                            const tensor *dy, tensor *dx) {
  pool_shape s;
  DNL_TRY(maxpool_geometry(l, x, &s));
  dnl_status st = tensor_expect(dy, "output gradient", 4, s.n, s.c, s.oh, s.ow);
  if (st == DNL_OK && dx)
    st = tensor_expect_same(dx, "input gradient", x, "input");
  if (st != DNL_OK)
    return dnl_error_context(st, "maxpool");
  if (!l->argmax)
    return dnl_error(DNL_ERR_ARG, "maxpool: backward without a forward");
  if (!dx)
    return DNL_OK;
  return ctx->be->maxpool_backward(&s, dy->data, l->argmax, dx->data);
}

static dnl_status resize_check_size(const char *what, int oh, int ow) {
  if (oh < 1 || ow < 1)
    return dnl_error(DNL_ERR_ARG, "resize: %s size %dx%d is empty", what, oh, ow);
  return DNL_OK;
}

dnl_status resize_forward(layer_ctx *ctx, const tensor *x, int oh, int ow, bool align_corners,
                          tensor *y) {
  dnl_status st = tensor_expect(x, "input", 4, -1, -1, -1, -1);
  if (st != DNL_OK)
    return dnl_error_context(st, "resize");
  DNL_TRY(resize_check_size("input", x->shape[2], x->shape[3]));
  DNL_TRY(resize_check_size("output", oh, ow));
  resize_shape s = {.n = x->shape[0], .c = x->shape[1], .ih = x->shape[2], .iw = x->shape[3],
                    .oh = oh, .ow = ow, .align_corners = align_corners};
  DNL_TRY(arena_tensor4(ctx->act, y, s.n, s.c, oh, ow));
  return ctx->be->resize_forward(&s, x->data, y->data);
}

dnl_status resize_backward(layer_ctx *ctx, const tensor *dy, bool align_corners, tensor *dx) {
  dnl_status st = tensor_expect(dy, "output gradient", 4, -1, -1, -1, -1);
  if (st == DNL_OK && dx)
    st = tensor_expect(dx, "input gradient", 4, dy->shape[0], dy->shape[1], -1, -1);
  if (st != DNL_OK)
    return dnl_error_context(st, "resize");
  if (!dx)
    return DNL_OK;
  DNL_TRY(resize_check_size("input", dx->shape[2], dx->shape[3]));
  resize_shape s = {.n = dy->shape[0], .c = dy->shape[1], .ih = dx->shape[2],
                    .iw = dx->shape[3], .oh = dy->shape[2], .ow = dy->shape[3],
                    .align_corners = align_corners};
  return ctx->be->resize_backward(&s, dy->data, dx->data);
}
