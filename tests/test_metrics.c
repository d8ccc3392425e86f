#include <math.h>

#include "lib/eval/metrics.h"
#include "tests/test_util.h"

/* Hand-made case: 3 classes, class 2 absent from GT and prediction.
 * gt:   0 0 0 1 1 255
 * pred: 0 0 1 1 0 2      (the ignored pixel's prediction is not counted)
 * class 0: TP 2, GT 3, Pred 3 -> 2/4; class 1: TP 1, GT 2, Pred 2 -> 1/3;
 * mIoU = (0.5 + 1/3) / 2; pixel acc = 3/5. */
Test(metrics, hand_made_confusion) {
  confusion m;
  TRY_OK(confusion_init(&m, 3));
  const int32_t gt[] = {0, 0, 0, 1, 1, 255};
  const int32_t pred[] = {0, 0, 1, 1, 0, 2};
  TRY_OK(confusion_add(&m, gt, pred, 6, 255));
  double iou[3], miou, acc;
  confusion_scores(&m, iou, &miou, &acc);
  cr_assert_float_eq(iou[0], 0.5, 1e-12);
  cr_assert_float_eq(iou[1], 1.0 / 3.0, 1e-12);
  cr_assert(isnan(iou[2]));
  cr_assert_float_eq(miou, (0.5 + 1.0 / 3.0) / 2.0, 1e-12);
  cr_assert_float_eq(acc, 0.6, 1e-12);
  confusion_free(&m);
}

/* A class only predicted (never in GT) counts with IoU 0. */
Test(metrics, predicted_only_class_counts) {
  confusion m;
  TRY_OK(confusion_init(&m, 2));
  const int32_t gt[] = {0, 0};
  const int32_t pred[] = {0, 1};
  TRY_OK(confusion_add(&m, gt, pred, 2, 255));
  double iou[2], miou, acc;
  confusion_scores(&m, iou, &miou, &acc);
  cr_assert_float_eq(iou[1], 0.0, 1e-12);
  cr_assert_float_eq(miou, 0.25, 1e-12);
  confusion_free(&m);
}

Test(metrics, rejects_out_of_range_labels) {
  confusion m;
  TRY_OK(confusion_init(&m, 2));
  const int32_t gt[] = {0, 5};
  const int32_t pred[] = {0, 1};
  cr_assert_eq(confusion_add(&m, gt, pred, 2, 255), DNL_ERR_ARG);
  confusion_free(&m);
}

Test(metrics, sliding_window_starts_as_spec) {
  int s[16];
  /* 2048 wide, crop 769, stride 512: 0, 512, 1024, then 1279 = 2048 - 769 */
  cr_assert_eq(sliding_window_starts(2048, 769, 512, s, 16), 4);
  cr_assert_eq(s[0], 0);
  cr_assert_eq(s[1], 512);
  cr_assert_eq(s[2], 1024);
  cr_assert_eq(s[3], 1279);
  /* 1024 high: 0, then 255 */
  cr_assert_eq(sliding_window_starts(1024, 769, 512, s, 16), 2);
  cr_assert_eq(s[1], 255);
  /* exact fit: no extra window */
  cr_assert_eq(sliding_window_starts(1281, 769, 512, s, 16), 2);
  cr_assert_eq(s[1], 512);
  /* smaller than the crop: one whole pass */
  cr_assert_eq(sliding_window_starts(500, 769, 512, s, 16), 1);
  cr_assert_eq(s[0], 0);
}
