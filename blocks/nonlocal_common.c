#include "blocks/nonlocal_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks/shared_unary.h"
#include "lib/layers/attention.h"
#include "lib/layers/batchnorm.h"
#include "lib/layers/conv2d.h"
#include "lib/layers/norm.h"

struct block {
  const nonlocal_spec *spec;
  block_config cfg; /* resolved */
  char name[LAYER_NAME_MAX];
  int cv; /* value width: C, or C' with the output conv */
  conv2d_layer query, key, value, mask, out;
  tensor gamma, gamma_grad; /* [1] */
  batchnorm_layer bn;
  norm_layer norm;
  pairwise_attention att;
  shared_unary su; /* the unary logits of NONLOCAL_UNARY_SHARED */
  /* the last forward (arena, valid until reset) */
  bool have_forward;
  tensor x_shape; /* shape only */
  tensor q, k;    /* [N, C', H, W] whitened */
  tensor v;       /* [N, cv, H, W] */
  tensor m, u;    /* [N, 1, H, W] unary logits and their softmax */
  tensor ypair;   /* [N, cv, H, W] */
  tensor yun;     /* [N, cv] */
  tensor z;       /* [N, cv, H, W] gamma * ypair + yun */
  tensor zo;      /* [N, C, H, W] after the output conv (z without it) */
  tensor zn;      /* [N, C, H, W] after the output norm (zo without it) */
};

static bool has_unary(const nonlocal_spec *sp) { return sp->unary != NONLOCAL_UNARY_NONE; }

static bool has_any(const nonlocal_spec *sp) { return sp->pairwise || has_unary(sp); }

static bool uses_inner(const nonlocal_spec *sp, const block_config *c) {
  return sp->pairwise || (has_unary(sp) && c->out_conv);
}

static dnl_status reject(const nonlocal_spec *sp, const char *key, const char *value,
                         const char *allowed) {
  return dnl_error(DNL_ERR_ARG, "block %s: %s = %s is not allowed (allowed: %s)", sp->name, key,
                   value, allowed);
}

static const char *bool_name(bool v) { return v ? "true" : "false"; }

static dnl_status validate_whiten(const nonlocal_spec *sp, const block_config *c) {
  if (!sp->pairwise)
    return c->whiten == BLOCK_WHITEN_AUTO
               ? DNL_OK
               : reject(sp, "whiten", block_whiten_name(c->whiten), "auto (no pairwise term)");
  if (c->whiten == BLOCK_WHITEN_AUTO || (sp->whiten_allowed & (1u << c->whiten)))
    return DNL_OK;
  char allowed[64] = "auto";
  for (int w = BLOCK_WHITEN_NONE; w < BLOCK_WHITEN_AUTO; w++)
    if (sp->whiten_allowed & (1u << w)) {
      strcat(allowed, ", ");
      strcat(allowed, block_whiten_name((block_whiten)w));
    }
  return reject(sp, "whiten", block_whiten_name(c->whiten), allowed);
}

static dnl_status validate_pairwise_options(const nonlocal_spec *sp, const block_config *c) {
  char v[32];
  snprintf(v, sizeof v, "%g", (double)c->temperature);
  if (!sp->pairwise) {
    if (c->scale != BLOCK_SCALE_AUTO)
      return reject(sp, "scale", block_scale_name(c->scale), "auto (no pairwise term)");
    if (c->temperature != 1.0f)
      return reject(sp, "temperature", v, "1 (no pairwise term)");
    if (c->nowd)
      return reject(sp, "nowd", "true", "false (no query and key convs)");
    if (!c->fused)
      return reject(sp, "fused", "false", "true (no pairwise attention)");
    return DNL_OK;
  }
  if (!(c->temperature > 0.0f) || !isfinite(c->temperature))
    return reject(sp, "temperature", v, "a finite value > 0");
  if (c->scale == BLOCK_SCALE_OFF && c->temperature != 1.0f)
    return reject(sp, "temperature", v, "1 when scale is off (the logits are not scaled)");
  return DNL_OK;
}

/* A finite value, > lo (or >= lo when lo_inclusive); lo NAN: any finite value. */
static dnl_status check_float(const nonlocal_spec *sp, const char *key, float value, float lo,
                              bool lo_inclusive) {
  const bool any = isnan(lo);
  if (isfinite(value) && (any || (lo_inclusive ? value >= lo : value > lo)))
    return DNL_OK;
  char v[32], allowed[48] = "a finite value";
  snprintf(v, sizeof v, "%g", (double)value);
  if (!any)
    snprintf(allowed, sizeof allowed, "a finite value %s %g", lo_inclusive ? ">=" : ">",
             (double)lo);
  return reject(sp, key, v, allowed);
}

/* An option the variant has no use for must keep its default value. */
static dnl_status keep_default(const nonlocal_spec *sp, const char *key, float value, float def,
                               const char *why) {
  if (value == def)
    return DNL_OK;
  char v[32], allowed[96];
  snprintf(v, sizeof v, "%g", (double)value);
  snprintf(allowed, sizeof allowed, "%g (%s)", (double)def, why);
  return reject(sp, key, v, allowed);
}

static dnl_status validate_init_options(const nonlocal_spec *sp, const block_config *c) {
  const block_config d = block_config_defaults();
  DNL_TRY(check_float(sp, "qk_init_std", c->qk_init_std, 0.0f, true));
  DNL_TRY(check_float(sp, "v_init_std", c->v_init_std, 0.0f, true));
  DNL_TRY(check_float(sp, "mask_init_std", c->mask_init_std, 0.0f, true));
  DNL_TRY(check_float(sp, "gamma_init", c->gamma_init, NAN, false));
  DNL_TRY(check_float(sp, "lr_mult", c->lr_mult, 0.0f, false));
  if (!sp->pairwise) {
    const char *why = "no query, key and gamma";
    DNL_TRY(keep_default(sp, "qk_init_std", c->qk_init_std, d.qk_init_std, why));
    if (c->qk_tied)
      return reject(sp, "qk_tied", "true", "false (no query and key convs)");
    DNL_TRY(keep_default(sp, "gamma_init", c->gamma_init, d.gamma_init, why));
  }
  if (sp->unary != NONLOCAL_UNARY_MASK)
    DNL_TRY(
        keep_default(sp, "mask_init_std", c->mask_init_std, d.mask_init_std, "no unary mask conv"));
  if (!has_any(sp)) {
    const char *why = "the block has no parameters";
    DNL_TRY(keep_default(sp, "v_init_std", c->v_init_std, d.v_init_std, why));
    if (c->v_init_kaiming)
      return reject(sp, "v_init_kaiming", "true", "false (the block has no parameters)");
    DNL_TRY(keep_default(sp, "lr_mult", c->lr_mult, d.lr_mult, why));
  }
  return DNL_OK;
}

dnl_status nonlocal_validate(const nonlocal_spec *sp, const block_config *c) {
  char v[32];
  if (strcmp(c->variant, sp->name) != 0)
    return dnl_error(DNL_ERR_ARG, "block %s: given a config of variant '%s'", sp->name, c->variant);
  if ((unsigned)c->whiten > BLOCK_WHITEN_AUTO)
    return reject(sp, "whiten", "(out of range)", "auto, none, in, ln");
  if ((unsigned)c->scale > BLOCK_SCALE_AUTO)
    return reject(sp, "scale", "(out of range)", "auto, on, off");
  if ((unsigned)c->out_norm > BLOCK_NORM_LN)
    return reject(sp, "out_norm", "(out of range)", "none, bn, in, ln");
  if (c->channels < 1) {
    snprintf(v, sizeof v, "%d", c->channels);
    return reject(sp, "channels", v, ">= 1");
  }
  snprintf(v, sizeof v, "%d", c->inner);
  if (!uses_inner(sp, c) && c->inner != 0)
    return reject(sp, "inner", v, "0 (no inner width without pairwise term or out_conv)");
  if (uses_inner(sp, c) && (c->inner < 0 || c->inner > c->channels))
    return reject(sp, "inner", v, "0 (= channels / 2) or 1..channels");
  if (uses_inner(sp, c) && c->inner == 0 && c->channels % 2)
    return dnl_error(DNL_ERR_ARG,
                     "block %s: channels = %d is odd, so inner = 0 (channels / 2) does not "
                     "divide it; set inner explicitly",
                     sp->name, c->channels);
  DNL_TRY(validate_whiten(sp, c));
  DNL_TRY(validate_pairwise_options(sp, c));
  DNL_TRY(validate_init_options(sp, c));
  if (!has_any(sp) && c->out_conv)
    return reject(sp, "out_conv", bool_name(c->out_conv), "false (the block is the identity)");
  if (!has_any(sp) && c->out_norm != BLOCK_NORM_NONE)
    return reject(sp, "out_norm", block_norm_name(c->out_norm), "none (the block is the identity)");
  return DNL_OK;
}

dnl_status nonlocal_resolve(const nonlocal_spec *sp, const block_config *c, block_config *out) {
  DNL_TRY(nonlocal_validate(sp, c));
  *out = *c;
  if (sp->pairwise) {
    if (out->whiten == BLOCK_WHITEN_AUTO)
      out->whiten = sp->whiten_auto;
    if (out->scale == BLOCK_SCALE_AUTO)
      out->scale = BLOCK_SCALE_ON;
  } else {
    out->whiten = BLOCK_WHITEN_NONE;
    out->scale = BLOCK_SCALE_OFF;
  }
  if (uses_inner(sp, c) && out->inner == 0)
    out->inner = c->channels / 2;
  return DNL_OK;
}

/* A 1x1 conv with weights N(0, std^2) and biases 0. */
static dnl_status add_conv(conv2d_layer *l, param_store *ps, const char *prefix, const char *leaf,
                           int cin, int cout, bool bias, param_kind kind, float std) {
  char name[PARAM_NAME_MAX];
  DNL_TRY(layer_param_name(name, sizeof name, prefix, leaf));
  const conv2d_config cfg = {.cin = cin,
                             .cout = cout,
                             .k = 1,
                             .bias = bias,
                             .kind = kind,
                             .weight_init = {PARAM_INIT_NORMAL, 0.0f, std},
                             .bias_init = {PARAM_INIT_CONST, 0.0f, 0.0f}};
  return conv2d_init(l, ps, name, &cfg);
}

static whiten_mode whiten_of(const block *b) {
  switch (b->cfg.whiten) {
  case BLOCK_WHITEN_IN:
    return WHITEN_CHANNEL;
  case BLOCK_WHITEN_LN:
    return WHITEN_SAMPLE;
  default:
    return WHITEN_NONE;
  }
}

/* key.weight draws query.weight's random stream: the same initial matrix. */
static dnl_status tie_key_to_query(param_store *ps, const char *prefix) {
  char key[PARAM_NAME_MAX], query[PARAM_NAME_MAX];
  DNL_TRY(layer_param_name(key, sizeof key, prefix, "key.weight"));
  DNL_TRY(layer_param_name(query, sizeof query, prefix, "query.weight"));
  dnl_status st = params_tie_init(ps, key, query);
  return st == DNL_OK ? DNL_OK : dnl_error_context(st, "qk_tied");
}

static dnl_status add_out_norm(block *b, param_store *ps, const char *prefix) {
  char name[PARAM_NAME_MAX];
  const int c = b->cfg.channels;
  DNL_TRY(layer_param_name(name, sizeof name, prefix, "out_norm"));
  switch (b->cfg.out_norm) {
  case BLOCK_NORM_NONE:
    return DNL_OK;
  case BLOCK_NORM_BN:
    return batchnorm_init(&b->bn, ps, name, c);
  case BLOCK_NORM_IN:
    return norm_init(&b->norm, ps, name, NORM_INSTANCE, c);
  case BLOCK_NORM_LN:
    return norm_init(&b->norm, ps, name, NORM_LAYER, c);
  }
  return DNL_OK;
}

static dnl_status add_params(block *b, param_store *ps, const char *prefix) {
  const block_config *r = &b->cfg;
  const nonlocal_spec *sp = b->spec;
  const int c = r->channels;
  if (sp->pairwise) {
    const param_kind qk = r->nowd ? PARAM_NO_DECAY : PARAM_TRAINABLE;
    DNL_TRY(add_conv(&b->query, ps, prefix, "query", c, r->inner, true, qk, r->qk_init_std));
    DNL_TRY(add_conv(&b->key, ps, prefix, "key", c, r->inner, true, qk, r->qk_init_std));
    if (r->qk_tied)
      DNL_TRY(tie_key_to_query(ps, prefix));
    b->att.fused = r->fused;
    b->att.scale =
        r->scale == BLOCK_SCALE_ON ? 1.0f / (sqrtf((float)r->inner) * r->temperature) : 1.0f;
    b->su = (shared_unary){.mode = whiten_of(b), .scale = b->att.scale};
  }
  const float v_std = r->v_init_kaiming ? sqrtf(2.0f / (float)c) : r->v_init_std;
  if (has_any(sp))
    DNL_TRY(add_conv(&b->value, ps, prefix, "value", c, b->cv, false, PARAM_TRAINABLE, v_std));
  if (sp->unary == NONLOCAL_UNARY_MASK)
    DNL_TRY(add_conv(&b->mask, ps, prefix, "mask", c, 1, true, PARAM_TRAINABLE, r->mask_init_std));
  if (sp->pairwise) {
    char name[PARAM_NAME_MAX];
    const int one[1] = {1};
    DNL_TRY(layer_param_name(name, sizeof name, prefix, "gamma"));
    DNL_TRY(params_add(ps, name, 1, one, PARAM_TRAINABLE,
                       (param_init){PARAM_INIT_CONST, r->gamma_init, 0.0f}, &b->gamma,
                       &b->gamma_grad));
  }
  if (r->out_conv)
    DNL_TRY(add_conv(&b->out, ps, prefix, "out", r->inner, c, false, PARAM_TRAINABLE, 0.01f));
  DNL_TRY(add_out_norm(b, ps, prefix));
  return params_set_lr_mult(ps, prefix, r->lr_mult, NULL);
}

dnl_status nonlocal_create(const nonlocal_spec *sp, const block_config *cfg, param_store *ps,
                           const char *prefix, block **out) {
  *out = NULL;
  block_config r;
  DNL_TRY(nonlocal_resolve(sp, cfg, &r));
  if (strlen(prefix) >= LAYER_NAME_MAX)
    return dnl_error(DNL_ERR_ARG, "block %s: prefix too long: %s", sp->name, prefix);
  block *b = calloc(1, sizeof *b);
  if (!b)
    return dnl_error(DNL_ERR_NOMEM, "block %s: cannot allocate the block", sp->name);
  b->spec = sp;
  b->cfg = r;
  strcpy(b->name, prefix);
  b->cv = r.out_conv ? r.inner : r.channels;
  dnl_status st = add_params(b, ps, prefix);
  if (st != DNL_OK) {
    free(b);
    return dnl_error_context(st, "block %s (%s)", sp->name, prefix);
  }
  *out = b;
  return DNL_OK;
}

void nonlocal_destroy(block *b) { free(b); }

static dnl_status forward_parts(block *b, layer_ctx *ctx, const tensor *x, tensor *y) {
  const nonlocal_spec *sp = b->spec;
  const int n = x->shape[0], p = x->shape[2] * x->shape[3];
  if (!has_any(sp)) {
    DNL_TRY(arena_tensor(ctx->act, y, 4, x->shape));
    return ctx->be->memcpy(y->data, y->device, x->data, x->device, tensor_numel(x) * sizeof(float));
  }
  if (sp->pairwise) {
    DNL_TRY(conv2d_forward(&b->query, ctx, x, &b->q));
    if (sp->unary == NONLOCAL_UNARY_SHARED)
      DNL_TRY(shared_unary_mean(&b->su, ctx, &b->q));
    DNL_TRY(whiten_apply(ctx, whiten_of(b), &b->q));
    DNL_TRY(conv2d_forward(&b->key, ctx, x, &b->k));
    DNL_TRY(whiten_apply(ctx, whiten_of(b), &b->k));
  }
  DNL_TRY(conv2d_forward(&b->value, ctx, x, &b->v));
  if (sp->pairwise)
    DNL_TRY(pairwise_attention_forward(&b->att, ctx, &b->q, &b->k, &b->v, &b->ypair));
  if (sp->unary == NONLOCAL_UNARY_MASK)
    DNL_TRY(conv2d_forward(&b->mask, ctx, x, &b->m));
  else if (sp->unary == NONLOCAL_UNARY_SHARED)
    DNL_TRY(shared_unary_logits(&b->su, ctx, &b->k, &b->m));
  if (has_unary(sp))
    DNL_TRY(unary_attention_forward(ctx, &b->m, &b->v, &b->u, &b->yun));
  DNL_TRY(arena_tensor(ctx->act, &b->z, 4, b->v.shape));
  DNL_TRY(ctx->be->attention_combine_forward(n, b->cv, p, sp->pairwise ? b->gamma.data : NULL,
                                             sp->pairwise ? b->ypair.data : NULL,
                                             has_unary(sp) ? b->yun.data : NULL, b->z.data));
  b->zo = b->z;
  if (b->cfg.out_conv)
    DNL_TRY(conv2d_forward(&b->out, ctx, &b->z, &b->zo));
  b->zn = b->zo;
  if (b->cfg.out_norm == BLOCK_NORM_BN)
    DNL_TRY(batchnorm_forward(&b->bn, ctx, &b->zo, &b->zn));
  else if (b->cfg.out_norm != BLOCK_NORM_NONE)
    DNL_TRY(norm_forward(&b->norm, ctx, &b->zo, &b->zn));
  DNL_TRY(arena_tensor(ctx->act, y, 4, x->shape));
  return ctx->be->add(tensor_numel(x), x->data, b->zn.data, y->data);
}

dnl_status nonlocal_forward(block *b, layer_ctx *ctx, const tensor *x, tensor *y) {
  b->have_forward = false;
  dnl_status st = tensor_expect(x, "block input", 4, -1, b->cfg.channels, -1, -1);
  if (st == DNL_OK)
    st = forward_parts(b, ctx, x, y);
  if (st != DNL_OK)
    return dnl_error_context(st, "block %s (%s) forward", b->spec->name, b->name);
  b->x_shape = tensor_view(NULL, x->device, 4, x->shape);
  b->have_forward = true;
  return DNL_OK;
}

static dnl_status check_last_input(const block *b, const tensor *x, const char *what) {
  if (!b->have_forward)
    return dnl_error(DNL_ERR_ARG, "%s without a forward before it", what);
  const tensor *last = &b->x_shape;
  return tensor_expect(x, "block input (as in the last forward)", 4, last->shape[0], last->shape[1],
                       last->shape[2], last->shape[3]);
}

static dnl_status backward_parts(block *b, layer_ctx *ctx, const tensor *x, const tensor *dy,
                                 tensor *dx) {
  const nonlocal_spec *sp = b->spec;
  const int n = x->shape[0], p = x->shape[2] * x->shape[3];
  if (dx)
    DNL_TRY(ctx->be->axpy(tensor_numel(x), 1.0f, dy->data, dx->data));
  if (!has_any(sp))
    return DNL_OK;
  tensor dzo = *dy, dz;
  if (b->cfg.out_norm != BLOCK_NORM_NONE) {
    DNL_TRY(layer_ctx_zeros_like(ctx, &dzo, &b->zo));
    if (b->cfg.out_norm == BLOCK_NORM_BN)
      DNL_TRY(batchnorm_backward(&b->bn, ctx, &b->zo, dy, &dzo));
    else
      DNL_TRY(norm_backward(&b->norm, ctx, &b->zo, dy, &dzo));
  }
  dz = dzo;
  if (b->cfg.out_conv) {
    DNL_TRY(layer_ctx_zeros_like(ctx, &dz, &b->z));
    DNL_TRY(conv2d_backward(&b->out, ctx, &b->z, &dzo, &dz));
  }
  tensor dv, dypair = {0}, dyun = {0};
  DNL_TRY(layer_ctx_zeros_like(ctx, &dv, &b->v));
  if (sp->pairwise)
    DNL_TRY(layer_ctx_zeros_like(ctx, &dypair, &b->ypair));
  if (has_unary(sp))
    DNL_TRY(layer_ctx_zeros_like(ctx, &dyun, &b->yun));
  DNL_TRY(ctx->be->attention_combine_backward(
      n, b->cv, p, sp->pairwise ? b->gamma.data : NULL, sp->pairwise ? b->ypair.data : NULL,
      dz.data, dypair.data, sp->pairwise ? b->gamma_grad.data : NULL, dyun.data));
  tensor dq, dk, dm;
  if (sp->pairwise) {
    DNL_TRY(layer_ctx_zeros_like(ctx, &dq, &b->q));
    DNL_TRY(layer_ctx_zeros_like(ctx, &dk, &b->k));
  }
  if (has_unary(sp)) {
    DNL_TRY(layer_ctx_zeros_like(ctx, &dm, &b->m));
    DNL_TRY(unary_attention_backward(ctx, &b->u, &b->v, &dyun, &dm, &dv));
  }
  if (sp->unary == NONLOCAL_UNARY_MASK)
    DNL_TRY(conv2d_backward(&b->mask, ctx, x, &dm, dx));
  else if (sp->unary == NONLOCAL_UNARY_SHARED)
    DNL_TRY(shared_unary_backward_key(&b->su, ctx, &dm, &dk));
  if (sp->pairwise) {
    DNL_TRY(pairwise_attention_backward(&b->att, ctx, &b->q, &b->k, &b->v, &b->ypair, &dypair, &dq,
                                        &dk, &dv));
    DNL_TRY(whiten_apply(ctx, whiten_of(b), &dq));
    DNL_TRY(whiten_apply(ctx, whiten_of(b), &dk));
    /* the query's mean reaches the unary logits past the whitening */
    if (sp->unary == NONLOCAL_UNARY_SHARED)
      DNL_TRY(shared_unary_backward_query(&b->su, ctx, &b->k, &dm, &dq));
    DNL_TRY(conv2d_backward(&b->query, ctx, x, &dq, dx));
    DNL_TRY(conv2d_backward(&b->key, ctx, x, &dk, dx));
  }
  return conv2d_backward(&b->value, ctx, x, &dv, dx);
}

dnl_status nonlocal_backward(block *b, layer_ctx *ctx, const tensor *x, const tensor *dy,
                             tensor *dx) {
  dnl_status st = check_last_input(b, x, "backward");
  if (st == DNL_OK)
    st = tensor_expect_same(dy, "block output gradient", x, "block input");
  if (st == DNL_OK && dx)
    st = tensor_expect_same(dx, "block input gradient", x, "block input");
  if (st == DNL_OK)
    st = backward_parts(b, ctx, x, dy, dx);
  if (st != DNL_OK)
    return dnl_error_context(st, "block %s (%s) backward", b->spec->name, b->name);
  return DNL_OK;
}

static dnl_status attention_maps(block *b, layer_ctx *ctx, const tensor *x, int sample,
                                 const int *query_pos, int nq, float *pair_maps, float *unary_map) {
  DNL_TRY(check_last_input(b, x, "attention maps"));
  if (pair_maps && !b->spec->pairwise)
    return dnl_error(DNL_ERR_ARG, "no pairwise attention in this variant (pass pair_maps NULL)");
  if (unary_map && !has_unary(b->spec))
    return dnl_error(DNL_ERR_ARG, "no unary attention in this variant (pass unary_map NULL)");
  if (sample < 0 || sample >= x->shape[0])
    return dnl_error(DNL_ERR_ARG, "sample %d outside 0..%d", sample, x->shape[0] - 1);
  if (pair_maps)
    DNL_TRY(
        pairwise_attention_rows(ctx, &b->q, &b->k, b->att.scale, sample, query_pos, nq, pair_maps));
  if (!unary_map)
    return DNL_OK;
  const size_t p = (size_t)x->shape[2] * x->shape[3];
  return ctx->be->memcpy(unary_map, DEVICE_CPU, b->u.data + (size_t)sample * p, b->u.device,
                         p * sizeof(float));
}

dnl_status nonlocal_attention(block *b, layer_ctx *ctx, const tensor *x, int sample,
                              const int *query_pos, int nq, float *pair_maps, float *unary_map) {
  dnl_status st = attention_maps(b, ctx, x, sample, query_pos, nq, pair_maps, unary_map);
  if (st != DNL_OK)
    return dnl_error_context(st, "block %s (%s) attention", b->spec->name, b->name);
  return DNL_OK;
}

/* out[i] = sum of squares of sample i's `len` values (BLAS dot products, on the backend). */
static dnl_status squared_norms(layer_ctx *ctx, const float *x, int n, size_t len, float *out) {
  tensor dev;
  const int shape[1] = {n};
  DNL_TRY(arena_tensor(ctx->act, &dev, 1, shape));
  DNL_TRY(ctx->be->sgemm_batched(false, true, 1, 1, (int)len, 1.0f, x, (int)len, len, x, (int)len,
                                 len, 0.0f, dev.data, 1, 1, n));
  return ctx->be->memcpy(out, DEVICE_CPU, dev.data, dev.device, (size_t)n * sizeof(float));
}

static dnl_status term_sizes(block *b, layer_ctx *ctx, const tensor *x, block_term_sizes *out) {
  DNL_TRY(check_last_input(b, x, "term sizes"));
  const nonlocal_spec *sp = b->spec;
  const int n = x->shape[0];
  const size_t p = (size_t)x->shape[2] * x->shape[3];
  float *sq = malloc((size_t)3 * n * sizeof(float)); /* x, Y_pair, Y_un */
  if (!sq)
    return dnl_error(DNL_ERR_NOMEM, "term sizes of %d samples", n);
  float gamma = NAN;
  dnl_status st = squared_norms(ctx, x->data, n, (size_t)x->shape[1] * p, sq);
  if (st == DNL_OK && sp->pairwise)
    st = ctx->be->memcpy(&gamma, DEVICE_CPU, b->gamma.data, b->gamma.device, sizeof(float));
  if (st == DNL_OK && sp->pairwise)
    st = squared_norms(ctx, b->ypair.data, n, (size_t)b->cv * p, sq + n);
  if (st == DNL_OK && has_unary(sp))
    st = squared_norms(ctx, b->yun.data, n, (size_t)b->cv, sq + 2 * n);
  for (int i = 0; st == DNL_OK && i < n; i++) {
    const double xn = sqrt((double)sq[i]);
    out[i].gamma = gamma;
    out[i].pairwise =
        sp->pairwise ? (float)(fabs((double)gamma) * sqrt((double)sq[n + i]) / xn) : NAN;
    out[i].unary = has_unary(sp) ? (float)(sqrt((double)p * sq[2 * n + i]) / xn) : NAN;
  }
  free(sq);
  return st;
}

dnl_status nonlocal_term_sizes(block *b, layer_ctx *ctx, const tensor *x, block_term_sizes *out) {
  dnl_status st =
      out ? term_sizes(b, ctx, x, out) : dnl_error(DNL_ERR_ARG, "term sizes: no output array");
  if (st != DNL_OK)
    return dnl_error_context(st, "block %s (%s) term sizes", b->spec->name, b->name);
  return DNL_OK;
}
