/* 2-D convolution layer: weight [cout, cin, k, k], optional bias [cout]. */
#ifndef DNL_CONV2D_H
#define DNL_CONV2D_H

#include "lib/layers/layer.h"

typedef struct conv2d_config {
  int cin, cout, k;
  int stride, pad, dilation; /* stride and dilation 0 mean 1 */
  bool bias;
  param_kind kind;         /* PARAM_TRAINABLE or PARAM_NO_DECAY */
  param_init weight_init;  /* e.g. conv2d_default_init() */
  param_init bias_init;
} conv2d_config;

typedef struct conv2d_layer {
  char name[LAYER_NAME_MAX];
  conv2d_config cfg;
  tensor weight, weight_grad; /* [cout, cin, k, k] */
  tensor bias, bias_grad;     /* [cout], only with cfg.bias */
} conv2d_layer;

/* PyTorch's default conv init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias. */
param_init conv2d_default_init(int cin, int k);

dnl_status conv2d_init(conv2d_layer *l, param_store *ps, const char *name,
                       const conv2d_config *cfg);
dnl_status conv2d_forward(conv2d_layer *l, layer_ctx *ctx, const tensor *x, tensor *y);
dnl_status conv2d_backward(conv2d_layer *l, layer_ctx *ctx, const tensor *x, const tensor *dy,
                           tensor *dx);

#endif
