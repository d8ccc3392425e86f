#include "net/cbr.h"

#include <math.h>

#include "lib/layers/elementwise.h"

param_init kaiming_fan_out(int cout, int k) {
  return (param_init){PARAM_INIT_NORMAL, 0.0f, sqrtf(2.0f / (float)(cout * k * k))};
}

dnl_status cbr_init(cbr *u, param_store *ps, const char *conv_name, const char *bn_name,
                    const conv2d_config *conv, bool relu) {
  conv2d_config c = *conv;
  c.bias = false;
  DNL_TRY(conv2d_init(&u->conv, ps, conv_name, &c));
  DNL_TRY(batchnorm_init(&u->bn, ps, bn_name, conv->cout));
  u->relu = relu;
  return DNL_OK;
}

dnl_status cbr_forward(cbr *u, layer_ctx *ctx, const tensor *x, tensor *y) {
  u->x = *x;
  DNL_TRY(conv2d_forward(&u->conv, ctx, x, &u->c));
  if (!ctx->training) {
    /* inference keeps nothing for a backward: BN and ReLU in the conv's buffer */
    DNL_TRY(batchnorm_forward_inplace(&u->bn, ctx, &u->c));
    u->y = u->c;
    if (u->relu)
      DNL_TRY(relu_forward_inplace(ctx, &u->y));
    *y = u->y;
    return DNL_OK;
  }
  DNL_TRY(batchnorm_forward(&u->bn, ctx, &u->c, &u->y));
  if (u->relu)
    DNL_TRY(relu_forward_inplace(ctx, &u->y));
  *y = u->y;
  return DNL_OK;
}

dnl_status cbr_backward(cbr *u, layer_ctx *ctx, const tensor *dy, tensor *dx) {
  const tensor *g = dy;
  tensor d_relu;
  if (u->relu) {
    DNL_TRY(layer_ctx_zeros_like(ctx, &d_relu, &u->y));
    DNL_TRY(relu_backward(ctx, &u->y, dy, &d_relu));
    g = &d_relu;
  }
  tensor dc;
  DNL_TRY(layer_ctx_zeros_like(ctx, &dc, &u->c));
  DNL_TRY(batchnorm_backward(&u->bn, ctx, &u->c, g, &dc));
  return conv2d_backward(&u->conv, ctx, &u->x, &dc, dx);
}
