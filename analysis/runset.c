#include "analysis/runset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool run_set_final_miou(const results_data *r, double *miou) {
  if (!r->finished || r->eval.n == 0)
    return false;
  *miou = r->eval.miou[r->eval.n - 1];
  return true;
}

static int variant_rank(const char *variant) {
  static const char *const order[] = {"none", "nl", "pairwise", "unary", "dnl"};
  for (int i = 0; i < 5; i++)
    if (strcmp(variant, order[i]) == 0)
      return i;
  return 5;
}

static const char *group_label(const results_data *r) {
  return r->label[0] ? r->label : r->variant;
}

/* Group order, compared through the group's first run. */
static const results_data *order_runs;
static int compare_groups(const void *pa, const void *pb) {
  const run_group *a = pa, *b = pb;
  const results_data *ra = &order_runs[a->runs[0]], *rb = &order_runs[b->runs[0]];
  int c = strcmp(a->dataset, b->dataset);
  if (c)
    return c;
  c = variant_rank(ra->variant) - variant_rank(rb->variant);
  return c ? c : strcmp(a->label, b->label);
}

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Adds run i to its group (creating the group when new). */
static dnl_status add_to_group(run_set *rs, int i) {
  const results_data *r = &rs->runs[i];
  run_group *g = NULL;
  for (int k = 0; k < rs->ngroups && !g; k++)
    if (!strcmp(rs->groups[k].label, group_label(r)) && !strcmp(rs->groups[k].dataset, r->dataset))
      g = &rs->groups[k];
  if (!g) {
    g = &rs->groups[rs->ngroups++];
    memset(g, 0, sizeof *g);
    g->label = group_label(r);
    g->dataset = r->dataset;
    g->preset = r->preset;
    g->runs = calloc((size_t)rs->n, sizeof(int));
    if (!g->runs)
      return dnl_error(DNL_ERR_NOMEM, "analysis: group table");
  }
  if (strcmp(g->preset, r->preset) != 0)
    g->preset = "";
  g->runs[g->n++] = i;
  return DNL_OK;
}

static dnl_status build_groups(run_set *rs) {
  rs->groups = calloc((size_t)rs->n, sizeof *rs->groups);
  rs->datasets = calloc((size_t)rs->n, sizeof *rs->datasets);
  if (!rs->groups || !rs->datasets)
    return dnl_error(DNL_ERR_NOMEM, "analysis: group table");
  for (int i = 0; i < rs->n; i++) {
    DNL_TRY(add_to_group(rs, i));
    bool seen = false;
    for (int d = 0; d < rs->ndatasets && !seen; d++)
      seen = !strcmp(rs->datasets[d], rs->runs[i].dataset);
    if (!seen)
      rs->datasets[rs->ndatasets++] = rs->runs[i].dataset;
  }
  order_runs = rs->runs;
  qsort(rs->groups, (size_t)rs->ngroups, sizeof *rs->groups, compare_groups);
  qsort(rs->datasets, (size_t)rs->ndatasets, sizeof *rs->datasets, compare_strings);
  return DNL_OK;
}

dnl_status run_set_load(run_set *rs, char *const *paths, int npaths) {
  memset(rs, 0, sizeof *rs);
  rs->runs = calloc(npaths > 0 ? (size_t)npaths : 1, sizeof *rs->runs);
  if (!rs->runs)
    return dnl_error(DNL_ERR_NOMEM, "analysis: %d runs", npaths);
  for (int i = 0; i < npaths; i++) {
    results_data *r = &rs->runs[rs->n];
    if (results_read(paths[i], r) != DNL_OK) {
      /* the reader's messages start with the path */
      const char *msg = dnl_last_error();
      if (strncmp(msg, paths[i], strlen(paths[i])) == 0)
        fprintf(stderr, "analysis: skipping %s\n", msg);
      else
        fprintf(stderr, "analysis: skipping %s: %s\n", paths[i], msg);
      continue;
    }
    if (!r->finished)
      fprintf(stderr, "analysis: %s did not finish (status '%s'): its curves are drawn, its "
                      "final numbers are left out\n", paths[i], r->status);
    rs->n++;
  }
  if (rs->n == 0)
    return dnl_error(DNL_ERR_ARG, "no usable result file among the %d given", npaths);
  return build_groups(rs);
}

void run_set_free(run_set *rs) {
  for (int i = 0; i < rs->n; i++)
    results_data_free(&rs->runs[i]);
  for (int g = 0; g < rs->ngroups; g++)
    free(rs->groups[g].runs);
  free(rs->runs);
  free(rs->groups);
  free(rs->datasets);
  memset(rs, 0, sizeof *rs);
}
