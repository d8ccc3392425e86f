/* The 8-bit image in memory and the file formats it is stored as: the lowest
 * layer of data/'s images, below the codecs (data/image_codec.h) and the
 * public read / write dispatch (data/image.h). */
#ifndef DNL_DATA_IMAGE_BUF_H
#define DNL_DATA_IMAGE_BUF_H

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

#endif
