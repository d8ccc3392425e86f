/* Paired comparisons between two groups of one dataset: runs are paired by their
 * `seed` root attribute (the same seed gives both variants the same shared
 * initial weights and data order, docs/synth.md), and the per-seed differences
 * are summarised with a paired t-test and a bootstrap interval. */
#ifndef DNL_ANALYSIS_PAIRED_H
#define DNL_ANALYSIS_PAIRED_H

#include <stdbool.h>

#include "analysis/runset.h"

/* What is compared: the final mIoU in %, or one of the final evaluation's statistics
 * (0 .. RESULTS_EVAL_STATS - 1, results_eval_stat_names order of lib/store/results.h). */
#define METRIC_MIOU (-1)

/* The metric of a finished run at its last evaluation; false when the run did not
 * finish, has no evaluation, or the value is not finite. */
bool run_final_metric(const results_data *r, int metric, double *out);

typedef struct paired_diff {
  int n;           /* seeds with a value in both groups */
  double mean, sd; /* of the differences a - b; sd: sample (n - 1), NaN for n < 2 */
  double p;        /* two-sided paired t-test p-value, NaN for n < 2 */
  double lo, hi;   /* bootstrap 95% interval of the mean difference, NaN for n < 2 */
} paired_diff;

/* a - b over the seeds both groups share. A seed that occurs twice in one group
 * counts once (its first run in file order that has a value). */
dnl_status paired_compare(const run_set *rs, const run_group *a, const run_group *b, int metric,
                          paired_diff *out);

/* The group of that label and dataset, or NULL. */
const run_group *run_set_find_group(const run_set *rs, const char *label, const char *dataset);

/* The verdict on "a > b": "holds: diff > 2 sd", "opposite: diff < -2 sd", or
 * "not shown" (also for fewer than 2 pairs). */
const char *paired_verdict(const paired_diff *d);

#endif
