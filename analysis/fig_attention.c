/* attention_<run>.png: one row per stored validation image, as in the paper's
 * figure: the image with the query points marked and numbered, the ground truth in
 * the dataset's palette, each query's pairwise attention map (query marked), and
 * the unary map. Maps are scaled to their own maximum and drawn with a heat
 * colour map over the image area. The panels are painted here; gnuplot writes the
 * text over them: a title, column titles, each map's statistic from /attention_stats
 * and a two-line legend, so that the figure reads without its caption. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/figures.h"
#include "analysis/gnuplot.h"
#include "analysis/image.h"

#define CELL 256 /* longer side of one panel in pixels */
#define GAP 6
#define HEADER_H ATTENTION_HEADER_H
#define FOOTER_H ATTENTION_FOOTER_H
#define RING 6         /* query ring radius */
#define LEGEND_LINES 3 /* the footer's room */
#define FLAT_SCALE 4.0 /* see draw_map */

typedef struct layout {
  int cw, ch;   /* panel size */
  double scale; /* panel pixels per image pixel */
  int cols;
} layout;

static layout layout_of(const results_attention_maps *m) {
  layout l;
  int longer = m->h > m->w ? m->h : m->w;
  l.scale = (double)CELL / longer;
  l.cw = (int)lround(m->w * l.scale);
  l.ch = (int)lround(m->h * l.scale);
  if (l.cw < 1)
    l.cw = 1;
  if (l.ch < 1)
    l.ch = 1;
  l.cols = 2 + (m->pairwise ? m->q : 0) + (m->unary ? 1 : 0);
  return l;
}

/* Image pixel under panel pixel (px, py). */
static void image_pixel(const layout *l, const results_attention_maps *m, int px, int py, int *x,
                        int *y) {
  *x = (int)((px + 0.5) / l->scale);
  *y = (int)((py + 0.5) / l->scale);
  if (*x >= m->w)
    *x = m->w - 1;
  if (*y >= m->h)
    *y = m->h - 1;
}

/* Bilinear value of a fh x fw map at panel pixel (px, py); feature and image
 * grids share their corners (align_corners), as the network's upsampling. */
static double map_at(const layout *l, const results_attention_maps *m, const float *map, int px,
                     int py) {
  double y = (py + 0.5) / l->scale - 0.5, x = (px + 0.5) / l->scale - 0.5;
  double fy = m->h > 1 ? y * (m->fh - 1) / (m->h - 1) : 0;
  double fx = m->w > 1 ? x * (m->fw - 1) / (m->w - 1) : 0;
  fy = fy < 0 ? 0 : fy > m->fh - 1 ? m->fh - 1 : fy;
  fx = fx < 0 ? 0 : fx > m->fw - 1 ? m->fw - 1 : fx;
  int y0 = (int)fy, x0 = (int)fx;
  int y1 = y0 + 1 < m->fh ? y0 + 1 : y0, x1 = x0 + 1 < m->fw ? x0 + 1 : x0;
  double ty = fy - y0, tx = fx - x0;
  double top = map[y0 * m->fw + x0] * (1 - tx) + map[y0 * m->fw + x1] * tx;
  double bottom = map[y1 * m->fw + x0] * (1 - tx) + map[y1 * m->fw + x1] * tx;
  return top * (1 - ty) + bottom * ty;
}

static void draw_image(canvas *c, const layout *l, const results_attention_maps *m, int a, int ox,
                       int oy) {
  const uint8_t *img = m->image + (size_t)a * m->h * m->w * 3;
  for (int py = 0; py < l->ch; py++)
    for (int px = 0; px < l->cw; px++) {
      int x, y;
      image_pixel(l, m, px, py, &x, &y);
      canvas_set(c, ox + px, oy + py, img + ((size_t)y * m->w + x) * 3);
    }
}

static void draw_label(canvas *c, const layout *l, const results_attention_maps *m, int a,
                       const char *dataset, int ox, int oy) {
  const uint8_t *lab = m->label + (size_t)a * m->h * m->w;
  for (int py = 0; py < l->ch; py++)
    for (int px = 0; px < l->cw; px++) {
      int x, y;
      uint8_t rgb[3];
      image_pixel(l, m, px, py, &x, &y);
      canvas_class_color(dataset, lab[(size_t)y * m->w + x], rgb);
      canvas_set(c, ox + px, oy + py, rgb);
    }
}

static void draw_map(canvas *c, const layout *l, const results_attention_maps *m, const float *map,
                     int ox, int oy) {
  /* scaled to the map's maximum, but never beyond FLAT_SCALE times the uniform weight
   * 1 / P: a flat map is drawn evenly dark instead of evenly bright */
  double hi = FLAT_SCALE / (m->fh * m->fw);
  for (int i = 0; i < m->fh * m->fw; i++)
    if (isfinite(map[i]) && map[i] > hi)
      hi = map[i];
  for (int py = 0; py < l->ch; py++)
    for (int px = 0; px < l->cw; px++) {
      uint8_t rgb[3];
      canvas_heat_color(hi > 0 ? map_at(l, m, map, px, py) / hi : 0.0, rgb);
      canvas_set(c, ox + px, oy + py, rgb);
    }
}

static void mark_query(canvas *c, const layout *l, const results_attention_maps *m, int a, int q,
                       int ox, int oy) {
  const int32_t *yx = m->queries + ((size_t)a * m->q + q) * 2;
  uint8_t rgb[3];
  canvas_marker_color(q, rgb);
  canvas_mark(c, ox + (int)((yx[1] + 0.5) * l->scale), oy + (int)((yx[0] + 0.5) * l->scale), 6,
              rgb);
}

#define COL_X(l, i) (GAP + (i) * ((l)->cw + GAP))
#define ROW_Y(l, a) (HEADER_H + GAP + (a) * ((l)->ch + GAP))

/* The panels (and the query rings beside the column titles) on a canvas with room for
 * the header and the footer. */
static dnl_status paint(const results_data *r, const layout *l, canvas *c) {
  const results_attention_maps *m = &r->attention;
  DNL_TRY(canvas_init(c, l->cols * l->cw + (l->cols + 1) * GAP,
                      HEADER_H + m->a * l->ch + (m->a + 1) * GAP + FOOTER_H, 255, 255, 255));
  for (int a = 0; a < m->a; a++) {
    int oy = ROW_Y(l, a), col = 0;
    draw_image(c, l, m, a, COL_X(l, col), oy);
    for (int q = 0; q < m->q; q++)
      mark_query(c, l, m, a, q, COL_X(l, col), oy);
    col++;
    draw_label(c, l, m, a, r->dataset, COL_X(l, col), oy);
    col++;
    for (int q = 0; m->pairwise && q < m->q; q++, col++) {
      draw_map(c, l, m, m->pairwise + ((size_t)a * m->q + q) * m->fh * m->fw, COL_X(l, col), oy);
      mark_query(c, l, m, a, q, COL_X(l, col), oy);
    }
    if (m->unary)
      draw_map(c, l, m, m->unary + (size_t)a * m->fh * m->fw, COL_X(l, col), oy);
  }
  /* the ring of query q left of its column title (text written by gnuplot) */
  for (int q = 0; m->pairwise && q < m->q; q++) {
    uint8_t rgb[3];
    canvas_marker_color(q, rgb);
    canvas_mark(c, COL_X(l, 2 + q) + l->cw / 2 - 52, HEADER_H - 16, RING, rgb);
  }
  return DNL_OK;
}

/* A gnuplot label at canvas pixel (x, y) (y down), in data coordinates (y up). */
static void label_at(FILE *f, const canvas *c, const char *text, double x, double y,
                     const char *place) {
  fprintf(f, "set label ");
  gp_quote(f, text);
  fprintf(f, " at %.1f, %.1f front %s\n", x, c->h - 1 - y, place);
}

/* mass / share as "2.07x", or "" when either is missing */
static void ratio_text(const float *mass, const float *share, size_t i, char *buf, size_t len) {
  buf[0] = '\0';
  if (mass && share && isfinite(mass[i]) && isfinite(share[i]) && share[i] > 0)
    snprintf(buf, len, "%.2fx", mass[i] / share[i]);
}

/* The legend below the panels: sentences packed into lines that fit the width. */
static void write_legend(FILE *f, const canvas *c, bool pairwise) {
  const char *sentences[] = {
      "Maps: attention weight over the feature map, scaled to its maximum or at least to 4x "
      "the uniform weight (dark = low, bright = high; a flat map is evenly dark).",
      pairwise ? "Ring = query point." : NULL,
      "Nx its share: the map's mass in that area over the area's share of the map (1x = no "
      "preference).",
      pairwise ? "Own region = the query's ground-truth region." : NULL,
      "Black in the ground truth = ignored pixels."};
  const double char_w = 7.0; /* about one character at the legend's size */
  size_t fit = (size_t)((c->w - 2 * GAP) / char_w);
  char line[512] = "";
  int row = 0;
  for (size_t i = 0; i <= sizeof sentences / sizeof sentences[0]; i++) {
    const char *next = i < sizeof sentences / sizeof sentences[0] ? sentences[i] : NULL;
    if (i < sizeof sentences / sizeof sentences[0] && !next)
      continue;
    bool flush = line[0] && (!next || strlen(line) + 1 + strlen(next) > fit);
    if (flush && row < LEGEND_LINES) {
      label_at(f, c, line, GAP, c->h - FOOTER_H + 13 + 18 * row, "left font ',10'");
      row++;
      line[0] = '\0';
    }
    if (next)
      snprintf(line + strlen(line), sizeof line - strlen(line), "%s%s", line[0] ? " " : "", next);
  }
}

/* Title, column titles, the statistic of each map, query numbers and the legend. */
static void write_labels(FILE *f, const results_data *r, const layout *l, const canvas *c) {
  const results_attention_maps *m = &r->attention;
  char text[512];
  snprintf(text, sizeof text,
           "Attention of %s (group %s, %s) at iteration %lld: %d validation "
           "image%s",
           r->run, r->label, r->dataset, (long long)m->iter, m->a, m->a == 1 ? "" : "s");
  label_at(f, c, text, GAP, 16, "left font ',12'");
  int col = 0;
  label_at(f, c, "image (queries)", COL_X(l, col++) + l->cw / 2.0, HEADER_H - 16, "center");
  label_at(f, c, "ground truth", COL_X(l, col++) + l->cw / 2.0, HEADER_H - 16, "center");
  for (int q = 0; m->pairwise && q < m->q; q++) {
    snprintf(text, sizeof text, "query %d: pairwise", q + 1);
    label_at(f, c, text, COL_X(l, col++) + l->cw / 2.0 - 40, HEADER_H - 16, "left");
  }
  if (m->unary)
    label_at(f, c, "unary (same for every query)", COL_X(l, col) + l->cw / 2.0, HEADER_H - 16,
             "center");
  for (int a = 0; a < m->a; a++) {
    int oy = ROW_Y(l, a);
    for (int q = 0; q < m->q; q++) {
      const int32_t *yx = m->queries + ((size_t)a * m->q + q) * 2;
      /* the number beside the ring, on the side with room */
      double qx = (yx[1] + 0.5) * l->scale, qy = (yx[0] + 0.5) * l->scale;
      bool right = qx < l->cw - 24;
      snprintf(text, sizeof text, "%d", q + 1);
      label_at(f, c, text, COL_X(l, 0) + qx + (right ? RING + 8 : -RING - 8), oy + qy,
               right ? "left boxed tc rgb 'white' font ',9'"
                     : "right boxed tc rgb 'white' font ',9'");
    }
    col = 2;
    for (int q = 0; m->pairwise && q < m->q; q++, col++) {
      char ratio[32];
      ratio_text(m->pairwise_same_region_mass, m->same_region_share, (size_t)a * m->q + q, ratio,
                 sizeof ratio);
      /* at the top of the map, or at its bottom when the query's ring is up there */
      double qy = (m->queries[((size_t)a * m->q + q) * 2] + 0.5) * l->scale;
      if (ratio[0]) {
        snprintf(text, sizeof text, "own region: %s its share", ratio);
        label_at(f, c, text, COL_X(l, col) + 4, oy + (qy < 34 ? l->ch - 12 : 12),
                 "left boxed tc rgb 'white' font ',10'");
      }
    }
    if (m->unary) {
      char cue[32], edge[32];
      ratio_text(m->unary_cue_mass, m->cue_share, (size_t)a, cue, sizeof cue);
      ratio_text(m->unary_boundary_mass, m->boundary_share, (size_t)a, edge, sizeof edge);
      if (cue[0]) {
        snprintf(text, sizeof text, "on cue: %s its share", cue);
        label_at(f, c, text, COL_X(l, col) + 4, oy + 12, "left boxed tc rgb 'white' font ',10'");
      }
      if (edge[0]) {
        snprintf(text, sizeof text, "on boundaries: %s their share", edge);
        label_at(f, c, text, COL_X(l, col) + 4, oy + (cue[0] ? 32 : 12),
                 "left boxed tc rgb 'white' font ',10'");
      }
    }
  }
  write_legend(f, c, m->pairwise != NULL);
}

static dnl_status draw_run(const results_data *r, const char *path) {
  layout l = layout_of(&r->attention);
  canvas c;
  DNL_TRY(paint(r, &l, &c));
  char raw[64];
  dnl_status s = gp_write_rgb(c.rgb, c.w, c.h, raw);
  gp_script g;
  if (s == DNL_OK && (s = gp_open(&g)) != DNL_OK)
    unlink(raw);
  if (s != DNL_OK) {
    canvas_free(&c);
    return s;
  }
  fprintf(g.f, "set terminal pngcairo noenhanced size %d,%d font 'sans,11'\nset output ", c.w, c.h);
  gp_quote(g.f, path);
  fprintf(g.f,
          "\nset lmargin at screen 0\nset rmargin at screen 1\nset bmargin at screen 0\n"
          "set tmargin at screen 1\nunset border\nunset tics\nunset key\n"
          "set xrange [-0.5:%d.5]\nset yrange [-0.5:%d.5]\n"
          "set style textbox opaque fc rgb '#000000' noborder margins 3,2\n",
          c.w - 1, c.h - 1);
  write_labels(g.f, r, &l, &c);
  fprintf(g.f, "plot ");
  gp_quote(g.f, raw);
  fprintf(g.f,
          " binary array=(%d,%d) format='%%uchar%%uchar%%uchar' flipy with rgbimage\n"
          "unset output\n",
          c.w, c.h);
  canvas_free(&c);
  s = gp_run(&g, path);
  unlink(raw);
  return s;
}

/* The run name with characters unsafe in file names replaced. */
static void safe_name(const char *run, char *buf, size_t len) {
  size_t i = 0;
  for (; run[i] && i + 1 < len; i++) {
    char ch = run[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.';
    buf[i] = ok ? ch : '_';
  }
  buf[i] = '\0';
  if (i == 0)
    snprintf(buf, len, "run");
}

static bool name_taken(const figure_list *figs, const char *png) {
  for (int i = 0; i < figs->n; i++)
    if (!strcmp(figs->items[i].png, png))
      return true;
  return false;
}

dnl_status fig_attention(const run_set *rs, const char *dir, figure_list *figs) {
  for (int i = 0; i < rs->n; i++) {
    const results_data *r = &rs->runs[i];
    if (!r->attention.present || r->attention.a < 1)
      continue;
    char name[160];
    figure f = {0};
    safe_name(r->run, name, sizeof name);
    snprintf(f.png, sizeof f.png, "attention_%s.png", name);
    for (int k = 2; name_taken(figs, f.png); k++)
      snprintf(f.png, sizeof f.png, "attention_%s_%d.png", name, k);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, f.png);
    DNL_TRY(draw_run(r, path));
    const results_attention_maps *m = &r->attention;
    snprintf(f.title, sizeof f.title, "Attention maps of %s (%s)", r->run, r->label);
    snprintf(f.caption, sizeof f.caption,
             "Per row one validation image: image with the query points, ground truth%s%s "
             "(each map scaled to its maximum or at least to 4x the uniform weight, dark = low, "
             "bright = high); printed on each map: "
             "its mass %s over that area's share of the map.",
             m->pairwise ? ", the pairwise attention of each query (ring = query)" : "",
             m->unary ? ", the unary map" : "",
             m->pairwise && m->unary ? "in the query's own region (pairwise) or on the cue "
                                       "and on region boundaries (unary)"
             : m->pairwise           ? "in the query's own region"
                                     : "on the cue and on region boundaries");
    DNL_TRY(figure_add(figs, &f));
  }
  return DNL_OK;
}
