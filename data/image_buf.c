#include "data/image_buf.h"

#include <stdlib.h>

dnl_status image_reserve(image *img, int w, int h, int c) {
  if (w <= 0 || h <= 0 || (c != 1 && c != 3))
    return dnl_error(DNL_ERR_ARG, "image_reserve: bad size %dx%dx%d", w, h, c);
  size_t bytes = (size_t)w * (size_t)h * (size_t)c;
  if (bytes > img->cap) {
    uint8_t *data = realloc(img->data, bytes);
    if (!data)
      return dnl_error(DNL_ERR_NOMEM, "out of memory for a %dx%dx%d image", w, h, c);
    img->data = data;
    img->cap = bytes;
  }
  img->w = w;
  img->h = h;
  img->c = c;
  return DNL_OK;
}

void image_free(image *img) {
  free(img->data);
  *img = (image){0};
}
