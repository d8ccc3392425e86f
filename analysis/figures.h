/* The figures of `analysis plot`. Each drawer writes its files into the
 * output folder and adds an entry (file names + one-line caption) for index.md. */
#ifndef DNL_ANALYSIS_FIGURES_H
#define DNL_ANALYSIS_FIGURES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "analysis/gnuplot.h"
#include "analysis/runset.h"
#include "analysis/stats.h"

#define FIGURE_WIDTH 960
#define FIGURE_HEIGHT 600
/* attention_<run>.png: bands above the panels (title, column titles) and below (legend) */
#define ATTENTION_HEADER_H 56
#define ATTENTION_FOOTER_H 62

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

/* The extent of the curves curves_write wrote. */
typedef struct curve_extent {
  int points;
  int64_t xmax;
  double ymin, ymax; /* of the bands */
} curve_extent;

/* Writes a data block $<prefix><group index> (iteration, mean, min, max over seeds) per
 * group of the dataset that has points, and appends to cmd their plot clauses: band and
 * mean in the group's colour (a single point as a point), titled "label (n runs)" when
 * `titled`. *drawn counts the groups drawn; ext grows over their points. */
dnl_status curves_write(const run_set *rs, const char *dataset, curve_kind kind, double scale,
                        const char *prefix, bool titled, gp_script *s, FILE *cmd, int *drawn,
                        curve_extent *ext);
/* Explicit ranges, never empty: x from 0 to the last iteration; y over the bands and
 * `include` (e.g. the reference value 1 of a ratio), padded. */
void curves_set_xrange(FILE *f, const curve_extent *e);
void curves_set_yrange(FILE *f, const curve_extent *e, double include);

/* Training loss and validation mIoU curves per group (one pair per dataset). */
dnl_status fig_curves(const run_set *rs, const char *dir, figure_list *figs);
/* block_stats.png/svg: each /eval block statistic over iterations per group (one
 * multiplot per dataset; statistics without values are left out). */
dnl_status fig_block_stats(const run_set *rs, const char *dir, figure_list *figs);
/* Final mIoU per group with error bars (all datasets together). */
dnl_status fig_final_miou(const run_set *rs, const char *dir, figure_list *figs);
/* Mean per-class IoU, groups x classes (one per dataset). */
dnl_status fig_class_iou(const run_set *rs, const char *dir, figure_list *figs);
/* attention_<run>.png for every run with /attention. */
dnl_status fig_attention(const run_set *rs, const char *dir, figure_list *figs);

/* index.md linking every figure. */
dnl_status index_md_write(const run_set *rs, const char *dir, const figure_list *figs);

#endif
