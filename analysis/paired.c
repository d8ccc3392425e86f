#include "analysis/paired.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats.h"
#include "lib/store/results.h"

/* bootstrap resamples and their fixed seed: the same files always print the same interval */
#define BOOTSTRAP_RESAMPLES 10000
#define BOOTSTRAP_SEED 18u

bool run_final_metric(const results_data *r, int metric, double *out) {
  if (!r->finished || r->eval.n == 0 || metric < METRIC_MIOU || metric >= RESULTS_EVAL_STATS)
    return false;
  double v = metric == METRIC_MIOU ? 100.0 * r->eval.miou[r->eval.n - 1]
                                   : results_eval_stat(&r->eval, metric)[r->eval.n - 1];
  if (!isfinite(v))
    return false;
  *out = v;
  return true;
}

const run_group *run_set_find_group(const run_set *rs, const char *label, const char *dataset) {
  for (int i = 0; i < rs->ngroups; i++)
    if (!strcmp(rs->groups[i].label, label) && !strcmp(rs->groups[i].dataset, dataset))
      return &rs->groups[i];
  return NULL;
}

/* The value of the group's first run with that seed that has one. */
static bool value_of_seed(const run_set *rs, const run_group *g, int64_t seed, int metric,
                          double *out) {
  for (int i = 0; i < g->n; i++) {
    const results_data *r = &rs->runs[g->runs[i]];
    if (r->seed == seed && run_final_metric(r, metric, out))
      return true;
  }
  return false;
}

/* True when an earlier run of g has the same seed as run i of g. */
static bool seed_seen_before(const run_set *rs, const run_group *g, int i) {
  for (int k = 0; k < i; k++)
    if (rs->runs[g->runs[k]].seed == rs->runs[g->runs[i]].seed)
      return true;
  return false;
}

dnl_status paired_compare(const run_set *rs, const run_group *a, const run_group *b, int metric,
                          paired_diff *out) {
  *out = (paired_diff){0, NAN, NAN, NAN, NAN, NAN};
  double *diffs = malloc((size_t)(a->n > 0 ? a->n : 1) * sizeof *diffs);
  if (!diffs)
    return dnl_error(DNL_ERR_NOMEM, "analysis: %d paired differences", a->n);
  int n = 0;
  for (int i = 0; i < a->n; i++) {
    double va, vb;
    int64_t seed = rs->runs[a->runs[i]].seed;
    if (!seed_seen_before(rs, a, i) && value_of_seed(rs, a, seed, metric, &va) &&
        value_of_seed(rs, b, seed, metric, &vb))
      diffs[n++] = va - vb;
  }
  out->n = n;
  if (n > 0) {
    stats_summary s = stats_summarize(diffs, n);
    out->mean = s.mean;
    out->sd = n > 1 ? s.std : NAN;
    out->p = stats_t_test_p(diffs, n);
    stats_bootstrap_mean_ci(diffs, n, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, &out->lo, &out->hi);
  }
  free(diffs);
  return DNL_OK;
}

const char *paired_verdict(const paired_diff *d) {
  if (d->n < 2)
    return "not shown (fewer than 2 pairs)";
  if (d->mean > 2.0 * d->sd)
    return "holds: diff > 2 sd";
  if (d->mean < -2.0 * d->sd)
    return "opposite: diff < -2 sd";
  return "not shown";
}
