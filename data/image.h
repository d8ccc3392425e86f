/* Reading and writing 8-bit images (data/image_buf.h) as PNG (libpng) and JPEG
 * (libjpeg-turbo): the format is found from the file's first bytes through the
 * codec table (data/image_codecs.h). Every failure, a corrupt or truncated file
 * included, is a status whose message names the file; the codecs never exit. */
#ifndef DNL_DATA_IMAGE_H
#define DNL_DATA_IMAGE_H

#include <stdint.h>

#include "data/image_buf.h"
#include "lib/core/status.h"

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
