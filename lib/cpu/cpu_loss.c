/* Pixel-wise cross-entropy (ignore label, class weights, OHEM pixel selection). */
#include <math.h>
#include <string.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

/* log-sum-exp over the c logits of one pixel (stride hw), in float as PyTorch:
 * the terms are at most 1 after subtracting the maximum */
static float pixel_lse(const float *lp, int c, int hw) {
  float mx = lp[0];
  for (int k = 1; k < c; k++)
    if (lp[(size_t)k * hw] > mx)
      mx = lp[(size_t)k * hw];
  float s = 0.0f;
  for (int k = 0; k < c; k++)
    s += expf(lp[(size_t)k * hw] - mx);
  return mx + logf(s);
}

static dnl_status check_labels(const ce_shape *s, const int32_t *labels) {
  const size_t total = (size_t)s->n * s->hw;
  for (size_t i = 0; i < total; i++) {
    const int32_t l = labels[i];
    if (l != s->ignore_label && (l < 0 || l >= s->c))
      return dnl_error(DNL_ERR_ARG,
                       "cross-entropy: label %d at image %zu pixel %zu outside 0..%d and not "
                       "the ignore label %d",
                       (int)l, i / (size_t)s->hw, i % (size_t)s->hw, s->c - 1,
                       s->ignore_label);
  }
  return DNL_OK;
}

dnl_status cpu_ce_prob_gt(const ce_shape *s, const float *logits, const int32_t *labels,
                          float *p_gt, size_t *n_valid) {
  DNL_TRY(check_labels(s, labels));
  size_t valid = 0;
  const bool parallel = (size_t)s->n * s->c * s->hw > CPU_PARALLEL_MIN;
#pragma omp parallel for collapse(2) if (parallel) reduction(+ : valid) schedule(static)
  for (int b = 0; b < s->n; b++)
    for (int i = 0; i < s->hw; i++) {
      const size_t pix = (size_t)b * s->hw + i;
      const int32_t l = labels[pix];
      if (l == s->ignore_label) {
        p_gt[pix] = 2.0f;
        continue;
      }
      const float *lp = logits + (size_t)b * s->c * s->hw + i;
      p_gt[pix] = expf(lp[(size_t)l * s->hw] - pixel_lse(lp, s->c, s->hw));
      valid++;
    }
  *n_valid = valid;
  return DNL_OK;
}

static void swap(float *a, float *b) {
  float t = *a;
  *a = *b;
  *b = t;
}

/* Quickselect with a median-of-three pivot; deterministic. */
dnl_status cpu_select_kth(size_t n, const float *x, size_t k, float *scratch, float *out) {
  if (n == 0 || k >= n)
    return dnl_error(DNL_ERR_ARG, "select_kth: k=%zu out of 0..%zu", k, n ? n - 1 : 0);
  memcpy(scratch, x, n * sizeof(float));
  size_t lo = 0, hi = n - 1;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (scratch[mid] < scratch[lo])
      swap(&scratch[mid], &scratch[lo]);
    if (scratch[hi] < scratch[lo])
      swap(&scratch[hi], &scratch[lo]);
    if (scratch[hi] < scratch[mid])
      swap(&scratch[hi], &scratch[mid]);
    const float pivot = scratch[mid];
    size_t i = lo, j = hi;
    while (i <= j) {
      while (scratch[i] < pivot)
        i++;
      while (scratch[j] > pivot)
        j--;
      if (i <= j) {
        swap(&scratch[i], &scratch[j]);
        i++;
        if (j == 0)
          break;
        j--;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      break;
  }
  *out = scratch[k];
  return DNL_OK;
}

static bool selected(const ce_shape *s, const int32_t *labels, const float *p_gt,
                     float threshold, size_t pix) {
  if (labels[pix] == s->ignore_label)
    return false;
  return !p_gt || p_gt[pix] < threshold;
}

dnl_status cpu_ce_forward_backward(const ce_shape *s, const float *logits,
                                   const int32_t *labels, const float *weights,
                                   const float *p_gt, float threshold, float loss_weight,
                                   float *loss, float *dlogits) {
  DNL_TRY(check_labels(s, labels));
  /* the denominator depends on the labels only, so one pass over the logits
   * computes each pixel's log-sum-exp once for both the loss and its gradient;
   * sum_w adds float weights in double, exactly, so it is the same in any order */
  double sum_w = 0.0;
  size_t count = 0;
  const bool parallel = (size_t)s->n * s->c * s->hw > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) reduction(+ : sum_w, count) schedule(static)
  for (size_t pix = 0; pix < (size_t)s->n * s->hw; pix++)
    if (selected(s, labels, p_gt, threshold, pix)) {
      sum_w += weights ? weights[labels[pix]] : 1.0;
      count++;
    }
  const double denom = s->plain_mean ? (double)count : sum_w;
  if (count == 0 || denom <= 0.0) {
    *loss = 0.0f;
    return DNL_OK;
  }
  const double scale = loss_weight / denom;
  double sum_wl = 0.0;
#pragma omp parallel for collapse(2) if (parallel) reduction(+ : sum_wl) schedule(static)
  for (int b = 0; b < s->n; b++)
    for (int i = 0; i < s->hw; i++) {
      const size_t pix = (size_t)b * s->hw + i;
      if (!selected(s, labels, p_gt, threshold, pix))
        continue;
      const int32_t l = labels[pix];
      const float *lp = logits + (size_t)b * s->c * s->hw + i;
      const float lse = pixel_lse(lp, s->c, s->hw);
      const double w = weights ? weights[l] : 1.0;
      sum_wl += w * ((double)lse - lp[(size_t)l * s->hw]);
      if (!dlogits)
        continue;
      float *dp = dlogits + (size_t)b * s->c * s->hw + i;
      const float g = (float)(scale * w);
      for (int k = 0; k < s->c; k++)
        dp[(size_t)k * s->hw] +=
            g * (expf(lp[(size_t)k * s->hw] - lse) - (k == l ? 1.0f : 0.0f));
    }
  *loss = (float)(sum_wl / denom);
  return DNL_OK;
}
