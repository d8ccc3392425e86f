#include "net/segnet.h"

#include <string.h>

#include "lib/layers/elementwise.h"
#include "lib/layers/pooling.h"

static conv2d_config conv3x3(int cin, int cout) {
  return (conv2d_config){
      .cin = cin, .cout = cout, .k = 3, .pad = 1, .weight_init = conv2d_default_init(cin, 3)};
}

static conv2d_config classifier(int cin, int classes) {
  return (conv2d_config){.cin = cin,
                         .cout = classes,
                         .k = 1,
                         .bias = true,
                         .weight_init = conv2d_default_init(cin, 1),
                         .bias_init = conv2d_default_init(cin, 1)};
}

static dnl_status head_init(seg_head *h, param_store *ps, const segnet_config *cfg, int in_ch) {
  const int w = cfg->head_width;
  conv2d_config ca = conv3x3(in_ch, w), cb = conv3x3(w, w), cbot = conv3x3(w + in_ch, w);
  conv2d_config ccls = classifier(w, cfg->classes);
  DNL_TRY(cbr_init(&h->conva, ps, "head.conva", "head.conva_bn", &ca, true));
  block_config bc = cfg->block;
  bc.channels = w;
  /* create resolves the auto choices itself */
  DNL_TRY(block_lookup(bc.variant, &h->block_ops));
  DNL_TRY(h->block_ops->create(&bc, ps, "head.block", &h->block));
  DNL_TRY(cbr_init(&h->convb, ps, "head.convb", "head.convb_bn", &cb, true));
  DNL_TRY(cbr_init(&h->bottleneck, ps, "head.bottleneck", "head.bottleneck_bn", &cbot, true));
  DNL_TRY(dropout2d_init(&h->drop, cfg->dropout));
  return conv2d_init(&h->cls, ps, "head.cls", &ccls);
}

static dnl_status aux_init(aux_head *a, param_store *ps, const segnet_config *cfg, int in_ch) {
  conv2d_config c = conv3x3(in_ch, cfg->head_width);
  conv2d_config ccls = classifier(cfg->head_width, cfg->classes);
  DNL_TRY(cbr_init(&a->conv, ps, "aux.conv", "aux.bn", &c, true));
  DNL_TRY(dropout2d_init(&a->drop, cfg->dropout));
  return conv2d_init(&a->cls, ps, "aux.cls", &ccls);
}

dnl_status segnet_init(segnet *net, param_store *ps, const segnet_config *cfg) {
  memset(net, 0, sizeof *net);
  net->cfg = *cfg;
  if (cfg->classes < 1)
    return dnl_error(DNL_ERR_ARG, "model.classes: %d, expected at least 1", cfg->classes);
  if (cfg->head_width < 2)
    return dnl_error(DNL_ERR_ARG, "model.head_width: %d, expected at least 2", cfg->head_width);
  if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
    return dnl_error(DNL_ERR_ARG, "model.dropout: %g, expected [0, 1)", (double)cfg->dropout);
  DNL_TRY(resnet_init(&net->backbone, ps, &cfg->backbone));
  DNL_TRY(head_init(&net->head, ps, cfg, net->backbone.out_ch[3]));
  if (cfg->aux)
    DNL_TRY(aux_init(&net->aux, ps, cfg, net->backbone.out_ch[2]));
  return DNL_OK;
}

void segnet_free(segnet *net) {
  if (net->head.block_ops && net->head.block)
    net->head.block_ops->destroy(net->head.block);
  net->head.block = NULL;
  resnet_free(&net->backbone);
}

static dnl_status head_forward(seg_head *h, layer_ctx *ctx, const tensor *x, tensor *logits) {
  h->x = *x;
  DNL_TRY(cbr_forward(&h->conva, ctx, x, &h->a));
  DNL_TRY(h->block_ops->forward(h->block, ctx, &h->a, &h->z));
  DNL_TRY(cbr_forward(&h->convb, ctx, &h->z, &h->b));
  /* layer4's channels first, as the original code's torch.cat([x, output], 1) (SPEC 2) */
  DNL_TRY(concat_forward(ctx, x, &h->b, &h->cat));
  DNL_TRY(cbr_forward(&h->bottleneck, ctx, &h->cat, &h->bott));
  DNL_TRY(dropout2d_forward(&h->drop, ctx, &h->bott, &h->dropped));
  return conv2d_forward(&h->cls, ctx, &h->dropped, logits);
}

static dnl_status head_backward(seg_head *h, layer_ctx *ctx, const tensor *dlogits, tensor *dx) {
  tensor dd, dbott, dcat, db, dz, da;
  DNL_TRY(layer_ctx_zeros_like(ctx, &dd, &h->dropped));
  DNL_TRY(conv2d_backward(&h->cls, ctx, &h->dropped, dlogits, &dd));
  DNL_TRY(layer_ctx_zeros_like(ctx, &dbott, &h->bott));
  DNL_TRY(dropout2d_backward(&h->drop, ctx, &dd, &dbott));
  DNL_TRY(layer_ctx_zeros_like(ctx, &dcat, &h->cat));
  DNL_TRY(cbr_backward(&h->bottleneck, ctx, &dbott, &dcat));
  DNL_TRY(layer_ctx_zeros_like(ctx, &db, &h->b));
  DNL_TRY(concat_backward(ctx, &dcat, dx, &db));
  DNL_TRY(layer_ctx_zeros_like(ctx, &dz, &h->z));
  DNL_TRY(cbr_backward(&h->convb, ctx, &db, &dz));
  DNL_TRY(layer_ctx_zeros_like(ctx, &da, &h->a));
  DNL_TRY(h->block_ops->backward(h->block, ctx, &h->a, &dz, &da));
  return cbr_backward(&h->conva, ctx, &da, dx);
}

static dnl_status aux_forward(aux_head *a, layer_ctx *ctx, const tensor *x, tensor *logits) {
  a->x = *x;
  DNL_TRY(cbr_forward(&a->conv, ctx, x, &a->h));
  DNL_TRY(dropout2d_forward(&a->drop, ctx, &a->h, &a->dropped));
  return conv2d_forward(&a->cls, ctx, &a->dropped, logits);
}

static dnl_status aux_backward(aux_head *a, layer_ctx *ctx, const tensor *dlogits, tensor *dx) {
  tensor dd, dh;
  DNL_TRY(layer_ctx_zeros_like(ctx, &dd, &a->dropped));
  DNL_TRY(conv2d_backward(&a->cls, ctx, &a->dropped, dlogits, &dd));
  DNL_TRY(layer_ctx_zeros_like(ctx, &dh, &a->h));
  DNL_TRY(dropout2d_backward(&a->drop, ctx, &dd, &dh));
  return cbr_backward(&a->conv, ctx, &dh, dx);
}

dnl_status segnet_forward(segnet *net, layer_ctx *ctx, const tensor *images, tensor *logits,
                          tensor *aux_logits) {
  const int h = images->shape[2], w = images->shape[3];
  DNL_TRY(resnet_forward(&net->backbone, ctx, images, &net->layer3, &net->layer4));
  DNL_TRY(head_forward(&net->head, ctx, &net->layer4, &net->logits_small));
  DNL_TRY(resize_forward(ctx, &net->logits_small, h, w, true, logits));
  net->aux_ran = net->cfg.aux && ctx->training;
  memset(aux_logits, 0, sizeof *aux_logits);
  if (net->aux_ran) {
    DNL_TRY(aux_forward(&net->aux, ctx, &net->layer3, &net->aux_small));
    DNL_TRY(resize_forward(ctx, &net->aux_small, h, w, true, aux_logits));
  }
  return DNL_OK;
}

dnl_status segnet_backward(segnet *net, layer_ctx *ctx, const tensor *d_logits,
                           const tensor *d_aux) {
  tensor d_small, d4, d3;
  DNL_TRY(layer_ctx_zeros_like(ctx, &d_small, &net->logits_small));
  DNL_TRY(resize_backward(ctx, d_logits, true, &d_small));
  DNL_TRY(layer_ctx_zeros_like(ctx, &d4, &net->layer4));
  DNL_TRY(head_backward(&net->head, ctx, &d_small, &d4));
  const tensor *d3p = NULL;
  if (net->aux_ran && d_aux) {
    tensor d_aux_small;
    DNL_TRY(layer_ctx_zeros_like(ctx, &d_aux_small, &net->aux_small));
    DNL_TRY(resize_backward(ctx, d_aux, true, &d_aux_small));
    DNL_TRY(layer_ctx_zeros_like(ctx, &d3, &net->layer3));
    DNL_TRY(aux_backward(&net->aux, ctx, &d_aux_small, &d3));
    d3p = &d3;
  }
  return resnet_backward(&net->backbone, ctx, d3p, &d4);
}

dnl_status segnet_attention(segnet *net, layer_ctx *ctx, int sample, const int *query_pos, int nq,
                            float *pair_maps, float *unary_map) {
  return net->head.block_ops->attention(net->head.block, ctx, &net->head.a, sample, query_pos, nq,
                                        pair_maps, unary_map);
}

dnl_status segnet_block_term_sizes(segnet *net, layer_ctx *ctx, block_term_sizes *out) {
  return net->head.block_ops->term_sizes(net->head.block, ctx, &net->head.a, out);
}
