/* Statistics of the block's two attention terms over a whole validation set
 * (docs/results.md, /eval columns), gathered image by image while evaluate()
 * runs, so that a reader sees a term switch on as training goes:
 *  - pairwise: for sampled query pixels (class-balanced, the same pixels for
 *    every variant), the attention mass on the pixels of the query's own
 *    ground-truth class over their share of the map (pair_region_ratio), the
 *    same restricted to pixels outside the query's own connected region
 *    (pair_far_ratio: long-range matching), and the rows' normalised entropy;
 *  - unary: mass on the cue pixels (label 255, the far stripe of the synthetic
 *    data) and on region boundaries over their shares, normalised entropy;
 *  - the block's gamma and each term's contribution relative to its input.
 * Everything at the block's feature resolution (labels nearest-downsampled). */
#ifndef DNL_RUNNER_EVAL_STATS_H
#define DNL_RUNNER_EVAL_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/dist/dist.h"
#include "lib/store/results.h"
#include "net/segnet.h"

#define EVAL_STATS_QUERIES 16 /* query pixels per image */

/* Sums over images (and ranks); eval_stats_finish turns them into means. */
enum {
  ES_PAIR_RATIO,
  ES_PAIR_N,
  ES_FAR_RATIO,
  ES_FAR_N,
  ES_PAIR_ENTROPY,
  ES_CUE_RATIO,
  ES_CUE_N,
  ES_BOUNDARY_RATIO,
  ES_BOUNDARY_N,
  ES_UNARY_ENTROPY,
  ES_UNARY_N,
  ES_GAMMA,
  ES_PAIR_CONTRIB,
  ES_UNARY_CONTRIB,
  ES_TERMS_N,
  ES_COUNT
};

typedef struct eval_stats {
  bool pairwise, unary; /* the terms the variant has */
  bool cue;             /* label-255 pixels are a cue to measure (synthetic data) */
  bool has_gamma;       /* some image's block had a gamma */
  double sum[ES_COUNT];
  int fh, fw;
  float *pair_rows, *unary_map;
  uint8_t *small, *region;
  int *stack;
} eval_stats;

/* The means, NaN where a term is absent or nothing was measured. */
typedef struct eval_stats_means {
  double pair_region_ratio, pair_far_ratio, pair_entropy;
  double unary_cue_ratio, unary_boundary_ratio, unary_entropy;
  double gamma, pair_contrib, unary_contrib;
} eval_stats_means;

/* nq query pixels of a feature-resolution label map small [p]: the classes
 * present (not ignore; with objects_only not class 0 either, unless it is the
 * only one) in turn, a random pixel of each, drawn from a stream keyed by the
 * image index alone, so every variant gets the same pixels. Returns nq, or 0
 * when no pixel qualifies. */
int eval_stats_draw_queries(const uint8_t *small, int p, long index, bool objects_only, int *qpos,
                            int nq);

void eval_stats_init(eval_stats *es, const segnet *net, bool cue);
/* After a forward of one image (batch of 1) at full size: label [H, W] of that
 * image (255 ignore), index = the image's index in the split (seeds the
 * query draw). */
dnl_status eval_stats_add(eval_stats *es, segnet *net, layer_ctx *ctx, const uint8_t *label, int H,
                          int W, long index);
/* The arithmetic of eval_stats_add on given maps at feature resolution:
 * small [fh, fw] labels, pair_rows [nq, fh * fw] for the queries qpos, unary
 * map [fh * fw] or NULL. */
dnl_status eval_stats_accumulate(eval_stats *es, const uint8_t *small, int fh, int fw,
                                 const int *qpos, int nq, const float *pair_rows,
                                 const float *unary_map);
/* The block's gamma and term sizes of one image (NaN entries count as absent). */
void eval_stats_add_terms(eval_stats *es, const block_term_sizes *ts);
/* Sums over the ranks of d, then the means. */
dnl_status eval_stats_finish(eval_stats *es, dist *d, eval_stats_means *out);
void eval_stats_free(eval_stats *es);
/* Copies the means into the statistic fields of a result row. */
void eval_stats_to_row(const eval_stats_means *m, results_eval_row *row);
/* "  pairwise: own class x3.1, far x1.4, entropy 0.91  unary: cue x2.3 ..."
 * for the progress line: the measured numbers only ("" when none). */
void eval_stats_format(const eval_stats_means *m, char *buf, size_t len);

#endif
