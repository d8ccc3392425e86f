#include "lib/eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dnl_status confusion_init(confusion *m, int classes) {
  m->classes = classes;
  m->counts = calloc((size_t)classes * classes, sizeof *m->counts);
  if (!m->counts)
    return dnl_error(DNL_ERR_NOMEM, "confusion matrix of %d classes", classes);
  return DNL_OK;
}

void confusion_free(confusion *m) {
  free(m->counts);
  m->counts = NULL;
}

void confusion_reset(confusion *m) {
  memset(m->counts, 0, (size_t)m->classes * m->classes * sizeof *m->counts);
}

dnl_status confusion_add(confusion *m, const int32_t *gt, const int32_t *pred, size_t n,
                         int ignore_label) {
  for (size_t i = 0; i < n; i++) {
    if (gt[i] == ignore_label)
      continue;
    if (gt[i] < 0 || gt[i] >= m->classes || pred[i] < 0 || pred[i] >= m->classes)
      return dnl_error(DNL_ERR_ARG,
                       "confusion: pixel %zu has ground truth %d / prediction %d outside "
                       "0..%d",
                       i, (int)gt[i], (int)pred[i], m->classes - 1);
    m->counts[(size_t)gt[i] * m->classes + pred[i]]++;
  }
  return DNL_OK;
}

void confusion_scores(const confusion *m, double *class_iou, double *miou, double *pixel_acc) {
  const int k = m->classes;
  int64_t total = 0, correct = 0;
  double sum = 0.0;
  int present = 0;
  for (int c = 0; c < k; c++) {
    int64_t gt = 0, pred = 0;
    for (int j = 0; j < k; j++) {
      gt += m->counts[(size_t)c * k + j];
      pred += m->counts[(size_t)j * k + c];
    }
    const int64_t tp = m->counts[(size_t)c * k + c];
    total += gt;
    correct += tp;
    const int64_t uni = gt + pred - tp;
    double iou = uni > 0 ? (double)tp / (double)uni : NAN;
    if (class_iou)
      class_iou[c] = iou;
    if (uni > 0) {
      sum += iou;
      present++;
    }
  }
  *miou = present ? sum / present : 0.0;
  *pixel_acc = total ? (double)correct / (double)total : 0.0;
}

int sliding_window_starts(int len, int crop, int stride, int *starts, int max) {
  int n = 0;
  if (len <= crop || stride < 1) {
    if (max > 0)
      starts[n] = 0;
    return 1;
  }
  int s = 0;
  for (; s + crop <= len; s += stride)
    if (n < max)
      starts[n++] = s;
  int last = n ? starts[n - 1] : 0;
  if (last + crop < len && n < max)
    starts[n++] = len - crop;
  return n;
}
