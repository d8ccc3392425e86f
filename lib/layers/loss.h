/* Segmentation losses over logits [n, c, h, w] and labels [n, h, w] (int32 on
 * the logits' device; 255 = ignore).
 *  - ce_loss: (class-weighted) mean cross-entropy over valid pixels:
 *    sum(w_y * l) / sum(w_y).
 *  - ohem_ce_loss: SPEC 3: p_gt = softmax prob of the true class at valid pixels;
 *    thr = max(sorted(p_gt)[min(keep, n_valid - 1)], thresh); the plain mean of
 *    the class-weighted per-pixel CE w_y * l over valid pixels with p_gt < thr,
 *    i.e. sum(w_y * l) / count, as the published code; 0 when none.
 *    keep = ohem_min_kept * n.
 * Both write the loss value and ACCUMULATE loss_weight * d loss / d logits into
 * dlogits (skipped when NULL). */
#ifndef DNL_LOSS_H
#define DNL_LOSS_H

#include "lib/layers/layer.h"

#define LOSS_IGNORE_LABEL 255

typedef struct loss_config {
  const float *class_weights; /* [c] on the logits' device, or NULL */
  int ignore_label;           /* usually 255 */
  float ohem_thresh;          /* 0.7 */
  long ohem_min_kept;         /* per image: 100000 */
} loss_config;

dnl_status ce_loss(layer_ctx *ctx, const loss_config *cfg, const tensor *logits,
                   const int32_t *labels, float loss_weight, float *loss, tensor *dlogits);
dnl_status ohem_ce_loss(layer_ctx *ctx, const loss_config *cfg, const tensor *logits,
                        const int32_t *labels, float loss_weight, float *loss,
                        tensor *dlogits);

#endif
