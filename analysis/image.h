/* RGB canvases written as PNG (libpng), with the colour maps and marks the
 * attention figures need. */
#ifndef DNL_ANALYSIS_IMAGE_H
#define DNL_ANALYSIS_IMAGE_H

#include <stdint.h>

#include "lib/core/status.h"

typedef struct canvas {
  int w, h;
  uint8_t *rgb; /* [h, w, 3] */
} canvas;

/* A w x h canvas filled with one colour. */
dnl_status canvas_init(canvas *c, int w, int h, uint8_t r, uint8_t g, uint8_t b);
void canvas_free(canvas *c);
void canvas_set(canvas *c, int x, int y, const uint8_t rgb[3]);
dnl_status canvas_write_png(const canvas *c, const char *path);

/* Sequential heat colour of t in [0, 1] (dark purple -> yellow). */
void canvas_heat_color(double t, uint8_t out[3]);
/* Colour of class id k for a dataset (Cityscapes' own palette for
 * "cityscapes", evenly spread hues otherwise); 255 (ignore) is black. */
void canvas_class_color(const char *dataset, int k, uint8_t out[3]);
/* A distinct colour for query marker i. */
void canvas_marker_color(int i, uint8_t out[3]);
/* A ring of radius r around (x, y) in colour rgb with a dark outline. */
void canvas_mark(canvas *c, int x, int y, int r, const uint8_t rgb[3]);

#endif
