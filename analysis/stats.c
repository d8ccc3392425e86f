#include "analysis/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/core/rng.h"
#include "lib/store/results.h"

stats_summary stats_summarize(const double *x, int n) {
  stats_summary s = {n, NAN, 0.0, NAN, NAN};
  if (n < 1)
    return s;
  double sum = 0.0;
  s.min = s.max = x[0];
  for (int i = 0; i < n; i++) {
    sum += x[i];
    s.min = x[i] < s.min ? x[i] : s.min;
    s.max = x[i] > s.max ? x[i] : s.max;
  }
  s.mean = sum / n;
  /* one correction pass: equal values give exactly their value and a std of 0 */
  double residual = 0.0;
  for (int i = 0; i < n; i++)
    residual += x[i] - s.mean;
  s.mean += residual / n;
  if (n > 1) {
    double ss = 0.0;
    for (int i = 0; i < n; i++)
      ss += (x[i] - s.mean) * (x[i] - s.mean);
    s.std = sqrt(ss / (n - 1));
  }
  return s;
}

stats_summary stats_summarize_finite(const double *x, int n) {
  double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
  if (!v)
    return stats_summarize(x, 0);
  int c = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(x[i]))
      v[c++] = x[i];
  stats_summary s = stats_summarize(v, c);
  free(v);
  return s;
}

/* The continued fraction of I_x(a, b) (modified Lentz), to be used for
 * x < (a + 1) / (a + b + 2) where it converges fast. */
static double incomplete_beta_fraction(double x, double a, double b) {
  const double tiny = 1e-300, eps = 1e-15;
  double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
  d = 1.0 / (fabs(d) < tiny ? tiny : d);
  double f = d;
  for (int m = 1; m <= 1000; m++) {
    /* even term d_2m, then odd term d_2m+1 */
    for (int odd = 0; odd < 2; odd++) {
      double num = odd ? -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0))
                       : m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
      d = 1.0 + num * d;
      d = 1.0 / (fabs(d) < tiny ? tiny : d);
      c = 1.0 + num / c;
      c = fabs(c) < tiny ? tiny : c;
      f *= c * d;
      if (odd && fabs(c * d - 1.0) < eps)
        return f;
    }
  }
  return f;
}

double stats_incomplete_beta(double x, double a, double b) {
  if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0) || !(x <= 1.0))
    return NAN;
  if (x == 0.0 || x == 1.0)
    return x;
  /* x^a (1 - x)^b / (a B(a, b)) times the fraction; the symmetry
   * I_x(a, b) = 1 - I_(1-x)(b, a) keeps the fraction where it converges */
  double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
  if (x < (a + 1.0) / (a + b + 2.0))
    return front * incomplete_beta_fraction(x, a, b) / a;
  return 1.0 - front * incomplete_beta_fraction(1.0 - x, b, a) / b;
}

/* P(|T| > |t|) for df degrees of freedom: I_x(df / 2, 1 / 2) with x = df / (df + t^2), or
 * 1 - I_y(1 / 2, df / 2) with y = 1 - x = t^2 / (df + t^2) when y is the smaller one, so
 * that neither is formed as 1 minus a number near 1. */
static double student_t_two_sided(double t, double df) {
  double t2 = t * t;
  if (t2 < df)
    return 1.0 - stats_incomplete_beta(t2 / (df + t2), 0.5, 0.5 * df);
  return stats_incomplete_beta(df / (df + t2), 0.5 * df, 0.5);
}

double stats_student_t_cdf(double t, double df) {
  if (!(df > 0.0) || isnan(t))
    return NAN;
  if (isinf(t))
    return t > 0 ? 1.0 : 0.0;
  double tail = 0.5 * student_t_two_sided(t, df);
  return t > 0 ? 1.0 - tail : tail;
}

double stats_t_test_p(const double *x, int n) {
  if (n < 2)
    return NAN;
  stats_summary s = stats_summarize(x, n);
  if (s.std == 0.0)
    return s.mean == 0.0 ? 1.0 : 0.0;
  return student_t_two_sided(s.mean / (s.std / sqrt((double)n)), n - 1.0);
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Linear interpolation between order statistics (the common "type 7" quantile). */
static double quantile_sorted(const double *v, int n, double q) {
  double h = q * (n - 1);
  int i = (int)floor(h);
  return i + 1 < n ? v[i] + (h - i) * (v[i + 1] - v[i]) : v[n - 1];
}

void stats_bootstrap_mean_ci(const double *x, int n, int resamples, uint64_t seed, double *lo,
                             double *hi) {
  *lo = *hi = NAN;
  if (n < 2 || resamples < 2)
    return;
  double *means = malloc((size_t)resamples * sizeof *means);
  if (!means)
    return;
  rng r;
  rng_seed(&r, seed);
  for (int b = 0; b < resamples; b++) {
    double sum = 0.0;
    for (int i = 0; i < n; i++)
      sum += x[rng_int(&r, 0, n - 1)];
    means[b] = sum / n;
  }
  qsort(means, (size_t)resamples, sizeof *means, compare_double);
  *lo = quantile_sorted(means, resamples, 0.025);
  *hi = quantile_sorted(means, resamples, 0.975);
  free(means);
}

int stats_group_final_mious(const run_set *rs, const run_group *g, double *out, int *unfinished) {
  int n = 0;
  *unfinished = 0;
  for (int i = 0; i < g->n; i++) {
    if (run_set_final_miou(&rs->runs[g->runs[i]], &out[n]))
      n++;
    else
      (*unfinished)++;
  }
  return n;
}

static void series_of(const results_data *r, curve_kind kind, const int64_t **iter,
                      const double **value, size_t *n) {
  if (kind == CURVE_TRAIN_LOSS) {
    *iter = r->train.iter;
    *value = r->train.loss;
    *n = r->train.n;
  } else {
    *iter = r->eval.iter;
    *value = kind == CURVE_EVAL_MIOU ? r->eval.miou
                                     : results_eval_stat(&r->eval, kind - CURVE_EVAL_STAT);
    *n = *value ? r->eval.n : 0;
  }
}

static int compare_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

dnl_status stats_group_curve(const run_set *rs, const run_group *g, curve_kind kind, double scale,
                             curve_point **points, size_t *n) {
  *points = NULL;
  *n = 0;
  size_t total = 0;
  for (int i = 0; i < g->n; i++) {
    const int64_t *it;
    const double *v;
    size_t m;
    series_of(&rs->runs[g->runs[i]], kind, &it, &v, &m);
    total += m;
  }
  int64_t *iters = malloc((total ? total : 1) * sizeof *iters);
  size_t *pos = calloc((size_t)g->n, sizeof *pos);
  double *vals = malloc((size_t)g->n * sizeof *vals);
  *points = malloc((total ? total : 1) * sizeof **points);
  if (!iters || !pos || !vals || !*points) {
    free(iters);
    free(pos);
    free(vals);
    free(*points);
    *points = NULL;
    return dnl_error(DNL_ERR_NOMEM, "analysis: curve of %zu points", total);
  }
  size_t k = 0;
  for (int i = 0; i < g->n; i++) {
    const int64_t *it;
    const double *v;
    size_t m;
    series_of(&rs->runs[g->runs[i]], kind, &it, &v, &m);
    memcpy(iters + k, it, m * sizeof *it);
    k += m;
  }
  qsort(iters, total, sizeof *iters, compare_i64);
  for (size_t u = 0; u < total; u++) {
    if (u && iters[u] == iters[u - 1])
      continue;
    int c = 0;
    for (int i = 0; i < g->n; i++) {
      const int64_t *it;
      const double *v;
      size_t m;
      series_of(&rs->runs[g->runs[i]], kind, &it, &v, &m);
      /* rows are in iteration order: advance this run's cursor */
      while (pos[i] < m && it[pos[i]] < iters[u])
        pos[i]++;
      if (pos[i] < m && it[pos[i]] == iters[u] && isfinite(v[pos[i]]))
        vals[c++] = v[pos[i]] * scale;
    }
    if (c)
      (*points)[(*n)++] = (curve_point){iters[u], stats_summarize(vals, c)};
  }
  free(iters);
  free(pos);
  free(vals);
  return DNL_OK;
}
