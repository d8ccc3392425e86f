/* lib/eval/ holds how predictions are scored: confusion matrices, IoU, mIoU,
 * pixel accuracy and the sliding-window placement of the evaluation. It
 * depends on lib/core only.
 *
 * Segmentation metrics over a whole set (SPEC 5): one confusion matrix, IoU per
 * class = TP / (GT + Pred - TP), mIoU over classes present in GT or prediction,
 * pixel accuracy. And the sliding-window placement of SPEC 5. */
#ifndef DNL_METRICS_H
#define DNL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/status.h"

typedef struct confusion {
  int classes;
  int64_t *counts; /* [classes, classes]: rows ground truth, columns prediction */
} confusion;

dnl_status confusion_init(confusion *m, int classes);
void confusion_free(confusion *m);
void confusion_reset(confusion *m);
/* Adds n pixels; ground-truth ignore_label pixels are skipped. A ground truth
 * or prediction outside 0..classes-1 (other than ignore) is an error. */
dnl_status confusion_add(confusion *m, const int32_t *gt, const int32_t *pred, size_t n,
                         int ignore_label);
/* class_iou[classes] (NaN for classes absent from both), returns through the
 * pointers mIoU and pixel accuracy (fractions; 0 when there are no pixels). */
void confusion_scores(const confusion *m, double *class_iou, double *miou, double *pixel_acc);

/* Window starts along an axis of length len for crop c and stride t:
 * 0, t, 2t, ... while start + c <= len, plus len - c when the end is not reached;
 * a single start 0 when len <= c. Writes at most max starts, returns the count. */
int sliding_window_starts(int len, int crop, int stride, int *starts, int max);

#endif
