/* Test-time transforms: scaled (and mirrored) copies of a normalised image. */
#include <math.h>

#include "data/augment.h"

void augment_test_size(int h, int w, double scale, int base_size, int *oh, int *ow) {
  double fh = h, fw = w;
  if (base_size > 0) {
    double shortest = w < h ? w : h;
    fh = fh * base_size / shortest;
    fw = fw * base_size / shortest;
  }
  *oh = (int)lround(fh * scale);
  *ow = (int)lround(fw * scale);
  *oh = *oh < 1 ? 1 : *oh;
  *ow = *ow < 1 ? 1 : *ow;
}

void augment_flip_planes(float *x, int c, int h, int w) {
  for (long row = 0; row < (long)c * h; row++) {
    float *p = x + row * w;
    for (int a = 0, b = w - 1; a < b; a++, b--) {
      float t = p[a];
      p[a] = p[b];
      p[b] = t;
    }
  }
}

dnl_status augment_test_image(const float *src, int h, int w, double scale, int base_size,
                              bool flip, float *dst, resize_scratch *s) {
  if (!(scale > 0))
    return dnl_error(DNL_ERR_ARG, "augment_test_image: scale %g must be positive", scale);
  int oh, ow;
  augment_test_size(h, w, scale, base_size, &oh, &ow);
  DNL_TRY(resize_bilinear_f32(src, 3, h, w, dst, oh, ow, s));
  if (flip)
    augment_flip_planes(dst, 3, oh, ow);
  return DNL_OK;
}
