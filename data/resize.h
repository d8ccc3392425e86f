/* Image resampling for augmentation and test-time scaling.
 *
 * Geometry follows OpenCV's resize: bilinear samples at pixel centres
 * (source x = (x + 0.5) * src_w / dst_w - 0.5, clamped to the edge pixels);
 * nearest takes source x = floor(x * src_w / dst_w). Only a window of the
 * full-size result may be computed, which equals resizing everything and then
 * cropping, at the cost of the window alone. */
#ifndef DNL_DATA_RESIZE_H
#define DNL_DATA_RESIZE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/status.h"

/* Reusable tables (grows only, so steady-state resizing does not allocate). */
typedef struct resize_scratch {
  int *idx;   /* per output column / row: source index */
  float *wt;  /* per output column / row: weight of the next source pixel */
  size_t cap; /* entries in idx and wt */
} resize_scratch;

void resize_scratch_free(resize_scratch *s);

/* The window of a full_w x full_h result to compute. */
typedef struct resize_window {
  int full_w, full_h; /* size of the whole resized image */
  int x0, y0, w, h;   /* the part written to dst (inside the full image) */
} resize_window;

/* 8-bit interleaved [sh, sw, c] -> window [win.h, win.w, c], rounded to nearest. */
dnl_status resize_bilinear_u8(const uint8_t *src, int sw, int sh, int c,
                              const resize_window *win, uint8_t *dst, resize_scratch *s);
dnl_status resize_nearest_u8(const uint8_t *src, int sw, int sh, int c,
                             const resize_window *win, uint8_t *dst, resize_scratch *s);

/* Float planar [c, sh, sw] -> [c, dh, dw] (whole image). */
dnl_status resize_bilinear_f32(const float *src, int c, int sh, int sw, float *dst, int dh,
                               int dw, resize_scratch *s);

#endif
