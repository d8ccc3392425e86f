/* Small statistics over the runs (seeds) of a group. */
#ifndef DNL_ANALYSIS_STATS_H
#define DNL_ANALYSIS_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/runset.h"

typedef struct stats_summary {
  int n;
  double mean, std, min, max; /* std: sample standard deviation (n - 1), 0 for n < 2 */
} stats_summary;

stats_summary stats_summarize(const double *x, int n);

/* Final mIoU (fractions) of the group's finished runs into out (room for g->n);
 * returns how many; *unfinished counts the others. */
int stats_group_final_mious(const run_set *rs, const run_group *g, double *out, int *unfinished);

/* A group's curve: at every iteration that some run logged, the summary over
 * the runs that logged it. */
typedef struct curve_point {
  int64_t iter;
  stats_summary s;
} curve_point;

/* Which series of a run a curve follows. */
typedef enum { CURVE_TRAIN_LOSS, CURVE_EVAL_MIOU } curve_kind;

/* *points is malloc'ed (count in *n); values are scaled by `scale`. */
dnl_status stats_group_curve(const run_set *rs, const run_group *g, curve_kind kind, double scale,
                       curve_point **points, size_t *n);

#endif
