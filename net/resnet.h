/* Deep-stem ("3x3") ResNet dilated to output stride 8 (SPEC 2), with a width
 * multiplier so that a tiny CPU model and the paper's ResNet-101 are one code.
 * Parameter names: backbone.prefix.conv1.weight ..., backbone.layer3.0.conv2.weight,
 * backbone.layer1.0.downsample.0.weight / .1.* */
#ifndef DNL_RESNET_H
#define DNL_RESNET_H

#include "lib/layers/pooling.h"
#include "net/cbr.h"

typedef enum { RESNET_BASIC, RESNET_BOTTLENECK } resnet_block_kind;

typedef struct resnet_config {
  int depth;        /* 18, 34, 50 or 101: block kind and blocks per stage */
  int layers[4];    /* blocks per stage; all > 0 overrides depth's (e.g. 1,1,1,1) */
  float width;      /* multiplier of the stem (64, 64, 128) and planes (64..512); 1 = paper */
  int planes[4];    /* planes per stage; all > 0 overrides the width-scaled 64..512 */
} resnet_config;

typedef struct resnet_unit {
  cbr conv[3];   /* bottleneck: 1x1, 3x3, 1x1; basic: 3x3, 3x3 */
  int nconv;
  bool has_down;
  cbr down;      /* 1x1 projection + BN */
  tensor x;      /* input */
  tensor out;    /* relu(last + identity) */
} resnet_unit;

typedef struct resnet {
  resnet_block_kind kind;
  int layers[4];
  int stem_ch[3];
  int out_ch[4];  /* channels of layer1..layer4 outputs */
  cbr stem[3];
  maxpool_layer pool;
  tensor pool_in;
  resnet_unit *units;
  int nunits;
  int stage_end[4]; /* index one past the last unit of each stage */
  /* eval mode: the two buffers the units' outputs alternate between (kept from
   * forward to forward, so that a sliding-window pass reuses them) */
  float *eval_slot[2];
  size_t eval_cap[2]; /* floats */
  const dnl_backend *eval_be;
} resnet;

dnl_status resnet_resolve(const resnet_config *cfg, resnet_block_kind *kind, int layers[4]);
dnl_status resnet_init(resnet *r, param_store *ps, const resnet_config *cfg);
void resnet_free(resnet *r);
/* x [n, 3, H, W] -> layer3 [n, out_ch[2], H/8, W/8], layer4 [n, out_ch[3], ...].
 * In eval mode (ctx->training false) each unit's temporaries are released as
 * soon as its output is computed and the outputs alternate between two
 * buffers of the resnet: the memory is a few feature maps, not their sum;
 * layer3 is then not kept (its data is NULL) and layer4 stays valid until the
 * next forward. */
dnl_status resnet_forward(resnet *r, layer_ctx *ctx, const tensor *x, tensor *layer3,
                          tensor *layer4);
/* Gradients w.r.t. the two outputs (d_layer3 may be NULL); the input gets none. */
dnl_status resnet_backward(resnet *r, layer_ctx *ctx, const tensor *d_layer3,
                           const tensor *d_layer4);

#endif
