#include "net/resnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/layers/elementwise.h"

dnl_status resnet_resolve(const resnet_config *cfg, resnet_block_kind *kind, int layers[4]) {
  static const int l18[4] = {2, 2, 2, 2}, l34[4] = {3, 4, 6, 3}, l50[4] = {3, 4, 6, 3},
                   l101[4] = {3, 4, 23, 3};
  const int *base;
  switch (cfg->depth) {
  case 18: base = l18, *kind = RESNET_BASIC; break;
  case 34: base = l34, *kind = RESNET_BASIC; break;
  case 50: base = l50, *kind = RESNET_BOTTLENECK; break;
  case 101: base = l101, *kind = RESNET_BOTTLENECK; break;
  default:
    return dnl_error(DNL_ERR_ARG, "model.depth: %d, expected 18, 34, 50 or 101", cfg->depth);
  }
  bool custom = cfg->layers[0] > 0 && cfg->layers[1] > 0 && cfg->layers[2] > 0 &&
                cfg->layers[3] > 0;
  for (int i = 0; i < 4; i++)
    layers[i] = custom ? cfg->layers[i] : base[i];
  return DNL_OK;
}

static int scaled(int c, float width) {
  int v = (int)(c * width + 0.5f);
  return v < 1 ? 1 : v;
}

static dnl_status unit_init(resnet_unit *u, param_store *ps, resnet_block_kind kind,
                            const char *prefix, int cin, int planes, int stride, int dil_first,
                            int dil) {
  char cn[PARAM_NAME_MAX], bn[PARAM_NAME_MAX];
  const int expansion = kind == RESNET_BOTTLENECK ? 4 : 1;
  const int cout = planes * expansion;
  memset(u, 0, sizeof *u);
  if (kind == RESNET_BOTTLENECK) {
    conv2d_config c1 = {.cin = cin, .cout = planes, .k = 1, .weight_init = kaiming_fan_out(planes, 1)};
    conv2d_config c2 = {.cin = planes, .cout = planes, .k = 3, .stride = stride,
                        .pad = dil_first, .dilation = dil_first,
                        .weight_init = kaiming_fan_out(planes, 3)};
    conv2d_config c3 = {.cin = planes, .cout = cout, .k = 1, .weight_init = kaiming_fan_out(cout, 1)};
    const conv2d_config *cs[3] = {&c1, &c2, &c3};
    u->nconv = 3;
    for (int i = 0; i < 3; i++) {
      snprintf(cn, sizeof cn, "%s.conv%d", prefix, i + 1);
      snprintf(bn, sizeof bn, "%s.bn%d", prefix, i + 1);
      DNL_TRY(cbr_init(&u->conv[i], ps, cn, bn, cs[i], i < 2));
    }
  } else {
    conv2d_config c1 = {.cin = cin, .cout = planes, .k = 3, .stride = stride, .pad = dil_first,
                        .dilation = dil_first, .weight_init = kaiming_fan_out(planes, 3)};
    conv2d_config c2 = {.cin = planes, .cout = planes, .k = 3, .pad = dil, .dilation = dil,
                        .weight_init = kaiming_fan_out(planes, 3)};
    const conv2d_config *cs[2] = {&c1, &c2};
    u->nconv = 2;
    for (int i = 0; i < 2; i++) {
      snprintf(cn, sizeof cn, "%s.conv%d", prefix, i + 1);
      snprintf(bn, sizeof bn, "%s.bn%d", prefix, i + 1);
      DNL_TRY(cbr_init(&u->conv[i], ps, cn, bn, cs[i], i == 0));
    }
  }
  if (stride != 1 || cin != cout) {
    conv2d_config cd = {.cin = cin, .cout = cout, .k = 1, .stride = stride,
                        .weight_init = kaiming_fan_out(cout, 1)};
    snprintf(cn, sizeof cn, "%s.downsample.0", prefix);
    snprintf(bn, sizeof bn, "%s.downsample.1", prefix);
    DNL_TRY(cbr_init(&u->down, ps, cn, bn, &cd, false));
    u->has_down = true;
  }
  return DNL_OK;
}

dnl_status resnet_init(resnet *r, param_store *ps, const resnet_config *cfg) {
  memset(r, 0, sizeof *r);
  DNL_TRY(resnet_resolve(cfg, &r->kind, r->layers));
  if (!(cfg->width > 0.0f) || cfg->width > 4.0f)
    return dnl_error(DNL_ERR_ARG, "model.width: %g, expected a multiplier in (0, 4]",
                     (double)cfg->width);
  const int stem[3] = {64, 64, 128};
  int cin = 3;
  for (int i = 0; i < 3; i++) {
    char cn[PARAM_NAME_MAX], bn[PARAM_NAME_MAX];
    r->stem_ch[i] = scaled(stem[i], cfg->width);
    snprintf(cn, sizeof cn, "backbone.prefix.conv%d", i + 1);
    snprintf(bn, sizeof bn, "backbone.prefix.bn%d", i + 1);
    conv2d_config c = {.cin = cin, .cout = r->stem_ch[i], .k = 3, .stride = i == 0 ? 2 : 1,
                       .pad = 1, .weight_init = kaiming_fan_out(r->stem_ch[i], 3)};
    DNL_TRY(cbr_init(&r->stem[i], ps, cn, bn, &c, true));
    cin = r->stem_ch[i];
  }
  maxpool_init(&r->pool, 3, 2, 1, true);
  r->nunits = r->layers[0] + r->layers[1] + r->layers[2] + r->layers[3];
  r->units = calloc((size_t)r->nunits, sizeof *r->units);
  if (!r->units)
    return dnl_error(DNL_ERR_NOMEM, "resnet: %d residual blocks", r->nunits);
  /* stage: planes, stride, dilation of the first block's 3x3, dilation of the rest */
  const int paper_planes[4] = {64, 128, 256, 512};
  const bool custom = cfg->planes[0] > 0 && cfg->planes[1] > 0 && cfg->planes[2] > 0 &&
                      cfg->planes[3] > 0;
  const int strides[4] = {1, 2, 1, 1};
  const int dil_first[4] = {1, 1, 1, 2};
  const int dil_rest[4] = {1, 1, 2, 4};
  const int expansion = r->kind == RESNET_BOTTLENECK ? 4 : 1;
  int at = 0;
  for (int s = 0; s < 4; s++) {
    int p = custom ? cfg->planes[s] : scaled(paper_planes[s], cfg->width);
    for (int b = 0; b < r->layers[s]; b++, at++) {
      char prefix[64];
      snprintf(prefix, sizeof prefix, "backbone.layer%d.%d", s + 1, b);
      DNL_TRY(unit_init(&r->units[at], ps, r->kind, prefix, cin, p, b == 0 ? strides[s] : 1,
                        b == 0 ? dil_first[s] : dil_rest[s], dil_rest[s]));
      cin = p * expansion;
    }
    r->out_ch[s] = cin;
    r->stage_end[s] = at;
  }
  return DNL_OK;
}

static void free_eval_slots(resnet *r) {
  for (int k = 0; k < 2; k++) {
    if (r->eval_slot[k])
      r->eval_be->free(r->eval_slot[k]);
    r->eval_slot[k] = NULL;
    r->eval_cap[k] = 0;
  }
  r->eval_be = NULL;
}

void resnet_free(resnet *r) {
  free_eval_slots(r);
  free(r->units);
  r->units = NULL;
}

static dnl_status unit_forward(resnet_unit *u, layer_ctx *ctx, const tensor *x, tensor *y) {
  u->x = *x;
  tensor h = *x;
  for (int i = 0; i < u->nconv; i++)
    DNL_TRY(cbr_forward(&u->conv[i], ctx, &h, &h));
  tensor identity = *x;
  if (u->has_down)
    DNL_TRY(cbr_forward(&u->down, ctx, x, &identity));
  DNL_TRY(tensor_expect_same(&h, "residual branch", &identity, "identity"));
  /* the last cbr has no ReLU, so its output buffer can take the sum */
  DNL_TRY(ctx->be->axpy(tensor_numel(&h), 1.0f, identity.data, h.data));
  DNL_TRY(relu_forward_inplace(ctx, &h));
  u->out = h;
  *y = h;
  return DNL_OK;
}

/* The unit's gradient temporaries are released when it is done: only dx (the
 * caller's) outlives it, so the backward pass holds one unit's temporaries at
 * a time instead of every gradient of the network. */
static dnl_status unit_backward_grads(resnet_unit *u, layer_ctx *ctx, const tensor *dy,
                                      tensor *dx) {
  tensor dsum;
  DNL_TRY(layer_ctx_zeros_like(ctx, &dsum, &u->out));
  DNL_TRY(relu_backward(ctx, &u->out, dy, &dsum));
  tensor g = dsum;
  for (int i = u->nconv - 1; i >= 0; i--) {
    tensor dxi;
    DNL_TRY(layer_ctx_zeros_like(ctx, &dxi, &u->conv[i].x));
    DNL_TRY(cbr_backward(&u->conv[i], ctx, &g, &dxi));
    g = dxi;
  }
  DNL_TRY(ctx->be->axpy(tensor_numel(&g), 1.0f, g.data, dx->data));
  if (u->has_down)
    return cbr_backward(&u->down, ctx, &dsum, dx);
  return ctx->be->axpy(tensor_numel(&dsum), 1.0f, dsum.data, dx->data);
}

static dnl_status unit_backward(resnet_unit *u, layer_ctx *ctx, const tensor *dy, tensor *dx) {
  const arena_mark m = arena_get_mark(ctx->act);
  const dnl_status st = unit_backward_grads(u, ctx, dy, dx);
  arena_release(ctx->act, m);
  return st;
}

/* Eval slot k with room for n floats (grown when needed: it never holds the
 * input of the unit that writes it). */
static dnl_status eval_slot(resnet *r, layer_ctx *ctx, int k, size_t n, float **out) {
  if (r->eval_be && r->eval_be != ctx->be)
    free_eval_slots(r);
  if (n > r->eval_cap[k]) {
    if (r->eval_slot[k])
      r->eval_be->free(r->eval_slot[k]);
    r->eval_slot[k] = NULL;
    r->eval_cap[k] = 0;
    void *p;
    DNL_TRY(ctx->be->alloc(n * sizeof(float), &p));
    r->eval_slot[k] = p;
    r->eval_cap[k] = n;
    r->eval_be = ctx->be;
  }
  *out = r->eval_slot[k];
  return DNL_OK;
}

/* Eval mode: relu(branch + identity) into slot k, the unit's temporaries released. */
static dnl_status unit_forward_eval(resnet *r, resnet_unit *u, layer_ctx *ctx, const tensor *x,
                                    int k, tensor *y) {
  const arena_mark m = arena_get_mark(ctx->act);
  tensor h = *x, identity = *x;
  dnl_status st = DNL_OK;
  for (int i = 0; st == DNL_OK && i < u->nconv; i++)
    st = cbr_forward(&u->conv[i], ctx, &h, &h);
  if (st == DNL_OK && u->has_down)
    st = cbr_forward(&u->down, ctx, x, &identity);
  if (st == DNL_OK)
    st = tensor_expect_same(&h, "residual branch", &identity, "identity");
  float *dst = NULL;
  if (st == DNL_OK)
    st = eval_slot(r, ctx, k, tensor_numel(&h), &dst);
  if (st == DNL_OK) {
    *y = tensor_view(dst, h.device, h.ndim, h.shape);
    st = ctx->be->add(tensor_numel(&h), h.data, identity.data, y->data);
  }
  if (st == DNL_OK)
    st = relu_forward_inplace(ctx, y);
  arena_release(ctx->act, m);
  u->x = *x;
  u->out = *y;
  return st;
}

static dnl_status forward_eval(resnet *r, layer_ctx *ctx, const tensor *x, tensor *layer3,
                               tensor *layer4) {
  /* the stem's maps are the largest: released once the pool's output is in slot 1 */
  const arena_mark m = arena_get_mark(ctx->act);
  tensor h = *x, pooled;
  dnl_status st = DNL_OK;
  for (int i = 0; st == DNL_OK && i < 3; i++)
    st = cbr_forward(&r->stem[i], ctx, &h, &h);
  r->pool_in = h;
  if (st == DNL_OK)
    st = maxpool_forward(&r->pool, ctx, &r->pool_in, &pooled);
  float *dst = NULL;
  if (st == DNL_OK)
    st = eval_slot(r, ctx, 1, tensor_numel(&pooled), &dst);
  if (st == DNL_OK)
    st = ctx->be->memcpy(dst, ctx->be->device, pooled.data, ctx->be->device,
                         tensor_numel(&pooled) * sizeof(float));
  arena_release(ctx->act, m);
  DNL_TRY(st);
  h = tensor_view(dst, pooled.device, pooled.ndim, pooled.shape);
  for (int i = 0; i < r->nunits; i++)
    DNL_TRY(unit_forward_eval(r, &r->units[i], ctx, &h, i & 1, &h));
  memset(layer3, 0, sizeof *layer3);
  *layer4 = h;
  return DNL_OK;
}

dnl_status resnet_forward(resnet *r, layer_ctx *ctx, const tensor *x, tensor *layer3,
                          tensor *layer4) {
  dnl_status st = tensor_expect(x, "backbone input", 4, -1, 3, -1, -1);
  if (st != DNL_OK)
    return st;
  if (!ctx->training)
    return forward_eval(r, ctx, x, layer3, layer4);
  tensor h = *x;
  for (int i = 0; i < 3; i++)
    DNL_TRY(cbr_forward(&r->stem[i], ctx, &h, &h));
  r->pool_in = h;
  DNL_TRY(maxpool_forward(&r->pool, ctx, &r->pool_in, &h));
  for (int i = 0; i < r->nunits; i++) {
    DNL_TRY(unit_forward(&r->units[i], ctx, &h, &h));
    if (i == r->stage_end[2] - 1)
      *layer3 = h;
  }
  *layer4 = h;
  return DNL_OK;
}

/* The gradient between units alternates between two slots, each the size of
 * the largest unit input: unit i reads its dy from one slot and writes its dx
 * into the other, which held the dy of unit i + 1, no longer needed. */
static dnl_status units_backward(resnet *r, layer_ctx *ctx, const tensor *d_layer3,
                                 const tensor *d_layer4, tensor *d_first) {
  size_t slot_floats = 0;
  for (int i = 0; i < r->nunits; i++) {
    const size_t n = tensor_numel(&r->units[i].x);
    slot_floats = n > slot_floats ? n : slot_floats;
  }
  float *slot[2];
  for (int k = 0; k < 2; k++)
    DNL_TRY(arena_alloc(ctx->act, slot_floats * sizeof(float), (void **)&slot[k]));
  tensor g = *d_layer4;
  for (int i = r->nunits - 1; i >= 0; i--) {
    if (i == r->stage_end[2] - 1 && d_layer3)
      DNL_TRY(ctx->be->axpy(tensor_numel(&g), 1.0f, d_layer3->data, g.data));
    const tensor *x = &r->units[i].x;
    tensor dx = tensor_view(slot[i & 1], x->device, x->ndim, x->shape);
    DNL_TRY(ctx->be->fill(dx.data, tensor_numel(&dx), 0.0f));
    DNL_TRY(unit_backward(&r->units[i], ctx, &g, &dx));
    g = dx;
  }
  *d_first = g;
  return DNL_OK;
}

dnl_status resnet_backward(resnet *r, layer_ctx *ctx, const tensor *d_layer3,
                           const tensor *d_layer4) {
  tensor g;
  DNL_TRY(units_backward(r, ctx, d_layer3, d_layer4, &g));
  tensor dpool;
  DNL_TRY(layer_ctx_zeros_like(ctx, &dpool, &r->pool_in));
  DNL_TRY(maxpool_backward(&r->pool, ctx, &r->pool_in, &g, &dpool));
  g = dpool;
  for (int i = 2; i >= 0; i--) {
    if (i == 0)
      return cbr_backward(&r->stem[0], ctx, &g, NULL);
    tensor dx;
    DNL_TRY(layer_ctx_zeros_like(ctx, &dx, &r->stem[i].x));
    DNL_TRY(cbr_backward(&r->stem[i], ctx, &g, &dx));
    g = dx;
  }
  return DNL_OK;
}
