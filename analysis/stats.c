#include "analysis/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
  if (n > 1) {
    double ss = 0.0;
    for (int i = 0; i < n; i++)
      ss += (x[i] - s.mean) * (x[i] - s.mean);
    s.std = sqrt(ss / (n - 1));
  }
  return s;
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
    *value = r->eval.miou;
    *n = r->eval.n;
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
