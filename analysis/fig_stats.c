/* block_stats.png/svg: the block's statistics (/eval, docs/results.md) at every
 * evaluation, one panel per statistic, per group the mean over seeds and the min-max
 * band, as the mIoU curve. A dashed line marks each statistic's neutral value (1 for a
 * ratio or a normalised entropy: no preference; 0 for gamma and the contributions). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/figures.h"
#include "lib/store/results.h"

typedef struct stat_panel {
  const char *stat;  /* /eval column */
  const char *title; /* what the panel shows, in words */
  const char *ylabel;
  double neutral;
} stat_panel;

/* two per row: pairwise on the left, unary on the right */
static const stat_panel panels[] = {
    {"pair_region_ratio", "pairwise: attention mass on the query's own class / class share",
     "ratio (1 = no preference)", 1.0},
    {"unary_cue_ratio", "unary: attention mass on the cue / cue share", "ratio (1 = no preference)",
     1.0},
    {"pair_far_ratio", "pairwise: mass on the own class outside the query's region / share",
     "ratio (1 = no preference)", 1.0},
    {"unary_boundary_ratio", "unary: attention mass on region boundaries / boundary share",
     "ratio (1 = no preference)", 1.0},
    {"pair_entropy", "pairwise: entropy of a query's attention / log P", "H / log P (1 = uniform)",
     1.0},
    {"unary_entropy", "unary: entropy of the map / log P", "H / log P (1 = uniform)", 1.0},
    {"pair_contrib", "pairwise term's output: |output| / |block input|", "|term output| / |input|",
     0.0},
    {"unary_contrib", "unary term's output: |output| / |block input|", "|term output| / |input|",
     0.0},
    {"gamma", "gamma: the block's output scale", "gamma", 0.0},
};
#define PANELS 9
#define PANEL_W 600
#define PANEL_H 260      /* a panel's plot area */
#define TITLE_H 34       /* the figure's title */
#define KEY_ROW_H 20     /* one row of the shared key */
#define PANEL_TITLE_H 44 /* a panel's title above its plot area */
#define ROW_GAP_H 100    /* x label of one row and title of the next */

static int stat_index(const char *name) {
  for (int i = 0; i < RESULTS_EVAL_STATS; i++)
    if (!strcmp(results_eval_stat_names[i], name))
      return i;
  return -1;
}

/* True when some run of the dataset has a finite value of the statistic. */
static bool has_values(const run_set *rs, const char *dataset, int stat) {
  for (int i = 0; i < rs->n; i++) {
    const results_data *r = &rs->runs[i];
    if (strcmp(r->dataset, dataset) != 0)
      continue;
    const double *v = results_eval_stat(&r->eval, stat);
    for (size_t k = 0; v && k < r->eval.n; k++)
      if (isfinite(v[k]))
        return true;
  }
  return false;
}

/* True when some run of the group has a value of some shown statistic. */
static bool group_has_values(const run_set *rs, const run_group *g, const stat_panel *const *shown,
                             int n) {
  for (int i = 0; i < g->n; i++) {
    const results_eval_log *e = &rs->runs[g->runs[i]].eval;
    for (int p = 0; p < n; p++) {
      const double *v = results_eval_stat(e, stat_index(shown[p]->stat));
      for (size_t k = 0; v && k < e->n; k++)
        if (isfinite(v[k]))
          return true;
    }
  }
  return false;
}

/* The shared key: every group with values, in rows across the top of the figure, drawn
 * as labels and line samples placed in screen pixels (gnuplot's own key would wrap to the
 * width of the first panel). */
typedef struct key_entry {
  int group, row;
  double x, width; /* within its row, pixels */
} key_entry;

#define KEY_SAMPLE 30.0 /* line sample, pixels */
#define KEY_CHAR_W 7.2  /* about one character of the key's font */
#define KEY_GAP 26.0

static void key_title(const run_group *g, char *buf, size_t len) {
  snprintf(buf, len, "%s (%d run%s)", g->label, g->n, g->n == 1 ? "" : "s");
}

/* Lays the entries out in rows no wider than fig_w; returns the entry count (*rows). */
static int key_layout(const run_set *rs, const char *dataset, const stat_panel *const *shown, int n,
                      int fig_w, key_entry *out, int *rows) {
  int count = 0;
  double x = 0.0;
  *rows = 1;
  for (int gi = 0; gi < rs->ngroups; gi++) {
    const run_group *g = &rs->groups[gi];
    if (strcmp(g->dataset, dataset) != 0 || !group_has_values(rs, g, shown, n))
      continue;
    char title[256];
    key_title(g, title, sizeof title);
    double width = KEY_SAMPLE + 8.0 + KEY_CHAR_W * (double)strlen(title);
    if (x > 0.0 && x + width > fig_w - 40.0) {
      (*rows)++;
      x = 0.0;
    }
    out[count++] = (key_entry){gi, *rows - 1, x, width};
    x += width + KEY_GAP;
  }
  return count;
}

static void write_key(const run_set *rs, const key_entry *e, int count, int fig_w, int fig_h,
                      FILE *m) {
  for (int i = 0; i < count; i++) {
    double row_w = 0.0; /* the row's width, to centre it */
    for (int k = 0; k < count; k++)
      if (e[k].row == e[i].row && e[k].x + e[k].width > row_w)
        row_w = e[k].x + e[k].width;
    double x0 = (fig_w - row_w) / 2.0 + e[i].x;
    double y = (fig_h - TITLE_H - KEY_ROW_H * (e[i].row + 0.5)) / fig_h;
    const char *color = gp_group_color(e[i].group);
    fprintf(m,
            "set arrow %d from screen %.5f, screen %.5f to screen %.5f, screen %.5f nohead "
            "lw 2 lc rgb '%s' front\n",
            i + 1, x0 / fig_w, y, (x0 + KEY_SAMPLE) / fig_w, y, color);
    fprintf(m,
            "set object %d circle at screen %.5f, screen %.5f size screen %.5f fc rgb '%s' "
            "fs solid front\n",
            i + 1, (x0 + KEY_SAMPLE / 2) / fig_w, y, 3.5 / fig_w, color);
    char title[256];
    key_title(&rs->groups[e[i].group], title, sizeof title);
    fprintf(m, "set label %d ", i + 1);
    gp_quote(m, title);
    fprintf(m, " at screen %.5f, screen %.5f left front\n", (x0 + KEY_SAMPLE + 8.0) / fig_w, y);
  }
}

/* One panel: its data blocks into the script, its setup and plot command into m. */
static dnl_status write_panel(const run_set *rs, const char *dataset,
                              const stat_panel *const *shown, int index, gp_script *s, FILE *m) {
  const stat_panel *p = shown[index];
  char prefix[16];
  snprintf(prefix, sizeof prefix, "p%d_", index);
  char *cmd = NULL;
  size_t len = 0;
  FILE *c = open_memstream(&cmd, &len);
  if (!c)
    return dnl_error(DNL_ERR_NOMEM, "analysis: plot command");
  int drawn = 0;
  curve_extent ext = {0};
  dnl_status st = curves_write(rs, dataset, CURVE_EVAL_STAT + stat_index(p->stat), 1.0, prefix,
                               false, s, c, &drawn, &ext);
  if (fclose(c) != 0 && st == DNL_OK)
    st = dnl_error(DNL_ERR_NOMEM, "analysis: plot command");
  if (st == DNL_OK) {
    fprintf(m, "set title ");
    gp_quote(m, p->title);
    fprintf(m, "\nset ylabel ");
    gp_quote(m, p->ylabel);
    fprintf(m, "\n");
    curves_set_xrange(m, &ext);
    curves_set_yrange(m, &ext, p->neutral);
    fprintf(m, "plot %s, %.9g with lines dt 2 lw 1.5 lc rgb '#555555' notitle\n", cmd, p->neutral);
    if (index == 0) /* the key (write_key) is drawn once */
      fprintf(m, "unset arrow\nunset object\nunset label\n");
  }
  free(cmd);
  return st;
}

static dnl_status draw(const run_set *rs, const char *dataset, const char *dir, figure_list *figs) {
  const stat_panel *shown[PANELS];
  int n = 0;
  for (int i = 0; i < PANELS; i++)
    if (has_values(rs, dataset, stat_index(panels[i].stat)))
      shown[n++] = &panels[i];
  if (n == 0)
    return DNL_OK;
  int cols = n > 1 ? 2 : 1, rows = (n + cols - 1) / cols;
  int w = cols * PANEL_W, key_rows = 0;
  key_entry *key = malloc((size_t)rs->ngroups * sizeof *key);
  if (!key)
    return dnl_error(DNL_ERR_NOMEM, "analysis: key of %d groups", rs->ngroups);
  int key_n = key_layout(rs, dataset, shown, n, w, key, &key_rows);
  int key_h = KEY_ROW_H * key_rows;
  int header = TITLE_H + key_h + PANEL_TITLE_H;
  int h = header + rows * PANEL_H + (rows - 1) * ROW_GAP_H + 60;
  char name[200], base[4096];
  figure_name(rs, "block_stats", dataset, name, sizeof name);
  snprintf(base, sizeof base, "%s/%s", dir, name);
  gp_script s;
  char *cmd = NULL;
  size_t len = 0;
  FILE *m = NULL;
  dnl_status st = gp_open(&s);
  if (st == DNL_OK && !(m = open_memstream(&cmd, &len))) {
    gp_discard(&s);
    st = dnl_error(DNL_ERR_NOMEM, "analysis: plot command");
  }
  if (st != DNL_OK) {
    free(key);
    return st;
  }
  char title[256];
  snprintf(title, sizeof title,
           "Block statistics on %s over training (whole validation set at each evaluation; "
           "line = mean over seeds, band = min-max)",
           dataset);
  write_key(rs, key, key_n, w, h, m);
  free(key);
  fprintf(m, "set multiplot layout %d,%d title ", rows, cols);
  gp_quote(m, title);
  fprintf(m, " font ',13' margins 0.07,0.98,%.4f,%.4f spacing 0.09,%.4f\n", 60.0 / h,
          1.0 - (double)header / h, (double)ROW_GAP_H / h);
  for (int i = 0; i < n && st == DNL_OK; i++)
    st = write_panel(rs, dataset, shown, i, &s, m);
  fprintf(m, "unset multiplot");
  if (fclose(m) != 0 && st == DNL_OK)
    st = dnl_error(DNL_ERR_NOMEM, "analysis: plot command");
  if (st != DNL_OK) {
    gp_discard(&s);
    free(cmd);
    return st;
  }
  fprintf(s.f, "set xlabel 'iteration'\nset grid\nset style fill transparent solid 0.2 "
               "noborder\n");
  gp_output_both(&s, base, w, h, cmd);
  free(cmd);
  DNL_TRY(gp_run(&s, name));
  figure f = {0};
  snprintf(f.title, sizeof f.title, "Block statistics (%s)", dataset);
  snprintf(f.png, sizeof f.png, "%s.png", name);
  snprintf(f.svg, sizeof f.svg, "%s.svg", name);
  snprintf(f.caption, sizeof f.caption,
           "What each term of the block does on %s, measured over the whole validation set at "
           "every evaluation: mean over seeds (line), min-max (band). A ratio above the "
           "dashed 1 means the map prefers that area; a ratio far from 1 with a contribution "
           "near 0 is a map the network does not use (docs/results.md, /eval).",
           dataset);
  return figure_add(figs, &f);
}

dnl_status fig_block_stats(const run_set *rs, const char *dir, figure_list *figs) {
  for (int d = 0; d < rs->ndatasets; d++)
    DNL_TRY(draw(rs, rs->datasets[d], dir, figs));
  return DNL_OK;
}
