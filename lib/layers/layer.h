/* lib/layers/ holds the layers (convolution, batch and group norm, pooling,
 * pointwise ops, dropout, attention, losses) with their forward and backward
 * passes written against the backend op table. They depend on lib/core, and on
 * lib/dist for the batch statistics that synchronised BN sums over ranks.
 *
 * What every layer's forward and backward receives.
 *
 * Layer conventions (lib/layers/):
 *  - xxx_init(layer, params, name, config) registers parameters under
 *    "<name>.weight" etc.; values exist after params_finalize().
 *  - xxx_forward(layer, ctx, x, y) allocates y from ctx->act and fills it; it
 *    keeps in the layer whatever the backward needs (valid until arena reset).
 *  - xxx_backward(layer, ctx, x, y, dy, dx) ACCUMULATES into dx (skipped when
 *    NULL) and into the parameter gradients; callers zero dx first.
 *  - shapes are checked; a mismatch is a DNL_ERR_SHAPE naming the layer. */
#ifndef DNL_LAYER_H
#define DNL_LAYER_H

#include <stdbool.h>

#include "lib/core/arena.h"
#include "lib/core/backend.h"
#include "lib/core/params.h"
#include "lib/core/rng.h"
#include "lib/core/tensor.h"

#define LAYER_NAME_MAX 96

typedef struct layer_ctx {
  const dnl_backend *be;
  arena *act;     /* per-step activations, reset every iteration */
  bool training;  /* batch statistics, dropout */
  rng *rng;       /* dropout masks */
  void *ws;       /* scratch shared by all layers, grown on demand */
  size_t ws_size; /* bytes */
  double flops;   /* forward multiply-adds x 2 of the convolutions run so far */
  struct dist *dist; /* data-parallel ranks (lib/dist/dist.h): BN sums statistics over
                        them, dropout draws their global masks; NULL: one process */
} layer_ctx;

void layer_ctx_init(layer_ctx *ctx, const dnl_backend *be, arena *act, rng *r);
void layer_ctx_free(layer_ctx *ctx);
/* Scratch of at least `bytes` (contents undefined; reused by the next call). */
dnl_status layer_ctx_workspace(layer_ctx *ctx, size_t bytes, void **out);
/* A zeroed tensor from the arena (for gradients that layers accumulate into). */
dnl_status layer_ctx_zeros(layer_ctx *ctx, tensor *t, int ndim, const int *shape);
dnl_status layer_ctx_zeros_like(layer_ctx *ctx, tensor *t, const tensor *like);

/* "<prefix>.<leaf>" into out (error when too long). */
dnl_status layer_param_name(char *out, size_t len, const char *prefix, const char *leaf);

#endif
