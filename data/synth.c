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
#define SYNTH_MAX_IDENTITIES 6
#define DISC_GUARD 2 /* px between a disc and anything else */

synth_config synth_defaults(void) {
  return (synth_config){
      .cue = SYNTH_CUE_GLOBAL,
      .n_train = 400,
      .n_val = 100,
      .size = 128,
      .noise_sigma = 0.08,
      .min_objects = 4,
      .max_objects = 7,
      .min_axis = 9,
      .max_axis = 17,
      .stripe = 16,
      .distance = 42,
      .min_regions = 3,
      .max_regions = 5,
      .marker = 8,
      .min_identities = 2,
      .max_identities = 3,
      .min_radius = 7,
      .max_radius = 10,
      .match_distance = 60,
      .match_marker = 6,
  };
}

static const char *const cue_names[] = {"global", "region", "match", "both"};

dnl_status synth_cue_parse(const char *name, synth_cue *out) {
  for (int i = 0; i < 4; i++)
    if (!strcmp(name, cue_names[i])) {
      *out = (synth_cue)i;
      return DNL_OK;
    }
  return dnl_error(DNL_ERR_ARG, "synth: cue '%s' (expected global, region, match or both)", name);
}

const char *synth_cue_name(synth_cue cue) {
  return cue >= SYNTH_CUE_GLOBAL && cue <= SYNTH_CUE_BOTH ? cue_names[cue] : "?";
}

static bool has_stripe(synth_cue cue) { return cue == SYNTH_CUE_GLOBAL || cue == SYNTH_CUE_BOTH; }
static bool has_match(synth_cue cue) { return cue == SYNTH_CUE_MATCH || cue == SYNTH_CUE_BOTH; }

static double scaled(const synth_config *c, double px) { return px * c->size / 128.0; }
static int stripe_px(const synth_config *c) { return (int)lround(scaled(c, c->stripe)); }
static int distance_px(const synth_config *c) { return (int)ceil(scaled(c, c->distance)); }
static int marker_px(const synth_config *c) { return (int)lround(scaled(c, c->marker)); }
static int match_marker_px(const synth_config *c) {
  return (int)lround(scaled(c, c->match_marker));
}
/* Voronoi seeds this far apart: each region holds a disk of half of it. */
static double seed_spacing(const synth_config *c) { return c->size / 4.0; }
/* Seeds this far from the border keep a marker centred on them inside. */
static int seed_margin(const synth_config *c) { return marker_px(c) / 2 + MARKER_GUARD + 1; }

dnl_status synth_check(const synth_config *c) {
  if (c->cue < SYNTH_CUE_GLOBAL || c->cue > SYNTH_CUE_BOTH)
    return dnl_error(DNL_ERR_ARG, "synth: unknown cue mode %d", (int)c->cue);
  if (c->size < 32 || c->size > 4096)
    return dnl_error(DNL_ERR_ARG, "synth: size %d not in 32..4096", c->size);
  if (c->n_train < 0 || c->n_val < 0 || c->n_train + c->n_val == 0)
    return dnl_error(DNL_ERR_ARG, "synth: %d train + %d val images", c->n_train, c->n_val);
  if (!(c->noise_sigma >= 0))
    return dnl_error(DNL_ERR_ARG, "synth: noise_sigma %g is negative", c->noise_sigma);
  if (has_match(c->cue)) {
    if (c->min_identities < 1 || c->max_identities < c->min_identities ||
        c->max_identities > SYNTH_MAX_IDENTITIES)
      return dnl_error(DNL_ERR_ARG, "synth: identities %d..%d (expected 1 <= min <= max <= %d)",
                       c->min_identities, c->max_identities, SYNTH_MAX_IDENTITIES);
    if (!(c->min_radius >= 2 && c->max_radius >= c->min_radius))
      return dnl_error(DNL_ERR_ARG, "synth: disc radius %g..%g", c->min_radius, c->max_radius);
    if (match_marker_px(c) < 1 || match_marker_px(c) > scaled(c, c->min_radius))
      return dnl_error(DNL_ERR_ARG, "synth: match marker %g px does not fit discs of radius %g",
                       c->match_marker, c->min_radius);
    if (!(c->match_distance >= 2 * c->max_radius) ||
        c->match_distance + 2 * c->max_radius > 128.0 * M_SQRT2)
      return dnl_error(DNL_ERR_ARG,
                       "synth: match distance %g px (expected at least a disc diameter, and "
                       "two discs that far apart must fit the image)",
                       c->match_distance);
  }
  if (has_stripe(c->cue)) {
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
  } else if (c->cue == SYNTH_CUE_REGION) {
    if (c->min_regions < 2 || c->max_regions < c->min_regions || c->max_regions > SYNTH_MAX_REGIONS)
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
  static const uint8_t classes[SYNTH_CLASSES][3] = {
      {0, 0, 0},       {220, 30, 30},   {30, 180, 30},  {40, 70, 230},
      {250, 150, 150}, {150, 230, 150}, {150, 170, 250}};
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

/* level: RGB levels in 0..1 per pixel, NaN where a cue was painted. Adds the
 * same noise value to the three channels of every other pixel. */
static void paint_levels(const synth_config *c, rng *r, const float *level, image *img) {
  size_t n = (size_t)c->size * c->size;
  for (size_t i = 0; i < n; i++) {
    if (isnan(level[3 * i]))
      continue;
    double noise = c->noise_sigma * rng_normal(r);
    for (int k = 0; k < 3; k++)
      img->data[3 * i + k] = grey_byte(level[3 * i + k] + noise);
  }
}

static void set_grey(float *level, size_t i, float grey) {
  level[3 * i] = level[3 * i + 1] = level[3 * i + 2] = grey;
}

/* A pure-colour square of colour cls (1..3) over [x0, x1) x [y0, y1), labelled
 * `label_value` (ignore for the far cue, the disc's class for a marker). */
static void paint_cue(image *img, image *label, float *level, int x0, int y0, int x1, int y1,
                      int cls, uint8_t label_value) {
  uint8_t rgb[3];
  cue_color(cls, rgb);
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++) {
      size_t i = (size_t)y * img->w + x;
      memcpy(img->data + 3 * i, rgb, 3);
      label->data[i] = label_value;
      set_grey(level, i, NAN);
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
        set_grey(level, i, grey);
        label->data[i] = (uint8_t)cls;
      }
    }
}

/* Ellipses and the stripe (its label and colour); the caller paints levels. */
static void render_global(const synth_config *c, rng *r, float *level, image *img, image *label) {
  int s = c->size, sw = stripe_px(c), far = sw + distance_px(c);
  int side = (int)rng_int(r, 0, 3); /* left, right, top, bottom */
  int cls = (int)rng_int(r, 1, 3);
  box stripe[4] = {{0, 0, sw, s}, {s - sw, 0, s, s}, {0, 0, s, sw}, {0, s - sw, s, s}};
  box free[4] = {{far, 0, s, s}, {0, 0, s - far, s}, {0, far, s, s}, {0, 0, s, s - far}};
  int n = (int)rng_int(r, c->min_objects, c->max_objects);
  for (int k = 0; k < n; k++)
    draw_ellipse(c, r, free[side], cls, level, label);
  box st = stripe[side];
  paint_cue(img, label, level, st.x0, st.y0, st.x1, st.y1, cls, DATASET_IGNORE);
}

/* ---- match cue: tinted discs, one marker per identity ---- */

/* Tints of the identities: neither grey nor a pure marker colour. */
static const float tints[SYNTH_MAX_IDENTITIES][3] = {{0.80f, 0.55f, 0.30f}, {0.30f, 0.55f, 0.80f},
                                                     {0.55f, 0.80f, 0.30f}, {0.80f, 0.30f, 0.60f},
                                                     {0.30f, 0.80f, 0.70f}, {0.65f, 0.40f, 0.85f}};

/* Whether a disc of radius rad at (x, y) and its guard lie inside the image
 * on background only. */
static bool disc_fits(const synth_config *c, const image *label, const float *level, double x,
                      double y, double rad) {
  double reach = rad + DISC_GUARD;
  if (x - reach < 0 || y - reach < 0 || x + reach > c->size || y + reach > c->size)
    return false;
  for (int yy = (int)(y - reach); yy <= (int)(y + reach) && yy < c->size; yy++)
    for (int xx = (int)(x - reach); xx <= (int)(x + reach) && xx < c->size; xx++) {
      size_t i = (size_t)yy * c->size + xx;
      if (hypot(xx + 0.5 - x, yy + 0.5 - y) <= reach &&
          (label->data[i] != 0 || isnan(level[3 * i])))
        return false;
    }
  return true;
}

static void fill_disc(const synth_config *c, image *label, float *level, double x, double y,
                      double rad, const float tint[3], uint8_t cls) {
  for (int yy = (int)(y - rad); yy <= (int)(y + rad) && yy < c->size; yy++)
    for (int xx = (int)(x - rad); xx <= (int)(x + rad) && xx < c->size; xx++)
      if (yy >= 0 && xx >= 0 && hypot(xx + 0.5 - x, yy + 0.5 - y) <= rad) {
        size_t i = (size_t)yy * c->size + xx;
        memcpy(level + 3 * i, tint, 3 * sizeof *tint);
        label->data[i] = cls;
      }
}

/* Two discs per identity, at least match_distance apart, on free background;
 * the first carries the marker. Identities that find no room are left out
 * (at least one always fits an empty image, see synth_check). */
static dnl_status render_match(const synth_config *c, rng *r, float *level, image *img,
                               image *label) {
  int order[SYNTH_MAX_IDENTITIES];
  for (int j = 0; j < SYNTH_MAX_IDENTITIES; j++)
    order[j] = j;
  for (int j = SYNTH_MAX_IDENTITIES - 1; j > 0; j--) {
    int o = (int)rng_int(r, 0, j), t = order[j];
    order[j] = order[o];
    order[o] = t;
  }
  int want = (int)rng_int(r, c->min_identities, c->max_identities), placed = 0;
  const double far = scaled(c, c->match_distance);
  const int m = match_marker_px(c);
  for (int id = 0; id < want; id++) {
    double rad = scaled(c, rng_range(r, c->min_radius, c->max_radius));
    int color = (int)rng_int(r, 1, 3);
    uint8_t cls = (uint8_t)(SYNTH_MATCH_CLASS0 - 1 + color);
    double x[2] = {0}, y[2] = {0};
    int got = 0;
    for (int tries = 0; got < 2 && tries < 4000; tries++) {
      if (got == 1 && tries % 400 == 0)
        got = 0; /* the first disc may leave no room for its partner: move it */
      double px = rng_range(r, rad, c->size - rad), py = rng_range(r, rad, c->size - rad);
      if ((got == 0 || hypot(px - x[0], py - y[0]) >= far) &&
          disc_fits(c, label, level, px, py, rad)) {
        x[got] = px;
        y[got] = py;
        got++;
      }
    }
    if (got < 2)
      continue;
    const float *tint = tints[order[id]];
    for (int k = 0; k < 2; k++)
      fill_disc(c, label, level, x[k], y[k], rad, tint, cls);
    int mx = (int)lround(x[0] - m / 2.0), my = (int)lround(y[0] - m / 2.0);
    paint_cue(img, label, level, mx, my, mx + m, my + m, color, cls);
    placed++;
  }
  if (placed == 0)
    return dnl_error(DNL_ERR_INTERNAL, "synth: no room for two discs %g px apart in %d px", far,
                     c->size);
  return DNL_OK;
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
      set_grey(level, i, grey[best]);
      label->data[i] = (uint8_t)cls[best];
    }
  int m = marker_px(c);
  for (int j = 0; j < k; j++) {
    int mx, my;
    if (!place_marker(c, r, owner, j, &mx, &my))
      return dnl_error(DNL_ERR_INTERNAL, "synth: no room for the marker of region %d", j);
    paint_cue(img, label, level, mx, my, mx + m, my + m, cls[j], DATASET_IGNORE);
  }
  return DNL_OK;
}

dnl_status synth_render(const synth_config *c, synth_split split, int index, image *img,
                        image *label) {
  DNL_TRY(synth_check(c));
  int s = c->size;
  DNL_TRY(image_reserve(img, s, s, 3));
  DNL_TRY(image_reserve(label, s, s, 1));
  float *level = malloc((size_t)3 * s * s * sizeof *level);
  uint8_t *owner = malloc((size_t)s * s);
  if (!level || !owner) {
    free(level);
    free(owner);
    return dnl_error(DNL_ERR_NOMEM, "synth: out of memory for a %d px image", s);
  }
  for (size_t i = 0; i < (size_t)s * s; i++)
    set_grey(level, i, 0.5f);
  memset(label->data, 0, (size_t)s * s);
  rng r;
  rng_seed3(&r, c->seed, (uint64_t)split, (uint64_t)index);
  dnl_status st = DNL_OK;
  if (has_stripe(c->cue))
    render_global(c, &r, level, img, label);
  if (has_match(c->cue))
    st = render_match(c, &r, level, img, label);
  if (c->cue == SYNTH_CUE_REGION)
    st = render_region(c, &r, level, owner, img, label);
  if (st == DNL_OK)
    paint_levels(c, &r, level, img);
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
            (unsigned long long)c->seed, synth_cue_name(c->cue), c->n_train, c->n_val, c->size,
            c->noise_sigma);
    if (has_stripe(c->cue))
      fprintf(f, "objects %d..%d\nsemi_axes %g..%g\nstripe %g\ndistance %g\n", c->min_objects,
              c->max_objects, c->min_axis, c->max_axis, c->stripe, c->distance);
    if (has_match(c->cue))
      fprintf(f, "identities %d..%d\nradius %g..%g\nmatch_distance %g\nmatch_marker %g\n",
              c->min_identities, c->max_identities, c->min_radius, c->max_radius, c->match_distance,
              c->match_marker);
    if (c->cue == SYNTH_CUE_REGION)
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
      return dnl_error(DNL_ERR_IO,
                       "synth: %s already holds %d files; remove them or choose "
                       "another output directory",
                       dirs[i], n);
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
