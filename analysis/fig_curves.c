/* loss.png/svg and miou.png/svg: per group, the mean over seeds as a line and
 * the min-max range over seeds as a band. The curve writer and the ranges are shared
 * with the block statistics (analysis/fig_stats.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/figures.h"
#include "analysis/gnuplot.h"

typedef struct curve_spec {
  curve_kind kind;
  const char *name, *title, *ylabel, *key;
  double scale;
} curve_spec;

static const curve_spec specs[2] = {
    {CURVE_TRAIN_LOSS, "loss", "Training loss", "loss (main + 0.4 aux)", "top right", 1.0},
    {CURVE_EVAL_MIOU, "miou", "Validation mIoU", "mIoU (%)", "bottom right", 100.0},
};

static void extend(curve_extent *e, int64_t x, double lo, double hi) {
  if (e->points == 0 || x > e->xmax)
    e->xmax = x;
  if (e->points == 0 || lo < e->ymin)
    e->ymin = lo;
  if (e->points == 0 || hi > e->ymax)
    e->ymax = hi;
  e->points++;
}

dnl_status curves_write(const run_set *rs, const char *dataset, curve_kind kind, double scale,
                        const char *prefix, bool titled, gp_script *s, FILE *cmd, int *drawn,
                        curve_extent *ext) {
  *drawn = 0;
  for (int gi = 0; gi < rs->ngroups; gi++) {
    const run_group *g = &rs->groups[gi];
    if (strcmp(g->dataset, dataset) != 0)
      continue;
    curve_point *pts;
    size_t n;
    DNL_TRY(stats_group_curve(rs, g, kind, scale, &pts, &n));
    if (n == 0) {
      free(pts);
      continue;
    }
    fprintf(s->f, "$%s%d << EOD\n", prefix, gi);
    for (size_t i = 0; i < n; i++) {
      fprintf(s->f, "%lld %.9g %.9g %.9g\n", (long long)pts[i].iter, pts[i].s.mean, pts[i].s.min,
              pts[i].s.max);
      extend(ext, pts[i].iter, pts[i].s.min, pts[i].s.max);
    }
    fprintf(s->f, "EOD\n");
    free(pts);
    const char *color = gp_group_color(gi);
    /* a curve of one evaluation is a point; eval curves mark every evaluation */
    const char *style = n == 1                     ? "points pt 7 ps 1.2"
                        : kind == CURVE_TRAIN_LOSS ? "lines lw 2"
                                                   : "linespoints lw 2 pt 7 ps 0.7";
    fprintf(cmd,
            "%s$%s%d using 1:3:4 with filledcurves lc rgb '%s' notitle, $%s%d using 1:2 with "
            "%s lc rgb '%s' ",
            *drawn ? ", " : "", prefix, gi, color, prefix, gi, style, color);
    if (titled) {
      char title[256];
      snprintf(title, sizeof title, "%s (%d run%s)", g->label, g->n, g->n == 1 ? "" : "s");
      fprintf(cmd, "title ");
      gp_quote(cmd, title);
    } else {
      fprintf(cmd, "notitle");
    }
    (*drawn)++;
  }
  return DNL_OK;
}

void curves_set_xrange(FILE *f, const curve_extent *e) {
  double xmax = e->xmax > 0 ? (double)e->xmax : 1.0;
  fprintf(f, "set xrange [0:%.9g]\n", xmax * 1.03);
}

void curves_set_yrange(FILE *f, const curve_extent *e, double include) {
  double lo = fmin(e->ymin, include), hi = fmax(e->ymax, include);
  /* equal values (one point, a constant curve) get a range around them */
  double pad = hi - lo > 1e-12 * fmax(1.0, fabs(hi)) ? 0.06 * (hi - lo) : fmax(0.5 * fabs(hi), 0.5);
  fprintf(f, "set yrange [%.9g:%.9g]\n", lo - pad, hi + pad);
}

static dnl_status draw(const run_set *rs, const char *dataset, const curve_spec *spec,
                       const char *dir, figure_list *figs) {
  char name[200], base[4096];
  figure_name(rs, spec->name, dataset, name, sizeof name);
  snprintf(base, sizeof base, "%s/%s", dir, name);
  gp_script s;
  DNL_TRY(gp_open(&s));
  char *cmd = NULL;
  size_t cmd_len = 0;
  FILE *m = open_memstream(&cmd, &cmd_len);
  if (!m) {
    gp_discard(&s);
    return dnl_error(DNL_ERR_NOMEM, "analysis: plot command");
  }
  fprintf(m, "plot ");
  int drawn = 0;
  curve_extent ext = {0};
  dnl_status st =
      curves_write(rs, dataset, spec->kind, spec->scale, "g", true, &s, m, &drawn, &ext);
  if (fclose(m) != 0 && st == DNL_OK)
    st = dnl_error(DNL_ERR_NOMEM, "analysis: plot command");
  if (st == DNL_OK && drawn == 0) {
    fprintf(stderr, "analysis: no %s rows for %s: %s not drawn\n",
            spec->kind == CURVE_TRAIN_LOSS ? "/train" : "/eval", dataset, name);
    gp_discard(&s);
    free(cmd);
    return DNL_OK;
  }
  if (st != DNL_OK) {
    gp_discard(&s);
    free(cmd);
    return st;
  }
  fprintf(s.f, "set title ");
  char title[256];
  snprintf(title, sizeof title, "%s (%s): mean over seeds, band = min-max", spec->title, dataset);
  gp_quote(s.f, title);
  fprintf(s.f, "\nset xlabel 'iteration'\nset ylabel ");
  gp_quote(s.f, spec->ylabel);
  fprintf(s.f, "\nset key %s\nset grid\nset style fill transparent solid 0.2 noborder\n",
          spec->key);
  /* explicit ranges: one evaluation would otherwise be an "empty x range" */
  curves_set_xrange(s.f, &ext);
  fprintf(s.f, "set yrange [0:%.9g]\n", ext.ymax > 0.0 ? 1.08 * ext.ymax : 1.0);
  gp_output_both(&s, base, FIGURE_WIDTH, FIGURE_HEIGHT, cmd);
  free(cmd);
  DNL_TRY(gp_run(&s, name));
  figure f = {0};
  snprintf(f.title, sizeof f.title, "%s (%s)", spec->title, dataset);
  snprintf(f.png, sizeof f.png, "%s.png", name);
  snprintf(f.svg, sizeof f.svg, "%s.svg", name);
  snprintf(f.caption, sizeof f.caption,
           "%s per group on %s: mean over seeds (line), min-max over seeds (band).", spec->title,
           dataset);
  return figure_add(figs, &f);
}

dnl_status fig_curves(const run_set *rs, const char *dir, figure_list *figs) {
  for (int d = 0; d < rs->ndatasets; d++)
    for (int k = 0; k < 2; k++)
      DNL_TRY(draw(rs, rs->datasets[d], &specs[k], dir, figs));
  return DNL_OK;
}
