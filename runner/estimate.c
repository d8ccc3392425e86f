#include "runner/estimate.h"

#include <string.h>

#include "lib/core/arena.h"
#include "lib/layers/layer.h"
#include "net/segnet.h"

/* The probe's side is 8k + 1, as the paper's crops are, so that every stage's
 * map keeps nearly the crop's proportions (769 -> 385, 193, 97; 65 -> 33, 17, 9). */
#define PROBE 65

/* Side of the output-stride-8 maps for an input side: the deep stem's first
 * conv (3x3, stride 2, pad 1), the max pool (3x3, stride 2, pad 1, ceil mode)
 * and layer2's stride-2 3x3, each by the layers' own geometry. */
static dnl_status feature_side(int side, int *out) {
  conv2d_shape c;
  DNL_TRY(conv2d_shape_init(&c, 1, 1, side, side, 1, 3, 2, 1, 1));
  pool_shape p;
  DNL_TRY(pool_shape_init(&p, 1, 1, c.oh, c.ow, 3, 2, 1, true));
  DNL_TRY(conv2d_shape_init(&c, 1, 1, p.oh, p.ow, 1, 3, 2, 1, 1));
  *out = c.oh;
  return DNL_OK;
}

/* Forward FLOPs of the block's attention products: 2 P^2 (C' + C) per sample
 * when the variant has a pairwise term (the convolutions are counted by the
 * layers in layer_ctx.flops). */
static double attention_flops(const block_config *b, double p) {
  const block_ops *ops = block_find(b->variant);
  if (!ops || !ops->has_pairwise)
    return 0.0;
  double inner = b->inner > 0 ? b->inner : b->channels / 2;
  return 2.0 * p * p * (inner + b->channels);
}

dnl_status run_estimate_cost(const run_config *cfg, int classes, run_estimate *out) {
  memset(out, 0, sizeof *out);
  segnet_config nc = cfg->net;
  nc.classes = classes;
  param_store ps;
  params_init(&ps);
  segnet net;
  arena act = {0};
  layer_ctx ctx = {0};
  rng r;
  rng_seed(&r, 1);
  tensor x = {0};
  dnl_status st = segnet_init(&net, &ps, &nc);
  if (st == DNL_OK)
    st = params_finalize(&ps, cpu_backend());
  if (st == DNL_OK)
    st = params_init_values(&ps, 1);
  if (st == DNL_OK)
    st = arena_init(&act, cpu_backend(), 0);
  if (st == DNL_OK) {
    layer_ctx_init(&ctx, cpu_backend(), &act, &r);
    ctx.training = true;
    int shape[4] = {1, 3, PROBE, PROBE};
    st = tensor_alloc(&x, DEVICE_CPU, 4, shape);
  }
  tensor logits, aux;
  if (st == DNL_OK)
    st = segnet_forward(&net, &ctx, &x, &logits, &aux);
  const double conv_flops = ctx.flops;
  if (st == DNL_OK) {
    tensor dl, da;
    st = layer_ctx_zeros_like(&ctx, &dl, &logits);
    if (st == DNL_OK && aux.data)
      st = layer_ctx_zeros_like(&ctx, &da, &aux);
    if (st == DNL_OK)
      st = segnet_backward(&net, &ctx, &dl, aux.data ? &da : NULL);
  }
  int side_probe = 0, side_crop = 0;
  if (st == DNL_OK)
    st = feature_side(PROBE, &side_probe);
  if (st == DNL_OK)
    st = feature_side(cfg->crop, &side_crop);
  if (st == DNL_OK) {
    /* activations scale with the maps' area, which the deep maps dominate */
    const double p_crop = (double)side_crop * side_crop;
    const double scale = p_crop / ((double)side_probe * side_probe);
    out->params = params_count_trainable(&ps);
    out->param_bytes = (double)(ps.total * 3) * sizeof(float);
    out->activation_bytes = ((double)act.peak + (double)ctx.ws_size) * scale * cfg->batch;
    if (!cfg->net.block.fused)
      out->activation_bytes += 4.0 * p_crop * p_crop * cfg->batch;
    out->flops = 3.0 * cfg->batch * (conv_flops * scale + attention_flops(&cfg->net.block, p_crop));
  }
  tensor_free(&x);
  layer_ctx_free(&ctx);
  arena_free(&act);
  segnet_free(&net);
  params_free(&ps);
  return st;
}
