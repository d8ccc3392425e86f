/* Training augmentation (SPEC 3) and test-time transforms.
 *
 * Training, in this order (each step switchable, its range configurable):
 *   [flip, when flip_first]  ADE20K / Pascal Context order
 *   [resize short side to base_size]
 *   [random resize: s ~ U(scale), a ~ U(aspect), sx = s*sqrt(a), sy = s/sqrt(a),
 *    new size = floor(w*sx) x floor(h*sy); image bilinear, label nearest]
 *   random crop to crop_w x crop_h (clipped when the image is smaller)
 *   [brightness: one integer shift U{-delta..delta} on all channels, clipped to 0..255]
 *   [flip, when not flip_first]  Cityscapes order
 *   BGR order minus mean_bgr (no std), pad to the crop size at a random offset
 *   (image 0, label 255).
 * All draws come from the rng handed in (the loader seeds it with
 * rng_seed3(seed, epoch, sample)), in the order of the steps. */
#ifndef DNL_DATA_AUGMENT_H
#define DNL_DATA_AUGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "data/image.h"
#include "data/resize.h"
#include "lib/core/rng.h"
#include "lib/core/status.h"

typedef struct augment_config {
  int crop_w, crop_h; /* size of every training sample (crop, then pad) */
  bool flip;
  double flip_prob; /* 0.5 */
  bool flip_first;  /* flip before resizing rather than after brightness */
  int base_size;    /* > 0: resize the short side to base_size first (520); 0: off */
  bool random_resize;
  double scale_min, scale_max;   /* 0.5, 2.0 */
  double aspect_min, aspect_max; /* 0.9, 1.1 */
  bool brightness;
  int brightness_delta; /* 10 */
  float mean_bgr[3];    /* 102.9801, 115.9465, 122.7717 */
} augment_config;

/* The published settings of a dataset ("cityscapes": crop 769, flip last;
 * "ade20k" / "pascal_context" / "pascal_context60": crop 520, flip first, base
 * 520; "synth": crop 128, flip only). */
dnl_status augment_defaults(const char *dataset_name, augment_config *out);
/* Rejects sizes and ranges that make no sense, naming the field. */
dnl_status augment_check(const augment_config *cfg);

/* Buffers reused from sample to sample (one per worker thread). */
typedef struct augment_scratch {
  image flip_img, flip_label, base_img, base_label, crop_img, crop_label;
  resize_scratch rs;
} augment_scratch;

void augment_scratch_free(augment_scratch *s);

/* One training sample: img RGB [h, w, 3] and label [h, w] (train ids) ->
 * out_img [3, crop_h, crop_w] (BGR minus mean) and out_label [crop_h, crop_w]. */
dnl_status augment_train(const augment_config *cfg, rng *r, const image *img,
                         const image *label, float *out_img, int32_t *out_label,
                         augment_scratch *s);

/* Evaluation input at original size: RGB [h, w, 3] -> [3, h, w] BGR minus mean. */
void augment_normalize(const augment_config *cfg, const image *img, float *out);

/* ---- test time: the caller runs the network on each transformed image,
 * flips logits of flipped passes back (augment_flip_planes), resizes them to
 * the original size and sums them. */

/* Size of the image for one test scale: round(w * scale) x round(h * scale)
 * (at least 1); with base_size > 0 the short side is first taken to base_size. */
void augment_test_size(int h, int w, double scale, int base_size, int *oh, int *ow);

/* Bilinear resize of a normalised [3, h, w] image to augment_test_size(...),
 * mirrored when flip; dst holds [3, oh, ow]. */
dnl_status augment_test_image(const float *src, int h, int w, double scale, int base_size,
                              bool flip, float *dst, resize_scratch *s);

/* Mirrors c planes of h x w in place (left <-> right). */
void augment_flip_planes(float *x, int c, int h, int w);

#endif
