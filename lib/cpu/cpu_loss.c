/* Pixel-wise cross-entropy (ignore label, class weights, OHEM pixel selection). */
#include <math.h>
#include <string.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"
#include "lib/cpu/cpu_vmath.h"

/* Pixels are handled in blocks of up to PIX_BLOCK neighbours of one image, the
 * loops over classes outside and over the block's pixels inside: the logits of
 * one class are contiguous, so the exponentials vectorise. */
#define PIX_BLOCK 64

typedef struct pix_block {
  int b, i0, w; /* image, first pixel, pixel count */
} pix_block;

static int block_count(const ce_shape *s) { return (s->hw + PIX_BLOCK - 1) / PIX_BLOCK; }

static pix_block block_at(const ce_shape *s, long t) {
  const int nb = block_count(s), i0 = (int)(t % nb) * PIX_BLOCK;
  return (pix_block){.b = (int)(t / nb), .i0 = i0,
                     .w = s->hw - i0 < PIX_BLOCK ? s->hw - i0 : PIX_BLOCK};
}

/* lse[j]: log-sum-exp over the c logits of pixel j of the block (lp points at
 * its first pixel's class 0, classes hw apart), in float as PyTorch: the terms
 * are at most 1 after subtracting the maximum */
VECTOR_CLONES static void block_lse(const float *lp, int c, int hw, int w, float *lse) {
  float mx[PIX_BLOCK], sum[PIX_BLOCK];
  for (int j = 0; j < w; j++) {
    mx[j] = lp[j];
    sum[j] = 0.0f;
  }
  for (int k = 1; k < c; k++) {
    const float *row = lp + (size_t)k * hw;
#pragma omp simd
    for (int j = 0; j < w; j++)
      mx[j] = row[j] > mx[j] ? row[j] : mx[j];
  }
  for (int k = 0; k < c; k++) {
    const float *row = lp + (size_t)k * hw;
#pragma omp simd
    for (int j = 0; j < w; j++)
      sum[j] += exp_fast(row[j] - mx[j]);
  }
  for (int j = 0; j < w; j++)
    lse[j] = mx[j] + logf(sum[j]);
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
  const long blocks = (long)s->n * block_count(s);
  const bool parallel = (size_t)s->n * s->c * s->hw > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) reduction(+ : valid) schedule(static)
  for (long t = 0; t < blocks; t++) {
    const pix_block k = block_at(s, t);
    const size_t pix0 = (size_t)k.b * s->hw + k.i0;
    const float *lp = logits + (size_t)k.b * s->c * s->hw + k.i0;
    float lse[PIX_BLOCK];
    block_lse(lp, s->c, s->hw, k.w, lse);
    for (int j = 0; j < k.w; j++) {
      const int32_t l = labels[pix0 + j];
      if (l == s->ignore_label) {
        p_gt[pix0 + j] = 2.0f;
        continue;
      }
      p_gt[pix0 + j] = exp_fast(lp[(size_t)l * s->hw + j] - lse[j]);
      valid++;
    }
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

/* dp[k, j] += g[j] * (softmax_k(pixel j) - [k == lab[j]]) over the block, for
 * the pixels with g[j] != 0 (the others keep dp unchanged even where the
 * logits are not finite) */
VECTOR_CLONES static void block_grad(const float *lp, int c, int hw, int w, const float *lse,
                                     const float *g, const int32_t *lab, float *dp) {
  for (int k = 0; k < c; k++) {
    const float *row = lp + (size_t)k * hw;
    float *drow = dp + (size_t)k * hw;
#pragma omp simd
    for (int j = 0; j < w; j++) {
      const float d = g[j] * (exp_fast(row[j] - lse[j]) - (lab[j] == k ? 1.0f : 0.0f));
      drow[j] += g[j] != 0.0f ? d : 0.0f;
    }
  }
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
  const long blocks = (long)s->n * block_count(s);
#pragma omp parallel for if (parallel) reduction(+ : sum_wl) schedule(static)
  for (long t = 0; t < blocks; t++) {
    const pix_block k = block_at(s, t);
    const size_t pix0 = (size_t)k.b * s->hw + k.i0;
    const float *lp = logits + (size_t)k.b * s->c * s->hw + k.i0;
    float lse[PIX_BLOCK], g[PIX_BLOCK];
    int32_t lab[PIX_BLOCK];
    block_lse(lp, s->c, s->hw, k.w, lse);
    for (int j = 0; j < k.w; j++) {
      g[j] = 0.0f; /* unselected pixels get no gradient */
      lab[j] = -1;
      if (!selected(s, labels, p_gt, threshold, pix0 + j))
        continue;
      const int32_t l = labels[pix0 + j];
      const double w = weights ? weights[l] : 1.0;
      sum_wl += w * ((double)lse[j] - lp[(size_t)l * s->hw + j]);
      g[j] = (float)(scale * w);
      lab[j] = l;
    }
    if (dlogits)
      block_grad(lp, s->c, s->hw, k.w, lse, g, lab,
                 dlogits + (size_t)k.b * s->c * s->hw + k.i0);
  }
  *loss = (float)(sum_wl / denom);
  return DNL_OK;
}
