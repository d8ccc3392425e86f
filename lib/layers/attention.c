#include "lib/layers/attention.h"

static int positions(const tensor *t) { return t->shape[2] * t->shape[3]; }

dnl_status whiten_apply(layer_ctx *ctx, whiten_mode mode, tensor *t) {
  DNL_TRY(tensor_expect(t, "whitened tensor", 4, -1, -1, -1, -1));
  const int n = t->shape[0], c = t->shape[1], p = positions(t);
  switch (mode) {
  case WHITEN_NONE: return DNL_OK;
  case WHITEN_CHANNEL: return ctx->be->center_rows(n * c, p, t->data, t->data);
  case WHITEN_SAMPLE: return ctx->be->center_rows(n, c * p, t->data, t->data);
  }
  return dnl_error(DNL_ERR_ARG, "whitening: unknown mode %d", (int)mode);
}

static dnl_status check_qkv(const tensor *q, const tensor *k, const tensor *v) {
  DNL_TRY(tensor_expect(q, "attention query", 4, -1, -1, -1, -1));
  DNL_TRY(tensor_expect_same(k, "attention key", q, "attention query"));
  return tensor_expect(v, "attention value", 4, q->shape[0], -1, q->shape[2], q->shape[3]);
}

static attention_shape shape_of(const tensor *q, const tensor *v, float scale) {
  return (attention_shape){.n = q->shape[0], .p = positions(q), .d = q->shape[1],
                           .dv = v->shape[1], .scale = scale};
}

dnl_status pairwise_attention_forward(pairwise_attention *a, layer_ctx *ctx, const tensor *q,
                                      const tensor *k, const tensor *v, tensor *out) {
  DNL_TRY(check_qkv(q, k, v));
  const attention_shape s = shape_of(q, v, a->scale);
  a->shape = s;
  DNL_TRY(arena_tensor(ctx->act, out, 4, v->shape));
  void *ws = NULL;
  DNL_TRY(layer_ctx_workspace(ctx, ctx->be->attention_workspace(&s, a->fused, false), &ws));
  if (a->fused) {
    const int shape[2] = {s.n, s.p};
    DNL_TRY(arena_tensor(ctx->act, &a->saved, 2, shape));
    return ctx->be->attention_fused_forward(&s, q->data, k->data, v->data, out->data,
                                            a->saved.data, ws);
  }
  const int shape[3] = {s.n, s.p, s.p};
  DNL_TRY(arena_tensor(ctx->act, &a->saved, 3, shape));
  return ctx->be->attention_reference_forward(&s, q->data, k->data, v->data, out->data,
                                              a->saved.data);
}

dnl_status pairwise_attention_backward(pairwise_attention *a, layer_ctx *ctx, const tensor *q,
                                       const tensor *k, const tensor *v, const tensor *out,
                                       const tensor *dout, tensor *dq, tensor *dk, tensor *dv) {
  DNL_TRY(check_qkv(q, k, v));
  const attention_shape s = shape_of(q, v, a->scale);
  if (!a->saved.data || s.n != a->shape.n || s.p != a->shape.p || s.d != a->shape.d ||
      s.dv != a->shape.dv)
    return dnl_error(DNL_ERR_ARG, "pairwise attention: backward without a matching forward");
  DNL_TRY(tensor_expect_same(out, "attention output", v, "attention value"));
  DNL_TRY(tensor_expect_same(dout, "attention output gradient", v, "attention value"));
  if (dq)
    DNL_TRY(tensor_expect_same(dq, "attention query gradient", q, "attention query"));
  if (dk)
    DNL_TRY(tensor_expect_same(dk, "attention key gradient", k, "attention key"));
  if (dv)
    DNL_TRY(tensor_expect_same(dv, "attention value gradient", v, "attention value"));
  void *ws = NULL;
  DNL_TRY(layer_ctx_workspace(ctx, ctx->be->attention_workspace(&s, a->fused, true), &ws));
  float *gq = dq ? dq->data : NULL, *gk = dk ? dk->data : NULL, *gv = dv ? dv->data : NULL;
  if (a->fused)
    return ctx->be->attention_fused_backward(&s, q->data, k->data, v->data, out->data,
                                             a->saved.data, dout->data, gq, gk, gv, ws);
  return ctx->be->attention_reference_backward(&s, q->data, k->data, v->data, a->saved.data,
                                               dout->data, gq, gk, gv, ws);
}

size_t pairwise_attention_bytes(const dnl_backend *be, const attention_shape *s, bool fused) {
  const size_t fwd = be->attention_workspace(s, fused, false);
  const size_t bwd = be->attention_workspace(s, fused, true);
  const size_t kept = (size_t)s->n * s->p * (fused ? 1 : (size_t)s->p) * sizeof(float);
  return kept + (fwd > bwd ? fwd : bwd);
}

dnl_status pairwise_attention_rows(layer_ctx *ctx, const tensor *q, const tensor *k,
                                   float scale, int sample, const int *query_pos, int nq,
                                   float *rows) {
  DNL_TRY(tensor_expect(q, "attention query", 4, -1, -1, -1, -1));
  DNL_TRY(tensor_expect_same(k, "attention key", q, "attention query"));
  const int d = q->shape[1], p = positions(q);
  if (sample < 0 || sample >= q->shape[0])
    return dnl_error(DNL_ERR_ARG, "attention rows: sample %d outside 0..%d", sample,
                     q->shape[0] - 1);
  if (nq < 1 || !query_pos || !rows)
    return dnl_error(DNL_ERR_ARG, "attention rows: need nq >= 1 query positions and rows");
  tensor dev;
  const int shape[2] = {nq, p};
  DNL_TRY(arena_tensor(ctx->act, &dev, 2, shape));
  const float *qs = q->data + (size_t)sample * d * p, *ks = k->data + (size_t)sample * d * p;
  for (int r = 0; r < nq; r++) {
    if (query_pos[r] < 0 || query_pos[r] >= p)
      return dnl_error(DNL_ERR_ARG, "attention rows: query position %d outside 0..%d",
                       query_pos[r], p - 1);
    DNL_TRY(ctx->be->sgemm(true, false, 1, p, d, scale, qs + query_pos[r], p, ks, p, 0.0f,
                           dev.data + (size_t)r * p, p));
  }
  DNL_TRY(ctx->be->softmax_forward(nq, p, 1, dev.data, dev.data));
  return ctx->be->memcpy(rows, DEVICE_CPU, dev.data, dev.device,
                         (size_t)nq * p * sizeof(float));
}

dnl_status unary_attention_forward(layer_ctx *ctx, const tensor *m, const tensor *v, tensor *u,
                                   tensor *y) {
  DNL_TRY(tensor_expect(v, "unary attention value", 4, -1, -1, -1, -1));
  DNL_TRY(tensor_expect(m, "unary attention logits", 4, v->shape[0], 1, v->shape[2],
                        v->shape[3]));
  const int n = v->shape[0], dv = v->shape[1], p = positions(v);
  const int yshape[2] = {n, dv};
  DNL_TRY(arena_tensor(ctx->act, u, 4, m->shape));
  DNL_TRY(arena_tensor(ctx->act, y, 2, yshape));
  DNL_TRY(ctx->be->softmax_forward(n, p, 1, m->data, u->data));
  return ctx->be->sgemm_batched(false, false, dv, 1, p, 1.0f, v->data, p, (size_t)dv * p,
                                u->data, 1, (size_t)p, 0.0f, y->data, 1, (size_t)dv, n);
}

dnl_status unary_attention_backward(layer_ctx *ctx, const tensor *u, const tensor *v,
                                    const tensor *dy, tensor *dm, tensor *dv) {
  DNL_TRY(tensor_expect(v, "unary attention value", 4, -1, -1, -1, -1));
  const int n = v->shape[0], c = v->shape[1], p = positions(v);
  DNL_TRY(tensor_expect(u, "unary attention map", 4, n, 1, v->shape[2], v->shape[3]));
  DNL_TRY(tensor_expect(dy, "unary attention output gradient", 2, n, c, 1, 1));
  if (dv) {
    DNL_TRY(tensor_expect_same(dv, "unary value gradient", v, "unary attention value"));
    DNL_TRY(ctx->be->sgemm_batched(false, false, c, p, 1, 1.0f, dy->data, 1, (size_t)c,
                                   u->data, p, (size_t)p, 1.0f, dv->data, p, (size_t)c * p, n));
  }
  if (!dm)
    return DNL_OK;
  DNL_TRY(tensor_expect_same(dm, "unary logits gradient", u, "unary attention map"));
  tensor du; /* d loss / d u [N, P] */
  const int shape[2] = {n, p};
  DNL_TRY(arena_tensor(ctx->act, &du, 2, shape));
  DNL_TRY(ctx->be->sgemm_batched(true, false, p, 1, c, 1.0f, v->data, p, (size_t)c * p,
                                 dy->data, 1, (size_t)c, 0.0f, du.data, 1, (size_t)p, n));
  return ctx->be->softmax_backward(n, p, 1, u->data, du.data, dm->data);
}
