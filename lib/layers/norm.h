/* Instance norm and layer norm, each with a per-channel affine; both are cases
 * of group norm (backend group_norm_*):
 *  - NORM_INSTANCE: statistics per sample and channel over H x W;
 *  - NORM_LAYER: statistics per sample over C x H x W.
 * Parameters "<name>.weight" [C] (init 1) and "<name>.bias" [C] (init 0),
 * eps 1e-5. No running statistics: training and evaluation compute the same. */
#ifndef DNL_NORM_H
#define DNL_NORM_H

#include "lib/layers/layer.h"

typedef enum { NORM_INSTANCE, NORM_LAYER } norm_kind;

typedef struct norm_layer {
  char name[LAYER_NAME_MAX];
  norm_kind kind;
  int channels;
  float eps;
  tensor weight, weight_grad; /* [C] */
  tensor bias, bias_grad;     /* [C] */
  tensor save_mean;           /* [N * groups] from the arena, set by forward */
  tensor save_invstd;         /* [N * groups] */
} norm_layer;

dnl_status norm_init(norm_layer *l, param_store *ps, const char *name, norm_kind kind,
                     int channels);
dnl_status norm_forward(norm_layer *l, layer_ctx *ctx, const tensor *x, tensor *y);
/* Backward of the last forward (its statistics). */
dnl_status norm_backward(norm_layer *l, layer_ctx *ctx, const tensor *x, const tensor *dy,
                         tensor *dx);

#endif
