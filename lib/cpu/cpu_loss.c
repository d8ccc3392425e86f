/* Pixel-wise cross-entropy (ignore label, class weights, OHEM pixel selection). */
#include <math.h>
#include <string.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

/* log-sum-exp over the c logits of one pixel (stride hw) */
static float pixel_lse(const float *lp, int c, int hw) {
  float mx = lp[0];
  for (int k = 1; k < c; k++)
    if (lp[(size_t)k * hw] > mx)
      mx = lp[(size_t)k * hw];
  double s = 0.0;
  for (int k = 0; k < c; k++)
    s += exp((double)lp[(size_t)k * hw] - mx);
  return mx + (float)log(s);
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
  double sum_w = 0.0;
  double sum_wl = 0.0;
  size_t count = 0;
  const bool parallel = (size_t)s->n * s->c * s->hw > CPU_PARALLEL_MIN;
#pragma omp parallel for collapse(2) if (parallel) reduction(+ : sum_w, sum_wl, count) \
    schedule(static)
  for (int b = 0; b < s->n; b++)
    for (int i = 0; i < s->hw; i++) {
      const size_t pix = (size_t)b * s->hw + i;
      if (!selected(s, labels, p_gt, threshold, pix))
        continue;
      const int32_t l = labels[pix];
      const float *lp = logits + (size_t)b * s->c * s->hw + i;
      const double w = weights ? weights[l] : 1.0;
      sum_w += w;
      sum_wl += w * ((double)pixel_lse(lp, s->c, s->hw) - lp[(size_t)l * s->hw]);
      count++;
    }
  const double denom = s->plain_mean ? (double)count : sum_w;
  if (count == 0 || denom <= 0.0) {
    *loss = 0.0f;
    return DNL_OK;
  }
  *loss = (float)(sum_wl / denom);
  if (!dlogits)
    return DNL_OK;
  const double scale = loss_weight / denom;
#pragma omp parallel for collapse(2) if (parallel) schedule(static)
  for (int b = 0; b < s->n; b++)
    for (int i = 0; i < s->hw; i++) {
      const size_t pix = (size_t)b * s->hw + i;
      if (!selected(s, labels, p_gt, threshold, pix))
        continue;
      const int32_t l = labels[pix];
      const float *lp = logits + (size_t)b * s->c * s->hw + i;
      float *dp = dlogits + (size_t)b * s->c * s->hw + i;
      const float lse = pixel_lse(lp, s->c, s->hw);
      const float g = (float)(scale * (weights ? weights[l] : 1.0));
      for (int k = 0; k < s->c; k++)
        dp[(size_t)k * s->hw] +=
            g * (expf(lp[(size_t)k * s->hw] - lse) - (k == l ? 1.0f : 0.0f));
    }
  return DNL_OK;
}
