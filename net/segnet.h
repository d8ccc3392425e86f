/* The segmentation network of SPEC 2: dilated ResNet backbone, the head around
 * a context block, and the auxiliary head on layer3. Both logit maps are
 * upsampled (bilinear, align_corners true) to the input size. */
#ifndef DNL_SEGNET_H
#define DNL_SEGNET_H

#include "blocks/block.h"
#include "lib/layers/dropout.h"
#include "net/resnet.h"

typedef struct segnet_config {
  resnet_config backbone;
  int head_width;     /* 512 in the paper; the block's C */
  int classes;
  float dropout;      /* Dropout2d before both classifiers: 0.1 */
  bool aux;           /* auxiliary head on layer3 */
  block_config block; /* block.channels is set to head_width */
} segnet_config;

typedef struct seg_head {
  cbr conva;
  const block_ops *block_ops;
  block *block;
  cbr convb;
  cbr bottleneck;
  dropout2d_layer drop;
  conv2d_layer cls;
  /* saved by forward */
  tensor x, a, z, b, cat, bott, dropped;
} seg_head;

typedef struct aux_head {
  cbr conv;
  dropout2d_layer drop;
  conv2d_layer cls;
  tensor x, h, dropped, logits;
} aux_head;

typedef struct segnet {
  segnet_config cfg;
  resnet backbone;
  seg_head head;
  aux_head aux;
  /* saved by forward */
  tensor layer3, layer4, logits_small, aux_small;
  bool aux_ran;
} segnet;

dnl_status segnet_init(segnet *net, param_store *ps, const segnet_config *cfg);
void segnet_free(segnet *net);
/* images [n, 3, H, W] -> logits [n, classes, H, W]; aux_logits likewise when the
 * aux head exists and ctx->training (else aux_logits->data is NULL). */
dnl_status segnet_forward(segnet *net, layer_ctx *ctx, const tensor *images, tensor *logits,
                          tensor *aux_logits);
/* d_aux may be NULL. */
dnl_status segnet_backward(segnet *net, layer_ctx *ctx, const tensor *d_logits,
                           const tensor *d_aux);
/* The context block's maps for one sample of the last forward (see block_ops.attention). */
dnl_status segnet_attention(segnet *net, layer_ctx *ctx, int sample, const int *query_pos,
                            int nq, float *pair_maps, float *unary_map);
/* The context block's term sizes for every sample of the last forward (see
 * block_ops.term_sizes): out[0 .. N-1]. */
dnl_status segnet_block_term_sizes(segnet *net, layer_ctx *ctx, block_term_sizes *out);

#endif
