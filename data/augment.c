#include "data/augment.h"

#include <math.h>
#include <string.h>

#include "data/dataset.h"

static const float published_mean_bgr[3] = {102.9801f, 115.9465f, 122.7717f};

dnl_status augment_defaults(const char *dataset_name, augment_config *out) {
  dataset_info info;
  DNL_TRY(dataset_info_get(dataset_name, &info));
  *out = (augment_config){
      .crop_w = 769, .crop_h = 769,
      .flip = true, .flip_prob = 0.5,
      .random_resize = true, .scale_min = 0.5, .scale_max = 2.0,
      .aspect_min = 0.9, .aspect_max = 1.1,
      .brightness = true, .brightness_delta = 10,
  };
  memcpy(out->mean_bgr, published_mean_bgr, sizeof out->mean_bgr);
  if (!strcmp(info.name, "ade20k") || !strcmp(info.name, "pascal_context") ||
      !strcmp(info.name, "pascal_context60")) {
    out->crop_w = out->crop_h = 520;
    out->base_size = 520;
    out->flip_first = true;
  } else if (!strcmp(info.name, "synth")) {
    out->crop_w = out->crop_h = 128;
    out->random_resize = false;
    out->brightness = false;
  }
  return DNL_OK;
}

dnl_status augment_check(const augment_config *c) {
  if (c->crop_w <= 0 || c->crop_h <= 0)
    return dnl_error(DNL_ERR_ARG, "augment: crop %dx%d must be positive", c->crop_w, c->crop_h);
  if (c->flip && !(c->flip_prob >= 0 && c->flip_prob <= 1))
    return dnl_error(DNL_ERR_ARG, "augment: flip_prob %g is not in [0, 1]", c->flip_prob);
  if (c->base_size < 0)
    return dnl_error(DNL_ERR_ARG, "augment: base_size %d is negative", c->base_size);
  if (c->random_resize && !(c->scale_min > 0 && c->scale_min <= c->scale_max))
    return dnl_error(DNL_ERR_ARG, "augment: scale range [%g, %g] needs 0 < min <= max",
                     c->scale_min, c->scale_max);
  if (c->random_resize && !(c->aspect_min > 0 && c->aspect_min <= c->aspect_max))
    return dnl_error(DNL_ERR_ARG, "augment: aspect range [%g, %g] needs 0 < min <= max",
                     c->aspect_min, c->aspect_max);
  if (c->brightness && (c->brightness_delta < 0 || c->brightness_delta > 255))
    return dnl_error(DNL_ERR_ARG, "augment: brightness_delta %d is not in 0..255",
                     c->brightness_delta);
  return DNL_OK;
}

void augment_scratch_free(augment_scratch *s) {
  image_free(&s->flip_img);
  image_free(&s->flip_label);
  image_free(&s->base_img);
  image_free(&s->base_label);
  image_free(&s->crop_img);
  image_free(&s->crop_label);
  resize_scratch_free(&s->rs);
}

static dnl_status flip_copy(const image *src, image *dst) {
  DNL_TRY(image_reserve(dst, src->w, src->h, src->c));
  int c = src->c;
  for (int y = 0; y < src->h; y++) {
    const uint8_t *in = src->data + (size_t)y * src->w * c;
    uint8_t *out = dst->data + (size_t)y * src->w * c;
    for (int x = 0; x < src->w; x++)
      memcpy(out + (size_t)x * c, in + (size_t)(src->w - 1 - x) * c, (size_t)c);
  }
  return DNL_OK;
}

/* Resamples the window of the (full_w x full_h) resized pair into dst. */
static dnl_status resize_pair(const image *img, const image *label, const resize_window *win,
                              image *dst_img, image *dst_label, resize_scratch *rs) {
  DNL_TRY(image_reserve(dst_img, win->w, win->h, 3));
  DNL_TRY(image_reserve(dst_label, win->w, win->h, 1));
  if (win->full_w == img->w && win->full_h == img->h) { /* a plain crop */
    for (int y = 0; y < win->h; y++) {
      memcpy(dst_img->data + (size_t)y * win->w * 3,
             img->data + ((size_t)(win->y0 + y) * img->w + win->x0) * 3, (size_t)win->w * 3);
      memcpy(dst_label->data + (size_t)y * win->w,
             label->data + (size_t)(win->y0 + y) * img->w + win->x0, (size_t)win->w);
    }
    return DNL_OK;
  }
  DNL_TRY(resize_bilinear_u8(img->data, img->w, img->h, 3, win, dst_img->data, rs));
  return resize_nearest_u8(label->data, label->w, label->h, 1, win, dst_label->data, rs);
}

static void shift_brightness(image *img, int delta) {
  size_t n = (size_t)img->w * img->h * 3;
  for (size_t i = 0; i < n; i++) {
    int v = img->data[i] + delta;
    img->data[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
  }
}

/* Writes the crop at (px, py) of the zero / ignore filled output, mirrored when flip. */
static void write_output(const augment_config *cfg, const image *img, const image *label,
                         bool flip, int px, int py, float *out_img, int32_t *out_label) {
  size_t plane = (size_t)cfg->crop_w * cfg->crop_h;
  memset(out_img, 0, 3 * plane * sizeof *out_img);
  for (size_t i = 0; i < plane; i++)
    out_label[i] = DATASET_IGNORE;
  for (int y = 0; y < img->h; y++) {
    size_t o = (size_t)(py + y) * cfg->crop_w + px;
    const uint8_t *in = img->data + (size_t)y * img->w * 3;
    const uint8_t *lab = label->data + (size_t)y * img->w;
    for (int x = 0; x < img->w; x++) {
      int sx = flip ? img->w - 1 - x : x;
      const uint8_t *rgb = in + (size_t)sx * 3;
      for (int k = 0; k < 3; k++) /* output channel k = B, G, R = input channel 2 - k */
        out_img[k * plane + o + x] = (float)rgb[2 - k] - cfg->mean_bgr[k];
      out_label[o + x] = lab[sx];
    }
  }
}

dnl_status augment_train(const augment_config *cfg, rng *r, const image *img,
                         const image *label, float *out_img, int32_t *out_label,
                         augment_scratch *s) {
  if (img->c != 3 || label->c != 1 || img->w != label->w || img->h != label->h)
    return dnl_error(DNL_ERR_SHAPE, "augment: image %dx%dx%d and label %dx%dx%d do not match",
                     img->w, img->h, img->c, label->w, label->h, label->c);
  DNL_TRY(augment_check(cfg));
  const image *si = img, *sl = label;
  if (cfg->flip && cfg->flip_first && rng_uniform(r) < cfg->flip_prob) {
    DNL_TRY(flip_copy(si, &s->flip_img));
    DNL_TRY(flip_copy(sl, &s->flip_label));
    si = &s->flip_img;
    sl = &s->flip_label;
  }
  if (cfg->base_size > 0) {
    /* integer arithmetic, so the short side is exactly base_size */
    long shortest = si->w < si->h ? si->w : si->h;
    int bw = (int)((long)si->w * cfg->base_size / shortest);
    int bh = (int)((long)si->h * cfg->base_size / shortest);
    resize_window whole = {bw, bh, 0, 0, bw, bh};
    DNL_TRY(resize_pair(si, sl, &whole, &s->base_img, &s->base_label, &s->rs));
    si = &s->base_img;
    sl = &s->base_label;
  }
  int rw = si->w, rh = si->h;
  if (cfg->random_resize) {
    double scale = rng_range(r, cfg->scale_min, cfg->scale_max);
    double aspect = rng_range(r, cfg->aspect_min, cfg->aspect_max);
    double sx = scale * sqrt(aspect), sy = scale / sqrt(aspect);
    rw = (int)(si->w * sx);
    rh = (int)(si->h * sy);
    rw = rw < 1 ? 1 : rw;
    rh = rh < 1 ? 1 : rh;
  }
  int cw = rw < cfg->crop_w ? rw : cfg->crop_w;
  int ch = rh < cfg->crop_h ? rh : cfg->crop_h;
  resize_window win = {rw, rh, 0, 0, cw, ch};
  win.x0 = (int)rng_int(r, 0, rw - cw);
  win.y0 = (int)rng_int(r, 0, rh - ch);
  DNL_TRY(resize_pair(si, sl, &win, &s->crop_img, &s->crop_label, &s->rs));
  if (cfg->brightness) {
    int delta = (int)rng_int(r, -cfg->brightness_delta, cfg->brightness_delta);
    if (delta)
      shift_brightness(&s->crop_img, delta);
  }
  bool flip = cfg->flip && !cfg->flip_first && rng_uniform(r) < cfg->flip_prob;
  int px = (int)rng_int(r, 0, cfg->crop_w - cw);
  int py = (int)rng_int(r, 0, cfg->crop_h - ch);
  write_output(cfg, &s->crop_img, &s->crop_label, flip, px, py, out_img, out_label);
  return DNL_OK;
}

void augment_normalize(const augment_config *cfg, const image *img, float *out) {
  size_t plane = (size_t)img->w * img->h;
  for (size_t i = 0; i < plane; i++)
    for (int k = 0; k < 3; k++)
      out[k * plane + i] = (float)img->data[i * 3 + 2 - k] - cfg->mean_bgr[k];
}
