/* Max pooling (PyTorch MaxPool2d incl. ceil mode) and bilinear resize
 * (F.interpolate mode bilinear, align_corners true or false). */
#ifndef DNL_POOLING_H
#define DNL_POOLING_H

#include "lib/layers/layer.h"

typedef struct maxpool_layer {
  int k, stride, pad;
  bool ceil_mode;
  int32_t *argmax; /* from the arena, set by forward */
} maxpool_layer;

void maxpool_init(maxpool_layer *l, int k, int stride, int pad, bool ceil_mode);
dnl_status maxpool_forward(maxpool_layer *l, layer_ctx *ctx, const tensor *x, tensor *y);
dnl_status maxpool_backward(maxpool_layer *l, layer_ctx *ctx, const tensor *x,
                            const tensor *dy, tensor *dx);

/* y = resize(x) to oh x ow */
dnl_status resize_forward(layer_ctx *ctx, const tensor *x, int oh, int ow, bool align_corners,
                          tensor *y);
/* dx += resize^T(dy); the sizes come from dy and dx */
dnl_status resize_backward(layer_ctx *ctx, const tensor *dy, bool align_corners, tensor *dx);

#endif
