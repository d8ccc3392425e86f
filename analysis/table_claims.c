/* The claims section of `analysis table`: the paper's two claims (and DNL against the
 * reference), each a paired difference over seeds, printed whichever way it comes out. */
#include <math.h>
#include <string.h>

#include "analysis/table.h"
#include "lib/store/results.h"

/* One comparison "a > b" of a claim. */
typedef struct comparison {
  const char *claim; /* "a", "b", "c" */
  const char *a, *b; /* group labels */
  int metric;        /* METRIC_MIOU or a statistic index */
} comparison;

#define PAIR_REGION_RATIO 0 /* index in results_eval_stat_names */

static const char *metric_name(int metric) {
  return metric == METRIC_MIOU ? "miou" : results_eval_stat_names[metric];
}

/* The comparisons of every claim, in print order; returns how many. */
static int claim_comparisons(const table_groups *tg, comparison *out) {
  int n = 0;
  out[n++] = (comparison){"a", tg->dnl, tg->nl, METRIC_MIOU};
  out[n++] = (comparison){"b", tg->pairwise, tg->nl, PAIR_REGION_RATIO};
  out[n++] = (comparison){"b", tg->dnl, tg->nl, PAIR_REGION_RATIO};
  if (strcmp(tg->ref, tg->nl) && strcmp(tg->ref, tg->dnl))
    out[n++] = (comparison){"c", tg->dnl, tg->ref, METRIC_MIOU};
  return n;
}

static const char *claim_title(const char *claim, const table_groups *tg, char *buf, size_t len) {
  if (!strcmp(claim, "a"))
    snprintf(buf, len, "DNL (`%s`) > NL (`%s`) in mIoU", tg->dnl, tg->nl);
  else if (!strcmp(claim, "b"))
    snprintf(buf, len,
             "the whitened pairwise term looks more within the query's own region than NL "
             "(`%s`): pairwise mass in own region / region share (`pair_region_ratio`)",
             tg->nl);
  else
    snprintf(buf, len, "DNL (`%s`) > `%s` in mIoU (the ablation's baseline)", tg->dnl, tg->ref);
  return buf;
}

bool table_claims_apply(const run_set *rs, const table_groups *tg) {
  comparison c[4];
  int n = claim_comparisons(tg, c);
  for (int d = 0; d < rs->ndatasets; d++)
    for (int i = 0; i < n; i++)
      if (run_set_find_group(rs, c[i].a, rs->datasets[d]) &&
          run_set_find_group(rs, c[i].b, rs->datasets[d]))
        return true;
  return false;
}

/* The comparison's result, or why it could not be made (into why). */
static dnl_status compare(const run_set *rs, const comparison *c, const char *dataset,
                          paired_diff *d, char *why, size_t len) {
  const run_group *ga = run_set_find_group(rs, c->a, dataset);
  const run_group *gb = run_set_find_group(rs, c->b, dataset);
  *d = (paired_diff){0, NAN, NAN, NAN, NAN, NAN};
  why[0] = '\0';
  if (!ga || !gb) {
    snprintf(why, len, "not tested: no `%s` runs", !ga ? c->a : c->b);
    return DNL_OK;
  }
  DNL_TRY(paired_compare(rs, ga, gb, c->metric, d));
  if (d->n == 0)
    snprintf(why, len, "not tested: no seed with a finished `%s` value in both groups",
             metric_name(c->metric));
  return DNL_OK;
}

static void print_md_comparison(FILE *f, const comparison *c, const paired_diff *d,
                                const char *why) {
  bool miou = c->metric == METRIC_MIOU;
  fprintf(f, "`%s` - `%s`", c->a, c->b);
  if (why[0]) {
    fprintf(f, ": %s", why);
    return;
  }
  fprintf(f, miou ? " = %+.2f points" : " = %+.3f", d->mean);
  if (d->n > 1)
    fprintf(f,
            miou ? " (sd %.2f, %d pairs, p = %.3g, 95%% interval [%+.2f, %+.2f])"
                 : " (sd %.3f, %d pairs, p = %.3g, 95%% interval [%+.3f, %+.3f])",
            d->sd, d->n, d->p, d->lo, d->hi);
  else
    fprintf(f, " (1 pair)");
  fprintf(f, ": **%s**", paired_verdict(d));
}

static dnl_status print_md(FILE *f, const run_set *rs, const table_groups *tg) {
  comparison c[4];
  int n = claim_comparisons(tg, c);
  fprintf(f, "\n### Claims\n\nPaired over the seeds both groups ran (same dataset); a claim "
             "holds when the mean difference exceeds twice the standard deviation of the "
             "differences.\n\n");
  for (int k = 0; k < rs->ndatasets; k++) {
    const char *dataset = rs->datasets[k];
    for (int i = 0; i < n; i++) {
      bool first = i == 0 || strcmp(c[i].claim, c[i - 1].claim) != 0;
      char title[512], why[256];
      paired_diff d;
      DNL_TRY(compare(rs, &c[i], dataset, &d, why, sizeof why));
      if (first)
        fprintf(f, "%s- (%s) %s%s%s: ", i ? "\n" : "", c[i].claim,
                claim_title(c[i].claim, tg, title, sizeof title), rs->ndatasets > 1 ? ", " : "",
                rs->ndatasets > 1 ? dataset : "");
      else
        fprintf(f, "; ");
      print_md_comparison(f, &c[i], &d, why);
    }
    fprintf(f, "\n");
  }
  return DNL_OK;
}

static dnl_status print_csv(FILE *f, const run_set *rs, const table_groups *tg) {
  comparison c[4];
  int n = claim_comparisons(tg, c);
  fprintf(f, "claim,dataset,metric,a,b,pairs,diff_mean,diff_sd,p_value,ci_low,ci_high,"
             "verdict\n");
  for (int k = 0; k < rs->ndatasets; k++)
    for (int i = 0; i < n; i++) {
      char why[256];
      paired_diff d;
      DNL_TRY(compare(rs, &c[i], rs->datasets[k], &d, why, sizeof why));
      fprintf(f, "%s,", c[i].claim);
      table_csv_field(f, rs->datasets[k]);
      fprintf(f, ",%s,", metric_name(c[i].metric));
      table_csv_field(f, c[i].a);
      fputc(',', f);
      table_csv_field(f, c[i].b);
      fprintf(f, ",%d", d.n);
      const double v[] = {d.mean, d.sd, d.p, d.lo, d.hi};
      for (int j = 0; j < 5; j++) {
        fputc(',', f);
        table_csv_number(f, v[j]);
      }
      fputc(',', f);
      table_csv_field(f, why[0] ? why : paired_verdict(&d));
      fputc('\n', f);
    }
  return DNL_OK;
}

dnl_status table_print_claims(FILE *f, const run_set *rs, const table_groups *tg, bool csv) {
  return csv ? print_csv(f, rs, tg) : print_md(f, rs, tg);
}
