#include "runner/eval_stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "lib/core/rng.h"
#include "runner/attention_stats.h"

void eval_stats_init(eval_stats *es, const segnet *net, bool cue) {
  memset(es, 0, sizeof *es);
  es->pairwise = net->head.block_ops->has_pairwise;
  es->unary = net->head.block_ops->has_unary;
  es->cue = cue;
}

void eval_stats_free(eval_stats *es) {
  free(es->pair_rows);
  free(es->unary_map);
  free(es->small);
  free(es->region);
  free(es->stack);
  memset(es, 0, sizeof *es);
}

static dnl_status ensure_buffers(eval_stats *es, int fh, int fw) {
  if (es->small && es->fh == fh && es->fw == fw)
    return DNL_OK;
  free(es->pair_rows), free(es->unary_map), free(es->small), free(es->region), free(es->stack);
  const size_t p = (size_t)fh * fw;
  es->fh = fh, es->fw = fw;
  es->pair_rows = malloc(EVAL_STATS_QUERIES * p * sizeof(float));
  es->unary_map = malloc(p * sizeof(float));
  es->small = malloc(p);
  es->region = malloc(p);
  es->stack = malloc(p * sizeof(int));
  if (!es->pair_rows || !es->unary_map || !es->small || !es->region || !es->stack)
    return dnl_error(DNL_ERR_NOMEM, "attention statistics of a %dx%d feature map", fh, fw);
  return DNL_OK;
}

/* Normalised entropy (H / log P) of a distribution over p entries. */
static double norm_entropy(const float *m, size_t p) {
  double total = 0, h = 0;
  for (size_t i = 0; i < p; i++)
    total += m[i];
  if (!(total > 0) || p < 2)
    return NAN;
  for (size_t i = 0; i < p; i++)
    if (m[i] > 0) {
      double q = m[i] / total;
      h -= q * log(q);
    }
  return h / log((double)p);
}

int eval_stats_draw_queries(const uint8_t *small, int p, long index, bool objects_only, int *qpos,
                            int nq) {
  int classes[256], nc = 0;
  bool seen[256] = {false};
  for (int pass = 0; pass < 2 && nc == 0; pass++)
    for (int i = 0; i < p; i++)
      if (small[i] != DATASET_IGNORE && !seen[small[i]] &&
          (pass == 1 || !objects_only || small[i] != 0)) {
        seen[small[i]] = true;
        classes[nc++] = small[i];
      }
  if (nc == 0)
    return 0;
  rng r;
  rng_seed3(&r, 0xe7a1, (uint64_t)index, 0);
  for (int q = 0; q < nq; q++) {
    int cls = classes[q % nc], count = 0;
    for (int i = 0; i < p; i++)
      count += small[i] == cls;
    long pick = rng_int(&r, 0, count - 1);
    for (int i = 0; i < p; i++)
      if (small[i] == cls && pick-- == 0) {
        qpos[q] = i;
        break;
      }
  }
  return nq;
}

/* region[i] = 1 on the 4-connected pixels of the query's class around it. */
static void own_region(eval_stats *es, int query) {
  const int w = es->fw, p = es->fh * es->fw;
  const uint8_t cls = es->small[query];
  memset(es->region, 0, (size_t)p);
  int top = 0;
  es->stack[top++] = query;
  es->region[query] = 1;
  while (top > 0) {
    int i = es->stack[--top], y = i / w, x = i % w;
    const int nb[4] = {x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1, y > 0 ? i - w : -1,
                       i + w < p ? i + w : -1};
    for (int k = 0; k < 4; k++)
      if (nb[k] >= 0 && !es->region[nb[k]] && es->small[nb[k]] == cls) {
        es->region[nb[k]] = 1;
        es->stack[top++] = nb[k];
      }
  }
}

static void add_pairwise(eval_stats *es, const int *qpos, int nq) {
  const int p = es->fh * es->fw;
  for (int q = 0; q < nq; q++) {
    const float *row = es->pair_rows + (size_t)q * p;
    const uint8_t cls = es->small[qpos[q]];
    own_region(es, qpos[q]);
    double total = 0, same = 0, far = 0;
    long n_same = 0, n_far = 0, n_valid = 0;
    for (int i = 0; i < p; i++) {
      total += row[i];
      if (es->small[i] == DATASET_IGNORE)
        continue;
      n_valid++;
      if (es->small[i] == cls) {
        same += row[i], n_same++;
        if (!es->region[i])
          far += row[i], n_far++;
      }
    }
    if (!(total > 0) || n_valid == 0)
      continue;
    es->sum[ES_PAIR_RATIO] += (same / total) / ((double)n_same / n_valid);
    es->sum[ES_PAIR_N] += 1;
    es->sum[ES_PAIR_ENTROPY] += norm_entropy(row, (size_t)p);
    if (n_far > 0) {
      es->sum[ES_FAR_RATIO] += (far / total) / ((double)n_far / n_valid);
      es->sum[ES_FAR_N] += 1;
    }
  }
}

static void add_unary(eval_stats *es) {
  const int p = es->fh * es->fw;
  double total = 0, on_cue = 0;
  long n_cue = 0;
  for (int i = 0; i < p; i++) {
    total += es->unary_map[i];
    if (es->small[i] == DATASET_IGNORE)
      on_cue += es->unary_map[i], n_cue++;
  }
  if (!(total > 0))
    return;
  es->sum[ES_UNARY_ENTROPY] += norm_entropy(es->unary_map, (size_t)p);
  es->sum[ES_UNARY_N] += 1;
  if (es->cue && n_cue > 0) {
    es->sum[ES_CUE_RATIO] += (on_cue / total) / ((double)n_cue / p);
    es->sum[ES_CUE_N] += 1;
  }
  double mass, share;
  unary_boundary_mass(es->unary_map, es->small, es->fh, es->fw, &mass, &share);
  if (share > 0) {
    es->sum[ES_BOUNDARY_RATIO] += mass / share;
    es->sum[ES_BOUNDARY_N] += 1;
  }
}

dnl_status eval_stats_accumulate(eval_stats *es, const uint8_t *small, int fh, int fw,
                                 const int *qpos, int nq, const float *pair_rows,
                                 const float *unary_map) {
  DNL_TRY(ensure_buffers(es, fh, fw));
  const size_t p = (size_t)fh * fw;
  if (small != es->small)
    memcpy(es->small, small, p);
  if (nq > 0 && pair_rows != es->pair_rows)
    memcpy(es->pair_rows, pair_rows, (size_t)nq * p * sizeof(float));
  if (unary_map && unary_map != es->unary_map)
    memcpy(es->unary_map, unary_map, p * sizeof(float));
  if (nq > 0)
    add_pairwise(es, qpos, nq);
  if (unary_map)
    add_unary(es);
  return DNL_OK;
}

void eval_stats_add_terms(eval_stats *es, const block_term_sizes *ts) {
  es->sum[ES_GAMMA] += isnan(ts->gamma) ? 0 : ts->gamma;
  es->sum[ES_PAIR_CONTRIB] += isnan(ts->pairwise) ? 0 : ts->pairwise;
  es->sum[ES_UNARY_CONTRIB] += isnan(ts->unary) ? 0 : ts->unary;
  es->sum[ES_TERMS_N] += 1;
  es->has_gamma |= !isnan(ts->gamma);
}

dnl_status eval_stats_add(eval_stats *es, segnet *net, layer_ctx *ctx, const uint8_t *label, int H,
                          int W, long index) {
  if (!es->pairwise && !es->unary)
    return DNL_OK;
  const int fh = net->head.a.shape[2], fw = net->head.a.shape[3];
  DNL_TRY(ensure_buffers(es, fh, fw));
  labels_downsample(label, H, W, es->small, fh, fw);
  int qpos[EVAL_STATS_QUERIES];
  const int nq = es->pairwise ? eval_stats_draw_queries(es->small, fh * fw, index, false, qpos,
                                                        EVAL_STATS_QUERIES)
                              : 0;
  if (nq == 0 && !es->unary)
    return DNL_OK;
  DNL_TRY(segnet_attention(net, ctx, 0, qpos, nq, nq > 0 ? es->pair_rows : NULL,
                           es->unary ? es->unary_map : NULL));
  block_term_sizes ts;
  DNL_TRY(segnet_block_term_sizes(net, ctx, &ts));
  eval_stats_add_terms(es, &ts);
  return eval_stats_accumulate(es, es->small, fh, fw, qpos, nq, es->pair_rows,
                               es->unary ? es->unary_map : NULL);
}

static double mean_of(const eval_stats *es, int sum, int count) {
  return es->sum[count] > 0 ? es->sum[sum] / es->sum[count] : NAN;
}

dnl_status eval_stats_finish(eval_stats *es, dist *d, eval_stats_means *out) {
  DNL_TRY(dist_allreduce_sum(d, es->sum, ES_COUNT, DIST_F64, "attention statistics"));
  out->pair_region_ratio = mean_of(es, ES_PAIR_RATIO, ES_PAIR_N);
  out->pair_far_ratio = mean_of(es, ES_FAR_RATIO, ES_FAR_N);
  out->pair_entropy = mean_of(es, ES_PAIR_ENTROPY, ES_PAIR_N);
  out->unary_cue_ratio = mean_of(es, ES_CUE_RATIO, ES_CUE_N);
  out->unary_boundary_ratio = mean_of(es, ES_BOUNDARY_RATIO, ES_BOUNDARY_N);
  out->unary_entropy = mean_of(es, ES_UNARY_ENTROPY, ES_UNARY_N);
  out->gamma = es->has_gamma ? mean_of(es, ES_GAMMA, ES_TERMS_N) : NAN;
  out->pair_contrib = es->pairwise ? mean_of(es, ES_PAIR_CONTRIB, ES_TERMS_N) : NAN;
  out->unary_contrib = es->unary ? mean_of(es, ES_UNARY_CONTRIB, ES_TERMS_N) : NAN;
  return DNL_OK;
}

void eval_stats_format(const eval_stats_means *m, char *buf, size_t len) {
  size_t n = 0;
  buf[0] = '\0';
#define PUT(...) (n < len ? n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__) : 0)
  if (!isnan(m->pair_region_ratio))
    PUT("  pairwise: own class x%.2f, far x%.2f, entropy %.3f", m->pair_region_ratio,
        m->pair_far_ratio, m->pair_entropy);
  if (!isnan(m->unary_entropy)) {
    PUT("  unary:");
    if (!isnan(m->unary_cue_ratio))
      PUT(" cue x%.2f,", m->unary_cue_ratio);
    PUT(" boundary x%.2f, entropy %.3f", m->unary_boundary_ratio, m->unary_entropy);
  }
  if (!isnan(m->gamma))
    PUT("  gamma %.3g", m->gamma);
  if (!isnan(m->pair_contrib))
    PUT("  |pairwise|/|x| %.3g", m->pair_contrib);
  if (!isnan(m->unary_contrib))
    PUT("  |unary|/|x| %.3g", m->unary_contrib);
#undef PUT
}

void eval_stats_to_row(const eval_stats_means *m, results_eval_row *row) {
  row->pair_region_ratio = m->pair_region_ratio;
  row->pair_far_ratio = m->pair_far_ratio;
  row->pair_entropy = m->pair_entropy;
  row->unary_cue_ratio = m->unary_cue_ratio;
  row->unary_boundary_ratio = m->unary_boundary_ratio;
  row->unary_entropy = m->unary_entropy;
  row->gamma = m->gamma;
  row->pair_contrib = m->pair_contrib;
  row->unary_contrib = m->unary_contrib;
}
