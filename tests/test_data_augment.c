/* Augmentation (SPEC 3) and test-time transforms. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/augment.h"
#include "data/dataset.h"
#include "tests/test_data_util.h"
#include "tests/test_util.h"

/* Every step off: crop = the image, no padding. */
static augment_config plain(int w, int h) {
  augment_config c;
  TRY_OK(augment_defaults("cityscapes", &c));
  c.crop_w = w;
  c.crop_h = h;
  c.flip = c.random_resize = c.brightness = false;
  c.base_size = 0;
  return c;
}

typedef struct sample {
  int w, h;
  float *img;
  int32_t *lab;
} sample;

static sample run(const augment_config *c, uint64_t seed, const image *img, const image *lab) {
  sample s = {c->crop_w, c->crop_h, malloc(sizeof(float) * 3 * c->crop_w * c->crop_h),
              malloc(sizeof(int32_t) * c->crop_w * c->crop_h)};
  augment_scratch scratch = {0};
  rng r;
  rng_seed3(&r, seed, 0, 7);
  TRY_OK(augment_train(c, &r, img, lab, s.img, s.lab, &scratch));
  augment_scratch_free(&scratch);
  return s;
}

static void sample_free(sample *s) {
  free(s->img);
  free(s->lab);
}

/* Output pixel value of channel k (0 = B) plus the mean: the 0..255 value. */
static float raw_at(const augment_config *c, const sample *s, int k, int i) {
  return s->img[(size_t)k * s->w * s->h + i] + c->mean_bgr[k];
}

Test(data_augment, bgr_order_minus_mean_no_std) {
  image img = tdata_rgb(13, 9, 3);
  const uint8_t vals[] = {0, 1, 2, 3};
  image lab = tdata_label(13, 9, 2, vals, 4);
  augment_config c = plain(13, 9);
  cr_assert_float_eq(c.mean_bgr[0], 102.9801f, 1e-4);
  cr_assert_float_eq(c.mean_bgr[1], 115.9465f, 1e-4);
  cr_assert_float_eq(c.mean_bgr[2], 122.7717f, 1e-4);
  sample s = run(&c, 1, &img, &lab);
  for (int i = 0; i < 13 * 9; i++) {
    for (int k = 0; k < 3; k++)
      cr_assert_eq(s.img[k * 117 + i], (float)img.data[3 * i + 2 - k] - c.mean_bgr[k]);
    cr_assert_eq(s.lab[i], lab.data[i]);
  }
  float *ev = malloc(sizeof(float) * 3 * 117);
  augment_normalize(&c, &img, ev);
  cr_assert(memcmp(ev, s.img, sizeof(float) * 3 * 117) == 0);
  free(ev);
  sample_free(&s);
  image_free(&img);
  image_free(&lab);
}

/* The non-ignore labels form one w x h rectangle; image is exactly 0 elsewhere. */
static void valid_rect(const sample *s, int *x0, int *y0, int *w, int *h) {
  int minx = s->w, miny = s->h, maxx = -1, maxy = -1, count = 0;
  for (int y = 0; y < s->h; y++)
    for (int x = 0; x < s->w; x++)
      if (s->lab[y * s->w + x] != 255) {
        minx = x < minx ? x : minx;
        maxx = x > maxx ? x : maxx;
        miny = y < miny ? y : miny;
        maxy = y > maxy ? y : maxy;
        count++;
      } else {
        for (int k = 0; k < 3; k++)
          cr_assert_eq(s->img[(size_t)k * s->w * s->h + y * s->w + x], 0.0f,
                       "padding must be 0 after normalisation");
      }
  *x0 = minx;
  *y0 = miny;
  *w = maxx - minx + 1;
  *h = maxy - miny + 1;
  cr_assert_eq(count, *w * *h, "valid pixels are not one rectangle");
}

Test(data_augment, pad_to_crop_at_random_offset_with_ignore) {
  image img = tdata_rgb(40, 30, 1);
  const uint8_t vals[] = {0, 1, 2};
  image lab = tdata_label(40, 30, 5, vals, 3);
  augment_config c = plain(64, 48);
  bool moved = false;
  int first_x = -1;
  for (uint64_t seed = 0; seed < 12; seed++) {
    sample s = run(&c, seed, &img, &lab);
    int x0, y0, w, h;
    valid_rect(&s, &x0, &y0, &w, &h);
    cr_assert(w == 40 && h == 30, "valid part %dx%d", w, h);
    cr_assert(x0 + w <= 64 && y0 + h <= 48);
    for (int y = 0; y < 30; y++)
      for (int x = 0; x < 40; x++)
        cr_assert_eq(s.lab[(y0 + y) * 64 + x0 + x], lab.data[y * 40 + x]);
    if (first_x < 0)
      first_x = x0;
    moved |= x0 != first_x;
    sample_free(&s);
  }
  cr_assert(moved, "the pad offset never changed over 12 seeds");
  image_free(&img);
  image_free(&lab);
}

Test(data_augment, random_crop_of_a_larger_image) {
  image img = tdata_rgb(100, 80, 2);
  const uint8_t vals[] = {0, 1, 2, 3, 4};
  image lab = tdata_label(100, 80, 1, vals, 5);
  augment_config c = plain(32, 24);
  for (uint64_t seed = 0; seed < 5; seed++) {
    sample s = run(&c, seed, &img, &lab);
    /* find the crop offset from the top-left pixel, then compare the window */
    int found = 0;
    for (int y0 = 0; y0 <= 80 - 24 && !found; y0++)
      for (int x0 = 0; x0 <= 100 - 32 && !found; x0++) {
        bool same = true;
        for (int y = 0; y < 24 && same; y++)
          for (int x = 0; x < 32 && same; x++)
            same = s.lab[y * 32 + x] == lab.data[(y0 + y) * 100 + x0 + x] &&
                   raw_at(&c, &s, 2, y * 32 + x) == img.data[((y0 + y) * 100 + x0 + x) * 3];
        found = same;
      }
    cr_assert(found, "output is not a window of the input (seed %d)", (int)seed);
    sample_free(&s);
  }
  image_free(&img);
  image_free(&lab);
}

Test(data_augment, brightness_shift_range_and_clipping) {
  image img = {0}, lab = {0};
  TRY_OK(image_reserve(&img, 8, 4, 3));
  TRY_OK(image_reserve(&lab, 8, 4, 1));
  for (int i = 0; i < 32 * 3; i++)
    img.data[i] = (uint8_t)(i < 24 ? 0 : i >= 72 ? 255 : 100 + i);
  memset(lab.data, 1, 32);
  augment_config c = plain(8, 4);
  c.brightness = true;
  int lo = 0, hi = 0;
  for (uint64_t seed = 0; seed < 300; seed++) {
    sample s = run(&c, seed, &img, &lab);
    int delta = 999;
    for (int i = 0; i < 32; i++)
      for (int k = 0; k < 3; k++) {
        float v = raw_at(&c, &s, k, i);
        int in = img.data[3 * i + 2 - k];
        cr_assert(v >= -1e-3f && v <= 255.001f, "value %g outside 0..255", v);
        float r = roundf(v);
        cr_assert(fabsf(v - r) < 1e-3f);
        if (in > 10 && in < 245) { /* never clipped: the shift itself */
          int d = (int)r - in;
          cr_assert(delta == 999 || d == delta, "one shift for all pixels");
          delta = d;
        }
      }
    cr_assert(delta >= -10 && delta <= 10, "shift %d", delta);
    for (int i = 0; i < 32; i++)
      for (int k = 0; k < 3; k++) {
        int in = img.data[3 * i + 2 - k], want = in + delta;
        want = want < 0 ? 0 : want > 255 ? 255 : want;
        cr_assert_eq((int)roundf(raw_at(&c, &s, k, i)), want);
      }
    lo = delta < lo ? delta : lo;
    hi = delta > hi ? delta : hi;
    sample_free(&s);
  }
  cr_assert(lo == -10 && hi == 10, "shifts seen %d..%d", lo, hi);
  image_free(&img);
  image_free(&lab);
}

Test(data_augment, flip_mirrors_image_and_label) {
  image img = tdata_rgb(11, 5, 4);
  const uint8_t vals[] = {0, 1, 2, 3, 4, 5, 6};
  image lab = tdata_label(11, 5, 1, vals, 7);
  augment_config c = plain(11, 5);
  c.flip = true;
  c.flip_prob = 1.0;
  for (int first = 0; first < 2; first++) {
    c.flip_first = first;
    sample s = run(&c, 3, &img, &lab);
    for (int y = 0; y < 5; y++)
      for (int x = 0; x < 11; x++) {
        int o = y * 11 + x, i = y * 11 + (10 - x);
        cr_assert_eq(s.lab[o], lab.data[i]);
        cr_assert_eq(raw_at(&c, &s, 0, o), img.data[3 * i + 2]);
      }
    sample_free(&s);
  }
  c.flip_prob = 0.0;
  sample s = run(&c, 3, &img, &lab);
  for (int i = 0; i < 55; i++)
    cr_assert_eq(s.lab[i], lab.data[i]);
  sample_free(&s);
  image_free(&img);
  image_free(&lab);
}

Test(data_augment, random_resize_sizes) {
  image img = tdata_rgb(60, 40, 5);
  const uint8_t vals[] = {1};
  image lab = tdata_label(60, 40, 4, vals, 1);
  augment_config c = plain(200, 200); /* larger than any result: nothing is cut */
  c.random_resize = true;
  double min_ratio = 10, max_ratio = 0;
  for (uint64_t seed = 0; seed < 40; seed++) {
    sample s = run(&c, seed, &img, &lab);
    int x0, y0, w, h;
    valid_rect(&s, &x0, &y0, &w, &h);
    cr_assert(w >= (int)(60 * 0.5 * sqrt(0.9)) && w <= (int)(60 * 2 * sqrt(1.1)), "w %d", w);
    cr_assert(h >= (int)(40 * 0.5 / sqrt(1.1)) && h <= (int)(40 * 2 / sqrt(0.9)), "h %d", h);
    double ratio = (w / 60.0) / (h / 40.0); /* = the aspect a, up to rounding */
    cr_assert(ratio > 0.87 && ratio < 1.13, "aspect %g", ratio);
    min_ratio = fmin(min_ratio, ratio);
    max_ratio = fmax(max_ratio, ratio);
    sample_free(&s);
  }
  cr_assert(min_ratio < 0.97 && max_ratio > 1.03, "aspect never varied");
  /* ADE20K order: short side to base_size first */
  c.random_resize = false;
  c.base_size = 20;
  sample s = run(&c, 0, &img, &lab);
  int x0, y0, w, h;
  valid_rect(&s, &x0, &y0, &w, &h);
  cr_assert(w == 30 && h == 20, "base resize gave %dx%d", w, h);
  sample_free(&s);
  image_free(&img);
  image_free(&lab);
}

/* Image encodes its label: R - G = 10 * label - 100 in 16 px blocks. Wherever
 * a 5x5 neighbourhood of the output label is uniform, the image pixel must
 * still satisfy the relation: resize, crop, flip and pad kept them aligned
 * (bilinear mixes blocks only next to their borders). */
static void check_alignment(const augment_config *c, int seeds) {
  const int W = 160, H = 112;
  image img = {0}, lab = {0};
  TRY_OK(image_reserve(&img, W, H, 3));
  TRY_OK(image_reserve(&lab, W, H, 1));
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      int l = (x / 16 + 3 * (y / 16)) % 19;
      size_t i = (size_t)y * W + x;
      lab.data[i] = (uint8_t)l;
      img.data[3 * i] = (uint8_t)(10 * l + 28);
      img.data[3 * i + 1] = 128;
      img.data[3 * i + 2] = (uint8_t)(x + y); /* varies, so flips are not invisible */
    }
  long checked = 0;
  for (int seed = 0; seed < seeds; seed++) {
    sample s = run(c, (uint64_t)seed, &img, &lab);
    for (int y = 2; y < s.h - 2; y++)
      for (int x = 2; x < s.w - 2; x++) {
        int l = s.lab[y * s.w + x];
        bool uniform = l != 255;
        for (int dy = -2; dy <= 2 && uniform; dy++)
          for (int dx = -2; dx <= 2 && uniform; dx++)
            uniform = s.lab[(y + dy) * s.w + x + dx] == l;
        if (!uniform)
          continue;
        int i = y * s.w + x;
        float r = raw_at(c, &s, 2, i), g = raw_at(c, &s, 1, i);
        cr_assert(fabsf((r - g) - (10.0f * l - 100)) < 1e-3f,
                  "seed %d pixel (%d,%d): label %d but R-G = %g", seed, x, y, l, r - g);
        checked++;
      }
    sample_free(&s);
  }
  cr_assert(checked > 1000, "only %ld pixels checked", checked);
  image_free(&img);
  image_free(&lab);
}

Test(data_augment, label_image_alignment_cityscapes_order) {
  augment_config c;
  TRY_OK(augment_defaults("cityscapes", &c));
  c.crop_w = 96;
  c.crop_h = 80;
  check_alignment(&c, 30);
}

Test(data_augment, label_image_alignment_ade20k_order) {
  augment_config c;
  TRY_OK(augment_defaults("ade20k", &c));
  cr_assert(c.flip_first && c.base_size == 520 && c.crop_w == 520);
  /* short side 112 -> 56 halves the image exactly, so the first resize mixes
   * no blocks and the second one is checked as in the Cityscapes order */
  c.base_size = 56;
  c.crop_w = c.crop_h = 56;
  check_alignment(&c, 30);
}

Test(data_augment, same_seed_same_sample) {
  image img = tdata_rgb(50, 40, 6);
  const uint8_t vals[] = {0, 1, 2};
  image lab = tdata_label(50, 40, 3, vals, 3);
  augment_config c;
  TRY_OK(augment_defaults("cityscapes", &c));
  c.crop_w = c.crop_h = 32;
  sample a = run(&c, 9, &img, &lab), b = run(&c, 9, &img, &lab), d = run(&c, 10, &img, &lab);
  cr_assert(memcmp(a.img, b.img, sizeof(float) * 3 * 32 * 32) == 0);
  cr_assert(memcmp(a.lab, b.lab, sizeof(int32_t) * 32 * 32) == 0);
  cr_assert(memcmp(a.img, d.img, sizeof(float) * 3 * 32 * 32) != 0);
  sample_free(&a);
  sample_free(&b);
  sample_free(&d);
  image_free(&img);
  image_free(&lab);
}

Test(data_augment, resize_window_equals_crop_of_full_resize) {
  image img = tdata_rgb(37, 29, 7);
  uint8_t *full = malloc(83 * 61 * 3), *win = malloc(20 * 15 * 3);
  resize_scratch rs = {0};
  resize_window all = {83, 61, 0, 0, 83, 61}, part = {83, 61, 50, 40, 20, 15};
  TRY_OK(resize_bilinear_u8(img.data, 37, 29, 3, &all, full, &rs));
  TRY_OK(resize_bilinear_u8(img.data, 37, 29, 3, &part, win, &rs));
  for (int y = 0; y < 15; y++)
    cr_assert(memcmp(win + y * 20 * 3, full + ((40 + y) * 83 + 50) * 3, 20 * 3) == 0);
  TRY_OK(resize_nearest_u8(img.data, 37, 29, 3, &all, full, &rs));
  TRY_OK(resize_nearest_u8(img.data, 37, 29, 3, &part, win, &rs));
  for (int y = 0; y < 15; y++)
    cr_assert(memcmp(win + y * 20 * 3, full + ((40 + y) * 83 + 50) * 3, 20 * 3) == 0);
  resize_window bad = {83, 61, 70, 0, 20, 15};
  cr_assert(resize_bilinear_u8(img.data, 37, 29, 3, &bad, win, &rs) == DNL_ERR_ARG);
  resize_scratch_free(&rs);
  free(full);
  free(win);
  image_free(&img);
}

Test(data_augment, test_time_scale_and_flip) {
  const int h = 6, w = 10;
  float src[3 * 6 * 10], dst[3 * 12 * 20];
  for (int i = 0; i < 3 * h * w; i++)
    src[i] = (float)(i % w) - 4.5f + 100 * (i / (h * w));
  resize_scratch rs = {0};
  int oh, ow;
  augment_test_size(h, w, 1.0, 0, &oh, &ow);
  cr_assert(oh == h && ow == w);
  TRY_OK(augment_test_image(src, h, w, 1.0, 0, false, dst, &rs));
  cr_assert(memcmp(src, dst, sizeof src) == 0, "scale 1 must be the identity");
  TRY_OK(augment_test_image(src, h, w, 1.0, 0, true, dst, &rs));
  for (int k = 0; k < 3; k++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        cr_assert_eq(dst[(k * h + y) * w + x], src[(k * h + y) * w + (w - 1 - x)]);
  augment_flip_planes(dst, 3, h, w);
  cr_assert(memcmp(src, dst, sizeof src) == 0, "flipping twice is the identity");
  augment_test_size(h, w, 0.75, 0, &oh, &ow);
  cr_assert(oh == 5 && ow == 8, "round(6*0.75)=5 (4.5 rounds up), round(7.5)=8: %dx%d", oh, ow);
  augment_test_size(h, w, 2.0, 0, &oh, &ow);
  TRY_OK(augment_test_image(src, h, w, 2.0, 0, false, dst, &rs));
  cr_assert(oh == 12 && ow == 20);
  /* linear along x: bilinear upsampling keeps the mean of each row */
  for (int k = 0; k < 3; k++) {
    double sum = 0;
    for (int x = 0; x < 20; x++)
      sum += dst[(k * 12 + 3) * 20 + x];
    cr_assert(fabs(sum / 20 - 100.0 * k) < 1e-4, "plane %d mean %g", k, sum / 20);
  }
  augment_test_size(400, 600, 0.5, 520, &oh, &ow);
  cr_assert(oh == 260 && ow == 390, "base 520 then 0.5: %dx%d", oh, ow);
  cr_assert(augment_test_image(src, h, w, 0.0, 0, false, dst, &rs) == DNL_ERR_ARG);
  resize_scratch_free(&rs);
}

Test(data_augment, config_checks) {
  augment_config c;
  TRY_OK(augment_defaults("cityscapes", &c));
  TRY_OK(augment_check(&c));
  cr_assert(c.crop_w == 769 && c.crop_h == 769 && !c.flip_first && c.base_size == 0);
  cr_assert(c.scale_min == 0.5 && c.scale_max == 2.0 && c.aspect_min == 0.9 &&
            c.aspect_max == 1.1 && c.brightness_delta == 10 && c.flip_prob == 0.5);
  augment_config b = c;
  b.crop_w = 0;
  cr_assert(augment_check(&b) == DNL_ERR_ARG && strstr(dnl_last_error(), "crop"));
  b = c;
  b.scale_min = 3;
  cr_assert(augment_check(&b) == DNL_ERR_ARG && strstr(dnl_last_error(), "scale"));
  b = c;
  b.aspect_min = 0;
  cr_assert(augment_check(&b) == DNL_ERR_ARG && strstr(dnl_last_error(), "aspect"));
  b = c;
  b.flip_prob = 1.5;
  cr_assert(augment_check(&b) == DNL_ERR_ARG);
  b = c;
  b.brightness_delta = -1;
  cr_assert(augment_check(&b) == DNL_ERR_ARG);
  cr_assert(augment_defaults("imagenet", &b) == DNL_ERR_ARG);
  image img = tdata_rgb(8, 8, 0), lab = {0};
  TRY_OK(image_reserve(&lab, 8, 7, 1));
  float out[3 * 769 * 769 / 100];
  int32_t lout[10];
  augment_scratch s = {0};
  rng r;
  rng_seed(&r, 1);
  cr_assert(augment_train(&c, &r, &img, &lab, out, lout, &s) == DNL_ERR_SHAPE);
  augment_scratch_free(&s);
  image_free(&img);
  image_free(&lab);
}
