/* The codec entry points behind data/image.h (internal to data/). */
#ifndef DNL_DATA_IMAGE_CODEC_H
#define DNL_DATA_IMAGE_CODEC_H

#include <stdio.h>

#include "data/image.h"

/* What a PNG read produces. */
typedef enum { PNG_READ_RGB, PNG_READ_LABEL, PNG_READ_SIZE } png_read_mode;

/* f is open at the start of the file; the caller closes it. out is unused for
 * PNG_READ_SIZE. */
dnl_status png_read_file(FILE *f, const char *path, png_read_mode mode, image *out, int *w,
                         int *h);
dnl_status png_write_file(FILE *f, const char *path, const image *img,
                          const uint8_t *palette, int palette_len);

/* out == NULL: header only (w, h). */
dnl_status jpeg_read_file(FILE *f, const char *path, image *out, int *w, int *h);
dnl_status jpeg_write_file(FILE *f, const char *path, const image *img, int quality);

#endif
