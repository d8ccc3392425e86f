/* Batch norm layer (PyTorch BatchNorm2d: affine, momentum 0.1, eps 1e-5).
 * Parameters "<name>.weight", "<name>.bias"; buffers "<name>.running_mean",
 * "<name>.running_var" (init 0 and 1). Training mode (ctx->training) uses batch
 * statistics and updates the running ones; eval mode uses the running ones.
 * With several data-parallel ranks in ctx->dist, training mode uses the
 * statistics of the global batch, forward and backward (synchronised BN):
 * every rank must run the same layers in the same order (their batch sizes
 * may differ). */
#ifndef DNL_BATCHNORM_H
#define DNL_BATCHNORM_H

#include "lib/layers/layer.h"

typedef struct batchnorm_layer {
  char name[LAYER_NAME_MAX];
  int channels;
  float eps, momentum;
  tensor weight, weight_grad; /* [c] init 1 */
  tensor bias, bias_grad;     /* [c] init 0 */
  tensor running_mean;        /* [c] */
  tensor running_var;         /* [c] */
  tensor save_mean;           /* [c] from the arena, set by a training forward */
  tensor save_invstd;         /* [c] */
  bool saved_training;        /* mode of the last forward */
} batchnorm_layer;

dnl_status batchnorm_init(batchnorm_layer *l, param_store *ps, const char *name, int channels);
dnl_status batchnorm_forward(batchnorm_layer *l, layer_ctx *ctx, const tensor *x, tensor *y);
/* Eval mode only (running statistics): normalises x in place. Inference uses
 * it to keep one buffer per conv + BN instead of two. */
dnl_status batchnorm_forward_inplace(batchnorm_layer *l, layer_ctx *ctx, tensor *x);
/* Backward of the last forward (training mode: through the batch statistics). */
dnl_status batchnorm_backward(batchnorm_layer *l, layer_ctx *ctx, const tensor *x,
                              const tensor *dy, tensor *dx);

#endif
