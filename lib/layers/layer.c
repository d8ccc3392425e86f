#include "lib/layers/layer.h"

#include <stdio.h>

void layer_ctx_init(layer_ctx *ctx, const dnl_backend *be, arena *act, rng *r) {
  *ctx = (layer_ctx){.be = be, .act = act, .rng = r};
}

void layer_ctx_free(layer_ctx *ctx) {
  if (ctx->ws)
    ctx->be->free(ctx->ws);
  ctx->ws = NULL;
  ctx->ws_size = 0;
}

dnl_status layer_ctx_workspace(layer_ctx *ctx, size_t bytes, void **out) {
  if (bytes > ctx->ws_size) {
    if (ctx->ws)
      ctx->be->free(ctx->ws);
    ctx->ws = NULL;
    ctx->ws_size = 0;
    DNL_TRY(ctx->be->alloc(bytes, &ctx->ws));
    ctx->ws_size = bytes;
  }
  *out = ctx->ws;
  return DNL_OK;
}

dnl_status layer_ctx_zeros(layer_ctx *ctx, tensor *t, int ndim, const int *shape) {
  DNL_TRY(arena_tensor(ctx->act, t, ndim, shape));
  return ctx->be->fill(t->data, tensor_numel(t), 0.0f);
}

dnl_status layer_ctx_zeros_like(layer_ctx *ctx, tensor *t, const tensor *like) {
  return layer_ctx_zeros(ctx, t, like->ndim, like->shape);
}

dnl_status layer_param_name(char *out, size_t len, const char *prefix, const char *leaf) {
  int n = snprintf(out, len, "%s.%s", prefix, leaf);
  if (n < 0 || (size_t)n >= len)
    return dnl_error(DNL_ERR_ARG, "parameter name too long: %s.%s", prefix, leaf);
  return DNL_OK;
}
