/* Stateless layers: ReLU, element-wise add, channel concat, channel softmax. */
#ifndef DNL_ELEMENTWISE_H
#define DNL_ELEMENTWISE_H

#include "lib/layers/layer.h"

/* y = max(x, 0) into a new arena tensor */
dnl_status relu_forward(layer_ctx *ctx, const tensor *x, tensor *y);
/* x = max(x, 0) in place (x is then also the "y" of relu_backward) */
dnl_status relu_forward_inplace(layer_ctx *ctx, tensor *x);
/* dx += dy where y > 0 */
dnl_status relu_backward(layer_ctx *ctx, const tensor *y, const tensor *dy, tensor *dx);

/* y = a + b (same shapes) */
dnl_status add_forward(layer_ctx *ctx, const tensor *a, const tensor *b, tensor *y);
/* da += dy, db += dy (either may be NULL) */
dnl_status add_backward(layer_ctx *ctx, const tensor *dy, tensor *da, tensor *db);

/* y = [a, b] along channels (same n, h, w) */
dnl_status concat_forward(layer_ctx *ctx, const tensor *a, const tensor *b, tensor *y);
/* da += dy[:, :ca], db += dy[:, ca:] (either may be NULL) */
dnl_status concat_backward(layer_ctx *ctx, const tensor *dy, tensor *da, tensor *db);

/* softmax over the channel axis of [n, c, h, w] */
dnl_status softmax_forward(layer_ctx *ctx, const tensor *x, tensor *y);
dnl_status softmax_backward(layer_ctx *ctx, const tensor *y, const tensor *dy, tensor *dx);

#endif
