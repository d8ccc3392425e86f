#include "lib/layers/loss.h"

static dnl_status loss_geometry(const char *which, const loss_config *cfg,
                                const tensor *logits, const int32_t *labels, const float *loss,
                                const tensor *dlogits, ce_shape *s) {
  if (!cfg || !labels || !loss)
    return dnl_error(DNL_ERR_ARG, "%s: %s is NULL", which,
                     !cfg ? "config" : !labels ? "labels" : "loss output");
  dnl_status st = tensor_expect(logits, "logits", 4, -1, -1, -1, -1);
  if (st == DNL_OK && dlogits)
    st = tensor_expect_same(dlogits, "logits gradient", logits, "logits");
  if (st != DNL_OK)
    return dnl_error_context(st, "%s", which);
  *s = (ce_shape){.n = logits->shape[0], .c = logits->shape[1],
                  .hw = logits->shape[2] * logits->shape[3],
                  .ignore_label = cfg->ignore_label};
  return DNL_OK;
}

dnl_status ce_loss(layer_ctx *ctx, const loss_config *cfg, const tensor *logits,
                   const int32_t *labels, float loss_weight, float *loss, tensor *dlogits) {
  ce_shape s;
  DNL_TRY(loss_geometry("ce_loss", cfg, logits, labels, loss, dlogits, &s));
  dnl_status st = ctx->be->ce_forward_backward(&s, logits->data, labels, cfg->class_weights,
                                               NULL, 0.0f, loss_weight, loss,
                                               dlogits ? dlogits->data : NULL);
  if (st != DNL_OK)
    return dnl_error_context(st, "ce_loss");
  return DNL_OK;
}

/* SPEC 3 "Loss": the threshold is the probability at rank min(keep, n_valid - 1)
 * of the sorted valid p_gt, raised to at least ohem_thresh; the kept pixels,
 * p_gt < threshold, are averaged plainly (the class weight scales each pixel's
 * loss, it does not enter the denominator). */
dnl_status ohem_ce_loss(layer_ctx *ctx, const loss_config *cfg, const tensor *logits,
                        const int32_t *labels, float loss_weight, float *loss,
                        tensor *dlogits) {
  ce_shape s;
  DNL_TRY(loss_geometry("ohem_ce_loss", cfg, logits, labels, loss, dlogits, &s));
  if (cfg->ohem_min_kept < 0)
    return dnl_error(DNL_ERR_ARG, "ohem_ce_loss: min_kept %ld < 0", cfg->ohem_min_kept);
  s.plain_mean = true;
  const size_t total = (size_t)s.n * s.hw;
  int shape[1] = {(int)total};
  tensor p_gt, scratch;
  DNL_TRY(arena_tensor(ctx->act, &p_gt, 1, shape));
  size_t n_valid = 0;
  dnl_status st = ctx->be->ce_prob_gt(&s, logits->data, labels, p_gt.data, &n_valid);
  if (st != DNL_OK)
    return dnl_error_context(st, "ohem_ce_loss");
  if (n_valid == 0) {
    *loss = 0.0f;
    return DNL_OK;
  }
  /* ignored pixels hold p_gt = 2, above every valid one, so rank k < n_valid of
   * the whole array is rank k of the valid pixels */
  const size_t keep = (size_t)cfg->ohem_min_kept * (size_t)s.n;
  const size_t k = keep < n_valid - 1 ? keep : n_valid - 1;
  float kth = 0.0f;
  DNL_TRY(arena_tensor(ctx->act, &scratch, 1, shape));
  DNL_TRY(ctx->be->select_kth(total, p_gt.data, k, scratch.data, &kth));
  const float threshold = kth > cfg->ohem_thresh ? kth : cfg->ohem_thresh;
  st = ctx->be->ce_forward_backward(&s, logits->data, labels, cfg->class_weights, p_gt.data,
                                    threshold, loss_weight, loss,
                                    dlogits ? dlogits->data : NULL);
  if (st != DNL_OK)
    return dnl_error_context(st, "ohem_ce_loss");
  return DNL_OK;
}
