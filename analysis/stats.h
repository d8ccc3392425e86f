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
/* The same over the finite values of x only (NaN values are left out of n). */
stats_summary stats_summarize_finite(const double *x, int n);

/* Regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1 (NaN
 * outside), by its continued fraction; about 1e-12 accuracy while a and b stay below
 * about 1e4 (lgamma's cancellation grows with them). */
double stats_incomplete_beta(double x, double a, double b);
/* Student t distribution with df > 0 degrees of freedom: P(T <= t) (df up to ~1e4). */
double stats_student_t_cdf(double t, double df);
/* Two-sided p-value of a one-sample (paired) t-test that the mean of x is 0; NaN for
 * n < 2; 0 when every value is the same non-zero number, 1 when all are 0. */
double stats_t_test_p(const double *x, int n);
/* Percentile bootstrap 95% interval of the mean of x: `resamples` resamples drawn from a
 * stream seeded with `seed` (deterministic). NaN for n < 2. */
void stats_bootstrap_mean_ci(const double *x, int n, int resamples, uint64_t seed, double *lo,
                             double *hi);

/* Final mIoU (fractions) of the group's finished runs into out (room for g->n);
 * returns how many; *unfinished counts the others. */
int stats_group_final_mious(const run_set *rs, const run_group *g, double *out, int *unfinished);

/* A group's curve: at every iteration that some run logged, the summary over
 * the runs that logged it. */
typedef struct curve_point {
  int64_t iter;
  stats_summary s;
} curve_point;

/* Which series of a run a curve follows: the training loss, the validation mIoU, or
 * statistic i of /eval as CURVE_EVAL_STAT + i (results_eval_stat_names order). */
typedef int curve_kind;
#define CURVE_TRAIN_LOSS 0
#define CURVE_EVAL_MIOU 1
#define CURVE_EVAL_STAT 2

/* *points is malloc'ed (count in *n); values are scaled by `scale`. */
dnl_status stats_group_curve(const run_set *rs, const run_group *g, curve_kind kind, double scale,
                             curve_point **points, size_t *n);

#endif
