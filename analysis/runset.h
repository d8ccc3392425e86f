/* The result files given on the command line, read and sorted into groups.
 * A group is the runs of one dataset with the same `label` attribute (seeds of
 * one setting). Files that cannot be used are skipped with a warning. */
#ifndef DNL_ANALYSIS_RUNSET_H
#define DNL_ANALYSIS_RUNSET_H

#include <stdbool.h>

#include "lib/store/results_read.h"

typedef struct run_group {
  const char *label, *dataset, *preset; /* preset: shared by every run, else "" */
  int *runs;                            /* indices into run_set.runs */
  int n;
} run_group;

typedef struct run_set {
  results_data *runs;
  int n;
  run_group *groups; /* ordered by dataset, then variant (none, nl, pairwise, unary, dnl), label */
  int ngroups;
  const char **datasets; /* distinct, sorted */
  int ndatasets;
} run_set;

/* Reads every path; prints "analysis: skipping PATH: reason" for bad ones.
 * Returns DNL_ERR_ARG when no file was usable. */
dnl_status run_set_load(run_set *rs, char *const *paths, int npaths);
void run_set_free(run_set *rs);

/* The last evaluation's mIoU of a finished run with evaluations. */
bool run_set_final_miou(const results_data *r, double *miou);

#endif
