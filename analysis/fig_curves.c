/* loss.png/svg and miou.png/svg: per group, the mean over seeds as a line and
 * the min-max range over seeds as a band. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/figures.h"
#include "analysis/gnuplot.h"
#include "analysis/stats.h"

typedef struct curve_spec {
  curve_kind kind;
  const char *name, *title, *ylabel, *key;
  double scale;
  const char *style; /* gnuplot style of the mean line */
} curve_spec;

static const curve_spec specs[2] = {
    {CURVE_TRAIN_LOSS, "loss", "Training loss", "loss (main + 0.4 aux)", "top right", 1.0,
     "lines lw 2"},
    {CURVE_EVAL_MIOU, "miou", "Validation mIoU", "mIoU (%)", "bottom right", 100.0,
     "linespoints lw 2 pt 7 ps 0.7"},
};

/* Writes one data block per group of the dataset and the plot command; returns
 * how many groups had points. */
static dnl_status write_curves(const run_set *rs, const char *dataset, const curve_spec *spec,
                               gp_script *s, char **cmd, int *drawn) {
  size_t cmd_len = 0;
  FILE *m = open_memstream(cmd, &cmd_len);
  if (!m)
    return dnl_error(DNL_ERR_NOMEM, "analysis: plot command");
  fprintf(m, "plot ");
  *drawn = 0;
  dnl_status st = DNL_OK;
  for (int gi = 0; gi < rs->ngroups && st == DNL_OK; gi++) {
    const run_group *g = &rs->groups[gi];
    if (strcmp(g->dataset, dataset) != 0)
      continue;
    curve_point *pts;
    size_t n;
    st = stats_group_curve(rs, g, spec->kind, spec->scale, &pts, &n);
    if (st != DNL_OK || n == 0) {
      free(pts);
      continue;
    }
    fprintf(s->f, "$g%d << EOD\n", gi);
    for (size_t i = 0; i < n; i++)
      fprintf(s->f, "%lld %.9g %.9g %.9g\n", (long long)pts[i].iter, pts[i].s.mean,
              pts[i].s.min, pts[i].s.max);
    fprintf(s->f, "EOD\n");
    free(pts);
    const char *color = gp_group_color(gi);
    fprintf(m, "%s$g%d using 1:3:4 with filledcurves lc rgb '%s' notitle, "
               "$g%d using 1:2 with %s lc rgb '%s' title ",
            *drawn ? ", " : "", gi, color, gi, spec->style, color);
    char title[256];
    snprintf(title, sizeof title, "%s (%d run%s)", g->label, g->n, g->n == 1 ? "" : "s");
    gp_quote(m, title);
    (*drawn)++;
  }
  if (fclose(m) != 0 && st == DNL_OK)
    st = dnl_error(DNL_ERR_NOMEM, "analysis: plot command");
  return st;
}

static dnl_status draw(const run_set *rs, const char *dataset, const curve_spec *spec,
                       const char *dir, figure_list *figs) {
  char name[200], base[4096];
  figure_name(rs, spec->name, dataset, name, sizeof name);
  snprintf(base, sizeof base, "%s/%s", dir, name);
  gp_script s;
  DNL_TRY(gp_open(&s));
  char *cmd = NULL;
  int drawn = 0;
  dnl_status st = write_curves(rs, dataset, spec, &s, &cmd, &drawn);
  if (st == DNL_OK && drawn == 0) {
    fprintf(stderr, "analysis: no %s rows for %s: %s not drawn\n",
            spec->kind == CURVE_TRAIN_LOSS ? "/train" : "/eval", dataset, name);
    gp_discard(&s);
    free(cmd);
    return DNL_OK;
  }
  fprintf(s.f, "set title ");
  char title[256];
  snprintf(title, sizeof title, "%s (%s): mean over seeds, band = min-max", spec->title,
           dataset);
  gp_quote(s.f, title);
  fprintf(s.f, "\nset xlabel 'iteration'\nset ylabel ");
  gp_quote(s.f, spec->ylabel);
  fprintf(s.f, "\nset key %s\nset grid\nset yrange [0:*]\nset style fill transparent solid 0.2 "
               "noborder\n",
          spec->key);
  if (st == DNL_OK)
    gp_output_both(&s, base, FIGURE_WIDTH, FIGURE_HEIGHT, cmd);
  free(cmd);
  if (st != DNL_OK) {
    gp_discard(&s);
    return st;
  }
  DNL_TRY(gp_run(&s, name));
  figure f = {0};
  snprintf(f.title, sizeof f.title, "%s (%s)", spec->title, dataset);
  snprintf(f.png, sizeof f.png, "%s.png", name);
  snprintf(f.svg, sizeof f.svg, "%s.svg", name);
  snprintf(f.caption, sizeof f.caption,
           "%s per group on %s: mean over seeds (line), min-max over seeds (band).",
           spec->title, dataset);
  return figure_add(figs, &f);
}

dnl_status fig_curves(const run_set *rs, const char *dir, figure_list *figs) {
  for (int d = 0; d < rs->ndatasets; d++)
    for (int k = 0; k < 2; k++)
      DNL_TRY(draw(rs, rs->datasets[d], &specs[k], dir, figs));
  return DNL_OK;
}
