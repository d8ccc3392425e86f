#include "data/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/fsutil.h"
#include "lib/core/rng.h"

#define MARKER_GUARD 2 /* px between a marker and its region's border */
#define SYNTH_MAX_REGIONS 8

synth_config synth_defaults(void) {
  return (synth_config){
      .cue = SYNTH_CUE_GLOBAL, .n_train = 400, .n_val = 100, .size = 128,
      .noise_sigma = 0.08, .min_objects = 4, .max_objects = 7, .min_axis = 9,
      .max_axis = 17, .stripe = 16, .distance = 42, .min_regions = 3, .max_regions = 5,
      .marker = 8,
  };
}

static double scaled(const synth_config *c, double px) { return px * c->size / 128.0; }
static int stripe_px(const synth_config *c) { return (int)lround(scaled(c, c->stripe)); }
static int distance_px(const synth_config *c) { return (int)ceil(scaled(c, c->distance)); }
static int marker_px(const synth_config *c) { return (int)lround(scaled(c, c->marker)); }
/* Voronoi seeds this far apart: each region holds a disk of half of it. */
static double seed_spacing(const synth_config *c) { return c->size / 4.0; }
/* Seeds this far from the border keep a marker centred on them inside. */
static int seed_margin(const synth_config *c) { return marker_px(c) / 2 + MARKER_GUARD + 1; }

dnl_status synth_check(const synth_config *c) {
  if (c->cue != SYNTH_CUE_GLOBAL && c->cue != SYNTH_CUE_REGION)
    return dnl_error(DNL_ERR_ARG, "synth: unknown cue mode %d", (int)c->cue);
  if (c->size < 32 || c->size > 4096)
    return dnl_error(DNL_ERR_ARG, "synth: size %d not in 32..4096", c->size);
  if (c->n_train < 0 || c->n_val < 0 || c->n_train + c->n_val == 0)
    return dnl_error(DNL_ERR_ARG, "synth: %d train + %d val images", c->n_train, c->n_val);
  if (!(c->noise_sigma >= 0))
    return dnl_error(DNL_ERR_ARG, "synth: noise_sigma %g is negative", c->noise_sigma);
  if (c->cue == SYNTH_CUE_GLOBAL) {
    if (c->min_objects < 1 || c->max_objects < c->min_objects)
      return dnl_error(DNL_ERR_ARG, "synth: objects %d..%d", c->min_objects, c->max_objects);
    if (!(c->min_axis >= 1 && c->max_axis >= c->min_axis))
      return dnl_error(DNL_ERR_ARG, "synth: semi-axes %g..%g", c->min_axis, c->max_axis);
    if (stripe_px(c) < 1 || c->distance < 0)
      return dnl_error(DNL_ERR_ARG, "synth: stripe %g / distance %g", c->stripe, c->distance);
    double room = c->size - stripe_px(c) - distance_px(c);
    if (room < 2 * scaled(c, c->max_axis) + 1)
      return dnl_error(DNL_ERR_ARG,
                       "synth: no room for objects: %g px beyond the stripe and its distance, "
                       "ellipses up to %g px wide",
                       room, 2 * scaled(c, c->max_axis));
  } else {
    if (c->min_regions < 2 || c->max_regions < c->min_regions ||
        c->max_regions > SYNTH_MAX_REGIONS)
      return dnl_error(DNL_ERR_ARG, "synth: regions %d..%d (expected 2 <= min <= max <= %d)",
                       c->min_regions, c->max_regions, SYNTH_MAX_REGIONS);
    int m = marker_px(c);
    if (m < 1 || (m + 2 * MARKER_GUARD) * M_SQRT1_2 > seed_spacing(c) / 2)
      return dnl_error(DNL_ERR_ARG, "synth: marker %g px does not fit regions of a %d px image",
                       c->marker, c->size);
  }
  return DNL_OK;
}

const uint8_t *synth_palette(void) {
  static uint8_t pal[256 * 3];
  static const uint8_t classes[4][3] = {{0, 0, 0}, {220, 30, 30}, {30, 180, 30}, {40, 70, 230}};
  for (int v = 0; v < 256; v++) {
    uint8_t g = v == DATASET_IGNORE ? 255 : 128;
    pal[3 * v] = pal[3 * v + 1] = pal[3 * v + 2] = g;
  }
  memcpy(pal, classes, sizeof classes);
  return pal;
}

/* Pure red, green or blue for class 1, 2, 3. */
static void cue_color(int cls, uint8_t rgb[3]) {
  rgb[0] = rgb[1] = rgb[2] = 0;
  rgb[cls - 1] = 255;
}

static uint8_t grey_byte(double v) {
  v = v < 0 ? 0 : v > 1 ? 1 : v;
  return (uint8_t)lround(v * 255.0);
}

/* Grey level + noise on every pixel whose label is not ignore. */
static void paint_grey(const synth_config *c, rng *r, const float *level, image *img,
                       const image *label) {
  size_t n = (size_t)c->size * c->size;
  for (size_t i = 0; i < n; i++) {
    if (label->data[i] == DATASET_IGNORE)
      continue;
    uint8_t g = grey_byte(level[i] + c->noise_sigma * rng_normal(r));
    img->data[3 * i] = img->data[3 * i + 1] = img->data[3 * i + 2] = g;
  }
}

static void paint_cue(image *img, image *label, int x0, int y0, int x1, int y1, int cls) {
  uint8_t rgb[3];
  cue_color(cls, rgb);
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++) {
      size_t i = (size_t)y * img->w + x;
      memcpy(img->data + 3 * i, rgb, 3);
      label->data[i] = DATASET_IGNORE;
    }
}

/* ---- global cue: the far stripe ---- */

typedef struct box {
  int x0, y0, x1, y1; /* [x0, x1) x [y0, y1) */
} box;

static void draw_ellipse(const synth_config *c, rng *r, box free, int cls, float *level,
                         image *label) {
  double a = scaled(c, rng_range(r, c->min_axis, c->max_axis));
  double b = scaled(c, rng_range(r, c->min_axis, c->max_axis));
  double th = rng_range(r, 0, M_PI), ct = cos(th), st = sin(th);
  float grey = rng_uniform(r) < 0.5 ? 0.25f : 0.75f;
  double ex = sqrt(a * a * ct * ct + b * b * st * st);
  double ey = sqrt(a * a * st * st + b * b * ct * ct);
  double cx = rng_range(r, free.x0 + ex, free.x1 - ex);
  double cy = rng_range(r, free.y0 + ey, free.y1 - ey);
  for (int y = free.y0; y < free.y1; y++)
    for (int x = free.x0; x < free.x1; x++) {
      double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      double u = (dx * ct + dy * st) / a, v = (-dx * st + dy * ct) / b;
      if (u * u + v * v <= 1) {
        size_t i = (size_t)y * c->size + x;
        level[i] = grey;
        label->data[i] = (uint8_t)cls;
      }
    }
}

static void render_global(const synth_config *c, rng *r, float *level, image *img,
                          image *label) {
  int s = c->size, sw = stripe_px(c), far = sw + distance_px(c);
  int side = (int)rng_int(r, 0, 3); /* left, right, top, bottom */
  int cls = (int)rng_int(r, 1, 3);
  box stripe[4] = {{0, 0, sw, s}, {s - sw, 0, s, s}, {0, 0, s, sw}, {0, s - sw, s, s}};
  box free[4] = {{far, 0, s, s}, {0, 0, s - far, s}, {0, far, s, s}, {0, 0, s, s - far}};
  int n = (int)rng_int(r, c->min_objects, c->max_objects);
  for (int k = 0; k < n; k++)
    draw_ellipse(c, r, free[side], cls, level, label);
  box st = stripe[side];
  paint_cue(img, label, st.x0, st.y0, st.x1, st.y1, cls);
  paint_grey(c, r, level, img, label);
}

/* ---- region cue: Voronoi regions with a marker each ---- */

/* Up to k seeds at least seed_spacing apart; returns how many were placed. */
static int place_seeds(const synth_config *c, rng *r, int k, double *sx, double *sy) {
  int placed = 0, margin = seed_margin(c);
  double spacing = seed_spacing(c);
  for (int tries = 0; placed < k && tries < 2000; tries++) {
    double x = rng_range(r, margin, c->size - margin);
    double y = rng_range(r, margin, c->size - margin);
    bool ok = true;
    for (int j = 0; j < placed && ok; j++)
      ok = hypot(x - sx[j], y - sy[j]) >= spacing;
    if (ok) {
      sx[placed] = x;
      sy[placed] = y;
      placed++;
    }
  }
  return placed;
}

/* Whether the marker with top-left (x, y) and its guard lie inside region k. */
static bool marker_fits(const synth_config *c, const uint8_t *owner, int k, int x, int y) {
  int m = marker_px(c), g = MARKER_GUARD;
  if (x - g < 0 || y - g < 0 || x + m + g > c->size || y + m + g > c->size)
    return false;
  for (int yy = y - g; yy < y + m + g; yy++)
    for (int xx = x - g; xx < x + m + g; xx++)
      if (owner[(size_t)yy * c->size + xx] != k)
        return false;
  return true;
}

/* A uniformly drawn marker position inside region k. The square centred on
 * the region's seed always fits (see synth_check), so false means a bug. */
static bool place_marker(const synth_config *c, rng *r, const uint8_t *owner, int k, int *mx,
                         int *my) {
  long count = 0;
  for (int y = 0; y < c->size; y++)
    for (int x = 0; x < c->size; x++)
      count += marker_fits(c, owner, k, x, y);
  long pick = count > 0 ? rng_int(r, 0, count - 1) : 0;
  for (int y = 0; y < c->size; y++)
    for (int x = 0; x < c->size; x++)
      if (marker_fits(c, owner, k, x, y) && pick-- == 0) {
        *mx = x;
        *my = y;
        return true;
      }
  return false;
}

static dnl_status render_region(const synth_config *c, rng *r, float *level, uint8_t *owner,
                                image *img, image *label) {
  double sx[SYNTH_MAX_REGIONS], sy[SYNTH_MAX_REGIONS];
  int want = (int)rng_int(r, c->min_regions, c->max_regions);
  int k = place_seeds(c, r, want, sx, sy);
  if (k < 2)
    return dnl_error(DNL_ERR_INTERNAL, "synth: could not place 2 regions in %d px", c->size);
  float grey[SYNTH_MAX_REGIONS];
  int cls[SYNTH_MAX_REGIONS];
  for (int j = 0; j < k; j++) /* distinct levels, shuffled below */
    grey[j] = (float)(0.25 + 0.5 * j / (k > 1 ? k - 1 : 1));
  for (int j = k - 1; j > 0; j--) {
    int o = (int)rng_int(r, 0, j);
    float t = grey[j];
    grey[j] = grey[o];
    grey[o] = t;
  }
  for (int j = 0; j < k; j++)
    cls[j] = (int)rng_int(r, 1, 3);
  for (int y = 0; y < c->size; y++)
    for (int x = 0; x < c->size; x++) {
      int best = 0;
      double bd = INFINITY;
      for (int j = 0; j < k; j++) {
        double d = hypot(x + 0.5 - sx[j], y + 0.5 - sy[j]);
        if (d < bd) {
          bd = d;
          best = j;
        }
      }
      size_t i = (size_t)y * c->size + x;
      owner[i] = (uint8_t)best;
      level[i] = grey[best];
      label->data[i] = (uint8_t)cls[best];
    }
  int m = marker_px(c);
  for (int j = 0; j < k; j++) {
    int mx, my;
    if (!place_marker(c, r, owner, j, &mx, &my))
      return dnl_error(DNL_ERR_INTERNAL, "synth: no room for the marker of region %d", j);
    paint_cue(img, label, mx, my, mx + m, my + m, cls[j]);
  }
  paint_grey(c, r, level, img, label);
  return DNL_OK;
}

dnl_status synth_render(const synth_config *c, synth_split split, int index, image *img,
                        image *label) {
  DNL_TRY(synth_check(c));
  int s = c->size;
  DNL_TRY(image_reserve(img, s, s, 3));
  DNL_TRY(image_reserve(label, s, s, 1));
  float *level = malloc((size_t)s * s * sizeof *level);
  uint8_t *owner = malloc((size_t)s * s);
  if (!level || !owner) {
    free(level);
    free(owner);
    return dnl_error(DNL_ERR_NOMEM, "synth: out of memory for a %d px image", s);
  }
  for (size_t i = 0; i < (size_t)s * s; i++)
    level[i] = 0.5f;
  memset(label->data, 0, (size_t)s * s);
  rng r;
  rng_seed3(&r, c->seed, (uint64_t)split, (uint64_t)index);
  dnl_status st = DNL_OK;
  if (c->cue == SYNTH_CUE_GLOBAL)
    render_global(c, &r, level, img, label);
  else
    st = render_region(c, &r, level, owner, img, label);
  free(level);
  free(owner);
  return st;
}

static dnl_status write_settings(const synth_config *c, const char *out_dir) {
  char *path = fs_join(out_dir, "synth.txt");
  if (!path)
    return dnl_error(DNL_ERR_NOMEM, "out of memory");
  FILE *f = fopen(path, "w");
  dnl_status st = DNL_OK;
  if (!f) {
    st = dnl_error(DNL_ERR_IO, "%s: cannot create", path);
  } else {
    fprintf(f,
            "synthetic dataset (data/synth.c, docs/synth.md)\nseed %llu\ncue %s\ntrain %d\n"
            "val %d\nsize %d\nnoise_sigma %g\n",
            (unsigned long long)c->seed, c->cue == SYNTH_CUE_GLOBAL ? "global" : "region",
            c->n_train, c->n_val, c->size, c->noise_sigma);
    if (c->cue == SYNTH_CUE_GLOBAL)
      fprintf(f, "objects %d..%d\nsemi_axes %g..%g\nstripe %g\ndistance %g\n", c->min_objects,
              c->max_objects, c->min_axis, c->max_axis, c->stripe, c->distance);
    else
      fprintf(f, "regions %d..%d\nmarker %g\n", c->min_regions, c->max_regions, c->marker);
    if (fclose(f) != 0)
      st = dnl_error(DNL_ERR_IO, "%s: write failed", path);
  }
  free(path);
  return st;
}

static dnl_status count_files(const char *dir, int *n) {
  strlist files = {0};
  dnl_status st = fs_list_files(dir, "", &files);
  *n = files.n;
  strlist_free(&files);
  return st;
}

/* Creates OUT/SPLIT/{image,label}, refusing ones that already hold files. */
static dnl_status make_split_dirs(const char *out_dir, const char *split, char **image_dir,
                                  char **label_dir) {
  *image_dir = fs_join3(out_dir, split, "image");
  *label_dir = fs_join3(out_dir, split, "label");
  if (!*image_dir || !*label_dir)
    return dnl_error(DNL_ERR_NOMEM, "out of memory");
  const char *dirs[2] = {*image_dir, *label_dir};
  for (int i = 0; i < 2; i++) {
    int n;
    DNL_TRY(fs_mkdirs(dirs[i]));
    DNL_TRY(count_files(dirs[i], &n));
    if (n > 0)
      return dnl_error(DNL_ERR_IO, "synth: %s already holds %d files; remove them or choose "
                       "another output directory", dirs[i], n);
  }
  return DNL_OK;
}

static dnl_status write_split(const synth_config *c, const char *out_dir, synth_split split,
                              int count) {
  char *image_dir = NULL, *label_dir = NULL;
  image img = {0}, label = {0};
  dnl_status st =
      make_split_dirs(out_dir, split == SYNTH_TRAIN ? "train" : "val", &image_dir, &label_dir);
  for (int i = 0; st == DNL_OK && i < count; i++) {
    char name[32], *ip = NULL, *lp = NULL;
    snprintf(name, sizeof name, "%06d.png", i);
    st = synth_render(c, split, i, &img, &label);
    if (st == DNL_OK && (!(ip = fs_join(image_dir, name)) || !(lp = fs_join(label_dir, name))))
      st = dnl_error(DNL_ERR_NOMEM, "out of memory");
    if (st == DNL_OK)
      st = image_write_png(ip, &img, NULL, 0);
    if (st == DNL_OK)
      st = image_write_png(lp, &label, synth_palette(), 256);
    free(ip);
    free(lp);
  }
  image_free(&img);
  image_free(&label);
  free(image_dir);
  free(label_dir);
  return st;
}

dnl_status synth_generate(const synth_config *c, const char *out_dir) {
  DNL_TRY(synth_check(c));
  DNL_TRY(fs_mkdirs(out_dir));
  DNL_TRY(write_split(c, out_dir, SYNTH_TRAIN, c->n_train));
  DNL_TRY(write_split(c, out_dir, SYNTH_VAL, c->n_val));
  return write_settings(c, out_dir);
}
