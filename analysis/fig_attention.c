/* attention_<run>.png: one row per stored validation image, as in the paper's
 * figure: the image with the query points marked, the ground truth in the
 * dataset's palette, each query's pairwise attention map (query marked), and
 * the unary map. Maps are scaled to their own maximum and drawn with a heat
 * colour map over the image area. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/figures.h"
#include "analysis/image.h"

#define CELL 256 /* longer side of one panel in pixels */
#define GAP 6

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
static void image_pixel(const layout *l, const results_attention_maps *m, int px, int py,
                        int *x, int *y) {
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

static void draw_image(canvas *c, const layout *l, const results_attention_maps *m, int a,
                       int ox, int oy) {
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

static void draw_map(canvas *c, const layout *l, const results_attention_maps *m,
                     const float *map, int ox, int oy) {
  double hi = 0.0;
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

static void mark_query(canvas *c, const layout *l, const results_attention_maps *m, int a,
                       int q, int ox, int oy) {
  const int32_t *yx = m->queries + ((size_t)a * m->q + q) * 2;
  uint8_t rgb[3];
  canvas_marker_color(q, rgb);
  canvas_mark(c, ox + (int)((yx[1] + 0.5) * l->scale), oy + (int)((yx[0] + 0.5) * l->scale), 6,
              rgb);
}

static dnl_status draw_run(const results_data *r, const char *path) {
  const results_attention_maps *m = &r->attention;
  layout l = layout_of(m);
  canvas c;
  DNL_TRY(canvas_init(&c, l.cols * l.cw + (l.cols + 1) * GAP, m->a * l.ch + (m->a + 1) * GAP, 255,
                      255, 255));
  for (int a = 0; a < m->a; a++) {
    int oy = GAP + a * (l.ch + GAP), col = 0;
#define COL_X(i) (GAP + (i) * (l.cw + GAP))
    draw_image(&c, &l, m, a, COL_X(col), oy);
    for (int q = 0; q < m->q; q++)
      mark_query(&c, &l, m, a, q, COL_X(col), oy);
    col++;
    draw_label(&c, &l, m, a, r->dataset, COL_X(col), oy);
    col++;
    for (int q = 0; m->pairwise && q < m->q; q++, col++) {
      draw_map(&c, &l, m, m->pairwise + ((size_t)a * m->q + q) * m->fh * m->fw, COL_X(col), oy);
      mark_query(&c, &l, m, a, q, COL_X(col), oy);
    }
    if (m->unary)
      draw_map(&c, &l, m, m->unary + (size_t)a * m->fh * m->fw, COL_X(col), oy);
#undef COL_X
  }
  dnl_status s = canvas_write_png(&c, path);
  canvas_free(&c);
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
             "(each map scaled to its maximum, dark = low, bright = high).",
             m->pairwise ? ", the pairwise attention of each query (ring = query)" : "",
             m->unary ? ", the unary map" : "");
    DNL_TRY(figure_add(figs, &f));
  }
  return DNL_OK;
}
