/* Dropout2d: zeroes whole channels with probability p in training, scales the
 * kept ones by 1 / (1 - p); the identity in eval. Masks come from ctx->rng. */
#ifndef DNL_DROPOUT_H
#define DNL_DROPOUT_H

#include "lib/layers/layer.h"

typedef struct dropout2d_layer {
  float p;
  tensor scale;  /* [n * c] from the arena: 0 or 1/(1-p), set by a training forward */
  bool applied;  /* the last forward dropped (training and p > 0) */
} dropout2d_layer;

dnl_status dropout2d_init(dropout2d_layer *l, float p);
dnl_status dropout2d_forward(dropout2d_layer *l, layer_ctx *ctx, const tensor *x, tensor *y);
dnl_status dropout2d_backward(dropout2d_layer *l, layer_ctx *ctx, const tensor *dy,
                              tensor *dx);

#endif
