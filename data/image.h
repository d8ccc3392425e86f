/* 8-bit images in memory, and reading / writing them as PNG (libpng) and JPEG
 * (libjpeg-turbo). Every failure, a corrupt or truncated file included, is a
 * status whose message names the file; the codecs never exit. */
#ifndef DNL_DATA_IMAGE_H
#define DNL_DATA_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/core/status.h"

typedef struct image {
  int w, h, c;   /* c = 3 (RGB) or 1 (gray, or label indices) */
  uint8_t *data; /* [h, w, c], rows top to bottom, channels interleaved */
  size_t cap;    /* bytes allocated: a reused image only grows */
} image;

/* Sets the size, growing data when needed (contents unspecified). */
dnl_status image_reserve(image *img, int w, int h, int c);
void image_free(image *img);

typedef enum { IMAGE_FORMAT_PNG, IMAGE_FORMAT_JPEG } image_format;

/* Format from the file's first bytes (not its name). */
dnl_status image_sniff(const char *path, image_format *fmt);

/* A PNG or JPEG as 8-bit RGB: gray is replicated, a palette is expanded,
 * alpha (and PNG transparency) is dropped, 16-bit samples keep their high byte. */
dnl_status image_read_rgb(const char *path, image *out);

/* A label PNG as raw 8-bit indices (c = 1): gray values as they are, palette
 * PNGs as their palette indices (the palette is never applied). Colour, alpha
 * and 16-bit label files are rejected. */
dnl_status image_read_label(const char *path, image *out);

/* Width and height from the file header only. */
dnl_status image_read_size(const char *path, int *w, int *h);

/* Writes an 8-bit PNG: c = 3 as RGB; c = 1 as gray, or as palette indices when
 * palette (palette_len RGB triples, 1..256) is given; every index must then be
 * below palette_len. A failed write removes the partial file. */
dnl_status image_write_png(const char *path, const image *img, const uint8_t *palette,
                           int palette_len);

/* Writes a baseline JPEG (c = 3 RGB or c = 1 gray), quality 1..100. */
dnl_status image_write_jpeg(const char *path, const image *img, int quality);

#endif
