#include "analysis/image.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dnl_status canvas_init(canvas *c, int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  c->w = w;
  c->h = h;
  c->rgb = malloc((size_t)w * (size_t)h * 3);
  if (!c->rgb)
    return dnl_error(DNL_ERR_NOMEM, "canvas of %d x %d", w, h);
  for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
    c->rgb[3 * i] = r;
    c->rgb[3 * i + 1] = g;
    c->rgb[3 * i + 2] = b;
  }
  return DNL_OK;
}

void canvas_free(canvas *c) {
  free(c->rgb);
  c->rgb = NULL;
}

void canvas_set(canvas *c, int x, int y, const uint8_t rgb[3]) {
  if (x < 0 || y < 0 || x >= c->w || y >= c->h)
    return;
  memcpy(c->rgb + 3 * ((size_t)y * (size_t)c->w + (size_t)x), rgb, 3);
}

dnl_status canvas_write_png(const canvas *c, const char *path) {
  FILE *f = fopen(path, "wb");
  if (!f)
    return dnl_error(DNL_ERR_IO, "%s: %s", path, strerror(errno));
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info) {
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return dnl_error(DNL_ERR_NOMEM, "%s: cannot set up libpng", path);
  }
  /* libpng reports errors by longjmp; nothing here needs unwinding but the file */
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return dnl_error(DNL_ERR_IO, "%s: libpng failed while writing", path);
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < c->h; y++)
    png_write_row(png, c->rgb + 3 * (size_t)y * (size_t)c->w);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  if (fclose(f) != 0)
    return dnl_error(DNL_ERR_IO, "%s: %s", path, strerror(errno));
  return DNL_OK;
}

void canvas_heat_color(double t, uint8_t out[3]) {
  /* anchors of a perceptually ordered dark-to-bright map */
  static const uint8_t anchors[8][3] = {{0, 0, 4},      {40, 11, 84},   {101, 21, 110},
                                        {159, 42, 99},  {212, 72, 66},  {245, 125, 21},
                                        {250, 193, 39}, {252, 255, 164}};
  if (!(t > 0))
    t = 0;
  if (t > 1)
    t = 1;
  double pos = t * 7.0;
  int i = (int)pos;
  if (i > 6)
    i = 6;
  double f = pos - i;
  for (int c = 0; c < 3; c++)
    out[c] = (uint8_t)lround(anchors[i][c] * (1.0 - f) + anchors[i + 1][c] * f);
}

static void hsv_to_rgb(double h, double s, double v, uint8_t out[3]) {
  double c = v * s, hp = fmod(h, 1.0) * 6.0, x = c * (1.0 - fabs(fmod(hp, 2.0) - 1.0));
  double r = 0, g = 0, b = 0;
  if (hp < 1) { r = c; g = x; }
  else if (hp < 2) { r = x; g = c; }
  else if (hp < 3) { g = c; b = x; }
  else if (hp < 4) { g = x; b = c; }
  else if (hp < 5) { r = x; b = c; }
  else { r = c; b = x; }
  double m = v - c;
  out[0] = (uint8_t)lround((r + m) * 255);
  out[1] = (uint8_t)lround((g + m) * 255);
  out[2] = (uint8_t)lround((b + m) * 255);
}

void canvas_class_color(const char *dataset, int k, uint8_t out[3]) {
  static const uint8_t cityscapes[19][3] = {
      {128, 64, 128}, {244, 35, 232}, {70, 70, 70},    {102, 102, 156}, {190, 153, 153},
      {153, 153, 153}, {250, 170, 30}, {220, 220, 0},  {107, 142, 35},  {152, 251, 152},
      {70, 130, 180}, {220, 20, 60},  {255, 0, 0},     {0, 0, 142},     {0, 0, 70},
      {0, 60, 100},   {0, 80, 100},   {0, 0, 230},     {119, 11, 32}};
  if (k == 255 || k < 0) {
    out[0] = out[1] = out[2] = 0;
    return;
  }
  if (dataset && strcmp(dataset, "cityscapes") == 0 && k < 19) {
    memcpy(out, cityscapes[k], 3);
    return;
  }
  /* golden-ratio hue steps keep neighbouring ids apart */
  hsv_to_rgb(0.61803398875 * k + 0.05, k % 2 ? 0.55 : 0.8, k % 3 == 1 ? 0.75 : 0.95, out);
}

void canvas_marker_color(int i, uint8_t out[3]) {
  static const uint8_t colors[6][3] = {{0, 255, 255}, {255, 0, 255}, {0, 255, 0},
                                       {255, 255, 255}, {255, 128, 0}, {64, 160, 255}};
  memcpy(out, colors[i % 6], 3);
}

void canvas_mark(canvas *c, int x, int y, int r, const uint8_t rgb[3]) {
  static const uint8_t dark[3] = {0, 0, 0};
  for (int dy = -r - 2; dy <= r + 2; dy++) {
    for (int dx = -r - 2; dx <= r + 2; dx++) {
      double d = sqrt((double)(dx * dx + dy * dy));
      if (fabs(d - r) <= 1.0)
        canvas_set(c, x + dx, y + dy, rgb);
      else if (fabs(d - r) <= 2.0)
        canvas_set(c, x + dx, y + dy, dark);
    }
  }
  for (int d = -1; d <= 1; d++) {
    canvas_set(c, x + d, y, rgb);
    canvas_set(c, x, y + d, rgb);
  }
}
