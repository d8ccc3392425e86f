/* The figures of `analysis plot`. Each drawer writes its files into the
 * output folder and adds an entry (file names + one-line caption) for index.md. */
#ifndef DNL_ANALYSIS_FIGURES_H
#define DNL_ANALYSIS_FIGURES_H

#include "analysis/runset.h"

#define FIGURE_WIDTH 960
#define FIGURE_HEIGHT 600

typedef struct figure {
  char title[128];
  char png[256]; /* file name inside the output folder */
  char svg[256]; /* "" when there is no SVG */
  char caption[512];
} figure;

typedef struct figure_list {
  figure *items;
  int n, capacity;
} figure_list;

dnl_status figure_add(figure_list *l, const figure *f);
void figure_list_free(figure_list *l);

/* "name" or "name_<dataset>" when the runs span several datasets. */
void figure_name(const run_set *rs, const char *name, const char *dataset, char *buf,
                 size_t len);

/* Training loss and validation mIoU curves per group (one pair per dataset). */
dnl_status fig_curves(const run_set *rs, const char *dir, figure_list *figs);
/* Final mIoU per group with error bars (all datasets together). */
dnl_status fig_final_miou(const run_set *rs, const char *dir, figure_list *figs);
/* Mean per-class IoU, groups x classes (one per dataset). */
dnl_status fig_class_iou(const run_set *rs, const char *dir, figure_list *figs);
/* attention_<run>.png for every run with /attention. */
dnl_status fig_attention(const run_set *rs, const char *dir, figure_list *figs);

/* index.md linking every figure. */
dnl_status index_md_write(const run_set *rs, const char *dir, const figure_list *figs);

#endif
