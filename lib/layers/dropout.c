#include "lib/layers/dropout.h"

#include <stdlib.h>

#include "lib/dist/dist.h"

dnl_status dropout2d_init(dropout2d_layer *l, float p) {
  *l = (dropout2d_layer){0};
  if (!(p >= 0.0f && p < 1.0f))
    return dnl_error(DNL_ERR_ARG, "dropout2d: p = %g outside [0, 1)", (double)p);
  l->p = p;
  return DNL_OK;
}

/* One draw per (sample, channel) in that order, so a seed fixes the mask. Data-
 * parallel ranks draw the mask of the global batch and keep their samples'
 * part (rank r holds samples r * n .. (r + 1) * n - 1), as one process would. */
static dnl_status draw_mask(dropout2d_layer *l, layer_ctx *ctx, int n, int c) {
  if (!ctx->rng)
    return dnl_error(DNL_ERR_ARG, "dropout2d: training forward needs ctx->rng");
  const size_t count = (size_t)n * c;
  float *host = malloc((count ? count : 1) * sizeof(float));
  if (!host)
    return dnl_error(DNL_ERR_NOMEM, "dropout2d: host mask of %zu floats", count);
  const float keep_scale = 1.0f / (1.0f - l->p);
  const size_t first = (size_t)dist_rank(ctx->dist) * count;
  const size_t all = (size_t)dist_size(ctx->dist) * count;
  for (size_t i = 0; i < all; i++) {
    const float v = rng_uniform(ctx->rng) < l->p ? 0.0f : keep_scale;
    if (i >= first && i < first + count)
      host[i - first] = v;
  }
  int shape[1] = {(int)count};
  dnl_status st = arena_tensor(ctx->act, &l->scale, 1, shape);
  if (st == DNL_OK)
    st = ctx->be->memcpy(l->scale.data, ctx->be->device, host, DEVICE_CPU,
                         count * sizeof(float));
  free(host);
  return st;
}

dnl_status dropout2d_forward(dropout2d_layer *l, layer_ctx *ctx, const tensor *x, tensor *y) {
  dnl_status st = tensor_expect(x, "input", 4, -1, -1, -1, -1);
  if (st != DNL_OK)
    return dnl_error_context(st, "dropout2d");
  const int n = x->shape[0], c = x->shape[1], hw = x->shape[2] * x->shape[3];
  DNL_TRY(arena_tensor(ctx->act, y, 4, x->shape));
  l->applied = ctx->training && l->p > 0.0f;
  if (!l->applied)
    return ctx->be->memcpy(y->data, ctx->be->device, x->data, x->device,
                           tensor_numel(x) * sizeof(float));
  DNL_TRY(draw_mask(l, ctx, n, c));
  return ctx->be->channel_scale_forward(n, c, hw, x->data, l->scale.data, y->data);
}

dnl_status dropout2d_backward(dropout2d_layer *l, layer_ctx *ctx, const tensor *dy,
                              tensor *dx) {
  dnl_status st = tensor_expect(dy, "output gradient", 4, -1, -1, -1, -1);
  if (st == DNL_OK && dx)
    st = tensor_expect_same(dx, "input gradient", dy, "output gradient");
  if (st != DNL_OK)
    return dnl_error_context(st, "dropout2d");
  if (!dx)
    return DNL_OK;
  const int n = dy->shape[0], c = dy->shape[1], hw = dy->shape[2] * dy->shape[3];
  if (!l->applied)
    return ctx->be->axpy(tensor_numel(dy), 1.0f, dy->data, dx->data);
  if (tensor_numel(&l->scale) != (size_t)n * c)
    return dnl_error(DNL_ERR_SHAPE, "dropout2d: output gradient has %d x %d channels, the "
                                    "forward's mask %zu",
                     n, c, tensor_numel(&l->scale));
  return ctx->be->channel_scale_backward(n, c, hw, dy->data, l->scale.data, dx->data);
}
