/* What one image file format provides (internal to data/): each codec file
 * (png_io.c, jpeg_io.c) exports one image_codec, data/image_codecs.c lists
 * them and data/image.c picks one by the file's first bytes or by format.
 * Layers: image_buf.h <- codecs <- image_codecs (table) <- image.c. */
#ifndef DNL_DATA_IMAGE_CODEC_H
#define DNL_DATA_IMAGE_CODEC_H

#include <stdbool.h>
#include <stdio.h>

#include "data/image_buf.h"

/* The longest file start a sniff looks at. */
#define IMAGE_SNIFF_BYTES 8

/* Per-format write settings; a codec reads only its own. */
typedef struct image_write_opts {
  const uint8_t *palette; /* PNG: palette_len RGB triples, or NULL */
  int palette_len;
  int quality; /* JPEG: 1..100 */
} image_write_opts;

/* f is open at the start of the file and the caller closes it; path is for
 * messages only. */
typedef struct image_codec {
  const char *name; /* "PNG" */
  image_format format;
  /* head: the file's first len (<= IMAGE_SNIFF_BYTES) bytes */
  bool (*sniff)(const unsigned char *head, size_t len);
  /* 8-bit RGB: gray replicated, palette expanded, alpha dropped, 16 bit to 8 */
  dnl_status (*read_rgb)(FILE *f, const char *path, image *out);
  /* raw 8-bit label indices (c = 1); NULL for a format that cannot hold labels */
  dnl_status (*read_label)(FILE *f, const char *path, image *out);
  /* width and height from the header only */
  dnl_status (*read_size)(FILE *f, const char *path, int *w, int *h);
  /* img is non-empty with c = 1 or 3 (the dispatch checks) */
  dnl_status (*write)(FILE *f, const char *path, const image *img, const image_write_opts *opts);
} image_codec;

#endif
