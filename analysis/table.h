/* Pieces of `analysis table` shared by its files (analysis/table.c prints the
 * group table and the paired differences, analysis/table_claims.c the claims). */
#ifndef DNL_ANALYSIS_TABLE_H
#define DNL_ANALYSIS_TABLE_H

#include <stdbool.h>
#include <stdio.h>

#include "analysis/paired.h"
#include "analysis/runset.h"

/* The groups the paired view and the claims compare (labels; options of the command). */
typedef struct table_groups {
  const char *ref;      /* --ref, default "none" */
  const char *nl;       /* --claim-nl, default "nl" */
  const char *dnl;      /* --claim-dnl, default "dnl" */
  const char *pairwise; /* --claim-pairwise, default "pairwise" */
} table_groups;

/* A CSV field, quoted when it holds a comma, a quote or a newline. */
void table_csv_field(FILE *f, const char *s);
/* A number for CSV: "%.6g", or nothing when not finite. */
void table_csv_number(FILE *f, double v);

/* True when some dataset has both groups of at least one claim. */
bool table_claims_apply(const run_set *rs, const table_groups *tg);
/* The claims section: markdown (a heading and one item per claim and dataset) or CSV
 * (claim,dataset,metric,a,b,pairs,diff_mean,diff_sd,p_value,ci_low,ci_high,verdict). */
dnl_status table_print_claims(FILE *f, const run_set *rs, const table_groups *tg, bool csv);

#endif
