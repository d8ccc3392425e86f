#include "blocks/shared_unary.h"

/* The products below are batched GEMMs over the samples; sgemm_batched with a
 * zero stride reuses one operand (the vector of ones) for every sample. */

static int positions(const tensor *t) { return t->shape[2] * t->shape[3]; }

/* vec [n, c] := each sample's mean over its c entries, at every entry (`ln`:
 * the per-channel means become the sample's mean). The map is symmetric, so it
 * is its own adjoint. */
static dnl_status spread_channel_mean(shared_unary *su, layer_ctx *ctx, int n, int c, float *vec) {
  tensor mean;
  const int shape[1] = {n};
  DNL_TRY(arena_tensor(ctx->act, &mean, 1, shape));
  DNL_TRY(ctx->be->sgemm_batched(false, false, 1, 1, c, 1.0f / (float)c, su->ones.data, c, 0, vec,
                                 1, (size_t)c, 0.0f, mean.data, 1, 1, n));
  return ctx->be->sgemm_batched(false, false, c, 1, 1, 1.0f, su->ones.data, 1, 0, mean.data, 1, 1,
                                0.0f, vec, 1, (size_t)c, n);
}

dnl_status shared_unary_mean(shared_unary *su, layer_ctx *ctx, const tensor *q) {
  DNL_TRY(tensor_expect(q, "shared unary query", 4, -1, -1, -1, -1));
  if (su->mode != WHITEN_CHANNEL && su->mode != WHITEN_SAMPLE)
    return dnl_error(DNL_ERR_ARG, "shared unary: needs whitening in or ln");
  const int n = q->shape[0], c = q->shape[1], p = positions(q);
  const int len[1] = {p > c ? p : c}, mu_shape[2] = {n, c};
  DNL_TRY(arena_tensor(ctx->act, &su->ones, 1, len));
  DNL_TRY(ctx->be->fill(su->ones.data, (size_t)len[0], 1.0f));
  DNL_TRY(arena_tensor(ctx->act, &su->mu, 2, mu_shape));
  DNL_TRY(ctx->be->sgemm_batched(false, false, c, 1, p, 1.0f / (float)p, q->data, p, (size_t)c * p,
                                 su->ones.data, 1, 0, 0.0f, su->mu.data, 1, (size_t)c, n));
  return su->mode == WHITEN_SAMPLE ? spread_channel_mean(su, ctx, n, c, su->mu.data) : DNL_OK;
}

static dnl_status check_key(const shared_unary *su, const tensor *k) {
  if (!su->mu.data)
    return dnl_error(DNL_ERR_ARG, "shared unary: no query mean (shared_unary_mean first)");
  return tensor_expect(k, "shared unary key", 4, su->mu.shape[0], su->mu.shape[1], -1, -1);
}

dnl_status shared_unary_logits(shared_unary *su, layer_ctx *ctx, const tensor *k, tensor *m) {
  DNL_TRY(check_key(su, k));
  const int n = k->shape[0], c = k->shape[1], p = positions(k);
  DNL_TRY(arena_tensor4(ctx->act, m, n, 1, k->shape[2], k->shape[3]));
  return ctx->be->sgemm_batched(false, false, 1, p, c, su->scale, su->mu.data, c, (size_t)c,
                                k->data, p, (size_t)c * p, 0.0f, m->data, p, (size_t)p, n);
}

dnl_status shared_unary_backward_key(shared_unary *su, layer_ctx *ctx, const tensor *dm,
                                     tensor *dk) {
  DNL_TRY(check_key(su, dk));
  const int n = dk->shape[0], c = dk->shape[1], p = positions(dk);
  DNL_TRY(tensor_expect(dm, "shared unary logits gradient", 4, n, 1, dk->shape[2], dk->shape[3]));
  return ctx->be->sgemm_batched(false, false, c, p, 1, su->scale, su->mu.data, 1, (size_t)c,
                                dm->data, p, (size_t)p, 1.0f, dk->data, p, (size_t)c * p, n);
}

dnl_status shared_unary_backward_query(shared_unary *su, layer_ctx *ctx, const tensor *k,
                                       const tensor *dm, tensor *dq) {
  DNL_TRY(check_key(su, k));
  DNL_TRY(tensor_expect_same(dq, "shared unary query gradient", k, "shared unary key"));
  const int n = k->shape[0], c = k->shape[1], p = positions(k);
  DNL_TRY(tensor_expect(dm, "shared unary logits gradient", 4, n, 1, k->shape[2], k->shape[3]));
  tensor dmu; /* [N, C'] gradient of mu */
  const int shape[2] = {n, c};
  DNL_TRY(arena_tensor(ctx->act, &dmu, 2, shape));
  DNL_TRY(ctx->be->sgemm_batched(false, false, c, 1, p, su->scale, k->data, p, (size_t)c * p,
                                 dm->data, 1, (size_t)p, 0.0f, dmu.data, 1, (size_t)c, n));
  if (su->mode == WHITEN_SAMPLE)
    DNL_TRY(spread_channel_mean(su, ctx, n, c, dmu.data));
  /* the mean over positions: every position gets dmu / P */
  return ctx->be->sgemm_batched(false, false, c, p, 1, 1.0f / (float)p, dmu.data, 1, (size_t)c,
                                su->ones.data, p, 0, 1.0f, dq->data, p, (size_t)c * p, n);
}
