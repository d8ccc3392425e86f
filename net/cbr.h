/* conv -> batch norm -> optional ReLU, the unit of the stem and the heads. */
#ifndef DNL_CBR_H
#define DNL_CBR_H

#include "lib/layers/batchnorm.h"
#include "lib/layers/conv2d.h"

typedef struct cbr {
  conv2d_layer conv;
  batchnorm_layer bn;
  bool relu;
  /* saved by forward (arena) */
  tensor x; /* input */
  tensor c; /* conv output */
  tensor y; /* bn output (ReLU applied in place when relu) */
} cbr;

/* Conv without bias named conv_name, BN named bn_name. */
dnl_status cbr_init(cbr *u, param_store *ps, const char *conv_name, const char *bn_name,
                    const conv2d_config *conv, bool relu);
/* In eval mode (ctx->training false) y is the conv's buffer, normalised in place. */
dnl_status cbr_forward(cbr *u, layer_ctx *ctx, const tensor *x, tensor *y);
/* dx may be NULL (first layer) */
dnl_status cbr_backward(cbr *u, layer_ctx *ctx, const tensor *dy, tensor *dx);

/* Kaiming normal, fan_out, ReLU gain: N(0, 2 / (cout * k * k)), as the ResNet code. */
param_init kaiming_fan_out(int cout, int k);

#endif
