/* final_miou.png/svg (bars: mean final mIoU per group, error bars: std over
 * seeds, dots: single runs) and class_iou.png/svg (groups x classes heat map
 * of the mean final per-class IoU). Only finished runs count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/figures.h"
#include "analysis/gnuplot.h"
#include "analysis/stats.h"

static void group_title(const run_set *rs, const run_group *g, char *buf, size_t len) {
  if (rs->ndatasets > 1)
    snprintf(buf, len, "%s [%s]", g->label, g->dataset);
  else
    snprintf(buf, len, "%s", g->label);
}

dnl_status fig_final_miou(const run_set *rs, const char *dir, figure_list *figs) {
  double *vals = calloc((size_t)rs->n + 1, sizeof *vals);
  if (!vals)
    return dnl_error(DNL_ERR_NOMEM, "analysis: final mIoU");
  gp_script s;
  dnl_status st = gp_open(&s);
  if (st != DNL_OK) {
    free(vals);
    return st;
  }
  int bars = 0, unfinished;
  char title[256];
  fprintf(s.f, "$runs << EOD\n");
  for (int gi = 0; gi < rs->ngroups; gi++) {
    int n = stats_group_final_mious(rs, &rs->groups[gi], vals, &unfinished);
    for (int k = 0; k < n; k++)
      fprintf(s.f, "%d %.6f\n", bars, 100.0 * vals[k]);
    bars += n > 0;
  }
  fprintf(s.f, "EOD\n$bars << EOD\n");
  bars = 0;
  for (int gi = 0; gi < rs->ngroups; gi++) {
    int n = stats_group_final_mious(rs, &rs->groups[gi], vals, &unfinished);
    if (n == 0)
      continue;
    for (int k = 0; k < n; k++)
      vals[k] *= 100.0;
    stats_summary sm = stats_summarize(vals, n);
    fprintf(s.f, "%d %.6f %.6f %ld\n", bars++, sm.mean, sm.std, gp_group_color_int(gi));
  }
  fprintf(s.f, "EOD\nset xtics (");
  bars = 0;
  for (int gi = 0; gi < rs->ngroups; gi++) {
    if (stats_group_final_mious(rs, &rs->groups[gi], vals, &unfinished) == 0)
      continue;
    group_title(rs, &rs->groups[gi], title, sizeof title);
    fprintf(s.f, "%s", bars ? ", " : "");
    gp_quote(s.f, title);
    fprintf(s.f, " %d", bars++);
  }
  free(vals);
  if (bars == 0) {
    fprintf(stderr, "analysis: no finished run with evaluations: final_miou not drawn\n");
    gp_discard(&s);
    return DNL_OK;
  }
  fprintf(s.f, ")%s\n", bars > 6 ? " rotate by -30" : "");
  fprintf(s.f, "set title 'Final validation mIoU per group: mean +- std over seeds, dots = "
               "runs'\nset ylabel 'mIoU (%%)'\nset xrange [-0.6:%f]\nset yrange [0:*]\n"
               "set offsets 0, 0, 6, 0\nset grid ytics\nset key below\nset boxwidth 0.6\n"
               "set style fill solid 0.7 border -1\n",
          bars - 0.4);
  char base[4096], name[64];
  figure_name(rs, "final_miou", NULL, name, sizeof name);
  snprintf(base, sizeof base, "%s/%s", dir, name);
  gp_output_both(&s, base, FIGURE_WIDTH, FIGURE_HEIGHT,
                 "plot $bars using 1:2:3:4 with boxerrorbars lc rgb variable notitle, "
                 "$bars using 1:($2 + $3):(sprintf('%.2f', $2)) with labels offset 0,0.8 "
                 "notitle, $runs using 1:2 with points pt 7 ps 0.8 lc rgb 'black' "
                 "title 'single runs'");
  DNL_TRY(gp_run(&s, name));
  figure f = {0};
  snprintf(f.title, sizeof f.title, "Final mIoU");
  snprintf(f.png, sizeof f.png, "%s.png", name);
  snprintf(f.svg, sizeof f.svg, "%s.svg", name);
  snprintf(f.caption, sizeof f.caption,
           "Final validation mIoU per group (finished runs): bar = mean, error bar = sample "
           "std over seeds, dots = single runs.");
  return figure_add(figs, &f);
}

/* Mean over the group's finished runs of the last evaluation's class IoU (NaN
 * where no run has a value); false when the group has no such run. */
static bool group_class_iou(const run_set *rs, const run_group *g, int k, double *out) {
  int *count = calloc((size_t)k, sizeof *count);
  if (!count)
    return false;
  for (int c = 0; c < k; c++)
    out[c] = 0.0;
  bool any = false;
  for (int i = 0; i < g->n; i++) {
    const results_data *r = &rs->runs[g->runs[i]];
    if (!r->finished || r->eval.n == 0 || r->num_classes != k)
      continue;
    any = true;
    const float *iou = r->eval.class_iou + (r->eval.n - 1) * (size_t)k;
    for (int c = 0; c < k; c++) {
      if (isfinite(iou[c])) {
        out[c] += iou[c];
        count[c]++;
      }
    }
  }
  for (int c = 0; c < k; c++)
    out[c] = count[c] ? 100.0 * out[c] / count[c] : NAN;
  free(count);
  return any;
}

static int class_iou_width(int k) {
  int w = 260 + 34 * k;
  return w < 640 ? 640 : w > 4000 ? 4000 : w;
}

static int class_iou_height(int groups) {
  int h = 200 + 44 * groups;
  return h < 320 ? 320 : h > 3000 ? 3000 : h;
}

static dnl_status draw_class_iou(const run_set *rs, const char *dataset, const char *dir,
                                 figure_list *figs) {
  const results_data *first = NULL;
  for (int i = 0; i < rs->n && !first; i++)
    if (!strcmp(rs->runs[i].dataset, dataset) && rs->runs[i].finished && rs->runs[i].eval.n)
      first = &rs->runs[i];
  if (!first)
    return DNL_OK;
  int k = first->num_classes;
  double *row = malloc((size_t)k * sizeof *row);
  if (!row)
    return dnl_error(DNL_ERR_NOMEM, "analysis: class IoU");
  gp_script s;
  dnl_status st = gp_open(&s);
  if (st != DNL_OK) {
    free(row);
    return st;
  }
  fprintf(s.f, "$heat << EOD\n");
  int rows = 0;
  char ytics[8192] = "";
  size_t yl = 0;
  for (int gi = 0; gi < rs->ngroups; gi++) {
    const run_group *g = &rs->groups[gi];
    if (strcmp(g->dataset, dataset) != 0 || !group_class_iou(rs, g, k, row))
      continue;
    for (int c = 0; c < k; c++) {
      if (isfinite(row[c]))
        fprintf(s.f, "%d %d %.4f \"%.1f\"\n", c, rows, row[c], row[c]);
      else
        fprintf(s.f, "%d %d NaN \"-\"\n", c, rows);
    }
    if (yl < sizeof ytics - 300) {
      char quoted[256];
      size_t q = 0;
      for (const char *p = g->label; *p && q < sizeof quoted - 3; p++) {
        if (*p == '\'')
          quoted[q++] = '\'';
        quoted[q++] = *p;
      }
      quoted[q] = '\0';
      yl += (size_t)snprintf(ytics + yl, sizeof ytics - yl, "%s'%s' %d", rows ? ", " : "",
                             quoted, rows);
    }
    rows++;
  }
  fprintf(s.f, "EOD\nset ytics (%s)\nset xtics rotate by -60 font 'sans,9' (", ytics);
  for (int c = 0; c < k; c++) {
    fprintf(s.f, "%s", c ? ", " : "");
    gp_quote(s.f, first->class_names[c]);
    fprintf(s.f, " %d", c);
  }
  char title[256];
  snprintf(title, sizeof title, "Per-class IoU (%%) on %s, mean over finished runs", dataset);
  fprintf(s.f, ")\nset title ");
  gp_quote(s.f, title);
  fprintf(s.f, "\nset xrange [-0.5:%f]\nset yrange [-0.5:%f]\nset cbrange [0:100]\n"
               "set cblabel 'IoU (%%)'\nset palette defined (0 '#ffffd9', 0.25 '#c7e9b4', "
               "0.5 '#41b6c4', 0.75 '#225ea8', 1 '#081d58')\nset bmargin 8\nset tics nomirror\n",
          k - 0.5, rows - 0.5);
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "plot $heat using 1:2:(0.5):(0.5):3 with boxxyerror fc palette fs solid 1.0 "
           "noborder notitle%s",
           k <= 40 ? ", $heat using 1:2:($3 < 60 ? stringcolumn(4) : '') with labels "
                     "font 'sans,8' tc rgb 'black' notitle, $heat using 1:2:($3 >= 60 ? "
                     "stringcolumn(4) : '') with labels font 'sans,8' tc rgb 'white' notitle"
                   : "");
  char base[4096], name[200];
  figure_name(rs, "class_iou", dataset, name, sizeof name);
  snprintf(base, sizeof base, "%s/%s", dir, name);
  gp_output_both(&s, base, class_iou_width(k), class_iou_height(rows), cmd);
  free(row);
  DNL_TRY(gp_run(&s, name));
  figure f = {0};
  snprintf(f.title, sizeof f.title, "Per-class IoU (%s)", dataset);
  snprintf(f.png, sizeof f.png, "%s.png", name);
  snprintf(f.svg, sizeof f.svg, "%s.svg", name);
  snprintf(f.caption, sizeof f.caption,
           "Per-class IoU on %s (groups x classes), mean of the final evaluation over "
           "finished runs; '-' = class absent from ground truth and prediction.",
           dataset);
  return figure_add(figs, &f);
}

dnl_status fig_class_iou(const run_set *rs, const char *dir, figure_list *figs) {
  for (int d = 0; d < rs->ndatasets; d++)
    DNL_TRY(draw_class_iou(rs, rs->datasets[d], dir, figs));
  return DNL_OK;
}
