/* Evaluation of the session's network on its validation split (SPEC 5), and
 * the attention maps and statistics stored in result files. */
#ifndef DNL_EVALUATE_H
#define DNL_EVALUATE_H

#include "lib/eval/metrics.h"
#include "lib/store/results.h"
#include "runner/eval_stats.h"
#include "runner/infer.h"
#include "runner/session.h"

typedef struct eval_result {
  confusion conf;
  double miou, pixel_acc;
  double *class_iou; /* [classes] */
  long images;
  /* the block's attention statistics over the set (runner/eval_stats.h); NaN
   * unless the evaluation is a plain single-scale pass without flip */
  eval_stats_means stats;
} eval_result;

/* infer_opts from the config's eval section. */
dnl_status eval_options(const run_config *cfg, infer_opts *o);

/* Whole validation split (or its first cfg.eval_limit images); progress on
 * stderr when show_progress. With several ranks in s->ctx.dist, each rank
 * evaluates its share and all get the whole set's result. Free the result
 * with eval_result_free. */
dnl_status evaluate(session *s, const infer_opts *o, bool show_progress, eval_result *out);
void eval_result_free(eval_result *r);

/* Attention maps of the first output.attention_images validation images (those
 * of the first image's size) at the configured query points, with their
 * statistics, into the result file. */
dnl_status attention_capture(session *s, results_file *rf, long iter);

#endif
